//! Print the BPF program compiled from an OCI `linux.seccomp` JSON file.
//!
//! `cargo run -p tong-seccomp --example dump -- PROFILE.json`

fn main() {
    let path = std::env::args().nth(1).expect("usage: dump PROFILE.json");
    let cfg: oci_spec::runtime::LinuxSeccomp =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let f = tong_seccomp::compile(&cfg).unwrap();
    for (i, ins) in f.program().iter().enumerate() {
        println!(
            "{i:4}: code={:#04x} jt={:3} jf={:3} k={:#010x}",
            ins.code, ins.jt, ins.jf, ins.k
        );
    }
}
