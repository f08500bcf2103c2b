//! `create`: load the bundle, make the container (`container::create`); the
//! init then waits for `start`.

use super::Global;
use crate::cli::CreateArgs;
use crate::container;
use anyhow::Result;

pub fn create(g: &Global, a: &CreateArgs) -> Result<()> {
    let plan = g.load_plan(a)?;
    container::create(&g.create_opts(a)?, &plan, None)?;
    Ok(())
}
