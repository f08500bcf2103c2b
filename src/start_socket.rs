//! The start socket, both ends: `ROOT/ID/exec.sock`, a listening
//! SOCK_SEQPACKET socket that `create` binds and hands to the init, the init
//! blocks on until `start` connects and sends one byte. The connection stays
//! open in the init (close-on-exec): `start` reads EOF once the user process
//! runs, or the text of the error that stopped it (a startContainer hook).
//! While the socket file exists the container counts as "created".

use anyhow::{Context, Result};
use nix::sys::socket::{
    accept4, bind, connect, listen, recv, send, socket, AddressFamily, Backlog, MsgFlags, SockFlag,
    SockType, UnixAddr,
};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// The socket's address through the state dir's fd: sun_path is too short
/// for deep roots with 64-character ids.
fn addr(dir: &std::fs::File) -> Result<UnixAddr> {
    Ok(UnixAddr::new(
        format!(
            "/proc/self/fd/{}/{}",
            dir.as_raw_fd(),
            crate::paths::START_SOCK
        )
        .as_str(),
    )?)
}

fn seqpacket() -> Result<OwnedFd> {
    Ok(socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?)
}

/// `create`: binds and listens in the state dir `dir`; the init inherits it.
pub fn listen_in(dir: &std::fs::File) -> Result<OwnedFd> {
    let s = seqpacket()?;
    bind(s.as_raw_fd(), &addr(dir)?).context("bind start socket")?;
    listen(&s, Backlog::new(1)?).context("listen on start socket")?;
    Ok(s)
}

/// The init: blocks until `start` connects and says go. The connection is
/// returned open (close-on-exec) so `start` sees the execve.
pub fn wait_for_start(sock: &OwnedFd) -> Result<OwnedFd> {
    loop {
        let conn = match accept4(sock.as_raw_fd(), SockFlag::SOCK_CLOEXEC) {
            // SAFETY: accept4 returned a new fd that we now own.
            Ok(fd) => unsafe { OwnedFd::from_raw_fd(fd) },
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("wait for start"),
        };
        let mut b = [0u8; 1];
        if matches!(nix::unistd::read(conn.as_raw_fd(), &mut b), Ok(1)) {
            return Ok(conn);
        }
    }
}

/// The init, when a step after `start` fails: `start` prints this.
pub fn report_failure(conn: BorrowedFd, msg: &str) {
    let _ = nix::unistd::write(conn, msg.as_bytes());
}

/// `start`'s end: connects through the state dir and releases the init.
/// Returns the connection; `outcome` then waits on it.
pub fn release(dir: &std::fs::File) -> Result<OwnedFd> {
    let s = seqpacket()?;
    connect(s.as_raw_fd(), &addr(dir)?).context("reach the container's init")?;
    send(s.as_raw_fd(), b"s", MsgFlags::MSG_NOSIGNAL).context("release the container's init")?;
    Ok(s)
}

/// A step of the init after `start` failed (a startContainer hook): the
/// init has said so on the container's stderr and exits 1, as runc's does.
#[derive(Debug)]
pub struct FailedAfterStart(pub String);

impl std::fmt::Display for FailedAfterStart {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FailedAfterStart {}

/// EOF once the init has exec'd (its end is close-on-exec) or died: Ok. The
/// init's error (`FailedAfterStart`) if a step after `start` failed.
pub fn outcome(conn: &OwnedFd) -> Result<()> {
    let mut b = [0u8; 4096];
    let n = recv(conn.as_raw_fd(), &mut b, MsgFlags::empty()).unwrap_or(0);
    if n > 0 {
        let text = String::from_utf8_lossy(&b[..n]).into_owned();
        return Err(FailedAfterStart(text).into());
    }
    Ok(())
}
