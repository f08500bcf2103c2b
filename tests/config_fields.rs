//! config.json fields other than process/mounts/namespaces: hostname,
//! domainname, linux.sysctl, cgroupsPath and resources (memory, cpu, pids,
//! devices), default devices and linux.devices, maskedPaths, readonlyPaths,
//! root.readonly, annotations. Each checked inside the container and on the host.

mod common;
use common::*;
use serde_json::json;
use std::time::Duration;

fn read(p: impl AsRef<std::path::Path>) -> String {
    std::fs::read_to_string(p.as_ref())
        .unwrap_or_else(|e| panic!("read {}: {e}", p.as_ref().display()))
        .trim()
        .to_string()
}

#[test]
fn hostname_and_domainname() {
    require_root!();
    let ctx = Ctx::new("cf-host");
    let host_name = nix::unistd::gethostname().unwrap();
    let host_domain = read("/proc/sys/kernel/domainname");
    let mut b =
        ctx.bundle("hostname; cat /proc/sys/kernel/hostname; cat /proc/sys/kernel/domainname");
    b.set("/hostname", json!("tong-it-host"));
    b.set("/domainname", json!("it.example"));
    let out = ctx.tong.output_of(&b, &ctx.id(""));
    assert_eq!(out, "tong-it-host\ntong-it-host\nit.example\n");
    assert_eq!(
        nix::unistd::gethostname().unwrap(),
        host_name,
        "host hostname changed"
    );
    assert_eq!(
        read("/proc/sys/kernel/domainname"),
        host_domain,
        "host domainname changed"
    );

    // A hostname without a private UTS namespace is refused, cleanly.
    let mut b = ctx.bundle("true");
    b.remove_namespace("uts");
    let id = ctx.id("nouts");
    let o = ctx.tong.create(&b, &id, &[]).failure();
    assert!(
        o.stderr.contains("UTS") || o.stderr.contains("uts"),
        "{o:?}"
    );
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}

#[test]
fn sysctl_in_container_namespaces_only() {
    require_root!();
    let ctx = Ctx::new("cf-sysctl");
    let host_fwd = read("/proc/sys/net/ipv4/ip_forward");
    let host_msgmax = read("/proc/sys/kernel/msgmax");
    let fwd = if host_fwd == "1" { "0" } else { "1" };
    let mut b = ctx.bundle("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax /proc/sys/net/ipv4/ping_group_range");
    b.set("/linux/sysctl", json!({"net.ipv4.ip_forward": fwd, "kernel.msgmax": "12345", "net.ipv4.ping_group_range": "0 2147483647"}));
    let out = ctx.tong.output_of(&b, &ctx.id(""));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], fwd);
    assert_eq!(lines[1], "12345");
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>(),
        ["0", "2147483647"]
    );
    assert_eq!(
        read("/proc/sys/net/ipv4/ip_forward"),
        host_fwd,
        "host sysctl changed"
    );
    assert_eq!(
        read("/proc/sys/kernel/msgmax"),
        host_msgmax,
        "host sysctl changed"
    );

    // Not namespaced, or the namespace is the host's: refused before any effect.
    let host_swappiness = read("/proc/sys/vm/swappiness");
    let cases = [
        (json!({"vm.swappiness": "17"}), None),
        (json!({"net.ipv4.ip_forward": fwd}), Some("network")),
        (json!({"kernel.msgmax": "999"}), Some("ipc")),
    ];
    for (i, (sysctl, drop_ns)) in cases.into_iter().enumerate() {
        let mut b = ctx.bundle("true");
        b.set("/linux/sysctl", sysctl.clone());
        if let Some(ns) = drop_ns {
            b.remove_namespace(ns);
        }
        let id = ctx.id(&format!("bad{i}"));
        let o = ctx.tong.create(&b, &id, &[]).failure();
        assert!(o.stderr.contains("sysctl"), "{sysctl}: {o:?}");
        assert_clean_simple(&ctx.tong, &id, &b, &[]);
    }
    assert_eq!(read("/proc/sys/vm/swappiness"), host_swappiness);
    assert_eq!(read("/proc/sys/net/ipv4/ip_forward"), host_fwd);
    assert_eq!(read("/proc/sys/kernel/msgmax"), host_msgmax);
}

#[test]
fn default_cgroup_created_and_removed() {
    require_root!();
    let ctx = Ctx::new("cf-cgdef");
    let id = ctx.id("");
    let b = ctx.bundle("cat /proc/self/cgroup; echo ready; exec sleep 1000");
    let c = ctx.tong.create(&b, &id, &[]).success();
    let pid = ctx.tong.pid(&id);
    for ctrl in ["memory", "pids", "devices", "cpu", "freezer"] {
        let d = cgroup_dir(ctrl, &format!("/{id}"));
        assert!(d.is_dir(), "{} missing", d.display());
        let procs = read(d.join("cgroup.procs"));
        assert!(
            procs.lines().any(|l| l == pid.to_string()),
            "{ctrl}: init {pid} not in {procs:?}"
        );
    }
    // v1: the memory controller's line; pure v2: the one "0::" line.
    let ctrl = if tong_testkit::cgroups::pure_v2() {
        ":"
    } else {
        ":memory:"
    };
    let host_view = read(format!("/proc/{pid}/cgroup"));
    assert!(
        host_view
            .lines()
            .any(|l| l.ends_with(&format!("{ctrl}/{id}"))),
        "{host_view}"
    );
    ctx.tong.start(&id).success();
    wait_until("ready", Duration::from_secs(10), || {
        c.stdout_now().contains("ready")
    });
    ctx.tong.delete_force(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[pid]);
}

#[test]
fn cgroup_resources_applied() {
    require_root!();
    let ctx = Ctx::new("cf-cgres");
    let id = ctx.id("");
    let parent = format!("tong-it-{}-res", std::process::id());
    let cgpath = format!("/{parent}/{id}");
    ctx.cgroup_parents.borrow_mut().push(format!("/{parent}"));
    let v2 = tong_testkit::cgroups::pure_v2();
    let inside = if v2 {
        "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max"
    } else {
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max"
    };
    let mut b = ctx.bundle(&format!("{inside}; echo ready; exec sleep 1000"));
    b.set("/linux/cgroupsPath", json!(cgpath));
    b.set(
        "/linux/resources",
        json!({
            "devices": [{"allow": false, "access": "rwm"}],
            "memory": {"limit": 64 * 1024 * 1024, "reservation": 32 * 1024 * 1024},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000},
            "pids": {"limit": 42}
        }),
    );
    let c = ctx.tong.create(&b, &id, &[]).success();
    let pid = ctx.tong.pid(&id);
    assert!(
        !cgroup_dir("memory", &format!("/{id}")).exists(),
        "default path used instead of cgroupsPath"
    );
    let set = |v2f: &str, v1f: &str| tong_testkit::cgroups::setting(&cgpath, v2f, v1f);
    let want = |v2f: &str, v1f: &str, v2v: &str, v1v: &str| {
        assert_eq!(
            set(v2f, v1f).as_deref(),
            Some(if v2 { v2v } else { v1v }),
            "{}",
            if v2 { v2f } else { v1f }
        )
    };
    want(
        "memory.max",
        "memory.limit_in_bytes",
        "67108864",
        "67108864",
    );
    want(
        "memory.low",
        "memory.soft_limit_in_bytes",
        "33554432",
        "33554432",
    );
    // v2: runc's conversion of shares, 1 + ((512 - 2) * 9999) / 262142.
    want("cpu.weight", "cpu.shares", "20", "512");
    want("cpu.max", "cpu.cfs_quota_us", "50000 100000", "50000");
    if !v2 {
        want("cpu.max", "cpu.cfs_period_us", "", "100000");
    }
    want("pids.max", "pids.max", "42", "42");
    let procs = read(cgroup_dir("memory", &cgpath).join("cgroup.procs"));
    assert!(procs.lines().any(|l| l == pid.to_string()), "{procs}");
    // Inside: the container's cgroup mount shows its own cgroup's limits.
    ctx.tong.start(&id).success();
    wait_until("ready", Duration::from_secs(10), || {
        c.stdout_now().contains("ready")
    });
    assert_eq!(c.stdout_now(), "67108864\n42\nready\n");
    ctx.tong.delete_force(&id).success();
    assert_clean(Leftovers {
        rt: &ctx.tong,
        id: &id,
        bundle: Some(&b.dir),
        cgroup: Some(cgpath),
        pids: vec![pid],
    });
}

#[test]
fn pids_limit_enforced() {
    require_root!();
    let ctx = Ctx::new("cf-pidsmax");
    let mut b = ctx.bundle(
        "for i in 1 2 3 4 5 6 7 8; do sleep 1000 & done; echo spawned-all; exec sleep 1000",
    );
    b.set("/linux/resources/pids", json!({"limit": 4}));
    let id = ctx.id("");
    let o = ctx.tong.run_detached(&b, &id).success();
    let cur = cgroup_dir("pids", &format!("/{id}")).join("pids.current");
    wait_until("fork refused", Duration::from_secs(10), || {
        o.stderr_now().contains("fork")
    });
    let n: i32 = read(&cur).parse().unwrap();
    assert!(n <= 4, "pids.max=4 not enforced: pids.current={n}");
    assert!(
        !o.stdout_now().contains("spawned-all"),
        "all 8 forks succeeded"
    );
    ctx.tong.delete_force(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}

#[test]
fn devices_default_and_config() {
    require_root!();
    let ctx = Ctx::new("cf-dev");
    let mut b = ctx.bundle(
        "ls -l /dev | grep -v '^total'; for l in ptmx fd stdin stdout stderr; do echo \"$l -> $(readlink /dev/$l)\"; done; \
         echo x > /dev/null && echo null-ok; head -c 4 /dev/zero | wc -c; echo y > /dev/mydev && echo mydev-ok; echo ready; exec sleep 1000",
    );
    b.set(
        "/linux/devices",
        // Podman sends the file type bits too (S_IFCHR | 0640), as runc accepts.
        json!([{"path": "/dev/mydev", "type": "c", "major": 1, "minor": 3, "fileMode": 0o20640, "uid": 0, "gid": 0}]),
    );
    let id = ctx.id("");
    let c = ctx.tong.create(&b, &id, &[]).success();
    ctx.tong.start(&id).success();
    wait_until("ready", Duration::from_secs(10), || {
        c.stdout_now().contains("ready")
    });
    let out = c.stdout_now();
    let dev_line = |name: &str| -> String {
        out.lines()
            .find(|l| {
                l.split_whitespace().last() == Some(name) || l.contains(&format!(" {name} -> "))
            })
            .unwrap_or_else(|| panic!("/dev/{name} missing:\n{out}"))
            .to_string()
    };
    for (name, maj, min) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        let l = dev_line(name);
        assert!(l.starts_with("crw-rw-rw-"), "/dev/{name}: {l}");
        assert!(
            l.contains(&format!("{maj},")) && l.contains(&format!(" {min} ")),
            "/dev/{name} numbers: {l}"
        );
    }
    let l = dev_line("mydev");
    assert!(l.starts_with("crw-r-----"), "linux.devices fileMode: {l}");
    for (l, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        assert!(
            out.contains(&format!("{l} -> {target}\n")),
            "/dev/{l} should link to {target}:\n{out}"
        );
    }
    assert!(out.contains("null-ok") && out.contains("mydev-ok"), "{out}");
    assert!(
        out.lines().any(|l| l.trim() == "4"),
        "/dev/zero read: {out}"
    );
    // Host: the devices cgroup denies by default and allows the listed devices
    // (pure v2: an eBPF program, which device_cgroup_denies_unlisted and
    // tests/cgroup_v2.rs check by its effect; it has no file to read).
    if tong_testkit::cgroups::pure_v2() {
        ctx.tong.delete_force(&id).success();
        return;
    }
    let list = read(cgroup_dir("devices", &format!("/{id}")).join("devices.list"));
    assert!(
        !list.contains("a *:* rwm"),
        "devices cgroup allows everything: {list}"
    );
    assert!(list.lines().any(|l| l == "c 1:3 rwm"), "{list}");
    assert!(list.lines().any(|l| l == "c 136:* rwm"), "{list}");
    ctx.tong.delete_force(&id).success();
}

#[test]
fn device_cgroup_denies_unlisted() {
    require_root!();
    let ctx = Ctx::new("cf-devdeny");
    let mut b = ctx.bundle("mknod /tmp/x c 1 1 2>&1; echo rc=$?");
    b.set("/process/capabilities/bounding", json!(["CAP_MKNOD"]));
    b.set("/process/capabilities/effective", json!(["CAP_MKNOD"]));
    b.set("/process/capabilities/permitted", json!(["CAP_MKNOD"]));
    b.set("/root/readonly", json!(false));
    let out = ctx.tong.output_of(&b, &ctx.id("mknod"));
    // mknod is allowed by the default rules ("c *:* m"), reading it is not.
    assert!(
        out.contains("rc=0"),
        "mknod of a char device should be allowed: {out}"
    );
    let mut b = ctx.bundle(
        "mknod /tmp/x c 1 1; head -c 1 /tmp/x >/dev/null 2>&1 && echo read-ok || echo read-denied",
    );
    b.set(
        "/process/capabilities/bounding",
        json!(["CAP_MKNOD", "CAP_SYS_RAWIO"]),
    );
    b.set(
        "/process/capabilities/effective",
        json!(["CAP_MKNOD", "CAP_SYS_RAWIO"]),
    );
    b.set(
        "/process/capabilities/permitted",
        json!(["CAP_MKNOD", "CAP_SYS_RAWIO"]),
    );
    b.set("/root/readonly", json!(false));
    let out = ctx.tong.output_of(&b, &ctx.id("read"));
    assert!(
        out.contains("read-denied"),
        "devices cgroup let the container read /dev/mem: {out}"
    );
}

#[test]
fn masked_and_readonly_paths() {
    require_root!();
    let ctx = Ctx::new("cf-mask");
    let b = ctx.bundle(
        "wc -c < /proc/timer_list; ls -A /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo sys-writable || echo sys-ro; \
         echo h > /proc/sysrq-trigger 2>/dev/null && echo sysrq-writable || echo sysrq-ro; cat /proc/self/mountinfo",
    );
    let out = ctx.tong.output_of(&b, &ctx.id(""));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0].trim(), "0", "/proc/timer_list not masked");
    assert_eq!(lines[1].trim(), "0", "/sys/firmware not masked");
    assert_eq!(lines[2], "sys-ro");
    assert_eq!(lines[3], "sysrq-ro"); // missing on this kernel: writing fails too
    let mi = parse_mountinfo(&out);
    let tl = find_mount(&mi, "/proc/timer_list").expect("/proc/timer_list mount");
    assert!(tl.root == "/null", "timer_list masked by {tl:?}");
    // Masking skips a missing path: /proc/kcore exists on some kernels only.
    let kcore = find_mount(&mi, "/proc/kcore");
    if std::path::Path::new("/proc/kcore").exists() {
        assert!(kcore.is_some_and(|m| m.root == "/null"), "{kcore:?}");
    } else {
        assert!(kcore.is_none(), "{kcore:?}");
    }
    let fw = find_mount(&mi, "/sys/firmware").expect("/sys/firmware mount");
    assert!(
        fw.opts.contains(&"ro".to_string()) && fw.fstype == "tmpfs",
        "{fw:?}"
    );
    for p in [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ] {
        if !std::path::Path::new(p).exists() {
            continue; // readonlyPaths that do not exist are skipped (no sysrq on this kernel)
        }
        let m = find_mount(&mi, p).unwrap_or_else(|| panic!("{p} not a mount"));
        assert!(
            m.opts.contains(&"ro".to_string()),
            "{p} not read-only: {m:?}"
        );
    }
}

#[test]
fn root_readonly_or_not() {
    require_root!();
    let ctx = Ctx::new("cf-rootro");
    let b = ctx.bundle("touch /newfile 2>&1; echo rc=$?; cat /proc/self/mountinfo");
    let out = ctx.tong.output_of(&b, &ctx.id("ro"));
    assert!(
        out.contains("Read-only file system") && out.contains("rc=1"),
        "{out}"
    );
    let root = parse_mountinfo(&out)
        .into_iter()
        .find(|m| m.point == "/")
        .expect("root mount");
    assert!(root.opts.contains(&"ro".to_string()), "{root:?}");
    assert!(!b.rootfs().join("newfile").exists());

    let mut b = ctx.bundle("touch /newfile; echo rc=$?; cat /proc/self/mountinfo");
    b.set("/root/readonly", json!(false));
    let out = ctx.tong.output_of(&b, &ctx.id("rw"));
    assert!(out.contains("rc=0"), "{out}");
    assert!(
        b.rootfs().join("newfile").exists(),
        "file written in a rw root must land in the bundle rootfs"
    );
}

#[test]
fn annotations_kept_in_state() {
    require_root!();
    let ctx = Ctx::new("cf-annot");
    let mut b = ctx.bundle("exec sleep 1000");
    b.set(
        "/annotations",
        json!({"io.example/a": "1", "b": "two words"}),
    );
    let id = ctx.id("");
    ctx.tong.create(&b, &id, &[]).success();
    let st = ctx.tong.state(&id);
    assert_eq!(
        st["annotations"],
        json!({"io.example/a": "1", "b": "two words"})
    );
    ctx.tong.start(&id).success();
    assert_eq!(ctx.tong.state(&id)["annotations"]["b"], "two words");
    ctx.tong.kill(&id, "KILL").success();
    ctx.tong.wait_stopped(&id);
    assert_eq!(ctx.tong.state(&id)["annotations"]["io.example/a"], "1");
    // No annotations: no key, as runc.
    let b2 = ctx.bundle("exec sleep 1000");
    let id2 = ctx.id("none");
    ctx.tong.create(&b2, &id2, &[]).success();
    assert!(ctx.tong.state(&id2).get("annotations").is_none());
}
