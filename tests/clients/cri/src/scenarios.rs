//! The CRI scenarios. Each makes its own pod(s), checks what happened inside
//! the containers and on the host, and leaves the pods to `T::remove_pods`.
//! Expectations are runc's (the oracle): cri.sh runs them with both runtimes.

use std::os::unix::fs::MetadataExt;
use std::process::ExitCode;
use std::time::Duration;

use k8s_cri::v1::*;
use serde_json::Value;

use crate::cri::{call, cg_number, read, short, trunc, try_call, unified, SLEEPER, T};
use crate::{bundle, ensure, fail, note, skip, stream, Context, Outcome, Res};

pub const SCENARIOS: &[&str] = &[
    "runtime_status",
    "handler_features",
    "pod_lifecycle",
    "shared_namespaces",
    "exec_sync",
    "exec_tty",
    "logs",
    "attach",
    "attach_tty",
    "stats",
    "update",
    "readonly_rootfs",
    "run_as_user",
    "capabilities",
    "seccomp_runtime_default",
    "sysctls",
    "oom_kill",
    "stop_timeout",
    "restart",
    "userns_pod",
    "recursive_read_only",
    // the same bundle shapes containerd 2 sends, run by hand (no containerd)
    "bundle_userns_pod",
    "bundle_idmap_volume",
    "bundle_rro",
    "bundle_unknown_mount_option",
    "features_containerd2",
];

pub async fn run(name: &str) -> ExitCode {
    if !SCENARIOS.contains(&name) {
        println!("no scenario {name}");
        return ExitCode::from(2);
    }
    let r = if let Some(r) = bundle::run(name) {
        (r, Ok(()))
    } else {
        let mut t = match T::new(name).await {
            Ok(t) => t,
            Err(e) => {
                println!("{e}");
                return ExitCode::from(1);
            }
        };
        let r = dispatch(&mut t).await;
        let c = t.remove_pods().await;
        (r, c)
    };
    match r {
        (Ok(()), Ok(())) => ExitCode::SUCCESS,
        (Err(Outcome::Skip(m)), Ok(())) => {
            println!("{m}");
            ExitCode::from(77)
        }
        (r, c) => {
            match r {
                Err(Outcome::Fail(m)) | Err(Outcome::Skip(m)) => println!("{m}"),
                Ok(()) => {}
            }
            if let Err(e) = c {
                println!("removing the scenario's pods failed: {e}");
            }
            ExitCode::from(1)
        }
    }
}

async fn dispatch(t: &mut T) -> Res {
    match t.name.clone().as_str() {
        "runtime_status" => runtime_status(t).await,
        "handler_features" => handler_features(t).await,
        "pod_lifecycle" => pod_lifecycle(t).await,
        "shared_namespaces" => shared_namespaces(t).await,
        "exec_sync" => exec_sync(t).await,
        "exec_tty" => exec_tty(t).await,
        "logs" => logs(t).await,
        "attach" => attach(t).await,
        "attach_tty" => attach_tty(t).await,
        "stats" => stats(t).await,
        "update" => update(t).await,
        "readonly_rootfs" => readonly_rootfs(t).await,
        "run_as_user" => run_as_user(t).await,
        "capabilities" => capabilities(t).await,
        "seccomp_runtime_default" => seccomp_runtime_default(t).await,
        "sysctls" => sysctls(t).await,
        "oom_kill" => oom_kill(t).await,
        "stop_timeout" => stop_timeout(t).await,
        "restart" => restart(t).await,
        "userns_pod" => userns_pod(t).await,
        "recursive_read_only" => recursive_read_only(t).await,
        n => fail!("scenario {n} has no implementation"),
    }
}

/// Stop and remove every pod sandbox (cri.sh's cleanup, before it stops containerd).
pub async fn cleanup_all() -> ExitCode {
    let mut t = match T::new("cleanup").await {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let pods = match call(
        "ListPodSandbox",
        t.rt.list_pod_sandbox(ListPodSandboxRequest { filter: None }),
    )
    .await
    {
        Ok(r) => r.items,
        Err(Outcome::Fail(e) | Outcome::Skip(e)) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let mut rc = ExitCode::SUCCESS;
    for p in pods {
        for r in [t.stop_pod(&p.id).await, t.remove_pod(&p.id).await] {
            if let Err(Outcome::Fail(e) | Outcome::Skip(e)) = r {
                eprintln!("{e}");
                rc = ExitCode::from(1);
            }
        }
    }
    rc
}

pub async fn print_status() -> ExitCode {
    let mut t = match T::new("status").await {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let v = call(
        "Version",
        t.rt.version(VersionRequest {
            version: "v1".into(),
        }),
    )
    .await;
    let s = call("Status", t.rt.status(StatusRequest { verbose: true })).await;
    match (v, s) {
        (Ok(v), Ok(s)) => {
            println!("{}", serde_json::json!({"version": v, "status": s}));
            ExitCode::SUCCESS
        }
        _ => ExitCode::from(1),
    }
}

// ------------------------------------------------------------------ helpers

/// `readlink /proc/PID/ns/NAME` on the host.
fn host_ns(pid: u32, ns: &str) -> Res<String> {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .map(|p| p.display().to_string())
        .ctx(&format!("readlink /proc/{pid}/ns/{ns}"))
}

/// The `path` of namespace `typ` in a runtime spec (containerd's info JSON).
fn spec_ns_path(info: &Value, typ: &str) -> Option<String> {
    info.pointer("/runtimeSpec/linux/namespaces")?
        .as_array()?
        .iter()
        .find(|n| n.get("type").and_then(Value::as_str) == Some(typ))
        .map(|n| {
            n.get("path")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        })
}

/// The options of the spec's mount at `dest`.
fn spec_mount_options(info: &Value, dest: &str) -> Option<Vec<String>> {
    let m = info
        .pointer("/runtimeSpec/mounts")?
        .as_array()?
        .iter()
        .find(|m| m.get("destination").and_then(Value::as_str) == Some(dest))?;
    Some(
        m.get("options")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|o| o.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
    )
}

/// The value of a "Name:\tvalue" line of /proc/PID/status text.
fn status_field(status: &str, name: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn hex_caps(status: &str, name: &str) -> Res<u64> {
    let v = status_field(status, name);
    u64::from_str_radix(&v, 16).ctx(&format!("{name} {v:?} in /proc/1/status"))
}

async fn containerd_version(t: &mut T) -> String {
    match call(
        "Version",
        t.rt.version(VersionRequest {
            version: "v1".into(),
        }),
    )
    .await
    {
        Ok(v) => format!("{} {}", v.runtime_name, v.runtime_version),
        Err(_) => "this containerd".to_string(),
    }
}

/// Why the runc v2 shim cannot report a container's cgroup metrics and OOM
/// events here, whatever the runtime, if that is the case: a cgroup v1
/// hierarchy this host has is not mounted (lib.sh's cg_v1_unmounted), and the
/// shim says so in containerd's log.
fn shim_cgroup_trouble(t: &T) -> Option<String> {
    let cg = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let mi = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut mounted = std::collections::HashSet::new();
    for l in mi.lines() {
        let after = l.split(" - ").nth(1).unwrap_or("");
        let f: Vec<&str> = after.split(' ').collect();
        if f.first() == Some(&"cgroup") {
            mounted.extend(f.get(2).unwrap_or(&"").split(',').map(String::from));
        }
    }
    let unmounted: Vec<&str> = cg
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let id = it.next()?;
            let ctrls = it.next()?;
            (id != "0").then_some(ctrls)
        })
        .flat_map(|c| c.split(','))
        .filter(|c| !c.is_empty() && !mounted.contains(*c))
        .collect();
    if unmounted.is_empty() {
        return None;
    }
    let log = std::fs::read_to_string(t.env.dir.join("c/containerd.log")).unwrap_or_default();
    let line = log
        .lines()
        .find(|l| l.contains("cannot find cgroup mount destination"))?;
    let msg = line.split("msg=").nth(1).unwrap_or(line);
    Some(format!(
        "the cgroup v1 hierarchy {unmounted:?} exists on this host (listed in /proc/self/cgroup) but is not mounted, \
         so the runc v2 shim cannot load the container's cgroups ({}) and reports no metrics or OOM events, whatever the runtime",
        trunc(msg, 160)
    ))
}

async fn sleep_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

fn host_umount(path: &std::path::Path) {
    let _ = std::process::Command::new("umount")
        .arg("-l")
        .arg(path)
        .status();
}

// ------------------------------------------------------------------ scenarios

/// Version and Status(verbose): conditions ready, and containerd's runtime
/// config names the runtime under test as the default handler's BinaryName.
async fn runtime_status(t: &mut T) -> Res {
    let v = call(
        "Version",
        t.rt.version(VersionRequest {
            version: "v1".into(),
        }),
    )
    .await?;
    note(&format!(
        "{} {} (CRI {})",
        v.runtime_name, v.runtime_version, v.runtime_api_version
    ));
    ensure!(
        v.runtime_api_version == "v1",
        "CRI API version {:?}, want v1",
        v.runtime_api_version
    );
    let s = call("Status", t.rt.status(StatusRequest { verbose: true })).await?;
    let conds = s.status.map(|s| s.conditions).unwrap_or_default();
    for want in ["RuntimeReady", "NetworkReady"] {
        match conds.iter().find(|c| c.r#type == want) {
            Some(c) if c.status => {}
            Some(c) => fail!("{want} is false: {} {}", c.reason, c.message),
            None => fail!("no {want} condition in Status"),
        }
    }
    let img = t.env.image.clone();
    let is = call(
        "ImageStatus",
        t.img.image_status(ImageStatusRequest {
            image: Some(ImageSpec {
                image: img.clone(),
                ..Default::default()
            }),
            verbose: false,
        }),
    )
    .await?;
    ensure!(
        is.image.is_some(),
        "the CRI does not know the imported test image {img}"
    );
    let cfg: Value = s
        .info
        .get("config")
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or(Value::Null);
    let bin = cfg
        .pointer("/containerd/runtimes/rt/options/BinaryName")
        .and_then(Value::as_str)
        .unwrap_or("");
    ensure!(
        bin == t.env.runtime,
        "containerd's default runtime \"rt\" has BinaryName {bin:?}, want {:?}; config: {}",
        t.env.runtime,
        trunc(
            &cfg.pointer("/containerd")
                .map(|c| c.to_string())
                .unwrap_or_default(),
            800
        )
    );
    let handlers: Vec<String> = s
        .runtime_handlers
        .iter()
        .map(|h| {
            let f = h.features.unwrap_or_default();
            format!(
                "{:?}: rro={} userns={}",
                h.name, f.recursive_read_only_mounts, f.user_namespaces
            )
        })
        .collect();
    note(&format!(
        "Status: runtime_handlers {:?}, info keys {:?}",
        handlers,
        s.info.keys().collect::<Vec<_>>()
    ));
    Ok(())
}

/// What containerd's Status says about the runtime handler's features
/// (containerd 2.0+: from the runtime's `features`).
async fn handler_features(t: &mut T) -> Res {
    let s = call("Status", t.rt.status(StatusRequest { verbose: true })).await?;
    if s.runtime_handlers.is_empty() {
        let ver = containerd_version(t).await;
        skip!(
            "{ver} reports no runtime_handlers in Status (RuntimeHandlerFeatures come with containerd 2.0, \
             which reads them from `<runtime> features`); features_containerd2 checks those features directly"
        );
    }
    for h in &s.runtime_handlers {
        if h.name != "rt" && !h.name.is_empty() {
            continue;
        }
        let f = h.features.unwrap_or_default();
        ensure!(
            f.recursive_read_only_mounts && f.user_namespaces,
            "containerd reports handler {:?} with recursive_read_only_mounts={} user_namespaces={}",
            h.name,
            f.recursive_read_only_mounts,
            f.user_namespaces
        );
    }
    Ok(())
}

/// RunPodSandbox / status / netns / cgroup / the runtime's own state, then
/// stop and remove, and everything is gone.
async fn pod_lifecycle(t: &mut T) -> Res {
    let cfg = t.pod_config("lifecycle");
    let id = t.run_pod(&cfg).await?;
    let (st, info) = t.pod_status(&id).await?;
    ensure!(
        st.state == PodSandboxState::SandboxReady as i32,
        "sandbox state {}, want READY",
        st.state
    );
    let ip = st
        .network
        .as_ref()
        .map(|n| n.ip.clone())
        .unwrap_or_default();
    ensure!(
        ip.starts_with(&format!("{}.", t.env.subnet)),
        "pod IP {ip:?} is not from the CNI subnet {}.0/24",
        t.env.subnet
    );
    let pid = T::info_pid(&info)?;
    let netns = spec_ns_path(&info, "network").unwrap_or_default();
    ensure!(
        !netns.is_empty(),
        "the sandbox spec has no network namespace path"
    );
    let a = std::fs::metadata(&netns)
        .ctx(&format!("stat netns {netns}"))?
        .ino();
    let b = std::fs::metadata(format!("/proc/{pid}/ns/net"))
        .ctx("stat the sandbox's netns")?
        .ino();
    ensure!(
        a == b,
        "the sandbox process {pid} is not in the pod netns {netns} (inode {b} vs {a})"
    );
    // the sandbox's cgroup is under the pod's cgroup parent
    let cg = read(&format!("/proc/{pid}/cgroup"))?;
    let want = format!("/{}/lifecycle/{id}", t.env.cgroup);
    let line = if unified() {
        format!("0::{want}")
    } else {
        format!(":memory:{want}")
    };
    ensure!(
        cg.lines().any(|l| l.ends_with(&line)),
        "sandbox process {pid} is not in the cgroup {want}:\n{cg}"
    );
    // the runtime under test holds it
    let o = t.runtime_cmd(&["state", &id])?;
    let state: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    ensure!(
        o.status.success() && state.get("status").and_then(Value::as_str) == Some("running"),
        "`{} state {}`: {} {}",
        t.env.runtime,
        short(&id),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let l = call(
        "ListPodSandbox",
        t.rt.list_pod_sandbox(ListPodSandboxRequest { filter: None }),
    )
    .await?;
    ensure!(
        l.items.iter().any(|p| p.id == id),
        "ListPodSandbox does not list the pod"
    );

    t.stop_pod(&id).await?;
    let (st, _) = t.pod_status(&id).await?;
    ensure!(
        st.state == PodSandboxState::SandboxNotready as i32,
        "sandbox state {} after stop, want NOTREADY",
        st.state
    );
    let mut gone = false;
    for _ in 0..50 {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists()
            && !std::path::Path::new(&netns).exists()
        {
            gone = true;
            break;
        }
        sleep_ms(200).await;
    }
    ensure!(
        gone,
        "after StopPodSandbox the sandbox process {pid} or the netns {netns} is still there"
    );
    t.remove_pod(&id).await?;
    let r = try_call(
        "PodSandboxStatus",
        t.rt.pod_sandbox_status(PodSandboxStatusRequest {
            pod_sandbox_id: id.clone(),
            verbose: false,
        }),
    )
    .await?;
    ensure!(
        r.is_err(),
        "PodSandboxStatus still answers after RemovePodSandbox"
    );
    let o = t.runtime_cmd(&["state", &id])?;
    ensure!(
        !o.status.success(),
        "the runtime still knows the sandbox after RemovePodSandbox"
    );
    ensure!(
        !std::path::Path::new(&t.cg_file(
            &format!("{}/lifecycle/{id}", t.env.cgroup),
            "memory",
            ""
        ))
        .exists(),
        "the sandbox's cgroup is left after RemovePodSandbox"
    );
    Ok(())
}

/// Two containers join the pod's network, ipc and uts namespaces by path.
async fn shared_namespaces(t: &mut T) -> Res {
    let cfg = t.pod_config("shared");
    let pod = t.run_pod(&cfg).await?;
    let (pst, pinfo) = t.pod_status(&pod).await?;
    let ppid = T::info_pid(&pinfo)?;
    let ip = pst.network.map(|n| n.ip).unwrap_or_default();
    let a = t.sleeper(&pod, &cfg, "a").await?;
    let b = t.sleeper(&pod, &cfg, "b").await?;
    let mut addrs = Vec::new();
    for (n, id) in [("a", &a), ("b", &b)] {
        let h = t.sh(id, "hostname").await?;
        ensure!(
            h == "shared",
            "hostname in container {n} is {h:?}, want the pod's \"shared\""
        );
        let addr = t.sh(id, "ip addr").await?;
        ensure!(
            addr.contains(&format!("inet {ip}/")),
            "container {n} does not see the pod IP {ip}:\n{addr}"
        );
        addrs.push(addr);
        let ns = t
            .sh(
                id,
                "for n in net ipc uts mnt pid; do readlink /proc/self/ns/$n; done",
            )
            .await?;
        let ns: Vec<&str> = ns.lines().collect();
        ensure!(ns.len() == 5, "readlink of the namespaces: {ns:?}");
        for (i, typ) in ["net", "ipc", "uts"].iter().enumerate() {
            let want = host_ns(ppid, typ)?;
            ensure!(
                ns[i] == want,
                "container {n}: {typ} namespace {} is not the pod's {want}",
                ns[i]
            );
        }
        for (i, typ) in [(3, "mnt"), (4, "pid")] {
            let pod_ns = host_ns(ppid, typ)?;
            ensure!(
                ns[i] != pod_ns,
                "container {n} shares the sandbox's {typ} namespace {pod_ns}"
            );
        }
        let (_, info) = t.ctr_status(id).await?;
        for (typ, proc_name) in [("network", "net"), ("ipc", "ipc"), ("uts", "uts")] {
            let p = spec_ns_path(&info, typ).unwrap_or_default();
            ensure!(
                p == format!("/proc/{ppid}/ns/{proc_name}"),
                "container {n}'s spec joins {typ} at {p:?}, want /proc/{ppid}/ns/{proc_name}"
            );
        }
    }
    ensure!(
        addrs[0] == addrs[1],
        "containers see different interfaces:\n{}\n---\n{}",
        addrs[0],
        addrs[1]
    );
    Ok(())
}

/// ExecSync: stdout, stderr, exit code, the container's env, a missing
/// command, and the timeout.
async fn exec_sync(t: &mut T) -> Res {
    let cfg = t.pod_config("exec");
    let pod = t.run_pod(&cfg).await?;
    let mut c = t.ctr_config("x", &["sh", "-c", SLEEPER]);
    c.envs = vec![KeyValue {
        key: "FOO".into(),
        value: "bar baz".into(),
    }];
    let id = t.run_ctr(&pod, &cfg, c).await?;
    let o = t
        .exec(&id, &["sh", "-c", "echo out; echo err >&2; exit 3"])
        .await?;
    ensure!(
        o.stdout == "out\n" && o.stderr == "err\n" && o.code == 3,
        "exec: {}",
        o.show()
    );
    let o = t.exec(&id, &["sh", "-c", "echo \"$FOO\"; pwd"]).await?;
    ensure!(
        o.stdout == "bar baz\n/\n" && o.code == 0,
        "exec env/cwd: {}",
        o.show()
    );
    match t.try_exec(&id, &["/does/not/exist"], 20).await? {
        Err(st) => ensure!(
            st.message().contains("no such file or directory"),
            "exec of a missing command: error lacks \"no such file or directory\": {}",
            st.message()
        ),
        Ok(o) => fail!("exec of a missing command succeeded: {}", o.show()),
    }
    match t.try_exec(&id, &["sleep", "37"], 1).await? {
        Err(st) => ensure!(
            st.message().contains("timeout"),
            "exec past its timeout: {}",
            st.message()
        ),
        Ok(o) => fail!("exec of sleep 37 with a 1s timeout returned: {}", o.show()),
    }
    let mut left = String::new();
    for _ in 0..25 {
        left = t
            .sh(&id, "ps -o pid,args | grep 'sleep 3[7]' || true")
            .await?;
        if left.is_empty() {
            break;
        }
        sleep_ms(200).await;
    }
    ensure!(
        left.is_empty(),
        "the timed-out exec is still running: {left}"
    );
    let o = t.exec(&id, &["true"]).await?;
    ensure!(o.code == 0, "exec after the timeout: {}", o.show());
    Ok(())
}

/// Exec with a tty through the streaming server: tty name, resize, exit code.
async fn exec_tty(t: &mut T) -> Res {
    let cfg = t.pod_config("exectty");
    let pod = t.run_pod(&cfg).await?;
    let id = t.sleeper(&pod, &cfg, "x").await?;
    let r = call(
        "Exec",
        t.rt.exec(ExecRequest {
            container_id: id.clone(),
            cmd: vec!["sh".into()],
            tty: true,
            stdin: true,
            stdout: true,
            stderr: false,
        }),
    )
    .await?;
    let mut ws = stream::open(&r.url).await.ctx("exec stream")?;
    ws.resize(80, 24).await.ctx("resize")?;
    ws.stdin("tty; echo $((40+2))x\n").await.ctx("stdin")?;
    ensure!(
        ws.read_until(15, |g| g.out().contains("42x")).await,
        "no answer through the exec tty: {}",
        ws.got.show()
    );
    let out = ws.got.out();
    ensure!(
        out.lines().any(|l| l
            .trim()
            .strip_prefix("/dev/pts/")
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))),
        "`tty` in the exec does not print /dev/pts/N: {out:?}"
    );
    let mut resized = false;
    for i in 0..10 {
        ws.resize(91, 27).await.ctx("resize")?;
        let mark = format!("{}s", 100 + i);
        ws.stdin(&format!("stty size; echo $((100+{i}))s\n"))
            .await
            .ctx("stdin")?;
        let m = mark.clone();
        ensure!(
            ws.read_until(10, move |g| g.out().contains(&m)).await,
            "no answer to stty: {}",
            ws.got.show()
        );
        if ws.got.out().contains("27 91") {
            resized = true;
            break;
        }
        sleep_ms(300).await;
    }
    ensure!(
        resized,
        "terminal resize to 91x27 not seen by `stty size`: {}",
        ws.got.show()
    );
    ws.stdin("exit 5\n").await.ctx("stdin")?;
    ensure!(
        ws.read_until(15, |g| !g.status.is_empty()).await,
        "no exit status from the exec stream: {}",
        ws.got.show()
    );
    ensure!(
        ws.got.exit_code() == Some(5),
        "exec -it exit code: status {}",
        ws.got.status()
    );
    ws.close().await;
    Ok(())
}

/// The CRI log file: timestamped lines tagged stdout/stderr, full lines "F".
async fn logs(t: &mut T) -> Res {
    let cfg = t.pod_config("logs");
    let pod = t.run_pod(&cfg).await?;
    let c = t.ctr_config("lg", &["sh", "-c", "echo out1; echo err1 >&2; echo out2"]);
    let id = t.run_ctr(&pod, &cfg, c).await?;
    let st = t
        .wait_state(&id, ContainerState::ContainerExited, 20)
        .await?;
    ensure!(
        st.exit_code == 0 && st.reason == "Completed",
        "exit code {} reason {:?}",
        st.exit_code,
        st.reason
    );
    let log =
        std::fs::read_to_string(&st.log_path).ctx(&format!("read the log {}", st.log_path))?;
    let mut got = Vec::new();
    for l in log.lines() {
        let f: Vec<&str> = l.splitn(4, ' ').collect();
        ensure!(
            f.len() == 4
                && f[0].len() >= 20
                && f[0].as_bytes()[10] == b'T'
                && (f[2] == "F" || f[2] == "P"),
            "not a CRI log line: {l:?}"
        );
        got.push((f[1].to_string(), f[2].to_string(), f[3].to_string()));
    }
    let want = [("stdout", "out1"), ("stderr", "err1"), ("stdout", "out2")];
    for (s, m) in want {
        ensure!(
            got.iter()
                .any(|(gs, tag, gm)| gs == s && tag == "F" && gm == m),
            "no \"{s} F {m}\" line in the log:\n{log}"
        );
    }
    let out: Vec<&str> = got
        .iter()
        .filter(|g| g.0 == "stdout")
        .map(|g| g.2.as_str())
        .collect();
    ensure!(
        out == ["out1", "out2"],
        "stdout lines out of order: {out:?}"
    );
    Ok(())
}

/// Attach to a running container's stdin/stdout/stderr (no tty).
async fn attach(t: &mut T) -> Res {
    let cfg = t.pod_config("attach");
    let pod = t.run_pod(&cfg).await?;
    let mut c = t.ctr_config(
        "att",
        &[
            "sh",
            "-c",
            "while read l; do echo \"got:$l\"; echo \"err:$l\" >&2; done",
        ],
    );
    c.stdin = true;
    let id = t.run_ctr(&pod, &cfg, c).await?;
    let r = call(
        "Attach",
        t.rt.attach(AttachRequest {
            container_id: id.clone(),
            stdin: true,
            tty: false,
            stdout: true,
            stderr: true,
        }),
    )
    .await?;
    let mut ws = stream::open(&r.url).await.ctx("attach stream")?;
    ws.stdin("hello\n").await.ctx("stdin")?;
    ensure!(
        ws.read_until(15, |g| g.out().contains("got:hello")
            && g.err().contains("err:hello"))
            .await,
        "attach: no echo of stdin on stdout and stderr: {}",
        ws.got.show()
    );
    ws.close().await;
    sleep_ms(500).await;
    let (st, _) = t.ctr_status(&id).await?;
    ensure!(
        st.state == ContainerState::ContainerRunning as i32,
        "the container did not survive the detach: {st:?}"
    );
    let log = std::fs::read_to_string(&st.log_path).ctx("read the log")?;
    ensure!(
        log.contains(" stdout F got:hello") && log.contains(" stderr F err:hello"),
        "attached output not in the CRI log:\n{log}"
    );
    Ok(())
}

/// Attach to a container whose init has a tty: tty name, resize, exit code.
async fn attach_tty(t: &mut T) -> Res {
    let cfg = t.pod_config("attachtty");
    let pod = t.run_pod(&cfg).await?;
    let mut c = t.ctr_config("tty", &["sh"]);
    c.stdin = true;
    c.tty = true;
    let id = t.run_ctr(&pod, &cfg, c).await?;
    let r = call(
        "Attach",
        t.rt.attach(AttachRequest {
            container_id: id.clone(),
            stdin: true,
            tty: true,
            stdout: true,
            stderr: false,
        }),
    )
    .await?;
    let mut ws = stream::open(&r.url).await.ctx("attach stream")?;
    let mut resized = false;
    for i in 0..10 {
        ws.resize(100, 30).await.ctx("resize")?;
        let mark = format!("{}z", 200 + i);
        ws.stdin(&format!("stty size; tty; echo $((200+{i}))z\n"))
            .await
            .ctx("stdin")?;
        let m = mark.clone();
        ensure!(
            ws.read_until(10, move |g| g.out().contains(&m)).await,
            "no answer through the attached tty: {}",
            ws.got.show()
        );
        if ws.got.out().contains("30 100") {
            resized = true;
            break;
        }
        sleep_ms(300).await;
    }
    ensure!(
        resized,
        "resize to 100x30 not seen by `stty size`: {}",
        ws.got.show()
    );
    let out = ws.got.out();
    ensure!(
        out.contains("/dev/pts/"),
        "`tty` in the container does not print /dev/pts/N: {out:?}"
    );
    ws.stdin("exit 4\n").await.ctx("stdin")?;
    let _ = ws.read_until(10, |g| g.closed).await;
    ws.close().await;
    let st = t
        .wait_state(&id, ContainerState::ContainerExited, 20)
        .await?;
    ensure!(
        st.exit_code == 4,
        "exit code {} after `exit 4` through the attached tty",
        st.exit_code
    );
    Ok(())
}

/// ContainerStats: cpu and memory from the container's cgroup.
async fn stats(t: &mut T) -> Res {
    let cfg = t.pod_config("stats");
    let pod = t.run_pod(&cfg).await?;
    let c = t.ctr_config(
        "st",
        &["sh", "-c", "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"],
    );
    let id = t.run_ctr(&pod, &cfg, c).await?;
    let (_, info) = t.ctr_status(&id).await?;
    let cg = T::info_cgroup(&info)?;
    // the runtime put the container into its cgroups: the kernel counts for it
    sleep_ms(300).await;
    let files = if unified() {
        [
            ("cpu", "cpu.stat", Some("usage_usec")),
            ("memory", "memory.current", None),
        ]
    } else {
        [
            ("cpuacct", "cpuacct.usage", None),
            ("memory", "memory.usage_in_bytes", None),
        ]
    };
    for (ctrl, file, key) in files {
        let v = read(&t.cg_file(&cg, ctrl, file))?;
        ensure!(cg_number(&v, key) > 0, "host {cg}/{file} ({ctrl}) is {v:?}");
    }
    let mut last = String::new();
    for _ in 0..50 {
        let r = try_call(
            "ContainerStats",
            t.rt.container_stats(ContainerStatsRequest {
                container_id: id.clone(),
            }),
        )
        .await?;
        match r {
            Err(st) => last = format!("ContainerStats: {:?}: {}", st.code(), st.message()),
            Ok(r) => {
                let s = r.stats.unwrap_or_default();
                let cpu = s
                    .cpu
                    .and_then(|c| c.usage_core_nano_seconds)
                    .map(|v| v.value)
                    .unwrap_or(0);
                let mem = s
                    .memory
                    .and_then(|m| m.working_set_bytes)
                    .map(|v| v.value)
                    .unwrap_or(0);
                if cpu > 0 && mem > 0 {
                    note(&format!("stats: cpu {cpu} ns, working set {mem} bytes"));
                    let l = call(
                        "ListContainerStats",
                        t.rt.list_container_stats(ListContainerStatsRequest { filter: None }),
                    )
                    .await?;
                    ensure!(
                        l.stats
                            .iter()
                            .any(|s| s.attributes.as_ref().is_some_and(|a| a.id == id)),
                        "ListContainerStats does not list the container"
                    );
                    return Ok(());
                }
                last = format!("cpu usage {cpu} ns, memory working set {mem} bytes");
            }
        }
        sleep_ms(200).await;
    }
    if let Some(why) = shim_cgroup_trouble(t) {
        skip!("{why} (CRI says: {last}; the host's cgroup files of the container count cpu and memory)");
    }
    fail!("no cpu and memory usage for the container after 10s: {last}")
}

/// Resources at create time and UpdateContainerResources, read back from the
/// container's cgroup on the host and inside.
async fn update(t: &mut T) -> Res {
    const MI: i64 = 1024 * 1024;
    let cfg = t.pod_config("update");
    let pod = t.run_pod(&cfg).await?;
    let mut c = t.ctr_config("u", &["sh", "-c", SLEEPER]);
    c.linux.get_or_insert_with(Default::default).resources = Some(LinuxContainerResources {
        memory_limit_in_bytes: 64 * MI,
        cpu_period: 100_000,
        cpu_quota: 50_000,
        cpu_shares: 512,
        ..Default::default()
    });
    let id = t.run_ctr(&pod, &cfg, c).await?;
    let (_, info) = t.ctr_status(&id).await?;
    let cg = T::info_cgroup(&info)?;
    // runc's conversion of cpu shares to cgroup v2 cpu.weight
    let weight = |shares: i64| 1 + ((shares - 2) * 9999) / 262_142;
    let check = |t: &T, mem: i64, quota: i64, shares: i64| -> Res {
        let want: Vec<(&str, &str, String)> = if unified() {
            vec![
                ("memory", "memory.max", mem.to_string()),
                ("cpu", "cpu.max", format!("{quota} 100000")),
                ("cpu", "cpu.weight", weight(shares).to_string()),
            ]
        } else {
            vec![
                ("memory", "memory.limit_in_bytes", mem.to_string()),
                ("cpu", "cpu.cfs_quota_us", quota.to_string()),
                ("cpu", "cpu.cfs_period_us", "100000".to_string()),
                ("cpu", "cpu.shares", shares.to_string()),
            ]
        };
        for (ctrl, file, want) in want {
            let got = read(&t.cg_file(&cg, ctrl, file))?;
            ensure!(
                got == want,
                "host {cg}/{file} ({ctrl}) is {got}, want {want}"
            );
        }
        Ok(())
    };
    // inside: the container's own cgroup (v1: runc binds it at /sys/fs/cgroup/<ctrl>;
    // v2: containerd gives the container a cgroup namespace)
    let inside_cmd = if unified() {
        "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max"
    } else {
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us"
    };
    let inside_want = |mem: i64, quota: i64| -> Vec<String> {
        let mut v = vec![mem.to_string(), quota.to_string()];
        if unified() {
            v.push("100000".into());
        }
        v
    };
    check(t, 64 * MI, 50_000, 512)?;
    let inside = t.sh(&id, inside_cmd).await?;
    ensure!(
        inside
            .split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
            == inside_want(64 * MI, 50_000),
        "inside the container: {inside:?}"
    );
    call(
        "UpdateContainerResources",
        t.rt.update_container_resources(UpdateContainerResourcesRequest {
            container_id: id.clone(),
            linux: Some(LinuxContainerResources {
                memory_limit_in_bytes: 96 * MI,
                cpu_period: 100_000,
                cpu_quota: 30_000,
                cpu_shares: 256,
                ..Default::default()
            }),
            ..Default::default()
        }),
    )
    .await?;
    check(t, 96 * MI, 30_000, 256)?;
    let inside = t.sh(&id, inside_cmd).await?;
    ensure!(
        inside
            .split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
            == inside_want(96 * MI, 30_000),
        "inside the container after the update: {inside:?}"
    );
    let o = t.exec(&id, &["true"]).await?;
    ensure!(o.code == 0, "exec after the update: {}", o.show());
    Ok(())
}

async fn readonly_rootfs(t: &mut T) -> Res {
    let cfg = t.pod_config("readonly");
    let pod = t.run_pod(&cfg).await?;
    let mut c = t.ctr_config("ro", &["sh", "-c", SLEEPER]);
    T::sc(&mut c).readonly_rootfs = true;
    let id = t.run_ctr(&pod, &cfg, c).await?;
    let o = t.exec(&id, &["touch", "/x"]).await?;
    ensure!(
        o.code != 0 && o.stderr.contains("Read-only file system"),
        "write to the read-only rootfs: {}",
        o.show()
    );
    let m = t.sh(&id, "grep ' / ' /proc/mounts").await?;
    let opts = m.split_whitespace().nth(3).unwrap_or("");
    ensure!(
        opts.split(',').any(|o| o == "ro"),
        "/ is not mounted ro: {m}"
    );
    let o = t.sh(&id, "touch /dev/shm/ok && echo ok").await?;
    ensure!(
        o == "ok",
        "/dev/shm not writable under a read-only rootfs: {o}"
    );
    Ok(())
}

async fn run_as_user(t: &mut T) -> Res {
    let cfg = t.pod_config("runasuser");
    let pod = t.run_pod(&cfg).await?;
    let mut c = t.ctr_config("u", &["sh", "-c", SLEEPER]);
    let sc = T::sc(&mut c);
    sc.run_as_user = Some(Int64Value { value: 1000 });
    sc.run_as_group = Some(Int64Value { value: 1000 });
    sc.supplemental_groups = vec![1234];
    let id = t.run_ctr(&pod, &cfg, c).await?;
    let status = t.sh(&id, "cat /proc/1/status").await?;
    for (f, want) in [
        ("Uid", "1000 1000 1000 1000"),
        ("Gid", "1000 1000 1000 1000"),
    ] {
        let got = status_field(&status, f);
        ensure!(got == want, "container init {f}: {got:?}, want {want:?}");
    }
    let groups = status_field(&status, "Groups");
    ensure!(
        groups.split(' ').any(|g| g == "1234"),
        "supplemental group 1234 missing: Groups {groups:?}"
    );
    let id_out = t.sh(&id, "id -u; id -g").await?;
    ensure!(
        id_out == "1000\n1000",
        "exec runs as {id_out:?}, want 1000/1000"
    );

    let mut c = t.ctr_config("n", &["sh", "-c", SLEEPER]);
    T::sc(&mut c).run_as_username = "tuser".into();
    let id = t.run_ctr(&pod, &cfg, c).await?;
    let id_out = t.sh(&id, "id -un; id -u; id -g").await?;
    ensure!(
        id_out == "tuser\n1000\n1000",
        "run_as_username tuser: {id_out:?}"
    );
    Ok(())
}

async fn capabilities(t: &mut T) -> Res {
    const CHOWN: u64 = 1 << 0;
    const NET_BIND_SERVICE: u64 = 1 << 10;
    const NET_ADMIN: u64 = 1 << 12;
    const SYS_TIME: u64 = 1 << 25;
    // containerd's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID
    // SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
    const DEFAULT: u64 = 0xa80425fb;
    let cfg = t.pod_config("caps");
    let pod = t.run_pod(&cfg).await?;
    let a = t.sleeper(&pod, &cfg, "default").await?;
    let mut c = t.ctr_config("adddrop", &["sh", "-c", SLEEPER]);
    T::sc(&mut c).capabilities = Some(Capability {
        add_capabilities: vec!["NET_ADMIN".into(), "SYS_TIME".into()],
        drop_capabilities: vec!["CHOWN".into()],
        ..Default::default()
    });
    let b = t.run_ctr(&pod, &cfg, c).await?;
    let mut c = t.ctr_config("dropall", &["sh", "-c", SLEEPER]);
    T::sc(&mut c).capabilities = Some(Capability {
        add_capabilities: vec!["NET_BIND_SERVICE".into()],
        drop_capabilities: vec!["ALL".into()],
        ..Default::default()
    });
    let d = t.run_ctr(&pod, &cfg, c).await?;
    for (n, id, want) in [
        ("default", &a, DEFAULT),
        (
            "add NET_ADMIN,SYS_TIME drop CHOWN",
            &b,
            (DEFAULT | NET_ADMIN | SYS_TIME) & !CHOWN,
        ),
        ("drop ALL add NET_BIND_SERVICE", &d, NET_BIND_SERVICE),
    ] {
        let st = t.sh(id, "cat /proc/1/status").await?;
        for f in ["CapEff", "CapPrm", "CapBnd"] {
            let got = hex_caps(&st, f)?;
            ensure!(got == want, "{n}: init {f} {got:016x}, want {want:016x}");
        }
        for f in ["CapInh", "CapAmb"] {
            let got = hex_caps(&st, f)?;
            ensure!(got == 0, "{n}: init {f} {got:016x}, want 0");
        }
        let own = t.sh(id, "grep CapEff /proc/self/status").await?;
        ensure!(
            own == format!("CapEff:\t{want:016x}"),
            "{n}: exec {own:?}, want {want:016x}"
        );
    }
    let o = t
        .exec(&a, &["sh", "-c", "touch /tmp/f && chown 1000 /tmp/f"])
        .await?;
    ensure!(o.code == 0, "chown with the default caps: {}", o.show());
    let o = t
        .exec(&b, &["sh", "-c", "touch /tmp/f && chown 1000 /tmp/f"])
        .await?;
    ensure!(
        o.code != 0 && o.stderr.contains("Operation not permitted"),
        "chown without CAP_CHOWN: {}",
        o.show()
    );
    let o = t
        .exec(&a, &["ip", "addr", "add", "10.9.9.9/32", "dev", "lo"])
        .await?;
    ensure!(
        o.code != 0,
        "ip addr add without CAP_NET_ADMIN: {}",
        o.show()
    );
    let o = t
        .exec(&b, &["ip", "addr", "add", "10.9.9.9/32", "dev", "lo"])
        .await?;
    ensure!(o.code == 0, "ip addr add with CAP_NET_ADMIN: {}", o.show());
    Ok(())
}

/// RuntimeDefault seccomp blocks unshare(CLONE_NEWUSER) with EPERM; without a
/// profile (containerd 1.6's default for CRI: unconfined) it works.
async fn seccomp_runtime_default(t: &mut T) -> Res {
    let cfg = t.pod_config("seccomp");
    let pod = t.run_pod(&cfg).await?;
    let u = t.sleeper(&pod, &cfg, "unconfined").await?;
    let mut c = t.ctr_config("default", &["sh", "-c", SLEEPER]);
    T::sc(&mut c).seccomp = Some(SecurityProfile {
        profile_type: security_profile::ProfileType::RuntimeDefault as i32,
        localhost_ref: String::new(),
    });
    let d = t.run_ctr(&pod, &cfg, c).await?;
    let st = t.sh(&u, "grep -E '^Seccomp:' /proc/1/status").await?;
    ensure!(
        st == "Seccomp:\t0",
        "container without a profile: {st:?}, want mode 0"
    );
    let o = t.exec(&u, &["unshare", "-U", "true"]).await?;
    ensure!(o.code == 0, "unshare -U without seccomp: {}", o.show());
    for who in ["1", "self"] {
        let st = t
            .sh(&d, &format!("grep -E '^Seccomp:' /proc/{who}/status"))
            .await?;
        ensure!(
            st == "Seccomp:\t2",
            "RuntimeDefault, /proc/{who}/status: {st:?}, want filter mode 2"
        );
    }
    let o = t.exec(&d, &["unshare", "-U", "true"]).await?;
    ensure!(
        o.code != 0 && o.stderr.contains("Operation not permitted"),
        "unshare -U under RuntimeDefault must fail with EPERM: {}",
        o.show()
    );
    let o = t.exec(&d, &["sh", "-c", "echo ok"]).await?;
    ensure!(
        o.stdout == "ok\n",
        "ordinary syscalls under RuntimeDefault: {}",
        o.show()
    );
    Ok(())
}

/// Pod sysctls (set in the sandbox, seen by the containers sharing its
/// namespaces), host untouched.
async fn sysctls(t: &mut T) -> Res {
    let host_port = read("/proc/sys/net/ipv4/ip_unprivileged_port_start")?;
    let host_shm = read("/proc/sys/kernel/shm_rmid_forced")?;
    let mut cfg = t.pod_config("sysctls");
    let l = cfg.linux.get_or_insert_with(Default::default);
    l.sysctls
        .insert("net.ipv4.ip_unprivileged_port_start".into(), "777".into());
    l.sysctls
        .insert("kernel.shm_rmid_forced".into(), "1".into());
    let pod = t.run_pod(&cfg).await?;
    let id = t.sleeper(&pod, &cfg, "x").await?;
    let got = t
        .sh(
            &id,
            "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shm_rmid_forced",
        )
        .await?;
    ensure!(
        got.split_whitespace().collect::<Vec<_>>() == ["777", "1"],
        "sysctls in the container: {got:?}, want 777 and 1"
    );
    ensure!(
        read("/proc/sys/net/ipv4/ip_unprivileged_port_start")? == host_port
            && read("/proc/sys/kernel/shm_rmid_forced")? == host_shm,
        "the host's sysctls changed"
    );
    Ok(())
}

/// Past its memory limit a container's process is OOM-killed: a child (pid 1
/// sees 137, the host's memory cgroup counts the kill), then pid 1 itself
/// (the container exits 137 and containerd reports OOMKilled).
async fn oom_kill(t: &mut T) -> Res {
    const LIMIT: i64 = 32 * 1024 * 1024;
    const HOG: &str = "a=0123456789abcdef; while :; do a=$a$a; done";
    let cfg = t.pod_config("oom");
    let pod = t.run_pod(&cfg).await?;
    let limit = || {
        Some(LinuxContainerResources {
            memory_limit_in_bytes: LIMIT,
            ..Default::default()
        })
    };
    let script = format!("sh -c '{HOG}'; echo child=$?; {SLEEPER}");
    let mut c = t.ctr_config("child", &["sh", "-c", &script]);
    c.linux.get_or_insert_with(Default::default).resources = limit();
    let id = t.run_ctr(&pod, &cfg, c).await?;
    let (st, info) = t.ctr_status(&id).await?;
    let cg = T::info_cgroup(&info)?;
    let mut log = String::new();
    for _ in 0..150 {
        log = std::fs::read_to_string(&st.log_path).unwrap_or_default();
        if log.contains("child=") {
            break;
        }
        sleep_ms(200).await;
    }
    ensure!(
        log.contains("stdout F child=137"),
        "the memory hog in the container was not killed (137): log {log:?}"
    );
    let (limit_file, events, key) = if unified() {
        ("memory.max", "memory.events", "oom_kill")
    } else {
        ("memory.limit_in_bytes", "memory.oom_control", "oom_kill")
    };
    ensure!(
        read(&t.cg_file(&cg, "memory", limit_file))? == LIMIT.to_string(),
        "memory limit not set on the host ({limit_file})"
    );
    let oc = read(&t.cg_file(&cg, "memory", events))?;
    ensure!(
        cg_number(&oc, Some(key)) >= 1,
        "the container's memory cgroup counts no OOM kill: {events} {oc:?}"
    );

    let mut c = t.ctr_config("hog", &["sh", "-c", HOG]);
    c.linux.get_or_insert_with(Default::default).resources = limit();
    let id = t.run_ctr(&pod, &cfg, c).await?;
    let st = t
        .wait_state(&id, ContainerState::ContainerExited, 40)
        .await?;
    ensure!(
        st.exit_code == 137,
        "pid 1 past its memory limit: exit code {} reason {:?}, want 137",
        st.exit_code,
        st.reason
    );
    if st.reason != "OOMKilled" {
        if let Some(why) = shim_cgroup_trouble(t) {
            skip!("{why} (the container was OOM-killed, exit code 137, but containerd reports reason {:?})", st.reason);
        }
        fail!(
            "pid 1 OOM-killed: reason {:?} message {:?}, want OOMKilled",
            st.reason,
            st.message
        );
    }
    Ok(())
}

/// StopContainer: SIGTERM handled by the container, then SIGKILL after the
/// timeout for one that ignores it.
async fn stop_timeout(t: &mut T) -> Res {
    let cfg = t.pod_config("stop");
    let pod = t.run_pod(&cfg).await?;
    let a = t.sleeper(&pod, &cfg, "graceful").await?;
    let mut c = t.ctr_config("stubborn", &["sh", "-c", "while :; do sleep 1; done"]);
    c.log_path = "stubborn_0.log".into();
    let b = t.run_ctr(&pod, &cfg, c).await?;
    t.stop(&a, 10).await?;
    let st = t.wait_state(&a, ContainerState::ContainerExited, 5).await?;
    ensure!(
        st.exit_code == 0,
        "graceful stop: exit code {} reason {:?}",
        st.exit_code,
        st.reason
    );
    t.stop(&b, 2).await?;
    let st = t.wait_state(&b, ContainerState::ContainerExited, 5).await?;
    ensure!(
        st.exit_code == 137,
        "stop of a container ignoring SIGTERM: exit code {}, want 137",
        st.exit_code
    );
    Ok(())
}

/// Kubelet's restart: a new container with attempt+1 in the same sandbox,
/// for an exited one and for a stopped running one.
async fn restart(t: &mut T) -> Res {
    let cfg = t.pod_config("restart");
    let pod = t.run_pod(&cfg).await?;
    let vol = t.env.dir.join("vols/restart");
    std::fs::create_dir_all(&vol).ctx("mkdir volume")?;
    let mount = Mount {
        container_path: "/vol".into(),
        host_path: vol.display().to_string(),
        ..Default::default()
    };
    let mut ids = Vec::new();
    for attempt in 0..2u32 {
        let mut c = t.ctr_config("app", &["sh", "-c", "echo start >> /vol/starts; exit 3"]);
        c.metadata = Some(ContainerMetadata {
            name: "app".into(),
            attempt,
        });
        c.log_path = format!("app_{attempt}.log");
        c.mounts = vec![mount.clone()];
        let id = t.run_ctr(&pod, &cfg, c).await?;
        let st = t
            .wait_state(&id, ContainerState::ContainerExited, 20)
            .await?;
        ensure!(
            st.exit_code == 3 && st.reason == "Error",
            "attempt {attempt}: exit code {} reason {:?}",
            st.exit_code,
            st.reason
        );
        ids.push(id);
    }
    let starts = read(&vol.join("starts").display().to_string())?;
    ensure!(
        starts.lines().count() == 2,
        "two attempts, /vol/starts: {starts:?}"
    );
    t.remove(&ids[0]).await?;
    let l = call(
        "ListContainers",
        t.rt.list_containers(ListContainersRequest {
            filter: Some(ContainerFilter {
                pod_sandbox_id: pod.clone(),
                ..Default::default()
            }),
        }),
    )
    .await?;
    let left: Vec<(String, u32)> = l
        .containers
        .iter()
        .map(|c| {
            (
                c.id.clone(),
                c.metadata.as_ref().map(|m| m.attempt).unwrap_or(99),
            )
        })
        .collect();
    ensure!(
        left == vec![(ids[1].clone(), 1)],
        "containers of the pod after removing attempt 0: {left:?}"
    );
    // a running container stopped and replaced, as after a failed liveness probe
    let w0 = t.sleeper(&pod, &cfg, "web").await?;
    let ip0 = t.sh(&w0, "ip addr").await?;
    t.stop(&w0, 10).await?;
    t.wait_state(&w0, ContainerState::ContainerExited, 10)
        .await?;
    let mut c = t.ctr_config("web", &["sh", "-c", SLEEPER]);
    c.metadata = Some(ContainerMetadata {
        name: "web".into(),
        attempt: 1,
    });
    c.log_path = "web_1.log".into();
    let w1 = t.run_ctr(&pod, &cfg, c).await?;
    let (st, _) = t.ctr_status(&w1).await?;
    ensure!(
        st.state == ContainerState::ContainerRunning as i32,
        "restarted container not running: {st:?}"
    );
    let ip1 = t.sh(&w1, "ip addr").await?;
    ensure!(
        ip0 == ip1,
        "the restarted container sees other interfaces:\n{ip0}\n---\n{ip1}"
    );
    Ok(())
}

/// A user-namespaced pod (hostUsers: false) with an idmapped volume, as
/// kubelet asks for it. containerd before 2.0 ignores it: then SKIP, showing
/// from the spec it sent that it did.
async fn userns_pod(t: &mut T) -> Res {
    let map = || {
        vec![IdMapping {
            host_id: 100_000,
            container_id: 0,
            length: 65_536,
        }]
    };
    let userns = UserNamespace {
        mode: NamespaceMode::Pod as i32,
        uids: map(),
        gids: map(),
    };
    let mut cfg = t.pod_config("userns");
    if let Some(ns) = cfg
        .linux
        .as_mut()
        .and_then(|l| l.security_context.as_mut())
        .and_then(|s| s.namespace_options.as_mut())
    {
        ns.userns_options = Some(userns.clone());
    }
    let vol = t.env.dir.join("vols/userns");
    std::fs::create_dir_all(&vol).ctx("mkdir volume")?;
    std::fs::write(vol.join("f"), "hostfile\n").ctx("write volume file")?;
    std::os::unix::fs::chown(vol.join("f"), Some(1000), Some(1000)).ctx("chown volume file")?;
    let pod = t.run_pod(&cfg).await?;
    let (_, pinfo) = t.pod_status(&pod).await?;
    let mut c = t.ctr_config("x", &["sh", "-c", SLEEPER]);
    if let Some(ns) = T::sc(&mut c).namespace_options.as_mut() {
        ns.userns_options = Some(userns);
    }
    c.mounts = vec![Mount {
        container_path: "/vol".into(),
        host_path: vol.display().to_string(),
        uid_mappings: map(),
        gid_mappings: map(),
        ..Default::default()
    }];
    let id = t.run_ctr(&pod, &cfg, c).await?;
    let (_, info) = t.ctr_status(&id).await?;
    let uid_map = t.sh(&id, "cat /proc/self/uid_map").await?;
    let uid_map = uid_map.split_whitespace().collect::<Vec<_>>().join(" ");
    let spec_userns =
        spec_ns_path(&info, "user").is_some() || spec_ns_path(&pinfo, "user").is_some();
    if !spec_userns && uid_map == "0 0 4294967295" {
        let ver = containerd_version(t).await;
        skip!(
            "{ver} ignores userns_options (hostUsers: false): the runtime specs it sent have no user namespace \
             and the container runs with uid_map {uid_map:?}; user-namespaced pods need containerd 2.0 and a runtime \
             whose `features` report idmap mounts (bundle_userns_pod and bundle_idmap_volume run that bundle shape by hand)"
        );
    }
    ensure!(
        spec_userns,
        "the container has uid_map {uid_map:?} but its spec has no user namespace"
    );
    ensure!(
        uid_map == "0 100000 65536",
        "uid_map in the user-namespaced pod: {uid_map:?}"
    );
    let own = t.sh(&id, "stat -c %u:%g /vol /vol/f").await?;
    ensure!(
        own == "0:0\n1000:1000",
        "ownership in the idmapped volume: {own:?}, want 0:0 and 1000:1000"
    );
    Ok(())
}

/// A recursively read-only volume (readonly + recursive_read_only): the
/// submount must be read-only too. containerd before 2.0 does not know the
/// field and sends "ro": then SKIP, showing the options it sent.
async fn recursive_read_only(t: &mut T) -> Res {
    let src = t.env.dir.join("vols/rro");
    let sub = src.join("sub");
    std::fs::create_dir_all(&sub).ctx("mkdir")?;
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tgcri-rro"])
        .arg(&sub)
        .status()
        .is_ok_and(|s| s.success());
    ensure!(ok, "mount tmpfs on {}", sub.display());
    let r = rro_inner(t, &src).await;
    let _ = t.remove_pods().await;
    host_umount(&sub);
    r
}

async fn rro_inner(t: &mut T, src: &std::path::Path) -> Res {
    let cfg = t.pod_config("rro");
    let pod = t.run_pod(&cfg).await?;
    let mut c = t.ctr_config("x", &["sh", "-c", SLEEPER]);
    c.mounts = vec![Mount {
        container_path: "/rro".into(),
        host_path: src.display().to_string(),
        readonly: true,
        recursive_read_only: true,
        propagation: MountPropagation::PropagationPrivate as i32,
        ..Default::default()
    }];
    let id = t.run_ctr(&pod, &cfg, c).await?;
    let (_, info) = t.ctr_status(&id).await?;
    let opts = spec_mount_options(&info, "/rro").unwrap_or_default();
    let o = t.exec(&id, &["touch", "/rro/x"]).await?;
    ensure!(
        o.code != 0 && o.stderr.contains("Read-only file system"),
        "write to the ro volume: {}",
        o.show()
    );
    let o = t.exec(&id, &["touch", "/rro/sub/x"]).await?;
    if o.code != 0 && o.stderr.contains("Read-only file system") {
        return Ok(());
    }
    if !opts.iter().any(|o| o == "rro") {
        let ver = containerd_version(t).await;
        skip!(
            "{ver} does not pass recursive_read_only on (mount options it sent: {opts:?}), so the submount \
             stays writable whatever the runtime; containerd 2.0 sends \"rro\" when the runtime's features list it \
             (bundle_rro runs that by hand)"
        );
    }
    fail!(
        "the spec asks {opts:?} but the submount is writable: {}",
        o.show()
    )
}
