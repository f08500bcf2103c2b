//! config.md root and mounts; config-linux.md rootfsPropagation,
//! maskedPaths, readonlyPaths.

use crate::harness::{t, Ctx, TResult, Test};
use crate::{ensure, fail};
use serde_json::json;

pub fn tests() -> Vec<Test> {
    vec![
        t("config/root/readonly", root_readonly),
        t("config/root/writable", root_writable),
        t("config/root/absolute-path", root_absolute),
        t("config/root/pivoted", root_pivoted),
        t("config/mounts/tmpfs-options", tmpfs_options),
        t("config/mounts/bind-dir", bind_dir),
        t("config/mounts/bind-readonly", bind_ro),
        t("config/mounts/bind-file", bind_file),
        t("config/mounts/rbind-recursive", rbind),
        t("config/mounts/bind-nonrecursive", bind_nonrec),
        t("config/mounts/flags-nosuid-nodev-noexec", mount_flags),
        t("config/mounts/destination-created", dest_created),
        t("config/mounts/order", mount_order),
        t("config/mounts/proc-sysfs-types", proc_sys),
        t("config/mounts/cgroup", cgroup_mount),
        t("config/mounts/propagation-option-rshared", mount_rshared),
        t("config-linux/rootfs-propagation/private", |c| {
            rootfs_prop(c, "private")
        }),
        t("config-linux/rootfs-propagation/slave", |c| {
            rootfs_prop(c, "slave")
        }),
        t("config-linux/rootfs-propagation/shared", |c| {
            rootfs_prop(c, "shared")
        }),
        t("config-linux/masked-paths/file", masked_file),
        t("config-linux/masked-paths/directory", masked_dir),
        t("config-linux/readonly-paths", readonly_paths),
        t("runtime/lifecycle/delete-leaves-no-mounts", no_mounts_left),
    ]
}

/// Mountinfo line for the mount point `mp` (last match).
fn mi_line<'a>(mountinfo: &'a str, mp: &str) -> Option<&'a str> {
    mountinfo.lines().rfind(|l| l.split(' ').nth(4) == Some(mp))
}

/// Per-mount options (field 6) and super options (after " - ").
fn mi_opts(line: &str) -> (Vec<String>, Vec<String>, String) {
    let f: Vec<&str> = line.split(' ').collect();
    let per: Vec<String> = f
        .get(5)
        .unwrap_or(&"")
        .split(',')
        .map(String::from)
        .collect();
    let (fstype, sup) = match line.split_once(" - ") {
        Some((_, rest)) => {
            let r: Vec<&str> = rest.split(' ').collect();
            (
                r.first().unwrap_or(&"").to_string(),
                r.get(2)
                    .unwrap_or(&"")
                    .split(',')
                    .map(String::from)
                    .collect(),
            )
        }
        None => (String::new(), vec![]),
    };
    (per, sup, fstype)
}

fn root_readonly(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.set("/root/readonly", json!(true));
    b.sh(r#"touch /newfile 2>&1 && echo wrote; touch /tmp/x 2>&1 && echo wrote-tmp; awk '$5 == "/"' /proc/self/mountinfo"#);
    let o = ctx.run(&b)?;
    ensure!(
        !o.stdout.contains("wrote"),
        "root is writable: {}",
        o.brief()
    );
    ensure!(
        o.stdout.contains("Read-only file system"),
        "writing to / did not fail with EROFS: {}",
        o.brief()
    );
    let line = o
        .stdout
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .unwrap_or("");
    ensure!(
        mi_opts(line).0.contains(&"ro".to_string()),
        "root mount not ro in mountinfo: {line:?}"
    );
    ensure!(
        !b.rootfs().join("newfile").exists(),
        "file created in read-only root"
    );
    Ok(())
}

fn root_writable(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.set("/root/readonly", json!(false));
    let out = ctx.sh_ok(&mut b, "echo data > /newfile && cat /newfile")?;
    ensure!(out.trim() == "data", "write to rw root failed: {out:?}");
    ensure!(
        b.rootfs().join("newfile").exists(),
        "file not in the bundle rootfs"
    );
    Ok(())
}

fn root_absolute(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    let abs = b.rootfs().canonicalize()?;
    std::fs::write(abs.join("marker-abs"), "abs\n")?;
    b.set("/root/path", json!(abs.to_string_lossy()));
    let out = ctx.sh_ok(&mut b, "cat /marker-abs")?;
    ensure!(out.trim() == "abs", "absolute root.path not used: {out:?}");
    Ok(())
}

fn root_pivoted(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    std::fs::write(b.rootfs().join("marker-root"), "in-rootfs\n")?;
    let out = ctx.sh_ok(&mut b, "cat /marker-root; ls /; cat /proc/self/mountinfo")?;
    ensure!(
        out.lines().next() == Some("in-rootfs"),
        "container / is not the bundle rootfs: {out:?}"
    );
    ensure!(
        !out.lines().any(|l| l == "work" || l == "boot"),
        "host directories visible in container /: {out:?}"
    );
    let host_mps: Vec<&str> = out
        .lines()
        .filter(|l| l.contains(" - "))
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with("/work") || m.starts_with("/boot"))
        .collect();
    ensure!(
        host_mps.is_empty(),
        "host mounts visible in container mountinfo: {host_mps:?}"
    );
    Ok(())
}

fn tmpfs_options(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.add_mount(
        "/mnt/t",
        "tmpfs",
        "tmpfs",
        &["size=1m", "mode=0710", "uid=7", "nosuid"],
    );
    let out = ctx.sh_ok(&mut b, "stat -c '%a %u' /mnt/t; cat /proc/self/mountinfo")?;
    ensure!(
        out.lines().next() == Some("710 7"),
        "tmpfs mode/uid: {:?}",
        out.lines().next()
    );
    let line = mi_line(&out, "/mnt/t").unwrap_or("");
    let (per, sup, fstype) = mi_opts(line);
    ensure!(
        fstype == "tmpfs",
        "/mnt/t is {fstype:?}, want tmpfs: {line:?}"
    );
    ensure!(
        sup.iter().any(|o| o == "size=1024k"),
        "tmpfs size option missing: {line:?}"
    );
    ensure!(
        per.iter().any(|o| o == "nosuid"),
        "nosuid missing: {line:?}"
    );
    Ok(())
}

fn host_dir(ctx: &mut Ctx) -> std::io::Result<std::path::PathBuf> {
    let d = ctx.path("hostdir");
    std::fs::create_dir_all(&d)?;
    std::fs::write(d.join("hello"), "from-host\n")?;
    Ok(d)
}

fn bind_dir(ctx: &mut Ctx) -> TResult {
    let d = host_dir(ctx)?;
    let mut b = ctx.bundle();
    b.add_mount("/mnt/b", "bind", &d.to_string_lossy(), &["bind"]);
    let out = ctx.sh_ok(&mut b, "cat /mnt/b/hello; echo back > /mnt/b/ret")?;
    ensure!(out.trim() == "from-host", "bind mount content {out:?}");
    ensure!(
        std::fs::read_to_string(d.join("ret"))
            .unwrap_or_default()
            .trim()
            == "back",
        "write through bind mount not visible on host"
    );
    Ok(())
}

fn bind_ro(ctx: &mut Ctx) -> TResult {
    let d = host_dir(ctx)?;
    let mut b = ctx.bundle();
    b.add_mount("/mnt/b", "bind", &d.to_string_lossy(), &["rbind", "ro"]);
    b.sh("cat /mnt/b/hello; echo x > /mnt/b/ret 2>&1 || echo write-failed; grep ' /mnt/b ' /proc/self/mountinfo");
    let o = ctx.run(&b)?;
    ensure!(
        o.stdout.contains("from-host"),
        "bind mount content missing: {}",
        o.brief()
    );
    ensure!(
        o.stdout.contains("write-failed") && !d.join("ret").exists(),
        "ro bind mount writable: {}",
        o.brief()
    );
    let line = o
        .stdout
        .lines()
        .find(|l| l.contains(" /mnt/b "))
        .unwrap_or("");
    ensure!(
        mi_opts(line).0.contains(&"ro".to_string()),
        "mountinfo not ro: {line:?}"
    );
    Ok(())
}

fn bind_file(ctx: &mut Ctx) -> TResult {
    let f = ctx.path("hostfile");
    std::fs::write(&f, "file-content\n")?;
    let mut b = ctx.bundle();
    b.add_mount(
        "/etc/bound.conf",
        "bind",
        &f.to_string_lossy(),
        &["bind", "ro"],
    );
    let out = ctx.sh_ok(
        &mut b,
        "cat /etc/bound.conf; test -f /etc/bound.conf && echo is-file",
    )?;
    ensure!(out == "file-content\nis-file\n", "file bind mount: {out:?}");
    Ok(())
}

/// A host dir with a tmpfs submount; returns (dir, cleanup guard installed).
fn nested(ctx: &mut Ctx) -> Result<std::path::PathBuf, crate::harness::Verdict> {
    let d = host_dir(ctx)?;
    let sub = d.join("sub");
    std::fs::create_dir_all(&sub)?;
    nix::mount::mount(
        Some("tmpfs"),
        &sub,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=1m"),
    )
    .map_err(|e| crate::harness::Verdict::Fail(format!("mounting test tmpfs: {e}")))?;
    std::fs::write(sub.join("inner"), "inner\n")?;
    let s2 = sub.clone();
    ctx.extra_cleanup.push(Box::new(move || {
        let _ = nix::mount::umount2(&s2, nix::mount::MntFlags::MNT_DETACH);
    }));
    Ok(d)
}

fn rbind(ctx: &mut Ctx) -> TResult {
    let d = nested(ctx)?;
    let mut b = ctx.bundle();
    b.add_mount("/mnt/r", "bind", &d.to_string_lossy(), &["rbind"]);
    let out = ctx.sh_ok(&mut b, "cat /mnt/r/sub/inner 2>&1")?;
    ensure!(
        out.trim() == "inner",
        "rbind did not carry the submount: {out:?}"
    );
    Ok(())
}

fn bind_nonrec(ctx: &mut Ctx) -> TResult {
    let d = nested(ctx)?;
    let mut b = ctx.bundle();
    b.add_mount("/mnt/r", "bind", &d.to_string_lossy(), &["bind"]);
    let out = ctx.sh_ok(&mut b, "cat /mnt/r/sub/inner 2>/dev/null || echo absent")?;
    ensure!(
        out.trim() == "absent",
        "plain bind carried the submount: {out:?}"
    );
    Ok(())
}

fn mount_flags(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.add_mount(
        "/mnt/f",
        "tmpfs",
        "tmpfs",
        &["nosuid", "nodev", "noexec", "noatime"],
    );
    b.sh("cp /bin/busybox /mnt/f/bb; /mnt/f/bb true 2>/dev/null && echo exec-ok || echo exec-denied; grep ' /mnt/f ' /proc/self/mountinfo");
    let o = ctx.run(&b)?;
    ensure!(
        o.stdout.contains("exec-denied"),
        "noexec not applied: {}",
        o.brief()
    );
    let line = o
        .stdout
        .lines()
        .find(|l| l.contains(" /mnt/f "))
        .unwrap_or("");
    let per = mi_opts(line).0;
    for f in ["nosuid", "nodev", "noexec", "noatime"] {
        ensure!(
            per.iter().any(|o| o == f),
            "{f} missing from mountinfo: {line:?}"
        );
    }
    Ok(())
}

fn dest_created(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.add_mount("/does/not/exist/yet", "tmpfs", "tmpfs", &[]);
    let out = ctx.sh_ok(
        &mut b,
        "grep -c ' /does/not/exist/yet ' /proc/self/mountinfo",
    )?;
    ensure!(
        out.trim() == "1",
        "missing destination not created and mounted: {out:?}"
    );
    Ok(())
}

fn mount_order(ctx: &mut Ctx) -> TResult {
    let d = host_dir(ctx)?;
    let mut b = ctx.bundle();
    b.add_mount("/mnt/o", "tmpfs", "tmpfs", &[]);
    b.add_mount("/mnt/o/inner", "bind", &d.to_string_lossy(), &["bind"]);
    let out = ctx.sh_ok(&mut b, "cat /mnt/o/inner/hello")?;
    ensure!(
        out.trim() == "from-host",
        "mounts not applied in order: {out:?}"
    );
    Ok(())
}

fn proc_sys(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    let out = ctx.sh_ok(&mut b, "cat /proc/self/mountinfo")?;
    for (mp, ty) in [
        ("/proc", "proc"),
        ("/sys", "sysfs"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
    ] {
        let line = mi_line(&out, mp).unwrap_or("");
        ensure!(mi_opts(line).2 == ty, "{mp} is not {ty}: {line:?}");
    }
    let sys = mi_line(&out, "/sys").unwrap_or("");
    ensure!(
        mi_opts(sys).0.contains(&"ro".to_string()),
        "/sys not ro per its options: {sys:?}"
    );
    Ok(())
}

fn cgroup_mount(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.add_ns("cgroup", None);
    b.add_mount(
        "/sys/fs/cgroup",
        "cgroup",
        "cgroup",
        &["nosuid", "noexec", "nodev", "relatime", "ro"],
    );
    let out = ctx.sh_ok(&mut b, "ls /sys/fs/cgroup; echo --; cat /proc/self/cgroup")?;
    let (ls, _) = out.split_once("--").unwrap_or((&out, ""));
    ensure!(
        ls.split_whitespace()
            .any(|e| e == "memory" || e == "cgroup.procs" || e == "pids"),
        "no cgroup hierarchy under /sys/fs/cgroup: {out:?}"
    );
    Ok(())
}

fn mount_rshared(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.add_mount("/mnt/s", "tmpfs", "tmpfs", &["rshared"]);
    let out = ctx.sh_ok(&mut b, "grep ' /mnt/s ' /proc/self/mountinfo")?;
    ensure!(
        out.contains(" shared:"),
        "rshared mount option not applied: {out:?}"
    );
    Ok(())
}

fn rootfs_prop(ctx: &mut Ctx, mode: &str) -> TResult {
    let mut b = ctx.bundle();
    b.set("/linux/rootfsPropagation", json!(mode));
    let out = ctx.sh_ok(&mut b, "awk '$5 == \"/\"' /proc/self/mountinfo")?;
    let line = out.lines().next().unwrap_or("");
    // optional fields sit between field 6 and " - "
    let opt: Vec<&str> = line
        .split(" - ")
        .next()
        .unwrap_or("")
        .split(' ')
        .skip(6)
        .collect();
    let shared = opt.iter().any(|o| o.starts_with("shared:"));
    let master = opt.iter().any(|o| o.starts_with("master:"));
    match mode {
        "private" => ensure!(!shared && !master, "root mount not private: {line:?}"),
        "shared" => ensure!(shared, "root mount not shared: {line:?}"),
        "slave" => ensure!(!shared, "root mount is shared, want slave: {line:?}"),
        _ => fail!("mode {mode}"),
    }
    Ok(())
}

fn masked_file(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.set(
        "/linux/maskedPaths",
        json!(["/proc/kcore", "/proc/timer_list", "/etc/hosts"]),
    );
    let out = ctx.sh_ok(
        &mut b,
        "wc -c < /etc/hosts; wc -c < /proc/timer_list; head -c 4 /proc/kcore | wc -c",
    )?;
    let n: Vec<&str> = out.split_whitespace().collect();
    ensure!(
        n == vec!["0", "0", "0"],
        "masked files readable (byte counts {n:?})"
    );
    Ok(())
}

fn masked_dir(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    std::fs::create_dir_all(b.rootfs().join("secret"))?;
    std::fs::write(b.rootfs().join("secret/key"), "k")?;
    b.set("/linux/maskedPaths", json!(["/secret", "/proc/acpi"]));
    let out = ctx.sh_ok(
        &mut b,
        "ls -A /secret | wc -l; ls -A /proc/acpi 2>/dev/null | wc -l",
    )?;
    let n: Vec<&str> = out.split_whitespace().collect();
    ensure!(
        n == vec!["0", "0"],
        "masked directory not empty (entries {n:?})"
    );
    Ok(())
}

fn readonly_paths(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    std::fs::create_dir_all(b.rootfs().join("rodir"))?;
    b.set("/linux/readonlyPaths", json!(["/proc/sys", "/rodir"]));
    b.sh("echo 1 > /proc/sys/kernel/hostname 2>&1 || echo sys-denied; touch /rodir/x 2>&1 || echo dir-denied; touch /tmp/ok && echo tmp-ok");
    let o = ctx.run(&b)?;
    for w in ["sys-denied", "dir-denied", "tmp-ok"] {
        ensure!(o.stdout.contains(w), "missing {w}: {}", o.brief());
    }
    ensure!(
        o.stdout.contains("Read-only file system"),
        "not EROFS: {}",
        o.brief()
    );
    Ok(())
}

fn no_mounts_left(ctx: &mut Ctx) -> TResult {
    let d = host_dir(ctx)?;
    let mut b = ctx.bundle();
    b.add_mount("/mnt/b", "bind", &d.to_string_lossy(), &["rbind"]);
    b.args(&["sleep", "1000"]);
    let id = ctx.create(&b)?;
    ctx.start(&id)?;
    let o = ctx.rt(&["delete", "--force", &id]);
    ensure!(o.ok(), "delete --force: {}", o.brief());
    let left = crate::harness::mounts_under(&ctx.dir);
    ensure!(
        left.is_empty(),
        "mounts left on the host after delete: {left:?}"
    );
    Ok(())
}
