//! `eos cluster`: Maelstrom nodes as EOS actors. `up` starts nodes `n0`…`n(N-1)` (each run by
//! `maelstrom-actor`) and a client `c1`, tells every node who it is (`init`) and waits for its
//! `init_ok`; `test` drives a workload from the client and checks the replies as Maelstrom's
//! checkers do; `down` stops and removes them.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};

use super::output::{BAD, BOLD, GOOD, Output, styled};
use super::{actors, locate, poll, spawn, system};
use crate::envelope::Envelope;
use crate::journal::{self, Event};
use crate::maelstrom::{self, ADAPTER, Op, Reply, Workload};
use crate::rng::Rng;
use crate::spawn_request::SpawnRequest;
use crate::supervision::RestartType;
use crate::{ActorId, MessageId, Root, fsio};

/// The client that `up` starts and `test` drives.
pub const CLIENT: &str = "c1";

/// The cluster's node ids, in order: the actors run by the adapter that are not clients.
fn nodes(root: &Root) -> Vec<ActorId> {
    let mut nodes: Vec<ActorId> = actors::known(root)
        .into_iter()
        .filter(|id| {
            fsio::read_json::<SpawnRequest>(&root.actor(id).spawn_record()).is_ok_and(|r| {
                r.path.ends_with(ADAPTER) && r.args.first().is_some_and(|a| a != "--client")
            })
        })
        .collect();
    nodes.sort_by_key(|id| {
        let n: u64 = id
            .as_str()
            .trim_start_matches('n')
            .parse()
            .unwrap_or(u64::MAX);
        (n, id.to_string())
    });
    nodes
}

fn actor_id(id: &str) -> Result<ActorId> {
    ActorId::parse(id).map_err(anyhow::Error::msg)
}

/// Sends `body` (with `msg_id`) from the client to `node`; returns when it was sent.
fn request(root: &Root, node: &ActorId, msg_id: u64, mut body: Value) -> Result<Op> {
    body["msg_id"] = json!(msg_id);
    let sent_us = crate::clock::now_us();
    Envelope::new(MessageId::generate(), Some(actor_id(CLIENT)?), body.clone()).post(root, node)?;
    Ok(Op {
        msg_id,
        node: node.to_string(),
        body,
        sent_us,
    })
}

/// Every message the client has received.
fn replies(root: &Root) -> Result<Vec<Reply>> {
    let file = root.actor(&actor_id(CLIENT)?).replies_file();
    let text = fs::read_to_string(&file).unwrap_or_default();
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| Reply {
            us: v["us"].as_u64().unwrap_or(0),
            src: v["src"].as_str().unwrap_or("").to_owned(),
            body: v["body"].clone(),
        })
        .collect())
}

/// Whether every op has its reply.
fn answered(root: &Root, ops: &[Op]) -> Result<bool> {
    let got = replies(root)?;
    Ok(ops.iter().all(|op| {
        got.iter()
            .any(|r| r.src == op.node && r.body["in_reply_to"].as_u64() == Some(op.msg_id))
    }))
}

/// A message id the client has not used: past every one it sent before.
fn next_msg_id(root: &Root) -> Result<u64> {
    Ok(replies(root)?
        .iter()
        .filter_map(|r| r.body["in_reply_to"].as_u64())
        .max()
        .unwrap_or(0)
        + 1_000)
}

/// `eos cluster up N PROGRAM ARGS...`.
pub fn up(
    root: &Root,
    out: &Output,
    count: u32,
    program: &Path,
    args: &[String],
    timeout: Duration,
) -> Result<ExitCode> {
    system::require(root)?;
    if count == 0 {
        bail!("a cluster needs at least one node");
    }
    if !nodes(root).is_empty() {
        bail!("a cluster is up already (eos cluster down first)");
    }
    let adapter = locate::program(ADAPTER)?;
    let program = spawn::resolve(program)?;
    let quiet = Output::quiet();
    let client = actor_id(CLIENT)?;
    if !root.actor(&client).path().exists() {
        let request = SpawnRequest {
            path: adapter.to_string_lossy().into_owned(),
            args: vec!["--client".into()],
            id: Some(client.clone()),
            ..SpawnRequest::default()
        };
        spawn::start(root, &quiet, &client, request)?;
    }
    let ids: Vec<ActorId> = (0..count)
        .map(|n| actor_id(&format!("n{n}")))
        .collect::<Result<_>>()?;
    for id in &ids {
        let mut node_args = vec![program.to_string_lossy().into_owned()];
        node_args.extend(args.iter().cloned());
        let request = SpawnRequest {
            path: adapter.to_string_lossy().into_owned(),
            args: node_args,
            id: Some(id.clone()),
            restart: Some(RestartType::Transient),
            ..SpawnRequest::default()
        };
        spawn::start(root, &quiet, id, request)?;
    }
    let names: Vec<&str> = ids.iter().map(ActorId::as_str).collect();
    let first = next_msg_id(root)?;
    let mut inits = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let body = json!({"type": "init", "node_id": id.as_str(), "node_ids": names});
        inits.push(request(root, id, first + n as u64, body)?);
    }
    let done = poll::until(timeout, || answered(root, &inits).ok().filter(|&a| a));
    if done.is_none() {
        let got = replies(root)?;
        let silent: Vec<String> = inits
            .iter()
            .filter(|op| {
                !got.iter()
                    .any(|r| r.src == op.node && r.body["in_reply_to"].as_u64() == Some(op.msg_id))
            })
            .map(|op| {
                let log = actor_id(&op.node).map(|id| root.actor(&id).log_file());
                format!(
                    "{} (its log: {})",
                    op.node,
                    log.map(|l| l.display().to_string()).unwrap_or_default()
                )
            })
            .collect();
        bail!(
            "no init_ok within {timeout:?} from {}: a Maelstrom node must answer \
             {{\"type\": \"init\"}} with {{\"type\": \"init_ok\", \"in_reply_to\": …}}",
            silent.join(", ")
        );
    }
    out.say(format!(
        "{} a cluster of {count} node(s), {}, running {}; client {CLIENT}",
        styled(GOOD, "up:"),
        names.join(" "),
        program.display()
    ))?;
    out.data(&json!({"nodes": names, "client": CLIENT}))?;
    Ok(ExitCode::SUCCESS)
}

/// `eos cluster down`: stops and removes the nodes and the client.
pub fn down(root: &Root, out: &Output) -> Result<ExitCode> {
    system::require(root)?;
    let mut ids = nodes(root);
    let client = actor_id(CLIENT)?;
    if root.actor(&client).path().exists() {
        ids.push(client);
    }
    let quiet = Output::quiet();
    for id in &ids {
        let _ = actors::kill(root, &quiet, id.as_str(), "TERM");
    }
    let names: Vec<String> = ids.iter().map(ToString::to_string).collect();
    if !names.is_empty() {
        actors::cleanup(root, &quiet, &names, true)?;
    }
    out.say(format!(
        "{} {} actor(s)",
        styled(GOOD, "removed"),
        names.len()
    ))?;
    out.data(&json!({"removed": names}))?;
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
pub struct TestOptions {
    #[arg(value_enum)]
    pub workload: Workload,
    /// Requests per second
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// How long to send requests
    #[arg(long, default_value = "5s", value_parser = crate::duration::parse)]
    pub time: Duration,
    /// The seed of the requests and the nodes they go to
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How long to let the nodes settle before the final reads
    #[arg(long, default_value = "2s", value_parser = crate::duration::parse)]
    pub settle: Duration,
    /// Split the nodes in two (a fault rule) for the first half of the run
    #[arg(long)]
    pub partition: bool,
}

/// The fault rule a partitioned run writes, removed when it heals.
const PARTITION_RULE: &str = "cluster-partition";

/// `eos cluster test WORKLOAD`: sends requests from the client at `rate` for `time`, then
/// reads every node, and checks.
pub fn test(root: &Root, out: &Output, options: &TestOptions) -> Result<ExitCode> {
    system::require(root)?;
    let nodes = nodes(root);
    if nodes.is_empty() {
        bail!("no cluster is up (eos cluster up N PROGRAM)");
    }
    let mut rng = Rng::new(options.seed);
    let first_seq = journal::last_seq(root);
    let rule = root.faults_dir().join(format!("{PARTITION_RULE}.json"));
    if options.partition {
        let half = nodes.len().div_ceil(2);
        let (a, b) = nodes.split_at(half);
        let group = |g: &[ActorId]| g.iter().map(ToString::to_string).collect::<Vec<_>>();
        fsio::create_private_dir(&root.faults_dir())?;
        fsio::write_json_atomic(
            &rule,
            &json!({"kind": "partition", "groups": [group(a), group(b)]}),
        )?;
    }
    let total = (options.rate * options.time.as_secs_f64()).round().max(1.0) as u64;
    let gap = Duration::from_secs_f64(1.0 / options.rate.max(1e-3));
    let start = Instant::now();
    let mut msg_id = next_msg_id(root)?;
    let mut ops = Vec::new();
    if options.workload == Workload::Broadcast {
        // Every node's neighbours: all the others.
        let topology: BTreeMap<String, Vec<String>> = nodes
            .iter()
            .map(|n| {
                let others = nodes.iter().filter(|m| *m != n).map(ToString::to_string);
                (n.to_string(), others.collect())
            })
            .collect();
        let mut setup = Vec::new();
        for node in &nodes {
            setup.push(request(
                root,
                node,
                msg_id,
                json!({"type": "topology", "topology": topology}),
            )?);
            msg_id += 1;
        }
        poll::until(Duration::from_secs(5), || {
            answered(root, &setup).ok().filter(|&a| a)
        });
    }
    let mut healed = !options.partition;
    for k in 0..total {
        let due = start + gap.mul_f64(k as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        if !healed && start.elapsed() >= options.time / 2 {
            let _ = fs::remove_file(&rule);
            healed = true;
        }
        let node = &nodes[rng.below(nodes.len())];
        // Numbered by message id: unique across runs on the same cluster.
        let body = options.workload.request(msg_id, &mut rng);
        ops.push(request(root, node, msg_id, body)?);
        msg_id += 1;
    }
    let _ = fs::remove_file(&rule);
    // The answers, then a quiet time for the nodes to spread what they know.
    poll::until(options.settle.max(Duration::from_secs(2)), || {
        answered(root, &ops).ok().filter(|&a| a)
    });
    let mut reads = Vec::new();
    if options.workload.reads_at_end() {
        std::thread::sleep(options.settle);
        for node in &nodes {
            reads.push(request(root, node, msg_id, json!({"type": "read"}))?);
            msg_id += 1;
        }
        poll::until(Duration::from_secs(5), || {
            answered(root, &reads).ok().filter(|&a| a)
        });
    }
    let seconds = start.elapsed().as_secs_f64();
    let results = maelstrom::check(options.workload, &ops, &reads, &replies(root)?);
    // Messages between nodes, from the journal.
    let is_node = |id: &str| nodes.iter().any(|n| n.as_str() == id);
    let between = journal::read(root)
        .iter()
        .filter(|e| e.seq > first_seq)
        .filter(|e| {
            matches!(&e.event, Event::Send { from: Some(f), to, .. } if is_node(f) && is_node(to))
        })
        .count() as f64;
    let per_op = between / (ops.len().max(1) as f64);
    let file = root.maelstrom_results_file();
    let mut data = serde_json::to_value(&results)?;
    data["nodes"] = json!(nodes.len());
    data["seed"] = json!(options.seed);
    data["seconds"] = json!(seconds);
    data["partitioned"] = json!(options.partition);
    data["messages_between_nodes"] = json!(between);
    data["messages_per_op"] = json!(per_op);
    fsio::write_json_atomic(&file, &data)?;
    let workload = serde_json::to_value(options.workload)?;
    out.say(format!(
        "{} {} on {} node(s): {} operations in {seconds:.1}s (seed {}){}",
        styled(BOLD, "workload"),
        workload.as_str().unwrap_or(""),
        nodes.len(),
        results.ops,
        options.seed,
        if options.partition {
            ", partitioned for the first half"
        } else {
            ""
        }
    ))?;
    out.say(format!(
        "  :valid? {}",
        if results.valid {
            styled(GOOD, "true")
        } else {
            styled(BAD, "false")
        }
    ))?;
    for problem in results.problems.iter().take(10) {
        out.say(format!("  {problem}"))?;
    }
    out.say(format!(
        "  operations {} (ok {}, unanswered {}); messages between nodes per operation {per_op:.1}",
        results.ops, results.ok, results.unanswered
    ))?;
    let l = &results.latency_ms;
    out.say(format!(
        "  latency ms: p50 {:.1}, p95 {:.1}, p99 {:.1}, max {:.1}",
        l["p50"], l["p95"], l["p99"], l["max"]
    ))?;
    out.say(format!("  results: {}", file.display()))?;
    out.data(&data)?;
    Ok(if results.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The spawn request for `eos spawn --maelstrom PROGRAM ARGS`: the adapter runs the node.
pub fn node_request(program: &Path, args: Vec<String>) -> Result<(String, Vec<String>)> {
    let adapter = locate::program(ADAPTER).context("finding maelstrom-actor")?;
    let mut node_args = vec![program.to_string_lossy().into_owned()];
    node_args.extend(args);
    Ok((adapter.to_string_lossy().into_owned(), node_args))
}
