//! tong: an OCI container runtime with runc's command line.

mod argv;
mod bundle;
mod caps;
mod cgroups;
mod cli;
mod commands;
mod container;
mod criu;
mod exeseal;
mod failpoint;
mod foreground;
#[cfg(test)]
mod fuzz;
mod hooks;
mod logging;
mod mountinfo;
mod namespaces;
mod netdev;
mod notify;
mod passwd;
mod paths;
mod pidfd_socket;
mod process;
mod resctrl;
mod rootfs;
mod rootless;
mod safe_fs;
mod signals;
mod start_socket;
mod state;
mod status;
mod sync;
mod tty;
mod usage;
mod version;

use clap::Parser;
use cli::{Cli, Command};
use commands::Global;

/// println! that ends quietly on a closed stdout instead of panicking.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

fn main() {
    #[cfg(feature = "failpoints")]
    failpoint::init();
    // Create, run and exec re-exec from a sealed view of the binary
    // (exeseal). Deciding that from argv, before clap builds its command
    // tree, spares the first image all but libc's start-up. A failure is
    // reported below, once logging is set up.
    let args = argv::normalize(std::env::args_os().collect());
    let early_seal = matches!(cli::subcommand_name(&args), Some("create" | "run" | "exec"))
        .then(exeseal::ensure_sealed);
    // Help and usage errors look like runc's (usage.rs), not clap's.
    usage::handle_help(&args);
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            logging::init(None, cli::LogFormat::Text, false, 3);
            usage::parse_error(e, &args)
        }
    };
    logging::init(
        cli.log.clone(),
        cli.log_format,
        cli.debug,
        first_free_fd(&cli),
    );
    if let Some(p) = &cli.criu {
        criu::set_binary(p.clone());
    }
    if cli.version {
        version::print();
        return;
    }
    let Some(command) = cli.command else {
        use clap::CommandFactory;
        let _ = Cli::command().print_help();
        std::process::exit(1);
    };
    // runc's exec exits 255 on its own failures, so they can't be mistaken for
    // the process's exit code 1.
    let fail_code = if matches!(command, Command::Exec(_)) {
        255
    } else {
        1
    };
    logging::report_panics(fail_code);
    // Only the commands whose processes enter a container pay for the copy.
    if matches!(
        command,
        Command::Create(_) | Command::Run(_) | Command::Exec(_)
    ) {
        // The early result, or the check now if argv could not tell.
        if let Err(e) = early_seal.unwrap_or_else(exeseal::ensure_sealed) {
            logging::error(&format!("{e:#}"));
            std::process::exit(fail_code);
        }
    }
    let g = Global {
        root: cli.root.clone().unwrap_or_else(paths::default_root),
        systemd_cgroup: cli.systemd_cgroup,
        rootless: cli.rootless.clone(),
    };
    // runc names the command that failed for create, run and exec.
    let prefix = match &command {
        Command::Create(_) => "tong create failed: ",
        Command::Run(_) => "tong run failed: ",
        Command::Exec(_) => "exec failed: ",
        _ => "",
    };
    match dispatch(&g, command) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            logging::error(&format!("{prefix}{e:#}"));
            std::process::exit(fail_code);
        }
    }
}

fn dispatch(g: &Global, command: Command) -> anyhow::Result<i32> {
    use commands::*;
    match command {
        Command::Create(a) => create::create(g, &a).map(|_| 0),
        Command::Start(a) => start::start(&g.root, &a.id).map(|_| 0),
        Command::Run(a) => run::run(g, &a),
        Command::State(a) => state::state(&g.root, &a.id).map(|_| 0),
        Command::Kill(a) => kill::kill(&g.root, &a.id, &a.signal, a.all).map(|_| 0),
        Command::Delete(a) => delete::delete(&g.root, &a.id, a.force).map(|_| 0),
        Command::List(a) => list::list(&g.root, a.quiet, a.format).map(|_| 0),
        Command::Spec(a) => spec::spec(&a.bundle, a.rootless).map(|_| 0),
        Command::Exec(a) => exec::exec(g, &a),
        Command::Ps(a) => ps::ps(&g.root, &a.id, &a.format, &a.ps_args).map(|_| 0),
        Command::Pause(a) => pause::pause(&g.root, &a.id, true).map(|_| 0),
        Command::Resume(a) => pause::pause(&g.root, &a.id, false).map(|_| 0),
        Command::Update(a) => update::update(&g.root, &a).map(|_| 0),
        Command::Events(a) => events::events(&g.root, &a.id, a.stats, &a.interval).map(|_| 0),
        Command::Features => features::features().map(|_| 0),
        Command::Completion(a) => completion::completion(a.shell).map(|_| 0),
        Command::Checkpoint(a) => checkpoint::checkpoint(g, &a).map(|_| 0),
        Command::Restore(a) => restore::restore(g, &a),
    }
}

/// The lowest fd tong may open for itself and hold: 3.. up to it are the
/// caller's fds that the container's process gets.
fn first_free_fd(cli: &Cli) -> u32 {
    use crate::container::listen_fds;
    let passed = match &cli.command {
        Some(cli::Command::Create(a)) => a.preserve_fds.saturating_add(listen_fds()),
        Some(cli::Command::Run(a)) => a.create.preserve_fds.saturating_add(listen_fds()),
        Some(cli::Command::Exec(a)) => a.preserve_fds,
        _ => 0,
    };
    passed.saturating_add(3)
}
