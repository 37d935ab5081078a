//! Heap access: `store` and `retrieve` on the dense native cells inline, everything else
//! through a host call.
//!
//! Invariant it keeps (safety model item 3, *dense heap cells and their written flags*): a
//! register address is compared *unsigned* with `hlimit` before it indexes `cells` (a
//! negative address goes to the host call, which hands the trap to the stepper); a constant
//! address is a displacement only when `0 <= c < 2^28`, so `8 * c` fits an `i32`; the
//! `HeapIgnoresHighBits` mutation masks the address before the check, so check and access
//! see the same value; `cells` and `hlimit` are reloaded after `store`'s host call, which may
//! move the heap. A `store` writes a cell inline only when it is written already (so the
//! write is not a first one, which counts against the heap limit): for a register address,
//! below the written prefix; for a constant address, below `hlimit` with its written flag
//! set, which needs no contiguous prefix (a program's variables often leave cells below them
//! unwritten, cell 0 above all, and then every store above the hole would take the slow
//! path).
//!
//! In the optimising tier's unchecked code (`low_cells`: what a run goes over to, at once
//! for a program of up to 1024 instructions, see `jit::low_cells_after`) a constant address
//! below `LOW_CELLS` (a *low cell*) is not compared with `hlimit` at all: every run's dense
//! region covers the low cells from its start, and none of them holds a big value while this
//! code runs (once one has, the driver goes back to code with the comparison before it
//! enters compiled code again: see `drive` in `jit/mod.rs`). Such a `retrieve` is one load
//! with no out-of-line path; such a `store` looks at the cell's written flag only, and has
//! no host call. Programs keep their variables at small
//! constant addresses: on mandel, written that way, this took the run from 1,428 M to
//! 1,111 M machine instructions (callgrind).
//!
//! The address form is decided once per instruction ([`HeapAddr`]): a constant in the
//! displacement range, or a register; every sequence below matches on it exhaustively.

use dynasmrt::x64::Assembler;
use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi, dynasm};

use super::code::Slot;
use super::host::{emit_host_call, emit_host_status, emit_to_shared};
use super::vstack::Src;
use super::{Compiler, fits_i32};
use crate::jit::coverage::{self, Decision};
use crate::jit::mutated;
use crate::jit::runtime::{self, offsets as off};

/// A heap address as compiled code uses it, decided once per instruction.
#[derive(Clone, Copy, Debug)]
enum HeapAddr {
    /// A constant `0 <= c < 2^28` (masked already under `HeapIgnoresHighBits`): `8 * c` fits
    /// an `i32` displacement.
    Const(i64),
    /// In this register: any value, compared unsigned with a bound before it indexes.
    Reg(u8),
}

impl HeapAddr {
    /// The address as a host call's argument.
    fn src(self) -> Src {
        match self {
            HeapAddr::Const(c) => Src::Imm(c),
            HeapAddr::Reg(r) => Src::Reg(r),
        }
    }
}

/// The value a `store` writes: in a register or a constant (one in memory is loaded first).
#[derive(Clone, Copy, Debug)]
enum StoreValue {
    Reg(u8),
    Imm(i64),
}

impl StoreValue {
    fn src(self) -> Src {
        match self {
            StoreValue::Reg(r) => Src::Reg(r),
            StoreValue::Imm(x) => Src::Imm(x),
        }
    }
}

/// One `store`: its operands and labels, shared by the inline fast path and the out-of-line
/// paths emitted after the last block.
#[derive(Clone, Copy, Debug)]
struct StoreSite {
    addr: HeapAddr,
    value: StoreValue,
    /// A register address above the written prefix: the dense-cell checks.
    check: DynamicLabel,
    /// The first write of a dense cell.
    first: DynamicLabel,
    /// Outside the native dense cells: the host call.
    slow: DynamicLabel,
    /// After the store.
    join: DynamicLabel,
    /// Leaves for the stepper before the `store`, after the host call bails (a low cell's
    /// store, which has no host call, names `full` here).
    stub: DynamicLabel,
    /// Leaves for the stepper before the `store`: a first dense write at the heap limit.
    full: DynamicLabel,
    /// A host call failed.
    failed: DynamicLabel,
}

impl StoreSite {
    /// Writes the value to the dense cell (its index checked already).
    fn emit_write(self, ops: &mut Assembler) {
        match (self.addr, self.value) {
            (HeapAddr::Const(c), StoreValue::Reg(rv)) => {
                asm!(ops; mov [cells + (c * 8) as i32], Rq(rv))
            }
            (HeapAddr::Const(c), StoreValue::Imm(x)) if fits_i32(x) => {
                asm!(ops; mov QWORD [cells + (c * 8) as i32], x as i32)
            }
            (HeapAddr::Const(c), StoreValue::Imm(x)) => {
                asm!(ops; mov scratch, QWORD x; mov [cells + (c * 8) as i32], scratch)
            }
            (HeapAddr::Reg(ra), StoreValue::Reg(rv)) => {
                asm!(ops; mov [cells + Rq(ra) * 8], Rq(rv))
            }
            (HeapAddr::Reg(ra), StoreValue::Imm(x)) if fits_i32(x) => {
                asm!(ops; mov QWORD [cells + Rq(ra) * 8], x as i32)
            }
            (HeapAddr::Reg(ra), StoreValue::Imm(x)) => {
                asm!(ops; mov scratch, QWORD x; mov [cells + Rq(ra) * 8], scratch)
            }
        }
    }

    /// The fast path, inline: a dense native cell written already. For a register address,
    /// one below the written prefix; for a constant one, one below `hlimit` (so its flag says
    /// written with a small value, never big) whose flag is set. Mutated
    /// (`ConstantStoreSkipsFlag`), the constant's flag is not looked at.
    /// The constant's test is the whole dense-cell check, so it leaves straight for the host
    /// call or the first write; a register address's leaves for [`emit_dense`](Self::emit_dense).
    /// A low cell (`low`: a constant below `LOW_CELLS`, in code compiled for them) is
    /// dense and never big, so only its flag is looked at.
    fn emit_inline(self, ops: &mut Assembler, skip_flag: bool, low: bool) {
        let (check, slow, first) = (self.check, self.slow, self.first);
        match self.addr {
            HeapAddr::Const(c) => {
                let c32 = c as i32;
                if !low {
                    asm!(ops
                        ; cmp hlimit, c32
                        ; jbe =>slow
                    );
                }
                if !skip_flag {
                    asm!(ops
                        ; mov scratch, [state + off::HEAP_WRITTEN]
                        ; cmp BYTE [scratch + c32], 0
                        ; je =>first
                    );
                }
            }
            HeapAddr::Reg(ra) => asm!(ops
                ; cmp Rq(ra), [state + off::HEAP_PREFIX]
                ; jae =>check
            ),
        }
        self.emit_write(ops);
        asm!(ops; =>self.join);
    }

    /// Out of line: for a register address above the written prefix, a dense native cell,
    /// written or not; for every address, a dense cell's first write (counted against the
    /// heap limit, and extending the written prefix when it is the cell just above it).
    fn emit_dense(self, ops: &mut Assembler) {
        let (slow, first, join, stub) = (self.slow, self.first, self.join, self.full);
        if let HeapAddr::Reg(ra) = self.addr {
            asm!(ops
                ; =>self.check
                ; cmp Rq(ra), hlimit
                ; jae =>slow
                ; mov scratch, [state + off::HEAP_WRITTEN]
                ; cmp BYTE [scratch + Rq(ra)], 0
                ; je =>first
            );
            self.emit_write(ops);
            asm!(ops; jmp =>join);
        }
        // First write of a dense cell: count it against the heap limit, and extend the
        // written prefix when it is the cell just above it.
        let counted = ops.new_dynamic_label();
        asm!(ops
            ; =>first
            ; mov scratch, [state + off::HEAP_COUNT]
            ; cmp scratch, [state + off::HEAP_MAX]
            ; jae =>stub
            ; add scratch, 1
            ; mov [state + off::HEAP_COUNT], scratch
            ; mov scratch, [state + off::HEAP_WRITTEN]
        );
        match self.addr {
            HeapAddr::Const(c) => asm!(ops
                ; mov BYTE [scratch + c as i32], 1
                ; cmp QWORD [state + off::HEAP_PREFIX], c as i32
            ),
            HeapAddr::Reg(ra) => asm!(ops
                ; mov BYTE [scratch + Rq(ra)], 1
                ; cmp Rq(ra), [state + off::HEAP_PREFIX]
            ),
        }
        asm!(ops
            ; jne =>counted
            ; add QWORD [state + off::HEAP_PREFIX], 1
            ; =>counted
        );
        self.emit_write(ops);
        asm!(ops; jmp =>join);
    }

    /// Outside the native dense cells, out of line: the host call, which may move the heap
    /// (so `cells` and `hlimit` are reloaded).
    fn emit_host(self, ops: &mut Assembler, live: &[u8]) {
        asm!(ops; =>self.slow);
        emit_to_shared(ops, off::ARG0, self.addr.src());
        emit_to_shared(ops, off::ARG1, self.value.src());
        emit_host_call(ops, live, runtime::host_store as *const () as usize);
        asm!(ops
            ; mov cells, [state + off::HEAP_CELLS]
            ; mov hlimit, [state + off::HEAP_LIMIT]
        );
        emit_host_status(ops, self.stub, self.failed);
        asm!(ops; jmp =>self.join);
    }
}

impl Compiler<'_> {
    /// Whether constant address `c` (`0 <= c`) is a low cell in this code: below
    /// `LOW_CELLS`, which every run's dense region covers and which hold no big value for
    /// as long as this code runs (`Heap::low_big`: the driver goes back to code compiled
    /// without `low_cells` once one of them has held one).
    fn low_cell(&self, c: i64) -> bool {
        self.low_cells && (c as u64) < runtime::LOW_CELLS as u64
    }

    /// Applies the `HeapIgnoresHighBits` mutation to a register address.
    fn masked(&mut self, addr: u8) -> u8 {
        if mutated!(self.mutation, HeapIgnoresHighBits) {
            let ops = &mut self.ops;
            asm!(ops; mov scratch, Rq(addr); and scratch, 0xFFFF);
            11
        } else {
            addr
        }
    }

    /// The form of the heap address in window slot `ja` of instruction `k`: a constant small
    /// enough for a displacement, or else a register (loading or materialising it). `None`
    /// when it is a negative constant, after emitting the jump that leaves the block there
    /// (the stepper traps `negative-address`).
    fn heap_address(&mut self, ja: usize, k: usize) -> Option<HeapAddr> {
        match self.window[ja] {
            Slot::Imm(c) if c < 0 => {
                coverage::hit(Decision::HeapNegativeConstant);
                self.exit_to_stepper(k, Decision::ExitNegativeConstantAddress);
                None
            }
            Slot::Imm(c) if c < (1 << 28) => {
                coverage::hit(Decision::HeapConstantAddress);
                Some(HeapAddr::Const(if mutated!(self.mutation, HeapIgnoresHighBits) {
                    c & 0xFFFF
                } else {
                    c
                }))
            }
            slot => {
                coverage::hit(Decision::pick(
                    matches!(slot, Slot::Imm(_)),
                    Decision::HeapLargeConstantAddress,
                    Decision::HeapRegisterAddress,
                ));
                Some(HeapAddr::Reg(self.in_reg(ja)))
            }
        }
    }

    /// `store`: dense cells inline, everything else through a host call.
    pub(super) fn store(&mut self, k: usize) -> bool {
        let (ja, jv) = (self.nth(1), self.nth(0));
        let Some(addr) = self.heap_address(ja, k) else {
            return false;
        };
        let mut pinned = Vec::new();
        if let HeapAddr::Reg(r) = addr {
            pinned.push(r);
        }
        self.load_avoiding(jv, &pinned);
        let value = match self.window[jv] {
            Slot::Reg(r, _) => {
                coverage::hit(Decision::StoreValueRegister);
                pinned.push(r);
                StoreValue::Reg(r)
            }
            Slot::Imm(x) => {
                coverage::hit(Decision::pick(
                    fits_i32(x),
                    Decision::StoreValueImm32,
                    Decision::StoreValueImm64,
                ));
                StoreValue::Imm(x)
            }
            Slot::Mem => unreachable!("load_avoiding loads an item in memory into a register"),
        };
        // A register address for the mutation's masking needs its own register (the scratch
        // register holds the written flags' base).
        let masked_reg = match addr {
            HeapAddr::Reg(_) if mutated!(self.mutation, HeapIgnoresHighBits) => {
                Some(self.alloc_avoiding(&pinned))
            }
            _ => None,
        };
        let low = matches!(addr, HeapAddr::Const(c) if self.low_cell(c));
        coverage::hit_if(low, Decision::StoreLowCell);
        // A constant address every way here has stored to is written already (`written.rs`).
        let written = match addr {
            HeapAddr::Const(c) => self.written.bit(c).filter(|&bit| self.written_now & bit != 0),
            HeapAddr::Reg(_) => None,
        };
        coverage::hit_if(written.is_some(), Decision::StoreKnownWritten);
        let skip_flag = written.is_some() || mutated!(self.mutation, ConstantStoreSkipsFlag);
        // A constant address whose flag is not looked at has no first write out of line, so
        // no exit for a full heap (its label is then never jumped to).
        let dense = !(skip_flag && matches!(addr, HeapAddr::Const(_)));
        let full = if dense {
            self.exit_stub(k, Decision::ExitStoreHeapFull)
        } else {
            self.ops.new_dynamic_label()
        };
        // A low cell's store has no host call, so no exit after one (the site's `stub` is
        // then never jumped to).
        let stub = if low { full } else { self.exit_stub(k, Decision::ExitStoreHost) };
        let live = self.live();
        let failed = self.failed;
        let v = self.pop();
        let a = self.pop();
        let ops = &mut self.ops;
        let addr = match (addr, masked_reg) {
            (HeapAddr::Reg(r), Some(m)) => {
                asm!(ops; mov Rq(m), Rq(r); and Rq(m), 0xFFFF);
                HeapAddr::Reg(m)
            }
            (addr, _) => addr,
        };
        let site = StoreSite {
            addr,
            value,
            check: ops.new_dynamic_label(),
            first: ops.new_dynamic_label(),
            slow: ops.new_dynamic_label(),
            join: ops.new_dynamic_label(),
            stub,
            full,
            failed,
        };
        site.emit_inline(ops, skip_flag, low);
        self.deferred.push(Box::new(move |ops: &mut Assembler| {
            if dense {
                site.emit_dense(ops);
            }
            if !low {
                site.emit_host(ops, &live);
            }
        }));
        self.release(v);
        self.release(a);
        self.note_store(addr, value);
        if let HeapAddr::Const(c) = addr
            && let Some(bit) = self.written.bit(c)
        {
            self.written_now |= bit;
        }
        true
    }

    /// `retrieve`: dense cells inline, everything else through a host call.
    pub(super) fn retrieve(&mut self, k: usize) -> bool {
        let ja = self.nth(0);
        let Some(addr) = self.heap_address(ja, k) else {
            return false;
        };
        if let HeapAddr::Const(c) = addr {
            if let Some(slot) = self.known_cell(c) {
                // Stored by this block at the same address: no load, no bounds check.
                coverage::hit(Decision::RetrieveForwarded);
                let a = self.pop();
                self.release(a);
                self.push(slot);
                return true;
            }
            if self.low_cell(c) {
                // Dense and never big (`Heap::low_big`): a load.
                coverage::hit(Decision::RetrieveLowCell);
                let r = self.alloc_avoiding(&[]);
                let a = self.pop();
                let ops = &mut self.ops;
                asm!(ops; mov Rq(r), [cells + (c * 8) as i32]);
                self.release(a);
                self.push(Slot::Reg(r, false));
                return true;
            }
        }
        let pinned = match addr {
            HeapAddr::Reg(r) => vec![r],
            HeapAddr::Const(_) => vec![],
        };
        let r = self.alloc_avoiding(&pinned);
        let stub = self.exit_stub(k, Decision::ExitRetrieveHost);
        let live = self.live();
        let failed = self.failed;
        let a = self.pop();
        let slow = self.ops.new_dynamic_label();
        let join = self.ops.new_dynamic_label();
        let addr = match addr {
            HeapAddr::Reg(ra) => HeapAddr::Reg(self.masked(ra)),
            constant => constant,
        };
        let ops = &mut self.ops;
        match addr {
            HeapAddr::Const(c) => {
                let c32 = c as i32;
                asm!(ops
                    ; cmp hlimit, c32
                    ; jbe =>slow
                    ; mov Rq(r), [cells + c32 * 8]
                );
            }
            HeapAddr::Reg(ra) => asm!(ops
                ; cmp Rq(ra), hlimit
                ; jae =>slow
                ; mov Rq(r), [cells + Rq(ra) * 8]
            ),
        }
        asm!(ops; =>join);
        self.deferred.push(Box::new(move |ops: &mut Assembler| {
            asm!(ops; =>slow);
            emit_to_shared(ops, off::ARG0, addr.src());
            emit_host_call(ops, &live, runtime::host_retrieve as *const () as usize);
            emit_host_status(ops, stub, failed);
            asm!(ops
                ; mov Rq(r), [state + off::RET]
                ; jmp =>join
            );
        }));
        self.release(a);
        self.push(Slot::Reg(r, false));
        true
    }
}

impl Compiler<'_> {
    /// After a `store` (optimising tier): remembers the register whose value was stored at a
    /// constant address, or forgets every cell for an address known only at run time (it
    /// may be any of them). Whichever path the store took (inline or the host), the cell
    /// holds that value until the next store, so a `retrieve` of the same constant in this
    /// block can use the register. A stored constant is not remembered: the heap is the
    /// generator's way (and a program's) to hide a value from constant folding, and the
    /// paths for values known only at run time must stay reachable that way.
    fn note_store(&mut self, addr: HeapAddr, value: StoreValue) {
        if !self.optimise {
            return;
        }
        let c = match addr {
            HeapAddr::Const(c) => c,
            HeapAddr::Reg(_) => {
                self.forget_cells();
                return;
            }
        };
        self.forget_cell(c);
        if let StoreValue::Reg(r) = value {
            self.refs[r as usize] += 1;
            self.known_cells.push((c, Slot::Reg(r, false)));
        }
    }

    /// The value this block stored at constant address `c`, if it still holds it (under the
    /// `ForwardingIgnoresAddress` mutation, the value of the latest store at any constant).
    fn known_cell(&self, c: i64) -> Option<Slot> {
        if mutated!(self.mutation, ForwardingIgnoresAddress) {
            return self.known_cells.last().map(|&(_, s)| s);
        }
        self.known_cells.iter().find(|&&(a, _)| a == c).map(|&(_, s)| s)
    }

    fn forget_cell(&mut self, c: i64) {
        if let Some(i) = self.known_cells.iter().position(|&(a, _)| a == c) {
            let (_, slot) = self.known_cells.remove(i);
            if let Slot::Reg(r, _) = slot {
                self.refs[r as usize] -= 1;
            }
        }
    }

    /// Forgets every known cell.
    pub(super) fn forget_cells(&mut self) {
        for (_, slot) in std::mem::take(&mut self.known_cells) {
            if let Slot::Reg(r, _) = slot {
                self.refs[r as usize] -= 1;
            }
        }
    }

    /// Forgets the oldest known cell held in a register; `false` if there is none.
    pub(super) fn forget_a_cell_register(&mut self) -> bool {
        let Some(i) = self.known_cells.iter().position(|(_, s)| matches!(s, Slot::Reg(..))) else {
            return false;
        };
        let (_, slot) = self.known_cells.remove(i);
        if let Slot::Reg(r, _) = slot {
            self.refs[r as usize] -= 1;
        }
        true
    }
}
