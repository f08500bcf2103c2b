//! The container's init: forked by `create`, it sets the container up step by
//! step (order matters; see ARCHITECTURE.md), reports Ready, waits for `start`,
//! and execs the user process. Any error is sent to the parent and ends it.

use crate::bundle::Plan;
use crate::hooks;
use crate::process::attrs;
use crate::rootfs;
use crate::sync::{Channel, Msg};
use anyhow::{Context, Result};
use nix::sched::{setns, unshare, CloneFlags};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::LinuxNamespaceType as T;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

pub struct InitArgs<'a> {
    pub plan: &'a Plan,
    pub id: &'a str,
    pub chan: Channel,
    /// Listening socket `start` connects to.
    pub start_sock: OwnedFd,
    /// Connected console socket, with process.terminal.
    pub console: Option<OwnedFd>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// fds 3.. that are handed to the container as they are.
    pub keep_fds: u32,
    pub extra_env: Vec<String>,
    /// linux.seccomp, compiled by the parent before the fork.
    pub seccomp: Option<tong_seccomp::Filter>,
    /// The v1 cgroups to move into first thing (else the parent put us there).
    pub cgroup: Option<&'a crate::cgroups::SelfJoin>,
}

/// Whether the init asks the parent to run hooks (and so learns the state JSON).
pub fn needs_hook_sync(plan: &Plan) -> bool {
    plan.spec.hooks().as_ref().is_some_and(|h| {
        [
            h.prestart(),
            h.create_runtime(),
            h.create_container(),
            h.start_container(),
        ]
        .iter()
        .any(|v| v.as_ref().is_some_and(|v| !v.is_empty()))
    })
}

pub fn run(a: InitArgs) -> ! {
    let err = match setup(&a) {
        Ok(exec) => match wait_and_exec(&a, exec) {
            Ok(never) => match never {},
            Err(e) => e,
        },
        Err(e) => {
            let _ = a.chan.send(&Msg::Error(format!("{e:#}")));
            // SAFETY: leave without running the parent's atexit handlers or destructors.
            unsafe { libc::_exit(1) }
        }
    };
    // After Ready the parent is gone: stderr is all we have.
    eprintln!("tong init: {err:#}");
    // SAFETY: as above.
    unsafe { libc::_exit(127) }
}

/// What is left to do once `start` arrives.
struct Exec {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    state: String,
    seccomp: Option<tong_seccomp::Filter>,
}

fn setup(a: &InitArgs) -> Result<Exec> {
    let plan = a.plan;
    // If create dies before we are ready, so do we.
    attrs::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong)?;
    // Not dumpable until execve: nothing in the container may ptrace us or open
    // our /proc files (CVE-2016-9962, CVE-2019-5736).
    attrs::prctl(libc::PR_SET_DUMPABLE, 0)?;
    attrs::mark_cloexec_from(3 + a.keep_fds);
    attrs::reset_signals();
    if let Some(cg) = a.cgroup {
        cg.join_self()?;
    }
    match a.chan.expect("setup")? {
        Msg::Proceed => {}
        m => anyhow::bail!("unexpected message {m}"),
    }
    join_late_namespaces(a)?;
    if let Some(h) = plan.spec.hostname().as_ref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).context("sethostname")?;
    }
    if let Some(d) = plan.spec.domainname().as_ref().filter(|d| !d.is_empty()) {
        // SAFETY: pointer and length of a live string.
        if unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) } != 0 {
            return Err(std::io::Error::last_os_error()).context("setdomainname");
        }
    }
    let new_mnt = plan.ns.is_new(T::Mount);
    if new_mnt {
        rootfs::prepare(plan)?;
    }
    let mut state = String::new();
    if needs_hook_sync(plan) {
        a.chan.send(&Msg::RunHooks)?;
        match a.chan.expect("hooks")? {
            Msg::HooksDone { state: s } => state = s,
            m => anyhow::bail!("unexpected message {m}"),
        }
        let h = plan.spec.hooks().as_ref();
        hooks::run_all(
            "createContainer",
            h.and_then(|h| h.create_container().as_ref()),
            &state,
        )?;
    }
    if new_mnt {
        rootfs::enter(plan, a.no_pivot)?;
    } else {
        nix::unistd::chdir(&plan.rootfs).context("chdir rootfs")?;
        nix::unistd::chroot(".").context("chroot")?;
    }
    nix::unistd::setsid().context("setsid")?;
    if plan.terminal() {
        console(a)?;
    }
    let p = plan.process();
    let cwd = p.cwd();
    {
        // One handle on the new `/` for the cwd (made before the root may turn
        // read-only) and the finishing mounts.
        let root = std::fs::File::open("/")?;
        crate::safe_fs::ensure_dir(root.as_fd(), cwd, 0o755)
            .with_context(|| format!("create cwd {}", cwd.display()))?;
        if new_mnt {
            rootfs::finish(plan, root.as_fd())?;
        }
    }
    attrs::set_rlimits(p)?;
    attrs::set_io_priority(p)?;
    attrs::set_scheduler(p)?;
    attrs::set_lsm_labels(p)?;
    if !a.no_new_keyring {
        // A fresh session keyring named as runc names it, so the container
        // can't see the host's keys.
        if let Ok(name) = CString::new(format!("_ses.{}", a.id)) {
            // SAFETY: keyctl(JOIN_SESSION_KEYRING, name) with a live C string.
            unsafe { libc::syscall(libc::SYS_keyctl, 1, name.as_ptr()) };
        }
    }
    if let Some(umask) = p.user().umask() {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask));
    }
    let nnp = p.no_new_privileges().unwrap_or(false);
    if nnp {
        attrs::prctl(libc::PR_SET_NO_NEW_PRIVS, 1)?;
    }
    // Without no_new_privs installing a filter needs CAP_SYS_ADMIN: do it before
    // the user switch. With it, as late as possible (just before execve), unless
    // a NOTIFY listener must still reach the parent.
    let late_seccomp = match &a.seccomp {
        Some(f) if nnp && !f.uses_notify() => Some(f.clone()),
        Some(f) => {
            install_seccomp(a, f)?;
            None
        }
        None => None,
    };
    attrs::switch_user(p, plan.ns.has(T::User))?;
    nix::unistd::chdir(cwd)
        .with_context(|| format!("chdir to cwd ({}) set in config.json", cwd.display()))?;
    let mut env: Vec<String> = p.env().clone().unwrap_or_default();
    env.extend(a.extra_env.iter().cloned());
    let env = attrs::with_home(env, p.user().uid());
    let args = p.args().as_ref().expect("validated args");
    let path = crate::process::lookup::find(&args[0], &env)?;
    let cs = |s: &str| {
        CString::new(s).with_context(|| format!("NUL byte in {}", crate::logging::go_quote(s)))
    };
    let exec = Exec {
        path: CString::new(path.as_os_str().as_encoded_bytes())?,
        argv: args.iter().map(|s| cs(s)).collect::<Result<_>>()?,
        envp: env.iter().map(|s| cs(s)).collect::<Result<_>>()?,
        state,
        seccomp: late_seccomp,
    };
    attrs::prctl(libc::PR_SET_PDEATHSIG, 0)?;
    a.chan.send(&Msg::Ready)?;
    Ok(exec)
}

fn wait_and_exec(a: &InitArgs, exec: Exec) -> Result<std::convert::Infallible> {
    // Block until `start` connects and says go.
    let conn = loop {
        let conn = match nix::sys::socket::accept4(
            a.start_sock.as_raw_fd(),
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        ) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("wait for start"),
        };
        let mut b = [0u8; 1];
        // The connection stays open (close-on-exec) so `start` sees our execve.
        if matches!(nix::unistd::read(conn, &mut b), Ok(1)) {
            break conn;
        }
    };
    let h = a.plan.spec.hooks().as_ref();
    if let Err(e) = hooks::run_all(
        "startContainer",
        h.and_then(|h| h.start_container().as_ref()),
        &exec.state,
    ) {
        // `start` reads this and fails with it.
        let _ = nix::unistd::write(
            unsafe { std::os::fd::BorrowedFd::borrow_raw(conn) },
            format!("{e:#}").as_bytes(),
        );
        return Err(e);
    }
    if let Some(f) = &exec.seccomp {
        f.install().context("install seccomp filter")?;
    }
    let e = nix::unistd::execve(&exec.path, &exec.argv, &exec.envp).unwrap_err();
    Err(e).with_context(|| {
        format!(
            "exec {}",
            crate::logging::go_quote(&exec.path.to_string_lossy())
        )
    })
}

/// The user namespace (joined or id-mapped), then the namespaces the init makes
/// itself: time (offsets first) and cgroup (now that we are in our cgroup).
fn join_late_namespaces(a: &InitArgs) -> Result<()> {
    let plan = a.plan;
    let ns = &plan.ns;
    if let Some(path) = ns.get(T::User).and_then(|n| n.path.as_ref()) {
        let f = std::fs::File::open(path)
            .with_context(|| format!("open user namespace {}", path.display()))?;
        setns(f.as_fd(), CloneFlags::CLONE_NEWUSER).context("join user namespace")?;
        unshare(ns.clone_flags()).context("unshare namespaces")?;
        if ns.is_new(T::Pid) {
            fork_real_init(a)?;
        }
    }
    if ns.has(T::User) {
        // Become the namespace's root so the setup below is privileged there.
        let _ = nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0));
        let _ = nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0));
    }
    if ns.is_new(T::Time) {
        unshare(CloneFlags::from_bits_retain(libc::CLONE_NEWTIME))
            .context("unshare time namespace")?;
        let offsets = plan.linux().and_then(|l| l.time_offsets().as_ref());
        let mut data = String::new();
        for (clock, o) in offsets.into_iter().flatten() {
            data.push_str(&format!(
                "{clock} {} {}\n",
                o.secs().unwrap_or(0),
                o.nanosecs().unwrap_or(0)
            ));
        }
        if !data.is_empty() {
            std::fs::write("/proc/self/timens_offsets", &data).with_context(|| {
                format!("write time offsets {}", crate::logging::go_quote(&data))
            })?;
        }
        let f = std::fs::File::open("/proc/self/ns/time_for_children")?;
        setns(f.as_fd(), CloneFlags::from_bits_retain(libc::CLONE_NEWTIME))
            .context("enter time namespace")?;
    }
    if ns.is_new(T::Cgroup) {
        unshare(CloneFlags::CLONE_NEWCGROUP).context("unshare cgroup namespace")?;
    }
    Ok(())
}

fn console(a: &InitArgs) -> Result<()> {
    let sock = a
        .console
        .as_ref()
        .context("process.terminal is set but no --console-socket was given")?;
    let pty = crate::tty::open()?;
    if let Some(b) = a.plan.process().console_size() {
        crate::tty::set_size(pty.master.as_raw_fd(), b.height() as u16, b.width() as u16);
    }
    // /dev/console is the pty, bound over a file we made (never the image's).
    if a.plan.ns.is_new(T::Mount) {
        let root = std::fs::File::open("/")?;
        let _ = nix::unistd::unlink("/dev/console");
        let target = crate::safe_fs::touch(root.as_fd(), std::path::Path::new("/dev/console"))?;
        nix::mount::mount(
            Some(crate::safe_fs::fd_path(&pty.slave).as_str()),
            crate::safe_fs::fd_path(&target).as_str(),
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        )
        .context("bind pty to /dev/console")?;
    }
    crate::tty::send_fd(sock.as_raw_fd(), pty.master.as_raw_fd(), "/dev/ptmx")?;
    crate::tty::make_controlling(&pty.slave)?;
    let _ = pty.number;
    Ok(())
}

/// Installs the filter; a NOTIFY listener goes to the parent, which hands it on.
fn install_seccomp(a: &InitArgs, f: &tong_seccomp::Filter) -> Result<()> {
    let listener = f.install().context("install seccomp filter")?;
    if let Some(fd) = listener {
        a.chan.send_fd(&Msg::SeccompListener, fd.as_raw_fd())?;
    }
    Ok(())
}

/// A new pid namespace owned by a joined user namespace only takes children:
/// this process forks the real init beside itself (CLONE_PARENT, so `create`
/// stays its parent), reports its pid and leaves.
fn fork_real_init(a: &InitArgs) -> Result<()> {
    match crate::process::clone::fork_sibling()? {
        crate::process::clone::Forked::Child => {
            attrs::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong)?;
            attrs::prctl(libc::PR_SET_DUMPABLE, 0)?;
            Ok(())
        }
        crate::process::clone::Forked::Parent { pid, .. } => {
            let _ = a.chan.send(&Msg::Forked { pid: pid.as_raw() });
            // SAFETY: the intermediate leaves without running destructors.
            unsafe { libc::_exit(0) }
        }
    }
}
