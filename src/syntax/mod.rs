//! Source text to [`Program`](crate::program::Program) and back, in three forms: raw `.ws`
//! bytes, visible `S`/`T`/`L` letters, and an assembly listing.
//!
//! One parser reads both token notations ([`parse`], [`parse_visible`]); the assembler
//! ([`assemble`]) reads listings; the printer writes all three. Every printed form reads back
//! to the same instructions.

//! Whatever the syntax, a source that is not a program gives a [`SourceError`]: a kind with a
//! stable code ([`SourceErrorKind`]), the position, and a message.

mod asm;
mod error;
mod parse;
mod print;

pub use asm::{assemble, assemble_bytes};
pub use error::{ParseError, ParseErrorKind, SourceError, SourceErrorKind};
pub use parse::{Notation, parse, parse_in, parse_visible};
pub use print::{canonical, encode_instruction, print_asm, print_visible, print_ws};
