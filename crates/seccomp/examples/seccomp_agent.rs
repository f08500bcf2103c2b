//! Minimal seccomp agent speaking runc's protocol (for tests and manual use).
//!
//! ```text
//! seccomp_agent SOCKET_PATH [ERRNO]
//! ```
//!
//! Listens on the unix stream socket SOCKET_PATH (`linux.seccomp.listenerPath`),
//! accepts one runtime connection, reads the `ContainerProcessState` JSON with
//! the seccomp listener fd (SCM_RIGHTS), prints the JSON, then answers every
//! notification until the container exits:
//!   * mkdir / mkdirat: return 0 without doing anything, or fail with ERRNO
//!     when given;
//!   * anything else: let the kernel run it (SECCOMP_USER_NOTIF_FLAG_CONTINUE).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};

/// Receive one message with an `SCM_RIGHTS` fd.
pub fn recv_with_fd(sock: &UnixStream) -> io::Result<(Vec<u8>, OwnedFd)> {
    let mut buf = vec![0u8; 1 << 16];
    let mut cbuf = [0u64; 8];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: plain old data.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = std::mem::size_of_val(&cbuf) as _;
    // SAFETY: buffers are valid for the call.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    // SAFETY: walking the control messages the kernel filled in.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let mut fd: RawFd = -1;
                std::ptr::copy_nonoverlapping(
                    libc::CMSG_DATA(c),
                    &mut fd as *mut RawFd as *mut u8,
                    std::mem::size_of::<RawFd>(),
                );
                return Ok((buf, OwnedFd::from_raw_fd(fd)));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Err(io::Error::new(io::ErrorKind::InvalidData, "no fd received"))
}

/// Accept one runtime connection on `listener`, receive the container
/// process state and listener fd, and answer notifications until the
/// container's tasks are gone. Returns the state JSON and the syscall
/// numbers seen.
pub fn serve_one(
    listener: &UnixListener,
    mkdir_errno: Option<i32>,
) -> io::Result<(serde_json::Value, Vec<i32>)> {
    let (conn, _) = listener.accept()?;
    let (msg, fd) = recv_with_fd(&conn)?;
    let state: serde_json::Value =
        serde_json::from_slice(&msg).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let seen = answer_until_hup(&fd, mkdir_errno)?;
    Ok((state, seen))
}

/// Answer notifications until the listener reports POLLHUP (every task using
/// the filter exited). Returns the syscall numbers seen.
pub fn answer_until_hup(listener: &OwnedFd, mkdir_errno: Option<i32>) -> io::Result<Vec<i32>> {
    let mut seen = vec![];
    loop {
        let mut pfd = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, 10_000) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        if r == 0 {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no notification in 10s",
            ));
        }
        if pfd.revents & libc::POLLIN != 0 {
            let mut one = answer_once(listener, mkdir_errno)?;
            seen.append(&mut one);
            continue;
        }
        if pfd.revents & (libc::POLLHUP | libc::POLLERR) != 0 {
            return Ok(seen);
        }
    }
}

fn answer_once(listener: &OwnedFd, mkdir_errno: Option<i32>) -> io::Result<Vec<i32>> {
    // SAFETY: zeroed seccomp_notif as the kernel requires.
    let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer.
    let r = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV,
            &mut req as *mut libc::seccomp_notif,
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EINTR) | Some(libc::ENOENT) => Ok(vec![]),
            _ => Err(e),
        };
    }
    let is_mkdir = req.data.nr == libc::SYS_mkdir as i32 || req.data.nr == libc::SYS_mkdirat as i32;
    let mut resp = libc::seccomp_notif_resp {
        id: req.id,
        val: 0,
        error: 0,
        flags: 0,
    };
    if is_mkdir {
        if let Some(e) = mkdir_errno {
            resp.error = -e;
        }
    } else {
        resp.flags = libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32;
    }
    // SAFETY: valid pointer. ENOENT here means the target went away.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND,
            &mut resp as *mut libc::seccomp_notif_resp,
        )
    };
    Ok(vec![req.data.nr])
}

#[allow(dead_code)]
fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: seccomp_agent SOCKET_PATH [ERRNO]");
        std::process::exit(2);
    };
    let errno = args.next().and_then(|e| e.parse().ok());
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap_or_else(|e| {
        eprintln!("bind {path}: {e}");
        std::process::exit(1)
    });
    loop {
        let (conn, _) = match listener.accept() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        match recv_with_fd(&conn) {
            Ok((msg, fd)) => {
                println!("{}", String::from_utf8_lossy(&msg));
                std::thread::spawn(move || {
                    let _ = answer_until_hup(&fd, errno);
                });
            }
            Err(e) => eprintln!("recv: {e}"),
        }
    }
}
