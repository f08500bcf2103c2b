//! The child of `exec`: born in the container's pid namespace (the parent stood
//! in it for the clone), it joins the init's other namespaces through a pidfd in
//! one setns, takes on the process attributes and execs. Until execve it is not
//! dumpable, so nothing in the container can reach it or the tong binary.

use crate::process::{attrs, child};
use crate::sync::{Channel, Msg};
use anyhow::{Context, Result};
use nix::sched::CloneFlags;
use oci_spec::runtime::Process;
use std::os::fd::{AsRawFd, OwnedFd};

pub struct ExecChildArgs<'a> {
    pub chan: Channel,
    pub init_pidfd: OwnedFd,
    /// Namespaces to join (pid only with `late_pidns`).
    pub join: CloneFlags,
    /// The parent could not enter the pid namespace (rootless): join it
    /// with the rest and fork the real process beside us (`fork_in_pidns`).
    pub late_pidns: bool,
    pub in_userns: bool,
    pub process: Process,
    pub console: Option<OwnedFd>,
    pub keep_fds: u32,
    pub seccomp: Option<tong_seccomp::Filter>,
    /// The v1 cgroups to move into first thing (else the parent put us there).
    pub cgroup: Option<&'a crate::cgroups::SelfJoin>,
    /// The container's linux.personality and linux.memoryPolicy.
    pub personality: Option<oci_spec::runtime::LinuxPersonality>,
    pub memory_policy: Option<oci_spec::runtime::LinuxMemoryPolicy>,
}

/// process.execCPUAffinity once in the cgroup: final if given; with only
/// initial (set by the parent before the clone), initial again: a kernel
/// without persistent user affinity masks (6.1) replaced it with the
/// cpuset's CPUs when the child was born into its cgroup; else the reset.
fn exec_affinity(p: &Process) -> child::Affinity<'_> {
    let a = p.exec_cpu_affinity().as_ref();
    let nonempty = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).is_some();
    match a {
        Some(a) if nonempty(a.cpu_affinity_final()) => {
            child::Affinity::Set(a.cpu_affinity_final().as_deref().unwrap_or_default())
        }
        Some(a) if nonempty(a.initial()) => {
            child::Affinity::Set(a.initial().as_deref().unwrap_or_default())
        }
        _ => child::Affinity::Reset,
    }
}

pub fn run(a: ExecChildArgs) -> ! {
    let e = match steps(&a) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let _ = a.chan.send(&Msg::Error(format!("{e:#}")));
    // SAFETY: leave without running the parent's destructors.
    unsafe { libc::_exit(1) }
}

fn steps(a: &ExecChildArgs) -> Result<std::convert::Infallible> {
    child::begin(
        &a.chan,
        a.keep_fds,
        a.cgroup,
        "joining the container",
        child::Dumpable::No,
    )?;
    let mut join = a.join;
    if a.late_pidns {
        join |= CloneFlags::CLONE_NEWPID;
    }
    // SAFETY: setns(2) on a pidfd with namespace flags.
    if unsafe { libc::setns(a.init_pidfd.as_raw_fd(), join.bits()) } != 0 {
        return Err(std::io::Error::last_os_error()).context("join the container's namespaces");
    }
    if a.late_pidns {
        fork_in_pidns(&a.chan)?;
    }
    crate::failpoint!("exec-child.joined");
    if a.in_userns {
        child::become_userns_root()?;
    }
    nix::unistd::setsid().context("setsid")?;
    let p = &a.process;
    if p.terminal().unwrap_or(false) {
        let sock = a.console.as_ref().context("--tty needs a console socket")?;
        crate::tty::setup_console(sock, p.console_size().as_ref(), false, p.user().uid())?;
    }
    let exec = child::prepare(&child::Setup {
        process: p,
        chan: &a.chan,
        seccomp: a.seccomp.as_ref(),
        in_userns: a.in_userns,
        keyring: None,
        parent_listens_at_exec: true,
        cwd: child::Cwd::Safe,
        extra_env: &[],
        extras: child::Extras {
            personality: a.personality.as_ref(),
            memory_policy: a.memory_policy.as_ref(),
            affinity: exec_affinity(p),
        },
    })?;
    crate::failpoint!("exec-child.prepared");
    // The parent-death signal survives execve: the process outlives `exec -d`.
    attrs::prctl(libc::PR_SET_PDEATHSIG, 0)?;
    // The sync socket is close-on-exec: the parent sees EOF once we are exec'd.
    exec.exec(&a.chan)
}

/// A joined pid namespace only takes children: fork the process that will
/// exec beside us (CLONE_PARENT, so `exec` stays its parent), report its
/// pid, and leave.
fn fork_in_pidns(chan: &Channel) -> Result<()> {
    match crate::process::clone::fork_sibling()? {
        crate::process::clone::Forked::Child => {
            attrs::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong)?;
            attrs::prctl(libc::PR_SET_DUMPABLE, 0)?;
            Ok(())
        }
        crate::process::clone::Forked::Parent { pid, .. } => {
            if let Err(e) = chan.send(&Msg::Forked { pid: pid.as_raw() }) {
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                return Err(e).context("report the forked process");
            }
            // SAFETY: the intermediate leaves without running destructors.
            unsafe { libc::_exit(0) }
        }
    }
}
