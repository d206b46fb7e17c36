//! `eos-lsp`: a language server for EOS scripts. It is Rune's own language server, given the
//! very context script actors run with, so `send`, `id`, `log`, `spawn` and the rest are known
//! (with their documentation) and a misspelt one is flagged as you type. Editors start it with
//! no arguments and speak LSP on its standard input and output; `--version` says which it is.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("--version" | "-V") => {
            println!("eos-lsp {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some(_) => {
            eprintln!(
                "usage: eos-lsp (no arguments: speaks the language server protocol on standard \
                 input and output) | eos-lsp --version"
            );
            return ExitCode::from(2);
        }
    }
    match serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eos-lsp: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve() -> anyhow::Result<()> {
    let context = script_actor::context("editor", Path::new("."), None)?;
    let options = rune::Options::from_default_env()?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(rune::languageserver::run(context, options))
}
