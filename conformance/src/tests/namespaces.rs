//! config-linux.md namespaces (new, joined by path, inherited), user
//! namespace mappings, time offsets; config.md hostname/domainname.

use crate::harness::{ns_link, t, Bundle, Ctx, TResult, Test, Verdict};
use crate::{ensure, fail, skip};
use serde_json::json;
use std::path::Path;

pub fn tests() -> Vec<Test> {
    vec![
        t("config-linux/namespaces/pid-new", |c| ns_new(c, "pid")),
        t("config-linux/namespaces/network-new", |c| {
            ns_new(c, "network")
        }),
        t("config-linux/namespaces/mount-new", |c| ns_new(c, "mount")),
        t("config-linux/namespaces/ipc-new", |c| ns_new(c, "ipc")),
        t("config-linux/namespaces/uts-new", |c| ns_new(c, "uts")),
        t("config-linux/namespaces/user-new", |c| ns_new(c, "user")),
        t("config-linux/namespaces/cgroup-new", |c| {
            ns_new(c, "cgroup")
        }),
        t("config-linux/namespaces/time-new", |c| ns_new(c, "time")),
        t("config-linux/namespaces/pid-path", |c| ns_path(c, "pid")),
        t("config-linux/namespaces/network-path", |c| {
            ns_path(c, "network")
        }),
        t("config-linux/namespaces/mount-path", mount_path),
        t("config-linux/namespaces/ipc-path", |c| ns_path(c, "ipc")),
        t("config-linux/namespaces/uts-path", |c| ns_path(c, "uts")),
        t("config-linux/namespaces/user-path", |c| ns_path(c, "user")),
        t("config-linux/namespaces/cgroup-path", |c| {
            ns_path(c, "cgroup")
        }),
        t("config-linux/namespaces/time-path", |c| ns_path(c, "time")),
        t("config-linux/namespaces/network-inherit", |c| {
            ns_inherit(c, "network")
        }),
        t("config-linux/namespaces/ipc-inherit", |c| {
            ns_inherit(c, "ipc")
        }),
        t("config-linux/namespaces/uts-inherit", |c| {
            ns_inherit(c, "uts")
        }),
        t("config-linux/namespaces/pid-init-is-pid-1", pid_one),
        t(
            "config-linux/namespaces/network-only-loopback",
            net_loopback,
        ),
        t("config-linux/user-mappings/uid-gid-map", id_maps),
        t("config-linux/user-mappings/multiple-ranges", id_maps_multi),
        t("config-linux/time-offsets", time_offsets),
        t("config/hostname", hostname),
        t("config/domainname", domainname),
    ]
}

/// /proc/<pid>/ns/<file> name for a config namespace type.
pub fn ns_file(typ: &str) -> &'static str {
    match typ {
        "pid" => "pid",
        "network" => "net",
        "mount" => "mnt",
        "ipc" => "ipc",
        "uts" => "uts",
        "user" => "user",
        "cgroup" => "cgroup",
        "time" => "time",
        _ => panic!("ns type {typ}"),
    }
}

fn kernel_has(typ: &str) -> TResult {
    if !Path::new(&format!("/proc/self/ns/{}", ns_file(typ))).exists() {
        skip!("kernel has no {typ} namespaces");
    }
    Ok(())
}

/// Add a user namespace with a 65536-id mapping at host 100000.
pub fn add_userns(b: &mut Bundle) {
    b.add_ns("user", None);
    b.set(
        "/linux/uidMappings",
        json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
    );
    b.set(
        "/linux/gidMappings",
        json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
    );
}

fn with_ns(b: &mut Bundle, typ: &str) {
    match typ {
        "user" => add_userns(b),
        _ => {
            b.add_ns(typ, None);
        }
    }
}

fn ns_new(ctx: &mut Ctx, typ: &str) -> TResult {
    kernel_has(typ)?;
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    with_ns(&mut b, typ);
    let id = ctx.create(&b)?;
    let pid = ctx.pid(&id)?.to_string();
    let f = ns_file(typ);
    let (c, h) = (ns_link(&pid, f)?, ns_link("self", f)?);
    ensure!(c != h, "container {f} namespace {c} is the host's");
    Ok(())
}

/// A created container holding new namespaces to join.
fn holder(ctx: &mut Ctx, typ: &str) -> Result<(String, Bundle), Verdict> {
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    with_ns(&mut b, typ);
    let id = ctx.create(&b)?;
    let pid = ctx.pid(&id)?.to_string();
    Ok((pid, b))
}

fn ns_path(ctx: &mut Ctx, typ: &str) -> TResult {
    kernel_has(typ)?;
    let (hpid, _hb) = holder(ctx, typ)?;
    let f = ns_file(typ);
    let target = ns_link(&hpid, f)?;
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    // Joining by path: the namespace is already set up, so the config sets no
    // hostname for uts. For user, the mappings repeat the joined namespace's
    // (runc 1.1 refuses a user namespace without them).
    if typ == "uts" {
        b.del("/hostname");
    }
    if typ == "user" {
        add_userns(&mut b);
    }
    b.add_ns(typ, Some(&format!("/proc/{hpid}/ns/{f}")));
    let id = ctx.create(&b)?;
    let pid = ctx.pid(&id)?.to_string();
    let got = ns_link(&pid, f)?;
    ensure!(
        got == target,
        "container {f} namespace {got}, want joined {target}"
    );
    Ok(())
}

fn mount_path(ctx: &mut Ctx) -> TResult {
    // Hold a private mount namespace with a host process (a container's
    // mount namespace would not see the second bundle's rootfs).
    let mut child = std::process::Command::new(crate::harness::BUSYBOX)
        .args(["unshare", "-m", "--propagation", "private", "sleep", "1000"])
        .spawn()?;
    let cpid = child.id();
    ctx.extra_cleanup.push(Box::new(move || {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(cpid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }));
    let host = ns_link("self", "mnt")?;
    let mut target = String::new();
    for _ in 0..100 {
        target = ns_link(&cpid.to_string(), "mnt").unwrap_or_default();
        if !target.is_empty() && target != host {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    ensure!(target != host, "helper did not unshare its mount namespace");
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    b.add_ns("mount", Some(&format!("/proc/{cpid}/ns/mnt")));
    let r = (|| {
        let id = ctx.create(&b)?;
        let pid = ctx.pid(&id)?.to_string();
        let got = ns_link(&pid, "mnt")?;
        ensure!(
            got == target,
            "container mnt namespace {got}, want joined {target}"
        );
        ctx.delete_force(&id);
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    r
}

fn ns_inherit(ctx: &mut Ctx, typ: &str) -> TResult {
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    b.del_ns(typ);
    if typ == "uts" {
        b.del("/hostname");
    }
    let id = ctx.create(&b)?;
    let pid = ctx.pid(&id)?.to_string();
    let f = ns_file(typ);
    let (c, h) = (ns_link(&pid, f)?, ns_link("self", f)?);
    ensure!(
        c == h,
        "{typ} not in config but container has its own {f} namespace {c} (host {h})"
    );
    Ok(())
}

fn pid_one(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    let out = ctx.sh_ok(
        &mut b,
        "echo $$; ps -o pid= 2>/dev/null | wc -l; ls /proc | grep -c '^[0-9]'",
    )?;
    let l: Vec<&str> = out.lines().map(str::trim).collect();
    ensure!(
        l.first() == Some(&"1"),
        "container process is pid {:?}, want 1",
        l.first()
    );
    let n: u32 = l.last().and_then(|x| x.parse().ok()).unwrap_or(99);
    ensure!(
        n <= 3,
        "container /proc shows {n} processes (host pids visible?)"
    );
    Ok(())
}

fn net_loopback(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    // (the rootless config has none: a user may make one in its user namespace)
    b.add_ns("network", None);
    let out = ctx.sh_ok(&mut b, "tail -n +3 /proc/net/dev | cut -d: -f1")?;
    let ifs: Vec<&str> = out.split_whitespace().collect();
    ensure!(
        ifs == vec!["lo"],
        "new network namespace has interfaces {ifs:?}, want only lo"
    );
    Ok(())
}

fn id_maps(ctx: &mut Ctx) -> TResult {
    kernel_has("user")?;
    let mut b = ctx.bundle();
    add_userns(&mut b);
    let out = ctx.sh_ok(
        &mut b,
        "cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; id -u; id -g",
    )?;
    let parts: Vec<Vec<String>> = out
        .split("--")
        .map(|p| {
            p.lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|l| !l.is_empty())
                .collect()
        })
        .collect();
    ensure!(parts.len() == 3, "unexpected output {out:?}");
    ensure!(parts[0] == vec!["0 100000 65536"], "uid_map {:?}", parts[0]);
    ensure!(parts[1] == vec!["0 100000 65536"], "gid_map {:?}", parts[1]);
    ensure!(parts[2] == vec!["0", "0"], "id in container {:?}", parts[2]);
    Ok(())
}

fn id_maps_multi(ctx: &mut Ctx) -> TResult {
    kernel_has("user")?;
    let mut b = ctx.bundle();
    b.add_ns("user", None);
    b.set("/linux/uidMappings", json!([{"containerID": 0, "hostID": 200000, "size": 1000}, {"containerID": 1000, "hostID": 300000, "size": 64536}]));
    b.set(
        "/linux/gidMappings",
        json!([{"containerID": 0, "hostID": 200000, "size": 65536}]),
    );
    b.args(&["sleep", "1000"]);
    let id = ctx.create(&b)?;
    let pid = ctx.pid(&id)?;
    let m = std::fs::read_to_string(format!("/proc/{pid}/uid_map"))?;
    let norm: Vec<String> = m
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    ensure!(
        norm == vec!["0 200000 1000", "1000 300000 64536"],
        "host view of uid_map {norm:?}"
    );
    let st = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    ensure!(
        crate::harness::field(&st, "Uid").map(|u| u.starts_with("200000")) == Some(true),
        "container root is host uid {:?}, want 200000",
        crate::harness::field(&st, "Uid")
    );
    Ok(())
}

fn time_offsets(ctx: &mut Ctx) -> TResult {
    kernel_has("time")?;
    let mut b = ctx.bundle();
    b.add_ns("time", None);
    b.set("/linux/timeOffsets", json!({"monotonic": {"secs": 86400 * 400, "nanosecs": 0}, "boottime": {"secs": 86400 * 500, "nanosecs": 0}}));
    let out = ctx.sh_ok(
        &mut b,
        "cat /proc/self/timens_offsets; cut -d' ' -f1 /proc/uptime",
    )?;
    let norm: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    ensure!(
        norm.iter().any(|l| l == "monotonic 34560000 0"),
        "timens_offsets {norm:?}"
    );
    ensure!(
        norm.iter().any(|l| l == "boottime 43200000 0"),
        "timens_offsets {norm:?}"
    );
    let up: f64 = norm.last().and_then(|u| u.parse().ok()).unwrap_or(0.0);
    ensure!(
        up >= 43200000.0,
        "uptime {up} inside the container ignores the boottime offset"
    );
    Ok(())
}

fn hostname(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.set("/hostname", json!("conf-host.example"));
    let out = ctx.sh_ok(&mut b, "hostname; cat /proc/sys/kernel/hostname")?;
    ensure!(
        out.lines().all(|l| l == "conf-host.example") && out.lines().count() == 2,
        "hostname {out:?}"
    );
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().to_string())
        .unwrap_or_default();
    ensure!(
        host != "conf-host.example",
        "the host's hostname was changed"
    );
    Ok(())
}

fn domainname(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.set("/domainname", json!("conf.example.org"));
    let out = ctx.sh_ok(&mut b, "cat /proc/sys/kernel/domainname")?;
    ensure!(out.trim() == "conf.example.org", "domainname {out:?}");
    let host = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap_or_default();
    if host.trim() == "conf.example.org" {
        fail!("the host's domainname was changed");
    }
    Ok(())
}
