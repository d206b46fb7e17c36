//! Routing: a `{ACTOR_ID}::{RANDOM}.json` file in `send/` is checked and moved into that
//! actor's spool under a name that sorts in delivery order. Whatever cannot be routed goes to
//! `dead/` with the reason beside it; files that are not messages are left alone.

use std::fs;
use std::path::Path;

use eos::journal::{self, Event};
use eos::layout::{self, spool_file_name};
use eos::{ActorId, MessageId, envelope, fsio, numbers};
use log::debug;
use serde_json::Value;

use crate::supervisor::{Origin, Supervisor, regular_file, set_aside, sorted_names};

impl Supervisor {
    pub(crate) fn scan_send_dir(&mut self) {
        for name in sorted_names(&self.root.send_dir()) {
            self.route(&name, Origin::Scan);
        }
    }

    /// Routes the file `name` in `send/`.
    pub(crate) fn route(&mut self, name: &str, origin: Origin) {
        let path = self.root.send_dir().join(name);
        let (to, id) = match layout::parse_send_name(name) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return,
            Err(reason) => {
                if regular_file(&path).is_some() {
                    self.dead_letter(&path, name, &reason);
                }
                return;
            }
        };
        match self.accept(&path, &to, &id, origin) {
            Ok(true) => self.try_deliver(&to),
            Ok(false) => {}
            Err(reason) => self.dead_letter(&path, name, &reason),
        }
    }

    /// Moves a message into its actor's spool. `Ok(false)`: nothing to do (gone, not a regular
    /// file, or maybe still being written); `Err`: why it cannot be delivered.
    fn accept(
        &mut self,
        path: &Path,
        to: &ActorId,
        id: &MessageId,
        origin: Origin,
    ) -> Result<bool, String> {
        let Some((meta, bytes)) = self.read_candidate(path, "message")? else {
            return Ok(false);
        };
        let value: Value = match serde_json::from_slice(&bytes) {
            Ok(value) => value,
            Err(_) if origin.maybe_unfinished(&meta) => return Ok(false),
            Err(e) => return Err(format!("the message is not valid JSON: {e}")),
        };
        // Wrapping it in an envelope must not change a number in it.
        numbers::check_exact(&bytes)
            .map_err(|e| format!("the message cannot be delivered unchanged: {e}"))?;
        let (value, changed) = envelope::normalize(value, id)?;
        let Some(actor) = self.actors.get(to) else {
            return Err(self.unknown_actor(to));
        };
        let dest = actor
            .dir
            .spool_dir()
            .join(spool_file_name(self.next_seq, id));
        self.next_seq += 1;
        let moved = if changed {
            fsio::write_json_atomic(&dest, &value)
                .map_err(|e| format!("{e:#}"))
                .and_then(|()| fs::remove_file(path).map_err(|e| e.to_string()))
        } else {
            fs::rename(path, &dest).map_err(|e| e.to_string())
        };
        moved
            .map_err(|e| format!("the message could not be moved into the spool of `{to}`: {e}"))?;
        let message = value["id"].as_str().unwrap_or(id.as_str()).to_owned();
        self.journal.record(Event::Send {
            message: message.clone(),
            from: value["sender"].as_str().map(str::to_owned),
            to: to.to_string(),
            cause: value
                .get("cause")
                .and_then(Value::as_str)
                .map(str::to_owned),
            payload: journal::inline(&value["payload"]),
        });
        let file = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.journal.record(Event::Route {
            message,
            to: to.to_string(),
            file,
        });
        debug!("routed {} to {}", path.display(), dest.display());
        Ok(true)
    }

    fn unknown_actor(&self, to: &ActorId) -> String {
        if self.actors.is_empty() {
            return format!("there is no actor `{to}` (no actors exist)");
        }
        let known: Vec<&str> = self.actors.keys().map(ActorId::as_str).collect();
        format!(
            "there is no actor `{to}`; known actors: {}",
            known.join(", ")
        )
    }

    /// Sets a message aside in `dead/` with the reason beside it.
    pub(crate) fn dead_letter(&self, path: &Path, name: &str, reason: &str) {
        set_aside(path, &self.root.dead_dir(), name, reason);
    }
}
