//! The debugger: pause and resume (by file and by CLI), edits while paused (with a real
//! editor), step and deliver in a chosen order, the journal, traces (golden files), and the
//! live view.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::support::*;

/// The pending files of an actor whose names end in `-{id}.json`, by message id.
fn has_event(sys: &System, wanted: Value) -> bool {
    journal(sys).iter().any(|e| {
        wanted
            .as_object()
            .unwrap()
            .iter()
            .all(|(k, v)| e.get(k) == Some(v))
    })
}

#[test]
fn pause_and_resume_by_file_and_by_cli() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("a", &counter_sh(), &[]);
    sys.spawn("b", &counter_sh(), &[]);

    // By hand, as the original EOS did: a `paused` file in the root.
    fs::write(sys.path("paused"), "").unwrap();
    wait_until("the pause is journaled", || {
        has_event(&sys, json!({"event": "pause"}))
    });
    sys.send("a", "m1", "{}");
    wait_pending(&sys, "a", 1);
    assert!(
        sys.handled("a").is_empty(),
        "nothing is delivered while paused"
    );
    fs::remove_file(sys.path("paused")).unwrap();
    wait_until("m1 is delivered after resume", || {
        sys.handled("a") == ["m1"]
    });

    // By CLI, one actor: the other goes on.
    ok(&sys.eos(&["pause", "a"]));
    assert!(sys.actor_dir("a").join("paused").exists());
    sys.send("a", "m2", "{}");
    sys.send("b", "n1", "{}");
    wait_until("b is not paused", || sys.handled("b") == ["n1"]);
    wait_pending(&sys, "a", 1);
    let pending = ok(&sys.eos(&["pending"]));
    assert!(
        pending.contains("(paused)") && pending.contains("m2"),
        "{pending}"
    );
    let list = ok(&sys.eos(&["list"]));
    assert!(
        list.lines()
            .any(|l| l.starts_with("a ") && l.contains("running (paused)")),
        "{list}"
    );
    ok(&sys.eos(&["resume", "a"]));
    wait_until("m2 is delivered", || sys.handled("a") == ["m1", "m2"]);

    // Everything, by CLI.
    ok(&sys.eos(&["pause"]));
    sys.send("b", "n2", "{}");
    wait_pending(&sys, "b", 1);
    let out = ok(&sys.eos(&["resume", "b"]));
    assert!(out.contains("resumed b (it was not paused)"), "{out}");
    assert_eq!(sys.handled("b"), ["n1"]);
    ok(&sys.eos(&["resume"]));
    wait_until("n2 is delivered", || sys.handled("b") == ["n1", "n2"]);
    let err = sys.eos(&["pause", "ghost"]);
    assert!(text(&err).1.contains("no actor `ghost`"));
}

#[test]
fn edits_while_paused_are_what_happens_after_resume() {
    let mut sys = System::new();
    sys.start();
    let bank = Path::new(env!("CARGO_MANIFEST_DIR")).join("../playground/bank.rn");
    sys.spawn_script("bank", &bank, &[]);
    wait_until("init ran", || sys.state("bank")["balance"] == 100);
    ok(&sys.eos(&["pause"]));
    for (id, amount, who) in [
        ("w1", 70, "alice"),
        ("w2", 50, "bob"),
        ("w3", 10, "carol"),
        ("w4", 5, "dan"),
    ] {
        sys.send(
            "bank",
            id,
            &format!(r#"{{"withdraw": {amount}, "who": "{who}"}}"#),
        );
    }
    wait_pending(&sys, "bank", 4);

    // vim, in ex mode, changes alice's withdrawal from 70 to 20 (swap file, 4913 probe and
    // all the ways vim saves).
    let w1 = pending_file(&sys, "bank", "w1");
    let status = Command::new("vim")
        .args(["-e", "-s", "-n", "-c", "%s/70/20/", "-c", "wq"])
        .arg(&w1)
        .stdin(Stdio::null())
        .status()
        .expect("vim");
    assert!(status.success());
    // Truncate and write in place: bob now takes 30.
    let w2 = pending_file(&sys, "bank", "w2");
    let edited = fs::read_to_string(&w2).unwrap().replace("50", "30");
    fs::write(&w2, edited).unwrap();
    // Write a temp file and rename it over: carol becomes a plain payload (no envelope).
    let w3 = pending_file(&sys, "bank", "w3");
    fs::write(
        w3.with_file_name(".carol.tmp"),
        r#"{"withdraw": 40, "who": "carol"}"#,
    )
    .unwrap();
    fs::rename(w3.with_file_name(".carol.tmp"), &w3).unwrap();
    // Delete dan's, duplicate bob's, and move carol's to the front of the queue.
    fs::remove_file(pending_file(&sys, "bank", "w4")).unwrap();
    fs::copy(&w2, w2.with_file_name("000000000099-w2copy.json")).unwrap();
    fs::rename(&w3, w3.with_file_name("0-w3.json")).unwrap();

    ok(&sys.eos(&["resume"]));
    wait_until("all four are handled", || {
        let s = sys.state("bank");
        s["paid"].as_array().map_or(0, Vec::len) + s["refused"].as_array().map_or(0, Vec::len) == 4
    });
    // carol 40 first, then alice 20, bob 30, bob again 30 (only 10 left: refused).
    assert_eq!(
        sys.state("bank"),
        json!({"balance": 10, "paid": ["carol", "alice", "bob"], "refused": ["bob"]})
    );
    assert!(
        sys.ls("dead").iter().all(|n| n == "spawn"),
        "no bogus message: {:?}",
        sys.ls("dead")
    );
}

#[test]
fn step_and_deliver_choose_the_order() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("x", &counter_sh(), &[]);
    sys.spawn("y", &counter_sh(), &[]);
    ok(&sys.eos(&["pause"]));
    for (to, id) in [("x", "a"), ("x", "b"), ("y", "c"), ("x", "d")] {
        sys.send(to, id, &format!(r#"{{"n": "{id}"}}"#));
        wait_until("it is routed", || sys.ls("send").is_empty());
    }
    let pending: Value = serde_json::from_slice(&sys.eos(&["--json", "pending"]).stdout).unwrap();
    let order: Vec<&str> = pending
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["message"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ["a", "b", "c", "d"],
        "pending lists the delivery order"
    );

    let out = ok(&sys.eos(&["step"]));
    assert!(out.contains("delivered a to x"), "{out}");
    wait_until("x handled a", || {
        sys.handled("x") == ["a"] && sys.state("x") == json!({"count": 1})
    });
    // A before B: d jumps ahead of b.
    let out = ok(&sys.eos(&["deliver", "d"]));
    assert!(out.contains("delivered d to x"), "{out}");
    wait_until("x handled d", || {
        sys.handled("x") == ["a", "d"] && sys.state("x") == json!({"count": 2})
    });
    let out = ok(&sys.eos(&["step", "y"]));
    assert!(out.contains("delivered c to y"), "{out}");
    ok(&sys.eos(&["step"]));
    wait_until("x handled b", || sys.handled("x") == ["a", "d", "b"]);
    // Still paused, nothing left: step says so.
    wait_until("y is done", || sys.state("y") == json!({"count": 1}));
    let (_, err) = text(&sys.eos(&["step"]));
    assert!(err.contains("nothing to deliver"), "{err}");
    let (_, err) = text(&sys.eos(&["deliver", "zzz"]));
    assert!(err.contains("no pending message `zzz`"), "{err}");
    assert!(sys.path("paused").exists(), "stepping stays paused");
}

#[test]
fn the_journal_records_a_scripted_scenario_completely() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("t", &tally(), &[]);
    sys.spawn("h", &counter_sh(), &[]);
    sys.send("t", "m1", r#"{"forward_to": "h"}"#);
    sys.send("t", "boom", r#"{"fail": "on purpose"}"#);
    sys.send("nobody", "lost", "{}");
    wait_until("h got the forwarded message", || {
        sys.handled("h").len() == 1
    });
    ok(&sys.eos(&["pause"]));
    ok(&sys.eos(&["resume"]));
    sys.send("h", "bye", r#"{"exit": true}"#);
    wait_until("h exited", || sys.status("h")["status"] == "exited");
    sys.kill9();
    sys.start();
    let forwarded = sys.handled("h")[0].clone();
    let expected = [
        json!({"event": "spawn", "actor": "t"}),
        json!({"event": "send", "message": "m1", "from": null, "to": "t", "payload": {"forward_to": "h"}}),
        json!({"event": "route", "message": "m1", "to": "t"}),
        json!({"event": "deliver", "message": "m1", "actor": "t"}),
        json!({"event": "result", "message": "m1", "actor": "t", "ok": true}),
        json!({"event": "send", "message": forwarded, "from": "t", "to": "h", "cause": "m1"}),
        json!({"event": "result", "message": "boom", "actor": "t", "ok": false}),
        json!({"event": "dead", "actor": "t", "message": "boom"}),
        json!({"event": "dead", "actor": "nobody", "message": "lost"}),
        json!({"event": "pause"}),
        json!({"event": "resume"}),
        json!({"event": "exit", "actor": "h", "code": 3}),
        json!({"event": "restart", "actor": "t"}),
    ];
    for event in expected {
        wait_until(&format!("the journal has {event}"), || {
            has_event(&sys, event.clone())
        });
    }
    let result = journal(&sys)
        .into_iter()
        .find(|e| e["event"] == "result" && e["message"] == "m1")
        .unwrap();
    assert_eq!(result["state"]["count"], 1, "results carry the new state");
    let entries = journal(&sys);
    assert!(
        entries
            .windows(2)
            .all(|w| w[0]["us"].as_u64() <= w[1]["us"].as_u64())
    );
}

#[test]
fn the_journal_is_rotated_and_bounded() {
    let mut sys = System::new();
    sys.start_with(&["--journal-max-bytes", "3000"]);
    sys.spawn("c", &counter_sh(), &[]);
    for n in 0..40 {
        sys.send("c", &format!("m{n:02}"), "{}");
    }
    wait_until("all are handled", || sys.handled("c").len() == 40);
    assert!(sys.path("journal.1.jsonl").exists());
    for file in ["journal.jsonl", "journal.1.jsonl"] {
        let size = fs::metadata(sys.path(file)).unwrap().len();
        assert!(size <= 3000, "{file} is {size} bytes");
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e/fixtures/trace")
        .join(name)
}

/// Compares with a golden file; `UPDATE_GOLDEN=1` rewrites it.
fn golden(name: &str, actual: &str) {
    let path = fixture(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(&path, actual).unwrap();
    }
    let expected = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "{} differs (UPDATE_GOLDEN=1 to accept):\n{actual}",
        path.display()
    );
}

#[test]
fn the_perfetto_trace_is_valid_trace_event_json() {
    let sys = recorded();
    let trace: Value =
        serde_json::from_str(&ok(&sys.eos(&["trace", "--format", "perfetto"]))).unwrap();
    let events = trace["traceEvents"].as_array().unwrap();
    let mut starts = std::collections::BTreeMap::new();
    let mut finishes = std::collections::BTreeMap::new();
    let mut tracks = std::collections::BTreeSet::new();
    for e in events {
        assert!(e["pid"].is_u64() && e["tid"].is_u64(), "{e}");
        match e["ph"].as_str().unwrap() {
            "M" => {
                tracks.insert(e["args"]["name"].as_str().unwrap().to_owned());
            }
            "X" => assert!(e["ts"].is_u64() && e["dur"].is_u64() && e["name"].is_string()),
            "s" => assert!(
                starts
                    .insert(e["id"].as_u64().unwrap(), e["ts"].clone())
                    .is_none()
            ),
            "f" => {
                assert_eq!(e["bp"], "e");
                assert!(
                    finishes
                        .insert(e["id"].as_u64().unwrap(), e["ts"].clone())
                        .is_none()
                );
            }
            "i" => assert!(e["name"].is_string()),
            other => panic!("unknown phase {other}"),
        }
    }
    assert!(!starts.is_empty());
    assert_eq!(
        starts.keys().collect::<Vec<_>>(),
        finishes.keys().collect::<Vec<_>>(),
        "every flow starts and finishes"
    );
    for name in ["ping", "pong"] {
        assert!(tracks.contains(name), "{tracks:?}");
    }
}

/// A root holding only the fixture journal (a recorded ping-pong, a failure, a dead letter for
/// an unknown actor and a pending message).
fn recorded() -> System {
    let sys = System::new();
    fs::create_dir_all(&sys.root).unwrap();
    fs::copy(fixture("journal.jsonl"), sys.path("journal.jsonl")).unwrap();
    sys
}

#[test]
fn trace_matches_the_golden_files() {
    let sys = recorded();
    golden("trace.mmd", &ok(&sys.eos(&["trace"])));
    golden(
        "trace.perfetto.json",
        &ok(&sys.eos(&["trace", "--format", "perfetto"])),
    );
    golden("trace.svg", &ok(&sys.eos(&["trace", "--format", "svg"])));
    golden("pong.mmd", &ok(&sys.eos(&["trace", "--actor", "pong"])));
    // The causal chain of the last ball: the serve and every hit led to it.
    let entries: Vec<Value> = fs::read_to_string(sys.path("journal.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let last_ball = entries
        .iter()
        .find(|e| e["event"] == "send" && e["payload"] == json!({"ball": 0}))
        .unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    let chain = ok(&sys.eos(&["trace", "--chain", &last_ball]));
    assert_eq!(chain.matches("->>").count(), 5, "{chain}");
    assert!(!chain.contains("fragile"), "{chain}");
    // Time filters: everything is in the past.
    let none = ok(&sys.eos(&["trace", "--since", "1s"]));
    assert_eq!(none.lines().count(), 1, "{none}");
    let all = ok(&sys.eos(&[
        "trace",
        "--since",
        "2020-01-01T00:00:00Z",
        "--until",
        "2100-01-01T00:00:00Z",
    ]));
    assert_eq!(all, ok(&sys.eos(&["trace"])));
    let (_, err) = text(&sys.eos(&["trace", "--since", "last tuesday"]));
    assert!(err.contains("is not a time"), "{err}");
    // To a file.
    let file = sys.root.parent().unwrap().join("flow.svg");
    ok(&sys.eos(&["trace", "--format", "svg", "-o", file.to_str().unwrap()]));
    assert!(fs::read_to_string(file).unwrap().starts_with("<svg"));
}

#[test]
fn log_shows_and_follows_the_journal() {
    let sys = recorded();
    let log = ok(&sys.eos(&["log"]));
    assert!(log.contains("send     ping → pong"), "{log}");
    assert!(log.contains("dead     fragile::"), "{log}");
    assert!(log.contains("pause    fragile"), "{log}");
    let lines: Vec<Value> = ok(&sys.eos(&["--json", "log"]))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 35);

    let mut sys = System::new();
    sys.start();
    sys.spawn("c", &counter_sh(), &[]);
    let mut follower = Command::new(bin("eos"))
        .arg("--root")
        .arg(&sys.root)
        .args(["log", "-f"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follower.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.contains("result   c") && l.contains("followme"))
    });
    sys.send("c", "x-followme", "{}");
    let found = reader.join().unwrap();
    let _ = follower.kill();
    let _ = follower.wait();
    assert!(found.is_some());
}

#[test]
fn watch_prints_a_snapshot_when_not_on_a_terminal() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("c", &counter_sh(), &[]);
    sys.spawn("w", &counter_sh(), &["wait-for-go"]);
    sys.send("c", "m1", "{}");
    wait_until("c handled m1", || sys.handled("c") == ["m1"]);
    ok(&sys.eos(&["pause", "w"]));
    let out = ok(&sys.eos(&["watch"]));
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("supervisor pid"), "{out}");
    assert!(
        lines[2].starts_with("c ") && lines[2].contains("running"),
        "{out}"
    );
    assert!(
        lines[3].starts_with("w ") && lines[3].contains("paused"),
        "{out}"
    );
    let json: Value = serde_json::from_slice(&sys.eos(&["--json", "watch"]).stdout).unwrap();
    assert_eq!(json["actors"][0]["id"], "c");
    assert!(json["actors"][0]["messages_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(json["actors"][1]["paused"], true);
}

#[test]
fn the_order_matters_walkthrough_runs_as_the_readme_shows() {
    let sys = System::new();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../playground/order_matters.sh");
    let traces = sys.root.parent().unwrap().to_path_buf();
    let out = Command::new("bash")
        .arg(script)
        .arg(&traces)
        .env("EOS_ROOT", &sys.root)
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir().display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .unwrap();
    let stdout = ok(&out);
    assert!(
        stdout.contains(r#"alice first: {"balance":30,"paid":["alice"],"refused":["bob"]}"#),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"bob first:   {"balance":50,"paid":["bob"],"refused":["alice"]}"#),
        "{stdout}"
    );
    for name in ["bank-alice-first.svg", "bank-bob-first.svg"] {
        let svg = fs::read_to_string(traces.join(name)).unwrap();
        assert!(svg.contains("bank") && svg.contains("withdraw"), "{name}");
    }
    assert!(sys.eos(&["shutdown"]).status.success());
}

#[test]
fn pending_lists_what_was_sent_and_is_not_routed_yet_last() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("a", &counter_sh(), &[]);
    ok(&sys.eos(&["pause"]));
    sys.send("a", "first", r#"{"n": 1}"#);
    wait_pending(&sys, "a", 1);
    // With no supervisor (killed: everything stays), mail stays in `send/` until one starts.
    sys.kill9();
    sys.send("a", "second", r#"{"n": 2}"#);
    sys.send("nobody-yet", "third", r#"{"n": 3}"#);
    let pending = json_of(&sys.eos(&["--json", "pending"]));
    let rows: Vec<(&str, &str, bool)> = pending
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap(),
                p["file"].as_str().unwrap(),
                p["routed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows.len(), 3, "{pending}");
    assert_eq!(rows[0].0, "first");
    assert!(rows[0].2, "{pending}");
    assert_eq!(
        rows[1..],
        [
            ("second", "send/a::second.json", false),
            ("third", "send/nobody-yet::third.json", false)
        ]
    );
    let text = ok(&sys.eos(&["pending"]));
    assert!(
        text.lines()
            .any(|l| l.starts_with("sent") && l.contains("second") && l.contains("not routed yet")),
        "{text}"
    );

    // Once the supervisor is back, it is routed and waits in its spool like the first.
    sys.start();
    wait_pending(&sys, "a", 2);
    let pending = json_of(&sys.eos(&["--json", "pending"]));
    assert!(
        pending
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["routed"] == true),
        "{pending}"
    );
}
