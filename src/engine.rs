//! The engines behind one interface, so the CLI, the tests and the differential harness can run
//! a program on any of them by name.

use std::fmt;

use crate::io::{Input, Output};
use crate::limits::Limits;
use crate::outcome::{Finish, HostError, Outcome};
use crate::program::Program;
use crate::stop::Stop;

/// What an engine runs: a program, its whole input and the limits of the run. The harness
/// generates these ([`crate::generate`]), shrinks them and keeps them; conformance cases
/// ([`crate::case::ConformanceCase`]) carry an expected outcome besides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunCase {
    /// The program.
    pub program: Program,
    /// The whole input, given to the program as one byte stream.
    pub input: Vec<u8>,
    /// The limits of the run (the same for every engine).
    pub limits: Limits,
}

impl RunCase {
    /// A case from its parts.
    pub fn new(program: Program, input: Vec<u8>, limits: Limits) -> RunCase {
        RunCase { program, input, limits }
    }
}

/// An engine that runs programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Engine {
    /// The reference interpreter (big integers, one instruction at a time).
    Interp,
    /// The x86-64 JIT.
    Jit,
}

impl Engine {
    /// Every engine, reference first.
    pub const ALL: [Engine; 2] = [Engine::Interp, Engine::Jit];

    /// The engine's name on the command line and in test names.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Interp => "interp",
            Engine::Jit => "jit",
        }
    }

    /// The engine with this name.
    pub fn from_name(name: &str) -> Option<Engine> {
        Engine::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Whether this engine can run on this machine.
    pub fn is_available(self) -> bool {
        match self {
            Engine::Interp => true,
            Engine::Jit => crate::jit::is_available(),
        }
    }

    /// The engines that can run here.
    pub fn available() -> Vec<Engine> {
        Engine::ALL.into_iter().filter(|e| e.is_available()).collect()
    }

    /// The fastest engine available here.
    pub fn fastest() -> Engine {
        if Engine::Jit.is_available() { Engine::Jit } else { Engine::Interp }
    }

    /// Runs `program`, reading `input` and streaming to `output`, obeying the [`Stop`]
    /// installed on this thread ([`Stop::current`]).
    pub fn run(
        self,
        program: &Program,
        limits: Limits,
        input: &mut Input,
        output: &mut Output,
    ) -> Result<Finish, HostError> {
        self.run_with_stop(program, limits, &Stop::current(), input, output)
    }

    /// Runs `program`, reading `input` and streaming to `output`, until it ends, traps or
    /// `stop` is requested ([`HostError::Stopped`], with the output so far written).
    pub fn run_with_stop(
        self,
        program: &Program,
        limits: Limits,
        stop: &Stop,
        input: &mut Input,
        output: &mut Output,
    ) -> Result<Finish, HostError> {
        match self {
            Engine::Interp => crate::interp::run_with_stop(program, limits, stop, input, output),
            Engine::Jit => {
                let options = crate::jit::Options::default();
                crate::jit::run_with_stop(program, limits, &options, stop, input, output)
                    .map(|(finish, _)| finish)
            }
        }
    }

    /// Runs `program` on the input `bytes` and collects the whole outcome.
    pub fn run_bytes(
        self,
        program: &Program,
        limits: Limits,
        input: &[u8],
    ) -> Result<Outcome, HostError> {
        let mut sink = Vec::new();
        let finish = {
            let mut output = Output::new(&mut sink);
            let mut input = Input::from_bytes(input);
            self.run(program, limits, &mut input, &mut output)?
        };
        Ok(Outcome { output: sink, finish })
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
