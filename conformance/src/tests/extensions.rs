//! runtime-spec 1.2/1.3 additions and runc 1.2 behaviours: idmapped mounts
//! (mounts[].uidMappings/gidMappings, idmap, ridmap), recursive mount
//! attributes, unknown bind options, linux.personality,
//! process.execCPUAffinity and the affinity reset, linux.memoryPolicy,
//! linux.netDevices, linux.intelRdt, exec with ioPriority/scheduler,
//! --pidfd-socket, NOTIFY_SOCKET, SIGKILL without a pid namespace, and the
//! `features` document.

use crate::harness::{run_cmd, t, Bundle, Ctx, TResult, Test, Verdict};
use crate::{ensure, fail, skip};
use serde_json::{json, Value};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub fn tests() -> Vec<Test> {
    vec![
        t("config/mounts/idmap-mappings", idmap_mappings),
        t(
            "config/mounts/idmap-container-userns",
            idmap_container_userns,
        ),
        t("config/mounts/ridmap-submounts", ridmap_submounts),
        t("config/mounts/idmap-non-bind-refused", idmap_non_bind),
        t("config/mounts/recursive-attributes", recursive_attributes),
        t("config/mounts/recursive-attributes-clear", recursive_clear),
        t(
            "config/mounts/unknown-bind-option-refused",
            unknown_bind_option,
        ),
        t("config-linux/personality", personality),
        t("config/process/exec-cpu-affinity", exec_cpu_affinity),
        t("runtime/ops/cpu-affinity-reset", cpu_affinity_reset),
        t("config-linux/memory-policy", memory_policy),
        t("config-linux/memory-policy-invalid", memory_policy_invalid),
        t("config-linux/net-devices", net_devices),
        t("config-linux/intel-rdt", intel_rdt),
        t("config-linux/intel-rdt-unavailable", intel_rdt_unavailable),
        t("runtime/ops/exec-io-priority-scheduler", exec_ioprio_sched),
        t("runtime/ops/pidfd-socket", pidfd_socket),
        t("runtime/ops/notify-socket", notify_socket),
        t("runtime/ops/kill-zero", kill_zero),
        t("runtime/ops/sigkill-shared-pidns-kills-all", sigkill_all),
        t("runtime/features/document", features_document),
    ]
}

fn sh(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", cmd])
        .status()
        .is_ok_and(|s| s.success())
}

fn chown(p: &Path, id: u32) -> TResult {
    std::os::unix::fs::chown(p, Some(id), Some(id))?;
    Ok(())
}

/// A tmpfs at `dir`, unmounted when the test ends.
fn tmpfs(ctx: &mut Ctx, dir: &Path, opts: &str) -> TResult {
    std::fs::create_dir_all(dir)?;
    if !sh(&format!(
        "mount -t tmpfs -o {opts} conf-tmpfs {}",
        dir.display()
    )) {
        fail!("mount tmpfs at {}", dir.display());
    }
    let d = dir.to_path_buf();
    ctx.extra_cleanup.push(Box::new(move || {
        let _ = nix::mount::umount2(&d, nix::mount::MntFlags::MNT_DETACH);
    }));
    Ok(())
}

fn maps(host: u32) -> Value {
    json!([{"containerID": 0, "hostID": host, "size": 65536}])
}

fn bind(dst: &str, src: &Path, opts: &[&str]) -> Value {
    json!({"destination": dst, "type": "bind", "source": src, "options": opts})
}

/// Per-mount options of `point` in a mountinfo text.
fn mi_opts(mountinfo: &str, point: &str) -> Option<Vec<String>> {
    mountinfo
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some(point))
        .map(|l| {
            l.split(' ')
                .nth(5)
                .unwrap_or("")
                .split(',')
                .map(String::from)
                .collect()
        })
}

/// SKIP unless the kernel can idmap a mount of `dir`'s file system (tmpfs
/// gained idmapped mounts in Linux 6.3, overlayfs and 9p lack them): there a
/// runtime can only refuse the mount, which says nothing about its idmapping.
fn need_idmap(dir: &Path) -> TResult {
    if let Err(why) = tong_testkit::mountprobe::idmap(dir) {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let kernel = kernel.trim();
        skip!("kernel {kernel} cannot idmap this mount: {why}");
    }
    Ok(())
}

fn idmap_mappings(ctx: &mut Ctx) -> TResult {
    let src = ctx.path("vol");
    std::fs::create_dir_all(&src)?;
    need_idmap(&src)?;
    std::fs::write(src.join("f"), "x")?;
    chown(&src.join("f"), 1000)?;
    let mut b = ctx.bundle();
    let mut m = bind("/vol", &src, &["bind", "idmap"]);
    m["uidMappings"] = maps(100000);
    m["gidMappings"] = maps(100000);
    b.push("/mounts", m);
    let out = ctx.sh_ok(&mut b, "stat -c %u:%g /vol/f")?;
    ensure!(
        out.trim() == "101000:101000",
        "host 1000:1000 through a mount idmapped 0->100000 shows as {:?}, want 101000:101000",
        out.trim()
    );
    Ok(())
}

fn idmap_container_userns(ctx: &mut Ctx) -> TResult {
    let src = ctx.path("vol");
    std::fs::create_dir_all(&src)?;
    need_idmap(&src)?;
    std::fs::write(src.join("f"), "x")?;
    chown(&src.join("f"), 1000)?;
    let mut b = ctx.bundle();
    userns(&mut b, 300000)?;
    b.push("/mounts", bind("/vol", &src, &["bind", "idmap"]));
    let out = ctx.sh_ok(
        &mut b,
        "stat -c %u:%g /vol/f; echo w > /vol/new && stat -c %u /vol/new",
    )?;
    ensure!(
        out.lines().collect::<Vec<_>>() == ["1000:1000", "0"],
        "idmap with the container's user namespace: {out:?}, want host ownership shown through"
    );
    let md = std::fs::metadata(src.join("new"))?;
    ensure!(
        std::os::unix::fs::MetadataExt::uid(&md) == 0,
        "the container's root wrote host uid {}",
        std::os::unix::fs::MetadataExt::uid(&md)
    );
    Ok(())
}

/// A user namespace 0 -> host, owning the rootfs, as rootless specs do.
fn userns(b: &mut Bundle, host: u32) -> TResult {
    b.add_ns("user", None);
    b.set("/linux/uidMappings", maps(host));
    b.set("/linux/gidMappings", maps(host));
    if let Some(ms) = b.cfg.pointer_mut("/mounts").and_then(|m| m.as_array_mut()) {
        for m in ms.iter_mut() {
            if m["type"] == "sysfs" {
                *m = json!({"destination": "/sys", "type": "bind", "source": "/sys",
                    "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
            }
            if let Some(o) = m["options"].as_array_mut() {
                o.retain(|x| x != "gid=5");
            }
        }
    }
    if !sh(&format!("chown -hR {host}:{host} {}", b.rootfs().display())) {
        fail!("chown the rootfs");
    }
    Ok(())
}

fn ridmap_submounts(ctx: &mut Ctx) -> TResult {
    let src = ctx.path("tree");
    let sub = src.join("sub");
    tmpfs(ctx, &sub, "size=1m")?;
    need_idmap(&src)?;
    need_idmap(&sub)?;
    std::fs::write(sub.join("f"), "x")?;
    chown(&sub.join("f"), 1000)?;
    let mut b = ctx.bundle();
    for (dst, opt) in [("/r", "ridmap"), ("/i", "idmap")] {
        let mut m = bind(dst, &src, &["rbind", opt]);
        m["uidMappings"] = maps(100000);
        m["gidMappings"] = maps(100000);
        b.push("/mounts", m);
    }
    let out = ctx.sh_ok(&mut b, "stat -c %u /r/sub/f /i/sub/f")?;
    ensure!(
        out.lines().collect::<Vec<_>>() == ["101000", "1000"],
        "ridmap must idmap the submount and idmap must not: got {out:?}"
    );
    Ok(())
}

fn idmap_non_bind(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.push(
        "/mounts",
        json!({"destination": "/t", "type": "tmpfs", "source": "tmpfs",
        "options": ["idmap"], "uidMappings": maps(1), "gidMappings": maps(1)}),
    );
    b.args(&["true"]);
    let id = ctx.id();
    let o = ctx.create_out(&b, &id);
    ensure!(!o.ok(), "an idmapped tmpfs was accepted: {}", o.brief());
    Ok(())
}

fn recursive_attributes(ctx: &mut Ctx) -> TResult {
    let src = ctx.path("tree");
    tmpfs(ctx, &src.join("sub"), "size=1m")?;
    let cases = [
        ("rro", "ro"),
        ("rnosuid", "nosuid"),
        ("rnodev", "nodev"),
        ("rnoexec", "noexec"),
        ("rnoatime", "noatime"),
        ("rnodiratime", "nodiratime"),
        ("rnosymfollow", "nosymfollow"),
    ];
    let mut b = ctx.bundle();
    for (opt, _) in cases {
        b.push("/mounts", bind(&format!("/{opt}"), &src, &["rbind", opt]));
    }
    let mi = ctx.sh_ok(&mut b, "cat /proc/self/mountinfo")?;
    for (opt, flag) in cases {
        for p in [format!("/{opt}"), format!("/{opt}/sub")] {
            let o = mi_opts(&mi, &p).ok_or_else(|| Verdict::Fail(format!("{p} not mounted")))?;
            ensure!(
                o.iter().any(|x| x == flag),
                "{opt}: {p} has {o:?}, no {flag}"
            );
        }
    }
    Ok(())
}

fn recursive_clear(ctx: &mut Ctx) -> TResult {
    let src = ctx.path("tree");
    let sub = src.join("sub");
    tmpfs(ctx, &sub, "size=1m")?;
    if !sh(&format!(
        "mount -o remount,bind,ro,nosuid,nodev,noexec {}",
        sub.display()
    )) {
        fail!("remount the submount read-only");
    }
    let mut b = ctx.bundle();
    b.push(
        "/mounts",
        bind("/c", &src, &["rbind", "rrw", "rsuid", "rdev", "rexec"]),
    );
    let mi = ctx.sh_ok(&mut b, "touch /c/sub/x && cat /proc/self/mountinfo")?;
    let o = mi_opts(&mi, "/c/sub").ok_or_else(|| Verdict::Fail("/c/sub not mounted".into()))?;
    for f in ["ro", "nosuid", "nodev", "noexec"] {
        ensure!(!o.iter().any(|x| x == f), "/c/sub kept {f}: {o:?}");
    }
    Ok(())
}

fn unknown_bind_option(ctx: &mut Ctx) -> TResult {
    let src = ctx.path("v");
    std::fs::create_dir_all(&src)?;
    let mut b = ctx.bundle();
    b.push("/mounts", bind("/v", &src, &["rbind", "conf-bogus-option"]));
    b.args(&["true"]);
    let id = ctx.id();
    let o = ctx.create_out(&b, &id);
    ensure!(
        !o.ok(),
        "a bind mount with an unknown option was accepted (the kernel ignores it): {}",
        o.brief()
    );
    ensure!(
        ctx.rt(&["state", &id]).code != 0,
        "the container exists after the refusal"
    );
    Ok(())
}

fn personality(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.set("/linux/personality", json!({"domain": "LINUX32"}));
    let out = ctx.sh_ok(&mut b, "uname -m")?;
    ensure!(
        out.trim() == "i686",
        "LINUX32: uname -m says {:?}",
        out.trim()
    );
    Ok(())
}

fn ncpus() -> usize {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| s.trim().rsplit(['-', ',']).next()?.parse::<usize>().ok())
        .map_or(1, |n| n + 1)
}

fn allowed(text: &str) -> String {
    crate::harness::field(text, "Cpus_allowed_list")
        .unwrap_or("")
        .to_string()
}

/// The runtime run from `taskset -c 0` (or with env).
fn rt_pinned(ctx: &mut Ctx, pre: &[&str], args: &[&str]) -> crate::harness::Out {
    let mut full: Vec<String> = pre.iter().map(|s| s.to_string()).collect();
    full.push(ctx.env.runtime.to_string_lossy().into());
    full.push("--root".into());
    full.push(ctx.root.to_string_lossy().into());
    full.extend(args.iter().map(|s| s.to_string()));
    let mut n = 100_000 + crate::harness::next_n();
    let (prog, rest) = full.split_first().expect("a program");
    run_cmd(
        Path::new(prog),
        rest,
        None,
        None,
        ctx.env.timeout,
        &ctx.dir.clone(),
        &mut n,
    )
}

fn running(ctx: &mut Ctx, b: &mut Bundle) -> Result<String, Verdict> {
    b.args(&["sleep", "1000"]);
    let id = ctx.create(b)?;
    ctx.start(&id)?;
    Ok(id)
}

fn exec_cpu_affinity(ctx: &mut Ctx) -> TResult {
    if ncpus() < 2 {
        skip!("needs 2 CPUs");
    }
    let mut b = ctx.bundle();
    let id = running(ctx, &mut b)?;
    let p = ctx.path("process.json");
    for (aff, want) in [
        (json!({"initial": "0", "final": "1"}), "1"),
        (json!({"initial": "1"}), "1"),
    ] {
        std::fs::write(
            &p,
            json!({"args": ["grep", "Cpus_allowed_list", "/proc/self/status"], "cwd": "/",
                   "env": ["PATH=/bin:/usr/bin"],
                   "user": {"uid": 0, "gid": 0}, "execCPUAffinity": aff})
            .to_string(),
        )?;
        let o = ctx.rt(&["exec", "--process", &p.to_string_lossy(), &id]);
        ensure!(o.ok(), "exec with execCPUAffinity {aff}: {}", o.brief());
        ensure!(
            allowed(&o.stdout) == want,
            "execCPUAffinity {aff}: Cpus_allowed_list {:?}, want {want}",
            allowed(&o.stdout)
        );
    }
    Ok(())
}

fn cpu_affinity_reset(ctx: &mut Ctx) -> TResult {
    if ncpus() < 2 {
        skip!("needs 2 CPUs");
    }
    let all = format!("0-{}", ncpus() - 1);
    let mut b = ctx.bundle();
    b.args(&["grep", "Cpus_allowed_list", "/proc/self/status"]);
    b.save()?;
    let id = ctx.id();
    let bp = b.path.to_string_lossy().to_string();
    let o = rt_pinned(ctx, &["taskset", "-c", "0"], &["run", "--bundle", &bp, &id]);
    ctx.delete_force(&id);
    ensure!(o.ok(), "run: {}", o.brief());
    ensure!(
        allowed(&o.stdout) == all,
        "run from a caller pinned to CPU 0: the container's Cpus_allowed_list is {:?}, want every CPU ({all})",
        allowed(&o.stdout)
    );
    Ok(())
}

fn memory_policy(ctx: &mut Ctx) -> TResult {
    if !Path::new("/proc/self/numa_maps").exists() {
        skip!("the kernel has no NUMA support (no /proc/self/numa_maps)");
    }
    let mut b = ctx.bundle();
    b.set(
        "/linux/memoryPolicy",
        json!({"mode": "MPOL_BIND", "nodes": "0"}),
    );
    let out = ctx.sh_ok(&mut b, "head -1 /proc/self/numa_maps")?;
    ensure!(
        out.contains(" bind:0 "),
        "MPOL_BIND nodes 0: numa_maps says {out:?}"
    );
    Ok(())
}

fn memory_policy_invalid(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.set("/linux/memoryPolicy", json!({"mode": "MPOL_BIND"}));
    b.args(&["true"]);
    let id = ctx.id();
    let o = ctx.create_out(&b, &id);
    ensure!(!o.ok(), "MPOL_BIND without nodes was accepted");
    Ok(())
}

fn net_devices(ctx: &mut Ctx) -> TResult {
    let name = &format!(
        "cnf{}",
        (std::process::id() as usize * 31 + crate::harness::next_n()) % 1_000_000
    );
    let made = sh(&format!("ip link add {name} type dummy 2>/dev/null"))
        || sh(&format!("ip link add {name} type veth peer name {name}p"));
    if !made {
        skip!("cannot make a dummy or veth link here");
    }
    let n = name.to_string();
    ctx.extra_cleanup.push(Box::new(move || {
        let _ = Command::new("ip").args(["link", "del", &n]).output();
    }));
    sh(&format!("ip addr add 198.51.100.7/24 dev {name}"));
    let mut b = ctx.bundle();
    b.set("/linux/netDevices", json!({ name: {"name": "ctr7"} }));
    let out = ctx.sh_ok(&mut b, "ip -o link show ctr7; ip -o addr show dev ctr7")?;
    ensure!(
        out.contains("ctr7") && out.contains(",UP"),
        "the device is not in the container, renamed and up: {out:?}"
    );
    ensure!(
        out.contains("198.51.100.7/24"),
        "the global address was not kept: {out:?}"
    );
    Ok(())
}

fn resctrl_root() -> Option<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .ok()?
        .lines()
        .find(|l| l.contains(" - resctrl "))
        .and_then(|l| l.split(' ').nth(4).map(String::from))
}

fn intel_rdt(ctx: &mut Ctx) -> TResult {
    let Some(root) = resctrl_root() else {
        skip!("no resctrl filesystem on this host (no Intel RDT / AMD QoS)");
    };
    let clos = format!("conf-{}-{}", std::process::id(), crate::harness::next_n());
    let mut b = ctx.bundle();
    b.set("/linux/intelRdt", json!({"closID": clos}));
    let id = running(ctx, &mut b)?;
    let pid = ctx.pid(&id)?;
    let tasks = std::fs::read_to_string(format!("{root}/{clos}/tasks")).unwrap_or_default();
    ctx.delete_force(&id);
    ensure!(
        tasks.lines().any(|t| t == pid.to_string()),
        "the init is not in resctrl group {clos}"
    );
    Ok(())
}

fn intel_rdt_unavailable(ctx: &mut Ctx) -> TResult {
    if resctrl_root().is_some() {
        skip!("this host has resctrl (config-linux/intel-rdt runs instead)");
    }
    let mut b = ctx.bundle();
    b.set("/linux/intelRdt", json!({"closID": "conf"}));
    b.args(&["true"]);
    let id = ctx.id();
    let o = ctx.create_out(&b, &id);
    ensure!(
        !o.ok(),
        "linux.intelRdt on a host without resctrl was accepted (MUST error)"
    );
    Ok(())
}

fn exec_ioprio_sched(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    let id = running(ctx, &mut b)?;
    let p = ctx.path("process.json");
    std::fs::write(
        &p,
        json!({"args": ["sh", "-c", "cut -d' ' -f19,41 /proc/self/stat; ionice -p $$"], "cwd": "/",
               "env": ["PATH=/bin:/usr/bin"],
               "user": {"uid": 0, "gid": 0},
               "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 6},
               "scheduler": {"policy": "SCHED_BATCH", "nice": 7}})
        .to_string(),
    )?;
    let o = ctx.rt(&["exec", "--process", &p.to_string_lossy(), &id]);
    ensure!(o.ok(), "exec: {}", o.brief());
    let l: Vec<&str> = o.stdout.lines().collect();
    ensure!(
        l.first() == Some(&"7 3"),
        "nice/policy of the exec'd process {:?}, want \"7 3\" (SCHED_BATCH)",
        l.first()
    );
    ensure!(
        l.get(1) == Some(&"best-effort: prio 6"),
        "io priority {:?}",
        l.get(1)
    );
    Ok(())
}

/// Accepts one connection on `l` (for `secs`) and receives (data, fd).
fn accept_fd(l: std::os::unix::net::UnixListener, secs: u64) -> Option<(String, OwnedFd)> {
    l.set_nonblocking(true).ok()?;
    let end = Instant::now() + Duration::from_secs(secs);
    let conn = loop {
        match l.accept() {
            Ok((c, _)) => break c,
            Err(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => return None,
        }
    };
    conn.set_nonblocking(false).ok()?;
    let mut buf = [0u8; 64];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = nix::sys::socket::recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .ok()?;
    let mut fd = None;
    for c in msg.cmsgs().ok()? {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(f) = c {
            // SAFETY: received with SCM_RIGHTS: ours.
            fd = f.first().map(|f| unsafe { OwnedFd::from_raw_fd(*f) });
        }
    }
    let n = msg.bytes;
    Some((String::from_utf8_lossy(&buf[..n]).to_string(), fd?))
}

fn pidfd_pid(fd: &OwnedFd) -> Option<i32> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
    crate::harness::field(&info, "Pid")?.parse().ok()
}

fn pidfd_socket(ctx: &mut Ctx) -> TResult {
    let sock: PathBuf = ctx.path("pidfd.sock");
    let l = std::os::unix::net::UnixListener::bind(&sock)?;
    let rx = std::thread::spawn(move || accept_fd(l, 30));
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    b.save()?;
    let id = ctx.id();
    let bp = b.path.to_string_lossy().to_string();
    let o = ctx.rt(&[
        "create",
        "--pidfd-socket",
        &sock.to_string_lossy(),
        "--bundle",
        &bp,
        &id,
    ]);
    ensure!(o.ok(), "create --pidfd-socket: {}", o.brief());
    let got = rx.join().ok().flatten();
    let Some((msg, fd)) = got else {
        fail!("nothing received on the --pidfd-socket");
    };
    let pid = ctx.pid(&id)?;
    ensure!(
        msg == "standard",
        "message {msg:?}, want runc's \"standard\""
    );
    ensure!(
        pidfd_pid(&fd) == Some(pid),
        "the pidfd is of pid {:?}, not the init {pid}",
        pidfd_pid(&fd)
    );
    Ok(())
}

fn notify_socket(ctx: &mut Ctx) -> TResult {
    let helper = match tong_testkit::helpers::sdnotify(&ctx.dir.join("helpers")) {
        Ok(h) => h,
        Err(e) => skip!("cannot build the static sd_notify helper: {e}"),
    };
    let host = ctx.path("host-notify.sock");
    let hs = std::os::unix::net::UnixDatagram::bind(&host)?;
    hs.set_read_timeout(Some(Duration::from_secs(25)))?;
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        // Read as systemd would (the barrier's pipe closes as it is taken).
        while got.len() < 3 {
            match hs.recv(&mut buf) {
                Ok(n) => got.push(String::from_utf8_lossy(&buf[..n]).to_string()),
                Err(_) => break,
            }
        }
        got
    });
    let mut b = ctx.bundle();
    std::fs::copy(&helper, b.rootfs().join("sdnotify"))?;
    b.sh("/sdnotify READY=1 && sleep 1000");
    b.save()?;
    let id = ctx.id();
    let bp = b.path.to_string_lossy().to_string();
    let env = format!("NOTIFY_SOCKET={}", host.display());
    let o = rt_pinned(ctx, &["env", &env], &["create", "--bundle", &bp, &id]);
    ensure!(o.ok(), "create with NOTIFY_SOCKET: {}", o.brief());
    let o = rt_pinned(ctx, &["env", &env], &["start", &id]);
    ensure!(o.ok(), "start with NOTIFY_SOCKET: {}", o.brief());
    let pid = ctx.pid(&id)?;
    let got = reader.join().unwrap_or_default();
    ensure!(
        got.len() >= 2 && got[0] == "READY=1\n" && got[1] == format!("MAINPID={pid}\n"),
        "the host's NOTIFY_SOCKET got {got:?}, want READY=1 then MAINPID={pid}"
    );
    Ok(())
}

fn kill_zero(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    let id = running(ctx, &mut b)?;
    let o = ctx.rt(&["kill", &id, "0"]);
    ensure!(o.ok(), "kill ID 0 of a running container: {}", o.brief());
    ensure!(
        ctx.status(&id)? == "running",
        "signal 0 changed the container"
    );
    let o = ctx.rt(&["kill", &id, "KILL"]);
    ensure!(o.ok(), "kill KILL: {}", o.brief());
    ctx.wait_status(&id, "stopped", 10)?;
    let o = ctx.rt(&["kill", "--all", &id, "0"]);
    ensure!(
        o.ok(),
        "kill --all ID 0 of a stopped container must succeed (runc 1.2): {}",
        o.brief()
    );
    let o = ctx.rt(&["kill", &id, "0"]);
    ensure!(
        !o.ok() && o.stderr.contains("container not running"),
        "kill ID 0 of a stopped container: {} (want an error saying \"container not running\", which shims read)",
        o.brief()
    );
    Ok(())
}

fn sigkill_all(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.del_ns("pid");
    let id = {
        b.sh("sleep 1000 & echo $! > /child; wait");
        let id = ctx.create(&b)?;
        ctx.start(&id)?;
        id
    };
    let f = b.rootfs().join("child");
    let end = Instant::now() + Duration::from_secs(10);
    let child: i32 = loop {
        if let Some(p) = std::fs::read_to_string(&f)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            break p;
        }
        if Instant::now() > end {
            fail!("the container's child never started");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let o = ctx.rt(&["kill", &id, "KILL"]);
    ensure!(o.ok(), "kill KILL: {}", o.brief());
    let end = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{child}")).exists() {
        let st = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        if st.split(' ').nth(2) == Some("Z") {
            break;
        }
        if Instant::now() > end {
            fail!("SIGKILL to a container without its own pid namespace left its process {child} alive");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn features_document(ctx: &mut Ctx) -> TResult {
    let o = ctx.rt(&["features"]);
    ensure!(o.ok(), "features: {}", o.brief());
    let v: Value = serde_json::from_str(&o.stdout)
        .map_err(|e| Verdict::Fail(format!("features is not JSON: {e}")))?;
    for k in ["ociVersionMin", "ociVersionMax"] {
        ensure!(v[k].is_string(), "features has no {k}");
    }
    let opts: Vec<&str> = v["mountOptions"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    for need in ["bind", "rbind", "ro", "nosuid", "rprivate"] {
        ensure!(opts.contains(&need), "mountOptions lacks {need:?}");
    }
    // A runtime that lists rro must honour it (containerd 2 relies on it):
    // checked by config/mounts/recursive-attributes.
    let ns: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    for need in ["mount", "pid", "network", "ipc", "uts"] {
        ensure!(ns.contains(&need), "linux.namespaces lacks {need:?}");
    }
    Ok(())
}
