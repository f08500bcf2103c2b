//! config-linux.md seccomp: defaultAction, per-syscall actions, errnoRet,
//! defaultErrnoRet, argument matching.

use crate::harness::{t, Ctx, TResult, Test};
use crate::{ensure, skip};
use serde_json::{json, Value};

pub fn tests() -> Vec<Test> {
    vec![
        t(
            "config-linux/seccomp/syscall-errno-default-eperm",
            errno_default,
        ),
        t("config-linux/seccomp/syscall-errno-ret", errno_ret),
        t("config-linux/seccomp/default-action-errno", default_errno),
        t("config-linux/seccomp/default-errno-ret", default_errno_ret),
        t("config-linux/seccomp/default-action-allow", default_allow),
        t("config-linux/seccomp/action-kill", |c| {
            killing(c, "SCMP_ACT_KILL")
        }),
        t("config-linux/seccomp/action-trap", |c| {
            killing(c, "SCMP_ACT_TRAP")
        }),
        t("config-linux/seccomp/action-log", action_log),
        t("config-linux/seccomp/args-eq", args_eq),
        t("config-linux/seccomp/args-masked-eq", args_masked),
    ]
}

const ARCHES: [&str; 3] = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];

fn supported() -> TResult {
    let st = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if crate::harness::field(&st, "Seccomp").is_none() {
        skip!("kernel built without seccomp");
    }
    if !cfg!(target_arch = "x86_64") {
        skip!("seccomp tests are written for x86_64 syscall names");
    }
    Ok(())
}

fn run_with(
    ctx: &mut Ctx,
    seccomp: Value,
    script: &str,
) -> Result<String, crate::harness::Verdict> {
    supported()?;
    let mut b = ctx.bundle();
    b.set("/linux/seccomp", seccomp);
    b.sh(script);
    let o = ctx.run(&b)?;
    ensure_ok(&o)?;
    Ok(o.stdout)
}

fn ensure_ok(o: &crate::harness::Out) -> TResult {
    ensure!(
        o.ok(),
        "container failed under the seccomp profile: {}",
        o.brief()
    );
    Ok(())
}

fn errno_default(ctx: &mut Ctx) -> TResult {
    let out = run_with(
        ctx,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ARCHES,
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}),
        "mkdir /tmp/x 2>&1; touch /tmp/y && echo touch-ok",
    )?;
    ensure!(
        out.contains("Operation not permitted"),
        "mkdir not blocked with EPERM: {out:?}"
    );
    ensure!(out.contains("touch-ok"), "other syscalls blocked: {out:?}");
    Ok(())
}

fn errno_ret(ctx: &mut Ctx) -> TResult {
    let out = run_with(
        ctx,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ARCHES,
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}),
        "mkdir /tmp/x 2>&1; true",
    )?;
    ensure!(
        out.contains("Permission denied"),
        "mkdir not blocked with errnoRet 13 (EACCES): {out:?}"
    );
    Ok(())
}

/// Syscalls busybox sh/echo/cat and the runtime's last steps before execve need.
const ALLOW: &[&str] = &[
    "read",
    "write",
    "open",
    "openat",
    "openat2",
    "close",
    "close_range",
    "stat",
    "fstat",
    "lstat",
    "newfstatat",
    "statx",
    "poll",
    "ppoll",
    "lseek",
    "mmap",
    "mprotect",
    "munmap",
    "brk",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigsuspend",
    "ioctl",
    "pread64",
    "pwrite64",
    "readv",
    "writev",
    "access",
    "faccessat",
    "faccessat2",
    "pipe",
    "pipe2",
    "select",
    "pselect6",
    "sched_yield",
    "mremap",
    "madvise",
    "dup",
    "dup2",
    "dup3",
    "nanosleep",
    "clock_nanosleep",
    "getpid",
    "getppid",
    "getpgrp",
    "setpgid",
    "getpgid",
    "getsid",
    "setsid",
    "clone",
    "clone3",
    "fork",
    "vfork",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "wait4",
    "waitid",
    "kill",
    "tgkill",
    "tkill",
    "fcntl",
    "flock",
    "fsync",
    "getcwd",
    "chdir",
    "fchdir",
    "rename",
    "renameat",
    "renameat2",
    "rmdir",
    "unlink",
    "unlinkat",
    "readlink",
    "readlinkat",
    "umask",
    "gettimeofday",
    "clock_gettime",
    "clock_getres",
    "getrlimit",
    "prlimit64",
    "setrlimit",
    "getuid",
    "getgid",
    "geteuid",
    "getegid",
    "setuid",
    "setgid",
    "setresuid",
    "setresgid",
    "setgroups",
    "getgroups",
    "getresuid",
    "getresgid",
    "capget",
    "capset",
    "prctl",
    "arch_prctl",
    "set_tid_address",
    "set_robust_list",
    "get_robust_list",
    "futex",
    "sigaltstack",
    "getdents",
    "getdents64",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_pwait",
    "epoll_wait",
    "getrandom",
    "rseq",
    "sched_getaffinity",
    "gettid",
    "fstatfs",
    "statfs",
    "chmod",
    "fchmod",
    "fchmodat",
    "chown",
    "fchown",
    "fchownat",
    "lchown",
    "symlink",
    "symlinkat",
    "link",
    "linkat",
    "utimensat",
    "times",
    "sysinfo",
    "getpriority",
    "setpriority",
    "personality",
    "membarrier",
    "pidfd_open",
    "pidfd_send_signal",
    "restart_syscall",
    "mincore",
    "socket",
    "connect",
    "sendto",
    "recvfrom",
    "getsockname",
    "getpeername",
    "setns",
    "unshare",
    "fchownat",
    "keyctl",
    "seccomp",
    "sendmsg",
    "recvmsg",
    "shutdown",
    "socketpair",
    "eventfd2",
    "signalfd4",
    "timerfd_create",
    "timerfd_settime",
    "pidfd_getfd",
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "sched_getparam",
    "sched_getscheduler",
];

fn errno_profile(extra: Value) -> Value {
    let mut p = json!({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ARCHES,
                       "syscalls": [{"names": ALLOW, "action": "SCMP_ACT_ALLOW"}]});
    if let Value::Object(m) = extra {
        for (k, v) in m {
            p[k] = v;
        }
    }
    p
}

fn default_errno(ctx: &mut Ctx) -> TResult {
    // mkdir/mkdirat are not in the allow list
    let out = run_with(
        ctx,
        errno_profile(json!({})),
        "echo alive; mkdir /tmp/x 2>&1; true",
    )?;
    ensure!(out.starts_with("alive"), "allowed syscalls failed: {out:?}");
    ensure!(
        out.contains("Operation not permitted"),
        "mkdir not denied by defaultAction ERRNO: {out:?}"
    );
    Ok(())
}

fn default_errno_ret(ctx: &mut Ctx) -> TResult {
    let out = run_with(
        ctx,
        errno_profile(json!({"defaultErrnoRet": 38})),
        "echo alive; mkdir /tmp/x 2>&1; true",
    )?;
    ensure!(
        out.contains("Function not implemented"),
        "mkdir not denied with defaultErrnoRet 38 (ENOSYS): {out:?}"
    );
    Ok(())
}

fn default_allow(ctx: &mut Ctx) -> TResult {
    let out = run_with(
        ctx,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ARCHES, "syscalls": []}),
        "uname",
    )?;
    ensure!(
        out.trim() == "Linux",
        "uname under an allow-all profile: {out:?}"
    );
    Ok(())
}

fn killing(ctx: &mut Ctx, action: &str) -> TResult {
    let out = run_with(
        ctx,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ARCHES,
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": action}]}),
        "sh -c 'mkdir /tmp/x'; echo rc=$?",
    )?;
    ensure!(
        out.trim() == "rc=159",
        "mkdir under {action} should die of SIGSYS (rc=159): {out:?}"
    );
    Ok(())
}

fn action_log(ctx: &mut Ctx) -> TResult {
    let out = run_with(
        ctx,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ARCHES,
               "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_LOG"}]}),
        "uname",
    )?;
    ensure!(
        out.trim() == "Linux",
        "SCMP_ACT_LOG must allow the syscall: {out:?}"
    );
    Ok(())
}

fn args_eq(ctx: &mut Ctx) -> TResult {
    let out = run_with(
        ctx,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ARCHES, "syscalls": [
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 0o777, "op": "SCMP_CMP_EQ"}]},
            {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 2, "value": 0o777, "op": "SCMP_CMP_EQ"}]},
        ]}),
        "touch /tmp/f; chmod 755 /tmp/f && echo 755-ok; chmod 777 /tmp/f 2>&1; stat -c %a /tmp/f",
    )?;
    ensure!(
        out.contains("755-ok"),
        "chmod with a non-matching argument denied: {out:?}"
    );
    ensure!(
        out.contains("Operation not permitted") && out.trim_end().ends_with("755"),
        "chmod with the matching argument allowed: {out:?}"
    );
    Ok(())
}

fn args_masked(ctx: &mut Ctx) -> TResult {
    // deny chmod whenever the group-write bit (0o020) is set
    let out = run_with(
        ctx,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ARCHES, "syscalls": [
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 0o020, "valueTwo": 0o020, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 2, "value": 0o020, "valueTwo": 0o020, "op": "SCMP_CMP_MASKED_EQ"}]},
        ]}),
        "touch /tmp/f; chmod 604 /tmp/f && echo 604-ok; chmod 624 /tmp/f 2>&1; stat -c %a /tmp/f",
    )?;
    ensure!(
        out.contains("604-ok"),
        "chmod without the masked bit denied: {out:?}"
    );
    ensure!(
        out.contains("Operation not permitted") && out.trim_end().ends_with("604"),
        "chmod with the masked bit allowed: {out:?}"
    );
    Ok(())
}
