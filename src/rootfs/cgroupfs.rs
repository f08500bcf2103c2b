//! A `cgroup` mount: on a v1/hybrid host a tmpfs holding one directory per
//! hierarchy, on a v2 host a cgroup2 mount; with a cgroup namespace each
//! hierarchy is mounted afresh (rooted at the container's cgroup), without one
//! the container's own cgroup directories are bind-mounted.

use super::mounts::{remount_bind, MountCtx};
use super::options::MountOptions;
use crate::cgroups::{Hierarchies, Hierarchy};
use crate::safe_fs::{self, fd_path};
use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Our cgroup path in hierarchy `h`, from the text of /proc/self/cgroup.
fn own_path(own: &str, h: &Hierarchy) -> Option<PathBuf> {
    let data = h.mount_data();
    let want: Vec<&str> = data.split(',').collect();
    own.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        let hit = if h.unified {
            ctrls.is_empty()
        } else {
            !ctrls.is_empty() && ctrls.split(',').all(|c| want.contains(&c))
        };
        hit.then(|| PathBuf::from(path))
    })
}

pub fn mount_cgroup(ctx: &MountCtx, dest: &Path, opts: &MountOptions) -> Result<()> {
    let flags = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    let list = Hierarchies::from_mounts(ctx.host_mounts).all;
    // Without a cgroup namespace our own cgroups are bound: where they are is
    // read once for all hierarchies.
    let own = if ctx.cgroupns {
        String::new()
    } else {
        crate::mountinfo::read_proc("/proc/self/cgroup").unwrap_or_default()
    };
    let unified_only = list.iter().all(|h| h.unified);
    if unified_only {
        let h = list
            .first()
            .context("no cgroup hierarchy mounted on the host")?;
        let target = safe_fs::mkdir_all(ctx.root, dest, 0o755)?;
        return one(ctx, &own, h, flags, target, (ctx.root, dest), dest);
    }
    let target = safe_fs::mkdir_all(ctx.root, dest, 0o755)?;
    mount(
        Some("tmpfs"),
        fd_path(&target).as_str(),
        Some("tmpfs"),
        (flags & !MsFlags::MS_RDONLY) | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=755"),
    )
    .context("mount tmpfs for cgroup hierarchies")?;
    // The tmpfs is new and ours: each hierarchy's directory is made right in it.
    let tmpfs = safe_fs::open_in_root(ctx.root, dest, libc::O_PATH | libc::O_DIRECTORY)
        .with_context(|| format!("open {}", dest.display()))?;
    // As runc: on a v1/hybrid host the container sees the v1 hierarchies only.
    for h in list.iter().filter(|h| !h.unified) {
        let name = h.mount.file_name().context("cgroup mountpoint")?;
        let target = safe_fs::mkdir_child(tmpfs.as_fd(), name, 0o755)?;
        let at = (tmpfs.as_fd(), Path::new(name));
        one(ctx, &own, h, flags, target, at, &dest.join(name))?;
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        remount_bind(
            tmpfs.as_fd(),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        )?;
    }
    Ok(())
}

/// Mounts hierarchy `h` on `target`, the directory `at.1` resolves to inside
/// `at.0` (looked up again for the mount on it); `dest` is for messages.
fn one(
    ctx: &MountCtx,
    own: &str,
    h: &Hierarchy,
    flags: MsFlags,
    target: OwnedFd,
    at: (BorrowedFd, &Path),
    dest: &Path,
) -> Result<()> {
    let what = || format!("mount cgroup {} on {}", h.mount.display(), dest.display());
    let mut own = std::borrow::Cow::Borrowed(own);
    if ctx.cgroupns {
        let fstype = if h.unified { "cgroup2" } else { "cgroup" };
        let data = (!h.unified).then(|| h.mount_data());
        match mount(
            Some(fstype),
            fd_path(&target).as_str(),
            Some(fstype),
            flags,
            data.as_deref(),
        ) {
            // EBUSY: the kernel refuses a new mount of a superblock on a spot
            // where that superblock is mounted already, as under a rootless
            // `rbind` of /sys (cgroup2 has one). A detached cgroup2 mount
            // (rooted at our cgroup namespace's root, as the mount would be)
            // attached there is not a new mount of it.
            Err(Errno::EBUSY) if h.unified => {
                return attach_new_cgroup2(&target, flags).with_context(what);
            }
            // As runc: a cgroup2 this user namespace may not mount (it does
            // not own the cgroup namespace) is bound instead.
            Err(Errno::EPERM) if h.unified => {
                own = crate::mountinfo::read_proc("/proc/self/cgroup")
                    .unwrap_or_default()
                    .into();
            }
            r => return r.map(drop).with_context(what),
        }
    }
    let rel = own_path(&own, h).unwrap_or_else(|| PathBuf::from("/"));
    let src = h.mount.join(rel.strip_prefix("/").unwrap_or(&rel));
    let bind = |src: &Path| {
        mount(
            Some(src),
            fd_path(&target).as_str(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
    };
    // Our cgroup isn't there (not visible from here): the hierarchy's root.
    match bind(&src) {
        Err(Errno::ENOENT) if src != h.mount => bind(&h.mount),
        r => r,
    }
    .with_context(what)?;
    let extra = flags | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let top = safe_fs::open_in_root(at.0, at.1, libc::O_PATH)
        .with_context(|| format!("open {}", dest.display()))?;
    remount_bind(top.as_fd(), extra).with_context(what)
}

/// A detached cgroup2 mount (fsmount) with `flags`' attributes, attached on `target`.
fn attach_new_cgroup2(target: &OwnedFd, flags: MsFlags) -> Result<()> {
    use super::mountapi;
    let mut attrs = 0u64;
    for (f, a) in [
        (MsFlags::MS_RDONLY, 0x1),
        (MsFlags::MS_NOSUID, 0x2),
        (MsFlags::MS_NODEV, 0x4),
        (MsFlags::MS_NOEXEC, 0x8),
    ] {
        if flags.contains(f) {
            attrs |= a;
        }
    }
    let m = mountapi::new_fs(c"cgroup2", attrs).context("fsmount cgroup2")?;
    mountapi::attach(m.as_fd(), target.as_fd()).context("move_mount cgroup2")?;
    Ok(())
}
