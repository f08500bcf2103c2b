//! The container's init: forked by `create`, it sets the container up step by
//! step (order matters; see ARCHITECTURE.md), reports Ready, waits for `start`,
//! and execs the user process. Any error is sent to the parent and ends it.

use crate::bundle::Plan;
use crate::process::{attrs, child};
use crate::sync::{Channel, Msg};
use crate::{hooks, rootfs, start_socket};
use anyhow::{Context, Result};
use nix::sched::{setns, unshare, CloneFlags};
use oci_spec::runtime::LinuxNamespaceType as T;
use std::os::fd::{AsFd, OwnedFd};

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
    pub seccomp: Option<&'a tong_seccomp::Filter>,
    /// The v1 cgroups to move into first thing (else the parent put us there).
    pub cgroup: Option<&'a crate::cgroups::SelfJoin>,
    /// Namespaces joined by path that the parent left to us (it could not
    /// have returned from them): joined first thing after Proceed.
    pub deferred_joins: &'a [(std::fs::File, CloneFlags)],
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
    // After Ready the parent is gone: as runc's init, the bare error on the
    // container's stderr and exit status 1 (`run` reports nothing more).
    eprintln!("{}", crate::logging::go_style(&format!("{err:#}")));
    // SAFETY: as above.
    unsafe { libc::_exit(1) }
}

/// What is left to do once `start` arrives.
struct Ready {
    exec: child::Exec,
    /// The state the startContainer hooks get.
    state: String,
}

fn setup(a: &InitArgs) -> Result<Ready> {
    let plan = a.plan;
    let maps_pending = plan.ns.is_new(oci_spec::runtime::LinuxNamespaceType::User);
    // runc's rule (nsexec): an init that makes its namespaces and joins none
    // stays dumpable. With a user namespace of its own that matters: a
    // non-dumpable process's /proc/PID files belong to root of the user
    // namespace its memory was made in (the host's), so an unprivileged
    // caller could not read the created container's /proc/PID/ns/* (what
    // slirp4netns --configure PID and the tools that set up rootless
    // networking open), and the init itself could not write its own
    // /proc/self/timens_offsets (EACCES: rootless time namespaces failed).
    // Nothing of the container exists before this process, and whoever may
    // ptrace it may ptrace the caller; a namespace joined by path (someone
    // else's processes may be in it) keeps it non-dumpable.
    let dumpable = if !maps_pending {
        child::Dumpable::No
    } else if plan.ns.joins_any() {
        child::Dumpable::UntilMapped
    } else {
        child::Dumpable::Yes
    };
    child::begin(&a.chan, a.keep_fds, a.cgroup, "setup", dumpable)?;
    for (f, flag) in a.deferred_joins {
        setns(f.as_fd(), *flag).context("join a namespace by path")?;
    }
    crate::failpoint!("init.begin");
    join_late_namespaces(a)?;
    crate::failpoint!("init.namespaces");
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
    let trees = receive_mount_fds(a)?;
    if new_mnt {
        rootfs::prepare(plan, trees)?;
    }
    crate::failpoint!("init.mounts");
    let mut state = String::new();
    if needs_hook_sync(plan) {
        a.chan.send(&Msg::RunHooks)?;
        match a.chan.expect("hooks")? {
            Msg::HooksDone { pid } => {
                let annotations = plan.spec.annotations().clone().unwrap_or_default();
                state = crate::state::hook_json(
                    plan.spec.version(),
                    a.id,
                    crate::state::Status::Creating,
                    pid,
                    &plan.bundle,
                    &annotations.into_iter().collect(),
                );
            }
            m => anyhow::bail!("unexpected message {m}"),
        }
        let h = plan.spec.hooks().as_ref();
        hooks::run_all(
            "createContainer",
            h.and_then(|h| h.create_container().as_ref()),
            &state,
        )?;
        crate::failpoint!("init.hooks");
    }
    if new_mnt {
        rootfs::enter(plan, a.no_pivot)?;
    } else {
        nix::unistd::chdir(&plan.rootfs).context("chdir rootfs")?;
        nix::unistd::chroot(".").context("chroot")?;
    }
    nix::unistd::setsid().context("setsid")?;
    if plan.terminal() {
        let sock = a
            .console
            .as_ref()
            .context("process.terminal is set but no --console-socket was given")?;
        let p = plan.process();
        crate::tty::setup_console(sock, p.console_size().as_ref(), new_mnt, p.user().uid())?;
    }
    let p = plan.process();
    {
        // One handle on the new `/` for the cwd (made before the root may turn
        // read-only) and the finishing mounts.
        let root = std::fs::File::open("/")?;
        crate::safe_fs::ensure_dir(root.as_fd(), p.cwd(), 0o755)
            .with_context(|| format!("create cwd {}", p.cwd().display()))?;
        if new_mnt {
            rootfs::finish(plan, root.as_fd())?;
        }
    }
    crate::failpoint!("init.rootfs");
    let exec = child::prepare(&child::Setup {
        process: p,
        chan: &a.chan,
        seccomp: a.seccomp,
        in_userns: plan.ns.has(T::User),
        keyring: (!a.no_new_keyring).then_some(a.id),
        parent_listens_at_exec: false,
        cwd: child::Cwd::Plain,
        extra_env: &a.extra_env,
        extras: child::Extras {
            personality: plan.linux().and_then(|l| l.personality().as_ref()),
            memory_policy: plan.linux().and_then(|l| l.memory_policy().as_ref()),
            affinity: child::Affinity::Reset,
        },
    })?;
    crate::failpoint!("init.prepared");
    attrs::prctl(libc::PR_SET_PDEATHSIG, 0)?;
    // Logged through the fd opened before the fork: `/` is the container's.
    crate::debug!("init: ready in {}, waiting for start", a.id);
    a.chan.send(&Msg::Ready)?;
    Ok(Ready { exec, state })
}

/// The idmapped trees the parent sends right after Proceed (only a config
/// with idmapped mounts waits for any).
fn receive_mount_fds(a: &InitArgs) -> Result<rootfs::idmap::Prepared> {
    let want = a.plan.mounts.iter().filter(|m| m.idmap.is_some()).count();
    let mut got = Vec::with_capacity(want);
    while got.len() < want {
        match a.chan.recv_with_fds()? {
            Some((Msg::MountFds { mounts }, fds)) if mounts.len() == fds.len() => {
                got.extend(mounts.into_iter().zip(fds));
            }
            Some((Msg::Error(e), _)) => anyhow::bail!("{e}"),
            Some((m, _)) => anyhow::bail!("unexpected message {m} (waiting for mount fds)"),
            None => anyhow::bail!("parent exited before sending the idmapped mounts"),
        }
    }
    Ok(got)
}

fn wait_and_exec(a: &InitArgs, r: Ready) -> Result<std::convert::Infallible> {
    // The connection stays open (close-on-exec) so `start` sees our execve.
    attrs::signals_while_created()?;
    let conn = start_socket::wait_for_start(&a.start_sock)?;
    attrs::signals_after_created()?;
    let started = || -> Result<()> {
        crate::failpoint!("init.started");
        Ok(())
    };
    if let Err(e) = started() {
        start_socket::report_failure(conn.as_fd(), &format!("{e:#}"));
        return Err(e);
    }
    let h = a.plan.spec.hooks().as_ref();
    if let Err(e) = hooks::run_all(
        "startContainer",
        h.and_then(|h| h.start_container().as_ref()),
        &r.state,
    ) {
        // `start` reads this and fails with it.
        start_socket::report_failure(conn.as_fd(), &format!("{e:#}"));
        return Err(e);
    }
    r.exec.exec(&a.chan)
}

/// The user namespace (joined or id-mapped), then the namespaces the init makes
/// itself: ipc (as root of the user namespace), time (offsets first) and
/// cgroup (now that we are in our cgroup).
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
        child::become_userns_root()?;
    }
    if ns.ipc_late() {
        unshare(CloneFlags::CLONE_NEWIPC).context("unshare ipc namespace")?;
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
            if let Err(e) = a.chan.send(&Msg::Forked { pid: pid.as_raw() }) {
                // The parent would never learn of the real init: end it.
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                return Err(e).context("report the forked init");
            }
            // SAFETY: the intermediate leaves without running destructors.
            unsafe { libc::_exit(0) }
        }
    }
}
