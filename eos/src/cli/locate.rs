//! Finding EOS's other programs, with an error that says how to get them.

use std::path::PathBuf;

use anyhow::{Result, anyhow};

pub fn program(name: &str) -> Result<PathBuf> {
    crate::programs::eos_program(name).ok_or_else(|| {
        anyhow!(
            "cannot find `{name}` beside this program or on PATH; build it with \
             `cargo build --release` (or `cargo install --path {name}`)"
        )
    })
}
