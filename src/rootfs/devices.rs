//! /dev: the default devices, linux.devices, and runc's /dev symlinks. Nodes are
//! made with mknodat in a parent resolved inside the rootfs (once per parent,
//! see `Dirs`); in a user namespace, where mknod is not allowed, the host's node
//! is bind-mounted instead.

use crate::safe_fs::{self, fd_path};
use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{makedev, mknodat, Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

pub struct Dev {
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// The devices every container gets (runtime-spec "Default Devices").
pub fn defaults() -> Vec<Dev> {
    [
        // runc's order (its default device list), which a user namespace,
        // where they are bind mounts, shows in mountinfo.
        ("null", 1, 3),
        ("random", 1, 8),
        ("full", 1, 7),
        ("tty", 5, 0),
        ("zero", 1, 5),
        ("urandom", 1, 9),
    ]
    .into_iter()
    .map(|(n, ma, mi)| Dev {
        path: PathBuf::from("/dev").join(n),
        kind: SFlag::S_IFCHR,
        major: ma,
        minor: mi,
        mode: 0o666,
        uid: None,
        gid: None,
    })
    .collect()
}

pub fn from_spec(d: &LinuxDevice) -> Result<Dev> {
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => bail!(
            "device {}: type \"a\" is only for cgroup rules",
            d.path().display()
        ),
    };
    if !d.path().is_absolute() {
        bail!("device path {} is not absolute", d.path().display());
    }
    Ok(Dev {
        path: d.path().clone(),
        kind,
        major: d.major() as u64,
        minor: d.minor() as u64,
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid(),
        gid: d.gid(),
    })
}

/// Whether a node is already at the device's path: Ok(true) if it is that very
/// device, an error if something else is there (runtime-spec: MUST error).
pub fn already_there(root: BorrowedFd, dev: &Dev) -> Result<bool> {
    let Ok(fd) = safe_fs::open_in_root(root, &dev.path, libc::O_PATH | libc::O_NOFOLLOW) else {
        return Ok(false);
    };
    let st = nix::sys::stat::fstat(fd.as_raw_fd())?;
    let kind = st.st_mode & libc::S_IFMT;
    let same = kind == dev.kind.bits()
        && (dev.kind == SFlag::S_IFIFO || st.st_rdev == makedev(dev.major, dev.minor));
    if !same {
        bail!(
            "{} already exists and is not the requested device",
            dev.path.display()
        );
    }
    Ok(true)
}

/// The directories devices go in (/dev, for most), each resolved inside the
/// rootfs once and then used for every node and link made in it.
pub struct Dirs<'a> {
    root: BorrowedFd<'a>,
    open: Vec<(PathBuf, OwnedFd)>,
}

impl<'a> Dirs<'a> {
    pub fn new(root: BorrowedFd<'a>) -> Self {
        Dirs {
            root,
            open: Vec::new(),
        }
    }

    fn get(&mut self, dir: &Path) -> Result<BorrowedFd<'_>> {
        let i = match self.open.iter().position(|(p, _)| p == dir) {
            Some(i) => i,
            None => {
                let fd = safe_fs::mkdir_all(self.root, dir, 0o755)?;
                self.open.push((dir.to_path_buf(), fd));
                self.open.len() - 1
            }
        };
        Ok(self.open[i].1.as_fd())
    }

    /// Something was removed (maybe a symlink another path led through): later
    /// devices resolve their directories afresh.
    fn forget(&mut self) {
        self.open.clear();
    }
}

pub fn create(dirs: &mut Dirs, dev: &Dev, in_userns: bool) -> Result<()> {
    let name = dev.path.file_name().context("device path has no name")?;
    let root = dirs.root;
    let dir = dirs.get(dev.path.parent().unwrap_or(Path::new("/")))?;
    // Whatever the image left there (a file, a symlink) goes: we never follow it.
    let removed = match nix::unistd::unlinkat(
        Some(dir.as_raw_fd()),
        name,
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    ) {
        Ok(()) => true,
        Err(Errno::ENOENT) => false,
        Err(e) => return Err(e).with_context(|| format!("remove {}", dev.path.display())),
    };
    let made = if in_userns {
        Err(Errno::EPERM)
    } else {
        mknodat(
            Some(dir.as_raw_fd()),
            name,
            dev.kind,
            Mode::from_bits_truncate(dev.mode),
            makedev(dev.major, dev.minor),
        )
    };
    let r = match made {
        Ok(()) => set_owner_mode(dir, name, dev),
        Err(Errno::EPERM) => bind_host_node(root, dev),
        Err(e) => Err(e).with_context(|| format!("mknod {}", dev.path.display())),
    };
    if removed {
        dirs.forget();
    }
    r
}

fn set_owner_mode(dir: BorrowedFd, name: &std::ffi::OsStr, dev: &Dev) -> Result<()> {
    // mknod is subject to the umask: set the mode exactly.
    nix::sys::stat::fchmodat(
        Some(dir.as_raw_fd()),
        name,
        Mode::from_bits_truncate(dev.mode),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )?;
    if dev.uid.is_some() || dev.gid.is_some() {
        nix::unistd::fchownat(
            Some(dir.as_raw_fd()),
            name,
            dev.uid.map(nix::unistd::Uid::from_raw),
            dev.gid.map(nix::unistd::Gid::from_raw),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )?;
    }
    Ok(())
}

fn bind_host_node(root: BorrowedFd, dev: &Dev) -> Result<()> {
    let target = safe_fs::touch(root, &dev.path)?;
    mount(
        Some(&dev.path),
        fd_path(&target).as_str(),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .with_context(|| format!("bind host {}", dev.path.display()))?;
    Ok(())
}

/// runc's links: /dev/fd, stdin, stdout, stderr, ptmx → pts/ptmx, core.
pub fn symlinks(dirs: &mut Dirs) -> Result<()> {
    let dir = dirs.get(Path::new("/dev"))?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    for (target, name) in links {
        match nix::unistd::symlinkat(target, Some(dir.as_raw_fd()), name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e).with_context(|| format!("symlink /dev/{name}")),
        }
    }
    // ptmx must be the devpts instance's, not a node from the image.
    match nix::unistd::unlinkat(
        Some(dir.as_raw_fd()),
        "ptmx",
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    ) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(e).context("remove /dev/ptmx"),
    }
    nix::unistd::symlinkat("pts/ptmx", Some(dir.as_raw_fd()), "ptmx")
        .context("symlink /dev/ptmx")?;
    Ok(())
}
