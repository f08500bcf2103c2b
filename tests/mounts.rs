//! Mounts: bind/rbind with ro, nosuid, nodev, noexec, the atime family and
//! propagation flags; tmpfs (options, tmpcopyup); proc, sysfs, devpts, mqueue,
//! cgroup; mount points created on a read-only root; rootfsPropagation;
//! --no-pivot; and that no mount leaks to the host.

mod common;
use common::*;
use serde_json::json;

fn mounts_inside(ctx: &Ctx, b: &mut Bundle, id: &str, before: &str) -> (String, Vec<MountEntry>) {
    b.sh(&format!("{before}\necho ---; cat /proc/self/mountinfo"));
    let out = ctx.tong.output_of(b, id);
    let (head, mi) = out
        .split_once("---\n")
        .unwrap_or_else(|| panic!("no mountinfo: {out}"));
    (head.to_string(), parse_mountinfo(mi))
}

fn has(m: &MountEntry, opt: &str) -> bool {
    m.opts.iter().any(|o| o == opt)
}

#[test]
fn bind_rw_and_ro() {
    require_root!();
    let ctx = Ctx::new("mt-bind");
    let src = ctx.dir("shared");
    std::fs::write(src.join("host.txt"), "from-host\n").unwrap();
    let mut b = ctx.bundle("");
    b.push_mount(
        json!({"destination": "/data", "type": "bind", "source": src, "options": ["rbind", "rw"]}),
    );
    b.push_mount(json!({"destination": "/data-ro", "type": "bind", "source": src, "options": ["bind", "ro"]}));
    let (out, mi) = mounts_inside(&ctx, &mut b, &ctx.id(""), "cat /data/host.txt; echo hi > /data/from-container && echo rw-ok; echo x > /data-ro/nope 2>/dev/null && echo ro-broken || echo ro-ok");
    assert_eq!(out, "from-host\nrw-ok\nro-ok\n");
    assert_eq!(
        std::fs::read_to_string(src.join("from-container")).unwrap(),
        "hi\n",
        "write through the bind mount"
    );
    assert!(!src.join("nope").exists());
    let rw = find_mount(&mi, "/data").expect("/data mounted");
    assert!(has(rw, "rw"), "{rw:?}");
    let ro = find_mount(&mi, "/data-ro").expect("/data-ro mounted");
    assert!(has(ro, "ro"), "{ro:?}");
    // The mount points were created in the (read-only) rootfs.
    assert!(b.rootfs().join("data").is_dir() && b.rootfs().join("data-ro").is_dir());
    assert_clean_simple(&ctx.tong, &ctx.id(""), &b, &[]);
}

#[test]
fn bind_flags_nosuid_nodev_noexec_atime() {
    require_root!();
    let ctx = Ctx::new("mt-flags");
    let src = ctx.dir("exec");
    write_script(&src.join("hello.sh"), "echo hello-exec");
    let mut b = ctx.bundle("");
    b.push_mount(json!({"destination": "/nx", "type": "bind", "source": src, "options": ["bind", "nosuid", "nodev", "noexec", "noatime"]}));
    b.push_mount(json!({"destination": "/x", "type": "bind", "source": src, "options": ["bind", "strictatime"]}));
    b.push_mount(json!({"destination": "/nd", "type": "bind", "source": src, "options": ["bind", "nodiratime", "relatime"]}));
    let (out, mi) = mounts_inside(
        &ctx,
        &mut b,
        &ctx.id(""),
        "/x/hello.sh; /nx/hello.sh 2>&1 || echo noexec-ok",
    );
    assert!(out.starts_with("hello-exec\n"), "{out}");
    assert!(
        out.contains("noexec-ok") && out.to_lowercase().contains("permission denied"),
        "{out}"
    );
    let nx = find_mount(&mi, "/nx").unwrap();
    for o in ["nosuid", "nodev", "noexec", "noatime"] {
        assert!(has(nx, o), "/nx lacks {o}: {nx:?}");
    }
    let x = find_mount(&mi, "/x").unwrap();
    assert!(
        !has(x, "noexec") && !has(x, "relatime") && !has(x, "noatime"),
        "strictatime: {x:?}"
    );
    let nd = find_mount(&mi, "/nd").unwrap();
    assert!(has(nd, "nodiratime") && has(nd, "relatime"), "{nd:?}");
}

#[test]
fn bind_vs_rbind_submounts() {
    require_root!();
    let ctx = Ctx::new("mt-rbind");
    let src = ctx.dir("tree");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &src.join("sub"),
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=1m"),
    )
    .unwrap();
    std::fs::write(src.join("sub/in-submount"), "x").unwrap();
    let mut b = ctx.bundle("");
    b.push_mount(json!({"destination": "/r", "type": "bind", "source": src, "options": ["rbind"]}));
    b.push_mount(json!({"destination": "/b", "type": "bind", "source": src, "options": ["bind"]}));
    let (out, _) = mounts_inside(&ctx, &mut b, &ctx.id(""), "ls /r/sub; echo =; ls /b/sub");
    assert_eq!(
        out, "in-submount\n=\n",
        "rbind must carry submounts, bind must not"
    );
    let _ = nix::mount::umount2(&src.join("sub"), nix::mount::MntFlags::MNT_DETACH);
}

#[test]
fn propagation_flags() {
    require_root!();
    let ctx = Ctx::new("mt-prop");
    let src = ctx.dir("p");
    let mut b = ctx.bundle("");
    b.push_mount(json!({"destination": "/shared", "type": "bind", "source": src, "options": ["rbind", "rshared"]}));
    b.push_mount(json!({"destination": "/private", "type": "bind", "source": src, "options": ["rbind", "rprivate"]}));
    b.push_mount(json!({"destination": "/unbind", "type": "bind", "source": src, "options": ["rbind", "runbindable"]}));
    let (_, mi) = mounts_inside(&ctx, &mut b, &ctx.id(""), "true");
    let sh = find_mount(&mi, "/shared").unwrap();
    assert!(
        sh.optional.iter().any(|o| o.starts_with("shared:")),
        "rshared: {sh:?}"
    );
    let pr = find_mount(&mi, "/private").unwrap();
    assert!(pr.optional.is_empty(), "rprivate: {pr:?}");
    let ub = find_mount(&mi, "/unbind").unwrap();
    assert!(
        ub.optional.iter().any(|o| o == "unbindable"),
        "runbindable: {ub:?}"
    );
}

#[test]
fn rootfs_propagation() {
    require_root!();
    let ctx = Ctx::new("mt-rootprop");
    // ("slave" shows no master: field under runc either: the rootfs's parent is
    // made private before pivot_root; not checked.)
    for (prop, check) in [("private", "none"), ("shared", "shared:")] {
        let mut b = ctx.bundle("");
        b.set("/linux/rootfsPropagation", json!(prop));
        // The host's / is private here: put the bundle on a shared mount so that
        // "private" has something to undo.
        use nix::mount::{mount, umount2, MntFlags, MsFlags};
        mount(
            Some(&b.dir),
            &b.dir,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .unwrap();
        mount(
            None::<&str>,
            &b.dir,
            None::<&str>,
            MsFlags::MS_SHARED,
            None::<&str>,
        )
        .unwrap();
        let id = ctx.id(prop);
        let (_, mi) = mounts_inside(&ctx, &mut b, &id, "true");
        umount2(&b.dir, MntFlags::MNT_DETACH).unwrap();
        assert_clean_simple(&ctx.tong, &id, &b, &[]);
        let root = mi.iter().find(|m| m.point == "/").unwrap();
        if check == "none" {
            assert!(root.optional.is_empty(), "{prop}: {root:?}");
        } else {
            assert!(
                root.optional.iter().any(|o| o.starts_with(check)),
                "{prop}: {root:?}"
            );
        }
    }
    let mut b = ctx.bundle("true");
    b.set("/linux/rootfsPropagation", json!("bogus"));
    let id = ctx.id("bogus");
    ctx.tong.create(&b, &id, &[]).failure();
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}

#[test]
fn tmpfs_options_and_tmpcopyup() {
    require_root!();
    let ctx = Ctx::new("mt-tmpfs");
    let mut b = ctx.bundle("");
    std::fs::create_dir_all(b.rootfs().join("seed/sub")).unwrap();
    std::fs::write(b.rootfs().join("seed/a.txt"), "seeded\n").unwrap();
    std::fs::write(b.rootfs().join("seed/sub/b.txt"), "deep\n").unwrap();
    b.push_mount(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=700", "nodev"]}));
    b.push_mount(json!({"destination": "/seed", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "mode=755"]}));
    let (out, mi) = mounts_inside(
        &ctx,
        &mut b,
        &ctx.id(""),
        "stat -c %a /scratch; echo w > /scratch/f && echo scratch-rw; cat /seed/a.txt /seed/sub/b.txt; echo new > /seed/a.txt && cat /seed/a.txt",
    );
    assert_eq!(out, "700\nscratch-rw\nseeded\ndeep\nnew\n");
    let s = find_mount(&mi, "/scratch").unwrap();
    assert_eq!(s.fstype, "tmpfs");
    assert!(s.super_opts.iter().any(|o| o == "size=1024k"), "{s:?}");
    assert!(has(s, "nodev"));
    let seed = find_mount(&mi, "/seed").unwrap();
    assert_eq!(seed.fstype, "tmpfs");
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("seed/a.txt")).unwrap(),
        "seeded\n",
        "tmpcopyup wrote through to the rootfs"
    );
}

/// A read-only tmpfs gets its tmpcopyup content and a read-only /dev its
/// sub-mounts and device nodes first, then turns read-only (runc's order).
#[test]
fn read_only_dev_and_tmpfs() {
    require_root!();
    let ctx = Ctx::new("mt-rotmpfs");
    let mut b = ctx.bundle("");
    std::fs::create_dir_all(b.rootfs().join("seed")).unwrap();
    std::fs::write(b.rootfs().join("seed/a.txt"), "seeded\n").unwrap();
    b.push_mount(json!({"destination": "/seed", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "ro"]}));
    b.edit(|c| {
        for m in c["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/dev" {
                m["options"].as_array_mut().unwrap().push(json!("ro"));
            }
        }
    });
    let (out, mi) = mounts_inside(
        &ctx,
        &mut b,
        &ctx.id(""),
        "cat /seed/a.txt; touch /seed/x 2>/dev/null || echo seed-ro; touch /dev/x 2>/dev/null || echo dev-ro; echo ok > /dev/null && echo null-ok; test -c /dev/pts/ptmx && echo pts-ok",
    );
    assert_eq!(out, "seeded\nseed-ro\ndev-ro\nnull-ok\npts-ok\n");
    let dev = find_mount(&mi, "/dev").unwrap();
    assert!(has(dev, "ro"), "{dev:?}");
    let keys = find_mount(&mi, "/proc/keys").unwrap();
    assert!(
        has(keys, "ro"),
        "a mask bound from a read-only /dev: {keys:?}"
    );
}

#[test]
fn special_filesystems() {
    require_root!();
    let ctx = Ctx::new("mt-special");
    let mut b = ctx.bundle("");
    let id = ctx.id("");
    let v2 = tong_testkit::cgroups::pure_v2();
    let pids_max = if v2 { "pids.max" } else { "pids/pids.max" };
    let (out, mi) = mounts_inside(&ctx, &mut b, &id, &format!("ls /sys/fs/cgroup | tr '\\n' ' '; echo; cat /sys/fs/cgroup/{pids_max}; ls /proc/1/exe >/dev/null && echo proc-ok"));
    let expect = [
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
        ("/sys", "sysfs"),
    ];
    for (p, t) in expect {
        let m = find_mount(&mi, p).unwrap_or_else(|| panic!("{p} not mounted"));
        assert_eq!(m.fstype, t, "{p}: {m:?}");
    }
    assert!(
        has(find_mount(&mi, "/sys").unwrap(), "ro"),
        "sysfs must be ro"
    );
    let pts = find_mount(&mi, "/dev/pts").unwrap();
    assert!(
        pts.super_opts.iter().any(|o| o == "ptmxmode=666")
            && pts.super_opts.iter().any(|o| o == "gid=5"),
        "{pts:?}"
    );
    let shm = find_mount(&mi, "/dev/shm").unwrap();
    assert!(
        has(shm, "nosuid") && has(shm, "noexec") && has(shm, "nodev"),
        "{shm:?}"
    );
    // cgroup: each v1 hierarchy (pure v2: the one cgroup2 mount) shows the
    // container's own cgroup, read-only, and none exposes the host's root.
    let cg: Vec<&MountEntry> = mi
        .iter()
        .filter(|m| m.point.starts_with("/sys/fs/cgroup/") || (v2 && m.point == "/sys/fs/cgroup"))
        .collect();
    let want = if v2 {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/memory"
    };
    assert!(cg.iter().any(|m| m.point == want), "{cg:#?}");
    for m in &cg {
        assert!(has(m, "ro"), "cgroup mount not ro: {m:?}");
        if m.fstype.starts_with("cgroup") {
            assert!(
                m.root.ends_with(&format!("/{id}")),
                "cgroup mount {} exposes {} instead of the container's cgroup",
                m.point,
                m.root
            );
        }
    }
    let lines: Vec<&str> = out.lines().collect();
    // v1: the hierarchies' names; v2: the controllers' files.
    assert!(
        lines[0].contains("memory") && lines[0].contains("pids"),
        "{out}"
    );
    assert_eq!(lines[1], "max", "pids.max of the container's cgroup: {out}");
    assert_eq!(lines[2], "proc-ok");
}

#[test]
fn no_pivot() {
    require_root!();
    let ctx = Ctx::new("mt-nopivot");
    let marker = ctx.work.join("host-only-marker");
    std::fs::write(&marker, "x").unwrap();
    let b = ctx.bundle("ls / | tr '\\n' ' '; echo; ls /tmp/tong-it 2>&1 | head -n 1; hostname");
    b.save();
    let id = ctx.id("");
    let o = ctx.tong.run(&b, &id, &["--no-pivot"]);
    assert_eq!(o.code, 0, "{o:?}");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert!(
        lines[0].contains("bin") && lines[0].contains("proc"),
        "{o:?}"
    );
    assert!(
        lines[1].contains("No such file"),
        "host tree visible in --no-pivot container: {o:?}"
    );
    assert_eq!(lines[2], "tong");
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}

#[test]
fn mount_errors_leave_nothing() {
    require_root!();
    let ctx = Ctx::new("mt-errors");
    let cases = [
        json!({"destination": "/m", "type": "bind", "source": "/nonexistent/tong-it", "options": ["bind"]}),
        json!({"destination": "/m", "type": "no-such-fs", "source": "x"}),
        json!({"destination": "relative", "type": "tmpfs", "source": "tmpfs"}),
    ];
    for (i, m) in cases.into_iter().enumerate() {
        let mut b = ctx.bundle("true");
        b.push_mount(m.clone());
        let id = ctx.id(&format!("{i}"));
        let o = ctx.tong.create(&b, &id, &[]);
        if i == 2 && o.ok() {
            // runc accepts relative destinations (resolved against /); then it must work.
            ctx.tong.delete_force(&id).success();
        } else {
            assert_ne!(o.code, 0, "{m}: {o:?}");
            assert_eq!(o.stderr.trim().lines().count(), 1, "one-line error: {o:?}");
        }
        assert_clean_simple(&ctx.tong, &id, &b, &[]);
    }
    // A destination escaping the rootfs through a symlink stays inside it.
    let mut b = ctx.bundle("true");
    std::os::unix::fs::symlink("/../../../../../../tmp/tong-it", b.rootfs().join("escape"))
        .unwrap();
    b.push_mount(json!({"destination": "/escape/evil", "type": "tmpfs", "source": "tmpfs"}));
    let id = ctx.id("escape");
    let _ = ctx.tong.run(&b, &id, &[]);
    assert!(
        !std::path::Path::new("/tmp/tong-it/evil").exists(),
        "mount destination escaped the rootfs"
    );
    assert_clean_simple(&ctx.tong, &id, &b, &[]);
}
