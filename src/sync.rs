//! The parent ↔ init protocol: small typed messages over a SOCK_SEQPACKET
//! socketpair (one message per packet, so no framing). See ARCHITECTURE.md for who
//! waits for what.

use anyhow::{bail, Context, Result};
use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, OwnedFd};

#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub enum Msg {
    /// parent → init: cgroup joined and id maps written; go on.
    Proceed,
    /// init → parent: mounts are in place; run prestart and createRuntime hooks.
    RunHooks,
    /// parent → init: hooks done; here is the state for the init's own hooks.
    HooksDone { state: String },
    /// init → parent: everything that can fail has been done; waiting for start.
    Ready,
    /// init → parent: a step failed; the init exits after sending this.
    Error(String),
}

pub struct Channel(pub OwnedFd);

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

impl Channel {
    pub fn send(&self, msg: &Msg) -> Result<()> {
        let data = serde_json::to_vec(msg)?;
        send(self.0.as_raw_fd(), &data, MsgFlags::MSG_NOSIGNAL).context("sync send")?;
        Ok(())
    }

    /// Next message, or None when the other side closed (exited).
    pub fn recv(&self) -> Result<Option<Msg>> {
        let mut buf = vec![0u8; 64 * 1024];
        let n = loop {
            match recv(self.0.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r.context("sync recv")?,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(serde_json::from_slice(&buf[..n])?))
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
        a.send(&Msg::HooksDone { state: "{}".into() }).unwrap();
        a.send(&Msg::Error("boom".into())).unwrap();
        assert_eq!(b.recv().unwrap(), Some(Msg::HooksDone { state: "{}".into() }));
        assert_eq!(b.expect("ready").unwrap_err().to_string(), "boom");
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }
}
