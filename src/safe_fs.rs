//! Path resolution that cannot leave the container's root: openat2 with
//! RESOLVE_IN_ROOT (symlinks, `..` and absolute links resolve inside the root) and
//! no magic links. Mounts then go through `/proc/self/fd/N` of the resolved fd,
//! so a path swapped for a symlink after we looked can't redirect them.

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::sys::stat::Mode;
use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// openat2(root, path, flags) resolved inside `root`.
pub fn open_in_root(root: BorrowedFd, path: &Path, flags: i32) -> Result<OwnedFd, Errno> {
    let rel = relative(path);
    let c = CString::new(rel.as_os_str().as_encoded_bytes()).map_err(|_| Errno::EINVAL)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    loop {
        // SAFETY: valid pointers and sizes for openat2.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                c.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if fd >= 0 {
            // SAFETY: a new fd from the kernel.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        }
        match Errno::last() {
            Errno::EAGAIN | Errno::EINTR => continue,
            e => return Err(e),
        }
    }
}

/// `path` made relative ("." for the root itself).
fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| matches!(c, Component::Normal(_) | Component::ParentDir))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// Creates every missing directory of `path` inside `root` and returns an O_PATH
/// fd of the last one. Each prefix is resolved afresh from the root, so a
/// symlink anywhere on the way resolves inside the root.
pub fn mkdir_all(root: BorrowedFd, path: &Path, mode: u32) -> Result<OwnedFd> {
    mkdir_all_depth(root, path, mode, 0)
}

fn mkdir_all_depth(root: BorrowedFd, path: &Path, mode: u32, depth: u32) -> Result<OwnedFd> {
    if depth > 40 {
        return Err(Errno::ELOOP).with_context(|| format!("mkdir {}", path.display()));
    }
    let rel = relative(path);
    let mut cur = PathBuf::new();
    let mut fd = open_in_root(root, Path::new("."), libc::O_PATH | libc::O_DIRECTORY)
        .context("open rootfs")?;
    for comp in rel.components() {
        cur.push(comp);
        fd = match open_in_root(root, &cur, libc::O_PATH | libc::O_DIRECTORY) {
            Ok(f) => f,
            Err(Errno::ENOENT) => {
                let name = comp.as_os_str();
                // A dangling symlink: make its target, inside the root.
                if let Ok(target) = nix::fcntl::readlinkat(Some(fd.as_raw_fd()), name) {
                    let target = PathBuf::from(target);
                    let target = if target.is_absolute() {
                        target
                    } else {
                        Path::new("/")
                            .join(cur.parent().unwrap_or(Path::new("")))
                            .join(target)
                    };
                    mkdir_all_depth(root, &target, mode, depth + 1)?;
                    fd = open_in_root(root, &cur, libc::O_PATH | libc::O_DIRECTORY)
                        .with_context(|| format!("open {}", cur.display()))?;
                    continue;
                }
                match nix::sys::stat::mkdirat(
                    Some(fd.as_raw_fd()),
                    name,
                    Mode::from_bits_truncate(mode),
                ) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(e).with_context(|| format!("mkdir {}", cur.display())),
                }
                open_in_root(root, &cur, libc::O_PATH | libc::O_DIRECTORY)
                    .with_context(|| format!("open {}", cur.display()))?
            }
            Err(e) => return Err(e).with_context(|| format!("open {}", cur.display())),
        };
    }
    Ok(fd)
}

/// Makes sure `path` exists inside `root` as a regular file (mount target for a
/// file bind), creating its parents; returns an O_PATH fd of it.
pub fn touch(root: BorrowedFd, path: &Path) -> Result<OwnedFd> {
    if let Ok(fd) = open_in_root(root, path, libc::O_PATH) {
        return Ok(fd);
    }
    let parent = path.parent().unwrap_or(Path::new("/"));
    let name = path
        .file_name()
        .context("mount destination has no file name")?;
    let dir = mkdir_all(root, parent, 0o755)?;
    let dirfd = reopen_dir(&dir)?;
    match nix::fcntl::openat(
        Some(dirfd.as_raw_fd()),
        name,
        nix::fcntl::OFlag::O_CREAT
            | nix::fcntl::OFlag::O_NOFOLLOW
            | nix::fcntl::OFlag::O_CLOEXEC
            | nix::fcntl::OFlag::O_WRONLY,
        Mode::from_bits_truncate(0o644),
    ) {
        // SAFETY: openat returned a new fd.
        Ok(fd) => drop(unsafe { OwnedFd::from_raw_fd(fd) }),
        Err(Errno::ELOOP | Errno::EEXIST) => {}
        Err(e) => return Err(e).with_context(|| format!("create {}", path.display())),
    }
    open_in_root(root, path, libc::O_PATH).with_context(|| format!("open {}", path.display()))
}

/// An O_PATH directory fd reopened for use with *at() calls that need a real fd.
pub fn reopen_dir(fd: &OwnedFd) -> Result<OwnedFd> {
    let raw = nix::fcntl::open(
        fd_path(fd).as_str(),
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .context("reopen directory")?;
    // SAFETY: a new fd.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// `/proc/self/fd/N`: how mount(2) is pointed at an already-resolved file.
pub fn fd_path(fd: &impl AsRawFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// True when `fd` is on a procfs (PROC_SUPER_MAGIC).
pub fn is_procfs(fd: BorrowedFd) -> bool {
    nix::sys::statfs::fstatfs(fd)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let base = std::env::temp_dir().join(format!("tong-safefs-{}", std::process::id()));
        struct Cleanup(PathBuf);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let _cleanup = Cleanup(base.clone());
        let root = base.join("root");
        let outside = base.join("outside");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("escape")).unwrap();
        std::os::unix::fs::symlink("../../..", root.join("up")).unwrap();
        let rootfd = std::fs::File::open(&root).unwrap();
        mkdir_all(rootfd.as_fd(), Path::new("/escape/made"), 0o755).unwrap();
        mkdir_all(rootfd.as_fd(), Path::new("/up/made2"), 0o755).unwrap();
        touch(rootfd.as_fd(), Path::new("/escape/file")).unwrap();
        assert!(
            !outside.join("made").exists(),
            "followed a symlink out of the root"
        );
        assert!(!outside.join("file").exists());
        // The absolute link target was created inside the root instead.
        assert!(root
            .join(outside.strip_prefix("/").unwrap())
            .join("made")
            .is_dir());
        assert!(root.join("made2").is_dir());
    }
}
