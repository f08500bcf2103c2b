//! The parent ↔ init protocol: small typed messages over a SOCK_SEQPACKET
//! socketpair (one message per packet, so no framing). See ARCHITECTURE.md for who
//! waits for what.

use anyhow::{bail, Context, Result};
use nix::sys::socket::{
    recvmsg, send, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned,
    MsgFlags, SockFlag, SockType,
};
use serde::{Deserialize, Serialize};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub enum Msg {
    /// parent → init: cgroup joined and id maps written; go on.
    Proceed,
    /// init → parent: mounts are in place; run prestart and createRuntime hooks.
    RunHooks,
    /// parent → init: hooks done; the init's host pid, for the state its own
    /// hooks get (the init builds it: it may be too big for one message).
    HooksDone { pid: i32 },
    /// init → parent: everything that can fail has been done; waiting for start.
    Ready,
    /// init → parent: the seccomp listener fd rides along (SCM_RIGHTS); the
    /// parent hands it to linux.seccomp.listenerPath.
    SeccompListener,
    /// parent → init, after Proceed, only for a config with idmapped mounts:
    /// the detached idmapped trees of `mounts[i]` for each i listed ride
    /// along (SCM_RIGHTS, in that order; at most `MAX_FDS` a message).
    MountFds { mounts: Vec<usize> },
    /// intermediate → parent: the real init was forked (CLONE_PARENT) with this
    /// pid, after joining a user namespace by path and unsharing a pid namespace.
    Forked { pid: i32 },
    /// init → parent: a step failed; the init exits after sending this.
    Error(String),
}

/// The message's name, for "unexpected message" errors.
impl std::fmt::Display for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Msg::Proceed => "Proceed",
            Msg::RunHooks => "RunHooks",
            Msg::HooksDone { .. } => "HooksDone",
            Msg::Ready => "Ready",
            Msg::SeccompListener => "SeccompListener",
            Msg::MountFds { .. } => "MountFds",
            Msg::Forked { .. } => "Forked",
            Msg::Error(_) => "Error",
        })
    }
}

pub struct Channel(pub OwnedFd);

/// fds one message carries at most (the kernel's limit is 253).
pub const MAX_FDS: usize = 32;

pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .context("socketpair")?;
    Ok((Channel(a), Channel(b)))
}

/// The largest message `recv` takes whole; a longer error text is cut to fit.
const MAX_MSG: usize = 64 * 1024;

fn encode(msg: &Msg) -> Result<Vec<u8>> {
    let data = serde_json::to_vec(msg)?;
    if data.len() <= MAX_MSG {
        return Ok(data);
    }
    if let Msg::Error(e) = msg {
        let mut end = MAX_MSG / 2;
        while !e.is_char_boundary(end) {
            end -= 1;
        }
        return encode(&Msg::Error(format!("{} [message truncated]", &e[..end])));
    }
    bail!("sync message of {} bytes is too long", data.len())
}

impl Channel {
    pub fn send(&self, msg: &Msg) -> Result<()> {
        let data = encode(msg)?;
        send(self.0.as_raw_fd(), &data, MsgFlags::MSG_NOSIGNAL).context("sync send")?;
        Ok(())
    }

    /// Sends `msg` with `fd` attached.
    pub fn send_fd(&self, msg: &Msg, fd: RawFd) -> Result<()> {
        self.send_fds(msg, &[fd])
    }

    /// Sends `msg` with `fds` attached (at most `MAX_FDS`).
    pub fn send_fds(&self, msg: &Msg, fds: &[RawFd]) -> Result<()> {
        debug_assert!(fds.len() <= MAX_FDS);
        let data = encode(msg)?;
        sendmsg::<()>(
            self.0.as_raw_fd(),
            &[IoSlice::new(&data)],
            &[ControlMessage::ScmRights(fds)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .context("sync send fd")?;
        Ok(())
    }

    /// Next message, or None when the other side closed (exited).
    pub fn recv(&self) -> Result<Option<Msg>> {
        Ok(self.recv_with_fds()?.map(|(m, _)| m))
    }

    /// Next message and the fd that came with it, if any.
    pub fn recv_with_fd(&self) -> Result<Option<(Msg, Option<OwnedFd>)>> {
        Ok(self
            .recv_with_fds()?
            .map(|(m, fds)| (m, fds.into_iter().next())))
    }

    /// Next message and the fds that came with it.
    pub fn recv_with_fds(&self) -> Result<Option<(Msg, Vec<OwnedFd>)>> {
        let mut buf = vec![0u8; MAX_MSG];
        let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
        let (n, fds) = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.0.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("sync recv"),
                Ok(msg) => {
                    if msg.flags.contains(MsgFlags::MSG_TRUNC) {
                        bail!("sync recv: message longer than {MAX_MSG} bytes");
                    }
                    let mut fds = Vec::new();
                    for c in msg.cmsgs()? {
                        if let ControlMessageOwned::ScmRights(got) = c {
                            // SAFETY: fds received with SCM_RIGHTS are ours.
                            fds.extend(got.iter().map(|f| unsafe { OwnedFd::from_raw_fd(*f) }));
                        }
                    }
                    break (msg.bytes, fds);
                }
            }
        };
        if n == 0 {
            return Ok(None);
        }
        Ok(Some((serde_json::from_slice(&buf[..n])?, fds)))
    }

    pub fn expect(&self, want: &str) -> Result<Msg> {
        match self.recv()? {
            Some(Msg::Error(e)) => bail!("{e}"),
            Some(m) => Ok(m),
            None => bail!("container init exited before {want}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_eof() {
        let (a, b) = pair().unwrap();
        a.send(&Msg::HooksDone { pid: 7 }).unwrap();
        a.send(&Msg::Error("boom".into())).unwrap();
        assert_eq!(b.recv().unwrap(), Some(Msg::HooksDone { pid: 7 }));
        assert_eq!(b.expect("ready").unwrap_err().to_string(), "boom");
        let long = "é".repeat(MAX_MSG);
        a.send(&Msg::Error(long)).unwrap();
        let e = b.expect("x").unwrap_err().to_string();
        assert!(
            e.ends_with("[message truncated]") && e.len() < MAX_MSG,
            "{}",
            e.len()
        );
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }

    #[test]
    fn several_fds_in_one_message() {
        let (a, b) = pair().unwrap();
        let files: Vec<std::fs::File> = (0..3)
            .map(|_| std::fs::File::open("/dev/null").unwrap())
            .collect();
        let raw: Vec<RawFd> = files.iter().map(|f| f.as_raw_fd()).collect();
        a.send_fds(
            &Msg::MountFds {
                mounts: vec![1, 4, 7],
            },
            &raw,
        )
        .unwrap();
        let (m, fds) = b.recv_with_fds().unwrap().unwrap();
        assert_eq!(
            m,
            Msg::MountFds {
                mounts: vec![1, 4, 7]
            }
        );
        assert_eq!(fds.len(), 3);
    }
}
