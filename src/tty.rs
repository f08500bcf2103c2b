//! Terminals: a pty made inside the container, its master sent to the console
//! socket with SCM_RIGHTS (runc's recvtty protocol), its peer made the
//! process's controlling terminal and stdio; on the caller's side, the
//! console socket's connection, receiving the master, and relaying it to our
//! own terminal (raw mode, window size) while `run` or `exec` wait.

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    connect, recvmsg, sendmsg, socket, socketpair, AddressFamily, ControlMessage,
    ControlMessageOwned, MsgFlags, SockFlag, SockType, UnixAddr,
};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
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
    // SAFETY: ioctl on our own pty master with a valid pointer.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) } != 0 {
        return Err(std::io::Error::last_os_error()).context("unlock pty");
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
    Ok(Pty { master, slave })
}

pub fn set_size(fd: RawFd, rows: u16, cols: u16) -> Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ with a valid winsize.
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } != 0 {
        return Err(std::io::Error::last_os_error()).context("set the terminal size");
    }
    Ok(())
}

/// Sends `fd` over the connected console socket.
pub fn send_fd(socket: RawFd, fd: RawFd, name: &str) -> Result<()> {
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(name.as_bytes())];
    sendmsg::<()>(socket, &iov, &cmsg, MsgFlags::empty(), None).context("sendmsg")?;
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

/// In the child, after setsid: a pty whose master goes to the console
/// socket `sock` and whose peer becomes our controlling terminal and stdio;
/// `/dev/console` is bound to it when we have our own mount namespace (over
/// a file we made, never the image's). The peer belongs to the process's
/// user `uid` (its group, the tty group devpts gave it, stays), as runc's.
pub fn setup_console(
    sock: &OwnedFd,
    size: Option<&oci_spec::runtime::Box>,
    bind_dev_console: bool,
    uid: u32,
) -> Result<()> {
    let pty = open()?;
    if let Some(b) = size {
        set_size(pty.master.as_raw_fd(), b.height() as u16, b.width() as u16)?;
    }
    give_to(&pty.slave, uid)?;
    if bind_dev_console {
        let root = std::fs::File::open("/")?;
        match nix::unistd::unlink("/dev/console") {
            Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
            Err(e) => return Err(e).context("remove /dev/console"),
        }
        let target = crate::safe_fs::touch(root.as_fd(), std::path::Path::new("/dev/console"))?;
        nix::mount::mount(
            Some(crate::safe_fs::fd_path(&pty.slave).as_str()),
            crate::safe_fs::fd_path(&target).as_str(),
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        )
        .context("bind pty to /dev/console")?;
    }
    send_fd(sock.as_raw_fd(), pty.master.as_raw_fd(), "/dev/ptmx")
        .context("send pty master to console socket")?;
    make_controlling(&pty.slave)
}

/// Makes the pty peer, which we just made, the user's. Only this pty: stdio
/// that the caller passed (a host file) is never chowned. As runc, an owner
/// or group not mapped in a user namespace (EINVAL, EPERM) or a read-only
/// devpts leaves it as it is.
fn give_to(slave: &OwnedFd, uid: u32) -> Result<()> {
    let st = nix::sys::stat::fstat(slave.as_raw_fd()).context("fstat the pty")?;
    if st.st_uid == uid {
        return Ok(());
    }
    match nix::unistd::fchown(
        slave.as_raw_fd(),
        Some(nix::unistd::Uid::from_raw(uid)),
        None,
    ) {
        Ok(()) | Err(Errno::EINVAL | Errno::EPERM | Errno::EROFS) => Ok(()),
        Err(e) => Err(e).context("chown the pty to the process's user"),
    }
}

/// Connects a stream socket to the unix socket a caller listens on at
/// `path` (`what` names the flag in the error).
pub fn connect_unix(path: &std::path::Path, what: &str) -> Result<OwnedFd> {
    let s = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    connect(s.as_raw_fd(), &UnixAddr::new(path)?)
        .with_context(|| format!("connect to {what} {}", path.display()))?;
    Ok(s)
}

/// Connects to a `--console-socket`.
pub fn connect_console(path: &std::path::Path) -> Result<OwnedFd> {
    connect_unix(path, "console socket")
}

/// A console socket we keep the other end of, to relay the terminal ourselves:
/// (ours, the container's).
pub fn relay_pair() -> Result<(OwnedFd, OwnedFd)> {
    Ok(socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?)
}

/// Receives one fd sent with SCM_RIGHTS (the pty master).
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

/// Copies one chunk from `from` to `to`; false at EOF or error.
pub fn pump(from: RawFd, to: RawFd) -> bool {
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

/// Copies what the pty still holds to our stdout.
pub fn drain(master: Option<&OwnedFd>) {
    let Some(m) = master else { return };
    loop {
        let mut f = [PollFd::new(m.as_fd(), PollFlags::POLLIN)];
        if !matches!(poll(&mut f, PollTimeout::ZERO), Ok(1)) || !pump(m.as_raw_fd(), 1) {
            break;
        }
    }
}

/// Our terminal's window size onto the pty.
pub fn copy_winsize(master: RawFd) {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ/TIOCSWINSZ with a valid struct.
    unsafe {
        if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(master, libc::TIOCSWINSZ, &ws);
        }
    }
}

/// Our own terminal in raw mode while relaying, restored on drop.
pub struct RawTerminal(Option<nix::sys::termios::Termios>);

impl RawTerminal {
    pub fn enter(master: RawFd) -> RawTerminal {
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
