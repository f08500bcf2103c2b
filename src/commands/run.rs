//! `run`: create + start. In the foreground it forwards signals to the init,
//! relays a terminal if the container has one and nobody else takes it, waits,
//! deletes (unless --keep) and exits with the container's code (128+N for signal N).

use super::{create, delete, start, Global};
use crate::cli::RunArgs;
use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{
    recvmsg, socketpair, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

pub fn run(g: &Global, a: &RunArgs) -> Result<i32> {
    // Block signals before the init exists to forward them, not die of them.
    let all = SigSet::all();
    let mut old = SigSet::empty();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&all), Some(&mut old))?;
    let result = run_blocked(g, a);
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    result
}

fn run_blocked(g: &Global, a: &RunArgs) -> Result<i32> {
    // A terminal with nobody to hand it to: keep it and relay it ourselves.
    let plan = create::load_plan(g, &a.create)?;
    let relay = !a.detach && a.create.console_socket.is_none() && plan.terminal();
    let (ours, theirs) = if relay {
        let (x, y) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        (Some(x), Some(y))
    } else {
        (None, None)
    };
    let created = create::create_planned(g, &a.create, plan, theirs)?;
    let pid = created.pid;
    let master = match &ours {
        Some(s) => Some(recv_fd(s.as_raw_fd()).context("receive the container's terminal")?),
        None => None,
    };
    let started = start::start_loaded(&created.container);
    drop(created.container);
    if let Err(e) = started {
        let _ = delete::delete(&g.root, &a.create.id, true);
        return Err(e);
    }
    if a.detach {
        return Ok(0);
    }
    let code = wait_forwarding(pid, master.as_ref())?;
    if !a.keep {
        delete::delete(&g.root, &a.create.id, true)?;
    }
    Ok(code)
}

pub fn recv_fd(sock: RawFd) -> Result<OwnedFd> {
    let mut buf = [0u8; 256];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)?;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                // SAFETY: received fd is ours now.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    anyhow::bail!("no fd received")
}

/// Blocks signals (to forward them) and waits for `pid`, relaying `master`.
pub fn wait_forwarding_blocked(pid: nix::unistd::Pid, master: Option<&OwnedFd>) -> Result<i32> {
    let mut old = SigSet::empty();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&SigSet::all()), Some(&mut old))?;
    let r = wait_forwarding(pid, master);
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    r
}

pub fn wait_forwarding(pid: nix::unistd::Pid, master: Option<&OwnedFd>) -> Result<i32> {
    let sfd = SignalFd::with_flags(&SigSet::all(), SfdFlags::SFD_CLOEXEC)?;
    let _raw = master.map(|m| RawTerminal::enter(m.as_raw_fd()));
    let stdin = std::io::stdin();
    let mut stdin_open = master.is_some();
    let mut master = master;
    loop {
        // Reap first: the child may have exited before we got here.
        match waitpid(pid, Some(WaitPidFlag::WNOHANG))? {
            WaitStatus::Exited(_, code) => {
                drain(master);
                return Ok(code);
            }
            WaitStatus::Signaled(_, sig, _) => {
                drain(master);
                return Ok(128 + sig as i32);
            }
            _ => {}
        }
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if let Some(m) = master {
            fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => {
                r?;
            }
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if ready[0] {
            if let Some(info) = sfd.read_signal()? {
                let sig = info.ssi_signo as i32;
                if sig != libc::SIGCHLD {
                    if sig == libc::SIGWINCH {
                        if let Some(m) = master {
                            copy_winsize(m.as_raw_fd());
                        }
                    }
                    let _ = nix::sys::signal::kill(pid, Signal::try_from(sig).ok());
                }
            }
        }
        if let Some(m) = master {
            if ready.get(1) == Some(&true) && !pump(m.as_raw_fd(), 1) {
                // The pty closed: the container is exiting; SIGCHLD follows.
                master = None;
                continue;
            }
            if ready.get(2) == Some(&true) && !pump(0, m.as_raw_fd()) {
                stdin_open = false;
            }
        }
    }
}

/// Copies one chunk from `from` to `to`; false at EOF or error.
fn pump(from: RawFd, to: RawFd) -> bool {
    let mut buf = [0u8; 8192];
    // SAFETY: reading into our own buffer.
    let n = unsafe { libc::read(from, buf.as_mut_ptr().cast(), buf.len()) };
    if n <= 0 {
        return false;
    }
    let mut off = 0;
    while off < n as usize {
        // SAFETY: writing from our own buffer.
        let w = unsafe { libc::write(to, buf[off..].as_ptr().cast(), n as usize - off) };
        if w <= 0 {
            return false;
        }
        off += w as usize;
    }
    true
}

fn drain(master: Option<&OwnedFd>) {
    let Some(m) = master else { return };
    loop {
        let mut f = [PollFd::new(m.as_fd(), PollFlags::POLLIN)];
        if !matches!(poll(&mut f, PollTimeout::ZERO), Ok(1)) || !pump(m.as_raw_fd(), 1) {
            break;
        }
    }
}

fn copy_winsize(master: RawFd) {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ/TIOCSWINSZ with a valid struct.
    unsafe {
        if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(master, libc::TIOCSWINSZ, &ws);
        }
    }
}

/// Our own terminal in raw mode while relaying, restored on drop.
struct RawTerminal(Option<nix::sys::termios::Termios>);

impl RawTerminal {
    fn enter(master: RawFd) -> RawTerminal {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let stdin = std::io::stdin();
        let Ok(orig) = tcgetattr(stdin.as_fd()) else {
            return RawTerminal(None);
        };
        copy_winsize(master);
        let mut raw = orig.clone();
        cfmakeraw(&mut raw);
        let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        RawTerminal(Some(orig))
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin().as_fd(),
                nix::sys::termios::SetArg::TCSANOW,
                t,
            );
        }
    }
}
