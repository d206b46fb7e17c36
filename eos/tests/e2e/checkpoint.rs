//! Checkpoints: save a moment, diff against it, restore it, fork it into a root that runs
//! beside the first.

use std::fs;

use crate::support::*;

const COUNT: &str = "pub fn init() { #{ n: 0 } }\npub fn handle(s, m) { s.n += 1; s }\n";

#[test]
fn checkpoint_diff_restore_and_fork() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("c", &counter_sh(), &[]);
    let script = sys.script("count.rn", COUNT);
    sys.spawn_script("s", &script, &[]);
    for id in ["a", "b"] {
        sys.send("c", id, "{}");
        sys.send("s", id, "{}");
    }
    wait_until("both counted two", || {
        sys.state("c")["count"] == 2 && sys.state("s")["n"] == 2
    });
    ok(&sys.eos(&["pause", "c"]));
    sys.send("c", "waiting", r#"{"w": 1}"#);
    wait_until("routed", || sys.ls("running/c/spool").len() == 1);
    let said = ok(&sys.eos(&["checkpoint", "two"]));
    assert!(said.contains("2 actor(s)"), "{said}");
    assert!(!sys.path("paused").exists(), "resumed after the checkpoint");
    let listed = json_of(&sys.eos(&["--json", "checkpoint", "--list"]));
    assert_eq!(listed[0]["name"], "two");

    // Move on: the script changes, s counts on, c's waiting message is handled, d appears.
    fs::write(
        &script,
        "pub fn init() { #{ n: 0 } }\npub fn handle(s, m) { s.n += 10; s }\n",
    )
    .unwrap();
    sys.send("s", "c", "{}");
    wait_until("the new script counted", || sys.state("s")["n"] == 12);
    ok(&sys.eos(&["resume", "c"]));
    wait_until("c handled the waiting one", || sys.state("c")["count"] == 3);
    sys.spawn("d", &counter_sh(), &[]);

    let diff = json_of(&sys.eos(&["--json", "diff", "two", sys.path("").to_str().unwrap()]));
    let of = |actor: &str| {
        diff.as_array()
            .unwrap()
            .iter()
            .find(|e| e["actor"] == actor)
            .cloned()
    };
    assert_eq!(of("d").unwrap()["only_in"], sys.path("").to_str().unwrap());
    let c = of("c").unwrap();
    assert_eq!(c["state"][0]["path"], ".count");
    assert_eq!(
        (c["state"][0]["a"].clone(), c["state"][0]["b"].clone()),
        (2.into(), 3.into())
    );
    assert_eq!(c["pending_removed"], serde_json::json!(["waiting"]));

    // Back to the checkpoint: states, the waiting message, the script as it was; d is gone.
    ok(&sys.eos(&["restore", "two"]));
    sys.wait_running("c");
    sys.wait_running("s");
    assert_eq!(sys.state("c")["count"], 2);
    assert!(!sys.actor_dir("d").exists());
    assert_eq!(
        sys.ls("running/c/spool").len(),
        1,
        "the waiting message is back"
    );
    sys.send("s", "again", "{}");
    wait_until("the old script counts by one", || sys.state("s")["n"] == 3);
    let log = ok(&sys.eos(&["log"]));
    assert!(log.contains("restore  checkpoint `two`"), "{log}");

    // A fork runs beside this one, on its own.
    let fork = sys.path("..").join("fork");
    ok(&sys.eos(&["fork", "two", fork.to_str().unwrap()]));
    let forked = |args: &[&str]| {
        std::process::Command::new(bin("eos"))
            .arg("--root")
            .arg(&fork)
            .args(args)
            .env_remove("EOS_ROOT")
            .output()
            .unwrap()
    };
    ok(&forked(&["up"]));
    ok(&forked(&["send", "s", "{}"]));
    wait_until("the fork counts on its own", || {
        read_json(&fork.join("running/s/state.json"))["n"] == 3
    });
    assert_eq!(read_json(&fork.join("running/c/state.json"))["count"], 2);
    ok(&forked(&["down"]));
    // Bad input leaves things as they were.
    let missing = fails(&sys.eos(&["restore", "nope"]));
    assert!(
        missing.contains("no checkpoint `nope`") && missing.contains("two"),
        "{missing}"
    );
    assert_eq!(sys.status("c")["status"], "running");
    let record = sys.path("checkpoints/two/checkpoint.json");
    let kept = fs::read_to_string(&record).unwrap();
    fs::write(&record, kept.replace("\"format\": 1", "\"format\": 99")).unwrap();
    let other = fails(&sys.eos(&["restore", "two"]));
    assert!(
        other.contains("another version of EOS (format 99"),
        "{other}"
    );
    fs::write(&record, "{").unwrap();
    let damaged = fails(&sys.eos(&["restore", "two"]));
    assert!(damaged.contains("damaged"), "{damaged}");
    assert_eq!(sys.status("c")["status"], "running");
    assert_eq!(sys.state("s")["n"], 3, "the running system is as it was");
}

/// A checkpoint that cannot be completed (a full disk) leaves no half-made checkpoint behind,
/// and the system goes on. The full disk is a 64 KiB tmpfs mounted on `checkpoints/`, which
/// needs root; elsewhere the test says so and stops.
#[test]
fn a_checkpoint_on_a_full_disk_leaves_nothing_behind() {
    let mut sys = System::new();
    sys.start();
    let script = sys.script("count.rn", COUNT);
    sys.spawn_script("s", &script, &[]);
    sys.spawn("c", &counter_sh(), &[]);
    // A state bigger than the disk.
    let big = format!(r#"{{"count": 0, "blob": "{}"}}"#, "x".repeat(200_000));
    sys.put("running/c/state.json", &big);
    let checkpoints = sys.path("checkpoints");
    fs::create_dir_all(&checkpoints).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&checkpoints)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(checkpoints.clone());

    let err = fails(&sys.eos(&["checkpoint", "full"]));
    assert!(err.contains("No space left"), "{err}");
    assert_eq!(
        sys.ls_all("checkpoints"),
        Vec::<String>::new(),
        "nothing half-made"
    );
    assert!(!sys.path("paused").exists(), "delivery goes on");
    sys.send("s", "after", "{}");
    wait_until("s handled a message after", || sys.state("s")["n"] == 1);
}

/// A checkpoint asked for while an actor is busy waits for it; an actor removed after the
/// checkpoint is back after a restore.
#[test]
fn a_busy_actor_is_waited_for_and_a_removed_one_comes_back() {
    let mut sys = System::new();
    sys.start();
    let slow = sys.script(
        "slow.rn",
        "pub fn init() { #{ n: 0 } }\npub fn handle(s, m) { sleep(300); s.n += 1; s }\n",
    );
    sys.spawn_script("slow", &slow, &[]);
    sys.spawn("c", &counter_sh(), &[]);
    sys.send("slow", "busy", "{}");
    wait_until("slow is handling it", || {
        sys.actor_dir("slow").join("spool/current").exists()
    });
    ok(&sys.eos(&["checkpoint", "busy"]));
    // Saved after the handler was done: its result is in the checkpoint.
    let saved = read_json(&sys.path("checkpoints/busy/running/slow/state.json"));
    assert_eq!(saved["n"], 1);

    ok(&sys.eos(&["kill", "c"]));
    ok(&sys.eos(&["cleanup", "--yes", "c"]));
    assert!(!sys.actor_dir("c").exists());
    ok(&sys.eos(&["restore", "busy"]));
    sys.wait_running("c");
    sys.send("c", "again", "{}");
    wait_until("c is back and counts", || sys.state("c")["count"] == 1);
}
