//! A Rust actor on the EOS SDK, in a few lines: it counts the messages it handles, remembers
//! their ids and payloads, forwards when asked, and fails when asked (to show dead letters).
//!
//! Payloads it understands: `{"forward_to": "<actor>", ...}` sends the payload on;
//! `{"fail": "<why>"}` makes the handler fail; `{"spawn": "<id>"}` starts another tally as its
//! child (supervised by it); `{"monitor": "<id>"}` asks to be told when that actor exits;
//! `{"remember": "<key>"}` counts in its storage how often it was asked to;
//! anything else (a `down` notice too) is just counted.

use eos::sdk::Actor;
use eos::spawn_request::SpawnRequest;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Default, Serialize, Deserialize)]
struct Tally {
    count: u64,
    seen: Vec<String>,
    last: Value,
}

fn main() -> anyhow::Result<()> {
    Actor::from_env()?.run(|ctx, mut tally: Tally, msg| {
        if let Some(why) = msg.payload.get("fail") {
            anyhow::bail!("asked to fail: {why}");
        }
        if let Some(to) = msg.payload.get("forward_to").and_then(Value::as_str) {
            ctx.send(to, msg.payload.clone())?;
        }
        if let Some(child) = msg.payload.get("spawn").and_then(Value::as_str) {
            ctx.spawn(SpawnRequest {
                path: std::env::current_exe()?.to_string_lossy().into_owned(),
                id: Some(child.parse().map_err(anyhow::Error::msg)?),
                ..SpawnRequest::default()
            })?;
        }
        if let Some(watched) = msg.payload.get("monitor").and_then(Value::as_str) {
            ctx.monitor(watched)?;
        }
        if let Some(key) = msg.payload.get("remember").and_then(Value::as_str) {
            // Kept in running/<id>/store/<key>.json, beside state.json.
            let storage = ctx.storage();
            let times = storage.load(key)?.and_then(|v| v.as_u64()).unwrap_or(0);
            storage.store(key, &Value::from(times + 1))?;
        }
        tally.count += 1;
        tally
            .seen
            .push(msg.id.map(String::from).unwrap_or_default());
        tally.last = msg.payload;
        Ok(tally)
    })
}
