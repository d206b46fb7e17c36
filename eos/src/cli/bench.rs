//! `eos bench`: EOS measured against the raw floor, in one run, on each filesystem.
//!
//! On disk (a temporary folder in `--root`, or the system's temporary folder) and on tmpfs
//! (`/dev/shm`), each:
//! - floor: two `eos-floor-peer` processes play ping-pong with the same file operations and
//!   signals as EOS actors (read the message, write the state atomically, delete the message,
//!   write the reply atomically, signal the peer) and nothing in between; measured in turns with
//!   EOS, each EOS figure against the floors just before and after it, in many short rounds,
//!   because these machines drift (a disk's speed swings within seconds); the median of the
//!   rounds is reported;
//! - EOS ping-pong: two script actors through the supervisor;
//! - EOS throughput: N messages to one script actor, first send to last handled, against the
//!   floor's one-way rate;
//! - latency: from a message file appearing in `send/` to the `eos-probe` actor receiving
//!   SIGUSR1;
//! - deep queues: 1k, 10k, 100k messages queued to one probe actor while it is paused, then
//!   drained: messages per second for each, timed after a warm-up drained from the same queue
//!   (and the first thousand from cold apart), the depths in turns round by round;
//! - supervisor syscalls per delivered message (counted by `perf stat`, or `strace -c`, attached
//!   to the supervisor while N messages are routed and delivered), where either is installed.
//!
//! Once, on the first filesystem: supervision (a tree of 1,000 actors applied from a file, time
//! until all run; a one_for_all restart of 100 children, time until all run again); 1,000
//! script actors spawned (seconds until each has handled a message, memory per actor, the
//! supervisor's CPU while they all sit idle); 100 Rust actors on the SDK (memory per actor,
//! when the example `tally` is built).

use std::fs;
use std::io::{Read, Seek};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use clap::ValueEnum;
use nix::sys::signal::Signal;
use serde_json::{Value, json};

use super::output::{BOLD, DIM, Output, styled};
use super::{locate, poll, spawn, system};
use crate::layout::Floor;
use crate::pidfd::Pidfd;
use crate::spawn_request::SpawnRequest;
use crate::{ActorId, Envelope, MessageId, Root, fsio, layout, mailbox};

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

/// How many SDK actors the memory row measures.
const SDK_ACTORS: u32 = 100;

const SINK: &str = "pub fn init() { #{ count: 0 } }\npub fn handle(s, m) { s.count += 1; s }\n";

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Where {
    Disk,
    Tmpfs,
    Both,
}

#[derive(clap::Args)]
pub struct Options {
    /// Ping-pong round trips to time in each round
    #[arg(long, default_value_t = 500)]
    round_trips: u32,
    /// Messages to send to one actor for the throughput figure in each round
    #[arg(long, default_value_t = 500)]
    messages: u32,
    /// Rounds of floor and EOS in turns; the median is reported. Many short rounds: a disk's
    /// speed swings within seconds, and both sides must meet the same disk
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// Queue depths for the deep-queue run, comma-separated (`--deep` alone: skip it)
    #[arg(long, value_delimiter = ',', num_args = 0.., default_values_t = [1000, 10_000, 100_000])]
    deep: Vec<u32>,
    /// Rounds of the deep-queue run (each drains every depth once); the median is reported
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    deep_rounds: u32,
    /// Script actors to spawn for the many-actors run (0: skip it)
    #[arg(long, default_value_t = 1000)]
    actors: u32,
    /// Actors in the supervision tree applied from a file (0: skip the supervision run)
    #[arg(long, default_value_t = 1000)]
    tree: u32,
    /// Children of the one_for_all node restarted together
    #[arg(long, default_value_t = 100)]
    one_for_all: u32,
    /// How long to watch the supervisor's CPU while the many actors sit idle
    #[arg(long, default_value = "30s", value_parser = crate::duration::parse)]
    idle: Duration,
    /// Which filesystems to measure on
    #[arg(long, value_enum, default_value = "both")]
    on: Where,
}

pub fn run(out: &Output, root: Option<&Path>, options: &Options) -> Result<ExitCode> {
    if options.round_trips == 0 || options.messages == 0 {
        bail!("--round-trips and --messages must be at least 1");
    }
    let build = if cfg!(debug_assertions) {
        "debug build"
    } else {
        "release build"
    };
    out.say(format!(
        "{} ({build}, {} cores)",
        styled(BOLD, "EOS benchmark"),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    ))?;
    if cfg!(debug_assertions) {
        out.warn("this is a debug build; measure with `cargo build --release` binaries");
    }
    let mut places: Vec<(&str, tempfile::TempDir)> = Vec::new();
    if options.on != Where::Tmpfs {
        let disk = match root {
            Some(root) => {
                fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
                tempfile::Builder::new()
                    .prefix("eos-bench")
                    .tempdir_in(root)
            }
            None => tempfile::Builder::new().prefix("eos-bench").tempdir(),
        }
        .context("creating a temporary folder")?;
        places.push(("disk", disk));
    }
    if options.on != Where::Disk {
        match tmpfs_dir() {
            Some(dir) => places.push(("tmpfs", dir)),
            None => out.warn("no tmpfs at /dev/shm: the tmpfs run is skipped"),
        }
    }
    let mut figures = serde_json::Map::new();
    for (n, (name, dir)) in places.iter().enumerate() {
        out.say(format!(
            "\n{} {}",
            styled(BOLD, format!("on {name}:")),
            styled(DIM, dir.path().display().to_string())
        ))?;
        let many = n == 0 && options.actors > 0;
        figures.insert((*name).into(), measure(out, dir.path(), options, many)?);
    }
    if let Some((_, dir)) = places.first().filter(|_| options.actors > 0) {
        out.say("")?;
        let explored = super::bench_explore::run(out, dir.path())?;
        figures.insert("exploration".into(), explored);
    }
    out.data(&Value::Object(figures))?;
    Ok(ExitCode::SUCCESS)
}

/// A fresh folder on tmpfs, if `/dev/shm` is one.
fn tmpfs_dir() -> Option<tempfile::TempDir> {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    let shm = Path::new("/dev/shm");
    let stat = nix::sys::statfs::statfs(shm).ok()?;
    if stat.filesystem_type().0 as i64 != TMPFS_MAGIC {
        return None;
    }
    tempfile::Builder::new()
        .prefix("eos-bench")
        .tempdir_in(shm)
        .ok()
}

fn measure(out: &Output, dir: &Path, options: &Options, many: bool) -> Result<Value> {
    let root = Root::new(dir.join("root"));
    let quiet = Output::quiet();
    system::up(&root, &quiet, &system::UpOptions::standard(), None)?;
    let result = measure_eos(out, &root, dir, options, many);
    let _ = system::stop(&root, &quiet, system::StopMode::Clean);
    result
}

/// The floor and EOS in turns (floor, EOS, floor, EOS, …, floor), each EOS figure against the
/// mean of the floors just before and after it; the median of the rounds is reported. Turns
/// keep a drifting machine (fsync times vary a lot) from favouring either side.
fn ratios(out: &Output, root: &Root, dir: &Path, options: &Options) -> Result<Value> {
    let round_trips = options.round_trips;
    let floor_once = |n: u32| -> Result<f64> {
        let elapsed = floor(&dir.join(format!("floor-{n}")), round_trips)?;
        Ok(f64::from(round_trips) / elapsed.as_secs_f64())
    };
    let mut floors = vec![floor_once(0)?];
    let (mut ping_pongs, mut throughputs) = (Vec::new(), Vec::new());
    let mut sent = 0;
    for n in 1..=options.rounds {
        relay_once(root, 20)?;
        let ping_pong = f64::from(round_trips) / relay_once(root, round_trips)?.as_secs_f64();
        let elapsed = to_sink(root, options.messages, sent)?;
        sent += options.messages;
        let throughput = f64::from(options.messages) / elapsed.as_secs_f64();
        let after = floor_once(n)?;
        let mean = (floors[floors.len() - 1] + after) / 2.0;
        floors.push(after);
        out.say(format!(
            "round {n}: floor {mean:.0} round trips/s; EOS ping-pong {ping_pong:.0} round trips/s \
             ({:.2}), throughput {throughput:.0} msgs/s ({:.2} of {:.0} one-way hops/s)",
            ping_pong / mean,
            throughput / (2.0 * mean),
            2.0 * mean
        ))?;
        ping_pongs.push((ping_pong, ping_pong / mean));
        throughputs.push((throughput, throughput / (2.0 * mean)));
    }
    let floor_rate = median(floors);
    let (ping_pong, ping_pong_ratio) = median_pair(ping_pongs);
    let (throughput, throughput_ratio) = median_pair(throughputs);
    out.say(format!(
        "{} (median of {} rounds): ping-pong {ping_pong_ratio:.2} of the floor, throughput \
         {throughput_ratio:.2} of the one-way floor ({round_trips} round trips, {} messages each)",
        styled(BOLD, "ratios"),
        options.rounds,
        options.messages
    ))?;
    Ok(json!({
        "floor_round_trips_per_s": floor_rate,
        "ping_pong_round_trips_per_s": ping_pong,
        "ping_pong_ratio": ping_pong_ratio,
        "throughput_msgs_per_s": throughput,
        "throughput_ratio": throughput_ratio,
    }))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// The (figure, ratio) of the round with the median ratio.
fn median_pair(mut rounds: Vec<(f64, f64)>) -> (f64, f64) {
    rounds.sort_by(|a, b| a.1.total_cmp(&b.1));
    rounds.get(rounds.len() / 2).copied().unwrap_or((0.0, 0.0))
}

fn measure_eos(
    out: &Output,
    root: &Root,
    dir: &Path,
    options: &Options,
    many: bool,
) -> Result<Value> {
    let quiet = Output::quiet();
    let relay = dir.join("relay.rn");
    fs::write(&relay, RELAY)?;
    let sink = dir.join("sink.rn");
    fs::write(&sink, SINK)?;
    for id in ["ping", "pong"] {
        spawn::spawn_script(root, &quiet, &relay, Vec::new(), Some(id.into()), None)?;
    }
    spawn::spawn_script(root, &quiet, &sink, Vec::new(), Some("sink".into()), None)?;

    let mut figures = ratios(out, root, dir, options)?;
    let messages = options.messages;
    let sent = messages * options.rounds;
    // Syscalls are counted over a longer run than a round's (2,000 messages by default), so
    // that the moments around it weigh little.
    let syscall_messages = 4 * messages;

    let latency = latency(root)?;
    out.say(format!(
        "EOS latency:       send/ to SIGUSR1, median {:.0}µs, p90 {:.0}µs ({LATENCY_SAMPLES} \
         messages, one at a time)",
        latency.0, latency.1
    ))?;

    figures["latency_median_us"] = json!(latency.0);
    figures["latency_p90_us"] = json!(latency.1);

    match syscalls(root, syscall_messages, sent)? {
        Some((per_message, counter)) => {
            out.say(format!(
                "syscalls:          {per_message:.1} supervisor syscalls per delivered message \
                 ({counter} on the supervisor, {syscall_messages} messages to one actor)"
            ))?;
            figures["supervisor_syscalls_per_message"] = json!(per_message);
            figures["syscalls_counted_by"] = json!(counter);
        }
        None => out.say(styled(
            DIM,
            "syscalls:          (neither perf nor strace is installed; skipped)",
        ))?,
    }

    if !options.deep.is_empty() {
        let mut deep = serde_json::Map::new();
        let mut deep_floor = serde_json::Map::new();
        let mut deep_head = serde_json::Map::new();
        let probes = options
            .deep
            .iter()
            .map(|depth| start_probe(root, &format!("deep-{depth}")))
            .collect::<Result<Vec<_>>>()?;
        // The depths in turns, round by round: a disk drifts over the minutes a 100k drain
        // takes, and each depth's median must come from the same stretch of time.
        let mut drains = vec![Vec::new(); probes.len()];
        let mut floors = vec![Vec::new(); probes.len()];
        for _ in 0..options.deep_rounds {
            for (n, (&depth, probe)) in options.deep.iter().zip(&probes).enumerate() {
                floors[n].push(queue_floor(&dir.join("queue-floor"), depth)?);
                drains[n].push(deep_queue(root, probe, depth)?);
            }
        }
        let mut first = None;
        for ((&depth, rounds), floors) in options.deep.iter().zip(drains).zip(floors) {
            let rate = median(rounds.iter().map(|d| d.steady).collect());
            let head = median(rounds.iter().map(|d| d.cold_head).collect());
            let floor = median(floors);
            let (first_rate, first_head, first_floor) = *first.get_or_insert((rate, head, floor));
            out.say(format!(
                "deep queue:        {depth} queued to one actor drain at {rate:.0} msgs/s \
                 ({:.2} of the first depth's rate, timed after {WARM_UP} deliveries from the \
                 same queue; from cold its first {HEAD} at {head:.0}/s, {:.2}; the same file \
                 operations alone: {floor:.0}/s, {:.2}; median of {} rounds, depths in turns)",
                rate / first_rate,
                head / first_head,
                floor / first_floor,
                options.deep_rounds
            ))?;
            deep.insert(depth.to_string(), json!(rate));
            deep_head.insert(depth.to_string(), json!(head));
            deep_floor.insert(depth.to_string(), json!(floor));
        }
        figures["deep_queue_msgs_per_s"] = Value::Object(deep);
        figures["deep_queue_first_msgs_per_s"] = Value::Object(deep_head);
        figures["deep_queue_floor_per_s"] = Value::Object(deep_floor);
        figures["deep_queue_warm_up"] = json!(WARM_UP);
    }

    if many {
        // The sink has handled `sent` (throughput rounds) and the syscall run's so far.
        let handled = sent + syscall_messages;
        let (without, with) = rules_cost(root, options.messages, handled)?;
        out.say(format!(
            "debugging cost:    with 50 fault rules and 10 invariants {with:.0} msgs/s against \
             {without:.0} without ({:.2})",
            with / without
        ))?;
        figures["rules_and_invariants"] = json!({
            "without_msgs_per_s": without,
            "with_msgs_per_s": with,
            "ratio": with / without,
        });
    }

    if many {
        // rules_cost sent it twice `messages` and one more.
        let before = sent + syscall_messages + 2 * options.messages + 1;
        let (without, with, lag) = git_cost(root, dir, options.messages, before)?;
        out.say(format!(
            "git history:       {with:.0} msgs/s with `eos history --git --follow` committing \
             every delivery beside it, against {without:.0} without ({:.2}); its last commit \
             {lag:.2}s after the last delivery",
            with / without
        ))?;
        figures["git_history"] = json!({
            "without_msgs_per_s": without,
            "with_msgs_per_s": with,
            "ratio": with / without,
            "lag_s": lag,
        });
    }

    if many {
        let (native, adapter) = maelstrom_cost(root, dir, options.messages)?;
        out.say(format!(
            "maelstrom adapter: {adapter:.0} msgs/s delivered to a node through maelstrom-actor, \
             against {native:.0} to a script actor ({:.2})",
            adapter / native
        ))?;
        figures["maelstrom_adapter"] = json!({
            "adapter_msgs_per_s": adapter,
            "native_msgs_per_s": native,
            "ratio": adapter / native,
        });
    }

    if many && options.tree > 0 {
        let (applied, restarted) = supervision(root, dir, options.tree, options.one_for_all)?;
        out.say(format!(
            "supervision:       a tree of {} actors applied from a file runs after {applied:.2}s; \
             a one_for_all restart of {} children runs again after {restarted:.2}s",
            options.tree, options.one_for_all
        ))?;
        figures["supervision"] = json!({
            "tree_actors": options.tree,
            "tree_applied_s": applied,
            "one_for_all_children": options.one_for_all,
            "one_for_all_restart_s": restarted,
        });
    }

    if many {
        let many = many_actors(root, dir, options.actors, options.idle)?;
        out.say(format!(
            "many actors:       {} script actors spawned and each handled a message in {:.1}s; \
             {:.1} MiB RSS ({:.1} MiB PSS) per actor; supervisor idle CPU {:.2}% of a core \
             over {:?}",
            options.actors,
            many["seconds"].as_f64().unwrap_or(0.0),
            many["rss_mib_per_actor"].as_f64().unwrap_or(0.0),
            many["pss_mib_per_actor"].as_f64().unwrap_or(0.0),
            many["supervisor_idle_cpu_percent"].as_f64().unwrap_or(0.0),
            options.idle
        ))?;
        figures["many_actors"] = many;
        match sdk_actors(root, SDK_ACTORS)? {
            Some((rss, pss)) => {
                out.say(format!(
                    "SDK actors:        {SDK_ACTORS} Rust actors on the SDK (`tally`), each \
                     given a message: {rss:.1} MiB RSS ({pss:.1} MiB PSS) per actor"
                ))?;
                figures["sdk_actors"] = json!({
                    "actors": SDK_ACTORS, "rss_mib_per_actor": rss, "pss_mib_per_actor": pss,
                });
            }
            None => out.say(
                "SDK actors:        skipped: build the SDK's example actor with \
                 `cargo build --release --example tally`",
            )?,
        }
        // A checkpoint of all of them.
        let start = Instant::now();
        super::checkpoint::take(root, &Output::quiet(), "bench")?;
        let seconds = start.elapsed().as_secs_f64();
        let _ = super::checkpoint::remove(root, &Output::quiet(), "bench");
        out.say(format!(
            "checkpoint:        of every actor ({} script actors among them) in {seconds:.2}s",
            options.actors
        ))?;
        figures["checkpoint_s"] = json!(seconds);
    }
    Ok(figures)
}

/// Sends a ball with `round_trips * 2` hops left from ping to pong and back, and times it.
fn relay_once(root: &Root, round_trips: u32) -> Result<Duration> {
    for id in ["ping", "pong"] {
        fsio::write_atomic(&root.actor(&actor(id)?).state_file(), b"null\n")?;
    }
    let start = Instant::now();
    send(
        root,
        &actor("ping")?,
        json!({"left": round_trips * 2 - 1, "to": "pong"}),
    )?;
    // With an odd number of hops left, the last one lands on pong.
    wait_state(root, "pong", |s| s["done"] == true)?;
    Ok(start.elapsed())
}

/// Sends `messages` to the sink (which has handled `before` so far) and times until it handled
/// them all.
fn to_sink(root: &Root, messages: u32, before: u32) -> Result<Duration> {
    let sink = actor("sink")?;
    let start = Instant::now();
    for _ in 0..messages {
        send(root, &sink, json!(1))?;
    }
    wait_state(root, "sink", |s| s["count"] == before + messages)?;
    Ok(start.elapsed())
}

fn actor(id: &str) -> Result<ActorId> {
    ActorId::parse(id).map_err(anyhow::Error::msg)
}

fn send(root: &Root, to: &ActorId, payload: Value) -> Result<MessageId> {
    Envelope::new(MessageId::generate(), None, payload).post(root, to)
}

fn wait_state(root: &Root, id: &str, done: impl Fn(&Value) -> bool) -> Result<()> {
    poll::state(root, id, Duration::from_secs(600), done).map(drop)
}

/// The supervisor's syscalls per delivered message while `messages` more go to the sink, and
/// what counted them. `perf stat` counts the kernel's own syscall tracepoint and leaves the
/// supervisor's timing alone; `strace -c`, the fallback, stops it at every call, and a slower
/// supervisor sees fewer events per wake-up, so it counts a few more. `None` without either.
fn syscalls(root: &Root, messages: u32, sent_before: u32) -> Result<Option<(f64, &'static str)>> {
    let pid = system::require(root)?.pidfd.pid().to_string();
    if let Some(perf) = crate::programs::on_path("perf")
        && let Some(calls) = count_with_perf(root, &perf, &pid, messages, sent_before)?
    {
        return Ok(Some((calls / f64::from(messages), "perf stat")));
    }
    let Some(strace) = crate::programs::on_path("strace") else {
        return Ok(None);
    };
    let report = root.path().join("strace.txt");
    let mut tracer = Command::new(strace)
        .args(["-c", "-o"])
        .arg(&report)
        .args(["-p", &pid])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    // strace says "Process N attached" once it is.
    let mut said = String::new();
    if let Some(err) = tracer.stderr.as_mut() {
        let mut byte = [0u8; 1];
        while !said.contains("attached") && err.read(&mut byte).unwrap_or(0) == 1 {
            said.push(byte[0] as char);
        }
    }
    let timed = to_sink(root, messages, sent_before);
    let _ = Pidfd::open(tracer.id()).and_then(|p| p.signal(Signal::SIGINT));
    let _ = tracer.wait();
    timed?;
    let text = fs::read_to_string(&report).unwrap_or_default();
    let total = text
        .lines()
        .find(|l| l.trim_end().ends_with("total"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|calls| calls.parse::<f64>().ok());
    Ok(total.map(|calls| (calls / f64::from(messages), "strace -c")))
}

/// Counts the supervisor's syscalls with `perf stat`, started disabled and enabled through its
/// control FIFO (it acknowledges), so that counting covers exactly the messages. `None` if perf
/// cannot count here (no permission, no tracepoints).
fn count_with_perf(
    root: &Root,
    perf: &Path,
    pid: &str,
    messages: u32,
    sent_before: u32,
) -> Result<Option<f64>> {
    let dir = root.path();
    let (control, ack, report) = (
        dir.join("perf.ctl"),
        dir.join("perf.ack"),
        dir.join("perf.txt"),
    );
    for fifo in [&control, &ack] {
        let _ = fs::remove_file(fifo);
        nix::unistd::mkfifo(fifo.as_path(), nix::sys::stat::Mode::S_IRWXU)?;
    }
    let mut counter = Command::new(perf)
        .args([
            "stat",
            "-e",
            "raw_syscalls:sys_enter",
            "-x",
            ",",
            "-D",
            "-1",
            "-o",
        ])
        .arg(&report)
        .args(["-p", pid, "--control"])
        .arg(format!("fifo:{},{}", control.display(), ack.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    // Opening the FIFOs waits for perf to open its ends; if it fails first, nobody will.
    let enabled = (|| -> std::io::Result<bool> {
        let (tx, rx) = std::sync::mpsc::channel();
        let ack = ack.clone();
        std::thread::spawn(move || {
            let mut answer = [0u8; 4];
            let read = fs::File::open(&ack).and_then(|mut f| f.read_exact(&mut answer));
            let _ = tx.send(read.is_ok() && &answer == b"ack\n");
        });
        std::io::Write::write_all(
            &mut fs::OpenOptions::new().write(true).open(&control)?,
            b"enable\n",
        )?;
        Ok(rx.recv_timeout(Duration::from_secs(10)).unwrap_or(false))
    })();
    if !matches!(enabled, Ok(true)) {
        let _ = counter.kill();
        let _ = counter.wait();
        return Ok(None);
    }
    let timed = to_sink(root, messages, sent_before);
    let _ = Pidfd::open(counter.id()).and_then(|p| p.signal(Signal::SIGINT));
    let _ = counter.wait();
    timed?;
    let text = fs::read_to_string(&report).unwrap_or_default();
    Ok(text
        .lines()
        .find(|l| l.contains("raw_syscalls:sys_enter"))
        .and_then(|l| l.split(',').next())
        .and_then(|calls| calls.parse::<f64>().ok()))
}

/// Median and 90th percentile, in microseconds, of the time from a message's rename into
/// `send/` to the probe actor's signalfd returning.
fn latency(root: &Root) -> Result<(f64, f64)> {
    let probe = start_probe(root, "probe")?;
    let log = root.actor(&probe).path().join(layout::PROBE_LOG);
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for n in 0..LATENCY_SAMPLES {
        let id = MessageId::generate();
        let bytes = serde_json::to_vec(&Envelope::new(id.clone(), None, json!(n)))?;
        let path = root.send_file(&probe, &id);
        let tmp = layout::temp_file(&path);
        fs::write(&tmp, &bytes)?;
        // Read the clock just before the file appears: read after the rename, a preempted
        // bench could see the probe's answer come before its own send.
        let sent = now_ns();
        fs::rename(&tmp, &path)?;
        let received = poll::until(Duration::from_secs(10), || {
            let text = fs::read_to_string(&log).unwrap_or_default();
            let complete = &text[..text.rfind('\n').map_or(0, |end| end + 1)];
            let line = complete.lines().find(|l| l.starts_with(id.as_str()))?;
            received_at(line)
        })
        .ok_or_else(|| anyhow!("the probe did not receive message {n}"))?;
        samples.push(received.saturating_sub(sent) as f64 / 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    Ok((samples[samples.len() / 2], samples[samples.len() * 9 / 10]))
}

fn start_probe(root: &Root, id: &str) -> Result<ActorId> {
    let probe = actor(id)?;
    spawn::start(
        root,
        &Output::quiet(),
        &probe,
        SpawnRequest {
            path: locate::program("eos-probe")?.to_string_lossy().into_owned(),
            args: Vec::new(),
            id: Some(probe.clone()),
            state: None,
            ..SpawnRequest::default()
        },
    )?;
    Ok(probe)
}

/// Queues [`WARM_UP`] + `depth` messages to a paused probe actor, then resumes it and times
/// the drain from the probe's own receipt times: the rate of the last `depth` (timed once the
/// warm-up deliveries from the same queue are done, so every depth is measured in the same
/// steady state), and the rate of the first [`HEAD`] from cold.
///
/// Why the warm-up: on a machine whose scheduler packs busy tasks onto one processor until
/// their load shows (this VM's does), the first thousand or two deliveries run with the
/// supervisor and the actor sharing a processor, a cheap hand-over, and later ones with the
/// two spread apart, where each signal wakes an idle processor. Untimed, a 1k drain is all
/// burst and a 100k drain almost all steady state, and the ratio would measure the scheduler.
fn deep_queue(root: &Root, probe: &ActorId, depth: u32) -> Result<Drain> {
    let dir = root.actor(probe);
    let log = dir.path().join(layout::PROBE_LOG);
    let total = depth + WARM_UP;
    fsio::write_atomic(&dir.paused_file(), b"")?;
    // Written plainly (no fsync): what is measured is the drain, not the writing.
    for n in 0..total {
        let id = MessageId::generate();
        let path = root.send_file(probe, &id);
        let tmp = layout::temp_file(&path);
        fs::write(
            &tmp,
            serde_json::to_vec(&Envelope::new(id, None, json!(n)))?,
        )?;
        fs::rename(&tmp, &path)?;
    }
    let spool = dir.spool_dir();
    poll::until(Duration::from_secs(600), || {
        std::thread::sleep(Duration::from_millis(50));
        (mailbox::pending(&spool).ok()?.len() as u32 >= total).then_some(())
    })
    .ok_or_else(|| anyhow!("the {total} messages were not all routed"))?;
    // The supervisor is done with the routing (its journal has stopped growing): the drain
    // measured is the drain alone.
    let (mut last, mut still_since) = (0, Instant::now());
    poll::until(Duration::from_secs(600), || {
        std::thread::sleep(Duration::from_millis(20));
        let now = crate::journal::last_seq(root);
        if now != last {
            (last, still_since) = (now, Instant::now());
        }
        (still_since.elapsed() >= Duration::from_millis(200)).then_some(())
    });
    written_back(&spool)?;
    // Only what is appended from now on is read: the bench must not compete with what it
    // measures.
    let mut file = fs::File::open(&log)?;
    file.seek(std::io::SeekFrom::End(0))?;
    let start = now_ns();
    fs::remove_file(dir.paused_file())?;
    // The probe's receipt time of each message, by count: line `HEAD`, `WARM_UP`, the last.
    let marks = [HEAD.min(total), WARM_UP, total];
    let mut at = [None; 3];
    let mut seen = 0u32;
    let mut partial = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    poll::until(Duration::from_secs(600), || {
        std::thread::sleep(Duration::from_millis(2));
        while let Ok(n) = file.read(&mut chunk) {
            if n == 0 {
                break;
            }
            partial.extend_from_slice(&chunk[..n]);
            let complete = partial
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |end| end + 1);
            for line in partial[..complete]
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
            {
                seen += 1;
                for (mark, slot) in marks.iter().zip(at.iter_mut()) {
                    if seen == *mark {
                        *slot = std::str::from_utf8(line).ok().and_then(received_at);
                    }
                }
            }
            partial.drain(..complete);
        }
        (seen >= total).then_some(())
    })
    .ok_or_else(|| anyhow!("the queue of {total} did not drain"))?;
    let [Some(head), Some(warm), Some(end)] = at else {
        bail!("the probe's log of the {total} drained messages is not readable");
    };
    let rate = |count: u32, from: u128, to: u128| {
        f64::from(count) / (to.saturating_sub(from).max(1) as f64 / 1e9)
    };
    Ok(Drain {
        steady: rate(depth, warm, end),
        cold_head: rate(marks[0], start, head),
    })
}

/// One deep-queue drain: messages per second once warmed up, and over the first [`HEAD`] from
/// cold.
#[derive(Clone, Copy)]
struct Drain {
    steady: f64,
    cold_head: f64,
}

/// The receipt time in an `eos-probe` log line (`<message id> <ns since the epoch>`).
fn received_at(line: &str) -> Option<u128> {
    line.rsplit(' ').next()?.parse().ok()
}

/// Waits until the files just written to `dir`'s filesystem are on disk: on disk, a drain
/// timed while the kernel writes back 100k new files measures the writeback.
fn written_back(dir: &Path) -> Result<()> {
    let folder = fs::File::open(dir)?;
    nix::unistd::syncfs(&folder).with_context(|| format!("syncing {}", dir.display()))
}

/// Deliveries from the queue before a deep drain is timed (see [`deep_queue`]).
const WARM_UP: u32 = 4000;

/// The deliveries at the start of each drain timed apart: from cold, with the same number of
/// messages measured at each depth.
const HEAD: u32 = 1000;

/// The floor of a deep queue: `depth` message files in one folder, each renamed to `current`,
/// read and deleted in name order, with nothing else in between. Files per second.
fn queue_floor(dir: &Path, depth: u32) -> Result<f64> {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir)?;
    let floor = Floor::new(dir);
    let current = floor.inbox("a");
    fs::create_dir_all(floor.peer_dir("a"))?;
    let id = MessageId::generate();
    let body = serde_json::to_vec(&Envelope::new(id.clone(), None, json!(0)))?;
    let names: Vec<_> = (0..u64::from(depth))
        .map(|n| floor.peer_dir("a").join(layout::spool_file_name(n, &id)))
        .collect();
    for name in &names {
        fs::write(name, &body)?;
    }
    written_back(dir)?;
    let start = Instant::now();
    for name in &names {
        fs::rename(name, &current)?;
        fsio::read_limited(&current, 1 << 20)?;
        fs::remove_file(&current)?;
    }
    let rate = f64::from(depth) / start.elapsed().as_secs_f64();
    fs::remove_dir_all(dir)?;
    Ok(rate)
}

/// Spawns `count` script actors, gives each a message, and measures: the seconds until every
/// one handled it, the memory per actor, and the supervisor's CPU while they sit idle.
/// Throughput to the sink without and with 50 fault rules (that match nothing it is sent) and
/// 10 invariants (that hold): what checking every message against them costs.
fn rules_cost(root: &Root, messages: u32, sent_before: u32) -> Result<(f64, f64)> {
    let rate = |before: u32| -> Result<f64> {
        let elapsed = to_sink(root, messages, before)?;
        Ok(f64::from(messages) / elapsed.as_secs_f64())
    };
    let without = rate(sent_before)?;
    for n in 0..50 {
        let rule = json!({"kind": "drop", "to": format!("nobody-{n}"), "payload": {"never": n}});
        fsio::write_json_atomic(&root.faults_dir().join(format!("bench-{n}.json")), &rule)?;
    }
    for n in 0..10 {
        let check =
            "pub fn check(states) { let n = 0; for (id, s) in states { n += 1; } n >= 0 }\n";
        fsio::write_atomic(
            &root.invariants_dir().join(format!("bench-{n}.rn")),
            check.as_bytes(),
        )?;
    }
    // The supervisor reads them as they arrive; one message through shows it has.
    to_sink(root, 1, sent_before + messages)?;
    let with = rate(sent_before + messages + 1);
    for n in 0..50 {
        let _ = fs::remove_file(root.faults_dir().join(format!("bench-{n}.json")));
    }
    for n in 0..10 {
        let _ = fs::remove_file(root.invariants_dir().join(format!("bench-{n}.rn")));
    }
    Ok((without, with?))
}

/// Messages per second to a fresh script sink, and to a Maelstrom node (one that reads its
/// input and says nothing) through `maelstrom-actor`.
fn maelstrom_cost(root: &Root, dir: &Path, messages: u32) -> Result<(f64, f64)> {
    let quiet = Output::quiet();
    let sink = dir.join("sink.rn");
    spawn::spawn_script(root, &quiet, &sink, Vec::new(), Some("msink".into()), None)?;
    let (path, args) = super::cluster::node_request(
        Path::new("/bin/sh"),
        vec!["-c".into(), "exec cat > /dev/null".into()],
    )?;
    let node = actor("mnode")?;
    let request = crate::spawn_request::SpawnRequest {
        path,
        args,
        id: Some(node.clone()),
        ..Default::default()
    };
    spawn::start(root, &quiet, &node, request)?;
    let rate = |to: &str, done: &dyn Fn(&Value) -> bool| -> Result<f64> {
        let id = actor(to)?;
        let start = Instant::now();
        for n in 0..messages {
            send(root, &id, json!({"type": "echo", "echo": n}))?;
        }
        wait_state(root, to, done)?;
        Ok(f64::from(messages) / start.elapsed().as_secs_f64())
    };
    let native = rate("msink", &|s| s["count"] == messages)?;
    let adapter = rate("mnode", &|s| s["received"] == messages)?;
    Ok((native, adapter))
}

/// Throughput to the sink without and with `eos history --git DIR --follow` running beside the
/// system, and how long after the last delivery its last commit came.
fn git_cost(root: &Root, dir: &Path, messages: u32, before: u32) -> Result<(f64, f64, f64)> {
    let without = f64::from(messages) / to_sink(root, messages, before)?.as_secs_f64();
    let repo = dir.join("history.git");
    let mut follower = std::process::Command::new(std::env::current_exe()?)
        .arg("--root")
        .arg(root.path())
        .args(["history", "--follow", "--git"])
        .arg(&repo)
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("starting eos history")?;
    // The journal entry the repository's newest commit was made from.
    let committed = || -> u64 {
        std::process::Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(["log", "-1", "--format=%B", "main", "--"])
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .find_map(|l| l.strip_prefix("Eos-Seq: ")?.trim().parse().ok())
            })
            .unwrap_or(0)
    };
    // It has caught up with the journal so far once its first commits are visible.
    poll::until(Duration::from_secs(60), || (committed() > 0).then_some(()));
    let elapsed = to_sink(root, messages, before + messages)?;
    let done = Instant::now();
    let with = f64::from(messages) / elapsed.as_secs_f64();
    // The sink's last result: the commit the follower must reach.
    let last = crate::journal::read(root)
        .iter()
        .rev()
        .find(
            |e| matches!(&e.event, crate::journal::Event::Result { actor, .. } if actor == "sink"),
        )
        .map_or(0, |e| e.seq);
    poll::until(Duration::from_secs(120), || {
        std::thread::sleep(Duration::from_millis(20));
        (committed() >= last).then_some(())
    });
    let lag = done.elapsed().as_secs_f64();
    let _ = follower.kill();
    let _ = follower.wait();
    Ok((without, with, lag))
}

/// Seconds until a tree of `count` probe actors applied from a file all run, and until the
/// `children` of a one_for_all node all run again after one of them is killed.
fn supervision(root: &Root, dir: &Path, count: u32, children: u32) -> Result<(f64, f64)> {
    let probe = locate::program("eos-probe")?;
    let tree = |prefix: &str, n: u32, strategy: &str| {
        let children: Vec<Value> = (0..n)
            .map(|i| json!({"id": format!("{prefix}-{i}"), "program": probe, "shutdown_ms": 500}))
            .collect();
        json!({"strategy": strategy, "intensity": 10, "period": 60, "children": children})
    };
    let quiet = Output::quiet();
    let file = dir.join("bench-tree.json");
    fs::write(&file, tree("tree", count, "one_for_one").to_string())?;
    let start = Instant::now();
    super::tree::apply(root, &quiet, &file, Duration::from_secs(600))?;
    let applied = start.elapsed().as_secs_f64();

    let file = dir.join("bench-all.json");
    fs::write(&file, tree("all", children, "one_for_all").to_string())?;
    super::tree::apply(root, &quiet, &file, Duration::from_secs(600))?;
    let ids: Vec<ActorId> = (0..children)
        .map(|i| actor(&format!("all-{i}")))
        .collect::<Result<_>>()?;
    let starts = |id: &ActorId| {
        fsio::read_json::<crate::status::ActorStatus>(&root.actor(id).status_file())
            .ok()
            .filter(crate::status::ActorStatus::is_running)
            .map_or(0, |s| s.starts())
    };
    let first = ids
        .first()
        .ok_or_else(|| anyhow!("--one-for-all must be at least 1"))?;
    let pid: u32 = fs::read_to_string(root.actor(first).pid_file())?
        .trim()
        .parse()?;
    let start = Instant::now();
    Pidfd::open(pid)?.signal(Signal::SIGKILL)?;
    poll::until(Duration::from_secs(600), || {
        ids.iter().all(|id| starts(id) >= 2).then_some(())
    })
    .ok_or_else(|| anyhow!("the one_for_all children did not all run again"))?;
    let restarted = start.elapsed().as_secs_f64();
    // Out of the way of what is measured next.
    for name in ["bench-tree.json", "bench-all.json"] {
        let _ = fs::remove_file(root.trees_dir().join(name));
    }
    Ok((applied, restarted))
}

fn many_actors(root: &Root, dir: &Path, count: u32, idle: Duration) -> Result<Value> {
    let script = dir.join("many.rn");
    fs::write(&script, SINK)?;
    let runner = locate::program("script-actor")?;
    let args = vec![script.to_string_lossy().into_owned()];
    let start = Instant::now();
    let ids = spawn_many(root, "many", &runner, &args, count)?;
    for id in &ids {
        wait_state(root, id.as_str(), |s| s["count"] == 1)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let (rss, pss) = memory(root, &ids);
    let supervisor = system::require(root)?.pidfd.pid();
    let cpu_before = cpu_ticks(supervisor);
    std::thread::sleep(idle);
    let cpu = cpu_ticks(supervisor).saturating_sub(cpu_before);
    let ticks_per_s = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    Ok(json!({
        "actors": count,
        "seconds": seconds,
        "rss_mib_per_actor": rss,
        "pss_mib_per_actor": pss,
        "supervisor_idle_cpu_percent": cpu as f64 / ticks_per_s / idle.as_secs_f64() * 100.0,
    }))
}

/// Spawns `count` actors `PREFIX-N` running `program` with `args`, each sent one message.
fn spawn_many(
    root: &Root,
    prefix: &str,
    program: &Path,
    args: &[String],
    count: u32,
) -> Result<Vec<ActorId>> {
    let ids: Vec<ActorId> = (0..count)
        .map(|n| actor(&format!("{prefix}-{n}")))
        .collect::<Result<_>>()?;
    for id in &ids {
        let request = SpawnRequest {
            path: program.to_string_lossy().into_owned(),
            args: args.to_vec(),
            id: Some(id.clone()),
            state: None,
            ..SpawnRequest::default()
        };
        fsio::write_json_atomic(&root.spawn_request_file(id), &request)?;
    }
    for id in &ids {
        poll::until(Duration::from_secs(600), || {
            root.actor(id).path().exists().then_some(())
        })
        .ok_or_else(|| anyhow!("{id} was not spawned"))?;
        send(root, id, json!(1))?;
    }
    Ok(ids)
}

/// The mean RSS and PSS of the actors' processes, in MiB.
fn memory(root: &Root, ids: &[ActorId]) -> (f64, f64) {
    let (mut rss, mut pss) = (0.0, 0.0);
    for id in ids {
        let pid = fs::read_to_string(root.actor(id).pid_file()).unwrap_or_default();
        let rollup =
            fs::read_to_string(format!("/proc/{}/smaps_rollup", pid.trim())).unwrap_or_default();
        rss += kib(&rollup, "Rss:");
        pss += kib(&rollup, "Pss:");
    }
    let per = |kib: f64| kib / 1024.0 / ids.len().max(1) as f64;
    (per(rss), per(pss))
}

/// The memory of Rust actors on the SDK at rest: `count` of the SDK's example actor `tally`,
/// each given a message. `None` when the example is not built.
fn sdk_actors(root: &Root, count: u32) -> Result<Option<(f64, f64)>> {
    let Some(tally) = crate::programs::eos_program("examples/tally") else {
        return Ok(None);
    };
    let ids = spawn_many(root, "sdk", &tally, &[], count)?;
    for id in &ids {
        wait_state(root, id.as_str(), |s| s["count"] == 1)?;
    }
    Ok(Some(memory(root, &ids)))
}

/// A `Field:   123 kB` line's number.
fn kib(text: &str, field: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0)
}

/// A process's user and system CPU time, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command may contain spaces: count fields after its closing parenthesis.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |n: usize| {
        fields
            .get(n)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Times `round_trips` raw round trips between two floor peers (after a short warm-up).
fn floor(dir: &Path, round_trips: u32) -> Result<Duration> {
    for role in ["a", "b"] {
        fs::create_dir_all(Floor::new(dir).peer_dir(role))?;
    }
    let peer = locate::program("eos-floor-peer")?;
    let mut peers: Vec<Child> = Vec::new();
    for role in ["a", "b"] {
        peers.push(
            Command::new(&peer)
                .arg(dir)
                .arg(role)
                .stdin(Stdio::null())
                .spawn()?,
        );
    }
    let result = serve_floor(dir, round_trips);
    for mut peer in peers {
        let _ = peer.kill();
        let _ = peer.wait();
    }
    result
}

fn serve_floor(dir: &Path, round_trips: u32) -> Result<Duration> {
    let floor = Floor::new(dir);
    let pid_of = |role: &str| -> Option<u32> {
        fs::read_to_string(floor.pid_file(role))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    poll::until(Duration::from_secs(10), || pid_of("a").zip(pid_of("b")))
        .ok_or_else(|| anyhow!("the floor peers did not start"))?;
    let a = Pidfd::open(pid_of("a").unwrap_or_default())?;
    let done = floor.done();
    let serve = |round_trips: u32| -> Result<Duration> {
        let _ = fs::remove_file(&done);
        let start = Instant::now();
        let first = format!("{{\"left\": {}}}\n", round_trips * 2 - 1);
        fsio::write_atomic(&floor.inbox("a"), first.as_bytes())?;
        a.signal(Signal::SIGUSR1)?;
        poll::until(Duration::from_secs(600), || done.exists().then_some(()))
            .ok_or_else(|| anyhow!("the floor did not finish"))?;
        Ok(start.elapsed())
    };
    serve(20)?;
    serve(round_trips)
}
