//! Source text to [`Program`](crate::program::Program) and back, in three forms: raw `.ws`
//! bytes, visible `S`/`T`/`L` letters, and an assembly listing.
//!
//! One parser reads both token notations ([`parse`], [`parse_visible`]); the assembler
//! ([`assemble`]) reads listings; the printer writes all three. Every printed form reads back
//! to the same instructions.

mod asm;
mod parse;
mod print;

pub use asm::{AsmError, assemble};
pub use parse::{Notation, ParseError, ParseErrorKind, parse, parse_in, parse_visible};
pub use print::{encode_instruction, print_asm, print_visible, print_ws};
