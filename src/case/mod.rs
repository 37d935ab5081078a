//! The text format of a test case and of an expected outcome, shared by the conformance suite
//! (`conformance/*.case`), the corpus (`corpus/*.expect`) and the differential harness, which
//! writes regressions in it.
//!
//! Invariant: an [`Expectation`] is a statement about an [`Outcome`](crate::outcome::Outcome) (or a [`ParseError`]) that
//! can be written by hand, read back ([`parse_expectation`] after [`format_expectation`] gives the
//! same value) and checked ([`Expectation::check`]), and a report is empty exactly when the
//! actual result matches every part the expectation states.
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | [`ConformanceCase`], [`Source`], [`CaseError`], [`DEFAULT_LIMITS`]; the format's description |
//! | `escape.rs` | escaped strings ([`parse_escaped`], [`format_escaped`]) |
//! | `expectation.rs` | [`Expectation`], [`ExpectedOutcome`] and the check against a run |
//! | `file.rs` | reading and writing case files, expectation files and `limits:` values |
//! | `transcript.rs` | `transcript:` values ([`parse_transcript`], [`format_transcript`]); a run's reads as items ([`transcript_of`]) and checked against them |
//!
//! # ConformanceCase files
//!
//! ```text
//! # comment lines start with '#' (outside program blocks); blank lines are ignored
//! === case-name                  kebab-case, unique in its file
//! asm:                           the program as an assembly listing (see `syntax::assemble`):
//!     push 1                     the following lines indented by at least 2 spaces belong to
//!     printi                     the block; their common indentation is removed
//!     end
//! stl:                           or: visible S/T/L notation, same indentation rule; every
//!     SS STL   TLST   LLL        character but capital S, T, L is a comment there
//! ws: "  \t\n"                   or: the raw source bytes as one escaped string
//! input: "12\n"                  optional, default empty
//! transcript: > "?" < "1\n" > "!"   or: output and input in the order they happen (see below)
//! limits: fuel=10 stack=3 calls=2 heap=1    optional, any subset (see below)
//! stdout: "12"                   optional: absent means the output must be empty
//! outcome: ended | trap <kind-code> at <instruction-index> | parse-error <kind-code> at <line>:<column>
//!                                (optional parts: see "Outcomes" below)
//! stack: [1, -2]                 optional; bottom first; absent = not checked
//! heap: {0: 5, 7: -1}            optional; every cell ever written; absent = not checked
//! executed: 3                    optional; absent = not checked
//! ```
//!
//! [`parse_cases`] reads a case file and [`format_case`] writes one case back. Exactly one of
//! `asm:`, `stl:` and `ws:` gives the program; `outcome:` is required; every key appears at
//! most once per case. The line and column of a `parse-error` are counted in the program's own
//! text: for `ws:` in the decoded bytes, for `stl:` in the block after its
//! indentation is removed (line 1 is the block's first line). Blank lines inside a block are
//! kept; blank lines after its last indented line are not part of it.
//!
//! A **transcript** gives the output and the input together, as a terminal shows them:
//! `> "..."` is output the program writes, `< "..."` input it reads next, in order; it takes
//! the place of `input:` and `stdout:` (whose values are its `<` and `>` items put together).
//! It states when output must have been flushed, checked against the transcript the run
//! itself records ([`Finish::reads`](crate::outcome::Finish::reads)): at every read that
//! begins at input offset `i`, everything before the last `<` item that starts at or before
//! `i` must have been flushed; and a read must begin in every `<` item (`< ""` at the end: a
//! read that finds the input at its end). An expectation file may give a `transcript:` too, in
//! place of `stdout:` (its `<` items are then the `.in` file's bytes); the harness writes one
//! for every kept case whose reference run reads.
//!
//! **Outcomes** have optional parts, each checked only when stated:
//!
//! ```text
//! outcome: trap stack-underflow at 4 (2:9)          the position the trap reports, line:column
//! outcome: parse-error unterminated-label at 3:7 (byte 12) expected "S or T label tokens and a terminating L"
//! ```
//!
//! A trap's `(line:column)` is the position of its instruction in the program text (for
//! `asm:`, of its mnemonic in the block; for `missing-end`, the end of the text). A parse
//! error's `(byte N)` is the 0-based offset of the faulty instruction's first token in the
//! program text, and `expected "..."` (an escaped string) is what the error says would have
//! been valid next; either may be left out, but they come in this order.
//!
//! **Escaped strings** are double-quoted; inside, `\n \t \r \\ \" \0`, `\xHH` (one raw byte, so
//! `"\xff"` is not UTF-8) and `\u{H..}` (the UTF-8 bytes of a code point) are escapes, and every
//! other character stands for its UTF-8 bytes.
//!
//! **Numbers** (stack items, heap addresses and values) are decimal integers of any size, with
//! an optional `-`.
//!
//! **Limits** are `name=value` pairs among `fuel`, `stack`, `calls`, `heap`, `value-bits` and
//! `big-words` (the limits of SEMANTICS.md §4); a value is a
//! decimal number or `unlimited`. Fields not given keep [`DEFAULT_LIMITS`]:
//! [`Limits::DEFAULT`] with 10 000 000 instructions of fuel, so a wrong case cannot hang.
//!
//! # Expectation files
//!
//! The key lines alone (`limits:`, `stdout:` or `transcript:`, `outcome:`, `stack:`, `heap:`, `executed:`), with
//! the same comment and blank-line rules, form an expectation file (`.expect`), read by
//! [`parse_expectation`] and written by [`format_expectation`].

mod escape;
mod expectation;
mod file;
mod transcript;

use crate::limits::Limits;
use crate::program::Program;
use crate::syntax::{self, ParseError};

pub use escape::{format_escaped, parse_escaped};
pub use expectation::{Expectation, ExpectedOutcome};
pub use file::{
    format_case, format_expectation, format_limits, parse_cases, parse_expectation, parse_limits,
};
pub use transcript::{format_transcript, parse_transcript, transcript_of};

/// The limits of a case that gives no `limits:` line, and the base that a `limits:` line
/// changes: [`Limits::DEFAULT`] with 10 000 000 instructions of fuel.
pub const DEFAULT_LIMITS: Limits = Limits { fuel: 10_000_000, ..Limits::DEFAULT };

/// A malformed case or expectation file: the line (1-based) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CaseError {
    /// The line of the file where the problem is.
    pub line: usize,
    /// What is wrong, lowercase.
    pub message: String,
}

impl CaseError {
    fn new(line: usize, message: impl Into<String>) -> CaseError {
        CaseError { line, message: message.into() }
    }
}

/// How a case gives its program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// An assembly listing (`asm:`), for [`syntax::assemble`].
    Asm(String),
    /// Visible `S`/`T`/`L` notation (`stl:`), for [`syntax::parse_visible`].
    Visible(String),
    /// Raw source bytes (`ws:`), for [`syntax::parse`].
    Raw(Vec<u8>),
}

/// One test case: a program, its input and limits, and what running it must give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConformanceCase {
    /// The kebab-case name after `===`.
    pub name: String,
    /// The line of the `===` header in its file.
    pub line: usize,
    /// The program.
    pub source: Source,
    /// The line in the file of the program block's first line (or of the `ws:` line).
    pub source_line: usize,
    /// The bytes the program reads.
    pub input: Vec<u8>,
    /// The limits of the run.
    pub limits: Limits,
    /// What the run must give.
    pub expectation: Expectation,
}

/// One item of a transcript: output the program writes, or input it then reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exchange {
    /// `> "..."`: bytes the program writes.
    Output(Vec<u8>),
    /// `< "..."`: bytes the program reads next (`< ""`: it reads at the end of the input).
    Input(Vec<u8>),
}

impl ConformanceCase {
    /// The case's program, or the parse error that its source gives (to be compared with a
    /// `parse-error` expectation). An assembly listing that does not assemble is a mistake in
    /// the case file: the outer error, with the line of the file.
    pub fn program(&self) -> Result<Result<Program, ParseError>, CaseError> {
        match &self.source {
            Source::Raw(bytes) => Ok(syntax::parse(bytes)),
            Source::Visible(text) => Ok(syntax::parse_visible(text)),
            Source::Asm(text) => syntax::assemble(text).map(Ok).map_err(|e| {
                CaseError::new(
                    self.source_line + e.position.line - 1,
                    format!("assembly column {}: {}", e.position.column, e.message),
                )
            }),
        }
    }
}
