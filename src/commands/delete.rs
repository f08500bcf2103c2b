//! `delete`: remove a stopped (or, with --force, any) container: its processes,
//! cgroup, then poststop hooks and the state dir.

use super::create::oci_state_json;
use crate::cgroups::Cgroup;
use crate::state::{Container, Corrupt, NotExist, Status};
use crate::{debug, hooks};
use anyhow::{bail, Result};
use std::path::Path;
use std::time::{Duration, Instant};

pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let c = match Container::load(root, id) {
        Ok(c) => c,
        Err(e) if e.is::<NotExist>() && force => return Ok(()),
        Err(e) if force && e.is::<Corrupt>() => {
            // state.json can't be trusted: fall back to the recovery record
            // (or the default cgroup) to kill the init and remove the cgroup.
            let dir = e.downcast_ref::<Corrupt>().expect("checked").dir.clone();
            crate::logging::warn(&format!("{e}; removing {}", dir.display()));
            force_remove_corrupt(&dir, id);
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let status = c.status();
    match status {
        Status::Stopped => {}
        Status::Created => kill_and_wait(&c)?,
        _ if force => kill_and_wait(&c)?,
        s => bail!("cannot delete container {id} that is not stopped: {s}"),
    }
    destroy(&c)
}

fn force_remove_corrupt(dir: &Path, id: &str) {
    let (pid, start, cgroup) = crate::state::read_recovery(dir).unwrap_or((
        0,
        0,
        std::path::PathBuf::from(format!("/{id}")),
    ));
    if pid > 0 && crate::state::process_matches(pid, start) {
        let _ = crate::signals::send_verified(pid, start, libc::SIGKILL);
    }
    for p in crate::cgroups::pids_of(&cgroup) {
        let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
    }
    if let Ok(cg) = Cgroup::open(&cgroup, id, false) {
        let _ = cg.freeze(false);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while pid > 0 && crate::state::process_matches(pid, start) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = crate::cgroups::teardown(&cgroup);
    let _ = std::fs::remove_dir_all(dir);
}

fn kill_and_wait(c: &Container) -> Result<()> {
    super::kill::signal_all(c, libc::SIGKILL)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.init_alive() {
        if Instant::now() > deadline {
            bail!("container init {} did not die after SIGKILL", c.state.pid);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

pub fn destroy(c: &Container) -> Result<()> {
    if c.state.owns_cgroup {
        crate::cgroups::teardown(&c.state.cgroup_path)?;
    }
    let state = oci_state_json(&c.state, Status::Stopped, 0);
    hooks::run_all_warn(
        "poststop",
        c.state.hooks.as_ref().and_then(|h| h.poststop().as_ref()),
        &state,
    );
    c.remove_dir()?;
    debug!("container {} deleted", c.state.id);
    Ok(())
}
