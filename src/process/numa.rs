//! `linux.memoryPolicy` (set_mempolicy(2) for the container's processes)
//! and the CPU lists of `process.execCPUAffinity`: the one table of modes
//! and flags (`features` lists it), the checks bundle.rs runs, and the
//! calls the child makes.

use crate::logging::go_quote;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxMemoryPolicy, MemoryPolicyFlagType as F, MemoryPolicyModeType as M};

/// Every mode: name, MPOL_* value, and whether it takes nodes (`Some(true)`
/// required, `Some(false)` refused, `None` optional).
pub const MODES: &[(&str, M, i32, Option<bool>)] = &[
    ("MPOL_DEFAULT", M::MpolDefault, 0, Some(false)),
    ("MPOL_PREFERRED", M::MpolPreferred, 1, None),
    ("MPOL_BIND", M::MpolBind, 2, Some(true)),
    ("MPOL_INTERLEAVE", M::MpolInterleave, 3, Some(true)),
    ("MPOL_LOCAL", M::MpolLocal, 4, Some(false)),
    ("MPOL_PREFERRED_MANY", M::MpolPreferredMany, 5, Some(true)),
    (
        "MPOL_WEIGHTED_INTERLEAVE",
        M::MpolWeightedInterleave,
        6,
        Some(true),
    ),
];

/// Every mode flag: name, value (or'ed into the mode).
pub const FLAGS: &[(&str, F, i32)] = &[
    ("MPOL_F_NUMA_BALANCING", F::MpolFNumaBalancing, 1 << 13),
    ("MPOL_F_RELATIVE_NODES", F::MpolFRelativeNodes, 1 << 14),
    ("MPOL_F_STATIC_NODES", F::MpolFStaticNodes, 1 << 15),
];

/// The highest CPU or node number a list may name.
const MAX_ID: usize = 8191;

/// A Linux CPU/node list ("0-3,7"), as a bitmap of 64-bit words.
pub fn parse_list(s: &str) -> Result<Vec<u64>> {
    let mut words: Vec<u64> = Vec::new();
    for part in s.split(',').map(str::trim) {
        let num = |x: &str| -> Result<usize> {
            let n: usize = x
                .parse()
                .map_err(|_| anyhow::anyhow!("{} is not a number", go_quote(x)))?;
            if n > MAX_ID {
                bail!("{n} is above {MAX_ID}");
            }
            Ok(n)
        };
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => {
                let n = num(part)?;
                (n, n)
            }
        };
        if lo > hi {
            bail!("range {} runs backwards", go_quote(part));
        }
        for i in lo..=hi {
            if words.len() <= i / 64 {
                words.resize(i / 64 + 1, 0);
            }
            words[i / 64] |= 1 << (i % 64);
        }
    }
    Ok(words)
}

/// Checks `linux.memoryPolicy` as the kernel would, with the field named.
pub fn validate(p: &LinuxMemoryPolicy) -> Result<()> {
    let (name, _, _, takes_nodes) = MODES
        .iter()
        .find(|m| m.1 == p.mode())
        .context("linux.memoryPolicy.mode: unknown mode")?;
    let nodes = p
        .nodes()
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if let Some(n) = nodes {
        let set =
            parse_list(n).with_context(|| format!("linux.memoryPolicy.nodes {}", go_quote(n)))?;
        if set.iter().all(|w| *w == 0) {
            bail!("linux.memoryPolicy.nodes {} names no node", go_quote(n));
        }
    }
    match (takes_nodes, nodes.is_some()) {
        (Some(true), false) => bail!("linux.memoryPolicy: mode {name} needs nodes"),
        (Some(false), true) => bail!("linux.memoryPolicy: mode {name} takes no nodes"),
        _ => {}
    }
    let flags = p.flags().as_deref().unwrap_or(&[]);
    if flags.contains(&F::MpolFStaticNodes) && flags.contains(&F::MpolFRelativeNodes) {
        bail!("linux.memoryPolicy.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other");
    }
    if flags.contains(&F::MpolFNumaBalancing)
        && !matches!(p.mode(), M::MpolBind | M::MpolPreferredMany)
    {
        bail!("linux.memoryPolicy.flags: MPOL_F_NUMA_BALANCING needs mode MPOL_BIND or MPOL_PREFERRED_MANY");
    }
    if !flags.is_empty() && matches!(p.mode(), M::MpolDefault | M::MpolLocal) {
        bail!("linux.memoryPolicy.flags: mode {name} takes no flags");
    }
    Ok(())
}

/// set_mempolicy for this process (inherited by what it execs and forks).
pub fn apply(p: &LinuxMemoryPolicy) -> Result<()> {
    let mut mode = MODES
        .iter()
        .find(|m| m.1 == p.mode())
        .map(|m| m.2)
        .context("unknown memory policy mode")?;
    for f in p.flags().iter().flatten() {
        mode |= FLAGS.iter().find(|x| x.1 == *f).map_or(0, |x| x.2);
    }
    let nodes = match p
        .nodes()
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        Some(n) => parse_list(n)?,
        None => Vec::new(),
    };
    let (ptr, maxnode) = if nodes.is_empty() {
        (std::ptr::null(), 0usize)
    } else {
        // The kernel reads maxnode - 1 bits.
        (nodes.as_ptr(), nodes.len() * 64 + 1)
    };
    // SAFETY: set_mempolicy with a bitmap of `maxnode - 1` bits that lives
    // across the call.
    if unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) } != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| {
            format!(
                "set_mempolicy (linux.memoryPolicy mode {} nodes {})",
                serde_json::to_string(&p.mode()).unwrap_or_default(),
                go_quote(p.nodes().as_deref().unwrap_or(""))
            )
        });
    }
    Ok(())
}

/// sched_setaffinity of this process to the CPUs of `list` ("0-3,7").
pub fn set_affinity(list: &str) -> Result<()> {
    let words = parse_list(list)?;
    set_affinity_mask(&words).with_context(|| format!("set CPU affinity to {}", go_quote(list)))
}

/// Every CPU: the kernel keeps the ones the cpuset allows (runc's reset,
/// so a container does not stay pinned to the CPUs of whoever ran tong).
pub fn reset_affinity() -> Result<()> {
    set_affinity_mask(&[u64::MAX; (MAX_ID + 1) / 64]).context("reset the CPU affinity")
}

fn set_affinity_mask(words: &[u64]) -> std::io::Result<()> {
    // SAFETY: a bitmap of words.len() * 8 bytes that lives across the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_sched_setaffinity,
            0,
            std::mem::size_of_val(words),
            words.as_ptr(),
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// This process's CPU affinity (to put it back after `set_affinity`).
pub fn get_affinity() -> Result<Vec<u64>> {
    let mut words = vec![0u64; (MAX_ID + 1) / 64];
    // SAFETY: a buffer of the size passed.
    let n = unsafe {
        libc::syscall(
            libc::SYS_sched_getaffinity,
            0,
            words.len() * 8,
            words.as_mut_ptr(),
        )
    };
    if n <= 0 {
        return Err(std::io::Error::last_os_error()).context("read the CPU affinity");
    }
    Ok(words)
}

/// Puts back an affinity `get_affinity` returned.
pub fn restore_affinity(words: &[u64]) -> Result<()> {
    set_affinity_mask(words).context("restore the CPU affinity")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(parse_list("0").unwrap(), vec![1]);
        assert_eq!(parse_list("0-2,5").unwrap(), vec![0b100111]);
        assert_eq!(parse_list("64").unwrap(), vec![0, 1]);
        for bad in ["", "a", "3-1", "1-", "9000"] {
            assert!(parse_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn policy_rules() {
        let p = |j: serde_json::Value| -> LinuxMemoryPolicy { serde_json::from_value(j).unwrap() };
        assert!(validate(&p(serde_json::json!({"mode": "MPOL_BIND", "nodes": "0"}))).is_ok());
        assert!(validate(&p(serde_json::json!({"mode": "MPOL_PREFERRED"}))).is_ok());
        for bad in [
            serde_json::json!({"mode": "MPOL_BIND"}),
            serde_json::json!({"mode": "MPOL_DEFAULT", "nodes": "0"}),
            serde_json::json!({"mode": "MPOL_BIND", "nodes": "0",
                "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}),
            serde_json::json!({"mode": "MPOL_INTERLEAVE", "nodes": "0",
                "flags": ["MPOL_F_NUMA_BALANCING"]}),
            serde_json::json!({"mode": "MPOL_BIND", "nodes": "x"}),
        ] {
            assert!(validate(&p(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn tables_match_the_spec_names() {
        for (name, mode, _, _) in MODES {
            assert_eq!(serde_json::to_value(mode).unwrap(), *name);
        }
        for (name, flag, _) in FLAGS {
            assert_eq!(serde_json::to_value(flag).unwrap(), *name);
        }
    }
}
