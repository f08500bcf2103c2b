//! `create`: load the bundle, make the container (`container::create`); the
//! init then waits for `start`.

use super::Global;
use crate::cli::CreateArgs;
use crate::container::{self, CreateOpts};
use anyhow::Result;

/// The container options of `create` and `run`.
pub fn opts<'a>(g: &'a Global, a: &'a CreateArgs) -> CreateOpts<'a> {
    CreateOpts {
        root: &g.root,
        id: &a.id,
        systemd_cgroup: g.systemd_cgroup,
        pid_file: a.pid_file.as_deref(),
        console_socket: a.console_socket.as_deref(),
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
    }
}

pub fn create(g: &Global, a: &CreateArgs) -> Result<()> {
    let plan = container::load_plan(&a.bundle, &a.id, g.systemd_cgroup)?;
    container::create(&opts(g, a), &plan, None)?;
    Ok(())
}
