//! The byte streams a program reads and writes, shared by both engines so that `readc`,
//! `readi`, `printc` and `printi` behave identically in each (SEMANTICS.md §2).
//!
//! Invariants: [`Input`] consumes bytes only when a read succeeds, so a trapping read leaves the
//! input position unchanged; [`Output`] buffers (by line, for a terminal), and the engines call
//! [`Output::flush`] before every read and whenever a run stops.

use std::io::{self, Read, Write};

use num_bigint::BigInt;
use num_traits::Num;

use crate::outcome::TrapKind;

/// The program's input: one byte stream shared by `readc` and `readi`.
pub struct Input<'a> {
    source: Box<dyn Read + 'a>,
    buf: Vec<u8>,
    start: usize,
    eof: bool,
    consumed: u64,
}

/// What a read gives: the value, or the trap it raises. The outer `io::Result` is a host error.
pub type ReadResult<T> = io::Result<Result<T, TrapKind>>;

impl<'a> Input<'a> {
    /// Input read from `source` as the program asks for it.
    pub fn new(source: impl Read + 'a) -> Input<'a> {
        Input { source: Box::new(source), buf: Vec::new(), start: 0, eof: false, consumed: 0 }
    }

    /// Input that is exactly `bytes`.
    pub fn from_bytes(bytes: &'a [u8]) -> Input<'a> {
        Input::new(bytes)
    }

    /// Bytes consumed so far by successful reads.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    fn available(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Reads from the source until at least `n` bytes are buffered or the source is exhausted.
    fn fill_to(&mut self, n: usize) -> io::Result<()> {
        while self.available().len() < n && !self.eof {
            self.read_more()?;
        }
        Ok(())
    }

    fn read_more(&mut self) -> io::Result<()> {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        let mut chunk = [0u8; 8192];
        loop {
            match self.source.read(&mut chunk) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(k) => {
                    self.buf.extend_from_slice(&chunk[..k]);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.consumed += n as u64;
    }

    /// `readc`: one UTF-8 character's code point. No byte left is `end-of-input`; a malformed,
    /// overlong, surrogate or truncated sequence is `invalid-input`.
    pub fn read_char(&mut self) -> ReadResult<u32> {
        self.fill_to(1)?;
        let Some(&first) = self.available().first() else {
            return Ok(Err(TrapKind::EndOfInput));
        };
        let len = match first {
            0x00..=0x7F => 1,
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return Ok(Err(TrapKind::InvalidInput)),
        };
        self.fill_to(len)?;
        let bytes = &self.available()[..len.min(self.available().len())];
        match std::str::from_utf8(bytes).ok().and_then(|s| s.chars().next()) {
            Some(c) if c.len_utf8() == len => {
                self.consume(len);
                Ok(Ok(c as u32))
            }
            _ => Ok(Err(TrapKind::InvalidInput)),
        }
    }

    /// `readi`: one line (up to and including the next line feed, or to end of input) holding
    /// a number in the grammar of SEMANTICS.md §2. No byte left is `end-of-input`; a line that
    /// is not a number is `invalid-input`.
    pub fn read_number(&mut self) -> ReadResult<BigInt> {
        let mut scanned = 0;
        let line_end = loop {
            if let Some(i) = self.available()[scanned..].iter().position(|&b| b == b'\n') {
                break Some(scanned + i);
            }
            scanned = self.available().len();
            if self.eof {
                break None;
            }
            self.read_more()?;
        };
        let avail = self.available();
        if avail.is_empty() {
            return Ok(Err(TrapKind::EndOfInput));
        }
        let (line, used) = match line_end {
            Some(i) => (&avail[..i], i + 1),
            None => (avail, avail.len()),
        };
        match parse_number_line(line) {
            Some(n) => {
                self.consume(used);
                Ok(Ok(n))
            }
            None => Ok(Err(TrapKind::InvalidInput)),
        }
    }
}

/// Haskell's `isSpace`, which `readi` skips around a number.
fn is_haskell_space(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t'..='\r'
            | '\u{A0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200A}'
            | '\u{202F}'
            | '\u{205F}'
            | '\u{3000}'
    )
}

/// Parses a `readi` line (without its line feed):
/// `ws* ( '(' ws* )^k [ '-' ws* ] literal ( ws* ')' )^k ws*`.
pub fn parse_number_line(line: &[u8]) -> Option<BigInt> {
    let text = std::str::from_utf8(line).ok()?;
    let mut rest = text.trim_start_matches(is_haskell_space);
    let mut parens = 0usize;
    while let Some(r) = rest.strip_prefix('(') {
        parens += 1;
        rest = r.trim_start_matches(is_haskell_space);
    }
    let negative = match rest.strip_prefix('-') {
        Some(r) => {
            rest = r.trim_start_matches(is_haskell_space);
            true
        }
        None => false,
    };
    let (radix, digits_and_rest) =
        if let Some(r) = rest.strip_prefix("0x").or(rest.strip_prefix("0X")) {
            (16, r)
        } else if let Some(r) = rest.strip_prefix("0o").or(rest.strip_prefix("0O")) {
            (8, r)
        } else {
            (10, rest)
        };
    let digits_len = digits_and_rest.bytes().take_while(|b| (*b as char).is_digit(radix)).count();
    if digits_len == 0 {
        return None;
    }
    let (digits, mut rest) = digits_and_rest.split_at(digits_len);
    let magnitude = BigInt::from_str_radix(digits, radix).ok()?;
    for _ in 0..parens {
        rest = rest.trim_start_matches(is_haskell_space).strip_prefix(')')?;
    }
    if !rest.trim_start_matches(is_haskell_space).is_empty() {
        return None;
    }
    Some(if negative { -magnitude } else { magnitude })
}

/// The program's output: buffered bytes on their way to a writer.
///
/// Fully buffered (64 KiB) by default; [`Output::line_buffered`] output also goes to the sink
/// at every line feed, for a terminal, where a program that prints a line a second should be
/// seen doing so.
pub struct Output<'a> {
    sink: &'a mut dyn Write,
    buf: Vec<u8>,
    written: u64,
    line_buffered: bool,
}

impl<'a> Output<'a> {
    const CAPACITY: usize = 1 << 16;

    /// Output written to `sink`.
    pub fn new(sink: &'a mut dyn Write) -> Output<'a> {
        Output { sink, buf: Vec::with_capacity(Self::CAPACITY), written: 0, line_buffered: false }
    }

    /// Output written to `sink` and flushed at every line feed (and, like all output, before
    /// every read).
    pub fn line_buffered(sink: &'a mut dyn Write) -> Output<'a> {
        let mut output = Output::new(sink);
        output.line_buffered = true;
        output
    }

    /// Whether output is flushed at every line feed.
    pub fn is_line_buffered(&self) -> bool {
        self.line_buffered
    }

    /// Bytes the program has written so far (flushed or not).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Writes raw bytes.
    pub fn write_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(bytes);
        self.written += bytes.len() as u64;
        if self.buf.len() >= Self::CAPACITY || (self.line_buffered && bytes.contains(&b'\n')) {
            self.flush()
        } else {
            Ok(())
        }
    }

    /// `printc` of a Unicode scalar value, as UTF-8.
    pub fn write_char(&mut self, c: char) -> io::Result<()> {
        self.write_bytes(c.encode_utf8(&mut [0; 4]).as_bytes())
    }

    /// `printi` of a big integer, in decimal.
    pub fn write_bigint(&mut self, n: &BigInt) -> io::Result<()> {
        self.write_bytes(n.to_string().as_bytes())
    }

    /// `printi` of a machine integer, in decimal.
    pub fn write_i64(&mut self, n: i64) -> io::Result<()> {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut m = n.unsigned_abs();
        loop {
            i -= 1;
            digits[i] = b'0' + (m % 10) as u8;
            m /= 10;
            if m == 0 {
                break;
            }
        }
        if n < 0 {
            self.write_bytes(b"-")?;
        }
        self.write_bytes(&digits[i..])
    }

    /// Sends everything buffered to the sink and flushes it.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.sink.write_all(&self.buf)?;
            self.buf.clear();
        }
        self.sink.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> Option<i64> {
        parse_number_line(s.as_bytes()).map(|n| i64::try_from(n).unwrap())
    }

    #[test]
    fn readi_grammar() {
        assert_eq!(num("42"), Some(42));
        assert_eq!(num(" 42\r"), Some(42));
        assert_eq!(num("( 7 )"), Some(7));
        assert_eq!(num("(- 7)"), Some(-7));
        assert_eq!(num("((3))"), Some(3));
        assert_eq!(num("- 5"), Some(-5));
        assert_eq!(num("007"), Some(7));
        assert_eq!(num("0x1F"), Some(31));
        assert_eq!(num("0O17"), Some(15));
        assert_eq!(num("\u{3000}9\u{A0}"), Some(9));
        for bad in
            ["+5", "-(7)", "1_000", "1e3", "1.0", "0b1", "12 34", "", "(7", "7)", "0x", "\u{85}1"]
        {
            assert_eq!(num(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn readc_decodes_and_rejects() {
        let mut input = Input::from_bytes("aé€😀".as_bytes());
        let got: Vec<u32> = (0..4).map(|_| input.read_char().unwrap().unwrap()).collect();
        assert_eq!(got, vec!['a' as u32, 'é' as u32, '€' as u32, '😀' as u32]);
        assert_eq!(input.read_char().unwrap(), Err(TrapKind::EndOfInput));
        for bad in [&b"\xC0\x80"[..], b"\xED\xA0\x80", b"\xE2\x82", b"\xFF", b"\x80"] {
            let mut input = Input::from_bytes(bad);
            assert_eq!(input.read_char().unwrap(), Err(TrapKind::InvalidInput), "{bad:?}");
            assert_eq!(input.consumed(), 0);
        }
    }

    #[test]
    fn readi_lines_share_the_stream_with_readc() {
        let mut input = Input::from_bytes(b"12\nx-3");
        assert_eq!(input.read_number().unwrap().unwrap(), BigInt::from(12));
        assert_eq!(input.read_char().unwrap(), Ok('x' as u32));
        assert_eq!(input.read_number().unwrap().unwrap(), BigInt::from(-3));
        assert_eq!(input.read_number().unwrap(), Err(TrapKind::EndOfInput));
    }

    #[test]
    fn printi_of_extremes() {
        let mut sink = Vec::new();
        let mut out = Output::new(&mut sink);
        for n in [0, -1, i64::MIN, i64::MAX] {
            out.write_i64(n).unwrap();
            out.write_bytes(b",").unwrap();
        }
        out.flush().unwrap();
        assert_eq!(sink, b"0,-1,-9223372036854775808,9223372036854775807,");
    }

    /// A sink that records what each write brought, to see when output left the buffer.
    struct Writes(Vec<Vec<u8>>);

    impl Write for Writes {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.push(bytes.to_vec());
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn line_buffered_output_leaves_at_each_line_feed() {
        let mut sink = Writes(Vec::new());
        let mut out = Output::line_buffered(&mut sink);
        assert!(out.is_line_buffered());
        out.write_bytes(b"ab").unwrap();
        out.write_char('\n').unwrap();
        out.write_i64(42).unwrap();
        out.write_bytes(b"x\ny").unwrap();
        out.write_bytes(b"z").unwrap();
        drop(out);
        assert_eq!(sink.0, vec![b"ab\n".to_vec(), b"42x\ny".to_vec()]);

        let mut sink = Writes(Vec::new());
        let mut out = Output::new(&mut sink);
        assert!(!out.is_line_buffered());
        out.write_bytes(b"a\nb\n").unwrap();
        drop(out);
        assert!(sink.0.is_empty(), "fully buffered output waits for a flush");
    }
}
