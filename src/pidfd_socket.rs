//! `--pidfd-socket` (create, run, exec): a pidfd of the container's init, or
//! of the exec'd process, sent over a unix stream socket the caller listens
//! on, as runc 1.2 does: one message whose data is "standard" (the init) or
//! "setns" (an exec'd process), with the pidfd in SCM_RIGHTS. The socket is
//! connected before anything is made, so a bad path fails early; the pidfd
//! goes out before the command returns.

use anyhow::{Context, Result};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// Which process the pidfd is of (runc's words).
pub enum Kind {
    Init,
    Exec,
}

pub fn connect_to(path: &Path) -> Result<OwnedFd> {
    crate::tty::connect_unix(path, "--pidfd-socket")
}

/// Sends a pidfd of `pid` (a process of ours: not reaped, so the pid is its).
pub fn send(sock: &OwnedFd, pid: i32, kind: Kind) -> Result<()> {
    let pidfd = crate::signals::pidfd_open(pid)?;
    let name = match kind {
        Kind::Init => "standard",
        Kind::Exec => "setns",
    };
    crate::tty::send_fd(sock.as_raw_fd(), pidfd.as_raw_fd(), name)
        .context("send the pidfd to --pidfd-socket")
}
