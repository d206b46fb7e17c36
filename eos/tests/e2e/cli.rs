//! The `eos` command line: every command, its output and exit code, its errors, and `--json`
//! parsed back.

use std::fs;
use std::process::Command;

use serde_json::json;

use crate::support::*;

#[test]
fn up_down_and_shutdown() {
    let sys = System::new();
    let up = ok(&sys.eos(&["up", "--tick", "200ms"]));
    assert!(up.contains("started supervisor"), "{up}");
    let again = ok(&sys.eos(&["up"]));
    assert!(again.contains("already running"), "{again}");
    let status = json_of(&sys.eos(&["--json", "up"]));
    assert_eq!(status["started"], false);

    ok(&sys.eos(&["spawn", counter_sh().to_str().unwrap(), "--id", "c"]));
    sys.send("c", "m1", "{}");
    wait_until("c is done with m1", || {
        sys.state("c") == json!({"count": 1}) && sys.ls_all("running/c/spool").is_empty()
    });
    let old_pid = sys.status("c")["pid"].clone();

    // down: stop, keep everything; up: the same actors run again.
    let down = ok(&sys.eos(&["down"]));
    assert!(down.contains("kept on disk"), "{down}");
    assert!(!sys.path(".pid").exists());
    assert_eq!(sys.ls("running"), ["c"]);
    ok(&sys.eos(&["up", "--tick", "200ms"]));
    wait_until("c runs again", || {
        sys.status("c")["status"] == "running" && sys.status("c")["pid"] != old_pid
    });
    assert_eq!(sys.state("c"), json!({"count": 1}));

    // shutdown: as the original EOS, the actors are removed.
    let shutdown = ok(&sys.eos(&["shutdown"]));
    assert!(shutdown.contains("removed"), "{shutdown}");
    assert!(sys.ls("running").is_empty());
    let none = ok(&sys.eos(&["down"]));
    assert!(none.contains("no supervisor is running"), "{none}");
}

#[test]
fn commands_that_need_a_supervisor_say_how_to_start_one() {
    let sys = System::new();
    for args in [
        vec!["send", "x", "{}"],
        vec!["spawn", "/bin/true"],
        vec!["spawn-script", "x.rn"],
        vec!["kill", "x"],
    ] {
        let err = fails(&sys.eos(&args));
        assert!(
            err.contains("no supervisor is running") && err.contains("eos up"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn spawn_with_args_state_and_id() {
    let mut sys = System::new();
    sys.start();
    let out = ok(&sys.eos(&[
        "spawn",
        counter_sh().to_str().unwrap(),
        "--id",
        "c",
        "--state",
        r#"{"count": 7}"#,
        "--",
        "hold",
    ]));
    assert!(out.contains("spawned c"), "{out}");
    assert_eq!(sys.state("c"), json!({"count": 7}));
    assert_eq!(
        read_json(&sys.actor_dir("c").join("spawn.json"))["args"],
        json!(["hold"])
    );
    // Without --id, the program's name; made unique when taken.
    let json = json_of(&sys.eos(&["--json", "spawn", counter_sh().to_str().unwrap()]));
    assert_eq!(json["id"], "counter");
    let json = json_of(&sys.eos(&["--json", "spawn", counter_sh().to_str().unwrap()]));
    assert!(
        json["id"].as_str().unwrap().starts_with("counter-"),
        "{json}"
    );
}

#[test]
fn spawn_errors_are_clear() {
    let mut sys = System::new();
    sys.start();
    let counter = counter_sh();
    let counter = counter.to_str().unwrap();
    ok(&sys.eos(&["spawn", counter, "--id", "c"]));
    let plain = sys.root.parent().unwrap().join("plain.sh");
    fs::write(&plain, "#!/bin/sh\n").unwrap();
    let cases = [
        (
            vec!["spawn", "/no/such/program"],
            "there is no program /no/such/program",
        ),
        (
            vec!["spawn", "no-such-program-eos"],
            "not a file here nor on PATH",
        ),
        (vec!["spawn", plain.to_str().unwrap()], "not executable"),
        (vec!["spawn", counter, "--id", "c"], "already exists"),
        (vec!["spawn", counter, "--id", "../x"], "actor id"),
        (
            vec!["spawn", counter, "--state", "{nope"],
            "--state is not valid JSON",
        ),
        (vec!["spawn-script", "/no/such.rn"], "there is no script"),
    ];
    for (args, why) in cases {
        let err = fails(&sys.eos(&args));
        assert!(err.contains(why), "{args:?}: {err}");
    }
}

#[test]
fn spawn_script_reports_a_compile_error_and_the_actor_keeps_its_mail() {
    let mut sys = System::new();
    sys.start();
    let script = sys.script("broken.rn", "pub fn handle(state, msg) {\n  state +\n}\n");
    let out = sys.eos(&["spawn-script", script.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("spawned broken"), "{stdout}");
    assert!(stderr.contains("does not compile"), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:", script.display())),
        "{stderr}"
    );
    let problem = sys.actor_dir("broken").join("problem.txt");
    wait_until("the actor reports its problem", || problem.exists());
    let list = ok(&sys.eos(&["list"]));
    assert!(list.contains("running (script error)"), "{list}");
    ok(&sys.eos(&["send", "broken", "{}"]));
    wait_until("the message waits as current", || {
        sys.actor_dir("broken").join("spool/current").exists()
    });
    assert!(sys.ls("dead").iter().all(|n| n == "spawn"));
}

#[test]
fn send_takes_json_from_an_argument_a_file_or_stdin() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("t", &tally(), &[]);
    sys.spawn("h", &counter_sh(), &["hold"]);
    let from_arg = json_of(&sys.eos(&["--json", "send", "t", r#"{"via": "arg"}"#]));
    let file = sys.root.parent().unwrap().join("msg.json");
    fs::write(&file, r#"{"via": "file"}"#).unwrap();
    let from_file = json_of(&sys.eos(&["--json", "send", "t", "-f", file.to_str().unwrap()]));
    let from_stdin = json_of(&sys.eos_with_stdin(&["--json", "send", "t"], r#"{"via": "stdin"}"#));
    let plain = ok(&sys.eos(&["send", "t", "42"]));
    assert!(
        plain.starts_with("sent ") && plain.contains(" to t"),
        "{plain}"
    );
    wait_until("t handled all four", || sys.state("t")["count"] == 4);
    let seen = sys.state("t")["seen"].clone();
    for sent in [&from_arg, &from_file, &from_stdin] {
        assert_eq!(sent["to"], "t");
        assert!(
            seen.as_array().unwrap().contains(&sent["id"]),
            "{sent} not in {seen}"
        );
    }
    assert_eq!(sys.state("t")["last"], json!(42));

    ok(&sys.eos(&["send", "h", r#"{"x": 1}"#, "--sender", "t"]));
    wait_until("h got it", || sys.handled("h").len() == 1);
    let got = read_json(&sys.actor_dir("h").join("spool/current"));
    assert_eq!(got["sender"], "t");
    assert_eq!(got["payload"], json!({"x": 1}));
}

#[test]
fn send_errors_say_what_was_wrong() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("t", &tally(), &[]);
    let err = fails(&sys.eos(&["send", "t", r#"{"a": nope}"#]));
    assert!(err.contains("line 1 column 8"), "{err}");
    assert!(err.contains("  {\"a\": nope}\n         ^"), "{err}");
    let err = fails(&sys.eos(&["send", "ghost", "{}"]));
    assert!(
        err.contains("there is no actor `ghost`; known actors: t"),
        "{err}"
    );
    let err = fails(&sys.eos(&["send", "t", "{}", "--sender", "a/b"]));
    assert!(err.contains("--sender"), "{err}");
    let err = fails(&sys.eos(&["send", "t", "123456789012345678901234"]));
    assert!(err.contains("does not fit in 64 bits"), "{err}");
    // In JSON mode the error is JSON too.
    let out = sys.eos(&["--json", "send", "ghost", "{}"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(json_of(&out)["error"].as_str().unwrap().contains("ghost"));
    assert!(sys.ls("send").is_empty(), "nothing was sent");
}

#[test]
fn list_and_inspect_show_what_is_on_disk() {
    let mut sys = System::new();
    sys.start();
    let script = sys.script(
        "counter.rn",
        "pub fn init() { #{ count: 0 } }\npub fn handle(s, m) { s.count += 1; s }\n",
    );
    ok(&sys.eos(&["spawn-script", script.to_str().unwrap(), "--id", "s"]));
    sys.spawn("w", &counter_sh(), &["wait-for-go"]);
    sys.send("w", "queued", r#"{"q": 1}"#);
    wait_until("the message waits", || sys.ls("running/w/spool").len() == 1);
    wait_until("init ran", || sys.state("s") == json!({"count": 0}));

    let list = ok(&sys.eos(&["list"]));
    let lines: Vec<&str> = list.lines().collect();
    assert!(lines[0].starts_with("ID"), "{list}");
    assert!(
        lines[1].starts_with("s ")
            && lines[1].contains("running")
            && lines[1].contains("counter.rn"),
        "{list}"
    );
    assert!(
        lines[2].starts_with("w ") && lines[2].trim_end().contains("  1  "),
        "{list}"
    );
    let json = json_of(&sys.eos(&["--json", "list"]));
    assert_eq!(json[0]["id"], "s");
    assert_eq!(json[0]["script"], json!(script));
    assert_eq!(json[1]["queue"], 1);
    assert_eq!(json[1]["pid"], sys.status("w")["pid"]);

    let inspect = ok(&sys.eos(&["inspect", "w"]));
    assert!(inspect.contains("status:  running"), "{inspect}");
    assert!(
        inspect.contains("pending (1):") && inspect.contains(r#""q":1"#),
        "{inspect}"
    );
    let json = json_of(&sys.eos(&["--json", "inspect", "s"]));
    assert_eq!(json["state"], json!({"count": 0}));
    assert_eq!(json["actor"]["status"], "running");
    assert_eq!(json["pending"], json!([]));
    let err = fails(&sys.eos(&["inspect", "nope"]));
    assert!(err.contains("known actors: s, w"), "{err}");
}

#[test]
fn kill_stops_one_actor_and_keeps_its_folder() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("c", &counter_sh(), &[]);
    sys.spawn("other", &counter_sh(), &[]);
    sys.send("c", "m1", "{}");
    wait_until("c handled m1", || sys.state("c") == json!({"count": 1}));
    let out = ok(&sys.eos(&["kill", "c"]));
    assert!(out.contains("stopped c"), "{out}");
    assert_eq!(sys.status("c")["status"], "exited");
    assert_eq!(sys.state("c"), json!({"count": 1}));
    assert_eq!(sys.status("other")["status"], "running");
    let err = fails(&sys.eos(&["kill", "c"]));
    assert!(err.contains("not running"), "{err}");
    let err = fails(&sys.eos(&["kill", "other", "--signal", "NOPE"]));
    assert!(err.contains("unknown signal"), "{err}");
    ok(&sys.eos(&["kill", "other", "--signal", "KILL"]));
    assert_eq!(sys.status("other")["signal"], "SIGKILL");
}

#[test]
fn check_completions_and_act() {
    let sys = System::new();
    let good = sys.script("good.rn", "pub fn handle(s, m) { s }\n");
    let bad = sys.script("bad.rn", "pub fn handle(s, m) { let = ; }\n");
    let out = ok(&sys.eos(&["check", good.to_str().unwrap()]));
    assert!(out.contains("good.rn: ok"), "{out}");
    let err = fails(&sys.eos(&["check", bad.to_str().unwrap()]));
    assert!(err.contains(&format!("{}:1:", bad.display())), "{err}");

    let bash = ok(&sys.eos(&["completions", "bash"]));
    assert!(bash.contains("spawn-script"), "{bash}");
    assert_eq!(sys.eos(&["completions", "tcsh-ish"]).status.code(), Some(2));

    let act = Command::new(bin("act"))
        .arg("--root")
        .arg(&sys.root)
        .arg("list")
        .output()
        .unwrap();
    assert!(ok(&act).contains("no actors"));
}

#[test]
fn the_demo_runs_and_cleans_up() {
    let out = Command::new(bin("eos")).arg("demo").output().unwrap();
    let stdout = ok(&out);
    for expected in [
        "1. Start a supervisor",
        "\"count\": 8",
        "ping won the rally",
        "in the other order, give another outcome",
        "Division by zero",
        "shut down",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    let root = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Root: "))
        .expect("the demo names its root");
    assert!(
        !std::path::Path::new(root).exists(),
        "the demo leaves nothing behind"
    );
}

#[test]
fn the_benchmark_reports_every_figure() {
    let out = Command::new(bin("eos"))
        .args([
            "--json",
            "bench",
            "--round-trips",
            "20",
            "--messages",
            "20",
            "--rounds",
            "3",
        ])
        .args(["--deep", "20,40", "--actors", "3", "--idle", "200ms"])
        .args(["--tree", "10", "--one-for-all", "4"])
        .output()
        .unwrap();
    let figures = json_of(&out);
    for place in ["disk", "tmpfs"] {
        let figures = &figures[place];
        for key in [
            "floor_round_trips_per_s",
            "ping_pong_round_trips_per_s",
            "ping_pong_ratio",
            "throughput_msgs_per_s",
            "throughput_ratio",
            "latency_median_us",
        ] {
            assert!(
                figures[key].as_f64().is_some_and(|v| v > 0.0),
                "{place} {key}: {figures}"
            );
        }
        for depth in ["20", "40"] {
            assert!(
                figures["deep_queue_msgs_per_s"][depth]
                    .as_f64()
                    .is_some_and(|v| v > 0.0)
            );
        }
    }
    assert!(
        figures["disk"]["checkpoint_s"].as_f64().is_some(),
        "{figures}"
    );
    let cost = &figures["disk"]["rules_and_invariants"];
    assert!(cost["ratio"].as_f64().is_some_and(|r| r > 0.0), "{cost}");
    let supervision = &figures["disk"]["supervision"];
    assert_eq!(supervision["tree_actors"], 10, "{supervision}");
    for key in ["tree_applied_s", "one_for_all_restart_s"] {
        assert!(
            supervision[key].as_f64().is_some_and(|v| v > 0.0),
            "{supervision}"
        );
    }
    let many = &figures["disk"]["many_actors"];
    assert_eq!(many["actors"], 3, "{many}");
    assert!(
        many["rss_mib_per_actor"].as_f64().is_some_and(|v| v > 0.0),
        "{many}"
    );
}

#[test]
fn manual_pages_are_generated_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(bin("eos"))
        .args(["man", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    ok(&out);
    for page in [
        "eos.1",
        "eos-send.1",
        "eos-tree.1",
        "eos-cleanup.1",
        "eos-trace.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(text.contains(".TH"), "{page}: {text}");
    }
    let main = ok(&Command::new(bin("eos")).arg("man").output().unwrap());
    assert!(
        main.contains(".TH eos 1") && main.contains("spawn"),
        "{main}"
    );
}

/// `eos trace | head`: the reader goes away before the output is written.
fn into_a_closed_pipe(sys: &System, args: &[&str]) -> std::process::Output {
    let mut child = sys.eos_command(args).spawn().unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn every_command_ends_quietly_on_a_closed_pipe() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("c", &counter_sh(), &[]);
    for n in 0..50 {
        sys.send("c", &format!("m{n}"), r#"{"inc": 1}"#);
    }
    wait_until("the counter has counted", || {
        sys.state("c")["count"].as_i64() == Some(50)
    });
    for args in [
        &["completions", "zsh"][..],
        &["trace"],
        &["log", "--json"],
        &["metrics", "--prometheus"],
    ] {
        let out = into_a_closed_pipe(&sys, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "eos {args:?}: {:?}\n{stderr}",
            out.status
        );
        assert!(!stderr.contains("panicked"), "eos {args:?}: {stderr}");
    }
}
