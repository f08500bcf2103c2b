//! Behavioural tests: fork a child, install a compiled filter, make
//! syscalls, and check what the kernel did. Needs seccomp (any Linux ≥ 5.0);
//! sets no_new_privs in the child so it also runs unprivileged.

use oci_spec::runtime::LinuxSeccomp;
use serde_json::json;
use tong_seccomp::{compile, Filter};

#[derive(Debug, PartialEq)]
enum Outcome {
    Exited(i32),
    Signaled(i32),
}

/// Run `body` in a forked child after installing `filter`; the child exits
/// with body's return value. Only raw syscalls are made after the fork.
fn in_child(filter: &Filter, body: impl FnOnce() -> i32) -> Outcome {
    // SAFETY: the child only makes async-signal-safe calls before _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        unsafe {
            libc::signal(libc::SIGSYS, libc::SIG_DFL);
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                libc::_exit(100);
            }
        }
        let code = match filter.install() {
            Ok(_) => body(),
            Err(_) => 101,
        };
        unsafe { libc::_exit(code) };
    }
    let mut st = 0;
    unsafe { libc::waitpid(pid, &mut st, 0) };
    if libc::WIFSIGNALED(st) {
        Outcome::Signaled(libc::WTERMSIG(st))
    } else {
        Outcome::Exited(libc::WEXITSTATUS(st))
    }
}

fn filter(v: serde_json::Value) -> Filter {
    let cfg: LinuxSeccomp = serde_json::from_value(v).unwrap();
    compile(&cfg).unwrap()
}

/// getppid(2) with arbitrary register values: the kernel ignores the
/// arguments, but seccomp sees them.
fn getppid_args(args: [u64; 6]) -> (i64, i32) {
    let r = unsafe {
        libc::syscall(
            libc::SYS_getppid,
            args[0],
            args[1],
            args[2],
            args[3],
            args[4],
            args[5],
        )
    };
    (
        r,
        if r < 0 {
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
        } else {
            0
        },
    )
}

fn errno_of(r: i64) -> i32 {
    if r < 0 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    } else {
        0
    }
}

#[test]
fn errno_with_chosen_errno_and_default_eperm() {
    let f = filter(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42},
            {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO"},
        ]
    }));
    let out = in_child(&f, || {
        let (r, e) = getppid_args([0; 6]);
        if r != -1 || e != 42 {
            return 1;
        }
        let r = unsafe { libc::syscall(libc::SYS_getpgid, 0) };
        if r != -1 || errno_of(r) != libc::EPERM {
            return 2;
        }
        // Allowed by default.
        if unsafe { libc::syscall(libc::SYS_getpid) } <= 0 {
            return 3;
        }
        0
    });
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
fn default_errno_allow_list() {
    let f = filter(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 13,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["exit_group", "exit", "getpid", "getuid", "getppid"], "action": "SCMP_ACT_ALLOW"},
        ]
    }));
    let out = in_child(&f, || {
        if unsafe { libc::syscall(libc::SYS_getpid) } <= 0 {
            return 1;
        }
        // getgid (104) < getppid (110): denied with the default errno.
        let r = unsafe { libc::syscall(libc::SYS_getgid) };
        if r != -1 || errno_of(r) != 13 {
            return 2;
        }
        // getrandom (318) > largest named syscall (exit_group 231): runc's ENOSYS.
        let r = unsafe { libc::syscall(libc::SYS_getrandom, 0, 0, 0) };
        if r != -1 || errno_of(r) != libc::ENOSYS {
            return 3;
        }
        0
    });
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
fn kill_process_kill_thread_and_trap_give_sigsys() {
    for action in [
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRAP",
    ] {
        let f = filter(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getppid"], "action": action}]
        }));
        let out = in_child(&f, || {
            getppid_args([0; 6]);
            0
        });
        assert_eq!(out, Outcome::Signaled(libc::SIGSYS), "{action}");
    }
}

#[test]
fn log_and_trace_actions_and_flags() {
    let f = filter(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                  "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [
            {"names": ["getppid"], "action": "SCMP_ACT_LOG"},
            {"names": ["getpgid"], "action": "SCMP_ACT_TRACE", "errnoRet": 5},
        ]
    }));
    // WAIT_KILLABLE_RECV is dropped without a listener (the kernel rejects it).
    assert_eq!(f.flags(), 2 | 4);
    let out = in_child(&f, || {
        let (r, _) = getppid_args([0; 6]);
        if r <= 0 {
            return 1;
        }
        // TRACE without a tracer: the kernel fails the syscall with ENOSYS.
        let r = unsafe { libc::syscall(libc::SYS_getpgid, 0) };
        if r != -1 || errno_of(r) != libc::ENOSYS {
            return 2;
        }
        0
    });
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
fn argument_operators_in_the_kernel() {
    let v: u64 = 0x1_0000_0005;
    type Case<'a> = (&'a str, Option<u64>, &'a [(u64, bool)]);
    let cases: &[Case] = &[
        (
            "SCMP_CMP_EQ",
            None,
            &[(v, true), (5, false), (0x2_0000_0005, false)],
        ),
        (
            "SCMP_CMP_NE",
            None,
            &[(v, false), (5, true), (0x1_0000_0004, true)],
        ),
        (
            "SCMP_CMP_LT",
            None,
            &[(v - 1, true), (v, false), (0x2_0000_0000, false), (5, true)],
        ),
        (
            "SCMP_CMP_LE",
            None,
            &[(v, true), (v + 1, false), (0xffff_ffff, true)],
        ),
        (
            "SCMP_CMP_GE",
            None,
            &[(v, true), (v - 1, false), (u64::MAX, true)],
        ),
        (
            "SCMP_CMP_GT",
            None,
            &[(v, false), (v + 1, true), (0x2_0000_0000, true), (6, false)],
        ),
        (
            "SCMP_CMP_MASKED_EQ",
            Some(0x1_0000_0004),
            &[
                (0x1_0000_0004, true),
                (0x1_0000_0006, true),
                (0x1_0000_0001, false),
                (4, false),
            ],
        ),
    ];
    for (op, v2, samples) in cases {
        let mut a = json!({"index": 3, "value": v, "op": op});
        if let Some(v2) = v2 {
            a["valueTwo"] = json!(v2);
        }
        let f = filter(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77, "args": [a]}]
        }));
        for &(arg, matches) in samples.iter() {
            let out = in_child(&f, || {
                let (r, e) = getppid_args([0, 0, 0, arg, 0, 0]);
                match (matches, r, e) {
                    (true, -1, 77) => 0,
                    (false, r, 0) if r > 0 => 0,
                    _ => 1,
                }
            });
            assert_eq!(
                out,
                Outcome::Exited(0),
                "{op} arg={arg:#x} expected match={matches}"
            );
        }
    }
}

#[test]
fn multiple_args_are_anded_and_rules_ored() {
    let f = filter(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 11,
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]},
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 12,
             "args": [{"index": 2, "value": 3, "op": "SCMP_CMP_EQ"}]},
        ]
    }));
    for (args, want) in [
        ([1, 2, 0, 0, 0, 0], 11),
        ([1, 0, 0, 0, 0, 0], 0),
        ([0, 2, 3, 0, 0, 0], 12),
        ([1, 2, 3, 0, 0, 0], 11),
    ] {
        let out = in_child(&f, || {
            let (_, e) = getppid_args(args);
            e
        });
        assert_eq!(out, Outcome::Exited(want), "{args:?}");
    }
}

#[test]
fn i386_syscalls_are_filtered_with_i386_numbers() {
    // getpid is 20 on i386 (39 on x86_64); int 0x80 from a 64-bit process
    // is seen by seccomp as AUDIT_ARCH_I386.
    let f = filter(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99}]
    }));
    let out = in_child(&f, || {
        let r: i64;
        unsafe { std::arch::asm!("int 0x80", inlateout("rax") 20i64 => r) };
        if r == -38 {
            return 50; // no IA32 emulation in this kernel
        }
        if r != -99 {
            return 1;
        }
        let r = unsafe { libc::syscall(libc::SYS_getpid) };
        if r != -1 || errno_of(r) != 99 {
            return 2;
        }
        0
    });
    assert!(
        matches!(out, Outcome::Exited(0) | Outcome::Exited(50)),
        "{out:?}"
    );

    // Without SCMP_ARCH_X86 an i386 syscall is a bad arch: KILL_THREAD.
    let r: i64;
    unsafe { std::arch::asm!("int 0x80", inlateout("rax") 20i64 => r) };
    if r < 0 {
        eprintln!("no IA32 emulation: skipping the bad-arch check");
        return;
    }
    let f = filter(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]}));
    let out = in_child(&f, || {
        let r: i64;
        unsafe { std::arch::asm!("int 0x80", inlateout("rax") 20i64 => r) };
        r as i32
    });
    assert_eq!(out, Outcome::Signaled(libc::SIGSYS));
}
