//! Breakpoints as files: before a matching delivery, when a state comes to match, when a fault
//! fires, when an actor exits; one-shot or persistent; the pause says which.

use std::fs;

use crate::support::*;

#[test]
fn a_delivery_breakpoint_pauses_before_the_message_and_resume_delivers_it() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("b", &counter_sh(), &[]);
    ok(&sys.eos(&[
        "break",
        "add",
        "--on",
        "deliver",
        "--to",
        "b",
        "--payload",
        r#"{"op": "commit"}"#,
        "--name",
        "at-commit",
    ]));
    sys.send("b", "v1", r#"{"op": "vote"}"#);
    wait_until("the vote is handled", || sys.handled("b").len() == 1);
    sys.send("b", "c1", r#"{"op": "commit"}"#);
    wait_until("the system pauses", || sys.path("paused").exists());
    let why = fs::read_to_string(sys.path("paused")).unwrap();
    assert!(why.contains("at-commit") && why.contains("c1"), "{why}");
    assert_eq!(sys.handled("b").len(), 1, "stopped before the commit");
    let pending = ok(&sys.eos(&["pending"]));
    assert!(
        pending.contains("paused by breakpoint `at-commit`"),
        "{pending}"
    );
    let watch = json_of(&sys.eos(&["--json", "watch"]));
    assert!(
        watch["paused_by"].as_str().unwrap().contains("at-commit"),
        "{watch}"
    );
    // Resumed, the message it stopped before goes through; the next commit stops again.
    ok(&sys.eos(&["resume"]));
    wait_until("c1 is handled", || {
        sys.handled("b").contains(&"c1".to_owned())
    });
    sys.send("b", "c2", r#"{"op": "commit"}"#);
    wait_until("paused again", || sys.path("paused").exists());
    let listed = json_of(&sys.eos(&["--json", "break", "list"]));
    assert_eq!(listed[0]["hits"], 2, "{listed}");
    let log = ok(&sys.eos(&["log"]));
    assert!(
        log.contains("break    b") && log.contains("at-commit"),
        "{log}"
    );
    let trace = ok(&sys.eos(&["trace"]));
    assert!(trace.contains("⏸ breakpoint at-commit"), "{trace}");
    ok(&sys.eos(&["break", "rm", "at-commit"]));
    ok(&sys.eos(&["resume"]));
    wait_until("c2 is handled", || {
        sys.handled("b").contains(&"c2".to_owned())
    });
}

#[test]
fn state_exit_and_fault_breakpoints_and_one_shot_ones() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("s", &counter_sh(), &[]);
    // Only this actor, once, when its count reaches 2.
    ok(&sys.eos(&[
        "break",
        "add",
        "--on",
        "state",
        "--actor",
        "s",
        "--when",
        "count >= 2",
        "--once",
        "--actor-only",
        "--name",
        "two",
    ]));
    for n in 0..3 {
        sys.send("s", &format!("m{n}"), "{}");
    }
    wait_until("s is paused at two", || {
        sys.actor_dir("s").join("paused").exists()
    });
    assert!(!sys.path("paused").exists(), "only s");
    assert_eq!(sys.handled("s").len(), 2);
    wait_until("a one-shot breakpoint goes", || {
        !sys.path("breakpoints/two.json").exists()
    });
    ok(&sys.eos(&["resume", "s"]));
    wait_until("m2 is handled", || sys.handled("s").len() == 3);

    ok(&sys.eos(&["break", "add", "--on", "exit", "--actor", "s"]));
    ok(&sys.eos(&["kill", "s"]));
    wait_until("the exit pauses everything", || sys.path("paused").exists());
    assert!(
        fs::read_to_string(sys.path("paused"))
            .unwrap()
            .contains("s exited")
    );
    ok(&sys.eos(&["resume"]));

    sys.spawn("f", &counter_sh(), &[]);
    ok(&sys.eos(&["fault", "add", "drop", "--to", "f", "--name", "lose"]));
    ok(&sys.eos(&["break", "add", "--on", "fault", "--rule", "lose"]));
    sys.send("f", "x", "{}");
    wait_until("the fault pauses everything", || {
        sys.path("paused").exists()
    });
    assert!(
        fs::read_to_string(sys.path("paused"))
            .unwrap()
            .contains("lose")
    );

    // A breakpoint that is not one says why, and changes nothing.
    fs::write(sys.path("breakpoints/bad.json"), r#"{"on": "state"}"#).unwrap();
    wait_until("it gets a reason", || {
        sys.path("breakpoints/bad.json.reason").exists()
    });
    let listed = ok(&sys.eos(&["break", "list"]));
    assert!(listed.contains("not in force"), "{listed}");
    let refused = fails(&sys.eos(&["break", "add", "--on", "state", "--when", "count >="]));
    assert!(refused.contains("count >="), "{refused}");
    let unknown = fails(&sys.eos(&["break", "add", "--on", "exit", "--actor", "ghost"]));
    assert!(unknown.contains("no actor `ghost`"), "{unknown}");
}
