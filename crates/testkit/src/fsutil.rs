//! Removing a test's work directory.

use std::path::Path;

/// Removes `p`, but never through a mount point left inside it: those are
/// detached first; if any remains, `p` stays (and false is returned).
pub fn safe_remove(p: &Path) -> bool {
    for _ in 0..5 {
        let mounts = crate::mountinfo::mounts_under(p);
        if mounts.is_empty() {
            break;
        }
        for m in mounts {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
    if !crate::mountinfo::mounts_under(p).is_empty() {
        eprintln!(
            "warning: not removing {}: mounts remain below it",
            p.display()
        );
        return false;
    }
    let _ = std::fs::remove_dir_all(p);
    true
}
