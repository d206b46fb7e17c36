//! Starting an actor's process: the one place where children are made.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use eos::layout::{ACTOR_ID_ENV, ROOT_ENV};
use eos::pidfd::Pidfd;
use eos::spawn_request::SpawnRequest;
use eos::{ActorId, Root};
use nix::sys::prctl;
use nix::sys::signal::{self, SigHandler, SigSet, Signal};
use nix::unistd::{getpid, getppid};

/// Starts `record.path` with the protocol's argv
/// `<id> <state file> <message file> <send dir> <args...>`, its output appended to its log, in
/// its own process group (a Ctrl-C at the terminal reaches the supervisor, which stops the
/// actors in order), and bound to die with the supervisor (parent-death signal).
pub fn launch(root: &Root, id: &ActorId, record: &SpawnRequest) -> io::Result<Pidfd> {
    let dir = root.actor(id);
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(dir.log_file())?;
    let supervisor = getpid();
    let mut command = Command::new(&record.path);
    command
        .arg(id.as_str())
        .arg(dir.state_file())
        .arg(dir.current_file())
        .arg(root.send_dir())
        .args(&record.args)
        .env(ROOT_ENV, root.path())
        .env(ACTOR_ID_ENV, id.as_str())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0);
    // SAFETY: between fork and exec only async-signal-safe calls (sigprocmask, sigaction,
    // prctl, getppid) and an error built from a raw errno (no allocation).
    unsafe {
        command.pre_exec(move || {
            // The supervisor blocks the signals it reads from its signalfd, and may have been
            // started with some ignored; an actor starts with neither.
            SigSet::empty().thread_set_mask().map_err(io::Error::from)?;
            for signal in Signal::iterator() {
                if !matches!(signal, Signal::SIGKILL | Signal::SIGSTOP) {
                    let _ = signal::signal(signal, SigHandler::SigDfl);
                }
            }
            for signal in nix::libc::SIGRTMIN()..=nix::libc::SIGRTMAX() {
                nix::libc::signal(signal, nix::libc::SIG_DFL);
            }
            prctl::set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from)?;
            // The supervisor may have died before the line above: then nobody would kill us.
            if getppid() != supervisor {
                return Err(io::Error::from_raw_os_error(nix::libc::ESRCH));
            }
            Ok(())
        });
    }
    let mut child = command.spawn()?;
    // Our unreaped child: its PID cannot have been reused yet.
    Pidfd::open(child.id()).inspect_err(|_| {
        let _ = child.kill();
    })
}

/// Kills what is left of actors on this root: every process whose environment says it is an
/// actor of `root` (or of the actor `only`) — children and grandchildren inherit it, even the
/// ones that left the actor's process group. Actors die with the supervisor (parent-death
/// signal), their descendants do not: this runs when an actor exits, at shutdown, and when a
/// supervisor starts after one was killed. Returns how many were killed.
pub fn kill_leftovers(root: &Root, only: Option<&ActorId>, keep: &[u32]) -> usize {
    let me = std::process::id();
    let want_root = format!("{ROOT_ENV}={}", root.path().display());
    let want_id = only.map(|id| format!("{ACTOR_ID_ENV}={id}"));
    let mut killed = 0;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me || keep.contains(&pid) {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let vars: Vec<&[u8]> = environ.split(|&b| b == 0).collect();
        let has = |want: &str| vars.contains(&want.as_bytes());
        let is_actor = vars
            .iter()
            .any(|v| v.starts_with(format!("{ACTOR_ID_ENV}=").as_bytes()));
        if !is_actor || !has(&want_root) || want_id.as_deref().is_some_and(|w| !has(w)) {
            continue;
        }
        let Ok(raw) = i32::try_from(pid) else {
            continue;
        };
        if signal::kill(nix::unistd::Pid::from_raw(raw), Signal::SIGKILL).is_ok() {
            killed += 1;
        }
    }
    killed
}
