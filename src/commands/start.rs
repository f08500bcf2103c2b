//! `start`: release a created container's init (`container::start`).

use crate::container;
use crate::state::Container;
use anyhow::Result;
use std::path::Path;

pub fn start(root: &Path, id: &str) -> Result<()> {
    container::start(&Container::load(root, id)?, false)
}
