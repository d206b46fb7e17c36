//! The lifecycle of one actor's process: every state it can be in and every transition, in one
//! place. It does no I/O of its own: the process is behind the [`Process`] trait, so the state
//! machine is tested with a fake.
//!
//! ```text
//!   start ──> Starting ──(catches or blocks SIGUSR1)──> Ready
//!                │                                        │
//!                └───────(exit / kill / cannot start)─────┴──> Exited{reason}
//!   shutdown: Starting | Ready ──> Stopping ──(exit)──> Exited
//! ```

use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

/// A running process, as the lifecycle needs it.
pub trait Process: fmt::Debug {
    fn pid(&self) -> u32;
    fn signal(&self, signal: Signal) -> io::Result<()>;
    /// Whether it catches or blocks SIGUSR1, so that the signal cannot kill it.
    fn takes_usr1(&self) -> io::Result<bool>;
}

impl Process for eos::pidfd::Pidfd {
    fn pid(&self) -> u32 {
        eos::pidfd::Pidfd::pid(self)
    }

    fn signal(&self, signal: Signal) -> io::Result<()> {
        eos::pidfd::Pidfd::signal(self, signal)
    }

    fn takes_usr1(&self) -> io::Result<bool> {
        self.is_ready_for(Signal::SIGUSR1)
    }
}

/// Why an actor is not running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitReason {
    /// The process exited with this code.
    Code(i32),
    /// The process was killed by this signal.
    Signal(String),
    /// It could not be started (the program is gone, the record unreadable, …).
    CannotStart(String),
    /// It was not running when this supervisor started, and has not been started since.
    Found,
    /// The supervisor stopped it (shutdown).
    Stopped,
}

/// Longest wait between two checks of whether a starting actor takes SIGUSR1 yet.
const MAX_READY_BACKOFF: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub enum Lifecycle {
    /// Started, but not yet seen catching or blocking SIGUSR1: signalling it now could kill it.
    Starting {
        process: Box<dyn Process>,
        next_check: Instant,
        backoff: Duration,
    },
    /// Takes SIGUSR1.
    Ready { process: Box<dyn Process> },
    /// Asked to stop (shutdown); waiting for it to exit.
    Stopping { process: Box<dyn Process> },
    /// Not running.
    Exited { reason: ExitReason },
}

impl Lifecycle {
    /// A process was just started: it is checked for readiness at once, then less often.
    pub fn started(process: Box<dyn Process>, now: Instant) -> Self {
        Lifecycle::Starting {
            process,
            next_check: now,
            backoff: Duration::from_millis(1),
        }
    }

    pub fn exited(reason: ExitReason) -> Self {
        Lifecycle::Exited { reason }
    }

    /// The process, while there is one.
    pub fn process(&self) -> Option<&dyn Process> {
        match self {
            Lifecycle::Starting { process, .. }
            | Lifecycle::Ready { process }
            | Lifecycle::Stopping { process } => Some(process.as_ref()),
            Lifecycle::Exited { .. } => None,
        }
    }

    pub fn is_running(&self) -> bool {
        self.process().is_some()
    }

    pub fn is_ready(&self) -> bool {
        matches!(self, Lifecycle::Ready { .. })
    }

    /// When a starting process is next due for a readiness check.
    pub fn next_check(&self) -> Option<Instant> {
        match self {
            Lifecycle::Starting { next_check, .. } => Some(*next_check),
            _ => None,
        }
    }

    /// Whether the process takes SIGUSR1 now. A starting process is checked no sooner than its
    /// next check time, with a growing interval, and becomes `Ready` once it does.
    pub fn poll_ready(&mut self, now: Instant) -> bool {
        let Lifecycle::Starting {
            process,
            next_check,
            backoff,
        } = self
        else {
            return self.is_ready();
        };
        if now < *next_check {
            return false;
        }
        if !process.takes_usr1().unwrap_or(false) {
            *next_check = now + *backoff;
            *backoff = (*backoff * 2).min(MAX_READY_BACKOFF);
            return false;
        }
        let ready = std::mem::replace(self, Lifecycle::exited(ExitReason::Found));
        if let Lifecycle::Starting { process, .. } = ready {
            *self = Lifecycle::Ready { process };
        }
        true
    }

    /// The supervisor asks the process to stop (it is sent SIGTERM by the caller).
    pub fn stopping(&mut self) {
        let old = std::mem::replace(self, Lifecycle::exited(ExitReason::Stopped));
        *self = match old {
            Lifecycle::Starting { process, .. }
            | Lifecycle::Ready { process }
            | Lifecycle::Stopping { process } => Lifecycle::Stopping { process },
            exited => exited,
        };
    }

    /// The process ended (reaped), or could not be started.
    pub fn exit(&mut self, reason: ExitReason) {
        let reason = match self {
            Lifecycle::Stopping { .. } => ExitReason::Stopped,
            _ => reason,
        };
        *self = Lifecycle::Exited { reason };
    }

    /// One word, for logs.
    pub fn word(&self) -> &'static str {
        match self {
            Lifecycle::Starting { .. } => "starting",
            Lifecycle::Ready { .. } => "ready",
            Lifecycle::Stopping { .. } => "stopping",
            Lifecycle::Exited { .. } => "exited",
        }
    }
}

#[cfg(test)]
pub mod fake {
    //! A process that does what the test says.
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use super::*;

    #[derive(Debug, Default)]
    pub struct Shared {
        pub ready: Cell<bool>,
        pub gone: Cell<bool>,
        pub signals: RefCell<Vec<Signal>>,
        pub checks: Cell<u32>,
    }

    #[derive(Debug, Default, Clone)]
    pub struct FakeProcess(pub Rc<Shared>);

    impl Process for FakeProcess {
        fn pid(&self) -> u32 {
            4242
        }

        fn signal(&self, signal: Signal) -> io::Result<()> {
            if self.0.gone.get() {
                return Err(io::Error::from_raw_os_error(nix::libc::ESRCH));
            }
            self.0.signals.borrow_mut().push(signal);
            Ok(())
        }

        fn takes_usr1(&self) -> io::Result<bool> {
            self.0.checks.set(self.0.checks.get() + 1);
            Ok(self.0.ready.get())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeProcess;
    use super::*;

    #[test]
    fn a_process_becomes_ready_once_it_takes_usr1_and_is_checked_less_often() {
        let fake = FakeProcess::default();
        let t0 = Instant::now();
        let mut life = Lifecycle::started(Box::new(fake.clone()), t0);
        assert!(!life.poll_ready(t0));
        assert_eq!(fake.0.checks.get(), 1);
        // Not due yet: no look at the process.
        assert!(!life.poll_ready(t0));
        assert_eq!(fake.0.checks.get(), 1);
        let mut t = t0;
        for _ in 0..12 {
            t = life.next_check().unwrap();
            assert!(!life.poll_ready(t));
        }
        let gap = life.next_check().unwrap() - t;
        assert_eq!(gap, MAX_READY_BACKOFF, "the interval grows to its cap");
        fake.0.ready.set(true);
        assert!(life.poll_ready(life.next_check().unwrap()));
        assert!(life.is_ready() && life.is_running());
        assert_eq!(life.next_check(), None);
    }

    #[test]
    fn exits_keep_their_reason_and_a_stopped_actor_is_stopped_whatever_killed_it() {
        let mut life = Lifecycle::started(Box::new(FakeProcess::default()), Instant::now());
        life.exit(ExitReason::Code(3));
        assert!(matches!(
            life,
            Lifecycle::Exited {
                reason: ExitReason::Code(3)
            }
        ));
        assert!(life.process().is_none());

        let mut life = Lifecycle::started(Box::new(FakeProcess::default()), Instant::now());
        life.stopping();
        assert_eq!(life.word(), "stopping");
        assert!(life.process().is_some(), "still there until it exits");
        life.exit(ExitReason::Signal("SIGKILL".into()));
        assert!(matches!(
            life,
            Lifecycle::Exited {
                reason: ExitReason::Stopped
            }
        ));
        // Nothing to stop: stays exited.
        life.stopping();
        assert!(!life.is_running());
    }
}
