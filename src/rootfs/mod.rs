//! The container's filesystem, in runc's order: propagation of `/`, the rootfs
//! bound onto itself, the spec's mounts, /dev, then (after the hooks) pivot and
//! the finishing steps.

pub mod cgroupfs;
pub mod devices;
pub mod finalize;
pub mod idmap;
pub mod mountapi;
pub mod mounts;
pub mod options;
pub mod pivot;

use crate::bundle::Plan;
use anyhow::{Context, Result};
use nix::mount::{mount, MsFlags};
use oci_spec::runtime::LinuxNamespaceType as T;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

fn root_propagation(plan: &Plan) -> Option<MsFlags> {
    plan.linux()
        .and_then(|l| l.rootfs_propagation().as_deref())
        .filter(|p| !p.is_empty())
        .and_then(options::propagation)
}

/// The propagation of `/` while the rootfs is being set up. An unbindable
/// `/` (or rootfs below it) cannot be bound onto itself: as runc 1.2.7+,
/// 1.3.1+ and 1.4 (runc#4724), that one comes after pivot_root (`enter`).
fn setup_propagation(plan: &Plan) -> MsFlags {
    match root_propagation(plan) {
        Some(p) if !p.contains(MsFlags::MS_UNBINDABLE) => p,
        _ => MsFlags::MS_SLAVE | MsFlags::MS_REC,
    }
}

/// runc's words for a mount of the root's setup that failed.
fn preparing(
    src: Option<&Path>,
    dst: &Path,
    flags: MsFlags,
    e: nix::errno::Errno,
) -> anyhow::Error {
    let src = src.map(|s| s.to_string_lossy().into_owned());
    mounts::mount_failed(src.as_deref(), dst, None, flags, None, e)
        .context("error preparing rootfs")
}

/// Everything before the hooks and pivot_root. `prepared`: the idmapped
/// trees the parent made (`idmap::prepare`), by mount index.
pub fn prepare(plan: &Plan, mut prepared: idmap::Prepared) -> Result<()> {
    let prop = setup_propagation(plan);
    mount(None::<&str>, "/", None::<&str>, prop, None::<&str>)
        .map_err(|e| preparing(None, Path::new("/"), prop, e))?;
    let host_mounts = crate::mountinfo::read()?;
    make_parent_private(&plan.rootfs, &host_mounts)?;
    let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
    mount(
        Some(&plan.rootfs),
        &plan.rootfs,
        None::<&str>,
        bind,
        None::<&str>,
    )
    .map_err(|e| preparing(Some(&plan.rootfs), &plan.rootfs, bind, e))?;
    let root = std::fs::File::open(&plan.rootfs).context("open rootfs")?;
    let ctx = mounts::MountCtx {
        root: root.as_fd(),
        bundle: &plan.bundle,
        cgroupns: plan.ns.is_new(T::Cgroup),
        host_mounts: &host_mounts,
    };
    let spec_mounts = plan.spec.mounts().as_deref().unwrap_or(&[]);
    for (i, (m, pm)) in spec_mounts.iter().zip(&plan.mounts).enumerate() {
        let tree = prepared
            .iter()
            .position(|(n, _)| *n == i)
            .map(|p| prepared.swap_remove(p).1);
        if pm.idmap.is_some() && tree.is_none() {
            anyhow::bail!("mounts[{i}]: the idmapped mount was not prepared");
        }
        mounts::mount_one(&ctx, i, m, pm, tree)?;
    }
    let dev_bound = spec_mounts.iter().any(|m| {
        mounts::destination(m) == Path::new("/dev")
            && (m.typ().as_deref() == Some("bind")
                || m.options()
                    .iter()
                    .flatten()
                    .any(|o| o == "bind" || o == "rbind"))
    });
    let in_userns = plan.ns.has(T::User);
    let mut devs = if dev_bound {
        Vec::new()
    } else {
        devices::defaults()
    };
    for d in plan
        .linux()
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
    {
        let d = devices::from_spec(d)?;
        if devices::already_there(root.as_fd(), &d)? {
            continue;
        }
        devs.retain(|x| x.path != d.path);
        devs.push(d);
    }
    let mut dirs = devices::Dirs::new(root.as_fd());
    for d in &devs {
        devices::create(&mut dirs, d, in_userns)
            .with_context(|| format!("create device {}", d.path.display()))?;
    }
    if !dev_bound {
        devices::symlinks(&mut dirs)?;
    }
    Ok(())
}

/// pivot_root refuses a rootfs whose parent mount is shared.
fn make_parent_private(rootfs: &Path, mounts: &[crate::mountinfo::MountEntry]) -> Result<()> {
    let mut best: Option<&crate::mountinfo::MountEntry> = None;
    for m in mounts {
        if rootfs.starts_with(&m.mountpoint)
            && best.is_none_or(|b| m.mountpoint.as_os_str().len() >= b.mountpoint.as_os_str().len())
        {
            best = Some(m);
        }
    }
    if let Some(m) = best.filter(|m| m.shared) {
        let private = MsFlags::MS_PRIVATE;
        mount(
            None::<&str>,
            &m.mountpoint,
            None::<&str>,
            private,
            None::<&str>,
        )
        .map_err(|e| preparing(None, &m.mountpoint, private, e))?;
    }
    Ok(())
}

/// pivot_root (or move + chroot), then rootfsPropagation on the new `/`.
pub fn enter(plan: &Plan, no_pivot: bool) -> Result<()> {
    if no_pivot {
        pivot::move_root(&plan.rootfs)?;
    } else {
        pivot::pivot(&plan.rootfs)?;
    }
    if let Some(p) = root_propagation(plan) {
        mount(None::<&str>, "/", None::<&str>, p, None::<&str>).context("set rootfsPropagation")?;
    }
    Ok(())
}

/// Deferred read-only mounts, sysctl, readonly and masked paths, read-only
/// root: the last mount steps.
/// `root` is the container's `/`, after pivot.
pub fn finish(plan: &Plan, root: BorrowedFd) -> Result<()> {
    // First, as runc's finalizeRootfs: a masked path bound from a read-only
    // /dev is read-only too.
    mounts::read_only_later(
        root,
        plan.spec.mounts().as_deref().unwrap_or(&[]),
        &plan.mounts,
    )?;
    if let Some(l) = plan.linux() {
        if let Some(s) = l.sysctl() {
            finalize::sysctls(s)?;
        }
        finalize::readonly_paths(root, l.readonly_paths().as_deref().unwrap_or(&[]))?;
        finalize::masked_paths(root, l.masked_paths().as_deref().unwrap_or(&[]))?;
    }
    if plan
        .spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        finalize::readonly_root(root)?;
    }
    finalize::reopen_dev_null()
}
