//! Hooks: prestart, createRuntime, createContainer, startContainer, poststart,
//! poststop — order, when each runs, the state JSON on stdin, args, env,
//! timeout, and failures (which must undo the container).

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// A host hook: saves stdin to LOG/<name>.json and appends "<name> <HOOKVAR>" to LOG/order.
fn host_hook(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("hook.sh");
    write_script(
        &p,
        &format!(
            "set -e\nname=\"$1\"\ncat > {d}/\"$name\".json\necho \"$name $HOOKVAR\" >> {d}/order",
            d = dir.display()
        ),
    );
    p
}

fn hook(path: &Path, name: &str) -> Value {
    json!({"path": path, "args": [path, name], "env": ["PATH=/usr/bin:/bin", format!("HOOKVAR=var-{name}")]})
}

fn order(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("order"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn state_of(dir: &Path, name: &str) -> Value {
    let s = std::fs::read_to_string(dir.join(format!("{name}.json")))
        .unwrap_or_else(|e| panic!("{name} hook got no stdin: {e}"));
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{name} stdin is not JSON ({e}): {s:?}"))
}

#[test]
fn all_hooks_in_order_with_state_on_stdin() {
    require_root!();
    let ctx = Ctx::new("hk-all");
    let log = ctx.dir("hooklog");
    let h = host_hook(&log);
    let mut b = ctx.bundle("echo ready; exec sleep 1000");
    // startContainer runs inside the container: its path is in the rootfs and it
    // logs through a bind mount of the host's log dir.
    std::fs::create_dir_all(b.rootfs().join("hooks")).unwrap();
    write_script(&b.rootfs().join("hooks/start.sh"), "cat > /hooklog/startContainer.json\necho \"startContainer $HOOKVAR $(hostname)\" >> /hooklog/order");
    // The script's #!/bin/sh is busybox in the rootfs.
    b.push_mount(json!({"destination": "/hooklog", "type": "bind", "source": log, "options": ["rbind", "rw"]}));
    b.set("/annotations", json!({"hook.test": "yes"}));
    b.set(
        "/hooks",
        json!({
            "prestart": [hook(&h, "prestart")],
            "createRuntime": [hook(&h, "createRuntime")],
            "createContainer": [hook(&h, "createContainer")],
            "startContainer": [{"path": "/hooks/start.sh", "env": ["PATH=/bin", "HOOKVAR=var-startContainer"]}],
            "poststart": [hook(&h, "poststart")],
            "poststop": [hook(&h, "poststop")]
        }),
    );
    let id = ctx.id("");
    let c = ctx.tong.create(&b, &id, &[]).success();
    let pid = ctx.tong.pid(&id);
    assert_eq!(
        order(&log),
        [
            "prestart var-prestart",
            "createRuntime var-createRuntime",
            "createContainer var-createContainer"
        ]
    );
    for name in ["prestart", "createRuntime", "createContainer"] {
        let st = state_of(&log, name);
        assert_eq!(st["id"], id.as_str(), "{name}: {st}");
        assert_eq!(st["pid"], pid, "{name}: {st}");
        assert_eq!(st["status"], "creating", "{name}: {st}");
        assert_eq!(st["bundle"], b.dir.to_str().unwrap(), "{name}: {st}");
        assert_eq!(st["annotations"]["hook.test"], "yes", "{name}: {st}");
        assert!(st["ociVersion"].is_string(), "{name}: {st}");
    }
    ctx.tong.start(&id).success();
    wait_until("ready", Duration::from_secs(10), || {
        c.stdout_now().contains("ready")
    });
    let o = order(&log);
    assert_eq!(o.len(), 5, "{o:?}");
    assert_eq!(
        o[3], "startContainer var-startContainer tong",
        "startContainer runs in the container (its hostname)"
    );
    assert_eq!(o[4], "poststart var-poststart");
    let st = state_of(&log, "startContainer");
    assert_eq!(st["id"], id.as_str());
    let st = state_of(&log, "poststart");
    assert_eq!(st["status"], "running", "{st}");
    assert_eq!(st["pid"], pid);
    ctx.tong.kill(&id, "KILL").success();
    ctx.tong.wait_stopped(&id);
    ctx.tong.delete(&id).success();
    let o = order(&log);
    assert_eq!(
        o.last().map(String::as_str),
        Some("poststop var-poststop"),
        "{o:?}"
    );
    let st = state_of(&log, "poststop");
    assert_eq!(st["status"], "stopped", "{st}");
    assert_eq!(st["id"], id.as_str());
    assert_clean_simple(&ctx.tong, &id, &b, &[pid]);
}

#[test]
fn hooks_run_with_run_command() {
    require_root!();
    let ctx = Ctx::new("hk-run");
    let log = ctx.dir("hooklog");
    let h = host_hook(&log);
    let mut b = ctx.bundle("exit 0");
    b.set("/hooks", json!({"prestart": [hook(&h, "prestart")], "poststart": [hook(&h, "poststart")], "poststop": [hook(&h, "poststop")]}));
    let id = ctx.id("");
    ctx.tong.run(&b, &id, &[]).success();
    assert_eq!(
        order(&log),
        [
            "prestart var-prestart",
            "poststart var-poststart",
            "poststop var-poststop"
        ]
    );
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}

#[test]
fn failing_hooks_undo_create() {
    require_root!();
    let ctx = Ctx::new("hk-fail");
    let log = ctx.dir("hooklog");
    let fail = log.join("fail.sh");
    write_script(&fail, "echo hook-said-no >&2; exit 3");
    for kind in ["prestart", "createRuntime", "createContainer"] {
        let mut b = ctx.bundle("exec sleep 1000");
        b.set(&format!("/hooks/{kind}"), json!([{"path": fail}]));
        let id = ctx.id(kind);
        let o = ctx.tong.create(&b, &id, &[]).failure();
        // runc 1.2's words, the hook's output as it wrote it (quoted).
        let want = format!(
            "unable to start container process: error during container init: error running {kind} hook #0: exit status 3, stdout: , stderr: hook-said-no\\n"
        );
        assert!(o.stderr.contains(&want), "{kind}: {o:?}");
        assert_eq!(o.stderr.trim().lines().count(), 1, "one-line error: {o:?}");
        assert_clean_simple(&ctx.tong, &id, &b, &[]);
    }
    // A missing hook binary fails the same way.
    let mut b = ctx.bundle("true");
    b.set("/hooks/prestart", json!([{"path": "/nonexistent/hook"}]));
    let id = ctx.id("missing");
    ctx.tong.create(&b, &id, &[]).failure();
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
    // `run` with a failing hook: non-zero, nothing left.
    let mut b = ctx.bundle("true");
    b.set("/hooks/prestart", json!([{"path": fail}]));
    let id = ctx.id("run");
    ctx.tong.run(&b, &id, &[]).failure();
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}

/// A failing startContainer hook under `run`: as runc's, the init prints the
/// error (runc 1.2's words, the hook's output as it wrote it) on the
/// container's stderr and exits 1, which is `run`'s code; `run` adds no line
/// of its own, the user process never runs, and nothing is left.
#[test]
fn failing_start_container_hook_in_run() {
    require_root!();
    let ctx = Ctx::new("hk-startfail");
    let mut b = ctx.bundle("echo user-ran");
    b.set(
        "/hooks/startContainer",
        json!([{"path": "/bin/sh", "args": ["sh", "-c", "cat >/dev/null; echo no >&2; exit 4"]}]),
    );
    let id = ctx.id("");
    let o = ctx.tong.run(&b, &id, &[]);
    assert_eq!(o.code, 1, "{o:?}");
    assert_eq!(
        o.stderr, "error running startContainer hook #0: exit status 4, stdout: , stderr: no\n\n",
        "{o:?}"
    );
    assert!(!o.stdout.contains("user-ran"), "{o:?}");
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}

#[test]
fn failing_poststop_does_not_block_delete() {
    require_root!();
    let ctx = Ctx::new("hk-poststop");
    let log = ctx.dir("hooklog");
    let fail = log.join("fail.sh");
    write_script(&fail, "exit 1");
    let mut b = ctx.bundle("exec sleep 1000");
    b.set("/hooks/poststop", json!([{"path": fail}]));
    let id = ctx.id("");
    ctx.tong.run_detached(&b, &id).success();
    let pid = ctx.tong.pid(&id);
    ctx.tong.delete_force(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[pid]);
}

#[test]
fn hook_timeout() {
    require_root!();
    let ctx = Ctx::new("hk-timeout");
    let log = ctx.dir("hooklog");
    let slow = log.join("slow.sh");
    write_script(
        &slow,
        &format!("echo $$ > {}/slow.pid; exec sleep 30", log.display()),
    );
    let mut b = ctx.bundle("true");
    b.set("/hooks/prestart", json!([{"path": slow, "timeout": 1}]));
    let id = ctx.id("");
    let t0 = Instant::now();
    let o = ctx.tong.create(&b, &id, &[]).failure();
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(10), "timeout 1s took {took:?}");
    assert!(
        o.stderr
            .contains("error running prestart hook #0: hook ran past specified timeout of 1.0s"),
        "{o:?}"
    );
    // The hook itself is killed too.
    let hp: i32 = std::fs::read_to_string(log.join("slow.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_until("timed-out hook killed", Duration::from_secs(5), || {
        !alive(hp)
    });
    assert_clean_simple(&ctx.tong, &id, &b, &[hp]);
}

/// A hook writing more than a pipe holds (1 MiB on each stream): its output
/// is read while it runs, so create neither hangs (it did: the output was only
/// read after the hook exited, and the hook blocked on a full pipe) nor loses
/// what the hook said when it fails.
#[test]
fn hook_output_larger_than_a_pipe() {
    require_root!();
    let ctx = Ctx::new("hk-bigout");
    let log = ctx.dir("hooklog");
    let big = log.join("big.sh");
    write_script(
        &big,
        "head -c 1048576 /dev/zero | tr '\\0' o; head -c 1048576 /dev/zero | tr '\\0' e >&2; exit \"$1\"",
    );
    let mut b = ctx.bundle("exec sleep 1000");
    b.set(
        "/hooks/prestart",
        json!([{"path": big, "args": [big, "0"]}]),
    );
    let id = ctx.id("ok");
    ctx.tong.create(&b, &id, &[]).success();
    let pid = ctx.tong.pid(&id);
    ctx.tong.delete_force(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[pid]);

    let mut b = ctx.bundle("exec sleep 1000");
    b.set(
        "/hooks/createRuntime",
        json!([{"path": big, "args": [big, "4"]}]),
    );
    let id = ctx.id("fail");
    let o = ctx.tong.create(&b, &id, &[]).failure();
    assert!(
        o.stderr
            .contains("error running createRuntime hook #0: exit status 4, stdout: oooo"),
        "{:.300}",
        o.stderr
    );
    assert!(o.stderr.contains("stdout: oooo"), "{:.300}", o.stderr);
    assert!(o.stderr.contains("stderr: eeee"), "{:.300}", o.stderr);
    assert!(o.stderr.contains("[output truncated]"), "{:.300}", o.stderr);
    assert!(
        o.stderr.len() < 1 << 20,
        "output kept whole: {}",
        o.stderr.len()
    );
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}

/// The timeout covers the whole hook, writing its stdin included: a hook
/// that never reads a state bigger than a pipe (a 1 MiB annotation) used to
/// block create before the timeout even started. On timeout the hook's
/// process group goes, what it started in the background included.
#[test]
fn hook_timeout_covers_stdin_and_kills_the_group() {
    require_root!();
    let ctx = Ctx::new("hk-tmo-group");
    let log = ctx.dir("hooklog");
    let hang = log.join("hang.sh");
    write_script(
        &hang,
        &format!(
            // Host pids (a createContainer hook runs in the container's pid
            // namespace, but this /proc is still the host's).
            "sh -c 'read p r < /proc/self/stat; echo $p > {d}/bg.pid; exec sleep 1000' &\n\
             read p r < /proc/self/stat; echo $p > {d}/hook.pid; wait",
            d = log.display()
        ),
    );
    for kind in ["prestart", "createContainer"] {
        let mut b = ctx.bundle("exec sleep 1000");
        b.set("/annotations", json!({"big": "x".repeat(1 << 20)}));
        b.set(
            &format!("/hooks/{kind}"),
            json!([{"path": hang, "timeout": 1}]),
        );
        let _ = std::fs::remove_file(log.join("hook.pid"));
        let _ = std::fs::remove_file(log.join("bg.pid"));
        let id = ctx.id(kind);
        let o = ctx.tong.create(&b, &id, &[]).failure();
        assert!(
            o.stderr.contains("hook ran past specified timeout of 1.0s"),
            "{kind}: {o:?}"
        );
        let read = |f: &str| -> i32 {
            std::fs::read_to_string(log.join(f))
                .unwrap_or_default()
                .trim()
                .parse()
                .unwrap_or(0)
        };
        let (hp, bg) = (read("hook.pid"), read("bg.pid"));
        assert!(hp > 0 && bg > 0, "{kind}: the hook did not start");
        wait_until("hook group killed", Duration::from_secs(5), || {
            !alive(hp) && !alive(bg)
        });
        assert_clean_simple(&ctx.tong, &id, &b, &[hp, bg]);
    }
}

/// A hook that exits but leaves a process holding its stdout (a daemon it
/// started) does not keep create waiting for an EOF that never comes.
#[test]
fn hook_leaving_a_process_behind_does_not_hang_create() {
    require_root!();
    let ctx = Ctx::new("hk-daemon");
    let log = ctx.dir("hooklog");
    let d = log.join("daemon.sh");
    write_script(
        &d,
        &format!(
            "sleep 1000 & echo $! > {}/bg.pid; echo started",
            log.display()
        ),
    );
    let mut b = ctx.bundle("exec sleep 1000");
    b.set("/hooks/prestart", json!([{"path": d}]));
    let id = ctx.id("");
    ctx.tong.create(&b, &id, &[]).success();
    let bg: i32 = std::fs::read_to_string(log.join("bg.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(bg),
        nix::sys::signal::Signal::SIGKILL,
    );
    let pid = ctx.tong.pid(&id);
    ctx.tong.delete_force(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[pid, bg]);
}

/// The state the container's own hooks get is as big as the annotations make
/// it: it used to travel in one sync message and a 1 MiB annotation failed
/// create ("message too long"); a failing createContainer hook's long output
/// reaches the error, cut to fit.
#[test]
fn big_state_and_output_of_container_hooks() {
    require_root!();
    let ctx = Ctx::new("hk-bigstate");
    let log = ctx.dir("hooklog");
    let h = host_hook(&log);
    let mut b = ctx.bundle("exec sleep 1000");
    b.set("/annotations", json!({"big": "y".repeat(1 << 20)}));
    b.set(
        "/hooks/createContainer",
        json!([hook(&h, "createContainer")]),
    );
    let id = ctx.id("ok");
    ctx.tong.create(&b, &id, &[]).success();
    let pid = ctx.tong.pid(&id);
    let st = state_of(&log, "createContainer");
    assert_eq!(st["pid"], pid);
    assert_eq!(
        st["annotations"]["big"].as_str().map(str::len),
        Some(1 << 20)
    );
    ctx.tong.delete_force(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[pid]);

    let loud = log.join("loud.sh");
    write_script(&loud, "head -c 300000 /dev/zero | tr '\\0' z >&2; exit 9");
    let mut b = ctx.bundle("exec sleep 1000");
    b.set("/hooks/createContainer", json!([{"path": loud}]));
    let id = ctx.id("loud");
    let o = ctx.tong.create(&b, &id, &[]).failure();
    assert!(
        o.stderr
            .contains("error running createContainer hook #0: exit status 9"),
        "{:.300}",
        o.stderr
    );
    assert!(o.stderr.contains("stderr: zzzz"), "{:.300}", o.stderr);
    assert!(o.stderr.contains("truncated"), "{:.300}", o.stderr);
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}
