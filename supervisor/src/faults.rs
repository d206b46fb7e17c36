//! The fault rules in force, read live from `faults/`, and what they do to a message as it is
//! routed or delivered. Pure: the loop reads the files and carries out the [`Effect`]s.

use std::collections::{BTreeMap, HashMap};

use eos::faults::{Kind, Rule};
use serde_json::Value;

/// What a rule does to a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Into `dead/`, with why.
    Drop { rule: String, kind: Kind },
    /// Not deliverable for this long.
    Delay { rule: String, kind: Kind, ms: u64 },
    /// This many more copies.
    Duplicate { rule: String, copies: u32 },
    /// Kill the receiver.
    Crash { rule: String },
}

#[derive(Debug, Default)]
pub struct Faults {
    /// By file name (without `.json`), in name order.
    rules: BTreeMap<String, Rule>,
    /// How often each rule fired.
    fired: HashMap<String, u64>,
    /// Matching deliveries seen by each `crash` rule with `after`, per actor.
    deliveries: HashMap<(String, String), u64>,
    /// The rules rest (a replay is running): they neither fire nor count.
    resting: bool,
}

impl Faults {
    /// Whether no rule can fire.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() || self.resting
    }

    /// Lets the rules rest, or wakes them. Returns whether it changed.
    pub fn rest(&mut self, resting: bool) -> bool {
        std::mem::replace(&mut self.resting, resting) != resting
    }

    /// The rules now on disk (a rule whose file changed starts its counts afresh).
    pub fn set(&mut self, rules: BTreeMap<String, Rule>) {
        self.fired
            .retain(|name, _| rules.get(name) == self.rules.get(name));
        self.deliveries
            .retain(|(name, _), _| rules.get(name) == self.rules.get(name));
        self.rules = rules;
    }

    fn may_fire(&mut self, name: &str, rule: &Rule, message: &str) -> bool {
        let fired = self.fired.get(name).copied().unwrap_or(0);
        if rule.count.is_some_and(|n| fired >= n) || !rule.fires(name, message) {
            return false;
        }
        *self.fired.entry(name.to_owned()).or_default() += 1;
        true
    }

    /// What the rules do to `message` from `from` to `to` as it is routed. A drop (or a
    /// partition) ends it; otherwise the delays add up, copies too. `copy`: the message is
    /// itself a copy a rule made, which is not copied again.
    pub fn on_route(
        &mut self,
        message: &str,
        from: Option<&str>,
        to: &str,
        payload: &Value,
        copy: bool,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        let rules: Vec<(String, Rule)> = self
            .rules
            .iter()
            .filter(|(_, r)| r.matches(from, to, payload))
            .map(|(n, r)| (n.clone(), r.clone()))
            .collect();
        for (name, rule) in rules {
            let applies = match rule.kind {
                Kind::Duplicate => !copy,
                Kind::Crash => rule.after.is_none(),
                _ => true,
            };
            if !applies || !self.may_fire(&name, &rule, message) {
                continue;
            }
            match rule.kind {
                Kind::Drop | Kind::Partition => {
                    return vec![Effect::Drop {
                        rule: name,
                        kind: rule.kind,
                    }];
                }
                Kind::Delay | Kind::Reorder => effects.push(Effect::Delay {
                    ms: rule.delay_ms(&name, message),
                    rule: name,
                    kind: rule.kind,
                }),
                Kind::Duplicate => effects.push(Effect::Duplicate {
                    rule: name,
                    copies: rule.copies.unwrap_or(1),
                }),
                Kind::Crash => effects.push(Effect::Crash { rule: name }),
            }
        }
        effects
    }

    /// A `crash` rule with `after: N` fires at the Nth matching delivery to an actor.
    pub fn on_deliver(
        &mut self,
        message: &str,
        from: Option<&str>,
        to: &str,
        payload: &Value,
    ) -> Option<String> {
        let rules: Vec<(String, Rule)> = self
            .rules
            .iter()
            .filter(|(_, r)| r.kind == Kind::Crash && r.after.is_some())
            .filter(|(_, r)| r.matches(from, to, payload))
            .map(|(n, r)| (n.clone(), r.clone()))
            .collect();
        for (name, rule) in rules {
            let seen = self
                .deliveries
                .entry((name.clone(), to.to_owned()))
                .or_default();
            *seen += 1;
            if Some(*seen) == rule.after && self.may_fire(&name, &rule, message) {
                return Some(name);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn faults(rules: &[(&str, &str)]) -> Faults {
        let mut f = Faults::default();
        f.set(
            rules
                .iter()
                .map(|(n, r)| ((*n).to_owned(), serde_json::from_str(r).unwrap()))
                .collect(),
        );
        f
    }

    #[test]
    fn a_drop_ends_it_delays_and_copies_add_up_and_counts_run_out() {
        let mut f = faults(&[
            ("a-delay", r#"{"kind": "delay", "to": "b", "ms": 100}"#),
            (
                "b-copy",
                r#"{"kind": "duplicate", "to": "b", "copies": 2, "count": 1}"#,
            ),
            ("c-drop", r#"{"kind": "drop", "payload": {"lost": true}}"#),
        ]);
        let p = json!({});
        let effects = f.on_route("m1", Some("a"), "b", &p, false);
        assert_eq!(effects.len(), 2, "{effects:?}");
        assert!(matches!(effects[0], Effect::Delay { ms: 100, .. }));
        assert!(matches!(effects[1], Effect::Duplicate { copies: 2, .. }));
        // The copy rule had one go; a copy is not copied.
        assert_eq!(f.on_route("m2", Some("a"), "b", &p, false).len(), 1);
        let lost = f.on_route("m3", Some("a"), "b", &json!({"lost": true}), false);
        assert!(matches!(&lost[..], [Effect::Drop { rule, .. }] if rule == "c-drop"));
    }

    #[test]
    fn crash_rules_fire_on_arrival_or_at_the_nth_delivery() {
        let mut f = faults(&[
            (
                "now",
                r#"{"kind": "crash", "to": "x", "payload": {"boom": 1}}"#,
            ),
            ("third", r#"{"kind": "crash", "to": "y", "after": 3}"#),
        ]);
        assert!(matches!(
            &f.on_route("m", None, "x", &json!({"boom": 1}), false)[..],
            [Effect::Crash { .. }]
        ));
        let p = json!(null);
        assert!(f.on_route("m", None, "y", &p, false).is_empty());
        let fired: Vec<bool> = (0..4)
            .map(|n| f.on_deliver(&format!("m{n}"), None, "y", &p).is_some())
            .collect();
        assert_eq!(fired, [false, false, true, false]);
    }

    #[test]
    fn a_changed_rule_starts_afresh_and_a_removed_one_is_gone() {
        let mut f = faults(&[("once", r#"{"kind": "drop", "count": 1}"#)]);
        assert_eq!(f.on_route("m1", None, "a", &json!(1), false).len(), 1);
        assert!(f.on_route("m2", None, "a", &json!(1), false).is_empty());
        let mut rules = BTreeMap::new();
        rules.insert(
            "once".to_owned(),
            serde_json::from_str(r#"{"kind": "drop", "count": 2}"#).unwrap(),
        );
        f.set(rules);
        assert_eq!(f.on_route("m3", None, "a", &json!(1), false).len(), 1);
        f.set(BTreeMap::new());
        assert!(f.is_empty() && f.on_route("m4", None, "a", &json!(1), false).is_empty());
    }
}
