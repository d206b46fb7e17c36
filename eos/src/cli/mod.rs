//! The `eos` command-line tool (also installed as `act`). It only reads and writes files in the
//! root and signals the supervisor; everything it does, a person can do with a shell.

mod actors;
mod bench;
mod bench_explore;
mod breaks;
mod checkpoint;
mod cluster;
mod debugger;
mod demo;
mod doctor;
mod explore_real;
mod faults;
mod git_history;
mod invariants;
mod locate;
mod log;
mod messages;
mod metrics;
mod output;
mod perfetto;
mod poll;
mod render;
mod replay;
mod rules;
mod spawn;
mod system;
mod trace;
mod tree;
mod ui;
mod wait;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{CommandFactory, Parser, Subcommand};

use crate::Root;
use crate::layout::{self, ROOT_ENV};

/// EOS: an actor system on the Linux filesystem and signals.
///
/// Start a system with `eos up`, spawn a script with `eos spawn-script FILE.rn`, send it a
/// message with `eos send ID '{"inc": 1}'`, and look at `eos list` and `eos inspect ID`, or at
/// the files under the root.
#[derive(Parser)]
#[command(name = "eos", version, args_override_self = true)]
pub struct Cli {
    /// The EOS root [default: /var/actors, or a per-user folder if that cannot be used]
    #[arg(long, env = ROOT_ENV, global = true)]
    root: Option<PathBuf>,
    /// Output JSON for scripts instead of text for people
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum TreeAction {
    /// Converge the running system to a tree file (spawn what is missing, adopt what is there,
    /// stop what left it) and wait until its actors run
    Apply {
        /// The tree: `{"strategy", "intensity", "period", "children": [...]}`; its name is the
        /// file's
        file: PathBuf,
        /// How long to wait for its actors to run
        #[arg(long, default_value = "30s", value_parser = crate::duration::parse)]
        timeout: std::time::Duration,
    },
}

#[derive(Subcommand)]
enum WaitFor {
    /// Until ID's state matches CONDITION: `count >= 10`, `done`, `phase == commit && votes.len
    /// == 3` (paths with dots, == != < <= > >=, JSON values, && between clauses)
    State {
        /// The actor
        id: String,
        /// The condition
        condition: String,
    },
    /// Until nothing waits: send/ is empty, no message is pending or being handled
    Idle,
    /// Until a message (to ID, from ID, or any) is handled or fails, from now on
    Handled {
        /// Sent to this actor
        #[arg(long)]
        to: Option<String>,
        /// Sent by this actor
        #[arg(long)]
        from: Option<String>,
    },
}

#[derive(Subcommand)]
enum InvariantsAction {
    /// Run every invariant on the states as they are now
    Check,
}

#[derive(Subcommand)]
enum BreakAction {
    /// Add a breakpoint (a file in breakpoints/)
    Add(breaks::Add),
    /// The breakpoints, with their hits
    List,
    /// Remove breakpoints by name
    Rm {
        names: Vec<String>,
        /// Every breakpoint
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand)]
enum FaultAction {
    /// Add a rule (a file in faults/)
    Add(faults::Add),
    /// The rules in force
    List,
    /// Remove rules by name
    Rm {
        names: Vec<String>,
        /// Every rule
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand)]
enum TickAction {
    /// Show them [the default]
    Show,
    /// Change them until the supervisor stops
    Set {
        /// How often everything is looked at again (e.g. 500ms, 2s)
        #[arg(value_parser = crate::duration::parse)]
        rescan: Option<std::time::Duration>,
        /// At least this long between two deliveries (0 turns slow motion off)
        #[arg(long, value_parser = crate::duration::parse)]
        slow_motion: Option<std::time::Duration>,
    },
    /// Back to what the supervisor was started with
    Reset,
}

impl From<TickAction> for system::Tick {
    fn from(action: TickAction) -> Self {
        match action {
            TickAction::Show => system::Tick::Show,
            TickAction::Set {
                rescan,
                slow_motion,
            } => system::Tick::Set {
                rescan,
                slow_motion,
            },
            TickAction::Reset => system::Tick::Reset,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Start a supervisor in the background (if none runs on the root) and wait until it is ready
    Up {
        /// How often the supervisor rescans everything
        #[arg(long, default_value = "2s")]
        tick: String,
        /// How long actors get to exit when it stops
        #[arg(long, default_value = "30s")]
        grace: String,
        /// Slow motion: at least this long between two deliveries, to watch messages flow
        #[arg(long)]
        slow_motion: Option<String>,
        /// Record everything: every payload and state in full in the journal, and no delivery
        /// while the journal cannot be written
        #[arg(long)]
        record: bool,
        /// Use the root even if it is a system folder or holds other things
        #[arg(long)]
        force: bool,
        /// Virtual time: timers fire only when nothing else can be delivered, the one due
        /// first first, so that runs with timers reproduce
        #[arg(long)]
        virtual_time: bool,
    },
    /// Stop the supervisor and its actors, keeping them on disk: `eos up` starts them again
    Down,
    /// Stop the supervisor and its actors and remove them, as the original EOS does (unhandled
    /// messages go to dead/)
    Shutdown,
    /// Start a program as an actor
    Spawn {
        /// The executable
        path: PathBuf,
        /// Arguments for it, after the protocol's four
        #[arg(last = true)]
        args: Vec<String>,
        /// The actor's id [default: the program's name, made unique]
        #[arg(long)]
        id: Option<String>,
        /// Its first state (JSON) [default: null]
        #[arg(long)]
        state: Option<String>,
        /// A file (or folder) copied into the actor's folder before it starts (repeatable)
        #[arg(long)]
        copy: Vec<PathBuf>,
        /// Start it again when it exits: permanent (always), transient (after a crash),
        /// temporary (never) [default: temporary]
        #[arg(long, value_enum)]
        restart: Option<crate::supervision::RestartType>,
        /// The program is a Maelstrom node (JSON lines on its standard input and output):
        /// maelstrom-actor runs it
        #[arg(long)]
        maelstrom: bool,
    },
    /// Start a Rune script as an actor (run by `script-actor`)
    SpawnScript {
        /// The script, with `pub fn handle(state, msg)`
        script: PathBuf,
        /// Options for script-actor (--deadline 5s, --budget N, --memory BYTES)
        #[arg(last = true)]
        options: Vec<String>,
        /// The actor's id [default: the script's name, made unique]
        #[arg(long)]
        id: Option<String>,
        /// Start it again when it exits: permanent (always), transient (after a crash),
        /// temporary (never) [default: temporary]
        #[arg(long, value_enum)]
        restart: Option<crate::supervision::RestartType>,
    },
    /// Send a message (JSON from the argument, from -f FILE, or from standard input)
    Send {
        /// The receiving actor
        to: String,
        /// The payload, as JSON
        #[arg(value_name = "JSON")]
        message: Option<String>,
        /// Read the payload from this file (`-` for standard input)
        #[arg(short, long, conflicts_with = "message")]
        file: Option<PathBuf>,
        /// Send on behalf of this actor [default: no sender]
        #[arg(long)]
        sender: Option<String>,
        /// Wait until the message is handled, then print the actor's new state (or why it failed)
        #[arg(long)]
        wait: bool,
        /// How long --wait waits
        #[arg(long, default_value = "30s", value_parser = crate::duration::parse, requires = "wait")]
        timeout: std::time::Duration,
    },
    /// List the actors: id, status, pid, queue depth, script
    List,
    /// Show one actor: status, last error, state, pending messages
    Inspect {
        /// The actor
        id: String,
    },
    /// Stop one actor (its folder, state and mail stay)
    Kill {
        /// The actors (ids, or their folders: running/<id>)
        #[arg(required = true)]
        ids: Vec<String>,
        /// The signal to send
        #[arg(long, default_value = "TERM")]
        signal: String,
    },
    /// Remove actors that are not running (all of them, or these), after asking; their pending
    /// messages go to dead/, and dead letters stay
    Cleanup {
        /// Only these actors [default: every actor that is not running]
        ids: Vec<String>,
        /// Do not ask
        #[arg(short, long)]
        yes: bool,
    },
    /// The rescan interval and slow motion of the running supervisor
    Tick {
        #[command(subcommand)]
        action: Option<TickAction>,
    },
    /// Open an actor's state.json in $VISUAL, $EDITOR, or VS Code in its terminal
    Edit {
        /// The actor
        id: String,
    },
    /// The supervision trees and actors: status, restart type, starts and restarts
    Tree {
        #[command(subcommand)]
        action: Option<TreeAction>,
    },
    /// Start an actor that exited again: same id, state and mail
    Restart {
        /// The actor
        id: String,
    },
    /// Pause delivery, for everything or for one actor (sending still works; messages wait)
    Pause {
        /// Only this actor
        id: Option<String>,
    },
    /// Resume delivery, for everything or for one actor (also: unpause)
    #[command(alias = "unpause")]
    Resume {
        /// Only this actor
        id: Option<String>,
    },
    /// Deliver exactly one message (the next in order, or the next for ID) and stay paused
    Step {
        /// Only this actor's next message
        id: Option<String>,
    },
    /// Deliver this pending message next, wherever it is in its queue ("A before B")
    Deliver {
        /// A message id or a spool file name (see `eos pending`)
        message: String,
    },
    /// Everything waiting, system-wide, in the order it would be delivered
    Pending,
    /// Check the root: what is wrong and what to do about it
    Doctor,
    /// Draw the message flow from the journal as a sequence diagram
    Trace(trace::Options),
    /// Show the journal, one readable line per event
    Log {
        /// Keep following it
        #[arg(short, long)]
        follow: bool,
    },
    /// A live view: actors, status, queue depth, what they handle, messages per second
    Watch {
        /// How often to redraw
        #[arg(long, default_value = "500ms", value_parser = crate::duration::parse)]
        interval: std::time::Duration,
    },
    /// Compile-check Rune scripts (errors as file:line:col: error: message)
    Check {
        /// The scripts
        #[arg(required = true)]
        scripts: Vec<PathBuf>,
    },
    /// Run a short tour on a temporary root and print what happens
    Demo,
    /// Measure EOS against the raw floor of the same file operations and signals
    Bench(bench::Options),
    /// Print a shell completion script
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Each actor's figures (handled, failed, rate, queue, handling time, restarts) and what
    /// scripts plot, from metrics.jsonl
    Metrics {
        /// In the Prometheus text format
        #[arg(long)]
        prometheus: bool,
    },
    /// Fault rules: drop, delay, duplicate, reorder or crash matching messages (faults/)
    Fault {
        #[command(subcommand)]
        action: FaultAction,
    },
    /// Breakpoints: pause before a matching message, when a state matches, when a fault fires
    /// or an actor exits (breakpoints/)
    Break {
        #[command(subcommand)]
        action: BreakAction,
    },
    /// Invariants: Rune files in invariants/ with `pub fn check(states)`, checked after every
    /// delivery (a violation pauses the system and is kept in violations/)
    Invariants {
        #[command(subcommand)]
        action: InvariantsAction,
    },
    /// Split actors into groups that cannot reach each other: `eos partition a,b / c`
    Partition {
        /// The groups, with / between them
        #[arg(required = true, num_args = 1..)]
        groups: Vec<String>,
        /// Only a group cannot reach the groups after it
        #[arg(long)]
        one_way: bool,
        /// The rule's name
        #[arg(long)]
        name: Option<String>,
    },
    /// Remove every partition
    Heal,
    /// Seeded faults of every kind at given rates (rules chaos-* in faults/)
    Chaos(faults::Chaos),
    /// Save this moment of the system as checkpoints/NAME (it pauses until nothing is being
    /// handled); --list, --rm NAME
    Checkpoint {
        /// The checkpoint's name
        name: Option<String>,
        /// The checkpoints there are
        #[arg(long, conflicts_with_all = ["name", "rm"])]
        list: bool,
        /// Remove this checkpoint
        #[arg(long, conflicts_with = "name")]
        rm: Option<String>,
    },
    /// Put the system back as it was at a checkpoint (the actors stop and start again)
    Restore {
        /// The checkpoint
        name: String,
    },
    /// A new, independent root from a checkpoint, to run beside this one
    Fork {
        /// The checkpoint
        name: String,
        /// The new root's folder
        dir: PathBuf,
    },
    /// What differs between two of: a checkpoint, a root, a fork (states, pending messages,
    /// actors)
    Diff { a: String, b: String },
    /// The run recorded after a checkpoint as a schedule: one step a line (deliveries with the
    /// state they left, sends from outside, faults, hand edits), to read, edit and replay
    Schedule {
        /// The checkpoint the run began at
        name: String,
        /// Write it into this file instead of printing it
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// A live, clickable view of the system in the browser (prints its URL, with a token)
    Ui {
        /// The port on 127.0.0.1 [default: a free one]
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Do not start a browser; only print the URL
        #[arg(long)]
        no_open: bool,
    },
    /// Maelstrom nodes as actors: a cluster up (with init), a workload and its checker, down
    Cluster {
        #[command(subcommand)]
        action: ClusterAction,
    },
    /// Search every delivery order (and fault) from a checkpoint, checking the properties of
    /// invariants/: in-process for systems of Rune scripts, or (--real) by random walks on the
    /// real processes; a violation is saved as a schedule for eos replay
    Explore(ExploreArgs),
    /// The root's history as a git repository: one commit per delivery (states and pending
    /// mail as files), for `git log -p` and `git bisect run`
    History {
        /// The repository (made if missing; a second run goes on where the first stopped)
        #[arg(long)]
        git: PathBuf,
        /// Keep committing as the journal grows, until Ctrl-C
        #[arg(long)]
        follow: bool,
    },
    /// Put a checkpoint back and carry out a recorded run (or an edited schedule) on the real
    /// processes, checking every result; stops paused at the first divergence (exit code 1)
    Replay {
        /// The checkpoint to start from
        #[arg(long)]
        from: String,
        /// A schedule file (eos schedule NAME -o FILE) [default: the run recorded after it]
        schedule: Option<PathBuf>,
        /// How long to wait for a message to arrive or be handled
        #[arg(long, default_value = "10s", value_parser = crate::duration::parse)]
        wait: std::time::Duration,
    },
    /// Wait until an actor's state matches, the system is idle, or a message is handled
    /// (exit code 0; 1 when the time runs out, 2 for a condition that does not parse)
    Wait {
        #[command(subcommand)]
        until: WaitFor,
        /// How long to wait
        #[arg(long, global = true, default_value = "30s", value_parser = crate::duration::parse)]
        timeout: std::time::Duration,
    },
    /// Write the manual pages (eos.1, eos-send.1, …) into a folder, or print eos(1)
    Man {
        /// The folder, e.g. /usr/local/share/man/man1 [default: print eos.1]
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// `eos man`: the manual pages, generated from the command-line definition itself.
fn man(out: &output::Output, dir: Option<&std::path::Path>) -> Result<ExitCode> {
    let command = Cli::command().name("eos");
    let Some(dir) = dir else {
        clap_mangen::Man::new(command).render(&mut std::io::stdout())?;
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    clap_mangen::generate_to(command, dir)
        .with_context(|| format!("writing manual pages into {}", dir.display()))?;
    out.say(format!("wrote the manual pages into {}", dir.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// The `eos` and `act` binaries' `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli) {
        Ok(code) => code,
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            output::error(&e, json);
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    // Why the default root is not /var/actors, if it is not: said once, when starting.
    let cli_root = cli.root.clone();
    let (root, fallback) = match cli.root {
        Some(root) => (root, None),
        None => layout::default_root(),
    };
    let root = Root::new(root);
    let out = output::Output::new(cli.json);
    match cli.command {
        Command::Up {
            tick,
            grace,
            slow_motion,
            record,
            force,
            virtual_time,
        } => system::up(
            &root,
            &out,
            &system::UpOptions {
                tick,
                grace,
                slow_motion,
                record,
                force,
                virtual_time,
            },
            fallback,
        ),
        Command::Down => system::stop(&root, &out, system::StopMode::Keep),
        Command::Shutdown => system::stop(&root, &out, system::StopMode::Clean),
        Command::Spawn {
            path,
            args,
            id,
            state,
            copy,
            restart,
            maelstrom,
        } => spawn::spawn(
            &root,
            &out,
            &path,
            args,
            id,
            spawn::Extras {
                maelstrom,
                state,
                copy,
                restart,
            },
        ),
        Command::SpawnScript {
            script,
            options,
            id,
            restart,
        } => spawn::spawn_script(&root, &out, &script, options, id, restart),
        Command::Tree { action: None } => tree::show(&root, &out),
        Command::Tree {
            action: Some(TreeAction::Apply { file, timeout }),
        } => tree::apply(&root, &out, &file, timeout),
        Command::Send {
            to,
            message,
            file,
            sender,
            wait,
            timeout,
        } => messages::send(
            &root,
            &out,
            &to,
            message,
            file,
            sender,
            wait.then_some(timeout),
        ),
        Command::List => actors::list(&root, &out),
        Command::Inspect { id } => actors::inspect(&root, &out, &id),
        Command::Kill { ids, signal } => actors::kill_all(&root, &out, &ids, &signal),
        Command::Cleanup { ids, yes } => actors::cleanup(&root, &out, &ids, yes),
        Command::Tick { action } => system::tick(&root, &out, action.map(TickAction::into)),
        Command::Edit { id } => actors::edit(&root, &out, &id),
        Command::Restart { id } => actors::restart(&root, &out, &id),
        Command::Pause { id } => debugger::pause(&root, &out, id),
        Command::Resume { id } => debugger::resume(&root, &out, id),
        Command::Step { id } => debugger::step(&root, &out, id),
        Command::Deliver { message } => debugger::deliver(&root, &out, &message),
        Command::Pending => debugger::pending(&root, &out),
        Command::Doctor => doctor::run(&root, &out),
        Command::Trace(options) => trace::run(&root, &out, options),
        Command::Log { follow } => log::run(&root, &out, follow),
        Command::Watch { interval } => watch::run(&root, &out, interval),
        Command::Check { scripts } => spawn::check(&scripts),
        Command::Demo => demo::run(&out),
        Command::Bench(options) => bench::run(&out, cli_root.as_deref(), &options),
        Command::Completions { shell } => {
            // Into memory first: clap_complete panics when its writer fails (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "eos", &mut script);
            out.raw(String::from_utf8_lossy(&script))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir } => man(&out, dir.as_deref()),
        Command::Metrics { prometheus } => metrics::run(&root, &out, prometheus),
        Command::Checkpoint { list: true, .. } => checkpoint::list(&root, &out),
        Command::Checkpoint { rm: Some(name), .. } => checkpoint::remove(&root, &out, &name),
        Command::Checkpoint {
            name: Some(name), ..
        } => checkpoint::take(&root, &out, &name),
        Command::Checkpoint { .. } => checkpoint::list(&root, &out),
        Command::Restore { name } => checkpoint::restore(&root, &out, &name),
        Command::Fork { name, dir } => checkpoint::fork(&root, &out, &name, &dir),
        Command::Diff { a, b } => checkpoint::diff(&root, &out, &a, &b),
        Command::Schedule { name, out: file } => replay::show(&root, &out, &name, file.as_deref()),
        Command::Explore(args) => explore(&root, &out, &args),
        Command::Ui { port, no_open } => ui::run(&root, &out, port, !no_open),
        Command::Cluster { action } => match action {
            ClusterAction::Up {
                count,
                program,
                args,
                timeout,
            } => cluster::up(&root, &out, count, &program, &args, timeout),
            ClusterAction::Down => cluster::down(&root, &out),
            ClusterAction::Test(options) => cluster::test(&root, &out, &options),
        },
        Command::History { git, follow } => git_history::run(&root, &out, &git, follow),
        Command::Replay {
            from,
            schedule,
            wait,
        } => replay::run(&root, &out, &from, schedule.as_deref(), wait),
        Command::Fault { action } => match action {
            FaultAction::Add(add) => faults::add(&root, &out, add),
            FaultAction::List => faults::list(&root, &out),
            FaultAction::Rm { names, all } => faults::rm(&root, &out, &names, all),
        },
        Command::Partition {
            groups,
            one_way,
            name,
        } => faults::partition(&root, &out, &groups, one_way, name),
        Command::Heal => faults::heal(&root, &out),
        Command::Invariants {
            action: InvariantsAction::Check,
        } => invariants::check(&root, &out),
        Command::Chaos(chaos) => faults::chaos(&root, &out, chaos),
        Command::Break { action } => match action {
            BreakAction::Add(add) => breaks::add(&root, &out, add),
            BreakAction::List => breaks::list(&root, &out),
            BreakAction::Rm { names, all } => breaks::rm(&root, &out, &names, all),
        },
        Command::Wait { until, timeout } => {
            let until = match until {
                WaitFor::State { id, condition } => wait::Until::State { id, condition },
                WaitFor::Idle => wait::Until::Idle,
                WaitFor::Handled { to, from } => wait::Until::Handled { to, from },
            };
            wait::run(&root, &out, until, timeout)
        }
    }
}

#[derive(Subcommand)]
enum ClusterAction {
    /// Start nodes n0…n(N-1) running PROGRAM and the client c1; send each its init and wait
    /// for init_ok
    Up {
        /// How many nodes
        count: u32,
        /// The node program (Maelstrom's protocol on its standard input and output)
        program: PathBuf,
        /// Its arguments
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
        /// How long to wait for every init_ok
        #[arg(long, default_value = "10s", value_parser = crate::duration::parse)]
        timeout: std::time::Duration,
    },
    /// Stop and remove the nodes and the client
    Down,
    /// Drive a workload from c1 and check the replies: echo, unique-ids, broadcast, g-counter
    Test(cluster::TestOptions),
}

#[derive(clap::Args)]
struct ExploreArgs {
    /// The checkpoint to start from [default: the root as it is; --real needs one]
    #[arg(long)]
    from: Option<String>,
    /// How to search: dfs, bfs, random (--real: random walks only)
    #[arg(long, default_value = "dfs")]
    strategy: String,
    /// The most deliveries (and faults) in one run
    #[arg(long, default_value_t = 40)]
    depth: usize,
    /// How long to search at most
    #[arg(long, default_value = "60s")]
    time: String,
    /// Random walks: the seed
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Random walks: how many [default: 10000; --real: 20]
    #[arg(long)]
    walks: Option<u64>,
    /// Faults the search may add: drop, duplicate, crash (of an actor that is not restarted),
    /// timer (a timer fires while others wait)
    #[arg(long)]
    faults: Option<String>,
    /// At most this many faults in one run
    #[arg(long, default_value_t = 1)]
    max_faults: u32,
    /// Explore every order, without partial-order reduction
    #[arg(long)]
    no_reduction: bool,
    /// Also search without the reduction, and say how much it saved
    #[arg(long)]
    compare: bool,
    /// Random walks on the real processes (actors in any language), not in-process
    #[arg(long)]
    real: bool,
    /// --real: how long nothing must arrive after a delivery before the next choice (more for
    /// programs that answer on their own time, such as Maelstrom nodes)
    #[arg(long, default_value = "30ms", value_parser = crate::duration::parse)]
    quiet: std::time::Duration,
}

/// `eos explore`: in-process, the explorer runs with the script actors' runtime, in its own
/// program (`eos-explore`); `--real` drives the real processes from here.
fn explore(root: &Root, out: &output::Output, args: &ExploreArgs) -> Result<ExitCode> {
    let time = crate::duration::parse(&args.time).map_err(anyhow::Error::msg)?;
    if args.real {
        let Some(from) = args.from.clone() else {
            anyhow::bail!("--real starts every walk from a checkpoint: say which with --from");
        };
        let faults = args.faults.as_deref().unwrap_or("");
        if let Some(other) = faults.split(',').find(|f| !f.is_empty() && *f != "timer") {
            anyhow::bail!("--real adds no `{other}` faults yet (only timer); use fault rules");
        }
        let options = explore_real::Options {
            from,
            walks: args.walks.unwrap_or(20),
            depth: args.depth,
            seed: args.seed,
            time,
            timers_early: faults.contains("timer"),
            quiet: args.quiet,
        };
        return explore_real::run(root, out, &options);
    }
    let mut command = std::process::Command::new(locate::program("eos-explore")?);
    command
        .arg("--root")
        .arg(root.path())
        .args(["--strategy", &args.strategy, "--time", &args.time])
        .args([
            "--depth",
            &args.depth.to_string(),
            "--seed",
            &args.seed.to_string(),
        ])
        .args(["--max-faults", &args.max_faults.to_string()])
        .args(args.from.iter().flat_map(|f| ["--from", f.as_str()]))
        .args(args.faults.iter().flat_map(|f| ["--faults", f.as_str()]))
        .args(args.walks.map(|w| format!("--walks={w}")))
        .args(args.no_reduction.then_some("--no-reduction"))
        .args(args.compare.then_some("--compare"))
        .args(out.json_mode().then_some("--json"));
    // It becomes this process: Ctrl-C reaches it alone, and it stops with what it found.
    let error = std::os::unix::process::CommandExt::exec(&mut command);
    Err(anyhow::Error::from(error).context("running eos-explore"))
}
