//! The queue of one actor: an in-memory index of its spool's pending messages, ordered by file
//! name (the delivery order), so that finding the next message costs the same with 10 or
//! 100,000 waiting.
//!
//! The index follows the spool through file events and is reconciled with a listing at every
//! rescan. Events the supervisor caused itself (a message routed in, one moved to `current`) are
//! expected and pass silently; any other change was made by someone else (a person's `mv`,
//! `cp`, `rm` or editor) and is reported, so that the history can record it.

use std::collections::{BTreeMap, HashMap};

use eos::Envelope;
use eos::MessageId;
use eos::layout;

use crate::events::Change;

/// A pending message as the index knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub message: MessageId,
    /// The envelope as last read and checked; `None` when it has not been read yet.
    pub envelope: Option<Envelope>,
    /// Changed on disk since: read it again before it is delivered.
    pub stale: bool,
    /// Whether the file holds exactly the envelope. If not (a plain payload to wrap, a copy's
    /// new id), the envelope is written when it is delivered: never in place while it waits,
    /// where a person may be renaming or editing it.
    pub exact: bool,
    /// Still in `send/`, at this path: routed in this turn, it goes straight to `current` if
    /// it is delivered before the turn ends (one rename instead of two), else into the spool.
    pub unmoved: Option<std::path::PathBuf>,
}

impl Pending {
    /// A file not read yet.
    pub fn unread(message: MessageId) -> Self {
        Pending {
            message,
            envelope: None,
            stale: true,
            exact: false,
            unmoved: None,
        }
    }

    /// A file read and checked: `exact` when it holds the envelope as it is.
    pub fn read(message: MessageId, envelope: Envelope, exact: bool) -> Self {
        Pending {
            message,
            envelope: Some(envelope),
            stale: false,
            exact,
            unmoved: None,
        }
    }
}

/// What a file event in the spool meant.
#[derive(Debug, PartialEq)]
pub enum Seen {
    /// Caused by the supervisor, or nothing to do with a pending message.
    Nothing,
    /// A file appeared that the index did not have: added (or copied) by someone.
    Added { file: String },
    /// A pending message was written again: its content may have changed.
    Rewritten { file: String, before: Pending },
}

/// What became of the messages that left the spool without the supervisor, once a batch of
/// events is over.
#[derive(Debug, PartialEq)]
pub enum Settled {
    /// Renamed inside the spool: moved in the queue.
    Moved {
        from: String,
        to: String,
        message: MessageId,
    },
    /// Deleted, or moved out of the spool: it will not be delivered.
    Deleted { file: String, message: MessageId },
}

#[derive(Debug, Default)]
pub struct Queue {
    pending: BTreeMap<String, Pending>,
    /// File events the supervisor's own renames will cause, still to come.
    expected: HashMap<(String, Change), u32>,
    /// Messages that left without the supervisor, by cookie: the other half of a rename may
    /// still come in the same batch.
    left: Vec<(u32, String, Pending)>,
    /// Renames inside the spool seen in this batch.
    moved: Vec<Settled>,
    /// Messages routed in this turn still in `send/`: where they are, and their spool names.
    unmoved: HashMap<std::path::PathBuf, String>,
    /// Messages a fault rule or a timer holds back, until when (few: looked through in full).
    held: BTreeMap<String, std::time::Instant>,
    /// In virtual time a held message is released only by [`release`](Self::release), when
    /// nothing else can be delivered; the clock does not release it.
    pub virtual_time: bool,
}

impl Queue {
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The next message in delivery order.
    pub fn head(&self) -> Option<(&str, &Pending)> {
        self.pending.iter().next().map(|(f, p)| (f.as_str(), p))
    }

    /// The next message in delivery order that may be delivered at `now`: one a fault rule
    /// holds back is passed over until its time (`None`: any time, as a person's step).
    pub fn head_due(&self, now: Option<std::time::Instant>) -> Option<(&str, &Pending)> {
        let Some(now) = now.filter(|_| !self.held.is_empty()) else {
            return self.head();
        };
        let due = |t: &std::time::Instant| !self.virtual_time && *t <= now;
        self.pending
            .iter()
            .find(|(f, _)| self.held.get(*f).is_none_or(due))
            .map(|(f, p)| (f.as_str(), p))
    }

    /// Holds `file` back until `until`.
    pub fn hold(&mut self, file: &str, until: std::time::Instant) {
        self.held.insert(file.to_owned(), until);
    }

    /// When the next held message may be delivered (never by the clock in virtual time).
    pub fn next_release(&mut self, now: std::time::Instant) -> Option<std::time::Instant> {
        let pending = &self.pending;
        let virtual_time = self.virtual_time;
        self.held
            .retain(|f, t| pending.contains_key(f) && (virtual_time || *t > now));
        if virtual_time {
            return None;
        }
        self.held.values().min().copied()
    }

    /// The held message due first, and when.
    pub fn earliest_held(&self) -> Option<(std::time::Instant, &str)> {
        self.held
            .iter()
            .filter(|(f, _)| self.pending.contains_key(*f))
            .map(|(f, t)| (*t, f.as_str()))
            .min()
    }

    /// Lets a held message be delivered (virtual time moved to it).
    pub fn release(&mut self, file: &str) {
        self.held.remove(file);
    }

    pub fn get(&self, file: &str) -> Option<&Pending> {
        self.pending.get(file)
    }

    pub fn get_mut(&mut self, file: &str) -> Option<&mut Pending> {
        self.pending.get_mut(file)
    }

    /// Every pending message, in delivery order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Pending)> {
        self.pending.iter().map(|(f, p)| (f.as_str(), p))
    }

    /// Whether a pending message has this id.
    pub fn has_message(&self, id: &MessageId) -> bool {
        self.pending.values().any(|p| p.message == *id)
    }

    /// The supervisor put `file` into the spool (its arrival event is expected).
    pub fn insert_ours(&mut self, file: String, pending: Pending) {
        self.expect(&file, Change::Arrived);
        self.pending.insert(file, pending);
    }

    /// A message routed in this turn that is still in `send/` (see [`Pending::unmoved`]).
    pub fn insert_unmoved(&mut self, file: String, pending: Pending) {
        if let Some(path) = &pending.unmoved {
            self.unmoved.insert(path.clone(), file.clone());
        }
        self.pending.insert(file, pending);
    }

    /// The messages still in `send/`: their spool names and where they are.
    pub fn unmoved(&self) -> Vec<(String, std::path::PathBuf)> {
        let mut all: Vec<_> = self
            .unmoved
            .iter()
            .map(|(path, file)| (file.clone(), path.clone()))
            .collect();
        all.sort();
        all
    }

    /// Whether the file at `path` in `send/` is indexed already (a second event for it).
    pub fn has_unmoved(&self, path: &std::path::Path) -> bool {
        self.unmoved.contains_key(path)
    }

    /// `file` was moved from `send/` into the spool (its arrival event is expected).
    pub fn moved_in(&mut self, file: &str) {
        if let Some(p) = self.pending.get_mut(file)
            && let Some(path) = p.unmoved.take()
        {
            self.unmoved.remove(&path);
            self.expect(file, Change::Arrived);
        }
    }

    /// Forgets a message that is not where the index says (gone from `send/` before it was
    /// moved).
    pub fn forget(&mut self, file: &str) -> Option<Pending> {
        let pending = self.pending.remove(file)?;
        if let Some(path) = &pending.unmoved {
            self.unmoved.remove(path);
        }
        Some(pending)
    }

    /// Records what a file found by a person's change holds, without expecting an event.
    pub fn insert_found(&mut self, file: String, pending: Pending) {
        self.pending.insert(file, pending);
    }

    /// The supervisor takes `file` out of the spool (its leaving event is expected).
    pub fn take(&mut self, file: &str) -> Option<Pending> {
        let taken = self.pending.remove(file)?;
        match &taken.unmoved {
            Some(path) => {
                self.unmoved.remove(path);
            }
            None => self.expect(file, Change::Left),
        }
        Some(taken)
    }

    /// The supervisor is about to cause `change` to `file` in the spool.
    pub fn expect(&mut self, file: &str, change: Change) {
        *self.expected.entry((file.to_owned(), change)).or_default() += 1;
    }

    /// Forgets what the index knew of `file`'s content: it is read again before delivery.
    pub fn invalidate(&mut self, file: &str) {
        if let Some(p) = self.pending.get_mut(file) {
            p.stale = true;
        }
    }

    /// Whether an event the supervisor caused has not come back yet.
    pub fn awaits_echo(&self) -> bool {
        !self.expected.is_empty()
    }

    /// Whether a `current` that left is one from before the `current` the supervisor just
    /// placed: file events come in order, so a `current` leaving before the placement's echo
    /// came is an older one (a rescan found it gone before its event was read).
    pub fn left_before_placed(&self) -> bool {
        self.expected
            .contains_key(&(layout::CURRENT.to_owned(), Change::Arrived))
    }

    /// Whether the event was one the supervisor caused (and so is now no longer expected).
    pub fn was_expected(&mut self, file: &str, change: Change) -> bool {
        let key = (file.to_owned(), change);
        let Some(n) = self.expected.get_mut(&key) else {
            return false;
        };
        *n -= 1;
        if *n == 0 {
            self.expected.remove(&key);
        }
        true
    }

    /// A file event for a pending message's name in the spool.
    pub fn event(&mut self, file: &str, change: Change, cookie: u32) -> Seen {
        if self.was_expected(file, change) {
            return Seen::Nothing;
        }
        match change {
            Change::Left => {
                if let Some(before) = self.pending.remove(file) {
                    self.left.push((cookie, file.to_owned(), before));
                }
                Seen::Nothing
            }
            Change::Arrived => {
                let moved = (cookie != 0)
                    .then(|| self.left.iter().position(|(c, ..)| *c == cookie))
                    .flatten();
                if let Some(at) = moved {
                    let (_, from, pending) = self.left.remove(at);
                    self.moved.push(Settled::Moved {
                        from,
                        to: file.to_owned(),
                        message: pending.message.clone(),
                    });
                    self.pending.insert(file.to_owned(), pending);
                    return Seen::Nothing;
                }
                match self.pending.get(file) {
                    Some(before) => Seen::Rewritten {
                        file: file.to_owned(),
                        before: before.clone(),
                    },
                    None => Seen::Added {
                        file: file.to_owned(),
                    },
                }
            }
        }
    }

    /// Ends a batch of events: the messages that left without a matching arrival are gone, and
    /// the renames inside the spool are moves.
    pub fn settle(&mut self) -> Vec<Settled> {
        let deleted = self.left.drain(..).map(|(_, file, p)| Settled::Deleted {
            file,
            message: p.message,
        });
        self.moved.drain(..).chain(deleted).collect()
    }

    /// Makes the index match a listing of the spool (the pending names, in any order): what is
    /// listed but not indexed was added; what is indexed but not listed was deleted. Events
    /// still expected are dropped: after a listing, nothing is owed.
    pub fn reconcile(&mut self, listed: Vec<String>) -> (Vec<String>, Vec<Settled>) {
        self.expected.clear();
        let mut gone = self.settle();
        let listed: BTreeMap<String, ()> = listed.into_iter().map(|n| (n, ())).collect();
        // One still in `send/` is not in the listing, and not missing either.
        let missing: Vec<String> = self
            .pending
            .iter()
            .filter(|(f, p)| !listed.contains_key(*f) && p.unmoved.is_none())
            .map(|(f, _)| f.clone())
            .collect();
        for file in missing {
            if let Some(p) = self.pending.remove(&file) {
                gone.push(Settled::Deleted {
                    file,
                    message: p.message,
                });
            }
        }
        let added = listed
            .into_keys()
            .filter(|f| !self.pending.contains_key(f))
            .collect();
        (added, gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pending(id: &str) -> Pending {
        let message = MessageId::parse(id).unwrap();
        Pending::read(
            message.clone(),
            Envelope::new(message, None, json!(1)),
            true,
        )
    }

    #[test]
    fn a_message_still_in_send_leaves_no_echo_to_wait_for_until_it_is_moved() {
        let mut q = Queue::default();
        let mut p = pending("a");
        p.unmoved = Some("/root/send/x::a.json".into());
        q.insert_unmoved("0-a.json".into(), p);
        assert!(q.has_unmoved(std::path::Path::new("/root/send/x::a.json")));
        assert!(!q.awaits_echo(), "nothing was renamed yet");
        // Delivered straight from send/: nothing leaves the spool.
        assert!(q.take("0-a.json").is_some());
        assert!(!q.awaits_echo() && q.unmoved().is_empty());
        // Or moved into the spool at the end of the turn: its arrival is ours.
        let mut p = pending("b");
        p.unmoved = Some("/root/send/x::b.json".into());
        q.insert_unmoved("1-b.json".into(), p);
        q.moved_in("1-b.json");
        assert!(q.awaits_echo() && q.unmoved().is_empty());
        assert!(q.get("1-b.json").is_some_and(|p| p.unmoved.is_none()));
        // A listing of the spool does not count one still in send/ as deleted.
        let mut p = pending("c");
        p.unmoved = Some("/root/send/x::c.json".into());
        q.insert_unmoved("2-c.json".into(), p);
        let (added, gone) = q.reconcile(vec!["1-b.json".into()]);
        assert!(added.is_empty() && gone.is_empty(), "{added:?} {gone:?}");
        assert!(q.has_unmoved(std::path::Path::new("/root/send/x::c.json")));
    }

    #[test]
    fn our_own_moves_pass_silently_and_the_head_is_the_first_name() {
        let mut q = Queue::default();
        q.insert_ours("002-b.json".into(), pending("b"));
        q.insert_ours("001-a.json".into(), pending("a"));
        assert_eq!(q.head().unwrap().0, "001-a.json");
        let taken = q.take("001-a.json").unwrap();
        assert_eq!(taken.message.as_str(), "a");
        // The events come later, in order: arrivals of both, then a's departure.
        assert_eq!(q.event("002-b.json", Change::Arrived, 0), Seen::Nothing);
        assert_eq!(q.event("001-a.json", Change::Arrived, 0), Seen::Nothing);
        assert_eq!(q.event("001-a.json", Change::Left, 7), Seen::Nothing);
        assert!(q.settle().is_empty());
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn a_persons_edit_add_delete_and_rename_are_reported() {
        let mut q = Queue::default();
        q.insert_found("001-a.json".into(), pending("a"));
        q.insert_found("002-b.json".into(), pending("b"));
        q.insert_found("003-c.json".into(), pending("c"));
        assert!(matches!(
            q.event("001-a.json", Change::Arrived, 0),
            Seen::Rewritten { file, .. } if file == "001-a.json"
        ));
        assert_eq!(
            q.event("by-hand.json", Change::Arrived, 0),
            Seen::Added {
                file: "by-hand.json".into()
            }
        );
        assert_eq!(q.event("002-b.json", Change::Left, 0), Seen::Nothing);
        // mv 003-c.json 000-c.json
        assert_eq!(q.event("003-c.json", Change::Left, 9), Seen::Nothing);
        assert_eq!(q.event("000-c.json", Change::Arrived, 9), Seen::Nothing);
        assert_eq!(q.head().unwrap().0, "000-c.json", "renamed to the front");
        let settled = q.settle();
        assert!(settled.contains(&Settled::Deleted {
            file: "002-b.json".into(),
            message: MessageId::parse("b").unwrap()
        }));
        assert!(settled.contains(&Settled::Moved {
            from: "003-c.json".into(),
            to: "000-c.json".into(),
            message: MessageId::parse("c").unwrap()
        }));
    }

    #[test]
    fn a_listing_finds_what_the_events_missed() {
        let mut q = Queue::default();
        q.insert_ours("001-a.json".into(), pending("a"));
        q.insert_found("002-b.json".into(), pending("b"));
        let (added, gone) = q.reconcile(vec!["002-b.json".into(), "009-x.json".into()]);
        assert_eq!(added, vec!["009-x.json".to_owned()]);
        assert_eq!(
            gone,
            vec![Settled::Deleted {
                file: "001-a.json".into(),
                message: MessageId::parse("a").unwrap()
            }]
        );
        // The arrival event of a was dropped with the listing: a late one is news.
        assert!(matches!(
            q.event("001-a.json", Change::Arrived, 0),
            Seen::Added { .. }
        ));
    }

    #[test]
    fn a_current_that_leaves_before_the_placed_one_arrives_is_an_older_one() {
        let mut q = Queue::default();
        assert!(!q.left_before_placed());
        q.expect(layout::CURRENT, Change::Arrived);
        assert!(
            q.left_before_placed(),
            "the placement's echo is still to come"
        );
        assert!(q.was_expected(layout::CURRENT, Change::Arrived));
        assert!(
            !q.left_before_placed(),
            "it came: the next one to leave is this one"
        );
    }
}
