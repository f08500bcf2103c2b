//! The sweep must see a difference and must see nothing where there is
//! none: runc against itself is clean (the normalising removes every
//! run-to-run variation), a runtime that differs from runc on purpose (a
//! wrapper that changes one output) is caught and fails the run, and the
//! allow-list lets exactly that difference through. Needs root and runc.

use std::path::{Path, PathBuf};
use std::process::Command;

fn runc() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("runc"))
            .find(|c| c.is_file())
    })
}

fn ready() -> Option<PathBuf> {
    if !tong_testkit::skip::is_root() {
        tong_testkit::skip::skip("diff-runc runs containers: needs root");
        return None;
    }
    let r = runc();
    if r.is_none() {
        tong_testkit::skip::skip("runc is not installed");
    }
    r
}

fn sweep(runtime: &Path, allow: Option<&Path>, filters: &[&str]) -> (i32, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_diff-runc"));
    c.arg("--tong").arg(runtime).args(["--jobs", "2"]);
    if let Some(a) = allow {
        c.arg("--allow").arg(a);
    }
    for f in filters {
        c.args(["--filter", f]);
    }
    let o = c.output().expect("run diff-runc");
    let out = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    (o.status.code().unwrap_or(-1), out)
}

/// A temp dir of this test's own.
fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("diff-runc-selftest-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

const FILTERS: &[&str] = &[
    "status/running/state",
    "status/created/kill-KILL",
    "status/paused/ps-json",
    "status/stopped/events-stats",
    "help/run--help",
    "usage/state-noargs",
    "config/default",
    "config/hook-createRuntime",
    "flags/log-json",
];

#[test]
fn runc_against_itself_shows_no_difference() {
    let Some(runc) = ready() else { return };
    let (code, out) = sweep(&runc, None, FILTERS);
    assert_eq!(code, 0, "runc vs runc must be clean:\n{out}");
    assert!(!out.contains("DIFF "), "{out}");
    assert!(out.contains(&format!("{} cases", FILTERS.len())), "{out}");
}

#[test]
fn a_runtime_that_differs_is_caught_and_the_allow_list_lets_it_through() {
    let Some(runc) = ready() else { return };
    let dir = tmp("fake");
    // runc, except that `list` prints one more line and `kill` exits 7.
    let fake = dir.join("fake-runtime");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nfor a; do\n  case $a in\n    list) {r} \"$@\"; echo injected-difference; exit 0 ;;\n    kill) {r} \"$@\"; exit 7 ;;\n  esac\ndone\nexec {r} \"$@\"\n",
            r = runc.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let filters = ["status/running/list-q", "status/created/kill-KILL"];
    let (code, out) = sweep(&fake, None, &filters);
    assert_eq!(code, 1, "a difference must fail the sweep:\n{out}");
    assert!(out.contains("DIFF status/running/list-q"), "{out}");
    assert!(
        out.contains("stdout (list -q): +injected-difference"),
        "{out}"
    );
    assert!(
        out.contains("exit (kill {id} KILL): -0") && out.contains("exit (kill {id} KILL): +7"),
        "{out}"
    );
    // Allowed (with reasons), the same differences pass; a narrower entry
    // that does not cover the exit code leaves the run failing.
    let allow = dir.join("allow");
    std::fs::write(
        &allow,
        "* | * | +injected-difference | a test\nstatus/created/kill-KILL | exit | * | a test\n",
    )
    .unwrap();
    let (code, out) = sweep(&fake, Some(&allow), &filters);
    assert_eq!(code, 0, "allowed differences pass:\n{out}");
    std::fs::write(&allow, "* | * | +injected-difference | a test\n").unwrap();
    let (code, out) = sweep(&fake, Some(&allow), &filters);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("exit (kill {id} KILL): +7") && !out.contains("+injected-difference"),
        "{out}"
    );
    // An entry without a reason is refused.
    std::fs::write(&allow, "* | * | +injected-difference |\n").unwrap();
    let (code, out) = sweep(&fake, Some(&allow), &filters);
    assert_eq!(code, 2, "{out}");
    tong_testkit::fsutil::safe_remove(&dir);
}
