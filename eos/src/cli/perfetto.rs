//! The message history as Chrome trace-event JSON, which Perfetto UI (ui.perfetto.dev) and
//! `chrome://tracing` open: one track per actor, a slice for each message it handled (its
//! payload and resulting state as arguments), a flow arrow from each send to its delivery, and
//! crashes and restarts as instant events. Times are microseconds from the first event.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::history::{End, Mark, Message, OUTSIDE, label};

/// The trace, as JSON text.
pub fn trace(messages: &[Message], marks: &[Mark]) -> String {
    let mut tracks: Vec<&str> = vec![OUTSIDE];
    for m in messages {
        for name in [m.from.as_str(), m.to.as_str()] {
            if !tracks.contains(&name) {
                tracks.push(name);
            }
        }
    }
    let tid = |name: &str| tracks.iter().position(|t| *t == name).unwrap_or(0);
    let t0 = messages
        .iter()
        .map(|m| m.sent_us)
        .chain(marks.iter().map(|k| k.us))
        .min()
        .unwrap_or(0);
    let ts = |us: u64| us.saturating_sub(t0);
    let mut events = vec![json!({
        "ph": "M", "name": "process_name", "pid": 1, "tid": 0, "args": {"name": "EOS"}
    })];
    for (i, name) in tracks.iter().enumerate() {
        events.push(json!({
            "ph": "M", "name": "thread_name", "pid": 1, "tid": i, "args": {"name": name}
        }));
    }
    // Each handled message's slice, by id: a send is drawn from inside the slice that sent it.
    let slices: HashMap<&str, (u64, u64)> = messages
        .iter()
        .filter_map(|m| {
            let start = m.delivered_us?;
            Some((
                m.id.as_str(),
                (start, m.handled_us.unwrap_or(start).max(start)),
            ))
        })
        .collect();
    for (flow, m) in messages.iter().enumerate() {
        let Some(start) = m.delivered_us else {
            continue;
        };
        let (_, end) = slices.get(m.id.as_str()).copied().unwrap_or((start, start));
        let outcome = match &m.end {
            End::Failed(reason) => json!({"failed": reason}),
            _ => json!("handled"),
        };
        events.push(json!({
            "ph": "X",
            "name": label(&m.payload, 40),
            "cat": "message",
            "pid": 1,
            "tid": tid(&m.to),
            "ts": ts(start),
            "dur": end - start,
            "args": {
                "message": m.id,
                "from": m.from,
                "payload": m.payload,
                "state": m.state_after.clone().unwrap_or(Value::Null),
                "outcome": outcome,
                "redelivered": m.redelivered,
            },
        }));
        let sent = match m.cause.as_deref().and_then(|c| slices.get(c)) {
            Some(&(from, to)) => m.sent_us.clamp(from, to),
            None => m.sent_us,
        };
        let sent = sent.min(start);
        events.push(json!({
            "ph": "s", "name": "send", "cat": "flow", "id": flow, "pid": 1,
            "tid": tid(&m.from), "ts": ts(sent)
        }));
        events.push(json!({
            "ph": "f", "bp": "e", "name": "send", "cat": "flow", "id": flow, "pid": 1,
            "tid": tid(&m.to), "ts": ts(start)
        }));
    }
    for mark in marks {
        events.push(json!({
            "ph": "i", "s": "t", "name": super::render::mark_text(mark), "cat": "lifecycle",
            "pid": 1, "tid": tid(&mark.actor), "ts": ts(mark.us)
        }));
    }
    let trace = json!({"traceEvents": events, "displayTimeUnit": "ms"});
    let mut text = serde_json::to_string_pretty(&trace).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::messages;
    use crate::journal::{Entry, Event};
    use std::collections::HashMap;

    fn entry(us: u64, event: Event) -> Entry {
        Entry { seq: 0, us, event }
    }

    #[test]
    fn slices_flows_and_tracks_follow_the_format() {
        let entries = vec![
            entry(
                100,
                Event::Send {
                    message: "m1".into(),
                    from: None,
                    to: "a".into(),
                    cause: None,
                    payload: json!({"go": 1}),
                    bare: false,
                },
            ),
            entry(
                150,
                Event::Deliver {
                    message: "m1".into(),
                    actor: "a".into(),
                    redelivered: false,
                    payload: json!({"go": 1}),
                },
            ),
            entry(
                400,
                Event::Send {
                    message: "m2".into(),
                    from: Some("a".into()),
                    to: "b".into(),
                    cause: Some("m1".into()),
                    payload: json!(2),
                    bare: false,
                },
            ),
            entry(
                300,
                Event::Result {
                    message: "m1".into(),
                    actor: "a".into(),
                    ok: true,
                    state: Some(json!({"n": 1})),
                },
            ),
            entry(
                500,
                Event::Deliver {
                    message: "m2".into(),
                    actor: "b".into(),
                    redelivered: false,
                    payload: json!(2),
                },
            ),
        ];
        let trace: Value = serde_json::from_str(&trace(&messages(&entries), &[])).unwrap();
        let events = trace["traceEvents"].as_array().unwrap();
        let mut flows: HashMap<u64, Vec<&Value>> = HashMap::new();
        for e in events {
            for key in ["ph", "pid", "tid"] {
                assert!(!e[key].is_null(), "{key} missing: {e}");
            }
            match e["ph"].as_str().unwrap() {
                "M" => assert!(e["args"]["name"].is_string()),
                "X" => {
                    assert!(e["ts"].is_u64() && e["dur"].is_u64() && e["name"].is_string());
                }
                "s" | "f" => flows.entry(e["id"].as_u64().unwrap()).or_default().push(e),
                other => panic!("unexpected phase {other}"),
            }
        }
        assert_eq!(flows.len(), 2);
        for pair in flows.values() {
            assert_eq!(pair.len(), 2);
            let (s, f) = (pair[0], pair[1]);
            assert_eq!((s["ph"].as_str(), f["ph"].as_str()), (Some("s"), Some("f")));
            assert!(s["ts"].as_u64() <= f["ts"].as_u64());
        }
        let m1 = events
            .iter()
            .find(|e| e["args"]["message"] == "m1")
            .unwrap();
        assert_eq!(
            (m1["ts"].as_u64(), m1["dur"].as_u64()),
            (Some(50), Some(150))
        );
        assert_eq!(m1["args"]["state"], json!({"n": 1}));
        // m2 was sent while m1 was handled: its arrow starts inside m1's slice.
        let m2_send = flows
            .values()
            .flatten()
            .find(|e| e["ph"] == "s" && e["tid"] == m1["tid"]);
        let at = m2_send.unwrap()["ts"].as_u64().unwrap();
        assert!((50..=200).contains(&at), "{at}");
    }
}
