//! Namespaces: which are new (clone flags), which are joined by path, and the
//! user namespace's id maps.
//!
//! Joined namespaces (other than user) are entered by the parent just around the
//! clone3 and left again right after, so the init is born inside them and the
//! parent's own view (paths, hooks' network) is unchanged. The cgroup and time
//! namespaces are made by the init itself: cgroup after it was moved into its
//! cgroup (so the namespace root is the container's cgroup), time because its
//! offsets must be written before any process lives in it.

use anyhow::{bail, Context, Result};
use nix::sched::{setns, CloneFlags};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType as T};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct Namespace {
    pub typ: T,
    pub path: Option<PathBuf>,
}

/// Every namespace type tong makes or joins (the `features` list).
pub const ALL: [T; 8] = [
    T::Cgroup,
    T::Ipc,
    T::Mount,
    T::Network,
    T::Pid,
    T::Time,
    T::User,
    T::Uts,
];

pub fn flag(t: T) -> CloneFlags {
    match t {
        T::Mount => CloneFlags::CLONE_NEWNS,
        T::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        T::Uts => CloneFlags::CLONE_NEWUTS,
        T::Ipc => CloneFlags::CLONE_NEWIPC,
        T::User => CloneFlags::CLONE_NEWUSER,
        T::Pid => CloneFlags::CLONE_NEWPID,
        T::Network => CloneFlags::CLONE_NEWNET,
        T::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// The name under /proc/PID/ns/ (pid and time are entered through their
/// `_for_children` links by the parent).
pub fn proc_name(t: T) -> &'static str {
    match t {
        T::Mount => "mnt",
        T::Cgroup => "cgroup",
        T::Uts => "uts",
        T::Ipc => "ipc",
        T::User => "user",
        T::Pid => "pid",
        T::Network => "net",
        T::Time => "time",
    }
}

pub struct NsPlan {
    pub list: Vec<Namespace>,
}

impl NsPlan {
    pub fn get(&self, t: T) -> Option<&Namespace> {
        self.list.iter().find(|n| n.typ == t)
    }
    pub fn is_new(&self, t: T) -> bool {
        self.get(t).is_some_and(|n| n.path.is_none())
    }
    pub fn has(&self, t: T) -> bool {
        self.get(t).is_some()
    }
    /// Some namespace is joined by path (an existing one, made by others).
    pub fn joins_any(&self) -> bool {
        self.list.iter().any(|n| n.path.is_some())
    }

    /// Flags for clone3: every new namespace but cgroup and time (the init makes those).
    pub fn clone_flags(&self) -> CloneFlags {
        let mut f = CloneFlags::empty();
        for n in self.list.iter().filter(|n| n.path.is_none()) {
            let late = matches!(n.typ, T::Cgroup | T::Time) || n.typ == T::Ipc && self.has(T::User);
            if !late {
                f |= flag(n.typ);
            }
        }
        f
    }

    /// With a user namespace the IPC namespace is made once the init is root
    /// in it, as runc does: its mqueue filesystem (/dev/mqueue) is owned by
    /// whoever made the namespace, the container's root rather than an
    /// unmapped host uid.
    pub fn ipc_late(&self) -> bool {
        self.has(T::User) && self.is_new(T::Ipc)
    }
}

/// runc's check of the namespaces joined by path before anything is made for
/// the container's process, in its order and words: each path must exist.
pub fn check_paths(ns: &NsPlan) -> Result<()> {
    const ORDER: [T; 8] = [
        T::User,
        T::Ipc,
        T::Uts,
        T::Network,
        T::Pid,
        T::Mount,
        T::Cgroup,
        T::Time,
    ];
    for t in ORDER {
        if let Some(p) = ns.get(t).and_then(|n| n.path.as_ref()) {
            std::fs::symlink_metadata(p).map_err(|e| {
                anyhow::anyhow!(
                    "unable to create new parent process: namespace path: lstat {}: {e}",
                    p.display()
                )
            })?;
        }
    }
    Ok(())
}

/// The parent's own namespaces, saved while it stands in joined ones for the clone.
pub struct ParentJoin {
    saved: Vec<(File, CloneFlags)>,
    /// Joined by the init itself, first thing after Proceed: namespaces the
    /// parent could enter but never leave again (see [`ParentJoin::enter`]).
    pub deferred: Vec<(File, CloneFlags)>,
}

/// Whether this process may setns back into its own namespace `own` once it
/// left it: it needs CAP_SYS_ADMIN in the user namespace that owns it, which
/// it has in the initial user namespace (as root) or when that owner is its
/// own user namespace, never when the owner is an ancestor: tong run by
/// rootless Podman is root of Podman's user namespace, its network namespace
/// is still the host's.
pub fn can_return(own: &File) -> bool {
    if !crate::rootless::in_user_namespace() {
        return true;
    }
    const NS_GET_USERNS: libc::c_ulong = 0xb701;
    // SAFETY: the ioctl takes no argument and returns a new fd or -1.
    let fd = unsafe { libc::ioctl(own.as_raw_fd(), NS_GET_USERNS as _) };
    if fd < 0 {
        // EPERM: the owner is outside our user namespace, an ancestor.
        return std::io::Error::last_os_error().raw_os_error() != Some(libc::EPERM);
    }
    // SAFETY: a new fd that nothing else owns.
    let owner = unsafe { OwnedFd::from_raw_fd(fd) };
    let (Ok(a), Ok(b)) = (
        nix::sys::stat::fstat(owner.as_raw_fd()),
        nix::sys::stat::stat("/proc/self/ns/user"),
    ) else {
        return true;
    };
    (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
}

impl ParentJoin {
    /// Enters every namespace joined by path except user (the init joins that).
    /// A network, ipc, uts, cgroup or mount namespace the parent could not
    /// return from (its own belongs to an ancestor user namespace) is left to
    /// the init instead, which is born in the parent's user namespace (the
    /// config makes none) and so may join it: runc's init joins everything
    /// itself. With a new user namespace the init could not (its powers are
    /// in that one only), nor for pid and time (they take effect for
    /// children): refused before anything is made.
    pub fn enter(ns: &NsPlan) -> Result<ParentJoin> {
        let mut join = ParentJoin {
            saved: Vec::new(),
            deferred: Vec::new(),
        };
        // Open every target (and our own namespace of that type) first, and
        // decide who joins it, so a bad path or a join nobody may make fails
        // before we move at all.
        let mut targets = Vec::new();
        for n in &ns.list {
            let (Some(path), false) = (&n.path, n.typ == T::User) else {
                continue;
            };
            let typ = n.typ;
            let f = File::open(path)
                .with_context(|| format!("open {} namespace {}", proc_name(typ), path.display()))?;
            let own = match typ {
                T::Pid => "/proc/self/ns/pid_for_children".to_string(),
                T::Time => "/proc/self/ns/time_for_children".to_string(),
                t => format!("/proc/self/ns/{}", proc_name(t)),
            };
            let saved = File::open(&own).with_context(|| format!("open {own}"))?;
            let defer = !can_return(&saved);
            if defer {
                let deferrable = matches!(typ, T::Network | T::Ipc | T::Uts | T::Cgroup | T::Mount);
                if !deferrable || ns.has(T::User) {
                    bail!(
                        "join {} namespace {}: tong runs in a user namespace that does not own its own {} namespace, so it could not return to it, and {}",
                        proc_name(typ),
                        path.display(),
                        proc_name(typ),
                        if deferrable {
                            "an init in a new user namespace may not join it"
                        } else {
                            "only children are born in a joined one"
                        }
                    );
                }
            }
            targets.push((typ, path.clone(), f, saved, defer));
        }
        for (typ, path, f, saved, defer) in targets {
            if defer {
                join.deferred.push((f, flag(typ)));
                continue;
            }
            setns(f.as_fd(), flag(typ))
                .with_context(|| format!("join {} namespace {}", proc_name(typ), path.display()))?;
            join.saved.push((saved, flag(typ)));
        }
        Ok(join)
    }

    /// Returns the parent to the namespaces it started in (the deferred ones
    /// stay open for the init, until the parent drops them).
    pub fn restore(&mut self) -> Result<()> {
        while let Some((f, fl)) = self.saved.pop() {
            setns(f.as_fd(), fl).context("return to the runtime's namespace")?;
        }
        Ok(())
    }
}

/// Writes uid_map and gid_map of a child in a new user namespace (directly,
/// or through newuidmap/newgidmap: `rootless::write_id_map`).
pub fn write_id_maps(pid: i32, uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> Result<()> {
    if uids.is_empty() || gids.is_empty() {
        bail!("user namespace requires linux.uidMappings and linux.gidMappings");
    }
    crate::rootless::write_id_map(pid, false, uids)?;
    crate::rootless::write_id_map(pid, true, gids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_flags_leave_cgroup_time_and_joined_to_the_init() {
        let ns = NsPlan {
            list: vec![
                Namespace {
                    typ: T::Pid,
                    path: None,
                },
                Namespace {
                    typ: T::Network,
                    path: Some("/run/netns/x".into()),
                },
                Namespace {
                    typ: T::Cgroup,
                    path: None,
                },
                Namespace {
                    typ: T::Time,
                    path: None,
                },
                Namespace {
                    typ: T::Mount,
                    path: None,
                },
            ],
        };
        let f = ns.clone_flags();
        assert_eq!(f, CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS);
        let userns = |list: Vec<T>| NsPlan {
            list: list
                .into_iter()
                .map(|typ| Namespace { typ, path: None })
                .collect(),
        };
        let with_user = userns(vec![T::User, T::Ipc]);
        assert_eq!(with_user.clone_flags(), CloneFlags::CLONE_NEWUSER);
        assert!(with_user.ipc_late());
        let without = userns(vec![T::Ipc]);
        assert_eq!(without.clone_flags(), CloneFlags::CLONE_NEWIPC);
        assert!(!without.ipc_late());
        assert!(ns.is_new(T::Cgroup) && !ns.is_new(T::Network) && ns.has(T::Network));
    }
}
