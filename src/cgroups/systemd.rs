//! The systemd cgroup driver (`--systemd-cgroup`, pure cgroup v2): the
//! container's cgroup is a transient scope that systemd makes over D-Bus
//! (libcgroups' systemd manager and its own D-Bus client: `Delegate=yes`, the
//! init's pid in `PIDs=`). As root, the system instance over the system bus;
//! rootless (runc's rule: not root, or in a user namespace), the caller's
//! systemd user instance over the session bus, its slices under the user
//! manager's own cgroup (`/user.slice/user-UID.slice/user@UID.service`),
//! which systemd delegates to the user. Limits systemd knows go as unit properties; then,
//! as runc does, every limit is also written to the scope's cgroup files by
//! the v2 path (`Cgroup::apply`), which covers what systemd does not know.
//! Everything else (ps, pause, exec, events) works on the scope's cgroup
//! directory like any v2 cgroup: `Scope::cgroup_path` is what state.json keeps.

use anyhow::{anyhow, bail, Result};
use libcgroups::common::{CgroupManager, ControllerOpt};
use libcgroups::systemd::manager::Manager;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxResources};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const ROOT: &str = "/sys/fs/cgroup";

/// runc's prefix for a container without cgroupsPath is "runc"; tong's is
/// its own name, so that `systemctl` says which runtime made the scope.
pub const DEFAULT_PREFIX: &str = "tong";

/// runc's default slices: `system.slice` for the system instance,
/// `user.slice` (in the user manager's tree) for a user instance.
const SYSTEM_SLICE: &str = "system.slice";
const USER_SLICE: &str = "user.slice";

/// A container's transient scope: cgroupsPath `slice:prefix:name` becomes
/// the unit `prefix-name.scope` in `slice`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub slice: String,
    pub prefix: String,
    pub name: String,
    /// A systemd user instance's scope: that instance's control group
    /// (`/user.slice/user-1000.slice/user@1000.service`), where its slices
    /// live. None: the system instance, whose control group is the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_manager: Option<PathBuf>,
}

/// runc's check (IsRunningSystemd): systemd as init has /run/systemd/system.
pub fn running() -> bool {
    std::fs::symlink_metadata("/run/systemd/system").is_ok_and(|m| m.is_dir())
}

impl Scope {
    /// linux.cgroupsPath as runc reads it with --systemd-cgroup: empty means
    /// `system.slice:tong:<id>` (`user.slice:tong:<id>` for a user instance,
    /// `user`), anything else must be `slice:prefix:name` (an empty slice is
    /// that default slice). Checked before systemd is looked for; a user
    /// instance's scope is then located by `in_user_instance`.
    pub fn parse(cgroups_path: Option<&Path>, id: &str, user: bool) -> Result<Scope> {
        let default_slice = if user { USER_SLICE } else { SYSTEM_SLICE };
        let raw = cgroups_path
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if raw.is_empty() {
            return Ok(Scope {
                slice: default_slice.into(),
                prefix: DEFAULT_PREFIX.into(),
                name: id.into(),
                user_manager: None,
            });
        }
        let parts: Vec<&str> = raw.split(':').collect();
        let [slice, prefix, name] = parts[..] else {
            bail!(
                "expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, got {} instead",
                crate::logging::go_quote(&raw)
            );
        };
        let slice = if slice.is_empty() {
            default_slice
        } else {
            slice
        };
        expand_slice(slice)?;
        if name.is_empty() || prefix.is_empty() {
            // runc 1.2 names a scope with no prefix `name.scope`; libcgroups
            // cannot, and an empty name is no unit at all.
            bail!(
                "cgroupsPath {}: the systemd cgroup driver needs a prefix and a name",
                crate::logging::go_quote(&raw)
            );
        }
        if name.ends_with(".slice") {
            bail!(
                "cgroupsPath {}: a container's cgroup is a scope, not a slice",
                crate::logging::go_quote(&raw)
            );
        }
        for part in [prefix, name] {
            if part.contains('/') || part == "." || part == ".." {
                bail!("invalid unit name: {}", crate::logging::go_quote(part));
            }
        }
        Ok(Scope {
            slice: slice.into(),
            prefix: prefix.into(),
            name: name.into(),
            user_manager: None,
        })
    }

    /// A user instance's scope: connects to the caller's systemd user
    /// instance over its session bus (as runc: $DBUS_SESSION_BUS_ADDRESS, else
    /// $XDG_RUNTIME_DIR/bus) and records the instance's control group, which
    /// the scope's cgroup lives under (runc asks for the manager's
    /// ControlGroup property; libcgroups asks the same when it is built).
    pub fn in_user_instance(mut self, id: &str) -> Result<Scope> {
        let m = self.connect(id, false)?;
        // libcgroups 0.7 keeps the path it computed (ControlGroup + slice +
        // unit) private; its Debug output is the one place that shows it.
        let shown = format!("{m:?}");
        let full = shown
            .split_once("cgroups_path: \"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(p, _)| p.to_string());
        let tail = self.cgroup_path()?;
        let tail = tail.to_string_lossy();
        let Some(manager) = full.as_deref().and_then(|f| f.strip_suffix(&*tail)) else {
            bail!(
                "systemd user instance: cannot tell where it puts {} (libcgroups said {shown})",
                self.unit()
            );
        };
        let manager = if manager.is_empty() { "/" } else { manager };
        if !manager.starts_with('/') || manager.contains("/../") {
            bail!("systemd user instance: unexpected control group {manager}");
        }
        self.user_manager = Some(PathBuf::from(manager));
        Ok(self)
    }

    pub fn unit(&self) -> String {
        format!("{}-{}.scope", self.prefix, self.name)
    }

    /// The scope's cgroup under the v2 root: `/a.slice/a-b.slice/p-n.scope`
    /// (the system manager's control group is the root), under the user
    /// manager's control group for a user instance.
    pub fn cgroup_path(&self) -> Result<PathBuf> {
        let rel = expand_slice(&self.slice)?.join(self.unit());
        Ok(match &self.user_manager {
            Some(m) => m.join(rel.strip_prefix("/")?),
            None => rel,
        })
    }

    /// The control group systemd delegates to the instance: the root for
    /// the system instance, the user manager's for a user instance.
    fn boundary(&self) -> &Path {
        self.user_manager.as_deref().unwrap_or(Path::new("/"))
    }

    fn manager(&self, id: &str) -> Result<Manager> {
        self.connect(id, self.user_manager.is_none())
    }

    /// libcgroups' manager of the scope over the system bus (`system`) or
    /// the user's session bus.
    fn connect(&self, id: &str, system: bool) -> Result<Manager> {
        if !system {
            user_bus()?;
        }
        let spec = format!("{}:{}:{}", self.slice, self.prefix, self.name);
        Manager::new(
            ROOT.into(),
            spec.into(),
            id.into(),
            system,
            Duration::from_secs(10),
        )
        .map_err(|e| {
            if system {
                anyhow!("systemd: {e}")
            } else {
                // libcgroups learns the bus owner's uid from `busctl --user
                // status` and drops busctl's own words from its error.
                let busctl = e.to_string().contains("busctl");
                anyhow!(
                    "systemd user instance (D-Bus session bus {}): {e}{}",
                    user_bus_shown(),
                    if busctl {
                        " (`busctl --user status`, from the systemd package, must run and name the bus owner's uid)"
                    } else {
                        ""
                    }
                )
            }
        })
    }

    /// Starts the scope with `pid` in it (or adds `pid` to it if it exists)
    /// and waits until the pid is in the scope's cgroup.
    pub fn start(&self, id: &str, pid: Pid) -> Result<()> {
        self.manager(id)?
            .add_task(pid)
            .map_err(|e| anyhow!("systemd: start {}: {e}", self.unit()))?;
        let want = self.cgroup_path()?;
        let now = cgroup_of(pid);
        if now.as_deref() != Some(want.as_path()) {
            bail!(
                "systemd put pid {pid} in cgroup {}, not {}",
                now.map(|p| p.display().to_string()).unwrap_or_default(),
                want.display()
            );
        }
        enable_parent_controllers(self.boundary(), &want);
        Ok(())
    }

    /// `exec` as a user whose own cgroup is outside the user manager's tree
    /// (a login session, a root shell's runuser): the kernel lets nobody
    /// without write access to the common ancestor's cgroup.procs move `pid`
    /// into the scope, so, as runc and crun, the user instance is asked to
    /// (AttachProcessesToUnit; it asks the system instance when it may not).
    pub fn attach(&self, id: &str, pid: Pid) -> Result<()> {
        self.start(id, pid)
    }

    /// Whether this is a user instance's scope (device rules cannot be
    /// enforced there: they need privilege; runc ignores them rootless).
    pub fn is_user(&self) -> bool {
        self.user_manager.is_some()
    }

    /// The limits systemd knows, as unit properties of the running scope
    /// (libcgroups maps them: MemoryMax, MemoryLow, MemorySwapMax, CPUWeight,
    /// CPUQuotaPerSecUSec, CPUQuotaPeriodUSec, AllowedCPUs,
    /// AllowedMemoryNodes, TasksMax). Only what `r` sets is sent.
    pub fn set_properties(&self, id: &str, r: &LinuxResources) -> Result<()> {
        let dir = Path::new(ROOT).join(self.cgroup_path()?.strip_prefix("/")?);
        let Some(props) = properties_view(r, &dir) else {
            return Ok(());
        };
        let opt = ControllerOpt {
            resources: &props,
            disable_oom_killer: false,
            oom_score_adj: None,
            freezer_state: None,
        };
        self.manager(id)?
            .apply(&opt)
            .map_err(|e| anyhow!("systemd: set properties of {}: {e}", self.unit()))
    }

    /// Stops the scope (systemd kills what is left in it and removes its
    /// cgroup) and waits for the cgroup directory to go.
    pub fn stop(&self, id: &str) -> Result<()> {
        let dir = Path::new(ROOT).join(self.cgroup_path()?.strip_prefix("/")?);
        if !dir.exists() {
            // An emptied scope is stopped and removed by systemd itself.
            return Ok(());
        }
        self.manager(id)?
            .remove()
            .map_err(|e| anyhow!("systemd: stop {}: {e}", self.unit()))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while dir.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}

/// runc's ExpandSlice: `a-b.slice` lives at `/a.slice/a-b.slice`, `-.slice`
/// is the root; runc's words for a bad name.
pub fn expand_slice(slice: &str) -> Result<PathBuf> {
    const SUFFIX: &str = ".slice";
    let bad = || anyhow!("invalid slice name: {slice}");
    let Some(base) = slice.strip_suffix(SUFFIX) else {
        return Err(bad());
    };
    if slice.contains('/') {
        return Err(bad());
    }
    if base == "-" {
        return Ok(PathBuf::from("/"));
    }
    let mut path = PathBuf::from("/");
    let mut prefix = String::new();
    for part in base.split('-') {
        if part.is_empty() {
            return Err(bad());
        }
        path.push(format!("{prefix}{part}{SUFFIX}"));
        prefix.push_str(part);
        prefix.push('-');
    }
    Ok(path)
}

/// Where libcgroups finds the user's session bus, checked first so that a
/// user without one gets one clear line: $DBUS_SESSION_BUS_ADDRESS (a
/// `unix:path=` that exists or a `unix:abstract=`), else $XDG_RUNTIME_DIR/bus.
/// An empty $DBUS_SESSION_BUS_ADDRESS counts as unset (runc's rule; conmon
/// may pass one).
fn user_bus() -> Result<()> {
    const HINT: &str = "--systemd-cgroup as a non-root user needs the user's systemd instance (user@UID.service) and its D-Bus session bus (Debian: dbus-user-session)";
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|a| a.is_empty()) {
        std::env::remove_var("DBUS_SESSION_BUS_ADDRESS");
    }
    if let Ok(a) = std::env::var("DBUS_SESSION_BUS_ADDRESS") {
        let usable = a.split(';').any(|x| {
            x.starts_with("unix:abstract=")
                || x.strip_prefix("unix:path=")
                    .is_some_and(|p| Path::new(p).exists())
        });
        if !usable {
            bail!("systemd user instance not reachable: DBUS_SESSION_BUS_ADDRESS={a} names no existing unix:path= socket; {HINT}");
        }
        return Ok(());
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) if Path::new(&d).join("bus").exists() => Ok(()),
        Some(d) => bail!(
            "systemd user instance not reachable: no D-Bus session bus at {}/bus and DBUS_SESSION_BUS_ADDRESS is not set; {HINT}",
            Path::new(&d).display()
        ),
        None => bail!(
            "systemd user instance not reachable: neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set; {HINT}"
        ),
    }
}

/// The session bus libcgroups connects to, for error messages.
fn user_bus_shown() -> String {
    match std::env::var("DBUS_SESSION_BUS_ADDRESS") {
        Ok(a) => a,
        Err(_) => std::env::var("XDG_RUNTIME_DIR").unwrap_or_default() + "/bus",
    }
}

/// `pid`'s cgroup v2 path ("0::/system.slice/x.scope").
fn cgroup_of(pid: Pid) -> Option<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(PathBuf::from)
}

/// systemd enables in the slices what the scope's accounting needs; as runc
/// (fs2.CreateCgroupPath), every controller the kernel offers goes down to
/// the scope's parent, so that files systemd does not manage (hugetlb, rdma,
/// misc) can be written in the scope. From `boundary` (the instance's
/// control group: what a user instance may write) down. Best effort: a
/// refusal leaves a limit that then fails with the file's name.
fn enable_parent_controllers(boundary: &Path, scope: &Path) {
    let mut dir = Path::new(ROOT).join(boundary.strip_prefix("/").unwrap_or(boundary));
    let parents: Vec<_> = scope
        .parent()
        .and_then(|p| p.strip_prefix(boundary).ok())
        .map(|p| p.components().collect())
        .unwrap_or_default();
    for i in 0..=parents.len() {
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
        let on = read("cgroup.subtree_control");
        for c in read("cgroup.controllers").split_whitespace() {
            if !on.split_whitespace().any(|x| x == c) {
                let _ = std::fs::write(dir.join("cgroup.subtree_control"), format!("+{c}"));
            }
        }
        if let Some(next) = parents.get(i) {
            dir.push(next);
        }
    }
}

/// What of `r` goes as unit properties, or None for nothing. libcgroups
/// sends a CPU quota whenever `cpu` is set (max if none is given): a quota
/// or period the update does not give is the cgroup's current one, so that
/// `update --memory` does not lift a CPU limit. Device rules, block I/O,
/// hugetlb, network, rdma and `unified` go to the files only.
fn properties_view(r: &LinuxResources, dir: &Path) -> Option<LinuxResources> {
    let mut p = LinuxResources::default();
    if let Some(m) = r.memory() {
        let mut n = LinuxMemory::default();
        n.set_limit(m.limit().filter(|l| *l != 0));
        n.set_reservation(m.reservation().filter(|l| *l != 0));
        // MemorySwapMax is swap minus limit: only when both are known.
        if n.limit().is_some_and(|l| l > 0) {
            n.set_swap(
                m.swap()
                    .filter(|s| *s == -1 || *s >= n.limit().unwrap_or(0)),
            );
        }
        if n != LinuxMemory::default() {
            p.set_memory(Some(n));
        }
    }
    if let Some(c) = r.cpu() {
        let mut n = LinuxCpu::default();
        n.set_shares(c.shares().filter(|s| *s != 0));
        n.set_cpus(c.cpus().clone().filter(|s| !s.is_empty()));
        n.set_mems(c.mems().clone().filter(|s| !s.is_empty()));
        let (quota, period) = current_cpu_max(dir);
        n.set_quota(c.quota().filter(|q| *q != 0).or(quota));
        n.set_period(c.period().filter(|q| *q != 0).or(period));
        if c.shares().is_some()
            || c.quota().is_some()
            || c.period().is_some()
            || n.cpus().is_some()
            || n.mems().is_some()
        {
            p.set_cpu(Some(n));
        }
    }
    if let Some(pids) = r.pids() {
        p.set_pids(Some(*pids));
    }
    (p != LinuxResources::default()).then_some(p)
}

/// cpu.max as (quota, period); a quota of "max" is None.
fn current_cpu_max(dir: &Path) -> (Option<i64>, Option<u64>) {
    let text = std::fs::read_to_string(dir.join("cpu.max")).unwrap_or_default();
    let mut it = text.split_whitespace();
    let quota = it.next().and_then(|q| q.parse().ok());
    let period = it.next().and_then(|p| p.parse().ok());
    (quota, period)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_expand_as_systemd_does() {
        assert_eq!(
            expand_slice("a-b-c.slice").unwrap(),
            PathBuf::from("/a.slice/a-b.slice/a-b-c.slice")
        );
        assert_eq!(
            expand_slice("system.slice").unwrap(),
            PathBuf::from("/system.slice")
        );
        assert_eq!(expand_slice("-.slice").unwrap(), PathBuf::from("/"));
        for bad in [
            "",
            ".slice",
            "a--b.slice",
            "-a.slice",
            "a/b.slice",
            "a.scope",
        ] {
            let e = expand_slice(bad).unwrap_err().to_string();
            assert_eq!(e, format!("invalid slice name: {bad}"));
        }
    }

    #[test]
    fn cgroups_path_forms() {
        let s = Scope::parse(Some(Path::new("machine-pod.slice:libpod:abc")), "x", false).unwrap();
        assert_eq!(s.unit(), "libpod-abc.scope");
        assert_eq!(
            s.cgroup_path().unwrap(),
            PathBuf::from("/machine.slice/machine-pod.slice/libpod-abc.scope")
        );
        let d = Scope::parse(None, "c1", false).unwrap();
        assert_eq!(
            d.cgroup_path().unwrap(),
            PathBuf::from("/system.slice/tong-c1.scope")
        );
        let e = Scope::parse(Some(Path::new(":docker:c2")), "c2", false).unwrap();
        assert_eq!(e.slice, "system.slice");
        // A user instance: runc's user.slice, under the user manager's cgroup.
        let mut u = Scope::parse(Some(Path::new(":docker:c2")), "c2", true).unwrap();
        assert_eq!(u.slice, "user.slice");
        assert_eq!(Scope::parse(None, "c3", true).unwrap().slice, "user.slice");
        u.user_manager = Some(PathBuf::from(
            "/user.slice/user-1000.slice/user@1000.service",
        ));
        assert_eq!(
            u.cgroup_path().unwrap(),
            PathBuf::from(
                "/user.slice/user-1000.slice/user@1000.service/user.slice/docker-c2.scope"
            )
        );
        // state.json of a system scope carries no user_manager and reads back as before.
        let j = serde_json::to_string(&e).unwrap();
        assert!(!j.contains("user_manager"));
        assert_eq!(serde_json::from_str::<Scope>(&j).unwrap(), e);
        let err = Scope::parse(Some(Path::new("/foo")), "x", false).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got "/foo" instead"#
        );
        assert!(Scope::parse(Some(Path::new("a:b")), "x", false).is_err());
        assert!(Scope::parse(Some(Path::new("bad:p:n")), "x", false)
            .unwrap_err()
            .to_string()
            .contains("invalid slice name: bad"));
        assert!(Scope::parse(Some(Path::new("system.slice:p:../x")), "x", false).is_err());
        assert!(Scope::parse(Some(Path::new("system.slice:p:n.slice")), "x", false).is_err());
    }

    #[test]
    fn properties_keep_the_current_cpu_limit() {
        let dir = tempdir_with_cpu_max("50000 100000\n");
        let r: LinuxResources = serde_json::from_str(r#"{"cpu":{"shares":512}}"#).unwrap();
        let p = properties_view(&r, &dir).unwrap();
        let c = p.cpu().as_ref().unwrap();
        assert_eq!(
            (c.shares(), c.quota(), c.period()),
            (Some(512), Some(50000), Some(100000))
        );
        let r: LinuxResources = serde_json::from_str(r#"{"blockIO":{"weight":10}}"#).unwrap();
        assert!(properties_view(&r, &dir).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempdir_with_cpu_max(v: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tong-sdprops-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("cpu.max"), v).unwrap();
        d
    }
}
