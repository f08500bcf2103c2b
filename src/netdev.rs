//! `linux.netDevices`: host network devices moved into the container's
//! network namespace by the parent (runtime-spec 1.3, runc 1.3): set down,
//! moved and renamed in one RTM_NEWLINK (so the name never clashes on the
//! way), their permanent global-scope addresses put back (the kernel drops
//! addresses on a move), and set up. As the spec says, nothing moves them
//! back: when the namespace goes, the kernel returns physical devices to
//! the host and destroys virtual ones.
//!
//! A minimal rtnetlink client: the four requests above and an address dump.

use crate::logging::go_quote;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxNetDevice;
use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

const NLMSG_HDR: usize = 16;
const IFINFO: usize = 16;
const IFADDR: usize = 8;
const IFA_F_PERMANENT: u32 = 0x80;
const IFA_FLAGS: u16 = 8;
const IFLA_NET_NS_FD: u16 = 28;

fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// A request being built: header, a fixed struct, attributes.
struct Msg(Vec<u8>);

impl Msg {
    fn new(typ: u16, flags: u16, fixed: &[u8]) -> Msg {
        let mut b = vec![0u8; NLMSG_HDR];
        b[4..6].copy_from_slice(&typ.to_ne_bytes());
        b[6..8].copy_from_slice(&(flags | libc::NLM_F_REQUEST as u16).to_ne_bytes());
        b.extend_from_slice(fixed);
        b.resize(align(b.len()), 0);
        Msg(b)
    }
    fn attr(mut self, typ: u16, data: &[u8]) -> Msg {
        let len = 4 + data.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&typ.to_ne_bytes());
        self.0.extend_from_slice(data);
        self.0.resize(align(self.0.len()), 0);
        self
    }
}

fn ifinfo(index: i32, flags: u32, change: u32) -> [u8; IFINFO] {
    let mut b = [0u8; IFINFO];
    b[4..8].copy_from_slice(&index.to_ne_bytes());
    b[8..12].copy_from_slice(&flags.to_ne_bytes());
    b[12..16].copy_from_slice(&change.to_ne_bytes());
    b
}

/// Attributes of a message body after its fixed part: (type, data).
fn attrs(body: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 <= body.len() {
        let len = u16::from_ne_bytes([body[i], body[i + 1]]) as usize;
        let typ = u16::from_ne_bytes([body[i + 2], body[i + 3]]) & 0x3fff;
        if len < 4 || i + len > body.len() {
            break;
        }
        out.push((typ, &body[i + 4..i + len]));
        i += align(len);
    }
    out
}

/// An rtnetlink socket, in the network namespace it was made in.
struct Nl {
    fd: OwnedFd,
    seq: u32,
}

impl Nl {
    fn new() -> Result<Nl> {
        // SAFETY: plain socket(2); the fd is owned below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error()).context("netlink socket");
        }
        // SAFETY: a new fd.
        Ok(Nl {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            seq: 0,
        })
    }

    /// A socket in the network namespace `ns` (we step in for the socket(2)).
    fn new_in(ns: &std::fs::File) -> Result<Nl> {
        let own = std::fs::File::open("/proc/self/ns/net").context("open our network namespace")?;
        nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
            .context("enter the container's network namespace")?;
        let s = Nl::new();
        nix::sched::setns(own.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
            .context("return to our network namespace")?;
        s
    }

    /// Sends `m`; returns the payloads of the replies (a dump's entries),
    /// or the error the kernel acknowledged with.
    fn call(&mut self, mut m: Msg) -> std::io::Result<Vec<Vec<u8>>> {
        self.seq += 1;
        let len = m.0.len() as u32;
        m.0[0..4].copy_from_slice(&len.to_ne_bytes());
        m.0[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        let dump = u16::from_ne_bytes([m.0[6], m.0[7]]) & libc::NLM_F_DUMP as u16 != 0;
        // SAFETY: a buffer of the length passed.
        if unsafe { libc::send(self.fd.as_raw_fd(), m.0.as_ptr().cast(), m.0.len(), 0) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: a buffer of the length passed.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let mut i = 0;
            let n = n as usize;
            while i + NLMSG_HDR <= n {
                let h = &buf[i..];
                let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
                let typ = u16::from_ne_bytes([h[4], h[5]]);
                let seq = u32::from_ne_bytes([h[8], h[9], h[10], h[11]]);
                if len < NLMSG_HDR || i + len > n {
                    break;
                }
                let body = &buf[i + NLMSG_HDR..i + len];
                i += align(len);
                if seq != self.seq {
                    continue;
                }
                match typ as i32 {
                    libc::NLMSG_ERROR => {
                        let err = i32::from_ne_bytes([body[0], body[1], body[2], body[3]]);
                        if err != 0 {
                            return Err(std::io::Error::from_raw_os_error(-err));
                        }
                        return Ok(out);
                    }
                    libc::NLMSG_DONE => return Ok(out),
                    _ => {
                        out.push(body.to_vec());
                        if !dump {
                            return Ok(out);
                        }
                    }
                }
            }
        }
    }

    fn set_up(&mut self, index: i32, up: bool) -> std::io::Result<()> {
        let flags = if up { libc::IFF_UP as u32 } else { 0 };
        let m = Msg::new(
            libc::RTM_NEWLINK,
            libc::NLM_F_ACK as u16,
            &ifinfo(index, flags, libc::IFF_UP as u32),
        );
        self.call(m).map(|_| ())
    }

    /// The index of the link named `name`, if this namespace has it.
    fn index_of(&mut self, name: &str) -> Option<i32> {
        let m = Msg::new(libc::RTM_GETLINK, 0, &ifinfo(0, 0, 0)).attr(
            libc::IFLA_IFNAME,
            CString::new(name).ok()?.as_bytes_with_nul(),
        );
        let r = self.call(m).ok()?;
        let b = r.first()?;
        (b.len() >= IFINFO).then(|| i32::from_ne_bytes([b[4], b[5], b[6], b[7]]))
    }

    fn exists(&mut self, index: i32) -> bool {
        let m = Msg::new(libc::RTM_GETLINK, 0, &ifinfo(index, 0, 0));
        self.call(m).is_ok_and(|r| !r.is_empty())
    }

    /// The link's permanent, global-scope addresses, as (ifaddrmsg, attrs)
    /// ready to be re-added.
    fn kept_addresses(&mut self, index: i32) -> std::io::Result<Vec<Vec<u8>>> {
        let m = Msg::new(libc::RTM_GETADDR, libc::NLM_F_DUMP as u16, &[0u8; IFADDR]);
        let mut out = Vec::new();
        for b in self.call(m)? {
            if b.len() < IFADDR {
                continue;
            }
            let idx = i32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
            let scope = b[3];
            let mut flags = b[2] as u32;
            for (t, d) in attrs(&b[IFADDR..]) {
                if t == IFA_FLAGS && d.len() >= 4 {
                    flags = u32::from_ne_bytes([d[0], d[1], d[2], d[3]]);
                }
            }
            if idx == index && scope == libc::RT_SCOPE_UNIVERSE && flags & IFA_F_PERMANENT != 0 {
                out.push(b);
            }
        }
        Ok(out)
    }

    fn add_address(&mut self, index: i32, dumped: &[u8]) -> std::io::Result<()> {
        let mut fixed = [0u8; IFADDR];
        fixed[0] = dumped[0]; // family
        fixed[1] = dumped[1]; // prefix length
        fixed[3] = dumped[3]; // scope
        fixed[4..8].copy_from_slice(&index.to_ne_bytes());
        let mut m = Msg::new(
            libc::RTM_NEWADDR,
            (libc::NLM_F_ACK | libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16,
            &fixed,
        );
        for (t, d) in attrs(&dumped[IFADDR..]) {
            if t == libc::IFA_ADDRESS || t == libc::IFA_LOCAL {
                m = m.attr(t, d);
            }
        }
        self.call(m).map(|_| ())
    }
}

/// Checks a device name as the kernel would (`dev_valid_name`).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() < libc::IFNAMSIZ
        && name != "."
        && name != ".."
        && !name.contains(['/', ':'])
        && !name.chars().any(char::is_whitespace)
}

/// Moves every device of `devices` into the network namespace at `netns`.
pub fn move_all(devices: &HashMap<String, LinuxNetDevice>, netns: &Path) -> Result<()> {
    let ns = std::fs::File::open(netns)
        .with_context(|| format!("open network namespace {}", netns.display()))?;
    let mut host = Nl::new()?;
    let mut inside = Nl::new_in(&ns)?;
    let mut names: Vec<&String> = devices.keys().collect();
    names.sort();
    for name in names {
        let new = devices[name].name().clone().filter(|n| !n.is_empty());
        move_one(
            &mut host,
            &mut inside,
            &ns,
            name,
            new.as_deref().unwrap_or(name),
        )
        .with_context(|| format!("linux.netDevices[{name}]"))?;
    }
    Ok(())
}

fn move_one(
    host: &mut Nl,
    inside: &mut Nl,
    ns: &std::fs::File,
    name: &str,
    new: &str,
) -> Result<()> {
    let Some(index) = host.index_of(name) else {
        bail!("no network device {} on the host", go_quote(name));
    };
    host.set_up(index, false).context("set the device down")?;
    let addrs = host
        .kept_addresses(index)
        .context("read the device's addresses")?;
    let m = Msg::new(
        libc::RTM_NEWLINK,
        libc::NLM_F_ACK as u16,
        &ifinfo(index, 0, 0),
    )
    .attr(libc::IFLA_IFNAME, CString::new(new)?.as_bytes_with_nul())
    .attr(IFLA_NET_NS_FD, &(ns.as_raw_fd() as u32).to_ne_bytes());
    host.call(m).map_err(|e| match e.raw_os_error() {
        Some(libc::EEXIST) => {
            anyhow::anyhow!(
                "a device named {} exists in the container's network namespace",
                go_quote(new)
            )
        }
        _ => anyhow::anyhow!(
            "move to the container's network namespace as {}: {e}",
            go_quote(new)
        ),
    })?;
    // The kernel keeps the index if it is free there (a "%d" name can't be
    // looked up before the move).
    let index = if inside.exists(index) {
        index
    } else {
        inside.index_of(new).with_context(|| {
            format!(
                "{} is not in the container's network namespace after the move",
                go_quote(new)
            )
        })?
    };
    for a in &addrs {
        inside
            .add_address(index, a)
            .context("put the device's address back")?;
    }
    inside.set_up(index, true).context("set the device up")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["eth0", "ctr_dummy0", "net%d", "a"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a:b", "a b", "sixteen-chars-xx"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    /// The loopback device of our own namespace, through the dump path.
    #[test]
    fn lookups() {
        let mut nl = Nl::new().unwrap();
        let lo = nl.index_of("lo").unwrap();
        assert!(lo > 0 && nl.exists(lo));
        assert!(nl.index_of("tong-no-such0").is_none());
        // 127.0.0.1 is host scope: never kept.
        assert!(nl.kept_addresses(lo).unwrap().is_empty());
    }
}
