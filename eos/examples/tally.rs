//! A Rust actor on the EOS SDK, in a few lines: it counts the messages it handles, remembers
//! their ids and payloads, forwards when asked, and fails when asked (to show dead letters).
//!
//! Payloads it understands: `{"forward_to": "<actor>", ...}` sends the payload on;
//! `{"fail": "<why>"}` makes the handler fail; anything else is just counted.

use eos::sdk::Actor;
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
        tally.count += 1;
        tally
            .seen
            .push(msg.id.map(String::from).unwrap_or_default());
        tally.last = msg.payload;
        Ok(tally)
    })
}
