//! `kill`: signal the init (through a verified pidfd), or with --all every
//! process in the container's cgroup.

use crate::state::Container;
use crate::{container, signals};
use anyhow::Result;
use std::path::Path;

pub fn kill(root: &Path, id: &str, signal: &str, all: bool) -> Result<()> {
    let sig = signals::parse(signal)?;
    let c = Container::load(root, id)?;
    if !c.status().can_kill(all)? {
        return Ok(());
    }
    if all {
        return container::signal_all(&c, sig);
    }
    signals::send_verified(c.state.pid, c.state.pid_start_time, sig)
}
