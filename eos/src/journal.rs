//! The journal: an append-only log of everything that happens, one JSON object per line in
//! `journal.jsonl`, written by the supervisor alone. It is rotated (one older file kept) so it
//! cannot fill the disk. `eos log`, `eos trace` and `eos watch` read it; so can `jq`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Root;
use crate::clock;

/// The default size at which the journal is rotated.
pub const DEFAULT_MAX_BYTES: u64 = 16 << 20;

/// Payloads and states larger than this are not copied into the journal.
const MAX_INLINE: usize = 4096;

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Microseconds since the Unix epoch.
    pub us: u64,
    #[serde(flatten)]
    pub event: Event,
}

/// What happened. Message ids are strings here: a dead letter's may not be a valid id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An actor was started from a spawn request.
    Spawn {
        actor: String,
        program: String,
        args: Vec<String>,
    },
    /// An actor was started again by a new supervisor.
    Restart { actor: String },
    /// A message appeared in `send/`: who to whom, and which message's handling sent it.
    Send {
        message: String,
        from: Option<String>,
        to: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<String>,
        payload: Value,
    },
    /// It was moved into the receiver's spool.
    Route {
        message: String,
        to: String,
        file: String,
    },
    /// It became the receiver's `current` and the receiver was signalled.
    Deliver {
        message: String,
        actor: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        redelivered: bool,
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
}

/// A value as the journal keeps it: itself if small, else a note of its size.
pub fn inline(value: &Value) -> Value {
    let text = serde_json::to_string(value).unwrap_or_default();
    if text.len() <= MAX_INLINE {
        value.clone()
    } else {
        serde_json::json!({"omitted": format!("{} bytes", text.len())})
    }
}

/// Appends entries to the journal, rotating it when it grows past its limit.
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

    /// Appends one entry, stamped now. One `write` per line: readers never see half a line.
    pub fn record(&mut self, event: Event) -> io::Result<()> {
        let mut line = serde_json::to_vec(&Entry {
            us: clock::now_us(),
            event,
        })?;
        line.push(b'\n');
        if self.written + line.len() as u64 > self.max_bytes && self.written > 0 {
            fs::rename(self.root.journal_file(), self.root.rotated_journal_file())?;
            self.file = open_append(&self.root)?;
            self.written = 0;
        }
        self.file.write_all(&line)?;
        self.written += line.len() as u64;
        Ok(())
    }
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

    #[test]
    fn entries_round_trip_and_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        let mut writer = Writer::open(&root, 400).unwrap();
        for n in 0..10 {
            writer
                .record(Event::Pause {
                    actor: Some(format!("a{n}")),
                })
                .unwrap();
        }
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
        assert!(entries.windows(2).all(|w| w[0].us <= w[1].us));
    }

    #[test]
    fn big_values_are_not_copied() {
        let big = serde_json::json!({"text": "x".repeat(5000)});
        assert!(inline(&big)["omitted"].is_string());
        assert_eq!(inline(&serde_json::json!(1)), serde_json::json!(1));
    }
}
