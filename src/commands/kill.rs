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
    // runc 1.2+: SIGKILL kills every process of a container whose init is
    // not the pid 1 of its own pid namespace (killing that one kills all).
    if all || (sig == libc::SIGKILL && !init_is_pidns_init(c.state.pid)) {
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

/// Whether `pid` is pid 1 of the innermost pid namespace it is in.
fn init_is_pidns_init(pid: i32) -> bool {
    crate::mountinfo::read_proc(&format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .and_then(|l| l.split_whitespace().last().map(|p| p == "1"))
        })
        .unwrap_or(true)
}
