//! `eos doctor`: looks at a root and says what is wrong and what to do about it — the
//! supervisor and its `.pid`, actors that exited or whose script does not compile, files that
//! cannot be routed, dead letters waiting, the disk, permissions.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use serde::Serialize;

use super::actors::{self, ActorView};
use super::output::{BAD, DIM, GOOD, Output, WARN, styled};
use super::system;
use crate::{Root, dead, fsio, layout};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Ok,
    Note,
    Warning,
    Error,
}

#[derive(Debug, Serialize)]
pub struct Finding {
    pub level: Level,
    pub what: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn finding(level: Level, what: impl Into<String>, fix: Option<&str>) -> Finding {
    Finding {
        level,
        what: what.into(),
        fix: fix.map(str::to_owned),
    }
}

/// A file the supervisor will not route, and why.
#[derive(Debug, Serialize)]
pub struct Unrouted {
    pub file: String,
    pub why: String,
}

/// A message file sitting in `send/` this long has been missed by the supervisor, or waits for
/// something (its actor's spool, room on the disk).
const STUCK: Duration = Duration::from_secs(5);

/// The files in `send/` and `spawn/` that the supervisor will not route or spawn, with why.
pub fn unrouted(root: &Root) -> Vec<Unrouted> {
    let mut found = Vec::new();
    for (dir, folder) in [
        (root.send_dir(), layout::SEND),
        (root.spawn_dir(), layout::SPAWN),
    ] {
        let prefix = format!("{folder}/");
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let raw = entry.file_name();
            let Some(name) = raw.to_str() else {
                found.push(Unrouted {
                    file: format!("{prefix}{}", raw.to_string_lossy()),
                    why: "its name is not UTF-8, so it is not a message name; rename it".into(),
                });
                continue;
            };
            if layout::is_ignored(name) {
                continue;
            }
            let file = format!("{prefix}{name}");
            let meta = fs::symlink_metadata(entry.path());
            if let Ok(meta) = &meta
                && !meta.is_file()
            {
                found.push(Unrouted {
                    file,
                    why: format!("it is {}, not a file", fsio::kind_of(meta)),
                });
                continue;
            }
            let named = if folder == layout::SEND {
                match layout::parse_send_name(name) {
                    Ok(Some(_)) => true,
                    Ok(None) => {
                        found.push(Unrouted {
                            file,
                            why: "not a message name ({ACTOR_ID}::{RANDOM}.json); left alone"
                                .into(),
                        });
                        continue;
                    }
                    Err(why) => {
                        found.push(Unrouted { file, why });
                        continue;
                    }
                }
            } else if layout::is_request_name(name) {
                true
            } else {
                found.push(Unrouted {
                    file,
                    why: "not a spawn request (a .json file); left alone".into(),
                });
                continue;
            };
            let old = meta
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > STUCK);
            if named && old {
                found.push(Unrouted {
                    file,
                    why: "waiting: no supervisor took it (is one running? is its actor's spool \
                          a folder? is the disk full?)"
                        .into(),
                });
            }
        }
    }
    found.sort_by(|a, b| a.file.cmp(&b.file));
    found
}

pub fn run(root: &Root, out: &Output) -> Result<ExitCode> {
    let findings = examine(root);
    out.data(&findings)?;
    for f in &findings {
        let (mark, style) = match f.level {
            Level::Ok => ("ok", GOOD),
            Level::Note => ("note", DIM),
            Level::Warning => ("warning", WARN),
            Level::Error => ("error", BAD),
        };
        out.say(format!("{:<8} {}", styled(style, mark), f.what))?;
        if let Some(fix) = &f.fix {
            out.say(format!("{:<8} {}", "", styled(DIM, format!("→ {fix}"))))?;
        }
    }
    let worst = findings.iter().map(|f| f.level).max().unwrap_or(Level::Ok);
    Ok(if worst >= Level::Warning {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn examine(root: &Root) -> Vec<Finding> {
    let mut findings = Vec::new();
    let path = root.path();
    if !path.is_dir() {
        findings.push(finding(
            Level::Error,
            format!("there is no root at {}", path.display()),
            Some("`eos up` makes one and starts a supervisor on it"),
        ));
        return findings;
    }
    permissions(root, &mut findings);
    supervisor(root, &mut findings);
    replaying(root, &mut findings);
    for id in actors::known(root) {
        actor(root, &ActorView::read(root, &id), &mut findings);
    }
    for u in unrouted(root) {
        findings.push(finding(
            Level::Warning,
            format!("{}: {}", u.file, u.why),
            Some("rename, fix or remove it"),
        ));
    }
    dead_letters(root, &mut findings);
    supervision(root, &mut findings);
    stuck(root, &mut findings);
    disk(path, &mut findings);
    if findings.iter().all(|f| f.level <= Level::Note) {
        findings.push(finding(Level::Ok, "nothing is wrong", None));
    }
    findings
}

fn permissions(root: &Root, findings: &mut Vec<Finding>) {
    let me = nix::unistd::geteuid().as_raw();
    for dir in root.dirs() {
        let Ok(meta) = fs::symlink_metadata(&dir) else {
            continue;
        };
        if !meta.is_dir() {
            findings.push(finding(
                Level::Error,
                format!("{} is not a folder", dir.display()),
                Some("move it away; the supervisor makes the folder"),
            ));
        } else if meta.uid() != me {
            findings.push(finding(
                Level::Error,
                format!(
                    "{} belongs to user {}, not to you",
                    dir.display(),
                    meta.uid()
                ),
                Some("use a root of your own"),
            ));
        } else if meta.permissions().mode() & 0o022 != 0 {
            findings.push(finding(
                Level::Error,
                format!("{} can be written by other users", dir.display()),
                Some(&format!("chmod 700 {}", dir.display())),
            ));
        }
    }
}

fn supervisor(root: &Root, findings: &mut Vec<Finding>) {
    let named: Option<u32> = fs::read_to_string(root.pid_file())
        .ok()
        .and_then(|p| p.trim().parse().ok());
    match (system::running(root), named) {
        (Some(s), Some(pid)) if s.pidfd.pid() == pid => findings.push(finding(
            Level::Ok,
            format!("a supervisor runs (pid {pid})"),
            None,
        )),
        (Some(s), named) => findings.push(finding(
            Level::Warning,
            format!(
                "a supervisor runs (pid {}), but .pid says {}",
                s.pidfd.pid(),
                named.map_or("nothing".into(), |p| p.to_string())
            ),
            Some("`eos` finds the supervisor by its lock either way; restart it to write .pid"),
        )),
        (None, Some(pid)) => findings.push(finding(
            Level::Warning,
            format!("no supervisor runs, but .pid names {pid} (left by one that was killed)"),
            Some("`eos up` starts one; the stale .pid does not stop it"),
        )),
        (None, None) => findings.push(finding(
            Level::Note,
            "no supervisor runs on this root",
            Some("`eos up` starts one"),
        )),
    }
}

/// A `replaying` file whose replay is gone leaves the fault rules resting.
fn replaying(root: &Root, findings: &mut Vec<Finding>) {
    let Ok(said) = fs::read_to_string(root.replaying_file()) else {
        return;
    };
    let pid = said
        .rsplit_once("(pid ")
        .and_then(|(_, p)| p.trim_end().trim_end_matches(')').parse::<u32>().ok());
    let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
    if alive {
        findings.push(finding(
            Level::Note,
            format!("a replay is running ({}): fault rules rest", said.trim()),
            None,
        ));
    } else {
        findings.push(finding(
            Level::Warning,
            format!(
                "`replaying` is left from a replay that stopped ({}): the fault rules rest",
                said.trim()
            ),
            Some("`eos resume` (or removing the file) lets them apply again"),
        ));
    }
}

fn actor(root: &Root, view: &ActorView, findings: &mut Vec<Finding>) {
    let id = &view.id;
    let log = root.actor(id).log_file();
    match view.status.as_str() {
        "exited" | "failed" => {
            let how = match (&view.exit_code, &view.signal) {
                (_, Some(signal)) => format!("killed by {signal}"),
                (Some(code), _) => format!("exited with code {code}"),
                _ => view.status.clone(),
            };
            findings.push(finding(
                Level::Warning,
                format!("`{id}` {how}; {} message(s) wait for it", view.queue),
                Some(&format!(
                    "see {}, then `eos restart {id}` (same state and mail)",
                    log.display()
                )),
            ));
        }
        "stopped" => findings.push(finding(
            Level::Note,
            format!("`{id}` is stopped; it starts with the next supervisor"),
            None,
        )),
        _ => {}
    }
    if let Some(problem) = &view.problem {
        let first = problem.lines().next().unwrap_or_default();
        findings.push(finding(
            Level::Error,
            format!("`{id}`'s script does not compile: {first}"),
            Some("fix the script and save it (`eos check FILE` says what is wrong)"),
        ));
    }
    if view.paused {
        findings.push(finding(
            Level::Note,
            format!("`{id}` is paused"),
            Some("`eos resume`"),
        ));
    }
}

/// What the supervisor found stuck in the last hour (the journal's `stuck` entries).
fn stuck(root: &Root, findings: &mut Vec<Finding>) {
    let since = crate::clock::now_us().saturating_sub(3_600_000_000);
    let mut seen = Vec::new();
    for entry in crate::journal::read(root).into_iter().rev() {
        if entry.us < since {
            break;
        }
        if let crate::journal::Event::Stuck { what, .. } = entry.event
            && !seen.contains(&what)
            && seen.len() < 5
        {
            seen.push(what);
        }
    }
    for what in seen {
        findings.push(finding(
            Level::Warning,
            format!("stuck: {what}"),
            Some("look at its log and `eos pending`; `eos kill` an actor that never answers"),
        ));
    }
}

/// Supervision nodes that gave up, and tree files the supervisor could not apply.
fn supervision(root: &Root, findings: &mut Vec<Finding>) {
    let records: crate::supervision::SupervisionRecord =
        fsio::read_json(&root.supervision_file()).unwrap_or_default();
    for (node, record) in records {
        if let Some(down) = record.down {
            let fix = if crate::supervision::is_actor_node(&node) {
                "find why in its log, then `eos restart ID`"
            } else {
                "find why in the actors' logs, then `eos tree apply` the tree again"
            };
            findings.push(finding(
                Level::Error,
                format!("supervision node {node} gave up ({down}); its actors stay down"),
                Some(fix),
            ));
        }
    }
    let trees = root.trees_dir();
    for name in fsio::names(&trees).unwrap_or_default() {
        if let Some(tree) = layout::explained_by(&name) {
            let reason = dead::read_reason(&trees.join(&name)).unwrap_or_default();
            findings.push(finding(
                Level::Error,
                format!(
                    "trees/{tree} was not applied: {}",
                    reason.lines().next().unwrap_or("")
                ),
                Some("fix the file; the supervisor applies it when it is written"),
            ));
        }
    }
}

fn dead_letters(root: &Root, findings: &mut Vec<Finding>) {
    let dir = root.dead_dir();
    let mut letters: Vec<(SystemTime, String)> = fsio::names(&dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|n| !layout::is_ignored(n) && layout::explained_by(n).is_none())
        .filter_map(|n| {
            let meta = fs::symlink_metadata(dir.join(&n)).ok()?;
            Some((meta.modified().ok()?, n)).filter(|_| meta.is_file())
        })
        .collect();
    if letters.is_empty() {
        return;
    }
    letters.sort();
    let (_, newest) = &letters[letters.len() - 1];
    let reason = dead::read_reason(&layout::reason_file(&dir.join(newest))).unwrap_or_default();
    findings.push(finding(
        Level::Warning,
        format!(
            "{} dead letter(s) in {}; the newest, {newest}: {}",
            letters.len(),
            dir.display(),
            reason.lines().next().unwrap_or("(no reason)")
        ),
        Some("read the .reason beside each, fix it and move it back into send/, or delete it"),
    ));
}

fn disk(path: &Path, findings: &mut Vec<Finding>) {
    let Ok(stat) = nix::sys::statvfs::statvfs(path) else {
        return;
    };
    let free = stat.blocks_available() * stat.fragment_size();
    let total = stat.blocks() * stat.fragment_size();
    if total > 0 && (free < 100 << 20 || free * 20 < total) {
        findings.push(finding(
            Level::Warning,
            format!(
                "the disk of {} is nearly full: {} MiB free of {} MiB",
                path.display(),
                free >> 20,
                total >> 20
            ),
            Some("make room: messages wait (nothing is lost) until there is some"),
        ));
    }
}
