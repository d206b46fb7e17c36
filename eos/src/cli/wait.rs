//! `eos wait`: for scripts and tests, until something holds — an actor's state matches a
//! condition, the system is idle, a message to or from an actor is handled — or the timeout
//! passes. Exit code 0 when it holds, 1 when the time ran out (saying what was last seen), 2
//! for a condition that does not parse.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use serde_json::{Value, json};

use super::output::{GOOD, Output, styled};
use super::{actors, poll};
use crate::condition::Condition;
use crate::journal::{self, Event};
use crate::{Root, fsio, layout, mailbox};

/// What to wait for.
pub enum Until {
    State {
        id: String,
        condition: String,
    },
    Idle,
    Handled {
        to: Option<String>,
        from: Option<String>,
    },
}

pub fn run(root: &Root, out: &Output, until: Until, timeout: Duration) -> Result<ExitCode> {
    match until {
        Until::State { id, condition } => {
            let condition = match Condition::parse(&condition) {
                Ok(c) => c,
                Err(e) => {
                    out.warn(format!("not a condition: {e}"));
                    return Ok(ExitCode::from(2));
                }
            };
            let id = actors::require(root, &id)?;
            let file = root.actor(&id).state_file();
            let mut last = Value::Null;
            let held = poll::until(timeout, || {
                last = fsio::read_json::<Value>(&file).unwrap_or(Value::Null);
                condition.holds(&last).then(|| last.clone())
            });
            finish(out, held, timeout, || {
                format!("`{id}`'s state never matched; last seen: {last}")
            })
        }
        Until::Idle => {
            let mut busy = Vec::new();
            let held = poll::until(timeout, || {
                busy = waiting(root);
                busy.is_empty().then(|| json!({"idle": true}))
            });
            finish(out, held, timeout, || {
                format!("still busy: {}", busy.join(", "))
            })
        }
        Until::Handled { to, from } => {
            let to = to.map(|id| actors::require(root, &id)).transpose()?;
            let start = journal::last_seq(root);
            let held = poll::until(timeout, || {
                let entries = journal::read(root);
                let senders: HashMap<&str, Option<&str>> = entries
                    .iter()
                    .filter_map(|e| match &e.event {
                        Event::Send { message, from, .. } => {
                            Some((message.as_str(), from.as_deref()))
                        }
                        _ => None,
                    })
                    .collect();
                entries.iter().filter(|e| e.seq > start).find_map(|e| {
                    let (message, actor, ok) = match &e.event {
                        Event::Result {
                            message, actor, ok, ..
                        } => (message.as_str(), actor.as_str(), *ok),
                        Event::Dead {
                            message: Some(message),
                            actor: Some(actor),
                            ..
                        } => (message.as_str(), actor.as_str(), false),
                        _ => return None,
                    };
                    let sender = senders.get(message).copied().flatten();
                    let matches = to.as_ref().is_none_or(|t| t.as_str() == actor)
                        && from.as_deref().is_none_or(|f| Some(f) == sender);
                    matches.then(|| json!({"message": message, "actor": actor, "ok": ok}))
                })
            });
            finish(out, held, timeout, || {
                "no such message was handled".to_owned()
            })
        }
    }
}

fn finish(
    out: &Output,
    held: Option<Value>,
    timeout: Duration,
    why: impl FnOnce() -> String,
) -> Result<ExitCode> {
    match held {
        Some(value) => {
            out.say(format!("{} {value}", styled(GOOD, "holds:")))?;
            out.data(&value)?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            out.warn(format!("timed out after {timeout:?}: {}", why()));
            Ok(ExitCode::FAILURE)
        }
    }
}

/// What keeps the system from being idle: messages in `send/`, pending or being handled.
fn waiting(root: &Root) -> Vec<String> {
    let mut busy = Vec::new();
    let unsent = fsio::names(&root.send_dir())
        .unwrap_or_default()
        .iter()
        .filter(|n| !layout::is_ignored(n))
        .count();
    if unsent > 0 {
        busy.push(format!("{unsent} in send/"));
    }
    for id in actors::known(root) {
        let dir = root.actor(&id);
        let pending = mailbox::pending(&dir.spool_dir()).map_or(0, |p| p.len());
        let current = dir.current_file().exists();
        if pending > 0 || current {
            busy.push(format!(
                "{id} ({pending} pending{})",
                if current { ", one being handled" } else { "" }
            ));
        }
    }
    busy
}
