//! `eos checkpoint`, `eos restore`, `eos fork` and `eos diff`: the root is the image, so a
//! moment of a live system is a folder. A checkpoint (`checkpoints/<name>/`) holds every actor's
//! state, pending mail, spawn recipe, script (its content: a later edit does not change the
//! checkpoint), storage and supervision files, the dead letters, the trees, fault rules,
//! breakpoints and invariants, and where the journal was.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::{Value, json};

use super::output::{BAD, BOLD, DIM, GOOD, Output, WARN, styled};
use super::{actors, poll, system};
use crate::spawn_request::SpawnRequest;
use crate::status::ActorStatus;
use crate::{ActorDir, ActorId, Root, fsio, journal, mailbox};

/// The version of what a checkpoint holds and how; one of another version is not restored.
const FORMAT: u64 = 1;

/// The root's folders and files a checkpoint takes.
fn root_parts(root: &Root) -> Vec<PathBuf> {
    vec![
        root.dead_dir(),
        root.trees_dir(),
        root.faults_dir(),
        root.breakpoints_dir(),
        root.invariants_dir(),
        root.supervision_file(),
    ]
}

fn checkpoints(root: &Root) -> PathBuf {
    root.checkpoints_dir()
}

/// `eos checkpoint NAME`: pauses, waits until nothing is being handled, saves, resumes (unless
/// it was paused before).
pub fn take(root: &Root, out: &Output, name: &str) -> Result<ExitCode> {
    ActorId::parse(name).map_err(|e| anyhow!("the checkpoint's name: {e}"))?;
    system::require(root)?;
    let dir = checkpoints(root).join(name);
    if dir.exists() {
        bail!(
            "there is a checkpoint `{name}` already; remove it first (eos checkpoint --rm {name})"
        );
    }
    let paused_file = root.paused_file();
    let we_paused = !paused_file.exists();
    if we_paused {
        fsio::write_atomic(
            &paused_file,
            format!("paused for checkpoint {name}\n").as_bytes(),
        )?;
    }
    let result = (|| -> Result<usize> {
        // Nothing being handled, and nothing in transit: what was sent is in a spool.
        let quiet = poll::until(Duration::from_secs(30), || {
            let routed = mailbox::all_routed(&root.send_dir());
            let idle = actors::known(root)
                .iter()
                .all(|id| !root.actor(id).current_file().exists());
            (routed && idle).then_some(())
        });
        if quiet.is_none() {
            bail!(
                "an actor is still handling its message, or send/ is not empty, after 30s; try \
                 again (eos pending, eos doctor)"
            );
        }
        let staging = checkpoints(root).join(format!(".{name}.new"));
        let _ = fs::remove_dir_all(&staging);
        let saved = save(root, &staging, name, !we_paused).inspect_err(|_| {
            let _ = fs::remove_dir_all(&staging);
        })?;
        fs::rename(&staging, &dir).context("finishing the checkpoint")?;
        Ok(saved)
    })();
    if we_paused {
        let _ = fs::remove_file(&paused_file);
    }
    let actors = result?;
    out.say(format!(
        "{} checkpoint {name}: {actors} actor(s) in {}",
        styled(GOOD, "saved"),
        dir.display()
    ))?;
    out.data(&json!({"name": name, "actors": actors, "path": dir}))?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the checkpoint into `into`; returns how many actors it holds. An actor's folder is
/// taken but for what belongs to its process (the state, recipe, storage, supervision files, a
/// pause and files of its own are), its pending messages, and a script actor's script as it is
/// now (the recipe names the kept copy).
fn save(root: &Root, into: &Path, name: &str, paused: bool) -> Result<usize> {
    fsio::create_private_dir(&checkpoints(root))?;
    fs::create_dir(into)?;
    let checkpoint = Root::new(into);
    let ids = actors::known(root);
    // Where each script actor's script came from, for a restore to run it again.
    let mut scripts = serde_json::Map::new();
    for id in &ids {
        let (from, to) = (root.actor(id), checkpoint.actor(id));
        fs::create_dir_all(to.spool_dir())?;
        for file in fsio::names(from.path())? {
            if !ActorDir::is_process_name(&file) {
                copy_tree(&from.path().join(&file), &to.path().join(&file))?;
            }
        }
        for pending in mailbox::pending(&from.spool_dir()).unwrap_or_default() {
            copy_tree(
                &from.spool_dir().join(&pending),
                &to.spool_dir().join(&pending),
            )?;
        }
        if let Ok(mut recipe) = fsio::read_json::<SpawnRequest>(&from.spawn_record())
            && let Some(script) = recipe.args.first().filter(|a| a.ends_with(".rn")).cloned()
            && Path::new(&script).is_file()
        {
            fs::copy(&script, to.kept_script()).with_context(|| format!("keeping {script}"))?;
            scripts.insert(id.to_string(), Value::String(script));
            recipe.args[0] = ActorDir::KEPT_SCRIPT.to_owned();
            fsio::write_json_atomic(&to.spawn_record(), &recipe)?;
        }
    }
    for (from, to) in root_parts(root).iter().zip(root_parts(&checkpoint)) {
        copy_tree(from, &to)?;
    }
    let meta = json!({
        "format": FORMAT,
        "name": name,
        "at_us": crate::clock::now_us(),
        "journal_seq": journal::last_seq(root),
        "actors": ids,
        "scripts": scripts,
        // Paused by a person (not by the checkpoint): a restore is paused too.
        "paused": paused,
    });
    fsio::write_json_atomic(&checkpoint.checkpoint_record(), &meta)?;
    Ok(ids.len())
}

/// Copies a file or a folder (a missing one is nothing to copy).
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let Ok(meta) = fs::symlink_metadata(from) else {
        return Ok(());
    };
    if meta.is_dir() {
        fs::create_dir_all(to)?;
        for name in fsio::names(from)? {
            if crate::layout::is_temp_name(&name) {
                continue;
            }
            copy_tree(&from.join(&name), &to.join(&name))?;
        }
    } else if meta.is_file() {
        fs::copy(from, to).with_context(|| format!("copying {}", from.display()))?;
    }
    Ok(())
}

/// A checkpoint, checked before anything is changed.
fn open(root: &Root, name: &str) -> Result<(PathBuf, Value)> {
    let dir = checkpoints(root).join(name);
    if !dir.is_dir() {
        let known = list_names(root);
        bail!(
            "there is no checkpoint `{name}`{}",
            if known.is_empty() {
                String::new()
            } else {
                format!("; checkpoints: {}", known.join(", "))
            }
        );
    }
    let checkpoint = Root::new(&dir);
    let meta: Value = fsio::read_json(&checkpoint.checkpoint_record())
        .with_context(|| format!("checkpoint `{name}` is damaged (no record of what it holds)"))?;
    let format = meta["format"].as_u64().unwrap_or(FORMAT);
    if format != FORMAT {
        bail!(
            "checkpoint `{name}` was made by another version of EOS (format {format}; this one \
             reads format {FORMAT})"
        );
    }
    if !checkpoint.running_dir().is_dir()
        && meta["actors"].as_array().is_some_and(|a| !a.is_empty())
    {
        bail!("checkpoint `{name}` is damaged: its actors are missing");
    }
    Ok((dir, meta))
}

/// Which scripts restored script actors run.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The script the checkpoint kept; the script file it came from when that is unchanged
    /// (so that editing it goes on reloading the actor).
    AsKept,
    /// The script file as it is now (a replay checks what an edit changed); the kept copy if
    /// the file is gone.
    Current,
}

/// Puts the checkpoint's content into the root at `target` (its actors set to start; a script
/// actor runs the script `code` says).
fn unpack(checkpoint: &Path, target: &Root, code: Code) -> Result<()> {
    let meta: Value =
        fsio::read_json(&Root::new(checkpoint).checkpoint_record()).unwrap_or(Value::Null);
    let checkpoint = Root::new(checkpoint);
    fs::create_dir_all(target.running_dir())?;
    for name in fsio::names(&checkpoint.running_dir()).unwrap_or_default() {
        let Ok(id) = ActorId::parse(&name) else {
            continue;
        };
        let to = target.actor(&id);
        copy_tree(checkpoint.actor(&id).path(), to.path())?;
        if let Ok(mut recipe) = fsio::read_json::<SpawnRequest>(&to.spawn_record())
            && let Some(first) = recipe.args.first_mut()
            && first == ActorDir::KEPT_SCRIPT
        {
            let kept = to.kept_script();
            let original = meta["scripts"][&name].as_str().map(PathBuf::from);
            let use_original = original.as_ref().is_some_and(|file| match code {
                Code::Current => file.is_file(),
                Code::AsKept => fs::read(file).ok() == fs::read(&kept).ok(),
            });
            *first = match original.filter(|_| use_original) {
                Some(file) => file.to_string_lossy().into_owned(),
                None => kept.to_string_lossy().into_owned(),
            };
            fsio::write_json_atomic(&to.spawn_record(), &recipe)?;
        }
        let status = ActorStatus::Stopped { at: 0, starts: 0 };
        fsio::write_json_atomic(&to.status_file(), &status)?;
    }
    for (from, part) in root_parts(&checkpoint).iter().zip(root_parts(target)) {
        if part.is_dir() {
            fs::remove_dir_all(&part)?;
        } else {
            let _ = fs::remove_file(&part);
        }
        copy_tree(from, &part)?;
        if !part.exists() && from.is_dir() {
            fs::create_dir_all(&part)?;
        }
    }
    Ok(())
}

/// `eos restore NAME`: stops the actors, puts the root back as it was at the checkpoint (paused
/// if it was paused then), and starts them again; the journal records the jump.
pub fn restore(root: &Root, out: &Output, name: &str) -> Result<ExitCode> {
    let was_running = put_back(root, name, Code::AsKept)?;
    out.say(format!(
        "{} checkpoint {name}{}",
        styled(GOOD, "restored"),
        match (was_running, root.paused_file().exists()) {
            (true, false) => "; the actors run again",
            (true, true) => "; the actors run again, paused (eos resume)",
            (false, _) => "; start them with eos up",
        }
    ))?;
    out.data(&json!({"restored": name}))?;
    Ok(ExitCode::SUCCESS)
}

/// Stops the supervisor, puts the checkpoint's image in place of the root's, records the jump
/// in the journal, and starts the supervisor again as it was started, if one was running.
/// Returns whether one was. A checkpoint that cannot be put back leaves the root as it was.
pub fn put_back(root: &Root, name: &str, code: Code) -> Result<bool> {
    let (dir, meta) = open(root, name)?;
    let running = system::running(root);
    let options = running.as_ref().map(system::UpOptions::of);
    if running.is_some() {
        system::stop(root, &Output::quiet(), system::StopMode::Keep)?;
    }
    // The actors of now go aside until the checkpoint's are in place.
    let aside = root.running_aside_dir();
    let _ = fs::remove_dir_all(&aside);
    fs::rename(root.running_dir(), &aside).context("setting the actors aside")?;
    if let Err(e) = unpack(&dir, root, code) {
        let _ = fs::remove_dir_all(root.running_dir());
        let _ = fs::rename(&aside, root.running_dir());
        if let Some(options) = &options {
            system::up(root, &Output::quiet(), options, None)?;
        }
        return Err(e.context(format!("restoring `{name}`; the root is as it was")));
    }
    let _ = fs::remove_dir_all(&aside);
    if meta["paused"] == true {
        fsio::write_atomic(
            &root.paused_file(),
            format!("paused, as at checkpoint {name}; eos resume to go on\n").as_bytes(),
        )?;
    }
    let seq = journal::last_seq(root) + 1;
    let entry = journal::Entry {
        seq,
        us: crate::clock::now_us(),
        event: journal::Event::Restored {
            checkpoint: name.to_owned(),
            journal_seq: meta["journal_seq"].as_u64().unwrap_or(0),
        },
    };
    journal::Writer::open(root, journal::DEFAULT_MAX_BYTES)?.append(&journal::line(&entry))?;
    if let Some(options) = &options {
        system::up(root, &Output::quiet(), options, None)?;
    }
    Ok(options.is_some())
}

/// The checkpoint's journal position: where its run begins.
pub fn journal_seq(root: &Root, name: &str) -> Result<u64> {
    let (_, meta) = open(root, name)?;
    Ok(meta["journal_seq"].as_u64().unwrap_or(0))
}

/// `eos fork NAME DIR`: a new, independent root from a checkpoint.
pub fn fork(root: &Root, out: &Output, name: &str, into: &Path) -> Result<ExitCode> {
    let (dir, _) = open(root, name)?;
    if into.exists() && fsio::names(into).is_ok_and(|n| !n.is_empty()) {
        bail!("{} is not empty; fork into a new folder", into.display());
    }
    let target = Root::new(into);
    for d in target.dirs() {
        fsio::create_private_dir(&d).with_context(|| format!("creating {}", d.display()))?;
    }
    unpack(&dir, &target, Code::AsKept)?;
    out.say(format!(
        "{} {name} into {}; run it beside this one with `eos --root {} up`",
        styled(GOOD, "forked"),
        into.display(),
        into.display()
    ))?;
    out.data(&json!({"forked": name, "root": into}))?;
    Ok(ExitCode::SUCCESS)
}

fn list_names(root: &Root) -> Vec<String> {
    let mut names: Vec<String> = fsio::names(&checkpoints(root))
        .unwrap_or_default()
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// `eos checkpoint --list`.
pub fn list(root: &Root, out: &Output) -> Result<ExitCode> {
    let mut data = Vec::new();
    for name in list_names(root) {
        let meta: Value =
            fsio::read_json(&Root::new(checkpoints(root).join(&name)).checkpoint_record())
                .unwrap_or(Value::Null);
        let actors = meta["actors"].as_array().map_or(0, Vec::len);
        out.say(format!(
            "{:<20} {actors} actor(s)  {}",
            styled(BOLD, &name),
            styled(DIM, format!("journal at {}", meta["journal_seq"]))
        ))?;
        data.push(json!({"name": name, "meta": meta}));
    }
    if data.is_empty() {
        out.say(styled(DIM, "no checkpoints"))?;
    }
    out.data(&data)?;
    Ok(ExitCode::SUCCESS)
}

/// `eos checkpoint --rm NAME`.
pub fn remove(root: &Root, out: &Output, name: &str) -> Result<ExitCode> {
    let (dir, _) = open(root, name)?;
    fs::remove_dir_all(&dir)?;
    out.say(format!("{} checkpoint {name}", styled(GOOD, "removed")))?;
    Ok(ExitCode::SUCCESS)
}

/// What a side of a diff holds: each actor's state and pending messages (id → payload).
type Side = BTreeMap<String, (Value, BTreeMap<String, Value>)>;

/// A checkpoint by name, or a root (or a fork) by its path.
fn side(root: &Root, which: &str) -> Result<Side> {
    let named = Root::new(checkpoints(root).join(which));
    let image = if named.path().is_dir() {
        named
    } else if Root::new(which).running_dir().is_dir() {
        Root::new(which)
    } else {
        bail!("`{which}` is neither a checkpoint (eos checkpoint --list) nor a root");
    };
    let mut side = Side::new();
    for name in fsio::names(&image.running_dir()).unwrap_or_default() {
        let Ok(id) = ActorId::parse(&name) else {
            continue;
        };
        let dir = image.actor(&id);
        if !dir.path().is_dir() {
            continue;
        }
        let state = fsio::read_json(&dir.state_file()).unwrap_or(Value::Null);
        let mut pending = BTreeMap::new();
        for file in mailbox::pending(&dir.spool_dir()).unwrap_or_default() {
            let message: Value =
                fsio::read_json(&dir.spool_dir().join(&file)).unwrap_or(Value::Null);
            let id = message["id"].as_str().map_or(file.clone(), str::to_owned);
            pending.insert(id, message.get("payload").cloned().unwrap_or(message));
        }
        side.insert(name, (state, pending));
    }
    Ok(side)
}

/// The paths at which two JSON values differ, with both sides.
pub(super) fn json_diff(path: &str, a: &Value, b: &Value, out: &mut Vec<Value>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let null = Value::Null;
                json_diff(
                    &format!("{path}.{k}"),
                    x.get(k).unwrap_or(&null),
                    y.get(k).unwrap_or(&null),
                    out,
                );
            }
        }
        _ if a != b => {
            out.push(json!({"path": if path.is_empty() { "." } else { path }, "a": a, "b": b}))
        }
        _ => {}
    }
}

/// `eos diff A B`: per actor, the state as a JSON diff, pending messages added, removed or
/// changed, and actors on one side only.
pub fn diff(root: &Root, out: &Output, a: &str, b: &str) -> Result<ExitCode> {
    let (left, right) = (side(root, a)?, side(root, b)?);
    let names: std::collections::BTreeSet<&String> = left.keys().chain(right.keys()).collect();
    let mut report = Vec::new();
    for name in names {
        let entry = match (left.get(name), right.get(name)) {
            (Some(_), None) => json!({"actor": name, "only_in": a}),
            (None, Some(_)) => json!({"actor": name, "only_in": b}),
            (Some((sa, pa)), Some((sb, pb))) => {
                let mut state = Vec::new();
                json_diff("", sa, sb, &mut state);
                let removed: Vec<&String> = pa.keys().filter(|k| !pb.contains_key(*k)).collect();
                let added: Vec<&String> = pb.keys().filter(|k| !pa.contains_key(*k)).collect();
                let changed: Vec<&String> = pa
                    .iter()
                    .filter(|(k, v)| pb.get(*k).is_some_and(|w| w != *v))
                    .map(|(k, _)| k)
                    .collect();
                if state.is_empty() && removed.is_empty() && added.is_empty() && changed.is_empty()
                {
                    continue;
                }
                json!({"actor": name, "state": state, "pending_added": added,
                       "pending_removed": removed, "pending_changed": changed})
            }
            (None, None) => continue,
        };
        report.push(entry);
    }
    if !out.json_mode() {
        if report.is_empty() {
            out.say(format!("{a} and {b} are the same"))?;
        }
        for e in &report {
            let actor = e["actor"].as_str().unwrap_or("");
            if let Some(side) = e["only_in"].as_str() {
                out.say(format!("{} only in {side}", styled(WARN, actor)))?;
                continue;
            }
            out.say(styled(BOLD, actor))?;
            for d in e["state"].as_array().into_iter().flatten() {
                out.say(format!(
                    "  state{}: {} → {}",
                    d["path"].as_str().unwrap_or(""),
                    styled(BAD, d["a"].to_string()),
                    styled(GOOD, d["b"].to_string())
                ))?;
            }
            for (what, key) in [
                ("pending only in", "pending_removed"),
                ("pending only in", "pending_added"),
                ("pending changed:", "pending_changed"),
            ] {
                let ids: Vec<&str> = e[key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                if ids.is_empty() {
                    continue;
                }
                let side = match key {
                    "pending_removed" => format!(" {a}:"),
                    "pending_added" => format!(" {b}:"),
                    _ => String::new(),
                };
                out.say(format!("  {what}{side} {}", ids.join(", ")))?;
            }
        }
    }
    out.data(&report)?;
    Ok(ExitCode::SUCCESS)
}
