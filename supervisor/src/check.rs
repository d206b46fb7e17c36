//! Checking the invariants after every delivery: every actor's state, as last read, goes to
//! each `check(states)`; a violation pauses the system, is recorded, and leaves
//! `violations/<n>.json` with the invariant, what is wrong, the states and the chain of
//! messages that led there.

use std::collections::HashSet;

use eos::journal::Event as Journal;
use eos::{ActorId, dead, fsio, history, journal};
use log::{error, warn};
use script_actor::invariants::{Invariants, Verdict};
use serde_json::{Map, Value, json};

use crate::events::Change;
use crate::supervisor::Supervisor;

/// The invariants in force; those that ran out of their budget (a loop), left out until their
/// file changes so that one does not slow every delivery; and the errors already told.
#[derive(Default)]
pub struct Checks {
    invariants: Option<Invariants>,
    failed: HashSet<String>,
    told: HashSet<(String, String)>,
    /// Those violated now: a violation is recorded when it begins, not again at every
    /// message handled while it lasts.
    violated: HashSet<String>,
}

impl Supervisor {
    /// Compiles the invariants again (at start and when `invariants/` changes). One that does
    /// not compile gets a `.reason` beside it and is left out.
    pub(crate) fn load_invariants(&mut self) {
        let dir = self.root.invariants_dir();
        match Invariants::load(&dir) {
            Ok(invariants) => {
                for (name, problem) in invariants.problems() {
                    if dead::explain(&dir.join(format!("{name}.rn")), problem).unwrap_or(true) {
                        warn!("invariant {name} does not compile:\n{problem}");
                    }
                }
                for file in fsio::names(&dir).unwrap_or_default() {
                    if let Some(name) = file.strip_suffix(".rn.reason")
                        && !invariants.problems().any(|(n, _)| n == name)
                    {
                        dead::unexplain(&dir.join(format!("{name}.rn")));
                    }
                }
                self.checks.invariants = (!invariants.is_empty()).then_some(invariants);
                self.checks.failed.clear();
                self.checks.told.clear();
            }
            Err(e) => error!("cannot load the invariants: {e:#}"),
        }
    }

    /// After `message` was handled by `actor`: every invariant on every state.
    pub(crate) fn check_invariants(&mut self, actor: &ActorId, message: &str) {
        let Some(invariants) = &self.checks.invariants else {
            return;
        };
        let states: Map<String, Value> = self
            .registry
            .iter()
            .map(|a| (a.id.to_string(), a.state.clone().unwrap_or(Value::Null)))
            .collect();
        let states = Value::Object(states);
        let failed = &self.checks.failed;
        let verdicts = invariants.check_but(&states, &|name| failed.contains(name));
        for (name, verdict) in verdicts {
            match verdict {
                Verdict::Holds => {
                    self.checks.violated.remove(&name);
                }
                Verdict::Failed(error) => {
                    if !self.checks.told.insert((name.clone(), error.clone())) {
                        continue;
                    }
                    warn!("invariant {name} could not be checked: {error}");
                    let file = self.root.invariants_dir().join(format!("{name}.rn"));
                    let _ = dead::explain(&file, &error);
                    if error.contains("budget") {
                        self.checks.failed.insert(name.clone());
                    }
                    self.history.emit(Journal::InvariantError {
                        invariant: name,
                        error,
                    });
                }
                Verdict::Violated(what) => {
                    if self.checks.violated.insert(name.clone()) {
                        self.violated(&name, &what, actor, message, &states);
                    }
                }
            }
        }
    }

    fn violated(&mut self, name: &str, what: &str, actor: &ActorId, message: &str, states: &Value) {
        let dir = self.root.violations_dir();
        let number = fsio::names(&dir)
            .unwrap_or_default()
            .iter()
            .filter_map(|n| n.strip_suffix(".json")?.parse::<u64>().ok())
            .max()
            .unwrap_or(0)
            + 1;
        // The chain of messages that led there, from the journal (written first).
        self.history.flush();
        let messages = history::messages(&journal::read(&self.root));
        let chain: Vec<String> = history::causal_chain(&messages, message)
            .into_iter()
            .collect();
        let record = json!({
            "number": number,
            "invariant": name,
            "what": what,
            "actor": actor,
            "after": message,
            "states": states,
            "chain": chain,
        });
        if let Err(e) = fsio::write_json_atomic(&dir.join(format!("{number}.json")), &record) {
            warn!("cannot write violation {number}: {e:#}");
        }
        warn!("invariant {name} violated after {message}: {what}");
        self.history.emit(Journal::Violation {
            number,
            invariant: name.to_owned(),
            what: what.to_owned(),
            actor: actor.to_string(),
            after: message.to_owned(),
        });
        self.paused(None, Change::Arrived);
        // Whoever sees the pause finds why in the journal already.
        self.history.flush();
        let said = format!("invariant `{name}` violated (violations/{number}.json): {what}\n");
        if let Err(e) = fsio::write_atomic(&self.root.paused_file(), said.as_bytes()) {
            warn!("cannot pause: {e}");
        }
    }
}
