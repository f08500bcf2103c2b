//! Reads a bundle's config.json and checks it, giving an immutable `Plan` that the
//! rest of create works from. Every refusal names the field and why. All of
//! it happens before the state dir is made: a bad config leaves nothing.

pub mod validate;

mod mounts;

use crate::namespaces::{Namespace, NsPlan};
use crate::rootfs::mounts::PlannedMount;
use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{LinuxNamespaceType as T, Spec};
use std::path::{Path, PathBuf};

pub struct Plan {
    pub spec: Spec,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub ns: NsPlan,
    pub cgroup_path: PathBuf,
    /// --systemd-cgroup: the scope whose cgroup `cgroup_path` is (set by
    /// `container::load_plan`).
    pub systemd: Option<crate::cgroups::Scope>,
    /// linux.seccomp, compiled (a profile that does not compile is refused here).
    pub seccomp: Option<tong_seccomp::Filter>,
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
        std::fs::canonicalize(bundle).with_context(|| format!("chdir {}", bundle.display()))?;
    let path = bundle.join("config.json");
    let data = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
    let (mut spec, mut ignored): (Spec, _) = parse_json(
        &data,
        "/process",
        "process.capabilities",
        "invalid config.json",
    )?;
    if let Some(p) = spec.process_mut() {
        ignored.extend(crate::caps::retain_available(p));
    }
    crate::caps::warn_ignored(ignored);
    crate::cgroups::warn_kernel_memory(spec.linux().as_ref().and_then(|l| l.resources().as_ref()));
    plan(spec, bundle, id)
}

/// Deserializes config.json (or an exec process file) with the path of a
/// field that does not parse in the error (`process.rlimits[2].type`). A
/// capability name the spec types do not know fails the typed parse; runc
/// skips such names, so then the JSON is parsed again without them
/// (`process_at`: where the process is; `caps_at`: that field's error path)
/// and the names skipped are returned.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    data: &[u8],
    process_at: &str,
    caps_at: &str,
    what: &str,
) -> Result<(T, Vec<String>)> {
    let fail = |e: serde_path_to_error::Error<serde_json::Error>| match e.path().to_string() {
        at if at == "." => anyhow!("{what}: {}", e.inner()),
        at => anyhow!("{what}: {at}: {}", e.inner()),
    };
    let mut de = serde_json::Deserializer::from_slice(data);
    match serde_path_to_error::deserialize(&mut de) {
        Ok(v) => {
            de.end().map_err(|e| anyhow!("{what}: {e}"))?;
            Ok((v, Vec::new()))
        }
        Err(e) if e.path().to_string().starts_with(caps_at) => {
            let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(data) else {
                return Err(fail(e));
            };
            let dropped = json
                .pointer_mut(process_at)
                .map(crate::caps::strip_unknown_json)
                .unwrap_or_default();
            if dropped.is_empty() {
                return Err(fail(e));
            }
            Ok((
                serde_path_to_error::deserialize(json).map_err(fail)?,
                dropped,
            ))
        }
        Err(e) => Err(fail(e)),
    }
}

fn plan(spec: Spec, bundle: PathBuf, id: &str) -> Result<Plan> {
    validate::oci_version(spec.version())?;
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
    validate::names(&spec)?;
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        validate::mount(i, m)?;
    }
    if let Some(l) = spec.linux() {
        validate::linux(l)?;
    }
    let ns = namespaces(&spec)?;
    validate_linux(&spec, &ns)?;
    let mounts = mounts::plan(&spec, &ns)?;
    mounts::validate_linux_extras(&spec, &ns)?;
    let seccomp = compile_seccomp(spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()))?;
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
    mounts::warn_relative(&spec, &mounts, &bundle);
    Ok(Plan {
        spec,
        bundle,
        rootfs,
        ns,
        cgroup_path,
        systemd: None,
        seccomp,
        mounts,
    })
}

/// linux.seccomp compiled to the one BPF program (create: the config's;
/// exec: the profile recorded in state.json).
pub fn compile_seccomp(
    cfg: Option<&oci_spec::runtime::LinuxSeccomp>,
) -> Result<Option<tong_seccomp::Filter>> {
    let Some(cfg) = cfg else {
        return Ok(None);
    };
    let f = tong_seccomp::compile(cfg).map_err(|e| anyhow!("linux.seccomp: {e}"))?;
    if !f.skipped_syscalls().is_empty() {
        crate::debug!(
            "seccomp: unknown syscalls skipped: {}",
            f.skipped_syscalls().join(" ")
        );
    }
    Ok(Some(f))
}

fn validate_process(spec: &Spec) -> Result<()> {
    let p = spec
        .process()
        .as_ref()
        .ok_or_else(|| anyhow!("config.json: process must be set"))?;
    validate::process("config.json", p)
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
    if let Some(p) = spec.process() {
        validate::selinux_label(p)?;
    }
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let restricts = |paths: &Option<Vec<String>>| paths.as_ref().is_some_and(|p| !p.is_empty());
    if (restricts(linux.masked_paths()) || restricts(linux.readonly_paths())) && !ns.has(T::Mount) {
        bail!("unable to restrict sys entries without a private MNT namespace");
    }
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
            bail!(
                "config.json: invalid linux.rootfsPropagation {}",
                crate::logging::go_quote(prop)
            );
        }
    }
    Ok(())
}

/// runc's rule and words: a sysctl is allowed only if it lives in a
/// namespace the container has of its own (a network namespace joined by
/// path must not be ours); kernel.hostname conflicts with the hostname field.
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
    let key = dotted_sysctl(key);
    let q = crate::logging::go_quote(&key);
    if ipc.contains(&key.as_str()) || key.starts_with("fs.mqueue.") {
        if !ns.has(T::Ipc) {
            bail!("sysctl {q} is not allowed in the hosts ipc namespace");
        }
        return Ok(());
    }
    if key.starts_with("net.") {
        let host = match ns.get(T::Network) {
            None => true,
            Some(n) => match &n.path {
                None => false,
                Some(p) => is_host_netns(p)?,
            },
        };
        if host {
            bail!("sysctl {q} not allowed in host network namespace");
        }
        return Ok(());
    }
    if ns.has(T::Uts) {
        match key.as_str() {
            "kernel.domainname" => return Ok(()),
            "kernel.hostname" => {
                bail!("sysctl {q} is not allowed as it conflicts with the OCI \"hostname\" field")
            }
            _ => {}
        }
    }
    bail!("sysctl {q} is not in a separate kernel namespace")
}

/// sysctl(8)'s other form, "net/ipv4/conf/eno2.100/rp_filter", in dots
/// (a dot in a component becomes a slash), as runc checks and names it.
fn dotted_sysctl(key: &str) -> String {
    match key.find(['.', '/']) {
        Some(i) if key.as_bytes()[i] == b'/' => key
            .chars()
            .map(|c| match c {
                '.' => '/',
                '/' => '.',
                c => c,
            })
            .collect(),
        _ => key.to_string(),
    }
}

/// Whether the network namespace at `path` is the one tong runs in.
fn is_host_netns(path: &Path) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let stat = |p: &Path| {
        std::fs::metadata(p).map_err(|e| anyhow!("invalid netns path: stat {}: {e}", p.display()))
    };
    let (own, other) = (stat(Path::new("/proc/self/ns/net"))?, stat(path)?);
    Ok(own.dev() == other.dev() && own.ino() == other.ino())
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
            serde_json::from_str(include_str!("../default-config.json")).unwrap();
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
                serde_json::json!({"linux": {"namespaces": [{"type": "user"}, {"type": "uts"}, {"type": "mount"}]}}),
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

    #[test]
    fn sysctl_refusals_read_like_runc() {
        let ns =
            |extra: &str| serde_json::json!([{"type": "mount"}, {"type": "uts"}, {"type": extra}]);
        let cases = [
            (
                serde_json::json!({"linux": {"namespaces": ns("pid"), "sysctl": {"net/ipv4/ip_forward": "1"}}}),
                r#"sysctl "net.ipv4.ip_forward" not allowed in host network namespace"#,
            ),
            (
                serde_json::json!({"linux": {"namespaces": ns("network"), "sysctl": {"kernel.shmmax": "1"}}}),
                r#"sysctl "kernel.shmmax" is not allowed in the hosts ipc namespace"#,
            ),
            (
                serde_json::json!({"linux": {"namespaces": ns("ipc"), "sysctl": {"kernel.hostname": "x"}}}),
                r#"sysctl "kernel.hostname" is not allowed as it conflicts with the OCI "hostname" field"#,
            ),
            (
                serde_json::json!({"linux": {"namespaces": ns("ipc"), "sysctl": {"vm.swappiness": "1"}}}),
                r#"sysctl "vm.swappiness" is not in a separate kernel namespace"#,
            ),
        ];
        for (json, want) in cases {
            let err = spec_with(json.clone())
                .err()
                .unwrap_or_else(|| panic!("{json} accepted"));
            assert_eq!(err.to_string(), want, "{json}");
        }
        assert_eq!(
            dotted_sysctl("net/ipv4/conf/eno2.100/rp_filter"),
            "net.ipv4.conf.eno2/100.rp_filter"
        );
        assert_eq!(dotted_sysctl("net.ipv4.ip_forward"), "net.ipv4.ip_forward");
    }

    type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;

    /// A config through `load` (the path of a field that does not parse
    /// is named too); the default config with `edit` applied.
    fn load_with(edit: impl FnOnce(&mut serde_json::Value)) -> Result<Plan> {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tong-bundle-load-{}-{n}", std::process::id()));
        let _guard = TempBundle(dir.clone());
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        let mut v: serde_json::Value =
            serde_json::from_str(include_str!("../default-config.json")).unwrap();
        edit(&mut v);
        std::fs::write(dir.join("config.json"), v.to_string()).unwrap();
        load(&dir, "t")
    }

    /// Every check made before the fork, each naming its field (and index).
    #[test]
    fn every_refusal_names_field_and_index() {
        use serde_json::json;
        let set = |ptr: &'static str, v: serde_json::Value| -> Edit {
            Box::new(move |c| *c.pointer_mut(ptr).unwrap() = v)
        };
        let put = |key: &'static str, v: serde_json::Value| -> Edit {
            Box::new(move |c| {
                let (parent, k) = key.rsplit_once('/').unwrap();
                let p = c.pointer_mut(parent).unwrap();
                match (p.as_array_mut(), k.parse::<usize>()) {
                    (Some(a), Ok(i)) if i == a.len() => a.push(v),
                    (Some(a), Ok(i)) => a[i] = v,
                    _ => p[k] = v,
                }
            })
        };
        let mut cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|c| {
                    let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
                    ns.retain(|n| n["type"] != "mount");
                }),
                "unable to restrict sys entries without a private MNT namespace",
            ),
            (
                set("/ociVersion", json!("1.0")),
                "ociVersion: \"1.0\" is not a semantic version",
            ),
            (set("/ociVersion", json!("1.01.0")), "ociVersion"),
            (set("/ociVersion", json!("1.0.0-")), "ociVersion"),
            (
                set("/ociVersion", json!("2.0.0")),
                "ociVersion: 2.0.0 is not supported",
            ),
            (
                set("/mounts/3/options/1", json!("")),
                "mounts[3].options[1]: empty option",
            ),
            (
                Box::new(|c| {
                    c["mounts"].as_array_mut().unwrap().push(json!(
                        {"destination": "/x", "type": "bind", "source": "/tmp", "options": ["rbind", "size=1"]}
                    ))
                }),
                "].options[1] (/x): unknown mount option \"size=1\": a bind mount takes no filesystem-specific options",
            ),
            (
                Box::new(|c| {
                    c["mounts"].as_array_mut().unwrap().push(json!(
                        {"destination": "/y", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]}
                    ))
                }),
                "(/y): idmap/ridmap without uidMappings/gidMappings uses the container's user namespace, and there is none",
            ),
            (
                set("/mounts/1/options/2", json!("mode=7\u{0}")),
                "mounts[1].options[2]: contains a NUL",
            ),
            (
                set("/mounts/0/destination", json!("")),
                "mounts[0].destination: must be set",
            ),
            (
                set("/mounts/0/destination", json!("/a/../../b")),
                "mounts[0].destination",
            ),
            (
                set("/mounts/0/type", json!("")),
                "mounts[0].type: must be set",
            ),
            (
                Box::new(|c| {
                    c["mounts"]
                        .as_array_mut()
                        .unwrap()
                        .push(json!({"destination": "/x", "type": "bind"}))
                }),
                "mounts[7].source: a bind mount needs a source",
            ),
            (
                put(
                    "/process/rlimits/1",
                    json!({"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1}),
                ),
                "process.rlimits[1].type: RLIMIT_NOFILE is already set by process.rlimits[0]",
            ),
            (
                put(
                    "/process/rlimits/1",
                    json!({"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}),
                ),
                "process.rlimits[1].type: unknown variant",
            ),
            (
                put("/process/rlimits/0/soft", json!(2048)),
                "process.rlimits[0]: rlimit RLIMIT_NOFILE: soft limit 2048",
            ),
            (
                put(
                    "/process/ioPriority",
                    json!({"class": "IOPRIO_CLASS_BE", "priority": 8}),
                ),
                "process.ioPriority.priority: 8 is out of range",
            ),
            (
                put(
                    "/process/ioPriority",
                    json!({"class": "IOPRIO_CLASS_BE", "priority": -1}),
                ),
                "process.ioPriority.priority",
            ),
            (
                put(
                    "/process/ioPriority",
                    json!({"class": "IOPRIO_CLASS_NOPE", "priority": 1}),
                ),
                "process.ioPriority.class: unknown variant",
            ),
            (
                put(
                    "/process/scheduler",
                    json!({"policy": "SCHED_OTHER", "nice": 20}),
                ),
                "process.scheduler.nice: 20 is out of range",
            ),
            (
                put(
                    "/process/scheduler",
                    json!({"policy": "SCHED_OTHER", "priority": 3}),
                ),
                "process.scheduler.priority: can only be specified",
            ),
            (
                put(
                    "/process/scheduler",
                    json!({"policy": "SCHED_FIFO", "priority": 0}),
                ),
                "process.scheduler.priority: 0 is out of range for SchedFifo",
            ),
            (
                put(
                    "/process/scheduler",
                    json!({"policy": "SCHED_RR", "priority": 100}),
                ),
                "process.scheduler.priority: 100",
            ),
            (
                put(
                    "/process/scheduler",
                    json!({"policy": "SCHED_BATCH", "runtime": 5}),
                ),
                "process.scheduler: runtime/deadline/period",
            ),
            (
                put(
                    "/process/scheduler",
                    json!({"policy": "SCHED_DEADLINE", "runtime": 10, "deadline": 5, "period": 20}),
                ),
                "process.scheduler: SchedDeadline needs",
            ),
            (
                put("/process/scheduler", json!({"policy": "SCHED_NOPE"})),
                "process.scheduler.policy: unknown variant",
            ),
            (
                put(
                    "/process/scheduler",
                    json!({"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_NOPE"]}),
                ),
                "process.scheduler.flags[0]: unknown variant",
            ),
            (
                put("/process/oomScoreAdj", json!(1001)),
                "process.oomScoreAdj: 1001 is out of range",
            ),
            (
                put("/process/user/umask", json!(0o10000)),
                "process.user.umask",
            ),
            (
                put("/process/user/additionalGids", json!([5, 4294967295u32])),
                "process.user.additionalGids[1]",
            ),
            (
                put("/process/args/1", json!("a\u{0}b")),
                "process.args[1]: contains a NUL",
            ),
            (
                put("/process/env/1", json!("NOEQUALS")),
                "process.env[1]: env entry",
            ),
            (
                put("/hostname", json!("h".repeat(65))),
                "hostname: 65 bytes",
            ),
            (
                put("/linux/sysctl", json!({"net.a..b": "1"})),
                "linux.sysctl[\"net.a..b\"]: is not a sysctl name",
            ),
            (
                put("/linux/sysctl", json!({"net/../../x": "1"})),
                "is not a sysctl name",
            ),
            (
                put("/linux/sysctl", json!({"vm.swappiness": "1"})),
                "vm.swappiness",
            ),
            (
                put(
                    "/linux/devices",
                    json!([{"path": "/dev/ok", "type": "c", "major": 1, "minor": 3}, {"path": "dev/x", "type": "c", "major": 1, "minor": 3}]),
                ),
                "linux.devices[1].path",
            ),
            (
                put(
                    "/linux/devices",
                    json!([{"path": "/dev/x", "type": "a", "major": 1, "minor": 3}]),
                ),
                "linux.devices[0].type: \"a\" is only for cgroup rules",
            ),
            (
                put(
                    "/linux/devices",
                    json!([{"path": "/dev/x", "type": "x", "major": 1, "minor": 3}]),
                ),
                "linux.devices[0].type: unknown variant",
            ),
            (
                put(
                    "/linux/devices",
                    json!([{"path": "/dev/x", "type": "c", "major": -1, "minor": 3}]),
                ),
                "linux.devices[0].major",
            ),
            (
                put(
                    "/linux/devices",
                    json!([{"path": "/dev/x", "type": "c", "major": 1, "minor": 3, "fileMode": 65536}]),
                ),
                "linux.devices[0].fileMode",
            ),
            (
                put("/linux/resources/devices/0/access", json!("rwx")),
                "linux.resources.devices[0].access: \"rwx\"",
            ),
            (
                put("/linux/resources/devices/0/type", json!("p")),
                "linux.resources.devices[0].type",
            ),
            (
                put("/linux/maskedPaths/2", json!("proc/kcore")),
                "linux.maskedPaths[2]: \"proc/kcore\" is not an absolute path",
            ),
            (
                put("/linux/readonlyPaths/0", json!("rel")),
                "linux.readonlyPaths[0]",
            ),
            (
                Box::new(|c| {
                    c["linux"]["namespaces"]
                        .as_array_mut()
                        .unwrap()
                        .push(json!({"type": "user"}));
                    c["linux"]["uidMappings"] =
                        json!([{"containerID": 0, "hostID": 1000, "size": 0}]);
                    c["linux"]["gidMappings"] =
                        json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
                }),
                "linux.uidMappings[0]",
            ),
            (
                Box::new(|c| {
                    c["linux"]["namespaces"]
                        .as_array_mut()
                        .unwrap()
                        .push(json!({"type": "time"}));
                    c["linux"]["timeOffsets"] = json!({"realtime": {"secs": 1}});
                }),
                "linux.timeOffsets[\"realtime\"]",
            ),
            (
                put("/linux/namespaces/0/path", json!("/proc/1/ns/pid\u{0}")),
                "linux.namespaces[0].path: contains a NUL",
            ),
            (
                put("/linux/seccomp", json!({"defaultAction": "SCMP_ACT_BOGUS"})),
                "linux.seccomp.defaultAction: unknown variant",
            ),
            (
                put(
                    "/linux/seccomp",
                    json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
                ),
                "linux.seccomp",
            ),
        ];
        // runc's refusal where SELinux is off (this host and CI).
        if !std::path::Path::new("/sys/fs/selinux/enforce").exists() {
            cases.push((
                put("/process/selinuxLabel", json!("system_u:system_r:x_t:s0")),
                "selinux label is specified in config, but selinux is disabled",
            ));
        }
        for (i, (edit, want)) in cases.into_iter().enumerate() {
            match load_with(edit) {
                Ok(_) => panic!("case {i} ({want}) accepted"),
                Err(e) => assert!(
                    format!("{e:#}").contains(want),
                    "case {i}: {e:#}\nwanted: {want}"
                ),
            }
        }
    }

    /// runc skips a capability it does not know, in any set, and runs.
    #[test]
    fn unknown_capabilities_are_skipped() {
        use oci_spec::runtime::Capability as C;
        let p = load_with(|c| {
            let caps = &mut c["process"]["capabilities"];
            caps["bounding"] = serde_json::json!(["CAP_CHOWN", "CAP_BOGUS"]);
            caps["ambient"] = serde_json::json!(["CAP_NOPE"]);
        })
        .unwrap();
        let caps = p.process().capabilities().clone().unwrap();
        let bounding = caps.bounding().clone().unwrap();
        assert!(
            bounding.contains(&C::Chown) && bounding.len() == 1,
            "{bounding:?}"
        );
        assert!(caps.ambient().clone().unwrap().is_empty());
        // Any other field that does not parse still names itself.
        let e = load_with(|c| c["process"]["capabilities"]["bounding"] = serde_json::json!([7]));
        let msg = format!("{:#}", e.err().unwrap());
        assert!(msg.contains("process.capabilities.bounding[0]"), "{msg}");
    }

    /// What the checks must keep accepting.
    #[test]
    fn valid_edge_values_pass() {
        use serde_json::json;
        let cases: Vec<Edit> = vec![
            Box::new(|c| c["ociVersion"] = json!("1.0.2-dev")),
            Box::new(|c| c["ociVersion"] = json!("1.2.0+build.5")),
            Box::new(|c| {
                c["process"]["scheduler"] = json!({"policy": "SCHED_FIFO", "priority": 99})
            }),
            Box::new(|c| c["process"]["scheduler"] = json!({"policy": "SCHED_IDLE", "nice": 40})),
            Box::new(|c| {
                c["process"]["scheduler"] =
                    json!({"policy": "SCHED_DEADLINE", "runtime": 10, "deadline": 10})
            }),
            Box::new(|c| {
                c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 7})
            }),
            Box::new(|c| c["process"]["oomScoreAdj"] = json!(-1000)),
            Box::new(|c| c["hostname"] = json!("h".repeat(64))),
            Box::new(|c| {
                c["mounts"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"destination": "rel/dir", "source": "/tmp", "options": ["rbind"]}))
            }),
            Box::new(|c| c["linux"]["devices"] = json!([{"path": "/dev/fifo", "type": "p"}])),
            Box::new(|c| {
                c["linux"]["sysctl"] =
                    json!({"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"})
            }),
        ];
        for (i, edit) in cases.into_iter().enumerate() {
            if let Err(e) = load_with(edit) {
                panic!("case {i} refused: {e:#}");
            }
        }
    }
}
