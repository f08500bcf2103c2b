//! `delete`: remove a stopped (or, with --force, any) container
//! (`container::delete`).

use crate::container;
use anyhow::Result;
use std::path::Path;

pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    container::delete(root, id, force)
}
