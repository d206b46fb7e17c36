//! The lifecycle state of one actor, as the supervisor tracks it.
//!
//! The process state owns the pidfd, so a stopped actor has nothing left to signal. Everything a
//! person needs to see is mirrored on disk (`status.json`, `.pid`); this is only what the event
//! loop needs between two events.

use std::time::{Duration, Instant};

use eos::pidfd::Pidfd;
use eos::spawn_request::SpawnRequest;
use eos::{ActorDir, ActorId};

#[derive(Debug)]
pub enum Process {
    /// Started, but not yet seen catching or blocking SIGUSR1: signalling it now could kill it.
    Starting {
        pidfd: Pidfd,
        next_check: Instant,
        backoff: Duration,
    },
    /// Takes SIGUSR1.
    Ready { pidfd: Pidfd },
    /// Not running; `status.json` says why.
    Stopped,
}

impl Process {
    pub fn starting(pidfd: Pidfd) -> Self {
        Process::Starting {
            pidfd,
            next_check: Instant::now(),
            backoff: Duration::from_millis(1),
        }
    }

    pub fn pidfd(&self) -> Option<&Pidfd> {
        match self {
            Process::Starting { pidfd, .. } | Process::Ready { pidfd } => Some(pidfd),
            Process::Stopped => None,
        }
    }
}

/// Where the actor's `current` message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Current {
    /// No `current`: the next pending message can be delivered.
    Empty,
    /// `current` exists but the actor has not been told (restored after a crash, or placed by
    /// a person): signal once the actor is ready.
    Unsignalled,
    /// `current` exists and the actor was signalled; wait for it to delete the file. Signals
    /// can be lost (a shell may drop one that arrives while it runs its trap), so if the file
    /// is still there at `retry_at`, the actor is signalled again, less often each time.
    Signalled {
        retry_at: Instant,
        backoff: Duration,
    },
}

#[derive(Debug)]
pub struct Actor {
    pub id: ActorId,
    pub dir: ActorDir,
    /// How it was started; `None` when `spawn.json` is missing or unreadable.
    pub record: Option<SpawnRequest>,
    pub process: Process,
    pub current: Current,
    /// The id of the message it was given as `current`, until it is done with it.
    pub handling: Option<String>,
    /// How many times it was started, restarts by a new supervisor included.
    pub starts: u32,
}
