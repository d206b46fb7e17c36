//! The message history read from the journal: each message from its send (or its arrival by
//! hand) to its end — delivered with the payload it really had, failed into `dead/`, deleted by
//! hand — with the receiver's state after it. `eos trace` draws it; filters pick messages by
//! actor, time (of send or of delivery) and causal chain.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use crate::journal::{Entry, Event};

/// The name drawn for messages that no actor sent (a person, a tool).
pub const OUTSIDE: &str = "(outside)";

/// How a message ended, so far.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    /// Still waiting.
    Pending,
    Delivered,
    /// Set aside in `dead/`, with the reason.
    Failed(String),
    /// Deleted from the spool by hand before it was delivered.
    Dropped,
}

/// One message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: String,
    pub from: String,
    pub to: String,
    pub cause: Option<String>,
    /// The payload as it was delivered (or, until then, as it is now: edits by hand included).
    pub payload: Value,
    /// The payload as it was sent, when an edit changed it.
    pub sent_payload: Option<Value>,
    /// When it was sent and delivered (µs since the epoch), for time filters.
    pub sent_us: u64,
    pub delivered_us: Option<u64>,
    /// Positions in the journal: sent; delivered; ended (delivered, failed or dropped).
    pub sent_at: usize,
    pub delivered_at: Option<usize>,
    pub ended_at: Option<usize>,
    pub end: End,
    /// Delivered again after a supervisor restart.
    pub redelivered: bool,
    /// The receiver's state after handling it.
    pub state_after: Option<Value>,
    /// When the receiver was done with it (µs since the epoch): handled or failed.
    pub handled_us: Option<u64>,
}

impl Message {
    fn new(id: &str, from: Option<&str>, to: &str, payload: Value, us: u64, at: usize) -> Self {
        Message {
            id: id.to_owned(),
            from: from.unwrap_or(OUTSIDE).to_owned(),
            to: to.to_owned(),
            cause: None,
            payload,
            sent_payload: None,
            sent_us: us,
            delivered_us: None,
            sent_at: at,
            delivered_at: None,
            ended_at: None,
            end: End::Pending,
            redelivered: false,
            state_after: None,
            handled_us: None,
        }
    }

    /// Where it belongs in delivery order: where it was delivered, else where it ended (failed
    /// before delivery, dropped), else (still pending) where it began.
    pub fn position(&self) -> usize {
        self.delivered_at.or(self.ended_at).unwrap_or(self.sent_at)
    }

    fn set_payload(&mut self, payload: &Value) {
        if self.payload != *payload {
            self.sent_payload
                .get_or_insert_with(|| self.payload.clone());
            self.payload = payload.clone();
        }
    }
}

/// Something that happened to an actor's process, drawn on its lifeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub actor: String,
    /// Position in the journal, and when (µs since the epoch).
    pub at: usize,
    pub us: u64,
    pub kind: MarkKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MarkKind {
    /// It exited: a crash (`abnormal`) or not, and why in words.
    Exit { abnormal: bool, reason: String },
    /// It was started again; what the journal says of how.
    Restart { how: String },
    /// A breakpoint paused delivery here.
    Break { breakpoint: String, detail: String },
}

/// The exits and restarts in journal entries, in journal order.
pub fn marks(entries: &[Entry]) -> Vec<Mark> {
    let mut marks = Vec::new();
    for (at, entry) in entries.iter().enumerate() {
        let kind = match &entry.event {
            Event::Exit {
                code,
                signal,
                reason,
                ..
            } => {
                let abnormal = signal.is_some() || code.is_some_and(|c| c != 0);
                let reason = reason.clone().unwrap_or_else(|| match (code, signal) {
                    (_, Some(signal)) => format!("killed by {signal}"),
                    (Some(0), _) => "normal".into(),
                    (Some(code), _) => format!("exit code {code}"),
                    _ => "exited".into(),
                });
                MarkKind::Exit { abnormal, reason }
            }
            Event::Restart {
                node,
                attempt,
                backoff_ms,
                reason,
                ..
            } => {
                let mut how = Vec::new();
                if let Some(attempt) = attempt {
                    how.push(format!("attempt {attempt}"));
                }
                if let Some(ms) = backoff_ms {
                    how.push(format!("after {ms} ms"));
                }
                if let (Some(node), None) = (node, attempt) {
                    how.push(format!("by {node}"));
                }
                if let Some(reason) = reason {
                    how.push(reason.clone());
                }
                MarkKind::Restart {
                    how: how.join(", "),
                }
            }
            Event::Break {
                breakpoint, detail, ..
            } => MarkKind::Break {
                breakpoint: breakpoint.clone(),
                detail: detail.clone(),
            },
            _ => continue,
        };
        let Some(actor) = entry.event.actor() else {
            continue;
        };
        marks.push(Mark {
            actor: actor.to_owned(),
            at,
            us: entry.us,
            kind,
        });
    }
    marks
}

/// The marks a view shows: of the actors it draws, within its time range.
pub fn filter_marks(marks: Vec<Mark>, messages: &[Message], filter: &Filter) -> Vec<Mark> {
    let in_view = |actor: &str| messages.iter().any(|m| m.from == actor || m.to == actor);
    marks
        .into_iter()
        .filter(|m| in_view(&m.actor))
        .filter(|m| {
            filter.since_us.is_none_or(|t| m.us >= t) && filter.until_us.is_none_or(|t| m.us <= t)
        })
        .collect()
}

/// Reads the messages out of journal entries, in the order they were sent. A dead letter whose
/// message was never sent (a malformed one, or one for an unknown actor) becomes a message from
/// outside that failed at once; a message put into a spool by hand, one from outside.
pub fn messages(entries: &[Entry]) -> Vec<Message> {
    let mut messages: Vec<Message> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for (at, entry) in entries.iter().enumerate() {
        let us = entry.us;
        let mut known = |id: &str| by_id.get(id).copied();
        match &entry.event {
            Event::Send {
                message,
                from,
                to,
                cause,
                payload,
                ..
            } => {
                by_id.insert(message.clone(), messages.len());
                let mut m = Message::new(message, from.as_deref(), to, payload.clone(), us, at);
                m.cause.clone_from(cause);
                messages.push(m);
            }
            Event::PendingAdded {
                message,
                actor,
                payload,
                ..
            } => {
                by_id.insert(message.clone(), messages.len());
                messages.push(Message::new(message, None, actor, payload.clone(), us, at));
            }
            Event::PendingEdited { message, after, .. } => {
                if let Some(i) = known(message) {
                    messages[i].set_payload(after);
                }
            }
            Event::Deliver {
                message,
                actor,
                redelivered,
                payload,
            } => {
                let i = known(message).unwrap_or_else(|| {
                    // Delivered without a send on record: put there by hand, or sent before
                    // the oldest entry kept.
                    by_id.insert(message.clone(), messages.len());
                    messages.push(Message::new(message, None, actor, payload.clone(), us, at));
                    messages.len() - 1
                });
                let m = &mut messages[i];
                if !payload.is_null() {
                    m.set_payload(payload);
                }
                m.redelivered |= *redelivered;
                if m.end == End::Pending || *redelivered {
                    m.end = End::Delivered;
                    m.ended_at = Some(at);
                    m.delivered_at.get_or_insert(at);
                    m.delivered_us = Some(us);
                }
            }
            Event::Result { message, state, .. } => {
                if let Some(i) = known(message) {
                    messages[i].handled_us = Some(us);
                    if let Some(state) = state {
                        messages[i].state_after = Some(state.clone());
                    }
                }
            }
            Event::PendingDeleted { message, .. } => {
                if let Some(i) = known(message)
                    && messages[i].end == End::Pending
                {
                    messages[i].end = End::Dropped;
                    messages[i].ended_at = Some(at);
                }
            }
            Event::Dead {
                message,
                actor,
                reason,
                ..
            } => match message.as_deref().and_then(&mut known) {
                Some(i) => {
                    messages[i].end = End::Failed(reason.clone());
                    messages[i].ended_at = Some(at);
                    if messages[i].delivered_us.is_some() {
                        messages[i].handled_us.get_or_insert(us);
                    }
                }
                None => {
                    let to = actor.as_deref().unwrap_or("(dead letters)");
                    let id = message.as_deref().unwrap_or_default();
                    let mut m = Message::new(id, None, to, Value::Null, us, at);
                    m.end = End::Failed(reason.clone());
                    m.ended_at = Some(at);
                    messages.push(m);
                }
            },
            _ => {}
        }
    }
    messages
}

/// Which messages to draw.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Only messages from or to these actors (all if empty).
    pub actors: Vec<String>,
    /// Only messages sent or delivered in this range (µs since the epoch).
    pub since_us: Option<u64>,
    pub until_us: Option<u64>,
    /// Only the causal chain of this message (an id, or a unique part of one): what led to it
    /// and what it led to.
    pub chain: Option<String>,
}

pub fn filter(messages: Vec<Message>, filter: &Filter) -> Vec<Message> {
    let chain = filter.chain.as_ref().map(|wanted| {
        let ids = messages.iter().map(|m| m.id.as_str());
        let id = match crate::control::resolve(wanted, ids) {
            crate::control::Resolved::One(id) => id.to_owned(),
            _ => wanted.clone(),
        };
        causal_chain(&messages, &id)
    });
    let in_range = |us: u64| {
        filter.since_us.is_none_or(|t| us >= t) && filter.until_us.is_none_or(|t| us <= t)
    };
    messages
        .into_iter()
        .filter(|m| {
            filter.actors.is_empty() || filter.actors.iter().any(|a| *a == m.from || *a == m.to)
        })
        .filter(|m| in_range(m.sent_us) || m.delivered_us.is_some_and(in_range))
        .filter(|m| chain.as_ref().is_none_or(|c| c.contains(&m.id)))
        .collect()
}

/// The ids of `id`'s ancestors (following `cause`), `id` itself, and its descendants.
pub fn causal_chain(messages: &[Message], id: &str) -> BTreeSet<String> {
    let cause_of: HashMap<&str, &str> = messages
        .iter()
        .filter_map(|m| Some((m.id.as_str(), m.cause.as_deref()?)))
        .collect();
    let mut chain = BTreeSet::from([id.to_owned()]);
    let mut up = id;
    while let Some(&cause) = cause_of.get(up) {
        if !chain.insert(cause.to_owned()) {
            break;
        }
        up = cause;
    }
    let mut grew = true;
    while grew {
        grew = false;
        for m in messages {
            if m.cause.as_ref().is_some_and(|c| chain.contains(c)) && chain.insert(m.id.clone()) {
                grew = true;
            }
        }
    }
    chain
}

/// A payload as a short label.
pub fn label(payload: &Value, max: usize) -> String {
    match payload {
        Value::Null => String::new(),
        other => shorten(&other.to_string(), max),
    }
}

/// `text` cut to `max` characters, an ellipsis saying so.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(us: u64, event: Event) -> Entry {
        Entry { seq: 0, us, event }
    }

    fn send(id: &str, from: Option<&str>, to: &str, cause: Option<&str>) -> Entry {
        entry(
            1,
            Event::Send {
                message: id.into(),
                from: from.map(Into::into),
                to: to.into(),
                cause: cause.map(Into::into),
                payload: json!({"m": id}),
                bare: false,
            },
        )
    }

    fn deliver(id: &str, to: &str, us: u64, payload: Value) -> Entry {
        entry(
            us,
            Event::Deliver {
                message: id.into(),
                actor: to.into(),
                redelivered: false,
                payload,
            },
        )
    }

    #[test]
    fn the_causal_chain_follows_causes_both_ways() {
        let entries = vec![
            send("a", None, "x", None),
            deliver("a", "x", 2, Value::Null),
            send("b", Some("x"), "y", Some("a")),
            send("c", Some("y"), "z", Some("b")),
            send("other", None, "x", None),
        ];
        let all = messages(&entries);
        let ids = |f: Filter| -> Vec<String> {
            filter(all.clone(), &f).into_iter().map(|m| m.id).collect()
        };
        let chain = |id: &str| Filter {
            chain: Some(id.into()),
            ..Filter::default()
        };
        assert_eq!(ids(chain("b")), ["a", "b", "c"]);
        assert_eq!(ids(chain("other")), ["other"]);
        let only_z = Filter {
            actors: vec!["z".into()],
            ..Filter::default()
        };
        assert_eq!(ids(only_z), ["c"]);
    }

    #[test]
    fn what_was_delivered_edited_added_and_dropped_is_what_is_drawn() {
        let entries = vec![
            send("a", None, "x", None),
            send("b", None, "x", None),
            entry(
                3,
                Event::PendingEdited {
                    actor: "x".into(),
                    file: "1-a.json".into(),
                    message: "a".into(),
                    before: json!({"m": "a"}),
                    after: json!({"m": "A!"}),
                },
            ),
            entry(
                4,
                Event::PendingAdded {
                    actor: "x".into(),
                    file: "h.json".into(),
                    message: "h".into(),
                    payload: json!(7),
                    copy_of: None,
                },
            ),
            entry(
                5,
                Event::PendingDeleted {
                    actor: "x".into(),
                    file: "2-b.json".into(),
                    message: "b".into(),
                },
            ),
            deliver("a", "x", 100, json!({"m": "A!"})),
            deliver("h", "x", 101, json!(7)),
        ];
        let all = messages(&entries);
        assert_eq!(all[0].payload, json!({"m": "A!"}));
        assert_eq!(all[0].sent_payload, Some(json!({"m": "a"})));
        assert_eq!(all[1].end, End::Dropped);
        assert_eq!(all[2].from, OUTSIDE);
        assert_eq!(all[2].end, End::Delivered);
        // Sent at 1, delivered at 100: a window around the delivery finds it.
        let late = Filter {
            since_us: Some(50),
            ..Filter::default()
        };
        let ids: Vec<String> = filter(all, &late).into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["a", "h"]);
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(label(&json!("x".repeat(100)), 10).chars().count(), 10);
    }
}
