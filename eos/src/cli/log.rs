//! `eos log [-f]`: the journal, one readable line per event.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use serde_json::Value;

use super::output::{BAD, DIM, GOOD, Output, WARN, styled};
use crate::history::{OUTSIDE, label};
use crate::journal::{self, Entry, Event};
use crate::{Root, clock};

pub fn run(root: &Root, out: &Output, follow: bool) -> Result<ExitCode> {
    for entry in journal::read(root) {
        show(out, &entry)?;
    }
    if !follow {
        return Ok(ExitCode::SUCCESS);
    }
    let mut tail = Tail::at_end(root);
    loop {
        std::thread::sleep(Duration::from_millis(100));
        for entry in tail.next()? {
            show(out, &entry)?;
        }
    }
}

/// The journal's new entries, as they are written.
pub struct Tail {
    path: std::path::PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl Tail {
    /// Starts at the journal's end: only what is written from now on is read.
    pub fn at_end(root: &Root) -> Tail {
        let path = root.journal_file();
        let offset = std::fs::metadata(&path).map_or(0, |m| m.len());
        Tail {
            path,
            offset,
            partial: Vec::new(),
        }
    }

    /// The complete entries written since the last call.
    pub fn next(&mut self) -> Result<Vec<Entry>> {
        let Ok(mut file) = File::open(&self.path) else {
            return Ok(Vec::new());
        };
        let len = file.metadata()?.len();
        if len < self.offset {
            // Rotated: the new file starts from the beginning.
            self.offset = 0;
            self.partial.clear();
        }
        if len == self.offset {
            return Ok(Vec::new());
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut bytes = Vec::new();
        BufReader::new(file).read_to_end(&mut bytes)?;
        self.offset += bytes.len() as u64;
        self.partial.extend_from_slice(&bytes);
        // Only complete lines; the rest waits for the next read.
        let complete = self
            .partial
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let mut entries = Vec::new();
        journal::read_lines(&self.partial[..complete], &mut entries);
        self.partial.drain(..complete);
        Ok(entries)
    }
}

fn show(out: &Output, entry: &Entry) -> Result<()> {
    if out.json_mode() {
        out.raw(serde_json::to_string(entry)? + "\n")?;
        return Ok(());
    }
    // The whole time, as `eos trace --since` takes it.
    let time = styled(DIM, clock::format(entry.us));
    let short = |v: &Value| label(v, 60);
    // Ids begin with the time: their end tells them apart, and every command that takes a
    // message takes it.
    let id = |m: &str| m.get(m.len().saturating_sub(8)..).unwrap_or(m).to_owned();
    let line = match &entry.event {
        Event::Spawn {
            actor,
            program,
            args,
            parent,
            ..
        } => {
            let by = parent
                .as_deref()
                .map(|p| format!(" (by {p})"))
                .unwrap_or_default();
            format!("spawn    {actor:<14} {program} {}{by}", args.join(" "))
        }
        Event::Restart {
            actor,
            node,
            attempt,
            backoff_ms,
            reason,
        } => {
            let mut how = Vec::new();
            if let Some(node) = node {
                how.push(format!("by {node}"));
            }
            if let Some(attempt) = attempt {
                how.push(format!("attempt {attempt}"));
            }
            if let Some(ms) = backoff_ms {
                how.push(format!("after {ms} ms"));
            }
            if let Some(reason) = reason {
                how.push(reason.clone());
            }
            let how = if how.is_empty() {
                String::new()
            } else {
                format!("  ({})", how.join(", "))
            };
            styled(WARN, format!("restart  {actor:<14}{how}"))
        }
        Event::Down {
            watcher,
            actor,
            reason,
            via,
        } => format!("down     {watcher:<14} told: {actor} exited ({reason}), via {via}"),
        Event::Escalate { node, to } => styled(
            BAD,
            format!("escalate {node:<14} gave up; its failure goes to {to}"),
        ),
        Event::Fault {
            rule,
            kind,
            message,
            actor,
            detail,
        } => styled(
            WARN,
            format!(
                "fault    {actor:<14} {kind} by rule `{rule}`{}{}",
                message
                    .as_deref()
                    .map(|m| format!("  {}", id(m)))
                    .unwrap_or_default(),
                detail
                    .as_deref()
                    .map(|d| format!("  ({d})"))
                    .unwrap_or_default()
            ),
        ),
        Event::Break {
            breakpoint,
            actor,
            only_actor,
            detail,
        } => styled(
            WARN,
            format!(
                "break    {actor:<14} breakpoint `{breakpoint}`: {detail}; {} paused (eos resume{})",
                if *only_actor {
                    "it is"
                } else {
                    "everything is"
                },
                if *only_actor {
                    format!(" {actor}")
                } else {
                    String::new()
                }
            ),
        ),
        Event::Stuck { actors, what } => {
            styled(BAD, format!("stuck    {:<14} {what}", actors.join(",")))
        }
        Event::Violation {
            number,
            invariant,
            what,
            actor,
            after,
        } => styled(
            BAD,
            format!(
                "VIOLATED {actor:<14} invariant `{invariant}` after {}: {what} \
                 (violations/{number}.json; paused)",
                id(after)
            ),
        ),
        Event::Restored {
            checkpoint,
            journal_seq,
        } => styled(
            WARN,
            format!("restore  checkpoint `{checkpoint}` (the journal was at {journal_seq})"),
        ),
        Event::TimeAdvanced { actor, message } => {
            format!(
                "time     {actor:<14} virtual time moves on to {}",
                id(message)
            )
        }
        Event::InvariantError { invariant, error } => styled(
            WARN,
            format!("invariant `{invariant}` could not be checked: {error}"),
        ),
        Event::Removed { actor, dead } => {
            format!("removed  {actor:<14} (cleaned up; {dead} message(s) to dead/)")
        }
        Event::GiveUp { node, reason } => styled(
            BAD,
            format!("give up  {node:<14} {reason}; its actors stay down"),
        ),
        Event::Send {
            message,
            from,
            to,
            payload,
            cause,
            ..
        } => {
            let from = from.as_deref().unwrap_or(OUTSIDE);
            let cause = cause
                .as_deref()
                .map(|c| format!(" (caused by {})", id(c)))
                .unwrap_or_default();
            format!(
                "send     {from} → {to}  {}  {}{cause}",
                id(message),
                short(payload)
            )
        }
        Event::Route { message, to, file } => {
            format!("route    {to:<14} {}  → spool/{file}", id(message))
        }
        Event::Deliver {
            message,
            actor,
            redelivered,
            payload,
        } => {
            let again = if *redelivered { " (redelivered)" } else { "" };
            format!(
                "deliver  {actor:<14} {}  {}{again}",
                id(message),
                short(payload)
            )
        }
        Event::Result {
            message,
            actor,
            ok,
            state,
        } => {
            let outcome = if *ok {
                styled(GOOD, "ok")
            } else {
                styled(BAD, "failed")
            };
            let state = state
                .as_ref()
                .map(|s| format!("  state {}", short(s)))
                .unwrap_or_default();
            format!("result   {actor:<14} {}  {outcome}{state}", id(message))
        }
        Event::Dead { file, reason, .. } => {
            format!(
                "{}     {file}: {}",
                styled(BAD, "dead"),
                reason.lines().next().unwrap_or("")
            )
        }
        Event::Exit {
            actor,
            code,
            signal,
            reason,
        } => {
            let how = reason.clone().unwrap_or_else(|| {
                signal
                    .clone()
                    .unwrap_or_else(|| format!("code {}", code.unwrap_or(-1)))
            });
            format!("exit     {actor:<14} {how}")
        }
        Event::Pause { actor } => styled(
            WARN,
            format!("pause    {}", actor.as_deref().unwrap_or("(everything)")),
        ),
        Event::Resume { actor } => {
            format!("resume   {}", actor.as_deref().unwrap_or("(everything)"))
        }
        Event::PendingEdited {
            actor,
            message,
            before,
            after,
            ..
        } => styled(
            WARN,
            format!(
                "edited   {actor:<14} {}  {} → {}  (by hand)",
                id(message),
                short(before),
                short(after)
            ),
        ),
        Event::PendingAdded {
            actor,
            file,
            message,
            payload,
            copy_of,
        } => {
            let how = copy_of
                .as_deref()
                .map(|c| format!("copy of {}", id(c)))
                .unwrap_or_else(|| "by hand".into());
            styled(
                WARN,
                format!(
                    "added    {actor:<14} {}  {}  spool/{file} ({how})",
                    id(message),
                    short(payload)
                ),
            )
        }
        Event::PendingDeleted {
            actor,
            file,
            message,
        } => styled(
            WARN,
            format!(
                "deleted  {actor:<14} {}  spool/{file} (by hand: it will not be delivered)",
                id(message)
            ),
        ),
        Event::PendingMoved {
            actor,
            from,
            to,
            message,
        } => styled(
            WARN,
            format!(
                "moved    {actor:<14} {}  spool/{from} → spool/{to} (by hand)",
                id(message)
            ),
        ),
        Event::StateEdited { actor, after, .. } => styled(
            WARN,
            format!("state    {actor:<14} {}  (written by hand)", short(after)),
        ),
        Event::Lost { entries, error } => styled(
            BAD,
            format!("lost     {entries} entries could not be written: {error}"),
        ),
    };
    out.say(format!("{time}  {:>6}  {line}", entry.seq))?;
    Ok(())
}
