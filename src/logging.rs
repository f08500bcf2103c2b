//! Log lines in runc's formats: errors always, step-by-step lines with --debug.
//!
//! Without --log an error goes to stderr as a logrus-style text line (as runc);
//! with --log it goes to the file in the chosen format and stderr gets the bare message.

use crate::cli::LogFormat;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

struct Config {
    file: Option<PathBuf>,
    format: LogFormat,
    debug: bool,
}

static CONFIG: OnceLock<Config> = OnceLock::new();

pub fn init(file: Option<PathBuf>, format: LogFormat, debug: bool) {
    let _ = CONFIG.set(Config {
        file,
        format,
        debug,
    });
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
        out = out.replace(&format!("{name:?}: {text}"), &lower);
        out = out.replace(&text, &lower);
    }
    out
}

/// Reports the error that ends this command, in the requested format.
pub fn error(msg: &str) {
    let msg = &go_style(msg);
    let cfg = CONFIG.get();
    match cfg.and_then(|c| c.file.as_ref()) {
        Some(_) => {
            write("error", msg);
            eprintln!("{msg}");
        }
        None => eprintln!("{}", format_line(LogFormat::Text, "error", msg)),
    }
}

/// A warning: logged, never fatal.
pub fn warn(msg: &str) {
    write("warning", msg);
}

pub fn write(level: &str, msg: &str) {
    let Some(cfg) = CONFIG.get() else { return };
    let line = format_line(cfg.format, level, msg);
    match &cfg.file {
        Some(path) => {
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                let _ = f.write_all(format!("{line}\n").as_bytes());
            }
        }
        None if level != "error" => eprintln!("{line}"),
        None => {}
    }
}

fn format_line(format: LogFormat, level: &str, msg: &str) -> String {
    let time = rfc3339_now();
    match format {
        LogFormat::Json => {
            serde_json::json!({"level": level, "msg": msg, "time": time}).to_string()
        }
        LogFormat::Text => format!(
            "time=\"{time}\" level={level} msg={}",
            serde_json::Value::String(msg.to_string())
        ),
    }
}

/// Current UTC time as RFC 3339 with second precision.
pub fn rfc3339_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs() as i64, None)
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
    fn json_line_has_runc_fields() {
        let line = format_line(LogFormat::Json, "error", "boom \"x\"");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "boom \"x\"");
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
    }
}
