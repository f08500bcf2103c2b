//! The environment cri.sh sets up for the scenarios, passed as TGCRI_* variables.

use std::path::PathBuf;

pub struct Env {
    /// containerd's grpc socket (TGCRI_SOCK)
    pub sock: String,
    /// the run's private temp dir (TGCRI_DIR)
    pub dir: PathBuf,
    /// unique id of the run, used in names (TGCRI_RUNID)
    pub runid: String,
    /// the busybox test image (TGCRI_IMAGE)
    pub image: String,
    /// first three octets of the pod subnet, "10.a.b" (TGCRI_SUBNET)
    pub subnet: String,
    /// top cgroup of the run, relative, no leading slash (TGCRI_CGROUP)
    pub cgroup: String,
    /// the OCI runtime binary containerd runs (TGCRI_RUNTIME)
    pub runtime: String,
    /// the shim's Root option for that runtime (TGCRI_RUNTIME_ROOT); the
    /// runtime's --root is this plus "/k8s.io"
    pub runtime_root: String,
    /// an unpacked copy of the test image's rootfs (TGCRI_ROOTFS)
    pub rootfs: PathBuf,
}

fn var(name: &str) -> Result<String, String> {
    std::env::var(name)
        .map_err(|_| format!("{name} is not set (run this through tests/clients/cri.sh)"))
}

impl Env {
    pub fn from_env() -> Result<Env, String> {
        Ok(Env {
            sock: var("TGCRI_SOCK")?,
            dir: PathBuf::from(var("TGCRI_DIR")?),
            runid: var("TGCRI_RUNID")?,
            image: var("TGCRI_IMAGE")?,
            subnet: var("TGCRI_SUBNET")?,
            cgroup: var("TGCRI_CGROUP")?.trim_matches('/').to_string(),
            runtime: var("TGCRI_RUNTIME")?,
            runtime_root: var("TGCRI_RUNTIME_ROOT")?,
            rootfs: PathBuf::from(var("TGCRI_ROOTFS")?),
        })
    }

    /// The runtime's own state root for containerd's k8s.io namespace.
    pub fn runtime_state_root(&self) -> String {
        format!("{}/k8s.io", self.runtime_root)
    }

    /// "runc 1.1.5" style version of the runtime, if it is runc: (major, minor).
    pub fn runc_version(&self) -> Option<(u32, u32)> {
        let out = std::process::Command::new(&self.runtime)
            .arg("--version")
            .output()
            .ok()?;
        let first = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()?
            .to_string();
        let v = first.strip_prefix("runc version ")?;
        let mut it = v
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty());
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    }
}
