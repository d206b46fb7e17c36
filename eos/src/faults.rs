//! Fault rules: one JSON file a rule in the root's `faults/`, read live by the supervisor. A
//! rule matches messages by sender, receiver and a payload subset, may fire with a probability
//! (decided from its seed, its name and the message id, never from timing, so the same inputs
//! give the same faults), and at most `count` times:
//!
//! - `drop`: the message goes to `dead/`, its reason naming the rule;
//! - `delay`: it waits `ms` (a number, or `[min, max]`) before it may be delivered;
//! - `duplicate`: `copies` more of it are delivered;
//! - `reorder`: it is held a while (`ms`, default up to 200), so that later ones overtake it;
//! - `partition`: `groups` of actors cannot reach each other (with `one_way`, only a group
//!   cannot reach the groups after it);
//! - `crash`: the receiver is killed (SIGKILL) when a matching message arrives, or with `after`,
//!   when it is given its Nth matching message.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Drop,
    Delay,
    Duplicate,
    Reorder,
    Partition,
    Crash,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Drop => "drop",
            Kind::Delay => "delay",
            Kind::Duplicate => "duplicate",
            Kind::Reorder => "reorder",
            Kind::Partition => "partition",
            Kind::Crash => "crash",
        }
    }
}

/// A delay: fixed, or drawn from a range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Millis {
    Fixed(u64),
    Range([u64; 2]),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub kind: Kind,
    /// The sender (`"*"` or absent: anyone; `""`: from outside).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The receiver (absent or `"*"`: anyone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Every key here must be in the payload with this value (recursively for objects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// The chance it fires on a matching message (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// At most this many times (default: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default)]
    pub seed: u64,
    /// `delay` and `reorder`: how long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<Millis>,
    /// `duplicate`: how many more (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copies: Option<u32>,
    /// `partition`: the groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Vec<String>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub one_way: bool,
    /// `crash`: at the Nth matching delivery instead of the first matching arrival.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
    /// The rule comes and goes: time (the time in a message's id) is cut into windows this
    /// long, and the seed decides in which the rule is on (about half of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flap_ms: Option<u64>,
}

impl Rule {
    /// A rule of this kind for every message, always, with nothing else said.
    pub fn new(kind: Kind) -> Self {
        Rule {
            kind,
            from: None,
            to: None,
            payload: None,
            probability: None,
            count: None,
            seed: 0,
            ms: None,
            copies: None,
            groups: Vec::new(),
            one_way: false,
            after: None,
            flap_ms: None,
        }
    }

    /// What serde cannot check.
    pub fn check(&self) -> Result<(), String> {
        if let Some(p) = self.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Err(format!("`probability` is between 0 and 1, not {p}"));
        }
        if let Some(Millis::Range([a, b])) = self.ms
            && a > b
        {
            return Err(format!("`ms` [{a}, {b}]: the first is the smaller"));
        }
        match self.kind {
            Kind::Delay if self.ms.is_none() => Err("a delay needs `ms`".into()),
            Kind::Partition if self.groups.len() < 2 => {
                Err("a partition needs at least two `groups` of actors".into())
            }
            _ => Ok(()),
        }
    }

    /// Whether the rule concerns a message from `from` (`None`: outside) to `to`.
    pub fn matches(&self, from: Option<&str>, to: &str, payload: &Value) -> bool {
        if self.kind == Kind::Partition {
            return self.cuts(from, to);
        }
        names(&self.from, from)
            && names(&self.to, Some(to))
            && self.payload.as_ref().is_none_or(|p| subset(p, payload))
    }

    /// A partition: whether `from` and `to` are on sides it separates.
    fn cuts(&self, from: Option<&str>, to: &str) -> bool {
        let side = |actor: &str| {
            self.groups
                .iter()
                .position(|g| g.iter().any(|a| a == actor))
        };
        match (from.and_then(side), side(to)) {
            (Some(a), Some(b)) if self.one_way => a < b,
            (Some(a), Some(b)) => a != b,
            _ => false,
        }
    }

    /// Whether it fires for `message`: the chance decided by the seed, the rule's name and the
    /// message id alone.
    pub fn fires(&self, name: &str, message: &str) -> bool {
        if let Some(flap) = self.flap_ms.filter(|&f| f > 0) {
            // Ids made by EOS start with the time they were made, in hex milliseconds.
            let millis = message
                .get(..11)
                .and_then(|h| u64::from_str_radix(h, 16).ok())
                .unwrap_or(0);
            if unit(self.seed ^ 2, name, &(millis / flap).to_string()) >= 0.5 {
                return false;
            }
        }
        let p = self.probability.unwrap_or(1.0);
        p >= 1.0 || unit(self.seed, name, message) < p
    }

    /// The delay for `message`, in ms.
    pub fn delay_ms(&self, name: &str, message: &str) -> u64 {
        match self.ms {
            Some(Millis::Fixed(ms)) => ms,
            Some(Millis::Range([a, b])) => {
                a + (unit(self.seed ^ 1, name, message) * (b - a) as f64) as u64
            }
            None if self.kind == Kind::Reorder => {
                (unit(self.seed ^ 1, name, message) * 200.0) as u64
            }
            None => 0,
        }
    }
}

/// Whether a rule's actor (`None` or `"*"`: anyone; `""`: outside, no actor) names `actual`.
pub fn names(want: &Option<String>, actual: Option<&str>) -> bool {
    match want.as_deref() {
        None | Some("*") => true,
        Some("") => actual.is_none(),
        Some(w) => Some(w) == actual,
    }
}

/// Whether every key of `want` is in `have` with the same value (objects recursively).
pub fn subset(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => w
            .iter()
            .all(|(k, v)| h.get(k).is_some_and(|hv| subset(v, hv))),
        _ => want == have,
    }
}

/// A number in [0, 1) from a seed and two strings (FNV-1a, then a mix): the same inputs, the
/// same number.
pub fn unit(seed: u64, a: &str, b: &str) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for byte in a.bytes().chain([0]).chain(b.bytes()) {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(text: &str) -> Rule {
        let rule: Rule = serde_json::from_str(text).unwrap();
        rule.check().unwrap();
        rule
    }

    #[test]
    fn rules_match_by_sender_receiver_and_payload_subset() {
        let r = rule(r#"{"kind": "drop", "from": "a", "to": "b", "payload": {"op": "vote"}}"#);
        assert!(r.matches(Some("a"), "b", &json!({"op": "vote", "x": 1})));
        assert!(!r.matches(Some("a"), "b", &json!({"op": "commit"})));
        assert!(!r.matches(Some("c"), "b", &json!({"op": "vote"})));
        assert!(!r.matches(None, "b", &json!({"op": "vote"})));
        let outside = rule(r#"{"kind": "drop", "from": ""}"#);
        assert!(
            outside.matches(None, "x", &json!(1)) && !outside.matches(Some("a"), "x", &json!(1))
        );
        let nested = rule(r#"{"kind": "drop", "payload": {"a": {"b": 1}}}"#);
        assert!(nested.matches(None, "x", &json!({"a": {"b": 1, "c": 2}})));
    }

    #[test]
    fn partitions_cut_between_groups_and_one_way_only_forward() {
        let p = rule(r#"{"kind": "partition", "groups": [["a", "b"], ["c"]]}"#);
        assert!(p.matches(Some("a"), "c", &json!(null)));
        assert!(p.matches(Some("c"), "b", &json!(null)));
        assert!(!p.matches(Some("a"), "b", &json!(null)));
        assert!(
            !p.matches(None, "c", &json!(null)),
            "people are not partitioned"
        );
        let one = rule(r#"{"kind": "partition", "groups": [["a"], ["c"]], "one_way": true}"#);
        assert!(one.matches(Some("a"), "c", &json!(null)));
        assert!(!one.matches(Some("c"), "a", &json!(null)));
    }

    #[test]
    fn chance_and_delays_depend_on_the_seed_and_the_message_alone() {
        let r = rule(r#"{"kind": "drop", "probability": 0.5, "seed": 7}"#);
        let fired: Vec<bool> = (0..200).map(|n| r.fires("r", &format!("m{n}"))).collect();
        let again: Vec<bool> = (0..200).map(|n| r.fires("r", &format!("m{n}"))).collect();
        assert_eq!(fired, again);
        let hits = fired.iter().filter(|f| **f).count();
        assert!((60..140).contains(&hits), "{hits} of 200");
        let other = rule(r#"{"kind": "drop", "probability": 0.5, "seed": 8}"#);
        assert_ne!(
            fired,
            (0..200)
                .map(|n| other.fires("r", &format!("m{n}")))
                .collect::<Vec<_>>()
        );
        let d = rule(r#"{"kind": "delay", "ms": [100, 200]}"#);
        let ms = d.delay_ms("d", "m1");
        assert!((100..=200).contains(&ms) && ms == d.delay_ms("d", "m1"));
        assert_eq!(
            rule(r#"{"kind": "delay", "ms": 50}"#).delay_ms("d", "m"),
            50
        );
    }

    #[test]
    fn a_flapping_rule_is_on_in_some_windows_of_time_and_off_in_others() {
        let r = rule(r#"{"kind": "partition", "groups": [["a"], ["b"]], "flap_ms": 1000}"#);
        let on: Vec<bool> = (0..40u64)
            .map(|w| r.fires("p", &format!("{:011x}{:013x}", w * 1000 + 5, 7)))
            .collect();
        assert!(on.iter().any(|x| *x) && on.iter().any(|x| !*x), "{on:?}");
        // Within one window, every message gets the same answer.
        let window: Vec<bool> = (0..10u64)
            .map(|ms| r.fires("p", &format!("{:011x}{:013x}", 3000 + ms * 50, ms)))
            .collect();
        assert!(window.iter().all(|x| *x == window[0]), "{window:?}");
    }

    #[test]
    fn bad_rules_say_why() {
        let bad = |text: &str| {
            serde_json::from_str::<Rule>(text)
                .map_err(|e| e.to_string())
                .and_then(|r| r.check())
                .unwrap_err()
        };
        assert!(bad(r#"{"kind": "explode"}"#).contains("unknown variant"));
        assert!(bad(r#"{"kind": "delay"}"#).contains("ms"));
        assert!(bad(r#"{"kind": "drop", "probability": 2}"#).contains("probability"));
        assert!(bad(r#"{"kind": "partition", "groups": [["a"]]}"#).contains("groups"));
        assert!(bad(r#"{"kind": "drop", "too": "b"}"#).contains("unknown field"));
    }
}
