//! `eos invariants check`: runs the root's invariants (`invariants/*.rn`) on every actor's
//! state as it is on disk now, with the script actors' runtime (`script-actor --invariants`).

use std::process::{Command, ExitCode};

use anyhow::{Context as _, Result};
use serde_json::Value;

use super::locate;
use super::output::{BAD, GOOD, Output, WARN, styled};
use crate::Root;

pub fn check(root: &Root, out: &Output) -> Result<ExitCode> {
    let output = Command::new(locate::program("script-actor")?)
        .arg("--invariants")
        .arg(root.path())
        .output()
        .context("running script-actor --invariants")?;
    let verdicts: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    if !output.status.success() && verdicts.is_empty() {
        anyhow::bail!(
            "the invariants could not be run: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    if !out.json_mode() {
        if verdicts.is_empty() {
            out.say(format!(
                "no invariants in {} (Rune files with `pub fn check(states)`)",
                root.invariants_dir().display()
            ))?;
        }
        for v in &verdicts {
            let name = v["invariant"].as_str().unwrap_or("");
            let what = v["what"].as_str().unwrap_or("");
            let line = match v["verdict"].as_str().unwrap_or("") {
                "holds" => format!("{} {name}", styled(GOOD, "holds   ")),
                "violated" => format!("{} {name}: {what}", styled(BAD, "VIOLATED")),
                other => format!(
                    "{} {name}: {}",
                    styled(WARN, other),
                    what.lines().next().unwrap_or("")
                ),
            };
            out.say(line)?;
        }
    }
    out.data(&verdicts)?;
    Ok(if output.status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
