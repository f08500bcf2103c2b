//! OCI hooks: each runs with the state JSON on stdin, its own env and args,
//! in a process group of its own, under an optional timeout that covers the
//! whole hook (writing its stdin included). Its stdout and stderr are read
//! while it runs, so a hook writing more than a pipe holds cannot block, and
//! are kept (up to `KEEP` bytes each) for the error message. A hook that
//! outlives its timeout is killed with its process group. A failure reads as
//! runc 1.2's (`error running prestart hook #0: exit status 1, stdout: ...`).

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use oci_spec::runtime::Hook;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How much of each output stream is kept for the error message.
const KEEP: usize = 64 * 1024;

pub fn run_all(kind: &str, hooks: Option<&Vec<Hook>>, state_json: &str) -> Result<()> {
    for (i, h) in hooks.into_iter().flatten().enumerate() {
        crate::debug!("running {kind} hook #{i}: {}", h.path().display());
        run(h, state_json).with_context(|| format!("error running {kind} hook #{i}"))?;
    }
    Ok(())
}

/// Every hook runs; a failure is only a warning (poststart, poststop).
pub fn run_all_warn(kind: &str, hooks: Option<&Vec<Hook>>, state_json: &str) {
    for (i, h) in hooks.into_iter().flatten().enumerate() {
        if let Err(e) = run(h, state_json) {
            crate::logging::warn(&format!("error running {kind} hook #{i}: {e:#}"));
        }
    }
}

/// How a hook ended, in Go's words (os.ProcessState): "exit status 1",
/// "signal: killed".
fn go_status(st: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(sig)) => {
            // SAFETY: strsignal returns a static (or thread-local) string.
            let name = unsafe { std::ffi::CStr::from_ptr(libc::strsignal(sig)) }
                .to_string_lossy()
                .to_lowercase();
            let core = if st.core_dumped() {
                " (core dumped)"
            } else {
                ""
            };
            format!("signal: {name}{core}")
        }
        (None, None) => "exit status unknown".to_string(),
    }
}

/// The first `KEEP` bytes of a stream, and whether more came.
#[derive(Default)]
struct Kept {
    data: Vec<u8>,
    more: bool,
}

impl Kept {
    fn add(&mut self, b: &[u8]) {
        let room = KEEP.saturating_sub(self.data.len());
        self.data.extend_from_slice(&b[..b.len().min(room)]);
        self.more |= b.len() > room;
    }
    /// As the hook wrote it (runc quotes it whole), marked if cut.
    fn text(&self) -> String {
        let s = String::from_utf8_lossy(&self.data).into_owned();
        if self.more {
            format!("{s} [output truncated]")
        } else {
            s
        }
    }
}

fn set_nonblocking(fd: BorrowedFd) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = OFlag::from_bits_retain(fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?);
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// Reads what `fd` has now into `into`; false once it is at EOF (or broken).
fn read_ready(fd: BorrowedFd, into: &mut Kept) -> bool {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
            Ok(0) => return false,
            Ok(n) => into.add(&buf[..n]),
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return true,
            Err(_) => return false,
        }
    }
}

fn run(h: &Hook, state_json: &str) -> Result<()> {
    let mut cmd = Command::new(h.path());
    if let Some(args) = h.args().as_ref().filter(|a| !a.is_empty()) {
        cmd.arg0(&args[0]).args(&args[1..]);
    }
    cmd.env_clear();
    for kv in h.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group: on timeout everything the hook started goes with it.
        .process_group(0);
    let timeout = h.timeout().filter(|t| *t > 0);
    let deadline = timeout.map(|t| Instant::now() + Duration::from_secs(t as u64));
    let mut child = cmd
        .spawn()
        .with_context(|| format!("fork/exec {}", h.path().display()))?;
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
    let kill_group = |child: &mut std::process::Child| {
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        let _ = child.kill();
        let _ = child.wait();
    };
    let pidfd = match crate::signals::pidfd_open(child.id() as i32) {
        Ok(fd) => fd,
        Err(e) => {
            kill_group(&mut child);
            return Err(e);
        }
    };
    let mut stdin = child.stdin.take();
    let stdout = child.stdout.take().context("hook stdout")?;
    let stderr = child.stderr.take().context("hook stderr")?;
    let mut to_write = state_json.as_bytes();
    let (mut out, mut err) = (Kept::default(), Kept::default());
    let (mut out_open, mut err_open) = (true, true);
    for fd in [stdout.as_fd(), stderr.as_fd()]
        .into_iter()
        .chain(stdin.as_ref().map(|s| s.as_fd()))
    {
        if let Err(e) = set_nonblocking(fd) {
            kill_group(&mut child);
            return Err(e);
        }
    }
    if to_write.is_empty() {
        stdin = None;
    }
    let mut exited = false;
    while !exited {
        let wait_ms: libc::c_int = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    kill_group(&mut child);
                    bail!(
                        "hook ran past specified timeout of {:.1}s",
                        timeout.unwrap_or(0) as f64
                    );
                }
                left.as_millis().min(i32::MAX as u128 - 1) as libc::c_int + 1
            }
        };
        // [exit, stdout, stderr, stdin]; poll(2) skips a negative fd.
        let pfd = |fd: Option<libc::c_int>, events: libc::c_short| libc::pollfd {
            fd: fd.unwrap_or(-1),
            events,
            revents: 0,
        };
        let mut fds = [
            pfd(Some(pidfd.as_raw_fd()), libc::POLLIN),
            pfd(out_open.then(|| stdout.as_raw_fd()), libc::POLLIN),
            pfd(err_open.then(|| stderr.as_raw_fd()), libc::POLLIN),
            pfd(stdin.as_ref().map(|s| s.as_raw_fd()), libc::POLLOUT),
        ];
        // SAFETY: poll on an array of pollfd structs we own.
        if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait_ms) } < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                kill_group(&mut child);
                return Err(e).context("wait for hook");
            }
        }
        let ready = |i: usize| fds[i].revents != 0;
        let (exit_ready, out_ready, err_ready, in_ready) = (ready(0), ready(1), ready(2), ready(3));
        if out_ready {
            out_open = read_ready(stdout.as_fd(), &mut out);
        }
        if err_ready {
            err_open = read_ready(stderr.as_fd(), &mut err);
        }
        if in_ready {
            if let Some(s) = &stdin {
                match nix::unistd::write(s.as_fd(), to_write) {
                    Ok(n) => to_write = &to_write[n..],
                    Err(Errno::EAGAIN | Errno::EINTR) => {}
                    // A hook may exit (or close stdin) without reading it all:
                    // that is not an error.
                    Err(_) => to_write = &[],
                }
                if to_write.is_empty() {
                    stdin = None;
                }
            }
        }
        exited = exit_ready;
    }
    // What the hook wrote before it exited is in the pipes; whatever it left
    // running that still holds them is not waited for.
    if out_open {
        read_ready(stdout.as_fd(), &mut out);
    }
    if err_open {
        read_ready(stderr.as_fd(), &mut err);
    }
    let status = child.wait().context("wait for hook")?;
    if !status.success() {
        bail!(
            "{}, stdout: {}, stderr: {}",
            go_status(status),
            out.text(),
            err.text()
        );
    }
    Ok(())
}
