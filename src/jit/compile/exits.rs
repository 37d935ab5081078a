//! Ways out of compiled code: the entry trampoline with its common exits, exit descriptors
//! and their two-instruction stubs, side exits of taken `jz`/`jn`, and the out-of-line code
//! deferred to after the last block.
//!
//! An early exit to the stepper jumps to a stub that puts its descriptor's id in `r11` and
//! jumps to the common deopt path, which saves the cache registers in `Shared::regs` and
//! leaves; the driver then writes the cached items from the descriptor
//! ([`Code::apply_exit`](super::Code::apply_exit)), so exits cost no code per cached item. A
//! taken `jz`/`jn` in mid-block leaves through a side-exit stub that writes the cached items
//! and jumps to the target block. Invariants it keeps (safety model item 2):
//! - a descriptor records the virtual stack *as it was before* its instruction, so the
//!   stepper runs that instruction on exactly the interpreter's state;
//! - the trampoline saves and restores every callee-saved register and always returns
//!   through `exit`, which resets `rsp` to its entry value (discarding pending native
//!   `call`s);
//! - a descriptor's refund is the fuel charged for the instructions of its block that did
//!   not run (at most `MAX_BLOCK_LEN`).

use dynasmrt::x64::Assembler;
use dynasmrt::{AssemblyOffset, DynamicLabel, DynasmApi, DynasmLabelApi, dynasm};

use super::code::{After, ExitInfo, NativeExit, Slot};
use super::edges;
use super::entry::Entry;
use super::{CACHE, Compiler};
use crate::jit::coverage::{self, Decision};
use crate::jit::mutated;
use crate::jit::runtime::offsets as off;

/// Machine stack that native `call`s may use before handing a call to the stepper.
const MACHINE_STACK_BUDGET: i32 = 64 * 1024;

/// A side exit: a taken `jz`/`jn` in mid-block writes the cached items (`window`, the top at
/// `delta`), refunds the rest of the block and continues at `target`.
#[derive(Debug)]
pub(super) struct SideExit {
    pub(super) label: DynamicLabel,
    pub(super) window: Vec<Slot>,
    pub(super) delta: i32,
    pub(super) refund: u32,
    pub(super) target: Entry,
}

/// Out-of-line code (slow paths) an instruction leaves to be emitted after the last block, so
/// the blocks' fast paths stay short and fall through.
pub(super) type Deferred = Box<dyn FnOnce(&mut Assembler)>;

/// `n` as a `u32` for an exit descriptor or stub id; programs large enough to pass it could
/// not be compiled anyway (the code alone would take more than 2^32 bytes).
fn descriptor_u32(n: usize) -> u32 {
    u32::try_from(n).expect("fewer than 2^32 exit descriptors and slots")
}

impl Compiler<'_> {
    /// The entry trampoline (`extern "sysv64" fn(*mut Runtime, *const u8) -> u8`) and the
    /// common exits.
    pub(super) fn emit_trampoline(&mut self) -> AssemblyOffset {
        let (exit, deopt, failed) = (self.exit, self.deopt, self.failed);
        let ops = &mut self.ops;
        let entry = ops.offset();
        asm!(ops
            ; push rbx
            ; push rbp
            ; push r12
            ; push r13
            ; push r14
            ; push r15
            ; sub rsp, 8
            ; mov state, rdi
            ; mov [state + off::RSP_BASE], rsp
            ; lea rax, [rsp - MACHINE_STACK_BUDGET]
            ; mov [state + off::RSP_FLOOR], rax
            ; mov vsp, [state + off::SP]
            ; mov cells, [state + off::HEAP_CELLS]
            ; mov hlimit, [state + off::HEAP_LIMIT]
            ; mov fuel, [state + off::FUEL]
            ; mov csp, [state + off::CS]
            ; jmp rsi
            ; =>exit
            ; mov [state + off::SP], vsp
            ; mov [state + off::FUEL], fuel
            ; mov [state + off::CS], csp
            ; mov rsp, [state + off::RSP_BASE]
            ; add rsp, 8
            ; pop r15
            ; pop r14
            ; pop r13
            ; pop r12
            ; pop rbp
            ; pop rbx
            ; ret
            ; =>failed
            ; mov eax, NativeExit::HostFailed as i32
            ; jmp =>exit
            ; =>deopt
        );
        for r in CACHE {
            let d = off::REGS + 8 * i32::from(r);
            asm!(ops; mov [state + d], Rq(r));
        }
        asm!(ops
            ; mov [state + off::EXIT], scratch
            ; mov eax, NativeExit::Deopt as i32
            ; jmp =>exit
        );
        entry
    }

    /// The code label that continues at instruction `pc`: its block, or an exit to the
    /// stepper there.
    pub(super) fn label_for_pc(&mut self, pc: usize) -> DynamicLabel {
        if let Some(Some(i)) = self.blocks.starting_at.get(pc) {
            if let Some(label) = self.block_labels[*i] {
                return label;
            }
        }
        if let Some(&label) = self.exit_labels.get(&pc) {
            return label;
        }
        let label = self.ops.new_dynamic_label();
        self.exit_labels.insert(pc, label);
        label
    }

    /// A stub that leaves compiled code before instruction `k` of the block, with the
    /// virtual stack as it is now.
    pub(super) fn exit_stub(&mut self, k: usize, why: Decision) -> DynamicLabel {
        self.stub_with(k, After::Step, why)
    }

    pub(super) fn stub_with(&mut self, k: usize, after: After, why: Decision) -> DynamicLabel {
        let label = self.ops.new_dynamic_label();
        self.stub_at(label, k, after, why)
    }

    /// [`Compiler::stub_with`] at a label made beforehand.
    pub(super) fn stub_at(
        &mut self,
        label: DynamicLabel,
        k: usize,
        after: After,
        why: Decision,
    ) -> DynamicLabel {
        let id = descriptor_u32(self.exits.len());
        let first = descriptor_u32(self.exit_slots.len());
        // Only what the exit must write: leading in-memory items need nothing.
        let lead = self.window.iter().take_while(|s| **s == Slot::Mem).count();
        let start = self.exit_slots.len();
        self.exit_slots.extend_from_slice(&self.window[lead..]);
        if self.passed > 0 && mutated!(self.mutation, ExitForgetsPassed) {
            // The deepest convention register is taken to be in memory already.
            for s in &mut self.exit_slots[start..] {
                if *s == Slot::Reg(edges::PASSED[0], false) {
                    *s = Slot::Mem;
                }
            }
        }
        self.exits.push(ExitInfo {
            first,
            len: descriptor_u32(self.window.len() - lead),
            delta: self.delta,
            pc: self.seq[k],
            // At most MAX_BLOCK_LEN.
            refund: (self.seq.len() - k) as u32,
            after,
            why,
        });
        self.exit_stubs.push((label, id));
        label
    }

    /// Ends the block by leaving for the stepper before instruction `k` (which the stepper
    /// runs: an overflow, a trap, an instruction compiled code does not run).
    pub(super) fn exit_to_stepper(&mut self, k: usize, why: Decision) {
        let stub = self.exit_stub(k, why);
        let ops = &mut self.ops;
        asm!(ops; jmp =>stub);
    }

    /// Stubs that leave for the stepper at instructions no native block starts at.
    pub(super) fn emit_exit_labels(&mut self) {
        let mut exits: Vec<(usize, DynamicLabel)> =
            self.exit_labels.iter().map(|(&pc, &l)| (pc, l)).collect();
        exits.sort_by_key(|e| e.0);
        for (pc, label) in exits {
            coverage::hit(Decision::ExitLabel);
            let id = descriptor_u32(self.exits.len());
            let first = descriptor_u32(self.exit_slots.len());
            self.exits.push(ExitInfo {
                first,
                len: 0,
                delta: 0,
                pc,
                refund: 0,
                after: After::Step,
                why: Decision::ExitStepperBlock,
            });
            self.exit_stubs.push((label, id));
        }
        self.emit_exit_stubs();
    }

    pub(super) fn emit_stubs(&mut self) {
        for side in std::mem::take(&mut self.side_exits) {
            self.emit_side_exit(side, false);
        }
        for d in std::mem::take(&mut self.deferred) {
            d(&mut self.ops);
        }
        self.emit_exit_stubs();
    }

    /// The code of a side exit: the items written or passed, the target's checks, and the
    /// jump (or with `fall`, no jump: the target's body comes next, `flow.rs`). A failed
    /// floor check's path goes out of line.
    pub(super) fn emit_side_exit(&mut self, side: SideExit, fall: bool) {
        let ops = &mut self.ops;
        asm!(ops; =>side.label);
        // At most MAX_BLOCK_LEN.
        let refund = side.refund as i32;
        let pass = side.target.passes();
        if pass > 0 {
            coverage::hit(Decision::SideExitRegisters);
            self.guard_floor_first(side.target, side.window.clone(), side.delta, refund);
            let swap = mutated!(self.mutation, ParallelMoveSwaps);
            edges::emit_transfer(&mut self.ops, &side.window, side.delta, pass, swap);
        } else {
            edges::emit_write_window(ops, &side.window, side.delta);
        }
        let ops = &mut self.ops;
        side.target.emit_entering(ops, refund, fall);
    }

    /// For a jump into `entry` whose floor is not implied but which passes items in
    /// registers (`Entry::floor_first`): the floor check before the transfer, and out of line
    /// its failed path, which writes `window` (its top at `delta`), refunds `refund` and goes
    /// to the target's first instruction.
    pub(super) fn guard_floor_first(
        &mut self,
        entry: Entry,
        window: Vec<Slot>,
        delta: i32,
        refund: i32,
    ) {
        let Some((down, full)) = entry.floor_first() else { return };
        let fail = self.ops.new_dynamic_label();
        edges::emit_floor_first(&mut self.ops, delta, down, fail);
        let keep = mutated!(self.mutation, FloorFirstKeepsRegisters);
        self.deferred.push(Box::new(move |ops: &mut Assembler| {
            asm!(ops; =>fail);
            edges::emit_floor_failed(ops, &window, delta, refund, full, keep);
        }));
    }

    fn emit_exit_stubs(&mut self) {
        let deopt = self.deopt;
        for (label, id) in std::mem::take(&mut self.exit_stubs) {
            let ops = &mut self.ops;
            // `mov r11d` zero-extends: the id's 32 bits arrive in `r11` as the u32 it is.
            asm!(ops
                ; =>label
                ; mov r11d, id as i32
                ; jmp =>deopt
            );
        }
    }
}
