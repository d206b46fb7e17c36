//! `maelstrom-actor`: runs a Maelstrom node — a program that reads JSON messages on its
//! standard input and writes them on its standard output, `{"src", "dest", "body"}` a line —
//! as an EOS actor. Started as `maelstrom-actor <id> <state> <message> <send> PROGRAM ARGS...`
//! (what `eos spawn --maelstrom PROGRAM` asks for):
//!
//! - a delivered EOS message becomes a line on the node's input: `src` its sender, `dest` this
//!   actor, `body` its payload;
//! - every line the node prints becomes an EOS message to its `dest`, with the body as payload;
//!   a line that is not a Maelstrom message goes to `dead/` with the reason, and the node goes
//!   on;
//! - the node's standard error is the actor's log; when the node exits, the actor exits with
//!   its code, and supervision decides (a restarted node starts with empty memory, as in
//!   Maelstrom, and is sent its `init` again);
//! - `state.json` shows what EOS sees: counts, the last message in and out, the ids `init` gave.
//!
//! With `--client` instead of a program it is a client, such as `c1`: it keeps the replies it
//! receives, in its state (the last ones) and in `replies.jsonl` in its folder (all, timed).

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result, bail};
use eos::envelope::Envelope;
use eos::sdk::{Actor, Args, note};
use eos::{ActorId, MessageId, Root, fsio};
use serde_json::{Value, json};

/// How many replies a client keeps in its state (all are in `replies.jsonl`).
const KEPT: usize = 20;

/// Where the sender of a message from no actor says it came from.
const NOBODY: &str = "eos";

fn main() -> Result<()> {
    let actor = Actor::from_env()?;
    let args = actor.args().clone();
    match args.extra.first().map(String::as_str) {
        None => bail!(
            "usage: maelstrom-actor <id> <state> <message> <send> (PROGRAM ARGS... | --client)"
        ),
        Some("--client") => client(actor),
        Some(_) => node(actor, args),
    }
}

/// What EOS sees of a node.
#[derive(Default)]
struct Seen {
    received: u64,
    sent: u64,
    invalid: u64,
    last_in: Value,
    last_out: Value,
    /// The last message delivered: what the node's output is most likely an answer to.
    cause: Option<MessageId>,
}

fn node(actor: Actor, args: Args) -> Result<()> {
    let root = Root::from_send_dir(&args.send_dir).context("the send directory has no parent")?;
    let me = args.id.clone();
    let program = &args.extra[0];
    let mut child = Command::new(program)
        .args(&args.extra[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting the node {program}"))?;
    let mut input = child.stdin.take().context("the node has no input")?;
    let output = child.stdout.take().context("the node has no output")?;
    let seen = Arc::new(Mutex::new(Seen::default()));

    // A node started again (a crash, a restart) has lost its memory, as in Maelstrom: it is
    // told who it is again, and its answer to that is not passed on.
    let before: Value = fsio::read_json(&args.state_file).unwrap_or(Value::Null);
    let node_ids = before.get("node_ids").cloned().filter(Value::is_array);
    let reinit = node_ids.is_some();
    if let Some(ids) = &node_ids {
        let init = json!({"src": NOBODY, "dest": me.as_str(),
                          "body": {"type": "init", "msg_id": 0, "node_id": me.as_str(), "node_ids": ids}});
        writeln!(input, "{init}").context("telling the node who it is")?;
    }

    let pid = child.id();
    let reader = {
        let (seen, root, me) = (seen.clone(), root.clone(), me.clone());
        std::thread::spawn(move || relay(BufReader::new(output), &root, &me, &seen, reinit))
    };
    // When the node ends, so does the actor: supervision decides what happens next.
    std::thread::spawn(move || {
        let code = child.wait().ok().and_then(|s| s.code()).unwrap_or(1);
        let _ = reader.join();
        note(format_args!("the node exited with code {code}"));
        std::process::exit(code);
    });

    let mut node_ids = node_ids;
    let ran = actor.run(move |_ctx, _state: Value, msg| {
        let body = msg.payload.clone();
        if body["type"] == "init" {
            node_ids = body.get("node_ids").cloned();
        }
        let src = msg.sender.as_ref().map_or(NOBODY, ActorId::as_str);
        let line = json!({"src": src, "dest": me.as_str(), "body": body});
        deliver(&mut input, &line);
        let mut seen = seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.received += 1;
        seen.last_in = line;
        seen.cause = msg.id.clone();
        Ok(json!({
            "node": me.as_str(),
            "program": program,
            "node_ids": node_ids,
            "received": seen.received,
            "sent": seen.sent,
            "invalid_lines": seen.invalid,
            "last_in": seen.last_in,
            "last_out": seen.last_out,
        }))
    });
    // Stopped (SIGTERM): the node stops too.
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    ran
}

/// Writes a message on the node's input. A node that cannot take it has ended: the actor
/// exits at once, keeping the message (`current`) to be delivered again after a restart.
fn deliver(input: &mut ChildStdin, line: &Value) {
    if writeln!(input, "{line}")
        .and_then(|()| input.flush())
        .is_err()
    {
        note(format_args!("the node no longer reads its input; stopping"));
        std::process::exit(1);
    }
}

/// Turns each line the node prints into an EOS message, until the node closes its output.
fn relay(output: impl BufRead, root: &Root, me: &ActorId, seen: &Mutex<Seen>, mut reinit: bool) {
    for line in output.lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let parsed = serde_json::from_str::<Value>(&line)
            .map_err(|e| format!("not JSON: {e}"))
            .and_then(|v| message(&v).map(|(dest, body)| (dest, body, v)));
        let mut seen = seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match parsed {
            Ok((_, body, _)) if reinit && body["in_reply_to"] == 0 => {
                // The answer to the init sent again at a restart.
                reinit = false;
            }
            Ok((dest, body, line)) => {
                let mut envelope = Envelope::new(MessageId::generate(), Some(me.clone()), body);
                envelope.cause = seen.cause.clone();
                match envelope.post(root, &dest) {
                    Ok(_) => {
                        seen.sent += 1;
                        seen.last_out = line;
                    }
                    Err(e) => note(format_args!("cannot send to {dest}: {e:#}")),
                }
            }
            Err(why) => {
                seen.invalid += 1;
                let reason = format!(
                    "the Maelstrom node `{me}` printed a line that is not a message ({why}); \
                     a message is {{\"src\", \"dest\", \"body\": {{\"type\", …}}}} on one line. \
                     The node goes on."
                );
                set_aside(root, me, &line, &reason);
            }
        }
    }
}

/// The destination and body of a Maelstrom message.
fn message(value: &Value) -> Result<(ActorId, Value), String> {
    let dest = value["dest"].as_str().ok_or("it has no \"dest\" string")?;
    let dest = ActorId::parse(dest).map_err(|e| format!("\"dest\" is not an actor id: {e}"))?;
    let body = value
        .get("body")
        .filter(|b| b.is_object())
        .ok_or("it has no \"body\" object")?;
    if !body["type"].is_string() {
        return Err("its body has no \"type\"".into());
    }
    Ok((dest, body.clone()))
}

/// Puts a line the node printed into `dead/`, with the reason beside it.
fn set_aside(root: &Root, me: &ActorId, line: &str, reason: &str) {
    let id = MessageId::generate();
    let name = eos::layout::dead_letter_name(me, &id);
    let scratch = root.scratch_dir().join(format!("{name}.line"));
    let written = fsio::write_atomic(&scratch, format!("{line}\n").as_bytes())
        .map_err(anyhow::Error::from)
        .and_then(|()| {
            Ok(eos::dead::set_aside(
                &scratch,
                &root.dead_dir(),
                &name,
                reason,
            )?)
        });
    if let Err(e) = written {
        note(format_args!("{reason}; and it cannot be set aside: {e:#}"));
    }
}

/// A client: keeps every message it receives.
fn client(actor: Actor) -> Result<()> {
    let log = actor.dir().replies_file();
    actor.run(move |_ctx, mut state: Value, msg| {
        let src = msg.sender.as_ref().map_or(NOBODY, ActorId::as_str);
        let entry = json!({"us": eos::clock::now_us(), "src": src, "body": msg.payload});
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        writeln!(file, "{entry}")?;
        if !state.is_object() {
            state = json!({"received": 0, "replies": []});
        }
        state["received"] = json!(state["received"].as_u64().unwrap_or(0) + 1);
        let mut replies = state["replies"].as_array().cloned().unwrap_or_default();
        replies.push(json!({"src": src, "body": entry["body"]}));
        let drop = replies.len().saturating_sub(KEPT);
        replies.drain(..drop);
        state["replies"] = Value::Array(replies);
        Ok(state)
    })
}
