//! tong-conformance: an OCI runtime-spec conformance suite that drives any
//! runtime through runc's command line.

mod harness;
mod report;
mod rootless;
mod tests;
#[cfg(test)]
mod unit;

use clap::Parser;
use harness::{Ctx, Env, Test, Verdict};
use report::{Outcome, Record};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(
    name = "tong-conformance",
    about = "OCI runtime-spec conformance suite for runc-compatible runtimes"
)]
struct Cli {
    /// Path of the runtime binary under test (runc command line).
    #[arg(long)]
    runtime: Option<PathBuf>,
    /// Only run tests whose name matches this regex.
    #[arg(long)]
    filter: Option<String>,
    /// Parallel test threads.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Keep work directories (bundles, state roots) for debugging.
    #[arg(long)]
    keep: bool,
    /// Output format: text or json.
    #[arg(long, default_value = "text")]
    format: String,
    /// Expected-failures file (`test-name # reason` per line): exit 0 iff the
    /// set of failing tests equals the listed one.
    #[arg(long)]
    expected: Option<PathBuf>,
    /// Per-runtime-command timeout in seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Work directory (default: a fresh directory under $TMPDIR).
    #[arg(long)]
    workdir: Option<PathBuf>,
    /// List the tests and exit.
    #[arg(long)]
    list: bool,
    /// Run as an unprivileged user (not root; XDG_RUNTIME_DIR set): bundles
    /// get runc's rootless config (`runc spec --rootless`), state roots go
    /// under $XDG_RUNTIME_DIR, and the tests that need root SKIP with the
    /// reason.
    #[arg(long)]
    rootless: bool,
}

pub(crate) fn run_one(env: &Env, t: &Test) -> Record {
    let start = Instant::now();
    if env.rootless {
        if let Some(why) = rootless::skip_reason(t.name) {
            return Record {
                name: t.name.to_string(),
                outcome: Outcome::Skip,
                reason: format!("rootless: {why}"),
                secs: 0.0,
            };
        }
    }
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        match Ctx::new(env, t.name) {
            Ok(mut ctx) => {
                let r = (t.f)(&mut ctx);
                let left = ctx.finish();
                match r {
                    Ok(()) if !left.is_empty() => Err(Verdict::Fail(format!(
                        "runtime left cgroups behind after delete --force: {left:?}"
                    ))),
                    r => r,
                }
            }
            Err(e) => Err(Verdict::Fail(format!("setting up test dir: {e}"))),
        }
    }));
    let (outcome, reason) = match res {
        Ok(Ok(())) => (Outcome::Pass, String::new()),
        Ok(Err(Verdict::Fail(r))) => (Outcome::Fail, r),
        Ok(Err(Verdict::Skip(r))) => (Outcome::Skip, r),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            (Outcome::Fail, format!("test panicked: {msg}"))
        }
    };
    Record {
        name: t.name.to_string(),
        outcome,
        reason,
        secs: start.elapsed().as_secs_f64(),
    }
}

/// Run tests on `jobs` threads; `on_done` sees each record as it finishes.
pub fn run_tests(
    env: &Env,
    tests: &[Test],
    jobs: usize,
    on_done: &(dyn Fn(&Record) + Sync),
) -> Vec<Record> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Record>>> = Mutex::new(vec![None; tests.len()]);
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= tests.len() {
                    break;
                }
                let r = run_one(env, &tests[i]);
                on_done(&r);
                results.lock().unwrap()[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .flatten()
        .collect()
}

fn main() {
    let cli = Cli::parse();
    let mut all = tests::all();
    if let Some(f) = &cli.filter {
        let re = match regex::Regex::new(f) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("bad --filter: {e}");
                std::process::exit(2);
            }
        };
        all.retain(|t| re.is_match(t.name));
    }
    if cli.list {
        for t in &all {
            println!("{}", t.name);
        }
        return;
    }
    let Some(runtime) = cli.runtime.clone() else {
        eprintln!("--runtime PATH is required");
        std::process::exit(2);
    };
    let root = nix::unistd::geteuid().is_root();
    if cli.rootless && root {
        eprintln!("tong-conformance --rootless must run as an unprivileged user (uid != 0)");
        std::process::exit(2);
    }
    if !cli.rootless && !root {
        eprintln!("tong-conformance must run as root (or as an ordinary user with --rootless)");
        std::process::exit(2);
    }
    let expected = match &cli.expected {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(s) => Some(report::parse_expected(&s)),
            Err(e) => {
                eprintln!("reading {}: {e}", p.display());
                std::process::exit(2);
            }
        },
        None => None,
    };
    let env = match Env::new(
        runtime,
        cli.workdir.clone(),
        Duration::from_secs(cli.timeout),
        cli.keep,
        cli.rootless,
    ) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("setting up work directory: {e}");
            std::process::exit(2);
        }
    };
    let text = cli.format != "json";
    let printer = Arc::new(Mutex::new(()));
    let on_done = move |r: &Record| {
        if text {
            let _g = printer.lock().unwrap();
            println!("{}", r.line());
        }
    };
    let start = Instant::now();
    let mut recs = run_tests(&env, &all, cli.jobs, &on_done);
    env.cleanup();
    // Whole-process sweep: only safe once no test of this process runs.
    let left = harness::sweep_cgroups();
    if !left.is_empty() {
        eprintln!(
            "warning: the runtime left {} cgroup(s) of this run behind; removed: {}",
            left.len(),
            left.join(" ")
        );
    }
    recs.sort_by(|a, b| a.name.cmp(&b.name));
    let summary = report::Summary::of(&recs);
    let exp_check = expected
        .as_ref()
        .map(|e| report::compare_expected(&recs, e));
    if text {
        if let Some(c) = &exp_check {
            for n in &c.unexpected_fail {
                println!("UNEXPECTED FAIL {n}");
            }
            for n in &c.unexpected_pass {
                println!("UNEXPECTED PASS {n} (listed in expected file)");
            }
        }
        println!(
            "{} passed, {} failed, {} skipped",
            summary.passed, summary.failed, summary.skipped
        );
        if let (Some(c), Some(e)) = (&exp_check, &expected) {
            println!(
                "expected failures {}: {} listed, {} unexpected failure(s), {} unexpected pass(es)",
                if c.matches() {
                    "matched"
                } else {
                    "DID NOT match"
                },
                e.len(),
                c.unexpected_fail.len(),
                c.unexpected_pass.len()
            );
        }
    } else {
        println!(
            "{}",
            report::json(
                &env.runtime,
                &recs,
                &summary,
                exp_check.as_ref(),
                start.elapsed().as_secs_f64()
            )
        );
    }
    let ok = match &exp_check {
        Some(c) => c.matches(),
        None => summary.failed == 0,
    };
    std::process::exit(if ok { 0 } else { 1 });
}
