//! `eos wait`: until a state matches, the system is idle, or a message is handled.

use std::process::Command;

use crate::support::*;

#[test]
fn wait_until_a_state_matches_the_system_is_idle_or_a_message_is_handled() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("c", &counter_sh(), &[]);
    sys.spawn("h", &counter_sh(), &["hold"]);
    // Sent from another process while `eos wait` waits.
    let root = sys.path("");
    let sender = std::thread::spawn(move || {
        for n in 0..3 {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let tmp = root.join(format!("send/.c-{n}.tmp"));
            std::fs::write(&tmp, format!(r#"{{"n": {n}}}"#)).unwrap();
            std::fs::rename(&tmp, root.join(format!("send/c::w{n}.json"))).unwrap();
        }
    });
    let held = ok(&sys.eos(&["wait", "state", "c", "count >= 3", "--timeout", "20s"]));
    assert!(held.contains("holds"), "{held}");
    sender.join().unwrap();
    ok(&sys.eos(&["wait", "idle"]));

    // Something that never happens: exit code 1, and what was last seen.
    let out = sys.eos(&["wait", "state", "c", "count >= 99", "--timeout", "300ms"]);
    assert_eq!(out.status.code(), Some(1));
    let (_, err) = text(&out);
    assert!(
        err.contains("last seen") && err.contains("\"count\""),
        "{err}"
    );
    // A message held by its actor keeps the system busy.
    sys.send("h", "held", "{}");
    let out = sys.eos(&["wait", "idle", "--timeout", "300ms"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("h (0 pending, one being handled)"),
        "{}",
        text(&out).1
    );

    // A bad condition is a usage error.
    let out = sys.eos(&["wait", "state", "c", "count >="]);
    assert_eq!(out.status.code(), Some(2));

    // Handled, counting from when it starts: messages keep coming until it sees one.
    let mut waiter = Command::new(bin("eos"))
        .arg("--root")
        .arg(sys.path(""))
        .args(["wait", "handled", "--to", "c", "--timeout", "20s"])
        .env_remove("EOS_ROOT")
        .spawn()
        .unwrap();
    let mut n = 0;
    let status = loop {
        if let Some(status) = waiter.try_wait().unwrap() {
            break status;
        }
        n += 1;
        assert!(n < 200, "eos wait handled never returned");
        sys.send("c", &format!("late{n}"), "{}");
        wait_until("it is handled", || {
            sys.handled("c").contains(&format!("late{n}"))
        });
    };
    assert!(status.success());
}

#[test]
fn stuck_actors_are_reported_in_the_journal_watch_and_doctor() {
    let mut sys = System::new();
    sys.start_with(&["--stuck-after", "400ms"]);
    sys.spawn("h", &counter_sh(), &["hold"]);
    sys.send("h", "first", "{}");
    sys.send("h", "second", "{}");
    let stuck = || {
        std::fs::read_to_string(sys.path("journal.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["event"] == "stuck")
            .map(|e| e["what"].as_str().unwrap_or("").to_owned())
            .collect::<Vec<_>>()
    };
    wait_until("both are reported", || {
        let found = stuck();
        found
            .iter()
            .any(|w| w.contains("h has been handling first"))
            && found.iter().any(|w| w.contains("nothing was delivered"))
    });
    assert_eq!(stuck().len(), 2, "each once: {:?}", stuck());
    let watch = json_of(&sys.eos(&["--json", "watch"]));
    let row = &watch["actors"][0];
    assert!(row["stuck"].as_str().is_some(), "{row}");
    let doctor = sys.eos(&["doctor"]);
    assert!(
        text(&doctor).0.contains("stuck: h has been handling first"),
        "{}",
        text(&doctor).0
    );
}
