//! config.json `process`: args (PATH lookup and its errors), env, cwd, user
//! (uid/gid/additionalGids/umask), capabilities (5 sets), rlimits,
//! noNewPrivileges, oomScoreAdj, signal state, terminal with --console-socket
//! (SCM_RIGHTS pty master) and consoleSize. Checked inside and from the host.

mod common;
use common::*;
use serde_json::json;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::time::Duration;

#[test]
fn args_env_cwd() {
    require_root!();
    let ctx = Ctx::new("pr-env");
    let mut b = ctx.bundle("");
    b.args(&[
        "sh",
        "-c",
        "pwd; echo \"FOO=$FOO\"; echo \"ARG0=$0 ARG1=$1\"",
        "zero",
        "one",
    ]);
    b.set(
        "/process/env",
        json!(["PATH=/bin:/usr/bin", "FOO=bar baz", "TERM=dumb"]),
    );
    // Missing cwd is created (before the root is made read-only).
    b.set("/process/cwd", json!("/work/deep/er"));
    let out = ctx.tong.output_of(&b, &ctx.id(""));
    assert_eq!(out, "/work/deep/er\nFOO=bar baz\nARG0=zero ARG1=one\n");
    assert!(
        b.rootfs().join("work/deep/er").is_dir(),
        "cwd was not created in the rootfs"
    );

    // The env is exactly the config's (plus HOME, which runc adds when missing).
    let mut b = ctx.bundle("env | sort");
    b.set("/process/env", json!(["PATH=/bin", "A=1"]));
    let out = ctx.tong.output_of(&b, &ctx.id("env"));
    let vars: Vec<&str> = out
        .lines()
        .filter(|l| !l.starts_with("HOME=") && !l.starts_with("PWD=") && !l.starts_with("SHLVL="))
        .collect();
    assert_eq!(vars, ["A=1", "PATH=/bin"], "{out}");
}

#[test]
fn args_lookup_errors() {
    require_root!();
    let ctx = Ctx::new("pr-lookup");
    // Found through the container's PATH, not the host's.
    let mut b = ctx.bundle("");
    b.args(&["busybox", "echo", "via-path"]);
    b.set("/process/env", json!(["PATH=/usr/local/bin:/bin"]));
    assert_eq!(ctx.tong.output_of(&b, &ctx.id("ok")), "via-path\n");

    std::fs::write(b.rootfs().join("bin/notexec"), "#!/bin/sh\necho no\n").unwrap();
    set_mode(&b.rootfs().join("bin/notexec"), 0o644);
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["no-such-binary"],
            &[
                "executable file not found in $PATH",
                "no such file or directory",
            ],
        ),
        (&["/bin/no-such-binary"], &["no such file or directory"]),
        (&["/bin/notexec"], &["permission denied"]),
        (
            &["notexec"],
            &["executable file not found in $PATH", "permission denied"],
        ),
    ];
    for (i, (args, words)) in cases.iter().enumerate() {
        let mut b = ctx.bundle("");
        std::fs::write(b.rootfs().join("bin/notexec"), "#!/bin/sh\necho no\n").unwrap();
        set_mode(&b.rootfs().join("bin/notexec"), 0o644);
        b.args(args);
        let id = ctx.id(&format!("bad{i}"));
        let o = ctx.tong.create(&b, &id, &[]).failure();
        let err = o.stderr.to_lowercase();
        assert!(
            words.iter().any(|w| err.contains(&w.to_lowercase())),
            "{args:?}: error {:?} lacks one of {words:?}",
            o.stderr
        );
        assert_eq!(
            o.stderr.trim().lines().count(),
            1,
            "error must be one line: {:?}",
            o.stderr
        );
        assert_clean_simple(&ctx.tong, &id, &b, &[]);
    }
}

#[test]
fn user_groups_umask() {
    require_root!();
    let ctx = Ctx::new("pr-user");
    let mut b = ctx
        .bundle("id -u; id -g; grep Groups /proc/self/status; umask; echo ready; exec sleep 1000");
    b.set(
        "/process/user",
        json!({"uid": 1000, "gid": 1001, "additionalGids": [10, 20], "umask": 0o027}),
    );
    let id = ctx.id("");
    let c = ctx.tong.create(&b, &id, &[]).success();
    ctx.tong.start(&id).success();
    wait_until("ready", Duration::from_secs(10), || {
        c.stdout_now().contains("ready")
    });
    let out = c.stdout_now();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1000");
    assert_eq!(lines[1], "1001");
    let groups: Vec<&str> = lines[2]
        .trim_start_matches("Groups:")
        .split_whitespace()
        .collect();
    assert_eq!(groups, ["10", "20"], "supplementary groups: {}", lines[2]);
    assert_eq!(lines[3], "0027");
    // Host view of the same process.
    let pid = ctx.tong.pid(&id);
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert_eq!(
        status_field(&st, "Uid")
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["1000"; 4]
    );
    assert_eq!(
        status_field(&st, "Gid")
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["1001"; 4]
    );
    assert_eq!(status_field(&st, "Umask").unwrap(), "0027");
    ctx.tong.delete_force(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[pid]);
}

fn caps_of(status: &str) -> Vec<(String, u64)> {
    ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
        .iter()
        .map(|k| {
            (
                k.to_string(),
                u64::from_str_radix(&status_field(status, k).unwrap(), 16).unwrap(),
            )
        })
        .collect()
}

#[test]
fn capabilities_default_root() {
    require_root!();
    let ctx = Ctx::new("pr-capdef");
    let b = ctx.bundle("cat /proc/self/status; echo ready; exec sleep 1000");
    let id = ctx.id("");
    let c = ctx.tong.create(&b, &id, &[]).success();
    ctx.tong.start(&id).success();
    wait_until("ready", Duration::from_secs(10), || {
        c.stdout_now().contains("ready")
    });
    // AUDIT_WRITE(29) KILL(5) NET_BIND_SERVICE(10). Ambient stays empty, as under
    // runc: the kernel refuses ambient caps that are not also inheritable.
    let want: u64 = (1 << 29) | (1 << 5) | (1 << 10);
    let inside = caps_of(&c.stdout_now());
    assert_eq!(
        inside,
        vec![
            ("CapInh".into(), 0),
            ("CapPrm".into(), want),
            ("CapEff".into(), want),
            ("CapBnd".into(), want),
            ("CapAmb".into(), 0)
        ]
    );
    let pid = ctx.tong.pid(&id);
    let host = caps_of(&std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap());
    assert_eq!(host, inside, "host view of the init's capabilities");
}

#[test]
fn capabilities_five_sets_non_root() {
    require_root!();
    let ctx = Ctx::new("pr-capset");
    let mut b = ctx.bundle("cat /proc/self/status");
    b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    b.set(
        "/process/capabilities",
        json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID"],
            "permitted": ["CAP_CHOWN", "CAP_KILL"],
            "effective": ["CAP_CHOWN", "CAP_KILL"],
            "inheritable": ["CAP_KILL"],
            "ambient": ["CAP_KILL"]
        }),
    );
    let out = ctx.tong.output_of(&b, &ctx.id(""));
    // After execve as uid 1000 (no file caps): permitted = effective = ambient.
    let (chown, kill, setuid) = (1u64 << 0, 1u64 << 5, 1u64 << 7);
    assert_eq!(
        caps_of(&out),
        vec![
            ("CapInh".into(), kill),
            ("CapPrm".into(), kill),
            ("CapEff".into(), kill),
            ("CapBnd".into(), chown | kill | setuid),
            ("CapAmb".into(), kill)
        ],
        "{out}"
    );
    // As root the bounding set limits what exec grants: no CAP_SYS_ADMIN anywhere.
    let mut b = ctx.bundle("cat /proc/self/status");
    b.set(
        "/process/capabilities",
        json!({"bounding": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"]}),
    );
    let caps = caps_of(&ctx.tong.output_of(&b, &ctx.id("root")));
    assert_eq!(caps[3].1, chown, "CapBnd");
    assert_eq!(caps[1].1, chown, "CapPrm");
    assert_eq!(caps[4].1, 0, "CapAmb");
}

#[test]
fn rlimits() {
    require_root!();
    let ctx = Ctx::new("pr-rlimit");
    let mut b = ctx.bundle("ulimit -n; cat /proc/self/limits");
    b.set(
        "/process/rlimits",
        json!([
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 2048},
            {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
            {"type": "RLIMIT_MSGQUEUE", "soft": 4096, "hard": 8192}
        ]),
    );
    let out = ctx.tong.output_of(&b, &ctx.id(""));
    assert_eq!(out.lines().next(), Some("512"));
    let limit = |name: &str| -> Vec<String> {
        let l = out
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing: {out}"));
        l[name.len()..]
            .split_whitespace()
            .take(2)
            .map(String::from)
            .collect()
    };
    assert_eq!(limit("Max open files"), ["512", "2048"]);
    assert_eq!(limit("Max processes"), ["300", "400"]);
    assert_eq!(limit("Max core file size"), ["0", "0"]);
    assert_eq!(limit("Max msgqueue size"), ["4096", "8192"]);
    // soft > hard is refused before anything is made.
    let mut b = ctx.bundle("true");
    b.set(
        "/process/rlimits",
        json!([{"type": "RLIMIT_NOFILE", "soft": 4096, "hard": 1024}]),
    );
    let id = ctx.id("bad");
    ctx.tong.create(&b, &id, &[]).failure();
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}

#[test]
fn no_new_privileges_and_oom_score_adj() {
    require_root!();
    let ctx = Ctx::new("pr-nnp");
    for (nnp, want) in [(true, "1"), (false, "0")] {
        let mut b = ctx.bundle("grep NoNewPrivs /proc/self/status");
        b.set("/process/noNewPrivileges", json!(nnp));
        let out = ctx.tong.output_of(&b, &ctx.id(&format!("{nnp}")));
        assert_eq!(
            out.split_whitespace().last(),
            Some(want),
            "noNewPrivileges={nnp}: {out}"
        );
    }
    // (Negative values need CAP_SYS_RESOURCE, which this VM's bounding set lacks.)
    for adj in [500i32, 1000] {
        let mut b = ctx.bundle("cat /proc/self/oom_score_adj; echo ready; exec sleep 1000");
        b.set("/process/oomScoreAdj", json!(adj));
        let id = ctx.id(&format!("oom{}", adj.abs()));
        let c = ctx.tong.create(&b, &id, &[]).success();
        let pid = ctx.tong.pid(&id);
        assert_eq!(
            std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj"))
                .unwrap()
                .trim(),
            adj.to_string(),
            "host view"
        );
        ctx.tong.start(&id).success();
        wait_until("ready", Duration::from_secs(10), || {
            c.stdout_now().contains("ready")
        });
        assert_eq!(c.stdout_now().lines().next().unwrap(), adj.to_string());
        ctx.tong.delete_force(&id).success();
    }
}

#[test]
fn signal_mask_and_dispositions_are_reset() {
    require_root!();
    let ctx = Ctx::new("pr-sigmask");
    // The container must start with no blocked signal, and ignore only what the
    // runtime's caller ignored (never SIGPIPE, which Rust programs ignore
    // themselves; std's Command restores it for the runtime's own exec).
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    let mut allowed = u64::from_str_radix(&status_field(&own, "SigIgn").unwrap(), 16).unwrap()
        & !(1u64 << (libc::SIGPIPE - 1));
    let b = ctx.bundle("grep -E '^Sig(Blk|Ign)' /proc/self/status");
    // The shell in the bundle ignores some signals itself (busybox sh: SIGQUIT
    // without a tty): whatever runc's container also ignores is not ours.
    if which_runc() {
        let out = ctx.runc.output_of(&b, &ctx.id("runc"));
        allowed |= u64::from_str_radix(&status_field(&out, "SigIgn").unwrap(), 16).unwrap();
    }
    let check = |what: &str, out: &str| {
        let blk = u64::from_str_radix(&status_field(out, "SigBlk").unwrap(), 16).unwrap();
        let ign = u64::from_str_radix(&status_field(out, "SigIgn").unwrap(), 16).unwrap();
        assert_eq!(blk, 0, "{what}: signals blocked in the container: {blk:#x}");
        assert_eq!(
            ign & !allowed,
            0,
            "{what}: signals ignored in the container that the caller did not ignore: {:#x}",
            ign & !allowed
        );
    };
    // Both paths: run in the foreground and create + start.
    check("run", &ctx.tong.output_of(&b, &ctx.id("run")));
    let id = ctx.id("create");
    let c = ctx.tong.create(&b, &id, &[]).success();
    ctx.tong.start(&id).success();
    ctx.tong.wait_stopped(&id);
    check("create+start", &c.stdout_now());
}

/// Accepts one connection on `path` and receives the fd sent with SCM_RIGHTS.
fn receive_master(listener: UnixListener) -> std::thread::JoinHandle<OwnedFd> {
    std::thread::spawn(move || {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        let (conn, _) = listener.accept().expect("accept console socket");
        let mut buf = [0u8; 4096];
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let msg = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::empty(),
        )
        .expect("recvmsg");
        for c in msg.cmsgs().unwrap() {
            if let ControlMessageOwned::ScmRights(fds) = c {
                // SAFETY: the fd was just received and is ours.
                return unsafe { OwnedFd::from_raw_fd(fds[0]) };
            }
        }
        panic!("no SCM_RIGHTS fd received on the console socket");
    })
}

/// Reads from the pty master until EOF/EIO (the slave closed) or timeout.
fn read_master(master: OwnedFd, timeout: Duration) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut f = std::fs::File::from(master);
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match f.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        let _ = tx.send(String::from_utf8_lossy(&out).to_string());
    });
    rx.recv_timeout(timeout).expect("pty output")
}

#[test]
fn terminal_console_socket_and_size() {
    require_root!();
    let ctx = Ctx::new("pr-tty");
    let mut b = ctx.bundle("tty; stty size; ls -l /proc/self/fd/0 | sed 's/.*-> //'; grep ' /dev/console ' /proc/self/mountinfo | cut -d' ' -f4,5,9; echo done");
    b.set("/process/terminal", json!(true));
    b.set("/process/consoleSize", json!({"height": 40, "width": 100}));
    let sock = ctx.work.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let rx = receive_master(listener);
    let id = ctx.id("");
    ctx.tong
        .create(&b, &id, &["--console-socket", sock.to_str().unwrap()])
        .success();
    let master = rx.join().expect("console socket receiver");
    // The fd is a pty master: ptsname works on it.
    let st = std::fs::read_link(format!("/proc/self/fd/{}", master.as_raw_fd())).unwrap();
    assert!(
        st.to_string_lossy().contains("ptmx"),
        "received fd is {st:?}, not a pty master"
    );
    ctx.tong.start(&id).success();
    let out = read_master(master, Duration::from_secs(15)).replace('\r', "");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 4, "tty output {out:?}");
    assert!(
        lines[0].starts_with("/dev/pts/") || lines[0] == "/dev/console",
        "tty: {out:?}"
    );
    assert_eq!(lines[1], "40 100", "consoleSize: {out:?}");
    assert!(
        lines[2].starts_with("/dev/pts/"),
        "stdin is the pty slave: {out:?}"
    );
    // As runc: the pty slave is bind-mounted on /dev/console.
    let n = lines[0].trim_start_matches("/dev/pts/");
    assert_eq!(
        lines[3],
        format!("/{n} /dev/console devpts"),
        "/dev/console: {out:?}"
    );
    ctx.tong.wait_stopped(&id);
    ctx.tong.delete(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}

/// The pty is the process's user's (runc's rule; tty group and mode kept),
/// for the init and for an exec'd process; the /dev/console bind shows it.
#[test]
fn terminal_belongs_to_the_process_user() {
    require_root!();
    let ctx = Ctx::new("pr-ttyown");
    let probe = "stat -c '%u %g %a' $(tty) /dev/console; echo done";
    let mut b = ctx.bundle(&format!("{probe}; sleep 30"));
    b.set("/process/terminal", json!(true));
    b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    let sock = ctx.work.join("console.sock");
    let rx = receive_master(UnixListener::bind(&sock).unwrap());
    let id = ctx.id("");
    ctx.tong
        .create(&b, &id, &["--console-socket", sock.to_str().unwrap()])
        .success();
    let master = rx.join().expect("console socket receiver");
    ctx.tong.start(&id).success();
    let out = read_pty_until(master, "done", Duration::from_secs(15)).replace('\r', "");
    assert!(
        out.starts_with("1000 5 620\n1000 5 620\n"),
        "init's pty: {out:?}"
    );
    // exec -t as another user gets a pty of its own, theirs.
    let recv = ConsoleReceiver::bind(&ctx.work.join("exec.sock"));
    ctx.tong
        .cmd(&[
            "exec",
            "-t",
            "-d",
            "--user",
            "1234:1234",
            "--console-socket",
            recv.path.to_str().unwrap(),
            &id,
            "sh",
            "-c",
            probe,
        ])
        .success();
    let out = read_pty_until(
        recv.recv(Duration::from_secs(10)),
        "done",
        Duration::from_secs(15),
    )
    .replace('\r', "");
    assert!(out.starts_with("1234 5 620\n"), "exec's pty: {out:?}");
    ctx.tong.cmd(&["delete", "-f", &id]).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}

#[test]
fn terminal_without_console_socket_fails_cleanly() {
    require_root!();
    let ctx = Ctx::new("pr-nosock");
    let mut b = ctx.bundle("true");
    b.set("/process/terminal", json!(true));
    let id = ctx.id("");
    let o = ctx.tong.create(&b, &id, &[]).failure();
    assert!(
        o.stderr.contains("console socket") || o.stderr.contains("console-socket"),
        "{o:?}"
    );
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
    // A console socket path nobody listens on.
    let id2 = ctx.id("2");
    let missing = ctx.work.join("nobody.sock");
    ctx.tong
        .create(&b, &id2, &["--console-socket", missing.to_str().unwrap()])
        .failure();
    assert_clean_simple(&ctx.tong, &id2, &b, &[]);
}

#[test]
fn run_foreground_with_terminal_relays_output() {
    require_root!();
    let ctx = Ctx::new("pr-ttyrun");
    let mut b = ctx.bundle("tty; echo relayed; exit 5");
    b.set("/process/terminal", json!(true));
    let id = ctx.id("");
    let o = ctx.tong.run(&b, &id, &[]);
    assert_eq!(o.code, 5, "{o:?}");
    let out = o.stdout.replace('\r', "");
    assert!(
        out.contains("/dev/pts/") || out.contains("/dev/console"),
        "{out:?}"
    );
    assert!(out.contains("relayed"), "{out:?}");
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}

fn which_runc() -> bool {
    std::process::Command::new("runc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}
