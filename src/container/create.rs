//! The parent side of `create`, in steps a spawner composes (`Launch`): the
//! state dir (refusing a duplicate id first), the cgroup, placing the first
//! process, the runtime-namespace hooks, the recorded state and pid file.
//! One guard undoes whatever was made if any step fails.

use super::guard::Guard;
use super::spawn::{InitSpawner, Spawner};
use crate::bundle::{self, Plan};
use crate::cgroups::{self, Cgroup, SelfJoin};
use crate::state::{self, Container, State, Status};
use crate::{debug, hooks, namespaces, paths};
use anyhow::{bail, Context, Result};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxNamespaceType as T;
use std::os::fd::OwnedFd;
use std::path::Path;

/// What `create` (and `run`) are asked to do, apart from the bundle.
pub struct CreateOpts<'a> {
    pub root: &'a Path,
    pub id: &'a str,
    pub pid_file: Option<&'a Path>,
    pub console_socket: Option<&'a Path>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// --pidfd-socket: gets a pidfd of the init once it is ready.
    pub pidfd_socket: Option<&'a Path>,
    /// NOTIFY_SOCKET was given: the state dir gets the notify directory the
    /// plan binds at /run/notify (`notify::add_to_plan`).
    pub notify: bool,
    /// --rootless (runc's rootless cgroup manager): a cgroup the caller may
    /// not write is skipped, or refused if the config needs it
    /// (`rootless::cgroup_path`).
    pub rootless_cgroups: bool,
}

pub struct Created {
    pub container: Container,
    /// Our child until we exit: its pid can't be reused while unreaped.
    pub pid: Pid,
}

/// Checks the id and flags, then loads and validates the bundle.
/// `rootless_cgroups` (runc's rule, `rootless::cgroups`): with
/// --systemd-cgroup, the caller's systemd user instance instead of the
/// system one.
pub fn load_plan(
    bundle: &Path,
    id: &str,
    systemd_cgroup: bool,
    rootless_cgroups: bool,
) -> Result<Plan> {
    paths::validate_id(id)?;
    let mut plan = bundle::load(bundle, id)?;
    if systemd_cgroup {
        // runc's order: the cgroupsPath's form, then systemd itself.
        let raw = plan.linux().and_then(|l| l.cgroups_path().clone());
        let mut scope = cgroups::Scope::parse(raw.as_deref(), id, rootless_cgroups)?;
        if !crate::cgroups::SUPPORT.systemd || !cgroups::systemd::running() {
            bail!("systemd not running on this host, cannot use systemd cgroups manager");
        }
        if cgroups::Hierarchies::read().has_v1() {
            bail!("the systemd cgroup driver needs a cgroup v2 host");
        }
        if rootless_cgroups {
            scope = scope.in_user_instance(id)?;
        }
        plan.cgroup_path = scope.cgroup_path()?;
        plan.systemd = Some(scope);
    }
    debug!(
        "bundle {} loaded, rootfs {}",
        plan.bundle.display(),
        plan.rootfs.display()
    );
    Ok(plan)
}

/// `create` of a loaded plan: the init is forked with clone3 (`InitSpawner`).
/// `console` overrides --console-socket (`run` relaying the terminal itself).
pub fn create(o: &CreateOpts, plan: &Plan, console: Option<OwnedFd>) -> Result<Created> {
    let console = match (plan.terminal(), console, o.console_socket) {
        (true, Some(fd), _) => Some(fd),
        (true, None, Some(p)) => Some(crate::tty::connect_console(p)?),
        (true, None, None) => {
            bail!("cannot allocate tty if tong will detach without setting console socket")
        }
        // runc's checkTerminal: a socket that would never get a terminal is a mistake.
        (false, _, Some(_)) => {
            bail!("cannot use console socket if tong will not detach or allocate tty")
        }
        (false, _, None) => None,
    };
    create_with(o, plan, InitSpawner { console })
}

/// `create` with any way of making the container's first process.
pub fn create_with(o: &CreateOpts, plan: &Plan, spawner: impl Spawner) -> Result<Created> {
    let pidfd_sock = o
        .pidfd_socket
        .map(crate::pidfd_socket::connect_to)
        .transpose()?;
    let mut launch = Launch::begin(o, plan)?;
    let pid = spawner.spawn(&mut launch)?;
    if let Some(s) = &pidfd_sock {
        crate::pidfd_socket::send(s, pid.as_raw(), crate::pidfd_socket::Kind::Init)?;
    }
    launch.finish(pid)
}

/// A container being made: its locked state dir, its cgroup once prepared,
/// and the guard that removes all of it unless `finish` is reached.
pub struct Launch<'a> {
    pub opts: &'a CreateOpts<'a>,
    pub plan: &'a Plan,
    pub container: Container,
    guard: Guard,
}

impl<'a> Launch<'a> {
    /// Makes the state dir (mkdir is the duplicate-id check) and writes a
    /// first state.json before anything else exists, so that whatever
    /// follows can be found and removed by `delete --force`.
    pub fn begin(opts: &'a CreateOpts<'a>, plan: &'a Plan) -> Result<Launch<'a>> {
        // Decided before anything exists; an empty path means no cgroup.
        let cgroup = crate::rootless::cgroup_path(
            plan,
            opts.id,
            opts.rootless_cgroups && plan.systemd.is_none(),
        )?;
        let state = State {
            id: opts.id.to_string(),
            oci_version: plan.spec.version().clone(),
            pid: 0,
            pid_start_time: 0,
            bundle: plan.bundle.clone(),
            rootfs: plan.rootfs.clone(),
            created: state::now_rfc3339_nano(),
            annotations: plan
                .spec
                .annotations()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            owns_cgroup: cgroup.is_some(),
            cgroup_path: cgroup.unwrap_or_default(),
            systemd: plan.systemd.clone(),
            hooks: plan.spec.hooks().clone(),
            created_ok: false,
            process: plan.spec.process().clone(),
            namespaces: plan.ns.list.iter().map(|n| n.typ).collect(),
            seccomp: plan.linux().and_then(|l| l.seccomp().clone()),
            personality: plan.linux().and_then(|l| l.personality().clone()),
            memory_policy: plan.linux().and_then(|l| l.memory_policy().clone()),
            intel_rdt: None,
            owns_intel_rdt: false,
        };
        let container = Container::create_dir(opts.root, state)?;
        let mut guard = Guard::default();
        guard.state_dir(container.dir.clone());
        if opts.notify {
            std::fs::create_dir(crate::notify::dir(&container.dir))
                .context("create the notify socket directory")?;
        }
        let launch = Launch {
            opts,
            plan,
            container,
            guard,
        };
        crate::failpoint!("create.state-dir");
        Ok(launch)
    }

    /// Opens the container's cgroup (removed on failure from now on). When
    /// the first process can join it by itself (`self_join_possible`) the
    /// cgroup is made and its resources applied before the process exists;
    /// the returned `SelfJoin` says where it goes.
    pub fn prepare_cgroup(&mut self) -> Result<Option<SelfJoin>> {
        let plan = self.plan;
        if !self.has_cgroup() {
            return Ok(None);
        }
        let cg = Cgroup::open(&self.container.state.cgroup_path, self.opts.id, false)?
            .with_scope(plan.systemd.clone())
            .with_cpuset(resources(plan));
        cg.validate(resources(plan))?;
        // Before the guard owns it: a failure must not tear down someone
        // else's cgroup.
        cg.check_existing()?;
        let cg = self.guard.cgroup(cg);
        let self_join = if self_join_possible(plan) {
            cg.prepare_self_join(true).map_err(making_cgroup)?
        } else {
            None
        };
        if self_join.is_some() {
            // The cgroup is complete before anyone is in it.
            apply_resources(plan, cg, self.opts.rootless_cgroups).map_err(setting_cgroup)?;
        }
        crate::failpoint!("create.cgroup");
        Ok(self_join)
    }

    /// A restore: `pid` (criu, which restores the container's processes into
    /// its own cgroups) joins the container's cgroup, made now with the
    /// resources; the cgroup is removed on failure.
    pub fn join_cgroup(&mut self, pid: Pid) -> Result<()> {
        let plan = self.plan;
        if !self.has_cgroup() {
            return Ok(());
        }
        let cg = self.guard.cgroup(
            Cgroup::open(&self.container.state.cgroup_path, self.opts.id, false)?
                .with_scope(plan.systemd.clone())
                .with_cpuset(resources(plan)),
        );
        cg.add(pid)?;
        apply_resources(plan, cg, false)
    }

    /// False when a rootless runtime could not have one (`rootless::cgroup_path`).
    fn has_cgroup(&self) -> bool {
        !self.container.state.cgroup_path.as_os_str().is_empty()
    }

    /// The container's process `pid` (our child) is killed on failure.
    pub fn adopt(&mut self, pid: Pid, pidfd: OwnedFd) {
        self.guard.child(pid, pidfd);
    }

    /// Places the first process: into its cgroup (unless it joins by itself
    /// or was born there), with the resources, its id maps, oom_score_adj.
    pub fn place(
        &mut self,
        pid: Pid,
        self_join: Option<&SelfJoin>,
        born_in_cgroup: bool,
    ) -> Result<()> {
        let plan = self.plan;
        if self.has_cgroup() {
            let cg = self.guard.cgroup_ref().context("cgroup not prepared")?;
            match self_join {
                Some(s) if !born_in_cgroup => s.join_unified(pid).map_err(making_cgroup)?,
                Some(_) => {}
                None => {
                    cg.add(pid).map_err(making_cgroup)?;
                    apply_resources(plan, cg, self.opts.rootless_cgroups)
                        .map_err(setting_cgroup)?;
                }
            }
        }
        if plan.ns.is_new(T::User) {
            let l = plan.linux().context("user namespace without linux")?;
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
        if let Some(rdt) = plan.linux().and_then(|l| l.intel_rdt().as_ref()) {
            let g = crate::resctrl::apply(rdt, self.opts.id, pid.as_raw())?;
            if g.created {
                self.guard.resctrl(g.dir.clone());
            }
            self.container.state.intel_rdt = Some(g.dir);
            self.container.state.owns_intel_rdt = g.created;
        }
        if let Some(devs) = plan.linux().and_then(|l| l.net_devices().as_ref()) {
            if !devs.is_empty() {
                let netns = match plan.ns.get(T::Network).and_then(|n| n.path.clone()) {
                    Some(p) => p,
                    None => std::path::PathBuf::from(format!("/proc/{pid}/ns/net")),
                };
                crate::netdev::move_all(devs, &netns)?;
            }
        }
        crate::failpoint!("create.placed");
        Ok(())
    }

    /// prestart and createRuntime hooks, in the runtime's namespaces, once
    /// the container's mounts are in place. Returns the state they were
    /// given (the container's own hooks get the same, built by the init).
    pub fn runtime_hooks(&self, pid: Pid) -> Result<String> {
        let state = self
            .container
            .state
            .hook_json(Status::Creating, pid.as_raw());
        let h = self.plan.spec.hooks().as_ref();
        hooks::run_all("prestart", h.and_then(|h| h.prestart().as_ref()), &state)?;
        hooks::run_all(
            "createRuntime",
            h.and_then(|h| h.create_runtime().as_ref()),
            &state,
        )?;
        crate::failpoint!("create.hooks");
        Ok(state)
    }

    /// runc's hand-over of a seccomp NOTIFY listener to linux.seccomp.listenerPath.
    pub fn seccomp_listener(&self, pid: Pid, fd: &OwnedFd) -> Result<()> {
        let st = self
            .container
            .state
            .hook_json(Status::Creating, pid.as_raw());
        send_seccomp_listener(
            self.plan.linux().and_then(|l| l.seccomp().as_ref()),
            &st,
            fd,
        )
    }

    /// In the forked child: the state lock must not live on in it, and its
    /// copy of the guard must never undo anything.
    pub fn forget_in_child(&mut self) {
        self.container.unlock();
        std::mem::take(&mut self.guard).forget();
    }

    /// The first process is ready: records its pid and start time, the
    /// recovery record and the pid file; from here nothing is undone.
    pub fn finish(mut self, pid: Pid) -> Result<Created> {
        let c = &mut self.container;
        c.state.pid = pid.as_raw();
        c.state.pid_start_time =
            state::start_time(pid.as_raw()).context("container init exited during create")?;
        c.state.created_ok = true;
        c.save()?;
        c.save_recovery()?;
        crate::failpoint!("create.saved");
        if let Some(f) = self.opts.pid_file {
            super::write_pid_file(f, pid.as_raw())?;
        }
        crate::failpoint!("create.pid-file");
        debug!("container {} created", self.opts.id);
        let Launch {
            container, guard, ..
        } = self;
        guard.disarm();
        Ok(Created { container, pid })
    }
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

fn resources(plan: &Plan) -> Option<&oci_spec::runtime::LinuxResources> {
    plan.linux().and_then(|l| l.resources().as_ref())
}

/// runc's words for a cgroup it could not make or join (its Apply; on v1
/// that writes the cpuset's cpus and mems too).
fn making_cgroup(e: anyhow::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "unable to start container process: unable to apply cgroup configuration: {e:#}"
    )
}

/// runc's words for a limit the kernel refused: runc sets them (its Set)
/// while its init waits, after the mounts, whereas tong sets them before the
/// first process runs.
fn setting_cgroup(e: anyhow::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "unable to start container process: error during container init: error setting cgroup config for procHooks process: {e:#}"
    )
}

/// Resources and device rules; a rootless runtime (in a delegated cgroup)
/// leaves the device rules out, as runc: writing devices.* or attaching a
/// device program needs privilege it does not have.
fn apply_resources(plan: &Plan, cg: &Cgroup, rootless: bool) -> Result<()> {
    let l = plan.linux();
    let mut resources = l.and_then(|l| l.resources().clone()).unwrap_or_default();
    if rootless {
        resources.set_devices(None);
        return cg.apply_rootless(&resources);
    }
    let devices = cgroups::device_rules(l.and_then(|l| l.devices().as_deref()).unwrap_or(&[]));
    cg.apply(&resources, &devices)?;
    cg.restrict_devices(&resources, &devices)
}

/// Hands a NOTIFY listener to the agent at linux.seccomp.listenerPath with
/// the container's state (runc's format); create and exec both do.
pub fn send_seccomp_listener(
    cfg: Option<&oci_spec::runtime::LinuxSeccomp>,
    state_json: &str,
    fd: &OwnedFd,
) -> Result<()> {
    use std::os::fd::AsFd;
    let cfg = cfg.context("seccomp listener without linux.seccomp")?;
    let path = cfg
        .listener_path()
        .as_ref()
        .context("linux.seccomp.listenerPath is not set")?;
    let st: serde_json::Value = serde_json::from_str(state_json)?;
    tong_seccomp::send_listener(
        path,
        fd.as_fd(),
        &st,
        cfg.listener_metadata().as_deref().unwrap_or(""),
    )
    .map_err(|e| anyhow::anyhow!("seccomp listener: {e}"))
}
