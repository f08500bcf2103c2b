//! Skipping a test the environment cannot run: fine on a developer's
//! machine, a failure when CI asks for the full run (`TONG_TEST_FULL=1`, set
//! by hack/test), so a run without root, runc or a tool cannot report passes
//! for tests that never ran.
//!
//! The one exception is [`allowed`]: a skip whose reason is a fact of the
//! machine that CI cannot change and that another stage covers (CRIU's
//! `criu check` failing on this kernel, checkpoint tested in the qemu guest).
//! It says why, in the test's output, even in a full run.

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

/// A reasoned skip that a full run allows too (see the module doc): use it
/// only where the reason is the kernel or machine itself, never a missing
/// tool or privilege that CI is meant to provide.
pub fn allowed(why: &str) {
    eprintln!("SKIP (allowed in a full run): {why}");
}

/// Whether we run as root.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
