//! The test harness: a real supervisor on a temporary root, driven through files and signals
//! only, and a way to wait for what a user would see.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// How long any condition may take before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `condition` every 10 ms until it holds, or fails the test after [`DEADLINE`].
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The directory holding the workspace's binaries: `cargo test --release` builds all three
/// beside each other (each package has an integration test, which makes Cargo build its
/// binaries first).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .to_path_buf()
}

/// The path of a workspace binary, checked to exist.
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test --release` (or nextest) so that every \
         package's binaries are built",
        path.display()
    );
    path
}

/// The Rust test actor (the SDK example `tally`).
pub fn tally() -> PathBuf {
    bin("examples/tally")
}

/// The shell test actor.
pub fn counter_sh() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/fixtures/counter.sh")
}

/// A temporary root and, once started, the supervisor running on it.
pub struct System {
    _dir: TempDir,
    pub root: PathBuf,
    log: PathBuf,
    supervisor: Option<Child>,
    pub tick: &'static str,
}

impl System {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("root");
        let log = dir.path().join("supervisor.log");
        System {
            _dir: dir,
            root,
            log,
            supervisor: None,
            tick: "200ms",
        }
    }

    /// A system whose supervisor never rescans on its own: what happens, happens by event.
    pub fn without_tick() -> Self {
        let mut sys = System::new();
        sys.tick = "1000m";
        sys
    }

    /// Starts the supervisor and waits until it is ready (its `.pid` names it).
    pub fn start(&mut self) -> &mut Self {
        self.start_with(&[])
    }

    pub fn start_with(&mut self, extra: &[&str]) -> &mut Self {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = self
            .supervisor_command()
            .args(["--tick", self.tick, "--grace", "5s", "-v"])
            .args(extra)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start the supervisor");
        let pid = child.id().to_string();
        self.supervisor = Some(child);
        let pid_file = self.root.join(".pid");
        wait_until("the supervisor writes .pid", || {
            fs::read_to_string(&pid_file).is_ok_and(|p| p.trim() == pid)
        });
        self
    }

    /// The supervisor command on this root, not started.
    pub fn supervisor_command(&self) -> Command {
        let mut command = Command::new(bin("supervisor"));
        command.arg(&self.root).stdin(Stdio::null());
        command
    }

    /// Runs the supervisor to completion (for start-up refusals) and returns its output.
    pub fn run_supervisor(&self, extra: &[&str]) -> Output {
        self.supervisor_command()
            .args(extra)
            .output()
            .expect("run the supervisor")
    }

    pub fn supervisor_pid(&self) -> u32 {
        self.supervisor.as_ref().expect("started").id()
    }

    /// Kills the supervisor with SIGKILL (nothing can be cleaned up) and reaps it.
    pub fn kill9(&mut self) {
        let mut child = self.supervisor.take().expect("started");
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
    }

    /// Asks the supervisor to stop (SIGTERM) and waits for it.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.supervisor.take().expect("started");
        signal(child.id(), "TERM");
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "the supervisor did not stop");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The supervisor's log so far, for assertions and failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// Writes a file the way a careful tool does: a hidden temp file, then a rename.
    pub fn put(&self, relative: &str, contents: &str) {
        let path = self.path(relative);
        let tmp = path.with_file_name(format!(
            ".{}.tmp",
            path.file_name().unwrap().to_string_lossy()
        ));
        fs::write(&tmp, contents).expect("write temp file");
        fs::rename(&tmp, &path).expect("rename into place");
    }

    /// Writes a spawn request and waits until the actor is running.
    pub fn spawn(&self, id: &str, program: &Path, args: &[&str]) {
        let request = serde_json::json!({"path": program, "args": args, "id": id});
        self.put(&format!("spawn/{id}.json"), &request.to_string());
        self.wait_running(id);
    }

    /// Writes a Rune script into the test's folder and returns its path.
    pub fn script(&self, name: &str, source: &str) -> PathBuf {
        let path = self.root.parent().unwrap().join(name);
        fs::write(&path, source).expect("write script");
        path
    }

    /// Spawns `script` as a script actor and waits until it runs.
    pub fn spawn_script(&self, id: &str, script: &Path, options: &[&str]) {
        let mut args = vec![script.to_str().unwrap()];
        args.extend(options);
        self.spawn(id, &bin("script-actor"), &args);
    }

    /// Runs `eos --root ROOT args...` to completion.
    pub fn eos(&self, args: &[&str]) -> Output {
        self.eos_with_stdin(args, "")
    }

    /// `eos --root ROOT args...`, ready to run, its output piped.
    pub fn eos_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(bin("eos"));
        command
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .env_remove("EOS_ROOT")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    pub fn eos_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .eos_command(args)
            .stdin(Stdio::piped())
            .spawn()
            .expect("run eos");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().expect("eos output")
    }

    pub fn wait_running(&self, id: &str) {
        wait_until(&format!("{id} is running"), || {
            self.status(id)["status"] == "running"
        });
    }

    /// Sends `json` to `to` with message id `id`.
    pub fn send(&self, to: &str, id: &str, json: &str) {
        self.put(&format!("send/{to}::{id}.json"), json);
    }

    pub fn actor_dir(&self, id: &str) -> PathBuf {
        self.root.join("running").join(id)
    }

    /// An actor's `state.json`; `Null` while it is missing or (mid-write by hand) invalid.
    pub fn state(&self, id: &str) -> Value {
        read_json(&self.actor_dir(id).join("state.json"))
    }

    pub fn status(&self, id: &str) -> Value {
        read_json(&self.actor_dir(id).join("status.json"))
    }

    /// The message ids the shell actor `id` has handled, in order.
    pub fn handled(&self, id: &str) -> Vec<String> {
        fs::read_to_string(self.actor_dir(id).join("handled.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The names in a folder of the root, sorted, without hidden files (as `ls` shows them).
    pub fn ls(&self, relative: &str) -> Vec<String> {
        let mut names = self.ls_all(relative);
        names.retain(|n| !n.starts_with('.'));
        names
    }

    /// All names in a folder of the root, hidden ones included (as `ls -A` shows them).
    pub fn ls_all(&self, relative: &str) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.path(relative))
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Waits for a dead letter `name` in `dir` (relative to the root) and returns its reason.
    pub fn wait_dead(&self, dir: &str, name: &str) -> String {
        let reason = self.path(&format!("{dir}/{name}.reason"));
        wait_until(&format!("{dir}/{name} is set aside with a reason"), || {
            reason.exists() && self.path(&format!("{dir}/{name}")).exists()
        });
        fs::read_to_string(reason).unwrap()
    }

    /// The reason of the first dead letter whose name starts with `prefix`, once there is one.
    pub fn wait_dead_matching(&self, dir: &str, prefix: &str) -> String {
        let mut found = None;
        wait_until(&format!("a dead letter {prefix}… in {dir}"), || {
            found = self
                .ls(dir)
                .into_iter()
                .find(|n| n.starts_with(prefix) && n.ends_with(".reason"));
            found.is_some()
        });
        fs::read_to_string(self.path(&format!("{dir}/{}", found.unwrap_or_default()))).unwrap()
    }
}

impl Drop for System {
    fn drop(&mut self) {
        // Actors die with the supervisor (parent-death signal).
        if let Some(mut child) = self.supervisor.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // One started by `eos up` is not our child: find it by its .pid.
        if let Ok(pid) = fs::read_to_string(self.root.join(".pid"))
            && alive(pid.trim().parse().unwrap_or(0))
        {
            let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
        }
        if std::thread::panicking() {
            eprintln!("--- supervisor log ---\n{}", self.log());
            eprintln!("--- root ---\n{}", tree(&self.root));
        }
    }
}

pub fn read_json(path: &Path) -> Value {
    fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null)
}

/// Sends a signal by name with kill(1), as a person at a shell would.
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// Whether a process exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.rsplit_once(") ")?.1.chars().next()?;
            Some(state != 'Z' && state != 'X')
        })
        .unwrap_or(false)
}

/// Every file under `dir`, with the contents of small ones: what a person would look at.
pub fn tree(dir: &Path) -> String {
    let mut out = String::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(entries) = fs::read_dir(&path) else {
            continue;
        };
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
        entries.sort();
        for entry in entries.into_iter().rev() {
            let meta = fs::symlink_metadata(&entry);
            if entry.is_dir() {
                stack.push(entry);
            } else if !meta.is_ok_and(|m| m.is_file()) {
                // A FIFO would block the reader: shown, not read.
                out.push_str(&format!("{}: (not a regular file)\n", entry.display()));
            } else {
                let text = fs::read_to_string(&entry).unwrap_or_default();
                let shown: String = text.chars().take(200).collect();
                out.push_str(&format!(
                    "{}: {}\n",
                    entry.display(),
                    shown.replace('\n', " ")
                ));
            }
        }
    }
    out
}

/// Standard output and error of a finished command, for assertions.
pub fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The standard output of a command that must succeed, with no terminal styles in it (output
/// that is not a terminal is plain).
pub fn ok(out: &Output) -> String {
    let (stdout, stderr) = text(out);
    assert!(out.status.success(), "failed: {stderr}\n{stdout}");
    assert!(
        !stdout.contains('\x1b'),
        "styles must be dropped when piped: {stdout:?}"
    );
    stdout
}

/// The standard error of a command that must fail with exit code 1.
pub fn fails(out: &Output) -> String {
    let (stdout, stderr) = text(out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected failure: {stdout}{stderr}"
    );
    stderr
}

/// The standard output of a `--json` command, parsed.
pub fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).expect("--json output is JSON")
}

/// The spool file of the pending message `id` of `actor`.
pub fn pending_file(sys: &System, actor: &str, id: &str) -> PathBuf {
    let spool = sys.actor_dir(actor).join("spool");
    let name = sys
        .ls(&format!("running/{actor}/spool"))
        .into_iter()
        .find(|n| n.ends_with(&format!("-{id}.json")))
        .unwrap_or_else(|| panic!("{id} is not pending for {actor}"));
    spool.join(name)
}

/// Waits until `count` messages wait in `actor`'s spool.
pub fn wait_pending(sys: &System, actor: &str, count: usize) {
    wait_until(&format!("{count} messages wait for {actor}"), || {
        sys.ls(&format!("running/{actor}/spool"))
            .iter()
            .filter(|n| n.ends_with(".json"))
            .count()
            == count
    });
}

/// Every entry of the journal, as JSON.
pub fn journal(sys: &System) -> Vec<Value> {
    ["journal.1.jsonl", "journal.jsonl"]
        .iter()
        .flat_map(|f| {
            fs::read_to_string(sys.path(f))
                .unwrap_or_default()
                .lines()
                // A line being written may be read half: skipped, as `eos log` does.
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect::<Vec<Value>>()
        })
        .collect()
}
