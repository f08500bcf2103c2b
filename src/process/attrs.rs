//! Process attributes shared by the container's init and `exec`: rlimits,
//! user and groups, capabilities, inherited fds, prctl.

use anyhow::{Context, Result};
use nix::unistd::{Gid, Uid};

pub fn prctl(op: libc::c_int, arg: libc::c_ulong) -> Result<()> {
    // SAFETY: plain prctl with integer arguments.
    if unsafe { libc::prctl(op, arg, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("prctl({op})"));
    }
    Ok(())
}

/// Marks every inherited fd from `first` close-on-exec: callers leak sockets
/// (the shim's fd 3, podman's fd 5) that must not reach the container.
pub fn mark_cloexec_from(first: u32) {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes fd flags.
    unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
}

pub fn set_rlimits(p: &oci_spec::runtime::Process) -> Result<()> {
    for r in p.rlimits().iter().flatten() {
        let res = rlimit_resource(&format!("{:?}", r.typ()));
        let lim = libc::rlimit {
            rlim_cur: r.soft(),
            rlim_max: r.hard(),
        };
        // SAFETY: prlimit on ourselves with a valid struct.
        if unsafe { libc::prlimit(0, res, &lim, std::ptr::null_mut()) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("setrlimit {:?} soft {} hard {}", r.typ(), r.soft(), r.hard()));
        }
    }
    Ok(())
}

fn rlimit_resource(name: &str) -> libc::__rlimit_resource_t {
    match name {
        "RlimitCpu" => libc::RLIMIT_CPU,
        "RlimitFsize" => libc::RLIMIT_FSIZE,
        "RlimitData" => libc::RLIMIT_DATA,
        "RlimitStack" => libc::RLIMIT_STACK,
        "RlimitCore" => libc::RLIMIT_CORE,
        "RlimitRss" => libc::RLIMIT_RSS,
        "RlimitNproc" => libc::RLIMIT_NPROC,
        "RlimitNofile" => libc::RLIMIT_NOFILE,
        "RlimitMemlock" => libc::RLIMIT_MEMLOCK,
        "RlimitAs" => libc::RLIMIT_AS,
        "RlimitLocks" => libc::RLIMIT_LOCKS,
        "RlimitSigpending" => libc::RLIMIT_SIGPENDING,
        "RlimitMsgqueue" => libc::RLIMIT_MSGQUEUE,
        "RlimitNice" => libc::RLIMIT_NICE,
        "RlimitRtprio" => libc::RLIMIT_RTPRIO,
        _ => libc::RLIMIT_RTTIME,
    }
}

/// Groups, gid, uid (keeping capabilities across the uid change), then the
/// capability sets.
pub fn switch_user(p: &oci_spec::runtime::Process, in_userns: bool) -> Result<()> {
    let caps = p.capabilities().as_ref();
    if let Some(c) = caps {
        crate::caps::drop_bounding(c)?;
    }
    let u = p.user();
    let groups: Vec<Gid> = u.additional_gids().iter().flatten().map(|g| Gid::from_raw(*g)).collect();
    if let Err(e) = nix::unistd::setgroups(&groups) {
        // With setgroups denied in a user namespace only an empty list is moot.
        if !(in_userns && groups.is_empty()) {
            return Err(e).context("setgroups");
        }
    }
    let gid = Gid::from_raw(u.gid());
    nix::unistd::setresgid(gid, gid, gid).with_context(|| format!("setgid {}", u.gid()))?;
    prctl(libc::PR_SET_KEEPCAPS, 1)?;
    let uid = Uid::from_raw(u.uid());
    nix::unistd::setresuid(uid, uid, uid).with_context(|| format!("setuid {}", u.uid()))?;
    prctl(libc::PR_SET_KEEPCAPS, 0)?;
    if let Some(c) = caps {
        crate::caps::apply(c)?;
    }
    Ok(())
}
