//! Script actors in Rune: host functions, `init`, hot reload, and every way a script can fail,
//! none of which kills the actor or loses a message.

use std::fs;

use serde_json::json;

use crate::support::*;

const COUNTER: &str = r#"
pub fn init() { #{ count: 0 } }
pub fn handle(state, msg) {
    state.count += msg.payload.get("inc").unwrap_or(1);
    state
}
"#;

#[test]
fn init_gives_the_first_state_before_any_message() {
    let mut sys = System::new();
    sys.start();
    let script = sys.script("counter.rn", COUNTER);
    sys.spawn_script("c", &script, &[]);
    wait_until("init's state is written", || {
        sys.state("c") == json!({"count": 0})
    });
    sys.send("c", "m1", r#"{"inc": 5}"#);
    wait_until("the message is handled", || {
        sys.state("c") == json!({"count": 5})
    });
}

#[test]
fn host_functions_send_id_and_log() {
    let mut sys = System::new();
    sys.start();
    let script = sys.script(
        "host.rn",
        r#"
pub fn handle(state, msg) {
    log(`hello from ${id()}`);
    state.me = id();
    send("h", #{ echo: msg.payload, from_script: true });
    state
}
"#,
    );
    sys.spawn_script("s", &script, &[]);
    sys.spawn("h", &counter_sh(), &["hold"]);
    sys.send("s", "m1", r#"{"x": 1}"#);
    wait_until("h got the message sent by the script", || {
        sys.handled("h").len() == 1
    });
    let got = read_json(&sys.actor_dir("h").join("spool/current"));
    assert_eq!(got["sender"], "s");
    assert_eq!(got["cause"], "m1");
    assert_eq!(
        got["payload"],
        json!({"echo": {"x": 1}, "from_script": true})
    );
    assert_eq!(sys.state("s"), json!({"me": "s"}));
    let log = fs::read_to_string(sys.actor_dir("s").join("actor.log")).unwrap();
    assert!(log.contains("hello from s"), "{log}");
}

#[test]
fn a_script_in_the_original_eos_style_runs_unchanged() {
    let mut sys = System::new();
    sys.start();
    let script = sys.script(
        "original.rn",
        r#"
pub fn handle(state, msg) {
    state["last"] = msg["payload"];
    state["sender"] = msg["sender"];
    send("h", #{"echo": msg["payload"]});
    return state;
}
"#,
    );
    sys.spawn_script("o", &script, &[]);
    sys.spawn("h", &counter_sh(), &["hold"]);
    sys.send("o", "m1", r#"{"sender": "h", "payload": {"n": 1}}"#);
    wait_until("the reply arrives", || sys.handled("h").len() == 1);
    assert_eq!(sys.state("o"), json!({"last": {"n": 1}, "sender": "h"}));
    let reply = read_json(&sys.actor_dir("h").join("spool/current"));
    assert_eq!(reply["payload"], json!({"echo": {"n": 1}}));
}

#[test]
fn editing_the_script_takes_effect_at_the_next_message() {
    let mut sys = System::new();
    sys.start();
    let script = sys.script("counter.rn", COUNTER);
    sys.spawn_script("c", &script, &[]);
    sys.send("c", "m1", "{}");
    wait_until("first version counts 1", || {
        sys.state("c") == json!({"count": 1})
    });

    fs::write(&script, COUNTER.replace("unwrap_or(1)", "unwrap_or(10)")).unwrap();
    sys.send("c", "m2", "{}");
    wait_until("new version counts 10", || {
        sys.state("c") == json!({"count": 11})
    });

    // A version that does not compile: the last good one keeps running, the error is shown.
    fs::write(&script, "pub fn handle(state, msg) { let = ; }").unwrap();
    sys.send("c", "m3", "{}");
    wait_until("the old version still counts", || {
        sys.state("c") == json!({"count": 21})
    });
    let problem = fs::read_to_string(sys.actor_dir("c").join("problem.txt")).unwrap();
    assert!(
        problem.starts_with(&format!("{}:1:", script.display())),
        "{problem}"
    );

    fs::write(&script, COUNTER.replace("unwrap_or(1)", "unwrap_or(100)")).unwrap();
    sys.send("c", "m4", "{}");
    wait_until("the fixed version counts", || {
        sys.state("c") == json!({"count": 121})
    });
    assert!(!sys.actor_dir("c").join("problem.txt").exists());
}

#[test]
fn a_script_that_never_compiled_keeps_its_mailbox_until_fixed() {
    let mut sys = System::new();
    sys.start();
    let script = sys.script("broken.rn", "pub fn handle(state, msg) {\n  state +\n}\n");
    sys.spawn_script("b", &script, &[]);
    sys.send("b", "m1", "{}");
    sys.send("b", "m2", "{}");
    let problem = sys.actor_dir("b").join("problem.txt");
    wait_until("the problem is reported", || problem.exists());
    let text = fs::read_to_string(&problem).unwrap();
    assert!(
        text.starts_with(&format!("{}:", script.display())),
        "{text}"
    );
    let out = sys.eos(&["inspect", "b"]);
    assert!(text_of(&out).contains("problem"), "{}", text_of(&out));
    wait_until("m1 waits as current", || {
        sys.actor_dir("b").join("spool/current").exists()
    });
    assert!(
        sys.ls("dead").iter().all(|n| n == "spawn"),
        "nothing is lost"
    );

    fs::write(&script, COUNTER).unwrap();
    wait_until("both are handled once the script compiles", || {
        sys.state("b") == json!({"count": 2})
    });
    assert!(!problem.exists());
}

fn text_of(out: &std::process::Output) -> String {
    let (stdout, stderr) = text(out);
    stdout + &stderr
}

/// Each case: a handler body, the message, and words the dead letter's reason must contain.
/// After each, the actor is alive, its state unchanged, and it handles the next message.
#[test]
fn every_failure_is_a_dead_letter_and_the_actor_goes_on() {
    let mut sys = System::new();
    sys.start();
    let script = sys.script(
        "fragile.rn",
        r#"
pub fn init() { #{ ok: 0 } }
pub fn handle(state, msg) {
    let p = msg.payload;
    if p.get("boom").is_some() { let x = 1 / p.boom; }
    if p.get("nothing").is_some() { return; }
    if p.get("range").is_some() { return 0..10; }
    if p.get("loop").is_some() { loop {} }
    if p.get("grow").is_some() { let s = "x"; loop { s = s + s; } }
    if p.get("sleep").is_some() { sleep(60000); }
    if p.get("inf").is_some() { state.x = 1.0 / 0.0; return state; }
    state.ok += 1;
    state
}
"#,
    );
    sys.spawn_script(
        "f",
        &script,
        &[
            "--deadline",
            "500ms",
            "--budget",
            "1000000",
            "--memory",
            "4000000",
        ],
    );
    let pid = sys.status("f")["pid"].as_u64().unwrap() as u32;
    let cases = [
        ("boom", r#"{"boom": 0}"#, "Division by zero"),
        ("nothing", r#"{"nothing": 1}"#, "returned nothing"),
        (
            "range",
            r#"{"range": 1}"#,
            "returned a value JSON cannot hold",
        ),
        ("loop", r#"{"loop": 1}"#, "instruction budget"),
        ("grow", r#"{"grow": 1}"#, "memory"),
        ("sleep", r#"{"sleep": 1}"#, "deadline"),
        ("inf", r#"{"inf": 1}"#, "inf is not a number JSON can hold"),
        (
            "big",
            r#"{"n": 18446744073709551616}"#,
            "does not fit in 64 bits",
        ),
        (
            "precise",
            r#"{"n": 0.1000000000000000000001}"#,
            "cannot be represented exactly",
        ),
    ];
    for (n, (name, body, why)) in cases.iter().enumerate() {
        sys.send("f", name, body);
        let reason = sys.wait_dead("dead", &format!("f::{name}.json"));
        assert!(reason.contains(why), "{name}: {reason}");
        assert_eq!(sys.state("f"), json!({"ok": n}), "{name}: state unchanged");
        let ok = format!("ok{n}");
        sys.send("f", &ok, "{}");
        wait_until(&format!("the message after {name} is handled"), || {
            sys.state("f") == json!({"ok": n + 1})
        });
        assert!(alive(pid), "{name} killed the actor");
    }
    let last = fs::read_to_string(sys.actor_dir("f").join("last_error.txt")).unwrap();
    assert!(last.contains("inf is not a number JSON can hold"), "{last}");
}

#[test]
fn a_script_error_shows_as_soon_as_it_is_saved_and_an_empty_one_never_replaces_the_last() {
    let mut sys = System::new();
    sys.start();
    let script = sys.script("counter.rn", COUNTER);
    sys.spawn_script("c", &script, &[]);
    wait_until("init ran", || sys.state("c") == json!({"count": 0}));
    // Saved halfway, empty: no message needed for it to show.
    fs::write(&script, "").unwrap();
    let problem = sys.actor_dir("c").join("problem.txt");
    wait_until("the problem shows", || problem.exists());
    let text = fs::read_to_string(&problem).unwrap();
    assert!(text.contains("no `handle` function"), "{text}");
    assert!(text.contains("keeping the last version"), "{text}");
    let list = json_of(&sys.eos(&["--json", "list"]));
    assert!(
        list[0]["problem"].as_str().unwrap().contains("handle"),
        "{list}"
    );
    sys.send("c", "m1", "{}");
    wait_until("the last good version handled it", || {
        sys.state("c") == json!({"count": 1})
    });
    fs::write(&script, COUNTER).unwrap();
    wait_until("the problem clears once it is fixed", || !problem.exists());
    let err = text_of(&sys.eos(&["check", script.to_str().unwrap()]));
    assert!(err.contains("ok"), "{err}");
    let empty = sys.script("empty.rn", "pub fn init() { 1 }\n");
    let out = sys.eos(&["check", empty.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text_of(&out).contains("no `handle` function"));
}

#[test]
fn a_message_waiting_for_a_script_that_compiles_goes_once_it_is_saved() {
    let mut sys = System::new();
    sys.start();
    let script = sys.script("later.rn", "pub fn handle(state, msg) { let = ; }");
    sys.spawn_script("l", &script, &[]);
    sys.send("l", "m1", "{}");
    wait_until("it waits", || {
        sys.actor_dir("l").join("problem.txt").exists()
    });
    fs::write(&script, COUNTER).unwrap();
    wait_until("it is handled", || sys.state("l") == json!({"count": 1}));
}

#[test]
fn handlers_stuck_past_their_deadline_leave_no_threads_behind() {
    let mut sys = System::new();
    sys.start();
    let script = sys.script(
        "sleepy.rn",
        "pub fn init() { #{ ok: 0 } }\n\
         pub fn handle(state, msg) { if msg.payload.get(\"sleep\").is_some() { sleep(60000); } \
         state.ok += 1; state }\n",
    );
    sys.spawn_script("s", &script, &["--deadline", "200ms"]);
    let pid = sys.status("s")["pid"].as_u64().unwrap();
    for n in 0..4 {
        sys.send("s", &format!("stuck{n}"), r#"{"sleep": 1}"#);
        sys.wait_dead("dead", &format!("s::stuck{n}.json"));
    }
    sys.send("s", "fine", "{}");
    wait_until("the next message is handled", || sys.state("s")["ok"] == 1);
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let threads: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(threads <= 2, "{threads} threads after four stuck handlers");
    assert_eq!(
        sys.status("s")["pid"].as_u64(),
        Some(pid),
        "the same process"
    );
}

const STORAGE: &str = r#"
pub fn handle(state, msg) {
    let key = msg.payload.key;
    if msg.payload.get("forget") == Some(true) {
        state.deleted = delete(key);
    } else {
        let n = match load(key) { Some(n) => n + 1, None => 1 };
        store(key, n);
    }
    state.exists = exists(key);
    state
}
"#;

#[test]
fn scripts_store_load_delete_and_check_keys_kept_as_files() {
    let mut sys = System::new();
    sys.start();
    let script = sys.script("storage.rn", STORAGE);
    sys.spawn_script("s", &script, &[]);
    sys.send("s", "a", r#"{"key": "hits"}"#);
    sys.send("s", "b", r#"{"key": "hits"}"#);
    wait_until("both handled", || {
        read_json(&sys.actor_dir("s").join("store/hits.json")) == 2
    });
    assert_eq!(sys.state("s")["exists"], true);
    sys.send("s", "c", r#"{"key": "hits", "forget": true}"#);
    wait_until("forgotten", || sys.state("s")["deleted"] == true);
    assert_eq!(sys.state("s")["exists"], false);
    assert!(!sys.actor_dir("s").join("store/hits.json").exists());
    sys.send("s", "d", r#"{"key": "a/../../x"}"#);
    let reason = sys.wait_dead("dead", "s::d.json");
    assert!(reason.contains("storage key"), "{reason}");
}
