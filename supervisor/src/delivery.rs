//! Delivery: when an actor's `current` is free, the next pending message becomes `current` and
//! the actor gets SIGUSR1.
//!
//! The policy (whether now, which message) is the [`Scheduler`]; the rest of this file moves
//! files and sends signals. A message is checked as it becomes `current`: a person may have
//! edited it in the spool, so one that is not valid JSON yet is left for a moment (an editor
//! may be writing it) and then set aside, and one that is no longer an envelope is wrapped.

use std::fs;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use eos::envelope::normalize;
use eos::journal::Event;
use eos::layout::{self, CURRENT};
use eos::{ActorDir, ActorId, MessageId, Root, fsio, mailbox, numbers};
use log::{debug, warn};
use nix::sys::signal::Signal;
use serde_json::Value;

use crate::actor::{Actor, Current, Process};
use crate::supervisor::{self, Supervisor, modified_within};

/// Longest wait between two checks of whether a starting actor takes SIGUSR1 yet.
const MAX_READY_BACKOFF: Duration = Duration::from_millis(100);

/// First wait before signalling again for a `current` that is still there.
const FIRST_RESIGNAL: Duration = Duration::from_millis(50);

/// A pending message that does not parse and was written this recently may still be being
/// written by an editor: it is left for later instead of being set aside.
const EDIT_SETTLE: Duration = Duration::from_secs(2);

/// The delivery policy: whether an actor may get a message now, and which one.
pub struct Scheduler {
    /// Slow motion: at least this long between two deliveries, system-wide.
    slow_motion: Option<Duration>,
    last_delivery: Option<Instant>,
}

impl Scheduler {
    pub fn new(slow_motion: Option<Duration>) -> Self {
        Scheduler {
            slow_motion,
            last_delivery: None,
        }
    }

    /// Not while the system or the actor is paused (a `paused` file in the root or in the
    /// actor's folder): messages wait as files, and can be stepped or delivered by hand. In
    /// slow motion, not before the pause after the last delivery is over.
    pub fn may_deliver(&self, root: &Root, actor: &ActorDir) -> bool {
        self.slow_motion_due()
            .is_none_or(|due| due <= Instant::now())
            && !root.paused_file().exists()
            && !actor.paused_file().exists()
    }

    /// When slow motion allows the next delivery, if it is on.
    pub fn slow_motion_due(&self) -> Option<Instant> {
        Some(self.last_delivery? + self.slow_motion?)
    }

    pub fn delivered(&mut self) {
        self.last_delivery = Some(Instant::now());
    }

    /// First in, first out: the first name in spool order.
    pub fn next<'a>(&self, _to: &ActorId, pending: &'a [String]) -> Option<&'a str> {
        pending.first().map(String::as_str)
    }
}

/// What became of an attempt to make a pending message `current`.
enum Made {
    Current {
        message: String,
        redelivered: bool,
        payload: Value,
    },
    /// `current` is there already.
    Occupied,
    /// Not valid JSON yet, and written a moment ago: try again later.
    NotYet,
    /// Set aside as a dead letter: try the next one.
    SetAside,
}

impl Supervisor {
    /// Delivers the scheduler's next message to `id` if it is running, ready, free and not
    /// paused.
    pub(crate) fn try_deliver(&mut self, id: &ActorId) {
        let _ = self.deliver(id, None);
    }

    /// Delivers to `id`: the scheduler's choice, or the pending file `chosen` (then even while
    /// paused). Returns the message delivered, if one was.
    pub(crate) fn deliver(
        &mut self,
        id: &ActorId,
        chosen: Option<&str>,
    ) -> Result<Option<(String, Value)>, String> {
        let Some(actor) = self.actors.get_mut(id) else {
            return Err(format!("there is no actor `{id}`"));
        };
        // Busy first: most calls come from our own renames into a busy actor's spool, and this
        // costs no file system look-up.
        if matches!(actor.current, Current::Signalled { .. }) {
            return Ok(None);
        }
        if chosen.is_none() && !self.scheduler.may_deliver(&self.root, &actor.dir) {
            return Ok(None);
        }
        let spool = actor.dir.spool_dir();
        let mut delivered = None;
        match actor.current {
            Current::Signalled { .. } => return Ok(None),
            Current::Unsignalled => {}
            Current::Empty => loop {
                if matches!(actor.process, Process::Stopped) {
                    return Err(format!("`{id}` is not running"));
                }
                let pending = mailbox::pending(&spool)
                    .map_err(|e| format!("cannot read the spool of {id}: {e}"))?;
                let next = match chosen {
                    Some(name) if pending.iter().any(|p| p == name) => name.to_owned(),
                    Some(name) => return Err(format!("`{name}` is not pending for `{id}`")),
                    None => match self.scheduler.next(id, &pending) {
                        Some(next) => next.to_owned(),
                        None => return Ok(None),
                    },
                };
                if !poll_ready(actor) {
                    return Err(format!("`{id}` is starting and cannot take SIGUSR1 yet"));
                }
                match make_current(&self.root, id, &spool, &next, self.config.max_message_bytes) {
                    Made::Current {
                        message,
                        redelivered,
                        payload,
                    } => {
                        debug!("{id}: delivering {next}");
                        actor.handling = Some(message.clone());
                        actor.current = Current::Unsignalled;
                        self.scheduler.delivered();
                        self.journal.record(Event::Deliver {
                            message: message.clone(),
                            actor: id.to_string(),
                            redelivered,
                        });
                        delivered = Some((message, payload));
                        break;
                    }
                    Made::Occupied => {
                        actor.current = Current::Unsignalled;
                        break;
                    }
                    Made::NotYet => return Ok(None),
                    Made::SetAside if chosen.is_some() => {
                        return Err(format!(
                            "`{next}` is not a valid message; it was set aside in dead/"
                        ));
                    }
                    Made::SetAside => continue,
                }
            },
        }
        if poll_ready(actor) {
            signal_current(actor, FIRST_RESIGNAL);
        }
        Ok(delivered)
    }

    /// Signals again the actors whose `current` has waited past its retry time.
    pub(crate) fn resignal_due(&mut self) {
        let now = Instant::now();
        let max = self.config.tick;
        let mut finished = Vec::new();
        for actor in self.actors.values_mut() {
            let Current::Signalled { retry_at, backoff } = actor.current else {
                continue;
            };
            if retry_at > now {
                continue;
            }
            if actor.dir.current_file().exists() {
                debug!("{}: current is still there, signalling again", actor.id);
                signal_current(actor, (backoff * 2).min(max));
            } else {
                // Handled; its file event is still on the way.
                finished.push(actor.id.clone());
            }
        }
        for id in finished {
            self.current_left(&id);
        }
    }

    /// An actor's `current` was deleted or moved away: the actor is done with it. The result
    /// goes to the journal: the new state, or a failure if the message went to `dead/`.
    pub(crate) fn current_left(&mut self, id: &ActorId) {
        self.reconcile_current(id);
        let Some(actor) = self.actors.get_mut(id) else {
            return;
        };
        if actor.current == Current::Empty
            && let Some(message) = actor.handling.take()
        {
            let failed = MessageId::parse(&message).is_ok_and(|m| {
                self.root
                    .dead_dir()
                    .join(layout::dead_letter_name(id, &m))
                    .exists()
            });
            let state = (!failed)
                .then(|| fsio::read_json::<Value>(&actor.dir.state_file()).ok())
                .flatten()
                .map(|s| eos::journal::inline(&s));
            self.journal.record(Event::Result {
                message,
                actor: id.to_string(),
                ok: !failed,
                state,
            });
        }
        self.try_deliver(id);
    }

    /// Makes the in-memory view of `current` match the disk (an event may be stale, or missed).
    pub(crate) fn reconcile_current(&mut self, id: &ActorId) {
        let Some(actor) = self.actors.get_mut(id) else {
            return;
        };
        let on_disk = actor.dir.current_file().exists();
        let stopped = matches!(actor.process, Process::Stopped);
        actor.current = match (actor.current, on_disk) {
            (_, false) => Current::Empty,
            // Whoever was told is gone: the next process must be told again.
            (_, true) if stopped => Current::Unsignalled,
            (Current::Empty, true) => Current::Unsignalled,
            (known, true) => known,
        };
    }

    /// When delivery next needs a look without an event: a starting actor with mail to check
    /// for readiness, a `current` to signal again, or (in slow motion) waiting mail.
    pub(crate) fn next_delivery_check(&self) -> Option<Instant> {
        let slow = self.scheduler.slow_motion_due().filter(|_| {
            self.actors
                .values()
                .any(|a| a.current == Current::Empty && has_mail(a))
        });
        self.actors
            .values()
            .filter_map(|a| match (&a.process, a.current) {
                (_, Current::Signalled { retry_at, .. }) => Some(retry_at),
                (Process::Starting { next_check, .. }, _) if has_mail(a) => Some(*next_check),
                _ => None,
            })
            .chain(slow)
            .min()
    }

    /// In slow motion, once the pause is over: the next delivery, in arrival order.
    pub(crate) fn deliver_slow_motion(&mut self) {
        if self
            .scheduler
            .slow_motion_due()
            .is_none_or(|due| due > Instant::now())
        {
            return;
        }
        let mut waiting: Vec<(String, ActorId)> = self
            .actors
            .values()
            .filter(|a| a.current == Current::Empty)
            .filter_map(|a| {
                let pending = mailbox::pending(&a.dir.spool_dir()).ok()?;
                Some((
                    self.scheduler.next(&a.id, &pending)?.to_owned(),
                    a.id.clone(),
                ))
            })
            .collect();
        waiting.sort();
        for (_, id) in waiting {
            self.try_deliver(&id);
            if self
                .scheduler
                .slow_motion_due()
                .is_some_and(|due| due > Instant::now())
            {
                return;
            }
        }
    }

    /// Delivers to starting actors with mail whose readiness check is due.
    pub(crate) fn poll_starting_actors(&mut self) {
        let now = Instant::now();
        let due: Vec<ActorId> = self
            .actors
            .values()
            .filter(
                |a| matches!(a.process, Process::Starting { next_check, .. } if next_check <= now),
            )
            .filter(|a| has_mail(a))
            .map(|a| a.id.clone())
            .collect();
        for id in due {
            self.try_deliver(&id);
        }
    }
}

/// Whether the actor has something waiting for it (cheap: no directory listing when `current`
/// already says so).
fn has_mail(actor: &Actor) -> bool {
    actor.current != Current::Empty
        || mailbox::pending(&actor.dir.spool_dir()).is_ok_and(|p| !p.is_empty())
}

/// Tells the actor its `current` is there; if it is still there after `backoff`, again.
fn signal_current(actor: &mut Actor, backoff: Duration) {
    let Some(pidfd) = actor.process.pidfd() else {
        return;
    };
    match pidfd.signal(Signal::SIGUSR1) {
        Ok(()) => {
            actor.current = Current::Signalled {
                retry_at: Instant::now() + backoff,
                backoff,
            }
        }
        // It exited; the exit is reaped next and `current` waits for a restart.
        Err(e) => {
            debug!("cannot signal {}: {e}", actor.id);
            actor.current = Current::Unsignalled;
        }
    }
}

/// Whether the actor takes SIGUSR1 now. A starting actor is checked at most at its next check
/// time, with a growing interval, and becomes `Ready` once it catches or blocks the signal.
pub(crate) fn poll_ready(actor: &mut Actor) -> bool {
    let now = Instant::now();
    let Process::Starting {
        pidfd,
        next_check,
        backoff,
    } = &mut actor.process
    else {
        return matches!(actor.process, Process::Ready { .. });
    };
    if now < *next_check {
        return false;
    }
    if pidfd.is_ready_for(Signal::SIGUSR1).unwrap_or(false) {
        let Process::Starting { pidfd, .. } =
            std::mem::replace(&mut actor.process, Process::Stopped)
        else {
            unreachable!("matched Starting above")
        };
        actor.process = Process::Ready { pidfd };
        debug!("{}: ready for SIGUSR1", actor.id);
        return true;
    }
    *next_check = now + *backoff;
    *backoff = (*backoff * 2).min(MAX_READY_BACKOFF);
    false
}

/// Makes the pending message `name` the actor's `current`, checking it on the way.
fn make_current(root: &Root, to: &ActorId, spool: &Path, name: &str, limit: u64) -> Made {
    let path = spool.join(name);
    let current = spool.join(CURRENT);
    let id = layout::pending_message_id(name).unwrap_or_else(MessageId::generate);
    let bytes = match fsio::read_limited(&path, limit) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Made::NotYet,
        Err(e) => {
            return set_aside(
                root,
                to,
                &path,
                &id,
                &format!("the message cannot be read: {e}"),
            );
        }
    };
    let checked = numbers::check_exact(&bytes)
        .map_err(|e| format!("the message cannot be delivered unchanged: {e}"))
        .and_then(|()| {
            serde_json::from_slice::<Value>(&bytes)
                .map_err(|e| format!("the message is not valid JSON: {e}"))
        })
        .and_then(|value| normalize(value, &id));
    let (value, changed) = match checked {
        Ok(ok) => ok,
        Err(_) if recently_written(&path) => return Made::NotYet,
        Err(reason) => return set_aside(root, to, &path, &id, &reason),
    };
    let message = value["id"].as_str().unwrap_or(id.as_str()).to_owned();
    let redelivered = value["redelivered"] == Value::Bool(true);
    let payload = value["payload"].clone();
    let moved = if changed {
        // Edited into something that is not an envelope: wrap it, then let it take the place.
        let tmp = layout::temp_file(&path);
        fsio::write_json_atomic(&tmp, &value)
            .map_err(io::Error::other)
            .and_then(|()| fsio::rename_no_replace(&tmp, &current))
            .and_then(|placed| {
                if placed {
                    fs::remove_file(&path)?;
                } else {
                    fs::remove_file(&tmp)?;
                }
                Ok(placed)
            })
    } else {
        fsio::rename_no_replace(&path, &current)
    };
    match moved {
        Ok(true) => Made::Current {
            message,
            redelivered,
            payload,
        },
        Ok(false) => Made::Occupied,
        Err(e) => {
            warn!("cannot deliver {} to {to}: {e}", path.display());
            Made::NotYet
        }
    }
}

fn recently_written(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| modified_within(&meta, EDIT_SETTLE))
}

fn set_aside(root: &Root, to: &ActorId, path: &Path, id: &MessageId, reason: &str) -> Made {
    supervisor::set_aside(
        path,
        &root.dead_dir(),
        &layout::dead_letter_name(to, id),
        reason,
    );
    Made::SetAside
}
