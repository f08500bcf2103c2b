//! One file per command: load what it needs, act, print.
pub mod create;
pub mod delete;
pub mod kill;
pub mod list;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;

use std::path::PathBuf;

/// Global options every command sees.
pub struct Global {
    pub root: PathBuf,
    pub systemd_cgroup: bool,
}
