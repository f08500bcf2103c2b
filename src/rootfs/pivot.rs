//! Making the rootfs the container's `/`: pivot_root, or MS_MOVE + chroot with --no-pivot.

use anyhow::{Context, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{chdir, chroot, fchdir, pivot_root};
use std::os::fd::AsRawFd;
use std::path::Path;

pub fn pivot(rootfs: &Path) -> Result<()> {
    let old = std::fs::File::open("/").context("open /")?;
    let new = std::fs::File::open(rootfs).context("open rootfs")?;
    fchdir(new.as_raw_fd()).context("chdir rootfs")?;
    // pivot_root(".", ".") stacks the old root under the new one; we then detach it.
    pivot_root(".", ".").context("pivot_root")?;
    fchdir(old.as_raw_fd()).context("chdir old root")?;
    // Keep the unmount of the old root from propagating to the host.
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .context("make old root rslave")?;
    umount2(".", MntFlags::MNT_DETACH).context("unmount old root")?;
    chdir("/").context("chdir /")?;
    Ok(())
}

pub fn move_root(rootfs: &Path) -> Result<()> {
    chdir(rootfs).context("chdir rootfs")?;
    mount(
        Some(rootfs),
        "/",
        None::<&str>,
        MsFlags::MS_MOVE,
        None::<&str>,
    )
    .context("move rootfs to /")?;
    chroot(".").context("chroot")?;
    chdir("/").context("chdir /")?;
    Ok(())
}
