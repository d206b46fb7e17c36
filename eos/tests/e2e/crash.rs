//! A supervisor killed with SIGKILL at any moment: no actor outlives it, and a new one on the
//! same root brings everything back; every accepted message is handled at least once.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use serde_json::Value;

use crate::support::*;

#[test]
fn kill9_in_the_middle_of_a_stream_loses_nothing() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("rust", &tally(), &[]);
    sys.spawn("shell", &counter_sh(), &[]);
    let old_pids: Vec<u32> = ["rust", "shell"]
        .iter()
        .map(|id| sys.status(id)["pid"].as_u64().unwrap() as u32)
        .collect();

    // A reader that checks, the whole time, that state.json is always there and valid JSON.
    let stop = Arc::new(AtomicBool::new(false));
    let state_file = sys.actor_dir("rust").join("state.json");
    let checker = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let bytes = std::fs::read(&state_file).expect("state.json always exists");
                serde_json::from_slice::<Value>(&bytes).expect("state.json is always valid JSON");
                reads += 1;
            }
            reads
        })
    };

    let ids: Vec<String> = (0..400).map(|i| format!("k{i:03}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let to = if i % 2 == 0 { "rust" } else { "shell" };
        sys.send(to, id, &format!("{{\"n\": {i}}}"));
        if i == 150 {
            sys.kill9();
            for pid in &old_pids {
                wait_until("the actors die with their supervisor", || !alive(*pid));
            }
        }
    }
    sys.start();

    let seen = |sys: &System| -> BTreeSet<String> {
        let mut seen: BTreeSet<String> = sys.state("rust")["seen"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| Some(v.as_str()?.to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        seen.extend(sys.handled("shell"));
        seen
    };
    let all: BTreeSet<String> = ids.iter().cloned().collect();
    let deadline = std::time::Instant::now() + DEADLINE;
    while seen(&sys) != all {
        if std::time::Instant::now() > deadline {
            let now_seen = seen(&sys);
            let missing: Vec<&String> = all.difference(&now_seen).collect();
            let journal = std::fs::read_to_string(sys.path("journal.jsonl")).unwrap_or_default();
            let about: Vec<&str> = journal
                .lines()
                .filter(|l| missing.iter().any(|m| l.contains(m.as_str())))
                .collect();
            let handled = std::fs::read_to_string(sys.actor_dir("shell").join("handled.log"))
                .unwrap_or_default();
            panic!(
                "not handled: {missing:?}\njournal:\n{}\nshell's handled.log:\n{handled:?}",
                about.join("\n")
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    assert!(checker.join().expect("checker") > 0);
    assert_eq!(sys.status("rust")["starts"], 2);
}

#[test]
fn the_interrupted_current_is_delivered_again_and_marked() {
    let mut sys = System::new();
    sys.start();
    // "hold": the actor records the message but never finishes it.
    sys.spawn("h", &counter_sh(), &["hold"]);
    sys.send("h", "m1", "{}");
    wait_until("h got m1", || sys.handled("h") == ["m1"]);
    sys.kill9();
    sys.start();
    wait_until("h got m1 again", || sys.handled("h") == ["m1", "m1"]);
    let current = read_json(&sys.actor_dir("h").join("spool/current"));
    assert_eq!(current["redelivered"], Value::Bool(true));
    assert_eq!(current["id"], "m1");
}

#[test]
fn a_restart_clears_temp_files_left_by_a_killed_writer() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("c", &counter_sh(), &[]);
    let spool = sys.actor_dir("c").join("spool");
    std::fs::write(
        spool.join(".000000000007-x.json.4242.0badcafe.tmp"),
        "{\"id\": ",
    )
    .unwrap();
    std::fs::write(spool.join(".notes.swp"), "an editor's").unwrap();
    sys.kill9();
    sys.start();
    sys.wait_running("c");
    assert_eq!(sys.ls_all("running/c/spool"), [".notes.swp"]);
}
