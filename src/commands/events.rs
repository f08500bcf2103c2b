//! `events`: runc's JSON events. `--stats` prints one stats event; otherwise a
//! stats event every --interval and an `oom` event whenever the cgroup's OOM
//! counter grows, until the container stops.

use crate::cgroups::Cgroup;
use crate::state::{Container, Status};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::time::Duration;

pub fn parse_interval(s: &str) -> Result<Duration> {
    let (num, unit) = s.trim().split_at(
        s.trim()
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(s.len()),
    );
    let n: f64 = num
        .parse()
        .with_context(|| format!("invalid interval {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => bail!("invalid interval {s:?}"),
    };
    if secs <= 0.0 {
        bail!("duration interval must be greater than 0");
    }
    Ok(Duration::from_secs_f64(secs))
}

fn stats_event(id: &str, cg: &Cgroup) -> Result<String> {
    let s = cg.stats()?;
    Ok(serde_json::json!({"type": "stats", "id": id, "data": s}).to_string())
}

fn oom_count(cgroup_path: &Path) -> u64 {
    let rel = cgroup_path.strip_prefix("/").unwrap_or(cgroup_path);
    let v1 = Path::new("/sys/fs/cgroup/memory")
        .join(rel)
        .join("memory.oom_control");
    let v2 = Path::new("/sys/fs/cgroup").join(rel).join("memory.events");
    let text = std::fs::read_to_string(v1)
        .or_else(|_| std::fs::read_to_string(v2))
        .unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(k, _)| *k == "oom_kill" || *k == "oom")
        .filter_map(|(_, v)| v.trim().parse::<u64>().ok())
        .max()
        .unwrap_or(0)
}

pub fn events(root: &Path, id: &str, stats_once: bool, interval: &str) -> Result<()> {
    let every = parse_interval(interval)?;
    let c = Container::load(root, id)?;
    if c.status() == Status::Stopped {
        bail!("container with id {id} is not running");
    }
    let cg = Cgroup::open(&c.state.cgroup_path, id, false)?;
    let path = c.state.cgroup_path.clone();
    let (pid, start) = (c.state.pid, c.state.pid_start_time);
    drop(c);
    if stats_once {
        crate::outln!("{}", stats_event(id, &cg)?);
        return Ok(());
    }
    let mut ooms = oom_count(&path);
    let tick = Duration::from_millis(100).min(every);
    let mut waited = Duration::ZERO;
    while crate::state::process_matches(pid, start) {
        std::thread::sleep(tick);
        waited += tick;
        let now = oom_count(&path);
        if now > ooms {
            ooms = now;
            crate::outln!("{}", serde_json::json!({"type": "oom", "id": id}));
        }
        if waited >= every {
            waited = Duration::ZERO;
            if let Ok(e) = stats_event(id, &cg) {
                crate::outln!("{e}");
            }
        }
    }
    Ok(())
}
