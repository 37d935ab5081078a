//! The flushing check (SEMANTICS.md §2: output is flushed before every read, so a prompt
//! appears before the program waits): the program runs with an input that gives one byte per
//! read, as a terminal might, which notes how much output had reached the sink each time the
//! engine asked it for a byte; each note is compared with what the case's transcript says had
//! been written by then.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;

use twinspace::case::{ConformanceCase, Exchange};
use twinspace::differential::Parts;
use twinspace::textdiff::unified_diff;
use twinspace::{Engine, Input, Outcome, Output, Program, Stop};

/// Cases named so print all their output before their first read: their transcript is their
/// whole stdout, then their whole input.
pub const INTERACTIVE: &str = "interactive-";

/// The transcript the case states (`transcript:`), or implies by its name, if any.
pub fn transcript(case: &ConformanceCase) -> Option<Vec<Exchange>> {
    case.transcript.clone().or_else(|| {
        case.name.starts_with(INTERACTIVE).then(|| {
            vec![
                Exchange::Output(case.expectation.stdout.clone()),
                Exchange::Input(case.input.clone()),
            ]
        })
    })
}

/// For each `<` item of a transcript: the input offset where it starts, and all the output
/// before it.
fn read_points(transcript: &[Exchange]) -> Vec<(usize, Vec<u8>)> {
    let (mut offset, mut output) = (0, Vec::new());
    let mut points = Vec::new();
    for item in transcript {
        match item {
            Exchange::Output(bytes) => output.extend_from_slice(bytes),
            Exchange::Input(bytes) => {
                points.push((offset, output.clone()));
                offset += bytes.len();
            }
        }
    }
    points
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
    reads: Vec<(usize, usize)>,
}

impl Read for &mut Terminal {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reads.push((self.next, self.sink.0.borrow().len()));
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

/// Runs `program` on `engine` byte by byte and reports every read at which the output written
/// is not what `transcript` says, and a run whose outcome differs from the case's expectation.
pub fn check_flushing(
    case: &ConformanceCase,
    transcript: &[Exchange],
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
    let points = read_points(transcript);
    if terminal.reads.is_empty() && !points.is_empty() {
        report.push_str("the transcript has input, but the program never asked for any\n");
    }
    for (n, &(offset, length)) in terminal.reads.iter().enumerate() {
        let seen = &written[..length.min(written.len())];
        let Some((start, expected)) = points.iter().rev().find(|(start, _)| *start <= offset)
        else {
            report.push_str(&format!(
                "read {} (of input byte {offset}): the transcript has no `<` item, so no read\n",
                n + 1
            ));
            break;
        };
        if seen != &expected[..] {
            report.push_str(&format!(
                "output not flushed as the transcript says at read {} from the input (input \
                 byte {offset}; the transcript's `<` item from byte {start}):\n{}",
                n + 1,
                unified_diff("transcript: written before", expected, "written at the read", seen)
            ));
            break;
        }
    }
    let again = case.expectation.check(&Ok(Outcome { output: written, finish }));
    if !again.is_empty() {
        report.push_str(&format!("run with one input byte per read:\n{again}"));
    }
    report
}
