//! OCI `LinuxSeccomp` → one BPF program. See DESIGN.md.

use std::collections::{BTreeMap, BTreeSet};

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Action, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator as Op,
};

use crate::bpf::{self, Insn, Label, Target, BPF_JEQ, BPF_JGE, BPF_JGT};
use crate::{Abi, Error, Filter, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};

const SECCOMP_RET_KILL_THREAD: u32 = 0x0000_0000;
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const SECCOMP_RET_TRAP: u32 = 0x0003_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
const SECCOMP_RET_TRACE: u32 = 0x7ff0_0000;
const SECCOMP_RET_LOG: u32 = 0x7ffc_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;

const FLAG_TSYNC: u32 = 1;
const FLAG_LOG: u32 = 1 << 1;
const FLAG_SPEC_ALLOW: u32 = 1 << 2;
const FLAG_NEW_LISTENER: u32 = 1 << 3;
const FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

/// Action for an architecture that is not in the filter (libseccomp's
/// default SCMP_FLTATR_ACT_BADARCH, which runc keeps).
const BAD_ARCH_ACTION: u32 = SECCOMP_RET_KILL_THREAD;

/// `SECCOMP_RET_*` value for an OCI action, like runc's `getAction`:
/// ERRNO and TRACE carry `errnoRet` (EPERM when absent), truncated to the
/// 16-bit data field as libseccomp-golang does.
pub(crate) fn action_ret(action: Action, errno_ret: Option<u32>) -> u32 {
    let data = errno_ret.unwrap_or(libc::EPERM as u32) & 0xffff;
    match action {
        Action::ScmpActKill | Action::ScmpActKillThread => SECCOMP_RET_KILL_THREAD,
        Action::ScmpActKillProcess => SECCOMP_RET_KILL_PROCESS,
        Action::ScmpActTrap => SECCOMP_RET_TRAP,
        Action::ScmpActErrno => SECCOMP_RET_ERRNO | data,
        Action::ScmpActTrace => SECCOMP_RET_TRACE | data,
        Action::ScmpActLog => SECCOMP_RET_LOG,
        Action::ScmpActNotify => SECCOMP_RET_USER_NOTIF,
        Action::ScmpActAllow => SECCOMP_RET_ALLOW,
    }
}

/// i386 syscalls that libseccomp also matches through the multiplexers
/// socketcall(2) (102) and ipc(2) (117): name → (multiplexer, call number).
pub(crate) fn i386_multiplexed(name: &str) -> Option<(u32, u64)> {
    const SOCKETCALL: u32 = 102;
    const IPC: u32 = 117;
    let r = match name {
        "socket" => (SOCKETCALL, 1),
        "bind" => (SOCKETCALL, 2),
        "connect" => (SOCKETCALL, 3),
        "listen" => (SOCKETCALL, 4),
        "accept" => (SOCKETCALL, 5),
        "getsockname" => (SOCKETCALL, 6),
        "getpeername" => (SOCKETCALL, 7),
        "socketpair" => (SOCKETCALL, 8),
        "send" => (SOCKETCALL, 9),
        "recv" => (SOCKETCALL, 10),
        "sendto" => (SOCKETCALL, 11),
        "recvfrom" => (SOCKETCALL, 12),
        "shutdown" => (SOCKETCALL, 13),
        "setsockopt" => (SOCKETCALL, 14),
        "getsockopt" => (SOCKETCALL, 15),
        "sendmsg" => (SOCKETCALL, 16),
        "recvmsg" => (SOCKETCALL, 17),
        "accept4" => (SOCKETCALL, 18),
        "recvmmsg" => (SOCKETCALL, 19),
        "sendmmsg" => (SOCKETCALL, 20),
        "semop" => (IPC, 1),
        "semget" => (IPC, 2),
        "semctl" => (IPC, 3),
        "semtimedop" => (IPC, 4),
        "msgsnd" => (IPC, 11),
        "msgrcv" => (IPC, 12),
        "msgget" => (IPC, 13),
        "msgctl" => (IPC, 14),
        "shmat" => (IPC, 21),
        "shmdt" => (IPC, 22),
        "shmget" => (IPC, 23),
        "shmctl" => (IPC, 24),
        _ => return None,
    };
    Some(r)
}

/// One argument condition (`LinuxSeccompArg`, valueTwo defaulted to 0).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Cond {
    index: usize,
    op: Op,
    value: u64,
    value_two: u64,
}

impl From<&LinuxSeccompArg> for Cond {
    fn from(a: &LinuxSeccompArg) -> Self {
        Cond {
            index: a.index(),
            op: a.op(),
            value: a.value(),
            value_two: a.value_two().unwrap_or(0),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Rule {
    ret: u32,
    conds: Vec<Cond>,
}

/// Per-ABI rules: syscall number → rules in config order.
type Table = BTreeMap<u32, Vec<Rule>>;

/// Compile an OCI seccomp configuration. Pure: makes no syscalls.
pub fn compile(cfg: &LinuxSeccomp) -> Result<Filter, Error> {
    if !cfg!(target_arch = "x86_64") {
        return Err(Error::UnsupportedHost(std::env::consts::ARCH));
    }
    let default_action = cfg.default_action();
    if default_action == Action::ScmpActNotify {
        return Err(Error::NotifyDefaultAction);
    }
    let default_ret = action_ret(default_action, cfg.default_errno_ret());

    // Architectures: native x86_64 always; other non-x86 arches can never
    // show up in seccomp_data.arch on an x86_64 kernel, so they are ignored.
    let mut abis: BTreeSet<Abi> = BTreeSet::new();
    abis.insert(Abi::X86_64);
    // The arches runc computes its -ENOSYS stub for (only listed ones).
    let mut listed: BTreeSet<Abi> = BTreeSet::new();
    for arch in cfg.architectures().iter().flatten() {
        let abi = match arch {
            Arch::ScmpArchNative | Arch::ScmpArchX86_64 => Abi::X86_64,
            Arch::ScmpArchX86 => Abi::I386,
            Arch::ScmpArchX32 => Abi::X32,
            _ => continue,
        };
        abis.insert(abi);
        listed.insert(abi);
    }

    let mut notify = false;
    let syscalls = cfg.syscalls().as_deref().unwrap_or(&[]);
    for (i, sc) in syscalls.iter().enumerate() {
        if sc.names().iter().any(|n| n.is_empty()) {
            return Err(Error::EmptySyscallName { rule: i });
        }
        for a in sc.args().iter().flatten() {
            if a.index() > 5 {
                return Err(Error::ArgIndex {
                    rule: i,
                    name: sc.names().join(","),
                    index: a.index(),
                });
            }
        }
        if sc.action() == Action::ScmpActNotify {
            notify = true;
            if sc.names().iter().any(|n| n == "write") {
                return Err(Error::NotifyWrite);
            }
        }
    }

    let mut flags = 0u32;
    for f in cfg.flags().iter().flatten() {
        flags |= match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => FLAG_WAIT_KILLABLE_RECV,
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => FLAG_TSYNC,
        };
    }
    if !notify {
        // Only meaningful for a listener; the kernel rejects it (EINVAL)
        // without SECCOMP_FILTER_FLAG_NEW_LISTENER.
        flags &= !FLAG_WAIT_KILLABLE_RECV;
    }
    if notify {
        if cfg
            .listener_path()
            .as_ref()
            .is_none_or(|p| p.as_os_str().is_empty())
        {
            return Err(Error::NotifyWithoutListenerPath);
        }
        if flags & FLAG_TSYNC != 0 {
            return Err(Error::TsyncWithNotify);
        }
        flags |= FLAG_NEW_LISTENER;
    }

    // Build the per-ABI rule tables.
    let mut tables: BTreeMap<Abi, Table> = abis.iter().map(|a| (*a, Table::new())).collect();
    let mut skipped = Vec::new();
    for sc in syscalls {
        let ret = action_ret(sc.action(), sc.errno_ret());
        // runc: a rule with the default action is redundant and skipped.
        if ret == default_ret {
            continue;
        }
        let args = sc.args().as_deref().unwrap_or(&[]);
        // runc: if an argument index appears more than once, each condition
        // becomes its own rule (ORed); otherwise all conditions are ANDed.
        let mut seen = [0u32; 6];
        for a in args {
            seen[a.index()] += 1;
        }
        let rules: Vec<Rule> = if seen.iter().any(|&c| c > 1) {
            args.iter()
                .map(|a| Rule {
                    ret,
                    conds: vec![a.into()],
                })
                .collect()
        } else {
            vec![Rule {
                ret,
                conds: args.iter().map(Cond::from).collect(),
            }]
        };
        for name in sc.names() {
            let mut known = false;
            for (abi, table) in tables.iter_mut() {
                if let Some(nr) = abi.syscall_nr(name) {
                    known = true;
                    table.entry(nr).or_default().extend(rules.iter().cloned());
                }
                if *abi == Abi::I386 {
                    if let Some((mux, call)) = i386_multiplexed(name) {
                        // libseccomp also adds the rule to socketcall(2) /
                        // ipc(2), its argument 0 condition replaced by
                        // "arg0 == call number".
                        known = true;
                        let eq = Cond {
                            index: 0,
                            op: Op::ScmpCmpEq,
                            value: call,
                            value_two: 0,
                        };
                        let muxed = rules.iter().map(|r| Rule {
                            ret: r.ret,
                            conds: std::iter::once(eq)
                                .chain(r.conds.iter().filter(|c| c.index != 0).copied())
                                .collect(),
                        });
                        table.entry(mux).or_default().extend(muxed);
                    }
                }
            }
            // Report names no x86 syscall table knows (runc: "unknown
            // seccomp syscall ... ignored"), not names merely absent from
            // one ABI.
            let known = known
                || [Abi::X86_64, Abi::X32, Abi::I386]
                    .iter()
                    .any(|a| a.syscall_nr(name).is_some() || a.multiplexed(name).is_some());
            if !known && !skipped.contains(name) {
                skipped.push(name.clone());
            }
        }
    }
    // libseccomp: an unconditional rule for a syscall replaces all
    // conditional ones, and later rules never replace an unconditional one.
    for table in tables.values_mut() {
        for rules in table.values_mut() {
            if let Some(u) = rules.iter().position(|r| r.conds.is_empty()) {
                let r = rules.swap_remove(u);
                *rules = vec![r];
            }
        }
    }

    // runc's -ENOSYS stub: unless the default action is permissive, a
    // syscall newer than the largest one named in the profile (for each
    // listed arch) gets ENOSYS, so libc falls back (e.g. clone3 → clone).
    let stub = !matches!(
        default_action,
        Action::ScmpActAllow | Action::ScmpActLog | Action::ScmpActTrace
    );
    let mut max_nr: BTreeMap<Abi, u32> = BTreeMap::new();
    if stub {
        for abi in &listed {
            let m = syscalls
                .iter()
                .flat_map(|sc| sc.names())
                // libseccomp resolves i386 socket/ipc names to negative
                // pseudo numbers, which runc's max ignores.
                .filter(|n| *abi != Abi::I386 || i386_multiplexed(n).is_none())
                .filter_map(|n| abi.syscall_nr(n))
                .max();
            if let Some(m) = m {
                max_nr.insert(*abi, m);
            }
        }
    }

    let program = Gen::default().program(&tables, &max_nr, default_ret)?;
    Ok(Filter {
        program,
        flags,
        notify,
        skipped,
    })
}

/// Outcome of a range of syscall numbers.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Leaf<'a> {
    Ret(u32),
    Rules(&'a [Rule]),
}

#[derive(Default)]
struct Gen {
    insns: Vec<Insn>,
    labels: usize,
}

const ENOSYS_RET: u32 = SECCOMP_RET_ERRNO | libc::ENOSYS as u32;

impl Gen {
    fn label(&mut self) -> Label {
        self.labels += 1;
        self.labels - 1
    }
    fn push(&mut self, i: Insn) {
        self.insns.push(i);
    }
    fn place(&mut self, l: Label) {
        self.insns.push(Insn::Label(l));
    }
    fn jmp(&mut self, op: u16, k: u32, jt: Target, jf: Target) {
        self.insns.push(Insn::Jmp { op, k, jt, jf });
    }

    fn program(
        mut self,
        tables: &BTreeMap<Abi, Table>,
        max_nr: &BTreeMap<Abi, u32>,
        default_ret: u32,
    ) -> Result<Vec<libc::sock_filter>, Error> {
        use Target::{Next, To};
        let bad_arch = self.label();
        let l_x32 = self.label();
        let l_i386 = self.label();
        let has_x32 = tables.contains_key(&Abi::X32);
        let has_i386 = tables.contains_key(&Abi::I386);

        self.push(Insn::Ld(bpf::OFF_ARCH));
        if has_i386 {
            self.jmp(BPF_JEQ, AUDIT_ARCH_I386, To(l_i386), Next);
        }
        self.jmp(BPF_JEQ, AUDIT_ARCH_X86_64, Next, To(bad_arch));
        self.push(Insn::Ld(bpf::OFF_NR));
        // x32 syscalls share AUDIT_ARCH_X86_64 and have bit 30 set.
        self.jmp(
            BPF_JGE,
            X32_SYSCALL_BIT,
            To(if has_x32 { l_x32 } else { bad_arch }),
            Next,
        );
        let empty = Table::new();
        self.section(
            tables.get(&Abi::X86_64).unwrap_or(&empty),
            max_nr.get(&Abi::X86_64).copied(),
            default_ret,
            0,
            true,
        );
        if has_x32 {
            self.place(l_x32);
            self.section(
                tables.get(&Abi::X32).unwrap_or(&empty),
                max_nr.get(&Abi::X32).copied(),
                default_ret,
                X32_SYSCALL_BIT,
                false,
            );
        }
        if has_i386 {
            self.place(l_i386);
            self.push(Insn::Ld(bpf::OFF_NR));
            self.section(
                tables.get(&Abi::I386).unwrap_or(&empty),
                max_nr.get(&Abi::I386).copied(),
                default_ret,
                0,
                false,
            );
        }
        self.place(bad_arch);
        self.push(Insn::Ret(BAD_ARCH_ACTION));
        bpf::assemble(&self.insns, self.labels)
    }

    /// One ABI's section; on entry A holds the syscall number, which is in
    /// `domain_start..` (0 for x86_64/i386, `X32_SYSCALL_BIT` for x32).
    ///
    /// The number line is cut into intervals with the same outcome (a
    /// constant return, or a block of argument rules for one syscall), and
    /// a binary search over the interval starts (`jge`) leads to each leaf.
    /// Numbers above the profile's largest syscall get runc's -ENOSYS.
    fn section(
        &mut self,
        table: &Table,
        max_nr: Option<u32>,
        default_ret: u32,
        domain_start: u32,
        wide: bool,
    ) {
        let mut raw: Vec<(u32, Leaf<'_>)> = vec![(domain_start, Leaf::Ret(default_ret))];
        let iv = &mut raw;
        fn push<'a>(iv: &mut Vec<(u32, Leaf<'a>)>, start: u32, leaf: Leaf<'a>) {
            iv.push((start, leaf));
        }
        for (&nr, rules) in table.range(domain_start..) {
            if max_nr.is_some_and(|m| nr > m) {
                break;
            }
            let leaf = match rules.as_slice() {
                [r] if r.conds.is_empty() => Leaf::Ret(r.ret),
                _ => Leaf::Rules(rules),
            };
            push(iv, nr, leaf);
            if let Some(next) = nr.checked_add(1) {
                push(iv, next, Leaf::Ret(default_ret));
            }
        }
        if let Some(m) = max_nr {
            if let Some(next) = m.checked_add(1) {
                if next > domain_start {
                    push(iv, next, Leaf::Ret(ENOSYS_RET));
                }
            }
        }
        // Normalise: for equal starts the last one wins; merge equal
        // neighbours.
        let mut merged: Vec<(u32, Leaf<'_>)> = Vec::with_capacity(raw.len());
        for (start, leaf) in raw {
            if merged.last().is_some_and(|l| l.0 == start) {
                merged.pop();
            }
            if merged.last().is_some_and(|l| l.1 == leaf) {
                continue;
            }
            merged.push((start, leaf));
        }
        self.tree(&merged, default_ret, wide);
    }

    fn tree(&mut self, iv: &[(u32, Leaf<'_>)], default_ret: u32, wide: bool) {
        use Target::{Next, To};
        match iv {
            [] => self.push(Insn::Ret(default_ret)),
            [(_, leaf)] => match leaf {
                Leaf::Ret(r) => self.push(Insn::Ret(*r)),
                Leaf::Rules(rules) => {
                    for rule in rules.iter() {
                        let next_rule = self.label();
                        for c in &rule.conds {
                            self.cond(c, next_rule, wide);
                        }
                        self.push(Insn::Ret(rule.ret));
                        self.place(next_rule);
                    }
                    self.push(Insn::Ret(default_ret));
                }
            },
            _ => {
                let mid = iv.len() / 2;
                let right = self.label();
                self.jmp(BPF_JGE, iv[mid].0, To(right), Next);
                self.tree(&iv[..mid], default_ret, wide);
                self.place(right);
                self.tree(&iv[mid..], default_ret, wide);
            }
        }
    }

    /// Emit an argument comparison: falls through when it holds, jumps to
    /// `fail` otherwise. `wide` (x86_64): 64-bit comparison on two 32-bit
    /// halves, as libseccomp does. Otherwise (i386, x32, which libseccomp
    /// treats as 32-bit ABIs) only the low 32 bits of the argument are
    /// compared with the low 32 bits of the value(s).
    fn cond(&mut self, c: &Cond, fail: Label, wide: bool) {
        use Target::{Next, To};
        let i = c.index;
        let (hi_off, lo_off) = (bpf::off_arg_hi(i), bpf::off_arg_lo(i));
        let v = c.value;
        let (vh, vl) = ((v >> 32) as u32, v as u32);
        let d = c.value_two;
        if !wide {
            self.push(Insn::Ld(lo_off));
            match c.op {
                Op::ScmpCmpEq => self.jmp(BPF_JEQ, vl, Next, To(fail)),
                Op::ScmpCmpNe => self.jmp(BPF_JEQ, vl, To(fail), Next),
                Op::ScmpCmpGt => self.jmp(BPF_JGT, vl, Next, To(fail)),
                Op::ScmpCmpGe => self.jmp(BPF_JGE, vl, Next, To(fail)),
                Op::ScmpCmpLt => self.jmp(BPF_JGE, vl, To(fail), Next),
                Op::ScmpCmpLe => self.jmp(BPF_JGT, vl, To(fail), Next),
                Op::ScmpCmpMaskedEq => {
                    self.push(Insn::And(vl));
                    self.jmp(BPF_JEQ, d as u32, Next, To(fail));
                }
            }
            return;
        }
        let ok = self.label();
        match c.op {
            Op::ScmpCmpEq => {
                self.push(Insn::Ld(hi_off));
                self.jmp(BPF_JEQ, vh, Next, To(fail));
                self.push(Insn::Ld(lo_off));
                self.jmp(BPF_JEQ, vl, Next, To(fail));
            }
            Op::ScmpCmpNe => {
                self.push(Insn::Ld(hi_off));
                self.jmp(BPF_JEQ, vh, Next, To(ok));
                self.push(Insn::Ld(lo_off));
                self.jmp(BPF_JEQ, vl, To(fail), Next);
            }
            Op::ScmpCmpGt | Op::ScmpCmpGe => {
                // hi > vh || (hi == vh && lo >(=) vl)
                self.push(Insn::Ld(hi_off));
                self.jmp(BPF_JGT, vh, To(ok), Next);
                self.jmp(BPF_JEQ, vh, Next, To(fail));
                self.push(Insn::Ld(lo_off));
                let op = if c.op == Op::ScmpCmpGt {
                    BPF_JGT
                } else {
                    BPF_JGE
                };
                self.jmp(op, vl, Next, To(fail));
            }
            Op::ScmpCmpLt | Op::ScmpCmpLe => {
                // LT = !GE, LE = !GT
                self.push(Insn::Ld(hi_off));
                self.jmp(BPF_JGT, vh, To(fail), Next);
                self.jmp(BPF_JEQ, vh, Next, To(ok));
                self.push(Insn::Ld(lo_off));
                let op = if c.op == Op::ScmpCmpLt {
                    BPF_JGE
                } else {
                    BPF_JGT
                };
                self.jmp(op, vl, To(fail), Next);
            }
            Op::ScmpCmpMaskedEq => {
                // (arg & value) == valueTwo
                self.push(Insn::Ld(hi_off));
                self.push(Insn::And(vh));
                self.jmp(BPF_JEQ, (d >> 32) as u32, Next, To(fail));
                self.push(Insn::Ld(lo_off));
                self.push(Insn::And(vl));
                self.jmp(BPF_JEQ, d as u32, Next, To(fail));
            }
        }
        self.place(ok);
    }
}
