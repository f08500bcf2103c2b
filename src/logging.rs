//! Log lines in runc's formats (logrus's text and JSON formatters): errors
//! always, step-by-step lines with --debug.
//!
//! Without --log a line goes to stderr in the chosen format; a text line to a
//! terminal is logrus's coloured one (`ERRO[0000] msg`), as runc prints it by
//! hand. With --log it goes to the file and stderr gets the bare error message.
//!
//! Both are held open from start-up (close-on-exec): the container's init,
//! a fork of this process, logs through them after pivot_root (where the
//! --log path means a file of the container's) and after its stdio became
//! the container's (runc's init logs through a pipe to its parent).

use crate::cli::LogFormat;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

struct Config {
    file: Option<PathBuf>,
    /// The --log file, or else a close-on-exec copy of stderr.
    sink: Option<std::fs::File>,
    format: LogFormat,
    debug: bool,
    /// logrus's base time: coloured lines show the seconds since it.
    start: Instant,
}

static CONFIG: OnceLock<Config> = OnceLock::new();

/// `first_free`: the lowest fd the sink may take. fds 3..first_free go to
/// the container (--preserve-fds, LISTEN_FDS); a closed one among them must
/// stay closed, not become our log file in the container.
pub fn init(file: Option<PathBuf>, format: LogFormat, debug: bool, first_free: u32) {
    use std::os::fd::AsRawFd;
    // runc opens --log at start: the file exists even when nothing is logged.
    let sink = match &file {
        Some(p) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
            .and_then(|f| dup_from(f.as_raw_fd(), first_free)),
        None => dup_from(2, first_free),
    };
    let _ = CONFIG.set(Config {
        file,
        sink,
        format,
        debug,
        start: Instant::now(),
    });
}

/// `fd` duplicated close-on-exec at `min` or above (the original, if ours,
/// closes when its File drops).
fn dup_from(fd: i32, min: u32) -> Option<std::fs::File> {
    use std::os::fd::FromRawFd;
    let min = i32::try_from(min.max(3)).ok()?;
    // SAFETY: F_DUPFD_CLOEXEC makes a new fd that only this File owns.
    let fd = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) };
    // SAFETY: as above; fd is ours and open.
    (fd >= 0).then(|| unsafe { std::fs::File::from_raw_fd(fd) })
}

/// Writes one whole line in a single write(2), so lines of the init and
/// its parent never interleave.
fn emit(sink: &std::fs::File, line: &str) {
    let mut f = sink;
    let _ = f.write_all(format!("{line}\n").as_bytes());
}

pub fn debug_enabled() -> bool {
    CONFIG.get().is_some_and(|c| c.debug)
}

/// Logs one debug line (only with --debug).
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::logging::debug_enabled() {
            $crate::logging::write("debug", &format!($($arg)*));
        }
    };
}

/// OS error texts as Go (runc) prints them: lower case, no "(os error N)" and
/// no errno name. Docker matches "no such file or directory" and "permission
/// denied" case-sensitively to pick exit codes 127 and 126.
pub fn go_style(msg: &str) -> String {
    let mut out = msg.to_string();
    for errno in 1..134 {
        // SAFETY: strerror returns a static string for any errno.
        let text = unsafe { std::ffi::CStr::from_ptr(libc::strerror(errno)) }
            .to_string_lossy()
            .into_owned();
        if !out.contains(&text) {
            continue;
        }
        let lower = text.to_lowercase();
        out = out.replace(&format!("{text} (os error {errno})"), &lower);
        let name = nix::errno::Errno::from_raw(errno);
        out = out.replace(&format!("{name}"), &lower);
        out = out.replace(&text, &lower);
    }
    out
}

/// Reports the error that ends this command, in the requested format.
pub fn error(msg: &str) {
    let msg = &go_style(msg);
    match CONFIG.get().and_then(|c| c.file.as_ref()) {
        Some(_) => {
            write("error", msg);
            eprintln!("{msg}");
        }
        None => stderr_line("error", msg, &[]),
    }
}

/// From here on a panic (always a bug) ends the command as any error does:
/// one line in the requested format and `fail_code`, instead of Rust's
/// "thread 'main' panicked" and an abort.
pub fn report_panics(fail_code: i32) {
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let what = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("unknown cause");
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        error(&format!(
            "internal error: {what}{at} (please report this bug)"
        ));
        // SAFETY: ends the process at once; the panicking one may be a forked
        // child, which must not run the parent's exit handlers.
        unsafe { libc::_exit(fail_code) }
    }));
}

/// A warning: logged, never fatal.
pub fn warn(msg: &str) {
    write("warning", msg);
}

/// A warning with an `error` field, as logrus's `WithError(err).Warn(msg)`.
pub fn warn_error(msg: &str, err: &str) {
    write_fields("warning", msg, &[("error", err)]);
}

pub fn write(level: &str, msg: &str) {
    write_fields(level, msg, &[]);
}

/// One line with logrus fields besides time, level and msg (`fields` sorted
/// by key, as logrus prints them).
fn write_fields(level: &str, msg: &str, fields: &[(&str, &str)]) {
    let Some(cfg) = CONFIG.get() else { return };
    match &cfg.file {
        Some(path) => {
            let line = format_line(cfg.format, level, msg, fields);
            match &cfg.sink {
                Some(f) => emit(f, &line),
                // Not openable at start-up: try again (it may exist now).
                None => {
                    if let Ok(f) = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                    {
                        emit(&f, &line);
                    }
                }
            }
        }
        None if level != "error" => stderr_line(level, msg, fields),
        None => {}
    }
}

fn stderr_line(level: &str, msg: &str, fields: &[(&str, &str)]) {
    use std::os::fd::AsRawFd;
    let cfg = CONFIG.get();
    let format = cfg.map_or(LogFormat::Text, |c| c.format);
    let sink = cfg.and_then(|c| c.sink.as_ref());
    let fd = sink.map_or(2, |f| f.as_raw_fd());
    // SAFETY: isatty only inspects the fd.
    let line = if format == LogFormat::Text && unsafe { libc::isatty(fd) } == 1 {
        let secs = cfg.map_or(0, |c| c.start.elapsed().as_secs());
        colored_line(level, msg, secs, fields)
    } else {
        format_line(format, level, msg, fields)
    };
    match sink {
        Some(f) => emit(f, &line),
        None => eprintln!("{line}"),
    }
}

fn format_line(format: LogFormat, level: &str, msg: &str, fields: &[(&str, &str)]) -> String {
    let time = log_time_now();
    match format {
        LogFormat::Json => {
            // serde_json's map is sorted by key, as Go's encoding/json writes logrus's.
            let mut obj = serde_json::json!({"level": level, "msg": msg, "time": time});
            for (k, v) in fields {
                obj[*k] = serde_json::Value::from(*v);
            }
            go_json(&obj.to_string())
        }
        LogFormat::Text => {
            // logrus leaves out an empty message.
            let mut line = format!("time=\"{time}\" level={level}");
            if !msg.is_empty() {
                line.push_str(&format!(" msg={}", logrus_value(msg)));
            }
            for (k, v) in fields {
                line.push_str(&format!(" {k}={}", logrus_value(v)));
            }
            line
        }
    }
}

/// logrus's line for a terminal: the level's first four letters in its
/// colour, seconds since start-up, the message padded to 44 characters.
fn colored_line(level: &str, msg: &str, secs: u64, fields: &[(&str, &str)]) -> String {
    let color = match level {
        "error" | "fatal" | "panic" => 31,
        "warning" => 33,
        "debug" | "trace" => 37,
        _ => 36,
    };
    let tag: String = level.to_uppercase().chars().take(4).collect();
    let msg = msg.strip_suffix('\n').unwrap_or(msg);
    let mut line = format!("\x1b[{color}m{tag}\x1b[0m[{secs:04}] {msg:<44} ");
    for (k, v) in fields {
        line.push_str(&format!(" \x1b[{color}m{k}\x1b[0m={}", logrus_value(v)));
    }
    line
}

/// A value as logrus's text formatter writes it: bare when it is made of
/// letters, digits and `-._/@^+` only, else quoted as Go's %q does.
fn logrus_value(v: &str) -> String {
    let bare = v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._/@^+".contains(c));
    if bare {
        v.to_string()
    } else {
        go_quote(v)
    }
}

/// Go's strconv.Quote: `"`, `\\` and the C escapes; other control and
/// invisible characters as \xNN or \uNNNN; printable text as it is.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if !go_printable(c) => match c as u32 {
                n if n < 0x10000 => out.push_str(&format!("\\u{n:04x}")),
                n => out.push_str(&format!("\\U{n:08x}")),
            },
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's unicode.IsPrint for the characters that matter in messages: C1
/// controls, spaces other than ' ', format characters and noncharacters are
/// not printable.
fn go_printable(c: char) -> bool {
    !matches!(c as u32,
        0x80..=0xa0 | 0xad | 0x1680 | 0x2000..=0x200f | 0x2028..=0x202f
        | 0x205f..=0x206f | 0x3000 | 0xfeff | 0xfff9..=0xfffb | 0xfffe | 0xffff)
}

/// serde_json's output as Go's encoding/json writes it: `<`, `>`, `&`,
/// U+2028 and U+2029 escaped (they can only occur inside strings here).
fn go_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Now, as logrus stamps a line: RFC 3339 in local time, seconds precision
/// ("Z" for UTC, else the offset, e.g. "+09:00").
pub fn log_time_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let t = secs as libc::time_t;
    let mut tm = std::mem::MaybeUninit::<libc::tm>::zeroed();
    // SAFETY: localtime_r fills tm and returns it or NULL.
    let off = if unsafe { libc::localtime_r(&t, tm.as_mut_ptr()) }.is_null() {
        0
    } else {
        // SAFETY: initialised by the successful call above.
        unsafe { tm.assume_init() }.tm_gmtoff
    };
    rfc3339_offset(secs, off)
}

/// RFC 3339 of `secs` since the epoch shown at UTC offset `off` seconds.
fn rfc3339_offset(secs: i64, off: i64) -> String {
    let utc = rfc3339(secs + off, None);
    if off == 0 {
        return utc;
    }
    let (sign, a) = if off < 0 { ('-', -off) } else { ('+', off) };
    format!(
        "{}{sign}{:02}:{:02}",
        utc.trim_end_matches('Z'),
        a / 3600,
        a % 3600 / 60
    )
}

/// Formats seconds since the epoch (plus optional nanoseconds) as RFC 3339 UTC.
pub fn rfc3339(secs: i64, nanos: Option<u32>) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let frac = nanos.map(|n| format!(".{n:09}")).unwrap_or_default();
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{frac}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0, None), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000, None), "2023-11-14T22:13:20Z");
        assert_eq!(
            rfc3339(951_782_400, Some(5)),
            "2000-02-29T00:00:00.000000005Z"
        );
    }

    #[test]
    fn os_errors_read_like_runc() {
        assert_eq!(
            go_style("open /x: No such file or directory (os error 2)"),
            "open /x: no such file or directory"
        );
        assert_eq!(
            go_style("mkdir a: ENOTDIR: Not a directory"),
            "mkdir a: not a directory"
        );
        assert_eq!(
            go_style("exec: Permission denied"),
            "exec: permission denied"
        );
    }

    #[test]
    fn text_values_quote_as_logrus() {
        assert_eq!(logrus_value("checkpoint"), "checkpoint");
        assert_eq!(logrus_value("/run/tong-1.2_x@y^z+"), "/run/tong-1.2_x@y^z+");
        assert_eq!(
            logrus_value("container does not exist"),
            "\"container does not exist\""
        );
        assert_eq!(logrus_value("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(
            logrus_value("x\n\t\x1b\x7f\u{85}\u{200b}é한"),
            r#""x\n\t\x1b\x7f\u0085\u200bé한""#
        );
        let line = format_line(LogFormat::Text, "warning", "a b", &[]);
        assert!(line.starts_with("time=\""), "{line}");
        assert!(line.ends_with("\" level=warning msg=\"a b\""), "{line}");
        assert!(format_line(LogFormat::Text, "error", "", &[]).ends_with("level=error"));
    }

    #[test]
    fn json_escapes_as_go() {
        let line = format_line(LogFormat::Json, "error", "<a> & \u{2028}", &[]);
        assert!(
            line.starts_with(r#"{"level":"error","msg":"\u003ca\u003e \u0026 \u2028","time":""#),
            "{line}"
        );
    }

    #[test]
    fn terminal_lines_are_logrus_colored() {
        assert_eq!(
            colored_line("error", "container does not exist", 0, &[]),
            format!(
                "\x1b[31mERRO\x1b[0m[0000] container does not exist{} ",
                " ".repeat(20)
            )
        );
        assert!(colored_line("warning", "w", 61, &[]).starts_with("\x1b[33mWARN\x1b[0m[0061] w "));
        assert!(colored_line("debug", "d", 0, &[]).starts_with("\x1b[37mDEBU"));
    }

    #[test]
    fn log_times_carry_the_offset() {
        assert_eq!(rfc3339_offset(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_offset(0, 9 * 3600), "1970-01-01T09:00:00+09:00");
        assert_eq!(
            rfc3339_offset(0, -(3 * 3600 + 1800)),
            "1969-12-31T20:30:00-03:30"
        );
        let now = log_time_now();
        assert!(now.len() >= 20 && now.as_bytes()[10] == b'T', "{now}");
    }

    #[test]
    fn fields_follow_the_message_as_logrus() {
        let f = [("error", "mount x: bad")];
        let line = format_line(LogFormat::Text, "warning", "configuration", &f);
        assert!(
            line.ends_with(" level=warning msg=configuration error=\"mount x: bad\""),
            "{line}"
        );
        let line = format_line(LogFormat::Json, "warning", "configuration", &f);
        assert!(
            line.starts_with(
                r#"{"error":"mount x: bad","level":"warning","msg":"configuration","time":""#
            ),
            "{line}"
        );
        assert!(colored_line("warning", "configuration", 0, &f)
            .ends_with(" \x1b[33merror\x1b[0m=\"mount x: bad\""));
    }

    #[test]
    fn json_line_has_runc_fields() {
        let line = format_line(LogFormat::Json, "error", "boom \"x\"", &[]);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "boom \"x\"");
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
    }
}
