//! What a script can call besides Rune's standard library: `send(to, value)`, `id()`,
//! `log(line)`, `sleep(ms)`, `exit(code)`, and for supervision `spawn(script_or_program, options)`,
//! `monitor(id)` and `link(id)`.

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rune::runtime::VmResult;
use rune::{ContextError, Module, Value};

use crate::convert;

/// What a handler asked for besides its new state; carried out only if it succeeds.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Send(String, serde_json::Value),
    /// A spawn request, as JSON.
    Spawn(serde_json::Value),
    Monitor(String),
    Link(String),
}

thread_local! {
    /// What the handler running on this thread asked for.
    static EFFECTS: RefCell<Vec<Effect>> = const { RefCell::new(Vec::new()) };
}

/// Takes what the last handler on this thread asked for.
pub fn take_effects() -> Vec<Effect> {
    EFFECTS.with(|o| std::mem::take(&mut *o.borrow_mut()))
}

fn push(effect: Effect) {
    EFFECTS.with(|o| o.borrow_mut().push(effect));
}

/// The host module, for the actor `id` running the script in `script_dir`.
pub fn module(id: String, script_dir: PathBuf) -> Result<Module, ContextError> {
    let mut module = Module::new();
    module.function("send", send).build()?;
    module.function("id", move || id.clone()).build()?;
    module.function("log", log).build()?;
    module.function("sleep", sleep).build()?;
    module
        .function("spawn", move |target: &str, options: Value| {
            spawn(&script_dir, target, options)
        })
        .build()?;
    module.function("exit", exit).build()?;
    module.function("monitor", monitor).build()?;
    module.function("link", link).build()?;
    Ok(module)
}

/// `spawn(script_or_program, #{id, args, state, restart})`: starts a child this actor
/// supervises, once the handler has returned; returns its id. A `.rn` file is a script, found
/// beside this one when relative; anything else is a program.
fn spawn(script_dir: &Path, target: &str, options: Value) -> VmResult<String> {
    match spawn_request(script_dir, target, &options) {
        Ok((id, request)) => {
            push(Effect::Spawn(request));
            VmResult::Ok(id)
        }
        Err(e) => VmResult::panic(format!("spawn `{target}`: {e}")),
    }
}

fn spawn_request(
    script_dir: &Path,
    target: &str,
    options: &Value,
) -> Result<(String, serde_json::Value), String> {
    let options = match convert::to_json(options)? {
        serde_json::Value::Null => serde_json::Map::new(),
        serde_json::Value::Object(map) => map,
        other => return Err(format!("the options must be an object, not {other}")),
    };
    let mut args: Vec<serde_json::Value> = match options.get("args") {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::Array(args)) => args.clone(),
        Some(other) => return Err(format!("`args` must be an array, not {other}")),
    };
    let located =
        if Path::new(target).is_absolute() || target.contains('/') || target.ends_with(".rn") {
            script_dir.join(target)
        } else {
            PathBuf::from(target)
        };
    let stem = located
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let path = if target.ends_with(".rn") {
        args.insert(0, located.to_string_lossy().into_owned().into());
        std::env::current_exe()
            .map_err(|e| format!("cannot find script-actor itself: {e}"))?
            .to_string_lossy()
            .into_owned()
    } else {
        located.to_string_lossy().into_owned()
    };
    let id = match options.get("id") {
        None | Some(serde_json::Value::Null) => eos::ActorId::generate(&stem),
        Some(serde_json::Value::String(id)) => eos::ActorId::parse(id)?,
        Some(other) => return Err(format!("`id` must be a string, not {other}")),
    };
    let mut request = serde_json::json!({"path": path, "args": args, "id": id});
    for key in ["state", "restart"] {
        if let Some(value) = options.get(key) {
            request[key] = value.clone();
        }
    }
    Ok((id.to_string(), request))
}

/// `exit(code)`: ends the actor's process at once, as a crash does when `code` is not 0 (the
/// message stays `current`, and its supervisor decides what comes next).
fn exit(code: i64) {
    let _ = std::io::stderr().flush();
    std::process::exit(i32::try_from(code).unwrap_or(1));
}

/// `monitor(id)`: this actor is told (a `down` message) whenever `id` exits.
fn monitor(id: &str) {
    push(Effect::Monitor(id.to_owned()));
}

/// `link(id)`: when either exits abnormally, the other is stopped (or told, if it traps
/// exits).
fn link(id: &str) {
    push(Effect::Link(id.to_owned()));
}

/// `send(to, value)`: sends `value` to the actor `to` once the handler has returned.
fn send(to: &str, value: Value) -> VmResult<()> {
    match convert::to_json(&value) {
        Ok(payload) => {
            push(Effect::Send(to.to_owned(), payload));
            VmResult::Ok(())
        }
        Err(e) => VmResult::panic(format!("send to `{to}`: {e}")),
    }
}

/// `log(line)`: a line in the actor's log (`running/<id>/actor.log`).
fn log(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// `sleep(ms)`: waits, to play a slow service. Counts against the handler's deadline.
fn sleep(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}
