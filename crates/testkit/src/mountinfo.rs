//! /proc/PID/mountinfo, parsed.

use std::path::Path;

/// A parsed line of mountinfo.
#[derive(Debug, Clone)]
pub struct MountEntry {
    /// The filesystem's device ("0:30").
    pub dev: String,
    pub root: String,
    pub point: String,
    pub opts: Vec<String>,
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    pub super_opts: Vec<String>,
}

/// The kernel writes space, tab, newline and backslash in paths as `\ooo`.
pub fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

pub fn parse(text: &str) -> Vec<MountEntry> {
    let mut v = Vec::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split(' ').collect();
        let Some(sep) = f.iter().position(|x| *x == "-") else {
            continue;
        };
        if f.len() < sep + 3 || sep < 6 {
            continue;
        }
        v.push(MountEntry {
            dev: f[2].to_string(),
            root: unescape(f[3]),
            point: unescape(f[4]),
            opts: f[5].split(',').map(String::from).collect(),
            optional: f[6..sep].iter().map(|s| s.to_string()).collect(),
            fstype: f[sep + 1].to_string(),
            source: f[sep + 2].to_string(),
            super_opts: f
                .get(sep + 3)
                .map(|s| s.split(',').map(String::from).collect())
                .unwrap_or_default(),
        });
    }
    v
}

/// The lines of a mountinfo file (empty if unreadable).
pub fn lines(path: &str) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

/// Our own mount table.
pub fn own() -> Vec<MountEntry> {
    parse(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default())
}

/// Mount points of the calling mount namespace, unescaped.
pub fn mount_points() -> Vec<String> {
    own().into_iter().map(|m| m.point).collect()
}

/// Mount points at or below `p`, deepest first.
pub fn mounts_under(p: &Path) -> Vec<String> {
    let prefix = p.to_string_lossy().to_string();
    let mut v: Vec<String> = mount_points()
        .into_iter()
        .filter(|m| m == &prefix || m.starts_with(&format!("{prefix}/")))
        .collect();
    v.sort_by_key(|m| std::cmp::Reverse(m.len()));
    v
}

/// The last mount at `point` (the visible one).
pub fn find<'a>(m: &'a [MountEntry], point: &str) -> Option<&'a MountEntry> {
    m.iter().rev().find(|e| e.point == point)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_a_line() {
        let m = super::parse(
            "36 25 0:32 / /tmp/a\\040b rw,nosuid shared:9 master:2 - tmpfs tmpfs rw,size=10k\nbad\n",
        );
        assert_eq!(m.len(), 1);
        let e = &m[0];
        assert_eq!(
            (e.dev.as_str(), e.point.as_str(), e.fstype.as_str()),
            ("0:32", "/tmp/a b", "tmpfs")
        );
        assert_eq!(e.optional, ["shared:9", "master:2"]);
        assert_eq!(e.super_opts, ["rw", "size=10k"]);
    }
}
