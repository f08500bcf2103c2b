//! `checkpoint`: CRIU dumps a running container (`criu::checkpoint`).

use super::Global;
use crate::cli::CheckpointArgs;
use anyhow::Result;

pub fn checkpoint(g: &Global, a: &CheckpointArgs) -> Result<()> {
    crate::criu::checkpoint(&g.root, a)
}
