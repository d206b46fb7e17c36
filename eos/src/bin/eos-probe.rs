//! `eos-probe`: the actor `eos bench` measures latency with. It notes when each SIGUSR1
//! arrives (`<message id> <ns since the epoch>` per line, in `received.log` beside its state),
//! then deletes `current`. It does nothing else, so the time measured is EOS's.

use std::fs;
use std::io::Write;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;
use eos::{Envelope, fsio, sdk};
use nix::sys::signal::Signal;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eos-probe: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args = sdk::Args::from_env()?;
    let signals = sdk::signal_fd(&[Signal::SIGUSR1, Signal::SIGTERM])?;
    let mut log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(args.state_file.with_file_name(eos::layout::PROBE_LOG))?;
    loop {
        let Some(info) = signals.read_signal()? else {
            continue;
        };
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
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
