//! The container lifecycle through every command and flag: create (--pid-file,
//! --preserve-fds, --no-new-keyring), start, run (foreground, -d, --keep, exit
//! codes, signal forwarding), state, kill (signal forms, --all), delete
//! (--force), list, and what each leaves behind.

mod common;
use common::*;
use serde_json::json;
use std::time::Duration;

#[test]
fn create_start_kill_delete() {
    require_root!();
    let ctx = Ctx::new("lc-basic");
    let id = ctx.id("");
    let b = ctx.bundle("echo started; exec sleep 1000");
    let pidfile = ctx.work.join("init.pid");
    let c = ctx
        .tong
        .create(&b, &id, &["--pid-file", pidfile.to_str().unwrap()])
        .success();

    let st = ctx.tong.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], id.as_str());
    let pid = st["pid"].as_i64().unwrap() as i32;
    assert!(pid > 0 && alive(pid), "created init {pid} must be alive");
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap().trim(),
        pid.to_string(),
        "pid file"
    );
    // Host side: the init is in the container's default cgroup "/<id>".
    let procs = std::fs::read_to_string(cgroup_dir("pids", &format!("/{id}")).join("cgroup.procs"))
        .unwrap();
    assert!(
        procs.lines().any(|l| l == pid.to_string()),
        "init {pid} not in pids cgroup: {procs}"
    );
    // The user process has not run yet.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(c.stdout_now(), "", "process ran before start");

    ctx.tong.start(&id).success();
    assert_eq!(ctx.tong.status(&id), "running");
    wait_until("container output", Duration::from_secs(10), || {
        c.stdout_now().contains("started")
    });
    assert_eq!(ctx.tong.pid(&id), pid, "pid is the same after start");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&cmdline),
        "sleep\u{0}1000\u{0}",
        "init exec'd the user process"
    );

    ctx.tong.kill(&id, "KILL").success();
    ctx.tong.wait_stopped(&id);
    let st = ctx.tong.state(&id);
    assert_eq!(st["pid"], 0, "stopped container reports pid 0");
    assert!(!alive(pid));

    ctx.tong.delete(&id).success();
    assert_ne!(
        ctx.tong.cmd(&["state", &id]).code,
        0,
        "state after delete must fail"
    );
    assert_clean_simple(&ctx.tong, &id, &b, &[pid]);
}

#[test]
fn run_foreground_exit_code_and_cleanup() {
    require_root!();
    let ctx = Ctx::new("lc-runfg");
    let id = ctx.id("");
    let b = ctx.bundle("echo out-line; echo err-line >&2; exit 7");
    let o = ctx.tong.run(&b, &id, &[]);
    assert_eq!(o.code, 7, "exit code of the container: {o:?}");
    assert_eq!(o.stdout, "out-line\n");
    assert!(o.stderr.contains("err-line"), "{o:?}");
    // run without --keep deletes the container.
    assert_ne!(ctx.tong.cmd(&["state", &id]).code, 0);
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}

#[test]
fn run_foreground_killed_by_signal_is_128_plus_n() {
    require_root!();
    let ctx = Ctx::new("lc-runsig");
    let id = ctx.id("");
    // pid 1 cannot be killed by itself with a default action; a child can.
    let b = ctx.bundle("sh -c 'kill -9 $$'; exit $?");
    let o = ctx.tong.run(&b, &id, &[]);
    assert_eq!(o.code, 137, "{o:?}");
    let b2 = ctx.bundle("exec sleep 1000");
    let id2 = ctx.id("2");
    let (mut child, _, _) = spawn_run(&ctx.tong, &b2, &id2, &[]);
    wait_until("running", Duration::from_secs(10), || {
        ctx.tong.cmd(&["state", &id2]).stdout.contains("running")
    });
    let pid = ctx.tong.pid(&id2);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let s = wait_timeout(&mut child, Duration::from_secs(20), "tong run");
    assert_eq!(
        s.code(),
        Some(137),
        "run exit status after SIGKILL of init: {s:?}"
    );
    assert_clean_simple(&ctx.tong, &id2, &b2, &[pid]);
}

#[test]
fn run_forwards_signals() {
    require_root!();
    let ctx = Ctx::new("lc-fwd");
    let id = ctx.id("");
    let b = ctx.bundle("trap 'echo got-term; exit 42' TERM; trap 'echo got-usr1' USR1; echo ready; while :; do sleep 0.05; done");
    let (mut child, out, _err) = spawn_run(&ctx.tong, &b, &id, &[]);
    wait_until("ready", Duration::from_secs(10), || {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("ready")
    });
    let tpid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(tpid, nix::sys::signal::Signal::SIGUSR1).unwrap();
    wait_until("got-usr1", Duration::from_secs(10), || {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("got-usr1")
    });
    nix::sys::signal::kill(tpid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let s = wait_timeout(&mut child, Duration::from_secs(20), "tong run");
    assert_eq!(s.code(), Some(42), "exit code after forwarded TERM");
    assert!(std::fs::read_to_string(&out).unwrap().contains("got-term"));
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}

#[test]
fn run_keep_and_detach() {
    require_root!();
    let ctx = Ctx::new("lc-keep");
    let id = ctx.id("keep");
    let b = ctx.bundle("exit 3");
    let o = ctx.tong.run(&b, &id, &["--keep"]);
    assert_eq!(o.code, 3);
    let st = ctx.tong.state(&id);
    assert_eq!(st["status"], "stopped", "--keep keeps a stopped container");
    assert_eq!(st["pid"], 0);
    assert!(
        cgroup_dir("pids", &format!("/{id}")).exists(),
        "--keep keeps the cgroup"
    );
    ctx.tong.delete(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[]);

    let id2 = ctx.id("detach");
    let b2 = ctx.bundle("echo detached-out; exec sleep 1000");
    let t0 = std::time::Instant::now();
    let pidfile = ctx.work.join("run.pid");
    let o = ctx
        .tong
        .run(&b2, &id2, &["-d", "--pid-file", pidfile.to_str().unwrap()])
        .success();
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert_eq!(ctx.tong.status(&id2), "running");
    let pid = ctx.tong.pid(&id2);
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap(),
        pid.to_string(),
        "run -d --pid-file"
    );
    wait_until("detached output", Duration::from_secs(10), || {
        o.stdout_now().contains("detached-out")
    });
    ctx.tong.delete_force(&id2).success();
    assert_clean_simple(&ctx.tong, &id2, &b2, &[pid]);
}

#[test]
fn kill_signal_forms() {
    require_root!();
    let ctx = Ctx::new("lc-killforms");
    let id = ctx.id("");
    let b = ctx.bundle(
        "for s in TERM USR1 USR2 HUP INT; do trap \"echo got-$s\" $s; done; echo ready; while :; do sleep 0.05; done",
    );
    let c = ctx.tong.create(&b, &id, &[]).success();
    ctx.tong.start(&id).success();
    wait_until("ready", Duration::from_secs(10), || {
        c.stdout_now().contains("ready")
    });
    // Default is TERM; then name with/without SIG, and numbers.
    let cases: &[(&[&str], &str)] = &[
        (&[], "got-TERM"),
        (&["SIGUSR1"], "got-USR1"),
        (&["USR2"], "got-USR2"),
        (&["1"], "got-HUP"),
        (&["2"], "got-INT"),
    ];
    for (sig, want) in cases {
        let mut args = vec!["kill", id.as_str()];
        args.extend_from_slice(sig);
        ctx.tong.cmd(&args).success();
        wait_until(want, Duration::from_secs(10), || {
            c.stdout_now().contains(want)
        });
    }
    // A bad signal is refused and the container keeps running.
    ctx.tong.cmd(&["kill", &id, "SIGNOPE"]).failure();
    ctx.tong.cmd(&["kill", &id, "999"]).failure();
    assert_eq!(ctx.tong.status(&id), "running");
    ctx.tong.kill(&id, "9").success();
    ctx.tong.wait_stopped(&id);
    // Stopped: plain kill fails, kill --all succeeds.
    let k = ctx.tong.kill(&id, "KILL");
    assert_eq!(k.code, 1, "kill of a stopped container: {k:?}");
    assert!(k.stderr.contains("container not running"), "{k:?}");
    ctx.tong.cmd(&["kill", "--all", &id, "9"]).success();
    ctx.tong.delete(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}

/// A created container's init dies of TERM/INT/HUP (runc's Go init does, and
/// `kill` defaults to TERM) and shrugs off USR1; once started, the user
/// process gets default signal actions back.
#[test]
fn kill_created_container() {
    require_root!();
    let ctx = Ctx::new("lc-killcreated");
    for (sig, dies) in [("", true), ("INT", true), ("HUP", true), ("USR1", false)] {
        let id = ctx.id(if sig.is_empty() { "term" } else { sig });
        let b = ctx.bundle("echo started; exec sleep 600");
        let c = ctx.tong.create(&b, &id, &[]).success();
        let pid = ctx.tong.pid(&id);
        let mut args = vec!["kill", id.as_str()];
        if !sig.is_empty() {
            args.push(sig);
        }
        ctx.tong.cmd(&args).success();
        if dies {
            ctx.tong.wait_stopped(&id);
        } else {
            std::thread::sleep(Duration::from_millis(300));
            assert_eq!(ctx.tong.status(&id), "created", "{sig} stopped the init");
            ctx.tong.start(&id).success();
            wait_until("started", Duration::from_secs(10), || {
                c.stdout_now().contains("started")
            });
            // The SIG_IGN of the wait must not reach the container's process.
            let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
            let ign = st.lines().find(|l| l.starts_with("SigIgn:")).unwrap();
            assert!(
                ign.ends_with("0000000000000000"),
                "pid 1 ignores signals: {ign}"
            );
            ctx.tong.kill(&id, "KILL").success();
            ctx.tong.wait_stopped(&id);
        }
        ctx.tong.delete(&id).success();
        assert_clean_simple(&ctx.tong, &id, &b, &[pid]);
    }
}

#[test]
fn kill_all_reaches_every_process() {
    require_root!();
    let ctx = Ctx::new("lc-killall");
    let id = ctx.id("");
    let b = ctx.bundle("sleep 1000 & sleep 1001 & echo ready; wait");
    let c = ctx.tong.create(&b, &id, &[]).success();
    ctx.tong.start(&id).success();
    wait_until("ready", Duration::from_secs(10), || {
        c.stdout_now().contains("ready")
    });
    let procs_file = cgroup_dir("pids", &format!("/{id}")).join("cgroup.procs");
    let mut pids: Vec<i32> = Vec::new();
    wait_until("3 processes", Duration::from_secs(10), || {
        pids = std::fs::read_to_string(&procs_file)
            .unwrap()
            .lines()
            .map(|l| l.parse().unwrap())
            .collect();
        pids.len() == 3
    });
    ctx.tong.cmd(&["kill", "--all", &id, "KILL"]).success();
    ctx.tong.wait_stopped(&id);
    wait_until("all processes gone", Duration::from_secs(10), || {
        pids.iter().all(|p| !alive(*p))
    });
    ctx.tong.delete(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &pids);
}

#[test]
fn delete_running_needs_force_and_created_is_deletable() {
    require_root!();
    let ctx = Ctx::new("lc-delete");
    let id = ctx.id("run");
    let b = ctx.bundle("exec sleep 1000");
    ctx.tong.run_detached(&b, &id).success();
    let pid = ctx.tong.pid(&id);
    let d = ctx.tong.delete(&id);
    assert_ne!(
        d.code, 0,
        "delete of running container without --force must fail"
    );
    assert_eq!(
        ctx.tong.status(&id),
        "running",
        "container survives a refused delete"
    );
    assert!(alive(pid));
    ctx.tong.delete_force(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[pid]);

    // A created (never started) container is deleted without --force, as runc.
    let id2 = ctx.id("created");
    let b2 = ctx.bundle("exec sleep 1000");
    ctx.tong.create(&b2, &id2, &[]).success();
    let pid2 = ctx.tong.pid(&id2);
    ctx.tong.delete(&id2).success();
    assert_clean_simple(&ctx.tong, &id2, &b2, &[pid2]);

    // --force of a missing id succeeds; without --force it fails.
    assert_eq!(ctx.tong.delete_force("t-lc-never-existed").code, 0);
    let d = ctx.tong.delete("t-lc-never-existed");
    assert_eq!(d.code, 1);
    assert!(d.stderr.contains("does not exist"), "{d:?}");
}

#[test]
fn start_twice_and_duplicate_id_fail() {
    require_root!();
    let ctx = Ctx::new("lc-twice");
    let id = ctx.id("");
    let b = ctx.bundle("exec sleep 1000");
    ctx.tong.create(&b, &id, &[]).success();
    let pid = ctx.tong.pid(&id);
    // The same id again fails and leaves the first container alone.
    let b2 = ctx.bundle("exec sleep 1000");
    let dup = ctx.tong.create(&b2, &id, &[]);
    assert_ne!(dup.code, 0, "duplicate id accepted");
    assert!(dup.stderr.contains("exists"), "{dup:?}");
    assert_eq!(ctx.tong.status(&id), "created");
    assert_eq!(ctx.tong.pid(&id), pid);
    ctx.tong.start(&id).success();
    let again = ctx.tong.start(&id);
    assert_ne!(again.code, 0, "second start accepted");
    assert_eq!(ctx.tong.status(&id), "running");
    ctx.tong.delete_force(&id).success();
    // start of a stopped container fails too.
    let id2 = ctx.id("stopped");
    let b3 = ctx.bundle("true");
    ctx.tong.run(&b3, &id2, &["--keep"]).success();
    assert_ne!(ctx.tong.start(&id2).code, 0);
    ctx.tong.delete(&id2).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[pid]);
}

#[test]
fn state_and_list_formats() {
    require_root!();
    let ctx = Ctx::new("lc-list");
    assert_eq!(
        ctx.tong
            .cmd(&["list", "--format", "json"])
            .success()
            .stdout
            .trim(),
        "null"
    );
    let a = ctx.id("a");
    let bb = ctx.id("b");
    let mut b = ctx.bundle("exec sleep 1000");
    b.set("/annotations", json!({"org.test.k": "v1"}));
    ctx.tong.create(&b, &a, &[]).success();
    ctx.tong.create(&b, &bb, &[]).success();
    ctx.tong.start(&bb).success();

    let st = ctx.tong.state(&a);
    let keys: Vec<&String> = st.as_object().unwrap().keys().collect();
    for k in [
        "ociVersion",
        "id",
        "pid",
        "status",
        "bundle",
        "rootfs",
        "created",
        "owner",
        "annotations",
    ] {
        assert!(st.get(k).is_some(), "state lacks {k}: {st}");
    }
    assert_eq!(keys.len(), 9, "unexpected state keys: {keys:?}");
    assert_eq!(st["bundle"], b.dir.to_str().unwrap());
    assert_eq!(st["rootfs"], b.rootfs().to_str().unwrap());
    assert_eq!(st["annotations"]["org.test.k"], "v1");
    assert_eq!(st["ociVersion"], "1.2.0");
    let created = st["created"].as_str().unwrap();
    assert!(
        created.len() >= 20 && created.ends_with('Z') && created.as_bytes()[10] == b'T',
        "created {created}"
    );

    let list = ctx.tong.list_json();
    let arr = list.as_array().expect("list json is an array");
    assert_eq!(arr.len(), 2);
    assert_eq!(arr[0]["id"], a.as_str());
    assert_eq!(arr[0]["status"], "created");
    assert_eq!(arr[1]["id"], bb.as_str());
    assert_eq!(arr[1]["status"], "running");
    for e in arr {
        for k in [
            "ociVersion",
            "id",
            "pid",
            "status",
            "bundle",
            "rootfs",
            "created",
            "owner",
        ] {
            assert!(e.get(k).is_some(), "list entry lacks {k}: {e}");
        }
        assert_eq!(e["owner"], "root");
        assert!(e["pid"].as_i64().unwrap() > 0);
    }
    let q = ctx.tong.cmd(&["list", "-q"]).success();
    assert_eq!(q.stdout, format!("{a}\n{bb}\n"));
    let t = ctx.tong.cmd(&["list"]).success();
    let mut lines = t.stdout.lines();
    let header = lines.next().unwrap();
    for h in ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"] {
        assert!(header.contains(h), "table header {header}");
    }
    let cols: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        cols,
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
        "table header {header:?}"
    );
    assert!(
        header.starts_with(&format!("ID{}PID", " ".repeat(a.len() + 3 - 2))),
        "tabwriter layout (width = longest + 3): {header:?}"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2);
    assert!(rows[0].starts_with(&a) && rows[0].contains("created") && rows[0].ends_with("root"));
    assert!(rows[1].starts_with(&bb) && rows[1].contains("running"));
    // `ls` alias
    assert_eq!(ctx.tong.cmd(&["ls", "-q"]).success().stdout, q.stdout);
}

#[test]
fn preserve_fds_and_no_fd_leaks() {
    require_root!();
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let ctx = Ctx::new("lc-fds");
    let f3 = ctx.work.join("fd3.txt");
    let f4 = ctx.work.join("fd4.txt");
    std::fs::write(&f3, "from-fd-3\n").unwrap();
    std::fs::write(&f4, "from-fd-4\n").unwrap();
    for (preserve, want) in [
        (None, vec!["0", "1", "2"]),
        (Some("1"), vec!["0", "1", "2", "3"]),
        (Some("2"), vec!["0", "1", "2", "3", "4"]),
    ] {
        // The user process is `sleep` itself: its fds, seen from the host after
        // start, are exactly what the runtime handed over.
        let mut b = ctx.bundle("");
        b.args(&["sleep", "1000"]);
        b.save();
        let id = ctx.id(&format!("p{}", preserve.unwrap_or("0")));
        ctx.tong.track(&id);
        let mut c = ctx.tong.command();
        c.arg("create").arg("--bundle").arg(&b.dir);
        if let Some(n) = preserve {
            c.args(["--preserve-fds", n]);
        }
        c.arg(&id);
        let a = std::fs::File::open(&f3).unwrap();
        let bfd = std::fs::File::open(&f4).unwrap();
        let (ra, rb) = (a.as_raw_fd(), bfd.as_raw_fd());
        // SAFETY: only async-signal-safe dup2 calls in the child.
        unsafe {
            c.pre_exec(move || {
                // Via fds >= 100, so that dup2 never meets ra/rb already at 3 or 4
                // (a no-op dup2 would keep O_CLOEXEC).
                let x = libc::fcntl(ra, libc::F_DUPFD, 100);
                let y = libc::fcntl(rb, libc::F_DUPFD, 100);
                if x < 0 || y < 0 || libc::dup2(x, 3) < 0 || libc::dup2(y, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(x);
                libc::close(y);
                Ok(())
            });
        }
        ctx.tong.exec(c, "create preserve-fds").success();
        drop((a, bfd));
        ctx.tong.start(&id).success();
        let pid = ctx.tong.pid(&id);
        wait_until("sleep exec'd", Duration::from_secs(10), || {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"sleep"))
        });
        let mut fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        fds.sort();
        assert_eq!(
            fds, want,
            "fds of the container process with --preserve-fds {preserve:?}"
        );
        if preserve.is_some() {
            assert_eq!(
                std::fs::read_link(format!("/proc/{pid}/fd/3")).unwrap(),
                f3,
                "fd 3 is the caller's fd 3"
            );
        }
        ctx.tong.delete_force(&id).success();
        assert_clean_simple(&ctx.tong, &id, &b, &[pid]);
    }
}

/// A closed fd inside 3..3+N stays closed: tong's own fds (its --log file,
/// its copy of stderr) are held above the ones `--preserve-fds N` hands on,
/// so none of them lands in the container in the gap.
#[test]
fn preserve_fds_gap_stays_closed() {
    require_root!();
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let ctx = Ctx::new("lc-fdgap");
    let f3 = ctx.work.join("fd3.txt");
    std::fs::write(&f3, "from-fd-3\n").unwrap();
    for with_log in [false, true] {
        let mut b = ctx.bundle("");
        b.args(&["sleep", "1000"]);
        b.save();
        let id = ctx.id(if with_log { "log" } else { "nolog" });
        ctx.tong.track(&id);
        let log = ctx.work.join(format!("{id}.log"));
        let mut c = ctx.tong.command();
        if with_log {
            c.arg("--log").arg(&log);
        }
        c.args(["create", "--preserve-fds", "3", "--bundle"])
            .arg(&b.dir)
            .arg(&id);
        let a = std::fs::File::open(&f3).unwrap();
        let ra = a.as_raw_fd();
        // SAFETY: only async-signal-safe fcntl/dup2/close calls in the child.
        unsafe {
            c.pre_exec(move || {
                let x = libc::fcntl(ra, libc::F_DUPFD, 100);
                if x < 0 || libc::dup2(x, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(x);
                libc::close(4);
                libc::close(5);
                Ok(())
            });
        }
        ctx.tong
            .exec(c, "create with a gap in --preserve-fds")
            .success();
        drop(a);
        ctx.tong.start(&id).success();
        let pid = ctx.tong.pid(&id);
        wait_until("sleep exec'd", Duration::from_secs(10), || {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"sleep"))
        });
        let mut fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        fds.sort();
        assert_eq!(
            fds,
            ["0", "1", "2", "3"],
            "fds 4 and 5 were closed in the caller (with --log: {with_log})"
        );
        ctx.tong.delete_force(&id).success();
        assert_clean_simple(&ctx.tong, &id, &b, &[pid]);
    }
}

#[test]
fn no_new_keyring_flag() {
    require_root!();
    let ctx = Ctx::new("lc-keyring");
    // A new session keyring is named `_ses.<id>` (as runc names it);
    // /proc/keys is masked by default, so unmask it here.
    let mut b = ctx.bundle("cat /proc/keys");
    b.edit(|c| {
        c["linux"]["maskedPaths"]
            .as_array_mut()
            .unwrap()
            .retain(|p| p != "/proc/keys")
    });
    let with_id = ctx.id("with");
    let with = ctx.tong.run(&b, &with_id, &[]).success();
    assert!(
        with.stdout.contains(&format!("_ses.{with_id}")),
        "no session keyring named {with_id}: {with:?}"
    );
    let without_id = ctx.id("without");
    let without = ctx
        .tong
        .run(&b, &without_id, &["--no-new-keyring"])
        .success();
    assert!(
        !without.stdout.contains(&without_id),
        "--no-new-keyring still made a keyring: {without:?}"
    );
}
