//! The x86-64 JIT engine (work in progress: the API is final, the engine behind it is being
//! built; until then `run_with` runs the reference interpreter and `is_available` is false).

use std::time::Duration;

use crate::io::{Input, Output};
use crate::limits::Limits;
use crate::outcome::{Finish, HostError};
use crate::program::Program;

/// Deliberate bugs, for proving that the differential harness catches a wrong JIT.
///
/// Never used unless asked for through [`Options::mutation`]. Each is a small wrong behaviour
/// of the generated code or the JIT runtime that ordinary programs reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mutation {
    /// `div` and `mod` truncate toward zero instead of flooring (`-7 div 2` gives -3).
    TruncatedDivision,
    /// `slide n` removes one item fewer than it should.
    SlideOffByOne,
    /// The heap fast path uses only the low 16 bits of an address, so distinct addresses
    /// collide (`store 65536` then `retrieve 0` reads the wrong cell).
    HeapIgnoresHighBits,
    /// `add`, `sub` and `mul` skip the overflow check: i64 results wrap instead of handing
    /// over to big integers.
    SkipOverflowCheck,
    /// `jn` jumps on zero as well as on negative values.
    JnTakesZero,
    /// `copy n` copies the item one deeper than asked for (n + 1), when there is one.
    CopyOffByOne,
}

impl Mutation {
    /// Every mutation.
    pub const ALL: [Mutation; 6] = [
        Mutation::TruncatedDivision,
        Mutation::SlideOffByOne,
        Mutation::HeapIgnoresHighBits,
        Mutation::SkipOverflowCheck,
        Mutation::JnTakesZero,
        Mutation::CopyOffByOne,
    ];

    /// The mutation's kebab-case name, e.g. `truncated-division`.
    pub fn name(self) -> &'static str {
        match self {
            Mutation::TruncatedDivision => "truncated-division",
            Mutation::SlideOffByOne => "slide-off-by-one",
            Mutation::HeapIgnoresHighBits => "heap-ignores-high-bits",
            Mutation::SkipOverflowCheck => "skip-overflow-check",
            Mutation::JnTakesZero => "jn-takes-zero",
            Mutation::CopyOffByOne => "copy-off-by-one",
        }
    }

    /// The mutation with this name.
    pub fn from_name(name: &str) -> Option<Mutation> {
        Mutation::ALL.into_iter().find(|m| m.name() == name)
    }
}

impl std::fmt::Display for Mutation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How to run the JIT.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// A deliberate bug to compile in (for testing the differential harness); `None` normally.
    pub mutation: Option<Mutation>,
}

/// What a JIT run measured about itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Time spent compiling the program to machine code.
    pub compile_time: Duration,
    /// Basic blocks compiled.
    pub blocks: usize,
    /// Bytes of machine code generated.
    pub code_bytes: usize,
    /// Times the run went over to the big-integer path.
    pub handovers: u64,
}

/// Whether the JIT can run on this machine.
pub fn is_available() -> bool {
    false
}

/// Runs `program` as native code with default options.
pub fn run(
    program: &Program,
    limits: Limits,
    input: &mut Input,
    output: &mut Output,
) -> Result<Finish, HostError> {
    run_with(program, limits, &Options::default(), input, output).map(|(finish, _)| finish)
}

/// Runs `program` as native code with `options`, and reports what the run measured.
pub fn run_with(
    program: &Program,
    limits: Limits,
    _options: &Options,
    input: &mut Input,
    output: &mut Output,
) -> Result<(Finish, Stats), HostError> {
    let finish = crate::interp::run(program, limits, input, output)?;
    Ok((finish, Stats::default()))
}

/// The machine code generated for `program`, per basic block: the block's instruction range
/// and its code bytes.
pub fn disassemble(_program: &Program) -> Result<String, HostError> {
    Err(HostError::Unavailable("the JIT is not built yet".into()))
}
