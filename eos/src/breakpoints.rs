//! Breakpoints: one JSON file a breakpoint in the root's `breakpoints/`, read live by the
//! supervisor, which pauses the system (or one actor) when one is hit:
//!
//! - `"on": "deliver"`: before delivering a message that matches `from`, `to` and a `payload`
//!   subset;
//! - `"on": "state"`: when an actor's (`actor`) state comes to match `when`, a condition such as
//!   `count >= 3` (see [`crate::condition`]);
//! - `"on": "fault"`: when a fault rule (`rule`, or any) fires on a message to `actor`;
//! - `"on": "exit"`: when `actor` (or any) exits.
//!
//! `once` removes it when hit; `scope: "actor"` pauses only the actor concerned. The pause is the
//! ordinary `paused` file, holding which breakpoint and why, so `eos resume` goes on.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::condition::Condition;
use crate::faults::{names, subset};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum On {
    Deliver,
    State,
    Fault,
    Exit,
}

impl On {
    pub fn as_str(self) -> &'static str {
        match self {
            On::Deliver => "deliver",
            On::State => "state",
            On::Fault => "fault",
            On::Exit => "exit",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Pause everything.
    #[default]
    System,
    /// Pause only the actor concerned.
    Actor,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Breakpoint {
    pub on: On,
    /// `deliver`: the sender (`""`: from outside).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// `deliver`: the receiver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// `deliver`: keys and values the payload has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// `state`, `fault`, `exit`: the actor (absent: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// `state`: the condition the state comes to match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// `fault`: the rule (absent: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Removed once hit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub once: bool,
    #[serde(default)]
    pub scope: Scope,
}

impl Breakpoint {
    pub fn check(&self) -> Result<(), String> {
        match (self.on, &self.when) {
            (On::State, None) => {
                Err("a state breakpoint needs `when`, such as \"count >= 3\"".into())
            }
            (_, Some(when)) => Condition::parse(when).map(drop),
            _ => Ok(()),
        }
    }

    /// Before delivering a message from `from` to `to`.
    pub fn before_delivery(&self, from: Option<&str>, to: &str, payload: &Value) -> bool {
        self.on == On::Deliver
            && names(&self.from, from)
            && names(&self.to, Some(to))
            && self.payload.as_ref().is_none_or(|p| subset(p, payload))
    }

    /// Whether `actor`'s `state` matches (the supervisor breaks when it comes to).
    pub fn state_matches(&self, actor: &str, state: &Value) -> bool {
        self.on == On::State
            && names(&self.actor, Some(actor))
            && self
                .when
                .as_deref()
                .and_then(|w| Condition::parse(w).ok())
                .is_some_and(|c| c.holds(state))
    }

    /// When the fault rule `rule` fires on a message to `actor`.
    pub fn on_fault(&self, rule: &str, actor: &str) -> bool {
        self.on == On::Fault && names(&self.rule, Some(rule)) && names(&self.actor, Some(actor))
    }

    /// When `actor` exits.
    pub fn on_exit(&self, actor: &str) -> bool {
        self.on == On::Exit && names(&self.actor, Some(actor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bp(text: &str) -> Breakpoint {
        let b: Breakpoint = serde_json::from_str(text).unwrap();
        b.check().unwrap();
        b
    }

    #[test]
    fn each_kind_matches_what_it_names() {
        let d = bp(r#"{"on": "deliver", "to": "b", "payload": {"op": "commit"}}"#);
        assert!(d.before_delivery(Some("a"), "b", &json!({"op": "commit", "n": 1})));
        assert!(!d.before_delivery(Some("a"), "b", &json!({"op": "abort"})));
        assert!(!d.before_delivery(Some("a"), "c", &json!({"op": "commit"})));
        let s = bp(r#"{"on": "state", "actor": "b", "when": "count >= 3"}"#);
        assert!(s.state_matches("b", &json!({"count": 3})));
        assert!(!s.state_matches("b", &json!({"count": 2})));
        assert!(!s.state_matches("c", &json!({"count": 9})));
        let f = bp(r#"{"on": "fault", "rule": "drop-1"}"#);
        assert!(f.on_fault("drop-1", "x") && !f.on_fault("delay-1", "x"));
        let e = bp(r#"{"on": "exit"}"#);
        assert!(e.on_exit("anyone") && !d.on_exit("b"));
    }

    #[test]
    fn bad_breakpoints_say_why() {
        let check = |t: &str| {
            serde_json::from_str::<Breakpoint>(t)
                .map_err(|e| e.to_string())
                .and_then(|b| b.check())
        };
        assert!(
            check(r#"{"on": "state", "actor": "b"}"#)
                .unwrap_err()
                .contains("when")
        );
        assert!(check(r#"{"on": "state", "when": "count >="}"#).is_err());
        assert!(
            check(r#"{"on": "lunch"}"#)
                .unwrap_err()
                .contains("unknown variant")
        );
    }
}
