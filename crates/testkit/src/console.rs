//! The receiving end of `--console-socket` (as runc's recvtty): a unix
//! socket that gets one pty master over SCM_RIGHTS, and reading what the
//! container writes to its terminal.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct ConsoleReceiver {
    pub path: PathBuf,
    listener: UnixListener,
}

impl ConsoleReceiver {
    /// Listens at `path` (a stale socket there is removed first).
    pub fn bind(path: &Path) -> std::io::Result<ConsoleReceiver> {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        Ok(ConsoleReceiver {
            path: path.to_path_buf(),
            listener,
        })
    }

    /// Accepts one connection within `timeout` and returns the fd it carries.
    pub fn recv(&self, timeout: Duration) -> std::io::Result<OwnedFd> {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        let deadline = Instant::now() + timeout;
        let stream = loop {
            match self.listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "no connection on the console socket",
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e),
            }
        };
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(timeout))?;
        let mut buf = [0u8; 4096];
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::empty(),
        )?;
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                if let Some(fd) = fds.first() {
                    // SAFETY: the kernel just installed this fd for us.
                    return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
                }
            }
        }
        Err(std::io::Error::other(
            "the console socket's message carried no fd",
        ))
    }
}

/// Reads a pty master until `needle` shows up (None: until EOF or EIO, when
/// the last slave closes), or `timeout`; returns what was read.
pub fn read_pty(master: OwnedFd, needle: Option<&str>, timeout: Duration) -> String {
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut f = std::fs::File::from(master);
        let mut b = [0u8; 1024];
        loop {
            match f.read(&mut b) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(b[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(chunk) => {
                got.extend(chunk);
                if needle.is_some_and(|n| String::from_utf8_lossy(&got).contains(n)) {
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&got).to_string()
}
