//! Known container-runtime escapes, replayed against tong the way each CVE
//! attacked runc or crun. Every test names the defence it exercises (see
//! SECURITY.md for where that defence lives) and must fail if it is removed.
//! Every test also checks that the container left nothing behind and that the
//! host paths the attack aimed at were not touched.

mod common;
use common::*;
use serde_json::json;
use std::collections::hash_map::DefaultHasher;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Helpers

fn hash_file(p: &Path) -> u64 {
    let data = std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    let mut h = DefaultHasher::new();
    data.hash(&mut h);
    h.finish()
}

/// A private copy of the tong binary that this test's runtime runs, so an
/// attack that succeeds damages only the copy (and we can hash it).
fn victim_binary(ctx: &mut Ctx) -> (PathBuf, u64) {
    let p = ctx.work.join("tong-victim");
    std::fs::copy(tong_bin(), &p).unwrap();
    set_mode(&p, 0o755);
    ctx.tong.bin = p.clone();
    let h = hash_file(&p);
    (p, h)
}

/// Kills pids and removes cgroup dirs on drop: for tests whose point is that
/// tong might *not* clean up (a failing assertion must not leak the container).
struct Reaper {
    pids: Vec<i32>,
    cgroup: Option<String>,
}
impl Drop for Reaper {
    fn drop(&mut self) {
        for p in &self.pids {
            if *p > 0 && alive(*p) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(*p),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        std::thread::sleep(Duration::from_millis(100));
        if let Some(cg) = &self.cgroup {
            for ctrl in CONTROLLERS.iter().chain(
                [
                    "systemd",
                    "unified",
                    "cpuacct",
                    "hugetlb",
                    "net_cls",
                    "perf_event",
                    "net_prio",
                    "rdma",
                    "misc",
                ]
                .iter(),
            ) {
                let _ = std::fs::remove_dir(cgroup_dir(ctrl, cg));
            }
        }
    }
}

/// Runs `tong args` with host fds installed (without CLOEXEC) at the given
/// numbers in the runtime process, as a careless caller would leak them.
fn cmd_with_fds(rt: &Runtime, args: &[&str], fds: &[(i32, i32)]) -> Out {
    let mut c = rt.command();
    c.args(args);
    let fds: Vec<(i32, i32)> = fds.to_vec();
    // SAFETY: only async-signal-safe dup2/fcntl between fork and exec.
    unsafe {
        c.pre_exec(move || {
            for (src, dst) in &fds {
                if libc::dup2(*src, *dst) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let fl = libc::fcntl(*dst, libc::F_GETFD);
                libc::fcntl(*dst, libc::F_SETFD, fl & !libc::FD_CLOEXEC);
            }
            Ok(())
        });
    }
    rt.exec(c, &args.join(" "))
}

/// Mount points of the host that start with `prefix`.
fn host_mounts_under(prefix: &Path) -> Vec<String> {
    let p = prefix.to_string_lossy().to_string();
    mount_points()
        .into_iter()
        .filter(|m| m.starts_with(&p))
        .collect()
}

/// Asserts `dir` (outside every bundle) is still empty and has no mount on or below it.
fn assert_untouched_dir(dir: &Path) {
    let entries: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{} vanished: {e}", dir.display()))
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert!(
        entries.is_empty(),
        "host directory {} was written through the container: {entries:?}",
        dir.display()
    );
    let m = host_mounts_under(dir);
    assert!(m.is_empty(), "host mount(s) appeared at {m:?}");
}

fn remove_dev_tmpfs(b: &mut Bundle) {
    b.edit(|c| {
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["destination"] != "/dev")
    });
}

/// The rest of a `create` failure or success: if it succeeded, run it to the
/// end and return the container's stdout; either way delete and check clean.
fn run_or_refuse(ctx: &Ctx, b: &Bundle, id: &str) -> Result<String, String> {
    let o = ctx.tong.create(b, id, &[]);
    let r = if o.ok() {
        ctx.tong.start(id).success();
        ctx.tong.wait_stopped(id);
        let out = o.stdout_now();
        ctx.tong.delete(id).success();
        Ok(out)
    } else {
        assert!(
            !o.stderr.contains("panicked"),
            "tong panicked: {}",
            o.stderr
        );
        assert!(!o.stderr.trim().is_empty(), "failure without a message");
        Err(o.stderr)
    };
    assert_clean_simple(&ctx.tong, id, b, &[]);
    r
}

fn cgroup_procs(id: &str) -> Vec<i32> {
    std::fs::read_to_string(cgroup_dir("pids", &format!("/{id}")).join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn all_caps(b: &mut Bundle, extra: &[&str]) {
    let mut caps: Vec<String> = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    caps.extend(extra.iter().map(|s| s.to_string()));
    for set in ["bounding", "effective", "permitted"] {
        b.set(&format!("/process/capabilities/{set}"), json!(caps.clone()));
    }
}

/// Copies the shared libraries and loader `bin` needs (per ldd) into `rootfs`.
fn copy_loader_libs(bin: &Path, rootfs: &Path) {
    let out = Command::new("ldd").arg(bin).output().expect("ldd");
    for tok in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        if !tok.starts_with('/') {
            continue;
        }
        let dst = rootfs.join(tok.trim_start_matches('/'));
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(tok, &dst).unwrap_or_else(|e| panic!("copy {tok}: {e}"));
    }
}

// ---------------------------------------------------------------------------
// CVE-2019-5736: overwriting the host runtime binary through /proc/PID/exe.

/// Script run by an exec'd process against the created (still tong) init.
const EXE_PROBE: &str = "readlink /proc/1/exe >/dev/null 2>&1; echo R=$?; \
cat /proc/1/exe >/dev/null 2>&1; echo C=$?; \
(echo x >> /proc/1/exe) 2>/dev/null; echo W=$?; \
(for f in /proc/1/fd/*; do readlink $f >/dev/null 2>&1 && exit 0; done; exit 1); echo L=$?; \
cat /proc/1/environ >/dev/null 2>&1; echo E=$?; \
readlink /proc/1/cwd >/dev/null 2>&1; echo D=$?";

fn probe_results(out: &str) -> Vec<(String, i32)> {
    out.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// Defence: the init is PR_SET_DUMPABLE=0 from its first step until execve
/// (src/process/init.rs `setup`). While a container is *created*, pid 1 is the
/// host tong binary; an exec'd process with the default capabilities must not
/// be able to resolve, read or write /proc/1/exe, nor list /proc/1/fd.
#[test]
fn cve_2019_5736_created_init_exe_is_unreachable() {
    require_root!();
    let mut ctx = Ctx::new("sec-5736");
    let (victim, before) = victim_binary(&mut ctx);
    let b = ctx.bundle("sleep 1000");
    let id = ctx.id("");
    ctx.tong.create(&b, &id, &[]).success();
    let init = ctx.tong.pid(&id);
    let o = ctx
        .tong
        .cmd(&["exec", &id, "sh", "-c", EXE_PROBE])
        .success();
    let res = probe_results(&o.stdout);
    assert_eq!(res.len(), 6, "probe output {:?}", o.stdout);
    for (k, v) in &res {
        assert_ne!(
            *v, 0,
            "{k}: /proc/1 of the created init was reachable: {}",
            o.stdout
        );
    }
    assert_eq!(hash_file(&victim), before, "host tong binary changed");
    ctx.tong.delete_force(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[init]);
}

/// The same probe with CAP_SYS_PTRACE granted, with and without a user
/// namespace, plus the full attack: hold /proc/1/exe open while the init is
/// tong, then write through the held fd once no tong process executes it.
/// With a user namespace the dumpable flag (checked against the init's mm,
/// owned by the host user namespace) and the id mapping both stop it.
fn ptrace_attack(ctx: &mut Ctx, userns: bool) -> (bool, bool) {
    let (victim, before) = victim_binary(ctx);
    let mut b = ctx.bundle("sleep 1000");
    b.set("/root/readonly", json!(false));
    all_caps(&mut b, &["CAP_SYS_PTRACE"]);
    if userns {
        b.userns(100000, 65536);
        // Mapped root must be able to reach the rootfs.
        let rootfs = b.rootfs();
        let _ = Command::new("chown")
            .args(["-R", "100000:100000"])
            .arg(&rootfs)
            .status();
    }
    let id = ctx.id(if userns { "userns" } else { "nouserns" });
    ctx.tong.create(&b, &id, &[]).success();
    let init = ctx.tong.pid(&id);
    let _reaper = Reaper {
        pids: vec![init],
        cgroup: Some(format!("/{id}")),
    };
    let probe = ctx
        .tong
        .cmd(&["exec", &id, "sh", "-c", EXE_PROBE])
        .success();
    let res = probe_results(&probe.stdout);
    let readable = res.iter().any(|(k, v)| k == "C" && *v == 0);
    // The holder: opens the exe while the init is tong and retries the write.
    let holder = "if (exec 3</proc/1/exe) 2>/dev/null && exec 3</proc/1/exe; then echo opened > /tmp/opened; \
        i=0; while [ $i -lt 100 ]; do if (echo PWNED >> /proc/self/fd/3) 2>/dev/null; \
        then echo written > /tmp/written; exit 0; fi; i=$((i+1)); sleep 0.05; done; \
        echo gave-up > /tmp/written; else echo refused > /tmp/opened; echo no > /tmp/written; fi";
    ctx.tong
        .cmd(&["exec", "-d", &id, "sh", "-c", holder])
        .success();
    let rootfs = b.rootfs();
    wait_until("holder opened", Duration::from_secs(10), || {
        rootfs.join("tmp/opened").exists()
    });
    ctx.tong.start(&id).success();
    wait_until("holder finished", Duration::from_secs(20), || {
        rootfs.join("tmp/written").exists()
    });
    let written = std::fs::read_to_string(rootfs.join("tmp/written")).unwrap_or_default();
    let changed = hash_file(&victim) != before;
    eprintln!(
        "userns={userns}: probe {:?}, holder: opened={:?} written={:?}, binary changed={changed}",
        probe.stdout,
        std::fs::read_to_string(rootfs.join("tmp/opened")).unwrap_or_default(),
        written
    );
    ctx.tong.delete_force(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[init]);
    (readable, changed)
}

use std::process::Command;

/// Prepares a hostile rootfs for one case.
type PlantFn<'a> = Box<dyn Fn(&Path) + 'a>;

/// With a user namespace, CAP_SYS_PTRACE inside it gives nothing over the
/// non-dumpable init: neither read nor overwrite.
#[test]
fn cve_2019_5736_cap_sys_ptrace_in_userns_cannot_reach_binary() {
    require_root!();
    let mut ctx = Ctx::new("sec-5736-uns");
    let (readable, changed) = ptrace_attack(&mut ctx, true);
    assert!(
        !changed,
        "host tong binary overwritten from a userns container"
    );
    assert!(
        !readable,
        "host tong binary readable from a userns container"
    );
}

/// CAP_SYS_PTRACE without a user namespace is real root's ptrace capability
/// and overrides the dumpable flag: the container can open /proc/1/exe of a
/// created init. What it reaches is tong's read-only overlay view of itself
/// (or its sealed memfd copy), so writing through it must fail: the host
/// binary stays unchanged.
#[test]
fn cve_2019_5736_cap_sys_ptrace_without_userns() {
    require_root!();
    let mut ctx = Ctx::new("sec-5736-ptr");
    let (_readable_copy, changed) = ptrace_attack(&mut ctx, false);
    assert!(
        !changed,
        "host tong binary overwritten (CAP_SYS_PTRACE, no userns)"
    );
}

/// The original CVE-2019-5736 exploit: the image replaces a binary the admin
/// will `exec` with a `#!/proc/self/exe` script. When tong's exec child execve()s
/// it, the kernel resolves the interpreter /proc/self/exe in the exec child,
/// i.e. the *host tong binary*, and runs it as a container process (dumpable,
/// container credentials). A process in the container then opens
/// /proc/PID/exe, and writes through it once tong has exited.
/// Defence needed: the exec'd binary must never be the host tong binary
/// (runc: re-exec from a sealed memfd / read-only overlay copy).
/// The attacker's race is made deterministic here by giving the exec a stderr
/// pipe that is already full, so the hijacked tong blocks printing its usage
/// error (a fast attacker in C wins the race without this).
#[test]
fn cve_2019_5736_shebang_proc_self_exe_in_exec() {
    require_root!();
    let mut ctx = Ctx::new("sec-5736-sb");
    let (victim, before) = victim_binary(&mut ctx);
    let mut b = ctx.bundle("sleep 1000");
    b.set("/root/readonly", json!(false));
    let rootfs = b.rootfs();
    std::fs::write(rootfs.join("evil"), "#!/proc/self/exe\n").unwrap();
    // A glibc image: the dynamic loader and libs the (dynamically linked) host
    // binary needs are in it, as in any distro-based image.
    copy_loader_libs(&victim, &rootfs);
    set_mode(&rootfs.join("evil"), 0o755);
    let name = victim.file_name().unwrap().to_string_lossy().to_string();
    let id = ctx.id("");
    ctx.tong.run_detached(&b, &id).success();
    let init = ctx.tong.pid(&id);
    let _reaper = Reaper {
        pids: vec![init],
        cgroup: Some(format!("/{id}")),
    };
    // The attacker inside: wait for a process running the host tong binary.
    let watcher = format!(
        "while [ ! -e /tmp/stop ]; do for p in /proc/[0-9]*; do \
         case \"$(readlink $p/exe 2>/dev/null)\" in *{name}*) \
           if (exec 3<$p/exe) 2>/dev/null && exec 3<$p/exe; then echo \"$p $(readlink $p/exe)\" > /tmp/opened; \
             i=0; while [ $i -lt 400 ]; do if (echo PWNED >> /proc/self/fd/3) 2>/dev/null; \
             then echo written > /tmp/written; exit 0; fi; i=$((i+1)); sleep 0.05; done; \
             echo gave-up > /tmp/written; exit 0; fi;; esac; done; n=$((n+1)); done; \
         echo never-saw-tong > /tmp/opened"
    );
    ctx.tong
        .cmd(&["exec", "-d", &id, "sh", "-c", &watcher])
        .success();
    // A full pipe for the victim exec's stdout/stderr.
    let (r, w) = nix::unistd::pipe().unwrap();
    nix::fcntl::fcntl(
        w.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .unwrap();
    let chunk = [b'.'; 4096];
    while nix::unistd::write(&w, &chunk).is_ok() {}
    nix::fcntl::fcntl(
        w.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
    )
    .unwrap();
    let mut c = ctx.tong.command();
    c.args(["exec", &id, "/evil"])
        .stdin(std::process::Stdio::null())
        .stdout(File::from(w.try_clone().unwrap()))
        .stderr(File::from(w));
    let mut admin = c.spawn().unwrap();
    // Our copies of the pipe's write end must go, or the drain never sees EOF.
    drop(c);
    // Give the attacker time, then let the hijacked process finish.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !rootfs.join("tmp/opened").exists() && Instant::now() < deadline {
        if admin.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Drain the pipe so the hijacked tong can exit.
    let drain = std::thread::spawn(move || {
        use std::io::Read;
        let mut f = File::from(r);
        let mut v = Vec::new();
        let _ = f.read_to_end(&mut v);
        String::from_utf8_lossy(&v).replace('.', "")
    });
    let _ = wait_timeout(&mut admin, Duration::from_secs(20), "exec /evil");
    let admin_out = drain.join().unwrap();
    if rootfs.join("tmp/opened").exists() {
        // The watcher tries 400 times, 50 ms apart (20 s at best; a TCG guest
        // takes several times longer to fork its subshells).
        wait_until("watcher done", Duration::from_secs(120), || {
            rootfs.join("tmp/written").exists()
                || std::fs::read_to_string(rootfs.join("tmp/opened"))
                    .is_ok_and(|s| s.contains("never"))
        });
    }
    std::fs::write(rootfs.join("tmp/stop"), "").unwrap();
    let opened = std::fs::read_to_string(rootfs.join("tmp/opened")).unwrap_or_default();
    let written = std::fs::read_to_string(rootfs.join("tmp/written")).unwrap_or_default();
    let changed = hash_file(&victim) != before;
    ctx.tong.delete_force(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[init]);
    assert!(
        !changed,
        "CVE-2019-5736: the container overwrote the host tong binary through \
         /proc/PID/exe of a `#!/proc/self/exe` interpreter (opened: {opened:?}, \
         written: {written:?}, exec output: {admin_out:?})"
    );
    // What may run and be opened is tong's read-only view of itself (a
    // detached lower-only overlayfs, where the link reads `/tong-victim`, or a
    // sealed memfd), never the host file, and writing through it must fail.
    assert!(
        !opened.contains(victim.to_str().unwrap()),
        "CVE-2019-5736: the host tong binary ran inside the container and was \
         opened through {opened:?} (exec output: {admin_out:?})"
    );
    assert_ne!(
        written.trim(),
        "written",
        "CVE-2019-5736: a write through {opened:?} succeeded"
    );
}

// ---------------------------------------------------------------------------
// CVE-2016-9962: a process joining the container is reachable before execve.

/// Defence: dumpable=0 in the init and in the exec child until execve
/// (src/process/init.rs `setup`, src/process/exec.rs `steps`). From an exec'd
/// process, the created init's /proc/1/{fd,environ,cwd,mem} are closed; and an
/// exec child that fails before execve (here: a missing binary) is never
/// observable with a listable /proc/PID/fd.
#[test]
fn cve_2016_9962_joining_processes_not_inspectable() {
    require_root!();
    let ctx = Ctx::new("sec-9962");
    let b = ctx.bundle("sleep 1000");
    let id = ctx.id("");
    let hostdir = ctx.dir("hostdir");
    let hd = File::open(&hostdir).unwrap();
    // A host fd leaked into create: it must not be reachable through /proc/1/fd.
    let o = cmd_with_fds(
        &ctx.tong,
        &["create", "--bundle", b.dir.to_str().unwrap(), &id],
        &[(hd.as_raw_fd(), 5)],
    );
    ctx.tong.track(&id);
    let o = o.success();
    let _ = o;
    let init = ctx.tong.pid(&id);
    // (Listing the fd numbers is allowed by the kernel: a non-dumpable task's
    // /proc files belong to root, which container root is without a userns.)
    let probe = "(for f in /proc/1/fd/*; do readlink $f >/dev/null 2>&1 && exit 0; done; exit 1); echo L=$?; \
        ls /proc/1/fd/5/ >/dev/null 2>&1; echo F=$?; \
        cat /proc/1/environ >/dev/null 2>&1; echo E=$?; \
        readlink /proc/1/cwd >/dev/null 2>&1; echo D=$?; \
        readlink /proc/1/root >/dev/null 2>&1; echo T=$?; \
        head -c1 /proc/1/mem >/dev/null 2>&1; echo M=$?";
    let out = ctx
        .tong
        .cmd(&["exec", &id, "sh", "-c", probe])
        .success()
        .stdout;
    let res = probe_results(&out);
    assert_eq!(res.len(), 6, "{out:?}");
    for (k, v) in &res {
        assert_ne!(*v, 0, "{k}: the created init was inspectable: {out}");
    }
    // A second exec while another exec child is parked: none of the created
    // init's or other exec children's fd tables is listable.
    let out = ctx
        .tong
        .cmd(&["exec", &id, "sh", "-c", "for p in /proc/[0-9]*; do [ $p = /proc/$$ ] && continue; [ $p = /proc/self ] && continue; readlink $p/fd/0 >/dev/null 2>&1 && echo LISTED $p $(cat $p/comm); done; echo end"])
        .success()
        .stdout;
    assert!(!out.contains("LISTED"), "{out}");
    ctx.tong.delete_force(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[init]);
}

// ---------------------------------------------------------------------------
// CVE-2024-21626: leaked host fds and a cwd of /proc/self/fd/N.

fn fd_targets(pid: i32) -> Vec<(i32, String)> {
    let mut v: Vec<(i32, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let n: i32 = e.file_name().to_string_lossy().parse().ok()?;
                    let t = std::fs::read_link(e.path()).ok()?;
                    Some((n, t.to_string_lossy().to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Defence: every inherited fd ≥ 3+preserve is close-on-exec from the init's
/// and exec child's first step (src/process/attrs.rs `mark_cloexec_from`), and
/// the cwd is resolved inside the rootfs without magic links
/// (src/safe_fs.rs `mkdir_all`, called from src/process/init.rs `setup`).
#[test]
fn cve_2024_21626_no_host_fd_reaches_the_container() {
    require_root!();
    let ctx = Ctx::new("sec-21626");
    let hostdir = ctx.dir("hostdir");
    std::fs::write(hostdir.join("HOSTMARKER"), "host").unwrap();
    let hostfile = hostdir.join("file");
    std::fs::write(&hostfile, "host file").unwrap();
    let d = File::open(&hostdir).unwrap();
    let f = File::open(&hostfile).unwrap();
    let leak: Vec<(i32, i32)> = vec![
        (d.as_raw_fd(), 3),
        (f.as_raw_fd(), 4),
        (d.as_raw_fd(), 5),
        (f.as_raw_fd(), 6),
        (d.as_raw_fd(), 7),
    ];
    let mut b = ctx.bundle("sleep 1000");
    b.set("/root/readonly", json!(false));
    let id = ctx.id("");
    b.save();
    ctx.tong.track(&id);
    cmd_with_fds(
        &ctx.tong,
        &["create", "--bundle", b.dir.to_str().unwrap(), &id],
        &leak,
    )
    .success();
    cmd_with_fds(&ctx.tong, &["start", &id], &leak).success();
    let init = ctx.tong.pid(&id);
    wait_until("init exec'd", Duration::from_secs(10), || {
        std::fs::read_to_string(format!("/proc/{init}/comm")).is_ok_and(|c| c.trim() == "sleep")
    });
    let fds = fd_targets(init);
    assert!(
        fds.iter().all(|(n, _)| *n <= 2),
        "container init holds fds beyond stdio: {fds:?}"
    );
    // exec, detached, with the same leak; then with --preserve-fds 1.
    for (preserve, want_max) in [("0", 2), ("1", 3)] {
        let pidfile = ctx.work.join(format!("exec-{preserve}.pid"));
        cmd_with_fds(
            &ctx.tong,
            &[
                "exec",
                "-d",
                "--preserve-fds",
                preserve,
                "--pid-file",
                pidfile.to_str().unwrap(),
                &id,
                "sleep",
                "1000",
            ],
            &leak,
        )
        .success();
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let fds = fd_targets(pid);
        assert!(
            fds.iter().all(|(n, _)| *n <= want_max),
            "exec'd process (preserve {preserve}) holds {fds:?}"
        );
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    // From inside, too.
    let out = cmd_with_fds(&ctx.tong, &["exec", &id, "ls", "-l", "/proc/1/fd"], &leak)
        .success()
        .stdout;
    assert!(!out.contains("hostdir"), "{out}");

    // `exec --cwd /proc/self/fd/N` and a container-made symlink to it: the
    // exec child still holds the leaked fds (close-on-exec only) when it chdirs.
    let mut escaped = Vec::new();
    for n in 3..=7 {
        let link = format!("/tmp/l{n}");
        ctx.tong
            .cmd(&[
                "exec",
                &id,
                "ln",
                "-sf",
                &format!("/proc/self/fd/{n}"),
                &link,
            ])
            .success();
        for cwd in [format!("/proc/self/fd/{n}"), link.clone()] {
            let o = cmd_with_fds(
                &ctx.tong,
                &["exec", "--cwd", &cwd, &id, "sh", "-c", "pwd; ls -a"],
                &leak,
            );
            assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
            if o.ok() && (o.stdout.contains("HOSTMARKER") || o.stdout.contains("unreachable")) {
                escaped.push(format!("--cwd {cwd}: {:?}", o.stdout));
            }
        }
    }
    ctx.tong.delete_force(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[init]);

    // process.cwd = /proc/self/fd/7 at create: refused (or inside the rootfs).
    for cwd in ["/proc/self/fd/7", "/proc/1/cwd", "/proc/self/cwd/.."] {
        let mut b = ctx.bundle("pwd; ls -a");
        b.set("/process/cwd", json!(cwd));
        let id = ctx.id("cwd");
        b.save();
        ctx.tong.track(&id);
        let o = cmd_with_fds(
            &ctx.tong,
            &["run", "--bundle", b.dir.to_str().unwrap(), &id],
            &leak,
        );
        assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
        assert!(
            !o.stdout.contains("HOSTMARKER") && !o.stdout.contains("unreachable"),
            "cwd {cwd} reached the host: {}",
            o.stdout
        );
        let _ = ctx.tong.delete_force(&id);
        assert_clean_simple(&ctx.tong, &id, &b, &[]);
    }
    assert!(
        escaped.is_empty(),
        "CVE-2024-21626: exec'd process started with a host cwd:\n{}",
        escaped.join("\n")
    );
}

// ---------------------------------------------------------------------------
// CVE-2019-16884 / CVE-2019-19921 / CVE-2023-27561: /proc as a symlink.

/// Defence: proc/sysfs destinations that are symlinks are refused, /proc is
/// verified as procfs after mounting (src/rootfs/mounts.rs `refuse_symlink`,
/// `fresh`), and every target is resolved inside the rootfs (src/safe_fs.rs).
#[test]
fn cve_2019_16884_proc_symlink_is_refused() {
    require_root!();
    let ctx = Ctx::new("sec-procsym");
    let outside = ctx.dir("outside");
    let targets = [
        "/tmp/x".to_string(),
        outside.to_string_lossy().to_string(),
        "../../../../../../../..".to_string() + &outside.to_string_lossy(),
        "/".to_string(),
    ];
    for (i, t) in targets.iter().enumerate() {
        let mut b = ctx.bundle("cat /proc/self/mountinfo | grep -c proc; echo ok");
        std::fs::remove_dir(b.rootfs().join("proc")).unwrap();
        std::os::unix::fs::symlink(t, b.rootfs().join("proc")).unwrap();
        // A sysctl and an apparmor-like /proc write must not go anywhere either.
        b.set("/linux/sysctl", json!({"kernel.shm_rmid_forced": "1"}));
        let id = ctx.id(&format!("p{i}"));
        let r = run_or_refuse(&ctx, &b, &id);
        assert!(r.is_err(), "/proc -> {t}: create succeeded: {r:?}");
        assert_untouched_dir(&outside);
        // Nothing was created inside under the link target either (for /tmp/x).
        assert!(!b.rootfs().join("tmp/x/self").exists());
    }
    // The same for /sys.
    let mut b = ctx.bundle("true");
    std::fs::remove_dir(b.rootfs().join("sys")).unwrap();
    std::os::unix::fs::symlink(&outside, b.rootfs().join("sys")).unwrap();
    b.set("/root/readonly", json!(false));
    let id = ctx.id("sys");
    let r = run_or_refuse(&ctx, &b, &id);
    assert!(r.is_err(), "/sys -> outside: create succeeded: {r:?}");
    assert_untouched_dir(&outside);
}

// ---------------------------------------------------------------------------
// CVE-2021-30465: a mount destination that is a symlink pointing outside.

/// Defence: mount targets are resolved with openat2 RESOLVE_IN_ROOT and
/// mounted through /proc/self/fd/N (src/safe_fs.rs `mkdir_all`/`touch`,
/// src/rootfs/mounts.rs `bind`/`fresh`), so absolute and `..` links land
/// inside the rootfs. (The race variant is not reproduced.)
#[test]
fn cve_2021_30465_mount_destination_symlinks_stay_inside() {
    require_root!();
    let ctx = Ctx::new("sec-30465");
    let outside = ctx.dir("outside");
    let src = ctx.dir("bindsrc");
    std::fs::write(src.join("from-bind"), "x").unwrap();
    std::fs::write(ctx.work.join("bindfile"), "file").unwrap();
    let mut b = ctx.bundle(
        "ls /abs/tmpfs-here >/dev/null && grep -c ' /outside-abs\\| /abs' /proc/self/mountinfo; \
         ls /rel; ls /abs; ls /dotdot; echo ok",
    );
    b.set("/root/readonly", json!(false));
    let r = b.rootfs();
    let o = outside.to_string_lossy().to_string();
    std::os::unix::fs::symlink(&o, r.join("abs")).unwrap();
    std::os::unix::fs::symlink(format!("../../../../../../../../..{o}"), r.join("rel")).unwrap();
    std::fs::create_dir_all(r.join("a/b")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../../../..", r.join("a/b/up")).unwrap();
    std::os::unix::fs::symlink(format!("/a/b/up{o}"), r.join("dotdot")).unwrap();
    std::os::unix::fs::symlink(format!("{o}/f"), r.join("filelink")).unwrap();
    b.push_mount(json!({"destination": "/abs/tmpfs-here", "type": "tmpfs", "source": "tmpfs"}));
    b.push_mount(
        json!({"destination": "/rel", "type": "bind", "source": src, "options": ["bind"]}),
    );
    b.push_mount(
        json!({"destination": "/dotdot/sub", "type": "bind", "source": src, "options": ["rbind"]}),
    );
    b.push_mount(json!({"destination": "/a/b/up/escaped", "type": "tmpfs", "source": "tmpfs"}));
    let id = ctx.id("");
    let r2 = run_or_refuse(&ctx, &b, &id);
    assert_untouched_dir(&outside);
    let out = r2.expect("mounts through in-rootfs symlinks should succeed (inside the rootfs)");
    assert!(out.contains("from-bind"), "bind not visible inside: {out}");
    // They landed inside the rootfs, at the link targets resolved in it.
    assert!(r
        .join(o.trim_start_matches('/'))
        .join("tmpfs-here")
        .is_dir());
    assert!(r.join("escaped").is_dir());
    assert_eq!(
        std::fs::read_to_string(ctx.work.join("bindfile")).unwrap(),
        "file"
    );
}

// ---------------------------------------------------------------------------
// CVE-2022-29162: inheritable capabilities.

/// Defence: inheritable is never filled by tong (src/caps.rs, and `exec --cap`
/// in src/commands/exec.rs `build_process` adds to bounding/effective/permitted
/// only).
#[test]
fn cve_2022_29162_no_inheritable_capabilities() {
    require_root!();
    let ctx = Ctx::new("sec-29162");
    let b = ctx.bundle("grep CapInh /proc/self/status; sleep 1000");
    let id = ctx.id("");
    let c = ctx.tong.create(&b, &id, &[]).success();
    ctx.tong.start(&id).success();
    wait_until("init output", Duration::from_secs(10), || {
        c.stdout_now().contains("CapInh")
    });
    let init = ctx.tong.pid(&id);
    let inh = |s: &str| -> String { status_field(s, "CapInh").unwrap_or_default() };
    assert_eq!(inh(&c.stdout_now()), "0000000000000000");
    let o = ctx
        .tong
        .cmd(&["exec", &id, "cat", "/proc/self/status"])
        .success();
    assert_eq!(inh(&o.stdout), "0000000000000000", "exec");
    for caps in [
        vec!["--cap", "CAP_SYS_ADMIN"],
        vec!["--cap", "CAP_NET_RAW", "--cap", "CAP_DAC_OVERRIDE"],
    ] {
        let mut args = vec!["exec"];
        args.extend(caps.iter());
        args.extend([id.as_str(), "cat", "/proc/self/status"]);
        let o = ctx.tong.cmd(&args).success();
        assert_eq!(inh(&o.stdout), "0000000000000000", "exec {caps:?}");
        assert_ne!(
            status_field(&o.stdout, "CapEff").unwrap(),
            "0000000000000000"
        );
    }
    // And through an exec --process file with inheritable unset.
    let pf = ctx.work.join("proc.json");
    std::fs::write(
        &pf,
        serde_json::to_vec(&json!({"cwd": "/", "args": ["cat", "/proc/self/status"],
            "user": {"uid": 0, "gid": 0},
            "capabilities": {"bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]}}))
        .unwrap(),
    )
    .unwrap();
    let o = ctx
        .tong
        .cmd(&["exec", "--process", pf.to_str().unwrap(), &id])
        .success();
    assert_eq!(inh(&o.stdout), "0000000000000000", "exec --process");
    ctx.tong.delete_force(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[init]);
}

// ---------------------------------------------------------------------------
// CVE-2025-31133 / CVE-2025-52565: /dev/null and /dev/console from the image.

/// Defence: devices are unlinked and made with mknodat in a parent resolved in
/// the rootfs (src/rootfs/devices.rs `create`); maskedPaths bind only a
/// /dev/null verified to be char 1:3 (src/rootfs/finalize.rs `dev_null`);
/// /dev/console is unlinked and re-made before the pty is bound onto it
/// (src/process/init.rs `console`).
#[test]
fn cve_2025_31133_masked_paths_with_hostile_dev_null() {
    require_root!();
    let ctx = Ctx::new("sec-31133");
    let outside = ctx.dir("outside");
    let hostfile = ctx.work.join("hostfile");
    std::fs::write(&hostfile, "SECRET-HOST-FILE").unwrap();
    let hf = hostfile.to_string_lossy().to_string();
    // (label, how /dev/null looks in the image)
    let kinds = [
        "symlink-host-file",
        "symlink-outside-dir",
        "regular-file",
        "symlink-proc",
    ];
    for (i, kind) in kinds.iter().enumerate() {
        let mut b = ctx.bundle(
            "cat /proc/kcore /proc/timer_list /proc/keys 2>&1 | head -c 100; echo; \
             ls -l /dev/null; grep -c SECRET /proc/self/mountinfo; echo end",
        );
        remove_dev_tmpfs(&mut b);
        b.set("/root/readonly", json!(false));
        let null = b.rootfs().join("dev/null");
        match *kind {
            "symlink-host-file" => std::os::unix::fs::symlink(&hf, &null).unwrap(),
            "symlink-outside-dir" => {
                std::os::unix::fs::symlink(outside.join("null"), &null).unwrap()
            }
            "regular-file" => std::fs::write(&null, "SECRET-IMAGE-NULL").unwrap(),
            _ => std::os::unix::fs::symlink("/proc/self/root/etc/passwd", &null).unwrap(),
        }
        let id = ctx.id(&format!("n{i}"));
        let r = run_or_refuse(&ctx, &b, &id);
        if let Ok(out) = &r {
            assert!(!out.contains("SECRET"), "{kind}: masked path shows {out}");
            assert!(
                out.contains("crw-rw-rw-"),
                "{kind}: /dev/null not a device: {out}"
            );
        }
        assert_eq!(
            std::fs::read_to_string(&hostfile).unwrap(),
            "SECRET-HOST-FILE"
        );
        assert!(host_mounts_under(&hostfile).is_empty());
        assert_untouched_dir(&outside);
    }
}

/// /dev/console in the image is a symlink to a host path (or a regular file):
/// the pty must be bound onto a file tong made, inside the rootfs.
#[test]
fn cve_2025_52565_console_symlink_does_not_redirect_bind() {
    require_root!();
    use std::os::unix::net::UnixListener;
    let ctx = Ctx::new("sec-52565");
    let outside = ctx.dir("outside");
    let hostfile = ctx.work.join("hostconsole");
    std::fs::write(&hostfile, "HOST").unwrap();
    for (i, target) in [
        hostfile.to_string_lossy().to_string(),
        outside.join("console").to_string_lossy().to_string(),
        "/proc/self/root/etc/hosts".to_string(),
    ]
    .iter()
    .enumerate()
    {
        let mut b = ctx.bundle("grep ' /dev/console ' /proc/self/mountinfo; echo end");
        remove_dev_tmpfs(&mut b);
        b.set("/root/readonly", json!(false));
        b.set("/process/terminal", json!(true));
        std::os::unix::fs::symlink(target, b.rootfs().join("dev/console")).unwrap();
        let sock = ctx.work.join(format!("console{i}.sock"));
        let listener = UnixListener::bind(&sock).unwrap();
        let t = std::thread::spawn(move || {
            // Hold the connection (and the received pty master) until create is done.
            let c = listener.accept().ok();
            std::thread::sleep(Duration::from_secs(3));
            drop(c);
        });
        let id = ctx.id(&format!("c{i}"));
        let o = ctx
            .tong
            .create(&b, &id, &["--console-socket", sock.to_str().unwrap()]);
        if o.ok() {
            let init = ctx.tong.pid(&id);
            let mi = std::fs::read_to_string(format!("/proc/{init}/mountinfo")).unwrap();
            let m: Vec<&str> = mi
                .lines()
                .filter(|l| l.contains(" /dev/console "))
                .collect();
            assert_eq!(m.len(), 1, "console mounts: {m:?}");
            ctx.tong.delete_force(&id).success();
        } else {
            assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
        }
        let _ = t.join();
        assert_eq!(std::fs::read_to_string(&hostfile).unwrap(), "HOST");
        assert!(host_mounts_under(&hostfile).is_empty());
        assert_untouched_dir(&outside);
        assert!(
            std::fs::read_to_string("/etc/hosts").is_ok(),
            "host /etc/hosts"
        );
        assert!(host_mounts_under(Path::new("/etc/hosts")).is_empty());
        assert_clean_simple(&ctx.tong, &id, &b, &[]);
    }
}

// ---------------------------------------------------------------------------
// CVE-2025-52881: /proc writes redirected by container mounts.

/// Defence: sysctls are written through a /proc handle verified to be procfs,
/// each file re-checked to be on procfs (src/rootfs/finalize.rs `write_proc`);
/// oom_score_adj is written by the parent on the host's /proc.
#[test]
fn cve_2025_52881_sysctl_write_not_redirected() {
    require_root!();
    let ctx = Ctx::new("sec-52881");
    let fake = ctx.dir("fakesys");
    std::fs::create_dir_all(fake.join("kernel")).unwrap();
    std::fs::write(fake.join("kernel/shm_rmid_forced"), "orig").unwrap();
    std::fs::create_dir_all(fake.join("net/ipv4")).unwrap();
    std::fs::write(fake.join("net/ipv4/ip_forward"), "orig").unwrap();
    let fakeself = ctx.dir("fakeself");
    std::fs::write(fakeself.join("oom_score_adj"), "orig").unwrap();
    for (i, dest) in ["/proc/sys", "/proc/sys/kernel", "/proc/sys/net"]
        .iter()
        .enumerate()
    {
        let mut b = ctx.bundle("cat /proc/self/oom_score_adj");
        let src = if *dest == "/proc/sys" {
            fake.clone()
        } else {
            fake.join(dest.trim_start_matches("/proc/sys/"))
        };
        b.push_mount(
            json!({"destination": dest, "type": "bind", "source": src, "options": ["rbind"]}),
        );
        b.set(
            "/linux/sysctl",
            json!({"kernel.shm_rmid_forced": "1", "net.ipv4.ip_forward": "1"}),
        );
        b.set("/process/oomScoreAdj", json!(123));
        let id = ctx.id(&format!("s{i}"));
        let r = run_or_refuse(&ctx, &b, &id);
        assert_eq!(
            std::fs::read_to_string(fake.join("kernel/shm_rmid_forced")).unwrap(),
            "orig",
            "{dest}: sysctl written to a bind-mounted host file ({r:?})"
        );
        assert_eq!(
            std::fs::read_to_string(fake.join("net/ipv4/ip_forward")).unwrap(),
            "orig",
            "{dest}: sysctl written to a bind-mounted host file ({r:?})"
        );
        if let Ok(out) = r {
            assert_eq!(out.trim(), "123");
        }
    }
    // A bind over /proc/self (as a directory the image controls) for oom_score_adj.
    let mut b = ctx.bundle("cat /proc/self/oom_score_adj");
    b.push_mount(
        json!({"destination": "/proc/1", "type": "bind", "source": fakeself, "options": ["bind"]}),
    );
    b.set("/process/oomScoreAdj", json!(77));
    let id = ctx.id("oom");
    let _ = run_or_refuse(&ctx, &b, &id);
    assert_eq!(
        std::fs::read_to_string(fakeself.join("oom_score_adj")).unwrap(),
        "orig"
    );
}

// ---------------------------------------------------------------------------
// /dev, /dev/pts, /dev/shm and linux.devices through symlinks.

/// Defence: every /dev path is resolved inside the rootfs (src/safe_fs.rs;
/// src/rootfs/devices.rs `create` uses mknodat in a resolved parent; mount
/// targets use /proc/self/fd/N). With no /dev tmpfs, the image's /dev is used.
#[test]
fn dev_symlinks_do_not_escape() {
    require_root!();
    let ctx = Ctx::new("sec-devsym");
    let outside = ctx.dir("outside");
    let o = outside.to_string_lossy().to_string();
    let cases: Vec<(&str, PlantFn<'_>)> = vec![
        (
            "dev-abs",
            Box::new(|r: &Path| {
                std::fs::remove_dir(r.join("dev")).unwrap();
                std::os::unix::fs::symlink(&o, r.join("dev")).unwrap();
            }),
        ),
        (
            "dev-rel",
            Box::new(|r: &Path| {
                std::fs::remove_dir(r.join("dev")).unwrap();
                std::os::unix::fs::symlink(format!("../../../../../../../..{o}"), r.join("dev"))
                    .unwrap();
            }),
        ),
        (
            "pts",
            Box::new(|r: &Path| {
                std::os::unix::fs::symlink(&o, r.join("dev/pts")).unwrap();
            }),
        ),
        (
            "shm",
            Box::new(|r: &Path| {
                std::os::unix::fs::symlink(format!("../../../../../../..{o}"), r.join("dev/shm"))
                    .unwrap();
            }),
        ),
        (
            "mqueue",
            Box::new(|r: &Path| {
                std::os::unix::fs::symlink(&o, r.join("dev/mqueue")).unwrap();
            }),
        ),
        (
            "device-dir",
            Box::new(|r: &Path| {
                std::os::unix::fs::symlink(&o, r.join("dev/sub")).unwrap();
            }),
        ),
        (
            "device-node",
            Box::new(|r: &Path| {
                std::os::unix::fs::symlink(format!("{o}/mynull"), r.join("dev/mynull")).unwrap();
            }),
        ),
    ];
    for (name, prep) in cases {
        let mut b = ctx.bundle("ls -la /dev /dev/sub 2>&1; echo end");
        remove_dev_tmpfs(&mut b);
        b.set("/root/readonly", json!(false));
        b.set(
            "/linux/devices",
            json!([
                {"path": "/dev/sub/zero2", "type": "c", "major": 1, "minor": 5, "fileMode": 438},
                {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 438}
            ]),
        );
        prep(&b.rootfs());
        let id = ctx.id(name);
        let r = run_or_refuse(&ctx, &b, &id);
        assert_untouched_dir(&outside);
        eprintln!(
            "{name}: {:?}",
            r.as_ref().map(|_| "ran").unwrap_or_else(|e| e)
        );
    }
}

// ---------------------------------------------------------------------------
// crun CVE-2026-30892: `exec --user` parsing.

/// Defence: `exec --user` accepts only numeric UID[:GID]
/// (src/commands/exec.rs `parse_user`). Also: the ids the kernel reads as
/// "unchanged" ((uid_t)-1 = 4294967295) must not leave the process as root.
#[test]
fn crun_cve_2026_30892_exec_user_is_numeric_only() {
    require_root!();
    let ctx = Ctx::new("sec-user");
    let b = ctx.bundle("sleep 1000");
    let id = ctx.id("");
    ctx.tong.create(&b, &id, &[]).success();
    let init = ctx.tong.pid(&id);
    let bad = [
        "root",
        "nobody",
        "0:0:0",
        "-1",
        "1a",
        " 1",
        "1 ",
        "1:",
        ":1",
        ":",
        "",
        "99999999999",
        "4294967296",
        "1:99999999999",
        "+1",
        "0x1",
        "1:root",
        "root:0",
        "1:-1",
        "１",
        "0\n",
        "/etc/passwd",
    ];
    for u in bad {
        let o = ctx.tong.cmd(&["exec", &format!("--user={u}"), &id, "id"]);
        assert_ne!(o.code, 0, "--user {u:?} accepted: {}", o.stdout);
        assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
        // runc's words for a non-number ("parsing X as int for uid failed")
        // or tong's (--user).
        let e = o.stderr.to_lowercase();
        assert!(
            e.contains("user") || e.contains("for uid failed") || e.contains("for gid failed"),
            "--user {u:?}: {:?}",
            o.stderr
        );
        assert_eq!(cgroup_procs(&id), vec![init], "--user {u:?} left a process");
    }
    // Good ones work.
    let o = ctx
        .tong
        .cmd(&["exec", "--user", "1000:1000", &id, "id"])
        .success();
    assert!(
        o.stdout.contains("uid=1000") && o.stdout.contains("gid=1000"),
        "{}",
        o.stdout
    );
    // (uid_t)-1 means "unchanged" to setresuid: it must not run as root.
    let mut kept_root = Vec::new();
    for u in [
        "4294967295",
        "4294967295:4294967295",
        "1000:4294967295",
        "4294967295:1000",
    ] {
        let o = ctx.tong.cmd(&["exec", "--user", u, &id, "id"]);
        assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
        if o.ok() && (o.stdout.contains("uid=0(") || o.stdout.contains("gid=0(")) {
            kept_root.push(format!("--user {u}: {}", o.stdout.trim()));
        }
    }
    ctx.tong.delete_force(&id).success();
    assert_clean_simple(&ctx.tong, &id, &b, &[init]);
    // The same ids in config.json's process.user.
    for (uid, gid) in [(4294967295u64, 1000u64), (1000, 4294967295)] {
        let mut b2 = ctx.bundle("id");
        b2.set("/process/user", json!({"uid": uid, "gid": gid}));
        let id2 = ctx.id(&format!("cfg{uid}-{gid}"));
        if let Ok(out) = run_or_refuse(&ctx, &b2, &id2) {
            if out.contains("uid=0(") || out.contains("gid=0(") {
                kept_root.push(format!("process.user {uid}:{gid}: {}", out.trim()));
            }
        }
    }
    assert!(
        kept_root.is_empty(),
        "(uid_t)-1 / (gid_t)-1 accepted and the process kept root's ids:\n{}",
        kept_root.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Malformed state.json.

/// Defence: state.json is parsed strictly, errors name the file
/// (src/state.rs `Container::load`), and `delete --force` of a corrupt state
/// must still remove everything (src/commands/delete.rs `delete`).
#[test]
fn malformed_state_json_is_an_error_and_force_delete_cleans_up() {
    require_root!();
    let ctx = Ctx::new("sec-state");
    let contents: [(&str, &[u8]); 4] = [
        ("empty", b""),
        ("garbage", b"\x00\xffnot json at all"),
        ("truncated", b""),
        ("wrongtype", b"{\"id\": 5, \"pid\": \"x\"}"),
    ];
    let mut failures = Vec::new();
    for (name, data) in contents {
        let b = ctx.bundle("sleep 1000");
        let id = ctx.id(name);
        ctx.tong.create(&b, &id, &[]).success();
        let init = ctx.tong.pid(&id);
        let reaper = Reaper {
            pids: vec![init],
            cgroup: Some(format!("/{id}")),
        };
        let path = ctx.tong.state_dir(&id).join("state.json");
        let real = std::fs::read(&path).unwrap();
        let data: Vec<u8> = if name == "truncated" {
            real[..real.len() / 2].to_vec()
        } else {
            data.to_vec()
        };
        std::fs::write(&path, &data).unwrap();
        for args in [
            vec!["state", id.as_str()],
            vec!["kill", id.as_str(), "KILL"],
            vec!["start", id.as_str()],
            vec!["exec", id.as_str(), "true"],
            vec!["delete", id.as_str()],
            vec!["ps", id.as_str()],
            vec!["pause", id.as_str()],
            vec!["update", "--pids-limit", "10", id.as_str()],
        ] {
            let o = ctx.tong.cmd(&args);
            assert_ne!(o.code, 0, "{name}: {args:?} succeeded");
            assert_ne!(o.code, 101, "{name}: {args:?} panicked: {}", o.stderr);
            assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
            // 255 is exec's own failure code (as runc); a signal is 128+N, N <= 64.
            assert!(
                o.code < 128 || o.code == 255,
                "{name}: {args:?} died of a signal"
            );
            assert!(
                o.stderr.contains("state"),
                "{name}: {args:?}: unclear error {:?}",
                o.stderr
            );
        }
        // list must not fail because of one bad entry.
        let o = ctx.tong.cmd(&["list"]);
        assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
        assert!(alive(init), "{name}: something killed the init early");
        ctx.tong.delete_force(&id).success();
        std::thread::sleep(Duration::from_millis(200));
        let mut left = Vec::new();
        if ctx.tong.state_dir(&id).exists() {
            left.push("state dir".to_string());
        }
        if alive(init) {
            left.push(format!("init {init} alive"));
        }
        for ctrl in CONTROLLERS {
            if cgroup_dir(ctrl, &format!("/{id}")).exists() {
                left.push(format!("cgroup {ctrl}:/{id}"));
            }
        }
        if !left.is_empty() {
            failures.push(format!("{name}: delete --force left {left:?}"));
        }
        drop(reaper);
        assert_clean_simple(&ctx.tong, &id, &b, &[init]);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
