//! Everything about a config that can be checked before the fork, so a bad
//! one fails before any state dir, cgroup or process exists. Each refusal
//! names the field and its index (`mounts[3].options[1]: ...`).
//!
//! The process checks are shared with `exec --process` (`process`).

use anyhow::{anyhow, bail, Result};
use oci_spec::runtime::{
    IOPriorityClass, LinuxDeviceType, LinuxSchedulerPolicy as P, Mount, Process, Spec,
};
use std::fmt::Display;
use std::path::Path;

/// An error naming `field` of config.json.
fn bad(field: impl Display, why: impl Display) -> anyhow::Error {
    bad_in("config.json", field, why)
}

/// An error naming `field` of document `doc` (config.json, a process file).
fn bad_in(doc: &str, field: impl Display, why: impl Display) -> anyhow::Error {
    anyhow!("{doc}: {field}: {why}")
}

fn no_nul(field: impl Display, s: &str) -> Result<()> {
    no_nul_in("config.json", field, s)
}

fn no_nul_in(doc: &str, field: impl Display, s: &str) -> Result<()> {
    if s.contains('\0') {
        return Err(bad_in(doc, field, "contains a NUL byte"));
    }
    Ok(())
}

fn no_nul_path(field: impl Display, p: &Path) -> Result<()> {
    no_nul(field, &p.to_string_lossy())
}

/// ociVersion: a semantic version (MAJOR.MINOR.PATCH[-PRE][+BUILD]) of
/// runtime-spec 1.x, the only major version there is.
pub fn oci_version(v: &str) -> Result<()> {
    if v.is_empty() {
        bail!("config.json: ociVersion must be set");
    }
    let invalid = || bad("ociVersion", format!("{v:?} is not a semantic version"));
    let (core, build) = match v.split_once('+') {
        Some((c, b)) => (c, Some(b)),
        None => (v, None),
    };
    let (core, pre) = match core.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (core, None),
    };
    let ident_ok = |s: &str| {
        !s.is_empty()
            && s.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    };
    if pre.is_some_and(|p| !ident_ok(p)) || build.is_some_and(|b| !ident_ok(b)) {
        return Err(invalid());
    }
    let nums: Vec<&str> = core.split('.').collect();
    let numeric = |n: &&str| {
        !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && (n.len() == 1 || !n.starts_with('0'))
            && n.parse::<u64>().is_ok()
    };
    if nums.len() != 3 || !nums.iter().all(numeric) {
        return Err(invalid());
    }
    if nums[0] != "1" {
        return Err(bad(
            "ociVersion",
            format!("{v} is not supported (runtime-spec 1.x)"),
        ));
    }
    Ok(())
}

/// (uid_t)-1 would mean "unchanged" to setresuid and leave the process root.
fn user(doc: &str, p: &Process) -> Result<()> {
    let u = p.user();
    if u.uid() == u32::MAX {
        return Err(bad_in(
            doc,
            "process.user.uid",
            "4294967295 is not a valid uid",
        ));
    }
    if u.gid() == u32::MAX {
        return Err(bad_in(
            doc,
            "process.user.gid",
            "4294967295 is not a valid gid",
        ));
    }
    for (i, g) in u.additional_gids().iter().flatten().enumerate() {
        if *g == u32::MAX {
            return Err(bad_in(
                doc,
                format!("process.user.additionalGids[{i}]"),
                "4294967295 is not a valid gid",
            ));
        }
    }
    if let Some(m) = u.umask() {
        if m > 0o7777 {
            return Err(bad_in(
                doc,
                "process.user.umask",
                format!("{m:#o} is not a mode"),
            ));
        }
    }
    Ok(())
}

/// The process: of config.json for `create` (`doc` "config.json"), of the
/// `--process` file for `exec`; fields are named as in config.json.
pub fn process(doc: &str, p: &Process) -> Result<()> {
    user(doc, p)?;
    let args = p.args().as_deref().unwrap_or_default();
    if args.is_empty() {
        return Err(anyhow!("{doc}: process.args must not be empty"));
    }
    for (i, a) in args.iter().enumerate() {
        no_nul_in(doc, format!("process.args[{i}]"), a)?;
    }
    if !p.cwd().is_absolute() {
        return Err(anyhow!(
            "{doc}: process.cwd {} must be an absolute path",
            crate::logging::go_quote(&p.cwd().to_string_lossy())
        ));
    }
    no_nul_in(doc, "process.cwd", &p.cwd().to_string_lossy())?;
    for (i, e) in p.env().iter().flatten().enumerate() {
        if !e.contains('=') {
            return Err(bad_in(
                doc,
                format!("process.env[{i}]"),
                format!("env entry {e:?} is not KEY=VALUE"),
            ));
        }
        no_nul_in(doc, format!("process.env[{i}]"), e)?;
    }
    let mut seen = Vec::new();
    for (i, r) in p.rlimits().iter().flatten().enumerate() {
        let field = format!("process.rlimits[{i}]");
        if r.soft() > r.hard() {
            return Err(bad_in(
                doc,
                field,
                format!(
                    "rlimit {}: soft limit {} is above hard limit {}",
                    r.typ(),
                    r.soft(),
                    r.hard()
                ),
            ));
        }
        if let Some(j) = seen.iter().position(|t| *t == r.typ()) {
            return Err(bad_in(
                doc,
                format!("{field}.type"),
                format!("{} is already set by process.rlimits[{j}]", r.typ()),
            ));
        }
        seen.push(r.typ());
    }
    if let Some(adj) = p.oom_score_adj() {
        if !(-1000..=1000).contains(&adj) {
            return Err(bad_in(
                doc,
                "process.oomScoreAdj",
                format!("{adj} is out of range (-1000 to 1000)"),
            ));
        }
    }
    if let Some(io) = p.io_priority() {
        // The class is one of three by type; the level must fit its 13 bits
        // and the kernel's 0 to 7.
        let _: IOPriorityClass = io.class();
        if !(0..=7).contains(&io.priority()) {
            return Err(bad_in(
                doc,
                "process.ioPriority.priority",
                format!("{} is out of range (0 to 7)", io.priority()),
            ));
        }
    }
    if let Some(s) = p.scheduler() {
        scheduler(doc, s)?;
    }
    if let Some(a) = p.exec_cpu_affinity() {
        for (field, v) in [("initial", a.initial()), ("final", a.cpu_affinity_final())] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                crate::process::numa::parse_list(v).map_err(|e| {
                    bad_in(
                        doc,
                        format!("process.execCPUAffinity.{field}"),
                        format!("{}: {e}", crate::logging::go_quote(v)),
                    )
                })?;
            }
        }
    }
    for (field, v) in [
        ("process.apparmorProfile", p.apparmor_profile()),
        ("process.selinuxLabel", p.selinux_label()),
    ] {
        if let Some(v) = v {
            no_nul_in(doc, field, v)?;
        }
    }
    Ok(())
}

/// runc's rules (from sched_setattr(2)), and the kernel's ranges.
fn scheduler(doc: &str, s: &oci_spec::runtime::Scheduler) -> Result<()> {
    let policy = *s.policy();
    if let Some(n) = *s.nice() {
        if matches!(policy, P::SchedOther | P::SchedBatch) && !(-20..=19).contains(&n) {
            return Err(bad_in(
                doc,
                "process.scheduler.nice",
                format!("{n} is out of range (-20 to 19)"),
            ));
        }
    }
    let prio = (*s.priority()).unwrap_or(0);
    match policy {
        P::SchedFifo | P::SchedRr if !(1..=99).contains(&prio) => {
            return Err(bad_in(
                doc,
                "process.scheduler.priority",
                format!("{prio} is out of range for {policy:?} (1 to 99)"),
            ))
        }
        P::SchedFifo | P::SchedRr => {}
        _ if prio != 0 => {
            return Err(bad_in(
                doc,
                "process.scheduler.priority",
                "can only be specified for SchedFIFO or SchedRR policy",
            ))
        }
        _ => {}
    }
    let (rt, dl, per) = (
        (*s.runtime()).unwrap_or(0),
        (*s.deadline()).unwrap_or(0),
        (*s.period()).unwrap_or(0),
    );
    if policy != P::SchedDeadline {
        if rt != 0 || dl != 0 || per != 0 {
            return Err(bad_in(
                doc,
                "process.scheduler",
                "runtime/deadline/period can only be specified for SchedDeadline policy",
            ));
        }
    } else {
        // The kernel's rule: 0 < runtime <= deadline <= period (0 period = deadline).
        let per = if per == 0 { dl } else { per };
        if rt == 0 || rt > dl || dl > per {
            return Err(bad_in(
                doc,
                "process.scheduler",
                format!(
                    "SchedDeadline needs 0 < runtime ({rt}) <= deadline ({dl}) <= period ({per})"
                ),
            ));
        }
    }
    Ok(())
}

pub fn mount(i: usize, m: &Mount) -> Result<()> {
    let field = |f: &str| format!("mounts[{i}].{f}");
    let dest = m.destination();
    if dest.as_os_str().is_empty() {
        return Err(bad(field("destination"), "must be set"));
    }
    no_nul_path(field("destination"), dest)?;
    if dest
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        return Err(bad(
            field("destination"),
            format!("{} contains ..", dest.display()),
        ));
    }
    if let Some(t) = m.typ() {
        no_nul(field("type"), t)?;
    }
    if let Some(s) = m.source() {
        no_nul_path(field("source"), s)?;
    }
    let opts = m.options().as_deref().unwrap_or_default();
    let mut bind = m.typ().as_deref() == Some("bind");
    for (j, o) in opts.iter().enumerate() {
        let f = format!("mounts[{i}].options[{j}]");
        if o.is_empty() {
            return Err(bad(f, "empty option"));
        }
        no_nul(&f, o)?;
        bind |= o == "bind" || o == "rbind";
    }
    if bind && m.source().as_ref().is_none_or(|s| s.as_os_str().is_empty()) {
        return Err(bad(field("source"), "a bind mount needs a source"));
    }
    if !bind && m.typ().as_ref().is_none_or(|t| t.is_empty()) {
        return Err(bad(
            field("type"),
            "must be set (or the mount be a bind mount)",
        ));
    }
    Ok(())
}

/// Everything of `linux` that needs no namespace plan (those are in mod.rs).
pub fn linux(l: &oci_spec::runtime::Linux) -> Result<()> {
    for (i, d) in l.devices().iter().flatten().enumerate() {
        let field = |f: &str| format!("linux.devices[{i}].{f}");
        let p = d.path();
        if !p.is_absolute() || p.file_name().is_none() {
            return Err(bad(
                field("path"),
                format!("{} is not an absolute file path", p.display()),
            ));
        }
        no_nul_path(field("path"), p)?;
        if d.typ() == LinuxDeviceType::A {
            return Err(bad(field("type"), "\"a\" is only for cgroup rules"));
        }
        if d.typ() != LinuxDeviceType::P && (d.major() < 0 || d.minor() < 0) {
            return Err(bad(
                field("major"),
                format!("{}:{} is not a device number", d.major(), d.minor()),
            ));
        }
        if let Some(m) = d.file_mode() {
            // The file type bits may be there (Podman sends S_IFCHR|0600); runc ignores them.
            if m & !libc::S_IFMT > 0o7777 {
                return Err(bad(field("fileMode"), format!("{m:#o} is not a mode")));
            }
        }
    }
    let rules = l.resources().as_ref().and_then(|r| r.devices().as_ref());
    for (i, r) in rules.into_iter().flatten().enumerate() {
        let field = |f: &str| format!("linux.resources.devices[{i}].{f}");
        if let Some(t) = r.typ() {
            if !matches!(
                t,
                LinuxDeviceType::A | LinuxDeviceType::B | LinuxDeviceType::C
            ) {
                return Err(bad(
                    field("type"),
                    format!("{t:?} is not a device cgroup type (a, b or c)"),
                ));
            }
        }
        if let Some(a) = r.access() {
            if a.is_empty() || !a.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
                return Err(bad(
                    field("access"),
                    format!("{a:?} is not a set of r, w, m"),
                ));
            }
        }
    }
    for (name, maps) in [
        ("uidMappings", l.uid_mappings()),
        ("gidMappings", l.gid_mappings()),
    ] {
        for (i, m) in maps.iter().flatten().enumerate() {
            let end = |start: u32| start as u64 + m.size() as u64;
            if m.size() == 0 || end(m.container_id()) > 1 << 32 || end(m.host_id()) > 1 << 32 {
                return Err(bad(
                    format!("linux.{name}[{i}]"),
                    format!(
                        "containerID {} hostID {} size {} is not a valid range",
                        m.container_id(),
                        m.host_id(),
                        m.size()
                    ),
                ));
            }
        }
    }
    for (key, value) in l.sysctl().iter().flatten() {
        let field = format!("linux.sysctl[{key:?}]");
        no_nul(&field, key)?;
        no_nul(&field, value)?;
        if key.split(['.', '/']).any(|c| c.is_empty() || c == "..") {
            return Err(bad(field, "is not a sysctl name"));
        }
    }
    for (name, paths) in [
        ("maskedPaths", l.masked_paths()),
        ("readonlyPaths", l.readonly_paths()),
    ] {
        for (i, p) in paths.iter().flatten().enumerate() {
            let field = format!("linux.{name}[{i}]");
            if !p.starts_with('/') {
                return Err(bad(field, format!("{p:?} is not an absolute path")));
            }
            no_nul(field, p)?;
        }
    }
    for clock in l.time_offsets().iter().flatten().map(|(k, _)| k) {
        if clock != "monotonic" && clock != "boottime" {
            return Err(bad(
                format!("linux.timeOffsets[{clock:?}]"),
                "only monotonic and boottime have offsets",
            ));
        }
    }
    for (i, n) in l.namespaces().iter().flatten().enumerate() {
        if let Some(p) = n.path() {
            no_nul_path(format!("linux.namespaces[{i}].path"), p)?;
        }
    }
    if let Some(p) = l.cgroups_path() {
        no_nul_path("linux.cgroupsPath", p)?;
    }
    Ok(())
}

/// hostname and domainname: what sethostname(2) takes.
pub fn names(spec: &Spec) -> Result<()> {
    for (field, v) in [
        ("hostname", spec.hostname()),
        ("domainname", spec.domainname()),
    ] {
        if let Some(v) = v {
            no_nul(field, v)?;
            if v.len() > 64 {
                return Err(bad(field, format!("{} bytes is longer than 64", v.len())));
            }
        }
    }
    Ok(())
}

/// runc's rule: a SELinux label where SELinux is disabled or absent is
/// refused, for the config's process and for `exec --process-label`.
pub fn selinux_label(p: &oci_spec::runtime::Process) -> Result<()> {
    if p.selinux_label().as_deref().is_some_and(|l| !l.is_empty())
        && !std::path::Path::new("/sys/fs/selinux/enforce").exists()
    {
        bail!("selinux label is specified in config, but selinux is disabled or not supported");
    }
    Ok(())
}
