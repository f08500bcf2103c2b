//! Unit tests of the suite itself: report/expected-file handling, and proof
//! that tests FAIL when a runtime drops a feature (a stub runtime that edits
//! config.json before delegating to runc, or one that pretends everything
//! works). The runtime-driving tests need root, runc, busybox and python3;
//! without them they print why and return.

use crate::harness::Env;
use crate::report::{compare_expected, parse_expected, Outcome, Record};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn rec(name: &str, o: Outcome) -> Record {
    Record {
        name: name.into(),
        outcome: o,
        reason: String::new(),
        secs: 0.0,
    }
}

#[test]
fn expected_file_parsing_and_matching() {
    let e = parse_expected("# comment\n\na/b # reason one\nc/d\n");
    assert_eq!(e.len(), 2);
    assert_eq!(e["a/b"], "reason one");
    let recs = vec![
        rec("a/b", Outcome::Fail),
        rec("c/d", Outcome::Skip),
        rec("e/f", Outcome::Pass),
    ];
    assert!(compare_expected(&recs, &e).matches());
    let recs = vec![rec("a/b", Outcome::Pass), rec("e/f", Outcome::Fail)];
    let c = compare_expected(&recs, &e);
    assert_eq!(c.unexpected_pass, vec!["a/b".to_string()]);
    assert_eq!(c.unexpected_fail, vec!["e/f".to_string()]);
    let e = parse_expected("a/b # flaky: a race\n");
    assert!(compare_expected(&[rec("a/b", Outcome::Pass)], &e).matches());
    assert!(compare_expected(&[rec("a/b", Outcome::Fail)], &e).matches());
}

#[test]
fn record_line_format() {
    let mut r = rec("x/y", Outcome::Skip);
    assert_eq!(r.line(), "SKIP x/y");
    r.reason = "no kernel\nfeature".into();
    assert_eq!(r.line(), "SKIP x/y # no kernel feature");
}

#[test]
fn test_names_unique_and_well_formed() {
    let all = crate::tests::all();
    let mut names: Vec<_> = all.iter().map(|t| t.name).collect();
    names.sort();
    let n = names.len();
    names.dedup();
    assert_eq!(n, names.len(), "duplicate test names");
    let re = regex::Regex::new(r"^(config|config-linux|runtime)(/[a-z0-9-]+)+$").unwrap();
    for t in &all {
        assert!(re.is_match(t.name), "bad test name {}", t.name);
    }
}

#[test]
fn base_config_is_a_valid_oci_spec() {
    let v = crate::harness::base_config();
    let s: oci_spec::runtime::Spec = serde_json::from_value(v).expect("base config deserialises");
    assert_eq!(s.hostname().as_deref(), Some("conformance"));
}

const RUNC: &str = "/usr/sbin/runc";

/// None (with a message) when this machine cannot drive containers.
fn can_run() -> Option<()> {
    let missing = if !nix::unistd::geteuid().is_root() {
        "not root"
    } else if !Path::new(RUNC).exists() {
        "no /usr/sbin/runc"
    } else if !Path::new(crate::harness::BUSYBOX).exists() {
        "no /bin/busybox"
    } else if std::process::Command::new("python3")
        .arg("-c")
        .arg("1")
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        "no python3"
    } else {
        return Some(());
    };
    // A failure when CI asks for the full run (TONG_TEST_FULL=1).
    tong_testkit::skip::skip(&format!("runtime-driving unit test: {missing}"));
    None
}

/// A stub runtime: on create/run, apply `py` (python, `c` is the config dict)
/// to the bundle's config.json, then exec runc.
fn stub(dir: &Path, name: &str, py: &str) -> PathBuf {
    let p = dir.join(name);
    let script = format!(
        r#"#!/bin/sh
bundle=.; prev=; cmd=
for a in "$@"; do
  case "$prev" in --bundle|-b) bundle="$a";; esac
  case "$a" in create|run) [ -z "$cmd" ] && cmd="$a";; esac
  prev="$a"
done
if [ -n "$cmd" ] && [ -f "$bundle/config.json" ]; then
  python3 - "$bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
{py}
json.dump(c, open(p, "w"))
PY
fi
exec {RUNC} "$@"
"#
    );
    std::fs::write(&p, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn run_named(runtime: &Path, name: &str) -> Record {
    let env = Env::new(
        runtime.to_path_buf(),
        None,
        Duration::from_secs(30),
        false,
        false,
    )
    .unwrap();
    let t = crate::tests::all()
        .into_iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no test {name}"));
    let r = crate::run_one(&env, &t);
    env.cleanup();
    r
}

fn stub_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "tong-conformance-unit-{}-{}",
        std::process::id(),
        crate::harness::next_n()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The test passes on runc and fails on a runc that loses the feature.
fn proves(name: &str, py: &str) {
    if can_run().is_none() {
        return;
    }
    let good = run_named(Path::new(RUNC), name);
    assert_eq!(
        good.outcome,
        Outcome::Pass,
        "{name} on runc: {}",
        good.reason
    );
    let d = stub_dir();
    let broken = run_named(&stub(&d, "broken-runtime", py), name);
    let _ = std::fs::remove_dir_all(&d);
    assert_eq!(
        broken.outcome,
        Outcome::Fail,
        "{name} did not fail on a runtime without the feature: {:?}",
        broken
    );
}

#[test]
fn hostname_test_fails_when_hostname_is_dropped() {
    proves("config/hostname", "c.pop('hostname', None)");
}

#[test]
fn readonly_root_test_fails_when_flag_is_dropped() {
    proves("config/root/readonly", "c['root']['readonly'] = False");
}

#[test]
fn env_test_fails_when_env_is_dropped() {
    proves(
        "config/process/env",
        "c['process']['env'] = ['PATH=/bin:/usr/bin']",
    );
}

#[test]
fn seccomp_test_fails_when_seccomp_is_dropped() {
    proves(
        "config-linux/seccomp/syscall-errno-default-eperm",
        "c['linux'].pop('seccomp', None)",
    );
}

#[test]
fn cgroup_test_fails_when_resources_are_dropped() {
    // The v1 test skips on a pure cgroup v2 host, where the v2 one runs.
    let pure_v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    proves(
        if pure_v2 {
            "config-linux/cgroups-v2/memory"
        } else {
            "config-linux/cgroups/memory/limit"
        },
        "c['linux'].pop('resources', None)",
    );
}

#[test]
fn hook_test_fails_when_hooks_are_dropped() {
    proves(
        "config/hooks/multiple-in-array-order",
        "c.pop('hooks', None)",
    );
}

#[test]
fn namespace_test_fails_when_namespace_is_dropped() {
    proves(
        "config-linux/namespaces/ipc-new",
        "c['linux']['namespaces'] = [n for n in c['linux']['namespaces'] if n['type'] != 'ipc']",
    );
}

#[test]
fn lifecycle_tests_fail_on_a_runtime_that_accepts_everything() {
    if can_run().is_none() {
        return;
    }
    let d = stub_dir();
    let yes = d.join("yes-runtime");
    std::fs::write(&yes, "#!/bin/sh\nexit 0\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&yes, std::fs::Permissions::from_mode(0o755)).unwrap();
    let names = [
        "runtime/lifecycle/start-twice-fails",
        "runtime/lifecycle/create-duplicate-id-fails",
        "config/invalid/not-json",
        "runtime/state/unknown-id-fails",
    ];
    let results: Vec<Record> = names.iter().map(|n| run_named(&yes, n)).collect();
    let _ = std::fs::remove_dir_all(&d);
    for r in results {
        assert_eq!(
            r.outcome,
            Outcome::Fail,
            "{} passed on a runtime that does nothing",
            r.name
        );
    }
}
