//! The deadline of a script call, kept without a thread hand-off per message.
//!
//! Calls run on the actor's own thread. A watchdog thread, started once, notes when a call
//! began (an atomic, no system call) and sleeps until that call's deadline; it parks while the
//! actor is idle and is woken only when a call starts after a pause. A call still running at
//! its deadline is stuck where no instruction budget counts (a native call such as `sleep`):
//! the watchdog sets the message aside with the reason and starts the actor's program afresh
//! in the same process (`exec`), so the actor keeps its pid, its state and its mailbox, and no
//! stuck thread is left behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// What to do with a call that passed its deadline; never returns.
pub type Overdue = Box<dyn Fn(Kind) + Send + Sync>;

/// Which call is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Init,
    Handle,
}

struct Shared {
    epoch: Instant,
    /// When the running call began (µs since `epoch`, plus one); 0 while none runs.
    began: AtomicU64,
    /// Bumped for every call, so a finished call's deadline is not taken for the next one's.
    calls: AtomicU64,
    /// The running call's kind (true: init).
    init: AtomicBool,
    /// Set by whichever side decides first: the call finishing, or the watchdog giving up.
    decided: AtomicBool,
    parked: AtomicBool,
}

pub struct Watchdog {
    shared: Arc<Shared>,
    thread: Thread,
}

/// A call under watch; [`finish`](Guard::finish) says whether its result may be used.
pub struct Guard<'a> {
    watchdog: &'a Watchdog,
}

impl Watchdog {
    pub fn start(deadline: Duration, overdue: Overdue) -> Self {
        let shared = Arc::new(Shared {
            epoch: Instant::now(),
            began: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            init: AtomicBool::new(false),
            decided: AtomicBool::new(false),
            parked: AtomicBool::new(false),
        });
        let watched = shared.clone();
        let handle = thread::spawn(move || watch(&watched, deadline, &overdue));
        Watchdog {
            shared,
            thread: handle.thread().clone(),
        }
    }

    /// A call begins.
    pub fn begin(&self, kind: Kind) -> Guard<'_> {
        let s = &self.shared;
        s.decided.store(false, Ordering::SeqCst);
        s.init.store(kind == Kind::Init, Ordering::SeqCst);
        s.calls.fetch_add(1, Ordering::SeqCst);
        let now = s.epoch.elapsed().as_micros() as u64 + 1;
        s.began.store(now, Ordering::SeqCst);
        if s.parked.swap(false, Ordering::SeqCst) {
            self.thread.unpark();
        }
        Guard { watchdog: self }
    }
}

impl Guard<'_> {
    /// The call returned. `false`: too late, the watchdog gave up on it (and is replacing the
    /// process); its result must not be used.
    pub fn finish(self) -> bool {
        let s = &self.watchdog.shared;
        let first = !s.decided.swap(true, Ordering::SeqCst);
        s.began.store(0, Ordering::SeqCst);
        first
    }
}

fn watch(s: &Shared, deadline: Duration, overdue: &Overdue) {
    loop {
        let calls = s.calls.load(Ordering::SeqCst);
        let began = s.began.load(Ordering::SeqCst);
        if began == 0 {
            s.parked.store(true, Ordering::SeqCst);
            // A call that began just now would not have seen us parked.
            if s.began.load(Ordering::SeqCst) == 0 {
                thread::park();
            }
            s.parked.store(false, Ordering::SeqCst);
            continue;
        }
        let due = Duration::from_micros(began - 1) + deadline;
        let now = s.epoch.elapsed();
        if now < due {
            thread::sleep(due - now);
            continue;
        }
        let same_call = s.calls.load(Ordering::SeqCst) == calls;
        if same_call && !s.decided.swap(true, Ordering::SeqCst) {
            let kind = if s.init.load(Ordering::SeqCst) {
                Kind::Init
            } else {
                Kind::Handle
            };
            overdue(kind);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::mpsc;

    use super::*;

    #[test]
    fn a_call_that_returns_in_time_is_kept_and_a_stuck_one_is_given_up() {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let dog = Watchdog::start(
            Duration::from_millis(100),
            Box::new(move |kind| {
                let _ = tx.lock().map(|t| t.send(kind));
            }),
        );
        for _ in 0..100 {
            assert!(dog.begin(Kind::Handle).finish());
        }
        // Idle for a while: the watchdog parks, and wakes for the next call.
        thread::sleep(Duration::from_millis(250));
        let stuck = dog.begin(Kind::Init);
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(Kind::Init));
        assert!(!stuck.finish(), "given up: its result is not used");
        assert!(rx.try_recv().is_err(), "one call, one verdict");
    }
}
