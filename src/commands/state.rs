//! `state`: runc's JSON for one container.

use crate::state::Container;
use anyhow::Result;
use std::path::Path;

pub fn state(root: &Path, id: &str) -> Result<()> {
    let c = Container::load(root, id)?;
    println!("{}", serde_json::to_string_pretty(&c.oci_state())?);
    Ok(())
}
