//! Many runtimes at once on one root, as under a daemon: 100 containers
//! created, started, exec'd into, listed, paused, resumed and deleted all at
//! the same time; and one id raced by two creators, where exactly one may
//! win and the other must get a clear error without touching the winner.

mod common;
use common::*;
use serde_json::{json, Value};
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const N: usize = 100;

/// Runs every command at once (all spawned before any is waited for);
/// returns (exit code, stdout, stderr) of each, in order.
fn all_at_once(
    rt: &Runtime,
    dir: &std::path::Path,
    cmds: &[Vec<String>],
) -> Vec<(i32, String, String)> {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let mut running: Vec<(Child, PathBuf, PathBuf)> = Vec::new();
    for args in cmds {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let (op, ep) = (dir.join(format!("{n}.out")), dir.join(format!("{n}.err")));
        let mut c = rt.command();
        c.args(args)
            .stdin(Stdio::null())
            .stdout(File::create(&op).unwrap())
            .stderr(File::create(&ep).unwrap());
        running.push((c.spawn().unwrap(), op, ep));
    }
    running
        .into_iter()
        .zip(cmds)
        .map(|((mut child, op, ep), args)| {
            let st = wait_timeout(&mut child, Duration::from_secs(120), &args.join(" "));
            use std::os::unix::process::ExitStatusExt;
            let code = st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0));
            (
                code,
                std::fs::read_to_string(op).unwrap_or_default(),
                std::fs::read_to_string(ep).unwrap_or_default(),
            )
        })
        .collect()
}

fn each(ids: &[String], f: impl Fn(&str) -> Vec<String>) -> Vec<Vec<String>> {
    ids.iter().map(|id| f(id)).collect()
}

/// Every container's state.json is whole JSON naming its id.
fn states_whole(rt: &Runtime, ids: &[String], phase: &str) {
    for id in ids {
        let path = rt.state_dir(id).join("state.json");
        let raw = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{phase}: {}: {e}", path.display()));
        let v: Value = serde_json::from_str(&raw)
            .unwrap_or_else(|e| panic!("{phase}: {} is not JSON ({e}): {raw}", path.display()));
        assert_eq!(v["id"], id.as_str(), "{phase}: {}", path.display());
    }
}

fn all_ok(phase: &str, outs: &[(i32, String, String)]) {
    let bad: Vec<_> = outs.iter().filter(|o| o.0 != 0).collect();
    assert!(
        bad.is_empty(),
        "{phase}: {} of {} failed: {bad:?}",
        bad.len(),
        outs.len()
    );
}

#[test]
fn hundred_containers_at_once() {
    require_root!();
    let ctx = Ctx::new("cc-hundred");
    let b = ctx.bundle("exec sleep 1000");
    let mut nested = ctx.bundle("exec sleep 1000");
    // Half share a parent cgroup that they all make (and fill, cpuset) at once.
    nested.set("/linux/cgroupsPath", json!("SET PER CONTAINER"));
    let io = ctx.dir("io-cc");
    let ids: Vec<String> = (0..N).map(|i| ctx.id(&i.to_string())).collect();
    let parent = format!("tong-it-cc-{}", std::process::id());
    ctx.cgroup_parents.borrow_mut().push(format!("/{parent}"));
    let mut bundles = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        ctx.tong.track(id);
        if i % 2 == 0 {
            bundles.push((b.dir.clone(), None));
        } else {
            // One config per nested container: its own cgroupsPath.
            let d = ctx.dir(&format!("nested-{i}"));
            let mut cfg = nested.config.clone();
            let cg = format!("/{parent}/{id}");
            cfg["root"]["path"] = json!(nested.rootfs());
            cfg["linux"]["cgroupsPath"] = json!(cg);
            std::fs::write(d.join("config.json"), cfg.to_string()).unwrap();
            bundles.push((d, Some(cg)));
        }
    }
    // `list` runs all the time, and must always work and parse.
    // Until the delete phase no container is ever stopped: one half-way
    // through create is "creating", never "stopped".
    let stop = Arc::new(AtomicBool::new(false));
    let deleting = Arc::new(AtomicBool::new(false));
    let lister = {
        let (stop, bin, root) = (stop.clone(), ctx.tong.bin.clone(), ctx.tong.root.clone());
        let deleting = deleting.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let o = std::process::Command::new(&bin)
                    .arg("--root")
                    .arg(&root)
                    .args(["list", "--format", "json"])
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&o.stdout);
                assert!(o.status.success(), "list failed: {:?}", o);
                let v: Value = serde_json::from_str(text.trim())
                    .unwrap_or_else(|e| panic!("list output is not JSON ({e}): {text}"));
                assert!(v.is_null() || v.is_array(), "{v}");
                let phase_deleting = deleting.load(Ordering::SeqCst);
                for e in v.as_array().into_iter().flatten() {
                    let st = e["status"].as_str().unwrap_or("");
                    assert!(
                        ["creating", "created", "running", "paused"].contains(&st)
                            || (st == "stopped" && phase_deleting),
                        "list shows {e} before any container was stopped"
                    );
                }
                n += 1;
            }
            n
        })
    };
    let t0 = Instant::now();
    let creates = ids
        .iter()
        .zip(&bundles)
        .map(|(id, (d, _))| {
            vec![
                "create".into(),
                "--bundle".into(),
                d.display().to_string(),
                id.clone(),
            ]
        })
        .collect::<Vec<_>>();
    all_ok("create", &all_at_once(&ctx.tong, &io, &creates));
    states_whole(&ctx.tong, &ids, "after create");
    let pids: Vec<i32> = ids.iter().map(|id| ctx.tong.pid(id)).collect();
    all_ok(
        "start",
        &all_at_once(
            &ctx.tong,
            &io,
            &each(&ids, |id| vec!["start".into(), id.into()]),
        ),
    );
    let outs = all_at_once(
        &ctx.tong,
        &io,
        &each(&ids, |id| {
            vec![
                "exec".into(),
                id.into(),
                "sh".into(),
                "-c".into(),
                format!("echo {id}; cat /proc/1/cmdline"),
            ]
        }),
    );
    all_ok("exec", &outs);
    for (id, o) in ids.iter().zip(&outs) {
        assert!(
            o.1.starts_with(&format!("{id}\n")) && o.1.contains("sleep"),
            "{id}: {o:?}"
        );
    }
    all_ok(
        "pause",
        &all_at_once(
            &ctx.tong,
            &io,
            &each(&ids, |id| vec!["pause".into(), id.into()]),
        ),
    );
    states_whole(&ctx.tong, &ids, "after pause");
    let list = ctx.tong.list_json();
    assert_eq!(list.as_array().map(Vec::len), Some(N), "{list}");
    for id in &ids {
        let e = list
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} not listed"));
        assert_eq!(e["status"], "paused", "{e}");
    }
    all_ok(
        "resume",
        &all_at_once(
            &ctx.tong,
            &io,
            &each(&ids, |id| vec!["resume".into(), id.into()]),
        ),
    );
    for id in ids.iter().step_by(10) {
        assert_eq!(ctx.tong.status(id), "running");
    }
    deleting.store(true, Ordering::SeqCst);
    all_ok(
        "delete",
        &all_at_once(
            &ctx.tong,
            &io,
            &each(&ids, |id| {
                vec!["delete".into(), "--force".into(), id.into()]
            }),
        ),
    );
    stop.store(true, Ordering::SeqCst);
    let lists = lister.join().expect("list thread");
    eprintln!(
        "{N} containers through the lifecycle in {:?}, {lists} lists meanwhile",
        t0.elapsed()
    );
    assert_eq!(ctx.tong.list_json(), Value::Null, "containers remain");
    for ((id, (d, cg)), pid) in ids.iter().zip(&bundles).zip(&pids) {
        assert_clean(Leftovers {
            rt: &ctx.tong,
            id,
            bundle: Some(d),
            cgroup: cg.clone(),
            pids: vec![*pid],
        });
    }
}

/// Two creators of one id at the same moment (and a `run -d` against a
/// `create`): exactly one wins; the other says the id exists and leaves the
/// winner's state alone. 30 rounds.
#[test]
fn same_id_raced_by_two_creators() {
    require_root!();
    let ctx = Ctx::new("cc-race");
    let b = ctx.bundle("exec sleep 1000");
    let io = ctx.dir("io-race");
    let bundle = b.dir.display().to_string();
    for round in 0..30 {
        let id = ctx.id(&round.to_string());
        ctx.tong.track(&id);
        let second = if round % 3 == 0 { "run" } else { "create" };
        let mut cmds = vec![vec![
            "create".to_string(),
            "--bundle".into(),
            bundle.clone(),
            id.clone(),
        ]];
        let mut other = vec![second.to_string()];
        if second == "run" {
            other.push("-d".into());
        }
        other.extend(["--bundle".to_string(), bundle.clone(), id.clone()]);
        cmds.push(other);
        if round % 2 == 1 {
            cmds.reverse();
        }
        let outs = all_at_once(&ctx.tong, &io, &cmds);
        let winners: Vec<_> = outs.iter().filter(|o| o.0 == 0).collect();
        assert_eq!(winners.len(), 1, "round {round}: {outs:?}");
        let loser = outs.iter().find(|o| o.0 != 0).unwrap();
        assert!(
            loser.2.contains("container with given ID already exists"),
            "round {round}: unclear error: {loser:?}"
        );
        assert_eq!(loser.2.trim().lines().count(), 1, "{loser:?}");
        // The winner's state is whole and its init alive.
        let st = ctx.tong.state(&id);
        assert!(
            ["created", "running"].contains(&st["status"].as_str().unwrap()),
            "{st}"
        );
        let pid = st["pid"].as_i64().unwrap() as i32;
        assert!(alive(pid), "round {round}: the winner's init died");
        let raw = std::fs::read_to_string(ctx.tong.state_dir(&id).join("state.json")).unwrap();
        serde_json::from_str::<Value>(&raw).expect("state.json whole");
        ctx.tong.delete_force(&id).success();
        assert_clean_simple(&ctx.tong, &id, &b, &[pid]);
    }
}
