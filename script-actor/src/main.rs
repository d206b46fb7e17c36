//! `script-actor`: an EOS actor whose behaviour is a Rune script.
//!
//! Started by the supervisor as `script-actor <id> <state file> <message file> <send dir>
//! <script.rn> [options]`. The script has `pub fn handle(state, msg)`, which returns the new
//! state, and may have `pub fn init()`, which gives the first one. `script-actor --check
//! FILE...` only compiles scripts and reports their errors.

mod script;
mod watchdog;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use clap::Parser;
use eos::sdk::{Actor, Args, Defer, note};
use eos::{ActorDir, fsio};
use rune::Context;

use crate::script::{Refresh, Script};
use crate::watchdog::{Kind, Overdue, Watchdog};
use crate::worker::Worker;
use script_actor::call::{Call, Limits};
use script_actor::host::Effect;

/// Set when the process was started afresh because `init()` passed its deadline: the first
/// state is not tried again at start.
const SKIP_INIT_ENV: &str = "EOS_SCRIPT_SKIP_INIT";

/// An EOS actor that runs a Rune script.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// The actor's id (given by the supervisor)
    id: String,
    /// Its state file
    state_file: PathBuf,
    /// The file it reads a message from
    message_file: PathBuf,
    /// Where it writes messages to send
    send_dir: PathBuf,
    /// The Rune script, with `pub fn handle(state, msg)`
    script: PathBuf,
    /// How long one call of the script may take
    #[arg(long, default_value = "5s", value_parser = eos::duration::parse)]
    deadline: Duration,
    /// How many instructions one call may execute
    #[arg(long, default_value_t = 10_000_000)]
    budget: usize,
    /// How many bytes one call may allocate
    #[arg(long, default_value_t = 64 << 20)]
    memory: usize,
    /// Only check these arguments and exit (what `eos spawn-script` does before spawning)
    #[arg(long, hide = true)]
    dry_run: bool,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = if args.get(1).map(String::as_str) == Some("--check") {
        check(&args[2..])
    } else if args.get(1).map(String::as_str) == Some("--invariants") {
        invariants(args.get(2).map(String::as_str).unwrap_or("."))
    } else {
        let cli = Cli::parse();
        if cli.dry_run {
            return ExitCode::SUCCESS;
        }
        run(cli).map(|()| ExitCode::SUCCESS)
    };
    result.unwrap_or_else(|e| {
        note(format_args!("script-actor: error: {e:#}"));
        ExitCode::FAILURE
    })
}

/// `--invariants ROOT`: runs the root's invariants on every actor's state as it is on disk;
/// one JSON line each (`{"invariant", "verdict": "holds"|"violated"|"failed"|"does not compile",
/// "what"}`). Exit code 1 when one does not hold.
fn invariants(root: &str) -> Result<ExitCode> {
    use script_actor::invariants::{Invariants, Verdict};
    let root = eos::Root::new(root);
    let invariants = Invariants::load(&root.invariants_dir())?;
    let mut states = serde_json::Map::new();
    for name in fsio::names(&root.running_dir()).unwrap_or_default() {
        let Ok(id) = eos::ActorId::parse(&name) else {
            continue;
        };
        let state =
            fsio::read_json(&root.actor(&id).state_file()).unwrap_or(serde_json::Value::Null);
        states.insert(name, state);
    }
    let mut all_hold = true;
    for (name, problem) in invariants.problems() {
        all_hold = false;
        println!(
            "{}",
            serde_json::json!({"invariant": name, "verdict": "does not compile", "what": problem})
        );
    }
    for (name, verdict) in invariants.check(&serde_json::Value::Object(states)) {
        let (word, what) = match verdict {
            Verdict::Holds => ("holds", String::new()),
            Verdict::Violated(what) => ("violated", what),
            Verdict::Failed(why) => ("failed", why),
        };
        all_hold &= word == "holds";
        println!(
            "{}",
            serde_json::json!({"invariant": name, "verdict": word, "what": what})
        );
    }
    Ok(if all_hold {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `--check FILE...`: compiles each script; errors go to standard error as
/// `file:line:col: error: message` lines with a report below.
fn check(files: &[String]) -> Result<ExitCode> {
    if files.is_empty() {
        return Err(anyhow!("usage: script-actor --check FILE..."));
    }
    let context = script_actor::context("check", std::path::Path::new("."), None)?;
    let mut failed = false;
    for file in files {
        match script::compile(&context, file.as_ref()) {
            Ok(_) => println!("{file}: ok"),
            Err(problem) => {
                eprintln!("{problem}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn run(cli: Cli) -> Result<()> {
    let id = eos::ActorId::parse(&cli.id).map_err(|e| anyhow!(e))?;
    let args = Args {
        id: id.clone(),
        state_file: cli.state_file.clone(),
        message_file: cli.message_file,
        send_dir: cli.send_dir,
        extra: Vec::new(),
    };
    // Ready for SIGUSR1 before anything slow happens.
    let actor = Actor::new(args.clone())?;
    let dir = actor.dir();
    let script_path = std::path::absolute(&cli.script)
        .with_context(|| format!("locating {}", cli.script.display()))?;
    let script_dir = script_path
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    // The compile-time context is large and building it is most of a start: the one built
    // for the runtime also compiles the first version; later ones are built when it changes.
    let first = script_actor::context(id.as_str(), &script_dir, Some(dir.clone()))?;
    let runtime = Arc::new(first.runtime()?);
    let first = std::cell::Cell::new(Some(first));
    let context = || match first.take() {
        Some(context) => Ok(context),
        None => script_actor::context(id.as_str(), &script_dir, Some(dir.clone())),
    };
    let limits = Limits {
        budget: cli.budget,
        memory: cli.memory,
    };
    let watchdog = Watchdog::start(cli.deadline, start_afresh(args, cli.deadline));
    let mut worker = Worker::new(runtime, limits, watchdog);
    let mut script = Script::new(script_path);
    refresh(&mut script, &context, &dir);
    if std::env::var_os(SKIP_INIT_ENV).is_none() {
        first_state(&script, &mut worker, &cli.state_file);
    }

    // Saved scripts are compiled at once, so a mistake shows in `problem.txt` (and in `eos
    // list`) before any message comes, and a message waiting for a script that compiles goes.
    let script = std::cell::RefCell::new(script);
    let changed = || refresh(&mut script.borrow_mut(), &context, &dir);
    let watched = script.borrow().path().to_path_buf();
    actor.run_watching(
        Some(&watched),
        changed,
        |ctx, state: serde_json::Value, msg| {
            let mut script = script.borrow_mut();
            refresh(&mut script, &context, &dir);
            let Some(compiled) = script.compiled() else {
                // Nothing runnable yet: the message waits for a script that compiles.
                let problem = script.problem().unwrap_or("the script is missing");
                return Err(Defer(problem.to_owned()).into());
            };
            let state = if state.is_null() {
                worker
                    .run(&compiled, Call::Init)
                    .map_err(|e| anyhow!(e))?
                    .state
            } else {
                state
            };
            let msg = serde_json::to_value(&msg)?;
            let outcome = worker
                .run(&compiled, Call::Handle { state, msg })
                .map_err(|e| anyhow!(e))?;
            for effect in outcome.effects {
                match effect {
                    Effect::Send(to, payload) => drop(ctx.send(&to, payload)?),
                    Effect::SendAfter(to, payload, ms) => drop(ctx.send_after(&to, payload, ms)?),
                    Effect::Spawn(request) => {
                        let request = serde_json::from_value(request)
                            .map_err(|e| anyhow!("spawn: not a valid request: {e}"))?;
                        ctx.spawn(request)?;
                    }
                    Effect::Monitor(id) => ctx.monitor(&id)?,
                    Effect::Link(id) => ctx.link(&id)?,
                }
            }
            Ok(outcome.state)
        },
    )
}

/// Recompiles the script if it changed, and tells a person about it: the actor's log, and
/// `problem.txt` while the file on disk does not compile.
fn refresh(script: &mut Script, context: &dyn Fn() -> Result<Context>, dir: &ActorDir) {
    match script.refresh(context) {
        Refresh::Unchanged => {}
        Refresh::Compiled => {
            note(format_args!("compiled {}", script.path().display()));
            let _ = std::fs::remove_file(dir.problem_file());
        }
        Refresh::Failed => {
            let problem = script.problem().unwrap_or_default();
            let kept = if script.compiled().is_some() {
                "keeping the last version that compiled"
            } else {
                "messages wait until it compiles"
            };
            note(format_args!(
                "{} does not compile ({kept}):\n{problem}",
                script.path().display()
            ));
            let text = format!("{problem}\n({kept})\n");
            if let Err(e) = fsio::write_atomic(&dir.problem_file(), text.as_bytes()) {
                note(format_args!("cannot write problem.txt: {e}"));
            }
        }
    }
}

/// What the watchdog does with a call stuck past its deadline: the message (if one is being
/// handled) goes to the dead letters with the reason, and the program starts afresh in this
/// same process, keeping its pid, so the supervisor sees the actor still running.
fn start_afresh(args: Args, deadline: Duration) -> Overdue {
    Box::new(move |kind| {
        let what = match kind {
            Kind::Init => "`init`",
            Kind::Handle => "the handler",
        };
        let reason = format!(
            "{what} did not finish within its deadline of {deadline:?} (stuck in a native call \
             such as sleep?); it was abandoned and the actor started afresh"
        );
        note(format_args!("{reason}"));
        let id = fsio::read_json::<eos::Envelope>(&args.message_file)
            .ok()
            .and_then(|e| e.id);
        if let Err(e) = eos::sdk::set_aside_current(&args, id.as_ref(), &reason) {
            note(format_args!("{e:#}"));
        }
        let mut argv = std::env::args_os();
        let program = std::path::PathBuf::from("/proc/self/exe");
        let mut command = std::process::Command::new(program);
        command.args(argv.by_ref().skip(1));
        if kind == Kind::Init {
            command.env(SKIP_INIT_ENV, "1");
        }
        let error = std::os::unix::process::CommandExt::exec(&mut command);
        note(format_args!("cannot start afresh: {error}; exiting"));
        std::process::exit(1);
    })
}

/// A fresh actor (state `null`) gets `init()`'s state at once, so a person sees it.
fn first_state(script: &Script, worker: &mut Worker, state_file: &std::path::Path) {
    let fresh = fsio::read_json::<serde_json::Value>(state_file).is_ok_and(|s| s.is_null());
    let Some(compiled) = script.compiled().filter(|_| fresh) else {
        return;
    };
    match worker.run(&compiled, Call::Init) {
        Ok(outcome) => {
            if let Err(e) = fsio::write_json_atomic(state_file, &outcome.state) {
                note(format_args!("cannot write the first state: {e:#}"));
            }
        }
        Err(e) => note(format_args!("init failed: {e}")),
    }
}
