//! linux.resources: every field written through config.json and through
//! `update` (flags, --resources FILE, --resources - on stdin) and read back
//! from the host's cgroup v1 files; update of running and paused containers;
//! Docker's all-zero update. Fields this kernel/hierarchy lacks are skipped with
//! a reason on stderr. runc is the oracle where the kernel decides.

mod common;

use common::*;
use serde_json::{json, Value};
use std::process::Stdio;

const MIB: u64 = 1024 * 1024;

/// A running container with `res` as linux.resources and cgroupsPath "/<id>".
fn running_with(ctx: &Ctx, k: Kind, suffix: &str, res: Value) -> (String, String, Out) {
    let rt = ctx.rt(k);
    let id = ctx.id(suffix);
    let cg = format!("/{id}");
    let mut b = ctx.bundle("exec sleep 1000");
    b.set("/linux/cgroupsPath", json!(cg));
    b.set("/linux/resources", res);
    let o = rt.run_detached(&b, &id);
    (id, cg, o)
}

/// (controller, file, expected) checks; a file the kernel lacks is skipped
/// with a note, a wrong value is collected.
fn check_files(cg: &str, want: &[(&str, &str, String)], errs: &mut Vec<String>, what: &str) {
    for (ctrl, file, w) in want {
        if !cg_kernel_offers(ctrl, file) {
            tong_testkit::skip::allowed(&format!(
                "{what}: this kernel/hierarchy has no {ctrl}/{file}"
            ));
            continue;
        }
        match cg_read(ctrl, cg, file) {
            Some(got) if got == *w => {}
            got => errs.push(format!("{what}: {ctrl}/{file} = {got:?}, want {w:?}")),
        }
    }
}

/// blkio.weight where the kernel has it, else BFQ's blkio.bfq.weight (as runc 1.1).
fn blkio_weight_file() -> Option<&'static str> {
    if cg_kernel_offers("blkio", "blkio.weight") {
        Some("blkio.weight")
    } else if cg_kernel_offers("blkio", "blkio.bfq.weight") {
        Some("blkio.bfq.weight")
    } else {
        None
    }
}

fn root_block_dev() -> Option<(u64, u64)> {
    let st = nix::sys::stat::stat("/").ok()?;
    let (maj, min) = (
        nix::sys::stat::major(st.st_dev),
        nix::sys::stat::minor(st.st_dev),
    );
    if std::path::Path::new(&format!("/sys/dev/block/{maj}:{min}")).exists() {
        Some((maj, min))
    } else {
        None
    }
}

fn bfq_weight(s: &str) -> String {
    // blkio.bfq.weight reads "default N"
    s.trim().trim_start_matches("default").trim().to_string()
}

#[test]
fn config_fields_read_back() {
    require_root!();
    if tong_testkit::cgroups::pure_v2() {
        skip_because!("v1 files (pure cgroup v2 host): tests/cgroup_v2.rs reads back the v2 ones");
    }
    let ctx = Ctx::new("res-config");
    let mut res = json!({
        "memory": {"limit": 256 * MIB, "reservation": 128 * MIB, "swap": 512 * MIB,
                   "kernelTCP": 64 * MIB, "swappiness": 30, "disableOOMKiller": true},
        "cpu": {"shares": 512, "quota": 20000, "period": 50000, "burst": 10000,
                "cpus": "0", "mems": "0"},
        "pids": {"limit": 77},
        "devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "c", "major": 240, "minor": 7, "access": "rw"}
        ]
    });
    let dev = root_block_dev();
    if let Some((maj, min)) = dev {
        res["blockIO"] = json!({
            "throttleReadBpsDevice": [{"major": maj, "minor": min, "rate": 1048576}],
            "throttleWriteBpsDevice": [{"major": maj, "minor": min, "rate": 2097152}],
            "throttleReadIOPSDevice": [{"major": maj, "minor": min, "rate": 1000}],
            "throttleWriteIOPSDevice": [{"major": maj, "minor": min, "rate": 2000}]
        });
    } else {
        tong_testkit::skip::allowed("blkio throttle: / is not on a block device");
    }
    let (id, cg, o) = running_with(&ctx, Kind::Tong, "c", res);
    o.success();
    let mut want = vec![
        ("memory", "memory.limit_in_bytes", (256 * MIB).to_string()),
        (
            "memory",
            "memory.soft_limit_in_bytes",
            (128 * MIB).to_string(),
        ),
        (
            "memory",
            "memory.memsw.limit_in_bytes",
            (512 * MIB).to_string(),
        ),
        (
            "memory",
            "memory.kmem.tcp.limit_in_bytes",
            (64 * MIB).to_string(),
        ),
        ("memory", "memory.swappiness", "30".to_string()),
        ("cpu", "cpu.shares", "512".to_string()),
        ("cpu", "cpu.cfs_quota_us", "20000".to_string()),
        ("cpu", "cpu.cfs_period_us", "50000".to_string()),
        ("cpu", "cpu.cfs_burst_us", "10000".to_string()),
        ("cpuset", "cpuset.cpus", "0".to_string()),
        ("cpuset", "cpuset.mems", "0".to_string()),
        ("pids", "pids.max", "77".to_string()),
    ];
    if let Some((maj, min)) = dev {
        want.push((
            "blkio",
            "blkio.throttle.read_bps_device",
            format!("{maj}:{min} 1048576"),
        ));
        want.push((
            "blkio",
            "blkio.throttle.write_bps_device",
            format!("{maj}:{min} 2097152"),
        ));
        want.push((
            "blkio",
            "blkio.throttle.read_iops_device",
            format!("{maj}:{min} 1000"),
        ));
        want.push((
            "blkio",
            "blkio.throttle.write_iops_device",
            format!("{maj}:{min} 2000"),
        ));
    }
    let mut errs = vec![];
    check_files(&cg, &want, &mut errs, "config.json");
    let oc = cg_read("memory", &cg, "memory.oom_control").unwrap_or_default();
    if !oc.contains("oom_kill_disable 1") {
        errs.push(format!("disableOOMKiller: memory.oom_control {oc:?}"));
    }
    let dl = cg_read("devices", &cg, "devices.list").unwrap_or_default();
    for l in ["c 1:3 rwm", "c 240:7 rw"] {
        if !dl.lines().any(|x| x == l) {
            errs.push(format!("devices.list lacks {l:?}: {dl:?}"));
        }
    }
    if dl.lines().any(|x| x.starts_with("a ")) {
        errs.push(format!("devices.list still allows all: {dl:?}"));
    }
    // And from inside: the limit as the container sees it.
    let inside = ctx.tong.cmd(&[
        "exec",
        &id,
        "cat",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        "/sys/fs/cgroup/pids/pids.max",
    ]);
    if inside.code == 0 {
        assert_eq!(
            inside.stdout.split_whitespace().collect::<Vec<_>>(),
            vec![(256 * MIB).to_string(), "77".to_string()]
        );
    }
    assert!(errs.is_empty(), "{errs:#?}");
}

/// (name, resources, optional (controller, file, wanted value)).
type KernelCase<'a> = (&'a str, Value, Option<(&'a str, &'a str, &'a str)>);

#[test]
fn config_fields_kernel_dependent_vs_runc() {
    require_root!();
    require_runc!();
    let ctx = Ctx::new("res-kdep");
    // Fields whose acceptance depends on the kernel (kmem limits are gone in
    // 6.x, rt group scheduling may be off, cpu.idle is new, BFQ weights need
    // BFQ): tong must accept or refuse like runc, and apply what it accepts.
    let weight_file = blkio_weight_file();
    let mut cases: Vec<KernelCase> = vec![
        (
            "kernel",
            json!({"memory": {"kernel": 64 * MIB}}),
            Some(("memory", "memory.kmem.limit_in_bytes", "67108864")),
        ),
        (
            "rt",
            json!({"cpu": {"realtimePeriod": 1000000, "realtimeRuntime": 10000}}),
            Some(("cpu", "cpu.rt_runtime_us", "10000")),
        ),
        (
            "idle",
            json!({"cpu": {"idle": 1}}),
            Some(("cpu", "cpu.idle", "1")),
        ),
        ("unified", json!({"unified": {"pids.max": "10"}}), None),
        (
            "hugetlb",
            json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 8 * MIB}]}),
            Some(("hugetlb", "hugetlb.2MB.limit_in_bytes", "8388608")),
        ),
        (
            "netcls",
            json!({"network": {"classID": 1048577, "priorities": [{"name": "lo", "priority": 5}]}}),
            Some(("net_cls", "net_cls.classid", "1048577")),
        ),
    ];
    if let (Some((maj, min)), true) = (root_block_dev(), weight_file.is_some()) {
        let wd = if weight_file == Some("blkio.weight") {
            "blkio.weight_device"
        } else {
            "blkio.bfq.weight_device"
        };
        cases.push((
            "weight-device",
            json!({"blockIO": {"weightDevice": [{"major": maj, "minor": min, "weight": 200}]}}),
            Some(("blkio", wd, "WD")),
        ));
    }
    if let Some(wf) = weight_file {
        cases.push((
            "weight",
            json!({"blockIO": {"weight": 300}}),
            Some(("blkio", wf, "300")),
        ));
    } else {
        tong_testkit::skip::allowed("blkio weight: neither blkio.weight nor blkio.bfq.weight");
    }
    let mut errs = vec![];
    for (name, res, file) in cases {
        let (tid, tcg, t) = running_with(&ctx, Kind::Tong, &format!("{name}-t"), res.clone());
        let (rid, _, r) = running_with(&ctx, Kind::Runc, &format!("{name}-r"), res.clone());
        if t.ok() != r.ok() {
            errs.push(format!(
                "{name}: tong {} runc {} (tong: {} runc: {})",
                t.code,
                r.code,
                t.stderr.trim(),
                r.stderr.trim()
            ));
        } else if t.ok() {
            if let Some((ctrl, f, w)) = file {
                if !cg_kernel_offers(ctrl, f) {
                    tong_testkit::skip::allowed(&format!("{name}: no {ctrl}/{f} here"));
                } else {
                    // What the kernel keeps may differ from what was asked
                    // (kmem limits are a no-op on 6.x): compare with runc's.
                    let norm = |s: String| if f.contains("bfq") { bfq_weight(&s) } else { s };
                    let got = cg_read(ctrl, &tcg, f).map(norm);
                    let rgot = cg_read(ctrl, &format!("/{rid}"), f).map(norm);
                    if got.as_deref() == Some(w) && got != rgot {
                        eprintln!(
                            "NOTE {name}: tong applies {ctrl}/{f} = {w}; runc 1.1 leaves {rgot:?}"
                        );
                    } else if got != rgot {
                        errs.push(format!("{name}: {ctrl}/{f} = {got:?} with tong, {rgot:?} with runc (asked {w})"));
                    } else if got.as_deref() != Some(w) {
                        eprintln!(
                            "NOTE {name}: the kernel keeps {got:?} for {w} with both runtimes"
                        );
                    }
                }
            }
        } else {
            eprintln!(
                "NOTE {name}: both runtimes refuse it here (runc: {})",
                r.stderr.trim()
            );
        }
        ctx.tong.delete_force(&tid);
        ctx.runc.delete_force(&rid);
    }
    assert!(errs.is_empty(), "{errs:#?}");
}

fn update(rt: &Runtime, args: &[&str], stdin: Option<&str>) -> Out {
    let mut c = rt.command();
    c.arg("update").args(args);
    if let Some(s) = stdin {
        // Through a file: Out's exec() gives the command a null stdin otherwise.
        let p = std::env::temp_dir().join(format!(
            "tong-res-stdin-{}-{}",
            std::process::id(),
            rand_n()
        ));
        std::fs::write(&p, s).unwrap();
        let f = std::fs::File::open(&p).unwrap();
        let _ = std::fs::remove_file(&p);
        let mut child = c
            .stdin(Stdio::from(f))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let st = wait_timeout(&mut child, CMD_TIMEOUT, "update");
        use std::io::Read;
        let mut out = String::new();
        let mut err = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        return Out {
            code: st.code().unwrap_or(-1),
            stdout: out,
            stderr: err,
            out_path: Default::default(),
            err_path: Default::default(),
            what: format!("{:?} update {args:?} <stdin", rt.kind),
        };
    }
    rt.exec(c, &format!("update {}", args.join(" ")))
}

fn rand_n() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[test]
fn update_flags_read_back_running() {
    require_root!();
    let ctx = Ctx::new("res-upd-flags");
    let (id, cg, o) = running_with(
        &ctx,
        Kind::Tong,
        "u",
        json!({"memory": {"limit": 256 * MIB, "swap": 512 * MIB}, "pids": {"limit": 100}}),
    );
    o.success();
    let t = &ctx.tong;
    let mut args: Vec<String> = vec![
        "--memory",
        "314572800",
        "--memory-swap",
        "629145600",
        "--memory-reservation",
        "104857600",
        "--cpu-shares",
        "333",
        "--cpu-period",
        "40000",
        "--cpu-quota",
        "30000",
        "--cpuset-cpus",
        "0",
        "--cpuset-mems",
        "0",
        "--pids-limit",
        "55",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let wf = blkio_weight_file();
    if wf.is_some() {
        args.extend(["--blkio-weight".to_string(), "444".to_string()]);
    }
    args.push(id.clone());
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    update(t, &a, None).success();
    let mut errs = vec![];
    check_files(
        &cg,
        &[
            ("memory", "memory.limit_in_bytes", "314572800".into()),
            ("memory", "memory.memsw.limit_in_bytes", "629145600".into()),
            ("memory", "memory.soft_limit_in_bytes", "104857600".into()),
            ("cpu", "cpu.shares", "333".into()),
            ("cpu", "cpu.cfs_period_us", "40000".into()),
            ("cpu", "cpu.cfs_quota_us", "30000".into()),
            ("cpuset", "cpuset.cpus", "0".into()),
            ("cpuset", "cpuset.mems", "0".into()),
            ("pids", "pids.max", "55".into()),
        ],
        &mut errs,
        "update flags",
    );
    if let Some(f) = wf {
        let got = cg_read("blkio", &cg, f).map(|s| bfq_weight(&s));
        if got.as_deref() != Some("444") {
            errs.push(format!("--blkio-weight: {f} = {got:?}"));
        }
    }
    // Lowering both memory limits needs the limit first, raising needs memsw
    // first (v1 requires memsw >= limit at every step).
    update(
        t,
        &["--memory", "104857600", "--memory-swap", "209715200", &id],
        None,
    )
    .success();
    check_files(
        &cg,
        &[
            ("memory", "memory.limit_in_bytes", "104857600".into()),
            ("memory", "memory.memsw.limit_in_bytes", "209715200".into()),
        ],
        &mut errs,
        "update lowering memory+swap",
    );
    update(
        t,
        &["--memory", "1073741824", "--memory-swap", "2147483648", &id],
        None,
    )
    .success();
    check_files(
        &cg,
        &[
            ("memory", "memory.limit_in_bytes", "1073741824".into()),
            ("memory", "memory.memsw.limit_in_bytes", "2147483648".into()),
        ],
        &mut errs,
        "update raising memory+swap",
    );
    // -1 = unlimited for pids (runc takes "--pids-limit -1" as well as "=-1")
    for form in [vec!["--pids-limit=-1"], vec!["--pids-limit", "-1"]] {
        update(t, &["--pids-limit", "50", &id], None).success();
        let mut a = form.clone();
        a.push(&id);
        let o = update(t, &a, None);
        if !o.ok() {
            errs.push(format!(
                "update {form:?}: exit {}: {}",
                o.code,
                o.stderr.trim()
            ));
        }
        check_files(
            &cg,
            &[("pids", "pids.max", "max".into())],
            &mut errs,
            &format!("update {form:?}"),
        );
    }
    // runc's spelling of the shares flag is --cpu-share.
    let o = update(t, &["--cpu-share", "222", &id], None);
    if !o.ok() {
        errs.push(format!(
            "update --cpu-share (runc's flag name): exit {}: {}",
            o.code,
            o.stderr.lines().next().unwrap_or("")
        ));
    } else {
        check_files(
            &cg,
            &[("cpu", "cpu.shares", "222".into())],
            &mut errs,
            "update --cpu-share",
        );
    }
    // rt flags where the kernel has rt group scheduling
    if cg_kernel_offers("cpu", "cpu.rt_runtime_us") {
        let o = update(
            t,
            &[
                "--cpu-rt-period",
                "1000000",
                "--cpu-rt-runtime",
                "5000",
                &id,
            ],
            None,
        );
        if o.ok() {
            check_files(
                &cg,
                &[
                    ("cpu", "cpu.rt_runtime_us", "5000".into()),
                    ("cpu", "cpu.rt_period_us", "1000000".into()),
                ],
                &mut errs,
                "update rt",
            );
        } else {
            eprintln!("NOTE update --cpu-rt-*: {}", o.stderr.trim());
        }
    }
    // tong-only flags (runc 1.1 dropped the kernel memory flags).
    if cg_kernel_offers("memory", "memory.kmem.tcp.limit_in_bytes") {
        update(t, &["--kernel-memory-tcp", "33554432", &id], None).success();
        check_files(
            &cg,
            &[(
                "memory",
                "memory.kmem.tcp.limit_in_bytes",
                "33554432".into(),
            )],
            &mut errs,
            "update --kernel-memory-tcp",
        );
    }
    // runc's unit suffixes (--memory 300m)
    let o = update(t, &["--memory", "300m", &id], None);
    if o.ok() {
        check_files(
            &cg,
            &[("memory", "memory.limit_in_bytes", (300 * MIB).to_string())],
            &mut errs,
            "update --memory 300m",
        );
    } else {
        errs.push(format!("update --memory 300m: {}", o.stderr.trim()));
    }
    // The container is unaffected and running.
    assert_eq!(t.status(&id), "running");
    // Unknown container / invalid value fail.
    assert_ne!(
        update(t, &["--pids-limit", "5", "no-such-ctr-z"], None).code,
        0
    );
    assert_ne!(update(t, &["--memory", "lots", &id], None).code, 0);
    assert!(errs.is_empty(), "{errs:#?}");
}

#[test]
fn update_resources_file_and_stdin() {
    require_root!();
    let ctx = Ctx::new("res-upd-file");
    let (id, cg, o) = running_with(
        &ctx,
        Kind::Tong,
        "f",
        json!({
            "memory": {"limit": 64 * MIB, "reservation": 32 * MIB},
            "cpu": {"shares": 512, "quota": 10000, "period": 100000},
            "pids": {"limit": 100}
        }),
    );
    o.success();
    let t = &ctx.tong;
    let mut errs = vec![];
    // --resources FILE (podman's form), full LinuxResources.
    let f = ctx.work.join("res.json");
    std::fs::write(&f, json!({"memory": {"limit": 96 * MIB, "swap": 192 * MIB}, "cpu": {"shares": 256, "cpus": "0"}, "pids": {"limit": 42}}).to_string()).unwrap();
    update(t, &[&format!("--resources={}", f.display()), &id], None).success();
    check_files(
        &cg,
        &[
            ("memory", "memory.limit_in_bytes", (96 * MIB).to_string()),
            (
                "memory",
                "memory.memsw.limit_in_bytes",
                (192 * MIB).to_string(),
            ),
            (
                "memory",
                "memory.soft_limit_in_bytes",
                (32 * MIB).to_string(),
            ),
            ("cpu", "cpu.shares", "256".into()),
            ("cpu", "cpu.cfs_quota_us", "10000".into()),
            ("cpuset", "cpuset.cpus", "0".into()),
            ("pids", "pids.max", "42".into()),
        ],
        &mut errs,
        "update --resources FILE",
    );
    // Docker's stdin: zeros mean unchanged; only quota/period/pids change.
    let docker = r#"{"memory":{"limit":0,"reservation":0,"kernel":0},"cpu":{"shares":0,"quota":70000,"period":100000},"pids":{"limit":60},"blockIO":{"weight":0}}"#;
    update(t, &["--resources", "-", &id], Some(docker)).success();
    check_files(
        &cg,
        &[
            ("memory", "memory.limit_in_bytes", (96 * MIB).to_string()),
            (
                "memory",
                "memory.memsw.limit_in_bytes",
                (192 * MIB).to_string(),
            ),
            (
                "memory",
                "memory.soft_limit_in_bytes",
                (32 * MIB).to_string(),
            ),
            ("cpu", "cpu.shares", "256".into()),
            ("cpu", "cpu.cfs_quota_us", "70000".into()),
            ("cpu", "cpu.cfs_period_us", "100000".into()),
            ("pids", "pids.max", "60".into()),
        ],
        &mut errs,
        "docker update stdin",
    );
    if let Some(wf) = blkio_weight_file() {
        let w = cg_read("blkio", &cg, wf)
            .map(|s| bfq_weight(&s))
            .unwrap_or_default();
        if w == "0" {
            errs.push(format!("docker update wrote blkio weight 0 ({wf})"));
        }
    }
    // Invalid JSON fails and changes nothing.
    let o = update(t, &["--resources", "-", &id], Some("{not json"));
    assert_ne!(o.code, 0, "update with invalid JSON succeeded");
    check_files(
        &cg,
        &[("pids", "pids.max", "60".into())],
        &mut errs,
        "after invalid update",
    );
    // An empty object is a no-op.
    update(t, &["--resources", "-", &id], Some("{}")).success();
    check_files(
        &cg,
        &[("cpu", "cpu.cfs_quota_us", "70000".into())],
        &mut errs,
        "after {} update",
    );
    assert!(errs.is_empty(), "{errs:#?}");
}

#[test]
fn docker_update_stdin_vs_runc() {
    require_root!();
    require_runc!();
    let ctx = Ctx::new("res-docker");
    let docker = r#"{"memory":{"limit":0,"reservation":0,"kernel":0},"cpu":{"shares":0,"quota":70000,"period":100000},"pids":{"limit":60},"blockIO":{"weight":0}}"#;
    let files = [
        ("memory", "memory.limit_in_bytes"),
        ("memory", "memory.soft_limit_in_bytes"),
        ("memory", "memory.memsw.limit_in_bytes"),
        ("cpu", "cpu.shares"),
        ("cpu", "cpu.cfs_quota_us"),
        ("cpu", "cpu.cfs_period_us"),
        ("pids", "pids.max"),
    ];
    let mut seen = vec![];
    for k in [Kind::Tong, Kind::Runc] {
        let (id, cg, o) = running_with(
            &ctx,
            k,
            &format!("{k:?}"),
            json!({"memory": {"limit": 128 * MIB}, "cpu": {"shares": 700}}),
        );
        o.success();
        let u = update(ctx.rt(k), &["--resources", "-", &id], Some(docker));
        let vals: Vec<Option<String>> = files.iter().map(|(c, f)| cg_read(c, &cg, f)).collect();
        seen.push((u.code, vals));
    }
    assert_eq!(
        seen[0], seen[1],
        "docker update: tong (exit, files) vs runc"
    );
    assert_eq!(seen[0].0, 0);
}

#[test]
fn update_paused_container() {
    require_root!();
    require_runc!();
    let ctx = Ctx::new("res-paused");
    let mut seen = vec![];
    for k in [Kind::Tong, Kind::Runc] {
        let rt = ctx.rt(k);
        let (id, cg, o) = running_with(&ctx, k, &format!("{k:?}"), json!({"pids": {"limit": 100}}));
        o.success();
        rt.cmd(&["pause", &id]).success();
        // runc 1.1 names the flag --cpu-share; tong --cpu-shares (see update_flags_read_back_running)
        let shares = if k == Kind::Runc {
            "--cpu-share"
        } else {
            "--cpu-shares"
        };
        let u = update(
            rt,
            &[
                "--pids-limit",
                "33",
                shares,
                "600",
                "--memory",
                "209715200",
                &id,
            ],
            None,
        );
        let state_after = rt.status(&id);
        // v1's freezer.state; pure v2's cgroup.freeze, in v1's words.
        let freezer = if tong_testkit::cgroups::pure_v2() {
            cg_read("", &cg, "cgroup.freeze")
                .map(|v| if v == "1" { "FROZEN" } else { "THAWED" }.to_string())
        } else {
            cg_read("freezer", &cg, "freezer.state")
        };
        let vals = (
            cg_read("pids", &cg, "pids.max"),
            cg_read("cpu", &cg, "cpu.shares"),
            cg_read("memory", &cg, "memory.limit_in_bytes"),
        );
        rt.cmd(&["resume", &id]).success();
        assert_eq!(rt.status(&id), "running", "{k:?}");
        // the process runs again after resume
        let e = rt.cmd(&["exec", &id, "echo", "alive"]).success();
        assert_eq!(e.stdout, "alive\n");
        seen.push((u.code, state_after, freezer, vals));
    }
    assert_eq!(
        seen[0], seen[1],
        "update of a paused container: tong vs runc"
    );
    assert_eq!(seen[0].0, 0);
    assert_eq!(seen[0].1, "paused", "update thawed the container");
    assert_eq!(seen[0].2.as_deref(), Some("FROZEN"));
    assert_eq!(seen[0].3 .0.as_deref(), Some("33"));
}

#[test]
fn update_stopped_and_limits_enforced() {
    require_root!();
    let ctx = Ctx::new("res-enforce");
    let (id, _cg, o) = running_with(&ctx, Kind::Tong, "e", json!({"pids": {"limit": 100}}));
    o.success();
    let t = &ctx.tong;
    // A lowered pids limit is enforced inside at once.
    update(t, &["--pids-limit", "3", &id], None).success();
    let o = t.cmd(&[
        "exec",
        &id,
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do sleep 5 & done 2>&1; wait; echo done",
    ]);
    let all = format!("{}{}", o.stdout, o.stderr);
    assert!(
        all.contains("Resource temporarily unavailable")
            || all.contains("can't fork")
            || o.code != 0,
        "forking past an updated pids limit of 3 succeeded: {all}"
    );
    update(t, &["--pids-limit", "100", &id], None).success();
    t.cmd(&["exec", &id, "sh", "-c", "sleep 0 & wait"])
        .success();
    // Stopped container: update fails (there is no cgroup to write).
    t.kill(&id, "KILL").success();
    t.wait_stopped(&id);
    let o = update(t, &["--pids-limit", "5", &id], None);
    assert_ne!(o.code, 0, "update of a stopped container succeeded");
}
