//! CRI test client for tong (see tests/clients/cri.sh, which sets up a private
//! containerd with its CRI plugin and runs one scenario per process).
//!
//! Usage:
//!   tong-cri-test list                 the scenario names, one a line
//!   tong-cri-test scenario NAME        run one: exit 0 pass, 1 fail, 77 skip; the
//!                                      reason is the last stdout line, notes go
//!                                      to stderr as "# ..." lines
//!   tong-cri-test cleanup              stop and remove every pod sandbox
//!   tong-cri-test status               Version and Status (verbose) as JSON
//!   tong-cri-test idmap-probe DIR      can DIR's filesystem be idmapped here?
//!
//! The scenario environment comes from TGCRI_* variables (see `env::Env`).

mod bundle;
mod cri;
mod env;
mod scenarios;
mod stream;

use std::process::ExitCode;

/// What a scenario ends with besides success.
pub enum Outcome {
    Fail(String),
    Skip(String),
}

/// A scenario step: `Err` stops the scenario with that outcome.
pub type Res<T = ()> = Result<T, Outcome>;

/// `fail!("...")`: end the scenario as failed.
#[macro_export]
macro_rules! fail {
    ($($a:tt)*) => { return Err($crate::Outcome::Fail(format!($($a)*))) };
}

/// `skip!("...")`: end the scenario as skipped, with the reason.
#[macro_export]
macro_rules! skip {
    ($($a:tt)*) => { return Err($crate::Outcome::Skip(format!($($a)*))) };
}

/// `ensure!(cond, "...")`: fail unless cond.
#[macro_export]
macro_rules! ensure {
    ($c:expr, $($a:tt)*) => { if !$c { $crate::fail!($($a)*) } };
}

/// Turns any displayable error into a failure that says what was being done.
pub trait Context<T> {
    fn ctx(self, what: &str) -> Res<T>;
}

impl<T, E: std::fmt::Display> Context<T> for Result<T, E> {
    fn ctx(self, what: &str) -> Res<T> {
        self.map_err(|e| Outcome::Fail(format!("{what}: {e}")))
    }
}

/// A note printed with the test's output (stderr, "# " prefixed).
pub fn note(msg: &str) {
    for l in msg.lines() {
        eprintln!("# {l}");
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: tong-cri-test list | scenario NAME | cleanup | status | idmap-probe DIR");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = args.first().map(String::as_str).unwrap_or("");
    match cmd {
        "list" => {
            for s in scenarios::SCENARIOS {
                println!("{s}");
            }
            ExitCode::SUCCESS
        }
        "idmap-probe" if args.len() == 2 => {
            match tong_testkit::mountprobe::idmap(std::path::Path::new(&args[1])) {
                Ok(()) => {
                    println!("supported");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    println!("{e}");
                    ExitCode::from(1)
                }
            }
        }
        "scenario" | "cleanup" | "status" => {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("tokio: {e}");
                    return ExitCode::from(2);
                }
            };
            match cmd {
                "scenario" if args.len() == 2 => rt.block_on(scenarios::run(&args[1])),
                "cleanup" => rt.block_on(scenarios::cleanup_all()),
                "status" => rt.block_on(scenarios::print_status()),
                _ => usage(),
            }
        }
        _ => usage(),
    }
}
