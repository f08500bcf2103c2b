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
}

impl Cgroup {
    pub fn open(path: &Path, id: &str, systemd: bool) -> Result<Cgroup> {
        let manager = create_cgroup_manager(CgroupConfig {
            cgroup_path: path.to_path_buf(),
            systemd_cgroup: systemd,
            container_name: id.to_string(),
        })
        .map_err(|e| anyhow!("cgroup {}: {e}", path.display()))?;
        Ok(Cgroup { manager })
    }

    pub fn add(&self, pid: Pid) -> Result<()> {
        self.manager
            .add_task(pid)
            .map_err(|e| anyhow!("join cgroup: {e}"))
    }

    pub fn apply(&self, resources: &LinuxResources, devices: &[LinuxDeviceCgroup]) -> Result<()> {
        let mut r = resources.clone();
        let mut rules = r.devices().clone().unwrap_or_default();
        rules.extend_from_slice(devices);
        r.set_devices(Some(rules));
        let opt = ControllerOpt {
            resources: &r,
            disable_oom_killer: r.memory().as_ref().and_then(|m| m.disable_oom_killer()).unwrap_or(false),
            oom_score_adj: None,
            freezer_state: None,
        };
        self.manager
            .apply(&opt)
            .map_err(|e| anyhow!("apply cgroup resources: {e}"))
    }

    pub fn pids(&self) -> Result<Vec<Pid>> {
        self.manager
            .get_all_pids()
            .map_err(|e| anyhow!("list cgroup processes: {e}"))
    }

    pub fn stats(&self) -> Result<libcgroups::stats::Stats> {
        self.manager.stats().map_err(|e| anyhow!("cgroup stats: {e}"))
    }

    pub fn remove(&self) -> Result<()> {
        self.manager
            .remove()
            .map_err(|e| anyhow!("remove cgroup: {e}"))
    }

    pub fn freeze(&self, frozen: bool) -> Result<()> {
        use libcgroups::common::FreezerState;
        let s = if frozen { FreezerState::Frozen } else { FreezerState::Thawed };
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
    let v1 = PathBuf::from("/sys/fs/cgroup/freezer").join(rel).join("freezer.state");
    if let Ok(s) = std::fs::read_to_string(&v1) {
        return s.trim() != "THAWED";
    }
    let v2 = PathBuf::from("/sys/fs/cgroup").join(rel).join("cgroup.freeze");
    std::fs::read_to_string(v2).is_ok_and(|s| s.trim() == "1")
}
