//! Folders of rules as JSON files, one a rule named by its file (`faults/`, `breakpoints/`):
//! listing, naming, writing and removing them, for the commands that manage each.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, anyhow, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::output::{GOOD, Output, styled};
use crate::{ActorId, fsio, layout};

/// Every rule file in `dir`, by name, with the rule or why it is not one.
pub fn read<T: DeserializeOwned>(
    dir: &Path,
    check: impl Fn(&T) -> Result<(), String>,
) -> Vec<(String, Result<T, String>)> {
    let mut names = fsio::names(dir).unwrap_or_default();
    names.sort();
    names
        .iter()
        .filter_map(|file| {
            let name = file.strip_suffix(".json")?;
            let rule = fsio::read_json::<T>(&dir.join(file))
                .map_err(|e| format!("{e:#}"))
                .and_then(|r| check(&r).map(|()| r));
            Some((name.to_owned(), rule))
        })
        .collect()
}

/// The first `<prefix>-N` not taken in `dir`.
pub fn free_name(dir: &Path, prefix: &str) -> String {
    (1..)
        .map(|n| format!("{prefix}-{n}"))
        .find(|n| !dir.join(format!("{n}.json")).exists())
        .unwrap_or_else(|| prefix.to_owned())
}

/// Writes the rule `name` into `dir` (the supervisor reads it at once).
pub fn write(dir: &Path, name: &str, rule: &impl Serialize) -> Result<()> {
    ActorId::parse(name).map_err(|e| anyhow!("the name: {e}"))?;
    fsio::create_private_dir(dir)?;
    fsio::write_json_atomic(&dir.join(format!("{name}.json")), rule)
}

/// Removes the rules named (or all of them), with their reasons.
pub fn remove(
    out: &Output,
    dir: &Path,
    names: &[String],
    all: bool,
    what: &str,
) -> Result<ExitCode> {
    let mut existing: Vec<String> = fsio::names(dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|f| f.strip_suffix(".json").map(str::to_owned))
        .collect();
    existing.sort();
    let chosen: Vec<String> = if all {
        existing.clone()
    } else {
        names.to_vec()
    };
    if chosen.is_empty() && !all {
        bail!("name the {what}s to remove, or --all");
    }
    for name in &chosen {
        if !existing.contains(name) {
            bail!(
                "there is no {what} `{name}`; there are: {}",
                existing.join(", ")
            );
        }
    }
    for name in &chosen {
        let path = dir.join(format!("{name}.json"));
        std::fs::remove_file(&path)?;
        let _ = std::fs::remove_file(layout::reason_file(&path));
    }
    out.say(format!("{} {}", styled(GOOD, "removed"), chosen.join(", ")))?;
    out.data(&json!({"removed": chosen}))?;
    Ok(ExitCode::SUCCESS)
}
