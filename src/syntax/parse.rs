//! The parser: source bytes (raw `.ws`, or visible `S`/`T`/`L` letters) to a [`Program`].
//!
//! Invariant: the whole source is parsed before anything runs, every byte that is not a token
//! is a comment, and any malformed or truncated instruction gives a [`ParseError`] naming the
//! position of that instruction's first token (SEMANTICS.md §1). The parser never panics.

use num_bigint::{BigInt, BigUint, Sign};

use super::error::{ParseError, ParseErrorKind};
use crate::program::{Instruction, Label, Position, Program};

/// The three tokens of Whitespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Token {
    /// Space (`S`).
    S,
    /// Tab (`T`).
    T,
    /// Line feed (`L`).
    L,
}

/// Which bytes stand for the tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notation {
    /// Raw Whitespace: space, tab and line feed.
    Raw,
    /// Visible letters `S`, `T` and `L`; every other byte is a comment.
    Visible,
}

impl Notation {
    fn token(self, byte: u8) -> Option<Token> {
        match (self, byte) {
            (Notation::Raw, b' ') | (Notation::Visible, b'S') => Some(Token::S),
            (Notation::Raw, b'\t') | (Notation::Visible, b'T') => Some(Token::T),
            (Notation::Raw, b'\n') | (Notation::Visible, b'L') => Some(Token::L),
            _ => None,
        }
    }
}

/// Parses raw Whitespace source (space, tab, line feed; every other byte is a comment).
///
/// ```
/// use twinspace::syntax::{SourceErrorKind, parse};
///
/// // push 1, printi, end; the letters are comments.
/// let program = parse(b"push   \t\nprinti\t\n \tend\n\n\n").unwrap();
/// assert_eq!(program.instructions().len(), 3);
/// assert_eq!(program.instructions()[0].to_string(), "push 1");
///
/// // The file ends inside a number argument.
/// let e = parse(b"   \t").unwrap_err();
/// assert_eq!(e.kind, SourceErrorKind::UnterminatedNumber);
/// assert_eq!(e.kind.code(), "unterminated-number");
/// ```
pub fn parse(source: &[u8]) -> Result<Program, ParseError> {
    Parser::new(source, Notation::Raw).program()
}

/// Parses visible notation: the letters `S`, `T`, `L` are the tokens, everything else is a
/// comment. Positions are counted over the bytes of `text`.
pub fn parse_visible(text: &str) -> Result<Program, ParseError> {
    Parser::new(text.as_bytes(), Notation::Visible).program()
}

/// Parses `source` in the given notation.
pub fn parse_in(source: &[u8], notation: Notation) -> Result<Program, ParseError> {
    Parser::new(source, notation).program()
}

struct Parser<'a> {
    source: &'a [u8],
    notation: Notation,
    /// Index of the next byte to look at.
    next: usize,
    /// Line of byte `next` (1-based), and the offset its line starts at.
    line: usize,
    line_start: usize,
    /// Start of the instruction being parsed.
    start: Position,
}

impl<'a> Parser<'a> {
    fn new(source: &'a [u8], notation: Notation) -> Parser<'a> {
        Parser { source, notation, next: 0, line: 1, line_start: 0, start: Position::START }
    }

    /// The position of byte `next`.
    fn here(&self) -> Position {
        Position { offset: self.next, line: self.line, column: self.next - self.line_start + 1 }
    }

    /// The next token and its position, skipping comments.
    #[inline]
    fn token(&mut self) -> Option<(Token, Position)> {
        while let Some(&b) = self.source.get(self.next) {
            let at = self.here();
            self.next += 1;
            if b == b'\n' {
                self.line += 1;
                self.line_start = self.next;
            }
            if let Some(t) = self.notation.token(b) {
                return Some((t, at));
            }
        }
        None
    }

    /// The tokens of the instruction so far, as letters (for an error message: they are the
    /// token bytes from its start to here).
    fn seen(&self) -> String {
        self.source[self.start.offset..self.next]
            .iter()
            .filter_map(|&b| self.notation.token(b))
            .map(|t| match t {
                Token::S => 'S',
                Token::T => 'T',
                Token::L => 'L',
            })
            .collect()
    }

    fn error(&self, kind: ParseErrorKind, expected: &'static str) -> ParseError {
        let message = format!("after `{}` expected {expected}", self.seen());
        ParseError { kind, position: self.start, message }
    }

    /// The next opcode token; the end of the source here truncates the instruction.
    fn opcode_token(&mut self, expected: &'static str) -> Result<Token, ParseError> {
        match self.token() {
            Some((t, _)) => Ok(t),
            None => Err(self.error(ParseErrorKind::TruncatedInstruction, expected)),
        }
    }

    fn program(mut self) -> Result<Program, ParseError> {
        // About one instruction per 4 bytes of source: sized once, rarely grown, and capped so
        // that a large source that is mostly comment reserves no more than a few MiB.
        let guess = (self.source.len() / 4 + 1).min(1 << 16);
        let mut instructions = Vec::with_capacity(guess);
        let mut positions = Vec::with_capacity(guess);
        while let Some((imp, at)) = self.token() {
            self.start = at;
            instructions.push(self.instruction(imp)?);
            positions.push(at);
        }
        let end = self.here();
        Ok(Program::new(instructions, positions, end))
    }

    fn instruction(&mut self, imp: Token) -> Result<Instruction, ParseError> {
        use Token::{L, S, T};
        const ANY: &str = "S, T or L";
        let unknown =
            |p: &Self, expected| Err(p.error(ParseErrorKind::UnknownInstruction, expected));
        Ok(match imp {
            S => match self.opcode_token(ANY)? {
                S => Instruction::Push(self.number()?),
                L => match self.opcode_token(ANY)? {
                    S => Instruction::Dup,
                    T => Instruction::Swap,
                    L => Instruction::Drop,
                },
                T => match self.opcode_token("S (copy) or L (slide)")? {
                    S => Instruction::Copy(self.number()?),
                    L => Instruction::Slide(self.number()?),
                    T => return unknown(self, "S (copy) or L (slide)"),
                },
            },
            T => match self.opcode_token(ANY)? {
                S => match self.opcode_token("S or T")? {
                    S => match self.opcode_token(ANY)? {
                        S => Instruction::Add,
                        T => Instruction::Sub,
                        L => Instruction::Mul,
                    },
                    T => match self.opcode_token("S (div) or T (mod)")? {
                        S => Instruction::Div,
                        T => Instruction::Mod,
                        L => return unknown(self, "S (div) or T (mod)"),
                    },
                    L => return unknown(self, "S or T"),
                },
                T => match self.opcode_token("S (store) or T (retrieve)")? {
                    S => Instruction::Store,
                    T => Instruction::Retrieve,
                    L => return unknown(self, "S (store) or T (retrieve)"),
                },
                L => match self.opcode_token("S or T")? {
                    S => match self.opcode_token("S (printc) or T (printi)")? {
                        S => Instruction::PrintC,
                        T => Instruction::PrintI,
                        L => return unknown(self, "S (printc) or T (printi)"),
                    },
                    T => match self.opcode_token("S (readc) or T (readi)")? {
                        S => Instruction::ReadC,
                        T => Instruction::ReadI,
                        L => return unknown(self, "S (readc) or T (readi)"),
                    },
                    L => return unknown(self, "S or T"),
                },
            },
            L => match self.opcode_token(ANY)? {
                S => match self.opcode_token(ANY)? {
                    S => Instruction::Label(self.label()?),
                    T => Instruction::Call(self.label()?),
                    L => Instruction::Jmp(self.label()?),
                },
                T => match self.opcode_token(ANY)? {
                    S => Instruction::Jz(self.label()?),
                    T => Instruction::Jn(self.label()?),
                    L => Instruction::Ret,
                },
                L => match self.opcode_token("L (end)")? {
                    L => Instruction::End,
                    _ => return unknown(self, "L (end)"),
                },
            },
        })
    }

    /// A number: sign, binary digits, `L`. A number that starts with `L` is 0.
    fn number(&mut self) -> Result<BigInt, ParseError> {
        const EXPECTED: &str = "a sign, binary digits and a terminating L";
        let negative = match self.token() {
            None => return Err(self.error(ParseErrorKind::UnterminatedNumber, EXPECTED)),
            Some((Token::L, _)) => return Ok(BigInt::default()),
            Some((t, _)) => t == Token::T,
        };
        // The first 64 digits in a machine word; only longer numbers collect their digits.
        let mut small = 0u64;
        let mut digits = 0usize;
        let mut bits = Vec::new();
        loop {
            match self.token() {
                None => return Err(self.error(ParseErrorKind::UnterminatedNumber, EXPECTED)),
                Some((Token::L, _)) => break,
                Some((t, _)) => {
                    let bit = t == Token::T;
                    if digits < 64 {
                        small = (small << 1) | bit as u64;
                    } else {
                        if bits.is_empty() {
                            bits.extend((0..64).rev().map(|i| small >> i & 1 == 1));
                        }
                        bits.push(bit);
                    }
                    digits += 1;
                }
            }
        }
        let magnitude = if digits <= 64 { BigUint::from(small) } else { bits_to_biguint(&bits) };
        let sign = if negative { Sign::Minus } else { Sign::Plus };
        Ok(BigInt::from_biguint(sign, magnitude))
    }

    /// A label: `S`/`T` tokens ended by `L`.
    fn label(&mut self) -> Result<Label, ParseError> {
        let mut letters = String::with_capacity(32);
        loop {
            match self.token() {
                None => {
                    return Err(self.error(
                        ParseErrorKind::UnterminatedLabel,
                        "S or T label tokens and a terminating L",
                    ));
                }
                Some((Token::L, _)) => return Ok(Label::from_checked_letters(letters)),
                Some((Token::S, _)) => letters.push('S'),
                Some((Token::T, _)) => letters.push('T'),
            }
        }
    }
}

/// Binary digits, most significant first, to a number (linear time for any length).
fn bits_to_biguint(bits: &[bool]) -> BigUint {
    let mut bytes = Vec::with_capacity(bits.len() / 8 + 1);
    // Little-endian bytes from the least significant end.
    for chunk in bits.rchunks(8) {
        bytes.push(chunk.iter().fold(0u8, |acc, &b| (acc << 1) | b as u8));
    }
    BigUint::from_bytes_le(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> (ParseErrorKind, usize, usize) {
        let e = parse_visible(text).unwrap_err();
        (e.kind, e.position.line, e.position.column)
    }

    #[test]
    fn parses_every_instruction_form() {
        let p = parse_visible("SSTTSL SLS STSSTL SLT SLL STLTL TSSS TSST TSSL TSTS TSTT TTS TTT LSSTL LSTTL LSLTL LTSTL LTTTL LTL LLL TLSS TLST TLTS TLTT").unwrap();
        let names: Vec<_> = p.instructions().iter().map(|i| i.to_string()).collect();
        assert_eq!(
            names.join(" | "),
            "push -2 | dup | copy 1 | swap | drop | slide 0 | add | sub | mul | div | mod | store | retrieve | label %T | call %T | jmp %T | jz %T | jn %T | ret | end | printc | printi | readc | readi"
        );
        assert_eq!(p.target(14), Some(13));
    }

    #[test]
    fn numbers_and_labels() {
        let p = parse_visible("SSL SSSL SSTL SSSSSTL LSSL LSSSL").unwrap();
        let ins = p.instructions();
        assert_eq!(ins[0], Instruction::Push(0.into()));
        assert_eq!(ins[1], Instruction::Push(0.into()));
        assert_eq!(ins[2], Instruction::Push(0.into()));
        assert_eq!(ins[3], Instruction::Push(1.into()));
        assert_eq!(ins[4], Instruction::Label(Label::default()));
        assert_ne!(ins[4], ins[5]);
    }

    #[test]
    fn errors_name_the_instruction_start() {
        assert_eq!(err("SSSTL\nSTT"), (ParseErrorKind::UnknownInstruction, 2, 1));
        assert_eq!(err("LLL  TS"), (ParseErrorKind::TruncatedInstruction, 1, 6));
        assert_eq!(err("SSST"), (ParseErrorKind::UnterminatedNumber, 1, 1));
        assert_eq!(err("LSTST"), (ParseErrorKind::UnterminatedLabel, 1, 1));
        assert_eq!(err("LLS"), (ParseErrorKind::UnknownInstruction, 1, 1));
    }

    #[test]
    fn positions_count_all_bytes() {
        let p = parse(b"x\xff\r  \t \nz\n\n\n").unwrap();
        assert_eq!(p.position(0), Position { offset: 3, line: 1, column: 4 });
        assert_eq!(p.position(1), Position { offset: 9, line: 2, column: 2 });
        assert_eq!(p.end_position(), Position { offset: 12, line: 5, column: 1 });
    }
}
