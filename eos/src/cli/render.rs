//! Drawing the message history: a Mermaid sequence diagram and a standalone SVG Lamport
//! diagram. Both are functions of the journal alone, in journal order, with no clock times or
//! random ids in them: the same journal always draws the same picture.

use std::collections::HashMap;
use std::fmt::Write;

use serde_json::Value;

use crate::history::{End, Mark, MarkKind, Message, OUTSIDE, label};

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

/// What a mark says, in one line: `✗ exit code 2`, `↻ restarted (attempt 1, after 100 ms)`.
pub(super) fn mark_text(mark: &Mark) -> String {
    match &mark.kind {
        MarkKind::Exit {
            abnormal: true,
            reason,
        } => format!("✗ crashed: {reason}"),
        MarkKind::Exit { reason, .. } => format!("■ exited: {reason}"),
        MarkKind::Restart { how } if how.is_empty() => "↻ restarted".into(),
        MarkKind::Restart { how } => format!("↻ restarted ({how})"),
        MarkKind::Break { breakpoint, .. } => format!("⏸ breakpoint {breakpoint}"),
    }
}

/// A Mermaid sequence diagram: one arrow per message, in delivery order (the order messages
/// reached their end: delivered, failed or dropped), the ones still pending last; crashes and
/// restarts as notes over the actor, where they happened.
pub fn mermaid(messages: &[Message], marks: &[Mark]) -> String {
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
    ordered.sort_by_key(|m| (m.end == End::Pending, m.position()));
    let mut marks = marks
        .iter()
        .filter(|k| ids.contains_key(&k.actor))
        .peekable();
    for m in ordered {
        while let Some(mark) = marks.next_if(|k| m.end == End::Pending || k.at < m.position()) {
            let text = mermaid_text(&mark_text(mark));
            let _ = writeln!(out, "    Note over {}: {text}", ids[&mark.actor]);
        }
        let (from, to) = (&ids[&m.from], &ids[&m.to]);
        let text = mermaid_text(&label(&m.payload, 60));
        let note = |out: &mut String, text: &str| {
            let text = mermaid_text(&label(&Value::String(first_line(text)), 80));
            let _ = writeln!(out, "    Note right of {to}: {}", text.trim_matches('"'));
        };
        match &m.end {
            End::Failed(reason) => {
                let _ = writeln!(out, "    {from}-x{to}: {text}");
                note(&mut out, &format!("✗ {reason}"));
            }
            End::Dropped => {
                let _ = writeln!(out, "    {from}--x{to}: {text} (dropped)");
                note(&mut out, "✗ deleted by hand before delivery");
            }
            End::Delivered => {
                let _ = writeln!(out, "    {from}->>{to}: {text}");
                if let Some(sent) = &m.sent_payload {
                    note(
                        &mut out,
                        &format!("edited by hand; sent as {}", label(sent, 40)),
                    );
                }
            }
            End::Pending => {
                let _ = writeln!(out, "    {from}--){to}: {text} (pending)");
            }
        }
    }
    for mark in marks {
        let text = mermaid_text(&mark_text(mark));
        let _ = writeln!(out, "    Note over {}: {text}", ids[&mark.actor]);
    }
    out
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

/// Text Mermaid shows as it is: `#` and `;` are escaped as entity codes.
pub fn mermaid_text(text: &str) -> String {
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

const COLUMN: usize = 220;
const ROW: usize = 36;
const LEFT: usize = 90;
const TOP: usize = 70;
/// Characters in one line of a state label; longer states wrap to a second line, and the
/// whole text is in a tooltip.
const STATE_LINE: usize = 30;

/// A standalone SVG Lamport diagram: one lifeline per actor, time going down in journal order,
/// an arrow from each send to its end labelled with the payload; failures in red with their
/// reason, dropped messages crossed out, pending ones dashed. Arrows are drawn first and every
/// label after them, on a white halo, so no arrow runs over a label; each label has its full
/// text as a tooltip. Crashes (a red cross) and restarts (a green ring) sit on the lifelines
/// where they happened.
pub fn svg(messages: &[Message], marks: &[Mark]) -> String {
    let names = participants(messages);
    let column = |name: &str| LEFT + COLUMN * names.iter().position(|n| n == name).unwrap_or(0);
    // Rows: every send and every end, in journal order.
    let marks: Vec<&Mark> = marks.iter().filter(|k| names.contains(&k.actor)).collect();
    let mut points: Vec<usize> = messages
        .iter()
        .flat_map(|m| [m.sent_at, m.position()])
        .chain(marks.iter().map(|k| k.at))
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
    let mut labels = String::new();
    for m in messages {
        let (x1, y1) = (column(&m.from), row(m.sent_at));
        let (x2, y2) = (column(&m.to), row(m.position()));
        let (stroke, marker, dash) = match &m.end {
            End::Failed(_) | End::Dropped => ("#c22", "fail", ""),
            End::Delivered => ("#334", "arrow", ""),
            End::Pending => ("#889", "arrow", r#" stroke-dasharray="6 4""#),
        };
        let dash = if m.end == End::Dropped {
            r#" stroke-dasharray="2 3""#
        } else {
            dash
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
        let full = m.payload.to_string();
        let mut text = label(&m.payload, 36);
        match &m.end {
            End::Pending => text.push_str(" (pending)"),
            End::Dropped => text.push_str(" (dropped)"),
            _ => {}
        }
        // The label sits at the arrow's start, where arrows that cross cannot collide.
        let (lx, ly, anchor) = if x1 == x2 {
            (x1 + 66, (y1 + y2) / 2 + 4, "start")
        } else if x2 > x1 {
            (x1 + 8, y1 - 6, "start")
        } else {
            (x1 - 8, y1 - 6, "end")
        };
        halo(&mut labels, lx, ly, anchor, stroke, "", &[text], &full);
        // The state goes on the side of the lifeline the arrow does not come from.
        let (sx, sanchor) = if x1 < x2 {
            (x2 + 10, "start")
        } else {
            (x2.saturating_sub(10), "end")
        };
        if let (Some(state), End::Delivered) = (&m.state_after, &m.end) {
            let text = format!("state {state}");
            let lines = wrap(&text, STATE_LINE, 2);
            halo(
                &mut labels,
                sx,
                y2 + 4,
                sanchor,
                "#667",
                r#" font-size="11""#,
                &lines,
                &text,
            );
        }
        let reason = match &m.end {
            End::Failed(reason) => Some(reason.clone()),
            End::Dropped => Some("deleted by hand before delivery".into()),
            _ => None,
        };
        if let Some(reason) = reason {
            let line = format!("✗ {}", first_line(&reason));
            let lines = wrap(&line, 48, 2);
            halo(
                &mut labels,
                sx,
                y2 + 16,
                sanchor,
                "#c22",
                "",
                &lines,
                &reason,
            );
        }
    }
    for mark in &marks {
        let (x, y) = (column(&mark.actor), row(mark.at));
        let color = match &mark.kind {
            MarkKind::Exit { abnormal: true, .. } => {
                let _ = writeln!(
                    out,
                    r##"<path d="M{},{} l12,12 M{},{} l-12,12" stroke="#c22" stroke-width="3"/>"##,
                    x - 6,
                    y - 6,
                    x + 6,
                    y - 6
                );
                "#c22"
            }
            MarkKind::Exit { .. } => {
                let _ = writeln!(
                    out,
                    r##"<rect x="{}" y="{}" width="10" height="10" fill="#667"/>"##,
                    x - 5,
                    y - 5
                );
                "#667"
            }
            MarkKind::Restart { .. } => {
                let _ = writeln!(
                    out,
                    r##"<circle cx="{x}" cy="{y}" r="7" fill="white" stroke="#282" stroke-width="3"/>"##
                );
                "#282"
            }
            MarkKind::Break { .. } => {
                let _ = writeln!(
                    out,
                    r##"<path d="M{},{} v12 M{},{} v12" stroke="#b60" stroke-width="4"/>"##,
                    x - 3,
                    y - 6,
                    x + 3,
                    y - 6
                );
                "#b60"
            }
        };
        let text = mark_text(mark);
        halo(
            &mut labels,
            x + 12,
            y + 4,
            "start",
            color,
            "",
            std::slice::from_ref(&text),
            &text,
        );
    }
    out.push_str(&labels);
    out.push_str("</svg>\n");
    out
}

/// A label on a white halo, in lines, with `tooltip` as its title.
#[allow(clippy::too_many_arguments)]
fn halo(
    out: &mut String,
    x: usize,
    y: usize,
    anchor: &str,
    fill: &str,
    extra: &str,
    lines: &[String],
    tooltip: &str,
) {
    let _ = write!(
        out,
        r##"<text x="{x}" y="{y}" text-anchor="{anchor}" fill="{fill}" stroke="white" stroke-width="4" paint-order="stroke"{extra}><title>{}</title>"##,
        xml(tooltip)
    );
    for (i, line) in lines.iter().enumerate() {
        let dy = if i == 0 { 0 } else { 13 };
        let _ = write!(out, r##"<tspan x="{x}" dy="{dy}">{}</tspan>"##, xml(line));
    }
    out.push_str("</text>\n");
}

/// `text` in at most `max_lines` lines of `width` characters, the last shortened with `…`.
fn wrap(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut lines: Vec<String> = chars
        .chunks(width.max(1))
        .map(|c| c.iter().collect())
        .collect();
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            last.pop();
            last.push('…');
        }
    }
    lines
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
    use crate::history::messages;
    use crate::journal::{Entry, Event};
    use serde_json::json;

    fn entry(event: Event) -> Entry {
        Entry {
            seq: 0,
            us: 1,
            event,
        }
    }

    fn send(id: &str, to: &str) -> Entry {
        entry(Event::Send {
            message: id.into(),
            from: None,
            to: to.into(),
            cause: None,
            payload: json!({"m": id}),
            bare: false,
        })
    }

    fn deliver(id: &str, to: &str) -> Entry {
        entry(Event::Deliver {
            message: id.into(),
            actor: to.into(),
            redelivered: false,
            payload: json!({"m": id}),
        })
    }

    #[test]
    fn crashes_and_restarts_are_drawn_on_the_lifeline_where_they_happened() {
        let entries = vec![
            send("a", "x"),
            deliver("a", "x"),
            entry(Event::Exit {
                actor: "x".into(),
                code: Some(2),
                signal: None,
                reason: Some("exit code 2".into()),
            }),
            entry(Event::Restart {
                actor: "x".into(),
                node: Some("~x".into()),
                attempt: Some(1),
                backoff_ms: Some(100),
                reason: None,
            }),
            send("b", "x"),
        ];
        let (messages, marks) = (messages(&entries), crate::history::marks(&entries));
        assert_eq!(marks.len(), 2);
        let drawn = mermaid(&messages, &marks);
        let crash = drawn.find("Note over p1: ✗ crashed: exit code 2").unwrap();
        let again = drawn
            .find("Note over p1: ↻ restarted (attempt 1, after 100 ms)")
            .unwrap();
        let pending = drawn.find("(pending)").unwrap();
        assert!(
            crash < again && drawn.find("->>").unwrap() < crash,
            "{drawn}"
        );
        assert!(
            again < pending,
            "marks come before what is still pending: {drawn}"
        );
        let svg = svg(&messages, &marks);
        assert!(svg.contains("✗ crashed: exit code 2"), "{svg}");
        assert!(svg.contains(r##"stroke="#282""##), "a restart ring: {svg}");
    }

    #[test]
    fn failures_drops_and_pending_messages_are_marked_in_delivery_order() {
        let entries = vec![
            send("a", "x"),
            send("b", "x"),
            send("c", "x"),
            deliver("b", "x"),
            deliver("a", "x"),
            entry(Event::Dead {
                file: "x::a.json".into(),
                actor: Some("x".into()),
                message: Some("a".into()),
                reason: "the handler failed: boom".into(),
            }),
            send("d", "x"),
            entry(Event::PendingDeleted {
                actor: "x".into(),
                file: "3-c.json".into(),
                message: "c".into(),
            }),
        ];
        let drawn = mermaid(&messages(&entries), &[]);
        let b = drawn.find(r#"p0->>p1: {"m":"b"}"#).unwrap();
        let a = drawn
            .find("p0-xp1: {\"m\":\"a\"}\n    Note right of p1: ✗ the handler failed: boom")
            .unwrap();
        let c = drawn.find(r#"p0--xp1: {"m":"c"} (dropped)"#).unwrap();
        let d = drawn.find(r#"p0--)p1: {"m":"d"} (pending)"#).unwrap();
        assert!(b < a && a < c && c < d, "delivery order:\n{drawn}");
        let svg = svg(&messages(&entries), &[]);
        assert!(svg.contains("✗") && svg.contains("(pending)") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("(dropped)"));
    }

    #[test]
    fn long_states_wrap_and_keep_their_whole_text_as_a_tooltip() {
        let long = json!({"history": "x".repeat(200)});
        let entries = vec![
            send("a", "y"),
            deliver("a", "y"),
            entry(Event::Result {
                message: "a".into(),
                actor: "y".into(),
                ok: true,
                state: Some(long.clone()),
            }),
        ];
        let svg = svg(&messages(&entries), &[]);
        let title = format!("<title>state {}</title>", xml(&long.to_string()));
        assert!(svg.contains(&title), "{svg}");
        // Every label comes after every arrow.
        let last_line = svg.rfind("<line").unwrap();
        let first_text = svg.find("<text x=\"").unwrap();
        let first_label = svg[first_text..]
            .find("paint-order")
            .map(|i| i + first_text)
            .unwrap();
        assert!(last_line < first_label);
    }

    #[test]
    fn text_is_escaped_and_wrapped() {
        assert_eq!(mermaid_text("a;b#c"), "a#59;b#35;c");
        assert_eq!(xml("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
        assert_eq!(wrap("abcdefgh", 3, 2), ["abc", "de…"]);
    }
}
