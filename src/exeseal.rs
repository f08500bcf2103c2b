//! CVE-2019-5736: a tong process that enters a container (create's init, exec's
//! child) must not expose the host binary, neither through /proc/PID/exe nor by
//! the kernel running it for a `#!/proc/self/exe` script. Those commands re-exec
//! themselves once from a sealed memfd copy of the binary; what the container
//! can reach is then a read-only, unlinked copy.

use anyhow::{Context, Result};
use std::ffi::{CString, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

fn is_sealed(f: &File) -> bool {
    // SAFETY: fcntl on an fd we own.
    let seals = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & SEALS == SEALS
}

fn memfd() -> Result<OwnedFd> {
    let name = c"tong";
    const MFD_EXEC: libc::c_uint = 0x10;
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: memfd_create with a static name; MFD_EXEC only exists on 6.3+.
    let mut fd = unsafe { libc::memfd_create(name.as_ptr(), base | MFD_EXEC) };
    if fd < 0 {
        // SAFETY: as above.
        fd = unsafe { libc::memfd_create(name.as_ptr(), base) };
    }
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("memfd_create");
    }
    // SAFETY: a new fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Re-execs from a sealed copy unless already running from one. Returns only
/// when already sealed.
pub fn ensure_sealed() -> Result<()> {
    let exe = File::open("/proc/self/exe").context("open /proc/self/exe")?;
    if is_sealed(&exe) {
        return Ok(());
    }
    let len = exe.metadata()?.len() as usize;
    let copy = memfd()?;
    let mut done = 0;
    while done < len {
        // SAFETY: sendfile between two fds we own.
        let n = unsafe {
            libc::sendfile(
                copy.as_raw_fd(),
                exe.as_raw_fd(),
                std::ptr::null_mut(),
                len - done,
            )
        };
        if n <= 0 {
            return Err(std::io::Error::last_os_error()).context("copy tong into a memfd");
        }
        done += n as usize;
    }
    // SAFETY: fcntl on our memfd.
    if unsafe { libc::fcntl(copy.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } != 0 {
        return Err(std::io::Error::last_os_error()).context("seal the memfd");
    }
    let cs = |v: OsString| CString::new(v.into_vec()).ok();
    let argv: Vec<CString> = std::env::args_os().filter_map(cs).collect();
    let envp: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            CString::new(kv).ok()
        })
        .collect();
    let mut argp: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argp.push(std::ptr::null());
    let mut envpp: Vec<*const libc::c_char> = envp.iter().map(|a| a.as_ptr()).collect();
    envpp.push(std::ptr::null());
    // SAFETY: execveat(fd, "", argv, envp, AT_EMPTY_PATH) with NULL-terminated arrays.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            copy.as_raw_fd(),
            c"".as_ptr(),
            argp.as_ptr(),
            envpp.as_ptr(),
            libc::AT_EMPTY_PATH,
        );
    }
    Err(std::io::Error::last_os_error()).context("re-exec from the sealed memfd")
}
