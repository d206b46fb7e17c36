//! Every directory and file name of the EOS protocol, in one place.
//!
//! The layout of a root is a public contract: shell scripts, editors and tools read and write
//! these files directly. No other module spells a path or a file name; they ask this one.

use std::path::{Path, PathBuf};

use crate::id::{ActorId, MessageId};

/// The root the supervisor and the CLI use when none is given, as in the original EOS.
pub const DEFAULT_ROOT: &str = "/var/actors";

/// The environment variable that names the root for the CLI (and is set for every actor).
pub const ROOT_ENV: &str = "EOS_ROOT";

/// The environment variable that carries an actor's own id (set for every actor).
pub const ACTOR_ID_ENV: &str = "EOS_ACTOR_ID";

/// The name of the message an actor is allowed to read, inside its spool.
pub const CURRENT: &str = "current";

/// Where `eos bench`'s probe actor notes when each message arrived, beside its state.
pub const PROBE_LOG: &str = "received.log";

/// The name of an actor's state file, inside its folder.
pub const STATE: &str = "state.json";

/// The name of the file that pauses delivery, in the root or in an actor's folder.
pub const PAUSED: &str = "paused";

/// While this file exists in a root, `eos replay` is driving it: fault rules are not applied
/// (the recorded faults are replayed instead).
pub const REPLAYING: &str = "replaying";

const PID_FILE: &str = ".pid";
const LOCK_FILE: &str = ".lock";
const SCRATCH: &str = ".scratch";
/// The root's folder of spawn requests.
pub const SPAWN: &str = "spawn";
/// The root's folder of outgoing messages.
pub const SEND: &str = "send";
const RUNNING: &str = "running";
const DEAD: &str = "dead";
const CONTROL: &str = "control";
const JOURNAL: &str = "journal.jsonl";
const OLD_JOURNAL: &str = "journal.1.jsonl";
const METRICS: &str = "metrics.jsonl";
const OLD_METRICS: &str = "metrics.1.jsonl";
const SUPERVISOR_LOG: &str = "supervisor.log";
/// The name of an actor's spool folder, inside its folder.
pub const SPOOL: &str = "spool";
const STATUS: &str = "status.json";
const SPAWN_RECORD: &str = "spawn.json";
const ACTOR_LOG: &str = "actor.log";
const LAST_ERROR: &str = "last_error.txt";
const PROBLEM: &str = "problem.txt";
const TREES: &str = "trees";
const FAULTS: &str = "faults";
const BREAKPOINTS: &str = "breakpoints";
const INVARIANTS: &str = "invariants";
const VIOLATIONS: &str = "violations";
const CHECKPOINTS: &str = "checkpoints";
const EXPLORE: &str = "explore";
const EXPLORE_SUMMARY: &str = "summary.json";
const COUNTEREXAMPLE: &str = "counterexample.schedule";
const MINIMIZED: &str = "minimized.schedule";
const REPLIES: &str = "replies.jsonl";
const MAELSTROM_RESULTS: &str = "maelstrom-results.json";
const CHECKPOINT_RECORD: &str = "checkpoint.json";
const RUNNING_ASIDE: &str = ".running.before-restore";
const KEPT_SCRIPT: &str = "script.rn";
const SUPERVISION: &str = "supervision.json";
const RESTART: &str = "restart";
const MONITORS: &str = "monitors";
const LINKS: &str = "links";
const TRAP_EXITS: &str = "trap_exits";
const STRATEGY: &str = "strategy";
const STORE: &str = "store";
const MESSAGE_EXT: &str = ".json";
const SEND_SEPARATOR: &str = "::";
const REASON_EXT: &str = ".reason";
const STAGING_EXT: &str = ".new";
const TEMP_EXT: &str = ".tmp";

/// The root to use when none is given, and why it is not [`DEFAULT_ROOT`] if it is not.
///
/// `/var/actors` when this user may create or write it; otherwise a per-user directory
/// (`$XDG_STATE_HOME/eos`, `~/.local/state/eos`, or `/tmp/eos-<uid>`). The supervisor and the
/// CLI both call this, so they agree without being told.
pub fn default_root() -> (PathBuf, Option<String>) {
    default_root_for(Path::new(DEFAULT_ROOT))
}

fn default_root_for(preferred: &Path) -> (PathBuf, Option<String>) {
    use nix::unistd::{AccessFlags, access};
    let usable = |p: &Path| access(p, AccessFlags::W_OK | AccessFlags::X_OK).is_ok();
    let fits = if preferred.exists() {
        usable(preferred)
    } else {
        preferred.parent().is_some_and(usable)
    };
    if fits {
        return (preferred.to_path_buf(), None);
    }
    let fallback = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".local/state"))
        })
        .map(|base| base.join("eos"))
        .unwrap_or_else(|| PathBuf::from(format!("/tmp/eos-{}", nix::unistd::getuid())));
    let why = format!(
        "{} cannot be created or written by this user, so the root is {}",
        preferred.display(),
        fallback.display()
    );
    (fallback, Some(why))
}

/// An EOS root: the directory that holds the whole running system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    path: PathBuf,
}

impl Root {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Root { path: path.into() }
    }

    /// The root an actor belongs to, found from the send directory in its argv.
    pub fn from_send_dir(send_dir: &Path) -> Option<Root> {
        send_dir.parent().map(Root::new)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The supervisor's PID, for people and tools (`kill -USR1 $(cat .pid)`).
    pub fn pid_file(&self) -> PathBuf {
        self.path.join(PID_FILE)
    }

    /// Held locked (flock) by the running supervisor, so that a stale `.pid` never blocks a
    /// restart and two supervisors never share a root.
    pub fn lock_file(&self) -> PathBuf {
        self.path.join(LOCK_FILE)
    }

    /// Where a supervisor started in the background by `eos up` writes its log.
    pub fn supervisor_log(&self) -> PathBuf {
        self.path.join(SUPERVISOR_LOG)
    }

    /// While this file exists, nothing is delivered to anyone (`eos pause`).
    pub fn paused_file(&self) -> PathBuf {
        self.path.join(PAUSED)
    }

    /// Written by `eos replay` while it runs: what it replays, and fault rules rest meanwhile.
    pub fn replaying_file(&self) -> PathBuf {
        self.path.join(REPLAYING)
    }

    /// The event journal: one JSON object per line, appended by the supervisor.
    pub fn journal_file(&self) -> PathBuf {
        self.path.join(JOURNAL)
    }

    /// The journal before the last rotation.
    pub fn rotated_journal_file(&self) -> PathBuf {
        self.path.join(OLD_JOURNAL)
    }

    /// Requests to the supervisor that are not files of the protocol (step, deliver), each
    /// answered with a reply file beside it.
    pub fn control_dir(&self) -> PathBuf {
        self.path.join(CONTROL)
    }

    /// A control request's file, named by a fresh id (its reply is [`control_reply`]).
    pub fn control_request(&self, id: &MessageId) -> PathBuf {
        self.control_dir().join(format!("{id}{MESSAGE_EXT}"))
    }

    /// Spawn requests: `{"path": ..., "args": [...]}` files.
    pub fn spawn_dir(&self) -> PathBuf {
        self.path.join(SPAWN)
    }

    /// A spawn request's file for the actor `id`, unique to this request.
    pub fn spawn_request_file(&self, id: &ActorId) -> PathBuf {
        self.spawn_dir()
            .join(format!("{id}.{}{MESSAGE_EXT}", MessageId::generate()))
    }

    /// Outgoing messages: `{ACTOR_ID}::{RANDOM}.json` files.
    pub fn send_dir(&self) -> PathBuf {
        self.path.join(SEND)
    }

    /// One directory per actor.
    pub fn running_dir(&self) -> PathBuf {
        self.path.join(RUNNING)
    }

    /// Dead letters: messages that could not be routed or handled, each with a reason beside it.
    pub fn dead_dir(&self) -> PathBuf {
        self.path.join(DEAD)
    }

    /// Spawn requests that were refused, each with a reason beside it.
    pub fn rejected_spawn_dir(&self) -> PathBuf {
        self.dead_dir().join("spawn")
    }

    /// A hidden folder nobody watches, where tools write their temp files before renaming them
    /// into `send/` or `spawn/`: the supervisor sees the file arrive, and not its temp file
    /// being written first.
    pub fn scratch_dir(&self) -> PathBuf {
        self.path.join(SCRATCH)
    }

    /// Whether a name in a folder shows that an EOS supervisor has used it as its root.
    pub fn marks_a_used_root(name: &str) -> bool {
        name == RUNNING || name == LOCK_FILE
    }

    /// The names of everything EOS itself keeps directly in a root.
    pub fn own_names() -> Vec<&'static str> {
        vec![
            PID_FILE,
            LOCK_FILE,
            SCRATCH,
            SPAWN,
            SEND,
            RUNNING,
            DEAD,
            CONTROL,
            PAUSED,
            REPLAYING,
            JOURNAL,
            OLD_JOURNAL,
            METRICS,
            OLD_METRICS,
            SUPERVISOR_LOG,
            TREES,
            SUPERVISION,
            FAULTS,
            BREAKPOINTS,
            INVARIANTS,
            VIOLATIONS,
            CHECKPOINTS,
            EXPLORE,
            MAELSTROM_RESULTS,
        ]
    }

    /// What the last `eos cluster test` found, as Maelstrom's `results.edn` says it.
    pub fn maelstrom_results_file(&self) -> PathBuf {
        self.path.join(MAELSTROM_RESULTS)
    }

    /// What the last `eos explore` found: its summary and schedules (counterexample,
    /// minimized, witnesses), ready for `eos replay`.
    pub fn explore_dir(&self) -> PathBuf {
        self.path.join(EXPLORE)
    }

    /// The figures of the last `eos explore`.
    pub fn explore_summary(&self) -> PathBuf {
        self.explore_dir().join(EXPLORE_SUMMARY)
    }

    /// The schedule of the violation `eos explore` found, as found.
    pub fn explore_counterexample(&self) -> PathBuf {
        self.explore_dir().join(COUNTEREXAMPLE)
    }

    /// The same, minimized.
    pub fn explore_minimized(&self) -> PathBuf {
        self.explore_dir().join(MINIMIZED)
    }

    /// The way `eos explore` found to a state where the property `name` holds (`sometimes`).
    pub fn explore_witness(&self, name: &str) -> PathBuf {
        self.explore_dir().join(format!("witness-{name}.schedule"))
    }

    /// Checkpoints, one folder each (`eos checkpoint NAME`), laid out like a root.
    pub fn checkpoints_dir(&self) -> PathBuf {
        self.path.join(CHECKPOINTS)
    }

    /// In a checkpoint (a root-shaped folder): what it is, when, and where the journal was.
    pub fn checkpoint_record(&self) -> PathBuf {
        self.path.join(CHECKPOINT_RECORD)
    }

    /// Where the actors of now wait while a checkpoint's are put in place (`eos restore`).
    pub fn running_aside_dir(&self) -> PathBuf {
        self.path.join(RUNNING_ASIDE)
    }

    /// Invariants: Rune files with `pub fn check(states)`.
    pub fn invariants_dir(&self) -> PathBuf {
        self.path.join(INVARIANTS)
    }

    /// One JSON file a violation found, numbered: the invariant, what is wrong, the states and
    /// the messages that led there.
    pub fn violations_dir(&self) -> PathBuf {
        self.path.join(VIOLATIONS)
    }

    /// Breakpoints, one JSON file each (see [`crate::breakpoints`]).
    pub fn breakpoints_dir(&self) -> PathBuf {
        self.path.join(BREAKPOINTS)
    }

    /// Fault rules, one JSON file a rule (see [`crate::faults`]).
    pub fn faults_dir(&self) -> PathBuf {
        self.path.join(FAULTS)
    }

    /// Metrics as JSON lines: the supervisor's samples per actor, and what scripts `plot`.
    pub fn metrics_file(&self) -> PathBuf {
        self.path.join(METRICS)
    }

    /// The metrics before the last rotation.
    pub fn rotated_metrics_file(&self) -> PathBuf {
        self.path.join(OLD_METRICS)
    }

    /// Supervision trees, one file a tree (`eos tree apply` puts them here).
    pub fn trees_dir(&self) -> PathBuf {
        self.path.join(TREES)
    }

    /// The supervisor's record of its supervision nodes: restarts, and why one gave up.
    pub fn supervision_file(&self) -> PathBuf {
        self.path.join(SUPERVISION)
    }

    /// Every directory the supervisor creates at start.
    pub fn dirs(&self) -> [PathBuf; 13] {
        [
            self.path.clone(),
            self.trees_dir(),
            self.faults_dir(),
            self.breakpoints_dir(),
            self.invariants_dir(),
            self.violations_dir(),
            self.spawn_dir(),
            self.send_dir(),
            self.running_dir(),
            self.dead_dir(),
            self.rejected_spawn_dir(),
            self.control_dir(),
            self.scratch_dir(),
        ]
    }

    pub fn actor(&self, id: &ActorId) -> ActorDir {
        ActorDir {
            path: self.running_dir().join(id.as_str()),
        }
    }

    /// A hidden directory in which a new actor's folder is prepared before it is renamed into
    /// `running/`, so nobody ever sees a half-made actor.
    pub fn staging_actor_dir(&self, id: &ActorId) -> ActorDir {
        ActorDir {
            path: self.running_dir().join(format!(".{id}{STAGING_EXT}")),
        }
    }

    /// Whether a name in `running/` is a staging folder left by an interrupted spawn.
    pub fn is_staging_name(name: &str) -> bool {
        name.starts_with('.') && name.ends_with(STAGING_EXT)
    }

    /// Where a message to `to` is written to be sent.
    pub fn send_file(&self, to: &ActorId, id: &MessageId) -> PathBuf {
        self.send_dir().join(send_file_name(to, id))
    }
}

/// The directory of one actor: `running/<id>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorDir {
    path: PathBuf,
}

impl ActorDir {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether `name` is one of the files EOS keeps in an actor's folder.
    pub fn is_own_name(name: &str) -> bool {
        [
            STATE,
            PID_FILE,
            PAUSED,
            SCRATCH,
            SPOOL,
            STATUS,
            SPAWN_RECORD,
            ACTOR_LOG,
            LAST_ERROR,
            PROBLEM,
            PROBE_LOG,
            RESTART,
            SPAWN,
            MONITORS,
            LINKS,
            TRAP_EXITS,
            STRATEGY,
            STORE,
            KEPT_SCRIPT,
        ]
        .contains(&name)
    }

    /// Whether `name` in an actor's folder belongs to its process rather than to the moment
    /// (a checkpoint leaves these out).
    pub fn is_process_name(name: &str) -> bool {
        [PID_FILE, STATUS, SCRATCH, ACTOR_LOG, SPOOL].contains(&name)
    }

    /// The script a checkpoint kept for a script actor, as it was (restored actors run it).
    pub fn kept_script(&self) -> PathBuf {
        self.path.join(KEPT_SCRIPT)
    }

    /// What a recipe in a checkpoint names instead of the script's path: the kept copy.
    pub const KEPT_SCRIPT: &'static str = KEPT_SCRIPT;

    /// Its key-value storage: one `<key>.json` a key (see [`crate::store`]).
    pub fn store_dir(&self) -> PathBuf {
        self.path.join(STORE)
    }

    /// Its restart type (`permanent`, `transient`, `temporary`), one word a person may change.
    /// A Maelstrom client's record of every message it received: `{"us", "src", "body"}` a
    /// line (`maelstrom-actor --client`).
    pub fn replies_file(&self) -> PathBuf {
        self.path.join(REPLIES)
    }

    pub fn restart_file(&self) -> PathBuf {
        self.path.join(RESTART)
    }

    /// Where the actor writes spawn requests for its own children.
    pub fn spawn_dir(&self) -> PathBuf {
        self.path.join(SPAWN)
    }

    /// One empty file a watched actor: the actor gets a `down` message when that one exits.
    pub fn monitors_dir(&self) -> PathBuf {
        self.path.join(MONITORS)
    }

    /// One empty file a linked actor: an abnormal exit of either stops the other.
    pub fn links_dir(&self) -> PathBuf {
        self.path.join(LINKS)
    }

    /// While this file exists, a linked actor's abnormal exit comes as a `down` message
    /// instead of stopping this one.
    pub fn trap_exits_file(&self) -> PathBuf {
        self.path.join(TRAP_EXITS)
    }

    /// How it supervises the children it spawns: one strategy word (default `one_for_one`).
    pub fn strategy_file(&self) -> PathBuf {
        self.path.join(STRATEGY)
    }

    /// The actor's state, read before and written after every message.
    pub fn state_file(&self) -> PathBuf {
        self.path.join(STATE)
    }

    /// A hidden folder nobody watches, where the actor's temp files are written before they
    /// are renamed into place: watchers of the spool, `send/` and the actor's folder see a file
    /// arrive, and not its temp file being written first.
    pub fn scratch_dir(&self) -> PathBuf {
        self.path.join(SCRATCH)
    }

    /// The actor's PID, for people and tools.
    pub fn pid_file(&self) -> PathBuf {
        self.path.join(PID_FILE)
    }

    /// While this file exists, nothing is delivered to this actor (`eos pause ID`).
    pub fn paused_file(&self) -> PathBuf {
        self.path.join(PAUSED)
    }

    /// Pending messages, in delivery order by name, and `current`.
    pub fn spool_dir(&self) -> PathBuf {
        self.path.join(SPOOL)
    }

    /// The message the actor is handling now.
    pub fn current_file(&self) -> PathBuf {
        self.spool_dir().join(CURRENT)
    }

    /// What the supervisor knows of the process: running, exited (with its status), failed.
    pub fn status_file(&self) -> PathBuf {
        self.path.join(STATUS)
    }

    /// How the actor was started (the accepted spawn request), so it can be started again.
    pub fn spawn_record(&self) -> PathBuf {
        self.path.join(SPAWN_RECORD)
    }

    /// The actor's standard output and standard error.
    pub fn log_file(&self) -> PathBuf {
        self.path.join(ACTOR_LOG)
    }

    /// Written by the actor when a message fails: why, which message, when.
    pub fn last_error_file(&self) -> PathBuf {
        self.path.join(LAST_ERROR)
    }

    /// Present while something keeps the actor from handling any message (a script that does
    /// not compile); says what, for a person. Its mail waits meanwhile.
    pub fn problem_file(&self) -> PathBuf {
        self.path.join(PROBLEM)
    }
}

/// The files of `eos bench`'s raw floor: two peers, `a` and `b`, each with a folder holding
/// its inbox and state, and a `.pid` file beside it; `done` when the last hop has landed.
pub struct Floor {
    dir: PathBuf,
}

impl Floor {
    pub fn new(dir: &Path) -> Self {
        Floor {
            dir: dir.to_path_buf(),
        }
    }

    /// The folder of peer `role`.
    pub fn peer_dir(&self, role: &str) -> PathBuf {
        self.dir.join(role)
    }

    /// The message waiting for peer `role`.
    pub fn inbox(&self, role: &str) -> PathBuf {
        self.peer_dir(role).join("msg")
    }

    /// The state peer `role` writes after each message.
    pub fn state(&self, role: &str) -> PathBuf {
        self.peer_dir(role).join(STATE)
    }

    /// Where peer `role` writes its process id.
    pub fn pid_file(&self, role: &str) -> PathBuf {
        self.dir.join(format!("{role}.pid"))
    }

    /// Written when the last hop lands.
    pub fn done(&self) -> PathBuf {
        self.dir.join("done")
    }
}

/// The file name of a message to `to` in `send/`: `{ACTOR_ID}::{RANDOM}.json`.
pub fn send_file_name(to: &ActorId, id: &MessageId) -> String {
    format!("{to}{SEND_SEPARATOR}{id}{MESSAGE_EXT}")
}

/// Reads a name found in `send/`: `{ACTOR_ID}::{RANDOM}.json`, or `{ACTOR_ID}::{RANDOM}` with no
/// extension at all, as the original EOS's script actor named them.
///
/// `Ok(None)`: not a message file at all (hidden, an editor artifact, another extension);
/// leave it. `Err(reason)`: meant as a message but the name is malformed.
pub fn parse_send_name(name: &str) -> Result<Option<(ActorId, MessageId)>, String> {
    if is_ignored(name) {
        return Ok(None);
    }
    let stem = match name.strip_suffix(MESSAGE_EXT) {
        Some(stem) => stem,
        // No extension: a message if it has the separator (`notes.txt`, `x::y.bak` are not).
        None => match name.split_once(SEND_SEPARATOR) {
            Some((_, id)) if !id.contains('.') => name,
            _ => return Ok(None),
        },
    };
    let Some((to, id)) = stem.split_once(SEND_SEPARATOR) else {
        return Err(format!(
            "the name `{name}` does not follow {{ACTOR_ID}}::{{RANDOM}}.json"
        ));
    };
    let to = ActorId::parse(to).map_err(|e| format!("the name `{name}` is malformed: {e}"))?;
    let id = MessageId::parse(id).map_err(|e| format!("the name `{name}` is malformed: {e}"))?;
    Ok(Some((to, id)))
}

/// The name of a pending message in a spool. Names sort in delivery order, so `ls` shows the
/// queue and renaming a file moves it in the queue.
pub fn spool_file_name(seq: u64, id: &MessageId) -> String {
    format!("{seq:012}-{id}{MESSAGE_EXT}")
}

/// The sequence number at the start of a spool name, if it has one.
pub fn spool_seq(name: &str) -> Option<u64> {
    let digits = name.split('-').next()?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The message id in a spool name written by the supervisor (`{seq}-{id}.json`), if any.
pub fn spool_message_id(name: &str) -> Option<MessageId> {
    let stem = name.strip_suffix(MESSAGE_EXT)?;
    let (seq, id) = stem.split_once('-')?;
    if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    MessageId::parse(id).ok()
}

/// The id of a pending message from its spool name: `{seq}-{id}.json` as the supervisor names
/// them, or the whole stem of a file a person put there (`by-hand.json` → `by-hand`).
pub fn pending_message_id(name: &str) -> Option<MessageId> {
    spool_message_id(name).or_else(|| MessageId::parse(name.strip_suffix(MESSAGE_EXT)?).ok())
}

/// Whether a name in a spool is a pending message (`current` is not pending: it is delivered).
pub fn is_pending_name(name: &str) -> bool {
    is_visible_json(name)
}

/// Whether a name in `send/` is a message still to be routed (any visible `.json` file).
pub fn is_outgoing_name(name: &str) -> bool {
    is_visible_json(name)
}

/// Whether a name in `spawn/` or `control/` is a request (any visible `.json` file).
pub fn is_request_name(name: &str) -> bool {
    is_visible_json(name)
}

fn is_visible_json(name: &str) -> bool {
    !is_ignored(name) && name.ends_with(MESSAGE_EXT)
}

/// Files nobody in EOS reads: hidden files (including our own temp files), editor swap and
/// backup files, and vim's `4913` write probe.
pub fn is_ignored(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with('~')
        || name == "4913"
        || (name.starts_with('#') && name.ends_with('#'))
        || [".swp", ".swo", ".swx", ".tmp", ".part"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

/// The reply to the control request `request` (`control/<name>.json` → `control/<name>.reply`).
pub fn control_reply(request: &Path) -> PathBuf {
    request.with_extension("reply")
}

/// Parses a dead letter's name, `{ACTOR_ID}::{RANDOM}.json` or a numbered `…{RANDOM}.N.json`.
pub fn parse_dead_letter_name(name: &str) -> Option<(ActorId, MessageId)> {
    let stem = name.strip_suffix(MESSAGE_EXT)?;
    let (to, id) = stem.split_once(SEND_SEPARATOR)?;
    let id = match id.rsplit_once('.') {
        Some((base, n)) if n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => id,
    };
    Some((ActorId::parse(to).ok()?, MessageId::parse(id).ok()?))
}

/// A hidden temp file beside `path` for an atomic write, unique to this process and call.
pub fn temp_file(path: &Path) -> PathBuf {
    let full = path.file_name().unwrap_or_default().to_string_lossy();
    // Shortened so that the temp name fits in a file name's 255 bytes.
    let mut end = full.len().min(200);
    while !full.is_char_boundary(end) {
        end -= 1;
    }
    let name = &full[..end];
    path.with_file_name(format!(
        ".{name}.{}.{:08x}{TEMP_EXT}",
        own_pid(),
        fastrand::u32(..)
    ))
}

/// This process's id, asked of the kernel once (it is in every temp file's name).
fn own_pid() -> u32 {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *PID.get_or_init(std::process::id)
}

/// Whether a name is one of [`temp_file`]'s: left behind only by a writer killed mid-write.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(TEMP_EXT)
}

/// The file beside `file` that says, for a person, why it was set aside.
pub fn reason_file(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(REASON_EXT);
    file.with_file_name(name)
}

/// The file a reason file `name` explains (`x.json.reason` → `x.json`), if it is one.
pub fn explained_by(name: &str) -> Option<&str> {
    name.strip_suffix(REASON_EXT)
}

/// The name under which a message is set aside: the `send/` name, so that moving it back into
/// `send/` sends it again.
pub fn dead_letter_name(to: &ActorId, id: &MessageId) -> String {
    send_file_name(to, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_names_round_trip() {
        let to = ActorId::parse("counter").unwrap();
        let id = MessageId::parse("abc123").unwrap();
        let name = send_file_name(&to, &id);
        assert_eq!(name, "counter::abc123.json");
        assert_eq!(parse_send_name(&name), Ok(Some((to.clone(), id.clone()))));
        // The original EOS's names, without the extension.
        assert_eq!(parse_send_name("counter::abc123"), Ok(Some((to, id))));
        assert_eq!(parse_send_name("counter::abc.bak"), Ok(None));
    }

    #[test]
    fn non_messages_are_ignored_and_bad_names_are_errors() {
        for name in [
            ".counter::a.json.swp",
            "counter::a.json~",
            "4913",
            "notes.txt",
            ".hidden.json",
            "x.json.tmp",
        ] {
            assert_eq!(parse_send_name(name), Ok(None), "{name}");
        }
        for name in [
            "hello.json",
            "::a.json",
            "a::.json",
            "a b::c.json",
            "-rf::x.json",
        ] {
            assert!(parse_send_name(name).is_err(), "{name}");
        }
    }

    #[test]
    fn spool_names_sort_in_delivery_order() {
        let id = MessageId::parse("m").unwrap();
        let a = spool_file_name(9, &id);
        let b = spool_file_name(10, &id);
        assert!(a < b);
        assert_eq!(spool_seq(&b), Some(10));
        assert_eq!(spool_message_id(&b), Some(id));
        assert!(is_pending_name(&a));
        assert_eq!(spool_message_id("by-hand.json"), None);
        assert_eq!(
            pending_message_id("by-hand.json").unwrap().as_str(),
            "by-hand"
        );
        assert!(!is_pending_name(CURRENT));
    }

    #[test]
    fn the_default_root_falls_back_when_it_cannot_be_made() {
        let writable = tempfile::tempdir().unwrap();
        let preferred = writable.path().join("actors");
        assert_eq!(default_root_for(&preferred), (preferred, None));
        // Nobody, not even root, can create a folder in /proc.
        let (fallback, why) = default_root_for(Path::new("/proc/eos-test/actors"));
        assert_ne!(fallback, Path::new("/proc/eos-test/actors"));
        assert!(
            fallback.ends_with("eos") || fallback.starts_with("/tmp/eos-"),
            "{fallback:?}"
        );
        assert!(why.unwrap().contains("cannot be created"));
    }

    #[test]
    fn reason_sits_beside_the_file() {
        assert_eq!(
            reason_file(Path::new("/r/dead/a::b.json")),
            Path::new("/r/dead/a::b.json.reason")
        );
    }
}
