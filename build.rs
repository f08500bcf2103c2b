//! Link-time layout of the tong binary, for a smaller resident set (see
//! docs/bench/NOTES.md, "Peak RSS"). Only tong's own binaries are affected.
//!
//! - `-z pack-relative-relocs`: a static-pie relocates itself at start-up;
//!   RELR packs its ~12 000 relative relocations into ~4 KiB instead of the
//!   280 KiB of `.rela.dyn` that every start read. Needs glibc ≥ 2.36.
//! - `--symbol-ordering-file=link/hot-symbols.txt`: the functions a lifecycle
//!   run executes (recorded by `hack/order-symbols`) are laid out first and
//!   together, so the kernel's 64 KiB fault-around maps those pages and not
//!   the whole 3 MiB of text. A stale list is harmless (unknown names are
//!   skipped); it only packs less.
//!
//! Both need the linker rustc uses by default on x86_64-unknown-linux-gnu
//! since 1.90 (LLD). `TONG_PLAIN_LINK=1` turns them off; `TONG_LINK_MAP=PATH`
//! writes the linker's map (symbol addresses of the stripped binary), which
//! `hack/order-symbols` reads.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=link/hot-symbols.txt");
    println!("cargo:rerun-if-env-changed=TONG_PLAIN_LINK");
    println!("cargo:rerun-if-env-changed=TONG_LINK_MAP");

    if let Ok(map) = std::env::var("TONG_LINK_MAP") {
        println!("cargo:rustc-link-arg-bins=-Wl,-Map={map}");
    }
    if std::env::var_os("TONG_PLAIN_LINK").is_some() || !lld_by_default() {
        return;
    }
    if glibc_at_least(2, 36) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    let order = concat!(env!("CARGO_MANIFEST_DIR"), "/link/hot-symbols.txt");
    if std::path::Path::new(order).exists() {
        println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={order}");
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// rustc links x86_64-unknown-linux-gnu with its bundled LLD from 1.90 on.
fn lld_by_default() -> bool {
    if std::env::var("TARGET").as_deref() != Ok("x86_64-unknown-linux-gnu") {
        return false;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Some(v) = output(&rustc, &["--version"]) else {
        return false;
    };
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    let minor = v
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.split('.').nth(1));
    minor
        .and_then(|m| m.parse::<u32>().ok())
        .is_some_and(|m| m >= 90)
}

/// The glibc the binary is linked against (the build host's: tong is built
/// natively, see .cargo/config.toml).
fn glibc_at_least(major: u32, minor: u32) -> bool {
    let Some(v) = output("getconf", &["GNU_LIBC_VERSION"]) else {
        return false;
    };
    // "glibc 2.36"
    let mut parts = v.split_whitespace().nth(1).unwrap_or("").split('.');
    let num = |p: Option<&str>| p.and_then(|s| s.parse::<u32>().ok()).unwrap_or(0);
    (num(parts.next()), num(parts.next())) >= (major, minor)
}

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
