//! config-linux.md devices, default devices, /dev symlinks, sysctl.

use crate::ensure;
use crate::harness::{t, Ctx, TResult, Test};
use serde_json::json;

pub fn tests() -> Vec<Test> {
    vec![
        t("config-linux/devices/char-device", char_device),
        t("config-linux/devices/block-device", block_device),
        t("config-linux/devices/fifo", fifo_device),
        t("config-linux/devices/default-devices", default_devices),
        t("config-linux/devices/dev-symlinks", dev_symlinks),
        t("config-linux/devices/ptmx", ptmx),
        t("config-linux/sysctl/net", sysctl_net),
        t("config-linux/sysctl/ipc", sysctl_ipc),
        t("config-linux/sysctl/host-unchanged", sysctl_host),
    ]
}

fn char_device(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.set("/linux/devices", json!([{"path": "/dev/conf-null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640, "uid": 12, "gid": 34}]));
    let out = ctx.sh_ok(
        &mut b,
        "stat -c '%F|%t:%T|%a|%u:%g' /dev/conf-null; echo hi > /dev/conf-null && echo writable",
    )?;
    let l: Vec<&str> = out.lines().collect();
    ensure!(
        l.first() == Some(&"character special file|1:3|640|12:34"),
        "device node {:?}",
        l.first()
    );
    ensure!(
        l.get(1) == Some(&"writable"),
        "device not usable (cgroup denies?): {out:?}"
    );
    Ok(())
}

fn block_device(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    // loop0 major/minor: 7:0; it need not exist on the host.
    b.set(
        "/linux/devices",
        json!([{"path": "/dev/conf-blk", "type": "b", "major": 7, "minor": 0, "fileMode": 0o600}]),
    );
    let out = ctx.sh_ok(&mut b, "stat -c '%F|%t:%T|%a' /dev/conf-blk")?;
    ensure!(
        out.trim() == "block special file|7:0|600",
        "device node {out:?}"
    );
    Ok(())
}

fn fifo_device(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.set(
        "/linux/devices",
        json!([{"path": "/dev/conf-fifo", "type": "p", "fileMode": 0o600}]),
    );
    let out = ctx.sh_ok(&mut b, "stat -c '%F|%a' /dev/conf-fifo")?;
    ensure!(out.trim() == "fifo|600", "fifo node {out:?}");
    Ok(())
}

fn default_devices(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    let out = ctx.sh_ok(
        &mut b,
        "for d in null zero full random urandom tty; do stat -c \"$d %F %t:%T\" /dev/$d; done; \
         head -c 8 /dev/zero | wc -c; head -c 8 /dev/urandom | wc -c; echo x > /dev/null && echo null-ok",
    )?;
    let want = [
        "null character special file 1:3",
        "zero character special file 1:5",
        "full character special file 1:7",
        "random character special file 1:8",
        "urandom character special file 1:9",
        "tty character special file 5:0",
    ];
    for w in want {
        ensure!(
            out.lines().any(|l| l == w),
            "default device missing or wrong, want {w:?}: {out:?}"
        );
    }
    ensure!(
        out.contains("null-ok") && out.lines().filter(|l| l.trim() == "8").count() == 2,
        "default devices not usable: {out:?}"
    );
    Ok(())
}

fn dev_symlinks(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    let out = ctx.sh_ok(
        &mut b,
        "for l in fd stdin stdout stderr; do echo $l=$(readlink /dev/$l); done",
    )?;
    for w in [
        "fd=/proc/self/fd",
        "stdin=/proc/self/fd/0",
        "stdout=/proc/self/fd/1",
        "stderr=/proc/self/fd/2",
    ] {
        ensure!(
            out.lines().any(|l| l == w),
            "missing /dev symlink {w}: {out:?}"
        );
    }
    Ok(())
}

fn ptmx(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    let out = ctx.sh_ok(&mut b, "readlink /dev/ptmx || stat -c '%t:%T' /dev/ptmx")?;
    ensure!(
        out.trim() == "pts/ptmx" || out.trim() == "/dev/pts/ptmx" || out.trim() == "5:2",
        "/dev/ptmx is {out:?}"
    );
    Ok(())
}

fn sysctl_net(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    // net.* needs a network namespace of the container's own (the rootless
    // config has none: a user may make one in its user namespace)
    b.add_ns("network", None);
    b.set(
        "/linux/sysctl",
        json!({"net.ipv4.ip_forward": "1", "net.ipv4.tcp_syn_retries": "4"}),
    );
    let out = ctx.sh_ok(
        &mut b,
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/tcp_syn_retries",
    )?;
    ensure!(
        out.split_whitespace().collect::<Vec<_>>() == vec!["1", "4"],
        "sysctl values {out:?}"
    );
    Ok(())
}

fn sysctl_ipc(ctx: &mut Ctx) -> TResult {
    let mut b = ctx.bundle();
    b.set(
        "/linux/sysctl",
        json!({"kernel.msgmax": "12345", "kernel.shmmni": "1234"}),
    );
    let out = ctx.sh_ok(
        &mut b,
        "cat /proc/sys/kernel/msgmax /proc/sys/kernel/shmmni",
    )?;
    ensure!(
        out.split_whitespace().collect::<Vec<_>>() == vec!["12345", "1234"],
        "sysctl values {out:?}"
    );
    Ok(())
}

fn sysctl_host(ctx: &mut Ctx) -> TResult {
    let before = std::fs::read_to_string("/proc/sys/kernel/msgmax")?;
    let mut b = ctx.bundle();
    b.set("/linux/sysctl", json!({"kernel.msgmax": "23456"}));
    ctx.sh_ok(&mut b, "true")?;
    let after = std::fs::read_to_string("/proc/sys/kernel/msgmax")?;
    ensure!(
        before == after,
        "host kernel.msgmax changed from {before:?} to {after:?}"
    );
    Ok(())
}
