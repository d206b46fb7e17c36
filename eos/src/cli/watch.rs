//! `eos watch`: a live view of the system, redrawn in place on a terminal; one snapshot when
//! the output is not a terminal.

use std::fs::File;
use std::io::{IsTerminal, Read, Seek, SeekFrom, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use super::actors::{self, ActorView};
use super::output::{BOLD, DIM, Output, WARN, styled};
use super::system;
use crate::journal::{self, Event};
use crate::{Root, clock, fsio};

/// Deliveries are counted over this window for the rate.
const WINDOW_US: u64 = 5_000_000;
/// How much of the journal's end is read for the rate.
const TAIL_BYTES: u64 = 512 << 10;

#[derive(Serialize)]
struct Row {
    #[serde(flatten)]
    actor: ActorView,
    handling: Option<Value>,
    /// The breakpoint that paused this actor, if one did.
    paused_by: Option<String>,
    /// What the supervisor found stuck about it lately (the journal's `stuck`).
    stuck: Option<String>,
    messages_per_s: f64,
    /// The rates of the supervisor's last samples (`metrics.jsonl`), oldest first.
    rate_history: Vec<f64>,
}

#[derive(Serialize)]
struct Snapshot {
    root: String,
    supervisor: Option<u32>,
    paused: bool,
    /// The breakpoint that paused everything, if one did.
    paused_by: Option<String>,
    actors: Vec<Row>,
}

pub fn run(root: &Root, out: &Output, interval: Duration) -> Result<ExitCode> {
    let live = std::io::stdout().is_terminal() && !out.json_mode();
    loop {
        let snapshot = snapshot(root);
        if out.json_mode() {
            out.data(&snapshot)?;
        } else {
            let text = render(&snapshot);
            if live {
                // Home, clear, draw: the view updates in place.
                out.raw("\x1b[H\x1b[2J")?;
            }
            out.say(text)?;
            std::io::stdout().flush()?;
        }
        if !live {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(interval);
    }
}

/// Samples of each actor's rate drawn as a sparkline.
const SPARK: usize = 12;

fn snapshot(root: &Root) -> Snapshot {
    let (rates, stuck) = recent(root);
    let samples = crate::metrics::read_tail(root, TAIL_BYTES);
    let history = |id: &str| -> Vec<f64> {
        let all: Vec<f64> = samples
            .iter()
            .filter(|s| s.actor == id)
            .filter_map(|s| match s.series {
                crate::metrics::Series::Actor { rate, .. } => Some(rate),
                crate::metrics::Series::Plot { .. } => None,
            })
            .collect();
        all[all.len().saturating_sub(SPARK)..].to_vec()
    };
    let paused = root.paused_file().exists();
    let actors = actors::known(root)
        .into_iter()
        .map(|id| {
            let dir = root.actor(&id);
            let handling = fsio::read_json::<Value>(&dir.current_file())
                .ok()
                .map(|m| m.get("payload").cloned().unwrap_or(m));
            Row {
                stuck: stuck
                    .iter()
                    .rev()
                    .find(|(actors, _)| actors.iter().any(|a| a == id.as_str()))
                    .map(|(_, what)| what.clone()),
                paused_by: super::debugger::paused_by(&dir.paused_file()),
                rate_history: history(id.as_str()),
                handling,
                messages_per_s: rates.iter().filter(|a| **a == id.as_str()).count() as f64
                    / (WINDOW_US as f64 / 1e6),
                actor: ActorView::read(root, &id),
            }
        })
        .collect();
    Snapshot {
        root: root.path().display().to_string(),
        supervisor: system::running(root).map(|s| s.pidfd.pid()),
        paused,
        paused_by: super::debugger::paused_by(&root.paused_file()),
        actors,
    }
}

/// From the end of the journal: the actor of every delivery in the last window, and what was
/// found stuck lately.
#[allow(clippy::type_complexity)]
fn recent(root: &Root) -> (Vec<String>, Vec<(Vec<String>, String)>) {
    let entries = tail(root);
    let since = clock::now_us().saturating_sub(WINDOW_US);
    let lately = clock::now_us().saturating_sub(STUCK_WINDOW_US);
    let mut rates = Vec::new();
    let mut stuck = Vec::new();
    for e in entries {
        match e.event {
            Event::Deliver { actor, .. } if e.us >= since => rates.push(actor),
            Event::Stuck { actors, what } if e.us >= lately => stuck.push((actors, what)),
            _ => {}
        }
    }
    (rates, stuck)
}

/// A `stuck` entry is shown this long.
const STUCK_WINDOW_US: u64 = 60_000_000;

/// The entries at the end of the journal.
fn tail(root: &Root) -> Vec<journal::Entry> {
    let Ok(mut file) = File::open(root.journal_file()) else {
        return Vec::new();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let start = len.saturating_sub(TAIL_BYTES);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    // The first line may be cut in half: start after it unless at the file's start.
    let from = if start == 0 {
        0
    } else {
        bytes
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| i + 1)
    };
    let mut entries = Vec::new();
    journal::read_lines(&bytes[from..], &mut entries);
    entries
}

fn render(snapshot: &Snapshot) -> String {
    let mut lines = Vec::new();
    let supervisor = match snapshot.supervisor {
        Some(pid) => format!("supervisor pid {pid}"),
        None => styled(WARN, "no supervisor running (eos up)"),
    };
    let paused = if snapshot.paused {
        let by = snapshot
            .paused_by
            .as_ref()
            .map(|b| format!(" by {b}"))
            .unwrap_or_default();
        styled(WARN, format!("  PAUSED{by} (eos resume)"))
    } else {
        String::new()
    };
    lines.push(format!(
        "{}  {}  {supervisor}{paused}",
        styled(BOLD, "EOS"),
        snapshot.root
    ));
    lines.push(styled(
        BOLD,
        format!(
            "{:<16} {:<10} {:>7} {:>6} {:>7} {:<12}  HANDLING",
            "ID", "STATUS", "PID", "QUEUE", "MSG/S", "RATE"
        ),
    ));
    for row in &snapshot.actors {
        let status = if row.stuck.is_some() {
            "STUCK".to_owned()
        } else if row.actor.paused {
            "paused".to_owned()
        } else {
            row.actor.status.clone()
        };
        lines.push(format!(
            "{:<16} {:<10} {:>7} {:>6} {:>7.1} {:<12}  {}",
            row.actor.id.as_str(),
            status,
            row.actor.pid.map_or("-".into(), |p| p.to_string()),
            row.actor.queue,
            row.messages_per_s,
            crate::metrics::sparkline(&row.rate_history),
            match (&row.paused_by, &row.handling) {
                _ if row.stuck.is_some() => styled(WARN, row.stuck.as_deref().unwrap_or("")),
                (Some(by), _) => styled(WARN, by),
                (None, Some(h)) => crate::history::label(h, 40),
                (None, None) => String::new(),
            }
        ));
    }
    if snapshot.actors.is_empty() {
        lines.push(styled(DIM, "no actors"));
    }
    lines.join("\n")
}
