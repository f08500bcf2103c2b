//! The container's cgroup, through libcgroups (v1, hybrid and v2 alike).

use anyhow::{anyhow, Result};
use libcgroups::common::{
    create_cgroup_manager, AnyCgroupManager, CgroupConfig, CgroupManager, ControllerOpt,
};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources};
use std::path::{Path, PathBuf};

pub struct Cgroup {
    manager: AnyCgroupManager,
    path: PathBuf,
}

impl Cgroup {
    pub fn open(path: &Path, id: &str, systemd: bool) -> Result<Cgroup> {
        let manager = create_cgroup_manager(CgroupConfig {
            cgroup_path: path.to_path_buf(),
            systemd_cgroup: systemd,
            container_name: id.to_string(),
        })
        .map_err(|e| anyhow!("cgroup {}: {e}", path.display()))?;
        Ok(Cgroup {
            manager,
            path: path.to_path_buf(),
        })
    }

    pub fn add(&self, pid: Pid) -> Result<()> {
        self.manager
            .add_task(pid)
            .map_err(|e| anyhow!("join cgroup: {e}"))
    }

    pub fn apply(&self, resources: &LinuxResources, devices: &[LinuxDeviceCgroup]) -> Result<()> {
        if resources.unified().as_ref().is_some_and(|u| !u.is_empty())
            && matches!(self.manager, AnyCgroupManager::V1(_))
        {
            anyhow::bail!("linux.resources.unified: cannot use unified on cgroup v1");
        }
        let mut r = resources.clone();
        let mut rules = r.devices().clone().unwrap_or_default();
        rules.extend_from_slice(devices);
        r.set_devices(Some(rules));
        let opt = ControllerOpt {
            resources: &r,
            disable_oom_killer: r
                .memory()
                .as_ref()
                .and_then(|m| m.disable_oom_killer())
                .unwrap_or(false),
            oom_score_adj: None,
            freezer_state: None,
        };
        self.manager
            .apply(&opt)
            .map_err(|e| anyhow!("apply cgroup resources: {e}"))?;
        self.apply_bfq_weight_devices(&r)
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
                let line = format!("{}:{} {}", d.major(), d.minor(), w);
                std::fs::write(&file, &line)
                    .map_err(|e| anyhow!("failed to write {line:?} to {}: {e}", file.display()))?;
            }
        }
        Ok(())
    }

    fn v1_dir(&self, ctrl: &str) -> Option<PathBuf> {
        matches!(self.manager, AnyCgroupManager::V1(_)).then(|| {
            let rel = self.path.strip_prefix("/").unwrap_or(&self.path);
            Path::new("/sys/fs/cgroup").join(ctrl).join(rel)
        })
    }

    pub fn pids(&self) -> Result<Vec<Pid>> {
        self.manager
            .get_all_pids()
            .map_err(|e| anyhow!("list cgroup processes: {e}"))
    }

    pub fn stats(&self) -> Result<libcgroups::stats::Stats> {
        self.manager
            .stats()
            .map_err(|e| anyhow!("cgroup stats: {e}"))
    }

    /// Joins `pid` to every hierarchy: the controllers and the extra ones.
    pub fn add_all(&self, path: &Path, pid: Pid) -> Result<()> {
        self.add(pid)?;
        join_extra(path, pid)
    }

    pub fn remove_all(&self, path: &Path) -> Result<()> {
        teardown(path)
    }

    pub fn freeze(&self, frozen: bool) -> Result<()> {
        use libcgroups::common::FreezerState;
        let s = if frozen {
            FreezerState::Frozen
        } else {
            FreezerState::Thawed
        };
        self.manager.freeze(s).map_err(|e| anyhow!("freezer: {e}"))
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

/// Hierarchies libcgroups' v1 manager leaves alone on a v1/hybrid host: named
/// ones (name=systemd) and the cgroup2 one. runc gives the container its own
/// cgroup in each, so we do too. Empty on a pure v2 host.
pub fn extra_hierarchies() -> Vec<PathBuf> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut v1_controllers = false;
    let mut extra = Vec::new();
    for line in info.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut r = right.split_whitespace();
        let (Some(fstype), _, Some(opts)) = (r.next(), r.next(), r.next()) else {
            continue;
        };
        let Some(mp) = left.split_whitespace().nth(4) else {
            continue;
        };
        match fstype {
            "cgroup" if opts.split(',').any(|o| o.starts_with("name=")) => {
                extra.push(PathBuf::from(mp))
            }
            "cgroup" => v1_controllers = true,
            "cgroup2" => extra.push(PathBuf::from(mp)),
            _ => {}
        }
    }
    if v1_controllers {
        extra
    } else {
        Vec::new()
    }
}

pub fn join_extra(path: &Path, pid: Pid) -> Result<()> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    for h in extra_hierarchies() {
        let dir = h.join(rel);
        std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow!("create cgroup {}: {e}", dir.display()))?;
        std::fs::write(dir.join("cgroup.procs"), pid.to_string())
            .map_err(|e| anyhow!("join cgroup {}: {e}", dir.display()))?;
    }
    Ok(())
}

/// Every mounted cgroup hierarchy (v1 controllers, named ones, cgroup2).
fn hierarchy_mounts() -> Vec<PathBuf> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    info.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            if !right.starts_with("cgroup") {
                return None;
            }
            left.split_whitespace().nth(4).map(PathBuf::from)
        })
        .collect()
}

/// Removes the container's cgroup in every hierarchy, sub-cgroups first
/// (deepest first), killing what is left in each: one pass over mountinfo
/// instead of one per controller, as teardown is on every container's path.
pub fn teardown(path: &Path) -> Result<()> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    if rel.as_os_str().is_empty() {
        return Ok(());
    }
    let mut left = Vec::new();
    for mp in hierarchy_mounts() {
        let dir = mp.join(rel);
        if dir.exists() {
            remove_tree(&dir);
            if dir.exists() {
                left.push(dir.display().to_string());
            }
        }
    }
    if !left.is_empty() {
        anyhow::bail!("remove cgroup: could not delete {}", left.join(", "));
    }
    Ok(())
}

/// The pids in the container's cgroup (v1: the devices hierarchy, else the
/// first hierarchy that has the path).
pub fn pids_of(path: &Path) -> Vec<Pid> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    let mounts = hierarchy_mounts();
    let pick = mounts
        .iter()
        .filter(|m| m.ends_with("devices"))
        .chain(mounts.iter())
        .map(|m| m.join(rel).join("cgroup.procs"))
        .find(|p| p.exists());
    pick.and_then(|p| std::fs::read_to_string(p).ok())
        .map(|s| {
            s.lines()
                .filter_map(|l| l.trim().parse().ok())
                .map(Pid::from_raw)
                .collect()
        })
        .unwrap_or_default()
}

fn remove_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
    }
    for _ in 0..100 {
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
