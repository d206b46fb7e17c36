//! Looking at actors (`list`, `inspect`) and stopping one (`kill`).

use std::fs;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::Signal;
use serde::Serialize;
use serde_json::{Value, json};

use super::output::{BAD, BOLD, DIM, GOOD, Output, WARN, styled};
use super::{poll, system};
use crate::pidfd::Pidfd;
use crate::spawn_request::SpawnRequest;
use crate::status::ActorStatus;
use crate::{ActorId, Root, fsio, layout, mailbox};

/// Everything the CLI shows about one actor, read from its folder.
#[derive(Serialize)]
pub struct ActorView {
    pub id: ActorId,
    /// running / exited / failed / starting (no status written yet)
    pub status: String,
    pub pid: Option<u32>,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    /// Pending messages, `current` included.
    pub queue: usize,
    pub current: bool,
    /// Nothing is delivered to it: it, or the whole system, is paused.
    pub paused: bool,
    pub program: Option<String>,
    /// The script, for a script actor.
    pub script: Option<String>,
    /// What keeps it from handling anything (a script that does not compile).
    pub problem: Option<String>,
    pub last_error: Option<String>,
}

impl ActorView {
    /// What the files say, except that without a supervisor nothing runs: a status left at
    /// "running" by a supervisor that was killed reads "stopped".
    pub fn read(root: &Root, id: &ActorId) -> ActorView {
        let mut view = Self::from_files(root, id);
        if view.status == "running" && !system::locked(root) {
            view.status = "stopped".into();
            view.pid = None;
        }
        view
    }

    fn from_files(root: &Root, id: &ActorId) -> ActorView {
        let dir = root.actor(id);
        let status: Option<ActorStatus> = fsio::read_json(&dir.status_file()).ok();
        let record: Option<SpawnRequest> = fsio::read_json(&dir.spawn_record()).ok();
        let pending = mailbox::pending(&dir.spool_dir()).unwrap_or_default();
        let current = dir.current_file().exists();
        let text = |p: &Path| fs::read_to_string(p).ok().map(|t| t.trim_end().to_owned());
        let script = record
            .as_ref()
            .filter(|r| {
                Path::new(&r.path)
                    .file_name()
                    .is_some_and(|n| n == "script-actor")
            })
            .and_then(|r| r.args.first().cloned());
        let (word, pid, exit_code, signal) = match &status {
            None => ("starting".to_owned(), None, None, None),
            Some(s @ ActorStatus::Running { pid, .. }) => {
                (s.word().to_owned(), Some(*pid), None, None)
            }
            Some(s @ ActorStatus::Exited { code, signal, .. }) => {
                (s.word().to_owned(), None, *code, signal.clone())
            }
            Some(s) => (s.word().to_owned(), None, None, None),
        };
        ActorView {
            id: id.clone(),
            status: word,
            pid,
            exit_code,
            signal,
            queue: pending.len() + usize::from(current),
            current,
            paused: root.paused_file().exists() || dir.paused_file().exists(),
            program: record.map(|r| r.path),
            script,
            problem: text(&dir.problem_file()),
            last_error: text(&dir.last_error_file()).or_else(|| match &status {
                Some(ActorStatus::Failed { error, .. }) => Some(error.clone()),
                _ => None,
            }),
        }
    }
}

/// The actors in the root, sorted by id.
pub fn known(root: &Root) -> Vec<ActorId> {
    let mut ids: Vec<ActorId> = fsio::names(&root.running_dir())
        .unwrap_or_default()
        .iter()
        .filter(|n| !layout::is_ignored(n))
        .filter_map(|n| ActorId::parse(n).ok())
        .filter(|id| root.actor(id).path().is_dir())
        .collect();
    ids.sort();
    ids
}

/// `id` if such an actor exists; otherwise an error that lists the ones that do.
pub fn require(root: &Root, id: &str) -> Result<ActorId> {
    let id = id_of(id)?;
    let parsed = ActorId::parse(id).map_err(|e| anyhow!("{e}"))?;
    if root.actor(&parsed).path().is_dir() {
        return Ok(parsed);
    }
    let known = known(root);
    if known.is_empty() {
        bail!(
            "there is no actor `{id}` on {} (there are no actors)",
            root.path().display()
        );
    }
    let names: Vec<&str> = known.iter().map(ActorId::as_str).collect();
    bail!(
        "there is no actor `{id}`; known actors: {}",
        names.join(", ")
    )
}

fn status_style(view: &ActorView) -> String {
    let style = match view.status.as_str() {
        "running" if view.problem.is_some() => WARN,
        "running" => GOOD,
        "starting" => DIM,
        _ => BAD,
    };
    let mut word = view.status.clone();
    if view.problem.is_some() {
        word.push_str(" (script error)");
    }
    if view.paused {
        word.push_str(" (paused)");
    }
    styled(style, word)
}

pub fn list(root: &Root, out: &Output) -> Result<ExitCode> {
    let views: Vec<ActorView> = known(root)
        .iter()
        .map(|id| ActorView::read(root, id))
        .collect();
    out.data(&views)?;
    if out.json_mode() {
        return Ok(ExitCode::SUCCESS);
    }
    if views.is_empty() {
        out.say(format!("no actors on {}", root.path().display()))?;
        return Ok(ExitCode::SUCCESS);
    }
    let width = views
        .iter()
        .map(|v| v.id.as_str().len())
        .max()
        .unwrap_or(2)
        .max(2);
    out.say(styled(
        BOLD,
        format!(
            "{:<width$}  {:<24}  {:>7}  {:>5}  SCRIPT",
            "ID", "STATUS", "PID", "QUEUE"
        ),
    ))?;
    for view in &views {
        // Pad the plain word, then style it, so columns line up with or without colour.
        let plain_len = view.status.len()
            + if view.problem.is_some() { 15 } else { 0 }
            + if view.paused { 9 } else { 0 };
        let padding = " ".repeat(24usize.saturating_sub(plain_len));
        out.say(format!(
            "{:<width$}  {}{padding}  {:>7}  {:>5}  {}",
            view.id,
            status_style(view),
            view.pid.map_or("-".into(), |p| p.to_string()),
            view.queue,
            view.script
                .as_deref()
                .or(view.program.as_deref())
                .unwrap_or("-"),
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn inspect(root: &Root, out: &Output, id: &str) -> Result<ExitCode> {
    let id = require(root, id)?;
    let view = ActorView::read(root, &id);
    let dir = root.actor(&id);
    let state: Value = fsio::read_json(&dir.state_file()).unwrap_or(Value::Null);
    let read = |name: &str| -> Value {
        let path = dir.spool_dir().join(name);
        fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null)
    };
    let current = view.current.then(|| read(layout::CURRENT));
    let pending: Vec<Value> = mailbox::pending(&dir.spool_dir())
        .unwrap_or_default()
        .iter()
        .map(|name| json!({"file": name, "message": read(name)}))
        .collect();
    out.data(&json!({
        "actor": view,
        "folder": dir.path(),
        "state": state,
        "current": current,
        "pending": pending,
    }))?;
    if out.json_mode() {
        return Ok(ExitCode::SUCCESS);
    }
    let mut status = status_style(&view);
    if let Some(pid) = view.pid {
        status.push_str(&format!(" (pid {pid})"));
    }
    if let Some(code) = view.exit_code {
        status.push_str(&format!(" (exit code {code})"));
    }
    if let Some(signal) = &view.signal {
        status.push_str(&format!(" (killed by {signal})"));
    }
    out.say(format!("{} {}", styled(BOLD, "actor:  "), id))?;
    out.say(format!("{} {}", styled(BOLD, "status: "), status))?;
    out.say(format!(
        "{} {}",
        styled(BOLD, "folder: "),
        dir.path().display()
    ))?;
    if let Some(program) = view.script.as_ref().or(view.program.as_ref()) {
        out.say(format!("{} {program}", styled(BOLD, "runs:   ")))?;
    }
    if let Some(problem) = &view.problem {
        out.say(styled(WARN, "problem (messages wait until it is fixed):"))?;
        out.say(indent(problem))?;
    }
    if let Some(error) = &view.last_error {
        out.say(styled(BOLD, "last error:"))?;
        out.say(indent(error))?;
    }
    out.say(styled(BOLD, "state:"))?;
    out.say(indent(&serde_json::to_string_pretty(&state)?))?;
    if let Some(current) = current {
        out.say(styled(BOLD, "handling now:"))?;
        out.say(indent(&compact(&current)))?;
    }
    out.say(styled(BOLD, format!("pending ({}):", pending.len())))?;
    for item in &pending {
        let file = item["file"].as_str().unwrap_or_default();
        out.say(format!(
            "  {}  {}",
            styled(DIM, file),
            compact(&item["message"])
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

pub fn kill(root: &Root, out: &Output, id: &str, signal: &str) -> Result<ExitCode> {
    system::require(root)?;
    let id = require(root, id)?;
    let name = signal.trim_start_matches("SIG").to_uppercase();
    let signal: Signal = format!("SIG{name}")
        .parse()
        .map_err(|_| anyhow!("unknown signal `{signal}`; use e.g. TERM, INT or KILL"))?;
    let dir = root.actor(&id);
    let pidfd = actor_process(root, &id)
        .with_context(|| format!("`{id}` is not running (see `eos inspect {id}`)"))?;
    pidfd
        .signal(signal)
        .with_context(|| format!("signalling {id}"))?;
    let pid = pidfd.pid();
    // Exited, or already running again (a new process) under its supervisor.
    let exited = poll::until(Duration::from_secs(10), || {
        match fsio::read_json::<ActorStatus>(&dir.status_file()) {
            Ok(ActorStatus::Running { pid: now, .. }) if now == pid => None,
            Ok(status) => Some(status),
            Err(_) => None,
        }
    });
    let Some(status) = exited else {
        out.warn(format!(
            "{id} has not exited yet; `eos kill {id} --signal KILL` forces it"
        ));
        return Ok(ExitCode::FAILURE);
    };
    let restart = fs::read_to_string(dir.restart_file())
        .map(|t| t.trim().to_owned())
        .unwrap_or_default();
    let back = status.is_running() || restart == "permanent" || restart == "transient";
    if back {
        out.say(format!(
            "{} {id}; its supervisor starts it again (restart type {restart}), with its state \
             and mail",
            styled(GOOD, "stopped")
        ))?;
    } else {
        out.say(format!(
            "{} {id}; its folder, state and mail stay",
            styled(GOOD, "stopped")
        ))?;
    }
    out.data(&json!({"id": id, "stopped": true, "restarted": back}))?;
    Ok(ExitCode::SUCCESS)
}

/// The id in what a person typed: an id, or (as the original EOS took them) an actor's folder,
/// `running/<id>` or a full path to it.
fn id_of(text: &str) -> Result<&str> {
    let trimmed = text.trim_end_matches('/');
    if !trimmed.contains('/') {
        return Ok(trimmed);
    }
    let path = Path::new(trimmed);
    let in_running = path
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|dir| dir == "running");
    match path.file_name().and_then(|n| n.to_str()) {
        Some(name) if in_running => Ok(name),
        _ => bail!("`{text}` is not an actor's folder (running/<id>) nor an actor id"),
    }
}

/// A pidfd for the actor's process, checked to really be that actor: a PID read from a file
/// may have been reused, so its environment must name this actor and this root.
fn actor_process(root: &Root, id: &ActorId) -> Result<Pidfd> {
    let pid: u32 = fs::read_to_string(root.actor(id).pid_file())?
        .trim()
        .parse()?;
    let pidfd = Pidfd::open(pid)?;
    let environ = fs::read(format!("/proc/{pid}/environ"))?;
    let has = |var: String| environ.split(|b| *b == 0).any(|e| e == var.as_bytes());
    let root_path = root.path().canonicalize()?;
    if !has(format!("{}={id}", layout::ACTOR_ID_ENV))
        || !has(format!("{}={}", layout::ROOT_ENV, root_path.display()))
    {
        bail!("pid {pid} is no longer this actor");
    }
    Ok(pidfd)
}

/// `eos restart ID`: the supervisor starts an actor that is not running again.
pub fn restart(root: &Root, out: &Output, id: &str) -> Result<ExitCode> {
    system::require(root)?;
    let id = require(root, id)?;
    let reply = super::debugger::ask_once(
        root,
        &crate::control::Request::Restart { actor: id.clone() },
    )?;
    if let Some(refusal) = reply.error {
        bail!(refusal);
    }
    let status = poll::until(Duration::from_secs(10), || {
        fsio::read_json::<ActorStatus>(&root.actor(&id).status_file())
            .ok()
            .filter(|s| !matches!(s, ActorStatus::Exited { .. } | ActorStatus::Stopped { .. }))
    });
    let pid = match status {
        Some(ActorStatus::Running { pid, .. }) => pid,
        Some(ActorStatus::Failed { error, .. }) => bail!("`{id}` could not be started: {error}"),
        _ => bail!("`{id}` did not start within 10s; see its actor.log"),
    };
    out.say(format!(
        "{} {} (pid {pid}) with its state and mail",
        styled(GOOD, "restarted"),
        styled(BOLD, &id)
    ))?;
    out.data(&json!({"id": id, "restarted": true, "pid": pid}))?;
    Ok(ExitCode::SUCCESS)
}

/// `eos kill ID...`: each in turn; the exit code says whether all of them stopped.
pub fn kill_all(root: &Root, out: &Output, ids: &[String], signal: &str) -> Result<ExitCode> {
    let mut code = ExitCode::SUCCESS;
    for id in ids {
        match kill(root, out, id, signal) {
            Ok(ExitCode::SUCCESS) => {}
            Ok(other) => code = other,
            Err(e) if ids.len() > 1 => {
                out.warn(format!("{id}: {e:#}"));
                code = ExitCode::FAILURE;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(code)
}

/// `eos cleanup [ID...] [--yes]`: removes actors that are not running, as the original EOS's
/// cleanup did, after asking. Their pending messages go to `dead/` (they can be sent again);
/// dead letters stay.
pub fn cleanup(root: &Root, out: &Output, ids: &[String], yes: bool) -> Result<ExitCode> {
    system::require(root)?;
    let running = |id: &ActorId| {
        fsio::read_json::<ActorStatus>(&root.actor(id).status_file()).is_ok_and(|s| s.is_running())
    };
    let chosen: Vec<ActorId> = if ids.is_empty() {
        known(root).into_iter().filter(|id| !running(id)).collect()
    } else {
        let chosen = ids
            .iter()
            .map(|id| require(root, id))
            .collect::<Result<Vec<_>>>()?;
        if let Some(id) = chosen.iter().find(|id| running(id)) {
            bail!("`{id}` is running; stop it first (eos kill {id})");
        }
        chosen
    };
    if chosen.is_empty() {
        out.say("nothing to clean up: every actor runs")?;
        out.data(&json!({"removed": []}))?;
        return Ok(ExitCode::SUCCESS);
    }
    let waiting: usize = chosen
        .iter()
        .map(|id| {
            let dir = root.actor(id);
            crate::mailbox::pending(&dir.spool_dir()).map_or(0, |p| p.len())
                + usize::from(dir.current_file().exists())
        })
        .sum();
    let names: Vec<&str> = chosen.iter().map(ActorId::as_str).collect();
    let what = format!(
        "remove {} actor(s) that do not run ({}); {waiting} pending message(s) go to dead/",
        chosen.len(),
        names.join(", ")
    );
    if !yes {
        use std::io::{BufRead, IsTerminal, Write};
        if !std::io::stdin().is_terminal() {
            bail!("cleanup would {what}; run it with --yes to confirm");
        }
        eprint!("{}? [y/N] ", what[..1].to_uppercase() + &what[1..]);
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            out.say("nothing removed")?;
            return Ok(ExitCode::FAILURE);
        }
    }
    let mut removed = Vec::new();
    for id in &chosen {
        let reply = super::debugger::ask_once(
            root,
            &crate::control::Request::Remove { actor: id.clone() },
        )?;
        match reply.error {
            Some(refusal) => out.warn(format!("{id}: {refusal}")),
            None => removed.push(id.clone()),
        }
    }
    out.say(format!(
        "{} {} actor(s); their pending messages are in {}",
        styled(GOOD, "removed"),
        removed.len(),
        root.dead_dir().display()
    ))?;
    out.data(&json!({"removed": removed}))?;
    Ok(if removed.len() == chosen.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `eos edit ID`: opens the actor's `state.json` in `$VISUAL`, `$EDITOR`, or VS Code when run
/// in its terminal; then says whether what was saved is valid JSON.
pub fn edit(root: &Root, out: &Output, id: &str) -> Result<ExitCode> {
    let id = require(root, id)?;
    let file = root.actor(&id).state_file();
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let in_vscode = std::env::var("TERM_PROGRAM").is_ok_and(|t| t == "vscode");
    let editor = set("VISUAL").or_else(|| set("EDITOR")).or_else(|| {
        (in_vscode && crate::programs::on_path("code").is_some()).then(|| "code".to_owned())
    });
    let Some(editor) = editor else {
        bail!(
            "no editor to open {}: set $VISUAL or $EDITOR (for example `export EDITOR=nano`), \
             or run this in VS Code's terminal",
            file.display()
        );
    };
    // Through the shell, as git does: an editor may come with its own arguments.
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&file)
        .status()
        .with_context(|| format!("starting {editor}"))?;
    if !status.success() {
        bail!(
            "{editor} ended with {status}; {} is as it was saved",
            file.display()
        );
    }
    match fsio::read_json::<serde_json::Value>(&file) {
        Ok(_) => out.say(format!("{} {}", styled(GOOD, "edited"), file.display()))?,
        Err(e) => out.warn(format!(
            "{} is not valid JSON now ({e:#}); `{id}` fails its next message until it is",
            file.display()
        )),
    }
    out.data(&json!({"id": id, "file": file}))?;
    Ok(ExitCode::SUCCESS)
}
