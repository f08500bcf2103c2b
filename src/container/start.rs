//! `start`: tells a created container's init to exec the user process, waits
//! until it has (the init's connection closes on exec), then runs poststart
//! hooks (one failing stops the container and fails `start`, as runc 1.2+)
//! and, with NOTIFY_SOCKET, relays the container's READY (`notify`).

use crate::state::{Container, Status};
use crate::{debug, hooks, start_socket};
use anyhow::Result;

/// `c` is loaded and locked (`run` has it from create). With NOTIFY_SOCKET
/// it returns once the container said READY (or exited); `foreground`: a
/// `run` that stays, and so is the main pid the host is told of.
pub fn start(c: &Container, foreground: bool) -> Result<()> {
    c.status().can_start()?;
    let notify = crate::notify::listen(&c.dir)?;
    let dir = std::fs::File::open(&c.dir)?;
    let conn = start_socket::release(&dir)?;
    crate::failpoint!("start.released");
    // From here the container counts as started, whatever happens next.
    match std::fs::remove_file(c.start_sock_path()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        // The init is released: say so, but the status will read "created".
        Err(e) => crate::logging::warn(&format!("remove the start socket: {e}")),
    }
    start_socket::outcome(&conn)?;
    debug!("container {} started", c.state.id);
    crate::failpoint!("start.started");
    let state = c.state.hook_json(Status::Running, c.state.pid);
    if let Err(e) = hooks::run_all(
        "poststart",
        c.state.hooks.as_ref().and_then(|h| h.poststart().as_ref()),
        &state,
    ) {
        // The runtime spec (since 1.2's lifecycle fix) and runc 1.2+: a
        // failing poststart hook is an error and stops the container;
        // `delete` then removes it.
        if let Err(k) = super::signal_all(c, libc::SIGKILL) {
            crate::logging::warn(&format!("stop the container: {k:#}"));
        }
        return Err(e);
    }
    if let Some(proxy) = notify {
        let pidfd = crate::signals::pidfd_open(c.state.pid)?;
        let main_pid = if foreground {
            std::process::id() as i32
        } else {
            c.state.pid
        };
        proxy.forward_ready(&pidfd, main_pid)?;
    }
    Ok(())
}
