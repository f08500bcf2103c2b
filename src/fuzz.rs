//! Bounded fuzzing of every parser that reads outside input, called directly
//! (no container is made, so it runs in a few seconds in every `cargo test`):
//! config.json through the whole plan (`bundle::load`: parse, validation,
//! seccomp compile), an `exec --process` file, `update --resources` JSON and
//! state.json (parse, the derived status and every JSON form `list`/`state`
//! print, and the salvage `delete --force` falls back on). Inputs are real
//! documents mutated (a field replaced by any JSON, removed, the bytes cut
//! short or flipped) and arbitrary JSON. Errors are fine; a panic fails the
//! case and a parser that does not return within the deadline fails the test.
//! `tests/fuzz_inputs.rs` drives the binary with such inputs too.
//!
//! TONG_FUZZ_CASES (default 400) cases per parser.
#![cfg(test)]

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn cases() -> u32 {
    std::env::var("TONG_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400)
}

/// Runs `f` on a thread; fails if it has not returned within `limit` (a hang).
fn within(limit: Duration, what: &'static str, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(limit) {
        Ok(()) => t.join().unwrap(),
        // The thread panicked (a failing case): its panic is the report.
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(t.join().unwrap_err())
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: no answer within {limit:?} (a parser hangs)")
        }
    }
}

fn odd_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("..".to_string()),
        Just("/".to_string()),
        Just("../../../etc".to_string()),
        Just("a\0b".to_string()),
        Just("🦀".repeat(3)),
        Just("x".repeat(5000)),
        Just("-1".to_string()),
        Just("18446744073709551616".to_string()),
        Just("CAP_SYS_ADMIN".to_string()),
        Just("RLIMIT_NOFILE".to_string()),
        Just("SCMP_ACT_ERRNO".to_string()),
        Just("IOPRIO_CLASS_RT".to_string()),
        Just("SCHED_FIFO".to_string()),
        Just("1.0.2-rc.1".to_string()),
        "[a-zA-Z0-9_./=:, -]{0,24}",
        any::<String>(),
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![
            Just(0i64),
            Just(-1),
            Just(i64::MIN),
            Just(i64::MAX),
            Just(i32::MAX as i64 + 1),
            Just(u32::MAX as i64),
            any::<i64>(),
        ]
        .prop_map(|n| json!(n)),
        Just(json!(u64::MAX)),
        any::<f64>().prop_map(|f| json!(f)),
        odd_string().prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((odd_string(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Every JSON pointer in `v` (the root included).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                pointers(c, p, out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                pointers(c, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

#[derive(Debug, Clone)]
enum Edit {
    /// Replace the value at a pointer with any JSON.
    Set(prop::sample::Index, Value),
    /// Remove the key or element at a pointer.
    Remove(prop::sample::Index),
    /// Add a key (known or not) to the object at a pointer.
    Add(prop::sample::Index, String, Value),
}

#[derive(Debug, Clone)]
enum Input {
    Mutated {
        edits: Vec<Edit>,
        /// Cut the rendered bytes at this fraction; flip one byte.
        cut: Option<prop::sample::Index>,
        flip: Option<(prop::sample::Index, u8)>,
    },
    Arbitrary(Value),
    Bytes(Vec<u8>),
}

fn input(keys: &'static [&'static str]) -> impl Strategy<Value = Input> {
    let key = prop_oneof![
        prop::sample::select(keys).prop_map(String::from),
        odd_string()
    ];
    let edit = prop_oneof![
        (any::<prop::sample::Index>(), json_value()).prop_map(|(i, v)| Edit::Set(i, v)),
        any::<prop::sample::Index>().prop_map(Edit::Remove),
        (any::<prop::sample::Index>(), key, json_value()).prop_map(|(i, k, v)| Edit::Add(i, k, v)),
    ];
    prop_oneof![
        6 => (
            prop::collection::vec(edit, 1..5),
            prop::option::weighted(0.15, any::<prop::sample::Index>()),
            prop::option::weighted(0.15, (any::<prop::sample::Index>(), any::<u8>())),
        )
            .prop_map(|(edits, cut, flip)| Input::Mutated { edits, cut, flip }),
        1 => json_value().prop_map(Input::Arbitrary),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Input::Bytes),
    ]
}

fn render(base: &Value, i: &Input) -> Vec<u8> {
    let Input::Mutated { edits, cut, flip } = i else {
        return match i {
            Input::Arbitrary(v) => v.to_string().into_bytes(),
            Input::Bytes(b) => b.clone(),
            Input::Mutated { .. } => unreachable!(),
        };
    };
    let mut v = base.clone();
    for e in edits {
        let mut ps = Vec::new();
        pointers(&v, String::new(), &mut ps);
        match e {
            Edit::Set(i, x) => {
                if let Some(t) = v.pointer_mut(&ps[i.index(ps.len())]) {
                    *t = x.clone();
                }
            }
            Edit::Remove(i) => {
                let p = &ps[i.index(ps.len())];
                if let Some((parent, last)) = p.rsplit_once('/') {
                    let last = last.replace("~1", "/").replace("~0", "~");
                    match v.pointer_mut(parent) {
                        Some(Value::Object(m)) => {
                            m.remove(&last);
                        }
                        Some(Value::Array(a)) => {
                            if let Ok(n) = last.parse::<usize>() {
                                if n < a.len() {
                                    a.remove(n);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            Edit::Add(i, k, x) => {
                if let Some(Value::Object(m)) = v.pointer_mut(&ps[i.index(ps.len())]) {
                    m.insert(k.clone(), x.clone());
                }
            }
        }
    }
    let mut bytes = v.to_string().into_bytes();
    if let Some(c) = cut {
        bytes.truncate(c.index(bytes.len() + 1));
    }
    if let (Some((at, b)), false) = (flip, bytes.is_empty()) {
        let n = at.index(bytes.len());
        bytes[n] ^= b | 1;
    }
    bytes
}

/// Runs `check` on `TONG_FUZZ_CASES` inputs made from `base`; the whole
/// run must end within `limit`.
fn fuzz(
    what: &'static str,
    base: Value,
    keys: &'static [&'static str],
    limit: Duration,
    check: impl Fn(&[u8]) + Send + 'static,
) {
    within(limit, what, move || {
        let mut runner = TestRunner::new(Config {
            cases: cases(),
            max_shrink_iters: 256,
            failure_persistence: None,
            ..Config::default()
        });
        let r = runner.run(&input(keys), |i| {
            check(&render(&base, &i));
            Ok(())
        });
        if let Err(e) = r {
            panic!("{what}: {e}");
        }
    });
}

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);
impl Scratch {
    fn new(what: &str) -> Scratch {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let d = std::env::temp_dir().join(format!("tong-fuzz-{what}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("rootfs")).unwrap();
        Scratch(d)
    }
}
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The default config with a field of each kind validation checks.
fn config_base() -> Value {
    let mut c: Value = serde_json::from_str(include_str!("default-config.json")).unwrap();
    c["root"] = json!({"path": "rootfs", "readonly": true});
    c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 4});
    c["process"]["scheduler"] = json!({"policy": "SCHED_OTHER", "nice": 5});
    c["process"]["oomScoreAdj"] = json!(100);
    c["hooks"] = json!({"prestart": [{"path": "/bin/true", "args": ["true"], "timeout": 5}]});
    c["annotations"] = json!({"a": "b"});
    let l = &mut c["linux"];
    l["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.msgmax": "8192"});
    l["devices"] = json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
        "fileMode": 438, "uid": 0, "gid": 0}]);
    l["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 10}]);
    l["gidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 10}]);
    l["cgroupsPath"] = json!("/tong-fuzz/x");
    l["rootfsPropagation"] = json!("rprivate");
    l["personality"] = json!({"domain": "LINUX32"});
    l["resources"]["memory"] = json!({"limit": 1 << 30, "swap": 1 << 31});
    l["resources"]["cpu"] = json!({"shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1"});
    l["resources"]["pids"] = json!({"limit": 100});
    l["resources"]["blockIO"] = json!({"weight": 300,
        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]});
    l["resources"]["hugepageLimits"] = json!([{"pageSize": "2MB", "limit": 0}]);
    l["resources"]["unified"] = json!({"memory.high": "max"});
    l["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir", "kexec_load"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
            "args": [{"index": 1, "value": 2, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}]});
    l["intelRdt"] = json!({"closID": "x"});
    c["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/data", "type": "bind", "source": "/tmp",
            "options": ["rbind", "ro", "nosuid", "idmap"], "uidMappings": []}),
    );
    c
}

const CONFIG_KEYS: &[&str] = &[
    "ociVersion",
    "process",
    "root",
    "hostname",
    "domainname",
    "mounts",
    "linux",
    "hooks",
    "annotations",
    "args",
    "env",
    "cwd",
    "user",
    "uid",
    "gid",
    "umask",
    "additionalGids",
    "capabilities",
    "bounding",
    "effective",
    "rlimits",
    "type",
    "hard",
    "soft",
    "terminal",
    "consoleSize",
    "ioPriority",
    "class",
    "priority",
    "scheduler",
    "policy",
    "nice",
    "execCPUAffinity",
    "initial",
    "final",
    "noNewPrivileges",
    "oomScoreAdj",
    "apparmorProfile",
    "selinuxLabel",
    "namespaces",
    "path",
    "uidMappings",
    "gidMappings",
    "sysctl",
    "devices",
    "seccomp",
    "defaultAction",
    "defaultErrnoRet",
    "architectures",
    "flags",
    "listenerPath",
    "syscalls",
    "names",
    "action",
    "errnoRet",
    "index",
    "value",
    "op",
    "resources",
    "memory",
    "cpu",
    "pids",
    "blockIO",
    "unified",
    "cgroupsPath",
    "maskedPaths",
    "readonlyPaths",
    "mountLabel",
    "destination",
    "source",
    "options",
    "timeOffsets",
    "personality",
    "timeout",
    "prestart",
    "createRuntime",
    "poststop",
];

#[test]
fn config_json_never_panics_or_hangs() {
    fuzz(
        "config.json",
        config_base(),
        CONFIG_KEYS,
        Duration::from_secs(120),
        |data| {
            let d = Scratch::new("config");
            std::fs::write(d.0.join("config.json"), data).unwrap();
            if let Ok(plan) = crate::bundle::load(&d.0, "fuzz") {
                // What create reads from an accepted plan.
                let _ = (plan.process(), plan.linux(), plan.terminal());
            }
        },
    );
}

const PROCESS_KEYS: &[&str] = &[
    "args",
    "env",
    "cwd",
    "user",
    "uid",
    "gid",
    "umask",
    "additionalGids",
    "capabilities",
    "bounding",
    "effective",
    "permitted",
    "ambient",
    "inheritable",
    "rlimits",
    "type",
    "hard",
    "soft",
    "terminal",
    "consoleSize",
    "height",
    "width",
    "ioPriority",
    "class",
    "priority",
    "scheduler",
    "policy",
    "nice",
    "flags",
    "execCPUAffinity",
    "noNewPrivileges",
    "oomScoreAdj",
    "apparmorProfile",
    "selinuxLabel",
    "commandLine",
];

#[test]
fn exec_process_json_never_panics_or_hangs() {
    let mut base = config_base()["process"].clone();
    base["args"] = json!(["sh", "-c", "true"]);
    fuzz(
        "exec --process",
        base,
        PROCESS_KEYS,
        Duration::from_secs(60),
        |data| {
            let _ = crate::commands::exec::parse_process_file(data, Path::new("process.json"));
        },
    );
}

const RESOURCES_KEYS: &[&str] = &[
    "memory",
    "limit",
    "reservation",
    "swap",
    "kernel",
    "kernelTCP",
    "swappiness",
    "disableOOMKiller",
    "useHierarchy",
    "checkBeforeUpdate",
    "cpu",
    "shares",
    "quota",
    "burst",
    "period",
    "realtimeRuntime",
    "realtimePeriod",
    "cpus",
    "mems",
    "idle",
    "pids",
    "blockIO",
    "weight",
    "leafWeight",
    "weightDevice",
    "throttleReadBpsDevice",
    "major",
    "minor",
    "rate",
    "hugepageLimits",
    "pageSize",
    "network",
    "classID",
    "priorities",
    "rdma",
    "unified",
    "devices",
    "allow",
    "type",
    "access",
];

#[test]
fn update_resources_json_never_panics_or_hangs() {
    let base = json!({
        "memory": {"limit": 1 << 30, "reservation": 0, "swap": -1, "kernel": 0},
        "cpu": {"shares": 0, "quota": 70000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 60},
        "blockIO": {"weight": 0, "weightDevice": [{"major": 8, "minor": 0, "weight": 10}]},
        "unified": {"pids.max": "10"},
    });
    fuzz(
        "update --resources",
        base,
        RESOURCES_KEYS,
        Duration::from_secs(60),
        |data| {
            let _ = crate::commands::update::parse_resources(data);
        },
    );
}

const STATE_KEYS: &[&str] = &[
    "id",
    "oci_version",
    "pid",
    "pid_start_time",
    "bundle",
    "rootfs",
    "created",
    "annotations",
    "cgroup_path",
    "owns_cgroup",
    "hooks",
    "created_ok",
    "process",
    "namespaces",
    "seccomp",
    "personality",
    "memory_policy",
    "intel_rdt",
    "owns_intel_rdt",
];

#[test]
fn state_json_never_panics_or_hangs() {
    let process = config_base()["process"].clone();
    let base = json!({
        "id": "fuzz", "oci_version": "1.2.0",
        // pid 0: a state whose init is gone, so no live process is looked at.
        "pid": 0, "pid_start_time": 12345,
        "bundle": "/b", "rootfs": "/b/rootfs", "created": "2026-01-01T00:00:00.5Z",
        "annotations": {"cgroup_path": "/elsewhere", "k": "v"},
        "cgroup_path": "/tong-fuzz/x", "owns_cgroup": true,
        "hooks": {"poststop": [{"path": "/bin/true"}]},
        "created_ok": true, "process": process,
        "namespaces": ["pid", "mount", "network"], "seccomp": null,
        "personality": {"domain": "LINUX"}, "intel_rdt": "/sys/fs/resctrl/x",
        "owns_intel_rdt": false,
    });
    fuzz(
        "state.json",
        base,
        STATE_KEYS,
        Duration::from_secs(60),
        |data| {
            let root = Scratch::new("state");
            let dir = root.0.join("fuzz");
            std::fs::create_dir(&dir).unwrap();
            std::fs::write(dir.join(crate::paths::STATE_FILE), data).unwrap();
            let _ = crate::state::parse_state(data, &dir);
            if let Ok(c) = crate::state::Container::peek(&root.0, "fuzz") {
                // `state`, `list` and the hooks' JSON of whatever parsed.
                let _ = serde_json::to_string(&c.oci_state()).unwrap();
                let _ = serde_json::to_string(&c.list_entry(String::new())).unwrap();
                let _ = c.state.hook_json(c.status(), c.state.pid);
            }
            // `delete --force`'s fallback reads a corrupt state.json as text;
            // the cgroup it finds is never the annotation's.
            // (Where the key `"annotations"` was itself damaged or repeated
            // in another object, nothing can tell which is which.)
            let (_, _, cg) = crate::state::salvage(&dir, "fuzz");
            let anns = data
                .windows(14)
                .filter(|w| w == b"\"annotations\":")
                .count();
            assert!(
                anns != 1 || cg != Path::new("/elsewhere"),
                "salvage read an annotation"
            );
        },
    );
}
