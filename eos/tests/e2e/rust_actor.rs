//! An actor written in Rust on the SDK (the `tally` example): state, sends with sender and
//! cause, and failures that lose nothing.

use std::fs;

use serde_json::json;

use crate::support::*;

#[test]
fn the_sdk_actor_keeps_state_and_sends_with_sender_and_cause() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("t", &tally(), &[]);
    sys.spawn("h", &counter_sh(), &["hold"]);
    sys.send("t", "m1", r#"{"hello": 1}"#);
    sys.send("t", "m2", r#"{"forward_to": "h", "x": 2}"#);
    wait_until("t handled both", || sys.state("t")["count"] == 2);
    assert_eq!(sys.state("t")["seen"], json!(["m1", "m2"]));
    wait_until("h got the forwarded message", || {
        sys.handled("h").len() == 1
    });
    let got = read_json(&sys.actor_dir("h").join("spool/current"));
    assert_eq!(got["sender"], "t");
    assert_eq!(got["cause"], "m2");
    assert_eq!(got["payload"], json!({"forward_to": "h", "x": 2}));
}

#[test]
fn a_failing_handler_sets_the_message_aside_and_goes_on() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("t", &tally(), &[]);
    sys.send("t", "ok1", "{}");
    wait_until("ok1 handled", || sys.state("t")["count"] == 1);
    sys.send("t", "boom", r#"{"fail": "on purpose", "forward_to": "t"}"#);
    let reason = sys.wait_dead("dead", "t::boom.json");
    assert!(reason.contains("asked to fail: \"on purpose\""), "{reason}");
    assert_eq!(sys.state("t")["seen"], json!(["ok1"]), "state unchanged");
    sys.send("t", "ok2", "{}");
    wait_until("the next message is handled", || {
        sys.state("t")["count"] == 2
    });
    assert_eq!(
        sys.state("t")["seen"],
        json!(["ok1", "ok2"]),
        "a failed handler sends nothing"
    );
}

#[test]
fn a_state_file_broken_by_hand_costs_no_message() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("t", &tally(), &[]);
    let state = sys.actor_dir("t").join("state.json");
    fs::write(&state, "{ not json").unwrap();
    sys.send("t", "m1", "{}");
    let reason = sys.wait_dead("dead", "t::m1.json");
    assert!(reason.contains("state.json is not valid JSON"), "{reason}");
    fs::write(&state, r#"{"count": 10, "seen": [], "last": null}"#).unwrap();
    fs::rename(sys.path("dead/t::m1.json"), sys.path("send/t::m1.json")).unwrap();
    wait_until("m1 is handled after the fix", || {
        sys.state("t")["count"] == 11
    });
}

#[test]
fn a_rust_actor_spawns_a_child_it_supervises_and_monitors_another() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("t", &tally(), &[]);
    sys.spawn("other", &counter_sh(), &[]);
    sys.send("t", "s", r#"{"spawn": "kid"}"#);
    sys.wait_running("kid");
    assert_eq!(
        read_json(&sys.actor_dir("kid").join("spawn.json"))["parent"],
        "t"
    );
    sys.send("t", "m", r#"{"monitor": "other"}"#);
    wait_until("the monitor is a file", || {
        sys.actor_dir("t").join("monitors/other").exists()
    });
    ok(&sys.eos(&["kill", "other", "--signal", "KILL"]));
    wait_until("t was told", || sys.state("t")["last"]["eos"] == "down");
    assert_eq!(sys.state("t")["last"]["actor"], "other");
    // Its child is permanent: killed, it comes back, and the parent is told.
    ok(&sys.eos(&["kill", "kid", "--signal", "KILL"]));
    wait_until("kid runs again", || {
        sys.status("kid")["starts"] == 2 && sys.status("kid")["status"] == "running"
    });
    wait_until("t was told about kid", || {
        sys.state("t")["last"]["actor"] == "kid"
    });
    assert_eq!(sys.state("t")["last"]["via"], "child");
}

#[test]
fn a_rust_actor_keeps_values_in_its_storage_as_files() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("t", &tally(), &[]);
    sys.send("t", "r1", r#"{"remember": "visits"}"#);
    sys.send("t", "r2", r#"{"remember": "visits"}"#);
    wait_until("both handled", || sys.state("t")["count"] == 2);
    let kept = read_json(&sys.actor_dir("t").join("store/visits.json"));
    assert_eq!(kept, 2);
    // A person edits it like state.json; the actor reads what is there.
    fs::write(sys.actor_dir("t").join("store/visits.json"), "40\n").unwrap();
    sys.send("t", "r3", r#"{"remember": "visits"}"#);
    wait_until("r3 handled", || sys.state("t")["count"] == 3);
    assert_eq!(read_json(&sys.actor_dir("t").join("store/visits.json")), 41);
    // A key that could leave the folder is refused, and the message says why.
    sys.send("t", "bad", r#"{"remember": "../escape"}"#);
    let reason = sys.wait_dead("dead", "t::bad.json");
    assert!(reason.contains("storage key"), "{reason}");
    assert!(!sys.actor_dir("t").join("escape.json").exists());
}
