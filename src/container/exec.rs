//! The parent side of `exec`: a new process in a running container's
//! namespaces and cgroup. It is forked in the container's pid namespace
//! (the parent stands in it for the clone), born into its cgroup where it
//! can be, placed, then driven until it execs (EOF on the sync socket) or
//! reports an error; the guard kills it on any failure.

use super::create::send_seccomp_listener;
use super::guard::Guard;
use crate::bundle::compile_seccomp;
use crate::cgroups::Cgroup;
use crate::namespaces::flag;
use crate::process::clone::{clone3_into, Forked};
use crate::process::exec::{self as child, ExecChildArgs};
use crate::process::numa;
use crate::state::{Container, Status};
use crate::sync::{self, Msg};
use crate::{debug, signals};
use anyhow::{bail, Context, Result};
use nix::sched::{setns, CloneFlags};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType as T, Process};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

pub struct ExecOpts<'a> {
    pub process: Process,
    /// The connected console socket (process.terminal).
    pub console: Option<OwnedFd>,
    pub preserve_fds: u32,
    /// --cgroup: sub-cgroups of the container's (PATH or CONTROLLER:PATH).
    pub sub_cgroups: &'a [String],
    pub pid_file: Option<&'a Path>,
    /// --pidfd-socket: gets a pidfd of the process once it has exec'd.
    pub pidfd_socket: Option<&'a Path>,
}

/// Starts `o.process` in container `c` (whose status the caller checked);
/// returns its pid once it has exec'd. It is our child: the caller waits
/// for it or leaves it (-d).
pub fn exec(c: Container, o: ExecOpts) -> Result<Pid> {
    let pidfd_sock = o
        .pidfd_socket
        .map(crate::pidfd_socket::connect_to)
        .transpose()?;
    let init_pidfd = signals::pidfd_open(c.state.pid)?;
    if !c.init_alive() {
        bail!("cannot exec in a stopped container");
    }
    let mut join = CloneFlags::empty();
    for t in &c.state.namespaces {
        if *t != T::Pid {
            join |= flag(*t);
        }
    }
    let in_userns = c.state.namespaces.contains(&T::User);
    let has_pidns = c.state.namespaces.contains(&T::Pid);
    let cgroup = Cgroup::open(&c.state.cgroup_path, &c.state.id, false)?;
    let cgroup_path = c.state.cgroup_path.clone();
    let user_scope = c.state.systemd.clone().filter(|s| s.is_user());
    let seccomp = compile_seccomp(c.state.seccomp.as_ref())?;
    let seccomp_cfg = c.state.seccomp.clone();
    let state_json = c.state.hook_json(Status::Running, c.state.pid);
    let id = c.state.id.clone();
    let (personality, memory_policy) = (c.state.personality.clone(), c.state.memory_policy.clone());
    let intel_rdt = c.state.intel_rdt.clone();
    // The child must not inherit the state lock.
    drop(c);
    let (parent, chan) = sync::pair()?;
    let no_cgroup = cgroup_path.as_os_str().is_empty();
    let mut late_pidns = false;
    let saved_pidns = if has_pidns {
        let own = std::fs::File::open("/proc/self/ns/pid_for_children")?;
        if !crate::namespaces::can_return(&own) {
            // tong in a user namespace that does not own its own pid
            // namespace (rootless Podman's): it could not come back. The
            // child joins and forks, as below.
            late_pidns = true;
            None
        // SAFETY: setns(2) on a pidfd.
        } else if unsafe { libc::setns(init_pidfd.as_raw_fd(), libc::CLONE_NEWPID) } == 0 {
            Some(own)
        } else {
            let e = std::io::Error::last_os_error();
            // Rootless: the pid namespace belongs to the container's user
            // namespace, where we have no privilege. The child joins both
            // and forks the process beside itself (`ExecChildArgs::late_pidns`).
            if e.raw_os_error() != Some(libc::EPERM) || !in_userns {
                return Err(e).context("enter the container's pid namespace");
            }
            late_pidns = true;
            None
        }
    } else {
        None
    };
    // The child moves itself into the v1 hierarchies and is born into the
    // cgroup2 one: no pid written to cgroup.procs (see cgroups::v1::write_procs).
    // Not with --cgroup: the parent moves it on to sub-cgroups, after the join.
    let self_join = if no_cgroup {
        None
    } else if o.sub_cgroups.is_empty() {
        cgroup.prepare_self_join(false)?
    } else {
        None
    };
    let unified = self_join.as_ref().and_then(|s| s.unified_fd());
    // execCPUAffinity.initial: the child is born with it, before any cgroup
    // join (we lend it our own affinity for the clone).
    let initial = o
        .process
        .exec_cpu_affinity()
        .as_ref()
        .and_then(|a| a.initial().clone())
        .filter(|s| !s.is_empty());
    let ours = match &initial {
        Some(cpus) => {
            let saved = numa::get_affinity()?;
            numa::set_affinity(cpus).context("process.execCPUAffinity.initial")?;
            Some(saved)
        }
        None => None,
    };
    let forked = clone3_into(0, unified.as_ref().map(|f| f.as_fd()));
    if let Ok((Forked::Child, _)) = forked {
        drop(parent);
        child::run(ExecChildArgs {
            chan,
            init_pidfd,
            join,
            late_pidns,
            in_userns,
            process: o.process,
            console: o.console,
            keep_fds: o.preserve_fds,
            seccomp,
            cgroup: self_join.as_ref(),
            personality,
            memory_policy,
        });
    }
    if let Some(saved) = ours {
        numa::restore_affinity(&saved)?;
    }
    if let Some(own) = saved_pidns {
        setns(own.as_fd(), CloneFlags::CLONE_NEWPID)
            .context("return to the runtime's pid namespace")?;
    }
    drop(unified);
    let (Forked::Parent { mut pid, pidfd }, born_in_cgroup) = forked? else {
        unreachable!("the exec child never returns")
    };
    drop((chan, o.console));
    let mut guard = Guard::default();
    guard.child(pid, pidfd);
    crate::failpoint!("exec.forked");
    match &self_join {
        Some(s) if !born_in_cgroup => match (s.join_unified(pid), &user_scope) {
            // Rootless, from outside the user manager's tree, the kernel
            // refuses the move (EACCES: no write access to the common
            // ancestor): the user instance is asked instead, as runc does.
            (Err(e), Some(scope)) => {
                debug!("exec: {e:#}; asking the systemd user instance");
                scope
                    .attach(&id, pid)
                    .map_err(|a| anyhow::anyhow!("{e:#} (and through systemd: {a:#})"))?
            }
            (r, _) => r?,
        },
        Some(_) => {}
        None if no_cgroup => {}
        None => cgroup.add(pid)?,
    }
    if !no_cgroup {
        join_sub_cgroups(&cgroup_path, o.sub_cgroups, pid)?;
    }
    if let Some(dir) = &intel_rdt {
        crate::resctrl::add(dir, pid.as_raw())?;
    }
    crate::failpoint!("exec.placed");
    parent.send(&Msg::Proceed)?;
    loop {
        match parent.recv_with_fd()? {
            None => break,
            Some((Msg::SeccompListener, Some(fd))) => {
                // As runc: each exec'd process's listener goes to the agent too.
                send_seccomp_listener(seccomp_cfg.as_ref(), &state_json, &fd)?;
            }
            Some((Msg::Error(e), _)) => bail!("unable to start container process: {e}"),
            Some((Msg::Forked { pid: real }, _)) if late_pidns => {
                // The intermediate is done; the process it forked is ours.
                nix::sys::wait::waitpid(pid, None).context("reap the intermediate")?;
                pid = Pid::from_raw(real);
                guard.child(pid, signals::pidfd_open(real)?);
            }
            Some((m, _)) => bail!("unexpected message {m}"),
        }
    }
    debug!("exec'd pid {pid} in container {id}");
    if let Some(s) = &pidfd_sock {
        crate::pidfd_socket::send(s, pid.as_raw(), crate::pidfd_socket::Kind::Exec)?;
    }
    crate::failpoint!("exec.done");
    guard.disarm();
    if let Some(f) = o.pid_file {
        super::write_pid_file(f, pid.as_raw())?;
    }
    Ok(pid)
}

/// With --cgroup, a sub-cgroup of the container's (PATH for every controller,
/// CONTROLLER:PATH for one, on cgroup v1).
fn join_sub_cgroups(base: &Path, subs: &[String], pid: Pid) -> Result<()> {
    for s in subs {
        let (ctrl, path) = match s.split_once(':') {
            Some((c, p)) => (Some(c), p),
            None => (None, s.as_str()),
        };
        let rel = base
            .strip_prefix("/")
            .unwrap_or(base)
            .join(path.trim_start_matches('/'));
        let dirs: Vec<std::path::PathBuf> = match ctrl {
            Some(c) => vec![Path::new("/sys/fs/cgroup").join(c).join(&rel)],
            None => {
                // The sub-cgroup must exist (runc: "an (existing)
                // sub-cgroup"), in every hierarchy: never made here.
                let own = base.strip_prefix("/").unwrap_or(base);
                for h in &crate::cgroups::Hierarchies::read().all {
                    let d = h.mount.join(&rel);
                    if h.mount.join(own).is_dir() && !d.is_dir() {
                        bail!(
                            "unable to start container process: error adding pid {pid} to cgroups: failed to write {pid}: openat2 {}/cgroup.procs: no such file or directory",
                            d.display()
                        );
                    }
                }
                let sub = Cgroup::open(&Path::new("/").join(&rel), "exec", false)?;
                sub.add(pid)?;
                continue;
            }
        };
        for d in dirs {
            std::fs::write(d.join("cgroup.procs"), pid.to_string())
                .with_context(|| format!("join sub-cgroup {}", d.display()))?;
        }
    }
    Ok(())
}
