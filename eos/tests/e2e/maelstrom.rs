//! Maelstrom nodes as EOS actors: nodes written in Python and bash, unchanged, in a cluster
//! with a client; the workloads' checkers; partitions; a node that crashes, prints what is not
//! a message, or never answers init.

use std::path::PathBuf;

use crate::support::*;

fn node(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "../playground/maelstrom", name]
        .iter()
        .collect();
    path.to_string_lossy().into_owned()
}

/// The replies `c1` keeps in its state.
fn replies(sys: &System) -> Vec<serde_json::Value> {
    sys.state("c1")["replies"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn reply_to(sys: &System, msg_id: u64) -> Option<serde_json::Value> {
    replies(sys)
        .into_iter()
        .find(|r| r["body"]["in_reply_to"] == msg_id)
}

#[test]
fn echo_nodes_in_python_and_bash_answer_and_pass_the_checker() {
    let mut sys = System::new();
    sys.start();
    for program in ["echo.py", "echo.sh"] {
        let said = ok(&sys.eos(&["cluster", "up", "3", &node(program)]));
        assert!(said.contains("n0 n1 n2"), "{said}");
        ok(&sys.eos(&[
            "send",
            "--sender",
            "c1",
            "n1",
            r#"{"type": "echo", "echo": "hi", "msg_id": 1}"#,
        ]));
        wait_until("c1 got the echo", || reply_to(&sys, 1).is_some());
        let got = reply_to(&sys, 1).unwrap();
        assert_eq!(got["src"], "n1");
        assert_eq!(got["body"]["type"], "echo_ok");
        assert_eq!(got["body"]["echo"], "hi");
        // The node's state shows what EOS sees of it.
        let n1 = sys.state("n1");
        assert_eq!(n1["last_in"]["body"]["echo"], "hi");
        assert_eq!(n1["node_ids"], serde_json::json!(["n0", "n1", "n2"]));

        let out = sys.eos(&["cluster", "test", "echo", "--rate", "100", "--time", "1s"]);
        let (said, err) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{program}: {said}{err}");
        assert!(said.contains(":valid? true"), "{said}");
        let results = read_json(&sys.path("maelstrom-results.json"));
        assert_eq!(results["valid"], true);
        assert_eq!(results["ops"], 100);
        assert!(results["latency_ms"]["p99"].as_f64().unwrap() > 0.0);
        ok(&sys.eos(&["cluster", "down"]));
        wait_until("the cluster is gone", || !sys.actor_dir("n0").exists());
        // The journal keeps the Maelstrom body: type, msg_id, in_reply_to.
        let journal = journal(&sys);
        assert!(journal.iter().any(|e| e["event"] == "send"
            && e["payload"]["type"] == "echo_ok"
            && e["payload"]["in_reply_to"] == 1));
    }
}

#[test]
fn a_naive_broadcast_fails_under_a_partition_and_a_retrying_one_passes() {
    let mut sys = System::new();
    sys.start();
    ok(&sys.eos(&["cluster", "up", "3", &node("broadcast.py")]));
    let test = [
        "cluster",
        "test",
        "broadcast",
        "--rate",
        "20",
        "--time",
        "2s",
        "--settle",
        "1s",
    ];
    let out = sys.eos(&test);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let partitioned = [&test[..], &["--partition"]].concat();
    let out = sys.eos(&partitioned);
    let (said, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains(":valid? false"), "{said}");
    assert!(said.contains("acknowledged value(s)"), "{said}");
    ok(&sys.eos(&["cluster", "down"]));
    wait_until("the cluster is gone", || !sys.actor_dir("n0").exists());

    ok(&sys.eos(&["cluster", "up", "3", &node("broadcast.py"), "--retry"]));
    let out = sys.eos(&partitioned);
    let (said, err) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}{err}");
    assert!(said.contains(":valid? true"), "{said}");
    assert!(
        !sys.path("faults/cluster-partition.json").exists(),
        "healed"
    );
}

#[test]
fn a_gossiping_g_counter_and_unique_ids_pass() {
    let mut sys = System::new();
    sys.start();
    ok(&sys.eos(&["cluster", "up", "3", &node("g_counter.py")]));
    let out = sys.eos(&[
        "cluster",
        "test",
        "g-counter",
        "--rate",
        "30",
        "--time",
        "1s",
    ]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    ok(&sys.eos(&["cluster", "down"]));
    wait_until("the cluster is gone", || !sys.actor_dir("n0").exists());
    // Echo nodes do not generate ids: every request fails the checker.
    ok(&sys.eos(&["cluster", "up", "2", &node("echo.py")]));
    let out = sys.eos(&[
        "cluster",
        "test",
        "unique-ids",
        "--rate",
        "20",
        "--time",
        "1s",
    ]);
    let (said, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("unanswered 20"), "{said}");
}

#[test]
fn a_node_that_crashes_garbles_or_never_answers() {
    let mut sys = System::new();
    sys.start();
    ok(&sys.eos(&["cluster", "up", "1", &node("echo.py")]));
    let send = |msg_id: u64, kind: &str| {
        let body = format!(r#"{{"type": "{kind}", "echo": "x", "msg_id": {msg_id}}}"#);
        ok(&sys.eos(&["send", "--sender", "c1", "n0", &body]));
    };
    send(1, "count");
    wait_until("counted", || reply_to(&sys, 1).is_some());
    assert_eq!(reply_to(&sys, 1).unwrap()["body"]["count"], 1);

    // A line that is not a message: a dead letter with a reason; the node goes on.
    send(2, "garble");
    let reason = sys.wait_dead_matching("dead", "n0::");
    assert!(reason.contains("not a message"), "{reason}");
    send(3, "echo");
    wait_until("it still echoes", || reply_to(&sys, 3).is_some());

    // A crash: supervision starts it again, with empty memory and its init sent again.
    let pid = sys.status("n0")["pid"].as_u64().unwrap();
    send(4, "crash");
    wait_until("n0 runs again", || {
        sys.status("n0")["status"] == "running" && sys.status("n0")["pid"].as_u64() != Some(pid)
    });
    send(5, "count");
    wait_until("counted again", || reply_to(&sys, 5).is_some());
    let again = reply_to(&sys, 5).unwrap();
    assert_eq!(again["src"], "n0", "it knows who it is");
    assert_eq!(again["body"]["count"], 1, "what it kept in memory is gone");
    ok(&sys.eos(&["cluster", "down"]));
    wait_until("the cluster is gone", || !sys.actor_dir("n0").exists());

    // A node that never answers init: a clear error.
    let out = sys.eos(&["cluster", "up", "2", &node("silent.py"), "--timeout", "1s"]);
    let err = text(&out).1;
    assert_ne!(out.status.code(), Some(0));
    assert!(err.contains("no init_ok within 1s from n0"), "{err}");
    assert!(err.contains("n1"), "{err}");
}
