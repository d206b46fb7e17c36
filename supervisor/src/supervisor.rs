//! The supervisor's event loop: one thread, fed by signals and file events, with a periodic full
//! rescan (the tick) that catches anything the events missed. It owns the components and is the
//! only place that combines them: it dispatches each event to the component it concerns, asks
//! the policy what to deliver, and applies the answer.

use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use eos::journal::Event as Journal;
use eos::layout::{self, CURRENT, PAUSED};
use eos::spawn_request::SpawnRequest;
use eos::status::{ActorStatus, unix_now};
use eos::{ActorId, Envelope, MessageId, Root, envelope, fsio};
use log::{debug, error, info, warn};
use nix::sys::signal::Signal;
use serde_json::Value;

use crate::breaks::{Breaks, Hit};
use crate::check::Checks;
use crate::delivery::{self, Placed};
use crate::events::{Change, Event, Events, Watched};
use crate::faults::{Effect, Faults};
use crate::history::History;
use crate::intake::{Intake, Origin, Pile, Read, sorted_names};
use crate::lifecycle::{ExitReason, Lifecycle};
use crate::policy::{Decision, Fifo, Paused, Policy, SlowMotion};
use crate::queue::{Pending, Seen, Settled};
use crate::registry::{Actor, Registry};
use crate::router::{self, Refused, Router};
use crate::spin;
use crate::stuck::{Look, Stuck};
use crate::supervise::Supervising;
use crate::{process, restore, spawner};

pub struct Config {
    /// How often everything is rescanned.
    pub tick: Duration,
    /// How long actors get to exit at shutdown before SIGKILL.
    pub grace: Duration,
    /// Larger messages and spawn requests are set aside.
    pub max_message_bytes: u64,
    /// The journal is rotated when it grows past this.
    pub journal_max_bytes: u64,
    /// At least this long between two deliveries, to watch messages flow.
    pub slow_motion: Option<Duration>,
    /// Every payload kept in full; nothing delivered that cannot be recorded.
    pub record: bool,
    /// How long before an actor or the system is reported as stuck.
    pub stuck_after: Duration,
    /// Timers (and delays) fire only when nothing else can be delivered, earliest first: runs
    /// with timers reproduce.
    pub virtual_time: bool,
}

/// The field a copy made by a `duplicate` fault rule carries: the id of the original.
const DUPLICATE_OF: &str = "duplicate_of";

/// The policy beneath the pauses: FIFO, in slow motion when asked.
pub(crate) fn base_policy(slow_motion: Option<Duration>) -> Box<dyn Policy> {
    match slow_motion {
        Some(interval) => Box::new(SlowMotion::new(Fifo, interval)),
        None => Box::new(Fifo),
    }
}

/// How many actors' folders the periodic rescan looks at, in turn (besides those of the
/// actors handling a message, looked at every tick): file events tell of every change as it
/// happens, and an overflow of their queue rescans everything, so the tick only catches what
/// was missed; with thousands of idle actors, looking at every folder every tick would be most
/// of what the supervisor does.
const RECONCILED_PER_TICK: usize = 50;

/// How the supervisor stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM or SIGINT: as in the original EOS, the actors' folders are removed.
    Clean,
    /// SIGQUIT: the actors are stopped but everything stays on disk, and the next supervisor
    /// on this root starts them again.
    Keep,
}

pub struct Supervisor {
    pub(crate) root: Root,
    pub(crate) config: Config,
    pub(crate) events: Events,
    pub(crate) registry: Registry,
    pub(crate) intake: Intake,
    router: Router,
    pub(crate) policy: Paused<Box<dyn Policy>>,
    pub(crate) history: History,
    /// Set once the supervisor is stopping.
    pub(crate) stopping: Option<Stop>,
    /// Actors whose `current` was renamed away in this batch of events, by the rename's
    /// cookie: if the other half of the rename lands in `dead/`, the message failed.
    moved_away: Vec<(u32, ActorId)>,
    pub(crate) supervising: Supervising,
    /// The rescan interval and slow motion it was started with (`eos tick reset`).
    pub(crate) started_pace: (Duration, Option<Duration>),
    /// Actors with messages routed in this turn, maybe still in `send/`.
    routed: Vec<ActorId>,
    /// The fault rules in force.
    faults: Faults,
    /// The breakpoints in force.
    breaks: Breaks,
    /// What is watched for being stuck.
    stuck: Stuck,
    /// The invariants.
    pub(crate) checks: Checks,
    /// When the loop last polled (and so read signals).
    last_poll: Instant,
    /// When the quiet sleep ended whose events this turn handles (see [`spin::Pace`]).
    slept_until: Option<Instant>,
}

impl Supervisor {
    pub fn new(root: Root, config: Config) -> Result<Self> {
        let mut events = Events::new()?;
        spin::give_way_to_woken_actors();
        events.watch(root.path(), Watched::Root)?;
        events.watch(&root.spawn_dir(), Watched::Spawn)?;
        events.watch(&root.send_dir(), Watched::Send)?;
        events.watch(&root.dead_dir(), Watched::Dead)?;
        events.watch(&root.rejected_spawn_dir(), Watched::DeadSpawn)?;
        events.watch(&root.control_dir(), Watched::Control)?;
        events.watch(&root.trees_dir(), Watched::Trees)?;
        events.watch(&root.faults_dir(), Watched::Faults)?;
        events.watch(&root.breakpoints_dir(), Watched::Breakpoints)?;
        events.watch(&root.invariants_dir(), Watched::Invariants)?;
        let history = History::open(&root, config.journal_max_bytes, config.record);
        let base = base_policy(config.slow_motion);
        let started_pace = (config.tick, config.slow_motion);
        Ok(Supervisor {
            intake: Intake::new(&root, config.max_message_bytes),
            history,
            root,
            config,
            events,
            registry: Registry::default(),
            router: Router::default(),
            policy: Paused::new(base),
            stopping: None,
            moved_away: Vec::new(),
            supervising: Supervising::default(),
            started_pace,
            last_poll: Instant::now(),
            slept_until: None,
            routed: Vec::new(),
            faults: Faults::default(),
            breaks: Breaks::default(),
            stuck: Stuck::default(),
            checks: Checks::default(),
        })
    }

    /// Brings back what is on disk, then runs until SIGTERM, SIGINT or SIGQUIT and shuts down.
    pub fn run(mut self) -> Result<()> {
        self.load_faults();
        self.replaying();
        self.load_breakpoints();
        self.load_invariants();
        let exited = self.restore()?;
        self.load_trees();
        self.restart_due_after_restore(exited);
        self.rescan();
        crate::root::Claim::ready(&self.root)?;
        let mut next_tick = Instant::now() + self.config.tick;
        loop {
            let now = Instant::now();
            let wake = [self.supervise_due(now), self.deliver_due(now)]
                .into_iter()
                .flatten()
                .fold(next_tick, Instant::min);
            self.settle_routed();
            self.history.flush();
            let events = self.wait(wake)?;
            for event in events {
                if let ControlFlow::Break(stop) = self.handle(event) {
                    return self.shutdown(stop);
                }
            }
            self.settle_queues();
            for (_, id) in std::mem::take(&mut self.moved_away) {
                // The other half of the rename did not come in this batch (it may be in the
                // next read): `dead/` says whether it failed.
                self.current_done(&id, None);
            }
            if Instant::now() >= next_tick {
                self.look_around(Some(RECONCILED_PER_TICK));
                next_tick = Instant::now() + self.config.tick;
            }
        }
    }

    /// Waits for events until `wake`. Mail that came for busy, slow actors (see
    /// [`spin::Pace::mail_waits_until`]) is kept, in order, and handled with what comes next.
    fn wait(&mut self, wake: Instant) -> Result<Vec<Event>> {
        let (mut kept, mut until) = (Vec::new(), wake);
        loop {
            // Echoes of what was kept are read already.
            let events = self.wait_once(until, !kept.is_empty())?;
            let can_wait =
                spin::can_wait(&events, |id| self.registry.get(id)?.pace.mail_waits_until())
                    .filter(|&t| t > Instant::now());
            kept.extend(events);
            match can_wait {
                Some(t) => until = until.min(t),
                None => return Ok(kept),
            }
        }
    }

    /// Waits for events until `wake`: first looking without a poll for the ones that are
    /// there or due, then asleep.
    fn wait_once(&mut self, wake: Instant, kept: bool) -> Result<Vec<Event>> {
        self.slept_until = None;
        let quiet = self
            .registry
            .iter()
            .filter(|a| !a.slot.is_free())
            .filter_map(|a| a.pace.quiet_until())
            .min()
            .map(|t| t.min(wake))
            .filter(|&t| t > Instant::now());
        let events = self.look(quiet.is_some() || kept)?;
        if !events.is_empty() {
            return Ok(events);
        }
        let now = Instant::now();
        if let Some(quiet) = quiet.filter(|&t| t > now) {
            // Asleep to signals only until a slow actor's answer is due, then everything
            // that came meanwhile in one read.
            self.last_poll = now;
            let mut events = self.events.wait_signals(quiet - now)?;
            events.extend(self.events.read_now()?);
            self.slept_until = Some(quiet);
            if !events.is_empty() {
                return Ok(events);
            }
        }
        self.last_poll = Instant::now();
        self.events
            .wait(Some(wake.saturating_duration_since(self.last_poll)))
    }

    /// Reads file events at the moments they are likely there, without polling: a read costs
    /// one syscall where a poll and a read cost two. Those moments are when a quick actor's
    /// answer is due (see [`spin`]); and, if there is none, now when this turn's own renames
    /// have an echo queued, unless `echo_read` (a quiet sleep's read takes it, or it was
    /// read with events kept for later). Only a poll reads signals, so at least one comes
    /// every [`spin::POLL_AT_LEAST`].
    fn look(&mut self, echo_read: bool) -> Result<Vec<Event>> {
        let start = Instant::now();
        if start.duration_since(self.last_poll) > spin::POLL_AT_LEAST {
            return Ok(Vec::new());
        }
        let mut looks = Vec::new();
        let mut echo = false;
        for actor in self.registry.iter() {
            echo |= actor.queue.awaits_echo();
            if !actor.slot.is_free() {
                looks.extend(actor.pace.removal_due());
                looks.extend(actor.pace.looks());
            }
        }
        if echo && looks.is_empty() && !echo_read {
            // Read now, or the poll would return at once for it: otherwise the next look, or
            // the read after a quiet sleep, takes it with what else came.
            looks.push(start);
        }
        looks.sort();
        let mut looked: Option<Instant> = None;
        for at in looks {
            if looked.is_some_and(|l| at <= l) {
                continue;
            }
            while Instant::now() < at {
                std::hint::spin_loop();
            }
            let events = self.events.read_now()?;
            if !events.is_empty() {
                return Ok(events);
            }
            looked = Some(Instant::now());
        }
        Ok(Vec::new())
    }

    fn handle(&mut self, event: Event) -> ControlFlow<Stop> {
        debug!("{event:?}");
        match event {
            Event::Signal(Signal::SIGTERM | Signal::SIGINT) => {
                return ControlFlow::Break(Stop::Clean);
            }
            Event::Signal(Signal::SIGQUIT) => return ControlFlow::Break(Stop::Keep),
            Event::Signal(Signal::SIGUSR1) => self.scan_spawn_dir(),
            Event::Signal(Signal::SIGCHLD) => self.reap(),
            Event::Signal(Signal::SIGHUP | Signal::SIGUSR2) | Event::Overflow => self.rescan(),
            Event::Signal(other) => debug!("ignoring {other}"),
            Event::File {
                dir,
                name,
                change,
                cookie,
            } => match (dir, change) {
                (Watched::Spawn, Change::Arrived) => self.spawn_request(&name, Origin::Event),
                (Watched::Send, Change::Arrived) => self.route(&name, Origin::Event),
                (Watched::Spool(id), change) => self.spool_event(&id, &name, change, cookie),
                (Watched::Root, change) if name == PAUSED => self.paused(None, change),
                (Watched::Root, _) if name == layout::REPLAYING => self.replaying(),
                (Watched::Actor(id), change) if name == PAUSED => self.paused(Some(id), change),
                (Watched::Actor(id), Change::Arrived) if name == layout::STATE => {
                    self.state_written(&id)
                }
                (Watched::Actor(id), Change::Left) if name == layout::SPOOL => {
                    if let Some(actor) = self.registry.get_mut(&id) {
                        warn!("the spool of {id} was removed or moved; its mail waits in send/");
                        actor.spool_ok = false;
                    }
                }
                (Watched::Dead, Change::Arrived) => {
                    if let Some(at) = self.moved_away.iter().position(|(c, _)| *c == cookie) {
                        let (_, id) = self.moved_away.remove(at);
                        self.current_done(&id, Some(true));
                    }
                    self.intake.seen(&mut self.history, Pile::Messages, &name)
                }
                (Watched::DeadSpawn, Change::Arrived) => {
                    self.intake.seen(&mut self.history, Pile::Spawns, &name)
                }
                (Watched::Control, Change::Arrived) => self.control_request(&name),
                (Watched::Children(id), Change::Arrived) => {
                    self.child_request(&id, &name, Origin::Event)
                }
                (Watched::Monitors(id), Change::Arrived) => self.watch_added(&id, &name, false),
                (Watched::Links(id), Change::Arrived) => self.watch_added(&id, &name, true),
                (Watched::Trees, change) => self.tree_file(&name, change == Change::Arrived, false),
                (Watched::Faults, _)
                    if !layout::is_ignored(&name) && layout::explained_by(&name).is_none() =>
                {
                    self.load_faults()
                }
                (Watched::Breakpoints, _)
                    if !layout::is_ignored(&name) && layout::explained_by(&name).is_none() =>
                {
                    self.load_breakpoints()
                }
                (Watched::Invariants, _) if name.ends_with(".rn") && !layout::is_ignored(&name) => {
                    self.load_invariants()
                }
                _ => {}
            },
        }
        ControlFlow::Continue(())
    }

    // ----- delivery -------------------------------------------------------------------------

    /// Delivers whatever the policy chooses until it waits; returns when to look again without
    /// an event (a readiness check, a message held back, the policy's wait).
    fn deliver_due(&mut self, now: Instant) -> Option<Instant> {
        let mut wake: Option<Instant> = None;
        let mut soon = |t: Instant| wake = Some(wake.map_or(t, |w: Instant| w.min(t)));
        for actor in self.registry.iter_mut() {
            let has_mail = !actor.slot.is_free() || !actor.queue.is_empty();
            if has_mail && !actor.lifecycle.poll_ready(now) {
                if let Some(t) = actor.lifecycle.next_check() {
                    soon(t);
                }
                continue;
            }
            // A `current` restored, put there by hand, or left for a process that exited.
            if actor.slot.needs_signal()
                && let Some(t) = actor.signal()
            {
                soon(t);
            }
            if let Some(t) = actor.held_until {
                if t > now {
                    soon(t);
                } else {
                    actor.held_until = None;
                }
            }
            // Held back by a fault rule.
            if let Some(t) = actor.queue.next_release(now) {
                soon(t);
            }
        }
        if self.history.blocks_delivery() {
            soon(now + Duration::from_millis(500));
            return wake;
        }
        loop {
            let decision = {
                let enabled = self.registry.enabled(Some(now));
                self.policy.choose(now, &enabled)
            };
            match decision {
                Decision::Deliver { actor, file } => {
                    if self.break_before(&actor, &file) {
                        // Paused now: the policy sees it.
                        continue;
                    }
                    if !self.deliver(&actor, &file, now) {
                        // Nothing was placed: the actor is held back, or its queue changed.
                        continue;
                    }
                    // The time it was placed, after its journal entry: slow motion's spacing
                    // then holds between the entries too.
                    self.policy.delivered(Instant::now());
                }
                Decision::WaitUntil(t) => {
                    soon(t);
                    return wake;
                }
                Decision::Idle if self.config.virtual_time && self.advance_virtual_time() => {}
                Decision::Idle => return wake,
            }
        }
    }

    /// Virtual time: nothing can be delivered, so time moves to the held message due first,
    /// which is released. Not while something is being handled or delivery is paused. Returns
    /// whether one was.
    fn advance_virtual_time(&mut self) -> bool {
        if self.policy.is_paused(None) || self.registry.iter().any(|a| !a.slot.is_free()) {
            return false;
        }
        let next = self
            .registry
            .iter()
            .filter(|a| a.lifecycle.is_ready() && !self.policy.is_paused(Some(&a.id)))
            .filter_map(|a| {
                let (t, file) = a.queue.earliest_held()?;
                Some((t, a.id.clone(), file.to_owned()))
            })
            .min();
        let Some((_, id, file)) = next else {
            return false;
        };
        let Some(actor) = self.registry.get_mut(&id) else {
            return false;
        };
        let message = actor
            .queue
            .get(&file)
            .map(|p| p.message.to_string())
            .unwrap_or_default();
        actor.queue.release(&file);
        self.history.emit(Journal::TimeAdvanced {
            actor: id.to_string(),
            message,
        });
        true
    }

    /// An exit breakpoint for `id`, if one is hit.
    pub(crate) fn breaks_on_exit(&self, id: &ActorId) -> Option<Hit> {
        self.breaks.on_exit(id.as_str())
    }

    /// Whether a breakpoint stops the delivery of `file` to `id` (and pauses).
    fn break_before(&mut self, id: &ActorId, file: &str) -> bool {
        if self.breaks.is_empty() {
            return false;
        }
        let Some(pending) = self.registry.get(id).and_then(|a| a.queue.get(file)) else {
            return false;
        };
        let Some(envelope) = pending.envelope.as_ref() else {
            return false;
        };
        let message = pending.message.to_string();
        let from = envelope.sender.as_ref().map(ActorId::as_str);
        let Some(hit) = self
            .breaks
            .before_delivery(&message, from, id.as_str(), &envelope.payload)
        else {
            return false;
        };
        let detail = format!(
            "before delivering {message} from {} to {id}",
            from.unwrap_or("(outside)")
        );
        self.hit_break(hit, id, detail);
        true
    }

    /// Places `file` as the actor's `current` and signals it. Returns whether a message was
    /// delivered.
    fn deliver(&mut self, id: &ActorId, file: &str, now: Instant) -> bool {
        let Some(actor) = self.registry.get_mut(id) else {
            return false;
        };
        let watched = !self.faults.is_empty();
        let sender = watched
            .then(|| {
                actor
                    .queue
                    .get(file)
                    .and_then(|p| p.envelope.as_ref()?.sender.clone())
            })
            .flatten();
        match delivery::place(
            actor,
            file,
            &mut self.intake,
            &mut self.history,
            now,
            watched,
            // In virtual time the clock in the file means nothing: time moved on to it.
            !self.config.virtual_time,
        ) {
            Placed::Delivered { message, payload } => {
                // A slow actor may be told a moment later: the loop's next turn does.
                let _ = actor.signal();
                self.breaks.delivered(message.as_str());
                if watched {
                    let from = sender.as_ref().map(ActorId::as_str);
                    if let Some(rule) =
                        self.faults
                            .on_deliver(message.as_str(), from, id.as_str(), &payload)
                    {
                        self.crash_fault(&rule, id, &message);
                    }
                }
                true
            }
            Placed::Occupied => {
                // Someone put a `current` there: it is handled first.
                self.current_arrived(id);
                false
            }
            Placed::NotBefore(t) => {
                actor.held_until = Some(t);
                false
            }
            Placed::NotDue(t) => {
                actor.queue.hold(file, t);
                false
            }
            Placed::SetAside { .. } | Placed::Gone => false,
        }
    }

    /// The actor is done with `current`: the result goes to the history, with the new state,
    /// or as a failure if the message went to `dead/`. `failed`: known from the file events
    /// (deleted, or renamed into `dead/`); `None`: found gone by a look, so `dead/` is asked.
    fn current_done(&mut self, id: &ActorId, failed: Option<bool>) {
        let Some(actor) = self.registry.get_mut(id) else {
            return;
        };
        let Some(message) = actor.slot.finished() else {
            return;
        };
        actor.pace.finished(seen(self.slept_until));
        actor.crashes = None;
        let failed = failed.unwrap_or_else(|| {
            self.root
                .dead_dir()
                .join(layout::dead_letter_name(id, &message))
                .exists()
        });
        let state = if failed {
            None
        } else {
            let state = read_state(&self.intake, &actor.dir.state_file());
            actor.state.clone_from(&state);
            state
        };
        if let Some(state) = &state
            && !self.breaks.is_empty()
            && let Some(hit) = self.breaks.after_state(id.as_str(), state)
        {
            let detail = format!("the state of {id} came to match, after {message}");
            self.hit_break(hit, id, detail);
        }
        if !failed {
            self.check_invariants(id, message.as_str());
        }
        self.history.emit(Journal::Result {
            message: message.to_string(),
            actor: id.to_string(),
            ok: !failed,
            state,
        });
    }

    /// A `current` appeared that the supervisor did not place: a person put it there, and it
    /// is delivered as it is.
    fn current_arrived(&mut self, id: &ActorId) {
        let Some(actor) = self.registry.get_mut(id) else {
            return;
        };
        if !actor.slot.is_free() {
            return;
        }
        let current = actor.dir.current_file();
        let fresh = MessageId::generate();
        let envelope = match self.intake.read(&current, "message") {
            Read::Bytes(bytes) => envelope::check(&bytes, &fresh).ok().map(|(e, _)| e),
            Read::Gone => return,
            Read::Refused(reason) => {
                // A FIFO, a link, a device: not for the actor to open.
                actor.queue.expect(CURRENT, Change::Left);
                self.intake
                    .set_aside_message(&mut self.history, &current, id, &fresh, &reason);
                return;
            }
        };
        // What the actor makes of it is its own business: a file that is not a message is
        // recorded with no payload, and the actor sets it aside.
        let envelope = envelope.unwrap_or_else(|| Envelope::new(fresh.clone(), None, Value::Null));
        let message = envelope.id_or(&fresh);
        info!("{id}: a `current` was put there by hand; delivering it");
        actor.slot.place(message.clone());
        actor.delivered_since_start = true;
        self.history.emit(Journal::Deliver {
            message: message.to_string(),
            actor: id.to_string(),
            redelivered: envelope.redelivered,
            payload: envelope.payload,
        });
    }

    // ----- spools: the queue index and changes made by hand ----------------------------------

    fn spool_event(&mut self, id: &ActorId, name: &str, change: Change, cookie: u32) {
        let Some(actor) = self.registry.get_mut(id) else {
            return;
        };
        if name == CURRENT {
            if actor.queue.was_expected(CURRENT, change) {
                return;
            }
            if change == Change::Left && actor.queue.left_before_placed() {
                // Its result is recorded already; the new one's is still to come.
                debug!("{id}: a `current` found gone by the rescan left");
                return;
            }
            match change {
                Change::Left if cookie != 0 => self.moved_away.push((cookie, id.clone())),
                Change::Left => self.current_done(id, Some(false)),
                Change::Arrived => self.current_arrived(id),
            }
            return;
        }
        if !layout::is_pending_name(name) {
            return;
        }
        match actor.queue.event(name, change, cookie) {
            Seen::Nothing => {}
            Seen::Added { file } => self.hand_added(id, &file),
            Seen::Rewritten { file, before } => self.hand_rewritten(id, &file, before),
        }
    }

    /// A message a person put into a spool: indexed and recorded; a copy of a waiting message
    /// gets an id of its own, so that the two can be told apart.
    fn hand_added(&mut self, id: &ActorId, file: &str) {
        let Some(actor) = self.registry.get_mut(id) else {
            return;
        };
        let path = actor.dir.spool_dir().join(file);
        let name_id = layout::pending_message_id(file).unwrap_or_else(MessageId::generate);
        let bytes = match self.intake.read(&path, "message") {
            Read::Gone => return,
            Read::Bytes(bytes) => bytes,
            Read::Refused(reason) => {
                self.intake
                    .set_aside_message(&mut self.history, &path, id, &name_id, &reason);
                return;
            }
        };
        let Ok((mut envelope, shape)) = envelope::check(&bytes, &name_id) else {
            // Not a valid message (yet): it is looked at again when its turn comes.
            actor
                .queue
                .insert_found(file.to_owned(), Pending::unread(name_id));
            return;
        };
        let mut message = envelope.id_or(&name_id);
        let copied = actor.queue.has_message(&message) || actor.slot.message() == Some(&message);
        let copy_of = copied.then(|| {
            let original = std::mem::replace(&mut message, MessageId::generate());
            envelope.id = Some(message.clone());
            original.to_string()
        });
        self.history.emit(Journal::PendingAdded {
            actor: id.to_string(),
            file: file.to_owned(),
            message: message.to_string(),
            payload: envelope.payload.clone(),
            copy_of: copy_of.clone(),
        });
        let exact = !shape.rewritten() && copy_of.is_none();
        actor
            .queue
            .insert_found(file.to_owned(), Pending::read(message, envelope, exact));
    }

    /// A pending message was written again: what changed is recorded (once it is valid; until
    /// then it is read again when its turn comes).
    fn hand_rewritten(&mut self, id: &ActorId, file: &str, before: Pending) {
        let Some(actor) = self.registry.get_mut(id) else {
            return;
        };
        let path = actor.dir.spool_dir().join(file);
        let checked = match self.intake.read(&path, "message") {
            Read::Bytes(bytes) => envelope::check(&bytes, &before.message).ok(),
            Read::Gone | Read::Refused(_) => None,
        };
        let Some((mut envelope, shape)) = checked else {
            actor.queue.invalidate(file);
            return;
        };
        let before_payload = before.envelope.as_ref().map(|e| &e.payload);
        if before_payload != Some(&envelope.payload) {
            self.history.emit(Journal::PendingEdited {
                actor: id.to_string(),
                file: file.to_owned(),
                message: before.message.to_string(),
                before: before_payload.cloned().unwrap_or(Value::Null),
                after: envelope.payload.clone(),
            });
        }
        // It keeps the id it had in the queue (a copy's own, say).
        let exact = !shape.rewritten() && envelope.id.as_ref() == Some(&before.message);
        envelope.id = Some(before.message.clone());
        actor.queue.insert_found(
            file.to_owned(),
            Pending::read(before.message, envelope, exact),
        );
    }

    /// After a batch of events: messages that left spools by hand are recorded.
    fn settle_queues(&mut self) {
        for actor in self.registry.iter_mut() {
            for settled in actor.queue.settle() {
                self.history.emit(settled_event(&actor.id, settled));
            }
        }
    }

    /// `state.json` was written. While the actor handles a message, that is the actor's (its
    /// result records it); otherwise someone else wrote it, and the change is recorded.
    fn state_written(&mut self, id: &ActorId) {
        let Some(actor) = self.registry.get_mut(id) else {
            return;
        };
        if !actor.slot.is_free() {
            // The actor's own result: the removal of its `current` follows.
            actor.pace.state_arrived(seen(self.slept_until));
            return;
        }
        let Some(after) = read_state(&self.intake, &actor.dir.state_file()) else {
            return;
        };
        if actor.state.as_ref() == Some(&after) {
            return;
        }
        let before = actor.state.replace(after.clone());
        if !actor.delivered_since_start && actor.lifecycle.is_running() {
            // Its own first state (a script's `init()`), written before any message.
            return;
        }
        self.history.emit(Journal::StateEdited {
            actor: id.to_string(),
            before,
            after: after.clone(),
        });
    }

    /// A `paused` file appeared or went away, in the root (`None`) or an actor's folder.
    pub(crate) fn paused(&mut self, actor: Option<ActorId>, change: Change) {
        let paused = change == Change::Arrived;
        if self.policy.set(actor.as_ref(), paused) {
            let actor = actor.map(|a| a.to_string());
            self.history.emit(if paused {
                Journal::Pause { actor }
            } else {
                Journal::Resume { actor }
            });
        }
    }

    // ----- routing and spawning -------------------------------------------------------------

    fn scan_send_dir(&mut self) {
        for name in sorted_names(&self.root.send_dir()) {
            self.route(&name, Origin::Scan);
        }
    }

    /// Routes the file `name` in `send/`.
    fn route(&mut self, name: &str, origin: Origin) {
        let path = self.root.send_dir().join(name);
        let (to, id) = match layout::parse_send_name(name) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return,
            Err(reason) => {
                if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
                    self.dead(&path, name, &reason);
                }
                return;
            }
        };
        if self
            .registry
            .get(&to)
            .is_some_and(|a| a.queue.has_unmoved(&path))
        {
            // A second event for a file routed in this turn.
            return;
        }
        let bytes = match self.intake.read(&path, "message") {
            Read::Gone => return,
            Read::Bytes(bytes) => bytes,
            Read::Refused(reason) => return self.dead(&path, name, &reason),
        };
        let (mut envelope, shape) = match envelope::check(&bytes, &id) {
            Ok(checked) => checked,
            Err(_) if origin.maybe_unfinished(&path) => return,
            Err(reason) => return self.dead(&path, name, &reason),
        };
        let mut rewrite = shape.rewritten();
        // A timer given as "in so many ms" is kept with the time it is due, which the file
        // in the spool then shows.
        if let Some(delay) = envelope.extra.remove(envelope::DELAY_MS) {
            let ms = delay.as_u64().unwrap_or(0);
            let due = eos::clock::now_us() / 1000 + ms;
            envelope
                .extra
                .insert(envelope::DUE.into(), Value::from(due));
            rewrite = true;
        }
        let due = envelope.due_ms();
        if let Some(sender) = envelope
            .sender
            .as_ref()
            .and_then(|s| self.registry.get_mut(s))
        {
            // What it sends is the first sign of its answer, often before its state.
            sender.pace.sent(seen(self.slept_until));
        }
        let Some(actor) = self.registry.get_mut(&to) else {
            let reason = if self.registry.is_empty() {
                format!("there is no actor `{to}` (no actors exist)")
            } else {
                format!(
                    "there is no actor `{to}`; known actors: {}",
                    self.registry.known()
                )
            };
            return self.dead(&path, name, &reason);
        };
        if !actor.spool_ok {
            // Its spool is gone or not a folder: the message waits here until it is back.
            return;
        }
        let message = envelope.id_or(&id);
        let bare = shape == envelope::Shape::Bare;
        let sent = Journal::Send {
            message: message.to_string(),
            from: envelope.sender.as_ref().map(ToString::to_string),
            to: to.to_string(),
            cause: envelope.cause.as_ref().map(ToString::to_string),
            payload: envelope.payload.clone(),
            bare,
        };
        let effects = if self.faults.is_empty() {
            Vec::new()
        } else {
            let copy = envelope.extra.contains_key(DUPLICATE_OF);
            let from = envelope.sender.as_ref().map(ActorId::as_str);
            self.faults
                .on_route(message.as_str(), from, to.as_str(), &envelope.payload, copy)
        };
        if let [Effect::Drop { rule, kind }] = &effects[..] {
            self.history.emit(sent);
            self.fault_fired(rule, kind.as_str(), &message, &to, None);
            let reason = format!(
                "dropped by the fault rule `{rule}` ({}); move it back into send/ to resend it",
                kind.as_str()
            );
            return self.dead(&path, name, &reason);
        }
        let copy_of_this = (!effects.is_empty()).then(|| envelope.clone());
        let Some(actor) = self.registry.get_mut(&to) else {
            return;
        };
        match self.router.accept(actor, &path, &id, envelope, rewrite) {
            Ok(file) => {
                self.history.emit(sent);
                self.history.emit(Journal::Route {
                    message: message.to_string(),
                    to: to.to_string(),
                    file: file.clone(),
                });
                if let Some(envelope) = copy_of_this {
                    self.apply_faults(effects, &to, &file, &message, envelope);
                }
                if let Some(due) = due {
                    let now_ms = eos::clock::now_us() / 1000;
                    if due > now_ms
                        && let Some(actor) = self.registry.get_mut(&to)
                    {
                        actor
                            .queue
                            .hold(&file, Instant::now() + Duration::from_millis(due - now_ms));
                    }
                }
                if !self.routed.contains(&to) {
                    self.routed.push(to);
                }
            }
            Err(Refused::Later) => {
                warn!("no room to route {name} now (is the disk full?); it waits in send/");
            }
            Err(Refused::Never(reason)) => self.dead(&path, name, &reason),
        }
    }

    /// Messages routed in this turn and not delivered go from `send/` into their spool.
    pub(crate) fn settle_routed(&mut self) {
        for id in std::mem::take(&mut self.routed) {
            let Some(actor) = self.registry.get_mut(&id) else {
                continue;
            };
            for (file, message, why) in router::settle(actor) {
                match why {
                    // Gone from `send/` before it was moved: removed by someone.
                    None => {
                        self.history.emit(Journal::PendingDeleted {
                            actor: id.to_string(),
                            file,
                            message: message.to_string(),
                        });
                    }
                    // It stays in `send/`; the next rescan routes it again.
                    Some(e) => warn!("{id}: cannot move {file} into the spool: {e}"),
                }
            }
        }
    }

    /// Fault rules rest while `eos replay` drives the root: it replays the recorded faults.
    pub(crate) fn replaying(&mut self) {
        let replaying = self.root.replaying_file().exists();
        if self.faults.rest(replaying) {
            info!(
                "fault rules {} (eos replay)",
                if replaying { "rest" } else { "apply again" }
            );
        }
    }

    /// Reads every rule in `faults/` again: the next message obeys the new set.
    pub(crate) fn load_faults(&mut self) {
        let rules = self.read_rules(
            &self.root.faults_dir(),
            "fault rule",
            |r: &eos::faults::Rule| r.check(),
        );
        if !rules.is_empty() {
            info!("{} fault rule(s) in force", rules.len());
        }
        self.faults.set(rules);
    }

    /// Reads every breakpoint in `breakpoints/` again.
    pub(crate) fn load_breakpoints(&mut self) {
        let points = self.read_rules(
            &self.root.breakpoints_dir(),
            "breakpoint",
            eos::breakpoints::Breakpoint::check,
        );
        self.breaks.set(points);
    }

    /// The JSON files of a folder of rules, by name. A file that is not one gets a `.reason`
    /// beside it (written when it changes) and is left out.
    fn read_rules<T: serde::de::DeserializeOwned>(
        &self,
        dir: &Path,
        what: &str,
        check: impl Fn(&T) -> Result<(), String>,
    ) -> std::collections::BTreeMap<String, T> {
        let mut rules = std::collections::BTreeMap::new();
        for file in sorted_names(dir) {
            let Some(name) = file.strip_suffix(".json") else {
                continue;
            };
            let path = dir.join(&file);
            let rule = match self.intake.read(&path, what) {
                Read::Gone => continue,
                Read::Refused(reason) => Err(reason),
                Read::Bytes(bytes) => serde_json::from_slice::<T>(&bytes)
                    .map_err(|e| format!("not a {what}: {e}"))
                    .and_then(|r| check(&r).map(|()| r)),
            };
            match rule {
                Ok(rule) => {
                    eos::dead::unexplain(&path);
                    rules.insert(name.to_owned(), rule);
                }
                Err(reason) => {
                    if eos::dead::explain(&path, &reason).unwrap_or(true) {
                        warn!("{}: {reason}", path.display());
                    }
                }
            }
        }
        rules
    }

    /// A breakpoint was hit: delivery pauses (for everything, or for `actor`) with the ordinary
    /// `paused` file, which says which breakpoint and why; a one-shot breakpoint goes.
    pub(crate) fn hit_break(&mut self, (name, scope): Hit, actor: &ActorId, detail: String) {
        let who = (scope == eos::breakpoints::Scope::Actor).then(|| actor.clone());
        let file = match &who {
            Some(id) => self.root.actor(id).paused_file(),
            None => self.root.paused_file(),
        };
        // A one-shot breakpoint is gone before anyone sees the pause it made.
        if self.breaks.is_once(&name) {
            let _ = std::fs::remove_file(self.root.breakpoints_dir().join(format!("{name}.json")));
        }
        info!("breakpoint {name} hit: {detail}");
        self.history.emit(Journal::Break {
            breakpoint: name.clone(),
            actor: actor.to_string(),
            only_actor: who.is_some(),
            detail: detail.clone(),
        });
        self.paused(who, Change::Arrived);
        // Whoever sees the pause finds why in the journal already.
        self.history.flush();
        let said = format!("breakpoint `{name}`: {detail}\n");
        if let Err(e) = fsio::write_atomic(&file, said.as_bytes()) {
            warn!("cannot write {}: {e}", file.display());
        }
    }

    fn fault_fired(
        &mut self,
        rule: &str,
        kind: &str,
        message: &MessageId,
        to: &ActorId,
        detail: Option<String>,
    ) {
        self.history.emit(Journal::Fault {
            rule: rule.to_owned(),
            kind: kind.to_owned(),
            message: Some(message.to_string()),
            actor: to.to_string(),
            detail,
        });
        if let Some(hit) = self.breaks.on_fault(rule, to.as_str()) {
            let detail = format!("the fault rule `{rule}` ({kind}) fired on {message} to {to}");
            self.hit_break(hit, to, detail);
        }
    }

    /// Carries out what fault rules do to a message just routed as `file`.
    fn apply_faults(
        &mut self,
        effects: Vec<Effect>,
        to: &ActorId,
        file: &str,
        message: &MessageId,
        envelope: Envelope,
    ) {
        for effect in effects {
            match effect {
                Effect::Delay { rule, kind, ms } => {
                    if let Some(actor) = self.registry.get_mut(to) {
                        actor
                            .queue
                            .hold(file, Instant::now() + Duration::from_millis(ms));
                    }
                    self.fault_fired(&rule, kind.as_str(), message, to, Some(format!("{ms} ms")));
                }
                Effect::Duplicate { rule, copies } => {
                    let mut made = Vec::new();
                    for _ in 0..copies {
                        let mut copy = envelope.clone();
                        let id = MessageId::generate();
                        copy.id = Some(id.clone());
                        copy.extra
                            .insert(DUPLICATE_OF.into(), Value::String(message.to_string()));
                        match copy.post(&self.root, to) {
                            Ok(_) => made.push(id.to_string()),
                            Err(e) => warn!("fault rule {rule}: cannot write a copy: {e:#}"),
                        }
                    }
                    let detail = format!("copies {}", made.join(", "));
                    self.fault_fired(&rule, "duplicate", message, to, Some(detail));
                }
                Effect::Crash { rule } => self.crash_fault(&rule, to, message),
                Effect::Drop { .. } => {}
            }
        }
    }

    /// A crash fault: the actor is killed (SIGKILL), as a crash would.
    fn crash_fault(&mut self, rule: &str, id: &ActorId, message: &MessageId) {
        self.fault_fired(rule, "crash", message, id, Some("SIGKILL".into()));
        if let Some(p) = self.registry.get(id).and_then(|a| a.lifecycle.process())
            && let Err(e) = p.signal(Signal::SIGKILL)
        {
            warn!("fault rule {rule}: cannot kill {id}: {e}");
        }
    }

    fn dead(&mut self, path: &Path, name: &str, reason: &str) {
        self.intake
            .set_aside(&mut self.history, path, Pile::Messages, name, reason);
    }

    pub(crate) fn scan_spawn_dir(&mut self) {
        for name in sorted_names(&self.root.spawn_dir()) {
            self.spawn_request(&name, Origin::Scan);
        }
    }

    /// Handles the file `name` in `spawn/`.
    fn spawn_request(&mut self, name: &str, origin: Origin) {
        if !layout::is_request_name(name) {
            return;
        }
        let path = self.root.spawn_dir().join(name);
        let refuse = |this: &mut Self, reason: &str| {
            this.intake
                .set_aside(&mut this.history, &path, Pile::Spawns, name, reason);
        };
        let bytes = match self.intake.read(&path, "request") {
            Read::Gone => return,
            Read::Bytes(bytes) => bytes,
            Read::Refused(reason) => return refuse(self, &reason),
        };
        let request: SpawnRequest = match serde_json::from_slice(&bytes) {
            Ok(request) => request,
            Err(_) if origin.maybe_unfinished(&path) => return,
            Err(e) => {
                let reason = format!("not a valid spawn request: {e}\n{}", spawner::EXPECTED);
                return refuse(self, &reason);
            }
        };
        match self.spawn_actor(request) {
            Ok(id) => {
                // The request is consumed: what it said is kept as the actor's spawn.json.
                if let Err(e) = std::fs::remove_file(&path) {
                    warn!("cannot remove the spawn request {}: {e}", path.display());
                }
                info!("spawned {id} from {name}");
            }
            Err(reason) => refuse(self, &reason),
        }
    }

    /// Makes, records, supervises and starts an actor from a request.
    pub(crate) fn spawn_actor(&mut self, request: SpawnRequest) -> Result<ActorId, String> {
        let (id, record) = spawner::accept(&self.root, &self.registry, request)?;
        let state = record.state.clone().unwrap_or(Value::Null);
        self.history.emit(Journal::Spawn {
            actor: id.to_string(),
            program: record.path.clone(),
            args: record.args.clone(),
            parent: record.parent.as_ref().map(ToString::to_string),
            state: state.clone(),
        });
        let mut actor = self.adopt(id.clone(), Some(record), 0);
        actor.state = Some(state);
        self.registry.insert(actor);
        self.enroll(&id);
        self.start(&id);
        Ok(id)
    }

    /// An actor whose folder exists, its folders watched, not yet started.
    pub(crate) fn adopt(
        &mut self,
        id: ActorId,
        record: Option<SpawnRequest>,
        starts: u32,
    ) -> Actor {
        let dir = self.root.actor(&id);
        let watched = self
            .events
            .watch(&dir.spool_dir(), Watched::Spool(id.clone()))
            .and_then(|()| self.events.watch(dir.path(), Watched::Actor(id.clone())));
        if let Err(e) = watched {
            error!("{e:#}; deliveries to {id} wait for the next rescan");
        }
        self.watch_supervision_dirs(&id);
        let mut actor = Actor {
            id,
            dir,
            record,
            lifecycle: Lifecycle::exited(ExitReason::Found),
            slot: crate::slot::Slot::Free,
            queue: Default::default(),
            starts,
            state: None,
            delivered_since_start: false,
            held_until: None,
            spool_ok: true,
            crashes: None,
            pace: Default::default(),
        };
        actor.queue.virtual_time = self.config.virtual_time;
        actor.check_spool();
        actor
    }

    // ----- processes ------------------------------------------------------------------------

    /// Writes `status.json`, after the journal: a start or an exit that a person (or a test)
    /// can see must already be in the history, even if the supervisor is killed right after.
    pub(crate) fn write_status(&mut self, id: &ActorId, status: &ActorStatus) {
        self.history.flush();
        if let Err(e) = fsio::write_json_atomic(&self.root.actor(id).status_file(), status) {
            warn!("cannot write the status of {id}: {e:#}");
        }
    }

    /// Starts the actor's process from its record; the outcome goes to `status.json`.
    pub(crate) fn start(&mut self, id: &ActorId) {
        let Some(actor) = self.registry.get_mut(id) else {
            return;
        };
        actor.starts += 1;
        actor.delivered_since_start = false;
        let launched = match &actor.record {
            None => {
                Err("spawn.json is missing or unreadable, so the actor cannot be started".into())
            }
            Some(record) => process::launch(&self.root, id, record)
                .map_err(|e| format!("starting {} failed: {e}", record.path)),
        };
        let status = match launched {
            Ok(pidfd) => {
                let pid = pidfd.pid();
                if let Err(e) =
                    fsio::write_atomic(&actor.dir.pid_file(), format!("{pid}\n").as_bytes())
                {
                    warn!("cannot write the .pid of {id}: {e}");
                }
                actor.lifecycle = Lifecycle::started(Box::new(pidfd), Instant::now());
                info!("started {id} (pid {pid})");
                let status = ActorStatus::Running {
                    pid,
                    since: unix_now(),
                    starts: actor.starts,
                };
                self.registry.started(pid, id);
                status
            }
            Err(error) => {
                error!("cannot start {id}: {error}");
                actor.lifecycle = Lifecycle::exited(ExitReason::CannotStart(error.clone()));
                ActorStatus::Failed {
                    error,
                    at: unix_now(),
                    starts: actor.starts,
                }
            }
        };
        self.write_status(id, &status);
    }

    /// Collects every exited child: actors are marked exited; anything else (an orphan adopted
    /// as a subreaper) is just reaped.
    pub(crate) fn reap(&mut self) {
        use nix::errno::Errno;
        use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
        loop {
            let (pid, reason) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, ExitReason::Code(code)),
                Ok(WaitStatus::Signaled(pid, signal, _)) => {
                    (pid, ExitReason::Signal(signal.as_str().to_owned()))
                }
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Ok(_) => continue,
                Err(e) => return error!("waitpid: {e}"),
            };
            if let Some(id) = self.registry.reaped(pid.as_raw() as u32) {
                self.exited(&id, reason);
            }
        }
    }

    fn exited(&mut self, id: &ActorId, reason: ExitReason) {
        let running: Vec<u32> = self.registry.pids();
        let left = process::kill_leftovers(&self.root, Some(id), &running);
        if left > 0 {
            warn!("{id} left {left} process(es) behind: killed");
        }
        let Some(actor) = self.registry.get_mut(id) else {
            return;
        };
        actor.lifecycle.exit(reason.clone());
        actor.slot.process_gone();
        // `.pid` first: whoever reads "exited" finds no PID to signal.
        let _ = std::fs::remove_file(actor.dir.pid_file());
        if self.stopping == Some(Stop::Keep) {
            // Stopped on purpose, to be started again by the next supervisor.
            let status = ActorStatus::Stopped {
                at: unix_now(),
                starts: actor.starts,
            };
            self.write_status(id, &status);
            return;
        }
        let (code, signal) = match &reason {
            ExitReason::Code(code) => (Some(*code), None),
            ExitReason::Signal(signal) => (None, Some(signal.clone())),
            _ => (None, None),
        };
        match (&code, &signal) {
            (_, Some(signal)) => warn!("{id} was killed by {signal}"),
            (Some(0), _) => info!("{id} exited"),
            (code, _) => warn!("{id} exited with code {}", code.unwrap_or(-1)),
        }
        let status = ActorStatus::Exited {
            code,
            signal: signal.clone(),
            at: unix_now(),
            starts: actor.starts,
        };
        if self.stopping.is_some() {
            self.history.emit(Journal::Exit {
                actor: id.to_string(),
                code,
                signal,
                reason: Some("the supervisor stopped".into()),
            });
            self.write_status(id, &status);
        } else {
            self.supervise_exit(id, &reason, &status);
        }
    }

    // ----- the rescan -----------------------------------------------------------------------

    /// Looks at everything again: new spawn requests, messages in `send/`, dead letters, pauses,
    /// and each actor's spool (files a person added, removed or renamed; a `current` deleted
    /// without our noticing).
    /// Looks at everything on disk, every actor's folder included: at start, when the event
    /// queue overflowed, and when asked (SIGHUP, SIGUSR2).
    pub(crate) fn rescan(&mut self) {
        self.look_around(None);
    }

    /// Looks at the root's folders, and at the folders of `actors` of them (all when `None`)
    /// in turn.
    fn look_around(&mut self, actors: Option<usize>) {
        // What this turn routed is in the spools first, or the listing of `send/` would route
        // it again.
        self.settle_routed();
        let ids = match actors {
            // And every actor handling a message: the end of its turn is what a missed event
            // (an unwatched spool, past the kernel's limit of watches) would hold up.
            Some(most) => {
                let mut ids = self.registry.next_round(most);
                let busy: Vec<ActorId> = (self.registry.iter())
                    .filter(|a| !a.slot.is_free() && !ids.contains(&a.id))
                    .map(|a| a.id.clone())
                    .collect();
                ids.extend(busy);
                ids
            }
            None => self.registry.ids(),
        };
        self.scan_spawn_dir();
        self.scan_children_requests(&ids);
        self.scan_send_dir();
        self.settle_routed();
        self.intake.rescan(&mut self.history);
        self.replaying();
        let all = self.root.paused_file().exists();
        if self.policy.is_paused(None) != all {
            self.paused(None, if all { Change::Arrived } else { Change::Left });
        }
        for id in &ids {
            self.reconcile(id);
        }
        let queues: Vec<(String, u64)> = self
            .registry
            .iter()
            .map(|a| (a.id.to_string(), a.queue.len() as u64))
            .collect();
        self.history.sample_metrics(queues);
        self.look_for_stuck();
    }

    /// Reports, once each, an actor handling one message too long, a queue that only grows,
    /// and mail waiting while nothing is delivered and nothing is paused.
    fn look_for_stuck(&mut self) {
        let looks: Vec<Look> = self
            .registry
            .iter()
            .filter(|a| a.lifecycle.is_running())
            .map(|a| Look {
                actor: a.id.to_string(),
                handling: a.slot.message().map(ToString::to_string),
                queue: a.queue.len() as u64,
                paused: self.policy.is_paused(Some(&a.id)),
            })
            .collect();
        let delivered = self.history.deliveries();
        for (actors, what) in
            self.stuck
                .look(Instant::now(), self.config.stuck_after, delivered, &looks)
        {
            warn!("stuck: {what}");
            self.history.emit(Journal::Stuck { actors, what });
        }
    }

    fn reconcile(&mut self, id: &ActorId) {
        let Some(actor) = self.registry.get_mut(id) else {
            return;
        };
        if !actor.spool_ok {
            if !actor.check_spool() {
                return;
            }
            info!("the spool of {id} is a folder again");
            let spool = actor.dir.spool_dir();
            if let Err(e) = self.events.watch(&spool, Watched::Spool(id.clone())) {
                error!("{e:#}");
            }
        }
        let Some(actor) = self.registry.get_mut(id) else {
            return;
        };
        let paused = actor.dir.paused_file().exists();
        let current = actor.dir.current_file().exists();
        let (added, gone) = actor
            .queue
            .reconcile(router::listing(&actor.dir.spool_dir()));
        for settled in gone {
            self.history.emit(settled_event(id, settled));
        }
        for file in added {
            self.hand_added(id, &file);
        }
        let was_paused = self.policy.is_paused(Some(id)) && !self.policy.is_paused(None);
        if was_paused != paused {
            self.paused(
                Some(id.clone()),
                if paused {
                    Change::Arrived
                } else {
                    Change::Left
                },
            );
        }
        let free = self.registry.get(id).is_some_and(|a| a.slot.is_free());
        match (free, current) {
            (false, false) => self.current_done(id, None),
            (true, true) => self.current_arrived(id),
            _ => {}
        }
    }

    // ----- restore --------------------------------------------------------------------------

    /// Brings back the actors found in `running/`: the ones that were running are started again
    /// with the same id, state and mailbox; an interrupted `current` is delivered again, marked
    /// and recorded as redelivered.
    fn restore(&mut self) -> Result<Vec<(ActorId, bool)>> {
        // What a killed supervisor's actors left behind (their children outlive them).
        let left = process::kill_leftovers(&self.root, None, &[]);
        if left > 0 {
            warn!("killed {left} process(es) left behind by actors of the last supervisor");
        }
        let mut not_running = Vec::new();
        let mut exited = Vec::new();
        for found in restore::found(&self.root)? {
            let mut actor = self.adopt(found.id.clone(), found.record, found.starts);
            actor.state = found.state;
            for (file, pending) in found.pending {
                actor.queue.insert_found(file, pending);
            }
            let id = found.id;
            if let Some((message, payload)) = found.current {
                actor.slot.place(message.clone());
                self.history.emit(Journal::Deliver {
                    message: message.to_string(),
                    actor: id.to_string(),
                    redelivered: true,
                    payload: payload.clone(),
                });
            }
            self.registry.insert(actor);
            self.enroll(&id);
            if found.was_running {
                info!("restoring {id}");
                self.history.emit(Journal::Restart {
                    actor: id.to_string(),
                    node: None,
                    attempt: None,
                    backoff_ms: None,
                    reason: Some("the supervisor started again".into()),
                });
                self.start(&id);
                if let Some(actor) = self.registry.get_mut(&id) {
                    // A redelivered message counts as a delivery to the new process.
                    actor.delivered_since_start = !actor.slot.is_free();
                }
            } else {
                let _ = std::fs::remove_file(self.root.actor(&id).pid_file());
                if let Some(abnormal) = found.exit_abnormal {
                    exited.push((id.clone(), abnormal));
                }
                not_running.push(id.to_string());
            }
        }
        if !not_running.is_empty() {
            warn!(
                "found {} actor(s) that had exited or could not start: {}; start one again \
                 with `eos restart ID` (its state and mail are kept)",
                not_running.len(),
                not_running.join(", ")
            );
        }
        self.router = Router::new(&self.registry);
        Ok(exited)
    }
}

fn settled_event(id: &ActorId, settled: Settled) -> Journal {
    match settled {
        Settled::Moved { from, to, message } => Journal::PendingMoved {
            actor: id.to_string(),
            from,
            to,
            message: message.to_string(),
        },
        Settled::Deleted { file, message } => Journal::PendingDeleted {
            actor: id.to_string(),
            file,
            message: message.to_string(),
        },
    }
}

/// Now, in the turn that handles what a quiet sleep until `slept_until` let pile up.
fn seen(slept_until: Option<Instant>) -> spin::Seen {
    spin::Seen {
        at: Instant::now(),
        slept_until,
    }
}

/// An actor's state, bounded like any file others write; `None` when it cannot be read.
fn read_state(intake: &Intake, path: &Path) -> Option<Value> {
    match intake.read(path, "state") {
        Read::Bytes(bytes) => serde_json::from_slice(&bytes).ok(),
        Read::Gone | Read::Refused(_) => None,
    }
}
