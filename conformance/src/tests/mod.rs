//! The test registry: one module per spec area.

use crate::harness::Test;

pub mod cgroups;
pub mod cgroups_v2;
pub mod devices;
pub mod extensions;
pub mod hooks;
pub mod invalid;
pub mod lifecycle;
pub mod mounts;
pub mod namespaces;
pub mod ops;
pub mod process;
pub mod seccomp;

/// Every test, in a stable order (names are unique).
pub fn all() -> Vec<Test> {
    let mut v = vec![];
    v.extend(lifecycle::tests());
    v.extend(process::tests());
    v.extend(namespaces::tests());
    v.extend(mounts::tests());
    v.extend(devices::tests());
    v.extend(cgroups::tests());
    v.extend(cgroups_v2::tests());
    v.extend(hooks::tests());
    v.extend(seccomp::tests());
    v.extend(invalid::tests());
    v.extend(ops::tests());
    v.extend(extensions::tests());
    v
}
