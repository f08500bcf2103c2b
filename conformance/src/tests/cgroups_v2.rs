//! config-linux.md resources on a pure cgroup v2 host (the unified hierarchy
//! at /sys/fs/cgroup), read from the v2 files the runtime-spec's fields map
//! to one-to-one; and the systemd cgroup driver (`--systemd-cgroup`,
//! cgroupsPath `slice:prefix:name`) where systemd is PID 1. Elsewhere each
//! test skips with the reason; the v1 checks are in `cgroups.rs`.

use crate::harness::{t, Bundle, Ctx, TResult, Test, Verdict};
use crate::{ensure, fail, skip};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

pub fn tests() -> Vec<Test> {
    vec![
        t("config-linux/cgroups-v2/path-and-removal", path_and_removal),
        t("config-linux/cgroups-v2/memory", memory),
        t("config-linux/cgroups-v2/cpu-max-and-cpuset", cpu),
        t("config-linux/cgroups-v2/pids", pids),
        t("config-linux/cgroups-v2/unified", unified),
        t("config-linux/cgroups-v2/devices-deny", |c| {
            devices(c, false)
        }),
        t("config-linux/cgroups-v2/devices-allow", |c| {
            devices(c, true)
        }),
        t("config-linux/cgroups-v2/freeze", freeze),
        t("config-linux/cgroups/unified-refused-on-v1", unified_on_v1),
        t("config-linux/cgroups-systemd/scope", systemd_scope),
    ]
}

const CG: &str = "/sys/fs/cgroup";

fn pure_v2() -> bool {
    Path::new(CG).join("cgroup.controllers").exists()
}

fn require_v2() -> TResult {
    if !pure_v2() {
        skip!("not a pure cgroup v2 host (no cgroup2 at {CG})");
    }
    Ok(())
}

fn require_controller(c: &str) -> TResult {
    let have = std::fs::read_to_string(Path::new(CG).join("cgroup.controllers"))?;
    if !have.split_whitespace().any(|x| x == c) {
        skip!("the {c} controller is not offered at {CG}");
    }
    Ok(())
}

fn cgdir(path: &str) -> PathBuf {
    Path::new(CG).join(path.trim_start_matches('/'))
}

fn read(path: &str, file: &str) -> Result<String, Verdict> {
    let p = cgdir(path).join(file);
    std::fs::read_to_string(&p)
        .map(|s| s.trim().to_string())
        .map_err(|e| Verdict::Fail(format!("reading {}: {e}", p.display())))
}

/// A `sleep` bundle with a unique absolute cgroupsPath and `resources`.
fn bundle(ctx: &mut Ctx, res: Value) -> (Bundle, String) {
    let mut b = ctx.bundle();
    let path = format!(
        "/conf-cg2-{}-{}",
        std::process::id(),
        crate::harness::next_n()
    );
    b.set("/linux/cgroupsPath", json!(path));
    b.set("/linux/resources", res);
    b.args(&["sleep", "1000"]);
    (b, path)
}

/// Creates the container and checks each (file, value) in its cgroup.
fn expect_files(ctx: &mut Ctx, res: Value, want: &[(&str, &str)]) -> TResult {
    let (b, path) = bundle(ctx, res);
    ctx.create(&b)?;
    for (file, value) in want {
        let got = read(&path, file)?;
        ensure!(got == *value, "{file} = {got:?}, want {value:?}");
    }
    Ok(())
}

fn path_and_removal(ctx: &mut Ctx) -> TResult {
    require_v2()?;
    let (b, path) = bundle(ctx, json!({}));
    let id = ctx.create(&b)?;
    let pid = ctx.pid(&id)?;
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    ensure!(
        own.trim() == format!("0::{path}"),
        "init's /proc/PID/cgroup {own:?}, want 0::{path}"
    );
    let o = ctx.rt(&["delete", "--force", &id]);
    ensure!(o.ok(), "delete --force: {}", o.brief());
    ensure!(
        !cgdir(&path).exists(),
        "{} left after delete",
        cgdir(&path).display()
    );
    Ok(())
}

fn memory(ctx: &mut Ctx) -> TResult {
    require_v2()?;
    require_controller("memory")?;
    let res = json!({"memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728}});
    let (b, path) = bundle(ctx, res);
    ctx.create(&b)?;
    for (file, want) in [("memory.max", "67108864"), ("memory.low", "33554432")] {
        let got = read(&path, file)?;
        ensure!(got == want, "{file} = {got:?}, want {want:?}");
    }
    // The spec's swap is memory+swap; v2's memory.swap.max is the swap alone
    // (absent where the kernel has no swap accounting).
    if cgdir(&path).join("memory.swap.max").exists() {
        let got = read(&path, "memory.swap.max")?;
        ensure!(
            got == "67108864",
            "memory.swap.max = {got:?}, want 67108864 (swap - limit)"
        );
    }
    Ok(())
}

fn cpu(ctx: &mut Ctx) -> TResult {
    require_v2()?;
    require_controller("cpu")?;
    require_controller("cpuset")?;
    expect_files(
        ctx,
        json!({"cpu": {"quota": 25000, "period": 50000, "cpus": "0", "mems": "0"}}),
        &[
            ("cpu.max", "25000 50000"),
            ("cpuset.cpus", "0"),
            ("cpuset.mems", "0"),
        ],
    )
}

fn pids(ctx: &mut Ctx) -> TResult {
    require_v2()?;
    require_controller("pids")?;
    expect_files(ctx, json!({"pids": {"limit": 42}}), &[("pids.max", "42")])
}

fn unified(ctx: &mut Ctx) -> TResult {
    require_v2()?;
    require_controller("memory")?;
    expect_files(
        ctx,
        json!({"unified": {"memory.high": "50331648", "pids.max": "33"}}),
        &[("memory.high", "50331648"), ("pids.max", "33")],
    )
}

/// v2 has no devices files: the rules are an eBPF program, so the check is
/// what the container can open. Device 240:7 has no driver: opening it
/// where the rules allow it fails with ENXIO ("No such device"), where they
/// deny it with EPERM (the runtime's default devices stay allowed either way).
fn devices(ctx: &mut Ctx, allow: bool) -> TResult {
    require_v2()?;
    let mut rules = vec![json!({"allow": false, "access": "rwm"})];
    if allow {
        rules.push(json!({"allow": true, "type": "c", "major": 240, "minor": 7, "access": "rwm"}));
    }
    let (mut b, _) = bundle(ctx, json!({"devices": rules}));
    b.sh("mknod /tmp/dev240 c 240 7 2>&1; head -c0 /tmp/dev240 2>&1 && echo open-ok; echo x > /dev/null && echo null-ok");
    let o = ctx.run(&b)?;
    ensure!(
        o.stdout.contains("null-ok"),
        "a default device (/dev/null) is unusable: {}",
        o.brief()
    );
    if allow {
        ensure!(
            o.stdout.contains("No such device") && !o.stdout.contains("Operation not permitted"),
            "a device the rules allow (c 240:7) was refused: {}",
            o.brief()
        );
    } else {
        ensure!(
            !o.stdout.contains("open-ok") && o.stdout.contains("Operation not permitted"),
            "a device the rules deny (c 240:7) could be opened: {}",
            o.brief()
        );
    }
    Ok(())
}

fn freeze(ctx: &mut Ctx) -> TResult {
    require_v2()?;
    let (b, path) = bundle(ctx, json!({}));
    let id = ctx.create(&b)?;
    ctx.start(&id)?;
    let o = ctx.rt(&["pause", &id]);
    ensure!(o.ok(), "pause: {}", o.brief());
    ensure!(ctx.status(&id)? == "paused", "status after pause");
    let f = read(&path, "cgroup.freeze")?;
    ensure!(f == "1", "cgroup.freeze {f:?} after pause");
    let events = read(&path, "cgroup.events")?;
    ensure!(
        events.lines().any(|l| l == "frozen 1"),
        "cgroup.events after pause: {events:?}"
    );
    let o = ctx.rt(&["resume", &id]);
    ensure!(o.ok(), "resume: {}", o.brief());
    ensure!(ctx.status(&id)? == "running", "status after resume");
    let f = read(&path, "cgroup.freeze")?;
    ensure!(f == "0", "cgroup.freeze {f:?} after resume");
    Ok(())
}

/// linux.resources.unified needs cgroup v2 for every controller; on a v1 or
/// hybrid host it is refused (runc: an invalid configuration) and nothing
/// is left.
fn unified_on_v1(ctx: &mut Ctx) -> TResult {
    if pure_v2() {
        skip!("a pure cgroup v2 host takes linux.resources.unified");
    }
    let (b, path) = bundle(ctx, json!({"unified": {"pids.max": "33"}}));
    let id = ctx.id();
    let o = ctx.create_out(&b, &id);
    ensure!(
        !o.ok(),
        "unified accepted on a cgroup v1 host: {}",
        o.brief()
    );
    let left = crate::harness::cgroups_named(&path);
    ensure!(left.is_empty(), "cgroups left after the refusal: {left:?}");
    ensure!(
        ctx.root_entries().is_empty(),
        "state left after the refusal: {:?}",
        ctx.root_entries()
    );
    Ok(())
}

/// `--systemd-cgroup` with cgroupsPath slice:prefix:name: the container's
/// cgroup is the scope `prefix-name.scope` under the slice, with the limits,
/// and it is gone after delete.
fn systemd_scope(ctx: &mut Ctx) -> TResult {
    let pid1 = std::fs::read_to_string("/proc/1/comm").unwrap_or_default();
    if pid1.trim() != "systemd" {
        skip!("systemd is not PID 1 here");
    }
    require_v2()?;
    let name = format!("{}-{}", std::process::id(), crate::harness::next_n());
    let mut b = ctx.bundle();
    b.set(
        "/linux/cgroupsPath",
        json!(format!("system.slice:conf:{name}")),
    );
    b.set("/linux/resources", json!({"pids": {"limit": 55}}));
    b.args(&["sleep", "1000"]);
    b.save()?;
    let id = ctx.id();
    let bp = b.path.to_string_lossy().to_string();
    let o = ctx.rt(&["--systemd-cgroup", "create", "--bundle", &bp, &id]);
    if !o.ok() {
        fail!("--systemd-cgroup create: {}", o.brief());
    }
    let scope = format!("/system.slice/conf-{name}.scope");
    let pid = ctx.pid(&id)?;
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    ensure!(
        own.trim() == format!("0::{scope}"),
        "init's cgroup {own:?}, want 0::{scope}"
    );
    let max = read(&scope, "pids.max")?;
    ensure!(max == "55", "pids.max {max:?} in {scope}");
    let o = ctx.rt(&["delete", "--force", &id]);
    ensure!(o.ok(), "delete --force: {}", o.brief());
    // systemd removes a stopped scope's cgroup itself, a moment later.
    for _ in 0..50 {
        if !cgdir(&scope).exists() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    fail!("{scope} left after delete")
}
