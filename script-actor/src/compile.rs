//! Compiling a Rune file with a context, for the script actor and for invariants. The error is
//! text for a person: one `file:line:col: error: message` line per problem (what editors and
//! problem matchers read), then the detailed report.

use std::path::Path;
use std::sync::Arc;

use rune::termcolor::Buffer;
use rune::{Context, Diagnostics, Source, Sources, Unit};

/// A compiled file, with its source for error reports that point into it.
pub struct Compiled {
    pub unit: Arc<Unit>,
    pub sources: Sources,
}

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
        Ok(unit) => Ok(Compiled {
            unit: Arc::new(unit),
            sources,
        }),
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
