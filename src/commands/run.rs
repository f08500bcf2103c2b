//! `run`: create + start. In the foreground it forwards signals to the init,
//! relays a terminal if the container has one and nobody else takes it, waits,
//! deletes (unless --keep) and exits with the container's code (128+N for signal N).

use super::Global;
use crate::cli::RunArgs;
use crate::{container, foreground, tty};
use anyhow::{Context, Result};
use std::os::fd::AsRawFd;

pub fn run(g: &Global, a: &RunArgs) -> Result<i32> {
    // Signals are blocked before the init exists to forward them, not die of them.
    foreground::with_signals_blocked(|| run_blocked(g, a))
}

fn run_blocked(g: &Global, a: &RunArgs) -> Result<i32> {
    let c = &a.create;
    let plan = g.load_plan(c)?;
    // A terminal with nobody to hand it to: keep it and relay it ourselves.
    let relay = !a.detach && c.console_socket.is_none() && plan.terminal();
    let (ours, theirs) = match relay {
        true => tty::relay_pair().map(|(x, y)| (Some(x), Some(y)))?,
        false => (None, None),
    };
    let created = container::create(&g.create_opts(c)?, &plan, theirs)?;
    let pid = created.pid;
    let checkpoint = || -> Result<()> {
        crate::failpoint!("run.created");
        Ok(())
    };
    let master = match &ours {
        Some(s) => Some(tty::recv_fd(s.as_raw_fd()).context("receive the container's terminal")?),
        None => None,
    };
    // A foreground run stays the service's main process (runc's MAINPID).
    let started = checkpoint().and_then(|()| container::start(&created.container, !a.detach));
    drop(created.container);
    match started {
        Ok(()) => {}
        // The init failed after start and said why on the container's
        // stderr: as runc's, the container ran and exited 1 (waited for below).
        Err(e) if !a.detach && e.is::<crate::start_socket::FailedAfterStart>() => {}
        Err(e) => {
            let _ = container::delete(&g.root, &c.id, true);
            return Err(e);
        }
    }
    crate::failpoint!("run.started");
    if a.detach {
        return Ok(0);
    }
    let code = foreground::wait(pid, master.as_ref())?;
    if !a.keep {
        container::delete(&g.root, &c.id, true)?;
    }
    Ok(code)
}
