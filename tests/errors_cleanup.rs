//! Failure injection: bad config, missing rootfs, bad ids, cgroup errors, a killed
//! init, a killed runtime mid-create, corrupt state — each followed by a check
//! that no mount, cgroup, state dir or process remains.

mod common;
use common::*;
use serde_json::json;
use std::time::Duration;

fn expect_clean_failure(ctx: &Ctx, b: &Bundle, id: &str, words: &[&str]) -> Out {
    let o = ctx.tong.create(b, id, &[]);
    assert_ne!(o.code, 0, "create {id} succeeded: {o:?}");
    let err = o.stderr.to_lowercase();
    assert!(
        words.is_empty() || words.iter().any(|w| err.contains(&w.to_lowercase())),
        "{id}: {:?} lacks {words:?}",
        o.stderr
    );
    assert_eq!(
        o.stderr.trim().lines().count(),
        1,
        "error must be one line: {:?}",
        o.stderr
    );
    assert_clean_simple(&ctx.tong, id, b, &[]);
    o
}

#[test]
fn bad_configs() {
    require_root!();
    let ctx = Ctx::new("er-config");
    // Not JSON.
    let b = ctx.bundle("true");
    std::fs::write(b.dir.join("config.json"), "{ not json").unwrap();
    let id = ctx.id("notjson");
    ctx.tong.track(&id);
    let o = ctx
        .tong
        .cmd(&["create", "--bundle", b.dir.to_str().unwrap(), &id])
        .failure();
    assert!(o.stderr.contains("config"), "{o:?}");
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
    // No config.json.
    std::fs::remove_file(b.dir.join("config.json")).unwrap();
    let o = ctx
        .tong
        .cmd(&["create", "--bundle", b.dir.to_str().unwrap(), &id])
        .failure();
    assert!(o.stderr.contains("config.json"), "{o:?}");
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
    // Missing bundle directory.
    let o = ctx
        .tong
        .cmd(&["create", "--bundle", "/nonexistent/tong-it-bundle", &id])
        .failure();
    assert!(o.stderr.contains("nonexistent"), "{o:?}");
    assert!(!ctx.tong.state_dir(&id).exists());

    let cases: Vec<(&str, Edit, &[&str])> = vec![
        (
            "noargs",
            Box::new(|b: &mut Bundle| {
                b.args(&[]);
            }),
            &["args"],
        ),
        (
            "relcwd",
            Box::new(|b: &mut Bundle| {
                b.set("/process/cwd", json!("relative"));
            }),
            &["cwd"],
        ),
        (
            "badenv",
            Box::new(|b: &mut Bundle| {
                b.set("/process/env", json!(["NOEQUALS"]));
            }),
            &["env"],
        ),
        (
            "dupns",
            Box::new(|b: &mut Bundle| {
                b.config["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "pid"}));
            }),
            &["namespace", "duplicate"],
        ),
        (
            "badns",
            Box::new(|b: &mut Bundle| {
                b.config["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "bogus"}));
            }),
            &[],
        ),
        (
            "cgdotdot",
            Box::new(|b: &mut Bundle| {
                b.set("/linux/cgroupsPath", json!("/a/../../b"));
            }),
            &["cgroupsPath"],
        ),
        (
            "noproc",
            Box::new(|b: &mut Bundle| {
                b.config.as_object_mut().unwrap().remove("process");
            }),
            &["process"],
        ),
        (
            "noroot",
            Box::new(|b: &mut Bundle| {
                b.config.as_object_mut().unwrap().remove("root");
            }),
            &["root"],
        ),
    ];
    for (name, edit, words) in cases {
        let mut b = ctx.bundle("true");
        edit(&mut b);
        expect_clean_failure(&ctx, &b, &ctx.id(name), words);
    }
}

#[test]
fn missing_or_bad_rootfs() {
    require_root!();
    let ctx = Ctx::new("er-rootfs");
    let mut b = ctx.bundle("true");
    b.set("/root/path", json!("no-such-rootfs"));
    expect_clean_failure(
        &ctx,
        &b,
        &ctx.id("missing"),
        &["rootfs", "no-such-rootfs", "no such file"],
    );
    let mut b = ctx.bundle("true");
    std::fs::write(b.dir.join("afile"), "x").unwrap();
    b.set("/root/path", json!("afile"));
    expect_clean_failure(&ctx, &b, &ctx.id("file"), &["rootfs", "directory"]);
    // An empty rootfs: no /bin/sh.
    let mut b = ctx.bundle("true");
    std::fs::create_dir_all(b.dir.join("empty")).unwrap();
    b.set("/root/path", json!("empty"));
    expect_clean_failure(
        &ctx,
        &b,
        &ctx.id("empty"),
        &["executable file not found", "no such file or directory"],
    );
}

#[test]
fn bad_ids() {
    require_root!();
    let ctx = Ctx::new("er-ids");
    let b = ctx.bundle("true");
    for id in ["../escape", "a/b", "..", "with space", ""] {
        let o = ctx
            .tong
            .cmd(&["create", "--bundle", b.dir.to_str().unwrap(), id]);
        assert_ne!(o.code, 0, "id {id:?} accepted");
    }
    assert!(
        !ctx.work.join("escape").exists(),
        "../escape made a state dir outside --root"
    );
    assert!(!ctx.tong.root.join("a").exists());
    for c in CONTROLLERS {
        assert!(!cgroup_dir(c, "/escape").exists() && !cgroup_dir(c, "/a/b").exists());
    }
    assert!(processes_mentioning(b.dir.to_str().unwrap()).is_empty());
}

#[test]
fn cgroup_apply_failure_undoes_create() {
    require_root!();
    let ctx = Ctx::new("er-cgroup");
    let mut b = ctx.bundle("exec sleep 1000");
    // cfs_quota_us below 1000 is EINVAL in the kernel.
    b.set(
        "/linux/resources/cpu",
        json!({"quota": 10, "period": 100000}),
    );
    let id = ctx.id("");
    let o = ctx.tong.create(&b, &id, &[]);
    assert_ne!(o.code, 0, "invalid cpu quota accepted: {o:?}");
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}

#[test]
fn systemd_cgroup_is_refused_cleanly() {
    require_root!();
    let ctx = Ctx::new("er-systemd");
    let b = ctx.bundle("true");
    let id = ctx.id("");
    ctx.tong.track(&id);
    let o = ctx
        .tong
        .cmd_global(
            &["--systemd-cgroup"],
            &["run", "--bundle", b.dir.to_str().unwrap(), &id],
        )
        .failure();
    assert!(o.stderr.contains("systemd"), "{o:?}");
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}

#[test]
fn killed_init_of_created_and_running_containers() {
    require_root!();
    let ctx = Ctx::new("er-killinit");
    use nix::sys::signal::{kill, Signal::SIGKILL};
    use nix::unistd::Pid;
    for started in [false, true] {
        let b = ctx.bundle("exec sleep 1000");
        let id = ctx.id(if started { "running" } else { "created" });
        ctx.tong.create(&b, &id, &[]).success();
        if started {
            ctx.tong.start(&id).success();
        }
        let pid = ctx.tong.pid(&id);
        kill(Pid::from_raw(pid), SIGKILL).unwrap();
        ctx.tong.wait_stopped(&id);
        let st = ctx.tong.state(&id);
        assert_eq!(st["pid"], 0, "{st}");
        // list still works and shows it stopped.
        let l = ctx.tong.list_json();
        assert!(
            l.as_array()
                .unwrap()
                .iter()
                .any(|e| e["id"] == id.as_str() && e["status"] == "stopped"),
            "{l}"
        );
        assert_eq!(ctx.tong.kill(&id, "TERM").code, 1);
        assert_ne!(ctx.tong.start(&id).code, 0, "start of a dead container");
        ctx.tong.delete(&id).success();
        assert_clean_simple(&ctx.tong, &id, &b, &[pid]);
    }
}

#[test]
fn killed_runtime_during_create() {
    require_root!();
    let ctx = Ctx::new("er-killrt");
    // A prestart hook that hangs keeps `create` busy; kill `create` meanwhile.
    let log = ctx.dir("hk");
    let hook = log.join("hang.sh");
    write_script(
        &hook,
        &format!("echo $$ > {}/hook.pid; exec sleep 60", log.display()),
    );
    let mut b = ctx.bundle("exec sleep 1000");
    b.set("/hooks/prestart", json!([{"path": hook}]));
    b.save();
    let id = ctx.id("");
    ctx.tong.track(&id);
    let mut c = ctx.tong.command();
    c.args(["create", "--bundle", b.dir.to_str().unwrap(), &id])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = c.spawn().unwrap();
    wait_until("hook started", Duration::from_secs(10), || {
        log.join("hook.pid").exists()
    });
    // The init exists now (hooks run once it is placed in its cgroup).
    let procs: Vec<i32> =
        std::fs::read_to_string(cgroup_dir("pids", &format!("/{id}")).join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.parse().ok())
            .collect();
    assert!(
        !procs.is_empty(),
        "the init should be in its cgroup while prestart hooks run"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // The init dies with its parent (PDEATHSIG).
    wait_until("orphaned init gone", Duration::from_secs(10), || {
        procs.iter().all(|p| !alive(*p))
    });
    // Whatever is left is recoverable: state reports it stopped, delete --force cleans.
    let st = ctx.tong.cmd(&["state", &id]);
    if st.ok() {
        let v: serde_json::Value = serde_json::from_str(&st.stdout).unwrap();
        assert_eq!(v["status"], "stopped", "{v}");
    }
    ctx.tong.list_json();
    ctx.tong.delete_force(&id).success();
    let hp: i32 = std::fs::read_to_string(log.join("hook.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(hp),
        nix::sys::signal::Signal::SIGKILL,
    );
    assert_clean_simple(&ctx.tong, &id, &b, &procs);
}

#[test]
fn corrupt_state_is_removable() {
    require_root!();
    let ctx = Ctx::new("er-corrupt");
    let b = ctx.bundle("exec sleep 1000");
    let id = ctx.id("");
    ctx.tong.create(&b, &id, &[]).success();
    let pid = ctx.tong.pid(&id);
    ctx.tong.delete_force(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[pid]);
    // Now fake a corrupt one.
    let dir = ctx.tong.state_dir(&id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("state.json"), "{garbage").unwrap();
    let s = ctx.tong.cmd(&["state", &id]);
    assert_ne!(s.code, 0);
    // list skips it rather than failing.
    ctx.tong.cmd(&["list"]).success();
    ctx.tong.delete_force(&id).success();
    assert!(
        !dir.exists(),
        "corrupt state dir not removed by delete --force"
    );
}

#[test]
fn missing_container_errors() {
    require_root!();
    let ctx = Ctx::new("er-missing");
    let id = ctx.id("nope");
    for (args, code) in [
        (vec!["state", id.as_str()], 1),
        (vec!["start", id.as_str()], 1),
        (vec!["kill", id.as_str()], 1),
        (vec!["kill", "--all", id.as_str(), "9"], 1),
        (vec!["delete", id.as_str()], 1),
        (vec!["delete", "--force", id.as_str()], 0),
    ] {
        let o = ctx.tong.cmd(&args);
        assert_eq!(o.code, code, "{args:?}: {o:?}");
        if code != 0 {
            assert!(o.stderr.contains("does not exist"), "{args:?}: {o:?}");
            assert_eq!(o.stderr.trim().lines().count(), 1, "{args:?}: {o:?}");
        }
    }
}

/// `kill -9` of create between making the state dir and writing its first
/// state.json (or half-way through that write) left a directory that
/// `delete --force` did not remove ("does not exist"), so the id could never
/// be created again.
#[test]
fn state_dir_without_state_is_removable() {
    require_root!();
    let ctx = Ctx::new("er-nostate");
    let b = ctx.bundle("exec sleep 1000");
    for (tag, files) in [
        ("empty", vec![]),
        ("tmp", vec![(".state.json.tmp", "{\"id\":\"x\",\"cgr")]),
        ("lock", vec![(".state.json.tmp", "")]),
    ] {
        let id = ctx.id(tag);
        ctx.tong.track(&id);
        let dir = ctx.tong.state_dir(&id);
        std::fs::create_dir_all(&dir).unwrap();
        for (f, text) in files {
            std::fs::write(dir.join(f), text).unwrap();
        }
        ctx.tong.create(&b, &id, &[]).failure();
        assert_ne!(ctx.tong.cmd(&["state", &id]).code, 0);
        ctx.tong.delete_force(&id).success();
        assert!(!dir.exists(), "{tag}: {} remains", dir.display());
        ctx.tong.create(&b, &id, &[]).success();
        let pid = ctx.tong.pid(&id);
        ctx.tong.delete_force(&id).success();
        assert_clean_simple(&ctx.tong, &id, &b, &[pid]);
    }
}

/// state.json emptied (a crash mid-write, a full disk) on a running container
/// with an exec'd process and a custom cgroupsPath: `delete --force` finds
/// the processes through the recovery record, or without it through what
/// is left, and kills every one of them.
#[test]
fn emptied_state_of_a_running_container() {
    require_root!();
    let ctx = Ctx::new("er-emptied");
    for keep_recovery in [true, false] {
        let mut b = ctx.bundle("exec sleep 1000");
        let id = ctx.id(if keep_recovery { "rec" } else { "norec" });
        let cg = format!("/tong-it-emptied/{id}");
        b.set("/linux/cgroupsPath", json!(cg));
        b.remove_namespace("pid");
        ctx.cgroup_parents
            .borrow_mut()
            .push("/tong-it-emptied".into());
        ctx.tong.run_detached(&b, &id).success();
        let init = ctx.tong.pid(&id);
        ctx.tong.cmd(&["exec", "-d", &id, "sleep", "999"]).success();
        let dir = ctx.tong.state_dir(&id);
        if keep_recovery {
            std::fs::write(dir.join("state.json"), "").unwrap();
        } else {
            // What a crash mid-save leaves: a truncated file whose fields
            // still name the cgroup.
            let full = std::fs::read_to_string(dir.join("state.json")).unwrap();
            let cut = full.find("\"hooks\"").unwrap_or(full.len() / 2);
            std::fs::write(dir.join("state.json"), &full[..cut]).unwrap();
            std::fs::remove_file(dir.join("recovery")).unwrap();
        }
        let procs = cg_procs("pids", &cg);
        assert!(procs.len() >= 2, "init and exec'd process: {procs:?}");
        ctx.tong.delete_force(&id).success();
        let mut pids = procs.clone();
        pids.push(init);
        assert_clean(Leftovers {
            rt: &ctx.tong,
            id: &id,
            bundle: Some(&b.dir),
            cgroup: Some(cg),
            pids,
        });
    }
}

/// Configs refused before the fork: the error names the field and its index,
/// and nothing exists afterwards (no state dir, cgroup in any hierarchy,
/// mount, process or pid file).
#[test]
fn pre_fork_refusals_name_the_field_and_leave_nothing() {
    require_root!();
    let ctx = Ctx::new("er-prefork");
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "semver",
            Box::new(|b: &mut Bundle| {
                b.set("/ociVersion", json!("1.0"));
            }),
            "ociVersion",
        ),
        (
            "mountopt",
            Box::new(|b: &mut Bundle| {
                b.set("/mounts/3/options/1", json!(""));
            }),
            "mounts[3].options[1]",
        ),
        (
            "bindopt",
            // An option tong does not know on a bind mount (runc 1.2 refuses it).
            Box::new(|b: &mut Bundle| {
                b.push_mount(json!({"destination": "/x", "type": "bind", "source": "/tmp", "options": ["rbind", "size=1"]}));
            }),
            "mounts[7].options[1] (/x): unknown mount option",
        ),
        (
            "rlimitdup",
            Box::new(|b: &mut Bundle| {
                b.set(
                    "/process/rlimits",
                    json!([
                {"type": "RLIMIT_NOFILE", "soft": 10, "hard": 10},
                {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
                {"type": "RLIMIT_NOFILE", "soft": 20, "hard": 20}]),
                );
            }),
            "process.rlimits[2].type",
        ),
        (
            "rlimitbogus",
            Box::new(|b: &mut Bundle| {
                b.set(
                    "/process/rlimits",
                    json!([{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]),
                );
            }),
            "process.rlimits[0].type",
        ),
        (
            "ioprio",
            Box::new(|b: &mut Bundle| {
                b.set(
                    "/process/ioPriority",
                    json!({"class": "IOPRIO_CLASS_BE", "priority": 8}),
                );
            }),
            "process.ioPriority.priority",
        ),
        (
            "sched",
            Box::new(|b: &mut Bundle| {
                b.set(
                    "/process/scheduler",
                    json!({"policy": "SCHED_FIFO", "priority": 0}),
                );
            }),
            "process.scheduler.priority",
        ),
        (
            "sysctl",
            Box::new(|b: &mut Bundle| {
                b.set("/linux/sysctl", json!({"net..x": "1"}));
            }),
            "linux.sysctl",
        ),
        (
            "devtype",
            Box::new(|b: &mut Bundle| {
                b.set(
                    "/linux/devices",
                    json!([{"path": "/dev/x", "type": "a", "major": 1, "minor": 3}]),
                );
            }),
            "linux.devices[0].type",
        ),
        (
            "cap",
            Box::new(|b: &mut Bundle| {
                // Not a name at all (an unknown name is skipped, as runc does).
                b.set("/process/capabilities/effective/0", json!(7));
            }),
            "process.capabilities.effective[0]",
        ),
        (
            "oom",
            Box::new(|b: &mut Bundle| {
                b.set("/process/oomScoreAdj", json!(5000));
            }),
            "process.oomScoreAdj",
        ),
        (
            "seccomp",
            Box::new(|b: &mut Bundle| {
                b.set("/linux/seccomp", json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}));
            }),
            "linux.seccomp",
        ),
    ];
    for (tag, edit, field) in cases {
        let mut b = ctx.bundle("touch /ran; exec sleep 1000");
        let id = ctx.id(tag);
        let cg = format!("/tong-it-prefork-{id}");
        b.set("/linux/cgroupsPath", json!(cg));
        edit(&mut b);
        let pid_file = ctx.work.join(format!("{tag}.pid"));
        let o = ctx
            .tong
            .create(&b, &id, &["--pid-file", pid_file.to_str().unwrap()])
            .failure();
        assert!(
            o.stderr.contains(field),
            "{tag}: {field} not named: {}",
            o.stderr
        );
        assert_eq!(o.stderr.trim().lines().count(), 1, "{tag}: {:?}", o.stderr);
        assert!(!pid_file.exists(), "{tag}: pid file written");
        assert!(!b.rootfs().join("ran").exists(), "{tag}: the process ran");
        assert_clean(Leftovers {
            rt: &ctx.tong,
            id: &id,
            bundle: Some(&b.dir),
            cgroup: Some(cg),
            pids: vec![],
        });
    }
    // exec --process gets the same checks, before anything is forked.
    let b = ctx.bundle("exec sleep 1000");
    let id = ctx.id("exec");
    ctx.tong.create(&b, &id, &[]).success();
    let pf = ctx.work.join("process.json");
    for (process, field) in [
        (
            json!({"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0},
                "ioPriority": {"class": "IOPRIO_CLASS_RT", "priority": 9}}),
            "process.ioPriority.priority",
        ),
        (
            json!({"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0},
                "rlimits": [{"type": "RLIMIT_NOPE", "soft": 1, "hard": 1}]}),
            "rlimits[0].type",
        ),
    ] {
        std::fs::write(&pf, process.to_string()).unwrap();
        let o = ctx
            .tong
            .cmd(&["exec", "--process", pf.to_str().unwrap(), &id]);
        assert_eq!(o.code, 255, "{o:?}");
        assert!(o.stderr.contains(field), "{field}: {}", o.stderr);
    }
    assert_eq!(
        cg_procs("pids", &format!("/{id}")).len(),
        1,
        "only the init"
    );
    let pid = ctx.tong.pid(&id);
    ctx.tong.delete_force(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[pid]);
}
