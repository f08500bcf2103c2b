//! The command line itself: --version/-v, spec (--bundle, --rootless), global
//! --root, --log, --log-format text|json, --debug, --rootless, and usage errors.

mod common;
use common::*;
use serde_json::Value;

fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && (s.ends_with('Z') || s[19..].contains('+') || s[19..].contains('-'))
        && s[..4].chars().all(|c| c.is_ascii_digit())
}

#[test]
fn version() {
    let ctx = Ctx::new("cli-version");
    for flag in ["--version", "-v"] {
        let o = ctx.tong.cmd(&[flag]).success();
        let lines: Vec<&str> = o.stdout.lines().collect();
        let v = lines[0]
            .strip_prefix("tong version ")
            .unwrap_or_else(|| panic!("first line {:?}", lines[0]));
        let parts: Vec<&str> = v.split('.').collect();
        assert_eq!(parts.len(), 3, "X.Y.Z: {v}");
        assert!(parts.iter().all(|p| p.parse::<u32>().is_ok()), "X.Y.Z: {v}");
        assert_eq!(v, env!("CARGO_PKG_VERSION"));
        assert!(
            lines.iter().any(|l| l.starts_with("spec: 1.2.")),
            "{:?}",
            o.stdout
        );
    }
}

#[test]
fn spec_writes_a_runnable_config() {
    require_root!();
    let ctx = Ctx::new("cli-spec");
    let dir = ctx.dir("specbundle");
    ctx.tong
        .cmd(&["spec", "--bundle", dir.to_str().unwrap()])
        .success();
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(v["process"]["args"], serde_json::json!(["sh"]));
    assert_eq!(v["process"]["terminal"], true);
    assert_eq!(v["root"]["path"], "rootfs");
    assert_eq!(v["hostname"], "tong");
    assert!(v["ociVersion"].as_str().unwrap().starts_with("1.2"));
    let ns: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    for n in ["pid", "network", "ipc", "uts", "mount"] {
        assert!(ns.contains(&n), "{ns:?}");
    }
    // Existing config.json is not overwritten.
    let again = ctx.tong.cmd(&["spec", "--bundle", dir.to_str().unwrap()]);
    assert_ne!(again.code, 0, "spec overwrote config.json");
    // Without --bundle: the current directory.
    let cwd = ctx.dir("cwdspec");
    let mut c = ctx.tong.command();
    c.arg("spec").current_dir(&cwd);
    ctx.tong.exec(c, "spec").success();
    assert!(cwd.join("config.json").exists());
    // The generated spec runs (with a rootfs and terminal off).
    make_rootfs(&dir.join("rootfs"));
    let mut b = Bundle {
        dir: dir.clone(),
        config: v,
    };
    b.set("/process/terminal", serde_json::json!(false));
    b.sh("echo spec-ok");
    assert_eq!(ctx.tong.output_of(&b, &ctx.id("")), "spec-ok\n");
}

#[test]
fn spec_rootless() {
    let ctx = Ctx::new("cli-specrl");
    let dir = ctx.dir("rl");
    ctx.tong
        .cmd(&["spec", "--rootless", "--bundle", dir.to_str().unwrap()])
        .success();
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let ns: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert!(ns.contains(&"user"), "{ns:?}");
    let uid = nix::unistd::getuid().as_raw();
    assert_eq!(v["linux"]["uidMappings"][0]["hostID"], uid);
    assert_eq!(v["linux"]["uidMappings"][0]["containerID"], 0);
    assert_eq!(
        v["linux"]["gidMappings"][0]["hostID"],
        nix::unistd::getgid().as_raw()
    );
    assert!(
        v["linux"].get("resources").is_none(),
        "rootless spec has cgroup resources"
    );
    assert!(
        !v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["type"] == "cgroup"),
        "rootless spec mounts cgroup"
    );
}

#[test]
fn error_output_and_log_formats() {
    require_root!();
    let ctx = Ctx::new("cli-log");
    let id = ctx.id("missing");
    // No --log: one logrus-style line on stderr.
    let o = ctx.tong.cmd(&["state", &id]);
    assert_eq!(o.code, 1);
    let lines: Vec<&str> = o.stderr.trim_end().lines().collect();
    assert_eq!(lines.len(), 1, "{:?}", o.stderr);
    assert!(
        lines[0].contains("level=error") && lines[0].contains("container does not exist"),
        "{:?}",
        o.stderr
    );
    assert_eq!(o.stdout, "");

    // --log FILE --log-format json: a JSON line in the file.
    let log = ctx.work.join("tong.json.log");
    let o = ctx.tong.cmd_global(
        &["--log", log.to_str().unwrap(), "--log-format", "json"],
        &["state", &id],
    );
    assert_eq!(o.code, 1);
    let text = std::fs::read_to_string(&log).expect("log file written");
    let last = text.lines().last().unwrap();
    let v: Value = serde_json::from_str(last).unwrap_or_else(|e| panic!("not JSON ({e}): {last}"));
    assert_eq!(v["level"], "error");
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .contains("container does not exist"),
        "{v}"
    );
    assert!(is_rfc3339(v["time"].as_str().unwrap()), "time {v}");
    assert_eq!(o.stderr.trim_end().lines().count(), 1);

    // --log FILE (text): logrus text line in the file; appended, not truncated.
    let log = ctx.work.join("tong.text.log");
    ctx.tong
        .cmd_global(&["--log", log.to_str().unwrap()], &["delete", &id]);
    ctx.tong.cmd_global(
        &["--log", log.to_str().unwrap(), "--log-format", "text"],
        &["kill", &id],
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for l in &lines {
        assert!(
            l.starts_with("time=\"") && l.contains("level=error") && l.contains("msg="),
            "{l}"
        );
    }
    // Bad --log-format is a usage error.
    assert_ne!(
        ctx.tong
            .cmd_global(&["--log-format", "xml"], &["list"])
            .code,
        0
    );
}

#[test]
fn debug_logs_steps() {
    require_root!();
    let ctx = Ctx::new("cli-debug");
    let b = ctx.bundle("true");
    let log = ctx.work.join("debug.log");
    let id = ctx.id("");
    b.save();
    ctx.tong.track(&id);
    ctx.tong
        .cmd_global(
            &[
                "--debug",
                "--log",
                log.to_str().unwrap(),
                "--log-format",
                "json",
            ],
            &["run", "--bundle", b.dir.to_str().unwrap(), &id],
        )
        .success();
    let text = std::fs::read_to_string(&log).unwrap();
    let debug: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["level"] == "debug")
        .collect();
    assert!(debug.len() >= 2, "--debug logged too little: {text}");
    // Without --debug nothing is logged for a successful run.
    let log2 = ctx.work.join("quiet.log");
    let id2 = ctx.id("q");
    ctx.tong.track(&id2);
    ctx.tong
        .cmd_global(
            &["--log", log2.to_str().unwrap()],
            &["run", "--bundle", b.dir.to_str().unwrap(), &id2],
        )
        .success();
    assert_eq!(std::fs::read_to_string(&log2).unwrap_or_default(), "");
}

#[test]
fn global_flags_accepted() {
    require_root!();
    let ctx = Ctx::new("cli-flags");
    for v in [
        &["--rootless", "false"][..],
        &["--rootless=auto"],
        &["--rootless=true"],
        &["--rootless=false"],
    ] {
        let o = ctx.tong.cmd_global(v, &["list"]);
        assert_eq!(o.code, 0, "{v:?}: {o:?}");
    }
    // --root is honoured: the state dir is made there.
    let b = ctx.bundle("exec sleep 100");
    let id = ctx.id("");
    ctx.tong.create(&b, &id, &[]).success();
    assert!(
        ctx.tong.root.join(&id).join("state.json").exists() || ctx.tong.root.join(&id).is_dir()
    );
    // A different root does not see it.
    let other = ctx.dir("other-root");
    let mut c = std::process::Command::new(tong_bin());
    c.args(["--root", other.to_str().unwrap(), "list", "-q"]);
    assert_eq!(ctx.tong.exec(c, "list other").success().stdout, "");
    ctx.tong.delete_force(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}

#[test]
fn usage_errors() {
    let ctx = Ctx::new("cli-usage");
    assert_ne!(ctx.tong.cmd(&["no-such-command"]).code, 0);
    assert_ne!(ctx.tong.cmd(&["state"]).code, 0, "state without id");
    assert_ne!(ctx.tong.cmd(&["create"]).code, 0, "create without id");
    assert_ne!(ctx.tong.cmd(&["list", "--format", "yaml"]).code, 0);
    let h = ctx.tong.cmd(&["--help"]);
    assert_eq!(h.code, 0);
    for c in [
        "create", "start", "run", "state", "kill", "delete", "list", "spec",
    ] {
        assert!(h.stdout.contains(c), "--help lacks {c}");
    }
}
