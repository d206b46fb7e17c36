//! Systematic exploration: the playground's two-phase commit, its planted bug found,
//! minimized and replayed on the real processes; the correct protocol explored exhaustively.

use std::path::PathBuf;

use crate::support::*;

fn playground(file: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../playground")
        .join(file)
}

/// Three participants and a coordinator running `coordinator`, the properties of the
/// playground, and a transaction begun: checkpoint `start`, paused.
fn two_phase_commit(coordinator: &str) -> System {
    let mut sys = System::new();
    sys.start();
    for p in ["p1", "p2", "p3"] {
        sys.spawn_script(p, &playground("2pc/participant.rn"), &[]);
    }
    sys.spawn_script("coord", &playground(coordinator), &[]);
    std::fs::create_dir_all(sys.path("invariants")).unwrap();
    for property in ["atomicity.rn", "progress.rn"] {
        std::fs::copy(
            playground(&format!("2pc/invariants/{property}")),
            sys.path(&format!("invariants/{property}")),
        )
        .unwrap();
    }
    ok(&sys.eos(&["pause"]));
    ok(&sys.eos(&[
        "send",
        "coord",
        r#"{"begin": "t1", "participants": ["p1", "p2", "p3"]}"#,
    ]));
    wait_pending(&sys, "coord", 1);
    ok(&sys.eos(&["checkpoint", "start"]));
    sys
}

#[test]
fn the_planted_bug_is_found_minimized_and_replayed_on_real_processes() {
    let sys = two_phase_commit("2pc/coordinator.rn");
    let out = sys.eos(&[
        "explore",
        "--from",
        "start",
        "--faults",
        "timer",
        "--strategy",
        "bfs",
    ]);
    let (said, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}{err}");
    assert!(said.contains("VIOLATED `atomicity` (always)"), "{said}");
    let summary = read_json(&sys.path("explore/summary.json"));
    let minimized = summary["violation"]["minimized_steps"].as_u64().unwrap();
    assert!(minimized <= summary["violation"]["steps"].as_u64().unwrap());
    assert!(minimized <= 6, "{summary}");
    let schedule = std::fs::read_to_string(sys.path("explore/minimized.schedule")).unwrap();
    assert!(
        schedule.contains(r#"deliver coord <- coord {"timeout":"t1"}"#),
        "{schedule}"
    );

    // On the real processes: every state as the in-process run had it, and the supervisor's
    // own invariant check stops the system at the violation.
    let file = sys.path("explore/minimized.schedule");
    let said = ok(&sys.eos(&["replay", "--from", "start", file.to_str().unwrap()]));
    assert!(said.contains("as recorded"), "{said}");
    assert!(said.contains("violated at step"), "{said}");
    assert!(sys.path("paused").exists());
    assert!(!sys.ls("violations").is_empty());
    // Ctrl-C's flag aside, a search bounded by time says it was not exhaustive.
    let random = sys.eos(&[
        "--json",
        "explore",
        "--from",
        "start",
        "--faults",
        "drop",
        "--strategy",
        "random",
        "--walks",
        "200",
        "--seed",
        "5",
    ]);
    let summary = json_of(&random);
    assert_eq!(summary["exhaustive"], false);
}

#[test]
fn a_correct_protocol_is_explored_exhaustively_with_a_witness() {
    let sys = two_phase_commit("2pc/coordinator_fixed.rn");
    let out = sys.eos(&[
        "explore",
        "--from",
        "start",
        "--faults",
        "timer",
        "--compare",
    ]);
    let (said, err) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}{err}");
    assert!(said.contains("exhaustive within the bounds"), "{said}");
    assert!(said.contains("no property was violated"), "{said}");
    assert!(said.contains("sometimes `progress`: reached"), "{said}");
    let summary = read_json(&sys.path("explore/summary.json"));
    assert_eq!(summary["exhaustive"], true);
    let plain = &summary["without_reduction"];
    assert_eq!(plain["distinct"], summary["distinct"]);
    assert!(
        plain["transitions"].as_u64() > summary["transitions"].as_u64(),
        "{summary}"
    );
    // The witness is a schedule that reaches "everyone committed", on the real processes too.
    let witness = sys.path("explore/witness-progress.schedule");
    ok(&sys.eos(&["replay", "--from", "start", witness.to_str().unwrap()]));
    for p in ["p1", "p2", "p3"] {
        assert_eq!(sys.state(p)["outcome"], "commit");
    }
    // Lost messages leave a participant undecided: `eventually` catches it.
    let out = sys.eos(&["explore", "--from", "start", "--faults", "drop"]);
    let (said, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("VIOLATED `progress` (eventually)"), "{said}");
    assert!(said.contains("never decided"), "{said}");
}

#[test]
fn a_system_that_is_not_all_scripts_is_refused_with_a_reason() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("c", &counter_sh(), &[]);
    let out = sys.eos(&["explore"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("`c` is not a Rune script actor"),
        "{:?}",
        text(&out)
    );
}

/// A bank in bash: pays a withdrawal if the balance allows, lists who was refused; it reads
/// its state back when it starts (a restore starts it again).
const BANK_SH: &str = r#"#!/usr/bin/env bash
state=$2 msg=$3
balance=$(grep -o '"balance": *[0-9]*' "$state" 2>/dev/null | grep -o '[0-9]*$')
balance=${balance:-100}
refused=$(grep -o '"refused": *"[^"]*"' "$state" 2>/dev/null | sed 's/.*"\([^"]*\)"$/\1/')
trap : USR1
while :; do
  if [ -f "$msg" ]; then
    body=$(cat "$msg")
    n=$(printf '%s' "$body" | grep -o '"withdraw": *[0-9]*' | grep -o '[0-9]*$')
    who=$(printf '%s' "$body" | grep -o '"who": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/')
    if [ "$n" -le "$balance" ]; then balance=$((balance - n)); else refused="$refused$who "; fi
    printf '{"balance": %d, "refused": "%s"}\n' "$balance" "$refused" > "$state.tmp"
    mv "$state.tmp" "$state"
    rm -f "$msg"
    continue
  fi
  sleep 1 &
  wait $!
done
"#;

#[test]
fn random_walks_on_real_processes_find_a_bash_actors_order_bug() {
    let mut sys = System::new();
    sys.start();
    let bank = sys.script("bank.sh", BANK_SH);
    std::fs::set_permissions(&bank, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    sys.spawn("bank", &bank, &[]);
    std::fs::create_dir_all(sys.path("invariants")).unwrap();
    sys.put(
        "invariants/alice_first.rn",
        r#"pub fn check(states) {
            let bank = states.get("bank");
            if bank.is_some() && bank.unwrap().refused.contains("alice") { "alice was refused" } else { true }
        }"#,
    );
    ok(&sys.eos(&["pause"]));
    ok(&sys.eos(&["send", "bank", r#"{"withdraw": 70, "who": "alice"}"#]));
    ok(&sys.eos(&["send", "bank", r#"{"withdraw": 50, "who": "bob"}"#]));
    wait_pending(&sys, "bank", 2);
    ok(&sys.eos(&["checkpoint", "start"]));

    let out = sys.eos(&[
        "explore", "--real", "--from", "start", "--walks", "30", "--seed", "3",
    ]);
    let (said, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}{err}");
    assert!(said.contains("VIOLATED invariant `alice_first`"), "{said}");
    assert!(said.contains("on the real processes"), "{said}");
    let schedule = std::fs::read_to_string(sys.path("explore/counterexample.schedule")).unwrap();
    let steps: Vec<&str> = schedule
        .lines()
        .filter(|l| l.starts_with("deliver"))
        .collect();
    assert_eq!(steps.len(), 2, "{schedule}");
    assert!(steps[0].contains("bob"), "{schedule}");
    assert!(sys.path("paused").exists(), "paused at the violation");
    // The schedule replays: the same states, the same violation.
    let file = sys.path("explore/counterexample.schedule");
    let said = ok(&sys.eos(&["replay", "--from", "start", file.to_str().unwrap()]));
    assert!(said.contains("violated at step 2"), "{said}");
    assert!(
        sys.state("bank")["refused"]
            .as_str()
            .unwrap()
            .contains("alice")
    );
}

/// Whether `pid` catches SIGINT (its handler is installed).
fn catches_sigint(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (2 - 1)) != 0)
}

#[test]
fn ctrl_c_stops_a_long_search_with_what_it_found() {
    let mut sys = System::new();
    sys.start();
    let count = sys.script(
        "count.rn",
        "pub fn init() { #{ n: 0 } }\npub fn handle(s, m) { s.n += m.payload.by; s }\n",
    );
    for a in ["a", "b", "c", "d", "e"] {
        sys.spawn_script(a, &count, &[]);
    }
    ok(&sys.eos(&["pause"]));
    for a in ["a", "b", "c", "d", "e"] {
        for by in 1..=4 {
            ok(&sys.eos(&["send", a, &format!(r#"{{"by": {by}}}"#)]));
        }
    }
    for a in ["a", "b", "c", "d", "e"] {
        wait_pending(&sys, a, 4);
    }
    ok(&sys.eos(&["checkpoint", "many"]));
    let child = std::process::Command::new(bin("eos"))
        .arg("--root")
        .arg(&sys.root)
        .args([
            "explore",
            "--from",
            "many",
            "--no-reduction",
            "--time",
            "120s",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    wait_until("the explorer catches Ctrl-C", || catches_sigint(pid));
    signal(pid, "INT");
    let out = child.wait_with_output().unwrap();
    let (said, err) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}{err}");
    assert!(said.contains("stopped (Ctrl-C)"), "{said}");
    let summary = read_json(&sys.path("explore/summary.json"));
    assert_eq!(summary["stopped"], true);
    assert_eq!(summary["exhaustive"], false);
    assert!(summary["states"].as_u64().unwrap() > 0);
}

#[test]
fn a_crash_that_is_not_restarted_leaves_participants_undecided() {
    let sys = two_phase_commit("2pc/coordinator_fixed.rn");
    let out = sys.eos(&["explore", "--from", "start", "--faults", "crash"]);
    let (said, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}{err}");
    assert!(said.contains("VIOLATED `progress` (eventually)"), "{said}");
    let schedule = std::fs::read_to_string(sys.path("explore/minimized.schedule")).unwrap();
    let crashed = schedule
        .lines()
        .find_map(|l| l.strip_prefix("crash "))
        .unwrap_or_else(|| panic!("no crash in {schedule}"));
    // On the real processes: that actor is killed and stays down (temporary).
    let file = sys.path("explore/minimized.schedule");
    let said = ok(&sys.eos(&["replay", "--from", "start", file.to_str().unwrap()]));
    assert!(said.contains("as recorded"), "{said}");
    assert_eq!(sys.status(crashed)["status"], "exited");
}

#[test]
fn the_banks_order_bug_is_found_in_two_deliveries() {
    let mut sys = System::new();
    sys.start();
    sys.spawn_script("bank", &playground("bank.rn"), &[]);
    std::fs::create_dir_all(sys.path("invariants")).unwrap();
    std::fs::copy(
        playground("invariants/bank_order.rn"),
        sys.path("invariants/bank_order.rn"),
    )
    .unwrap();
    ok(&sys.eos(&["pause"]));
    ok(&sys.eos(&["send", "bank", r#"{"withdraw": 70, "who": "alice"}"#]));
    ok(&sys.eos(&["send", "bank", r#"{"withdraw": 50, "who": "bob"}"#]));
    ok(&sys.eos(&["checkpoint", "two"]));
    let out = sys.eos(&["explore", "--from", "two"]);
    let (said, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("alice was refused"), "{said}");
    assert!(said.contains("minimized to 2"), "{said}");
}
