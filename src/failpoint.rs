//! Named steps where a test build can be made to fail or die, so tests can
//! prove that an error or a SIGKILL at any step leaves nothing that
//! `delete --force` cannot remove. Compiled in only with the cargo feature
//! `failpoints`; without it `failpoint!` expands to nothing.
//!
//! `TONG_FAILPOINT=NAME=ACTION` arms one step: ACTION is `error` (the step
//! fails with an injected error) or `kill` (the process dies of SIGKILL
//! there; an init that a pid namespace protects from its own SIGKILL exits
//! at once instead). `TONG_FAILPOINT_LOG=FILE` appends the name of every
//! step reached, so a test knows which steps a command went through. Both
//! are inherited by the container's init and exec child until they exec.

/// `failpoint!("create.cgroup")`: returns the injected error from the
/// enclosing function (which returns anyhow::Result), or dies.
#[macro_export]
macro_rules! failpoint {
    ($name:literal) => {
        #[cfg(feature = "failpoints")]
        $crate::failpoint::hit($name)?;
    };
}

#[cfg(feature = "failpoints")]
static LOG: std::sync::OnceLock<Option<std::fs::File>> = std::sync::OnceLock::new();

/// First thing in main: the log is opened while its path still resolves (the
/// init and the exec child reach steps after they left the host's mount
/// namespace; they inherit the open file).
#[cfg(feature = "failpoints")]
pub fn init() {
    LOG.get_or_init(|| {
        let path = std::env::var_os("TONG_FAILPOINT_LOG")?;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok()
    });
}

#[cfg(feature = "failpoints")]
pub fn hit(name: &str) -> anyhow::Result<()> {
    if let Some(Some(f)) = LOG.get() {
        use std::io::Write;
        let _ = (&*f).write_all(format!("{name}\n").as_bytes());
    }
    let Ok(spec) = std::env::var("TONG_FAILPOINT") else {
        return Ok(());
    };
    match spec.split_once('=') {
        Some((n, "error")) if n == name => anyhow::bail!("failpoint {name}: injected error"),
        Some((n, "kill")) if n == name => {
            // SAFETY: signalling ourselves, then leaving without destructors.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
                libc::_exit(137)
            }
        }
        _ => Ok(()),
    }
}
