//! Checkpoint and restore with CRIU, driven through its RPC interface
//! (`criu swrk`, `rpc.rs` generated from CRIU's rpc.proto). Only the
//! `checkpoint` and `restore` commands reach this module: nothing of it is
//! on the create/start path.
//!
//! - `swrk.rs`: one RPC session (fork + exec `criu swrk 3`, requests,
//!   notifications, the version check, `criu check` for a clear error);
//! - `mounts.rs`: what CRIU must be told about the container's mounts
//!   (bind mounts and cgroup binds as external mounts, masked paths,
//!   devices) and the restore's private mount set-up;
//! - `dump.rs`: `checkpoint` (pre-dump or dump, descriptors.json);
//! - `restore.rs`: `restore`, a `Spawner` for `container::create_with`, so
//!   the restored container gets every step of create (state dir, cgroup,
//!   runtime hooks, state.json, pid file, undo on failure).

mod dump;
mod mounts;
mod restore;
#[rustfmt::skip]
mod rpc;
mod swrk;

pub use dump::checkpoint;
pub use restore::{restore, RestoreOpts};
pub use swrk::set_binary;

use crate::cli::CriuArgs;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxNamespaceType as T, Spec};
use rpc::{CriuCgMode, CriuOpts};
use std::path::{Path, PathBuf};

/// For `tong --version`: checkpoint/restore are built in; where criu is.
pub fn located() -> String {
    match swrk::locate() {
        Some(p) => format!("{} (checkpoint/restore through its RPC)", p.display()),
        None => "not found in PATH (checkpoint/restore need CRIU 3.x)".to_string(),
    }
}

/// runc's name for the file of the container's stdio at checkpoint time.
const DESCRIPTORS: &str = "descriptors.json";

/// The options `checkpoint` and `restore` share, checked.
struct Common {
    images: PathBuf,
    /// The work dir if given (logs go there).
    work: Option<PathBuf>,
    cg_mode: CriuCgMode,
    empty_ns: u32,
}

impl Common {
    /// `create_images`: checkpoint makes the image dir; restore needs it.
    /// The image directory: --image-path, or ./checkpoint as runc's.
    fn images(a: &CriuArgs) -> Result<PathBuf> {
        Ok(match &a.image_path {
            Some(p) => p.clone(),
            None => std::env::current_dir()?.join("checkpoint"),
        })
    }

    fn new(a: &CriuArgs, create_images: bool) -> Result<Common> {
        let images = Self::images(a)?;
        if create_images {
            mkdir_700(&images)?;
        }
        open_dir(&images)?;
        if let Some(w) = &a.work_path {
            mkdir_700(w)?;
            open_dir(w)?;
        }
        Ok(Common {
            images,
            work: a.work_path.clone(),
            cg_mode: cg_mode(a.manage_cgroups_mode.as_deref())?,
            empty_ns: empty_ns(&a.empty_ns)?,
        })
    }

    /// Where criu writes its log.
    fn log_dir(&self) -> &Path {
        self.work.as_deref().unwrap_or(&self.images)
    }

    /// The directories criu opens for itself (`swrk::ChildSetup::dirs`).
    fn dirs(&self) -> Vec<PathBuf> {
        let mut d = vec![self.images.clone()];
        d.extend(self.work.clone());
        d
    }

    /// The options every request carries (runc's set); `extra`: how many
    /// fds go to criu before the directories.
    fn opts(&self, a: &CriuArgs, log_file: &str, spec: &Spec, extra: usize) -> CriuOpts {
        CriuOpts {
            images_dir_fd: swrk::Session::dir_fd(extra, 0),
            work_dir_fd: self.work.as_ref().map(|_| swrk::Session::dir_fd(extra, 1)),
            log_level: Some(4),
            log_file: Some(log_file.to_string()),
            manage_cgroups: Some(true),
            manage_cgroups_mode: Some(self.cg_mode as i32),
            notify_scripts: Some(true),
            shell_job: Some(a.shell_job),
            ext_unix_sk: Some(a.ext_unix_sk),
            tcp_established: Some(a.tcp_established),
            file_locks: Some(a.file_locks),
            empty_ns: Some(self.empty_ns),
            orphan_pts_master: Some(true),
            auto_dedup: Some(a.auto_dedup),
            lazy_pages: Some(a.lazy_pages),
            config_file: config_file(spec),
            ..Default::default()
        }
    }
}

fn mkdir_700(p: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(p)
        .with_context(|| format!("mkdir {}", p.display()))
}

fn open_dir(p: &Path) -> Result<()> {
    let f = std::fs::File::open(p).with_context(|| format!("open {}", p.display()))?;
    if !f.metadata()?.is_dir() {
        bail!("open {}: not a directory", p.display());
    }
    Ok(())
}

fn cg_mode(m: Option<&str>) -> Result<CriuCgMode> {
    Ok(match m {
        None | Some("") => CriuCgMode::Default,
        Some("soft") => CriuCgMode::Soft,
        Some("full") => CriuCgMode::Full,
        Some("strict") => CriuCgMode::Strict,
        Some("ignore") => CriuCgMode::Ignore,
        Some(_) => bail!("Invalid manage-cgroups-mode value"),
    })
}

/// As runc: the network namespace is always left empty (the runtime does not
/// manage network devices); `--empty-ns network` says so explicitly.
fn empty_ns(list: &[String]) -> Result<u32> {
    for ns in list {
        if ns != "network" {
            bail!(
                "namespace {} is not supported",
                crate::logging::go_quote(ns)
            );
        }
    }
    Ok(libc::CLONE_NEWNET as u32)
}

/// CRIU reads a configuration file that overrides RPC options: the one named
/// by the `org.criu.config` annotation (empty: none), else runc's
/// /etc/criu/runc.conf, so that one file serves both runtimes.
fn config_file(spec: &Spec) -> Option<String> {
    match spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get("org.criu.config"))
    {
        Some(f) if f.is_empty() => None,
        Some(f) => Some(f.clone()),
        None => Some("/etc/criu/runc.conf".to_string()),
    }
}

/// CRIU's key for an external namespace (runc's: extRootNetNS, extRootPidNS).
fn ext_ns_key(t: T) -> &'static str {
    match t {
        T::Pid => "extRootPidNS",
        _ => "extRootNetNS",
    }
}

/// The namespace joined by path in the config, if any.
fn ns_path(spec: &Spec, t: T) -> Option<PathBuf> {
    spec.linux()
        .as_ref()?
        .namespaces()
        .as_ref()?
        .iter()
        .find(|n| n.typ() == t)?
        .path()
        .clone()
        .filter(|p| !p.as_os_str().is_empty())
}

/// runc's minimum CRIU for an external network (3.11) or pid (3.15) namespace.
fn ext_ns_min_version(t: T) -> i32 {
    if t == T::Pid {
        31500
    } else {
        31100
    }
}

/// runc's "Quoting" of criu's log: each line with "Error" and the five
/// before it, as warnings, so the reason is on the terminal.
fn quote_log_errors(dir: &Path, file: &str) {
    let path = dir.join(file);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut printed = 0usize;
    for (i, l) in lines.iter().enumerate() {
        if !l.contains("Error") {
            continue;
        }
        if printed == 0 {
            crate::logging::warn(&format!(
                "--- Quoting {}",
                crate::logging::go_quote(&path.display().to_string())
            ));
        }
        for (n, line) in lines
            .iter()
            .enumerate()
            .take(i + 1)
            .skip(i.saturating_sub(5))
        {
            if n + 1 > printed && !line.is_empty() {
                crate::logging::warn(&format!("{}:{line}", n + 1));
                printed = n + 1;
            }
        }
    }
    if printed > 0 {
        crate::logging::warn("---");
    }
}

/// A failed criu call: with the log quoted and, if `criu check` fails on
/// this kernel, that as the one-line reason.
fn failed(criu: &swrk::Criu, c: &Common, log_file: &str, e: anyhow::Error) -> anyhow::Error {
    quote_log_errors(c.log_dir(), log_file);
    match swrk::check_failure(&criu.path) {
        Some(why) => anyhow::anyhow!("{why}"),
        None => e,
    }
}

/// The container's config for CRIU's options: the bundle's config.json
/// (tong keeps no copy of the mounts in state.json, which create writes on
/// its hot path).
fn read_config(bundle: &Path) -> Result<Spec> {
    let path = bundle.join("config.json");
    let data = std::fs::read(&path).with_context(|| {
        format!(
            "checkpoint needs the bundle's config: read {}",
            path.display()
        )
    })?;
    serde_json::from_slice(&data).map_err(|e| anyhow::anyhow!("invalid {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_namespaces() {
        assert_eq!(cg_mode(None).unwrap(), CriuCgMode::Default);
        assert_eq!(cg_mode(Some("soft")).unwrap(), CriuCgMode::Soft);
        assert_eq!(cg_mode(Some("ignore")).unwrap(), CriuCgMode::Ignore);
        assert!(cg_mode(Some("x")).is_err());
        // The network namespace is always left empty, as runc does.
        assert_eq!(empty_ns(&[]).unwrap(), libc::CLONE_NEWNET as u32);
        assert_eq!(
            empty_ns(&["network".to_string()]).unwrap(),
            libc::CLONE_NEWNET as u32
        );
        assert!(empty_ns(&["pid".to_string()]).is_err());
    }

    #[test]
    fn config_file_follows_the_annotation() {
        let mut spec = Spec::default();
        assert_eq!(config_file(&spec).as_deref(), Some("/etc/criu/runc.conf"));
        let mut a = std::collections::HashMap::new();
        a.insert("org.criu.config".to_string(), String::new());
        spec.set_annotations(Some(a.clone()));
        assert_eq!(config_file(&spec), None);
        a.insert("org.criu.config".to_string(), "/x.conf".to_string());
        spec.set_annotations(Some(a));
        assert_eq!(config_file(&spec).as_deref(), Some("/x.conf"));
    }
}
