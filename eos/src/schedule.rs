//! A schedule: what happened in a recorded run, one step a line, in the order it happened, so
//! that `eos replay` can make it happen again on real processes — and a person can read it and
//! edit it ("the same run, but with these two swapped" is swapping two lines).
//!
//! ```text
//! deliver bank <- alice {"op":"withdraw","amount":50} => {"balance":50}
//! send bank <- (outside) {"op":"deposit","amount":10}
//! drop bank <- bob {"op":"withdraw","amount":80}
//! duplicate bank <- bob {"op":"withdraw","amount":80}
//! edit bank <- bob {"amount":80} => {"amount":8}
//! state bank {"balance":0}
//! crash bank
//! ```
//!
//! Messages are named by receiver, sender and payload, not by id: the messages a replay makes
//! get new ids, and two messages alike in all three are interchangeable. `=> STATE` (or
//! `=> failed`) after a delivery is what the record says the actor's state was after it; a
//! replay checks it, and a line without it is not checked.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde_json::Value;

use crate::history::OUTSIDE;
use crate::journal::{Entry, Event};

/// The written name of a sender that is no actor.
fn sender_name(from: Option<&str>) -> &str {
    from.unwrap_or(OUTSIDE)
}

/// A message named by its receiver, sender and payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub to: String,
    /// `None`: from outside (a person, a tool).
    pub from: Option<String>,
    pub payload: Value,
}

impl Message {
    /// Whether an envelope from `from` with `payload` is this message.
    pub fn matches(&self, from: Option<&str>, payload: &Value) -> bool {
        self.from.as_deref() == from && &self.payload == payload
    }
}

/// What a delivery left, by the record.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    State(Value),
    Failed,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Deliver this pending message; then the actor's state should be `expect`.
    Deliver {
        message: Message,
        expect: Option<Outcome>,
    },
    /// A message from outside the actors (`eos send`, a file put there by hand).
    Send(Message),
    /// A pending message is taken away (a fault rule dropped it, a person deleted it).
    Drop(Message),
    /// A pending message is sent once more (a fault rule's copy).
    Duplicate(Message),
    /// A pending message's payload was changed by hand to `after`.
    Edit { message: Message, after: Value },
    /// An actor's state was written by hand.
    State { actor: String, state: Value },
    /// An actor was killed (a crash fault).
    Crash { actor: String },
}

impl Step {
    /// The actor the step is done to.
    pub fn actor(&self) -> &str {
        match self {
            Step::Deliver { message, .. }
            | Step::Send(message)
            | Step::Drop(message)
            | Step::Duplicate(message)
            | Step::Edit { message, .. } => &message.to,
            Step::State { actor, .. } | Step::Crash { actor } => actor,
        }
    }
}

fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "{} <- {} {}",
            self.to,
            sender_name(self.from.as_deref()),
            compact(&self.payload)
        )
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Step::Deliver { message, expect } => {
                write!(f, "deliver {message}")?;
                match expect {
                    Some(Outcome::State(state)) => write!(f, " => {}", compact(state)),
                    Some(Outcome::Failed) => write!(f, " => failed"),
                    None => Ok(()),
                }
            }
            Step::Send(message) => write!(f, "send {message}"),
            Step::Drop(message) => write!(f, "drop {message}"),
            Step::Duplicate(message) => write!(f, "duplicate {message}"),
            Step::Edit { message, after } => write!(f, "edit {message} => {}", compact(after)),
            Step::State { actor, state } => write!(f, "state {actor} {}", compact(state)),
            Step::Crash { actor } => write!(f, "crash {actor}"),
        }
    }
}

/// Reads one JSON value from the start of `text` (after blanks); returns it and the rest.
fn json_prefix(text: &str) -> Result<(Value, &str), String> {
    let text = text.trim_start();
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    match values.next() {
        Some(Ok(value)) => Ok((value, &text[values.byte_offset()..])),
        Some(Err(e)) => Err(format!("not JSON: {e}")),
        None => Err("a JSON value is missing".into()),
    }
}

/// The next word of `text`, and the rest.
fn word(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start();
    if text.is_empty() {
        return None;
    }
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    Some((&text[..end], &text[end..]))
}

/// `ACTOR <- SENDER PAYLOAD`, and the rest.
fn message(text: &str) -> Result<(Message, &str), String> {
    let (to, rest) = word(text).ok_or("the receiving actor is missing")?;
    let (arrow, rest) = word(rest).ok_or("`<- SENDER` is missing")?;
    if arrow != "<-" {
        return Err(format!("expected `<-` after `{to}`, found `{arrow}`"));
    }
    let (from, rest) = word(rest).ok_or("the sender is missing")?;
    let (payload, rest) = json_prefix(rest).map_err(|e| format!("the payload is {e}"))?;
    let from = (from != OUTSIDE).then(|| from.to_owned());
    let message = Message {
        to: to.to_owned(),
        from,
        payload,
    };
    Ok((message, rest))
}

/// `=> VALUE` or nothing.
fn arrow_value(rest: &str) -> Result<Option<&str>, String> {
    let rest = rest.trim();
    if rest.is_empty() {
        return Ok(None);
    }
    rest.strip_prefix("=>")
        .map(|v| Some(v.trim()))
        .ok_or_else(|| format!("unexpected `{rest}` (expected `=> …` or the end of the line)"))
}

fn nothing_after(rest: &str) -> Result<(), String> {
    match rest.trim() {
        "" => Ok(()),
        more => Err(format!("unexpected `{more}` at the end of the line")),
    }
}

impl std::str::FromStr for Step {
    type Err = String;

    fn from_str(line: &str) -> Result<Step, String> {
        let (verb, rest) = word(line).ok_or("an empty line")?;
        match verb {
            "deliver" => {
                let (message, rest) = message(rest)?;
                let expect = match arrow_value(rest)? {
                    None => None,
                    Some("failed") => Some(Outcome::Failed),
                    Some(state) => {
                        let (state, rest) =
                            json_prefix(state).map_err(|e| format!("the state is {e}"))?;
                        nothing_after(rest)?;
                        Some(Outcome::State(state))
                    }
                };
                Ok(Step::Deliver { message, expect })
            }
            "send" | "drop" | "duplicate" => {
                let (message, rest) = message(rest)?;
                nothing_after(rest)?;
                Ok(match verb {
                    "send" => Step::Send(message),
                    "drop" => Step::Drop(message),
                    _ => Step::Duplicate(message),
                })
            }
            "edit" => {
                let (message, rest) = message(rest)?;
                let after = arrow_value(rest)?.ok_or("`=> NEW PAYLOAD` is missing")?;
                let (after, rest) = json_prefix(after).map_err(|e| format!("the edit is {e}"))?;
                nothing_after(rest)?;
                Ok(Step::Edit { message, after })
            }
            "state" => {
                let (actor, rest) = word(rest).ok_or("the actor is missing")?;
                let (state, rest) = json_prefix(rest).map_err(|e| format!("the state is {e}"))?;
                nothing_after(rest)?;
                Ok(Step::State {
                    actor: actor.to_owned(),
                    state,
                })
            }
            "crash" => {
                let (actor, rest) = word(rest).ok_or("the actor is missing")?;
                nothing_after(rest)?;
                Ok(Step::Crash {
                    actor: actor.to_owned(),
                })
            }
            other => Err(format!(
                "`{other}` is not a step (deliver, send, drop, duplicate, edit, state, crash)"
            )),
        }
    }
}

/// A schedule file's steps with their line numbers; blank lines and `#` comments are skipped.
/// The first line that does not parse is an error naming it.
pub fn parse(text: &str) -> Result<Vec<(usize, Step)>, String> {
    let mut steps = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let step = line.parse().map_err(|e| format!("line {}: {e}", n + 1))?;
        steps.push((n + 1, step));
    }
    Ok(steps)
}

/// Where the run to replay from a checkpoint lies in the journal: after the last restore of
/// that checkpoint (or, if it was never restored, after the checkpoint was taken), up to the
/// next restore of anything.
pub fn run_after(entries: &[Entry], checkpoint: &str, taken_at: u64) -> std::ops::Range<usize> {
    let restored = entries.iter().rposition(
        |e| matches!(&e.event, Event::Restored { checkpoint: c, .. } if c == checkpoint),
    );
    let start = match restored {
        Some(at) => at + 1,
        None => entries.partition_point(|e| e.seq <= taken_at),
    };
    let end = entries[start..]
        .iter()
        .position(|e| matches!(e.event, Event::Restored { .. }))
        .map_or(entries.len(), |n| start + n);
    start..end
}

/// What a message was, from the whole history (a message pending at the checkpoint was sent
/// before it).
#[derive(Default)]
struct Known {
    messages: HashMap<String, Message>,
}

impl Known {
    fn get(&self, id: &str) -> Option<Message> {
        self.messages.get(id).cloned()
    }

    fn learn(&mut self, event: &Event) {
        match event {
            Event::Send {
                message,
                from,
                to,
                payload,
                ..
            } => {
                let m = Message {
                    to: to.clone(),
                    from: from.clone(),
                    payload: payload.clone(),
                };
                self.messages.insert(message.clone(), m);
            }
            Event::PendingAdded {
                actor,
                message,
                payload,
                copy_of,
                ..
            } => {
                let from = copy_of
                    .as_ref()
                    .and_then(|c| self.messages.get(c))
                    .and_then(|m| m.from.clone());
                let m = Message {
                    to: actor.clone(),
                    from,
                    payload: payload.clone(),
                };
                self.messages.insert(message.clone(), m);
            }
            Event::PendingEdited { message, after, .. } => {
                if let Some(m) = self.messages.get_mut(message) {
                    m.payload = after.clone();
                }
            }
            _ => {}
        }
    }
}

/// The schedule of `entries[run]`: every delivery with the state the record says it left,
/// the messages that came from outside the actors, the faults and the hand edits. Messages
/// the actors send come from the actors again, so they are not steps.
pub fn from_journal(entries: &[Entry], run: std::ops::Range<usize>) -> Vec<Step> {
    let mut known = Known::default();
    for entry in &entries[..run.start] {
        known.learn(&entry.event);
    }
    // What each delivery left: the first result after it.
    let mut outcomes: HashMap<&str, Outcome> = HashMap::new();
    for entry in &entries[run.clone()] {
        if let Event::Result {
            message, ok, state, ..
        } = &entry.event
            && !outcomes.contains_key(message.as_str())
        {
            let outcome = match (ok, state) {
                (true, Some(state)) => Outcome::State(state.clone()),
                (false, _) => Outcome::Failed,
                // A state too big for the journal (not recorded with --record): unchecked.
                (true, None) => continue,
            };
            outcomes.insert(message, outcome);
        }
    }
    let mut handling: HashSet<String> = HashSet::new();
    let mut copies: HashSet<String> = HashSet::new();
    let mut steps = Vec::new();
    for entry in &entries[run] {
        let before = known.get_event_message(&entry.event);
        known.learn(&entry.event);
        match &entry.event {
            Event::Send {
                message,
                from,
                cause: None,
                to,
                payload,
                bare,
            } if !copies.contains(message) && from_outside(from.as_deref(), *bare, &handling) => {
                steps.push(Step::Send(Message {
                    to: to.clone(),
                    from: from.clone(),
                    payload: payload.clone(),
                }));
            }
            Event::Deliver {
                message,
                actor,
                redelivered,
                payload,
            } => {
                handling.insert(actor.clone());
                if *redelivered {
                    continue;
                }
                let from = known.get(message).and_then(|m| m.from);
                steps.push(Step::Deliver {
                    message: Message {
                        to: actor.clone(),
                        from,
                        payload: payload.clone(),
                    },
                    expect: outcomes.get(message.as_str()).cloned(),
                });
            }
            Event::Result { actor, .. } | Event::Exit { actor, .. } => {
                handling.remove(actor);
            }
            Event::Fault {
                kind,
                message,
                actor,
                detail,
                ..
            } => {
                let m = message.as_deref().and_then(|id| known.get(id));
                match (kind.as_str(), m) {
                    ("drop" | "partition", Some(m)) => steps.push(Step::Drop(m)),
                    ("duplicate", Some(m)) => {
                        // "copies ID, ID": the copies' own sends are this step's doing.
                        let listed = detail.as_deref().and_then(|d| d.strip_prefix("copies "));
                        for id in listed.into_iter().flat_map(|l| l.split(", ")) {
                            copies.insert(id.to_owned());
                            steps.push(Step::Duplicate(m.clone()));
                        }
                    }
                    ("crash", _) => steps.push(Step::Crash {
                        actor: actor.clone(),
                    }),
                    // Delays and reorders: the order of the deliveries already says it.
                    _ => {}
                }
            }
            Event::PendingEdited { after, .. } => {
                if let Some(message) = before {
                    steps.push(Step::Edit {
                        message,
                        after: after.clone(),
                    });
                }
            }
            Event::PendingAdded {
                message, copy_of, ..
            } => {
                if let Some(m) = known.get(message) {
                    steps.push(match copy_of {
                        None => Step::Send(m),
                        Some(_) => Step::Duplicate(m),
                    });
                }
            }
            Event::PendingDeleted { .. } => {
                if let Some(m) = before {
                    steps.push(Step::Drop(m));
                }
            }
            Event::StateEdited { actor, after, .. } => steps.push(Step::State {
                actor: actor.clone(),
                state: after.clone(),
            }),
            _ => {}
        }
    }
    steps
}

impl Known {
    /// The message an edit or deletion is about, as it was before it.
    fn get_event_message(&self, event: &Event) -> Option<Message> {
        match event {
            Event::PendingEdited { message, .. } | Event::PendingDeleted { message, .. } => {
                self.get(message)
            }
            _ => None,
        }
    }
}

/// Whether a send with no cause came from outside the actors: an envelope from no one (`eos
/// send`); a bare payload while no actor was handling a message (a naive actor's sends are
/// bare and name no sender); or from an actor that was not handling one (`eos send
/// --sender`).
fn from_outside(from: Option<&str>, bare: bool, handling: &HashSet<String>) -> bool {
    match from {
        None => !bare || handling.is_empty(),
        Some(actor) => !handling.contains(actor),
    }
}

/// The schedule as a file: a header that says how to read and edit it, then one step a line.
pub fn render(steps: &[Step], header: &str) -> String {
    let mut text = String::new();
    for line in header.lines() {
        text.push_str(&format!("# {line}\n"));
    }
    text.push_str(
        "# One step a line: deliver ACTOR <- SENDER PAYLOAD [=> STATE after it | => failed];\n\
         # send, drop, duplicate ACTOR <- SENDER PAYLOAD; edit ACTOR <- SENDER PAYLOAD => NEW;\n\
         # state ACTOR STATE; crash ACTOR. Reorder, delete or add lines; a delivery without\n\
         # `=> …` is not checked.\n",
    );
    for step in steps {
        text.push_str(&step.to_string());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(seq: u64, event: Event) -> Entry {
        Entry {
            seq,
            us: seq,
            event,
        }
    }

    fn send(id: &str, from: Option<&str>, to: &str, cause: Option<&str>, payload: Value) -> Event {
        Event::Send {
            message: id.into(),
            from: from.map(Into::into),
            to: to.into(),
            cause: cause.map(Into::into),
            payload,
            bare: from.is_none() && id == "m3",
        }
    }

    fn deliver(id: &str, actor: &str, payload: Value) -> Event {
        Event::Deliver {
            message: id.into(),
            actor: actor.into(),
            redelivered: false,
            payload,
        }
    }

    fn result(id: &str, actor: &str, state: Value) -> Event {
        Event::Result {
            message: id.into(),
            actor: actor.into(),
            ok: true,
            state: Some(state),
        }
    }

    #[test]
    fn steps_print_and_parse_back() {
        let m = Message {
            to: "bank".into(),
            from: Some("alice".into()),
            payload: json!({"op": "withdraw", "amount": 50}),
        };
        let outside = Message {
            from: None,
            ..m.clone()
        };
        let steps = vec![
            Step::Deliver {
                message: m.clone(),
                expect: Some(Outcome::State(json!({"balance": 50}))),
            },
            Step::Deliver {
                message: m.clone(),
                expect: Some(Outcome::Failed),
            },
            Step::Deliver {
                message: outside.clone(),
                expect: None,
            },
            Step::Send(outside),
            Step::Drop(m.clone()),
            Step::Duplicate(m.clone()),
            Step::Edit {
                message: m,
                after: json!({"op": "withdraw", "amount": 5}),
            },
            Step::State {
                actor: "bank".into(),
                state: json!({"balance": 0}),
            },
            Step::Crash {
                actor: "bank".into(),
            },
        ];
        let text = render(&steps, "a test");
        let parsed: Vec<Step> = parse(&text).unwrap().into_iter().map(|(_, s)| s).collect();
        assert_eq!(parsed, steps);
        assert_eq!(
            steps[0].to_string(),
            r#"deliver bank <- alice {"amount":50,"op":"withdraw"} => {"balance":50}"#
        );
    }

    #[test]
    fn a_bad_line_is_named() {
        let err = parse("# fine\ndeliver bank <- alice {\"a\": 1}\ndeliver bank alice {}\n");
        assert!(err.unwrap_err().starts_with("line 3: expected `<-`"));
        let err = parse("deliver bank <- alice {\"a\": } \n").unwrap_err();
        assert!(err.contains("line 1: the payload is not JSON"), "{err}");
        let err = parse("fly bank\n").unwrap_err();
        assert!(err.contains("`fly` is not a step"), "{err}");
        let err = parse("deliver bank <- alice 1 2\n").unwrap_err();
        assert!(err.contains("unexpected `2`"), "{err}");
    }

    #[test]
    fn a_run_becomes_its_deliveries_outside_sends_and_faults() {
        let entries = vec![
            // Before the checkpoint: m1 was sent by alice and is pending.
            entry(1, send("m1", Some("alice"), "bank", None, json!({"w": 50}))),
            entry(
                2,
                Event::Restored {
                    checkpoint: "other".into(),
                    journal_seq: 0,
                },
            ),
            // The run.
            entry(3, send("m2", None, "bank", None, json!({"d": 10}))),
            entry(4, deliver("m1", "bank", json!({"w": 50}))),
            // Sent bare by bank while it handles m1: not a step.
            entry(5, send("m3", None, "log", None, json!("w"))),
            entry(6, result("m1", "bank", json!({"balance": 50}))),
            entry(
                7,
                Event::Fault {
                    rule: "lossy".into(),
                    kind: "drop".into(),
                    message: Some("m2".into()),
                    actor: "bank".into(),
                    detail: None,
                },
            ),
            entry(8, send("m4", Some("bank"), "log", Some("m1"), json!("x"))),
            entry(
                9,
                Event::Fault {
                    rule: "twice".into(),
                    kind: "duplicate".into(),
                    message: Some("m4".into()),
                    actor: "log".into(),
                    detail: Some("copies m5".into()),
                },
            ),
            entry(10, send("m5", Some("bank"), "log", Some("m1"), json!("x"))),
            entry(
                11,
                Event::StateEdited {
                    actor: "bank".into(),
                    before: None,
                    after: json!({"balance": 0}),
                },
            ),
            entry(
                12,
                Event::Restored {
                    checkpoint: "later".into(),
                    journal_seq: 11,
                },
            ),
            entry(13, send("m6", None, "bank", None, json!({"d": 1}))),
        ];
        let run = run_after(&entries, "start", 2);
        assert_eq!(run, 2..11);
        let text: Vec<String> = from_journal(&entries, run)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            text,
            [
                r#"send bank <- (outside) {"d":10}"#,
                r#"deliver bank <- alice {"w":50} => {"balance":50}"#,
                r#"drop bank <- (outside) {"d":10}"#,
                r#"duplicate log <- bank "x""#,
                r#"state bank {"balance":0}"#,
            ]
        );
        // After a restore of the checkpoint, the run is what followed that restore.
        assert_eq!(run_after(&entries, "later", 0), 12..13);
    }
}
