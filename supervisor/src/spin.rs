//! Adaptive spinning: before it sleeps, the supervisor may look for new events without
//! sleeping for a few tens of microseconds. In a conversation between actors the next message
//! usually comes within that time, and a processor that never went idle answers it at once; on
//! these machines waking an idle one costs about as much as a whole delivery. It spins only
//! while events have lately been coming that soon after a turn of work: when they come slower
//! (at the pace of fsync, say), spinning would only burn time.

use std::time::Duration;

/// How long one spin looks for events.
pub const SPIN: Duration = Duration::from_micros(60);

/// Gaps are counted up to this: one long sleep must not outweigh many short ones for long.
const MAX_GAP_US: f64 = 1000.0;

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
