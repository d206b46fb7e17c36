//! Fault rules as files: drop, delay, duplicate, partition (one-way too), crash; read live,
//! reasons for bad rules, the same faults for the same seed and messages.

use std::collections::BTreeSet;
use std::fs;

use serde_json::Value;

use crate::support::*;

fn faults(sys: &System) -> Vec<Value> {
    fs::read_to_string(sys.path("journal.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "fault")
        .collect()
}

#[test]
fn drop_delay_and_duplicate_rules_apply_to_matching_messages_live() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("b", &counter_sh(), &[]);
    ok(&sys.eos(&[
        "fault",
        "add",
        "drop",
        "--to",
        "b",
        "--payload",
        r#"{"lose": true}"#,
    ]));
    sys.send("b", "lost", r#"{"lose": true, "n": 1}"#);
    sys.send("b", "kept", r#"{"lose": false}"#);
    let reason = sys.wait_dead("dead", "b::lost.json");
    assert!(reason.contains("fault rule `drop-1`"), "{reason}");
    wait_until("kept is handled", || {
        sys.handled("b").contains(&"kept".to_owned())
    });
    let listed = ok(&sys.eos(&["fault", "list"]));
    assert!(
        listed.contains("drop-1") && listed.contains("drop"),
        "{listed}"
    );
    ok(&sys.eos(&["fault", "rm", "drop-1"]));
    // Removed: the next one goes through.
    sys.send("b", "again", r#"{"lose": true}"#);
    wait_until("again is handled", || {
        sys.handled("b").contains(&"again".to_owned())
    });

    ok(&sys.eos(&[
        "fault",
        "add",
        "duplicate",
        "--to",
        "b",
        "--copies",
        "2",
        "--name",
        "twice",
    ]));
    sys.send("b", "dup", r#"{"d": 1}"#);
    wait_until("the original and two copies", || {
        sys.handled("b").len() == 5
    });
    ok(&sys.eos(&["fault", "rm", "--all"]));

    ok(&sys.eos(&[
        "fault", "add", "delay", "--to", "b", "--ms", "300", "--name", "slow",
    ]));
    sys.send("b", "late", "{}");
    wait_until("late is handled", || {
        sys.handled("b").contains(&"late".to_owned())
    });
    let entries: Vec<Value> = fs::read_to_string(sys.path("journal.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let at = |event: &str| {
        entries
            .iter()
            .find(|e| e["event"] == event && e["message"] == "late")
            .map(|e| e["us"].as_u64().unwrap())
            .unwrap()
    };
    assert!(
        at("deliver") >= at("send") + 300_000,
        "held at least its delay"
    );
    let kinds: Vec<String> = faults(&sys)
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["kind"].as_str().unwrap(),
                f["rule"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(kinds, ["drop drop-1", "duplicate twice", "delay slow"]);
}

#[test]
fn partitions_cut_between_groups_one_way_too_and_heal() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("p1", &counter_sh(), &[]);
    sys.spawn("p2", &counter_sh(), &[]);
    ok(&sys.eos(&["partition", "p1", "/", "p2"]));
    // p1 answers p2; the answer does not get across.
    sys.send("p1", "ask1", r#"{"reply_to": "p2"}"#);
    let reason = sys.wait_dead_matching("dead", "p2::");
    assert!(reason.contains("partition"), "{reason}");
    ok(&sys.eos(&["heal"]));
    sys.send("p1", "ask2", r#"{"reply_to": "p2"}"#);
    wait_until("the reply arrives once healed", || {
        sys.handled("p2").len() == 1
    });

    ok(&sys.eos(&["partition", "--one-way", "p1,", "/", "p2"]));
    sys.send("p2", "ask3", r#"{"reply_to": "p1"}"#);
    wait_until("p2 can still reach p1", || sys.handled("p1").len() == 3);
    let before = sys.ls("dead").len();
    sys.send("p1", "ask4", r#"{"reply_to": "p2"}"#);
    wait_until("p1 cannot reach p2", || sys.ls("dead").len() > before);
    assert_eq!(sys.handled("p2").len(), 2, "ask3 only");
}

#[test]
fn crash_faults_kill_the_receiver_and_bad_rules_say_why() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("k", &counter_sh(), &[]);
    ok(&sys.eos(&["fault", "add", "crash", "--to", "k", "--after", "2"]));
    sys.send("k", "one", "{}");
    wait_until("one handled", || sys.handled("k").len() == 1);
    assert_eq!(sys.status("k")["status"], "running");
    sys.send("k", "two", "{}");
    wait_until("k was killed at its second", || {
        sys.status("k")["signal"] == "SIGKILL"
    });
    assert!(
        faults(&sys)
            .iter()
            .any(|f| f["kind"] == "crash" && f["actor"] == "k")
    );

    fs::write(sys.path("faults/broken.json"), r#"{"kind": "explode"}"#).unwrap();
    wait_until("the bad rule gets a reason", || {
        sys.path("faults/broken.json.reason").exists()
    });
    let why = fs::read_to_string(sys.path("faults/broken.json.reason")).unwrap();
    assert!(why.contains("explode"), "{why}");
    let listed = ok(&sys.eos(&["fault", "list"]));
    assert!(listed.contains("not applied"), "{listed}");
    let bad = fails(&sys.eos(&["fault", "add", "delay", "--to", "k"]));
    assert!(bad.contains("ms"), "{bad}");
}

/// The messages a seeded rule drops, out of the same 30.
fn dropped_with_seed(seed: &str) -> BTreeSet<String> {
    let mut sys = System::new();
    sys.start();
    sys.spawn("r", &counter_sh(), &[]);
    ok(&sys.eos(&[
        "fault",
        "add",
        "drop",
        "--probability",
        "0.5",
        "--seed",
        seed,
    ]));
    for n in 0..30 {
        sys.send("r", &format!("m{n:02}"), "{}");
    }
    wait_until("all 30 are handled or dropped", || {
        sys.handled("r").len() + faults(&sys).len() == 30
    });
    faults(&sys)
        .iter()
        .map(|f| f["message"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_same_seed_and_messages_give_the_same_faults() {
    let first = dropped_with_seed("42");
    assert!(!first.is_empty() && first.len() < 30, "{first:?}");
    assert_eq!(first, dropped_with_seed("42"));
    assert_ne!(first, dropped_with_seed("43"));
}

/// The faults chaos made, as (kind, message), out of the same 30 messages.
fn chaos_run(seed: &str) -> BTreeSet<(String, String)> {
    let mut sys = System::new();
    sys.start();
    sys.spawn("r", &counter_sh(), &[]);
    ok(&sys.eos(&[
        "chaos",
        "--seed",
        seed,
        "--drop",
        "0.2",
        "--duplicate",
        "0.2",
        "--delay",
        "0.2",
        "--delay-ms",
        "10..40",
    ]));
    for n in 0..30 {
        sys.send("r", &format!("c{n:02}"), "{}");
    }
    ok(&sys.eos(&["wait", "idle", "--timeout", "30s"]));
    faults(&sys)
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_owned(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .filter(|(_, m)| m.starts_with('c'))
        .collect()
}

#[test]
fn seeded_chaos_gives_the_same_faults_for_the_same_messages() {
    let first = chaos_run("5");
    let kinds: BTreeSet<&str> = first.iter().map(|(k, _)| k.as_str()).collect();
    assert!(kinds.len() >= 2, "several kinds: {first:?}");
    assert_eq!(first, chaos_run("5"));
    assert_ne!(first, chaos_run("6"));
}

#[test]
fn a_reordered_message_is_overtaken_by_a_later_one() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("o", &counter_sh(), &[]);
    ok(&sys.eos(&[
        "fault",
        "add",
        "reorder",
        "--to",
        "o",
        "--payload",
        r#"{"first": true}"#,
        "--ms",
        "1500",
    ]));
    sys.send("o", "one", r#"{"first": true}"#);
    sys.send("o", "two", r#"{"first": false}"#);
    wait_until("both handled", || sys.handled("o").len() == 2);
    assert_eq!(sys.handled("o"), ["two", "one"]);
    assert!(
        faults(&sys)
            .iter()
            .any(|f| f["kind"] == "reorder" && f["message"] == "one")
    );
}
