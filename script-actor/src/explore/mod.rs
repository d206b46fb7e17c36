//! Systematic exploration of a system of script actors: [`world`] runs it in-process,
//! [`search`] searches its delivery orders and faults, [`minimize`] shrinks what it finds.

pub mod minimize;
pub mod search;
pub mod world;
