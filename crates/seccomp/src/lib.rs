//! `tong-seccomp`: compile an OCI `linux.seccomp` configuration into one
//! classic-BPF seccomp program and install it, without libseccomp.
//!
//! The generated filter follows runc (libseccomp 2.5 + runc's `-ENOSYS`
//! stub) semantically; see `DESIGN.md` for the layout.
//!
//! # API
//!
//! ```no_run
//! # fn f(cfg: &oci_spec::runtime::LinuxSeccomp, state: &serde_json::Value) -> Result<(), tong_seccomp::Error> {
//! use std::os::fd::AsFd;
//! // Pure: validates the config and builds the BPF program (no syscalls).
//! let filter = tong_seccomp::compile(cfg)?;
//! for name in filter.skipped_syscalls() {
//!     eprintln!("debug: unknown seccomp syscall {name:?} ignored");
//! }
//! // In the container init, right before execve, after no_new_privs was set
//! // (or with CAP_SYS_ADMIN): seccomp(SECCOMP_SET_MODE_FILTER, flags, prog).
//! if let Some(listener) = filter.install()? {
//!     // SCMP_ACT_NOTIFY was used: hand the listener fd to the agent.
//!     if let Some(path) = cfg.listener_path() {
//!         let metadata = cfg.listener_metadata().as_deref().unwrap_or("");
//!         tong_seccomp::send_listener(path, listener.as_fd(), state, metadata)?;
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! * [`compile`]`(&LinuxSeccomp) -> Result<Filter, Error>`: pure, no syscalls.
//! * [`Filter`]: [`Filter::program`] (`&[libc::sock_filter]`),
//!   [`Filter::flags`] (`SECCOMP_FILTER_FLAG_*`, incl. NEW_LISTENER),
//!   [`Filter::uses_notify`], [`Filter::install`]
//!   (`-> Result<Option<OwnedFd>, Error>`, the listener fd with NOTIFY),
//!   [`Filter::skipped_syscalls`] (unknown names, to log at debug level),
//!   [`Filter::evaluate`] (run the program on a [`SeccompData`] in an
//!   interpreter, for tests/debugging).
//! * [`send_listener`]`(path, fd, state_json, metadata)`: send the listener
//!   fd to a seccomp agent in runc's `ContainerProcessState` format
//!   ([`container_process_state`] builds that JSON).
//! * [`Abi`]: the x86_64 / x32 / i386 syscall tables.
//! * [`Error`]: every validation/compile/install failure; nothing panics.
//!
//! Semantics follow runc 1.1 + libseccomp 2.5 (see DESIGN.md): ERRNO/TRACE
//! default to EPERM, `SCMP_ACT_KILL` is KILL_THREAD, other architectures
//! get KILL_THREAD, syscalls newer than the profile get ENOSYS unless the
//! default action is ALLOW/LOG/TRACE, unknown syscall names are skipped.

mod bpf;
mod compile;
pub mod features;
mod notify;
mod syscall_tables;

use std::os::fd::{FromRawFd, OwnedFd};

pub use bpf::SeccompData;
pub use compile::compile;
pub use notify::{container_process_state, send_listener};

/// `AUDIT_ARCH_X86_64`: `seccomp_data.arch` for x86_64 and x32 tasks.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `AUDIT_ARCH_I386`: `seccomp_data.arch` for i386 (int 0x80 / compat) tasks.
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// Bit set in x32 syscall numbers.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Syscall ABIs a filter can contain on an x86_64 host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Abi {
    X86_64,
    X32,
    I386,
}

impl Abi {
    /// Number of `name` in this ABI (x32 numbers include [`X32_SYSCALL_BIT`]).
    pub fn syscall_nr(self, name: &str) -> Option<u32> {
        let table = match self {
            Abi::X86_64 => syscall_tables::X86_64,
            Abi::X32 => syscall_tables::X32,
            Abi::I386 => syscall_tables::I386,
        };
        table
            .binary_search_by(|(n, _)| (*n).cmp(name))
            .ok()
            .map(|i| table[i].1)
    }

    /// For i386 socket and SysV IPC syscalls: the multiplexer libseccomp
    /// also filters them through (`socketcall` 102 or `ipc` 117) and the
    /// call number in its first argument. `None` for other ABIs/names.
    pub fn multiplexed(self, name: &str) -> Option<(u32, u64)> {
        match self {
            Abi::I386 => compile::i386_multiplexed(name),
            _ => None,
        }
    }

    /// All (name, number) pairs of this ABI, sorted by name.
    pub fn syscalls(self) -> &'static [(&'static str, u32)] {
        match self {
            Abi::X86_64 => syscall_tables::X86_64,
            Abi::X32 => syscall_tables::X32,
            Abi::I386 => syscall_tables::I386,
        }
    }
}

/// Errors from compiling or installing a seccomp filter.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("seccomp: SCMP_ACT_NOTIFY cannot be used as the default action")]
    NotifyDefaultAction,
    #[error("seccomp: SCMP_ACT_NOTIFY cannot be used for the write syscall")]
    NotifyWrite,
    #[error("seccomp: listenerPath is not set but a rule uses SCMP_ACT_NOTIFY")]
    NotifyWithoutListenerPath,
    #[error("seccomp: syscall rule #{rule} has an empty syscall name")]
    EmptySyscallName { rule: usize },
    #[error("seccomp: syscall rule #{rule} ({name}): argument index {index} out of range (must be 0..=5)")]
    ArgIndex {
        rule: usize,
        name: String,
        index: usize,
    },
    #[error("seccomp: filter flag {0} is not supported")]
    UnsupportedFlag(String),
    #[error("seccomp: SECCOMP_FILTER_FLAG_TSYNC cannot be combined with SCMP_ACT_NOTIFY")]
    TsyncWithNotify,
    #[error("seccomp: only x86_64 hosts are supported (this build targets {0})")]
    UnsupportedHost(&'static str),
    #[error("seccomp: generated program has {0} instructions, more than the kernel limit of 4096")]
    TooLarge(usize),
    #[error("seccomp: internal compiler error: {0}")]
    Internal(String),
    #[error("seccomp: installing the filter failed: {0}")]
    Install(#[source] std::io::Error),
    #[error("seccomp: sending the listener fd to {path}: {source}")]
    SendListener {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A compiled seccomp filter: one BPF program plus the `seccomp(2)` flags.
#[derive(Clone)]
pub struct Filter {
    pub(crate) program: Vec<libc::sock_filter>,
    pub(crate) flags: u32,
    pub(crate) notify: bool,
    pub(crate) skipped: Vec<String>,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("instructions", &self.program.len())
            .field("flags", &self.flags)
            .field("notify", &self.notify)
            .field("skipped", &self.skipped)
            .finish()
    }
}

const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;

impl Filter {
    /// The BPF program.
    pub fn program(&self) -> &[libc::sock_filter] {
        &self.program
    }

    /// `seccomp(2)` flags (`SECCOMP_FILTER_FLAG_*`), including
    /// `SECCOMP_FILTER_FLAG_NEW_LISTENER` when [`Filter::uses_notify`].
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Whether some rule uses `SCMP_ACT_NOTIFY`.
    pub fn uses_notify(&self) -> bool {
        self.notify
    }

    /// Syscall names that are in no syscall table of the filter's ABIs and
    /// were skipped (runc logs these at debug level and goes on).
    pub fn skipped_syscalls(&self) -> &[String] {
        &self.skipped
    }

    /// Simulate the program on one syscall; returns the `SECCOMP_RET_*`
    /// value the kernel would act on.
    pub fn evaluate(&self, data: &SeccompData) -> Option<u32> {
        bpf::run(&self.program, data)
    }

    /// Install the filter on the calling thread with
    /// `seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)`.
    ///
    /// Does not set `no_new_privs`: the caller must have done that, or hold
    /// `CAP_SYS_ADMIN`. Returns the user-notification listener fd when the
    /// filter uses `SCMP_ACT_NOTIFY`.
    pub fn install(&self) -> Result<Option<OwnedFd>, Error> {
        let prog = libc::sock_fprog {
            len: u16::try_from(self.program.len())
                .map_err(|_| Error::TooLarge(self.program.len()))?,
            filter: self.program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: prog points to a valid program that outlives the call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                SECCOMP_SET_MODE_FILTER,
                self.flags as libc::c_ulong,
                &prog as *const libc::sock_fprog,
            )
        };
        if ret < 0 {
            return Err(Error::Install(std::io::Error::last_os_error()));
        }
        if self.notify {
            // SAFETY: with SECCOMP_FILTER_FLAG_NEW_LISTENER the return value
            // is a new fd owned by us.
            Ok(Some(unsafe { OwnedFd::from_raw_fd(ret as libc::c_int) }))
        } else {
            Ok(None)
        }
    }
}
