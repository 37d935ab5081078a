//! twinspace runs [Whitespace](https://en.wikipedia.org/wiki/Whitespace_(programming_language))
//! programs twice, on two independent engines, and checks that they agree.
//!
//! ```text
//! bytes --syntax--> Program --interp--> Outcome --+
//!                           \--jit-----> Outcome --+--differential--> Agree | Mismatch(report, shrunk case)
//! ```
//!
//! | module | owns |
//! |---|---|
//! | [`abbrev`] | long values abbreviated for messages (first and last digits, size) |
//! | [`program`] | [`Program`], [`Instruction`], [`Label`], [`Position`]: what every engine runs |
//! | [`syntax`] | parsing `.ws` and visible `S`/`T`/`L` text, assembling listings, printing all three |
//! | [`outcome`] | [`Outcome`], [`Finish`], [`Termination`], [`Trap`], [`TrapKind`]: what engines must agree on |
//! | [`limits`] | [`Limits`]: fuel, stack, call stack and heap limits of a run |
//! | [`io`] | [`Input`] and [`Output`]: the byte streams both engines read and write |
//! | [`interp`] | the reference interpreter on big integers |
//! | [`jit`] | the x86-64 JIT (the only `unsafe` code) |
//! | [`engine`] | [`Engine`]: naming and running any engine by name; [`RunCase`], [`engine::Failure`] |
//! | [`stop`] | [`Stop`]: stopping a run from outside (signals, timeouts) |
//! | [`textdiff`] | unified diffs with invisible characters made visible |
//! | [`generate`] | random well-formed test cases (program, input, limits) as `proptest` strategies |
//! | [`differential`] | the harness: compare both engines' outcomes, shrink, report and keep mismatches |
//! | [`case`] | the text format of test cases and expected outcomes (`.case`, `.expect`) |
//!
//! The language is defined in `SEMANTICS.md` (shipped beside the project); runtime errors are
//! data ([`Trap`]), parse errors are [`syntax::ParseError`] values with a position, and host
//! failures are [`HostError`]s.

pub mod abbrev;
pub mod case;
pub mod differential;
pub mod engine;
pub mod generate;
pub mod interp;
pub mod io;
#[allow(unsafe_code)]
pub mod jit;
pub mod limits;
pub mod outcome;
pub mod program;
pub mod stop;
pub mod syntax;
pub mod textdiff;

pub use engine::{Engine, RunCase};
pub use io::{Input, Output};
pub use limits::Limits;
pub use outcome::{Finish, HostError, Outcome, StopCause, Termination, Trap, TrapKind};
pub use program::{Instruction, Label, Opcode, Position, Program};
pub use stop::Stop;
