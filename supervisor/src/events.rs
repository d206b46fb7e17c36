//! Everything the supervisor reacts to, turned into one [`Event`] type in one place: signals
//! (through a signalfd, so they arrive as data in the event loop, never in a handler) and file
//! changes (through inotify, which is not recursive: each spool is watched as it appears).

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use eos::ActorId;
use nix::errno::Errno;
use nix::libc;
use nix::poll::{PollFd, PollFlags, ppoll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::time::TimeSpec;

/// A directory the supervisor watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watched {
    /// The root itself (for `paused`).
    Root,
    Spawn,
    Send,
    /// An actor's folder (for `paused`).
    Actor(ActorId),
    Spool(ActorId),
    /// Where an actor writes spawn requests for its children.
    Children(ActorId),
    /// An actor's `monitors/` and `links/`.
    Monitors(ActorId),
    Links(ActorId),
    /// Supervision trees.
    Trees,
    /// Fault rules.
    Faults,
    /// Breakpoints.
    Breakpoints,
    /// Invariants.
    Invariants,
    Dead,
    DeadSpawn,
    Control,
}

/// What happened to a file in a watched directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    /// Written and closed, or renamed in: complete, ready to read.
    Arrived,
    /// Deleted, or renamed away.
    Left,
}

#[derive(Debug)]
pub enum Event {
    Signal(Signal),
    File {
        dir: Watched,
        name: String,
        change: Change,
        /// Pairs the two halves of a rename (0 for anything else): a file renamed inside a
        /// watched folder, or from one to another, leaves and arrives with the same cookie.
        cookie: u32,
    },
    /// The kernel's event queue overflowed: some file events were lost, rescan everything.
    Overflow,
}

/// The signals the supervisor reads. Besides its own, the ones whose default action would kill
/// it and that others may send it by mistake or habit (the original `act cleanup` sent SIGUSR2):
/// they mean "look again", or nothing.
const SIGNALS: [Signal; 16] = [
    Signal::SIGUSR1,
    Signal::SIGCHLD,
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGHUP,
    Signal::SIGUSR2,
    Signal::SIGPIPE,
    Signal::SIGALRM,
    Signal::SIGVTALRM,
    Signal::SIGPROF,
    Signal::SIGIO,
    Signal::SIGPWR,
    Signal::SIGSTKFLT,
    Signal::SIGXCPU,
    Signal::SIGXFSZ,
];

pub struct Events {
    signals: SignalFd,
    inotify: Inotify,
    watches: HashMap<WatchDescriptor, Watched>,
}

impl Events {
    /// Blocks the handled signals (they are read from the signalfd instead) and starts
    /// inotify. Call before any thread or child process exists.
    pub fn new() -> Result<Self> {
        // Sleeps are short and timed to an answer: the default slack of 50 µs would make them
        // end late.
        if let Err(e) = nix::sys::prctl::set_timerslack(1000) {
            log::debug!("cannot set the timer slack: {e}");
        }
        let mut mask = SigSet::empty();
        for signal in SIGNALS {
            mask.add(signal);
        }
        mask.thread_block().context("blocking signals")?;
        // Real-time signals would end the process by default; nobody should send them, and
        // they mean nothing here. (Children get their default action back before exec.)
        for signal in libc::SIGRTMIN()..=libc::SIGRTMAX() {
            // SAFETY: setting a disposition to SIG_IGN installs no handler code.
            unsafe { libc::signal(signal, libc::SIG_IGN) };
        }
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .context("creating a signalfd")?;
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .context("starting inotify")?;
        Ok(Events {
            signals,
            inotify,
            watches: HashMap::new(),
        })
    }

    /// Starts watching `path` for files arriving, and leaving where that matters.
    pub fn watch(&mut self, path: &Path, dir: Watched) -> Result<()> {
        let arriving = AddWatchFlags::IN_CLOSE_WRITE
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_ONLYDIR
            | AddWatchFlags::IN_DONT_FOLLOW;
        // What leaves the inboxes (`send/`, `spawn/`, `control/`) and the piles of dead
        // letters is nothing to react to; watching it would only echo the supervisor's own
        // renames back to it.
        let flags = match dir {
            Watched::Root
            | Watched::Actor(_)
            | Watched::Spool(_)
            | Watched::Trees
            | Watched::Faults
            | Watched::Breakpoints
            | Watched::Invariants => {
                arriving | AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVED_FROM
            }
            Watched::Spawn
            | Watched::Send
            | Watched::Dead
            | Watched::DeadSpawn
            | Watched::Control
            | Watched::Children(_)
            | Watched::Monitors(_)
            | Watched::Links(_) => arriving,
        };
        let wd = self
            .inotify
            .add_watch(path, flags)
            .with_context(|| format!("watching {}", path.display()))?;
        self.watches.insert(wd, dir);
        Ok(())
    }

    /// Waits up to `timeout` (forever if `None`) and returns what happened, possibly nothing.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<Vec<Event>> {
        // ppoll: the timeout is exact to the microsecond, where poll's is in milliseconds.
        let timeout = timeout.map(TimeSpec::from_duration);
        let mut fds = [
            PollFd::new(self.signals.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.inotify.as_fd(), PollFlags::POLLIN),
        ];
        match ppoll(&mut fds, timeout, None) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e).context("waiting for events"),
        }
        let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
        let (signals, files) = (ready(&fds[0]), ready(&fds[1]));
        let mut events = Vec::new();
        // Only what poll said is readable: a read that would find nothing is a wasted syscall.
        if signals {
            self.read_signals(&mut events)?;
        }
        if files {
            self.read_files(&mut events)?;
        }
        Ok(events)
    }

    /// Waits up to `timeout` for signals only: file events that come meanwhile stay queued.
    pub fn wait_signals(&mut self, timeout: Duration) -> Result<Vec<Event>> {
        let mut fds = [PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
        match ppoll(&mut fds, Some(TimeSpec::from_duration(timeout)), None) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e).context("waiting for signals"),
        }
        let mut events = Vec::new();
        if fds[0].revents().is_some_and(|r| !r.is_empty()) {
            self.read_signals(&mut events)?;
        }
        Ok(events)
    }

    /// File events already queued, read without waiting or polling: after the supervisor's
    /// own renames their echo is known to be there, and one read costs less than a poll and a
    /// read. Signals wait for the next [`wait`](Self::wait).
    pub fn read_now(&mut self) -> Result<Vec<Event>> {
        let mut events = Vec::new();
        self.read_files(&mut events)?;
        Ok(events)
    }

    fn read_signals(&mut self, events: &mut Vec<Event>) -> Result<()> {
        loop {
            match self.signals.read_signal() {
                Ok(Some(info)) => {
                    if let Ok(signal) = Signal::try_from(info.ssi_signo as i32) {
                        events.push(Event::Signal(signal));
                    }
                }
                Ok(None) | Err(Errno::EAGAIN) => return Ok(()),
                Err(e) => return Err(e).context("reading signals"),
            }
        }
    }

    /// Reads one batch: whatever did not fit is still readable, and the next poll returns at
    /// once for it.
    fn read_files(&mut self, events: &mut Vec<Event>) -> Result<()> {
        {
            let batch = match self.inotify.read_events() {
                Ok(batch) => batch,
                Err(Errno::EAGAIN) => return Ok(()),
                Err(e) => return Err(e).context("reading file events"),
            };
            for event in batch {
                if event.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                    events.push(Event::Overflow);
                    continue;
                }
                if event.mask.contains(AddWatchFlags::IN_IGNORED) {
                    // The directory is gone (an actor's folder was removed).
                    self.watches.remove(&event.wd);
                    continue;
                }
                let (Some(dir), Some(name)) = (self.watches.get(&event.wd), event.name) else {
                    continue;
                };
                let Ok(name) = name.into_string() else {
                    continue;
                };
                let change = if event
                    .mask
                    .intersects(AddWatchFlags::IN_CLOSE_WRITE | AddWatchFlags::IN_MOVED_TO)
                {
                    Change::Arrived
                } else {
                    Change::Left
                };
                events.push(Event::File {
                    dir: dir.clone(),
                    name,
                    change,
                    cookie: event.cookie,
                });
            }
        }
        Ok(())
    }

    /// Stops watching an actor's folders (it is gone).
    pub fn forget(&mut self, id: &ActorId) {
        self.watches.retain(|_, w| {
            !matches!(w, Watched::Actor(a) | Watched::Spool(a) | Watched::Children(a)
                    | Watched::Monitors(a) | Watched::Links(a) if a == id)
        });
    }
}
