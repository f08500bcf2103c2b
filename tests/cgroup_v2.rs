//! A pure cgroup v2 host: the files tong writes for every resource (runc as
//! the oracle where runc 1.1.5 writes them too), update of each field, the
//! eBPF device filter enforced inside the container and replaced by update,
//! freeze, cgroup.kill, exec --cgroup, nested and pre-existing cgroups, the
//! cgroup namespace and the CPU affinity reset. Each test skips, with the
//! reason, on a v1 or hybrid host: hack/test's v2-vm stage runs this binary
//! in a pure-v2 qemu guest (tests/vm/v2.sh).

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tong_testkit::cgroups::{dir_for, pure_v2};

const MIB: u64 = 1024 * 1024;

macro_rules! require_v2 {
    () => {
        require_root!();
        if !pure_v2() {
            skip_because!(
                "needs pure cgroup v2: this host has v1 hierarchies (tests/vm/v2.sh runs this in a pure-v2 guest)"
            );
        }
    };
}

fn cg_dir(cg: &str) -> PathBuf {
    dir_for("", cg)
}

fn read(cg: &str, file: &str) -> String {
    std::fs::read_to_string(cg_dir(cg).join(file))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|e| format!("<{file}: {e}>"))
}

/// A running `sleep` container of runtime `k` with cgroupsPath /<id> and
/// `edit` applied; returns (id, cgroupsPath).
fn running(ctx: &Ctx, k: Kind, suffix: &str, edit: impl FnOnce(&mut Bundle)) -> (String, String) {
    let id = ctx.id(&format!(
        "{suffix}-{}",
        if k == Kind::Tong { "t" } else { "r" }
    ));
    let cg = format!("/{id}");
    let mut b = ctx.bundle("exec sleep 1000");
    b.set("/linux/cgroupsPath", json!(cg));
    b.set("/root/readonly", json!(false));
    edit(&mut b);
    ctx.rt(k).run_detached(&b, &id).success();
    (id, cg)
}

/// 2 MiB huge pages where the kernel has them.
fn has_hugetlb_2m() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers")
        .exists()
        .then(|| std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").unwrap_or_default())
        .is_some_and(|c| c.split_whitespace().any(|x| x == "hugetlb"))
        && Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists()
}

#[test]
fn resources_written_as_runc() {
    require_v2!();
    let ctx = Ctx::new("v2-res");
    let mut res = json!({
        "memory": {"limit": 256 * MIB, "reservation": 128 * MIB, "swap": 512 * MIB},
        "cpu": {"shares": 512, "quota": 20000, "period": 50000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 77},
        "blockIO": {"weight": 500},
        "unified": {"memory.high": "200003584", "memory.min": "1048576", "memory.oom.group": "1"}
    });
    // (file, value) both runtimes must write.
    let mut want: Vec<(&str, String)> = vec![
        ("memory.max", (256 * MIB).to_string()),
        ("memory.low", (128 * MIB).to_string()),
        ("memory.swap.max", (256 * MIB).to_string()),
        ("memory.high", "200003584".into()),
        ("memory.min", "1048576".into()),
        ("memory.oom.group", "1".into()),
        ("cpu.weight", "20".into()),
        ("cpu.max", "20000 50000".into()),
        ("cpuset.cpus", "0".into()),
        ("cpuset.mems", "0".into()),
        ("pids.max", "77".into()),
    ];
    if has_hugetlb_2m() {
        res["hugepageLimits"] = json!([{"pageSize": "2MB", "limit": 4 * MIB}]);
        want.push(("hugetlb.2MB.max", (4 * MIB).to_string()));
    } else {
        tong_testkit::skip::allowed("hugetlb: this kernel has no 2 MiB huge pages");
    }
    let mut errs = Vec::new();
    for k in [Kind::Tong, Kind::Runc] {
        let (_, cg) = running(&ctx, k, "a", |b| {
            b.set("/linux/resources", res.clone());
        });
        for (f, w) in &want {
            let got = read(&cg, f);
            if got != *w {
                errs.push(format!("{k:?}: {f} = {got:?}, want {w:?}"));
            }
        }
        // blockIO weight: BFQ's io.bfq.weight takes it as is, else io.weight
        // gets runc's conversion (500 -> 4950).
        let (f, w) = if cg_dir(&cg).join("io.bfq.weight").exists() {
            ("io.bfq.weight", "default 500")
        } else {
            ("io.weight", "default 4950")
        };
        if cg_dir(&cg).join(f).exists() && read(&cg, f) != w {
            errs.push(format!("{k:?}: {f} = {:?}, want {w:?}", read(&cg, f)));
        }
    }
    // What runc 1.1.5 does not write yet (runc 1.2 does): cpu.idle, burst.
    let (_, cg) = running(&ctx, Kind::Tong, "b", |b| {
        b.set(
            "/linux/resources",
            json!({"cpu": {"idle": 1, "burst": 10000, "quota": 20000, "period": 50000}}),
        );
    });
    for (f, w) in [("cpu.idle", "1"), ("cpu.max.burst", "10000")] {
        if read(&cg, f) != w {
            errs.push(format!("tong: {f} = {:?}, want {w:?}", read(&cg, f)));
        }
    }
    assert!(errs.is_empty(), "{errs:#?}");
}

/// What both runtimes refuse (runc's words where tong shares them).
#[test]
fn resource_errors_as_runc() {
    require_v2!();
    let ctx = Ctx::new("v2-reserr");
    for (name, res, words) in [
        (
            "swap-without-limit",
            json!({"memory": {"swap": 64 * MIB}}),
            "unable to set swap limit without memory limit",
        ),
        (
            "swap-below-limit",
            json!({"memory": {"limit": 64 * MIB, "swap": 32 * MIB}}),
            "memory+swap limit should be >= memory limit",
        ),
        (
            "unified-unknown-controller",
            json!({"unified": {"nosuch.max": "1"}}),
            "",
        ),
    ] {
        for k in [Kind::Tong, Kind::Runc] {
            let id = ctx.id(&format!("{name}-{k:?}"));
            let mut b = ctx.bundle("true");
            b.set("/linux/cgroupsPath", json!(format!("/{id}")));
            b.set("/linux/resources", res.clone());
            let o = ctx.rt(k).run(&b, &id, &[]);
            assert_ne!(o.code, 0, "{k:?} {name}: accepted");
            assert!(o.stderr.contains(words), "{k:?} {name}: {}", o.stderr);
            // runc's config validator refuses a swap memory.swap.max cannot
            // express before anything is made: its words, with no init prefix.
            if !words.is_empty() {
                let line = format!("run failed: {words}\"");
                assert!(o.stderr.contains(&line), "{k:?} {name}: {}", o.stderr);
            }
            assert!(
                !cg_dir(&format!("/{id}")).exists(),
                "{k:?} {name}: cgroup left behind"
            );
        }
    }
}

#[test]
fn update_every_field() {
    require_v2!();
    let ctx = Ctx::new("v2-upd");
    let mut errs = Vec::new();
    for k in [Kind::Tong, Kind::Runc] {
        let rt = ctx.rt(k);
        let (id, cg) = running(&ctx, k, "u", |b| {
            b.set(
                "/linux/resources",
                json!({"memory": {"limit": 64 * MIB, "swap": 128 * MIB}}),
            );
        });
        rt.cmd(&[
            "update",
            "--memory",
            "100000000",
            "--memory-swap",
            "200000000",
            "--memory-reservation",
            "50000000",
            "--cpu-share",
            "1024",
            "--cpu-quota",
            "30000",
            "--cpu-period",
            "60000",
            "--cpuset-cpus",
            "0",
            "--cpuset-mems",
            "0",
            "--pids-limit",
            "50",
            &id,
        ])
        .success();
        for (f, w) in [
            ("memory.max", "99999744"),
            ("memory.swap.max", "99999744"),
            ("memory.low", "49999872"),
            ("cpu.weight", "39"),
            ("cpu.max", "30000 60000"),
            ("cpuset.cpus", "0"),
            ("pids.max", "50"),
        ] {
            if read(&cg, f) != w {
                errs.push(format!(
                    "{k:?} update: {f} = {:?}, want {w:?}",
                    read(&cg, f)
                ));
            }
        }
        // --resources: unified and pids.
        let file = ctx.work.join(format!("res-{k:?}.json"));
        std::fs::write(
            &file,
            json!({"pids": {"limit": 33}, "unified": {"memory.high": "80003072"}}).to_string(),
        )
        .unwrap();
        rt.cmd(&["update", "--resources", file.to_str().unwrap(), &id])
            .success();
        for (f, w) in [("pids.max", "33"), ("memory.high", "80003072")] {
            if read(&cg, f) != w {
                errs.push(format!(
                    "{k:?} --resources: {f} = {:?}, want {w:?}",
                    read(&cg, f)
                ));
            }
        }
    }
    assert!(errs.is_empty(), "{errs:#?}");
}

/// Opens the device node /NAME (made in the rootfs by the host: the
/// container has no CAP_MKNOD): the device filter says EPERM before the
/// driver says ENXIO (major 240 has none).
fn open_dev(rt: &Runtime, id: &str, name: &str, mode: &str) -> String {
    let script = if mode == "r" {
        format!("head -c1 </{name} 2>&1")
    } else {
        format!("echo x >/{name} 2>&1")
    };
    let o = rt.cmd(&["exec", id, "sh", "-c", &script]);
    format!("{} {}", o.stdout.trim(), o.stderr.trim())
}

fn mknod(rootfs: &Path, name: &str, kind: nix::sys::stat::SFlag, major: u64, minor: u64) {
    nix::sys::stat::mknod(
        &rootfs.join(name),
        kind,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(major, minor),
    )
    .unwrap();
}

#[test]
fn device_filter_enforced_and_updated() {
    require_v2!();
    let ctx = Ctx::new("v2-dev");
    let t = &ctx.tong;
    use nix::sys::stat::SFlag;
    let (id, _) = running(&ctx, Kind::Tong, "d", |b| {
        let r = b.rootfs();
        mknod(&r, "d7", SFlag::S_IFCHR, 240, 7);
        mknod(&r, "d8", SFlag::S_IFCHR, 240, 8);
        mknod(&r, "blk", SFlag::S_IFBLK, 7, 0);
        b.set(
            "/linux/resources/devices",
            json!([
                {"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 240, "minor": 7, "access": "r"},
                {"allow": false, "type": "c", "major": 240, "minor": 8, "access": "rwm"}
            ]),
        );
    });
    // The defaults: /dev/null and /dev/zero work.
    let o = t.cmd(&[
        "exec",
        &id,
        "sh",
        "-c",
        "echo x >/dev/null && head -c1 /dev/zero | wc -c",
    ]);
    assert_eq!(o.stdout.trim(), "1", "defaults: {}", o.stderr);
    let perm = "Operation not permitted";
    let nodev = "No such device or address";
    let r = open_dev(t, &id, "d7", "r");
    assert!(
        r.contains(nodev),
        "240:7 r allowed (driver says ENXIO): {r}"
    );
    let w = open_dev(t, &id, "d7", "w");
    assert!(w.contains(perm), "240:7 w denied: {w}");
    let d = open_dev(t, &id, "d8", "r");
    assert!(d.contains(perm), "240:8 denied: {d}");
    // A block device not in the list cannot be opened.
    let b = open_dev(t, &id, "blk", "r");
    assert!(b.contains(perm), "block 7:0 opened: {b}");
    // update replaces the program: 240:8 allowed now, 240:7 no longer.
    let file = ctx.work.join("dev.json");
    std::fs::write(
        &file,
        json!({"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 240, "minor": 8, "access": "rw"}
        ]})
        .to_string(),
    )
    .unwrap();
    t.cmd(&["update", "--resources", file.to_str().unwrap(), &id])
        .success();
    let d = open_dev(t, &id, "d8", "w");
    assert!(d.contains(nodev), "after update 240:8 w allowed: {d}");
    let r = open_dev(t, &id, "d7", "r");
    assert!(r.contains(perm), "after update 240:7 denied: {r}");
    let o = t.cmd(&["exec", &id, "sh", "-c", "echo x >/dev/null && echo ok"]);
    assert_eq!(o.stdout.trim(), "ok", "defaults after update: {}", o.stderr);
}

#[test]
fn freeze_kill_and_events() {
    require_v2!();
    let ctx = Ctx::new("v2-frz");
    let t = &ctx.tong;
    let (id, cg) = running(&ctx, Kind::Tong, "f", |b| {
        b.set("/linux/resources", json!({"memory": {"limit": 64 * MIB}}));
    });
    t.cmd(&["exec", "-d", &id, "sleep", "900"]).success();
    t.cmd(&["pause", &id]).success();
    assert_eq!(read(&cg, "cgroup.freeze"), "1");
    assert!(read(&cg, "cgroup.events").contains("frozen 1"));
    assert_eq!(t.status(&id), "paused");
    t.cmd(&["resume", &id]).success();
    assert_eq!(read(&cg, "cgroup.freeze"), "0");
    assert_eq!(t.status(&id), "running");
    // events --stats from the v2 files.
    let o = t.cmd(&["events", "--stats", &id]).success();
    let ev: Value = serde_json::from_str(o.stdout.trim()).unwrap();
    let d = &ev["data"];
    assert_eq!(d["memory"]["usage"]["limit"], json!(64 * MIB), "{ev}");
    assert!(d["pids"]["current"].as_u64() >= Some(2), "{ev}");
    assert!(d["cpu"]["usage"]["total"].as_u64() > Some(0), "{ev}");
    // kill --all of a paused container: everything dies (cgroup.kill).
    t.cmd(&["pause", &id]).success();
    t.cmd(&["kill", "--all", &id, "KILL"]).success();
    wait_until("cgroup empty", Duration::from_secs(10), || {
        read(&cg, "cgroup.procs").is_empty()
    });
    t.wait_stopped(&id);
    t.delete(&id).success();
    assert!(!cg_dir(&cg).exists(), "cgroup left after delete");
}

#[test]
fn exec_into_sub_cgroup() {
    require_v2!();
    let ctx = Ctx::new("v2-sub");
    let mut outs = Vec::new();
    for k in [Kind::Tong, Kind::Runc] {
        let rt = ctx.rt(k);
        let (id, cg) = running(&ctx, k, "s", |_| {});
        std::fs::create_dir(cg_dir(&cg).join("sub")).unwrap();
        let o = rt
            .cmd(&["exec", "--cgroup", "sub", &id, "cat", "/proc/self/cgroup"])
            .success();
        assert_eq!(o.stdout.trim(), format!("0::{cg}/sub"), "{k:?}");
        let o = rt.cmd(&["exec", "--cgroup", "nosuch", &id, "true"]);
        assert_ne!(o.code, 0, "{k:?}: exec into a missing sub-cgroup");
        outs.push(
            o.stderr
                .replace(&id, "ID")
                .split("error adding pid")
                .nth(1)
                .map(|s| s.split_once(':').map_or("", |x| x.1).to_string())
                .unwrap_or_default(),
        );
        rt.delete_force(&id).success();
        assert!(!cg_dir(&cg).exists(), "{k:?}: cgroup with sub left");
    }
    // runc: "...error adding pid N to cgroups: failed to write N: openat2
    // .../nosuch/cgroup.procs: no such file or directory".
    let norm = |s: &str| {
        s.split_whitespace()
            .filter(|w| !w.chars().all(|c| c.is_ascii_digit() || c == ':'))
            .map(|w| w.replace("-t/", "-X/").replace("-r/", "-X/"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(norm(&outs[0]), norm(&outs[1]), "tong vs runc");
}

#[test]
fn nested_and_existing_cgroups() {
    require_v2!();
    let ctx = Ctx::new("v2-nest");
    let t = &ctx.tong;
    let base = format!("/{}", ctx.id("n"));
    ctx.cgroup_parents.borrow_mut().push(base.clone());
    ctx.cgroup_parents.borrow_mut().push(format!("{base}/a"));
    let id = ctx.id("n1");
    let cg = format!("{base}/a/{id}");
    let mut b = ctx.bundle("exec sleep 1000");
    b.set("/linux/cgroupsPath", json!(cg));
    b.set("/linux/resources", json!({"memory": {"limit": 64 * MIB}}));
    t.run_detached(&b, &id).success();
    assert_eq!(read(&cg, "memory.max"), (64 * MIB).to_string());
    let sc = read(&format!("{base}/a"), "cgroup.subtree_control");
    for c in ["cpu", "memory", "pids", "io"] {
        assert!(
            sc.split_whitespace().any(|x| x == c),
            "{c} not enabled: {sc}"
        );
    }
    // A second container into the same (non-empty) cgroup: refused as by
    // runc 1.2, and the first container's cgroup is left alone.
    let id2 = ctx.id("n2");
    let o = t.run(&b, &id2, &["-d"]);
    assert_ne!(o.code, 0, "run in a non-empty cgroup succeeded");
    assert!(
        o.stderr
            .contains("container's cgroup is not empty: 1 process(es) found"),
        "{}",
        o.stderr
    );
    assert_eq!(t.status(&id), "running");
    t.delete_force(&id).success();
    assert!(!cg_dir(&cg).exists());
    // A frozen pre-existing cgroup: refused by both runtimes.
    std::fs::create_dir(cg_dir(&cg)).unwrap();
    std::fs::write(cg_dir(&cg).join("cgroup.freeze"), "1").unwrap();
    for k in [Kind::Tong, Kind::Runc] {
        let id3 = ctx.id(&format!("n3-{k:?}"));
        let o = ctx.rt(k).run(&b, &id3, &["-d"]);
        assert_ne!(o.code, 0, "{k:?}: run in a frozen cgroup succeeded");
        assert!(
            o.stderr.contains("container's cgroup unexpectedly frozen"),
            "{k:?}: {}",
            o.stderr
        );
    }
    let _ = std::fs::remove_dir(cg_dir(&cg));
}

#[test]
fn cgroup_namespace_and_affinity() {
    require_v2!();
    let ctx = Ctx::new("v2-ns");
    let t = &ctx.tong;
    let (id, cg) = running(&ctx, Kind::Tong, "c", |b| {
        b.push_namespace(json!({"type": "cgroup"}));
        b.set(
            "/linux/resources",
            json!({"memory": {"limit": 64 * MIB}, "cpu": {"cpus": "0"}}),
        );
    });
    let o = t
        .cmd(&[
            "exec",
            &id,
            "sh",
            "-c",
            "cat /proc/self/cgroup /sys/fs/cgroup/memory.max; grep Cpus_allowed_list /proc/1/status",
        ])
        .success();
    let lines: Vec<&str> = o.stdout.lines().map(str::trim).collect();
    assert_eq!(lines[0], "0::/", "{}", o.stdout);
    assert_eq!(lines[1], (64 * MIB).to_string(), "{}", o.stdout);
    assert!(
        lines[2].ends_with("\t0") || lines[2].ends_with(" 0"),
        "{}",
        o.stdout
    );
    assert_eq!(read(&cg, "cpuset.cpus"), "0");
    // Started with a narrower affinity than its cpuset: reset to the cpuset
    // (runc 1.2), for the init and for exec'd processes.
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    if ncpu < 2 {
        skip_because!("the affinity reset needs 2 CPUs, this machine has 1");
    }
    let id2 = ctx.id("aff");
    let mut b = ctx.bundle("exec sleep 1000");
    b.set("/linux/cgroupsPath", json!(format!("/{id2}")));
    b.save();
    t.track(&id2);
    let mut c = t.command();
    c.args(["run", "-d", "--bundle"]).arg(&b.dir).arg(&id2);
    let mut c2 = std::process::Command::new("taskset");
    c2.arg("-c")
        .arg("0")
        .arg(c.get_program())
        .args(c.get_args());
    let o = t.exec(c2, "taskset run");
    assert_eq!(o.code, 0, "{}", o.stderr);
    let pid = t.pid(&id2);
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let all = format!("0-{}", ncpu - 1);
    assert_eq!(
        status_field(&st, "Cpus_allowed_list").as_deref(),
        Some(all.as_str()),
        "init kept tong's narrower affinity"
    );
}
