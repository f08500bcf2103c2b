//! `update`: change a running container's resources. A zero or absent value
//! means "leave it" (Docker sends zeros for what it does not change).

use crate::cgroups::Cgroup;
use crate::cli::UpdateArgs;
use crate::state::Container;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};
use std::io::Read;
use std::path::Path;

/// "512m", "1g", "1024", "-1": bytes as Docker's units.RAMInBytes reads them.
pub fn parse_bytes(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.trim_end_matches('b');
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    // go-units' words (what runc reports)
    let n: f64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid size: '{s}'"))?;
    Ok((n * mult as f64) as i64)
}

/// A size flag's value: "invalid value for memory: invalid size: 'x'", as runc.
fn size_flag(name: &str, v: &Option<String>) -> Result<Option<i64>> {
    v.as_deref()
        .map(parse_bytes)
        .transpose()
        .with_context(|| format!("invalid value for {name}"))
}

fn nonzero<T: PartialEq + Default>(v: Option<T>) -> Option<T> {
    v.filter(|x| *x != T::default())
}

/// Drops every zero so it is not written.
fn without_zeros(mut r: LinuxResources) -> LinuxResources {
    if let Some(m) = *r.memory() {
        let mut n = LinuxMemory::default();
        n.set_limit(nonzero(m.limit()));
        n.set_reservation(nonzero(m.reservation()));
        n.set_swap(nonzero(m.swap()));
        n.set_kernel(nonzero(m.kernel()));
        n.set_kernel_tcp(nonzero(m.kernel_tcp()));
        n.set_swappiness(m.swappiness());
        n.set_disable_oom_killer(m.disable_oom_killer());
        n.set_check_before_update(m.check_before_update());
        r.set_memory(Some(n));
    }
    if let Some(c) = r.cpu().clone() {
        let mut n = LinuxCpu::default();
        n.set_shares(nonzero(c.shares()));
        n.set_quota(nonzero(c.quota()));
        n.set_period(nonzero(c.period()));
        n.set_realtime_runtime(nonzero(c.realtime_runtime()));
        n.set_realtime_period(nonzero(c.realtime_period()));
        n.set_cpus(c.cpus().clone().filter(|s| !s.is_empty()));
        n.set_mems(c.mems().clone().filter(|s| !s.is_empty()));
        n.set_burst(nonzero(c.burst()));
        n.set_idle(nonzero(c.idle()));
        r.set_cpu(Some(n));
    }
    if r.pids().as_ref().is_some_and(|p| p.limit() == 0) {
        r.set_pids(None);
    }
    if let Some(b) = r.block_io().clone() {
        let mut n = b.clone();
        n.set_weight(nonzero(b.weight()));
        n.set_leaf_weight(nonzero(b.leaf_weight()));
        r.set_block_io(Some(n));
    }
    r
}

fn from_flags(a: &UpdateArgs) -> Result<LinuxResources> {
    let mut r = LinuxResources::default();
    let mut m = LinuxMemory::default();
    m.set_limit(size_flag("memory", &a.memory)?);
    m.set_reservation(size_flag("memory-reservation", &a.memory_reservation)?);
    m.set_swap(size_flag("memory-swap", &a.memory_swap)?);
    m.set_kernel(size_flag("kernel-memory", &a.kernel_memory)?);
    m.set_kernel_tcp(size_flag("kernel-memory-tcp", &a.kernel_memory_tcp)?);
    r.set_memory(Some(m));
    let mut c = LinuxCpu::default();
    c.set_shares(a.cpu_shares);
    c.set_period(a.cpu_period);
    c.set_quota(a.cpu_quota);
    c.set_realtime_period(a.cpu_rt_period);
    c.set_realtime_runtime(a.cpu_rt_runtime);
    c.set_cpus(a.cpuset_cpus.clone());
    c.set_mems(a.cpuset_mems.clone());
    r.set_cpu(Some(c));
    if let Some(l) = a.pids_limit {
        let mut p = LinuxPids::default();
        p.set_limit(l);
        r.set_pids(Some(p));
    }
    if let Some(w) = a.blkio_weight {
        let mut b = LinuxBlockIo::default();
        b.set_weight(Some(w));
        r.set_block_io(Some(b));
    }
    Ok(r)
}

/// `update --resources`' JSON: the resources to apply, zeros dropped.
pub fn parse_resources(data: &[u8]) -> Result<LinuxResources> {
    if data.iter().all(u8::is_ascii_whitespace) {
        // Go's json.Decoder on nothing: runc says just that.
        bail!("EOF");
    }
    let r =
        serde_json::from_slice(data).map_err(|e| anyhow::anyhow!("invalid resources JSON: {e}"))?;
    Ok(without_zeros(r))
}

pub fn update(root: &Path, a: &UpdateArgs) -> Result<()> {
    let c = Container::load(root, &a.id)?;
    // runc reads the new values before it looks at the status.
    let r = match &a.resources {
        Some(p) => {
            let mut data = Vec::new();
            if p.as_os_str() == "-" {
                std::io::stdin().read_to_end(&mut data)?;
            } else {
                data = std::fs::read(p).with_context(|| format!("read {}", p.display()))?;
            }
            parse_resources(&data)?
        }
        None => without_zeros(from_flags(a)?),
    };
    crate::cgroups::warn_kernel_memory(Some(&r));
    // runc asks about RDT before it looks at the status.
    let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    let (l3, mb) = (nonempty(&a.l3_cache_schema), nonempty(&a.mem_bw_schema));
    crate::resctrl::check_update(l3.as_deref(), mb.as_deref())?;
    c.status().can_update()?;
    crate::failpoint!("update.loaded");
    crate::rootless::require_cgroup(&c.state.cgroup_path)?;
    let cg = Cgroup::open(&c.state.cgroup_path, &a.id, false)?.with_scope(c.state.systemd.clone());
    cg.apply(&r, &[])?;
    if r.devices().is_some() {
        // v2's eBPF program (v1 wrote the rules in `apply`).
        cg.restrict_devices(&r, &[])?;
    }
    // After the cgroup, as runc's Set.
    crate::resctrl::update(c.state.intel_rdt.as_deref(), l3.as_deref(), mb.as_deref())?;
    crate::failpoint!("update.applied");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("512m").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1G").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert_eq!(parse_bytes("-1").unwrap(), -1);
        assert!(parse_bytes("lots").is_err());
    }

    #[test]
    fn docker_zeros_mean_unchanged() {
        let r: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":0,"reservation":0,"kernel":0},"cpu":{"shares":0,"quota":70000,"period":100000},"pids":{"limit":60},"blockIO":{"weight":0}}"#,
        )
        .unwrap();
        let r = without_zeros(r);
        let m = r.memory().as_ref().unwrap();
        assert_eq!((m.limit(), m.reservation(), m.kernel()), (None, None, None));
        let c = r.cpu().as_ref().unwrap();
        assert_eq!(
            (c.shares(), c.quota(), c.period()),
            (None, Some(70000), Some(100000))
        );
        assert_eq!(r.pids().as_ref().unwrap().limit(), 60);
        assert_eq!(r.block_io().as_ref().unwrap().weight(), None);
    }
}
