//! A `cgroup` mount: on a v1/hybrid host a tmpfs holding one directory per
//! hierarchy, on a v2 host a cgroup2 mount; with a cgroup namespace each
//! hierarchy is mounted afresh (rooted at the container's cgroup), without one
//! the container's own cgroup directories are bind-mounted.

use super::mounts::{remount_bind, MountCtx};
use super::options::MountOptions;
use crate::safe_fs::{self, fd_path};
use anyhow::{Context, Result};
use nix::mount::{mount, MsFlags};
use std::path::{Path, PathBuf};

struct Hierarchy {
    mountpoint: PathBuf,
    fstype: String,
    /// Super options naming the controllers ("cpu", "name=systemd").
    controllers: String,
}

fn hierarchies() -> Result<Vec<Hierarchy>> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").context("read mountinfo")?;
    let mut out = Vec::new();
    for line in info.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut r = right.split_whitespace();
        let (Some(fstype), _, Some(sopts)) = (r.next(), r.next(), r.next()) else {
            continue;
        };
        if fstype != "cgroup" && fstype != "cgroup2" {
            continue;
        }
        let Some(mp) = left.split_whitespace().nth(4) else {
            continue;
        };
        let controllers = sopts
            .split(',')
            .filter(|o| {
                !matches!(*o, "rw" | "ro")
                    && !o.starts_with("clone_children")
                    && *o != "nsdelegate"
                    && *o != "memory_recursiveprot"
            })
            .collect::<Vec<_>>()
            .join(",");
        out.push(Hierarchy {
            mountpoint: PathBuf::from(mp.replace("\\040", " ")),
            fstype: fstype.to_string(),
            controllers,
        });
    }
    Ok(out)
}

/// Our cgroup path in the hierarchy holding `controllers` (from /proc/self/cgroup).
fn own_path(fstype: &str, controllers: &str) -> Option<PathBuf> {
    let data = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    data.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        let hit = if fstype == "cgroup2" {
            ctrls.is_empty()
        } else {
            let want: Vec<&str> = controllers.split(',').collect();
            !ctrls.is_empty() && ctrls.split(',').all(|c| want.contains(&c))
        };
        hit.then(|| PathBuf::from(path))
    })
}

pub fn mount_cgroup(ctx: &MountCtx, dest: &Path, opts: &MountOptions) -> Result<()> {
    let flags = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    let list = hierarchies()?;
    let unified_only = list.iter().all(|h| h.fstype == "cgroup2");
    if unified_only {
        let h = list
            .first()
            .context("no cgroup hierarchy mounted on the host")?;
        return one(ctx, dest, h, flags);
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
    // As runc: on a v1/hybrid host the container sees the v1 hierarchies only.
    for h in list.iter().filter(|h| h.fstype == "cgroup") {
        let name = h.mountpoint.file_name().context("cgroup mountpoint")?;
        one(ctx, &dest.join(name), h, flags)?;
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        let top = safe_fs::open_in_root(ctx.root, dest, libc::O_PATH)?;
        remount_bind(
            &top,
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        )?;
    }
    Ok(())
}

fn one(ctx: &MountCtx, dest: &Path, h: &Hierarchy, flags: MsFlags) -> Result<()> {
    let target = safe_fs::mkdir_all(ctx.root, dest, 0o755)?;
    let what = || {
        format!(
            "mount cgroup {} on {}",
            h.mountpoint.display(),
            dest.display()
        )
    };
    if ctx.cgroupns {
        let data = (h.fstype == "cgroup").then_some(h.controllers.as_str());
        mount(
            Some(h.fstype.as_str()),
            fd_path(&target).as_str(),
            Some(h.fstype.as_str()),
            flags,
            data,
        )
        .with_context(what)?;
        return Ok(());
    }
    let rel = own_path(&h.fstype, &h.controllers).unwrap_or_else(|| PathBuf::from("/"));
    let src = h.mountpoint.join(rel.strip_prefix("/").unwrap_or(&rel));
    let src = if src.exists() {
        src
    } else {
        h.mountpoint.clone()
    };
    mount(
        Some(&src),
        fd_path(&target).as_str(),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .with_context(what)?;
    let extra = flags | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let top = safe_fs::open_in_root(ctx.root, dest, libc::O_PATH)?;
    remount_bind(&top, extra).with_context(what)
}
