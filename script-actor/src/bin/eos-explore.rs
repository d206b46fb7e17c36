//! `eos-explore` (run as `eos explore`): searches the delivery orders (and faults) of a system
//! of Rune script actors from a checkpoint, in-process, checking the properties of
//! `invariants/` after each step; saves what it finds as schedules `eos replay` carries out on
//! the real processes.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, ValueEnum};
use eos::schedule::{self, Step};
use eos::{Root, fsio};
use script_actor::explore::minimize::ddmin;
use script_actor::explore::search::{self, Bounds, Kind, Model, Progress, Report, Strategy};
use script_actor::explore::world::{Action, Faults, System, World};
use serde_json::json;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum How {
    Dfs,
    Bfs,
    Random,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Fault {
    Drop,
    Duplicate,
    /// An actor that is not restarted is killed
    Crash,
    /// A timer fires while other messages wait
    Timer,
}

#[derive(Parser)]
#[command(
    name = "eos explore",
    about = "Search every delivery order (and fault) from a checkpoint"
)]
struct Cli {
    /// The EOS root
    #[arg(long, env = eos::layout::ROOT_ENV)]
    root: PathBuf,
    /// The checkpoint to start from [default: the root as it is]
    #[arg(long)]
    from: Option<String>,
    /// How to search
    #[arg(long, value_enum, default_value = "dfs")]
    strategy: How,
    /// The most steps in one run
    #[arg(long, default_value_t = 40)]
    depth: usize,
    /// How long to search at most
    #[arg(long, default_value = "60s", value_parser = eos::duration::parse)]
    time: Duration,
    /// Random walks: the seed
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Random walks: how many
    #[arg(long, default_value_t = 10_000)]
    walks: u64,
    /// Faults the search may add (drop, duplicate, crash, timer), comma-separated
    #[arg(long, value_enum, value_delimiter = ',')]
    faults: Vec<Fault>,
    /// At most this many faults in one run
    #[arg(long, default_value_t = 1)]
    max_faults: u32,
    /// Explore every order, without partial-order reduction
    #[arg(long)]
    no_reduction: bool,
    /// Also search without the reduction, and say how much it saved
    #[arg(long)]
    compare: bool,
    /// Output JSON
    #[arg(long)]
    json: bool,
}

static STOP: AtomicBool = AtomicBool::new(false);
/// A walker found a violation (and set STOP for the others): not a Ctrl-C.
static FOUND: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: i32) {
    STOP.store(true, Ordering::Relaxed);
}

/// A line on standard output; a reader that went away (`| head`) is no error.
fn out(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// Stopped by Ctrl-C.
fn interrupted() -> bool {
    STOP.load(Ordering::Relaxed) && !FOUND.load(Ordering::Relaxed)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("eos explore: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: &Cli) -> Result<ExitCode> {
    let root = Root::new(&cli.root);
    let image = match &cli.from {
        Some(name) => {
            let dir = root.checkpoints_dir().join(name);
            if !dir.is_dir() {
                bail!("there is no checkpoint `{name}` (eos checkpoint --list)");
            }
            dir
        }
        None => root.path().to_path_buf(),
    };
    let faults = Faults {
        drop: cli.faults.contains(&Fault::Drop),
        duplicate: cli.faults.contains(&Fault::Duplicate),
        crash: cli.faults.contains(&Fault::Crash),
        timers_early: cli.faults.contains(&Fault::Timer),
        max: cli.max_faults,
    };
    let (system, start) = System::load(&image, faults)?;
    // SAFETY: the handler only stores into an atomic, which is async-signal-safe.
    unsafe {
        let action = nix::sys::signal::SigAction::new(
            nix::sys::signal::SigHandler::Handler(on_interrupt),
            nix::sys::signal::SaFlags::empty(),
            nix::sys::signal::SigSet::empty(),
        );
        let _ = nix::sys::signal::sigaction(nix::sys::signal::Signal::SIGINT, &action);
    }
    let strategy = match cli.strategy {
        How::Dfs => Strategy::Dfs,
        How::Bfs => Strategy::Bfs,
        How::Random => Strategy::Random {
            seed: cli.seed,
            walks: cli.walks,
        },
    };
    let bounds = Bounds {
        depth: cli.depth,
        time: cli.time,
        reduce: !cli.no_reduction && strategy == Strategy::Dfs,
    };
    let terminal = std::io::stderr().is_terminal() && !cli.json;
    let limit = cli.time;
    let mut show = |r: &Report<()>| {
        if terminal {
            let left = limit.saturating_sub(r.elapsed);
            eprint!(
                "\r{} states ({} distinct), depth {}, {:.0} states/s, {:.0}s left   ",
                r.states,
                r.distinct,
                r.depth,
                r.per_second(),
                left.as_secs_f64()
            );
        }
    };
    let mut progress = Progress {
        stop: &STOP,
        show: &mut show,
    };
    let report = match strategy {
        Strategy::Random { seed, walks } => walk_on_every_core(
            &system,
            &image,
            faults,
            &start,
            seed,
            walks,
            &bounds,
            &mut progress,
        )?,
        Strategy::Bfs => {
            let make = || System::load(&image, faults).map_err(|e| format!("{e:#}"));
            search::bfs_on_cores(&make, cores(), bounds.clone(), &mut progress)
                .map_err(anyhow::Error::msg)?
        }
        Strategy::Dfs => search::explore(
            &system,
            start.clone(),
            strategy,
            bounds.clone(),
            &mut progress,
        ),
    };
    if terminal {
        eprintln!();
    }
    if let Some(problem) = system.problem.borrow().as_ref() {
        bail!("{problem}; explore this system on real processes with eos replay instead");
    }
    let compared = if cli.compare && bounds.reduce {
        let plain = Bounds {
            reduce: false,
            ..bounds.clone()
        };
        let mut quiet = |_: &Report<()>| {};
        let mut progress = Progress {
            stop: &STOP,
            show: &mut quiet,
        };
        Some(search::explore(
            &system,
            start.clone(),
            strategy,
            plain,
            &mut progress,
        ))
    } else {
        None
    };

    let out_dir = root.explore_dir();
    let _ = std::fs::remove_dir_all(&out_dir);
    fsio::create_private_dir(&out_dir)?;
    let from = cli.from.as_deref().unwrap_or("(the root as it was)");
    let mut summary = json!({
        "from": from,
        "states": report.states,
        "distinct": report.distinct,
        "transitions": report.transitions,
        "depth": report.depth,
        "seconds": report.elapsed.as_secs_f64(),
        "states_per_second": report.per_second(),
        "exhaustive": report.exhaustive,
        "stopped": interrupted(),
    });
    let say = |text: String| {
        if !cli.json {
            out(&text);
        }
    };
    say(format!(
        "{} states ({} distinct, {} transitions), depth {}, in {:.2}s: {:.0} states/s; {}",
        report.states,
        report.distinct,
        report.transitions,
        report.depth,
        report.elapsed.as_secs_f64(),
        report.per_second(),
        if report.exhaustive {
            "exhaustive within the bounds".to_owned()
        } else if interrupted() && report.violation.is_none() {
            "stopped (Ctrl-C); what was found so far follows".to_owned()
        } else if report.violation.is_some() {
            "stopped at the first violation".to_owned()
        } else {
            format!(
                "not exhaustive (depth {} or {:?} reached)",
                cli.depth, cli.time
            )
        }
    ));
    if let Some(plain) = &compared {
        say(format!(
            "without the reduction: {} transitions to the same {} distinct states ({} with it: \
             {:.1}x fewer)",
            plain.transitions,
            plain.distinct,
            report.transitions,
            plain.transitions as f64 / report.transitions.max(1) as f64
        ));
        summary["without_reduction"] = json!({
            "states": plain.states, "distinct": plain.distinct, "transitions": plain.transitions,
            "exhaustive": plain.exhaustive,
        });
    }
    let mut witnesses = Vec::new();
    for (name, path) in &report.witnesses {
        let file = root.explore_witness(name);
        write_schedule(
            &system,
            &start,
            path,
            &file,
            &format!("reaches `{name}`"),
            from,
        )?;
        say(format!(
            "sometimes `{name}`: reached; the way there: {}",
            file.display()
        ));
        witnesses.push(json!({"property": name, "schedule": file, "steps": path.len()}));
    }
    summary["witnesses"] = json!(witnesses);
    let mut code = ExitCode::SUCCESS;
    if let Some(found) = &report.violation {
        code = ExitCode::FAILURE;
        let kind = match found.kind {
            Kind::Always => "always",
            Kind::Eventually => "eventually",
        };
        let full = root.explore_counterexample();
        let what = format!("violates `{}` ({kind}): {}", found.property, found.what);
        write_schedule(&system, &start, &found.path, &full, &what, from)?;
        let property = found.property.clone();
        let mut tries = 0;
        let minimal = ddmin(&found.path, &mut |candidate: &[Action]| {
            tries += 1;
            fails(&system, &start, candidate, &property, found.kind)
        });
        let small = root.explore_minimized();
        write_schedule(&system, &start, &minimal, &small, &what, from)?;
        say(format!(
            "VIOLATED `{}` ({kind}): {}\n  found after {} steps; minimized to {} ({} tries):",
            found.property,
            found.what,
            found.path.len(),
            minimal.len(),
            tries
        ));
        for (_, step) in system.run_steps(&start, &minimal).unwrap_or_default() {
            say(format!(
                "    {}",
                eos::history::shorten(&step.to_string(), 110)
            ));
        }
        let replay_from = cli.from.as_deref().unwrap_or("NAME");
        say(format!(
            "  schedules: {} (as found), {}\n  see it happen: eos replay --from {replay_from} {}",
            full.display(),
            small.display(),
            small.display()
        ));
        summary["violation"] = json!({
            "property": found.property, "kind": kind, "what": found.what,
            "steps": found.path.len(), "minimized_steps": minimal.len(),
            "schedule": full, "minimized": small,
        });
    } else {
        say("no property was violated".to_owned());
        summary["violation"] = serde_json::Value::Null;
    }
    fsio::write_json_atomic(&root.explore_summary(), &summary)?;
    if cli.json {
        out(&summary.to_string());
    }
    Ok(code)
}

/// Random walks on every core: this thread and one more per core, each with the system loaded
/// afresh and a seed of its own (`seed`, `seed + 1`, …), the walks shared out. The first
/// violation found stops them all.
#[allow(clippy::too_many_arguments)]
fn walk_on_every_core(
    system: &System,
    image: &Path,
    faults: Faults,
    start: &World,
    seed: u64,
    walks: u64,
    bounds: &Bounds,
    progress: &mut Progress,
) -> Result<Report<Action>> {
    let cores = cores().clamp(1, walks.max(1) as usize) as u64;
    let share = |i: u64| walks / cores + u64::from(i < walks % cores);
    let others = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..cores)
            .map(|i| {
                let bounds = bounds.clone();
                scope.spawn(move || -> Result<Report<Action>> {
                    let (system, start) = System::load(image, faults)?;
                    let mut quiet = |_: &Report<()>| {};
                    let mut progress = Progress {
                        stop: &STOP,
                        show: &mut quiet,
                    };
                    let strategy = Strategy::Random {
                        seed: seed + i,
                        walks: share(i),
                    };
                    let report = search::explore(&system, start, strategy, bounds, &mut progress);
                    if report.violation.is_some() {
                        FOUND.store(true, Ordering::Relaxed);
                        STOP.store(true, Ordering::Relaxed);
                    }
                    Ok(report)
                })
            })
            .collect();
        let strategy = Strategy::Random {
            seed,
            walks: share(0),
        };
        let mine = search::explore(system, start.clone(), strategy, bounds.clone(), progress);
        if mine.violation.is_some() {
            FOUND.store(true, Ordering::Relaxed);
            STOP.store(true, Ordering::Relaxed);
        }
        let mut all = vec![Ok(mine)];
        all.extend(handles.into_iter().map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("a walker failed")))
        }));
        all
    });
    let mut reports = others.into_iter().collect::<Result<Vec<_>>>()?.into_iter();
    let mut merged = reports
        .next()
        .ok_or_else(|| anyhow::anyhow!("no walks were made"))?;
    for r in reports {
        merged.states += r.states;
        merged.distinct += r.distinct;
        merged.transitions += r.transitions;
        merged.depth = merged.depth.max(r.depth);
        merged.elapsed = merged.elapsed.max(r.elapsed);
        if merged.violation.is_none() {
            merged.violation = r.violation;
        }
        for (name, path) in r.witnesses {
            if !merged.witnesses.iter().any(|(n, _)| *n == name) {
                merged.witnesses.push((name, path));
            }
        }
    }
    Ok(merged)
}

/// The cores to search on.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Whether `actions` can all be carried out from `start` and end in a state that breaks
/// `property` as found.
fn fails(system: &System, start: &World, actions: &[Action], property: &str, kind: Kind) -> bool {
    let Some(run) = system.run_steps(start, actions) else {
        return false;
    };
    let end = run.last().map_or(start, |(w, _)| w);
    match kind {
        Kind::Always => system.violated(end).is_some_and(|(p, _)| p == property),
        Kind::Eventually => {
            system.actions(end).is_empty()
                && system.unfinished(end).is_some_and(|(p, _)| p == property)
        }
    }
}

fn write_schedule(
    system: &System,
    start: &World,
    actions: &[Action],
    file: &Path,
    what: &str,
    from: &str,
) -> Result<()> {
    let steps: Vec<Step> = system
        .run_steps(start, actions)
        .context("a found schedule does not run again in-process")?
        .into_iter()
        .map(|(_, step)| step)
        .collect();
    let header = format!(
        "Found by eos explore from checkpoint `{from}`: {} step(s) that {what}.\n\
         See it on the real processes with: eos replay --from <that checkpoint> THIS-FILE",
        steps.len()
    );
    fsio::write_atomic(file, schedule::render(&steps, &header).as_bytes())?;
    Ok(())
}
