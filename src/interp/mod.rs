//! The reference interpreter: SEMANTICS.md executed one instruction at a time on
//! arbitrary-precision integers, written to be obviously right rather than fast.
//!
//! Its [`Machine`] is also the JIT's big-integer path: the JIT hands its exact state over when
//! a value outgrows 64 bits and continues here.

mod machine;

pub use machine::{Machine, Step};

use crate::io::{Input, Output};
use crate::limits::Limits;
use crate::outcome::{Finish, HostError};
use crate::program::Program;

/// Runs `program` from its start to its end or first trap.
pub fn run(
    program: &Program,
    limits: Limits,
    input: &mut Input,
    output: &mut Output,
) -> Result<Finish, HostError> {
    let mut machine = Machine::new(program, limits);
    let termination = machine.run(input, output)?;
    Ok(machine.finish(termination))
}
