//! `restore`: a container made from a CRIU checkpoint (`criu::restore`);
//! without --detach, waits for it and exits with its code, as `run`.

use super::Global;
use crate::cli::RestoreArgs;
use crate::criu::{self, RestoreOpts};
use anyhow::Result;

pub fn restore(g: &Global, a: &RestoreArgs) -> Result<i32> {
    criu::restore(&RestoreOpts {
        root: &g.root,
        systemd_cgroup: g.systemd_cgroup,
        args: a,
    })
}
