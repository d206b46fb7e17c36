//! The supervisor's event loop: one thread, fed by signals and file events, with a periodic full
//! rescan (the tick) that catches anything the events missed.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, Metadata};
use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use eos::{ActorId, Root, fsio, journal, layout};
use log::{debug, warn};
use nix::sys::signal::Signal;

use crate::actor::Actor;
use crate::delivery::Scheduler;
use crate::events::{Change, Event, Events, Watched};

/// The journal, as the supervisor writes it: a failure to write is reported once and does not
/// stop the system.
pub struct Journal {
    writer: Option<journal::Writer>,
    failed: bool,
}

impl Journal {
    pub fn open(root: &Root, max_bytes: u64) -> Self {
        let writer = journal::Writer::open(root, max_bytes)
            .inspect_err(|e| warn!("the journal cannot be opened, nothing is recorded: {e}"))
            .ok();
        Journal {
            writer,
            failed: false,
        }
    }

    pub fn record(&mut self, event: journal::Event) {
        if let Some(writer) = &mut self.writer
            && let Err(e) = writer.record(event)
            && !std::mem::replace(&mut self.failed, true)
        {
            warn!("cannot write to the journal: {e}");
        }
    }
}

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
}

/// How a file came to the supervisor's attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A file event: the file was closed after writing or renamed in, so it is complete.
    Event,
    /// A rescan: the file may still be being written by someone.
    Scan,
}

impl Origin {
    /// Whether unreadable content may just be unfinished: found by a scan and written to within
    /// the last few seconds. Such a file is left for its closing event or a later scan.
    pub fn maybe_unfinished(self, meta: &Metadata) -> bool {
        self == Origin::Scan && modified_within(meta, Duration::from_secs(5))
    }
}

/// Whether a file was written less than `age` ago.
pub fn modified_within(meta: &Metadata, age: Duration) -> bool {
    meta.modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .is_some_and(|elapsed| elapsed < age)
}

/// Moves `path` into `dir` as `name` with its reason beside it, and says so in the log. A file
/// already gone is nothing to set aside.
pub fn set_aside(path: &Path, dir: &Path, name: &str, reason: &str) {
    match eos::dead::set_aside(path, dir, name, reason) {
        Ok(landed) => warn!("set aside {}: {reason}", landed.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => log::error!("cannot set {} aside ({reason}): {e}", path.display()),
    }
}

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
    pub(crate) actors: BTreeMap<ActorId, Actor>,
    pub(crate) by_pid: HashMap<u32, ActorId>,
    pub(crate) scheduler: Scheduler,
    pub(crate) journal: Journal,
    /// The next spool sequence number: spool names sort in delivery order.
    pub(crate) next_seq: u64,
    /// Set once the supervisor is stopping.
    pub(crate) stopping: Option<Stop>,
}

impl Supervisor {
    /// Reads a file found in `send/` or `spawn/` (`what` it should be, for the error).
    /// `Ok(None)`: nothing to read (gone, or not a regular file).
    pub(crate) fn read_candidate(
        &self,
        path: &Path,
        what: &str,
    ) -> Result<Option<(Metadata, Vec<u8>)>, String> {
        let Some(meta) = regular_file(path) else {
            return Ok(None);
        };
        match fsio::read_limited(path, self.config.max_message_bytes) {
            Ok(bytes) => Ok(Some((meta, bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("the {what} cannot be read: {e}")),
        }
    }

    pub fn new(root: Root, config: Config) -> Result<Self> {
        let mut events = Events::new()?;
        events.watch(root.path(), Watched::Root)?;
        events.watch(&root.spawn_dir(), Watched::Spawn)?;
        events.watch(&root.send_dir(), Watched::Send)?;
        events.watch(&root.dead_dir(), Watched::Dead)?;
        events.watch(&root.rejected_spawn_dir(), Watched::DeadSpawn)?;
        events.watch(&root.control_dir(), Watched::Control)?;
        let journal = Journal::open(&root, config.journal_max_bytes);
        let scheduler = Scheduler::new(config.slow_motion);
        Ok(Supervisor {
            journal,
            root,
            config,
            events,
            actors: BTreeMap::new(),
            by_pid: HashMap::new(),
            scheduler,
            next_seq: 0,
            stopping: None,
        })
    }

    /// Brings back what is on disk, then runs until SIGTERM or SIGINT and shuts down.
    pub fn run(mut self) -> Result<()> {
        self.restore()?;
        self.rescan();
        let mut next_tick = Instant::now() + self.config.tick;
        loop {
            let wake = self
                .next_delivery_check()
                .map_or(next_tick, |t| t.min(next_tick));
            let events = self
                .events
                .wait(Some(wake.saturating_duration_since(Instant::now())))?;
            for event in events {
                if let ControlFlow::Break(stop) = self.handle(event) {
                    return self.shutdown(stop);
                }
            }
            self.poll_starting_actors();
            self.resignal_due();
            self.deliver_slow_motion();
            if Instant::now() >= next_tick {
                self.rescan();
                next_tick = Instant::now() + self.config.tick;
            }
        }
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
            Event::Signal(_) | Event::Overflow => self.rescan(),
            Event::File { dir, name, change } => match (dir, change) {
                (Watched::Spawn, Change::Arrived) => self.spawn_request(&name, Origin::Event),
                (Watched::Send, Change::Arrived) => self.route(&name, Origin::Event),
                (Watched::Spool(id), Change::Left) if name == layout::CURRENT => {
                    self.current_left(&id)
                }
                (Watched::Spool(id), Change::Arrived) => self.try_deliver(&id),
                (Watched::Root, change) if name == layout::PAUSED => self.paused(None, change),
                (Watched::Actor(id), change) if name == layout::PAUSED => {
                    self.paused(Some(id), change)
                }
                (Watched::Dead, Change::Arrived) => self.dead_letter_seen(&name, false),
                (Watched::DeadSpawn, Change::Arrived) => self.dead_letter_seen(&name, true),
                (Watched::Control, Change::Arrived) => self.control_request(&name),
                _ => {}
            },
        }
        ControlFlow::Continue(())
    }

    /// A `paused` file appeared or went away, in the root (`None`) or an actor's folder.
    fn paused(&mut self, actor: Option<ActorId>, change: Change) {
        let who = actor.as_ref().map(ToString::to_string);
        match change {
            Change::Arrived => self.journal.record(journal::Event::Pause { actor: who }),
            Change::Left => {
                self.journal.record(journal::Event::Resume { actor: who });
                let ids: Vec<ActorId> = match actor {
                    Some(id) => vec![id],
                    None => self.actors.keys().cloned().collect(),
                };
                for id in ids {
                    self.try_deliver(&id);
                }
            }
        }
    }

    /// A reason appeared in `dead/` (or `dead/spawn/`): the journal records the dead letter.
    fn dead_letter_seen(&mut self, name: &str, spawn: bool) {
        let Some(letter) = layout::explained_by(name) else {
            return;
        };
        let dir = if spawn {
            self.root.rejected_spawn_dir()
        } else {
            self.root.dead_dir()
        };
        let reason = eos::dead::read_reason(&dir.join(name)).unwrap_or_default();
        let (actor, message) = match layout::parse_dead_letter_name(letter) {
            Some((actor, message)) if !spawn => {
                (Some(actor.to_string()), Some(message.to_string()))
            }
            _ => (None, None),
        };
        let file = if spawn {
            format!("spawn/{letter}")
        } else {
            letter.to_owned()
        };
        self.journal.record(journal::Event::Dead {
            file,
            actor,
            message,
            reason,
        });
    }

    /// Looks at everything again: new spawn requests, messages in `send/`, and each actor's
    /// spool (a `current` deleted without our noticing, messages a person put there).
    pub(crate) fn rescan(&mut self) {
        self.scan_spawn_dir();
        self.scan_send_dir();
        let ids: Vec<ActorId> = self.actors.keys().cloned().collect();
        for id in ids {
            self.reconcile_current(&id);
            self.try_deliver(&id);
        }
    }
}

/// The names in `dir`, sorted (files are handled in name order); none, with an error logged,
/// when it cannot be read.
pub fn sorted_names(dir: &std::path::Path) -> Vec<String> {
    match eos::fsio::names(dir) {
        Ok(mut names) => {
            names.sort_unstable();
            names
        }
        Err(e) => {
            log::error!("cannot read {}: {e}", dir.display());
            Vec::new()
        }
    }
}

/// Whether the file at `path` is a regular file; `None` when it is gone.
pub fn regular_file(path: &std::path::Path) -> Option<Metadata> {
    fs::symlink_metadata(path).ok().filter(Metadata::is_file)
}
