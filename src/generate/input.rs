//! The input of a case: bytes generated for the program's reads ([`Read`], in program
//! order), valid and malformed, sometimes cut short.
//!
//! Invariant: a `readi` line drawn as valid is one SEMANTICS.md §2 accepts (any number form,
//! spaces, parentheses, sign), a line from [`BAD_LINES`] one it refuses; a character drawn as
//! valid is UTF-8, one from [`BAD_UTF8`] is not.

use num_bigint::Sign;

use super::knobs::InputShape;
use super::rng::CaseRng;
use super::values::{GOOD_CHARS, literal};

/// What the program reads, in the order the reads appear in it (the input is generated for
/// this sequence).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Read {
    Char,
    Number,
}

/// Input for the program's reads, in program order, then a few extra items; sometimes cut
/// short.
pub(super) fn draw(rng: &mut CaseRng, reads: &[Read], shape: &InputShape, wide: bool) -> Vec<u8> {
    let mut input = Vec::new();
    if reads.is_empty() && rng.chance(0.8) {
        return input;
    }
    let extra = rng.index(shape.extra_items + 1);
    let mut reads = reads.to_vec();
    for _ in 0..extra {
        reads.push(if rng.chance(0.5) { Read::Char } else { Read::Number });
    }
    // Loops may read more often than the reads appear: repeat the items a few times.
    let rounds = 1 + usize::from(rng.chance(0.3)) * rng.index(4);
    for _ in 0..rounds {
        for &r in &reads {
            let bad = rng.chance(shape.invalid_rate);
            match (r, bad) {
                (Read::Char, false) => good_char(rng, &mut input),
                (Read::Char, true) => {
                    input.extend_from_slice(rng.pick::<&[u8]>(BAD_UTF8));
                }
                (Read::Number, false) => number_line(rng, wide, &mut input),
                (Read::Number, true) => {
                    input.extend_from_slice(rng.pick::<&[u8]>(BAD_LINES));
                    input.push(b'\n');
                }
            }
        }
    }
    if !input.is_empty() && rng.chance(shape.truncate_rate) {
        let keep = rng.index(input.len());
        input.truncate(keep);
    }
    input
}

fn good_char(rng: &mut CaseRng, input: &mut Vec<u8>) {
    let c = match rng.below(4) {
        0 => char::from_u32(*rng.pick(&GOOD_CHARS)).unwrap_or('?'),
        1 => char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('\u{FFFD}'),
        _ => (b'0' + rng.below(75) as u8) as char,
    };
    let mut buf = [0; 4];
    input.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// A valid `readi` line: any of the number forms, spaces, parentheses, sign.
fn number_line(rng: &mut CaseRng, wide: bool, input: &mut Vec<u8>) {
    let value = literal(rng, wide);
    let mut line = String::new();
    let space = |rng: &mut CaseRng, line: &mut String| {
        if rng.chance(0.3) {
            for _ in 0..1 + rng.index(2) {
                line.push(*rng.pick(SPACES));
            }
        }
    };
    space(rng, &mut line);
    let parens = if rng.chance(0.15) { 1 + rng.index(2) } else { 0 };
    for _ in 0..parens {
        line.push('(');
        space(rng, &mut line);
    }
    if value.sign() == Sign::Minus {
        line.push('-');
        space(rng, &mut line);
    }
    let magnitude = value.magnitude();
    match rng.below(8) {
        0 => {
            line.push_str(if rng.chance(0.5) { "0x" } else { "0X" });
            let digits = magnitude.to_str_radix(16);
            if rng.chance(0.5) {
                line.push_str(&digits.to_uppercase());
            } else {
                line.push_str(&digits);
            }
        }
        1 => {
            line.push_str(if rng.chance(0.5) { "0o" } else { "0O" });
            line.push_str(&magnitude.to_str_radix(8));
        }
        2 => {
            line.push_str("00");
            line.push_str(&magnitude.to_str_radix(10));
        }
        _ => line.push_str(&magnitude.to_str_radix(10)),
    }
    for _ in 0..parens {
        space(rng, &mut line);
        line.push(')');
    }
    space(rng, &mut line);
    input.extend_from_slice(line.as_bytes());
    input.push(b'\n');
}

/// Haskell `isSpace` characters `readi` must skip (and one, U+0085, it must not).
const SPACES: &[char] = &[
    ' ', ' ', '\t', '\r', '\u{0B}', '\u{0C}', '\u{A0}', '\u{1680}', '\u{2000}', '\u{200A}',
    '\u{202F}', '\u{205F}', '\u{3000}',
];

/// Bytes `readc` must refuse: a stray continuation byte, an overlong form, a surrogate, a
/// code point above U+10FFFF, bytes never valid, a sequence cut short by the next character.
const BAD_UTF8: &[&[u8]] = &[
    b"\x80",
    b"\xC0\x80",
    b"\xC1\xBF",
    b"\xED\xA0\x80",
    b"\xF4\x90\x80\x80",
    b"\xF8\x88\x80\x80\x80",
    b"\xFF",
    b"\xE2\x82a",
    b"\xC3",
];

/// Lines `readi` must refuse (SEMANTICS.md §2), plus a few more of the same families.
const BAD_LINES: &[&[u8]] = &[
    b"+5",
    b"-(7)",
    b"1_000",
    b"1e3",
    b"1.0",
    b"0b1",
    b"12 34",
    b"",
    b"(7",
    b"7)",
    b"((7)",
    b"0x",
    b"0o9",
    b"--1",
    b"- -1",
    b"abc",
    b"\xC2\x851",
    b"1\xE2\x80\xA8",
    b"\xFF12",
    b"0x1g",
];
