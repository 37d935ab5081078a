//! The optimising tier's block entries: a direct jump from one native block to another skips
//! the target's stack-depth checks when the jumping block's own checks already imply them.
//!
//! Every native block `B` starts with its fuel check and then its two depth checks
//! (`vsp - 8 * needs >= floor`, `vsp + 8 * growth <= cap`; `flow.rs`), followed by its
//! *inner entry*, where the body starts. `floor` and `cap` do not change while compiled code
//! runs (only the driver publishes them, before entry), so at a jump from block `A` whose
//! `vsp` has moved `m` slots since `A`'s entry (`E_B = E_A + 8 m`), `A`'s checked (or
//! inherited) facts `E_A - 8 needs_A >= floor` and `E_A + 8 growth_A <= cap` give `B`'s
//! whenever `needs_B <= needs_A + m` (the floor check) and `m + growth_B <= growth_A` (the
//! capacity check). Such a jump makes the checks not implied and charges `B`'s fuel exactly
//! as `B`'s own entry does (`sub fuel, len; jb` to `B`'s check-failed stub, the
//! same stub, so a failed check leaves with the same state) and goes to the inner entry. By
//! induction every inner entry is reached with `B`'s facts true, which is what the safety
//! model (item 3, *value-stack slots*) asks of a block's body.
//!
//! A native `call` enters its target the same way (`Entry::emit_call`); a `ret` does not:
//! the depth after a return depends on the callee.
//!
//! Where `m` is unknown (after a dynamic `slide`) or neither fact follows, the jump goes to
//! the block's first instruction, through every check, as in the baseline.
//!
//! A checked jump may also pass the target's top items in registers (`edges.rs`): it then
//! enters at the target's *register entry*, past the loads of those items, and its failed
//! checks go to the target's register-entry stub, whose exit descriptor names the items in
//! their registers. When the target's floor check is not implied, the jump makes it first,
//! before the transfer reads any slot (`edges::emit_floor_first`); failing, it writes its
//! items and enters the target through every check, which then fail as they would have. A taken `jz`/`jn` folds the refund of its
//! own block's remaining instructions into the target's fuel charge
//! ([`Entry::emit_entering`]).

use dynasmrt::x64::Assembler;
use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi, dynasm};

use super::{Compiler, slot_bytes};
use crate::jit::blocks::Block;
use crate::jit::coverage::{self, Decision};
use crate::jit::mutated;
use crate::jit::runtime::offsets as off;

/// Where a jump enters a block.
#[derive(Clone, Copy, Debug)]
pub(super) enum Entry {
    /// Through every entry check (the block's label, or an exit to the stepper).
    Full(DynamicLabel),
    /// The fuel check and the depth checks not implied, then the inner entry.
    Checked {
        /// Fuel to charge: the block's length.
        len: i32,
        /// `8 * needs` of the block, when its floor check is not implied.
        floor: Option<i32>,
        /// `8 * growth` of the block, when its capacity check is not implied.
        cap: Option<i32>,
        /// The block's check-failed stub.
        fail: DynamicLabel,
        /// Where the block's body starts.
        inner: DynamicLabel,
        /// The `CheckedEntrySkipsFuel` mutation: charge nothing.
        skip_fuel: bool,
        /// The `RefundFoldKeepsCharge` mutation: fold no refund into the charge.
        keep_charge: bool,
        /// Top items the jump passes in the target's convention registers (`edges.rs`); when
        /// not 0, `fail` and `inner` are the target's register-entry stub and entry.
        pass: usize,
        /// For a register edge whose floor check is not implied: `8 * needs` of the block
        /// and its first instruction (through every check). The transfer reads the target's
        /// top items, so the jump checks the target's floor first
        /// (`edges::emit_floor_first`) and on failure writes its items and goes to the first
        /// instruction instead; `floor` is then `None`.
        floor_first: Option<(i32, DynamicLabel)>,
    },
}

impl Entry {
    /// Top items the jump passes in registers (0 for a memory entry).
    pub(super) fn passes(self) -> usize {
        match self {
            Entry::Full(_) => 0,
            Entry::Checked { pass, .. } => pass,
        }
    }

    /// The same entry, charging no fuel (the `NativeReturnSkipsFuel` mutation).
    pub(super) fn without_fuel(mut self) -> Entry {
        if let Entry::Checked { skip_fuel, .. } = &mut self {
            *skip_fuel = true;
        }
        self
    }

    /// The floor check a register edge makes before its transfer, and the target's first
    /// instruction, where the jump goes when it fails (see `floor_first`).
    pub(super) fn floor_first(self) -> Option<(i32, DynamicLabel)> {
        match self {
            Entry::Checked { floor_first, .. } => floor_first,
            Entry::Full(_) => None,
        }
    }

    /// A native `call` into the block (the return index already on the call stack). A
    /// checked entry makes its fuel check first: should it fail, the call has happened (the
    /// call stack holds it) and the stepper starts at the target, exactly as when the target's
    /// own entry check fails after a `call` to its first instruction; the machine stack is
    /// reset on the way out.
    pub(super) fn emit_call(self, ops: &mut Assembler) {
        match self {
            Entry::Full(label) => asm!(ops; call =>label),
            Entry::Checked { inner, .. } => {
                self.emit_checks(ops);
                asm!(ops; call =>inner);
            }
        }
    }

    /// The jump (and for a checked entry, its checks) at the end of a block.
    pub(super) fn emit_jump(self, ops: &mut Assembler) {
        self.emit_entering(ops, 0, false);
    }

    /// The jump into the entry that first refunds `refund` instructions of its own block (a
    /// taken `jz`/`jn`), or with `fall` (a checked entry only) the same checks and no jump:
    /// the target's body is laid out next. A checked entry folds the refund into its fuel
    /// charge when the charge is at least as large: `sub fuel, len - refund` borrows exactly
    /// when `fuel + refund < len` (`fuel + refund` cannot wrap: both are below a slice), and
    /// the check-failed stub then gives back `len`, leaving `fuel + refund`, as refunding and
    /// then charging would.
    pub(super) fn emit_entering(self, ops: &mut Assembler, refund: i32, fall: bool) {
        let Entry::Checked { len, skip_fuel, keep_charge, inner, .. } = self else {
            assert!(!fall, "only a checked entry falls into its target's body");
            if refund != 0 {
                asm!(ops; add fuel, refund);
            }
            let Entry::Full(label) = self else { unreachable!() };
            asm!(ops; jmp =>label);
            return;
        };
        let charge = if !skip_fuel && refund > 0 && len >= refund {
            coverage::hit(Decision::EntryFoldsRefund);
            if keep_charge { len } else { len - refund }
        } else {
            if refund != 0 {
                asm!(ops; add fuel, refund);
            }
            len
        };
        self.emit_checks_charging(ops, charge);
        if !fall {
            asm!(ops; jmp =>inner);
        }
    }

    /// The checks a checked entry still makes, in the block's own order (fuel, floor, cap),
    /// each failing to the block's check-failed stub.
    fn emit_checks(self, ops: &mut Assembler) {
        if let Entry::Checked { len, .. } = self {
            self.emit_checks_charging(ops, len);
        }
    }

    /// [`Entry::emit_checks`], charging `charge` instructions.
    fn emit_checks_charging(self, ops: &mut Assembler, charge: i32) {
        let Entry::Checked { floor, cap, fail, skip_fuel, .. } = self else { return };
        if !skip_fuel {
            asm!(ops; sub fuel, charge; jb =>fail);
        }
        if let Some(down) = floor {
            let d = -down;
            asm!(ops
                ; lea scratch, [vsp + d]
                ; cmp scratch, [state + off::FLOOR]
                ; jb =>fail
            );
        }
        if let Some(up) = cap {
            asm!(ops
                ; lea scratch, [vsp + up]
                ; cmp scratch, [state + off::CAP]
                ; ja =>fail
            );
        }
    }
}

impl Compiler<'_> {
    /// How a jump from the current block enters the code for instruction `pc`, with `vsp`
    /// moved `moved` slots from the block's entry (`None`: not known at compile time).
    /// With `registers`, the jump may pass the target's top items in its convention
    /// registers (`edges.rs`), which it does when the target takes some; where the target's
    /// floor check is not implied, the jump checks it before the transfer reads any slot
    /// (`floor_first`).
    pub(super) fn entry_for(&mut self, pc: usize, moved: Option<i32>, registers: bool) -> Entry {
        if self.in_callee
            && !mutated!(self.mutation, InlinedBranchSkipsClone)
            && let Some(trace) = self.traces.get(self.index).and_then(Option::as_ref)
            && let Some(&(_, ci)) = trace.clones.iter().find(|&&(t, _)| t == pc)
        {
            return self.clone_entry(ci, moved);
        }
        let first = self.label_for_pc(pc);
        let full = Entry::Full(first);
        let (true, Some(m)) = (self.optimise, moved) else { return full };
        let Some(Some(i)) = self.blocks.starting_at.get(pc).copied() else { return full };
        let (Some(inner), Some(fail)) = (self.inner_labels[i], self.fail_labels[i]) else {
            return full;
        };
        let target = self.blocks.list[i];
        let (floor_implied, cap_implied) = self.implied(target, m);
        // `reg_entries` has an entry exactly where `conventions` passes items.
        let passing = registers && self.reg_entries[i].is_some();
        if !floor_implied && !cap_implied && !passing {
            return full;
        }
        let len = i32::try_from(target.len()).expect("blocks are at most MAX_BLOCK_LEN long");
        coverage::hit(Decision::EntryChecked);
        coverage::hit_if(floor_implied, Decision::EntrySkipsFloor);
        coverage::hit_if(cap_implied, Decision::EntrySkipsCapacity);
        let skip_fuel = mutated!(self.mutation, CheckedEntrySkipsFuel);
        let keep_charge = mutated!(self.mutation, RefundFoldKeepsCharge);
        let (pass, inner, fail) = match self.reg_entries[i] {
            Some((reg_inner, reg_fail)) if passing => (self.conventions[i], reg_inner, reg_fail),
            _ => (0, inner, fail),
        };
        // As the block's own entry: no check for a reach of 0.
        let floor = (!floor_implied && target.needs > 0).then(|| slot_bytes(target.needs));
        let floor_first = if pass > 0 { floor.map(|down| (down, first)) } else { None };
        coverage::hit_if(floor_first.is_some(), Decision::EntryChecksFloorFirst);
        Entry::Checked {
            len,
            floor: if pass > 0 { None } else { floor },
            cap: (!cap_implied && target.growth > 0).then(|| slot_bytes(target.growth)),
            fail,
            inner,
            skip_fuel,
            keep_charge,
            pass,
            floor_first,
        }
    }

    /// Whether the current block's checks imply `target`'s floor and capacity checks, for a
    /// jump with `vsp` moved `m` slots from the block's entry (see the module docs).
    fn implied(&self, target: Block, m: i32) -> (bool, bool) {
        let m = i64::from(m);
        let (needs, growth) = (self.block.needs as i64, self.block.growth as i64);
        (target.needs as i64 <= needs + m, m + target.growth as i64 <= growth)
    }

    /// How a branch inside an inlined callee enters clone `ci` of its target (`inline.rs`):
    /// as a checked entry into a block of the clone's shape, with nothing in registers.
    fn clone_entry(&mut self, ci: usize, moved: Option<i32>) -> Entry {
        coverage::hit(Decision::CallInlinedClone);
        let (label, inner, fail) = self.clone_labels[ci];
        let Some(m) = moved else { return Entry::Full(label) };
        let target = self.clones[ci].block;
        let (floor_implied, cap_implied) = self.implied(target, m);
        let len = i32::try_from(target.len()).expect("clones are at most MAX_BLOCK_LEN long");
        Entry::Checked {
            len,
            floor: (!floor_implied && target.needs > 0).then(|| slot_bytes(target.needs)),
            cap: (!cap_implied && target.growth > 0).then(|| slot_bytes(target.growth)),
            fail,
            inner,
            skip_fuel: mutated!(self.mutation, CheckedEntrySkipsFuel),
            keep_charge: mutated!(self.mutation, RefundFoldKeepsCharge),
            pass: 0,
            floor_first: None,
        }
    }

    /// A label a conditional jump can name for `entry`: the block's own label, or a short
    /// out-of-line sequence that makes the checked entry.
    pub(super) fn entry_label(&mut self, entry: Entry) -> DynamicLabel {
        match entry {
            Entry::Full(label) => label,
            Entry::Checked { .. } => {
                let label = self.ops.new_dynamic_label();
                self.deferred.push(Box::new(move |ops: &mut Assembler| {
                    asm!(ops; =>label);
                    entry.emit_jump(ops);
                }));
                label
            }
        }
    }
}
