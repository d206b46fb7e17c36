//! `send`: writing a message into `send/`.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use super::log::Tail;
use super::output::{BOLD, GOOD, Output, styled};
use super::{actors, system};
use crate::journal::Event;
use crate::{ActorId, Envelope, MessageId, Root, numbers};

pub fn send(
    root: &Root,
    out: &Output,
    to: &str,
    json: Option<String>,
    file: Option<PathBuf>,
    sender: Option<String>,
    wait: Option<Duration>,
) -> Result<ExitCode> {
    system::require(root)?;
    let to = actors::require(root, to)?;
    let sender = sender
        .map(|s| ActorId::parse(&s).map_err(|e| anyhow!("--sender: {e}")))
        .transpose()?;
    let (text, origin) = match (json, file) {
        (Some(text), _) => (text, "the message".to_owned()),
        (None, Some(path)) if path.as_os_str() == "-" => (read_stdin()?, "standard input".into()),
        (None, Some(path)) => (
            std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?,
            path.display().to_string(),
        ),
        (None, None) if !std::io::stdin().is_terminal() => (read_stdin()?, "standard input".into()),
        (None, None) => bail!(
            "give the message as JSON: `eos send {to} '{{\"inc\": 1}}'`, with -f FILE, or on standard input"
        ),
    };
    let payload = parse_json(&text, &origin)?;
    let id = MessageId::generate();
    let mut tail = Tail::at_end(root);
    Envelope::new(id.clone(), sender, payload).post(root, &to)?;
    if let Some(limit) = wait {
        return wait_handled(root, out, &to, &id, &mut tail, limit);
    }
    out.say(format!(
        "{} {} to {}",
        styled(GOOD, "sent"),
        id,
        styled(BOLD, &to)
    ))?;
    out.data(&json!({"id": id, "to": to}))?;
    Ok(ExitCode::SUCCESS)
}

/// Follows the journal until the message's result (the actor's new state) or its dead letter
/// (why it failed).
fn wait_handled(
    root: &Root,
    out: &Output,
    to: &ActorId,
    id: &MessageId,
    tail: &mut Tail,
    limit: Duration,
) -> Result<ExitCode> {
    let deadline = Instant::now() + limit;
    loop {
        for entry in tail.next()? {
            match entry.event {
                Event::Result {
                    message,
                    ok: true,
                    state,
                    ..
                } if message == id.as_str() => {
                    let state = state
                        .or_else(|| crate::fsio::read_json(&root.actor(to).state_file()).ok())
                        .unwrap_or(Value::Null);
                    out.say(format!(
                        "{} {id} to {}; its state is now:\n{}",
                        styled(GOOD, "handled"),
                        styled(BOLD, to),
                        serde_json::to_string_pretty(&state)?
                    ))?;
                    out.data(&json!({"id": id, "to": to, "handled": true, "state": state}))?;
                    return Ok(ExitCode::SUCCESS);
                }
                Event::Dead {
                    message: Some(message),
                    reason,
                    file,
                    ..
                } if message == id.as_str() => {
                    bail!("{id} failed: {reason}\n(the message is in dead/{file})");
                }
                _ => {}
            }
        }
        if Instant::now() > deadline {
            bail!(
                "{id} was not handled within {limit:?}; it may be waiting (see `eos pending`) \
                 or `{to}` may be paused or stopped (`eos list`)"
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn read_stdin() -> Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("reading standard input")?;
    Ok(text)
}

/// Parses JSON a person typed; an error shows where, with the line and a caret.
pub fn parse_json(text: &str, origin: &str) -> Result<Value> {
    numbers::check_exact(text.as_bytes()).map_err(|e| anyhow!("{origin}: {e}"))?;
    serde_json::from_str(text).map_err(|e| {
        let line = text
            .lines()
            .nth(e.line().saturating_sub(1))
            .unwrap_or_default();
        let caret = format!("{}^", " ".repeat(e.column().saturating_sub(1)));
        anyhow!(
            "{origin} is not valid JSON: {e}\n  {line}\n  {caret}\n(strings need double quotes: \
             '{{\"key\": \"value\"}}')"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_json_shows_where() {
        let err = parse_json("{\"a\": nope}", "the message")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1 column 8"), "{err}");
        assert!(err.contains("  {\"a\": nope}\n         ^"), "{err}");
    }
}
