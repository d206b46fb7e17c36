//! The exploration part of `eos bench`: how fast states are explored in-process and on the real
//! processes for the same example, how long the playground's planted two-phase-commit bug takes
//! to find, and how many transitions the partial-order reduction saves.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use serde_json::{Value, json};

use super::output::Output;
use super::{explore_real, locate, spawn, system};
use crate::envelope::Envelope;
use crate::{ActorId, MessageId, Root, fsio};

const COORDINATOR: &str = include_str!("../../../playground/2pc/coordinator.rn");
const COORDINATOR_FIXED: &str = include_str!("../../../playground/2pc/coordinator_fixed.rn");
const PARTICIPANT: &str = include_str!("../../../playground/2pc/participant.rn");
const ATOMICITY: &str = include_str!("../../../playground/2pc/invariants/atomicity.rn");
const COUNT: &str = "pub fn init() { #{ n: 0 } }\npub fn handle(s, m) { s.n += m.payload.by; s }\n";

/// Runs `eos-explore` on `root` and returns its summary.
fn explore(root: &Root, args: &[&str]) -> Result<Value> {
    let out = std::process::Command::new(locate::program("eos-explore")?)
        .arg("--root")
        .arg(root.path())
        .arg("--json")
        .args(args)
        .output()
        .context("running eos-explore")?;
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "eos-explore said: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}

fn send(root: &Root, to: &str, payload: Value) -> Result<()> {
    let to = ActorId::parse(to).map_err(anyhow::Error::msg)?;
    Envelope::new(MessageId::generate(), None, payload).post(root, &to)?;
    Ok(())
}

/// A fresh root in `dir` with a supervisor, paused, and these script actors.
fn system_of(dir: &Path, actors: &[(&str, &Path)]) -> Result<Root> {
    let root = Root::new(dir.join("root"));
    system::up(
        &root,
        &Output::quiet(),
        &system::UpOptions::standard(),
        None,
    )?;
    for (id, script) in actors {
        spawn::spawn_script(
            &root,
            &Output::quiet(),
            script,
            Vec::new(),
            Some((*id).into()),
            None,
        )?;
    }
    fsio::write_atomic(&root.paused_file(), b"paused by eos bench\n")?;
    Ok(root)
}

/// Takes checkpoint `name` (once what was sent is routed).
fn checkpoint(root: &Root, name: &str) -> Result<()> {
    super::checkpoint::take(root, &Output::quiet(), name)?;
    Ok(())
}

pub fn run(out: &Output, dir: &Path) -> Result<Value> {
    let dir = dir.join("explore");
    fs::create_dir_all(&dir)?;
    let write = |name: &str, text: &str| -> Result<std::path::PathBuf> {
        let path = dir.join(name);
        fs::write(&path, text)?;
        Ok(path)
    };

    // The same example both ways: five counters with four messages each.
    let count = write("count.rn", COUNT)?;
    let ids = ["a", "b", "c", "d", "e"];
    let actors: Vec<(&str, &Path)> = ids.iter().map(|id| (*id, count.as_path())).collect();
    let counters = system_of(&dir.join("counters"), &actors)?;
    for id in ids {
        for by in 1..=4 {
            send(&counters, id, json!({ "by": by }))?;
        }
    }
    checkpoint(&counters, "start")?;
    let in_process = explore(
        &counters,
        &["--from", "start", "--time", "5s", "--no-reduction"],
    )?;
    let options = explore_real::Options {
        from: "start".into(),
        walks: 3,
        depth: 20,
        seed: 1,
        time: Duration::from_secs(30),
        timers_early: false,
        quiet: Duration::from_millis(30),
    };
    // A failure here is reported, and the rest is still measured.
    let real: Value = match explore_real::run(&counters, &Output::quiet(), &options) {
        Ok(_) => fsio::read_json(&counters.explore_summary())?,
        Err(e) => {
            out.warn(format!("exploration on the real processes failed: {e:#}"));
            Value::Null
        }
    };
    system::stop(&counters, &Output::quiet(), system::StopMode::Keep)?;
    let (fast, slow) = (
        in_process["states_per_second"].as_f64().unwrap_or(0.0),
        real["states_per_second"].as_f64().unwrap_or(0.0),
    );
    out.say(format!(
        "exploration:       {fast:.0} states/s in-process against {slow:.1} on the real \
         processes ({:.0}x; five counters, twenty messages)",
        fast / slow.max(1e-9)
    ))?;

    // What the reduction saves where deliveries commute: three counters, three messages each.
    let actors: Vec<(&str, &Path)> = ids[..3].iter().map(|id| (*id, count.as_path())).collect();
    let small = system_of(&dir.join("small"), &actors)?;
    for id in &ids[..3] {
        for by in 1..=3 {
            send(&small, id, json!({ "by": by }))?;
        }
    }
    checkpoint(&small, "start")?;
    let both = explore(&small, &["--from", "start", "--compare"])?;
    system::stop(&small, &Output::quiet(), system::StopMode::Keep)?;
    let commuting = json!({
        "distinct": both["distinct"], "with": both["transitions"],
        "without": both["without_reduction"]["transitions"], "exhaustive": both["exhaustive"],
    });
    out.say(format!(
        "                   partial-order reduction: {} distinct states of three counters \
         reached by {} transitions, against {} without",
        commuting["distinct"], commuting["with"], commuting["without"]
    ))?;

    // The planted bug, and the correct protocol.
    let participant = write("participant.rn", PARTICIPANT)?;
    let mut figures = json!({
        "in_process_states_per_s": fast,
        "real_states_per_s": slow,
        "ratio": fast / slow.max(1e-9),
        "reduction_counters": commuting,
    });
    for (name, coordinator) in [("planted", COORDINATOR), ("fixed", COORDINATOR_FIXED)] {
        let script = write(&format!("coordinator-{name}.rn"), coordinator)?;
        let actors = [
            ("p1", participant.as_path()),
            ("p2", participant.as_path()),
            ("p3", participant.as_path()),
            ("coord", script.as_path()),
        ];
        let root = system_of(&dir.join(name), &actors)?;
        fsio::create_private_dir(&root.invariants_dir())?;
        fs::write(root.invariants_dir().join("atomicity.rn"), ATOMICITY)?;
        send(
            &root,
            "coord",
            json!({"begin": "t1", "participants": ["p1", "p2", "p3"]}),
        )?;
        checkpoint(&root, "start")?;
        if name == "planted" {
            for (how, args) in [
                ("timer, bfs", ["--faults", "timer", "--strategy", "bfs"]),
                ("drop, dfs", ["--faults", "drop", "--strategy", "dfs"]),
            ] {
                let start = Instant::now();
                let found = explore(&root, &[&["--from", "start"][..], &args[..]].concat())?;
                let seconds = start.elapsed().as_secs_f64();
                out.say(format!(
                    "                   the planted 2PC bug ({how}) found and minimized to {} \
                     steps in {seconds:.2}s ({} states)",
                    found["violation"]["minimized_steps"], found["states"]
                ))?;
                figures[format!("planted_{}", how.replace(", ", "_"))] = json!({"seconds": seconds, "states": found["states"],
                           "minimized_steps": found["violation"]["minimized_steps"]});
            }
        } else {
            let both = explore(
                &root,
                &[
                    "--from",
                    "start",
                    "--faults",
                    "drop,timer",
                    "--max-faults",
                    "2",
                    "--compare",
                ],
            )?;
            let plain = &both["without_reduction"];
            out.say(format!(
                "                   the correct 2PC with drops and early timers: {} distinct \
                 states, {} transitions with the reduction against {} without",
                both["distinct"], both["transitions"], plain["transitions"]
            ))?;
            figures["reduction"] = json!({
                "distinct": both["distinct"], "with": both["transitions"],
                "without": plain["transitions"], "exhaustive": both["exhaustive"],
            });
        }
        system::stop(&root, &Output::quiet(), system::StopMode::Keep)?;
    }
    Ok(figures)
}
