//! `start`: tells a created container's init to exec the user process, waits
//! until it has (the init's connection closes on exec), then runs poststart hooks.

use super::create::oci_state_json;
use crate::state::{Container, Status};
use crate::{debug, hooks};
use anyhow::{bail, Context, Result};
use nix::sys::socket::{connect, send, socket, AddressFamily, MsgFlags, SockFlag, SockType};
use std::os::fd::AsRawFd;
use std::path::Path;

pub fn start(root: &Path, id: &str) -> Result<()> {
    start_loaded(&Container::load(root, id)?)
}

/// `start` of a container already loaded and locked (`run` has it from create).
pub fn start_loaded(c: &Container) -> Result<()> {
    let id = &c.state.id;
    match c.status() {
        Status::Created => {}
        Status::Stopped => bail!("cannot start a container that has stopped"),
        Status::Creating => bail!("cannot start a container that is still being created"),
        Status::Running | Status::Paused => bail!("cannot start an already running container"),
    }
    let dir = std::fs::File::open(&c.dir)?;
    let s = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    connect(s.as_raw_fd(), &super::create::start_socket_addr(&dir)?)
        .context("reach the container's init")?;
    send(s.as_raw_fd(), b"s", MsgFlags::MSG_NOSIGNAL).context("release the container's init")?;
    // From here the container counts as started, whatever happens next.
    let _ = std::fs::remove_file(c.start_sock_path());
    let mut b = [0u8; 4096];
    // EOF once the init has exec'd (its end is close-on-exec) or died; an error
    // text if a startContainer hook failed.
    let n = nix::sys::socket::recv(s.as_raw_fd(), &mut b, MsgFlags::empty()).unwrap_or(0);
    if n > 0 {
        bail!("{}", String::from_utf8_lossy(&b[..n]));
    }
    debug!("container {id} started");
    let state = oci_state_json(&c.state, Status::Running, c.state.pid);
    hooks::run_all_warn(
        "poststart",
        c.state.hooks.as_ref().and_then(|h| h.poststart().as_ref()),
        &state,
    );
    Ok(())
}
