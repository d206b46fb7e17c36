//! The breakpoints in force, read live from `breakpoints/`, and which one a delivery, a new
//! state, a fault or an exit hits. Pure: the loop pauses and records.

use std::collections::{BTreeMap, HashSet};

use eos::breakpoints::{Breakpoint, Scope};
use serde_json::Value;

/// A breakpoint hit: its name and what it pauses.
pub type Hit = (String, Scope);

#[derive(Debug, Default)]
pub struct Breaks {
    points: BTreeMap<String, Breakpoint>,
    /// The message a breakpoint stopped before: once resumed, it is delivered without stopping
    /// again.
    passed: Option<String>,
    /// State breakpoints whose condition holds now, per actor: they are hit when it comes to
    /// hold, not at every message while it does.
    holding: HashSet<(String, String)>,
}

impl Breaks {
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    pub fn set(&mut self, points: BTreeMap<String, Breakpoint>) {
        self.holding.retain(|(name, _)| points.contains_key(name));
        self.points = points;
    }

    pub fn is_once(&self, name: &str) -> bool {
        self.points.get(name).is_some_and(|b| b.once)
    }

    fn first(&self, hit: impl Fn(&Breakpoint) -> bool) -> Option<Hit> {
        self.points
            .iter()
            .find(|(_, b)| hit(b))
            .map(|(n, b)| (n.clone(), b.scope))
    }

    /// Before `message` is delivered.
    pub fn before_delivery(
        &mut self,
        message: &str,
        from: Option<&str>,
        to: &str,
        payload: &Value,
    ) -> Option<Hit> {
        if self.passed.as_deref() == Some(message) {
            return None;
        }
        let hit = self.first(|b| b.before_delivery(from, to, payload))?;
        self.passed = Some(message.to_owned());
        Some(hit)
    }

    /// `message` was delivered.
    pub fn delivered(&mut self, message: &str) {
        if self.passed.as_deref() == Some(message) {
            self.passed = None;
        }
    }

    /// `actor`'s state is now `state`.
    pub fn after_state(&mut self, actor: &str, state: &Value) -> Option<Hit> {
        let mut hit = None;
        for (name, b) in &self.points {
            let key = (name.clone(), actor.to_owned());
            if b.state_matches(actor, state) {
                if self.holding.insert(key) && hit.is_none() {
                    hit = Some((name.clone(), b.scope));
                }
            } else {
                self.holding.remove(&key);
            }
        }
        hit
    }

    pub fn on_fault(&self, rule: &str, actor: &str) -> Option<Hit> {
        self.first(|b| b.on_fault(rule, actor))
    }

    pub fn on_exit(&self, actor: &str) -> Option<Hit> {
        self.first(|b| b.on_exit(actor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn breaks(points: &[(&str, &str)]) -> Breaks {
        let mut b = Breaks::default();
        b.set(
            points
                .iter()
                .map(|(n, t)| ((*n).to_owned(), serde_json::from_str(t).unwrap()))
                .collect(),
        );
        b
    }

    #[test]
    fn a_message_stopped_before_goes_through_once_resumed() {
        let mut b = breaks(&[("c", r#"{"on": "deliver", "to": "x"}"#)]);
        let p = json!(1);
        assert!(b.before_delivery("m1", None, "x", &p).is_some());
        assert!(b.before_delivery("m1", None, "x", &p).is_none(), "resumed");
        b.delivered("m1");
        assert!(b.before_delivery("m2", None, "x", &p).is_some());
        assert!(b.before_delivery("m3", None, "y", &p).is_none());
    }

    #[test]
    fn a_state_breakpoint_is_hit_when_its_condition_comes_to_hold() {
        let mut b = breaks(&[("three", r#"{"on": "state", "when": "count >= 3"}"#)]);
        let hits: Vec<bool> = [1, 3, 4, 1, 5]
            .iter()
            .map(|n| b.after_state("a", &json!({"count": n})).is_some())
            .collect();
        assert_eq!(hits, [false, true, false, false, true]);
    }
}
