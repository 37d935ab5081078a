//! Arithmetic: `add`, `sub`, `mul` with overflow detection, and floored `div` and `mod`.
//!
//! Constant operands are folded at compile time, special divisors (0, 1, -1, powers of two)
//! become short sequences, the rest `idiv` with a floor correction. Invariant it keeps: a
//! result that does not fit an `i64` (an overflow, `i64::MIN div -1`) or a division by zero
//! never happens in compiled code; the instruction leaves for the stepper *before* it runs,
//! with the virtual stack as it was (the result is computed into a fresh register, so the
//! operands the exit descriptor names are intact).

use dynasmrt::x64::Assembler;
use dynasmrt::{DynasmApi, DynasmLabelApi, dynasm};

use super::code::Slot;
use super::fastdiv::Want;
use super::vstack::{Src, emit_mov};
use super::{Compiler, RAX, RDX, fits_i32};
use crate::jit::blocks::Op;
use crate::jit::coverage::{self, Decision};
use crate::jit::mutated;

/// `add r, b` (or `sub r, b`) for an operand that is a register, a slot or an imm32.
fn emit_add_or_sub(ops: &mut Assembler, add: bool, r: u8, b: Src) {
    match (add, b) {
        (true, Src::Reg(s)) => asm!(ops; add Rq(r), Rq(s)),
        (true, Src::Mem(d)) => asm!(ops; add Rq(r), [vsp + d]),
        (true, Src::Imm(v)) => asm!(ops; add Rq(r), v as i32),
        (false, Src::Reg(s)) => asm!(ops; sub Rq(r), Rq(s)),
        (false, Src::Mem(d)) => asm!(ops; sub Rq(r), [vsp + d]),
        (false, Src::Imm(v)) => asm!(ops; sub Rq(r), v as i32),
    }
}

impl Compiler<'_> {
    /// `add`, `sub`, `mul` with overflow detection.
    pub(super) fn arith(&mut self, k: usize, op: Op) -> bool {
        let (ja, jb) = (self.nth(1), self.nth(0));
        let check = !mutated!(self.mutation, SkipOverflowCheck);
        if let (Slot::Imm(a), Slot::Imm(b)) = (self.window[ja], self.window[jb]) {
            let r = match op {
                Op::Add => a.checked_add(b),
                Op::Sub => a.checked_sub(b),
                _ => a.checked_mul(b),
            };
            let r = match (r, check) {
                (Some(r), _) => r,
                (None, false) => match op {
                    Op::Add => a.wrapping_add(b),
                    Op::Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                },
                (None, true) => {
                    coverage::hit(Decision::ArithFoldOverflow);
                    self.exit_to_stepper(k, Decision::ExitConstantOverflow);
                    return false;
                }
            };
            coverage::hit(Decision::ArithFold);
            self.window.truncate(self.window.len() - 2);
            self.delta -= 2;
            self.push(Slot::Imm(r));
            return true;
        }
        if self.optimise && check && self.arith_in_place(k, op) {
            return true;
        }
        let r = self.alloc();
        let stub = self.exit_stub(k, coverage::overflow(op));
        let b = self.pop();
        let a = self.pop();
        let ops = &mut self.ops;
        // `add` and `mul` commute: keep a constant as the immediate operand.
        let (a, b) = match (op, a, b) {
            (Op::Add | Op::Mul, Src::Imm(_), b) => {
                coverage::hit(Decision::pick(
                    op == Op::Add,
                    Decision::AddCommuted,
                    Decision::MulCommuted,
                ));
                (b, a)
            }
            other => (other.1, other.2),
        };
        coverage::hit(coverage::arith(op, b.form()));
        coverage::hit_if(matches!(a, Src::Mem(_)), Decision::ArithLeftInMemory);
        coverage::hit_if(matches!(a, Src::Imm(_)), Decision::SubConstantMinuend);
        match (op, b) {
            (Op::Mul, Src::Imm(v)) if fits_i32(v) => match a {
                Src::Reg(ra) => asm!(ops; imul Rq(r), Rq(ra), v as i32),
                Src::Mem(d) => asm!(ops; imul Rq(r), [vsp + d], v as i32),
                Src::Imm(_) => unreachable!("constants were folded"),
            },
            _ => {
                emit_mov(ops, r, a);
                match (op, b) {
                    (Op::Add, Src::Reg(s)) => asm!(ops; add Rq(r), Rq(s)),
                    (Op::Add, Src::Mem(d)) => asm!(ops; add Rq(r), [vsp + d]),
                    (Op::Add, Src::Imm(v)) if fits_i32(v) => asm!(ops; add Rq(r), v as i32),
                    (Op::Sub, Src::Reg(s)) => asm!(ops; sub Rq(r), Rq(s)),
                    (Op::Sub, Src::Mem(d)) => asm!(ops; sub Rq(r), [vsp + d]),
                    (Op::Sub, Src::Imm(v)) if fits_i32(v) => asm!(ops; sub Rq(r), v as i32),
                    (_, Src::Reg(s)) => asm!(ops; imul Rq(r), Rq(s)),
                    (_, Src::Mem(d)) => asm!(ops; imul Rq(r), [vsp + d]),
                    (_, Src::Imm(v)) => {
                        asm!(ops; mov scratch, QWORD v);
                        match op {
                            Op::Add => asm!(ops; add Rq(r), scratch),
                            Op::Sub => asm!(ops; sub Rq(r), scratch),
                            _ => asm!(ops; imul Rq(r), scratch),
                        }
                    }
                }
            }
        }
        if check {
            asm!(ops; jo =>stub);
        }
        self.release(a);
        self.release(b);
        self.push(Slot::Reg(r, false));
        true
    }

    /// The register of window entry `j` when the optimising tier may compute into it in
    /// place: nothing but that entry holds it (no other item, no known heap cell).
    fn sole_register(&self, j: usize) -> Option<u8> {
        match self.window[j] {
            Slot::Reg(r, _)
                if self.optimise
                    && (self.refs[r as usize] == 1
                        || mutated!(self.mutation, InPlaceIgnoresSharing)) =>
            {
                Some(r)
            }
            _ => None,
        }
    }

    /// The optimising tier's `add` and `sub` into the register of an operand that nothing
    /// else holds (for `sub`, the minuend's): `add r, b` with no fresh register and no move.
    /// The invariant of the module still holds at the exit: on overflow the `jo` goes to an
    /// undo (`sub r, b` after `add r, b`, and the reverse), which gives back the operand
    /// exactly (wrapping arithmetic is a group) before the exit stub writes the virtual stack
    /// as it was. `false`, having emitted nothing, where it does not apply (no such register,
    /// or a constant operand needing 64 bits).
    fn arith_in_place(&mut self, k: usize, op: Op) -> bool {
        if !matches!(op, Op::Add | Op::Sub) {
            return false;
        }
        let (ja, jb) = (self.nth(1), self.nth(0));
        let (r, other) = match (self.sole_register(ja), op) {
            (Some(r), _) => (r, jb),
            (None, Op::Add) => match self.sole_register(jb) {
                Some(r) => (r, ja),
                None => return false,
            },
            _ => return false,
        };
        let b = self.src(other);
        if matches!(b, Src::Imm(v) if !fits_i32(v)) {
            return false;
        }
        coverage::hit(Decision::ArithInPlace);
        coverage::hit(coverage::arith(op, b.form()));
        let stub = self.exit_stub(k, coverage::overflow(op));
        let undo = self.ops.new_dynamic_label();
        let (top, second) = (self.pop(), self.pop());
        let is_add = op == Op::Add;
        let ops = &mut self.ops;
        emit_add_or_sub(ops, is_add, r, b);
        asm!(ops; jo =>undo);
        let keep = mutated!(self.mutation, InPlaceKeepsResult);
        // Run right after the `jo`: `vsp` and every register but `r` are as they were.
        self.deferred.push(Box::new(move |ops: &mut Assembler| {
            asm!(ops; =>undo);
            if !keep {
                emit_add_or_sub(ops, !is_add, r, b);
            }
            asm!(ops; jmp =>stub);
        }));
        self.release(top);
        self.release(second);
        self.push(Slot::Reg(r, false));
        true
    }

    /// Floored `div` and `mod`.
    pub(super) fn divide(&mut self, k: usize, op: Op) -> bool {
        if let Some(open) = self.divide_by_constant(k, op) {
            return open;
        }
        if self.optimise && self.divide_by_multiplying(op) {
            return true;
        }
        self.divide_general(k, if op == Op::Div { Want::Quotient } else { Want::Remainder });
        true
    }

    /// `div` and `mod` that a constant divisor decides at compile time: by 0 (the stepper
    /// traps), folded when both operands are constants, and the short sequences for 1, -1
    /// and powers of two. `None` when the general case must run; otherwise whether control
    /// passes the instruction.
    fn divide_by_constant(&mut self, k: usize, op: Op) -> Option<bool> {
        let (ja, jb) = (self.nth(1), self.nth(0));
        let truncate = mutated!(self.mutation, TruncatedDivision);
        let is_div = op == Op::Div;
        match (self.window[ja], self.window[jb]) {
            (_, Slot::Imm(0)) => {
                coverage::hit(Decision::DivideByConstantZero);
                self.exit_to_stepper(k, Decision::ExitConstantDivisionByZero);
                Some(false)
            }
            (Slot::Imm(a), Slot::Imm(b)) => {
                if a == i64::MIN && b == -1 && is_div {
                    coverage::hit(Decision::DivideFoldOverflow);
                    self.exit_to_stepper(k, Decision::ExitConstantOverflow);
                    return Some(false);
                }
                coverage::hit(Decision::pick(
                    !is_div && b == -1,
                    Decision::ModFoldMinusOne,
                    Decision::DivideFold,
                ));
                let r = match (is_div, truncate) {
                    // i64::MIN mod -1 overflows in Rust (and in hardware): the answer is 0.
                    (false, _) if b == -1 => 0,
                    (true, false) => num_integer::Integer::div_floor(&a, &b),
                    (false, false) => num_integer::Integer::mod_floor(&a, &b),
                    (true, true) => a.wrapping_div(b),
                    (false, true) => a.wrapping_rem(b),
                };
                self.window.truncate(self.window.len() - 2);
                self.delta -= 2;
                self.push(Slot::Imm(r));
                Some(true)
            }
            (_, Slot::Imm(1)) => {
                coverage::hit(Decision::pick(is_div, Decision::DivByOne, Decision::ModByOne));
                let b = self.pop();
                self.release(b);
                if !is_div {
                    let a = self.pop();
                    self.release(a);
                    self.push(Slot::Imm(0));
                }
                Some(true)
            }
            (_, Slot::Imm(-1)) if !is_div => {
                coverage::hit(Decision::ModByMinusOne);
                let b = self.pop();
                let a = self.pop();
                self.release(a);
                self.release(b);
                self.push(Slot::Imm(0));
                Some(true)
            }
            (_, Slot::Imm(-1)) => {
                coverage::hit(Decision::DivByMinusOne);
                let r = self.alloc();
                let stub = self.exit_stub(k, Decision::ExitDivByMinusOneOverflow);
                let b = self.pop();
                let a = self.pop();
                let ops = &mut self.ops;
                emit_mov(ops, r, a);
                asm!(ops; neg Rq(r); jo =>stub);
                self.release(a);
                self.release(b);
                self.push(Slot::Reg(r, false));
                Some(true)
            }
            (_, Slot::Imm(p)) if p > 1 && p.count_ones() == 1 && !truncate => {
                let shift = p.trailing_zeros() as i8;
                // In place when nothing else holds the dividend's register (nothing to undo:
                // the shift and the mask cannot fail).
                let r = match self.sole_register(ja) {
                    Some(ra) => {
                        coverage::hit(Decision::DivideInPlace);
                        ra
                    }
                    None => self.alloc(),
                };
                let b = self.pop();
                let a = self.pop();
                let ops = &mut self.ops;
                emit_mov(ops, r, a);
                if is_div {
                    coverage::hit(Decision::DivByPowerOfTwo);
                    asm!(ops; sar Rq(r), shift);
                } else if fits_i32(p - 1) {
                    coverage::hit(Decision::ModByPowerOfTwo);
                    asm!(ops; and Rq(r), (p - 1) as i32);
                } else {
                    coverage::hit(Decision::ModByPowerOfTwoWide);
                    asm!(ops; mov scratch, QWORD p - 1; and Rq(r), scratch);
                }
                self.release(a);
                self.release(b);
                self.push(Slot::Reg(r, false));
                Some(true)
            }
            _ => None,
        }
    }

    /// `div` and `mod` by a divisor known only at run time (or a constant no short sequence
    /// handles): `idiv` with `rax` and `rdx` free and the divisor in another register, a
    /// check for 0 and -1 unless the divisor is a known constant, and the floor correction.
    /// With [`Want::Divisible`] (a fused `mod` then `jz`, `flow.rs`) nothing is pushed: the
    /// flags are left with ZF set exactly when the remainder is 0, for the branch.
    pub(super) fn divide_general(&mut self, k: usize, want: Want) {
        let bare = mutated!(self.mutation, BareIdiv);
        let truncate = mutated!(self.mutation, TruncatedDivision) || bare;
        let unguarded = mutated!(self.mutation, UnguardedDivide) || bare;
        let is_div = want == Want::Quotient;
        let divisible = want == Want::Divisible;
        let jb = self.nth(0);
        let known = match self.window[jb] {
            Slot::Imm(v) => Some(v),
            _ => None,
        };
        let dynamic =
            Decision::pick(is_div, Decision::DivDynamicDivisor, Decision::ModDynamicDivisor);
        let known_divisor =
            Decision::pick(is_div, Decision::DivKnownDivisor, Decision::ModKnownDivisor);
        coverage::hit(Decision::pick(known.is_none(), dynamic, known_divisor));
        self.evict(RAX);
        self.evict(RDX);
        let jb = self.nth(0);
        let divisor = match self.window[jb] {
            Slot::Reg(r, _) => {
                coverage::hit(Decision::DivisorInRegister);
                r
            }
            _ => {
                coverage::hit(Decision::pick(
                    self.window[jb] == Slot::Mem,
                    Decision::DivisorLoaded,
                    Decision::DivisorMaterialised,
                ));
                let r = self.alloc_avoiding(&[RAX, RDX]);
                let src = self.src(jb);
                emit_mov(&mut self.ops, r, src);
                if let Slot::Mem = self.window[jb] {
                    self.window[jb] = Slot::Reg(r, true);
                } else {
                    self.window[jb] = Slot::Reg(r, false);
                }
                self.refs[r as usize] += 1;
                r
            }
        };
        let zero = self.exit_stub(k, Decision::ExitDivisionByZero);
        let stub = self.exit_stub(k, Decision::ExitDivOverflow);
        let b = self.pop();
        let a = self.pop();
        coverage::hit(coverage::dividend(a.form()));
        let ops = &mut self.ops;
        let join = ops.new_dynamic_label();
        // Where the 64-bit path ends: `join`, or for the divisibility test the `test` that
        // sets its flags from the remainder.
        let end = if divisible { ops.new_dynamic_label() } else { join };
        let finish = move |ops: &mut Assembler| {
            if divisible {
                asm!(ops; =>end; test rdx, rdx);
            }
        };
        let guard = known.is_none() && !unguarded;
        // The 64-bit path: the checks for 0 and -1 (unless the divisor is known), `idiv`,
        // and the floor correction; it ends at `join`.
        let wide = move |ops: &mut Assembler| {
            let normal = ops.new_dynamic_label();
            if guard {
                asm!(ops
                    ; test Rq(divisor), Rq(divisor)
                    ; jz =>zero
                    ; cmp Rq(divisor), -1
                    ; jne =>normal
                );
                if is_div {
                    asm!(ops; neg rax; jo =>stub; jmp =>end);
                } else {
                    asm!(ops; xor edx, edx; jmp =>end);
                }
            }
            asm!(ops
                ; =>normal
                ; cqo
                ; idiv Rq(divisor)
            );
            if !truncate {
                // Floor: when the remainder is non-zero and its sign differs from the
                // divisor's.
                asm!(ops
                    ; test rdx, rdx
                    ; jz =>end
                    ; mov scratch, rdx
                    ; xor scratch, Rq(divisor)
                    ; jns =>end
                );
                if is_div {
                    asm!(ops; sub rax, 1);
                } else {
                    asm!(ops; add rdx, Rq(divisor));
                }
            }
        };
        // The optimising tier first tries the short form inline, which needs no check (a
        // divisor of 0 fails its test and finds the check for 0 on the 64-bit path; one
        // known to be outside 1..=2^32 never takes it); the 64-bit path goes out of line
        // and comes back.
        // (`UnguardedDivide` and `BareIdiv` go straight to `idiv`, as documented.)
        if self.optimise && !unguarded && known.is_none_or(|d| (1..=1 << 32).contains(&d)) {
            // The short form reads the dividend where it is (a constant goes to `rax`) and
            // writes only the result; the 64-bit path loads `rax` itself.
            let n = match a {
                Src::Reg(r) => r,
                _ => {
                    emit_mov(ops, RAX, a);
                    RAX
                }
            };
            let long = self.emit_narrow_division(n, divisor, want);
            self.deferred.push(Box::new(move |ops: &mut Assembler| {
                asm!(ops; =>long);
                if n != RAX {
                    emit_mov(ops, RAX, a);
                }
                wide(ops);
                finish(ops);
                asm!(ops; jmp =>join);
            }));
        } else {
            emit_mov(ops, RAX, a);
            wide(&mut self.ops);
            finish(&mut self.ops);
        }
        let ops = &mut self.ops;
        asm!(ops; =>join);
        self.release(a);
        self.release(b);
        if !divisible {
            self.push(Slot::Reg(if is_div { RAX } else { RDX }, false));
        }
    }
}
