//! diff-runc: the differential sweep of tong against runc (hack/diff-runc).
//!
//! Every case (a command × a container status × flags, a config variant
//! whose container prints what it sees, a failure) runs under both runtimes
//! on identical bundles with separate --root dirs; exit codes, stdout,
//! stderr (normalised) and `state` afterwards are compared line by line.
//! Each difference is printed; the run fails on any not in the allow-list.
//!
//!   diff-runc --tong PATH [--runc PATH] [--allow FILE] [--filter GLOB]...
//!             [--jobs N] [--list] [--verbose] [--keep]

mod allow;
mod case;
mod cases;
mod norm;

use case::{Case, Outcome, Record, Runtime};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

struct Opts {
    tong: PathBuf,
    runc: PathBuf,
    allow: Option<PathBuf>,
    filters: Vec<String>,
    jobs: usize,
    list: bool,
    verbose: bool,
    keep: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: diff-runc --tong PATH [--runc PATH] [--allow FILE] [--filter GLOB]... [--jobs N] [--list] [--verbose] [--keep]"
    );
    std::process::exit(2)
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|c| c.is_file())
    })
}

fn opts() -> Opts {
    let mut o = Opts {
        tong: PathBuf::new(),
        runc: which("runc").unwrap_or_else(|| "/usr/sbin/runc".into()),
        allow: None,
        filters: Vec::new(),
        jobs: 2,
        list: false,
        verbose: false,
        keep: false,
    };
    let mut a = std::env::args().skip(1);
    while let Some(x) = a.next() {
        let mut val = || a.next().unwrap_or_else(|| usage());
        match x.as_str() {
            "--tong" => o.tong = val().into(),
            "--runc" => o.runc = val().into(),
            "--allow" => o.allow = Some(val().into()),
            "--filter" => o.filters.push(val()),
            "--jobs" => o.jobs = val().parse().unwrap_or_else(|_| usage()),
            "--list" => o.list = true,
            "--verbose" | "-v" => o.verbose = true,
            "--keep" => o.keep = true,
            _ => usage(),
        }
    }
    if o.tong.as_os_str().is_empty() && !o.list {
        usage();
    }
    o
}

/// One differing line of one case.
struct Diff {
    aspect: &'static str,
    step: String,
    line: String,
}

fn compare_outcome(r: &Outcome, t: &Outcome, out: &mut Vec<Diff>) {
    if r.exit != t.exit {
        for (sign, e) in [("-", &r.exit), ("+", &t.exit)] {
            out.push(Diff {
                aspect: "exit",
                step: r.label.clone(),
                line: format!("{sign}{e}"),
            });
        }
    }
    for (aspect, a, b) in [
        ("stdout", &r.stdout, &t.stdout),
        ("stderr", &r.stderr, &t.stderr),
    ] {
        for line in norm::line_diff(a, b) {
            out.push(Diff {
                aspect,
                step: r.label.clone(),
                line,
            });
        }
    }
}

fn compare(r: &Record, t: &Record) -> Vec<Diff> {
    let mut out = Vec::new();
    if r.setup_error != t.setup_error {
        for (sign, e) in [("-", &r.setup_error), ("+", &t.setup_error)] {
            out.push(Diff {
                aspect: "setup",
                step: "setup".into(),
                line: format!("{sign}{}", e.as_deref().unwrap_or("ok")),
            });
        }
        return out;
    }
    for (a, b) in r.steps.iter().zip(&t.steps) {
        compare_outcome(a, b, &mut out);
    }
    if let (Some(a), Some(b)) = (&r.state, &t.state) {
        let mut d = Vec::new();
        compare_outcome(a, b, &mut d);
        for x in d.iter_mut() {
            x.aspect = "state";
        }
        out.extend(d);
    }
    out
}

fn main() {
    let o = opts();
    let all = cases::all();
    let selected: Vec<&Case> = all
        .iter()
        .filter(|c| o.filters.is_empty() || o.filters.iter().any(|f| allow::glob(f, &c.name)))
        .collect();
    if o.list {
        for c in &selected {
            println!("{}", c.name);
        }
        return;
    }
    let allow_list = match &o.allow {
        Some(p) => match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| allow::parse(&t))
        {
            Ok(l) => l,
            Err(e) => {
                eprintln!("diff-runc: {}: {e}", p.display());
                std::process::exit(2)
            }
        },
        None => Vec::new(),
    };
    if !nix_is_root() {
        eprintln!("diff-runc: needs root (it runs containers)");
        std::process::exit(2);
    }
    let t0 = Instant::now();
    let work = std::env::temp_dir().join(format!("diff-runc-{}", std::process::id()));
    let base = work.join("base-rootfs");
    if let Err(e) = tong_testkit::rootfs::make_busybox_rootfs(&base) {
        eprintln!("diff-runc: busybox rootfs: {e}");
        std::process::exit(2);
    }
    let mk = |label: &'static str, bin: &Path| Runtime {
        label,
        bin: std::fs::canonicalize(bin).unwrap_or_else(|_| bin.to_path_buf()),
        root: work.join(label).join("root"),
        work: work.join(label),
    };
    let runc = mk("runc", &o.runc);
    let tong = mk("tong", &o.tong);
    let tag = std::process::id() % 100_000;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Vec<Diff>>>> =
        Mutex::new((0..selected.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..o.jobs.max(1) {
            s.spawn(|| loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                let Some(c) = selected.get(n) else { break };
                let mut recs = Vec::new();
                for rt in [&runc, &tong] {
                    let dir = rt.work.join(n.to_string());
                    let side = &rt.label[..1];
                    let id = format!("dr{tag}-{n}-{side}");
                    let id2 = format!("dr{tag}-{n}-{side}2");
                    recs.push(case::run_case(c, rt, &dir, &id, &id2, &base));
                    case::cleanup(rt, &dir, &[&id, &id2]);
                }
                let d = compare(&recs[0], &recs[1]);
                results.lock().unwrap()[n] = Some(d);
            });
        }
    });
    let results = results.into_inner().unwrap();
    let (mut new, mut allowed, mut todo, mut steps) = (0, 0, 0, 0);
    for (c, d) in selected.iter().zip(results) {
        steps += c.steps.len() + usize::from(c.state_after);
        let d = d.unwrap_or_default();
        let mut head = false;
        for x in &d {
            let hit = allow::find(&allow_list, &c.name, x.aspect, &x.line);
            match hit {
                Some(e) if e.todo() => todo += 1,
                Some(_) => allowed += 1,
                None => new += 1,
            }
            if hit.is_none() || o.verbose {
                if !head {
                    println!("DIFF {}", c.name);
                    head = true;
                }
                let why = hit
                    .map(|e| format!("   [allowed, line {}]", e.lineno))
                    .unwrap_or_default();
                println!("  {} ({}): {}{why}", x.aspect, x.step, x.line);
            }
        }
    }
    if o.filters.is_empty() {
        for e in allow_list.iter().filter(|e| e.used.get() == 0) {
            println!(
                "note: allow-list line {} matched nothing: {} | {} | {}",
                e.lineno, e.case, e.aspect, e.line
            );
        }
    }
    if !o.keep {
        tong_testkit::fsutil::safe_remove(&work);
    }
    // The parent of config/cgroups-path's cgroups, which neither runtime
    // removes (runc does not either): ours, empty by now.
    for h in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        let _ = std::fs::remove_dir(h.path().join("diffrunc"));
    }
    let _ = std::fs::remove_dir("/sys/fs/cgroup/diffrunc");
    println!(
        "diff-runc: {} cases ({} steps), {} differing lines: {} new, {} allowed on purpose, {} allowed as not yet fixed (TODO); {:.0}s",
        selected.len(),
        steps,
        new + allowed + todo,
        new,
        allowed,
        todo,
        t0.elapsed().as_secs_f64()
    );
    if new > 0 {
        std::process::exit(1);
    }
}

fn nix_is_root() -> bool {
    tong_testkit::skip::is_root()
}
