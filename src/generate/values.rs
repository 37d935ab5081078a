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

/// An interesting integer: small, next to a boundary, any i64, or (when `wide`) far beyond
/// 64 bits.
pub(super) fn literal(rng: &mut CaseRng, wide: bool) -> BigInt {
    match rng.below(100) {
        0..40 => BigInt::from(rng.range(-16, 16)),
        40..70 if wide => rng.pick(&BOUNDARY_VALUES).clone(),
        40..70 => rng.pick(&NARROW_BOUNDARY_VALUES).clone(),
        70..80 => BigInt::from(rng.next_u64() as i64),
        80..92 => BigInt::from(rng.range(-1000, 1000)),
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

/// A nonzero divisor, biased to the ones that break division: -1, ±2, the i64 extremes.
pub(super) fn divisor(rng: &mut CaseRng, wide: bool) -> BigInt {
    let v = match rng.below(10) {
        0..3 => BigInt::from(*rng.pick(&[-1i64, 1, 2, -2, 3, -3, 7, -7])),
        3 => BigInt::from(*rng.pick(&[i64::MIN, i64::MAX])),
        _ => literal(rng, wide),
    };
    if v.sign() == Sign::NoSign { BigInt::from(-1) } else { v }
}

/// An argument for `copy`/`slide` that is out of every normal range: the fixed boundary
/// list, or `±(2^k - 2 ..= 2^k + 2)` for any k up to 130 (so that every bit length where an
/// address computation could wrap or a cast narrow is met, 2^44..2^48 among them).
pub(super) fn wild_index(rng: &mut CaseRng, depth: usize) -> BigInt {
    match rng.below(10) {
        0 => BigInt::from(-1),
        1 => BigInt::from(depth),
        2 => BigInt::from(depth + 1 + rng.index(3)),
        3 => BigInt::from(1u64 << 31) + rng.below(2),
        4 => BigInt::from(1u64 << 32) + rng.below(3),
        5 => pow2(64) + rng.below(3),
        6 => -pow2(63),
        _ => {
            let v = pow2(rng.below(131) as u32) + rng.range(-2, 2);
            if rng.chance(0.2) { -v } else { v }
        }
    }
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
    fn wild_indices_reach_every_bit_length() {
        let mut rng = CaseRng::new(7);
        let lengths: HashSet<u64> = (0..20_000).map(|_| wild_index(&mut rng, 3).bits()).collect();
        for bits in 1..=131 {
            assert!(lengths.contains(&bits), "no wild index of {bits} bits");
        }
    }
}
