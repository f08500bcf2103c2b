//! One file per command: load what it needs, call the one function that acts
//! (`container::*` for anything that makes or ends a container), print. No
//! command uses another command's file.
pub mod checkpoint;
pub mod completion;
pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod kill;
pub mod list;
pub mod pause;
pub mod ps;
pub mod restore;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

use std::path::PathBuf;

/// Global options every command sees.
pub struct Global {
    pub root: PathBuf,
    pub systemd_cgroup: bool,
    /// --rootless as given (`rootless::cgroups` reads it).
    pub rootless: Option<String>,
}

impl Global {
    /// `create`/`run`: the plan, with the notify socket's mount and env when
    /// tong was given a NOTIFY_SOCKET.
    pub fn load_plan(&self, a: &crate::cli::CreateArgs) -> anyhow::Result<crate::bundle::Plan> {
        let rootless = self.systemd_cgroup && crate::rootless::cgroups(self.rootless.as_deref())?;
        let mut plan =
            crate::container::load_plan(&a.bundle, &a.id, self.systemd_cgroup, rootless)?;
        if crate::notify::host_socket().is_some() {
            crate::notify::add_to_plan(&mut plan, &crate::paths::container_dir(&self.root, &a.id))?;
        }
        Ok(plan)
    }

    /// The container options of `create` and `run`.
    pub fn create_opts<'a>(
        &'a self,
        a: &'a crate::cli::CreateArgs,
    ) -> anyhow::Result<crate::container::CreateOpts<'a>> {
        Ok(crate::container::CreateOpts {
            root: &self.root,
            id: &a.id,
            pid_file: a.pid_file.as_deref(),
            console_socket: a.console_socket.as_deref(),
            no_pivot: a.no_pivot,
            no_new_keyring: a.no_new_keyring,
            preserve_fds: a.preserve_fds,
            pidfd_socket: a.pidfd_socket.as_deref(),
            notify: crate::notify::host_socket().is_some(),
            rootless_cgroups: crate::rootless::cgroups(self.rootless.as_deref())?,
        })
    }
}
