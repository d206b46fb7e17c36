//! What a script can call besides Rune's standard library: `send(to, value)`, `id()`,
//! `log(line)` and `sleep(ms)`.

use std::cell::RefCell;
use std::io::Write;
use std::time::Duration;

use rune::runtime::VmResult;
use rune::{ContextError, Module, Value};

use crate::convert;

thread_local! {
    /// Messages sent by the handler running on this thread; sent only if it succeeds.
    static OUTBOX: RefCell<Vec<(String, serde_json::Value)>> = const { RefCell::new(Vec::new()) };
}

/// Takes what the last handler on this thread sent.
pub fn take_outbox() -> Vec<(String, serde_json::Value)> {
    OUTBOX.with(|o| std::mem::take(&mut *o.borrow_mut()))
}

/// The host module, for the actor `id`.
pub fn module(id: String) -> Result<Module, ContextError> {
    let mut module = Module::new();
    module.function("send", send).build()?;
    module.function("id", move || id.clone()).build()?;
    module.function("log", log).build()?;
    module.function("sleep", sleep).build()?;
    Ok(module)
}

/// `send(to, value)`: sends `value` to the actor `to` once the handler has returned.
fn send(to: &str, value: Value) -> VmResult<()> {
    match convert::to_json(&value) {
        Ok(payload) => {
            OUTBOX.with(|o| o.borrow_mut().push((to.to_owned(), payload)));
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
