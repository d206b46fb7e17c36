//! Running counts per actor, taken from the same events the journal records (deliveries,
//! results, restarts), and sampled into `metrics.jsonl` at every rescan for the actors that did
//! something or have mail waiting. Pure but for the clock it is given.

use std::collections::BTreeMap;
use std::time::Instant;

use eos::journal::Event;
use eos::metrics::{Sample, Series};

#[derive(Debug, Default)]
struct Counts {
    handled: u64,
    failed: u64,
    restarts: u64,
    /// When the message being handled was delivered.
    delivered_at: Option<Instant>,
    /// Finished and their total handling time since the last sample.
    window_done: u64,
    window_us: u64,
    /// What the last sample said, to skip an actor with nothing new.
    last: Option<(u64, u64, u64, u64)>,
}

#[derive(Debug)]
pub struct Metrics {
    counts: BTreeMap<String, Counts>,
    last_sample: Instant,
}

impl Metrics {
    pub fn new(now: Instant) -> Self {
        Metrics {
            counts: BTreeMap::new(),
            last_sample: now,
        }
    }

    /// An actor's counts: a name is copied only the first time it is seen, not at every
    /// message.
    fn of(&mut self, actor: &str) -> Option<&mut Counts> {
        if !self.counts.contains_key(actor) {
            self.counts.insert(actor.to_owned(), Counts::default());
        }
        self.counts.get_mut(actor)
    }

    /// Counts what an event says about an actor.
    pub fn observe(&mut self, event: &Event, now: Instant) {
        match event {
            Event::Deliver { actor, .. } => {
                if let Some(c) = self.of(actor) {
                    c.delivered_at = Some(now);
                }
            }
            Event::Result { actor, ok, .. } => {
                let Some(c) = self.of(actor) else {
                    return;
                };
                if *ok {
                    c.handled += 1;
                } else {
                    c.failed += 1;
                }
                c.window_done += 1;
                if let Some(at) = c.delivered_at.take() {
                    c.window_us += now.duration_since(at).as_micros() as u64;
                }
            }
            Event::Restart { actor, .. } => {
                if let Some(c) = self.of(actor) {
                    c.restarts += 1;
                }
            }
            _ => {}
        }
    }

    /// A sample of every actor with news since the last one (or mail waiting), given each
    /// actor's queue depth; the window starts again.
    pub fn sample(
        &mut self,
        now: Instant,
        now_us: u64,
        queues: impl IntoIterator<Item = (String, u64)>,
    ) -> Vec<Sample> {
        let seconds = now.duration_since(self.last_sample).as_secs_f64().max(1e-6);
        self.last_sample = now;
        let mut samples = Vec::new();
        for (actor, queue) in queues {
            let c = self.counts.entry(actor.clone()).or_default();
            let now_state = (c.handled, c.failed, c.restarts, queue);
            if c.last == Some(now_state) && queue == 0 {
                continue;
            }
            c.last = Some(now_state);
            let handling_ms =
                (c.window_done > 0).then(|| c.window_us as f64 / c.window_done as f64 / 1000.0);
            samples.push(Sample {
                us: now_us,
                actor,
                series: Series::Actor {
                    handled: c.handled,
                    failed: c.failed,
                    rate: c.window_done as f64 / seconds,
                    queue,
                    handling_ms,
                    restarts: c.restarts,
                },
            });
            c.window_done = 0;
            c.window_us = 0;
        }
        samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::time::Duration;

    fn deliver(actor: &str) -> Event {
        Event::Deliver {
            message: "m".into(),
            actor: actor.into(),
            redelivered: false,
            payload: Value::Null,
        }
    }

    fn result(actor: &str, ok: bool) -> Event {
        Event::Result {
            message: "m".into(),
            actor: actor.into(),
            ok,
            state: None,
        }
    }

    #[test]
    fn counts_rates_and_handling_times_and_skips_the_idle() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut m = Metrics::new(t0);
        m.observe(&deliver("a"), ms(0));
        m.observe(&result("a", true), ms(4));
        m.observe(&deliver("a"), ms(10));
        m.observe(&result("a", false), ms(12));
        m.observe(&Event::restart("a"), ms(20));
        let samples = m.sample(ms(1000), 1, [("a".into(), 2), ("idle".into(), 0)]);
        assert_eq!(
            samples.len(),
            2,
            "an actor seen for the first time is sampled once"
        );
        match &samples[0].series {
            Series::Actor {
                handled,
                failed,
                rate,
                queue,
                handling_ms,
                restarts,
            } => {
                assert_eq!((*handled, *failed, *queue, *restarts), (1, 1, 2, 1));
                assert!((rate - 2.0).abs() < 1e-9, "{rate}");
                assert_eq!(*handling_ms, Some(3.0));
            }
            other => panic!("{other:?}"),
        }
        // Nothing new and nothing waiting: no sample.
        let again = m.sample(ms(2000), 2, [("a".into(), 0), ("idle".into(), 0)]);
        assert_eq!(again.len(), 1, "a's queue went from 2 to 0");
        assert!(m.sample(ms(3000), 3, [("a".into(), 0)]).is_empty());
    }
}
