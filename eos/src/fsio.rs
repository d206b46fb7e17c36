//! File operations that other processes can rely on.
//!
//! Whatever another process may read is written to a hidden temp file in the same directory,
//! fsynced, then renamed into place: a reader sees the old file or the new one, never half of
//! one. Moves never overwrite: a file set aside keeps its name, or gets a numbered one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
use serde::Serialize;

use crate::layout;
use serde::de::DeserializeOwned;

/// Writes `bytes` to `path` atomically (temp file, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_from(&layout::temp_file(path), path, bytes)
}

/// Writes `bytes` to `path` atomically, with the temp file in `scratch` (a folder on the same
/// filesystem that nobody watches) instead of beside it: watchers of `path`'s folder then see
/// the file arrive and nothing before. Falls back to a temp file beside `path`.
pub fn write_atomic_via(scratch: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path.file_name().unwrap_or_default();
    let tmp = layout::temp_file(&scratch.join(name));
    match write_atomic_from(&tmp, path, bytes) {
        Err(e) if e.kind() == io::ErrorKind::NotFound && !scratch.is_dir() => {
            write_atomic(path, bytes)
        }
        result => result,
    }
}

/// [`write_json_atomic`] with the temp file in `scratch` (see [`write_atomic_via`]).
pub fn write_json_atomic_via(scratch: &Path, path: &Path, value: &impl Serialize) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    write_atomic_via(scratch, path, &bytes).with_context(|| format!("writing {}", path.display()))
}

fn write_atomic_from(tmp: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_new(tmp, bytes)?;
    fs::rename(tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(tmp);
    })
}

/// Writes `bytes` into a new file `path` (which must not exist) and fsyncs it; on failure
/// nothing is left behind. The first half of an atomic write: rename it into place after.
pub fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
        file.write_all(bytes)?;
        file.sync_data()
        // Closed before any rename: closed after it, watchers would see a second "written"
        // event under the final name.
    })();
    if result.is_err() {
        let _ = fs::remove_file(path);
    }
    result
}

/// Writes `value` as pretty JSON (sorted keys, trailing newline) to `path` atomically.
pub fn write_json_atomic(path: &Path, value: &impl Serialize) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes).with_context(|| format!("writing {}", path.display()))
}

/// The most [`read_json`] reads: files of the protocol are small, and one that is not (a link
/// to `/dev/zero`, say) must not take the reader's memory.
const MAX_JSON: u64 = 64 << 20;

/// Reads a JSON file into `T`, safely (see [`read_limited`]); errors name the file.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes =
        read_limited(path, MAX_JSON).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))
}

/// Reads a whole regular file, refusing one larger than `limit` bytes (as `InvalidData`, with
/// a message a person can act on).
///
/// Safe on files that others may have put there: the last component is not followed if it is a
/// symbolic link, a FIFO or a device is refused instead of blocking, and no more than `limit`
/// bytes are ever read. A small file costs an open, one read and a close; the file's type is
/// looked at only when the read finds nothing or fails.
pub fn read_limited(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    /// Most messages and states fit: one read returns them whole and short, which is the end.
    const FIRST: u64 = 16 << 10;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => io::Error::new(
                io::ErrorKind::InvalidInput,
                "it is a symbolic link, and links are not followed here",
            ),
            _ => e,
        })?;
    let too_big = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the file is larger than the limit of {limit} bytes"),
        )
    };
    let mut bytes = vec![0; FIRST.min(limit + 1) as usize];
    let mut reader = (&file).take(limit + 1);
    let first = match reader.read(&mut bytes) {
        Ok(n) => n,
        Err(e) => return Err(refuse_non_file(&file).unwrap_or(e)),
    };
    let full = first == bytes.len();
    bytes.truncate(first);
    if first == 0 {
        // Empty, or not a file at all (a FIFO with no writer reads as nothing).
        return match refuse_non_file(&file) {
            Some(e) => Err(e),
            None => Ok(bytes),
        };
    }
    if full {
        reader.read_to_end(&mut bytes)?;
    }
    if bytes.len() as u64 > limit {
        return Err(too_big());
    }
    Ok(bytes)
}

/// The error for an open file that is not a regular file, if it is not one.
fn refuse_non_file(file: &File) -> Option<io::Error> {
    let meta = file.metadata().ok()?;
    if meta.is_dir() {
        return Some(io::Error::new(
            io::ErrorKind::IsADirectory,
            "it is a directory",
        ));
    }
    (!meta.is_file()).then(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is {}, not a regular file", kind_of(&meta)),
        )
    })
}

/// What a file that is not a regular file is, for a reason a person reads.
pub fn kind_of(meta: &fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Renames `from` to `to` unless `to` exists (then `Ok(false)`).
pub fn rename_no_replace(from: &Path, to: &Path) -> io::Result<bool> {
    match renameat2(AT_FDCWD, from, AT_FDCWD, to, RenameFlags::RENAME_NOREPLACE) {
        Ok(()) => Ok(true),
        Err(nix::errno::Errno::EEXIST) => Ok(false),
        // Some filesystems lack RENAME_NOREPLACE; fall back to a checked plain rename.
        Err(nix::errno::Errno::EINVAL) if !to.exists() => fs::rename(from, to).map(|()| true),
        Err(e) => Err(io::Error::from(e)),
    }
}

/// Moves `from` into `dir` as `name`, or as `name` with a number added if that is taken.
/// Returns where it went.
pub fn move_unique(from: &Path, dir: &Path, name: &str) -> io::Result<PathBuf> {
    let (stem, ext) = match name.rfind('.') {
        Some(dot) if dot > 0 => name.split_at(dot),
        _ => (name, ""),
    };
    for n in 0u32..=u32::MAX {
        let candidate = if n == 0 {
            dir.join(name)
        } else {
            dir.join(format!("{stem}.{n}{ext}"))
        };
        if rename_no_replace(from, &candidate)? {
            return Ok(candidate);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("every variant of {name} is taken"),
    ))
}

/// The names in `dir`, as UTF-8 strings; names that are not UTF-8 are skipped (no EOS file
/// has one).
/// Creates a folder only its owner can use, unless it exists (a folder, not a link).
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match fs::DirBuilder::new().mode(0o700).create(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if fs::symlink_metadata(path)?.is_dir() {
                Ok(())
            } else {
                Err(io::Error::other(format!(
                    "{} is not a folder",
                    path.display()
                )))
            }
        }
        result => result,
    }
}

pub fn names(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        if let Ok(name) = entry?.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_json_atomic(&path, &serde_json::json!({"b": 1, "a": 2})).unwrap();
        write_json_atomic(&path, &serde_json::json!({"b": 3})).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\n  \"b\": 3\n}\n");
        assert_eq!(names(dir.path()).unwrap(), vec!["state.json"]);
    }

    #[test]
    fn moves_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("dead");
        fs::create_dir(&dest).unwrap();
        let mut landed = Vec::new();
        for body in ["1", "2", "3"] {
            let src = dir.path().join("a::b.json");
            fs::write(&src, body).unwrap();
            landed.push(move_unique(&src, &dest, "a::b.json").unwrap());
        }
        let mut got = names(&dest).unwrap();
        got.sort();
        assert_eq!(got, vec!["a::b.1.json", "a::b.2.json", "a::b.json"]);
        assert_eq!(fs::read_to_string(&landed[2]).unwrap(), "3");
    }

    #[test]
    fn oversized_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        fs::write(&path, vec![b' '; 100]).unwrap();
        assert!(read_limited(&path, 99).is_err());
        assert_eq!(read_limited(&path, 100).unwrap().len(), 100);
        // Past the first read, and empty: both whole.
        fs::write(&path, vec![b'x'; 40_000]).unwrap();
        assert_eq!(read_limited(&path, 40_000).unwrap().len(), 40_000);
        assert!(read_limited(&path, 39_999).is_err());
        fs::write(&path, "").unwrap();
        assert!(read_limited(&path, 10).unwrap().is_empty());
    }

    #[test]
    fn links_and_fifos_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let err = read_limited(&fifo, 100).unwrap_err();
        assert!(err.to_string().contains("a FIFO"), "{err}");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
        let err = read_limited(&link, 100).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
    }
}
