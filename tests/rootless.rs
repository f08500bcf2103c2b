//! Rootless: tong run by an ordinary user (made for the test with useradd, a
//! subuid/subgid range, an XDG_RUNTIME_DIR of its own; removed on drop even
//! when the test fails), checked inside the container and on the host, with
//! runc run the same way as the oracle where their outputs compare.

mod common;
use common::*;
use serde_json::{json, Value};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static N: AtomicU32 = AtomicU32::new(0);
const SUB_SIZE: u32 = 65536;

/// A throw-away user with a home, a subordinate id range and a runtime dir.
struct User {
    name: String,
    uid: u32,
    gid: u32,
    home: PathBuf,
    xdg: PathBuf,
    sub: u32,
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("spawn")
}

impl User {
    fn new() -> User {
        let n = N.fetch_add(1, Ordering::SeqCst);
        let name = format!("tongrl{}x{n}", std::process::id());
        let ok = run(Command::new("useradd").args(["-m", "-s", "/bin/sh", &name]));
        assert!(
            ok.status.success(),
            "useradd: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
        // A range no other test process uses: by pid and counter.
        let sub = 1_000_000 + ((std::process::id() % 4000) * 8 + n) * SUB_SIZE;
        let range = format!("{sub}-{}", sub + SUB_SIZE - 1);
        let id = |f: &str| -> u32 {
            let o = run(Command::new("id").args([f, &name]));
            String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
        };
        let (uid, gid) = (id("-u"), id("-g"));
        let home = PathBuf::from(format!("/home/{name}"));
        let xdg = PathBuf::from(format!("/tmp/tong-rl-run-{name}"));
        let u = User {
            name,
            uid,
            gid,
            home,
            xdg,
            sub,
        };
        let o = run(Command::new("usermod").args([
            "--add-subuids",
            &range,
            "--add-subgids",
            &range,
            &u.name,
        ]));
        assert!(
            o.status.success(),
            "usermod: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        std::fs::create_dir(&u.xdg).unwrap();
        std::os::unix::fs::chown(&u.xdg, Some(uid), Some(gid)).unwrap();
        set_mode(&u.xdg, 0o700);
        u
    }

    /// `argv` as this user, in `dir`, with its XDG_RUNTIME_DIR.
    fn cmd(&self, dir: &Path, argv: &[&str]) -> Command {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid",
            &self.uid.to_string(),
            "--regid",
            &self.gid.to_string(),
        ])
        .args(["--init-groups", "--"])
        .args(argv)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", &self.home)
        .env("USER", &self.name)
        .env("XDG_RUNTIME_DIR", &self.xdg)
        .stdin(std::process::Stdio::null());
        c
    }

    /// tong (or runc with `bin`) as this user; output with a timeout.
    fn rt(&self, bin: &Path, dir: &Path, args: &[&str]) -> Output {
        let mut argv = vec![bin.to_str().unwrap()];
        argv.extend_from_slice(args);
        let mut c = self.cmd(dir, &argv);
        // Files, not pipes: a detached container keeps its copy open.
        let n = N.fetch_add(1, Ordering::SeqCst);
        let (po, pe) = (
            self.xdg.with_extension(format!("out{n}")),
            self.xdg.with_extension(format!("err{n}")),
        );
        c.stdout(std::fs::File::create(&po).unwrap())
            .stderr(std::fs::File::create(&pe).unwrap());
        let mut child = c.spawn().expect("spawn as user");
        let status = wait_timeout(
            &mut child,
            CMD_TIMEOUT,
            &format!("{args:?} as {}", self.name),
        );
        let out = Output {
            status,
            stdout: std::fs::read(&po).unwrap(),
            stderr: std::fs::read(&pe).unwrap(),
        };
        let _ = (std::fs::remove_file(po), std::fs::remove_file(pe));
        out
    }

    fn tong(&self, dir: &Path, args: &[&str]) -> Output {
        self.rt(&tong_bin(), dir, args)
    }

    /// A bundle in the user's home from `tong spec --rootless` run as the
    /// user, with a busybox rootfs, `edit` applied.
    fn bundle(&self, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
        let dir = self.home.join(name);
        make_rootfs(&dir.join("rootfs"));
        chown_r(&dir, self.uid, self.gid);
        ok(&self.tong(&dir, &["spec", "--rootless"]), "spec --rootless");
        let p = dir.join("config.json");
        let mut v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        v["process"]["terminal"] = json!(false);
        v["root"]["readonly"] = json!(false);
        edit(&mut v);
        std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
        dir
    }

    /// This user's processes (none may be left).
    /// The user's live processes. Zombies are left out: an init that a
    /// test's create/start left to PID 1 stays a zombie where PID 1 does not
    /// reap (CI's does not), and useradd hands a deleted user's uid to the
    /// next test's user.
    fn processes(&self) -> String {
        let o =
            run(Command::new("ps").args(["-o", "pid=,stat=,args=", "-u", &self.uid.to_string()]));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| {
                l.split_whitespace()
                    .nth(1)
                    .is_some_and(|st| !st.starts_with('Z'))
            })
            .map(|l| format!("{l}\n"))
            .collect()
    }

    fn state_root(&self) -> PathBuf {
        self.xdg.join("tong")
    }
}

impl Drop for User {
    fn drop(&mut self) {
        let _ = Command::new("pkill")
            .args(["-9", "-u", &self.uid.to_string()])
            .status();
        std::thread::sleep(Duration::from_millis(100));
        let _ = Command::new("userdel")
            .args(["-r", "-f", &self.name])
            .output();
        let _ = std::fs::remove_dir_all(&self.xdg);
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

fn chown_r(p: &Path, uid: u32, gid: u32) {
    let o = run(Command::new("chown")
        .args(["-R", "-h", &format!("{uid}:{gid}")])
        .arg(p));
    assert!(o.status.success());
}

fn ok(o: &Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what}: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn wait_stopped(u: &User, dir: &Path, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let o = u.tong(dir, &["state", id]);
        let s: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
        if s["status"] == "stopped" {
            return;
        }
        assert!(Instant::now() < deadline, "{id} never stopped: {s}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn spec_rootless_matches_runc() {
    require_root!();
    require_runc!();
    let u = User::new();
    let dir = u.home.join("spec");
    std::fs::create_dir(&dir).unwrap();
    chown_r(&dir, u.uid, u.gid);
    ok(&u.tong(&dir, &["spec", "--rootless"]), "tong spec");
    let mut ours: Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    std::fs::remove_file(dir.join("config.json")).unwrap();
    ok(
        &u.rt(Path::new(RUNC), &dir, &["spec", "--rootless"]),
        "runc spec",
    );
    let mut theirs: Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    for v in [&mut ours, &mut theirs] {
        v["ociVersion"] = Value::Null;
        v["hostname"] = Value::Null;
    }
    assert_eq!(ours, theirs);
    assert_eq!(ours["linux"]["uidMappings"][0]["hostID"], json!(u.uid));
}

/// The whole lifecycle as the user: state under XDG_RUNTIME_DIR, the
/// caller's single mapping inside, no cgroup (this host delegates none),
/// exec, ps, kill, delete, a file written to a bind mount owned by the user.
#[test]
fn lifecycle_as_an_ordinary_user() {
    require_root!();
    let u = User::new();
    let share = u.home.join("share");
    std::fs::create_dir(&share).unwrap();
    chown_r(&share, u.uid, u.gid);
    let dir = u.bundle("b", |v| {
        v["process"]["args"] = json!(["sh", "-c", "echo hi > /share/out; sleep 60"]);
        v["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/share", "type": "bind",
            "source": share, "options": ["rbind", "rw"]}));
    });
    let id = "rl-life";
    ok(&u.tong(&dir, &["run", "-d", id]), "run -d");
    // The state dir is the user's, under XDG_RUNTIME_DIR.
    let sd = u.state_root().join(id);
    assert_eq!(std::fs::metadata(&sd).unwrap().uid(), u.uid);
    let st: Value = serde_json::from_str(&ok(&u.tong(&dir, &["state", id]), "state")).unwrap();
    assert_eq!(st["status"], "running");
    let pid = st["pid"].as_i64().unwrap();
    let list = ok(&u.tong(&dir, &["list", "-q"]), "list");
    assert_eq!(list.trim(), id);
    // No cgroup of its own: the init stays in the caller's.
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(!cg.contains(id), "{cg}");
    let out = ok(
        &u.tong(
            &dir,
            &[
                "exec",
                id,
                "sh",
                "-c",
                "id -u; cat /proc/self/uid_map; cat /share/out",
            ],
        ),
        "exec",
    );
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words, ["0", "0", &u.uid.to_string(), "1", "hi"], "{out}");
    ok(&u.tong(&dir, &["exec", "-d", id, "sleep", "50"]), "exec -d");
    let ps: Value =
        serde_json::from_str(&ok(&u.tong(&dir, &["ps", "--format", "json", id]), "ps")).unwrap();
    let pids: Vec<i64> = ps
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_i64().unwrap())
        .collect();
    assert!(pids.contains(&pid) && pids.len() == 2, "{pids:?}");
    // Host side: the container's file is the user's.
    let md = std::fs::metadata(share.join("out")).unwrap();
    assert_eq!((md.uid(), md.gid()), (u.uid, u.gid));
    ok(&u.tong(&dir, &["kill", id, "KILL"]), "kill");
    wait_stopped(&u, &dir, id);
    ok(&u.tong(&dir, &["delete", id]), "delete");
    assert!(!sd.exists());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !u.processes().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(u.processes(), "");
}

/// A mapping beyond the caller's own id goes through newuidmap/newgidmap
/// (inside: root is the user, 1.. the subordinate range); one beyond the
/// range is refused with newuidmap's words and leaves nothing.
#[test]
fn subordinate_ids_through_newuidmap() {
    require_root!();
    let u = User::new();
    let share = u.home.join("share");
    std::fs::create_dir(&share).unwrap();
    chown_r(&share, u.uid, u.gid);
    let maps = |size: u32| {
        json!([{"containerID": 0, "hostID": u.uid, "size": 1},
               {"containerID": 1, "hostID": u.sub, "size": size}])
    };
    set_mode(&share, 0o777);
    let (uid, sub) = (u.uid, u.sub);
    let dir = u.bundle("wide", |v| {
        v["process"]["args"] = json!(["sh", "-c", "cat /proc/self/uid_map; touch /share/f"]);
        v["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        v["linux"]["uidMappings"] = maps(SUB_SIZE);
        v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": u.gid, "size": 1},
               {"containerID": 1, "hostID": sub, "size": SUB_SIZE}]);
        v["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/share", "type": "bind",
            "source": share, "options": ["rbind", "rw"]}));
    });
    let out = ok(&u.tong(&dir, &["run", "wide"]), "run with a subuid mapping");
    let want = format!("0 {uid} 1\n1 {sub} {SUB_SIZE}\n");
    let got: String = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") + "\n")
        .collect();
    assert_eq!(got, want);
    // Container uid 1000 is subordinate id sub + 999 on the host.
    let md = std::fs::metadata(share.join("f")).unwrap();
    assert_eq!((md.uid(), md.gid()), (sub + 999, sub + 999));
    // `run` deleted it once it exited.
    assert!(!u.state_root().join("wide").exists());

    // Beyond the range: newuidmap refuses, a clear error, nothing left.
    let p = dir.join("config.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    v["linux"]["uidMappings"] = maps(SUB_SIZE + 1);
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    let o = u.tong(&dir, &["run", "beyond"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("newuidmap") && err.contains("not allowed"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!u.state_root().join("beyond").exists());
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(u.processes(), "");
}

/// Root in the container is the user on the host: a host file the user may
/// not write stays unwritten; limits without a cgroup the user may write are
/// refused before anything is made.
#[test]
fn rootless_container_has_only_the_users_rights() {
    require_root!();
    let u = User::new();
    let guarded = PathBuf::from(format!("/tmp/tong-rl-guarded-{}", u.name));
    std::fs::create_dir(&guarded).unwrap();
    std::fs::write(guarded.join("f"), "root's\n").unwrap();
    set_mode(&guarded.join("f"), 0o644);
    let g = guarded.clone();
    let dir = u.bundle("sec", |v| {
        v["process"]["args"] = json!(["sh", "-c", "echo pwned > /g/f; echo new > /g/n; cat /g/f"]);
        v["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/g", "type": "bind", "source": g, "options": ["rbind", "rw"]}));
    });
    let o = u.tong(&dir, &["run", "sec"]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let _ = u.tong(&dir, &["delete", "-f", "sec"]);
    let host = std::fs::read_to_string(guarded.join("f")).unwrap();
    let made = guarded.join("n").exists();
    let _ = std::fs::remove_dir_all(&guarded);
    assert_eq!(out, "root's\n", "{err}");
    assert!(err.contains("Permission denied"), "{err}");
    assert_eq!(host, "root's\n");
    assert!(!made);

    // A pids limit needs a cgroup this user cannot make on this host.
    let p = dir.join("config.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    v["linux"]["resources"] = json!({"pids": {"limit": 10}});
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    let o = u.tong(&dir, &["run", "limited"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("rootless needs no limits"), "{err}");
    assert!(!u.state_root().join("limited").exists());
    assert_eq!(u.processes(), "");
}

/// As rootless Podman calls it: tong as root of a user namespace its caller
/// made (`unshare --user --map-root-user`), a non-rootless config with a
/// network namespace and a devpts gid=5 that is not mapped, then without the
/// network namespace (sysfs bound from the host).
#[test]
fn inside_the_callers_user_namespace() {
    require_root!();
    let u = User::new();
    let dir = u.home.join("ns");
    make_rootfs(&dir.join("rootfs"));
    let mut v = default_config();
    v["process"]["args"] = json!([
        "sh",
        "-c",
        "id -u; awk '$5 == \"/sys\"' /proc/self/mountinfo | wc -l"
    ]);
    std::fs::write(dir.join("config.json"), serde_json::to_vec(&v).unwrap()).unwrap();
    chown_r(&dir, u.uid, u.gid);
    let tong = tong_bin();
    let sh = format!(
        "set -e; {t} run a; {t} list -q; python3 -c 'import json; c=json.load(open(\"config.json\")); \
         c[\"linux\"][\"namespaces\"]=[n for n in c[\"linux\"][\"namespaces\"] if n[\"type\"]!=\"network\"]; \
         json.dump(c, open(\"config.json\", \"w\"))'; {t} run b",
        t = tong.display()
    );
    let mut c = u.cmd(
        &dir,
        &["unshare", "--user", "--map-root-user", "sh", "-c", &sh],
    );
    let o = c.output().unwrap();
    let out = ok(&o, "tong inside unshare --user --map-root-user");
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["0", "1", "0", "1"],
        "{out}"
    );
    // Root in that namespace with $USER not root: the state went under XDG.
    assert!(u.state_root().is_dir());
    assert_eq!(std::fs::read_dir(u.state_root()).unwrap().count(), 0);
}

/// The init of a created container made from the caller's own mapping stays
/// dumpable (runc's rule: it joins no namespace): the user may open its
/// /proc/PID/ns/* (slirp4netns --configure PID does), and the init may write
/// its own /proc/self/timens_offsets (both failed with EACCES while it was
/// made non-dumpable once mapped: its /proc files were then the host root's).
#[test]
fn created_init_is_the_users_and_time_offsets_apply() {
    require_root!();
    let u = User::new();
    let dir = u.bundle("dump", |v| {
        v["process"]["args"] = json!(["sh", "-c", "cat /proc/self/timens_offsets"]);
        let ns = v["linux"]["namespaces"].as_array_mut().unwrap();
        ns.push(json!({"type": "network"}));
        ns.push(json!({"type": "time"}));
        v["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 86400, "nanosecs": 0}});
    });
    let id = "rl-dump";
    ok(&u.tong(&dir, &["create", id]), "create");
    let st: Value = serde_json::from_str(&ok(&u.tong(&dir, &["state", id]), "state")).unwrap();
    assert_eq!(st["status"], "created");
    let pid = st["pid"].as_i64().unwrap();
    // As the user: the created init's network namespace is readable, and not
    // the host's.
    let link = ok(
        &run(&mut u.cmd(
            &dir,
            &[
                "readlink",
                &format!("/proc/{pid}/ns/net"),
                "/proc/self/ns/net",
            ],
        )),
        "readlink the created init's ns/net as the user",
    );
    let l: Vec<&str> = link.lines().collect();
    assert!(
        l.len() == 2 && l[0].starts_with("net:[") && l[0] != l[1],
        "{link}"
    );
    ok(&u.tong(&dir, &["start", id]), "start");
    wait_stopped(&u, &dir, id);
    ok(&u.tong(&dir, &["delete", id]), "delete");
    // The offsets, written by the init in its own user namespace.
    let out = ok(&u.tong(&dir, &["run", "rl-dump2"]), "run with timeOffsets");
    let norm: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(norm.contains(&"monotonic 86400 0".to_string()), "{out}");
}

/// As rootless Podman calls it with its network: tong as root of the
/// caller's user namespace, joining a network namespace made in that user
/// namespace by path. tong's own network namespace is the host's, which it
/// could not setns back into: the init joins it (this failed with "return to
/// the runtime's namespace: operation not permitted").
#[test]
fn joins_a_network_namespace_of_the_callers_user_namespace() {
    require_root!();
    let u = User::new();
    let dir = u.home.join("netjoin");
    make_rootfs(&dir.join("rootfs"));
    let mut v = default_config();
    v["process"]["args"] = json!(["readlink", "/proc/self/ns/net"]);
    std::fs::write(dir.join("config.json"), serde_json::to_vec(&v).unwrap()).unwrap();
    chown_r(&dir, u.uid, u.gid);
    let sh = format!(
        "set -e; unshare --net sleep 60 & p=$!; sleep 0.5; readlink /proc/$p/ns/net; \
         python3 -c 'import json,sys; c=json.load(open(\"config.json\")); \
         c[\"linux\"][\"namespaces\"]=[n for n in c[\"linux\"][\"namespaces\"] if n[\"type\"]!=\"network\"]+[{{\"type\":\"network\",\"path\":\"/proc/%s/ns/net\" % sys.argv[1]}}]; \
         json.dump(c, open(\"config.json\", \"w\"))' $p; {t} run j; kill $p",
        t = tong_bin().display()
    );
    let o = u
        .cmd(
            &dir,
            &["unshare", "--user", "--map-root-user", "sh", "-c", &sh],
        )
        .output()
        .unwrap();
    let out = ok(&o, "tong joining a network namespace of its user namespace");
    let l: Vec<&str> = out.lines().collect();
    assert!(
        l.len() == 2 && l[0].starts_with("net:[") && l[0] == l[1],
        "{out}"
    );
}
