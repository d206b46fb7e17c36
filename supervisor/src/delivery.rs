//! Placing a message: the pending file chosen by the policy becomes the actor's `current`.
//! The index usually knows the message already (it was checked when it was routed); a message
//! a person changed is read and checked again here: one that is not valid JSON yet is left for
//! a moment (an editor may be writing it) and then set aside.

use std::fs;
use std::io;
use std::time::{Duration, Instant};

use eos::journal::Event;
use eos::layout::{self, CURRENT};
use eos::{Envelope, MessageId, envelope, fsio};
use log::{debug, warn};
use serde_json::Value;

use crate::events::Change;
use crate::history::History;
use crate::intake::{Intake, Read, written_within};
use crate::registry::Actor;

/// A pending message that does not parse and was written this recently may still be being
/// written by an editor: it is left for later instead of being set aside.
pub const EDIT_SETTLE: Duration = Duration::from_secs(2);

/// What became of an attempt to place a message.
#[derive(Debug)]
pub enum Placed {
    Delivered {
        message: MessageId,
        payload: Value,
    },
    /// `current` is there already (put there by someone else).
    Occupied,
    /// Not readable yet; try again at this time.
    NotBefore(Instant),
    /// A timer not due yet (found so when it was read): hold it until then.
    NotDue(Instant),
    /// Not a valid message: set aside, with this reason.
    SetAside {
        message: MessageId,
        reason: String,
    },
    /// The file is gone (deleted by hand).
    Gone,
}

/// Makes the pending `file` the actor's `current` and records the delivery with the payload
/// that was delivered (returned too, when `want_payload`).
pub fn place(
    actor: &mut Actor,
    file: &str,
    intake: &mut Intake,
    history: &mut History,
    now: Instant,
    want_payload: bool,
    honour_due: bool,
) -> Placed {
    let spool = actor.dir.spool_dir();
    let Some(pending) = actor.queue.get_mut(file) else {
        return Placed::Gone;
    };
    // Routed in this turn and still in `send/`: it goes straight to `current`.
    let path = pending.unmoved.clone().unwrap_or_else(|| spool.join(file));
    let indexed = pending.message.clone();
    // The envelope is taken out of the index, not copied; it goes back if it cannot be placed.
    let known = match pending.envelope.take() {
        Some(envelope) if !pending.stale => Some((envelope, !pending.exact)),
        other => {
            pending.envelope = other;
            None
        }
    };
    let taken = known.is_some();
    let (mut envelope, rewrite) = match known {
        Some(known) => known,
        None => match read_again(actor, file, intake, history) {
            Ok(checked) => checked,
            Err(placed) => return placed,
        },
    };
    // A timer read here (after a supervisor restart, or edited by hand) waits for its time,
    // unless a person is delivering it.
    let now_ms = eos::clock::now_us() / 1000;
    if honour_due
        && let Some(due) = envelope.due_ms().filter(|&d| d > now_ms)
        && let Some(p) = actor.queue.get_mut(file)
    {
        p.envelope = Some(envelope);
        p.stale = false;
        return Placed::NotDue(now + Duration::from_millis(due - now_ms));
    }
    let message = envelope.id_or(&indexed);
    let moved = if rewrite {
        // Not an envelope as it is (a plain payload, a copy with a new id): the envelope is
        // written beside it, then takes the place of `current`.
        let tmp = layout::temp_file(&path);
        fsio::write_json_atomic(&tmp, &envelope)
            .map_err(io::Error::other)
            .and_then(|()| fsio::rename_no_replace(&tmp, &spool.join(CURRENT)))
            .inspect(|placed| {
                let _ = fs::remove_file(if *placed { &path } else { &tmp });
            })
    } else {
        fsio::rename_no_replace(&path, &spool.join(CURRENT))
    };
    let put_back = |actor: &mut Actor, envelope: Envelope| {
        if let Some(p) = actor.queue.get_mut(file).filter(|_| taken) {
            p.envelope = Some(envelope);
        }
    };
    match moved {
        Ok(true) => {
            actor.queue.take(file);
            actor.queue.expect(CURRENT, Change::Arrived);
            actor.slot.place(message.clone());
            actor.delivered_since_start = true;
            let redelivered = envelope.redelivered;
            let payload = envelope.payload.take();
            let returned = if want_payload {
                payload.clone()
            } else {
                Value::Null
            };
            history.emit(Event::Deliver {
                message: message.to_string(),
                actor: actor.id.to_string(),
                redelivered,
                payload,
            });
            debug!("{}: delivering {file}", actor.id);
            Placed::Delivered {
                message,
                payload: returned,
            }
        }
        Ok(false) => {
            put_back(actor, envelope);
            Placed::Occupied
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => gone(actor, file, history),
        Err(e) => {
            put_back(actor, envelope);
            warn!("cannot deliver {} to {}: {e}", path.display(), actor.id);
            Placed::NotBefore(now + EDIT_SETTLE)
        }
    }
}

/// Reads a pending message that changed since it was indexed, records the change, and says
/// whether the file must be rewritten as an envelope.
fn read_again(
    actor: &mut Actor,
    file: &str,
    intake: &mut Intake,
    history: &mut History,
) -> Result<(Envelope, bool), Placed> {
    let path = actor.dir.spool_dir().join(file);
    let Some(pending) = actor.queue.get(file).cloned() else {
        return Err(Placed::Gone);
    };
    let id = layout::pending_message_id(file).unwrap_or_else(|| pending.message.clone());
    let checked = match intake.read(&path, "message") {
        Read::Gone => return Err(gone(actor, file, history)),
        Read::Bytes(bytes) => envelope::check(&bytes, &id),
        Read::Refused(reason) => Err(reason),
    };
    match checked {
        Ok((mut envelope, shape)) => {
            let mut rewrite = shape.rewritten();
            // A copy keeps the id the index gave it.
            if envelope.id.as_ref() != Some(&pending.message) {
                envelope.id = Some(pending.message.clone());
                rewrite = true;
            }
            if let Some(before) = &pending.envelope
                && before.payload != envelope.payload
            {
                history.emit(Event::PendingEdited {
                    actor: actor.id.to_string(),
                    file: file.to_owned(),
                    message: pending.message.to_string(),
                    before: before.payload.clone(),
                    after: envelope.payload.clone(),
                });
            }
            Ok((envelope, rewrite))
        }
        Err(_) if written_within(&path, EDIT_SETTLE) => {
            Err(Placed::NotBefore(Instant::now() + EDIT_SETTLE))
        }
        Err(reason) => {
            actor.queue.take(file);
            intake.set_aside_message(history, &path, &actor.id, &id, &reason);
            Err(Placed::SetAside {
                message: pending.message,
                reason,
            })
        }
    }
}

fn gone(actor: &mut Actor, file: &str, history: &mut History) -> Placed {
    if let Some(p) = actor.queue.take(file) {
        history.emit(Event::PendingDeleted {
            actor: actor.id.to_string(),
            file: file.to_owned(),
            message: p.message.to_string(),
        });
    }
    Placed::Gone
}
