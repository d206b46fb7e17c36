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

/// Orphans left by an actor are reaped. As root, the supervisor runs as PID 1 of a new PID
/// namespace, as in a container; otherwise it is the orphans' subreaper, which is the same for
/// them.
#[test]
fn orphans_are_reaped_when_the_supervisor_is_pid_1() {
    let sys = System::new();
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
    let as_pid1 = nix::unistd::geteuid().is_root();
    let mut child = if as_pid1 {
        Command::new("unshare")
            .args(["--pid", "--fork", "--kill-child"])
            .arg(bin("supervisor"))
            .arg(&sys.root)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("unshare")
    } else {
        sys.supervisor_command()
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("supervisor")
    };
    wait_until("the supervisor is up", || sys.path(".pid").exists());
    sys.put(
        "spawn/o.json",
        &json!({"path": script, "id": "o"}).to_string(),
    );
    sys.wait_running("o");
    wait_until("the actor has left orphans", || {
        sys.actor_dir("o").join("forked").exists()
    });
    // The supervisor's own pid, seen from outside (unshare's child when in a namespace).
    let supervisor = if as_pid1 {
        fs::read_to_string(format!("/proc/{}/task/{0}/children", child.id()))
            .unwrap()
            .trim()
            .to_owned()
    } else {
        child.id().to_string()
    };
    let children = || {
        fs::read_to_string(format!("/proc/{supervisor}/task/{supervisor}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let zombie = |pid: &String| {
        fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit_once(") ")
                .is_some_and(|(_, s)| s.starts_with('Z'))
        })
    };
    // The orphans were re-parented to the supervisor; they exit after 0.3 s and must not stay
    // zombies: in the end only the actor is its child.
    wait_until("the orphans are reaped", || {
        let children = children();
        children.len() == 1 && !children.iter().any(zombie)
    });
    let _ = child.kill();
    let _ = child.wait();
}
