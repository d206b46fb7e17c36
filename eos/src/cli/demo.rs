//! `eos demo`: a short tour on a temporary root.

use std::process::ExitCode;

use anyhow::Result;

use super::output::Output;

pub fn run(out: &Output) -> Result<ExitCode> {
    out.say("demo: coming")?;
    Ok(ExitCode::SUCCESS)
}
