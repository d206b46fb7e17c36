//! `eos bench`: EOS against the raw floor.

use std::process::ExitCode;

use anyhow::Result;

use super::output::Output;

pub fn run(out: &Output, _round_trips: u32, _messages: u32) -> Result<ExitCode> {
    out.say("bench: coming")?;
    Ok(ExitCode::SUCCESS)
}
