//! Control requests from `control/`: deliver exactly one message now, even while paused.
//! `step` takes the next message in order (system-wide, or for one actor); `deliver` takes the
//! message a person chose, which is how "A before B" is tried.

use std::fs;
use std::io;

use eos::control::{Delivered, Reply, Request};
use eos::{ActorId, fsio, layout, mailbox};
use log::{info, warn};

use crate::actor::{Current, Process};
use crate::supervisor::Supervisor;

impl Supervisor {
    pub(crate) fn control_request(&mut self, name: &str) {
        if !layout::is_request_name(name) {
            return;
        }
        let path = self.root.control_dir().join(name);
        let request = match fsio::read_json::<Request>(&path) {
            Ok(request) => request,
            Err(e)
                if e.downcast_ref::<io::Error>()
                    .is_some_and(|e| e.kind() == io::ErrorKind::NotFound) =>
            {
                return;
            }
            Err(e) => {
                self.reply(name, Err(format!("not a control request: {e:#}")));
                return;
            }
        };
        let outcome = match request {
            Request::Step { actor } => self.step(actor.as_ref()),
            Request::Deliver { message } => self.deliver_chosen(&message),
        };
        if let Ok(d) = &outcome {
            info!("delivered {} to {} by request", d.message, d.actor);
        }
        self.reply(name, outcome);
    }

    /// The next message in order: among the actors that are free and running (all of them, or
    /// `only`), the head of each queue; the first of those by name (names carry the routing
    /// sequence, so this is arrival order).
    fn step(&mut self, only: Option<&ActorId>) -> Result<Delivered, String> {
        let mut heads: Vec<(String, ActorId)> = Vec::new();
        let mut busy = Vec::new();
        for actor in self.actors.values() {
            if only.is_some_and(|id| *id != actor.id) || matches!(actor.process, Process::Stopped) {
                continue;
            }
            let pending = mailbox::pending(&actor.dir.spool_dir()).unwrap_or_default();
            let Some(head) = self.scheduler.next(&actor.id, &pending) else {
                continue;
            };
            if actor.current != Current::Empty {
                busy.push(actor.id.to_string());
                continue;
            }
            heads.push((head.to_owned(), actor.id.clone()));
        }
        heads.sort();
        let Some((file, actor)) = heads.into_iter().next() else {
            if let Some(id) = only.filter(|id| !self.actors.contains_key(*id)) {
                return Err(format!("there is no actor `{id}`"));
            }
            return Err(if busy.is_empty() {
                "nothing to deliver: no message is waiting for a running actor".into()
            } else {
                format!(
                    "nothing to deliver now: {} still handling a message; step again when done",
                    busy.join(", ")
                )
            });
        };
        self.deliver_file(&actor, &file)
    }

    /// The pending message named by `wanted` (a message id or a spool file name), wherever it
    /// is in its queue.
    fn deliver_chosen(&mut self, wanted: &str) -> Result<Delivered, String> {
        let wanted = wanted.rsplit('/').next().unwrap_or(wanted);
        for actor in self.actors.values() {
            for file in mailbox::pending(&actor.dir.spool_dir()).unwrap_or_default() {
                let matches = file == wanted
                    || layout::spool_message_id(&file).is_some_and(|id| id.as_str() == wanted);
                if !matches {
                    continue;
                }
                if actor.current != Current::Empty {
                    let handling = actor.handling.clone().unwrap_or_else(|| "a message".into());
                    return Err(format!(
                        "`{}` is still handling {handling}; `{wanted}` can be delivered when it is done",
                        actor.id
                    ));
                }
                let id = actor.id.clone();
                return self.deliver_file(&id, &file);
            }
        }
        Err(format!("no pending message `{wanted}` (see `eos pending`)"))
    }

    fn deliver_file(&mut self, actor: &ActorId, file: &str) -> Result<Delivered, String> {
        match self.deliver(actor, Some(file))? {
            Some((message, payload)) => Ok(Delivered {
                actor: actor.clone(),
                message,
                file: file.to_owned(),
                payload,
            }),
            None => Err(format!(
                "`{file}` could not be delivered to `{actor}` yet; try again"
            )),
        }
    }

    fn reply(&self, name: &str, outcome: Result<Delivered, String>) {
        let request = self.root.control_dir().join(name);
        let reply = match outcome {
            Ok(delivered) => Reply {
                delivered: Some(delivered),
                error: None,
            },
            Err(error) => Reply {
                delivered: None,
                error: Some(error),
            },
        };
        if let Err(e) = fsio::write_json_atomic(&layout::control_reply(&request), &reply) {
            warn!("cannot answer {name}: {e:#}");
        }
        let _ = fs::remove_file(request);
    }
}
