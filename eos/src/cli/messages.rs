//! `send`: writing a message into `send/`.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use super::output::{BOLD, GOOD, Output, styled};
use super::{actors, system};
use crate::{ActorId, Envelope, MessageId, Root, numbers};

pub fn send(
    root: &Root,
    out: &Output,
    to: &str,
    json: Option<String>,
    file: Option<PathBuf>,
    sender: Option<String>,
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
    Envelope::new(id.clone(), sender, payload).post(root, &to)?;
    out.say(format!(
        "{} {} to {}",
        styled(GOOD, "sent"),
        id,
        styled(BOLD, &to)
    ))?;
    out.data(&json!({"id": id, "to": to}))?;
    Ok(ExitCode::SUCCESS)
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
