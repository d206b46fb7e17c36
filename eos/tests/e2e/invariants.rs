//! Invariants: checked after every delivery; a violation pauses the system, is journaled and
//! kept in violations/ with the states and the messages that led there.

use std::fs;

use crate::support::*;

const TOTAL: &str = r#"
// The counts of all actors together stay at most 3.
pub fn check(states) {
    let total = 0;
    for (id, state) in states {
        match state { #{count, ..} => { total += count; }, _ => {} }
    }
    if total <= 3 { true } else { `the counts add up to ${total}` }
}
"#;

#[test]
fn a_violation_pauses_the_system_and_leaves_its_states_and_chain() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("a", &counter_sh(), &[]);
    sys.spawn("b", &counter_sh(), &[]);
    fs::write(sys.path("invariants/total.rn"), TOTAL).unwrap();
    // A broken one and a looping one are reported, and change nothing.
    fs::write(
        sys.path("invariants/broken.rn"),
        "pub fn check(s) { let = ; }",
    )
    .unwrap();
    fs::write(
        sys.path("invariants/spin.rn"),
        "pub fn check(s) { loop {} }",
    )
    .unwrap();
    wait_until("the broken one gets a reason", || {
        sys.path("invariants/broken.rn.reason").exists()
    });
    for (to, id) in [("a", "m1"), ("b", "m2"), ("a", "m3")] {
        sys.send(to, id, "{}");
    }
    wait_until("three are handled", || {
        sys.handled("a").len() + sys.handled("b").len() == 3
    });
    assert!(!sys.path("paused").exists(), "3 is allowed");
    let check = sys.eos(&["invariants", "check"]);
    assert_eq!(check.status.code(), Some(1), "broken and spin do not hold");
    assert!(
        text(&check).0.contains("holds    total"),
        "{}",
        text(&check).0
    );

    sys.send("b", "m4", "{}");
    wait_until("the violation pauses everything", || {
        sys.path("paused").exists()
    });
    let paused = fs::read_to_string(sys.path("paused")).unwrap();
    assert!(
        paused.contains("total") && paused.contains("add up to 4"),
        "{paused}"
    );
    let record = read_json(&sys.path("violations/1.json"));
    assert_eq!(record["invariant"], "total");
    assert_eq!(record["after"], "m4");
    assert_eq!(record["states"]["b"]["count"], 2);
    assert!(
        record["chain"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "m4")
    );
    // Nothing more is delivered while paused.
    sys.send("a", "m5", "{}");
    let log = ok(&sys.eos(&["log"]));
    assert!(log.contains("VIOLATED") && log.contains("total"), "{log}");
    assert!(
        log.contains("could not be checked") && log.contains("spin"),
        "{log}"
    );
    let check = sys.eos(&["invariants", "check"]);
    assert!(
        text(&check).0.contains("VIOLATED total"),
        "{}",
        text(&check).0
    );
    let drawn = ok(&sys.eos(&["trace", "--violation", "1"]));
    assert!(drawn.contains("->>") && !drawn.contains("m5"), "{drawn}");
    assert_eq!(sys.handled("a").len(), 2, "m5 waits");
}

/// The playground's two-phase commit: three participants, a coordinator, the atomicity
/// invariant.
fn two_phase_commit(sys: &System) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../playground/2pc");
    for p in ["p1", "p2", "p3"] {
        sys.spawn_script(p, &dir.join("participant.rn"), &[]);
    }
    sys.spawn_script("coord", &dir.join("coordinator.rn"), &[]);
    fs::copy(
        dir.join("invariants/atomicity.rn"),
        sys.path("invariants/atomicity.rn"),
    )
    .unwrap();
}

#[test]
fn the_two_phase_commit_playground_breaks_atomicity_when_a_vote_is_lost() {
    let mut sys = System::new();
    sys.start();
    two_phase_commit(&sys);
    // One transaction goes through.
    ok(&sys.eos(&[
        "send",
        "coord",
        r#"{"begin": "t1", "participants": ["p1", "p2", "p3"]}"#,
    ]));
    ok(&sys.eos(&["wait", "state", "p3", "outcome == commit"]));
    // p2's next vote is lost: the coordinator's timer fires, and its bug shows.
    ok(&sys.eos(&[
        "fault", "add", "drop", "--from", "p2", "--to", "coord", "--count", "1",
    ]));
    ok(&sys.eos(&[
        "send",
        "coord",
        r#"{"begin": "t2", "participants": ["p1", "p2", "p3"]}"#,
    ]));
    wait_until("the violation pauses everything", || {
        sys.path("violations/1.json").exists()
    });
    let record = read_json(&sys.path("violations/1.json"));
    assert_eq!(record["invariant"], "atomicity");
    assert!(
        record["what"].as_str().unwrap().contains("aborted"),
        "{record}"
    );
    let trace = ok(&sys.eos(&["trace", "--violation", "1"]));
    assert!(
        trace.contains("timeout"),
        "the timer is in the chain: {trace}"
    );
}

#[test]
fn seeded_chaos_on_the_two_phase_commit_finds_the_bug() {
    let mut sys = System::new();
    // Virtual time: the coordinator's timeouts pass at once.
    sys.start_with(&["--virtual-time"]);
    two_phase_commit(&sys);
    ok(&sys.eos(&["chaos", "--seed", "3", "--drop", "0.3"]));
    for n in 0..30 {
        if sys.path("violations/1.json").exists() {
            break;
        }
        let begin = format!(r#"{{"begin": "t{n}", "participants": ["p1", "p2", "p3"]}}"#);
        ok(&sys.eos(&["send", "coord", &begin]));
        wait_until("the transaction is over, or the system paused", || {
            sys.path("paused").exists()
                || sys
                    .eos(&["wait", "idle", "--timeout", "0s"])
                    .status
                    .success()
        });
    }
    let record = read_json(&sys.path("violations/1.json"));
    assert_eq!(record["invariant"], "atomicity", "{record}");
}
