//! `create`: the parent side of the init's set-up. Makes the state dir (refusing a
//! duplicate id first), forks the init with clone3, places it in its cgroup,
//! writes its id maps, runs the runtime-namespace hooks when the init asks, and
//! exits once the init is ready. Any failure undoes all of it.

use super::Global;
use crate::bundle::{self, Plan};
use crate::cgroups::{self, Cgroup};
use crate::cli::CreateArgs;
use crate::namespaces::{self, ParentJoin};
use crate::process::clone::{clone3_into, Forked};
use crate::process::init::{self, InitArgs};
use crate::state::{Container, State, Status};
use crate::sync::{self, Msg};
use crate::{debug, hooks, paths};
use anyhow::{bail, Context, Result};
use nix::sys::socket::{
    bind, connect, listen, socket, AddressFamily, Backlog, SockFlag, SockType, UnixAddr,
};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxNamespaceType as T;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;

pub struct Created {
    pub container: Container,
    /// Our child until we exit: its pid can't be reused while unreaped.
    pub pid: Pid,
}

/// Undoes a half-made container: kills the init, removes the cgroup and state dir.
struct Cleanup {
    dir: PathBuf,
    cgroup: Option<Cgroup>,
    child: Option<(Pid, OwnedFd)>,
    armed: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some((pid, fd)) = self.child.take() {
            let _ = crate::signals::pidfd_send(&fd, libc::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
        if let Some(cg) = self.cgroup.take() {
            if let Err(e) = cg.remove_all() {
                crate::logging::warn(&format!("cleanup: {e:#}"));
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn oci_state_json(s: &State, status: Status, pid: i32) -> String {
    let mut v = serde_json::json!({
        "ociVersion": s.oci_version,
        "id": s.id,
        "status": status,
        "pid": pid,
        "bundle": s.bundle,
    });
    if !s.annotations.is_empty() {
        v["annotations"] = serde_json::json!(s.annotations);
    }
    v.to_string()
}

pub fn now_rfc3339_nano() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let s = crate::logging::rfc3339(d.as_secs() as i64, Some(d.subsec_nanos()));
    // Go's RFC3339Nano drops trailing zeros of the fraction, as runc prints it.
    let (head, frac) = s.trim_end_matches('Z').split_once('.').unwrap_or((&s, ""));
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{head}Z")
    } else {
        format!("{head}.{frac}Z")
    }
}

/// The start socket's address, through the state dir's fd: sun_path is too
/// short for deep roots with 64-character ids.
pub fn start_socket_addr(dir: &std::fs::File) -> Result<UnixAddr> {
    Ok(UnixAddr::new(
        format!(
            "/proc/self/fd/{}/{}",
            dir.as_raw_fd(),
            crate::paths::START_SOCK
        )
        .as_str(),
    )?)
}

fn start_socket(dir: &std::fs::File) -> Result<OwnedFd> {
    let s = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    bind(s.as_raw_fd(), &start_socket_addr(dir)?).context("bind start socket")?;
    listen(&s, Backlog::new(1)?).context("listen on start socket")?;
    Ok(s)
}

pub fn connect_console(path: &std::path::Path) -> Result<OwnedFd> {
    let s = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    connect(s.as_raw_fd(), &UnixAddr::new(path)?)
        .with_context(|| format!("connect to console socket {}", path.display()))?;
    Ok(s)
}

/// fds 3.. that go to the container: --preserve-fds plus systemd's LISTEN_FDS.
fn kept_fds(a: &CreateArgs) -> (u32, Vec<String>) {
    let listen: u32 = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let env = if listen > 0 {
        vec![format!("LISTEN_FDS={listen}"), "LISTEN_PID=1".to_string()]
    } else {
        Vec::new()
    };
    (a.preserve_fds + listen, env)
}

pub fn create(g: &Global, a: &CreateArgs, console_override: Option<OwnedFd>) -> Result<Created> {
    let plan = load_plan(g, a)?;
    create_planned(g, a, plan, console_override)
}

/// Checks the id and flags, then loads and validates the bundle.
pub fn load_plan(g: &Global, a: &CreateArgs) -> Result<Plan> {
    paths::validate_id(&a.id)?;
    if g.systemd_cgroup {
        bail!("--systemd-cgroup: systemd is not running on this host (use the cgroupfs manager)");
    }
    let plan = bundle::load(&a.bundle, &a.id)?;
    debug!(
        "bundle {} loaded, rootfs {}",
        plan.bundle.display(),
        plan.rootfs.display()
    );
    Ok(plan)
}

/// `create` of a loaded plan (`run` loads it first to see if it relays a terminal).
pub fn create_planned(
    g: &Global,
    a: &CreateArgs,
    plan: Plan,
    console_override: Option<OwnedFd>,
) -> Result<Created> {
    let console = match (plan.terminal(), console_override, &a.console_socket) {
        (true, Some(fd), _) => Some(fd),
        (true, None, Some(p)) => Some(connect_console(p)?),
        (true, None, None) => {
            bail!("cannot allocate tty if tong will detach without setting console socket")
        }
        (false, _, _) => None,
    };
    let state = State {
        id: a.id.clone(),
        oci_version: plan.spec.version().clone(),
        pid: 0,
        pid_start_time: 0,
        bundle: plan.bundle.clone(),
        rootfs: plan.rootfs.clone(),
        created: now_rfc3339_nano(),
        annotations: plan
            .spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        cgroup_path: plan.cgroup_path.clone(),
        owns_cgroup: true,
        hooks: plan.spec.hooks().clone(),
        created_ok: false,
        process: plan.spec.process().clone(),
        namespaces: plan.ns.list.iter().map(|n| n.typ).collect(),
        seccomp: plan.linux().and_then(|l| l.seccomp().clone()),
    };
    let mut c = Container::create_dir(&g.root, state)?;
    let mut guard = Cleanup {
        dir: c.dir.clone(),
        cgroup: None,
        child: None,
        armed: true,
    };
    let cg = guard
        .cgroup
        .insert(Cgroup::open(&plan.cgroup_path, &a.id, g.systemd_cgroup)?);
    let self_join = if self_join_possible(&plan) {
        cg.prepare_self_join(true)?
    } else {
        None
    };
    if self_join.is_some() {
        // The cgroup is complete before anyone is in it.
        apply_resources(&plan, cg)?;
    }
    let unified = self_join.as_ref().and_then(|s| s.unified_fd());
    let dir = std::fs::File::open(&c.dir)?;
    let start_sock = start_socket(&dir)?;
    let (parent, child) = sync::pair()?;
    let (keep_fds, extra_env) = kept_fds(a);
    let seccomp = compile_seccomp(&plan)?;

    let join = ParentJoin::enter(&plan.ns)?;
    let flags = if plan.ns.get(T::User).is_some_and(|n| n.path.is_some()) {
        // The init joins the user namespace first and unshares the rest itself.
        nix::sched::CloneFlags::empty()
    } else {
        plan.ns.clone_flags()
    };
    let forked = clone3_into(flags.bits() as u64, unified.as_ref().map(|f| f.as_fd()));
    if let Ok((Forked::Child, _)) = forked {
        // The state dir's flock must not live on in the init.
        drop((parent, c, dir));
        std::mem::forget(guard);
        init::run(InitArgs {
            plan: &plan,
            id: &a.id,
            chan: child,
            start_sock,
            console,
            no_pivot: a.no_pivot,
            no_new_keyring: a.no_new_keyring,
            keep_fds,
            extra_env,
            seccomp,
            cgroup: self_join.as_ref(),
        });
    }
    join.restore()?;
    let (Forked::Parent { mut pid, pidfd }, born_in_cgroup) = forked? else {
        unreachable!("the child never returns from init::run")
    };
    drop((child, start_sock, console));
    guard.child = Some((pid, pidfd));
    debug!("init forked as pid {pid}");

    drop(unified);
    let cg = guard.cgroup.as_ref().expect("opened above");
    match &self_join {
        Some(s) if !born_in_cgroup => s.join_unified(pid)?,
        Some(_) => {}
        None => {
            cg.add(pid)?;
            apply_resources(&plan, cg)?;
        }
    }
    if plan.ns.is_new(T::User) {
        let l = plan.linux().expect("validated linux");
        namespaces::write_id_maps(
            pid.as_raw(),
            l.uid_mappings().as_deref().unwrap_or(&[]),
            l.gid_mappings().as_deref().unwrap_or(&[]),
        )?;
    }
    if let Some(adj) = plan.process().oom_score_adj() {
        std::fs::write(format!("/proc/{pid}/oom_score_adj"), adj.to_string())
            .with_context(|| format!("set oom_score_adj {adj}"))?;
    }
    parent.send(&Msg::Proceed)?;
    loop {
        let (msg, fd) = parent
            .recv_with_fd()?
            .context("container init exited before it was ready")?;
        match msg {
            Msg::Error(e) => bail!("{e}"),
            Msg::Forked { pid: real } => {
                // The intermediate is done; the init it forked is ours now.
                let _ = nix::sys::wait::waitpid(pid, None);
                pid = Pid::from_raw(real);
                let fd = crate::signals::pidfd_open(real)?;
                guard.child = Some((pid, fd));
            }
            Msg::SeccompListener => {
                let fd = fd.context("seccomp listener message without an fd")?;
                send_seccomp_listener(&plan, &c.state, pid.as_raw(), &fd)?;
            }
            Msg::RunHooks => {
                let state = oci_state_json(&c.state, Status::Creating, pid.as_raw());
                let h = plan.spec.hooks().as_ref();
                hooks::run_all("prestart", h.and_then(|h| h.prestart().as_ref()), &state)?;
                hooks::run_all(
                    "createRuntime",
                    h.and_then(|h| h.create_runtime().as_ref()),
                    &state,
                )?;
                parent.send(&Msg::HooksDone { state })?;
            }
            Msg::Ready => break,
            m => bail!("unexpected message from init: {m}"),
        }
    }
    c.state.pid = pid.as_raw();
    c.state.pid_start_time =
        crate::state::start_time(pid.as_raw()).context("container init exited during create")?;
    c.state.created_ok = true;
    c.save()?;
    c.save_recovery()?;
    if let Some(f) = &a.pid_file {
        write_pid_file(f, pid.as_raw())?;
    }
    debug!("container {} created", a.id);
    guard.armed = false;
    let (pid, _pidfd) = guard.child.take().expect("set above");
    Ok(Created { container: c, pid })
}

fn compile_seccomp(plan: &Plan) -> Result<Option<tong_seccomp::Filter>> {
    let Some(cfg) = plan.linux().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(None);
    };
    let f = tong_seccomp::compile(cfg).map_err(|e| anyhow::anyhow!("linux.seccomp: {e}"))?;
    if !f.skipped_syscalls().is_empty() {
        debug!(
            "seccomp: unknown syscalls skipped: {}",
            f.skipped_syscalls().join(" ")
        );
    }
    Ok(Some(f))
}

/// runc's hand-over of the NOTIFY listener to linux.seccomp.listenerPath.
fn send_seccomp_listener(plan: &Plan, state: &State, pid: i32, fd: &OwnedFd) -> Result<()> {
    use std::os::fd::AsFd;
    let cfg = plan
        .linux()
        .and_then(|l| l.seccomp().as_ref())
        .context("seccomp listener without linux.seccomp")?;
    let path = cfg
        .listener_path()
        .as_ref()
        .context("linux.seccomp.listenerPath is not set")?;
    let st: serde_json::Value =
        serde_json::from_str(&oci_state_json(state, Status::Creating, pid))?;
    tong_seccomp::send_listener(
        path,
        fd.as_fd(),
        &st,
        cfg.listener_metadata().as_deref().unwrap_or(""),
    )
    .map_err(|e| anyhow::anyhow!("seccomp listener: {e}"))
}

/// The init can enter its cgroup itself (`Cgroup::prepare_self_join`) when it
/// starts in our user namespace, and our mount and cgroup namespaces show it
/// the same cgroup paths they show us.
fn self_join_possible(plan: &Plan) -> bool {
    !plan.ns.is_new(T::User)
        && [T::Mount, T::Cgroup]
            .iter()
            .all(|t| plan.ns.get(*t).is_none_or(|n| n.path.is_none()))
}

fn apply_resources(plan: &Plan, cg: &Cgroup) -> Result<()> {
    let l = plan.linux();
    let resources = l.and_then(|l| l.resources().clone()).unwrap_or_default();
    let devices = cgroups::device_rules(l.and_then(|l| l.devices().as_deref()).unwrap_or(&[]));
    cg.apply(&resources, &devices)?;
    cg.restrict_devices(&resources, &devices)
}

/// Written through a temp file and rename: callers poll for it.
pub fn write_pid_file(path: &std::path::Path, pid: i32) -> Result<()> {
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("pid")
    ));
    std::fs::write(&tmp, pid.to_string())
        .with_context(|| format!("write pid file {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("write pid file {}", path.display()))?;
    Ok(())
}
