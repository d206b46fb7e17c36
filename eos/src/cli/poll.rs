//! Waiting for the file system to show something, with a deadline: how every command that
//! waits for the supervisor or an actor waits.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use serde_json::Value;

use crate::{ActorId, Root, fsio};

/// How often a condition is looked at again.
const INTERVAL: Duration = Duration::from_micros(500);

/// Looks at `probe` until it gives something, or `limit` has passed (then `None`).
pub fn until<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = probe() {
            return Some(found);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(INTERVAL);
    }
}

/// The state of actor `id` once it satisfies `done`.
pub fn state(
    root: &Root,
    id: &str,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let id = ActorId::parse(id).map_err(anyhow::Error::msg)?;
    let path = root.actor(&id).state_file();
    until(limit, || {
        fsio::read_json::<Value>(&path).ok().filter(|s| done(s))
    })
    .ok_or_else(|| anyhow!("{id} did not get there within {limit:?}"))
}
