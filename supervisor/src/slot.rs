//! The delivery slot of one actor: its `spool/current`. At most one message is there at a
//! time; the slot says which, and whether the actor has been told.
//!
//! ```text
//!   Free ──place──> Placed ──signal──> Signalled ──finished──> Free
//!                     ^                    │
//!                     └──process gone──────┘   (the next process must be told again)
//! ```
//!
//! Signals can be merged or dropped (a shell may drop one that arrives while it runs its trap),
//! so a `current` still there at `retry_at` is signalled again, less often each time.

use std::io;
use std::time::{Duration, Instant};

use eos::MessageId;

/// First wait before signalling again for a `current` that is still there.
pub const FIRST_RESIGNAL: Duration = Duration::from_millis(50);

/// Sends the actor SIGUSR1.
pub trait Signaller {
    fn usr1(&self) -> io::Result<()>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// No `current`: the next message can be placed.
    Free,
    /// `current` is there but the actor has not been told (just placed, restored after a
    /// crash, or put there by a person).
    Placed { message: MessageId },
    /// The actor was told; waiting for it to delete `current`.
    Signalled {
        message: MessageId,
        retry_at: Instant,
        backoff: Duration,
    },
}

impl Slot {
    pub fn is_free(&self) -> bool {
        matches!(self, Slot::Free)
    }

    /// The message in the slot, if any.
    pub fn message(&self) -> Option<&MessageId> {
        match self {
            Slot::Free => None,
            Slot::Placed { message } | Slot::Signalled { message, .. } => Some(message),
        }
    }

    /// A message became `current`.
    pub fn place(&mut self, message: MessageId) {
        *self = Slot::Placed { message };
    }

    /// Tells the actor about a placed message (or again, for a signalled one). A signal that
    /// cannot be sent (the process just exited) leaves it placed for the next process.
    pub fn signal(&mut self, now: Instant, max_backoff: Duration, to: &dyn Signaller) {
        let (message, backoff) = match std::mem::replace(self, Slot::Free) {
            Slot::Free => return,
            Slot::Placed { message } => (message, FIRST_RESIGNAL),
            Slot::Signalled {
                message, backoff, ..
            } => (message, (backoff * 2).min(max_backoff)),
        };
        *self = match to.usr1() {
            Ok(()) => Slot::Signalled {
                message,
                retry_at: now + backoff,
                backoff,
            },
            Err(_) => Slot::Placed { message },
        };
    }

    /// When the actor should be signalled again, if it has been signalled.
    pub fn retry_at(&self) -> Option<Instant> {
        match self {
            Slot::Signalled { retry_at, .. } => Some(*retry_at),
            _ => None,
        }
    }

    /// The actor is done with `current` (it deleted or moved it): the slot is free again.
    pub fn finished(&mut self) -> Option<MessageId> {
        match std::mem::replace(self, Slot::Free) {
            Slot::Free => None,
            Slot::Placed { message } | Slot::Signalled { message, .. } => Some(message),
        }
    }

    /// The process that was told is gone: whoever runs next must be told again.
    pub fn process_gone(&mut self) {
        if let Slot::Signalled { message, .. } = self {
            *self = Slot::Placed {
                message: message.clone(),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[derive(Default)]
    struct Counter {
        sent: Cell<u32>,
        fail: Cell<bool>,
    }

    impl Signaller for Counter {
        fn usr1(&self) -> io::Result<()> {
            if self.fail.get() {
                return Err(io::ErrorKind::NotFound.into());
            }
            self.sent.set(self.sent.get() + 1);
            Ok(())
        }
    }

    fn m(id: &str) -> MessageId {
        MessageId::parse(id).unwrap()
    }

    #[test]
    fn a_message_goes_through_the_slot_and_frees_it() {
        let to = Counter::default();
        let now = Instant::now();
        let mut slot = Slot::Free;
        slot.signal(now, Duration::from_secs(2), &to);
        assert_eq!(to.sent.get(), 0, "nothing to signal in a free slot");
        slot.place(m("a"));
        assert_eq!(slot.retry_at(), None);
        slot.signal(now, Duration::from_secs(2), &to);
        assert_eq!(to.sent.get(), 1);
        assert_eq!(slot.retry_at(), Some(now + FIRST_RESIGNAL));
        assert_eq!(slot.finished(), Some(m("a")));
        assert!(slot.is_free());
    }

    #[test]
    fn resignals_back_off_to_the_cap_and_a_lost_process_is_told_again() {
        let to = Counter::default();
        let now = Instant::now();
        let cap = Duration::from_millis(300);
        let mut slot = Slot::Free;
        slot.place(m("a"));
        for _ in 0..6 {
            slot.signal(now, cap, &to);
        }
        assert_eq!(slot.retry_at(), Some(now + cap));
        slot.process_gone();
        assert_eq!(slot, Slot::Placed { message: m("a") });
        to.fail.set(true);
        slot.signal(now, cap, &to);
        assert_eq!(
            slot,
            Slot::Placed { message: m("a") },
            "kept for the next one"
        );
        assert_eq!(to.sent.get(), 6);
    }
}
