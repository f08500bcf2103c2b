//! Shared helpers for tong's integration tests: busybox bundles, a config editor,
//! a driver for tong (and runc, for differential tests) with a private `--root`
//! per test, guards that clean up even on panic, and checks that a container left
//! nothing behind.
//!
//! Every test makes one `Ctx`, which owns a work directory under
//! /tmp/tong-it/<test>-<pid>; its Drop force-deletes every container the test
//! created (with both runtimes), unmounts anything left under the work dir and
//! removes it.

#![allow(dead_code)]

use serde_json::{json, Value};
use std::cell::RefCell;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const RUNC: &str = "/usr/sbin/runc";
pub const BUSYBOX: &str = "/bin/busybox";
const DEFAULT_CONFIG: &str = include_str!("../../src/default-config.json");
/// Controllers whose directory must disappear with the container.
pub const CONTROLLERS: &[&str] = &[
    "memory", "pids", "devices", "cpu", "freezer", "blkio", "cpuset",
];
/// How long any single runtime command may take before the test fails.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(30);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Returns early from a test (with a note) when not running as root; in a
/// full run (`TONG_TEST_FULL=1`, as hack/test sets) that is a failure.
#[macro_export]
macro_rules! require_root {
    () => {
        if !tong_testkit::skip::is_root() {
            tong_testkit::skip::skip("this test needs root");
            return;
        }
    };
}

/// Returns early when runc is not installed (a failure in a full run).
#[macro_export]
macro_rules! require_runc {
    () => {
        if !std::path::Path::new($crate::common::RUNC).exists() {
            tong_testkit::skip::skip(&format!("{} not installed", $crate::common::RUNC));
            return;
        }
    };
}

/// Returns early, saying why, for a reason a full run accepts: a fact of
/// the kernel or machine that another stage covers (never a missing tool
/// or privilege). `skip_because!("criu check fails on this kernel")`.
#[macro_export]
macro_rules! skip_because {
    ($($why:tt)+) => {{
        tong_testkit::skip::allowed(&format!($($why)+));
        return;
    }};
}

pub fn tong_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tong"))
}

/// tong built with the `failpoints` feature: `TONG_FAILPOINT_BIN` if set
/// (hack/test or a developer built it), else built once per test process
/// into target/failpoints (a debug build: it only has to behave the same).
pub fn failpoint_bin() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("TONG_FAILPOINT_BIN") {
            return PathBuf::from(p);
        }
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .current_dir(repo)
            .args(["build", "--bin", "tong", "--features", "failpoints"])
            .arg("--target-dir")
            .arg(repo.join("target/failpoints"))
            .args(["--message-format", "json-render-diagnostics"])
            .stderr(Stdio::inherit())
            .output()
            .expect("run cargo build --features failpoints");
        assert!(out.status.success(), "building tong with failpoints failed");
        // The executable of the tong binary, from cargo's artifact messages.
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["reason"] == "compiler-artifact" && v["target"]["name"] == "tong")
            .find_map(|v| v["executable"].as_str().map(PathBuf::from))
            .expect("cargo named no tong executable")
    })
    .clone()
}

// ---------------------------------------------------------------------------
// Output of a command

#[derive(Debug, Clone)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Where the stdout/stderr went (a created container keeps writing there).
    pub out_path: PathBuf,
    pub err_path: PathBuf,
    pub what: String,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.code == 0
    }
    /// Panics with everything known unless the command exited 0.
    pub fn success(self) -> Out {
        assert_eq!(
            self.code, 0,
            "{} failed:\nstdout: {}\nstderr: {}",
            self.what, self.stdout, self.stderr
        );
        self
    }
    /// Panics unless the command failed (non-zero).
    pub fn failure(self) -> Out {
        assert_ne!(
            self.code, 0,
            "{} unexpectedly succeeded:\nstdout: {}\nstderr: {}",
            self.what, self.stdout, self.stderr
        );
        self
    }
    /// Reads the stdout file again (for a container that kept writing).
    pub fn stdout_now(&self) -> String {
        std::fs::read_to_string(&self.out_path).unwrap_or_default()
    }
    pub fn stderr_now(&self) -> String {
        std::fs::read_to_string(&self.err_path).unwrap_or_default()
    }
}

fn code_of(s: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
}

/// Waits for a child with a deadline; kills it (and fails the test) on expiry.
pub fn wait_timeout(child: &mut Child, timeout: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: timed out after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---------------------------------------------------------------------------
// Bundles

pub struct Bundle {
    pub dir: PathBuf,
    pub config: Value,
}

/// The runc default config as tong ships it, with terminal off and `sh` as args.
pub fn default_config() -> Value {
    let mut v: Value = serde_json::from_str(DEFAULT_CONFIG).expect("default config parses");
    v["process"]["terminal"] = json!(false);
    v
}

/// Copies busybox into `rootfs/bin` and links its applets (like hack/mkbundle).
pub fn make_rootfs(rootfs: &Path) {
    tong_testkit::rootfs::make_busybox_rootfs(rootfs)
        .expect("make busybox rootfs (apt-get install busybox-static)");
}

pub fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

impl Bundle {
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn save(&self) {
        std::fs::write(
            self.dir.join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    /// process.args
    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.config["process"]["args"] = json!(args);
        self
    }

    /// process.args = ["sh", "-c", script]
    pub fn sh(&mut self, script: &str) -> &mut Self {
        self.args(&["sh", "-c", script])
    }

    /// Sets a value at a JSON pointer ("/linux/resources/memory"), making
    /// intermediate objects as needed.
    pub fn set(&mut self, pointer: &str, v: Value) -> &mut Self {
        set_pointer(&mut self.config, pointer, v);
        self
    }

    /// Arbitrary edit of the config.
    pub fn edit(&mut self, f: impl FnOnce(&mut Value)) -> &mut Self {
        f(&mut self.config);
        self
    }

    pub fn push_mount(&mut self, m: Value) -> &mut Self {
        self.config["mounts"].as_array_mut().unwrap().push(m);
        self
    }

    pub fn push_namespace(&mut self, ns: Value) -> &mut Self {
        let list = self.config["linux"]["namespaces"].as_array_mut().unwrap();
        let typ = ns["type"].clone();
        list.retain(|n| n["type"] != typ);
        list.push(ns);
        self
    }

    pub fn remove_namespace(&mut self, typ: &str) -> &mut Self {
        self.config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != typ);
        self
    }

    pub fn has_namespace(&self, typ: &str) -> bool {
        self.config["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["type"] == typ)
    }

    /// Makes the config usable in a user namespace mapping container root to
    /// host `host_id` (size ids): no cgroup mount, sysfs as rbind (as runc's rootless spec).
    pub fn userns(&mut self, host_id: u32, size: u32) -> &mut Self {
        self.push_namespace(json!({"type": "user"}));
        self.set(
            "/linux/uidMappings",
            json!([{"containerID": 0, "hostID": host_id, "size": size}]),
        );
        self.set(
            "/linux/gidMappings",
            json!([{"containerID": 0, "hostID": host_id, "size": size}]),
        );
        let mounts = self.config["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| m["destination"] != "/sys/fs/cgroup");
        for m in mounts.iter_mut() {
            if m["type"] == "sysfs" {
                *m = json!({"destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
            }
            if let Some(opts) = m["options"].as_array_mut() {
                opts.retain(|o| o != "gid=5");
            }
        }
        self
    }
}

/// A named edit of a bundle's config (for tables of cases).
pub type Edit = Box<dyn Fn(&mut Bundle)>;

/// The steps of a differential test: (label, exit code) of each.
pub type Steps<'a> = dyn Fn(&Runtime, &str) -> Vec<(String, i32)> + 'a;

pub fn set_pointer(root: &mut Value, pointer: &str, v: Value) {
    tong_testkit::json::set_pointer(root, pointer, v)
}

// ---------------------------------------------------------------------------
// Runtimes

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Tong,
    Runc,
}

/// One runtime binary with a private --root.
pub struct Runtime {
    pub kind: Kind,
    pub bin: PathBuf,
    pub root: PathBuf,
    work: PathBuf,
    ids: RefCell<Vec<String>>,
}

impl Runtime {
    fn io_files(&self, tag: &str) -> (PathBuf, PathBuf) {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let base = self.work.join("io");
        std::fs::create_dir_all(&base).unwrap();
        (
            base.join(format!("{n}-{tag}.out")),
            base.join(format!("{n}-{tag}.err")),
        )
    }

    /// The same runtime (same --root) run from another binary, e.g. the
    /// failpoint build; containers it makes are tracked by `self`.
    pub fn with_bin(&self, bin: PathBuf) -> Runtime {
        Runtime {
            kind: self.kind,
            bin,
            root: self.root.clone(),
            work: self.work.clone(),
            ids: RefCell::new(Vec::new()),
        }
    }

    /// A Command for this runtime with `--root` set (and nothing else).
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root);
        c
    }

    /// Runs a prepared Command (stdin null, output to files), with a timeout.
    pub fn exec(&self, mut c: Command, what: &str) -> Out {
        let (op, ep) = self.io_files(
            &what
                .split_whitespace()
                .next()
                .unwrap_or("cmd")
                .replace('/', "_"),
        );
        c.stdin(Stdio::null())
            .stdout(File::create(&op).unwrap())
            .stderr(File::create(&ep).unwrap());
        let mut child = c
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {:?}: {e}", self.bin));
        let status = wait_timeout(&mut child, CMD_TIMEOUT, what);
        Out {
            code: code_of(status),
            stdout: std::fs::read_to_string(&op).unwrap_or_default(),
            stderr: std::fs::read_to_string(&ep).unwrap_or_default(),
            out_path: op,
            err_path: ep,
            what: format!("{:?} {what}", self.kind),
        }
    }

    /// `RUNTIME --root ROOT args...`
    pub fn cmd(&self, args: &[&str]) -> Out {
        let mut c = self.command();
        c.args(args);
        self.exec(c, &args.join(" "))
    }

    /// Same, with global flags before the command (e.g. --log).
    pub fn cmd_global(&self, global: &[&str], args: &[&str]) -> Out {
        let mut c = self.command();
        c.args(global).args(args);
        self.exec(c, &args.join(" "))
    }

    pub fn track(&self, id: &str) {
        let mut ids = self.ids.borrow_mut();
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_string());
        }
    }

    /// `create --bundle B [extra] ID`; the container's stdio goes to Out's files.
    pub fn create(&self, b: &Bundle, id: &str, extra: &[&str]) -> Out {
        b.save();
        self.track(id);
        let mut args = vec!["create", "--bundle", b.dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(id);
        self.cmd(&args)
    }

    /// `run --bundle B [extra] ID` in the foreground; returns once it exits.
    pub fn run(&self, b: &Bundle, id: &str, extra: &[&str]) -> Out {
        b.save();
        self.track(id);
        let mut args = vec!["run", "--bundle", b.dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(id);
        self.cmd(&args)
    }

    /// `run -d`: the container keeps writing to Out's files.
    pub fn run_detached(&self, b: &Bundle, id: &str) -> Out {
        self.run(b, id, &["-d"])
    }

    pub fn start(&self, id: &str) -> Out {
        self.cmd(&["start", id])
    }

    pub fn state(&self, id: &str) -> Value {
        let o = self.cmd(&["state", id]).success();
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("state JSON {e}: {}", o.stdout))
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_string()
    }

    pub fn pid(&self, id: &str) -> i32 {
        self.state(id)["pid"].as_i64().unwrap() as i32
    }

    pub fn kill(&self, id: &str, sig: &str) -> Out {
        self.cmd(&["kill", id, sig])
    }

    pub fn delete(&self, id: &str) -> Out {
        self.cmd(&["delete", id])
    }

    pub fn delete_force(&self, id: &str) -> Out {
        self.cmd(&["delete", "--force", id])
    }

    pub fn list_json(&self) -> Value {
        let o = self.cmd(&["list", "--format", "json"]).success();
        serde_json::from_str(o.stdout.trim())
            .unwrap_or_else(|e| panic!("list JSON {e}: {}", o.stdout))
    }

    /// Polls `state` until the status is `want` (panics after `timeout`).
    pub fn wait_status(&self, id: &str, want: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.status(id);
            if s == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{id}: status {s}, wanted {want} within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn wait_stopped(&self, id: &str) {
        self.wait_status(id, "stopped", Duration::from_secs(20));
    }

    /// create + start + wait until stopped; returns the container's stdout.
    /// The container is deleted afterwards.
    pub fn output_of(&self, b: &Bundle, id: &str) -> String {
        let o = self.run(b, id, &[]);
        assert_eq!(
            o.code,
            0,
            "{} run {id}: stdout {} stderr {}",
            self.bin.display(),
            o.stdout,
            o.stderr
        );
        o.stdout
    }

    pub fn state_dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }
}

// ---------------------------------------------------------------------------
// Per-test context

pub struct Ctx {
    pub name: String,
    pub work: PathBuf,
    pub tong: Runtime,
    pub runc: Runtime,
    nbundle: RefCell<usize>,
    /// Extra cgroup directories (parents of nested cgroupsPaths) to rmdir at the end.
    pub cgroup_parents: RefCell<Vec<String>>,
}

impl Ctx {
    pub fn new(name: &str) -> Ctx {
        // Root's tests share /tmp/tong-it (mode 755: mapped users must traverse
        // it); a non-root run (only the tests that need no root) gets its own.
        let uid = nix::unistd::geteuid().as_raw();
        let base = if uid == 0 {
            PathBuf::from("/tmp/tong-it")
        } else {
            PathBuf::from(format!("/tmp/tong-it-{uid}"))
        };
        let work = base.join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).unwrap();
        set_mode(&base, 0o755);
        let rt = |kind, bin: PathBuf, sub: &str| Runtime {
            kind,
            bin,
            root: work.join(sub),
            work: work.clone(),
            ids: RefCell::new(Vec::new()),
        };
        Ctx {
            name: name.to_string(),
            tong: rt(Kind::Tong, tong_bin(), "root-tong"),
            runc: rt(Kind::Runc, PathBuf::from(RUNC), "root-runc"),
            work,
            nbundle: RefCell::new(0),
            cgroup_parents: RefCell::new(Vec::new()),
        }
    }

    /// A unique container id for this test: `t-<name>-<pid>[-suffix]`.
    pub fn id(&self, suffix: &str) -> String {
        let base = format!("t-{}-{}", self.name, std::process::id());
        if suffix.is_empty() {
            base
        } else {
            format!("{base}-{suffix}")
        }
    }

    /// A fresh busybox bundle (rootfs + default config, terminal off).
    pub fn bundle(&self, script: &str) -> Bundle {
        let n = {
            let mut n = self.nbundle.borrow_mut();
            *n += 1;
            *n
        };
        let dir = self.work.join(format!("bundle{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        make_rootfs(&dir.join("rootfs"));
        let mut b = Bundle {
            dir,
            config: default_config(),
        };
        b.sh(script);
        b.save();
        b
    }

    /// A directory in the work dir (outside any bundle).
    pub fn dir(&self, name: &str) -> PathBuf {
        let d = self.work.join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    pub fn rt(&self, k: Kind) -> &Runtime {
        match k {
            Kind::Tong => &self.tong,
            Kind::Runc => &self.runc,
        }
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        for rt in [&self.tong, &self.runc] {
            for id in rt.ids.borrow().iter() {
                let mut c = rt.command();
                c.args(["delete", "--force", id])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                if let Ok(mut child) = c.spawn() {
                    let deadline = Instant::now() + Duration::from_secs(20);
                    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
        for p in self.cgroup_parents.borrow().iter().rev() {
            for d in tong_testkit::cgroups::dirs_of(p) {
                let _ = std::fs::remove_dir(d);
            }
        }
        // Never rm -rf through a mount (a leaked bind of a host dir): detach first.
        tong_testkit::fsutil::safe_remove(&self.work);
    }
}

// ---------------------------------------------------------------------------
// Host-side checks

pub use tong_testkit::mountinfo::MountEntry;

/// Mount points of the calling (host) mount namespace, unescaped.
pub fn mount_points() -> Vec<String> {
    tong_testkit::mountinfo::mount_points()
}

pub fn mountinfo_lines(path: &str) -> Vec<String> {
    tong_testkit::mountinfo::lines(path)
}

pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    tong_testkit::mountinfo::parse(text)
}

/// The last mount at `point` (the visible one).
pub fn find_mount<'a>(m: &'a [MountEntry], point: &str) -> Option<&'a MountEntry> {
    tong_testkit::mountinfo::find(m, point)
}

/// The directory of cgroupsPath `path` for controller `ctrl`: its v1
/// hierarchy (/sys/fs/cgroup/CTRL, as mounted here), else the cgroup2 one.
pub fn cgroup_dir(ctrl: &str, path: &str) -> PathBuf {
    let v1 = Path::new("/sys/fs/cgroup").join(ctrl);
    if v1.is_dir() {
        return v1.join(path.trim_start_matches('/'));
    }
    tong_testkit::cgroups::dir_for(ctrl, path)
}

/// Whether pid is alive (not a zombie).
pub fn alive(pid: i32) -> bool {
    tong_testkit::procs::alive(pid)
}

/// Pids (other than ours) with an argument equal to `needle` or containing it as
/// a path component (so that id "t-x-1" does not match "t-x-1-2").
pub fn processes_mentioning(needle: &str) -> Vec<(i32, String)> {
    tong_testkit::procs::mentioning(needle)
}

/// What a container may leave behind; checked by `assert_clean`.
pub struct Leftovers<'a> {
    pub rt: &'a Runtime,
    pub id: &'a str,
    pub bundle: Option<&'a Path>,
    pub cgroup: Option<String>,
    pub pids: Vec<i32>,
}

/// Asserts that nothing of container `id` remains: no state dir, no cgroup dir
/// in any v1 controller (nor unified), no mount mentioning the bundle, no listed
/// pid alive and no process whose command line mentions the id.
pub fn assert_clean(l: Leftovers) {
    // Processes may take a moment to be reaped after a failed create.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let procs = processes_mentioning(l.id);
        let live: Vec<i32> = l
            .pids
            .iter()
            .copied()
            .filter(|p| *p > 0 && alive(*p))
            .collect();
        if procs.is_empty() && live.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{}: processes remain: {procs:?}, pids alive: {live:?}",
            l.id
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let dir = l.rt.state_dir(l.id);
    assert!(
        !dir.exists(),
        "{}: state dir {} remains",
        l.id,
        dir.display()
    );
    let cg = l.cgroup.clone().unwrap_or_else(|| format!("/{}", l.id));
    // Every hierarchy the host has mounted (v1 controllers, named, cgroup2).
    let left = tong_testkit::cgroups::existing(&cg);
    assert!(left.is_empty(), "{}: cgroups remain: {left:?}", l.id);
    if let Some(b) = l.bundle {
        let b = b.to_string_lossy().to_string();
        let left: Vec<String> = mountinfo_lines("/proc/self/mountinfo")
            .into_iter()
            .filter(|m| m.contains(&b))
            .collect();
        assert!(left.is_empty(), "{}: mounts remain: {left:#?}", l.id);
    }
}

/// Shorthand: clean with default cgroup path.
pub fn assert_clean_simple(rt: &Runtime, id: &str, b: &Bundle, pids: &[i32]) {
    assert_clean(Leftovers {
        rt,
        id,
        bundle: Some(&b.dir),
        cgroup: None,
        pids: pids.to_vec(),
    });
}

/// `readlink /proc/<pid>/ns/<ns>`
pub fn ns_link(pid: &str, ns: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .map(|p| p.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// Polls until `f` returns true (panics after `timeout`).
pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Spawns `RUNTIME run` in the foreground without waiting (for signal tests).
pub fn spawn_run(rt: &Runtime, b: &Bundle, id: &str, extra: &[&str]) -> (Child, PathBuf, PathBuf) {
    b.save();
    rt.track(id);
    let (op, ep) = rt.io_files("run-bg");
    let mut c = rt.command();
    c.arg("run").arg("--bundle").arg(&b.dir).args(extra).arg(id);
    c.stdin(Stdio::null())
        .stdout(File::create(&op).unwrap())
        .stderr(File::create(&ep).unwrap());
    // Its own process group so a test's signals hit only it.
    c.process_group(0);
    (c.spawn().unwrap(), op, ep)
}

/// A host executable shell script at `path`.
pub fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    set_mode(path, 0o755);
}

/// Lines of /proc/<pid>/status as (key, value).
pub fn status_field(status: &str, key: &str) -> Option<String> {
    status.lines().find_map(|l| {
        l.strip_prefix(&format!("{key}:"))
            .map(|v| v.trim().to_string())
    })
}

// ---------------------------------------------------------------------------
// Helpers for the ops/resources tests (exec, ps, pause, update, events).

/// Reads a cgroup v1 file of `ctrl` for `cgroups_path`, trimmed (None if absent).
pub fn cg_read(ctrl: &str, cgroups_path: &str, file: &str) -> Option<String> {
    std::fs::read_to_string(cgroup_dir(ctrl, cgroups_path).join(file))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Whether a fresh child cgroup of v1 controller `ctrl` has `file` (the kernel
/// and hierarchy offer it). A probe directory is made and removed.
pub fn cg_kernel_offers(ctrl: &str, file: &str) -> bool {
    let base = Path::new("/sys/fs/cgroup").join(ctrl);
    if !base.join("cgroup.procs").exists() {
        return false;
    }
    let probe = base.join(format!(
        "tong-probe-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    if std::fs::create_dir(&probe).is_err() {
        return false;
    }
    let has = probe.join(file).exists();
    let _ = std::fs::remove_dir(&probe);
    has
}

/// A unix socket that receives one pty master over SCM_RIGHTS (like runc's
/// recvtty): `ConsoleReceiver::bind(path)`, pass the path as --console-socket,
/// then `recv()` the master fd. Panics where testkit's returns an error.
pub struct ConsoleReceiver {
    pub path: PathBuf,
    inner: tong_testkit::console::ConsoleReceiver,
}

impl ConsoleReceiver {
    pub fn bind(path: &Path) -> ConsoleReceiver {
        let inner =
            tong_testkit::console::ConsoleReceiver::bind(path).expect("bind console socket");
        ConsoleReceiver {
            path: path.to_path_buf(),
            inner,
        }
    }

    /// Accepts one connection (within `timeout`) and returns the fd it carries.
    pub fn recv(&self, timeout: Duration) -> std::os::fd::OwnedFd {
        self.inner.recv(timeout).expect("console socket")
    }
}

/// Reads a pty master until `needle` shows up, EOF/EIO, or `timeout`; returns
/// what was read.
pub fn read_pty_until(master: std::os::fd::OwnedFd, needle: &str, timeout: Duration) -> String {
    tong_testkit::console::read_pty(master, Some(needle), timeout)
}

/// Runs `cmd` with the given files installed at fds 3, 4, … (not CLOEXEC),
/// like a caller passing --preserve-fds.
pub fn with_fds(c: &mut Command, files: &[&File]) {
    use std::os::fd::AsRawFd;
    let raws: Vec<i32> = files.iter().map(|f| f.as_raw_fd()).collect();
    // SAFETY: only async-signal-safe fcntl/dup2/close calls in the child.
    unsafe {
        c.pre_exec(move || {
            let mut tmp = Vec::with_capacity(raws.len());
            for r in &raws {
                let x = libc::fcntl(*r, libc::F_DUPFD, 100);
                if x < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                tmp.push(x);
            }
            for (i, x) in tmp.iter().enumerate() {
                if libc::dup2(*x, 3 + i as i32) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(*x);
            }
            Ok(())
        });
    }
}

/// The parent pid of `pid` (from /proc/<pid>/stat).
pub fn ppid_of(pid: i32) -> Option<i32> {
    tong_testkit::procs::ppid_of(pid)
}

/// Host pids listed in cgroup.procs of `ctrl` for a cgroupsPath (recursively).
pub fn cg_procs(ctrl: &str, cgroups_path: &str) -> Vec<i32> {
    tong_testkit::cgroups::procs_below(&cgroup_dir(ctrl, cgroups_path))
}

/// Reads a pid file (waits up to 5 s for it to be non-empty).
pub fn read_pid_file(p: &Path) -> i32 {
    let mut last = String::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        last = std::fs::read_to_string(p).unwrap_or_default();
        if let Ok(n) = last.trim().parse() {
            return n;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("pid file {} holds {last:?}", p.display());
}
