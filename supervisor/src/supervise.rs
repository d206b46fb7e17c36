//! Carrying out supervision: the loop tells [`Supervision`] who exited and how, and does what
//! it answers (stop, wait out a back-off, start again, record). Also here: the files through
//! which people and actors take part — tree files in `trees/`, an actor's `restart`,
//! `spawn/`, `monitors/`, `links/` and `trap_exits` — and `down` notices, poison messages,
//! and `supervision.json`.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::time::{Duration, Instant};

use eos::journal::Event as Journal;
use eos::spawn_request::SpawnRequest;
use eos::status::ActorStatus;
use eos::supervision::{
    self, ActorSpec, ChildSpec, NodeSpec, RestartType, Strategy, SupervisionRecord,
};
use eos::{ActorId, Envelope, MessageId, fsio, layout, programs};
use log::{info, warn};
use nix::sys::signal::Signal;

use crate::intake::{Origin, Pile, Read, sorted_names};
use crate::lifecycle::ExitReason;
use crate::supervision::{Action, Child, Kind, Node, Supervision};
use crate::supervisor::Supervisor;

/// The loop's part of supervision: the nodes, and what is under way.
#[derive(Debug, Default)]
pub struct Supervising {
    pub tree: Supervision,
    /// Restarts waiting for stopped actors to exit and for their back-off.
    restarts: Vec<PendingRestart>,
    /// Actors asked to stop: when they get SIGKILL, and whether their exit is a failure (a
    /// reason) or a stop their node asked for (none).
    stopping: HashMap<ActorId, Stopping>,
    /// Actors that have put something in `monitors/` or `links/` (seen at start and from
    /// events): only their folders are looked at when an actor exits.
    watchers: BTreeSet<ActorId>,
}

#[derive(Debug)]
struct PendingRestart {
    node: String,
    actors: Vec<ActorId>,
    attempt: u32,
    delay_ms: u64,
    not_before: Instant,
}

#[derive(Debug)]
struct Stopping {
    kill_at: Instant,
    fail: Option<String>,
}

impl Supervising {
    fn is_stopping(&self, id: &ActorId) -> bool {
        self.stopping.contains_key(id)
    }
}

/// An exit in words, and whether it was abnormal (OTP: anything but a normal exit).
fn describe(reason: &ExitReason) -> (bool, String) {
    match reason {
        ExitReason::Code(0) => (false, "normal".into()),
        ExitReason::Code(code) => (true, format!("exit code {code}")),
        ExitReason::Signal(signal) => (true, format!("killed by {signal}")),
        ExitReason::CannotStart(why) => (true, format!("cannot start: {why}")),
        ExitReason::Found | ExitReason::Stopped => (false, "stopped".into()),
    }
}

impl Supervisor {
    // ----- membership -----------------------------------------------------------------------

    /// Puts a known actor into its node: its tree's, its parent's children, or one of its own.
    pub(crate) fn enroll(&mut self, id: &ActorId) {
        let Some(actor) = self.registry.get(id) else {
            return;
        };
        let record = actor.record.clone().unwrap_or_default();
        let tree_node = record
            .node
            .clone()
            .filter(|n| self.supervising.tree.node(n).is_some());
        let (node, default) = if let Some(node) = tree_node {
            (node, RestartType::Permanent)
        } else if let Some(parent) = record.parent.clone() {
            let node = Supervision::children_of(&parent);
            if self.supervising.tree.node(&node).is_none() {
                let strategy = self
                    .read_word(&self.root.actor(&parent).strategy_file())
                    .and_then(|w| w.parse::<Strategy>().ok())
                    .unwrap_or_default();
                self.supervising.tree.set_node(
                    &node,
                    Node::new(
                        Kind::Children { of: parent },
                        strategy,
                        supervision::DEFAULT_INTENSITY,
                        Duration::from_secs_f64(supervision::DEFAULT_PERIOD_S),
                    ),
                );
            }
            (node, RestartType::Permanent)
        } else {
            let node = Supervision::alone(id);
            self.supervising.tree.set_node(
                &node,
                Node::new(
                    Kind::Alone,
                    Strategy::OneForOne,
                    supervision::STANDALONE_INTENSITY,
                    Duration::from_secs_f64(supervision::DEFAULT_PERIOD_S),
                ),
            );
            (node, RestartType::Temporary)
        };
        let restart = self
            .restart_type(id)
            .unwrap_or(record.restart.unwrap_or(default));
        let file = self.root.actor(id).restart_file();
        if !file.exists()
            && let Err(e) = fsio::write_atomic(&file, format!("{restart}\n").as_bytes())
        {
            warn!("cannot write {}: {e}", file.display());
        }
        self.supervising.tree.attach(id, &node, restart);
    }

    /// Actors found exited at start (and how they ended) whose restart was due when the last
    /// supervisor stopped are started again.
    pub(crate) fn restart_due_after_restore(&mut self, exited: Vec<(ActorId, bool)>) {
        for (id, abnormal) in exited {
            if self.restart_due(&id, abnormal) {
                self.restart_one(
                    &id,
                    None,
                    "it had exited, and its restart was due when the last supervisor stopped",
                );
            }
        }
    }

    /// Whether an actor found exited at start is to be started again: its restart type says
    /// so for how it ended, and its node has not given up.
    pub(crate) fn restart_due(&self, id: &ActorId, abnormal: bool) -> bool {
        let restart = self.restart_now(id);
        let node_down = self
            .supervising
            .tree
            .node_of(id)
            .and_then(|n| self.supervising.tree.node(n))
            .is_some_and(|n| n.record.down.is_some());
        restart.restarts_after(abnormal) && !node_down
    }

    /// The actor's restart type now: its `restart` file, else the one it was enrolled with.
    fn restart_now(&self, id: &ActorId) -> RestartType {
        self.restart_type(id)
            .or_else(|| self.supervising.tree.restart_of(id))
            .unwrap_or(RestartType::Temporary)
    }

    /// The restart type in the actor's `restart` file, as a person may have changed it.
    fn restart_type(&self, id: &ActorId) -> Option<RestartType> {
        let file = self.root.actor(id).restart_file();
        let word = self.read_word(&file)?;
        word.parse()
            .inspect_err(|e| warn!("{}: {e}; using the one it was spawned with", file.display()))
            .ok()
    }

    fn read_word(&self, path: &std::path::Path) -> Option<String> {
        match self.intake.read(path, "setting") {
            Read::Bytes(bytes) => Some(String::from_utf8_lossy(&bytes).trim().to_owned()),
            Read::Gone | Read::Refused(_) => None,
        }
    }

    /// Watches the folders through which an actor spawns, monitors and links.
    pub(crate) fn watch_supervision_dirs(&mut self, id: &ActorId) {
        let dir = self.root.actor(id);
        for (path, watched) in [
            (
                dir.spawn_dir(),
                crate::events::Watched::Children(id.clone()),
            ),
            (
                dir.monitors_dir(),
                crate::events::Watched::Monitors(id.clone()),
            ),
            (dir.links_dir(), crate::events::Watched::Links(id.clone())),
        ] {
            let made = fsio::create_private_dir(&path).map_err(anyhow::Error::from);
            if let Err(e) = made.and_then(|()| self.events.watch(&path, watched)) {
                warn!("{id}: {e:#}");
            }
        }
        let watches = [dir.monitors_dir(), dir.links_dir()]
            .iter()
            .any(|d| fsio::names(d).is_ok_and(|n| !n.is_empty()));
        if watches {
            self.supervising.watchers.insert(id.clone());
        }
    }

    // ----- trees ----------------------------------------------------------------------------

    /// Applies every tree file (at start).
    pub(crate) fn load_trees(&mut self) {
        let records = fsio::read_json::<SupervisionRecord>(&self.root.supervision_file());
        for name in sorted_names(&self.root.trees_dir()) {
            self.tree_file(&name, true, true);
        }
        if let Ok(records) = records {
            self.supervising.tree.restore_records(records);
        }
        self.save_supervision();
    }

    /// A tree file arrived (`there`) or went away: the running system converges to it. At
    /// `startup` the actors are as the last supervisor left them: none is started again (one
    /// that was running already was), and a node that gave up stays down.
    pub(crate) fn tree_file(&mut self, file: &str, there: bool, startup: bool) {
        let Some(name) = file
            .strip_suffix(".json")
            .filter(|n| ActorId::parse(n).is_ok())
        else {
            return;
        };
        let path = self.root.trees_dir().join(file);
        if !there {
            eos::dead::unexplain(&path);
            for id in self.supervising.tree.remove_node(name) {
                info!("{id} left with the tree {name}");
                self.stop_actor(&id, None);
                self.enroll(&id);
            }
            return self.save_supervision();
        }
        let spec = match self.intake.read(&path, "tree") {
            Read::Gone => return,
            Read::Refused(reason) => Err(reason),
            Read::Bytes(bytes) => serde_json::from_slice::<NodeSpec>(&bytes)
                .map_err(|e| format!("not a valid tree: {e}"))
                .and_then(|spec| spec.check().map(|()| spec)),
        };
        match spec {
            Ok(spec) => {
                eos::dead::unexplain(&path);
                self.apply_node(name, None, &spec, startup);
                self.save_supervision();
            }
            Err(reason) if Origin::Event.maybe_unfinished(&path) => {
                let _ = reason;
            }
            Err(reason) => {
                if eos::dead::explain(&path, &reason).unwrap_or(true) {
                    warn!("trees/{file}: {reason}");
                }
            }
        }
    }

    /// Converges the node `name` (and the nodes in it) to `spec`: actors missing are spawned,
    /// ones there are adopted, ones no longer in it are stopped; a node that gave up starts
    /// again.
    fn apply_node(&mut self, name: &str, parent: Option<&str>, spec: &NodeSpec, startup: bool) {
        let before = self.supervising.tree.actors_under(name);
        let mut node = Node::new(
            Kind::Tree {
                parent: parent.map(str::to_owned),
            },
            spec.strategy,
            spec.intensity,
            Duration::from_secs_f64(spec.period),
        );
        node.backoff = spec.backoff;
        self.supervising.tree.set_node(name, node);
        if let Some(node) = self.supervising.tree.node_mut(name) {
            node.record.down = None;
            node.record.recent_ms.clear();
        }
        let mut order = Vec::new();
        let mut now_in = Vec::new();
        for child in &spec.children {
            match child {
                ChildSpec::Actor(actor) => {
                    self.apply_actor(name, actor, startup);
                    order.push(Child::Actor(actor.id.clone()));
                    now_in.push(actor.id.clone());
                }
                ChildSpec::Node(sub) => {
                    let sub_name = format!("{name}/{}", sub.name.as_deref().unwrap_or_default());
                    self.supervising
                        .tree
                        .add_child(name, Child::Node(sub_name.clone()));
                    self.apply_node(&sub_name, Some(name), sub, startup);
                    order.push(Child::Node(sub_name.clone()));
                    now_in.extend(self.supervising.tree.actors_under(&sub_name));
                }
            }
        }
        self.supervising.tree.order_children(name, &order);
        if parent.is_none() {
            for id in before.iter().filter(|id| !now_in.contains(id)) {
                if self
                    .supervising
                    .tree
                    .node_of(id)
                    .is_some_and(|n| n == name || n.starts_with(&format!("{name}/")))
                {
                    info!("{id} is no longer in the tree {name}: stopped");
                    self.supervising.tree.detach(id);
                    self.stop_actor(id, None);
                }
            }
        }
    }

    fn apply_actor(&mut self, node: &str, spec: &ActorSpec, startup: bool) {
        let id = &spec.id;
        let request = match tree_request(node, spec) {
            Ok(request) => request,
            Err(reason) => return warn!("tree {node}: `{id}`: {reason}"),
        };
        if self.registry.contains(id) {
            // Adopted as it is: its state and mail stay; the tree decides its restart type.
            if let Some(actor) = self.registry.get_mut(id) {
                let mut record = actor.record.clone().unwrap_or_else(|| request.clone());
                record.node = Some(node.to_owned());
                record.restart = Some(spec.restart);
                record.shutdown_ms = Some(spec.shutdown_ms);
                record.poison_after = spec.poison_after;
                if let Err(e) = fsio::write_json_atomic(&actor.dir.spawn_record(), &record) {
                    warn!("{id}: {e:#}");
                }
                actor.record = Some(record);
            }
            let _ = fsio::write_atomic(
                &self.root.actor(id).restart_file(),
                format!("{}\n", spec.restart).as_bytes(),
            );
            self.supervising.tree.attach(id, node, spec.restart);
            if !startup
                && self
                    .registry
                    .get(id)
                    .is_some_and(|a| !a.lifecycle.is_running())
            {
                self.restart_one(id, None, "its tree was applied");
            }
            return;
        }
        if let Err(reason) = self.spawn_actor(request) {
            warn!("tree {node}: cannot spawn `{id}`: {reason}");
        }
    }

    /// Writes `supervision.json`: every node's restarts, and why one gave up.
    pub(crate) fn save_supervision(&self) {
        let records = self.supervising.tree.records();
        if let Err(e) = fsio::write_json_atomic(&self.root.supervision_file(), &records) {
            warn!(
                "cannot write {}: {e:#}",
                self.root.supervision_file().display()
            );
        }
    }

    // ----- exits ----------------------------------------------------------------------------

    /// An actor exited: tell who watches it, apply links, catch a poison message, and let its
    /// node decide.
    /// `status` (exited) is written once the exit is in the journal.
    pub(crate) fn supervise_exit(
        &mut self,
        id: &ActorId,
        reason: &ExitReason,
        status: &ActorStatus,
    ) {
        let (mut abnormal, mut text) = describe(reason);
        let stopped = self.supervising.stopping.remove(id);
        let by_node = stopped.as_ref().is_some_and(|s| s.fail.is_none());
        if let Some(Stopping {
            fail: Some(why), ..
        }) = &stopped
        {
            abnormal = true;
            text = why.clone();
        }
        if by_node {
            text = "stopped by its supervisor".into();
        }
        self.history.emit(Journal::Exit {
            actor: id.to_string(),
            code: match reason {
                ExitReason::Code(code) => Some(*code),
                _ => None,
            },
            signal: match reason {
                ExitReason::Signal(signal) => Some(signal.clone()),
                _ => None,
            },
            reason: Some(text.clone()),
        });
        self.write_status(id, status);
        self.tell_watchers(id, &text, abnormal && !by_node);
        if let Some(hit) = self.breaks_on_exit(id) {
            self.hit_break(hit, id, format!("{id} exited ({text})"));
        }
        if by_node {
            return;
        }
        if abnormal {
            self.check_poison(id);
        } else if let Some(actor) = self.registry.get_mut(id) {
            actor.crashes = None;
        }
        let restart = self.restart_now(id);
        let actions = self
            .supervising
            .tree
            .exited(id, abnormal, restart, unix_ms());
        self.carry_out(actions);
    }

    /// The message an actor was handling when it crashed, if it crashed on it often enough in a
    /// row, goes to `dead/`.
    fn check_poison(&mut self, id: &ActorId) {
        let Some(actor) = self.registry.get_mut(id) else {
            return;
        };
        let Some(message) = actor.slot.message().cloned() else {
            actor.crashes = None;
            return;
        };
        let count = match &actor.crashes {
            Some((m, n)) if *m == message => n + 1,
            _ => 1,
        };
        let limit = actor
            .record
            .as_ref()
            .and_then(|r| r.poison_after)
            .unwrap_or(supervision::DEFAULT_POISON_AFTER);
        if count < limit {
            actor.crashes = Some((message, count));
            return;
        }
        actor.crashes = None;
        actor.slot.finished();
        actor
            .queue
            .expect(layout::CURRENT, crate::events::Change::Left);
        let current = actor.dir.current_file();
        let reason = format!("crashed `{id}` {count} times");
        warn!("{id}: message {message} {reason}: set aside as poison");
        self.intake
            .set_aside_message(&mut self.history, &current, id, &message, &reason);
    }

    /// Down notices for monitors, a parent and trapping links; abnormal exits stop the linked.
    fn tell_watchers(&mut self, id: &ActorId, reason: &str, abnormal: bool) {
        let parent = self
            .registry
            .get(id)
            .and_then(|a| a.record.as_ref())
            .and_then(|r| r.parent.clone());
        let own_links: Vec<ActorId> = fsio::names(&self.root.actor(id).links_dir())
            .unwrap_or_default()
            .iter()
            .filter_map(|n| ActorId::parse(n).ok())
            .collect();
        let mut concerned: BTreeSet<ActorId> = self.supervising.watchers.clone();
        concerned.extend(own_links.iter().cloned());
        concerned.extend(parent.iter().cloned());
        for other in concerned {
            if other == *id || !self.registry.contains(&other) {
                continue;
            }
            let dir = self.root.actor(&other);
            if dir.monitors_dir().join(id.as_str()).exists() {
                self.tell_down(&other, id, reason, "monitor");
            } else if parent.as_ref() == Some(&other) {
                self.tell_down(&other, id, reason, "child");
            }
            let linked = own_links.contains(&other) || dir.links_dir().join(id.as_str()).exists();
            if !linked {
                continue;
            }
            if dir.trap_exits_file().exists() {
                self.tell_down(&other, id, reason, "link");
            } else if abnormal
                && self
                    .registry
                    .get(&other)
                    .is_some_and(|a| a.lifecycle.is_running())
            {
                self.stop_actor(
                    &other,
                    Some(format!("linked to {id}, which exited: {reason}")),
                );
            }
        }
    }

    /// Sends `watcher` a `down` message about `actor`.
    fn tell_down(&mut self, watcher: &ActorId, actor: &ActorId, reason: &str, via: &str) {
        let payload = supervision::down_payload(actor.as_str(), reason, via);
        let envelope = Envelope::new(MessageId::generate(), None, payload);
        if let Err(e) = envelope.post(&self.root, watcher) {
            return warn!("cannot tell {watcher} that {actor} exited: {e:#}");
        }
        self.history.emit(Journal::Down {
            watcher: watcher.to_string(),
            actor: actor.to_string(),
            reason: reason.to_owned(),
            via: via.to_owned(),
        });
    }

    /// A file appeared in `monitors/` or `links/` of `watcher`: if the one it names does not
    /// run, that is known at once.
    pub(crate) fn watch_added(&mut self, watcher: &ActorId, target: &str, link: bool) {
        if layout::is_ignored(target) {
            return;
        }
        self.supervising.watchers.insert(watcher.clone());
        let running = ActorId::parse(target)
            .ok()
            .and_then(|t| self.registry.get(&t))
            .is_some_and(|a| a.lifecycle.is_running());
        if running {
            return;
        }
        let Ok(target) = ActorId::parse(target) else {
            return warn!("{watcher} watches `{target}`, which is not an actor id");
        };
        let traps = self.root.actor(watcher).trap_exits_file().exists();
        if !link || traps {
            let via = if link { "link" } else { "monitor" };
            self.tell_down(watcher, &target, "noproc", via);
        } else {
            self.stop_actor(
                watcher,
                Some(format!("linked to {target}, which does not run")),
            );
        }
    }

    // ----- actions --------------------------------------------------------------------------

    fn carry_out(&mut self, actions: Vec<Action>) {
        if actions.is_empty() {
            return;
        }
        for action in actions {
            match action {
                Action::Stop(ids) => {
                    for id in ids {
                        self.stop_actor(&id, None);
                    }
                }
                Action::Restart {
                    node,
                    actors,
                    attempt,
                    delay_ms,
                } => {
                    // A later decision about the same actors replaces an earlier one.
                    self.supervising
                        .restarts
                        .retain(|r| !r.actors.iter().any(|a| actors.contains(a)));
                    self.supervising.restarts.push(PendingRestart {
                        node,
                        actors,
                        attempt,
                        delay_ms,
                        not_before: Instant::now() + Duration::from_millis(delay_ms),
                    });
                }
                Action::Escalate { node, to } => {
                    warn!("supervision node {node} gave up; its failure goes to {to}");
                    self.supervising.restarts.retain(|r| r.node != node);
                    self.history.emit(Journal::Escalate { node, to });
                }
                Action::Fail { actor, node } => {
                    self.stop_actor(
                        &actor,
                        Some(format!("its children ({node}) failed too often")),
                    );
                }
                Action::GiveUp { node, reason } => {
                    warn!("supervision node {node} gave up: {reason}; its actors stay down");
                    self.supervising.restarts.retain(|r| r.node != node);
                    self.history.emit(Journal::GiveUp { node, reason });
                }
            }
        }
        self.save_supervision();
    }

    /// Asks a running actor to stop: SIGTERM now, SIGKILL after its grace. With `fail`, its exit
    /// is a failure with that reason; without, a stop its node asked for.
    pub(crate) fn stop_actor(&mut self, id: &ActorId, fail: Option<String>) {
        let Some(actor) = self.registry.get(id) else {
            return;
        };
        let Some(process) = actor.lifecycle.process() else {
            return;
        };
        if self.supervising.is_stopping(id) {
            return;
        }
        let grace = actor
            .record
            .as_ref()
            .and_then(|r| r.shutdown_ms)
            .unwrap_or(supervision::DEFAULT_SHUTDOWN_MS);
        if let Err(e) = process.signal(Signal::SIGTERM) {
            warn!("cannot stop {id}: {e}");
        }
        if let Some(actor) = self.registry.get_mut(id) {
            // Nothing more is delivered to it.
            actor.lifecycle.stopping();
        }
        self.supervising.stopping.insert(
            id.clone(),
            Stopping {
                kill_at: Instant::now() + Duration::from_millis(grace),
                fail,
            },
        );
    }

    /// Kills what outstayed its grace and starts what is due; returns when to look again.
    pub(crate) fn supervise_due(&mut self, now: Instant) -> Option<Instant> {
        let mut wake: Option<Instant> = None;
        let mut soon = |t: Instant| wake = Some(wake.map_or(t, |w: Instant| w.min(t)));
        for (id, stopping) in &self.supervising.stopping {
            if stopping.kill_at <= now {
                if let Some(p) = self.registry.get(id).and_then(|a| a.lifecycle.process()) {
                    let _ = p.signal(Signal::SIGKILL);
                }
            } else {
                soon(stopping.kill_at);
            }
        }
        let mut due = Vec::new();
        let mut at = 0;
        while at < self.supervising.restarts.len() {
            let r = &self.supervising.restarts[at];
            let waiting = r.actors.iter().any(|a| self.supervising.is_stopping(a));
            if waiting {
                at += 1;
            } else if r.not_before <= now {
                due.push(self.supervising.restarts.remove(at));
            } else {
                soon(r.not_before);
                at += 1;
            }
        }
        for restart in due {
            for id in &restart.actors {
                if self
                    .registry
                    .get(id)
                    .is_some_and(|a| !a.lifecycle.is_running())
                {
                    self.history.emit(Journal::Restart {
                        actor: id.to_string(),
                        node: Some(restart.node.clone()),
                        attempt: Some(restart.attempt),
                        backoff_ms: Some(restart.delay_ms),
                        reason: None,
                    });
                    self.start_again(id);
                }
            }
        }
        wake
    }

    /// Starts an actor that is not running again (a person asked, or a tree was applied).
    pub(crate) fn restart_one(&mut self, id: &ActorId, node: Option<String>, reason: &str) {
        self.history.emit(Journal::Restart {
            actor: id.to_string(),
            node,
            attempt: None,
            backoff_ms: None,
            reason: Some(reason.to_owned()),
        });
        self.start_again(id);
    }

    /// Starts an actor again with its id, state and mail; the message it was handling is
    /// delivered again, marked as such.
    fn start_again(&mut self, id: &ActorId) {
        let Some(actor) = self.registry.get(id) else {
            return;
        };
        if !actor.slot.is_free() {
            match crate::restore::mark_current_redelivered(&actor.dir.current_file()) {
                Ok(Some((message, payload))) => {
                    self.history.emit(Journal::Deliver {
                        message: message.to_string(),
                        actor: id.to_string(),
                        redelivered: true,
                        payload,
                    });
                }
                Ok(None) => {}
                Err(e) => warn!("{id}: cannot mark its current message as redelivered: {e:#}"),
            }
        }
        self.start(id);
    }

    // ----- actors spawning actors -----------------------------------------------------------

    /// A spawn request in the folder of `parent`: its child, supervised by it.
    pub(crate) fn child_request(&mut self, parent: &ActorId, name: &str, origin: Origin) {
        if !layout::is_request_name(name) {
            return;
        }
        let path = self.root.actor(parent).spawn_dir().join(name);
        let bytes = match self.intake.read(&path, "request") {
            Read::Gone => return,
            Read::Bytes(bytes) => bytes,
            Read::Refused(reason) => {
                return self.intake.set_aside(
                    &mut self.history,
                    &path,
                    Pile::Spawns,
                    name,
                    &reason,
                );
            }
        };
        let mut request: SpawnRequest = match serde_json::from_slice(&bytes) {
            Ok(request) => request,
            Err(_) if origin.maybe_unfinished(&path) => return,
            Err(e) => {
                let reason = format!(
                    "not a valid spawn request: {e}\n{}",
                    crate::spawner::EXPECTED
                );
                return self.intake.set_aside(
                    &mut self.history,
                    &path,
                    Pile::Spawns,
                    name,
                    &reason,
                );
            }
        };
        request.parent = Some(parent.clone());
        request.node = None;
        match self.spawn_actor(request) {
            Ok(_) => {
                let _ = fs::remove_file(&path);
            }
            Err(reason) => {
                self.intake
                    .set_aside(&mut self.history, &path, Pile::Spawns, name, &reason);
            }
        }
    }

    /// Scans every actor's spawn folder (the rescan).
    /// Looks for the spawn requests of the actors `ids` (for children of their own).
    pub(crate) fn scan_children_requests(&mut self, ids: &[ActorId]) {
        for id in ids {
            for name in sorted_names(&self.root.actor(id).spawn_dir()) {
                self.child_request(id, &name, Origin::Scan);
            }
        }
    }
}

/// The spawn request for an actor of a tree file.
fn tree_request(node: &str, spec: &ActorSpec) -> Result<SpawnRequest, String> {
    let (path, args) = match (&spec.program, &spec.script) {
        (Some(program), None) => (program.clone(), spec.args.clone()),
        (None, Some(script)) => {
            let runner = programs::eos_program("script-actor")
                .ok_or("script-actor is not installed beside the supervisor nor on PATH")?;
            let script = std::path::absolute(script).map_err(|e| format!("{script}: {e}"))?;
            let mut args = vec![script.to_string_lossy().into_owned()];
            args.extend(spec.args.iter().cloned());
            (runner.to_string_lossy().into_owned(), args)
        }
        _ => return Err("needs exactly one of `program` and `script`".into()),
    };
    Ok(SpawnRequest {
        path,
        args,
        id: Some(spec.id.clone()),
        state: spec.state.clone(),
        restart: Some(spec.restart),
        shutdown_ms: Some(spec.shutdown_ms),
        poison_after: spec.poison_after,
        node: Some(node.to_owned()),
        ..SpawnRequest::default()
    })
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
