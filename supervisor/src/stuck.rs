//! Finding what is stuck, at every rescan: an actor handling one message for longer than a
//! limit, a queue that grew at each of the last rescans while its actor was not paused, and
//! mail waiting while nothing at all was delivered for the limit and nothing is paused (a
//! protocol that deadlocked, an actor that never answers). Each is reported once, until it
//! passes. Pure: given what the loop sees and the time.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// What the loop sees of a running actor.
#[derive(Debug, Clone)]
pub struct Look {
    pub actor: String,
    /// The message it is handling.
    pub handling: Option<String>,
    pub queue: u64,
    pub paused: bool,
}

/// Rescans a queue must grow at in a row to be reported.
const GROWING: u32 = 5;

#[derive(Debug, Default)]
pub struct Stuck {
    /// Since when each actor handles its message.
    handling: HashMap<String, (String, Instant)>,
    /// Each queue's last length and how many rescans in a row it grew.
    growth: HashMap<String, (u64, u32)>,
    /// When the deliveries count last changed, and its value.
    last_delivery: Option<(u64, Instant)>,
    /// What was reported and still holds.
    reported: HashSet<String>,
}

impl Stuck {
    /// What newly looks stuck: the actors concerned and what, in words.
    pub fn look(
        &mut self,
        now: Instant,
        limit: Duration,
        deliveries: u64,
        looks: &[Look],
    ) -> Vec<(Vec<String>, String)> {
        let mut found = Vec::new();
        let mut holds = HashSet::new();
        for look in looks {
            match &look.handling {
                Some(message) => {
                    let since = match self.handling.get(&look.actor) {
                        Some((m, t)) if m == message => *t,
                        _ => {
                            self.handling
                                .insert(look.actor.clone(), (message.clone(), now));
                            now
                        }
                    };
                    if now.duration_since(since) >= limit {
                        let key = format!("handling {} {message}", look.actor);
                        let what = format!(
                            "{} has been handling {message} for {}s",
                            look.actor,
                            now.duration_since(since).as_secs()
                        );
                        holds.insert(key.clone());
                        if self.reported.insert(key) {
                            found.push((vec![look.actor.clone()], what));
                        }
                    }
                }
                None => {
                    self.handling.remove(&look.actor);
                }
            }
            let (last, grew) = self.growth.get(&look.actor).copied().unwrap_or((0, 0));
            let grew = if look.queue > last && !look.paused {
                grew + 1
            } else {
                0
            };
            self.growth.insert(look.actor.clone(), (look.queue, grew));
            if grew >= GROWING {
                let key = format!("growing {}", look.actor);
                holds.insert(key.clone());
                if self.reported.insert(key) {
                    found.push((
                        vec![look.actor.clone()],
                        format!(
                            "the queue of {} only grows: {} waiting after {grew} rescans",
                            look.actor, look.queue
                        ),
                    ));
                }
            }
        }
        let since = match self.last_delivery {
            Some((n, t)) if n == deliveries => t,
            _ => {
                self.last_delivery = Some((deliveries, now));
                now
            }
        };
        let waiting: Vec<&Look> = looks.iter().filter(|l| l.queue > 0).collect();
        if !waiting.is_empty()
            && waiting.iter().all(|l| !l.paused)
            && now.duration_since(since) >= limit
        {
            let key = "nothing delivered".to_owned();
            holds.insert(key.clone());
            if self.reported.insert(key) {
                let actors: Vec<String> = waiting.iter().map(|l| l.actor.clone()).collect();
                let count: u64 = waiting.iter().map(|l| l.queue).sum();
                found.push((
                    actors.clone(),
                    format!(
                        "{count} message(s) wait for {} and nothing was delivered for {}s",
                        actors.join(", "),
                        now.duration_since(since).as_secs()
                    ),
                ));
            }
        }
        self.reported.retain(|k| holds.contains(k));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(actor: &str, handling: Option<&str>, queue: u64) -> Look {
        Look {
            actor: actor.into(),
            handling: handling.map(str::to_owned),
            queue,
            paused: false,
        }
    }

    #[test]
    fn a_long_handler_a_growing_queue_and_no_delivery_are_each_reported_once() {
        let t0 = Instant::now();
        let s = |n| t0 + Duration::from_secs(n);
        let limit = Duration::from_secs(30);
        let mut stuck = Stuck::default();
        assert!(
            stuck
                .look(s(0), limit, 1, &[look("a", Some("m1"), 0)])
                .is_empty()
        );
        let found = stuck.look(s(31), limit, 1, &[look("a", Some("m1"), 0)]);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].1.contains("has been handling m1 for 31s"),
            "{found:?}"
        );
        assert!(
            stuck
                .look(s(40), limit, 1, &[look("a", Some("m1"), 0)])
                .is_empty(),
            "once"
        );
        // Done: a new message starts afresh.
        assert!(
            stuck
                .look(s(41), limit, 2, &[look("a", Some("m2"), 0)])
                .is_empty()
        );

        let mut stuck = Stuck::default();
        let mut reports = Vec::new();
        for n in 0..8u64 {
            reports.extend(stuck.look(s(n), limit, n, &[look("b", None, n * 10)]));
        }
        assert_eq!(reports.len(), 1, "{reports:?}");
        assert!(reports[0].1.contains("only grows"));

        let mut stuck = Stuck::default();
        assert!(
            stuck
                .look(s(0), limit, 5, &[look("c", Some("x"), 3)])
                .is_empty()
        );
        let found = stuck.look(s(31), limit, 5, &[look("c", Some("x"), 3)]);
        assert!(
            found
                .iter()
                .any(|(_, w)| w.contains("nothing was delivered")),
            "{found:?}"
        );
    }
}
