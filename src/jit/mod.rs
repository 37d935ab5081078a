//! The x86-64 JIT engine (not yet built: it reports itself unavailable).

use crate::io::{Input, Output};
use crate::limits::Limits;
use crate::outcome::{Finish, HostError};
use crate::program::Program;

/// Whether the JIT can run on this machine.
pub fn is_available() -> bool {
    false
}

/// Runs `program` as native code.
pub fn run(
    _program: &Program,
    _limits: Limits,
    _input: &mut Input,
    _output: &mut Output,
) -> Result<Finish, HostError> {
    Err(HostError::Unavailable("the JIT is not built yet".into()))
}
