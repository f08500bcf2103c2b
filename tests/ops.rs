//! Operations on live containers: exec (every flag, --process, into created,
//! user-namespace and paused containers, tty through a console socket,
//! preserved fds, sub-cgroups, detach + reparenting), ps, pause/resume, kill
//! --all, events (stats and OOM) and features. Checked inside the container and
//! on the host (cgroup files, /proc), with runc as the oracle for output shapes,
//! exit codes and error cases.

mod common;

use common::*;
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::{Duration, Instant};

const BOTH: [Kind; 2] = [Kind::Tong, Kind::Runc];

/// A running container (`exec sleep 1000` after `pre`) with cgroupsPath
/// "/<id>"; returns (id, cgroupsPath, init pid).
fn running(
    ctx: &Ctx,
    k: Kind,
    suffix: &str,
    edit: impl FnOnce(&mut Bundle),
) -> (String, String, i32) {
    let rt = ctx.rt(k);
    let id = ctx.id(&format!(
        "{suffix}-{}",
        if k == Kind::Tong { "t" } else { "r" }
    ));
    let cg = format!("/{id}");
    let mut b = ctx.bundle("exec sleep 1000");
    b.set("/linux/cgroupsPath", json!(cg));
    b.set("/root/readonly", json!(false));
    edit(&mut b);
    rt.run_detached(&b, &id).success();
    let pid = rt.pid(&id);
    wait_until("init exec'd sleep", Duration::from_secs(10), || {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"sleep"))
    });
    (id, cg, pid)
}

/// The freezer's state as v1 words: v2's cgroup.freeze 1 reads "FROZEN".
fn frozen_setting(cg: &str) -> Option<String> {
    let v = tong_testkit::cgroups::setting(cg, "cgroup.freeze", "freezer.state")?;
    Some(match v.as_str() {
        "1" => "FROZEN".into(),
        "0" => "THAWED".into(),
        _ => v,
    })
}

fn exec(rt: &Runtime, args: &[&str]) -> Out {
    let mut v = vec!["exec"];
    v.extend_from_slice(args);
    rt.cmd(&v)
}

// ---------------------------------------------------------------------------
// exec

#[test]
fn exec_flags_inside_and_on_host() {
    require_root!();
    let ctx = Ctx::new("ops-exec-flags");
    let (id, cg, init) = running(&ctx, Kind::Tong, "a", |b| {
        b.set("/process/noNewPrivileges", json!(false));
    });
    let t = &ctx.tong;
    // cwd, env, user, additional gids: inside.
    let o = exec(
        t,
        &[
            "--cwd", "/tmp", "--env", "FOO=bar", "-e", "BAZ=q u x", "--user", "65534:65534",
            "--additional-gids", "5", "-g", "7", &id, "sh", "-c",
            "pwd; echo \"$FOO|$BAZ\"; id -u; id -g; id -G; grep -E '^(NoNewPrivs|CapEff)' /proc/self/status",
        ],
    )
    .success();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], "/tmp", "{}", o.stdout);
    assert_eq!(lines[1], "bar|q u x", "{}", o.stdout);
    assert_eq!(lines[2], "65534");
    assert_eq!(lines[3], "65534");
    let mut groups: Vec<&str> = lines[4].split_whitespace().collect();
    groups.sort();
    assert_eq!(groups, vec!["5", "65534", "7"], "id -G: {}", lines[4]);
    assert_eq!(status_field(&o.stdout, "NoNewPrivs").as_deref(), Some("0"));

    // --no-new-privs, --cap (added to the bounding/effective/permitted sets).
    let o = exec(
        t,
        &[
            "--no-new-privs",
            "--cap",
            "CAP_SYS_ADMIN",
            &id,
            "cat",
            "/proc/self/status",
        ],
    )
    .success();
    assert_eq!(status_field(&o.stdout, "NoNewPrivs").as_deref(), Some("1"));
    let eff = u64::from_str_radix(&status_field(&o.stdout, "CapEff").unwrap(), 16).unwrap();
    assert!(
        eff & (1 << 21) != 0,
        "CAP_SYS_ADMIN (21) not effective: {eff:x}"
    );
    let o = exec(t, &[&id, "cat", "/proc/self/status"]).success();
    let eff = u64::from_str_radix(&status_field(&o.stdout, "CapEff").unwrap(), 16).unwrap();
    assert!(
        eff & (1 << 21) == 0,
        "CAP_SYS_ADMIN effective without --cap: {eff:x}"
    );

    // --apparmor / --process-label where the LSM is off are refused as runc
    // refuses them; an empty label asks for nothing.
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y");
    let o = exec(t, &["--apparmor", "unconfined", &id, "true"]);
    if apparmor {
        assert_eq!(o.code, 0, "--apparmor unconfined: {}", o.stderr);
    } else {
        assert_ne!(o.code, 0, "--apparmor without AppArmor ran");
        assert!(
            o.stderr.contains("apparmor failed to apply profile"),
            "{}",
            o.stderr
        );
    }
    let o = exec(t, &["--process-label", "", &id, "true"]);
    assert_eq!(o.code, 0, "--process-label '': {}", o.stderr);
    if !std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        let o = exec(
            t,
            &["--process-label", "system_u:system_r:x_t:s0", &id, "true"],
        );
        assert_ne!(o.code, 0, "a SELinux label without SELinux ran");
        assert!(
            o.stderr
                .contains("selinux label is specified in config, but selinux is disabled"),
            "{}",
            o.stderr
        );
    }

    // Exit status of the process is exec's.
    assert_eq!(exec(t, &[&id, "sh", "-c", "exit 7"]).code, 7);

    // On the host: same namespaces and cgroup as the init.
    let pf = ctx.work.join("exec.pid");
    exec(
        t,
        &[
            "-d",
            "--pid-file",
            pf.to_str().unwrap(),
            &id,
            "sleep",
            "1000",
        ],
    )
    .success();
    let pid = read_pid_file(&pf);
    for ns in ["pid", "mnt", "net", "ipc", "uts"] {
        assert_eq!(
            ns_link(&pid.to_string(), ns),
            ns_link(&init.to_string(), ns),
            "exec'd process not in the container's {ns} namespace"
        );
    }
    for ctrl in ["memory", "pids", "cpu", "devices", "freezer"] {
        if !cgroup_dir(ctrl, &cg).exists() {
            continue;
        }
        assert!(
            cg_procs(ctrl, &cg).contains(&pid),
            "exec'd pid {pid} not in {ctrl}{cg}"
        );
    }
}

#[test]
fn exec_error_cases_vs_runc() {
    require_root!();
    require_runc!();
    let ctx = Ctx::new("ops-exec-err");
    let mut res = vec![];
    for k in BOTH {
        let rt = ctx.rt(k);
        let (id, _, _) = running(&ctx, k, "e", |_| {});
        let missing = exec(rt, &[&id, "/nonexistent-binary"]);
        let unknown = exec(rt, &[&format!("{id}-nope"), "true"]);
        rt.kill(&id, "KILL").success();
        rt.wait_stopped(&id);
        let stopped = exec(rt, &[&id, "true"]);
        res.push((k, missing, unknown, stopped));
    }
    for (k, missing, unknown, stopped) in &res {
        assert_ne!(missing.code, 0, "{k:?}: exec of a missing binary succeeded");
        assert!(
            missing.stderr.contains("no such file or directory")
                || missing.stderr.contains("executable file not found"),
            "{k:?}: missing binary error: {}",
            missing.stderr
        );
        assert_ne!(unknown.code, 0, "{k:?}: exec into an unknown id succeeded");
        assert!(
            unknown.stderr.contains("does not exist"),
            "{k:?}: {}",
            unknown.stderr
        );
        assert_ne!(
            stopped.code, 0,
            "{k:?}: exec into a stopped container succeeded"
        );
    }
    // runc exits 255 when exec itself fails (so that a caller can tell that
    // from the process's own exit status); tong must do the same.
    for (i, what) in ["missing binary", "unknown id", "stopped container"]
        .iter()
        .enumerate()
    {
        let code = |r: &(Kind, Out, Out, Out)| [r.1.code, r.2.code, r.3.code][i];
        assert_eq!(
            code(&res[0]),
            code(&res[1]),
            "exit code of exec into a {what}: tong {} vs runc {} (tong stderr: {})",
            code(&res[0]),
            code(&res[1]),
            [&res[0].1, &res[0].2, &res[0].3][i].stderr
        );
    }
}

#[test]
fn exec_process_file_podman_style_vs_runc() {
    require_root!();
    require_runc!();
    let ctx = Ctx::new("ops-exec-procfile");
    let caps = json!(["CAP_KILL", "CAP_NET_RAW", "CAP_CHOWN"]);
    let process = json!({
        "terminal": false,
        "user": {"uid": 0, "gid": 0, "additionalGids": [10, 11]},
        "args": ["sh", "-c", "echo \"user $(id -u):$(id -g) groups $(id -G)\"; echo \"pwd $(pwd)\"; echo \"env $FOO $HOME\"; echo \"nofile $(ulimit -n) $(ulimit -Hn)\"; grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status"],
        "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "FOO=from-process-file", "HOME=/root", "TERM=xterm"],
        "cwd": "/var",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 2048}]
    });
    let pf = ctx.work.join("process.json");
    std::fs::write(&pf, serde_json::to_vec(&process).unwrap()).unwrap();
    let mut outs = vec![];
    for k in BOTH {
        let (id, _, _) = running(&ctx, k, "p", |_| {});
        let o = exec(ctx.rt(k), &["--process", pf.to_str().unwrap(), &id]).success();
        outs.push(o.stdout);
    }
    let t = &outs[0];
    assert!(t.contains("user 0:0 groups 0 10 11"), "{t}");
    assert!(t.contains("pwd /var"), "{t}");
    assert!(t.contains("env from-process-file /root"), "{t}");
    assert!(t.contains("nofile 2048 4096"), "{t}");
    // CAP_CHOWN(0) | CAP_KILL(5) | CAP_NET_RAW(13)
    assert_eq!(
        status_field(t, "CapEff").as_deref(),
        Some("0000000000002021"),
        "{t}"
    );
    assert_eq!(
        status_field(t, "CapBnd").as_deref(),
        Some("0000000000002021"),
        "{t}"
    );
    // runc 1.1.5 (Go >= 1.19 raises its own soft RLIMIT_NOFILE) sometimes hands
    // the exec'd process the hard value; tong's line is checked above against
    // what the process file asks, the rest must match runc exactly.
    let without_nofile = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with("nofile "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        without_nofile(&outs[0]),
        without_nofile(&outs[1]),
        "tong vs runc output of exec --process"
    );
}

#[test]
fn exec_detach_pid_file_reparented() {
    require_root!();
    require_runc!();
    let ctx = Ctx::new("ops-exec-detach");
    let mut parents = vec![];
    for k in BOTH {
        let rt = ctx.rt(k);
        let (id, cg, init) = running(&ctx, k, "d", |_| {});
        let pf = ctx.work.join(format!("{k:?}-exec.pid"));
        let o = exec(
            rt,
            &[
                "--detach",
                "--pid-file",
                pf.to_str().unwrap(),
                &id,
                "sleep",
                "1000",
            ],
        )
        .success();
        // The pid file exists when exec has exited 0.
        let txt = std::fs::read_to_string(&pf)
            .unwrap_or_else(|e| panic!("{k:?}: pid file: {e} ({})", o.stderr));
        let pid: i32 = txt
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{k:?}: pid file {txt:?}"));
        assert!(
            alive(pid),
            "{k:?}: exec'd process {pid} died with the runtime"
        );
        // The runtime is gone and is not the parent: the orphan went to the
        // caller's subreaper (here none: host init) as with runc.
        let pp = ppid_of(pid).unwrap();
        let comm = std::fs::read_to_string(format!("/proc/{pp}/comm")).unwrap_or_default();
        assert!(
            !comm.contains("tong") && !comm.contains("runc"),
            "{k:?}: exec'd process {pid} still has runtime parent {pp} ({comm})"
        );
        parents.push((k, pp == init, pp == 1));
        assert!(
            cg_procs("memory", &cg).contains(&pid),
            "{k:?}: {pid} not in the memory cgroup"
        );
        let ps = rt.cmd(&["ps", "--format", "json", &id]).success();
        let pids: Vec<i32> = serde_json::from_str(ps.stdout.trim()).unwrap();
        assert!(
            pids.contains(&pid) && pids.contains(&init),
            "{k:?}: ps json {pids:?}"
        );
        rt.delete_force(&id).success();
        wait_until(
            "detached exec'd process killed by delete --force",
            Duration::from_secs(5),
            || !alive(pid),
        );
    }
    assert_eq!(
        (parents[0].1, parents[0].2),
        (parents[1].1, parents[1].2),
        "new parent of the detached process (is init, is host pid 1): {parents:?}"
    );
}

#[test]
fn exec_into_created_container() {
    require_root!();
    require_runc!();
    let ctx = Ctx::new("ops-exec-created");
    for k in BOTH {
        let rt = ctx.rt(k);
        let id = ctx.id(&format!("{k:?}"));
        let mut b = ctx.bundle("touch /tmp/user-process-ran; exec sleep 1000");
        b.set("/root/readonly", json!(false));
        rt.create(&b, &id, &[]).success();
        let o = exec(rt, &[&id, "sh", "-c", "echo exec-in-created; ls /tmp"]);
        assert_eq!(
            o.code, 0,
            "{k:?}: exec into a created container: {}",
            o.stderr
        );
        assert!(
            o.stdout.starts_with("exec-in-created\n"),
            "{k:?}: {}",
            o.stdout
        );
        assert!(
            !o.stdout.contains("user-process-ran"),
            "{k:?}: exec started the user process"
        );
        assert_eq!(rt.status(&id), "created", "{k:?}: exec changed the status");
        rt.start(&id).success();
        wait_until("user process ran", Duration::from_secs(10), || {
            b.rootfs().join("tmp/user-process-ran").exists()
        });
        rt.delete_force(&id).success();
    }
}

#[test]
fn exec_into_user_namespace_container() {
    require_root!();
    let ctx = Ctx::new("ops-exec-userns");
    let (id, _, init) = running(&ctx, Kind::Tong, "u", |b| {
        b.userns(100000, 65536);
    });
    let t = &ctx.tong;
    let o = exec(
        t,
        &[
            &id,
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map /proc/self/gid_map; touch /tmp/f && stat -c %u /tmp/f",
        ],
    )
    .success();
    let words: Vec<&str> = o.stdout.split_whitespace().collect();
    assert_eq!(
        words,
        vec!["0", "0", "100000", "65536", "0", "100000", "65536", "0"],
        "{}",
        o.stdout
    );
    let o = exec(t, &["-u", "1000:1000", &id, "id", "-u"]).success();
    assert_eq!(o.stdout.trim(), "1000");
    let pf = ctx.work.join("u.pid");
    exec(
        t,
        &[
            "-d",
            "--pid-file",
            pf.to_str().unwrap(),
            "-u",
            "1000:1000",
            &id,
            "sleep",
            "1000",
        ],
    )
    .success();
    let pid = read_pid_file(&pf);
    assert_eq!(
        ns_link(&pid.to_string(), "user"),
        ns_link(&init.to_string(), "user")
    );
    assert_ne!(ns_link(&pid.to_string(), "user"), ns_link("self", "user"));
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status_field(&st, "Uid").unwrap();
    assert!(
        uid.starts_with("101000\t"),
        "host uid of exec'd user 1000: {uid}"
    );
    // The file the container root made belongs to host uid 100000.
    let b = ctx.work.join("bundle1/rootfs/tmp/f");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&b).unwrap().uid(), 100000);
}

#[test]
fn exec_tty_console_socket_vs_runc() {
    require_root!();
    require_runc!();
    let ctx = Ctx::new("ops-exec-tty");
    for k in BOTH {
        let rt = ctx.rt(k);
        let (id, _, _) = running(&ctx, k, "tty", |_| {});
        let sock = ctx.work.join(format!("{k:?}-console.sock"));
        let recv = ConsoleReceiver::bind(&sock);
        let pf = ctx.work.join(format!("{k:?}-tty.pid"));
        let o = exec(
            rt,
            &[
                "--tty", "--console-socket", sock.to_str().unwrap(), "--detach", "--pid-file",
                pf.to_str().unwrap(), &id, "sh", "-c",
                "tty; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-tty; read line; echo got:$line; echo tty-done",
            ],
        );
        assert_eq!(o.code, 0, "{k:?}: exec -t --console-socket: {}", o.stderr);
        let master = recv.recv(Duration::from_secs(10));
        use std::io::Write;
        let mut w = std::fs::File::from(master.try_clone().unwrap());
        w.write_all(b"hello-pty\n").unwrap();
        let out = read_pty_until(master, "tty-done", Duration::from_secs(10));
        assert!(out.contains("/dev/pts/"), "{k:?}: tty output {out:?}");
        assert!(
            out.contains("all-tty"),
            "{k:?}: stdio not all on the tty: {out:?}"
        );
        assert!(
            out.contains("got:hello-pty"),
            "{k:?}: input through the master: {out:?}"
        );
        assert!(out.contains("tty-done"), "{k:?}: {out:?}");
        let pid = read_pid_file(&pf);
        wait_until("tty process exits", Duration::from_secs(5), || !alive(pid));
    }
    // -t with --console-socket but without --detach: runc refuses; so must tong
    // (or it must at least not hang).
    let mut codes = vec![];
    for k in BOTH {
        let rt = ctx.rt(k);
        let id = ctx.id(&format!("tty-{}", if k == Kind::Tong { "t" } else { "r" }));
        let sock = ctx.work.join(format!("{k:?}-console.sock"));
        let _recv = ConsoleReceiver::bind(&sock);
        codes.push(
            exec(
                rt,
                &[
                    "--tty",
                    "--console-socket",
                    sock.to_str().unwrap(),
                    &id,
                    "true",
                ],
            )
            .code,
        );
    }
    // runc refuses it ("cannot use console socket if runc will not detach");
    // tong may accept it as an extension, but must not hang (exec() has a timeout).
    assert_ne!(
        codes[1], 0,
        "runc accepted exec -t --console-socket without -d"
    );
    if codes[0] == 0 {
        eprintln!(
            "NOTE: tong accepts exec -t --console-socket without -d (runc exits {})",
            codes[1]
        );
    }
}

#[test]
fn exec_preserve_fds_vs_runc() {
    require_root!();
    require_runc!();
    let ctx = Ctx::new("ops-exec-fds");
    let f3 = ctx.work.join("fd3.txt");
    let f4 = ctx.work.join("fd4.txt");
    let f5 = ctx.work.join("fd5.txt");
    std::fs::write(&f3, "content-three\n").unwrap();
    std::fs::write(&f4, "content-four\n").unwrap();
    std::fs::write(&f5, "content-five\n").unwrap();
    let mut outs = vec![];
    for k in BOTH {
        let rt = ctx.rt(k);
        let (id, _, _) = running(&ctx, k, "fd", |_| {});
        let (a, b, c) = (
            std::fs::File::open(&f3).unwrap(),
            std::fs::File::open(&f4).unwrap(),
            std::fs::File::open(&f5).unwrap(),
        );
        let mut cmd = rt.command();
        cmd.args(["exec", "--preserve-fds", "2", &id, "sh", "-c",
            "cat /proc/$$/fd/3 /proc/$$/fd/4; for f in 3 4 5 6 7; do [ -e /proc/$$/fd/$f ] && echo has-$f; done; true"]);
        with_fds(&mut cmd, &[&a, &b, &c]);
        let o = rt.exec(cmd, "exec preserve-fds").success();
        outs.push(o.stdout);
    }
    assert_eq!(
        outs[0], "content-three\ncontent-four\nhas-3\nhas-4\n",
        "tong: fds inside with --preserve-fds 2 (fd 5 must not leak)"
    );
    assert_eq!(outs[0], outs[1], "tong vs runc");
}

#[test]
fn exec_cgroup_sub_path() {
    require_root!();
    let ctx = Ctx::new("ops-exec-cgroup");
    let (id, cg, _) = running(&ctx, Kind::Tong, "c", |_| {});
    let t = &ctx.tong;
    // Removed (after the containers) last-pushed first, so cg goes last.
    ctx.cgroup_parents.borrow_mut().push(cg.clone());
    ctx.cgroup_parents.borrow_mut().push(format!("{cg}/sub"));
    // PATH form: the sub-cgroup in every hierarchy the container's cgroup is
    // in (it must exist in each, as with runc).
    for d in tong_testkit::cgroups::dirs_of(&cg) {
        if d.is_dir() {
            std::fs::create_dir_all(d.join("sub")).unwrap();
        }
    }
    let pf = ctx.work.join("c1.pid");
    exec(
        t,
        &[
            "-d",
            "--pid-file",
            pf.to_str().unwrap(),
            "--cgroup",
            "sub",
            &id,
            "sleep",
            "1000",
        ],
    )
    .success();
    let pid = read_pid_file(&pf);
    let pc = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let v2 = tong_testkit::cgroups::pure_v2();
    if v2 {
        assert_eq!(
            pc.trim(),
            format!("0::{cg}/sub"),
            "--cgroup sub on cgroup v2"
        );
    }
    for ctrl in ["memory", "pids", "cpu"].into_iter().filter(|_| !v2) {
        assert!(
            pc.lines().any(|l| l
                .split(':')
                .nth(1)
                .is_some_and(|c| c.split(',').any(|x| x == ctrl))
                && l.ends_with(&format!("{cg}/sub"))),
            "--cgroup sub: {ctrl} not {cg}/sub: {pc}"
        );
    }
    // CTRL:PATH form (cgroup v1): only memory goes to sub2, the rest stay
    // at the container's.
    let mut pids = vec![pid];
    if !v2 {
        pids.push(exec_ctrl_path(&ctx, t, &id, &cg));
    }
    // delete --force removes the nested cgroups too (runc 1.1 does).
    let d = t.delete_force(&id);
    if !d.ok() {
        // Leave nothing running behind the failed delete.
        for p in tong_testkit::cgroups::dirs_of(&cg)
            .iter()
            .flat_map(|d| tong_testkit::cgroups::procs_below(d))
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(Duration::from_millis(200));
        panic!(
            "delete --force of a container with nested sub-cgroups failed: {}",
            d.stderr.trim()
        );
    }
    assert_clean(Leftovers {
        rt: t,
        id: &id,
        bundle: None,
        cgroup: Some(cg.clone()),
        pids,
    });
}

/// `exec --cgroup memory:sub2` (v1 only): returns the exec'd pid.
fn exec_ctrl_path(ctx: &Ctx, t: &Runtime, id: &str, cg: &str) -> i32 {
    std::fs::create_dir_all(cgroup_dir("memory", cg).join("sub2")).unwrap();
    ctx.cgroup_parents.borrow_mut().push(format!("{cg}/sub2"));
    let pf = ctx.work.join("c2.pid");
    exec(
        t,
        &[
            "-d",
            "--pid-file",
            pf.to_str().unwrap(),
            "--cgroup",
            "memory:sub2",
            id,
            "sleep",
            "1000",
        ],
    )
    .success();
    let pid2 = read_pid_file(&pf);
    let pc = std::fs::read_to_string(format!("/proc/{pid2}/cgroup")).unwrap();
    assert!(
        pc.lines()
            .any(|l| l.contains(":memory:") && l.ends_with(&format!("{cg}/sub2"))),
        "{pc}"
    );
    assert!(
        pc.lines().any(|l| l.contains(":pids:") && l.ends_with(cg)),
        "{pc}"
    );
    // A missing sub-cgroup is an error.
    let o = exec(t, &["--cgroup", "memory:nonexistent", id, "true"]);
    assert_ne!(o.code, 0, "--cgroup to a missing sub-cgroup succeeded");
    pid2
}

// ---------------------------------------------------------------------------
// ps

#[test]
fn ps_json_and_table_vs_runc() {
    require_root!();
    require_runc!();
    let ctx = Ctx::new("ops-ps");
    for k in BOTH {
        let rt = ctx.rt(k);
        let id = ctx.id(&format!("{k:?}"));
        let cg = format!("/{id}");
        let mut b = ctx.bundle("sleep 1001 & sleep 1002 & exec sleep 1000");
        b.set("/linux/cgroupsPath", json!(cg));
        // created: only the init.
        rt.create(&b, &id, &[]).success();
        let init = rt.pid(&id);
        let o = rt.cmd(&["ps", "--format", "json", &id]).success();
        let v: Value = serde_json::from_str(o.stdout.trim())
            .unwrap_or_else(|e| panic!("{k:?} ps json {e}: {:?}", o.stdout));
        assert_eq!(v, json!([init]), "{k:?}: ps json of a created container");
        rt.start(&id).success();
        wait_until("3 processes", Duration::from_secs(10), || {
            cg_procs("memory", &cg).len() == 3
        });
        let o = rt.cmd(&["ps", "--format", "json", &id]).success();
        assert!(
            o.stdout.trim_start().starts_with('[') && o.stdout.ends_with("]\n")
                || o.stdout.ends_with(']'),
            "{k:?}: {:?}",
            o.stdout
        );
        let mut pids: Vec<i32> = serde_json::from_str(o.stdout.trim()).unwrap();
        pids.sort();
        assert_eq!(
            pids,
            cg_procs("memory", &cg),
            "{k:?}: ps json vs cgroup.procs"
        );
        // table (default): ps -ef columns, one line per process.
        let o = rt.cmd(&["ps", &id]).success();
        let mut lines = o.stdout.lines();
        let head = lines.next().unwrap();
        assert!(
            head.split_whitespace().take(2).eq(["UID", "PID"]),
            "{k:?}: header {head:?}"
        );
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), 3, "{k:?}: {}", o.stdout);
        for p in &pids {
            assert!(
                rows.iter()
                    .any(|r| r.split_whitespace().nth(1) == Some(&p.to_string())),
                "{k:?}: pid {p} missing: {}",
                o.stdout
            );
        }
        // ps arguments after the id (runc's form; tong also takes them after --)
        let o = rt.cmd(&["ps", &id, "-o", "pid,args"]).success();
        if k == Kind::Tong {
            let o2 = rt.cmd(&["ps", &id, "--", "-o", "pid,args"]).success();
            assert_eq!(
                o2.stdout.lines().count(),
                4,
                "tong ps ID -- -o pid,args: {}",
                o2.stdout
            );
        }
        let mut lines = o.stdout.lines();
        assert_eq!(
            lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
            vec!["PID", "COMMAND"],
            "{k:?}: {}",
            o.stdout
        );
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), 3, "{k:?}: {}", o.stdout);
        assert!(
            rows.iter().any(|r| r.contains("sleep 1001")),
            "{k:?}: {}",
            o.stdout
        );
        // bad format
        assert_ne!(
            rt.cmd(&["ps", "--format", "xml", &id]).code,
            0,
            "{k:?}: ps --format xml"
        );
        rt.kill(&id, "KILL").success();
        rt.wait_stopped(&id);
    }
    // stopped and unknown containers: same verdicts as runc.
    let verdict = |k: Kind, id: &str| ctx.rt(k).cmd(&["ps", "--format", "json", id]);
    let (t, r) = (
        verdict(Kind::Tong, &ctx.id("Tong")),
        verdict(Kind::Runc, &ctx.id("Runc")),
    );
    assert_eq!(
        t.code == 0,
        r.code == 0,
        "ps of a stopped container: tong {} ({}) runc {} ({})",
        t.code,
        t.stdout,
        r.code,
        r.stdout
    );
    if t.code == 0 {
        // runc prints Go's nil slice as `null`; an empty array is the same answer.
        let empty = |s: &str| {
            serde_json::from_str::<Option<Vec<i32>>>(s.trim()).map(|v| v.unwrap_or_default())
        };
        assert_eq!(
            empty(&t.stdout).expect("tong ps json"),
            Vec::<i32>::new(),
            "tong: {}",
            t.stdout
        );
        assert_eq!(
            empty(&r.stdout).expect("runc ps json"),
            Vec::<i32>::new(),
            "runc: {}",
            r.stdout
        );
    }
    let (t, r) = (
        verdict(Kind::Tong, "no-such-ctr-x"),
        verdict(Kind::Runc, "no-such-ctr-x"),
    );
    assert!(t.code != 0 && r.code != 0, "ps of an unknown container");
}

// ---------------------------------------------------------------------------
// pause / resume

#[test]
fn pause_resume_states_and_errors_vs_runc() {
    require_root!();
    require_runc!();
    let ctx = Ctx::new("ops-pause");
    let mut codes: Vec<Vec<(String, i32)>> = vec![];
    for k in BOTH {
        let rt = ctx.rt(k);
        let mut c = vec![];
        let (id, cg, init) = running(&ctx, k, "p", |_| {});
        c.push(("resume running".to_string(), rt.cmd(&["resume", &id]).code));
        c.push(("pause".into(), rt.cmd(&["pause", &id]).success().code));
        assert_eq!(rt.status(&id), "paused", "{k:?}");
        assert_eq!(frozen_setting(&cg).as_deref(), Some("FROZEN"), "{k:?}");
        // A frozen task sleeps in the freezer on the host.
        let st = std::fs::read_to_string(format!("/proc/{init}/status")).unwrap();
        assert!(
            status_field(&st, "State").unwrap().starts_with('D')
                || status_field(&st, "State").unwrap().starts_with('S'),
            "{k:?}"
        );
        c.push(("pause paused".into(), rt.cmd(&["pause", &id]).code));
        let o = exec(rt, &[&id, "true"]);
        assert!(
            o.stderr.contains("paused"),
            "{k:?}: exec on paused: {}",
            o.stderr
        );
        c.push(("exec paused".into(), o.code));
        // --ignore-paused: the process joins the frozen cgroup and runs on resume.
        let pf = ctx.work.join(format!("{k:?}-ign.pid"));
        let mut cmd = rt.command();
        cmd.args([
            "exec",
            "--ignore-paused",
            "-d",
            "--pid-file",
            pf.to_str().unwrap(),
            &id,
            "sh",
            "-c",
            "echo x > /tmp/ran-after-resume",
        ]);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        c.push(("resume".into(), rt.cmd(&["resume", &id]).success().code));
        let st = wait_timeout(&mut child, Duration::from_secs(10), "exec --ignore-paused");
        c.push(("exec --ignore-paused".into(), st.code().unwrap_or(-1)));
        assert_eq!(rt.status(&id), "running", "{k:?}");
        assert_eq!(frozen_setting(&cg).as_deref(), Some("THAWED"), "{k:?}");
        c.push(("resume resumed".into(), rt.cmd(&["resume", &id]).code));
        // kill and delete --force of a paused container.
        rt.cmd(&["pause", &id]).success();
        c.push(("kill paused".into(), rt.kill(&id, "KILL").code));
        c.push(("delete --force paused".into(), rt.delete_force(&id).code));
        assert_clean(Leftovers {
            rt,
            id: &id,
            bundle: None,
            cgroup: Some(cg.clone()),
            pids: vec![init],
        });
        // pause of a stopped / unknown container
        let (id2, _, _) = running(&ctx, k, "p2", |_| {});
        rt.kill(&id2, "KILL").success();
        rt.wait_stopped(&id2);
        c.push(("pause stopped".into(), rt.cmd(&["pause", &id2]).code));
        c.push(("resume stopped".into(), rt.cmd(&["resume", &id2]).code));
        c.push((
            "pause unknown".into(),
            rt.cmd(&["pause", "no-such-ctr-y"]).code,
        ));
        codes.push(c);
    }
    let norm = |v: &Vec<(String, i32)>| {
        v.iter()
            .map(|(s, c)| (s.clone(), *c != 0))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        norm(&codes[0]),
        norm(&codes[1]),
        "success/failure per step: tong {:?} runc {:?}",
        codes[0],
        codes[1]
    );
    let exec_paused =
        |v: &Vec<(String, i32)>| v.iter().find(|(s, _)| s == "exec paused").unwrap().1;
    assert_eq!(
        exec_paused(&codes[0]),
        exec_paused(&codes[1]),
        "exit code of exec into a paused container"
    );
}

#[test]
fn pause_with_exec_processes_freezes_all() {
    require_root!();
    let ctx = Ctx::new("ops-pause-all");
    let (id, cg, _) = running(&ctx, Kind::Tong, "pa", |_| {});
    let t = &ctx.tong;
    let pf = ctx.work.join("counter.pid");
    exec(
        t,
        &[
            "-d",
            "--pid-file",
            pf.to_str().unwrap(),
            &id,
            "sh",
            "-c",
            "while :; do echo x >> /tmp/ticks; sleep 0.05; done",
        ],
    )
    .success();
    let ticks = ctx.work.join("bundle1/rootfs/tmp/ticks");
    wait_until("ticks", Duration::from_secs(5), || ticks.exists());
    t.cmd(&["pause", &id]).success();
    std::thread::sleep(Duration::from_millis(150));
    let n1 = std::fs::metadata(&ticks).unwrap().len();
    std::thread::sleep(Duration::from_millis(400));
    let n2 = std::fs::metadata(&ticks).unwrap().len();
    assert_eq!(n1, n2, "the exec'd loop kept running while paused");
    assert_eq!(frozen_setting(&cg).as_deref(), Some("FROZEN"));
    t.cmd(&["resume", &id]).success();
    wait_until("ticks resume", Duration::from_secs(5), || {
        std::fs::metadata(&ticks).unwrap().len() > n2
    });
}

// ---------------------------------------------------------------------------
// kill --all

#[test]
fn kill_all_signals_every_process_vs_runc() {
    require_root!();
    require_runc!();
    let ctx = Ctx::new("ops-killall");
    let mut codes = vec![];
    for k in BOTH {
        let rt = ctx.rt(k);
        let id = ctx.id(&format!("{k:?}"));
        let cg = format!("/{id}");
        // The init traps USR1 and keeps going; its children die of it.
        let mut b = ctx.bundle(
            "trap 'echo init-got-usr1' USR1; sleep 1001 & sleep 1002 & while :; do sleep 0.1; done",
        );
        b.set("/linux/cgroupsPath", json!(cg));
        rt.run_detached(&b, &id).success();
        let pf = ctx.work.join(format!("{k:?}-k.pid"));
        exec(
            rt,
            &[
                "-d",
                "--pid-file",
                pf.to_str().unwrap(),
                &id,
                "sleep",
                "1003",
            ],
        )
        .success();
        let exec_pid = read_pid_file(&pf);
        wait_until("processes", Duration::from_secs(10), || {
            cg_procs("memory", &cg).len() >= 4
        });
        let before = cg_procs("memory", &cg);
        // kill --all with a signal: every process gets it (the sleeps die).
        rt.cmd(&["kill", "--all", &id, "USR1"]).success();
        wait_until("sleeps killed by USR1", Duration::from_secs(5), || {
            !alive(exec_pid)
        });
        assert_eq!(rt.status(&id), "running", "{k:?}: init trapping USR1 died");
        // kill --all 9 (containerd's form) kills everything.
        codes.push((
            "kill --all 9".to_string(),
            rt.cmd(&["kill", "--all", &id, "9"]).code,
        ));
        rt.wait_stopped(&id);
        wait_until("all dead", Duration::from_secs(5), || {
            before.iter().all(|p| !alive(*p))
        });
        codes.push((
            "kill --all stopped".into(),
            rt.cmd(&["kill", "--all", &id, "9"]).code,
        ));
        codes.push(("kill stopped".into(), rt.kill(&id, "9").code));
        rt.delete(&id).success();
    }
    assert_eq!(codes[0], codes[3], "kill --all 9: tong vs runc");
    assert_eq!(codes[1], codes[4], "kill --all on stopped: tong vs runc");
    assert_eq!(
        codes[2].1 != 0,
        codes[5].1 != 0,
        "kill on stopped: tong vs runc {codes:?}"
    );
    assert_eq!(codes[1].1, 0);
}

// ---------------------------------------------------------------------------
// events

fn stats_event(rt: &Runtime, id: &str) -> Value {
    let o = rt.cmd(&["events", "--stats", id]).success();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{:?}: events --stats prints one line: {}",
        rt.kind,
        o.stdout
    );
    serde_json::from_str(lines[0])
        .unwrap_or_else(|e| panic!("{:?} events JSON {e}: {}", rt.kind, lines[0]))
}

/// The shape of a JSON value: objects keep their keys, leaves become types.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => json!([a.first().map(shape).unwrap_or(Value::Null)]),
        Value::Number(_) => json!("number"),
        Value::String(_) => json!("string"),
        Value::Bool(_) => json!("bool"),
        Value::Null => Value::Null,
    }
}

/// Every path of `want`'s shape must be in `got`'s with the same leaf type.
fn shape_covers(got: &Value, want: &Value, at: &str, missing: &mut Vec<String>) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for (k, wv) in w {
                match g.get(k) {
                    Some(gv) => shape_covers(gv, wv, &format!("{at}/{k}"), missing),
                    None => missing.push(format!("{at}/{k}")),
                }
            }
        }
        (Value::Array(g), Value::Array(w)) => {
            if let (Some(gv), Some(wv)) = (g.first(), w.first()) {
                if !wv.is_null() && !gv.is_null() {
                    shape_covers(gv, wv, &format!("{at}/0"), missing);
                }
            }
        }
        (_, Value::Null) | (Value::Null, _) => {}
        (g, w) if g != w => missing.push(format!("{at} ({g} vs {w})")),
        _ => {}
    }
}

/// Whether runc's omitempty field `m`, absent from tong's stats event `e`,
/// is absent because its value is zero for tong's cgroup `cg` (checked in
/// the event's raw memory.stat and in the host's blkio/io files, which only grow).
fn zero_in_tong(m: &str, e: &Value, cg: &str) -> bool {
    if m == "/data/memory/cache" {
        let raw = &e["data"]["memory"]["raw"];
        return ["cache", "file"]
            .iter()
            .all(|k| raw[k].as_u64().unwrap_or(0) == 0);
    }
    if m.starts_with("/data/blkio/") {
        let io = tong_testkit::cgroups::setting(
            cg,
            "io.stat",
            "blkio.throttle.io_service_bytes_recursive",
        )
        .unwrap_or_default();
        // v2: one line per device with I/O; v1: "maj:min Op N" lines and "Total N".
        let any_io = io.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.as_slice() {
                [_, "Total", n] | ["Total", n] | [_, _, n] => n.parse::<u64>().unwrap_or(0) > 0,
                _ => l.contains('='),
            }
        });
        return !any_io && e["data"]["blkio"].as_object().is_some_and(|b| b.is_empty());
    }
    false
}

#[test]
fn events_stats_shape_vs_runc() {
    require_root!();
    require_runc!();
    let ctx = Ctx::new("ops-events");
    let mut evs = vec![];
    for k in BOTH {
        let (id, cg, _) = running(&ctx, k, "ev", |b| {
            b.set(
                "/linux/resources",
                json!({"memory": {"limit": 67108864}, "pids": {"limit": 50}}),
            );
        });
        let e = stats_event(ctx.rt(k), &id);
        evs.push((k, cg, e));
    }
    let mut missing = vec![];
    shape_covers(&shape(&evs[0].2), &shape(&evs[1].2), "", &mut missing);
    // runc 1.1 has intel_rdt / network_interfaces only where supported.
    missing.retain(|m| !m.contains("intel_rdt") && !m.contains("network_interfaces"));
    // Go's omitempty drops a zero cache or an empty blkio list: which of the
    // two containers reads the rootfs from disk first (and so is charged the
    // I/O and page cache) is up to the page cache. Such a field may be absent
    // from tong's event only when tong's own cgroup shows it zero.
    missing.retain(|m| !zero_in_tong(m, &evs[0].2, &evs[0].1));
    assert!(missing.is_empty(), "fields of runc's stats event missing (or of another type) in tong's: {missing:#?}\ntong: {}", evs[0].2);
    for (k, cg, e) in &evs {
        let id = e["id"].as_str().unwrap_or_default();
        assert!(id.contains("-ev-"), "{k:?}: {e}");
        assert_eq!(e["type"], "stats", "{k:?}: {e}");
        let d = &e["data"];
        assert_eq!(
            d["memory"]["usage"]["limit"], 67108864,
            "{k:?}: memory limit in stats"
        );
        let usage = d["memory"]["usage"]["usage"].as_u64().unwrap_or(0);
        let host: u64 =
            tong_testkit::cgroups::setting(cg, "memory.current", "memory.usage_in_bytes")
                .unwrap()
                .parse()
                .unwrap();
        assert!(
            usage > 0 && usage <= host * 2 + 1_000_000,
            "{k:?}: memory usage {usage} vs host {host}"
        );
        assert_eq!(d["pids"]["current"], 1, "{k:?}: pids.current {}", d["pids"]);
        assert_eq!(d["pids"]["limit"], 50, "{k:?}: pids.limit {}", d["pids"]);
        assert!(
            d["cpu"]["usage"]["total"].as_u64().unwrap_or(0) > 0,
            "{k:?}: cpu usage {}",
            d["cpu"]
        );
    }
    // Stopped container: both fail.
    for k in BOTH {
        let rt = ctx.rt(k);
        let id = ctx.id(&format!("ev-{}", if k == Kind::Tong { "t" } else { "r" }));
        rt.kill(&id, "KILL").success();
        rt.wait_stopped(&id);
        let o = rt.cmd(&["events", "--stats", &id]);
        assert_ne!(o.code, 0, "{k:?}: events --stats on a stopped container");
    }
}

/// Spawns `RUNTIME events [args] ID` with stdout to a file; returns the child and the file.
fn spawn_events(
    ctx: &Ctx,
    rt: &Runtime,
    id: &str,
    args: &[&str],
    tag: &str,
) -> (std::process::Child, std::path::PathBuf) {
    let out = ctx.work.join(format!("events-{tag}.out"));
    let mut c = rt.command();
    c.arg("events").args(args).arg(id);
    c.stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(ctx.work.join(format!("events-{tag}.err"))).unwrap());
    (c.spawn().unwrap(), out)
}

#[test]
fn events_interval_streams_stats() {
    require_root!();
    let ctx = Ctx::new("ops-events-int");
    let (id, _, _) = running(&ctx, Kind::Tong, "ei", |_| {});
    let (mut child, out) = spawn_events(&ctx, &ctx.tong, &id, &["--interval", "200ms"], "int");
    let t0 = Instant::now();
    let mut n = 0;
    while t0.elapsed() < Duration::from_secs(5) {
        n = std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .count();
        if n >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(n >= 3, "events --interval 200ms printed {n} lines in 5s");
    // Whole lines only: events may be half-way through writing the next.
    let text = std::fs::read_to_string(&out).unwrap();
    let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    for l in whole.lines().take(3) {
        let v: Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["type"], "stats");
        assert_eq!(v["id"], id.as_str());
    }
    // events ends when the container does.
    ctx.tong.kill(&id, "KILL").success();
    let st = wait_timeout(
        &mut child,
        Duration::from_secs(10),
        "events after the container died",
    );
    let _ = st;
}

#[test]
fn events_reports_oom() {
    require_root!();
    require_runc!();
    let ctx = Ctx::new("ops-oom");
    for k in BOTH {
        let rt = ctx.rt(k);
        let id = ctx.id(&format!("{k:?}"));
        let cg = format!("/{id}");
        // The container waits for a go file, then a single 64 MiB line in
        // tail's buffer blows the 8 MiB limit (no swap: memsw = limit).
        let mut b = ctx.bundle("while [ ! -e /tmp/go ]; do sleep 0.05; done; head -c 64m /dev/zero | tail > /dev/null; echo tail-exit=$?; exec sleep 1000");
        b.set("/linux/cgroupsPath", json!(cg));
        b.set(
            "/linux/resources/memory",
            json!({"limit": 8388608, "swap": 8388608}),
        );
        let run = rt.run_detached(&b, &id).success();
        let (mut child, out) =
            spawn_events(&ctx, rt, &id, &["--interval", "60s"], &format!("{k:?}"));
        std::thread::sleep(Duration::from_millis(300));
        std::fs::write(b.rootfs().join("tmp/go"), "").unwrap();
        let mut got = String::new();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(15) {
            got = std::fs::read_to_string(&out).unwrap_or_default();
            if got.contains("oom") {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        let oom: Vec<Value> = got
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["type"] == "oom")
            .collect();
        assert!(
            !oom.is_empty(),
            "{k:?}: no oom event; events printed {got:?}; container: {}",
            run.stdout_now()
        );
        assert_eq!(oom[0]["id"], id.as_str(), "{k:?}: {}", oom[0]);
        let oc =
            tong_testkit::cgroups::setting(&cg, "memory.events", "memory.oom_control").unwrap();
        assert!(
            oc.lines()
                .any(|l| l.starts_with("oom_kill ") && l != "oom_kill 0"),
            "{k:?}: {oc}"
        );
        // Which task the OOM killer picks is the kernel's choice: only the
        // event and the cgroup's kill count are checked.
    }
}

// ---------------------------------------------------------------------------
// features

#[test]
fn features_vs_runc() {
    require_root!();
    require_runc!();
    let t: Value =
        serde_json::from_str(&ctx_cmd("features", Kind::Tong)).expect("tong features JSON");
    let r: Value =
        serde_json::from_str(&ctx_cmd("features", Kind::Runc)).expect("runc features JSON");
    let mut missing = vec![];
    shape_covers(&shape(&t), &shape(&r), "", &mut missing);
    // runc 1.1 lists annotations of its own (org.opencontainers.runc.*) and
    // capabilities as strings: compare keys, not values.
    missing.retain(|m| !m.starts_with("/annotations/"));
    assert!(
        missing.is_empty(),
        "features fields of runc missing in tong: {missing:?}"
    );
    assert!(
        t["ociVersionMin"].as_str().unwrap().starts_with("1.0"),
        "{}",
        t["ociVersionMin"]
    );
    assert!(
        t["ociVersionMax"].as_str().unwrap().starts_with("1."),
        "{}",
        t["ociVersionMax"]
    );
    let list = |v: &Value, p: &str| -> Vec<String> {
        v.pointer(p)
            .and_then(|x| x.as_array())
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    for h in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        assert!(
            list(&t, "/hooks").contains(&h.to_string()),
            "hook {h} not in features"
        );
    }
    for ns in [
        "cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time",
    ] {
        assert!(
            list(&t, "/linux/namespaces").contains(&ns.to_string()),
            "namespace {ns} not in features"
        );
    }
    let lacking: Vec<String> = list(&r, "/mountOptions")
        .into_iter()
        .filter(|o| !list(&t, "/mountOptions").contains(o))
        .collect();
    if !lacking.is_empty() {
        // features must describe what tong does; these are options runc 1.1
        // knows and tong's mount table does not (reported, not a format issue).
        eprintln!("NOTE: mount options runc 1.1 supports and tong does not list: {lacking:?}");
    }
    for o in list(&t, "/mountOptions") {
        assert!(!o.is_empty());
    }
    for c in ["CAP_SYS_ADMIN", "CAP_NET_RAW", "CAP_CHOWN"] {
        assert!(
            list(&t, "/linux/capabilities").contains(&c.to_string()),
            "{c}"
        );
    }
    assert_eq!(t["linux"]["cgroup"]["v1"], true);
    assert_eq!(t["linux"]["cgroup"]["v2"], true);
    assert_eq!(t["linux"]["seccomp"]["enabled"], true);
    for a in list(&r, "/linux/seccomp/actions") {
        assert!(
            list(&t, "/linux/seccomp/actions").contains(&a),
            "seccomp action {a}"
        );
    }
    for a in list(&r, "/linux/seccomp/operators") {
        assert!(
            list(&t, "/linux/seccomp/operators").contains(&a),
            "seccomp operator {a}"
        );
    }
    // extra arguments are refused like runc
    let ctx = Ctx::new("ops-features");
    assert_eq!(
        ctx.tong.cmd(&["features", "extra"]).code != 0,
        ctx.runc.cmd(&["features", "extra"]).code != 0
    );
}

fn ctx_cmd(cmd: &str, k: Kind) -> String {
    let bin = if k == Kind::Tong {
        tong_bin()
    } else {
        RUNC.into()
    };
    let o = std::process::Command::new(bin).arg(cmd).output().unwrap();
    assert!(
        o.status.success(),
        "{k:?} {cmd}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}
