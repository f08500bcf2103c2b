//! The prose of each man page beyond what clap knows: README.md's tables, the
//! exit codes, the environment and the files. `` `code` `` spans are set in bold.
//! A test checks that every command has an entry here and that no entry names
//! a command that does not exist.

/// The hand-written parts of one page.
#[derive(Default)]
pub struct PageText {
    /// DESCRIPTION paragraphs after clap's one-line summary
    pub description: &'static [&'static str],
    /// (term, text): EXIT STATUS; an empty term is a plain paragraph
    pub exit_status: &'static [(&'static str, &'static str)],
    pub environment: &'static [(&'static str, &'static str)],
    pub files: &'static [(&'static str, &'static str)],
    /// (what it does, the command lines)
    pub examples: &'static [(&'static str, &'static str)],
    /// other pages, "name(section)"
    pub see_also: &'static [&'static str],
}

const ROOT_FILES: &[(&str, &str)] = &[
    STATE_DIR,
    (
        "`$XDG_RUNTIME_DIR/tong/`",
        "The default root of a caller that is not root and has XDG_RUNTIME_DIR set.",
    ),
];

const CONFIG_JSON: (&str, &str) = (
    "BUNDLE`/config.json`",
    "The container's configuration (OCI runtime-spec), read once by `create`; `root.path` names the root filesystem, relative to the bundle.",
);

const STATE_DIR: (&str, &str) = (
    "`/run/tong/`ID`/`",
    "The state directory of container ID under the default root (`--root` changes it): `state.json` (what later commands need: the init's pid and start time, the cgroup path, the hooks, the process template) and, while the container is `created`, `exec.sock`, on which its init waits for `start`.",
);

const FAIL_1: &[(&str, &str)] = &[
    ("0", "Success."),
    (
        "1",
        "Failure; one line on standard error (and in the `--log` file) says what went wrong.",
    ),
];

const LISTEN_FDS: (&str, &str) = (
    "LISTEN_FDS",
    "With `LISTEN_FDS=`N (systemd socket activation) fds 3 to 3+N-1 are passed on to the container, after the `--preserve-fds` ones, and its process gets `LISTEN_FDS=`N and `LISTEN_PID=1`.",
);

const RUNTIMES: &[&str] = &["runc(8)", "crun(1)"];

/// The prose of the page for `command` ("" is tong(8) itself).
pub fn page_text(command: &str) -> PageText {
    match command {
        "" => PageText {
            description: &[
                "tong takes an OCI bundle (a directory with `config.json` and a root filesystem) and runs it as an isolated container. Its command line is runc's: the same commands, flags, exit codes, JSON output and `--log-format json` log lines, so it runs beneath Podman (conmon), containerd (the runc v2 shim) and Docker (through containerd), or by hand.",
                "A container goes through `create` (set up, its init waits), `start` (the user process runs), and `delete` (everything removed); `run` does all three. `state`, `list`, `ps`, `events` inspect it; `kill`, `pause`, `resume`, `update` and `exec` act on it while it runs.",
                "Any failure at any stage removes the cgroups, mounts, state directory and processes that command made, and is reported as one line: on standard error as `time=\"...\" level=error msg=\"...\"` (JSON with `--log-format json`), or, with `--log FILE`, appended to FILE in the chosen format while standard error gets the bare message.",
                "Every field of the runtime spec's Linux configuration is supported; `linux.seccomp` is compiled to BPF by tong itself (no libseccomp). `tong --version` prints what this build can do.",
            ],
            exit_status: &[
                ("0", "Success."),
                ("1", "tong failed (for `run`: before the container's process ran)."),
                (
                    "N",
                    "`run` in the foreground and `exec` without `--detach` exit with the container process's own code, 128+N when a signal N killed it.",
                ),
                ("255", "`exec` failed before its process ran (as runc)."),
                ("2", "A usage error: an unknown command or flag, a missing argument."),
            ],
            environment: &[
                (
                    "XDG_RUNTIME_DIR",
                    "For a caller that is not root, the default root is `$XDG_RUNTIME_DIR/tong` when this is set and not empty. As root it is ignored (conmon passes it empty).",
                ),
                LISTEN_FDS,
            ],
            files: ROOT_FILES,
            examples: &[
                (
                    "Run a container from a bundle in the foreground; tong exits with its exit code:",
                    "tong run --bundle /path/to/bundle mycontainer",
                ),
                (
                    "Create, start and remove a container in steps, as containerd and conmon do:",
                    "tong create --bundle /path/to/bundle --pid-file /run/c1.pid c1\ntong start c1\ntong state c1\ntong kill c1 TERM\ntong delete c1",
                ),
                (
                    "Errors as JSON in a log file (the shim's and conmon's way):",
                    "tong --log /tmp/tong.log --log-format json delete c1",
                ),
                (
                    "Install the bash completion for the current shell:",
                    "source <(tong completion bash)",
                ),
            ],
            see_also: &["runc(8)", "crun(1)", "containerd(8)", "podman(1)", "dockerd(8)"],
        },
        "create" => PageText {
            description: &[
                "Sets the container up from the bundle: namespaces, cgroup and resources, mounts, devices, the process's user, capabilities, rlimits and seccomp filter. Its init then waits for `tong start`; the user process has not run. tong exits 0 once the pid file (`--pid-file`) is written, and the init is reparented to the caller (conmon and containerd's shim are subreapers).",
                "The caller's standard input, output and error become the container's, unless `process.terminal` is set: then the pseudo-terminal's master is sent to `--console-socket` (SCM_RIGHTS). Only fds 0-2, the `--preserve-fds` ones and the `LISTEN_FDS` ones reach the container; every other inherited fd is closed for it.",
                "A failure at any step removes what was made (processes, cgroup, state directory) and reports one line. A missing or non-executable `process.args[0]` fails with runc's words `executable file not found in $PATH`, `no such file or directory` or `permission denied` (Docker turns them into exit codes 127 and 126).",
            ],
            exit_status: FAIL_1,
            environment: &[LISTEN_FDS],
            files: &[CONFIG_JSON, STATE_DIR],
            examples: &[(
                "As containerd's shim calls it:",
                "tong --root /run/containerd/runc/default --log /path/log.json --log-format json \\\n    create --bundle /path/to/bundle --pid-file /path/init.pid c1",
            )],
            see_also: RUNTIMES,
        },
        "start" => PageText {
            description: &[
                "Runs the user process of a `created` container (its init executes `process.args`), then the poststart hooks. It fails for a container that is not `created`.",
            ],
            exit_status: FAIL_1,
            files: &[STATE_DIR],
            see_also: RUNTIMES,
            ..Default::default()
        },
        "run" => PageText {
            description: &[
                "`create` followed by `start`. In the foreground tong forwards the signals it receives to the container, relays a terminal when `process.terminal` is set and no `--console-socket` is given, deletes the container when its process exits (unless `--keep`) and exits with the process's code.",
                "With `--detach` tong exits once the process runs; the container stays until `tong delete`.",
            ],
            exit_status: &[
                ("N", "The container process's exit code; 128+N when a signal N killed it."),
                ("0", "With `--detach`: the process is running."),
                ("1", "tong failed before the process ran; nothing is left behind."),
            ],
            environment: &[LISTEN_FDS],
            files: &[CONFIG_JSON, STATE_DIR],
            examples: &[(
                "A busybox bundle made by hack/mkbundle from tong's sources:",
                "tong run --bundle /tmp/b demo",
            )],
            see_also: RUNTIMES,
        },
        "state" => PageText {
            description: &[
                "Prints the container's state as runc's JSON: `ociVersion`, `id`, `pid`, `status` (`created`, `running`, `paused` or `stopped`; `pid` is 0 once stopped), `bundle`, `rootfs`, `created`, `owner` and `annotations`. The status is derived each time: `stopped` when the init is gone (a zombie, or its pid reused by another process).",
            ],
            exit_status: &[
                ("0", "Success."),
                ("1", "Failure, e.g. `container does not exist`."),
            ],
            files: &[STATE_DIR],
            see_also: RUNTIMES,
            ..Default::default()
        },
        "kill" => PageText {
            description: &[
                "Sends a signal to the container's init, through a pidfd checked against the init's start time (a reused pid is never signalled), or with `--all` to every process in the container's cgroup. SIGNAL is a number or a name, with or without `SIG` (default TERM).",
            ],
            exit_status: &[
                ("0", "The signal was sent; also `kill --all` of a stopped container (containerd sends `kill --all ID 9` to stopped tasks)."),
                ("1", "Failure, e.g. `container not running` for a stopped container without `--all`."),
            ],
            see_also: &["kill(1)", "signal(7)"],
            ..Default::default()
        },
        "delete" => PageText {
            description: &[
                "Removes a stopped or created container: its processes, its cgroup, then runs the poststop hooks and removes the state directory. `--force` kills a running or paused container first (SIGKILL to every process) and succeeds for an id that does not exist, as runc does, so cleanup can always be repeated.",
            ],
            exit_status: &[
                ("0", "The container is gone (with `--force`, also when there was none)."),
                ("1", "Failure, e.g. `container does not exist`, or a running container without `--force`."),
            ],
            files: &[STATE_DIR],
            see_also: RUNTIMES,
            ..Default::default()
        },
        "list" => PageText {
            description: &[
                "Lists the containers under the root as runc's table (ID, PID, STATUS, BUNDLE, CREATED, OWNER) or, with `--format json`, runc's JSON array; `--quiet` prints the ids only.",
            ],
            exit_status: FAIL_1,
            files: ROOT_FILES,
            see_also: RUNTIMES,
            ..Default::default()
        },
        "spec" => PageText {
            description: &[
                "Writes runc's default `config.json` (hostname `tong`, `process.args` `sh` on a terminal) into the bundle directory; it refuses to overwrite one. With `--rootless` the spec has a user namespace that maps the caller's ids to root and no cgroup resources.",
            ],
            exit_status: FAIL_1,
            files: &[CONFIG_JSON],
            see_also: RUNTIMES,
            ..Default::default()
        },
        "exec" => PageText {
            description: &[
                "Runs a new process in every namespace and the cgroup of a running container: ARGS, or the runtime-spec Process in `--process` (as conmon and containerd pass it). The flags add to or override the container's process: environment, working directory, user (`--user` is numeric only), extra groups, capabilities, no_new_privs. `--cgroup` puts it in a sub-cgroup. Without `--detach` tong waits and exits with the process's code; `--tty` without `--console-socket` relays the terminal.",
            ],
            exit_status: &[
                ("N", "Without `--detach`: the process's exit code, 128+N when a signal N killed it."),
                ("0", "With `--detach`: the process is running (its pid is in `--pid-file`)."),
                ("255", "tong failed before the process ran (runc's code, so it cannot be mistaken for the process's own 1)."),
            ],
            examples: &[
                ("A shell in a running container:", "tong exec -t c1 sh"),
                ("As containerd's shim calls it:", "tong exec --process /tmp/process.json --detach --pid-file /path/exec.pid c1"),
            ],
            see_also: RUNTIMES,
            ..Default::default()
        },
        "ps" => PageText {
            description: &[
                "Lists the container's processes: ps(1) run on the host with ARGS (default `-ef`), its rows filtered to the container's cgroup. `--format json` prints their host pids as a JSON array (`docker top` and `ctr task ps` read it).",
            ],
            exit_status: FAIL_1,
            see_also: &["ps(1)"],
            ..Default::default()
        },
        "pause" => PageText {
            description: &[
                "Freezes every process of the container: the freezer controller on cgroup v1, `cgroup.freeze` on cgroup v2. The status becomes `paused` until `tong resume`.",
            ],
            exit_status: FAIL_1,
            see_also: RUNTIMES,
            ..Default::default()
        },
        "resume" => PageText {
            description: &["Thaws a container frozen by `tong pause`."],
            exit_status: FAIL_1,
            see_also: RUNTIMES,
            ..Default::default()
        },
        "update" => PageText {
            description: &[
                "Changes a running container's cgroup resources, from the flags or from a runtime-spec LinuxResources JSON (`--resources FILE`, or `-` for standard input, as `docker update` sends it). A zero or absent value leaves that resource unchanged (Docker sends zeros for what it does not change). Sizes take Docker's units (`512m`, `1g`); `-1` means unlimited.",
            ],
            exit_status: FAIL_1,
            see_also: RUNTIMES,
            ..Default::default()
        },
        "events" => PageText {
            description: &[
                "Prints runc's JSON events for the container on standard output, one per line: a `stats` event (cpu, memory, pids, blkio from the cgroup) every `--interval`, and an `oom` event whenever the cgroup's OOM counter grows, until the container stops. `--stats` prints one stats event and exits.",
            ],
            exit_status: FAIL_1,
            see_also: RUNTIMES,
            ..Default::default()
        },
        "features" => PageText {
            description: &[
                "Prints the runtime-spec features document of this build as JSON: the spec versions, hooks, mount options, namespaces, capabilities, cgroup and seccomp support (containerd 1.7 and later read it).",
            ],
            exit_status: FAIL_1,
            see_also: RUNTIMES,
            ..Default::default()
        },
        "completion" => PageText {
            description: &[
                "Prints a completion script for bash, zsh or fish on standard output, generated from tong's own command-line definitions. The Debian package installs them where each shell looks: `/usr/share/bash-completion/completions/tong`, `/usr/share/zsh/vendor-completions/_tong`, `/usr/share/fish/vendor_completions.d/tong.fish`.",
            ],
            exit_status: FAIL_1,
            examples: &[
                ("For the current bash:", "source <(tong completion bash)"),
                ("For every zsh session of one user (a directory in $fpath):", "tong completion zsh > ~/.zfunc/_tong"),
            ],
            see_also: &["bash(1)", "zsh(1)", "fish(1)"],
            ..Default::default()
        },
        "checkpoint" => PageText {
            description: &[
                "Dumps a running (or paused) container with CRIU, driven through its RPC interface (`criu swrk`), into the image directory (default `./checkpoint`), as runc does: bind mounts, masked files and devices are declared external mounts, a network or pid namespace joined by path is an external namespace, and `descriptors.json` records the init's stdio so `restore` can hand the caller's pipes back. Without `--leave-running` or `--pre-dump` the container's processes are gone afterwards and the container is destroyed, so its id is free for `restore`. A created or stopped container is refused; a failed checkpoint leaves the container running.",
                "CRIU must be in PATH (`tong --version` says where it is); a kernel on which `criu check` fails gives one error line with CRIU's reason.",
            ],
            exit_status: FAIL_1,
            examples: &[
                ("Dump a container and stop it:", "tong checkpoint --image-path /var/lib/ckpt/web web"),
                ("A pre-dump, then the final dump of what changed:", "tong checkpoint --pre-dump --image-path /ckpt/1 web\ntong checkpoint --parent-path ../1 --image-path /ckpt/2 web"),
            ],
            see_also: &["tong-restore(8)", "criu(8)", "runc(8)"],
            ..Default::default()
        },
        "restore" => PageText {
            description: &[
                "Makes a container from a CRIU checkpoint: the same steps as `create` (state directory, cgroup with the bundle's resources, prestart and createRuntime hooks, state with the restored init's pid, `--pid-file`), with CRIU restoring the process tree instead of a new init. With `-d` it returns once the container runs; without it, it waits for the container like `run`, relaying a terminal, and exits with its code. The id may differ from the checkpointed one. A failed restore leaves nothing behind.",
            ],
            exit_status: FAIL_1,
            examples: &[
                ("Restore a checkpoint in the background:", "tong restore -d --image-path /var/lib/ckpt/web -b /bundles/web web"),
            ],
            see_also: &["tong-checkpoint(8)", "criu(8)", "runc(8)"],
            ..Default::default()
        },
        _ => PageText::default(),
    }
}
