//! What a supervisor finds on a root that already has actors: each actor's record, status,
//! state, pending messages and interrupted `current`, read from disk so the system comes back
//! as it was.

use std::fs;
use std::io;
use std::path::Path;

use anyhow::{Context, Result};
use eos::spawn_request::SpawnRequest;
use eos::status::ActorStatus;
use eos::{ActorId, MessageId, Root, envelope, fsio, layout};
use log::warn;
use serde_json::Value;

use crate::queue::Pending;
use crate::router;

/// One actor as found on disk.
pub struct Found {
    pub id: ActorId,
    pub record: Option<SpawnRequest>,
    pub starts: u32,
    pub was_running: bool,
    /// How it ended, if it had exited: abnormally (a signal, a non-zero code, could not
    /// start) or not.
    pub exit_abnormal: Option<bool>,
    pub state: Option<Value>,
    /// Its pending messages, to be read when their turn comes.
    pub pending: Vec<(String, Pending)>,
    /// The message that was `current` when the last supervisor stopped, now marked as
    /// redelivered: its id and payload.
    pub current: Option<(MessageId, Value)>,
}

/// Every actor folder in `running/`, in id order. Staging folders of an interrupted spawn are
/// removed (their request is still in `spawn/`).
pub fn found(root: &Root) -> Result<Vec<Found>> {
    let running = root.running_dir();
    let mut names =
        fsio::names(&running).with_context(|| format!("reading {}", running.display()))?;
    names.sort_unstable();
    let mut found = Vec::new();
    for name in names {
        if Root::is_staging_name(&name) {
            let _ = fs::remove_dir_all(running.join(&name));
            continue;
        }
        if layout::is_ignored(&name) || !running.join(&name).is_dir() {
            continue;
        }
        match ActorId::parse(&name) {
            Ok(id) => found.push(actor(root, id)),
            Err(e) => warn!("ignoring running/{name}: {e}"),
        }
    }
    Ok(found)
}

fn actor(root: &Root, id: ActorId) -> Found {
    let dir = root.actor(&id);
    let record: Option<SpawnRequest> = fsio::read_json(&dir.spawn_record())
        .inspect_err(|e| warn!("{id}: {e:#}"))
        .ok();
    let status: Option<ActorStatus> = fsio::read_json(&dir.status_file()).ok();
    let spool = dir.spool_dir();
    if let Err(e) = fs::create_dir_all(&spool) {
        warn!("{id}: cannot create its spool: {e}");
    }
    // Nobody writes into a spool while no supervisor runs: temp files there were left by a
    // writer killed mid-write (the message itself is still where it came from). The actor's
    // scratch folder holds only temp files.
    for name in fsio::names(&spool).unwrap_or_default() {
        if layout::is_temp_name(&name) {
            let _ = fs::remove_file(spool.join(name));
        }
    }
    let scratch = dir.scratch_dir();
    let _ = fs::remove_dir_all(&scratch);
    if let Err(e) = fs::create_dir(&scratch) {
        warn!("{id}: cannot create its scratch folder: {e}");
    }
    let pending = router::listing(&spool)
        .into_iter()
        .map(|file| {
            let message = layout::pending_message_id(&file).unwrap_or_else(MessageId::generate);
            (file, Pending::unread(message))
        })
        .collect();
    let current = match mark_current_redelivered(&dir.current_file()) {
        Ok(current) => current,
        Err(e) => {
            warn!("{id}: cannot mark its current message as redelivered: {e:#}");
            Some((MessageId::generate(), Value::Null))
        }
    };
    Found {
        record,
        starts: status.as_ref().map_or(0, ActorStatus::starts),
        was_running: status.as_ref().is_none_or(ActorStatus::resumes),
        exit_abnormal: match &status {
            Some(ActorStatus::Exited { code, signal, .. }) => {
                Some(signal.is_some() || code.is_some_and(|c| c != 0))
            }
            Some(ActorStatus::Failed { .. }) => Some(true),
            _ => None,
        },
        state: fsio::read_json(&dir.state_file()).ok(),
        pending,
        current,
        id,
    }
}

/// Marks the message that was `current` when the last supervisor stopped; returns its id and
/// payload, or `None` when there is none. A `current` that is not JSON is left as it is (the
/// actor sets it aside).
pub(crate) fn mark_current_redelivered(path: &Path) -> Result<Option<(MessageId, Value)>> {
    let bytes = match fsio::read_limited(path, 64 << 20) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let fresh = MessageId::generate();
    let Ok((mut envelope, _)) = envelope::check(&bytes, &fresh) else {
        return Ok(Some((fresh, Value::Null)));
    };
    envelope.redelivered = true;
    fsio::write_json_atomic(path, &envelope)?;
    Ok(Some((envelope.id_or(&fresh), envelope.payload)))
}
