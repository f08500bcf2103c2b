//! /proc/self/mountinfo, parsed in one pass. The rootfs setup reads it once
//! when it starts (our own mounts all land inside the rootfs, so what later
//! steps take from it, the mount holding the rootfs and the host's cgroup
//! hierarchies, stays valid throughout); the cgroup code once per command.

use anyhow::{Context, Result};
use std::io::Read;
use std::path::PathBuf;

pub struct MountEntry {
    /// The filesystem's device ("0:30"): one per cgroup hierarchy.
    pub dev: String,
    pub mountpoint: PathBuf,
    /// A shared peer group ("shared:N" among the optional fields).
    pub shared: bool,
    pub fstype: String,
    pub super_opts: String,
}

pub fn read() -> Result<Vec<MountEntry>> {
    Ok(parse(
        &read_proc("/proc/self/mountinfo").context("read mountinfo")?,
    ))
}

pub fn parse(text: &str) -> Vec<MountEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = left.split_whitespace().collect();
        let mut r = right.split_whitespace();
        let (Some(dev), Some(mp), Some(fstype), _, Some(super_opts)) =
            (fields.get(2), fields.get(4), r.next(), r.next(), r.next())
        else {
            continue;
        };
        out.push(MountEntry {
            dev: dev.to_string(),
            mountpoint: PathBuf::from(unescape(mp)),
            shared: fields.iter().skip(6).any(|f| f.starts_with("shared:")),
            fstype: fstype.to_string(),
            super_opts: super_opts.to_string(),
        });
    }
    out
}

/// The kernel writes space, tab, newline and backslash in paths as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match oct {
            Some(d) if b[i] == b'\\' => {
                out.push(d.iter().fold(0u8, |n, c| n.wrapping_mul(8) + (c - b'0')));
                i += 4;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A small /proc file: one read into a buffer big enough for it, and the one
/// that sees the end (not std's doubling from 32 bytes, a syscall per step).
pub fn read_proc(path: &str) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match f.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    String::from_utf8(buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_and_escapes() {
        let m = parse(
            "43 42 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n\
             50 48 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n\
             60 43 0:40 / /tmp/a\\040b rw master:3 - tmpfs tmpfs rw\n\
             garbage\n",
        );
        assert_eq!(m.len(), 3);
        assert!(m[0].shared && !m[1].shared && !m[2].shared);
        assert_eq!(m[1].mountpoint, PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(m[1].fstype, "cgroup");
        assert_eq!(m[1].dev, "0:30");
        assert_eq!(m[1].super_opts, "rw,cpu,cpuacct");
        assert_eq!(m[2].mountpoint, PathBuf::from("/tmp/a b"));
        assert_eq!(unescape("a\\134b\\011\\0"), "a\\b\t\\0");
    }

    #[test]
    fn reads_a_proc_file_whole() {
        let s = read_proc("/proc/self/mountinfo").unwrap();
        assert!(s.ends_with('\n') && s.contains(" - "));
    }
}
