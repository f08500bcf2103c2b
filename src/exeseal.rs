//! CVE-2019-5736: a tong process that enters a container (create's init, exec's
//! child) must not expose the host binary, neither through /proc/PID/exe nor by
//! the kernel running it for a `#!/proc/self/exe` script. Those commands re-exec
//! themselves once from a view of the binary the container cannot write to:
//!
//! - Preferred, zero-copy (runc 1.2's method): a private overlayfs whose only
//!   layers are two lower directories, the binary's own on top. Without an
//!   upper layer the overlay superblock is read-only, so no remount makes it
//!   writable and nothing can be copied up to reach the real file; it is made
//!   with fsmount() and never attached, so nobody else can reach it.
//! - Fallback when any overlay step fails (not root, no overlayfs, kernel
//!   before 5.2, a layer conflict): a sealed memfd copy of the binary.
//!
//! After the re-exec the check must recognise both forms, and must never take
//! a host install for one, or that install would enter containers unprotected.
//! Seals on a memfd are unambiguous. A read-only overlayfs is not: composefs or
//! ostree roots and `--read-only` containers keep binaries on read-only overlay
//! mounts, and where only the mount is read-only (the overlay has an upper
//! layer) the host may remount it read-write later, making an fd the container
//! kept writable. So the exe must also be on a mount no path leads to: its
//! mount id must differ from that of the path its /proc link names (a detached
//! mount's link reads `/<name>`; whatever that names, if anything, is another
//! mount). An installed binary is reached by its own path; a detached mount
//! exists only for whoever made it with fsmount(), here tong. The overlay file
//! passes this same check before the exec, so a kernel where it cannot (no
//! STATX_MNT_ID before 5.8) takes the memfd path instead of looping.

use anyhow::{Context, Result};
use std::ffi::{CStr, CString, OsString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// The overlay's second, bottom layer. Overlayfs refuses a lower-only mount
/// with a single layer (6.18 does) and layers that are ancestors of one
/// another. /dev always exists and is a filesystem of its own (devtmpfs on a
/// host, tmpfs in a container); overlayfs looks for overlaps only inside one
/// filesystem, so it conflicts only with a binary kept under /dev (or in `/`
/// where /dev is not a mount): then the memfd copy is used. Unlike the state
/// root it needs no `--root` plumbing, exists before the first `create`, and no
/// user setting can make it an ancestor of the binary. Its entries only show in
/// the merged directory, which no one can reach.
const BOTTOM_LAYER: &[u8] = b"/dev";

fn is_sealed(f: &File) -> bool {
    // SAFETY: fcntl on an fd we own.
    let seals = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
    (seals >= 0 && seals & SEALS == SEALS) || on_private_overlay(f)
}

/// A read-only overlayfs that no path in this mount namespace leads to.
fn on_private_overlay(f: &impl AsFd) -> bool {
    use nix::sys::{statfs, statvfs::FsFlags};
    let ro_overlay = statfs::fstatfs(f).is_ok_and(|s| {
        s.filesystem_type() == statfs::OVERLAYFS_SUPER_MAGIC
            && s.flags().contains(FsFlags::ST_RDONLY)
    });
    if !ro_overlay {
        return false;
    }
    let fd = f.as_fd().as_raw_fd();
    let Some(own) = mount_id(fd, c"", libc::AT_EMPTY_PATH) else {
        return false;
    };
    let Ok(path) = std::fs::read_link(format!("/proc/self/fd/{fd}")) else {
        return false;
    };
    let Ok(path) = CString::new(path.into_os_string().into_vec()) else {
        return false;
    };
    let flags = libc::AT_SYMLINK_NOFOLLOW | libc::AT_NO_AUTOMOUNT;
    mount_id(libc::AT_FDCWD, &path, flags) != Some(own)
}

fn mount_id(dirfd: libc::c_int, path: &CStr, flags: libc::c_int) -> Option<u64> {
    // SAFETY: statx is plain old data; all-zero is a valid value.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a buffer of the right type.
    let r = unsafe { libc::statx(dirfd, path.as_ptr(), flags, libc::STATX_MNT_ID, &mut stx) };
    (r == 0 && stx.stx_mask & libc::STATX_MNT_ID != 0).then_some(stx.stx_mnt_id)
}

/// Overlay `lowerdir` syntax: `:` separates layers, `\` escapes.
fn escape_layer(path: &[u8], out: &mut Vec<u8>) {
    for &b in path {
        if b == b'\\' || b == b':' {
            out.push(b'\\');
        }
        out.push(b);
    }
}

fn check(r: libc::c_long) -> std::io::Result<libc::c_int> {
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(r as libc::c_int)
}

/// An O_PATH fd of `exe` seen through a detached lower-only overlayfs.
fn overlay_exe(exe: &Path) -> std::io::Result<OwnedFd> {
    let (Some(dir), Some(name)) = (exe.parent(), exe.file_name()) else {
        return Err(std::io::ErrorKind::InvalidInput.into());
    };
    let mut lower = Vec::new();
    escape_layer(dir.as_os_str().as_bytes(), &mut lower);
    lower.push(b':');
    escape_layer(BOTTOM_LAYER, &mut lower);
    let lower = CString::new(lower)?;
    let name = CString::new(name.as_bytes())?;
    // SAFETY: fsopen with a static name; the new fd is owned at once.
    let ctx = unsafe {
        let fd = libc::syscall(libc::SYS_fsopen, c"overlay".as_ptr(), libc::FSOPEN_CLOEXEC);
        OwnedFd::from_raw_fd(check(fd)?)
    };
    let config = |cmd: libc::c_uint, key: Option<&CStr>, value: Option<&CStr>| {
        let ptr = |s: Option<&CStr>| s.map_or(std::ptr::null(), CStr::as_ptr);
        // SAFETY: fsconfig on our context with NUL-terminated strings or NULL.
        check(unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                ctx.as_raw_fd(),
                cmd,
                ptr(key),
                ptr(value),
                0,
            )
        })
    };
    config(libc::FSCONFIG_SET_STRING, Some(c"lowerdir"), Some(&lower))?;
    // Best effort: inode numbers don't matter here, and xino, auto-enabled
    // for layers on different filesystems, can log kernel warnings.
    let _ = config(libc::FSCONFIG_SET_STRING, Some(c"xino"), Some(c"off"));
    config(libc::FSCONFIG_CMD_CREATE, None, None)?;
    let attrs = libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOSUID;
    // SAFETY: fsmount of our created context; the new fd is owned at once.
    let mnt = unsafe {
        let fd = libc::syscall(
            libc::SYS_fsmount,
            ctx.as_raw_fd(),
            libc::FSMOUNT_CLOEXEC,
            attrs,
        );
        OwnedFd::from_raw_fd(check(fd)?)
    };
    // SAFETY: openat relative to our mount fd; the new fd is owned at once.
    Ok(unsafe {
        let flags = libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        let fd = libc::openat(mnt.as_raw_fd(), name.as_ptr(), flags);
        OwnedFd::from_raw_fd(check(fd.into())?)
    })
}

fn memfd() -> Result<OwnedFd> {
    let name = c"tong";
    const MFD_EXEC: libc::c_uint = 0x10;
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: memfd_create with a static name; MFD_EXEC only exists on 6.3+.
    let mut fd = unsafe { libc::memfd_create(name.as_ptr(), base | MFD_EXEC) };
    if fd < 0 {
        // SAFETY: as above.
        fd = unsafe { libc::memfd_create(name.as_ptr(), base) };
    }
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("memfd_create");
    }
    // SAFETY: a new fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn sealed_copy(exe: &File) -> Result<OwnedFd> {
    let len = exe.metadata()?.len() as usize;
    let copy = memfd()?;
    let mut done = 0;
    while done < len {
        // SAFETY: sendfile between two fds we own.
        let n = unsafe {
            libc::sendfile(
                copy.as_raw_fd(),
                exe.as_raw_fd(),
                std::ptr::null_mut(),
                len - done,
            )
        };
        if n <= 0 {
            return Err(std::io::Error::last_os_error()).context("copy tong into a memfd");
        }
        done += n as usize;
    }
    // SAFETY: fcntl on our memfd.
    if unsafe { libc::fcntl(copy.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } != 0 {
        return Err(std::io::Error::last_os_error()).context("seal the memfd");
    }
    Ok(copy)
}

/// execveat(fd, "", argv, envp, AT_EMPTY_PATH) with our own argv and
/// environment; returns only on failure.
fn reexec(fd: &OwnedFd) -> std::io::Error {
    let cs = |v: OsString| CString::new(v.into_vec()).ok();
    let argv: Vec<CString> = std::env::args_os().filter_map(cs).collect();
    let envp: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            CString::new(kv).ok()
        })
        .collect();
    let mut argp: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argp.push(std::ptr::null());
    let mut envpp: Vec<*const libc::c_char> = envp.iter().map(|a| a.as_ptr()).collect();
    envpp.push(std::ptr::null());
    // SAFETY: execveat(fd, "", argv, envp, AT_EMPTY_PATH) with NULL-terminated arrays.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            argp.as_ptr(),
            envpp.as_ptr(),
            libc::AT_EMPTY_PATH,
        );
    }
    std::io::Error::last_os_error()
}

/// Re-execs from a read-only overlay view of the binary, else from a sealed
/// memfd copy, unless already running from one. Returns only when already
/// sealed.
pub fn ensure_sealed() -> Result<()> {
    let exe = File::open("/proc/self/exe").context("open /proc/self/exe")?;
    if is_sealed(&exe) {
        return Ok(());
    }
    // Any failure here, the exec's included, leaves the memfd copy.
    if let Ok(view) = std::fs::read_link("/proc/self/exe").and_then(|p| overlay_exe(&p)) {
        if on_private_overlay(&view) {
            reexec(&view);
        }
    }
    let copy = sealed_copy(&exe)?;
    Err(reexec(&copy)).context("re-exec from the sealed memfd")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_are_escaped() {
        let mut out = Vec::new();
        escape_layer(br"/a:b\c", &mut out);
        assert_eq!(out, br"/a\:b\\c");
    }
}
