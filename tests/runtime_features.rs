//! The runtime-spec 1.2/1.3 features of issue 17, each checked inside a real
//! container and on the host: idmapped and ridmapped bind mounts, recursive
//! mount attributes, unknown bind options refused, personality,
//! execCPUAffinity and the affinity reset, netDevices, memoryPolicy,
//! intelRdt, --pidfd-socket, NOTIFY_SOCKET, exec with ioPriority and
//! scheduler, poststart failures and `kill` with signal 0.

mod common;
use common::*;
use serde_json::json;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn sh(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", cmd])
        .status()
        .is_ok_and(|s| s.success())
}

/// A tmpfs mounted at `dir` (removed with the test's work dir).
fn tmpfs_at(dir: &Path, opts: &str) {
    std::fs::create_dir_all(dir).unwrap();
    assert!(
        sh(&format!(
            "mount -t tmpfs -o {opts} tong-it {}",
            dir.display()
        )),
        "mount tmpfs at {}",
        dir.display()
    );
}

fn mapping(host: u32) -> serde_json::Value {
    json!([{"containerID": 0, "hostID": host, "size": 65536}])
}

/// A mount's per-mount options in `mi` (field 6), by mount point.
fn opts_of(mi: &[MountEntry], point: &str) -> Vec<String> {
    find_mount(mi, point)
        .unwrap_or_else(|| panic!("{point} not mounted"))
        .opts
        .clone()
}

fn mountinfo_after(out: &str) -> Vec<MountEntry> {
    let (_, mi) = out
        .split_once("---\n")
        .unwrap_or_else(|| panic!("no mountinfo in {out}"));
    parse_mountinfo(mi)
}

// ---------------------------------------------------------------------------
// Idmapped mounts

/// A bind mount with its own uidMappings/gidMappings in a container without a
/// user namespace: host ids are seen shifted by the mapping, and a write by
/// root (an id the mount does not map) is refused.
/// Why this kernel cannot idmap a mount of `dir`'s filesystem, if it cannot:
/// tmpfs gained idmapped mounts in 6.3 (a TCG guest's /tmp is a tmpfs on 6.1).
fn idmap_unsupported(dir: &Path) -> Option<String> {
    use nix::sys::statfs::{statfs, TMPFS_MAGIC};
    let tmpfs = statfs(dir).is_ok_and(|s| s.filesystem_type() == TMPFS_MAGIC);
    let uts = nix::sys::utsname::uname().ok()?;
    let release = uts.release().to_string_lossy().into_owned();
    let mut v = release
        .split(['.', '-'])
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (v.next().unwrap_or(0), v.next().unwrap_or(0));
    (tmpfs && (major, minor) < (6, 3)).then(|| {
        format!(
            "{} is a tmpfs and kernel {release} idmaps tmpfs from 6.3 on",
            dir.display()
        )
    })
}

#[test]
fn idmapped_bind_mount_shifts_ownership() {
    require_root!();
    let ctx = Ctx::new("ft-idmap");
    let src = ctx.dir("vol");
    if let Some(why) = idmap_unsupported(&src) {
        skip_because!("{why}");
    }
    std::fs::write(src.join("f"), "hostfile\n").unwrap();
    std::os::unix::fs::chown(src.join("f"), Some(1000), Some(1000)).unwrap();
    let mut b = ctx.bundle(
        "stat -c %u:%g /vol/f /plain/f; cat /vol/f; touch /vol/x 2>&1 || echo write-refused",
    );
    b.push_mount(
        json!({"destination": "/vol", "type": "bind", "source": src, "options": ["bind", "idmap"],
        "uidMappings": mapping(100000), "gidMappings": mapping(100000)}),
    );
    b.push_mount(
        json!({"destination": "/plain", "type": "bind", "source": src, "options": ["bind"]}),
    );
    let out = ctx.tong.output_of(&b, &ctx.id(""));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "101000:101000", "idmapped view: {out}");
    assert_eq!(lines[1], "1000:1000", "plain bind of the same dir: {out}");
    assert_eq!(lines[2], "hostfile");
    assert!(
        out.contains("write-refused"),
        "root is unmapped there: {out}"
    );
    assert!(!src.join("x").exists());
    // The host's view never changes.
    assert_eq!(std::fs::metadata(src.join("f")).unwrap().uid(), 1000);
    assert_clean_simple(&ctx.tong, &ctx.id(""), &b, &[]);
}

/// containerd 2's shape: a user-namespaced container with a volume idmapped
/// to the same mapping, so host ownership shows through and what the
/// container's root writes lands as host root; and `idmap` without mappings
/// uses the container's own user namespace.
#[test]
fn idmapped_mount_in_a_user_namespace() {
    require_root!();
    let ctx = Ctx::new("ft-idmap-userns");
    let src = ctx.dir("vol");
    if let Some(why) = idmap_unsupported(&src) {
        skip_because!("{why}");
    }
    std::fs::write(src.join("f"), "x").unwrap();
    std::os::unix::fs::chown(src.join("f"), Some(1000), Some(1000)).unwrap();
    let mut b = ctx.bundle(
        "stat -c %u:%g /vol/f /vol2/f; echo w > /vol/new && stat -c %u /vol/new; cat /proc/self/uid_map",
    );
    b.userns(200000, 65536);
    // The user namespace's root owns its rootfs (it makes the mount points).
    assert!(sh(&format!(
        "chown -hR 200000:200000 {}",
        b.rootfs().display()
    )));
    b.push_mount(json!({"destination": "/vol", "type": "bind", "source": src, "options": ["rbind", "rprivate"],
        "uidMappings": mapping(200000), "gidMappings": mapping(200000)}));
    b.push_mount(
        json!({"destination": "/vol2", "type": "bind", "source": src, "options": ["bind", "idmap"]}),
    );
    let out = ctx.tong.output_of(&b, &ctx.id(""));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        &lines[..3],
        &["1000:1000", "1000:1000", "0"],
        "inside the user namespace: {out}"
    );
    assert!(
        lines[3].split_whitespace().eq(["0", "200000", "65536"]),
        "{out}"
    );
    let md = std::fs::metadata(src.join("new")).unwrap();
    assert_eq!(
        (md.uid(), md.gid()),
        (0, 0),
        "the container's root writes as host root"
    );
    assert_clean_simple(&ctx.tong, &ctx.id(""), &b, &[]);
}

/// `ridmap` idmaps the submounts of an rbind too; `idmap` only the top.
#[test]
fn ridmap_covers_submounts() {
    require_root!();
    let ctx = Ctx::new("ft-ridmap");
    let src = ctx.dir("tree");
    if let Some(why) = idmap_unsupported(&src) {
        skip_because!("{why}");
    }
    std::fs::write(src.join("top"), "t").unwrap();
    std::os::unix::fs::chown(src.join("top"), Some(1000), Some(1000)).unwrap();
    let sub = src.join("sub");
    tmpfs_at(&sub, "size=1m");
    std::fs::write(sub.join("f"), "s").unwrap();
    std::os::unix::fs::chown(sub.join("f"), Some(1000), Some(1000)).unwrap();
    let mut b = ctx.bundle("stat -c %u /r/top /r/sub/f /i/top /i/sub/f");
    let maps = json!({"uidMappings": mapping(100000), "gidMappings": mapping(100000)});
    for (dest, opt) in [("/r", "ridmap"), ("/i", "idmap")] {
        let mut m =
            json!({"destination": dest, "type": "bind", "source": src, "options": ["rbind", opt]});
        m["uidMappings"] = maps["uidMappings"].clone();
        m["gidMappings"] = maps["gidMappings"].clone();
        b.push_mount(m);
    }
    let out = ctx.tong.output_of(&b, &ctx.id(""));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["101000", "101000", "101000", "1000"],
        "ridmap: top and submount shifted; idmap: the top only"
    );
    assert_clean_simple(&ctx.tong, &ctx.id(""), &b, &[]);
}

/// What cannot be idmapped fails create with the mount named, and nothing
/// is left behind.
#[test]
fn idmap_refusals_name_the_mount() {
    require_root!();
    let ctx = Ctx::new("ft-idmap-bad");
    let src = ctx.dir("v");
    let cases = [
        // idmap on a non-bind mount
        json!({"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"],
               "uidMappings": mapping(1), "gidMappings": mapping(1)}),
        // only one of the maps
        json!({"destination": "/t", "type": "bind", "source": src, "options": ["bind"],
               "uidMappings": mapping(1)}),
        // idmap without maps and without a user namespace
        json!({"destination": "/t", "type": "bind", "source": src, "options": ["bind", "idmap"]}),
    ];
    for (i, m) in cases.into_iter().enumerate() {
        let mut b = ctx.bundle("true");
        b.push_mount(m.clone());
        let id = ctx.id(&i.to_string());
        let o = ctx.tong.create(&b, &id, &[]);
        assert_eq!(o.code, 1, "{m}: {}", o.stderr);
        assert!(o.stderr.contains("(/t)"), "{m}: {}", o.stderr);
        assert_clean_simple(&ctx.tong, &id, &b, &[]);
    }
}

// ---------------------------------------------------------------------------
// Recursive mount attributes

/// Every recursive attribute that sets a flag, on an rbind with a submount:
/// both carry it in the container's mountinfo.
#[test]
fn recursive_attributes_reach_submounts() {
    require_root!();
    let ctx = Ctx::new("ft-rattr");
    let src = ctx.dir("tree");
    tmpfs_at(&src.join("sub"), "size=1m");
    let cases: [(&str, &[&str], &[&str]); 9] = [
        ("rro", &["ro"], &[]),
        ("rnosuid", &["nosuid"], &[]),
        ("rnodev", &["nodev"], &[]),
        ("rnoexec", &["noexec"], &[]),
        ("rnoatime", &["noatime"], &["relatime"]),
        ("rstrictatime", &[], &["relatime", "noatime"]),
        ("rrelatime", &["relatime"], &["noatime"]),
        ("rnodiratime", &["nodiratime"], &[]),
        ("rnosymfollow", &["nosymfollow"], &[]),
    ];
    let mut b = ctx.bundle("echo ---; cat /proc/self/mountinfo");
    for (opt, _, _) in &cases {
        b.push_mount(
            json!({"destination": format!("/{opt}"), "type": "bind", "source": src,
            "options": ["rbind", opt]}),
        );
    }
    let out = ctx.tong.output_of(&b, &ctx.id(""));
    let mi = mountinfo_after(&out);
    for (opt, want, not) in cases {
        for point in [format!("/{opt}"), format!("/{opt}/sub")] {
            let o = opts_of(&mi, &point);
            for w in want {
                assert!(o.iter().any(|x| x == w), "{point}: {w} missing in {o:?}");
            }
            for n in not {
                assert!(!o.iter().any(|x| x == n), "{point}: {n} present in {o:?}");
            }
        }
    }
    assert_clean_simple(&ctx.tong, &ctx.id(""), &b, &[]);
}

/// The clearing attributes undo what the source's submount has: rrw rsuid
/// rdev rexec ratime rdiratime rsymfollow on a tree whose submount is ro,
/// nosuid, nodev, noexec, noatime, nodiratime, nosymfollow on the host.
#[test]
fn recursive_attributes_clear_flags() {
    require_root!();
    let ctx = Ctx::new("ft-rattr-clear");
    let src = ctx.dir("tree");
    let sub = src.join("sub");
    tmpfs_at(&sub, "size=1m");
    // Per-mount flags only: the filesystem itself stays writable.
    assert!(sh(&format!(
        "mount -o remount,bind,ro,nosuid,nodev,noexec,noatime,nodiratime,nosymfollow {}",
        sub.display()
    )));
    let mut b =
        ctx.bundle("touch /c/sub/x 2>&1 || echo readonly; echo ---; cat /proc/self/mountinfo");
    b.push_mount(json!({"destination": "/c", "type": "bind", "source": src,
        "options": ["rbind", "rrw", "rsuid", "rdev", "rexec", "ratime", "rdiratime", "rsymfollow"]}));
    b.push_mount(json!({"destination": "/k", "type": "bind", "source": src, "options": ["rbind"]}));
    let out = ctx.tong.output_of(&b, &ctx.id(""));
    let mi = mountinfo_after(&out);
    let cleared = opts_of(&mi, "/c/sub");
    for gone in [
        "ro",
        "nosuid",
        "nodev",
        "noexec",
        "noatime",
        "nodiratime",
        "nosymfollow",
    ] {
        assert!(
            !cleared.iter().any(|o| o == gone),
            "{gone} left: {cleared:?}"
        );
    }
    assert!(cleared.iter().any(|o| o == "relatime"), "{cleared:?}");
    // Without the attributes the submount keeps what it had.
    let kept = opts_of(&mi, "/k/sub");
    for o in ["ro", "nosuid", "nodev", "noexec", "noatime", "nosymfollow"] {
        assert!(kept.iter().any(|x| x == o), "{o} missing: {kept:?}");
    }
    assert!(
        !out.contains("readonly"),
        "the submount stayed read-only: {out}"
    );
    assert_clean_simple(&ctx.tong, &ctx.id(""), &b, &[]);
}

/// "ro" on an rbind is for the top mount only (runc); "rro" for all of it.
#[test]
fn ro_versus_rro() {
    require_root!();
    let ctx = Ctx::new("ft-rro");
    let src = ctx.dir("tree");
    tmpfs_at(&src.join("sub"), "size=1m");
    let mut b = ctx.bundle(
        "for f in /ro/x /ro/sub/x /rro/x /rro/sub/x; do touch $f 2>/dev/null && echo $f:rw || echo $f:ro; done",
    );
    b.push_mount(
        json!({"destination": "/ro", "type": "bind", "source": src, "options": ["rbind", "ro"]}),
    );
    b.push_mount(
        json!({"destination": "/rro", "type": "bind", "source": src, "options": ["rbind", "rro"]}),
    );
    let out = ctx.tong.output_of(&b, &ctx.id(""));
    assert_eq!(out, "/ro/x:ro\n/ro/sub/x:rw\n/rro/x:ro\n/rro/sub/x:ro\n");
    assert_clean_simple(&ctx.tong, &ctx.id(""), &b, &[]);
}

/// An option tong does not know on a bind mount fails create, naming the
/// option and the mount, before anything exists; on a tmpfs it is mount data
/// for the kernel (which refuses this one).
#[test]
fn unknown_bind_option_is_refused() {
    require_root!();
    let ctx = Ctx::new("ft-unknown-opt");
    let src = ctx.dir("v");
    let mut b = ctx.bundle("true");
    b.push_mount(json!({"destination": "/v", "type": "bind", "source": src,
        "options": ["rbind", "rprivate", "tgbogus"]}));
    let id = ctx.id("");
    let o = ctx.tong.create(&b, &id, &[]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr.contains("\\\"tgbogus\\\"") || o.stderr.contains("\"tgbogus\""),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("(/v)"), "{}", o.stderr);
    assert!(!b.rootfs().join("v").exists(), "the mount point was made");
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
    // On a tmpfs it is passed to the kernel as data.
    let mut b = ctx.bundle("true");
    b.push_mount(
        json!({"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["tgbogus"]}),
    );
    let id = ctx.id("tmpfs");
    let o = ctx.tong.create(&b, &id, &[]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    // runc's words: the mount named, then the mount(2) the kernel refused.
    assert!(
        o.stderr.contains(
            r#"error mounting \"tmpfs\" to rootfs at \"/t\": mount src=tmpfs, dst=/t, dstFd="#
        ),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("data=tgbogus: invalid argument"),
        "{}",
        o.stderr
    );
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}

// ---------------------------------------------------------------------------
// Process attributes

/// linux.personality LINUX32: `uname -m` says i686 in the init and in exec.
#[test]
fn personality_linux32() {
    require_root!();
    let ctx = Ctx::new("ft-pers");
    let mut b = ctx.bundle("uname -m; sleep 60");
    b.set("/linux/personality", json!({"domain": "LINUX32"}));
    let id = ctx.id("");
    ctx.tong.run_detached(&b, &id).success();
    let o = ctx.tong.cmd(&["exec", &id, "uname", "-m"]).success();
    assert_eq!(o.stdout.trim(), "i686");
    ctx.tong.delete_force(&id).success();
    let mut b = ctx.bundle("uname -m");
    b.set("/linux/personality", json!({"domain": "LINUX"}));
    assert_eq!(ctx.tong.output_of(&b, &ctx.id("64")).trim(), "x86_64");
    let mut b = ctx.bundle("uname -m");
    b.set("/linux/personality", json!({"domain": "LINUX32"}));
    assert_eq!(ctx.tong.output_of(&b, &ctx.id("32")).trim(), "i686");
}

fn cpus() -> usize {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| s.trim().rsplit(['-', ',']).next()?.parse::<usize>().ok())
        .map_or(1, |n| n + 1)
}

fn allowed(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("no Cpus_allowed_list in {out:?}"))
}

/// tong run under `taskset -c 0`: the init is not stuck on CPU 0 (the reset
/// to every CPU, or to the container's cpuset); exec's initial/final and
/// the reset for exec'd processes.
#[test]
fn cpu_affinity_reset_and_exec_cpu_affinity() {
    require_root!();
    if cpus() < 2 {
        tong_testkit::skip::skip("needs 2 CPUs");
        return;
    }
    let ctx = Ctx::new("ft-affinity");
    let all = format!("0-{}", cpus() - 1);
    let tong = ctx.tong.bin.to_str().unwrap().to_string();
    let root = ctx.tong.root.to_str().unwrap().to_string();
    // The init, started from a process pinned to CPU 0.
    let b = ctx.bundle("grep Cpus_allowed_list /proc/self/status; sleep 60");
    b.save();
    let id = ctx.id("");
    ctx.tong.track(&id);
    // stdio to a file: the container keeps what it inherits.
    let log = ctx.work.join("init.out");
    let st = Command::new("taskset")
        .args(["-c", "0", &tong, "--root", &root, "run", "-d", "--bundle"])
        .arg(&b.dir)
        .arg(&id)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let pid = ctx.tong.pid(&id);
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert_eq!(allowed(&st), all, "the init kept tong's CPU 0");
    // exec from a pinned tong: reset, initial only, initial + final.
    let exec = |affinity: Option<serde_json::Value>| {
        let mut p = json!({"args": ["grep", "Cpus_allowed_list", "/proc/self/status"], "cwd": "/",
            "user": {"uid": 0, "gid": 0}});
        if let Some(a) = affinity {
            p["execCPUAffinity"] = a;
        }
        let f = ctx.work.join("process.json");
        std::fs::write(&f, p.to_string()).unwrap();
        let o = Command::new("taskset")
            .args(["-c", "0", &tong, "--root", &root, "exec", "--process"])
            .arg(&f)
            .arg(&id)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        allowed(&String::from_utf8_lossy(&o.stdout))
    };
    assert_eq!(exec(None), all, "exec'd process kept tong's CPU 0");
    assert_eq!(exec(Some(json!({"initial": "1"}))), "1");
    assert_eq!(exec(Some(json!({"initial": "0", "final": "1"}))), "1");
    assert_eq!(exec(Some(json!({"final": "0"}))), "0");
    ctx.tong.delete_force(&id).success();
    // A cpuset narrows the reset.
    let mut b = ctx.bundle("grep Cpus_allowed_list /proc/self/status");
    b.set("/linux/resources/cpu", json!({"cpus": "1", "mems": "0"}));
    assert_eq!(allowed(&ctx.tong.output_of(&b, &ctx.id("cpuset"))), "1");
}

/// linux.memoryPolicy: the container's processes (init and exec) allocate
/// under the policy, as /proc/self/numa_maps shows; bad policies are refused.
#[test]
fn memory_policy() {
    require_root!();
    if !Path::new("/proc/self/numa_maps").exists() {
        tong_testkit::skip::skip("the kernel has no NUMA support (/proc/self/numa_maps)");
        return;
    }
    let ctx = Ctx::new("ft-mempol");
    let mut b = ctx.bundle("head -1 /proc/self/numa_maps; sleep 60");
    b.set(
        "/linux/memoryPolicy",
        json!({"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}),
    );
    let id = ctx.id("");
    let o = ctx.tong.run_detached(&b, &id).success();
    wait_until("init output", Duration::from_secs(10), || {
        !o.stdout_now().is_empty()
    });
    assert!(
        o.stdout_now().contains(" interleave=static:0 "),
        "{}",
        o.stdout_now()
    );
    let e = ctx
        .tong
        .cmd(&["exec", &id, "head", "-1", "/proc/self/numa_maps"])
        .success();
    assert!(e.stdout.contains(" interleave=static:0 "), "{}", e.stdout);
    ctx.tong.delete_force(&id).success();
    for bad in [
        json!({"mode": "MPOL_BIND"}),
        json!({"mode": "MPOL_DEFAULT", "nodes": "0"}),
        json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}),
    ] {
        let mut b = ctx.bundle("true");
        b.set("/linux/memoryPolicy", bad.clone());
        let id = ctx.id("bad");
        let o = ctx.tong.create(&b, &id, &[]);
        assert_eq!(o.code, 1, "{bad}");
        assert!(o.stderr.contains("linux.memoryPolicy"), "{}", o.stderr);
        assert_clean_simple(&ctx.tong, &id, &b, &[]);
    }
}

/// exec --process with ioPriority and scheduler: the exec'd process has
/// them; out-of-range values are refused with exec's exit code 255.
#[test]
fn exec_io_priority_and_scheduler() {
    require_root!();
    let ctx = Ctx::new("ft-exec-sched");
    let b = ctx.bundle("sleep 60");
    let id = ctx.id("");
    ctx.tong.run_detached(&b, &id).success();
    let f = ctx.work.join("p.json");
    std::fs::write(
        &f,
        json!({"args": ["sh", "-c", "ionice -p $$; cut -d' ' -f19,41 /proc/self/stat"], "cwd": "/",
               "user": {"uid": 0, "gid": 0},
               "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 6},
               "scheduler": {"policy": "SCHED_BATCH", "nice": 7}})
        .to_string(),
    )
    .unwrap();
    let o = ctx
        .tong
        .cmd(&["exec", "--process", f.to_str().unwrap(), &id])
        .success();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], "best-effort: prio 6", "{}", o.stdout);
    assert_eq!(
        lines[1], "7 3",
        "nice 7, policy SCHED_BATCH (3): {}",
        o.stdout
    );
    std::fs::write(
        &f,
        json!({"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0},
               "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 9}})
        .to_string(),
    )
    .unwrap();
    let o = ctx
        .tong
        .cmd(&["exec", "--process", f.to_str().unwrap(), &id]);
    assert_eq!(o.code, 255, "{}", o.stderr);
    assert!(o.stderr.contains("ioPriority"), "{}", o.stderr);
}

// ---------------------------------------------------------------------------
// Host resources

/// linux.netDevices: a host link (a dummy, or a veth where the kernel has
/// no dummy driver) is moved into the container's new network namespace,
/// renamed, up, with its global address; it is gone from the host; once the
/// container is deleted its namespace is freed and the kernel destroys the
/// virtual link (the spec forbids moving it back).
#[test]
fn net_devices_move_and_rename() {
    require_root!();
    let ctx = Ctx::new("ft-netdev");
    let host = format!("tgn{}", std::process::id() % 100000);
    let peer = format!("{host}p");
    let made = sh(&format!("ip link add {host} type dummy 2>/dev/null"))
        || sh(&format!("ip link add {host} type veth peer name {peer}"));
    assert!(made, "make a test link");
    struct DelLink(String);
    impl Drop for DelLink {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["link", "del", &self.0]).output();
        }
    }
    let _del = DelLink(host.clone());
    assert!(sh(&format!(
        "ip addr add 192.0.2.9/24 dev {host} && ip link set {host} mtu 1400"
    )));
    let mut b = ctx.bundle("ip -o link show ctr0; ip -o addr show dev ctr0; sleep 60");
    b.set("/linux/netDevices", json!({ &host: {"name": "ctr0"} }));
    let id = ctx.id("");
    let o = ctx.tong.run_detached(&b, &id).success();
    wait_until("init output", Duration::from_secs(10), || {
        o.stdout_now().lines().count() >= 2
    });
    let out = o.stdout_now();
    assert!(out.contains("ctr0") && out.contains(",UP"), "{out}");
    assert!(out.contains("mtu 1400"), "attributes kept: {out}");
    assert!(out.contains("192.0.2.9/24"), "global address kept: {out}");
    assert!(
        !sh(&format!("ip link show {host} >/dev/null 2>&1")),
        "still on the host"
    );
    let pid = ctx.tong.pid(&id);
    assert!(sh(&format!(
        "nsenter -t {pid} -n ip link show ctr0 >/dev/null"
    )));
    ctx.tong.delete_force(&id).success();
    wait_until(
        "the link to go with the namespace",
        Duration::from_secs(10),
        || {
            !sh(&format!("ip link show {host} >/dev/null 2>&1"))
                && !sh(&format!("ip link show {peer} >/dev/null 2>&1"))
        },
    );
    // A missing device fails create, naming it; no network namespace: refused.
    let mut b = ctx.bundle("true");
    b.set("/linux/netDevices", json!({"tgn-missing0": {}}));
    let id = ctx.id("missing");
    let o = ctx.tong.create(&b, &id, &[]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("linux.netDevices[tgn-missing0]"),
        "{}",
        o.stderr
    );
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
    let mut b = ctx.bundle("true");
    b.set("/linux/netDevices", json!({"lo": {}}));
    b.remove_namespace("network");
    let id = ctx.id("nons");
    let o = ctx.tong.create(&b, &id, &[]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("network namespace"), "{}", o.stderr);
}

/// linux.intelRdt: where no resctrl filesystem is mounted, create fails with
/// one clear error and leaves nothing; where it is, the init is in the group.
#[test]
fn intel_rdt() {
    require_root!();
    let ctx = Ctx::new("ft-rdt");
    let resctrl = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .find(|l| l.contains(" - resctrl "))
        .and_then(|l| l.split(' ').nth(4).map(String::from));
    let mut b = ctx.bundle("sleep 60");
    let clos = format!("tong-it-{}", std::process::id());
    b.set("/linux/intelRdt", json!({"closID": clos}));
    let id = ctx.id("");
    match resctrl {
        None => {
            let o = ctx.tong.create(&b, &id, &[]);
            assert_eq!(o.code, 1);
            assert!(
                o.stderr.contains("linux.intelRdt") && o.stderr.contains("resctrl"),
                "{}",
                o.stderr
            );
            assert_eq!(o.stderr.lines().count(), 1, "one line: {}", o.stderr);
            assert_clean_simple(&ctx.tong, &id, &b, &[]);
        }
        Some(root) => {
            ctx.tong.run_detached(&b, &id).success();
            let pid = ctx.tong.pid(&id);
            let tasks = std::fs::read_to_string(format!("{root}/{clos}/tasks")).unwrap();
            assert!(tasks.lines().any(|t| t == pid.to_string()), "{tasks}");
            ctx.tong.delete_force(&id).success();
            assert!(!Path::new(&format!("{root}/{clos}")).exists());
        }
    }
}

// ---------------------------------------------------------------------------
// Sockets: --pidfd-socket, NOTIFY_SOCKET

/// Listens on `path`, runs `cmd`, and returns (message, pidfd) received.
/// The command's stdio goes to files: the container keeps what it inherits.
fn receive_pidfd(path: &Path, mut cmd: Command) -> (String, OwnedFd, std::process::Output) {
    use std::os::unix::net::UnixListener;
    let l = UnixListener::bind(path).unwrap();
    let err = path.with_extension("err");
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap());
    let child = std::thread::spawn(move || {
        let status = cmd.status().unwrap();
        std::process::Output {
            status,
            stdout: Vec::new(),
            stderr: std::fs::read(&err).unwrap_or_default(),
        }
    });
    let (conn, _) = l.accept().unwrap();
    let mut buf = [0u8; 64];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = nix::sys::socket::recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .unwrap();
    let mut fd = None;
    for c in msg.cmsgs().unwrap() {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(f) = c {
            // SAFETY: received with SCM_RIGHTS: ours.
            fd = Some(unsafe { OwnedFd::from_raw_fd(f[0]) });
        }
    }
    let n = msg.bytes;
    let out = child.join().unwrap();
    (
        String::from_utf8_lossy(&buf[..n]).to_string(),
        fd.expect("an fd with the message"),
        out,
    )
}

fn pidfd_pid(fd: &OwnedFd) -> i32 {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// --pidfd-socket on create and exec: runc's messages ("standard", "setns"),
/// a pidfd of the right process, which can signal it.
#[test]
fn pidfd_socket_create_and_exec() {
    require_root!();
    let ctx = Ctx::new("ft-pidfd");
    let b = ctx.bundle("sleep 60");
    b.save();
    let id = ctx.id("");
    ctx.tong.track(&id);
    let sock = ctx.work.join("pidfd.sock");
    let mut c = ctx.tong.command();
    c.args([
        "create",
        "--pidfd-socket",
        sock.to_str().unwrap(),
        "--bundle",
    ])
    .arg(&b.dir)
    .arg(&id)
    .stdin(std::process::Stdio::null());
    let (msg, fd, out) = receive_pidfd(&sock, c);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(msg, "standard");
    let init = ctx.tong.pid(&id);
    assert_eq!(pidfd_pid(&fd), init);
    ctx.tong.start(&id).success();
    // An exec'd process.
    let sock2 = ctx.work.join("pidfd2.sock");
    let pidfile = ctx.work.join("exec.pid");
    let mut c = ctx.tong.command();
    c.args([
        "exec",
        "-d",
        "--pidfd-socket",
        sock2.to_str().unwrap(),
        "--pid-file",
    ])
    .arg(&pidfile)
    .args([&id, "sleep", "60"])
    .stdin(std::process::Stdio::null());
    let (msg, efd, out) = receive_pidfd(&sock2, c);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(msg, "setns");
    let epid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pidfd_pid(&efd), epid);
    // The pidfd signals the process it names.
    // SAFETY: pidfd_send_signal on a pidfd we own.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            libc::SIGKILL,
            0,
            0,
        )
    };
    assert_eq!(r, 0);
    ctx.tong.wait_stopped(&id);
    // A socket nobody listens on: create fails before making anything.
    let id2 = ctx.id("nosock");
    let o = ctx
        .tong
        .create(&b, &id2, &["--pidfd-socket", "/nonexistent/tong.sock"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("pidfd-socket"), "{}", o.stderr);
    assert_clean_simple(&ctx.tong, &id2, &b, &[]);
}

/// NOTIFY_SOCKET: the container sees /run/notify/notify.sock; `start` returns
/// once it said READY=1, and the host socket got READY=1, MAINPID=<init>
/// and a barrier; a container that exits without READY does not hang start.
#[test]
fn notify_socket_proxy() {
    require_root!();
    let ctx = Ctx::new("ft-notify");
    let helper = match tong_testkit::helpers::sdnotify(&ctx.work.join("helpers")) {
        Ok(h) => h,
        Err(e) => {
            tong_testkit::skip::skip(&format!("no static C helper: {e}"));
            return;
        }
    };
    // The host's socket, read as systemd would: at once (the barrier's pipe
    // is closed as the message is taken without its fds).
    let host = ctx.work.join("host-notify.sock");
    let hs = std::os::unix::net::UnixDatagram::bind(&host).unwrap();
    hs.set_read_timeout(Some(Duration::from_secs(25))).unwrap();
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while got.len() < 3 {
            match hs.recv(&mut buf) {
                Ok(n) => got.push(String::from_utf8_lossy(&buf[..n]).to_string()),
                Err(_) => break,
            }
        }
        got
    });
    let mut b = ctx.bundle(
        "echo \"$NOTIFY_SOCKET\"; ls /run/notify; sleep 1; touch /tmp/before-ready; /sdnotify READY=1; sleep 60",
    );
    b.set("/root/readonly", json!(false));
    std::fs::copy(&helper, b.rootfs().join("sdnotify")).unwrap();
    b.save();
    let id = ctx.id("");
    let env = [("NOTIFY_SOCKET", host.to_str().unwrap())];
    let mut c = ctx.tong.command();
    c.envs(env)
        .args(["create", "--bundle"])
        .arg(&b.dir)
        .arg(&id);
    ctx.tong.track(&id);
    let co = ctx.tong.exec(c, "create");
    assert!(co.ok(), "{}", co.stderr);
    let mut c = ctx.tong.command();
    c.envs(env).args(["start", &id]);
    let o = ctx.tong.exec(c, "start");
    assert!(o.ok(), "{}", o.stderr);
    assert!(!o.stderr.contains("barrier"), "{}", o.stderr);
    // start returned after READY: the marker written before it exists.
    assert!(
        b.rootfs().join("tmp/before-ready").exists(),
        "start returned before READY"
    );
    let got = reader.join().unwrap();
    let pid = ctx.tong.pid(&id);
    assert_eq!(
        got,
        [
            "READY=1\n".to_string(),
            format!("MAINPID={pid}\n"),
            "BARRIER=1".to_string()
        ]
    );
    let seen = co.stdout_now();
    assert!(seen.starts_with("/run/notify/notify.sock\n"), "{seen}");
    assert!(seen.contains("notify.sock"), "the socket inside: {seen}");
    ctx.tong.delete_force(&id).success();
    // Exits without READY: start returns anyway.
    let b = ctx.bundle("true");
    b.save();
    let id = ctx.id("noready");
    let mut c = ctx.tong.command();
    c.envs(env).args(["run", "--bundle"]).arg(&b.dir).arg(&id);
    ctx.tong.track(&id);
    let o = ctx.tong.exec(c, "run");
    assert!(o.ok(), "{}", o.stderr);
}

// ---------------------------------------------------------------------------
// Exit codes the shims read

/// A failing poststart hook fails `start` (exit 1) and stops the container
/// (runc 1.2+, runtime-spec); `kill --all ID 0` of a stopped container
/// succeeds, without --all it is "container not running"; `kill ID 0` of a
/// running one checks it exists.
#[test]
fn poststart_failure_and_kill_zero() {
    require_root!();
    let ctx = Ctx::new("ft-poststart");
    let mut b = ctx.bundle("sleep 60");
    b.set(
        "/hooks/poststart",
        json!([{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]),
    );
    let id = ctx.id("");
    ctx.tong.create(&b, &id, &[]).success();
    let pid = ctx.tong.pid(&id);
    let o = ctx.tong.start(&id);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("poststart"), "{}", o.stderr);
    ctx.tong.wait_stopped(&id);
    assert!(!alive(pid));
    let o = ctx.tong.cmd(&["kill", "--all", &id, "0"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = ctx.tong.cmd(&["kill", &id, "0"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("container not running"), "{}", o.stderr);
    ctx.tong.delete(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[pid]);
    // Signal 0 to a live container: exit 0, nothing happens to it.
    let b = ctx.bundle("sleep 60");
    let id = ctx.id("live");
    ctx.tong.run_detached(&b, &id).success();
    ctx.tong.cmd(&["kill", &id, "0"]).success();
    assert_eq!(ctx.tong.status(&id), "running");
}

/// Without a pid namespace of its own, SIGKILL to the container kills every
/// process in it, not only the init (runc 1.2+).
#[test]
fn sigkill_without_pid_namespace_kills_all() {
    require_root!();
    let ctx = Ctx::new("ft-killall");
    let mut b = ctx.bundle("sleep 300 & echo $! > /tmp/child; wait");
    b.remove_namespace("pid");
    b.set("/root/readonly", json!(false));
    let id = ctx.id("");
    ctx.tong.run_detached(&b, &id).success();
    let child_file = b.rootfs().join("tmp/child");
    wait_until("the child's pid", Duration::from_secs(10), || {
        std::fs::read_to_string(&child_file).is_ok_and(|s| !s.trim().is_empty())
    });
    let child: i32 = std::fs::read_to_string(&child_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(child));
    ctx.tong.kill(&id, "KILL").success();
    wait_until("every process to die", Duration::from_secs(10), || {
        !alive(child)
    });
    ctx.tong.wait_stopped(&id);
}
