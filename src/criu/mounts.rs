//! What CRIU must be told about a container's mounts, as runc tells it.
//!
//! CRIU can dump a mount only if it can find where it comes from inside the
//! dumped mount tree; a bind mount from the host cannot be, so it is
//! declared *external*: at dump with the key (the mountpoint) as its name in
//! the image, at restore with the host path to bind there. Those are the
//! config's bind mounts, the cgroup directories a `cgroup` mount binds when
//! the container has no cgroup namespace (tong, like runc on v1, binds the
//! container's own cgroup), the masked files (binds of /dev/null) and the
//! device nodes (host binds in a user namespace).
//!
//! The restore's root: CRIU needs it to be a mount point whose parent is not
//! overmounted, so the rootfs is bind-mounted on STATE/criu-root, and the
//! mountpoints the original create made are made again (a fresh rootfs lacks
//! them). All of that happens in criu's own mount namespace (a private copy
//! made in the forked child, `prepare_root`), so none of it is ever seen on
//! the host or left behind, whatever happens to tong or criu.

use super::rpc::ExtMountMap;
use crate::cgroups::Hierarchies;
use crate::rootfs::mounts::destination;
use crate::rootfs::options;
use crate::safe_fs::{self, fd_path};
use anyhow::{Context, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use oci_spec::runtime::{LinuxNamespaceType as T, Mount, Spec};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

fn is_bind(m: &Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || options::parse(m.options().as_deref().unwrap_or(&[]))
            .flags
            .contains(MsFlags::MS_BIND)
}

fn mounts(spec: &Spec) -> &[Mount] {
    spec.mounts().as_deref().unwrap_or(&[])
}

fn has_ns(spec: &Spec, t: T) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == t))
}

/// `dest` as a path inside the rootfs with symlinks resolved in the root
/// (runc: SecureJoin), else as written.
fn in_root(rootfs: &Path, dest: &Path) -> String {
    let resolved = std::fs::File::open(rootfs).ok().and_then(|root| {
        let fd = safe_fs::open_in_root(root.as_fd(), dest, libc::O_PATH).ok()?;
        let real = std::fs::read_link(fd_path(&fd)).ok()?;
        let rel = real.strip_prefix(rootfs).ok()?;
        Some(Path::new("/").join(rel))
    });
    resolved
        .unwrap_or_else(|| dest.to_path_buf())
        .display()
        .to_string()
}

fn ext(key: impl Into<String>, val: impl Into<String>) -> ExtMountMap {
    ExtMountMap {
        key: key.into(),
        val: val.into(),
    }
}

/// A `cgroup` mount without a cgroup namespace: (mountpoint in the
/// container, the host directory bound there for a container in cgroup
/// `cgroup_path`). Pure v2: the mount itself; v1: one per v1 hierarchy.
fn cgroup_binds(dest: &Path, cgroup_path: &Path) -> Vec<(PathBuf, PathBuf)> {
    let h = Hierarchies::read();
    let rel = cgroup_path.strip_prefix("/").unwrap_or(cgroup_path);
    if h.all.iter().all(|h| h.unified) {
        return h
            .all
            .first()
            .map(|u| vec![(dest.to_path_buf(), u.mount.join(rel))])
            .unwrap_or_default();
    }
    h.all
        .iter()
        .filter(|h| !h.unified)
        .filter_map(|h| {
            let name = h.mount.file_name()?;
            Some((dest.join(name), h.mount.join(rel)))
        })
        .collect()
}

fn device_paths(spec: &Spec) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = crate::rootfs::devices::defaults()
        .into_iter()
        .map(|d| d.path)
        .collect();
    if let Some(devs) = spec.linux().as_ref().and_then(|l| l.devices().as_ref()) {
        v.extend(devs.iter().map(|d| d.path().clone()));
    }
    v
}

/// The external mounts of a dump: each keyed by its mountpoint.
pub fn dump_ext(spec: &Spec, rootfs: &Path, pid: i32, cgroup_path: &Path) -> Vec<ExtMountMap> {
    let mut out = Vec::new();
    let cgroupns = has_ns(spec, T::Cgroup);
    for m in mounts(spec) {
        let dest = destination(m);
        if is_bind(m) {
            let k = in_root(rootfs, &dest);
            out.push(ext(k.clone(), k));
        } else if m.typ().as_deref() == Some("cgroup") && !cgroupns {
            for (d, _) in cgroup_binds(&dest, cgroup_path) {
                let k = in_root(rootfs, &d);
                out.push(ext(k.clone(), k));
            }
        }
    }
    // Masked files are binds of /dev/null (directories get a tmpfs).
    let masked = spec
        .linux()
        .as_ref()
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default();
    for p in masked {
        match std::fs::metadata(format!("/proc/{pid}/root/{p}")) {
            Ok(md) if !md.is_dir() => out.push(ext(p, "/dev/null")),
            _ => {}
        }
    }
    for d in device_paths(spec) {
        let k = in_root(rootfs, &d);
        out.push(ext(k.clone(), k));
    }
    out
}

/// A bind mount's source: relative ones are relative to the bundle.
fn source(m: &Mount, bundle: &Path) -> PathBuf {
    let s = m.source().clone().unwrap_or_default();
    if s.is_absolute() {
        s
    } else {
        bundle.join(s)
    }
}

/// The external mounts of a restore: each image key mapped to what the
/// new container binds there.
pub fn restore_ext(
    spec: &Spec,
    bundle: &Path,
    rootfs: &Path,
    cgroup_path: &Path,
) -> Vec<ExtMountMap> {
    let mut out = Vec::new();
    let cgroupns = has_ns(spec, T::Cgroup);
    for m in mounts(spec) {
        let dest = destination(m);
        if is_bind(m) {
            out.push(ext(
                in_root(rootfs, &dest),
                source(m, bundle).display().to_string(),
            ));
        } else if m.typ().as_deref() == Some("cgroup") && !cgroupns {
            for (d, host) in cgroup_binds(&dest, cgroup_path) {
                out.push(ext(in_root(rootfs, &d), host.display().to_string()));
            }
        }
    }
    let has_masks = spec
        .linux()
        .as_ref()
        .and_then(|l| l.masked_paths().as_ref())
        .is_some_and(|m| !m.is_empty());
    if has_masks {
        out.push(ext("/dev/null", "/dev/null"));
    }
    for d in device_paths(spec) {
        let k = in_root(rootfs, &d);
        out.push(ext(k.clone(), d.display().to_string()));
    }
    out
}

/// In the forked criu child, before exec: a private copy of the mount
/// namespace, the mountpoints made again in the rootfs, the rootfs bound on
/// `criu_root`. Nothing here outlives criu.
pub fn prepare_root(spec: &Spec, bundle: &Path, rootfs: &Path, criu_root: &Path) -> Result<()> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .context("unshare the mount namespace for criu")?;
    // Slave: nothing we mount propagates back to the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .context("make criu's mounts private")?;
    make_mountpoints(spec, bundle, rootfs)?;
    mount(
        Some(rootfs),
        criu_root,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| format!("bind the rootfs on {}", criu_root.display()))?;
    Ok(())
}

/// runc's prepareCriuRestoreMounts: every mountpoint not inside a tmpfs
/// (CRIU restores tmpfs contents) is made in the rootfs; each bind mount is
/// mounted for a moment so the mountpoints of mounts nested in it are made
/// in its source, as at create. The binds are undone before criu runs.
fn make_mountpoints(spec: &Spec, bundle: &Path, rootfs: &Path) -> Result<()> {
    let root: OwnedFd = std::fs::File::open(rootfs)
        .with_context(|| format!("open rootfs {}", rootfs.display()))?
        .into();
    let tmpfs: Vec<PathBuf> = mounts(spec)
        .iter()
        .filter(|m| m.typ().as_deref() == Some("tmpfs"))
        .map(destination)
        .collect();
    let mut bound: Vec<PathBuf> = Vec::new();
    let r = (|| -> Result<()> {
        for m in mounts(spec) {
            let dest = destination(m);
            if tmpfs.iter().any(|t| dest.starts_with(t) && dest != *t) {
                continue;
            }
            if m.typ().as_deref() == Some("cgroup") {
                // v1: inside a tmpfs; v2: appears with /sys.
                continue;
            }
            let what = || format!("create criu restore mountpoint for {}", dest.display());
            if is_bind(m) {
                let src = source(m, bundle);
                let target = if std::fs::metadata(&src)
                    .map(|md| md.is_dir())
                    .unwrap_or(true)
                {
                    safe_fs::mkdir_all(root.as_fd(), &dest, 0o755).with_context(what)?
                } else {
                    safe_fs::touch(root.as_fd(), &dest).with_context(what)?
                };
                mount(
                    Some(&src),
                    fd_path(&target).as_str(),
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&str>,
                )
                .with_context(|| format!("bind {} for the restore", src.display()))?;
                bound.push(dest);
            } else {
                safe_fs::ensure_dir(root.as_fd(), &dest, 0o755).with_context(what)?;
            }
        }
        Ok(())
    })();
    for d in bound.iter().rev() {
        if let Ok(fd) = safe_fs::open_in_root(root.as_fd(), d, libc::O_PATH) {
            let _ = umount2(fd_path(&fd).as_str(), MntFlags::MNT_DETACH);
        }
    }
    r
}
