//! runtime.md: state, lifecycle and operations in every state; plus the
//! runc command-line operations the suite relies on (run, exec, --pid-file).

use crate::harness::{t, Bundle, Ctx, TResult, Test};
use crate::{ensure, fail};
use serde_json::json;
use std::path::Path;

pub fn tests() -> Vec<Test> {
    vec![
        t("runtime/state/created", state_created),
        t("runtime/state/running", state_running),
        t("runtime/state/stopped", state_stopped),
        t("runtime/state/unknown-id-fails", state_unknown),
        t("runtime/state/annotations", state_annotations),
        t("runtime/state/bundle-from-cwd", state_bundle_cwd),
        t(
            "runtime/lifecycle/create-does-not-run-process",
            create_not_run,
        ),
        t(
            "runtime/lifecycle/create-duplicate-id-fails",
            create_duplicate,
        ),
        t("runtime/lifecycle/start-runs-process", start_runs),
        t("runtime/lifecycle/start-twice-fails", start_twice),
        t("runtime/lifecycle/start-stopped-fails", start_stopped),
        t("runtime/lifecycle/start-unknown-id-fails", start_unknown),
        t("runtime/lifecycle/kill-created", kill_created),
        t("runtime/lifecycle/kill-running", kill_running),
        t("runtime/lifecycle/kill-delivers-signal", kill_delivers),
        t("runtime/lifecycle/kill-default-sigterm", kill_default),
        t("runtime/lifecycle/kill-stopped-fails", kill_stopped),
        t("runtime/lifecycle/kill-unknown-id-fails", kill_unknown),
        t("runtime/lifecycle/delete-stopped", delete_stopped),
        t("runtime/lifecycle/delete-running-fails", delete_running),
        t("runtime/lifecycle/delete-created-fails", delete_created),
        t("runtime/lifecycle/delete-unknown-id-fails", delete_unknown),
        t("runtime/lifecycle/id-reusable-after-delete", id_reuse),
        t("runtime/lifecycle/process-exit-stops-container", exit_stops),
        t("runtime/cli/run-exit-code", run_exit_code),
        t("runtime/cli/run-detach", run_detach),
        t("runtime/cli/exec-joins-container", exec_joins),
        t("runtime/cli/pid-file", pid_file),
        t("runtime/cli/delete-force-running", delete_force),
    ]
}

const LOOP: &str = "trap 'exit 0' TERM; touch /ready; while :; do sleep 0.1; done";

/// Wait until the looping process has installed its trap.
fn wait_ready(b: &Bundle) {
    for _ in 0..200 {
        if b.rootfs().join("ready").exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
}

fn looping(ctx: &mut Ctx) -> Bundle {
    let mut b = ctx.bundle();
    b.sh(LOOP);
    b
}

fn exists_pid(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn state_created(ctx: &mut Ctx) -> TResult {
    let b = looping(ctx);
    let id = ctx.create(&b)?;
    let s = ctx.state(&id)?;
    ensure!(
        s["ociVersion"].as_str().map(|v| !v.is_empty()) == Some(true),
        "state lacks ociVersion: {s}"
    );
    ensure!(s["id"] == json!(id), "state id {} != {id}", s["id"]);
    ensure!(
        s["status"] == "created",
        "status {} after create, want created",
        s["status"]
    );
    let pid = s["pid"].as_i64().unwrap_or(0) as i32;
    ensure!(
        pid > 0 && exists_pid(pid),
        "state pid {} is not a live host process",
        s["pid"]
    );
    let bundle = b.path.canonicalize()?;
    ensure!(
        s["bundle"] == json!(bundle.to_string_lossy()),
        "state bundle {} != {}",
        s["bundle"],
        bundle.display()
    );
    // The created container's process lives in the container's namespaces.
    ensure!(
        crate::harness::ns_link(&pid.to_string(), "uts")?
            != crate::harness::ns_link("self", "uts")?,
        "state pid {pid} is not in the container's uts namespace"
    );
    Ok(())
}

fn state_running(ctx: &mut Ctx) -> TResult {
    let b = looping(ctx);
    let id = ctx.create(&b)?;
    let pid = ctx.pid(&id)?;
    ctx.start(&id)?;
    let s = ctx.state(&id)?;
    ensure!(
        s["status"] == "running",
        "status {} after start, want running",
        s["status"]
    );
    ensure!(
        s["pid"] == json!(pid),
        "pid changed from {pid} to {} on start",
        s["pid"]
    );
    Ok(())
}

fn state_stopped(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.args(&["true"]);
    let id = ctx.create(&b)?;
    ctx.start(&id)?;
    ctx.wait_status(&id, "stopped", 10)?;
    let s = ctx.state(&id)?;
    ensure!(s["id"] == json!(id), "state id wrong after stop: {s}");
    Ok(())
}

fn state_unknown(ctx: &mut Ctx) -> TResult {
    let id = ctx.id();
    let o = ctx.rt(&["state", &id]);
    ensure!(!o.ok(), "state of unknown id succeeded: {}", o.brief());
    Ok(())
}

fn state_annotations(ctx: &mut Ctx) -> TResult {
    let mut b = looping(ctx);
    b.set(
        "/annotations",
        json!({"org.opencontainers.conformance.key": "value-1", "com.example.other": "x y"}),
    );
    let id = ctx.create(&b)?;
    let s = ctx.state(&id)?;
    ensure!(
        s["annotations"]["org.opencontainers.conformance.key"] == "value-1",
        "state lacks annotations: {s}"
    );
    ensure!(
        s["annotations"]["com.example.other"] == "x y",
        "state lacks annotations: {s}"
    );
    Ok(())
}

fn state_bundle_cwd(ctx: &mut Ctx) -> TResult {
    let b = looping(ctx);
    b.save()?;
    let id = ctx.id();
    let o = ctx.rt_with(&["create", &id], None, Some(&b.path));
    ensure!(
        o.ok(),
        "create without --bundle (cwd = bundle) failed: {}",
        o.brief()
    );
    let s = ctx.state(&id)?;
    let bundle = b.path.canonicalize()?;
    ensure!(
        s["bundle"] == json!(bundle.to_string_lossy()),
        "state bundle {} != {}",
        s["bundle"],
        bundle.display()
    );
    Ok(())
}

fn create_not_run(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.sh("touch /marker; sleep 1000");
    let id = ctx.create(&b)?;
    std::thread::sleep(std::time::Duration::from_millis(300));
    ensure!(
        !b.rootfs().join("marker").exists(),
        "user process ran before start"
    );
    ctx.start(&id)?;
    for _ in 0..100 {
        if b.rootfs().join("marker").exists() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    fail!("user process did not run after start")
}

fn create_duplicate(ctx: &mut Ctx) -> TResult {
    let b = looping(ctx);
    let id = ctx.create(&b)?;
    let pid = ctx.pid(&id)?;
    let b2 = looping(ctx);
    let o = ctx.create_out(&b2, &id);
    ensure!(
        !o.ok(),
        "second create with the same id succeeded: {}",
        o.brief()
    );
    let s = ctx.state(&id)?;
    ensure!(
        s["status"] == "created" && s["pid"] == json!(pid),
        "first container disturbed by duplicate create: {s}"
    );
    ensure!(
        s["bundle"] == json!(b.path.canonicalize()?.to_string_lossy()),
        "bundle changed by duplicate create: {s}"
    );
    Ok(())
}

fn start_runs(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.sh("echo started > /out");
    let id = ctx.create(&b)?;
    ctx.start(&id)?;
    ctx.wait_status(&id, "stopped", 10)?;
    let out = std::fs::read_to_string(b.rootfs().join("out")).unwrap_or_default();
    ensure!(out.trim() == "started", "process output {out:?}");
    Ok(())
}

fn start_twice(ctx: &mut Ctx) -> TResult {
    let b = looping(ctx);
    let id = ctx.create(&b)?;
    ctx.start(&id)?;
    let o = ctx.rt(&["start", &id]);
    ensure!(!o.ok(), "second start succeeded: {}", o.brief());
    ensure!(
        ctx.status(&id)? == "running",
        "container not running after failed second start"
    );
    Ok(())
}

fn start_stopped(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.args(&["true"]);
    let id = ctx.create(&b)?;
    ctx.start(&id)?;
    ctx.wait_status(&id, "stopped", 10)?;
    let o = ctx.rt(&["start", &id]);
    ensure!(
        !o.ok(),
        "start of a stopped container succeeded: {}",
        o.brief()
    );
    ensure!(
        ctx.status(&id)? == "stopped",
        "state changed by failed start"
    );
    Ok(())
}

fn start_unknown(ctx: &mut Ctx) -> TResult {
    let id = ctx.id();
    let o = ctx.rt(&["start", &id]);
    ensure!(!o.ok(), "start of unknown id succeeded: {}", o.brief());
    Ok(())
}

fn kill_created(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    let id = ctx.create(&b)?;
    let o = ctx.rt(&["kill", &id, "KILL"]);
    ensure!(o.ok(), "kill of a created container failed: {}", o.brief());
    ctx.wait_status(&id, "stopped", 10)
}

fn kill_running(ctx: &mut Ctx) -> TResult {
    let b = looping(ctx);
    let id = ctx.create(&b)?;
    ctx.start(&id)?;
    wait_ready(&b);
    let o = ctx.rt(&["kill", &id, "TERM"]);
    ensure!(o.ok(), "kill TERM failed: {}", o.brief());
    ctx.wait_status(&id, "stopped", 10)
}

fn kill_delivers(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.sh("trap 'echo got-usr1 > /sig' USR1; touch /ready; while :; do sleep 0.1; done");
    let id = ctx.create(&b)?;
    ctx.start(&id)?;
    for _ in 0..100 {
        if b.rootfs().join("ready").exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let o = ctx.rt(&["kill", &id, "USR1"]);
    ensure!(o.ok(), "kill USR1 failed: {}", o.brief());
    for _ in 0..100 {
        if std::fs::read_to_string(b.rootfs().join("sig"))
            .unwrap_or_default()
            .contains("got-usr1")
        {
            ensure!(
                ctx.status(&id)? == "running",
                "container not running after USR1"
            );
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    fail!("SIGUSR1 not delivered to the container process")
}

fn kill_default(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.sh("trap 'echo term > /sig; exit 0' TERM; touch /ready; while :; do sleep 0.1; done");
    let id = ctx.create(&b)?;
    ctx.start(&id)?;
    for _ in 0..100 {
        if b.rootfs().join("ready").exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let o = ctx.rt(&["kill", &id]);
    ensure!(o.ok(), "kill without a signal failed: {}", o.brief());
    ctx.wait_status(&id, "stopped", 10)?;
    let s = std::fs::read_to_string(b.rootfs().join("sig")).unwrap_or_default();
    ensure!(s.contains("term"), "default signal was not SIGTERM");
    Ok(())
}

fn kill_stopped(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.args(&["true"]);
    let id = ctx.create(&b)?;
    ctx.start(&id)?;
    ctx.wait_status(&id, "stopped", 10)?;
    let o = ctx.rt(&["kill", &id, "KILL"]);
    ensure!(
        !o.ok(),
        "kill of a stopped container succeeded: {}",
        o.brief()
    );
    ensure!(ctx.status(&id)? == "stopped", "state changed by kill");
    Ok(())
}

fn kill_unknown(ctx: &mut Ctx) -> TResult {
    let id = ctx.id();
    let o = ctx.rt(&["kill", &id, "KILL"]);
    ensure!(!o.ok(), "kill of unknown id succeeded: {}", o.brief());
    Ok(())
}

fn delete_stopped(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.args(&["true"]);
    let id = ctx.create(&b)?;
    let pid = ctx.pid(&id)?;
    ctx.start(&id)?;
    ctx.wait_status(&id, "stopped", 10)?;
    let o = ctx.rt(&["delete", &id]);
    ensure!(
        o.ok(),
        "delete of a stopped container failed: {}",
        o.brief()
    );
    let o = ctx.rt(&["state", &id]);
    ensure!(!o.ok(), "state still works after delete: {}", o.brief());
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    ensure!(
        st.is_empty() || st.contains("State:\tZ"),
        "container process {pid} still alive after delete"
    );
    let left = ctx.root_entries();
    ensure!(left.is_empty(), "left behind under --root: {left:?}");
    ensure!(
        b.rootfs().join("bin/busybox").exists(),
        "delete removed the bundle's rootfs"
    );
    Ok(())
}

fn delete_running(ctx: &mut Ctx) -> TResult {
    let b = looping(ctx);
    let id = ctx.create(&b)?;
    ctx.start(&id)?;
    let o = ctx.rt(&["delete", &id]);
    ensure!(
        !o.ok(),
        "delete (no --force) of a running container succeeded: {}",
        o.brief()
    );
    ensure!(
        ctx.status(&id)? == "running",
        "delete of a running container changed its state"
    );
    Ok(())
}

fn delete_created(ctx: &mut Ctx) -> TResult {
    let b = looping(ctx);
    let id = ctx.create(&b)?;
    let o = ctx.rt(&["delete", &id]);
    ensure!(!o.ok(), "delete (no --force) of a created container succeeded (runtime.md: not stopped => error, no effect)");
    ensure!(
        ctx.status(&id)? == "created",
        "delete of a created container changed its state"
    );
    Ok(())
}

fn delete_unknown(ctx: &mut Ctx) -> TResult {
    let id = ctx.id();
    let o = ctx.rt(&["delete", &id]);
    ensure!(!o.ok(), "delete of unknown id succeeded: {}", o.brief());
    Ok(())
}

fn id_reuse(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.args(&["true"]);
    let id = ctx.create(&b)?;
    ctx.start(&id)?;
    ctx.wait_status(&id, "stopped", 10)?;
    let o = ctx.rt(&["delete", &id]);
    ensure!(o.ok(), "delete failed: {}", o.brief());
    let o = ctx.create_out(&b, &id);
    ensure!(
        o.ok(),
        "create with a deleted container's id failed: {}",
        o.brief()
    );
    ensure!(
        ctx.status(&id)? == "created",
        "recreated container not in created state"
    );
    Ok(())
}

fn exit_stops(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.sh("sleep 0.3");
    let id = ctx.create(&b)?;
    let pid = ctx.pid(&id)?;
    ctx.start(&id)?;
    ctx.wait_status(&id, "stopped", 10)?;
    std::thread::sleep(std::time::Duration::from_millis(100));
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    ensure!(
        st.is_empty() || st.contains("State:\tZ"),
        "container process {pid} still alive after stop"
    );
    Ok(())
}

fn run_exit_code(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.sh("echo out; exit 7");
    let o = ctx.run(&b)?;
    ensure!(
        o.code == 7,
        "run exit code {} (want 7): {}",
        o.code,
        o.brief()
    );
    ensure!(o.stdout.trim() == "out", "run stdout {:?}", o.stdout);
    Ok(())
}

fn run_detach(ctx: &mut Ctx) -> TResult {
    let b = looping(ctx);
    b.save()?;
    let id = ctx.id();
    let bp = b.path.to_string_lossy().to_string();
    let o = ctx.rt(&["run", "-d", "--bundle", &bp, &id]);
    ensure!(o.ok(), "run -d failed: {}", o.brief());
    ensure!(
        ctx.status(&id)? == "running",
        "container not running after run -d"
    );
    Ok(())
}

fn exec_joins(ctx: &mut Ctx) -> TResult {
    let mut b = looping(ctx);
    b.set("/hostname", json!("exec-host"));
    let id = ctx.create(&b)?;
    ctx.start(&id)?;
    let o = ctx.rt(&[
        "exec",
        &id,
        "sh",
        "-c",
        "hostname; echo $$; cat /proc/1/cmdline | tr '\\0' ' '",
    ]);
    ensure!(o.ok(), "exec failed: {}", o.brief());
    let lines: Vec<&str> = o.stdout.lines().collect();
    ensure!(
        lines.first() == Some(&"exec-host"),
        "exec'd process not in container uts ns: {:?}",
        o.stdout
    );
    ensure!(
        lines.get(2).map(|l| l.contains("while")) == Some(true),
        "exec'd process does not see container pid 1: {:?}",
        o.stdout
    );
    Ok(())
}

fn pid_file(ctx: &mut Ctx) -> TResult {
    let b = looping(ctx);
    b.save()?;
    let id = ctx.id();
    let pf = ctx.path("pidfile");
    let bp = b.path.to_string_lossy().to_string();
    let o = ctx.rt(&[
        "create",
        "--bundle",
        &bp,
        "--pid-file",
        &pf.to_string_lossy(),
        &id,
    ]);
    ensure!(o.ok(), "create --pid-file failed: {}", o.brief());
    let pid = ctx.pid(&id)?;
    let got = std::fs::read_to_string(&pf).unwrap_or_default();
    ensure!(
        got.trim() == pid.to_string(),
        "pid file holds {got:?}, state pid {pid}"
    );
    Ok(())
}

fn delete_force(ctx: &mut Ctx) -> TResult {
    let b = looping(ctx);
    let id = ctx.create(&b)?;
    let pid = ctx.pid(&id)?;
    ctx.start(&id)?;
    let o = ctx.rt(&["delete", "--force", &id]);
    ensure!(
        o.ok(),
        "delete --force of a running container failed: {}",
        o.brief()
    );
    ensure!(
        !ctx.rt(&["state", &id]).ok(),
        "state works after delete --force"
    );
    std::thread::sleep(std::time::Duration::from_millis(100));
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    ensure!(
        st.is_empty() || st.contains("State:\tZ"),
        "container process {pid} survived delete --force"
    );
    ensure!(
        ctx.root_entries().is_empty(),
        "left behind under --root: {:?}",
        ctx.root_entries()
    );
    Ok(())
}
