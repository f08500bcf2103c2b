//! Skipping a test the environment cannot run: fine on a developer's
//! machine, a failure when CI asks for the full run (`TONG_TEST_FULL=1`, set
//! by hack/test), so a run without root, runc or a kernel feature cannot
//! report passes for tests that never ran.

/// The environment variable that asks for the full run.
pub const FULL: &str = "TONG_TEST_FULL";

/// Whether every test must run (no environmental skip allowed).
pub fn full_run() -> bool {
    std::env::var(FULL).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A test cannot run here: returns normally (the caller returns early and
/// the test counts as skipped) unless this is a full run, where it panics.
pub fn skip(why: &str) {
    if full_run() {
        panic!("cannot run here ({FULL} is set, so this is a failure): {why}");
    }
    eprintln!("SKIP: {why}");
}

/// Whether we run as root.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
