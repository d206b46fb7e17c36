//! Finding programs: a bare name on `PATH`, and EOS's own programs beside the running
//! executable first. The one place that walks `PATH`.

use std::path::{Path, PathBuf};

/// The first file called `name` in a directory of `PATH`.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// One of EOS's programs (`supervisor`, `script-actor`, …): beside this executable (a build or
/// an install puts them together), then on `PATH`.
pub fn eos_program(name: &str) -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)))
        .filter(|p| p.is_file())
        .or_else(|| on_path(name))
}

/// Resolves the program of a spawn request: absolute; relative to the working directory when
/// it contains a `/`; otherwise looked up on `PATH`.
pub fn resolve(path: &str) -> Result<PathBuf, String> {
    if path.is_empty() {
        return Err("the program's path is empty".into());
    }
    if path.contains('/') {
        return std::path::absolute(Path::new(path))
            .map_err(|e| format!("the program {path} cannot be located: {e}"));
    }
    on_path(path).ok_or_else(|| format!("the program `{path}` was not found on PATH"))
}
