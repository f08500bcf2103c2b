//! `spec`: write a default config.json (runc's, with hostname "tong").

use anyhow::{bail, Context, Result};
use std::path::Path;

const DEFAULT: &str = include_str!("../default-config.json");

pub fn spec(bundle: &Path, rootless: bool) -> Result<()> {
    // runc's words: it changes into the bundle first, then names the file.
    if !bundle.is_dir() {
        bail!("chdir {}: no such file or directory", bundle.display());
    }
    let path = bundle.join("config.json");
    if path.exists() {
        bail!("File config.json exists. Remove it first");
    }
    let mut v: serde_json::Value = serde_json::from_str(DEFAULT)?;
    if unified_host() {
        // runc's spec on a pure cgroup v2 host: a cgroup namespace too.
        let ns = v["linux"]["namespaces"].as_array_mut().expect("array");
        ns.push(serde_json::json!({"type": "cgroup"}));
    }
    if rootless {
        let (uid, gid) = (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        );
        let linux = &mut v["linux"];
        linux.as_object_mut().expect("object").remove("resources");
        let ns = linux["namespaces"].as_array_mut().expect("array");
        ns.retain(|n| n["type"] != "network");
        ns.push(serde_json::json!({"type": "user"}));
        linux["uidMappings"] = serde_json::json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        linux["gidMappings"] = serde_json::json!([{"containerID": 0, "hostID": gid, "size": 1}]);
        let mounts = v["mounts"].as_array_mut().expect("array");
        // runc keeps the cgroup mount (read-only) and replaces only /sys.
        for m in mounts.iter_mut() {
            if m["type"] == "sysfs" {
                *m = serde_json::json!({"destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
            }
            if let Some(opts) = m.get_mut("options").and_then(|o| o.as_array_mut()) {
                opts.retain(|o| o != "gid=5");
            }
        }
    }
    let mut text = String::new();
    write_go_indented(&v, 0, &mut text);
    std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
    Ok(())
}

/// runc's IsCgroup2UnifiedMode: cgroup2 itself at /sys/fs/cgroup.
fn unified_host() -> bool {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
    statfs("/sys/fs/cgroup").is_ok_and(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC)
}

/// runc writes the runtime-spec's structs in their field order; one list
/// serves every object of the default spec (no two of its objects order a
/// shared key differently).
const ORDER: &[&str] = &[
    "ociVersion",
    "process",
    "root",
    "hostname",
    "domainname",
    "mounts",
    "hooks",
    "annotations",
    "linux",
    "terminal",
    "consoleSize",
    "user",
    "uid",
    "gid",
    "umask",
    "additionalGids",
    "args",
    "env",
    "cwd",
    "capabilities",
    "bounding",
    "effective",
    "inheritable",
    "permitted",
    "ambient",
    "rlimits",
    "noNewPrivileges",
    "path",
    "readonly",
    "allow",
    "destination",
    "type",
    "source",
    "options",
    "hard",
    "soft",
    "major",
    "minor",
    "access",
    "uidMappings",
    "gidMappings",
    "containerID",
    "hostID",
    "size",
    "sysctl",
    "resources",
    "devices",
    "cgroupsPath",
    "namespaces",
    "maskedPaths",
    "readonlyPaths",
];

fn rank(key: &str) -> usize {
    ORDER.iter().position(|k| *k == key).unwrap_or(ORDER.len())
}

/// JSON as Go's json.MarshalIndent(v, "", "\t") writes it (runc's `spec`),
/// members in `rank` order.
fn write_go_indented(v: &serde_json::Value, depth: usize, out: &mut String) {
    use serde_json::Value;
    let pad = |n: usize| "\t".repeat(n);
    match v {
        Value::Object(m) if !m.is_empty() => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by_key(|k| rank(k));
            out.push_str("{\n");
            for (i, k) in keys.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                out.push_str(&serde_json::to_string(k).unwrap_or_default());
                out.push_str(": ");
                write_go_indented(&m[*k], depth + 1, out);
                out.push_str(if i + 1 < keys.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(depth));
            out.push('}');
        }
        Value::Array(a) if !a.is_empty() => {
            out.push_str("[\n");
            for (i, x) in a.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                write_go_indented(x, depth + 1, out);
                out.push_str(if i + 1 < a.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(depth));
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}
