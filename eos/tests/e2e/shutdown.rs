//! Shutdown on SIGTERM: actors are asked to stop, given the grace period, then killed; their
//! folders are removed as in the original EOS, and unhandled messages become dead letters.

use crate::support::*;

#[test]
fn sigterm_stops_the_actors_and_cleans_up() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("a", &counter_sh(), &[]);
    sys.spawn("w", &counter_sh(), &["wait-for-go"]);
    sys.send("w", "unhandled", "{}");
    wait_until("the message waits", || sys.ls("running/w/spool").len() == 1);
    let pids: Vec<u32> = ["a", "w"]
        .iter()
        .map(|id| sys.status(id)["pid"].as_u64().unwrap() as u32)
        .collect();
    let status = sys.stop();
    assert!(status.success(), "{status:?}");
    assert!(pids.iter().all(|pid| !alive(*pid)));
    assert!(sys.ls("running").is_empty());
    assert!(!sys.path(".pid").exists());
    let reason = sys.wait_dead("dead", "w::unhandled.json");
    assert!(reason.contains("shut down"), "{reason}");
    let log = sys.log();
    assert!(
        log.contains("a exited") && !log.contains("did not stop in time"),
        "{log}"
    );
}

#[test]
fn an_actor_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let mut sys = System::new();
    sys.start_with(&["--grace", "300ms"]);
    sys.spawn("stubborn", &counter_sh(), &["ignore-term"]);
    // Once it has handled a message, its traps are in place.
    sys.send("stubborn", "m1", "{}");
    wait_until("it handled a message", || sys.handled("stubborn") == ["m1"]);
    let pid = sys.status("stubborn")["pid"].as_u64().unwrap() as u32;
    let status = sys.stop();
    assert!(status.success(), "{status:?}");
    assert!(!alive(pid));
    let log = sys.log();
    assert!(log.contains("did not stop in time: killed"), "{log}");
}
