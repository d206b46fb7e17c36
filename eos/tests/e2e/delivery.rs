//! Delivery: one message at a time per actor, first in first out, in the order `ls` shows,
//! and never a SIGUSR1 before the actor can take it.

use std::fs;

use crate::support::*;

#[test]
fn messages_are_delivered_one_at_a_time_in_order() {
    let mut sys = System::without_tick();
    sys.start();
    sys.spawn("c", &counter_sh(), &[]);
    let ids: Vec<String> = (0..30).map(|i| format!("m{i:02}")).collect();
    for id in &ids {
        sys.send("c", id, &format!("{{\"n\": \"{id}\"}}"));
    }
    wait_until("all are handled", || {
        sys.state("c") == serde_json::json!({"count": 30})
    });
    assert_eq!(sys.handled("c"), ids);
}

/// Mail for a busy actor may wait in `send/` until its answer (then all of it is routed in
/// one turn): none of it is lost, reordered, or missing from the journal.
#[test]
fn a_burst_of_mail_for_a_busy_rust_actor_is_delivered_whole_in_order_and_recorded() {
    let mut sys = System::without_tick();
    sys.start();
    sys.spawn("t", &tally(), &[]);
    // A few turns first, so that the supervisor knows its pace (an fsync per turn on disk).
    for i in 0..5 {
        sys.send("t", &format!("w{i}"), "{}");
        wait_until("it is handled", || sys.state("t")["count"] == i + 1);
    }
    let ids: Vec<String> = (0..80).map(|i| format!("m{i:03}")).collect();
    for (n, id) in ids.iter().enumerate() {
        sys.send("t", id, &format!("{{\"n\": {n}}}"));
    }
    wait_until("all are handled", || sys.state("t")["count"] == 85);
    let seen: Vec<String> = sys.state("t")["seen"]
        .as_array()
        .unwrap()
        .iter()
        .skip(5)
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, ids);
    let entries = journal(&sys);
    let of = |event: &str| -> Vec<String> {
        entries
            .iter()
            .filter(|e| e["event"] == event && e["actor"] == "t")
            .filter_map(|e| e["message"].as_str())
            .filter(|m| m.starts_with('m'))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(of("deliver"), ids);
    assert_eq!(of("result"), ids);
}

#[test]
fn the_spool_lists_the_queue_and_a_rename_reorders_it() {
    let mut sys = System::new();
    sys.start();
    // The actor does not take SIGUSR1 until `go` exists: signalling it early would kill it.
    sys.spawn("w", &counter_sh(), &["wait-for-go"]);
    for id in ["a", "b", "c"] {
        sys.send("w", id, "{}");
    }
    wait_until("three messages wait in the spool", || {
        sys.ls("running/w/spool").len() == 3
    });
    let queue = sys.ls("running/w/spool");
    let ids: Vec<&str> = queue
        .iter()
        .map(|n| n.trim_end_matches(".json").rsplit('-').next().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b", "c"], "{queue:?}");
    // Move c to the front of the queue by renaming it.
    let spool = sys.actor_dir("w").join("spool");
    fs::rename(spool.join(&queue[2]), spool.join("0-c.json")).unwrap();
    let pid = sys.status("w")["pid"].as_u64().unwrap() as u32;
    assert!(alive(pid), "an early SIGUSR1 would have killed the actor");
    fs::write(sys.actor_dir("w").join("go"), "").unwrap();
    wait_until("all three are handled", || sys.handled("w").len() == 3);
    assert_eq!(sys.handled("w"), ["c", "a", "b"]);
    assert!(alive(pid));
}

#[test]
fn a_message_placed_in_a_spool_by_hand_is_delivered() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("c", &counter_sh(), &[]);
    let spool = sys.actor_dir("c").join("spool");
    fs::write(
        spool.join(".by-hand.tmp"),
        r#"{"id": "hand", "sender": null, "payload": 1}"#,
    )
    .unwrap();
    fs::rename(spool.join(".by-hand.tmp"), spool.join("by-hand.json")).unwrap();
    wait_until("it is handled", || sys.handled("c") == ["hand"]);
}

#[test]
fn slow_motion_spaces_the_deliveries() {
    let sys = System::new();
    // Started through `eos up`, which passes the option on.
    let up = sys.eos(&["up", "--slow-motion", "200ms"]);
    assert!(up.status.success(), "{}", text(&up).1);
    sys.spawn("c", &counter_sh(), &[]);
    for n in 0..4 {
        sys.send("c", &format!("m{n}"), "{}");
    }
    wait_until("all four are handled", || {
        sys.state("c") == serde_json::json!({"count": 4})
    });
    let delivered: Vec<u64> = fs::read_to_string(sys.path("journal.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "deliver")
        .map(|e| e["us"].as_u64().unwrap())
        .collect();
    assert_eq!(delivered.len(), 4);
    for pair in delivered.windows(2) {
        assert!(
            pair[1] - pair[0] >= 200_000,
            "deliveries {pair:?} closer than the slow motion"
        );
    }
    assert!(sys.eos(&["shutdown"]).status.success());
}
