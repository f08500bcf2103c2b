//! `exec`: run a new process in a container's namespaces and cgroup, with the
//! container's process as the template for whatever the flags leave unset.

use super::Global;
use crate::cgroups::Cgroup;
use crate::cli::ExecArgs;
use crate::namespaces::flag;
use crate::process::clone::{clone3_into, Forked};
use crate::process::exec::{self as child, ExecChildArgs};
use crate::state::{Container, Status};
use crate::sync::{self, Msg};
use crate::{debug, signals};
use anyhow::{bail, Context, Result};
use nix::sched::{setns, CloneFlags};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use oci_spec::runtime::{Capability, LinuxNamespaceType as T, Process};
use std::os::fd::{AsFd, AsRawFd};
use std::str::FromStr;

/// `--user` is numeric `UID[:GID]` and nothing else (crun CVE-2026-30892 came
/// from lax parsing).
pub fn parse_user(s: &str) -> Result<(u32, Option<u32>)> {
    let bad = || {
        anyhow::anyhow!(
            "invalid --user {}: must be UID[:GID], numeric",
            crate::logging::go_quote(s)
        )
    };
    let (u, g) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let num = |x: &str| -> Result<u32> {
        if x.is_empty() || !x.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        // u32::MAX is (uid_t)-1: "leave unchanged" to setresuid.
        x.parse::<u32>()
            .ok()
            .filter(|v| *v != u32::MAX)
            .ok_or_else(bad)
    };
    Ok((num(u)?, g.map(num).transpose()?))
}

fn build_process(template: Option<&Process>, a: &ExecArgs) -> Result<Process> {
    if let Some(path) = &a.process {
        let data =
            std::fs::read(path).with_context(|| format!("read process file {}", path.display()))?;
        let p: Process = serde_json::from_slice(&data)
            .map_err(|e| anyhow::anyhow!("invalid process file {}: {e}", path.display()))?;
        if p.args().as_ref().is_none_or(|a| a.is_empty()) {
            bail!("process args cannot be empty");
        }
        return Ok(p);
    }
    if a.args.is_empty() {
        bail!("exec args cannot be empty");
    }
    let mut p = template.cloned().unwrap_or_default();
    p.set_args(Some(a.args.clone()));
    p.set_terminal(Some(a.tty));
    p.set_console_size(None);
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(a.env.iter().cloned());
    p.set_env(Some(env));
    if let Some(u) = &a.user {
        let (uid, gid) = parse_user(u)?;
        p.user_mut().set_uid(uid);
        if let Some(g) = gid {
            p.user_mut().set_gid(g);
        }
    }
    if !a.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(a.additional_gids.clone()));
    }
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for name in &a.cap {
            let c = Capability::from_str(name.trim_start_matches("CAP_")).map_err(|_| {
                anyhow::anyhow!("unknown capability {}", crate::logging::go_quote(name))
            })?;
            // Never inheritable (CVE-2022-29162).
            for set in [
                caps.bounding().clone(),
                caps.effective().clone(),
                caps.permitted().clone(),
            ]
            .iter_mut()
            .enumerate()
            {
                let mut s = set.1.clone().unwrap_or_default();
                s.insert(c);
                match set.0 {
                    0 => caps.set_bounding(Some(s)),
                    1 => caps.set_effective(Some(s)),
                    _ => caps.set_permitted(Some(s)),
                };
            }
        }
        p.set_capabilities(Some(caps));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if a.apparmor.is_some() {
        p.set_apparmor_profile(a.apparmor.clone());
    }
    if a.process_label.is_some() {
        p.set_selinux_label(a.process_label.clone());
    }
    Ok(p)
}

pub fn exec(g: &Global, a: &ExecArgs) -> Result<i32> {
    let c = Container::load(&g.root, &a.id)?;
    match c.status() {
        Status::Running | Status::Created => {}
        Status::Paused if a.ignore_paused => {}
        Status::Paused => {
            bail!("cannot exec in a paused container (use --ignore-paused to override)")
        }
        Status::Stopped => bail!("cannot exec in a stopped container"),
        Status::Creating => bail!("cannot exec in a container that is being created"),
    }
    let process = build_process(c.state.process.as_ref(), a)?;
    let terminal = process.terminal().unwrap_or(false);
    let (console, relay) = match (terminal, &a.console_socket) {
        (false, _) => (None, None),
        (true, Some(path)) => (Some(super::create::connect_console(path)?), None),
        (true, None) if !a.detach => {
            let (x, y) = socketpair(
                AddressFamily::Unix,
                SockType::Stream,
                None,
                SockFlag::SOCK_CLOEXEC,
            )?;
            (Some(y), Some(x))
        }
        (true, None) => {
            bail!("cannot allocate tty if tong will detach without setting console socket")
        }
    };
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
    let seccomp = match &c.state.seccomp {
        Some(cfg) => {
            Some(tong_seccomp::compile(cfg).map_err(|e| anyhow::anyhow!("linux.seccomp: {e}"))?)
        }
        None => None,
    };
    let seccomp_cfg = c.state.seccomp.clone();
    let state_json = super::create::oci_state_json(&c.state, Status::Running, c.state.pid);
    // The child must not inherit the state lock.
    drop(c);
    let (parent, chan) = sync::pair()?;
    let saved_pidns = if has_pidns {
        let own = std::fs::File::open("/proc/self/ns/pid_for_children")?;
        // SAFETY: setns(2) on a pidfd.
        if unsafe { libc::setns(init_pidfd.as_raw_fd(), libc::CLONE_NEWPID) } != 0 {
            return Err(std::io::Error::last_os_error())
                .context("enter the container's pid namespace");
        }
        Some(own)
    } else {
        None
    };
    // The child moves itself into the v1 hierarchies and is born into the
    // cgroup2 one: no pid written to cgroup.procs (see cgroups::v1::write_procs).
    // Not with --cgroup: the parent moves it on to sub-cgroups, after the join.
    let self_join = if a.cgroup.is_empty() {
        cgroup.prepare_self_join(false)?
    } else {
        None
    };
    let unified = self_join.as_ref().and_then(|s| s.unified_fd());
    let forked = clone3_into(0, unified.as_ref().map(|f| f.as_fd()));
    if let Ok((Forked::Child, _)) = forked {
        drop(parent);
        child::run(ExecChildArgs {
            chan,
            init_pidfd,
            join,
            in_userns,
            process,
            console,
            keep_fds: a.preserve_fds,
            seccomp,
            cgroup: self_join.as_ref(),
        });
    }
    if let Some(own) = saved_pidns {
        setns(own.as_fd(), CloneFlags::CLONE_NEWPID)
            .context("return to the runtime's pid namespace")?;
    }
    drop(unified);
    let (Forked::Parent { pid, pidfd }, born_in_cgroup) = forked? else {
        unreachable!("the exec child never returns")
    };
    drop((chan, console));
    let fail = |e: anyhow::Error| -> Result<i32> {
        let _ = signals::pidfd_send(&pidfd, libc::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
        Err(e)
    };
    let joined = match &self_join {
        Some(s) if !born_in_cgroup => s.join_unified(pid),
        Some(_) => Ok(()),
        None => cgroup.add(pid),
    };
    if let Err(e) = joined.and_then(|()| join_sub_cgroups(&cgroup_path, &a.cgroup, pid)) {
        return fail(e);
    }
    parent.send(&Msg::Proceed)?;
    loop {
        match parent.recv_with_fd() {
            Ok(None) => break,
            Ok(Some((Msg::SeccompListener, Some(fd)))) => {
                // As runc: each exec'd process's listener goes to the agent too.
                let cfg = seccomp_cfg.as_ref().expect("a filter was installed");
                let st: serde_json::Value = serde_json::from_str(&state_json)?;
                let path = cfg.listener_path().clone().unwrap_or_default();
                if let Err(e) = tong_seccomp::send_listener(
                    &path,
                    fd.as_fd(),
                    &st,
                    cfg.listener_metadata().as_deref().unwrap_or(""),
                ) {
                    return fail(anyhow::anyhow!("seccomp listener: {e}"));
                }
            }
            Ok(Some((Msg::Error(e), _))) => return fail(anyhow::anyhow!(e)),
            Ok(Some((m, _))) => return fail(anyhow::anyhow!("unexpected message {m}")),
            Err(e) => return fail(e),
        }
    }
    debug!("exec'd pid {pid} in container {}", a.id);
    if let Some(f) = &a.pid_file {
        super::create::write_pid_file(f, pid.as_raw())?;
    }
    if a.detach {
        return Ok(0);
    }
    let master = match &relay {
        Some(s) => Some(super::run::recv_fd(s.as_raw_fd())?),
        None => None,
    };
    super::run::wait_forwarding_blocked(pid, master.as_ref())
}

/// With --cgroup, a sub-cgroup of the container's (PATH for every controller,
/// CONTROLLER:PATH for one, on cgroup v1).
fn join_sub_cgroups(base: &std::path::Path, subs: &[String], pid: nix::unistd::Pid) -> Result<()> {
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
            Some(c) => vec![std::path::Path::new("/sys/fs/cgroup").join(c).join(&rel)],
            None => {
                let sub = Cgroup::open(&std::path::Path::new("/").join(&rel), "exec", false)?;
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
