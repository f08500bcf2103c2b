//! sd_notify for containers (NOTIFY_SOCKET in tong's environment, as
//! systemd's Type=notify and Podman's `--sdnotify=container` set it), with
//! runc's proxy behaviour:
//!
//! * `create`/`run` add a read-only bind of `ROOT/ID/notify` at `/run/notify`
//!   and `NOTIFY_SOCKET=/run/notify/notify.sock` to the process's env;
//! * `start` (and `run`) bind a datagram socket there before the user process
//!   runs, and then wait: the first message starting with "READY=" is
//!   forwarded to the host's NOTIFY_SOCKET, followed by `MAINPID=` (the
//!   container's init; tong's own pid for a foreground `run`, which stays the
//!   service's main process) and an sd_notify barrier. They return once that
//!   is done, or when the init exits without being ready.

use crate::bundle::Plan;
use anyhow::{Context, Result};
use nix::sys::socket::{
    bind, connect, sendmsg, socket, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType,
    UnixAddr,
};
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Where the socket is inside the container.
pub const IN_CONTAINER: &str = "/run/notify/notify.sock";
const DIR: &str = "notify";
const SOCK: &str = "notify.sock";

/// The host's socket, if the caller gave one.
pub fn host_socket() -> Option<String> {
    std::env::var("NOTIFY_SOCKET")
        .ok()
        .filter(|s| !s.is_empty())
}

/// The directory the proxy socket lives in, in a container's state dir.
pub fn dir(container_dir: &Path) -> PathBuf {
    container_dir.join(DIR)
}

/// `create`/`run` with NOTIFY_SOCKET set: the bind mount and the env
/// variable the container's process gets. `state_dir` is ROOT/ID.
pub fn add_to_plan(plan: &mut Plan, state_dir: &Path) -> Result<()> {
    let source = std::path::absolute(dir(state_dir))?;
    let opts: Vec<String> = ["bind", "nosuid", "noexec", "nodev", "ro"]
        .map(String::from)
        .to_vec();
    let m: oci_spec::runtime::Mount = serde_json::from_value(serde_json::json!({
        "destination": "/run/notify",
        "type": "bind",
        "source": source,
        "options": opts,
    }))?;
    let planned = crate::rootfs::mounts::PlannedMount {
        opts: crate::rootfs::options::parse(&opts),
        idmap: None,
    };
    let mut mounts = plan.spec.mounts().clone().unwrap_or_default();
    mounts.push(m);
    plan.spec.set_mounts(Some(mounts));
    plan.mounts.push(planned);
    if let Some(p) = plan.spec.process_mut().as_mut() {
        let mut env = p.env().clone().unwrap_or_default();
        env.push(format!("NOTIFY_SOCKET={IN_CONTAINER}"));
        p.set_env(Some(env));
    }
    Ok(())
}

/// The listening end, bound in the container's notify directory.
pub struct Proxy {
    sock: OwnedFd,
    host: String,
}

/// With NOTIFY_SOCKET set and a container made with it (its notify
/// directory exists): the socket, bound before the user process runs.
pub fn listen(container_dir: &Path) -> Result<Option<Proxy>> {
    let Some(host) = host_socket() else {
        return Ok(None);
    };
    let d = dir(container_dir);
    if !d.is_dir() {
        crate::debug!("NOTIFY_SOCKET is set but the container was created without it");
        return Ok(None);
    }
    let path = d.join(SOCK);
    let _ = std::fs::remove_file(&path);
    let sock = socket(
        AddressFamily::Unix,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    bind(sock.as_raw_fd(), &UnixAddr::new(&path)?)
        .with_context(|| format!("bind the notify socket {}", path.display()))?;
    // Any user of the container may notify.
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o777))?;
    Ok(Some(Proxy { sock, host }))
}

impl Proxy {
    /// Waits for the container's READY and tells the host, with `main_pid`
    /// as its MAINPID; returns early if the process behind `pidfd` exits.
    pub fn forward_ready(&self, pidfd: &OwnedFd, main_pid: i32) -> Result<()> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut buf = vec![0u8; 4096];
        loop {
            let mut fds = [
                PollFd::new(self.sock.as_fd(), PollFlags::POLLIN),
                PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => {
                    r.context("wait for the container's READY")?;
                }
            }
            let got_msg = fds[0].revents().is_some_and(|r| !r.is_empty());
            let exited = fds[1].revents().is_some_and(|r| !r.is_empty());
            if got_msg {
                let n =
                    nix::sys::socket::recv(self.sock.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT)
                        .unwrap_or(0);
                let msg = &buf[..n];
                if msg.starts_with(b"READY=") {
                    let line = msg.split(|b| *b == b'\n').next().unwrap_or(msg);
                    return self.notify_host(line, main_pid);
                }
                continue;
            }
            if exited {
                crate::debug!("the container exited before it was ready");
                return Ok(());
            }
        }
    }

    fn notify_host(&self, ready: &[u8], main_pid: i32) -> Result<()> {
        let what = || format!("notify the host's NOTIFY_SOCKET {}", self.host);
        let c = socket(
            AddressFamily::Unix,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        let addr = match self.host.strip_prefix('@') {
            Some(abs) => UnixAddr::new_abstract(abs.as_bytes())?,
            None => UnixAddr::new(self.host.as_str())?,
        };
        connect(c.as_raw_fd(), &addr).with_context(what)?;
        let mut line = ready.to_vec();
        line.push(b'\n');
        let send = |data: &[u8]| {
            nix::sys::socket::send(c.as_raw_fd(), data, MsgFlags::MSG_NOSIGNAL).with_context(what)
        };
        send(&line)?;
        send(format!("MAINPID={main_pid}\n").as_bytes())?;
        barrier(&c).with_context(what)
    }
}

/// sd_notify_barrier: BARRIER=1 with a pipe's write end; the manager closes
/// it once it has handled everything sent before. 30 s at most, as runc.
fn barrier(c: &OwnedFd) -> Result<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    sendmsg::<()>(
        c.as_raw_fd(),
        &[IoSlice::new(b"BARRIER=1")],
        &[ControlMessage::ScmRights(&[w.as_raw_fd()])],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )?;
    drop(w);
    let mut fds = [PollFd::new(r.as_fd(), PollFlags::POLLIN)];
    if poll(&mut fds, PollTimeout::from(30_000u16)).unwrap_or(0) == 0 {
        crate::logging::warn("no answer to the sd_notify barrier after 30s; going on");
    }
    Ok(())
}
