//! `supervisor [ROOT]`: runs an EOS actor system on a root directory.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Parser;
use log::{LevelFilter, info, warn};

use supervisor::{Claim, Config, Supervisor};

/// Runs an EOS actor system: spawns actors, routes and delivers their messages.
///
/// Stop it with SIGTERM or Ctrl-C (actors get SIGTERM and the grace period, then their folders
/// are removed). If it is killed instead, start it again on the same root: the actors come back
/// with their state and mailboxes.
#[derive(Parser)]
#[command(version, args_override_self = true)]
struct Cli {
    /// The EOS root [default: /var/actors, or a per-user folder if that cannot be used]
    root: Option<PathBuf>,
    /// How often everything is rescanned (file events are handled at once)
    #[arg(long, default_value = "2s", value_parser = eos::duration::parse)]
    tick: Duration,
    /// How long actors get to exit at shutdown before SIGKILL
    #[arg(long, default_value = "30s", value_parser = eos::duration::parse)]
    grace: Duration,
    /// Messages and spawn requests larger than this many bytes are set aside
    #[arg(long, default_value_t = 1 << 20)]
    max_message_bytes: u64,
    /// Slow motion: at least this long between two deliveries, to watch messages flow
    #[arg(long, value_parser = eos::duration::parse)]
    slow_motion: Option<Duration>,
    /// An actor handling one message this long, or mail waiting while nothing is delivered for
    /// this long, is reported as stuck (journal, eos watch, eos doctor)
    #[arg(long, default_value = "30s", value_parser = eos::duration::parse)]
    stuck_after: Duration,
    /// Virtual time: timers and delays fire only when nothing else can be delivered, the one
    /// due first first, so that runs with timers reproduce
    #[arg(long)]
    virtual_time: bool,
    /// The journal (journal.jsonl) is rotated when it grows past this many bytes
    #[arg(long, default_value_t = eos::journal::DEFAULT_MAX_BYTES)]
    journal_max_bytes: u64,
    /// Record everything: every payload and state in full in the journal, and no delivery
    /// while the journal cannot be written
    #[arg(long)]
    record: bool,
    /// Use the root even if it is a system folder or holds other things
    #[arg(long)]
    force: bool,
    /// More output (-v: debug, -vv: trace); RUST_LOG also works
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Less output (-q: warnings and errors only, -qq: errors only)
    #[arg(short, long, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    quiet: u8,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    if cli.tick < Duration::from_millis(10) {
        bail!("--tick must be at least 10ms");
    }
    let root = match cli.root {
        Some(root) => root,
        None => {
            let (root, fallback) = eos::layout::default_root();
            if let Some(why) = fallback {
                warn!("{why}");
            }
            root
        }
    };
    let claim = Claim::take(&root, cli.force)?;
    // Orphans of actors (a shell's leftover children) come to us, as they would to PID 1, and
    // are reaped with the actors: no zombies even where PID 1 does not reap.
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        warn!("cannot become a subreaper, orphans of actors go to PID 1: {e}");
    }
    info!(
        "supervising {} (pid {})",
        claim.root().path().display(),
        std::process::id()
    );
    let config = Config {
        tick: cli.tick,
        grace: cli.grace,
        max_message_bytes: cli.max_message_bytes,
        journal_max_bytes: cli.journal_max_bytes,
        slow_motion: cli.slow_motion,
        record: cli.record,
        stuck_after: cli.stuck_after,
        virtual_time: cli.virtual_time,
    };
    let result = Supervisor::new(claim.root().clone(), config)?.run();
    claim.release();
    result
}

fn init_logging(cli: &Cli) {
    let level = match (cli.verbose, cli.quiet) {
        (0, 0) => LevelFilter::Info,
        (1, _) => LevelFilter::Debug,
        (_, 0) => LevelFilter::Trace,
        (_, 1) => LevelFilter::Warn,
        _ => LevelFilter::Error,
    };
    env_logger::Builder::new()
        .filter_level(level)
        .parse_env("RUST_LOG")
        .format(|buf, record| {
            writeln!(
                buf,
                "{} {:<5} {}",
                eos::clock::format(eos::clock::now_us()),
                record.level(),
                record.args()
            )
        })
        .init();
}
