//! Every page, rendered by man(1) as a reader sees it, shows every command and
//! every flag of the clap definitions tong parses its command line with (the
//! lists come from clap, not from this file), runc's sections and the prose
//! of `text.rs`, and groff has nothing to warn about.

use clap::CommandFactory;
use std::path::Path;
use std::process::Command;

/// The page as `man -l` prints it to a pipe: plain text, no hyphenation or
/// justification, wide enough that no flag is broken across lines.
fn man(path: &Path) -> String {
    let o = Command::new("man")
        .args(["--warnings", "--nh", "--nj", "-l"])
        .arg(path)
        .env("MANWIDTH", "250")
        .env("MANPAGER", "cat")
        .env("LANG", "C.UTF-8")
        .env_remove("MAN_KEEP_FORMATTING")
        .output()
        .unwrap_or_else(|e| panic!("man(1) is needed (man-db, see hack/install-deps): {e}"));
    assert!(o.status.success(), "man -l {}: {o:?}", path.display());
    let warnings = String::from_utf8_lossy(&o.stderr);
    assert!(
        warnings.trim().is_empty(),
        "groff warns on {}: {warnings}",
        path.display()
    );
    // groff may set '-' as a hyphen or minus sign in UTF-8.
    String::from_utf8_lossy(&o.stdout).replace(['\u{2010}', '\u{2212}'], "-")
}

fn words(s: &str) -> String {
    s.replace('`', "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a reader must find for one argument: its flags, or a positional's name.
fn arg_spellings(a: &clap::Arg) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(l) = a.get_long() {
        out.push(format!("--{l}"));
    }
    if let Some(s) = a.get_short() {
        out.push(format!("-{s}"));
    }
    out.extend(
        a.get_visible_aliases()
            .into_iter()
            .flatten()
            .map(|l| format!("--{l}")),
    );
    if a.is_positional() {
        let name = a
            .get_value_names()
            .and_then(|v| v.first().map(|n| n.to_string()))
            .unwrap_or_else(|| a.get_id().as_str().to_uppercase());
        out.push(name);
    }
    out
}

#[test]
fn every_page_shows_every_command_and_flag() {
    let dir = std::env::temp_dir().join(format!("tong-man-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let result = std::panic::catch_unwind(|| check_pages(&dir));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

fn check_pages(dir: &Path) {
    // The lists come from the clap definitions themselves (src/cli.rs).
    let raw = tong_man::cli::Cli::command();
    let subs: Vec<&clap::Command> = raw.get_subcommands().collect();
    assert!(subs.len() >= 15, "{} commands", subs.len());
    let pages = tong_man::pages("2026-01-02");
    assert_eq!(
        pages.len(),
        subs.len() + 1,
        "one page per command and tong(8)"
    );
    let mut page_names: Vec<&str> = pages.iter().map(|p| p.name.as_str()).collect();
    page_names.sort();
    let mut want: Vec<String> = subs
        .iter()
        .map(|s| format!("tong-{}", s.get_name()))
        .collect();
    want.push("tong".into());
    want.sort();
    assert_eq!(page_names, want);

    for page in &pages {
        let path = dir.join(page.file_name());
        std::fs::write(&path, &page.roff).unwrap();
        let text = man(&path);
        let flat = words(&text);
        let cmd = if page.command.is_empty() {
            &raw
        } else {
            *subs
                .iter()
                .find(|s| s.get_name() == page.command)
                .expect("a page for a real command")
        };
        let name = &page.name;
        assert!(
            text.starts_with(&name.to_uppercase())
                && text.contains(&format!("{}(8)", name.to_uppercase())),
            "{name}: title line: {}",
            text.lines().next().unwrap_or("")
        );
        assert!(flat.contains("2026-01-02"), "{name}: date");
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "SEE ALSO"] {
            assert!(
                text.lines().any(|l| l == section),
                "{name}: no {section} section:\n{text}"
            );
        }
        // NAME: "tong-create - Create a container; ..."
        if !page.command.is_empty() {
            let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
            assert!(!about.is_empty(), "{name}: no about");
            assert!(
                flat.contains(&words(&format!("{name} - {about}"))),
                "{name}: NAME line"
            );
        }
        // Every flag and positional of this command.
        let args: Vec<&clap::Arg> = cmd.get_arguments().filter(|a| !a.is_hide_set()).collect();
        if !args.is_empty() {
            assert!(text.lines().any(|l| l == "OPTIONS"), "{name}: no OPTIONS");
        }
        for a in args {
            for s in arg_spellings(a) {
                assert!(
                    flat.split(|c: char| c.is_whitespace() || ",=[]<>|(){}".contains(c))
                        .any(|w| w == s),
                    "{name}: {s} (argument {}) not on the page:\n{text}",
                    a.get_id()
                );
            }
        }
        // The prose, the same words a reader gets.
        let prose = tong_man::page_text(&page.command);
        assert!(
            !prose.description.is_empty(),
            "{name}: no description in text.rs"
        );
        assert!(
            !prose.exit_status.is_empty(),
            "{name}: no exit status in text.rs"
        );
        for p in prose.description {
            assert!(
                flat.contains(&words(p)),
                "{name}: description {p:?} not rendered"
            );
        }
        for (code, _) in prose.exit_status {
            let section = text.split("\nEXIT STATUS\n").nth(1).unwrap();
            assert!(
                section
                    .lines()
                    .any(|l| l.trim_start() == *code
                        || l.trim_start().starts_with(&format!("{code} "))),
                "{name}: exit status {code}"
            );
        }
        // SEE ALSO names every other page.
        let see_also = flat.rsplit("SEE ALSO").next().unwrap();
        for other in pages.iter().filter(|p| p.name != *name) {
            assert!(
                see_also.contains(&format!("{}(8)", other.name)),
                "{name}: SEE ALSO lacks {}",
                other.name
            );
        }
    }

    // tong(8): every command, the environment and the files.
    let text = man(&dir.join("tong.8"));
    for section in ["COMMANDS", "ENVIRONMENT", "FILES", "EXAMPLES"] {
        assert!(text.lines().any(|l| l == section), "tong(8): no {section}");
    }
    let commands = text
        .split("\nCOMMANDS\n")
        .nth(1)
        .unwrap()
        .split("\nEXIT STATUS\n")
        .next()
        .unwrap();
    for s in &subs {
        assert!(
            commands
                .lines()
                .any(|l| l.trim() == format!("tong-{}(8)", s.get_name())),
            "tong(8) does not list {}:\n{commands}",
            s.get_name()
        );
    }
    for var in ["XDG_RUNTIME_DIR", "LISTEN_FDS"] {
        assert!(text.contains(var), "tong(8): {var}");
    }
}

/// text.rs has prose for exactly the commands that exist.
#[test]
fn prose_matches_the_commands() {
    let top = tong_man::command();
    for n in &tong_man::names(&top) {
        let t = tong_man::page_text(n);
        assert!(!t.description.is_empty(), "text.rs has no prose for {n}");
    }
    // A name that is not a command gets nothing (so a renamed command shows up above).
    assert!(tong_man::page_text("no-such-command")
        .description
        .is_empty());
}
