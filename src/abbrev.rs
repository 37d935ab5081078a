//! Numbers for people: a value of up to [`FULL_DIGITS`] decimal digits is written in full, a
//! longer one as its first and last digits with its size,
//! `1234567890…1234567890 (1000 digits, 3320 bits)`.
//!
//! Every message that shows a program's value (trap messages, the stack after a trap, the
//! harness's reports and diffs, `check`) goes through [`abbreviate`], so a value of a million
//! bits costs a line, not megabytes of standard error.
//!
//! Invariant: the text is computed without converting the whole value to decimal (which is
//! quadratic in its length): the digit count and the leading digits come from one division by
//! a power of ten that leaves a small quotient, the trailing digits from a remainder.

use std::fmt;

use num_bigint::{BigInt, BigUint, Sign};
use num_traits::{ToPrimitive, Zero};

/// Values with at most this many decimal digits are written in full.
pub const FULL_DIGITS: u64 = 40;

/// How many digits an abbreviation shows at each end.
const SHOWN: u64 = 10;

/// `n` for a message: in full up to [`FULL_DIGITS`] digits, else abbreviated.
pub fn abbreviate(n: &BigInt) -> String {
    Abbreviated(n).to_string()
}

/// Displays a value as [`abbreviate`] writes it.
#[derive(Clone, Copy, Debug)]
pub struct Abbreviated<'a>(pub &'a BigInt);

impl fmt::Display for Abbreviated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        // 40 decimal digits need at most 133 bits; anything shorter is cheap to write whole.
        if n.bits() <= 128 {
            return write!(f, "{n}");
        }
        let magnitude = n.magnitude();
        let (digits, leading) = leading_digits(magnitude);
        if digits <= FULL_DIGITS {
            return write!(f, "{n}");
        }
        let trailing = magnitude % BigUint::from(10u64).pow(SHOWN as u32);
        let sign = if n.sign() == Sign::Minus { "-" } else { "" };
        write!(
            f,
            "{sign}{leading}…{trailing:0width$} ({digits} digits, {} bits)",
            n.bits(),
            width = SHOWN as usize
        )
    }
}

/// The number of decimal digits of `m` (not zero) and its first [`SHOWN`] of them.
fn leading_digits(m: &BigUint) -> (u64, String) {
    debug_assert!(!m.is_zero());
    // 10^(d-1) <= m < 10^d with (bits-1)·log10(2) <= d-1 < bits·log10(2): this lower bound on
    // d-1 is off by at most one (and the float by at most one more), and the quotient below is
    // counted exactly, so the result is exact whatever the rounding.
    let bits = m.bits();
    let low = (((bits - 1) as f64) * std::f64::consts::LOG10_2).floor() as u64;
    let scale = low.saturating_sub(SHOWN + 1);
    let quotient = m / BigUint::from(10u64).pow(scale.to_u32().unwrap_or(u32::MAX));
    let text = quotient.to_string();
    let digits = scale + text.len() as u64;
    (digits, text[..text.len().min(SHOWN as usize)].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_traits::One;

    #[test]
    fn short_values_are_written_in_full() {
        for text in
            ["0", "-1", "9223372036854775808", &"9".repeat(40), &format!("-{}", "7".repeat(40))]
        {
            let n: BigInt = text.parse().unwrap();
            assert_eq!(abbreviate(&n), text);
        }
    }

    #[test]
    fn long_values_show_both_ends_and_their_size() {
        let n: BigInt = format!("1234567890{}0987654321", "5".repeat(21)).parse().unwrap();
        assert_eq!(abbreviate(&n), format!("1234567890…0987654321 (41 digits, {} bits)", n.bits()));
        let minus = -(BigInt::from(10u32).pow(999)); // 1 and 999 zeros: 1000 digits
        assert_eq!(abbreviate(&minus), "-1000000000…0000000000 (1000 digits, 3319 bits)");
        let below = BigInt::from(10u32).pow(1000) - BigInt::one(); // 1000 nines
        assert_eq!(abbreviate(&below), format!("{0}…{0} (1000 digits, 3322 bits)", "9".repeat(10)));
    }

    #[test]
    fn the_digit_count_is_exact_at_every_power_of_ten_and_two() {
        for k in 40u32..400 {
            for n in [
                BigInt::from(10u32).pow(k),
                BigInt::from(10u32).pow(k) - 1,
                BigInt::one() << (k * 3),
                (BigInt::one() << (k * 3)) - 1,
            ] {
                let full = n.to_string();
                let text = abbreviate(&n);
                if full.len() <= 40 {
                    assert_eq!(text, full);
                    continue;
                }
                let expected = format!(
                    "{}…{} ({} digits, {} bits)",
                    &full[..10],
                    &full[full.len() - 10..],
                    full.len(),
                    n.bits()
                );
                assert_eq!(text, expected);
            }
        }
    }

    #[test]
    fn a_million_bits_make_one_short_line() {
        let n = (BigInt::one() << 1_000_000u32) + 12345;
        let text = abbreviate(&n);
        assert!(text.len() < 80, "{text}");
        assert!(text.ends_with("(301030 digits, 1000001 bits)"), "{text}");
    }
}
