//! `start`: tells a created container's init to exec the user process, waits
//! until it has (the init's connection closes on exec), then runs poststart hooks.

use crate::state::{Container, Status};
use crate::{debug, hooks, start_socket};
use anyhow::Result;

/// `c` is loaded and locked (`run` has it from create).
pub fn start(c: &Container) -> Result<()> {
    c.status().can_start()?;
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
    hooks::run_all_warn(
        "poststart",
        c.state.hooks.as_ref().and_then(|h| h.poststart().as_ref()),
        &state,
    );
    Ok(())
}
