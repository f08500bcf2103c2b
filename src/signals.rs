//! Signal names and numbers, and signalling a pid we have verified (pidfd + start time).

use anyhow::{anyhow, bail, Context, Result};
use nix::sys::signal::Signal;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::str::FromStr;

/// runc's parsing: a number (any: 0 probes, one the kernel refuses fails
/// when sent), or a name with or without SIG, any case.
pub fn parse(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return Ok(n);
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    if let Some(rest) = name.strip_prefix("SIGRTMIN+") {
        let n: i32 = rest
            .parse()
            .map_err(|_| anyhow!("unknown signal {}", crate::logging::go_quote(s)))?;
        return Ok(libc::SIGRTMIN() + n);
    }
    Signal::from_str(&name)
        .map(|s| s as i32)
        .map_err(|_| anyhow!("unknown signal {}", crate::logging::go_quote(s)))
}

pub fn pidfd_open(pid: i32) -> Result<OwnedFd> {
    // SAFETY: plain syscall returning a new fd.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("pidfd_open");
    }
    // SAFETY: a new fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

pub fn pidfd_send(fd: &OwnedFd, sig: i32) -> Result<()> {
    // SAFETY: plain syscall on a pidfd we own.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<u8>(),
            0,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error()).context("send signal");
    }
    Ok(())
}

/// Signals `pid` only if it is still the process that started at `start_time`:
/// the pidfd pins the process, the start time proves it is ours.
pub fn send_verified(pid: i32, start_time: u64, sig: i32) -> Result<()> {
    let fd = pidfd_open(pid).context("container process is gone")?;
    if !crate::state::process_matches(pid, start_time) {
        bail!("container process is gone (pid {pid} was reused)");
    }
    pidfd_send(&fd, sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("9").unwrap(), 9);
        assert_eq!(parse("KILL").unwrap(), 9);
        assert_eq!(parse("SIGTERM").unwrap(), 15);
        assert_eq!(parse("sigusr1").unwrap(), 10);
        assert_eq!(parse("hup").unwrap(), 1);
        assert!(parse("NOPE").is_err());
        assert_eq!(parse("0").unwrap(), 0);
        assert_eq!(parse("99").unwrap(), 99);
    }
}
