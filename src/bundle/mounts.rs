//! Each mount's options read against the one table (rootfs::options), and the
//! linux fields that reach outside the container (netDevices, intelRdt) or
//! need a kernel table (memoryPolicy): checked before anything is made.

use crate::logging::go_quote;
use crate::namespaces::NsPlan;
use crate::rootfs::idmap::{IdMapPlan, Maps};
use crate::rootfs::mounts::PlannedMount;
use crate::rootfs::options;
use anyhow::{bail, Result};
use oci_spec::runtime::{LinuxNamespaceType as T, Spec};

/// On a bind mount an option tong does not know is an error naming it (runc
/// 1.2: the kernel would ignore filesystem data there, and a caller relying
/// on an option such as "rro" must not have it dropped silently). Idmapped
/// mounts (uidMappings/gidMappings, idmap, ridmap) must be binds with both maps.
pub fn plan(spec: &Spec, ns: &NsPlan) -> Result<Vec<PlannedMount>> {
    let mut out = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let what = format!("mounts[{i}] ({})", m.destination().display());
        let raw = m.options().as_deref().unwrap_or(&[]);
        let opts = options::parse(raw);
        let bind = opts.is_bind() || m.typ().as_deref() == Some("bind");
        if bind {
            if let Some(o) = opts.data.first() {
                let j = raw.iter().position(|r| r == o).unwrap_or(0);
                bail!(
                    "mounts[{i}].options[{j}] ({}): unknown mount option {}: a bind mount takes no filesystem-specific options",
                    m.destination().display(),
                    go_quote(o)
                );
            }
        }
        let (uids, gids) = (m.uid_mappings().as_ref(), m.gid_mappings().as_ref());
        let idmap = match (uids, gids, opts.idmap) {
            (None, None, None) => None,
            (Some(_), None, _) | (None, Some(_), _) => {
                bail!("{what}: uidMappings and gidMappings must be given together")
            }
            (Some(u), Some(g), rec) => {
                if u.is_empty() || g.is_empty() || u.iter().chain(g).any(|m| m.size() == 0) {
                    bail!("{what}: uidMappings/gidMappings must not be empty");
                }
                Some(IdMapPlan {
                    recursive: rec.unwrap_or(false),
                    maps: Some(Maps {
                        uids: u.clone(),
                        gids: g.clone(),
                    }),
                })
            }
            (None, None, Some(rec)) => {
                if !ns.has(T::User) {
                    bail!(
                        "{what}: idmap/ridmap without uidMappings/gidMappings uses the container's user namespace, and there is none"
                    );
                }
                Some(IdMapPlan {
                    recursive: rec,
                    maps: None,
                })
            }
        };
        if idmap.is_some() && !bind {
            bail!("{what}: idmapped mounts are only supported for bind mounts");
        }
        out.push(PlannedMount { opts, idmap });
    }
    Ok(out)
}

/// linux.personality, linux.memoryPolicy, netDevices and intelRdt.
pub fn validate_linux_extras(spec: &Spec, ns: &NsPlan) -> Result<()> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    if let Some(p) = linux.personality() {
        if let Some(f) = p.flags().as_ref().filter(|f| !f.is_empty()) {
            // runc 1.2 does the same: the domain is set, the flags are not.
            let names: Vec<String> = f.iter().map(|x| go_quote(&x.to_string())).collect();
            crate::logging::warn(&format!(
                "linux.personality.flags [{}] are ignored",
                names.join(" ")
            ));
        }
    }
    if let Some(m) = linux.memory_policy() {
        crate::process::numa::validate(m)?;
    }
    if let Some(rdt) = linux.intel_rdt() {
        crate::resctrl::validate(rdt)?;
    }
    if let Some(devs) = linux.net_devices().as_ref().filter(|d| !d.is_empty()) {
        if !ns.has(T::Network) {
            bail!("linux.netDevices needs a network namespace of the container's own (new or by path)");
        }
        for (name, d) in devs {
            if !crate::netdev::valid_name(name) {
                bail!(
                    "linux.netDevices: {} is not a valid network device name",
                    go_quote(name)
                );
            }
            if let Some(n) = d.name().as_deref().filter(|n| !n.is_empty()) {
                if !crate::netdev::valid_name(n) {
                    bail!(
                        "linux.netDevices[{}].name {} is not a valid network device name",
                        go_quote(name),
                        go_quote(n)
                    );
                }
            }
        }
    }
    Ok(())
}
