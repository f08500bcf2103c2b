//! SCMP_ACT_NOTIFY end to end: the child installs a filter with a NOTIFY
//! rule, sends the listener fd to an agent with `send_listener` (runc's
//! protocol), and the agent (examples/seccomp_agent.rs) answers mkdir.
//! Kept alone in its own test binary: the child calls malloc after fork.

#[allow(dead_code)]
#[path = "../examples/seccomp_agent.rs"]
mod agent;

use std::os::fd::AsFd;
use std::os::unix::net::UnixListener;

use oci_spec::runtime::LinuxSeccomp;
use serde_json::json;

fn run(mkdir_errno: Option<i32>) {
    let dir = std::env::temp_dir().join(format!(
        "tong-seccomp-notify-{}-{}",
        std::process::id(),
        mkdir_errno.unwrap_or(0)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("agent.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let target = dir.join("should-not-exist");

    let cfg: LinuxSeccomp = serde_json::from_value(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock,
        "listenerMetadata": "hello-agent",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    }))
    .unwrap();
    let filter = tong_seccomp::compile(&cfg).unwrap();
    assert!(filter.uses_notify());
    assert_eq!(filter.flags() & 8, 8, "NEW_LISTENER");
    let c_target = std::ffi::CString::new(target.to_str().unwrap()).unwrap();

    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let code = (|| {
            if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
                return 10;
            }
            let Ok(Some(fd)) = filter.install() else {
                return 11;
            };
            let state = json!({"ociVersion": "1.0.2", "id": "ctr", "status": "creating",
                               "pid": unsafe { libc::getpid() }, "bundle": "/b"});
            if tong_seccomp::send_listener(&sock, fd.as_fd(), &state, "hello-agent").is_err() {
                return 12;
            }
            drop(fd);
            let r = unsafe { libc::mkdir(c_target.as_ptr(), 0o755) };
            let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            match mkdir_errno {
                None if r == 0 => 0,
                Some(want) if r == -1 && e == want => 0,
                _ => 13,
            }
        })();
        unsafe { libc::_exit(code) };
    }
    // Reaped while the agent serves: on Debian's 6.1 (the v2 guest) a
    // notify fd reports POLLHUP only once its last task is reaped, on 6.18
    // already when it exits; the agent waits for that HUP.
    let waiter = std::thread::spawn(move || {
        let mut st = 0;
        unsafe { libc::waitpid(pid, &mut st, 0) };
        st
    });
    let (state, seen) = agent::serve_one(&listener, mkdir_errno).unwrap();
    let st = waiter.join().unwrap();
    assert!(libc::WIFEXITED(st), "status {st:#x}");
    assert_eq!(libc::WEXITSTATUS(st), 0);
    // runc's ContainerProcessState.
    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["metadata"], "hello-agent");
    assert_eq!(state["pid"], json!(pid));
    assert_eq!(state["ociVersion"], "1.0.2");
    assert_eq!(state["state"]["id"], "ctr");
    assert!(seen.contains(&(libc::SYS_mkdir as i32)), "{seen:?}");
    // The agent answered without creating the directory.
    assert!(!target.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn notify_agent_fakes_mkdir() {
    run(None);
    run(Some(libc::EROFS));
}
