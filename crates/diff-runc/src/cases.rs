//! The corpus: every command × container status × flag, help and usage
//! errors, global flags, and config.json variants whose container prints
//! what it sees (ids, caps, limits, mounts, cgroup files) or that must fail.

use crate::case::{Case, Config, Edit, Status, Step, StepKind};
use crate::norm::Norm;
use serde_json::{json, Value};
use std::time::Duration;
use tong_testkit::json::{remove_pointer, set_pointer};

const SLEEP: &[&str] = &["sleep", "1000"];

/// What a probe container prints: who it is, what it may do, what it sees.
pub const PROBE: &str = r#"echo "== id"; id
echo "== host"; hostname; pwd; umask
echo "== env"; env | sort
echo "== status"; grep -E '^(Cap|NoNewPrivs|Seccomp|Groups)' /proc/self/status
echo "== limits"; cat /proc/self/limits
echo "== oom"; cat /proc/self/oom_score_adj
echo "== mounts"; cat /proc/self/mountinfo
echo "== cgroup"; cat /proc/self/cgroup
echo "== cgroup files"
for f in memory/memory.limit_in_bytes memory/memory.soft_limit_in_bytes memory/memory.memsw.limit_in_bytes memory/memory.swappiness pids/pids.max cpu/cpu.shares cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us cpuset/cpuset.cpus blkio/blkio.weight devices/devices.list; do echo "$f: $(cat /sys/fs/cgroup/$f 2>&1 | tr '\n' ' ')"; done
echo "== dev"; ls -ln /dev | awk '{print $1, $3, $4, $5, $6, $NF}'
echo "== net"; ls /sys/class/net
echo "== sysctl"; cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shm_rmid_forced
echo "== fs"; touch /probe-w 2>&1; echo "touch / $?"; mkdir /tmp/probe-d; echo "mkdir $?"
"#;

fn sv(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn step(args: &[&str], norm: Norm) -> Step {
    Step {
        kind: StepKind::Run(sv(args)),
        norm,
        timeout: Duration::from_secs(20),
    }
}

/// A step with a console socket at {dir}/tty.sock; see [`StepKind::Tty`].
fn tty(args: &[&str]) -> Step {
    Step {
        kind: StepKind::Tty(sv(args)),
        norm: Norm::Text,
        timeout: Duration::from_secs(20),
    }
}

/// What a process on a terminal prints: the kind of tty, who owns it and
/// its mode (a user's terminal must be theirs), its size, /dev/console.
const TTY_PROBE: &str = r#"t=$(tty); echo "tty ${t%%[0-9]*}"; stat -c 'owner %u %g mode %a' "$t"; echo "size $(stty size)"; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo "stdio on it"; ls -ln /dev/console | awk '{print "console", $1, $3, $4}'"#;

fn h(args: &[&str]) -> Step {
    step(args, Norm::Help)
}

fn run(args: &[&str]) -> Step {
    step(args, Norm::Text)
}

/// A file the steps wrote; a pid file of a process other than the
/// container's init is normalised to digits.
fn read(path: &str) -> Step {
    Step {
        kind: StepKind::Read(path.into()),
        norm: if path.ends_with("xpid") {
            Norm::Digits
        } else {
            Norm::Text
        },
        timeout: Duration::from_secs(1),
    }
}

fn case(name: String, config: Config, setup: Status, steps: Vec<Step>, state: bool) -> Case {
    Case {
        name,
        config,
        setup,
        steps,
        state_after: state,
        files: Vec::new(),
    }
}

fn sleeper() -> Config {
    Config::Edit(sv(SLEEP), None)
}

fn edited(args: &[&str], e: impl Fn(&mut Value) + Send + Sync + 'static) -> Config {
    Config::Edit(sv(args), Some(Box::new(e) as Edit))
}

/// Commands and flags run against a container in each status.
fn per_status() -> Vec<(&'static str, Vec<Step>)> {
    let t = Norm::Table;
    let d = Norm::Digits;
    vec![
        ("state", vec![run(&["state", "{id}"])]),
        ("start", vec![run(&["start", "{id}"])]),
        ("kill", vec![run(&["kill", "{id}"])]),
        ("kill-KILL", vec![run(&["kill", "{id}", "KILL"])]),
        ("kill-9", vec![run(&["kill", "{id}", "9"])]),
        ("kill-SIGTERM", vec![run(&["kill", "{id}", "SIGTERM"])]),
        ("kill-0", vec![run(&["kill", "{id}", "0"])]),
        ("kill-all", vec![run(&["kill", "--all", "{id}", "KILL"])]),
        ("kill-a-0", vec![run(&["kill", "-a", "{id}", "0"])]),
        ("kill-badsig", vec![run(&["kill", "{id}", "NOTASIG"])]),
        ("kill-sig99", vec![run(&["kill", "{id}", "99"])]),
        ("kill-extra-arg", vec![h(&["kill", "{id}", "KILL", "x"])]),
        ("delete", vec![run(&["delete", "{id}"])]),
        ("delete-force", vec![run(&["delete", "--force", "{id}"])]),
        ("delete-f", vec![run(&["delete", "-f", "{id}"])]),
        ("pause", vec![run(&["pause", "{id}"])]),
        ("resume", vec![run(&["resume", "{id}"])]),
        ("ps", vec![step(&["ps", "{id}"], t)]),
        (
            "ps-json",
            vec![step(&["ps", "--format", "json", "{id}"], d)],
        ),
        ("ps-table", vec![step(&["ps", "-f", "table", "{id}"], t)]),
        ("ps-args", vec![step(&["ps", "{id}", "-o", "pid,comm"], t)]),
        (
            "ps-badformat",
            vec![run(&["ps", "--format", "xml", "{id}"])],
        ),
        ("exec-true", vec![run(&["exec", "{id}", "true"])]),
        (
            "exec-debug",
            vec![
                run(&[
                    "--debug",
                    "--log",
                    "{dir}/log",
                    "--log-format",
                    "json",
                    "exec",
                    "{id}",
                    "echo",
                    "hi",
                ]),
                read("{dir}/log"),
            ],
        ),
        (
            "exec-exit3",
            vec![run(&["exec", "{id}", "sh", "-c", "exit 3"])],
        ),
        ("exec-missing", vec![run(&["exec", "{id}", "/nonexistent"])]),
        ("exec-noargs", vec![run(&["exec", "{id}"])]),
        (
            "exec-env",
            vec![run(&[
                "exec",
                "--env",
                "FOO=bar",
                "--env",
                "X=1",
                "{id}",
                "sh",
                "-c",
                "echo $FOO $X",
            ])],
        ),
        (
            "exec-cwd",
            vec![run(&["exec", "--cwd", "/tmp", "{id}", "pwd"])],
        ),
        (
            "exec-cwd-missing",
            vec![run(&["exec", "--cwd", "/nonexistent", "{id}", "pwd"])],
        ),
        (
            "exec-user",
            vec![run(&["exec", "--user", "1000:1000", "{id}", "id"])],
        ),
        (
            "exec-user-uid",
            vec![run(&["exec", "-u", "65534", "{id}", "id"])],
        ),
        (
            "exec-user-name",
            vec![run(&["exec", "-u", "nobody", "{id}", "id"])],
        ),
        (
            "exec-gids",
            vec![run(&[
                "exec",
                "--user",
                "1000",
                "--additional-gids",
                "5",
                "--additional-gids",
                "7",
                "{id}",
                "id",
            ])],
        ),
        (
            "exec-mixed-flag-forms",
            vec![run(&["exec", "--env", "A=1", "-e", "B=2", "{id}", "true"])],
        ),
        ("exec-detach", vec![run(&["exec", "-d", "{id}", "true"])]),
        (
            "exec-tty-nosock",
            vec![run(&["exec", "-t", "{id}", "true"])],
        ),
        (
            "exec-nnp",
            vec![run(&[
                "exec",
                "--no-new-privs",
                "{id}",
                "grep",
                "NoNewPrivs",
                "/proc/self/status",
            ])],
        ),
        (
            "exec-cap",
            vec![run(&[
                "exec",
                "--cap",
                "CAP_SYS_ADMIN",
                "{id}",
                "grep",
                "Cap",
                "/proc/self/status",
            ])],
        ),
        (
            "exec-badcap",
            vec![run(&["exec", "--cap", "CAP_BOGUS", "{id}", "true"])],
        ),
        (
            "exec-process",
            vec![run(&["exec", "--process", "{dir}/process.json", "{id}"])],
        ),
        (
            "exec-process-missing",
            vec![run(&["exec", "-p", "{dir}/nothere.json", "{id}"])],
        ),
        (
            "exec-pidfile",
            vec![
                run(&["exec", "--pid-file", "{dir}/xpid", "-d", "{id}", "true"]),
                read("{dir}/xpid"),
            ],
        ),
        (
            "exec-preserve-fds",
            vec![run(&[
                "exec",
                "--preserve-fds",
                "2",
                "{id}",
                "ls",
                "/proc/self/fd",
            ])],
        ),
        (
            "exec-badcgroup",
            vec![run(&[
                "exec",
                "--cgroup",
                "nonexistent-sub",
                "{id}",
                "true",
            ])],
        ),
        (
            "events-stats",
            vec![step(&["events", "--stats", "{id}"], d)],
        ),
        (
            "update-memory",
            vec![run(&["update", "--memory", "100M", "{id}"])],
        ),
        (
            "update-pids",
            vec![run(&["update", "--pids-limit", "50", "{id}"])],
        ),
        (
            "update-cpu",
            vec![run(&[
                "update",
                "--cpu-share",
                "512",
                "--cpu-quota",
                "20000",
                "--cpu-period",
                "100000",
                "{id}",
            ])],
        ),
        (
            "update-r",
            vec![run(&["update", "-r", "{dir}/res.json", "{id}"])],
        ),
        (
            "update-bad",
            vec![run(&["update", "--memory", "lots", "{id}"])],
        ),
        ("update-none", vec![run(&["update", "{id}"])]),
        (
            "update-memory-more",
            vec![run(&[
                "update",
                "--memory",
                "200M",
                "--memory-reservation",
                "100M",
                "--memory-swap",
                "300M",
                "{id}",
            ])],
        ),
        (
            "update-cpuset-blkio",
            vec![run(&[
                "update",
                "--cpuset-cpus",
                "0",
                "--cpuset-mems",
                "0",
                "--blkio-weight",
                "500",
                "{id}",
            ])],
        ),
        (
            "update-rt",
            vec![run(&[
                "update",
                "--cpu-rt-period",
                "1000000",
                "--cpu-rt-runtime",
                "0",
                "{id}",
            ])],
        ),
        (
            "update-resctrl",
            vec![run(&[
                "update",
                "--l3-cache-schema",
                "L3:0=f",
                "--mem-bw-schema",
                "MB:0=50",
                "{id}",
            ])],
        ),
        (
            "update-resources-stdin",
            vec![run(&["update", "--resources", "-", "{id}"])],
        ),
        (
            "exec-ignore-paused",
            vec![run(&["exec", "-d", "--ignore-paused", "{id}", "true"])],
        ),
        (
            "exec-apparmor",
            vec![run(&["exec", "--apparmor", "unconfined", "{id}", "true"])],
        ),
        (
            "exec-process-label",
            vec![run(&[
                "exec",
                "--process-label",
                "system_u:system_r:container_t:s0",
                "{id}",
                "true",
            ])],
        ),
        ("list", vec![step(&["list"], t)]),
        ("list-q", vec![run(&["list", "-q"])]),
        ("list-json", vec![run(&["list", "--format", "json"])]),
        (
            "create-dup",
            vec![run(&["create", "--bundle", "{bundle}", "{id}"])],
        ),
        (
            "run-dup",
            vec![run(&["run", "-d", "--bundle", "{bundle}", "{id}"])],
        ),
    ]
}

/// Commands that stream for ever on a live container: only where they end;
/// terminals: only where a process can get one (a failed exec would leave
/// the console socket waiting).
fn per_status_finite(s: Status) -> Vec<(&'static str, Vec<Step>)> {
    let mut v = Vec::new();
    if s == Status::Running {
        let exec_tty = |extra: &[&str]| {
            let mut a = vec!["exec", "-t", "-d", "--console-socket", "{dir}/tty.sock"];
            a.extend_from_slice(extra);
            a.extend_from_slice(&["{id}", "sh", "-c", TTY_PROBE]);
            vec![tty(&a)]
        };
        v.push(("exec-tty", exec_tty(&[])));
        v.push(("exec-tty-user", exec_tty(&["--user", "1000:1000"])));
        v.push((
            "exec-tty-process-size",
            vec![tty(&[
                "exec",
                "-d",
                "--console-socket",
                "{dir}/tty.sock",
                "--process",
                "{dir}/tty-process.json",
                "{id}",
            ])],
        ));
    }
    // Refused before CRIU runs (checkpoint of a container that is not
    // running, restore over an existing id or from a missing image): CRIU
    // itself is tested in the guest (tests/vm/criu.sh).
    if matches!(s, Status::None | Status::Created | Status::Stopped) {
        v.push((
            "checkpoint",
            vec![run(&["checkpoint", "--image-path", "{dir}/img", "{id}"])],
        ));
        v.push((
            "checkpoint-flags",
            vec![run(&[
                "checkpoint",
                "--image-path",
                "{dir}/img",
                "--work-path",
                "{dir}/work",
                "--parent-path",
                "../pre",
                "--leave-running",
                "--tcp-established",
                "--ext-unix-sk",
                "--shell-job",
                "--file-locks",
                "--auto-dedup",
                "--manage-cgroups-mode",
                "soft",
                "--empty-ns",
                "network",
                "{id}",
            ])],
        ));
        v.push((
            "checkpoint-bad-cgroups-mode",
            vec![run(&[
                "checkpoint",
                "--manage-cgroups-mode",
                "sometimes",
                "{id}",
            ])],
        ));
    }
    v.push((
        "restore",
        vec![run(&[
            "restore",
            "-d",
            "--image-path",
            "{dir}/missing-img",
            "-b",
            "{bundle}",
            "{id}",
        ])],
    ));
    if matches!(s, Status::None | Status::Stopped) {
        v.push(("events", vec![run(&["events", "{id}"])]));
        v.push((
            "events-interval",
            vec![run(&["events", "--interval", "1s", "{id}"])],
        ));
    }
    v
}

const COMMANDS: &[&str] = &[
    "create",
    "start",
    "run",
    "state",
    "kill",
    "delete",
    "list",
    "ps",
    "exec",
    "pause",
    "resume",
    "events",
    "update",
    "spec",
    "features",
    "checkpoint",
    "restore",
];

fn cli_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let none =
        |name: String, steps: Vec<Step>| case(name, Config::Missing, Status::None, steps, false);
    v.push(none("help/none".into(), vec![h(&[])]));
    for f in ["--help", "-h"] {
        v.push(none(format!("help/{f}"), vec![h(&[f])]));
    }
    v.push(none("help/help".into(), vec![h(&["help"])]));
    for f in ["--version", "-v"] {
        v.push(none(format!("version/{f}"), vec![run(&[f])]));
    }
    v.push(none("help/h".into(), vec![h(&["h"])]));
    for c in COMMANDS {
        v.push(none(format!("help/{c}--help"), vec![h(&[c, "--help"])]));
        v.push(none(format!("help/{c}-h"), vec![h(&[c, "-h"])]));
        v.push(none(format!("help/help-{c}"), vec![h(&["help", c])]));
    }
    v.push(none(
        "help/exec-flags-then-help".into(),
        vec![h(&["exec", "--tty", "-h"])],
    ));
    v.push(none(
        "help/exec-arg-h".into(),
        vec![h(&["exec", "x", "sh", "-h"])],
    ));
    v.push(none("usage/unknown".into(), vec![h(&["frobnicate"])]));
    v.push(none(
        "usage/unknown-args".into(),
        vec![h(&["frobnicate", "--x", "y"])],
    ));
    v.push(none(
        "usage/unknown-global-flag".into(),
        vec![h(&["--bogus", "list"])],
    ));
    v.push(none(
        "usage/unknown-flag".into(),
        vec![h(&["list", "--bogus"])],
    ));
    v.push(none(
        "usage/unknown-short-flag".into(),
        vec![h(&["delete", "-z", "x"])],
    ));
    v.push(none(
        "usage/help-unknown".into(),
        vec![h(&["help", "frobnicate"])],
    ));
    v.push(none(
        "usage/bad-int".into(),
        vec![h(&["update", "--pids-limit", "many", "x"])],
    ));
    // Each command with no arguments, and with one too many.
    for c in COMMANDS
        .iter()
        .filter(|c| !["features", "list", "spec"].contains(c))
    {
        v.push(none(format!("usage/{c}-noargs"), vec![h(&[c])]));
    }
    for (c, args) in [
        ("state", &["a", "b"][..]),
        ("start", &["a", "b"]),
        ("delete", &["a", "b"]),
        ("pause", &["a", "b"]),
        ("resume", &["a", "b"]),
        ("kill", &["a", "b", "c"]),
        ("events", &["a", "b"]),
        ("create", &["a", "b"]),
        ("run", &["a", "b"]),
        ("spec", &["a"]),
        ("features", &["a"]),
        ("list", &["a"]),
    ] {
        let mut a = vec![c];
        a.extend_from_slice(args);
        v.push(none(format!("usage/{c}-toomany"), vec![h(&a)]));
    }
    for id in ["bad/id", "..", "a b", "-x"] {
        v.push(case(
            format!("usage/create-id-{}", id.replace(['/', ' '], "_")),
            sleeper(),
            Status::None,
            vec![run(&["create", "--", id])],
            false,
        ));
    }
    v.push(none("features".into(), vec![run(&["features"])]));
    v.push(none(
        "spec/default".into(),
        vec![
            run(&["spec", "--bundle", "{dir}"]),
            read("{dir}/config.json"),
        ],
    ));
    v.push(none(
        "spec/rootless".into(),
        vec![
            run(&["spec", "--rootless", "-b", "{dir}"]),
            read("{dir}/config.json"),
        ],
    ));
    v.push(none(
        "spec/twice".into(),
        vec![run(&["spec", "-b", "{dir}"]), run(&["spec", "-b", "{dir}"])],
    ));
    v.push(none(
        "spec/nodir".into(),
        vec![run(&["spec", "-b", "{dir}/no/such"])],
    ));
    v.push(none(
        "list/empty".into(),
        vec![step(&["list"], Norm::Table)],
    ));
    v.push(none("list/empty-q".into(), vec![run(&["list", "-q"])]));
    v.push(none(
        "list/empty-json".into(),
        vec![run(&["list", "--format", "json"])],
    ));
    v.push(none(
        "list/badformat".into(),
        vec![run(&["list", "--format", "xml"])],
    ));
    v
}

/// Lifecycle flags of create and run, global flags, logs.
fn flag_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let mut c = |name: &str, config: Config, setup: Status, steps: Vec<Step>| {
        v.push(case(format!("flags/{name}"), config, setup, steps, true));
    };
    c(
        "create",
        sleeper(),
        Status::None,
        vec![run(&["create", "{id}"])],
    );
    c(
        "create-b",
        sleeper(),
        Status::None,
        vec![run(&["create", "-b", "{bundle}", "{id}"])],
    );
    c(
        "create-pidfile",
        sleeper(),
        Status::None,
        vec![
            run(&["create", "--pid-file", "{dir}/pid", "{id}"]),
            read("{dir}/pid"),
        ],
    );
    c(
        "create-nopivot",
        sleeper(),
        Status::None,
        vec![run(&["create", "--no-pivot", "{id}"])],
    );
    c(
        "create-nokeyring",
        sleeper(),
        Status::None,
        vec![run(&["create", "--no-new-keyring", "{id}"])],
    );
    c(
        "create-console-missing",
        sleeper(),
        Status::None,
        vec![run(&["create", "--console-socket", "{dir}/nosock", "{id}"])],
    );
    c(
        "create-preserve-fds",
        sleeper(),
        Status::None,
        vec![run(&["create", "--preserve-fds", "0", "{id}"])],
    );
    c(
        "create-nobundle",
        sleeper(),
        Status::None,
        vec![run(&["create", "-b", "{dir}/nothere", "{id}"])],
    );
    c(
        "create-start",
        sleeper(),
        Status::None,
        vec![run(&["create", "{id}"]), run(&["start", "{id}"])],
    );
    c(
        "run-exit3",
        Config::Edit(sv(&["sh", "-c", "echo out; echo err >&2; exit 3"]), None),
        Status::None,
        vec![run(&["run", "{id}"])],
    );
    c(
        "run-signalled",
        Config::Edit(sv(&["sh", "-c", "kill -9 $$"]), None),
        Status::None,
        vec![run(&["run", "{id}"])],
    );
    c(
        "run-detach",
        sleeper(),
        Status::None,
        vec![run(&["run", "-d", "{id}"])],
    );
    c(
        "run-detach-exits",
        Config::Edit(sv(&["true"]), None),
        Status::None,
        vec![run(&["run", "--detach", "{id}"]), run(&["delete", "{id}"])],
    );
    c(
        "run-keep",
        Config::Edit(sv(&["true"]), None),
        Status::None,
        vec![run(&["run", "--keep", "{id}"])],
    );
    c(
        "run-pidfile",
        sleeper(),
        Status::None,
        vec![
            run(&["run", "-d", "--pid-file", "{dir}/pid", "{id}"]),
            read("{dir}/pid"),
        ],
    );
    c(
        "run-nosubreaper",
        Config::Edit(sv(&["true"]), None),
        Status::None,
        vec![run(&["run", "--no-subreaper", "{id}"])],
    );
    c(
        "run-nopivot",
        Config::Edit(
            sv(&["sh", "-c", "ls /proc/1/root/ >/dev/null && echo ok"]),
            None,
        ),
        Status::None,
        vec![run(&["run", "--no-pivot", "{id}"])],
    );
    c(
        "log",
        sleeper(),
        Status::None,
        vec![
            run(&["--log", "{dir}/log", "create", "{id}"]),
            read("{dir}/log"),
        ],
    );
    c(
        "log-json",
        sleeper(),
        Status::None,
        vec![
            run(&[
                "--log",
                "{dir}/log",
                "--log-format",
                "json",
                "create",
                "{id}",
            ]),
            read("{dir}/log"),
        ],
    );
    c(
        "log-error",
        sleeper(),
        Status::None,
        vec![
            run(&[
                "--log",
                "{dir}/log",
                "--log-format",
                "json",
                "start",
                "{id2}",
            ]),
            read("{dir}/log"),
        ],
    );
    c(
        "log-error-text",
        sleeper(),
        Status::None,
        vec![
            run(&["--log", "{dir}/log", "kill", "{id2}"]),
            read("{dir}/log"),
        ],
    );
    c(
        "log-format-bad",
        sleeper(),
        Status::None,
        vec![run(&["--log-format", "xml", "list"])],
    );
    c(
        "log-format-json-stderr",
        sleeper(),
        Status::None,
        vec![run(&["--log-format", "json", "state", "{id2}"])],
    );
    // --debug: where the lines go (stderr, --log as text or JSON) and what
    // else is printed; the debug lines themselves are each runtime's own
    // (norm::collapse_debug).
    c(
        "debug-run",
        Config::Edit(sv(&["echo", "hi"]), None),
        Status::None,
        vec![run(&["--debug", "run", "{id}"])],
    );
    c(
        "debug-log-text",
        sleeper(),
        Status::None,
        vec![
            run(&["--debug", "--log", "{dir}/log", "create", "{id}"]),
            run(&["--debug", "--log", "{dir}/log", "start", "{id}"]),
            read("{dir}/log"),
        ],
    );
    // A run that works and one whose init fails, logged as JSON.
    for (name, args) in [
        ("debug-log-json", &["echo", "hi"][..]),
        ("debug-error", &["/nonexistent"]),
    ] {
        c(
            name,
            Config::Edit(sv(args), None),
            Status::None,
            vec![
                run(&[
                    "--debug",
                    "--log",
                    "{dir}/log",
                    "--log-format",
                    "json",
                    "run",
                    "{id}",
                ]),
                read("{dir}/log"),
            ],
        );
    }
    // A terminal container: the pty's owner (the process's user), mode,
    // consoleSize and /dev/console, as the container sees them.
    for (name, user) in [("terminal", (0, 0)), ("terminal-user", (1000, 1000))] {
        c(
            name,
            edited(&["sh", "-c", TTY_PROBE], move |v: &mut Value| {
                set_pointer(v, "/process/terminal", json!(true));
                set_pointer(
                    v,
                    "/process/consoleSize",
                    json!({"height": 40, "width": 100}),
                );
                set_pointer(v, "/process/user", json!({"uid": user.0, "gid": user.1}));
            }),
            Status::None,
            vec![tty(&[
                "run",
                "-d",
                "--console-socket",
                "{dir}/tty.sock",
                "{id}",
            ])],
        );
    }
    c(
        "systemd-cgroup-badpath",
        sleeper(),
        Status::None,
        vec![run(&["--systemd-cgroup", "create", "{id}"])],
    );
    v
}

/// A config variant: its container runs the probe (or `args`), then both
/// runtimes' outputs, exit codes and `state` are compared.
fn cfg(name: &str, e: impl Fn(&mut Value) + Send + Sync + 'static) -> Case {
    case(
        format!("config/{name}"),
        edited(&["sh", "-c", PROBE], e),
        Status::None,
        vec![step(&["run", "{id}"], Norm::Probe)],
        true,
    )
}

fn set(p: &'static str, v: Value) -> impl Fn(&mut Value) + Send + Sync + 'static {
    move |c: &mut Value| set_pointer(c, p, v.clone())
}

fn push(p: &'static str, v: Value) -> impl Fn(&mut Value) + Send + Sync + 'static {
    move |c: &mut Value| {
        if c.pointer(p).is_none() {
            set_pointer(c, p, json!([]));
        }
        c.pointer_mut(p)
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(v.clone())
    }
}

fn drop_ns(t: &'static str) -> impl Fn(&mut Value) + Send + Sync + 'static {
    move |c: &mut Value| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != t)
    }
}

fn hook_case(kind: &'static str) -> Case {
    let mut c = case(
        format!("config/hook-{kind}"),
        Config::Edit(sv(&["true"]), None),
        Status::None,
        vec![
            run(&["run", "{id}"]),
            read("{dir}/hook.json"),
            read("{dir}/hook.args"),
        ],
        true,
    );
    c.config = edited(&["true"], move |v: &mut Value| {
        set_pointer(
            v,
            &format!("/hooks/{kind}"),
            json!([{"path": "/bin/sh", "args": ["sh", "-c", "cat > {dir}/hook.json; echo \"$@\" > {dir}/hook.args", "hook", "a1"], "env": ["HOOKENV=1"]}]),
        )
    });
    c
}

fn config_cases() -> Vec<Case> {
    let mut v = vec![
        cfg("default", |_| {}),
        cfg("hostname", set("/hostname", json!("diffbox"))),
        cfg("domainname", set("/domainname", json!("example.org"))),
        cfg(
            "env",
            set(
                "/process/env",
                json!(["PATH=/bin:/usr/bin", "A=1", "B=two words"]),
            ),
        ),
        cfg("cwd", set("/process/cwd", json!("/tmp"))),
        cfg(
            "cwd-missing",
            set("/process/cwd", json!("/made/by/runtime")),
        ),
        cfg("cwd-relative", set("/process/cwd", json!("tmp"))),
        cfg(
            "user",
            set(
                "/process/user",
                json!({"uid": 1000, "gid": 100, "additionalGids": [5, 7], "umask": 63}),
            ),
        ),
        cfg(
            "user-nobody",
            set("/process/user", json!({"uid": 65534, "gid": 65534})),
        ),
        cfg("cwd-root-only-user", |c: &mut Value| {
            set_pointer(c, "/process/user", json!({"uid": 1000, "gid": 1000}));
            set_pointer(c, "/process/cwd", json!("/root"));
        }),
        cfg(
            "caps-few",
            set(
                "/process/capabilities",
                json!({"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN", "CAP_KILL"], "inheritable": [], "ambient": []}),
            ),
        ),
        cfg(
            "caps-ambient",
            set(
                "/process/capabilities",
                json!({"bounding": ["CAP_NET_RAW"], "effective": ["CAP_NET_RAW"], "permitted": ["CAP_NET_RAW"], "inheritable": ["CAP_NET_RAW"], "ambient": ["CAP_NET_RAW"]}),
            ),
        ),
        cfg(
            "caps-unknown",
            set(
                "/process/capabilities/bounding",
                json!(["CAP_CHOWN", "CAP_BOGUS"]),
            ),
        ),
        cfg("caps-none", |c: &mut Value| {
            remove_pointer(c, "/process/capabilities")
        }),
        cfg(
            "rlimits",
            set(
                "/process/rlimits",
                json!([{"type": "RLIMIT_NOFILE", "hard": 200, "soft": 100}, {"type": "RLIMIT_CORE", "hard": 0, "soft": 0}, {"type": "RLIMIT_NPROC", "hard": 500, "soft": 400}]),
            ),
        ),
        cfg(
            "rlimits-unknown",
            set(
                "/process/rlimits",
                json!([{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]),
            ),
        ),
        cfg(
            "rlimits-soft-over-hard",
            set(
                "/process/rlimits",
                json!([{"type": "RLIMIT_NOFILE", "hard": 10, "soft": 100}]),
            ),
        ),
        cfg("nnp-off", set("/process/noNewPrivileges", json!(false))),
        cfg("oom-score", set("/process/oomScoreAdj", json!(500))),
        cfg("oom-score-bad", set("/process/oomScoreAdj", json!(5000))),
        cfg("readonly-root", set("/root/readonly", json!(true))),
        cfg(
            "masked-extra",
            push("/linux/maskedPaths", json!("/etc/hosts")),
        ),
        cfg(
            "masked-missing",
            push("/linux/maskedPaths", json!("/no/such/path")),
        ),
        cfg(
            "readonly-extra",
            push("/linux/readonlyPaths", json!("/etc")),
        ),
        cfg("paths-none", |c: &mut Value| {
            remove_pointer(c, "/linux/maskedPaths");
            remove_pointer(c, "/linux/readonlyPaths");
        }),
        cfg(
            "mount-tmpfs",
            push(
                "/mounts",
                json!({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=700", "nosuid"]}),
            ),
        ),
        cfg(
            "mount-bind-ro",
            push(
                "/mounts",
                json!({"destination": "/mnt/b", "type": "bind", "source": "/etc", "options": ["rbind", "ro"]}),
            ),
        ),
        cfg(
            "mount-bind-file",
            push(
                "/mounts",
                json!({"destination": "/etc/hostname", "type": "bind", "source": "/etc/hostname", "options": ["bind", "ro"]}),
            ),
        ),
        cfg(
            "mount-bind-missing",
            push(
                "/mounts",
                json!({"destination": "/x", "type": "bind", "source": "/nonexistent-src", "options": ["bind"]}),
            ),
        ),
        cfg(
            "mount-relative-dest",
            push(
                "/mounts",
                json!({"destination": "rel", "type": "tmpfs", "source": "tmpfs"}),
            ),
        ),
        cfg(
            "mount-bad-type",
            push(
                "/mounts",
                json!({"destination": "/y", "type": "nosuchfs", "source": "none"}),
            ),
        ),
        cfg("mount-dev-ro", |c: &mut Value| {
            for m in c["mounts"].as_array_mut().unwrap() {
                if m["destination"] == "/dev" {
                    m["options"].as_array_mut().unwrap().push(json!("ro"));
                }
            }
        }),
        cfg("ns-no-net", drop_ns("network")),
        cfg("ns-no-ipc", drop_ns("ipc")),
        cfg("ns-no-pid", drop_ns("pid")),
        cfg("ns-no-mount", drop_ns("mount")),
        cfg("ns-no-uts-hostname", drop_ns("uts")),
        cfg(
            "ns-cgroup",
            push("/linux/namespaces", json!({"type": "cgroup"})),
        ),
        cfg(
            "ns-time",
            push("/linux/namespaces", json!({"type": "time"})),
        ),
        cfg(
            "ns-bogus",
            push("/linux/namespaces", json!({"type": "bogus"})),
        ),
        cfg("ns-dup", push("/linux/namespaces", json!({"type": "pid"}))),
        cfg(
            "ns-path-missing",
            push(
                "/linux/namespaces",
                json!({"type": "cgroup", "path": "/proc/nonexistent/ns/cgroup"}),
            ),
        ),
        cfg(
            "ns-user-nomap",
            push("/linux/namespaces", json!({"type": "user"})),
        ),
        cfg("ns-user", |c: &mut Value| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            set_pointer(
                c,
                "/linux/uidMappings",
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
            );
            set_pointer(
                c,
                "/linux/gidMappings",
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
            );
        }),
        cfg(
            "sysctl-netns",
            set("/linux/sysctl", json!({"net.ipv4.ip_forward": "1"})),
        ),
        cfg(
            "sysctl-ipc",
            set("/linux/sysctl", json!({"kernel.shm_rmid_forced": "1"})),
        ),
        cfg(
            "sysctl-host",
            set("/linux/sysctl", json!({"vm.swappiness": "10"})),
        ),
        cfg(
            "sysctl-unknown",
            set("/linux/sysctl", json!({"kernel.nosuchthing": "1"})),
        ),
        cfg("sysctl-hostnet", |c: &mut Value| {
            drop_ns("network")(c);
            set_pointer(c, "/linux/sysctl", json!({"net.ipv4.ip_forward": "1"}));
        }),
        cfg(
            "res-memory",
            set(
                "/linux/resources/memory",
                json!({"limit": 104857600, "reservation": 52428800}),
            ),
        ),
        cfg(
            "res-memory-swap",
            set(
                "/linux/resources/memory",
                json!({"limit": 104857600, "swap": 209715200}),
            ),
        ),
        cfg(
            "res-memory-swap-below",
            set(
                "/linux/resources/memory",
                json!({"limit": 104857600, "swap": 1048576}),
            ),
        ),
        cfg(
            "res-swappiness",
            set("/linux/resources/memory/swappiness", json!(10)),
        ),
        cfg(
            "res-swappiness-bad",
            set("/linux/resources/memory/swappiness", json!(200)),
        ),
        cfg(
            "res-pids",
            set("/linux/resources/pids", json!({"limit": 64})),
        ),
        cfg(
            "res-cpu",
            set(
                "/linux/resources/cpu",
                json!({"shares": 512, "quota": 20000, "period": 100000}),
            ),
        ),
        cfg(
            "res-cpuset",
            set("/linux/resources/cpu", json!({"cpus": "0", "mems": "0"})),
        ),
        cfg(
            "res-cpuset-bad",
            set("/linux/resources/cpu", json!({"cpus": "99"})),
        ),
        cfg(
            "res-blkio",
            set("/linux/resources/blockIO", json!({"weight": 300})),
        ),
        cfg(
            "res-hugetlb",
            set(
                "/linux/resources/hugepageLimits",
                json!([{"pageSize": "2MB", "limit": 4194304}]),
            ),
        ),
        cfg(
            "res-network",
            set(
                "/linux/resources/network",
                json!({"classID": 1048577, "priorities": [{"name": "lo", "priority": 2}]}),
            ),
        ),
        cfg(
            "res-rdma",
            set(
                "/linux/resources/rdma",
                json!({"mlx5_0": {"hcaHandles": 3, "hcaObjects": 100}}),
            ),
        ),
        cfg(
            "res-memory-kernel",
            set(
                "/linux/resources/memory",
                json!({"limit": 104857600, "kernel": 52428800, "kernelTCP": 10485760}),
            ),
        ),
        cfg(
            "res-memory-oom-disabled",
            set(
                "/linux/resources/memory",
                json!({"limit": 104857600, "disableOOMKiller": true}),
            ),
        ),
        cfg(
            "res-cpu-rt",
            set(
                "/linux/resources/cpu",
                json!({"realtimeRuntime": 0, "realtimePeriod": 1000000}),
            ),
        ),
        cfg(
            "res-unified-on-v1",
            set(
                "/linux/resources/unified",
                json!({"memory.max": "100000000"}),
            ),
        ),
        cfg(
            "res-devices",
            set(
                "/linux/resources/devices",
                json!([{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}]),
            ),
        ),
        cfg(
            "cgroups-path",
            set("/linux/cgroupsPath", json!("/diffrunc/{id}")),
        ),
        cfg(
            "cgroups-path-systemd-form",
            set("/linux/cgroupsPath", json!("system.slice:diff:{id}")),
        ),
        cfg(
            "devices",
            push(
                "/linux/devices",
                json!({"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0}),
            ),
        ),
        cfg(
            "devices-bad-type",
            push(
                "/linux/devices",
                json!({"path": "/dev/x", "type": "z", "major": 1, "minor": 1}),
            ),
        ),
        cfg("oci-version-old", set("/ociVersion", json!("1.0.0"))),
        cfg(
            "oci-version-bogus",
            set("/ociVersion", json!("not-a-version")),
        ),
        cfg("oci-version-empty", set("/ociVersion", json!(""))),
        cfg(
            "annotations",
            set("/annotations", json!({"org.example/k": "v"})),
        ),
        cfg("args-empty", set("/process/args", json!([]))),
        cfg(
            "args-missing-exe",
            set("/process/args", json!(["/bin/nonexistent"])),
        ),
        cfg(
            "args-path-lookup-missing",
            set("/process/args", json!(["nonexistent"])),
        ),
        cfg(
            "args-not-executable",
            set("/process/args", json!(["/etc/passwd"])),
        ),
        cfg("terminal-no-socket", set("/process/terminal", json!(true))),
        cfg("no-process", |c: &mut Value| remove_pointer(c, "/process")),
        cfg("no-root", |c: &mut Value| remove_pointer(c, "/root")),
        cfg("root-missing", set("/root/path", json!("missing"))),
        cfg("root-file", set("/root/path", json!("rootfs/etc/passwd"))),
        cfg(
            "apparmor",
            set("/process/apparmorProfile", json!("diff-runc-none")),
        ),
        cfg(
            "selinux",
            set(
                "/process/selinuxLabel",
                json!("system_u:system_r:container_t:s0"),
            ),
        ),
        cfg(
            "personality",
            set("/linux/personality", json!({"domain": "LINUX32"})),
        ),
        cfg(
            "io-priority",
            set(
                "/process/ioPriority",
                json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0}),
            ),
        ),
        cfg(
            "scheduler",
            set("/process/scheduler", json!({"policy": "SCHED_BATCH"})),
        ),
        cfg("intel-rdt", set("/linux/intelRdt", json!({"closID": "x"}))),
        cfg(
            "seccomp-errno",
            set(
                "/linux/seccomp",
                json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}),
            ),
        ),
        cfg(
            "seccomp-notify-noagent",
            set(
                "/linux/seccomp",
                json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
            ),
        ),
        cfg(
            "seccomp-bad-action",
            set("/linux/seccomp", json!({"defaultAction": "SCMP_ACT_BOGUS"})),
        ),
        cfg(
            "seccomp-unknown-syscall",
            set(
                "/linux/seccomp",
                json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["no_such_syscall"], "action": "SCMP_ACT_ERRNO"}]}),
            ),
        ),
        cfg(
            "hook-bad-path",
            set("/hooks/createRuntime", json!([{"path": "relative/hook"}])),
        ),
        cfg(
            "hook-fails",
            set("/hooks/prestart", json!([{"path": "/bin/false"}])),
        ),
    ];
    for p in [
        "private",
        "rprivate",
        "slave",
        "rslave",
        "shared",
        "rshared",
        "unbindable",
        "runbindable",
        "bogus",
    ] {
        v.push(cfg(
            &format!("propagation-{p}"),
            set("/linux/rootfsPropagation", json!(p)),
        ));
    }
    for k in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        v.push(hook_case(k));
    }
    // config.json itself broken, or no bundle.
    let raw = |name: &str, text: &str| {
        case(
            format!("config/{name}"),
            Config::Raw(text.into()),
            Status::None,
            vec![run(&["run", "{id}"])],
            true,
        )
    };
    v.push(raw("json-broken", "{"));
    v.push(raw("json-empty-object", "{}"));
    v.push(raw("json-wrong-type", r#"{"ociVersion": 1}"#));
    v.push(raw("json-array", "[]"));
    v.push(case(
        "config/no-bundle".into(),
        Config::Missing,
        Status::None,
        vec![run(&["run", "-b", "{bundle}", "{id}"])],
        true,
    ));
    v
}

pub fn all() -> Vec<Case> {
    let mut v = Vec::new();
    for s in Status::ALL {
        let mut list = per_status();
        list.extend(per_status_finite(s));
        for (label, steps) in list {
            let mut c = case(
                format!("status/{}/{label}", s.name()),
                sleeper(),
                s,
                steps,
                true,
            );
            c.files = vec![
                (
                    "process.json".into(),
                    r#"{"args": ["sh", "-c", "echo from-process-json; id -u"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}"#.into(),
                ),
                ("res.json".into(), r#"{"memory": {"limit": 209715200}, "pids": {"limit": 40}}"#.into()),
                (
                    "tty-process.json".into(),
                    json!({"terminal": true, "consoleSize": {"height": 33, "width": 111},
                        "args": ["sh", "-c", TTY_PROBE], "cwd": "/", "env": ["PATH=/bin"],
                        "user": {"uid": 1000, "gid": 1000}})
                    .to_string(),
                ),
            ];
            v.push(c);
        }
    }
    v.extend(cli_cases());
    v.extend(flag_cases());
    v.extend(config_cases());
    v
}
