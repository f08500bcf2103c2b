//! Ending a container: signalling all its processes, and `delete` (kill if
//! asked, remove the cgroup, poststop hooks, remove the state dir), also
//! when its state.json can no longer be read.

use crate::cgroups::Cgroup;
use crate::signals;
use crate::state::{Container, Corrupt, NotExist, Status};
use crate::{debug, hooks};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::time::{Duration, Instant};

pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let c = match Container::load(root, id) {
        Ok(c) => c,
        Err(e) if force && e.is::<NotExist>() => {
            // A create killed between mkdir and its first state.json leaves
            // the directory alone: it goes, or the id could never be used again.
            crate::paths::validate_id(id)?;
            let dir = crate::paths::container_dir(root, id);
            if dir.is_dir() {
                crate::logging::warn(&format!(
                    "container {id} has no state (its create did not finish); removing {}",
                    dir.display()
                ));
                force_remove_unreadable(&dir, id)?;
            }
            return Ok(());
        }
        Err(e) if force && e.is::<Corrupt>() => {
            // state.json can't be trusted: fall back to the recovery record
            // (or what can be salvaged) to kill the container and remove its cgroup.
            let dir = e.downcast_ref::<Corrupt>().expect("checked").dir.clone();
            crate::logging::warn(&format!("{e}; removing {}", dir.display()));
            return force_remove_unreadable(&dir, id);
        }
        Err(e) => return Err(e),
    };
    if c.status().can_delete(id, force)? {
        kill_and_wait(&c)?;
    }
    crate::failpoint!("delete.killed");
    destroy(&c)
}

/// `delete --force` of a container whose state.json can't be read: its
/// processes are found through the recovery record and its cgroup.
fn force_remove_unreadable(dir: &Path, id: &str) -> Result<()> {
    let (pid, start, cgroup) = crate::state::salvage(dir, id);
    if crate::cgroups::is_frozen(&cgroup) {
        // A frozen process dies of SIGKILL only once thawed.
        Cgroup::open(&cgroup, id, false)?.freeze(false)?;
    }
    if pid > 0 && crate::state::process_matches(pid, start) {
        signals::send_verified(pid, start, libc::SIGKILL)?;
    }
    for p in crate::cgroups::pids_of(&cgroup) {
        let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while pid > 0 && crate::state::process_matches(pid, start) {
        if Instant::now() > deadline {
            bail!("container init {pid} did not die after SIGKILL");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    crate::cgroups::teardown(&cgroup)?;
    std::fs::remove_dir_all(dir).with_context(|| format!("remove {}", dir.display()))
}

fn kill_and_wait(c: &Container) -> Result<()> {
    signal_all(c, libc::SIGKILL)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.init_alive() {
        if Instant::now() > deadline {
            bail!("container init {} did not die after SIGKILL", c.state.pid);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// Removes a stopped container: its cgroup, then poststop hooks, then its state dir.
pub fn destroy(c: &Container) -> Result<()> {
    if c.state.owns_cgroup {
        if let Some(scope) = &c.state.systemd {
            scope.stop(&c.state.id)?;
        }
        crate::cgroups::teardown(&c.state.cgroup_path)?;
    }
    if let (Some(dir), true) = (&c.state.intel_rdt, c.state.owns_intel_rdt) {
        crate::resctrl::remove(dir)?;
    }
    crate::failpoint!("delete.cgroup");
    let state = c.state.hook_json(Status::Stopped, 0);
    hooks::run_all_warn(
        "poststop",
        c.state.hooks.as_ref().and_then(|h| h.poststop().as_ref()),
        &state,
    );
    crate::failpoint!("delete.hooks");
    c.remove_dir()?;
    debug!("container {} deleted", c.state.id);
    Ok(())
}

/// Signals every process in the container's cgroup (the init alone if the
/// cgroup lists none); a paused container is thawed after a SIGKILL so the
/// signal is delivered.
pub fn signal_all(c: &Container, sig: i32) -> Result<()> {
    let paused = c.status() == Status::Paused;
    let no_cgroup = c.state.cgroup_path.as_os_str().is_empty();
    let killed =
        sig == libc::SIGKILL && !no_cgroup && crate::cgroups::kill_all(&c.state.cgroup_path);
    let pids = if killed {
        Vec::new()
    } else if no_cgroup && c.init_alive() {
        // Rootless without a cgroup: the init's process tree.
        let own_ns = c
            .state
            .namespaces
            .contains(&oci_spec::runtime::LinuxNamespaceType::Pid);
        let tree = crate::rootless::container_pids(c.state.pid, own_ns);
        tree.into_iter().map(nix::unistd::Pid::from_raw).collect()
    } else {
        crate::cgroups::pids_of(&c.state.cgroup_path)
    };
    for pid in &pids {
        let _ = nix::sys::signal::kill(*pid, nix::sys::signal::Signal::try_from(sig).ok());
    }
    if !killed && pids.is_empty() && c.init_alive() {
        signals::send_verified(c.state.pid, c.state.pid_start_time, sig)?;
    }
    // A frozen process gets SIGKILL only once thawed.
    if paused && sig == libc::SIGKILL {
        Cgroup::open(&c.state.cgroup_path, &c.state.id, false)?.freeze(false)?;
    }
    Ok(())
}
