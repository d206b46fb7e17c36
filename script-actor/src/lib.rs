//! What the script actor and the language server share: the host functions scripts call
//! ([`host`]), the conversion of values between JSON and Rune ([`convert`]), and the context
//! both compile scripts with ([`context`]), so the editor knows exactly what a script can call.

pub mod call;
pub mod compile;
pub mod convert;
pub mod explore;
pub mod host;
pub mod invariants;

use std::path::Path;

use anyhow::Result;
use eos::ActorDir;
use rune::Context;

/// Rune's standard modules and EOS's host functions, for the actor `id` running a script in
/// `script_dir` (with its folder `actor`, when it runs as one).
pub fn context(id: &str, script_dir: &Path, actor: Option<ActorDir>) -> Result<Context> {
    let mut context = Context::with_default_modules()?;
    context.install(host::module(
        id.to_owned(),
        script_dir.to_path_buf(),
        actor,
    )?)?;
    Ok(context)
}
