//! /etc/passwd read directly, as Go's os/user does without cgo: tong is linked
//! statically, so it must not depend on glibc's NSS modules (and the
//! container's passwd file is the one that matters inside it anyway).

pub struct Entry {
    pub name: String,
    pub home: String,
}

/// The first entry for `uid` in the /etc/passwd of the current root.
pub fn by_uid(uid: u32) -> Option<Entry> {
    let text = crate::mountinfo::read_proc("/etc/passwd").ok()?;
    find(&text, uid)
}

fn find(text: &str, uid: u32) -> Option<Entry> {
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 5 && f[2].parse::<u32>().ok() == Some(uid)).then(|| Entry {
            name: f[0].to_string(),
            home: f[5].to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_by_uid() {
        let t = "root:x:0:0:root:/root:/bin/sh\nbad line\nnobody:x:65534:65534::/nonexistent:/bin/false\n";
        let e = super::find(t, 65534).unwrap();
        assert_eq!(
            (e.name.as_str(), e.home.as_str()),
            ("nobody", "/nonexistent")
        );
        assert!(super::find(t, 7).is_none());
    }
}
