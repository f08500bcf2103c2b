//! Test harness: bundle builder, runtime driver (with timeouts), per-test context
//! with cleanup guard, and the verdict type tests return.

use serde_json::{json, Value};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Why a test did not pass.
#[derive(Debug, Clone)]
pub enum Verdict {
    Fail(String),
    Skip(String),
}

pub type TResult = Result<(), Verdict>;

impl From<std::io::Error> for Verdict {
    fn from(e: std::io::Error) -> Self {
        Verdict::Fail(format!("io error: {e}"))
    }
}

#[macro_export]
macro_rules! fail {
    ($($t:tt)*) => { return Err($crate::harness::Verdict::Fail(format!($($t)*))) };
}
#[macro_export]
macro_rules! skip {
    ($($t:tt)*) => { return Err($crate::harness::Verdict::Skip(format!($($t)*))) };
}
#[macro_export]
macro_rules! ensure {
    ($c:expr, $($t:tt)*) => {{ let ok: bool = $c; if !ok { $crate::fail!($($t)*) } }};
}

/// One registered test.
#[derive(Clone)]
pub struct Test {
    pub name: &'static str,
    pub f: fn(&mut Ctx) -> TResult,
}

pub fn t(name: &'static str, f: fn(&mut Ctx) -> TResult) -> Test {
    Test { name, f }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A process-wide unique number.
pub fn next_n() -> usize {
    COUNTER.fetch_add(1, Ordering::SeqCst)
}

/// Settings shared by every test of a run.
#[derive(Clone, Debug)]
pub struct Env {
    pub runtime: PathBuf,
    pub workdir: PathBuf,
    pub base_rootfs: PathBuf,
    pub timeout: Duration,
    pub keep: bool,
    /// `--rootless`: run as an unprivileged user, bundles made with the
    /// rootless config ([`to_rootless`]), state roots under `state_base`.
    pub rootless: bool,
    /// Where each test's `--root` directory goes: the work directory, or
    /// rootless, `$XDG_RUNTIME_DIR/tong-conformance-<pid>-<n>`.
    pub state_base: PathBuf,
}

pub const BUSYBOX: &str = tong_testkit::rootfs::BUSYBOX;

impl Env {
    /// Create the work directory and the shared busybox rootfs template.
    pub fn new(
        runtime: PathBuf,
        workdir: Option<PathBuf>,
        timeout: Duration,
        keep: bool,
        rootless: bool,
    ) -> std::io::Result<Env> {
        let runtime = if runtime.is_relative() && runtime.components().count() > 1 {
            std::env::current_dir()?.join(runtime)
        } else {
            runtime
        };
        let workdir = workdir.unwrap_or_else(|| {
            std::env::temp_dir().join(format!(
                "tong-conformance-{}-{}",
                std::process::id(),
                next_n()
            ))
        });
        fs::create_dir_all(&workdir)?;
        let base_rootfs = workdir.join("base-rootfs");
        if !base_rootfs.join("bin/busybox").exists() {
            make_base_rootfs(&base_rootfs)?;
        }
        let state_base = if rootless {
            let xdg = std::env::var_os("XDG_RUNTIME_DIR")
                .filter(|x| !x.is_empty())
                .ok_or_else(|| std::io::Error::other("--rootless needs XDG_RUNTIME_DIR"))?;
            let d = PathBuf::from(xdg).join(format!("tc-{}-{}", std::process::id(), next_n()));
            fs::create_dir_all(&d)?;
            d
        } else {
            workdir.clone()
        };
        Ok(Env {
            runtime,
            workdir,
            base_rootfs,
            timeout,
            keep,
            rootless,
            state_base,
        })
    }

    pub fn cleanup(&self) {
        if !self.keep {
            safe_remove(&self.workdir);
            if self.state_base != self.workdir {
                safe_remove(&self.state_base);
            }
        }
    }
}

/// Remove cgroups named after this run's containers (`conf-*-<pid>-*` or
/// `conf-<pid>-*`) that a runtime left behind, killing stray processes in
/// them first. Returns what was found.
pub fn sweep_cgroups() -> Vec<String> {
    let pid = std::process::id().to_string();
    // conf-<pid>-<n> (container ids) or conf-<what>-<pid>-<n> (cgroupsPaths)
    let ours = |n: &str| {
        let p: Vec<&str> = n.split('-').collect();
        p.len() >= 3 && p[0] == "conf" && p[p.len() - 2] == pid
    };
    let mut found = vec![];
    for h in tong_testkit::cgroups::hierarchies() {
        let Ok(ents) = fs::read_dir(&h.mount) else {
            continue;
        };
        for e in ents.filter_map(|e| e.ok()) {
            let name = e.file_name().to_string_lossy().to_string();
            if !ours(&name) || !e.path().is_dir() {
                continue;
            }
            remove_cgroup_tree(&e.path());
            found.push(e.path().display().to_string());
        }
    }
    found
}

/// The directories of cgroupsPath `name` (a container id or a cgroupsPath)
/// that exist in any hierarchy.
pub fn cgroups_named(name: &str) -> Vec<String> {
    tong_testkit::cgroups::existing(name)
}

fn remove_cgroup_tree(p: &Path) {
    tong_testkit::cgroups::remove_tree(p)
}

fn make_base_rootfs(rootfs: &Path) -> std::io::Result<()> {
    tong_testkit::rootfs::make_busybox_rootfs(rootfs)
}

/// Copy a tree, hard-linking regular files (the busybox binary is shared).
fn clone_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    tong_testkit::rootfs::clone_tree(src, dst)
}

/// Mount points at or below `p`, deepest first.
pub fn mounts_under(p: &Path) -> Vec<String> {
    tong_testkit::mountinfo::mounts_under(p)
}

/// Remove a directory, but never through a mount point left inside it.
pub fn safe_remove(p: &Path) {
    tong_testkit::fsutil::safe_remove(p);
}

/// The base config.json every test starts from, built with oci-spec.
pub fn base_config() -> Value {
    use oci_spec::runtime::*;
    let caps: Capabilities = [
        Capability::Chown,
        Capability::DacOverride,
        Capability::Fsetid,
        Capability::Fowner,
        Capability::Mknod,
        Capability::NetRaw,
        Capability::Setgid,
        Capability::Setuid,
        Capability::Setfcap,
        Capability::Setpcap,
        Capability::NetBindService,
        Capability::SysChroot,
        Capability::Kill,
        Capability::AuditWrite,
    ]
    .into_iter()
    .collect();
    let lcaps = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps.clone())
        .build()
        .unwrap();
    let process = ProcessBuilder::default()
        .terminal(false)
        .user(UserBuilder::default().uid(0u32).gid(0u32).build().unwrap())
        .args(vec!["sh".to_string()])
        .env(vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
            "TERM=xterm".to_string(),
        ])
        .cwd("/")
        .capabilities(lcaps)
        .no_new_privileges(true)
        .build()
        .unwrap();
    let root = RootBuilder::default()
        .path("rootfs")
        .readonly(false)
        .build()
        .unwrap();
    let m = |dst: &str, typ: &str, src: &str, opts: &[&str]| {
        MountBuilder::default()
            .destination(dst)
            .typ(typ)
            .source(src)
            .options(opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .build()
            .unwrap()
    };
    let mounts = vec![
        m("/proc", "proc", "proc", &[]),
        m(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        m(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        m(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        ),
        m(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        m(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
    ];
    let ns = |t: LinuxNamespaceType| LinuxNamespaceBuilder::default().typ(t).build().unwrap();
    let linux = LinuxBuilder::default()
        .namespaces(vec![
            ns(LinuxNamespaceType::Pid),
            ns(LinuxNamespaceType::Network),
            ns(LinuxNamespaceType::Ipc),
            ns(LinuxNamespaceType::Uts),
            ns(LinuxNamespaceType::Mount),
        ])
        .masked_paths(Vec::<String>::new())
        .readonly_paths(Vec::<String>::new())
        .build()
        .unwrap();
    let spec = SpecBuilder::default()
        .version("1.0.2")
        .process(process)
        .root(root)
        .hostname("conformance")
        .mounts(mounts)
        .linux(linux)
        .build()
        .unwrap();
    let mut v = serde_json::to_value(&spec).unwrap();
    // oci-spec serialises some empty optionals; drop the ones we do not want to state.
    if let Some(o) = v.as_object_mut() {
        o.remove("annotations");
    }
    v
}

/// What `runc spec --rootless` does to a config (runc's specconv.ToRootless),
/// for the caller's uid and gid: a user namespace mapping container 0 to the
/// caller (size 1), no network namespace, the host's /sys bound instead of a
/// sysfs mount (which needs a network namespace of one's own), no `uid=`/`gid=`
/// mount options, no cgroup resources.
pub fn to_rootless(v: &mut Value, uid: u32, gid: u32) {
    if let Some(a) = v
        .pointer_mut("/linux/namespaces")
        .and_then(|a| a.as_array_mut())
    {
        a.retain(|n| n["type"] != "network" && n["type"] != "user");
        a.push(json!({"type": "user"}));
    }
    jset(
        v,
        "/linux/uidMappings",
        json!([{"containerID": 0, "hostID": uid, "size": 1}]),
    );
    jset(
        v,
        "/linux/gidMappings",
        json!([{"containerID": 0, "hostID": gid, "size": 1}]),
    );
    if let Some(ms) = v.pointer_mut("/mounts").and_then(|a| a.as_array_mut()) {
        for m in ms.iter_mut() {
            if m["destination"] == "/sys" {
                *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                    "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
                continue;
            }
            if let Some(o) = m.get_mut("options").and_then(|o| o.as_array_mut()) {
                o.retain(|x| {
                    let s = x.as_str().unwrap_or("");
                    !s.starts_with("gid=") && !s.starts_with("uid=")
                });
            }
        }
    }
    jdel(v, "/linux/resources");
}

/// Set `value` at a JSON pointer, creating objects on the way.
pub fn jset(v: &mut Value, ptr: &str, value: Value) {
    tong_testkit::json::set_pointer(v, ptr, value)
}

/// Remove the member at a JSON pointer (no-op if absent).
pub fn jdel(v: &mut Value, ptr: &str) {
    tong_testkit::json::remove_pointer(v, ptr)
}

/// A bundle directory: rootfs + config.json (written on `save`).
pub struct Bundle {
    pub path: PathBuf,
    pub cfg: Value,
    /// Made for `--rootless` (runc's rootless config).
    pub rootless: bool,
}

impl Bundle {
    pub fn rootfs(&self) -> PathBuf {
        self.path.join("rootfs")
    }
    pub fn set(&mut self, ptr: &str, v: Value) -> &mut Self {
        jset(&mut self.cfg, ptr, v);
        self
    }
    pub fn del(&mut self, ptr: &str) -> &mut Self {
        jdel(&mut self.cfg, ptr);
        self
    }
    /// linux.cgroupsPath for a test that only names the cgroup to check what
    /// is left of it; rootless (no cgroup the user may write) left out, as a
    /// rootless runtime refuses a cgroupsPath it cannot make, which would
    /// fail create for a reason the test is not about.
    pub fn cgroups_path(&mut self, path: &str) -> &mut Self {
        if !self.rootless {
            self.set("/linux/cgroupsPath", json!(path));
        }
        self
    }
    /// process.args = ["sh", "-c", script]
    pub fn sh(&mut self, script: &str) -> &mut Self {
        self.set("/process/args", json!(["sh", "-c", script]))
    }
    pub fn args(&mut self, a: &[&str]) -> &mut Self {
        self.set("/process/args", json!(a))
    }
    pub fn push(&mut self, ptr: &str, v: Value) -> &mut Self {
        if self.cfg.pointer(ptr).map(|x| x.is_array()) != Some(true) {
            jset(&mut self.cfg, ptr, json!([]));
        }
        self.cfg
            .pointer_mut(ptr)
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(v);
        self
    }
    pub fn add_ns(&mut self, typ: &str, path: Option<&str>) -> &mut Self {
        self.del_ns(typ);
        let mut n = json!({ "type": typ });
        if let Some(p) = path {
            n["path"] = json!(p);
        }
        self.push("/linux/namespaces", n)
    }
    pub fn del_ns(&mut self, typ: &str) -> &mut Self {
        if let Some(a) = self
            .cfg
            .pointer_mut("/linux/namespaces")
            .and_then(|a| a.as_array_mut())
        {
            a.retain(|n| n["type"] != typ);
        }
        self
    }
    pub fn add_mount(&mut self, dst: &str, typ: &str, src: &str, opts: &[&str]) -> &mut Self {
        self.push(
            "/mounts",
            json!({"destination": dst, "type": typ, "source": src, "options": opts}),
        )
    }
    pub fn del_mount(&mut self, dst: &str) -> &mut Self {
        if let Some(a) = self
            .cfg
            .pointer_mut("/mounts")
            .and_then(|a| a.as_array_mut())
        {
            a.retain(|m| m["destination"] != dst);
        }
        self
    }
    pub fn save(&self) -> std::io::Result<()> {
        fs::write(
            self.path.join("config.json"),
            serde_json::to_string_pretty(&self.cfg).unwrap(),
        )
    }
    pub fn save_raw(&self, text: &str) -> std::io::Result<()> {
        fs::write(self.path.join("config.json"), text)
    }
}

/// Result of one runtime invocation.
#[derive(Debug, Clone)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    pub cmd: String,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.code == 0 && !self.timed_out
    }
    pub fn brief(&self) -> String {
        let mut e = self.stderr.trim().replace('\n', " | ");
        if e.len() > 300 {
            e.truncate(300);
        }
        let mut o = self.stdout.trim().replace('\n', " | ");
        if o.len() > 200 {
            o.truncate(200);
        }
        format!(
            "`{}` exit {}{}; stdout: {o:?}; stderr: {e:?}",
            self.cmd,
            self.code,
            if self.timed_out { " (timed out)" } else { "" }
        )
    }
}

/// Per-test context; its Drop force-deletes every container it created and
/// removes its directory.
pub struct Ctx {
    pub env: Env,
    pub dir: PathBuf,
    pub root: PathBuf,
    ids: Vec<String>,
    nfile: usize,
    pub extra_cleanup: Vec<Box<dyn FnOnce() + Send>>,
}

impl Ctx {
    pub fn new(env: &Env, name: &str) -> std::io::Result<Ctx> {
        let dir = env
            .workdir
            .join(format!("{}-{}", name.replace('/', "_"), next_n()));
        fs::create_dir_all(&dir)?;
        let root = if env.rootless {
            // short: runtimes make unix sockets (<108 bytes) under it
            env.state_base.join(next_n().to_string())
        } else {
            dir.join("state")
        };
        fs::create_dir_all(&root)?;
        Ok(Ctx {
            env: env.clone(),
            dir,
            root,
            ids: vec![],
            nfile: 0,
            extra_cleanup: vec![],
        })
    }

    /// A fresh unique container id (registered for cleanup).
    pub fn id(&mut self) -> String {
        let id = format!("conf-{}-{}", std::process::id(), next_n());
        self.ids.push(id.clone());
        id
    }

    /// A fresh path inside the test directory.
    pub fn path(&mut self, stem: &str) -> PathBuf {
        self.nfile += 1;
        self.dir.join(format!("{stem}{}", self.nfile))
    }

    /// A new bundle with the busybox rootfs and the base config.
    pub fn bundle(&mut self) -> Bundle {
        let path = self.path("bundle");
        clone_tree(&self.env.base_rootfs, &path.join("rootfs")).expect("cloning rootfs");
        let mut cfg = base_config();
        if self.env.rootless {
            to_rootless(
                &mut cfg,
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            );
        }
        Bundle {
            path,
            cfg,
            rootless: self.env.rootless,
        }
    }

    /// Run `RUNTIME --root <root> args...` with the suite's timeout.
    pub fn rt(&mut self, args: &[&str]) -> Out {
        self.rt_with(args, None, None)
    }

    pub fn rt_with(&mut self, args: &[&str], stdin: Option<&str>, cwd: Option<&Path>) -> Out {
        let mut full: Vec<String> = vec!["--root".into(), self.root.to_string_lossy().into()];
        full.extend(args.iter().map(|s| s.to_string()));
        run_cmd(
            &self.env.runtime,
            &full,
            stdin,
            cwd,
            self.env.timeout,
            &self.dir,
            &mut self.nfile,
        )
    }

    /// `run` the bundle to completion (not detached), then delete it.
    pub fn run(&mut self, b: &Bundle) -> Result<Out, Verdict> {
        b.save()?;
        let id = self.id();
        let bp = b.path.to_string_lossy().to_string();
        let o = self.rt(&["run", "--bundle", &bp, &id]);
        if o.timed_out {
            fail!("runtime timed out: {}", o.brief());
        }
        let _ = self.rt(&["delete", "--force", &id]);
        Ok(o)
    }

    /// Run `sh -c script` in the bundle; require exit 0 and return stdout.
    pub fn sh_ok(&mut self, b: &mut Bundle, script: &str) -> Result<String, Verdict> {
        b.sh(script);
        let o = self.run(b)?;
        if !o.ok() {
            fail!("container failed: {}", o.brief());
        }
        Ok(o.stdout)
    }

    /// `create` the bundle; the container must then exist.
    pub fn create(&mut self, b: &Bundle) -> Result<String, Verdict> {
        b.save()?;
        let id = self.id();
        let bp = b.path.to_string_lossy().to_string();
        let o = self.rt(&["create", "--bundle", &bp, &id]);
        if !o.ok() {
            fail!("create failed: {}", o.brief());
        }
        Ok(id)
    }

    /// `create` expected to fail; returns the output.
    pub fn create_out(&mut self, b: &Bundle, id: &str) -> Out {
        let _ = b.save();
        let bp = b.path.to_string_lossy().to_string();
        self.rt(&["create", "--bundle", &bp, id])
    }

    pub fn start(&mut self, id: &str) -> TResult {
        let o = self.rt(&["start", id]);
        if !o.ok() {
            fail!("start failed: {}", o.brief());
        }
        Ok(())
    }

    pub fn state(&mut self, id: &str) -> Result<Value, Verdict> {
        let o = self.rt(&["state", id]);
        if !o.ok() {
            fail!("state failed: {}", o.brief());
        }
        serde_json::from_str(&o.stdout)
            .map_err(|e| Verdict::Fail(format!("state output is not JSON ({e}): {:?}", o.stdout)))
    }

    pub fn status(&mut self, id: &str) -> Result<String, Verdict> {
        Ok(self.state(id)?["status"].as_str().unwrap_or("").to_string())
    }

    pub fn pid(&mut self, id: &str) -> Result<i32, Verdict> {
        let s = self.state(id)?;
        match s["pid"].as_i64() {
            Some(p) if p > 0 => Ok(p as i32),
            _ => fail!("state has no pid: {s}"),
        }
    }

    /// Wait until the container reaches `status` (polling `state`).
    pub fn wait_status(&mut self, id: &str, status: &str, secs: u64) -> TResult {
        let end = Instant::now() + Duration::from_secs(secs);
        let mut last = String::new();
        while Instant::now() < end {
            let o = self.rt(&["state", id]);
            if o.ok() {
                if let Ok(v) = serde_json::from_str::<Value>(&o.stdout) {
                    last = v["status"].as_str().unwrap_or("").to_string();
                    if last == status {
                        return Ok(());
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        fail!("container {id} did not reach status {status:?} (last {last:?})")
    }

    pub fn delete_force(&mut self, id: &str) {
        let _ = self.rt(&["delete", "--force", id]);
    }

    /// Entries left in the runtime's --root directory.
    pub fn root_entries(&self) -> Vec<String> {
        fs::read_dir(&self.root)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Ctx {
    /// Force-delete every container of the test; return the cgroups named
    /// after them that the runtime left behind (and remove those).
    pub fn finish(&mut self) -> Vec<String> {
        let mut left = vec![];
        for id in std::mem::take(&mut self.ids) {
            let _ = self.rt(&["delete", "--force", &id]);
            for c in cgroups_named(&id) {
                remove_cgroup_tree(Path::new(&c));
                left.push(c);
            }
        }
        left
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        self.finish();
        for f in std::mem::take(&mut self.extra_cleanup) {
            f();
        }
        if !self.env.keep {
            safe_remove(&self.dir);
            if !self.root.starts_with(&self.dir) {
                safe_remove(&self.root);
            }
        }
    }
}

/// Run a command with stdout/stderr to files (so container processes that
/// inherit them cannot block us), killing it after `timeout`.
pub fn run_cmd(
    prog: &Path,
    args: &[String],
    stdin: Option<&str>,
    cwd: Option<&Path>,
    timeout: Duration,
    dir: &Path,
    n: &mut usize,
) -> Out {
    *n += 1;
    let of = dir.join(format!(".out{n}"));
    let ef = dir.join(format!(".err{n}"));
    let cmd_s = format!("{} {}", prog.display(), args.join(" "));
    let mk = || -> std::io::Result<std::process::Child> {
        let mut c = Command::new(prog);
        c.args(args)
            .stdout(fs::File::create(&of)?)
            .stderr(fs::File::create(&ef)?)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        if let Some(d) = cwd {
            c.current_dir(d);
        }
        c.spawn()
    };
    let mut child = match mk() {
        Ok(c) => c,
        Err(e) => {
            return Out {
                code: -1,
                stdout: String::new(),
                stderr: format!("spawn failed: {e}"),
                timed_out: false,
                cmd: cmd_s,
            }
        }
    };
    if let (Some(s), Some(mut w)) = (stdin, child.stdin.take()) {
        use std::io::Write;
        let _ = w.write_all(s.as_bytes());
    }
    let end = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) => {}
            Err(_) => break None,
        }
        if Instant::now() > end {
            timed_out = true;
            let _ = child.kill();
            break child.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let code = status
        .and_then(|s| {
            s.code()
                .or_else(|| std::os::unix::process::ExitStatusExt::signal(&s).map(|x| 128 + x))
        })
        .unwrap_or(-1);
    let read = |p: &Path| {
        let mut s = String::new();
        if let Ok(mut f) = fs::File::open(p) {
            let mut b = vec![];
            let _ = f.read_to_end(&mut b);
            s = String::from_utf8_lossy(&b).to_string();
        }
        let _ = fs::remove_file(p);
        s
    };
    Out {
        code,
        stdout: read(&of),
        stderr: read(&ef),
        timed_out,
        cmd: cmd_s,
    }
}

/// Inode text of a namespace link, e.g. "uts:[4026531838]".
pub fn ns_link(pid: &str, typ: &str) -> Result<String, Verdict> {
    fs::read_link(format!("/proc/{pid}/ns/{typ}"))
        .map(|p| p.to_string_lossy().to_string())
        .map_err(|e| Verdict::Fail(format!("reading /proc/{pid}/ns/{typ}: {e}")))
}

/// Value of a "Key:\tvalue" line in a /proc/*/status-like text.
pub fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")).map(|v| v.trim()))
}
