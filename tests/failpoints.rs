//! Fault injection at every named step (src/failpoint.rs): for each step of
//! create, start, run, exec, update, pause and delete, in the parent and in
//! the child, a lifecycle is run with an error injected at that step, then
//! again with a SIGKILL there. Afterwards `delete --force` must succeed, no
//! state dir, cgroup (any hierarchy), mount or process of the container may
//! remain, and the same id must be usable again. The steps are read from the
//! source, so a new `failpoint!` is walked without editing this file, and
//! each must actually be reached by the walk.
//!
//! A second test kills the runtime at random moments of random commands,
//! hundreds of times, with the same checks.

mod common;
use common::*;
use serde_json::json;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Every `failpoint!("NAME")` in src/.
fn failpoints() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                for part in text.split("failpoint!(\"").skip(1) {
                    let name = part.split('"').next().unwrap();
                    // The macro's own definition and docs name no step.
                    if name.contains('.') && !out.iter().any(|n| n == name) {
                        out.push(name.to_string());
                    }
                }
            }
        }
    }
    let mut v = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut v);
    v.sort();
    v
}

/// A bundle whose create runs every step: hooks on both sides.
fn walk_bundle(ctx: &Ctx) -> Bundle {
    let mut b = ctx.bundle("exec sleep 1000");
    b.set(
        "/hooks",
        json!({
            "prestart": [{"path": "/bin/true"}],
            "createContainer": [{"path": "/bin/true"}],
        }),
    );
    b.save();
    b
}

/// One lifecycle with `fp` armed in every command; stops at the first
/// command that fails (or dies). Returns (failed command, its output).
fn lifecycle(
    rt: &Runtime,
    b: &Bundle,
    id: &str,
    fp: &str,
    log: &Path,
    via_run: bool,
) -> Option<(String, Out)> {
    let bundle = b.dir.to_str().unwrap();
    let mut steps: Vec<Vec<&str>> = Vec::new();
    if via_run {
        steps.push(vec!["run", "-d", "--bundle", bundle, id]);
    } else {
        steps.push(vec!["create", "--bundle", bundle, id]);
        steps.push(vec!["start", id]);
    }
    steps.extend([
        vec!["exec", id, "true"],
        vec!["update", "--pids-limit", "50", id],
        vec!["pause", id],
        vec!["resume", id],
        vec!["kill", id, "KILL"],
    ]);
    for args in &steps {
        let mut c = rt.command();
        c.env("TONG_FAILPOINT", fp)
            .env("TONG_FAILPOINT_LOG", log)
            .args(args);
        let o = rt.exec(c, &args.join(" "));
        if !o.ok() {
            return Some((args.join(" "), o));
        }
    }
    // The init dies of the KILL; delete (not --force) once it has.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let o = rt.cmd(&["state", id]);
        if !o.ok() || o.stdout.contains("\"stopped\"") || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut c = rt.command();
    c.env("TONG_FAILPOINT", fp)
        .env("TONG_FAILPOINT_LOG", log)
        .args(["delete", id]);
    let o = rt.exec(c, "delete");
    (!o.ok()).then(|| ("delete".to_string(), o))
}

/// After whatever happened: delete --force succeeds, nothing remains, and
/// the id can be created (and removed) again.
fn recovers(ctx: &Ctx, b: &Bundle, id: &str, what: &str) {
    let o = ctx.tong.delete_force(id);
    assert!(o.ok(), "{what}: delete --force failed: {o:?}");
    assert_clean_simple(&ctx.tong, id, b, &[]);
    let o = ctx.tong.create(b, id, &[]);
    assert!(o.ok(), "{what}: create of the same id failed: {o:?}");
    let pid = ctx.tong.pid(id);
    ctx.tong.delete_force(id).success();
    assert_clean_simple(&ctx.tong, id, b, &[pid]);
}

fn walk(action: &str) {
    let ctx = Ctx::new(&format!("fp-{action}"));
    let fp = ctx.tong.with_bin(failpoint_bin());
    let b = walk_bundle(&ctx);
    let points = failpoints();
    assert!(points.len() >= 20, "failpoints found: {points:?}");
    let mut report = Vec::new();
    for point in &points {
        let id = ctx.id(&point.replace('.', "-"));
        ctx.tong.track(&id);
        let log = ctx.work.join(format!("{action}-{point}.log"));
        let via_run = point.starts_with("run.");
        let failed = lifecycle(&fp, &b, &id, &format!("{point}={action}"), &log, via_run);
        let reached = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            reached.lines().any(|l| l == point),
            "{point}: never reached by the walk (reached: {reached:?})"
        );
        if action == "error" {
            // An injected error fails the command that reached the step and
            // is what it reports (in one line).
            let (cmd, o) = failed
                .as_ref()
                .unwrap_or_else(|| panic!("{point}=error: every command succeeded"));
            assert!(
                o.stderr
                    .contains(&format!("failpoint {point}: injected error")),
                "{point}: `{cmd}` did not report the injected error: {o:?}"
            );
            assert_eq!(o.stderr.trim().lines().count(), 1, "{point}: {o:?}");
        }
        report.push(format!(
            "{point}={action}: {}",
            failed
                .as_ref()
                .map_or("lifecycle completed".into(), |(c, o)| format!(
                    "`{c}` exited {}",
                    o.code
                ))
        ));
        recovers(&ctx, &b, &id, &format!("{point}={action}"));
    }
    eprintln!("{}", report.join("\n"));
}

#[test]
fn error_at_every_step_is_recoverable() {
    require_root!();
    walk("error");
}

#[test]
fn sigkill_at_every_step_is_recoverable() {
    require_root!();
    walk("kill");
}

/// kill -9 of the runtime at a random moment of a random command, hundreds
/// of times (bounded: 300 rounds or 100 s). Every round the same id: after
/// `delete --force` nothing may remain and the next round creates it anew.
#[test]
fn sigkill_at_random_moments() {
    require_root!();
    let ctx = Ctx::new("fp-random");
    let b = ctx.bundle("exec sleep 1000");
    let id = ctx.id("");
    ctx.tong.track(&id);
    // A small deterministic generator: the failing round can be replayed.
    let mut seed: u64 = std::env::var("TONG_RANDOM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_abcd);
    eprintln!("seed {seed}");
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let started = Instant::now();
    let mut rounds = 0;
    let mut killed = 0;
    while rounds < 300 && started.elapsed() < Duration::from_secs(100) {
        rounds += 1;
        // Set the stage: nothing, created, or running.
        let stage = next(3);
        if stage >= 1 {
            ctx.tong.create(&b, &id, &[]).success();
        }
        if stage == 2 {
            ctx.tong.start(&id).success();
        }
        let bundle = b.dir.to_str().unwrap();
        let args: Vec<&str> = match (stage, next(3)) {
            (0, 0) => vec!["create", "--bundle", bundle, &id],
            (0, _) => vec!["run", "-d", "--bundle", bundle, &id],
            (1, 0) => vec!["start", &id],
            (1, _) => vec!["delete", "--force", &id],
            (_, 0) => vec!["exec", &id, "sleep", "1000"],
            (_, 1) => vec!["pause", &id],
            (_, _) => vec!["delete", "--force", &id],
        };
        let mut c = ctx.tong.command();
        c.args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = c.spawn().unwrap();
        // Up to 30 ms: most commands here take 5 to 20.
        std::thread::sleep(Duration::from_micros(next(30_000)));
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        let what = format!("round {rounds}: {args:?}");
        let o = ctx.tong.delete_force(&id);
        assert!(o.ok(), "{what}: delete --force failed: {o:?}");
        assert_clean_simple(&ctx.tong, &id, &b, &[]);
    }
    eprintln!(
        "{rounds} rounds in {:?}, {killed} commands killed while running",
        started.elapsed()
    );
    // 300 rounds on this host; a TCG guest manages about 70 in the 100 s.
    assert!(rounds >= 30, "only {rounds} rounds");
}
