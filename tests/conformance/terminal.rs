//! Transcripts (SEMANTICS.md §2 and §4: output is flushed before every read, so a prompt
//! appears before the program waits, and the outcome records what had been flushed at each
//! read). Every engine notes its own transcript in the outcome ([`twinspace::Finish::reads`]);
//! the case's expectation checks it, for the run on the whole input and for a run with an
//! input that gives one byte per read, as a terminal might. That second run also checks the
//! engine's record against the world: the input notes how much output had reached the sink
//! each time the engine asked it for a byte, which must be what the engine's transcript says
//! for the read that was asking.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;

use twinspace::case::{ConformanceCase, Exchange, Expectation};
use twinspace::differential::Parts;
use twinspace::textdiff::unified_diff;
use twinspace::{Engine, Input, Outcome, Output, Program, Stop};

/// Cases named so print all their output before their first read: their transcript is their
/// whole stdout, then their whole input.
pub const INTERACTIVE: &str = "interactive-";

/// The case's expectation, with the transcript its name implies when it states none.
pub fn expectation(case: &ConformanceCase) -> Expectation {
    let mut expectation = case.expectation.clone();
    if expectation.transcript.is_none() && case.name.starts_with(INTERACTIVE) {
        expectation.transcript = Some(vec![
            Exchange::Output(case.expectation.stdout.clone()),
            Exchange::Input(case.input.clone()),
        ]);
    }
    expectation
}

/// The output sink, shared with the input source so that the source can see how much had
/// been written when the engine asked for input.
#[derive(Clone, Default)]
struct SharedSink(Rc<RefCell<Vec<u8>>>);

impl Write for SharedSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An input source that gives one byte per read and notes, at every read, the offset of the
/// byte asked for and the length of the output written so far.
struct Terminal {
    input: Vec<u8>,
    next: usize,
    sink: SharedSink,
    reads: Vec<(u64, u64)>,
}

impl Read for &mut Terminal {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reads.push((self.next as u64, self.sink.0.borrow().len() as u64));
        match (self.input.get(self.next), buf.first_mut()) {
            (Some(&b), Some(slot)) => {
                *slot = b;
                self.next += 1;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

/// Runs `program` on `engine` with one input byte per read, checks the run against
/// `expectation` (its transcript included), and reports every byte the engine asked for
/// while the sink held other than what the engine's own transcript says for that read.
pub fn check_flushing(
    case: &ConformanceCase,
    expectation: &Expectation,
    program: &Program,
    engine: &dyn Engine,
) -> String {
    let sink = SharedSink::default();
    let mut terminal =
        Terminal { input: case.input.clone(), next: 0, sink: sink.clone(), reads: vec![] };
    let mut writer = sink.clone();
    let result = {
        let mut output = Output::new(&mut writer);
        let mut input = Input::new(&mut terminal);
        let stop = Stop::current();
        engine.stream(program, case.limits, Parts::all(), &stop, &mut input, &mut output)
    };
    let finish = match result {
        Ok((finish, _)) => finish,
        Err(e) => return format!("run with one input byte per read: host error: {e}\n"),
    };
    let written = sink.0.borrow().clone();
    let mut report = String::new();
    for (n, &(offset, length)) in terminal.reads.iter().enumerate() {
        let Some(read) = finish.reads.iter().rev().find(|r| r.consumed <= offset) else {
            report.push_str(&format!(
                "input byte {offset} was asked for (source read {}) before any read began\n",
                n + 1
            ));
            break;
        };
        if read.flushed != length {
            let upto = |k: u64| &written[..(k as usize).min(written.len())];
            report.push_str(&format!(
                "the sink had other output than the engine's transcript says when it asked \
                 for input byte {offset} (source read {}; the engine's {read}):\n{}",
                n + 1,
                unified_diff(
                    "transcript: flushed",
                    upto(read.flushed),
                    "in the sink",
                    upto(length)
                )
            ));
            break;
        }
    }
    let again = expectation.check(&Ok(Outcome { output: written, finish }));
    if !again.is_empty() {
        report.push_str(&format!("run with one input byte per read:\n{again}"));
    }
    report
}
