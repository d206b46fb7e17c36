//! One call of a script's function — `init()` or `handle(state, msg)` — with an instruction
//! budget and a memory limit: its new state and what else it asked for, or why it failed in
//! words a person can act on. The script actor runs it under a watchdog; the explorer runs it
//! in-process.

use std::sync::Arc;

use rune::alloc::limit;
use rune::runtime::{RuntimeContext, VmError, budget};
use rune::termcolor::Buffer;
use rune::{Value, Vm};

use crate::compile::Compiled;
use crate::{convert, host};

#[derive(Clone, Copy)]
pub struct Limits {
    /// Instructions one call may execute.
    pub budget: usize,
    /// Bytes one call may allocate.
    pub memory: usize,
}

pub enum Call {
    /// `init()`, or `#{}` when the script has none.
    Init,
    /// `handle(state, msg)`.
    Handle {
        state: serde_json::Value,
        msg: serde_json::Value,
    },
}

/// What a successful call produced: the new state and what else it asked for.
pub struct Outcome {
    pub state: serde_json::Value,
    pub effects: Vec<host::Effect>,
}

pub fn execute(
    runtime: &Arc<RuntimeContext>,
    compiled: &Compiled,
    call: Call,
    limits: Limits,
) -> Result<Outcome, String> {
    let mut vm = Vm::new(runtime.clone(), compiled.unit.clone());
    host::take_effects();
    let (name, args) = match call {
        Call::Init => {
            if vm.lookup_function(["init"]).is_err() {
                return Ok(Outcome {
                    state: serde_json::json!({}),
                    effects: Vec::new(),
                });
            }
            ("init", None)
        }
        Call::Handle { state, msg } => (
            "handle",
            Some((convert::to_rune(&state)?, convert::to_rune(&msg)?)),
        ),
    };
    let result = budget::with(
        limits.budget,
        limit::with(limits.memory, || match args {
            None => vm.call(["init"], ()),
            Some(args) => vm.call(["handle"], args),
        }),
    )
    .call();
    let value: Value = result.map_err(|e| describe(&e, compiled, name, limits))?;
    if value.into_unit().is_ok() {
        return Err(format!(
            "`{name}` returned nothing: it must return the new state (end it with `state`, \
             without a semicolon, or `return state;`)"
        ));
    }
    let state = convert::to_json(&value)
        .map_err(|e| format!("`{name}` returned a value JSON cannot hold: {e}"))?;
    Ok(Outcome {
        state,
        effects: host::take_effects(),
    })
}
/// A runtime error as a person needs it: what, where in the script, and for the limits, which.
fn describe(error: &VmError, compiled: &Compiled, name: &str, limits: Limits) -> String {
    let text = error.to_string();
    let mut detail = Buffer::no_color();
    let located = error.emit(&mut detail, &compiled.sources).is_ok() && !detail.is_empty();
    let mut out = if text.contains("`limited`") {
        format!(
            "`{name}` ran out of its instruction budget ({} instructions): an endless loop?",
            limits.budget
        )
    } else if text.to_lowercase().contains("alloc") {
        format!(
            "`{name}` went over its memory limit ({} bytes): {text}",
            limits.memory
        )
    } else {
        format!("`{name}` failed: {text}")
    };
    if located {
        out.push('\n');
        out.push_str(&String::from_utf8_lossy(detail.as_slice()));
    }
    out
}
