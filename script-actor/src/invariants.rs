//! Invariants: Rune files in the root's `invariants/`, each with `pub fn check(states)` over
//! every actor's state (a map from id to state). It returns `true` when all is well, and
//! `false` or a string saying what is wrong when not. They run with the script actors' context
//! and the same instruction budget, so one that loops is stopped and reported, never hangs
//! whoever runs it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use rune::runtime::{RuntimeContext, budget};
use rune::{Value, Vm};

use crate::compile::{Compiled, compile};
use crate::convert;

/// Instructions one check may execute.
pub const BUDGET: usize = 10_000_000;

/// What one invariant said.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Holds,
    /// Violated, with what is wrong.
    Violated(String),
    /// It could not say: a runtime error, a loop, a value that is neither.
    Failed(String),
}

/// The functions a property file may have: `check` (always: after every delivery), and for
/// `eos explore`, `sometimes` (some run must reach it) and `eventually` (every complete run
/// ends with it).
pub const PROPERTIES: [&str; 3] = ["check", "sometimes", "eventually"];

pub struct Invariants {
    runtime: Arc<RuntimeContext>,
    /// By name (the file's stem): the compiled check, or why there is none.
    checks: BTreeMap<String, Result<Compiled, String>>,
}

impl Invariants {
    /// Compiles every `.rn` file in `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let context = crate::context("invariant", dir, None)?;
        let runtime = Arc::new(context.runtime()?);
        let mut checks = BTreeMap::new();
        let mut names = eos::fsio::names(dir).unwrap_or_default();
        names.sort();
        for file in names {
            let Some(name) = file.strip_suffix(".rn") else {
                continue;
            };
            if eos::layout::is_ignored(&file) {
                continue;
            }
            let compiled = compile(&context, &dir.join(&file)).and_then(|c| {
                let vm = Vm::new(runtime.clone(), c.unit.clone());
                let found = PROPERTIES
                    .iter()
                    .any(|f| vm.lookup_function([*f]).is_ok());
                if found {
                    Ok(c)
                } else {
                    Err(format!(
                        "{}:1:1: error: no `check` function: an invariant needs `pub fn check(states)` \
                         (or, for eos explore, `sometimes` or `eventually`)",
                        dir.join(&file).display()
                    ))
                }
            });
            checks.insert(name.to_owned(), compiled);
        }
        Ok(Invariants { runtime, checks })
    }

    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    /// Those that do not compile, with why.
    pub fn problems(&self) -> impl Iterator<Item = (&str, &str)> {
        self.checks
            .iter()
            .filter_map(|(n, c)| c.as_ref().err().map(|e| (n.as_str(), e.as_str())))
    }

    /// Runs every invariant that compiles on `states`.
    pub fn check(&self, states: &serde_json::Value) -> Vec<(String, Verdict)> {
        self.check_but(states, &|_| false)
    }

    /// Runs `function` (`check`, `sometimes` or `eventually`) of every file that has it.
    pub fn property(&self, function: &str, states: &serde_json::Value) -> Vec<(String, Verdict)> {
        let Ok(arg) = convert::to_rune(states) else {
            return Vec::new();
        };
        self.checks
            .iter()
            .filter_map(|(name, c)| {
                let c = c.as_ref().ok()?;
                Vm::new(self.runtime.clone(), c.unit.clone())
                    .lookup_function([function])
                    .ok()?;
                Some((name.clone(), self.call(function, c, arg.clone())))
            })
            .collect()
    }

    /// Runs those that compile and are not `skip`ped.
    pub fn check_but(
        &self,
        states: &serde_json::Value,
        skip: &dyn Fn(&str) -> bool,
    ) -> Vec<(String, Verdict)> {
        let Ok(arg) = convert::to_rune(states) else {
            return Vec::new();
        };
        self.checks
            .iter()
            .filter(|(name, _)| !skip(name))
            .filter_map(|(name, c)| {
                let c = c.as_ref().ok()?;
                Vm::new(self.runtime.clone(), c.unit.clone())
                    .lookup_function(["check"])
                    .ok()?;
                Some((name.clone(), self.call("check", c, arg.clone())))
            })
            .collect()
    }

    fn call(&self, function: &str, compiled: &Compiled, states: Value) -> Verdict {
        let mut vm = Vm::new(self.runtime.clone(), compiled.unit.clone());
        let result = budget::with(BUDGET, || vm.call([function], (states,))).call();
        let value = match result {
            Ok(value) => value,
            Err(e) if e.to_string().contains("limited") => {
                return Verdict::Failed(format!(
                    "ran out of its budget ({BUDGET} instructions): an endless loop?"
                ));
            }
            Err(e) => return Verdict::Failed(e.to_string()),
        };
        match convert::to_json(&value) {
            Ok(serde_json::Value::Bool(true)) => Verdict::Holds,
            Ok(serde_json::Value::Bool(false)) => Verdict::Violated("it returned false".into()),
            Ok(serde_json::Value::String(what)) => Verdict::Violated(what),
            Ok(other) => Verdict::Failed(format!(
                "`{function}` returned {other}: it returns true, or false or a string that says what is wrong"
            )),
            Err(e) => Verdict::Failed(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn invariants_hold_are_violated_fail_or_do_not_compile() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "total.rn",
            "pub fn check(states) { let t = 0; for (id, s) in states { t += s.n; } if t == 3 { true } else { `total is ${t}` } }",
        );
        write("never.rn", "pub fn check(states) { false }");
        write("loop.rn", "pub fn check(states) { loop {} }");
        write("broken.rn", "pub fn check(states) { let = ; }");
        write("nocheck.rn", "pub fn other() { 1 }");
        let inv = Invariants::load(dir.path()).unwrap();
        let problems: Vec<&str> = inv.problems().map(|(n, _)| n).collect();
        assert_eq!(problems, ["broken", "nocheck"]);
        let verdicts: BTreeMap<String, Verdict> = inv
            .check(&json!({"a": {"n": 1}, "b": {"n": 2}}))
            .into_iter()
            .collect();
        assert_eq!(verdicts["total"], Verdict::Holds);
        assert_eq!(
            verdicts["never"],
            Verdict::Violated("it returned false".into())
        );
        assert!(matches!(&verdicts["loop"], Verdict::Failed(w) if w.contains("budget")));
        let verdicts: BTreeMap<String, Verdict> =
            inv.check(&json!({"a": {"n": 5}})).into_iter().collect();
        assert_eq!(verdicts["total"], Verdict::Violated("total is 5".into()));
    }
}
