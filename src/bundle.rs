//! Reads a bundle's config.json and checks it, giving an immutable `Plan` that the
//! rest of create works from. Every refusal names the field and why.

use crate::namespaces::{Namespace, NsPlan};
use crate::rootfs::idmap::{IdMapPlan, Maps};
use crate::rootfs::mounts::PlannedMount;
use crate::rootfs::options;
use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{LinuxNamespaceType as T, Spec};
use std::path::{Path, PathBuf};

pub struct Plan {
    pub spec: Spec,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub ns: NsPlan,
    pub cgroup_path: PathBuf,
    /// `spec.mounts`, index for index: the parsed options and idmapping.
    pub mounts: Vec<PlannedMount>,
}

impl Plan {
    pub fn process(&self) -> &oci_spec::runtime::Process {
        // Validated in load().
        self.spec.process().as_ref().expect("validated process")
    }
    pub fn linux(&self) -> Option<&oci_spec::runtime::Linux> {
        self.spec.linux().as_ref()
    }
    pub fn terminal(&self) -> bool {
        self.process().terminal().unwrap_or(false)
    }
}

pub fn load(bundle: &Path, id: &str) -> Result<Plan> {
    let bundle =
        std::fs::canonicalize(bundle).with_context(|| format!("bundle {}", bundle.display()))?;
    let path = bundle.join("config.json");
    let data = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
    let spec: Spec =
        serde_json::from_slice(&data).map_err(|e| anyhow!("invalid config.json: {e}"))?;
    plan(spec, bundle, id)
}

fn plan(spec: Spec, bundle: PathBuf, id: &str) -> Result<Plan> {
    if spec.version().is_empty() {
        bail!("config.json: ociVersion must be set");
    }
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| anyhow!("config.json: root must be set"))?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    let rootfs = std::fs::canonicalize(&rootfs)
        .map_err(|e| anyhow!("rootfs ({}) does not exist: {e}", rootfs.display()))?;
    if !rootfs.is_dir() {
        bail!("rootfs ({}) is not a directory", rootfs.display());
    }
    validate_process(&spec)?;
    let ns = namespaces(&spec)?;
    validate_linux(&spec, &ns)?;
    let mounts = plan_mounts(&spec, &ns)?;
    validate_linux_extras(&spec, &ns)?;
    let cgroup_path = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().clone())
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from(format!("/{id}")));
    if cgroup_path
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        bail!(
            "linux.cgroupsPath {} must not contain ..",
            cgroup_path.display()
        );
    }
    Ok(Plan {
        spec,
        bundle,
        rootfs,
        ns,
        cgroup_path,
        mounts,
    })
}

/// (uid_t)-1 would mean "unchanged" to setresuid and leave the process root.
pub fn check_user(p: &oci_spec::runtime::Process) -> Result<()> {
    let u = p.user();
    if u.uid() == u32::MAX
        || u.gid() == u32::MAX
        || u.additional_gids().iter().flatten().any(|g| *g == u32::MAX)
    {
        bail!("process.user: 4294967295 is not a valid uid or gid");
    }
    Ok(())
}

/// process.ioPriority, process.scheduler and process.execCPUAffinity, as
/// runc checks them (create, and exec --process).
pub fn check_process_attrs(p: &oci_spec::runtime::Process) -> Result<()> {
    use oci_spec::runtime::LinuxSchedulerPolicy as P;
    if let Some(io) = p.io_priority() {
        if !(0..=7).contains(&io.priority()) {
            bail!(
                "process.ioPriority.priority {} is out of range (0-7)",
                io.priority()
            );
        }
    }
    if let Some(s) = p.scheduler() {
        let policy = *s.policy();
        if let Some(n) = *s.nice() {
            if matches!(policy, P::SchedOther | P::SchedBatch) && !(-20..=19).contains(&n) {
                bail!("process.scheduler.nice {n} is out of range (-20..19)");
            }
        }
        if s.priority().is_some_and(|p| p != 0) && !matches!(policy, P::SchedFifo | P::SchedRr) {
            bail!("process.scheduler.priority can only be specified for SCHED_FIFO or SCHED_RR");
        }
        let dl = [s.runtime(), s.deadline(), s.period()];
        if policy != P::SchedDeadline && dl.iter().any(|v| v.is_some_and(|v| v != 0)) {
            bail!("process.scheduler runtime/deadline/period can only be specified for SCHED_DEADLINE");
        }
    }
    if let Some(a) = p.exec_cpu_affinity() {
        for (field, v) in [("initial", a.initial()), ("final", a.cpu_affinity_final())] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                crate::process::numa::parse_list(v)
                    .with_context(|| format!("process.execCPUAffinity.{field} {v:?}"))?;
            }
        }
    }
    Ok(())
}

fn validate_process(spec: &Spec) -> Result<()> {
    let p = spec
        .process()
        .as_ref()
        .ok_or_else(|| anyhow!("config.json: process must be set"))?;
    check_user(p)?;
    check_process_attrs(p)?;
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        bail!("config.json: process.args must not be empty");
    }
    if !p.cwd().is_absolute() {
        bail!(
            "config.json: process.cwd {:?} must be an absolute path",
            p.cwd()
        );
    }
    for e in p.env().iter().flatten() {
        if !e.contains('=') {
            bail!("config.json: process.env entry {e:?} is not KEY=VALUE");
        }
    }
    for r in p.rlimits().iter().flatten() {
        if r.soft() > r.hard() {
            bail!(
                "config.json: rlimit {:?}: soft limit {} is above hard limit {}",
                r.typ(),
                r.soft(),
                r.hard()
            );
        }
    }
    Ok(())
}

fn namespaces(spec: &Spec) -> Result<NsPlan> {
    let mut list: Vec<Namespace> = Vec::new();
    for n in spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
    {
        if list.iter().any(|x| x.typ == n.typ()) {
            bail!("config.json: duplicated namespace type {}", n.typ());
        }
        let path = n.path().clone().filter(|p| !p.as_os_str().is_empty());
        if let Some(p) = &path {
            if !p.is_absolute() {
                bail!(
                    "config.json: namespace {} path {} is not absolute",
                    n.typ(),
                    p.display()
                );
            }
        }
        list.push(Namespace { typ: n.typ(), path });
    }
    Ok(NsPlan { list })
}

fn validate_linux(spec: &Spec, ns: &NsPlan) -> Result<()> {
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !ns.is_new(T::Uts) {
        bail!("unable to set hostname without a private UTS namespace");
    }
    if spec.domainname().as_ref().is_some_and(|h| !h.is_empty()) && !ns.is_new(T::Uts) {
        bail!("unable to set domainname without a private UTS namespace");
    }
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if ns.is_new(T::User) {
        if !maps {
            bail!("user namespaces enabled, but no uid or gid mappings found");
        }
    } else if maps && !ns.has(T::User) {
        bail!("uid/gid mappings require a user namespace");
    }
    if ns.get(T::User).is_some_and(|n| n.path.is_some()) && ns.is_new(T::Time) {
        bail!(
            "joining a user namespace by path together with a new time namespace is not supported"
        );
    }
    if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty()) && !ns.is_new(T::Time) {
        bail!("linux.timeOffsets requires a new time namespace");
    }
    for (key, _) in linux.sysctl().iter().flatten() {
        check_sysctl(key, ns)?;
    }
    if let Some(prop) = linux.rootfs_propagation() {
        if !prop.is_empty() && crate::rootfs::options::propagation(prop).is_none() {
            bail!("config.json: invalid linux.rootfsPropagation {prop:?}");
        }
    }
    Ok(())
}

/// Each mount's options against the one table (rootfs::options): on a bind
/// mount an option tong does not know is an error naming it (runc 1.2: the
/// kernel would ignore filesystem data there, and a caller relying on an
/// option such as "rro" must not have it dropped silently). Idmapped mounts
/// (uidMappings/gidMappings, idmap, ridmap) must be binds with both maps.
fn plan_mounts(spec: &Spec, ns: &NsPlan) -> Result<Vec<PlannedMount>> {
    let mut out = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let what = format!("mounts[{i}] ({})", m.destination().display());
        let opts = options::parse(m.options().as_deref().unwrap_or(&[]));
        let bind = opts.is_bind() || m.typ().as_deref() == Some("bind");
        if bind {
            if let Some(o) = opts.data.first() {
                bail!(
                    "{what}: unknown mount option {o:?}: a bind mount takes no filesystem-specific options"
                );
            }
        }
        let (uids, gids) = (m.uid_mappings().as_ref(), m.gid_mappings().as_ref());
        let idmap = match (uids, gids, opts.idmap) {
            (None, None, None) => None,
            (Some(_), None, _) | (None, Some(_), _) => {
                bail!("{what}: uidMappings and gidMappings must be given together")
            }
            (Some(u), Some(g), rec) => {
                if u.is_empty() || g.is_empty() || u.iter().chain(g).any(|m| m.size() == 0) {
                    bail!("{what}: uidMappings/gidMappings must not be empty");
                }
                Some(IdMapPlan {
                    recursive: rec.unwrap_or(false),
                    maps: Some(Maps {
                        uids: u.clone(),
                        gids: g.clone(),
                    }),
                })
            }
            (None, None, Some(rec)) => {
                if !ns.has(T::User) {
                    bail!(
                        "{what}: idmap/ridmap without uidMappings/gidMappings uses the container's user namespace, and there is none"
                    );
                }
                Some(IdMapPlan {
                    recursive: rec,
                    maps: None,
                })
            }
        };
        if idmap.is_some() && !bind {
            bail!("{what}: idmapped mounts are only supported for bind mounts");
        }
        out.push(PlannedMount { opts, idmap });
    }
    Ok(out)
}

/// linux.personality, linux.memoryPolicy (and the fields that reach
/// outside the container: netDevices, intelRdt) before anything is made.
fn validate_linux_extras(spec: &Spec, ns: &NsPlan) -> Result<()> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    if let Some(p) = linux.personality() {
        if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
            // runc 1.2 does the same: the domain is set, the flags are not.
            crate::logging::warn(&format!(
                "linux.personality.flags {:?} are ignored",
                p.flags().as_deref().unwrap_or(&[])
            ));
        }
    }
    if let Some(m) = linux.memory_policy() {
        crate::process::numa::validate(m)?;
    }
    if let Some(rdt) = linux.intel_rdt() {
        crate::resctrl::validate(rdt)?;
    }
    if let Some(devs) = linux.net_devices().as_ref().filter(|d| !d.is_empty()) {
        if !ns.has(T::Network) {
            bail!("linux.netDevices needs a network namespace of the container's own (new or by path)");
        }
        for (name, d) in devs {
            if !crate::netdev::valid_name(name) {
                bail!("linux.netDevices: {name:?} is not a valid network device name");
            }
            if let Some(n) = d.name().as_deref().filter(|n| !n.is_empty()) {
                if !crate::netdev::valid_name(n) {
                    bail!("linux.netDevices[{name}].name {n:?} is not a valid network device name");
                }
            }
        }
    }
    Ok(())
}

/// runc's rule: a sysctl is allowed only if it lives in a namespace the
/// container has of its own.
fn check_sysctl(key: &str, ns: &NsPlan) -> Result<()> {
    let ipc = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let (needs, what) = if ipc.contains(&key) || key.starts_with("fs.mqueue.") {
        (T::Ipc, "ipc")
    } else if key.starts_with("net.") {
        (T::Network, "network")
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        (T::Uts, "uts")
    } else {
        bail!("sysctl {key:?} is not in a separate kernel namespace");
    };
    if !ns.has(needs) {
        bail!("sysctl {key:?} is not allowed in the host's {what} namespace");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Removes the test bundle even when an assertion fails.
    struct TempBundle(PathBuf);
    impl Drop for TempBundle {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn spec_with(json: serde_json::Value) -> Result<Plan> {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tong-bundle-test-{}-{n}", std::process::id()));
        let _guard = TempBundle(dir.clone());
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        let mut base: serde_json::Value =
            serde_json::from_str(include_str!("default-config.json")).unwrap();
        merge(&mut base, json);
        let spec: Spec = serde_json::from_value(base)?;
        plan(spec, dir, "t")
    }

    fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    #[test]
    fn default_config_plans() {
        let p = spec_with(serde_json::json!({})).unwrap();
        assert_eq!(p.cgroup_path, PathBuf::from("/t"));
        assert!(p.ns.is_new(T::Pid));
    }

    #[test]
    fn refusals_name_the_field() {
        let cases = [
            (serde_json::json!({"process": {"args": []}}), "process.args"),
            (
                serde_json::json!({"process": {"cwd": "rel"}}),
                "process.cwd",
            ),
            (
                serde_json::json!({"linux": {"namespaces": [{"type": "pid"}, {"type": "pid"}]}}),
                "duplicated",
            ),
            (
                serde_json::json!({"linux": {"namespaces": [{"type": "pid"}]}}),
                "hostname",
            ),
            (
                serde_json::json!({"linux": {"sysctl": {"vm.swappiness": "1"}}}),
                "vm.swappiness",
            ),
            (
                serde_json::json!({"linux": {"namespaces": [{"type": "user"}, {"type": "uts"}]}}),
                "mappings",
            ),
            (
                serde_json::json!({"linux": {"cgroupsPath": "/a/../b"}}),
                "cgroupsPath",
            ),
            (
                serde_json::json!({"root": {"path": "nope"}}),
                "does not exist",
            ),
        ];
        for (json, word) in cases {
            let err = spec_with(json.clone())
                .err()
                .unwrap_or_else(|| panic!("{json} accepted"));
            assert!(err.to_string().contains(word), "{json}: {err}");
        }
    }
}
