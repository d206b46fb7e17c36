//! Routing: a checked message from `send/` is moved into its actor's spool under a name that
//! sorts in delivery order, and indexed in the actor's queue.

use std::fs;
use std::path::Path;

use eos::Envelope;
use eos::layout::spool_file_name;
use eos::{MessageId, fsio, mailbox};

use crate::queue::Pending;
use crate::registry::{Actor, Registry};

#[derive(Default)]
pub struct Router {
    /// The next spool sequence number: spool names sort in delivery order.
    next_seq: u64,
}

impl Router {
    /// Continues after the highest sequence number in any spool.
    pub fn new(registry: &Registry) -> Self {
        let next_seq = registry
            .iter()
            .flat_map(|a| a.queue.iter().map(|(file, _)| file))
            .filter_map(eos::layout::spool_seq)
            .max()
            .map_or(0, |max| max + 1);
        Router { next_seq }
    }

    /// Indexes the message at `path` (whose content is `envelope`, rewritten if `rewrite`) in
    /// the actor's queue under a spool name, and returns the name. A message that needs no
    /// rewriting stays where it is for now (see [`Pending::unmoved`]); one that does is written
    /// into the spool at once. `Later` when there is no room to write it (a full disk): it
    /// stays where it is, and is routed at a rescan once there is.
    pub fn accept(
        &mut self,
        actor: &mut Actor,
        path: &Path,
        id: &MessageId,
        envelope: Envelope,
        rewrite: bool,
    ) -> Result<String, Refused> {
        let file = spool_file_name(self.next_seq, id);
        self.next_seq += 1;
        let message = envelope.id_or(id);
        if !rewrite {
            let mut pending = Pending::read(message, envelope, true);
            pending.unmoved = Some(path.to_path_buf());
            actor.queue.insert_unmoved(file.clone(), pending);
            return Ok(file);
        }
        let dest = actor.dir.spool_dir().join(&file);
        let written = fsio::write_json_atomic(&dest, &envelope)
            .map_err(|e| {
                let full = e.chain().any(|c| {
                    c.downcast_ref::<std::io::Error>()
                        .is_some_and(|e| e.kind() == std::io::ErrorKind::StorageFull)
                });
                (full, format!("{e:#}"))
            })
            .and_then(|()| fs::remove_file(path).map_err(|e| (false, e.to_string())));
        match written {
            Ok(()) => {}
            Err((true, _)) => return Err(Refused::Later),
            Err((false, e)) => return Err(cannot_move(actor, &e)),
        }
        actor
            .queue
            .insert_ours(file.clone(), Pending::read(message, envelope, true));
        Ok(file)
    }
}

fn cannot_move(actor: &Actor, e: &str) -> Refused {
    Refused::Never(format!(
        "the message could not be moved into the spool of `{}`: {e}",
        actor.id
    ))
}

/// Moves the messages routed in this turn and not delivered from `send/` into their spool.
/// Returns the ones that could not be moved, with why (gone from `send/` meanwhile: `None`).
pub fn settle(actor: &mut Actor) -> Vec<(String, MessageId, Option<String>)> {
    let mut failed = Vec::new();
    for (file, from) in actor.queue.unmoved() {
        match fs::rename(&from, actor.dir.spool_dir().join(&file)) {
            Ok(()) => actor.queue.moved_in(&file),
            Err(e) => {
                if let Some(p) = actor.queue.forget(&file) {
                    let why = (e.kind() != std::io::ErrorKind::NotFound).then(|| format!("{e}"));
                    failed.push((file, p.message, why));
                }
            }
        }
    }
    failed
}

/// Why a message was not routed.
pub enum Refused {
    /// There is no room to write it now: it stays, to be routed later.
    Later,
    /// It cannot be delivered, for this reason.
    Never(String),
}

/// The pending names in a spool, as a listing finds them.
pub fn listing(spool: &Path) -> Vec<String> {
    mailbox::pending(spool).unwrap_or_default()
}
