//! `ps`: the container's processes; `--format json` prints the host pids as a
//! JSON array (docker top parses it).

use crate::cgroups::Cgroup;
use crate::cli::ListFormat;
use crate::state::Container;
use anyhow::{bail, Context, Result};
use std::path::Path;

pub fn ps(root: &Path, id: &str, format: &str, ps_args: &[String]) -> Result<()> {
    let c = Container::load(root, id)?;
    let format = match format {
        "table" => ListFormat::Table,
        "json" => ListFormat::Json,
        _ => bail!("invalid format option"),
    };
    let mut pids: Vec<i32> = if c.state.cgroup_path.as_os_str().is_empty() {
        // Rootless without a cgroup: the init's process tree.
        if c.init_alive() {
            crate::rootless::container_pids(
                c.state.pid,
                c.state
                    .namespaces
                    .contains(&oci_spec::runtime::LinuxNamespaceType::Pid),
            )
        } else {
            Vec::new()
        }
    } else {
        let cg = Cgroup::open(&c.state.cgroup_path, id, false)?;
        cg.pids()?.iter().map(|p| p.as_raw()).collect()
    };
    pids.sort_unstable();
    if format == ListFormat::Json {
        // runc encodes no processes as Go's nil slice: null.
        if pids.is_empty() {
            crate::outln!("null");
        } else {
            crate::outln!("{}", serde_json::to_string(&pids)?);
        }
        return Ok(());
    }
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .context("run ps")?;
    if !out.status.success() {
        bail!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .context("couldn't find PID field in ps output")?;
    crate::outln!("{header}");
    for l in lines {
        let pid = l
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            crate::outln!("{l}");
        }
    }
    Ok(())
}
