//! config-linux.md cgroupsPath and resources, checked on the host's cgroup
//! v1 files (hybrid layout); cgroup v2-only hosts skip with a reason.

use crate::harness::{t, Bundle, Ctx, TResult, Test, Verdict};
use crate::{ensure, skip};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

pub fn tests() -> Vec<Test> {
    vec![
        t("config-linux/cgroups/path", cg_path),
        t("config-linux/cgroups/removed-on-delete", cg_removed),
        t(
            "config-linux/cgroups/default-path-removed-on-delete",
            cg_default_removed,
        ),
        t("config-linux/cgroups/memory/limit", mem_limit),
        t("config-linux/cgroups/memory/reservation", mem_reservation),
        t("config-linux/cgroups/memory/swap", mem_swap),
        t("config-linux/cgroups/memory/swappiness", mem_swappiness),
        t("config-linux/cgroups/cpu/shares", cpu_shares),
        t("config-linux/cgroups/cpu/quota-period", cpu_quota),
        t("config-linux/cgroups/cpuset/cpus-mems", cpuset),
        t("config-linux/cgroups/pids/limit", pids_limit),
        t("config-linux/cgroups/pids/enforced", pids_enforced),
        t("config-linux/cgroups/blkio/weight", blkio_weight),
        t(
            "config-linux/cgroups/blkio/throttle-read-bps",
            blkio_throttle,
        ),
        t("config-linux/cgroups/devices/deny", devices_deny),
        t("config-linux/cgroups/devices/allow", devices_allow),
        t("config-linux/cgroups/hugetlb/limit", hugetlb),
        t("config-linux/cgroups/network/classid", net_cls),
        t("runtime/cli/pause-resume", pause_resume),
    ]
}

const CG: &str = "/sys/fs/cgroup";

fn v1(ctrl: &str) -> TResult {
    let p = Path::new(CG).join(ctrl);
    if !p.join("cgroup.procs").exists() {
        if Path::new(CG).join("cgroup.controllers").exists() {
            skip!("cgroup v2 only host: v1 {ctrl} controller not mounted");
        }
        skip!("cgroup v1 {ctrl} controller not mounted at {}", p.display());
    }
    Ok(())
}

/// Bundle with a unique absolute cgroupsPath; returns (bundle, path).
fn cg_bundle(ctx: &mut Ctx) -> (Bundle, String) {
    let mut b = ctx.bundle();
    let path = format!(
        "/conf-cg-{}-{}",
        std::process::id(),
        crate::harness::next_n()
    );
    b.set("/linux/cgroupsPath", json!(path));
    b.args(&["sleep", "1000"]);
    (b, path)
}

fn cgdir(ctrl: &str, path: &str) -> PathBuf {
    Path::new(CG).join(ctrl).join(path.trim_start_matches('/'))
}

fn read(ctrl: &str, path: &str, file: &str) -> Result<String, Verdict> {
    let p = cgdir(ctrl, path).join(file);
    std::fs::read_to_string(&p)
        .map(|s| s.trim().to_string())
        .map_err(|e| Verdict::Fail(format!("reading {}: {e}", p.display())))
}

/// Create a container with `resources` and return (id, cgroupsPath).
fn with_resources(ctx: &mut Ctx, res: Value) -> Result<(String, String), Verdict> {
    let (mut b, path) = cg_bundle(ctx);
    b.set("/linux/resources", res);
    let id = ctx.create(&b)?;
    Ok((id, path))
}

/// Whether a fresh child cgroup of `ctrl` has `file` (root cgroups lack many).
fn kernel_offers(ctrl: &str, file: &str) -> bool {
    let probe = Path::new(CG).join(ctrl).join(format!(
        "conf-probe-{}-{}",
        std::process::id(),
        crate::harness::next_n()
    ));
    if std::fs::create_dir(&probe).is_err() {
        return true;
    }
    let has = probe.join(file).exists();
    let _ = std::fs::remove_dir(&probe);
    has
}

fn check(ctx: &mut Ctx, ctrl: &str, res: Value, file: &str, want: &str) -> TResult {
    v1(ctrl)?;
    if !kernel_offers(ctrl, file) {
        skip!("kernel lacks {ctrl}/{file}");
    }
    let (_id, path) = with_resources(ctx, res)?;
    if !cgdir(ctrl, &path).join(file).exists() {
        if !cgdir(ctrl, &path).exists() {
            crate::fail!("cgroup {} not created", cgdir(ctrl, &path).display());
        }
        skip!("kernel lacks {ctrl}/{file}");
    }
    let got = read(ctrl, &path, file)?;
    ensure!(got == want, "{ctrl}/{file} = {got:?}, want {want:?}");
    Ok(())
}

fn cg_path(ctx: &mut Ctx) -> TResult {
    v1("memory")?;
    let (b, path) = cg_bundle(ctx);
    let id = ctx.create(&b)?;
    let pid = ctx.pid(&id)?;
    for ctrl in ["memory", "pids", "cpu", "devices"] {
        if !Path::new(CG).join(ctrl).exists() {
            continue;
        }
        let procs = read(ctrl, &path, "cgroup.procs")?;
        ensure!(
            procs.lines().any(|l| l == pid.to_string()),
            "pid {pid} not in {ctrl}{path}/cgroup.procs ({procs:?})"
        );
    }
    let pc = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    ensure!(
        pc.lines()
            .any(|l| l.contains(":memory:") && l.ends_with(&path)),
        "/proc/{pid}/cgroup lacks {path}: {pc:?}"
    );
    Ok(())
}

fn cg_removed(ctx: &mut Ctx) -> TResult {
    v1("memory")?;
    let (mut b, path) = cg_bundle(ctx);
    b.set(
        "/linux/resources",
        json!({"pids": {"limit": 100}, "memory": {"limit": 268435456}}),
    );
    let id = ctx.create(&b)?;
    ctx.start(&id)?;
    ensure!(cgdir("memory", &path).exists(), "cgroup {path} not created");
    let o = ctx.rt(&["kill", &id, "KILL"]);
    ensure!(o.ok(), "kill: {}", o.brief());
    ctx.wait_status(&id, "stopped", 10)?;
    let o = ctx.rt(&["delete", &id]);
    ensure!(o.ok(), "delete: {}", o.brief());
    let left: Vec<String> = std::fs::read_dir(CG)?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join(path.trim_start_matches('/')))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    ensure!(left.is_empty(), "cgroups left after delete: {left:?}");
    Ok(())
}

/// Without cgroupsPath the runtime picks a path; whatever it picked must be
/// gone after delete.
fn cg_default_removed(ctx: &mut Ctx) -> TResult {
    v1("memory")?;
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    b.set("/linux/resources", json!({"pids": {"limit": 100}}));
    let id = ctx.create(&b)?;
    let pid = ctx.pid(&id)?;
    let mut dirs = vec![];
    for l in std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?.lines() {
        let f: Vec<&str> = l.splitn(3, ':').collect();
        if f.len() != 3 || f[2] == "/" {
            continue;
        }
        let ctrl = if f[1].is_empty() {
            "unified".to_string()
        } else {
            f[1].trim_start_matches("name=").to_string()
        };
        let d = cgdir(&ctrl, f[2]);
        if d.exists() {
            dirs.push(d);
        }
    }
    ensure!(
        !dirs.is_empty(),
        "container process {pid} is in no cgroup of its own"
    );
    let o = ctx.rt(&["delete", "--force", &id]);
    ensure!(o.ok(), "delete --force: {}", o.brief());
    std::thread::sleep(std::time::Duration::from_millis(100));
    let left: Vec<String> = dirs
        .iter()
        .filter(|d| d.exists())
        .map(|d| d.display().to_string())
        .collect();
    ensure!(left.is_empty(), "cgroups left after delete: {left:?}");
    Ok(())
}

fn mem_limit(ctx: &mut Ctx) -> TResult {
    check(
        ctx,
        "memory",
        json!({"memory": {"limit": 67108864}}),
        "memory.limit_in_bytes",
        "67108864",
    )
}
fn mem_reservation(ctx: &mut Ctx) -> TResult {
    check(
        ctx,
        "memory",
        json!({"memory": {"limit": 134217728, "reservation": 33554432}}),
        "memory.soft_limit_in_bytes",
        "33554432",
    )
}
fn mem_swap(ctx: &mut Ctx) -> TResult {
    check(
        ctx,
        "memory",
        json!({"memory": {"limit": 67108864, "swap": 134217728}}),
        "memory.memsw.limit_in_bytes",
        "134217728",
    )
}
fn mem_swappiness(ctx: &mut Ctx) -> TResult {
    check(
        ctx,
        "memory",
        json!({"memory": {"swappiness": 37}}),
        "memory.swappiness",
        "37",
    )
}
fn cpu_shares(ctx: &mut Ctx) -> TResult {
    check(
        ctx,
        "cpu",
        json!({"cpu": {"shares": 512}}),
        "cpu.shares",
        "512",
    )
}
fn cpu_quota(ctx: &mut Ctx) -> TResult {
    v1("cpu")?;
    let (_id, path) = with_resources(ctx, json!({"cpu": {"quota": 25000, "period": 50000}}))?;
    let q = read("cpu", &path, "cpu.cfs_quota_us")?;
    let p = read("cpu", &path, "cpu.cfs_period_us")?;
    ensure!(
        q == "25000" && p == "50000",
        "cfs quota/period {q}/{p}, want 25000/50000"
    );
    Ok(())
}
fn cpuset(ctx: &mut Ctx) -> TResult {
    v1("cpuset")?;
    let (_id, path) = with_resources(ctx, json!({"cpu": {"cpus": "0", "mems": "0"}}))?;
    let c = read("cpuset", &path, "cpuset.cpus")?;
    let m = read("cpuset", &path, "cpuset.mems")?;
    ensure!(
        c == "0" && m == "0",
        "cpuset.cpus/mems {c:?}/{m:?}, want 0/0"
    );
    Ok(())
}
fn pids_limit(ctx: &mut Ctx) -> TResult {
    check(
        ctx,
        "pids",
        json!({"pids": {"limit": 42}}),
        "pids.max",
        "42",
    )
}
fn pids_enforced(ctx: &mut Ctx) -> TResult {
    v1("pids")?;
    let (mut b, _path) = cg_bundle(ctx);
    b.set("/linux/resources", json!({"pids": {"limit": 3}}));
    b.sh("sh -c 'for i in 1 2 3 4 5 6; do sleep 5 & done' 2>/tmp/err; while read -r l; do echo \"$l\"; done < /tmp/err; true");
    let o = ctx.run(&b)?;
    ensure!(
        o.stdout.contains("Resource temporarily unavailable") || o.stdout.contains("can't fork"),
        "forking past pids.limit=3 succeeded: {}",
        o.brief()
    );
    Ok(())
}
fn blkio_weight(ctx: &mut Ctx) -> TResult {
    check(
        ctx,
        "blkio",
        json!({"blockIO": {"weight": 333}}),
        "blkio.weight",
        "333",
    )
}
fn root_dev() -> Result<(u64, u64), Verdict> {
    let st = nix::sys::stat::stat("/").map_err(|e| Verdict::Fail(format!("stat /: {e}")))?;
    Ok((
        nix::sys::stat::major(st.st_dev),
        nix::sys::stat::minor(st.st_dev),
    ))
}
fn blkio_throttle(ctx: &mut Ctx) -> TResult {
    v1("blkio")?;
    let (maj, min) = root_dev()?;
    if !Path::new(&format!("/sys/dev/block/{maj}:{min}")).exists() {
        skip!("/ is not on a block device ({maj}:{min})");
    }
    check(
        ctx,
        "blkio",
        json!({"blockIO": {"throttleReadBpsDevice": [{"major": maj, "minor": min, "rate": 1048576}]}}),
        "blkio.throttle.read_bps_device",
        &format!("{maj}:{min} 1048576"),
    )
}

/// The container mknods c 240:7 itself (major 240 is "local/experimental":
/// no driver, so an allowed open fails with ENXIO while a denied one is EPERM).
fn devnode_bundle(ctx: &mut Ctx, allow: bool) -> Bundle {
    let (mut b, _) = cg_bundle(ctx);
    let mut rules = vec![json!({"allow": false, "access": "rwm"})];
    if allow {
        rules.push(json!({"allow": true, "type": "c", "major": 240, "minor": 7, "access": "rwm"}));
    }
    b.set("/linux/resources", json!({"devices": rules}));
    b.sh("mknod /tmp/dev240 c 240 7 2>&1 && echo mknod-ok; head -c0 /tmp/dev240 2>&1 && echo open-ok; true");
    b
}
fn devices_deny(ctx: &mut Ctx) -> TResult {
    v1("devices")?;
    let b = devnode_bundle(ctx, false);
    let o = ctx.run(&b)?;
    // mknod itself may be allowed by the runtime's default rules ("c *:* m").
    ensure!(
        !o.stdout.contains("open-ok") && o.stdout.contains("Operation not permitted"),
        "device denied by resources.devices is usable: {}",
        o.brief()
    );
    Ok(())
}
fn devices_allow(ctx: &mut Ctx) -> TResult {
    v1("devices")?;
    let b = devnode_bundle(ctx, true);
    let o = ctx.run(&b)?;
    ensure!(
        o.stdout.contains("mknod-ok"),
        "mknod of a device allowed by resources.devices failed: {}",
        o.brief()
    );
    ensure!(
        o.stdout.contains("No such device") && !o.stdout.contains("Operation not permitted"),
        "opening a device allowed by resources.devices failed: {}",
        o.brief()
    );
    Ok(())
}
fn hugetlb(ctx: &mut Ctx) -> TResult {
    v1("hugetlb")?;
    check(
        ctx,
        "hugetlb",
        json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 8388608}]}),
        "hugetlb.2MB.limit_in_bytes",
        "8388608",
    )
}
fn net_cls(ctx: &mut Ctx) -> TResult {
    v1("net_cls")?;
    check(
        ctx,
        "net_cls",
        json!({"network": {"classID": 1048577}}),
        "net_cls.classid",
        "1048577",
    )
}

fn pause_resume(ctx: &mut Ctx) -> TResult {
    v1("freezer")?;
    let (b, path) = cg_bundle(ctx);
    let id = ctx.create(&b)?;
    ctx.start(&id)?;
    let o = ctx.rt(&["pause", &id]);
    ensure!(o.ok(), "pause: {}", o.brief());
    ensure!(
        ctx.status(&id)? == "paused",
        "status after pause is not paused"
    );
    let fs = read("freezer", &path, "freezer.state")?;
    ensure!(fs == "FROZEN", "freezer.state {fs:?} after pause");
    let o = ctx.rt(&["resume", &id]);
    ensure!(o.ok(), "resume: {}", o.brief());
    ensure!(
        ctx.status(&id)? == "running",
        "status after resume is not running"
    );
    Ok(())
}
