//! Link-time layout of the tong binary, for a smaller resident set (see
//! docs/bench/NOTES.md, "Peak RSS"). Only tong's own binaries are affected.
//!
//! - `-z pack-relative-relocs`: only a position-independent build has
//!   relative relocations (the default is a fixed-address executable, see
//!   .cargo/config.toml); for a static-pie RELR packs its ~12 000 into ~4 KiB
//!   instead of the 280 KiB of `.rela.dyn` every start reads. Needs glibc ≥ 2.36.
//! - `link/hot-symbols.txt`: the functions a lifecycle runs (recorded by
//!   `hack/order-symbols`) are laid out first and together (see
//!   `hot_layout`), so the kernel's 64 KiB fault-around maps those pages and
//!   not the whole 3 MiB of text. A stale list is harmless (unknown names
//!   match nothing); it only packs less.
//!
//! It also gives `tong --version` its `commit:` and `rustc:` lines (see
//! `version_info`).
//!
//! The link layout needs the linker rustc uses by default on x86_64-unknown-linux-gnu
//! since 1.90 (LLD). `TONG_PLAIN_LINK=1` turns them off; `TONG_LINK_MAP=PATH`
//! writes the linker's map (symbol addresses of the stripped binary), which
//! `hack/order-symbols` reads.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=link/hot-symbols.txt");
    println!("cargo:rerun-if-env-changed=TONG_PLAIN_LINK");
    println!("cargo:rerun-if-env-changed=TONG_LINK_MAP");
    let rustc_version = rustc_version();
    version_info(&rustc_version);

    if let Ok(map) = std::env::var("TONG_LINK_MAP") {
        println!("cargo:rustc-link-arg-bins=-Wl,-Map={map}");
    }
    if std::env::var_os("TONG_PLAIN_LINK").is_some() || !lld_by_default(&rustc_version) {
        return;
    }
    if glibc_at_least(2, 36) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    let list = concat!(env!("CARGO_MANIFEST_DIR"), "/link/hot-symbols.txt");
    if let Ok(text) = std::fs::read_to_string(list) {
        let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
        let (script, c_order) = hot_layout(&text);
        let script_path = out.join("hot-text.ld");
        let order_path = out.join("hot-c-symbols.txt");
        std::fs::write(&script_path, script).expect("write hot-text.ld");
        std::fs::write(&order_path, c_order).expect("write hot-c-symbols.txt");
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script_path.display());
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order_path.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// The hot list as a linker script that gathers the Rust functions, in the
/// list's order, into `.text.hot` just before `.text`, plus a symbol
/// ordering for glibc's functions, which then open `.text`.
///
/// Why a script: a Rust symbol names its crates by a hash of their build
/// (`Cs<hash>_`, v0 mangling), which changes with the features a build
/// unifies: `cargo build`, `cargo build --workspace` and `cargo test` each
/// link a differently named tong. Input-section patterns can leave those
/// hashes out, and the back-references whose offsets they shift.
/// glibc's names have no hash.
fn hot_layout(list: &str) -> (String, String) {
    let mut script = String::from("SECTIONS\n{\n  .text.hot :\n  {\n");
    let mut c_order = String::new();
    for name in list.lines().map(str::trim) {
        if name.is_empty() || name.starts_with('#') {
            continue;
        }
        if !name.starts_with("_R") {
            c_order.push_str(name);
            c_order.push('\n');
            continue;
        }
        let pattern = v0_pattern(name);
        script.push_str(&format!(
            "    *(.text.{pattern} .text.unlikely.{pattern})\n"
        ));
    }
    script.push_str("  }\n}\nINSERT BEFORE .text;\n");
    (script, c_order)
}

/// A v0 symbol with every crate disambiguator (`Cs<base62>_`) and
/// back-reference (`B<base62>_`) turned into a wildcard. The same bytes may
/// also occur inside an identifier; the pattern is then a little wider.
fn v0_pattern(name: &str) -> String {
    let b = name.as_bytes();
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while i < b.len() {
        let (tag, skip) = match (b[i], b.get(i + 1)) {
            (b'C', Some(b's')) => ("Cs*_", 2),
            (b'B', _) => ("B*_", 1),
            _ => ("", 0),
        };
        if skip > 0 {
            let digits = b[i + skip..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric())
                .count();
            if b.get(i + skip + digits) == Some(&b'_') {
                out.push_str(tag);
                i += skip + digits + 1;
                continue;
            }
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

/// rustc links x86_64-unknown-linux-gnu with its bundled LLD from 1.90 on.
fn lld_by_default(rustc_version: &str) -> bool {
    if std::env::var("TARGET").as_deref() != Ok("x86_64-unknown-linux-gnu") {
        return false;
    }
    rustc_version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse::<u32>().ok())
        .is_some_and(|m| m >= 90)
}

/// "1.95.0" from "rustc 1.95.0 (59807616e 2026-04-14)"; empty if unknown.
fn rustc_version() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    output(&rustc, &["--version"])
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_default()
}

/// `TONG_COMMIT` for `--version`: `git describe --always --dirty --long` of
/// the checkout (runc's form, `v1.1.5-0-gf19387a6`; the bare hash before the
/// first tag), `$TONG_COMMIT` when a packager sets it (a build from a
/// tarball), or "unknown". The script reruns when HEAD moves (a commit, a
/// checkout, a tag), never on every build: it watches HEAD, the branch HEAD
/// names, refs/tags and packed-refs, not the work tree, so "-dirty" tells the
/// state of the last build that ran it.
fn version_info(rustc_version: &str) {
    println!("cargo:rerun-if-env-changed=TONG_COMMIT");
    let rustc = if rustc_version.is_empty() {
        "unknown"
    } else {
        rustc_version
    };
    println!("cargo:rustc-env=TONG_RUSTC_VERSION={rustc}");
    let commit = match std::env::var("TONG_COMMIT") {
        Ok(c) if !c.is_empty() => c,
        _ => git_commit().unwrap_or_else(|| "unknown".into()),
    };
    println!("cargo:rustc-env=TONG_COMMIT={commit}");
}

fn git_commit() -> Option<String> {
    let dir = std::env::var("CARGO_MANIFEST_DIR").ok()?;
    let git = |args: &[&str]| {
        let mut all = vec!["-C", &dir];
        all.extend_from_slice(args);
        output("git", &all).filter(|s| !s.is_empty())
    };
    // Paths git prints are relative to `dir` unless absolute.
    // A missing path would make cargo rerun the script on every build.
    let watch = |rel: &str| {
        let path = std::path::Path::new(&dir).join(rel);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    };
    let describe = git(&["describe", "--always", "--dirty", "--long"])?;
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        watch(&head);
    }
    // The branch and the tags, loose or packed (git gc moves them there).
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    for r in branch
        .iter()
        .map(String::as_str)
        .chain(["refs/tags", "packed-refs"])
    {
        if let Some(path) = git(&["rev-parse", "--git-path", r]) {
            watch(&path);
        }
    }
    Some(describe)
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
