//! The actor registry: every actor the supervisor knows, with its components (lifecycle,
//! delivery slot, queue), and which process belongs to which actor.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use eos::spawn_request::SpawnRequest;
use eos::{ActorDir, ActorId};
use serde_json::Value;

use crate::lifecycle::Lifecycle;
use crate::policy::Candidate;
use crate::queue::Queue;
use crate::slot::{Signaller, Slot};
use crate::spin::Pace;

#[derive(Debug)]
pub struct Actor {
    pub id: ActorId,
    pub dir: ActorDir,
    /// How it was started; `None` when `spawn.json` is missing or unreadable.
    pub record: Option<SpawnRequest>,
    pub lifecycle: Lifecycle,
    pub slot: Slot,
    pub queue: Queue,
    /// How many times it was started, restarts by a new supervisor included.
    pub starts: u32,
    /// Its state as last read, to tell a hand edit from a write that changed nothing.
    pub state: Option<Value>,
    /// Whether it was given a message since it was last started: before that, a state
    /// written outside a delivery is its own first state.
    pub delivered_since_start: bool,
    /// Its next message could not be read yet (an editor may be writing it): not before then.
    pub held_until: Option<Instant>,
    /// Whether its spool is a real folder (not a link someone put in its place): nothing is
    /// moved into or out of it otherwise.
    pub spool_ok: bool,
    /// The message it was handling when it last crashed, and how many times in a row it
    /// crashed on it.
    pub crashes: Option<(eos::MessageId, u32)>,
    /// How soon it usually answers, to look for its answer when it is due.
    pub pace: Pace,
}

impl Actor {
    /// Whether the next message can be placed now: running, ready and its slot free.
    pub fn can_take(&self) -> bool {
        self.slot.is_free() && self.lifecycle.is_ready() && self.spool_ok
    }

    /// Tells it about the message in its slot (once), and times its answer; or returns when
    /// to (see [`Pace::signal_not_before`]).
    pub fn signal(&mut self) -> Option<Instant> {
        let now = Instant::now();
        if let Some(t) = self.pace.signal_not_before().filter(|&t| t > now) {
            return self.slot.needs_signal().then_some(t);
        }
        if self.slot.needs_signal() {
            self.slot.signal(&Usr1(&self.lifecycle));
            if !self.slot.needs_signal() {
                self.pace.signalled(now);
            }
        }
        None
    }

    /// Looks at the spool: a real folder, not a link.
    pub fn check_spool(&mut self) -> bool {
        self.spool_ok = std::fs::symlink_metadata(self.dir.spool_dir()).is_ok_and(|m| m.is_dir());
        self.spool_ok
    }
}

/// The actor's process as the slot signals it.
pub struct Usr1<'a>(pub &'a Lifecycle);

impl Signaller for Usr1<'_> {
    fn usr1(&self) -> std::io::Result<()> {
        match self.0.process() {
            Some(p) if self.0.is_ready() => p.signal(nix::sys::signal::Signal::SIGUSR1),
            _ => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }
}

#[derive(Debug, Default)]
pub struct Registry {
    actors: BTreeMap<ActorId, Actor>,
    by_pid: HashMap<u32, ActorId>,
    /// The last actor [`Registry::next_round`] gave: the next round starts after it.
    round_after: Option<ActorId>,
}

impl Registry {
    pub fn get(&self, id: &ActorId) -> Option<&Actor> {
        self.actors.get(id)
    }

    pub fn get_mut(&mut self, id: &ActorId) -> Option<&mut Actor> {
        self.actors.get_mut(id)
    }

    pub fn contains(&self, id: &ActorId) -> bool {
        self.actors.contains_key(id)
    }

    pub fn is_empty(&self) -> bool {
        self.actors.is_empty()
    }

    /// Forgets an actor (removed from disk).
    pub fn remove(&mut self, id: &ActorId) -> Option<Actor> {
        self.by_pid.retain(|_, a| a != id);
        self.actors.remove(id)
    }

    pub fn insert(&mut self, actor: Actor) {
        self.actors.insert(actor.id.clone(), actor);
    }

    pub fn ids(&self) -> Vec<ActorId> {
        self.actors.keys().cloned().collect()
    }

    /// The next `most` actors in id order, after the last ones this gave, wrapping around: so
    /// that successive rounds look at every actor in turn, each round at no more than `most`.
    pub fn next_round(&mut self, most: usize) -> Vec<ActorId> {
        let round = next_round(&self.actors, self.round_after.as_ref(), most);
        if let Some(last) = round.last() {
            self.round_after = Some(last.clone());
        }
        round
    }

    pub fn iter(&self) -> impl Iterator<Item = &Actor> {
        self.actors.values()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Actor> {
        self.actors.values_mut()
    }

    /// The processes of the actors that run.
    pub fn pids(&self) -> Vec<u32> {
        self.by_pid.keys().copied().collect()
    }

    /// Notes that `pid` is `id`'s process.
    pub fn started(&mut self, pid: u32, id: &ActorId) {
        self.by_pid.insert(pid, id.clone());
    }

    /// The actor whose process `pid` was, forgetting it.
    pub fn reaped(&mut self, pid: u32) -> Option<ActorId> {
        self.by_pid.remove(&pid)
    }

    /// What may be delivered now: the head of every queue whose actor can take a message,
    /// leaving out the ones held back until after `now` (none left out without a time).
    pub fn enabled(&self, now: Option<Instant>) -> Vec<Candidate<'_>> {
        self.actors
            .values()
            .filter(|a| a.can_take())
            .filter(|a| now.is_none_or(|now| a.held_until.is_none_or(|t| t <= now)))
            .filter_map(|a| {
                let (file, _) = a.queue.head_due(now)?;
                Some(Candidate { actor: &a.id, file })
            })
            .collect()
    }

    /// Known actors, for an error message.
    pub fn known(&self) -> String {
        let known: Vec<&str> = self.actors.keys().map(ActorId::as_str).collect();
        known.join(", ")
    }
}

/// The next `most` keys of `map` after `after`, wrapping around to the first, each at most
/// once.
fn next_round<K: Ord + Clone, V>(map: &BTreeMap<K, V>, after: Option<&K>, most: usize) -> Vec<K> {
    use std::ops::Bound::{Excluded, Unbounded};
    let later = match after {
        Some(key) => map.range::<K, _>((Excluded(key), Unbounded)),
        None => map.range::<K, _>(..),
    };
    let earlier = map.keys().take_while(|k| after.is_some_and(|a| *k <= a));
    later
        .map(|(k, _)| k)
        .chain(earlier)
        .take(most)
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_look_at_every_key_in_turn_and_wrap_around() {
        let map: BTreeMap<u32, ()> = (1..=5).map(|k| (k, ())).collect();
        assert_eq!(next_round(&map, None, 2), [1, 2]);
        assert_eq!(next_round(&map, Some(&2), 2), [3, 4]);
        assert_eq!(next_round(&map, Some(&4), 2), [5, 1]);
        // More than there are: each once.
        assert_eq!(next_round(&map, Some(&3), 10), [4, 5, 1, 2, 3]);
        // The last one given is gone: the round goes on after where it was.
        assert_eq!(next_round(&map, Some(&0), 2), [1, 2]);
        assert!(next_round(&BTreeMap::<u32, ()>::new(), Some(&3), 2).is_empty());
    }
}
