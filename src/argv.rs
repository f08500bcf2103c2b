//! runc's command line parser (urfave/cli) takes `-flag` for `--flag`, and
//! callers rely on it: containerd's runc shim (go-runc) restores with
//! `-no-subreaper`. clap does not, so such words are rewritten to `--flag`
//! before parsing — only words that name a long flag of the command being
//! parsed (or a global one), and only up to the first positional argument
//! after the command: what follows belongs to the container's process.

use crate::cli::Cli;
use clap::{Arg, Command, CommandFactory};
use std::ffi::OsString;

fn single_dash_long(s: &str) -> bool {
    s.len() > 2
        && !s.starts_with("--")
        && s.starts_with('-')
        && s.as_bytes()[1].is_ascii_alphabetic()
}

fn long<'a>(cmd: &'a Command, root: &'a Command, name: &str) -> Option<&'a Arg> {
    let named = |a: &&Arg| a.get_long() == Some(name);
    cmd.get_arguments().find(named).or_else(|| {
        root.get_arguments()
            .filter(|a| a.is_global_set())
            .find(named)
    })
}

fn short<'a>(cmd: &'a Command, root: &'a Command, c: char) -> Option<&'a Arg> {
    let named = |a: &&Arg| a.get_short() == Some(c);
    cmd.get_arguments()
        .find(named)
        .or_else(|| root.get_arguments().find(named))
}

fn takes_value(a: &Arg) -> bool {
    a.get_action().takes_values()
}

pub fn normalize(mut args: Vec<OsString>) -> Vec<OsString> {
    // The common case costs one scan: no clap command tree is built.
    if !args
        .iter()
        .skip(1)
        .any(|a| a.to_str().is_some_and(single_dash_long))
    {
        return args;
    }
    let mut root = Cli::command();
    root.build();
    let mut sub: Option<&Command> = None;
    let mut i = 1;
    while i < args.len() {
        let Some(s) = args[i].to_str().map(str::to_string) else {
            break;
        };
        let cmd = sub.unwrap_or(&root);
        if s == "--" {
            break;
        }
        if let Some(body) = s.strip_prefix("--") {
            let name = body.split('=').next().unwrap_or("");
            if !body.contains('=') && long(cmd, &root, name).is_some_and(takes_value) {
                i += 1;
            }
        } else if let Some(body) = s.strip_prefix('-').filter(|b| !b.is_empty()) {
            let name = body.split('=').next().unwrap_or("");
            if name.chars().count() >= 2 {
                if let Some(a) = long(cmd, &root, name) {
                    args[i] = format!("-{s}").into();
                    if !body.contains('=') && takes_value(a) {
                        i += 1;
                    }
                }
            } else if let Some(c) = name.chars().next() {
                if body.len() == 1 && short(cmd, &root, c).is_some_and(takes_value) {
                    i += 1;
                }
            }
        } else if sub.is_none() {
            match root.find_subcommand(&s) {
                Some(c) => sub = Some(c),
                None => break,
            }
        } else {
            break;
        }
        i += 1;
    }
    args
}

#[cfg(test)]
mod tests {
    use super::normalize;

    fn n(a: &[&str]) -> Vec<String> {
        normalize(a.iter().map(|s| s.into()).collect())
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect()
    }

    #[test]
    fn go_runc_restore_line() {
        assert_eq!(
            n(&[
                "tong",
                "--log",
                "/l",
                "-log-format",
                "json",
                "restore",
                "--image-path",
                "/i",
                "--detach",
                "--pid-file",
                "/p",
                "-no-subreaper",
                "-bundle",
                "/b",
                "id"
            ]),
            [
                "tong",
                "--log",
                "/l",
                "--log-format",
                "json",
                "restore",
                "--image-path",
                "/i",
                "--detach",
                "--pid-file",
                "/p",
                "--no-subreaper",
                "--bundle",
                "/b",
                "id"
            ]
        );
    }

    #[test]
    fn process_args_and_values_untouched() {
        // After the container id: the process's own arguments.
        assert_eq!(
            n(&["tong", "exec", "-tty", "id", "ls", "-tty", "-la"]),
            ["tong", "exec", "--tty", "id", "ls", "-tty", "-la"]
        );
        // A value that looks like a flag stays a value.
        assert_eq!(
            n(&["tong", "exec", "--cwd", "-detach", "-d", "id", "x"]),
            ["tong", "exec", "--cwd", "-detach", "-d", "id", "x"]
        );
        // Unknown words are left for clap to refuse.
        assert_eq!(
            n(&["tong", "run", "-nosuch", "id"]),
            ["tong", "run", "-nosuch", "id"]
        );
        assert_eq!(
            n(&["tong", "kill", "id", "-9"]),
            ["tong", "kill", "id", "-9"]
        );
    }
}
