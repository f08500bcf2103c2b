//! The child of `exec`: born in the container's pid namespace (the parent stood
//! in it for the clone), it joins the init's other namespaces through a pidfd in
//! one setns, takes on the process attributes and execs. Until execve it is not
//! dumpable, so nothing in the container can reach it or the tong binary.

use crate::process::attrs;
use crate::sync::{Channel, Msg};
use anyhow::{Context, Result};
use nix::sched::CloneFlags;
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::Process;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

pub struct ExecChildArgs<'a> {
    pub chan: Channel,
    pub init_pidfd: OwnedFd,
    /// Namespaces to join (never pid: the parent handled it).
    pub join: CloneFlags,
    pub in_userns: bool,
    pub process: Process,
    pub console: Option<OwnedFd>,
    pub keep_fds: u32,
    pub seccomp: Option<tong_seccomp::Filter>,
    /// The v1 cgroups to move into first thing (else the parent put us there).
    pub cgroup: Option<&'a crate::cgroups::SelfJoin>,
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
    attrs::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong)?;
    attrs::prctl(libc::PR_SET_DUMPABLE, 0)?;
    attrs::mark_cloexec_from(3 + a.keep_fds);
    attrs::reset_signals();
    if let Some(cg) = a.cgroup {
        cg.join_self()?;
    }
    match a.chan.expect("joining the container")? {
        Msg::Proceed => {}
        m => anyhow::bail!("unexpected message {m}"),
    }
    // SAFETY: setns(2) on a pidfd with namespace flags.
    if unsafe { libc::setns(a.init_pidfd.as_raw_fd(), a.join.bits()) } != 0 {
        return Err(std::io::Error::last_os_error()).context("join the container's namespaces");
    }
    if a.in_userns {
        let _ = nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0));
        let _ = nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0));
    }
    nix::unistd::setsid().context("setsid")?;
    let p = &a.process;
    if p.terminal().unwrap_or(false) {
        let sock = a.console.as_ref().context("--tty needs a console socket")?;
        let pty = crate::tty::open()?;
        if let Some(b) = p.console_size() {
            crate::tty::set_size(pty.master.as_raw_fd(), b.height() as u16, b.width() as u16);
        }
        crate::tty::send_fd(sock.as_raw_fd(), pty.master.as_raw_fd(), "/dev/ptmx")?;
        crate::tty::make_controlling(&pty.slave)?;
    }
    attrs::set_rlimits(p)?;
    attrs::set_io_priority(p)?;
    attrs::set_scheduler(p)?;
    attrs::set_lsm_labels(p)?;
    if let Some(umask) = p.user().umask() {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask));
    }
    let nnp = p.no_new_privileges().unwrap_or(false);
    if nnp {
        attrs::prctl(libc::PR_SET_NO_NEW_PRIVS, 1)?;
    }
    if let (Some(f), false) = (&a.seccomp, nnp) {
        install_seccomp(&a.chan, f)?;
    }
    attrs::switch_user(p, a.in_userns)?;
    attrs::safe_chdir(p.cwd())?;
    let env = attrs::with_home(p.env().clone().unwrap_or_default(), p.user().uid());
    let args = p.args().clone().unwrap_or_default();
    let arg0 = args.first().context("exec args cannot be empty")?;
    let path = crate::process::lookup::find(arg0, &env)?;
    let cs = |s: &String| {
        CString::new(s.as_str())
            .with_context(|| format!("NUL byte in {}", crate::logging::go_quote(s)))
    };
    let argv: Vec<CString> = args.iter().map(cs).collect::<Result<_>>()?;
    let envp: Vec<CString> = env.iter().map(cs).collect::<Result<_>>()?;
    let path = CString::new(path.as_os_str().as_encoded_bytes())?;
    if let (Some(f), true) = (&a.seccomp, nnp) {
        install_seccomp(&a.chan, f)?;
    }
    // The parent-death signal survives execve: the process outlives `exec -d`.
    attrs::prctl(libc::PR_SET_PDEATHSIG, 0)?;
    // The sync socket is close-on-exec: the parent sees EOF once we are exec'd.
    let e = nix::unistd::execve(&path, &argv, &envp).unwrap_err();
    Err(e).with_context(|| format!("exec {}", crate::logging::go_quote(&path.to_string_lossy())))
}

fn install_seccomp(chan: &Channel, f: &tong_seccomp::Filter) -> Result<()> {
    if let Some(fd) = f.install().context("install seccomp filter")? {
        chan.send_fd(&Msg::SeccompListener, fd.as_raw_fd())?;
    }
    Ok(())
}
