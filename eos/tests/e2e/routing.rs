//! Routing from `send/`: the envelope, dead letters for what cannot be delivered, and files
//! that are not messages.

use std::fs;
use std::io::Write;

use serde_json::json;

use crate::support::*;

#[test]
fn a_message_is_routed_by_its_file_event_and_wrapped_in_an_envelope() {
    let mut sys = System::without_tick();
    sys.start();
    sys.spawn("h", &counter_sh(), &["hold"]);
    sys.send("h", "m1", r#"{"inc": 1}"#);
    wait_until("h handles m1", || sys.handled("h") == ["m1"]);
    let current = read_json(&sys.actor_dir("h").join("spool/current"));
    assert_eq!(
        current,
        json!({"id": "m1", "sender": null, "payload": {"inc": 1}})
    );
    assert!(sys.ls("send").is_empty());
}

#[test]
fn an_envelope_keeps_its_sender_and_extra_fields() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("h", &counter_sh(), &["hold"]);
    sys.send(
        "h",
        "m1",
        r#"{"sender": "someone", "payload": [1, 2], "note": "kept"}"#,
    );
    wait_until("h handles m1", || sys.handled("h") == ["m1"]);
    let current = read_json(&sys.actor_dir("h").join("spool/current"));
    assert_eq!(
        current,
        json!({"id": "m1", "sender": "someone", "payload": [1, 2], "note": "kept"})
    );
}

#[test]
fn undeliverable_messages_go_to_dead_letters_with_a_reason() {
    let mut sys = System::new();
    sys.start_with(&["--max-message-bytes", "300"]);
    sys.spawn("c", &counter_sh(), &[]);
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(400));
    let cases = [
        (
            "ghost::m1.json",
            "{}".to_owned(),
            "there is no actor `ghost`; known actors: c",
        ),
        (
            "hello.json",
            "{}".to_owned(),
            "does not follow {ACTOR_ID}::{RANDOM}.json",
        ),
        ("bad!id::m2.json", "{}".to_owned(), "contains '!'"),
        (
            "c::m3.json",
            "{\"a\": ".to_owned(),
            "not valid JSON: EOF while parsing",
        ),
        ("c::m4.json", big, "larger than the limit of 300 bytes"),
        (
            "c::m5.json",
            r#"{"sender": 7, "payload": 1}"#.to_owned(),
            "sender must be",
        ),
    ];
    for (name, body, _) in &cases {
        sys.put(&format!("send/{name}"), body);
    }
    for (name, body, why) in &cases {
        let reason = sys.wait_dead("dead", name);
        assert!(reason.contains(why), "{name}: {reason}");
        // The message is kept as it was written, to be fixed and sent again.
        assert_eq!(
            &fs::read_to_string(sys.path(&format!("dead/{name}"))).unwrap(),
            body
        );
    }
    // The rest of the system keeps working, and a fixed message can be moved back.
    fs::write(sys.path("dead/c::m3.json"), r#"{"a": 1}"#).unwrap();
    fs::rename(sys.path("dead/c::m3.json"), sys.path("send/c::m3.json")).unwrap();
    wait_until("the fixed message is handled", || {
        sys.handled("c") == ["m3"]
    });
}

#[test]
fn files_that_are_not_messages_are_left_alone() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("c", &counter_sh(), &[]);
    let junk = [
        ".c::m.json.swp",
        "c::m.json~",
        "4913",
        "readme.txt",
        ".hidden::m.json",
    ];
    for name in junk {
        fs::write(sys.path(&format!("send/{name}")), "junk").unwrap();
    }
    fs::create_dir(sys.path("send/c::dir.json")).unwrap();
    signal(sys.supervisor_pid(), "HUP");
    sys.send("c", "real", "{}");
    wait_until("the real message is handled", || {
        sys.handled("c") == ["real"]
    });
    let mut expected: Vec<String> = junk.iter().map(|s| s.to_string()).collect();
    expected.push("c::dir.json".into());
    expected.sort();
    assert_eq!(sys.ls_all("send"), expected);
    assert!(
        sys.ls("dead").iter().all(|n| n == "spawn"),
        "{:?}",
        sys.ls("dead")
    );
}

#[test]
fn a_message_still_being_written_is_not_taken_by_a_rescan() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("c", &counter_sh(), &[]);
    // Someone typing into send/ directly: the file exists, open, with half a message.
    let mut file = fs::File::create(sys.path("send/c::typed.json")).unwrap();
    file.write_all(b"{\"half\": ").unwrap();
    file.flush().unwrap();
    for _ in 0..3 {
        signal(sys.supervisor_pid(), "HUP");
    }
    sys.send("c", "probe", "{}");
    wait_until("a later message is handled", || {
        sys.handled("c") == ["probe"]
    });
    assert!(
        sys.path("send/c::typed.json").exists(),
        "{:?}",
        sys.ls("dead")
    );
    file.write_all(b"true}").unwrap();
    drop(file);
    wait_until("the finished message is handled", || {
        sys.handled("c") == ["probe", "typed"]
    });
}
