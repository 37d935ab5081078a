//! Control flow: a block's entry checks and its end, `jmp`, `jz`/`jn`, `call`, `ret` and
//! `end`.
//!
//! Invariants it keeps (safety model items 2 and 3): a block is entered only through its
//! entry checks (fuel, then `vsp - 8 * needs >= floor` and `vsp + 8 * growth <= cap`, sums
//! that cannot wrap); every way out of a block first flushes the virtual stack, so the next
//! block starts from memory, except a register edge of the optimising tier (`edges.rs`),
//! which writes every item but the target's passed ones and leaves those in its convention
//! registers; `call` writes the call stack only below `cs_cap` and pushes a
//! machine return address only while `rsp >= rsp_floor`; `ret` reads the call stack only
//! above `cs_base` and jumps through the return table only with an index a `call` wrote.

use dynasmrt::x64::Assembler;
use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi, dynasm};

use super::code::Slot;
use super::code::{After, NativeExit};
use super::edges;
use super::entry::Entry;
use super::exits::SideExit;
use super::fastdiv::Want;
use super::vstack::Src;
use super::{Compiler, fits_i32, slot_bytes};
use crate::jit::blocks::{Block, MAX_BLOCK_LEN, Op};
use crate::jit::coverage::{self, Decision};
use crate::jit::mutated;
use crate::jit::runtime::offsets as off;

/// How the previous block's code runs into the next block's (`compile_block`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fall {
    /// It does not: the next block starts with its own entry.
    No,
    /// Into its body past the entry checks (a summarised `call`'s return, nothing passed).
    Inner,
    /// Into its register entry (a side exit passing items).
    RegisterEntry,
}

/// What [`Compiler::compile_unit`] compiles: a block's labels and entry, and the
/// instructions it runs.
struct Unit {
    label: DynamicLabel,
    fail: DynamicLabel,
    inner: Option<DynamicLabel>,
    reg: Option<(DynamicLabel, DynamicLabel)>,
    passed: usize,
    written: u64,
    seq: Vec<usize>,
    inline: Option<(usize, usize)>,
    /// Where it goes on when it runs off its end.
    after: usize,
    /// Whether its inlined call pushes (or pushed) a machine frame (`inline.rs`).
    frame: bool,
}

/// What a `jz`/`jn` branches on.
#[derive(Clone, Copy, Debug)]
enum Cond {
    /// The popped top item.
    Value(Src),
    /// `a - b` for a fused `sub` (`compare_branch`): the minuend in a register, the
    /// subtrahend in a register or an imm32, already compared: the flags of that `cmp` are
    /// what the branch tests. Between the `cmp` and the branch only `mov` and `lea` may be
    /// emitted (the stores and `vsp` move of a flush), which leave the flags alone.
    Compare(u8, Src),
    /// The flags of a divisibility test for a fused `mod` (`remainder_branch`): ZF set
    /// exactly when the remainder is 0; only a `jz` branches on it. The same rule for what
    /// may come between holds.
    Remainder,
}

impl Compiler<'_> {
    /// Compiles native block `index` (`b`, with its trace's shape when it has an inlined
    /// call).
    pub(super) fn compile_block(&mut self, index: usize, b: Block) {
        // The block's instructions go into `seq` in place: no allocation per block.
        let mut seq = std::mem::take(&mut self.seq);
        seq.clear();
        let (inline, after, frame) = match &self.traces[index] {
            Some(t) => {
                seq.extend_from_slice(&t.seq);
                (Some((t.call, t.ret)), t.after, t.frame)
            }
            None => {
                seq.extend(b.start..b.end);
                (None, b.end, false)
            }
        };
        let unit = Unit {
            label: self.block_labels[index].expect("native block"),
            fail: self.fail_labels[index].expect("native block"),
            inner: self.inner_labels[index],
            reg: self.reg_entries[index],
            passed: self.conventions[index],
            written: self.written.at_entry(index),
            seq,
            inline,
            after,
            frame,
        };
        self.compile_unit(index, b, unit);
    }

    /// Compiles clone `ci` of a callee's block (`inline.rs`): entered only from a side exit
    /// inside its trace's inlined callee, through its own checks.
    pub(super) fn compile_clone(&mut self, ci: usize) {
        let clone = &self.clones[ci];
        let mut seq = std::mem::take(&mut self.seq);
        seq.clone_from(&clone.seq);
        let (label, inner, fail) = self.clone_labels[ci];
        let unit = Unit {
            label,
            fail,
            inner: Some(inner),
            reg: None,
            passed: 0,
            written: self.written.at_entry(clone.at),
            seq,
            inline: Some((usize::MAX, clone.ret)),
            after: clone.after,
            frame: clone.frame,
        };
        // No block follows a clone: it falls into nothing, and nothing into it.
        self.falls_to = Fall::No;
        self.compile_unit(self.blocks.list.len(), clone.block, unit);
    }

    /// Compiles one unit of code: a block, a trace or a clone (`index` is the block's, or
    /// one past the last block for a clone).
    fn compile_unit(&mut self, index: usize, b: Block, unit: Unit) {
        self.block = b;
        self.index = index;
        self.window.clear();
        self.delta = 0;
        self.moved = Some(0);
        self.refs = [0; 16];
        self.known_cells.clear();
        self.written_now = unit.written;
        self.seq = unit.seq;
        self.inline = unit.inline;
        self.frame = unit.frame;
        debug_assert_eq!(self.seq.len(), b.len());
        let label = unit.label;
        assert!(b.len() <= MAX_BLOCK_LEN, "a block of {} instructions", b.len());
        let len = b.len() as i32;
        let fail = unit.fail;
        let fail = self.stub_at(fail, 0, After::CheckFailed, Decision::ExitEntryFuel);
        // Entry checks: `vsp - 8 * needs >= floor` and `vsp + 8 * growth <= cap`. Both sums
        // stay inside the address space (`slot_bytes` bounds the reach, `Code::enter` the
        // buffer), so comparing them as addresses is exact (model item 3).
        let (down, up) = (slot_bytes(b.needs), slot_bytes(b.growth));
        coverage::hit_if(b.needs > 0, Decision::BlockChecksNeeds);
        coverage::hit_if(b.growth > 0, Decision::BlockChecksGrowth);
        let checks = move |ops: &mut Assembler| {
            asm!(ops
                ; =>label
                ; sub fuel, len
                ; jb =>fail
            );
            if b.needs > 0 {
                let d = -down;
                asm!(ops
                    ; lea scratch, [vsp + d]
                    ; cmp scratch, [state + off::FLOOR]
                    ; jb =>fail
                );
            }
            if b.growth > 0 {
                let d = up;
                asm!(ops
                    ; lea scratch, [vsp + d]
                    ; cmp scratch, [state + off::CAP]
                    ; ja =>fail
                );
            }
        };
        self.passed = unit.passed;
        let (pass, skip) = (self.passed, mutated!(self.mutation, MemoryEntrySkipsLoad));
        let fall = std::mem::replace(&mut self.falls_to, Fall::No);
        match (unit.inner, unit.reg, fall) {
            // The previous block's summarised call returns straight into the body (`call`),
            // or its last side exit falls into the register entry (below): the block's own
            // entry, for every other way in, goes out of line.
            (Some(inner), _, Fall::Inner) => {
                coverage::hit(Decision::CallReturnFallsIntoBody);
                self.deferred.push(Box::new(move |ops: &mut Assembler| {
                    checks(ops);
                    asm!(ops; jmp =>inner);
                }));
                let ops = &mut self.ops;
                asm!(ops; =>inner);
            }
            (Some(inner), Some((reg_inner, _)), Fall::RegisterEntry) => {
                coverage::hit(Decision::SideExitFallsIntoBody);
                self.deferred.push(Box::new(move |ops: &mut Assembler| {
                    checks(ops);
                    asm!(ops; =>inner);
                    edges::emit_entry_loads(ops, pass, skip);
                    asm!(ops; jmp =>reg_inner);
                }));
            }
            (Some(inner), ..) => {
                checks(&mut self.ops);
                let ops = &mut self.ops;
                asm!(ops; =>inner);
            }
            (None, ..) => checks(&mut self.ops),
        }
        if let Some((reg_inner, reg_fail)) = unit.reg {
            // The memory entry loads the passed items; the register entry finds them there.
            if fall != Fall::RegisterEntry {
                edges::emit_entry_loads(&mut self.ops, pass, skip);
            }
            let ops = &mut self.ops;
            asm!(ops; =>reg_inner);
            self.window = edges::entry_window(self.passed);
            for &slot in &self.window {
                if let Slot::Reg(r, _) = slot {
                    self.refs[r as usize] += 1;
                }
            }
            // A register entry's failed check leaves with the items in their registers.
            self.stub_at(reg_fail, 0, After::CheckFailed, Decision::ExitEntryFuel);
        }
        let mut open = true;
        let mut k = 0;
        let first_side = self.side_exits.len();
        while k < self.seq.len() {
            let op = self.code[self.seq[k]];
            // Between an inlined call and its callee's ret (in a clone, before the ret): a
            // branch there goes to the callee's clone of its target.
            self.in_callee = matches!(self.inline, Some((call, ret)) if call != usize::MAX && call < k && k < ret);
            if let Some((branch, target)) = self.fusable(k, op) {
                open = if op == Op::Mod {
                    self.remainder_branch(k + 1, branch, target)
                } else {
                    self.compare_branch(k + 1, branch, target)
                };
                k += 2;
            } else {
                open = self.compile_op(k, op);
                k += 1;
            }
            if !open {
                break;
            }
            self.trim();
        }
        if open {
            // Fell off the end of the block (or trace): continue at the next instruction.
            let after = unit.after;
            let next = self.label_for_pc(after);
            let adjacent = self.blocks.starting_at.get(after).copied().flatten() == Some(index + 1)
                && self.blocks.list[index + 1].native;
            coverage::hit(Decision::pick(
                adjacent,
                Decision::BlockFallsIntoNext,
                Decision::BlockJumpsToNext,
            ));
            if let entry @ Entry::Checked { .. } = self.leave_to(after, 0) {
                entry.emit_jump(&mut self.ops);
            } else if !adjacent {
                let ops = &mut self.ops;
                asm!(ops; jmp =>next);
            }
        } else if self.optimise {
            self.lay_out_side_exit_into_next(index, first_side);
        }
    }

    /// After a block that does not fall off its end: a side exit of it (from `first_side`
    /// on) into the next block's register entry is laid out here, before that block, whose
    /// own entry then goes out of line (`compile_block`), so the branch's taken path falls
    /// into the body instead of jumping to it: a loop of two blocks (sieve's marking loop)
    /// takes one jump a round fewer.
    fn lay_out_side_exit_into_next(&mut self, index: usize, first_side: usize) {
        let next = index + 1;
        let last = self.seq[self.seq.len() - 1];
        if self.falls_to != Fall::No || matches!(self.code[last], Op::Call(_)) {
            // A `call` at the block's end returns into the code that follows it (the next
            // block, or its body): nothing may be laid out between.
            return;
        }
        let Some(Some((reg_inner, _))) = self.reg_entries.get(next).copied() else { return };
        if !self.blocks.list[next].native {
            return;
        }
        let found = self.side_exits[first_side..].iter().position(|side| {
            matches!(side.target, Entry::Checked { inner, pass, .. } if pass > 0 && inner == reg_inner)
        });
        if let Some(j) = found {
            let side = self.side_exits.remove(first_side + j);
            self.emit_side_exit(side, true);
            self.falls_to = Fall::RegisterEntry;
        }
    }

    /// Leaves the virtual stack for a jump to instruction `pc` and returns how the jump
    /// enters it: the target's passed items moved into its convention registers and the
    /// rest written (a register entry), or everything written (any other).
    /// `refund` is what the jump gives back of its own block (a taken constant branch), which
    /// only the failed floor check's path needs here: the caller refunds on the way in.
    pub(super) fn leave_to(&mut self, pc: usize, refund: i32) -> Entry {
        let entry = self.entry_for(pc, self.moved.map(|m| m + self.delta), true);
        let pass = entry.passes();
        if pass == 0 {
            self.flush();
            return entry;
        }
        self.guard_floor_first(entry, self.window.clone(), self.delta, refund);
        let swap = mutated!(self.mutation, ParallelMoveSwaps);
        edges::emit_transfer(&mut self.ops, &self.window, self.delta, pass, swap);
        self.window.clear();
        self.refs = [0; 16];
        self.known_cells.clear();
        if let Some(moved) = &mut self.moved {
            *moved += self.delta;
        }
        self.delta = 0;
        entry
    }

    /// Ends the block with a jump to instruction `pc`.
    pub(super) fn jump_to(&mut self, pc: usize) {
        let entry = self.leave_to(pc, 0);
        entry.emit_jump(&mut self.ops);
    }

    /// Whether instruction `k` (`op`) is a `sub` whose result only a `jz`/`jn` right after it
    /// in the block reads, with operands not both constants (those fold), or a `mod` by a
    /// divisor known only at run time whose result only a `jz` right after it reads: the
    /// optimising tier then compiles the pair as one compare (or divisibility test) and
    /// branch, returning the branch and its target.
    fn fusable(&self, k: usize, op: Op) -> Option<(Op, usize)> {
        if !self.optimise || !matches!(op, Op::Sub | Op::Mod) || k + 1 >= self.seq.len() {
            return None;
        }
        let next = self.code[self.seq[k + 1]];
        let (Op::Jz(Some(t)) | Op::Jn(Some(t))) = next else { return None };
        let n = self.window.len();
        let constant = |j: Option<usize>| j.is_some_and(|j| matches!(self.window[j], Slot::Imm(_)));
        if op == Op::Mod {
            // A constant divisor has its own sequences (`arith.rs`), which push the remainder.
            return (matches!(next, Op::Jz(_)) && n >= 2 && !constant(n.checked_sub(1)))
                .then_some((next, t));
        }
        if constant(n.checked_sub(1)) && constant(n.checked_sub(2)) {
            return None;
        }
        Some((next, t))
    }

    /// `sub` then `jz`/`jn` (the branch is instruction `k`, to `target`): `a - b` is 0 exactly when
    /// `a == b` and negative exactly when `a < b` as signed integers, whatever the
    /// difference would overflow to, so a `cmp a, b` decides the branch without computing
    /// the difference (which nothing else reads). A difference past i64 is still a big
    /// value, which the limits may refuse (`memory-overflow` under a tight `big-words`): as
    /// for a plain `sub`, the overflow flag of that `cmp` sends the pair to the stepper at
    /// the `sub`, with both operands in place.
    fn compare_branch(&mut self, k: usize, op: Op, target: usize) -> bool {
        coverage::hit(Decision::BranchFusedCompare);
        let (ja, jb) = (self.nth(1), self.nth(0));
        let a = self.in_reg(ja);
        let b = match self.window[jb] {
            Slot::Imm(v) if fits_i32(v) => Src::Imm(v),
            _ => Src::Reg(self.in_reg_avoiding(jb, &[a])),
        };
        let overflow = self.exit_stub(k - 1, Decision::ExitFusedCompareOverflow);
        let ops = &mut self.ops;
        match b {
            Src::Reg(b) => asm!(ops; cmp Rq(a), Rq(b)),
            Src::Imm(b) => asm!(ops; cmp Rq(a), b as i32),
            Src::Mem(_) => unreachable!("the subtrahend is in a register"),
        }
        if !mutated!(self.mutation, SkipOverflowCheck) {
            asm!(ops; jo =>overflow);
        }
        let b = {
            let popped = self.pop();
            debug_assert!(
                matches!((popped, b), (Src::Reg(x), Src::Reg(y)) if x == y)
                    || matches!(b, Src::Imm(_))
            );
            popped
        };
        let a = match self.pop() {
            Src::Reg(r) => r,
            other => unreachable!("the minuend was put in a register, not {other:?}"),
        };
        self.branch_on(k, op, target, Cond::Compare(a, b))
    }

    /// `mod` then `jz` (the branch is instruction `k`, to `target`), the divisor known only at
    /// run time: the division leaves the flags of a divisibility test instead of the
    /// remainder, which nothing else reads (`arith.rs`, `Want::Divisible`); its exits are
    /// the `mod`'s, with both operands in place.
    fn remainder_branch(&mut self, k: usize, op: Op, target: usize) -> bool {
        coverage::hit(Decision::BranchFusedRemainder);
        self.divide_general(k - 1, Want::Divisible);
        self.branch_on(k, op, target, Cond::Remainder)
    }

    /// `jz` and `jn` (to a defined label).
    pub(super) fn branch(&mut self, k: usize, op: Op, target: usize) -> bool {
        let cond = self.pop();
        self.branch_on(k, op, target, Cond::Value(cond))
    }

    /// A `jz`/`jn` at instruction `k` on `cond`, popped already.
    fn branch_on(&mut self, k: usize, op: Op, target: usize, cond: Cond) -> bool {
        let last = k + 1 == self.seq.len();
        let is_jz = matches!(op, Op::Jz(_));
        let takes_zero = mutated!(self.mutation, JnTakesZero);
        if let Cond::Value(Src::Imm(v)) = cond {
            let taken = if is_jz { v == 0 } else { v < 0 || (takes_zero && v == 0) };
            coverage::hit(Decision::pick(
                taken,
                Decision::BranchConstantTaken,
                Decision::BranchConstantNotTaken,
            ));
            if taken {
                let refund = (self.seq.len() - k - 1) as i32;
                let entry = self.leave_to(target, refund);
                entry.emit_entering(&mut self.ops, refund, false);
                return false;
            }
            return true;
        }
        coverage::hit(Decision::pick(last, Decision::BranchEndsBlock, Decision::BranchSideExit));
        coverage::hit_if(matches!(cond, Cond::Value(Src::Mem(_))), Decision::BranchOnMemory);
        let mut cond = cond;
        let entry = self.entry_for(target, self.moved.map(|m| m + self.delta), true);
        let dest = if last && entry.passes() == 0 {
            // The not-taken path flushes too: flush first and branch straight to the target.
            let moved = self.delta * 8;
            self.flush();
            if let Cond::Value(Src::Mem(d)) = cond {
                cond = Cond::Value(Src::Mem(d - moved));
            }
            self.entry_label(entry)
        } else {
            // A side exit (for a last branch passing registers, with nothing to refund: the
            // not-taken path leaves through the block's end).
            let label = self.ops.new_dynamic_label();
            let target = entry;
            self.side_exits.push(SideExit {
                label,
                window: self.window.clone(),
                delta: self.delta,
                refund: (self.seq.len() - k - 1) as u32,
                target,
            });
            label
        };
        let ops = &mut self.ops;
        match cond {
            Cond::Value(Src::Reg(r)) => asm!(ops; test Rq(r), Rq(r)),
            Cond::Value(Src::Mem(d)) => asm!(ops; cmp QWORD [vsp + d], 0),
            Cond::Value(Src::Imm(_)) => unreachable!("constant conditions were decided"),
            // The flags of `compare_branch`'s `cmp` (its `jo` leaves them as they are), or of
            // the divisibility test.
            Cond::Compare(..) | Cond::Remainder => {}
        }
        if let Cond::Remainder = cond {
            debug_assert!(is_jz, "only jz fuses with mod");
            asm!(ops; je =>dest);
        } else if let Cond::Compare(..) = cond {
            // `a - b < 0` is `a < b` (signed), `a - b <= 0` (`JnTakesZero`) `a <= b`.
            let reversed = mutated!(self.mutation, FusedCompareReversed);
            let unsigned = mutated!(self.mutation, FusedCompareUnsigned);
            match (is_jz, takes_zero, reversed, unsigned) {
                (true, ..) => asm!(ops; je =>dest),
                (false, _, true, _) => asm!(ops; jg =>dest),
                (false, false, false, true) => asm!(ops; jb =>dest),
                (false, true, false, true) => asm!(ops; jbe =>dest),
                (false, false, false, false) => asm!(ops; jl =>dest),
                (false, true, false, false) => asm!(ops; jle =>dest),
            }
        } else {
            match (is_jz, takes_zero) {
                (true, _) => asm!(ops; jz =>dest),
                (false, false) => asm!(ops; js =>dest),
                (false, true) => asm!(ops; jle =>dest),
            }
        }
        match cond {
            Cond::Value(src) => self.release(src),
            Cond::Compare(a, b) => {
                self.release(Src::Reg(a));
                self.release(b);
            }
            Cond::Remainder => {}
        }
        true
    }

    /// `call` (to a defined label): pushes the return index and calls the target natively, when
    /// the call stack and the machine stack have room; otherwise the stepper makes the call.
    pub(super) fn call(&mut self, k: usize, target: usize) {
        coverage::hit(Decision::CallNative);
        let pc = self.seq[k];
        self.flush();
        let fail = self.exit_stub(k, Decision::ExitCallStackFull);
        let deep = self.exit_stub(k, Decision::ExitCallMachineStack);
        let entry = self.entry_for(target, self.moved, false);
        let back = self.label_for_pc(pc + 1);
        let ops = &mut self.ops;
        asm!(ops
            ; cmp csp, [state + off::CS_CAP]
            ; jae =>fail
            ; cmp rsp, [state + off::RSP_FLOOR]
            ; jb =>deep
        );
        emit_return_index(ops, pc + 1);
        asm!(ops
            ; add csp, 8
            ; sub rsp, 8
        );
        entry.emit_call(ops);
        asm!(ops; add rsp, 8);
        // A native return from a function with a summary (`returns.rs`) changed the depth by
        // its effect: the return point is entered like a jump, its checks skipped where the
        // caller's imply them.
        if let (Some(&effect), Some(m), true) =
            (self.summaries.get(&target), self.moved, self.optimise)
            && let Ok(effect) = i32::try_from(effect)
            && let Some(after) = m.checked_add(effect)
        {
            self.moved = Some(after);
            let entry = self.leave_to(pc + 1, 0);
            if let entry @ Entry::Checked { .. } = entry {
                coverage::hit(Decision::CallReturnSummarised);
                let entry = if mutated!(self.mutation, NativeReturnSkipsFuel) {
                    entry.without_fuel()
                } else {
                    entry
                };
                // Into the next block's body, laid out right here (`compile_block`), when
                // nothing is passed in registers: a taken jump after every return cost more
                // than the checks it skipped.
                let next = self.blocks.starting_at.get(pc + 1).copied().flatten();
                if next == Some(self.index + 1) && entry.passes() == 0 {
                    entry.emit_entering(&mut self.ops, 0, true);
                    self.falls_to = Fall::Inner;
                } else {
                    entry.emit_jump(&mut self.ops);
                }
                return;
            }
            self.moved = Some(m);
        }
        // The return point's block is the next one emitted (the optimising tier falls into
        // it; `call` always ends its block, so the return point starts the next one).
        let next = self.blocks.starting_at.get(pc + 1).copied().flatten();
        let after = self.index + 1 + usize::from(mutated!(self.mutation, CallFallsPastStepper));
        let adjacent =
            next == Some(self.index + 1) && self.blocks.list.get(after).is_some_and(|b| b.native);
        coverage::hit_if(self.optimise && adjacent, Decision::CallReturnFallsThrough);
        if !(self.optimise && adjacent) {
            let ops = &mut self.ops;
            asm!(ops; jmp =>back);
        }
    }

    /// An inlined `call` (`inline.rs`): the call-stack check of a native `call`, the return
    /// index on the call stack, and no flush: the callee's instructions follow in the same
    /// block. Where the trace (or a clone) ends at a debugging cut inside the callee, also a
    /// machine frame whose return address is a landing pad, after the machine-stack check:
    /// the callee's own `ret` lands there, and the pad drops the padding and enters the
    /// return point as after a native return, past the checks the trace's imply when the
    /// callee has a summary.
    pub(super) fn inline_call(&mut self, k: usize, target: usize) {
        coverage::hit(Decision::CallInlined);
        let pc = self.seq[k];
        let fail = self.exit_stub(k, Decision::ExitCallStackFull);
        let frame = self.frame.then(|| self.exit_stub(k, Decision::ExitCallMachineStack));
        let ops = &mut self.ops;
        asm!(ops
            ; cmp csp, [state + off::CS_CAP]
            ; jae =>fail
        );
        let Some(deep) = frame else {
            emit_return_index(ops, pc + 1);
            asm!(ops; add csp, 8);
            return;
        };
        asm!(ops
            ; cmp rsp, [state + off::RSP_FLOOR]
            ; jb =>deep
        );
        emit_return_index(ops, pc + 1);
        let pad = ops.new_dynamic_label();
        asm!(ops
            ; add csp, 8
            ; lea scratch, [=>pad]
            ; sub rsp, 16
            ; mov [rsp], scratch
        );
        // The depth at the pad: as at the call, in memory, plus the callee's effect.
        let after = match (self.summaries.get(&target), self.moved) {
            (Some(&effect), Some(m)) => {
                i32::try_from(effect).ok().and_then(|e| (m + self.delta).checked_add(e))
            }
            _ => None,
        };
        let back = match after {
            Some(after) => self.entry_for(pc + 1, Some(after), false),
            None => Entry::Full(self.label_for_pc(pc + 1)),
        };
        let back =
            if mutated!(self.mutation, NativeReturnSkipsFuel) { back.without_fuel() } else { back };
        self.deferred.push(Box::new(move |ops: &mut Assembler| {
            asm!(ops
                ; =>pad
                ; add rsp, 8
            );
            back.emit_jump(ops);
        }));
    }

    /// The callee's `ret` of an inlined call, in its trace or a clone: the call-stack entry
    /// (and machine frame) its `call` pushed are popped (no call or exit came between), and
    /// the return point's instructions follow.
    pub(super) fn inline_ret(&mut self) {
        let ops = &mut self.ops;
        if !mutated!(self.mutation, InlinedRetKeepsEntry) {
            asm!(ops; sub csp, 8);
        }
        if self.frame {
            asm!(ops; add rsp, 16);
        }
    }

    /// `ret`: into the native `call` pending on the machine stack, or through the return table
    /// when there is none (the call was made by the stepper or before entry).
    ///
    /// A native frame on the machine stack (`rsp` below its base) implies a call-stack entry:
    /// every native `call` pushes both, and every exit from compiled code drops every native
    /// frame (the driver re-enters at the base). So only the table path, out of line, checks
    /// for an empty call stack; the native path is a compare, a pop and a `ret`.
    pub(super) fn ret(&mut self, k: usize) {
        coverage::hit(Decision::Ret);
        self.flush();
        let fail = self.exit_stub(k, Decision::ExitRetEmpty);
        let keep = mutated!(self.mutation, RetNativeKeepsEntry);
        let ops = &mut self.ops;
        let table = ops.new_dynamic_label();
        asm!(ops
            ; cmp rsp, [state + off::RSP_BASE]
            ; je =>table
        );
        if !keep {
            asm!(ops; sub csp, 8);
        }
        asm!(ops; ret);
        self.deferred.push(Box::new(move |ops: &mut Assembler| {
            asm!(ops
                ; =>table
                ; cmp csp, [state + off::CS_BASE]
                ; je =>fail
                ; sub csp, 8
                ; mov scratch, [csp]
                ; mov rax, [state + off::TABLE]
                ; jmp QWORD [rax + scratch * 8]
            );
        }));
    }

    /// `end`: leaves compiled code with `NativeExit::Ended`.
    pub(super) fn end(&mut self) {
        coverage::hit(Decision::End);
        self.flush();
        let exit = self.exit;
        let ops = &mut self.ops;
        asm!(ops
            ; mov eax, NativeExit::Ended as i32
            ; jmp =>exit
        );
    }
}

/// Writes return index `back` at the top of the call stack, which `ret` uses to index the
/// return table: whole, even past i32 (a sign-extended imm32 would turn it into a wild index).
fn emit_return_index(ops: &mut Assembler, back: usize) {
    let back = back as i64;
    coverage::hit_if(!fits_i32(back), Decision::CallIndexWide);
    if fits_i32(back) {
        asm!(ops; mov QWORD [csp], back as i32);
    } else {
        asm!(ops; mov scratch, QWORD back; mov [csp], scratch);
    }
}
