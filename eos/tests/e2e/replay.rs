//! Record and replay: the run after a checkpoint, as a schedule file, carried out again on the
//! real processes and checked step by step.

use std::fs;

use crate::support::*;

const BANK: &str = r#"
pub fn init() { #{ balance: 100, paid: [], refused: [] } }
pub fn handle(state, msg) {
    let amount = msg.payload.withdraw;
    if amount <= state.balance {
        state.balance -= amount;
        state.paid.push(msg.payload.who);
    } else {
        state.refused.push(msg.payload.who);
    }
    state
}
"#;

/// A recorded system: the bank (Rune) and a counter (bash), two withdrawals and a count
/// waiting at checkpoint `before`, then the run: everything handled, one more withdrawal sent.
fn recorded() -> (System, std::path::PathBuf) {
    let mut sys = System::new();
    sys.start_with(&["--record"]);
    let bank = sys.script("bank.rn", BANK);
    sys.spawn_script("bank", &bank, &[]);
    sys.spawn("c", &counter_sh(), &[]);
    ok(&sys.eos(&["pause"]));
    sys.send("bank", "alice", r#"{"withdraw": 70, "who": "alice"}"#);
    sys.send("bank", "bob", r#"{"withdraw": 50, "who": "bob"}"#);
    sys.send("c", "one", "{}");
    wait_pending(&sys, "bank", 2);
    wait_pending(&sys, "c", 1);
    ok(&sys.eos(&["checkpoint", "before"]));
    ok(&sys.eos(&["resume"]));
    wait_until("both withdrawals handled", || {
        sys.state("bank")["refused"]
            .as_array()
            .is_some_and(|r| r.len() == 1)
    });
    ok(&sys.eos(&["send", "bank", r#"{"withdraw": 10, "who": "carol"}"#]));
    // The journal is written at the end of the supervisor's turn: what is read from it next
    // must be there.
    wait_result(&sys, "bank", |s| s["balance"] == 20);
    wait_result(&sys, "c", |s| s["count"] == 1);
    (sys, bank)
}

/// Waits until the journal has a result of `actor` whose state matches.
fn wait_result(sys: &System, actor: &str, state: impl Fn(&serde_json::Value) -> bool) {
    wait_until(&format!("a result of {actor} is journaled"), || {
        journal(sys)
            .iter()
            .any(|e| e["event"] == "result" && e["actor"] == actor && state(&e["state"]))
    });
}

fn steps(schedule: &str) -> Vec<&str> {
    schedule
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect()
}

#[test]
fn a_recorded_run_replays_and_an_edited_script_diverges() {
    let (sys, bank) = recorded();
    // A bare payload put in send/ (as a naive actor sends) is told from an envelope.
    let sends: Vec<serde_json::Value> = journal(&sys)
        .into_iter()
        .filter(|e| e["event"] == "send")
        .collect();
    let bare = |who: &str| {
        sends
            .iter()
            .find(|e| e["payload"]["who"] == who || (who.is_empty() && e["to"] == "c"))
            .map(|e| e["bare"] == true)
    };
    assert_eq!(bare("alice"), Some(true));
    assert_eq!(bare(""), Some(true));
    assert_eq!(bare("carol"), Some(false), "eos send writes an envelope");
    let schedule = ok(&sys.eos(&["schedule", "before"]));
    let lines = steps(&schedule);
    assert_eq!(lines.len(), 5, "{schedule}");
    assert_eq!(
        lines[0],
        r#"deliver bank <- (outside) {"who":"alice","withdraw":70} => {"balance":30,"paid":["alice"],"refused":[]}"#
    );
    assert!(lines.contains(&r#"send bank <- (outside) {"who":"carol","withdraw":10}"#));
    assert!(lines.contains(&r#"deliver c <- (outside) {} => {"count":1}"#));

    // The same run again, on real processes: every result as recorded; paused at the end.
    let said = ok(&sys.eos(&["replay", "--from", "before"]));
    assert!(said.contains("replayed 5 step(s) as recorded"), "{said}");
    assert_eq!(sys.state("bank")["balance"], 20);
    assert_eq!(sys.state("c")["count"], 1);
    assert!(sys.path("paused").exists(), "left paused");
    assert!(!sys.path("replaying").exists());
    let restored = journal(&sys)
        .iter()
        .filter(|e| e["event"] == "restored")
        .count();
    assert_eq!(restored, 1, "the journal shows the jump");

    // The script changes: the replay stops at the first delivery that comes out differently,
    // paused there, and says what the record and the system hold.
    fs::write(
        &bank,
        BANK.replace("state.balance -= amount", "state.balance -= amount * 2"),
    )
    .unwrap();
    let out = sys.eos(&["--json", "replay", "--from", "before"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out).1);
    let report = json_of(&out)["diverged"].clone();
    assert_eq!(report["actor"], "bank");
    assert_eq!(report["recorded"]["balance"], 30);
    assert_eq!(report["actual"]["balance"], -40);
    assert!(
        report["step"].as_str().unwrap().contains("alice"),
        "{report}"
    );
    assert_eq!(sys.state("bank")["balance"], -40, "stopped right there");
    assert!(sys.path("paused").exists());
    assert_eq!(
        sys.ls("running/bank/spool").len(),
        1,
        "bob's withdrawal still waits"
    );
}

#[test]
fn an_edited_schedule_swaps_two_deliveries() {
    let (sys, _) = recorded();
    let file = sys.path("../swapped.schedule");
    ok(&sys.eos(&["schedule", "before", "-o", file.to_str().unwrap()]));
    // Bob first: swap the two withdrawals and drop what the record expected of them.
    let text = fs::read_to_string(&file).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let at = |lines: &[String], who: &str| {
        lines
            .iter()
            .position(|l| l.starts_with("deliver bank") && l.contains(who))
            .unwrap()
    };
    let (a, b) = (at(&lines, "alice"), at(&lines, "bob"));
    let unchecked = |l: &str| l.split(" => ").next().unwrap().to_owned();
    let (la, lb) = (unchecked(&lines[a]), unchecked(&lines[b]));
    lines[a] = lb;
    lines[b] = la;
    let carol = at(&lines, "carol");
    lines[carol] = unchecked(&lines[carol]);
    fs::write(&file, lines.join("\n")).unwrap();

    let said = ok(&sys.eos(&["replay", "--from", "before", file.to_str().unwrap()]));
    assert!(said.contains("as recorded"), "{said}");
    let state = sys.state("bank");
    assert_eq!(state["balance"], 40);
    assert_eq!(state["paid"], serde_json::json!(["bob", "carol"]));
    assert_eq!(state["refused"], serde_json::json!(["alice"]));
    // A new run was recorded: its schedule is the swapped one.
    let again = ok(&sys.eos(&["schedule", "before"]));
    assert!(
        steps(&again)[0].contains("bob") || steps(&again)[1].contains("bob"),
        "{again}"
    );

    // A schedule with a bad line is refused before anything changes.
    fs::write(&file, "deliver bank <- (outside) {\"withdraw\": }\n").unwrap();
    let err = fails(&sys.eos(&["replay", "--from", "before", file.to_str().unwrap()]));
    assert!(err.contains("line 1: the payload is not JSON"), "{err}");
    assert_eq!(sys.state("bank")["balance"], 40, "nothing was restored");
    let err = fails(&sys.eos(&["replay", "--from", "nowhere"]));
    assert!(err.contains("no checkpoint `nowhere`"), "{err}");

    // The checkpoint was taken paused: a restore is paused too, so either order can be tried.
    ok(&sys.eos(&["resume"]));
    let said = ok(&sys.eos(&["restore", "before"]));
    assert!(said.contains("paused"), "{said}");
    assert!(sys.path("paused").exists());
    assert_eq!(
        sys.ls("running/bank/spool").len(),
        2,
        "both withdrawals wait"
    );
}

#[test]
fn recorded_faults_and_hand_edits_are_replayed_with_the_rules_resting() {
    let mut sys = System::new();
    sys.start_with(&["--record"]);
    sys.spawn("c", &counter_sh(), &[]);
    // The rule is in the checkpoint: a replay that applied it again would drop more.
    ok(&sys.eos(&[
        "fault",
        "add",
        "drop",
        "--to",
        "c",
        "--payload",
        r#"{"lossy": true}"#,
    ]));
    ok(&sys.eos(&["checkpoint", "start"]));
    ok(&sys.eos(&["pause"]));
    sys.send("c", "lost", r#"{"lossy": true}"#);
    sys.wait_dead("dead", "c::lost.json");
    sys.send("c", "kept", r#"{"n": 1}"#);
    wait_pending(&sys, "c", 1);
    let pending = pending_file(&sys, "c", "kept");
    let edited = fs::read_to_string(&pending)
        .unwrap()
        .replace("\"n\": 1", "\"n\": 2");
    fs::write(&pending, edited).unwrap();
    wait_until("the edit is journaled", || {
        journal(&sys).iter().any(|e| e["event"] == "pending_edited")
    });
    ok(&sys.eos(&["resume"]));
    wait_result(&sys, "c", |s| s["count"] == 1);
    sys.put("running/c/state.json", r#"{"count": 10}"#);
    wait_until("the state edit is journaled", || {
        journal(&sys).iter().any(|e| e["event"] == "state_edited")
    });
    sys.send("c", "after", r#"{"n": 3}"#);
    // The bash counter counts the lines of its handled.log, whatever its state said.
    wait_result(&sys, "c", |s| s["count"] == 2);

    let schedule = ok(&sys.eos(&["schedule", "start"]));
    let lines = steps(&schedule);
    assert_eq!(
        lines,
        [
            r#"send c <- (outside) {"lossy":true}"#,
            r#"drop c <- (outside) {"lossy":true}"#,
            r#"send c <- (outside) {"n":1}"#,
            r#"edit c <- (outside) {"n":1} => {"n":2}"#,
            r#"deliver c <- (outside) {"n":2} => {"count":1}"#,
            r#"state c {"count":10}"#,
            r#"send c <- (outside) {"n":3}"#,
            r#"deliver c <- (outside) {"n":3} => {"count":2}"#,
        ],
        "{schedule}"
    );
    let said = ok(&sys.eos(&["replay", "--from", "start"]));
    assert!(said.contains("replayed 8 step(s)"), "{said}");
    assert_eq!(sys.state("c")["count"], 2);
    let reasons: Vec<String> = sys
        .ls("dead")
        .iter()
        .filter(|n| n.ends_with(".reason"))
        .map(|n| fs::read_to_string(sys.path("dead").join(n)).unwrap())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("dropped by eos replay")),
        "{reasons:?}"
    );
    assert!(!sys.path("replaying").exists());
    // A replay killed on the way leaves its file: the doctor says so, a resume ends it.
    sys.put("replaying", "eos replay --from start (pid 999999999)\n");
    let doctor = text(&sys.eos(&["doctor"])).0;
    assert!(
        doctor.contains("left from a replay that stopped"),
        "{doctor}"
    );
    // Resumed, the rules apply again.
    ok(&sys.eos(&["resume"]));
    assert!(!sys.path("replaying").exists());
    sys.send("c", "lost-again", r#"{"lossy": true}"#);
    sys.wait_dead("dead", "c::lost-again.json");
}

/// The history as git: one commit per delivery, `git log -p` shows what each changed, and
/// `git bisect run` finds the first delivery after which a predicate fails.
#[test]
fn the_history_as_git_commits_is_bisected() {
    let mut sys = System::new();
    sys.start_with(&["--record"]);
    // Deposits of 10 (negative withdrawals) and one overdraft in the middle; the bank's bug:
    // it lets mallory through unchecked.
    let buggy = BANK.replace(
        "if amount <= state.balance {",
        "if amount <= state.balance || msg.payload.who == \"mallory\" {",
    );
    let bank = sys.script("bank.rn", &buggy);
    sys.spawn_script("bank", &bank, &[]);
    sys.spawn("c", &counter_sh(), &[]);
    for (n, who) in ["a", "b", "c", "d", "mallory", "e", "f"].iter().enumerate() {
        let amount = if *who == "mallory" { 500 } else { -10 };
        ok(&sys.eos(&[
            "send",
            "bank",
            &format!(r#"{{"withdraw": {amount}, "who": "{who}", "n": {n}}}"#),
        ]));
        sys.send("c", &format!("m{n}"), "{}");
    }
    let handled = |sys: &System| {
        let state = sys.state("bank");
        let len = |k: &str| state[k].as_array().map_or(0, Vec::len);
        len("paid") + len("refused")
    };
    // Once overdrawn, the deposits after it are refused: the bug shows late.
    wait_until("all handled", || {
        handled(&sys) == 7 && sys.state("c")["count"] == 7
    });
    wait_result(&sys, "c", |s| s["count"] == 7);
    let seven = |s: &serde_json::Value| {
        let len = |k: &str| s[k].as_array().map_or(0, Vec::len);
        len("paid") + len("refused") == 7
    };
    wait_result(&sys, "bank", seven);
    let repo = sys.path("../history");
    let repo_s = repo.to_str().unwrap();
    let said = ok(&sys.eos(&["history", "--git", repo_s]));
    assert!(said.contains("commit(s)"), "{said}");
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out).1);
        String::from_utf8(out.stdout).unwrap()
    };
    let subjects = git(&["log", "--format=%s", "--reverse"]);
    let deliveries: Vec<&str> = subjects
        .lines()
        .filter(|l| l.starts_with("deliver bank"))
        .collect();
    assert_eq!(deliveries.len(), 7, "{subjects}");
    assert!(deliveries[4].contains("mallory"), "{subjects}");
    assert_eq!(
        subjects
            .lines()
            .filter(|l| l.starts_with("deliver c"))
            .count(),
        7
    );
    // What the overdraft changed, as a diff of bank/state.json.
    let mallory = git(&[
        "log",
        "-p",
        "-1",
        "--grep",
        "mallory",
        "--",
        "bank/state.json",
    ]);
    assert!(mallory.contains("-  \"balance\": 140"), "{mallory}");
    assert!(mallory.contains("+  \"balance\": -360"), "{mallory}");

    // Bisect: the first commit is good (balance 100), the last bad (negative).
    let first = git(&["rev-list", "--max-parents=0", "HEAD"]);
    git(&["bisect", "start", "HEAD", first.trim()]);
    let found = git(&[
        "bisect",
        "run",
        "sh",
        "-c",
        "! grep -q '\"balance\": -' bank/state.json",
    ]);
    assert!(found.contains("is the first bad commit"), "{found}");
    assert!(found.contains("deliver bank <- (outside)"), "{found}");
    assert!(found.contains("mallory"), "{found}");
    git(&["bisect", "reset"]);

    // A second run goes on from the last commit, adding only what is new.
    ok(&sys.eos(&["send", "bank", r#"{"withdraw": -1, "who": "g"}"#]));
    wait_until("g handled", || handled(&sys) == 8);
    wait_result(&sys, "bank", |s| s["refused"].to_string().contains("\"g\""));
    let before: usize = git(&["rev-list", "--count", "HEAD"])
        .trim()
        .parse()
        .unwrap();
    ok(&sys.eos(&["history", "--git", repo_s]));
    let after: usize = git(&["rev-list", "--count", "HEAD"])
        .trim()
        .parse()
        .unwrap();
    assert_eq!(after, before + 1);
    let newest = git(&["show", "HEAD:bank/state.json"]);
    assert!(newest.contains("\"g\""), "{newest}");
}
