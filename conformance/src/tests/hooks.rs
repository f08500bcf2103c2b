//! config.md "POSIX-platform Hooks" and runtime.md lifecycle steps for the
//! six hook kinds: order, state on stdin, namespaces, failure semantics.

use crate::harness::{t, Bundle, Ctx, TResult, Test};
use crate::{ensure, fail};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub fn tests() -> Vec<Test> {
    vec![
        t("config/hooks/order", order),
        t("config/hooks/state-on-stdin", state_stdin),
        t("config/hooks/args-env", args_env),
        t("config/hooks/multiple-in-array-order", multiple),
        t(
            "config/hooks/create-runtime-in-runtime-ns",
            create_runtime_ns,
        ),
        t(
            "config/hooks/start-container-in-container",
            start_container_ns,
        ),
        t(
            "config/hooks/poststart-after-process-start",
            poststart_after,
        ),
        t("config/hooks/poststop-on-delete", poststop_on_delete),
        t("config/hooks/timeout", timeout),
        t("config/hooks/prestart-failure-fails-create", |c| {
            create_phase_fail(c, "prestart")
        }),
        t("config/hooks/create-runtime-failure-fails-create", |c| {
            create_phase_fail(c, "createRuntime")
        }),
        t("config/hooks/create-container-failure-fails-create", |c| {
            create_phase_fail(c, "createContainer")
        }),
        t(
            "config/hooks/start-container-failure-fails-start",
            start_container_fail,
        ),
        t(
            "config/hooks/poststart-failure-stops-container",
            poststart_fail,
        ),
        t("config/hooks/poststop-failure-is-warning", poststop_fail),
    ]
}

const HOST_KINDS: [&str; 5] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "poststart",
    "poststop",
];

/// Host-side hook: appends its name to LOG/log and saves stdin as LOG/<name>.json.
fn host_hook(log: &Path, name: &str) -> Value {
    let d = log.display();
    json!({"path": "/bin/busybox", "args": ["sh", "-c", format!("echo {name} >> {d}/log; cat > {d}/{name}.json")]})
}

/// startContainer runs in the container: the log dir is bind-mounted at /hooklog.
fn container_hook(name: &str) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo {name} >> /hooklog/log; cat > /hooklog/{name}.json")]})
}

fn hook_bundle(ctx: &mut Ctx) -> (Bundle, PathBuf) {
    let log = ctx.path("hooklog");
    std::fs::create_dir_all(&log).unwrap();
    std::fs::write(log.join("log"), "").unwrap();
    let mut b = ctx.bundle();
    b.add_mount("/hooklog", "bind", &log.to_string_lossy(), &["rbind"]);
    b.sh("echo user >> /hooklog/log; trap 'exit 0' TERM; while :; do sleep 0.1; done");
    (b, log)
}

fn all_hooks(b: &mut Bundle, log: &Path) {
    for k in HOST_KINDS {
        b.set(&format!("/hooks/{k}"), json!([host_hook(log, k)]));
    }
    b.set(
        "/hooks/startContainer",
        json!([container_hook("startContainer")]),
    );
}

fn read_log(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log.join("log"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn wait_log(log: &Path, entry: &str) -> bool {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if read_log(log).iter().any(|l| l == entry) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn order(ctx: &mut Ctx) -> TResult {
    let (mut b, log) = hook_bundle(ctx);
    all_hooks(&mut b, &log);
    let id = ctx.create(&b)?;
    let l = read_log(&log);
    ensure!(
        l == ["prestart", "createRuntime", "createContainer"],
        "hooks run by create: {l:?}"
    );
    ctx.start(&id)?;
    ensure!(
        wait_log(&log, "poststart") && wait_log(&log, "user"),
        "poststart/user process missing: {:?}",
        read_log(&log)
    );
    let l = read_log(&log);
    ensure!(
        l[..4]
            == [
                "prestart",
                "createRuntime",
                "createContainer",
                "startContainer"
            ],
        "hooks after start: {l:?}"
    );
    ensure!(
        !l.contains(&"poststop".to_string()),
        "poststop ran before delete: {l:?}"
    );
    let o = ctx.rt(&["kill", &id, "KILL"]);
    ensure!(o.ok(), "kill: {}", o.brief());
    ctx.wait_status(&id, "stopped", 10)?;
    let o = ctx.rt(&["delete", &id]);
    ensure!(o.ok(), "delete: {}", o.brief());
    let l = read_log(&log);
    ensure!(
        l.last().map(|s| s.as_str()) == Some("poststop"),
        "poststop not last after delete: {l:?}"
    );
    ensure!(
        l.iter().filter(|x| *x == "poststop").count() == 1,
        "poststop ran more than once: {l:?}"
    );
    Ok(())
}

fn state_stdin(ctx: &mut Ctx) -> TResult {
    let (mut b, log) = hook_bundle(ctx);
    all_hooks(&mut b, &log);
    b.set("/annotations", json!({"org.example.hook": "yes"}));
    let id = ctx.create(&b)?;
    let pid = ctx.pid(&id)?;
    ctx.start(&id)?;
    ensure!(wait_log(&log, "poststart"), "poststart did not run");
    ctx.rt(&["kill", &id, "KILL"]);
    ctx.wait_status(&id, "stopped", 10)?;
    let o = ctx.rt(&["delete", &id]);
    ensure!(o.ok(), "delete: {}", o.brief());
    let bundle = b.path.canonicalize()?.to_string_lossy().to_string();
    for k in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        let txt = std::fs::read_to_string(log.join(format!("{k}.json"))).unwrap_or_default();
        let s: Value = match serde_json::from_str(&txt) {
            Ok(v) => v,
            Err(e) => fail!("{k} hook stdin is not the state JSON ({e}): {txt:?}"),
        };
        ensure!(s["id"] == json!(id), "{k}: state id {}", s["id"]);
        ensure!(
            s["bundle"] == json!(bundle),
            "{k}: state bundle {}",
            s["bundle"]
        );
        ensure!(s["ociVersion"].is_string(), "{k}: no ociVersion");
        ensure!(
            ["creating", "created", "running", "stopped"]
                .contains(&s["status"].as_str().unwrap_or("")),
            "{k}: bad status {}",
            s["status"]
        );
        if k != "poststop" {
            ensure!(
                s["pid"] == json!(pid),
                "{k}: state pid {} (want {pid})",
                s["pid"]
            );
        }
        ensure!(
            s["annotations"]["org.example.hook"] == "yes",
            "{k}: state lacks annotations: {s}"
        );
    }
    Ok(())
}

fn args_env(ctx: &mut Ctx) -> TResult {
    let (mut b, log) = hook_bundle(ctx);
    let d = log.display();
    b.set(
        "/hooks/createRuntime",
        json!([{"path": "/bin/busybox", "args": ["sh", "-c", format!("echo \"$0|$1|$FOO|$BAR\" > {d}/out"), "arg0", "arg1"], "env": ["FOO=foo-val", "BAR=bar val"]}]),
    );
    ctx.create(&b)?;
    let out = std::fs::read_to_string(log.join("out")).unwrap_or_default();
    ensure!(
        out.trim() == "arg0|arg1|foo-val|bar val",
        "hook saw {out:?}"
    );
    Ok(())
}

fn multiple(ctx: &mut Ctx) -> TResult {
    let (mut b, log) = hook_bundle(ctx);
    b.set(
        "/hooks/createRuntime",
        json!([
            host_hook(&log, "one"),
            host_hook(&log, "two"),
            host_hook(&log, "three")
        ]),
    );
    ctx.create(&b)?;
    let l = read_log(&log);
    ensure!(l == ["one", "two", "three"], "hooks ran as {l:?}");
    Ok(())
}

fn create_runtime_ns(ctx: &mut Ctx) -> TResult {
    let (mut b, log) = hook_bundle(ctx);
    let d = log.display();
    b.set("/hostname", json!("in-container"));
    b.set("/hooks/createRuntime", json!([{"path": "/bin/busybox", "args": ["sh", "-c", format!("readlink /proc/self/ns/uts > {d}/ns")]}]));
    ctx.create(&b)?;
    let got = std::fs::read_to_string(log.join("ns")).unwrap_or_default();
    let host = crate::harness::ns_link("self", "uts")?;
    ensure!(
        got.trim() == host,
        "createRuntime hook ran in uts ns {got:?}, want the runtime's {host}"
    );
    Ok(())
}

fn start_container_ns(ctx: &mut Ctx) -> TResult {
    let (mut b, log) = hook_bundle(ctx);
    b.set("/hostname", json!("in-container"));
    // /bin/hook-only exists only in the container rootfs: the path must resolve there.
    std::fs::hard_link(
        b.rootfs().join("bin/busybox"),
        b.rootfs().join("bin/hook-only"),
    )?;
    b.set(
        "/hooks/startContainer",
        json!([{"path": "/bin/hook-only", "args": ["sh", "-c", "hostname > /hooklog/sc"]}]),
    );
    let id = ctx.create(&b)?;
    ctx.start(&id)?;
    // start may return before the hook has run; the user process waits for it
    wait_log(&log, "user");
    let got = std::fs::read_to_string(log.join("sc")).unwrap_or_default();
    ensure!(
        got.trim() == "in-container",
        "startContainer hook saw hostname {got:?}, want the container's"
    );
    Ok(())
}

fn poststart_after(ctx: &mut Ctx) -> TResult {
    let (mut b, log) = hook_bundle(ctx);
    b.set("/hooks/poststart", json!([host_hook(&log, "poststart")]));
    let id = ctx.create(&b)?;
    ensure!(
        !read_log(&log).contains(&"poststart".to_string()),
        "poststart ran during create"
    );
    ctx.start(&id)?;
    ensure!(
        wait_log(&log, "poststart"),
        "poststart hook not run after start: {:?}",
        read_log(&log)
    );
    Ok(())
}

fn poststop_on_delete(ctx: &mut Ctx) -> TResult {
    let (mut b, log) = hook_bundle(ctx);
    b.set("/hooks/poststop", json!([host_hook(&log, "poststop")]));
    b.sh("echo user >> /hooklog/log");
    let id = ctx.create(&b)?;
    ctx.start(&id)?;
    ctx.wait_status(&id, "stopped", 10)?;
    std::thread::sleep(Duration::from_millis(200));
    ensure!(
        !read_log(&log).contains(&"poststop".to_string()),
        "poststop ran before delete: {:?}",
        read_log(&log)
    );
    let o = ctx.rt(&["delete", &id]);
    ensure!(o.ok(), "delete: {}", o.brief());
    ensure!(
        read_log(&log) == ["user", "poststop"],
        "log after delete: {:?}",
        read_log(&log)
    );
    Ok(())
}

fn timeout(ctx: &mut Ctx) -> TResult {
    let (mut b, _log) = hook_bundle(ctx);
    b.set(
        "/hooks/createRuntime",
        json!([{"path": "/bin/busybox", "args": ["sleep", "20"], "timeout": 1}]),
    );
    let id = ctx.id();
    let t0 = Instant::now();
    let o = ctx.create_out(&b, &id);
    let el = t0.elapsed();
    ensure!(
        !o.ok(),
        "create succeeded although a hook exceeded its timeout: {}",
        o.brief()
    );
    ensure!(
        el < Duration::from_secs(10),
        "hook timeout not enforced: create took {el:?}"
    );
    ensure!(
        !ctx.rt(&["state", &id]).ok(),
        "container exists after failed create"
    );
    let left = crate::harness::cgroups_named(&id);
    ensure!(
        left.is_empty(),
        "cgroups left after failed create: {left:?}"
    );
    Ok(())
}

fn cgroup_of(b: &Bundle) -> String {
    b.cfg["linux"]["cgroupsPath"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn create_phase_fail(ctx: &mut Ctx, kind: &str) -> TResult {
    let (mut b, log) = hook_bundle(ctx);
    let cg = format!(
        "/conf-hookfail-{}-{}",
        std::process::id(),
        crate::harness::next_n()
    );
    b.cgroups_path(&cg);
    let d = log.display();
    b.set(&format!("/hooks/{kind}"), json!([{"path": "/bin/busybox", "args": ["sh", "-c", format!("cat >/dev/null; echo {kind} >> {d}/log; exit 3")]}]));
    b.set("/hooks/poststart", json!([host_hook(&log, "poststart")]));
    let id = ctx.id();
    let o = ctx.create_out(&b, &id);
    ensure!(!o.ok(), "create succeeded although a {kind} hook failed");
    ensure!(
        read_log(&log).contains(&kind.to_string()),
        "{kind} hook did not run"
    );
    // runtime.md: stop the container and continue at delete (step 12).
    let st = ctx.rt(&["state", &id]);
    ensure!(
        !st.ok(),
        "container still exists after a failed {kind} hook: {}",
        st.stdout.trim()
    );
    std::thread::sleep(Duration::from_millis(100));
    ensure!(
        !read_log(&log).contains(&"user".to_string()),
        "user process ran after failed {kind} hook"
    );
    ensure!(
        ctx.root_entries().is_empty(),
        "left under --root: {:?}",
        ctx.root_entries()
    );
    let left = crate::harness::cgroups_named(&cgroup_of(&b));
    ensure!(
        left.is_empty(),
        "cgroups left after failed create: {left:?}"
    );
    Ok(())
}

fn start_container_fail(ctx: &mut Ctx) -> TResult {
    let (mut b, log) = hook_bundle(ctx);
    b.set("/hooks/startContainer", json!([{"path": "/bin/sh", "args": ["sh", "-c", "cat >/dev/null; echo startContainer >> /hooklog/log; exit 4"]}]));
    let id = ctx.create(&b)?;
    let o = ctx.rt(&["start", &id]);
    ensure!(
        !o.ok(),
        "start succeeded although a startContainer hook failed"
    );
    ensure!(
        read_log(&log).contains(&"startContainer".to_string()),
        "startContainer hook did not run"
    );
    std::thread::sleep(Duration::from_millis(300));
    ensure!(
        !read_log(&log).contains(&"user".to_string()),
        "user process ran after failed startContainer hook"
    );
    Ok(())
}

/// runtime.md lifecycle step 9 (since runtime-spec's fix of the poststart
/// text, and runc 1.2+): a failing poststart hook is an error, the container
/// is stopped, and the remaining poststart hooks do not run.
fn poststart_fail(ctx: &mut Ctx) -> TResult {
    let (mut b, log) = hook_bundle(ctx);
    let d = log.display();
    b.set("/hooks/poststart", json!([
        {"path": "/bin/busybox", "args": ["sh", "-c", format!("cat >/dev/null; echo ps1 >> {d}/log; exit 5")]},
        host_hook(&log, "ps2"),
    ]));
    let id = ctx.create(&b)?;
    let o = ctx.rt(&["start", &id]);
    ensure!(
        !o.ok(),
        "start succeeded although a poststart hook failed (spec: MUST generate an error): {}",
        o.brief()
    );
    ensure!(
        wait_log(&log, "ps1"),
        "the failing poststart hook did not run: {:?}",
        read_log(&log)
    );
    ctx.wait_status(&id, "stopped", 10)?;
    ensure!(
        !read_log(&log).contains(&"ps2".to_string()),
        "poststart hooks after the failing one ran: {:?}",
        read_log(&log)
    );
    Ok(())
}

fn poststop_fail(ctx: &mut Ctx) -> TResult {
    let (mut b, log) = hook_bundle(ctx);
    let d = log.display();
    b.set("/hooks/poststop", json!([
        {"path": "/bin/busybox", "args": ["sh", "-c", format!("cat >/dev/null; echo pp1 >> {d}/log; exit 6")]},
        host_hook(&log, "pp2"),
    ]));
    b.sh("true");
    let id = ctx.create(&b)?;
    ctx.start(&id)?;
    ctx.wait_status(&id, "stopped", 10)?;
    let o = ctx.rt(&["delete", &id]);
    ensure!(
        o.ok(),
        "delete failed because of a poststop hook (spec: warning only): {}",
        o.brief()
    );
    ensure!(
        read_log(&log).contains(&"pp2".to_string()),
        "remaining poststop hooks skipped: {:?}",
        read_log(&log)
    );
    ensure!(
        !ctx.rt(&["state", &id]).ok(),
        "container still exists after delete"
    );
    Ok(())
}
