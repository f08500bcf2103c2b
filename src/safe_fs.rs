//! Path resolution that cannot leave the container's root: openat2 with
//! RESOLVE_IN_ROOT (symlinks, `..` and absolute links resolve inside the root) and
//! no magic links. Mounts then go through `/proc/self/fd/N` of the resolved fd,
//! so a path swapped for a symlink after we looked can't redirect them.

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::sys::stat::Mode;
use std::ffi::{CString, OsStr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;
const RESOLVE_IN_ROOT: u64 = 0x10;

const DIR: i32 = libc::O_PATH | libc::O_DIRECTORY;

fn openat2(dir: BorrowedFd, path: &Path, flags: i32, resolve: u64) -> Result<OwnedFd, Errno> {
    let c = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| Errno::EINVAL)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve,
    };
    loop {
        // SAFETY: valid pointers and sizes for openat2.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
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

/// openat2(root, path, flags) resolved inside `root`.
pub fn open_in_root(root: BorrowedFd, path: &Path, flags: i32) -> Result<OwnedFd, Errno> {
    openat2(
        root,
        &relative(path),
        flags,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    )
}

/// `path` below `dir`, following no symlink at all (ELOOP if there is one).
pub fn open_beneath(dir: BorrowedFd, path: &Path, flags: i32) -> Result<OwnedFd, Errno> {
    openat2(
        dir,
        path,
        flags,
        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    )
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
/// fd of the last one. An existing path costs one lookup; otherwise the missing
/// components are made from the deepest existing ancestor, and a symlink on the
/// way (dangling or swapped in) is resolved inside the root.
pub fn mkdir_all(root: BorrowedFd, path: &Path, mode: u32) -> Result<OwnedFd> {
    mkdir_all_depth(root, path, mode, 0)
}

/// mkdir_all when no fd of the directory is wanted: nothing to do for the root.
pub fn ensure_dir(root: BorrowedFd, path: &Path, mode: u32) -> Result<()> {
    if relative(path) == Path::new(".") {
        return Ok(());
    }
    mkdir_all(root, path, mode).map(drop)
}

fn mkdir_all_depth(root: BorrowedFd, path: &Path, mode: u32, depth: u32) -> Result<OwnedFd> {
    if depth > 40 {
        return Err(Errno::ELOOP).with_context(|| format!("mkdir {}", path.display()));
    }
    let rel = relative(path);
    match open_in_root(root, &rel, DIR) {
        Ok(fd) => return Ok(fd),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(e).with_context(|| format!("open {}", rel.display())),
    }
    let names: Vec<&OsStr> = rel.iter().collect();
    // Resolution fails from the first missing component on, so the deepest
    // prefix that opens is where creating starts.
    let mut have = names.len();
    let mut fd = loop {
        have -= 1;
        let prefix: PathBuf = names[..have].iter().collect();
        match open_in_root(root, &prefix, DIR) {
            Ok(fd) => break fd,
            Err(Errno::ENOENT) if have > 0 => continue,
            Err(e) => return Err(e).with_context(|| format!("open {}", prefix.display())),
        }
    };
    let mut cur: PathBuf = names[..have].iter().collect();
    for name in &names[have..] {
        cur.push(name);
        fd = if *name == ".." {
            open_in_root(root, &cur, DIR).with_context(|| format!("open {}", cur.display()))?
        } else {
            make_dir(root, fd.as_fd(), name, &cur, mode, depth)?
        };
    }
    Ok(fd)
}

/// One missing component: `name` in `parent`, which is `cur` without its last
/// component.
fn make_dir(
    root: BorrowedFd,
    parent: BorrowedFd,
    name: &OsStr,
    cur: &Path,
    mode: u32,
    depth: u32,
) -> Result<OwnedFd> {
    let open_cur =
        || open_in_root(root, cur, DIR).with_context(|| format!("open {}", cur.display()));
    match nix::sys::stat::mkdirat(
        Some(parent.as_raw_fd()),
        name,
        Mode::from_bits_truncate(mode),
    ) {
        Ok(()) => {}
        Err(Errno::EEXIST) => {
            // A dangling symlink: make its target, inside the root.
            if let Ok(target) = nix::fcntl::readlinkat(Some(parent.as_raw_fd()), name) {
                let target = PathBuf::from(target);
                let target = if target.is_absolute() {
                    target
                } else {
                    Path::new("/")
                        .join(cur.parent().unwrap_or(Path::new("")))
                        .join(target)
                };
                mkdir_all_depth(root, &target, mode, depth + 1)?;
                return open_cur();
            }
        }
        Err(e) => return Err(e).with_context(|| format!("mkdir {}", cur.display())),
    }
    // Open what is there without following a symlink; one swapped in meanwhile
    // resolves inside the root like any other.
    match open_beneath(parent, Path::new(name), DIR) {
        Err(Errno::ELOOP) => open_cur(),
        r => r.with_context(|| format!("open {}", cur.display())),
    }
}

/// Makes directory `name` in `dir` (fine if it is there) and opens it, O_PATH,
/// never through a symlink. For directories of a filesystem we just mounted.
pub fn mkdir_child(dir: BorrowedFd, name: &OsStr, mode: u32) -> Result<OwnedFd> {
    match nix::sys::stat::mkdirat(Some(dir.as_raw_fd()), name, Mode::from_bits_truncate(mode)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(e).with_context(|| format!("mkdir {}", Path::new(name).display())),
    }
    open_beneath(dir, Path::new(name), DIR)
        .with_context(|| format!("open {}", Path::new(name).display()))
}

/// Makes sure `path` exists inside `root` (a regular file is made if nothing is
/// there: the mount target for a file bind), creating its parents; returns an
/// fd of it to mount onto.
pub fn touch(root: BorrowedFd, path: &Path) -> Result<OwnedFd> {
    if let Ok(fd) = open_in_root(root, path, libc::O_PATH) {
        return Ok(fd);
    }
    let parent = path.parent().unwrap_or(Path::new("/"));
    let name = path
        .file_name()
        .context("mount destination has no file name")?;
    let dir = mkdir_all(root, parent, 0o755)?;
    // O_EXCL: never open (or follow) what may have appeared there meanwhile;
    // that is resolved inside the root below.
    match nix::fcntl::openat(
        Some(dir.as_raw_fd()),
        name,
        nix::fcntl::OFlag::O_CREAT
            | nix::fcntl::OFlag::O_EXCL
            | nix::fcntl::OFlag::O_NOFOLLOW
            | nix::fcntl::OFlag::O_CLOEXEC
            | nix::fcntl::OFlag::O_WRONLY,
        Mode::from_bits_truncate(0o644),
    ) {
        // SAFETY: openat returned a new fd.
        Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
        Err(Errno::EEXIST) => {}
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
    use std::os::unix::fs::MetadataExt;

    /// A scratch directory with `root` and `outside` in it, removed on drop.
    struct Scratch(PathBuf);
    impl Scratch {
        fn new(name: &str) -> (Scratch, PathBuf, PathBuf, std::fs::File) {
            let base =
                std::env::temp_dir().join(format!("tong-safefs-{name}-{}", std::process::id()));
            let (root, outside) = (base.join("root"), base.join("outside"));
            std::fs::create_dir_all(&root).unwrap();
            std::fs::create_dir_all(&outside).unwrap();
            let fd = std::fs::File::open(&root).unwrap();
            (Scratch(base), root, outside, fd)
        }
    }
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// `fd` is the file at `path`.
    fn is(fd: &OwnedFd, path: &Path) -> bool {
        let st = nix::sys::stat::fstat(fd.as_raw_fd()).unwrap();
        let m = std::fs::metadata(path).unwrap();
        st.st_ino == m.ino() && st.st_dev == m.dev()
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let (_s, root, outside, rootfd) = Scratch::new("escape");
        std::os::unix::fs::symlink(&outside, root.join("escape")).unwrap();
        std::os::unix::fs::symlink("../../..", root.join("up")).unwrap();
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

    #[test]
    fn mkdir_all_makes_what_is_missing() {
        let (_s, root, outside, rootfd) = Scratch::new("missing");
        let r = rootfd.as_fd();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        // Existing, and the root itself.
        assert!(is(
            &mkdir_all(r, Path::new("/a/b"), 0o755).unwrap(),
            &root.join("a/b")
        ));
        assert!(is(&mkdir_all(r, Path::new("/"), 0o755).unwrap(), &root));
        // Several missing components below an existing ancestor.
        let fd = mkdir_all(r, Path::new("/a/b/c/d/e"), 0o700).unwrap();
        assert!(is(&fd, &root.join("a/b/c/d/e")));
        assert_eq!(
            std::fs::metadata(root.join("a/b/c")).unwrap().mode() & 0o777,
            0o700
        );
        // `..` inside the part that is made, and above the root.
        let fd = mkdir_all(r, Path::new("/x/../y/z"), 0o755).unwrap();
        assert!(is(&fd, &root.join("y/z")) && root.join("x").is_dir());
        let fd = mkdir_all(r, Path::new("/../../w"), 0o755).unwrap();
        assert!(is(&fd, &root.join("w")));
        // Dangling links on the way: their targets are made inside the root.
        std::os::unix::fs::symlink("t1/t2", root.join("a/rel")).unwrap();
        let fd = mkdir_all(r, Path::new("/a/rel/f"), 0o755).unwrap();
        assert!(is(&fd, &root.join("a/t1/t2/f")));
        std::os::unix::fs::symlink(outside.join("abs"), root.join("abs")).unwrap();
        let fd = mkdir_all(r, Path::new("/abs/g"), 0o755).unwrap();
        let inside = root.join(outside.strip_prefix("/").unwrap());
        assert!(is(&fd, &inside.join("abs/g")));
        assert!(std::fs::read_dir(&outside).unwrap().next().is_none());
        // A file in the way is an error, not something to go around.
        std::fs::write(root.join("file"), "").unwrap();
        assert!(mkdir_all(r, Path::new("/file/sub"), 0o755).is_err());
        // A symlink loop is an error too.
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert!(mkdir_all(r, Path::new("/loop/x"), 0o755).is_err());
        ensure_dir(r, Path::new("/"), 0o755).unwrap();
        ensure_dir(r, Path::new("/h/i"), 0o755).unwrap();
        assert!(root.join("h/i").is_dir());
    }

    #[test]
    fn mkdir_child_and_touch() {
        let (_s, root, outside, rootfd) = Scratch::new("child");
        let r = rootfd.as_fd();
        let fd = mkdir_child(r, OsStr::new("c"), 0o755).unwrap();
        assert!(is(&fd, &root.join("c")));
        let again = mkdir_child(r, OsStr::new("c"), 0o755).unwrap();
        assert!(is(&again, &root.join("c")));
        std::os::unix::fs::symlink(&outside, root.join("l")).unwrap();
        assert!(mkdir_child(r, OsStr::new("l"), 0o755).is_err());
        // touch makes a file (and its parents), or opens what is there.
        let fd = touch(r, Path::new("/p/q/f")).unwrap();
        assert!(is(&fd, &root.join("p/q/f")) && root.join("p/q/f").is_file());
        assert!(is(
            &touch(r, Path::new("/p/q/f")).unwrap(),
            &root.join("p/q/f")
        ));
        std::os::unix::fs::symlink("/p/q/f", root.join("flink")).unwrap();
        assert!(is(
            &touch(r, Path::new("/flink")).unwrap(),
            &root.join("p/q/f")
        ));
        assert!(std::fs::read_dir(&outside).unwrap().next().is_none());
    }
}
