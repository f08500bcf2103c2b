//! The start-up steps every child that becomes a container process takes,
//! the init and the exec child alike, in one place and one order:
//!
//! 1. `begin`: die with the parent, not dumpable, inherited fds close-on-exec,
//!    default signals, into the v1 cgroups, then wait for the parent's Proceed;
//! 2. (the caller's own steps: namespaces, mounts, terminal);
//! 3. `prepare`: rlimits, I/O priority, scheduler, CPU affinity, memory
//!    policy, personality, LSM labels, session
//!    keyring, umask, no_new_privs, seccomp (before the user switch when it
//!    needs CAP_SYS_ADMIN), user and capabilities, cwd, environment and the
//!    executable lookup: everything that can fail, before Ready;
//! 4. `Exec::exec`: the late seccomp filter, then execve.

use crate::cgroups::SelfJoin;
use crate::process::attrs;
use crate::sync::{Channel, Msg};
use anyhow::{Context, Result};
use oci_spec::runtime::{LinuxMemoryPolicy, LinuxPersonality, LinuxPersonalityDomain, Process};
use std::ffi::CString;
use std::os::fd::AsRawFd;

/// First thing in the child: it dies with its parent, nothing in the
/// container may ptrace it or open its /proc files until execve
/// (CVE-2016-9962, CVE-2019-5736), inherited fds from 3 + `keep_fds` are
/// close-on-exec, signals are back to their defaults, and it moves itself
/// into the v1 cgroups (`cgroup`). Then it waits for Proceed.
/// `dumpable`: see [`Dumpable`].
pub fn begin(
    chan: &Channel,
    keep_fds: u32,
    cgroup: Option<&SelfJoin>,
    what: &str,
    dumpable: Dumpable,
) -> Result<()> {
    attrs::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong)?;
    if dumpable == Dumpable::No {
        attrs::prctl(libc::PR_SET_DUMPABLE, 0)?;
    }
    attrs::mark_cloexec_from(3 + keep_fds)?;
    attrs::reset_signals()?;
    if let Some(cg) = cgroup {
        cg.join_self()?;
    }
    match chan.expect(what)? {
        Msg::Proceed => {}
        m => anyhow::bail!("unexpected message {m}"),
    }
    if dumpable == Dumpable::UntilMapped {
        attrs::prctl(libc::PR_SET_DUMPABLE, 0)?;
    }
    Ok(())
}

/// Whether the child stays dumpable. A process that is not dumpable has its
/// /proc/PID files owned by root (of the user namespace it was exec'd in),
/// which an unprivileged parent, newuidmap (it checks the owner) or the
/// process itself in its new user namespace cannot write.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dumpable {
    /// Not dumpable from the start.
    No,
    /// The parent writes our id maps before Proceed: dumpable until then.
    UntilMapped,
    /// Stays dumpable until its execve: an init that makes its own user
    /// namespace and joins no namespace by path (runc's rule). Nothing of
    /// the container exists yet, and whoever could ptrace it could ptrace
    /// the caller.
    Yes,
}

/// Becomes root of the user namespace just joined or made, so the steps
/// that follow are privileged in it. Root must be mapped: the setup done
/// as anyone else would fail later, less clearly, or not at all.
pub fn become_userns_root() -> Result<()> {
    use nix::unistd::{Gid, Uid};
    nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
        .context("become gid 0 in the user namespace (is gid 0 mapped?)")?;
    nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
        .context("become uid 0 in the user namespace (is uid 0 mapped?)")?;
    Ok(())
}

/// How the cwd is entered.
pub enum Cwd {
    /// A plain chdir: the init made the cwd inside its new root already
    /// (`safe_fs::ensure_dir`), so the path is known to resolve inside it.
    Plain,
    /// Resolved inside our root with no magic links (`attrs::safe_chdir`):
    /// the exec child enters a root it did not set up.
    Safe,
}

pub struct Setup<'a> {
    pub process: &'a Process,
    /// Where a seccomp NOTIFY listener goes.
    pub chan: &'a Channel,
    pub seccomp: Option<&'a tong_seccomp::Filter>,
    pub in_userns: bool,
    /// A new session keyring `_ses.<id>` (the init, without --no-new-keyring).
    pub keyring: Option<&'a str>,
    /// Whether the parent still listens when `Exec::exec` runs (exec: yes;
    /// the init: no, the parent is gone after Ready), which decides whether
    /// a filter with a NOTIFY listener may be installed late.
    pub parent_listens_at_exec: bool,
    pub cwd: Cwd,
    /// Appended to process.env (LISTEN_FDS for the init).
    pub extra_env: &'a [String],
    pub extras: Extras<'a>,
}

/// Container-wide settings each of its processes takes on (linux.*; the
/// exec child has them from state.json).
#[derive(Default)]
pub struct Extras<'a> {
    pub personality: Option<&'a LinuxPersonality>,
    pub memory_policy: Option<&'a LinuxMemoryPolicy>,
    pub affinity: Affinity<'a>,
}

/// The CPU affinity once the process is in its cgroup.
#[derive(Default)]
pub enum Affinity<'a> {
    /// Every CPU, which the kernel narrows to the cpuset: not the CPUs
    /// of whoever ran tong (runc 1.2 does the same).
    #[default]
    Reset,
    /// execCPUAffinity.final (or initial without final).
    Set(&'a str),
}

/// personality(2) with the domain; runc ignores the flags (and so do we:
/// bundle.rs warns about them).
fn set_personality(p: &LinuxPersonality) -> Result<()> {
    let domain: libc::c_ulong = match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    // SAFETY: plain syscall with an integer argument.
    if unsafe { libc::personality(domain) } == -1 {
        return Err(std::io::Error::last_os_error()).context("set personality");
    }
    Ok(())
}

fn apply_extras(x: &Extras) -> Result<()> {
    match x.affinity {
        Affinity::Reset => crate::process::numa::reset_affinity()?,
        Affinity::Set(cpus) => {
            crate::process::numa::set_affinity(cpus).context("process.execCPUAffinity.final")?
        }
    }
    if let Some(m) = x.memory_policy {
        crate::process::numa::apply(m)?;
    }
    if let Some(p) = x.personality {
        set_personality(p)?;
    }
    Ok(())
}

/// What is left once everything that can fail was done: the filter that
/// goes on last, and the execve.
pub struct Exec {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    seccomp: Option<tong_seccomp::Filter>,
}

/// The process attributes, in order (see the module's comment).
pub fn prepare(s: &Setup) -> Result<Exec> {
    let p = s.process;
    attrs::set_rlimits(p)?;
    attrs::set_io_priority(p)?;
    attrs::set_scheduler(p)?;
    apply_extras(&s.extras)?;
    attrs::set_lsm_labels(p, !s.parent_listens_at_exec)?;
    if let Some(id) = s.keyring {
        join_session_keyring(id)?;
    }
    if let Some(umask) = p.user().umask() {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask));
    }
    let nnp = p.no_new_privileges().unwrap_or(false);
    if nnp {
        attrs::prctl(libc::PR_SET_NO_NEW_PRIVS, 1)?;
    }
    // Without no_new_privs installing a filter needs CAP_SYS_ADMIN: do it
    // before the user switch. With it, as late as possible (just before
    // execve), unless a NOTIFY listener must reach a parent that is gone by then.
    let late_seccomp = match s.seccomp {
        Some(f) if nnp && (s.parent_listens_at_exec || !f.uses_notify()) => Some(f.clone()),
        Some(f) => {
            install_seccomp(s.chan, f)?;
            None
        }
        None => None,
    };
    attrs::switch_user(p, s.in_userns)?;
    let cwd = p.cwd();
    match s.cwd {
        Cwd::Plain => nix::unistd::chdir(cwd).with_context(|| {
            format!(
                "chdir to cwd ({}) set in config.json failed",
                crate::logging::go_quote(&cwd.to_string_lossy())
            )
        })?,
        Cwd::Safe => attrs::safe_chdir(cwd)?,
    }
    let mut env: Vec<String> = p.env().clone().unwrap_or_default();
    env.extend(s.extra_env.iter().cloned());
    let env = attrs::with_home(env, p.user().uid());
    let args = p.args().as_deref().unwrap_or_default();
    let arg0 = args.first().context("process args cannot be empty")?;
    let path = crate::process::lookup::find(arg0, &env)?;
    let cs = |s: &String| {
        CString::new(s.as_str())
            .with_context(|| format!("NUL byte in {}", crate::logging::go_quote(s)))
    };
    Ok(Exec {
        path: CString::new(path.as_os_str().as_encoded_bytes())?,
        argv: args.iter().map(cs).collect::<Result<_>>()?,
        envp: env.iter().map(cs).collect::<Result<_>>()?,
        seccomp: late_seccomp,
    })
}

impl Exec {
    /// The late seccomp filter, then execve; returns only on failure.
    pub fn exec(self, chan: &Channel) -> Result<std::convert::Infallible> {
        if let Some(f) = &self.seccomp {
            install_seccomp(chan, f)?;
        }
        let e = nix::unistd::execve(&self.path, &self.argv, &self.envp).unwrap_err();
        Err(e).with_context(|| {
            format!(
                "exec {}",
                crate::logging::go_quote(&self.path.to_string_lossy())
            )
        })
    }
}

/// A fresh session keyring named as runc names it, so the container can't
/// see the host's keys. As runc: only a kernel without keyrings (ENOSYS) is
/// let through; any other refusal (EDQUOT when the key quota is used up, a
/// seccomp filter's EPERM) fails the create, with --no-new-keyring as the way out.
fn join_session_keyring(id: &str) -> Result<()> {
    let name = CString::new(format!("_ses.{id}")).context("session keyring name")?;
    // SAFETY: keyctl(KEYCTL_JOIN_SESSION_KEYRING, name) with a live C string.
    if unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            libc::KEYCTL_JOIN_SESSION_KEYRING,
            name.as_ptr(),
        )
    } < 0
    {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ENOSYS) {
            return Err(e).context("unable to join session keyring");
        }
    }
    Ok(())
}

/// Installs the filter; a NOTIFY listener goes to the parent, which hands it on.
fn install_seccomp(chan: &Channel, f: &tong_seccomp::Filter) -> Result<()> {
    if let Some(fd) = f.install().context("install seccomp filter")? {
        chan.send_fd(&Msg::SeccompListener, fd.as_raw_fd())?;
    }
    Ok(())
}
