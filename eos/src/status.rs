//! `running/<id>/status.json`: what the supervisor knows of an actor's process, for people and
//! tools, and for a restarted supervisor to know which actors were running.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ActorStatus {
    /// The process runs; `starts` counts how often it was started (restarts included).
    Running { pid: u32, since: u64, starts: u32 },
    /// The process ended by itself: an exit code, or the signal that killed it.
    Exited {
        #[serde(skip_serializing_if = "Option::is_none", default)]
        code: Option<i32>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        signal: Option<String>,
        at: u64,
        starts: u32,
    },
    /// The process could not be started (for example, the program is gone).
    Failed { error: String, at: u64, starts: u32 },
    /// Stopped with the supervisor (`eos down`); the next supervisor starts it again.
    Stopped { at: u64, starts: u32 },
}

impl ActorStatus {
    pub fn is_running(&self) -> bool {
        matches!(self, ActorStatus::Running { .. })
    }

    /// Whether a supervisor starting on the root starts it again: it was running, or stopped
    /// with the last supervisor.
    pub fn resumes(&self) -> bool {
        matches!(
            self,
            ActorStatus::Running { .. } | ActorStatus::Stopped { .. }
        )
    }

    pub fn starts(&self) -> u32 {
        match self {
            ActorStatus::Running { starts, .. }
            | ActorStatus::Exited { starts, .. }
            | ActorStatus::Failed { starts, .. }
            | ActorStatus::Stopped { starts, .. } => *starts,
        }
    }

    /// One word for tables: `running`, `exited`, `failed`.
    pub fn word(&self) -> &'static str {
        match self {
            ActorStatus::Running { .. } => "running",
            ActorStatus::Exited { .. } => "exited",
            ActorStatus::Failed { .. } => "failed",
            ActorStatus::Stopped { .. } => "stopped",
        }
    }
}

/// Seconds since the Unix epoch, as written in status files.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
