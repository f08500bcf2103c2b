//! `events`: runc's JSON events. `--stats` prints one stats event; otherwise a
//! stats event every --interval and an `oom` event whenever the cgroup's OOM
//! counter grows, until the container stops.

use crate::cgroups::Cgroup;
use crate::state::Container;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
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
    let e = Event {
        r#type: "stats",
        id,
        data: Some({
            let mut st = runc_stats(&s, path);
            v2_memory(&mut st.memory, path);
            st
        }),
    };
    Ok(serde_json::to_string(&e)?)
}

fn zero(n: &u64) -> bool {
    *n == 0
}

/// runc's types.Event: fields in its order, `data` left out when empty.
#[derive(Serialize)]
struct Event<'a> {
    r#type: &'a str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Stats>,
}

/// runc's types.Stats, field for field in its order and with its omitempty
/// (Go leaves a zero number, an empty list or map out; never a struct).
#[derive(Serialize)]
struct Stats {
    cpu: Cpu,
    cpuset: CpuSet,
    memory: Memory,
    pids: Pids,
    blkio: Blkio,
    hugetlb: BTreeMap<String, Hugetlb>,
    intel_rdt: serde_json::Map<String, serde_json::Value>,
    network_interfaces: Option<()>,
}

#[derive(Serialize)]
struct Cpu {
    usage: CpuUsage,
    throttling: Throttling,
}

#[derive(Serialize)]
struct CpuUsage {
    #[serde(skip_serializing_if = "zero")]
    total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    percpu_user: Vec<u64>,
    kernel: u64,
    user: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Throttling {
    #[serde(skip_serializing_if = "zero")]
    periods: u64,
    #[serde(skip_serializing_if = "zero")]
    throttled_periods: u64,
    #[serde(skip_serializing_if = "zero")]
    throttled_time: u64,
}

#[derive(Serialize)]
struct MemoryEntry {
    limit: u64,
    #[serde(skip_serializing_if = "zero")]
    usage: u64,
    #[serde(skip_serializing_if = "zero")]
    max: u64,
    failcnt: u64,
}

#[derive(Serialize)]
struct Memory {
    #[serde(skip_serializing_if = "zero")]
    cache: u64,
    usage: MemoryEntry,
    swap: MemoryEntry,
    kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    kernel_tcp: MemoryEntry,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    raw: BTreeMap<String, u64>,
}

#[derive(Serialize)]
struct Pids {
    #[serde(skip_serializing_if = "zero")]
    current: u64,
    #[serde(skip_serializing_if = "zero")]
    limit: u64,
}

#[derive(Serialize)]
struct BlkioEntry {
    #[serde(skip_serializing_if = "zero")]
    major: u64,
    #[serde(skip_serializing_if = "zero")]
    minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    op: String,
    #[serde(skip_serializing_if = "zero")]
    value: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Blkio {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    io_serviced_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    io_queue_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    io_service_time_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    io_wait_time_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    io_merged_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    io_time_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sectors_recursive: Vec<BlkioEntry>,
}

#[derive(Serialize)]
struct Hugetlb {
    #[serde(skip_serializing_if = "zero")]
    usage: u64,
    #[serde(skip_serializing_if = "zero")]
    max: u64,
    failcnt: u64,
}

/// libcgroups' statistics in runc's `events --stats` layout (types.Stats).
fn runc_stats(s: &libcgroups::stats::Stats, path: &Path) -> Stats {
    use libcgroups::stats::{BlkioDeviceStat, MemoryData};
    let mem = |d: &MemoryData| MemoryEntry {
        limit: d.limit,
        usage: d.usage,
        max: d.max_usage,
        failcnt: d.fail_count,
    };
    let blk = |v: &[BlkioDeviceStat]| {
        v.iter()
            .map(|e| BlkioEntry {
                major: e.major,
                minor: e.minor,
                op: e.op_type.clone().unwrap_or_default(),
                value: e.value,
            })
            .collect::<Vec<_>>()
    };
    let c = &s.cpu.usage;
    let b = &s.blkio;
    Stats {
        cpu: Cpu {
            usage: CpuUsage {
                total: c.usage_total,
                percpu: c.per_core_usage_total.clone(),
                percpu_kernel: c.per_core_usage_kernel.clone(),
                percpu_user: c.per_core_usage_user.clone(),
                kernel: c.usage_kernel,
                user: c.usage_user,
            },
            throttling: Throttling {
                periods: s.cpu.throttling.periods,
                throttled_periods: s.cpu.throttling.throttled_periods,
                throttled_time: s.cpu.throttling.throttled_time,
            },
        },
        cpuset: cpuset_stats(path),
        memory: Memory {
            cache: s.memory.cache,
            usage: mem(&s.memory.memory),
            swap: mem(&s.memory.memswap),
            kernel: mem(&s.memory.kernel),
            kernel_tcp: mem(&s.memory.kernel_tcp),
            raw: s
                .memory
                .stats
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
        },
        pids: Pids {
            current: s.pids.current,
            limit: pids_limit(path).unwrap_or(s.pids.limit),
        },
        blkio: Blkio {
            io_service_bytes_recursive: blk(&b.service_bytes),
            io_serviced_recursive: blk(&b.serviced),
            io_queue_recursive: blk(&b.queued),
            io_service_time_recursive: blk(&b.service_time),
            io_wait_time_recursive: blk(&b.wait_time),
            io_merged_recursive: blk(&b.merged),
            io_time_recursive: blk(&b.time),
            sectors_recursive: blk(&b.sectors),
        },
        hugetlb: s
            .hugetlb
            .iter()
            .map(|(k, h)| {
                (
                    k.clone(),
                    Hugetlb {
                        usage: h.usage,
                        max: h.max_usage,
                        failcnt: h.fail_count,
                    },
                )
            })
            .collect(),
        intel_rdt: serde_json::Map::new(),
        network_interfaces: None,
    }
}

/// On a pure cgroup v2 host, memory as runc reports it there: cache is
/// memory.stat's `file`, no failcnt, max from memory.peak (5.19+), and swap
/// as v1's memory+swap (swap.current plus memory.current, its limit the sum
/// of both unless unlimited, no max).
fn v2_memory(m: &mut Memory, path: &Path) {
    let rel = path.strip_prefix("/").unwrap_or(path);
    let dir = Path::new("/sys/fs/cgroup").join(rel);
    if Path::new("/sys/fs/cgroup/memory").exists() || !dir.join("memory.stat").exists() {
        return;
    }
    let num = |f: &str| -> Option<u64> {
        let s = std::fs::read_to_string(dir.join(f)).ok()?;
        match s.trim() {
            "max" => Some(u64::MAX),
            n => n.parse().ok(),
        }
    };
    m.cache = m.raw.get("file").copied().unwrap_or(0);
    m.usage.failcnt = 0;
    m.usage.max = num("memory.peak").unwrap_or(0);
    let swap_limit = num("memory.swap.max").unwrap_or(u64::MAX);
    m.swap = MemoryEntry {
        usage: num("memory.swap.current").unwrap_or(0) + m.usage.usage,
        limit: if swap_limit == u64::MAX {
            u64::MAX
        } else {
            swap_limit.saturating_add(m.usage.limit)
        },
        max: 0,
        failcnt: 0,
    };
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

/// runc's types.CPUSet, in its order (cpus and mems left out when empty).
#[derive(Serialize)]
struct CpuSet {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cpus: Vec<u64>,
    cpu_exclusive: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    mems: Vec<u64>,
    mem_hardwall: i64,
    mem_exclusive: i64,
    memory_migrate: i64,
    memory_spread_page: i64,
    memory_spread_slab: i64,
    memory_pressure: i64,
    sched_load_balance: i64,
    sched_relax_domain_level: i64,
}

fn cpuset_stats(path: &Path) -> CpuSet {
    let num = |f: &str| {
        cg_file("cpuset", path, &format!("cpuset.{f}"))
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let list =
        |f: &str| cpu_list(&cg_file("cpuset", path, &format!("cpuset.{f}")).unwrap_or_default());
    CpuSet {
        cpus: list("cpus"),
        cpu_exclusive: num("cpu_exclusive"),
        mems: list("mems"),
        mem_hardwall: num("mem_hardwall"),
        mem_exclusive: num("mem_exclusive"),
        memory_migrate: num("memory_migrate"),
        memory_spread_page: num("memory_spread_page"),
        memory_spread_slab: num("memory_spread_slab"),
        memory_pressure: num("memory_pressure"),
        sched_load_balance: num("sched_load_balance"),
        sched_relax_domain_level: num("sched_relax_domain_level"),
    }
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
    crate::rootless::require_cgroup(&c.state.cgroup_path)?;
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
            let e = Event {
                r#type: "oom",
                id,
                data: None,
            };
            crate::outln!("{}", serde_json::to_string(&e)?);
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
