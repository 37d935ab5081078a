//! The optimising tier's register edges: the top stack items a block takes in fixed registers
//! (its *entry convention*), and the parallel move that puts them there at a jump.
//!
//! A native block with `pass > 0` (at most [`MAX_PASS`], never more than its `needs`)
//! begins its body with its top `pass` items in `PASSED[0..pass]`, the deepest first, as
//! *dirty* registers: their memory slots may be stale, so the body's virtual stack starts
//! with them as `Slot::Reg(r, false)` and every flush, spill, exit descriptor and side exit
//! writes them like any other item it computed. The block has two ways in:
//! - its *memory entry* (its label: the driver, the stepper after an exit, the trampoline, a
//!   return point, a `call`, and every jump that cannot pass registers), which makes the
//!   block's own checks and then loads the items from their slots (within `needs`, so
//!   checked) into the convention registers;
//! - its *register entry*, for a jump, branch or fall-through with a depth change known at
//!   compile time (`entry.rs`): the jumping block checks the target's floor if its own
//!   checked reach does not cover it (failing, it writes everything and takes the memory
//!   entry), stores its other cached items, moves the top `pass` items into the convention
//!   registers ([`emit_transfer`]: sources may be registers, constants or slots within the
//!   checked reach), moves `vsp`, and makes the target's remaining checks (fuel, and capacity unless
//!   implied). Those fail to the target's *register-entry stub*, whose exit descriptor names
//!   the convention registers as the dirty top items, so out-of-fuel and a capacity
//!   shortfall leave the exact state.
//!
//! The depth checks are exactly those of the baseline: the slots of passed items are reserved
//! and within every check, just not written. Invariants: a parallel move reads every source
//! before it writes the destination that source occupies (a cycle goes through `scratch`);
//! memory sources are read before `vsp` moves, at slots within the jumping block's checked
//! reach or, past it, within the target's floor, checked before the first of them is read.

use dynasmrt::x64::Assembler;
use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi, dynasm};

use super::code::Slot;
use super::vstack::{Src, emit_mov, emit_store_slot};
use crate::jit::Planted;
use crate::jit::blocks::{self, Block, Blocks, Op};
use crate::jit::coverage::{self, Decision};
use crate::jit::runtime::offsets as off;

/// The most top items a block takes in registers.
pub(super) const MAX_PASS: usize = 3;

/// The convention registers, deepest passed item first (`rcx`, `rsi`, `rdi`: the first of
/// the cache's allocation order, so the body's own values go elsewhere).
pub(super) const PASSED: [u8; MAX_PASS] = [1, 6, 7];

/// `r11`, the scratch register (never cached).
const SCRATCH: u8 = 11;

/// The entry convention of every block: how many of its top items arrive in registers.
///
/// A block takes `min(needs, MAX_PASS)` items, but no more than it changes ([`changed`],
/// at least one) unless it is its own loop, when some native block has an edge into it
/// (a `jmp`, `jz`/`jn` or its fall-through) with a depth change known at compile time: the
/// jump then passes them, checking the target's floor first where the jumping block's reach
/// does not imply it (`entry.rs`). A block reached only otherwise (by `call`, `ret`, the
/// driver) takes none: its memory entry would load items for nothing.
pub(super) fn conventions(code: &[Op], blocks: &Blocks, mutation: Planted) -> Vec<usize> {
    let mut passes = vec![0; blocks.list.len()];
    // Per block, once: how many of its entry items it changes (for every edge into it).
    let mut changes: Vec<Option<usize>> = vec![None; blocks.list.len()];
    let mut mark = |target: usize, from: usize| {
        if let Some(Some(i)) = blocks.starting_at.get(target).copied() {
            let t = blocks.list[i];
            if t.native && t.needs > 0 {
                // Along its own back edge a block's items stay where they are, clean or not.
                let most = if i == from {
                    MAX_PASS
                } else {
                    *changes[i].get_or_insert_with(|| changed(code, t, mutation).max(1))
                };
                passes[i] = passes[i].max(t.needs.min(MAX_PASS).min(most));
            }
        }
    };
    for (from, b) in blocks.list.iter().enumerate().filter(|(_, b)| b.native) {
        let mut open = true;
        for &op in &code[b.start..b.end] {
            if blocks::dynamic_slide(op) {
                // The depth change is known only at run time: no further edge can pass.
                open = false;
                break;
            }
            match op {
                Op::Jz(Some(t)) | Op::Jn(Some(t)) | Op::Jmp(Some(t)) => mark(t, from),
                _ => {}
            }
            if matches!(op, Op::Jmp(_) | Op::Call(_) | Op::Ret | Op::End) {
                open = false;
                break;
            }
        }
        if open {
            mark(b.end, from);
        }
    }
    passes
}

/// How many of the items on the stack at the entry of block `b` its instructions pop or
/// overwrite (`dup` and `copy` only read): a deeper item that the block reads stays as it
/// was, clean in its slot, and is better left there than passed, since a passed item is
/// dirty (written again at the next edge that does not pass it).
fn changed(code: &[Op], b: Block, mutation: Planted) -> usize {
    let mut depth = 0isize;
    let mut most = 0isize;
    for &op in &code[b.start..b.end] {
        if blocks::dynamic_slide(op) {
            break;
        }
        let (needs, growth) = blocks::stack_effect(op, mutation);
        let reach = if matches!(op, Op::Dup | Op::Copy(_)) { 0 } else { needs as isize };
        most = most.max(reach - depth);
        depth += growth;
    }
    most.max(0) as usize
}

/// Loads the block's top `pass` items from their slots into the convention registers (the
/// memory entry, after the block's own checks). `skip_deepest` is the
/// `MemoryEntrySkipsLoad` mutation: the deepest is not loaded, its register cleared instead
/// (so that what the body then sees does not depend on what ran before).
pub(super) fn emit_entry_loads(ops: &mut Assembler, pass: usize, skip_deepest: bool) {
    coverage::hit_if(pass > 0, Decision::EntryLoadsPassed);
    for (i, &r) in PASSED.iter().enumerate().take(pass) {
        if i == 0 && skip_deepest {
            asm!(ops; xor Rd(r), Rd(r));
            continue;
        }
        let d = (i as i32 - pass as i32) * 8;
        asm!(ops; mov Rq(r), [vsp + d]);
    }
}

/// The virtual stack a register-entered block starts with.
pub(super) fn entry_window(pass: usize) -> Vec<Slot> {
    PASSED[..pass].iter().map(|&r| Slot::Reg(r, false)).collect()
}

/// Leaves a virtual stack (`window`, its top at `delta`) along an edge into a block taking
/// `pass` items in registers: writes every cached item below the top `pass`, moves those into
/// the convention registers, and moves `vsp` to the virtual top. `swap` is the
/// `ParallelMoveSwaps` mutation (the two deepest destinations exchanged).
pub(super) fn emit_transfer(
    ops: &mut Assembler,
    window: &[Slot],
    delta: i32,
    pass: usize,
    swap: bool,
) {
    assert!((1..=MAX_PASS).contains(&pass), "a register edge passing {pass} items");
    coverage::hit(Decision::EntryRegisters);
    let base = delta - window.len() as i32;
    let first = delta - pass as i32;
    for (j, &slot) in window.iter().enumerate() {
        let pos = base + j as i32;
        if pos < first {
            emit_store_slot(ops, pos, slot);
        }
    }
    let mut moves: Vec<(u8, Src)> = (0..pass)
        .map(|i| {
            let pos = first + i as i32;
            let src = match usize::try_from(pos - base).ok().map(|j| window[j]) {
                Some(Slot::Reg(r, _)) => Src::Reg(r),
                Some(Slot::Imm(v)) => Src::Imm(v),
                Some(Slot::Mem) | None => Src::Mem(pos * 8),
            };
            (PASSED[i], src)
        })
        .collect();
    if swap && pass >= 2 {
        let (a, b) = (moves[0].0, moves[1].0);
        moves[0].0 = b;
        moves[1].0 = a;
    }
    emit_parallel_move(ops, &moves);
    if delta != 0 {
        let d = delta * 8;
        asm!(ops; lea vsp, [vsp + d]);
    }
}

/// The floor check of a register edge into a target that takes `8 * needs = down` bytes
/// (`Entry::floor_first`), made before the transfer of `window` (its top at `delta`) reads
/// any slot: `vsp + 8 * delta - down >= floor`, with `fail` where it is not.
pub(super) fn emit_floor_first(ops: &mut Assembler, delta: i32, down: i32, fail: DynamicLabel) {
    let d = delta * 8 - down;
    asm!(ops
        ; lea scratch, [vsp + d]
        ; cmp scratch, [state + off::FLOOR]
        ; jb =>fail
    );
}

/// Writes every cached item of `window` (its top at `delta`) and moves `vsp` to the virtual
/// top.
pub(super) fn emit_write_window(ops: &mut Assembler, window: &[Slot], delta: i32) {
    let base = delta - window.len() as i32;
    for (j, &slot) in window.iter().enumerate() {
        emit_store_slot(ops, base + j as i32, slot);
    }
    if delta != 0 {
        let d = delta * 8;
        asm!(ops; lea vsp, [vsp + d]);
    }
}

/// Where [`emit_floor_first`] fails: writes every cached item of `window` (its top at
/// `delta`), moves `vsp` to the virtual top, refunds `refund` instructions and jumps to the
/// target's first instruction (`full`), whose own checks then fail exactly as a memory
/// entry's would. `keep` is the `FloorFirstKeepsRegisters` mutation: nothing is written.
pub(super) fn emit_floor_failed(
    ops: &mut Assembler,
    window: &[Slot],
    delta: i32,
    refund: i32,
    full: DynamicLabel,
    keep: bool,
) {
    emit_write_window(ops, if keep { &[] } else { window }, delta);
    if refund != 0 {
        asm!(ops; add fuel, refund);
    }
    asm!(ops; jmp =>full);
}

/// Makes every destination hold its source, as if all were read at once: register moves in
/// an order that reads each register before it is overwritten (a cycle broken through
/// `scratch`), then constants and slots, whose destinations no register move reads any more.
fn emit_parallel_move(ops: &mut Assembler, moves: &[(u8, Src)]) {
    let mut regs: Vec<(u8, u8)> = moves
        .iter()
        .filter_map(|&(d, s)| match s {
            Src::Reg(r) if r != d => Some((d, r)),
            _ => None,
        })
        .collect();
    while !regs.is_empty() {
        if let Some(i) = regs.iter().position(|&(d, _)| regs.iter().all(|&(_, s)| s != d)) {
            let (d, s) = regs.remove(i);
            asm!(ops; mov Rq(d), Rq(s));
        } else {
            // Only cycles are left: keep one destination's old value in scratch.
            coverage::hit(Decision::ParallelMoveCycle);
            let d = regs[0].0;
            asm!(ops; mov Rq(SCRATCH), Rq(d));
            for m in &mut regs {
                if m.1 == d {
                    m.1 = SCRATCH;
                }
            }
        }
    }
    for &(d, s) in moves {
        if !matches!(s, Src::Reg(_)) {
            emit_mov(ops, d, s);
        }
    }
}
