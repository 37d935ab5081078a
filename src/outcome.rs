//! What a run produces, and what the two engines must agree on (SEMANTICS.md §4): the output
//! bytes, how the run stopped, the final value stack and heap, the instruction count, and the
//! transcript (how much output had reached the sink at each read).
//!
//! A Whitespace runtime error is data here (a [`Trap`] inside the [`Termination`]); failures of
//! the host (I/O, an engine that is not available) are [`HostError`]s and never outcomes.

use std::collections::BTreeMap;
use std::fmt;

use bitflags::bitflags;
use num_bigint::BigInt;

use crate::program::{Position, Program};

/// The kinds of trap of SEMANTICS.md §3, each with a stable kebab-case code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TrapKind {
    /// An instruction needs more items than the stack holds (also a bad `copy` index).
    StackUnderflow,
    /// `div` or `mod` by zero.
    DivisionByZero,
    /// A heap access (`store`, `retrieve`, `readc`, `readi`) at an address below zero.
    NegativeAddress,
    /// A jump or call to a label that is not defined.
    UndefinedLabel,
    /// `ret` with an empty call stack.
    ReturnWithoutCall,
    /// Execution ran past the last instruction.
    MissingEnd,
    /// `printc` of a value that is not a Unicode scalar value.
    InvalidCharacter,
    /// `readc` or `readi` with no input left.
    EndOfInput,
    /// `readc` on bytes that are not UTF-8, or `readi` on a line that is not a number.
    InvalidInput,
    /// The value stack limit was exceeded.
    StackOverflow,
    /// The call stack limit was exceeded.
    CallStackOverflow,
    /// The limit on distinct heap addresses written was exceeded.
    HeapOverflow,
    /// A value made by `push`, `add`, `sub`, `mul` or `readi` would need more bits than the
    /// limit allows.
    ValueTooLarge,
    /// The big values held would take more words than the limit allows.
    MemoryOverflow,
    /// The limit on executed instructions was reached.
    OutOfFuel,
}

impl TrapKind {
    /// Every trap kind, in the order of SEMANTICS.md §3.
    pub const ALL: [TrapKind; 15] = [
        TrapKind::StackUnderflow,
        TrapKind::DivisionByZero,
        TrapKind::NegativeAddress,
        TrapKind::UndefinedLabel,
        TrapKind::ReturnWithoutCall,
        TrapKind::MissingEnd,
        TrapKind::InvalidCharacter,
        TrapKind::EndOfInput,
        TrapKind::InvalidInput,
        TrapKind::StackOverflow,
        TrapKind::CallStackOverflow,
        TrapKind::HeapOverflow,
        TrapKind::ValueTooLarge,
        TrapKind::MemoryOverflow,
        TrapKind::OutOfFuel,
    ];

    /// The stable code used in files, tests and messages, e.g. `stack-underflow`.
    pub fn code(self) -> &'static str {
        match self {
            TrapKind::StackUnderflow => "stack-underflow",
            TrapKind::DivisionByZero => "division-by-zero",
            TrapKind::NegativeAddress => "negative-address",
            TrapKind::UndefinedLabel => "undefined-label",
            TrapKind::ReturnWithoutCall => "return-without-call",
            TrapKind::MissingEnd => "missing-end",
            TrapKind::InvalidCharacter => "invalid-character",
            TrapKind::EndOfInput => "end-of-input",
            TrapKind::InvalidInput => "invalid-input",
            TrapKind::StackOverflow => "stack-overflow",
            TrapKind::CallStackOverflow => "call-stack-overflow",
            TrapKind::HeapOverflow => "heap-overflow",
            TrapKind::ValueTooLarge => "value-too-large",
            TrapKind::MemoryOverflow => "memory-overflow",
            TrapKind::OutOfFuel => "out-of-fuel",
        }
    }

    /// The trap kind with this code.
    pub fn from_code(code: &str) -> Option<TrapKind> {
        TrapKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A trap: its kind, the index of the instruction that trapped (one past the last for
/// `missing-end`) and that instruction's source position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Trap {
    /// What went wrong.
    pub kind: TrapKind,
    /// The 0-based index of the trapping instruction, labels counted.
    pub index: usize,
    /// The trapping instruction's source position (the end of the source for `missing-end`).
    pub position: Position,
}

impl Trap {
    /// A trap of `kind` at instruction `index` of `program`, with its position.
    pub fn at(program: &Program, kind: TrapKind, index: usize) -> Trap {
        Trap { kind, index, position: program.position(index) }
    }

    /// What happened, for people: `stack-underflow at instruction 4 (`add`)` (`program` is
    /// the one that trapped, to name the instruction as its source wrote it, long numbers
    /// abbreviated).
    pub fn describe(&self, program: &Program) -> String {
        format!(
            "{} at instruction {} ({})",
            self.kind,
            self.index,
            instruction_words(program, self.index)
        )
    }

    /// The trap as a diagnostic that editors can jump to:
    /// `prog.ws:2:9: trap: stack-underflow at instruction 4 (`add`)`, or `2:9: trap: ...`
    /// when there is no file name.
    pub fn message(&self, file: Option<&str>, program: &Program) -> String {
        format!("{}: trap: {}", location(file, self.position), self.describe(program))
    }
}

/// `FILE:LINE:COL` or `LINE:COL`.
fn location(file: Option<&str>, position: Position) -> String {
    match file {
        Some(file) => format!("{file}:{}:{}", position.line, position.column),
        None => format!("{}:{}", position.line, position.column),
    }
}

/// `` `add` `` for instruction `index`, or `past the last instruction`.
fn instruction_words(program: &Program, index: usize) -> String {
    if index < program.len() {
        format!("`{}`", program.instruction_text(index))
    } else {
        "past the last instruction".to_owned()
    }
}

/// How a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Termination {
    /// An `end` instruction ran.
    Ended,
    /// A trap stopped the run.
    Trapped(Trap),
}

impl Termination {
    /// The trap, if the run trapped.
    pub fn trap(&self) -> Option<&Trap> {
        match self {
            Termination::Ended => None,
            Termination::Trapped(t) => Some(t),
        }
    }
}

impl fmt::Display for Termination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Termination::Ended => f.write_str("ended"),
            Termination::Trapped(t) => write!(f, "trap {} at {}", t.kind, t.index),
        }
    }
}

/// The machine as a run left it: everything in an outcome but the output bytes, which the
/// engines stream to a writer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finish {
    /// How the run stopped.
    pub termination: Termination,
    /// The final value stack, bottom first (top last).
    pub stack: Vec<BigInt>,
    /// Every heap cell ever written, with its final value.
    pub heap: BTreeMap<BigInt, BigInt>,
    /// Instructions executed (labels count; a trapping instruction does not).
    pub executed: u64,
    /// The transcript: every read (`readc`, `readi`) that asked the input, in order, with
    /// the input consumed and the output flushed when it did (SEMANTICS.md §4). Empty when
    /// the engine was not asked to record it ([`Parts::TRANSCRIPT`] not wanted).
    pub reads: Vec<ReadPoint>,
}

/// One read of the transcript: where the input stood and how much output had been flushed
/// to the sink (not merely buffered) when a `readc` or `readi` asked the input for its value.
///
/// A read that traps before it asks the input (`negative-address`, `heap-overflow`) is not
/// one; a read that finds no input or bad input (`end-of-input`, `invalid-input`,
/// `value-too-large`) is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReadPoint {
    /// Input bytes consumed by the reads before this one.
    pub consumed: u64,
    /// Output bytes that had reached the sink when the read began.
    pub flushed: u64,
}

impl fmt::Display for ReadPoint {
    /// `read at input byte 3 after 5 output bytes`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "read at input byte {} after {} output bytes", self.consumed, self.flushed)
    }
}

/// The whole observable result of a run (SEMANTICS.md §4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The bytes written to output.
    pub output: Vec<u8>,
    /// The machine when the run stopped.
    pub finish: Finish,
}

bitflags! {
    /// The parts of an outcome (SEMANTICS.md §4): what a comparison checks (all by default),
    /// and what an engine can report ([`crate::engine::Engine::capabilities`]).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct Parts: u8 {
        /// The bytes written to output.
        const OUTPUT = 1;
        /// How the run stopped: ended, or the trap's kind and instruction index.
        const TERMINATION = 1 << 1;
        /// The final value stack.
        const STACK = 1 << 2;
        /// The final heap (every cell ever written, with its value).
        const HEAP = 1 << 3;
        /// The number of instructions executed.
        const EXECUTED = 1 << 4;
        /// The transcript: at each read, the input consumed and the output flushed
        /// ([`Finish::reads`]). A part of its own, not of OUTPUT, because an engine that shows
        /// its output bytes (another program) need not show when they left it.
        const TRANSCRIPT = 1 << 5;
    }
}

impl Default for Parts {
    fn default() -> Parts {
        Parts::all()
    }
}

impl Parts {
    /// The name of a single part, as in reports and on the command line.
    pub fn part_name(self) -> &'static str {
        match self {
            Parts::OUTPUT => "output",
            Parts::TERMINATION => "termination",
            Parts::STACK => "stack",
            Parts::HEAP => "heap",
            Parts::EXECUTED => "executed",
            Parts::TRANSCRIPT => "transcript",
            _ => "parts",
        }
    }

    /// Parses a comma-separated list of part names (`output,stack`), or `all`.
    pub fn parse(text: &str) -> Result<Parts, String> {
        let mut parts = Parts::empty();
        for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if name == "all" {
                parts |= Parts::all();
                continue;
            }
            let part = Parts::all().iter().find(|p| p.part_name() == name).ok_or_else(|| {
                format!(
                    "unknown part `{name}` (output, termination, stack, heap, executed, \
                     transcript, all)"
                )
            })?;
            parts |= part;
        }
        Ok(parts)
    }

    /// The parts in which `a` and `b` differ, among `self`.
    pub fn differing(self, a: &Outcome, b: &Outcome) -> Parts {
        let mut d = Parts::empty();
        let (fa, fb) = (&a.finish, &b.finish);
        if self.contains(Parts::OUTPUT) && a.output != b.output {
            d |= Parts::OUTPUT;
        }
        if self.contains(Parts::TERMINATION) && fa.termination != fb.termination {
            d |= Parts::TERMINATION;
        }
        if self.contains(Parts::STACK) && fa.stack != fb.stack {
            d |= Parts::STACK;
        }
        if self.contains(Parts::HEAP) && fa.heap != fb.heap {
            d |= Parts::HEAP;
        }
        if self.contains(Parts::EXECUTED) && fa.executed != fb.executed {
            d |= Parts::EXECUTED;
        }
        if self.contains(Parts::TRANSCRIPT) && fa.reads != fb.reads {
            d |= Parts::TRANSCRIPT;
        }
        d
    }
}

impl fmt::Display for Parts {
    /// `output, stack`, or `nothing`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("nothing");
        }
        let names: Vec<&str> = self.iter().map(Parts::part_name).collect();
        f.write_str(&names.join(", "))
    }
}

/// Why a run was stopped from outside before it could finish.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StopCause {
    /// A signal arrived (its number: 2 for SIGINT, 15 for SIGTERM).
    Signal(i32),
    /// The wall-clock timeout passed (in milliseconds).
    Timeout(u64),
}

impl fmt::Display for StopCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopCause::Signal(2) => f.write_str("interrupted (SIGINT)"),
            StopCause::Signal(15) => f.write_str("terminated (SIGTERM)"),
            StopCause::Signal(n) => write!(f, "stopped by signal {n}"),
            StopCause::Timeout(ms) => {
                write!(f, "timed out after {}.{:03} s", ms / 1000, ms % 1000)
            }
        }
    }
}

/// A failure of the host, not of the program: the run could not be completed as the language
/// defines it (SEMANTICS.md §4), so it has no outcome. The output written before it is kept.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// Reading input or writing output failed (outside any one instruction, or where the
    /// instruction is not known).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// Reading input or writing output failed at instruction `index`.
    #[error("i/o error at instruction {index}: {error}")]
    IoAt {
        /// The instruction that was reading or writing.
        index: usize,
        /// What failed.
        error: std::io::Error,
    },
    /// The run was stopped from outside (a signal, or the wall-clock timeout) before
    /// instruction `index` ran.
    #[error("{cause} at instruction {index}")]
    Stopped {
        /// The instruction that would have run next.
        index: usize,
        /// What stopped it.
        cause: StopCause,
    },
    /// The engine cannot run on this machine.
    #[error("engine unavailable: {0}")]
    Unavailable(String),
}

impl HostError {
    /// This error, placed at instruction `index` when it does not name one yet.
    pub fn at(self, index: usize) -> HostError {
        match self {
            HostError::Io(error) => HostError::IoAt { index, error },
            other => other,
        }
    }

    /// The instruction where it happened, when known.
    pub fn index(&self) -> Option<usize> {
        match self {
            HostError::IoAt { index, .. } | HostError::Stopped { index, .. } => Some(*index),
            HostError::Io(_) | HostError::Unavailable(_) => None,
        }
    }

    /// The error for people, placed like a trap when it names its instruction:
    /// `prog.ws:3:1: i/o error at instruction 5 (`printc`): Broken pipe`; otherwise as
    /// `Display` writes it.
    pub fn describe(&self, file: Option<&str>, program: &Program) -> String {
        let Some(index) = self.index() else {
            return self.to_string();
        };
        let at = location(file, program.position(index));
        let what = instruction_words(program, index);
        match self {
            HostError::IoAt { error, .. } => {
                format!("{at}: i/o error at instruction {index} ({what}): {error}")
            }
            HostError::Stopped { cause, .. } => {
                format!("{at}: {cause} at instruction {index} ({what})")
            }
            _ => format!("{at}: {self}"),
        }
    }

    /// The underlying i/o error, if it is one.
    pub fn io_error(&self) -> Option<&std::io::Error> {
        match self {
            HostError::Io(error) | HostError::IoAt { error, .. } => Some(error),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trap_names_its_instruction_or_the_end() {
        let program = crate::syntax::assemble("push 1\n  add\n").unwrap();
        let underflow = Trap::at(&program, TrapKind::StackUnderflow, 1);
        assert_eq!(underflow.describe(&program), "stack-underflow at instruction 1 (`add`)");
        assert_eq!(
            underflow.message(Some("p.wsa"), &program),
            "p.wsa:2:3: trap: stack-underflow at instruction 1 (`add`)"
        );
        let missing = Trap::at(&program, TrapKind::MissingEnd, 2);
        assert_eq!(
            missing.message(None, &program),
            "3:1: trap: missing-end at instruction 2 (past the last instruction)"
        );
    }

    #[test]
    fn a_trap_names_labels_and_abbreviates_values() {
        let huge = format!("1{}", "0".repeat(99));
        let program = crate::syntax::assemble(&format!("push {huge}\njmp nowhere\n")).unwrap();
        let undefined = Trap::at(&program, TrapKind::UndefinedLabel, 1);
        assert!(undefined.describe(&program).ends_with("(`jmp nowhere`)"));
        let too_large = Trap::at(&program, TrapKind::ValueTooLarge, 0);
        assert_eq!(
            too_large.describe(&program),
            "value-too-large at instruction 0 (`push 1000000000…0000000000 (100 digits, 329 bits)`)"
        );
    }

    #[test]
    fn host_errors_with_an_instruction_are_placed_like_traps() {
        let program = crate::syntax::assemble("push 65\nprintc\n").unwrap();
        let broken = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let e = HostError::Io(broken).at(1);
        assert_eq!(
            e.describe(Some("p.wsa"), &program),
            format!("p.wsa:2:1: i/o error at instruction 1 (`printc`): {}", e.io_error().unwrap())
        );
        let stopped = HostError::Stopped { index: 0, cause: StopCause::Signal(2) };
        assert_eq!(
            stopped.describe(None, &program),
            "1:1: interrupted (SIGINT) at instruction 0 (`push 65`)"
        );
        let unplaced = HostError::Unavailable("no".into());
        assert_eq!(unplaced.describe(Some("p.wsa"), &program), "engine unavailable: no");
    }
}
