//! The supervisor, seen from the CLI: is one running on the root, start one, stop it.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::os::fd::AsFd;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::fcntl::{Flock, FlockArg};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;
use serde_json::json;

use super::locate;
use super::output::{BOLD, GOOD, Output, styled};
use crate::Root;
use crate::pidfd::Pidfd;

/// The supervisor running on a root.
pub struct Supervisor {
    pub pidfd: Pidfd,
}

/// The supervisor running on `root`, if any. It holds the root's lock while it runs, so the
/// lock (not the `.pid` file, which a killed supervisor leaves behind and anyone can write)
/// says whether one runs, and which process it is: the one that has the lock file open. The
/// `.pid` file only says where to look first.
pub fn running(root: &Root) -> Option<Supervisor> {
    use std::os::unix::fs::MetadataExt;
    let file = File::open(root.lock_file()).ok()?;
    let lock = file.metadata().ok().map(|m| (m.dev(), m.ino()))?;
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(held) => {
            drop(held);
            return None;
        }
        Err((file, _)) => drop(file),
    }
    let named: Option<u32> = fs::read_to_string(root.pid_file())
        .ok()
        .and_then(|p| p.trim().parse().ok());
    let me = std::process::id();
    let candidates = named.into_iter().chain(
        fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()),
    );
    for pid in candidates.filter(|&p| p != me) {
        // Opened first, so the process checked is the one signalled later.
        let Ok(pidfd) = Pidfd::open(pid) else {
            continue;
        };
        if holds_open(pid, lock) {
            return Some(Supervisor { pidfd });
        }
    }
    None
}

/// Whether a supervisor holds the root's lock (cheap: no search for which process it is).
pub fn locked(root: &Root) -> bool {
    let Ok(file) = File::open(root.lock_file()) else {
        return false;
    };
    Flock::lock(file, FlockArg::LockSharedNonblock).is_err()
}

/// Whether process `pid` has the file `(dev, ino)` open.
fn holds_open(pid: u32, (dev, ino): (u64, u64)) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .filter_map(|fd| fs::metadata(fd.path()).ok())
        .any(|m| m.dev() == dev && m.ino() == ino)
}

/// The running supervisor, or an error that says how to start one.
pub fn require(root: &Root) -> Result<Supervisor> {
    running(root).ok_or_else(|| {
        anyhow::anyhow!(
            "no supervisor is running on {}; start one with `eos up` (or `eos --root {0} up`)",
            root.path().display()
        )
    })
}

/// How `eos up` starts the supervisor.
pub struct UpOptions {
    pub tick: String,
    pub grace: String,
    pub slow_motion: Option<String>,
    /// Record every payload in full; deliver nothing unrecorded.
    pub record: bool,
    /// Use the root even if it is a system folder or holds other things.
    pub force: bool,
    /// Timers fire when nothing else can be delivered.
    pub virtual_time: bool,
}

impl UpOptions {
    /// The supervisor's defaults, for a tool that starts one (the demo, the benchmark).
    pub fn standard() -> Self {
        UpOptions {
            tick: "2s".into(),
            grace: "5s".into(),
            slow_motion: None,
            record: false,
            force: false,
            virtual_time: false,
        }
    }

    /// The options a running supervisor was started with (from its command line), to start
    /// it again the same way.
    pub fn of(running: &Supervisor) -> Self {
        let args: Vec<String> = fs::read(format!("/proc/{}/cmdline", running.pidfd.pid()))
            .map(|bytes| {
                bytes
                    .split(|&b| b == 0)
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let mut options = UpOptions::standard();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--tick" => options.tick = args.next().unwrap_or(options.tick),
                "--grace" => options.grace = args.next().unwrap_or(options.grace),
                "--slow-motion" => options.slow_motion = args.next(),
                "--record" => options.record = true,
                "--virtual-time" => options.virtual_time = true,
                _ => {}
            }
        }
        options
    }
}

pub fn up(
    root: &Root,
    out: &Output,
    options: &UpOptions,
    fallback: Option<String>,
) -> Result<ExitCode> {
    let durations = [
        Some(&options.tick),
        Some(&options.grace),
        options.slow_motion.as_ref(),
    ];
    for value in durations.into_iter().flatten() {
        crate::duration::parse(value).map_err(anyhow::Error::msg)?;
    }
    if let Some(running) = running(root) {
        out.say(format!(
            "a supervisor is already running on {} (pid {})",
            root.path().display(),
            running.pidfd.pid()
        ))?;
        out.data(&json!({"root": root.path(), "pid": running.pidfd.pid(), "started": false}))?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(why) = fallback {
        out.warn(why);
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root.path())
        .with_context(|| format!("creating {}", root.path().display()))?;
    let log_path = root.supervisor_log();
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let mut command = Command::new(locate::program("supervisor")?);
    command
        .arg(root.path())
        .args(["--tick", &options.tick, "--grace", &options.grace])
        .args(
            options
                .slow_motion
                .iter()
                .flat_map(|d| ["--slow-motion", d.as_str()]),
        )
        .args(options.record.then_some("--record"))
        .args(options.force.then_some("--force"))
        .args(options.virtual_time.then_some("--virtual-time"))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: setsid is async-signal-safe. A session of its own detaches the supervisor from
    // this terminal, so it outlives the shell that started it.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
    let mut child = command.spawn().context("starting the supervisor")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait()? {
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            let last: Vec<&str> = log.lines().rev().take(5).collect();
            let last: Vec<&str> = last.into_iter().rev().collect();
            bail!(
                "the supervisor stopped at once ({status}):\n{}",
                last.join("\n")
            );
        }
        if running(root).is_some_and(|s| s.pidfd.pid() == child.id()) {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "the supervisor did not become ready within 10s; see {}",
                log_path.display()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    out.say(format!(
        "{} supervisor on {} (pid {}); log: {}",
        styled(GOOD, "started"),
        styled(BOLD, root.path().display()),
        child.id(),
        log_path.display()
    ))?;
    out.data(&json!({"root": root.path(), "pid": child.id(), "started": true}))?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// SIGQUIT: stop, keep everything on disk for the next start.
    Keep,
    /// SIGTERM: stop and remove the actors, as the original EOS does.
    Clean,
}

pub fn stop(root: &Root, out: &Output, mode: StopMode) -> Result<ExitCode> {
    let Some(supervisor) = running(root) else {
        out.say(format!(
            "no supervisor is running on {}",
            root.path().display()
        ))?;
        out.data(&json!({"root": root.path(), "stopped": false}))?;
        return Ok(ExitCode::SUCCESS);
    };
    let signal = match mode {
        StopMode::Keep => Signal::SIGQUIT,
        StopMode::Clean => Signal::SIGTERM,
    };
    supervisor
        .pidfd
        .signal(signal)
        .context("signalling the supervisor")?;
    out.say(format!(
        "stopping the supervisor (pid {}); actors get their grace period",
        supervisor.pidfd.pid()
    ))?;
    wait_exit(&supervisor.pidfd, Duration::from_secs(120))?;
    let what = match mode {
        StopMode::Keep => "stopped; the actors are kept on disk and `eos up` starts them again",
        StopMode::Clean => "shut down; the actors were removed (unhandled messages are in dead/)",
    };
    out.say(styled(GOOD, what))?;
    out.data(&json!({"root": root.path(), "stopped": true}))?;
    Ok(ExitCode::SUCCESS)
}

/// Waits until the process behind `pidfd` has exited (its pidfd becomes readable).
fn wait_exit(pidfd: &Pidfd, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("pid {} did not exit within {limit:?}", pidfd.pid());
        }
        let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, timeout) {
            Ok(n) if n > 0 => return Ok(()),
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).context("waiting for the supervisor"),
        }
    }
}

/// What `eos tick` does.
pub enum Tick {
    Show,
    Set {
        rescan: Option<Duration>,
        slow_motion: Option<Duration>,
    },
    Reset,
}

/// `eos tick [show|set|reset]`: the running supervisor's rescan interval and slow motion (the
/// original EOS's tick), shown or changed until it stops.
pub fn tick(root: &Root, out: &Output, action: Option<Tick>) -> Result<ExitCode> {
    require(root)?;
    let ms = |d: Duration| d.as_millis() as u64;
    let request = match action.unwrap_or(Tick::Show) {
        Tick::Show => crate::control::Request::Tick {
            rescan_ms: None,
            slow_motion_ms: None,
            reset: false,
        },
        Tick::Set {
            rescan: None,
            slow_motion: None,
        } => bail!("say what to set: `eos tick set 500ms`, or `eos tick set --slow-motion 1s`"),
        Tick::Set {
            rescan,
            slow_motion,
        } => {
            if rescan.is_some_and(|d| d.is_zero()) {
                bail!("the rescan interval must be longer than 0");
            }
            crate::control::Request::Tick {
                rescan_ms: rescan.map(ms),
                slow_motion_ms: slow_motion.map(ms),
                reset: false,
            }
        }
        Tick::Reset => crate::control::Request::Tick {
            rescan_ms: None,
            slow_motion_ms: None,
            reset: true,
        },
    };
    let reply = super::debugger::ask_once(root, &request)?;
    let Some(pace) = reply.pace else {
        bail!(
            "the supervisor did not say its pace{}",
            reply.error.map(|e| format!(": {e}")).unwrap_or_default()
        );
    };
    let slow = pace
        .slow_motion_ms
        .map_or("off".to_owned(), |n| format!("{n} ms between deliveries"));
    out.say(format!(
        "{} every {} ms; slow motion {slow}",
        styled(BOLD, "rescan"),
        pace.rescan_ms
    ))?;
    out.data(&json!({"rescan_ms": pace.rescan_ms, "slow_motion_ms": pace.slow_motion_ms}))?;
    Ok(ExitCode::SUCCESS)
}
