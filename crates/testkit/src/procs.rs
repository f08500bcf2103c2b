//! Processes: alive or not, and who mentions a name.

/// Whether `pid` is alive (not a zombie).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            let Some(i) = s.rfind(')') else { return false };
            let rest = s[i + 1..].trim_start();
            !rest.starts_with('Z') && !rest.starts_with('X')
        }
        Err(_) => false,
    }
}

/// Live pids (other than ours) with an argument equal to `needle` or
/// containing it as a path component (so that id "t-x-1" does not match
/// "t-x-1-2"), with their command lines.
pub fn mentioning(needle: &str) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let mut v = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return v;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).to_string();
        let hit = cmd
            .split('\0')
            .any(|a| a == needle || a.split('/').any(|c| c == needle));
        if hit && alive(pid) {
            v.push((pid, cmd.replace('\0', " ")));
        }
    }
    v
}

/// The parent pid of `pid`.
pub fn ppid_of(pid: i32) -> Option<i32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    rest.split(' ').nth(1)?.parse().ok()
}
