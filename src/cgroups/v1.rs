//! What create and exec need from cgroup v1 on their hot path, written
//! directly: make the container's directory in every hierarchy and move a pid
//! into it, and write the devices allow-list. libcgroups' v1 manager does the
//! same but resolves every controller's mount point with its own mountinfo
//! read (about 550 system calls on a hybrid host); it is still what applies any
//! other resource, only when the config has one.

use super::hierarchy::Hierarchies;
use anyhow::{anyhow, Result};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::path::{Path, PathBuf};

/// `rel` (the cgroupsPath) under `mount`, never above it.
pub fn dir(mount: &Path, rel: &Path) -> PathBuf {
    mount.join(rel.strip_prefix("/").unwrap_or(rel))
}

/// The cpus and mems the config gives a new cpuset cgroup (else its
/// parent's are copied down).
#[derive(Clone, Debug, Default)]
pub struct Cpuset {
    pub cpus: Option<String>,
    pub mems: Option<String>,
}

/// Makes the container's cgroup in every hierarchy: v1 controllers, named
/// ones and (on a hybrid host) cgroup2, as runc does.
pub fn create(h: &Hierarchies, rel: &Path, cpuset: &Cpuset) -> Result<()> {
    for hier in &h.all {
        let d = dir(&hier.mount, rel);
        std::fs::create_dir_all(&d).map_err(|e| anyhow!("create cgroup {}: {e}", d.display()))?;
        if hier.controllers.iter().any(|c| c == "cpuset") {
            fill_cpuset(&hier.mount, rel, cpuset)?;
        }
    }
    Ok(())
}

/// Puts `pid` in the container's cgroup in every hierarchy, made if needed.
pub fn join(h: &Hierarchies, rel: &Path, pid: Pid, cpuset: &Cpuset) -> Result<()> {
    create(h, rel, cpuset)?;
    for hier in &h.all {
        write_procs(&dir(&hier.mount, rel), pid)?;
    }
    Ok(())
}

/// Writing another process's pid to cgroup.procs takes the kernel's global
/// cgroup_threadgroup_rwsem for writing, which waits for an RCU grace period
/// (7 to 15 ms on this VM) unless one is already under way.
pub fn write_procs(dir: &Path, pid: Pid) -> Result<()> {
    std::fs::write(dir.join("cgroup.procs"), pid.to_string())
        .map_err(|e| anyhow!("join cgroup {}: {e}", dir.display()))
}

/// In the process itself: "0" in a v1 `tasks` file moves the calling thread
/// (the whole process, being single-threaded) without that lock.
pub fn join_self(tasks: &[PathBuf]) -> Result<()> {
    for t in tasks {
        std::fs::write(t, "0").map_err(|e| anyhow!("join cgroup {}: {e}", t.display()))?;
    }
    Ok(())
}

/// A new cpuset cgroup starts with empty cpus and mems, and a task cannot join
/// it until they are set: copy them down from the parent, level by level; the
/// container's own get the config's, as runc's cgroup creation does (so the
/// kernel's refusal of them is reported at that step).
fn fill_cpuset(mount: &Path, rel: &Path, cpuset: &Cpuset) -> Result<()> {
    for (file, want) in [("cpuset.cpus", &cpuset.cpus), ("cpuset.mems", &cpuset.mems)] {
        let mut cur = mount.to_path_buf();
        let mut value = read_trimmed(&cur.join(file))?;
        let levels: Vec<_> = rel.strip_prefix("/").unwrap_or(rel).components().collect();
        for (n, c) in levels.iter().enumerate() {
            cur.push(c);
            let p = cur.join(file);
            if let Some(v) = want.as_ref().filter(|_| n + 1 == levels.len()) {
                super::words::write_file(&p, v)?;
                continue;
            }
            let own = read_trimmed(&p)?;
            if own.is_empty() {
                super::words::write_file(&p, &value)?;
            } else {
                value = own;
            }
        }
    }
    Ok(())
}

fn read_trimmed(p: &Path) -> Result<String> {
    std::fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .map_err(|e| anyhow!("read {}: {e}", p.display()))
}

/// Writes the device rules in order, then the devices every container gets
/// (runc's AllowedDevices, the same list libcgroups appends): later rules win.
/// The kernel takes one rule per write(2), so each file is opened once.
pub fn write_devices(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    use std::io::Write;
    let (mut allow, mut deny) = (None, None);
    for r in rules.iter().chain(default_rules().iter()) {
        let (slot, name) = if r.allow() {
            (&mut allow, "devices.allow")
        } else {
            (&mut deny, "devices.deny")
        };
        let file = dir.join(name);
        let line = r.to_string();
        let f = match slot {
            Some(f) => f,
            None => slot.insert(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&file)
                    .map_err(|e| anyhow!("open {}: {e}", file.display()))?,
            ),
        };
        f.write_all(line.as_bytes()).map_err(|e| {
            anyhow!(
                "failed to write {} to {}: {e}",
                crate::logging::go_quote(&line),
                file.display()
            )
        })?;
    }
    Ok(())
}

/// One device rule.
pub fn rule(
    allow: bool,
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(allow);
    r.set_typ(Some(typ));
    r.set_major(major);
    r.set_minor(minor);
    r.set_access(Some(access.to_string()));
    r
}

/// mknod of any block/char device; null, zero, full, random, urandom, tty,
/// ptmx, tun, pts: runc's AllowedDevices, in the order runc's devices.list
/// shows them. No /dev/console (5:1): runc does not allow it either; a
/// terminal container's /dev/console is its pts (136:*).
pub fn default_rules() -> Vec<LinuxDeviceCgroup> {
    use LinuxDeviceType::{B, C};
    let rule = |typ, major, minor, access| rule(true, typ, major, minor, access);
    vec![
        rule(B, None, None, "m"),
        rule(C, None, None, "m"),
        rule(C, Some(1), Some(3), "rwm"),
        rule(C, Some(1), Some(5), "rwm"),
        rule(C, Some(1), Some(7), "rwm"),
        rule(C, Some(1), Some(8), "rwm"),
        rule(C, Some(1), Some(9), "rwm"),
        rule(C, Some(5), Some(0), "rwm"),
        rule(C, Some(5), Some(2), "rwm"),
        rule(C, Some(10), Some(200), "rwm"),
        rule(C, Some(136), None, "rwm"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same lines, in the same order, as runc 1.1.5's devices.list on
    /// this host (hack/diff-runc compares them): the defaults must not drift.
    #[test]
    fn default_rules_match_runc() {
        let lines: Vec<String> = default_rules().iter().map(|r| r.to_string()).collect();
        assert_eq!(
            lines,
            [
                "b *:* m",
                "c *:* m",
                "c 1:3 rwm",
                "c 1:5 rwm",
                "c 1:7 rwm",
                "c 1:8 rwm",
                "c 1:9 rwm",
                "c 5:0 rwm",
                "c 5:2 rwm",
                "c 10:200 rwm",
                "c 136:* rwm",
            ]
        );
    }

    #[test]
    fn dir_stays_under_the_mount() {
        assert_eq!(
            dir(Path::new("/sys/fs/cgroup/cpu"), Path::new("/a/b")),
            PathBuf::from("/sys/fs/cgroup/cpu/a/b")
        );
        assert_eq!(
            dir(Path::new("/m"), Path::new("rel")),
            PathBuf::from("/m/rel")
        );
    }
}
