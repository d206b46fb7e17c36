//! How the CLI speaks: styled text on a terminal, plain text when piped, JSON with `--json`.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};
use serde::Serialize;

pub const BOLD: Style = Style::new().bold();
pub const DIM: Style = Style::new().dimmed();
pub const GOOD: Style = AnsiColor::Green.on_default();
pub const WARN: Style = AnsiColor::Yellow.on_default();
pub const BAD: Style = AnsiColor::Red.on_default().bold();

pub struct Output {
    json: bool,
    quiet: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Output { json, quiet: false }
    }

    /// Says nothing at all (for steps of a larger command whose output would be noise).
    pub fn quiet() -> Self {
        Output {
            json: false,
            quiet: true,
        }
    }

    pub fn json_mode(&self) -> bool {
        self.json
    }

    /// A line for people (nothing in JSON mode). Styles are dropped when not on a terminal.
    pub fn say(&self, text: impl AsRef<str>) -> io::Result<()> {
        if self.json || self.quiet {
            return Ok(());
        }
        let mut out = anstream::stdout().lock();
        writeln!(out, "{}", text.as_ref())
    }

    /// Raw text on standard output (a drawing, a schedule, JSON lines, terminal codes),
    /// whatever the mode. A closed pipe is an error the caller passes on (`eos trace | head`
    /// ends quietly), where `print!` would panic.
    pub fn raw(&self, text: impl AsRef<str>) -> io::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(text.as_ref().as_bytes())?;
        out.flush()
    }

    /// A warning for people, on standard error (also in JSON mode: it is not data).
    pub fn warn(&self, text: impl AsRef<str>) {
        let _ = writeln!(
            anstream::stderr(),
            "{WARN}warning:{WARN:#} {}",
            text.as_ref()
        );
    }

    /// The JSON document of this command (nothing in text mode).
    pub fn data(&self, value: &impl Serialize) -> io::Result<()> {
        if !self.json || self.quiet {
            return Ok(());
        }
        let mut out = io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, value)?;
        writeln!(out)
    }
}

/// `text` in `style`, as a string for `say`.
pub fn styled(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// Prints an error with its whole chain: text for people, or `{"error": ...}` in JSON mode.
pub fn error(e: &anyhow::Error, json: bool) {
    if json {
        let _ = writeln!(
            io::stdout(),
            "{}",
            serde_json::json!({"error": format!("{e:#}")})
        );
    }
    let _ = writeln!(anstream::stderr(), "{BAD}error:{BAD:#} {e:#}");
}

/// A closed pipe (`eos list | head -1`) is not an error.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
