//! The stepper: one instruction at a time on the JIT's own state, with big integers.
//!
//! This is the JIT's big-integer path and its exact path. Compiled code hands over to it (by
//! leaving with the state as before an instruction) whenever that instruction might trap,
//! needs a value beyond 64 bits, or reads input, and when a block's entry check fails (fuel,
//! stack depth or limits); it runs until the next block start, where compiled code takes over
//! again if the block's values all fit in 64 bits.
//!
//! It is separate from the interpreter's `interp::Machine::step` *on purpose*, although both
//! follow SEMANTICS.md step by step: the differential harness compares the JIT with the
//! interpreter, and a step function shared by both would make every bug in it invisible
//! (both engines would agree on it). Keep them apart; keep them in step by the conformance
//! suite and the harness, not by sharing code.
//!
//! Two layers: [`run_fast`] loops over the instructions that cannot trap where they are
//! (64-bit values with room on the stack, and the in-place paths of `fast_big` for a big
//! value under a 64-bit one: `mul`, `div` and `mod` by a 64-bit value are never big-by-big
//! operations there, and no big value is moved or copied by `swap` or by a `copy` of a
//! small item); [`step`] runs any one instruction with every check. The driver runs the
//! first until it stops, then the second once, and so on to the next native block start.
//!
//! Invariant: [`step`] follows `interp::Machine::step` check for check, in the same order
//! (missing-end, fuel, stack depth, the values, the limits, input), and changes nothing when
//! an instruction traps; the fast paths do only what it would do, and refuse (changing
//! nothing) wherever a check could fail. Results are normalised: a value that fits in 64
//! bits is always stored small, so compiled code can resume as soon as big values are gone.

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::ToPrimitive;

use super::blocks::{Arg, Op};
use super::runtime::{Runtime, VRef, Val};
use crate::io::{Input, Output};
use crate::outcome::{HostError, ReadPoint, Termination, Trap, TrapKind};
use crate::program::Program;

impl Runtime {
    /// The value in slot `i` (from the bottom).
    pub fn get(&self, i: usize) -> VRef<'_> {
        if i >= self.floor_index() {
            return VRef::Small(self.stack[i]);
        }
        // The highest big value, the one big-number code reads most, without a search.
        if let Some((j, b)) = self.bigs.last()
            && *j == i
        {
            return VRef::Big(b);
        }
        match self.bigs.binary_search_by_key(&i, |&(j, _)| j) {
            Ok(k) => VRef::Big(&self.bigs[k].1),
            Err(_) => VRef::Small(self.stack[i]),
        }
    }

    /// Pushes `v` (the caller has checked the stack limit).
    #[inline]
    pub fn push(&mut self, v: Val) {
        if self.depth == self.stack.len() {
            self.reserve_stack(self.depth + 1);
        }
        match v {
            Val::Small(x) => self.stack[self.depth] = x,
            Val::Big(b) => {
                self.stack[self.depth] = 0;
                self.stack_words += VRef::Big(&b).words();
                self.bigs.push((self.depth, b));
                self.floor = self.depth + 1;
            }
        }
        self.depth += 1;
    }

    /// Pops the top value (the caller has checked the depth).
    #[inline]
    pub fn pop(&mut self) -> Val {
        self.depth -= 1;
        match self.bigs.last() {
            Some(&(i, _)) if i == self.depth => {
                let (_, b) = self.bigs.pop().expect("just seen");
                self.stack_words -= VRef::Big(&b).words();
                self.floor = self.bigs.last().map_or(0, |&(i, _)| i + 1);
                Val::Big(b)
            }
            _ => Val::Small(self.stack[self.depth]),
        }
    }

    /// Removes the `n` items below the top.
    fn slide(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        let top = self.pop();
        let new_depth = self.depth - n;
        let keep = self.bigs.partition_point(|&(i, _)| i < new_depth);
        let removed: u64 = self.bigs[keep..].iter().map(|(_, b)| VRef::Big(b).words()).sum();
        self.stack_words -= removed;
        self.bigs.truncate(keep);
        self.floor = self.bigs.last().map_or(0, |&(i, _)| i + 1);
        self.depth = new_depth;
        self.push(top);
    }
}

/// What one step did: `None` to go on, or how the run stopped.
pub(crate) type Stepped = Option<Termination>;

fn trap(program: &Program, rt: &Runtime, kind: TrapKind) -> Result<Stepped, HostError> {
    Ok(Some(Termination::Trapped(Trap::at(program, kind, rt.pc))))
}

/// `a op b` for add, sub and mul, exactly.
#[inline]
fn arith(op: Op, a: Val, b: Val) -> Val {
    if let (Val::Small(x), Val::Small(y)) = (&a, &b) {
        let r = match op {
            Op::Add => x.checked_add(*y),
            Op::Sub => x.checked_sub(*y),
            _ => x.checked_mul(*y),
        };
        if let Some(r) = r {
            return Val::Small(r);
        }
    }
    let r = match (op, a, b) {
        (Op::Mul, Val::Big(x), Val::Small(y)) => x * y,
        (Op::Mul, Val::Small(x), Val::Big(y)) => y * x,
        (Op::Add, Val::Big(x), Val::Small(y)) => x + y,
        (Op::Sub, Val::Big(x), Val::Small(y)) => x - y,
        (op, a, b) => {
            // The operands are owned: their digits are reused, never copied.
            let (a, b) = (a.into_big(), b.into_big());
            match op {
                Op::Add => a + b,
                Op::Sub => a - b,
                _ => a * b,
            }
        }
    };
    Val::from_big(r)
}

/// The value-too-large and memory-overflow checks of `add`, `sub` and `mul` on the top two
/// items: bounds from the operands' sizes settle nearly every case without computing the
/// result (so the real operation can then reuse an operand's digits); only near a limit is
/// the result computed once more, from borrowed operands, to decide.
fn check_arith(rt: &Runtime, op: Op) -> Result<(), TrapKind> {
    let depth = rt.depth;
    let (a, b) = (rt.get(depth - 2), rt.get(depth - 1));
    let (a_bits, b_bits) = (a.bits(), b.bits());
    let (low, high) = match op {
        Op::Mul if a_bits == 0 || b_bits == 0 => (0, 0),
        Op::Mul => (a_bits + b_bits - 1, a_bits + b_bits),
        _ => (0, a_bits.max(b_bits) + 1),
    };
    if low > rt.limits.value_bits {
        return Err(TrapKind::ValueTooLarge);
    }
    // The result takes at most ceil(high / 64) <= words(a) + words(b) + 2 words (a 64-bit
    // operand counts 0 but may add one word), and the operands' words are freed.
    let total = rt.big_words();
    if high <= rt.limits.value_bits && total + 2 <= rt.limits.big_words {
        return Ok(());
    }
    let others = total - a.words() - b.words();
    if high <= rt.limits.value_bits
        && others + crate::limits::big_words(high) <= rt.limits.big_words
    {
        return Ok(());
    }
    let r = arith(op, a.to_val(), b.to_val());
    if r.as_ref().bits() > rt.limits.value_bits {
        return Err(TrapKind::ValueTooLarge);
    }
    if others + r.as_ref().words() > rt.limits.big_words {
        return Err(TrapKind::MemoryOverflow);
    }
    Ok(())
}

/// Floored `a div b` or `a mod b`, exactly (`b` is not zero).
fn divide(op: Op, a: Val, b: Val) -> Val {
    if let (Val::Small(x), Val::Small(y)) = (&a, &b) {
        if !(*x == i64::MIN && *y == -1) {
            return Val::Small(if op == Op::Div { x.div_floor(y) } else { x.mod_floor(y) });
        }
    }
    let r = match (op, a, b) {
        (Op::Div, Val::Big(x), Val::Small(y)) => x.div_floor(&BigInt::from(y)),
        (Op::Mod, Val::Big(x), Val::Small(y)) => x.mod_floor(&BigInt::from(y)),
        (op, a, b) => {
            let (a, b) = (a.into_big(), b.into_big());
            if op == Op::Div { a.div_floor(&b) } else { a.mod_floor(&b) }
        }
    };
    Val::from_big(r)
}

/// The common instructions on 64-bit values that cannot trap: `Some(next pc)` when done,
/// `None` (having changed nothing) when the general path must decide.
#[inline]
fn fast(rt: &mut Runtime, op: Op) -> Option<usize> {
    let depth = rt.depth;
    // Items above the highest big value: plain 64-bit slots.
    let small = depth - rt.floor_index();
    let next = rt.pc + 1;
    let room = depth < rt.limits.stack && depth < rt.stack.len();
    match op {
        // Push and arithmetic make new values: unchecked only if every i64 is within the value
        // limit (dup, copy and the rest only move values).
        Op::Push(v) if room && rt.native_values => {
            rt.stack[depth] = v;
            rt.depth += 1;
        }
        Op::Dup if room && small >= 1 => {
            rt.stack[depth] = rt.stack[depth - 1];
            rt.depth += 1;
        }
        Op::Copy(Arg::Small(k)) if room && (k as usize) < small => {
            rt.stack[depth] = rt.stack[depth - 1 - k as usize];
            rt.depth += 1;
        }
        Op::Swap if small >= 2 => rt.stack.swap(depth - 1, depth - 2),
        Op::Drop if small >= 1 => rt.depth -= 1,
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Mod if small >= 2 && rt.native_values => {
            let (a, b) = (rt.stack[depth - 2], rt.stack[depth - 1]);
            let r = match op {
                Op::Add => a.checked_add(b)?,
                Op::Sub => a.checked_sub(b)?,
                Op::Mul => a.checked_mul(b)?,
                _ if b == 0 || (a == i64::MIN && b == -1) => return None,
                Op::Div => Integer::div_floor(&a, &b),
                _ => Integer::mod_floor(&a, &b),
            };
            rt.stack[depth - 2] = r;
            rt.depth -= 1;
        }
        Op::Label => {}
        Op::Jmp(Some(t)) => return Some(t),
        Op::Jz(Some(t)) | Op::Jn(Some(t)) if small >= 1 => {
            let v = rt.stack[depth - 1];
            rt.depth -= 1;
            let taken = if let Op::Jz(_) = op { v == 0 } else { v < 0 };
            return Some(if taken { t } else { next });
        }
        _ => return None,
    }
    Some(next)
}

/// The common instructions that meet a big value among the top two items and cannot trap,
/// done in place on the stepper's own values (no big value moves, none is copied, and a
/// `mul`, `div` or `mod` by a 64-bit value is never a big-by-big operation): `Some(next pc)`
/// when done, `None` (having changed nothing) when the general path of [`step`] must decide.
///
/// - `swap` of any two items: the big values stay where they are, only their slots change;
/// - `dup` and `copy n` of a 64-bit item below a big one;
/// - `add`, `sub` and `mul` of a big value and a 64-bit one on top, when the bounds of
///   [`check_arith`] show that no limit can be reached;
/// - `div` and `mod` of a big value by a 64-bit one on top that is not zero (floored, as
///   SEMANTICS.md defines them).
///
/// The result is normalised as everywhere else: a result that fits in 64 bits is stored small.
#[inline]
fn fast_big(rt: &mut Runtime, op: Op) -> Option<usize> {
    let depth = rt.depth;
    let next = rt.pc + 1;
    match op {
        Op::Swap if depth >= 2 => {
            swap_top(rt);
            super::coverage::hit(super::coverage::Decision::StepperSwapBig);
        }
        Op::Dup | Op::Copy(Arg::Small(_)) => {
            let k = if let Op::Copy(Arg::Small(k)) = op { k } else { 0 };
            if k >= depth as u64 || depth >= rt.limits.stack {
                return None;
            }
            let VRef::Small(v) = rt.get(depth - 1 - k as usize) else { return None };
            super::coverage::hit(super::coverage::Decision::StepperCopySmallBelowBig);
            // A small value: into its slot, nothing to count.
            rt.reserve_stack(depth + 1);
            rt.stack[depth] = v;
            rt.depth = depth + 1;
        }
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Mod => {
            // A big value second, a 64-bit one on top.
            if depth < 2 || rt.floor != depth - 1 {
                return None;
            }
            let y = rt.stack[depth - 1];
            let n = rt.bigs.len();
            let total = rt.big_words();
            let (value_bits, big_words) = (rt.limits.value_bits, rt.limits.big_words);
            let x = &mut rt.bigs[n - 1].1;
            let before = VRef::Big(x).words();
            match op {
                Op::Div | Op::Mod => {
                    if y == 0 {
                        return None;
                    }
                    let r = floored_by_small(x, y, op == Op::Div, rt.planted);
                    if let Some(r) = r {
                        // `mod`: the result is smaller than the divisor, so small; the big
                        // value and the divisor go.
                        let _ = rt.bigs.pop();
                        rt.stack_words -= before;
                        rt.floor = rt.bigs.last().map_or(0, |&(i, _)| i + 1);
                        rt.stack[depth - 2] = r;
                        rt.depth = depth - 1;
                        super::coverage::hit(super::coverage::Decision::StepperModBigBySmall);
                        return Some(next);
                    }
                    super::coverage::hit(super::coverage::Decision::StepperDivBigBySmall);
                }
                _ => {
                    let (a_bits, b_bits) = (VRef::Big(x).bits(), VRef::Small(y).bits());
                    let high = match op {
                        Op::Mul => a_bits + b_bits,
                        _ => a_bits.max(b_bits) + 1,
                    };
                    // As the first bound of `check_arith`: within both limits whatever the
                    // result (it takes at most two words more than the operands).
                    if high > value_bits || total.saturating_add(2) > big_words {
                        return None;
                    }
                    match op {
                        Op::Add => *x += y,
                        Op::Sub if crate::jit::mutated!(rt.planted, BigSubReversed) => {
                            *x = y - &*x;
                        }
                        Op::Sub => *x -= y,
                        _ => *x *= y,
                    }
                    super::coverage::hit(super::coverage::Decision::StepperArithBigSmall);
                }
            }
            // The top item goes; the result stays in the big value's slot, made small if it
            // fits.
            rt.depth = depth - 1;
            match x.to_i64() {
                Some(v) => {
                    let _ = rt.bigs.pop();
                    rt.stack_words -= before;
                    rt.stack[depth - 2] = v;
                    rt.floor = rt.bigs.last().map_or(0, |&(i, _)| i + 1);
                }
                None => {
                    let after = VRef::Big(x).words();
                    rt.stack_words = rt.stack_words - before + after;
                }
            }
        }
        _ => return None,
    }
    Some(next)
}

/// Swaps the top two items (at least two), whichever of them are big.
fn swap_top(rt: &mut Runtime) {
    let depth = rt.depth;
    let n = rt.bigs.len();
    let top_big = rt.floor == depth;
    let second_big =
        if top_big { n >= 2 && rt.bigs[n - 2].0 == depth - 2 } else { rt.floor == depth - 1 };
    match (second_big, top_big) {
        (false, false) => rt.stack.swap(depth - 1, depth - 2),
        (true, true) => {
            let (low, high) = rt.bigs.split_at_mut(n - 1);
            std::mem::swap(&mut low[n - 2].1, &mut high[0].1);
        }
        // The big value moves up a slot, the small one down.
        (true, false) => {
            rt.stack[depth - 2] = rt.stack[depth - 1];
            rt.stack[depth - 1] = 0;
            rt.bigs[n - 1].0 = depth - 1;
            rt.floor = depth;
        }
        (false, true) => {
            rt.stack[depth - 1] = rt.stack[depth - 2];
            rt.stack[depth - 2] = 0;
            rt.bigs[n - 1].0 = depth - 2;
            rt.floor = depth - 1;
        }
    }
}

/// Floored division of the big value `x` by `y` (not zero), in place for `div` (`None`: `x` is
/// the quotient now), or the remainder for `mod` (`Some`: `x` is unchanged).
///
/// The quotient is truncated in place, then moved one down when the remainder is not zero
/// and its sign (that of `x`) differs from the divisor's, as SEMANTICS.md's floored division
/// asks; the truncated remainder comes from one pass over `x`'s digits, made for `div` only
/// when the signs differ (with equal signs, truncated and floored quotients are the same).
fn floored_by_small(
    x: &mut BigInt,
    y: i64,
    div: bool,
    planted: crate::jit::Planted,
) -> Option<i64> {
    let negative = x.sign() == num_bigint::Sign::Minus;
    let signs_differ = negative != (y < 0);
    let magnitude = if div && !signs_differ { 0 } else { remainder_u64(x, y.unsigned_abs()) };
    let adjust =
        magnitude != 0 && signs_differ && !crate::jit::mutated!(planted, BigDivisionTruncates);
    if div {
        *x /= y;
        if adjust {
            *x -= 1u8;
        }
        return None;
    }
    // |remainder| < |y|, so this fits in i128 and the result in i64.
    let mut r = if negative { -i128::from(magnitude) } else { i128::from(magnitude) };
    if adjust {
        r += i128::from(y);
    }
    Some(r as i64)
}

/// `|x| mod m` (`m` not zero), from the most significant digit down.
fn remainder_u64(x: &BigInt, m: u64) -> u64 {
    let mut r: u64 = 0;
    if m <= u64::from(u32::MAX) {
        // Two 64-by-32 steps a digit: each dividend (r << 32 | half) < m << 32 fits 64 bits.
        for d in x.iter_u64_digits().rev() {
            r = ((r << 32) | (d >> 32)) % m;
            r = ((r << 32) | (d & 0xffff_ffff)) % m;
        }
    } else {
        for d in x.iter_u64_digits().rev() {
            r = ((u128::from(r) << 64 | u128::from(d)) % u128::from(m)) as u64;
        }
    }
    r
}

/// Runs instructions on the fast paths ([`fast`], [`fast_big`]) until control reaches an
/// instruction where `stop_at` holds (a native block start the driver should look at:
/// `true`), or one the fast paths do not do, or the fuel slice is used up (`false`: [`step`]
/// must run the instruction at `rt.pc` next). A tight loop of its own, so that the many
/// instructions that cannot trap pay for nothing else.
#[inline]
pub(crate) fn run_fast(
    rt: &mut Runtime,
    ops: &[Op],
    stop_at: impl Fn(&Runtime, usize) -> bool,
) -> bool {
    loop {
        if rt.shared.fuel == 0 {
            return false;
        }
        let Some(&op) = ops.get(rt.pc) else { return false };
        let Some(next) = fast(rt, op).or_else(|| fast_big(rt, op)) else { return false };
        rt.pc = next;
        rt.shared.fuel -= 1;
        if stop_at(rt, next) {
            return true;
        }
    }
}

/// Runs the instruction at `rt.pc`, whatever it is.
///
/// Like the interpreter's step, one arm per instruction with its checks in the order of
/// SEMANTICS.md §3 before its effect, so it is long (about 200 lines) on purpose: each rule
/// reads whole, in one place. (The common cases that cannot trap are done by [`run_fast`],
/// which the driver runs first: this is for the instructions it leaves.)
pub(crate) fn step(
    rt: &mut Runtime,
    program: &Program,
    ops: &[Op],
    input: &mut Input,
    output: &mut Output,
) -> Result<Stepped, HostError> {
    let pc = rt.pc;
    let Some(&op) = ops.get(pc) else {
        return trap(program, rt, TrapKind::MissingEnd);
    };
    if rt.shared.fuel == 0 {
        if rt.fuel_reserve == 0 {
            return trap(program, rt, TrapKind::OutOfFuel);
        }
        // A slice ran out: look at the stop request, then go on with the next slice.
        super::coverage::hit(super::coverage::Decision::StepperSliceRefill);
        if let Some(cause) = rt.stop.poll() {
            super::coverage::hit(super::coverage::Decision::StopRequested);
            return Err(HostError::Stopped { index: pc, cause });
        }
        rt.slice_fuel(rt.slice);
    }
    let depth = rt.depth;
    // The stack needs are a fact of the language, from the instruction table.
    let needs = op.opcode().needs();
    if depth < needs {
        return trap(program, rt, TrapKind::StackUnderflow);
    }
    let mut next = pc + 1;
    match op {
        Op::Push(_) | Op::PushBig => {
            let literal = program.instructions()[pc].number().expect("push has a number");
            if literal.bits() > rt.limits.value_bits {
                return trap(program, rt, TrapKind::ValueTooLarge);
            }
            if depth >= rt.limits.stack {
                return trap(program, rt, TrapKind::StackOverflow);
            }
            let v = match op {
                Op::Push(v) => Val::Small(v),
                _ => Val::from_big(literal.clone()),
            };
            if rt.big_words() + v.as_ref().words() > rt.limits.big_words {
                return trap(program, rt, TrapKind::MemoryOverflow);
            }
            rt.push(v);
        }
        Op::Dup | Op::Copy(_) => {
            let from_top = match op {
                Op::Copy(Arg::Small(k)) => k as usize,
                Op::Copy(_) => usize::MAX,
                _ => 0,
            };
            if from_top >= depth {
                return trap(program, rt, TrapKind::StackUnderflow);
            }
            if depth >= rt.limits.stack {
                return trap(program, rt, TrapKind::StackOverflow);
            }
            let v = rt.get(depth - 1 - from_top);
            if rt.big_words() + v.words() > rt.limits.big_words {
                return trap(program, rt, TrapKind::MemoryOverflow);
            }
            let v = v.to_val();
            rt.push(v);
        }
        Op::Swap => {
            let b = rt.pop();
            let a = rt.pop();
            rt.push(b);
            rt.push(a);
        }
        Op::Drop => {
            rt.pop();
        }
        Op::Slide(n) => {
            let below = depth - 1;
            let remove = match n {
                Arg::Neg => 0,
                Arg::Small(k) => (k as usize).min(below),
                Arg::Huge => below,
            };
            rt.slide(remove);
        }
        Op::Add | Op::Sub | Op::Mul => {
            if let Err(kind) = check_arith(rt, op) {
                return trap(program, rt, kind);
            }
            let b = rt.pop();
            let a = rt.pop();
            rt.push(arith(op, a, b));
        }
        Op::Div | Op::Mod => {
            let (a, b) = (rt.get(depth - 2), rt.get(depth - 1));
            if b.is_zero() {
                return trap(program, rt, TrapKind::DivisionByZero);
            }
            // Only i64::MIN div -1 makes a big value of small ones; otherwise the result is no
            // larger than the dividend (div) or the divisor (mod), and memory cannot grow.
            if let (VRef::Small(i64::MIN), VRef::Small(-1)) = (a, b) {
                if op == Op::Div && rt.big_words() + 1 > rt.limits.big_words {
                    return trap(program, rt, TrapKind::MemoryOverflow);
                }
            }
            let b = rt.pop();
            let a = rt.pop();
            rt.push(divide(op, a, b));
        }
        Op::Store => {
            let addr = rt.get(depth - 2);
            if addr.is_negative() {
                return trap(program, rt, TrapKind::NegativeAddress);
            }
            if !rt.heap.is_written(addr) && rt.shared.heap_count >= rt.shared.heap_max {
                return trap(program, rt, TrapKind::HeapOverflow);
            }
            let value = rt.pop();
            let addr = rt.pop();
            rt.heap.set(addr.as_ref(), value, &mut rt.shared.heap_count);
        }
        Op::Retrieve => {
            let addr = rt.get(depth - 1);
            if addr.is_negative() {
                return trap(program, rt, TrapKind::NegativeAddress);
            }
            let value = rt.heap.get(addr);
            if rt.big_words() - addr.words() + value.as_ref().words() > rt.limits.big_words {
                return trap(program, rt, TrapKind::MemoryOverflow);
            }
            rt.pop();
            rt.push(value);
        }
        Op::Label => {}
        Op::Call(target) | Op::Jmp(target) => {
            let Some(target) = target else {
                return trap(program, rt, TrapKind::UndefinedLabel);
            };
            if let Op::Call(_) = op {
                if rt.cs_depth >= rt.limits.calls {
                    return trap(program, rt, TrapKind::CallStackOverflow);
                }
                rt.reserve_calls(rt.cs_depth + 1);
                rt.calls[rt.cs_depth] = (pc + 1) as u64;
                rt.cs_depth += 1;
            }
            next = target;
        }
        Op::Jz(target) | Op::Jn(target) => {
            let top = rt.get(depth - 1);
            let taken = match op {
                Op::Jz(_) => top.is_zero(),
                _ => top.is_negative(),
            };
            if taken {
                let Some(target) = target else {
                    return trap(program, rt, TrapKind::UndefinedLabel);
                };
                next = target;
            }
            rt.pop();
        }
        Op::Ret => {
            if rt.cs_depth == 0 {
                return trap(program, rt, TrapKind::ReturnWithoutCall);
            }
            rt.cs_depth -= 1;
            next = rt.calls[rt.cs_depth] as usize;
        }
        Op::End => {
            rt.shared.fuel -= 1;
            return Ok(Some(Termination::Ended));
        }
        Op::PrintC => {
            let c = match rt.get(depth - 1) {
                VRef::Small(v) => u32::try_from(v).ok().and_then(char::from_u32),
                VRef::Big(_) => None,
            };
            let Some(c) = c else {
                return trap(program, rt, TrapKind::InvalidCharacter);
            };
            output.write_char(c)?;
            rt.pop();
        }
        Op::PrintI => {
            match rt.get(depth - 1) {
                VRef::Small(v) => output.write_i64(v)?,
                VRef::Big(b) => output.write_bigint(b)?,
            }
            rt.pop();
        }
        Op::ReadC | Op::ReadI => {
            let addr = rt.get(depth - 1);
            if addr.is_negative() {
                return trap(program, rt, TrapKind::NegativeAddress);
            }
            if !rt.heap.is_written(addr) && rt.shared.heap_count >= rt.shared.heap_max {
                return trap(program, rt, TrapKind::HeapOverflow);
            }
            // Output reaches the sink before the program waits for input; the transcript
            // notes what the sink had when the read began.
            let late = crate::jit::mutated!(rt.planted, FlushAfterRead);
            if !late {
                output.flush()?;
            }
            let point = ReadPoint { consumed: input.consumed(), flushed: output.flushed() };
            let read = match op {
                Op::ReadC => input.read_char()?.map(|c| Val::Small(i64::from(c))),
                _ => input.read_number(rt.limits.value_bits)?.map(Val::from_big),
            };
            if late {
                output.flush()?;
            }
            if let Some(reads) = &mut rt.reads {
                reads.push(point);
            }
            let value = match read {
                Ok(v) => v,
                Err(kind) => return trap(program, rt, kind),
            };
            // The address moves from the stack to the heap (or is dropped if the cell exists).
            let addr = rt.get(depth - 1);
            let after = rt.stack_words - addr.words()
                + rt.heap.words_after_set(addr, value.as_ref().words());
            if after > rt.limits.big_words {
                return trap(program, rt, TrapKind::MemoryOverflow);
            }
            let addr = rt.pop();
            rt.heap.set(addr.as_ref(), value, &mut rt.shared.heap_count);
        }
    }
    rt.pc = next;
    rt.shared.fuel -= 1;
    Ok(None)
}
