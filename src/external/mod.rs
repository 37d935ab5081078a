//! Engines that are other programs: any Whitespace implementation, run once per case as a
//! command, compared with twinspace's reference interpreter on what it can show.
//!
//! ```text
//! spec (`cmd:wsc {}` or a name in twinspace.toml) --> ExternalEngine: Engine --> the harness
//!                                                          \--observe--> Observation (conform, run)
//!                                                          \--Panel: Engine (N-way fuzzing)
//! ```
//!
//! | module | owns |
//! |---|---|
//! | [`command`] | [`Command`]: a command template run with a timeout, an output cap, its process group killed |
//! | [`config`] | `twinspace.toml`: named engines with their command, trap pattern and timeout |
//! | [`engine`] | [`ExternalEngine`]: what a run shows ([`Observation`]), trap patterns, its [`crate::Engine`] impl |
//! | [`panel`] | [`Panel`]: several engines against the reference, statistics per engine, a third opinion |
//!
//! What an external engine shows: its standard output, whether it ended (exit status 0) or
//! stopped with an error (any other status), and, when a trap pattern is declared, the trap
//! kind it names on standard error. Never the trap's instruction index, the stack, the heap or
//! the executed count; and it cannot be given limits, so cases that need one are not
//! applicable to it.

pub mod command;
pub mod config;
pub mod engine;
pub mod panel;

pub use command::{Command, Ran};
pub use engine::{ExternalEngine, Observation, Stopped, TrapPattern, applicable, limit_trap};
pub use panel::{Member, Opinion, Panel, third_opinion};
