//! Message flow from the journal: which actor sent what to whom, when it was delivered, and
//! what failed, drawn as a sequence diagram (Mermaid) or a Lamport diagram (SVG).
//!
//! Both drawings are functions of the journal alone, in journal order, with no clock times or
//! random ids in them: the same journal always draws the same picture.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

use serde_json::Value;

use crate::journal::{Entry, Event};

/// The name drawn for messages that no actor sent (a person, a tool).
pub const OUTSIDE: &str = "(outside)";

/// One message, from its send to its end.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: String,
    pub from: String,
    pub to: String,
    pub cause: Option<String>,
    pub payload: Value,
    /// When it was sent (µs since the epoch), for time filters.
    pub sent_us: u64,
    /// Positions in the journal: sent, delivered (first delivery), ended in `dead/`.
    pub sent_at: usize,
    pub delivered_at: Option<usize>,
    pub failed: Option<(usize, String)>,
    /// The receiver's state after handling it.
    pub state_after: Option<Value>,
}

/// Reads the messages out of journal entries, in the order they were sent. A dead letter whose
/// message was never sent (a malformed one, or one for an unknown actor) becomes a message
/// from outside that failed at once.
pub fn messages(entries: &[Entry]) -> Vec<Message> {
    let mut messages: Vec<Message> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for (at, entry) in entries.iter().enumerate() {
        match &entry.event {
            Event::Send {
                message,
                from,
                to,
                cause,
                payload,
            } => {
                by_id.insert(message.clone(), messages.len());
                messages.push(Message {
                    id: message.clone(),
                    from: from.clone().unwrap_or_else(|| OUTSIDE.into()),
                    to: to.clone(),
                    cause: cause.clone(),
                    payload: payload.clone(),
                    sent_us: entry.us,
                    sent_at: at,
                    delivered_at: None,
                    failed: None,
                    state_after: None,
                });
            }
            Event::Deliver { message, .. } => {
                if let Some(m) = by_id.get(message).map(|&i| &mut messages[i]) {
                    m.delivered_at.get_or_insert(at);
                }
            }
            Event::Result {
                message,
                ok: true,
                state: Some(state),
                ..
            } => {
                if let Some(m) = by_id.get(message).map(|&i| &mut messages[i]) {
                    m.state_after = Some(state.clone());
                }
            }
            Event::Dead {
                message,
                actor,
                reason,
                ..
            } => match message.as_ref().and_then(|id| by_id.get(id)) {
                Some(&i) => messages[i].failed = Some((at, reason.clone())),
                None => messages.push(Message {
                    id: message.clone().unwrap_or_default(),
                    from: OUTSIDE.into(),
                    to: actor.clone().unwrap_or_else(|| "(dead letters)".into()),
                    cause: None,
                    payload: Value::Null,
                    sent_us: entry.us,
                    sent_at: at,
                    delivered_at: None,
                    failed: Some((at, reason.clone())),
                    state_after: None,
                }),
            },
            _ => {}
        }
    }
    messages
}

/// Which messages to draw.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Only messages from or to these actors (all if empty).
    pub actors: Vec<String>,
    /// Only messages sent in this range (µs since the epoch).
    pub since_us: Option<u64>,
    pub until_us: Option<u64>,
    /// Only the causal chain of this message: what led to it and what it led to.
    pub chain: Option<String>,
}

pub fn filter(messages: Vec<Message>, filter: &Filter) -> Vec<Message> {
    let chain = filter.chain.as_ref().map(|id| causal_chain(&messages, id));
    messages
        .into_iter()
        .filter(|m| {
            filter.actors.is_empty() || filter.actors.iter().any(|a| *a == m.from || *a == m.to)
        })
        .filter(|m| filter.since_us.is_none_or(|t| m.sent_us >= t))
        .filter(|m| filter.until_us.is_none_or(|t| m.sent_us <= t))
        .filter(|m| chain.as_ref().is_none_or(|c| c.contains(&m.id)))
        .collect()
}

/// The ids of `id`'s ancestors (following `cause`), `id` itself, and its descendants.
fn causal_chain(messages: &[Message], id: &str) -> BTreeSet<String> {
    let cause_of: HashMap<&str, &str> = messages
        .iter()
        .filter_map(|m| Some((m.id.as_str(), m.cause.as_deref()?)))
        .collect();
    let mut chain = BTreeSet::from([id.to_owned()]);
    let mut up = id;
    while let Some(&cause) = cause_of.get(up) {
        if !chain.insert(cause.to_owned()) {
            break;
        }
        up = cause;
    }
    let mut grew = true;
    while grew {
        grew = false;
        for m in messages {
            if m.cause.as_ref().is_some_and(|c| chain.contains(c)) && chain.insert(m.id.clone()) {
                grew = true;
            }
        }
    }
    chain
}

/// The actors in the order they first appear, `(outside)` first when it sends anything.
fn participants(messages: &[Message]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    if messages.iter().any(|m| m.from == OUTSIDE) {
        names.push(OUTSIDE.into());
    }
    for m in messages {
        for name in [&m.from, &m.to] {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    names
}

/// A payload as a short label.
pub fn label(payload: &Value, max: usize) -> String {
    let text = match payload {
        Value::Null => String::new(),
        other => other.to_string(),
    };
    if text.chars().count() <= max {
        return text;
    }
    let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}

/// When the message reached its end in the journal: delivery, dead letter, or (still pending)
/// its send.
fn arrival(m: &Message) -> usize {
    m.delivered_at
        .or(m.failed.as_ref().map(|(at, _)| *at))
        .unwrap_or(m.sent_at)
}

/// A Mermaid sequence diagram: one arrow per message, in the order messages arrived.
pub fn mermaid(messages: &[Message]) -> String {
    let mut out = String::from("sequenceDiagram\n");
    let names = participants(messages);
    let ids: HashMap<&String, String> = names
        .iter()
        .enumerate()
        .map(|(i, name)| (name, format!("p{i}")))
        .collect();
    for name in &names {
        let _ = writeln!(
            out,
            "    participant {} as {}",
            ids[name],
            mermaid_text(name)
        );
    }
    let mut ordered: Vec<&Message> = messages.iter().collect();
    ordered.sort_by_key(|m| arrival(m));
    for m in ordered {
        let (from, to) = (&ids[&m.from], &ids[&m.to]);
        let text = mermaid_text(&label(&m.payload, 60));
        match (&m.failed, m.delivered_at) {
            (Some((_, reason)), _) => {
                let _ = writeln!(out, "    {from}-x{to}: {text}");
                let reason = mermaid_text(&label(&Value::String(first_line(reason)), 80));
                let _ = writeln!(
                    out,
                    "    Note right of {to}: ✗ {}",
                    reason.trim_matches('"')
                );
            }
            (None, Some(_)) => {
                let _ = writeln!(out, "    {from}->>{to}: {text}");
            }
            (None, None) => {
                let _ = writeln!(out, "    {from}--){to}: {text} (pending)");
            }
        }
    }
    out
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

/// Text Mermaid shows as it is: `#` and `;` are escaped as entity codes.
fn mermaid_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            c => out.push(c),
        }
    }
    out
}

const COLUMN: usize = 190;
const ROW: usize = 36;
const LEFT: usize = 90;
const TOP: usize = 70;

/// A standalone SVG Lamport diagram: one lifeline per actor, time going down in journal
/// order, an arrow from each send to its delivery labelled with the payload; failures in red
/// with their reason, pending messages dashed.
pub fn svg(messages: &[Message]) -> String {
    let names = participants(messages);
    let column = |name: &str| LEFT + COLUMN * names.iter().position(|n| n == name).unwrap_or(0);
    // Rows: every send and every arrival, in journal order.
    let mut points: Vec<usize> = messages
        .iter()
        .flat_map(|m| [m.sent_at, arrival(m)])
        .collect();
    points.sort_unstable();
    points.dedup();
    let row = |at: usize| TOP + ROW * (1 + points.iter().position(|&p| p == at).unwrap_or(0));
    let bottom = TOP + ROW * (points.len() + 2);
    let width = LEFT * 2 + COLUMN * names.len().saturating_sub(1) + 380;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{}" viewBox="0 0 {width} {}" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="12">"##,
        bottom + 20,
        bottom + 20
    );
    out.push_str(concat!(
        r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#334"/></marker>"##,
        r##"<marker id="fail" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#c22"/></marker></defs>"##,
        "\n",
        r##"<rect width="100%" height="100%" fill="white"/>"##,
        "\n"
    ));
    for name in &names {
        let x = column(name);
        let _ = writeln!(
            out,
            r##"<line x1="{x}" y1="{}" x2="{x}" y2="{bottom}" stroke="#99a" stroke-dasharray="4 4"/>"##,
            TOP - 10
        );
        let _ = writeln!(
            out,
            r##"<rect x="{}" y="{}" width="150" height="28" rx="5" fill="#eef" stroke="#667"/><text x="{x}" y="{}" text-anchor="middle" font-weight="bold">{}</text>"##,
            x - 75,
            TOP - 42,
            TOP - 23,
            xml(name)
        );
    }
    for m in messages {
        let (x1, y1) = (column(&m.from), row(m.sent_at));
        let (x2, y2) = (column(&m.to), row(arrival(m)));
        let (stroke, marker, dash) = match (&m.failed, m.delivered_at) {
            (Some(_), _) => ("#c22", "fail", ""),
            (None, Some(_)) => ("#334", "arrow", ""),
            (None, None) => ("#889", "arrow", r#" stroke-dasharray="6 4""#),
        };
        if x1 == x2 {
            // A message to oneself: a loop out to the right.
            let _ = writeln!(
                out,
                r##"<path d="M{x1},{y1} C{},{y1} {},{y2} {x2},{y2}" fill="none" stroke="{stroke}"{dash} marker-end="url(#{marker})"/>"##,
                x1 + 60,
                x1 + 60
            );
        } else {
            let _ = writeln!(
                out,
                r##"<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{stroke}"{dash} marker-end="url(#{marker})"/>"##
            );
        }
        let _ = writeln!(
            out,
            r##"<circle cx="{x1}" cy="{y1}" r="3" fill="{stroke}"/>"##
        );
        let mut text = label(&m.payload, 36);
        if m.delivered_at.is_none() && m.failed.is_none() {
            text.push_str(" (pending)");
        }
        // The label sits at the arrow's start, where arrows that cross cannot collide.
        let (lx, ly, anchor) = if x1 == x2 {
            (x1 + 66, (y1 + y2) / 2 + 4, "start")
        } else if x2 > x1 {
            (x1 + 8, y1 - 6, "start")
        } else {
            (x1 - 8, y1 - 6, "end")
        };
        let _ = writeln!(
            out,
            r##"<text x="{lx}" y="{ly}" text-anchor="{anchor}" fill="{stroke}" stroke="white" stroke-width="4" paint-order="stroke">{}</text>"##,
            xml(&text)
        );
        if let (Some(state), None) = (&m.state_after, &m.failed) {
            let _ = writeln!(
                out,
                r##"<text x="{}" y="{}" fill="#778" font-size="11">{}</text>"##,
                x2 + 8,
                y2 + 4,
                xml(&format!("state {}", label(state, 44)))
            );
        }
        if let Some((_, reason)) = &m.failed {
            let _ = writeln!(
                out,
                r##"<text x="{}" y="{}" fill="#c22" font-weight="bold">✗</text><text x="{}" y="{}" fill="#c22">{}</text>"##,
                x2 - 4,
                y2 + 16,
                x2 + 10,
                y2 + 16,
                xml(label(&Value::String(first_line(reason)), 48).trim_matches('"'))
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(event: Event) -> Entry {
        Entry { us: 1, event }
    }

    fn send(id: &str, from: Option<&str>, to: &str, cause: Option<&str>) -> Entry {
        entry(Event::Send {
            message: id.into(),
            from: from.map(Into::into),
            to: to.into(),
            cause: cause.map(Into::into),
            payload: json!({"m": id}),
        })
    }

    fn deliver(id: &str, to: &str) -> Entry {
        entry(Event::Deliver {
            message: id.into(),
            actor: to.into(),
            redelivered: false,
        })
    }

    #[test]
    fn the_causal_chain_follows_causes_both_ways() {
        let entries = vec![
            send("a", None, "x", None),
            deliver("a", "x"),
            send("b", Some("x"), "y", Some("a")),
            send("c", Some("y"), "z", Some("b")),
            send("other", None, "x", None),
        ];
        let all = messages(&entries);
        let ids = |f: Filter| -> Vec<String> {
            filter(all.clone(), &f).into_iter().map(|m| m.id).collect()
        };
        let chain = |id: &str| Filter {
            chain: Some(id.into()),
            ..Filter::default()
        };
        assert_eq!(ids(chain("b")), ["a", "b", "c"]);
        assert_eq!(ids(chain("other")), ["other"]);
        let only_z = Filter {
            actors: vec!["z".into()],
            ..Filter::default()
        };
        assert_eq!(ids(only_z), ["c"]);
    }

    #[test]
    fn failures_and_pending_messages_are_marked() {
        let entries = vec![
            send("a", None, "x", None),
            deliver("a", "x"),
            entry(Event::Dead {
                file: "x::a.json".into(),
                actor: Some("x".into()),
                message: Some("a".into()),
                reason: "the handler failed: boom".into(),
            }),
            send("b", None, "x", None),
        ];
        let drawn = mermaid(&messages(&entries));
        assert!(
            drawn.contains(
                "p0-xp1: {\"m\":\"a\"}\n    Note right of p1: ✗ the handler failed: boom"
            ),
            "{drawn}"
        );
        assert!(
            drawn.contains("p0--)p1: {\"m\":\"b\"} (pending)"),
            "{drawn}"
        );
        let svg = svg(&messages(&entries));
        assert!(svg.contains("✗") && svg.contains("(pending)") && svg.ends_with("</svg>\n"));
    }

    #[test]
    fn labels_are_short_and_escaped() {
        assert_eq!(label(&json!("x".repeat(100)), 10).chars().count(), 10);
        assert_eq!(mermaid_text("a;b#c"), "a#59;b#35;c");
        assert_eq!(xml("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
