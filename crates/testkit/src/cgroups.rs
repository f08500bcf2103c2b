//! The host's cgroup hierarchies, found in the mount table (v1 controllers,
//! named v1 hierarchies, cgroup2; hybrid or pure v2 alike), and what a
//! container may leave in them.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// A mounted hierarchy: where, and whether it is cgroup2.
#[derive(Debug, Clone)]
pub struct Hierarchy {
    pub mount: PathBuf,
    pub unified: bool,
    /// v1 controllers and the name= option ("cpu", "cpuacct", "name=systemd").
    pub options: Vec<String>,
}

/// Every cgroup hierarchy mounted in our mount namespace, once each.
pub fn hierarchies() -> Vec<Hierarchy> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for m in crate::mountinfo::own() {
        let unified = match m.fstype.as_str() {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        if seen.contains(&m.dev) {
            continue;
        }
        seen.push(m.dev.clone());
        out.push(Hierarchy {
            mount: PathBuf::from(&m.point),
            unified,
            options: m
                .super_opts
                .iter()
                .filter(|o| !matches!(o.as_str(), "rw" | "ro") && !unified)
                .cloned()
                .collect(),
        });
    }
    out
}

/// Whether any v1 hierarchy is mounted (a v1 or hybrid host).
pub fn has_v1() -> bool {
    hierarchies().iter().any(|h| !h.unified)
}

/// The directory of cgroupsPath `path` in every hierarchy (existing or not).
pub fn dirs_of(path: &str) -> Vec<PathBuf> {
    let rel = path.trim_start_matches('/');
    hierarchies().iter().map(|h| h.mount.join(rel)).collect()
}

/// The directories of cgroupsPath `path` that exist, in any hierarchy.
pub fn existing(path: &str) -> Vec<String> {
    if path.trim_start_matches('/').is_empty() {
        return Vec::new();
    }
    dirs_of(path)
        .into_iter()
        .filter(|d| d.is_dir())
        .map(|d| d.display().to_string())
        .collect()
}

/// The directory of `path` in the hierarchy holding v1 controller `ctrl`,
/// or in cgroup2 when no v1 hierarchy holds it.
pub fn dir_for(ctrl: &str, path: &str) -> PathBuf {
    let rel = path.trim_start_matches('/');
    let hs = hierarchies();
    hs.iter()
        .find(|h| !h.unified && h.options.iter().any(|o| o == ctrl))
        .or_else(|| hs.iter().find(|h| h.unified))
        .map(|h| h.mount.join(rel))
        .unwrap_or_else(|| Path::new("/sys/fs/cgroup").join(ctrl).join(rel))
}

/// Pids in `dir`/cgroup.procs and below.
pub fn procs_below(dir: &Path) -> Vec<i32> {
    let mut v: Vec<i32> = std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                v.extend(procs_below(&e.path()));
            }
        }
    }
    v.sort_unstable();
    v
}

/// Removes a cgroup directory and everything below it, killing what runs
/// in it first (test cleanup of what a runtime left behind).
pub fn remove_tree(p: &Path) {
    if let Ok(ents) = std::fs::read_dir(p) {
        for e in ents.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
    }
    for _ in 0..20 {
        for l in std::fs::read_to_string(p.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
        {
            if let Ok(n) = l.trim().parse::<i32>() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(n),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        if std::fs::remove_dir(p).is_ok() || !p.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A pure cgroup v2 host: cgroup2 mounted, no v1 hierarchy.
pub fn pure_v2() -> bool {
    let hs = hierarchies();
    hs.iter().any(|h| h.unified) && hs.iter().all(|h| h.unified)
}

/// Where cgroupsPath `path` keeps a setting on this host: `v2` ("memory.max")
/// in cgroup2 on a pure v2 host, else `v1` ("memory.limit_in_bytes") in the
/// v1 hierarchy of the controller that prefixes its name.
pub fn setting_file(path: &str, v2: &str, v1: &str) -> PathBuf {
    if pure_v2() {
        return dir_for("", path).join(v2);
    }
    let ctrl = v1.split('.').next().unwrap_or(v1);
    dir_for(ctrl, path).join(v1)
}

/// The value of a setting (see `setting_file`), trimmed; None if absent.
pub fn setting(path: &str, v2: &str, v1: &str) -> Option<String> {
    std::fs::read_to_string(setting_file(path, v2, v1))
        .ok()
        .map(|s| s.trim().to_string())
}
