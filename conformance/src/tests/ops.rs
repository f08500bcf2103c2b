//! Operations on live containers through runc's command line (runtime.md
//! leaves these to the runtime; the runc CLI is what podman, containerd and
//! Docker drive): exec, exec into a created container, ps --format json,
//! pause/resume, update with read-back from the cgroup, kill --all, events.

use crate::harness::{next_n, t, Bundle, Ctx, TResult, Test, Verdict};
use crate::{ensure, fail, skip};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub fn tests() -> Vec<Test> {
    vec![
        t("runtime/ops/exec-basic", exec_basic),
        t("runtime/ops/exec-exit-code", exec_exit_code),
        t("runtime/ops/exec-process-file", exec_process_file),
        t("runtime/ops/exec-detach-pid-file", exec_detach),
        t("runtime/ops/exec-into-created", exec_created),
        t("runtime/ops/exec-stopped-fails", exec_stopped),
        t("runtime/ops/ps-json", ps_json),
        t("runtime/ops/pause-resume-state", pause_resume),
        t("runtime/ops/update-read-back", update_read_back),
        t("runtime/ops/update-docker-zero-unchanged", update_docker),
        t("runtime/ops/update-paused", update_paused),
        t("runtime/ops/kill-all", kill_all),
        t("runtime/ops/events-stats", events_stats),
    ]
}

const CG: &str = "/sys/fs/cgroup";

fn v1(ctrl: &str) -> TResult {
    if !Path::new(CG).join(ctrl).join("cgroup.procs").exists() {
        skip!("cgroup v1 {ctrl} controller not mounted");
    }
    Ok(())
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

/// A bundle running `script` with a unique cgroupsPath; returns (bundle, path).
fn bundle(ctx: &mut Ctx, script: &str) -> (Bundle, String) {
    let mut b = ctx.bundle();
    let path = format!("/conf-ops-{}-{}", std::process::id(), next_n());
    b.cgroups_path(&path);
    b.sh(script);
    (b, path)
}

/// create + start a sleeping container; returns (id, cgroupsPath, init pid).
fn running(ctx: &mut Ctx, res: Option<Value>) -> Result<(String, String, i32), Verdict> {
    let (mut b, path) = bundle(ctx, "exec sleep 1000");
    if let Some(r) = res {
        b.set("/linux/resources", r);
    }
    let id = ctx.create(&b)?;
    ctx.start(&id)?;
    let pid = ctx.pid(&id)?;
    wait_for("the user process", 10, || {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"sleep"))
    })?;
    Ok((id, path, pid))
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) -> TResult {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    fail!("timed out waiting for {what}")
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        let rest = &s[s.rfind(')').map(|i| i + 2).unwrap_or(0)..];
        !rest.starts_with('Z') && !rest.starts_with('X')
    })
}

fn read_pid(p: &Path) -> Result<i32, Verdict> {
    let s = std::fs::read_to_string(p)
        .map_err(|e| Verdict::Fail(format!("pid file {}: {e}", p.display())))?;
    s.trim()
        .parse()
        .map_err(|_| Verdict::Fail(format!("pid file holds {s:?}")))
}

fn exec_basic(ctx: &mut Ctx) -> TResult {
    let (id, _, _) = running(ctx, None)?;
    let o = ctx.rt(&[
        "exec",
        "--cwd",
        "/tmp",
        "--env",
        "FOO=bar",
        "--user",
        "65534:65534",
        &id,
        "sh",
        "-c",
        "pwd; echo $FOO; id -u; id -g",
    ]);
    ensure!(o.ok(), "exec: {}", o.brief());
    let got: Vec<&str> = o.stdout.lines().collect();
    ensure!(
        got == ["/tmp", "bar", "65534", "65534"],
        "exec --cwd/--env/--user gave {got:?}"
    );
    Ok(())
}

fn exec_exit_code(ctx: &mut Ctx) -> TResult {
    let (id, _, _) = running(ctx, None)?;
    let o = ctx.rt(&["exec", &id, "sh", "-c", "exit 3"]);
    ensure!(
        o.code == 3,
        "exec of `exit 3` exited {}: {}",
        o.code,
        o.brief()
    );
    Ok(())
}

/// podman/containerd style: the process as JSON in a file.
fn exec_process_file(ctx: &mut Ctx) -> TResult {
    let (id, _, _) = running(ctx, None)?;
    let p = ctx.path("process.json");
    let caps = json!(["CAP_KILL", "CAP_CHOWN"]);
    let process = json!({
        "terminal": false,
        "user": {"uid": 1000, "gid": 1000, "additionalGids": [10]},
        "args": ["sh", "-c", "echo $(id -u) $(id -g) $(id -G); pwd; echo $FOO; ulimit -n"],
        "env": ["PATH=/bin:/sbin:/usr/bin", "FOO=from-file"],
        "cwd": "/var",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 2048, "soft": 1536}]
    });
    std::fs::write(&p, process.to_string())?;
    let o = ctx.rt(&["exec", "--process", &p.to_string_lossy(), &id]);
    ensure!(o.ok(), "exec --process: {}", o.brief());
    let got: Vec<&str> = o.stdout.lines().collect();
    ensure!(
        got == ["1000 1000 1000 10", "/var", "from-file", "1536"],
        "exec --process gave {got:?}"
    );
    Ok(())
}

fn exec_detach(ctx: &mut Ctx) -> TResult {
    let (id, path, init) = running(ctx, None)?;
    let pf = ctx.path("exec.pid");
    let o = ctx.rt(&[
        "exec",
        "--detach",
        "--pid-file",
        &pf.to_string_lossy(),
        &id,
        "sleep",
        "1000",
    ]);
    ensure!(o.ok(), "exec -d: {}", o.brief());
    let pid = read_pid(&pf)?;
    ensure!(
        alive(pid),
        "detached process {pid} is not alive after exec returned"
    );
    let a = crate::harness::ns_link(&pid.to_string(), "pid")?;
    let b = crate::harness::ns_link(&init.to_string(), "pid")?;
    ensure!(a == b, "detached process in pid ns {a}, container in {b}");
    if Path::new(CG).join("memory/cgroup.procs").exists() {
        let procs = read("memory", &path, "cgroup.procs")?;
        ensure!(
            procs.lines().any(|l| l == pid.to_string()),
            "detached process {pid} not in the container's memory cgroup"
        );
    }
    Ok(())
}

fn exec_created(ctx: &mut Ctx) -> TResult {
    let (b, _) = bundle(ctx, "touch /tmp/started; exec sleep 1000");
    let id = ctx.create(&b)?;
    let o = ctx.rt(&["exec", &id, "sh", "-c", "echo in-created; ls /tmp"]);
    ensure!(o.ok(), "exec into a created container: {}", o.brief());
    ensure!(
        o.stdout.starts_with("in-created") && !o.stdout.contains("started"),
        "exec into created: {:?}",
        o.stdout
    );
    let st = ctx.status(&id)?;
    ensure!(st == "created", "status after exec into created: {st}");
    ctx.start(&id)?;
    let f = b.rootfs().join("tmp/started");
    wait_for("the user process after start", 10, || f.exists())
}

fn exec_stopped(ctx: &mut Ctx) -> TResult {
    let (id, _, _) = running(ctx, None)?;
    let o = ctx.rt(&["kill", &id, "KILL"]);
    ensure!(o.ok(), "kill: {}", o.brief());
    ctx.wait_status(&id, "stopped", 10)?;
    let o = ctx.rt(&["exec", &id, "true"]);
    ensure!(!o.ok(), "exec into a stopped container succeeded");
    Ok(())
}

fn ps_json(ctx: &mut Ctx) -> TResult {
    v1("memory")?;
    let (b, path) = bundle(ctx, "sleep 1001 & exec sleep 1000");
    let id = ctx.create(&b)?;
    let init = ctx.pid(&id)?;
    let o = ctx.rt(&["ps", "--format", "json", &id]);
    ensure!(o.ok(), "ps --format json: {}", o.brief());
    let v: Vec<i32> = serde_json::from_str(o.stdout.trim()).map_err(|e| {
        Verdict::Fail(format!(
            "ps json is not an array of pids ({e}): {:?}",
            o.stdout
        ))
    })?;
    ensure!(
        v == vec![init],
        "ps json of a created container: {v:?}, init {init}"
    );
    ctx.start(&id)?;
    wait_for("two processes", 10, || {
        read("memory", &path, "cgroup.procs").is_ok_and(|s| s.lines().count() == 2)
    })?;
    let o = ctx.rt(&["ps", "--format", "json", &id]);
    let mut v: Vec<i32> = serde_json::from_str(o.stdout.trim())
        .map_err(|e| Verdict::Fail(format!("ps json ({e}): {:?}", o.stdout)))?;
    v.sort();
    let mut want: Vec<i32> = read("memory", &path, "cgroup.procs")?
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect();
    want.sort();
    ensure!(v == want, "ps json {v:?}, cgroup.procs {want:?}");
    Ok(())
}

fn pause_resume(ctx: &mut Ctx) -> TResult {
    v1("freezer")?;
    let (id, path, _) = running(ctx, None)?;
    let o = ctx.rt(&["pause", &id]);
    ensure!(o.ok(), "pause: {}", o.brief());
    let st = ctx.status(&id)?;
    ensure!(st == "paused", "status after pause: {st}");
    ensure!(
        read("freezer", &path, "freezer.state")? == "FROZEN",
        "freezer.state not FROZEN"
    );
    let o = ctx.rt(&["exec", &id, "true"]);
    ensure!(
        !o.ok(),
        "exec into a paused container succeeded (without --ignore-paused)"
    );
    let o = ctx.rt(&["pause", &id]);
    ensure!(!o.ok(), "pause of a paused container succeeded");
    let o = ctx.rt(&["resume", &id]);
    ensure!(o.ok(), "resume: {}", o.brief());
    let st = ctx.status(&id)?;
    ensure!(st == "running", "status after resume: {st}");
    let o = ctx.rt(&["resume", &id]);
    ensure!(!o.ok(), "resume of a running container succeeded");
    let o = ctx.rt(&["exec", &id, "true"]);
    ensure!(o.ok(), "exec after resume: {}", o.brief());
    // delete --force of a paused container
    let o = ctx.rt(&["pause", &id]);
    ensure!(o.ok(), "pause: {}", o.brief());
    let o = ctx.rt(&["delete", "--force", &id]);
    ensure!(
        o.ok(),
        "delete --force of a paused container: {}",
        o.brief()
    );
    ensure!(
        !cgdir("freezer", &path).exists(),
        "freezer cgroup left after delete --force"
    );
    Ok(())
}

fn update_read_back(ctx: &mut Ctx) -> TResult {
    v1("memory")?;
    v1("pids")?;
    v1("cpu")?;
    let (id, path, _) = running(
        ctx,
        Some(json!({"memory": {"limit": 134217728}, "pids": {"limit": 100}})),
    )?;
    let o = ctx.rt(&[
        "update",
        "--memory",
        "100663296",
        "--pids-limit",
        "42",
        "--cpu-quota",
        "30000",
        "--cpu-period",
        "100000",
        &id,
    ]);
    ensure!(o.ok(), "update: {}", o.brief());
    for (ctrl, f, want) in [
        ("memory", "memory.limit_in_bytes", "100663296"),
        ("pids", "pids.max", "42"),
        ("cpu", "cpu.cfs_quota_us", "30000"),
        ("cpu", "cpu.cfs_period_us", "100000"),
    ] {
        let got = read(ctrl, &path, f)?;
        ensure!(got == want, "after update {ctrl}/{f} = {got}, want {want}");
    }
    let f = ctx.path("res.json");
    std::fs::write(&f, json!({"pids": {"limit": 21}}).to_string())?;
    let o = ctx.rt(&["update", "--resources", &f.to_string_lossy(), &id]);
    ensure!(o.ok(), "update --resources FILE: {}", o.brief());
    let got = read("pids", &path, "pids.max")?;
    ensure!(got == "21", "after update --resources, pids.max = {got}");
    Ok(())
}

fn update_docker(ctx: &mut Ctx) -> TResult {
    v1("memory")?;
    v1("cpu")?;
    let (id, path, _) = running(
        ctx,
        Some(
            json!({"memory": {"limit": 134217728, "reservation": 67108864}, "cpu": {"shares": 700}}),
        ),
    )?;
    let docker = r#"{"memory":{"limit":0,"reservation":0,"kernel":0},"cpu":{"shares":0,"quota":70000,"period":100000},"pids":{"limit":60},"blockIO":{"weight":0}}"#;
    let o = ctx.rt_with(&["update", "--resources", "-", &id], Some(docker), None);
    ensure!(o.ok(), "docker's update on stdin: {}", o.brief());
    for (ctrl, f, want) in [
        ("memory", "memory.limit_in_bytes", "134217728"),
        ("memory", "memory.soft_limit_in_bytes", "67108864"),
        ("cpu", "cpu.shares", "700"),
        ("cpu", "cpu.cfs_quota_us", "70000"),
        ("cpu", "cpu.cfs_period_us", "100000"),
        ("pids", "pids.max", "60"),
    ] {
        let got = read(ctrl, &path, f)?;
        ensure!(
            got == want,
            "after docker's update {ctrl}/{f} = {got}, want {want} (zero means unchanged)"
        );
    }
    Ok(())
}

fn update_paused(ctx: &mut Ctx) -> TResult {
    v1("pids")?;
    v1("freezer")?;
    let (id, path, _) = running(ctx, Some(json!({"pids": {"limit": 100}})))?;
    let o = ctx.rt(&["pause", &id]);
    ensure!(o.ok(), "pause: {}", o.brief());
    let o = ctx.rt(&["update", "--pids-limit", "33", &id]);
    ensure!(o.ok(), "update of a paused container: {}", o.brief());
    let got = read("pids", &path, "pids.max")?;
    ensure!(
        got == "33",
        "pids.max {got} after update of a paused container"
    );
    let st = ctx.status(&id)?;
    ensure!(
        st == "paused",
        "update changed the status of a paused container to {st}"
    );
    ensure!(
        read("freezer", &path, "freezer.state")? == "FROZEN",
        "update thawed a paused container"
    );
    let o = ctx.rt(&["resume", &id]);
    ensure!(o.ok(), "resume: {}", o.brief());
    Ok(())
}

fn kill_all(ctx: &mut Ctx) -> TResult {
    v1("memory")?;
    let (b, path) = bundle(ctx, "sleep 1001 & sleep 1002 & exec sleep 1000");
    let id = ctx.create(&b)?;
    ctx.start(&id)?;
    wait_for("three processes", 10, || {
        read("memory", &path, "cgroup.procs").is_ok_and(|s| s.lines().count() == 3)
    })?;
    let pids: Vec<i32> = read("memory", &path, "cgroup.procs")?
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect();
    let o = ctx.rt(&["kill", "--all", &id, "9"]);
    ensure!(o.ok(), "kill --all ID 9: {}", o.brief());
    ctx.wait_status(&id, "stopped", 10)?;
    wait_for("every process of the container to die", 5, || {
        pids.iter().all(|p| !alive(*p))
    })?;
    let o = ctx.rt(&["kill", "--all", &id, "9"]);
    ensure!(
        o.ok(),
        "kill --all of a stopped container (containerd does it): {}",
        o.brief()
    );
    Ok(())
}

/// `events --stats` prints one JSON object in runc's format (types.Event
/// with types.Stats): {"type":"stats","id":…,"data":{"memory":{"usage":{…}},"pids":{…},"cpu":{"usage":{…}}}}.
fn events_stats(ctx: &mut Ctx) -> TResult {
    v1("memory")?;
    let (id, _, _) = running(
        ctx,
        Some(json!({"memory": {"limit": 134217728}, "pids": {"limit": 50}})),
    )?;
    let o = ctx.rt(&["events", "--stats", &id]);
    ensure!(o.ok(), "events --stats: {}", o.brief());
    let v: Value = serde_json::from_str(o.stdout.trim()).map_err(|e| {
        Verdict::Fail(format!(
            "events --stats is not one JSON object ({e}): {:?}",
            o.stdout
        ))
    })?;
    ensure!(v["type"] == "stats", "type {}", v["type"]);
    ensure!(v["id"] == id.as_str(), "id {}", v["id"]);
    let d = &v["data"];
    ensure!(
        d["memory"]["usage"]["limit"] == 134217728,
        "data.memory.usage.limit = {} (runc's types.Stats)",
        d["memory"]["usage"]["limit"]
    );
    ensure!(
        d["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0,
        "data.memory.usage.usage = {}",
        d["memory"]["usage"]["usage"]
    );
    ensure!(
        d["pids"]["current"] == 1,
        "data.pids.current = {}",
        d["pids"]["current"]
    );
    ensure!(
        d["pids"]["limit"] == 50,
        "data.pids.limit = {}",
        d["pids"]["limit"]
    );
    ensure!(
        d["cpu"]["usage"]["total"].as_u64().unwrap_or(0) > 0,
        "data.cpu.usage.total = {}",
        d["cpu"]["usage"]["total"]
    );
    Ok(())
}
