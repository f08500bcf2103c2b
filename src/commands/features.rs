//! `features`: the runtime-spec features document for this build, made from
//! the tables the code itself uses (mount options, namespaces,
//! capabilities, seccomp, memory policy, cgroup drivers), so it cannot
//! claim what tong does not do or hide what it does. containerd 2 reads it:
//! "rro" in mountOptions enables recursively read-only volumes,
//! mountExtensions.idmap.enabled (with "user" in namespaces) user-namespaced
//! pods.

use anyhow::Result;
use serde_json::{json, Value};

fn capabilities() -> Vec<String> {
    crate::caps::known()
}

fn namespaces() -> Vec<String> {
    let mut v: Vec<String> = crate::namespaces::ALL
        .iter()
        .filter_map(|t| serde_json::to_value(t).ok())
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    v.sort();
    v
}

fn seccomp() -> Value {
    use tong_seccomp::features as f;
    json!({
        "enabled": true,
        "actions": f::actions(),
        "operators": f::operators(),
        "archs": f::archs(),
        "knownFlags": f::flags(),
        "supportedFlags": f::flags(),
    })
}

fn memory_policy() -> Value {
    use crate::process::numa::{FLAGS, MODES};
    let mut modes: Vec<&str> = MODES.iter().map(|m| m.0).collect();
    let mut flags: Vec<&str> = FLAGS.iter().map(|f| f.0).collect();
    modes.sort_unstable();
    flags.sort_unstable();
    json!({ "modes": modes, "flags": flags })
}

pub fn document() -> Value {
    let cg = &crate::cgroups::SUPPORT;
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::version::SPEC,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": crate::rootfs::options::known(),
        "linux": {
            "namespaces": namespaces(),
            "capabilities": capabilities(),
            "cgroup": {"v1": cg.v1, "v2": cg.v2, "systemd": cg.systemd,
                       "systemdUser": cg.systemd_user, "rdma": cg.rdma},
            "seccomp": seccomp(),
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": crate::resctrl::SUPPORTED, "schemata": crate::resctrl::SUPPORTED},
            "memoryPolicy": memory_policy(),
            "mountExtensions": {"idmap": {"enabled": true}},
            "netDevices": {"enabled": true}
        },
        "annotations": {
            "org.opencontainers.runc.checkpoint.enabled": crate::version::CHECKPOINT.to_string(),
            "io.github.tong.version": env!("CARGO_PKG_VERSION")
        }
    })
}

pub fn features() -> Result<()> {
    crate::outln!("{}", serde_json::to_string_pretty(&document())?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::options;

    fn strings(v: &Value) -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("{v} is not a list"))
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    }

    /// Every option `features` names is one the parser knows (never mount
    /// data), and every option the parser knows is named.
    #[test]
    fn mount_options_are_the_parsers() {
        let doc = document();
        let listed = strings(&doc["mountOptions"]);
        for o in &listed {
            let parsed = options::parse(std::slice::from_ref(o));
            assert!(parsed.data.is_empty(), "{o} is listed but parsed as data");
        }
        for (name, _) in options::TABLE {
            assert!(listed.iter().any(|l| l == name), "{name} is not listed");
        }
        // What containerd 2 checks.
        for needed in ["rro", "idmap", "ridmap", "rbind"] {
            assert!(listed.iter().any(|l| l == needed), "{needed}");
        }
        assert_eq!(doc["linux"]["mountExtensions"]["idmap"]["enabled"], true);
    }

    /// Every namespace listed is accepted in a config, as a new one.
    #[test]
    fn namespaces_are_the_plans() {
        let doc = document();
        let listed = strings(&doc["linux"]["namespaces"]);
        assert_eq!(listed.len(), crate::namespaces::ALL.len());
        for n in &listed {
            let t: oci_spec::runtime::LinuxNamespaceType =
                serde_json::from_value(json!(n)).unwrap();
            assert!(!crate::namespaces::flag(t).is_empty(), "{n}");
        }
        assert!(listed.iter().any(|n| n == "user"));
    }

    /// Every capability listed is one caps.rs can set.
    #[test]
    fn capabilities_are_settable() {
        let listed = strings(&document()["linux"]["capabilities"]);
        assert!(listed.iter().any(|c| c == "CAP_SYS_ADMIN"));
        for c in &listed {
            assert!(crate::caps::settable(c), "{c}");
        }
    }

    /// The seccomp lists are the compiler's, and each name parses.
    #[test]
    fn seccomp_is_the_compilers() {
        let doc = document();
        let s = &doc["linux"]["seccomp"];
        assert_eq!(strings(&s["actions"]), tong_seccomp::features::actions());
        assert_eq!(
            strings(&s["operators"]),
            tong_seccomp::features::operators()
        );
        assert_eq!(strings(&s["archs"]), tong_seccomp::features::archs());
        for a in strings(&s["actions"]) {
            serde_json::from_value::<oci_spec::runtime::LinuxSeccompAction>(json!(a)).unwrap();
        }
    }

    /// Every memory policy mode and flag listed passes validation with
    /// what it needs, and the cgroup drivers are the cgroups module's.
    #[test]
    fn memory_policy_and_cgroups() {
        let doc = document();
        for m in strings(&doc["linux"]["memoryPolicy"]["modes"]) {
            let nodes = if matches!(m.as_str(), "MPOL_DEFAULT" | "MPOL_LOCAL") {
                json!(null)
            } else {
                json!("0")
            };
            let p: oci_spec::runtime::LinuxMemoryPolicy =
                serde_json::from_value(json!({"mode": m, "nodes": nodes})).unwrap();
            crate::process::numa::validate(&p).unwrap_or_else(|e| panic!("{m}: {e}"));
        }
        for f in strings(&doc["linux"]["memoryPolicy"]["flags"]) {
            serde_json::from_value::<oci_spec::runtime::MemoryPolicyFlagType>(json!(f)).unwrap();
        }
        assert_eq!(
            doc["linux"]["cgroup"]["systemd"],
            crate::cgroups::SUPPORT.systemd
        );
        // The document is what oci-spec's Features type reads.
        serde_json::from_value::<oci_spec::runtime::Features>(doc).unwrap();
    }
}
