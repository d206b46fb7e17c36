//! `eos explore --real`: seeded random walks over the delivery orders of the real processes —
//! actors in any language. Each walk puts the checkpoint back (paused, fault rules resting),
//! then delivers one pending message at a time, chosen at random among all of them, through
//! the same requests `eos deliver` uses; the supervisor checks the invariants after each
//! delivery. A walk that breaks one is saved as a schedule for `eos replay`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use super::actors;
use super::output::{BAD, GOOD, Output, styled};
use super::poll;
use super::replay::{self, Replay};
use crate::envelope::Envelope;
use crate::rng::Rng;
use crate::schedule::{self, Message, Step};
use crate::{ActorId, Root, fsio, mailbox};

pub struct Options {
    pub from: String,
    pub walks: u64,
    pub depth: usize,
    pub seed: u64,
    pub time: Duration,
    /// A timer may fire while other messages wait.
    pub timers_early: bool,
    /// How long nothing must arrive, after a delivery, for the system to count as quiet.
    pub quiet: Duration,
}

/// A pending message, on disk.
struct Pending {
    actor: ActorId,
    file: std::path::PathBuf,
    envelope: Envelope,
}

/// Every pending message, system-wide, in a stable order (actor, then queue order); timers
/// only when nothing else waits, unless they may fire early.
fn pending(root: &Root, timers_early: bool) -> Vec<Pending> {
    let mut all = Vec::new();
    for actor in actors::known(root) {
        let spool = root.actor(&actor).spool_dir();
        for (file, envelope) in mailbox::envelopes(&spool) {
            all.push(Pending {
                actor: actor.clone(),
                file: spool.join(file),
                envelope,
            });
        }
    }
    let others = all.iter().any(|p| p.envelope.due_ms().is_none());
    if others && !timers_early {
        all.retain(|p| p.envelope.due_ms().is_none());
    }
    all
}

/// Waits (a little) until the system is quiet: `send/` is empty and no message arrived in a
/// spool for a moment (a program that answers on its own time, as a Maelstrom node does, has
/// answered).
fn settle(root: &Root, timers_early: bool, quiet: Duration) {
    let mut last = usize::MAX;
    let mut quiet_since = std::time::Instant::now();
    poll::until(Duration::from_secs(2), || {
        let routed = mailbox::all_routed(&root.send_dir());
        let now = pending(root, timers_early).len();
        if now != last || !routed {
            last = now;
            quiet_since = std::time::Instant::now();
        }
        (quiet_since.elapsed() >= quiet).then_some(())
    });
}

pub fn run(root: &Root, out: &Output, options: &Options) -> Result<ExitCode> {
    let mut rng = Rng::new(options.seed);
    let start = Instant::now();
    let (mut states, mut walks) = (0u64, 0u64);
    let what = format!("eos explore --real --from {}", options.from);
    let mut found = None;
    let quiet = Output::quiet();
    'walks: while walks < options.walks && start.elapsed() < options.time {
        replay::begin(root, &options.from, &what)?;
        walks += 1;
        let mut replay = Replay::new(root, &quiet, Duration::from_secs(10));
        let mut steps = Vec::new();
        while steps.len() < options.depth && start.elapsed() < options.time {
            // What the last handler sent is routed before the next choice.
            settle(root, options.timers_early, options.quiet);
            let choices = pending(root, options.timers_early);
            if choices.is_empty() {
                break;
            }
            let pick = &choices[rng.below(choices.len())];
            let message = Message {
                to: pick.actor.to_string(),
                from: pick.envelope.sender.as_ref().map(ToString::to_string),
                payload: pick.envelope.payload.clone(),
            };
            let outcome = match replay.handle(&pick.actor, &pick.file)? {
                Ok(outcome) => outcome,
                Err(differs) => {
                    out.warn(format!("walk {walks}: {}", differs.what));
                    break;
                }
            };
            replay.count();
            states += 1;
            steps.push(Step::Deliver {
                message,
                expect: Some(outcome),
            });
            if let Some((_, violation)) = replay.violations().into_iter().next() {
                found = Some((violation, steps));
                break 'walks;
            }
        }
    }
    replay::end(root);
    let seconds = start.elapsed().as_secs_f64();
    let rate = states as f64 / seconds.max(1e-9);
    out.say(format!(
        "{states} states in {walks} random walk(s) on the real processes, in {seconds:.1}s: \
         {rate:.1} states/s; not exhaustive"
    ))?;
    let dir = root.explore_dir();
    let _ = std::fs::remove_dir_all(&dir);
    fsio::create_private_dir(&dir)?;
    let mut summary = json!({
        "from": options.from, "real": true, "states": states, "walks": walks,
        "seconds": seconds, "states_per_second": rate, "exhaustive": false,
    });
    let code = match found {
        Some((violation, steps)) => {
            let file = root.explore_counterexample();
            let header = format!(
                "Found by eos explore --real from checkpoint `{}`: {} step(s) that violate {violation}.\n\
                 See it again with: eos replay --from {} THIS-FILE",
                options.from,
                steps.len(),
                options.from
            );
            fsio::write_atomic(&file, schedule::render(&steps, &header).as_bytes())?;
            out.say(format!(
                "{} {violation}\n  after {} deliveries; the system is paused there\n  \
                 schedule: {}",
                styled(BAD, "VIOLATED"),
                steps.len(),
                file.display()
            ))?;
            summary["violation"] =
                json!({"what": violation, "steps": steps.len(), "schedule": file});
            ExitCode::FAILURE
        }
        None => {
            out.say(format!("{} no invariant was violated", styled(GOOD, "ok:")))?;
            summary["violation"] = serde_json::Value::Null;
            ExitCode::SUCCESS
        }
    };
    fsio::write_json_atomic(&root.explore_summary(), &summary)?;
    out.data(&summary)?;
    Ok(code)
}
