//! Compiler tests: the generated BPF (run in the crate's interpreter) must
//! agree with a straightforward reference evaluation of the OCI config, for
//! hand-written and randomized profiles; compile() never panics.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Action, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator as Op, LinuxSyscall,
};
use serde_json::json;
use tong_seccomp::{compile, Abi, Error, SeccompData, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};

const KILL_THREAD: u32 = 0;
const ALLOW: u32 = 0x7fff_0000;
const ERRNO: u32 = 0x0005_0000;

fn ret_of(a: Action, e: Option<u32>) -> u32 {
    let d = e.unwrap_or(1) & 0xffff;
    match a {
        Action::ScmpActKill | Action::ScmpActKillThread => 0,
        Action::ScmpActKillProcess => 0x8000_0000,
        Action::ScmpActTrap => 0x0003_0000,
        Action::ScmpActErrno => ERRNO | d,
        Action::ScmpActTrace => 0x7ff0_0000 | d,
        Action::ScmpActLog => 0x7ffc_0000,
        Action::ScmpActNotify => 0x7fc0_0000,
        Action::ScmpActAllow => ALLOW,
    }
}

fn cond_holds(c: &LinuxSeccompArg, args: &[u64; 6], wide: bool) -> bool {
    let mut a = args[c.index()];
    let mut v = c.value();
    let mut v2 = c.value_two().unwrap_or(0);
    if !wide {
        (a, v, v2) = (a as u32 as u64, v as u32 as u64, v2 as u32 as u64);
    }
    match c.op() {
        Op::ScmpCmpNe => a != v,
        Op::ScmpCmpLt => a < v,
        Op::ScmpCmpLe => a <= v,
        Op::ScmpCmpEq => a == v,
        Op::ScmpCmpGe => a >= v,
        Op::ScmpCmpGt => a > v,
        Op::ScmpCmpMaskedEq => a & v == v2,
    }
}

/// Reference semantics (runc + libseccomp + runc's ENOSYS stub).
fn reference(cfg: &LinuxSeccomp, d: &SeccompData) -> u32 {
    let nr = d.nr as u32;
    let listed = |want: &[Arch]| {
        cfg.architectures()
            .iter()
            .flatten()
            .any(|a| want.contains(a))
    };
    let abi = match d.arch {
        AUDIT_ARCH_X86_64 if nr >= 0x4000_0000 => {
            if !listed(&[Arch::ScmpArchX32]) {
                return KILL_THREAD;
            }
            Abi::X32
        }
        AUDIT_ARCH_X86_64 => Abi::X86_64,
        AUDIT_ARCH_I386 if listed(&[Arch::ScmpArchX86]) => Abi::I386,
        _ => return KILL_THREAD,
    };
    let default = ret_of(cfg.default_action(), cfg.default_errno_ret());
    let syscalls = cfg.syscalls().clone().unwrap_or_default();
    let stub = !matches!(
        cfg.default_action(),
        Action::ScmpActAllow | Action::ScmpActLog | Action::ScmpActTrace
    );
    let abi_listed = match abi {
        Abi::X86_64 => listed(&[Arch::ScmpArchX86_64, Arch::ScmpArchNative]),
        Abi::X32 => listed(&[Arch::ScmpArchX32]),
        Abi::I386 => listed(&[Arch::ScmpArchX86]),
    };
    if stub && abi_listed {
        let max = syscalls
            .iter()
            .flat_map(|s| s.names())
            .filter(|n| abi.multiplexed(n).is_none())
            .filter_map(|n| abi.syscall_nr(n))
            .max();
        if let Some(m) = max {
            if nr > m {
                return ERRNO | 38;
            }
        }
    }
    // Rules for this syscall, in order.
    let mut rules: Vec<(u32, Vec<LinuxSeccompArg>)> = vec![];
    for s in &syscalls {
        let r = ret_of(s.action(), s.errno_ret());
        if r == default {
            continue;
        }
        let args = s.args().clone().unwrap_or_default();
        let mut idx: Vec<usize> = args.iter().map(|a| a.index()).collect();
        idx.sort();
        let split: Vec<Vec<LinuxSeccompArg>> = if idx.windows(2).any(|w| w[0] == w[1]) {
            args.into_iter().map(|a| vec![a]).collect()
        } else {
            vec![args]
        };
        for n in s.names() {
            if abi.syscall_nr(n) == Some(nr) {
                rules.extend(split.iter().map(|c| (r, c.clone())));
            }
            if let Some((mux, call)) = abi.multiplexed(n) {
                if mux == nr {
                    for c in &split {
                        let mut c: Vec<_> = c.iter().filter(|a| a.index() != 0).copied().collect();
                        c.push(arg(0, Op::ScmpCmpEq, call, None));
                        rules.push((r, c));
                    }
                }
            }
        }
    }
    if let Some((r, _)) = rules.iter().find(|(_, c)| c.is_empty()) {
        return *r;
    }
    for (r, conds) in &rules {
        if conds
            .iter()
            .all(|c| cond_holds(c, &d.args, abi == Abi::X86_64))
        {
            return *r;
        }
    }
    default
}

fn arg(index: usize, op: Op, value: u64, value_two: Option<u64>) -> LinuxSeccompArg {
    let mut j = json!({"index": index, "value": value, "op": op});
    if let Some(v2) = value_two {
        j["valueTwo"] = json!(v2);
    }
    serde_json::from_value(j).unwrap()
}

fn rule(
    names: &[&str],
    action: Action,
    errno: Option<u32>,
    args: Vec<LinuxSeccompArg>,
) -> LinuxSyscall {
    let mut s = LinuxSyscall::default();
    s.set_names(names.iter().map(|s| s.to_string()).collect());
    s.set_action(action);
    s.set_errno_ret(errno);
    if !args.is_empty() {
        s.set_args(Some(args));
    }
    s
}

fn profile(default: Action, arches: &[Arch], syscalls: Vec<LinuxSyscall>) -> LinuxSeccomp {
    let mut p = LinuxSeccomp::default();
    p.set_default_action(default);
    p.set_architectures(Some(arches.to_vec()));
    p.set_syscalls(Some(syscalls));
    p
}

fn data(arch: u32, nr: u32, args: [u64; 6]) -> SeccompData {
    SeccompData {
        nr: nr as i32,
        arch,
        instruction_pointer: 0,
        args,
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

const ACTIONS: &[Action] = &[
    Action::ScmpActKill,
    Action::ScmpActKillThread,
    Action::ScmpActKillProcess,
    Action::ScmpActTrap,
    Action::ScmpActErrno,
    Action::ScmpActTrace,
    Action::ScmpActLog,
    Action::ScmpActNotify,
    Action::ScmpActAllow,
];
const OPS: &[Op] = &[
    Op::ScmpCmpNe,
    Op::ScmpCmpLt,
    Op::ScmpCmpLe,
    Op::ScmpCmpEq,
    Op::ScmpCmpGe,
    Op::ScmpCmpGt,
    Op::ScmpCmpMaskedEq,
];
const ARCHES: &[Arch] = &[
    Arch::ScmpArchNative,
    Arch::ScmpArchX86,
    Arch::ScmpArchX86_64,
    Arch::ScmpArchX32,
    Arch::ScmpArchArm,
    Arch::ScmpArchAarch64,
    Arch::ScmpArchS390x,
];

fn interesting_u64(rng: &mut Rng) -> u64 {
    let base = rng.pick(&[
        0u64,
        1,
        2,
        0xffff_ffff,
        0x1_0000_0000,
        0x1_0000_0001,
        u64::MAX,
        u64::MAX - 1,
        0x8000_0000_0000_0000,
        0x7e02_0000,
        0xdead_beef_0000_0042,
    ]);
    match rng.below(4) {
        0 => base,
        1 => base.wrapping_add(1),
        2 => base.wrapping_sub(1),
        _ => rng.next(),
    }
}

fn random_profile(rng: &mut Rng, names: &[&str]) -> LinuxSeccomp {
    let mut p = LinuxSeccomp::default();
    p.set_default_action(rng.pick(ACTIONS));
    if rng.below(10) != 0 {
        p.set_listener_path(Some("/run/agent.sock".into()));
    }
    if rng.below(2) == 0 {
        p.set_default_errno_ret(Some(rng.below(70000) as u32));
    }
    if rng.below(4) != 0 {
        let n = rng.below(5);
        p.set_architectures(Some((0..n).map(|_| rng.pick(ARCHES)).collect()));
    }
    if rng.below(3) == 0 {
        let flags = [
            LinuxSeccompFilterFlag::SeccompFilterFlagLog,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv,
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync,
        ];
        p.set_flags(Some((0..rng.below(3)).map(|_| rng.pick(&flags)).collect()));
    }
    let n_rules = rng.below(40);
    let mut rules = vec![];
    for _ in 0..n_rules {
        let n_names = rng.below(6);
        let mut ns: Vec<String> = (0..n_names).map(|_| rng.pick(names).to_string()).collect();
        if rng.below(50) == 0 {
            ns.push("no_such_syscall".into());
        }
        if rng.below(200) == 0 {
            ns.push(String::new());
        }
        let mut s = LinuxSyscall::default();
        s.set_names(ns);
        s.set_action(rng.pick(ACTIONS));
        if rng.below(2) == 0 {
            s.set_errno_ret(Some(rng.pick(&[0u32, 1, 13, 38, 4095, 65536 + 5])));
        }
        if rng.below(2) == 0 {
            let na = rng.below(4);
            let args = (0..na)
                .map(|_| {
                    let index = if rng.below(100) == 0 {
                        6 + rng.below(1000) as usize
                    } else {
                        rng.below(6) as usize
                    };
                    let v2 = if rng.below(2) == 0 {
                        Some(interesting_u64(rng))
                    } else {
                        None
                    };
                    arg(index, rng.pick(OPS), interesting_u64(rng), v2)
                })
                .collect();
            s.set_args(Some(args));
        }
        rules.push(s);
    }
    p.set_syscalls(Some(rules));
    p
}

/// Check compiled program == reference on many inputs.
fn check_equivalent(cfg: &LinuxSeccomp, rng: &mut Rng, samples: usize) {
    let filter = match compile(cfg) {
        Ok(f) => f,
        Err(_) => return,
    };
    let mut nrs: Vec<u32> = vec![
        0,
        1,
        0x3fff_ffff,
        0x4000_0000,
        0xffff_ffff,
        0x8000_0000,
        102,
        117,
    ];
    for s in cfg.syscalls().iter().flatten() {
        for n in s.names() {
            for abi in [Abi::X86_64, Abi::X32, Abi::I386] {
                if let Some(nr) = abi.syscall_nr(n) {
                    nrs.extend([nr, nr.wrapping_add(1), nr.wrapping_sub(1)]);
                }
            }
        }
    }
    for _ in 0..samples {
        let arch = rng.pick(&[
            AUDIT_ARCH_X86_64,
            AUDIT_ARCH_X86_64,
            AUDIT_ARCH_I386,
            0xc000_00b7,
        ]);
        let nr = if rng.below(5) == 0 {
            rng.below(600) as u32
        } else {
            rng.pick(&nrs)
        };
        let mut args = [0u64; 6];
        for a in &mut args {
            *a = interesting_u64(rng);
        }
        // Also aim at the exact compared values.
        if let Some(s) = cfg.syscalls().iter().flatten().nth(rng.below(64) as usize) {
            for c in s.args().iter().flatten() {
                if c.index() < 6 && rng.below(2) == 0 {
                    args[c.index()] = match rng.below(3) {
                        0 => c.value(),
                        1 => c.value_two().unwrap_or(0),
                        _ => c.value().wrapping_add(1),
                    };
                }
            }
        }
        if rng.below(3) == 0 {
            args[0] = 1 + rng.below(24);
        }
        let d = data(arch, nr, args);
        if filter.evaluate(&d) != Some(reference(cfg, &d)) {
            let _ = std::fs::write(
                std::env::temp_dir().join("tong-seccomp-failing-profile.json"),
                serde_json::to_vec(cfg).unwrap_or_default(),
            );
        }
        assert_eq!(
            filter.evaluate(&d),
            Some(reference(cfg, &d)),
            "input {d:?}\nprofile {}",
            {
                let mut j = serde_json::to_string(cfg).unwrap();
                j.truncate(3000);
                j
            }
        );
    }
}

#[test]
fn randomized_profiles_never_panic_and_match_reference() {
    let names: Vec<&str> = Abi::X86_64
        .syscalls()
        .iter()
        .map(|(n, _)| *n)
        .chain([
            "socketcall",
            "ipc",
            "waitpid",
            "rt_sigaction",
            "mmap2",
            "send",
            "recv",
        ])
        .collect();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let iterations = std::env::var("TONG_SECCOMP_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let mut ok = 0;
    for _ in 0..iterations {
        let cfg = random_profile(&mut rng, &names);
        if compile(&cfg).is_ok() {
            ok += 1;
        }
        check_equivalent(&cfg, &mut rng, 200);
    }
    assert!(ok > iterations / 2, "too few valid random profiles: {ok}");
}

#[test]
fn random_json_never_panics() {
    // Arbitrary JSON that happens to deserialize must compile or error.
    let mut rng = Rng(42);
    for _ in 0..2000 {
        let names = &["read", "", "x"][..(rng.below(4) as usize).min(3)];
        let v = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": rng.next() as u32,
            "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_MIPS"],
            "syscalls": [{
                "names": names,
                "action": "SCMP_ACT_NOTIFY",
                "args": [{"index": rng.below(10), "value": rng.next(), "op": "SCMP_CMP_LT"}]
            }]
        });
        if let Ok(cfg) = serde_json::from_value::<LinuxSeccomp>(v) {
            let _ = compile(&cfg);
        }
    }
}

#[test]
fn layout_small_profile() {
    let cfg = profile(
        Action::ScmpActErrno,
        &[Arch::ScmpArchX86_64],
        vec![rule(&["read"], Action::ScmpActAllow, None, vec![])],
    );
    let f = compile(&cfg).unwrap();
    let p = f.program();
    // ld arch; jeq x86_64 else badarch; ld nr; jge x32 → badarch; ...
    assert_eq!((p[0].code, p[0].k), (0x20, 4));
    assert_eq!((p[1].code, p[1].k), (0x15, AUDIT_ARCH_X86_64));
    assert_eq!((p[2].code, p[2].k), (0x20, 0));
    assert_eq!((p[3].code, p[3].k), (0x35, 0x4000_0000));
    // Last instruction: the bad-arch KILL_THREAD.
    assert_eq!(
        (p.last().unwrap().code, p.last().unwrap().k),
        (0x06, KILL_THREAD)
    );
    let run = |nr| f.evaluate(&data(AUDIT_ARCH_X86_64, nr, [0; 6])).unwrap();
    assert_eq!(run(0), ALLOW);
    // read is the largest syscall named -> everything above gets ENOSYS.
    assert_eq!(run(1), ERRNO | 38);
    assert_eq!(run(0x4000_0000), KILL_THREAD);
    assert_eq!(
        f.evaluate(&data(AUDIT_ARCH_I386, 3, [0; 6])),
        Some(KILL_THREAD)
    );
    assert_eq!(f.flags(), 0);
    assert!(!f.uses_notify());
}

#[test]
fn default_errno_is_eperm_and_errno_truncated_like_runc() {
    let cfg = profile(
        Action::ScmpActAllow,
        &[],
        vec![
            rule(&["mkdir"], Action::ScmpActErrno, None, vec![]),
            rule(&["rmdir"], Action::ScmpActErrno, Some(0x1_0005), vec![]),
            rule(&["getpid"], Action::ScmpActTrace, None, vec![]),
        ],
    );
    let f = compile(&cfg).unwrap();
    let run = |name| {
        f.evaluate(&data(
            AUDIT_ARCH_X86_64,
            Abi::X86_64.syscall_nr(name).unwrap(),
            [0; 6],
        ))
        .unwrap()
    };
    assert_eq!(run("mkdir"), ERRNO | 1);
    assert_eq!(run("rmdir"), ERRNO | 5);
    assert_eq!(run("getpid"), 0x7ff0_0001);
    assert_eq!(run("read"), ALLOW);
}

#[test]
fn big_profile_needs_long_jumps() {
    // Every syscall with several argument rules: far more than 255
    // instructions between the dispatch tree and its leaves.
    let mut rules = vec![];
    for (i, (name, _)) in Abi::X86_64.syscalls().iter().enumerate() {
        rules.push(rule(
            &[name],
            Action::ScmpActErrno,
            Some((i % 100) as u32 + 1),
            vec![arg(
                i % 6,
                OPS[i % 7],
                i as u64 * 0x1_0000_0001,
                Some(i as u64),
            )],
        ));
    }
    let cfg = profile(Action::ScmpActAllow, &[Arch::ScmpArchX86_64], rules);
    let f = compile(&cfg).unwrap();
    let n = f.program().len();
    assert!(n > 1000 && n <= 4096, "{n}");
    let has_long_ja = f.program().iter().any(|i| i.code == 0x05 && i.k > 255);
    assert!(has_long_ja, "expected ja trampolines");
    let mut rng = Rng(7);
    check_equivalent(&cfg, &mut rng, 20000);
}

#[test]
fn too_large_is_an_error() {
    let mut rules = vec![];
    for (i, (name, _)) in Abi::X86_64.syscalls().iter().enumerate() {
        let args = (0..6)
            .map(|k| arg(k, Op::ScmpCmpGt, (i * k) as u64, None))
            .collect();
        rules.push(rule(&[name], Action::ScmpActErrno, None, args));
    }
    let cfg = profile(
        Action::ScmpActAllow,
        &[Arch::ScmpArchX86, Arch::ScmpArchX32],
        rules,
    );
    assert!(matches!(compile(&cfg), Err(Error::TooLarge(_))));
}

#[test]
fn validation_errors() {
    let bad_index = profile(
        Action::ScmpActAllow,
        &[],
        vec![rule(
            &["read"],
            Action::ScmpActErrno,
            None,
            vec![arg(6, Op::ScmpCmpEq, 0, None)],
        )],
    );
    let e = compile(&bad_index).unwrap_err();
    assert!(matches!(e, Error::ArgIndex { index: 6, .. }), "{e}");
    assert!(e.to_string().contains("argument index 6"));

    let notify_default = profile(Action::ScmpActNotify, &[], vec![]);
    assert!(matches!(
        compile(&notify_default),
        Err(Error::NotifyDefaultAction)
    ));

    let no_listener = profile(
        Action::ScmpActAllow,
        &[],
        vec![rule(&["mkdir"], Action::ScmpActNotify, None, vec![])],
    );
    assert!(matches!(
        compile(&no_listener),
        Err(Error::NotifyWithoutListenerPath)
    ));
    let mut notify_write = profile(
        Action::ScmpActAllow,
        &[],
        vec![rule(&["write"], Action::ScmpActNotify, None, vec![])],
    );
    notify_write.set_listener_path(Some("/run/agent.sock".into()));
    assert!(matches!(compile(&notify_write), Err(Error::NotifyWrite)));

    let empty = profile(
        Action::ScmpActAllow,
        &[],
        vec![rule(&[""], Action::ScmpActErrno, None, vec![])],
    );
    assert!(matches!(
        compile(&empty),
        Err(Error::EmptySyscallName { rule: 0 })
    ));

    // Unknown action / op / arch strings are rejected when parsing the spec.
    for bad in [
        json!({"defaultAction": "SCMP_ACT_BOGUS"}),
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}),
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
               "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_BOGUS"}]}]}),
    ] {
        assert!(serde_json::from_value::<LinuxSeccomp>(bad).is_err());
    }
}

#[test]
fn unknown_syscalls_are_skipped() {
    let cfg = profile(
        Action::ScmpActErrno,
        &[],
        vec![rule(
            &["read", "no_such_call"],
            Action::ScmpActAllow,
            None,
            vec![],
        )],
    );
    let f = compile(&cfg).unwrap();
    assert_eq!(f.skipped_syscalls(), ["no_such_call"]);
}

#[test]
fn arches_and_flags() {
    let cfg: LinuxSeccomp = serde_json::from_value(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"],
        "listenerPath": "/run/agent.sock",
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"},
            {"names": ["rt_sigaction"], "action": "SCMP_ACT_ALLOW"},
        ]
    }))
    .unwrap();
    let f = compile(&cfg).unwrap();
    assert_eq!(f.flags(), 2 | 4 | 32 | 8);
    assert!(f.uses_notify());
    let ev = |arch, nr| f.evaluate(&data(arch, nr, [0; 6])).unwrap();
    assert_eq!(ev(AUDIT_ARCH_X86_64, 39), ALLOW); // getpid
    assert_eq!(ev(AUDIT_ARCH_X86_64, 0x4000_0000 + 39), ALLOW); // x32 getpid
    assert_eq!(ev(AUDIT_ARCH_I386, 20), ALLOW); // i386 getpid
    assert_eq!(ev(AUDIT_ARCH_X86_64, 83), 0x7fc0_0000); // mkdir notify
    assert_eq!(ev(AUDIT_ARCH_I386, 39), 0x7fc0_0000); // i386 mkdir
    assert_eq!(ev(AUDIT_ARCH_X86_64, 0x4000_0000 + 512), ALLOW); // x32 rt_sigaction
    assert_eq!(ev(AUDIT_ARCH_X86_64, 0x4000_0000 + 13), ERRNO | 1); // x32 has no 13
    assert_eq!(ev(0xc000_00b7, 39), KILL_THREAD); // aarch64 never happens here
}

#[test]
fn arg_ops_64bit() {
    let v = 0x1_0000_0005u64;
    let mk = |op, v2| {
        compile(&profile(
            Action::ScmpActAllow,
            &[],
            vec![rule(
                &["getpid"],
                Action::ScmpActErrno,
                Some(7),
                vec![arg(2, op, v, v2)],
            )],
        ))
        .unwrap()
    };
    let cases: &[(Op, Option<u64>)] = &[
        (Op::ScmpCmpNe, None),
        (Op::ScmpCmpLt, None),
        (Op::ScmpCmpLe, None),
        (Op::ScmpCmpEq, None),
        (Op::ScmpCmpGe, None),
        (Op::ScmpCmpGt, None),
        (Op::ScmpCmpMaskedEq, Some(0x1_0000_0004)),
    ];
    for &(op, v2) in cases {
        let f = mk(op, v2);
        for a in [
            0u64,
            5,
            4,
            6,
            v - 1,
            v,
            v + 1,
            0x2_0000_0000,
            0x1_0000_0004,
            u64::MAX,
        ] {
            let mut args = [0; 6];
            args[2] = a;
            let want = match op {
                Op::ScmpCmpNe => a != v,
                Op::ScmpCmpLt => a < v,
                Op::ScmpCmpLe => a <= v,
                Op::ScmpCmpEq => a == v,
                Op::ScmpCmpGe => a >= v,
                Op::ScmpCmpGt => a > v,
                Op::ScmpCmpMaskedEq => a & v == 0x1_0000_0004,
            };
            let got = f.evaluate(&data(AUDIT_ARCH_X86_64, 39, args)).unwrap();
            assert_eq!(got == ERRNO | 7, want, "{op:?} arg={a:#x}");
        }
    }
}

#[test]
fn i386_socket_calls_are_also_matched_through_socketcall() {
    let cfg = profile(
        Action::ScmpActErrno,
        &[Arch::ScmpArchX86_64, Arch::ScmpArchX86],
        vec![
            rule(&["getpid"], Action::ScmpActAllow, None, vec![]),
            rule(&["socket", "recv"], Action::ScmpActAllow, None, vec![]),
            rule(&["shmget"], Action::ScmpActErrno, Some(9), vec![]),
        ],
    );
    let f = compile(&cfg).unwrap();
    assert!(f.skipped_syscalls().is_empty(), "recv is known on i386");
    let ev = |nr, a0| {
        f.evaluate(&data(AUDIT_ARCH_I386, nr, [a0, 0, 0, 0, 0, 0]))
            .unwrap()
    };
    // runc's ENOSYS stub ignores the multiplexed names on i386 (libseccomp
    // resolves them to pseudo numbers): only getpid (20) counts.
    assert_eq!(ev(21, 0), ERRNO | 38);
    assert_eq!(ev(359, 0), ERRNO | 38);

    // Same rules without the stub (default ALLOW, deny list).
    let cfg = profile(
        Action::ScmpActAllow,
        &[Arch::ScmpArchX86_64, Arch::ScmpArchX86],
        vec![
            rule(&["socket", "recv"], Action::ScmpActErrno, Some(3), vec![]),
            rule(&["shmget"], Action::ScmpActErrno, Some(9), vec![]),
        ],
    );
    let f = compile(&cfg).unwrap();
    let ev = |nr, a0| {
        f.evaluate(&data(AUDIT_ARCH_I386, nr, [a0, 0, 0, 0, 0, 0]))
            .unwrap()
    };
    assert_eq!(ev(359, 0), ERRNO | 3); // direct socket(2)
    assert_eq!(ev(102, 1), ERRNO | 3); // socketcall(SYS_SOCKET)
    assert_eq!(ev(102, 10), ERRNO | 3); // socketcall(SYS_RECV)
    assert_eq!(ev(102, 2), ALLOW); // socketcall(SYS_BIND)
    assert_eq!(ev(117, 23), ERRNO | 9); // ipc(SHMGET)
    assert_eq!(ev(395, 0), ERRNO | 9); // direct shmget
}

#[test]
fn repeated_arg_index_is_ored_like_runc() {
    // runc: two conditions on the same argument become separate rules.
    let cfg = profile(
        Action::ScmpActErrno,
        &[],
        vec![rule(
            &["personality"],
            Action::ScmpActAllow,
            None,
            vec![
                arg(0, Op::ScmpCmpEq, 0, None),
                arg(0, Op::ScmpCmpEq, 8, None),
            ],
        )],
    );
    let f = compile(&cfg).unwrap();
    for (a, want) in [(0, ALLOW), (8, ALLOW), (9, ERRNO | 1)] {
        let mut args = [0; 6];
        args[0] = a;
        assert_eq!(f.evaluate(&data(AUDIT_ARCH_X86_64, 135, args)), Some(want));
    }
}
