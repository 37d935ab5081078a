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
//! | [`syntax`] | parsing `.ws` and visible `S`/`T`/`L` text, assembling listings, printing all three; [`syntax::SourceError`] |
//! | [`outcome`] | [`Outcome`], [`Finish`], [`Termination`], [`Trap`], [`TrapKind`]: what engines must agree on |
//! | [`limits`] | [`Limits`]: fuel, stack, call stack, heap, value-bits and big-words limits of a run |
//! | [`io`] | [`Input`] and [`Output`]: the byte streams both engines read and write |
//! | [`interp`] | the reference interpreter on big integers |
//! | [`jit`] | the x86-64 JIT (the only `unsafe` code) |
//! | [`engine`] | [`Engine`]: naming and running any engine by name; [`RunCase`], [`engine::Failure`] |
//! | [`stop`] | [`Stop`]: stopping a run from outside (signals, timeouts) |
//! | [`textdiff`] | unified diffs with invisible characters made visible |
//! | [`generate`] | random well-formed test cases (program, input, limits) as `proptest` strategies |
//! | [`differential`] | the harness: compare both engines' outcomes, shrink, report and keep mismatches |
//! | [`case`] | the text format of test cases and expected outcomes (`.case`, `.expect`) |
//! | [`external`] | engines that are other programs: a command per case, compared on what it shows |
//! | [`conform`] | the conformance suite and corpus run against any engine, with a verdict per item |
//!
//! The language is defined in `conformance/SEMANTICS.md`, each rule linked to the conformance
//! cases that pin it. Runtime errors are data ([`Trap`], inside the [`Outcome`]), a source
//! that is not a program is a [`syntax::SourceError`] with a kind and a position, and host
//! failures are [`HostError`]s.
//!
//! # Example
//!
//! Read a program, run it on both engines, and compare the outcomes:
//!
//! ```
//! use twinspace::engine::{Engine, Interp, Jit};
//! use twinspace::syntax::assemble;
//! use twinspace::{Limits, Termination, TrapKind};
//!
//! let program = assemble(
//!     "push 7 | push -2 | div | printi   ; floored division: -4
//!      push 10 | printc
//!      push 1 | push 0 | mod             ; traps: division-by-zero",
//! )?;
//! let reference = Interp.run_bytes(&program, Limits::DEFAULT, b"")?;
//! assert_eq!(reference.output, b"-4\n");
//! let Termination::Trapped(trap) = reference.finish.termination else { panic!("no trap") };
//! assert_eq!((trap.kind, trap.index), (TrapKind::DivisionByZero, 8));
//! assert_eq!(reference.finish.stack, [1.into(), 0.into()], "a trap has no effect");
//!
//! if Jit::default().unavailable().is_none() {
//!     let jit = Jit::default().run_bytes(&program, Limits::DEFAULT, b"")?;
//!     assert_eq!(jit, reference, "the engines agree on the whole outcome");
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! `cli` (default) builds the `twinspace` command and brings clap and signal-hook;
//! `signals` (part of `cli`) adds [`Stop::on_signals`]. With `default-features = false` the
//! crate is the syntax, the engines and the harness alone.

pub mod abbrev;
pub mod case;
pub mod conform;
pub mod differential;
pub mod engine;
pub mod external;
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
pub use outcome::{Finish, HostError, Outcome, ReadPoint, StopCause, Termination, Trap, TrapKind};
pub use program::{Argument, Instruction, Label, OPCODES, Opcode, OpcodeInfo, Position, Program};
pub use stop::Stop;
