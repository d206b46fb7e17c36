//! Runs script functions on the actor's own thread, with an instruction budget, a memory limit
//! and a deadline (kept by the [`Watchdog`]).

use std::sync::Arc;

use rune::runtime::RuntimeContext;

use crate::script::Compiled;
use crate::watchdog::{Kind, Watchdog};
use script_actor::call::{Call, Limits, Outcome, execute};

pub struct Worker {
    runtime: Arc<RuntimeContext>,
    limits: Limits,
    watchdog: Watchdog,
}

impl Worker {
    pub fn new(runtime: Arc<RuntimeContext>, limits: Limits, watchdog: Watchdog) -> Self {
        Worker {
            runtime,
            limits,
            watchdog,
        }
    }

    pub fn run(&mut self, compiled: &Compiled, call: Call) -> Result<Outcome, String> {
        let kind = match call {
            Call::Init => Kind::Init,
            Call::Handle { .. } => Kind::Handle,
        };
        let guard = self.watchdog.begin(kind);
        let outcome = execute(&self.runtime, compiled, call, self.limits);
        if !guard.finish() {
            // The watchdog gave up on this call and is replacing the process: nothing of it
            // may take effect.
            loop {
                std::thread::park();
            }
        }
        outcome
    }
}
