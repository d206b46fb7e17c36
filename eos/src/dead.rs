//! Setting files aside with a reason: nothing in EOS is silently deleted.
//!
//! A message that cannot be routed or handled goes to `dead/` under its `send/` name, so a
//! person can read the reason beside it, fix the message and move it back into `send/`. A
//! refused spawn request goes to `dead/spawn/` the same way.

use std::io;
use std::path::{Path, PathBuf};

use crate::fsio;
use crate::layout;
use crate::status::unix_now;

/// Between the reason and the details below it in a `.reason` file.
const DETAILS: &str = "\n\nwas: ";

/// Moves `file` into `dir` as `name` (numbered if taken) and writes `reason` beside it.
/// Returns where the file went.
pub fn set_aside(file: &Path, dir: &Path, name: &str, reason: &str) -> io::Result<PathBuf> {
    let landed = fsio::move_unique(file, dir, name)?;
    let text = format!(
        "{reason}{DETAILS}{}\nat: {} (seconds since the Unix epoch)\n",
        file.display(),
        unix_now()
    );
    fsio::write_atomic(&layout::reason_file(&landed), text.as_bytes())?;
    Ok(landed)
}

/// The reason in a `.reason` file, without the details below it.
pub fn read_reason(reason_file: &Path) -> io::Result<String> {
    let text = std::fs::read_to_string(reason_file)?;
    Ok(text
        .split(DETAILS)
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn the_reason_sits_beside_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("x.json");
        fs::write(&src, "{").unwrap();
        let dead = dir.path().join("dead");
        fs::create_dir(&dead).unwrap();
        let landed = set_aside(&src, &dead, "a::b.json", "invalid JSON").unwrap();
        assert_eq!(fs::read_to_string(&landed).unwrap(), "{");
        let reason = fs::read_to_string(layout::reason_file(&landed)).unwrap();
        assert!(reason.starts_with("invalid JSON\n"), "{reason}");
        assert_eq!(
            read_reason(&layout::reason_file(&landed)).unwrap(),
            "invalid JSON"
        );
        assert!(!src.exists());
    }
}
