//! Help and usage errors the way runc (urfave/cli) shows them, so that
//! scripts and people reading them see the same layout: `NAME:`, `USAGE:`,
//! `DESCRIPTION:`, `OPTIONS:` sections on stdout; a wrong number of
//! arguments or an unknown flag as "Incorrect Usage" and the command's help
//! on stdout, one error line on stderr and exit status 1; an unknown command
//! as "No help topic" and exit status 3. The words are tong's own; the flags
//! listed come from the clap definitions in cli.rs.

use crate::cli::Cli;
use clap::CommandFactory;

const NAME: &str = "tong";

/// What the help of one command says besides its flags.
struct Doc {
    name: &'static str,
    summary: &'static str,
    /// After the command's name on the USAGE line.
    usage: &'static str,
    /// A paragraph right after USAGE (what the arguments are).
    args: &'static str,
    /// (section title, text): DESCRIPTION, EXAMPLE...
    sections: &'static [(&'static str, &'static str)],
}

const ID: &str = "Where \"<container-id>\" is the name of the container.";

const DOCS: &[Doc] = &[
    Doc {
        name: "checkpoint",
        summary: "checkpoint a running container",
        usage: "[command options] <container-id>",
        args: ID,
        sections: &[("DESCRIPTION", "Saves the state of a running container with CRIU.")],
    },
    Doc {
        name: "create",
        summary: "create a container",
        usage: "[command options] <container-id>",
        args: ID,
        sections: &[(
            "DESCRIPTION",
            "Creates a container from a bundle (a directory holding config.json and a root\nfilesystem). Its process waits until `start` is called.",
        )],
    },
    Doc {
        name: "delete",
        summary: "delete a container and everything it holds",
        usage: "[command options] <container-id>",
        args: ID,
        sections: &[("EXAMPLE", "To delete the stopped container \"web1\":\n\n       # tong delete web1")],
    },
    Doc {
        name: "events",
        summary: "show a container's events and resource usage statistics",
        usage: "[command options] <container-id>",
        args: ID,
        sections: &[(
            "DESCRIPTION",
            "Prints one JSON line per event: OOM notifications, and statistics of cpu,\nmemory, pids and block IO every --interval (once with --stats).",
        )],
    },
    Doc {
        name: "exec",
        summary: "run a new process inside a container",
        usage: "[command options] <container-id> <command> [command options]  || -p process.json <container-id>",
        args: "Where \"<container-id>\" is the name of the container and \"<command>\" the\nprogram to run in it, with its arguments.",
        sections: &[("EXAMPLE", "To list the processes of the container \"web1\":\n\n       # tong exec web1 ps")],
    },
    Doc {
        name: "kill",
        summary: "send a signal (default: SIGTERM) to a container's init process",
        usage: "[command options] <container-id> [signal]",
        args: "Where \"<container-id>\" is the name of the container and \"[signal]\" the\nsignal to send, by name or number.",
        sections: &[("EXAMPLE", "To stop the container \"web1\" at once:\n\n       # tong kill web1 KILL")],
    },
    Doc {
        name: "list",
        summary: "list the containers under the state root",
        usage: "[command options] ",
        args: "The state root is the global option \"--root\" (default: \"/run/tong\").",
        sections: &[
            ("EXAMPLE 1", "The containers under the default root:\n       # tong list"),
            ("EXAMPLE 2", "The containers under another root:\n       # tong --root value list"),
        ],
    },
    Doc {
        name: "pause",
        summary: "freeze every process of a container",
        usage: "<container-id>",
        args: ID,
        sections: &[("DESCRIPTION", "Freezes every process of the container (cgroup freezer).")],
    },
    Doc {
        name: "ps",
        summary: "show the processes running inside a container",
        usage: "[command options] <container-id> [ps options]",
        args: "",
        sections: &[],
    },
    Doc {
        name: "restore",
        summary: "restore a container from a checkpoint",
        usage: "[command options] <container-id>",
        args: ID,
        sections: &[("DESCRIPTION", "Restores a container from images made by `checkpoint`.")],
    },
    Doc {
        name: "resume",
        summary: "thaw every process of a paused container",
        usage: "<container-id>",
        args: ID,
        sections: &[("DESCRIPTION", "Thaws every process of the container that `pause` froze.")],
    },
    Doc {
        name: "run",
        summary: "create and start a container",
        usage: "[command options] <container-id>",
        args: ID,
        sections: &[(
            "DESCRIPTION",
            "Creates a container from a bundle (a directory holding config.json and a root\nfilesystem) and starts its process; waits for it unless --detach.",
        )],
    },
    Doc {
        name: "spec",
        summary: "write a new config.json",
        usage: "[command options] [arguments...]",
        args: "",
        sections: &[
            (
                "DESCRIPTION",
                "Writes a default config.json (runtime-spec) in the bundle directory, to be\nedited before `create` or `run`.",
            ),
            (
                "EXAMPLE",
                "    mkdir -p web1/rootfs && cd web1\n    tar -C rootfs -xf image.tar\n    tong spec\n    tong run web1",
            ),
        ],
    },
    Doc {
        name: "start",
        summary: "start the process of a created container",
        usage: "<container-id>",
        args: ID,
        sections: &[("DESCRIPTION", "Starts the process of a container made by `create`.")],
    },
    Doc {
        name: "state",
        summary: "print the state of a container",
        usage: "<container-id>",
        args: ID,
        sections: &[("DESCRIPTION", "Prints the container's state (runtime-spec) as JSON.")],
    },
    Doc {
        name: "update",
        summary: "change a container's resource limits",
        usage: "[command options] <container-id>",
        args: ID,
        sections: &[],
    },
    Doc {
        name: "features",
        summary: "show the enabled features",
        usage: "[arguments...]",
        args: "",
        sections: &[(
            "DESCRIPTION",
            "Prints what this build supports as runtime-spec features JSON.",
        )],
    },
    Doc {
        name: "completion",
        summary: "print a shell completion script for bash, zsh or fish",
        usage: "<shell>",
        args: "",
        sections: &[],
    },
];

/// How many arguments each command takes: (minimum, maximum).
fn arity(cmd: &str) -> (usize, Option<usize>) {
    match cmd {
        "list" | "spec" | "features" => (0, Some(0)),
        "exec" | "ps" => (1, None),
        "kill" => (1, Some(2)),
        _ => (1, Some(1)),
    }
}

fn doc(name: &str) -> Option<&'static Doc> {
    DOCS.iter().find(|d| d.name == name)
}

/// The rows of an OPTIONS section: `--name value, -n value` and what it does.
fn option_rows(cmd: &clap::Command, globals: bool) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    for a in cmd.get_arguments() {
        if a.is_positional() || a.is_hide_set() || (!globals && a.is_global_set()) {
            continue;
        }
        let Some(long) = a.get_long() else { continue };
        if long == "help" || long == "version" {
            continue;
        }
        let value = if a.get_action().takes_values() {
            " value"
        } else {
            ""
        };
        let mut spec = format!("--{long}{value}");
        if let Some(s) = a.get_short() {
            spec.push_str(&format!(", -{s}{value}"));
        }
        let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
        rows.push((spec, help));
    }
    if globals {
        rows.push(("--help, -h".into(), "show help".into()));
        rows.push(("--version, -v".into(), "print the version".into()));
    }
    rows
}

fn table(rows: &[(String, String)]) -> String {
    let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(a, b)| format!("   {a:w$}  {b}\n").replace(&format!("{:w$}  \n", ""), "\n"))
        .collect()
}

/// The help of one command, or of tong itself when `cmd` is None.
pub fn help(cmd: Option<&str>) -> String {
    let root = Cli::command();
    let Some(name) = cmd else {
        let mut s = format!(
            "NAME:\n   {NAME} - an OCI container runtime, runc-compatible\n\n\
             {NAME} runs containers packaged as OCI bundles (a config.json and a root\n\
             filesystem) under the runtime-spec, with runc's command line, so it plugs\n\
             in beneath Podman, containerd and Docker.\n\n\
             To run a container from a bundle:\n\n    # {NAME} run [ -b bundle ] <container-id>\n\n\
             USAGE:\n   {NAME} [global options] command [command options] [arguments...]\n\n\
             VERSION:\n   {}\n\nCOMMANDS:\n",
            env!("CARGO_PKG_VERSION")
        );
        let mut rows: Vec<(String, String)> = DOCS
            .iter()
            .map(|d| (d.name.to_string(), d.summary.to_string()))
            .collect();
        rows.push((
            "help, h".into(),
            "Shows a list of commands or help for one command".into(),
        ));
        s.push_str(&table(&rows));
        s.push_str("\nGLOBAL OPTIONS:\n");
        s.push_str(&table(&option_rows(&root, true)));
        return s;
    };
    let d = doc(name).expect("a documented command");
    let sub = root.find_subcommand(name).expect("a clap command");
    let rows = option_rows(sub, false);
    let mut s = format!(
        "NAME:\n   {NAME} {name} - {}\n\nUSAGE:\n   {NAME} {name} {}\n",
        d.summary, d.usage
    );
    if !d.args.is_empty() {
        s.push_str(&format!("\n{}\n", d.args));
    }
    for (title, text) in d.sections {
        let text = if title.starts_with("DESCRIPTION") {
            text.lines()
                .map(|l| format!("   {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            text.to_string()
        };
        s.push_str(&format!("\n{title}:\n{text}\n"));
    }
    if !rows.is_empty() {
        s.push_str("\nOPTIONS:\n");
        s.push_str(&table(&rows));
        s.push_str("   \n");
    }
    s
}

fn out(s: &str) {
    use std::io::Write;
    let _ = std::io::stdout().write_all(s.as_bytes());
}

/// Answers a help request in `args` (argv) before clap sees it: `--help`,
/// `-h`, `help [CMD]`, `h [CMD]`, a command's own `--help`, or no command.
/// Returns only when `args` asks for no help.
pub fn handle_help(args: &[std::ffi::OsString]) {
    const VALUED: [&str; 5] = ["--root", "--log", "--log-format", "--rootless", "--criu"];
    let root = Cli::command();
    let words: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        if w == "-h" || w == "--help" {
            out(&help(None));
            std::process::exit(0);
        }
        if w == "-v" || w == "--version" {
            return;
        }
        if VALUED.contains(&w) {
            i += 2;
            continue;
        }
        if w.starts_with('-') {
            i += 1;
            continue;
        }
        break;
    }
    let Some(cmd) = words.get(i) else {
        // No command (only global flags, or none): the help, as runc does.
        if words.iter().any(|w| {
            w.starts_with('-')
                && !w.contains('=')
                && !VALUED.contains(&w.as_str())
                && !is_global_switch(w)
        }) {
            return; // an unknown flag: clap reports it
        }
        out(&help(None));
        std::process::exit(0);
    };
    if cmd == "help" || cmd == "h" {
        match words.get(i + 1) {
            None => out(&help(None)),
            Some(c) if doc(c).is_some() => out(&help(Some(c))),
            Some(c) => no_topic(c),
        }
        std::process::exit(0);
    }
    let Some(sub) = root.find_subcommand(cmd) else {
        no_topic(cmd);
    };
    let name = sub.get_name().to_string();
    // The command's flags, up to its first argument (urfave/cli stops there).
    let mut j = i + 1;
    while j < words.len() {
        let w = words[j].as_str();
        if w == "-h" || w == "--help" {
            out(&help(Some(&name)));
            std::process::exit(0);
        }
        if w == "--" || !w.starts_with('-') {
            break;
        }
        let takes_value = !w.contains('=')
            && sub.get_arguments().any(|a| {
                (w.strip_prefix("--")
                    .is_some_and(|l| a.get_long() == Some(l))
                    || (w.len() == 2
                        && w.strip_prefix('-').and_then(|s| s.chars().next()) == a.get_short()))
                    && a.get_action().takes_values()
            });
        j += if takes_value { 2 } else { 1 };
    }
}

fn is_global_switch(w: &str) -> bool {
    ["--debug", "--systemd-cgroup"].contains(&w)
}

/// An unknown command: runc's words and exit status 3.
fn no_topic(cmd: &str) -> ! {
    crate::logging::error(&format!("No help topic for '{cmd}'\n"));
    std::process::exit(3)
}

/// The command named in argv (past the global flags), if any.
fn command_of(args: &[std::ffi::OsString]) -> Option<String> {
    crate::cli::subcommand_name(args).map(str::to_string)
}

/// A clap parse error, reported as runc reports the same mistake.
pub fn parse_error(e: clap::Error, args: &[std::ffi::OsString]) -> ! {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let cmd = command_of(args);
    let ctx = |k: ContextKind| match e.get(k) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        _ => None,
    };
    let incorrect = |head: &str, msg: &str, cmd: Option<&str>| -> ! {
        out(&format!("{head}\n\n{}", help(cmd)));
        crate::logging::error(msg);
        std::process::exit(1)
    };
    let count_error = |c: &str| -> ! {
        let given = args.len().saturating_sub(
            args.iter()
                .position(|a| a.to_str() == Some(c))
                .map(|p| p + 1)
                .unwrap_or(args.len()),
        );
        let (min, max) = arity(c);
        let msg = match max {
            Some(m) if m == min => format!("{NAME}: \"{c}\" requires exactly {m} argument(s)"),
            Some(m) if given > m => {
                format!("{NAME}: \"{c}\" requires a maximum of {m} argument(s)")
            }
            _ => format!("{NAME}: \"{c}\" requires a minimum of {min} argument(s)"),
        };
        incorrect("Incorrect Usage.", &msg, Some(c))
    };
    match e.kind() {
        ErrorKind::InvalidSubcommand => {
            no_topic(&ctx(ContextKind::InvalidSubcommand).unwrap_or_default())
        }
        ErrorKind::UnknownArgument => {
            let arg = ctx(ContextKind::InvalidArg).unwrap_or_default();
            let arg = arg.split('=').next().unwrap_or_default();
            if arg.starts_with('-') {
                // Go's flag package names a flag with one dash.
                let flag = format!("-{}", arg.trim_start_matches('-'));
                let msg = format!("flag provided but not defined: {flag}");
                // A flag before the command is a global one.
                let at = |w: &str| args.iter().position(|a| a.to_str() == Some(w));
                let before_cmd = cmd
                    .as_deref()
                    .and_then(at)
                    .is_none_or(|c| at(arg).is_some_and(|f| f < c));
                match cmd.as_deref().filter(|c| doc(c).is_some() && !before_cmd) {
                    Some(c) => incorrect(&format!("Incorrect Usage: {msg}"), &msg, Some(c)),
                    None => incorrect(&format!("Incorrect Usage. {msg}"), &msg, None),
                }
            }
            match cmd.as_deref().filter(|c| doc(c).is_some()) {
                Some(c) => count_error(c),
                None => no_topic(arg),
            }
        }
        ErrorKind::MissingRequiredArgument
        | ErrorKind::TooManyValues
        | ErrorKind::WrongNumberOfValues => match cmd.as_deref().filter(|c| doc(c).is_some()) {
            Some(c) => count_error(c),
            None => generic(&e),
        },
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let arg = ctx(ContextKind::InvalidArg).unwrap_or_default();
            let value = ctx(ContextKind::InvalidValue).unwrap_or_default();
            if arg.starts_with("--log-format") {
                crate::logging::error(&format!("invalid log-format: {value}"));
                std::process::exit(1)
            }
            if arg.starts_with("--format") {
                crate::logging::error("invalid format option");
                std::process::exit(1)
            }
            let flag = arg
                .split(['=', ' ', '<'])
                .next()
                .unwrap_or_default()
                .trim_start_matches('-');
            let msg = format!(
                "invalid value {} for flag -{flag}: parse error",
                crate::logging::go_quote(&value)
            );
            incorrect(
                &format!("Incorrect Usage: {msg}"),
                &msg,
                cmd.as_deref().filter(|c| doc(c).is_some()),
            )
        }
        _ => generic(&e),
    }
}

fn generic(e: &clap::Error) -> ! {
    let text = e.to_string();
    let first = text
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ");
    crate::logging::error(first);
    std::process::exit(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_its_help() {
        let root = Cli::command();
        for sub in root.get_subcommands() {
            let h = help(Some(sub.get_name()));
            assert!(
                h.starts_with(&format!("NAME:\n   tong {} - ", sub.get_name())),
                "{h}"
            );
            assert!(h.contains("\nUSAGE:\n   tong "), "{h}");
        }
        let h = help(Some("run"));
        assert!(h.contains("\n   --bundle value, -b value  "), "{h}");
        assert!(h.contains("\n   --detach, -d "), "{h}");
        assert!(
            !h.contains("--root"),
            "global flags stay in the main help: {h}"
        );
        let main = help(None);
        assert!(
            main.contains("\nGLOBAL OPTIONS:\n   --root value "),
            "{main}"
        );
        assert!(main.contains("\n   help, h "), "{main}");
    }

    #[test]
    fn arities_follow_runc() {
        assert_eq!(arity("kill"), (1, Some(2)));
        assert_eq!(arity("exec"), (1, None));
        assert_eq!(arity("list"), (0, Some(0)));
        assert_eq!(arity("state"), (1, Some(1)));
    }
}
