//! config.md "process": args, env, cwd, user, umask, additionalGids,
//! capabilities, rlimits, noNewPrivileges, oomScoreAdj, terminal.

use crate::harness::{field, t, Ctx, TResult, Test};
use crate::{ensure, fail, skip};
use serde_json::json;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

pub fn tests() -> Vec<Test> {
    vec![
        t("config/process/args", args),
        t("config/process/env", env),
        t("config/process/cwd", cwd),
        t("config/process/user-uid-gid", user),
        t("config/process/user-additional-gids", additional_gids),
        t("config/process/user-umask", umask),
        t("config/process/capabilities/bounding", cap_bounding),
        t("config/process/capabilities/effective", cap_effective),
        t("config/process/capabilities/permitted", cap_permitted),
        t("config/process/capabilities/inheritable", cap_inheritable),
        t("config/process/capabilities/ambient", cap_ambient),
        t("config/process/capabilities/dropped-cap-denied", cap_denied),
        t("config/process/capabilities/unknown-warned", cap_unknown),
        t("config/process/rlimits/nofile", rlimit_nofile),
        t("config/process/rlimits/core", rlimit_core),
        t("config/process/rlimits/nproc", rlimit_nproc),
        t("config/process/no-new-privileges/true", nnp_true),
        t("config/process/no-new-privileges/false", nnp_false),
        t("config/process/oom-score-adj", oom_score_adj),
        t("config/process/terminal/console-socket", terminal),
        t("config/process/terminal/console-size", console_size),
        t("config/process/terminal/false-no-tty", no_terminal),
        t("config/process/apparmor-profile", apparmor),
        t("config/process/selinux-label", selinux),
    ]
}

fn args(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.args(&[
        "sh",
        "-c",
        "printf '%s|' \"$0\" \"$@\"",
        "zero",
        "a b",
        "",
        "c*",
    ]);
    let o = ctx.run(&b)?;
    ensure!(o.ok(), "{}", o.brief());
    ensure!(
        o.stdout == "zero|a b||c*|",
        "args arrived as {:?}",
        o.stdout
    );
    Ok(())
}

fn env(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.set(
        "/process/env",
        json!(["PATH=/bin:/usr/bin", "FOO=bar baz", "EMPTY=", "EQ=a=b"]),
    );
    let out = ctx.sh_ok(&mut b, "env")?;
    for want in ["PATH=/bin:/usr/bin", "FOO=bar baz", "EMPTY=", "EQ=a=b"] {
        ensure!(
            out.lines().any(|l| l == want),
            "env lacks {want:?}: {out:?}"
        );
    }
    ensure!(
        !out.lines().any(|l| l.starts_with("TERM=")),
        "env has a variable not in config: {out:?}"
    );
    Ok(())
}

fn cwd(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    std::fs::create_dir_all(b.rootfs().join("var/work dir"))?;
    b.set("/process/cwd", json!("/var/work dir"));
    let out = ctx.sh_ok(&mut b, "pwd")?;
    ensure!(out.trim() == "/var/work dir", "pwd {out:?}");
    Ok(())
}

fn user(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.set("/process/user", json!({"uid": 1000, "gid": 1001}));
    let out = ctx.sh_ok(&mut b, "cat /proc/self/status")?;
    ensure!(
        field(&out, "Uid") == Some("1000\t1000\t1000\t1000"),
        "Uid line {:?}",
        field(&out, "Uid")
    );
    ensure!(
        field(&out, "Gid") == Some("1001\t1001\t1001\t1001"),
        "Gid line {:?}",
        field(&out, "Gid")
    );
    ensure!(
        field(&out, "Groups").unwrap_or("").is_empty(),
        "supplementary groups not cleared: {:?}",
        field(&out, "Groups")
    );
    Ok(())
}

fn additional_gids(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.set(
        "/process/user",
        json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 2000, 5]}),
    );
    let out = ctx.sh_ok(&mut b, "cat /proc/self/status")?;
    let mut g: Vec<u32> = field(&out, "Groups")
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    g.sort();
    g.retain(|x| *x != 1000);
    ensure!(
        g == vec![5, 10, 2000],
        "Groups {:?}, want 5 10 2000",
        field(&out, "Groups")
    );
    Ok(())
}

fn umask(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.set("/process/user/umask", json!(0o027));
    let out = ctx.sh_ok(
        &mut b,
        "grep Umask /proc/self/status; touch /tmp/f; stat -c %a /tmp/f",
    )?;
    ensure!(field(&out, "Umask") == Some("0027"), "Umask {:?}", out);
    ensure!(
        out.lines().last() == Some("640"),
        "file mode under umask 027: {out:?}"
    );
    Ok(())
}

fn mask(caps: &[&str]) -> u64 {
    caps.iter()
        .map(|c| {
            let n = match *c {
                "CAP_CHOWN" => 0,
                "CAP_DAC_OVERRIDE" => 1,
                "CAP_FOWNER" => 3,
                "CAP_KILL" => 5,
                "CAP_SETGID" => 6,
                "CAP_SETUID" => 7,
                "CAP_SETPCAP" => 8,
                "CAP_NET_BIND_SERVICE" => 10,
                "CAP_NET_RAW" => 13,
                "CAP_SYS_CHROOT" => 18,
                "CAP_SYS_ADMIN" => 21,
                "CAP_MKNOD" => 27,
                "CAP_AUDIT_WRITE" => 29,
                "CAP_SETFCAP" => 31,
                _ => panic!("unknown cap {c}"),
            };
            1u64 << n
        })
        .fold(0, |a, b| a | b)
}

fn caps_status(
    ctx: &mut Ctx,
    uid: u32,
    sets: serde_json::Value,
) -> Result<String, crate::harness::Verdict> {
    let mut b = ctx.bundle();
    b.set("/process/capabilities", sets);
    b.set("/process/user", json!({"uid": uid, "gid": uid}));
    ctx.sh_ok(&mut b, "cat /proc/self/status")
}

fn hexfield(out: &str, k: &str) -> Option<u64> {
    field(out, k).and_then(|v| u64::from_str_radix(v, 16).ok())
}

const SMALL: &[&str] = &[
    "CAP_CHOWN",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
    "CAP_NET_BIND_SERVICE",
];

fn cap_bounding(ctx: &mut Ctx) -> TResult {
    let out = caps_status(
        ctx,
        0,
        json!({"bounding": SMALL, "effective": SMALL, "permitted": SMALL}),
    )?;
    ensure!(
        hexfield(&out, "CapBnd") == Some(mask(SMALL)),
        "CapBnd {:?}, want {:016x}",
        field(&out, "CapBnd"),
        mask(SMALL)
    );
    Ok(())
}

fn cap_effective(ctx: &mut Ctx) -> TResult {
    let out = caps_status(
        ctx,
        0,
        json!({"bounding": SMALL, "effective": SMALL, "permitted": SMALL}),
    )?;
    ensure!(
        hexfield(&out, "CapEff") == Some(mask(SMALL)),
        "CapEff {:?}, want {:016x}",
        field(&out, "CapEff"),
        mask(SMALL)
    );
    Ok(())
}

fn cap_permitted(ctx: &mut Ctx) -> TResult {
    let out = caps_status(
        ctx,
        0,
        json!({"bounding": SMALL, "effective": SMALL, "permitted": SMALL}),
    )?;
    ensure!(
        hexfield(&out, "CapPrm") == Some(mask(SMALL)),
        "CapPrm {:?}, want {:016x}",
        field(&out, "CapPrm"),
        mask(SMALL)
    );
    Ok(())
}

fn cap_inheritable(ctx: &mut Ctx) -> TResult {
    let inh = ["CAP_KILL", "CAP_CHOWN"];
    let out = caps_status(
        ctx,
        0,
        json!({"bounding": SMALL, "effective": SMALL, "permitted": SMALL, "inheritable": inh}),
    )?;
    ensure!(
        hexfield(&out, "CapInh") == Some(mask(&inh)),
        "CapInh {:?}, want {:016x}",
        field(&out, "CapInh"),
        mask(&inh)
    );
    Ok(())
}

fn cap_ambient(ctx: &mut Ctx) -> TResult {
    // For a non-root user the kernel keeps only ambient capabilities across
    // execve, so they show up as permitted and effective too.
    let amb = ["CAP_NET_BIND_SERVICE", "CAP_KILL"];
    let out = caps_status(
        ctx,
        1000,
        json!({"bounding": SMALL, "effective": SMALL, "permitted": SMALL, "inheritable": amb, "ambient": amb}),
    )?;
    ensure!(
        hexfield(&out, "CapAmb") == Some(mask(&amb)),
        "CapAmb {:?}, want {:016x}",
        field(&out, "CapAmb"),
        mask(&amb)
    );
    ensure!(
        hexfield(&out, "CapEff") == Some(mask(&amb)),
        "CapEff {:?}, want {:016x}",
        field(&out, "CapEff"),
        mask(&amb)
    );
    Ok(())
}

fn cap_denied(ctx: &mut Ctx) -> TResult {
    let set = ["CAP_KILL", "CAP_AUDIT_WRITE"];
    let mut b = ctx.bundle();
    b.set(
        "/process/capabilities",
        json!({"bounding": set, "effective": set, "permitted": set}),
    );
    std::fs::write(b.rootfs().join("tmp/f"), "x")?;
    b.sh("chown 1234 /tmp/f && echo chowned || echo denied");
    let o = ctx.run(&b)?;
    ensure!(
        o.stdout.trim() == "denied",
        "chown without CAP_CHOWN: {}",
        o.brief()
    );
    Ok(())
}

/// config.md: a capability that cannot be mapped to the kernel MUST be logged
/// as a warning, and the runtime SHOULD NOT fail; the others still apply.
fn cap_unknown(ctx: &mut Ctx) -> TResult {
    let set = ["CAP_KILL", "CAP_NOT_A_CAP"];
    let mut b = ctx.bundle();
    b.set(
        "/process/capabilities",
        json!({"bounding": set, "effective": set, "permitted": set}),
    );
    b.sh("grep CapEff /proc/self/status");
    let o = ctx.run(&b)?;
    ensure!(
        o.ok(),
        "an unknown capability failed the container: {}",
        o.brief()
    );
    ensure!(
        o.stderr.contains("CAP_NOT_A_CAP"),
        "no warning names the unknown capability: {}",
        o.brief()
    );
    // CAP_KILL is bit 5.
    ensure!(
        o.stdout.trim().ends_with("0000000000000020"),
        "effective set beside the unknown name: {}",
        o.brief()
    );
    Ok(())
}

fn rlimit(ctx: &mut Ctx, typ: &str, soft: u64, hard: u64, line: &str) -> TResult {
    let mut b = ctx.bundle();
    b.set(
        "/process/rlimits",
        json!([{"type": typ, "soft": soft, "hard": hard}]),
    );
    let out = ctx.sh_ok(&mut b, "cat /proc/self/limits")?;
    let l = out.lines().find(|l| l.starts_with(line)).unwrap_or("");
    let nums: Vec<&str> = l[line.len().min(l.len())..].split_whitespace().collect();
    let (s, h) = (soft.to_string(), hard.to_string());
    ensure!(
        nums.len() >= 2 && nums[0] == s && nums[1] == h,
        "{line}: {l:?}, want {soft} {hard}"
    );
    Ok(())
}

fn rlimit_nofile(ctx: &mut Ctx) -> TResult {
    rlimit(ctx, "RLIMIT_NOFILE", 567, 890, "Max open files")
}
fn rlimit_core(ctx: &mut Ctx) -> TResult {
    rlimit(ctx, "RLIMIT_CORE", 4096, 8192, "Max core file size")
}
fn rlimit_nproc(ctx: &mut Ctx) -> TResult {
    rlimit(ctx, "RLIMIT_NPROC", 1111, 2222, "Max processes")
}

fn nnp(ctx: &mut Ctx, v: bool) -> TResult {
    let mut b = ctx.bundle();
    b.set("/process/noNewPrivileges", json!(v));
    let out = ctx.sh_ok(&mut b, "cat /proc/self/status")?;
    let want = if v { "1" } else { "0" };
    ensure!(
        field(&out, "NoNewPrivs") == Some(want),
        "NoNewPrivs {:?}, want {want}",
        field(&out, "NoNewPrivs")
    );
    Ok(())
}
fn nnp_true(ctx: &mut Ctx) -> TResult {
    nnp(ctx, true)
}
fn nnp_false(ctx: &mut Ctx) -> TResult {
    nnp(ctx, false)
}

fn oom_score_adj(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.set("/process/oomScoreAdj", json!(487));
    let out = ctx.sh_ok(&mut b, "cat /proc/self/oom_score_adj")?;
    ensure!(out.trim() == "487", "oom_score_adj {out:?}, want 487");
    Ok(())
}

/// Create with --console-socket, receive the pty master, start, and return
/// what the container wrote to its terminal.
fn terminal_output(
    ctx: &mut Ctx,
    b: &mut crate::harness::Bundle,
) -> Result<String, crate::harness::Verdict> {
    use std::os::unix::net::UnixListener;
    b.set("/process/terminal", json!(true));
    b.save()?;
    let sock = ctx.path("console.sock");
    let listener = UnixListener::bind(&sock)?;
    listener.set_nonblocking(true)?;
    let (tx, rx) = std::sync::mpsc::channel::<Result<OwnedFd, String>>();
    std::thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(30);
        let r = loop {
            match listener.accept() {
                Ok((s, _)) => break recv_fd(s.as_raw_fd()),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() > end {
                        break Err("no connection on the console socket".into());
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => break Err(e.to_string()),
            }
        };
        let _ = tx.send(r);
    });
    let id = ctx.id();
    let bp = b.path.to_string_lossy().to_string();
    let o = ctx.rt(&[
        "create",
        "--bundle",
        &bp,
        "--console-socket",
        &sock.to_string_lossy(),
        &id,
    ]);
    ensure!(o.ok(), "create with --console-socket failed: {}", o.brief());
    let master = match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(fd)) => fd,
        Ok(Err(e)) => fail!("receiving the pty master: {e}"),
        Err(_) => fail!("runtime did not send a pty master over the console socket"),
    };
    let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let buf2 = buf.clone();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut f = std::fs::File::from(master);
        let mut chunk = [0u8; 4096];
        while let Ok(n) = f.read(&mut chunk) {
            if n == 0 {
                break;
            }
            buf2.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    ctx.start(&id)?;
    ctx.wait_status(&id, "stopped", 10)?;
    std::thread::sleep(Duration::from_millis(300));
    let out = String::from_utf8_lossy(&buf.lock().unwrap()).replace('\r', "");
    Ok(out)
}

fn recv_fd(sock: i32) -> Result<OwnedFd, String> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut data = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut data)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 2]);
    // Blocking read: Linux does not pass the listener's O_NONBLOCK on to accepted sockets.
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut cmsg), MsgFlags::empty())
        .map_err(|e| format!("recvmsg: {e}"))?;
    for c in msg.cmsgs().map_err(|e| format!("cmsgs: {e}"))? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    Err("no SCM_RIGHTS fd in the console socket message".into())
}

fn terminal(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.sh("tty; test -t 0 && test -t 1 && test -t 2 && echo all-tty; ls -l /dev/console | cut -c1");
    let out = terminal_output(ctx, &mut b)?;
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    ensure!(
        lines
            .first()
            .map(|l| l.starts_with("/dev/pts/") || *l == "/dev/console")
            == Some(true),
        "tty printed {out:?}"
    );
    ensure!(
        lines.contains(&"all-tty"),
        "stdio are not all terminals: {out:?}"
    );
    ensure!(
        lines.contains(&"c"),
        "/dev/console is not a character device: {out:?}"
    );
    Ok(())
}

fn console_size(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.set("/process/consoleSize", json!({"height": 33, "width": 111}));
    b.sh("stty size");
    let out = terminal_output(ctx, &mut b)?;
    ensure!(out.trim() == "33 111", "stty size {out:?}, want \"33 111\"");
    Ok(())
}

fn no_terminal(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    let out = ctx.sh_ok(&mut b, "test -t 0 || test -t 1 || echo no-tty")?;
    ensure!(
        out.trim() == "no-tty",
        "terminal false but stdio is a tty: {out:?}"
    );
    Ok(())
}

// Not exercised on the development machine (no LSM there): written to the
// spec, untested against a real AppArmor/SELinux host.
fn apparmor(ctx: &mut Ctx) -> TResult {
    if !std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .map(|s| s.trim() == "Y")
        .unwrap_or(false)
    {
        skip!("AppArmor is not enabled on this kernel");
    }
    let mut b = ctx.bundle();
    b.set("/process/apparmorProfile", json!("unconfined"));
    let out = ctx.sh_ok(&mut b, "cat /proc/self/attr/current")?;
    ensure!(
        out.trim().starts_with("unconfined"),
        "AppArmor profile {out:?}, want unconfined"
    );
    Ok(())
}

fn selinux(ctx: &mut Ctx) -> TResult {
    if !std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        skip!("SELinux is not enabled on this kernel");
    }
    let host = std::fs::read_to_string("/proc/self/attr/current").unwrap_or_default();
    let label = host.trim_end_matches('\0').trim().to_string();
    let mut b = ctx.bundle();
    b.set("/process/selinuxLabel", json!(label));
    let out = ctx.sh_ok(&mut b, "cat /proc/self/attr/current")?;
    ensure!(
        out.trim_end_matches('\0').trim() == label,
        "SELinux label {out:?}, want {label:?}"
    );
    Ok(())
}
