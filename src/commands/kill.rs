//! `kill`: signal the init (through a verified pidfd), or with --all every
//! process in the container's cgroup.

use crate::state::Container;
use crate::{container, signals};
use anyhow::Result;
use std::path::Path;

pub fn kill(root: &Path, id: &str, signal: &str, all: bool) -> Result<()> {
    // runc looks the container up before it reads the signal.
    let c = Container::load(root, id)?;
    let sig = signals::parse(signal)?;
    let status = c.status();
    if !status.can_kill(all)? {
        return Ok(());
    }
    if all {
        container::signal_all(&c, sig)?;
    } else {
        signals::send_verified(c.state.pid, c.state.pid_start_time, sig)
            .map_err(|e| anyhow::anyhow!("unable to signal init: {}", e.root_cause()))?;
    }
    // A frozen process dies of SIGKILL only once thawed (cgroup v1), as
    // runc does: thaw after a SIGKILL to a paused container.
    if status == crate::status::Status::Paused && sig == libc::SIGKILL {
        let _ = crate::cgroups::Cgroup::open(&c.state.cgroup_path, id, false)
            .and_then(|cg| cg.freeze(false));
    }
    Ok(())
}
