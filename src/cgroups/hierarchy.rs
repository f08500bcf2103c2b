//! The host's cgroup hierarchies, from one read of /proc/self/mountinfo: v1
//! controllers, named v1 hierarchies (name=systemd) and cgroup2. Everything
//! that needs a hierarchy's mount point takes it from here, so a command reads
//! the mount table once, not once per controller.

use crate::mountinfo::MountEntry;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub mount: PathBuf,
    /// cgroup2 (true) or a v1 hierarchy.
    pub unified: bool,
    /// v1 controllers ("cpu", "cpuacct"); empty for named ones and cgroup2.
    pub controllers: Vec<String>,
    /// "name=systemd" for a named v1 hierarchy.
    pub name: Option<String>,
}

impl Hierarchy {
    /// A v1 hierarchy's mount data naming it: "cpu,cpuacct", "name=systemd".
    pub fn mount_data(&self) -> String {
        let mut parts = self.controllers.clone();
        parts.extend(self.name.clone());
        parts.join(",")
    }
}

/// v1 controllers the kernel knows; other super options are mount flags.
const V1_CONTROLLERS: &[&str] = &[
    "cpuset",
    "cpu",
    "cpuacct",
    "blkio",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "perf_event",
    "net_prio",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
    "debug",
];

#[derive(Debug, Clone, Default)]
pub struct Hierarchies {
    pub all: Vec<Hierarchy>,
}

impl Hierarchies {
    pub fn read() -> Hierarchies {
        crate::mountinfo::read_proc("/proc/self/mountinfo")
            .map(|s| Self::from_mounts(&crate::mountinfo::parse(&s)))
            .unwrap_or_default()
    }

    /// One entry per hierarchy (a hierarchy mounted twice counts once).
    pub fn from_mounts(mounts: &[MountEntry]) -> Hierarchies {
        let mut all: Vec<Hierarchy> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for m in mounts {
            let unified = match m.fstype.as_str() {
                "cgroup2" => true,
                "cgroup" => false,
                _ => continue,
            };
            if seen.contains(&m.dev.as_str()) {
                continue;
            }
            seen.push(&m.dev);
            let opts: Vec<&str> = m.super_opts.split(',').collect();
            all.push(Hierarchy {
                mount: m.mountpoint.clone(),
                unified,
                controllers: opts
                    .iter()
                    .filter(|o| !unified && V1_CONTROLLERS.contains(o))
                    .map(|o| o.to_string())
                    .collect(),
                name: opts
                    .iter()
                    .find(|o| !unified && o.starts_with("name="))
                    .map(|o| o.to_string()),
            });
        }
        Hierarchies { all }
    }

    /// Any v1 controller mounted: a v1 or hybrid host.
    pub fn has_v1(&self) -> bool {
        self.all.iter().any(|h| !h.controllers.is_empty())
    }

    /// The mount point of the v1 hierarchy holding `controller`.
    pub fn v1(&self, controller: &str) -> Option<&Path> {
        self.all
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == controller))
            .map(|h| h.mount.as_path())
    }

    /// Mount points of every hierarchy, controllers, named and cgroup2.
    pub fn mounts(&self) -> impl Iterator<Item = &Path> {
        self.all.iter().map(|h| h.mount.as_path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
31 23 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
32 31 0:27 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
33 31 0:28 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd
34 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
35 31 0:30 / /sys/fs/cgroup/devices rw,nosuid - cgroup cgroup rw,devices
36 31 0:31 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio
37 31 0:30 / /mnt/again\\040dir rw - cgroup cgroup rw,devices
";

    #[test]
    fn hybrid_layout() {
        let h = Hierarchies::from_mounts(&crate::mountinfo::parse(HYBRID));
        assert!(h.has_v1());
        assert_eq!(h.all.len(), 5, "{h:?}");
        assert_eq!(
            h.v1("cpuacct"),
            Some(Path::new("/sys/fs/cgroup/cpu,cpuacct"))
        );
        assert_eq!(
            h.v1("net_prio"),
            Some(Path::new("/sys/fs/cgroup/net_cls,net_prio"))
        );
        assert_eq!(h.v1("devices"), Some(Path::new("/sys/fs/cgroup/devices")));
        assert_eq!(h.v1("memory"), None);
        let named = h.all.iter().find(|x| x.name.is_some()).unwrap();
        assert_eq!(named.name.as_deref(), Some("name=systemd"));
        assert!(named.controllers.is_empty());
        assert!(h
            .all
            .iter()
            .any(|x| x.unified && x.mount == Path::new("/sys/fs/cgroup/unified")));
    }

    #[test]
    fn pure_v2() {
        let h = Hierarchies::from_mounts(&crate::mountinfo::parse(
            "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
        ));
        assert!(!h.has_v1());
        assert_eq!(
            h.mounts().collect::<Vec<_>>(),
            vec![Path::new("/sys/fs/cgroup")]
        );
    }
}
