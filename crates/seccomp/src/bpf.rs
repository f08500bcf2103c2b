//! Classic BPF constants, a small assembler with automatic long-jump
//! expansion, and an interpreter for the instruction subset we emit.

use crate::Error;

// Instruction classes / fields (linux/bpf_common.h).
pub const BPF_LD: u16 = 0x00;
pub const BPF_ALU: u16 = 0x04;
pub const BPF_JMP: u16 = 0x05;
pub const BPF_RET: u16 = 0x06;
pub const BPF_W: u16 = 0x00;
pub const BPF_ABS: u16 = 0x20;
pub const BPF_AND: u16 = 0x50;
pub const BPF_JA: u16 = 0x00;
pub const BPF_JEQ: u16 = 0x10;
pub const BPF_JGT: u16 = 0x20;
pub const BPF_JGE: u16 = 0x30;
pub const BPF_JSET: u16 = 0x40;
pub const BPF_K: u16 = 0x00;

/// Maximum number of instructions the kernel accepts (BPF_MAXINSNS).
pub const BPF_MAXINSNS: usize = 4096;

/// Offsets into `struct seccomp_data`.
pub const OFF_NR: u32 = 0;
pub const OFF_ARCH: u32 = 4;
pub const fn off_arg_lo(idx: usize) -> u32 {
    16 + 8 * idx as u32
}
pub const fn off_arg_hi(idx: usize) -> u32 {
    20 + 8 * idx as u32
}

pub type Label = usize;

/// Where a conditional jump goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The instruction right after this one (after any expansion).
    Next,
    /// A label placed later in the program.
    To(Label),
}

/// Symbolic instruction; jumps refer to labels and are resolved by [`assemble`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insn {
    /// `A = *(u32 *)(seccomp_data + k)`
    Ld(u32),
    /// `A &= k`
    And(u32),
    /// Conditional jump; `op` is one of BPF_JEQ/JGT/JGE/JSET.
    Jmp {
        op: u16,
        k: u32,
        jt: Target,
        jf: Target,
    },
    /// Return a constant seccomp action.
    Ret(u32),
    /// Pseudo-instruction: defines a label (emits nothing).
    Label(Label),
}

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

/// Resolve labels and emit real BPF.
///
/// Conditional jumps only have 8-bit offsets. A side whose target is more
/// than 255 instructions away is rewritten to jump to an adjacent `ja`
/// trampoline (32-bit offset). Expansion can push other jumps out of range,
/// so this iterates to a fixpoint; flags only ever turn on, so it terminates.
pub fn assemble(insns: &[Insn], n_labels: usize) -> Result<Vec<libc::sock_filter>, Error> {
    let mut far = vec![(false, false); insns.len()];
    let size = |i: usize, far: &[(bool, bool)]| -> usize {
        match insns[i] {
            Insn::Label(_) => 0,
            Insn::Jmp { .. } => 1 + far[i].0 as usize + far[i].1 as usize,
            _ => 1,
        }
    };
    let mut addr = vec![0usize; insns.len() + 1];
    let mut label_addr = vec![usize::MAX; n_labels];
    loop {
        let mut pc = 0usize;
        for i in 0..insns.len() {
            addr[i] = pc;
            if let Insn::Label(l) = insns[i] {
                let slot = label_addr
                    .get_mut(l)
                    .ok_or_else(|| Error::Internal(format!("label {l} out of range")))?;
                *slot = pc;
            }
            pc += size(i, &far);
        }
        addr[insns.len()] = pc;
        let mut changed = false;
        for i in 0..insns.len() {
            if let Insn::Jmp { jt, jf, .. } = insns[i] {
                let end = addr[i] + size(i, &far);
                let resolve = |t: Target| -> Result<usize, Error> {
                    match t {
                        Target::Next => Ok(end),
                        Target::To(l) => label_addr
                            .get(l)
                            .copied()
                            .filter(|&a| a != usize::MAX)
                            .ok_or_else(|| Error::Internal(format!("undefined label {l}"))),
                    }
                };
                let (t, f) = (resolve(jt)?, resolve(jf)?);
                // Short-form offsets are relative to addr[i] + 1.
                let base = addr[i] + 1;
                if t < base || f < base {
                    return Err(Error::Internal("backward jump".into()));
                }
                if !far[i].0 && t - base > 255 {
                    far[i].0 = true;
                    changed = true;
                }
                if !far[i].1 && f - base > 255 {
                    far[i].1 = true;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let total = addr[insns.len()];
    if total > BPF_MAXINSNS {
        return Err(Error::TooLarge(total));
    }
    let mut out = Vec::with_capacity(total);
    for (i, insn) in insns.iter().enumerate() {
        match *insn {
            Insn::Label(_) => {}
            Insn::Ld(k) => out.push(stmt(BPF_LD | BPF_W | BPF_ABS, k)),
            Insn::And(k) => out.push(stmt(BPF_ALU | BPF_AND | BPF_K, k)),
            Insn::Ret(k) => out.push(stmt(BPF_RET | BPF_K, k)),
            Insn::Jmp { op, k, jt, jf } => {
                let a = addr[i];
                let end = a + size(i, &far);
                let res = |t: Target| match t {
                    Target::Next => end,
                    Target::To(l) => label_addr[l],
                };
                let (t, f) = (res(jt), res(jf));
                let code = BPF_JMP | op | BPF_K;
                let ja = |from: usize, to: usize| stmt(BPF_JMP | BPF_JA, (to - from) as u32);
                match far[i] {
                    (false, false) => out.push(libc::sock_filter {
                        code,
                        jt: (t - (a + 1)) as u8,
                        jf: (f - (a + 1)) as u8,
                        k,
                    }),
                    (true, false) => {
                        out.push(libc::sock_filter {
                            code,
                            jt: 0,
                            jf: (f - (a + 1)) as u8,
                            k,
                        });
                        out.push(ja(a + 2, t));
                    }
                    (false, true) => {
                        out.push(libc::sock_filter {
                            code,
                            jt: (t - (a + 1)) as u8,
                            jf: 0,
                            k,
                        });
                        out.push(ja(a + 2, f));
                    }
                    (true, true) => {
                        out.push(libc::sock_filter {
                            code,
                            jt: 0,
                            jf: 1,
                            k,
                        });
                        out.push(ja(a + 2, t));
                        out.push(ja(a + 3, f));
                    }
                }
            }
        }
    }
    debug_assert_eq!(out.len(), total);
    Ok(out)
}

/// Input of a simulated syscall (mirror of `struct seccomp_data`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeccompData {
    pub nr: i32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

impl SeccompData {
    fn load(&self, off: u32) -> Option<u32> {
        let mut buf = [0u8; 64];
        buf[0..4].copy_from_slice(&self.nr.to_ne_bytes());
        buf[4..8].copy_from_slice(&self.arch.to_ne_bytes());
        buf[8..16].copy_from_slice(&self.instruction_pointer.to_ne_bytes());
        for (i, a) in self.args.iter().enumerate() {
            buf[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_ne_bytes());
        }
        let off = off as usize;
        if off % 4 != 0 || off + 4 > buf.len() {
            return None;
        }
        Some(u32::from_ne_bytes(buf[off..off + 4].try_into().ok()?))
    }
}

/// Run a seccomp BPF program (the subset this crate emits: LD W ABS, ALU
/// AND K, JA/JEQ/JGT/JGE/JSET K, RET K) like the kernel would.
/// Returns `None` for a malformed program.
pub fn run(prog: &[libc::sock_filter], data: &SeccompData) -> Option<u32> {
    let mut pc = 0usize;
    let mut a: u32 = 0;
    loop {
        let ins = prog.get(pc)?;
        pc += 1;
        match ins.code {
            c if c == BPF_LD | BPF_W | BPF_ABS => a = data.load(ins.k)?,
            c if c == BPF_ALU | BPF_AND | BPF_K => a &= ins.k,
            c if c == BPF_RET | BPF_K => return Some(ins.k),
            c if c == BPF_JMP | BPF_JA => pc = pc.checked_add(ins.k as usize)?,
            c if c & 0x07 == BPF_JMP => {
                let cond = match c & 0xf0 {
                    BPF_JEQ => a == ins.k,
                    BPF_JGT => a > ins.k,
                    BPF_JGE => a >= ins.k,
                    BPF_JSET => a & ins.k != 0,
                    _ => return None,
                };
                pc += if cond { ins.jt } else { ins.jf } as usize;
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A conditional jump over `pad` instructions on the true and/or false
    /// side; checks the encoding (incl. `ja` trampolines) by running it.
    fn check(pad_t: usize, pad_f: usize) {
        let (lt, lf) = (0, 1);
        let mut insns = vec![
            Insn::Ld(OFF_NR),
            Insn::Jmp {
                op: BPF_JEQ,
                k: 7,
                jt: Target::To(lt),
                jf: Target::To(lf),
            },
        ];
        insns.extend((0..pad_f).map(|_| Insn::Ret(0xdead)));
        insns.push(Insn::Label(lf));
        insns.push(Insn::Ret(2));
        insns.extend((0..pad_t).map(|_| Insn::Ret(0xbeef)));
        insns.push(Insn::Label(lt));
        insns.push(Insn::Ret(1));
        let prog = assemble(&insns, 2).unwrap();
        let far = pad_f + 1 + pad_t > 255;
        assert_eq!(prog.iter().any(|i| i.code == BPF_JMP | BPF_JA), far);
        for (nr, want) in [(7, 1), (8, 2)] {
            let d = SeccompData {
                nr,
                ..Default::default()
            };
            assert_eq!(run(&prog, &d), Some(want), "pad {pad_t}/{pad_f} nr {nr}");
        }
    }

    #[test]
    fn long_jumps_use_trampolines() {
        for (t, f) in [
            (0, 0),
            (10, 10),
            (254, 0),
            (255, 0),
            (300, 0),
            (0, 300),
            (300, 300),
            (3000, 1),
        ] {
            check(t, f);
        }
    }

    #[test]
    fn too_large_and_bad_labels() {
        let insns: Vec<Insn> = (0..5000).map(|_| Insn::Ret(0)).collect();
        assert!(matches!(assemble(&insns, 0), Err(Error::TooLarge(5000))));
        let bad = [Insn::Jmp {
            op: BPF_JEQ,
            k: 0,
            jt: Target::To(3),
            jf: Target::Next,
        }];
        assert!(matches!(assemble(&bad, 1), Err(Error::Internal(_))));
        let backward = [
            Insn::Label(0),
            Insn::Jmp {
                op: BPF_JEQ,
                k: 0,
                jt: Target::To(0),
                jf: Target::Next,
            },
        ];
        assert!(matches!(assemble(&backward, 1), Err(Error::Internal(_))));
    }
}
