//! Hardening and compatibility: files that are not files, signals that are not the
//! supervisor's, roots that are not roots, names that are too long, and programs written for
//! the original EOS.

use std::fs;
use std::path::Path;

use nix::sys::stat::Mode;
use nix::unistd::mkfifo;
use serde_json::json;

use crate::support::*;

fn fifo(path: &Path) {
    mkfifo(path, Mode::S_IRUSR | Mode::S_IWUSR).unwrap();
}

fn seed_naive() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/fixtures/seed_naive.sh")
}

#[test]
fn an_actor_that_works_in_its_trap_gets_each_message_exactly_once() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("naive", &seed_naive(), &[]);
    for n in 0..3 {
        sys.send("naive", &format!("n{n}"), &format!(r#"{{"n": {n}}}"#));
    }
    wait_until("all three are handled", || sys.state("naive")["count"] == 3);
    wait_until("nothing waits", || sys.ls("running/naive/spool").is_empty());
    let got = fs::read_to_string(sys.actor_dir("naive").join("got.log")).unwrap();
    assert_eq!(got.matches("\"payload\"").count(), 3, "{got}");
    assert_eq!(sys.state("naive")["count"], 3);
}

#[test]
fn messages_named_as_the_original_eos_named_them_are_routed() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("c", &counter_sh(), &[]);
    sys.put("send/c::8c2f5e1d-1111", "{}");
    wait_until("it is handled", || sys.handled("c") == ["8c2f5e1d-1111"]);
    sys.put("send/c::notes.bak", "{}");
    assert!(
        sys.path("send/c::notes.bak").exists(),
        "other extensions are not messages"
    );
}

#[test]
fn fifos_anywhere_neither_block_the_supervisor_nor_stop_it() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("t", &tally(), &[]);
    for place in [
        "send/t::f1.json",
        "spawn/f2.json",
        "control/f3.json",
        "dead/f4.json.reason",
        "running/t/spool/000000000099-f5.json",
    ] {
        fifo(&sys.path(place));
    }
    sys.send("t", "after", "{}");
    wait_until("the next message is still handled", || {
        sys.state("t")["count"] == 1
    });
    sys.wait_dead("dead", "t::f1.json");
    let reason = sys.wait_dead("dead/spawn", "f2.json");
    assert!(reason.contains("FIFO"), "{reason}");
    wait_until("the FIFO in the spool is set aside", || {
        sys.ls("dead").iter().any(|n| n.starts_with("t::f5"))
    });
    // A state that is a FIFO: the message that would read it goes to dead/ with why.
    let state = sys.actor_dir("t").join("state.json");
    fs::remove_file(&state).unwrap();
    fifo(&state);
    sys.send("t", "blocked", "{}");
    let reason = sys.wait_dead("dead", "t::blocked.json");
    assert!(reason.contains("FIFO"), "{reason}");
    assert!(sys.stop().success(), "SIGTERM still stops it");
}

#[test]
fn signals_that_are_not_the_supervisors_do_not_stop_it() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("c", &counter_sh(), &[]);
    let pid = sys.supervisor_pid();
    for name in ["USR2", "PIPE", "WINCH", "IO", "ALRM", "XFSZ", "RTMIN+3"] {
        signal(pid, name);
    }
    sys.send("c", "m1", "{}");
    wait_until("it still delivers", || sys.handled("c") == ["m1"]);
    assert!(alive(pid));
}

#[test]
fn system_folders_and_foreign_folders_are_refused_as_roots() {
    let sys = System::new();
    for root in ["/", "/etc", "/usr"] {
        let out = std::process::Command::new(bin("supervisor"))
            .arg(root)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{root}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("system folder"), "{root}: {err}");
    }
    fs::create_dir_all(&sys.root).unwrap();
    fs::write(sys.root.join("Cargo.toml"), "[package]").unwrap();
    let out = sys.run_supervisor(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not an EOS root") && err.contains("Cargo.toml"),
        "{err}"
    );
    assert!(sys.root.join("Cargo.toml").exists() && !sys.root.join("spawn").exists());
    // --force takes it anyway.
    let mut sys = sys;
    sys.start_with(&["--force"]);
    assert!(sys.root.join("spawn").is_dir());
}

#[test]
fn a_dead_letter_whose_name_is_too_long_still_gets_its_reason() {
    let mut sys = System::new();
    sys.start();
    let name = format!("{}.json", "n".repeat(240));
    sys.put(&format!("send/{name}"), "{}");
    wait_until("it is set aside with a reason", || {
        sys.ls("dead").iter().any(|n| n.ends_with(".reason"))
    });
    let reason = sys
        .ls("dead")
        .into_iter()
        .find(|n| n.ends_with(".reason"))
        .unwrap();
    let text = fs::read_to_string(sys.path(&format!("dead/{reason}"))).unwrap();
    assert!(text.contains("does not follow"), "{text}");
}

#[test]
fn a_state_that_is_not_json_is_said_to_be_not_json() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("t", &tally(), &[]);
    fs::write(sys.actor_dir("t").join("state.json"), "-").unwrap();
    sys.send("t", "m1", "{}");
    let reason = sys.wait_dead("dead", "t::m1.json");
    assert!(reason.contains("not valid JSON"), "{reason}");
    assert_eq!(
        json!(fs::read_to_string(sys.actor_dir("t").join("state.json")).unwrap()),
        json!("-")
    );
}

#[test]
fn an_exited_actor_is_restarted_with_its_state_and_mail() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("c", &counter_sh(), &[]);
    sys.send("c", "bye", r#"{"exit": true}"#);
    wait_until("it exited", || sys.status("c")["status"] == "exited");
    sys.send("c", "waiting", "{}");
    wait_until("the message waits", || sys.ls("running/c/spool").len() == 1);
    let err = fails(&sys.eos(&["restart", "ghost"]));
    assert!(err.contains("ghost"), "{err}");
    let out = ok(&sys.eos(&["restart", "c"]));
    assert!(out.contains("restarted c"), "{out}");
    wait_until("the waiting message is handled", || {
        sys.handled("c") == ["bye", "waiting"] && sys.state("c") == json!({"count": 2})
    });
    let err = fails(&sys.eos(&["restart", "c"]));
    assert!(err.contains("is running"), "{err}");
    // A new supervisor says which actors it found exited, and how to restart them.
    sys.send("c", "bye2", r#"{"exit": true}"#);
    wait_until("it exited again", || sys.status("c")["status"] == "exited");
    sys.kill9();
    sys.start();
    wait_until("the supervisor says so", || {
        sys.log().contains("eos restart ID")
    });
}

#[test]
fn send_wait_prints_the_new_state_or_why_it_failed() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("t", &tally(), &[]);
    let out = json_of(&sys.eos(&["--json", "send", "t", r#"{"x": 1}"#, "--wait"]));
    assert_eq!(out["state"]["count"], 1, "{out}");
    assert_eq!(out["state"]["last"], json!({"x": 1}));
    let text = ok(&sys.eos(&["send", "t", "{}", "--wait"]));
    assert!(text.contains("\"count\": 2"), "{text}");
    let err = fails(&sys.eos(&["send", "t", r#"{"fail": "no"}"#, "--wait"]));
    assert!(
        err.contains("asked to fail") && err.contains("dead/"),
        "{err}"
    );
}

#[test]
fn status_says_stopped_once_the_supervisor_is_gone() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("t", &tally(), &[]);
    sys.kill9();
    let list = json_of(&sys.eos(&["--json", "list"]));
    assert_eq!(list[0]["status"], "stopped", "{list}");
    assert!(list[0]["pid"].is_null());
    sys.start();
    wait_until("it runs again", || {
        json_of(&sys.eos(&["--json", "list"]))[0]["status"] == "running"
    });
    ok(&sys.eos(&["down"]));
    assert_eq!(sys.status("t")["status"], "stopped", "written at eos down");
    let list = json_of(&sys.eos(&["--json", "list"]));
    assert_eq!(list[0]["status"], "stopped");
}

#[test]
fn eos_down_stops_the_supervisor_whatever_pid_file_says() {
    let mut sys = System::new();
    sys.start();
    let supervisor = sys.supervisor_pid();
    // Someone else's process, named in .pid.
    let mut other = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    fs::write(sys.path(".pid"), format!("{}\n", other.id())).unwrap();
    ok(&sys.eos(&["down"]));
    assert!(
        other.try_wait().unwrap().is_none(),
        "the other process lives"
    );
    wait_until("the supervisor stopped", || !alive(supervisor));
    let _ = other.kill();
    let _ = other.wait();
}

#[test]
fn spawn_script_checks_its_options_and_its_name_before_spawning() {
    let mut sys = System::new();
    sys.start();
    let script = sys.script("bank.rn", "pub fn handle(s, m) { s }\n");
    let err = fails(&sys.eos(&[
        "spawn-script",
        script.to_str().unwrap(),
        "--",
        "--deadlin",
        "5s",
    ]));
    assert!(err.contains("--deadlin"), "{err}");
    assert!(sys.ls("running").is_empty(), "nothing was spawned");
    ok(&sys.eos(&["spawn-script", script.to_str().unwrap()]));
    let err = fails(&sys.eos(&["spawn-script", script.to_str().unwrap()]));
    assert!(
        err.contains("`bank` already exists") && err.contains("--id"),
        "{err}"
    );
    ok(&sys.eos(&["spawn-script", script.to_str().unwrap(), "--id", "bank-2"]));
    assert_eq!(sys.ls("running"), ["bank", "bank-2"]);
}

#[test]
fn spawn_finds_a_program_in_this_folder_and_copies_files_in() {
    let mut sys = System::new();
    sys.start();
    let here = counter_sh().parent().unwrap().to_path_buf();
    let data = sys.root.parent().unwrap().join("data");
    fs::create_dir_all(data.join("nested")).unwrap();
    fs::write(data.join("nested/table.txt"), "1 2 3").unwrap();
    let config = sys.root.parent().unwrap().join("config.json");
    fs::write(&config, "{}").unwrap();
    let out = std::process::Command::new(bin("eos"))
        .current_dir(&here)
        .arg("--root")
        .arg(&sys.root)
        .args(["spawn", "counter.sh", "--id", "c", "--copy"])
        .arg(&config)
        .arg("--copy")
        .arg(&data)
        .output()
        .unwrap();
    ok(&out);
    let dir = sys.actor_dir("c");
    assert_eq!(fs::read_to_string(dir.join("config.json")).unwrap(), "{}");
    assert_eq!(
        fs::read_to_string(dir.join("data/nested/table.txt")).unwrap(),
        "1 2 3"
    );
    // A copy may not take the name of one of the actor's own files.
    let state = sys.root.parent().unwrap().join("state.json");
    fs::write(&state, "{}").unwrap();
    let request = json!({"path": counter_sh(), "id": "d", "copy": [state]});
    sys.put("spawn/d.json", &request.to_string());
    let reason = sys.wait_dead("dead/spawn", "d.json");
    assert!(reason.contains("own files"), "{reason}");
}

/// A shell actor that starts a long-lived grandchild in a session of its own (out of the
/// actor's process group) and writes its pid to `grandchild`.
fn forker(sys: &System) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = sys.script(
        "forker.sh",
        "#!/usr/bin/env bash\n\
         dir=$(dirname \"$2\")\n\
         setsid sleep 1000 < /dev/null > /dev/null 2>&1 &\n\
         echo $! > \"$dir/grandchild\"\n\
         trap 'exit 0' TERM\n\
         while :; do sleep 1 & wait $!; done\n",
    );
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn grandchild(sys: &System, id: &str) -> u32 {
    let file = sys.actor_dir(id).join("grandchild");
    wait_until("the grandchild is started", || {
        fs::read_to_string(&file).is_ok_and(|t| t.ends_with('\n'))
    });
    fs::read_to_string(&file).unwrap().trim().parse().unwrap()
}

#[test]
fn an_actors_descendants_never_outlive_it_nor_a_killed_supervisor() {
    let mut sys = System::new();
    sys.start();
    let script = forker(&sys);
    sys.spawn("f", &script, &[]);
    let first = grandchild(&sys, "f");
    assert!(alive(first));
    ok(&sys.eos(&["kill", "f"]));
    wait_until("the grandchild is gone with its actor", || !alive(first));

    sys.spawn("g", &script, &[]);
    let second = grandchild(&sys, "g");
    sys.kill9();
    assert!(alive(second), "a killed supervisor cannot clean up");
    sys.start();
    wait_until("the next supervisor clears it", || !alive(second));
}

#[test]
fn a_spool_replaced_by_a_link_out_of_the_root_receives_nothing() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("t", &tally(), &[]);
    sys.spawn("other", &tally(), &[]);
    let outside = sys.root.parent().unwrap().join("outside");
    fs::create_dir_all(&outside).unwrap();
    let spool = sys.actor_dir("t").join("spool");
    fs::rename(&spool, sys.root.parent().unwrap().join("old-spool")).unwrap();
    std::os::unix::fs::symlink(&outside, &spool).unwrap();
    sys.send("t", "m1", "{}");
    wait_until("the supervisor noticed", || {
        sys.log().contains("spool of t")
    });
    // A rescan, then a message it handles after it: by then m1 has been looked at again.
    signal(sys.supervisor_pid(), "HUP");
    sys.send("other", "o1", "{}");
    wait_until("other's message is handled", || {
        sys.state("other")["count"] == 1
    });
    assert!(
        fs::read_dir(&outside).unwrap().next().is_none(),
        "nothing outside"
    );
    assert!(sys.path("send/t::m1.json").exists(), "it waits in send/");
    // A real folder again: the message goes.
    fs::remove_file(&spool).unwrap();
    fs::create_dir(&spool).unwrap();
    wait_until("it is handled", || sys.state("t")["count"] == 1);
}

/// A small filesystem of its own for the root, mounted for the test (root only).
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_full_disk_sets_nothing_aside_and_loses_nothing() {
    let mut sys = System::new();
    fs::create_dir_all(&sys.root).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs"])
        .arg(&sys.root)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: mounting a small filesystem needs root");
        return;
    }
    let _guard = Mounted(sys.root.clone());
    sys.start();
    sys.spawn("t", &tally(), &[]);
    sys.send("t", "before", "{}");
    wait_until("the first is handled", || sys.state("t")["count"] == 1);
    let pid = sys.status("t")["pid"].as_u64().unwrap() as u32;
    // Three messages written while there is room, then the disk is filled, then they are sent
    // (a rename needs no room; wrapping them in an envelope does).
    for n in 0..3 {
        fs::write(
            sys.path(&format!(".scratch/m{n}")),
            format!(r#"{{"n": {n}}}"#),
        )
        .unwrap();
    }
    // And one that is an envelope already: it needs no room to be routed and delivered, but
    // the actor has none to write its state.
    let envelope = r#"{"id": "env", "sender": null, "payload": {"n": 9}}"#;
    fs::write(sys.path(".scratch/env"), envelope).unwrap();
    let filler = sys.path("filler");
    let _ = std::process::Command::new("dd")
        .args(["if=/dev/zero", "bs=64k"])
        .arg(format!("of={}", filler.display()))
        .stderr(std::process::Stdio::null())
        .status();
    for n in 0..3 {
        fs::rename(
            sys.path(&format!(".scratch/m{n}")),
            sys.path(&format!("send/t::full{n}.json")),
        )
        .unwrap();
    }
    fs::rename(sys.path(".scratch/env"), sys.path("send/t::env.json")).unwrap();
    wait_until("the supervisor says there is no room", || {
        sys.log().contains("no room") || sys.log().contains("No space")
    });
    wait_until("env is delivered", || {
        sys.log().contains("delivering 000000000004-env.json")
    });
    // The actor took the signal, could not write its state, and waits to try again: asleep,
    // no SIGUSR1 pending, the message still there.
    wait_until("the actor keeps its message for later", || {
        let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        let usr1_pending = ["SigPnd:", "ShdPnd:"]
            .iter()
            .any(|f| u64::from_str_radix(&field(f), 16).is_ok_and(|mask| mask & (1 << 9) != 0));
        field("State:").starts_with('S')
            && !usr1_pending
            && sys.path("running/t/spool/current").exists()
    });
    assert_eq!(sys.state("t")["count"], 1, "the state is unchanged");
    assert!(alive(pid), "the actor is alive");
    assert!(
        sys.ls("dead").iter().all(|n| n == "spawn"),
        "nothing set aside: {:?}",
        sys.ls("dead")
    );
    fs::remove_file(&filler).unwrap();
    signal(sys.supervisor_pid(), "HUP");
    wait_until("all are handled once there is room", || {
        sys.state("t")["count"] == 5
    });
    assert!(sys.ls("dead").iter().all(|n| n == "spawn"));
}

#[test]
fn doctor_says_what_is_wrong_and_what_to_do() {
    let mut sys = System::new();
    sys.start();
    sys.spawn("t", &tally(), &[]);
    let healthy = ok(&sys.eos(&["doctor"]));
    assert!(healthy.contains("nothing is wrong"), "{healthy}");

    sys.spawn("c", &counter_sh(), &[]);
    sys.send("c", "bye", r#"{"exit": true}"#);
    wait_until("c exited", || sys.status("c")["status"] == "exited");
    let broken = sys.script("broken.rn", "pub fn handle(");
    sys.spawn_script("b", &broken, &[]);
    wait_until("its problem shows", || {
        sys.actor_dir("b").join("problem.txt").exists()
    });
    sys.put("send/notes.txt", "hello");
    sys.send("ghost", "g1", "{}");
    sys.wait_dead("dead", "ghost::g1.json");
    let out = sys.eos(&["doctor"]);
    assert_eq!(out.status.code(), Some(1));
    let (text, _) = text(&out);
    for expected in [
        "`c` exited with code 3",
        "eos restart c",
        "`b`'s script does not compile",
        "send/notes.txt: not a message name",
        "1 dead letter(s)",
        "no actor `ghost`",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    let pending = ok(&sys.eos(&["pending"]));
    assert!(pending.contains("not routed send/notes.txt"), "{pending}");

    sys.kill9();
    let findings = json_of(&sys.eos(&["--json", "doctor"]));
    let stale = findings
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["what"].as_str().unwrap().contains(".pid names"))
        .unwrap_or_else(|| panic!("{findings}"));
    assert_eq!(stale["level"], "warning");
    assert!(stale["fix"].as_str().unwrap().contains("eos up"));
}
