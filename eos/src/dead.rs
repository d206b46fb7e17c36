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

/// The longest name a dead letter gets: its reason file (`.reason` added) and a number (if
/// the name is taken) must still fit in a file name's 255 bytes.
const MAX_NAME: usize = 230;

/// Moves `file` into `dir` as `name` (numbered if taken, shortened if too long to have a reason
/// beside it) and writes `reason` beside it. Returns where the file went.
///
/// The reason is written first: if it cannot be (a full disk), the file stays where it was and
/// the error says why. A file is never set aside without its reason.
pub fn set_aside(file: &Path, dir: &Path, name: &str, reason: &str) -> io::Result<PathBuf> {
    let name = short_name(name);
    let text = format!(
        "{reason}{DETAILS}{}\nat: {} (seconds since the Unix epoch)\n",
        file.display(),
        unix_now()
    );
    let written = layout::temp_file(&dir.join(&name));
    fsio::write_new(&written, text.as_bytes())?;
    let landed = fsio::move_unique(file, dir, &name).and_then(|landed| {
        std::fs::rename(&written, layout::reason_file(&landed))?;
        Ok(landed)
    });
    if landed.is_err() {
        let _ = std::fs::remove_file(&written);
    }
    landed
}

/// Writes `reason` beside `file`, which stays where it is but is not used (a rule, a tree, an
/// invariant that is not one), unless its `.reason` says that already. Returns whether it wrote,
/// so that the news is told once.
pub fn explain(file: &Path, reason: &str) -> io::Result<bool> {
    let beside = layout::reason_file(file);
    let said = format!("{reason}\n");
    if std::fs::read_to_string(&beside).ok().as_deref() == Some(said.as_str()) {
        return Ok(false);
    }
    fsio::write_atomic(&beside, said.as_bytes())?;
    Ok(true)
}

/// Removes the reason [`explain`] wrote beside `file`, if there is one.
pub fn unexplain(file: &Path) {
    let _ = std::fs::remove_file(layout::reason_file(file));
}

/// `name`, or for one too long, its beginning and its end (where the message id is) around
/// `…`.
fn short_name(name: &str) -> String {
    if name.len() <= MAX_NAME {
        return name.to_owned();
    }
    let keep = (MAX_NAME - '…'.len_utf8()) / 2;
    let mut head = keep;
    while !name.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = name.len() - keep;
    while !name.is_char_boundary(tail) {
        tail += 1;
    }
    format!("{}…{}", &name[..head], &name[tail..])
}

/// The reason in a `.reason` file, without the details below it.
pub fn read_reason(reason_file: &Path) -> io::Result<String> {
    let bytes = fsio::read_limited(reason_file, 1 << 20)?;
    let text = String::from_utf8_lossy(&bytes);
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
    fn a_name_too_long_for_a_reason_is_shortened_keeping_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let name = format!("{}::the-id.json", "x".repeat(245));
        let src = dir.path().join("in");
        fs::write(&src, "{").unwrap();
        let landed = set_aside(&src, dir.path(), &name, "bad name").unwrap();
        let landed_name = landed.file_name().unwrap().to_string_lossy().into_owned();
        assert!(landed_name.len() <= MAX_NAME, "{landed_name}");
        assert!(landed_name.ends_with("::the-id.json"), "{landed_name}");
        assert_eq!(
            read_reason(&layout::reason_file(&landed)).unwrap(),
            "bad name"
        );
    }

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
