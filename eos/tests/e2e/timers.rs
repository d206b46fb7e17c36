//! Timers: a message that waits, visible in the spool with its due time, until it is due;
//! `eos deliver` fires it early; from Rune (`send_after`), the SDK and as a file field.

use serde_json::Value;

use crate::support::*;

const TIMER: &str = r#"
pub fn init() { #{ ticks: 0 } }
pub fn handle(state, msg) {
    if msg.payload.get("start") == Some(true) {
        send_after(id(), #{ tick: 1 }, 400);
    } else {
        state.ticks += 1;
    }
    state
}
"#;

fn journal_at(sys: &System, event: &str, pick: impl Fn(&Value) -> bool) -> Option<u64> {
    std::fs::read_to_string(sys.path("journal.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["event"] == event && pick(e))
        .and_then(|e| e["us"].as_u64())
}

#[test]
fn a_timer_waits_visibly_until_due_and_can_be_fired_early() {
    let mut sys = System::new();
    sys.start();
    let script = sys.script("timer.rn", TIMER);
    sys.spawn_script("t", &script, &[]);
    sys.send("t", "go", r#"{"start": true}"#);
    // The file in the spool says when it is due. (Not `current`: the timer being handled.)
    let timer = || {
        sys.ls("running/t/spool")
            .iter()
            .filter(|f| *f != "current")
            .map(|f| read_json(&sys.path(&format!("running/t/spool/{f}"))))
            .find(|m| m["due"].as_u64().is_some())
    };
    wait_until("the timer waits in the spool", || timer().is_some());
    let due_ms = timer().unwrap()["due"].as_u64().unwrap();
    let pending = ok(&sys.eos(&["pending"]));
    assert!(pending.contains("timer, due in"), "{pending}");
    wait_until("it fires", || sys.state("t")["ticks"] == 1);
    let sent = journal_at(&sys, "send", |e| e["payload"]["tick"] == 1).unwrap();
    let fired = journal_at(&sys, "deliver", |e| e["payload"]["tick"] == 1).unwrap();
    assert!(fired >= due_ms * 1000, "not before it is due");
    assert!(
        due_ms * 1000 + 1_000_000 > sent + 400_000,
        "due about 400 ms after it was sent"
    );

    // Any language: `delay_ms` (or `due`) in the file. Fired early by hand.
    sys.send(
        "t",
        "later",
        r#"{"sender": null, "payload": {"tick": 2}, "delay_ms": 600000}"#,
    );
    wait_until("it waits", || timer().is_some());
    // The previous message may still be `current` (its state written, its file not yet
    // removed): look the timer up by id, not by position.
    let pending = json_of(&sys.eos(&["--json", "pending"]));
    let later = pending
        .as_array()
        .and_then(|all| all.iter().find(|w| w["id"] == "later"))
        .unwrap_or_else(|| panic!("later is pending: {pending}"));
    assert!(
        later["due_in_ms"].as_i64().is_some_and(|ms| ms > 500_000),
        "{pending}"
    );
    ok(&sys.eos(&["deliver", "later"]));
    wait_until("fired early", || sys.state("t")["ticks"] == 2);
}

#[test]
fn a_timer_still_waits_after_the_supervisor_is_killed_and_started_again() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("c", &counter_sh(), &[]);
    sys.send(
        "c",
        "timer",
        r#"{"sender": null, "payload": {}, "delay_ms": 600000}"#,
    );
    wait_until("it waits in the spool", || {
        sys.ls("running/c/spool").len() == 1
    });
    sys.kill9();
    sys.start();
    sys.wait_running("c");
    // Had the timer not been held again, it would go first: it is first in the spool.
    sys.send("c", "now", "{}");
    wait_until("the later message is handled", || {
        sys.handled("c").contains(&"now".to_owned())
    });
    assert!(!sys.handled("c").contains(&"timer".to_owned()));
    wait_until("only the timer waits", || {
        sys.ls("running/c/spool") == ["000000000000-timer.json"]
    });
}

const ORDER: &str = r#"
pub fn init() { #{ seen: [] } }
pub fn handle(state, msg) {
    if msg.payload.get("start") == Some(true) {
        send_after(id(), #{ t: "in ten minutes" }, 600000);
        send_after(id(), #{ t: "in five minutes" }, 300000);
        send(id(), #{ t: "now" });
    } else {
        state.seen.push(msg.payload.t);
    }
    state
}
"#;

#[test]
fn in_virtual_time_timers_fire_when_nothing_else_can_be_delivered_earliest_first() {
    let mut sys = System::new();
    sys.start_with(&["--virtual-time"]);
    let script = sys.script("order.rn", ORDER);
    sys.spawn_script("o", &script, &[]);
    sys.send("o", "go", r#"{"start": true}"#);
    // Ten minutes of timers, at once: time moves on only when nothing else can be delivered.
    wait_until("all three arrived", || {
        sys.state("o")["seen"]
            .as_array()
            .is_some_and(|s| s.len() == 3)
    });
    assert_eq!(
        sys.state("o")["seen"],
        serde_json::json!(["now", "in five minutes", "in ten minutes"])
    );
    let log = ok(&sys.eos(&["log"]));
    assert_eq!(log.matches("virtual time moves on").count(), 2, "{log}");
}
