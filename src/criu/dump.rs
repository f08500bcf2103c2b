//! `checkpoint`: CRIU dumps (or pre-dumps) a running container into an image
//! directory. As runc: the stdio of the container's init goes to
//! descriptors.json (restore maps its pipes to the caller's), bind mounts
//! and the like are external mounts, a network or pid namespace joined by
//! path is an external namespace; after a dump without --leave-running the
//! processes are gone and the container is destroyed (its id is free for
//! `restore`). A failed dump leaves the container as it was (thawed if CRIU
//! froze it and could not thaw it).

use super::rpc::{CriuFeatures, CriuOpts, CriuPageServerInfo, CriuReq, CriuReqType};
use super::swrk::{self, ChildSetup, Session};
use super::{mounts, Common, DESCRIPTORS};
use crate::cgroups::{self, Hierarchies};
use crate::cli::CheckpointArgs;
use crate::state::{Container, Status};
use crate::{container, debug};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxNamespaceType as T;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

pub fn checkpoint(root: &Path, a: &CheckpointArgs) -> Result<()> {
    let c = Container::load(root, &a.id)?;
    let status = c.status();
    if matches!(status, Status::Created | Status::Stopped | Status::Creating) {
        bail!("Container cannot be checkpointed in {status} state");
    }
    let common = Common::new(&a.criu, true)?;
    let parent = parent_path(&common.images, a.parent_path.as_deref())?;
    let page_server = a.page_server.as_deref().map(page_server).transpose()?;
    let criu = swrk::find()?;
    let spec = super::read_config(&c.state.bundle)?;
    let pid = c.state.pid;

    let log_file = "dump.log";
    let mut opts = CriuOpts {
        root: Some(c.state.rootfs.display().to_string()),
        pid: Some(pid),
        leave_running: Some(a.leave_running),
        tcp_skip_in_flight: Some(a.tcp_skip_in_flight),
        link_remap: Some(a.link_remap),
        ps: page_server,
        ..common.opts(&a.criu, log_file, &spec, 0)
    };
    for t in [T::Network, T::Pid] {
        external_ns(&criu, &spec, t, &mut opts)?;
    }
    // CRIU freezes the whole cgroup (not task by task with ptrace); on
    // cgroup v2 since CRIU 3.14.
    let hier = Hierarchies::read();
    if hier.has_v1() || criu.version >= 31400 {
        opts.freeze_cgroup = freezer_dir(&hier, &c.state.cgroup_path);
    }
    if let Some(p) = parent {
        opts.parent_img = Some(p);
        opts.track_mem = Some(true);
    }
    let kind = if a.pre_dump {
        need_feature(
            &criu,
            CriuFeatures {
                mem_track: Some(true),
                ..Default::default()
            },
        )?;
        CriuReqType::PreDump
    } else {
        CriuReqType::Dump
    };
    let mut status_fd = None::<OwnedFd>;
    if a.criu.lazy_pages {
        need_feature(
            &criu,
            CriuFeatures {
                lazy_pages: Some(true),
                ..Default::default()
            },
        )?;
        if a.status_fd != -1 {
            status_fd = Some(check_status_fd(a.status_fd)?);
        }
    }
    if !a.pre_dump {
        opts.ext_mnt = mounts::dump_ext(&spec, &c.state.rootfs, pid, &c.state.cgroup_path);
        let fds: Vec<String> = (0..3)
            .map(|i| {
                std::fs::read_link(format!("/proc/{pid}/fd/{i}"))
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| "/dev/null".to_string())
            })
            .collect();
        std::fs::write(common.images.join(DESCRIPTORS), serde_json::to_vec(&fds)?)
            .with_context(|| format!("write {}", common.images.join(DESCRIPTORS).display()))?;
    }

    let req = CriuReq {
        r#type: kind as i32,
        opts: Some(opts),
        ..Default::default()
    };
    debug!(
        "criu {}: {} of container {}",
        criu.version,
        kind.as_str_name(),
        a.id
    );
    let was_paused = status == Status::Paused;
    let run = |mut status_fd: Option<OwnedFd>| -> Result<()> {
        let mut s = Session::start(
            &criu,
            ChildSetup {
                dirs: common.dirs(),
                ..Default::default()
            },
        )?;
        s.call(req, |n, _fd| {
            let script = n.script.as_deref().unwrap_or("");
            debug!("criu notify: {script}");
            if script == "status-ready" {
                // The lazy-pages server is up: \0 to --status-fd, then closed.
                if let Some(fd) = status_fd.take() {
                    let _ = nix::unistd::write(&fd, &[0u8]);
                }
            }
            Ok(())
        })?;
        s.finish(kind)
    };
    if let Err(e) = run(status_fd) {
        // CRIU thaws what it froze, unless it died on the way.
        if !was_paused && cgroups::is_frozen(&c.state.cgroup_path) {
            if let Ok(cg) = cgroups::Cgroup::open(&c.state.cgroup_path, &a.id, false) {
                let _ = cg.freeze(false);
            }
        }
        return Err(super::failed(&criu, &common, log_file, e));
    }
    if a.leave_running || a.pre_dump {
        // The container goes on as it was: CRIU thaws the cgroup it froze,
        // but a thaw that raced the end of the dump has been seen to leave
        // it frozen (a pre-dump in the TCG guest), so make sure.
        if !was_paused && cgroups::is_frozen(&c.state.cgroup_path) {
            cgroups::Cgroup::open(&c.state.cgroup_path, &a.id, false)?.freeze(false)?;
        }
        return Ok(());
    }
    // The processes are gone; the container is destroyed as runc does.
    drop(c);
    container::delete(root, &a.id, true)
}

/// runc: --parent-path is relative to the image path and must be a directory.
fn parent_path(images: &Path, parent: Option<&Path>) -> Result<Option<String>> {
    let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(None);
    };
    if p.is_absolute() {
        bail!("--parent-path must be relative");
    }
    let real = images.join(p);
    match std::fs::metadata(&real) {
        Ok(m) if m.is_dir() => Ok(Some(p.display().to_string())),
        Ok(_) => bail!("invalid --parent-path: {}: not a directory", real.display()),
        Err(e) => bail!("invalid --parent-path: {}: {e}", real.display()),
    }
}

/// ADDRESS:PORT (an IPv6 address in brackets).
fn page_server(s: &str) -> Result<CriuPageServerInfo> {
    let bad = || anyhow::anyhow!("Use --page-server ADDRESS:PORT to specify page server");
    let (addr, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    if addr.is_empty() || port.is_empty() {
        return Err(bad());
    }
    let port: i32 = port
        .parse()
        .map_err(|_| anyhow::anyhow!("Invalid port number"))?;
    Ok(CriuPageServerInfo {
        address: Some(addr.to_string()),
        port: Some(port),
        ..Default::default()
    })
}

/// A namespace joined by path is not dumped: CRIU records it as external
/// (`net[INODE]:extRootNetNS`) and restore hands the new one in.
fn external_ns(
    criu: &swrk::Criu,
    spec: &oci_spec::runtime::Spec,
    t: T,
    opts: &mut CriuOpts,
) -> Result<()> {
    let Some(path) = super::ns_path(spec, t) else {
        return Ok(());
    };
    let name = crate::namespaces::proc_name(t);
    if criu.version < super::ext_ns_min_version(t) {
        bail!("criu lacks support for external {name} namespace during checkpointing process (old criu version?)");
    }
    let ino = std::fs::metadata(&path).with_context(|| format!("stat {}", path.display()))?;
    use std::os::unix::fs::MetadataExt;
    opts.external
        .push(format!("{name}[{}]:{}", ino.ino(), super::ext_ns_key(t)));
    Ok(())
}

/// The freezer directory of the container's cgroup (v1 freezer, or the
/// cgroup2 directory on a pure v2 host).
fn freezer_dir(h: &Hierarchies, cgroup_path: &Path) -> Option<String> {
    let rel = cgroup_path.strip_prefix("/").unwrap_or(cgroup_path);
    let base: PathBuf = match h.v1("freezer") {
        Some(m) => m.to_path_buf(),
        None if !h.has_v1() => h.all.iter().find(|h| h.unified)?.mount.clone(),
        None => return None,
    };
    Some(base.join(rel).display().to_string())
}

/// runc's feature check: a FEATURE_CHECK call, refused if CRIU says no.
fn need_feature(criu: &swrk::Criu, want: CriuFeatures) -> Result<()> {
    let call = || -> Result<_> {
        let mut s = Session::start(criu, ChildSetup::default())?;
        let resp = s.call(
            CriuReq {
                r#type: CriuReqType::FeatureCheck as i32,
                features: Some(want),
                ..Default::default()
            },
            |_, _| Ok(()),
        )?;
        s.finish(CriuReqType::FeatureCheck)?;
        Ok(resp)
    };
    let resp = call().map_err(|e| match swrk::check_failure(&criu.path) {
        Some(why) => anyhow::anyhow!("{why}"),
        None => e.context("CRIU feature check failed"),
    })?;
    let got = resp.features.unwrap_or_default();
    let mut missing = Vec::new();
    if want.mem_track == Some(true) && got.mem_track == Some(false) {
        missing.push("MemTrack");
    }
    if want.lazy_pages == Some(true) && got.lazy_pages == Some(false) {
        missing.push("LazyPages");
    }
    if !missing.is_empty() {
        bail!("criu is missing features: [{}]", missing.join(" "));
    }
    Ok(())
}

/// --status-fd must be an open, writable fd; it is ours to close.
fn check_status_fd(fd: i32) -> Result<OwnedFd> {
    use std::os::fd::FromRawFd;
    let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL)
        .with_context(|| format!("invalid --status-fd argument {fd}"))?;
    if flags & (libc::O_WRONLY | libc::O_RDWR) == 0 {
        bail!("invalid --status-fd argument {fd}: not writable");
    }
    // SAFETY: the caller gave us this fd for this purpose.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_server_addresses() {
        let p = page_server("10.0.0.1:27277").unwrap();
        assert_eq!(
            (p.address.as_deref(), p.port),
            (Some("10.0.0.1"), Some(27277))
        );
        let p = page_server("[::1]:80").unwrap();
        assert_eq!(p.address.as_deref(), Some("::1"));
        for bad in ["nocolon", ":80", "host:", "host:port"] {
            assert!(page_server(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parent_path_must_be_a_relative_dir() {
        let d = std::env::temp_dir().join(format!("tong-criu-parent-{}", std::process::id()));
        std::fs::create_dir_all(d.join("img")).unwrap();
        std::fs::create_dir_all(d.join("pre")).unwrap();
        let img = d.join("img");
        assert_eq!(parent_path(&img, None).unwrap(), None);
        assert_eq!(
            parent_path(&img, Some(Path::new("../pre")))
                .unwrap()
                .as_deref(),
            Some("../pre")
        );
        assert!(parent_path(&img, Some(Path::new("/abs"))).is_err());
        assert!(parent_path(&img, Some(Path::new("../nosuch"))).is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
