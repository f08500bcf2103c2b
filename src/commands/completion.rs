//! `completion SHELL`: the shell completion script, generated from the same
//! clap definitions the command line is parsed with (cold code: only this
//! command reaches it).

use crate::cli::{Cli, Shell};
use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::shells::{Bash, Fish, Zsh};
use std::io::Write;

pub fn completion(shell: Shell) -> Result<()> {
    let mut cmd = Cli::command();
    // Into memory first: clap_complete panics on a failed write, and a
    // closed pipe (`tong completion bash | head`) must not be a panic.
    let mut script = Vec::new();
    match shell {
        Shell::Bash => clap_complete::generate(Bash, &mut cmd, "tong", &mut script),
        Shell::Zsh => clap_complete::generate(Zsh, &mut cmd, "tong", &mut script),
        Shell::Fish => clap_complete::generate(Fish, &mut cmd, "tong", &mut script),
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("write the completion script"),
    }
}
