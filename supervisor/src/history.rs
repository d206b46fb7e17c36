//! The history: the one place that appends to the journal. Every entry gets the next sequence
//! number and the time it is emitted; entries are turned into lines and written together once
//! per turn of the event loop (one `write` for many, after the turn's signals have gone out),
//! and before any delivery when everything must be recorded.
//!
//! A write that fails is not swallowed: the entries are kept and written again at the next
//! turn. With `--record` nothing is delivered while they cannot be written; without it the
//! oldest are dropped past a limit, and the journal says how many were lost.

use eos::journal::{self, Entry, Event, Writer};
use eos::{Root, clock};
use log::{error, warn};

use crate::metrics::Metrics;

/// Unwritten entries kept (without `--record`) before the oldest are given up.
const MAX_BACKLOG: usize = 100_000;

pub struct History {
    root: Root,
    max_bytes: u64,
    writer: Option<Writer>,
    next_seq: u64,
    /// Entries not yet written.
    pending: Vec<Entry>,
    /// Keep every payload in full, and deliver nothing unrecorded.
    record: bool,
    /// Values larger than this are noted by size instead of copied.
    max_inline: usize,
    /// Entries given up since the last successful write.
    lost: u64,
    /// Why the last write failed, while it fails.
    failing: Option<String>,
    /// Counts per actor from the same events, for `metrics.jsonl`.
    metrics: Metrics,
    /// Deliveries recorded, ever.
    deliveries: u64,
}

impl History {
    pub fn open(root: &Root, max_bytes: u64, record: bool) -> Self {
        let mut history = History {
            root: root.clone(),
            max_bytes,
            writer: None,
            next_seq: journal::last_seq(root) + 1,
            pending: Vec::new(),
            record,
            max_inline: if record {
                usize::MAX
            } else {
                journal::DEFAULT_MAX_INLINE
            },
            lost: 0,
            failing: None,
            metrics: Metrics::new(std::time::Instant::now()),
            deliveries: 0,
        };
        history.reopen();
        history
    }

    fn reopen(&mut self) {
        if self.writer.is_none() {
            match Writer::open(&self.root, self.max_bytes) {
                Ok(writer) => self.writer = Some(writer),
                Err(e) => self.failed(format!("the journal cannot be opened: {e}")),
            }
        }
    }

    /// Appends an entry (written at the next [`flush`](Self::flush)); returns its number.
    pub fn emit(&mut self, event: Event) -> u64 {
        self.metrics.observe(&event, std::time::Instant::now());
        if matches!(event, Event::Deliver { .. }) {
            self.deliveries += 1;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.pending.push(Entry {
            seq,
            us: clock::now_us(),
            event,
        });
        if !self.record && self.pending.len() > MAX_BACKLOG {
            self.lost += self.pending.len() as u64;
            self.pending.clear();
        }
        seq
    }

    /// How many deliveries were recorded so far.
    pub fn deliveries(&self) -> u64 {
        self.deliveries
    }

    /// Appends a sample of every busy actor to `metrics.jsonl`, given the queue depths.
    pub fn sample_metrics(&mut self, queues: impl IntoIterator<Item = (String, u64)>) {
        let samples = self
            .metrics
            .sample(std::time::Instant::now(), clock::now_us(), queues);
        if let Err(e) = eos::metrics::append(&self.root, &samples) {
            warn!("cannot write the metrics: {e}");
        }
    }

    /// Writes what was emitted. Returns whether everything is on disk.
    pub fn flush(&mut self) -> bool {
        if self.pending.is_empty() && self.lost == 0 {
            return true;
        }
        self.reopen();
        if self.lost > 0 {
            let entries = std::mem::take(&mut self.lost);
            let error = self.failing.clone().unwrap_or_default();
            self.emit(Event::Lost { entries, error });
        }
        let Some(writer) = &mut self.writer else {
            return false;
        };
        let mut lines = Vec::new();
        for entry in &mut self.pending {
            if self.max_inline < usize::MAX {
                entry.event.limit_values(self.max_inline);
            }
            lines.extend_from_slice(&journal::line(entry));
        }
        match writer.append(&lines) {
            Ok(()) => {
                self.pending.clear();
                if self.failing.take().is_some() {
                    warn!("the journal is written again");
                }
                true
            }
            Err(e) => {
                // A failed append may have rotated: open again next time.
                self.writer = None;
                self.failed(format!("cannot write to the journal: {e}"));
                false
            }
        }
    }

    fn failed(&mut self, why: String) {
        if self.failing.as_ref() != Some(&why) {
            if self.record {
                error!("{why}; nothing is delivered until it can be written (--record)");
            } else {
                warn!("{why}; the entries are kept and written again shortly");
            }
        }
        self.failing = Some(why);
    }

    /// Whether deliveries must wait: everything is to be recorded and the journal cannot be
    /// written.
    pub fn blocks_delivery(&mut self) -> bool {
        self.record && !self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_numbered_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        let mut h = History::open(&root, 1 << 20, false);
        assert_eq!(h.emit(Event::restart("a")), 1);
        assert_eq!(h.emit(Event::restart("b")), 2);
        assert!(h.flush());
        let mut h = History::open(&root, 1 << 20, true);
        assert_eq!(h.emit(Event::restart("c")), 3);
        assert!(!h.blocks_delivery());
        let seqs: Vec<u64> = journal::read(&root).iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
    }

    #[test]
    fn a_failed_write_keeps_the_entries_and_record_mode_holds_deliveries() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path().join("gone"));
        let mut h = History::open(&root, 1 << 20, true);
        h.emit(Event::restart("a"));
        assert!(h.blocks_delivery(), "the root's folder does not exist");
        std::fs::create_dir(root.path()).unwrap();
        assert!(!h.blocks_delivery());
        assert_eq!(journal::read(&root).len(), 1);
    }
}
