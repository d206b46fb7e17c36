//! `eos bench`: EOS measured against the raw floor, in one run, on one filesystem.
//!
//! - floor: two processes play ping-pong with the same file operations and signals as EOS
//!   actors (read the message, write the state atomically, delete the message, write the
//!   reply atomically, signal the peer) and nothing in between;
//! - EOS ping-pong: two script actors through the supervisor;
//! - EOS throughput: N messages to one script actor, first send to last handled;
//! - latency: from a message file appearing in `send/` to the actor receiving SIGUSR1,
//!   measured by a probe actor that timestamps the signal as it arrives.
//!
//! The floor peers and the probe are this same executable in internal modes (see
//! [`internal`]), so the benchmark needs nothing but the installed binaries.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use serde_json::{Value, json};

use super::output::{BOLD, Output, styled};
use super::{poll, spawn, system};
use crate::pidfd::Pidfd;
use crate::spawn_request::SpawnRequest;
use crate::{ActorId, Envelope, MessageId, Root, fsio};

const FLOOR_PEER: &str = "__floor-peer";
const PROBE: &str = "__bench-probe";
const LATENCY_SAMPLES: usize = 300;

const RELAY: &str = r#"
pub fn init() { #{ hops: 0, done: false } }
pub fn handle(state, msg) {
    let left = msg.payload.left;
    state.hops += 1;
    if left > 0 {
        send(msg.payload.to, #{ left: left - 1, to: id() });
    } else {
        state.done = true;
    }
    state
}
"#;

const SINK: &str = "pub fn init() { #{ count: 0 } }\npub fn handle(s, m) { s.count += 1; s }\n";

/// The internal modes of this executable, if `args` asks for one.
pub fn internal(args: &[OsString]) -> Option<ExitCode> {
    let result = if args.get(1).is_some_and(|a| a == FLOOR_PEER) {
        let dir = PathBuf::from(args.get(2)?);
        let role = args.get(3)?.to_string_lossy().into_owned();
        floor_peer(&dir, &role)
    } else if args.get(5).is_some_and(|a| a == PROBE) {
        probe(args)
    } else {
        return None;
    };
    Some(match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    })
}

pub fn run(out: &Output, round_trips: u32, messages: u32) -> Result<ExitCode> {
    if round_trips == 0 || messages == 0 {
        bail!("--round-trips and --messages must be at least 1");
    }
    let dir = tempfile::tempdir().context("creating a temporary folder")?;
    let build = if cfg!(debug_assertions) {
        "debug build"
    } else {
        "release build"
    };
    out.say(format!(
        "{} ({build}, {} cores, in {})",
        styled(BOLD, "EOS benchmark"),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        dir.path().display()
    ))?;
    if cfg!(debug_assertions) {
        out.warn("this is a debug build; measure with `cargo build --release` binaries");
    }

    // The floor before and after EOS, compared with their mean: fsync times drift.
    let floor_once = |when: &str| -> Result<f64> {
        let elapsed = floor(&dir.path().join(format!("floor-{when}")), round_trips)?;
        let rate = f64::from(round_trips) / elapsed.as_secs_f64();
        out.say(format!(
            "floor ping-pong:   {round_trips} round trips in {:.3}s = {rate:.0} round trips/s ({when})",
            elapsed.as_secs_f64()
        ))?;
        Ok(rate)
    };
    let before = floor_once("before")?;

    let root = Root::new(dir.path().join("root"));
    let quiet = Output::quiet();
    system::up(&root, &quiet, &system::UpOptions::standard(), None)?;
    let result = measure_eos(out, &root, dir.path(), round_trips, messages);
    let _ = system::stop(&root, &quiet, system::StopMode::Clean);
    let (eos_rate, throughput, latency) = result?;
    let after = floor_once("after")?;
    let floor_rate = (before + after) / 2.0;
    out.say(format!(
        "{} against the floor's mean of {floor_rate:.0} round trips/s: ping-pong {:.2}, \
         throughput {:.2} of its {:.0} one-way hops/s",
        styled(BOLD, "ratios"),
        eos_rate / floor_rate,
        throughput / (2.0 * floor_rate),
        2.0 * floor_rate
    ))?;
    out.data(&json!({
        "floor_round_trips_per_s": floor_rate,
        "eos_round_trips_per_s": eos_rate,
        "ping_pong_ratio": eos_rate / floor_rate,
        "throughput_msgs_per_s": throughput,
        "throughput_ratio": throughput / (2.0 * floor_rate),
        "latency_median_us": latency.0,
        "latency_p90_us": latency.1,
    }))?;
    Ok(ExitCode::SUCCESS)
}

type Figures = (f64, f64, (f64, f64));

fn measure_eos(
    out: &Output,
    root: &Root,
    dir: &Path,
    round_trips: u32,
    messages: u32,
) -> Result<Figures> {
    let quiet = Output::quiet();
    let relay = dir.join("relay.rn");
    fs::write(&relay, RELAY)?;
    let sink = dir.join("sink.rn");
    fs::write(&sink, SINK)?;
    for id in ["ping", "pong"] {
        spawn::spawn_script(root, &quiet, &relay, Vec::new(), Some(id.into()))?;
    }
    spawn::spawn_script(root, &quiet, &sink, Vec::new(), Some("sink".into()))?;

    // Warm up (first messages compile nothing, but fill caches), then time.
    relay_once(root, 20)?;
    let elapsed = relay_once(root, round_trips)?;
    let rate = f64::from(round_trips) / elapsed.as_secs_f64();
    out.say(format!(
        "EOS ping-pong:     {round_trips} round trips in {:.3}s = {rate:.0} round trips/s",
        elapsed.as_secs_f64()
    ))?;

    let sink_id = ActorId::parse("sink").map_err(anyhow::Error::msg)?;
    let start = Instant::now();
    for _ in 0..messages {
        send(root, &sink_id, json!(1))?;
    }
    wait_state(root, "sink", |s| s["count"] == messages)?;
    let elapsed = start.elapsed();
    let throughput = f64::from(messages) / elapsed.as_secs_f64();
    out.say(format!(
        "EOS throughput:    {messages} messages to one actor in {:.3}s = {throughput:.0} msgs/s",
        elapsed.as_secs_f64()
    ))?;

    let latency = latency(root)?;
    out.say(format!(
        "EOS latency:       send/ to SIGUSR1, median {:.0}µs, p90 {:.0}µs ({LATENCY_SAMPLES} \
         messages, one at a time)",
        latency.0, latency.1
    ))?;
    Ok((rate, throughput, latency))
}

/// Sends a ball with `round_trips * 2` hops left from ping to pong and back, and times it.
fn relay_once(root: &Root, round_trips: u32) -> Result<Duration> {
    for id in ["ping", "pong"] {
        let id = ActorId::parse(id).map_err(anyhow::Error::msg)?;
        fsio::write_atomic(&root.actor(&id).state_file(), b"null\n")?;
    }
    let ping = ActorId::parse("ping").map_err(anyhow::Error::msg)?;
    let start = Instant::now();
    send(
        root,
        &ping,
        json!({"left": round_trips * 2 - 1, "to": "pong"}),
    )?;
    // With an odd number of hops left, the last one lands on pong.
    wait_state(root, "pong", |s| s["done"] == true)?;
    Ok(start.elapsed())
}

fn send(root: &Root, to: &ActorId, payload: Value) -> Result<MessageId> {
    Envelope::new(MessageId::generate(), None, payload).post(root, to)
}

fn wait_state(root: &Root, id: &str, done: impl Fn(&Value) -> bool) -> Result<()> {
    poll::state(root, id, Duration::from_secs(600), done).map(drop)
}

/// Median and 90th percentile, in microseconds, of the time from a message's rename into
/// `send/` to the probe actor's signalfd returning.
fn latency(root: &Root) -> Result<(f64, f64)> {
    let quiet = Output::quiet();
    let probe = ActorId::parse("probe").map_err(anyhow::Error::msg)?;
    let exe = std::env::current_exe()?;
    spawn::start(
        root,
        &quiet,
        &probe,
        SpawnRequest {
            path: exe.to_string_lossy().into_owned(),
            args: vec![PROBE.into()],
            id: Some(probe.clone()),
            state: None,
        },
    )?;
    let log = root.actor(&probe).path().join("received.log");
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for n in 0..LATENCY_SAMPLES {
        let id = MessageId::generate();
        let envelope = Envelope::new(id.clone(), None, json!(n));
        let bytes = serde_json::to_vec(&envelope)?;
        let tmp = root.send_dir().join(format!(".{id}.tmp"));
        fs::write(&tmp, &bytes)?;
        // Read the clock just before the file appears: read after the rename, a preempted
        // bench could see the probe's answer come before its own send.
        let sent = now_ns();
        fs::rename(&tmp, root.send_file(&probe, &id))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let received = loop {
            let text = fs::read_to_string(&log).unwrap_or_default();
            let complete = &text[..text.rfind('\n').map_or(0, |end| end + 1)];
            if let Some(line) = complete.lines().find(|l| l.starts_with(id.as_str())) {
                break line.rsplit(' ').next().and_then(|t| t.parse::<u128>().ok());
            }
            if Instant::now() > deadline {
                bail!("the probe did not receive message {n}");
            }
            std::thread::sleep(Duration::from_micros(50));
        };
        let received = received.ok_or_else(|| anyhow!("the probe wrote a bad line"))?;
        samples.push(received.saturating_sub(sent) as f64 / 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    Ok((samples[samples.len() / 2], samples[samples.len() * 9 / 10]))
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// The probe actor: notes when each SIGUSR1 arrives, then deletes `current`.
fn probe(args: &[OsString]) -> Result<()> {
    let args = crate::sdk::Args::parse(args.iter().skip(1).cloned())?;
    let signals = blocked_signalfd()?;
    let log_path = args.state_file.with_file_name("received.log");
    let mut log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)?;
    loop {
        let Some(info) = signals.read_signal()? else {
            continue;
        };
        let at = now_ns();
        if info.ssi_signo != Signal::SIGUSR1 as u32 {
            return Ok(());
        }
        let Ok(envelope) = fsio::read_json::<Envelope>(&args.message_file) else {
            continue;
        };
        fs::remove_file(&args.message_file)?;
        let id = envelope.id.map(String::from).unwrap_or_default();
        // One write call per line, so a reader never sees half of one.
        log.write_all(format!("{id} {at}\n").as_bytes())?;
    }
}

/// A floor peer: the same file operations and signals as an actor, and nothing else.
fn floor_peer(dir: &Path, role: &str) -> Result<()> {
    let signals = blocked_signalfd()?;
    let peer_role = if role == "a" { "b" } else { "a" };
    let inbox = dir.join(role).join("msg");
    let state = dir.join(role).join("state.json");
    let outbox = dir.join(peer_role).join("msg");
    fsio::write_atomic(
        &dir.join(format!("{role}.pid")),
        std::process::id().to_string().as_bytes(),
    )?;
    let mut peer: Option<Pidfd> = None;
    loop {
        let Some(info) = signals.read_signal()? else {
            continue;
        };
        if info.ssi_signo != Signal::SIGUSR1 as u32 {
            return Ok(());
        }
        let bytes = match fs::read(&inbox) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        let message: Value = serde_json::from_slice(&bytes)?;
        let left = message["left"].as_u64().unwrap_or(0);
        fsio::write_atomic(&state, format!("{{\"left\": {left}}}\n").as_bytes())?;
        fs::remove_file(&inbox)?;
        if left == 0 {
            fsio::write_atomic(&dir.join("done"), b"")?;
            continue;
        }
        fsio::write_atomic(&outbox, format!("{{\"left\": {}}}\n", left - 1).as_bytes())?;
        if peer.is_none() {
            let pid: u32 = fs::read_to_string(dir.join(format!("{peer_role}.pid")))?
                .trim()
                .parse()?;
            peer = Some(Pidfd::open(pid)?);
        }
        if let Some(peer) = &peer {
            peer.signal(Signal::SIGUSR1)?;
        }
    }
}

fn blocked_signalfd() -> Result<SignalFd> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGUSR1);
    mask.add(Signal::SIGTERM);
    mask.thread_block()?;
    Ok(SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC)?)
}

/// Times `round_trips` raw round trips between two floor peers (after a short warm-up).
fn floor(dir: &Path, round_trips: u32) -> Result<Duration> {
    for role in ["a", "b"] {
        fs::create_dir_all(dir.join(role))?;
    }
    let exe = std::env::current_exe()?;
    let mut peers: Vec<Child> = Vec::new();
    for role in ["a", "b"] {
        peers.push(
            Command::new(&exe)
                .arg(FLOOR_PEER)
                .arg(dir)
                .arg(role)
                .stdin(Stdio::null())
                .spawn()?,
        );
    }
    let result = (|| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(dir.join("a.pid").exists() && dir.join("b.pid").exists()) {
            if Instant::now() > deadline {
                bail!("the floor peers did not start");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let a: u32 = fs::read_to_string(dir.join("a.pid"))?.trim().parse()?;
        let a = Pidfd::open(a)?;
        let serve = |round_trips: u32| -> Result<Duration> {
            let _ = fs::remove_file(dir.join("done"));
            let start = Instant::now();
            let first = format!("{{\"left\": {}}}\n", round_trips * 2 - 1);
            fsio::write_atomic(&dir.join("a").join("msg"), first.as_bytes())?;
            a.signal(Signal::SIGUSR1)?;
            while !dir.join("done").exists() {
                if start.elapsed() > Duration::from_secs(600) {
                    bail!("the floor did not finish");
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            Ok(start.elapsed())
        };
        serve(20)?;
        serve(round_trips)
    })();
    for mut peer in peers {
        let _ = peer.kill();
        let _ = peer.wait();
    }
    result
}
