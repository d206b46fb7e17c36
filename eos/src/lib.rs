//! EOS: an actor system on the Linux filesystem and signals.
//!
//! This library owns the on-disk protocol that the supervisor, the CLI, the script actor and
//! any Rust actor share: the layout of a root and every file name in it ([`layout`]), ids
//! ([`id`]), the message envelope ([`envelope`]), atomic file I/O ([`fsio`]), dead letters
//! ([`dead`]), spawn requests and actor status files, supervision ([`supervision`]), signalling by pidfd ([`pidfd`]), and the
//! SDK with which a Rust program is an actor ([`sdk`]), the journal and the message history read
//! from it ([`journal`], [`history`]).
//!
//! The `eos` command-line tool is behind the default feature `cli`: an actor that only needs
//! the SDK depends on `eos` with `default-features = false` and compiles none of it.

pub mod breakpoints;
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;
pub mod clock;
pub mod condition;
pub mod control;
pub mod dead;
pub mod duration;
pub mod envelope;
pub mod faults;
pub mod fsio;
pub mod history;
pub mod id;
pub mod image;
pub mod journal;
pub mod layout;
pub mod maelstrom;
pub mod mailbox;
pub mod metrics;
pub mod numbers;
pub mod pidfd;
pub mod programs;
pub mod rest;
pub mod rng;
pub mod schedule;
pub mod sdk;
pub mod spawn_request;
pub mod status;
pub mod store;
pub mod supervision;

pub use envelope::Envelope;
pub use id::{ActorId, MessageId};
pub use layout::{ActorDir, Root};
