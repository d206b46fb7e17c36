//! The actor side of the protocol, for actors written in Rust.
//!
//! An actor is started with `<id> <state file> <message file> <send dir> <args...>`. It waits
//! for SIGUSR1, reads its state and the message, calls the handler, writes the new state
//! atomically and deletes the message. [`Actor::run`] does all of that:
//!
//! ```no_run
//! use eos::sdk::Actor;
//! fn main() -> anyhow::Result<()> {
//!     Actor::from_env()?.run(|_ctx, count: u64, _msg| Ok(count + 1))
//! }
//! ```
//!
//! SIGUSR1 is blocked and read from a signalfd, so the supervisor sees the actor as ready from
//! its first instruction on and no wake-up is lost between two messages. SIGTERM and SIGINT
//! end the loop after the message being handled.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::fd::AsFd;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::dead;
use crate::envelope::Envelope;
use crate::fsio;
use crate::id::{ActorId, MessageId};
use crate::layout::{self, ActorDir, Root};
use crate::numbers;
use crate::spawn_request::SpawnRequest;

/// The most an actor reads of a message or its state: a file that others can write is never
/// read without a bound.
const MAX_READ: u64 = 64 << 20;

/// The seed's argv: what every actor is started with.
#[derive(Debug, Clone)]
pub struct Args {
    pub id: ActorId,
    pub state_file: PathBuf,
    pub message_file: PathBuf,
    pub send_dir: PathBuf,
    /// The arguments of the spawn request.
    pub extra: Vec<String>,
}

impl Args {
    /// The actor's folder: beside its state file (the root is the send folder's parent).
    pub fn actor_dir(&self) -> ActorDir {
        Root::from_send_dir(&self.send_dir)
            .unwrap_or_else(|| Root::new(self.send_dir.parent().unwrap_or(Path::new("/"))))
            .actor(&self.id)
    }

    /// Reads the process's own argv.
    pub fn from_env() -> Result<Self> {
        Self::parse(std::env::args_os().skip(1))
    }

    pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Self> {
        let mut args = args.into_iter();
        let mut next = |what: &str| {
            args.next().ok_or_else(|| {
                anyhow!(
                    "missing {what}: an actor is started as \
                     <id> <state file> <message file> <send dir> [args...]"
                )
            })
        };
        let id = next("the actor id")?;
        let id = ActorId::parse(&id.to_string_lossy()).map_err(|e| anyhow!(e))?;
        let state_file = next("the state file")?.into();
        let message_file = next("the message file")?.into();
        let send_dir = next("the send directory")?.into();
        let extra = args.map(|a| a.to_string_lossy().into_owned()).collect();
        Ok(Args {
            id,
            state_file,
            message_file,
            send_dir,
            extra,
        })
    }
}

/// What a handler can do besides returning the new state.
pub struct Context<'a> {
    args: &'a Args,
    handling: Option<MessageId>,
    outbox: Vec<(ActorId, Envelope)>,
    spawns: Vec<SpawnRequest>,
    watches: Vec<Watch>,
}

/// Whom a handler asked to watch, kept until it succeeds.
enum Watch {
    Monitor(ActorId),
    Link(ActorId),
}

impl Context<'_> {
    /// This actor's id.
    pub fn id(&self) -> &ActorId {
        &self.args.id
    }

    /// The arguments of the spawn request.
    pub fn args(&self) -> &[String] {
        &self.args.extra
    }

    /// Sends `payload` to the actor `to`, once the handler has returned successfully (a failed
    /// handler sends nothing). Returns the new message's id.
    pub fn send(&mut self, to: &str, payload: Value) -> Result<MessageId> {
        let to = ActorId::parse(to).map_err(|e| anyhow!("cannot send: {e}"))?;
        let id = MessageId::generate();
        let mut envelope = Envelope::new(id.clone(), Some(self.args.id.clone()), payload);
        envelope.cause = self.handling.clone();
        self.outbox.push((to, envelope));
        Ok(id)
    }

    /// Sends `payload` to `to` as a timer: it waits in the receiver's spool until `ms` from now
    /// (the file shows when it is due), once the handler has returned successfully.
    pub fn send_after(&mut self, to: &str, payload: Value, ms: u64) -> Result<MessageId> {
        let id = self.send(to, payload)?;
        if let Some((_, envelope)) = self.outbox.last_mut() {
            let due = crate::clock::now_us() / 1000 + ms;
            envelope
                .extra
                .insert(crate::envelope::DUE.into(), Value::from(due));
        }
        Ok(id)
    }

    /// Spawns a child that this actor supervises (one_for_one, `permanent` unless the request
    /// says), once the handler has returned successfully. Returns the child's id (made up from
    /// the program's name when the request has none).
    pub fn spawn(&mut self, mut request: SpawnRequest) -> Result<ActorId> {
        let id = request.id.clone().unwrap_or_else(|| {
            let stem = std::path::Path::new(&request.path)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            ActorId::generate(&stem)
        });
        request.id = Some(id.clone());
        self.spawns.push(request);
        Ok(id)
    }

    /// This actor's key-value storage (`running/<id>/store/<key>.json`): `store`, `load`,
    /// `delete`, `exists`. Writes take effect at once.
    pub fn storage(&self) -> crate::store::Store {
        crate::store::Store::of(&self.args.actor_dir())
    }

    /// Records `value` in this actor's series `name` (a line in the root's `metrics.jsonl`,
    /// shown by `eos metrics`), at once.
    pub fn plot(&self, name: &str, value: f64) -> Result<()> {
        let root = self.args.actor_dir();
        let root = root
            .path()
            .parent()
            .and_then(Path::parent)
            .map(Root::new)
            .ok_or_else(|| anyhow!("this actor's folder is not in a root"))?;
        let sample = crate::metrics::Sample {
            us: crate::clock::now_us(),
            actor: self.args.id.to_string(),
            series: crate::metrics::Series::Plot {
                name: name.to_owned(),
                value,
            },
        };
        crate::metrics::append(&root, &[sample]).context("writing metrics.jsonl")
    }

    /// Monitors `id`: whenever it exits (or if it does not run), this actor receives a message
    /// from the system, `{"eos": "down", "actor": id, "reason": ..., "via": "monitor"}`.
    pub fn monitor(&mut self, id: &str) -> Result<()> {
        let id = ActorId::parse(id).map_err(|e| anyhow!("cannot monitor: {e}"))?;
        self.watches.push(Watch::Monitor(id));
        Ok(())
    }

    /// Links this actor with `id`: when either exits abnormally the other is stopped, unless
    /// it traps exits (a `trap_exits` file in its folder), when it gets a `down` message.
    pub fn link(&mut self, id: &str) -> Result<()> {
        let id = ActorId::parse(id).map_err(|e| anyhow!("cannot link: {e}"))?;
        self.watches.push(Watch::Link(id));
        Ok(())
    }
}

/// A handler's error that leaves the message in place, to be tried again at the next signal:
/// for a problem that fixing something other than the message solves (a script that does not
/// compile). The supervisor signals again while `current` is there.
#[derive(Debug)]
pub struct Defer(pub String);

impl std::fmt::Display for Defer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Defer {}

/// A running actor: its argv and the signalfd it waits on.
pub struct Actor {
    args: Args,
    root: Root,
    signals: SignalFd,
    /// The current message could not be handled yet (deferred, or its state could not be
    /// written): it stays, and is tried again shortly without waiting for another signal.
    retry: bool,
}

/// How soon a message that could not be handled yet is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// How often a watched file is looked at when it cannot be watched.
const LOOK_AGAIN: Duration = Duration::from_secs(2);

impl Actor {
    /// Reads argv and gets ready for SIGUSR1. Call it first thing in `main`.
    pub fn from_env() -> Result<Self> {
        Self::new(Args::from_env()?)
    }

    pub fn new(args: Args) -> Result<Self> {
        let signals = signal_fd(&[Signal::SIGUSR1, Signal::SIGTERM, Signal::SIGINT])?;
        let root = Root::from_send_dir(&args.send_dir)
            .ok_or_else(|| anyhow!("the send directory has no parent"))?;
        Ok(Actor {
            args,
            root,
            signals,
            retry: false,
        })
    }

    pub fn args(&self) -> &Args {
        &self.args
    }

    /// This actor's folder, `running/<id>/`.
    pub fn dir(&self) -> ActorDir {
        self.root.actor(&self.args.id)
    }

    /// Handles messages until SIGTERM or SIGINT. The state is read from the state file before
    /// every message (a person may have edited it); `null` or a missing file reads as
    /// `S::default()`.
    pub fn run<S, F>(self, handler: F) -> Result<()>
    where
        S: Serialize + DeserializeOwned + Default,
        F: FnMut(&mut Context, S, Envelope) -> Result<S>,
    {
        self.run_watching(None, || {}, handler)
    }

    /// [`run`](Self::run), and also calls `changed` as soon as the file `watch` is written or
    /// replaced (an actor's script, say); a message waiting to be tried again is tried then.
    pub fn run_watching<S, F, C>(
        mut self,
        watch: Option<&Path>,
        mut changed: C,
        mut handler: F,
    ) -> Result<()>
    where
        S: Serialize + DeserializeOwned + Default,
        F: FnMut(&mut Context, S, Envelope) -> Result<S>,
        C: FnMut(),
    {
        // Inotify instances are limited per user (128 by default): past that, the file is
        // looked at every few seconds instead.
        let watcher = watch.and_then(|path| {
            Watcher::new(path)
                .inspect_err(|e| {
                    note(format_args!(
                        "cannot watch {} ({e:#}); it is looked at every {}s instead",
                        path.display(),
                        LOOK_AGAIN.as_secs()
                    ));
                })
                .ok()
        });
        let look_again = (watch.is_some() && watcher.is_none()).then_some(LOOK_AGAIN);
        if watch.is_some() {
            // Written between the caller's first look and the watch: seen now.
            changed();
        }
        loop {
            if self.handle_current(&mut handler)? {
                continue;
            }
            let wait = [self.retry.then_some(RETRY), look_again]
                .into_iter()
                .flatten()
                .min();
            let timeout = match wait {
                Some(wait) => PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX),
                None => PollTimeout::NONE,
            };
            // Waiting for mail: what only starting needed is given back (once).
            crate::rest::first_rest();
            let mut fds = vec![PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
            if let Some(w) = &watcher {
                fds.push(PollFd::new(w.inotify.as_fd(), PollFlags::POLLIN));
            }
            match poll(&mut fds, timeout) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e).context("waiting for a signal"),
            }
            let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
            let (signalled, touched) = (ready(&fds[0]), fds.get(1).is_some_and(ready));
            drop(fds);
            if (touched && watcher.as_ref().is_some_and(Watcher::changed))
                || (look_again.is_some() && !signalled && !touched)
            {
                changed();
            }
            if signalled
                && let Some(info) = self.signals.read_signal().context("reading a signal")?
            {
                let signo = info.ssi_signo as i32;
                if signo == Signal::SIGTERM as i32 || signo == Signal::SIGINT as i32 {
                    return Ok(());
                }
            }
        }
    }

    /// Handles the current message, if there is one. Returns whether there was.
    pub fn handle_current<S, F>(&mut self, handler: &mut F) -> Result<bool>
    where
        S: Serialize + DeserializeOwned + Default,
        F: FnMut(&mut Context, S, Envelope) -> Result<S>,
    {
        let bytes = match fsio::read_limited(&self.args.message_file, MAX_READ) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.retry = false;
                return Ok(false);
            }
            Err(e) => {
                // Not a file that can be read (a FIFO, a link, too large): it goes, with why.
                self.set_aside(None, &format!("the message cannot be read: {e}"))?;
                return Ok(true);
            }
        };
        let envelope = serde_json::from_slice::<Envelope>(&bytes)
            .map_err(|e| format!("the message is not a valid envelope: {e}"))
            .and_then(|envelope| {
                numbers::check_exact(&bytes)
                    .map(|()| envelope)
                    .map_err(|e| format!("the message cannot be delivered unchanged: {e}"))
            });
        let envelope = match envelope {
            Ok(envelope) => envelope,
            Err(reason) => {
                self.set_aside(None, &reason)?;
                return Ok(true);
            }
        };
        let id = envelope.id.clone();
        let state = match self.read_state::<S>() {
            Ok(state) => state,
            Err(e) => {
                self.set_aside(id.as_ref(), &format!("{e:#}"))?;
                return Ok(true);
            }
        };
        let mut ctx = Context {
            args: &self.args,
            handling: id.clone(),
            outbox: Vec::new(),
            spawns: Vec::new(),
            watches: Vec::new(),
        };
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| handler(&mut ctx, state, envelope)));
        let new_state = match outcome {
            Ok(Ok(state)) => state,
            Ok(Err(e)) if e.downcast_ref::<Defer>().is_some() => {
                self.retry = true;
                return Ok(false);
            }
            Ok(Err(e)) => {
                self.set_aside(id.as_ref(), &format!("the handler failed: {e:#}"))?;
                return Ok(true);
            }
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                self.set_aside(id.as_ref(), &format!("the handler panicked: {what}"))?;
                return Ok(true);
            }
        };
        // Sends first, then the state, then the message is done: a crash in between means the
        // message is delivered again (at-least-once), never that an effect is half-made.
        // A send or the state that cannot be written (a full disk, say) leaves the message
        // where it is, to be tried again: it is never lost, and never deleted unrecorded.
        let dir = self.dir();
        let scratch = dir.scratch_dir();
        let written = ctx
            .outbox
            .into_iter()
            .try_for_each(|(to, envelope)| envelope.post_via(&scratch, &self.root, &to).map(drop))
            .and_then(|()| {
                ctx.spawns.iter().try_for_each(|request| {
                    let name = format!("{}.json", request.id.as_ref().map_or("", |i| i.as_str()));
                    fsio::write_json_atomic_via(&scratch, &dir.spawn_dir().join(name), request)
                })
            })
            .and_then(|()| {
                ctx.watches.iter().try_for_each(|watch| {
                    let (folder, id) = match watch {
                        Watch::Monitor(id) => (dir.monitors_dir(), id),
                        Watch::Link(id) => (dir.links_dir(), id),
                    };
                    fsio::write_atomic_via(&scratch, &folder.join(id.as_str()), b"")
                        .with_context(|| format!("writing {}", folder.display()))
                })
            })
            .and_then(|()| {
                fsio::write_json_atomic_via(&scratch, &self.args.state_file, &new_state)
            });
        if let Err(e) = written {
            note(format_args!("{e:#}; the message stays and is tried again"));
            self.retry = true;
            return Ok(false);
        }
        self.retry = false;
        match fs::remove_file(&self.args.message_file) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(e).context("deleting the current message")
            }
            _ => Ok(true),
        }
    }

    fn read_state<S: DeserializeOwned + Default>(&self) -> Result<S> {
        let path = &self.args.state_file;
        let value: Value = match fsio::read_limited(path, MAX_READ) {
            Ok(bytes) => {
                let value = serde_json::from_slice(&bytes)
                    .with_context(|| format!("{} is not valid JSON", path.display()))?;
                numbers::check_exact(&bytes).map_err(|e| anyhow!("{}: {e}", path.display()))?;
                value
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Value::Null,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        if value.is_null() {
            return Ok(S::default());
        }
        serde_json::from_value(value).with_context(|| {
            format!(
                "{} does not have the shape this actor expects",
                path.display()
            )
        })
    }

    /// Moves the current message to the dead letters with `reason` beside it, and keeps the
    /// reason as the actor's last error.
    fn set_aside(&self, id: Option<&MessageId>, reason: &str) -> Result<()> {
        set_aside_current(&self.args, id, reason)
    }
}

/// Blocks `signals` and returns a signalfd to read them from: a process is ready for SIGUSR1
/// from this moment on, and no signal is lost between two reads.
pub fn signal_fd(signals: &[Signal]) -> Result<SignalFd> {
    let mut mask = SigSet::empty();
    for &signal in signals {
        mask.add(signal);
    }
    mask.thread_block().context("blocking signals")?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC).context("creating a signalfd")
}

/// Writes a line to the actor's log (its standard error). Never fails: a log that cannot be
/// written (a full disk) must not take the actor down, as `eprintln!` would.
pub fn note(line: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// Gives up on the current message: it goes to the dead letters with `reason` beside it
/// (under its id, or a fresh one), and the reason is kept as the actor's last error. Callable
/// from any thread, such as a watchdog that finds a handler stuck.
pub fn set_aside_current(args: &Args, id: Option<&MessageId>, reason: &str) -> Result<()> {
    let root = Root::from_send_dir(&args.send_dir)
        .ok_or_else(|| anyhow!("the send directory has no parent"))?;
    let id = id.cloned().unwrap_or_else(MessageId::generate);
    let name = layout::dead_letter_name(&args.id, &id);
    let last_error = format!(
        "{reason}\n\nmessage: {id} (now in dead/{name})\nat: {} (seconds since the Unix epoch)\n",
        crate::status::unix_now()
    );
    let last_error_file = root.actor(&args.id).last_error_file();
    if let Err(e) = fsio::write_atomic(&last_error_file, last_error.as_bytes()) {
        note(format_args!("cannot write last_error.txt: {e}"));
    }
    match dead::set_aside(&args.message_file, &root.dead_dir(), &name, reason) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => bail!("could not set the message aside ({reason}): {e}"),
    }
}

/// Watches one file for being written or replaced, through its folder (an editor that saves by
/// renaming replaces the file, and a watch on the file itself would go with the old one).
struct Watcher {
    inotify: Inotify,
    name: std::ffi::OsString,
}

impl Watcher {
    fn new(file: &Path) -> Result<Self> {
        let dir = file
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = file.file_name().unwrap_or_default().to_os_string();
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        inotify
            .add_watch(
                dir,
                AddWatchFlags::IN_CLOSE_WRITE
                    | AddWatchFlags::IN_MOVED_TO
                    | AddWatchFlags::IN_CREATE,
            )
            .with_context(|| format!("watching {}", dir.display()))?;
        Ok(Watcher { inotify, name })
    }

    /// Whether the events waiting are about the file.
    fn changed(&self) -> bool {
        let mut hit = false;
        while let Ok(events) = self.inotify.read_events() {
            if events.is_empty() {
                break;
            }
            hit |= events
                .iter()
                .any(|e| e.name.as_deref() == Some(self.name.as_os_str()));
        }
        hit
    }
}
