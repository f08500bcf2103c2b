//! `tong --version`, in runc's layout: the version, the commit it was built
//! from, the runtime-spec version, the toolchain, then what this build can do
//! (runc's last line names the libseccomp it links).

/// The runtime-spec version tong implements; `features` reports it too.
pub const SPEC: &str = "1.2.0";

/// The parts of a runtime that a build may lack. `--version` and `features`
/// both read these, so the two never disagree; the cgroup drivers are the
/// cgroups module's own table.
pub const SYSTEMD_CGROUP: bool = crate::cgroups::SUPPORT.systemd;
pub const CHECKPOINT: bool = true;

pub fn print() {
    let has = |yes: bool| if yes { "built in" } else { "not built in" };
    crate::outln!(
        "tong version {}\ncommit: {}\nspec: {SPEC}\nrustc: {}\nseccomp: built in (tong-seccomp)\nsystemd: {}\ncriu: {}",
        env!("CARGO_PKG_VERSION"),
        env!("TONG_COMMIT"),
        env!("TONG_RUSTC_VERSION"),
        has(SYSTEMD_CGROUP),
        if CHECKPOINT {
            crate::criu::located()
        } else {
            has(false).to_string()
        },
    );
}
