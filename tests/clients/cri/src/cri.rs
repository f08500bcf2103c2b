//! The CRI connection and the calls the scenarios make, kubelet style: every
//! pod gets its own cgroup parent, log directory and metadata; every container
//! the pod's namespace options.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use serde_json::Value;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::env::Env;
use crate::{ensure, fail, Context, Outcome, Res};

/// Every CRI call gets this long (ExecSync: its own timeout plus this).
const CALL_TIMEOUT: Duration = Duration::from_secs(40);

pub async fn connect(sock: &str) -> Result<Channel, String> {
    let path = sock.to_string();
    Endpoint::try_from("http://[::]:50051")
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(10))
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let p = path.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(p).await?)) }
        }))
        .await
        .map_err(|e| format!("connect to {sock}: {e}"))
}

/// Runs one CRI call with a timeout; errors name the call and carry the
/// status message (that is where the runtime's error text ends up).
pub async fn call<T, F>(what: &str, f: F) -> Res<T>
where
    F: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    match tokio::time::timeout(CALL_TIMEOUT, f).await {
        Err(_) => fail!("{what}: no answer in {}s", CALL_TIMEOUT.as_secs()),
        Ok(Err(st)) => fail!("{what}: {:?}: {}", st.code(), st.message()),
        Ok(Ok(r)) => Ok(r.into_inner()),
    }
}

/// Like `call` but hands the status back (for calls that are expected to fail).
pub async fn try_call<T, F>(what: &str, f: F) -> Res<Result<T, tonic::Status>>
where
    F: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    match tokio::time::timeout(CALL_TIMEOUT, f).await {
        Err(_) => fail!("{what}: no answer in {}s", CALL_TIMEOUT.as_secs()),
        Ok(r) => Ok(r.map(|r| r.into_inner())),
    }
}

pub struct ExecOut {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl ExecOut {
    pub fn show(&self) -> String {
        format!(
            "exit code {}, stdout {:?}, stderr {:?}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The pod's and its containers' namespace options, as kubelet sends them
/// by default: network and ipc of the pod, a pid namespace per container.
pub fn pod_namespaces() -> NamespaceOption {
    NamespaceOption {
        network: NamespaceMode::Pod as i32,
        pid: NamespaceMode::Container as i32,
        ipc: NamespaceMode::Pod as i32,
        ..Default::default()
    }
}

/// One scenario's connection and the pods it made (removed at the end).
pub struct T {
    pub env: Env,
    pub rt: RuntimeServiceClient<Channel>,
    pub img: ImageServiceClient<Channel>,
    pub name: String,
    pods: Vec<String>,
}

impl T {
    pub async fn new(name: &str) -> Result<T, String> {
        let env = Env::from_env()?;
        let ch = connect(&env.sock).await?;
        Ok(T {
            env,
            rt: RuntimeServiceClient::new(ch.clone()),
            img: ImageServiceClient::new(ch),
            name: name.to_string(),
            pods: Vec::new(),
        })
    }

    /// A pod config named `pod` (unique in the run), with its own cgroup parent
    /// under the run's cgroup and its own log directory.
    pub fn pod_config(&self, pod: &str) -> PodSandboxConfig {
        let uid = format!("{}-{}", self.env.runid, pod);
        PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: pod.to_string(),
                uid: uid.clone(),
                namespace: "tgcri".to_string(),
                attempt: 0,
            }),
            hostname: pod.replace('_', "-"),
            log_directory: self.env.dir.join("logs").join(&uid).display().to_string(),
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: format!("/{}/{}", self.env.cgroup, pod),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(pod_namespaces()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    pub async fn run_pod(&mut self, cfg: &PodSandboxConfig) -> Res<String> {
        std::fs::create_dir_all(&cfg.log_directory).ctx("mkdir log directory")?;
        let name = cfg
            .metadata
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default();
        let r = call(
            &format!("RunPodSandbox {name}"),
            self.rt.run_pod_sandbox(RunPodSandboxRequest {
                config: Some(cfg.clone()),
                runtime_handler: String::new(),
            }),
        )
        .await?;
        self.pods.push(r.pod_sandbox_id.clone());
        Ok(r.pod_sandbox_id)
    }

    /// A container config running `cmd` in the test image.
    pub fn ctr_config(&self, name: &str, cmd: &[&str]) -> ContainerConfig {
        ContainerConfig {
            metadata: Some(ContainerMetadata {
                name: name.to_string(),
                attempt: 0,
            }),
            image: Some(ImageSpec {
                image: self.env.image.clone(),
                ..Default::default()
            }),
            command: cmd.iter().map(|s| s.to_string()).collect(),
            log_path: format!("{name}_0.log"),
            linux: Some(LinuxContainerConfig {
                resources: None,
                security_context: Some(LinuxContainerSecurityContext {
                    namespace_options: Some(pod_namespaces()),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        }
    }

    /// The security context of a config made by `ctr_config`, to change.
    pub fn sc(cfg: &mut ContainerConfig) -> &mut LinuxContainerSecurityContext {
        cfg.linux
            .get_or_insert_with(Default::default)
            .security_context
            .get_or_insert_with(Default::default)
    }

    pub async fn create(
        &mut self,
        pod: &str,
        pod_cfg: &PodSandboxConfig,
        cfg: ContainerConfig,
    ) -> Res<String> {
        let name = cfg
            .metadata
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default();
        let r = call(
            &format!("CreateContainer {name}"),
            self.rt.create_container(CreateContainerRequest {
                pod_sandbox_id: pod.to_string(),
                config: Some(cfg),
                sandbox_config: Some(pod_cfg.clone()),
            }),
        )
        .await?;
        Ok(r.container_id)
    }

    pub async fn start(&mut self, id: &str) -> Res {
        call(
            &format!("StartContainer {}", short(id)),
            self.rt.start_container(StartContainerRequest {
                container_id: id.to_string(),
            }),
        )
        .await?;
        Ok(())
    }

    /// Create and start.
    pub async fn run_ctr(
        &mut self,
        pod: &str,
        pod_cfg: &PodSandboxConfig,
        cfg: ContainerConfig,
    ) -> Res<String> {
        let id = self.create(pod, pod_cfg, cfg).await?;
        self.start(&id).await?;
        Ok(id)
    }

    /// A running sleeper container in the pod.
    pub async fn sleeper(
        &mut self,
        pod: &str,
        pod_cfg: &PodSandboxConfig,
        name: &str,
    ) -> Res<String> {
        let cfg = self.ctr_config(name, &["sh", "-c", SLEEPER]);
        self.run_ctr(pod, pod_cfg, cfg).await
    }

    pub async fn stop(&mut self, id: &str, timeout: i64) -> Res {
        call(
            &format!("StopContainer {}", short(id)),
            self.rt.stop_container(StopContainerRequest {
                container_id: id.to_string(),
                timeout,
            }),
        )
        .await?;
        Ok(())
    }

    pub async fn remove(&mut self, id: &str) -> Res {
        call(
            &format!("RemoveContainer {}", short(id)),
            self.rt.remove_container(RemoveContainerRequest {
                container_id: id.to_string(),
            }),
        )
        .await?;
        Ok(())
    }

    /// ExecSync; a failed call (the exec could not start) is an error.
    pub async fn exec(&mut self, id: &str, cmd: &[&str]) -> Res<ExecOut> {
        match self.try_exec(id, cmd, 20).await? {
            Ok(o) => Ok(o),
            Err(st) => fail!("ExecSync {cmd:?}: {:?}: {}", st.code(), st.message()),
        }
    }

    pub async fn try_exec(
        &mut self,
        id: &str,
        cmd: &[&str],
        timeout: i64,
    ) -> Res<Result<ExecOut, tonic::Status>> {
        let req = ExecSyncRequest {
            container_id: id.to_string(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            timeout,
        };
        let r = try_call(&format!("ExecSync {cmd:?}"), self.rt.exec_sync(req)).await?;
        Ok(r.map(|r| ExecOut {
            stdout: String::from_utf8_lossy(&r.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&r.stderr).into_owned(),
            code: r.exit_code,
        }))
    }

    /// `sh -c SCRIPT` in the container; must exit 0; its stdout, trimmed.
    pub async fn sh(&mut self, id: &str, script: &str) -> Res<String> {
        let o = self.exec(id, &["sh", "-c", script]).await?;
        ensure!(
            o.code == 0,
            "exec sh -c {script:?} in {}: {}",
            short(id),
            o.show()
        );
        Ok(o.stdout.trim().to_string())
    }

    /// ContainerStatus (verbose) and containerd's "info" JSON (pid, runtimeSpec, ...).
    pub async fn ctr_status(&mut self, id: &str) -> Res<(ContainerStatus, Value)> {
        let r = call(
            &format!("ContainerStatus {}", short(id)),
            self.rt.container_status(ContainerStatusRequest {
                container_id: id.to_string(),
                verbose: true,
            }),
        )
        .await?;
        let st = match r.status {
            Some(s) => s,
            None => fail!("ContainerStatus {}: no status", short(id)),
        };
        Ok((st, info_json(&r.info)))
    }

    pub async fn wait_state(
        &mut self,
        id: &str,
        state: ContainerState,
        secs: u64,
    ) -> Res<ContainerStatus> {
        let end = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let (st, _) = self.ctr_status(id).await?;
            if st.state == state as i32 {
                return Ok(st);
            }
            if tokio::time::Instant::now() > end {
                fail!(
                    "container {} is {:?} after {secs}s, want {state:?} (reason {:?}, message {:?}, exit code {})",
                    short(id),
                    ContainerState::try_from(st.state).unwrap_or(ContainerState::ContainerUnknown),
                    st.reason,
                    st.message,
                    st.exit_code
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// PodSandboxStatus (verbose) and containerd's "info" JSON.
    pub async fn pod_status(&mut self, id: &str) -> Res<(PodSandboxStatus, Value)> {
        let r = call(
            &format!("PodSandboxStatus {}", short(id)),
            self.rt.pod_sandbox_status(PodSandboxStatusRequest {
                pod_sandbox_id: id.to_string(),
                verbose: true,
            }),
        )
        .await?;
        let st = match r.status {
            Some(s) => s,
            None => fail!("PodSandboxStatus {}: no status", short(id)),
        };
        Ok((st, info_json(&r.info)))
    }

    /// The pid containerd reports for a sandbox or container (from its info).
    pub fn info_pid(info: &Value) -> Res<u32> {
        match info.get("pid").and_then(Value::as_u64) {
            Some(p) if p > 0 => Ok(p as u32),
            _ => fail!(
                "no pid in containerd's info: {}",
                trunc(&info.to_string(), 300)
            ),
        }
    }

    /// The cgroupsPath containerd put into the OCI spec of a container.
    pub fn info_cgroup(info: &Value) -> Res<String> {
        match info
            .pointer("/runtimeSpec/linux/cgroupsPath")
            .and_then(Value::as_str)
        {
            Some(p) if !p.is_empty() => Ok(p.trim_start_matches('/').to_string()),
            _ => fail!("no cgroupsPath in the runtime spec"),
        }
    }

    pub async fn stop_pod(&mut self, id: &str) -> Res {
        call(
            &format!("StopPodSandbox {}", short(id)),
            self.rt.stop_pod_sandbox(StopPodSandboxRequest {
                pod_sandbox_id: id.to_string(),
            }),
        )
        .await?;
        Ok(())
    }

    pub async fn remove_pod(&mut self, id: &str) -> Res {
        call(
            &format!("RemovePodSandbox {}", short(id)),
            self.rt.remove_pod_sandbox(RemovePodSandboxRequest {
                pod_sandbox_id: id.to_string(),
            }),
        )
        .await?;
        self.pods.retain(|p| p != id);
        Ok(())
    }

    /// Stop and remove the pods this scenario made (and their containers).
    pub async fn remove_pods(&mut self) -> Result<(), String> {
        let mut errs = Vec::new();
        for id in self.pods.clone() {
            for r in [self.stop_pod(&id).await, self.remove_pod(&id).await] {
                if let Err(Outcome::Fail(e) | Outcome::Skip(e)) = r {
                    errs.push(e);
                }
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs.join("; "))
        }
    }

    /// The host path of a cgroup file: in the v1 hierarchy of `ctrl`, or in the
    /// v2 unified tree (where `ctrl` does not matter).
    pub fn cg_file(&self, cgroup: &str, ctrl: &str, file: &str) -> String {
        if unified() {
            format!("/sys/fs/cgroup/{cgroup}/{file}")
        } else {
            format!("/sys/fs/cgroup/{ctrl}/{cgroup}/{file}")
        }
    }

    /// `RUNTIME --root <containerd's root> ARGS`: proof of which runtime holds a container.
    pub fn runtime_cmd(&self, args: &[&str]) -> Res<std::process::Output> {
        let root = self.env.runtime_state_root();
        std::process::Command::new("timeout")
            .args(["-k", "5", "20", &self.env.runtime, "--root", &root])
            .args(args)
            .output()
            .ctx(&format!("run {} {args:?}", self.env.runtime))
    }
}

/// Is /sys/fs/cgroup the cgroup v2 unified hierarchy (not this hybrid host; the
/// pure v2 VM)?
pub fn unified() -> bool {
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    // SAFETY: statfs fills the zeroed struct; the path is a valid C string.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        libc::statfs(c"/sys/fs/cgroup".as_ptr(), &mut st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC
    }
}

/// A number in a cgroup file: the whole content, or the value of `key` in a
/// "key value" file (cpu.stat, memory.events, memory.oom_control).
pub fn cg_number(content: &str, key: Option<&str>) -> u64 {
    match key {
        None => content.trim().parse().unwrap_or(0),
        Some(k) => content
            .lines()
            .find_map(|l| l.strip_prefix(k).and_then(|v| v.strip_prefix(' ')))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0),
    }
}

/// A pid-1 loop that ends on SIGTERM (pid 1 has no default action for it).
pub const SLEEPER: &str = "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done";

fn info_json(info: &HashMap<String, String>) -> Value {
    info.get("info")
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null)
}

pub fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

pub fn trunc(s: &str, n: usize) -> String {
    if s.len() <= n {
        s.to_string()
    } else {
        let mut end = n;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    }
}

/// Read a small host file, trimmed.
pub fn read(path: &str) -> Res<String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .ctx(&format!("read {path}"))
}
