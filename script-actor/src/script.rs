//! The script: compiled once, and again whenever the file changes on disk. A version that does
//! not compile never replaces the last good one.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use rune::{Context, Vm};

/// What identifies one version of the file: an editor that saves by rename changes the inode,
/// one that writes in place changes the time or length.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode: meta.ino(),
    })
}

pub struct Script {
    path: PathBuf,
    seen: Option<Stamp>,
    compiled: Option<Arc<Compiled>>,
    /// Why the file as it is now cannot be used, if it cannot.
    problem: Option<String>,
}

/// What [`Script::refresh`] found.
pub enum Refresh {
    Unchanged,
    Compiled,
    /// The file changed and does not compile (the last good version, if any, stays).
    Failed,
}

impl Script {
    pub fn new(path: PathBuf) -> Self {
        Script {
            path,
            seen: None,
            compiled: None,
            problem: None,
        }
    }

    /// Compiles the script if the file changed since the last look, with the context
    /// `context` makes: it is built only then, and dropped after (it is large, and a script
    /// rarely changes).
    pub fn refresh(&mut self, context: impl FnOnce() -> anyhow::Result<Context>) -> Refresh {
        let now = stamp(&self.path);
        if now.is_some() && now == self.seen {
            return Refresh::Unchanged;
        }
        self.seen = now;
        let compiled = context()
            .map_err(|e| format!("cannot prepare the script's context: {e:#}"))
            .and_then(|context| compile(&context, &self.path));
        match compiled {
            Ok(compiled) => {
                self.compiled = Some(Arc::new(compiled));
                self.problem = None;
                Refresh::Compiled
            }
            Err(problem) => {
                self.problem = Some(problem);
                Refresh::Failed
            }
        }
    }

    /// The last version that compiled.
    pub fn compiled(&self) -> Option<Arc<Compiled>> {
        self.compiled.clone()
    }

    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

pub use script_actor::compile::Compiled;

/// Compiles one file. The error is text for a person: one `file:line:col: error: message` line
/// per problem (what editors and problem matchers read), then the detailed report.
pub fn compile(context: &Context, path: &Path) -> Result<Compiled, String> {
    let compiled = script_actor::compile::compile(context, path)?;
    // A script that compiles but cannot handle a message (an empty file saved halfway, a
    // renamed function) is no better than one that does not compile.
    let runtime = context
        .runtime()
        .map_err(|e| format!("{}: error: {e}", path.display()))?;
    if Vm::new(Arc::new(runtime), compiled.unit.clone())
        .lookup_function(["handle"])
        .is_err()
    {
        return Err(format!(
            "{}:1:1: error: no `handle` function: a script needs `pub fn handle(state, msg)`",
            path.display()
        ));
    }
    Ok(compiled)
}
