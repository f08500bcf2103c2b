//! Differential test against runc (ignored by default; needs root, runc,
//! gcc with static glibc, and busybox-static).
//!
//! For each real profile (Docker's default, Podman's) it runs the syscall
//! probe (tests/differential/probe.c) twice in the same busybox container:
//!   A. runc with the profile in `linux.seccomp` (libseccomp + runc's stub);
//!   B. runc without seccomp, the probe installing tong's compiled filter.
//! Both runs see the same namespaces, capabilities and rootfs, so every
//! (ABI, syscall number) must give exactly the same result.
//!
//! Run: `cargo test -p tong-seccomp --test runc_differential -- --ignored --nocapture`
//! Env: TONG_RUNC (default "runc"), TONG_DOCKER_PROFILE / TONG_PODMAN_PROFILE
//! to use other profile files, TONG_OCI_PROFILE for `extra_oci_profile_matches_runc`.

#[allow(dead_code)]
#[path = "../examples/seccomp_agent.rs"]
mod agent;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

const DIFF_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/differential");

/// runc spec's default capability set (bounding/effective/permitted).
const RUNC_DEFAULT_CAPS: &[&str] = &["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// Convert a moby/containers-common profile to an OCI `linux.seccomp` for
/// amd64 and a capability set, like moby's `setupSeccomp` does.
fn profile_to_oci(profile: &Value, caps: &[&str]) -> Value {
    let has = |v: &Value, key: &str, item: &str| {
        v.get(key)
            .and_then(|a| a.as_array())
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(item)))
    };
    let nonempty = |v: &Value, key: &str| {
        v.get(key)
            .and_then(|a| a.as_array())
            .is_some_and(|a| !a.is_empty())
    };
    let mut arches = vec![];
    for m in profile["archMap"].as_array().into_iter().flatten() {
        if m["architecture"] == "SCMP_ARCH_X86_64" {
            arches.push(m["architecture"].clone());
            arches.extend(
                m["subArchitectures"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            );
        }
    }
    let mut syscalls = vec![];
    'outer: for sc in profile["syscalls"].as_array().into_iter().flatten() {
        let inc = &sc["includes"];
        let exc = &sc["excludes"];
        if nonempty(exc, "arches") && has(exc, "arches", "amd64") {
            continue;
        }
        if nonempty(inc, "arches") && !has(inc, "arches", "amd64") {
            continue;
        }
        for c in exc
            .get("caps")
            .and_then(|a| a.as_array())
            .into_iter()
            .flatten()
        {
            if caps.iter().any(|k| Some(*k) == c.as_str()) {
                continue 'outer;
            }
        }
        for c in inc
            .get("caps")
            .and_then(|a| a.as_array())
            .into_iter()
            .flatten()
        {
            if !caps.iter().any(|k| Some(*k) == c.as_str()) {
                continue 'outer;
            }
        }
        // minKernel: the kernel here (6.x) is newer than any minKernel used.
        if exc.get("minKernel").is_some_and(|v| !v.is_null()) {
            continue;
        }
        let mut r = json!({"names": sc["names"], "action": sc["action"]});
        if let Some(a) = sc.get("args").filter(|a| !a.is_null()) {
            r["args"] = a.clone();
        }
        if let Some(e) = sc.get("errnoRet").filter(|a| !a.is_null()) {
            r["errnoRet"] = e.clone();
        }
        syscalls.push(r);
    }
    let mut out = json!({
        "defaultAction": profile["defaultAction"],
        "architectures": arches,
        "syscalls": syscalls,
    });
    if let Some(e) = profile.get("defaultErrnoRet").filter(|a| !a.is_null()) {
        out["defaultErrnoRet"] = e.clone();
    }
    out
}

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Container<'a> {
    runc: &'a str,
    root: &'a Path,
    id: String,
}
impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = Command::new(self.runc)
            .arg("--root")
            .arg(self.root)
            .args(["delete", "-f", &self.id])
            .output();
    }
}

type Results = BTreeMap<(String, u64, i64), String>;

fn parse(out: &str) -> Results {
    out.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let abi = it.next()?.to_string();
            let nr = it.next()?.parse().ok()?;
            let a = it.next()?.parse().ok()?;
            Some(((abi, nr, a), it.next()?.to_string()))
        })
        .collect()
}

fn run_probe(
    runc: &str,
    tmp: &Path,
    name: &str,
    seccomp: Option<&Value>,
    args: &[&str],
) -> Results {
    let bundle = tmp.join(format!("bundle-{name}"));
    let rootfs = bundle.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    for d in ["proc", "dev", "sys", "tmp"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).unwrap();
    std::fs::copy(tmp.join("probe"), rootfs.join("probe")).unwrap();
    if tmp.join("filter.bpf").exists() {
        std::fs::copy(tmp.join("filter.bpf"), rootfs.join("filter.bpf")).unwrap();
    }
    let st = Command::new(runc)
        .args(["spec"])
        .current_dir(&bundle)
        .status()
        .unwrap();
    assert!(st.success(), "runc spec failed");
    let cfg_path = bundle.join("config.json");
    let mut cfg: Value = serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    cfg["process"]["terminal"] = json!(false);
    let mut argv = vec!["/probe"];
    argv.extend_from_slice(args);
    cfg["process"]["args"] = json!(argv);
    // i386 brk(0xffffffff) (args -1 through int 0x80) moves a 64-bit task's
    // break up to 4 GiB when the memory is there, and that result reads as
    // errno 1: it depends on free memory (a 4 GiB guest), not on the filter.
    // A data limit set by runc, outside both filters, makes it fail alike.
    let data = 256u64 << 20;
    cfg["process"]["rlimits"]
        .as_array_mut()
        .expect("runc spec has process.rlimits")
        .push(json!({"type": "RLIMIT_DATA", "hard": data, "soft": data}));
    match seccomp {
        Some(s) => cfg["linux"]["seccomp"] = s.clone(),
        None => {
            if let Some(l) = cfg["linux"].as_object_mut() {
                l.remove("seccomp");
            }
        }
    }
    std::fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    let state_root = tmp.join("state");
    let c = Container {
        runc,
        root: &state_root,
        id: format!("tong-seccomp-diff-{}-{name}", std::process::id()),
    };
    let out = Command::new(runc)
        .arg("--root")
        .arg(&state_root)
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg(&c.id)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "runc run {name} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    drop(c);
    parse(&stdout)
}

fn compare(label: &str, profile_path: &Path) -> (usize, Vec<String>) {
    let profile: Value = serde_json::from_slice(&std::fs::read(profile_path).unwrap()).unwrap();
    compare_oci(label, profile_to_oci(&profile, RUNC_DEFAULT_CAPS))
}

fn compare_oci(label: &str, oci: Value) -> (usize, Vec<String>) {
    let runc = std::env::var("TONG_RUNC").unwrap_or_else(|_| "runc".into());
    let tmp = TempDir(
        std::env::temp_dir().join(format!("tong-seccomp-diff-{}-{label}", std::process::id())),
    );
    let _ = std::fs::remove_dir_all(&tmp.0);
    std::fs::create_dir_all(&tmp.0).unwrap();
    let st = Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(tmp.0.join("probe"))
        .arg(Path::new(DIFF_DIR).join("probe.c"))
        .status()
        .unwrap();
    assert!(st.success(), "gcc -static probe.c failed");

    let seccomp: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(oci.clone()).unwrap();
    let filter = tong_seccomp::compile(&seccomp).unwrap();
    eprintln!(
        "[{label}] {} rules, tong filter {} instructions, skipped names: {:?}",
        oci["syscalls"].as_array().map_or(0, |a| a.len()),
        filter.program().len(),
        filter.skipped_syscalls()
    );
    let bytes: Vec<u8> = filter
        .program()
        .iter()
        .flat_map(|i| {
            let mut b = Vec::with_capacity(8);
            b.extend_from_slice(&i.code.to_ne_bytes());
            b.push(i.jt);
            b.push(i.jf);
            b.extend_from_slice(&i.k.to_ne_bytes());
            b
        })
        .collect();
    std::fs::write(tmp.0.join("filter.bpf"), bytes).unwrap();

    let a = run_probe(&runc, &tmp.0, "runc", Some(&oci), &[]);
    let flags = filter.flags().to_string();
    let b = run_probe(&runc, &tmp.0, "tong", None, &["/filter.bpf", &flags]);
    assert!(
        !a.is_empty() && a.len() == b.len(),
        "probe output sizes differ"
    );
    let mut mismatches = vec![];
    for (k, ra) in &a {
        let rb = b.get(k).map(String::as_str).unwrap_or("<missing>");
        if ra != rb {
            mismatches.push(format!(
                "{} {} args={}: runc={} tong={}",
                k.0, k.1, k.2, ra, rb
            ));
        }
    }
    let blocked = |r: &Results| r.values().filter(|v| *v == "e1" || *v == "e38").count();
    eprintln!(
        "[{label}] compared {} (abi, syscall, args) probes; EPERM/ENOSYS: runc {} tong {}; mismatches: {}",
        a.len(),
        blocked(&a),
        blocked(&b),
        mismatches.len()
    );
    for m in &mismatches {
        eprintln!("  MISMATCH {m}");
    }
    (a.len(), mismatches)
}

fn profile_path(env: &str, default: &str) -> PathBuf {
    std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(DIFF_DIR).join(default))
}

#[test]
#[ignore = "needs root, runc, gcc -static and /bin/busybox"]
fn docker_default_profile_matches_runc() {
    let (n, mismatches) = compare(
        "docker",
        &profile_path("TONG_DOCKER_PROFILE", "docker-default.json"),
    );
    assert!(n > 3000);
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[test]
#[ignore = "needs root, runc, gcc -static and /bin/busybox"]
fn podman_profile_matches_runc() {
    let (n, mismatches) = compare(
        "podman",
        &profile_path("TONG_PODMAN_PROFILE", "podman-seccomp.json"),
    );
    assert!(n > 3000);
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

fn docker_oci() -> Value {
    let path = profile_path("TONG_DOCKER_PROFILE", "docker-default.json");
    let profile: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    profile_to_oci(&profile, RUNC_DEFAULT_CAPS)
}

/// Docker's profile with `names` removed from every rule and `extra` rules
/// appended.
fn docker_with(names: &[&str], extra: Value) -> Value {
    let mut oci = docker_oci();
    for r in oci["syscalls"].as_array_mut().unwrap() {
        let kept: Vec<Value> = r["names"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| !names.iter().any(|x| n.as_str() == Some(*x)))
            .cloned()
            .collect();
        r["names"] = json!(kept);
    }
    oci["syscalls"]
        .as_array_mut()
        .unwrap()
        .extend(extra.as_array().unwrap().iter().cloned());
    oci
}

/// Edge cases of the semantics, checked against runc with the probe's two
/// argument patterns (all -1, all 0).
#[test]
#[ignore = "needs root, runc, gcc -static and /bin/busybox"]
fn synthetic_profiles_match_runc() {
    let mut variants: Vec<(&str, Value)> = vec![];

    // Only x86_64 listed: x32 and i386 syscalls are a bad arch.
    let mut v = docker_oci();
    v["architectures"] = json!(["SCMP_ARCH_X86_64"]);
    variants.push(("x86_64-only", v));

    // No architectures: native only.
    let mut v = docker_oci();
    v.as_object_mut().unwrap().remove("architectures");
    variants.push(("no-arches", v));

    // Argument operators, rule order, actions.
    let eq = |i: u32, v: u64| json!({"index": i, "value": v, "op": "SCMP_CMP_EQ"});
    let names = [
        "getppid",
        "getuid",
        "getgid",
        "geteuid",
        "getegid",
        "getpgrp",
        "gettid",
        "sched_yield",
        "getpgid",
        "getsid",
        "getresuid",
        "getresgid",
    ];
    let extra = json!([
        // conditional then unconditional: libseccomp keeps the unconditional.
        {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5, "args": [eq(0, 0)]},
        {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 6},
        // AND of two args
        {"names": ["getuid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7, "args": [eq(1, 0), eq(2, 0)]},
        {"names": ["getuid"], "action": "SCMP_ACT_ALLOW", "args": [eq(1, u64::MAX)]},
        {"names": ["getgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 8,
         "args": [{"index": 0, "value": 0xff, "valueTwo": 0xff, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["getgid"], "action": "SCMP_ACT_ALLOW", "args": [eq(0, 0)]},
        {"names": ["geteuid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9,
         "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_GT"}]},
        {"names": ["geteuid"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_LE"}]},
        {"names": ["getegid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 10,
         "args": [{"index": 3, "value": 1, "op": "SCMP_CMP_LT"}]},
        {"names": ["getegid"], "action": "SCMP_ACT_LOG",
         "args": [{"index": 3, "value": 1, "op": "SCMP_CMP_GE"}]},
        // same index twice: runc ORs them
        {"names": ["getpgrp"], "action": "SCMP_ACT_ERRNO", "errnoRet": 11,
         "args": [eq(0, 0), eq(0, 0xffff_ffff_ffff_ffff)]},
        {"names": ["gettid"], "action": "SCMP_ACT_KILL_PROCESS", "args": [eq(0, 0)]},
        {"names": ["gettid"], "action": "SCMP_ACT_ALLOW", "args": [eq(0, u64::MAX)]},
        {"names": ["sched_yield"], "action": "SCMP_ACT_TRAP",
         "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_NE"}]},
        {"names": ["sched_yield"], "action": "SCMP_ACT_ALLOW", "args": [eq(0, 0)]},
        {"names": ["getpgid"], "action": "SCMP_ACT_LOG"},
        {"names": ["getsid"], "action": "SCMP_ACT_KILL"},
        {"names": ["getresuid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 12,
         "args": [{"index": 0, "value": 0xffff_ffff_u64, "op": "SCMP_CMP_GE"}]},
        {"names": ["getresuid"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 0xffff_ffff_u64, "op": "SCMP_CMP_LT"}]},
        {"names": ["getresgid"], "action": "SCMP_ACT_TRACE", "errnoRet": 13},
    ]);
    variants.push(("arg-rules", docker_with(&names, extra)));

    // Default ALLOW deny-list (no ENOSYS stub).
    variants.push((
        "default-allow",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat", "getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 30},
                {"names": ["getuid", "socket"], "action": "SCMP_ACT_KILL_PROCESS"},
                {"names": ["sched_yield"], "action": "SCMP_ACT_TRAP"},
                {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_NE"}]},
            ]
        }),
    ));

    // Docker's allow list with a KILL_PROCESS default and a custom errno.
    let mut v = docker_oci();
    v["defaultAction"] = json!("SCMP_ACT_KILL_PROCESS");
    variants.push(("default-kill-process", v));
    let mut v = docker_oci();
    v["defaultErrnoRet"] = json!(99);
    variants.push(("default-errno-99", v));

    let mut failed = vec![];
    for (label, oci) in variants {
        let (n, mismatches) = compare_oci(label, oci);
        assert!(n > 3000);
        if !mismatches.is_empty() {
            failed.push((label, mismatches));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

/// The test agent speaks runc's listener protocol, and runc's message has
/// the same shape as `container_process_state()`.
#[test]
#[ignore = "needs root, runc and /bin/busybox"]
fn runc_talks_to_our_agent() {
    let runc = std::env::var("TONG_RUNC").unwrap_or_else(|_| "runc".into());
    let tmp =
        TempDir(std::env::temp_dir().join(format!("tong-seccomp-agent-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&tmp.0);
    let bundle = tmp.0.join("bundle");
    let rootfs = bundle.join("rootfs");
    for d in ["bin", "proc", "dev", "sys", "tmp"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    for a in ["sh", "mkdir", "ls"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(a)).unwrap();
    }
    assert!(Command::new(&runc)
        .arg("spec")
        .current_dir(&bundle)
        .status()
        .unwrap()
        .success());
    let cfg_path = bundle.join("config.json");
    let mut cfg: Value = serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    let sock = tmp.0.join("agent.sock");
    cfg["process"]["terminal"] = json!(false);
    cfg["process"]["args"] = json!([
        "sh",
        "-c",
        "mkdir /tmp/x && echo mkdir-ok; ls -d /tmp/x || echo not-created"
    ]);
    cfg["root"]["readonly"] = json!(false);
    cfg["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock, "listenerMetadata": "meta1",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    });
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let agent = std::thread::spawn(move || agent::serve_one(&listener, None));
    let state_root = tmp.0.join("state");
    let c = Container {
        runc: &runc,
        root: &state_root,
        id: format!("tong-seccomp-agent-{}", std::process::id()),
    };
    let out = Command::new(&runc)
        .arg("--root")
        .arg(&state_root)
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg(&c.id)
        .output()
        .unwrap();
    drop(c);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("mkdir-ok") && stdout.contains("not-created"),
        "{stdout}"
    );
    let (msg, seen) = agent.join().unwrap().unwrap();
    assert!(!seen.is_empty());
    let ours = tong_seccomp::container_process_state(&msg["state"], "meta1");
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&msg), keys(&ours));
    assert_eq!(msg, ours, "runc's message vs ours for the same state");
}

/// Compare any OCI `linux.seccomp` JSON file against runc:
/// `TONG_OCI_PROFILE=/path/seccomp.json cargo test ... extra_oci_profile -- --ignored`.
#[test]
#[ignore = "needs root, runc, gcc -static and /bin/busybox; set TONG_OCI_PROFILE"]
fn extra_oci_profile_matches_runc() {
    let Some(path) = std::env::var_os("TONG_OCI_PROFILE") else {
        eprintln!("TONG_OCI_PROFILE not set; nothing to compare");
        return;
    };
    let oci: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let (_, mismatches) = compare_oci("extra", oci);
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}
