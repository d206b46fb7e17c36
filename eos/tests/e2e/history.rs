//! The history: the journal is the complete and truthful record of what happened. Every entry
//! is numbered; changes made by hand are recorded; deliveries carry the payload delivered;
//! `eos pending` lists exactly the order `eos step` delivers in; `--record` keeps everything
//! and delivers nothing it cannot record.

use std::fs;

use serde_json::{Value, json};

use crate::support::*;

/// The journal entries whose `event` is `kind`.
fn events(sys: &System, kind: &str) -> Vec<Value> {
    journal(sys)
        .into_iter()
        .filter(|e| e["event"] == kind)
        .collect()
}

fn wait_event(sys: &System, kind: &str, matches: impl Fn(&Value) -> bool) -> Value {
    let mut found = None;
    wait_until(&format!("a `{kind}` entry in the journal"), || {
        found = events(sys, kind).into_iter().find(|e| matches(e));
        found.is_some()
    });
    found.unwrap_or_default()
}

fn count(sys: &System, id: &str) -> u64 {
    sys.state(id)["count"].as_u64().unwrap_or(0)
}

#[test]
fn step_delivers_in_exactly_the_order_pending_lists() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    println!("seed {seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut sys = System::new();
    sys.start();
    let actors = ["a", "b", "c"];
    for a in actors {
        sys.spawn(a, &tally(), &[]);
    }
    ok(&sys.eos(&["pause"]));
    let total = 24;
    for n in 0..total {
        let to = actors[rng.usize(..actors.len())];
        sys.send(to, &format!("m{n:02}"), &format!(r#"{{"n": {n}}}"#));
    }
    // One put into a spool by hand, too: its name decides its place.
    let by_hand = actors[rng.usize(..actors.len())];
    sys.put(&format!("running/{by_hand}/spool/by-hand.json"), "{}");
    wait_until("everything is routed", || {
        let pending = json_of(&sys.eos(&["--json", "pending"]));
        pending.as_array().map_or(0, Vec::len) == total + 1
    });
    let listed: Vec<(String, String)> = json_of(&sys.eos(&["--json", "pending"]))
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            let id = w["id"].as_str().unwrap().to_owned();
            (w["actor"].as_str().unwrap().to_owned(), id)
        })
        .collect();
    let mut stepped = Vec::new();
    for _ in 0..=total {
        let d = json_of(&sys.eos(&["--json", "step"]));
        stepped.push((
            d["actor"].as_str().unwrap().to_owned(),
            d["message"].as_str().unwrap().to_owned(),
        ));
    }
    assert_eq!(stepped, listed, "seed {seed}");
    let err = fails(&sys.eos(&["step"]));
    assert!(err.contains("nothing to deliver"), "{err}");
}

#[test]
fn changes_by_hand_are_in_the_history_and_the_trace() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("t", &tally(), &[]);
    ok(&sys.eos(&["pause"]));
    for n in 1..=4 {
        sys.send("t", &format!("e{n}"), &format!(r#"{{"n": {n}}}"#));
    }
    wait_pending(&sys, "t", 4);
    // Edited in place: e1 asks for 10.
    let e1 = pending_file(&sys, "t", "e1");
    let mut envelope = read_json(&e1);
    envelope["payload"] = json!({"n": 10});
    fs::write(&e1, envelope.to_string()).unwrap();
    // Deleted, copied, renamed to the front, and one added as a plain payload.
    fs::remove_file(pending_file(&sys, "t", "e2")).unwrap();
    let e3 = pending_file(&sys, "t", "e3");
    fs::copy(&e3, e3.with_file_name("000000000050-again.json")).unwrap();
    let e4 = pending_file(&sys, "t", "e4");
    fs::rename(&e4, e4.with_file_name("0-e4.json")).unwrap();
    sys.put("running/t/spool/zz-new.json", r#"{"hello": true}"#);

    let edited = wait_event(&sys, "pending_edited", |e| e["message"] == "e1");
    assert_eq!(edited["before"], json!({"n": 1}));
    assert_eq!(edited["after"], json!({"n": 10}));
    wait_event(&sys, "pending_deleted", |e| e["message"] == "e2");
    let copy = wait_event(&sys, "pending_added", |e| e["copy_of"] == "e3");
    let copy_id = copy["message"].as_str().unwrap().to_owned();
    assert_ne!(copy_id, "e3", "a copy gets an id of its own");
    wait_event(&sys, "pending_added", |e| {
        e["payload"] == json!({"hello": true})
    });
    wait_event(&sys, "pending_moved", |e| {
        e["message"] == "e4" && e["to"] == "0-e4.json"
    });

    ok(&sys.eos(&["resume"]));
    wait_until("five are handled", || count(&sys, "t") == 5);
    let delivered: Vec<(String, Value)> = events(&sys, "deliver")
        .iter()
        .map(|e| {
            (
                e["message"].as_str().unwrap().to_owned(),
                e["payload"].clone(),
            )
        })
        .collect();
    let ids: Vec<&str> = delivered.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids[..4],
        ["e4", "e1", "e3", copy_id.as_str()],
        "{delivered:?}"
    );
    assert_eq!(delivered[1].1, json!({"n": 10}), "what was delivered");
    assert_eq!(sys.state("t")["seen"][3], json!(copy_id));
    // Every entry numbered, one after the other.
    let seqs: Vec<u64> = journal(&sys)
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");

    let trace = ok(&sys.eos(&["trace"]));
    assert!(trace.contains(r#"{"n":2} (dropped)"#), "{trace}");
    assert!(trace.contains(r#"->>p1: {"n":10}"#), "{trace}");
    assert!(trace.contains(r#"{"hello":true}"#), "{trace}");
    let log = ok(&sys.eos(&["log"]));
    for word in ["edited", "deleted", "added", "moved"] {
        assert!(log.contains(word), "{word} missing from:\n{log}");
    }
}

#[test]
fn a_state_written_by_hand_is_recorded_with_what_changed() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("t", &tally(), &[]);
    sys.send("t", "m1", "{}");
    // Done with it, as the supervisor sees it (while the actor handles a message, a write of
    // its state is taken to be the actor's).
    wait_event(&sys, "result", |e| e["message"] == "m1");
    let written = json!({"count": 41, "seen": [], "last": null});
    fs::write(sys.actor_dir("t").join("state.json"), written.to_string()).unwrap();
    let edit = wait_event(&sys, "state_edited", |e| e["actor"] == "t");
    assert_eq!(edit["after"], written);
    assert_eq!(edit["before"]["count"], 1);
    sys.send("t", "m2", "{}");
    wait_until("m2 is handled", || count(&sys, "t") == 42);
    assert_eq!(
        events(&sys, "state_edited").len(),
        1,
        "the actor's own writes are results"
    );
}

#[test]
fn every_dead_letter_is_recorded_once_even_one_made_while_no_supervisor_ran() {
    let mut sys = System::new();
    sys.start();
    sys.send("ghost", "g1", "{}");
    sys.wait_dead("dead", "ghost::g1.json");
    sys.kill9();
    // An actor set this aside while no supervisor was running.
    sys.put("dead/t::late.json", "{}");
    sys.put("dead/t::late.json.reason", "the handler failed: late\n");
    sys.start();
    let late = wait_event(&sys, "dead", |e| e["file"] == "t::late.json");
    assert_eq!(late["reason"], "the handler failed: late");
    assert_eq!(late["message"], "late");
    sys.send("ghost", "g2", "{}");
    sys.wait_dead("dead", "ghost::g2.json");
    wait_event(&sys, "dead", |e| e["message"] == "g2");
    let dead = events(&sys, "dead");
    for id in ["g1", "g2", "late"] {
        let n = dead.iter().filter(|e| e["message"] == id).count();
        assert_eq!(n, 1, "{id} recorded {n} times: {dead:?}");
    }
    assert!(
        dead[0]["reason"]
            .as_str()
            .unwrap()
            .contains("no actor `ghost`")
    );
}

#[test]
fn a_redelivery_after_a_crash_has_its_delivery_and_result() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("h", &counter_sh(), &["hold"]);
    sys.send("h", "r1", r#"{"x": 1}"#);
    wait_until("h holds r1", || sys.handled("h") == ["r1"]);
    sys.kill9();
    // A person fixes the actor before starting again: it now handles what it gets.
    let record = sys.actor_dir("h").join("spawn.json");
    let mut spawn = read_json(&record);
    spawn["args"] = json!([]);
    fs::write(&record, spawn.to_string()).unwrap();
    sys.start();
    wait_until("r1 is handled again", || sys.handled("h") == ["r1", "r1"]);
    let again = wait_event(&sys, "deliver", |e| e["redelivered"] == true);
    assert_eq!(again["message"], "r1");
    assert_eq!(again["payload"], json!({"x": 1}));
    let result = wait_event(&sys, "result", |e| e["message"] == "r1");
    assert_eq!(result["ok"], true);
    assert_eq!(result["state"], json!({"count": 2}));
}

#[test]
fn a_spawn_is_recorded_with_its_first_state_and_parent() {
    let mut sys = System::new();
    sys.start();
    let request = json!({
        "path": tally(),
        "id": "child",
        "state": {"count": 7, "seen": [], "last": null},
        "parent": "mother",
    });
    sys.put("spawn/child.json", &request.to_string());
    let spawn = wait_event(&sys, "spawn", |e| e["actor"] == "child");
    assert_eq!(spawn["state"]["count"], 7);
    assert_eq!(spawn["parent"], "mother");
    let log = ok(&sys.eos(&["log"]));
    assert!(log.contains("(by mother)"), "{log}");
}

#[test]
fn record_keeps_every_payload_whole_and_delivers_nothing_unrecorded() {
    let big = json!({"text": "x".repeat(100_000)});
    // Without --record a large payload is noted by its size.
    let mut sys = System::new();
    sys.start();
    sys.spawn("t", &tally(), &[]);
    sys.send("t", "big", &big.to_string());
    let deliver = wait_event(&sys, "deliver", |e| e["message"] == "big");
    assert!(deliver["payload"]["omitted"].is_string(), "{deliver}");
    sys.stop();

    let mut sys = System::new();
    fs::create_dir_all(sys.root.join("journal.1.jsonl/in-the-way")).unwrap();
    // Any entry as large as the payload takes the journal past its size: it must be rotated,
    // and cannot be.
    sys.start_with(&["--record", "--journal-max-bytes", "50000"]);
    sys.spawn("t", &tally(), &[]);
    sys.send("t", "m1", &big.to_string());
    // The journal cannot be rotated, so it cannot be written: nothing is delivered.
    wait_until("the supervisor says why it holds deliveries", || {
        sys.log()
            .contains("nothing is delivered until it can be written")
    });
    assert_eq!(count(&sys, "t"), 0);
    assert_eq!(sys.ls("running/t/spool").len(), 1, "m1 waits in the spool");
    fs::remove_dir_all(sys.root.join("journal.1.jsonl")).unwrap();
    wait_until("m1 is handled once the journal can be written", || {
        count(&sys, "t") == 1
    });
    let deliver = wait_event(&sys, "deliver", |e| e["message"] == "m1");
    assert_eq!(deliver["payload"], big, "kept whole");
}

#[test]
fn log_times_and_short_ids_work_in_every_command() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("t", &tally(), &[]);
    ok(&sys.eos(&["pause"]));
    let sent: Vec<String> = (0..2)
        .map(|n| {
            let out = json_of(&sys.eos(&["--json", "send", "t", &format!(r#"{{"n": {n}}}"#)]));
            out["id"].as_str().unwrap().to_owned()
        })
        .collect();
    wait_pending(&sys, "t", 2);
    let log = ok(&sys.eos(&["log"]));
    // The second message, by the short id the log shows.
    let line = log
        .lines()
        .find(|l| l.contains("send") && l.contains(r#"{"n":1}"#))
        .unwrap();
    let short = line
        .split_whitespace()
        .find(|w| w.len() == 8 && sent[1].ends_with(w))
        .unwrap_or_else(|| panic!("no short id of {} in {line}", sent[1]));
    let pause_time = log
        .lines()
        .find(|l| l.contains("pause"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let d = json_of(&sys.eos(&["--json", "deliver", short]));
    assert_eq!(d["message"], sent[1]);
    let chain = ok(&sys.eos(&["trace", "--chain", short]));
    assert!(
        chain.contains(r#"{"n":1}"#) && !chain.contains(r#"{"n":0}"#),
        "{chain}"
    );
    // The log's own times are accepted, and a message sent before a time but delivered after
    // it is in the window.
    let deliver_time = ok(&sys.eos(&["log"]))
        .lines()
        .find(|l| l.contains("deliver"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let window = ok(&sys.eos(&["trace", "--since", &deliver_time]));
    assert!(window.contains(r#"{"n":1}"#), "{window}");
    assert!(!window.contains(r#"{"n":0}"#), "{window}");
    let all = ok(&sys.eos(&["trace", "--since", &pause_time]));
    assert!(all.contains(r#"{"n":0}"#), "{all}");
}
