//! When the loop looks for events without sleeping. A processor that went idle costs about as
//! much to wake on these machines as a whole delivery, and a poll and a read cost two syscalls
//! where a read alone costs one; so when an answer is likely within microseconds the
//! supervisor keeps its processor busy and reads at a few chosen moments instead of sleeping.
//!
//! The moments come from each actor's pace: how long after its signal the first sign of its
//! answer (its state, or its `current` gone) usually comes, and how long after its state its
//! `current` goes. A quick actor (a script on tmpfs answers in tens of microseconds) is looked
//! for when its answer is due and a few times after; a slow one (an fsync on disk takes a
//! millisecond) is waited for asleep. Reading all the time instead would cost a syscall every
//! few microseconds for nothing.

use std::time::{Duration, Instant};

use eos::{ActorId, layout};

use crate::events::{Change, Event, Watched};

/// Answers expected later than this after the signal are waited for asleep.
const SPIN_UP_TO: Duration = Duration::from_micros(200);

/// Answers between spinning and this are waited for with a poll: a quiet sleep would often end
/// late by more than a poll's wake-up costs (a busy machine makes them vary).
const QUIET_FROM: Duration = Duration::from_micros(300);

/// Slower answers than this are not waited for quietly: a sleep through everything else must
/// stay short.
const QUIET_UP_TO: Duration = Duration::from_millis(3);

/// How long after an answer is due the loop goes on looking for it.
const SPIN_AFTER_DUE: Duration = Duration::from_micros(60);

/// How often a spin looks, at most.
const LOOK_EVERY: Duration = Duration::from_micros(10);

/// A spin for a slower answer looks less often: about this many times in the usual wait.
const LOOKS_PER_ANSWER: u32 = 6;

/// The first look comes this share of the usual wait after the signal: answers vary, and one
/// seen a little late costs a delivery's latency, one looked for a little early a syscall.
const FIRST_LOOK: f64 = 0.65;

/// A quiet sleep lasts this share of the usual wait: a read that comes too early costs a
/// wake-up more, one that comes late the time it is late.
const QUIET_FOR: f64 = 1.0;

/// What was found after a sleep counts as having come this share of the sleep after the
/// signal: the usual wait shrinks until a sleep ends before the answer, and the answer seen
/// as it comes corrects it.
const SHRINK: f64 = 0.5;

/// Signals are read only by a poll: one comes at least this often, however busy the loop.
pub const POLL_AT_LEAST: Duration = Duration::from_millis(1);

/// Waits are counted up to this: one long answer must not outweigh many short ones for long.
const MAX_WAIT_US: f64 = 50_000.0;

/// An actor whose turns usually take this long may be a shell script working in its trap.
const SLOW_TURN: Duration = Duration::from_millis(20);

/// How long such an actor gets after its `current` went before it is signalled again: its
/// trap ends right after its `rm` returns.
const TRAP_ENDS: Duration = Duration::from_millis(5);

/// A wait is counted as at most this many times the usual one.
const OUTLIER: f64 = 3.0;

/// The longest time slice the kernel grants a task (EEVDF's custom slices, Linux 6.12 on).
const LONG_SLICE: Duration = Duration::from_millis(100);

/// Lets an actor the loop signals run at once on the loop's processor, instead of after it.
/// Tasks are often packed onto one processor (a VM's vCPUs most of all), and there a woken
/// actor does not always preempt the loop that woke it: the loop spins, looking for an answer
/// from an actor that waits for the very processor it spins on (seen: 220 µs for an answer
/// that takes 40; latency's p90 was three times its median). The kernel lets a woken task
/// preempt one with a longer slice than its own, so the loop asks for the longest, and its
/// children (the actors) are reset to the default at fork. Older kernels ignore the slice.
pub fn give_way_to_woken_actors() {
    use nix::libc;
    let size = std::mem::size_of::<libc::sched_attr>();
    // SAFETY: `attr` is a plain struct the kernel fills (`sched_getattr`) and reads
    // (`sched_setattr`), `size` bytes long, for the calling thread (pid 0).
    let result = unsafe {
        let mut attr: libc::sched_attr = std::mem::zeroed();
        if libc::syscall(libc::SYS_sched_getattr, 0, &mut attr, size, 0) != 0 {
            return log::debug!("cannot read the scheduling attributes");
        }
        // Policy and nice value stay what the supervisor was started with.
        attr.size = size as u32;
        attr.sched_flags = libc::SCHED_FLAG_RESET_ON_FORK as u64;
        attr.sched_runtime = LONG_SLICE.as_nanos() as u64;
        libc::syscall(libc::SYS_sched_setattr, 0, &attr, 0)
    };
    if result != 0 {
        log::debug!(
            "cannot ask for a long time slice: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Until when every event in `events` can wait to be handled with the next ones: mail for
/// busy actors whose answers are due soon (`waits_until`, see [`Pace::mail_waits_until`]),
/// their states arriving, and the echoes of messages routed and delivered to them. `None` if
/// any cannot (their answers, signals, anything else) or there are none.
pub fn can_wait(
    events: &[Event],
    waits_until: impl Fn(&ActorId) -> Option<Instant>,
) -> Option<Instant> {
    let mut until: Option<Instant> = None;
    for event in events {
        let Event::File {
            dir, name, change, ..
        } = event
        else {
            return None;
        };
        let t = match (dir, change) {
            (Watched::Send, Change::Arrived) => {
                waits_until(&layout::parse_send_name(name).ok()??.0)
            }
            (Watched::Actor(id), Change::Arrived) if name == layout::STATE => waits_until(id),
            // Not its `current` gone: that is its answer.
            (Watched::Spool(id), change)
                if name != layout::CURRENT || *change == Change::Arrived =>
            {
                waits_until(id)
            }
            _ => None,
        }?;
        until = Some(until.map_or(t, |u| u.min(t)));
    }
    until
}

/// A moving average of waits, in microseconds.
#[derive(Debug, Clone, Copy, Default)]
struct Average(Option<f64>);

impl Average {
    fn observe(&mut self, wait: Duration) {
        let wait = (wait.as_micros() as f64).min(MAX_WAIT_US);
        self.0 = Some(self.0.map_or(wait, |avg| {
            // One wait far longer than usual (the actor was preempted, say) moves the average
            // only so far: a quick actor stays quick, and one that became slow is known as
            // such after a few of its answers.
            avg * 0.75 + wait.min(avg * OUTLIER) * 0.25
        }));
    }

    fn get(self) -> Option<Duration> {
        self.0.map(Duration::from_secs_f64).map(|d| d / 1_000_000)
    }
}

/// When the loop saw something an actor did: as it came, or in the read after a quiet sleep
/// that ended at `slept_until` (it came at some moment during the sleep).
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    pub at: Instant,
    pub slept_until: Option<Instant>,
}

impl From<Instant> for Seen {
    fn from(at: Instant) -> Self {
        Seen {
            at,
            slept_until: None,
        }
    }
}

impl Seen {
    /// How long after `signalled` it came. What was found after a sleep through it came at
    /// some moment before the sleep ended, so a little less than the sleep is counted:
    /// counting the sleep whole (or more, as a sleep ends a little late) would make the next
    /// sleep as long or longer, and every answer late.
    fn since(self, signalled: Instant) -> Duration {
        match self.slept_until {
            Some(until) => until.saturating_duration_since(signalled).mul_f64(SHRINK),
            None => self.at.saturating_duration_since(signalled),
        }
    }
}

/// One actor's pace, observed from the outside: how long after its signal the first sign of
/// its answer comes (a message it sends, its state, or its `current` gone, whichever is
/// first), how long until its `current` goes, and how long that comes after its state.
#[derive(Debug, Default)]
pub struct Pace {
    /// When it was told about the message it handles, while it handles it.
    signalled: Option<Instant>,
    /// Whether the first sign of its answer came in this turn.
    answered: bool,
    /// When its state arrived in this turn.
    state_at: Option<Instant>,
    /// Whether the first sign in its last turn was a message it sent.
    sends_first: bool,
    /// When its `current` last went.
    finished_at: Option<Instant>,
    answer: Average,
    finish: Average,
    settle: Average,
}

impl Pace {
    /// It was told about a message.
    pub fn signalled(&mut self, at: Instant) {
        self.signalled = Some(at);
        self.answered = false;
        self.state_at = None;
    }

    /// It sent a message.
    pub fn sent(&mut self, seen: impl Into<Seen>) {
        self.first_sign(seen.into(), true);
    }

    /// Its state arrived while it handled the message.
    pub fn state_arrived(&mut self, seen: impl Into<Seen>) {
        let seen = seen.into();
        self.first_sign(seen, false);
        self.state_at = Some(seen.at);
    }

    /// Its `current` went: the message is handled.
    pub fn finished(&mut self, seen: impl Into<Seen>) {
        let seen = seen.into();
        self.first_sign(seen, false);
        self.finished_at = Some(seen.at);
        if let Some(signalled) = self.signalled.take() {
            self.finish.observe(seen.since(signalled));
        }
        if let Some(state) = self.state_at.take() {
            self.settle
                .observe(seen.at.saturating_duration_since(state));
        }
    }

    fn first_sign(&mut self, seen: Seen, sent: bool) {
        if let Some(signalled) = self.signalled
            && !self.answered
        {
            self.answered = true;
            self.sends_first = sent;
            self.answer.observe(seen.since(signalled));
        }
    }

    /// How long after its signal the next thing worth seeing usually comes: its first message
    /// if it usually sends one first and has not yet, else its `current` gone (its state alone
    /// changes nothing: it is read when `current` goes).
    fn next_due(&self) -> Option<Duration> {
        if self.sends_first && !self.answered {
            self.answer.get()
        } else {
            self.finish.get()
        }
    }

    /// Not before when to signal it about its next message: a slow actor (a shell script
    /// working in its `USR1` trap) gets a moment after its `current` went to finish that trap,
    /// because bash forgets a signal that comes while its trap is still finishing, and it would
    /// never see the message. A quick one is signalled at once.
    pub fn signal_not_before(&self) -> Option<Instant> {
        let usual = self.finish.get()?;
        (usual >= SLOW_TURN).then_some(self.finished_at? + TRAP_ENDS)
    }

    /// The moments worth a look, if the next thing worth seeing usually comes quickly: from a
    /// little before it is due until a while after.
    pub fn looks(&self) -> impl Iterator<Item = Instant> + use<> {
        let span = self
            .signalled
            .zip(self.next_due())
            .filter(|(_, usual)| *usual <= SPIN_UP_TO)
            .map(|(at, usual)| {
                let every = (usual / LOOKS_PER_ANSWER).max(LOOK_EVERY);
                (
                    at + usual.mul_f64(FIRST_LOOK),
                    at + usual + SPIN_AFTER_DUE,
                    every,
                )
            });
        span.into_iter().flat_map(move |(first, last, every)| {
            let n = ((last - first).as_micros() / every.as_micros().max(1)) as u32;
            (0..=n).map(move |k| first + every * k)
        })
    }

    /// When its `current` is likely gone, if its state arrived and the two usually come close
    /// together.
    pub fn removal_due(&self) -> Option<Instant> {
        let (at, usual) = self.state_at.zip(self.settle.get())?;
        (usual <= SPIN_AFTER_DUE).then_some(at + usual)
    }

    /// Until when mail for it may wait unrouted in `send/`, if it is slow but regular and
    /// busy: routed at once, each message would cost a turn of its own (a journal write, a
    /// read of the rename's echo), and none can be delivered before its answer anyway. Routed
    /// with its answer, they share that turn. An answer far later than usual ends the wait.
    pub fn mail_waits_until(&self) -> Option<Instant> {
        let (at, usual) = self.signalled.zip(self.next_due())?;
        (QUIET_FROM..SLOW_TURN)
            .contains(&usual)
            .then(|| at + usual.mul_f64(OUTLIER))
    }

    /// Until when nothing it does needs seeing, if it is slow but regular (a script that waits
    /// for an fsync): its first message if it usually sends one first, else its `current`
    /// gone. Sleeping through its state and the echo of its delivery saves a wake-up and a
    /// read each.
    pub fn quiet_until(&self) -> Option<Instant> {
        let (at, usual) = self.signalled.zip(self.next_due())?;
        (QUIET_FROM..=QUIET_UP_TO)
            .contains(&usual)
            .then(|| at + usual.mul_f64(QUIET_FOR))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    /// Signals `pace` at `t` and answers `answer` later, `settle` between state and removal.
    fn turn(pace: &mut Pace, t: &mut Instant, answer: u64, settle: u64) {
        pace.signalled(*t);
        *t += us(answer);
        pace.state_arrived(*t);
        *t += us(settle);
        pace.finished(*t);
        *t += us(5);
    }

    /// A pace after ten turns like [`turn`]'s, and the time after them.
    fn after_turns(answer: u64, settle: u64) -> (Pace, Instant) {
        after_ten(|pace, t| turn(pace, t, answer, settle))
    }

    /// A pace after ten of `one`, and the time after them.
    fn after_ten(one: impl Fn(&mut Pace, &mut Instant)) -> (Pace, Instant) {
        let (mut pace, mut t) = (Pace::default(), Instant::now());
        for _ in 0..10 {
            one(&mut pace, &mut t);
        }
        (pace, t)
    }

    /// A turn in which the actor sends a message `sent` after its signal, its state comes
    /// just before its `current` goes at `finished`.
    fn sending_turn(pace: &mut Pace, t: &mut Instant, sent: u64, finished: u64) {
        pace.signalled(*t);
        pace.sent(*t + us(sent));
        pace.state_arrived(*t + us(finished - 10));
        pace.finished(*t + us(finished));
        *t += us(finished + 10);
    }

    /// A pace after ten turns like [`sending_turn`]'s, and the time after them.
    fn after_sending_turns(sent: u64, finished: u64) -> (Pace, Instant) {
        after_ten(|pace, t| sending_turn(pace, t, sent, finished))
    }

    #[test]
    fn nothing_is_looked_for_before_anything_was_seen() {
        let mut pace = Pace::default();
        assert_eq!(pace.looks().count(), 0);
        pace.signalled(Instant::now());
        assert_eq!(pace.looks().count(), 0, "its pace is not known yet");
        assert_eq!(pace.removal_due(), None);
    }

    #[test]
    fn a_quick_actor_is_looked_for_around_when_its_current_is_due_to_go() {
        let (mut pace, t) = after_turns(40, 5);
        pace.signalled(t);
        let looks: Vec<Instant> = pace.looks().collect();
        assert!(looks.len() > 2 && looks.len() < 12, "{} looks", looks.len());
        assert!(looks.windows(2).all(|w| w[0] <= w[1]));
        assert!(
            looks[0] > t && looks[0] < t + us(45),
            "first look before it is due"
        );
        assert!(*looks.last().unwrap() <= t + us(45) + SPIN_AFTER_DUE);
        pace.state_arrived(t + us(40));
        let removal = pace.removal_due().expect("state and removal come together");
        assert!(removal >= t + us(40) && removal <= t + us(50));
        pace.finished(t + us(45));
        assert_eq!(pace.looks().count(), 0, "done: no more looks");
    }

    #[test]
    fn an_actor_that_sends_first_is_looked_for_when_its_message_is_due() {
        let (mut pace, t) = after_sending_turns(30, 90);
        pace.signalled(t);
        let first = pace.looks().next().expect("quick");
        assert!(
            first < t + us(30),
            "its message is routed as soon as it comes"
        );
        pace.sent(t + us(30));
        let first = pace.looks().next().expect("then its `current`");
        assert!(first > t + us(30) && first < t + us(90));
    }

    #[test]
    fn a_slow_actor_is_waited_for_asleep() {
        // On disk every answer waits for an fsync, and its `current` goes after another.
        let (mut pace, t) = after_turns(1500, 400);
        pace.signalled(t);
        assert_eq!(pace.looks().count(), 0);
        pace.state_arrived(t + us(1500));
        assert_eq!(pace.removal_due(), None);
    }

    #[test]
    fn a_slow_but_regular_actor_is_slept_through_until_it_is_about_done() {
        let (mut pace, t) = after_turns(600, 200);
        pace.signalled(t);
        let quiet = pace.quiet_until().expect("slow and regular");
        assert!(
            quiet > t + us(500) && quiet <= t + us(800),
            "when its `current` is due to go"
        );
        // Much slower (a long handler): nothing worth a sleep through everything else.
        let (mut slow, t) = after_turns(20_000, 10);
        slow.signalled(t);
        assert_eq!(slow.quiet_until(), None);
        // Quick: spun for instead.
        let (mut quick, t) = after_turns(40, 5);
        quick.signalled(t);
        assert_eq!(quick.quiet_until(), None);
    }

    #[test]
    fn an_actor_that_sends_first_is_slept_through_until_its_message_only() {
        let (mut pace, t) = after_sending_turns(400, 1000);
        pace.signalled(t);
        let quiet = pace.quiet_until().expect("slow and regular");
        assert!(quiet <= t + us(400), "its message is routed when it is due");
        pace.sent(t + us(400));
        let quiet = pace.quiet_until().expect("then its `current`");
        assert!(quiet > t + us(700) && quiet <= t + us(1000));
    }

    #[test]
    fn what_is_found_after_a_sleep_shortens_the_next_sleep() {
        let (mut pace, mut t) = after_turns(1000, 0);
        // The answers now come after 500 µs, but are found only when each sleep ends (and
        // a little after): the sleeps shrink until one ends before the answer.
        let mut sleeps = Vec::new();
        for _ in 0..60 {
            pace.signalled(t);
            let quiet = pace.quiet_until().expect("slow and regular");
            sleeps.push(quiet - t);
            let answer = t + us(500);
            if answer <= quiet {
                // Found by the read after the sleep (a little late, as sleeps end).
                pace.finished(Seen {
                    at: quiet + us(40),
                    slept_until: Some(quiet),
                });
            } else {
                // The sleep ended first: seen as it came.
                pace.finished(answer);
            }
            t = answer.max(quiet) + us(100);
        }
        assert!(sleeps.windows(2).take(6).all(|w| w[1] < w[0]), "{sleeps:?}");
        let last = *sleeps.last().unwrap();
        assert!(last >= us(400) && last <= us(520), "settled at {last:?}");
        assert!(
            sleeps[10..].iter().all(|&s| s <= us(520)),
            "never late again: {sleeps:?}"
        );
    }

    #[test]
    fn one_answer_far_slower_than_usual_leaves_a_quick_actor_quick() {
        let (mut pace, mut t) = after_turns(40, 5);
        // Preempted once for 5 ms.
        turn(&mut pace, &mut t, 5000, 5);
        pace.signalled(t);
        assert!(pace.looks().count() > 0, "still spun for");
        assert_eq!(pace.quiet_until(), None, "not slept through");
    }

    #[test]
    fn a_slow_actor_gets_a_moment_after_its_turn_before_the_next_signal() {
        let (pace, t) = after_turns(200_000, 1000);
        let done = t - us(5);
        assert_eq!(pace.signal_not_before(), Some(done + TRAP_ENDS));
        let (quick, _t) = after_turns(40, 5);
        assert_eq!(
            quick.signal_not_before(),
            None,
            "a quick actor is told at once"
        );
    }

    #[test]
    fn the_pace_follows_the_actor_when_it_changes() {
        let (mut pace, mut t) = after_turns(2000, 5);
        let mut turns = 0;
        loop {
            pace.signalled(t);
            if pace.looks().count() > 0 {
                break;
            }
            turn(&mut pace, &mut t, 30, 5);
            turns += 1;
        }
        assert!(turns <= 12, "looked for again after {turns} quick answers");
    }

    #[test]
    fn mail_for_a_slow_busy_actor_waits_until_its_answer_is_well_overdue() {
        let (mut slow, t) = after_turns(1500, 400);
        assert_eq!(slow.mail_waits_until(), None, "not busy");
        slow.signalled(t);
        let until = slow.mail_waits_until().expect("slow, regular and busy");
        assert!(until > t + us(1900) * 2 && until < t + us(1900) * 4);
        slow.finished(t + us(1900));
        assert_eq!(slow.mail_waits_until(), None, "answered");

        let (mut quick, t) = after_turns(40, 5);
        quick.signalled(t);
        assert_eq!(
            quick.mail_waits_until(),
            None,
            "it answers before a wake-up"
        );
        let (mut shell, t) = after_turns(40_000, 1000);
        shell.signalled(t);
        assert_eq!(
            shell.mail_waits_until(),
            None,
            "too slow to keep mail from view"
        );
    }

    fn file(dir: Watched, name: &str, change: Change) -> Event {
        Event::File {
            dir,
            name: name.to_owned(),
            change,
            cookie: 0,
        }
    }

    #[test]
    fn mail_states_and_echoes_for_busy_actors_wait_and_anything_else_does_not() {
        let t = Instant::now();
        let (busy, other) = (
            ActorId::parse("busy").unwrap(),
            ActorId::parse("idle").unwrap(),
        );
        let waits = |id: &ActorId| (*id == busy).then_some(t + us(900));
        let mail = || file(Watched::Send, "busy::m1.json", Change::Arrived);
        let kept = [
            mail(),
            file(Watched::Actor(busy.clone()), layout::STATE, Change::Arrived),
            file(
                Watched::Spool(busy.clone()),
                "0001-m1.json",
                Change::Arrived,
            ),
            file(Watched::Spool(busy.clone()), "0000-m0.json", Change::Left),
            file(
                Watched::Spool(busy.clone()),
                layout::CURRENT,
                Change::Arrived,
            ),
        ];
        assert_eq!(can_wait(&kept, waits), Some(t + us(900)));
        assert_eq!(can_wait(&[], waits), None, "nothing to keep");

        let not_kept = [
            file(Watched::Spool(busy.clone()), layout::CURRENT, Change::Left),
            file(Watched::Send, "idle::m2.json", Change::Arrived),
            file(Watched::Send, "no name", Change::Arrived),
            file(
                Watched::Actor(busy.clone()),
                layout::PAUSED,
                Change::Arrived,
            ),
            file(Watched::Spool(other), "0001-m3.json", Change::Arrived),
            file(Watched::Control, "r.json", Change::Arrived),
            Event::Signal(nix::sys::signal::Signal::SIGCHLD),
        ];
        for event in not_kept {
            let batch = [mail(), event];
            assert_eq!(can_wait(&batch, waits), None, "{:?}", batch[1]);
        }
    }
}
