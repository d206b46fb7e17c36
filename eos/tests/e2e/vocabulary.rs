//! The original EOS's command vocabulary: unpause, cleanup, tick, edit, kill of several
//! actors, and actor folders accepted wherever an id is.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use crate::support::*;

#[test]
fn folders_are_ids_kill_takes_several_and_unpause_resumes() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("a", &counter_sh(), &[]);
    sys.spawn("b", &counter_sh(), &[]);
    let inspected = ok(&sys.eos(&["inspect", "running/a"]));
    assert!(inspected.contains("running"), "{inspected}");
    let full = sys.actor_dir("a");
    ok(&sys.eos(&["send", &format!("{}/", full.display()), "{}"]));
    wait_until("a got it", || sys.handled("a").len() == 1);
    let wrong = fails(&sys.eos(&["inspect", "somewhere/a"]));
    assert!(wrong.contains("not an actor's folder"), "{wrong}");

    ok(&sys.eos(&["pause"]));
    sys.send("a", "p1", "{}");
    ok(&sys.eos(&["unpause"]));
    wait_until("delivered after unpause", || sys.handled("a").len() == 2);

    ok(&sys.eos(&["kill", "a", "running/b"]));
    for id in ["a", "b"] {
        assert_eq!(sys.status(id)["status"], "exited");
    }
}

#[test]
fn cleanup_removes_what_does_not_run_after_asking_and_keeps_the_mail() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("gone", &counter_sh(), &[]);
    sys.spawn("alive", &counter_sh(), &[]);
    ok(&sys.eos(&["kill", "gone"]));
    ok(&sys.eos(&["pause", "gone"]));
    sys.send("gone", "left", r#"{"n": 1}"#);
    wait_until("routed", || sys.ls("running/gone/spool").len() == 1);

    // Not on a terminal, and not confirmed: nothing happens.
    let unasked = fails(&sys.eos(&["cleanup"]));
    assert!(
        unasked.contains("--yes") && unasked.contains("gone"),
        "{unasked}"
    );
    assert!(sys.actor_dir("gone").is_dir());
    let refused = fails(&sys.eos(&["cleanup", "alive", "--yes"]));
    assert!(refused.contains("running"), "{refused}");

    let said = ok(&sys.eos(&["cleanup", "--yes"]));
    assert!(said.contains("removed 1"), "{said}");
    assert!(!sys.actor_dir("gone").exists());
    assert!(sys.actor_dir("alive").is_dir());
    let reason = sys.wait_dead("dead", "gone::left.json");
    assert!(reason.contains("removed"), "{reason}");
    let log = ok(&sys.eos(&["log"]));
    assert!(log.contains("removed  gone"), "{log}");
    // The supervisor goes on without it.
    sys.send("alive", "x", "{}");
    wait_until("alive handles mail", || sys.handled("alive").len() == 1);
}

#[test]
fn tick_shows_sets_and_resets_the_pace() {
    let mut sys = System::new();
    sys.start();
    let before = json_of(&sys.eos(&["--json", "tick"]));
    assert!(before["rescan_ms"].as_u64().unwrap() > 0);
    assert!(before["slow_motion_ms"].is_null());
    let set = json_of(&sys.eos(&["--json", "tick", "set", "300ms", "--slow-motion", "50ms"]));
    assert_eq!(set["rescan_ms"], 300);
    assert_eq!(set["slow_motion_ms"], 50);
    let shown = ok(&sys.eos(&["tick", "show"]));
    assert!(
        shown.contains("300 ms") && shown.contains("50 ms"),
        "{shown}"
    );
    let off = json_of(&sys.eos(&["--json", "tick", "set", "--slow-motion", "0"]));
    assert!(off["slow_motion_ms"].is_null());
    assert_eq!(off["rescan_ms"], 300);
    let reset = json_of(&sys.eos(&["--json", "tick", "reset"]));
    assert_eq!(reset, before);
    let nothing = fails(&sys.eos(&["tick", "set"]));
    assert!(nothing.contains("say what to set"), "{nothing}");
}

#[test]
fn edit_opens_the_state_in_the_editor_and_says_when_there_is_none() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("e", &counter_sh(), &[]);
    sys.send("e", "first", "{}");
    wait_until("e handled a message", || sys.state("e")["count"] == 1);
    let editor = sys.path("..").join("editor.sh");
    fs::write(&editor, "#!/bin/sh\nprintf '{\"count\": 41}\\n' > \"$1\"\n").unwrap();
    fs::set_permissions(&editor, fs::Permissions::from_mode(0o755)).unwrap();
    let run = |envs: &[(&str, &str)]| {
        let mut command = Command::new(bin("eos"));
        command
            .arg("--root")
            .arg(sys.path(""))
            .args(["edit", "e"])
            .env_remove("EOS_ROOT")
            .env_remove("VISUAL")
            .env_remove("EDITOR")
            .env_remove("TERM_PROGRAM")
            .stdin(Stdio::null());
        for (k, v) in envs {
            command.env(k, v);
        }
        command.output().unwrap()
    };
    let none = fails(&run(&[]));
    assert!(none.contains("$EDITOR"), "{none}");
    ok(&run(&[("EDITOR", editor.to_str().unwrap())]));
    assert_eq!(sys.state("e")["count"], 41);
    wait_until("the edit is in the journal", || {
        ok(&sys.eos(&["log"])).contains("(written by hand)")
    });
}
