//! `restore`: a create whose first process CRIU makes from an image. The
//! `CriuSpawner` plugs into `container::create_with`, so the restored
//! container gets create's state dir, cgroup (criu itself is put there with
//! the resources, and the restored tree follows it), runtime hooks (on
//! CRIU's setup-namespaces notification), state.json, pid file, and the
//! guard that removes all of it if anything fails. The restored init is
//! our child (CRIU's restore-sibling); in the foreground we wait for it as
//! `run` does and delete the container when it exits.

use super::rpc::{CriuOpts, CriuReq, CriuReqType, InheritFd, JoinNamespace};
use super::swrk::{self, ChildSetup, Criu, Session};
use super::{mounts, Common, DESCRIPTORS};
use crate::cli::RestoreArgs;
use crate::container::{self, CreateOpts, Launch, Spawner};
use crate::namespaces::proc_name;
use crate::{debug, foreground, tty};
use anyhow::{bail, Context, Result};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType as T, Spec};
use std::cell::RefCell;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

pub struct RestoreOpts<'a> {
    pub root: &'a Path,
    pub systemd_cgroup: bool,
    pub args: &'a RestoreArgs,
}

/// Restores and, unless --detach, waits for the container like `run`:
/// returns the exit code to exit with.
pub fn restore(o: &RestoreOpts) -> Result<i32> {
    if o.args.detach {
        restore_blocked(o)
    } else {
        // Signals are blocked before the restored init exists so that they
        // are forwarded to it, not lost.
        foreground::with_signals_blocked(|| restore_blocked(o))
    }
}

fn restore_blocked(o: &RestoreOpts) -> Result<i32> {
    let a = o.args;
    let plan = container::load_plan(&a.bundle, &a.id, o.systemd_cgroup, false)?;
    // runc's order: an id in use, then the image's descriptors.json (so a
    // missing image directory is named by that file), then CRIU. create_with
    // checks the id again, atomically, when it makes the state dir.
    if crate::paths::container_dir(o.root, &a.id).exists() {
        bail!("container with given ID already exists");
    }
    let descriptors = read_descriptors(&Common::images(&a.criu)?)?;
    let common = Common::new(&a.criu, false)?;
    let criu = swrk::find()?;
    let console = match (plan.terminal(), &a.console_socket) {
        (false, _) => None,
        (true, Some(p)) => Some(tty::connect_console(p)?),
        (true, None) if a.detach => {
            bail!("cannot allocate tty if tong will detach without setting console socket")
        }
        (true, None) => None,
    };
    if !a.no_subreaper {
        // Orphans of the restored tree come to us, not to init.
        // SAFETY: prctl without pointers.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
    }
    let opts = CreateOpts {
        root: o.root,
        id: &a.id,
        pid_file: a.pid_file.as_deref(),
        console_socket: a.console_socket.as_deref(),
        no_pivot: a.no_pivot,
        no_new_keyring: false,
        preserve_fds: 0,
        pidfd_socket: None,
        notify: false,
        // CRIU needs root: never the rootless cgroup decision.
        rootless_cgroups: false,
    };
    let master = RefCell::new(None);
    let created = container::create_with(
        &opts,
        &plan,
        CriuSpawner {
            criu: &criu,
            common: &common,
            args: a,
            descriptors,
            console,
            master: &master,
        },
    )?;
    debug!("container {} restored as pid {}", a.id, created.pid);
    if a.detach {
        return Ok(0);
    }
    let pid = created.pid;
    drop(created.container);
    let master = master.into_inner();
    let code = foreground::wait(pid, master.as_ref())?;
    container::delete(o.root, &a.id, true)?;
    Ok(code)
}

/// The stdio of the checkpointed init (written by `checkpoint`).
fn read_descriptors(images: &Path) -> Result<Vec<String>> {
    let path = images.join(DESCRIPTORS);
    let data = std::fs::read(&path).with_context(|| format!("open {}", path.display()))?;
    serde_json::from_slice(&data).with_context(|| format!("invalid {}", path.display()))
}

struct CriuSpawner<'a> {
    criu: &'a Criu,
    common: &'a Common,
    args: &'a RestoreArgs,
    descriptors: Vec<String>,
    /// The console socket (process.terminal with --console-socket).
    console: Option<OwnedFd>,
    /// The restored terminal's master when we relay it ourselves.
    master: &'a RefCell<Option<OwnedFd>>,
}

const LOG_FILE: &str = "restore.log";

impl Spawner for CriuSpawner<'_> {
    fn spawn(self, launch: &mut Launch) -> Result<Pid> {
        let r = self.restore(launch);
        // Only ever a mountpoint in criu's own mount namespace.
        let _ = std::fs::remove_dir(launch.container.dir.join("criu-root"));
        r.map_err(|e| super::failed(self.criu, self.common, LOG_FILE, e))
    }
}

impl CriuSpawner<'_> {
    fn restore(&self, launch: &mut Launch) -> Result<Pid> {
        let (plan, a) = (launch.plan, self.args);
        let spec = &plan.spec;
        let dir = std::fs::canonicalize(&launch.container.dir)?;
        let criu_root = dir.join("criu-root");
        std::fs::create_dir(&criu_root)
            .with_context(|| format!("mkdir {}", criu_root.display()))?;

        let mut ns = CriuOpts::default();
        let extra = self.namespaces(spec, &mut ns)?;
        let mut opts = CriuOpts {
            root: Some(criu_root.display().to_string()),
            evasive_devices: Some(true),
            rst_sibling: Some(true),
            inherit_fd: ns.inherit_fd,
            join_ns: ns.join_ns,
            ..self.common.opts(&a.criu, LOG_FILE, spec, extra.len())
        };
        for (flag, v, o) in [
            ("--lsm-profile", &a.lsm_profile, &mut opts.lsm_profile),
            (
                "--lsm-mount-context",
                &a.lsm_mount_context,
                &mut opts.lsm_mount_context,
            ),
        ] {
            if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                if self.criu.version < 31600 {
                    bail!("{flag} requires at least CRIU 3.16");
                }
                *o = Some(v.clone());
            }
        }
        opts.ext_mnt = mounts::restore_ext(spec, &plan.bundle, &plan.rootfs, &plan.cgroup_path);
        // The checkpointed init's pipes are mapped to our stdio (runc).
        for (i, d) in self.descriptors.iter().enumerate() {
            if d.contains("pipe:") {
                opts.inherit_fd.push(InheritFd {
                    key: d.clone(),
                    fd: i as i32,
                });
            }
        }

        let prepare = || mounts::prepare_root(spec, &plan.bundle, &plan.rootfs, &criu_root);
        let mut s = Session::start(
            self.criu,
            ChildSetup {
                extra: extra.iter().map(|f| f.as_raw_fd()).collect(),
                inherit_stdio: true,
                prepare: Some(&prepare),
                dirs: self.common.dirs(),
            },
        )?;
        // criu restores the tree into its own cgroup: the container's.
        launch.join_cgroup(s.pid)?;
        opts.cg_root = cgroup_roots(s.pid)?;

        let req = CriuReq {
            r#type: CriuReqType::Restore as i32,
            opts: Some(opts),
            ..Default::default()
        };
        let mut restored: Option<Pid> = None;
        let resp = s.call(req, |n, fd| {
            let script = n.script.as_deref().unwrap_or("");
            debug!("criu notify: {script} {}", n.pid.unwrap_or(0));
            match script {
                "setup-namespaces" => {
                    launch.runtime_hooks(Pid::from_raw(n.pid.unwrap_or(0)))?;
                }
                "post-restore" => {
                    let pid = n.pid.context("post-restore without a pid")?;
                    launch.adopt(Pid::from_raw(pid), crate::signals::pidfd_open(pid)?);
                    restored = Some(Pid::from_raw(pid));
                }
                "orphan-pts-master" => {
                    let m = fd.context("orphan-pts-master without an fd")?;
                    match &self.console {
                        Some(sock) => tty::send_fd(sock.as_raw_fd(), m.as_raw_fd(), "/dev/ptmx")?,
                        None => *self.master.borrow_mut() = Some(m),
                    }
                }
                // runc's network lock/unlock act on libcontainer's network
                // list, which an OCI config never fills: nothing to do.
                _ => {}
            }
            Ok(())
        })?;
        s.finish(CriuReqType::Restore)?;
        let pid = match (restored, resp.restore) {
            (Some(p), _) => p,
            (None, Some(r)) => {
                launch.adopt(Pid::from_raw(r.pid), crate::signals::pidfd_open(r.pid)?);
                Pid::from_raw(r.pid)
            }
            (None, None) => bail!("criu restored no process"),
        };
        // CRIU puts the tree in a new time namespace (monotonic clocks go
        // on): `exec` must join it too.
        let ns = &mut launch.container.state.namespaces;
        if !ns.contains(&T::Time) && differs_from_ours(pid, "time") {
            ns.push(T::Time);
        }
        Ok(pid)
    }

    /// Namespaces joined by path: network and pid are external to the image
    /// (their fds handed to criu as 4, 5, …), the others are joined by criu.
    fn namespaces(&self, spec: &Spec, opts: &mut CriuOpts) -> Result<Vec<OwnedFd>> {
        let mut extra: Vec<OwnedFd> = Vec::new();
        let list = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default();
        for n in &list {
            let Some(path) = n.path().as_ref().filter(|p| !p.as_os_str().is_empty()) else {
                continue;
            };
            let t = n.typ();
            let name = proc_name(t);
            match t {
                T::Network | T::Pid => {
                    if self.criu.version < super::ext_ns_min_version(t) {
                        bail!("criu lacks support for external {name} namespace during the restoration process (old criu version?)");
                    }
                    let f = std::fs::File::open(path).map_err(|e| {
                        anyhow::anyhow!(
                            "Requested {name} namespace {} does not exist: {e}",
                            path.display()
                        )
                    })?;
                    opts.inherit_fd.push(InheritFd {
                        key: super::ext_ns_key(t).to_string(),
                        fd: 4 + extra.len() as i32,
                    });
                    extra.push(f.into());
                }
                T::Cgroup => bail!("Do not know how to handle namespace {name}"),
                _ => opts.join_ns.push(JoinNamespace {
                    ns: name.to_string(),
                    ns_file: path.display().to_string(),
                    extra_opt: None,
                }),
            }
        }
        Ok(extra)
    }
}

/// CRIU's cgroup roots: where criu is now, per hierarchy (runc reads
/// /proc/PID/cgroup of criu the same way).
fn cgroup_roots(pid: Pid) -> Result<Vec<super::rpc::CgroupRoot>> {
    let text =
        std::fs::read_to_string(format!("/proc/{pid}/cgroup")).context("read criu's cgroups")?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut p = l.splitn(3, ':');
            let (_, ctrls, path) = (p.next()?, p.next()?, p.next()?);
            Some(super::rpc::CgroupRoot {
                ctrl: Some(ctrls.to_string()),
                path: path.to_string(),
            })
        })
        .collect())
}

fn differs_from_ours(pid: Pid, ns: &str) -> bool {
    let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{ns}"));
    let ours = std::fs::read_link(format!("/proc/self/ns/{ns}"));
    matches!((theirs, ours), (Ok(a), Ok(b)) if a != b)
}
