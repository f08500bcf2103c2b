//! A busybox rootfs (what hack/mkbundle makes): the static busybox from
//! Debian's busybox-static, its applets as symlinks, a minimal /etc.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

pub const BUSYBOX: &str = "/bin/busybox";

/// Fills `rootfs` (made if missing) with busybox, its applets and /etc files.
pub fn make_busybox_rootfs(rootfs: &Path) -> std::io::Result<()> {
    if !Path::new(BUSYBOX).exists() {
        return Err(std::io::Error::other(
            "/bin/busybox not found (apt-get install busybox-static)",
        ));
    }
    for d in [
        "bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "var",
        "run", "home",
    ] {
        fs::create_dir_all(rootfs.join(d))?;
    }
    fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    let bb = rootfs.join("bin/busybox");
    fs::copy(BUSYBOX, &bb)?;
    fs::set_permissions(&bb, fs::Permissions::from_mode(0o755))?;
    let out = Command::new(BUSYBOX).arg("--list-full").output()?;
    for applet in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        if applet == "bin/busybox" {
            continue;
        }
        let link = rootfs.join(applet);
        if link.symlink_metadata().is_ok() {
            continue;
        }
        if let Some(p) = link.parent() {
            fs::create_dir_all(p)?;
        }
        symlink("/bin/busybox", &link)?;
    }
    fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )?;
    fs::write(
        rootfs.join("etc/group"),
        "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
    )?;
    fs::write(rootfs.join("etc/hosts"), "127.0.0.1 localhost\n")?;
    Ok(())
}

/// Copies a tree, hard-linking files named `busybox` (one binary shared by
/// every bundle of a run).
pub fn clone_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dst)?;
    fs::set_permissions(dst, fs::metadata(src)?.permissions())?;
    for e in fs::read_dir(src)? {
        let e = e?;
        let ft = e.file_type()?;
        let to = dst.join(e.file_name());
        if ft.is_dir() {
            clone_tree(&e.path(), &to)?;
        } else if ft.is_symlink() {
            symlink(fs::read_link(e.path())?, &to)?;
        } else if e.file_name() == "busybox" {
            fs::hard_link(e.path(), &to)?;
        } else {
            fs::copy(e.path(), &to)?;
        }
    }
    Ok(())
}
