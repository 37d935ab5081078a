//! The byte streams a program reads and writes, shared by both engines so that `readc`,
//! `readi`, `printc` and `printi` behave identically in each (SEMANTICS.md §2).
//!
//! Invariants: [`Input`] consumes bytes only when a read succeeds, except that a `readi` which
//! traps may have consumed part of its line (unobservable: the trap ends the run); [`Output`]
//! buffers (by line, for a terminal), and the engines call [`Output::flush`] before every read
//! and whenever a run stops; [`Output::flushed`] counts the bytes that reached the sink, which
//! each engine notes at every read (the transcript, SEMANTICS.md §4).

use std::io::{self, Read, Write};

use num_bigint::{BigInt, Sign};

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

    /// Decodes the next UTF-8 character without consuming it: `None` when no byte is left,
    /// `Some(None)` when the bytes there are not a valid character, else the character and its
    /// length in bytes.
    fn peek_char(&mut self) -> io::Result<Option<Option<(char, usize)>>> {
        self.fill_to(1)?;
        let Some(&first) = self.available().first() else {
            return Ok(None);
        };
        let len = match first {
            0x00..=0x7F => return Ok(Some(Some((first as char, 1)))),
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return Ok(Some(None)),
        };
        self.fill_to(len)?;
        let bytes = &self.available()[..len.min(self.available().len())];
        Ok(Some(match std::str::from_utf8(bytes).ok().and_then(|s| s.chars().next()) {
            Some(c) if c.len_utf8() == len => Some((c, len)),
            _ => None,
        }))
    }

    /// `readc`: one UTF-8 character's code point. No byte left is `end-of-input`; a malformed,
    /// overlong, surrogate or truncated sequence is `invalid-input`.
    pub fn read_char(&mut self) -> ReadResult<u32> {
        match self.peek_char()? {
            None => Ok(Err(TrapKind::EndOfInput)),
            Some(None) => Ok(Err(TrapKind::InvalidInput)),
            Some(Some((c, len))) => {
                self.consume(len);
                Ok(Ok(c as u32))
            }
        }
    }

    /// `readi`: one line (up to and including the next line feed, or to end of input) holding
    /// a number in the grammar of SEMANTICS.md §2, whose magnitude has at most `max_bits` bits.
    ///
    /// No byte left is `end-of-input`; a line that is not a number is `invalid-input`; a
    /// literal with more significant digits than any value of `max_bits` bits can have is
    /// `value-too-large` as soon as its first excess digit is read, and so is a valid line whose
    /// number has more than `max_bits` bits.
    ///
    /// The line is read one character at a time and never held whole: memory is bounded by
    /// the digits a value of `max_bits` bits can have (leading zeros and spaces are not kept),
    /// and time is linear in the line plus one conversion of those digits. A read that traps
    /// may have consumed part of its line; nothing can observe that, since a trap ends the run.
    pub fn read_number(&mut self, max_bits: u64) -> ReadResult<BigInt> {
        self.fill_to(1)?;
        if self.available().is_empty() {
            return Ok(Err(TrapKind::EndOfInput));
        }
        let mut line = NumberLine::new(max_bits);
        loop {
            // The line feed may come in a read of its own (a pipe, a terminal): look for it
            // only in a filled buffer, or it would be taken for a space inside the line.
            self.fill_to(1)?;
            if self.available().first() == Some(&b'\n') {
                self.consume(1);
                break;
            }
            let c = match self.peek_char()? {
                None => break,
                Some(None) => return Ok(Err(TrapKind::InvalidInput)),
                Some(Some((c, len))) => {
                    self.consume(len);
                    c
                }
            };
            if let Err(kind) = line.feed(c) {
                return Ok(Err(kind));
            }
        }
        Ok(line.finish())
    }
}

/// Where a `readi` line is in its grammar,
/// `ws* ( '(' ws* )^k [ '-' ws* ] literal ( ws* ')' )^k ws*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Before the literal: spaces and opening parentheses.
    Open,
    /// After the minus sign: spaces until the literal.
    Minus,
    /// The literal so far is a single `0`, which may start a `0x` or `0o` prefix.
    Zero,
    /// After `0x` or `0o`, before the first digit.
    Prefix,
    /// Inside the literal's digits.
    Digits,
    /// After the literal: spaces and closing parentheses.
    Close,
}

/// A `readi` line read one character at a time, keeping only its significant digits.
struct NumberLine {
    phase: Phase,
    opened: u64,
    closed: u64,
    negative: bool,
    radix: u32,
    /// Significant digits (leading zeros dropped), as digit values, most significant first.
    digits: Vec<u8>,
    max_bits: u64,
}

impl NumberLine {
    fn new(max_bits: u64) -> NumberLine {
        NumberLine {
            phase: Phase::Open,
            opened: 0,
            closed: 0,
            negative: false,
            radix: 10,
            digits: Vec::new(),
            max_bits,
        }
    }

    /// The next character of the line (not its line feed).
    fn feed(&mut self, c: char) -> Result<(), TrapKind> {
        let space = is_haskell_space(c);
        let digit = c.to_digit(self.radix).filter(|_| c.is_ascii());
        self.phase = match (self.phase, c) {
            (Phase::Open, _) if space => Phase::Open,
            (Phase::Open, '(') => {
                self.opened += 1;
                Phase::Open
            }
            (Phase::Open, '-') => {
                self.negative = true;
                Phase::Minus
            }
            (Phase::Minus, _) if space => Phase::Minus,
            (Phase::Open | Phase::Minus, '0') => Phase::Zero,
            (Phase::Open | Phase::Minus, _) if digit.is_some() => {
                self.digit(digit.unwrap_or_default())?;
                Phase::Digits
            }
            (Phase::Zero, 'x' | 'X') => {
                self.radix = 16;
                Phase::Prefix
            }
            (Phase::Zero, 'o' | 'O') => {
                self.radix = 8;
                Phase::Prefix
            }
            (Phase::Zero | Phase::Prefix | Phase::Digits, _) if digit.is_some() => {
                self.digit(digit.unwrap_or_default())?;
                Phase::Digits
            }
            (Phase::Zero | Phase::Digits | Phase::Close, _) if space => Phase::Close,
            (Phase::Zero | Phase::Digits | Phase::Close, ')') if self.closed < self.opened => {
                self.closed += 1;
                Phase::Close
            }
            _ => return Err(TrapKind::InvalidInput),
        };
        Ok(())
    }

    /// One digit of the literal: refused as soon as there are more significant digits than
    /// a value of `max_bits` bits can have.
    fn digit(&mut self, d: u32) -> Result<(), TrapKind> {
        if d == 0 && self.digits.is_empty() {
            return Ok(());
        }
        if self.digits.len() as u64 >= max_digits(self.radix, self.max_bits) {
            return Err(TrapKind::ValueTooLarge);
        }
        self.digits.push(d as u8);
        Ok(())
    }

    /// The number, once the whole line has been fed.
    fn finish(self) -> Result<BigInt, TrapKind> {
        let complete = matches!(self.phase, Phase::Zero | Phase::Digits | Phase::Close);
        if !complete || self.closed != self.opened {
            return Err(TrapKind::InvalidInput);
        }
        let sign = if self.negative { Sign::Minus } else { Sign::Plus };
        let n = BigInt::from_radix_be(sign, &self.digits, self.radix).unwrap_or_default();
        if n.bits() > self.max_bits {
            return Err(TrapKind::ValueTooLarge);
        }
        Ok(n)
    }
}

/// The most significant digits in `radix` (8, 10 or 16) that a number of at most `bits` bits
/// can have: the digits of `2^bits - 1`.
fn max_digits(radix: u32, bits: u64) -> u64 {
    match radix {
        16 => bits.div_ceil(4),
        8 => bits.div_ceil(3),
        _ if bits == 0 => 0,
        // 2^bits is no power of ten, so 2^bits - 1 has floor(bits * log10 2) + 1 digits.
        _ => floor_times_log10_2(bits) + 1,
    }
}

/// `floor(n * log10(2))`, exactly for every `u64`: `n` times a 256-bit fixed-point
/// `log10(2)`, whose error (below `n / 2^256`) cannot reach the next integer.
fn floor_times_log10_2(n: u64) -> u64 {
    /// `floor(log10(2) * 2^256)`, least significant 64 bits first.
    const LOG10_2: [u64; 4] = [
        0xc52f_3793_5be6_31e5,
        0x1356_9862_a1e8_f9a4,
        0x47c4_acd6_05be_48bc,
        0x4d10_4d42_7de7_fbcc,
    ];
    let mut carry: u128 = 0;
    for limb in LOG10_2 {
        carry = (u128::from(n) * u128::from(limb) + carry) >> 64;
    }
    carry as u64
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

/// The program's output: buffered bytes on their way to a writer.
///
/// Fully buffered (64 KiB) by default; [`Output::line_buffered`] output also goes to the sink
/// at every line feed, for a terminal, where a program that prints a line a second should be
/// seen doing so.
pub struct Output<'a> {
    sink: &'a mut dyn Write,
    buf: Vec<u8>,
    written: u64,
    flushed: u64,
    line_buffered: bool,
}

impl<'a> Output<'a> {
    const CAPACITY: usize = 1 << 16;

    /// Output written to `sink`.
    pub fn new(sink: &'a mut dyn Write) -> Output<'a> {
        Output {
            sink,
            buf: Vec::with_capacity(Self::CAPACITY),
            written: 0,
            flushed: 0,
            line_buffered: false,
        }
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

    /// Bytes handed to the sink so far: [`Output::written`] less what is still buffered.
    pub fn flushed(&self) -> u64 {
        self.flushed
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
            self.flushed += self.buf.len() as u64;
            self.buf.clear();
        }
        self.sink.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole `readi` line (without its line feed), with no limit on its size.
    fn parse_number_line(line: &[u8]) -> Option<BigInt> {
        Input::from_bytes(line).read_number(u64::MAX).ok()?.ok()
    }

    fn num(s: &str) -> Option<i64> {
        assert_eq!(
            readi(&format!("{s}\n"), 64).ok(),
            parse_number_line(s.as_bytes()),
            "a line feed ends the line"
        );
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
        assert_eq!(input.read_number(64).unwrap().unwrap(), BigInt::from(12));
        assert_eq!(input.read_char().unwrap(), Ok('x' as u32));
        assert_eq!(input.read_number(64).unwrap().unwrap(), BigInt::from(-3));
        assert_eq!(input.read_number(64).unwrap(), Err(TrapKind::EndOfInput));
    }

    fn readi(line: &str, max_bits: u64) -> Result<BigInt, TrapKind> {
        Input::from_bytes(line.as_bytes()).read_number(max_bits).unwrap()
    }

    #[test]
    fn readi_digit_limits_are_exact() {
        // 2^bits - 1 has exactly max_digits digits in every radix, for every size.
        for bits in (0u64..600).chain([1000, 4095, 4096, 4097]) {
            let top: BigInt = (BigInt::from(1) << bits) - 1;
            for radix in [8, 10, 16] {
                let digits = if bits == 0 { 0 } else { top.to_str_radix(radix).len() as u64 };
                assert_eq!(max_digits(radix, bits), digits, "radix {radix}, {bits} bits");
            }
        }
        assert_eq!(max_digits(10, 1 << 20), 315_653);
        assert_eq!(floor_times_log10_2(u64::MAX), 5_553_023_288_523_357_131);
    }

    #[test]
    fn readi_value_limit() {
        assert_eq!(readi("255", 8), Ok(BigInt::from(255)));
        assert_eq!(readi("-255", 8), Ok(BigInt::from(-255)));
        assert_eq!(readi("256", 8), Err(TrapKind::ValueTooLarge));
        assert_eq!(readi("0xff", 8), Ok(BigInt::from(255)));
        assert_eq!(readi("0x100", 8), Err(TrapKind::ValueTooLarge));
        assert_eq!(readi("0000000000000000000000255", 8), Ok(BigInt::from(255)));
        // Three digits fit 8 bits; a fourth traps at once, even before an invalid tail ...
        assert_eq!(readi("1000 x", 8), Err(TrapKind::ValueTooLarge));
        assert_eq!(readi("1000\u{FFFF}\u{0}", 8), Err(TrapKind::ValueTooLarge));
        // ... but a number with few enough digits is read whole before its size is judged.
        assert_eq!(readi("999 x", 8), Err(TrapKind::InvalidInput));
        assert_eq!(readi("x 1000", 8), Err(TrapKind::InvalidInput));
        assert_eq!(readi("0", 0), Ok(BigInt::from(0)));
        assert_eq!(readi("1", 0), Err(TrapKind::ValueTooLarge));
        let mut bad = b"1000".to_vec();
        bad.extend_from_slice(b"\xFF");
        assert_eq!(
            Input::from_bytes(b"10\xFF").read_number(8).unwrap(),
            Err(TrapKind::InvalidInput)
        );
        assert_eq!(Input::from_bytes(&bad).read_number(8).unwrap(), Err(TrapKind::ValueTooLarge));
    }

    #[test]
    fn readi_streams_a_long_line() {
        // Ten million leading zeros and spaces are skipped without being kept.
        let mut line = vec![b' '; 5_000_000];
        line.extend(std::iter::repeat_n(b'0', 5_000_000));
        line.extend_from_slice(b"42 \n7");
        let mut input = Input::new(&line[..]);
        assert_eq!(input.read_number(64).unwrap(), Ok(BigInt::from(42)));
        assert!(input.buf.capacity() < 1 << 16, "the line was buffered whole");
        assert_eq!(input.read_number(64).unwrap(), Ok(BigInt::from(7)));
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
        assert_eq!((out.written(), out.flushed()), (9, 8), "`z` is still buffered");
        drop(out);
        assert_eq!(sink.0, vec![b"ab\n".to_vec(), b"42x\ny".to_vec()]);

        let mut sink = Writes(Vec::new());
        let mut out = Output::new(&mut sink);
        assert!(!out.is_line_buffered());
        out.write_bytes(b"a\nb\n").unwrap();
        assert_eq!(out.flushed(), 0);
        out.flush().unwrap();
        assert_eq!(out.flushed(), 4);
        out.write_bytes(b"c").unwrap();
        assert_eq!((out.written(), out.flushed()), (5, 4));
        drop(out);
        assert_eq!(sink.0, vec![b"a\nb\n".to_vec()], "fully buffered output waits for a flush");
    }
}
