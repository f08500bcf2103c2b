//! `events`: runc's JSON events. `--stats` prints one stats event; otherwise a
//! stats event every --interval and an `oom` event whenever the cgroup's OOM
//! counter grows, until the container stops.

use crate::cgroups::Cgroup;
use crate::state::Container;
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
        .with_context(|| format!("invalid interval {}", crate::logging::go_quote(s)))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => bail!("invalid interval {}", crate::logging::go_quote(s)),
    };
    if secs <= 0.0 {
        bail!("duration interval must be greater than 0");
    }
    Ok(Duration::from_secs_f64(secs))
}

fn stats_event(id: &str, cg: &Cgroup, path: &Path) -> Result<String> {
    let s = cg.stats()?;
    Ok(serde_json::json!({"type": "stats", "id": id, "data": runc_stats(&s, path)}).to_string())
}

/// libcgroups' statistics in runc's `events --stats` layout (types.Stats).
fn runc_stats(s: &libcgroups::stats::Stats, path: &Path) -> serde_json::Value {
    use libcgroups::stats::{BlkioDeviceStat, MemoryData};
    use serde_json::json;
    let mem = |d: &MemoryData| json!({"limit": d.limit, "usage": d.usage, "max": d.max_usage, "failcnt": d.fail_count});
    let blk = |v: &[BlkioDeviceStat]| {
        v.iter()
            .map(|e| json!({"major": e.major, "minor": e.minor, "op": e.op_type.clone().unwrap_or_default(), "value": e.value}))
            .collect::<Vec<_>>()
    };
    let c = &s.cpu.usage;
    let hugetlb: serde_json::Map<String, serde_json::Value> = s
        .hugetlb
        .iter()
        .map(|(k, h)| {
            (
                k.clone(),
                json!({"usage": h.usage, "max": h.max_usage, "failcnt": h.fail_count}),
            )
        })
        .collect();
    let b = &s.blkio;
    json!({
        "cpu": {
            "usage": {
                "total": c.usage_total, "percpu": c.per_core_usage_total,
                "percpu_kernel": c.per_core_usage_kernel, "percpu_user": c.per_core_usage_user,
                "kernel": c.usage_kernel, "user": c.usage_user
            },
            "throttling": {
                "periods": s.cpu.throttling.periods,
                "throttled_periods": s.cpu.throttling.throttled_periods,
                "throttled_time": s.cpu.throttling.throttled_time
            }
        },
        "cpuset": cpuset_stats(path),
        "memory": {
            "cache": s.memory.cache,
            "usage": mem(&s.memory.memory),
            "swap": mem(&s.memory.memswap),
            "kernel": mem(&s.memory.kernel),
            "kernelTCP": mem(&s.memory.kernel_tcp),
            "raw": s.memory.stats
        },
        "pids": {"current": s.pids.current, "limit": pids_limit(path).unwrap_or(s.pids.limit)},
        "blkio": {
            "ioServiceBytesRecursive": blk(&b.service_bytes),
            "ioServicedRecursive": blk(&b.serviced),
            "ioQueueRecursive": blk(&b.queued),
            "ioServiceTimeRecursive": blk(&b.service_time),
            "ioWaitTimeRecursive": blk(&b.wait_time),
            "ioMergedRecursive": blk(&b.merged),
            "ioTimeRecursive": blk(&b.time),
            "sectorsRecursive": blk(&b.sectors)
        },
        "hugetlb": hugetlb,
        "network_interfaces": null
    })
}

fn cg_file(ctrl: &str, path: &Path, file: &str) -> Option<String> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    let v1 = Path::new("/sys/fs/cgroup").join(ctrl).join(rel).join(file);
    let v2 = Path::new("/sys/fs/cgroup").join(rel).join(file);
    std::fs::read_to_string(v1)
        .or_else(|_| std::fs::read_to_string(v2))
        .ok()
        .map(|s| s.trim().to_string())
}

fn pids_limit(path: &Path) -> Option<u64> {
    match cg_file("pids", path, "pids.max")?.as_str() {
        "max" => Some(0),
        n => n.parse().ok(),
    }
}

/// "0-2,4" → [0, 1, 2, 4]
fn cpu_list(s: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u64>(), b.parse::<u64>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.parse::<u64>().ok()),
        }
    }
    out
}

fn cpuset_stats(path: &Path) -> serde_json::Value {
    let num = |f: &str| {
        cg_file("cpuset", path, &format!("cpuset.{f}"))
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let list =
        |f: &str| cpu_list(&cg_file("cpuset", path, &format!("cpuset.{f}")).unwrap_or_default());
    serde_json::json!({
        "cpus": list("cpus"), "cpu_exclusive": num("cpu_exclusive"),
        "mems": list("mems"), "mem_hardwall": num("mem_hardwall"), "mem_exclusive": num("mem_exclusive"),
        "memory_migrate": num("memory_migrate"), "memory_spread_page": num("memory_spread_page"),
        "memory_spread_slab": num("memory_spread_slab"), "memory_pressure": num("memory_pressure"),
        "sched_load_balance": num("sched_load_balance"), "sched_relax_domain_level": num("sched_relax_domain_level")
    })
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
    c.status().can_watch(id)?;
    let cg = Cgroup::open(&c.state.cgroup_path, id, false)?;
    let path = c.state.cgroup_path.clone();
    let (pid, start) = (c.state.pid, c.state.pid_start_time);
    drop(c);
    if stats_once {
        crate::outln!("{}", stats_event(id, &cg, &path)?);
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
            if let Ok(e) = stats_event(id, &cg, &path) {
                crate::outln!("{e}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_lists() {
        assert_eq!(super::cpu_list("0-2,4"), vec![0, 1, 2, 4]);
        assert_eq!(super::cpu_list(""), Vec::<u64>::new());
    }
}
