//! `eos schedule` and `eos replay`: a recorded run, made to happen again on real processes.
//!
//! The run after a checkpoint is read from the journal as a schedule (see
//! [`crate::schedule`]). A replay puts the checkpoint back with the system paused and the
//! fault rules resting, then carries out the schedule one step at a time through the same
//! control requests and files a person would use, checking every delivery's result against the
//! record. At the first divergence it stops and leaves the system paused there.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

use super::checkpoint::{self, Code};
use super::debugger::ask_once;
use super::log::Tail;
use super::output::{BAD, BOLD, DIM, GOOD, Output, styled};
use super::{actors, poll, system};
use crate::control::Request;
use crate::envelope::Envelope;
use crate::journal::{self, Event};
use crate::schedule::{self, Message, Outcome, Step};
use crate::status::ActorStatus;
use crate::{ActorId, MessageId, Root, fsio, mailbox};

/// The schedule of the run recorded after checkpoint `name`.
fn recorded(root: &Root, name: &str) -> Result<Vec<Step>> {
    let taken_at = checkpoint::journal_seq(root, name)?;
    let entries = journal::read(root);
    let run = schedule::run_after(&entries, name, taken_at);
    Ok(schedule::from_journal(&entries, run))
}

fn header(name: &str) -> String {
    format!(
        "The run recorded after checkpoint `{name}`.\n\
         Replay it with: eos replay --from {name} THIS-FILE"
    )
}

/// `eos schedule NAME`: prints the recorded run after a checkpoint as a schedule file.
pub fn show(root: &Root, out: &Output, name: &str, into: Option<&Path>) -> Result<ExitCode> {
    let steps = recorded(root, name)?;
    let text = schedule::render(&steps, &header(name));
    match into {
        Some(file) => {
            fsio::write_atomic(file, text.as_bytes())
                .with_context(|| format!("writing {}", file.display()))?;
            out.say(format!(
                "{} {} step(s) into {}",
                styled(GOOD, "wrote"),
                steps.len(),
                file.display()
            ))?;
        }
        None if out.json_mode() => {}
        None => out.raw(&text)?,
    }
    let lines: Vec<String> = steps.iter().map(ToString::to_string).collect();
    out.data(&json!({"checkpoint": name, "steps": lines}))?;
    Ok(ExitCode::SUCCESS)
}

/// Where a replay stopped short of the schedule's end, and why.
struct Divergence {
    line: usize,
    step: String,
    actor: String,
    what: String,
    recorded: Option<Value>,
    actual: Option<Value>,
}

/// `eos replay --from NAME [SCHEDULE]`.
pub fn run(
    root: &Root,
    out: &Output,
    name: &str,
    file: Option<&Path>,
    wait: Duration,
) -> Result<ExitCode> {
    let steps: Vec<(usize, Step)> = match file {
        Some(file) => {
            let text = fs::read_to_string(file)
                .with_context(|| format!("reading the schedule {}", file.display()))?;
            schedule::parse(&text).map_err(|e| anyhow!("{}: {e}", file.display()))?
        }
        // Read before the restore below, which begins a new run in the journal.
        None => recorded(root, name)?.into_iter().map(|s| (0, s)).collect(),
    };
    let what = format!(
        "eos replay --from {name}{}",
        file.map(|f| format!(" {}", f.display()))
            .unwrap_or_default()
    );
    let result = (|| -> Result<Option<Divergence>> {
        begin(root, name, &what)?;
        let mut replay = Replay::new(root, out, wait);
        let outcome = replay.all(&steps)?;
        for (step, what) in replay.violations.borrow().iter() {
            out.say(format!(
                "{} at step {step}: {what}; the system stopped there",
                styled(BAD, "violated")
            ))?;
        }
        Ok(outcome)
    })();
    end(root);
    let outcome = result?;
    match outcome {
        None => {
            out.say(format!(
                "{} {} step(s) as recorded; the system is paused (eos resume)",
                styled(GOOD, "replayed"),
                steps.len()
            ))?;
            out.data(&json!({"replayed": steps.len(), "diverged": null}))?;
            Ok(ExitCode::SUCCESS)
        }
        Some(d) => {
            report(out, &d)?;
            Ok(ExitCode::FAILURE)
        }
    }
}

fn report(out: &Output, d: &Divergence) -> Result<()> {
    let at = if d.line > 0 {
        format!("line {}: ", d.line)
    } else {
        String::new()
    };
    out.say(format!(
        "{} at {at}{}",
        styled(BAD, "diverged"),
        styled(BOLD, &d.step)
    ))?;
    out.say(format!("  {}", d.what))?;
    if let (Some(recorded), Some(actual)) = (&d.recorded, &d.actual) {
        out.say(format!("  recorded: {recorded}"))?;
        out.say(format!("  actual:   {actual}"))?;
        let mut paths = Vec::new();
        super::checkpoint::json_diff("", recorded, actual, &mut paths);
        for p in &paths {
            out.say(format!(
                "  {}{}: {} → {}",
                d.actor,
                p["path"].as_str().unwrap_or(""),
                styled(BAD, p["a"].to_string()),
                styled(GOOD, p["b"].to_string())
            ))?;
        }
    }
    out.say(styled(
        DIM,
        format!(
            "the system is paused here: look at running/{}/ (eos inspect {}, eos pending); \
             eos resume goes on",
            d.actor, d.actor
        ),
    ))?;
    out.data(&json!({"diverged": {
        "line": d.line, "step": d.step, "actor": d.actor, "what": d.what,
        "recorded": d.recorded, "actual": d.actual,
    }}))?;
    Ok(())
}

/// Puts checkpoint `name` back, paused, with the fault rules resting (the file `replaying`
/// says `what` drives the root), and starts the supervisor if none runs.
pub(super) fn begin(root: &Root, name: &str, what: &str) -> Result<()> {
    let said = format!("{what} (pid {})\n", std::process::id());
    fsio::write_atomic(
        &root.paused_file(),
        format!("paused by {what}\n").as_bytes(),
    )?;
    fsio::write_atomic(&root.replaying_file(), said.as_bytes())?;
    if !checkpoint::put_back(root, name, Code::Current)? {
        system::up(root, &Output::quiet(), &system::UpOptions::standard(), None)?;
    }
    Ok(())
}

/// The fault rules apply again (the system stays paused).
pub(super) fn end(root: &Root) {
    let _ = fs::remove_file(root.replaying_file());
}

pub(super) struct Replay<'a> {
    root: &'a Root,
    wait: Duration,
    out: &'a Output,
    done: usize,
    /// Invariant violations the supervisor recorded on the way: (step, what).
    violations: std::cell::RefCell<Vec<(usize, String)>>,
}

impl<'a> Replay<'a> {
    pub(super) fn new(root: &'a Root, out: &'a Output, wait: Duration) -> Self {
        Replay {
            root,
            wait,
            out,
            done: 0,
            violations: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// The invariant violations the supervisor recorded so far: (step, what).
    pub(super) fn violations(&self) -> Vec<(usize, String)> {
        self.violations.borrow().clone()
    }

    /// Counts a step done outside [`all`](Self::all).
    pub(super) fn count(&mut self) {
        self.done += 1;
    }

    fn all(&mut self, steps: &[(usize, Step)]) -> Result<Option<Divergence>> {
        for (line, step) in steps {
            if let Err(what) = self.one(step)? {
                return Ok(Some(Divergence {
                    line: *line,
                    step: step.to_string(),
                    actor: step.actor().to_owned(),
                    what: what.what,
                    recorded: what.recorded,
                    actual: what.actual,
                }));
            }
            self.done += 1;
            let n = self.done;
            self.out.say(styled(
                DIM,
                format!("{n:>4} {}", crate::history::shorten(&step.to_string(), 100)),
            ))?;
        }
        Ok(None)
    }

    /// Carries out one step. `Ok(Err(_))`: the system did not do what the record says.
    fn one(&mut self, step: &Step) -> Result<Result<(), Differs>> {
        let root = self.root;
        match step {
            Step::Deliver { message, expect } => {
                let (file, _) = match self.find(message) {
                    Ok(found) => found,
                    Err(d) => return Ok(Err(d)),
                };
                let actor = ActorId::parse(&message.to).map_err(|e| anyhow!("{e}"))?;
                self.deliver(&actor, &file, expect.as_ref())
            }
            Step::Send(message) => {
                let to = ActorId::parse(&message.to).map_err(|e| anyhow!("{e}"))?;
                let from = message
                    .from
                    .as_deref()
                    .map(ActorId::parse)
                    .transpose()
                    .map_err(|e| anyhow!("{e}"))?;
                Envelope::new(MessageId::generate(), from, message.payload.clone())
                    .post(root, &to)?;
                Ok(Ok(()))
            }
            Step::Drop(message) => {
                let (file, _) = match self.find(message) {
                    Ok(found) => found,
                    Err(d) => return Ok(Err(d)),
                };
                let name = file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                crate::dead::set_aside(
                    &file,
                    &root.dead_dir(),
                    &name,
                    "dropped by eos replay, as in the recorded run",
                )?;
                Ok(Ok(()))
            }
            Step::Duplicate(message) => {
                let (_, envelope) = match self.find(message) {
                    Ok(found) => found,
                    Err(d) => return Ok(Err(d)),
                };
                let to = ActorId::parse(&message.to).map_err(|e| anyhow!("{e}"))?;
                let mut copy = envelope;
                copy.id = Some(MessageId::generate());
                copy.post(root, &to)?;
                Ok(Ok(()))
            }
            Step::Edit { message, after } => {
                let (file, mut envelope) = match self.find(message) {
                    Ok(found) => found,
                    Err(d) => return Ok(Err(d)),
                };
                envelope.payload = after.clone();
                fsio::write_json_atomic(&file, &envelope)?;
                Ok(Ok(()))
            }
            Step::State { actor, state } => {
                let id = actors::require(root, actor)?;
                fsio::write_json_atomic(&root.actor(&id).state_file(), state)?;
                Ok(Ok(()))
            }
            Step::Crash { actor } => {
                let id = actors::require(root, actor)?;
                Ok(self.crash(&id))
            }
        }
    }

    /// The first pending message of the step's actor that is this message, waiting for it to
    /// arrive (an actor's send is routed a moment after its handler returns).
    fn find(&self, message: &Message) -> Result<(PathBuf, Envelope), Differs> {
        let spool = ActorId::parse(&message.to)
            .map(|id| self.root.actor(&id).spool_dir())
            .map_err(|e| Differs::said(format!("not an actor: {e}")))?;
        let mut seen = Vec::new();
        let found = poll::until(self.wait, || {
            seen.clear();
            for (file, envelope) in mailbox::envelopes(&spool) {
                let from = envelope.sender.as_ref().map(ActorId::as_str);
                if message.matches(from, &envelope.payload) {
                    return Some((spool.join(file), envelope));
                }
                seen.push(format!(
                    "{} <- {} {}",
                    message.to,
                    from.unwrap_or(crate::history::OUTSIDE),
                    envelope.payload
                ));
            }
            None
        });
        found.ok_or_else(|| {
            let pending = if seen.is_empty() {
                "nothing".to_owned()
            } else {
                seen.join("; ")
            };
            Differs::said(format!(
                "no such message is pending within {:?}; pending for {}: {pending}",
                self.wait, message.to
            ))
        })
    }

    /// Delivers `file` to `actor` and checks what it left against the record.
    fn deliver(
        &self,
        actor: &ActorId,
        file: &Path,
        expect: Option<&Outcome>,
    ) -> Result<Result<(), Differs>> {
        let actual = match self.handle(actor, file)? {
            Ok(actual) => actual,
            Err(differs) => return Ok(Err(differs)),
        };
        Ok(match (expect, actual) {
            (None, _) => Ok(()),
            (Some(Outcome::Failed), Outcome::Failed) => Ok(()),
            (Some(Outcome::State(want)), Outcome::State(got)) if *want == got => Ok(()),
            (Some(Outcome::State(want)), Outcome::State(got)) => Err(Differs {
                what: format!("{actor}'s state after it is not the recorded one"),
                recorded: Some(want.clone()),
                actual: Some(got),
            }),
            (Some(Outcome::State(want)), Outcome::Failed) => Err(Differs {
                what: format!("{actor} failed it; in the record it handled it"),
                recorded: Some(want.clone()),
                actual: None,
            }),
            (Some(Outcome::Failed), Outcome::State(got)) => Err(Differs {
                what: format!("{actor} handled it; in the record it failed"),
                recorded: None,
                actual: Some(got),
            }),
        })
    }

    /// Delivers `file` (a pending message's) to `actor` and waits for what it left.
    pub(super) fn handle(&self, actor: &ActorId, file: &Path) -> Result<Result<Outcome, Differs>> {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut tail = Tail::at_end(self.root);
        let deadline = Instant::now() + self.wait;
        let delivered = loop {
            let reply = ask_once(
                self.root,
                &Request::Deliver {
                    message: name.clone(),
                },
            )?;
            match reply.error {
                None => break reply.delivered,
                // Busy with the message before, starting again after a crash.
                Some(refusal) if refusal.is_transient() && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Some(refusal) => {
                    return Ok(Err(Differs::said(format!("cannot deliver it: {refusal}"))));
                }
            }
        };
        let message = delivered.map(|d| d.message).unwrap_or_default();
        let mut outcome = None;
        let handled = poll::until(self.wait, || {
            for entry in tail.next().ok()? {
                match entry.event {
                    Event::Result {
                        message: m,
                        ok,
                        state,
                        ..
                    } if m == message => {
                        outcome = Some(if ok {
                            Outcome::State(state.unwrap_or_else(|| {
                                fsio::read_json(&self.root.actor(actor).state_file())
                                    .unwrap_or(Value::Null)
                            }))
                        } else {
                            Outcome::Failed
                        });
                        return Some(());
                    }
                    Event::Dead {
                        message: Some(m), ..
                    } if m == message => {
                        outcome = Some(Outcome::Failed);
                        return Some(());
                    }
                    Event::Violation {
                        number,
                        invariant,
                        what,
                        ..
                    } => self.violations.borrow_mut().push((
                        self.done + 1,
                        format!("invariant `{invariant}`: {what} (violations/{number}.json)"),
                    )),
                    _ => {}
                }
            }
            None
        });
        Ok(outcome.filter(|_| handled.is_some()).ok_or_else(|| {
            Differs::said(format!(
                "it was delivered, but not handled within {:?}",
                self.wait
            ))
        }))
    }

    /// Kills the actor's process, as the recorded crash did, and waits until it runs again
    /// (or, an actor that is not restarted, until it has exited).
    fn crash(&self, id: &ActorId) -> Result<(), Differs> {
        let dir = self.root.actor(id);
        let status = dir.status_file();
        let pid = match fsio::read_json::<ActorStatus>(&status) {
            Ok(ActorStatus::Running { pid, .. }) => pid,
            _ => return Err(Differs::said(format!("{id} is not running"))),
        };
        let restarted =
            crate::supervision::RestartType::of(&dir).is_some_and(|r| r.restarts_after(true));
        if let Ok(raw) = i32::try_from(pid) {
            let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
        }
        poll::until(self.wait, || {
            match fsio::read_json::<ActorStatus>(&status) {
                Ok(ActorStatus::Running { pid: now, .. }) if now != pid => Some(()),
                Ok(ActorStatus::Exited { .. }) if !restarted => Some(()),
                _ => None,
            }
        })
        .ok_or_else(|| Differs::said(format!("{id} did not run again after the crash")))
    }
}

/// How the system differs from the record at a step.
pub(super) struct Differs {
    pub(super) what: String,
    recorded: Option<Value>,
    actual: Option<Value>,
}

impl Differs {
    fn said(what: String) -> Self {
        Differs {
            what,
            recorded: None,
            actual: None,
        }
    }
}
