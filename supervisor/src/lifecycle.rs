//! The actor lifecycle: starting a process, noticing its exit (SIGCHLD, then `waitpid`, which
//! also reaps orphans when the supervisor is PID 1), and bringing actors back from disk when a
//! supervisor starts on a root that already has them.

use std::fs;
use std::io;

use anyhow::{Context, Result};
use eos::envelope::mark_redelivered;
use eos::journal::Event;
use eos::spawn_request::SpawnRequest;
use eos::status::{ActorStatus, unix_now};
use eos::{ActorId, fsio, layout, mailbox};
use log::{error, info, warn};
use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use serde_json::Value;

use crate::actor::{Current, Process};
use crate::process;
use crate::supervisor::{Stop, Supervisor};

impl Supervisor {
    /// Starts the actor's process from its record; the outcome goes to `status.json`.
    pub(crate) fn start(&mut self, id: &ActorId) {
        let Some(actor) = self.actors.get_mut(id) else {
            return;
        };
        actor.starts += 1;
        let status = match &actor.record {
            None => ActorStatus::Failed {
                error: "spawn.json is missing or unreadable, so the actor cannot be started".into(),
                at: unix_now(),
                starts: actor.starts,
            },
            Some(record) => match process::launch(&self.root, id, record) {
                Ok(pidfd) => {
                    let pid = pidfd.pid();
                    if let Err(e) =
                        fsio::write_atomic(&actor.dir.pid_file(), format!("{pid}\n").as_bytes())
                    {
                        warn!("cannot write the .pid of {id}: {e}");
                    }
                    self.by_pid.insert(pid, id.clone());
                    actor.process = Process::starting(pidfd);
                    info!("started {id} (pid {pid}): {}", record.path);
                    ActorStatus::Running {
                        pid,
                        since: unix_now(),
                        starts: actor.starts,
                    }
                }
                Err(e) => {
                    error!("cannot start {id}: {e}");
                    ActorStatus::Failed {
                        error: format!("starting {} failed: {e}", record.path),
                        at: unix_now(),
                        starts: actor.starts,
                    }
                }
            },
        };
        if let Err(e) = fsio::write_json_atomic(&actor.dir.status_file(), &status) {
            warn!("cannot write the status of {id}: {e:#}");
        }
    }

    /// Collects every exited child: actors are marked exited; anything else (an orphan
    /// adopted while running as PID 1) is just reaped.
    pub(crate) fn reap(&mut self) {
        loop {
            let (pid, code, signal) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, Some(code), None),
                Ok(WaitStatus::Signaled(pid, signal, _)) => (pid, None, Some(signal)),
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Ok(_) => continue,
                Err(e) => return error!("waitpid: {e}"),
            };
            let Some(id) = self.by_pid.remove(&(pid.as_raw() as u32)) else {
                continue;
            };
            self.exited(&id, code, signal.map(|s| s.as_str().to_owned()));
        }
    }

    fn exited(&mut self, id: &ActorId, code: Option<i32>, signal: Option<String>) {
        let Some(actor) = self.actors.get_mut(id) else {
            return;
        };
        actor.process = Process::Stopped;
        if self.stopping == Some(Stop::Keep) {
            // Stopped on purpose, to be started again: its status still says it was running.
            let _ = fs::remove_file(actor.dir.pid_file());
            return;
        }
        match (&code, &signal) {
            (_, Some(signal)) => warn!("{id} was killed by {signal}"),
            (Some(0), _) => info!("{id} exited"),
            (code, _) => warn!("{id} exited with code {}", code.unwrap_or(-1)),
        }
        self.journal.record(Event::Exit {
            actor: id.to_string(),
            code,
            signal: signal.clone(),
        });
        // `.pid` first: whoever reads "exited" finds no PID to signal.
        let _ = fs::remove_file(actor.dir.pid_file());
        let status = ActorStatus::Exited {
            code,
            signal,
            at: unix_now(),
            starts: actor.starts,
        };
        if let Err(e) = fsio::write_json_atomic(&actor.dir.status_file(), &status) {
            warn!("cannot write the status of {id}: {e:#}");
        }
        self.reconcile_current(id);
    }

    /// Brings back the actors found in `running/`: the ones that were running are started again
    /// with the same id, state and mailbox; an interrupted `current` is marked as redelivered.
    pub(crate) fn restore(&mut self) -> Result<()> {
        let running = self.root.running_dir();
        let mut names =
            fsio::names(&running).with_context(|| format!("reading {}", running.display()))?;
        names.sort_unstable();
        for name in names {
            if layout::Root::is_staging_name(&name) {
                // Left by a spawn that was interrupted; its request is still in spawn/.
                let _ = fs::remove_dir_all(running.join(&name));
                continue;
            }
            if layout::is_ignored(&name) || !running.join(&name).is_dir() {
                continue;
            }
            match ActorId::parse(&name) {
                Ok(id) => self.restore_actor(id),
                Err(e) => warn!("ignoring running/{name}: {e}"),
            }
        }
        self.next_seq = self
            .actors
            .values()
            .filter_map(|a| mailbox::pending(&a.dir.spool_dir()).ok())
            .flatten()
            .filter_map(|name| layout::spool_seq(&name))
            .max()
            .map_or(0, |max| max + 1);
        Ok(())
    }

    fn restore_actor(&mut self, id: ActorId) {
        let dir = self.root.actor(&id);
        let record: Option<SpawnRequest> = fsio::read_json(&dir.spawn_record())
            .inspect_err(|e| warn!("{id}: {e}"))
            .ok();
        let status: Option<ActorStatus> = fsio::read_json(&dir.status_file()).ok();
        let was_running = status.as_ref().is_none_or(ActorStatus::is_running);
        if let Err(e) = fs::create_dir_all(dir.spool_dir()) {
            warn!("{id}: cannot create its spool: {e}");
        }
        // Nobody writes into a spool while no supervisor runs: temp files there were left by
        // a writer killed mid-write (the message itself is still where it came from).
        for name in fsio::names(&dir.spool_dir()).unwrap_or_default() {
            if layout::is_temp_name(&name) {
                let _ = fs::remove_file(dir.spool_dir().join(name));
            }
        }
        let current = match mark_current_redelivered(&dir.current_file()) {
            Ok(true) => Current::Unsignalled,
            Ok(false) => Current::Empty,
            Err(e) => {
                warn!("{id}: cannot mark its current message as redelivered: {e:#}");
                Current::Unsignalled
            }
        };
        let starts = status.as_ref().map_or(0, ActorStatus::starts);
        self.adopt(id.clone(), record, current, starts);
        if was_running {
            info!("restoring {id}");
            self.journal.record(Event::Restart {
                actor: id.to_string(),
            });
            self.start(&id);
        } else {
            let _ = fs::remove_file(dir.pid_file());
        }
    }
}

/// Marks the message that was `current` when the last supervisor stopped. `Ok(false)` when
/// there is none. A `current` that is not JSON is left as it is (the actor sets it aside).
fn mark_current_redelivered(path: &std::path::Path) -> Result<bool> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    if let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) {
        mark_redelivered(&mut value);
        fsio::write_json_atomic(path, &value)?;
    }
    Ok(true)
}
