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

/// `--version` and `-v`, in runc's layout: version, commit, spec, toolchain,
/// then what this build can do, which must agree with `features`.
#[test]
fn version() {
    let ctx = Ctx::new("cli-version");
    let features: Value =
        serde_json::from_str(&ctx.tong.cmd(&["features"]).success().stdout).expect("features JSON");
    for flag in ["--version", "-v"] {
        let o = ctx.tong.cmd(&[flag]).success();
        let lines: Vec<&str> = o.stdout.lines().collect();
        let keys: Vec<&str> = lines[1..]
            .iter()
            .map(|l| l.split(": ").next().unwrap())
            .collect();
        assert_eq!(
            keys,
            ["commit", "spec", "rustc", "seccomp", "systemd", "criu"],
            "{:?}",
            o.stdout
        );
        let v = lines[0]
            .strip_prefix("tong version ")
            .unwrap_or_else(|| panic!("first line {:?}", lines[0]));
        let parts: Vec<&str> = v.split('.').collect();
        assert_eq!(parts.len(), 3, "X.Y.Z: {v}");
        assert!(parts.iter().all(|p| p.parse::<u32>().is_ok()), "X.Y.Z: {v}");
        assert_eq!(v, env!("CARGO_PKG_VERSION"));
        let field = |k: &str| {
            lines
                .iter()
                .find_map(|l| l.strip_prefix(&format!("{k}: ")))
                .unwrap_or_else(|| panic!("no {k}: line in {:?}", o.stdout))
        };
        // The commit is `git describe --long` of this checkout (its hash at
        // the end: a commit of this repository, HEAD or an ancestor when a
        // commit landed during the build), or "unknown" outside one.
        let git = |args: &[&str]| {
            std::process::Command::new("git")
                .arg("-C")
                .arg(env!("CARGO_MANIFEST_DIR"))
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        };
        let commit = field("commit");
        match git(&["rev-parse", "HEAD"]) {
            Some(head) => {
                let described = commit.trim_end_matches("-dirty");
                // v0.1.0-12-gabc1234, or abc1234 before the first tag
                let hash = match described.rsplit_once("-g") {
                    Some((tag, h)) => {
                        assert!(tag.rsplit_once('-').is_some(), "--long form: {commit:?}");
                        h
                    }
                    None => described,
                };
                assert!(
                    hash.len() >= 7 && hash.chars().all(|c| c.is_ascii_hexdigit()),
                    "commit {commit:?}"
                );
                assert!(
                    git(&["merge-base", "--is-ancestor", hash, &head]).is_some(),
                    "commit {commit:?} is not HEAD ({head}) or an ancestor"
                );
            }
            None => assert_eq!(commit, "unknown"),
        }
        assert_eq!(field("spec"), features["ociVersionMax"].as_str().unwrap());
        assert!(field("spec").starts_with("1.2."), "{:?}", o.stdout);
        assert!(field("rustc").split('.').count() == 3, "{:?}", o.stdout);
        assert_eq!(field("seccomp"), "built in (tong-seccomp)");
        assert_eq!(features["linux"]["seccomp"]["enabled"], true);
        let built_in = |b: bool| if b { "built in" } else { "not built in" };
        assert_eq!(
            field("systemd"),
            built_in(features["linux"]["cgroup"]["systemd"] == true)
        );
        // With checkpoint/restore built in, the criu line says where criu is
        // (the one tong would run), or that it is not in PATH.
        let criu = field("criu");
        if features["annotations"]["org.opencontainers.runc.checkpoint.enabled"] == "true" {
            let want = match std::process::Command::new("sh")
                .args(["-c", "command -v criu"])
                .output()
            {
                Ok(w) if w.status.success() => format!(
                    "{} (checkpoint/restore through its RPC)",
                    String::from_utf8_lossy(&w.stdout).trim()
                ),
                _ => "not found in PATH (checkpoint/restore need CRIU 3.x)".to_string(),
            };
            assert_eq!(criu, want);
        } else {
            assert_eq!(criu, built_in(false));
        }
        assert_eq!(o.stderr, "");
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
    // As runc: a cgroup namespace on a pure cgroup v2 host only.
    assert_eq!(
        ns.contains(&"cgroup"),
        tong_testkit::cgroups::pure_v2(),
        "{ns:?}"
    );
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
    // As runc's rootless spec: the cgroup mount stays (read-only), /sys
    // becomes a read-only rbind of the host's.
    let mounts = v["mounts"].as_array().unwrap();
    let cg = mounts
        .iter()
        .find(|m| m["type"] == "cgroup")
        .expect("cgroup mount");
    assert!(
        cg["options"].as_array().unwrap().iter().any(|o| o == "ro"),
        "{cg}"
    );
    assert!(
        mounts
            .iter()
            .any(|m| m["destination"] == "/sys" && m["type"] == "none"),
        "{mounts:?}"
    );
    assert!(mounts
        .iter()
        .all(|m| m.get("options") != Some(&serde_json::Value::Null)));
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
    // The init logs into the same file after pivot_root, where the --log
    // path would name a file of the container's (it holds the fd instead).
    assert!(
        debug.iter().any(|v| v["msg"]
            .as_str()
            .is_some_and(|m| m.starts_with("init: ready in"))),
        "no debug line of the init after pivot_root: {text}"
    );
    let inside = b.dir.join("rootfs").join(log.strip_prefix("/").unwrap());
    assert!(!inside.exists(), "the init wrote {}", inside.display());
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

/// Words that only a Rust program prints (Debug output, panics, anyhow).
const RUST_WORDING: &[&str] = &[
    "Os {",
    "Custom {",
    "kind: ",
    "(os error",
    "unwrap()",
    "panicked",
    "anyhow",
    "RUST_BACKTRACE",
    "Some(",
    "None",
];

/// A logrus text line as runc writes it without a terminal:
/// `time="RFC3339" level=error msg="..."` (msg bare when it has no space or
/// symbol); returns the message.
fn logrus_text_msg(line: &str) -> String {
    let rest = line
        .strip_prefix("time=\"")
        .unwrap_or_else(|| panic!("not a logrus line: {line:?}"));
    let (time, rest) = rest.split_once('"').unwrap();
    assert!(is_rfc3339(time), "time {time:?} in {line:?}");
    let msg = rest
        .strip_prefix(" level=error msg=")
        .unwrap_or_else(|| panic!("not level=error msg=: {line:?}"));
    if let Some(q) = msg.strip_prefix('"') {
        let q = q
            .strip_suffix('"')
            .unwrap_or_else(|| panic!("unterminated: {line:?}"));
        // Go's %q: a JSON string reads the same for what messages hold.
        serde_json::from_str(&format!("\"{q}\"")).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    } else {
        assert!(
            msg.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._/@^+".contains(c)),
            "logrus quotes {msg:?}"
        );
        msg.to_string()
    }
}

/// Real error paths of tong and runc side by side: the same exit code, one
/// logrus line on stderr; JSON on stderr with `--log-format json`; with
/// `--log FILE` the JSON line in the file and the bare message on stderr.
/// tong's message never has Rust wording; where runc's words are
/// `container does not exist` tong's are the same.
#[test]
fn error_lines_like_runc() {
    require_root!();
    require_runc!();
    let ctx = Ctx::new("cli-errfmt");
    let ok = ctx.bundle("sleep 100");
    let bad = ctx.dir("badjson");
    std::fs::write(
        bad.join("config.json"),
        "{\"ociVersion\": \"1.0.2\", \"process\": {",
    )
    .unwrap();
    let nocfg = ctx.dir("nocfg");
    let missing = ctx.work.join("no-such-bundle");
    let dup = ctx.id("dup");
    for rt in [&ctx.tong, &ctx.runc] {
        rt.create(&ok, &dup, &[]).success();
    }
    let (okb, badb, nocfgb, missingb) = (
        ok.dir.to_str().unwrap(),
        bad.to_str().unwrap(),
        nocfg.to_str().unwrap(),
        missing.to_str().unwrap(),
    );
    let c1 = ctx.id("c1");
    let cases: Vec<(Vec<&str>, bool)> = vec![
        (vec!["create", "--bundle", missingb, &c1], false),
        (vec!["create", "--bundle", nocfgb, &c1], false),
        (vec!["create", "--bundle", badb, &c1], false),
        (vec!["create", "--bundle", okb, &dup], false),
        (vec!["create", "--bundle", okb, "bad/id"], false),
        (vec!["state", "no-such-id"], true),
        (vec!["kill", "no-such-id"], true),
        (vec!["delete", "no-such-id"], true),
        (vec!["start", "no-such-id"], true),
        (vec!["pause", "no-such-id"], true),
        (vec!["exec", "no-such-id", "true"], false),
        (vec!["kill", &dup, "NOSUCHSIG"], false),
        (vec!["update", "--memory", "lots", &dup], false),
    ];
    for (args, same_words) in &cases {
        let what = args.join(" ");
        let t = ctx.tong.cmd(args);
        let r = ctx.runc.cmd(args);
        assert_eq!(
            t.code, r.code,
            "exit code of {what}: tong {t:?}\nrunc {r:?}"
        );
        assert_ne!(t.code, 0, "{what}");
        assert_eq!(t.stdout, "", "{what}");
        for o in [&t, &r] {
            assert_eq!(o.stderr.lines().count(), 1, "{what}: {o:?}");
        }
        let tmsg = logrus_text_msg(t.stderr.trim_end());
        let rmsg = logrus_text_msg(r.stderr.trim_end());
        for w in RUST_WORDING {
            assert!(!tmsg.contains(w), "{what}: Rust wording {w:?} in {tmsg:?}");
        }
        if *same_words {
            assert_eq!(tmsg, rmsg, "{what}");
        }

        // --log-format json, no --log: the JSON line goes to stderr.
        let j = ctx.tong.cmd_global(&["--log-format", "json"], args);
        let rj = ctx.runc.cmd_global(&["--log-format", "json"], args);
        for o in [&j, &rj] {
            let v: Value = serde_json::from_str(o.stderr.trim_end())
                .unwrap_or_else(|e| panic!("{what}: not one JSON line ({e}): {o:?}"));
            let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["level", "msg", "time"], "{what}");
            assert_eq!(v["level"], "error");
            assert!(is_rfc3339(v["time"].as_str().unwrap()));
        }
        let jv: Value = serde_json::from_str(j.stderr.trim_end()).unwrap();
        assert_eq!(jv["msg"], tmsg.as_str(), "{what}");
        // Key order and spacing as Go's encoder writes them.
        assert!(
            j.stderr.starts_with("{\"level\":\"error\",\"msg\":\""),
            "{:?}",
            j.stderr
        );

        // --log FILE: JSON in the file, the bare message on stderr.
        let log = ctx.work.join("errfmt.log");
        let _ = std::fs::remove_file(&log);
        let l = ctx.tong.cmd_global(
            &["--log", log.to_str().unwrap(), "--log-format", "json"],
            args,
        );
        assert_eq!(l.code, t.code, "{what}");
        assert_eq!(l.stderr.trim_end(), tmsg, "{what}");
        let text = std::fs::read_to_string(&log).unwrap();
        let v: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(v["msg"], tmsg.as_str(), "{what}");
    }
    for rt in [&ctx.tong, &ctx.runc] {
        rt.delete_force(&dup).success();
    }
}

/// Runs bash's completion function from `script` on a partial command line
/// (the words typed, the last one being completed) and returns COMPREPLY.
fn bash_complete(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let line = words.join(" ");
    let prog = format!(
        "source {}; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; \
         _tong tong '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        line,
        words.len() - 1,
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let o = std::process::Command::new("bash")
        .args(["--norc", "-c", &prog])
        .output()
        .expect("run bash");
    assert!(
        o.status.success(),
        "{prog}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

/// `completion bash|zsh|fish`: each script is generated from the command
/// line tong parses; bash's completes commands and flags.
#[test]
fn completion_scripts() {
    let ctx = Ctx::new("cli-complete");
    let bash = ctx.work.join("tong.bash");
    let o = ctx.tong.cmd(&["completion", "bash"]).success();
    std::fs::write(&bash, &o.stdout).unwrap();
    assert_eq!(bash_complete(&bash, &["tong", "cr"]), ["create"]);
    assert_eq!(bash_complete(&bash, &["tong", "de"]), ["delete"]);
    let all = bash_complete(&bash, &["tong", ""]);
    for c in [
        "create",
        "start",
        "run",
        "exec",
        "completion",
        "features",
        "--root",
        "--log-format",
    ] {
        assert!(all.iter().any(|w| w == c), "{c} not offered: {all:?}");
    }
    assert_eq!(
        bash_complete(&bash, &["tong", "create", "--b"]),
        ["--bundle"]
    );
    assert_eq!(
        bash_complete(&bash, &["tong", "exec", "--no-new"]),
        ["--no-new-privs"]
    );
    assert_eq!(
        bash_complete(&bash, &["tong", "--log-format", ""]),
        ["text", "json"]
    );
    assert_eq!(bash_complete(&bash, &["tong", "completion", "z"]), ["zsh"]);

    let zsh = ctx.tong.cmd(&["completion", "zsh"]).success().stdout;
    assert!(zsh.starts_with("#compdef tong"), "{}", &zsh[..40]);
    let fish = ctx.tong.cmd(&["completion", "fish"]).success().stdout;
    for script in [&zsh, &fish] {
        for w in [
            "create",
            "--bundle",
            "--pid-file",
            "--console-socket",
            "--log-format",
        ] {
            assert!(script.contains(w.trim_start_matches('-')), "{w} missing");
        }
    }
    assert!(fish.contains("complete -c tong"), "fish script");
    // Syntax, where the shells are installed.
    for (shell, script, check) in [("zsh", &zsh, "-n"), ("fish", &fish, "--no-execute")] {
        let path = ctx.work.join(format!("tong.{shell}"));
        std::fs::write(&path, script).unwrap();
        if let Ok(o) = std::process::Command::new(shell)
            .arg(check)
            .arg(&path)
            .output()
        {
            assert!(
                o.status.success(),
                "{shell}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    // A closed pipe (`tong completion bash | head`) ends it quietly.
    let (r, w) = nix::unistd::pipe().unwrap();
    drop(r);
    let out = std::process::Command::new(tong_bin())
        .args(["completion", "bash"])
        .stdout(std::process::Stdio::from(w))
        .output()
        .unwrap();
    assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
    assert_ne!(ctx.tong.cmd(&["completion", "tcsh"]).code, 0);
}
