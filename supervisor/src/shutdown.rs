//! Stopping. Every actor gets SIGTERM and up to the grace period to exit, then SIGKILL. Then:
//! - on SIGTERM or SIGINT, the actors' folders are removed, as in the original EOS; messages
//!   that were never handled are not deleted with them but go to `dead/` with a reason;
//! - on SIGQUIT, everything stays on disk and the next supervisor starts the actors again.
//!
//! (SIGKILL cannot be caught: a killed supervisor leaves everything on disk, like SIGQUIT.)

use std::fs;
use std::time::{Duration, Instant};

use anyhow::Result;
use eos::{ActorId, Envelope, MessageId, fsio, layout, mailbox};
use log::{info, warn};
use nix::sys::signal::Signal;

use crate::events::Event;
use crate::supervisor::{Stop, Supervisor};

/// How long to wait for processes to vanish after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(5);

impl Supervisor {
    pub(crate) fn shutdown(mut self, stop: Stop) -> Result<()> {
        self.settle_routed();
        self.stopping = Some(stop);
        let running = self.signal_all(Signal::SIGTERM);
        if running > 0 {
            info!(
                "shutting down: asked {running} actor(s) to stop, waiting up to {:?}",
                self.config.grace
            );
        }
        let interrupted = self.wait_for_exits(Instant::now() + self.config.grace, true)?;
        if interrupted {
            warn!("asked again to stop: not waiting for the actors any longer");
        }
        let killed = self.signal_all(Signal::SIGKILL);
        if killed > 0 {
            warn!("{killed} actor(s) did not stop in time: killed");
            self.wait_for_exits(Instant::now() + KILL_WAIT, false)?;
        }
        let left = crate::process::kill_leftovers(&self.root, None, &[]);
        if left > 0 {
            warn!("killed {left} process(es) the actors left behind");
        }
        let ids = self.registry.ids();
        match stop {
            Stop::Clean => {
                for id in &ids {
                    self.clear_out(id);
                }
                info!("stopped; removed {} actor(s)", ids.len());
            }
            Stop::Keep => info!(
                "stopped; {} actor(s) kept on disk for the next start",
                ids.len()
            ),
        }
        self.history.flush();
        Ok(())
    }

    /// Sends `signal` to every running actor; returns how many there were.
    fn signal_all(&mut self, signal: Signal) -> usize {
        let mut sent = 0;
        for actor in self.registry.iter_mut() {
            actor.lifecycle.stopping();
            if actor
                .lifecycle
                .process()
                .is_some_and(|p| p.signal(signal).is_ok())
            {
                sent += 1;
            }
        }
        sent
    }

    /// Reaps until no actor runs or `deadline` passes. With `interruptible`, a second SIGTERM
    /// or SIGINT ends the wait early (returns true).
    fn wait_for_exits(&mut self, deadline: Instant, interruptible: bool) -> Result<bool> {
        self.reap();
        while self.registry.iter().any(|a| a.lifecycle.is_running()) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            for event in self.events.wait(Some(deadline - now))? {
                match event {
                    Event::Signal(Signal::SIGCHLD) => self.reap(),
                    Event::Signal(Signal::SIGTERM | Signal::SIGINT) if interruptible => {
                        return Ok(true);
                    }
                    _ => {}
                }
            }
        }
        Ok(false)
    }

    /// Removes an actor's folder after setting aside every message it did not handle.
    fn clear_out(&mut self, id: &ActorId) {
        let Some(actor) = self.registry.get(id) else {
            return;
        };
        let dir = actor.dir.clone();
        let spool = dir.spool_dir();
        let mut unhandled = mailbox::pending(&spool).unwrap_or_default();
        if dir.current_file().exists() {
            unhandled.insert(0, layout::CURRENT.to_owned());
        }
        for name in unhandled {
            let message_id = layout::pending_message_id(&name)
                .or_else(|| envelope_id(&spool.join(&name)))
                .unwrap_or_else(MessageId::generate);
            self.intake.set_aside_message(
                &mut self.history,
                &spool.join(&name),
                id,
                &message_id,
                &format!("not delivered to `{id}`: the supervisor shut down first"),
            );
        }
        self.events.forget(id);
        if let Err(e) = fs::remove_dir_all(dir.path()) {
            warn!("cannot remove {}: {e}", dir.path().display());
        }
    }
}

/// The id inside a message file (for `current`, whose name does not carry it).
fn envelope_id(path: &std::path::Path) -> Option<MessageId> {
    fsio::read_json::<Envelope>(path).ok()?.id
}
