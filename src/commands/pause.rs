//! `pause` / `resume`: the freezer (v1) or cgroup.freeze (v2).

use crate::cgroups::Cgroup;
use crate::state::{Container, Status};
use anyhow::{bail, Result};
use std::path::Path;

pub fn pause(root: &Path, id: &str, frozen: bool) -> Result<()> {
    let c = Container::load(root, id)?;
    match (frozen, c.status()) {
        (true, Status::Running | Status::Created) | (false, Status::Paused) => {}
        (true, Status::Paused) => bail!("container already paused"),
        (true, _) => bail!("container not running"),
        (false, _) => bail!("container not paused"),
    }
    Cgroup::open(&c.state.cgroup_path, id, false)?.freeze(frozen)
}
