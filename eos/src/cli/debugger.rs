//! The debugger commands: `pause`, `resume`, `step`, `deliver`, `pending`.
//!
//! Pausing is a file (`paused` in the root or an actor's folder) that a person can also touch
//! and remove; `step` and `deliver` are control requests the supervisor answers.

use std::fs;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use serde::Serialize;
use serde_json::{Value, json};

use super::actors;
use super::output::{BOLD, DIM, GOOD, Output, WARN, styled};
use super::{poll, system};
use crate::control::{Refusal, Reply, Request};
use crate::{ActorId, MessageId, Root, fsio, layout, mailbox};

pub fn pause(root: &Root, out: &Output, id: Option<String>) -> Result<ExitCode> {
    let (file, who) = paused_file(root, id)?;
    fsio::write_atomic(
        &file,
        b"paused by eos pause; remove this file (or eos resume) to resume\n",
    )?;
    out.say(format!(
        "{} {who}: messages wait as files; `eos pending` lists them, `eos step` or \
         `eos deliver MESSAGE` delivers one, `eos resume` goes on",
        styled(WARN, "paused")
    ))?;
    out.data(&json!({"paused": true, "actor": who}))?;
    Ok(ExitCode::SUCCESS)
}

pub fn resume(root: &Root, out: &Output, id: Option<String>) -> Result<ExitCode> {
    let (file, who) = paused_file(root, id)?;
    let was = fs::remove_file(&file).is_ok();
    if who == "everything" {
        // A replay that was interrupted lets the fault rules rest no longer.
        let _ = fs::remove_file(root.replaying_file());
    }
    let note = if was { "" } else { " (it was not paused)" };
    out.say(format!("{} {who}{note}", styled(GOOD, "resumed")))?;
    if root.paused_file().exists() && who != "everything" {
        out.warn("the whole system is still paused (eos resume)");
    }
    out.data(&json!({"paused": false, "actor": who, "was_paused": was}))?;
    Ok(ExitCode::SUCCESS)
}

/// Which breakpoint a `paused` file says paused delivery, if one did.
pub(super) fn paused_by(file: &std::path::Path) -> Option<String> {
    let bytes = crate::fsio::read_limited(file, 4096).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let line = text.lines().next()?.trim();
    line.starts_with("breakpoint").then(|| line.to_owned())
}

fn paused_file(root: &Root, id: Option<String>) -> Result<(std::path::PathBuf, String)> {
    match id {
        None => Ok((root.paused_file(), "everything".into())),
        Some(id) => {
            let id = actors::require(root, &id)?;
            Ok((root.actor(&id).paused_file(), id.to_string()))
        }
    }
}

pub fn step(root: &Root, out: &Output, id: Option<String>) -> Result<ExitCode> {
    let actor = id.map(|id| actors::require(root, &id)).transpose()?;
    ask(root, out, &Request::Step { actor })
}

pub fn deliver(root: &Root, out: &Output, message: &str) -> Result<ExitCode> {
    ask(
        root,
        out,
        &Request::Deliver {
            message: message.to_owned(),
        },
    )
}

/// Sends a control request and prints the supervisor's reply. While the actor is still busy
/// with the message before (a person stepping quickly), it asks again for a few seconds.
fn ask(root: &Root, out: &Output, request: &Request) -> Result<ExitCode> {
    system::require(root)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let reply = loop {
        let reply = ask_once(root, request)?;
        let transient = reply.error.as_ref().is_some_and(Refusal::is_transient);
        if !transient || Instant::now() > deadline {
            break reply;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if let Some(refusal) = reply.error {
        return Err(anyhow!(refusal));
    }
    let delivered = reply
        .delivered
        .ok_or_else(|| anyhow!("the supervisor's reply is empty"))?;
    out.say(format!(
        "{} {} to {}: {}",
        styled(GOOD, "delivered"),
        delivered.message,
        styled(BOLD, &delivered.actor),
        delivered.payload
    ))?;
    out.data(&delivered)?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn ask_once(root: &Root, request: &Request) -> Result<Reply> {
    let path = root.control_request(&MessageId::generate());
    fsio::write_json_atomic(&path, request)?;
    let reply_path = layout::control_reply(&path);
    match poll::until(Duration::from_secs(10), || {
        fsio::read_json(&reply_path).ok()
    }) {
        Some(reply) => {
            let _ = fs::remove_file(&reply_path);
            Ok(reply)
        }
        None => {
            let _ = fs::remove_file(&path);
            bail!("the supervisor did not answer within 10s")
        }
    }
}

#[derive(Serialize)]
struct Waiting {
    actor: ActorId,
    file: String,
    /// The message's id: in its envelope, or (a file put there by hand) from its name.
    id: String,
    /// Being handled now (`current`), or waiting.
    handling: bool,
    /// In its actor's spool; not yet: still in `send/`.
    routed: bool,
    paused: bool,
    message: Value,
    /// A timer: how long until it is due (ms; negative: overdue).
    #[serde(skip_serializing_if = "Option::is_none")]
    due_in_ms: Option<i64>,
}

/// How long `eos pending` lets the supervisor route what was just sent. Routing takes
/// microseconds, but mail for a busy actor may wait in `send/` for its answer (milliseconds).
const ROUTING: Duration = Duration::from_millis(250);

/// Everything waiting, system-wide: what each actor is handling, then the pending messages in
/// the order `eos step` would deliver them (names carry the routing sequence), then what was
/// sent and is not routed yet.
pub fn pending(root: &Root, out: &Output) -> Result<ExitCode> {
    if system::running(root).is_some() {
        // What is in `send/` now gets routed first, so that the list is the queues' order.
        let sent = in_send(root);
        poll::until(ROUTING, || {
            (!in_send(root).iter().any(|s| sent.contains(s))).then_some(())
        });
    }
    let all_paused = root.paused_file().exists();
    let mut handling = Vec::new();
    let mut waiting = Vec::new();
    for id in actors::known(root) {
        let dir = root.actor(&id);
        let paused = all_paused || dir.paused_file().exists();
        let read = |file: &str| {
            fsio::read_json::<Value>(&dir.spool_dir().join(file)).unwrap_or(Value::Null)
        };
        if dir.current_file().exists() {
            let message = read(layout::CURRENT);
            handling.push(Waiting {
                actor: id.clone(),
                id: message_id(&message, layout::pending_message_id(layout::CURRENT)),
                file: layout::CURRENT.into(),
                handling: true,
                routed: true,
                paused,
                message,
                due_in_ms: None,
            });
        }
        for file in mailbox::pending(&dir.spool_dir()).unwrap_or_default() {
            let message = read(&file);
            let now_ms = crate::clock::now_us() / 1000;
            let due_in_ms = message
                .get(crate::envelope::DUE)
                .and_then(Value::as_u64)
                .map(|due| due as i64 - now_ms as i64);
            waiting.push(Waiting {
                actor: id.clone(),
                id: message_id(&message, layout::pending_message_id(&file)),
                message,
                file,
                handling: false,
                routed: true,
                due_in_ms,
                paused,
            });
        }
    }
    // The order `eos step` delivers them in: the supervisor's own ordering function.
    waiting.sort_by(|a, b| {
        mailbox::system_order((a.actor.as_str(), &a.file), (b.actor.as_str(), &b.file))
    });
    let unrouted = super::doctor::unrouted(root);
    // Sent and not routed yet (or not routed at all: those `unrouted` says why of): they come
    // after everything routed, in the order they were sent.
    let mut sent = Vec::new();
    for (name, actor, named_id) in in_send(root) {
        let file = format!("{}/{name}", layout::SEND);
        if unrouted.iter().any(|u| u.file == file) {
            continue;
        }
        // As it will be delivered: plain JSON is wrapped in an envelope when it is routed.
        let message = fsio::read_json::<Value>(&root.send_dir().join(&name))
            .ok()
            .map(|raw| crate::envelope::normalize(raw.clone(), &named_id).map_or(raw, |(e, _)| e))
            .unwrap_or(Value::Null);
        let paused = all_paused || root.actor(&actor).paused_file().exists();
        sent.push(Waiting {
            id: message_id(&message, Some(named_id)),
            actor,
            file,
            handling: false,
            routed: false,
            paused,
            message,
            due_in_ms: None,
        });
    }
    let all: Vec<&Waiting> = handling.iter().chain(&waiting).chain(&sent).collect();
    out.data(&all)?;
    if out.json_mode() {
        return Ok(ExitCode::SUCCESS);
    }
    if all_paused {
        let by = paused_by(&root.paused_file())
            .map(|b| format!(" by {b}"))
            .unwrap_or_default();
        out.say(styled(
            WARN,
            format!("the system is paused{by} (eos resume)"),
        ))?;
    }
    if all.is_empty() && unrouted.is_empty() {
        out.say("nothing is waiting")?;
    }
    for item in &all {
        let what = match (item.handling, item.routed) {
            (true, _) => "handling",
            (false, true) => "waiting",
            (false, false) => "sent",
        };
        let paused = if item.paused && !all_paused {
            match paused_by(&root.actor(&item.actor).paused_file()) {
                Some(by) => format!(" (paused by {by})"),
                None => " (paused)".to_owned(),
            }
        } else {
            String::new()
        };
        let id = &item.id;
        let paused = match item.due_in_ms {
            Some(ms) if ms > 0 => format!("{paused} (timer, due in {:.1}s)", ms as f64 / 1000.0),
            Some(_) => format!("{paused} (timer, due)"),
            None if !item.routed => format!("{paused} (not routed yet)"),
            None => paused,
        };
        out.say(format!(
            "{:<8} {:<16} {} {}{paused}  {}",
            what,
            item.actor,
            styled(DIM, &item.file),
            id,
            item.message
                .get("payload")
                .map(|p| p.to_string())
                .unwrap_or_default()
        ))?;
    }
    for u in unrouted {
        out.say(format!(
            "{} {}: {}",
            styled(WARN, "not routed"),
            u.file,
            u.why
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The message files in `send/` (valid names only), oldest first, with their receivers and the
/// ids their names give.
fn in_send(root: &Root) -> Vec<(String, ActorId, MessageId)> {
    let Ok(entries) = fs::read_dir(root.send_dir()) else {
        return Vec::new();
    };
    let mut found: Vec<_> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let (actor, id) = layout::parse_send_name(&name).ok()??;
            let sent = e.metadata().and_then(|m| m.modified()).ok();
            Some((sent, name, actor, id))
        })
        .collect();
    found.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    found
        .into_iter()
        .map(|(_, name, actor, id)| (name, actor, id))
        .collect()
}

/// A waiting message's id: in its envelope, or the one its file's name gives (`named`).
fn message_id(message: &Value, named: Option<MessageId>) -> String {
    message["id"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| named.map(String::from))
        .unwrap_or_else(|| "?".into())
}
