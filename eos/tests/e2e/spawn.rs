//! Spawning actors from requests in `spawn/`.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::support::*;

#[test]
fn a_request_starts_the_actor_with_the_protocol_argv() {
    // No tick: the request is picked up by its file event alone.
    let mut sys = System::without_tick();
    sys.start();
    let request = json!({
        "path": counter_sh(), "args": ["", "extra two"], "id": "c1", "state": {"count": 41}
    });
    sys.put("spawn/c1.json", &request.to_string());
    sys.wait_running("c1");
    let dir = sys.actor_dir("c1");
    let argv = dir.join("argv");
    let expected = [
        "c1".to_owned(),
        dir.join("state.json").display().to_string(),
        dir.join("spool/current").display().to_string(),
        sys.path("send").display().to_string(),
        String::new(),
        "extra two".to_owned(),
    ];
    let expected = expected.join("\n") + "\n";
    wait_until("the actor has written its argv", || {
        fs::read_to_string(&argv).is_ok_and(|got| got.len() >= expected.len())
    });
    assert_eq!(fs::read_to_string(argv).unwrap(), expected);
    assert_eq!(sys.state("c1"), json!({"count": 41}));
    assert!(dir.join("spool").is_dir());
    let pid: u32 = fs::read_to_string(dir.join(".pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(sys.status("c1")["pid"], json!(pid));
    assert!(alive(pid));
    let record = read_json(&dir.join("spawn.json"));
    assert_eq!(record["path"], json!(counter_sh()));
    assert_eq!(record["id"], json!("c1"));
    assert!(sys.ls("spawn").is_empty(), "the request is consumed");
}

#[test]
fn sigusr1_picks_up_a_request_as_in_the_original_eos() {
    let mut sys = System::without_tick();
    sys.start();
    // A hard link makes the request appear without the events the supervisor listens for, so
    // only the signal can bring it in.
    let outside = sys.root.parent().unwrap().join("request.json");
    fs::write(
        &outside,
        json!({"path": counter_sh(), "id": "late"}).to_string(),
    )
    .unwrap();
    fs::hard_link(&outside, sys.path("spawn/late.json")).unwrap();
    signal(sys.supervisor_pid(), "USR1");
    sys.wait_running("late");
}

#[test]
fn an_actor_without_an_id_gets_a_readable_one() {
    let mut sys = System::new();
    sys.start();
    sys.put(
        "spawn/anon.json",
        &json!({"path": counter_sh()}).to_string(),
    );
    // What `ls` shows: the hidden folder in which an actor is prepared does not count.
    wait_until("an actor appears", || !sys.ls("running").is_empty());
    let ids = sys.ls("running");
    assert!(ids[0].starts_with("counter-"), "{ids:?}");
    sys.wait_running(&ids[0]);
    assert_eq!(sys.state(&ids[0]), serde_json::Value::Null);
}

#[test]
fn bad_requests_are_set_aside_with_a_reason() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("taken", &counter_sh(), &[]);
    let not_executable = sys.root.parent().unwrap().join("plain.sh");
    fs::write(&not_executable, "#!/bin/sh\n").unwrap();
    fs::set_permissions(&not_executable, fs::Permissions::from_mode(0o644)).unwrap();
    let cases = [
        (
            "not-json.json",
            "{\"path\": ".to_owned(),
            "not a valid spawn request",
        ),
        (
            "no-path.json",
            json!({"args": []}).to_string(),
            "missing field `path`",
        ),
        (
            "typo.json",
            json!({"path": counter_sh(), "arg": []}).to_string(),
            "unknown field `arg`",
        ),
        (
            "missing.json",
            json!({"path": "/no/such/program"}).to_string(),
            "cannot be used",
        ),
        (
            "not-on-path.json",
            json!({"path": "no-such-program-eos"}).to_string(),
            "not found on PATH",
        ),
        (
            "not-exec.json",
            json!({"path": not_executable}).to_string(),
            "not executable",
        ),
        (
            "bad-id.json",
            json!({"path": counter_sh(), "id": "../x"}).to_string(),
            "actor id",
        ),
        (
            "dup.json",
            json!({"path": counter_sh(), "id": "taken"}).to_string(),
            "already exists",
        ),
    ];
    for (name, body, _) in &cases {
        sys.put(&format!("spawn/{name}"), body);
    }
    for (name, _, why) in &cases {
        let reason = sys.wait_dead("dead/spawn", name);
        assert!(reason.contains(why), "{name}: {reason}");
    }
    assert_eq!(
        sys.ls("running"),
        vec!["taken"],
        "nothing half-made in running/"
    );
    // The supervisor carries on.
    sys.spawn("after", &counter_sh(), &[]);
}

#[test]
fn editor_artifacts_in_spawn_are_left_alone() {
    let mut sys = System::new();
    sys.start();
    for name in [".c.json.swp", "c.json~", "4913", "notes.txt"] {
        fs::write(sys.path(&format!("spawn/{name}")), "junk").unwrap();
    }
    // SIGHUP makes the supervisor rescan everything before it sees the request below.
    signal(sys.supervisor_pid(), "HUP");
    sys.spawn("c", &counter_sh(), &[]);
    assert_eq!(
        sys.ls_all("spawn"),
        vec![".c.json.swp", "4913", "c.json~", "notes.txt"]
    );
    assert!(sys.ls("dead/spawn").is_empty());
}

#[test]
fn the_readme_shell_actor_counts_its_messages() {
    let mut sys = System::new();
    sys.start();
    let actor = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../playground/counter.sh");
    sys.spawn("tally", &actor, &[]);
    for n in 0..20 {
        sys.send("tally", &format!("m{n}"), "{}");
    }
    wait_until("it counted all", || {
        sys.state("tally") == json!({"count": 20})
    });
    let log = fs::read_to_string(sys.actor_dir("tally").join("actor.log")).unwrap();
    assert!(log.contains("tally is ready"), "{log}");
}

/// The supervisor asks for a long time slice, so that an actor it wakes runs at once on its
/// processor; the actors themselves keep the default (an actor with a long slice would keep
/// others waiting). Where the kernel does not show slices (`/proc/PID/sched` without
/// `se.slice`), there is nothing to compare.
#[test]
fn actors_keep_the_default_time_slice_the_supervisor_asks_for_a_long_one() {
    let slice = |pid: u32| -> Option<u64> {
        let text = fs::read_to_string(format!("/proc/{pid}/sched")).ok()?;
        let line = text.lines().find(|l| l.starts_with("se.slice"))?;
        line.split(':').nth(1)?.trim().parse().ok()
    };
    let mut sys = System::new();
    sys.start();
    sys.spawn("c", &counter_sh(), &[]);
    let Some(supervisor) = slice(sys.supervisor_pid()) else {
        return;
    };
    let actor = sys.status("c")["pid"].as_u64().unwrap() as u32;
    let actor = slice(actor).expect("shown for the supervisor, so for the actor");
    assert!(
        actor < supervisor,
        "actor {actor} ns, supervisor {supervisor} ns"
    );
}
