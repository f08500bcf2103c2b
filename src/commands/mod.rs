//! One file per command: load what it needs, act, print.
pub mod completion;
pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod kill;
pub mod list;
pub mod pause;
pub mod ps;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

use std::path::PathBuf;

/// Global options every command sees.
pub struct Global {
    pub root: PathBuf,
    pub systemd_cgroup: bool,
}
