//! The optimising tier's division (`Tier::Optimising` only): the short 32-bit form when both
//! operands fit, and division by a constant through multiplication.
//!
//! **Short form.** When the dividend `n` and the divisor `d` are both in `0..2^32` (their
//! bits 32..63 all clear, which one `or` and one test show), floored and truncated division
//! agree, and the quotient comes from the floating-point divider. For operands below `2^p`,
//! converted exactly to a binary format with a `p`-bit significand and divided with rounding
//! to nearest, truncating the rounded quotient gives `floor(n / d)` exactly:
//! - where `n / d` is an integer, it is exactly representable (below `2^p`), so it is the
//!   rounded result;
//! - otherwise `n / d = q + r / d` with `1 <= r < d`, at least `1 / d` below `q + 1`, and the
//!   rounding error is at most half an ulp, at most `(n / d) * 2^-p`; since `n < 2^p` that is
//!   below `1 / d`, so the rounded quotient stays below `q + 1` (which is representable, so
//!   rounding cannot reach it either) and at or above `q`: truncating gives `q`.
//!
//! Two widths use this: **single precision** (`divss`, `p = 24`) when both operands are
//! below 2^24, inline, and **double precision** (`divsd`, `p = 53`, used only up to 2^32)
//! otherwise, out of line. Both test their bound on `n | d`: bits 24..63 clear (one `test`
//! with a sign-extended 32-bit mask), then bits 32..63 clear. The remainder is `n - q * d`.
//! On this kind of machine (AMD Zen 4) a 32-bit `div` issues about every 6 cycles, `divsd`
//! about every 4 and `divss` about every 2.5 (measured, independent divisions in a loop:
//! 1.48, 0.98 and 0.62 ns each), and division-bound loops (primes) run at the divider's
//! pace; a 64-bit `idiv` is slower still. Anything else (a negative operand, one at or above
//! 2^32) takes the exact 64-bit path of `arith.rs`.
//!
//! **Constant divisors.** For a constant `d >= 3` that is not a power of two (those have
//! their own short sequences), floored `a div d` is computed without a division:
//! - `s = a >> 63` (arithmetic: 0 or -1) and `t = a ^ s`, so `t = a` for `a >= 0` and
//!   `t = -a - 1` otherwise; either way `0 <= t < 2^63`;
//! - `floor(t / d) = (t * m) >> (63 + l)` with `l = ceil(log2 d)` and
//!   `m = floor(2^(63 + l) / d) + 1` ([`magic`]): writing `m * d = 2^(63 + l) + e` with
//!   `0 < e <= d <= 2^l`, `t * m / 2^(63 + l) = t / d + t * e / (d * 2^(63 + l))`, and the
//!   second term is below `2^63 * 2^l / (d * 2^(63 + l)) = 1 / d`, too little to reach the
//!   next multiple of `1 / d`; `m < 2^64`, so the product is one `mul` (its high half shifted
//!   right by `l - 1`);
//! - `floor(a / d) = floor(t / d) ^ s`: for `a < 0`, `floor(a / d) = -ceil(-a / d) =
//!   -(floor((-a - 1) / d) + 1) = !floor(t / d)`.
//!
//! `a mod d` is then `a - d * floor(a / d)`, computed modulo 2^64: the true result is in
//! `0..d`, so the wrapped arithmetic gives it exactly even where `d * floor(a / d)` itself
//! lies below `i64::MIN` (`i64::MIN mod 3`). Negative constant divisors keep the `idiv` path.
//! Nothing here can trap or overflow, so the sequences need no exit.

use dynasmrt::x64::Assembler;
use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi, dynasm};

use super::code::Slot;
use super::vstack::emit_mov;
use super::{Compiler, RAX, RDX, fits_i32};
use crate::jit::blocks::Op;
use crate::jit::coverage::{self, Decision};
use crate::jit::mutated;

/// The multiplier and shift that divide every `t` in `0..2^63` by `d` (see the module docs):
/// `(m, l)` with `floor(t / d) = (t * m) >> (63 + l)`, or `None` for a divisor below 3, a
/// power of two (shifts do those) or one whose multiplier would not fit 64 bits.
pub(super) fn magic(d: i64) -> Option<(u64, u32)> {
    if d < 3 || d.count_ones() == 1 {
        return None;
    }
    let d = d as u128;
    // ceil(log2 d); d is not a power of two, so this is the bit length.
    let l = 128 - d.leading_zeros();
    let m = (1u128 << (63 + l)) / d + 1;
    u64::try_from(m).ok().map(|m| (m, l))
}

/// The quotient of `n` by `divisor` (both in `0..2^32`, and below 2^24 for single precision)
/// from the floating-point divider, truncated (rounded to nearest under the
/// `FloatDivisionRounds` mutation): into `rax` when `into_rax`, else into `scratch`. The
/// `pxor`s break the conversions' dependence on the registers' old contents.
fn emit_float_quotient(
    ops: &mut Assembler,
    n: u8,
    divisor: u8,
    double: bool,
    into_rax: bool,
    rounded: bool,
) {
    asm!(ops; pxor xmm0, xmm0; pxor xmm1, xmm1);
    if double {
        asm!(ops; cvtsi2sd xmm0, Rq(n); cvtsi2sd xmm1, Rq(divisor); divsd xmm0, xmm1);
    } else {
        asm!(ops; cvtsi2ss xmm0, Rd(n); cvtsi2ss xmm1, Rd(divisor); divss xmm0, xmm1);
    }
    let to = if into_rax { RAX } else { 11 };
    match (double, rounded) {
        (true, false) => asm!(ops; cvttsd2si Rq(to), xmm0),
        (true, true) => asm!(ops; cvtsd2si Rq(to), xmm0),
        (false, false) => asm!(ops; cvttss2si Rd(to), xmm0),
        (false, true) => asm!(ops; cvtss2si Rd(to), xmm0),
    }
}

/// What a division computes: the quotient (`div`), the remainder (`mod`), or only whether
/// the remainder is 0 (`mod` then `jz`: the flags, ZF set exactly when it is).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Want {
    Quotient,
    Remainder,
    Divisible,
}

impl Compiler<'_> {
    /// The short form's test and division: the dividend in register `n` (any but `rdx`), the
    /// divisor in `divisor` (neither `rax` nor `rdx`). When `n < 2^32` and `1 <= d <= 2^32`
    /// it falls through with what `want` asks for (the quotient in `rax`, the remainder in
    /// `rdx`, or the flags of `q * d` compared with `n`, equal exactly when `d` divides `n`),
    /// leaving `n` and `divisor` as they were; otherwise it jumps to the label it returns,
    /// where the caller puts the 64-bit path and its checks. A divisor of 0 always goes
    /// there (the test is on `d - 1`, all ones for 0), and one in `1..=2^32` is never -1, so
    /// the short form itself needs no check. Operands below 2^24 divide in single precision
    /// inline; the double-precision form for the rest is deferred out of line and comes back.
    pub(super) fn emit_narrow_division(&mut self, n: u8, divisor: u8, want: Want) -> DynamicLabel {
        coverage::hit(Decision::DivideShortForm);
        let ignore_dividend = mutated!(self.mutation, NarrowDivisionIgnoresDividend);
        let rounded = mutated!(self.mutation, FloatDivisionRounds);
        // Bits 24..63 (the mask is the sign extension of 0xff00_0000); mutated, 26..63.
        let single_mask: i32 =
            if mutated!(self.mutation, SingleDivisionTooWide) { -1 << 26 } else { -1 << 24 };
        let ops = &mut self.ops;
        let wide = ops.new_dynamic_label();
        let double = ops.new_dynamic_label();
        let back = ops.new_dynamic_label();
        asm!(ops; lea scratch, [Rq(divisor) - 1]);
        if !ignore_dividend {
            asm!(ops; or scratch, Rq(n));
        }
        asm!(ops
            ; test scratch, single_mask
            ; jnz =>double
        );
        // Single precision (module docs: exact for n < 2^24, d <= 2^24).
        let is_div = want == Want::Quotient;
        emit_float_quotient(ops, n, divisor, false, is_div, rounded);
        // From the quotient in `scratch`: the remainder `n - q * d`, or the comparison of
        // `q * d` with `n` (`q * d <= n < 2^32` cannot overflow). Mutated, the flags test
        // the quotient instead.
        let tests_quotient = mutated!(self.mutation, DivisibleTestsQuotient);
        let remainder = move |ops: &mut Assembler| match want {
            Want::Quotient => {}
            Want::Remainder => asm!(ops
                ; imul scratch, Rq(divisor)
                ; mov rdx, Rq(n)
                ; sub rdx, scratch
            ),
            Want::Divisible if tests_quotient => asm!(ops; test scratch, scratch),
            Want::Divisible => asm!(ops
                ; imul scratch, Rq(divisor)
                ; cmp scratch, Rq(n)
            ),
        };
        remainder(ops);
        asm!(ops; =>back);
        // Double precision, for n < 2^32 and d <= 2^32 with one of them past 2^24.
        self.deferred.push(Box::new(move |ops: &mut Assembler| {
            asm!(ops
                ; =>double
                ; shr scratch, 32
                ; jnz =>wide
            );
            emit_float_quotient(ops, n, divisor, true, is_div, rounded);
            remainder(ops);
            asm!(ops; jmp =>back);
        }));
        wide
    }

    /// `div` and `mod` by a constant with a multiplier ([`magic`]); `false` (having emitted
    /// nothing) when the divisor has none.
    pub(super) fn divide_by_multiplying(&mut self, op: Op) -> bool {
        if mutated!(self.mutation, TruncatedDivision) {
            // That mutation lives in the `idiv` path; keep it reachable.
            return false;
        }
        let jb = self.nth(0);
        let Slot::Imm(d) = self.window[jb] else { return false };
        let Some((m, l)) = magic(d) else { return false };
        coverage::hit(Decision::DivideByMultiplying);
        let ignore_sign = mutated!(self.mutation, MagicDivisionIgnoresSign);
        let is_div = op == Op::Div;
        self.evict(RAX);
        self.evict(RDX);
        let b = self.pop();
        let a = self.pop();
        // The sign mask, and for `mod` the result: a register that is neither `rax`, `rdx`
        // nor the dividend's (still held until released below).
        let s = self.alloc_avoiding(&[RAX, RDX]);
        let ops = &mut self.ops;
        emit_mov(ops, RAX, a);
        if !ignore_sign {
            asm!(ops
                ; mov Rq(s), rax
                ; sar Rq(s), 63
                ; xor rax, Rq(s)
            );
        }
        asm!(ops
            ; mov scratch, QWORD m as i64
            ; mul scratch
            ; shr rdx, (l - 1) as i8
        );
        if !ignore_sign {
            asm!(ops; xor rdx, Rq(s));
        }
        // rdx = floor(a / d).
        if !is_div {
            if fits_i32(d) {
                asm!(ops; imul rdx, rdx, d as i32);
            } else {
                asm!(ops; mov scratch, QWORD d; imul rdx, scratch);
            }
            emit_mov(ops, s, a);
            asm!(ops; sub Rq(s), rdx);
        }
        self.release(a);
        self.release(b);
        self.push(Slot::Reg(if is_div { RDX } else { s }, false));
        true
    }
}

#[cfg(test)]
mod tests {
    use num_integer::Integer;

    use super::magic;

    /// The sequence the compiler emits, on the host: floored `a div d` and `a mod d`.
    fn by_multiplying(a: i64, d: i64, (m, l): (u64, u32)) -> (i64, i64) {
        let s = a >> 63;
        let t = (a ^ s) as u64;
        let hi = ((t as u128 * m as u128) >> 64) as u64;
        let q = ((hi >> (l - 1)) as i64) ^ s;
        (q, a.wrapping_sub(q.wrapping_mul(d)))
    }

    #[test]
    fn multipliers_exist_for_every_divisor_shape_and_divide_exactly() {
        let mut divisors: Vec<i64> = (3..2000).collect();
        for k in 2..63 {
            let p = 1i64 << k;
            divisors.extend([p - 1, p + 1, p.wrapping_add(p / 2)]);
        }
        divisors.extend([i64::MAX, i64::MAX - 1, 1_000_000_007, 4095, 4097, 10]);
        let mut dividends = vec![0, 1, -1, 2, -2, i64::MAX, i64::MIN, i64::MIN + 1, i64::MAX - 1];
        for k in 0..63 {
            let p = 1i64 << k;
            dividends.extend([p, p - 1, p + 1, -p, -p - 1, -p + 1]);
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            dividends.push(x as i64);
            dividends.push((x as i64) >> (x % 60));
        }
        for &d in &divisors {
            if d.count_ones() == 1 || d < 3 {
                assert_eq!(magic(d), None);
                continue;
            }
            let mm = magic(d).unwrap_or_else(|| panic!("no multiplier for {d}"));
            let mut near = vec![d, d - 1, d.wrapping_add(1), -d, -d - 1, -d + 1, d.wrapping_mul(3)];
            near.extend(dividends.iter().copied());
            for &a in &near {
                assert_eq!(
                    by_multiplying(a, d, mm),
                    (Integer::div_floor(&a, &d), Integer::mod_floor(&a, &d)),
                    "{a} divided by {d}"
                );
            }
        }
    }

    #[test]
    fn small_and_power_of_two_divisors_have_no_multiplier() {
        for d in [i64::MIN, -7, -1, 0, 1, 2, 4, 1 << 40, 1 << 62] {
            assert_eq!(magic(d), None, "{d}");
        }
    }
}
