//! The delivery policy: one pure decision over everything that may be delivered now,
//! system-wide. It does no I/O; the supervisor gathers what is enabled (the head of every free,
//! ready queue), asks, and applies the answer to files and signals.
//!
//! FIFO is the base; slow motion and pause wrap another policy; a manual step or deliver is a
//! one-shot policy of its own. Fault injection, replay and exploration plug in the same way.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use eos::ActorId;
use eos::control::Refusal;
use eos::mailbox::system_order;

/// A message that may be delivered now: the head of a free, ready actor's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate<'a> {
    pub actor: &'a ActorId,
    pub file: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Deliver {
        actor: ActorId,
        file: String,
    },
    /// Nothing now; ask again at this time (or at the next event, if sooner).
    WaitUntil(Instant),
    /// Nothing until something changes.
    Idle,
}

impl Decision {
    fn deliver(c: &Candidate) -> Self {
        Decision::Deliver {
            actor: c.actor.clone(),
            file: c.file.to_owned(),
        }
    }
}

pub trait Policy {
    fn choose(&mut self, now: Instant, enabled: &[Candidate]) -> Decision;
    /// A message was delivered (by this policy's choice or by hand).
    fn delivered(&mut self, _now: Instant) {}
}

/// The first waiting message in the system-wide order: arrival order.
pub fn first<'c, 'a>(enabled: &'c [Candidate<'a>]) -> Option<&'c Candidate<'a>> {
    enabled
        .iter()
        .min_by(|a, b| system_order((a.actor.as_str(), a.file), (b.actor.as_str(), b.file)))
}

/// First in, first out, system-wide.
#[derive(Debug, Default)]
pub struct Fifo;

impl Policy for Fifo {
    fn choose(&mut self, _now: Instant, enabled: &[Candidate]) -> Decision {
        first(enabled).map_or(Decision::Idle, Decision::deliver)
    }
}

/// At least `interval` between two deliveries, to watch messages flow.
pub struct SlowMotion<P> {
    inner: P,
    interval: Duration,
    last: Option<Instant>,
}

impl<P: Policy> SlowMotion<P> {
    pub fn new(inner: P, interval: Duration) -> Self {
        SlowMotion {
            inner,
            interval,
            last: None,
        }
    }
}

impl<P: Policy> Policy for SlowMotion<P> {
    fn choose(&mut self, now: Instant, enabled: &[Candidate]) -> Decision {
        match self.last.map(|last| last + self.interval) {
            Some(due) if due > now && !enabled.is_empty() => Decision::WaitUntil(due),
            _ => self.inner.choose(now, enabled),
        }
    }

    fn delivered(&mut self, now: Instant) {
        self.last = Some(now);
        self.inner.delivered(now);
    }
}

/// Nothing is delivered while the system, or the actor, is paused. The pauses are state,
/// kept up to date from the `paused` files' events and the rescan.
pub struct Paused<P> {
    inner: P,
    all: bool,
    actors: BTreeSet<ActorId>,
}

impl<P: Policy> Paused<P> {
    pub fn new(inner: P) -> Self {
        Paused {
            inner,
            all: false,
            actors: BTreeSet::new(),
        }
    }

    /// Replaces the policy it pauses (keeping what is paused).
    pub fn set_inner(&mut self, inner: P) {
        self.inner = inner;
    }

    /// Pauses or resumes everything (`None`) or one actor. Returns whether it changed.
    pub fn set(&mut self, who: Option<&ActorId>, paused: bool) -> bool {
        match who {
            None => std::mem::replace(&mut self.all, paused) != paused,
            Some(id) if paused => self.actors.insert(id.clone()),
            Some(id) => self.actors.remove(id),
        }
    }

    pub fn is_paused(&self, who: Option<&ActorId>) -> bool {
        match who {
            None => self.all,
            Some(id) => self.all || self.actors.contains(id),
        }
    }
}

impl<P: Policy> Policy for Paused<P> {
    fn choose(&mut self, now: Instant, enabled: &[Candidate]) -> Decision {
        if self.all {
            return Decision::Idle;
        }
        if self.actors.is_empty() {
            return self.inner.choose(now, enabled);
        }
        let open: Vec<Candidate> = enabled
            .iter()
            .filter(|c| !self.actors.contains(c.actor))
            .cloned()
            .collect();
        self.inner.choose(now, &open)
    }

    fn delivered(&mut self, now: Instant) {
        self.inner.delivered(now);
    }
}

impl Policy for Box<dyn Policy> {
    fn choose(&mut self, now: Instant, enabled: &[Candidate]) -> Decision {
        self.as_mut().choose(now, enabled)
    }

    fn delivered(&mut self, now: Instant) {
        self.as_mut().delivered(now);
    }
}

/// One delivery asked for by a person, whatever the pause: the next in order (system-wide or
/// for one actor), or a chosen message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manual {
    Step {
        actor: Option<ActorId>,
    },
    /// The pending message in `file` of `actor` (resolved from what the person typed).
    Deliver {
        actor: ActorId,
        file: String,
    },
}

/// An actor with messages waiting that cannot take one now: the head of its queue, and the
/// message it is handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    pub actor: ActorId,
    pub head: String,
    pub handling: String,
}

impl Busy {
    fn refusal(&self) -> Refusal {
        Refusal::Busy {
            actor: self.actor.to_string(),
            handling: self.handling.clone(),
        }
    }
}

impl Manual {
    /// The candidate to deliver, or why there is none. A step delivers the next message in
    /// the system-wide order: when that one waits for a busy actor, the step waits too (it is
    /// refused as busy, and may be asked again), so steps follow `eos pending` exactly.
    pub fn pick(&self, enabled: &[Candidate], busy: &[Busy]) -> Result<Decision, Refusal> {
        match self {
            Manual::Step { actor } => {
                let wanted = |a: &ActorId| actor.as_ref().is_none_or(|w| w == a);
                let mine: Vec<Candidate> = enabled
                    .iter()
                    .filter(|c| wanted(c.actor))
                    .cloned()
                    .collect();
                let blocked = busy.iter().filter(|b| wanted(&b.actor)).min_by(|x, y| {
                    system_order((x.actor.as_str(), &x.head), (y.actor.as_str(), &y.head))
                });
                match (first(&mine), blocked) {
                    (Some(c), Some(b))
                        if system_order(
                            (b.actor.as_str(), &b.head),
                            (c.actor.as_str(), c.file),
                        )
                        .is_lt() =>
                    {
                        Err(b.refusal())
                    }
                    (Some(c), _) => Ok(Decision::deliver(c)),
                    (None, Some(b)) => Err(b.refusal()),
                    (None, None) => Err(Refusal::NothingPending {
                        actor: actor.as_ref().map(ToString::to_string),
                    }),
                }
            }
            Manual::Deliver { actor, file } => {
                if let Some(b) = busy.iter().find(|b| b.actor == *actor) {
                    return Err(b.refusal());
                }
                Ok(Decision::Deliver {
                    actor: actor.clone(),
                    file: file.clone(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<ActorId> {
        names.iter().map(|n| ActorId::parse(n).unwrap()).collect()
    }

    fn enabled<'a>(actors: &'a [ActorId], files: &'a [&'a str]) -> Vec<Candidate<'a>> {
        actors
            .iter()
            .zip(files)
            .map(|(actor, file)| Candidate { actor, file })
            .collect()
    }

    fn chosen(d: Decision) -> Option<(String, String)> {
        match d {
            Decision::Deliver { actor, file } => Some((actor.to_string(), file)),
            _ => None,
        }
    }

    #[test]
    fn fifo_takes_the_earliest_arrival_system_wide() {
        let a = ids(&["b", "a", "c"]);
        let e = enabled(&a, &["002-x.json", "002-x.json", "001-y.json"]);
        let now = Instant::now();
        assert_eq!(
            chosen(Fifo.choose(now, &e)),
            Some(("c".into(), "001-y.json".into()))
        );
        // Same name: by actor.
        assert_eq!(
            chosen(Fifo.choose(now, &e[..2])),
            Some(("a".into(), "002-x.json".into()))
        );
        assert_eq!(Fifo.choose(now, &[]), Decision::Idle);
    }

    #[test]
    fn slow_motion_spaces_deliveries() {
        let a = ids(&["a"]);
        let e = enabled(&a, &["001.json"]);
        let t0 = Instant::now();
        let gap = Duration::from_millis(500);
        let mut p = SlowMotion::new(Fifo, gap);
        assert!(chosen(p.choose(t0, &e)).is_some());
        p.delivered(t0);
        assert_eq!(p.choose(t0, &e), Decision::WaitUntil(t0 + gap));
        assert_eq!(p.choose(t0, &[]), Decision::Idle, "nothing to wait for");
        assert!(chosen(p.choose(t0 + gap, &e)).is_some());
    }

    #[test]
    fn pauses_hold_everything_or_one_actor() {
        let a = ids(&["a", "b"]);
        let e = enabled(&a, &["001.json", "002.json"]);
        let now = Instant::now();
        let mut p = Paused::new(Fifo);
        assert!(p.set(Some(&a[0]), true));
        assert!(!p.set(Some(&a[0]), true), "no change");
        assert_eq!(
            chosen(p.choose(now, &e)),
            Some(("b".into(), "002.json".into()))
        );
        assert!(p.set(None, true));
        assert!(p.is_paused(Some(&a[1])));
        assert_eq!(p.choose(now, &e), Decision::Idle);
        p.set(None, false);
        p.set(Some(&a[0]), false);
        assert_eq!(
            chosen(p.choose(now, &e)),
            Some(("a".into(), "001.json".into()))
        );
    }

    #[test]
    fn a_manual_step_ignores_pauses_and_says_why_it_cannot() {
        let a = ids(&["a", "b"]);
        let e = enabled(&a, &["003.json", "002.json"]);
        let step = |actor: Option<&ActorId>| Manual::Step {
            actor: actor.cloned(),
        };
        assert_eq!(
            chosen(step(None).pick(&e, &[]).unwrap()),
            Some(("b".into(), "002.json".into()))
        );
        assert_eq!(
            chosen(step(Some(&a[0])).pick(&e, &[]).unwrap()),
            Some(("a".into(), "003.json".into()))
        );
        let busy = vec![Busy {
            actor: a[0].clone(),
            head: "004.json".into(),
            handling: "m1".into(),
        }];
        assert_eq!(
            step(Some(&a[0])).pick(&[], &busy),
            Err(Refusal::Busy {
                actor: "a".into(),
                handling: "m1".into()
            })
        );
        assert_eq!(
            step(None).pick(&[], &[]),
            Err(Refusal::NothingPending { actor: None })
        );
        // The next in order waits for a busy actor: the step waits, not a later message.
        let first_busy = vec![Busy {
            actor: a[0].clone(),
            head: "001.json".into(),
            handling: "m0".into(),
        }];
        assert!(matches!(
            step(None).pick(&e[1..], &first_busy),
            Err(Refusal::Busy { .. })
        ));
        assert!(chosen(step(None).pick(&e[1..], &busy).unwrap()).is_some());
    }
}
