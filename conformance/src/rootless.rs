//! `--rootless`: which tests need root or a privilege an unprivileged user
//! does not have, and why. Such a test SKIPs with the reason, for every
//! runtime alike; the rest run with runc's rootless config.

/// (test name, or a prefix ending in '/', reason)
const NEEDS_ROOT: &[(&str, &str)] = &[
    // cgroups: none the user may write on a host that delegates none
    ("config-linux/cgroups/", CGROUP),
    ("config-linux/cgroups-v2/", CGROUP),
    ("config-linux/cgroups-systemd/", CGROUP),
    ("runtime/cli/pause-resume", CGROUP),
    ("runtime/ops/pause-resume-state", CGROUP),
    ("runtime/ops/update-read-back", CGROUP),
    ("runtime/ops/update-docker-zero-unchanged", CGROUP),
    ("runtime/ops/update-paused", CGROUP),
    ("runtime/ops/events-stats", CGROUP),
    ("runtime/ops/ps-json", "checks ps against the container's cgroup.procs, and rootless without delegation there is no cgroup"),
    ("runtime/ops/kill-all", "checks kill --all against the container's cgroup.procs, and rootless without delegation there is no cgroup"),
    ("runtime/ops/sigkill-shared-pidns-kills-all", "a container in the caller's pid namespace without a cgroup: nothing tells its processes apart from the caller's (runc refuses to signal them; with no cgroup rootless runtimes find a container's processes by its pid namespace)"),
    ("runtime/ops/exec-detach-pid-file", "checks the exec'd process against the container's cgroup.procs, and rootless without delegation there is no cgroup"),
    // ids beyond the single mapping (0 -> the caller)
    ("runtime/ops/exec-basic", "execs as uid/gid 65534, which the single mapping of the rootless config (0 -> the caller) does not map"),
    ("runtime/ops/exec-process-file", UNMAPPED),
    ("config/process/user-uid-gid", UNMAPPED),
    ("config/process/capabilities/ambient", UNMAPPED),
    ("config/process/user-additional-gids", "additionalGids need setgroups(2), which a user namespace made by an unprivileged user denies (setgroups is set to deny so that its gid_map may be written), and gids the single mapping does not map"),
    ("config/mounts/tmpfs-options", "the tmpfs uid=/gid= options name ids the single mapping (0 -> the caller) does not map (EINVAL)"),
    ("config-linux/namespaces/user-new", SUBIDS),
    ("config-linux/user-mappings/uid-gid-map", SUBIDS),
    ("config-linux/user-mappings/multiple-ranges", SUBIDS),
    // namespaces joined by path
    ("config-linux/namespaces/pid-path", JOIN),
    ("config-linux/namespaces/network-path", JOIN),
    ("config-linux/namespaces/ipc-path", JOIN),
    ("config-linux/namespaces/uts-path", JOIN),
    ("config-linux/namespaces/user-path", SUBIDS),
    ("config-linux/namespaces/cgroup-path", JOIN),
    ("config-linux/namespaces/time-path", JOIN),
    ("config-linux/namespaces/mount-path", "the suite makes the mount namespace to join with unshare -m on the host, which needs CAP_SYS_ADMIN in the initial user namespace"),
    ("config-linux/namespaces/ipc-inherit", "a container in the host's IPC namespace cannot mount /dev/mqueue from a user namespace that does not own that IPC namespace (EPERM, runc and tong alike)"),
    // what the suite itself does on the host as root
    ("config/mounts/rbind-recursive", HOST_MOUNT),
    ("config/mounts/bind-nonrecursive", HOST_MOUNT),
    ("config/mounts/recursive-attributes", HOST_MOUNT),
    ("config/mounts/recursive-attributes-clear", HOST_MOUNT),
    ("config/mounts/ridmap-submounts", HOST_MOUNT),
    ("config/mounts/idmap-mappings", IDMAP),
    ("config/mounts/idmap-container-userns", IDMAP),
    // device nodes
    ("config-linux/devices/char-device", DEVICES),
    ("config-linux/devices/block-device", DEVICES),
    ("config-linux/devices/fifo", DEVICES),
];

const CGROUP: &str = "needs a cgroup the user may write, and this host delegates none (tests/vm/rootless-v2.sh checks the delegated cgroup v2 case)";
const UNMAPPED: &str = "runs the process as uid/gid 1000, which the single mapping of the rootless config (0 -> the caller) does not map";
const SUBIDS: &str = "maps host ids 100000 and up that are not the caller's (the rootless config maps only the caller; a wider mapping needs the user's own /etc/subuid range)";
const JOIN: &str = "the namespace to join belongs to another container's user namespace, in which the joining container has no CAP_SYS_ADMIN (setns EPERM)";
const HOST_MOUNT: &str = "the suite builds the source tree with tmpfs mounts on the host, which needs CAP_SYS_ADMIN in the initial namespaces";
const IDMAP: &str = "idmapped mounts need CAP_SYS_ADMIN in the initial user namespace, and the suite chowns the source to ids that are not the caller's";
const DEVICES: &str = "mknod needs CAP_MKNOD in the initial user namespace: in a user namespace runtimes bind the host's node at that path (runc's way), and the test's device paths exist only in the container";

/// Why `name` cannot run rootless, or None when it runs.
pub fn skip_reason(name: &str) -> Option<&'static str> {
    NEEDS_ROOT.iter().find_map(|(n, why)| {
        let hit = if n.ends_with('/') {
            name.starts_with(n)
        } else {
            name == *n
        };
        hit.then_some(*why)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_entry_names_a_test() {
        let all: Vec<&str> = crate::tests::all().iter().map(|t| t.name).collect();
        for (n, _) in super::NEEDS_ROOT {
            let hit = if n.ends_with('/') {
                all.iter().any(|t| t.starts_with(n))
            } else {
                all.contains(n)
            };
            assert!(hit, "rootless skip entry {n} matches no test");
        }
        assert!(super::skip_reason("config-linux/cgroups/memory/limit").is_some());
        assert!(super::skip_reason("runtime/state/created").is_none());
    }
}
