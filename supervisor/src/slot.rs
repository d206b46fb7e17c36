//! The delivery slot of one actor: its `spool/current`. At most one message is there at a
//! time; the slot says which, and whether the actor has been told.
//!
//! ```text
//!   Free ──place──> Placed ──signal──> Signalled ──finished──> Free
//!                     ^                    │
//!                     └──process gone──────┘   (the next process must be told)
//! ```
//!
//! One signal per delivery: an actor is told once that its `current` is there. It is signalled
//! only once it takes SIGUSR1 (the lifecycle checks that it catches or blocks it), so the signal
//! cannot be lost or kill it; signalling again while it works would make a shell actor that
//! works in its trap run the trap again, and handle the message again. The one case where the
//! signal provably did not reach anyone is a process that exited: the next one is told.

use std::io;

use eos::MessageId;

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
    Signalled { message: MessageId },
}

impl Slot {
    pub fn is_free(&self) -> bool {
        matches!(self, Slot::Free)
    }

    /// The message in the slot, if any.
    pub fn message(&self) -> Option<&MessageId> {
        match self {
            Slot::Free => None,
            Slot::Placed { message } | Slot::Signalled { message } => Some(message),
        }
    }

    /// Whether a message is there that the actor has not been told about.
    pub fn needs_signal(&self) -> bool {
        matches!(self, Slot::Placed { .. })
    }

    /// A message became `current`.
    pub fn place(&mut self, message: MessageId) {
        *self = Slot::Placed { message };
    }

    /// Tells the actor about a placed message, once. A signal that cannot be sent (the process
    /// just exited) leaves it placed for the next process.
    pub fn signal(&mut self, to: &dyn Signaller) {
        if let Slot::Placed { message } = self
            && to.usr1().is_ok()
        {
            *self = Slot::Signalled {
                message: message.clone(),
            };
        }
    }

    /// The actor is done with `current` (it deleted or moved it): the slot is free again.
    pub fn finished(&mut self) -> Option<MessageId> {
        match std::mem::replace(self, Slot::Free) {
            Slot::Free => None,
            Slot::Placed { message } | Slot::Signalled { message } => Some(message),
        }
    }

    /// The process that was told is gone: whoever runs next must be told.
    pub fn process_gone(&mut self) {
        if let Slot::Signalled { message } = self {
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
    fn a_message_is_signalled_once_and_frees_the_slot() {
        let to = Counter::default();
        let mut slot = Slot::Free;
        slot.signal(&to);
        assert_eq!(to.sent.get(), 0, "nothing to signal in a free slot");
        slot.place(m("a"));
        assert!(slot.needs_signal());
        for _ in 0..5 {
            slot.signal(&to);
        }
        assert_eq!(to.sent.get(), 1, "one signal per delivery");
        assert!(!slot.needs_signal());
        assert_eq!(slot.finished(), Some(m("a")));
        assert!(slot.is_free());
    }

    #[test]
    fn the_next_process_is_told_and_a_failed_signal_keeps_the_message_placed() {
        let to = Counter::default();
        let mut slot = Slot::Free;
        slot.place(m("a"));
        slot.signal(&to);
        slot.process_gone();
        assert_eq!(slot, Slot::Placed { message: m("a") });
        to.fail.set(true);
        slot.signal(&to);
        assert_eq!(
            slot,
            Slot::Placed { message: m("a") },
            "kept for the next one"
        );
        to.fail.set(false);
        slot.signal(&to);
        assert_eq!(to.sent.get(), 2);
        assert_eq!(slot.message(), Some(&m("a")));
    }
}
