//! Supervision as files: restart types, strategies, the tree files of `trees/`, the
//! supervisor's record of its nodes (`supervision.json`), and the `down` notice an actor
//! receives when one it watches exits. Shared by the supervisor, the CLI and the SDK.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::id::ActorId;
use crate::layout::ActorDir;

/// Whether an actor is started again when it exits (OTP's restart types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum RestartType {
    /// Always.
    Permanent,
    /// Only after an abnormal exit: killed by a signal, or a non-zero code.
    Transient,
    /// Never.
    Temporary,
}

impl RestartType {
    /// Whether an exit (`abnormal` or not) calls for a restart.
    pub fn restarts_after(self, abnormal: bool) -> bool {
        match self {
            RestartType::Permanent => true,
            RestartType::Transient => abnormal,
            RestartType::Temporary => false,
        }
    }

    /// What the actor's one-word file says (none: no file, or not a restart type).
    pub fn of(dir: &ActorDir) -> Option<Self> {
        std::fs::read_to_string(dir.restart_file())
            .ok()?
            .parse()
            .ok()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RestartType::Permanent => "permanent",
            RestartType::Transient => "transient",
            RestartType::Temporary => "temporary",
        }
    }
}

impl fmt::Display for RestartType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RestartType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "permanent" => Ok(RestartType::Permanent),
            "transient" => Ok(RestartType::Transient),
            "temporary" => Ok(RestartType::Temporary),
            other => Err(format!(
                "`{other}` is not a restart type (permanent, transient or temporary)"
            )),
        }
    }
}

/// Which children a node restarts when one of them must be restarted (OTP's strategies).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Only the one that exited.
    #[default]
    OneForOne,
    /// All of them: the others are stopped first.
    OneForAll,
    /// The one that exited and every child started after it.
    RestForOne,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::OneForOne => "one_for_one",
            Strategy::OneForAll => "one_for_all",
            Strategy::RestForOne => "rest_for_one",
        }
    }
}

impl FromStr for Strategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        serde_json::from_value(Value::String(s.trim().to_owned())).map_err(|_| {
            format!("`{s}` is not a strategy (one_for_one, one_for_all or rest_for_one)")
        })
    }
}

/// OTP's default restart intensity: at most 1 restart…
pub const DEFAULT_INTENSITY: u32 = 1;
/// …within 5 seconds.
pub const DEFAULT_PERIOD_S: f64 = 5.0;
/// An actor outside any tree may be restarted this many times within the period: enough for a
/// message that crashes it to be found poisonous (see [`DEFAULT_POISON_AFTER`]).
pub const STANDALONE_INTENSITY: u32 = 3;
/// A message that was `current` when its actor crashed this many times in a row goes to `dead/`.
pub const DEFAULT_POISON_AFTER: u32 = 3;
/// How long a stopped child has between SIGTERM and SIGKILL, unless its spec says.
pub const DEFAULT_SHUTDOWN_MS: u64 = 2000;

/// The wait before a restart: `initial_ms`, doubled for each restart already made within the
/// period, at most `max_ms`. With `jitter`, up to a quarter more, drawn from the actor's id and
/// attempt (so runs still reproduce).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Backoff {
    pub initial_ms: u64,
    pub max_ms: u64,
    pub jitter: bool,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial_ms: 100,
            max_ms: 5000,
            jitter: false,
        }
    }
}

impl Backoff {
    /// The wait before restart number `attempt` (1 for the first within the period).
    pub fn delay_ms(&self, attempt: u32, seed: &str) -> u64 {
        let doubled = self
            .initial_ms
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(30));
        let base = doubled.min(self.max_ms);
        if !self.jitter || base == 0 {
            return base;
        }
        let hash = seed
            .bytes()
            .chain(attempt.to_le_bytes())
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        base + hash % (base / 4 + 1)
    }
}

/// A tree file (`trees/<name>.json`): a node with its strategy, intensity and ordered children.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// A nested node's name (the tree's own name is its file's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub strategy: Strategy,
    /// At most this many restarts…
    #[serde(default = "default_intensity")]
    pub intensity: u32,
    /// …within this many seconds; more, and the node gives up and its parent decides.
    #[serde(default = "default_period", alias = "period_s")]
    pub period: f64,
    #[serde(default)]
    pub backoff: Backoff,
    pub children: Vec<ChildSpec>,
}

fn default_intensity() -> u32 {
    DEFAULT_INTENSITY
}

fn default_period() -> f64 {
    DEFAULT_PERIOD_S
}

/// A child of a node: an actor, or a node of its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ChildSpec {
    Actor(ActorSpec),
    Node(NodeSpec),
}

/// An actor in a tree file: a program or a Rune script, with its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorSpec {
    pub id: ActorId,
    /// An executable (as in a spawn request's `path`, which is taken too)…
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "path")]
    pub program: Option<String>,
    /// …or a Rune script, run by `script-actor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default = "default_child_restart")]
    pub restart: RestartType,
    /// Milliseconds between SIGTERM and SIGKILL when the node stops it (`shutdown` and
    /// `grace_ms` are taken too).
    #[serde(default = "default_shutdown", alias = "shutdown", alias = "grace_ms")]
    pub shutdown_ms: u64,
    /// Its first state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Value>,
    /// A message it crashed on this many times in a row goes to `dead/` (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poison_after: Option<u32>,
}

fn default_child_restart() -> RestartType {
    RestartType::Permanent
}

fn default_shutdown() -> u64 {
    DEFAULT_SHUTDOWN_MS
}

impl NodeSpec {
    /// Checks what serde cannot: each actor names one program or one script, ids and node
    /// names are unique, numbers make sense.
    pub fn check(&self) -> Result<(), String> {
        let mut ids = Vec::new();
        let mut names = Vec::new();
        self.check_into(&mut ids, &mut names)
    }

    fn check_into<'a>(
        &'a self,
        ids: &mut Vec<&'a ActorId>,
        names: &mut Vec<&'a str>,
    ) -> Result<(), String> {
        if !(self.period > 0.0 && self.period.is_finite()) {
            return Err(format!(
                "`period` must be a positive number of seconds, not {}",
                self.period
            ));
        }
        for child in &self.children {
            match child {
                ChildSpec::Actor(actor) => {
                    if actor.program.is_some() == actor.script.is_some() {
                        return Err(format!(
                            "`{}` needs exactly one of `program` and `script`",
                            actor.id
                        ));
                    }
                    if ids.contains(&&actor.id) {
                        return Err(format!("`{}` appears twice", actor.id));
                    }
                    ids.push(&actor.id);
                }
                ChildSpec::Node(node) => {
                    let Some(name) = node.name.as_deref() else {
                        return Err("a nested node needs a `name`".into());
                    };
                    if ActorId::parse(name).is_err() {
                        return Err(format!(
                            "`{name}` is not a valid node name (letters, digits, - and _)"
                        ));
                    }
                    if names.contains(&name) {
                        return Err(format!("the node `{name}` appears twice"));
                    }
                    names.push(name);
                    node.check_into(ids, names)?;
                }
            }
        }
        Ok(())
    }
}

/// The node of an actor outside any tree: `~<id>`. (A tree's nodes are `<name>` and
/// `<name>/<sub>`; these prefixes keep the kinds from clashing.)
pub fn alone_node(id: &ActorId) -> String {
    format!("~{id}")
}

/// The node of the children an actor spawned: `@<id>`.
pub fn children_node(id: &ActorId) -> String {
    format!("@{id}")
}

/// Whether a node is one of an actor's own (alone, or its children), not a tree's.
pub fn is_actor_node(node: &str) -> bool {
    node.starts_with('~') || node.starts_with('@')
}

/// Whether a node is that of an actor outside any tree.
pub fn is_alone_node(node: &str) -> bool {
    node.starts_with('~')
}

/// What the supervisor keeps of one node in `supervision.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Restarts made by this node, ever.
    pub restarts: u32,
    /// When the recent ones were made (milliseconds since the epoch), for the intensity.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent_ms: Vec<u64>,
    /// Set when the node gave up: why. Its children stay down until it is applied again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down: Option<String>,
}

/// `supervision.json`: every node's record, by name.
pub type SupervisionRecord = BTreeMap<String, NodeRecord>;

/// The payload of the message an actor receives when one it monitors (or is linked to while
/// trapping exits, or spawned) exits: `{"eos": "down", "actor": ..., "reason": ..., "via": ...}`.
pub fn down_payload(actor: &str, reason: &str, via: &str) -> Value {
    json!({"eos": "down", "actor": actor, "reason": reason, "via": via})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_and_jitter_reproduces() {
        let b = Backoff::default();
        let delays: Vec<u64> = (1..=8).map(|n| b.delay_ms(n, "w")).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        let j = Backoff { jitter: true, ..b };
        assert_eq!(j.delay_ms(3, "w"), j.delay_ms(3, "w"));
        assert!((400..=500).contains(&j.delay_ms(3, "w")));
    }

    #[test]
    fn tree_files_are_checked() {
        let tree: NodeSpec = serde_json::from_str(
            r#"{"strategy": "rest_for_one", "children": [
                {"id": "a", "program": "/bin/a"},
                {"name": "sub", "strategy": "one_for_all", "intensity": 3, "period": 10,
                 "children": [{"id": "b", "script": "b.rn", "restart": "transient"}]}]}"#,
        )
        .unwrap();
        assert_eq!(tree.intensity, DEFAULT_INTENSITY);
        tree.check().unwrap();
        let ChildSpec::Node(sub) = &tree.children[1] else {
            panic!("not a node: {:?}", tree.children[1]);
        };
        assert_eq!(sub.strategy, Strategy::OneForAll);
        let twice: NodeSpec = serde_json::from_str(
            r#"{"children": [{"id": "a", "program": "/bin/a"}, {"id": "a", "script": "a.rn"}]}"#,
        )
        .unwrap();
        assert!(twice.check().unwrap_err().contains("twice"));
        let neither: NodeSpec = serde_json::from_str(r#"{"children": [{"id": "a"}]}"#).unwrap();
        assert!(neither.check().unwrap_err().contains("exactly one"));
        assert!("one_for_all".parse::<Strategy>().is_ok());
        assert!("sometimes".parse::<RestartType>().is_err());
    }
}
