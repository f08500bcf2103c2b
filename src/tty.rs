//! Terminals: a pty made inside the container, its master sent to the console
//! socket with SCM_RIGHTS (runc's recvtty protocol), its peer made the init's
//! controlling terminal and stdio.

use anyhow::{Context, Result};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    pub number: u32,
}

/// Opens /dev/ptmx of the container's devpts and its peer.
pub fn open() -> Result<Pty> {
    let m = nix::fcntl::open(
        "/dev/ptmx",
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .context("open /dev/ptmx")?;
    // SAFETY: a new fd.
    let master = unsafe { OwnedFd::from_raw_fd(m) };
    let unlock: libc::c_int = 0;
    let mut number: libc::c_uint = 0;
    // SAFETY: ioctls on our own pty master with valid pointers.
    unsafe {
        if libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) != 0 {
            return Err(std::io::Error::last_os_error()).context("unlock pty");
        }
        if libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut number) != 0 {
            return Err(std::io::Error::last_os_error()).context("pty number");
        }
    }
    // TIOCGPTPEER opens the peer without a path lookup the image could redirect.
    // SAFETY: ioctl returning a new fd.
    let s = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if s < 0 {
        return Err(std::io::Error::last_os_error()).context("open pty peer");
    }
    // SAFETY: a new fd.
    let slave = unsafe { OwnedFd::from_raw_fd(s) };
    Ok(Pty {
        master,
        slave,
        number,
    })
}

pub fn set_size(fd: RawFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ with a valid winsize.
    unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
}

/// Sends `fd` over the connected console socket.
pub fn send_fd(socket: RawFd, fd: RawFd, name: &str) -> Result<()> {
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(name.as_bytes())];
    sendmsg::<()>(socket, &iov, &cmsg, MsgFlags::empty(), None)
        .context("send pty master to console socket")?;
    Ok(())
}

/// Makes `slave` the controlling terminal and stdio of this (session leader) process.
pub fn make_controlling(slave: &OwnedFd) -> Result<()> {
    // SAFETY: ioctl and dup2 on fds we own.
    unsafe {
        if libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) != 0 {
            return Err(std::io::Error::last_os_error()).context("set controlling terminal");
        }
        for n in 0..3 {
            if libc::dup2(slave.as_raw_fd(), n) < 0 {
                return Err(std::io::Error::last_os_error()).context("dup pty to stdio");
            }
        }
    }
    Ok(())
}
