//! A container's status and which command may act on it in which status: the
//! rules, and runc's words for each refusal, in one place. Commands ask
//! (`status.can_start()?`) instead of matching on the status themselves.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The init exists but has not reported ready (create still runs, or died).
    Creating,
    /// The init waits for `start`.
    Created,
    /// The user process runs.
    Running,
    /// Frozen by `pause`.
    Paused,
    /// The init is gone.
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        };
        f.write_str(s)
    }
}

use Status::*;

impl Status {
    pub fn can_start(self) -> Result<()> {
        match self {
            Created => Ok(()),
            Stopped => bail!("cannot start a container that has stopped"),
            Creating => bail!("cannot start a container that is still being created"),
            Paused => bail!("cannot start a container in the paused state"),
            Running => bail!("cannot start an already running container"),
        }
    }

    /// `exec`: a paused container only with --ignore-paused.
    pub fn can_exec(self, ignore_paused: bool) -> Result<()> {
        match self {
            Running | Created => Ok(()),
            Paused if ignore_paused => Ok(()),
            Paused => bail!("cannot exec in a paused container (use --ignore-paused to override)"),
            Stopped => bail!("cannot exec in a stopped container"),
            Creating => bail!("cannot exec in a container that is being created"),
        }
    }

    /// `kill`: Ok(false) when there is nothing to signal and that is not an
    /// error (`kill --all` of a stopped container, which tools send and
    /// expect to succeed).
    pub fn can_kill(self, all: bool) -> Result<bool> {
        match self {
            Stopped if all => Ok(false),
            Stopped => bail!("container not running"),
            _ => Ok(true),
        }
    }

    pub fn can_pause(self) -> Result<()> {
        match self {
            Running | Created => Ok(()),
            // runc's ErrNotRunning, for a paused container too
            _ => bail!("container not running"),
        }
    }

    pub fn can_resume(self) -> Result<()> {
        match self {
            Paused => Ok(()),
            _ => bail!("container not paused"),
        }
    }

    /// `delete`: Ok(true) when its processes must be killed first (a
    /// created container, or any live one with --force).
    pub fn can_delete(self, id: &str, force: bool) -> Result<bool> {
        match self {
            Stopped => Ok(false),
            Created => Ok(true),
            _ if force => Ok(true),
            s => bail!("cannot delete container {id} that is not stopped: {s}"),
        }
    }

    pub fn can_update(self) -> Result<()> {
        match self {
            Stopped => bail!("container not running"),
            _ => Ok(()),
        }
    }

    /// `events`.
    pub fn can_watch(self, id: &str) -> Result<()> {
        match self {
            Stopped => bail!("container with id {id} is not running"),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Status; 5] = [Creating, Created, Running, Paused, Stopped];

    #[test]
    fn start_only_from_created() {
        for s in ALL {
            assert_eq!(s.can_start().is_ok(), s == Created, "{s}");
        }
    }

    #[test]
    fn exec_rules() {
        for s in ALL {
            assert_eq!(s.can_exec(false).is_ok(), matches!(s, Running | Created));
            assert_eq!(
                s.can_exec(true).is_ok(),
                matches!(s, Running | Created | Paused)
            );
        }
        assert!(Paused
            .can_exec(false)
            .unwrap_err()
            .to_string()
            .contains("--ignore-paused"));
    }

    #[test]
    fn kill_pause_resume_delete() {
        assert!(!Stopped.can_kill(true).unwrap());
        assert!(Stopped.can_kill(false).is_err());
        assert!(Running.can_kill(false).unwrap());
        assert!(Created.can_pause().is_ok() && Running.can_pause().is_ok());
        assert!(Paused.can_pause().is_err() && Stopped.can_pause().is_err());
        for s in ALL {
            assert_eq!(s.can_resume().is_ok(), s == Paused);
        }
        assert!(!Stopped.can_delete("x", false).unwrap());
        assert!(Created.can_delete("x", false).unwrap());
        assert!(Running.can_delete("x", false).is_err());
        assert!(Running.can_delete("x", true).unwrap());
        assert!(Paused
            .can_delete("x", false)
            .unwrap_err()
            .to_string()
            .ends_with("not stopped: paused"));
        assert!(Stopped.can_update().is_err() && Paused.can_update().is_ok());
        assert!(Stopped.can_watch("x").is_err() && Created.can_watch("x").is_ok());
    }

    #[test]
    fn serialises_lowercase() {
        assert_eq!(serde_json::to_string(&Paused).unwrap(), "\"paused\"");
        for s in ALL {
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
    }
}
