//! The random source of generation: [`CaseRng`], SplitMix64 and the few ways the generator
//! draws from it (ranges, chances, picks, weighted choices).
//!
//! Invariant: every draw consumes exactly one `next_u64`, and nothing here depends on another
//! crate's random number generator, so a seed printed in a report regenerates the same case
//! in every later version.
//!
//! A [`CaseRng`] is seeded ([`CaseRng::new`]) or byte-driven ([`CaseRng::from_bytes`]): the
//! second reads each `next_u64` from the next 8 bytes of a buffer (little-endian, the last
//! partial word padded with zeros) and, once they run out, goes on as SplitMix64 from a fixed
//! seed. That is how a coverage-guided fuzzer (`fuzz/`) steers the same generator: the bytes
//! it mutates are the draws, so every input decodes to a well-formed case, and a comparison
//! the fuzzer learns (value profiling) lands in the draw that made the compared value.

use std::ops::RangeInclusive;

/// A small, fast, seedable random number generator (SplitMix64): generation must be cheap
/// (the fuzzer makes thousands of programs per second) and stable across versions of any
/// dependency, because seeds are printed in reports.
#[derive(Clone, Debug)]
pub(super) struct CaseRng {
    /// SplitMix64's state: the seed's stream, or the stream after the bytes run out.
    state: u64,
    /// The draws still to be read from bytes (empty for a seeded generator).
    bytes: Box<[u8]>,
    /// How many of `bytes` have been read.
    read: usize,
}

/// Where a byte-driven generator goes on once its bytes run out (any fixed value would do; it
/// must never change, so that a fuzzer's saved input keeps decoding to the same case).
const AFTER_BYTES_SEED: u64 = 0x7477_7370_6163_6521;

impl CaseRng {
    pub(super) fn new(seed: u64) -> CaseRng {
        CaseRng { state: seed, bytes: Box::default(), read: 0 }
    }

    /// A generator whose draws are `bytes`, 8 at a time, then SplitMix64 from a fixed seed.
    pub(super) fn from_bytes(bytes: &[u8]) -> CaseRng {
        CaseRng { state: AFTER_BYTES_SEED, bytes: bytes.into(), read: 0 }
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        if self.read < self.bytes.len() {
            let rest = &self.bytes[self.read..];
            let take = rest.len().min(8);
            let mut word = [0u8; 8];
            word[..take].copy_from_slice(&rest[..take]);
            self.read += take;
            return u64::from_le_bytes(word);
        }
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
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

    /// True with probability `p`.
    pub(super) fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64) * (1.0 / (1u64 << 53) as f64) < p
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
    fn byte_draws_read_eight_bytes_each_then_a_fixed_stream() {
        let mut bytes: Vec<u8> = (1..=8).collect();
        bytes.extend([0xff, 0x01, 0x02]);
        let mut rng = CaseRng::from_bytes(&bytes);
        assert_eq!(rng.next_u64(), 0x0807_0605_0403_0201, "little-endian");
        assert_eq!(rng.next_u64(), 0x02_01ff, "the partial word padded with zeros");
        let tail: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        let mut fixed = CaseRng::new(AFTER_BYTES_SEED);
        assert_eq!(tail, (0..3).map(|_| fixed.next_u64()).collect::<Vec<_>>());
        // No bytes at all: the fixed stream from the first draw.
        assert_eq!(CaseRng::from_bytes(&[]).next_u64(), CaseRng::new(AFTER_BYTES_SEED).next_u64());
    }

    #[test]
    fn a_draw_from_bytes_is_the_value_the_bytes_spell() {
        // `below` scales by the high bits: all-ones picks the last choice, zeros the first.
        assert_eq!(CaseRng::from_bytes(&[0xff; 8]).below(10), 9);
        assert_eq!(CaseRng::from_bytes(&[0; 8]).below(10), 0);
        assert!(CaseRng::from_bytes(&[0; 8]).chance(0.01));
        assert!(!CaseRng::from_bytes(&[0xff; 8]).chance(0.99));
    }
}
