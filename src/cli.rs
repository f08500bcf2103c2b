//! The command line, as plain clap data: runc's global flags and commands.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "tong",
    about = "tong: an OCI container runtime, runc-compatible",
    disable_version_flag = true
)]
pub struct Cli {
    /// Directory for the containers' state (default /run/tong as root)
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Append errors and debug lines to this file instead of stderr only
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Format of the --log file
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log every step
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use systemd to manage cgroups (not available without systemd)
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Path of the criu binary for checkpoint and restore (default: criu in PATH)
    #[arg(long, global = true, value_name = "PATH")]
    pub criu: Option<PathBuf>,
    /// Accepted for runc compatibility ("true", "false" or "auto")
    #[arg(long = "rootless", id = "global_rootless", value_name = "VALUE")]
    pub rootless: Option<String>,
    /// Print the version
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container; its process waits for `start`
    Create(CreateArgs),
    /// Run the user process of a created container
    Start(IdArg),
    /// Create and start a container
    Run(RunArgs),
    /// Print the state of a container as JSON
    State(IdArg),
    /// Send a signal to the container's init (or all its processes)
    Kill(KillArgs),
    /// Delete a container and everything it holds
    Delete(DeleteArgs),
    /// List the containers
    #[command(alias = "ls")]
    List(ListArgs),
    /// Write a default config.json
    Spec(SpecArgs),
    /// Run a new process inside a container
    Exec(ExecArgs),
    /// List the processes of a container
    Ps(PsArgs),
    /// Freeze every process of a container
    Pause(IdArg),
    /// Thaw a paused container
    Resume(IdArg),
    /// Change a container's cgroup resources
    Update(UpdateArgs),
    /// Print container events and statistics as JSON
    Events(EventsArgs),
    /// Print what this build of tong supports (runtime-spec features JSON)
    Features,
    /// Print a shell completion script for bash, zsh or fish
    Completion(CompletionArgs),
    /// Checkpoint a running container with CRIU
    Checkpoint(CheckpointArgs),
    /// Restore a container from a CRIU checkpoint
    Restore(RestoreArgs),
}

/// What `checkpoint` and `restore` share (runc's criuOptions).
#[derive(Args, Debug, Clone)]
pub struct CriuArgs {
    /// Directory of the CRIU image files (default: ./checkpoint)
    #[arg(long, value_name = "DIR")]
    pub image_path: Option<PathBuf>,
    /// Directory for CRIU's work files and logs (default: the image path)
    #[arg(long, value_name = "DIR")]
    pub work_path: Option<PathBuf>,
    /// Allow open TCP connections
    #[arg(long)]
    pub tcp_established: bool,
    /// Allow external unix sockets
    #[arg(long)]
    pub ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long)]
    pub shell_job: bool,
    /// Handle file locks, for safety
    #[arg(long)]
    pub file_locks: bool,
    /// Use userfaultfd to restore memory pages lazily
    #[arg(long)]
    pub lazy_pages: bool,
    /// cgroups mode: soft|full|strict|ignore (default: soft)
    #[arg(long, value_name = "MODE")]
    pub manage_cgroups_mode: Option<String>,
    /// Make a namespace but do not restore its properties (network only)
    #[arg(long, value_name = "NS")]
    pub empty_ns: Vec<String>,
    /// Deduplicate memory images
    #[arg(long)]
    pub auto_dedup: bool,
}

#[derive(Args, Debug)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Previous images (a pre-dump), relative to the image path
    #[arg(long, value_name = "DIR")]
    pub parent_path: Option<PathBuf>,
    /// Leave the container running after the checkpoint
    #[arg(long)]
    pub leave_running: bool,
    /// Skip in-flight TCP connections
    #[arg(long)]
    pub tcp_skip_in_flight: bool,
    /// Allow files unlinked but open to be dumped (link remap)
    #[arg(long)]
    pub link_remap: bool,
    /// CRIU writes \0 to this fd once the lazy-pages server is ready
    #[arg(long, value_name = "FD", default_value_t = -1, allow_negative_numbers = true)]
    pub status_fd: i32,
    /// ADDRESS:PORT of a CRIU page server
    #[arg(long, value_name = "ADDRESS:PORT")]
    pub page_server: Option<String>,
    /// Dump the memory only and leave the container running
    #[arg(long)]
    pub pre_dump: bool,
    /// Container id
    pub id: String,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Path to the bundle (default: current directory)
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// Do not wait for the restored container
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the restored init's pid to
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master when process.terminal is set
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Do not become a subreaper for the restored processes
    #[arg(long)]
    pub no_subreaper: bool,
    /// Accepted for runc compatibility (CRIU restores the root itself)
    #[arg(long)]
    pub no_pivot: bool,
    /// LSM profile for the restored processes, TYPE:NAME
    #[arg(long, value_name = "TYPE:NAME")]
    pub lsm_profile: Option<String>,
    /// LSM mount context for the restored mounts
    #[arg(long, value_name = "CONTEXT")]
    pub lsm_mount_context: Option<String>,
    /// Container id
    pub id: String,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// A JSON process (runtime-spec Process) to run instead of ARGS
    #[arg(short, long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Do not wait for the process
    #[arg(short, long)]
    pub detach: bool,
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Working directory in the container
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Extra environment variables (KEY=VALUE)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// UID[:GID], numeric only
    #[arg(short, long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// Additional groups
    #[arg(short = 'g', long, value_name = "GID")]
    pub additional_gids: Vec<u32>,
    /// Add a capability (CAP_X)
    #[arg(short, long, value_name = "CAP")]
    pub cap: Vec<String>,
    /// Set no_new_privileges
    #[arg(long)]
    pub no_new_privs: bool,
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Unix socket that receives a pidfd of the exec'd process
    #[arg(long, value_name = "PATH")]
    pub pidfd_socket: Option<PathBuf>,
    /// AppArmor profile (ignored where AppArmor is not enabled)
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,
    /// SELinux label (ignored where SELinux is not enabled)
    #[arg(long, value_name = "LABEL")]
    pub process_label: Option<String>,
    /// Run in a sub-cgroup of the container: PATH or CONTROLLER:PATH
    #[arg(long, value_name = "[CTRL:]PATH")]
    pub cgroup: Vec<String>,
    /// Allow exec into a paused container
    #[arg(long)]
    pub ignore_paused: bool,
    pub id: String,
    /// Command and arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// select one of: table or json (read after the container is found, as runc)
    #[arg(short, long, default_value = "table")]
    pub format: String,
    pub id: String,
    /// Arguments for ps(1)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// LinuxResources JSON from FILE, or - for stdin
    #[arg(short, long, value_name = "FILE")]
    pub resources: Option<PathBuf>,
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Accepted and ignored (runc 1.2 dropped kernel memory limits)
    #[arg(long, allow_hyphen_values = true, hide = true)]
    pub kernel_memory: Option<String>,
    #[arg(long, allow_hyphen_values = true, hide = true)]
    pub kernel_memory_tcp: Option<String>,
    /// CPU shares (relative weight); runc's spelling, --cpu-shares also accepted
    #[arg(long = "cpu-share", alias = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    #[arg(long)]
    pub cpu_period: Option<u64>,
    #[arg(long, allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    #[arg(long)]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    #[arg(long, allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    #[arg(long)]
    pub l3_cache_schema: Option<String>,
    #[arg(long)]
    pub mem_bw_schema: Option<String>,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Print one stats event and exit
    #[arg(long)]
    pub stats: bool,
    /// Interval between stats events
    #[arg(long, default_value = "5s")]
    pub interval: String,
    pub id: String,
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Path to the bundle (default: current directory)
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// File to write the init's pid to
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master when process.terminal is set
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Use MS_MOVE and chroot instead of pivot_root
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not create a new session keyring
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass this many extra fds (from 3) to the container
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Unix socket that receives a pidfd of the container's init
    #[arg(long, value_name = "PATH")]
    pub pidfd_socket: Option<PathBuf>,
    /// Container id
    pub id: String,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Detach from the container's process
    #[arg(short, long)]
    pub detach: bool,
    /// Do not delete the container after it exits
    #[arg(long)]
    pub keep: bool,
    /// Do not become a subreaper (tong's run never is one: accepted for runc compatibility)
    #[arg(long)]
    pub no_subreaper: bool,
}

#[derive(Args, Debug)]
pub struct IdArg {
    pub id: String,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal every process of the container
    #[arg(short, long)]
    pub all: bool,
    pub id: String,
    /// Signal name or number (default SIGTERM)
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Kill the container if it is running
    #[arg(short, long)]
    pub force: bool,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only print the ids
    #[arg(short, long)]
    pub quiet: bool,
    #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct SpecArgs {
    /// Directory to write config.json in
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// A spec for a rootless container (user namespace, no cgroup resources)
    #[arg(long)]
    pub rootless: bool,
}

#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// The subcommand named by argv, found without clap: the global flags that
/// take a value are skipped with it. `None` when the line is anything but
/// plain (help, version, `--`, a short flag), so a caller must treat `None`
/// as "unknown", never as "not a container command".
pub fn subcommand_name(args: &[std::ffi::OsString]) -> Option<&str> {
    const VALUED: [&str; 5] = ["--root", "--log", "--log-format", "--rootless", "--criu"];
    let mut rest = args.iter().skip(1).map(|a| a.to_str());
    while let Some(arg) = rest.next() {
        let arg = arg?;
        if !arg.starts_with('-') {
            return Some(arg);
        }
        if VALUED.contains(&arg) {
            rest.next()?;
        } else if arg == "--" || !arg.starts_with("--") || ["--help", "--version"].contains(&arg) {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::subcommand_name;

    fn name(line: &str) -> Option<String> {
        let args: Vec<_> = line.split(' ').map(Into::into).collect();
        subcommand_name(&args).map(str::to_string)
    }

    #[test]
    fn finds_the_subcommand_past_global_flags() {
        assert_eq!(name("tong run x").as_deref(), Some("run"));
        assert_eq!(
            name("tong --root /r --log /l --log-format json create --bundle b x").as_deref(),
            Some("create")
        );
        assert_eq!(
            name("tong --root=/r --debug --systemd-cgroup exec x true").as_deref(),
            Some("exec")
        );
        // A value that looks like a command is a value.
        assert_eq!(name("tong --root run state x").as_deref(), Some("state"));
        assert_eq!(name("tong --rootless true run x").as_deref(), Some("run"));
    }

    #[test]
    fn unsure_lines_are_none() {
        for line in [
            "tong",
            "tong -v",
            "tong --version",
            "tong -h run",
            "tong --help",
            "tong -- run",
            "tong --root",
        ] {
            assert_eq!(name(line), None, "{line}");
        }
    }
}
