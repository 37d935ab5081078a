//! Operand routes: one operator at one of its code-generation thresholds, each operand
//! reaching it by a [`Route`] the JIT compiles differently, and the result observed.
//!
//! A compiler picks its instruction sequence by where an operand is (a constant it can fold
//! or use as an immediate, a register, a memory slot) and by the constant's value (an
//! immediate fits 32 bits or not, a divisor is a power of two, -1, or 0, a heap address is a
//! displacement below 2^28). A generator that always pushes a constant right before its use
//! exercises only the folded path. Here every operator meets its thresholds
//! ([`arith_threshold`], [`divisor_threshold`], [`address_threshold`]) by every route, on
//! either side (`c - x` and `x - c`), and the result is printed or stored and read back. A
//! `sub` whose only reader is a `jz`/`jn` (compiled as one compare and branch) meets
//! [`compare_pair`]: equal operands, operands of opposite signs, differences past i64.
//!
//! Invariant: a route pushes exactly one item, the value it was given, and leaves nothing
//! else (`depth + 1`); the heap cell it may use is the builder's scratch cell, which no loop
//! counter uses.

use num_bigint::{BigInt, Sign};

use super::builder::{Builder, Route, Shape};
use super::values::{
    divisor, literal, log_uniform, magnitude, max_bits, near_power, pow2, wild_index,
};
use crate::program::Instruction;

/// A constant at a threshold of `add`/`sub`/`mul` code generation: the edges of a 32-bit
/// immediate (`±2^31`, `2^31 - 1`, `-2^31 - 1`), of `i64`, and small ones.
fn arith_threshold(rng: &mut super::rng::CaseRng, wide: bool) -> BigInt {
    match rng.below(4) {
        0 => {
            let k = *rng.pick(&[31u32, 32, 63]);
            let v = pow2(k) + rng.range(-1, 1);
            if rng.chance(0.5) { -v } else { v }
        }
        1 => BigInt::from(*rng.pick(&[0i64, 1, -1, 2, -2, i64::MIN, i64::MAX, i32::MIN.into()])),
        2 => near_power(rng, max_bits(wide).min(66)),
        _ => literal(rng, wide),
    }
}

/// A divisor at a threshold of `div`/`mod` code generation: 1, -1, powers of two (with
/// `2^31` and `2^32`, where the `mod` mask stops fitting an immediate), their negations,
/// `i64::MIN`, and 0 only when a trap is due.
fn divisor_threshold(rng: &mut super::rng::CaseRng, wide: bool) -> BigInt {
    match rng.below(4) {
        0 => BigInt::from(*rng.pick(&[1i64, -1, -1, 2, i64::MIN, i64::MAX])),
        1 => {
            let p = pow2(*rng.pick(&[30u32, 31, 32, 33, 62]));
            if rng.chance(0.3) { -p } else { p }
        }
        2 => pow2(rng.below(64) as u32),
        _ => divisor(rng, wide),
    }
}

/// A dividend that meets the divisor's edge cases: `i64::MIN` (with -1 it overflows), the
/// extremes, negatives (floor versus truncation), any value.
fn dividend(rng: &mut super::rng::CaseRng, wide: bool) -> BigInt {
    match rng.below(4) {
        0 => BigInt::from(*rng.pick(&[i64::MIN, i64::MIN + 1, i64::MAX, -1, -7])),
        1 => log_uniform(rng, max_bits(wide)),
        2 => near_power(rng, max_bits(wide)),
        _ => literal(rng, wide),
    }
}

/// The operands `(n, d)` of a `mod` whose result only a `jz` reads, which the optimising JIT
/// compiles as a divisibility test (`q * d == n` from the short form's quotient, or the
/// 64-bit path's remainder tested): the test is right only if it looks at the remainder, not
/// the quotient, so `n` is a multiple of `d` (taken), one off a multiple (not taken), or below
/// `d` (quotient 0, taken only for 0), with divisors small, at the single-precision edge
/// (2^24), at 2^32 and negative, and 0 only when a trap is due.
fn divisibility_pair(rng: &mut super::rng::CaseRng, wide: bool, trap: bool) -> (BigInt, BigInt) {
    if trap {
        return (dividend(rng, wide), BigInt::from(0));
    }
    let d = match rng.below(4) {
        0 => BigInt::from(rng.range(1, 12)),
        1 => BigInt::from(*rng.pick(&[1i64 << 24, (1 << 24) - 1, (1 << 24) + 1, 1 << 32, 3, 7])),
        2 => -BigInt::from(rng.range(1, 12)),
        _ => divisor_threshold(rng, wide),
    };
    let n = match rng.below(4) {
        0 => &d * BigInt::from(rng.range(-3, 1 << 20)),
        1 => &d * BigInt::from(rng.range(-3, 1 << 20)) + *rng.pick(&[-1i64, 1]),
        2 => BigInt::from(rng.range(0, 12)),
        _ => dividend(rng, wide),
    };
    (n, d)
}

/// The operands `(a, b)` of a `sub` whose result only a `jz`/`jn` reads, which the
/// optimising JIT compiles as `cmp a, b` and a conditional jump: the condition is right only
/// if it is the signed one, and a signed condition differs from an unsigned one only when
/// the operands' signs differ, and from one on the computed difference only when `a - b`
/// overflows i64. So the pair is equal (`jz` taken, `jn` not), one apart, of opposite signs,
/// or at the i64 edges with a difference past them (`i64::MIN - 1`, `i64::MAX - -1`,
/// `0 - i64::MIN`); `b` is often at the edge of a 32-bit immediate (the `cmp` takes it
/// sign-extended), and rarely `a` or `b` is beyond i64 (the compare is then not native).
fn compare_pair(rng: &mut super::rng::CaseRng, wide: bool) -> (BigInt, BigInt) {
    // A value within i64 of log-uniform bit length, or at an edge (of i64, of an imm32).
    let any = |rng: &mut super::rng::CaseRng| match rng.below(3) {
        0 => log_uniform(rng, 63),
        1 => near_power(rng, 63),
        _ => BigInt::from(*rng.pick(&[
            0i64,
            1,
            -1,
            i64::MIN,
            i64::MAX,
            i32::MIN.into(),
            i32::MAX.into(),
            i64::from(i32::MIN) - 1,
            i64::from(i32::MAX) + 1,
        ])),
    };
    let (a, b) = match rng.below(5) {
        0 => {
            // Equal or one apart, within i64 (one apart inward at its edges).
            let a = any(rng);
            let d = rng.range(-1, 1);
            let b = if i64::try_from(&a + d).is_ok() { &a + d } else { &a - d };
            (a, b)
        }
        1 => {
            // Opposite signs (0 counts as non-negative).
            let (a, b) = (magnitude(rng, 63), -magnitude(rng, 63) - 1);
            if rng.chance(0.5) { (a, b) } else { (b, a) }
        }
        2 => {
            // The difference overflows i64 (or just does not): i64::MIN - k, i64::MAX + k.
            let k = BigInt::from(*rng.pick(&[0i64, 1, 1, 2, i64::from(i32::MAX), i64::MAX]));
            if rng.chance(0.5) {
                (BigInt::from(i64::MIN) + rng.below(2), k)
            } else {
                (BigInt::from(i64::MAX) - rng.below(2), -k - rng.below(2))
            }
        }
        3 => {
            // The edges the other way round: small minus an extreme.
            let a = BigInt::from(rng.range(-2, 1));
            let b = BigInt::from(*rng.pick(&[i64::MIN, i64::MIN + 1, i64::MAX]));
            (a, b)
        }
        _ => (any(rng), any(rng)),
    };
    if wide && rng.chance(0.05) {
        let beyond = log_uniform(rng, max_bits(wide));
        if rng.chance(0.5) { (beyond, b) } else { (a, beyond) }
    } else {
        (a, b)
    }
}

/// A heap address at a threshold: 0, the 2^28 displacement edge, the dense slack 2^16, the
/// i64 and u64 edges.
fn address_threshold(rng: &mut super::rng::CaseRng) -> BigInt {
    let base = match rng.below(5) {
        0 => BigInt::from(rng.below(4)),
        1 => pow2(28),
        2 => pow2(16),
        3 => pow2(*rng.pick(&[31u32, 32, 63, 64])),
        _ => pow2(rng.below(66) as u32),
    };
    let v = base + rng.range(-1, 1);
    if v.sign() == Sign::Minus { BigInt::from(0) } else { v }
}

impl Builder<'_> {
    /// Pushes `v` so that it reaches the next instruction by `route` (one item, `depth + 1`).
    pub(super) fn push_by(&mut self, v: &BigInt, route: Route) {
        match route {
            Route::Folded => self.push(v.clone()),
            Route::Computed => {
                if *v == BigInt::from(-1) && self.rng.chance(0.5) {
                    self.push_i(0);
                    self.push_i(1);
                    self.emit(Instruction::Sub);
                } else {
                    let k = match self.rng.below(3) {
                        0 => BigInt::from(1),
                        1 => BigInt::from(self.rng.range(-99, 99)),
                        _ => literal(&mut self.rng, self.wide),
                    };
                    if self.rng.chance(0.5) {
                        // (v - k) + k
                        self.push(v - &k);
                        self.push(k);
                        self.emit(Instruction::Add);
                    } else {
                        // (v + k) - k
                        self.push(v + &k);
                        self.push(k);
                        self.emit(Instruction::Sub);
                    }
                }
                self.depth -= 1;
            }
            Route::Label => {
                self.push(v.clone());
                self.plain_label();
            }
            Route::Deep => {
                // push v; LABEL; fillers; copy k; slide k + 1: the copy is loaded from memory
                // far below the top (beyond the window when k > 16).
                self.push(v.clone());
                if self.rng.chance(0.5) {
                    self.plain_label();
                }
                let k = if self.rng.chance(0.5) {
                    1 + self.rng.index(8)
                } else {
                    15 + self.rng.index(40)
                };
                for _ in 0..k {
                    let f = BigInt::from(self.rng.range(-9, 9));
                    self.push(f);
                }
                self.emit(Instruction::Copy(BigInt::from(k)));
                self.depth += 1;
                self.emit(Instruction::Slide(BigInt::from(k + 1)));
                self.depth -= k + 1;
            }
            Route::Register => {
                if self.rng.chance(0.5) {
                    // push v; LABEL; dup; swap; drop: the copy is in a register.
                    self.push(v.clone());
                    self.plain_label();
                    self.emit(Instruction::Dup);
                    self.emit(Instruction::Swap);
                    self.emit(Instruction::Drop);
                } else {
                    // Stored and retrieved in one block: the retrieve loads a register.
                    self.store_scratch(v);
                    self.retrieve_scratch();
                }
            }
            Route::Heap => {
                self.store_scratch(v);
                self.plain_label();
                self.retrieve_scratch();
            }
        }
    }

    fn store_scratch(&mut self, v: &BigInt) {
        let a = self.scratch.clone();
        self.emit(Instruction::Push(a));
        self.emit(Instruction::Push(v.clone()));
        self.emit(Instruction::Store);
    }

    fn retrieve_scratch(&mut self) {
        let a = self.scratch.clone();
        self.push(a);
        self.emit(Instruction::Retrieve);
    }

    /// A block boundary: `jmp l; l:`, a jump to the very next instruction. It ends the JIT's
    /// block, so nothing before it is folded into what follows: the values cross it in
    /// registers or memory. (A label that only falling through reaches would not: a label
    /// that no jump names starts no block.)
    fn plain_label(&mut self) {
        let l = self.fresh_label();
        self.emit(Instruction::Jmp(l.clone()));
        self.emit(Instruction::Label(l));
    }

    pub(super) fn any_route(&mut self) -> Route {
        *self.rng.pick(&Route::ALL)
    }

    /// One operator at a threshold, its operands by random routes, its result observed.
    pub(super) fn route(&mut self) {
        let (ra, rb) = (self.any_route(), self.any_route());
        let wide = self.wide;
        let op = match self.rng.below(23) {
            20.. => {
                // sub then jz/jn, which the optimising tier fuses into one compare and branch
                // (unless both operands are constants, which fold), or mod then jz, fused
                // into a divisibility test (for a divisor known only at run time): the branch
                // is observed by what it skips.
                let skip = self.fresh_label();
                let (j, name) = if self.rng.chance(0.3) {
                    let trap = self.trap();
                    let (n, d) = divisibility_pair(&mut self.rng, wide, trap);
                    self.binary(&n, ra, &d, rb, Instruction::Mod);
                    (Instruction::Jz(skip.clone()), "mod-jz")
                } else {
                    let (a, b) = compare_pair(&mut self.rng, wide);
                    self.binary(&a, ra, &b, rb, Instruction::Sub);
                    if self.rng.chance(0.5) {
                        (Instruction::Jz(skip.clone()), "sub-jz")
                    } else {
                        (Instruction::Jn(skip.clone()), "sub-jn")
                    }
                };
                self.emit(j);
                self.depth -= 1;
                self.emit(Instruction::Push(BigInt::from('c' as u32)));
                self.emit(Instruction::PrintC);
                self.emit(Instruction::Label(skip));
                self.note(Shape::Route { op: name, routes: [ra, rb] });
                return;
            }
            19 => {
                // copy at a count threshold: the window (16), the static reach (48), the
                // depth. Out of range (the depth and one more, 2^48, any bit length) at 25
                // times the trap rate, because meeting those counts is what this route is
                // for; the run then ends with stack-underflow, a deliberate trap.
                let d = self.depth;
                let n = if self.rng.chance((self.trap_rate() * 25.0).min(0.5)) {
                    match self.rng.below(3) {
                        0 => BigInt::from(d + 1 + self.rng.index(2)),
                        1 => pow2(48) + self.rng.range(-2, 2),
                        _ => wild_index(&mut self.rng, d),
                    }
                } else {
                    let c = *self.rng.pick(&[14usize, 16, 17, 46, 48, 49, d, d.saturating_sub(1)]);
                    BigInt::from(c.min(d))
                };
                self.push_by(&BigInt::from(0), ra);
                self.emit(Instruction::Copy(n));
                self.depth += 1;
                self.note(Shape::Route { op: "copy", routes: [ra, Route::Folded] });
                self.observe();
                return;
            }
            0..8 => {
                // c op x or x op c, c at a threshold.
                let c = arith_threshold(&mut self.rng, wide);
                let x = if self.rng.chance(0.5) {
                    arith_threshold(&mut self.rng, wide)
                } else {
                    literal(&mut self.rng, wide)
                };
                let (a, b) = if self.rng.chance(0.5) { (c, x) } else { (x, c) };
                let (ins, name) = match self.rng.below(3) {
                    0 => (Instruction::Add, "add"),
                    1 => (Instruction::Sub, "sub"),
                    _ => (Instruction::Mul, "mul"),
                };
                self.binary(&a, ra, &b, rb, ins);
                name
            }
            8..14 => {
                let d = if self.trap() {
                    BigInt::from(0)
                } else {
                    divisor_threshold(&mut self.rng, wide)
                };
                let x = if d == BigInt::from(-1) && self.rng.chance(0.5) {
                    BigInt::from(i64::MIN)
                } else {
                    dividend(&mut self.rng, wide)
                };
                // Now and then a dividend of 25 or 26 bits by a small divisor: past what the
                // optimising tier's single-precision division holds exactly (24 bits), inside
                // what its double-precision one does.
                let (x, d) = if d != BigInt::from(0) && self.rng.chance(0.15) {
                    let x = (1i64 << 24) + self.rng.range(0, (3 << 24) - 1);
                    (BigInt::from(x), BigInt::from(self.rng.range(1, 7)))
                } else {
                    (x, d)
                };
                let (ins, name) = if self.rng.chance(0.5) {
                    (Instruction::Div, "div")
                } else {
                    (Instruction::Mod, "mod")
                };
                self.binary(&x, ra, &d, rb, ins);
                name
            }
            14..17 => {
                // store then retrieve, address and value by routes.
                let a = address_threshold(&mut self.rng);
                let v = arith_threshold(&mut self.rng, wide);
                self.push_by(&a, ra);
                self.push_by(&v, rb);
                self.emit(Instruction::Store);
                self.depth -= 2;
                let again = self.any_route();
                // At the trap rate, the retrieve is of -1 instead: `negative-address`, through
                // compiled code's host call when the address is known only at run time.
                let a = if self.trap() { BigInt::from(-1) } else { a };
                self.push_by(&a, again);
                self.emit(Instruction::Retrieve);
                "store"
            }
            _ => {
                // A condition by a route: jz/jn on a value at the sign and zero edges.
                let v = BigInt::from(*self.rng.pick(&[0i64, 0, -1, 1, i64::MIN, i64::MAX]));
                let v = if self.rng.chance(0.2) && wide { v - pow2(64) } else { v };
                self.push_by(&v, ra);
                let skip = self.fresh_label();
                let (j, name) = if self.rng.chance(0.5) {
                    (Instruction::Jz(skip.clone()), "jz")
                } else {
                    (Instruction::Jn(skip.clone()), "jn")
                };
                self.emit(j);
                self.depth -= 1;
                self.emit(Instruction::Push(BigInt::from('j' as u32)));
                self.emit(Instruction::PrintC);
                self.emit(Instruction::Label(skip));
                self.note(Shape::Route { op: name, routes: [ra, Route::Folded] });
                return;
            }
        };
        self.note(Shape::Route { op, routes: [ra, rb] });
        self.observe();
    }

    /// `a op b` with `a` by `ra` and `b` by `rb`: one item for the two.
    fn binary(&mut self, a: &BigInt, ra: Route, b: &BigInt, rb: Route, op: Instruction) {
        self.push_by(a, ra);
        self.push_by(b, rb);
        self.emit(op);
        self.depth -= 1;
    }
}

#[cfg(test)]
mod tests {
    use num_bigint::BigInt;

    use super::compare_pair;
    use crate::generate::rng::CaseRng;

    #[test]
    fn compare_pairs_meet_what_separates_signed_from_unsigned_and_from_the_difference() {
        let (min, max) = (BigInt::from(i64::MIN), BigInt::from(i64::MAX));
        let fits = |v: &BigInt| *v >= min && *v <= max;
        let (mut equal, mut signs, mut below, mut above, mut imm) = (0, 0, 0, 0, 0);
        let mut rng = CaseRng::new(7);
        let n = 2000;
        for _ in 0..n {
            let (a, b) = compare_pair(&mut rng, false);
            assert!(fits(&a) && fits(&b), "a narrow case's pair fits i64: {a}, {b}");
            let d = &a - &b;
            equal += usize::from(a == b);
            signs += usize::from((a < BigInt::from(0)) != (b < BigInt::from(0)));
            below += usize::from(d < min);
            above += usize::from(d > max);
            let edge = [i32::MIN.into(), i32::MAX.into(), i64::from(i32::MIN) - 1];
            imm += usize::from(edge.iter().any(|&e: &i64| b == BigInt::from(e)));
        }
        // Each kind at least in a few percent of the pairs.
        for (what, count) in
            [("equal", equal), ("signs", signs), ("below", below), ("above", above)]
        {
            assert!(count * 50 > n, "{what}: {count} of {n}");
        }
        assert!(imm * 200 > n, "imm32 edges as the subtrahend: {imm} of {n}");
    }
}
