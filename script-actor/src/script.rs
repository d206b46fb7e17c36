//! The script: compiled once, and again whenever the file changes on disk. A version that does
//! not compile never replaces the last good one.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use rune::termcolor::Buffer;
use rune::{Context, Diagnostics, Source, Sources, Unit, Vm};

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

    /// Compiles the script if the file changed since the last look.
    pub fn refresh(&mut self, context: &Context) -> Refresh {
        let now = stamp(&self.path);
        if now.is_some() && now == self.seen {
            return Refresh::Unchanged;
        }
        self.seen = now;
        match compile(context, &self.path) {
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

/// A compiled script, with its source for error reports that point into it.
pub struct Compiled {
    pub unit: Arc<Unit>,
    pub sources: Sources,
}

/// Compiles one file. The error is text for a person: one `file:line:col: error: message` line
/// per problem (what editors and problem matchers read), then the detailed report.
pub fn compile(context: &Context, path: &Path) -> Result<Compiled, String> {
    let source = Source::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut sources = Sources::new();
    sources
        .insert(source)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut diagnostics = Diagnostics::without_warnings();
    let result = rune::prepare(&mut sources)
        .with_context(context)
        .with_diagnostics(&mut diagnostics)
        .build();
    match result {
        Ok(unit) => {
            let unit = Arc::new(unit);
            // A script that compiles but cannot handle a message (an empty file saved halfway,
            // a renamed function) is no better than one that does not compile.
            let runtime = context
                .runtime()
                .map_err(|e| format!("{}: error: {e}", path.display()))?;
            if Vm::new(Arc::new(runtime), unit.clone())
                .lookup_function(["handle"])
                .is_err()
            {
                return Err(format!(
                    "{}:1:1: error: no `handle` function: a script needs \
                     `pub fn handle(state, msg)`",
                    path.display()
                ));
            }
            Ok(Compiled { unit, sources })
        }
        Err(e) => {
            let mut out = Buffer::no_color();
            if diagnostics.emit(&mut out, &sources).is_err() || out.is_empty() {
                return Err(format!("{}: error: {e}", path.display()));
            }
            let report = String::from_utf8_lossy(out.as_slice()).into_owned();
            Err(format!("{}\n{report}", one_line_errors(&report)))
        }
    }
}

/// Turns codespan's `error: …` + `┌─ file:line:col` pairs into `file:line:col: error: …`.
pub fn one_line_errors(report: &str) -> String {
    let mut lines = Vec::new();
    let mut message: Option<&str> = None;
    for line in report.lines() {
        if let Some(m) = line.strip_prefix("error: ") {
            message = Some(m);
        } else if let (Some(m), Some((_, place))) = (message, line.split_once("┌─ ")) {
            lines.push(format!("{}: error: {m}", place.trim()));
            message = None;
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codespan_reports_become_one_line_each() {
        let report = "error: Missing local `x`\n  ┌─ /p/a.rn:3:5\n  │\n3 │ x\n";
        assert_eq!(
            one_line_errors(report),
            "/p/a.rn:3:5: error: Missing local `x`"
        );
    }
}
