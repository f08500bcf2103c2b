//! clone3 straight from the tong process: no re-exec, no threads, so the child
//! can keep running our Rust code with an exact copy of the plan in memory.

use anyhow::{Context, Result};
use nix::unistd::Pid;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

pub enum Forked {
    Parent { pid: Pid, pidfd: OwnedFd },
    Child,
}

/// Forks with `flags` (namespace flags) plus CLONE_PIDFD, the child born in
/// the cgroup2 directory `cgroup` if one is given (CLONE_INTO_CGROUP, Linux
/// 5.7; if the kernel refuses it, an ordinary clone3). The flag says whether
/// the child is in `cgroup`. Safe only because the caller is single-threaded:
/// the child gets a consistent copy of the heap.
pub fn clone3_into(flags: u64, cgroup: Option<BorrowedFd>) -> Result<(Forked, bool)> {
    if let Some(fd) = cgroup {
        const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
        match clone3_args(flags | CLONE_INTO_CGROUP, Some(fd)) {
            Ok(f) => return Ok((f, true)),
            Err(e) => crate::debug!("clone3 into the cgroup: {e:#}; joining it after"),
        }
    }
    clone3_args(flags, None).map(|f| (f, false))
}

fn clone3_args(flags: u64, cgroup: Option<BorrowedFd>) -> Result<Forked> {
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.map_or(0, |fd| fd.as_raw_fd() as u64),
        ..Default::default()
    };
    // SAFETY: clone3 without a new stack behaves like fork; we pass a valid struct
    // and its size.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(std::io::Error::last_os_error()).context("clone3"),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent {
            pid: Pid::from_raw(pid as i32),
            // SAFETY: the kernel filled in a new pidfd we now own.
            pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
        }),
    }
}

/// fork() whose child belongs to our parent (CLONE_PARENT) and signals it
/// SIGCHLD on exit; clone3 refuses that combination, legacy clone allows it.
pub fn fork_sibling() -> Result<Forked> {
    // SAFETY: legacy clone without a new stack behaves like fork.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match ret {
        -1 => Err(std::io::Error::last_os_error()).context("clone"),
        0 => Ok(Forked::Child),
        pid => {
            let pid = Pid::from_raw(pid as i32);
            let pidfd = crate::signals::pidfd_open(pid.as_raw())?;
            Ok(Forked::Parent { pid, pidfd })
        }
    }
}
