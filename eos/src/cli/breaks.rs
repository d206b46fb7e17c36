//! `eos break add|list|rm`: breakpoints as files in `breakpoints/`, read live by the
//! supervisor. A hit pauses the system (or one actor) with a `paused` file saying which
//! breakpoint and why; `eos resume` goes on.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use serde_json::{Value, json};

use super::output::{BOLD, DIM, GOOD, Output, styled};
use super::{messages, rules};
use crate::Root;
use crate::breakpoints::{Breakpoint, On, Scope};
use crate::journal::{self, Event};

#[derive(clap::Args)]
pub struct Add {
    /// deliver (before a matching message), state (when a state comes to match), fault (when
    /// a rule fires), exit (when an actor exits)
    #[arg(long, value_enum)]
    on: On,
    /// The breakpoint's name [default: made from what it is on]
    #[arg(long)]
    name: Option<String>,
    /// deliver: messages from this actor ("" for from outside)
    #[arg(long)]
    from: Option<String>,
    /// deliver: messages to this actor
    #[arg(long)]
    to: Option<String>,
    /// deliver: messages whose payload has these keys and values (JSON)
    #[arg(long)]
    payload: Option<String>,
    /// state, fault, exit: this actor
    #[arg(long)]
    actor: Option<String>,
    /// state: the condition, such as 'count >= 3'
    #[arg(long)]
    when: Option<String>,
    /// fault: this rule
    #[arg(long)]
    rule: Option<String>,
    /// Remove it once hit
    #[arg(long)]
    once: bool,
    /// Pause only the actor concerned, not everything
    #[arg(long)]
    actor_only: bool,
}

pub fn add(root: &Root, out: &Output, add: Add) -> Result<ExitCode> {
    let point = Breakpoint {
        on: add.on,
        from: add.from,
        to: add.to,
        payload: add
            .payload
            .map(|p| messages::parse_json(&p, "--payload"))
            .transpose()?,
        actor: add.actor,
        when: add.when,
        rule: add.rule,
        once: add.once,
        scope: if add.actor_only {
            Scope::Actor
        } else {
            Scope::System
        },
    };
    point.check().map_err(|e| anyhow!(e))?;
    // A breakpoint on an actor that does not exist would never be hit: say so now.
    for who in [&point.to, &point.from, &point.actor].into_iter().flatten() {
        if !who.is_empty() && who != "*" {
            super::actors::require(root, who)?;
        }
    }
    let dir = root.breakpoints_dir();
    let name = add
        .name
        .unwrap_or_else(|| rules::free_name(&dir, point.on.as_str()));
    rules::write(&dir, &name, &point)?;
    out.say(format!(
        "{} breakpoint {name} (on {})",
        styled(GOOD, "added"),
        point.on.as_str()
    ))?;
    out.data(&json!({"name": name, "breakpoint": point}))?;
    Ok(ExitCode::SUCCESS)
}

pub fn list(root: &Root, out: &Output) -> Result<ExitCode> {
    let points = rules::read(&root.breakpoints_dir(), Breakpoint::check);
    // Hits, from the journal.
    let mut hits: BTreeMap<String, u64> = BTreeMap::new();
    for entry in journal::read(root) {
        if let Event::Break { breakpoint, .. } = entry.event {
            *hits.entry(breakpoint).or_default() += 1;
        }
    }
    if !out.json_mode() {
        if points.is_empty() {
            out.say(styled(DIM, "no breakpoints"))?;
        }
        for (name, point) in &points {
            let hit = hits.get(name).copied().unwrap_or(0);
            match point {
                Ok(p) => {
                    let mut text = serde_json::to_value(p).unwrap_or(Value::Null);
                    if let Some(map) = text.as_object_mut() {
                        map.remove("on");
                    }
                    out.say(format!(
                        "{:<20} on {:<8} {hit} hit(s)  {text}",
                        styled(BOLD, name),
                        p.on.as_str()
                    ))?;
                }
                Err(why) => out.say(format!(
                    "{name:<20} {}",
                    styled(DIM, format!("not in force: {why}"))
                ))?,
            }
        }
    }
    let data: Vec<Value> = points
        .iter()
        .map(|(name, point)| {
            let hits = hits.get(name).copied().unwrap_or(0);
            match point {
                Ok(p) => json!({"name": name, "breakpoint": p, "hits": hits}),
                Err(why) => json!({"name": name, "error": why, "hits": hits}),
            }
        })
        .collect();
    out.data(&data)?;
    Ok(ExitCode::SUCCESS)
}

pub fn rm(root: &Root, out: &Output, names: &[String], all: bool) -> Result<ExitCode> {
    rules::remove(out, &root.breakpoints_dir(), names, all, "breakpoint")
}
