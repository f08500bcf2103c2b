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
pub fn mark_cloexec_from(first: u32) -> Result<()> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes fd flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return Ok(());
    }
    // Before Linux 5.11 (no CLOSE_RANGE_CLOEXEC): one fd at a time. Never
    // exec with a host fd open (CVE-2024-21626).
    let close_range_err = std::io::Error::last_os_error();
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .with_context(|| format!("mark inherited fds close-on-exec ({close_range_err})"))?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= first as i32)
        .collect();
    for fd in fds {
        // SAFETY: fcntl on an fd number; a closed one (the listing's own) fails with EBADF.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EBADF) {
                return Err(e).with_context(|| format!("mark fd {fd} close-on-exec"));
            }
        }
    }
    Ok(())
}

pub fn set_rlimits(p: &oci_spec::runtime::Process) -> Result<()> {
    for r in p.rlimits().iter().flatten() {
        let lim = libc::rlimit {
            rlim_cur: r.soft(),
            rlim_max: r.hard(),
        };
        // SAFETY: prlimit on ourselves with a valid struct.
        if unsafe { libc::prlimit(0, rlimit_resource(r.typ()), &lim, std::ptr::null_mut()) } != 0 {
            return Err(std::io::Error::last_os_error()).with_context(|| {
                format!("setrlimit {} soft {} hard {}", r.typ(), r.soft(), r.hard())
            });
        }
    }
    Ok(())
}

/// Every type the spec knows, matched exhaustively: a new one is a compile
/// error here, never a silent stand-in.
pub fn rlimit_resource(t: oci_spec::runtime::PosixRlimitType) -> libc::__rlimit_resource_t {
    use oci_spec::runtime::PosixRlimitType as R;
    match t {
        R::RlimitCpu => libc::RLIMIT_CPU,
        R::RlimitFsize => libc::RLIMIT_FSIZE,
        R::RlimitData => libc::RLIMIT_DATA,
        R::RlimitStack => libc::RLIMIT_STACK,
        R::RlimitCore => libc::RLIMIT_CORE,
        R::RlimitRss => libc::RLIMIT_RSS,
        R::RlimitNproc => libc::RLIMIT_NPROC,
        R::RlimitNofile => libc::RLIMIT_NOFILE,
        R::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        R::RlimitAs => libc::RLIMIT_AS,
        R::RlimitLocks => libc::RLIMIT_LOCKS,
        R::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        R::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        R::RlimitNice => libc::RLIMIT_NICE,
        R::RlimitRtprio => libc::RLIMIT_RTPRIO,
        R::RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

/// Groups, gid, uid (keeping capabilities across the uid change), then the
/// capability sets.
pub fn switch_user(p: &oci_spec::runtime::Process, in_userns: bool) -> Result<()> {
    // No capabilities object: no capabilities at all (runc does the same),
    // never root's full set.
    let none = || {
        let mut c = oci_spec::runtime::LinuxCapabilities::default();
        c.set_bounding(None);
        c.set_effective(None);
        c.set_inheritable(None);
        c.set_permitted(None);
        c.set_ambient(None);
        c
    };
    let owned = p.capabilities().clone().unwrap_or_else(none);
    let caps = Some(&owned);
    if let Some(c) = caps {
        crate::caps::drop_bounding(c)?;
    }
    let u = p.user();
    let groups: Vec<Gid> = u
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    if let Err(e) = nix::unistd::setgroups(&groups) {
        // With setgroups denied in a user namespace only an empty list is moot.
        // So with setgroups denied in the user namespace we run in (tong
        // called inside `unshare --user --map-root-user`, rootless Podman).
        let denied =
            std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny");
        if !((in_userns || denied) && groups.is_empty()) {
            return Err(e).context("setgroups");
        }
    }
    let gid = Gid::from_raw(u.gid());
    nix::unistd::setresgid(gid, gid, gid).with_context(|| format!("setgid {}", u.gid()))?;
    prctl(libc::PR_SET_KEEPCAPS, 1)?;
    let uid = Uid::from_raw(u.uid());
    nix::unistd::setresuid(uid, uid, uid).with_context(|| format!("setuid {}", u.uid()))?;
    // (uid_t)-1 means "unchanged" to setresuid: make sure we really switched.
    let r = nix::unistd::getresuid()?;
    let g = nix::unistd::getresgid()?;
    if r.real != uid || r.effective != uid || g.real != gid || g.effective != gid {
        anyhow::bail!("failed to switch to uid {} gid {}", u.uid(), u.gid());
    }
    prctl(libc::PR_SET_KEEPCAPS, 0)?;
    if let Some(c) = caps {
        crate::caps::apply(c)?;
    }
    Ok(())
}

/// process.ioPriority through ioprio_set(IOPRIO_WHO_PROCESS, self).
pub fn set_io_priority(p: &oci_spec::runtime::Process) -> Result<()> {
    use oci_spec::runtime::IOPriorityClass as C;
    let Some(io) = p.io_priority() else {
        return Ok(());
    };
    let class = match io.class() {
        C::IoprioClassRt => 1,
        C::IoprioClassBe => 2,
        C::IoprioClassIdle => 3,
    };
    // Levels are 0 (highest) to 7; anything else is refused, never masked
    // into another level (bundle.rs refuses it before the fork already).
    if !(0..=7).contains(&io.priority()) {
        anyhow::bail!(
            "process.ioPriority.priority {} is out of range (0 to 7)",
            io.priority()
        );
    }
    let value = (class << 13) | io.priority();
    // SAFETY: plain syscall with integer arguments.
    if unsafe { libc::syscall(libc::SYS_ioprio_set, 1, 0, value) } != 0 {
        return Err(std::io::Error::last_os_error()).context("set io priority");
    }
    Ok(())
}

#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

/// process.scheduler through sched_setattr(2).
pub fn set_scheduler(p: &oci_spec::runtime::Process) -> Result<()> {
    use oci_spec::runtime::{LinuxSchedulerFlag as F, LinuxSchedulerPolicy as P};
    let Some(s) = p.scheduler() else {
        return Ok(());
    };
    let policy = match s.policy() {
        P::SchedOther => 0,
        P::SchedFifo => 1,
        P::SchedRr => 2,
        P::SchedBatch => 3,
        P::SchedIso => 4,
        P::SchedIdle => 5,
        P::SchedDeadline => 6,
    };
    let mut flags = 0u64;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            F::SchedResetOnFork => 0x01,
            F::SchedFlagReclaim => 0x02,
            F::SchedFlagDLOverrun => 0x04,
            F::SchedFlagKeepPolicy => 0x08,
            F::SchedFlagKeepParams => 0x10,
            F::SchedFlagUtilClampMin => 0x20,
            F::SchedFlagUtilClampMax => 0x40,
        };
    }
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy,
        flags,
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
    };
    // SAFETY: sched_setattr on ourselves with a valid struct.
    if unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) } != 0 {
        return Err(std::io::Error::last_os_error()).context("set scheduler");
    }
    Ok(())
}

/// AppArmor profile and SELinux label for the next execve. A SELinux label
/// where SELinux is off was refused before the fork (`validate::selinux_label`).
/// `init`: runc's init names the failing step, its exec does not.
pub fn set_lsm_labels(p: &oci_spec::runtime::Process, init: bool) -> Result<()> {
    if let Some(profile) = p.apparmor_profile().as_deref().filter(|s| !s.is_empty()) {
        // As runc (1.1 to 1.4): the profile is asked for whether or not AppArmor
        // is there, so a host without it refuses the container.
        let at = if std::path::Path::new("/proc/self/attr/apparmor/exec").exists() {
            "/proc/self/attr/apparmor/exec"
        } else {
            "/proc/self/attr/exec"
        };
        let r = std::fs::write(at, format!("exec {profile}"))
            .with_context(|| format!("write {at}"))
            .context("apparmor failed to apply profile");
        if init {
            r.context("unable to apply apparmor profile")?;
        } else {
            r?;
        }
    }
    if let Some(label) = p.selinux_label().as_deref().filter(|s| !s.is_empty()) {
        std::fs::write("/proc/self/attr/exec", label)
            .with_context(|| format!("apply selinux label {label}"))?;
    }
    Ok(())
}

/// Unblocks every signal and gives each its default action: the container must
/// not inherit `run`'s blocked mask or tong's ignored SIGPIPE.
pub fn reset_signals() -> Result<()> {
    nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    )
    .context("unblock signals")?;
    for sig in 1..=64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            set_action(sig, libc::SIG_DFL)?;
        }
    }
    Ok(())
}

/// Signals a waiting init dies of, as runc's (Go) init does: Go's runtime
/// handles every signal, exits on these and ignores the others it handles,
/// so `kill` of a created container (SIGTERM by default) stops it even as
/// pid 1 of its own pid namespace, where a signal without a handler is dropped.
const DIE_ON: [libc::c_int; 12] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGILL,
    libc::SIGTRAP,
    libc::SIGABRT,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGSEGV,
    libc::SIGTERM,
    libc::SIGSTKFLT,
    libc::SIGSYS,
];
/// Signals Go's runtime catches and, without a listener, drops.
const IGNORE: [libc::c_int; 10] = [
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGPIPE,
    libc::SIGALRM,
    libc::SIGXCPU,
    libc::SIGXFSZ,
    libc::SIGVTALRM,
    libc::SIGPROF,
    libc::SIGIO,
    libc::SIGPWR,
];

/// The init while it waits for `start`: runc's init's dispositions (see
/// `DIE_ON`). `signals_after_created` undoes this before the user process runs.
pub fn signals_while_created() -> Result<()> {
    extern "C" fn die(sig: libc::c_int) {
        // As Go's dieFromSignal: default action, unblocked, raised again; as
        // pid 1 of a pid namespace that is dropped too, so exit 2 as Go does.
        // SAFETY: async-signal-safe calls only.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::raise(sig);
            libc::_exit(2);
        }
    }
    for sig in DIE_ON {
        set_action(sig, die as extern "C" fn(libc::c_int) as usize)?;
    }
    for sig in IGNORE
        .into_iter()
        .chain(libc::SIGRTMIN()..=libc::SIGRTMAX())
    {
        set_action(sig, libc::SIG_IGN)?;
    }
    Ok(())
}

/// Undoes `signals_while_created`: only the actions it changed (the mask is
/// still empty), so a start costs no second sweep of all 64.
pub fn signals_after_created() -> Result<()> {
    for sig in DIE_ON
        .into_iter()
        .chain(IGNORE)
        .chain(libc::SIGRTMIN()..=libc::SIGRTMAX())
    {
        set_action(sig, libc::SIG_DFL)?;
    }
    Ok(())
}

/// The kernel's sigaction, so glibc's reserved signals (32, 33) are reached too.
fn set_action(sig: libc::c_int, handler: usize) -> Result<()> {
    #[repr(C)]
    struct KSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    // SA_RESTORER with glibc's restorer is what libc's sigaction adds; a raw
    // handler needs a restorer to return, so catching handlers go through libc.
    if handler != libc::SIG_DFL && handler != libc::SIG_IGN {
        // SAFETY: a valid sigaction for a valid signal number.
        let r = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        return if r == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
                .with_context(|| format!("set the action of signal {sig}"))
        };
    }
    let act = KSigaction {
        handler,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: rt_sigaction with a valid struct and the kernel's sigset size.
    let r = unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            &act as *const KSigaction,
            0usize,
            8usize,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("set the action of signal {sig}"));
    }
    Ok(())
}

/// runc adds HOME from the container's /etc/passwd when the config has none.
pub fn with_home(mut env: Vec<String>, uid: u32) -> Vec<String> {
    if env.iter().any(|e| e.starts_with("HOME=")) {
        return env;
    }
    let home = crate::passwd::by_uid(uid).map_or_else(|| "/".to_string(), |e| e.home);
    env.push(format!("HOME={home}"));
    env
}

/// chdir to `cwd` resolved inside our root with no magic links, so neither a
/// leaked fd (`/proc/self/fd/N`, CVE-2024-21626) nor a symlink planted by the
/// image can put the process in a host directory.
pub fn safe_chdir(cwd: &std::path::Path) -> Result<()> {
    use std::os::fd::{AsFd, AsRawFd};
    let root = std::fs::File::open("/").context("open /")?;
    let dir = crate::safe_fs::open_in_root(root.as_fd(), cwd, libc::O_PATH | libc::O_DIRECTORY)
        .with_context(|| {
            format!(
                "chdir to cwd ({}) set in config.json failed",
                crate::logging::go_quote(&cwd.to_string_lossy())
            )
        })?;
    nix::unistd::fchdir(dir.as_raw_fd())
        .with_context(|| format!("chdir to cwd ({})", cwd.display()))?;
    Ok(())
}
