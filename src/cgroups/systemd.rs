//! The systemd cgroup driver (`--systemd-cgroup`, pure cgroup v2, as root):
//! the container's cgroup is a transient scope that systemd makes over D-Bus
//! (libcgroups' systemd manager and its own D-Bus client: `Delegate=yes`, the
//! init's pid in `PIDs=`). Limits systemd knows go as unit properties; then,
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

/// A container's transient scope: cgroupsPath `slice:prefix:name` becomes
/// the unit `prefix-name.scope` in `slice`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub slice: String,
    pub prefix: String,
    pub name: String,
}

/// runc's check (IsRunningSystemd): systemd as init has /run/systemd/system.
pub fn running() -> bool {
    std::fs::symlink_metadata("/run/systemd/system").is_ok_and(|m| m.is_dir())
}

impl Scope {
    /// linux.cgroupsPath as runc reads it with --systemd-cgroup: empty means
    /// `system.slice:tong:<id>`, anything else must be `slice:prefix:name`
    /// (an empty slice is system.slice). Checked before systemd is looked for.
    pub fn parse(cgroups_path: Option<&Path>, id: &str) -> Result<Scope> {
        let raw = cgroups_path
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if raw.is_empty() {
            return Ok(Scope {
                slice: "system.slice".into(),
                prefix: DEFAULT_PREFIX.into(),
                name: id.into(),
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
            "system.slice"
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
        })
    }

    pub fn unit(&self) -> String {
        format!("{}-{}.scope", self.prefix, self.name)
    }

    /// The scope's cgroup under the v2 root: `/a.slice/a-b.slice/p-n.scope`
    /// (the system manager's control group is the root).
    pub fn cgroup_path(&self) -> Result<PathBuf> {
        Ok(expand_slice(&self.slice)?.join(self.unit()))
    }

    fn manager(&self, id: &str) -> Result<Manager> {
        let spec = format!("{}:{}:{}", self.slice, self.prefix, self.name);
        Manager::new(
            ROOT.into(),
            spec.into(),
            id.into(),
            true,
            Duration::from_secs(10),
        )
        .map_err(|e| anyhow!("systemd: {e}"))
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
        enable_parent_controllers(&want);
        Ok(())
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
/// misc) can be written in the scope. Best effort: a refusal leaves a limit
/// that then fails with the file's name.
fn enable_parent_controllers(scope: &Path) {
    let mut dir = PathBuf::from(ROOT);
    let parents: Vec<_> = scope
        .parent()
        .map(|p| p.components().skip(1).collect())
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
        let s = Scope::parse(Some(Path::new("machine-pod.slice:libpod:abc")), "x").unwrap();
        assert_eq!(s.unit(), "libpod-abc.scope");
        assert_eq!(
            s.cgroup_path().unwrap(),
            PathBuf::from("/machine.slice/machine-pod.slice/libpod-abc.scope")
        );
        let d = Scope::parse(None, "c1").unwrap();
        assert_eq!(
            d.cgroup_path().unwrap(),
            PathBuf::from("/system.slice/tong-c1.scope")
        );
        let e = Scope::parse(Some(Path::new(":docker:c2")), "c2").unwrap();
        assert_eq!(e.slice, "system.slice");
        let err = Scope::parse(Some(Path::new("/foo")), "x").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got "/foo" instead"#
        );
        assert!(Scope::parse(Some(Path::new("a:b")), "x").is_err());
        assert!(Scope::parse(Some(Path::new("bad:p:n")), "x")
            .unwrap_err()
            .to_string()
            .contains("invalid slice name: bad"));
        assert!(Scope::parse(Some(Path::new("system.slice:p:../x")), "x").is_err());
        assert!(Scope::parse(Some(Path::new("system.slice:p:n.slice")), "x").is_err());
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
