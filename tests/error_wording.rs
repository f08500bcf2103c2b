//! Every message a user can see reads like runc's, never like Rust's: this
//! test reads tong's sources (src/ and crates/seccomp/src, test modules left
//! out) and fails on
//! - a Debug placeholder (`{x:?}`) in the text of an error, a warning, a debug
//!   line or a panic message: Debug output is Rust's notation (`Os { code: 2,
//!   kind: NotFound, .. }`, `Some(..)`, `"\u{1b}"`); quote with
//!   `logging::go_quote` instead, as runc's %q does;
//! - Rust-internal words in such a text (`Os {`, `Custom {`, `unwrap`,
//!   `anyhow`, `panicked`, `RUST_BACKTRACE`, `Some(`, `None`, ...);
//! - `.unwrap()`, `dbg!`, `todo!`, `unimplemented!` and `panic!` anywhere
//!   outside tests (a panic is the one error that cannot be worded).
//!
//! A message is a string literal anywhere inside the arguments of `bail!`,
//! `anyhow!`, `ensure!`, `.context(`, `.with_context(`, `error(`, `warn(`,
//! `debug!`, `eprintln!`, `panic!`, `.expect(`, `unreachable!` or thiserror's
//! `#[error(`, including a `format!` nested in them.

use std::path::{Path, PathBuf};

const MESSAGE_CALLS: &[&str] = &[
    "bail",
    "anyhow",
    "ensure",
    "context",
    "with_context",
    "error",
    "warn",
    "debug",
    "eprintln",
    "eprint",
    "panic",
    "expect",
    "unreachable",
];

const RUST_WORDS: &[&str] = &[
    "Os {",
    "Custom {",
    "kind: ",
    "Error {",
    "unwrap",
    "anyhow",
    "panicked",
    "RUST_BACKTRACE",
    "RUST_LOG",
    "Some(",
    "None",
    "Ok(",
    "Err(",
    "thread 'main'",
];

const FORBIDDEN_CODE: &[&str] = &[".unwrap()", "dbg!(", "todo!(", "unimplemented!(", "panic!("];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The source without `#[cfg(test)]` items (a test module or function).
fn strip_tests(src: &str) -> String {
    let mut out = String::new();
    let mut rest = src;
    while let Some(i) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        // Skip to the item's body and past its matching brace (or `;`).
        let body = after.find(['{', ';']).unwrap_or(after.len());
        if after.as_bytes().get(body) != Some(&b'{') {
            rest = &after[(body + 1).min(after.len())..];
            continue;
        }
        let mut depth = 0;
        let mut end = after.len();
        for (j, c) in after[body..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = body + j + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        // Keep the line numbers of what follows.
        out.extend(std::iter::repeat_n(
            '\n',
            after[..end].matches('\n').count(),
        ));
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

struct Literal {
    line: usize,
    text: String,
    /// The calls whose arguments hold it, innermost last.
    calls: Vec<String>,
}

/// String literals with the calls they are arguments of; comments and char
/// literals skipped.
fn literals(src: &str) -> Vec<Literal> {
    let b: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let (mut i, mut line) = (0, 1);
    let ident_before = |end: usize| {
        let mut s = end;
        while s > 0 && (b[s - 1].is_alphanumeric() || b[s - 1] == '_') {
            s -= 1;
        }
        b[s..end].iter().collect::<String>()
    };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        match c {
            '\n' => line += 1,
            '/' if next == Some('/') => {
                while i < b.len() && b[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '/' if next == Some('*') => {
                while i + 1 < b.len() && !(b[i] == '*' && b[i + 1] == '/') {
                    line += usize::from(b[i] == '\n');
                    i += 1;
                }
                i += 2;
                continue;
            }
            '\'' => {
                // A char literal ('x', '\n', '\'', '\u{..}') or a lifetime.
                let close = if next == Some('\\') {
                    (i + 2..b.len().min(i + 12)).find(|&j| b[j] == '\'' && j > i + 2)
                } else if b.get(i + 2) == Some(&'\'') {
                    Some(i + 2)
                } else {
                    None
                };
                i = close.map_or(i + 1, |j| j + 1);
                continue;
            }
            '(' => {
                // `name(`, `name!(`, `#[name(`
                let end = if i > 0 && b[i - 1] == '!' { i - 1 } else { i };
                stack.push(ident_before(end));
            }
            ')' => {
                stack.pop();
            }
            '"' | 'r' => {
                let hashes = b[i + 1..].iter().take_while(|&&h| h == '#').count();
                let raw = c == 'r'
                    && (i == 0 || !(b[i - 1].is_alphanumeric() || b[i - 1] == '_'))
                    && b.get(i + 1 + hashes) == Some(&'"');
                if c == 'r' && !raw {
                    i += 1;
                    continue;
                }
                let start_line = line;
                let mut text = String::new();
                if raw {
                    i += 2 + hashes;
                    let closing: String = std::iter::once('"')
                        .chain(std::iter::repeat_n('#', hashes))
                        .collect();
                    while i < b.len()
                        && !b[i..]
                            .iter()
                            .take(closing.len())
                            .copied()
                            .eq(closing.chars())
                    {
                        line += usize::from(b[i] == '\n');
                        text.push(b[i]);
                        i += 1;
                    }
                    i += closing.len();
                } else {
                    i += 1;
                    while i < b.len() && b[i] != '"' {
                        if b[i] == '\\' {
                            text.push(b[i]);
                            i += 1;
                        }
                        line += usize::from(b[i] == '\n');
                        text.push(b[i]);
                        i += 1;
                    }
                    i += 1;
                }
                out.push(Literal {
                    line: start_line,
                    text,
                    calls: stack.clone(),
                });
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

fn debug_placeholder(text: &str) -> Option<&str> {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        if rest[open..].starts_with("{{") {
            rest = &rest[open + 2..];
            continue;
        }
        let close = rest[open..].find('}')? + open;
        let inner = &rest[open + 1..close];
        if inner.contains(':') && inner.ends_with('?') {
            return Some(&rest[open..=close]);
        }
        rest = &rest[close + 1..];
    }
    None
}

fn problems_in(path: &Path, src: &str) -> Vec<String> {
    // A module that is test code as a whole (src/fuzz.rs).
    if src.lines().any(|l| l.trim() == "#![cfg(test)]") {
        return Vec::new();
    }
    let code = strip_tests(src);
    let mut found = Vec::new();
    for lit in literals(&code) {
        if !lit
            .calls
            .iter()
            .any(|c| MESSAGE_CALLS.contains(&c.as_str()))
        {
            continue;
        }
        let at = format!("{}:{}", path.display(), lit.line);
        if let Some(p) = debug_placeholder(&lit.text) {
            found.push(format!("{at}: Debug placeholder {p} in {:?}", lit.text));
        }
        for w in RUST_WORDS {
            if lit.text.contains(w) {
                found.push(format!("{at}: Rust wording {w:?} in {:?}", lit.text));
            }
        }
    }
    // Forbidden code, outside comments and literals: blank both out first.
    for (n, l) in code.lines().enumerate() {
        let l = l.split("//").next().unwrap_or("");
        for f in FORBIDDEN_CODE {
            if l.contains(f) {
                found.push(format!("{}:{}: {f} outside tests", path.display(), n + 1));
            }
        }
    }
    found
}

#[test]
fn user_visible_messages_have_no_rust_wording() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&repo.join("src"), &mut files);
    rust_files(&repo.join("crates/seccomp/src"), &mut files);
    files.sort();
    let mut problems = Vec::new();
    let mut messages = 0;
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap();
        messages += literals(&strip_tests(&src))
            .iter()
            .filter(|l| l.calls.iter().any(|c| MESSAGE_CALLS.contains(&c.as_str())))
            .count();
        problems.extend(problems_in(f.strip_prefix(repo).unwrap(), &src));
    }
    // The scan must have seen the messages, or it proves nothing.
    assert!(
        messages > 200,
        "only {messages} messages found in {} files",
        files.len()
    );
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_scanner_finds_what_it_must() {
    let src = r##"
fn f() -> Result<()> {
    let c = '"'; let l: &'static str = "ok";
    bail!("open {path:?}: {e}");
    x.with_context(|| format!("write {} to {:?}", a, b))?;
    // bail!("{commented:?}")
    Err(anyhow!(r#"got None from "x""#))
}
fn g() { let v = y.unwrap(); logging::error(&format!("{e:#?}")); }
#[cfg(test)]
mod tests { fn t() { bail!("{x:?}"); z.unwrap(); } }
"##;
    let p = problems_in(Path::new("x.rs"), src);
    let text = p.join("\n");
    assert!(
        text.contains("x.rs:4: Debug placeholder {path:?}"),
        "{text}"
    );
    assert!(text.contains("x.rs:5: Debug placeholder {:?}"), "{text}");
    assert!(text.contains("x.rs:7: Rust wording \"None\""), "{text}");
    assert!(text.contains("x.rs:9: .unwrap() outside tests"), "{text}");
    assert!(text.contains("x.rs:9: Debug placeholder {e:#?}"), "{text}");
    assert_eq!(p.len(), 5, "{text}");
    // Plain literals outside message calls are not messages.
    assert!(problems_in(Path::new("y.rs"), "fn h() { let s = format!(\"{x:?}\"); }").is_empty());
}
