//! The parent side of a container's life, for every command that makes or
//! ends something: `create` (`Launch`: state dir, cgroup, first process
//! placed, hooks, recorded state; the clone3 init or another `Spawner`),
//! `exec` (a process joined to a running container), `start`, and
//! `delete`/`signal_all`. One `Guard` undoes a half-made container or
//! process. Commands load, call one of these, and print.

mod create;
mod delete;
mod exec;
mod guard;
mod spawn;
mod start;

pub use create::{create, create_with, load_plan, CreateOpts, Launch};
pub use delete::{delete, signal_all};
pub use exec::{exec, ExecOpts};
pub use spawn::{listen_fds, Spawner};
pub use start::start;

use anyhow::{Context, Result};
use std::path::Path;

/// `--pid-file`, written through a temp file and rename: callers poll for it.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("pid")
    ));
    std::fs::write(&tmp, pid.to_string())
        .with_context(|| format!("write pid file {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("write pid file {}", path.display()))?;
    Ok(())
}
