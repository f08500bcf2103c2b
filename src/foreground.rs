//! Waiting for a container process in the foreground (`run`, `exec` without
//! -d): every signal we get is forwarded to it, its terminal (if we hold the
//! pty master) is relayed to ours, and its exit becomes our exit code (128+N
//! for signal N).

use crate::tty;
use anyhow::Result;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// Blocks every signal (to forward them, not die of them) for as long as
/// `f` runs; the old mask is restored after.
pub fn with_signals_blocked<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    let mut old = SigSet::empty();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&SigSet::all()), Some(&mut old))?;
    let r = f();
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    r
}

/// Waits for `pid` (our child), forwarding signals and relaying `master`.
/// Signals must already be blocked (`with_signals_blocked`).
pub fn wait(pid: nix::unistd::Pid, master: Option<&OwnedFd>) -> Result<i32> {
    let sfd = SignalFd::with_flags(&SigSet::all(), SfdFlags::SFD_CLOEXEC)?;
    let _raw = master.map(|m| tty::RawTerminal::enter(m.as_raw_fd()));
    let stdin = std::io::stdin();
    let mut stdin_open = master.is_some();
    let mut master = master;
    loop {
        // Reap first: the child may have exited before we got here.
        match waitpid(pid, Some(WaitPidFlag::WNOHANG))? {
            WaitStatus::Exited(_, code) => {
                tty::drain(master);
                return Ok(code);
            }
            WaitStatus::Signaled(_, sig, _) => {
                tty::drain(master);
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
                            tty::copy_winsize(m.as_raw_fd());
                        }
                    }
                    let _ = nix::sys::signal::kill(pid, Signal::try_from(sig).ok());
                }
            }
        }
        if let Some(m) = master {
            if ready.get(1) == Some(&true) && !tty::pump(m.as_raw_fd(), 1) {
                // The pty closed: the container is exiting; SIGCHLD follows.
                master = None;
                continue;
            }
            if ready.get(2) == Some(&true) && !tty::pump(0, m.as_raw_fd()) {
                stdin_open = false;
            }
        }
    }
}
