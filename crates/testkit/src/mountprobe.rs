//! Mount probes with the real system calls (no guessing from versions):
//! can a mount of this filesystem be idmapped, can a tree be made read-only
//! recursively (mount_setattr, Linux 5.12+). Both work on a detached copy of
//! the mount (open_tree OPEN_TREE_CLONE), so nothing on the host changes.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;

use nix::libc;

const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

/// A detached recursive copy of the mount tree at `dir`.
fn clone_tree(dir: &Path) -> Result<OwnedFd, String> {
    let c = CString::new(dir.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: a plain system call on a valid C string; the fd is owned below.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c.as_ptr(),
            OPEN_TREE_CLONE | AT_RECURSIVE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(format!("open_tree({}): {}", dir.display(), errno()));
    }
    // SAFETY: fd is a new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn setattr(tree: &OwnedFd, flags: libc::c_uint, attr: &MountAttr) -> std::io::Result<()> {
    let empty = c"";
    // SAFETY: valid fd, empty path with AT_EMPTY_PATH, attr points to a live struct of the given size.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_EMPTY_PATH as libc::c_uint | flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// Ok if a mount of `dir`'s filesystem can be idmapped (MOUNT_ATTR_IDMAP with a
/// user namespace mapping 0 -> 100000); Err says why not.
pub fn idmap(dir: &Path) -> Result<(), String> {
    // a process in a new user namespace, to take the namespace from
    let mut cmd = std::process::Command::new("sleep");
    cmd.arg("30");
    // SAFETY: unshare is async-signal-safe; nothing else runs in the child before exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::unshare(libc::CLONE_NEWUSER) != 0 {
                Err(errno())
            } else {
                Ok(())
            }
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("spawn a process in a new user namespace: {e}"))?;
    let result = (|| {
        let pid = child.id();
        for f in ["uid_map", "gid_map"] {
            std::fs::write(format!("/proc/{pid}/{f}"), "0 100000 65536\n")
                .map_err(|e| format!("write /proc/{pid}/{f}: {e}"))?;
        }
        let ns = std::fs::File::open(format!("/proc/{pid}/ns/user"))
            .map_err(|e| format!("open user ns: {e}"))?;
        let tree = clone_tree(dir)?;
        let attr = MountAttr {
            attr_set: MOUNT_ATTR_IDMAP,
            attr_clr: 0,
            propagation: 0,
            userns_fd: ns.as_raw_fd() as u64,
        };
        setattr(&tree, 0, &attr)
            .map_err(|e| format!("mount_setattr(MOUNT_ATTR_IDMAP) on {}: {e}", dir.display()))
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// Ok if `dir`'s mount tree can be made read-only recursively (what "rro" needs).
pub fn rro(dir: &Path) -> Result<(), String> {
    let tree = clone_tree(dir)?;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    setattr(&tree, AT_RECURSIVE, &attr)
        .map_err(|e| format!("mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY): {e}"))
}
