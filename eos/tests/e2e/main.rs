//! End-to-end tests: the real `supervisor`, `eos` and actors on temporary roots, checked by
//! what a user would see (files, exit codes, output). One test binary, one module per area.

// Tests may stop at the first surprise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod breakpoints;
mod checkpoint;
mod cli;
mod crash;
mod debugger;
mod delivery;
mod devcontainer;
mod explore;
mod faults;
mod hardening;
mod history;
mod invariants;
mod lifecycle;
mod maelstrom;
mod metrics;
mod replay;
mod routing;
mod rust_actor;
mod script_actor;
mod shutdown;
mod spawn;
mod start;
mod supervision;
mod timers;
mod ui;
mod vocabulary;
mod wait;
