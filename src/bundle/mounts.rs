//! Each mount's options read against the one table (rootfs::options), and the
//! linux fields that reach outside the container (netDevices, intelRdt) or
//! need a kernel table (memoryPolicy): checked before anything is made.

use crate::logging::go_quote;
use crate::namespaces::NsPlan;
use crate::rootfs::idmap::{IdMapPlan, Maps};
use crate::rootfs::mounts::PlannedMount;
use crate::rootfs::options::{self, MountOptions};
use anyhow::{bail, Result};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType as T, Mount, Spec};
use std::path::Path;

/// On a bind mount an option tong does not know is an error naming it (runc
/// 1.2: the kernel would ignore filesystem data there, and a caller relying
/// on an option such as "rro" must not have it dropped silently). Idmapped
/// mounts (uidMappings/gidMappings, idmap, ridmap) must be binds with both maps.
pub fn plan(spec: &Spec, ns: &NsPlan) -> Result<Vec<PlannedMount>> {
    let mut out = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if !m.destination().is_absolute() {
            // runc's words while it converts the spec (one for each mount).
            crate::logging::warn(&format!(
                "mount destination {} is not absolute. Support for non-absolute mount destinations will be removed in a future release.",
                m.destination().display()
            ));
        }
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

/// runc's second warning about a relative destination (its validator's,
/// once the whole config passed; the first such mount only), in runc 1.2's
/// words: its configs.Mount as Go's %+v prints it.
pub fn warn_relative(spec: &Spec, planned: &[PlannedMount], bundle: &Path) {
    let mut mounts = spec.mounts().iter().flatten().zip(planned);
    if let Some((m, pm)) = mounts.find(|(m, _)| !m.destination().is_absolute()) {
        crate::logging::warn_error(
            "configuration",
            &format!(
                "mount {}: relative destination path is **deprecated**, using it as relative to /",
                go_mount(m, &pm.opts, bundle)
            ),
        );
    }
}

/// runc 1.2's configs.Mount for `m`, printed as Go's %+v prints a pointer to it.
fn go_mount(m: &Mount, o: &MountOptions, bundle: &Path) -> String {
    let bind = o.is_bind();
    let mut source = m.source().clone().unwrap_or_default();
    if bind && !source.as_os_str().is_empty() && !source.is_absolute() {
        source = bundle.join(source);
    }
    let device = if bind {
        "bind".to_string()
    } else {
        m.typ().clone().unwrap_or_default()
    };
    let propagation: Vec<String> = o.propagation.iter().map(|p| p.bits().to_string()).collect();
    let rec_attr = if o.has_recursive_attrs() {
        format!(
            "&{{Attr_set:{} Attr_clr:{} Propagation:0 Userns_fd:0}}",
            o.rec_set, o.rec_clear
        )
    } else {
        "<nil>".to_string()
    };
    let maps = |v: &Option<Vec<LinuxIdMapping>>| {
        let items: Vec<String> = v
            .iter()
            .flatten()
            .map(|x| {
                format!(
                    "{{ContainerID:{} HostID:{} Size:{}}}",
                    x.container_id(),
                    x.host_id(),
                    x.size()
                )
            })
            .collect();
        format!("[{}]", items.join(" "))
    };
    let idmapping = match (
        o.idmap,
        m.uid_mappings().is_some() || m.gid_mappings().is_some(),
    ) {
        (None, false) => "<nil>".to_string(),
        (rec, _) => format!(
            "&{{Recursive:{} UserNSPath: UIDMappings:{} GIDMappings:{}}}",
            rec.unwrap_or(false),
            maps(m.uid_mappings()),
            maps(m.gid_mappings())
        ),
    };
    format!(
        "&{{Source:{} Destination:{} Device:{device} Flags:{} ClearedFlags:{} PropagationFlags:[{}] Data:{} Relabel: RecAttr:{rec_attr} Extensions:{} IDMapping:{idmapping}}}",
        source.display(),
        m.destination().display(),
        o.flags.bits(),
        o.cleared.bits(),
        propagation.join(" "),
        o.data.join(","),
        u8::from(o.tmpcopyup),
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(json: serde_json::Value) -> Mount {
        serde_json::from_value(json).unwrap()
    }

    /// runc 1.2's configs.Mount as its validator's warning prints it.
    #[test]
    fn relative_mount_reads_as_runc_prints_it() {
        let m =
            mount(serde_json::json!({"destination": "rel", "type": "tmpfs", "source": "tmpfs"}));
        assert_eq!(
            go_mount(&m, &options::parse(&[]), Path::new("/b")),
            "&{Source:tmpfs Destination:rel Device:tmpfs Flags:0 ClearedFlags:0 PropagationFlags:[] Data: Relabel: RecAttr:<nil> Extensions:0 IDMapping:<nil>}"
        );
        let m = mount(
            serde_json::json!({"destination": "d", "source": "src", "options": ["rbind", "rw", "rprivate", "rro", "tmpcopyup"]}),
        );
        let o = options::parse(m.options().as_deref().unwrap());
        assert_eq!(
            go_mount(&m, &o, Path::new("/b")),
            "&{Source:/b/src Destination:d Device:bind Flags:20480 ClearedFlags:1 PropagationFlags:[278528] Data: Relabel: RecAttr:&{Attr_set:1 Attr_clr:0 Propagation:0 Userns_fd:0} Extensions:1 IDMapping:<nil>}"
        );
    }
}
