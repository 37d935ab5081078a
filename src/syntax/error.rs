//! [`SourceError`]: why a source could not be read as a program, in any of the three syntaxes.
//!
//! Invariant: every error names the position of the faulty instruction's first token (or of
//! the faulty statement of a listing) and has a kind with a stable kebab-case code; the four
//! token-level kinds are the parse errors of the language (conformance/SEMANTICS.md §1) and
//! their codes are used by `.case` files.

use std::fmt;

use crate::program::Position;

/// What is wrong with a source, each kind with a stable kebab-case code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceErrorKind {
    /// The tokens after an instruction's start form no instruction (e.g. `T S T L`).
    UnknownInstruction,
    /// The source ends inside an instruction's opcode.
    TruncatedInstruction,
    /// The source ends inside a number argument (no terminating `L`).
    UnterminatedNumber,
    /// The source ends inside a label argument (no terminating `L`).
    UnterminatedLabel,
    /// A statement of an assembly listing does not assemble (an unknown mnemonic, a missing
    /// or malformed argument).
    Assembly,
    /// An assembly listing is not UTF-8.
    InvalidUtf8,
}

impl SourceErrorKind {
    /// Every kind, the four parse errors of the language first.
    pub const ALL: [SourceErrorKind; 6] = [
        SourceErrorKind::UnknownInstruction,
        SourceErrorKind::TruncatedInstruction,
        SourceErrorKind::UnterminatedNumber,
        SourceErrorKind::UnterminatedLabel,
        SourceErrorKind::Assembly,
        SourceErrorKind::InvalidUtf8,
    ];

    /// The stable code, e.g. `unknown-instruction`.
    pub fn code(self) -> &'static str {
        match self {
            SourceErrorKind::UnknownInstruction => "unknown-instruction",
            SourceErrorKind::TruncatedInstruction => "truncated-instruction",
            SourceErrorKind::UnterminatedNumber => "unterminated-number",
            SourceErrorKind::UnterminatedLabel => "unterminated-label",
            SourceErrorKind::Assembly => "assembly",
            SourceErrorKind::InvalidUtf8 => "invalid-utf8",
        }
    }

    /// The kind with this code.
    pub fn from_code(code: &str) -> Option<SourceErrorKind> {
        SourceErrorKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Whether this is one of the language's parse errors (raw or visible tokens), rather than
    /// an error of an assembly listing.
    pub fn is_parse_error(self) -> bool {
        !matches!(self, SourceErrorKind::Assembly | SourceErrorKind::InvalidUtf8)
    }
}

impl fmt::Display for SourceErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A source that could not be read as a program: nothing runs.
///
/// ```
/// use twinspace::syntax::{SourceErrorKind, assemble, parse_visible};
///
/// let e = parse_visible("SS STL\nTSTL").unwrap_err();
/// assert_eq!(e.kind, SourceErrorKind::UnknownInstruction);
/// assert_eq!((e.position.line, e.position.column), (2, 1));
/// assert_eq!(e.describe("p.stl"), "p.stl:2:1 (byte 7): parse error: unknown-instruction: after `TSTL` expected S (div) or T (mod)");
///
/// let e = assemble("push 1\npush\n").unwrap_err();
/// assert_eq!(e.kind, SourceErrorKind::Assembly);
/// assert_eq!(e.to_string(), "assembly at 2:1: `push` needs a number");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at {position}: {message}")]
pub struct SourceError {
    /// What is wrong.
    pub kind: SourceErrorKind,
    /// Where: the faulty instruction's first token, or the faulty statement of a listing.
    pub position: Position,
    /// The details for people (may be reworded): for a parse error, the tokens read so far
    /// and what would have been valid next.
    pub message: String,
}

impl SourceError {
    /// What a parse error expected instead of what it found (`S (div) or T (mod)`): the part
    /// of the message after `expected`, for the parse errors of the language only.
    pub fn expected(&self) -> Option<&str> {
        if !self.kind.is_parse_error() {
            return None;
        }
        self.message.split_once(" expected ").map(|(_, expected)| expected)
    }

    /// The error as a message placed for editors, e.g. `prog.ws:2:1 (byte 7): parse error:
    /// unknown-instruction: after `TST` expected ...` or `prog.wsa:3:5 (byte 20): assembly
    /// error: unknown instruction `psh``.
    pub fn describe(&self, file: &str) -> String {
        let p = self.position;
        let place = format!("{file}:{}:{} (byte {})", p.line, p.column, p.offset);
        if self.kind.is_parse_error() {
            format!("{place}: parse error: {}: {}", self.kind, self.message)
        } else {
            format!("{place}: assembly error: {}", self.message)
        }
    }
}

/// The name the parser and the case format use for [`SourceError`] (the same type).
pub type ParseError = SourceError;

/// The name the parser and the case format use for [`SourceErrorKind`] (the same type).
pub type ParseErrorKind = SourceErrorKind;
