//! The bundle shapes containerd 2's CRI sends for what containerd 1.6 cannot
//! ask for (user-namespaced pods with idmapped volumes, recursively read-only
//! volumes), run by hand with the runtime under test: a pause-like sandbox in
//! its own user, network, ipc and uts namespaces, and an app container that
//! joins them by path and repeats the user namespace's mappings, as
//! containerd 2 does. No containerd involved.
//!
//! These are the acceptance tests of tong's idmap and rro support. Debian's
//! runc 1.1.5 predates both (runc 1.2), so with runc < 1.2 they SKIP and the
//! oracle is the runtime spec; they SKIP otherwise only where the kernel
//! cannot do it (a real mount_setattr probe).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

use crate::env::Env;
use crate::{ensure, fail, note, skip, Context, Res};
use tong_testkit::mountprobe;

const HOST_ID: u32 = 100_000;
const MAP_LEN: u32 = 65_536;
const SLEEPER: &str = "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done";

/// Runs a bundle scenario if `name` is one.
pub fn run(name: &str) -> Option<Res> {
    let f: fn(&B) -> Res = match name {
        "bundle_userns_pod" => userns_pod,
        "bundle_idmap_volume" => idmap_volume,
        "bundle_rro" => rro,
        "bundle_unknown_mount_option" => unknown_mount_option,
        "features_containerd2" => features_containerd2,
        _ => return None,
    };
    let env = match Env::from_env() {
        Ok(e) => e,
        Err(e) => return Some(Err(crate::Outcome::Fail(e))),
    };
    let dir = env.dir.join("bundles").join(name);
    let b = B {
        root: env.dir.join("bundles/root").display().to_string(),
        dir,
        env,
        ids: Default::default(),
    };
    let r = f(&b);
    let c = b.teardown();
    Some(match (r, c) {
        (Ok(()), Err(e)) => Err(crate::Outcome::Fail(format!("teardown: {e}"))),
        (r, _) => r,
    })
}

struct B {
    env: Env,
    /// the runtime's --root for these containers
    root: String,
    /// this scenario's bundles
    dir: PathBuf,
    /// containers made, removed at the end (last first)
    ids: std::cell::RefCell<Vec<String>>,
}

impl B {
    fn rt(&self, args: &[&str]) -> Res<Output> {
        Command::new("timeout")
            .args(["-k", "5", "30", &self.env.runtime, "--root", &self.root])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .ctx(&format!("run {}", self.env.runtime))
    }

    fn id(&self, short: &str) -> String {
        format!("tgcri{}-{short}", self.env.runid)
    }

    /// The runtime gates: runc before 1.2 has neither idmapped mounts nor rro.
    fn needs_runc_1_2(&self, what: &str) -> Res {
        if let Some((maj, min)) = self.env.runc_version() {
            if (maj, min) < (1, 2) {
                skip!(
                    "runc {maj}.{min} predates {what} (runc 1.2); the oracle for this test is the runtime spec \
                     (mounts[].uidMappings/gidMappings, the idmap/ridmap and rro options, features.mountExtensions)"
                );
            }
        }
        Ok(())
    }

    /// A rootfs copy for one container; `owner` chowns it (the user namespace's root).
    fn rootfs(&self, name: &str, owner: Option<u32>) -> Res<PathBuf> {
        let b = self.dir.join(name);
        fs::create_dir_all(&b).ctx("mkdir bundle")?;
        let r = b.join("rootfs");
        let ok = Command::new("cp")
            .arg("-a")
            .arg(&self.env.rootfs)
            .arg(&r)
            .status()
            .is_ok_and(|s| s.success());
        ensure!(ok, "cp -a {} {}", self.env.rootfs.display(), r.display());
        if let Some(o) = owner {
            let ok = Command::new("chown")
                .args(["-hR", &format!("{o}:{o}")])
                .arg(&r)
                .status()
                .is_ok_and(|s| s.success());
            ensure!(ok, "chown the rootfs");
        }
        Ok(b)
    }

    /// create + start the container of `bundle` (its config.json written from `spec`).
    fn start(&self, short: &str, bundle: &Path, spec: &Value) -> Res<(String, u32)> {
        let id = self.id(short);
        fs::write(
            bundle.join("config.json"),
            serde_json::to_vec_pretty(spec).expect("json"),
        )
        .ctx("write config.json")?;
        let log = fs::File::create(bundle.join("init.log")).ctx("create init.log")?;
        let pidfile = bundle.join("pid");
        let st = Command::new("timeout")
            .args([
                "-k",
                "5",
                "30",
                &self.env.runtime,
                "--root",
                &self.root,
                "create",
                "--pid-file",
            ])
            .arg(&pidfile)
            .arg("--bundle")
            .arg(bundle)
            .arg(&id)
            .stdin(Stdio::null())
            .stdout(log.try_clone().ctx("dup")?)
            .stderr(log)
            .status()
            .ctx("run create")?;
        if !st.success() {
            let _ = self.rt(&["delete", "-f", &id]);
            fail!(
                "`{} create {short}` failed ({st}): {}",
                self.env.runtime,
                fs::read_to_string(bundle.join("init.log"))
                    .unwrap_or_default()
                    .trim()
            );
        }
        self.ids.borrow_mut().push(id.clone());
        let o = self.rt(&["start", &id])?;
        ensure!(
            o.status.success(),
            "start {short}: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        );
        let pid: u32 = fs::read_to_string(&pidfile)
            .ctx("read pid file")?
            .trim()
            .parse()
            .ctx("pid file")?;
        Ok((id, pid))
    }

    /// `RUNTIME exec ID sh -c SCRIPT`: (exit code, stdout, stderr).
    fn exec(&self, id: &str, script: &str) -> Res<(i32, String, String)> {
        let o = self.rt(&["exec", id, "sh", "-c", script])?;
        Ok((
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).trim().to_string(),
            String::from_utf8_lossy(&o.stderr).trim().to_string(),
        ))
    }

    fn sh(&self, id: &str, script: &str) -> Res<String> {
        let (rc, out, err) = self.exec(id, script)?;
        ensure!(
            rc == 0,
            "exec sh -c {script:?}: exit code {rc}, stdout {out:?}, stderr {err:?}"
        );
        Ok(out)
    }

    fn teardown(&self) -> Result<(), String> {
        let mut errs = Vec::new();
        let ids = std::mem::take(&mut *self.ids.borrow_mut());
        for id in ids.iter().rev() {
            let _ = self.rt(&["kill", id, "KILL"]);
            match self.rt(&["delete", "-f", id]) {
                Ok(o) if o.status.success() => {}
                Ok(o) => errs.push(format!(
                    "delete -f {id}: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                )),
                Err(_) => errs.push(format!("delete -f {id}: could not run")),
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs.join("; "))
        }
    }

    fn cgroup(&self, short: &str) -> String {
        format!("/{}/bundle-{short}", self.env.cgroup)
    }
}

fn mapping() -> Value {
    json!([{ "containerID": 0, "hostID": HOST_ID, "size": MAP_LEN }])
}

/// A config.json like the one containerd's CRI generates (default mounts,
/// capabilities, masked paths), for `args`.
fn spec(root: &Path, args: &[&str], namespaces: Value, cgroups_path: &str, userns: bool) -> Value {
    let caps = json!([
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE"
    ]);
    let mut s = json!({
        "ociVersion": "1.2.0",
        "process": {
            "user": { "uid": 0, "gid": 0 },
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "cwd": "/",
            "capabilities": { "bounding": caps, "effective": caps, "permitted": caps },
            "noNewPrivileges": false,
            "oomScoreAdj": 0
        },
        "root": { "path": root.join("rootfs").display().to_string(), "readonly": false },
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] }
        ],
        "linux": {
            "namespaces": namespaces,
            "cgroupsPath": cgroups_path,
            "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
            "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                            "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"],
            "readonlyPaths": ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    });
    if userns {
        s["linux"]["uidMappings"] = mapping();
        s["linux"]["gidMappings"] = mapping();
    }
    s
}

/// The pause-like sandbox in new user/net/ipc/uts/pid/mount namespaces, and
/// the namespaces list an app container uses to join it (containerd 2's shape).
fn sandbox(b: &B) -> Res<(u32, Value)> {
    let bundle = b.rootfs("sandbox", Some(HOST_ID))?;
    let ns = json!([{ "type": "pid" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }, { "type": "network" }, { "type": "user" }]);
    let mut s = spec(
        &bundle,
        &["sh", "-c", SLEEPER],
        ns,
        &b.cgroup("sandbox"),
        true,
    );
    s["hostname"] = json!("userns-pod");
    let (_, pid) = b.start("sandbox", &bundle, &s)?;
    let join = json!([
        { "type": "pid" },
        { "type": "mount" },
        { "type": "ipc", "path": format!("/proc/{pid}/ns/ipc") },
        { "type": "uts", "path": format!("/proc/{pid}/ns/uts") },
        { "type": "network", "path": format!("/proc/{pid}/ns/net") },
        { "type": "user", "path": format!("/proc/{pid}/ns/user") }
    ]);
    Ok((pid, join))
}

fn host_ns(pid: u32, ns: &str) -> Res<String> {
    fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .map(|p| p.display().to_string())
        .ctx("readlink")
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A user-namespaced pod without volumes: the app container joins the
/// sandbox's user namespace (and net/ipc/uts) by path, with the mappings repeated.
fn userns_pod(b: &B) -> Res {
    let (spid, join) = sandbox(b)?;
    let bundle = b.rootfs("app", Some(HOST_ID))?;
    let s = spec(
        &bundle,
        &["sh", "-c", SLEEPER],
        join,
        &b.cgroup("app"),
        true,
    );
    let (id, pid) = b.start("app", &bundle, &s)?;
    let m = one_line(&b.sh(&id, "cat /proc/self/uid_map /proc/self/gid_map")?);
    ensure!(
        m == "0 100000 65536 0 100000 65536",
        "uid_map/gid_map in the app container: {m:?}"
    );
    let ns = b.sh(
        &id,
        "for n in user net ipc uts; do readlink /proc/self/ns/$n; done",
    )?;
    let ns: Vec<&str> = ns.lines().collect();
    for (i, n) in ["user", "net", "ipc", "uts"].iter().enumerate() {
        let want = host_ns(spid, n)?;
        ensure!(
            ns.get(i) == Some(&want.as_str()),
            "app's {n} namespace {:?} is not the sandbox's {want}",
            ns.get(i)
        );
    }
    ensure!(
        b.sh(&id, "hostname")? == "userns-pod",
        "hostname of the sandbox not seen"
    );
    ensure!(
        b.sh(&id, "id -u; touch /tmp/w && stat -c %u /tmp/w")? == "0\n0",
        "root in the container owns its rootfs"
    );
    let st = fs::read_to_string(format!("/proc/{pid}/status")).ctx("read status")?;
    let uid = st
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .map(one_line)
        .unwrap_or_default();
    ensure!(
        uid == "100000 100000 100000 100000",
        "the app's init runs as host uid {uid:?}, want 100000"
    );
    Ok(())
}

/// The same pod with a volume as containerd 2 sends it for hostUsers: false
/// (type bind, rbind, uidMappings/gidMappings, no idmap option), and one with
/// the runtime-spec `idmap` option: host ownership shows through unchanged,
/// and what the container's root writes lands as host root.
fn idmap_volume(b: &B) -> Res {
    b.needs_runc_1_2("idmapped mounts")?;
    let vol = b.dir.join("vol");
    fs::create_dir_all(&vol).ctx("mkdir volume")?;
    fs::write(vol.join("f"), "hostfile\n").ctx("write")?;
    std::os::unix::fs::chown(vol.join("f"), Some(1000), Some(1000)).ctx("chown")?;
    if let Err(e) = mountprobe::idmap(&vol) {
        skip!("the kernel cannot idmap {}: {e}", vol.display());
    }
    let (_, join) = sandbox(b)?;
    let bundle = b.rootfs("app", Some(HOST_ID))?;
    let mut s = spec(
        &bundle,
        &["sh", "-c", SLEEPER],
        join,
        &b.cgroup("app"),
        true,
    );
    let src = vol.display().to_string();
    s["mounts"].as_array_mut().expect("mounts").extend([
        json!({ "destination": "/vol", "type": "bind", "source": src, "options": ["rbind", "rprivate", "rw"],
                "uidMappings": mapping(), "gidMappings": mapping() }),
        json!({ "destination": "/vol2", "type": "bind", "source": src, "options": ["bind", "idmap"],
                "uidMappings": mapping(), "gidMappings": mapping() }),
    ]);
    let (id, _) = b.start("app", &bundle, &s)?;
    for d in ["/vol", "/vol2"] {
        let own = b.sh(&id, &format!("stat -c %u:%g {d} {d}/f; cat {d}/f"))?;
        ensure!(
            own == "0:0\n1000:1000\nhostfile",
            "{d}: ownership seen in the container {own:?}, want the host's (0:0, 1000:1000): the mount is not idmapped"
        );
    }
    let (rc, out, err) = b.exec(&id, "echo fromctr > /vol/new && stat -c %u:%g /vol/new")?;
    ensure!(
        rc == 0 && out == "0:0",
        "write by the container's root into /vol: exit {rc}, {out:?} {err:?}"
    );
    let md = fs::metadata(vol.join("new")).ctx("stat the written file on the host")?;
    ensure!(
        (md.uid(), md.gid()) == (0, 0),
        "the container's root wrote /vol/new as host {}:{}, want 0:0 (through the idmapped mount)",
        md.uid(),
        md.gid()
    );
    Ok(())
}

/// A volume with a submount, bound with "rro" (containerd 2's recursive_read_only):
/// read-only all the way down.
fn rro(b: &B) -> Res {
    b.needs_runc_1_2("recursive mount attributes (rro)")?;
    let src = b.dir.join("rro");
    let sub = src.join("sub");
    fs::create_dir_all(&sub).ctx("mkdir")?;
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tgcri-rro"])
        .arg(&sub)
        .status()
        .is_ok_and(|s| s.success());
    ensure!(ok, "mount tmpfs on {}", sub.display());
    let r = (|| {
        if let Err(e) = mountprobe::rro(&src) {
            skip!("the kernel cannot make a mount tree read-only recursively: {e}");
        }
        let bundle = b.rootfs("c", None)?;
        let ns = json!([{ "type": "pid" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }, { "type": "network" }]);
        let mut s = spec(&bundle, &["sh", "-c", SLEEPER], ns, &b.cgroup("rro"), false);
        let srcs = src.display().to_string();
        s["mounts"].as_array_mut().expect("mounts").extend([
            json!({ "destination": "/rro", "type": "bind", "source": srcs, "options": ["rbind", "rprivate", "rro"] }),
            json!({ "destination": "/ro", "type": "bind", "source": srcs, "options": ["rbind", "rprivate", "ro"] }),
        ]);
        let (id, _) = b.start("c", &bundle, &s)?;
        for f in ["/rro/x", "/rro/sub/x", "/ro/x"] {
            let (rc, out, err) = b.exec(&id, &format!("touch {f}"))?;
            ensure!(
                rc != 0 && err.contains("Read-only file system"),
                "touch {f}: exit {rc} {out:?} {err:?}, want EROFS"
            );
        }
        let mi = b.sh(&id, "grep -E ' /rro(/sub)? ' /proc/self/mountinfo")?;
        for l in mi.lines() {
            let opts = l.split(' ').nth(5).unwrap_or("");
            ensure!(
                opts.split(',').any(|o| o == "ro"),
                "not read-only in mountinfo: {l}"
            );
        }
        ensure!(
            mi.lines().count() == 2,
            "/rro and /rro/sub in mountinfo: {mi}"
        );
        // plain "ro" is for the top mount only (runc): the submount stays writable
        let (rc, _, err) = b.exec(&id, "touch /ro/sub/y")?;
        note(&format!(
            "\"ro\" on rbind: submount {}",
            if rc == 0 {
                "writable".into()
            } else {
                format!("not writable ({err})")
            }
        ));
        Ok(())
    })();
    let _ = b.teardown();
    let _ = Command::new("umount").arg("-l").arg(&sub).status();
    r
}

/// A bind mount option the runtime does not know is an error naming it
/// (runc 1.2+), never dropped: containerd 2 relies on this not to lose "rro"
/// on a runtime that predates it.
fn unknown_mount_option(b: &B) -> Res {
    b.needs_runc_1_2("refusing unknown mount options")?;
    let bundle = b.rootfs("c", None)?;
    let vol = b.dir.join("vol");
    fs::create_dir_all(&vol).ctx("mkdir")?;
    let ns = json!([{ "type": "pid" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }, { "type": "network" }]);
    let mut s = spec(&bundle, &["true"], ns, &b.cgroup("unknownopt"), false);
    s["mounts"].as_array_mut().expect("mounts").push(json!({
        "destination": "/vol", "type": "bind", "source": vol.display().to_string(),
        "options": ["rbind", "rprivate", "tgbogus"]
    }));
    match b.start("c", &bundle, &s) {
        Ok(_) => fail!("the runtime accepted the unknown mount option \"tgbogus\" on a bind mount"),
        Err(crate::Outcome::Fail(e)) => {
            ensure!(
                e.contains("tgbogus"),
                "the error does not name the unknown option: {e}"
            );
            Ok(())
        }
        Err(o) => Err(o),
    }
}

/// What containerd 2 reads from `<runtime> features` to report the handler's
/// RuntimeHandlerFeatures (recursive_read_only_mounts: "rro" in mountOptions;
/// user_namespaces: "user" in linux.namespaces and linux.mountExtensions.idmap.enabled).
fn features_containerd2(b: &B) -> Res {
    b.needs_runc_1_2("the features containerd 2 reads")?;
    let o = Command::new(&b.env.runtime)
        .arg("features")
        .output()
        .ctx("run features")?;
    ensure!(
        o.status.success(),
        "`features` failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let f: Value = serde_json::from_slice(&o.stdout).ctx("parse features JSON")?;
    let has = |ptr: &str, s: &str| {
        f.pointer(ptr)
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(s)))
    };
    let mut missing = Vec::new();
    if !has("/mountOptions", "rro") {
        missing.push("\"rro\" in mountOptions (recursive_read_only_mounts)");
    }
    if !has("/linux/namespaces", "user") {
        missing.push("\"user\" in linux.namespaces");
    }
    if f.pointer("/linux/mountExtensions/idmap/enabled")
        .and_then(Value::as_bool)
        != Some(true)
    {
        missing.push("linux.mountExtensions.idmap.enabled = true (user_namespaces)");
    }
    ensure!(
        missing.is_empty(),
        "`{} features` lacks what containerd 2 looks for: {}",
        b.env.runtime,
        missing.join(", ")
    );
    Ok(())
}
