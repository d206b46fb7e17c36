//! Finding EOS's other programs: beside this executable first (a build or an install puts them
//! together), then on `PATH`.

use std::path::PathBuf;

use anyhow::{Result, bail};

pub fn program(name: &str) -> Result<PathBuf> {
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(PathBuf::from))
    {
        let beside = dir.join(name);
        if beside.is_file() {
            return Ok(beside);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(found) = std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
    {
        return Ok(found);
    }
    bail!(
        "cannot find `{name}` beside this program or on PATH; build it with \
         `cargo build --release` (or `cargo install --path {name}`)"
    )
}
