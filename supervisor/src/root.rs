//! Taking possession of a root: its folders, private to this user; the lock that keeps a second
//! supervisor out; the `.pid` file for people and tools.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{Context, Result, bail};
use eos::{Root, fsio};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// Held for as long as the supervisor runs: the lock is released by the kernel when the process
/// ends in any way, so a `.pid` left by a crash never blocks a restart.
pub struct Claim {
    root: Root,
    _lock: Flock<File>,
}

impl Claim {
    /// Creates the root's folders (mode 0700), refuses a root that other users can write to
    /// and (unless `force`) a system folder or a folder that holds something other than an EOS
    /// root, takes the lock and writes `.pid`.
    pub fn take(root: &Path, force: bool) -> Result<Claim> {
        if !force {
            refuse_unsuitable(root)?;
        }
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .with_context(|| format!("creating the root {}", root.display()))?;
        let root = Root::new(
            fs::canonicalize(root).with_context(|| format!("resolving {}", root.display()))?,
        );
        for dir in root.dirs() {
            match DirBuilder::new().mode(0o700).create(&dir) {
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                    return Err(e).with_context(|| format!("creating {}", dir.display()));
                }
                _ => check_private(&dir)?,
            }
        }
        let lock_path = root.lock_file();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((_, Errno::EWOULDBLOCK)) => {
                let pid = fs::read_to_string(root.pid_file()).unwrap_or_default();
                bail!(
                    "another supervisor (pid {}) is already running on {}; stop it first \
                     (kill {0}) or choose another root",
                    pid.trim(),
                    root.path().display()
                );
            }
            Err((_, e)) => return Err(e).context("locking the root"),
        };
        Ok(Claim { root, _lock: lock })
    }

    /// Says the supervisor is ready (every actor found restored): writes `.pid`, which is what
    /// `eos up` and people wait for.
    pub fn ready(root: &Root) -> Result<()> {
        fsio::write_atomic(
            &root.pid_file(),
            format!("{}\n", std::process::id()).as_bytes(),
        )
        .context("writing .pid")
    }

    pub fn root(&self) -> &Root {
        &self.root
    }

    /// Removes `.pid` at a clean shutdown. The lock goes with the process.
    pub fn release(self) {
        let _ = fs::remove_file(self.root.pid_file());
    }
}

/// Folders that are never a root: the supervisor would fill them with its own.
const SYSTEM: [&str; 24] = [
    "/",
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/media",
    "/mnt",
    "/opt",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/srv",
    "/sys",
    "/tmp",
    "/usr",
    "/usr/bin",
    "/usr/lib",
    "/usr/local",
    "/var",
];

/// Refuses a root that is a system folder, a home folder, or a folder with other things in it
/// (a typo such as `supervisor .` in a project). An EOS root that was used (it has `running/`
/// or `.lock`), or that holds only EOS's own files, is fine.
fn refuse_unsuitable(root: &Path) -> Result<()> {
    let Ok(path) = fs::canonicalize(root) else {
        return Ok(()); // It does not exist yet: it will be made.
    };
    let home = std::env::var_os("HOME").and_then(|h| fs::canonicalize(h).ok());
    if SYSTEM.iter().any(|s| path == Path::new(s)) || home.as_deref() == Some(&path) {
        bail!(
            "{} is a system folder, not a root for actors; choose a folder of its own (or \
             --force)",
            path.display()
        );
    }
    let names = fsio::names(&path).with_context(|| format!("reading {}", path.display()))?;
    let used = names.iter().any(|n| n == "running" || n == ".lock");
    let own = Root::own_names();
    let foreign: Vec<&String> = names
        .iter()
        .filter(|n| !own.contains(&n.as_str()))
        .collect();
    if !used && !foreign.is_empty() {
        bail!(
            "{} is not empty and is not an EOS root (it has {}{}); choose an empty or new \
             folder (or --force)",
            path.display(),
            foreign[..foreign.len().min(3)]
                .iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if foreign.len() > 3 { ", …" } else { "" }
        );
    }
    Ok(())
}

/// A folder in the root must be a real directory, owned by this user, that nobody else can
/// write to: whoever can write to `spawn/` can run programs as the supervisor's user.
fn check_private(dir: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        bail!(
            "{} belongs to user {}, not to this user ({me}); refusing to run programs from it",
            dir.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o022 != 0 {
        bail!(
            "{} can be written by other users (mode {:o}): anyone who can write to spawn/ \
             could run programs as you. Make it private (chmod 700 {0}) or choose another root",
            dir.display(),
            meta.mode() & 0o7777
        );
    }
    Ok(())
}
