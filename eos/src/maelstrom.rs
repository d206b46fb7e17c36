//! Maelstrom's workloads and checkers, written from its documented semantics: what a client
//! sends for each workload, and whether the replies it got (and the final reads) are valid.
//! Pure: `eos cluster test` sends, waits and reads the replies; this says what they mean.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::{Value, json};

use crate::rng::Rng;

/// The program that runs a Maelstrom node (or a client) as an EOS actor.
pub const ADAPTER: &str = "maelstrom-actor";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    Echo,
    UniqueIds,
    Broadcast,
    GCounter,
}

impl Workload {
    /// Whether the run ends by reading every node.
    pub fn reads_at_end(self) -> bool {
        matches!(self, Workload::Broadcast | Workload::GCounter)
    }

    /// The body of request number `k` (unique in the cluster's life: a broadcast value, an
    /// echo); its `msg_id` is added by the sender.
    pub fn request(self, k: u64, rng: &mut Rng) -> Value {
        match self {
            Workload::Echo => json!({"type": "echo", "echo": format!("hello {k}")}),
            Workload::UniqueIds => json!({"type": "generate"}),
            Workload::Broadcast => json!({"type": "broadcast", "message": k}),
            Workload::GCounter => json!({"type": "add", "delta": 1 + rng.below(5)}),
        }
    }
}

/// A request the client sent.
#[derive(Debug, Clone)]
pub struct Op {
    pub msg_id: u64,
    pub node: String,
    pub body: Value,
    pub sent_us: u64,
}

/// A message the client received.
#[derive(Debug, Clone)]
pub struct Reply {
    pub us: u64,
    pub src: String,
    pub body: Value,
}

/// What a run came to, as Maelstrom's `results.edn` says it.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub workload: Workload,
    pub valid: bool,
    /// Requests sent (final reads not counted).
    pub ops: u64,
    /// Requests answered as they should be.
    pub ok: u64,
    /// Requests never answered.
    pub unanswered: u64,
    /// What makes it invalid (or is worth knowing).
    pub problems: Vec<String>,
    pub latency_ms: BTreeMap<String, f64>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// Checks a run: the requests, the final reads (sent after the requests, one per node), and
/// every reply the client got.
pub fn check(workload: Workload, ops: &[Op], reads: &[Op], replies: &[Reply]) -> Results {
    let answer: HashMap<(String, u64), &Reply> = replies
        .iter()
        .filter_map(|r| Some(((r.src.clone(), r.body["in_reply_to"].as_u64()?), r)))
        .collect();
    let reply_to = |op: &Op| answer.get(&(op.node.clone(), op.msg_id)).copied();
    let mut problems = Vec::new();
    let mut latencies: Vec<f64> = Vec::new();
    let mut ok = 0;
    let mut unanswered = 0;
    let expected = match workload {
        Workload::Echo => "echo_ok",
        Workload::UniqueIds => "generate_ok",
        Workload::Broadcast => "broadcast_ok",
        Workload::GCounter => "add_ok",
    };
    let mut ids = BTreeSet::new();
    let mut acknowledged: BTreeSet<u64> = BTreeSet::new();
    let (mut added, mut attempted) = (0u64, 0u64);
    for op in ops {
        attempted += op.body["delta"].as_u64().unwrap_or(0);
        let Some(reply) = reply_to(op) else {
            unanswered += 1;
            continue;
        };
        latencies.push(reply.us.saturating_sub(op.sent_us) as f64 / 1000.0);
        if reply.body["type"] != expected {
            problems.push(format!(
                "{} answered {} with {} (expected {expected})",
                op.node, op.body, reply.body
            ));
            continue;
        }
        match workload {
            Workload::Echo if reply.body["echo"] != op.body["echo"] => {
                problems.push(format!(
                    "{} echoed {} for {}",
                    op.node, reply.body["echo"], op.body["echo"]
                ));
                continue;
            }
            Workload::UniqueIds => {
                let id = reply.body["id"].to_string();
                if !ids.insert(id.clone()) {
                    problems.push(format!("the id {id} was generated twice"));
                    continue;
                }
            }
            Workload::Broadcast => {
                if let Some(m) = op.body["message"].as_u64() {
                    acknowledged.insert(m);
                }
            }
            Workload::GCounter => added += op.body["delta"].as_u64().unwrap_or(0),
            _ => {}
        }
        ok += 1;
    }
    for read in reads {
        let Some(reply) = reply_to(read) else {
            problems.push(format!("{} never answered the final read", read.node));
            continue;
        };
        match workload {
            Workload::Broadcast => {
                let seen: BTreeSet<u64> = reply.body["messages"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_u64)
                    .collect();
                let lost: Vec<u64> = acknowledged.difference(&seen).copied().collect();
                if !lost.is_empty() {
                    let shown: Vec<String> = lost.iter().take(10).map(u64::to_string).collect();
                    problems.push(format!(
                        "{} is missing {} acknowledged value(s): {}{}",
                        read.node,
                        lost.len(),
                        shown.join(", "),
                        if lost.len() > 10 { ", …" } else { "" }
                    ));
                }
            }
            Workload::GCounter => {
                let value = reply.body["value"].as_u64();
                if !value.is_some_and(|v| (added..=attempted).contains(&v)) {
                    problems.push(format!(
                        "{} reads {} but the counter is between {added} (acknowledged) and \
                         {attempted} (attempted)",
                        read.node, reply.body["value"]
                    ));
                }
            }
            _ => {}
        }
    }
    if ok == 0 && !ops.is_empty() {
        problems.push("no request was answered as it should be".into());
    }
    latencies.sort_by(f64::total_cmp);
    let latency_ms = [("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0)]
        .into_iter()
        .map(|(name, p)| (name.to_owned(), percentile(&latencies, p)))
        .collect();
    Results {
        workload,
        valid: problems.is_empty(),
        ops: ops.len() as u64,
        ok,
        unanswered,
        problems,
        latency_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(msg_id: u64, node: &str, body: Value) -> Op {
        Op {
            msg_id,
            node: node.into(),
            body,
            sent_us: 1000,
        }
    }

    fn reply(src: &str, body: Value) -> Reply {
        Reply {
            us: 3000,
            src: src.into(),
            body,
        }
    }

    #[test]
    fn echoes_are_checked_one_by_one() {
        let ops = [
            op(1, "n0", json!({"type": "echo", "echo": "a"})),
            op(2, "n1", json!({"type": "echo", "echo": "b"})),
        ];
        let good = [
            reply(
                "n0",
                json!({"type": "echo_ok", "echo": "a", "in_reply_to": 1}),
            ),
            reply(
                "n1",
                json!({"type": "echo_ok", "echo": "b", "in_reply_to": 2}),
            ),
        ];
        let r = check(Workload::Echo, &ops, &[], &good);
        assert!(r.valid, "{:?}", r.problems);
        assert_eq!((r.ok, r.unanswered), (2, 0));
        assert_eq!(r.latency_ms["p50"], 2.0);
        let bad = [reply(
            "n0",
            json!({"type": "echo_ok", "echo": "x", "in_reply_to": 1}),
        )];
        let r = check(Workload::Echo, &ops, &[], &bad);
        assert!(!r.valid);
        assert_eq!(r.unanswered, 1);
    }

    #[test]
    fn broadcast_values_acknowledged_must_reach_every_node() {
        let ops = [
            op(1, "n0", json!({"type": "broadcast", "message": 7})),
            op(2, "n1", json!({"type": "broadcast", "message": 8})),
        ];
        let reads = [
            op(3, "n0", json!({"type": "read"})),
            op(4, "n1", json!({"type": "read"})),
        ];
        let mut replies = vec![
            reply("n0", json!({"type": "broadcast_ok", "in_reply_to": 1})),
            reply("n1", json!({"type": "broadcast_ok", "in_reply_to": 2})),
            reply(
                "n0",
                json!({"type": "read_ok", "messages": [7, 8], "in_reply_to": 3}),
            ),
        ];
        replies.push(reply(
            "n1",
            json!({"type": "read_ok", "messages": [8], "in_reply_to": 4}),
        ));
        let r = check(Workload::Broadcast, &ops, &reads, &replies);
        assert!(!r.valid);
        assert_eq!(r.problems, ["n1 is missing 1 acknowledged value(s): 7"]);
        replies.pop();
        replies.push(reply(
            "n1",
            json!({"type": "read_ok", "messages": [8, 7], "in_reply_to": 4}),
        ));
        assert!(check(Workload::Broadcast, &ops, &reads, &replies).valid);
    }

    #[test]
    fn a_counter_reads_between_acknowledged_and_attempted() {
        let ops = [
            op(1, "n0", json!({"type": "add", "delta": 2})),
            op(2, "n1", json!({"type": "add", "delta": 3})),
        ];
        let reads = [op(3, "n0", json!({"type": "read"}))];
        let acked_one = |value: u64| {
            vec![
                reply("n0", json!({"type": "add_ok", "in_reply_to": 1})),
                reply(
                    "n0",
                    json!({"type": "read_ok", "value": value, "in_reply_to": 3}),
                ),
            ]
        };
        assert!(check(Workload::GCounter, &ops, &reads, &acked_one(2)).valid);
        assert!(check(Workload::GCounter, &ops, &reads, &acked_one(5)).valid);
        assert!(!check(Workload::GCounter, &ops, &reads, &acked_one(1)).valid);
        assert!(!check(Workload::GCounter, &ops, &reads, &acked_one(6)).valid);
    }

    #[test]
    fn unique_ids_are_unique() {
        let ops = [
            op(1, "n0", json!({"type": "generate"})),
            op(2, "n1", json!({"type": "generate"})),
        ];
        let same = [
            reply(
                "n0",
                json!({"type": "generate_ok", "id": "x", "in_reply_to": 1}),
            ),
            reply(
                "n1",
                json!({"type": "generate_ok", "id": "x", "in_reply_to": 2}),
            ),
        ];
        let r = check(Workload::UniqueIds, &ops, &[], &same);
        assert!(!r.valid);
        assert!(r.problems[0].contains("twice"));
    }
}
