//! What tong's integration tests (`tests/`) and the conformance suite
//! (`conformance/`) share, so there is one copy of each: a busybox rootfs,
//! JSON pointer edits of a config, mountinfo parsing, the host's cgroup
//! hierarchies (v1, hybrid and v2 alike), process checks, removing a work
//! directory without going through a leaked mount, and skips that fail a
//! full CI run.

pub mod cgroups;
pub mod console;
pub mod fsutil;
pub mod helpers;
pub mod json;
pub mod mountinfo;
pub mod mountprobe;
pub mod procs;
pub mod rootfs;
pub mod skip;
