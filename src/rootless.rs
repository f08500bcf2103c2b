//! Running as an ordinary user (or as root inside a user namespace someone
//! else made, as rootless Podman calls us): runc's `--rootless` decision, the
//! state root under $XDG_RUNTIME_DIR, whether the container gets a cgroup at
//! all, and id maps the kernel only lets `newuidmap`/`newgidmap` write.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxIdMapping, LinuxResources};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// runc's parseBoolOrAuto: "" and "auto" are None (detect); otherwise Go's
/// strconv.ParseBool, with its error words.
pub fn parse_flag(v: Option<&str>) -> Result<Option<bool>> {
    match v.unwrap_or("") {
        "" | "auto" => Ok(None),
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(Some(true)),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(Some(false)),
        other => bail!(
            "strconv.ParseBool: parsing {}: invalid syntax",
            crate::logging::go_quote(other)
        ),
    }
}

/// Whether we run in a user namespace other than the initial one (its
/// uid_map is not the identity over the whole range).
pub fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|m| {
        let f: Vec<&str> = m.split_whitespace().collect();
        f != ["0", "0", "4294967295"]
    })
}

/// runc's shouldUseRootlessCgroupManager: the flag if given, else rootless
/// when not root, or root only inside a user namespace.
pub fn cgroups(flag: Option<&str>) -> Result<bool> {
    if let Some(b) = parse_flag(flag)? {
        return Ok(b);
    }
    Ok(!nix::unistd::geteuid().is_root() || in_user_namespace())
}

/// runc's shouldHonorXDGRuntimeDir: a non-empty $XDG_RUNTIME_DIR is the
/// state root's parent for a non-root caller, and for root in a user
/// namespace unless $USER is root (conmon leaks `XDG_RUNTIME_DIR=` as root).
pub fn xdg_runtime_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty())?;
    let honor = !nix::unistd::geteuid().is_root()
        || (in_user_namespace() && std::env::var("USER").map_or(true, |u| u != "root"));
    honor.then(|| PathBuf::from(dir))
}

/// The container's cgroup for a rootless runtime, decided before anything
/// is made: `Some(path)` when the caller may write it (a delegated subtree),
/// `None` (no cgroup at all, as runc) when it may not and the config asks for
/// no limits and names no cgroupsPath; otherwise runc's refusal.
pub fn cgroup_path(
    plan: &crate::bundle::Plan,
    id: &str,
    rootless: bool,
) -> Result<Option<PathBuf>> {
    if !rootless || writable(&plan.cgroup_path) {
        return Ok(Some(plan.cgroup_path.clone()));
    }
    let l = plan.linux();
    let explicit = l
        .and_then(|l| l.cgroups_path().as_ref())
        .is_some_and(|p| !p.as_os_str().is_empty());
    if !explicit {
        // runc (fs2) without a cgroupsPath: beside our own cgroup, which a
        // delegated subtree (a systemd user session) lets us write.
        if let Some(p) = beside_own_cgroup(id).filter(|p| writable(p)) {
            return Ok(Some(p));
        }
    }
    let limits = l
        .and_then(|l| l.resources().clone())
        .is_some_and(|r| needs_controllers(&r));
    if explicit || limits {
        // runc's words (fs2.Apply), naming what could not be written.
        bail!(
            "rootless needs no limits + no cgrouppath when no permission is granted for cgroups: mkdir {}: permission denied",
            first_unwritable(&plan.cgroup_path).display()
        );
    }
    crate::debug!("rootless: no permission for cgroups, the container gets none");
    if !plan.ns.is_new(oci_spec::runtime::LinuxNamespaceType::Pid) {
        // runc 1.2's warning, word for word.
        crate::logging::warn("Creating a rootless container with no cgroup and no private pid namespace. Such configuration is strongly discouraged (as it is impossible to properly kill all container's processes) and will result in an error in a future runc version.");
    }
    Ok(None)
}

/// `pause`, `update`, `events`: a container made without a cgroup
/// (`cgroup_path`) has nothing they could act on.
pub fn require_cgroup(path: &Path) -> Result<()> {
    if path.as_os_str().is_empty() {
        bail!("container has no cgroup: it was made rootless without permission for cgroups");
    }
    Ok(())
}

/// The processes of a container without a cgroup: with its own pid
/// namespace every process in it (exec'd ones are not the init's
/// descendants: they were reparented when `exec -d` left); otherwise the
/// init and its descendants.
pub fn container_pids(init: i32, own_pidns: bool) -> Vec<i32> {
    let ns_of = |pid: i32| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let init_ns = if own_pidns { ns_of(init) } else { None };
    let mut parent_of = Vec::new();
    let mut same_ns = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if let Some(ns) = &init_ns {
            if ns_of(pid).as_ref() == Some(ns) {
                same_ns.push(pid);
            }
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The fields after the command (which may hold spaces and parens).
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<i32>().ok());
        if let Some(ppid) = ppid {
            parent_of.push((pid, ppid));
        }
    }
    if init_ns.is_some() {
        same_ns.sort_unstable();
        return same_ns;
    }
    if !parent_of.iter().any(|(p, _)| *p == init) {
        return Vec::new();
    }
    let mut out = vec![init];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out.sort_unstable();
    out
}

/// On a pure cgroup v2 host: the sibling `name` of our own cgroup.
fn beside_own_cgroup(name: &str) -> Option<PathBuf> {
    if crate::cgroups::Hierarchies::read().has_v1() {
        return None;
    }
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let own = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some(Path::new(own).parent()?.join(name))
}

/// Limits other than device rules (which a rootless runtime cannot enforce
/// and runc ignores).
fn needs_controllers(r: &LinuxResources) -> bool {
    let mut rest = r.clone();
    rest.set_devices(None);
    if rest.unified().as_ref().is_some_and(|u| u.is_empty()) {
        rest.set_unified(None);
    }
    rest != LinuxResources::default()
}

/// Whether the cgroup `rel` can be made (or joined) in every hierarchy.
fn writable(rel: &Path) -> bool {
    let h = crate::cgroups::Hierarchies::read();
    let mut any = false;
    for m in h.mounts() {
        any = true;
        if !dir_writable(&m.join(rel.strip_prefix("/").unwrap_or(rel))) {
            return false;
        }
    }
    any
}

fn first_unwritable(rel: &Path) -> PathBuf {
    let h = crate::cgroups::Hierarchies::read();
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    let found = h.mounts().map(|m| m.join(rel)).find(|d| !dir_writable(d));
    found.unwrap_or_else(|| rel.to_path_buf())
}

/// An existing cgroup: its cgroup.procs writable; a new one: its nearest
/// existing ancestor writable (mkdir).
fn dir_writable(dir: &Path) -> bool {
    use nix::unistd::{access, AccessFlags};
    if dir.is_dir() {
        return access(&dir.join("cgroup.procs"), AccessFlags::W_OK).is_ok();
    }
    let mut d = dir;
    while let Some(p) = d.parent() {
        if p.is_dir() {
            return access(p, AccessFlags::W_OK | AccessFlags::X_OK).is_ok();
        }
        d = p;
    }
    false
}

/// Writes `/proc/PID/{uid,gid}_map` for a child in a new user namespace.
/// Directly when the kernel allows it (root; or the caller's own id alone,
/// gid_map after setgroups is denied as the kernel requires); otherwise
/// through the setuid `newuidmap`/`newgidmap`, which check the ranges
/// against /etc/subuid and /etc/subgid.
pub fn write_id_map(pid: i32, gid: bool, maps: &[LinuxIdMapping]) -> Result<()> {
    let (file, tool) = if gid {
        ("gid_map", "newgidmap")
    } else {
        ("uid_map", "newuidmap")
    };
    let data: String = maps
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect();
    let path = format!("/proc/{pid}/{file}");
    let err = match std::fs::write(&path, &data) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == ErrorKind::PermissionDenied => e,
        Err(e) => return Err(e).with_context(|| format!("write {path}")),
    };
    let own = if gid {
        nix::unistd::getegid().as_raw()
    } else {
        nix::unistd::geteuid().as_raw()
    };
    if let [m] = maps {
        if m.host_id() == own && m.size() == 1 && gid {
            let sg = format!("/proc/{pid}/setgroups");
            std::fs::write(&sg, "deny").with_context(|| format!("write {sg}"))?;
            return std::fs::write(&path, &data).with_context(|| format!("write {path}"));
        }
        if m.host_id() == own && m.size() == 1 {
            return Err(err).with_context(|| format!("write {path}"));
        }
    }
    crate::debug!("{file}: {err}; trying {tool}");
    map_with_tool(tool, pid, maps)
}

fn map_with_tool(tool: &str, pid: i32, maps: &[LinuxIdMapping]) -> Result<()> {
    let mut args = vec![pid.to_string()];
    for m in maps {
        args.extend([m.container_id(), m.host_id(), m.size()].map(|v| v.to_string()));
    }
    let out = std::process::Command::new(tool)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) if e.kind() == ErrorKind::NotFound => bail!(
            "{tool} not found: a mapping beyond the caller's own id needs it (Debian package uidmap)"
        ),
        Err(e) => return Err(e).with_context(|| format!("run {tool}")),
    };
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        let msg = msg.trim().lines().last().unwrap_or("").trim().to_string();
        bail!("{tool} {}: {msg} ({})", args.join(" "), out.status);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_runc_bool_or_auto() {
        assert_eq!(parse_flag(None).unwrap(), None);
        assert_eq!(parse_flag(Some("auto")).unwrap(), None);
        assert_eq!(parse_flag(Some("True")).unwrap(), Some(true));
        assert_eq!(parse_flag(Some("0")).unwrap(), Some(false));
        assert_eq!(
            parse_flag(Some("yes")).unwrap_err().to_string(),
            "strconv.ParseBool: parsing \"yes\": invalid syntax"
        );
    }
}
