//! Intake: reading files that others wrote (`send/`, `spawn/`, spools) safely, and setting
//! aside what cannot be used, with a reason beside it and an entry in the history. Every dead
//! letter is recorded once: the supervisor's own where they are made, the actors' when their
//! reason appears (by event, or at the rescan of `dead/`).

use std::collections::HashSet;
use std::fs::Metadata;
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

use eos::journal::Event;
use eos::{ActorId, MessageId, Root, dead, fsio, journal, layout};
use log::{error, warn};

use crate::history::History;

/// How a file came to the supervisor's attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A file event: the file was closed after writing or renamed in, so it is complete.
    Event,
    /// A rescan: the file may still be being written by someone.
    Scan,
}

/// A file that unreadable content may just be unfinished: found by a scan and written to within
/// the last few seconds. Such a file is left for its closing event or a later scan.
const SETTLE: Duration = Duration::from_secs(5);

/// What reading a candidate file gave.
pub enum Read {
    /// Nothing to read: gone, or a directory (a person's folder, left alone).
    Gone,
    Bytes(Vec<u8>),
    /// Cannot be used, and why.
    Refused(String),
}

/// Where a file is set aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pile {
    /// `dead/`: messages.
    Messages,
    /// `dead/spawn/`: spawn requests.
    Spawns,
}

pub struct Intake {
    root: Root,
    max_bytes: u64,
    /// Dead letters already in the history, by their name in `dead/` (`spawn/…` for requests).
    recorded: HashSet<String>,
}

impl Intake {
    /// `recorded` starts as the dead letters the journal already has.
    pub fn new(root: &Root, max_bytes: u64) -> Self {
        let recorded = journal::read(root)
            .into_iter()
            .filter_map(|e| match e.event {
                Event::Dead { file, .. } => Some(file),
                _ => None,
            })
            .collect();
        Intake {
            root: root.clone(),
            max_bytes,
            recorded,
        }
    }

    /// Reads a file someone else wrote, bounded and without following links or blocking.
    pub fn read(&self, path: &Path, what: &str) -> Read {
        match fsio::read_limited(path, self.max_bytes) {
            Ok(bytes) => Read::Bytes(bytes),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::IsADirectory
                ) =>
            {
                Read::Gone
            }
            Err(e) => Read::Refused(format!("the {what} cannot be read: {e}")),
        }
    }

    /// Moves `path` into a pile as `name`, writes the reason beside it, and records it.
    pub fn set_aside(
        &mut self,
        history: &mut History,
        path: &Path,
        pile: Pile,
        name: &str,
        reason: &str,
    ) {
        let dir = self.dir(pile);
        match dead::set_aside(path, &dir, name, reason) {
            Ok(landed) => {
                warn!("set aside {}: {reason}", landed.display());
                let letter = landed
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                self.record(history, pile, &letter, reason.to_owned());
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => error!("cannot set {} aside ({reason}): {e}", path.display()),
        }
    }

    /// Sets aside a message for `to` whose spool file is `path`.
    pub fn set_aside_message(
        &mut self,
        history: &mut History,
        path: &Path,
        to: &ActorId,
        id: &MessageId,
        reason: &str,
    ) {
        let name = layout::dead_letter_name(to, id);
        self.set_aside(history, path, Pile::Messages, &name, reason);
    }

    /// A name appeared in a pile: if it is a reason not yet in the history (an actor set its
    /// message aside), the dead letter is recorded.
    pub fn seen(&mut self, history: &mut History, pile: Pile, name: &str) {
        let Some(letter) = layout::explained_by(name) else {
            return;
        };
        if self.recorded.contains(&Self::key(pile, letter)) {
            return;
        }
        let reason = dead::read_reason(&self.dir(pile).join(name)).unwrap_or_default();
        self.record(history, pile, letter, reason);
    }

    /// Looks through both piles for dead letters the history does not have yet.
    pub fn rescan(&mut self, history: &mut History) {
        for pile in [Pile::Messages, Pile::Spawns] {
            let mut names = fsio::names(&self.dir(pile)).unwrap_or_default();
            names.sort_unstable();
            for name in names {
                self.seen(history, pile, &name);
            }
        }
    }

    fn record(&mut self, history: &mut History, pile: Pile, letter: &str, reason: String) {
        if !self.recorded.insert(Self::key(pile, letter)) {
            return;
        }
        let (actor, message) = match (pile, layout::parse_dead_letter_name(letter)) {
            (Pile::Messages, Some((actor, message))) => {
                (Some(actor.to_string()), Some(message.to_string()))
            }
            _ => (None, None),
        };
        history.emit(Event::Dead {
            file: Self::key(pile, letter),
            actor,
            message,
            reason,
        });
    }

    fn key(pile: Pile, letter: &str) -> String {
        match pile {
            Pile::Messages => letter.to_owned(),
            Pile::Spawns => format!("spawn/{letter}"),
        }
    }

    fn dir(&self, pile: Pile) -> std::path::PathBuf {
        match pile {
            Pile::Messages => self.root.dead_dir(),
            Pile::Spawns => self.root.rejected_spawn_dir(),
        }
    }
}

impl Origin {
    /// Whether unreadable content may just be unfinished.
    pub fn maybe_unfinished(self, path: &Path) -> bool {
        self == Origin::Scan && written_within(path, SETTLE)
    }
}

/// Whether the file at `path` was written less than `age` ago.
pub fn written_within(path: &Path, age: Duration) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|meta| modified_within(&meta, age))
}

fn modified_within(meta: &Metadata, age: Duration) -> bool {
    meta.modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .is_some_and(|elapsed| elapsed < age)
}

/// The names in `dir`, sorted (files are handled in name order); none, with an error logged,
/// when it cannot be read.
pub fn sorted_names(dir: &Path) -> Vec<String> {
    match fsio::names(dir) {
        Ok(mut names) => {
            names.sort_unstable();
            names
        }
        Err(e) => {
            error!("cannot read {}: {e}", dir.display());
            Vec::new()
        }
    }
}
