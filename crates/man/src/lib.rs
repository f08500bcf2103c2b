//! tong's man pages, written from the clap definitions tong parses its command
//! line with. `src/cli.rs` is compiled into this crate by path, so the pages
//! cannot drift from the binary, and tong itself never links clap_mangen (its
//! start-up time and resident set are measured against crun's).
//!
//! Each page has runc's sections: NAME, SYNOPSIS, DESCRIPTION, OPTIONS (from
//! clap), then EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES and SEE ALSO from
//! `text.rs`, which holds the prose README.md's tables give.

#[path = "../../../src/cli.rs"]
#[allow(dead_code)]
pub mod cli;
mod text;

use clap::CommandFactory;
use clap_mangen::roff::{bold, roman, Inline, Roff};
use clap_mangen::Man;

pub use text::{page_text, PageText};

/// The man section of every page (system administration, as runc's).
pub const SECTION: &str = "8";

/// One rendered page: `tong.8`, `tong-create.8`, ...
pub struct Page {
    /// "tong" or "tong-create"
    pub name: String,
    /// The command's name as typed: "" for tong, "create", ...
    pub command: String,
    pub roff: String,
}

impl Page {
    pub fn file_name(&self) -> String {
        format!("{}.{SECTION}", self.name)
    }
}

/// tong's clap command, as tong(8) shows it.
pub fn command() -> clap::Command {
    let mut cmd = cli::Cli::command()
        .about("an OCI container runtime with runc's command line")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_help_heading("COMMANDS")
        .disable_help_subcommand(true);
    for name in names(&cmd) {
        cmd = cmd.mut_subcommand(&name, plain_about);
    }
    cmd.build();
    cmd
}

/// The commands that get a page of their own.
pub fn names(cmd: &clap::Command) -> Vec<String> {
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .map(|s| s.get_name().to_string())
        .collect()
}

/// One command as its page shows it: `tong NAME [OPTIONS] ...` without the
/// global options (they go before the command; tong(8) has them).
pub fn page_command(name: &str) -> clap::Command {
    let mut sub = cli::Cli::command()
        .find_subcommand(name)
        .unwrap_or_else(|| panic!("no command {name}"))
        .clone()
        .bin_name(format!("tong {name}"))
        .display_name(format!("tong-{name}"));
    sub = plain_about(sub);
    // clap_mangen leaves out visible aliases (update's --cpu-share).
    let aliased: Vec<(String, String)> = sub
        .get_arguments()
        .filter_map(|a| {
            let aliases = a.get_visible_aliases()?;
            let also = aliases
                .iter()
                .map(|l| format!("--{l}"))
                .collect::<Vec<_>>()
                .join(", ");
            let help = a.get_help().map(|h| format!("{h} ")).unwrap_or_default();
            Some((a.get_id().to_string(), format!("{help}(also {also})")))
        })
        .collect();
    for (id, help) in aliased {
        sub = sub.mut_arg(id, |a| a.help(help));
    }
    if sub.get_arguments().any(|a| a.get_id() == "id") {
        sub = sub.mut_arg("id", |a| a.help("The container's id"));
    }
    sub.build();
    sub
}

/// The one-line summary without markdown backticks.
fn plain_about(c: clap::Command) -> clap::Command {
    let about = c.get_about().map(|a| a.to_string().replace('`', ""));
    match about {
        Some(a) => c.about(a),
        None => c,
    }
}

/// Every page; `date` (YYYY-MM-DD, may be empty) goes in each title line.
pub fn pages(date: &str) -> Vec<Page> {
    let top = command();
    let names = names(&top);
    let mut out = vec![render(&top, "", date, &names)];
    for name in &names {
        out.push(render(&page_command(name), name, date, &names));
    }
    out
}

fn render(cmd: &clap::Command, command: &str, date: &str, all: &[String]) -> Page {
    let name = if command.is_empty() {
        "tong".to_string()
    } else {
        format!("tong-{command}")
    };
    let text = page_text(command);
    let man = Man::new(cmd.clone())
        .title(name.to_uppercase())
        .section(SECTION)
        .date(date)
        .source(format!("tong {}", env!("CARGO_PKG_VERSION")))
        .manual("System Manager's Manual");
    let mut buf = Vec::new();
    let w = |r: std::io::Result<()>| r.expect("render into memory");
    w(man.render_title(&mut buf));
    w(man.render_name_section(&mut buf));
    w(man.render_synopsis_section(&mut buf));
    w(man.render_description_section(&mut buf));
    let mut roff = Roff::new();
    paragraphs(&mut roff, text.description);
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        roff.to_writer(&mut buf).expect("render into memory");
        roff = Roff::new();
        w(man.render_options_section(&mut buf));
        if !command.is_empty() {
            paragraphs(
                &mut roff,
                &["The global options (`--root`, `--log`, `--log-format`, `--debug`, `--systemd-cgroup`, `--rootless`) go before the command; see tong(8)."],
            );
        }
    }
    if command.is_empty() {
        roff.to_writer(&mut buf).expect("render into memory");
        roff = Roff::new();
        w(man.render_subcommands_section(&mut buf));
        paragraphs(
            &mut roff,
            &["Each command has its own page: `man tong-create`, `man tong-run`, ..."],
        );
    }
    section(&mut roff, "EXIT STATUS", text.exit_status);
    section(&mut roff, "ENVIRONMENT", text.environment);
    section(&mut roff, "FILES", text.files);
    if !text.examples.is_empty() {
        roff.control("SH", ["EXAMPLES"]);
        for ex in text.examples {
            roff.control("PP", []);
            roff.text([roman(ex.0)]);
            roff.control("PP", []);
            roff.control("RS", ["4"]);
            roff.control("nf", []);
            roff.text([roman(ex.1)]);
            roff.control("fi", []);
            roff.control("RE", []);
        }
    }
    roff.control("SH", ["SEE ALSO"]);
    let mut refs: Vec<String> = Vec::new();
    if !command.is_empty() {
        refs.push("tong(8)".into());
    }
    let mut all = all.to_vec();
    all.sort();
    refs.extend(
        all.iter()
            .filter(|c| c.as_str() != command)
            .map(|c| format!("tong-{c}(8)")),
    );
    refs.extend(text.see_also.iter().map(|s| s.to_string()));
    let mut inl: Vec<Inline> = Vec::new();
    for (i, r) in refs.iter().enumerate() {
        let (page, sect) = r.split_once('(').expect("name(section)");
        inl.push(bold(page));
        inl.push(roman(format!(
            "({sect}{}",
            if i + 1 < refs.len() { ", " } else { "" }
        )));
    }
    roff.text(inl);
    roff.to_writer(&mut buf).expect("render into memory");
    Page {
        name,
        command: command.to_string(),
        roff: String::from_utf8(buf).expect("roff is UTF-8"),
    }
}

fn section(roff: &mut Roff, title: &str, items: &[(&str, &str)]) {
    if items.is_empty() {
        return;
    }
    roff.control("SH", [title]);
    for (term, body) in items {
        if term.is_empty() {
            roff.control("PP", []);
        } else {
            roff.control("TP", []);
            roff.text(inline(term));
        }
        roff.text(inline(body));
    }
}

fn paragraphs(roff: &mut Roff, paras: &[&str]) {
    for p in paras {
        roff.control("PP", []);
        roff.text(inline(p));
    }
}

/// Prose with `code` spans: the spans are set in bold, as man pages set
/// commands, flags and file names.
fn inline(text: &str) -> Vec<Inline> {
    text.split('`')
        .enumerate()
        .filter(|(_, s)| !s.is_empty())
        .map(|(i, s)| if i % 2 == 1 { bold(s) } else { roman(s) })
        .collect()
}

/// YYYY-MM-DD of a time in seconds since the epoch (UTC).
pub fn iso_date(secs: i64) -> String {
    // Howard Hinnant's days-to-civil algorithm.
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::iso_date(0), "1970-01-01");
        assert_eq!(super::iso_date(951_782_400), "2000-02-29");
        assert_eq!(super::iso_date(1_700_000_000), "2023-11-14");
    }
}
