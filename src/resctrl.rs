//! `linux.intelRdt`: the container's resource-control group in the resctrl
//! filesystem (Intel RDT / AMD QoS). `create` makes the group (named by
//! closID, or the container id), writes its schemata and puts the init in
//! it; `exec` adds its process; `delete` removes a group it made. Where no
//! resctrl filesystem is mounted, a config asking for it fails in bundle.rs
//! with one clear error, before anything is made.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxIntelRdt;
use std::path::{Path, PathBuf};

/// The config field is implemented (whether this host has RDT is another matter).
pub const SUPPORTED: bool = true;

/// Where resctrl is mounted, from the mount table (usually /sys/fs/resctrl).
pub fn root() -> Option<PathBuf> {
    crate::mountinfo::read()
        .ok()?
        .into_iter()
        .find(|m| m.fstype == "resctrl")
        .map(|m| m.mountpoint)
}

/// The schemata lines the config asks for: `schemata` as given, else the
/// L3 and MB lines.
fn lines(rdt: &LinuxIntelRdt) -> Vec<String> {
    if let Some(s) = rdt.schemata().as_ref().filter(|s| !s.is_empty()) {
        return s.clone();
    }
    [rdt.l3_cache_schema(), rdt.mem_bw_schema()]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect()
}

/// The checks of bundle.rs: a well-formed closID, and a host that can do it.
pub fn validate(rdt: &LinuxIntelRdt) -> Result<()> {
    if let Some(c) = rdt.clos_id() {
        if c.is_empty() || c == "." || c == ".." || c.contains('/') {
            bail!(
                "linux.intelRdt.closID {} is not a valid resctrl group name",
                crate::logging::go_quote(c)
            );
        }
    }
    let Some(root) = root() else {
        bail!(
            "linux.intelRdt: Intel RDT is not available on this host (no resctrl filesystem is mounted, e.g. at /sys/fs/resctrl)"
        );
    };
    validate_at(rdt, &root)
}

fn validate_at(rdt: &LinuxIntelRdt, root: &Path) -> Result<()> {
    let has = |what: &str| root.join("info").join(what).exists();
    if rdt
        .l3_cache_schema()
        .as_ref()
        .is_some_and(|s| !s.is_empty())
        && !has("L3")
    {
        bail!("linux.intelRdt.l3CacheSchema is set, but this host has no Intel RDT/CAT (resctrl info/L3)");
    }
    if rdt.mem_bw_schema().as_ref().is_some_and(|s| !s.is_empty()) && !has("MB") {
        bail!("linux.intelRdt.memBwSchema is set, but this host has no Intel RDT/MBA (resctrl info/MB)");
    }
    Ok(())
}

/// The group a container was put in, and whether `create` made it.
pub struct Group {
    pub dir: PathBuf,
    pub created: bool,
}

/// Makes (or joins, for an existing closID) the group under `root`, writes
/// the schemata, and adds `pid`.
pub fn apply_at(rdt: &LinuxIntelRdt, id: &str, pid: i32, root: &Path) -> Result<Group> {
    let name = rdt.clos_id().clone().unwrap_or_else(|| id.to_string());
    let dir = root.join(&name);
    let created = match std::fs::create_dir(&dir) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && rdt.clos_id().is_some() => false,
        Err(e) => return Err(e).with_context(|| format!("create resctrl group {}", dir.display())),
    };
    let group = Group { dir, created };
    let r = (|| {
        for line in lines(rdt) {
            std::fs::write(group.dir.join("schemata"), format!("{line}\n")).with_context(|| {
                format!(
                    "write schemata {} to {}",
                    crate::logging::go_quote(&line),
                    group.dir.display()
                )
            })?;
        }
        add(&group.dir, pid)
    })();
    if let Err(e) = r {
        if group.created {
            let _ = std::fs::remove_dir(&group.dir);
        }
        return Err(e);
    }
    Ok(group)
}

pub fn apply(rdt: &LinuxIntelRdt, id: &str, pid: i32) -> Result<Group> {
    let root = root().context("linux.intelRdt: no resctrl filesystem is mounted")?;
    apply_at(rdt, id, pid, &root)
}

/// `update --l3-cache-schema/--mem-bw-schema`: the new lines written to the
/// container's group, with runc's words where the host cannot do it.
pub fn update(group: Option<&Path>, l3: Option<&str>, mb: Option<&str>) -> Result<()> {
    update_at(root().as_deref(), group, l3, mb)
}

/// Whether the host can take the lines `update` asks for (runc checks it
/// before it writes anything).
pub fn check_update(l3: Option<&str>, mb: Option<&str>) -> Result<()> {
    check_at(root().as_deref(), l3, mb)
}

fn check_at(root: Option<&Path>, l3: Option<&str>, mb: Option<&str>) -> Result<()> {
    let has = |what: &str| root.is_some_and(|r| r.join("info").join(what).exists());
    if l3.is_some() && !has("L3") {
        bail!("Intel RDT/CAT: l3 cache schema is not enabled");
    }
    if mb.is_some() && !has("MB") {
        bail!("Intel RDT/MBA: memory bandwidth schema is not enabled");
    }
    Ok(())
}

fn update_at(
    root: Option<&Path>,
    group: Option<&Path>,
    l3: Option<&str>,
    mb: Option<&str>,
) -> Result<()> {
    check_at(root, l3, mb)?;
    let lines: Vec<&str> = [l3, mb].into_iter().flatten().collect();
    if lines.is_empty() {
        return Ok(());
    }
    let Some(dir) = group else {
        bail!(
            "the container was created without linux.intelRdt: it has no resctrl group to update"
        );
    };
    for line in lines {
        std::fs::write(dir.join("schemata"), format!("{line}\n")).with_context(|| {
            format!(
                "write schemata {} to {}",
                crate::logging::go_quote(line),
                dir.display()
            )
        })?;
    }
    Ok(())
}

/// Adds a process to the group (exec'd processes join the init's group).
pub fn add(dir: &Path, pid: i32) -> Result<()> {
    std::fs::write(dir.join("tasks"), pid.to_string())
        .with_context(|| format!("add pid {pid} to resctrl group {}", dir.display()))
}

/// Removes a group `create` made (resctrl removes its files with it).
pub fn remove(dir: &Path) -> Result<()> {
    match std::fs::remove_dir(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("remove resctrl group {}", dir.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rdt(j: serde_json::Value) -> LinuxIntelRdt {
        serde_json::from_value(j).unwrap()
    }

    #[test]
    fn schemata_lines() {
        let r = rdt(serde_json::json!({"l3CacheSchema": "L3:0=f", "memBwSchema": "MB:0=50"}));
        assert_eq!(lines(&r), vec!["L3:0=f", "MB:0=50"]);
        let r =
            rdt(serde_json::json!({"schemata": ["L3:0=3", "MB:0=20"], "l3CacheSchema": "L3:0=f"}));
        assert_eq!(lines(&r), vec!["L3:0=3", "MB:0=20"]);
    }

    #[test]
    fn update_writes_the_group_or_says_why_not() {
        let root = std::env::temp_dir().join(format!("tong-resctrl-up-{}", std::process::id()));
        let group = root.join("ctr");
        std::fs::create_dir_all(&group).unwrap();
        let no_cat = update_at(Some(&root), Some(&group), Some("L3:0=f"), None);
        let no_host = update_at(None, Some(&group), None, Some("MB:0=50"));
        std::fs::create_dir_all(root.join("info/L3")).unwrap();
        std::fs::create_dir_all(root.join("info/MB")).unwrap();
        let no_group = update_at(Some(&root), None, Some("L3:0=f"), None);
        let ok = update_at(Some(&root), Some(&group), None, Some("MB:0=50"));
        let schemata = std::fs::read_to_string(group.join("schemata"));
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(
            no_cat.unwrap_err().to_string(),
            "Intel RDT/CAT: l3 cache schema is not enabled"
        );
        assert_eq!(
            no_host.unwrap_err().to_string(),
            "Intel RDT/MBA: memory bandwidth schema is not enabled"
        );
        assert!(no_group
            .unwrap_err()
            .to_string()
            .contains("without linux.intelRdt"));
        ok.unwrap();
        assert_eq!(schemata.unwrap(), "MB:0=50\n");
    }

    #[test]
    fn names_and_host_checks() {
        for bad in ["..", "a/b", ""] {
            let r = rdt(serde_json::json!({ "closID": bad }));
            assert!(
                validate(&r).unwrap_err().to_string().contains("closID"),
                "{bad}"
            );
        }
        // On a plain directory standing in for resctrl: no info/L3, so no CAT.
        let root = std::env::temp_dir().join(format!("tong-resctrl-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let r = rdt(serde_json::json!({ "l3CacheSchema": "L3:0=f" }));
        let e = validate_at(&r, &root).unwrap_err().to_string();
        std::fs::create_dir_all(root.join("info/L3")).unwrap();
        let ok = validate_at(&r, &root);
        // A group is a directory with schemata and tasks.
        let g = apply_at(&r, "ctr", 42, &root).unwrap();
        let schemata = std::fs::read_to_string(g.dir.join("schemata")).unwrap();
        let tasks = std::fs::read_to_string(g.dir.join("tasks")).unwrap();
        let created = g.created;
        std::fs::remove_dir_all(&root).unwrap();
        assert!(e.contains("l3CacheSchema"), "{e}");
        ok.unwrap();
        assert!(created);
        assert_eq!((schemata.as_str(), tasks.as_str()), ("L3:0=f\n", "42"));
    }
}
