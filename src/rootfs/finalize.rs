//! Steps after pivot: sysctls, readonlyPaths, maskedPaths, a read-only root.
//! /proc writes go through a /proc verified to be a procfs (CVE-2025-52881);
//! masks bind only a /dev/null verified to be the real 1:3 (CVE-2025-31133).

use super::mounts::remount_bind;
use crate::safe_fs::{self, fd_path};
use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

/// A handle on /proc that is checked to be a procfs.
pub fn procfs() -> Result<File> {
    let f = File::open("/proc").context("open /proc")?;
    if !safe_fs::is_procfs(f.as_fd()) {
        bail!("/proc is not a procfs");
    }
    Ok(f)
}

/// Writes `data` to a file below a verified /proc, never following a symlink out.
pub fn write_proc(proc_dir: &File, rel: &str, data: &str) -> Result<()> {
    let fd = safe_fs::open_in_root(proc_dir.as_fd(), Path::new(rel), libc::O_WRONLY)
        .with_context(|| format!("open /proc/{rel}"))?;
    if !safe_fs::is_procfs(fd.as_fd()) {
        bail!("/proc/{rel} is not on procfs");
    }
    File::from(fd)
        .write_all(data.as_bytes())
        .with_context(|| format!("write {} to /proc/{rel}", crate::logging::go_quote(data)))
}

pub fn sysctls(sysctl: &HashMap<String, String>) -> Result<()> {
    if sysctl.is_empty() {
        return Ok(());
    }
    let proc_dir = procfs()?;
    for (k, v) in sysctl {
        write_proc(&proc_dir, &format!("sys/{}", k.replace('.', "/")), v)
            .with_context(|| format!("sysctl {k}"))?;
    }
    Ok(())
}

pub fn readonly_paths(root: BorrowedFd, paths: &[String]) -> Result<()> {
    for p in paths {
        let fd = match safe_fs::open_in_root(root, Path::new(p), libc::O_PATH | libc::O_NOFOLLOW) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(e).with_context(|| format!("readonly path {p}")),
        };
        // runc's words: "can't make "/proc/bus" read-only: mount src=...".
        let what = || format!("can't make {} read-only", crate::logging::go_quote(p));
        let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
        mount(
            Some(fd_path(&fd).as_str()),
            fd_path(&fd).as_str(),
            None::<&str>,
            bind,
            None::<&str>,
        )
        .map_err(|e| super::mounts::mount_failed(Some(p), Path::new(p), None, bind, None, e))
        .with_context(what)?;
        let top = safe_fs::open_in_root(root, Path::new(p), libc::O_PATH | libc::O_NOFOLLOW)?;
        // runc 1.2: read-only, keeping the flags the mount has (remount_bind
        // adds them); nothing more, so /proc/sysrq-trigger stays "ro,relatime".
        remount_bind(top.as_fd(), MsFlags::MS_RDONLY).with_context(what)?;
    }
    Ok(())
}

/// /dev/null opened and checked to be the real null device, char 1:3.
fn dev_null() -> Result<OwnedFd> {
    let raw = nix::fcntl::open(
        "/dev/null",
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_NOFOLLOW | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .context("open /dev/null")?;
    // SAFETY: a new fd.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let st = nix::sys::stat::fstat(fd.as_raw_fd())?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || st.st_rdev != nix::sys::stat::makedev(1, 3) {
        bail!("/dev/null is not the null device (char 1:3); refusing to mask with it");
    }
    Ok(fd)
}

/// runc's reOpenDevNull: stdio that is a null device (the caller's /dev/null,
/// a file of the host's mount namespace, which CRIU cannot checkpoint) is
/// replaced by the container's own /dev/null. Three fstat when none is.
pub fn reopen_dev_null() -> Result<()> {
    let null = nix::sys::stat::makedev(1, 3);
    let hits: Vec<i32> = (0..3)
        .filter(|fd| {
            nix::sys::stat::fstat(*fd)
                .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == null)
        })
        .collect();
    if hits.is_empty() {
        return Ok(());
    }
    // Only a verified 1:3 node is opened for I/O (through /proc: no /proc, no reopen).
    let Ok(path) = dev_null() else {
        return Ok(());
    };
    let Ok(raw) = nix::fcntl::open(
        crate::safe_fs::fd_path(&path).as_str(),
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    ) else {
        return Ok(());
    };
    // SAFETY: a new fd.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    for h in hits {
        nix::unistd::dup2(fd.as_raw_fd(), h).context("reopen /dev/null as stdio")?;
    }
    Ok(())
}

pub fn masked_paths(root: BorrowedFd, paths: &[String]) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    let null = dev_null()?;
    for p in paths {
        let fd = match safe_fs::open_in_root(root, Path::new(p), libc::O_PATH | libc::O_NOFOLLOW) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(e).with_context(|| format!("masked path {p}")),
        };
        let st = nix::sys::stat::fstat(fd.as_raw_fd())?;
        let r = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            mount(
                Some("tmpfs"),
                fd_path(&fd).as_str(),
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                Some("size=0k"),
            )
        } else {
            mount(
                Some(fd_path(&null).as_str()),
                fd_path(&fd).as_str(),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
        };
        r.with_context(|| format!("mask {p}"))?;
    }
    Ok(())
}

pub fn readonly_root(root: BorrowedFd) -> Result<()> {
    remount_bind(root, MsFlags::MS_RDONLY).context("remount / read-only")
}
