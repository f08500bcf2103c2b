//! Normalising what a runtime printed, so that only real differences remain:
//! ids, paths, pids, times and the binary's own name are replaced by
//! placeholders; a line diff then says which lines only one runtime printed.

use regex::Regex;
use std::sync::OnceLock;

/// How much of a step's output is allowed to vary between two runs of the
/// same runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    /// Only ids, paths, known pids, times and the name are replaced.
    Text,
    /// Also every number (ps tables, stats, pids in JSON).
    Digits,
    /// Digits, and runs of blanks squeezed (aligned tables whose widths follow
    /// the length of a path or id).
    Table,
    /// Text, and mountinfo lines reduced to what must match (what a probe
    /// inside the container printed).
    Probe,
    /// Help text reduced to its structure: section titles, the NAME's
    /// command, the USAGE line, the flags of OPTIONS and the COMMANDS'
    /// names (sorted within a section). The prose is each runtime's own.
    Help,
}

/// Literal replacements for one runtime's run of one case, longest first.
#[derive(Default, Clone)]
pub struct Subst {
    pairs: Vec<(String, String)>,
}

impl Subst {
    pub fn add(&mut self, from: &str, to: &str) {
        if !from.is_empty() && !self.pairs.iter().any(|(f, _)| f == from) {
            self.pairs.push((from.to_string(), to.to_string()));
            self.pairs.sort_by_key(|(f, _)| std::cmp::Reverse(f.len()));
        }
    }

    /// A pid: replaced only where it stands alone as a number.
    pub fn add_pid(&mut self, pid: i64) {
        if pid > 0 {
            self.add(&format!("#pid#{pid}"), "<pid>");
        }
    }

    pub fn apply(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (from, to) in &self.pairs {
            if let Some(pid) = from.strip_prefix("#pid#") {
                let re = Regex::new(&format!(r"\b{pid}\b")).unwrap();
                out = re.replace_all(&out, to.as_str()).into_owned();
            } else {
                out = out.replace(from, to);
            }
        }
        out
    }
}

fn re(cell: &'static OnceLock<Regex>, pat: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pat).unwrap())
}

/// Normalises one runtime's output.
pub fn normalise(s: &str, subst: &Subst, norm: Norm) -> String {
    static TIME_KV: OnceLock<Regex> = OnceLock::new();
    static RFC3339: OnceLock<Regex> = OnceLock::new();
    static NAME: OnceLock<Regex> = OnceLock::new();
    static NUM: OnceLock<Regex> = OnceLock::new();
    static BLANKS: OnceLock<Regex> = OnceLock::new();
    // Times first: a pid must not eat a year.
    let mut out = re(&TIME_KV, r#"time="[^"]*""#)
        .replace_all(s, r#"time="<time>""#)
        .into_owned();
    out = re(
        &RFC3339,
        r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?",
    )
    .replace_all(&out, "<time>")
    .into_owned();
    out = subst.apply(&out);
    // A pid in JSON the sweep never saw in `state` (the state a hook gets).
    static JSON_PID: OnceLock<Regex> = OnceLock::new();
    out = re(&JSON_PID, r#"("pid":\s*)[1-9][0-9]*"#)
        .replace_all(&out, "${1}<pid>")
        .into_owned();
    out = re(&NAME, r"\b(runc|tong)\b")
        .replace_all(&out, "<rt>")
        .into_owned();
    out = collapse_debug(&out);
    if matches!(norm, Norm::Digits | Norm::Table) {
        out = re(&NUM, r"\d+(\.\d+)?").replace_all(&out, "N").into_owned();
    }
    if norm == Norm::Table {
        out = out
            .lines()
            .map(|l| {
                re(&BLANKS, r"[ \t]+")
                    .replace_all(l.trim(), " ")
                    .into_owned()
            })
            .collect::<Vec<_>>()
            .join("\n");
    }
    out
}

/// --debug lines name each runtime's own internal steps (runc's nsexec
/// stages, tong's mounts): a run of them becomes one "<debug>" line, so
/// that what is compared is where they come (stderr or the --log file),
/// their format (text or JSON, logrus's fields) and every other line.
pub fn collapse_debug(s: &str) -> String {
    static DEBUG: OnceLock<Regex> = OnceLock::new();
    let debug = re(
        &DEBUG,
        r#"^(time="[^"]*" level=debug msg=.*|\{.*"level":"debug".*"msg":.*\}|\x1b\[37mDEBU\x1b\[0m.*)$"#,
    );
    if !s.lines().any(|l| debug.is_match(l)) {
        return s.to_string();
    }
    let mut out: Vec<&str> = Vec::new();
    for l in s.lines() {
        let l = if debug.is_match(l) { "<debug>" } else { l };
        if !(l == "<debug>" && out.last() == Some(&"<debug>")) {
            out.push(l);
        }
    }
    out.join("\n") + "\n"
}

/// A mountinfo line reduced to what must match: mount point, options, type,
/// root within its filesystem and the filesystem options (mount ids, device
/// numbers and the source vary from run to run).
pub fn mountinfo_line(l: &str) -> Option<String> {
    let m = tong_testkit::mountinfo::parse(l).pop()?;
    Some(format!(
        "mount {} {} {} root={} fs={}",
        m.point,
        m.opts.join(","),
        m.fstype,
        m.root,
        m.super_opts.join(",")
    ))
}

/// See [`Norm::Help`].
pub fn help_structure(s: &str) -> String {
    static HEADER: OnceLock<Regex> = OnceLock::new();
    static GAP: OnceLock<Regex> = OnceLock::new();
    let header = re(&HEADER, r"^[A-Z][A-Z0-9 ]*:$");
    let gap = re(&GAP, r"\s{2,}");
    let mut out = Vec::new();
    let mut section = String::new();
    let mut taken = false;
    let mut sorted: Vec<String> = Vec::new();
    let flush = |sorted: &mut Vec<String>, out: &mut Vec<String>| {
        sorted.sort();
        out.append(sorted);
    };
    for l in s.lines() {
        if header.is_match(l) {
            flush(&mut sorted, &mut out);
            section = l.to_string();
            taken = false;
            out.push(l.to_string());
            continue;
        }
        if l.starts_with("Incorrect Usage") {
            out.push(l.to_string());
            continue;
        }
        let body = l.trim();
        match section.as_str() {
            "NAME:" | "USAGE:" if !taken && !body.is_empty() => {
                taken = true;
                let keep = if section == "NAME:" {
                    body.split(" - ").next().unwrap_or(body)
                } else {
                    body
                };
                out.push(format!("   {keep}"));
            }
            "OPTIONS:" | "GLOBAL OPTIONS:" if l.starts_with("   -") => {
                sorted.push(format!("   {}", gap.split(body).next().unwrap_or(body)));
            }
            "COMMANDS:" if l.starts_with("   ") && !body.is_empty() => {
                sorted.push(format!("   {}", gap.split(body).next().unwrap_or(body)));
            }
            _ => {}
        }
    }
    flush(&mut sorted, &mut out);
    out.join("\n")
}

/// Lines only one side has: `-line` (runc), `+line` (tong), in order.
pub fn line_diff(a: &str, b: &str) -> Vec<String> {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    let (n, m) = (a.len(), b.len());
    // Longest common subsequence table, from the end.
    let mut t = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            t[i][j] = if a[i] == b[j] {
                t[i + 1][j + 1] + 1
            } else {
                t[i + 1][j].max(t[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < m && (i == n || t[i][j + 1] >= t[i + 1][j]) {
            out.push(format!("+{}", b[j]));
            j += 1;
        } else {
            out.push(format!("-{}", a[i]));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_paths_pids_times_and_names_are_replaced() {
        let mut s = Subst::default();
        s.add("/tmp/w/runc/3", "<dir>");
        s.add("dr-1-3-r", "<id>");
        s.add_pid(4242);
        let line = r#"time="2026-12-06T04:53:03Z" level=error msg="runc: container dr-1-3-r in /tmp/w/runc/3/bundle pid 4242 (14242) at 2026-12-06T04:53:03.123456789Z""#;
        assert_eq!(
            normalise(line, &s, Norm::Text),
            r#"time="<time>" level=error msg="<rt>: container <id> in <dir>/bundle pid <pid> (14242) at <time>""#
        );
        assert_eq!(
            normalise("PID  TTY   TIME\n 12  ?   0:00  \n", &s, Norm::Table),
            "PID TTY TIME\nN ? N:N"
        );
    }

    #[test]
    fn debug_lines_collapse_but_keep_their_place_and_format() {
        let runc = "time=\"<time>\" level=debug msg=\"nsexec[1]: stage-0\"\ntime=\"<time>\" level=debug msg=\"child process in init()\"\ntime=\"<time>\" level=error msg=\"boom\"\n";
        let tong = "time=\"<time>\" level=debug msg=\"mounts[0]: proc on /proc\"\ntime=\"<time>\" level=error msg=\"boom\"\n";
        assert_eq!(collapse_debug(runc), collapse_debug(tong));
        assert_eq!(
            collapse_debug(tong),
            "<debug>\ntime=\"<time>\" level=error msg=\"boom\"\n"
        );
        // A JSON line keeps its place only if it is logrus's JSON.
        let j = "{\"level\":\"debug\",\"msg\":\"x\",\"time\":\"<time>\"}\nhi\n";
        assert_eq!(collapse_debug(j), "<debug>\nhi\n");
        assert_eq!(
            collapse_debug("level=debug in prose\n"),
            "level=debug in prose\n"
        );
    }

    #[test]
    fn help_keeps_its_structure_only() {
        let h = "NAME:\n   x run - makes it go\n\nUSAGE:\n   x run [command options] <id>\n\nWhere prose.\n\nOPTIONS:\n   --keep     keep it\n   --bundle value, -b value  where\n";
        assert_eq!(
            help_structure(h),
            "NAME:\n   x run\nUSAGE:\n   x run [command options] <id>\nOPTIONS:\n   --bundle value, -b value\n   --keep"
        );
    }

    #[test]
    fn the_line_diff_names_only_the_lines_that_differ() {
        assert!(line_diff("a\nb\nc", "a\nb\nc").is_empty());
        assert_eq!(line_diff("a\nb\nc", "a\nx\nc"), vec!["+x", "-b"]);
        assert_eq!(line_diff("a", "a\nb"), vec!["+b"]);
        assert_eq!(line_diff("a\nb", ""), vec!["-a", "-b"]);
    }

    #[test]
    fn mountinfo_keeps_what_must_match() {
        let l = "22 21 0:5 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755";
        assert_eq!(
            mountinfo_line(l).unwrap(),
            "mount /dev rw,nosuid tmpfs root=/ fs=rw,size=65536k,mode=755"
        );
        assert!(mountinfo_line("uid=0(root)").is_none());
    }
}
