//! `exec`: run a new process in a container's namespaces and cgroup
//! (`container::exec`), with the container's process as the template for
//! whatever the flags leave unset.

use super::Global;
use crate::cli::ExecArgs;
use crate::container::{self, ExecOpts};
use crate::state::Container;
use crate::{foreground, tty};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{Capability, Process};
use std::os::fd::AsRawFd;
use std::str::FromStr;

/// `--user` is numeric `UID[:GID]` and nothing else (crun CVE-2026-30892 came
/// from lax parsing).
pub fn parse_user(s: &str) -> Result<(u32, Option<u32>)> {
    let bad = || {
        anyhow::anyhow!(
            "invalid --user {}: must be UID[:GID], numeric",
            crate::logging::go_quote(s)
        )
    };
    let (u, g) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let num = |x: &str, what: &str| -> Result<u32> {
        if x.is_empty() || !x.bytes().all(|b| b.is_ascii_digit()) {
            // runc's words (Go's strconv.Atoi)
            bail!(
                "parsing {x} as int for {what} failed: strconv.Atoi: parsing {}: invalid syntax",
                crate::logging::go_quote(x)
            );
        }
        // u32::MAX is (uid_t)-1: "leave unchanged" to setresuid.
        x.parse::<u32>()
            .ok()
            .filter(|v| *v != u32::MAX)
            .ok_or_else(bad)
    };
    Ok((num(u, "uid")?, g.map(|g| num(g, "gid")).transpose()?))
}

/// An `exec --process` file's contents (read from `path`): the process to
/// run, checked as the config's is. Errors name the field.
pub fn parse_process_file(data: &[u8], path: &std::path::Path) -> Result<Process> {
    let what = format!("invalid process file {}", path.display());
    let (mut p, mut ignored): (Process, _) =
        crate::bundle::parse_json(data, "", "capabilities", &what)?;
    ignored.extend(crate::caps::retain_available(&mut p));
    crate::caps::warn_ignored(ignored);
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        bail!("process args cannot be empty");
    }
    crate::bundle::validate::process("process file", &p)?;
    Ok(p)
}

fn build_process(template: Option<&Process>, a: &ExecArgs) -> Result<Process> {
    if let Some(path) = &a.process {
        let data = std::fs::read(path).with_context(|| format!("open {}", path.display()))?;
        return parse_process_file(&data, path);
    }
    if a.args.is_empty() {
        bail!("process args cannot be empty");
    }
    let mut p = template.cloned().unwrap_or_default();
    p.set_args(Some(a.args.clone()));
    p.set_terminal(Some(a.tty));
    p.set_console_size(None);
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(a.env.iter().cloned());
    p.set_env(Some(env));
    if let Some(u) = &a.user {
        let (uid, gid) = parse_user(u)?;
        p.user_mut().set_uid(uid);
        if let Some(g) = gid {
            p.user_mut().set_gid(g);
        }
    }
    if !a.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(a.additional_gids.clone()));
    }
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        // Unknown or unavailable names are skipped with a warning, as runc does.
        crate::caps::warn_ignored(
            a.cap
                .iter()
                .filter(|n| !crate::caps::settable(n))
                .cloned()
                .collect(),
        );
        for name in &a.cap {
            let Ok(c) = Capability::from_str(name.trim_start_matches("CAP_")) else {
                continue;
            };
            if !crate::caps::settable(name) {
                continue;
            }
            // Never inheritable (CVE-2022-29162).
            for set in [
                caps.bounding().clone(),
                caps.effective().clone(),
                caps.permitted().clone(),
            ]
            .iter_mut()
            .enumerate()
            {
                let mut s = set.1.clone().unwrap_or_default();
                s.insert(c);
                match set.0 {
                    0 => caps.set_bounding(Some(s)),
                    1 => caps.set_effective(Some(s)),
                    _ => caps.set_permitted(Some(s)),
                };
            }
        }
        p.set_capabilities(Some(caps));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if a.apparmor.is_some() {
        p.set_apparmor_profile(a.apparmor.clone());
    }
    if a.process_label.is_some() {
        p.set_selinux_label(a.process_label.clone());
    }
    Ok(p)
}

pub fn exec(g: &Global, a: &ExecArgs) -> Result<i32> {
    let c = Container::load(&g.root, &a.id)?;
    c.status().can_exec(a.ignore_paused)?;
    let process = build_process(c.state.process.as_ref(), a)?;
    crate::bundle::validate::selinux_label(&process)?;
    let terminal = process.terminal().unwrap_or(false);
    // A terminal goes to --console-socket, or in the foreground to us to relay.
    let (console, relay) = match (terminal, &a.console_socket) {
        (false, _) => (None, None),
        (true, Some(path)) => (Some(tty::connect_console(path)?), None),
        (true, None) if !a.detach => {
            let (ours, theirs) = tty::relay_pair()?;
            (Some(theirs), Some(ours))
        }
        (true, None) => {
            bail!("cannot allocate tty if tong will detach without setting console socket")
        }
    };
    let pid = container::exec(
        c,
        ExecOpts {
            process,
            console,
            preserve_fds: a.preserve_fds,
            sub_cgroups: &a.cgroup,
            pid_file: a.pid_file.as_deref(),
            pidfd_socket: a.pidfd_socket.as_deref(),
        },
    )?;
    if a.detach {
        return Ok(0);
    }
    let master = match &relay {
        Some(s) => Some(tty::recv_fd(s.as_raw_fd())?),
        None => None,
    };
    foreground::with_signals_blocked(|| foreground::wait(pid, master.as_ref()))
}
