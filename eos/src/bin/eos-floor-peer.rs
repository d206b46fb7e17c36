//! `eos-floor-peer DIR a|b`: one of the two peers of `eos bench`'s raw floor. On each SIGUSR1
//! it does what an actor does with a message — read it, write its state atomically, delete it —
//! then writes the reply atomically into the other peer's folder and signals it: the same file
//! operations and signals as EOS, with nothing in between.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use eos::fsio;
use eos::layout::Floor;
use eos::pidfd::Pidfd;
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;
use serde_json::Value;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eos-floor-peer: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), Some(role)) = (args.next(), args.next()) else {
        bail!("usage: eos-floor-peer DIR a|b");
    };
    let dir = PathBuf::from(dir);
    let role = role.to_string_lossy().into_owned();
    let signals = eos::sdk::signal_fd(&[Signal::SIGUSR1, Signal::SIGTERM])?;
    serve(&dir, &role, &signals)
}

fn serve(dir: &Path, role: &str, signals: &SignalFd) -> Result<()> {
    let floor = Floor::new(dir);
    let peer_role = if role == "a" { "b" } else { "a" };
    let inbox = floor.inbox(role);
    let state = floor.state(role);
    let outbox = floor.inbox(peer_role);
    fsio::write_atomic(
        &floor.pid_file(role),
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
            fsio::write_atomic(&floor.done(), b"")?;
            continue;
        }
        fsio::write_atomic(&outbox, format!("{{\"left\": {}}}\n", left - 1).as_bytes())?;
        if peer.is_none() {
            let pid: u32 = fs::read_to_string(floor.pid_file(peer_role))?
                .trim()
                .parse()?;
            peer = Some(Pidfd::open(pid)?);
        }
        if let Some(peer) = &peer {
            peer.signal(Signal::SIGUSR1)?;
        }
    }
}
