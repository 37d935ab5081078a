//! The reference interpreter: SEMANTICS.md executed one instruction at a time on
//! arbitrary-precision integers, written to be obviously right rather than fast.
//!
//! Its [`Machine`] belongs to the interpreter alone. The JIT does not hand its state over to
//! it: it has its own exact stepper (`src/jit/step.rs`) on its own state, for big values and
//! for every instruction compiled code leaves to it. The two paths are separate on purpose
//! (see [`Machine`]'s module docs).

mod machine;

pub use machine::{Machine, Step};

use crate::io::{Input, Output};
use crate::limits::Limits;
use crate::outcome::{Finish, HostError};
use crate::program::Program;
use crate::stop::Stop;

/// Runs `program` from its start to its end or first trap, obeying the [`Stop`] installed on
/// this thread ([`Stop::current`]).
///
/// ```
/// use twinspace::syntax::assemble;
/// use twinspace::{Input, Limits, Output, Termination, interp};
///
/// let program = assemble("push 0 | readi | push 0 | retrieve | push 2 | mul | printi | end")?;
/// let mut sink = Vec::new();
/// let finish = interp::run(
///     &program,
///     Limits::DEFAULT,
///     &mut Input::from_bytes(b"21\n"),
///     &mut Output::new(&mut sink),
/// )?;
/// assert_eq!(finish.termination, Termination::Ended);
/// assert_eq!(finish.executed, 8);
/// assert_eq!(sink, b"42");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run(
    program: &Program,
    limits: Limits,
    input: &mut Input,
    output: &mut Output,
) -> Result<Finish, HostError> {
    run_with_stop(program, limits, &Stop::current(), input, output)
}

/// Runs `program` from its start to its end or first trap, or until `stop` is requested
/// ([`HostError::Stopped`], the output so far written).
pub fn run_with_stop(
    program: &Program,
    limits: Limits,
    stop: &Stop,
    input: &mut Input,
    output: &mut Output,
) -> Result<Finish, HostError> {
    let mut machine = Machine::new(program, limits);
    let termination = machine.run(stop, input, output)?;
    Ok(machine.finish(termination))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::StopCause;

    #[test]
    fn a_stop_is_seen_within_a_check_interval() {
        // Counts forever; the sink asks for the stop once the first line is out.
        let program = crate::syntax::assemble(
            "push 0\nloop:\npush 1\nadd\ndup\nprinti\npush 10\nprintc\njmp loop\n",
        )
        .unwrap();
        struct Asks(Vec<u8>, Stop);
        impl std::io::Write for Asks {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.extend_from_slice(bytes);
                self.1.request(StopCause::Timeout(250));
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let stop = Stop::new();
        let mut sink = Asks(Vec::new(), stop.clone());
        let mut machine = Machine::new(&program, Limits::DEFAULT);
        let result = {
            let mut output = Output::line_buffered(&mut sink);
            machine.run(&stop, &mut Input::from_bytes(b""), &mut output)
        };
        match result {
            Err(HostError::Stopped { index, cause: StopCause::Timeout(250) }) => {
                assert_eq!(index, machine.pc);
                assert_eq!(machine.executed, Stop::CHECK_EVERY, "seen at the first check point");
            }
            other => panic!("{other:?}"),
        }
        // Everything printed was written: the numbers 1, 2, ... one per line.
        let text = String::from_utf8(sink.0).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(!lines.is_empty());
        for (i, line) in lines.iter().enumerate() {
            assert!((i + 1).to_string().starts_with(line), "{line}");
        }
    }
}

#[cfg(test)]
mod transcript_tests {
    use super::*;
    use crate::engine::{Engine, Jit};
    use crate::outcome::{Parts, ReadPoint};

    /// Two prompts around three reads, then a read past the end: where each read began
    /// follows from SEMANTICS.md §2 and §4 (all output before a read is flushed).
    const PROGRAM: &str = "push '?' | printc | push 0 | readc | push 1 | readc
         push '!' | printc | push 2 | readi | push 3 | readc | end";
    const EXPECTED: [(u64, u64); 4] = [(0, 1), (1, 1), (2, 2), (5, 2)];

    fn expected() -> Vec<ReadPoint> {
        EXPECTED.iter().map(|&(consumed, flushed)| ReadPoint { consumed, flushed }).collect()
    }

    fn stream(engine: &dyn Engine, wanted: Parts) -> Finish {
        let program = crate::syntax::assemble(PROGRAM).unwrap();
        let mut sink = Vec::new();
        let mut output = Output::new(&mut sink);
        let mut input = Input::from_bytes(b"ab12\n");
        let stop = Stop::new();
        let (finish, _) = engine
            .stream(&program, Limits::DEFAULT, wanted, &stop, &mut input, &mut output)
            .unwrap();
        finish
    }

    #[test]
    fn every_engine_notes_each_read_when_asked() {
        let mut engines: Vec<Box<dyn Engine>> = vec![Box::new(crate::engine::Interp)];
        if crate::jit::is_available() {
            engines.push(Box::new(Jit::default()));
        }
        for engine in engines {
            let finish = stream(&*engine, Parts::all());
            let trap = finish.termination.trap().map(|t| (t.kind, t.index));
            assert_eq!(trap, Some((crate::TrapKind::EndOfInput, 11)), "{}", engine.name());
            assert_eq!(finish.reads, expected(), "{}", engine.name());
            let quiet = stream(&*engine, Parts::all() - Parts::TRANSCRIPT);
            assert_eq!(quiet.reads, [], "{}: not asked for", engine.name());
        }
    }
}
