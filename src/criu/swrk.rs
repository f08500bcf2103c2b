//! One CRIU RPC session: `criu swrk 3` forked as our child with one end of a
//! SOCK_SEQPACKET socketpair as its fd 3 (and the caller's extra fds from 4),
//! protobuf requests and responses one per packet, notifications answered
//! until the final response. The argv is fixed: every option travels in the
//! request.

use super::rpc::{CriuNotify, CriuReq, CriuReqType, CriuResp};
use anyhow::{anyhow, bail, Context, Result};
use nix::sys::socket::{
    recvmsg, send, socketpair, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use prost::Message;
use std::ffi::CString;
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The criu binary and its version (major*10000 + minor*100 + sublevel).
pub struct Criu {
    pub path: PathBuf,
    pub version: i32,
}

/// What the criu child gets besides the RPC socket.
#[derive(Default)]
pub struct ChildSetup<'a> {
    /// fds that become 4, 5, … in criu (external namespaces).
    pub extra: Vec<RawFd>,
    /// Keep our stdin, stdout and stderr (restore: the restored process's
    /// stdio comes from them); otherwise /dev/null, as runc does.
    pub inherit_stdio: bool,
    /// Runs in the child before exec (restore: its private mounts).
    pub prepare: Option<&'a dyn Fn() -> Result<()>>,
    /// Directories opened in the child, after `prepare`, as fds 4+extra…
    /// (the image and work dirs: see `Session::start`).
    pub dirs: Vec<PathBuf>,
}

/// A running `criu swrk`, our child.
pub struct Session {
    sock: OwnedFd,
    pub pid: Pid,
    waited: bool,
}

/// Finds criu in PATH and asks its version (CRIU 3.0 has the VERSION call).
pub fn find() -> Result<Criu> {
    let path = locate().ok_or_else(|| {
        anyhow!("CRIU version check failed: criu: executable file not found in $PATH (install CRIU 3.x to checkpoint or restore)")
    })?;
    let mut criu = Criu { path, version: 0 };
    let mut s =
        Session::start(&criu, ChildSetup::default()).context("CRIU version check failed")?;
    let resp = s
        .call(
            CriuReq {
                r#type: CriuReqType::Version as i32,
                ..Default::default()
            },
            |_, _| Ok(()),
        )
        .context("CRIU version check failed")?;
    s.finish(CriuReqType::Version)?;
    let v = resp
        .version
        .context("CRIU version check failed: no version in the answer")?;
    criu.version = v.major_number * 10000 + v.minor_number * 100 + v.sublevel.unwrap_or(0);
    if criu.version < 30000 {
        bail!("CRIU version {} must be 30000 or higher", criu.version);
    }
    Ok(criu)
}

/// The criu binary named by the global --criu flag (runc's), if any.
static BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

pub fn set_binary(p: PathBuf) {
    let _ = BINARY.set(p);
}

/// Where criu is: --criu's path (a bare name is looked up in PATH), or
/// criu in PATH.
pub fn locate() -> Option<PathBuf> {
    match BINARY.get() {
        Some(p) if p.components().count() > 1 => {
            nix::unistd::access(p, nix::unistd::AccessFlags::X_OK)
                .is_ok()
                .then(|| p.clone())
        }
        Some(p) => which(&p.to_string_lossy()),
        None => which("criu"),
    }
}

pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok() && p.is_file())
}

impl Session {
    /// Forks and execs `criu swrk 3`. The child makes the RPC socketpair
    /// itself, after `prepare`, and sends us our end: CRIU opens the image
    /// and work dirs through /proc/PEER/fd/N, PEER being the socketpair's
    /// maker, so they are criu's own fds (`ChildSetup::dirs`) opened in its
    /// own mount namespace. A failure before the exec comes back as this
    /// call's error.
    pub fn start(criu: &Criu, setup: ChildSetup) -> Result<Session> {
        let (ctl, ctl_child) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .context("criu socketpair")?;
        let argv: Vec<CString> = ["criu", "swrk", "3"]
            .iter()
            .map(|a| CString::new(*a).expect("no NUL"))
            .collect();
        let exe = CString::new(criu.path.as_os_str().as_bytes()).context("criu path")?;
        // SAFETY: tong is single-threaded here; the child only sets itself
        // up and execs (or reports and _exits).
        match unsafe { nix::unistd::fork() }.context("fork criu")? {
            nix::unistd::ForkResult::Child => {
                drop(ctl);
                let why = child(&setup, ctl_child.as_raw_fd(), &exe, &argv);
                let msg = format!("{why:#}");
                let _ = send(ctl_child.as_raw_fd(), msg.as_bytes(), MsgFlags::empty());
                // SAFETY: leaving the forked child without running destructors.
                unsafe { libc::_exit(127) };
            }
            nix::unistd::ForkResult::Parent { child } => {
                drop(ctl_child);
                let mut s = Session {
                    sock: ctl,
                    pid: child,
                    waited: false,
                };
                let mut buf = [0u8; 4096];
                // Our end of the RPC socket, or why the child failed.
                let (n, fd) = s.recv(&mut buf)?;
                let Some(fd) = fd else {
                    s.reap();
                    bail!("{}", String::from_utf8_lossy(&buf[..n]));
                };
                // EOF once criu runs (close-on-exec), or why the exec failed.
                let (n, _) = s.recv(&mut buf)?;
                if n > 0 {
                    s.reap();
                    bail!("{}", String::from_utf8_lossy(&buf[..n]));
                }
                s.sock = fd;
                Ok(s)
            }
        }
    }

    /// The fd number criu has `ChildSetup::dirs[i]` as.
    pub fn dir_fd(setup_extra: usize, i: usize) -> i32 {
        (4 + setup_extra + i) as i32
    }

    /// Sends `req` and answers each notification (`on_notify` with the
    /// notification and the fd that came with it) until the final response.
    pub fn call(
        &mut self,
        req: CriuReq,
        mut on_notify: impl FnMut(&CriuNotify, Option<OwnedFd>) -> Result<()>,
    ) -> Result<CriuResp> {
        let want = req.r#type;
        self.send(&req)?;
        let mut buf = vec![0u8; 10 * 4096];
        loop {
            let (n, fd) = self.recv(&mut buf)?;
            if n == 0 {
                bail!("criu failed: unexpected EOF ({})", self.exit_text());
            }
            if n == buf.len() {
                bail!("criu failed: response too large");
            }
            let resp = CriuResp::decode(&buf[..n]).context("criu failed: bad response")?;
            let t = resp.r#type();
            if !resp.success {
                let mut e = format!(
                    "criu failed: type {} errno {}",
                    t.as_str_name(),
                    resp.cr_errno.unwrap_or(0)
                );
                if let Some(m) = resp
                    .cr_errmsg
                    .as_deref()
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                {
                    e.push_str(&format!(": {m}"));
                }
                bail!(e);
            }
            if t == CriuReqType::Notify {
                let notify = resp.notify.as_ref().context("criu: notify without body")?;
                on_notify(notify, fd)?;
                self.send(&CriuReq {
                    r#type: CriuReqType::Notify as i32,
                    notify_success: Some(true),
                    ..Default::default()
                })?;
                continue;
            }
            if t as i32 != want {
                bail!("criu: unexpected response {}", t.as_str_name());
            }
            return Ok(resp);
        }
    }

    fn send(&self, req: &CriuReq) -> Result<()> {
        send(
            self.sock.as_raw_fd(),
            &req.encode_to_vec(),
            MsgFlags::empty(),
        )
        .context("send request to criu")?;
        Ok(())
    }

    fn recv(&self, buf: &mut [u8]) -> Result<(usize, Option<OwnedFd>)> {
        let mut iov = [IoSliceMut::new(buf)];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let msg = loop {
            match recvmsg::<()>(
                self.sock.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r.context("read from criu")?,
            }
        };
        let mut fd = None;
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for (i, f) in fds.iter().enumerate() {
                    // SAFETY: fds received with SCM_RIGHTS are ours.
                    let owned = unsafe { OwnedFd::from_raw_fd(*f) };
                    if i == 0 {
                        fd = Some(owned);
                    }
                }
            }
        }
        Ok((msg.bytes, fd))
    }

    /// Ends the session: closes our end and waits for criu. A PRE_DUMP's
    /// criu waits for more requests and is not judged by its exit (runc).
    pub fn finish(mut self, kind: CriuReqType) -> Result<()> {
        let _ =
            nix::sys::socket::shutdown(self.sock.as_raw_fd(), nix::sys::socket::Shutdown::Write);
        let st = self.reap();
        match st {
            Some(WaitStatus::Exited(_, 0)) => Ok(()),
            _ if kind == CriuReqType::PreDump => Ok(()),
            Some(s) => bail!("criu failed: {}", status_text(&s)),
            None => Ok(()),
        }
    }

    fn reap(&mut self) -> Option<WaitStatus> {
        if self.waited {
            return None;
        }
        self.waited = true;
        loop {
            match waitpid(self.pid, None) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => return r.ok(),
            }
        }
    }

    /// After an EOF: how criu ended.
    fn exit_text(&mut self) -> String {
        match self.reap() {
            Some(s) => status_text(&s),
            None => "criu is gone".to_string(),
        }
    }
}

impl Drop for Session {
    /// A session dropped before `finish` (an error on our side): criu is
    /// stopped and reaped, never left behind.
    fn drop(&mut self) {
        if !self.waited {
            let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
            self.reap();
        }
    }
}

fn status_text(s: &WaitStatus) -> String {
    match s {
        WaitStatus::Exited(_, c) => format!("exit status {c}"),
        WaitStatus::Signaled(_, sig, _) => format!("signal: {}", sig.as_str()),
        other => format!("{other:?}"),
    }
}

/// In the forked child: PDEATHSIG, `prepare`, the RPC socketpair (our end
/// sent over `ctl`), the fds in place, exec. Returns only on failure.
fn child(setup: &ChildSetup, ctl: RawFd, exe: &CString, argv: &[CString]) -> anyhow::Error {
    let r = (|| -> Result<std::convert::Infallible> {
        // SAFETY: prctl without pointers.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        // restore blocks every signal to forward them; criu needs its own.
        let _ = nix::sys::signal::sigprocmask(
            nix::sys::signal::SigmaskHow::SIG_SETMASK,
            Some(&nix::sys::signal::SigSet::empty()),
            None,
        );
        if let Some(p) = setup.prepare {
            p()?;
        }
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .context("criu socketpair")?;
        let fds = [ours.as_raw_fd()];
        let cmsg = [nix::sys::socket::ControlMessage::ScmRights(&fds)];
        nix::sys::socket::sendmsg::<()>(
            ctl,
            &[std::io::IoSlice::new(b"rpc")],
            &cmsg,
            MsgFlags::empty(),
            None,
        )
        .context("hand over the criu socket")?;
        drop(ours);
        let mut srcs = vec![theirs.as_raw_fd()];
        srcs.extend(&setup.extra);
        let mut dirs = Vec::new();
        for d in &setup.dirs {
            let f = std::fs::File::open(d).with_context(|| format!("open {}", d.display()))?;
            srcs.push(f.as_raw_fd());
            dirs.push(f);
        }
        // Every source is first moved above the targets, so no dup2 below
        // overwrites a source still to be placed.
        let high: Vec<RawFd> = srcs
            .iter()
            .map(|fd| {
                // SAFETY: fcntl dup of an open fd.
                let n = unsafe { libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 100) };
                if n < 0 {
                    Err(std::io::Error::last_os_error()).context("dup fd for criu")
                } else {
                    Ok(n)
                }
            })
            .collect::<Result<_>>()?;
        for (i, fd) in high.iter().enumerate() {
            // SAFETY: dup2 of our own fds; the copy is not close-on-exec.
            if unsafe { libc::dup2(*fd, 3 + i as RawFd) } < 0 {
                return Err(std::io::Error::last_os_error()).context("place fd for criu");
            }
        }
        if !setup.inherit_stdio {
            let null = nix::fcntl::open(
                "/dev/null",
                nix::fcntl::OFlag::O_RDWR,
                nix::sys::stat::Mode::empty(),
            )?;
            for t in 0..3 {
                // SAFETY: dup2 onto stdio.
                unsafe { libc::dup2(null, t) };
            }
        }
        // Nothing else of ours goes to criu.
        // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags.
        unsafe {
            libc::syscall(
                libc::SYS_close_range,
                3 + high.len() as libc::c_uint,
                libc::c_uint::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            )
        };
        nix::unistd::execv(exe, argv).context("exec criu")?;
        unreachable!()
    })();
    match r {
        Err(e) => e,
        Ok(never) => match never {},
    }
}

/// Why criu fails on this machine, when `criu check` fails: its error lines
/// in one line. None when the check passes (or cannot run).
pub fn check_failure(criu: &Path) -> Option<String> {
    let out = std::process::Command::new(criu)
        .arg("check")
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    if out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stderr).replace('\0', "");
    let mut why: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_once("): ").map(|(_, m)| m.trim().to_string()))
        .filter(|m| !m.is_empty())
        .collect();
    why.dedup();
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    Some(format!(
        "criu check fails on this kernel ({release}): {}",
        if why.is_empty() {
            text.trim().replace('\n', "; ")
        } else {
            why.join("; ")
        }
    ))
}
