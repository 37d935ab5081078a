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
