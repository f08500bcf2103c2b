//! The new mount API calls tong uses (Linux 5.12+): a detached copy of a
//! mount tree (open_tree), attributes on a tree (mount_setattr) and
//! attaching a detached tree (move_mount). Only configs that ask for
//! recursive attributes or idmapped mounts reach them.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const EMPTY: &CStr = c"";

/// A detached copy of the mount at `path` (and of its submounts with
/// `recursive`), close-on-exec.
pub fn clone_tree(path: &Path, recursive: bool) -> std::io::Result<OwnedFd> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?;
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: a valid C string; the returned fd is new and ours.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// mount_setattr on the mount `fd` refers to (all its submounts too with
/// `recursive`); `userns` goes with MOUNT_ATTR_IDMAP.
pub fn set_attr(
    fd: BorrowedFd,
    recursive: bool,
    set: u64,
    clear: u64,
    userns: Option<BorrowedFd>,
) -> std::io::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: userns.map_or(0, |u| u.as_raw_fd() as u64),
    };
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: a valid fd, an empty C path with AT_EMPTY_PATH, and a live
    // struct of the size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            EMPTY.as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Attaches the detached tree `tree` on the directory or file `target`.
pub fn attach(tree: BorrowedFd, target: BorrowedFd) -> std::io::Result<()> {
    // SAFETY: two valid fds and empty C paths with the EMPTY_PATH flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            EMPTY.as_ptr(),
            target.as_raw_fd(),
            EMPTY.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A new, detached mount of a filesystem of type `fstype` with no options
/// (fsopen, fsconfig CMD_CREATE, fsmount), with the MOUNT_ATTR_* `attrs`.
pub fn new_fs(fstype: &CStr, attrs: u64) -> std::io::Result<OwnedFd> {
    const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
    let check = |r: libc::c_long| -> std::io::Result<OwnedFd> {
        if r < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: a new descriptor.
        Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
    };
    // SAFETY: a valid C string; the fd returned is new and ours.
    let fs =
        check(unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), libc::FSOPEN_CLOEXEC) })?;
    // SAFETY: a valid fs context fd; CMD_CREATE takes no key or value.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a created fs context; the mount fd returned is new and ours.
    check(unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs.as_raw_fd(),
            libc::FSMOUNT_CLOEXEC,
            attrs,
        )
    })
}
