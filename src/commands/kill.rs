//! `kill`: signal the init (through a verified pidfd), or with --all every
//! process in the container's cgroup.

use crate::cgroups::Cgroup;
use crate::signals;
use crate::state::{Container, Status};
use anyhow::{bail, Result};
use std::path::Path;

pub fn kill(root: &Path, id: &str, signal: &str, all: bool) -> Result<()> {
    let sig = signals::parse(signal)?;
    let c = Container::load(root, id)?;
    let status = c.status();
    if status == Status::Stopped {
        // Tools send `kill --all ID 9` to stopped tasks and expect success.
        if all {
            return Ok(());
        }
        bail!("container not running");
    }
    if all {
        signal_all(&c, sig)?;
        return Ok(());
    }
    signals::send_verified(c.state.pid, c.state.pid_start_time, sig)
}

pub fn signal_all(c: &Container, sig: i32) -> Result<()> {
    let paused = c.status() == Status::Paused;
    let pids = crate::cgroups::pids_of(&c.state.cgroup_path);
    for pid in &pids {
        let _ = nix::sys::signal::kill(*pid, nix::sys::signal::Signal::try_from(sig).ok());
    }
    if pids.is_empty() && c.init_alive() {
        signals::send_verified(c.state.pid, c.state.pid_start_time, sig)?;
    }
    // A frozen process gets SIGKILL only once thawed.
    if paused && sig == libc::SIGKILL {
        Cgroup::open(&c.state.cgroup_path, &c.state.id, false)?.freeze(false)?;
    }
    Ok(())
}
