//! The device allow-list on cgroup v2, which has no devices controller: an
//! eBPF program of type CGROUP_DEVICE attached to the container's cgroup, as
//! runc and crun do. The kernel runs it on every mknod and open of a device
//! node by a process in the cgroup; it returns 1 to allow, 0 to deny.
//!
//! Rules are checked last to first and the first that matches decides (so the
//! later rule wins, as when they are written to v1's devices.allow/deny in
//! order); nothing matching means deny. An allow rule matches when it grants
//! every access asked for, a deny rule when it names any of them.

use anyhow::{anyhow, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }:
// access_type = access << 16 | type.
const TYPE_BLOCK: i32 = 1;
const TYPE_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

/// One eBPF instruction: opcode, dst and src registers, offset, immediate.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    code as u64
        | ((dst | src << 4) as u64) << 8
        | (off as u16 as u64) << 16
        | (imm as u32 as u64) << 32
}

const LDXW: u8 = 0x61; // dst = *(u32 *)(src + off)
const MOV_K: u8 = 0xb7; // dst = imm (64-bit)
const MOV_X: u8 = 0xbf; // dst = src
const AND_K: u8 = 0x57; // dst &= imm
const RSH_K: u8 = 0x77; // dst >>= imm
const JNE_K: u8 = 0x55; // if dst != imm: pc += off
const JEQ_K: u8 = 0x15; // if dst == imm: pc += off
const EXIT: u8 = 0x95;

fn access_bits(r: &LinuxDeviceCgroup) -> i32 {
    let a = r.access().as_deref().unwrap_or("rwm");
    let mut bits = 0;
    for (c, b) in [('r', ACC_READ), ('w', ACC_WRITE), ('m', ACC_MKNOD)] {
        if a.contains(c) {
            bits |= b;
        }
    }
    bits
}

/// The program for `rules` (in the order they would be written to v1).
pub fn program(rules: &[LinuxDeviceCgroup]) -> Vec<u64> {
    // r2 = access asked for, r3 = type, r4 = major, r5 = minor.
    let mut p = vec![
        insn(LDXW, 2, 1, 0, 0),
        insn(MOV_X, 3, 2, 0, 0),
        insn(AND_K, 3, 0, 0, 0xffff),
        insn(RSH_K, 2, 0, 0, 16),
        insn(LDXW, 4, 1, 4, 0),
        insn(LDXW, 5, 1, 8, 0),
    ];
    for r in rules.iter().rev() {
        // Each check jumps to the end of this rule's block when it fails.
        // (jump op, register, immediate); the setup feeds the access check.
        let mut checks: Vec<(u8, u8, i32)> = Vec::new();
        let mut setup = Vec::new();
        match r.typ() {
            Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => {
                checks.push((JNE_K, 3, TYPE_CHAR))
            }
            Some(LinuxDeviceType::B) => checks.push((JNE_K, 3, TYPE_BLOCK)),
            Some(LinuxDeviceType::P) => continue, // fifos are not device nodes
            _ => {}
        }
        let bits = access_bits(r);
        if r.allow() {
            if bits != 7 {
                // Skip unless nothing outside the rule's access is asked for.
                setup.push(insn(MOV_X, 6, 2, 0, 0));
                setup.push(insn(AND_K, 6, 0, 0, !bits & 7));
                checks.push((JNE_K, 6, 0));
            }
        } else {
            // Skip unless some of the rule's access is asked for.
            setup.push(insn(MOV_X, 6, 2, 0, 0));
            setup.push(insn(AND_K, 6, 0, 0, bits));
            checks.push((JEQ_K, 6, 0));
        }
        if let Some(m) = r.major().filter(|m| *m >= 0) {
            checks.push((JNE_K, 4, m as i32));
        }
        if let Some(m) = r.minor().filter(|m| *m >= 0) {
            checks.push((JNE_K, 5, m as i32));
        }
        // Layout: setup, checks, mov r0, exit; a failing check skips to the end.
        let n = checks.len();
        let mut block = setup;
        for (i, (op, reg, imm)) in checks.into_iter().enumerate() {
            let left = (n - i - 1) as i16 + 2;
            block.push(insn(op, reg, 0, left, imm));
        }
        block.push(insn(MOV_K, 0, 0, 0, r.allow() as i32));
        block.push(insn(EXIT, 0, 0, 0, 0));
        p.extend(block);
    }
    p.push(insn(MOV_K, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

fn bpf(cmd: libc::c_int, attr: &mut [u8; 128]) -> std::io::Result<libc::c_long> {
    // SAFETY: bpf(2) with a zero-filled attribute buffer of the size we pass.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(r)
}

fn put_u32(a: &mut [u8; 128], at: usize, v: u32) {
    a[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

fn put_u64(a: &mut [u8; 128], at: usize, v: u64) {
    a[at..at + 8].copy_from_slice(&v.to_ne_bytes());
}

const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_DETACH: libc::c_int = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
const BPF_PROG_QUERY: libc::c_int = 16;
const BPF_CGROUP_DEVICE: u32 = 6;

/// Loads the program for `rules`, attaches it to the cgroup2 directory `dir`
/// and then detaches the programs attached before it (an `update`'s new
/// rules, a reused cgroup), as runc does: never a moment without a filter.
pub fn attach(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    const BPF_PROG_LOAD: libc::c_int = 5;
    const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
    const BPF_F_ALLOW_MULTI: u32 = 2;
    let prog = program(rules);
    let license = c"Apache";
    let mut attr = [0u8; 128];
    put_u32(&mut attr, 0, BPF_PROG_TYPE_CGROUP_DEVICE);
    put_u32(&mut attr, 4, prog.len() as u32);
    put_u64(&mut attr, 8, prog.as_ptr() as u64);
    put_u64(&mut attr, 16, license.as_ptr() as u64);
    let fd = bpf(BPF_PROG_LOAD, &mut attr)
        .map_err(|e| anyhow!("load the device cgroup program: {e}"))?;
    // SAFETY: bpf returned a new fd.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let cg = std::fs::File::open(dir).map_err(|e| anyhow!("open cgroup {}: {e}", dir.display()))?;
    let old = attached(&cg);
    let mut attr = [0u8; 128];
    put_u32(&mut attr, 0, cg.as_raw_fd() as u32);
    put_u32(&mut attr, 4, fd.as_raw_fd() as u32);
    put_u32(&mut attr, 8, BPF_CGROUP_DEVICE);
    put_u32(&mut attr, 12, BPF_F_ALLOW_MULTI);
    bpf(BPF_PROG_ATTACH, &mut attr)
        .map_err(|e| anyhow!("attach the device cgroup program to {}: {e}", dir.display()))?;
    for id in old {
        let mut attr = [0u8; 128];
        put_u32(&mut attr, 0, id);
        let Ok(pfd) = bpf(BPF_PROG_GET_FD_BY_ID, &mut attr) else {
            continue; // gone meanwhile
        };
        // SAFETY: bpf returned a new fd.
        let pfd = unsafe { OwnedFd::from_raw_fd(pfd as i32) };
        let mut attr = [0u8; 128];
        put_u32(&mut attr, 0, cg.as_raw_fd() as u32);
        put_u32(&mut attr, 4, pfd.as_raw_fd() as u32);
        put_u32(&mut attr, 8, BPF_CGROUP_DEVICE);
        bpf(BPF_PROG_DETACH, &mut attr).map_err(|e| {
            anyhow!(
                "detach the previous device cgroup program from {}: {e}",
                dir.display()
            )
        })?;
    }
    Ok(())
}

/// The ids of the device programs attached to the cgroup `cg` itself.
fn attached(cg: &std::fs::File) -> Vec<u32> {
    let mut ids = [0u32; 64];
    let mut attr = [0u8; 128];
    put_u32(&mut attr, 0, cg.as_raw_fd() as u32);
    put_u32(&mut attr, 4, BPF_CGROUP_DEVICE);
    put_u64(&mut attr, 16, ids.as_mut_ptr() as u64);
    put_u32(&mut attr, 24, ids.len() as u32);
    if bpf(BPF_PROG_QUERY, &mut attr).is_err() {
        return Vec::new();
    }
    let n = u32::from_ne_bytes(attr[24..28].try_into().unwrap_or_default()) as usize;
    ids[..n.min(ids.len())].to_vec()
}

#[cfg(test)]
mod tests {
    use super::super::v1::rule;
    use super::*;
    use oci_spec::runtime::LinuxDeviceType::{A, B, C};

    /// Runs the program on one request, with the few opcodes it uses.
    fn eval(p: &[u64], typ: i32, access: i32, major: u32, minor: u32) -> u64 {
        let ctx = [(access << 16 | typ) as u32, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (code, dst, src) = (i as u8, (i >> 8 & 0xf) as usize, (i >> 12 & 0xf) as usize);
            let (off, imm) = (
                (i >> 16) as u16 as i16,
                (i >> 32) as u32 as i32 as i64 as u64,
            );
            pc += 1;
            match code {
                LDXW => r[dst] = ctx[off as usize / 4] as u64,
                MOV_K => r[dst] = imm,
                MOV_X => r[dst] = r[src],
                AND_K => r[dst] &= imm,
                RSH_K => r[dst] >>= imm,
                JNE_K if r[dst] != imm => pc += off as usize,
                JEQ_K if r[dst] == imm => pc += off as usize,
                JNE_K | JEQ_K => {}
                EXIT => return r[0],
                c => panic!("opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn later_rules_win_and_the_default_is_deny() {
        let p = program(&[
            rule(false, A, None, None, "rwm"),
            rule(true, C, Some(1), Some(3), "rwm"),
            rule(true, C, None, None, "m"),
            rule(true, C, Some(136), None, "rw"),
            rule(false, C, Some(1), Some(3), "w"),
            rule(true, B, Some(8), Some(0), "r"),
        ]);
        let (r, w, m) = (ACC_READ, ACC_WRITE, ACC_MKNOD);
        assert_eq!(eval(&p, TYPE_CHAR, r, 1, 3), 1, "null readable");
        assert_eq!(eval(&p, TYPE_CHAR, w, 1, 3), 0, "the later deny of w wins");
        assert_eq!(
            eval(&p, TYPE_CHAR, r | w, 1, 3),
            0,
            "a deny matches any access it names"
        );
        assert_eq!(eval(&p, TYPE_CHAR, r, 1, 5), 0, "zero is not listed");
        assert_eq!(eval(&p, TYPE_CHAR, m, 1, 5), 1, "mknod of any char device");
        assert_eq!(eval(&p, TYPE_BLOCK, m, 8, 0), 0, "not of a block device");
        assert_eq!(eval(&p, TYPE_BLOCK, r, 8, 0), 1, "sda readable");
        assert_eq!(
            eval(&p, TYPE_CHAR, r, 8, 0),
            0,
            "a block rule is not a char rule"
        );
        assert_eq!(eval(&p, TYPE_CHAR, r | w, 136, 7), 1, "any pts");
        assert_eq!(
            eval(&p, TYPE_CHAR, r | m, 136, 7),
            0,
            "an allow must grant all that is asked"
        );
        assert_eq!(eval(&program(&[]), TYPE_CHAR, r, 1, 3), 0, "no rules: deny");
        let all = program(&[rule(true, A, None, None, "rwm")]);
        assert_eq!(eval(&all, TYPE_BLOCK, r | w | m, 8, 0), 1, "allow all");
    }

    /// The kernel accepts the program and enforces it: a child in a cgroup2
    /// directory with the program attached may open /dev/null's numbers but
    /// not /dev/zero's. Needs root and a cgroup2 mount (the hybrid host's
    /// unified hierarchy will do).
    #[test]
    fn kernel_enforces_the_program() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let h = super::super::Hierarchies::read();
        let Some(u) = h.all.iter().find(|h| h.unified) else {
            eprintln!("skipped: no cgroup2 mount");
            return;
        };
        let id = format!("tong-devbpf-{}", std::process::id());
        let dir = u.mount.join(&id);
        let nodes = std::env::temp_dir().join(&id);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(&nodes).unwrap();
        let rules = [
            rule(false, A, None, None, "rwm"),
            rule(true, C, Some(1), Some(3), "rwm"),
            rule(true, C, None, None, "m"),
        ];
        attach(&dir, &rules).unwrap();
        let procs = std::ffi::CString::new(
            dir.join("cgroup.procs")
                .into_os_string()
                .into_encoded_bytes(),
        )
        .unwrap();
        let null = std::ffi::CString::new(nodes.join("null").into_os_string().into_encoded_bytes())
            .unwrap();
        let zero = std::ffi::CString::new(nodes.join("zero").into_os_string().into_encoded_bytes())
            .unwrap();
        // SAFETY: the child makes raw system calls only and leaves with _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: plain system calls on NUL-terminated paths.
            unsafe {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    libc::_exit(10);
                }
                libc::close(fd);
                let chr = libc::S_IFCHR | 0o666;
                if libc::mknod(null.as_ptr(), chr, libc::makedev(1, 3)) != 0
                    || libc::mknod(zero.as_ptr(), chr, libc::makedev(1, 5)) != 0
                {
                    libc::_exit(11);
                }
                let ok = libc::open(null.as_ptr(), libc::O_RDONLY) >= 0;
                let denied = libc::open(zero.as_ptr(), libc::O_RDONLY) < 0
                    && *libc::__errno_location() == libc::EPERM;
                libc::_exit(if ok && denied {
                    0
                } else if ok {
                    12
                } else {
                    13
                });
            }
        }
        let mut status = 0;
        // SAFETY: waiting for our child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        let _ = std::fs::remove_dir_all(&nodes);
        let _ = std::fs::remove_dir(&dir);
        assert!(libc::WIFEXITED(status), "child status {status}");
        assert_eq!(
            libc::WEXITSTATUS(status),
            0,
            "10/11: could not join or mknod; 12: /dev/zero's numbers were not denied; 13: /dev/null's were"
        );
    }
}
