//! The allow-list: differences that are on purpose, each with its reason.
//!
//! One entry a line: `CASE | ASPECT | LINE | REASON`, where CASE, ASPECT and
//! LINE are globs (`*` any run, `?` one character). CASE is a case's name,
//! ASPECT one of exit, stdout, stderr, state, probe, file, setup; LINE is
//! matched against one differing line as printed (`-` runc's, `+` tong's; an
//! exit difference reads `-1` / `+0`). A reason that starts with `TODO` marks
//! a difference not yet fixed (reported apart, so it is never mistaken for a
//! deliberate one). `#` starts a comment line.

use std::cell::Cell;

pub struct Entry {
    pub case: String,
    pub aspect: String,
    pub line: String,
    pub reason: String,
    pub lineno: usize,
    pub used: Cell<usize>,
}

impl Entry {
    pub fn todo(&self) -> bool {
        self.reason.starts_with("TODO")
    }
}

pub fn parse(text: &str) -> Result<Vec<Entry>, String> {
    let mut v = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = t.splitn(4, " | ").map(str::trim).collect();
        if f.len() != 4 || f[3].is_empty() {
            return Err(format!(
                "allow-list line {}: want `CASE | ASPECT | LINE | REASON`, got {t}",
                i + 1
            ));
        }
        v.push(Entry {
            case: f[0].into(),
            aspect: f[1].into(),
            line: f[2].into(),
            reason: f[3].into(),
            lineno: i + 1,
            used: Cell::new(0),
        });
    }
    Ok(v)
}

/// The first entry that allows `line` of `aspect` in `case`.
pub fn find<'a>(list: &'a [Entry], case: &str, aspect: &str, line: &str) -> Option<&'a Entry> {
    let e = list
        .iter()
        .find(|e| glob(&e.case, case) && glob(&e.aspect, aspect) && glob(&e.line, line))?;
    e.used.set(e.used.get() + 1);
    Some(e)
}

pub fn glob(pat: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pat.chars().collect(), s.chars().collect());
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("help/*", "help/run"));
        assert!(glob("*", ""));
        assert!(glob("+*NAME*", "+   <rt> - x NAME y"));
        assert!(!glob("help/?", "help/run"));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
    }

    #[test]
    fn entries_need_a_reason() {
        assert!(parse("x | exit | * |").is_err());
        assert!(parse("x | exit | *").is_err());
        let l = parse("# c\n\nhelp/* | stdout | +* | tong's own words\n").unwrap();
        assert_eq!(l.len(), 1);
        assert!(find(&l, "help/run", "stdout", "+x").is_some());
        assert!(find(&l, "help/run", "stderr", "+x").is_none());
        assert_eq!(l[0].used.get(), 1);
    }
}
