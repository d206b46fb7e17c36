//! `eos demo`: a short tour on a temporary root, printed as a transcript of the commands a
//! person would type, then cleaned up. It uses the playground's scripts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use super::output::{BOLD, DIM, Output, styled};
use super::{messages, poll, spawn, system};
use crate::{ActorId, Root, fsio, layout};

const SCRIPTS: [(&str, &str); 4] = [
    ("counter.rn", include_str!("../../../playground/counter.rn")),
    (
        "ping_pong.rn",
        include_str!("../../../playground/ping_pong.rn"),
    ),
    ("bank.rn", include_str!("../../../playground/bank.rn")),
    ("fragile.rn", include_str!("../../../playground/fragile.rn")),
];

/// How long any step of the tour may take.
const WAIT: Duration = Duration::from_secs(20);

pub fn run(out: &Output) -> Result<ExitCode> {
    let dir = tempfile::tempdir().context("creating a temporary folder")?;
    let root = Root::new(dir.path().join("root"));
    for (name, source) in SCRIPTS {
        std::fs::write(dir.path().join(name), source)?;
    }
    let script = |name: &str| dir.path().join(name);
    let result = tour(out, &root, &script);
    // Whatever happened, stop the supervisor before the folder goes.
    let quiet = Output::quiet();
    let _ = system::stop(&root, &quiet, system::StopMode::Clean);
    result?;
    out.say("")?;
    out.say(format!(
        "That was all files: try it yourself with `eos up` and the scripts in playground/. \
         ({} is removed now.)",
        dir.path().display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn tour(out: &Output, root: &Root, script: &dyn Fn(&str) -> PathBuf) -> Result<()> {
    let quiet = Output::quiet();
    let step = |title: &str| out.say(format!("\n{}", styled(BOLD, title)));
    let shell = |command: &str| out.say(styled(DIM, format!("$ {command}")));
    out.say(format!(
        "EOS demo: every actor is a process with a folder, every message a file.\nRoot: {}",
        root.path().display()
    ))?;

    step("1. Start a supervisor")?;
    shell("eos up")?;
    system::up(root, out, &system::UpOptions::standard(), None)?;

    step("2. A counter: spawn a script, send it messages, read its state file")?;
    shell("eos spawn-script counter.rn")?;
    spawn::spawn_script(root, out, &script("counter.rn"), Vec::new(), None, None)?;
    for message in [r#"{"inc": 5}"#, r#"{"inc": 2}"#, "{}"] {
        shell(&format!("eos send counter '{message}'"))?;
        messages::send(root, out, "counter", Some(message.into()), None, None, None)?;
    }
    let counter = wait_state(root, "counter", |s| s["count"] == 8)?;
    shell("cat $EOS_ROOT/running/counter/state.json")?;
    out.say(serde_json::to_string_pretty(&counter)?)?;

    step("3. Ping-pong: two actors running the same script send each other a ball")?;
    for id in ["ping", "pong"] {
        shell(&format!("eos spawn-script --id {id} ping_pong.rn"))?;
        spawn::spawn_script(
            root,
            out,
            &script("ping_pong.rn"),
            Vec::new(),
            Some(id.into()),
            None,
        )?;
    }
    let serve = r#"{"serve_to": "pong", "rounds": 3}"#;
    shell(&format!("eos send ping '{serve}'"))?;
    messages::send(root, out, "ping", Some(serve.into()), None, None, None)?;
    let ping = wait_state(root, "ping", |s| s["won"] == true)?;
    let pong = wait_state(root, "pong", |s| s["hits"].as_u64().is_some())?;
    out.say(format!(
        "ping hit the ball {} times, pong {} times; ping won the rally",
        ping["hits"], pong["hits"]
    ))?;

    step("4. Order matters: two withdrawals against one balance of 100")?;
    shell("eos spawn-script bank.rn")?;
    spawn::spawn_script(root, out, &script("bank.rn"), Vec::new(), None, None)?;
    let alice = r#"{"withdraw": 70, "who": "alice"}"#;
    let bob = r#"{"withdraw": 50, "who": "bob"}"#;
    let mut outcomes = Vec::new();
    for (first, second) in [(alice, bob), (bob, alice)] {
        // Reset the account by hand, as a person would: null makes init run again.
        fsio::write_atomic(
            &root
                .actor(&ActorId::parse("bank").map_err(anyhow::Error::msg)?)
                .state_file(),
            b"null\n",
        )?;
        for message in [first, second] {
            shell(&format!("eos send bank '{message}'"))?;
            messages::send(root, &quiet, "bank", Some(message.into()), None, None, None)?;
        }
        let state = wait_state(root, "bank", |s| {
            s["paid"].as_array().map_or(0, Vec::len) + s["refused"].as_array().map_or(0, Vec::len)
                == 2
        })?;
        out.say(format!(
            "balance {}, paid {}, refused {}",
            state["balance"], state["paid"], state["refused"]
        ))?;
        outcomes.push(state);
    }
    if outcomes[0] == outcomes[1] {
        bail!("the two orders gave the same outcome: {outcomes:?}");
    }
    out.say("The same two messages, in the other order, give another outcome.")?;

    step("5. A failing message becomes a dead letter; the actor goes on")?;
    shell("eos spawn-script fragile.rn")?;
    spawn::spawn_script(root, out, &script("fragile.rn"), Vec::new(), None, None)?;
    let bad = r#"{"divide": 10, "by": 0}"#;
    shell(&format!("eos send fragile '{bad}'"))?;
    messages::send(root, out, "fragile", Some(bad.into()), None, None, None)?;
    let reason = wait_reason(&root.dead_dir())?;
    shell("cat $EOS_ROOT/dead/*.reason")?;
    out.say(reason.lines().take(6).collect::<Vec<_>>().join("\n"))?;
    let good = r#"{"divide": 10, "by": 2}"#;
    shell(&format!("eos send fragile '{good}'"))?;
    messages::send(root, out, "fragile", Some(good.into()), None, None, None)?;
    let state = wait_state(root, "fragile", |s| s["result"] == 5)?;
    out.say(format!("state.json: {state}"))?;

    step("6. Everything at a glance")?;
    shell("eos list")?;
    super::actors::list(root, out)?;
    shell("eos shutdown")?;
    system::stop(root, out, system::StopMode::Clean)?;
    Ok(())
}

/// Waits until the actor's state satisfies `done`, and returns it.
fn wait_state(root: &Root, id: &str, done: impl Fn(&Value) -> bool) -> Result<Value> {
    poll::state(root, id, WAIT, done)
}

/// Waits for the first dead letter's reason in `dir`.
fn wait_reason(dir: &Path) -> Result<String> {
    poll::until(WAIT, || {
        let names = fsio::names(dir).ok()?;
        let name = names.iter().find(|n| layout::explained_by(n).is_some())?;
        std::fs::read_to_string(dir.join(name)).ok()
    })
    .ok_or_else(|| anyhow!("timed out waiting for the dead letter"))
}
