//! What a root holds — every actor's state and pending mail — rebuilt from the journal, entry
//! by entry, with a moment worth keeping after each delivery, hand edit, spawn, removal and
//! restore. `eos history --git` turns those moments into commits.
//!
//! Files are named as in a root: `<actor>/state.json` and `<actor>/spool/<name>`, each a
//! pretty-printed JSON file so that a diff shows the lines that changed.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use crate::history::OUTSIDE;
use crate::journal::{Entry, Event};
use crate::schedule::Message;

/// A moment to keep: what happened (one line, in the schedule's words), and the journal entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Moment {
    pub subject: String,
    pub body: String,
    pub seq: u64,
    pub us: u64,
}

/// A pending message.
#[derive(Debug, Clone)]
struct Pending {
    actor: String,
    name: String,
    from: Option<String>,
    payload: Value,
}

/// The root's image, and which of its files changed since the last moment.
#[derive(Debug, Default)]
pub struct Image {
    states: BTreeMap<String, Value>,
    /// By message id.
    pending: HashMap<String, Pending>,
    /// Every message sent, by id: who from, what payload.
    sent: HashMap<String, (Option<String>, Value)>,
    /// Path → new content (`None`: deleted), since the last moment.
    changes: BTreeMap<String, Option<String>>,
    /// Everything was replaced (a restore): the next moment starts from nothing.
    replaced: bool,
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

pub fn state_path(actor: &str) -> String {
    format!("{actor}/state.json")
}

fn spool_path(actor: &str, name: &str) -> String {
    format!("{actor}/spool/{name}")
}

impl Image {
    fn set_state(&mut self, actor: &str, state: Value) {
        self.changes.insert(state_path(actor), Some(pretty(&state)));
        self.states.insert(actor.to_owned(), state);
    }

    fn put_pending(&mut self, id: &str, p: Pending) {
        let content = json!({"id": id, "sender": p.from, "payload": p.payload});
        self.changes
            .insert(spool_path(&p.actor, &p.name), Some(pretty(&content)));
        self.pending.insert(id.to_owned(), p);
    }

    fn take_pending(&mut self, id: &str) -> Option<Pending> {
        let p = self.pending.remove(id)?;
        self.changes.insert(spool_path(&p.actor, &p.name), None);
        Some(p)
    }

    /// Takes in one entry; returns the moment it makes, if it makes one.
    pub fn apply(&mut self, entry: &Entry) -> Option<Moment> {
        let moment = |subject: String, body: String| {
            Some(Moment {
                subject,
                body,
                seq: entry.seq,
                us: entry.us,
            })
        };
        match &entry.event {
            Event::Send {
                message,
                from,
                payload,
                ..
            } => {
                self.sent
                    .insert(message.clone(), (from.clone(), payload.clone()));
                None
            }
            Event::Route { message, to, file } => {
                let (from, payload) = self.sent.get(message).cloned().unwrap_or_default();
                let p = Pending {
                    actor: to.clone(),
                    name: file.rsplit('/').next().unwrap_or(file).to_owned(),
                    from,
                    payload,
                };
                self.put_pending(message, p);
                None
            }
            Event::PendingAdded {
                actor,
                file,
                message,
                payload,
                copy_of,
            } => {
                let from = copy_of
                    .as_ref()
                    .and_then(|c| self.sent.get(c))
                    .and_then(|(f, _)| f.clone());
                self.sent
                    .insert(message.clone(), (from.clone(), payload.clone()));
                let p = Pending {
                    actor: actor.clone(),
                    name: file.clone(),
                    from,
                    payload: payload.clone(),
                };
                self.put_pending(message, p);
                None
            }
            Event::PendingEdited { message, after, .. } => {
                if let Some(mut p) = self.take_pending(message) {
                    p.payload = after.clone();
                    self.put_pending(message, p);
                }
                None
            }
            Event::PendingMoved { message, to, .. } => {
                if let Some(mut p) = self.take_pending(message) {
                    p.name = to.clone();
                    self.put_pending(message, p);
                }
                None
            }
            Event::Deliver {
                message, payload, ..
            } => {
                // What was delivered is what the message was (an edit may have changed it).
                if let Some(sent) = self.sent.get_mut(message) {
                    sent.1 = payload.clone();
                }
                self.take_pending(message);
                None
            }
            Event::PendingDeleted { message, .. } => {
                self.take_pending(message);
                None
            }
            Event::Dead {
                message: Some(message),
                ..
            } => {
                self.take_pending(message);
                None
            }
            Event::Result {
                message,
                actor,
                ok,
                state,
            } => {
                if let Some(state) = state {
                    self.set_state(actor, state.clone());
                }
                let (from, payload) = self.sent.get(message).cloned().unwrap_or_default();
                let line = Message {
                    to: actor.clone(),
                    from,
                    payload,
                };
                let outcome = if *ok { "" } else { " => failed" };
                moment(
                    format!("deliver {line}{outcome}"),
                    format!("message {message}, journal entry {}", entry.seq),
                )
            }
            Event::StateEdited { actor, after, .. } => {
                self.set_state(actor, after.clone());
                moment(
                    format!(
                        "state {actor} {}",
                        serde_json::to_string(after).unwrap_or_default()
                    ),
                    format!("edited by hand, journal entry {}", entry.seq),
                )
            }
            Event::Spawn {
                actor,
                program,
                parent,
                state,
                ..
            } => {
                self.set_state(actor, state.clone());
                let by = parent.as_deref().unwrap_or(OUTSIDE);
                moment(
                    format!("spawn {actor} ({program})"),
                    format!("asked for by {by}, journal entry {}", entry.seq),
                )
            }
            Event::Removed { actor, .. } => {
                self.states.remove(actor);
                self.changes.insert(state_path(actor), None);
                let gone: Vec<String> = self
                    .pending
                    .iter()
                    .filter(|(_, p)| &p.actor == actor)
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in gone {
                    self.take_pending(&id);
                }
                moment(
                    format!("remove {actor}"),
                    format!("journal entry {}", entry.seq),
                )
            }
            _ => None,
        }
    }

    /// Replaces everything with what a checkpoint holds (a restore): states by actor, pending
    /// messages as (actor, file name, id, sender, payload).
    pub fn replace(
        &mut self,
        states: BTreeMap<String, Value>,
        pending: Vec<(String, String, String, Option<String>, Value)>,
    ) {
        self.states.clear();
        self.pending.clear();
        self.changes.clear();
        self.replaced = true;
        for (actor, state) in states {
            self.set_state(&actor, state);
        }
        for (actor, name, id, from, payload) in pending {
            self.sent
                .insert(id.clone(), (from.clone(), payload.clone()));
            let p = Pending {
                actor,
                name,
                from,
                payload,
            };
            self.put_pending(&id, p);
        }
    }

    /// The files changed since the last call (`None`: deleted), and whether everything else is
    /// gone (a restore).
    pub fn take_changes(&mut self) -> (BTreeMap<String, Option<String>>, bool) {
        (
            std::mem::take(&mut self.changes),
            std::mem::take(&mut self.replaced),
        )
    }

    /// Every file of the image, for a commit that starts from nothing.
    pub fn files(&self) -> BTreeMap<String, String> {
        let mut files: BTreeMap<String, String> = self
            .states
            .iter()
            .map(|(actor, state)| (state_path(actor), pretty(state)))
            .collect();
        for (id, p) in &self.pending {
            let content = json!({"id": id, "sender": p.from, "payload": p.payload});
            files.insert(spool_path(&p.actor, &p.name), pretty(&content));
        }
        files
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, event: Event) -> Entry {
        Entry {
            seq,
            us: seq,
            event,
        }
    }

    #[test]
    fn deliveries_make_moments_with_the_files_they_changed() {
        let mut image = Image::default();
        let spawn = Event::Spawn {
            actor: "bank".into(),
            program: "script-actor".into(),
            args: vec![],
            parent: None,
            state: json!({"balance": 100}),
        };
        let m = image.apply(&entry(1, spawn)).unwrap();
        assert_eq!(m.subject, "spawn bank (script-actor)");
        image.take_changes();
        let send = Event::Send {
            message: "m1".into(),
            from: Some("alice".into()),
            to: "bank".into(),
            cause: None,
            payload: json!({"w": 70}),
            bare: false,
        };
        assert!(image.apply(&entry(2, send)).is_none());
        let route = Event::Route {
            message: "m1".into(),
            to: "bank".into(),
            file: "spool/000001-m1.json".into(),
        };
        image.apply(&entry(3, route));
        let (changes, replaced) = image.take_changes();
        assert!(!replaced);
        let added = changes["bank/spool/000001-m1.json"].as_ref().unwrap();
        assert!(added.contains("\"sender\": \"alice\""), "{added}");
        let deliver = Event::Deliver {
            message: "m1".into(),
            actor: "bank".into(),
            redelivered: false,
            payload: json!({"w": 70}),
        };
        image.apply(&entry(4, deliver));
        let result = Event::Result {
            message: "m1".into(),
            actor: "bank".into(),
            ok: true,
            state: Some(json!({"balance": 30})),
        };
        let m = image.apply(&entry(5, result)).unwrap();
        assert_eq!(m.subject, r#"deliver bank <- alice {"w":70}"#);
        assert_eq!(m.seq, 5);
        let (changes, _) = image.take_changes();
        assert_eq!(changes["bank/spool/000001-m1.json"], None);
        assert_eq!(
            changes["bank/state.json"].as_deref(),
            Some("{\n  \"balance\": 30\n}\n")
        );
        assert_eq!(image.files().len(), 1);
    }
}
