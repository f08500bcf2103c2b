//! Where state lives: the --root directory and one directory per container id.

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// `/run/tong` as root; `$XDG_RUNTIME_DIR/tong` when runc would use its own
/// there (`rootless::xdg_runtime_dir`).
pub fn default_root() -> PathBuf {
    match crate::rootless::xdg_runtime_dir() {
        Some(dir) => dir.join("tong"),
        None => PathBuf::from("/run/tong"),
    }
}

/// Refuses ids that could escape the root or confuse tools: runc's rule
/// (letters, digits, `_ + - .`), not `.`/`..`, at most 1024 bytes.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'));
    if !ok {
        // runc's words (libcontainer's ErrInvalidID), without the id.
        bail!("invalid container ID format");
    }
    Ok(())
}

pub fn container_dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

pub const STATE_FILE: &str = "state.json";
/// The socket the created init waits on; `start` connects to it. Its
/// existence is what makes a live container "created".
pub const START_SOCK: &str = "exec.sock";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for good in ["a", "abc-1.2_3+x", &"f".repeat(64), &"x".repeat(1024)] {
            assert!(validate_id(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "../x",
            "a b",
            "é",
            &"x".repeat(1025),
            "a\0",
        ] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }
}
