//! The optimising tier's division (`Tier::Optimising` only): the short 32-bit form when both
//! operands fit, and division by a constant through multiplication.
//!
//! **Short form.** When the dividend `n` and the divisor `d` are both in `0..2^32` (their
//! bits 32..63 all clear, which one `or` and one shift test), floored and truncated division
//! agree, and the quotient comes from the floating-point divider: `n` and `d` convert to
//! doubles exactly, `divsd` rounds `n / d` to the nearest double (or by any rounding mode,
//! within one unit in the last place, a relative 2^-52), and truncating that gives
//! `floor(n / d)` exactly. Where `n / d` is not an integer it lies at least `1 / d` below the
//! next one, `k = ceil(n / d) <= 2^32 / d`, a relative gap of at least `(1 / d) / k >=
//! 2^-32`, which one ulp cannot cross; where it is an integer, it is exactly representable.
//! The remainder is `n - q * d`. On this kind of machine (AMD Zen 4) a 32-bit `div` issues
//! about every 6 cycles and `divsd` about every 4 (measured, four independent divisions in
//! a loop: 1.45 ns and 0.97 ns each), and division-bound loops (primes) run at the
//! divider's pace; a 64-bit `idiv` is slower still. Anything else (a negative operand, one at
//! or above 2^32) takes the exact 64-bit path of `arith.rs`.
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

impl Compiler<'_> {
    /// The short form's test and division (the dividend already in `rax`, the divisor in
    /// `divisor`): when both fit 32 bits, checks the divisor for 0 (jumping to `zero`, if
    /// given: `None` when the divisor is a known constant, never 0 here), divides and falls
    /// through with the quotient in `rax` and the remainder in `rdx`; otherwise jumps to the
    /// label it returns, where the caller puts the 64-bit path and its checks. A divisor in
    /// `0..2^32` is never -1, so the short form needs no check for it.
    pub(super) fn emit_narrow_division(
        &mut self,
        divisor: u8,
        zero: Option<DynamicLabel>,
    ) -> DynamicLabel {
        coverage::hit(Decision::DivideShortForm);
        let ignore_dividend = mutated!(self.mutation, NarrowDivisionIgnoresDividend);
        let ops = &mut self.ops;
        let wide = ops.new_dynamic_label();
        if ignore_dividend {
            asm!(ops; mov scratch, Rq(divisor));
        } else {
            asm!(ops; mov scratch, rax; or scratch, Rq(divisor));
        }
        asm!(ops
            ; shr scratch, 32
            ; jnz =>wide
        );
        if let Some(zero) = zero {
            asm!(ops; test Rd(divisor), Rd(divisor); jz =>zero);
        }
        // The quotient from the floating-point divider, whose throughput on this kind of
        // machine is about one and a half times the integer divider's (module docs: exact).
        let rounded = mutated!(self.mutation, FloatDivisionRounds);
        asm!(ops
            ; pxor xmm0, xmm0
            ; cvtsi2sd xmm0, rax
            ; pxor xmm1, xmm1
            ; cvtsi2sd xmm1, Rq(divisor)
            ; divsd xmm0, xmm1
            ; mov rdx, rax
        );
        if rounded {
            asm!(ops; cvtsd2si rax, xmm0);
        } else {
            asm!(ops; cvttsd2si rax, xmm0);
        }
        asm!(ops
            ; mov scratch, rax
            ; imul scratch, Rq(divisor)
            ; sub rdx, scratch
        );
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
