//! Capabilities: drop from the bounding set, then set effective, permitted and
//! inheritable in one capset, then raise the ambient ones.

use anyhow::{Context, Result};
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};
use std::str::FromStr;

/// The kernel's number of capability `c`.
pub fn index_of(c: &Capability) -> Option<u8> {
    caps::Capability::from_str(&format!("CAP_{c}"))
        .ok()
        .map(|c| c.index())
}

/// Whether a capability named in a config ("CAP_X") is one this code sets.
pub fn settable(name: &str) -> bool {
    Capability::from_str(name.trim_start_matches("CAP_"))
        .ok()
        .and_then(|c| index_of(&c))
        .is_some_and(|i| i <= last_cap())
}

/// The five sets of a process's capabilities, by their JSON names.
const SETS: [&str; 5] = [
    "bounding",
    "effective",
    "inheritable",
    "permitted",
    "ambient",
];

/// runc skips a capability it does not know or this kernel lacks, with one
/// warning, and runs: removes such names from a process's JSON
/// (`process.capabilities.*`) and returns them. Only reached when the typed
/// parse failed, so a plain config never pays for a second parse.
pub fn strip_unknown_json(process: &mut serde_json::Value) -> Vec<String> {
    let mut dropped = Vec::new();
    let Some(c) = process.get_mut("capabilities") else {
        return dropped;
    };
    for set in SETS {
        if let Some(names) = c.get_mut(set).and_then(|v| v.as_array_mut()) {
            names.retain(|n| match n.as_str() {
                Some(name) if !settable(name) => {
                    dropped.push(name.to_string());
                    false
                }
                _ => true,
            });
        }
    }
    dropped
}

/// As `strip_unknown_json` for names the spec types know but this kernel
/// does not have (beyond /proc/sys/kernel/cap_last_cap).
pub fn retain_available(p: &mut oci_spec::runtime::Process) -> Vec<String> {
    let mut dropped = Vec::new();
    let Some(mut c) = p.capabilities().clone() else {
        return dropped;
    };
    let mut keep = |set: &Option<Capabilities>| {
        set.as_ref().map(|s| {
            s.iter()
                .filter(|cap| {
                    let ok = index_of(cap).is_some_and(|i| i <= last_cap());
                    if !ok {
                        dropped.push(format!("CAP_{cap}"));
                    }
                    ok
                })
                .cloned()
                .collect::<Capabilities>()
        })
    };
    let (b, e, i, pm, a) = (
        keep(c.bounding()),
        keep(c.effective()),
        keep(c.inheritable()),
        keep(c.permitted()),
        keep(c.ambient()),
    );
    if !dropped.is_empty() {
        c.set_bounding(b)
            .set_effective(e)
            .set_inheritable(i)
            .set_permitted(pm)
            .set_ambient(a);
        p.set_capabilities(Some(c));
    }
    dropped
}

/// runc's one warning for the names skipped (sorted, as Go's fmt prints a
/// slice): "ignoring unknown or unavailable capabilities: [CAP_A CAP_B]".
pub fn warn_ignored(mut names: Vec<String>) {
    if names.is_empty() {
        return;
    }
    names.sort();
    names.dedup();
    crate::logging::warn(&format!(
        "ignoring unknown or unavailable capabilities: [{}]",
        names.join(" ")
    ));
}

/// Every capability this kernel has that a config may name (`features`).
pub fn known() -> Vec<String> {
    let mut v: Vec<String> = caps::all()
        .into_iter()
        .map(|c| c.to_string())
        .filter(|n| settable(n))
        .collect();
    v.sort();
    v.dedup();
    v
}

fn mask(set: &Option<Capabilities>) -> u64 {
    set.iter()
        .flatten()
        .filter_map(index_of)
        .fold(0u64, |m, i| m | (1u64 << i))
}

/// The kernel's highest capability, read once (create asked for it once
/// per capability name, 13 reads of the file for runc's default config).
fn last_cap() -> u8 {
    static LAST: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    *LAST.get_or_init(|| {
        crate::mountinfo::read_proc("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40)
    })
}

/// Drops every capability not in the bounding set. Needs CAP_SETPCAP, so it runs
/// before the switch to the container's user.
pub fn drop_bounding(c: &LinuxCapabilities) -> Result<()> {
    let keep = mask(c.bounding());
    for i in 0..=last_cap() {
        if keep & (1 << i) == 0 {
            // SAFETY: plain prctl.
            let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, i as libc::c_ulong, 0, 0, 0) };
            if r != 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EINVAL) {
                    return Err(e).context("drop bounding capability");
                }
            }
        }
    }
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Sets effective/permitted/inheritable exactly, then the ambient set.
pub fn apply(c: &LinuxCapabilities) -> Result<()> {
    let (e, p, i) = (
        mask(c.effective()),
        mask(c.permitted()),
        mask(c.inheritable()),
    );
    let hdr = CapHeader {
        version: 0x20080522,
        pid: 0,
    };
    let data = [
        CapData {
            effective: e as u32,
            permitted: p as u32,
            inheritable: i as u32,
        },
        CapData {
            effective: (e >> 32) as u32,
            permitted: (p >> 32) as u32,
            inheritable: (i >> 32) as u32,
        },
    ];
    // SAFETY: header and two data structs as capset(2) v3 expects.
    if unsafe { libc::syscall(libc::SYS_capset, &hdr, data.as_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error()).context("capset");
    }
    let amb = mask(c.ambient());
    // SAFETY: plain prctl.
    let r = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        // Before Linux 4.3 there is no ambient set: nothing to clear, and
        // nothing can be raised.
        if e.raw_os_error() != Some(libc::EINVAL) || amb != 0 {
            return Err(e).context("clear the ambient capabilities");
        }
    }
    for bit in 0..64 {
        if amb & (1 << bit) != 0 {
            // Ambient needs the cap in permitted and inheritable; like runc, a cap
            // that can't be raised is skipped rather than fatal.
            // SAFETY: plain prctl.
            let r = unsafe {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_RAISE,
                    bit as libc::c_ulong,
                    0,
                    0,
                )
            };
            if r != 0 {
                // Only with --debug: the container's stderr is ours here.
                crate::debug!(
                    "ambient capability {bit} not raised: {}",
                    std::io::Error::last_os_error()
                );
            }
        }
    }
    Ok(())
}
