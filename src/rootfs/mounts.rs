//! The spec's mounts, in order, each onto a target resolved inside the rootfs and
//! mounted through its fd.

use super::mountapi;
use super::options::MountOptions;
use crate::safe_fs::{self, fd_path};
use anyhow::{anyhow, bail, Context, Result};
use nix::mount::{mount, MsFlags};
use oci_spec::runtime::Mount;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

pub struct MountCtx<'a> {
    pub root: BorrowedFd<'a>,
    pub bundle: &'a Path,
    pub cgroupns: bool,
    /// The mount table from before our first mount (see mountinfo.rs).
    pub host_mounts: &'a [crate::mountinfo::MountEntry],
}

/// One entry of `mounts` as bundle.rs planned it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlannedMount {
    pub opts: MountOptions,
    pub idmap: Option<super::idmap::IdMapPlan>,
}

/// Flags that are about the mount itself, not the filesystem.
fn fs_flags(o: &MountOptions) -> MsFlags {
    o.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT)
}

pub fn destination(m: &Mount) -> PathBuf {
    let d = m.destination();
    if d.is_absolute() {
        d.clone()
    } else {
        Path::new("/").join(d)
    }
}

/// A bind mount's source: relative to the bundle, as runc (which runs in it)
/// resolves it.
fn bind_source(ctx: &MountCtx, m: &Mount) -> PathBuf {
    let src = m.source().clone().unwrap_or_default();
    if src.is_absolute() {
        src
    } else {
        ctx.bundle.join(src)
    }
}

/// runc 1.2's words for a failed mount(2): what was mounted where (the
/// container's path, and the fd it went through), with which flags and data.
pub fn mount_failed(
    src: Option<&str>,
    dst: &Path,
    dst_fd: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
    e: nix::errno::Errno,
) -> anyhow::Error {
    let mut s = String::from("mount ");
    if let Some(src) = src.filter(|s| !s.is_empty()) {
        s.push_str(&format!("src={src}, "));
    }
    s.push_str(&format!("dst={}", dst.display()));
    if let Some(fd) = dst_fd {
        s.push_str(&format!(", dstFd={fd}"));
    }
    if !flags.is_empty() {
        s.push_str(&format!(", flags=0x{:x}", flags.bits()));
    }
    if let Some(d) = data.filter(|d| !d.is_empty()) {
        s.push_str(&format!(", data={d}"));
    }
    anyhow!("{s}: {}", e.desc())
}

/// Mounts `mounts[index]`; `prepared` is its idmapped tree from the parent.
pub fn mount_one(
    ctx: &MountCtx,
    index: usize,
    m: &Mount,
    planned: &PlannedMount,
    prepared: Option<OwnedFd>,
) -> Result<()> {
    let typ = m.typ().as_deref().unwrap_or("");
    let opts = &planned.opts;
    let is_bind = typ == "bind" || opts.flags.contains(MsFlags::MS_BIND);
    // runc's words: the source as it resolved it, the destination as given.
    let src = match is_bind {
        true => bind_source(ctx, m).to_string_lossy().into_owned(),
        false => m
            .source()
            .as_ref()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let what = || {
        format!(
            "error mounting {} to rootfs at {}",
            crate::logging::go_quote(&src),
            crate::logging::go_quote(&m.destination().to_string_lossy())
        )
    };
    crate::debug!("mounts[{index}]: {} on {}", src, m.destination().display());
    mount_planned(ctx, m, typ, is_bind, planned, prepared).with_context(what)
}

fn mount_planned(
    ctx: &MountCtx,
    m: &Mount,
    typ: &str,
    is_bind: bool,
    planned: &PlannedMount,
    prepared: Option<OwnedFd>,
) -> Result<()> {
    let dest = destination(m);
    let opts = &planned.opts;
    if let Some(tree) = prepared {
        attach(ctx, tree, &dest, opts)?;
    } else if is_bind {
        bind(ctx, m, &dest, opts)?;
    } else if typ == "cgroup" {
        super::cgroupfs::mount_cgroup(ctx, &dest, opts)?;
    } else {
        fresh(ctx, m, typ, &dest, opts)?;
    }
    if opts.has_recursive_attrs() {
        let target = reresolve(ctx, &dest)?;
        mountapi::set_attr(target.as_fd(), true, opts.rec_set, opts.rec_clear, None).map_err(
            |e| match e.raw_os_error() {
                Some(libc::ENOSYS) => {
                    anyhow!("recursive mount attributes need mount_setattr (Linux 5.12+)")
                }
                _ => anyhow!("set recursive mount attributes: {e}"),
            },
        )?;
    }
    for p in &opts.propagation {
        let target = reresolve(ctx, &dest)?;
        let fd = fd_path(&target);
        mount(None::<&str>, fd.as_str(), None::<&str>, *p, None::<&str>)
            .map_err(|e| mount_failed(None, &dest, Some(&fd), *p, None, e))?;
    }
    Ok(())
}

/// An idmapped tree the parent made, attached at `dest`, then the bind's flags.
fn attach(ctx: &MountCtx, tree: OwnedFd, dest: &Path, opts: &MountOptions) -> Result<()> {
    let st = nix::sys::stat::fstat(tree.as_raw_fd()).context("stat the idmapped tree")?;
    let target = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        safe_fs::mkdir_all(ctx.root, dest, 0o755)?
    } else {
        safe_fs::touch(ctx.root, dest)?
    };
    mountapi::attach(tree.as_fd(), target.as_fd()).context("attach the idmapped mount")?;
    let extra = fs_flags(opts);
    if !extra.is_empty() {
        remount_bind(reresolve(ctx, dest)?.as_fd(), extra)?;
    }
    Ok(())
}

fn reresolve(ctx: &MountCtx, dest: &Path) -> Result<OwnedFd> {
    safe_fs::open_in_root(ctx.root, dest, libc::O_PATH)
        .with_context(|| format!("open {}", dest.display()))
}

fn bind(ctx: &MountCtx, m: &Mount, dest: &Path, opts: &MountOptions) -> Result<()> {
    let src = bind_source(ctx, m);
    let meta = std::fs::metadata(&src).with_context(|| format!("stat {}", src.display()))?;
    let target = if meta.is_dir() {
        safe_fs::mkdir_all(ctx.root, dest, 0o755)?
    } else {
        safe_fs::touch(ctx.root, dest)?
    };
    let flags = MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC);
    let fd = fd_path(&target);
    mount(Some(&src), fd.as_str(), None::<&str>, flags, None::<&str>).map_err(|e| {
        mount_failed(
            Some(&src.to_string_lossy()),
            dest,
            Some(&fd),
            flags,
            None,
            e,
        )
    })?;
    let extra = fs_flags(opts);
    if !extra.is_empty() {
        remount_bind(reresolve(ctx, dest)?.as_fd(), extra)?;
    }
    Ok(())
}

/// Whether a fresh mount's read-only flag waits for `read_only_later`.
fn defers_read_only(typ: &str, dest: &Path) -> bool {
    typ == "tmpfs" || dest == Path::new("/dev")
}

/// After pivot_root (`root` is the container's `/`): the read-only tmpfs and
/// /dev mounts `fresh` left writable are made read-only, runc's
/// finalizeRootfs step.
pub fn read_only_later(root: BorrowedFd, mounts: &[Mount], planned: &[PlannedMount]) -> Result<()> {
    for (m, pm) in mounts.iter().zip(planned) {
        let typ = m.typ().as_deref().unwrap_or("");
        let dest = destination(m);
        let bound = typ == "bind" || pm.opts.flags.contains(MsFlags::MS_BIND);
        if bound || pm.idmap.is_some() || !pm.opts.flags.contains(MsFlags::MS_RDONLY) {
            continue;
        }
        if defers_read_only(typ, &dest) {
            let fd = safe_fs::open_in_root(root, &dest, libc::O_PATH | libc::O_NOFOLLOW)
                .with_context(|| format!("remount {} read-only", dest.display()))?;
            remount_bind(fd.as_fd(), fs_flags(&pm.opts))
                .with_context(|| format!("remount {} read-only", dest.display()))?;
        }
    }
    Ok(())
}

/// Re-applies a bind mount with `flags`, keeping the flags the kernel locks in a
/// user namespace (nosuid, nodev, noexec, atime) as they are.
pub fn remount_bind(target: BorrowedFd, flags: MsFlags) -> Result<()> {
    let locked = locked_flags(target);
    mount(
        None::<&str>,
        fd_path(&target).as_str(),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags | locked,
        None::<&str>,
    )
    .context("remount")?;
    Ok(())
}

fn locked_flags(fd: BorrowedFd) -> MsFlags {
    use nix::sys::statvfs::{fstatvfs, FsFlags};
    let Ok(st) = fstatvfs(fd) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (s, m) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(s) {
            out |= m;
        }
    }
    out
}

fn fresh(ctx: &MountCtx, m: &Mount, typ: &str, dest: &Path, opts: &MountOptions) -> Result<()> {
    if typ.is_empty() {
        bail!("mount type is empty");
    }
    let checked = if matches!(typ, "proc" | "sysfs") {
        refuse_symlink(ctx, dest)?
    } else {
        None
    };
    let target = match checked {
        Some(dir) => dir,
        None => safe_fs::mkdir_all(ctx.root, dest, 0o755)?,
    };
    let src = m
        .source()
        .as_ref()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| typ.to_string());
    let data = opts.data.join(",");
    let data = (!data.is_empty()).then_some(data);
    // A read-only tmpfs or /dev is made writable and turned read-only last
    // (`read_only_later`), as runc does: tmpcopyup, /dev's sub-mounts and
    // device nodes are written into it first.
    let flags = if defers_read_only(typ, dest) {
        fs_flags(opts) & !MsFlags::MS_RDONLY
    } else {
        fs_flags(opts)
    };
    // Keep a handle on what the tmpfs will cover, to copy it up afterwards.
    let below = if opts.tmpcopyup {
        Some(safe_fs::reopen_dir(&target)?)
    } else {
        None
    };
    let fd = fd_path(&target);
    let made = mount(
        Some(src.as_str()),
        fd.as_str(),
        Some(typ),
        flags,
        data.as_deref(),
    );
    match made {
        Ok(()) => {}
        // Rootless: gid=5 (tty) is not mapped in the user namespace.
        Err(nix::errno::Errno::EINVAL)
            if typ == "devpts" && opts.data.iter().any(|d| d.starts_with("gid=")) =>
        {
            let data: Vec<&str> = opts
                .data
                .iter()
                .map(String::as_str)
                .filter(|d| !d.starts_with("gid="))
                .collect();
            crate::debug!("devpts: gid not mapped, mounting without it");
            mount(
                Some(src.as_str()),
                fd.as_str(),
                Some(typ),
                flags,
                Some(data.join(",").as_str()),
            )?;
        }
        // A user namespace without its own network namespace may not mount
        // sysfs: the host's /sys, bound read-only, as runc's rootless spec.
        Err(nix::errno::Errno::EPERM) if typ == "sysfs" => {
            crate::debug!("sysfs: not permitted, binding /sys instead");
            mount(
                Some("/sys"),
                fd.as_str(),
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .context("bind /sys")?;
            let flags =
                MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
            remount_bind(reresolve(ctx, dest)?.as_fd(), fs_flags(opts) | flags)?;
        }
        Err(e) => {
            return Err(mount_failed(
                Some(&src),
                dest,
                Some(&fd),
                fs_flags(opts),
                data.as_deref(),
                e,
            ))
        }
    }
    if typ == "proc" {
        let now = reresolve(ctx, dest)?;
        if !safe_fs::is_procfs(now.as_fd()) {
            bail!(
                "{} is not a procfs after mounting proc on it",
                dest.display()
            );
        }
    }
    if let Some(below) = below {
        let top = reresolve(ctx, dest)?;
        copy_tree(Path::new(&fd_path(&below)), Path::new(&fd_path(&top))).context("tmpcopyup")?;
    }
    Ok(())
}

/// CVE-2019-16884/19921: an image may not turn /proc (or /sys) into a symlink
/// that sends the procfs mount, and our later writes to it, elsewhere. Returns
/// the destination if it is a directory already: the mount target.
fn refuse_symlink(ctx: &MountCtx, dest: &Path) -> Result<Option<OwnedFd>> {
    if let Ok(fd) = safe_fs::open_in_root(ctx.root, dest, libc::O_PATH | libc::O_NOFOLLOW) {
        let kind = nix::sys::stat::fstat(fd.as_raw_fd())?.st_mode & libc::S_IFMT;
        if kind == libc::S_IFLNK {
            bail!("mount destination {} is a symlink", dest.display());
        }
        if kind == libc::S_IFDIR {
            return Ok(Some(fd));
        }
    }
    Ok(None)
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{lchown, MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(from)?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let meta = std::fs::symlink_metadata(&src)?;
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if meta.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_tree(&src, &dst)?;
        } else if meta.is_file() {
            std::fs::copy(&src, &dst)?;
        } else {
            continue;
        }
        lchown(&dst, Some(meta.uid()), Some(meta.gid()))?;
    }
    Ok(())
}
