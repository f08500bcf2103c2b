//! The container's cgroup (v1, hybrid and v2 alike). The hot path (create and
//! exec joining, the v1 devices list, teardown) works from one read of the
//! mount table; libcgroups applies every other resource, reads statistics and
//! freezes, and its manager is only built when one of those is asked for.

mod devices_bpf;
mod hierarchy;
pub mod systemd;
mod v1;
mod v2;
mod words;

use anyhow::{anyhow, Result};
pub use hierarchy::{Hierarchies, Hierarchy};
use libcgroups::common::{
    create_cgroup_manager, AnyCgroupManager, CgroupConfig, CgroupManager, ControllerOpt,
};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources};
use std::cell::OnceCell;
use std::path::{Path, PathBuf};
pub use systemd::Scope;

/// Which cgroup drivers this build has: the one place `features` and
/// `create` (--systemd-cgroup) read it from. A driver added here (systemd)
/// flips its field.
pub struct Support {
    pub v1: bool,
    pub v2: bool,
    pub systemd: bool,
    pub systemd_user: bool,
    pub rdma: bool,
}

pub const SUPPORT: Support = Support {
    v1: true,
    v2: true,
    systemd: true,
    systemd_user: true,
    rdma: false,
};

/// What a child needs to enter its cgroup by itself (`Cgroup::prepare_self_join`).
#[derive(Default)]
pub struct SelfJoin {
    /// The v1 hierarchies' `tasks` files.
    pub tasks: Vec<PathBuf>,
    /// The cgroup2 directory, to be born into (or joined by pid if that fails).
    pub unified: Option<PathBuf>,
}

impl SelfJoin {
    /// The cgroup2 directory opened for clone3's CLONE_INTO_CGROUP.
    pub fn unified_fd(&self) -> Option<std::fs::File> {
        self.unified
            .as_ref()
            .and_then(|d| std::fs::File::open(d).ok())
    }

    /// In the child, first thing: the v1 hierarchies.
    pub fn join_self(&self) -> Result<()> {
        v1::join_self(&self.tasks)
    }

    /// In the parent, when the child could not be born into the cgroup2 part.
    pub fn join_unified(&self, pid: Pid) -> Result<()> {
        match &self.unified {
            Some(d) => v1::write_procs(d, pid),
            None => Ok(()),
        }
    }
}

pub struct Cgroup {
    path: PathBuf,
    id: String,
    systemd: bool,
    hier: Hierarchies,
    manager: OnceCell<AnyCgroupManager>,
    /// --systemd-cgroup: the transient scope whose cgroup `path` is
    /// (`systemd.rs`); systemd makes it, sets its properties, removes it.
    scope: Option<Scope>,
    /// What a cpuset cgroup made on v1 starts with (`with_cpuset`).
    cpuset: v1::Cpuset,
}

impl Cgroup {
    pub fn open(path: &Path, id: &str, systemd: bool) -> Result<Cgroup> {
        Ok(Cgroup {
            path: path.to_path_buf(),
            id: id.to_string(),
            systemd,
            hier: Hierarchies::read(),
            manager: OnceCell::new(),
            scope: None,
            cpuset: v1::Cpuset::default(),
        })
    }

    /// The cgroup at `path` is the systemd scope `scope` (if any).
    pub fn with_scope(mut self, scope: Option<Scope>) -> Cgroup {
        self.scope = scope;
        self
    }

    /// What runc's config validator refuses on this host before anything is
    /// made: on pure v2 a memory+swap limit memory.swap.max cannot express
    /// (runc's words, without the init's prefix).
    pub fn validate(&self, r: Option<&LinuxResources>) -> Result<()> {
        if self.hier.has_v1() {
            return Ok(());
        }
        if let Some(m) = r.and_then(|r| r.memory().as_ref()) {
            v2::swap_max(m.swap(), m.limit())?;
        }
        Ok(())
    }

    /// On v1 the cpuset cgroup is made with the cpus and mems of `r` (runc
    /// writes them when it makes the cgroup, before any task joins).
    pub fn with_cpuset(mut self, r: Option<&LinuxResources>) -> Cgroup {
        let cpu = r.and_then(|r| r.cpu().as_ref());
        let given = |v: Option<&String>| v.filter(|v| !v.is_empty()).cloned();
        self.cpuset = v1::Cpuset {
            cpus: given(cpu.and_then(|c| c.cpus().as_ref())),
            mems: given(cpu.and_then(|c| c.mems().as_ref())),
        };
        self
    }

    fn manager(&self) -> Result<&AnyCgroupManager> {
        if let Some(m) = self.manager.get() {
            return Ok(m);
        }
        let m = create_cgroup_manager(CgroupConfig {
            cgroup_path: self.path.clone(),
            systemd_cgroup: self.systemd,
            container_name: self.id.clone(),
        })
        .map_err(|e| anyhow!("cgroup {}: {e}", self.path.display()))?;
        Ok(self.manager.get_or_init(|| m))
    }

    /// v1 and hybrid hosts take the direct path of v1.rs.
    fn direct_v1(&self) -> bool {
        !self.systemd && self.hier.has_v1()
    }

    /// A pure cgroup v2 host (no systemd driver): the direct path of v2.rs,
    /// the container's directory in it.
    fn direct_v2(&self) -> Option<PathBuf> {
        if self.systemd || self.hier.has_v1() {
            return None;
        }
        let h = self.hier.all.iter().find(|h| h.unified)?;
        Some(v1::dir(&h.mount, &self.path))
    }

    fn v2_mount(&self) -> Option<&Path> {
        self.hier
            .all
            .iter()
            .find(|h| h.unified)
            .map(|h| h.mount.as_path())
    }

    /// runc 1.2's checks of an existing cgroup before create: it must hold
    /// no process and must not be frozen (a container would start frozen).
    pub fn check_existing(&self) -> Result<()> {
        let dir = match self.direct_v2() {
            Some(d) => d,
            None => match self.hier.all.iter().find(|h| h.unified) {
                Some(h) => v1::dir(&h.mount, &self.path),
                None => return Ok(()),
            },
        };
        if self.path.strip_prefix("/").unwrap_or(&self.path) == Path::new("") {
            return Ok(());
        }
        let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) else {
            return Ok(());
        };
        let n = procs.lines().filter(|l| !l.trim().is_empty()).count();
        if n != 0 {
            anyhow::bail!("container's cgroup is not empty: {n} process(es) found");
        }
        if is_frozen(&self.path) {
            anyhow::bail!("container's cgroup unexpectedly frozen");
        }
        Ok(())
    }

    /// On a v1 or hybrid host, before the clone: makes the cgroup so that the
    /// child can be born into its cgroup2 part (CLONE_INTO_CGROUP with the fd
    /// returned) and move itself into the v1 hierarchies (`join_self`), and
    /// nobody writes its pid to cgroup.procs (see `v1::write_procs`). None on
    /// v2, where libcgroups joins as before. `create`: make the directories
    /// (false for a container's existing cgroup).
    pub fn prepare_self_join(&self, create: bool) -> Result<Option<SelfJoin>> {
        if self.scope.is_some() {
            // systemd makes the scope's cgroup and moves the pid into it.
            return Ok(None);
        }
        if let (Some(dir), Some(mount)) = (self.direct_v2(), self.v2_mount()) {
            // Pure v2: born into the one hierarchy, nothing to join by hand.
            if create {
                v2::create(mount, &self.path)?;
            }
            return Ok(Some(SelfJoin {
                tasks: Vec::new(),
                unified: Some(dir),
            }));
        }
        if !self.direct_v1() {
            return Ok(None);
        }
        if create {
            v1::create(&self.hier, &self.path, &self.cpuset)?;
        }
        let mut join = SelfJoin::default();
        for h in &self.hier.all {
            let d = v1::dir(&h.mount, &self.path);
            if h.unified {
                join.unified = Some(d);
            } else {
                join.tasks.push(d.join("tasks"));
            }
        }
        Ok(Some(join))
    }

    /// Joins `pid` to every hierarchy (v1: controllers, named ones, cgroup2).
    pub fn add(&self, pid: Pid) -> Result<()> {
        if let Some(s) = &self.scope {
            return s.start(&self.id, pid);
        }
        if self.direct_v1() {
            return v1::join(&self.hier, &self.path, pid, &self.cpuset);
        }
        if let (Some(dir), Some(mount)) = (self.direct_v2(), self.v2_mount()) {
            v2::create(mount, &self.path)?;
            return v1::write_procs(&dir, pid);
        }
        self.manager()?
            .add_task(pid)
            .map_err(|e| anyhow!("join cgroup: {e}"))
    }

    pub fn apply(&self, resources: &LinuxResources, devices: &[LinuxDeviceCgroup]) -> Result<()> {
        if resources.unified().as_ref().is_some_and(|u| !u.is_empty()) && self.hier.has_v1() {
            anyhow::bail!("linux.resources.unified: cannot use unified on cgroup v1");
        }
        if let Some(s) = &self.scope {
            // Unit properties first, then every file, as runc.
            s.set_properties(&self.id, resources)?;
        }
        let mut r = resources.clone();
        let rules = all_rules(resources, devices);
        if self.direct_v1() {
            if let Some(name) = unmounted_v1_request(resources, |c| self.hier.v1(c).is_some()) {
                // runc's fs manager: a limit for a hierarchy it has no
                // directory in.
                anyhow::bail!("cannot set {name} limit: container could not join or create cgroup");
            }
            // The device rules are ours on v1 (runc's defaults and order,
            // v1::default_rules), whatever else libcgroups then applies.
            let Some(mount) = self.hier.v1("devices") else {
                anyhow::bail!("cgroup devices is required but not mounted");
            };
            let dir = v1::dir(mount, &self.path);
            if !beyond_devices(&r) {
                return v1::write_devices(&dir, &rules);
            }
            r.set_devices(None);
            self.apply_libcgroups(&r)?;
            // libcgroups writes its own default device list (with
            // /dev/console) whatever it is given: ours goes last and wins
            // (the config's rules start with a deny-all).
            return v1::write_devices(&dir, &rules);
        }
        if let Some(dir) = self.direct_v2() {
            // Device rules are the eBPF program's (`restrict_devices`).
            return v2::set(&dir, &r);
        }
        r.set_devices(Some(rules));
        self.apply_libcgroups(&r)
    }

    /// A rootless runtime in a cgroup delegated to it: the limits alone, no
    /// device rules (runc ignores them rootless: they need privilege).
    pub fn apply_rootless(&self, r: &LinuxResources) -> Result<()> {
        if !beyond_devices(r) {
            return Ok(());
        }
        if self.scope.is_some() {
            // A user instance's scope: unit properties, then the files.
            return self.apply(r, &[]);
        }
        self.apply_libcgroups(r)
    }

    fn apply_libcgroups(&self, r: &LinuxResources) -> Result<()> {
        let opt = ControllerOpt {
            resources: r,
            disable_oom_killer: r
                .memory()
                .as_ref()
                .and_then(|m| m.disable_oom_killer())
                .unwrap_or(false),
            oom_score_adj: None,
            freezer_state: None,
        };
        if self.hier.has_v1() {
            // runc checks it with these words before it writes (libcgroups
            // refuses it in others).
            if let Some(s) = r.memory().as_ref().and_then(|m| m.swappiness()) {
                if s > 100 {
                    anyhow::bail!("invalid memory swappiness value: {s} (valid range is 0-100)");
                }
            }
        }
        self.manager()?
            .apply(&opt)
            .map_err(|e| anyhow!("{}", words::of_manager(&e)))?;
        self.apply_bfq_weight_devices(r)
    }

    /// On a v2-only host, at create and at an `update` that names devices:
    /// cgroup v2 has no devices controller (and libcgroups' eBPF support is a
    /// feature that needs libbpf), so the same rules and defaults as v1 go
    /// into an eBPF program of our own, which replaces the one before it.
    pub fn restrict_devices(
        &self,
        resources: &LinuxResources,
        devices: &[LinuxDeviceCgroup],
    ) -> Result<()> {
        if self.hier.has_v1() || self.systemd || self.scope.as_ref().is_some_and(Scope::is_user) {
            // A user instance's scope: rootless, device rules need privilege.
            return Ok(());
        }
        let Some(h) = self.hier.all.iter().find(|h| h.unified) else {
            return Ok(());
        };
        let mut all = all_rules(resources, devices);
        all.extend(v1::default_rules());
        devices_bpf::attach(&v1::dir(&h.mount, &self.path), &all)
    }

    /// Kernels with BFQ only have blkio.bfq.weight_device, which libcgroups
    /// does not write: write it as runc does (and report the kernel's refusal).
    fn apply_bfq_weight_devices(&self, r: &LinuxResources) -> Result<()> {
        let Some(devs) = r
            .block_io()
            .as_ref()
            .and_then(|b| b.weight_device().clone())
        else {
            return Ok(());
        };
        let Some(dir) = self.v1_dir("blkio") else {
            return Ok(());
        };
        if dir.join("blkio.weight_device").exists() {
            return Ok(());
        }
        let file = dir.join("blkio.bfq.weight_device");
        for d in devs {
            if let Some(w) = d.weight() {
                words::write_file(&file, &format!("{}:{} {}", d.major(), d.minor(), w))?;
            }
        }
        Ok(())
    }

    fn v1_dir(&self, ctrl: &str) -> Option<PathBuf> {
        self.hier.v1(ctrl).map(|m| v1::dir(m, &self.path))
    }

    pub fn pids(&self) -> Result<Vec<Pid>> {
        self.manager()?
            .get_all_pids()
            .map_err(|e| anyhow!("list cgroup processes: {e}"))
    }

    pub fn stats(&self) -> Result<libcgroups::stats::Stats> {
        let all = self.manager()?.stats();
        match (all, self.direct_v2()) {
            (Ok(s), _) => Ok(s),
            // A controller not enabled here (a user instance's scope):
            // what is there, as runc.
            (Err(_), Some(dir)) if dir.is_dir() => v2::stats(&dir),
            (Err(e), _) => Err(anyhow!("cgroup stats: {e}")),
        }
    }

    pub fn remove_all(&self) -> Result<()> {
        if let Some(s) = &self.scope {
            s.stop(&self.id)?;
        }
        teardown_in(&self.hier, &self.path)
    }

    pub fn freeze(&self, frozen: bool) -> Result<()> {
        use libcgroups::common::FreezerState;
        if let Some(dir) = self.direct_v2() {
            return v2::freeze(&dir, frozen);
        }
        let s = if frozen {
            FreezerState::Frozen
        } else {
            FreezerState::Thawed
        };
        self.manager()?
            .freeze(s)
            .map_err(|e| anyhow!("freezer: {e}"))
    }
}

/// Allow rules for the config's devices (libcgroups adds the default devices).
/// Fifos need no rule (the kernel rejects `p` in devices.allow).
pub fn device_rules(spec_devices: &[oci_spec::runtime::LinuxDevice]) -> Vec<LinuxDeviceCgroup> {
    use oci_spec::runtime::LinuxDeviceType as D;
    spec_devices
        .iter()
        .filter(|d| !matches!(d.typ(), D::P))
        .map(|d| {
            let mut r = LinuxDeviceCgroup::from(d);
            if d.typ() == D::U {
                r.set_typ(Some(D::C));
            }
            r
        })
        .collect()
}

/// On a pure cgroup v2 host, SIGKILLs the cgroup `path` and its subtree with
/// one write to cgroup.kill (frozen tasks too), as runc 1.2: true if done.
pub fn kill_all(path: &Path) -> bool {
    let h = Hierarchies::read();
    if h.has_v1() {
        return false;
    }
    let rel = path.strip_prefix("/").unwrap_or(path);
    if rel.as_os_str().is_empty() {
        return false;
    }
    h.all
        .iter()
        .filter(|h| h.unified)
        .any(|h| std::fs::write(h.mount.join(rel).join("cgroup.kill"), "1").is_ok())
}

/// Whether the container's cgroup is frozen (v1 freezer.state or v2 cgroup.freeze).
pub fn is_frozen(path: &Path) -> bool {
    let rel = path.strip_prefix("/").unwrap_or(path);
    let v1 = PathBuf::from("/sys/fs/cgroup/freezer")
        .join(rel)
        .join("freezer.state");
    if let Ok(s) = std::fs::read_to_string(&v1) {
        return s.trim() != "THAWED";
    }
    let v2 = PathBuf::from("/sys/fs/cgroup")
        .join(rel)
        .join("cgroup.freeze");
    std::fs::read_to_string(v2).is_ok_and(|s| s.trim() == "1")
}

/// linux.resources.devices, then the rules for linux.devices.
fn all_rules(r: &LinuxResources, devices: &[LinuxDeviceCgroup]) -> Vec<LinuxDeviceCgroup> {
    let mut rules = r.devices().clone().unwrap_or_default();
    rules.extend_from_slice(devices);
    rules
}

/// Whether `r` asks for anything beyond device rules (which the direct v1
/// path writes itself).
/// The first v1 controller, in runc's order, that `r` sets a limit of but
/// this host has not mounted (`mounted` says whether one is). Only the
/// controllers a host may lack: the others are checked where they are written.
fn unmounted_v1_request(
    r: &LinuxResources,
    mounted: impl Fn(&str) -> bool,
) -> Option<&'static str> {
    let net = r.network().as_ref();
    let wants = [
        (
            "hugetlb",
            r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()),
        ),
        (
            "net_cls",
            net.and_then(|n| n.class_id()).is_some_and(|c| c != 0),
        ),
        (
            "net_prio",
            net.and_then(|n| n.priorities().as_ref())
                .is_some_and(|p| !p.is_empty()),
        ),
        ("rdma", r.rdma().as_ref().is_some_and(|m| !m.is_empty())),
    ];
    wants
        .into_iter()
        .find(|(name, want)| *want && !mounted(name))
        .map(|(name, _)| name)
}

/// runc's warning (specconv, update) for limits the kernel dropped in 6.x.
pub fn warn_kernel_memory(r: Option<&LinuxResources>) {
    let m = r.and_then(|r| r.memory().as_ref());
    if m.is_some_and(|m| m.kernel().is_some() || m.kernel_tcp().is_some()) {
        crate::logging::warn("Kernel memory settings are ignored and will be removed");
    }
}

fn beyond_devices(r: &LinuxResources) -> bool {
    let mut rest = r.clone();
    rest.set_devices(None);
    if rest.unified().as_ref().is_some_and(|u| u.is_empty()) {
        rest.set_unified(None);
    }
    rest != LinuxResources::default()
}

/// Removes the container's cgroup in every hierarchy (see `teardown_in`).
pub fn teardown(path: &Path) -> Result<()> {
    teardown_in(&Hierarchies::read(), path)
}

/// Removes the container's cgroup in every hierarchy: an empty one with a
/// single rmdir, else sub-cgroups first (deepest first), killing what is left.
fn teardown_in(h: &Hierarchies, path: &Path) -> Result<()> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    if rel.as_os_str().is_empty() {
        return Ok(());
    }
    // The common case: empty directories, one rmdir each.
    let mut busy = Vec::new();
    for mp in h.mounts() {
        let dir = mp.join(rel);
        match std::fs::remove_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => busy.push(dir),
        }
    }
    if busy.is_empty() {
        return Ok(());
    }
    // Processes remain: thaw first in every hierarchy (a frozen process dies
    // of SIGKILL only once thawed, and the freezer may come after the
    // hierarchy being emptied), then kill and remove.
    for dir in &busy {
        thaw_and_kill(dir);
    }
    let mut left = Vec::new();
    for dir in busy {
        remove_tree(&dir);
        if dir.exists() {
            left.push(dir.display().to_string());
        }
    }
    if !left.is_empty() {
        anyhow::bail!("remove cgroup: could not delete {}", left.join(", "));
    }
    Ok(())
}

/// The pids in the container's cgroup and its sub-cgroups (`exec --cgroup`),
/// gathered from every hierarchy: a process half-way through joining shows
/// in some and not yet in others.
pub fn pids_of(path: &Path) -> Vec<Pid> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    if rel.as_os_str().is_empty() {
        return Vec::new();
    }
    let mut pids = Vec::new();
    for m in Hierarchies::read().mounts() {
        collect_pids(&m.join(rel), &mut pids);
    }
    pids.sort_unstable();
    pids.dedup();
    pids.into_iter().map(Pid::from_raw).collect()
}

fn collect_pids(dir: &Path, out: &mut Vec<i32>) {
    let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) else {
        return;
    };
    out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect_pids(&e.path(), out);
            }
        }
    }
}

/// Thaws the cgroup `dir` (v1 freezer or cgroup2) and, on cgroup2 since
/// 5.14, kills its whole subtree in one write.
fn thaw_and_kill(dir: &Path) {
    for (file, value) in [
        ("freezer.state", "THAWED"),
        ("cgroup.freeze", "0"),
        ("cgroup.kill", "1"),
    ] {
        let f = dir.join(file);
        if f.exists() {
            if let Err(e) = std::fs::write(&f, value) {
                crate::debug!("teardown: write {value} to {}: {e}", f.display());
            }
        }
    }
}

fn remove_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
    }
    // A killed process leaves its cgroup only once it has exited; under load
    // that takes a while.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                let _ =
                    nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            }
        }
        match std::fs::remove_dir(dir) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(std::time::Duration::from_millis(2))
            }
            _ => break,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_limit_of_an_unmounted_v1_controller_is_named_in_runcs_order() {
        let r: oci_spec::runtime::LinuxResources = serde_json::from_value(serde_json::json!({
            "network": {"classID": 1, "priorities": [{"name": "lo", "priority": 2}]},
            "rdma": {"mlx5_0": {"hcaHandles": 3}}
        }))
        .unwrap();
        assert_eq!(super::unmounted_v1_request(&r, |_| false), Some("net_cls"));
        assert_eq!(
            super::unmounted_v1_request(&r, |c| c == "net_cls"),
            Some("net_prio")
        );
        assert_eq!(
            super::unmounted_v1_request(&r, |c| c != "rdma"),
            Some("rdma")
        );
        assert_eq!(super::unmounted_v1_request(&r, |_| true), None);
        let none = oci_spec::runtime::LinuxResources::default();
        assert_eq!(super::unmounted_v1_request(&none, |_| false), None);
    }
}
