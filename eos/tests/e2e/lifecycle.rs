//! Actor exits: noticed at once, recorded, and nothing of the actor is lost.

use std::fs;
use std::process::Command;

use serde_json::json;

use crate::support::*;

#[test]
fn an_exit_is_recorded_and_the_actor_keeps_its_state_and_mail() {
    let mut sys = System::without_tick();
    sys.start();
    sys.spawn("c", &counter_sh(), &[]);
    sys.send("c", "m1", "{}");
    sys.send("c", "bye", r#"{"exit": true}"#);
    wait_until("c has exited", || sys.status("c")["status"] == "exited");
    assert_eq!(sys.status("c")["code"], json!(3));
    assert_eq!(sys.state("c"), json!({"count": 2}));
    assert!(!sys.actor_dir("c").join(".pid").exists());
    // Mail sent afterwards waits in its spool: not lost, not dead.
    sys.send("c", "later", "{}");
    wait_until("the message waits in the spool", || {
        sys.ls("running/c/spool")
            .iter()
            .any(|n| n.ends_with("-later.json"))
    });
    assert!(sys.ls("dead").iter().all(|n| n == "spawn"));
}

#[test]
fn a_killed_actor_is_recorded_with_its_signal() {
    let mut sys = System::without_tick();
    sys.start();
    sys.spawn("c", &counter_sh(), &[]);
    let pid = sys.status("c")["pid"].as_u64().unwrap() as u32;
    signal(pid, "KILL");
    wait_until("c is recorded as killed", || {
        sys.status("c")["signal"] == "SIGKILL"
    });
    assert_eq!(sys.status("c")["status"], "exited");
}

#[test]
fn an_exited_actor_stays_exited_across_a_supervisor_restart() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("c", &counter_sh(), &[]);
    sys.send("c", "bye", r#"{"exit": true}"#);
    wait_until("c has exited", || sys.status("c")["status"] == "exited");
    sys.send("c", "later", "{}");
    wait_until("the message waits", || sys.ls("running/c/spool").len() == 1);
    sys.kill9();
    sys.start();
    sys.spawn("other", &counter_sh(), &[]);
    assert_eq!(sys.status("c")["status"], "exited");
    assert_eq!(sys.ls("running/c/spool").len(), 1);
}

#[test]
fn orphans_are_reaped_when_the_supervisor_is_pid_1() {
    let sys = System::new();
    // A new PID namespace makes the supervisor PID 1, as in a container. The actor leaves a
    // grandchild behind, which is re-parented to the supervisor when it exits.
    let script = sys.root.parent().unwrap().join("orphans.sh");
    fs::write(
        &script,
        "#!/bin/sh\n(sleep 0.3 &) ; (sleep 0.3 &) ; touch \"$(dirname \"$2\")/forked\"\n\
         trap 'exit 0' TERM USR1\nwhile :; do sleep 1; done\n",
    )
    .unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .unwrap();
    let supervisor = bin("supervisor");
    let mut child = Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child"])
        .arg(&supervisor)
        .arg(&sys.root)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("unshare");
    wait_until("the supervisor is up", || sys.path(".pid").exists());
    sys.put(
        "spawn/o.json",
        &json!({"path": script, "id": "o"}).to_string(),
    );
    sys.wait_running("o");
    wait_until("the actor has left orphans", || {
        sys.actor_dir("o").join("forked").exists()
    });
    // The supervisor is PID 1 inside: find it from outside as unshare's child.
    let pid1 = fs::read_to_string(format!("/proc/{}/task/{0}/children", child.id()))
        .unwrap()
        .trim()
        .to_owned();
    let zombies = || {
        let children =
            fs::read_to_string(format!("/proc/{pid1}/task/{pid1}/children")).unwrap_or_default();
        children
            .split_whitespace()
            .filter(|pid| {
                fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                    stat.rsplit_once(") ")
                        .is_some_and(|(_, s)| s.starts_with('Z'))
                })
            })
            .count()
    };
    // The grandchildren exit after 0.2 s; once re-parented they must not stay zombies.
    wait_until("the orphans are gone", || {
        let children =
            fs::read_to_string(format!("/proc/{pid1}/task/{pid1}/children")).unwrap_or_default();
        children.split_whitespace().count() == 1 && zombies() == 0
    });
    let _ = child.kill();
    let _ = child.wait();
}
