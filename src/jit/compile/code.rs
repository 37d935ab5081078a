//! The compiled artefact: one executable buffer with its block table, return table and exit
//! descriptors, and the three things the driver does with it: [`Code::enter`] a native
//! block, [`Code::apply_exit`] after an exit through a descriptor, and print a
//! [`Code::listing`].
//!
//! It knows nothing of how the code was generated (that is the translator, the rest of
//! `compile/`): only the facts the translator recorded about it. Invariants it keeps:
//! - the buffer is executable and never writable, and lives as long as the `Code` (safety
//!   model item 1); it is entered only through the trampoline at `entry` (item 2), and only
//!   after [`Code::enter`] has asserted that the value stack lies far enough from both ends
//!   of the address space for the entry checks' sums not to wrap (item 3);
//! - `table` holds a code address of this buffer for every return point, 0 elsewhere, and has
//!   one entry more than the program has instructions (item 3, *the return table*);
//! - an exit descriptor's slots name only positions within its block's checked reach, so
//!   [`Code::apply_exit`] writes only value-stack slots above every big value (item 4).

use std::fmt::Write as _;

use dynasmrt::{AssemblyOffset, ExecutableBuffer};

use crate::jit::blocks::{Block, Blocks, MAX_REACH, Op};
use crate::jit::coverage::{self, Decision};
use crate::jit::runtime::Runtime;
use crate::program::Program;

/// How compiled code stopped (returned in `al` by the entry trampoline).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NativeExit {
    /// Left through exit descriptor `Shared::exit`, with the cache registers saved in
    /// `Shared::regs`: [`Code::apply_exit`] finishes the exit.
    Deopt = 0,
    /// An `end` ran.
    Ended = 1,
    /// A host call failed (`Runtime::host_error`).
    HostFailed = 2,
}

impl NativeExit {
    fn from_u8(v: u8) -> NativeExit {
        match v {
            0 => NativeExit::Deopt,
            1 => NativeExit::Ended,
            _ => NativeExit::HostFailed,
        }
    }
}

/// What the driver does after an exit through a descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum After {
    /// The stepper runs the instruction at the exit's `pc`.
    Step,
    /// The entry check of the block at the exit's `pc` failed (fuel, depth or capacity).
    CheckFailed,
}

/// An exit descriptor: how to finish leaving compiled code at one exit point. Compiled code
/// jumps to a two-instruction stub that names the descriptor; the driver then writes the
/// cached stack items, moves the stack pointer and refunds the fuel of the instructions
/// that did not run.
#[derive(Clone, Copy, Debug)]
pub(super) struct ExitInfo {
    /// The cached items (`Code::exit_slots[first..first + len]`), the last one the top.
    pub(super) first: u32,
    pub(super) len: u32,
    /// The top's offset from `Shared::sp` at the exit, in slots.
    pub(super) delta: i32,
    /// The instruction to continue at.
    pub(super) pc: usize,
    /// Fuel charged for instructions that did not run.
    pub(super) refund: u32,
    pub(super) after: After,
    /// The exit it is, for the coverage counts (an entry check's is classified when taken).
    pub(super) why: Decision,
}

/// A compiled program.
pub(crate) struct Code {
    pub(super) buffer: ExecutableBuffer,
    pub(super) entry: AssemblyOffset,
    /// Code offset of each native block (indexed like `blocks.list`): where its code is laid
    /// out, for the listing.
    pub(super) block_offsets: Vec<Option<AssemblyOffset>>,
    /// Where each native block is entered through all its checks (its label): the start of
    /// its code, or out of line for a block laid out as the body after a `call`.
    pub(super) entry_offsets: Vec<Option<AssemblyOffset>>,
    /// Where the out-of-line stubs start.
    pub(super) stubs_offset: AssemblyOffset,
    /// Code address for each return point (indexed by instruction index; 0 elsewhere).
    pub(super) table: Vec<usize>,
    /// The decoded program.
    pub ops: Vec<Op>,
    /// The blocks.
    pub blocks: Blocks,
    /// For each instruction index: whether a native block starts there.
    pub(super) native_starts: Vec<bool>,
    /// NativeExit descriptors, by the id their stubs pass in `r11`.
    pub(super) exits: Vec<ExitInfo>,
    pub(super) exit_slots: Vec<Slot>,
    /// Whether this code reads and writes the low cells unchecked (`heap.rs`), so that it
    /// must not run once one of them has held a big value.
    pub low_cells: bool,
}

impl Code {
    /// Whether a native block starts at instruction `pc`.
    #[inline]
    pub fn is_native_start(&self, pc: usize) -> bool {
        self.native_starts.get(pc).copied().unwrap_or(false)
    }

    /// The native block starting at instruction `pc`, if any.
    pub fn native_block(&self, pc: usize) -> Option<&Block> {
        let b = &self.blocks.list[(*self.blocks.starting_at.get(pc)?)?];
        b.native.then_some(b)
    }

    /// Bytes of machine code.
    pub fn code_bytes(&self) -> usize {
        self.buffer.len()
    }

    /// Native blocks.
    pub fn native_blocks(&self) -> usize {
        self.block_offsets.iter().filter(|o| o.is_some()).count()
    }

    /// Runs compiled code from the native block starting at `pc` until it exits.
    ///
    /// The caller has published the state (`Runtime::publish`), checked the block's entry
    /// conditions and set the output pointer (safety model items 3 to 5).
    pub fn enter(&self, rt: &mut Runtime, pc: usize) -> NativeExit {
        let index = self.blocks.starting_at[pc].expect("a block starts here");
        let offset = self.entry_offsets[index].expect("the block is native");
        // The entry checks form `vsp - 8 * needs` and `vsp + 8 * growth` with reaches of at
        // most `MAX_REACH` items, where `stack_base <= floor <= vsp <= cap`: these two bounds
        // make sure neither sum wraps around the address space (model item 3). No allocator
        // hands out memory this close to either end, so this never fails in practice.
        let reach = 8 * MAX_REACH;
        assert!(
            rt.shared.stack_base >= reach && rt.shared.cap <= usize::MAX - reach,
            "the value stack lies within {reach} bytes of an end of the address space"
        );
        rt.shared.table = self.table.as_ptr() as usize;
        let target = self.buffer.ptr(offset);
        // SAFETY: the buffer holds code this module generated and finalized (model item 1);
        // the trampoline at `entry` follows the sysv64 ABI, preserves the callee-saved
        // registers and returns an `NativeExit` code (model item 2); `rt` is live and exclusively
        // ours for the call (model item 5).
        let status = unsafe {
            let entry: extern "sysv64" fn(*mut Runtime, *const u8) -> u8 =
                std::mem::transmute(self.buffer.ptr(self.entry));
            entry(rt, target)
        };
        NativeExit::from_u8(status)
    }

    /// Finishes an exit through a descriptor (after `Runtime::take_back`): writes the cached
    /// items from the saved registers, moves the stack and refunds fuel.
    pub fn apply_exit(&self, rt: &mut Runtime) -> After {
        let info = self.exits[rt.shared.exit as usize];
        if info.after == After::Step {
            coverage::hit(info.why);
        }
        let slots = &self.exit_slots[info.first as usize..(info.first + info.len) as usize];
        let base = rt.depth as isize + info.delta as isize - slots.len() as isize;
        for (j, &slot) in slots.iter().enumerate() {
            // The slots are within the block's checked reach, above every big value.
            let i = (base + j as isize) as usize;
            match slot {
                Slot::Mem | Slot::Reg(_, true) => {}
                Slot::Reg(r, false) => rt.stack[i] = rt.shared.regs[r as usize],
                Slot::Imm(v) => rt.stack[i] = v,
            }
        }
        rt.depth = (rt.depth as isize + info.delta as isize) as usize;
        // A failed fuel check left the count wrapped below zero: wrapping restores it.
        rt.shared.fuel = rt.shared.fuel.wrapping_add(u64::from(info.refund));
        rt.pc = info.pc;
        info.after
    }

    /// A listing of the code per block.
    pub fn listing(&self, program: &Program) -> String {
        let mut out = String::new();
        let mut natives: Vec<(usize, AssemblyOffset)> =
            self.block_offsets.iter().enumerate().filter_map(|(i, o)| o.map(|o| (i, o))).collect();
        natives.sort_by_key(|&(_, o)| o.0);
        let _ = writeln!(
            out,
            "; {} instructions, {} blocks ({} native), {} bytes of code",
            program.len(),
            self.blocks.list.len(),
            natives.len(),
            self.buffer.len()
        );
        let _ = writeln!(out, "; entry trampoline: {} bytes", natives.first().map_or(0, |n| n.1.0));
        for (k, &(i, o)) in natives.iter().enumerate() {
            let b = &self.blocks.list[i];
            let end = natives.get(k + 1).map_or(self.stubs_offset.0, |n| n.1.0);
            let _ = writeln!(
                out,
                "block {i}: instructions {}..{} (needs {}, growth {}), {} bytes at +{:#x}",
                b.start,
                b.end,
                b.needs,
                b.growth,
                end - o.0,
                o.0
            );
            for j in b.start..b.end {
                let _ = writeln!(out, ";   {j:>5}  {}", program.instructions()[j]);
            }
            for chunk in self.buffer[o.0..end].chunks(16) {
                let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
                let _ = writeln!(out, "    {}", hex.join(" "));
            }
        }
        for b in self.blocks.list.iter().filter(|b| !b.native) {
            let _ = writeln!(
                out,
                "stepper: instruction {} ({})",
                b.start,
                program.instructions()[b.start]
            );
        }
        let _ = writeln!(out, "stubs: {} bytes", self.buffer.len() - self.stubs_offset.0);
        out
    }
}

/// Where a cached stack item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Slot {
    /// In memory, at its own slot.
    Mem,
    /// In a register; `true` when memory at its slot holds it too.
    Reg(u8, bool),
    /// A constant not yet written.
    Imm(i64),
}
