//! A system of Rune script actors, run in-process: every actor's state and every message in
//! flight, as plain data, and each delivery made by calling the actor's `handle` exactly as the
//! script actor does — no files, no signals. The explorer searches its delivery orders; a found
//! order becomes a schedule that `eos replay` carries out on the real processes.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use eos::schedule::{Message, Outcome, Step};
use eos::spawn_request::SpawnRequest;
use eos::{ActorDir, ActorId, Root, fsio, mailbox};
use rune::runtime::RuntimeContext;
use serde_json::{Value, json};

use super::search::Model;
use crate::call::{self, Call, Limits};
use crate::compile::Compiled;
use crate::host::Effect;
use crate::invariants::{Invariants, Verdict};

/// A message in flight.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Msg {
    pub to: String,
    pub from: Option<String>,
    /// As JSON text, so that messages compare and hash.
    pub payload: String,
    /// Sent with `send_after`.
    pub timer: bool,
}

impl Msg {
    fn payload(&self) -> Value {
        serde_json::from_str(&self.payload).unwrap_or(Value::Null)
    }

    fn message(&self) -> Message {
        Message {
            to: self.to.clone(),
            from: self.from.clone(),
            payload: self.payload(),
        }
    }
}

/// What may happen next.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Deliver(Msg),
    /// A fault: the message is lost.
    Drop(Msg),
    /// A fault: the message arrives twice.
    Duplicate(Msg),
    /// A fault: the actor is killed; one that is not restarted (a temporary actor, the
    /// default) stays down and its mail waits for ever.
    Crash(String),
}

/// Every actor's state and the messages in flight.
#[derive(Debug, Clone, PartialEq)]
pub struct World {
    pub states: BTreeMap<String, Value>,
    pub pending: Vec<Msg>,
    pub faults: u32,
    /// Actors a crash stopped for good.
    pub down: BTreeSet<String>,
}

/// Which faults the search may add, and how many in one run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    pub drop: bool,
    pub duplicate: bool,
    /// An actor that is not restarted may crash.
    pub crash: bool,
    /// A timer may fire while other messages wait (otherwise only when nothing else can be
    /// delivered, as in virtual time).
    pub timers_early: bool,
    pub max: u32,
}

struct Actor {
    runtime: Arc<RuntimeContext>,
    compiled: Compiled,
    /// Started again after a crash (with its state and mail: a crash then changes nothing).
    restarted: bool,
}

/// The actors' scripts and the properties: what does not change while exploring.
pub struct System {
    actors: BTreeMap<String, Actor>,
    properties: Invariants,
    pub faults: Faults,
    limits: Limits,
    /// Something the in-process run cannot do (a spawn, say): the search cannot be trusted.
    pub problem: RefCell<Option<String>>,
}

/// Where an actor's script is, from its spawn recipe: `None` if it is not a script actor.
fn script_of(image: &Root, id: &ActorId, scripts: &Value) -> Option<PathBuf> {
    let dir = image.actor(id);
    let recipe: SpawnRequest = fsio::read_json(&dir.spawn_record()).ok()?;
    let first = recipe.args.first()?;
    if !recipe.path.ends_with("script-actor") || !first.ends_with(".rn") {
        return None;
    }
    // A checkpoint's kept script; the file it came from if it is still there (the code as
    // it is now, as a replay runs it).
    if first == ActorDir::KEPT_SCRIPT {
        let original = scripts[id.as_str()].as_str().map(PathBuf::from);
        return Some(
            original
                .filter(|p| p.is_file())
                .unwrap_or_else(|| dir.kept_script()),
        );
    }
    Some(PathBuf::from(first))
}

impl System {
    /// The system in `image` (a root or a checkpoint's folder): every actor must be a script
    /// actor. Returns it with the world as it is there.
    pub fn load(image: &Path, faults: Faults) -> Result<(System, World)> {
        let image = Root::new(image);
        let meta: Value = fsio::read_json(&image.checkpoint_record()).unwrap_or(Value::Null);
        let mut actors = BTreeMap::new();
        let mut world = World {
            states: BTreeMap::new(),
            pending: Vec::new(),
            faults: 0,
            down: BTreeSet::new(),
        };
        let limits = Limits {
            budget: 10_000_000,
            memory: 256 << 20,
        };
        let mut names = fsio::names(&image.running_dir()).unwrap_or_default();
        names.sort();
        for name in names {
            let Ok(id) = ActorId::parse(&name) else {
                continue;
            };
            let dir = image.actor(&id);
            let Some(script) = script_of(&image, &id, &meta["scripts"]) else {
                bail!(
                    "`{id}` is not a Rune script actor: the in-process explorer runs only \
                     systems of script actors"
                );
            };
            let context =
                crate::context(id.as_str(), script.parent().unwrap_or(Path::new(".")), None)?;
            let runtime = Arc::new(context.runtime()?);
            let compiled = crate::compile::compile(&context, &script)
                .map_err(|e| anyhow::anyhow!("{e}"))
                .with_context(|| format!("compiling {}", script.display()))?;
            let restart = eos::supervision::RestartType::of(&dir)
                .unwrap_or(eos::supervision::RestartType::Temporary);
            let actor = Actor {
                runtime,
                compiled,
                restarted: restart.restarts_after(true),
            };
            let mut state: Value = fsio::read_json(&dir.state_file()).unwrap_or(Value::Null);
            if state.is_null() {
                state = call::execute(&actor.runtime, &actor.compiled, Call::Init, limits)
                    .map_err(|e| anyhow::anyhow!("{id}: {e}"))?
                    .state;
            }
            world.states.insert(name.clone(), state);
            for (_, envelope) in mailbox::envelopes(&dir.spool_dir()) {
                world.pending.push(Msg {
                    to: name.clone(),
                    from: envelope.sender.as_ref().map(ToString::to_string),
                    payload: envelope.payload.to_string(),
                    timer: envelope.due_ms().is_some(),
                });
            }
            actors.insert(name, actor);
        }
        if actors.is_empty() {
            bail!(
                "there are no actors to explore in {}",
                image.path().display()
            );
        }
        let properties = Invariants::load(&image.invariants_dir())?;
        if let Some((name, problem)) = properties.problems().next() {
            bail!("the property {name} does not compile: {problem}");
        }
        let system = System {
            actors,
            properties,
            faults,
            limits,
            problem: RefCell::new(None),
        };
        Ok((system, world))
    }

    fn states_json(world: &World) -> Value {
        Value::Object(world.states.clone().into_iter().collect())
    }

    /// Delivers `msg`: the actor's new state and the messages it sent, or (its handler failed,
    /// or there is no such actor) nothing but the message gone. Returns what it left.
    fn deliver(&self, world: &mut World, msg: &Msg) -> Outcome {
        let Some(actor) = self.actors.get(&msg.to) else {
            return Outcome::Failed;
        };
        let state = world.states.get(&msg.to).cloned().unwrap_or(Value::Null);
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        msg.hash(&mut hasher);
        let envelope = json!({
            "id": format!("x{:016x}", hasher.finish()),
            "sender": msg.from,
            "payload": msg.payload(),
        });
        let outcome = call::execute(
            &actor.runtime,
            &actor.compiled,
            Call::Handle {
                state,
                msg: envelope,
            },
            self.limits,
        );
        let Ok(outcome) = outcome else {
            return Outcome::Failed;
        };
        for effect in outcome.effects {
            let (to, payload, timer) = match effect {
                Effect::Send(to, payload) => (to, payload, false),
                Effect::SendAfter(to, payload, _) => (to, payload, true),
                other => {
                    self.problem.borrow_mut().get_or_insert_with(|| {
                        format!(
                            "`{}` asked for {other:?}, which the in-process explorer does not \
                             model (spawns, monitors and links)",
                            msg.to
                        )
                    });
                    continue;
                }
            };
            world.pending.push(Msg {
                to,
                from: Some(msg.to.clone()),
                payload: payload.to_string(),
                timer,
            });
        }
        world.states.insert(msg.to.clone(), outcome.state.clone());
        Outcome::State(outcome.state)
    }

    /// Carries out `action`, returning the schedule step that does the same to real processes.
    pub fn apply(&self, world: &mut World, action: &Action) -> Option<Step> {
        let m = match action {
            Action::Deliver(m) | Action::Drop(m) | Action::Duplicate(m) => m,
            Action::Crash(actor) => {
                world.down.insert(actor.clone());
                world.faults += 1;
                return Some(Step::Crash {
                    actor: actor.clone(),
                });
            }
        };
        let at = world.pending.iter().position(|p| p == m)?;
        match action {
            Action::Deliver(m) => {
                world.pending.remove(at);
                let outcome = self.deliver(world, m);
                Some(Step::Deliver {
                    message: m.message(),
                    expect: Some(outcome),
                })
            }
            Action::Drop(m) => {
                world.pending.remove(at);
                world.faults += 1;
                Some(Step::Drop(m.message()))
            }
            Action::Duplicate(m) => {
                world.pending.push(m.clone());
                world.faults += 1;
                Some(Step::Duplicate(m.message()))
            }
            Action::Crash(_) => None,
        }
    }

    /// Carries out actions from `world` (as a minimized schedule is tried): `None` when one
    /// cannot be (its message is not in flight, a timer while others wait, a fault past the
    /// budget).
    pub fn run_steps(&self, world: &World, actions: &[Action]) -> Option<Vec<(World, Step)>> {
        let mut now = world.clone();
        let mut out = Vec::new();
        for action in actions {
            if !self.actions(&now).contains(action) {
                return None;
            }
            let step = self.apply(&mut now, action)?;
            out.push((now.clone(), step));
        }
        Some(out)
    }

    fn verdicts(&self, function: &str, world: &World) -> Vec<(String, Verdict)> {
        self.properties
            .property(function, &Self::states_json(world))
    }
}

impl Model for System {
    type State = World;
    type Action = Action;

    fn actions(&self, world: &World) -> Vec<Action> {
        let mut seen: Vec<&Msg> = Vec::new();
        let mut distinct = world.pending.iter().filter(|m| {
            let new = !seen.contains(m);
            seen.push(m);
            new
        });
        let messages: Vec<&Msg> = distinct
            .by_ref()
            .filter(|m| !world.down.contains(&m.to))
            .collect();
        let others = messages.iter().any(|m| !m.timer);
        let mut actions = Vec::new();
        for m in &messages {
            if !m.timer || self.faults.timers_early || !others {
                actions.push(Action::Deliver((*m).clone()));
            }
        }
        if world.faults < self.faults.max {
            for m in messages.iter().filter(|m| !m.timer) {
                if self.faults.drop {
                    actions.push(Action::Drop((*m).clone()));
                }
                if self.faults.duplicate {
                    actions.push(Action::Duplicate((*m).clone()));
                }
            }
            if self.faults.crash {
                for (id, actor) in &self.actors {
                    if !actor.restarted && !world.down.contains(id) {
                        actions.push(Action::Crash(id.clone()));
                    }
                }
            }
        }
        actions
    }

    fn step(&self, world: &World, action: &Action) -> World {
        let mut next = world.clone();
        self.apply(&mut next, action);
        next
    }

    fn fingerprint(&self, world: &World) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        serde_json::to_string(&world.states)
            .unwrap_or_default()
            .hash(&mut hasher);
        let mut pending = world.pending.clone();
        pending.sort();
        pending.hash(&mut hasher);
        world.faults.hash(&mut hasher);
        world.down.hash(&mut hasher);
        hasher.finish()
    }

    fn independent(&self, a: &Action, b: &Action) -> bool {
        match (a, b) {
            (Action::Deliver(x), Action::Deliver(y)) => {
                // A timer that waits for quiet depends on every delivery.
                let waits = |m: &Msg| m.timer && !self.faults.timers_early;
                x.to != y.to && !waits(x) && !waits(y)
            }
            // Faults share their budget.
            _ => false,
        }
    }

    fn violated(&self, world: &World) -> Option<(String, String)> {
        self.verdicts("check", world)
            .into_iter()
            .find_map(|(name, v)| match v {
                Verdict::Holds => None,
                Verdict::Violated(what) => Some((name, what)),
                Verdict::Failed(e) => Some((name, format!("the property failed: {e}"))),
            })
    }

    fn reached(&self, world: &World) -> Vec<String> {
        self.verdicts("sometimes", world)
            .into_iter()
            .filter(|(_, v)| *v == Verdict::Holds)
            .map(|(name, _)| name)
            .collect()
    }

    fn unfinished(&self, world: &World) -> Option<(String, String)> {
        self.verdicts("eventually", world)
            .into_iter()
            .find_map(|(name, v)| match v {
                Verdict::Holds => None,
                Verdict::Violated(what) => Some((name, what)),
                Verdict::Failed(e) => Some((name, format!("the property failed: {e}"))),
            })
    }
}
