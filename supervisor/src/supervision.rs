//! Supervision: which node each actor belongs to, and what a node decides when a child exits
//! (OTP's restart types, strategies, restart intensity and escalation). Pure: it is given
//! facts (who exited, how, when) and answers with [`Action`]s that the loop carries out, so
//! every rule is unit-tested with plain data.
//!
//! Nodes come from three places, and are named so that they cannot clash:
//! - a tree file `trees/<name>.json`: `<name>`, and `<name>/<sub>` for a nested node;
//! - an actor that spawned children: `@<id>`, one_for_one unless it declares otherwise;
//! - an actor outside any tree: `~<id>`, a node of its own with just that actor.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use eos::ActorId;
use eos::supervision::{Backoff, NodeRecord, RestartType, Strategy, SupervisionRecord};

/// A child of a node, in start order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Child {
    Actor(ActorId),
    Node(String),
}

/// Where a node came from: it decides what escalation means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A tree file's node; `parent` is the node above it (none for the tree itself).
    Tree { parent: Option<String> },
    /// The children an actor spawned: when they fail too often, the actor fails.
    Children { of: ActorId },
    /// An actor outside any tree.
    Alone,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub kind: Kind,
    pub strategy: Strategy,
    pub intensity: u32,
    pub period: Duration,
    pub backoff: Backoff,
    pub children: Vec<Child>,
    pub record: NodeRecord,
}

impl Node {
    pub fn new(kind: Kind, strategy: Strategy, intensity: u32, period: Duration) -> Self {
        Node {
            kind,
            strategy,
            intensity,
            period,
            backoff: Backoff::default(),
            children: Vec::new(),
            record: NodeRecord::default(),
        }
    }
}

/// What the loop is to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Stop these actors, in this order (the reverse of their start order): SIGTERM, their
    /// grace, SIGKILL. They are not restarted for it by their own restart type.
    Stop(Vec<ActorId>),
    /// Once the stopped ones have exited, and `delay_ms` has passed, start these again, in
    /// this order. `attempt` counts the node's restarts within its period.
    Restart {
        node: String,
        actors: Vec<ActorId>,
        attempt: u32,
        delay_ms: u64,
    },
    /// `node` gave up and its failure goes up to `to`.
    Escalate { node: String, to: String },
    /// The actor whose children `node` are failed with them (an abnormal exit).
    Fail { actor: ActorId, node: String },
    /// `node` gave up at the top: its actors stay down.
    GiveUp { node: String, reason: String },
}

#[derive(Debug, Default)]
pub struct Supervision {
    nodes: BTreeMap<String, Node>,
    node_of: HashMap<ActorId, String>,
    restart: HashMap<ActorId, RestartType>,
}

impl Supervision {
    /// The node of an actor outside any tree.
    pub fn alone(id: &ActorId) -> String {
        eos::supervision::alone_node(id)
    }

    /// The node of the children an actor spawned.
    pub fn children_of(id: &ActorId) -> String {
        eos::supervision::children_node(id)
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.get(name)
    }

    pub fn node_mut(&mut self, name: &str) -> Option<&mut Node> {
        self.nodes.get_mut(name)
    }

    pub fn nodes(&self) -> impl Iterator<Item = (&String, &Node)> {
        self.nodes.iter()
    }

    /// Adds a node, or changes one (keeping its children and its record).
    pub fn set_node(&mut self, name: &str, node: Node) {
        match self.nodes.get_mut(name) {
            Some(old) => {
                let children = std::mem::take(&mut old.children);
                let record = std::mem::take(&mut old.record);
                *old = Node {
                    children,
                    record,
                    ..node
                };
            }
            None => {
                self.nodes.insert(name.to_owned(), node);
            }
        }
    }

    /// Puts a node under another (at the end of its children, or where it is already).
    pub fn add_child(&mut self, parent: &str, child: Child) {
        if let Some(node) = self.nodes.get_mut(parent)
            && !node.children.contains(&child)
        {
            node.children.push(child);
        }
    }

    /// Orders a node's children as given (the ones not named keep their order, after).
    pub fn order_children(&mut self, name: &str, order: &[Child]) {
        if let Some(node) = self.nodes.get_mut(name) {
            node.children
                .sort_by_key(|c| order.iter().position(|o| o == c).unwrap_or(usize::MAX));
        }
    }

    /// Makes `id` a child of `node` (leaving any node it was in), with its restart type.
    pub fn attach(&mut self, id: &ActorId, node: &str, restart: RestartType) {
        self.detach(id);
        self.node_of.insert(id.clone(), node.to_owned());
        self.restart.insert(id.clone(), restart);
        self.add_child(node, Child::Actor(id.clone()));
    }

    /// Takes `id` out of its node; an actor's own node goes with it when empty.
    pub fn detach(&mut self, id: &ActorId) {
        if let Some(old) = self.node_of.remove(id)
            && let Some(node) = self.nodes.get_mut(&old)
        {
            node.children.retain(|c| *c != Child::Actor(id.clone()));
            if node.kind == Kind::Alone && node.children.is_empty() {
                self.nodes.remove(&old);
            }
        }
    }

    /// Removes a node and, below it, its nested nodes; returns the actors that were in them.
    pub fn remove_node(&mut self, name: &str) -> Vec<ActorId> {
        let actors = self.actors_under(name);
        let Some(node) = self.nodes.remove(name) else {
            return actors;
        };
        for child in node.children {
            if let Child::Node(sub) = child {
                self.remove_node(&sub);
            }
        }
        for id in &actors {
            if self
                .node_of
                .get(id)
                .is_some_and(|n| !self.nodes.contains_key(n))
            {
                self.node_of.remove(id);
            }
        }
        for other in self.nodes.values_mut() {
            other
                .children
                .retain(|c| *c != Child::Node(name.to_owned()));
        }
        actors
    }

    pub fn node_of(&self, id: &ActorId) -> Option<&str> {
        self.node_of.get(id).map(String::as_str)
    }

    pub fn set_restart(&mut self, id: &ActorId, restart: RestartType) {
        self.restart.insert(id.clone(), restart);
    }

    pub fn restart_of(&self, id: &ActorId) -> Option<RestartType> {
        self.restart.get(id).copied()
    }

    /// Every actor below `name`, depth first, in start order.
    pub fn actors_under(&self, name: &str) -> Vec<ActorId> {
        let mut out = Vec::new();
        self.collect(name, &mut out);
        out
    }

    fn collect(&self, name: &str, out: &mut Vec<ActorId>) {
        let Some(node) = self.nodes.get(name) else {
            return;
        };
        for child in &node.children {
            match child {
                Child::Actor(id) => {
                    out.push(id.clone());
                    // The children an actor spawned go with it.
                    self.collect(&Self::children_of(id), out);
                }
                Child::Node(sub) => self.collect(sub, out),
            }
        }
    }

    /// Every node's record, for `supervision.json`.
    pub fn records(&self) -> SupervisionRecord {
        self.nodes
            .iter()
            .map(|(name, node)| (name.clone(), node.record.clone()))
            .collect()
    }

    /// Brings back records saved by an earlier supervisor.
    pub fn restore_records(&mut self, records: SupervisionRecord) {
        for (name, record) in records {
            if let Some(node) = self.nodes.get_mut(&name) {
                node.record = record;
            }
        }
    }

    /// An actor exited, `abnormal`ly or not, at `now_ms` (since the epoch). Its restart type
    /// (read just now from its folder) decides whether it is restarted, and its node how.
    pub fn exited(
        &mut self,
        id: &ActorId,
        abnormal: bool,
        restart: RestartType,
        now_ms: u64,
    ) -> Vec<Action> {
        self.restart.insert(id.clone(), restart);
        if !restart.restarts_after(abnormal) {
            return Vec::new();
        }
        let Some(node) = self.node_of.get(id).cloned() else {
            return Vec::new();
        };
        self.failed(Child::Actor(id.clone()), &node, now_ms)
    }

    /// `child` of `name` failed: restart what the strategy says, or give up and escalate.
    fn failed(&mut self, child: Child, name: &str, now_ms: u64) -> Vec<Action> {
        let Some(node) = self.nodes.get_mut(name) else {
            return Vec::new();
        };
        if node.record.down.is_some() {
            return Vec::new();
        }
        let period_ms = node.period.as_millis() as u64;
        node.record
            .recent_ms
            .retain(|&t| t + period_ms > now_ms && t <= now_ms);
        if node.record.recent_ms.len() as u32 >= node.intensity {
            return self.give_up(name, now_ms);
        }
        node.record.recent_ms.push(now_ms);
        node.record.restarts += 1;
        let attempt = node.record.recent_ms.len() as u32;
        let delay_ms = node.backoff.delay_ms(attempt, name);
        let at = node.children.iter().position(|c| *c == child).unwrap_or(0);
        let affected: Vec<Child> = match node.strategy {
            Strategy::OneForOne => vec![child.clone()],
            Strategy::OneForAll => node.children.clone(),
            Strategy::RestForOne => node.children[at..].to_vec(),
        };
        let mut stop = Vec::new();
        let mut start = Vec::new();
        for c in &affected {
            let actors = match c {
                Child::Actor(id) => {
                    let mut all = vec![id.clone()];
                    self.collect(&Self::children_of(id), &mut all);
                    all
                }
                Child::Node(sub) => {
                    if let Some(n) = self.nodes.get_mut(sub) {
                        n.record.down = None;
                        n.record.recent_ms.clear();
                    }
                    self.actors_under(sub)
                }
            };
            for (k, id) in actors.into_iter().enumerate() {
                // The failed actor is down already; what it spawned, and every sibling that
                // goes with it, is stopped.
                let the_failed = k == 0 && *c == child && matches!(c, Child::Actor(_));
                if !the_failed {
                    stop.push(id.clone());
                }
                // A temporary child is never restarted, even when a sibling's death stopped it.
                if the_failed || self.restart.get(&id) != Some(&RestartType::Temporary) {
                    start.push(id);
                }
            }
        }
        stop.reverse();
        vec![
            Action::Stop(stop),
            Action::Restart {
                node: name.to_owned(),
                actors: start,
                attempt,
                delay_ms,
            },
        ]
    }

    /// Too many restarts: stop everything below `name` and pass the failure up.
    fn give_up(&mut self, name: &str, now_ms: u64) -> Vec<Action> {
        let mut stop = self.actors_under(name);
        stop.reverse();
        let Some(node) = self.nodes.get_mut(name) else {
            return Vec::new();
        };
        let reason = format!(
            "more than {} restart(s) within {}s",
            node.intensity,
            node.period.as_secs_f64()
        );
        node.record.down = Some(reason.clone());
        node.record.recent_ms.clear();
        let kind = node.kind.clone();
        let mut actions = vec![Action::Stop(stop)];
        match kind {
            Kind::Tree {
                parent: Some(parent),
            } => {
                actions.push(Action::Escalate {
                    node: name.to_owned(),
                    to: parent.clone(),
                });
                actions.extend(self.failed(Child::Node(name.to_owned()), &parent, now_ms));
            }
            Kind::Children { of } => {
                let to = self.node_of(&of).unwrap_or_default().to_owned();
                actions.push(Action::Escalate {
                    node: name.to_owned(),
                    to,
                });
                actions.push(Action::Fail {
                    actor: of,
                    node: name.to_owned(),
                });
            }
            Kind::Tree { parent: None } | Kind::Alone => actions.push(Action::GiveUp {
                node: name.to_owned(),
                reason,
            }),
        }
        actions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> ActorId {
        ActorId::parse(s).unwrap()
    }

    fn tree(strategy: Strategy, intensity: u32, children: &[&str]) -> Supervision {
        let mut s = Supervision::default();
        s.set_node(
            "t",
            Node::new(
                Kind::Tree { parent: None },
                strategy,
                intensity,
                Duration::from_secs(5),
            ),
        );
        for c in children {
            s.attach(&id(c), "t", RestartType::Permanent);
        }
        s
    }

    fn ids(v: &[&str]) -> Vec<ActorId> {
        v.iter().map(|s| id(s)).collect()
    }

    fn restart(actions: &[Action]) -> (Vec<ActorId>, Vec<ActorId>) {
        match actions {
            [Action::Stop(stop), Action::Restart { actors, .. }] => (stop.clone(), actors.clone()),
            other => panic!("not a restart: {other:?}"),
        }
    }

    #[test]
    fn each_strategy_restarts_what_otp_says() {
        let mut s = tree(Strategy::OneForOne, 10, &["a", "b", "c"]);
        let (stop, start) = restart(&s.exited(&id("b"), true, RestartType::Permanent, 1000));
        assert_eq!((stop, start), (vec![], ids(&["b"])));

        let mut s = tree(Strategy::OneForAll, 10, &["a", "b", "c"]);
        let (stop, start) = restart(&s.exited(&id("b"), true, RestartType::Permanent, 1000));
        assert_eq!(stop, ids(&["c", "a"]), "the others, in reverse start order");
        assert_eq!(start, ids(&["a", "b", "c"]));

        let mut s = tree(Strategy::RestForOne, 10, &["a", "b", "c"]);
        let (stop, start) = restart(&s.exited(&id("b"), true, RestartType::Permanent, 1000));
        assert_eq!((stop, start), (ids(&["c"]), ids(&["b", "c"])));
    }

    #[test]
    fn restart_types_decide_whether_an_exit_is_a_failure() {
        let mut s = tree(Strategy::OneForOne, 10, &["a"]);
        assert!(
            s.exited(&id("a"), false, RestartType::Transient, 1)
                .is_empty()
        );
        assert!(
            s.exited(&id("a"), true, RestartType::Temporary, 2)
                .is_empty()
        );
        assert!(
            !s.exited(&id("a"), true, RestartType::Transient, 3)
                .is_empty()
        );
        assert!(
            !s.exited(&id("a"), false, RestartType::Permanent, 4)
                .is_empty()
        );
    }

    #[test]
    fn temporary_siblings_are_stopped_but_not_restarted() {
        let mut s = tree(Strategy::OneForAll, 10, &["a", "b"]);
        s.set_restart(&id("a"), RestartType::Temporary);
        let (stop, start) = restart(&s.exited(&id("b"), true, RestartType::Permanent, 1));
        assert_eq!((stop, start), (ids(&["a"]), ids(&["b"])));
    }

    #[test]
    fn intensity_and_back_off() {
        let mut s = tree(Strategy::OneForOne, 2, &["a", "b"]);
        let delays: Vec<u64> = [1000, 1100]
            .iter()
            .map(
                |&t| match &s.exited(&id("a"), true, RestartType::Permanent, t)[1] {
                    Action::Restart { delay_ms, .. } => *delay_ms,
                    other => panic!("{other:?}"),
                },
            )
            .collect();
        assert_eq!(delays, [100, 200]);
        // A third within 5 s is one too many: everything stops, and at the top it stays down.
        let actions = s.exited(&id("a"), true, RestartType::Permanent, 1200);
        assert_eq!(actions[0], Action::Stop(ids(&["b", "a"])));
        assert!(matches!(&actions[1], Action::GiveUp { node, .. } if node == "t"));
        assert!(s.node("t").unwrap().record.down.is_some());
        assert!(
            s.exited(&id("b"), true, RestartType::Permanent, 1300)
                .is_empty()
        );
        // Outside the period, restarts count afresh.
        let mut s = tree(Strategy::OneForOne, 1, &["a"]);
        assert_eq!(s.exited(&id("a"), true, RestartType::Permanent, 0).len(), 2);
        assert_eq!(
            s.exited(&id("a"), true, RestartType::Permanent, 6000).len(),
            2
        );
        assert_eq!(s.node("t").unwrap().record.restarts, 2);
    }

    #[test]
    fn a_nested_node_that_gives_up_escalates_to_its_parent() {
        let mut s = tree(Strategy::OneForAll, 5, &["a"]);
        s.set_node(
            "t/sub",
            Node::new(
                Kind::Tree {
                    parent: Some("t".into()),
                },
                Strategy::OneForOne,
                0,
                Duration::from_secs(5),
            ),
        );
        s.add_child("t", Child::Node("t/sub".into()));
        s.attach(&id("x"), "t/sub", RestartType::Permanent);
        s.attach(&id("y"), "t/sub", RestartType::Permanent);
        let actions = s.exited(&id("x"), true, RestartType::Permanent, 1);
        assert_eq!(actions[0], Action::Stop(ids(&["y", "x"])));
        assert_eq!(
            actions[1],
            Action::Escalate {
                node: "t/sub".into(),
                to: "t".into()
            }
        );
        // one_for_all at the top: `a` is stopped too, and the whole tree starts again.
        assert_eq!(actions[2], Action::Stop(ids(&["y", "x", "a"])));
        assert!(
            matches!(&actions[3], Action::Restart { actors, .. } if *actors == ids(&["a", "x", "y"]))
        );
        assert!(s.node("t/sub").unwrap().record.down.is_none(), "restarted");
    }

    #[test]
    fn children_an_actor_spawned_fail_it_when_they_fail_too_often() {
        let mut s = Supervision::default();
        let p = id("p");
        s.set_node(
            &Supervision::alone(&p),
            Node::new(Kind::Alone, Strategy::OneForOne, 3, Duration::from_secs(5)),
        );
        s.attach(&p, &Supervision::alone(&p), RestartType::Permanent);
        s.set_node(
            &Supervision::children_of(&p),
            Node::new(
                Kind::Children { of: p.clone() },
                Strategy::OneForOne,
                1,
                Duration::from_secs(5),
            ),
        );
        s.attach(
            &id("c"),
            &Supervision::children_of(&p),
            RestartType::Permanent,
        );
        assert_eq!(s.actors_under(&Supervision::alone(&p)), ids(&["p", "c"]));
        assert_eq!(s.exited(&id("c"), true, RestartType::Permanent, 1).len(), 2);
        let actions = s.exited(&id("c"), true, RestartType::Permanent, 2);
        assert!(actions.contains(&Action::Fail {
            actor: p.clone(),
            node: "@p".into()
        }));
        // The parent restarted takes its children with it.
        let (stop, start) = restart(&s.exited(&p, true, RestartType::Permanent, 3));
        assert_eq!((stop, start), (ids(&["c"]), ids(&["p", "c"])));
    }
}
