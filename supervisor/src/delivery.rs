//! Delivery: when an actor's `current` is free, the next pending message becomes `current` and
//! the actor gets SIGUSR1.
//!
//! The policy (which message, whether now) is the [`Scheduler`]; the rest of this file moves
//! files and sends signals. Pausing, stepping and choosing the order plug into the scheduler.

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use eos::layout::CURRENT;
use eos::{ActorId, fsio, mailbox};
use log::{debug, warn};
use nix::sys::signal::Signal;

use crate::actor::{Actor, Current, Process};
use crate::supervisor::Supervisor;

/// Longest wait between two checks of whether a starting actor takes SIGUSR1 yet.
const MAX_READY_BACKOFF: Duration = Duration::from_millis(100);

/// First wait before signalling again for a `current` that is still there.
const FIRST_RESIGNAL: Duration = Duration::from_millis(50);

/// The delivery policy: which pending message an actor gets next.
pub struct Scheduler;

impl Scheduler {
    /// First in, first out: the first name in spool order.
    pub fn next<'a>(&self, _to: &ActorId, pending: &'a [String]) -> Option<&'a str> {
        pending.first().map(String::as_str)
    }
}

impl Supervisor {
    /// Delivers the next message to `id` if it is running, ready and not busy.
    pub(crate) fn try_deliver(&mut self, id: &ActorId) {
        let Some(actor) = self.actors.get_mut(id) else {
            return;
        };
        let spool = actor.dir.spool_dir();
        match actor.current {
            Current::Signalled { .. } => return,
            Current::Unsignalled => {}
            Current::Empty => {
                if matches!(actor.process, Process::Stopped) {
                    return;
                }
                let pending = match mailbox::pending(&spool) {
                    Ok(pending) => pending,
                    Err(e) => {
                        warn!("cannot read the spool of {id}: {e}");
                        return;
                    }
                };
                let Some(next) = self.scheduler.next(id, &pending) else {
                    return;
                };
                if !poll_ready(actor) {
                    return;
                }
                match make_current(&spool, next) {
                    Ok(true) => debug!("{id}: delivering {next}"),
                    // A `current` is there already (placed by hand?): signal for it instead.
                    Ok(false) => {}
                    Err(e) => {
                        warn!("cannot deliver {next} to {id}: {e}");
                        return;
                    }
                }
                actor.current = Current::Unsignalled;
            }
        }
        if !poll_ready(actor) {
            return;
        }
        signal_current(actor, FIRST_RESIGNAL);
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

    /// An actor's `current` was deleted or moved away: the actor is done with it.
    pub(crate) fn current_left(&mut self, id: &ActorId) {
        self.reconcile_current(id);
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
    /// for readiness, or a `current` to signal again.
    pub(crate) fn next_delivery_check(&self) -> Option<Instant> {
        self.actors
            .values()
            .filter_map(|a| match (&a.process, a.current) {
                (_, Current::Signalled { retry_at, .. }) => Some(retry_at),
                (Process::Starting { next_check, .. }, _) if has_mail(a) => Some(*next_check),
                _ => None,
            })
            .min()
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
fn poll_ready(actor: &mut Actor) -> bool {
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

/// Renames a pending message to `current`, unless a `current` is there (then `Ok(false)`).
fn make_current(spool: &Path, name: &str) -> io::Result<bool> {
    fsio::rename_no_replace(&spool.join(name), &spool.join(CURRENT))
}
