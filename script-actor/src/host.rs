//! What a script can call besides Rune's standard library: `send(to, value)`, `id()`,
//! `log(line)`, `sleep(ms)`, `exit(code)`, `plot(name, value)`, storage (`store`, `load`,
//! `delete`, `exists`), and for supervision `spawn(script_or_program, options)`,
//! `monitor(id)` and `link(id)`.

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use eos::ActorDir;
use eos::store::Store;
use rune::runtime::VmResult;
use rune::{ContextError, Module, Value};

use crate::convert;

/// What a handler asked for besides its new state; carried out only if it succeeds.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Send(String, serde_json::Value),
    /// A timer: sent to be delivered this many ms from now.
    SendAfter(String, serde_json::Value, u64),
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

/// The host module, for the actor `id` running the script in `script_dir`, with its folder
/// when it runs as an actor (not when a script is only checked). Each function has the doc
/// comment the language server shows.
pub fn module(
    id: String,
    script_dir: PathBuf,
    actor: Option<ActorDir>,
) -> Result<Module, ContextError> {
    let mut module = Module::new();
    let root = actor
        .as_ref()
        .and_then(|a| a.path().parent()?.parent().map(eos::Root::new));
    let who = id.clone();
    module
        .function("plot", move |name: &str, value: Value| {
            plot(root.as_ref(), &who, name, &value)
        })
        .build()?
        .docs([
            "Records `value` (a number) in the series `name` of this actor: a line in the root's",
            "`metrics.jsonl`, shown by `eos metrics` (and `--prometheus`).",
        ])?;
    module.function("send", send).build()?.docs([
        "Sends `value` to the actor `to` once the handler returns successfully.",
        "",
        "```rune",
        "send(\"counter\", #{ inc: 1 });",
        "```",
    ])?;
    module.function("send_after", send_after).build()?.docs([
        "Sends `value` to the actor `to` as a timer, once the handler returns: it waits in",
        "the receiver's spool (the file says when it is due) and is delivered `ms`",
        "milliseconds from now; `eos deliver` fires it early.",
    ])?;
    module
        .function("id", move || id.clone())
        .build()?
        .docs(["This actor's id."])?;
    module
        .function("log", log)
        .build()?
        .docs(["Writes a line to this actor's log, `running/<id>/actor.log`."])?;
    module.function("sleep", sleep).build()?.docs([
        "Waits `ms` milliseconds, to play a slow service. Counts against the handler's deadline.",
    ])?;
    module
        .function("spawn", move |target: &str, options: Value| {
            spawn(&script_dir, target, options)
        })
        .build()?
        .docs([
            "Starts a child actor that this one supervises, once the handler returns; returns",
            "its id. `target` is a `.rn` script (beside this one when relative) or a program;",
            "`options` may have `id`, `args`, `state` and `restart` (permanent, transient,",
            "temporary).",
            "",
            "```rune",
            "let worker = spawn(\"worker.rn\", #{ id: \"w1\", restart: \"transient\" });",
            "```",
        ])?;
    module.function("exit", exit).build()?.docs([
        "Ends this actor's process at once: with a code other than 0 it is a crash, and the",
        "message being handled stays to be delivered again; its supervisor decides the rest.",
    ])?;
    module.function("monitor", monitor).build()?.docs([
        "Asks to be told when the actor `id` exits: a message with the payload",
        "`#{eos: \"down\", actor, reason, via: \"monitor\"}` and no sender.",
    ])?;
    module.function("link", link).build()?.docs([
        "Links this actor with `id`: when either exits abnormally the other is stopped, unless",
        "it traps exits (a `trap_exits` file in its folder), when it is told instead.",
    ])?;
    let storage = actor.map(|dir| Store::of(&dir));
    let s = storage.clone();
    module
        .function("store", move |key: &str, value: Value| {
            with_store(s.as_ref(), key, |s| {
                let value = convert::to_json(&value)?;
                s.store(key, &value).map_err(|e| format!("{e:#}"))
            })
        })
        .build()?
        .docs([
            "Keeps `value` under `key` in `running/<id>/store/<key>.json` (written at once).",
        ])?;
    let s = storage.clone();
    module
        .function("load", move |key: &str| -> VmResult<Option<Value>> {
            with_store(s.as_ref(), key, |s| {
                s.load(key)
                    .map_err(|e| format!("{e:#}"))?
                    .map(|v| convert::to_rune(&v))
                    .transpose()
            })
        })
        .build()?
        .docs(["The value kept under `key`, or `None`."])?;
    let s = storage.clone();
    module
        .function("delete", move |key: &str| {
            with_store(s.as_ref(), key, |s| {
                s.delete(key).map_err(|e| format!("{e:#}"))
            })
        })
        .build()?
        .docs(["Removes `key`; whether it was there."])?;
    let s = storage;
    module
        .function("exists", move |key: &str| {
            with_store(s.as_ref(), key, |s| {
                s.exists(key).map_err(|e| format!("{e:#}"))
            })
        })
        .build()?
        .docs(["Whether a value is kept under `key`."])?;
    Ok(module)
}

/// `plot(name, value)`: a sample in `metrics.jsonl`.
fn plot(root: Option<&eos::Root>, actor: &str, name: &str, value: &Value) -> VmResult<()> {
    let number = match convert::to_json(value) {
        Ok(serde_json::Value::Number(n)) => n.as_f64(),
        _ => None,
    };
    let Some(number) = number else {
        return VmResult::panic(format!("plot `{name}`: the value must be a number"));
    };
    let Some(root) = root else {
        return VmResult::Ok(());
    };
    let sample = eos::metrics::Sample {
        us: eos::clock::now_us(),
        actor: actor.to_owned(),
        series: eos::metrics::Series::Plot {
            name: name.to_owned(),
            value: number,
        },
    };
    match eos::metrics::append(root, &[sample]) {
        Ok(()) => VmResult::Ok(()),
        Err(e) => VmResult::panic(format!("plot `{name}`: {e}")),
    }
}

/// Runs a storage operation, or says why it cannot run.
fn with_store<T>(
    store: Option<&Store>,
    key: &str,
    f: impl FnOnce(&Store) -> Result<T, String>,
) -> VmResult<T> {
    let Some(store) = store else {
        return VmResult::panic("storage is only there for a running actor");
    };
    match f(store) {
        Ok(value) => VmResult::Ok(value),
        Err(e) => VmResult::panic(format!("storage `{key}`: {e}")),
    }
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

/// `send_after(to, value, ms)`: a timer.
fn send_after(to: &str, value: Value, ms: i64) -> VmResult<()> {
    match convert::to_json(&value) {
        Ok(payload) => {
            push(Effect::SendAfter(to.to_owned(), payload, ms.max(0) as u64));
            VmResult::Ok(())
        }
        Err(e) => VmResult::panic(format!("send_after to `{to}`: {e}")),
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
