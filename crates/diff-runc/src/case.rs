//! What one case is: a bundle, the status its container is brought to, the
//! commands then run; and how a case is run under one runtime.

use crate::norm::{self, Norm, Subst};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The status a container is brought to before the steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    None,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::None,
        Status::Created,
        Status::Running,
        Status::Paused,
        Status::Stopped,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Status::None => "none",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

pub type Edit = Box<dyn Fn(&mut Value) + Send + Sync>;

pub enum Config {
    /// The default config (src/default-config.json, no terminal), its
    /// process args set and then edited.
    Edit(Vec<String>, Option<Edit>),
    /// config.json's exact text (broken JSON and the like).
    Raw(String),
    /// No bundle at all.
    Missing,
}

#[derive(Clone)]
pub enum StepKind {
    /// The runtime with `--root ROOT` and these arguments.
    Run(Vec<String>),
    /// A file the steps made (a --log, a --pid-file), read back.
    Read(String),
    /// As Run, with a console socket listening at {dir}/tty.sock (pass it
    /// as `--console-socket {dir}/tty.sock`): what the container wrote to
    /// its terminal, until the last slave closed, follows the runtime's
    /// stdout after a "== tty" line.
    Tty(Vec<String>),
}

#[derive(Clone)]
pub struct Step {
    pub kind: StepKind,
    pub norm: Norm,
    pub timeout: Duration,
}

pub struct Case {
    pub name: String,
    pub config: Config,
    pub setup: Status,
    pub steps: Vec<Step>,
    /// Whether the container's `state` after the steps is compared.
    pub state_after: bool,
    /// Files written next to the bundle before anything runs ({dir}/NAME).
    pub files: Vec<(String, String)>,
}

/// One step's outcome, normalised.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    pub label: String,
    pub exit: String,
    pub stdout: String,
    pub stderr: String,
}

/// A case run under one runtime.
#[derive(Debug, Default)]
pub struct Record {
    pub setup_error: Option<String>,
    pub steps: Vec<Outcome>,
    pub state: Option<Outcome>,
}

pub struct Runtime {
    pub label: &'static str,
    pub bin: PathBuf,
    pub root: PathBuf,
    pub work: PathBuf,
}

pub struct Raw {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Raw {
    pub fn exit(&self) -> String {
        match (self.timed_out, self.code, self.signal) {
            (true, _, _) => "timeout".into(),
            (_, Some(c), _) => c.to_string(),
            (_, _, Some(s)) => format!("signal {s}"),
            _ => "?".into(),
        }
    }
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

impl Runtime {
    /// Runs the runtime, stdout and stderr to files (a detached container
    /// keeps a pipe open for ever), killed at `timeout`.
    pub fn run(&self, args: &[String], cwd: &Path, timeout: Duration) -> Raw {
        use std::os::unix::process::ExitStatusExt;
        let tmp = cwd.parent().unwrap_or(cwd);
        let (o, e) = (tmp.join(".out"), tmp.join(".err"));
        let spawn = (|| {
            let mut c = Command::new(&self.bin);
            c.arg("--root")
                .arg(&self.root)
                .args(args)
                .current_dir(if cwd.is_dir() { cwd } else { tmp })
                .stdin(Stdio::null())
                .stdout(fs::File::create(&o)?)
                .stderr(fs::File::create(&e)?);
            c.spawn()
        })();
        let mut child = match spawn {
            Ok(c) => c,
            Err(err) => {
                return Raw {
                    code: None,
                    signal: None,
                    timed_out: false,
                    stdout: String::new(),
                    stderr: format!("spawn {}: {err}", self.bin.display()),
                }
            }
        };
        let t0 = Instant::now();
        let (status, timed_out) = loop {
            if let Ok(Some(s)) = child.try_wait() {
                break (Some(s), false);
            }
            if t0.elapsed() > timeout {
                let _ = child.kill();
                break (child.wait().ok(), true);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let read =
            |p: &Path| String::from_utf8_lossy(&fs::read(p).unwrap_or_default()).into_owned();
        Raw {
            code: status.and_then(|s| s.code()),
            signal: status.and_then(|s| s.signal()),
            timed_out,
            stdout: read(&o),
            stderr: read(&e),
        }
    }

    /// The same runtime with the state root of one case.
    pub fn for_case(&self, dir: &Path) -> Runtime {
        Runtime {
            label: self.label,
            bin: self.bin.clone(),
            root: dir.join("root"),
            work: self.work.clone(),
        }
    }

    fn pid_of(&self, id: &str, cwd: &Path) -> Option<(String, i64)> {
        let r = self.run(
            &["state".into(), "--".into(), id.into()],
            cwd,
            Duration::from_secs(10),
        );
        let v: Value = serde_json::from_str(&r.stdout).ok()?;
        Some((v["status"].as_str()?.to_string(), v["pid"].as_i64()?))
    }
}

/// The default config every bundle starts from: tong's `spec` output, which
/// is runc's default spec.
const DEFAULT_CONFIG: &str = include_str!("../../../src/default-config.json");

pub fn write_bundle(config: &Config, bundle: &Path, base_rootfs: &Path) -> std::io::Result<()> {
    let v = match config {
        Config::Missing => return Ok(()),
        Config::Raw(text) => {
            fs::create_dir_all(bundle)?;
            tong_testkit::rootfs::clone_tree(base_rootfs, &bundle.join("rootfs"))?;
            return fs::write(bundle.join("config.json"), text);
        }
        Config::Edit(args, edit) => {
            let mut v: Value = serde_json::from_str(DEFAULT_CONFIG).expect("default config");
            v["process"]["terminal"] = Value::Bool(false);
            v["process"]["args"] = args.iter().map(|a| Value::String(a.clone())).collect();
            if let Some(e) = edit {
                e(&mut v);
            }
            v
        }
    };
    fs::create_dir_all(bundle)?;
    tong_testkit::rootfs::clone_tree(base_rootfs, &bundle.join("rootfs"))?;
    fs::write(
        bundle.join("config.json"),
        serde_json::to_string_pretty(&v).unwrap(),
    )
}

fn expand(s: &str, id: &str, id2: &str, dir: &Path) -> String {
    s.replace("{id2}", id2)
        .replace("{id}", id)
        .replace("{bundle}", &dir.join("bundle").to_string_lossy())
        .replace("{dir}", &dir.to_string_lossy())
}

/// Runs `case` under `rt` in `dir` with container ids `id` and `id2`.
pub fn run_case(case: &Case, rt: &Runtime, dir: &Path, id: &str, id2: &str, base: &Path) -> Record {
    // A state root of its own: `list` sees only this case's containers.
    let rt = &rt.for_case(dir);
    let mut rec = Record::default();
    let bundle = dir.join("bundle");
    if let Err(e) = fs::create_dir_all(dir)
        .and_then(|_| write_bundle(&case.config, &bundle, base))
        .and_then(|_| {
            for (name, text) in &case.files {
                fs::write(dir.join(name), expand(text, id, id2, dir))?;
            }
            // Configs may name the case's directory and ids ({dir}, {id}).
            let cfg = bundle.join("config.json");
            if let Ok(text) = fs::read_to_string(&cfg) {
                fs::write(&cfg, expand(&text, id, id2, dir))?;
            }
            Ok(())
        })
    {
        rec.setup_error = Some(format!("bundle: {e}"));
        return rec;
    }
    let mut subst = Subst::default();
    subst.add(&dir.to_string_lossy(), "<dir>");
    subst.add(&rt.root.to_string_lossy(), "<root>");
    subst.add(&rt.bin.to_string_lossy(), "<rt>");
    subst.add(id2, "<id2>");
    subst.add(id, "<id>");
    let long = Duration::from_secs(15);
    let b = bundle.to_string_lossy().to_string();
    let mut setup: Vec<Vec<String>> = Vec::new();
    let sv = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    if case.setup != Status::None {
        setup.push(sv(&["create", "--bundle", &b, id]));
    }
    if matches!(
        case.setup,
        Status::Running | Status::Paused | Status::Stopped
    ) {
        setup.push(sv(&["start", id]));
    }
    if case.setup == Status::Paused {
        setup.push(sv(&["pause", id]));
    }
    if case.setup == Status::Stopped {
        setup.push(sv(&["kill", id, "KILL"]));
    }
    for a in &setup {
        let r = rt.run(a, &bundle, long);
        if !r.ok() {
            rec.setup_error = Some(format!(
                "`{}` exited {}: {}",
                a.join(" "),
                r.exit(),
                norm::normalise(r.stderr.trim(), &subst, Norm::Text)
            ));
            return rec;
        }
    }
    if case.setup != Status::None {
        let want = case.setup.name();
        let t0 = Instant::now();
        loop {
            match rt.pid_of(id, &bundle) {
                Some((s, pid)) if s == want => {
                    subst.add_pid(pid);
                    break;
                }
                _ if t0.elapsed() > Duration::from_secs(5) => {
                    rec.setup_error = Some(format!("never reached status {want}"));
                    return rec;
                }
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
    for step in &case.steps {
        let (label, raw) = match &step.kind {
            StepKind::Run(argv) => {
                let a: Vec<String> = argv.iter().map(|s| expand(s, id, id2, dir)).collect();
                let r = rt.run(&a, &bundle, step.timeout);
                (argv.join(" "), r)
            }
            StepKind::Tty(argv) => {
                let a: Vec<String> = argv.iter().map(|s| expand(s, id, id2, dir)).collect();
                let mut r = with_console(&dir.join("tty.sock"), step.timeout, || {
                    rt.run(&a, &bundle, step.timeout)
                });
                r.0.stdout.push_str(&format!("== tty\n{}", r.1));
                (argv.join(" "), r.0)
            }
            StepKind::Read(f) => {
                let p = expand(f, id, id2, dir);
                let (code, text) = match fs::read(&p) {
                    Ok(t) => (0, String::from_utf8_lossy(&t).into_owned()),
                    Err(_) => (1, String::new()),
                };
                let r = Raw {
                    code: Some(code),
                    signal: None,
                    timed_out: false,
                    stdout: text,
                    stderr: String::new(),
                };
                (format!("read {f}"), r)
            }
        };
        // A container made by the steps: its pid is replaced from now on.
        if let Some((_, pid)) = rt.pid_of(id, &bundle) {
            subst.add_pid(pid);
        }
        rec.steps.push(Outcome {
            label,
            exit: raw.exit(),
            stdout: post(&norm::normalise(&raw.stdout, &subst, step.norm), step.norm),
            stderr: norm::normalise(&raw.stderr, &subst, step.norm),
        });
    }
    if case.state_after {
        // A signal takes a moment to kill: after a `kill`, give the status
        // up to half a second to become "stopped" (both runtimes alike).
        let killed = case
            .steps
            .iter()
            .any(|s| matches!(&s.kind, StepKind::Run(a) if a.first().is_some_and(|c| c == "kill")));
        if killed {
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_millis(500)
                && rt.pid_of(id, &bundle).is_some_and(|(s, _)| s != "stopped")
            {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let r = rt.run(&sv(&["state", id]), &bundle, long);
        rec.state = Some(Outcome {
            label: "state (after)".into(),
            exit: r.exit(),
            stdout: norm::normalise(&r.stdout, &subst, Norm::Text),
            stderr: norm::normalise(&r.stderr, &subst, Norm::Text),
        });
    }
    rec
}

/// Runs `f` with a console socket listening at `sock`; returns its result
/// and what the terminal it received showed (CRs dropped), or why none.
fn with_console(sock: &Path, timeout: Duration, f: impl FnOnce() -> Raw) -> (Raw, String) {
    use tong_testkit::console::{read_pty, ConsoleReceiver};
    let recv = match ConsoleReceiver::bind(sock) {
        Ok(r) => r,
        Err(e) => return (f(), format!("(console socket: {e})\n")),
    };
    let reader = std::thread::spawn(move || match recv.recv(Duration::from_secs(10)) {
        Ok(master) => read_pty(master, None, timeout).replace('\r', ""),
        Err(e) => format!("(no terminal: {e})\n"),
    });
    let raw = f();
    let tty = reader.join().unwrap_or_default();
    let _ = fs::remove_file(sock);
    (raw, tty)
}

/// Probe output: mountinfo lines reduced to what must match.
fn post(s: &str, n: Norm) -> String {
    if n == Norm::Help {
        return norm::help_structure(s);
    }
    if n != Norm::Probe {
        return s.to_string();
    }
    s.lines()
        .map(|l| norm::mountinfo_line(l).unwrap_or_else(|| l.to_string()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Removes what the case left: its containers (both ids, and any other the
/// case's own root lists, e.g. `create -- -x`) and its directory. `--` keeps
/// an id that starts with '-' an id.
pub fn cleanup(rt: &Runtime, dir: &Path, ids: &[&str]) {
    let rt = &rt.for_case(dir);
    let t = Duration::from_secs(15);
    let b = dir.join("bundle");
    let listed = rt.run(&["list".into(), "-q".into()], &b, t).stdout;
    let mut all: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    all.extend(listed.lines().filter(|l| !l.is_empty()).map(str::to_string));
    all.dedup();
    for id in &all {
        if rt.pid_of(id, &b).is_some() {
            let _ = rt.run(&["resume".into(), "--".into(), id.clone()], &b, t);
            let _ = rt.run(
                &["delete".into(), "--force".into(), "--".into(), id.clone()],
                &b,
                t,
            );
        }
    }
    tong_testkit::fsutil::safe_remove(dir);
}
