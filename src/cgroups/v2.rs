//! A pure cgroup v2 host, written directly: make the container's cgroup with
//! its ancestors' controllers enabled, and write linux.resources with runc's
//! conversions and in runc's order (libcgroups' v2 manager converts cpu
//! shares with another formula, ignores blockIO weight devices and swap the
//! way runc computes it). libcgroups still reads statistics.

use anyhow::{bail, Result};
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};

/// Makes `mount`/`rel` and every missing ancestor, enabling in each level
/// above the leaf (the mount's root included) every controller the root
/// offers, as runc's CreateCgroupPath: a controller that cannot be enabled
/// (a level with processes) is skipped here and reported by the write that
/// needs it.
pub fn create(mount: &Path, rel: &Path) -> Result<PathBuf> {
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    let leaf = mount.join(rel);
    if leaf.is_dir() {
        // An existing cgroup: its ancestors were made (by us or its owner).
        return Ok(leaf);
    }
    let offered = std::fs::read_to_string(mount.join("cgroup.controllers")).unwrap_or_default();
    let offered: Vec<&str> = offered.split_whitespace().collect();
    let mut cur = mount.to_path_buf();
    for c in rel.components() {
        enable(&cur, &offered);
        cur.push(c);
        match std::fs::create_dir(&cur) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => bail!("create cgroup {}: {e}", cur.display()),
        }
    }
    Ok(leaf)
}

/// Enables `offered` in `dir`'s cgroup.subtree_control (what is missing).
fn enable(dir: &Path, offered: &[&str]) {
    let file = dir.join("cgroup.subtree_control");
    let on = std::fs::read_to_string(&file).unwrap_or_default();
    let missing: Vec<String> = offered
        .iter()
        .filter(|c| !on.split_whitespace().any(|o| o == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() || std::fs::write(&file, missing.join(" ")).is_ok() {
        return;
    }
    for m in missing {
        let _ = std::fs::write(&file, &m);
    }
}

/// Writes `value` to `dir`/`file` with runc's error words.
fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    super::words::write_file(&dir.join(file), value)
}

/// runc's numToStr: 0 is "leave it", negative is "max".
fn num(v: i64) -> Option<String> {
    match v {
        0 => None,
        v if v < 0 => Some("max".into()),
        v => Some(v.to_string()),
    }
}

/// cgroup v1 cpu.shares [2, 262144] to v2 cpu.weight [1, 10000], runc's
/// linear ConvertCPUSharesToCgroupV2Value.
pub fn cpu_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.saturating_sub(2) * 9999) / 262142
}

/// blkio.weight [10, 1000] to io.weight [1, 10000] (runc's ConvertBlkIOToIOWeightValue).
pub fn io_weight(blkio: u16) -> u64 {
    if blkio == 0 {
        return 0;
    }
    1 + (blkio as u64).saturating_sub(10) * 9999 / 990
}

/// memory.swap.max from the spec's memory+swap limit `swap` and `limit`
/// (runc's ConvertMemorySwapToCgroupV2Value): None leaves it.
pub fn swap_max(swap: Option<i64>, limit: Option<i64>) -> Result<Option<String>> {
    let (swap, limit) = (swap.unwrap_or(0), limit.unwrap_or(0));
    if limit == -1 && swap == 0 {
        return Ok(Some("max".into()));
    }
    match swap {
        0 => return Ok(None),
        -1 => return Ok(Some("max".into())),
        _ => {}
    }
    if limit == 0 || limit == -1 {
        bail!("unable to set swap limit without memory limit");
    }
    if limit < 0 {
        bail!("invalid memory value: {limit}");
    }
    if swap < limit {
        bail!("memory+swap limit should be >= memory limit");
    }
    Ok(Some((swap - limit).to_string()))
}

/// linux.resources into the cgroup `dir`, in runc's order (pids, memory, io,
/// cpu, cpuset, hugetlb, rdma, then `unified`, which wins over them all).
/// Device rules are the eBPF program's (devices_bpf).
pub fn set(dir: &Path, r: &LinuxResources) -> Result<()> {
    if let Some(p) = r.pids() {
        if let Some(v) = num(p.limit()) {
            write(dir, "pids.max", &v)?;
        }
    }
    if let Some(m) = r.memory() {
        set_memory(dir, m)?;
    }
    if let Some(b) = r.block_io() {
        set_io(dir, b)?;
    }
    if let Some(c) = r.cpu() {
        set_cpu(dir, c)?;
    }
    if let Some(c) = r.cpu() {
        for (file, v) in [("cpuset.cpus", c.cpus()), ("cpuset.mems", c.mems())] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                write(dir, file, v)?;
            }
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        let v = h.limit().to_string();
        write(dir, &format!("hugetlb.{}.max", h.page_size()), &v)?;
        // runc 1.2: the reservation limit too, where the kernel has it.
        let rsvd = format!("hugetlb.{}.rsvd.max", h.page_size());
        if dir.join(&rsvd).exists() {
            write(dir, &rsvd, &v)?;
        }
    }
    for (dev, l) in r.rdma().iter().flatten() {
        let mut line = dev.clone();
        if let Some(h) = l.hca_handles() {
            line += &format!(" hca_handle={h}");
        }
        if let Some(o) = l.hca_objects() {
            line += &format!(" hca_object={o}");
        }
        write(dir, "rdma.max", &line)?;
    }
    for (k, v) in r.unified().iter().flatten() {
        set_unified(dir, k, v)?;
    }
    Ok(())
}

fn set_memory(dir: &Path, m: &oci_spec::runtime::LinuxMemory) -> Result<()> {
    let (limit, swap) = (m.limit(), m.swap());
    let mut swap_v = swap_max(swap, limit)?;
    if swap_v.is_none() && swap.is_some_and(|s| s > 0) {
        // memory and memory+swap equal: no swap.
        swap_v = Some("0".into());
    }
    if let Some(v) = swap_v {
        // A kernel without swap accounting: "max" and "0" are what it has.
        if let Err(e) = write(dir, "memory.swap.max", &v) {
            if dir.join("memory.swap.max").exists() || (v != "max" && v != "0") {
                return Err(e);
            }
        }
    }
    if let Some(v) = limit.and_then(num) {
        write(dir, "memory.max", &v)?;
    }
    if let Some(v) = m.reservation().and_then(num) {
        write(dir, "memory.low", &v)?;
    }
    Ok(())
}

fn set_io(dir: &Path, b: &oci_spec::runtime::LinuxBlockIo) -> Result<()> {
    let bfq = dir.join("io.bfq.weight").exists();
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        if bfq {
            write(dir, "io.bfq.weight", &w.to_string())?;
        } else {
            write(dir, "io.weight", &io_weight(w).to_string())?;
        }
    }
    // Per-device weights only with BFQ, as runc.
    for d in b.weight_device().iter().flatten().filter(|_| bfq) {
        if let Some(w) = d.weight().filter(|w| *w != 0) {
            write(
                dir,
                "io.bfq.weight",
                &format!("{}:{} {w}", d.major(), d.minor()),
            )?;
        }
    }
    let throttles = [
        ("rbps", b.throttle_read_bps_device()),
        ("wbps", b.throttle_write_bps_device()),
        ("riops", b.throttle_read_iops_device()),
        ("wiops", b.throttle_write_iops_device()),
    ];
    for (key, devs) in throttles {
        for d in devs.iter().flatten() {
            let line = format!("{}:{} {key}={}", d.major(), d.minor(), d.rate());
            write(dir, "io.max", &line)?;
        }
    }
    Ok(())
}

fn set_cpu(dir: &Path, c: &oci_spec::runtime::LinuxCpu) -> Result<()> {
    if let Some(i) = c.idle() {
        write(dir, "cpu.idle", &i.to_string())?;
    }
    let w = cpu_weight(c.shares().unwrap_or(0));
    if w != 0 {
        write(dir, "cpu.weight", &w.to_string())?;
    }
    let burst = c.burst().map(|b| b.to_string());
    if let Some(b) = &burst {
        write(dir, "cpu.max.burst", b)?;
    }
    let (quota, period) = (c.quota().unwrap_or(0), c.period().unwrap_or(0));
    if quota != 0 || period != 0 {
        let mut v = if quota > 0 {
            quota.to_string()
        } else {
            "max".to_string()
        };
        if period != 0 {
            v += &format!(" {period}");
        }
        write(dir, "cpu.max", &v)?;
        // A burst larger than the old quota is refused until the new one is in.
        if let Some(b) = &burst {
            write(dir, "cpu.max.burst", b)?;
        }
    }
    // cpu.realtimeRuntime/realtimePeriod have no cgroup v2 file: runc (fs2)
    // leaves them out without a word, and so does tong.
    Ok(())
}

/// One `linux.resources.unified` entry, with runc's words when the
/// controller is not there.
fn set_unified(dir: &Path, key: &str, value: &str) -> Result<()> {
    if key.contains('/') || key.starts_with('.') {
        bail!(
            "unified resource {} must be a file name",
            crate::logging::go_quote(key)
        );
    }
    let p = dir.join(key);
    if !p.exists() {
        let Some((ctrl, _)) = key.split_once('.') else {
            bail!(
                "unified resource {} must be in the form CONTROLLER.PARAMETER",
                crate::logging::go_quote(key)
            );
        };
        let parent = dir.parent().unwrap_or(dir);
        let on = std::fs::read_to_string(parent.join("cgroup.subtree_control")).unwrap_or_default();
        if ctrl != "cgroup" && !on.split_whitespace().any(|c| c == ctrl) {
            bail!(
                "unified resource {} can't be set: controller {} not available",
                crate::logging::go_quote(key),
                crate::logging::go_quote(ctrl)
            );
        }
    }
    write(dir, key, value)
}

/// The statistics of a cgroup in which not every controller is enabled (a
/// user instance's scope gets only what systemd delegates to the user:
/// cpu, memory, pids), where libcgroups fails on the first missing file
/// (hugetlb, io). As runc's fs2 GetStats: a controller whose files are
/// missing is left out (zero), what is there is read.
pub fn stats(dir: &Path) -> Result<libcgroups::stats::Stats> {
    use libcgroups::stats::{MemoryData, Stats};
    let flat = |file: &str| -> Option<std::collections::HashMap<String, u64>> {
        let text = std::fs::read_to_string(dir.join(file)).ok()?;
        Some(
            text.lines()
                .filter_map(|l| l.split_once(' '))
                .filter_map(|(k, v)| Some((k.to_string(), v.trim().parse().ok()?)))
                .collect(),
        )
    };
    // "max" is u64::MAX, as libcgroups reads it.
    let single = |file: &str| libcgroups::stats::parse_single_value(&dir.join(file)).ok();
    let mut s = Stats::default();
    if let Some(c) = flat("cpu.stat") {
        let get = |k: &str| c.get(k).copied().unwrap_or(0);
        s.cpu.usage.usage_total = get("usage_usec");
        s.cpu.usage.usage_user = get("user_usec");
        s.cpu.usage.usage_kernel = get("system_usec");
        s.cpu.throttling.periods = get("nr_periods");
        s.cpu.throttling.throttled_periods = get("nr_throttled");
        s.cpu.throttling.throttled_time = get("throttled_usec");
    }
    let memory = |prefix: &str, fail_event: &str| -> Option<MemoryData> {
        Some(MemoryData {
            usage: single(&format!("{prefix}.current"))?,
            limit: single(&format!("{prefix}.max"))?,
            max_usage: single(&format!("{prefix}.peak")).unwrap_or(0),
            fail_count: flat(&format!("{prefix}.events"))
                .and_then(|e| e.get(fail_event).copied())
                .unwrap_or(0),
        })
    };
    if let Some(m) = memory("memory", "oom") {
        s.memory.memory = m;
        s.memory.hierarchy = true;
        s.memory.stats = flat("memory.stat").unwrap_or_default();
    }
    if let Some(m) = memory("memory.swap", "fail") {
        s.memory.memswap = m;
    }
    if dir.join("pids.current").exists() {
        s.pids =
            libcgroups::stats::pid_stats(dir).map_err(|e| anyhow::anyhow!("cgroup stats: {e}"))?;
    }
    Ok(s)
}

/// Freezes or thaws through cgroup.freeze and waits until cgroup.events
/// says so (a task in an uninterruptible sleep delays it), as runc does.
pub fn freeze(dir: &Path, frozen: bool) -> Result<()> {
    let want = if frozen { "1" } else { "0" };
    write(dir, "cgroup.freeze", want)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let ev = std::fs::read_to_string(dir.join("cgroup.events")).unwrap_or_default();
        if ev.lines().any(|l| l == format!("frozen {want}")) || !frozen {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            let _ = write(dir, "cgroup.freeze", "0");
            bail!("unable to freeze the cgroup {}: timed out", dir.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values runc 1.1-1.2 writes (its specconv and fs2 tests).
    #[test]
    fn runc_conversions() {
        assert_eq!(cpu_weight(0), 0);
        assert_eq!(cpu_weight(2), 1);
        assert_eq!(cpu_weight(1024), 39);
        assert_eq!(cpu_weight(512), 20);
        assert_eq!(cpu_weight(262144), 10000);
        assert_eq!(io_weight(10), 1);
        assert_eq!(io_weight(500), 4950);
        assert_eq!(io_weight(1000), 10000);
        assert_eq!(
            swap_max(Some(128 << 20), Some(64 << 20))
                .unwrap()
                .as_deref(),
            Some("67108864")
        );
        assert_eq!(swap_max(Some(64), Some(64)).unwrap().as_deref(), Some("0"));
        assert_eq!(
            swap_max(Some(-1), Some(64)).unwrap().as_deref(),
            Some("max")
        );
        assert_eq!(swap_max(None, Some(-1)).unwrap().as_deref(), Some("max"));
        assert_eq!(swap_max(None, Some(64)).unwrap(), None);
        assert!(swap_max(Some(64), None).is_err());
        assert!(swap_max(Some(32), Some(64)).is_err());
    }

    /// A user instance's scope: cpu, memory and pids only, no hugetlb or io
    /// files; what is there is read, the rest stays zero.
    #[test]
    fn stats_of_a_cgroup_with_some_controllers() {
        let d = std::env::temp_dir().join(format!("tong-v2stats-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        for (f, v) in [
            ("cpu.stat", "usage_usec 70\nuser_usec 50\nsystem_usec 20\n"),
            ("memory.current", "4096\n"),
            ("memory.max", "max\n"),
            ("memory.events", "low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\n"),
            ("memory.stat", "anon 1024\nfile 2048\n"),
            ("pids.current", "2\n"),
            ("pids.max", "88\n"),
        ] {
            std::fs::write(d.join(f), v).unwrap();
        }
        let s = stats(&d).unwrap();
        std::fs::remove_dir_all(&d).unwrap();
        assert_eq!(
            (
                s.cpu.usage.usage_total,
                s.cpu.usage.usage_user,
                s.cpu.usage.usage_kernel
            ),
            (70, 50, 20)
        );
        assert_eq!(s.cpu.throttling.periods, 0);
        assert_eq!(s.memory.memory.usage, 4096);
        assert_eq!(s.memory.memory.limit, u64::MAX);
        assert_eq!(s.memory.memory.fail_count, 2);
        assert_eq!(s.memory.stats.get("file"), Some(&2048));
        assert_eq!(s.memory.memswap.usage, 0);
        assert_eq!((s.pids.current, s.pids.limit), (2, 88));
        assert!(s.hugetlb.is_empty() && s.blkio.service_bytes.is_empty());
    }
}
