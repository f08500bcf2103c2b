//! `state`: runc's JSON for one container.

use crate::state::Container;
use anyhow::Result;
use std::path::Path;

pub fn state(root: &Path, id: &str) -> Result<()> {
    let c = Container::load(root, id)?;
    // No trailing newline, as runc.
    use std::io::Write;
    let _ = write!(
        std::io::stdout(),
        "{}",
        serde_json::to_string_pretty(&c.oci_state())?
    );
    Ok(())
}
