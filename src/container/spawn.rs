//! How a container's first process comes to exist. `create` forks the init
//! with clone3 (`InitSpawner`) and drives it through the sync protocol;
//! another spawner (CRIU restoring a checkpoint) plugs in by implementing
//! `Spawner` and using the same `Launch` steps for everything else.

use super::create::Launch;
use crate::namespaces::ParentJoin;
use crate::process::clone::{clone3_into, Forked};
use crate::process::init::{self, InitArgs};
use crate::sync::{self, Msg};
use crate::{debug, start_socket};
use anyhow::{anyhow, bail, Context, Result};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxNamespaceType as T;
use std::os::fd::{AsFd, OwnedFd};

pub trait Spawner {
    /// Makes the container's first process and brings it to where `create`
    /// may return: ready for `start` (or, for a restore, running). Uses
    /// `launch` for the parent-side steps (`prepare_cgroup`, `adopt` as soon
    /// as the process exists so a failure kills it, `place`,
    /// `runtime_hooks`); returns its pid, our child.
    fn spawn(self, launch: &mut Launch) -> Result<Pid>;
}

/// The init forked straight from tong with clone3: no re-exec, no threads,
/// so the child runs our code with an exact copy of the plan.
pub struct InitSpawner {
    /// The connected console socket (process.terminal).
    pub console: Option<OwnedFd>,
}

/// systemd's socket activation: LISTEN_FDS fds after --preserve-fds' go on.
pub fn listen_fds() -> u32 {
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// fds 3.. that go to the container: --preserve-fds plus systemd's LISTEN_FDS.
fn kept_fds(preserve_fds: u32) -> (u32, Vec<String>) {
    let listen = listen_fds();
    let env = if listen > 0 {
        vec![format!("LISTEN_FDS={listen}"), "LISTEN_PID=1".to_string()]
    } else {
        Vec::new()
    };
    (preserve_fds.saturating_add(listen), env)
}

/// The idmapped trees, `sync::MAX_FDS` a message; our copies close after.
fn send_mount_fds(chan: &sync::Channel, trees: crate::rootfs::idmap::Prepared) -> Result<()> {
    use std::os::fd::AsRawFd;
    for chunk in trees.chunks(sync::MAX_FDS) {
        let mounts = chunk.iter().map(|(i, _)| *i).collect();
        let fds: Vec<_> = chunk.iter().map(|(_, f)| f.as_raw_fd()).collect();
        chan.send_fds(&Msg::MountFds { mounts }, &fds)?;
    }
    Ok(())
}

/// runc's words for what failed while the init set the container up (its
/// own error, or a step the parent took for it: the runtime hooks).
fn during_init(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("unable to start container process: error during container init: {e}")
}

impl Spawner for InitSpawner {
    fn spawn(self, launch: &mut Launch) -> Result<Pid> {
        let (plan, opts) = (launch.plan, launch.opts);
        crate::namespaces::check_paths(&plan.ns)?;
        let self_join = launch.prepare_cgroup()?;
        let unified = self_join.as_ref().and_then(|s| s.unified_fd());
        let dir = std::fs::File::open(&launch.container.dir)?;
        let start_sock = start_socket::listen_in(&dir)?;
        let (parent, child) = sync::pair()?;
        let (keep_fds, extra_env) = kept_fds(opts.preserve_fds);

        let mut join = ParentJoin::enter(&plan.ns)?;
        let flags = if plan.ns.get(T::User).is_some_and(|n| n.path.is_some()) {
            // The init joins the user namespace first and unshares the rest itself.
            nix::sched::CloneFlags::empty()
        } else {
            plan.ns.clone_flags()
        };
        let forked = clone3_into(flags.bits() as u64, unified.as_ref().map(|f| f.as_fd()));
        if let Ok((Forked::Child, _)) = forked {
            // The parent's end must close with the parent (the init sees EOF
            // if create dies), and the state dir's flock must not live on.
            drop((parent, dir));
            launch.forget_in_child();
            init::run(InitArgs {
                plan,
                id: opts.id,
                chan: child,
                start_sock,
                console: self.console,
                no_pivot: opts.no_pivot,
                no_new_keyring: opts.no_new_keyring,
                keep_fds,
                extra_env,
                seccomp: plan.seccomp.as_ref(),
                cgroup: self_join.as_ref(),
                deferred_joins: &join.deferred,
            });
        }
        join.restore()?;
        let (Forked::Parent { mut pid, pidfd }, born_in_cgroup) = forked? else {
            unreachable!("the child never returns from init::run")
        };
        drop((child, start_sock, self.console));
        launch.adopt(pid, pidfd);
        debug!("init forked as pid {pid}");
        crate::failpoint!("create.forked");

        drop(unified);
        launch.place(pid, self_join.as_ref(), born_in_cgroup)?;
        // Idmapped mounts are made here, where their sources are ours.
        let trees = if plan.mounts.iter().any(|m| m.idmap.is_some()) {
            crate::rootfs::idmap::prepare(plan, pid)?
        } else {
            Vec::new()
        };
        parent.send(&Msg::Proceed)?;
        send_mount_fds(&parent, trees)?;
        loop {
            let (msg, fd) = parent
                .recv_with_fd()?
                .context("container init exited before it was ready")?;
            match msg {
                Msg::Error(e) => return Err(during_init(e)),
                Msg::Forked { pid: real } => {
                    // The intermediate is done; the init it forked is ours now.
                    nix::sys::wait::waitpid(pid, None).context("reap the intermediate")?;
                    pid = Pid::from_raw(real);
                    launch.adopt(pid, crate::signals::pidfd_open(real)?);
                }
                Msg::SeccompListener => {
                    let fd = fd.context("seccomp listener message without an fd")?;
                    launch.seccomp_listener(pid, &fd)?;
                }
                Msg::RunHooks => {
                    launch
                        .runtime_hooks(pid)
                        .map_err(|e| during_init(format!("{e:#}")))?;
                    parent.send(&Msg::HooksDone { pid: pid.as_raw() })?;
                }
                Msg::Ready => {
                    crate::failpoint!("create.ready");
                    return Ok(pid);
                }
                m => bail!("unexpected message from init: {m}"),
            }
        }
    }
}
