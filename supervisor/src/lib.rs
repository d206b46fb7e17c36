//! The EOS supervisor: spawns actors, routes and delivers their messages, records everything,
//! and survives being killed. `main` only reads the command line; everything else is here.
//!
//! The event loop ([`supervisor`]) owns the components and combines them; each component owns
//! its state: the [`registry`] of actors, each with its [`lifecycle`], delivery [`slot`] and
//! [`queue`]; [`intake`] of files others wrote; the [`router`]; the delivery [`policy`]; the
//! [`history`] that writes the journal; [`supervision`], which decides restarts (carried out
//! by [`supervise`]).

pub mod breaks;
pub mod check;
pub mod control;
pub mod delivery;
pub mod events;
pub mod faults;
pub mod history;
pub mod intake;
pub mod lifecycle;
pub mod metrics;
pub mod policy;
pub mod process;
pub mod queue;
pub mod registry;
pub mod restore;
pub mod root;
pub mod router;
pub mod shutdown;
pub mod slot;
pub mod spawner;
pub mod spin;
pub mod stuck;
pub mod supervise;
pub mod supervision;
pub mod supervisor;

pub use root::Claim;
pub use supervisor::{Config, Stop, Supervisor};
