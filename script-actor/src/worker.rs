//! Runs script functions on a worker thread with an instruction budget and a memory limit, and
//! waits for them only up to a deadline. A handler stuck in a native call (where no budget
//! counts) is abandoned there: the actor goes on with a fresh worker, and the stuck thread's
//! result, should it ever come, is dropped.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use rune::alloc::limit;
use rune::runtime::{RuntimeContext, VmError, budget};
use rune::termcolor::Buffer;
use rune::{Value, Vm};

use crate::convert;
use crate::host;
use crate::script::Compiled;

#[derive(Clone, Copy)]
pub struct Limits {
    /// Instructions one call may execute.
    pub budget: usize,
    /// Bytes one call may allocate.
    pub memory: usize,
    /// How long one call may take.
    pub deadline: Duration,
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

/// What a successful call produced: the new state and the messages it sent.
pub struct Outcome {
    pub state: serde_json::Value,
    pub sent: Vec<(String, serde_json::Value)>,
}

struct Job {
    compiled: Arc<Compiled>,
    call: Call,
    reply: mpsc::Sender<Result<Outcome, String>>,
}

pub struct Worker {
    runtime: Arc<RuntimeContext>,
    limits: Limits,
    jobs: mpsc::Sender<Job>,
}

impl Worker {
    pub fn new(runtime: Arc<RuntimeContext>, limits: Limits) -> Self {
        let jobs = spawn(runtime.clone(), limits);
        Worker {
            runtime,
            limits,
            jobs,
        }
    }

    pub fn run(&mut self, compiled: Arc<Compiled>, call: Call) -> Result<Outcome, String> {
        let (reply, result) = mpsc::channel();
        let job = Job {
            compiled,
            call,
            reply,
        };
        if let Err(mpsc::SendError(job)) = self.jobs.send(job) {
            // The worker is gone (it panicked): start another.
            self.jobs = spawn(self.runtime.clone(), self.limits);
            let _ = self.jobs.send(job);
        }
        match result.recv_timeout(self.limits.deadline) {
            Ok(outcome) => outcome,
            Err(RecvTimeoutError::Timeout) => {
                self.jobs = spawn(self.runtime.clone(), self.limits);
                Err(format!(
                    "the handler did not finish within its deadline of {:?} (stuck in a native \
                     call such as sleep?); it was abandoned",
                    self.limits.deadline
                ))
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.jobs = spawn(self.runtime.clone(), self.limits);
                Err("the script host crashed while running the handler".into())
            }
        }
    }
}

fn spawn(runtime: Arc<RuntimeContext>, limits: Limits) -> mpsc::Sender<Job> {
    let (jobs, queue) = mpsc::channel::<Job>();
    thread::spawn(move || {
        for job in queue {
            let outcome = execute(&runtime, &job.compiled, job.call, limits);
            // Nobody listens if the deadline passed: the result is dropped.
            let _ = job.reply.send(outcome);
        }
    });
    jobs
}

fn execute(
    runtime: &Arc<RuntimeContext>,
    compiled: &Compiled,
    call: Call,
    limits: Limits,
) -> Result<Outcome, String> {
    let mut vm = Vm::new(runtime.clone(), compiled.unit.clone());
    host::take_outbox();
    let (name, args) = match call {
        Call::Init => {
            if vm.lookup_function(["init"]).is_err() {
                return Ok(Outcome {
                    state: serde_json::json!({}),
                    sent: Vec::new(),
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
        sent: host::take_outbox(),
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
