//! Namespaces: pid, network, mount, ipc, uts, user, cgroup, time — new ones
//! (checked by /proc/<pid>/ns/* against the host, and from inside), joined ones
//! by `path`, uid/gid mappings and timeOffsets.

mod common;
use common::*;
use serde_json::json;
use std::time::Duration;

const ALL: &[(&str, &str)] = &[
    ("pid", "pid"),
    ("network", "net"),
    ("mount", "mnt"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("cgroup", "cgroup"),
    ("time", "time"),
    ("user", "user"),
];

/// Starts `b` detached-style (create + start) running `script` then sleeping,
/// and returns (id, pid, container output handle).
fn start_sleeping(ctx: &Ctx, b: &Bundle, id: &str) -> (i32, Out) {
    let c = ctx.tong.create(b, id, &[]).success();
    ctx.tong.start(id).success();
    wait_until("ready", Duration::from_secs(10), || {
        c.stdout_now().contains("ready")
    });
    (ctx.tong.pid(id), c)
}

#[test]
fn new_namespaces_differ_from_host() {
    require_root!();
    let ctx = Ctx::new("ns-new");
    let mut b = ctx.bundle("for n in pid net mnt ipc uts cgroup time user; do echo \"$n $(readlink /proc/self/ns/$n)\"; done; echo ready; exec sleep 1000");
    b.push_namespace(json!({"type": "cgroup"}));
    b.push_namespace(json!({"type": "time"}));
    let id = ctx.id("");
    let (pid, c) = start_sleeping(&ctx, &b, &id);
    let inside = c.stdout_now();
    let pid_s = pid.to_string();
    for (typ, link) in ALL {
        let host = ns_link("self", link);
        let cont = ns_link(&pid_s, link);
        let seen = inside
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{link} ")))
            .unwrap_or("");
        assert_eq!(
            seen, cont,
            "{link}: inside and host views of the container differ"
        );
        if *typ == "user" {
            assert_eq!(cont, host, "no user namespace was asked for");
        } else {
            assert_ne!(
                cont, host,
                "{typ}: the container shares the host's namespace"
            );
        }
    }
    ctx.tong.delete_force(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[pid]);
}

#[test]
fn namespaces_not_asked_for_are_shared() {
    require_root!();
    let ctx = Ctx::new("ns-shared");
    let mut b = ctx.bundle("echo ready; exec sleep 1000");
    b.set(
        "/linux/namespaces",
        json!([{"type": "mount"}, {"type": "pid"}]),
    );
    b.set("/hostname", json!(null));
    let id = ctx.id("");
    let (pid, _) = start_sleeping(&ctx, &b, &id);
    let p = pid.to_string();
    for link in ["net", "ipc", "uts", "cgroup", "user", "time"] {
        assert_eq!(
            ns_link(&p, link),
            ns_link("self", link),
            "{link} should be the host's"
        );
    }
    for link in ["mnt", "pid"] {
        assert_ne!(
            ns_link(&p, link),
            ns_link("self", link),
            "{link} should be new"
        );
    }
    ctx.tong.delete_force(&id).success();
}

#[test]
fn pid_net_ipc_uts_cgroup_effects_inside() {
    require_root!();
    let ctx = Ctx::new("ns-inside");
    // v1: the memory hierarchy's line; pure v2: the one "0::" line.
    let (grep, ctrl) = if tong_testkit::cgroups::pure_v2() {
        ("^0::", "0::")
    } else {
        ("memory", ":memory:")
    };
    let mut b = ctx.bundle(&format!("echo pid=$$; ls /sys/class/net | tr '\\n' ' '; echo; grep -c . /proc/net/dev; ipcs -q | grep -c '^0x' ; cat /proc/self/cgroup | grep {grep}"));
    b.push_namespace(json!({"type": "cgroup"}));
    let out = ctx.tong.output_of(&b, &ctx.id(""));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "pid=1", "{out}");
    assert_eq!(
        lines[1].trim(),
        "lo",
        "only loopback in a new network namespace: {out}"
    );
    assert_eq!(lines[2], "3", "/proc/net/dev: header + lo: {out}");
    // cgroup namespace: the container's own cgroup is its root.
    assert!(
        lines.last().unwrap().ends_with(&format!("{ctrl}/")),
        "{out}"
    );

    // Without a cgroup namespace the path shows.
    let b = ctx.bundle(&format!("grep {grep} /proc/self/cgroup"));
    let id = ctx.id("nocgns");
    let out = ctx.tong.output_of(&b, &id);
    assert!(out.trim().ends_with(&format!("{ctrl}/{id}")), "{out}");
}

#[test]
fn join_namespaces_by_path() {
    require_root!();
    let ctx = Ctx::new("ns-join");
    let a = ctx.bundle("echo ready; exec sleep 1000");
    let ida = ctx.id("a");
    let (pa, _) = start_sleeping(&ctx, &a, &ida);
    let mut b = ctx.bundle("hostname; echo ready; exec sleep 1000");
    b.push_namespace(json!({"type": "network", "path": format!("/proc/{pa}/ns/net")}));
    b.push_namespace(json!({"type": "ipc", "path": format!("/proc/{pa}/ns/ipc")}));
    b.push_namespace(json!({"type": "uts", "path": format!("/proc/{pa}/ns/uts")}));
    b.set("/hostname", json!(null));
    let idb = ctx.id("b");
    let (pb, cb) = start_sleeping(&ctx, &b, &idb);
    let (pa_s, pb_s) = (pa.to_string(), pb.to_string());
    for link in ["net", "ipc", "uts"] {
        assert_eq!(
            ns_link(&pb_s, link),
            ns_link(&pa_s, link),
            "{link} not joined"
        );
        assert_ne!(ns_link(&pb_s, link), ns_link("self", link));
    }
    for link in ["pid", "mnt"] {
        assert_ne!(
            ns_link(&pb_s, link),
            ns_link(&pa_s, link),
            "{link} should be new"
        );
    }
    assert_eq!(
        cb.stdout_now().lines().next(),
        Some("tong"),
        "joined uts shows a's hostname"
    );
    ctx.tong.delete_force(&idb).success();
    // The joined namespaces belong to a: it survives b's deletion.
    assert!(alive(pa));
    assert_eq!(ctx.tong.status(&ida), "running");
    ctx.tong.delete_force(&ida).success();
    assert_clean_simple(&ctx.tong, &idb, &b, &[pb]);
    assert_clean_simple(&ctx.tong, &ida, &a, &[pa]);

    // A path that is not a namespace of that type fails cleanly.
    let mut c = ctx.bundle("true");
    c.push_namespace(json!({"type": "network", "path": "/proc/self/ns/ipc"}));
    let idc = ctx.id("bad");
    ctx.tong.create(&c, &idc, &[]).failure();
    assert_clean_simple(&ctx.tong, &idc, &c, &[]);
    let mut d = ctx.bundle("true");
    d.push_namespace(json!({"type": "network", "path": "/proc/999999999/ns/net"}));
    let idd = ctx.id("missing");
    ctx.tong.create(&d, &idd, &[]).failure();
    assert_clean_simple(&ctx.tong, &idd, &d, &[]);
}

#[test]
fn user_namespace_with_mappings() {
    require_root!();
    let ctx = Ctx::new("ns-user");
    let mut b =
        ctx.bundle("id -u; cat /proc/self/uid_map /proc/self/gid_map; echo ready; exec sleep 1000");
    b.userns(100000, 65536);
    // The rootfs must be usable by the mapped root.
    let id = ctx.id("");
    let (pid, c) = start_sleeping(&ctx, &b, &id);
    let out = c.stdout_now();
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["0"], "{out}");
    assert_eq!(lines[1], ["0", "100000", "65536"], "uid_map: {out}");
    assert_eq!(lines[2], ["0", "100000", "65536"], "gid_map: {out}");
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert_eq!(
        status_field(&st, "Uid").unwrap().split_whitespace().next(),
        Some("100000"),
        "host uid of container root"
    );
    assert_ne!(ns_link(&pid.to_string(), "user"), ns_link("self", "user"));
    ctx.tong.delete_force(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[pid]);

    // A user namespace without mappings is refused.
    let mut b = ctx.bundle("true");
    b.push_namespace(json!({"type": "user"}));
    let id = ctx.id("nomap");
    let o = ctx.tong.create(&b, &id, &[]).failure();
    assert!(o.stderr.contains("mapping"), "{o:?}");
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}

#[test]
fn time_namespace_offsets() {
    require_root!();
    let ctx = Ctx::new("ns-time");
    let mut b = ctx.bundle("cut -d' ' -f1 /proc/uptime; echo ready; exec sleep 1000");
    b.push_namespace(json!({"type": "time"}));
    b.set("/linux/timeOffsets", json!({"monotonic": {"secs": 1000000, "nanosecs": 0}, "boottime": {"secs": 2000000, "nanosecs": 0}}));
    let id = ctx.id("");
    let (pid, c) = start_sleeping(&ctx, &b, &id);
    let inside: f64 = c.stdout_now().lines().next().unwrap().parse().unwrap();
    let host: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        inside - host > 1_999_000.0 && inside - host < 2_001_000.0,
        "boottime offset not applied: inside {inside}, host {host}"
    );
    let offs = std::fs::read_to_string(format!("/proc/{pid}/timens_offsets")).unwrap();
    assert!(
        offs.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["monotonic", "1000000", "0"]),
        "{offs}"
    );
    assert!(
        offs.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["boottime", "2000000", "0"]),
        "{offs}"
    );
    ctx.tong.delete_force(&id).success();

    // Offsets without a new time namespace are refused.
    let mut b = ctx.bundle("true");
    b.set(
        "/linux/timeOffsets",
        json!({"monotonic": {"secs": 10, "nanosecs": 0}}),
    );
    let id = ctx.id("nons");
    ctx.tong.create(&b, &id, &[]).failure();
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}

#[test]
fn join_user_and_pid_namespaces_by_path() {
    require_root!();
    let ctx = Ctx::new("ns-joinuser");
    let mut a = ctx.bundle("echo ready; exec sleep 1000");
    a.userns(200000, 65536);
    let ida = ctx.id("a");
    let (pa, _) = start_sleeping(&ctx, &a, &ida);
    let pa_s = pa.to_string();

    // b joins a's user namespace (no mappings of its own) with a new pid namespace.
    let mut b = ctx.bundle("id -u; cat /proc/self/uid_map; echo ready; exec sleep 1000");
    b.userns(200000, 65536);
    b.push_namespace(json!({"type": "user", "path": format!("/proc/{pa}/ns/user")}));
    b.edit(|c| {
        let l = c["linux"].as_object_mut().unwrap();
        l.remove("uidMappings");
        l.remove("gidMappings");
    });
    let idb = ctx.id("b");
    let (pb, cb) = start_sleeping(&ctx, &b, &idb);
    let pb_s = pb.to_string();
    assert_eq!(
        ns_link(&pb_s, "user"),
        ns_link(&pa_s, "user"),
        "user namespace not joined"
    );
    assert_ne!(
        ns_link(&pb_s, "pid"),
        ns_link(&pa_s, "pid"),
        "pid namespace should be new"
    );
    let out = cb.stdout_now();
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["0"], "{out}");
    assert_eq!(lines[1], ["0", "200000", "65536"], "{out}");

    // c joins a's pid namespace: its process is visible from a's namespace.
    let mut c = ctx.bundle("echo ready; exec sleep 1001");
    c.userns(200000, 65536);
    c.push_namespace(json!({"type": "user", "path": format!("/proc/{pa}/ns/user")}));
    c.push_namespace(json!({"type": "pid", "path": format!("/proc/{pa}/ns/pid")}));
    c.edit(|c| {
        let l = c["linux"].as_object_mut().unwrap();
        l.remove("uidMappings");
        l.remove("gidMappings");
    });
    let idc = ctx.id("c");
    let o = ctx.tong.create(&c, &idc, &[]);
    if o.ok() {
        ctx.tong.start(&idc).success();
        let pc = ctx.tong.pid(&idc);
        assert_eq!(
            ns_link(&pc.to_string(), "pid"),
            ns_link(&pa_s, "pid"),
            "pid namespace not joined"
        );
        let st = std::fs::read_to_string(format!("/proc/{pc}/status")).unwrap();
        let nspid_line = status_field(&st, "NSpid").unwrap();
        let nspid: Vec<&str> = nspid_line.split_whitespace().collect();
        assert_eq!(nspid.len(), 2, "NSpid {nspid:?}: one level below the host");
        assert_ne!(nspid[1], "1", "joined pid namespace already has its init");
        ctx.tong.delete_force(&idc).success();
        assert_clean_simple(&ctx.tong, &idc, &c, &[pc]);
    } else {
        panic!("joining user+pid namespaces by path failed: {o:?}");
    }
    ctx.tong.delete_force(&idb).success();
    ctx.tong.delete_force(&ida).success();
    assert_clean_simple(&ctx.tong, &idb, &b, &[pb]);
    assert_clean_simple(&ctx.tong, &ida, &a, &[pa]);
}
