//! `eos tree`: the live supervision tree, and `eos tree apply FILE` to converge the running
//! system to a tree file.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use super::output::{BAD, BOLD, DIM, GOOD, Output, styled};
use super::{poll, system};
use crate::spawn_request::SpawnRequest;
use crate::status::ActorStatus;
use crate::supervision::{self, ChildSpec, NodeSpec, SupervisionRecord};
use crate::{ActorId, Root, fsio};

/// Checks `file`, makes its paths absolute, puts it in `trees/` and waits until its actors run
/// (or its node gives up).
pub fn apply(root: &Root, out: &Output, file: &Path, timeout: Duration) -> Result<ExitCode> {
    system::require(root)?;
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    ActorId::parse(&name).map_err(|e| anyhow!("the tree's name (its file's) is not valid: {e}"))?;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut spec: NodeSpec = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid tree", file.display()))?;
    spec.check()
        .map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let base = std::path::absolute(file)?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    absolute_paths(&mut spec, &base)?;
    let target = root.trees_dir().join(format!("{name}.json"));
    fsio::write_json_atomic(&target, &spec)?;
    let ids = actor_ids(&spec);
    let done = poll::until(timeout, || {
        if let Ok(reason) = crate::dead::read_reason(&crate::layout::reason_file(&target)) {
            return Some(Err(reason));
        }
        let records: SupervisionRecord =
            fsio::read_json(&root.supervision_file()).unwrap_or_default();
        if let Some(down) = records.get(&name).and_then(|r| r.down.clone()) {
            return Some(Err(format!("the tree gave up: {down}")));
        }
        ids.iter()
            .all(|id| status(root, id).is_some_and(|s| s.is_running()))
            .then_some(Ok(()))
    });
    match done {
        Some(Ok(())) => {}
        Some(Err(reason)) => bail!("the supervisor did not apply {}: {reason}", file.display()),
        None => bail!(
            "not every actor of {} runs after {timeout:?}; see `eos tree` and `eos doctor`",
            file.display()
        ),
    }
    out.say(format!(
        "{} {name}: {} actor(s) running",
        styled(GOOD, "applied"),
        ids.len()
    ))?;
    show(root, out)
}

/// Scripts and programs named relative to the tree file are found from anywhere.
fn absolute_paths(spec: &mut NodeSpec, base: &Path) -> Result<()> {
    for child in &mut spec.children {
        match child {
            ChildSpec::Actor(actor) => {
                if let Some(script) = &actor.script {
                    let path = base.join(script);
                    if !path.is_file() {
                        bail!("`{}`: there is no script {}", actor.id, path.display());
                    }
                    actor.script = Some(path.to_string_lossy().into_owned());
                }
                if let Some(program) = &actor.program
                    && program.contains('/')
                {
                    actor.program = Some(base.join(program).to_string_lossy().into_owned());
                }
            }
            ChildSpec::Node(node) => absolute_paths(node, base)?,
        }
    }
    Ok(())
}

fn actor_ids(spec: &NodeSpec) -> Vec<ActorId> {
    let mut ids = Vec::new();
    for child in &spec.children {
        match child {
            ChildSpec::Actor(actor) => ids.push(actor.id.clone()),
            ChildSpec::Node(node) => ids.extend(actor_ids(node)),
        }
    }
    ids
}

fn status(root: &Root, id: &ActorId) -> Option<ActorStatus> {
    fsio::read_json(&root.actor(id).status_file()).ok()
}

/// `eos tree`: every tree with its nodes and actors, then the actors outside trees with the
/// children they spawned; status, restart type, starts and restarts.
pub fn show(root: &Root, out: &Output) -> Result<ExitCode> {
    let mut ids: Vec<ActorId> = fsio::names(&root.running_dir())
        .unwrap_or_default()
        .iter()
        .filter_map(|n| ActorId::parse(n).ok())
        .filter(|id| root.actor(id).path().is_dir())
        .collect();
    ids.sort();
    let mut children: HashMap<ActorId, Vec<ActorId>> = HashMap::new();
    let mut has_parent = Vec::new();
    for id in &ids {
        if let Some(parent) = fsio::read_json::<SpawnRequest>(&root.actor(id).spawn_record())
            .ok()
            .and_then(|r| r.parent)
        {
            children.entry(parent).or_default().push(id.clone());
            has_parent.push(id.clone());
        }
    }
    let view = View {
        root,
        records: fsio::read_json(&root.supervision_file()).unwrap_or_default(),
        children,
    };
    let mut names = fsio::names(&root.trees_dir()).unwrap_or_default();
    names.sort();
    let mut trees = Vec::new();
    let mut in_trees = Vec::new();
    for file in names {
        let Some(name) = file.strip_suffix(".json") else {
            continue;
        };
        let Ok(spec) = fsio::read_json::<NodeSpec>(&root.trees_dir().join(&file)) else {
            continue;
        };
        in_trees.extend(actor_ids(&spec));
        trees.push(node_json(&view, name, &spec));
    }
    let actors: Vec<Value> = ids
        .iter()
        .filter(|id| !in_trees.contains(id) && !has_parent.contains(id))
        .map(|id| actor_json(&view, id, &supervision::alone_node(id)))
        .collect();
    let tree = json!({"trees": trees, "actors": actors});
    if !out.json_mode() {
        for t in &trees {
            print_node(out, t, "")?;
        }
        if !actors.is_empty() {
            out.say(styled(BOLD, "actors outside trees"))?;
            for a in &actors {
                print_actor(out, a, "  ")?;
            }
        }
        if trees.is_empty() && actors.is_empty() {
            out.say("no actors")?;
        }
    }
    out.data(&tree)?;
    Ok(ExitCode::SUCCESS)
}

fn node_json(view: &View, name: &str, spec: &NodeSpec) -> Value {
    let record = view.records.get(name).cloned().unwrap_or_default();
    let children: Vec<Value> = spec
        .children
        .iter()
        .map(|child| match child {
            ChildSpec::Actor(actor) => actor_json(view, &actor.id, name),
            ChildSpec::Node(node) => node_json(
                view,
                &format!("{name}/{}", node.name.as_deref().unwrap_or_default()),
                node,
            ),
        })
        .collect();
    json!({
        "node": name,
        "strategy": spec.strategy.as_str(),
        "intensity": spec.intensity,
        "period": spec.period,
        "restarts": record.restarts,
        "down": record.down,
        "children": children,
    })
}

/// What the tree is drawn from, read once.
struct View<'a> {
    root: &'a Root,
    records: SupervisionRecord,
    /// The children each actor spawned, in id order.
    children: HashMap<ActorId, Vec<ActorId>>,
}

fn actor_json(view: &View, id: &ActorId, node: &str) -> Value {
    let (root, records) = (view.root, &view.records);
    let dir = root.actor(id);
    let status = status(root, id);
    let restart = std::fs::read_to_string(dir.restart_file())
        .map(|t| t.trim().to_owned())
        .unwrap_or_default();
    // An actor outside trees is a node of its own (`~id`); in a tree, the node's record is
    // shown with the node.
    let own = records
        .get(node)
        .filter(|_| supervision::is_alone_node(node))
        .cloned()
        .unwrap_or_default();
    let starts = status.as_ref().map_or(0, ActorStatus::starts);
    let children: Vec<Value> = view
        .children
        .get(id)
        .into_iter()
        .flatten()
        .map(|child| actor_json(view, child, &supervision::children_node(id)))
        .collect();
    let spawned = records
        .get(&supervision::children_node(id))
        .cloned()
        .unwrap_or_default();
    json!({
        "actor": id,
        "status": status.as_ref().map_or("unknown", ActorStatus::word),
        "restart": restart,
        "starts": starts,
        "restarts": starts.saturating_sub(1),
        "down": own.down,
        "children": children,
        "children_restarts": spawned.restarts,
        "children_down": spawned.down,
    })
}

fn print_node(out: &Output, node: &Value, indent: &str) -> Result<()> {
    let down = node["down"]
        .as_str()
        .map(|d| styled(BAD, format!("  gave up: {d}")))
        .unwrap_or_default();
    out.say(format!(
        "{indent}{} {}  {}",
        styled(BOLD, node["node"].as_str().unwrap_or("")),
        node["strategy"].as_str().unwrap_or(""),
        styled(
            DIM,
            format!(
                "intensity {}/{}s, {} restart(s){down}",
                node["intensity"], node["period"], node["restarts"]
            )
        )
    ))?;
    let deeper = format!("{indent}  ");
    for child in node["children"].as_array().into_iter().flatten() {
        if child.get("node").is_some() {
            print_node(out, child, &deeper)?;
        } else {
            print_actor(out, child, &deeper)?;
        }
    }
    Ok(())
}

fn print_actor(out: &Output, actor: &Value, indent: &str) -> Result<()> {
    let status = actor["status"].as_str().unwrap_or("");
    let status = if status == "running" {
        styled(GOOD, status)
    } else {
        styled(BAD, status)
    };
    let down = actor["down"]
        .as_str()
        .map(|d| styled(BAD, format!("  gave up: {d}")))
        .unwrap_or_default();
    out.say(format!(
        "{indent}{:<16} {status:<8} {:<10} {}{down}",
        actor["actor"].as_str().unwrap_or(""),
        actor["restart"].as_str().unwrap_or(""),
        styled(
            DIM,
            format!("starts {}, restarts {}", actor["starts"], actor["restarts"])
        )
    ))?;
    let deeper = format!("{indent}  ");
    for child in actor["children"].as_array().into_iter().flatten() {
        print_actor(out, child, &deeper)?;
    }
    Ok(())
}
