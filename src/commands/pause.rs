//! `pause` / `resume`: the freezer (v1) or cgroup.freeze (v2).

use crate::cgroups::Cgroup;
use crate::state::Container;
use anyhow::Result;
use std::path::Path;

pub fn pause(root: &Path, id: &str, frozen: bool) -> Result<()> {
    let c = Container::load(root, id)?;
    if frozen {
        c.status().can_pause()?;
    } else {
        c.status().can_resume()?;
    }
    crate::failpoint!("pause.loaded");
    crate::rootless::require_cgroup(&c.state.cgroup_path)?;
    Cgroup::open(&c.state.cgroup_path, id, false)?.freeze(frozen)?;
    crate::failpoint!("pause.frozen");
    Ok(())
}
