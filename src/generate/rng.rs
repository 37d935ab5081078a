//! The random source of generation: [`CaseRng`], SplitMix64 and the few ways the generator
//! draws from it (ranges, chances, picks, weighted choices).
//!
//! Invariant: every draw consumes exactly one `next_u64`, and nothing here depends on another
//! crate's random number generator, so a seed printed in a report regenerates the same case
//! in every later version.
//!
//! A [`CaseRng`] is seeded ([`CaseRng::new`]) or byte-driven ([`CaseRng::from_bytes`]). A
//! byte-driven one is how a coverage-guided fuzzer (`fuzz/`) steers the same generator: the
//! bytes it mutates are the choices, so every input decodes to a well-formed case. Each draw
//! reads only the bytes its choice needs, so that one mutated byte changes one choice:
//! a raw `next_u64` (a literal's bits) reads 8 bytes, little-endian; `below(n)` as many as
//! `n - 1` needs (one byte for up to 256 choices) and scales them like a seeded draw; a
//! `chance` or a `unit` fraction reads one byte, and `chance` is an integer comparison of that
//! byte with a threshold, which libFuzzer's comparison tracing sees. Past the input's end the
//! draws read it again, each pass XORed with its own constant: a short input still decides a
//! whole case (a fixed stream after it would give every short input the same case), and a
//! mutated byte changes one choice of each pass. Only an empty input draws from SplitMix64
//! (from a fixed seed).
//! [`CaseRng::recording`] draws like a seeded generator and writes down the bytes that decode
//! to the same choices, so a seed's case can be handed to the fuzzer as an input.

use std::ops::RangeInclusive;

/// A small, fast, seedable random number generator (SplitMix64): generation must be cheap
/// (the fuzzer makes thousands of programs per second) and stable across versions of any
/// dependency, because seeds are printed in reports.
#[derive(Clone, Debug)]
pub(super) struct CaseRng {
    /// SplitMix64's state: the seed's stream, or the fixed stream of an empty input.
    state: u64,
    /// The draws still to be read from bytes (empty for a seeded generator).
    bytes: Box<[u8]>,
    /// How many of `bytes` have been read.
    read: usize,
    /// The bytes that decode to the draws made so far ([`CaseRng::recording`] only).
    record: Option<Vec<u8>>,
}

/// What each pass over a byte-driven generator's input is XORed with, times the pass number
/// (odd, so the first 256 passes differ).
const PASS_MASK: u8 = 0x9D;

/// Where a generator of no bytes at all draws from (any fixed value would do; it
/// must never change, so that a fuzzer's saved input keeps decoding to the same case).
const AFTER_BYTES_SEED: u64 = 0x7477_7370_6163_6521;

impl CaseRng {
    pub(super) fn new(seed: u64) -> CaseRng {
        CaseRng { state: seed, bytes: Box::default(), read: 0, record: None }
    }

    /// A generator whose draws are read from `bytes` (as many as each choice needs, over and
    /// over), or SplitMix64 from a fixed seed when there are none.
    pub(super) fn from_bytes(bytes: &[u8]) -> CaseRng {
        CaseRng { state: AFTER_BYTES_SEED, bytes: bytes.into(), read: 0, record: None }
    }

    /// A seeded generator that also writes down, draw by draw, the bytes a byte-driven one
    /// decodes to the same choices ([`CaseRng::recorded`]). Each draw returns what those bytes
    /// decode to: the seeded choice itself, except that a `unit` fraction is rounded down to
    /// the byte's 1/256 steps (so the recorded case is the bytes' case exactly, and the seed's
    /// case almost always).
    pub(super) fn recording(seed: u64) -> CaseRng {
        CaseRng { record: Some(Vec::new()), ..CaseRng::new(seed) }
    }

    /// The bytes recorded so far (empty unless [`CaseRng::recording`]).
    pub(super) fn recorded(&self) -> &[u8] {
        self.record.as_deref().unwrap_or_default()
    }

    /// The next `width` (at most 8) input bytes as a little-endian number, or `None` for a
    /// seeded generator or an empty input. Past the input's end the bytes are read again from
    /// its start, each pass XORed with a constant of its own, so that a short input decides
    /// a whole case, unlike a fixed stream that would be the same for every input.
    fn take(&mut self, width: usize) -> Option<u64> {
        if self.bytes.is_empty() {
            return None;
        }
        let len = self.bytes.len();
        let mut word = 0u64;
        for i in 0..width {
            let at = self.read + i;
            let pass = (at / len) as u8;
            word |= u64::from(self.bytes[at % len] ^ pass.wrapping_mul(PASS_MASK)) << (8 * i);
        }
        self.read += width;
        Some(word)
    }

    fn splitmix(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn write_down(&mut self, value: u64, width: usize) {
        if let Some(record) = &mut self.record {
            record.extend_from_slice(&value.to_le_bytes()[..width]);
        }
    }

    /// 64 random bits: 8 input bytes, or the stream.
    pub(super) fn next_u64(&mut self) -> u64 {
        if let Some(word) = self.take(8) {
            return word;
        }
        let word = self.splitmix();
        self.write_down(word, 8);
        word
    }

    /// Uniform in `0..n` (`n > 0`; 0 for `n == 0`). From bytes: the fewest bytes that hold
    /// `n - 1` (none for `n <= 1`), scaled by `n` like a seeded draw, so that every choice has
    /// at least one byte value and the order of the choices is the order of the values.
    pub(super) fn below(&mut self, n: u64) -> u64 {
        let scale = |word: u64, bits: u32| ((u128::from(word) * u128::from(n)) >> bits) as u64;
        let width = (u64::BITS - n.saturating_sub(1).leading_zeros()).div_ceil(8);
        if !self.bytes.is_empty() {
            return if width == 0 {
                0
            } else {
                scale(self.take(width as usize).unwrap(), 8 * width)
            };
        }
        let choice = scale(self.splitmix(), 64);
        if self.record.is_some() && width > 0 {
            // The least byte value that decodes to `choice`: `ceil(choice * 2^bits / n)`, in
            // range because `n <= 2^bits`.
            let bits = 8 * width;
            let word = ((u128::from(choice) << bits).div_ceil(u128::from(n))) as u64;
            self.write_down(word, width as usize);
        }
        choice
    }

    /// A fraction in `[0, 1)`: 53 random bits, or one input byte (in steps of 1/256).
    pub(super) fn unit(&mut self) -> f64 {
        if let Some(byte) = self.take(1) {
            return byte as f64 / 256.0;
        }
        let fraction = (self.splitmix() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        if self.record.is_some() {
            let byte = (fraction * 256.0) as u64;
            self.write_down(byte, 1);
            return byte as f64 / 256.0;
        }
        fraction
    }

    /// Uniform in `0..n` as a `usize`.
    pub(super) fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in the inclusive range.
    pub(super) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = hi.wrapping_sub(lo) as u64;
        if span == u64::MAX {
            return self.next_u64() as i64;
        }
        lo.wrapping_add(self.below(span + 1) as i64)
    }

    pub(super) fn range_u64(&mut self, r: &RangeInclusive<u64>) -> u64 {
        let (lo, hi) = (*r.start(), (*r.end()).max(*r.start()));
        if hi - lo == u64::MAX { self.next_u64() } else { lo + self.below(hi - lo + 1) }
    }

    pub(super) fn range_usize(&mut self, r: &RangeInclusive<usize>) -> usize {
        self.range_u64(&(*r.start() as u64..=*r.end() as u64)) as usize
    }

    /// True with probability `p`. From bytes: one byte below `ceil(256 p)`, so any `p > 0`
    /// is at least 1/256 and any `p < 1` at most 255/256.
    pub(super) fn chance(&mut self, p: f64) -> bool {
        let threshold = if p >= 1.0 { 256 } else { (p * 256.0).ceil().clamp(0.0, 255.0) as u64 };
        if let Some(byte) = self.take(1) {
            return byte < threshold;
        }
        let yes = ((self.splitmix() >> 11) as f64) * (1.0 / (1u64 << 53) as f64) < p;
        if self.record.is_some() {
            // A byte that decodes to the same answer (one exists: `yes` needs `p > 0`, and no
            // `p < 1`).
            let byte = if yes { 0 } else { 255 };
            self.write_down(byte, 1);
            return byte < threshold;
        }
        yes
    }

    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// An index drawn with these weights (not all zero).
    pub(super) fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut x = self.below(total.max(1));
        for (i, &w) in weights.iter().enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        weights.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_draws_are_splitmix64() {
        // SplitMix64's published first output for seed 0; seeds in old reports depend on it.
        assert_eq!(CaseRng::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn byte_draws_read_what_each_choice_needs_then_the_input_again() {
        let mut bytes: Vec<u8> = (1..=8).collect();
        bytes.extend([0x80, 0x00, 0x80, 0x01, 0x40, 0x02]);
        let mut rng = CaseRng::from_bytes(&bytes);
        assert_eq!(rng.next_u64(), 0x0807_0605_0403_0201, "raw bits: 8 bytes, little-endian");
        assert_eq!(rng.below(10), 5, "one byte for 10 choices: 0x80 * 10 / 256");
        assert_eq!(rng.below(1), 0, "one choice reads nothing");
        assert_eq!(rng.below(300), 150, "two bytes for 300 choices: 0x8000 * 300 / 2^16");
        assert!(rng.chance(0.01), "0x01 < ceil(2.56)");
        assert_eq!(rng.unit(), 0.25, "0x40 / 256");
        // The last byte, then the second pass, XORed with PASS_MASK.
        let m = u64::from(PASS_MASK);
        let expect = (0..7).fold(0x02, |w, i| w | ((i + 1) ^ m) << (8 * (i + 1)));
        assert_eq!(rng.next_u64(), expect);
        assert_eq!(rng.below(256), 8 ^ m, "the second pass goes on");
        // A mutated byte changes the same choice of each pass, and nothing else.
        let mut mutated = bytes.clone();
        mutated[8] = 0xff;
        let draws = |b: &[u8]| -> Vec<u64> {
            let mut rng = CaseRng::from_bytes(b);
            (0..3 * b.len()).map(|_| rng.below(256)).collect()
        };
        let (a, b) = (draws(&bytes), draws(&mutated));
        let changed: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
        assert_eq!(changed, [8, 8 + bytes.len(), 8 + 2 * bytes.len()]);
        // No bytes at all: the fixed stream from the first draw.
        assert_eq!(CaseRng::from_bytes(&[]).next_u64(), CaseRng::new(AFTER_BYTES_SEED).next_u64());
        assert_eq!(CaseRng::from_bytes(&[]).below(10), CaseRng::new(AFTER_BYTES_SEED).below(10));
    }

    #[test]
    fn a_draw_from_bytes_is_the_value_the_bytes_spell() {
        // `below` scales: all-ones picks the last choice, zeros the first, and every choice
        // has a byte value.
        assert_eq!(CaseRng::from_bytes(&[0xff; 8]).below(10), 9);
        assert_eq!(CaseRng::from_bytes(&[0; 8]).below(10), 0);
        for n in [1u64, 2, 3, 131, 255, 256, 257, 1000, 1 << 16, (1 << 16) + 1] {
            let width = if n <= 256 {
                1
            } else if n <= 1 << 16 {
                2
            } else {
                3
            };
            let mut seen = std::collections::HashSet::new();
            for word in (0u64..1 << (8 * width)).step_by(((1 << (8 * width)) / 4096).max(1)) {
                let bytes = word.to_le_bytes();
                seen.insert(CaseRng::from_bytes(&bytes[..width]).below(n));
            }
            assert!(seen.iter().all(|&c| c < n), "{n}");
            if n <= 4096 {
                assert_eq!(seen.len() as u64, n, "every one of {n} choices");
            }
        }
        assert!(CaseRng::from_bytes(&[0]).chance(0.001), "any p > 0 has a byte");
        assert!(!CaseRng::from_bytes(&[0xff]).chance(0.999), "any p < 1 has a byte");
        assert!(!CaseRng::from_bytes(&[0]).chance(0.0));
        assert!(CaseRng::from_bytes(&[0xff]).chance(1.0));
        assert!(!CaseRng::from_bytes(&[3]).chance(0.01) && CaseRng::from_bytes(&[2]).chance(0.01));
    }

    /// The draws of `recorded_bytes_decode_to_the_recorded_draws`, in order: the same calls
    /// on any generator.
    fn some_draws(rng: &mut CaseRng) -> Vec<u64> {
        let mut draws = Vec::new();
        for i in 0..300usize {
            let n = [1, 2, 12, 131, 256, 257, 5000, 1 << 40, u64::MAX][i % 9];
            let p = [0.0, 0.001, 0.01, 0.5, 0.999, 1.0][i % 6];
            draws.push(rng.below(n));
            draws.push(u64::from(rng.chance(p)));
            draws.push(rng.next_u64());
            draws.push(rng.unit().to_bits());
        }
        draws
    }

    #[test]
    fn recorded_bytes_decode_to_the_recorded_draws() {
        for seed in 0..50 {
            let mut recording = CaseRng::recording(seed);
            let recorded = some_draws(&mut recording);
            let replayed = some_draws(&mut CaseRng::from_bytes(recording.recorded()));
            assert_eq!(replayed, recorded, "seed {seed}");
            // The seed's own draws, the fractions rounded down to 1/256.
            let seeded = some_draws(&mut CaseRng::new(seed));
            for (k, (&r, &s)) in recorded.iter().zip(&seeded).enumerate() {
                if k % 4 == 3 {
                    let (r, s) = (f64::from_bits(r), f64::from_bits(s));
                    assert!(r <= s && s - r < 1.0 / 256.0, "seed {seed}: {r} for {s}");
                } else {
                    assert_eq!(r, s, "seed {seed}, draw {k}");
                }
            }
        }
        assert!(CaseRng::new(1).recorded().is_empty());
    }
}
