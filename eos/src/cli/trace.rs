//! `eos trace`: the message flow from the journal, as Mermaid or SVG.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use clap::ValueEnum;

use super::output::{GOOD, Output, styled};
use super::render;
use crate::history::{self, Filter};
use crate::{Root, clock, journal};

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// A Mermaid sequence diagram (renders in VS Code's Markdown preview and on GitHub)
    Mermaid,
    /// A standalone SVG Lamport diagram
    Svg,
    /// Chrome trace-event JSON, for Perfetto UI (ui.perfetto.dev) and chrome://tracing
    Perfetto,
}

#[derive(clap::Args)]
pub struct Options {
    /// mermaid: renders in VS Code and on GitHub; svg: a standalone Lamport diagram
    #[arg(long, value_enum, default_value = "mermaid")]
    format: Format,
    /// Only messages from or to this actor (repeatable)
    #[arg(long = "actor")]
    actors: Vec<String>,
    /// Only messages sent or delivered since (2026-11-24T09:12:33Z as `eos log` prints it, or a
    /// duration ago: 5m)
    #[arg(long)]
    since: Option<String>,
    /// Only messages sent or delivered until
    #[arg(long)]
    until: Option<String>,
    /// Only the causal chain of this message (its id, or the short id `eos log` prints): what
    /// led to it and what it led to
    #[arg(long)]
    chain: Option<String>,
    /// The messages that led to violation N (violations/N.json)
    #[arg(long, conflicts_with = "chain")]
    violation: Option<u64>,
    /// Write to this file instead of standard output
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn run(root: &Root, out: &Output, options: Options) -> Result<ExitCode> {
    let entries = journal::read(root);
    if entries.is_empty() {
        out.warn(format!(
            "the journal of {} is empty or missing",
            root.path().display()
        ));
    }
    let chain = match options.violation {
        Some(n) => {
            let file = root.violations_dir().join(format!("{n}.json"));
            let record: serde_json::Value = crate::fsio::read_json(&file)
                .with_context(|| format!("there is no violation {n} ({})", file.display()))?;
            record["after"].as_str().map(str::to_owned)
        }
        None => options.chain,
    };
    let filter = Filter {
        actors: options.actors,
        since_us: options.since.as_deref().map(when).transpose()?,
        until_us: options.until.as_deref().map(when).transpose()?,
        chain,
    };
    let messages = history::filter(history::messages(&entries), &filter);
    let marks = history::filter_marks(history::marks(&entries), &messages, &filter);
    let drawing = match options.format {
        Format::Mermaid => render::mermaid(&messages, &marks),
        Format::Svg => render::svg(&messages, &marks),
        Format::Perfetto => super::perfetto::trace(&messages, &marks),
    };
    match options.output {
        Some(path) => {
            std::fs::write(&path, &drawing)
                .with_context(|| format!("writing {}", path.display()))?;
            out.say(format!(
                "{} {} messages to {}",
                styled(GOOD, "drew"),
                messages.len(),
                path.display()
            ))?;
        }
        None => out.raw(drawing)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// A point in time: `2026-11-24T09:12:33Z`, or a duration ago (`30s`, `5m`).
pub fn when(text: &str) -> Result<u64> {
    if let Some(us) = clock::parse(text) {
        return Ok(us);
    }
    let ago = crate::duration::parse(text).map_err(|_| {
        anyhow!("`{text}` is not a time: use 2026-11-24T09:12:33Z or a duration ago such as 5m")
    })?;
    Ok(clock::now_us().saturating_sub(ago.as_micros() as u64))
}
