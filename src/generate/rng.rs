//! The random source of generation: [`CaseRng`], SplitMix64 and the few ways the generator
//! draws from it (ranges, chances, picks, weighted choices).
//!
//! Invariant: every draw consumes exactly one `next_u64`, and nothing here depends on another
//! crate's random number generator, so a seed printed in a report regenerates the same case
//! in every later version.

use std::ops::RangeInclusive;

/// A small, fast, seedable random number generator (SplitMix64): generation must be cheap
/// (the fuzzer makes thousands of programs per second) and stable across versions of any
/// dependency, because seeds are printed in reports.
#[derive(Clone, Debug)]
pub(super) struct CaseRng(u64);

impl CaseRng {
    pub(super) fn new(seed: u64) -> CaseRng {
        CaseRng(seed)
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
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
