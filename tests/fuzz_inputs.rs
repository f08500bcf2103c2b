//! Property tests: arbitrary and mutated JSON fed to tong's CLI — config.json for
//! `create`, an `exec --process` file, and `update --resources -` on stdin.
//! Whatever the input, tong must not panic (no "panicked" in stderr, exit code
//! not 101, not killed by a signal), must print an error when it fails, and
//! must leave nothing behind.
//!
//! Bounded: PROPTEST_CASES (default 32) cases per input kind.

mod common;
use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    Config {
        cases,
        // Shrinking re-runs containers; keep it short.
        max_shrink_iters: 64,
        // Never write regression files into the source tree.
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------
// Strategies

fn odd_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("..".to_string()),
        Just("../../../../../../etc".to_string()),
        Just("/".to_string()),
        Just("a".repeat(5000)),
        Just("\u{0}".to_string()),
        Just("x\u{0}y".to_string()),
        Just("é✓\u{202e}\u{feff}".to_string()),
        Just("-1".to_string()),
        Just("18446744073709551616".to_string()),
        Just("CAP_SYS_ADMIN".to_string()),
        Just("RLIMIT_NOFILE".to_string()),
        "[ -~]{0,24}",
        any::<String>().prop_map(|s| s.chars().take(40).collect()),
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        (-1e300f64..1e300f64).prop_map(|f| json!(f)),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(4294967295u64)),
        Just(json!(4294967296u64)),
        Just(json!(1.5)),
        odd_string().prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{0,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Remove(String),
    Set(String, Value),
    /// A value of the same JSON type as the one there (so parsing gets further).
    SameType(String, i64, String, bool, usize),
}

fn mutation(pointers: &'static [&'static str]) -> impl Strategy<Value = Mutation> {
    let ptr = prop::sample::select(pointers).prop_map(String::from);
    let num = prop_oneof![
        any::<i64>(),
        Just(-1i64),
        Just(0i64),
        Just(i64::MAX),
        Just(i64::MIN),
        Just(4294967295i64),
        0i64..5000
    ];
    prop_oneof![
        1 => ptr.clone().prop_map(Mutation::Remove),
        3 => (ptr.clone(), json_value()).prop_map(|(p, v)| Mutation::Set(p, v)),
        3 => (ptr, num, odd_string(), any::<bool>(), 0usize..6)
            .prop_map(|(p, n, s, b, k)| Mutation::SameType(p, n, s, b, k)),
    ]
}

/// Sets or removes at a JSON pointer, creating objects on the way; an array
/// index past the end appends. Never panics.
fn apply(root: &mut Value, m: &Mutation) {
    let (ptr, val) = match m {
        Mutation::Remove(p) => (p, None),
        Mutation::Set(p, v) => (p, Some(v.clone())),
        Mutation::SameType(p, n, st, b, k) => {
            let v = match root.pointer(p) {
                Some(Value::Number(_)) => json!(n),
                Some(Value::String(_)) => json!(st),
                Some(Value::Bool(_)) => json!(b),
                Some(Value::Array(a)) if !a.is_empty() => {
                    let mut a = a.clone();
                    match k % 3 {
                        0 => a.truncate(k % a.len()),
                        1 => a.push(a[k % a.len()].clone()),
                        _ => a.reverse(),
                    }
                    Value::Array(a)
                }
                _ => return,
            };
            (p, Some(v))
        }
    };
    let parts: Vec<&str> = ptr.trim_start_matches('/').split('/').collect();
    let mut cur = root;
    for (i, p) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        match cur {
            Value::Array(a) => {
                let idx: usize = p.parse().unwrap_or(0);
                if last {
                    match val {
                        Some(v) if idx < a.len() => a[idx] = v,
                        Some(v) => a.push(v),
                        None if idx < a.len() => {
                            a.remove(idx);
                        }
                        None => {}
                    }
                    return;
                }
                if idx >= a.len() {
                    a.push(json!({}));
                }
                let n = idx.min(a.len() - 1);
                cur = &mut a[n];
            }
            Value::Object(o) => {
                if last {
                    match val {
                        Some(v) => {
                            o.insert(p.to_string(), v);
                        }
                        None => {
                            o.remove(*p);
                        }
                    }
                    return;
                }
                cur = o.entry(p.to_string()).or_insert_with(|| json!({}));
            }
            _ => {
                if val.is_none() {
                    return;
                }
                *cur = json!({});
                if let Value::Object(o) = cur {
                    if last {
                        o.insert(p.to_string(), val.clone().unwrap());
                        return;
                    }
                    cur = o.entry(p.to_string()).or_insert_with(|| json!({}));
                }
            }
        }
    }
}

const CONFIG_POINTERS: &[&str] = &[
    "/ociVersion",
    "/process",
    "/process/args",
    "/process/args/0",
    "/process/env",
    "/process/env/0",
    "/process/cwd",
    "/process/terminal",
    "/process/user",
    "/process/user/uid",
    "/process/user/gid",
    "/process/user/umask",
    "/process/user/additionalGids",
    "/process/capabilities",
    "/process/capabilities/bounding",
    "/process/capabilities/effective/0",
    "/process/capabilities/ambient",
    "/process/rlimits",
    "/process/rlimits/0/type",
    "/process/rlimits/0/soft",
    "/process/rlimits/0/hard",
    "/process/noNewPrivileges",
    "/process/oomScoreAdj",
    "/process/consoleSize",
    "/process/ioPriority",
    "/process/scheduler",
    "/process/apparmorProfile",
    "/root",
    "/root/readonly",
    "/hostname",
    "/domainname",
    "/mounts",
    "/mounts/0",
    "/mounts/0/destination",
    "/mounts/0/type",
    "/mounts/1/options",
    "/mounts/1/options/0",
    "/mounts/2/source",
    "/mounts/7",
    "/linux",
    "/linux/namespaces",
    "/linux/namespaces/0",
    "/linux/namespaces/0/type",
    "/linux/namespaces/1/path",
    "/linux/uidMappings",
    "/linux/gidMappings/0",
    "/linux/resources",
    "/linux/resources/memory",
    "/linux/resources/memory/limit",
    "/linux/resources/cpu",
    "/linux/resources/cpu/shares",
    "/linux/resources/cpu/cpus",
    "/linux/resources/pids/limit",
    "/linux/resources/devices",
    "/linux/resources/devices/0/access",
    "/linux/resources/blockIO",
    "/linux/devices",
    "/linux/devices/0",
    "/linux/sysctl",
    "/linux/seccomp",
    "/linux/seccomp/defaultAction",
    "/linux/seccomp/syscalls",
    "/linux/maskedPaths",
    "/linux/maskedPaths/0",
    "/linux/readonlyPaths",
    "/linux/rootfsPropagation",
    "/linux/timeOffsets",
    "/linux/personality",
    "/linux/intelRdt",
    "/annotations",
];

const PROCESS_POINTERS: &[&str] = &[
    "/args",
    "/args/0",
    "/args/1",
    "/env",
    "/env/0",
    "/cwd",
    "/terminal",
    "/user",
    "/user/uid",
    "/user/gid",
    "/user/umask",
    "/user/additionalGids",
    "/capabilities",
    "/capabilities/bounding",
    "/capabilities/effective",
    "/capabilities/inheritable",
    "/rlimits",
    "/rlimits/0/type",
    "/rlimits/0/soft",
    "/noNewPrivileges",
    "/consoleSize",
    "/oomScoreAdj",
    "/selinuxLabel",
    "/apparmorProfile",
    "/scheduler",
    "/ioPriority",
];

const RESOURCES_POINTERS: &[&str] = &[
    "/memory",
    "/memory/limit",
    "/memory/reservation",
    "/memory/swap",
    "/memory/kernel",
    "/memory/swappiness",
    "/cpu",
    "/cpu/shares",
    "/cpu/quota",
    "/cpu/period",
    "/cpu/cpus",
    "/cpu/mems",
    "/cpu/realtimeRuntime",
    "/pids",
    "/pids/limit",
    "/blockIO",
    "/blockIO/weight",
    "/blockIO/throttleReadBpsDevice",
    "/hugepageLimits",
    "/network",
    "/devices",
    "/unified",
    "/rdma",
];

/// Whole-document damage: a valid document truncated or with a byte changed.
#[derive(Debug, Clone)]
enum Doc {
    Mutated(Vec<Mutation>),
    Truncated(Vec<Mutation>, usize),
    ByteFlip(Vec<Mutation>, usize, u8),
    Raw(Vec<u8>),
}

fn doc(pointers: &'static [&'static str]) -> impl Strategy<Value = Doc> {
    let muts = || prop::collection::vec(mutation(pointers), 1..5);
    prop_oneof![
        6 => muts().prop_map(Doc::Mutated),
        1 => (muts(), any::<usize>()).prop_map(|(m, n)| Doc::Truncated(m, n)),
        1 => (muts(), any::<usize>(), any::<u8>()).prop_map(|(m, n, b)| Doc::ByteFlip(m, n, b)),
        1 => prop_oneof![
            Just(Vec::new()),
            Just(b"null".to_vec()),
            Just(b"[]".to_vec()),
            Just(b"\"str\"".to_vec()),
            Just(b"{".to_vec()),
            prop::collection::vec(any::<u8>(), 0..64),
        ]
        .prop_map(Doc::Raw),
    ]
}

fn render(base: &Value, d: &Doc, fix: impl Fn(&mut Value)) -> Vec<u8> {
    let build = |m: &[Mutation]| {
        let mut v = base.clone();
        for x in m {
            apply(&mut v, x);
        }
        fix(&mut v);
        serde_json::to_vec_pretty(&v).unwrap()
    };
    match d {
        Doc::Mutated(m) => build(m),
        Doc::Truncated(m, n) => {
            let mut b = build(m);
            let n = n % (b.len() + 1);
            b.truncate(n);
            b
        }
        Doc::ByteFlip(m, n, x) => {
            let mut b = build(m);
            if !b.is_empty() {
                let n = n % b.len();
                b[n] = *x;
            }
            b
        }
        Doc::Raw(b) => b.clone(),
    }
}

// ---------------------------------------------------------------------------
// Checks

fn check_no_panic(what: &str, code: i32, stderr: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        !stderr.contains("panicked"),
        "{what}: tong panicked: {stderr}"
    );
    prop_assert_ne!(code, 101, "{}: exit 101 (panic): {}", what, stderr);
    // 255 is runc's (and tong's) exit code for a failed `exec`; a signal
    // shows as 128+N with N <= 64.
    prop_assert!(
        code < 128 || code == 255,
        "{what}: killed by signal {}: {stderr}",
        code - 128
    );
    if code != 0 {
        prop_assert!(
            !stderr.trim().is_empty(),
            "{what}: failed (exit {code}) without an error message"
        );
    }
    Ok(())
}

/// Keeps a fuzzed config from pointing tong at host state that the fuzzer
/// must not damage: the rootfs stays ours, the cgroup stays below tong-fuzz,
/// and no hooks run. Everything else is fair game.
fn confine(v: &mut Value, rootfs: &Path, cg: &str) {
    if !v.is_object() {
        return;
    }
    if let Some(r) = v.get_mut("root") {
        if let Some(o) = r.as_object_mut() {
            if o.get("path").is_some_and(|p| p.is_string()) {
                o.insert("path".into(), json!(rootfs));
            }
        }
    }
    if let Some(l) = v.get_mut("linux").and_then(|l| l.as_object_mut()) {
        if l.get("cgroupsPath").is_some_and(|p| p.is_string()) || !l.contains_key("cgroupsPath") {
            l.insert("cgroupsPath".into(), json!(cg));
        }
        // A sysctl object keeps only keys that can't be host-wide.
        if let Some(s) = l.get_mut("sysctl").and_then(|s| s.as_object_mut()) {
            // A real sysctl could be host-wide (no new netns, or a non-namespaced
            // key): keep only keys that do not exist on this host.
            s.retain(|k, _| !Path::new("/proc/sys").join(k.replace('.', "/")).exists());
        }
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("hooks");
    }
}

// ---------------------------------------------------------------------------
// Tests

#[test]
fn fuzz_create_config() {
    require_root!();
    let ctx = Ctx::new("fz-create");
    let b = ctx.bundle("true");
    let rootfs = b.rootfs();
    let mut base = b.config.clone();
    base["root"]["path"] = json!(rootfs);
    base["process"]["args"] = json!(["true"]);
    let n = std::cell::Cell::new(0usize);
    let oks = std::cell::Cell::new(0usize);
    let mut runner = TestRunner::new(config());
    runner
        .run(&doc(CONFIG_POINTERS), |d| {
            let i = n.get();
            n.set(i + 1);
            let id = ctx.id(&format!("{i}"));
            let cg = format!("/tong-fuzz/{id}");
            let dir = ctx.dir(&format!("case{i}"));
            let data = render(&base, &d, |v| confine(v, &rootfs, &cg));
            std::fs::write(dir.join("config.json"), &data).unwrap();
            ctx.tong.track(&id);
            ctx.cgroup_parents.borrow_mut().push("/tong-fuzz".into());
            let o = ctx
                .tong
                .cmd(&["create", "--bundle", dir.to_str().unwrap(), &id]);
            check_no_panic("create", o.code, &o.stderr)?;
            let pid = if o.ok() { ctx.tong.pid(&id) } else { 0 };
            oks.set(oks.get() + o.ok() as usize);
            if o.ok() {
                let d = ctx.tong.delete_force(&id);
                check_no_panic("delete --force", d.code, &d.stderr)?;
                prop_assert_eq!(d.code, 0, "delete --force: {}", d.stderr);
            }
            assert_clean(Leftovers {
                rt: &ctx.tong,
                id: &id,
                bundle: Some(&dir),
                cgroup: Some(cg.clone()),
                pids: vec![pid],
            });
            let _ = std::fs::remove_dir_all(&dir);
            Ok(())
        })
        .unwrap();
    eprintln!("create: {} cases, {} created", n.get(), oks.get());
}

/// A created container to exec into / update; recreated if a case killed it.
struct Target<'a> {
    ctx: &'a Ctx,
    b: Bundle,
    id: String,
    gen: usize,
}

impl<'a> Target<'a> {
    fn new(ctx: &'a Ctx, tag: &str) -> Target<'a> {
        let b = ctx.bundle("sleep 1000");
        let mut t = Target {
            ctx,
            b,
            id: String::new(),
            gen: 0,
        };
        t.id = ctx.id(&format!("{tag}0"));
        ctx.tong.create(&t.b, &t.id, &[]).success();
        t
    }
    fn ensure_alive(&mut self, tag: &str) {
        if self.ctx.tong.status(&self.id) != "stopped" {
            return;
        }
        self.ctx.tong.delete_force(&self.id).success();
        assert_clean_simple(&self.ctx.tong, &self.id, &self.b, &[]);
        self.gen += 1;
        self.id = self.ctx.id(&format!("{tag}{}", self.gen));
        self.ctx.tong.create(&self.b, &self.id, &[]).success();
    }
    fn finish(self) {
        let pid = self.ctx.tong.pid(&self.id);
        self.ctx.tong.delete_force(&self.id).success();
        assert_clean_simple(&self.ctx.tong, &self.id, &self.b, &[pid]);
    }
}

fn procs_in(id: &str) -> usize {
    std::fs::read_to_string(cgroup_dir("pids", &format!("/{id}")).join("cgroup.procs"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[test]
fn fuzz_exec_process_file() {
    require_root!();
    let ctx = Ctx::new("fz-exec");
    let t = std::cell::RefCell::new(Target::new(&ctx, "e"));
    let base = json!({
        "args": ["true"],
        "env": ["PATH=/bin:/usr/bin"],
        "cwd": "/",
        "user": {"uid": 0, "gid": 0},
        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]},
        "noNewPrivileges": true
    });
    let n = std::cell::Cell::new(0usize);
    let pf = ctx.work.join("process.json");
    let oks = std::cell::Cell::new(0usize);
    let mut runner = TestRunner::new(config());
    runner
        .run(&doc(PROCESS_POINTERS), |d| {
            t.borrow_mut().ensure_alive("e");
            let id = t.borrow().id.clone();
            n.set(n.get() + 1);
            let data = render(&base, &d, |v| {
                // The process must end by itself if it runs.
                if let Some(a) = v.get_mut("args").and_then(|a| a.as_array_mut()) {
                    if a.first().and_then(|x| x.as_str()).is_some_and(|s| {
                        s.contains("sleep") || s.contains("sh") || s.contains("cat")
                    }) {
                        a[0] = json!("true");
                    }
                }
            });
            std::fs::write(&pf, &data).unwrap();
            let o = ctx
                .tong
                .cmd(&["exec", "--process", pf.to_str().unwrap(), &id]);
            check_no_panic("exec --process", o.code, &o.stderr)?;
            oks.set(oks.get() + o.ok() as usize);
            // Nothing but the init stays in the container's cgroup.
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while procs_in(&id) > 1 && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            prop_assert!(
                procs_in(&id) <= 1,
                "exec left processes in the container: {:?}",
                String::from_utf8_lossy(&data)
            );
            Ok(())
        })
        .unwrap();
    eprintln!("exec: {} cases, {} ran", n.get(), oks.get());
    t.into_inner().finish();
}

#[test]
fn fuzz_update_resources_stdin() {
    require_root!();
    let ctx = Ctx::new("fz-update");
    let t = std::cell::RefCell::new(Target::new(&ctx, "u"));
    let base = json!({
        "memory": {"limit": 268435456i64, "reservation": 134217728i64},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
        "pids": {"limit": 100},
        "blockIO": {"weight": 500}
    });
    let n = std::cell::Cell::new(0usize);
    let oks = std::cell::Cell::new(0usize);
    let mut runner = TestRunner::new(config());
    runner
        .run(&doc(RESOURCES_POINTERS), |d| {
            t.borrow_mut().ensure_alive("u");
            let id = t.borrow().id.clone();
            let data = render(&base, &d, |v| {
                // Keep the memory limit from starving the init itself.
                if let Some(l) = v.pointer_mut("/memory/limit") {
                    if l.as_i64().is_some_and(|x| (0..16 << 20).contains(&x)) {
                        *l = json!(16 << 20);
                    }
                }
            });
            let mut c = ctx.tong.command();
            c.args(["update", "--resources", "-", &id])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = c.spawn().unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let writer = std::thread::spawn(move || {
                let _ = stdin.write_all(&data);
            });
            let out = {
                let deadline = std::time::Instant::now() + CMD_TIMEOUT;
                loop {
                    if child.try_wait().unwrap().is_some() {
                        break child.wait_with_output().unwrap();
                    }
                    if std::time::Instant::now() > deadline {
                        let _ = child.kill();
                        panic!("update timed out");
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            };
            let _ = writer.join();
            use std::os::unix::process::ExitStatusExt;
            let code = out
                .status
                .code()
                .unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0));
            check_no_panic("update", code, &String::from_utf8_lossy(&out.stderr))?;
            oks.set(oks.get() + (code == 0) as usize);
            n.set(n.get() + 1);
            Ok(())
        })
        .unwrap();
    eprintln!("update: {} cases, {} applied", n.get(), oks.get());
    t.into_inner().finish();
}
