//! Control requests: what the CLI asks of the supervisor that is not a protocol file of its
//! own (deliver one message now, even while paused). A request is a JSON file in `control/`;
//! the supervisor answers with a reply file beside it and deletes the request.
//!
//! A refusal is typed, so the CLI decides by its kind (ask again while the actor is busy, say
//! what to do otherwise), never by its text.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ActorId;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Deliver exactly one message: the next in order, system-wide or for `actor`.
    Step {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        actor: Option<ActorId>,
    },
    /// Deliver this pending message next: a message id, a unique part of one (as `eos log`
    /// shows them), or a spool file name.
    Deliver { message: String },
    /// Start an actor that is not running again: same id, state and mail.
    Restart { actor: ActorId },
    /// Remove an actor that is not running: its pending mail goes to `dead/`, its folder away.
    Remove { actor: ActorId },
    /// Show, and maybe change, the rescan interval and slow motion (milliseconds; a slow
    /// motion of 0 turns it off); `reset` goes back to what the supervisor was started with.
    Tick {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rescan_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        slow_motion_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        reset: bool,
    },
}

/// The supervisor's pace, as a `tick` request answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pace {
    pub rescan_ms: u64,
    /// `None`: slow motion is off.
    pub slow_motion_ms: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// What was delivered, or why nothing was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<Delivered>,
    /// The actor started again, for a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarted: Option<ActorId>,
    /// The actor removed, for a removal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<ActorId>,
    /// The pace, for a tick request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pace: Option<Pace>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Refusal>,
}

impl Reply {
    pub fn new(outcome: Result<Delivered, Refusal>) -> Self {
        match outcome {
            Ok(delivered) => Reply {
                delivered: Some(delivered),
                ..Reply::default()
            },
            Err(refusal) => Reply::refused(refusal),
        }
    }

    pub fn refused(refusal: Refusal) -> Self {
        Reply {
            error: Some(refusal),
            ..Reply::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivered {
    pub actor: ActorId,
    pub message: String,
    pub file: String,
    pub payload: serde_json::Value,
}

/// Why a control request delivered nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Refusal {
    /// The actor is still handling a message; the same request can succeed once it is done.
    Busy {
        actor: String,
        handling: String,
    },
    /// Nothing is waiting for a running actor (for `actor`, when the step named one).
    NothingPending {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        actor: Option<String>,
    },
    NoSuchActor {
        actor: String,
    },
    /// No pending message matches.
    NoSuchMessage {
        message: String,
    },
    /// More than one pending message matches a part of an id.
    Ambiguous {
        message: String,
        matches: Vec<String>,
    },
    /// The actor's process is not running (it exited, or could not be started).
    NotRunning {
        actor: String,
    },
    /// The actor's process has not yet shown that it takes SIGUSR1.
    Starting {
        actor: String,
    },
    /// The message was not valid and went to `dead/` instead.
    SetAside {
        message: String,
        reason: String,
    },
    /// The request itself could not be read.
    Invalid {
        reason: String,
    },
    /// A restart of an actor that runs.
    AlreadyRunning {
        actor: String,
    },
}

impl Refusal {
    /// Whether asking again shortly may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Refusal::Busy { .. } | Refusal::Starting { .. })
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Busy { actor, handling } => write!(
                f,
                "`{actor}` is still handling {handling}; the next one can be delivered when it is done"
            ),
            Refusal::NothingPending { actor: None } => {
                f.write_str("nothing to deliver: no message is waiting for a running actor")
            }
            Refusal::NothingPending { actor: Some(a) } => {
                write!(f, "nothing to deliver: no message is waiting for `{a}`")
            }
            Refusal::NoSuchActor { actor } => write!(f, "there is no actor `{actor}`"),
            Refusal::NoSuchMessage { message } => {
                write!(f, "no pending message `{message}` (see `eos pending`)")
            }
            Refusal::Ambiguous { message, matches } => write!(
                f,
                "`{message}` matches more than one pending message: {}",
                matches.join(", ")
            ),
            Refusal::NotRunning { actor } => write!(f, "`{actor}` is not running"),
            Refusal::Starting { actor } => {
                write!(f, "`{actor}` is starting and cannot take SIGUSR1 yet")
            }
            Refusal::SetAside { message, reason } => {
                write!(
                    f,
                    "`{message}` is not a valid message ({reason}); it was set aside in dead/"
                )
            }
            Refusal::Invalid { reason } => write!(f, "not a control request: {reason}"),
            Refusal::AlreadyRunning { actor } => {
                write!(f, "`{actor}` is running; stop it first (eos kill {actor})")
            }
        }
    }
}

/// Finds the one candidate `wanted` names: equal to it, or, for four characters or more, the
/// only one that starts or ends with it (`eos log` shows the end of an id).
pub fn resolve<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Resolved<'a> {
    let mut partial = Vec::new();
    for candidate in candidates {
        if candidate == wanted {
            return Resolved::One(candidate);
        }
        if wanted.len() >= 4 && (candidate.starts_with(wanted) || candidate.ends_with(wanted)) {
            partial.push(candidate);
        }
    }
    partial.dedup();
    match partial.as_slice() {
        [] => Resolved::None,
        [one] => Resolved::One(one),
        _ => Resolved::Many(partial),
    }
}

/// What [`resolve`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolved<'a> {
    One(&'a str),
    None,
    Many(Vec<&'a str>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_resolve_whole_or_by_a_unique_part() {
        let ids = ["019abc0001aaaa", "019abc0002bbbb", "short"];
        assert_eq!(resolve("short", ids), Resolved::One("short"));
        assert_eq!(resolve("1aaaa", ids), Resolved::One("019abc0001aaaa"));
        assert_eq!(resolve("bbbb", ids), Resolved::One("019abc0002bbbb"));
        assert!(matches!(resolve("019abc", ids), Resolved::Many(m) if m.len() == 2));
        assert_eq!(resolve("abc", ids), Resolved::None, "too short to guess");
    }

    #[test]
    fn refusals_round_trip_and_say_what_to_do() {
        let busy = Refusal::Busy {
            actor: "a".into(),
            handling: "m1".into(),
        };
        let text = serde_json::to_string(&Reply::new(Err(busy.clone()))).unwrap();
        assert!(text.contains(r#""kind":"busy""#), "{text}");
        let back: Reply = serde_json::from_str(&text).unwrap();
        assert_eq!(back.error, Some(busy.clone()));
        assert!(busy.is_transient());
        assert!(busy.to_string().contains("still handling m1"));
    }
}
