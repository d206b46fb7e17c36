//! Supervision: restart types, trees and their strategies, intensity and escalation, back-off,
//! monitors and links, actors that spawn actors, poison messages, and a supervisor restarted
//! in the middle of it.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::*;

fn crashy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/fixtures/crashy.sh")
}

fn spawn_with(sys: &System, id: &str, restart: &str) {
    let request = json!({"path": crashy(), "id": id, "restart": restart});
    sys.put(&format!("spawn/{id}.json"), &request.to_string());
    sys.wait_running(id);
}

fn starts(sys: &System, id: &str) -> u64 {
    sys.status(id)["starts"].as_u64().unwrap_or(0)
}

fn journal(sys: &System) -> Vec<Value> {
    fs::read_to_string(sys.path("journal.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn events(sys: &System, kind: &str) -> Vec<Value> {
    journal(sys)
        .into_iter()
        .filter(|e| e["event"] == kind)
        .collect()
}

fn wait_restarted(sys: &System, id: &str, times: u64) {
    wait_until(&format!("{id} started {times} times and runs"), || {
        starts(sys, id) >= times && sys.status(id)["status"] == "running"
    });
}

fn apply(sys: &System, name: &str, tree: &Value) -> String {
    let file = sys.path("..").join(format!("{name}.json"));
    fs::write(&file, tree.to_string()).unwrap();
    ok(&sys.eos(&["tree", "apply", file.to_str().unwrap()]))
}

#[test]
fn restart_types_decide_and_a_restart_redelivers_the_current_message_marked() {
    let mut sys = System::new();
    sys.start();
    spawn_with(&sys, "perm", "permanent");
    spawn_with(&sys, "trans", "transient");
    spawn_with(&sys, "temp", "temporary");
    assert_eq!(
        fs::read_to_string(sys.actor_dir("perm").join("restart"))
            .unwrap()
            .trim(),
        "permanent"
    );

    // permanent: even a normal exit is followed by a restart.
    sys.send("perm", "q1", r#"{"quit": true}"#);
    wait_restarted(&sys, "perm", 2);
    // transient: a normal exit is final, an abnormal one is not.
    sys.send("trans", "q2", r#"{"quit": true}"#);
    wait_until("trans exited", || sys.status("trans")["status"] == "exited");
    ok(&sys.eos(&["restart", "trans"]));
    sys.send("trans", "f1", r#"{"fail": true}"#);
    wait_restarted(&sys, "trans", 3);
    // temporary: never, until a person changes its restart file.
    sys.send("temp", "f2", r#"{"fail": true}"#);
    wait_until("temp exited", || sys.status("temp")["status"] == "exited");
    fs::write(sys.actor_dir("temp").join("restart"), "permanent\n").unwrap();
    ok(&sys.eos(&["restart", "temp"]));
    sys.send("temp", "f3", r#"{"fail": true}"#);
    wait_restarted(&sys, "temp", 3);

    // A crash while handling: the same id, state and mail; the message comes again, marked.
    sys.send("perm", "c1", r#"{"crash": true}"#);
    wait_until("c1 is handled after the restart", || {
        sys.handled("perm").contains(&"c1 redelivered".to_owned())
    });
    // crashy.sh notes a message before it writes its state.
    wait_until("q1 and c1 are counted", || sys.state("perm")["count"] == 2);
    let restarts = events(&sys, "restart");
    assert!(
        restarts
            .iter()
            .any(|r| r["actor"] == "perm" && r["node"] == "~perm" && r["attempt"].is_u64()),
        "{restarts:?}"
    );
    let exits = events(&sys, "exit");
    assert!(
        exits
            .iter()
            .any(|e| e["actor"] == "perm" && e["reason"] == "exit code 2")
    );
    assert!(
        exits
            .iter()
            .any(|e| e["actor"] == "trans" && e["reason"] == "normal")
    );
}

#[test]
fn a_message_that_keeps_crashing_its_actor_is_set_aside_as_poison() {
    let mut sys = System::new();
    sys.start();
    spawn_with(&sys, "p", "permanent");
    sys.send("p", "bad", r#"{"poison": true}"#);
    let reason = sys.wait_dead("dead", "p::bad.json");
    assert!(reason.contains("crashed `p` 3 times"), "{reason}");
    sys.wait_running("p");
    sys.send("p", "good", "{}");
    wait_until("the next message is handled", || {
        sys.handled("p").contains(&"good".to_owned())
    });
    // Two back-offs, doubling.
    let waits: Vec<u64> = events(&sys, "restart")
        .iter()
        .filter(|r| r["actor"] == "p")
        .filter_map(|r| r["backoff_ms"].as_u64())
        .collect();
    assert_eq!(&waits[..2], &[100, 200], "{waits:?}");
}

fn three(strategy: &str) -> Value {
    let child = |id: &str| json!({"id": id, "program": crashy()});
    json!({"strategy": strategy, "intensity": 5, "period": 10,
           "children": [child("a"), child("b"), child("c")]})
}

#[test]
fn trees_restart_children_by_their_strategy() {
    let mut sys = System::new();
    sys.start();
    for (name, strategy, restarted) in [
        ("one", "one_for_one", [false, true, false]),
        ("all", "one_for_all", [true, true, true]),
        ("rest", "rest_for_one", [false, true, true]),
    ] {
        let tree = three(strategy);
        // Ids unique per tree.
        let tree: Value = serde_json::from_str(
            &tree
                .to_string()
                .replace("\"a\"", &format!("\"{name}-a\""))
                .replace("\"b\"", &format!("\"{name}-b\""))
                .replace("\"c\"", &format!("\"{name}-c\"")),
        )
        .unwrap();
        let said = apply(&sys, name, &tree);
        assert!(said.contains("applied"), "{said}");
        let ids: Vec<String> = ["a", "b", "c"]
            .iter()
            .map(|c| format!("{name}-{c}"))
            .collect();
        for id in &ids {
            assert_eq!(starts(&sys, id), 1);
        }
        ok(&sys.eos(&["kill", &ids[1], "--signal", "KILL"]));
        wait_restarted(&sys, &ids[1], 2);
        for (id, again) in ids.iter().zip(restarted) {
            if again {
                wait_restarted(&sys, id, 2);
            }
        }
        for (id, again) in ids.iter().zip(restarted) {
            assert_eq!(
                starts(&sys, id),
                if again { 2 } else { 1 },
                "{strategy}: {id}"
            );
        }
    }
    // Applying again changes nothing that runs.
    apply(&sys, "one", &{
        let t = three("one_for_one").to_string();
        serde_json::from_str::<Value>(
            &t.replace("\"a\"", "\"one-a\"")
                .replace("\"b\"", "\"one-b\"")
                .replace("\"c\"", "\"one-c\""),
        )
        .unwrap()
    });
    assert_eq!(starts(&sys, "one-a"), 1);
    let shown = json_of(&sys.eos(&["--json", "tree"]));
    let trees = shown["trees"].as_array().unwrap();
    let all = trees.iter().find(|t| t["node"] == "all").unwrap();
    assert_eq!(all["strategy"], "one_for_all");
    assert_eq!(all["restarts"], 1);
    assert_eq!(all["children"][0]["status"], "running");
}

#[test]
fn too_many_restarts_stop_the_node_and_escalate_and_the_top_gives_up() {
    let mut sys = System::new();
    sys.start();
    let tree = json!({"strategy": "one_for_one", "intensity": 1, "period": 30, "children": [
        {"id": "x", "program": crashy()},
        {"name": "inner", "strategy": "one_for_one", "intensity": 1, "period": 30,
         "children": [{"id": "y", "program": crashy()}, {"id": "z", "program": crashy()}]}
    ]});
    apply(&sys, "top", &tree);
    // The inner node's second restart within its period is one too many: it stops y and z
    // and escalates; the top restarts it (its first restart).
    ok(&sys.eos(&["kill", "y", "--signal", "KILL"]));
    wait_restarted(&sys, "y", 2);
    ok(&sys.eos(&["kill", "y", "--signal", "KILL"]));
    wait_until("inner escalated", || !events(&sys, "escalate").is_empty());
    wait_restarted(&sys, "z", 2);
    wait_restarted(&sys, "y", 3);
    let escalate = &events(&sys, "escalate")[0];
    assert_eq!(
        (escalate["node"].as_str(), escalate["to"].as_str()),
        (Some("top/inner"), Some("top"))
    );
    // Once more and the top has had its one restart: everything stops, and stays down.
    ok(&sys.eos(&["kill", "x", "--signal", "KILL"]));
    wait_until("the top gave up", || !events(&sys, "give_up").is_empty());
    for id in ["x", "y", "z"] {
        wait_until(&format!("{id} is down"), || {
            sys.status(id)["status"] == "exited"
        });
    }
    let shown = json_of(&sys.eos(&["--json", "tree"]));
    assert!(
        shown["trees"][0]["down"]
            .as_str()
            .unwrap()
            .contains("restart"),
        "{shown}"
    );
    let doctor = sys.eos(&["doctor"]);
    assert!(text(&doctor).0.contains("gave up"), "{}", text(&doctor).0);
}

const WATCHER: &str = r#"
pub fn init() { #{ downs: [] } }
pub fn handle(state, msg) {
    let p = msg.payload;
    if let Some(_) = p.get("eos") {
        state.downs.push(p);
    } else if let Some(target) = p.get("monitor") {
        monitor(target);
    } else if let Some(target) = p.get("link") {
        link(target);
    }
    state
}
"#;

#[test]
fn monitors_and_links_tell_and_stop() {
    let mut sys = System::new();
    sys.start();
    let watcher = sys.script("watcher.rn", WATCHER);
    sys.spawn_script("w", &watcher, &[]);
    spawn_with(&sys, "t", "temporary");
    sys.send("w", "m1", r#"{"monitor": "t"}"#);
    wait_until("the monitor is a file", || {
        sys.actor_dir("w").join("monitors/t").exists()
    });
    sys.send("t", "f", r#"{"fail": true}"#);
    wait_until("w was told", || {
        sys.state("w")["downs"]
            .as_array()
            .is_some_and(|d| !d.is_empty())
    });
    let down = &sys.state("w")["downs"][0];
    assert_eq!(down["actor"], "t");
    assert_eq!(down["reason"], "exit code 5");
    assert_eq!(down["via"], "monitor");
    // Monitoring an actor that does not run: told at once.
    sys.send("w", "m2", r#"{"monitor": "nobody"}"#);
    wait_until("w was told about nobody", || {
        sys.state("w")["downs"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x["reason"] == "noproc"))
    });

    // Links, as files: an abnormal exit stops the other; a normal one does not.
    spawn_with(&sys, "l1", "temporary");
    spawn_with(&sys, "l2", "temporary");
    fs::write(sys.actor_dir("l1").join("links/l2"), "").unwrap();
    sys.send("l2", "q", r#"{"quit": true}"#);
    wait_until("l2 exited", || sys.status("l2")["status"] == "exited");
    assert_eq!(sys.status("l1")["status"], "running");
    ok(&sys.eos(&["restart", "l2"]));
    sys.wait_running("l2");
    ok(&sys.eos(&["kill", "l2", "--signal", "KILL"]));
    wait_until("l1 was stopped with it", || {
        sys.status("l1")["status"] == "exited"
    });
    wait_until("the journal says why", || {
        events(&sys, "exit").iter().any(|e| {
            e["actor"] == "l1" && e["reason"].as_str().unwrap_or("").contains("linked to l2")
        })
    });

    // Trapping exits: the down message instead.
    spawn_with(&sys, "l3", "temporary");
    sys.send("w", "k", r#"{"link": "l3"}"#);
    wait_until("the link is a file", || {
        sys.actor_dir("w").join("links/l3").exists()
    });
    fs::write(sys.actor_dir("w").join("trap_exits"), "").unwrap();
    ok(&sys.eos(&["kill", "l3", "--signal", "KILL"]));
    wait_until("w was told about l3", || {
        sys.state("w")["downs"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x["actor"] == "l3" && x["via"] == "link"))
    });
    assert_eq!(sys.status("w")["status"], "running");
}

const PARENT: &str = r#"
pub fn init() { #{ children: [], downs: [] } }
pub fn handle(state, msg) {
    let p = msg.payload;
    if let Some(_) = p.get("eos") {
        state.downs.push(p);
    } else {
        let child = spawn("child.rn", #{ id: p.name, state: #{ n: 0 } });
        state.children.push(child);
    }
    state
}
"#;

const CHILD: &str = "pub fn handle(s, m) { s.n += 1; s }\n";

#[test]
fn actors_spawn_children_from_rune_and_bash_and_supervise_them() {
    let mut sys = System::new();
    sys.start();
    let parent = sys.script("parent.rn", PARENT);
    sys.script("child.rn", CHILD);
    sys.spawn_script("parent", &parent, &[]);
    sys.send("parent", "s1", r#"{"name": "kid"}"#);
    sys.wait_running("kid");
    assert_eq!(sys.state("parent")["children"], json!(["kid"]));
    let record = read_json(&sys.actor_dir("kid").join("spawn.json"));
    assert_eq!(record["parent"], "parent");
    assert_eq!(
        fs::read_to_string(sys.actor_dir("kid").join("restart"))
            .unwrap()
            .trim(),
        "permanent"
    );
    // The parent's child: restarted when killed, and the parent is told.
    ok(&sys.eos(&["kill", "kid", "--signal", "KILL"]));
    wait_restarted(&sys, "kid", 2);
    wait_until("the parent was told", || {
        sys.state("parent")["downs"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x["actor"] == "kid" && x["via"] == "child"))
    });
    sys.send("kid", "k1", "{}");
    wait_until("kid handles mail", || sys.state("kid")["n"] == 1);

    // From any language: a request in the actor's own spawn folder.
    spawn_with(&sys, "sh", "temporary");
    let request = json!({"path": crashy(), "id": "shkid"});
    sys.put("running/sh/spawn/shkid.json", &request.to_string());
    sys.wait_running("shkid");
    assert_eq!(
        read_json(&sys.actor_dir("shkid").join("spawn.json"))["parent"],
        "sh"
    );
    let spawns = events(&sys, "spawn");
    assert!(
        spawns
            .iter()
            .any(|s| s["actor"] == "shkid" && s["parent"] == "sh")
    );
    // A spawn from a failed handler never happens.
    sys.send("parent", "s2", r#"{"name": 5}"#);
    sys.wait_dead("dead", "parent::s2.json");
    assert!(!sys.actor_dir("5").exists());
}

#[test]
fn a_restarted_supervisor_brings_back_trees_counts_and_children() {
    let mut sys = System::new();
    sys.start();
    apply(&sys, "keep", &three("one_for_all"));
    ok(&sys.eos(&["kill", "a", "--signal", "KILL"]));
    wait_restarted(&sys, "c", 2);
    wait_restarted(&sys, "a", 2);
    sys.kill9();
    sys.start();
    for id in ["a", "b", "c"] {
        wait_restarted(&sys, id, 3);
    }
    let shown = json_of(&sys.eos(&["--json", "tree"]));
    assert_eq!(shown["trees"][0]["restarts"], 1, "{shown}");
    // Still one_for_all.
    ok(&sys.eos(&["kill", "b", "--signal", "KILL"]));
    for id in ["a", "b", "c"] {
        wait_restarted(&sys, id, 4);
    }
    let shown = json_of(&sys.eos(&["--json", "tree"]));
    assert_eq!(shown["trees"][0]["restarts"], 2, "{shown}");
}

#[test]
fn an_actor_whose_restart_was_due_when_the_supervisor_died_is_started_again() {
    let mut sys = System::new();
    sys.start();
    spawn_with(&sys, "due", "permanent");
    spawn_with(&sys, "done", "transient");
    sys.kill9();
    // As if each had exited just before: a crash, and a normal exit.
    let exited = |code: i32| json!({"status": "exited", "code": code, "at": 1, "starts": 1});
    fs::write(
        sys.actor_dir("due").join("status.json"),
        exited(2).to_string(),
    )
    .unwrap();
    fs::write(
        sys.actor_dir("done").join("status.json"),
        exited(0).to_string(),
    )
    .unwrap();
    sys.start();
    wait_restarted(&sys, "due", 2);
    assert_eq!(sys.status("done")["status"], "exited");
    wait_until("the journal says why", || {
        events(&sys, "restart")
            .iter()
            .any(|r| r["actor"] == "due" && r["reason"].as_str().unwrap_or("").contains("was due"))
    });
}
