//! Container state on disk: `ROOT/ID/state.json`, written atomically, read under a
//! per-container flock; the live status is derived from the init process and the
//! start socket, never trusted from the file alone. Every JSON form of the state
//! is made here: state.json, `state`'s output and the state hooks read on stdin.

use crate::paths::{self, START_SOCK, STATE_FILE};
use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::Hooks;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

pub use crate::status::Status;

/// What tong records about a container. The hooks are kept so that start and
/// delete never re-read the bundle.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct State {
    pub id: String,
    pub oci_version: String,
    pub pid: i32,
    /// Field 22 of /proc/PID/stat, to detect pid reuse.
    pub pid_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// The cgroupsPath in use, as given to libcgroups.
    pub cgroup_path: PathBuf,
    /// --systemd-cgroup: the transient scope holding `cgroup_path`
    /// (update sets its properties, delete stops it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd: Option<crate::cgroups::Scope>,
    /// Whether this container created its cgroup (and so removes it on delete).
    #[serde(default)]
    pub owns_cgroup: bool,
    #[serde(default)]
    pub hooks: Option<Hooks>,
    /// Set once the init reported ready; a crash before leaves `creating`.
    pub created_ok: bool,
    /// The config's process: the template `exec` starts from.
    #[serde(default)]
    pub process: Option<oci_spec::runtime::Process>,
    /// The namespace types the container has (joined or new), for `exec`.
    #[serde(default)]
    pub namespaces: Vec<oci_spec::runtime::LinuxNamespaceType>,
    #[serde(default)]
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
    /// linux.personality and linux.memoryPolicy: every exec'd process too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personality: Option<oci_spec::runtime::LinuxPersonality>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_policy: Option<oci_spec::runtime::LinuxMemoryPolicy>,
    /// The resctrl group of linux.intelRdt (exec'd processes join it), and
    /// whether `create` made it (then `delete` removes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intel_rdt: Option<PathBuf>,
    #[serde(default)]
    pub owns_intel_rdt: bool,
}

/// runc's `state` output, field for field and in its order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState<'a> {
    pub oci_version: &'a str,
    pub id: &'a str,
    pub pid: i32,
    pub status: Status,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    pub owner: &'a str,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: &'a HashMap<String, String>,
}

impl State {
    /// The state a hook reads on stdin (runtime-spec "State"), also what the
    /// seccomp agent gets: `pid` and `status` as of the moment it runs.
    pub fn hook_json(&self, status: Status, pid: i32) -> String {
        hook_json(
            &self.oci_version,
            &self.id,
            status,
            pid,
            &self.bundle,
            &self.annotations,
        )
    }
}

/// The hooks' state from its parts: the init builds the same JSON from its
/// plan (a state with big annotations does not fit in a sync message).
pub fn hook_json(
    oci_version: &str,
    id: &str,
    status: Status,
    pid: i32,
    bundle: &Path,
    annotations: &HashMap<String, String>,
) -> String {
    // runtime-spec's State as runc encodes it: its field order, pid and
    // annotations left out when empty, annotations sorted (a Go map).
    #[derive(Serialize)]
    struct HookState<'a> {
        #[serde(rename = "ociVersion")]
        oci_version: &'a str,
        id: &'a str,
        status: Status,
        #[serde(skip_serializing_if = "is_zero")]
        pid: i32,
        bundle: &'a Path,
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        annotations: BTreeMap<&'a String, &'a String>,
    }
    fn is_zero(p: &i32) -> bool {
        *p == 0
    }
    serde_json::to_string(&HookState {
        oci_version,
        id,
        status,
        pid,
        bundle,
        annotations: annotations.iter().collect(),
    })
    .unwrap_or_default()
}

/// Now, as runc records `created`: Go's RFC3339Nano (UTC, the fraction
/// without trailing zeros).
pub fn now_rfc3339_nano() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let s = crate::logging::rfc3339(d.as_secs() as i64, Some(d.subsec_nanos()));
    let (head, frac) = s.trim_end_matches('Z').split_once('.').unwrap_or((&s, ""));
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{head}Z")
    } else {
        format!("{head}.{frac}Z")
    }
}

/// One container in `list --format json`, runc's fields in runc's order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListEntry {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: String,
    pub bundle: String,
    pub rootfs: String,
    pub created: String,
    pub owner: String,
}

/// A container directory and its state; flocked for as long as it lives,
/// except when read with `peek`.
pub struct Container {
    pub dir: PathBuf,
    pub state: State,
    _lock: Option<File>,
    /// Seen by `peek`: another process held the lock of this half-made
    /// container, i.e. its create is still at work (`list` must show it as
    /// `creating`, not `stopped`: a daemon deletes stopped containers).
    create_running: bool,
}

fn read_state(dir: &Path) -> Result<State> {
    let path = dir.join(STATE_FILE);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        // Deleted while we waited for the lock, or never there.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(NotExist.into()),
        Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
    };
    parse_state(&data, dir)
}

/// state.json's contents (of container dir `dir`); unparseable is `Corrupt`.
pub fn parse_state(data: &[u8], dir: &Path) -> Result<State> {
    serde_json::from_slice(data).map_err(|e| {
        anyhow!(Corrupt {
            dir: dir.to_path_buf(),
            why: format!("{}: {e}", dir.join(STATE_FILE).display())
        })
    })
}

/// Whether another process holds the lock of container dir `dir` (checked,
/// not waited for).
fn locked_elsewhere(dir: &Path) -> bool {
    let Ok(f) = File::open(dir) else {
        return false;
    };
    // SAFETY: flock on an fd we own; closing it releases what we got.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EWOULDBLOCK)
}

fn lock_dir(dir: &Path) -> std::io::Result<File> {
    let f = File::open(dir)?;
    // SAFETY: flock on an fd we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(f)
}

impl Container {
    /// Makes the state directory, refusing an id that exists. The directory is
    /// made before anything else so a duplicate id fails before any side effect.
    pub fn create_dir(root: &Path, state: State) -> Result<Container> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("create state root {}", root.display()))?;
        let dir = paths::container_dir(root, &state.id);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            // runc's words (libcontainer's ErrExist), which users and
            // tools search for.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // runc's words (libcontainer's ErrExist)
                bail!("container with given ID already exists")
            }
            Err(e) => return Err(e).with_context(|| format!("create {}", dir.display())),
        }
        // Killed here, create leaves a directory without state.json
        // (`delete --force` removes it); failing here, it removes it itself.
        let locked = (|| -> Result<Container> {
            crate::failpoint!("create.mkdir");
            let lock = lock_dir(&dir).with_context(|| format!("lock {}", dir.display()))?;
            let c = Container {
                dir: dir.clone(),
                state,
                _lock: Some(lock),
                create_running: false,
            };
            c.save()?;
            Ok(c)
        })();
        if locked.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        locked
    }

    /// Opens and locks an existing container.
    pub fn load(root: &Path, id: &str) -> Result<Container> {
        paths::validate_id(id)?;
        let dir = paths::container_dir(root, id);
        let lock = match lock_dir(&dir) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(NotExist.into()),
            Err(e) => return Err(e).with_context(|| format!("lock {}", dir.display())),
        };
        let state = read_state(&dir)?;
        Ok(Container {
            dir,
            state,
            _lock: Some(lock),
            create_running: false,
        })
    }

    /// Reads a container without taking its lock, for `list`: state.json is
    /// only ever replaced whole (rename), so a reader sees an old or a new
    /// state, never half of one, and a busy container does not hold up the
    /// listing of the others.
    pub fn peek(root: &Path, id: &str) -> Result<Container> {
        paths::validate_id(id)?;
        let dir = paths::container_dir(root, id);
        let mut state = read_state(&dir)?;
        // Half-made: a create holding the lock is still at work; one that
        // let go since we read has finished, and its new state is the one
        // to show.
        let mut create_running = false;
        if !state.created_ok {
            create_running = locked_elsewhere(&dir);
            if !create_running {
                state = read_state(&dir)?;
            }
        }
        Ok(Container {
            dir,
            state,
            _lock: None,
            create_running,
        })
    }

    /// Writes state.json through a temp file and rename, so a reader never sees
    /// half a file.
    pub fn save(&self) -> Result<()> {
        let tmp = self.dir.join(".state.json.tmp");
        let data = serde_json::to_vec(&self.state)?;
        let mut f = File::create(&tmp).with_context(|| format!("write {}", tmp.display()))?;
        f.write_all(&data)?;
        drop(f);
        std::fs::rename(&tmp, self.dir.join(STATE_FILE))
            .with_context(|| format!("rename {}", tmp.display()))?;
        Ok(())
    }

    /// A one-line copy of what `delete --force` needs (pid, start time, cgroup)
    /// in case state.json is ever unreadable.
    pub fn save_recovery(&self) -> Result<()> {
        let s = &self.state;
        let line = format!(
            "{} {} {}\n",
            s.pid,
            s.pid_start_time,
            s.cgroup_path.display()
        );
        std::fs::write(self.dir.join(RECOVERY_FILE), line).context("write recovery record")
    }

    /// Closes our handle on the lock (a forked child's copy must not keep
    /// the container locked after the parent exits).
    pub fn unlock(&mut self) {
        self._lock = None;
    }

    pub fn start_sock_path(&self) -> PathBuf {
        self.dir.join(START_SOCK)
    }

    /// The live status: stopped once the init is gone (or its pid was reused),
    /// paused when the cgroup is frozen, created while the start socket waits.
    pub fn status(&self) -> Status {
        if !self.state.created_ok {
            // Half-made: creating while its init lives or (seen by `peek`)
            // while its create still holds the lock, before the init has a
            // pid; otherwise the create died half-way.
            return if self.init_alive() || self.create_running {
                Status::Creating
            } else {
                Status::Stopped
            };
        }
        if !self.init_alive() {
            return Status::Stopped;
        }
        // Frozen first, as runc: a created container can be paused too.
        if crate::cgroups::is_frozen(&self.state.cgroup_path) {
            return Status::Paused;
        }
        if self.start_sock_path().exists() {
            return Status::Created;
        }
        Status::Running
    }

    pub fn init_alive(&self) -> bool {
        self.state.pid > 0 && process_matches(self.state.pid, self.state.pid_start_time)
    }

    pub fn oci_state(&self) -> OciState<'_> {
        let status = self.status();
        let s = &self.state;
        OciState {
            oci_version: &s.oci_version,
            id: &s.id,
            pid: if status == Status::Stopped { 0 } else { s.pid },
            status,
            bundle: &s.bundle,
            rootfs: &s.rootfs,
            created: &s.created,
            // runc's `state` leaves owner empty (only `list` fills it in).
            owner: "",
            annotations: &s.annotations,
        }
    }

    /// This container as `list` shows it; `owner` is the state dir's owner.
    pub fn list_entry(&self, owner: String) -> ListEntry {
        let s = self.oci_state();
        ListEntry {
            oci_version: s.oci_version.to_string(),
            id: s.id.to_string(),
            pid: s.pid,
            status: s.status.to_string(),
            bundle: s.bundle.display().to_string(),
            rootfs: s.rootfs.display().to_string(),
            created: s.created.to_string(),
            owner,
        }
    }

    pub fn remove_dir(&self) -> Result<()> {
        match std::fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("remove {}", self.dir.display()))
            }
            _ => Ok(()),
        }
    }
}

/// The id names no container (runc's words, which podman and the shim look for).
#[derive(Debug)]
pub struct NotExist;
impl std::fmt::Display for NotExist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("container does not exist")
    }
}
impl std::error::Error for NotExist {}

pub const RECOVERY_FILE: &str = "recovery";

/// Reads the recovery record: (pid, start time, cgroup path).
pub fn read_recovery(dir: &Path) -> Option<(i32, u64, PathBuf)> {
    let text = std::fs::read_to_string(dir.join(RECOVERY_FILE)).ok()?;
    let mut it = text.trim_end().splitn(3, ' ');
    Some((
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        PathBuf::from(it.next()?),
    ))
}

/// What `delete --force` can still learn about a container whose state.json
/// is unreadable (corrupt, emptied, or never written by a create that was
/// killed): the recovery record; else whatever fields of state.json (or of
/// the temp file a killed save left) still parse; else the default cgroup.
pub fn salvage(dir: &Path, id: &str) -> (i32, u64, PathBuf) {
    if let Some(r) = read_recovery(dir) {
        return r;
    }
    for name in [STATE_FILE, ".state.json.tmp"] {
        let Ok(text) = std::fs::read_to_string(dir.join(name)) else {
            continue;
        };
        if let Some(cg) = salvage_field(&text, "cgroup_path")
            .and_then(|v| v.as_str().map(PathBuf::from))
            .filter(|c| !c.as_os_str().is_empty())
        {
            let num = |k| salvage_field(&text, k).and_then(|v| v.as_u64());
            let pid = num("pid").and_then(|p| i32::try_from(p).ok());
            return (pid.unwrap_or(0), num("pid_start_time").unwrap_or(0), cg);
        }
    }
    (0, 0, PathBuf::from(format!("/{id}")))
}

/// The value of top-level field `key` in a state.json that may be cut short
/// (its fields are written in a fixed order: an early one survives a
/// truncation). Only the annotations object holds keys the config chose, so
/// it is skipped whole, never searched: an annotation named `cgroup_path`
/// must not send `delete --force` to another cgroup. (Inside JSON strings a
/// quote is escaped, so `"key":` can only be a key.)
fn salvage_field(text: &str, key: &str) -> Option<serde_json::Value> {
    const ANN: &str = "\"annotations\":";
    let (head, tail) = match text.find(ANN) {
        Some(i) => {
            let rest = &text[i + ANN.len()..];
            let mut it = serde_json::Deserializer::from_str(rest).into_iter::<serde_json::Value>();
            match it.next() {
                Some(Ok(_)) => (&text[..i], &rest[it.byte_offset()..]),
                // Cut inside the annotations: nothing after them survived.
                _ => (&text[..i], ""),
            }
        }
        None => (text, ""),
    };
    let pat = format!("\"{key}\":");
    let at = [head, tail]
        .into_iter()
        .find_map(|t| t.find(&pat).map(|i| &t[i + pat.len()..]))?;
    serde_json::Deserializer::from_str(at)
        .into_iter::<serde_json::Value>()
        .next()?
        .ok()
}

/// state.json could not be parsed; `delete --force` still removes the directory.
#[derive(Debug)]
pub struct Corrupt {
    pub dir: PathBuf,
    pub why: String,
}
impl std::fmt::Display for Corrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "corrupt container state {}", self.why)
    }
}
impl std::error::Error for Corrupt {}

/// Field 22 (starttime) of /proc/PID/stat, or None if the process is gone or a zombie.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = crate::mountinfo::read_proc(&format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // starttime is field 22; `state` was field 3.
    fields.nth(18)?.parse().ok()
}

pub fn process_matches(pid: i32, start: u64) -> bool {
    start_time(pid) == Some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salvage_reads_a_truncated_state() {
        let full = r#"{"id":"c","oci_version":"1.0","pid":42,"pid_start_time":7,"bundle":"/b","rootfs":"/r","created":"x","annotations":{"cgroup_path":"/no"},"cgroup_path":"/a/c","owns_cgroup":true,"hooks":null"#;
        let cut = &full[..full.find("\"owns").unwrap()];
        assert_eq!(salvage_field(cut, "pid"), Some(serde_json::json!(42)));
        assert_eq!(
            salvage_field(cut, "cgroup_path"),
            Some(serde_json::json!("/a/c")),
            "an annotation's key is never taken for a field"
        );
        let dir = std::env::temp_dir().join(format!("tong-salvage-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(STATE_FILE),
            &full[..full.find("\"annotations").unwrap()],
        )
        .unwrap();
        assert_eq!(salvage(&dir, "c"), (0, 0, PathBuf::from("/c")));
        std::fs::write(dir.join(STATE_FILE), cut).unwrap();
        assert_eq!(salvage(&dir, "c"), (42, 7, PathBuf::from("/a/c")));
        let in_ann = &full[..full.find("/no").unwrap()];
        std::fs::write(dir.join(STATE_FILE), in_ann).unwrap();
        assert_eq!(salvage(&dir, "c"), (0, 0, PathBuf::from("/c")));
        std::fs::write(dir.join(RECOVERY_FILE), "5 6 /r/c\n").unwrap();
        assert_eq!(salvage(&dir, "c"), (5, 6, PathBuf::from("/r/c")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn start_time_of_self_is_stable_and_others_differ() {
        let me = std::process::id() as i32;
        let t = start_time(me).expect("own start time");
        assert_eq!(start_time(me), Some(t));
        assert!(process_matches(me, t));
        assert!(!process_matches(me, t + 1));
        assert_eq!(start_time(i32::MAX), None);
    }
}
