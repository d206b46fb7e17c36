//! How the loop waits for events without sleeping. A processor that went idle costs about as
//! much to wake on these machines as a whole delivery, and a poll and a read cost two syscalls
//! where a read alone costs one; so when events are likely to come within microseconds the
//! supervisor keeps its processor busy and reads at a few chosen moments instead of sleeping.
//!
//! Adaptive spinning: in a conversation between actors the next message usually comes within
//! a few tens of microseconds of a turn. The supervisor spins only while events have lately
//! been coming that soon: when they come slower (at the pace of fsync, say), spinning would
//! only burn time.

use std::time::{Duration, Instant};

/// How long one spin looks for events.
pub const SPIN: Duration = Duration::from_micros(60);

/// How often a spin looks.
const LOOK_EVERY: Duration = Duration::from_micros(10);

/// How long after an actor's state arrives its `current` is looked for: it removes it right
/// after.
pub const RESULT: Duration = Duration::from_micros(30);

/// Signals are read only by a poll: one comes at least this often, however busy the loop.
pub const POLL_AT_LEAST: Duration = Duration::from_millis(1);

/// Gaps are counted up to this: one long sleep must not outweigh many short ones for long.
const MAX_GAP_US: f64 = 1000.0;

/// The moments a spin that starts at `start` looks for events.
pub fn looks(start: Instant) -> impl Iterator<Item = Instant> {
    let n = (SPIN.as_micros() / LOOK_EVERY.as_micros()) as u32;
    (1..=n).map(move |k| start + LOOK_EVERY * k)
}

#[derive(Debug)]
pub struct Spinner {
    /// The recent gap between the end of a turn and the next event, in µs (a moving average).
    gap_us: f64,
}

impl Default for Spinner {
    fn default() -> Self {
        Spinner { gap_us: MAX_GAP_US }
    }
}

impl Spinner {
    /// Whether events have lately come back within about a spin's time.
    pub fn should_spin(&self) -> bool {
        self.gap_us < SPIN.as_micros() as f64 * 1.5
    }

    /// The next events came `gap` after the end of a turn (or none came before a timeout).
    pub fn observed(&mut self, gap: Duration) {
        let gap = (gap.as_micros() as f64).min(MAX_GAP_US);
        self.gap_us = self.gap_us * 0.75 + gap * 0.25;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn a_spin_looks_a_few_times_within_its_span() {
        let start = Instant::now();
        let looks: Vec<Instant> = looks(start).collect();
        assert!(
            !looks.is_empty() && looks.len() <= 10,
            "{} looks",
            looks.len()
        );
        assert!(looks.windows(2).all(|w| w[0] < w[1]));
        assert!(looks.iter().all(|&t| t > start && t <= start + SPIN));
    }

    #[test]
    fn it_spins_while_events_come_soon_and_stops_when_they_do_not() {
        let mut s = Spinner::default();
        assert!(!s.should_spin(), "nothing seen yet");
        // A conversation on tmpfs: the echo of our own renames, then the answer 40 µs later.
        for _ in 0..10 {
            s.observed(us(0));
            s.observed(us(40));
        }
        assert!(s.should_spin());
        // On disk every answer waits for an fsync.
        let mut turns = 0;
        while s.should_spin() {
            s.observed(us(0));
            s.observed(us(1500));
            turns += 1;
        }
        assert!(turns <= 3, "stopped after {turns} slow answers");
        // Idle: timeouts keep it off.
        s.observed(Duration::from_secs(2));
        assert!(!s.should_spin());
    }
}
