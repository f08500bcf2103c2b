//! runc's words for a cgroup file that could not be opened or written (its
//! cgroups.OpenFile and WriteFile: `openat2 PATH: ERR`, `failed to write
//! "VALUE": write PATH: ERR`), for tong's own writes and for the errors
//! libcgroups returns, which carry the same facts in other words.

use anyhow::{anyhow, Result};
use libcgroups::common::{AnyManagerError, WrappedIoError};
use libcgroups::v1::manager::V1ManagerError;
use std::io::Write;
use std::path::Path;

/// Writes `value` to the cgroup file `path` in one write(2), as runc does.
pub fn write_file(path: &Path, value: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| anyhow!("openat2 {}: {e}", path.display()))?;
    f.write_all(value.as_bytes()).map_err(|e| {
        anyhow!(
            "failed to write {}: write {}: {e}",
            crate::logging::go_quote(value),
            path.display()
        )
    })
}

/// A libcgroups failure in runc's words where it is a file's.
pub fn of_manager(e: &AnyManagerError) -> String {
    match io_error(e) {
        Some(w) => of_io(w),
        None => e.to_string(),
    }
}

fn of_io(w: &WrappedIoError) -> String {
    match w {
        WrappedIoError::Open { err, path } => format!("openat2 {}: {err}", path.display()),
        WrappedIoError::Write { err, path, data } => format!(
            "failed to write {}: write {}: {err}",
            crate::logging::go_quote(data),
            path.display()
        ),
        WrappedIoError::Read { err, path } => format!("read {}: {err}", path.display()),
        WrappedIoError::CreateDir { err, path } => format!("mkdir {}: {err}", path.display()),
        WrappedIoError::Other { err, path } => format!("{}: {err}", path.display()),
    }
}

/// The file access that failed: some controllers' errors are one
/// themselves, the others give it as their source.
fn io_error(e: &AnyManagerError) -> Option<&WrappedIoError> {
    use V1ManagerError as M;
    if let AnyManagerError::V1(
        M::WrappedIo(w)
        | M::BlkioController(w)
        | M::CpuController(w)
        | M::CpuAcctController(w)
        | M::PidsController(w),
    ) = e
    {
        return Some(w);
    }
    let mut cur = std::error::Error::source(e);
    while let Some(c) = cur {
        if let Some(w) = c.downcast_ref::<WrappedIoError>() {
            return Some(w);
        }
        cur = c.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_errors_read_like_runc() {
        let dir = std::env::temp_dir().join(format!("tong-cg-words-{}", std::process::id()));
        let e = write_file(&dir.join("memory.max"), "1")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("openat2 {}/memory.max: ", dir.display())),
            "{e}"
        );
        let w = WrappedIoError::Write {
            err: std::io::Error::from_raw_os_error(libc::EINVAL),
            path: "/sys/fs/cgroup/memory/x/memory.limit_in_bytes".into(),
            data: "1048576".into(),
        };
        let e = of_manager(&AnyManagerError::V1(V1ManagerError::WrappedIo(w)));
        assert_eq!(
            crate::logging::go_style(&e),
            "failed to write \"1048576\": write /sys/fs/cgroup/memory/x/memory.limit_in_bytes: invalid argument"
        );
    }
}
