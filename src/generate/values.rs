//! The values programs are built from: boundary-heavy literals, divisors, wild `copy`/`slide`
//! arguments, and valid and invalid characters for `printc`.
//!
//! Invariant: values cluster next to the bit widths where a JIT changes representation or
//! hardware misbehaves ([`BOUNDARY_VALUES`]); only a *wide* case draws literals beyond 64 bits
//! ([`literal`]), so a narrow one reaches big integers through arithmetic alone.

use std::sync::LazyLock;

use num_bigint::{BigInt, Sign};

use super::rng::CaseRng;

/// Bit widths around which values are interesting: byte, 16-bit cache keys, 32-bit
/// immediates, f64 mantissa, i64/u64 overflow, 128-bit products.
const BOUNDARY_BITS: [u32; 13] = [7, 8, 15, 16, 31, 32, 53, 62, 63, 64, 65, 127, 128];

/// Values next to the boundaries: for each width k, 2^k - 2 ..= 2^k + 2 and their negations.
pub(crate) static BOUNDARY_VALUES: LazyLock<Vec<BigInt>> = LazyLock::new(|| {
    let mut values = Vec::new();
    for k in BOUNDARY_BITS {
        let p = pow2(k);
        for d in -2i32..=2 {
            let v = &p + d;
            values.push(-&v);
            values.push(v);
        }
    }
    values
});

/// 2 to the power `k`.
pub(super) fn pow2(k: u32) -> BigInt {
    BigInt::from(1u8) << k
}

/// Printable and invisible code points, one of each UTF-8 length, and the extremes.
pub(super) const GOOD_CHARS: [u32; 18] = [
    'a' as u32,
    'Z' as u32,
    '0' as u32,
    ' ' as u32,
    '\t' as u32,
    '\n' as u32,
    '\r' as u32,
    0,
    0x7F,
    0x80,
    0xE9,
    0x7FF,
    0x800,
    0x20AC,
    0xFFFF,
    0x10000,
    0x1F600,
    0x10FFFF,
];

/// Values `printc` must refuse: negative, surrogates, above U+10FFFF, huge.
pub(super) fn bad_char(rng: &mut CaseRng) -> BigInt {
    match rng.below(6) {
        0 => BigInt::from(-1),
        1 => BigInt::from(0xD800),
        2 => BigInt::from(0xDFFF),
        3 => BigInt::from(0x110000),
        4 => pow2(64) + 'a' as u32,
        _ => BigInt::from(i64::MIN),
    }
}

/// The boundary values that fit in an `i64`.
static NARROW_BOUNDARY_VALUES: LazyLock<Vec<BigInt>> = LazyLock::new(|| {
    BOUNDARY_VALUES.iter().filter(|v| i64::try_from(*v).is_ok()).cloned().collect()
});

/// The most bits a drawn magnitude has in a wide case (past 128-bit products).
pub(super) const WIDE_BITS: u32 = 130;

/// The most bits a drawn magnitude has in a narrow case: every value fits an `i64`.
pub(super) const NARROW_BITS: u32 = 63;

/// A magnitude of log-uniform bit length: the length `0..=max_bits` is uniform, then the bits
/// below the leading one are uniform, so every bit length is met about equally often (a
/// uniform 64-bit draw is almost always about 2^63).
pub(super) fn magnitude(rng: &mut CaseRng, max_bits: u32) -> BigInt {
    let bits = rng.below(u64::from(max_bits) + 1) as u32;
    match bits {
        0 => BigInt::from(0u8),
        1..=64 => {
            let top = 1u64 << (bits - 1);
            BigInt::from(top | (rng.next_u64() & (top - 1)))
        }
        _ => {
            let mut v = BigInt::from(1u8);
            let mut left = bits - 1;
            while left > 0 {
                let take = left.min(64);
                v = (v << take) + (rng.next_u64() >> (64 - take));
                left -= take;
            }
            v
        }
    }
}

/// An integer of log-uniform bit length (0 to `max_bits`), either sign.
pub(super) fn log_uniform(rng: &mut CaseRng, max_bits: u32) -> BigInt {
    let v = magnitude(rng, max_bits);
    if rng.chance(0.5) { -v } else { v }
}

/// `±(2^k + d)` for a uniform `k` in `0..=max_bits` and `d` in `-2..=2`: the neighbours of
/// every power of two, where a width check, a cast or a shift is off by one. With
/// `max_bits <= 63` the value is kept within `i64` (2^63 + d becomes its `i64` neighbour).
pub(super) fn near_power(rng: &mut CaseRng, max_bits: u32) -> BigInt {
    let k = rng.below(u64::from(max_bits) + 1) as u32;
    let v = pow2(k) + rng.range(-2, 2);
    let v = if rng.chance(0.5) { -v } else { v };
    if max_bits <= NARROW_BITS { narrow(v) } else { v }
}

/// `v` itself if it fits an `i64`, else the nearest `i64`.
fn narrow(v: BigInt) -> BigInt {
    if i64::try_from(&v).is_ok() {
        v
    } else if v.sign() == Sign::Minus {
        BigInt::from(i64::MIN)
    } else {
        BigInt::from(i64::MAX)
    }
}

/// The bit-length bound of a case's literals.
pub(super) fn max_bits(wide: bool) -> u32 {
    if wide { WIDE_BITS } else { NARROW_BITS }
}

/// An interesting integer, from one of several sources: small, the fixed boundary list,
/// log-uniform over the bit lengths, next to a power of two, any i64, or (when `wide`) far
/// beyond 64 bits. A narrow case's literals all fit an `i64`.
pub(super) fn literal(rng: &mut CaseRng, wide: bool) -> BigInt {
    match rng.below(100) {
        0..34 => BigInt::from(rng.range(-16, 16)),
        34..52 if wide => rng.pick(&BOUNDARY_VALUES).clone(),
        34..52 => rng.pick(&NARROW_BOUNDARY_VALUES).clone(),
        52..72 => log_uniform(rng, max_bits(wide)),
        72..86 => near_power(rng, max_bits(wide)),
        86..90 => BigInt::from(rng.next_u64() as i64),
        90..96 => BigInt::from(rng.range(-1000, 1000)),
        _ if !wide => BigInt::from(rng.next_u64() as i64),
        _ => {
            let bits = rng.range(65, 200) as u64;
            let mut v = BigInt::from(1);
            while v.bits() < bits {
                v = (v << 64) + rng.next_u64();
            }
            v >>= v.bits() - bits;
            if rng.chance(0.5) { -v } else { v }
        }
    }
}

/// A nonzero divisor, biased to the ones that break division or take a short sequence in a
/// compiler: -1, ±2, every ±2^k (2^31 and 2^32 among them, where a mask stops fitting an
/// immediate), the i64 extremes, and any literal.
pub(super) fn divisor(rng: &mut CaseRng, wide: bool) -> BigInt {
    let v = match rng.below(12) {
        0..3 => BigInt::from(*rng.pick(&[-1i64, 1, 2, -2, 3, -3, 7, -7])),
        3 => BigInt::from(*rng.pick(&[i64::MIN, i64::MAX])),
        4 | 5 => {
            let k = rng.below(u64::from(max_bits(wide).min(64)) + 1) as u32;
            let p = if rng.chance(0.3) { pow2(*rng.pick(&[31, 32, 62, 63])) } else { pow2(k) };
            let p = if rng.chance(0.3) { -p } else { p };
            if wide { p } else { narrow(p) }
        }
        _ => literal(rng, wide),
    };
    if v.sign() == Sign::NoSign { BigInt::from(-1) } else { v }
}

/// An argument for `copy`/`slide` that is out of every normal range: the fixed boundary
/// list, `±(2^k - 2 ..= 2^k + 2)` for any k up to 130, or any bit length up to 130 (so that
/// every bit length where an address computation could wrap or a cast narrow is met,
/// 2^44..2^48 among them).
pub(super) fn wild_index(rng: &mut CaseRng, depth: usize) -> BigInt {
    match rng.below(12) {
        0 => BigInt::from(-1),
        1 => BigInt::from(depth),
        2 => BigInt::from(depth + 1 + rng.index(3)),
        3 => BigInt::from(1u64 << 31) + rng.below(2),
        4 => BigInt::from(1u64 << 32) + rng.below(3),
        5 => pow2(64) + rng.below(3),
        6 => -pow2(63),
        7 | 8 => {
            let v = magnitude(rng, WIDE_BITS);
            if rng.chance(0.2) { -v } else { v }
        }
        _ => {
            let v = pow2(rng.below(131) as u32) + rng.range(-2, 2);
            if rng.chance(0.2) { -v } else { v }
        }
    }
}

/// A heap address from anywhere: log-uniform or next to a power of two (2^16, the dense
/// slack, and 2^28, where a constant stops being a displacement, among them), non-negative.
pub(super) fn far_address(rng: &mut CaseRng, wide: bool) -> BigInt {
    let bits = if wide { WIDE_BITS } else { NARROW_BITS };
    let v = if rng.chance(0.5) { magnitude(rng, bits) } else { near_power(rng, bits) };
    if v.sign() == Sign::Minus { -v } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn literals_reach_the_boundaries() {
        let mut rng = CaseRng::new(7);
        let values: HashSet<BigInt> = (0..20_000).map(|_| literal(&mut rng, true)).collect();
        for k in [31u32, 32, 63, 64] {
            let p = pow2(k);
            for v in [&p - 1, p.clone(), &p + 1, -&p, -&p - 1] {
                assert!(values.contains(&v), "2^{k} neighbour {v} never drawn");
            }
        }
        assert!(values.iter().any(|v| v.bits() > 128));
    }

    #[test]
    fn literals_spread_over_every_bit_length() {
        // Log-uniform: every bit length from 0 to 130 occurs, and none dominates (a uniform
        // 64-bit draw would put half of all values at 64 bits).
        let mut rng = CaseRng::new(11);
        let mut histogram = [0u32; 256];
        let n = 100_000;
        for _ in 0..n {
            let v = literal(&mut rng, true);
            histogram[v.bits().min(255) as usize] += 1;
        }
        for (bits, &count) in histogram.iter().enumerate().take(131) {
            assert!(count >= 50, "{bits} bits: {count} of {n}");
        }
        let beyond_small = histogram[6..].iter().max().unwrap();
        assert!(*beyond_small < n / 20, "one bit length dominates: {beyond_small}");
        // Both signs at every length past 0.
        let mut rng = CaseRng::new(12);
        let mut signs = HashSet::new();
        for _ in 0..50_000 {
            let v = log_uniform(&mut rng, WIDE_BITS);
            signs.insert((v.bits(), v.sign()));
        }
        for bits in 1..=130 {
            assert!(signs.contains(&(bits, Sign::Plus)) && signs.contains(&(bits, Sign::Minus)));
        }
    }

    #[test]
    fn narrow_literals_fit_i64_and_meet_every_power_neighbour() {
        let mut rng = CaseRng::new(13);
        let values: HashSet<BigInt> = (0..200_000).map(|_| literal(&mut rng, false)).collect();
        assert!(values.iter().all(|v| i64::try_from(v).is_ok()));
        for k in 0..63u32 {
            for d in -2i64..=2 {
                let v = pow2(k) + d;
                assert!(values.contains(&v), "2^{k} {d:+} never drawn");
                assert!(values.contains(&-&v), "-(2^{k} {d:+}) never drawn");
            }
        }
    }

    #[test]
    fn divisors_meet_every_power_of_two() {
        let mut rng = CaseRng::new(14);
        let values: HashSet<BigInt> = (0..100_000).map(|_| divisor(&mut rng, true)).collect();
        for k in 0..=64u32 {
            assert!(values.contains(&pow2(k)), "divisor 2^{k} never drawn");
            assert!(values.contains(&-pow2(k)), "divisor -2^{k} never drawn");
        }
        assert!(!values.contains(&BigInt::from(0)));
    }

    #[test]
    fn wild_indices_reach_every_bit_length() {
        let mut rng = CaseRng::new(7);
        let lengths: HashSet<u64> = (0..20_000).map(|_| wild_index(&mut rng, 3).bits()).collect();
        for bits in 1..=131 {
            assert!(lengths.contains(&bits), "no wild index of {bits} bits");
        }
    }
}
