//! Idmapped bind mounts (runtime-spec `mounts[].uidMappings/gidMappings`,
//! the `idmap` and `ridmap` options). The parent makes each one, because
//! only it is privileged over the source where the source lives (the host's
//! mount namespace and user namespace): a detached copy of the source tree
//! (open_tree OPEN_TREE_CLONE), idmapped through a user namespace
//! (mount_setattr MOUNT_ATTR_IDMAP), then handed to the init over the sync
//! socket (`Msg::MountFds`), which attaches it in its own mount namespace
//! (move_mount) where the spec puts the mount.
//!
//! The user namespace is the mount's own mappings (a throw-away namespace
//! made for them, as runc 1.2 does; mounts with the same mappings share one)
//! or, without mappings, the container's.

use super::mountapi;
use super::options::{attr, MountOptions};
use crate::bundle::Plan;
use crate::process::clone::{clone3_into, Forked};
use anyhow::{Context, Result};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType as T};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What bundle.rs decided for one idmapped mount.
#[derive(Clone, Debug, PartialEq)]
pub struct IdMapPlan {
    /// Every submount idmapped too (`ridmap`), not just the top one.
    pub recursive: bool,
    /// The mount's own mappings; None: the container's user namespace.
    pub maps: Option<Maps>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Maps {
    pub uids: Vec<LinuxIdMapping>,
    pub gids: Vec<LinuxIdMapping>,
}

/// Detached idmapped trees, by index in `mounts`, for the init.
pub type Prepared = Vec<(usize, OwnedFd)>;

/// The bind source of a mount, as the init would resolve it.
pub fn source(bundle: &Path, m: &oci_spec::runtime::Mount) -> PathBuf {
    let src = m.source().clone().unwrap_or_default();
    if src.is_absolute() {
        src
    } else {
        bundle.join(src)
    }
}

/// In the parent, once the init exists and its id maps are written: every
/// idmapped mount of the plan, ready to be attached.
pub fn prepare(plan: &Plan, init: Pid) -> Result<Prepared> {
    let mut out = Vec::new();
    // One throw-away user namespace per distinct set of mappings.
    let mut made: Vec<(Maps, OwnedFd)> = Vec::new();
    let mut container_ns: Option<OwnedFd> = None;
    let specs = plan.spec.mounts().as_deref().unwrap_or(&[]);
    for (i, (m, pm)) in specs.iter().zip(&plan.mounts).enumerate() {
        let Some(idmap) = &pm.idmap else { continue };
        let what = || format!("mounts[{i}] ({})", m.destination().display());
        let userns = match &idmap.maps {
            Some(maps) => {
                if !made.iter().any(|(m, _)| m == maps) {
                    let fd = throwaway_userns(maps).with_context(what)?;
                    made.push((maps.clone(), fd));
                }
                let (_, fd) = made.iter().find(|(m, _)| m == maps).expect("just made");
                fd.as_fd()
            }
            None => {
                if container_ns.is_none() {
                    container_ns = Some(container_userns(plan, init).with_context(what)?);
                }
                container_ns.as_ref().expect("just opened").as_fd()
            }
        };
        let src = source(&plan.bundle, m);
        let tree = idmapped_tree(&src, &pm.opts, idmap.recursive, userns).with_context(what)?;
        out.push((i, tree));
    }
    Ok(out)
}

fn idmapped_tree(
    src: &Path,
    opts: &MountOptions,
    recursive: bool,
    userns: std::os::fd::BorrowedFd,
) -> Result<OwnedFd> {
    let rec_tree = opts.flags.contains(nix::mount::MsFlags::MS_REC);
    let tree = mountapi::clone_tree(src, rec_tree)
        .with_context(|| format!("open_tree {}", src.display()))?;
    mountapi::set_attr(tree.as_fd(), recursive, attr::IDMAP, 0, Some(userns)).map_err(|e| {
        let why = match e.raw_os_error() {
            Some(libc::EINVAL) => {
                "the filesystem (or a submount of it) does not support idmapped mounts".to_string()
            }
            Some(libc::ENOSYS) => "the kernel has no mount_setattr (Linux 5.12+)".to_string(),
            Some(libc::EPERM) => "not permitted (tong must run as root on the host)".to_string(),
            _ => e.to_string(),
        };
        anyhow::anyhow!("cannot idmap {}: {why}", src.display())
    })?;
    Ok(tree)
}

/// The container's user namespace: joined by path, or the init's own.
fn container_userns(plan: &Plan, init: Pid) -> Result<OwnedFd> {
    let path = match plan.ns.get(T::User).and_then(|n| n.path.clone()) {
        Some(p) => p,
        None => PathBuf::from(format!("/proc/{init}/ns/user")),
    };
    let f = std::fs::File::open(&path)
        .with_context(|| format!("open user namespace {}", path.display()))?;
    Ok(f.into())
}

/// A user namespace with `maps`, held by an fd: a child made in it lives
/// just long enough for its maps to be written and the namespace opened.
fn throwaway_userns(maps: &Maps) -> Result<OwnedFd> {
    let (forked, _) = clone3_into(libc::CLONE_NEWUSER as u64, None)?;
    let (pid, pidfd) = match forked {
        Forked::Child => {
            // SAFETY: prctl and pause only; the child never returns and
            // leaves with the SIGKILL its parent sends (or its death).
            unsafe {
                libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                );
                loop {
                    libc::pause();
                }
            }
        }
        Forked::Parent { pid, pidfd } => (pid, pidfd),
    };
    let r = (|| {
        crate::namespaces::write_id_maps(pid.as_raw(), &maps.uids, &maps.gids)?;
        let f = std::fs::File::open(format!("/proc/{pid}/ns/user"))
            .context("open the mapping's user namespace")?;
        Ok::<OwnedFd, anyhow::Error>(f.into())
    })();
    let _ = crate::signals::pidfd_send(&pidfd, libc::SIGKILL);
    let _ = nix::sys::wait::waitpid(pid, None);
    r.context("make a user namespace for the mount's uidMappings/gidMappings")
}
