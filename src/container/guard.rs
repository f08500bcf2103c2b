//! The one undo of a half-made container or process, used by create, run and
//! exec: whatever was registered with it (the child process, the cgroup, the
//! state dir) is removed when it is dropped still armed, in that order, so a
//! failure at any step leaves nothing behind.

use crate::cgroups::Cgroup;
use nix::unistd::Pid;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

#[derive(Default)]
pub struct Guard {
    dir: Option<PathBuf>,
    cgroup: Option<Cgroup>,
    /// Our child until we exit: its pid can't be reused while unreaped.
    child: Option<(Pid, OwnedFd)>,
    /// A resctrl group made for linux.intelRdt.
    resctrl: Option<PathBuf>,
}

impl Guard {
    /// Removes `dir` (a container's state dir) on failure.
    pub fn state_dir(&mut self, dir: PathBuf) {
        self.dir = Some(dir);
    }

    /// Removes the cgroup, in every hierarchy, on failure.
    pub fn cgroup(&mut self, cg: Cgroup) -> &Cgroup {
        self.cgroup.insert(cg)
    }

    pub fn cgroup_ref(&self) -> Option<&Cgroup> {
        self.cgroup.as_ref()
    }

    /// Removes the resctrl group `dir` on failure.
    pub fn resctrl(&mut self, dir: PathBuf) {
        self.resctrl = Some(dir);
    }

    /// Kills and reaps `pid` on failure; replaces (and forgets) any earlier
    /// child (the intermediate that forked the real init has exited).
    pub fn child(&mut self, pid: Pid, pidfd: OwnedFd) {
        self.child = Some((pid, pidfd));
    }

    /// Success: nothing is undone; the child, if any, is handed back.
    pub fn disarm(mut self) -> Option<(Pid, OwnedFd)> {
        self.dir = None;
        self.cgroup = None;
        self.resctrl = None;
        self.child.take()
    }

    /// In a forked child: the copy of the guard must never undo anything.
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some((pid, fd)) = self.child.take() {
            let _ = crate::signals::pidfd_send(&fd, libc::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
        if let Some(dir) = self.resctrl.take() {
            let _ = crate::resctrl::remove(&dir);
        }
        if let Some(cg) = self.cgroup.take() {
            if let Err(e) = cg.remove_all() {
                crate::logging::warn(&format!("cleanup: {e:#}"));
            }
        }
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
