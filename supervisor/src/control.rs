//! Control requests from `control/`: deliver exactly one message now, even while paused.
//! `step` takes the next message in the system-wide order (or the next for one actor);
//! `deliver` takes the message a person chose, which is how "A before B" is tried. Both are
//! the [`Manual`] policy; the answer is a typed reply beside the request. Also: start an
//! actor again, remove one (`eos cleanup`), and show or change the pace (`eos tick`).

use std::fs;
use std::io;
use std::time::{Duration, Instant};

use eos::control::{self, Delivered, Pace, Refusal, Reply, Request, Resolved};
use eos::{ActorId, fsio, layout};
use log::{info, warn};

use crate::delivery::{self, Placed};
use crate::policy::{Busy, Decision, Manual, Policy};
use crate::registry::Registry;
use crate::supervisor::Supervisor;

impl Supervisor {
    pub(crate) fn control_request(&mut self, name: &str) {
        if !layout::is_request_name(name) {
            return;
        }
        let path = self.root.control_dir().join(name);
        let request = match fsio::read_json::<Request>(&path) {
            Ok(request) => request,
            Err(e)
                if e.downcast_ref::<io::Error>()
                    .is_some_and(|e| e.kind() == io::ErrorKind::NotFound) =>
            {
                return;
            }
            Err(e) => {
                let reason = format!("{e:#}");
                return self.reply(name, Err(Refusal::Invalid { reason }));
            }
        };
        let answered = match &request {
            Request::Restart { actor } => Some(match self.restart(actor) {
                Ok(()) => Reply {
                    restarted: Some(actor.clone()),
                    ..Reply::default()
                },
                Err(refusal) => Reply::refused(refusal),
            }),
            Request::Remove { actor } => Some(match self.remove(actor) {
                Ok(()) => Reply {
                    removed: Some(actor.clone()),
                    ..Reply::default()
                },
                Err(refusal) => Reply::refused(refusal),
            }),
            Request::Tick {
                rescan_ms,
                slow_motion_ms,
                reset,
            } => Some(Reply {
                pace: Some(self.pace(*rescan_ms, *slow_motion_ms, *reset)),
                ..Reply::default()
            }),
            Request::Step { .. } | Request::Deliver { .. } => None,
        };
        if let Some(reply) = answered {
            return self.answer(name, &reply);
        }
        let outcome = self.manual(&request);
        if let Ok(d) = &outcome {
            info!("delivered {} to {} by request", d.message, d.actor);
        }
        self.reply(name, outcome);
    }

    /// Starts an actor that is not running again, with its id, state and mail.
    fn restart(&mut self, id: &ActorId) -> Result<(), Refusal> {
        not_running(&self.registry, id)?;
        info!("restarting {id} by request");
        self.restart_one(id, None, "asked for (eos restart)");
        Ok(())
    }

    /// Removes an actor that is not running (`eos cleanup`): its pending messages go to
    /// `dead/`, where they can be sent again; its folder goes away.
    fn remove(&mut self, id: &ActorId) -> Result<(), Refusal> {
        let actor = not_running(&self.registry, id)?;
        let spool = actor.dir.spool_dir();
        let mut letters: Vec<(std::path::PathBuf, eos::MessageId)> = actor
            .queue
            .iter()
            .map(|(file, p)| (spool.join(file), p.message.clone()))
            .collect();
        if let Some(message) = actor.slot.message() {
            letters.push((actor.dir.current_file(), message.clone()));
        }
        let dir = actor.dir.path().to_path_buf();
        let reason = format!("its actor `{id}` was removed (eos cleanup); send it elsewhere");
        for (path, message) in &letters {
            self.intake
                .set_aside_message(&mut self.history, path, id, message, &reason);
        }
        self.events.forget(id);
        self.registry.remove(id);
        self.supervising.tree.detach(id);
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            log::warn!("cannot remove {}: {e}", dir.display());
        }
        info!("removed {id} by request");
        self.history.emit(eos::journal::Event::Removed {
            actor: id.to_string(),
            dead: letters.len() as u64,
        });
        self.save_supervision();
        Ok(())
    }

    /// The rescan interval and slow motion, changed as asked.
    fn pace(&mut self, rescan_ms: Option<u64>, slow_ms: Option<u64>, reset: bool) -> Pace {
        let ms = Duration::from_millis;
        let (rescan, slow) = if reset {
            self.started_pace
        } else {
            let slow = match slow_ms {
                None => self.config.slow_motion,
                Some(0) => None,
                Some(n) => Some(ms(n)),
            };
            (
                rescan_ms.filter(|&n| n > 0).map_or(self.config.tick, ms),
                slow,
            )
        };
        self.config.tick = rescan;
        if slow != self.config.slow_motion {
            self.config.slow_motion = slow;
            self.policy.set_inner(crate::supervisor::base_policy(slow));
        }
        info!("rescan every {rescan:?}, slow motion {slow:?}");
        Pace {
            rescan_ms: rescan.as_millis() as u64,
            slow_motion_ms: slow.map(|d| d.as_millis() as u64),
        }
    }

    fn manual(&mut self, request: &Request) -> Result<Delivered, Refusal> {
        let now = Instant::now();
        let manual = match request {
            Request::Step { actor } => {
                if let Some(id) = actor {
                    self.usable(id, now)?;
                }
                Manual::Step {
                    actor: actor.clone(),
                }
            }
            Request::Deliver { message } => {
                let (actor, file) = find(&self.registry, message)?;
                self.usable(&actor, now)?;
                Manual::Deliver { actor, file }
            }
            Request::Restart { .. } | Request::Remove { .. } | Request::Tick { .. } => {
                return Err(Refusal::Invalid {
                    reason: "this request delivers nothing".into(),
                });
            }
        };
        for actor in self.registry.iter_mut() {
            if !actor.queue.is_empty() {
                actor.lifecycle.poll_ready(now);
            }
        }
        let busy: Vec<Busy> = self
            .registry
            .iter()
            // An actor that is not running holds nothing up: its mail waits for a restart.
            .filter(|a| a.lifecycle.is_running())
            .filter_map(|a| {
                Some(Busy {
                    actor: a.id.clone(),
                    head: a.queue.head()?.0.to_owned(),
                    handling: a.slot.message()?.to_string(),
                })
            })
            .collect();
        let decision = {
            // By hand, a message held back (not valid JSON yet) is tried, and says why.
            let enabled = self.registry.enabled(None);
            manual.pick(&enabled, &busy)?
        };
        let Decision::Deliver { actor, file } = decision else {
            return Err(Refusal::NothingPending { actor: None });
        };
        let Some(a) = self.registry.get_mut(&actor) else {
            return Err(Refusal::NoSuchActor {
                actor: actor.to_string(),
            });
        };
        match delivery::place(
            a,
            &file,
            &mut self.intake,
            &mut self.history,
            now,
            true,
            false,
        ) {
            Placed::Delivered { message, payload } => {
                // A slow actor may be told a moment later: the loop's next turn does.
                let _ = a.signal();
                self.policy.delivered(Instant::now());
                Ok(Delivered {
                    actor,
                    message: message.to_string(),
                    file,
                    payload,
                })
            }
            Placed::Occupied => Err(Refusal::Busy {
                actor: actor.to_string(),
                handling: layout::CURRENT.into(),
            }),
            Placed::NotBefore(_) => Err(Refusal::SetAside {
                message: file,
                reason: "it is not valid JSON (yet?): fix it and ask again".into(),
            }),
            // A person's delivery does not wait for a timer: this does not happen.
            Placed::NotDue(_) => Err(Refusal::NoSuchMessage { message: file }),
            Placed::SetAside { message, reason } => Err(Refusal::SetAside {
                message: message.to_string(),
                reason,
            }),
            Placed::Gone => Err(Refusal::NoSuchMessage { message: file }),
        }
    }

    /// The actor exists and its process can take a message.
    fn usable(&mut self, id: &ActorId, now: Instant) -> Result<(), Refusal> {
        let Some(actor) = self.registry.get_mut(id) else {
            return Err(Refusal::NoSuchActor {
                actor: id.to_string(),
            });
        };
        if !actor.lifecycle.is_running() {
            return Err(Refusal::NotRunning {
                actor: id.to_string(),
            });
        }
        if !actor.lifecycle.poll_ready(now) {
            return Err(Refusal::Starting {
                actor: id.to_string(),
            });
        }
        Ok(())
    }

    fn reply(&mut self, name: &str, outcome: Result<Delivered, Refusal>) {
        self.answer(name, &Reply::new(outcome));
    }

    fn answer(&mut self, name: &str, reply: &Reply) {
        // Whoever reads the answer finds what it did in the journal already.
        self.history.flush();
        let request = self.root.control_dir().join(name);
        if let Err(e) = fsio::write_json_atomic(&layout::control_reply(&request), reply) {
            warn!("cannot answer {name}: {e:#}");
        }
        let _ = fs::remove_file(request);
    }
}

/// The actor `id`, which must exist and not run (to be started again, or removed).
fn not_running<'r>(
    registry: &'r Registry,
    id: &ActorId,
) -> Result<&'r crate::registry::Actor, Refusal> {
    let Some(actor) = registry.get(id) else {
        return Err(Refusal::NoSuchActor {
            actor: id.to_string(),
        });
    };
    if actor.lifecycle.is_running() {
        return Err(Refusal::AlreadyRunning {
            actor: id.to_string(),
        });
    }
    Ok(actor)
}

/// The pending message `wanted` names (a message id, a unique part of one, or a spool file
/// name), wherever it is in its queue.
fn find(registry: &Registry, wanted: &str) -> Result<(ActorId, String), Refusal> {
    let wanted = wanted.rsplit('/').next().unwrap_or(wanted);
    let all: Vec<(&ActorId, &str, &str)> = registry
        .iter()
        .flat_map(|a| {
            a.queue
                .iter()
                .map(move |(f, p)| (&a.id, f, p.message.as_str()))
        })
        .collect();
    let names = all.iter().flat_map(|(_, file, id)| [*file, *id]);
    match control::resolve(wanted, names) {
        Resolved::One(found) => all
            .iter()
            .find(|(_, file, id)| *file == found || *id == found)
            .map(|(actor, file, _)| ((*actor).clone(), (*file).to_owned()))
            .ok_or(Refusal::NoSuchMessage {
                message: wanted.to_owned(),
            }),
        Resolved::None => Err(Refusal::NoSuchMessage {
            message: wanted.to_owned(),
        }),
        Resolved::Many(matches) => Err(Refusal::Ambiguous {
            message: wanted.to_owned(),
            matches: matches.into_iter().map(str::to_owned).collect(),
        }),
    }
}
