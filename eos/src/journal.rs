//! The journal: the complete history of a root, one JSON object per line in `journal.jsonl`,
//! written by the supervisor alone. Every entry has a sequence number and a time; everything
//! that changes what an actor will see is one entry: sends, deliveries with the payload that was
//! delivered, results, dead letters, exits, pauses, and the changes people make by hand to
//! pending messages and states. It is rotated (one older file kept) so it cannot fill the disk.
//! `eos log`, `eos trace` and `eos watch` read it; so can `jq`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Root;

/// The default size at which the journal is rotated.
pub const DEFAULT_MAX_BYTES: u64 = 16 << 20;

/// Payloads and states larger than this are not copied into the journal, unless it records
/// everything (`--record`).
pub const DEFAULT_MAX_INLINE: usize = 64 << 10;

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The entry's place in the history: one more than the entry before, across rotations and
    /// supervisor restarts.
    #[serde(default)]
    pub seq: u64,
    /// Microseconds since the Unix epoch.
    pub us: u64,
    #[serde(flatten)]
    pub event: Event,
}

/// What happened. Message ids are strings here: a dead letter's may not be a valid id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An actor was started from a spawn request, with its first state and the actor that
    /// asked for it (none: a person or a tool).
    Spawn {
        actor: String,
        program: String,
        args: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent: Option<String>,
        #[serde(default)]
        state: Value,
    },
    /// An actor was started again: by a new supervisor, by a person (`eos restart`), or by its
    /// supervision node (`node`), as its `attempt`th restart within the node's period, after
    /// waiting `backoff_ms`; `reason` says why.
    Restart {
        actor: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attempt: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backoff_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// `watcher` was told that `actor` exited (or does not exist), `via` a monitor, a link
    /// (while trapping exits) or because it is the actor's parent.
    Down {
        watcher: String,
        actor: String,
        reason: String,
        via: String,
    },
    /// A supervision node restarted its children too often and gave up; its failure goes up
    /// to `to`.
    Escalate { node: String, to: String },
    /// A supervision node gave up at the top: its actors stay down.
    GiveUp { node: String, reason: String },
    /// A fault rule fired: `kind` (drop, delay, duplicate, reorder, partition, crash) on the
    /// message `message` to `actor`; `detail` says how (the delay, the copies).
    Fault {
        rule: String,
        kind: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        actor: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A breakpoint was hit at `actor`: delivery paused, for everything or (`only_actor`) for
    /// that actor; `detail` says what it stopped at.
    Break {
        breakpoint: String,
        actor: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        only_actor: bool,
        detail: String,
    },
    /// An invariant did not hold after `after` was handled by `actor`: violation `number`
    /// (`violations/<number>.json`); delivery paused.
    Violation {
        number: u64,
        invariant: String,
        what: String,
        actor: String,
        after: String,
    },
    /// An invariant could not say (a runtime error, a loop): `error`.
    InvariantError { invariant: String, error: String },
    /// The root was put back as it was at a checkpoint (`eos restore`), taken when the journal
    /// was at `journal_seq`.
    Restored {
        checkpoint: String,
        journal_seq: u64,
    },
    /// Virtual time moved on to when `message`, a timer or a delayed message to `actor`, is
    /// due: nothing else could be delivered.
    TimeAdvanced { actor: String, message: String },
    /// Something looks stuck (`what` says how): an actor handling one message for long, a queue
    /// that only grows, mail waiting while nothing is delivered and nothing is paused.
    Stuck { actors: Vec<String>, what: String },
    /// An actor that was not running was removed (`eos cleanup`); `dead` of its messages went
    /// to `dead/`.
    Removed { actor: String, dead: u64 },
    /// A message appeared in `send/`: who to whom, and which message's handling sent it.
    /// `bare`: it was written as a bare payload, not an envelope (the naive way an actor of the
    /// original protocol sends; `eos send` and the SDKs write envelopes).
    Send {
        message: String,
        from: Option<String>,
        to: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<String>,
        payload: Value,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        bare: bool,
    },
    /// It was moved into the receiver's spool.
    Route {
        message: String,
        to: String,
        file: String,
    },
    /// It became the receiver's `current`: the payload is what was delivered (a pending
    /// message may have been edited since it was sent). `redelivered`: it was `current` when
    /// the last supervisor stopped, and is delivered again.
    Deliver {
        message: String,
        actor: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        redelivered: bool,
        #[serde(default)]
        payload: Value,
    },
    /// The receiver is done with it: the new state, or failed (see the dead letter).
    Result {
        message: String,
        actor: String,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<Value>,
    },
    /// A file was set aside in `dead/` (or `dead/spawn/`) with a reason.
    Dead {
        file: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        actor: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        reason: String,
    },
    /// An actor's process ended.
    Exit {
        actor: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<String>,
        /// In words: `normal`, `exit code 3`, `killed by SIGKILL`, `stopped by its
        /// supervisor`, `linked to b, which exited: …`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Delivery paused, for everyone (`actor` absent) or for one actor.
    Pause {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        actor: Option<String>,
    },
    /// Delivery resumed.
    Resume {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        actor: Option<String>,
    },
    /// A pending message was changed by hand: the payload before and after.
    PendingEdited {
        actor: String,
        file: String,
        message: String,
        before: Value,
        after: Value,
    },
    /// A message was put into a spool by hand: a new one, or a copy of another (`copy_of`).
    PendingAdded {
        actor: String,
        file: String,
        message: String,
        payload: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        copy_of: Option<String>,
    },
    /// A pending message was deleted (or moved out of the spool) by hand: it will not be
    /// delivered.
    PendingDeleted {
        actor: String,
        file: String,
        message: String,
    },
    /// A pending message was renamed in its spool by hand, which moves it in the queue.
    PendingMoved {
        actor: String,
        from: String,
        to: String,
        message: String,
    },
    /// `state.json` was written by someone other than the actor handling a message.
    StateEdited {
        actor: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<Value>,
        after: Value,
    },
    /// Entries that could not be written (a full disk, say) and are missing before this one.
    Lost { entries: u64, error: String },
}

impl Event {
    /// An actor started again, with no more said.
    pub fn restart(actor: impl Into<String>) -> Self {
        Event::Restart {
            actor: actor.into(),
            node: None,
            attempt: None,
            backoff_ms: None,
            reason: None,
        }
    }

    /// The actor the event is about, if one.
    pub fn actor(&self) -> Option<&str> {
        match self {
            Event::Spawn { actor, .. }
            | Event::Restart { actor, .. }
            | Event::Deliver { actor, .. }
            | Event::Result { actor, .. }
            | Event::Exit { actor, .. }
            | Event::PendingEdited { actor, .. }
            | Event::PendingAdded { actor, .. }
            | Event::PendingDeleted { actor, .. }
            | Event::PendingMoved { actor, .. }
            | Event::StateEdited { actor, .. }
            | Event::Removed { actor, .. }
            | Event::Fault { actor, .. }
            | Event::Break { actor, .. }
            | Event::Violation { actor, .. }
            | Event::TimeAdvanced { actor, .. } => Some(actor),
            Event::Send { to, .. } | Event::Route { to, .. } => Some(to),
            Event::Dead { actor, .. } | Event::Pause { actor } | Event::Resume { actor } => {
                actor.as_deref()
            }
            Event::Down { watcher, .. } => Some(watcher),
            Event::Stuck { actors, .. } => actors.first().map(String::as_str),
            Event::Lost { .. }
            | Event::Restored { .. }
            | Event::Escalate { .. }
            | Event::GiveUp { .. }
            | Event::InvariantError { .. } => None,
        }
    }
}

/// A value as the journal keeps it: itself if at most `max` bytes as JSON, else a note of its
/// size.
pub fn inline(value: &Value, max: usize) -> Value {
    let mut value = value.clone();
    limit(&mut value, max);
    value
}

/// Replaces a value of more than `max` bytes as JSON by a note of its size.
fn limit(value: &mut Value, max: usize) {
    if matches!(value, Value::Null | Value::Bool(_) | Value::Number(_)) {
        return;
    }
    let len = serde_json::to_string(value).map_or(0, |t| t.len());
    if len > max {
        *value = serde_json::json!({"omitted": format!("{len} bytes")});
    }
}

impl Event {
    /// Replaces every payload and state larger than `max` bytes by a note of its size.
    pub fn limit_values(&mut self, max: usize) {
        let values: Vec<&mut Value> = match self {
            Event::Spawn { state, .. } => vec![state],
            Event::Send { payload, .. }
            | Event::Deliver { payload, .. }
            | Event::PendingAdded { payload, .. } => vec![payload],
            Event::Result { state, .. } => state.iter_mut().collect(),
            Event::PendingEdited { before, after, .. } => vec![before, after],
            Event::StateEdited { before, after, .. } => before.iter_mut().chain([after]).collect(),
            _ => Vec::new(),
        };
        for value in values {
            limit(value, max);
        }
    }
}

/// Appends lines to the journal, rotating it when it grows past its limit.
pub struct Writer {
    root: Root,
    file: File,
    written: u64,
    max_bytes: u64,
}

impl Writer {
    pub fn open(root: &Root, max_bytes: u64) -> io::Result<Writer> {
        let file = open_append(root)?;
        let written = file.metadata()?.len();
        Ok(Writer {
            root: root.clone(),
            file,
            written,
            max_bytes,
        })
    }

    /// Appends complete lines (each ending in a newline) with one `write`: readers never see
    /// half a line. Rotates first when they would take the file past its limit.
    pub fn append(&mut self, lines: &[u8]) -> io::Result<()> {
        if self.written + lines.len() as u64 > self.max_bytes && self.written > 0 {
            fs::rename(self.root.journal_file(), self.root.rotated_journal_file())?;
            self.file = open_append(&self.root)?;
            self.written = 0;
        }
        self.file.write_all(lines)?;
        self.written += lines.len() as u64;
        Ok(())
    }
}

/// One entry as a journal line, newline included.
pub fn line(entry: &Entry) -> Vec<u8> {
    let mut line = serde_json::to_vec(entry).unwrap_or_default();
    line.push(b'\n');
    line
}

/// The sequence number of the last entry on disk (0 when there is none), read from the end of
/// the journal.
pub fn last_seq(root: &Root) -> u64 {
    for path in [root.journal_file(), root.rotated_journal_file()] {
        let Ok(bytes) = fs::read(&path) else {
            continue;
        };
        let last = bytes
            .split(|&b| b == b'\n')
            .rev()
            .find_map(|line| serde_json::from_slice::<Entry>(line).ok());
        if let Some(entry) = last {
            return entry.seq;
        }
    }
    0
}

fn open_append(root: &Root) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(root.journal_file())
}

/// Every entry still on disk, oldest first (the rotated file, then the current one). Lines
/// that do not parse (a line being written, a hand edit) are skipped.
pub fn read(root: &Root) -> Vec<Entry> {
    let mut entries = Vec::new();
    for path in [root.rotated_journal_file(), root.journal_file()] {
        if let Ok(file) = File::open(path) {
            read_lines(BufReader::new(file), &mut entries);
        }
    }
    entries
}

/// Parses complete journal lines from `reader` into `entries`.
pub fn read_lines(reader: impl BufRead, entries: &mut Vec<Entry>) {
    for line in reader.split(b'\n').map_while(Result::ok) {
        if let Ok(entry) = serde_json::from_slice(&line) {
            entries.push(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock;

    #[test]
    fn entries_round_trip_and_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        let mut writer = Writer::open(&root, 400).unwrap();
        for n in 0..10 {
            let entry = Entry {
                seq: n + 1,
                us: clock::now_us(),
                event: Event::Pause {
                    actor: Some(format!("a{n}")),
                },
            };
            writer.append(&line(&entry)).unwrap();
        }
        assert_eq!(last_seq(&root), 10);
        let entries = read(&root);
        assert!(root.rotated_journal_file().exists());
        let current = fs::metadata(root.journal_file()).unwrap().len();
        assert!(current <= 400, "rotated at the limit: {current}");
        let last = entries.last().unwrap();
        assert_eq!(
            last.event,
            Event::Pause {
                actor: Some("a9".into())
            }
        );
        assert!(entries.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
    }

    #[test]
    fn big_values_are_not_copied() {
        let big = serde_json::json!({"text": "x".repeat(5000)});
        assert!(inline(&big, 4096)["omitted"].is_string());
        assert_eq!(inline(&big, usize::MAX), big);
        assert_eq!(inline(&serde_json::json!(1), 4096), serde_json::json!(1));
    }
}
