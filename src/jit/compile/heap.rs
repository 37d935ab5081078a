//! Heap access: `store` and `retrieve` on the dense native cells inline, everything else
//! through a host call.
//!
//! Invariant it keeps (safety model item 3, *dense heap cells and their written flags*): a
//! register address is compared *unsigned* with `hlimit` before it indexes `cells` (a
//! negative address goes to the host call, which hands the trap to the stepper); a constant
//! address is a displacement only when `0 <= c < 2^28`, so `8 * c` fits an `i32`; the
//! `HeapIgnoresHighBits` mutation masks the address before the check, so check and access
//! see the same value; `cells` and `hlimit` are reloaded after `store`'s host call, which may
//! move the heap.

use dynasmrt::x64::Assembler;
use dynasmrt::{DynasmApi, DynasmLabelApi, dynasm};

use super::code::Slot;
use super::host::{emit_host_call, emit_host_status, emit_to_shared};
use super::vstack::Src;
use super::{Compiler, fits_i32};
use crate::jit::Mutation;
use crate::jit::runtime::{self, offsets as off};

impl Compiler<'_> {
    /// Applies the `HeapIgnoresHighBits` mutation to a register address.
    fn masked(&mut self, addr: u8) -> u8 {
        if self.mutation == Some(Mutation::HeapIgnoresHighBits) {
            let ops = &mut self.ops;
            asm!(ops; mov scratch, Rq(addr); and scratch, 0xFFFF);
            11
        } else {
            addr
        }
    }

    /// The heap address in window slot `ja` of instruction `k`, when it is a constant small
    /// enough to use as a displacement: `Some(Some(c))`; `Some(None)` when it is not constant
    /// (or too large); `None` when it is a negative constant, after emitting the jump that
    /// leaves the block there (the stepper traps `negative-address`).
    fn constant_address(&mut self, ja: usize, k: usize) -> Option<Option<i64>> {
        match self.window[ja] {
            Slot::Imm(c) if c < 0 => {
                self.exit_to_stepper(k);
                None
            }
            Slot::Imm(c) if c < (1 << 28) => {
                Some(Some(if self.mutation == Some(Mutation::HeapIgnoresHighBits) {
                    c & 0xFFFF
                } else {
                    c
                }))
            }
            _ => Some(None),
        }
    }

    /// `store`: dense cells inline, everything else through a host call.
    pub(super) fn store(&mut self, k: usize) -> bool {
        let (ja, jv) = (self.nth(1), self.nth(0));
        let Some(addr_const) = self.constant_address(ja, k) else {
            return false;
        };
        let mut pinned = Vec::new();
        if addr_const.is_none() {
            pinned.push(self.in_reg(ja));
        }
        self.load_avoiding(jv, &pinned);
        if let Slot::Reg(r, _) = self.window[jv] {
            pinned.push(r);
        }
        // A register address for the mutation's masking needs its own register (the scratch
        // register holds the written flags' base).
        let masked_reg =
            if addr_const.is_none() && self.mutation == Some(Mutation::HeapIgnoresHighBits) {
                Some(self.alloc_avoiding(&pinned))
            } else {
                None
            };
        let stub = self.exit_stub(k);
        let live = self.live();
        let failed = self.failed;
        let v = self.pop();
        let a = self.pop();
        let slow = self.ops.new_dynamic_label();
        let first = self.ops.new_dynamic_label();
        let join = self.ops.new_dynamic_label();
        let ops = &mut self.ops;
        let addr = match (a, masked_reg) {
            (Src::Reg(r), Some(m)) => {
                asm!(ops; mov Rq(m), Rq(r); and Rq(m), 0xFFFF);
                Src::Reg(m)
            }
            (a, _) => a,
        };
        // Fast path: below the written prefix, a cell is dense, native and written already.
        let check = ops.new_dynamic_label();
        match (addr_const, addr) {
            (Some(c), _) => asm!(ops
                ; cmp QWORD [state + off::HEAP_PREFIX], c as i32
                ; jbe =>check
            ),
            (None, Src::Reg(ra)) => asm!(ops
                ; cmp Rq(ra), [state + off::HEAP_PREFIX]
                ; jae =>check
            ),
            _ => unreachable!("a non-constant address is in a register"),
        }
        let write = move |ops: &mut Assembler| match (addr_const, addr, v) {
            (Some(c), _, Src::Reg(rv)) => asm!(ops; mov [cells + (c * 8) as i32], Rq(rv)),
            (Some(c), _, Src::Imm(x)) if fits_i32(x) => {
                asm!(ops; mov QWORD [cells + (c * 8) as i32], x as i32)
            }
            (Some(c), _, Src::Imm(x)) => {
                asm!(ops; mov scratch, QWORD x; mov [cells + (c * 8) as i32], scratch)
            }
            (None, Src::Reg(ra), Src::Reg(rv)) => asm!(ops; mov [cells + Rq(ra) * 8], Rq(rv)),
            (None, Src::Reg(ra), Src::Imm(x)) if fits_i32(x) => {
                asm!(ops; mov QWORD [cells + Rq(ra) * 8], x as i32)
            }
            (None, Src::Reg(ra), Src::Imm(x)) => {
                asm!(ops; mov scratch, QWORD x; mov [cells + Rq(ra) * 8], scratch)
            }
            _ => unreachable!("the value is in a register or constant"),
        };
        write(ops);
        asm!(ops; =>join);
        let mark = move |ops: &mut Assembler| match (addr_const, addr) {
            (Some(c), _) => asm!(ops; mov BYTE [scratch + c as i32], 1),
            (None, Src::Reg(ra)) => asm!(ops; mov BYTE [scratch + Rq(ra)], 1),
            _ => unreachable!("a non-constant address is in a register"),
        };
        let arg_addr = match addr_const {
            Some(c) => Src::Imm(c),
            None => addr,
        };
        self.deferred.push(Box::new(move |ops: &mut Assembler| {
            // Above the written prefix: a dense native cell, written or not, or the host.
            asm!(ops; =>check);
            match (addr_const, addr) {
                (Some(c), _) => {
                    let c32 = c as i32;
                    asm!(ops
                        ; cmp hlimit, c32
                        ; jbe =>slow
                        ; mov scratch, [state + off::HEAP_WRITTEN]
                        ; cmp BYTE [scratch + c32], 0
                        ; je =>first
                    );
                }
                (None, Src::Reg(ra)) => asm!(ops
                    ; cmp Rq(ra), hlimit
                    ; jae =>slow
                    ; mov scratch, [state + off::HEAP_WRITTEN]
                    ; cmp BYTE [scratch + Rq(ra)], 0
                    ; je =>first
                ),
                _ => unreachable!("a non-constant address is in a register"),
            }
            write(ops);
            asm!(ops; jmp =>join);
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
            mark(ops);
            match (addr_const, addr) {
                (Some(c), _) => asm!(ops; cmp QWORD [state + off::HEAP_PREFIX], c as i32),
                (None, Src::Reg(ra)) => asm!(ops; cmp Rq(ra), [state + off::HEAP_PREFIX]),
                _ => unreachable!("a non-constant address is in a register"),
            }
            asm!(ops
                ; jne =>counted
                ; add QWORD [state + off::HEAP_PREFIX], 1
                ; =>counted
            );
            write(ops);
            asm!(ops; jmp =>join);
            // Outside the native dense cells.
            asm!(ops; =>slow);
            emit_to_shared(ops, off::ARG0, arg_addr);
            emit_to_shared(ops, off::ARG1, v);
            emit_host_call(ops, &live, runtime::host_store as *const () as usize);
            asm!(ops
                ; mov cells, [state + off::HEAP_CELLS]
                ; mov hlimit, [state + off::HEAP_LIMIT]
            );
            emit_host_status(ops, stub, failed);
            asm!(ops; jmp =>join);
        }));
        self.release(v);
        self.release(a);
        true
    }

    /// `retrieve`: dense cells inline, everything else through a host call.
    pub(super) fn retrieve(&mut self, k: usize) -> bool {
        let ja = self.nth(0);
        let Some(addr_const) = self.constant_address(ja, k) else {
            return false;
        };
        let pinned = if addr_const.is_none() { vec![self.in_reg(ja)] } else { vec![] };
        let r = self.alloc_avoiding(&pinned);
        let stub = self.exit_stub(k);
        let live = self.live();
        let failed = self.failed;
        let a = self.pop();
        let slow = self.ops.new_dynamic_label();
        let join = self.ops.new_dynamic_label();
        let addr = match (addr_const, a) {
            (None, Src::Reg(ra)) => Some(self.masked(ra)),
            _ => None,
        };
        let ops = &mut self.ops;
        match (addr_const, addr) {
            (Some(c), _) => {
                let c32 = c as i32;
                asm!(ops
                    ; cmp hlimit, c32
                    ; jbe =>slow
                    ; mov Rq(r), [cells + c32 * 8]
                );
            }
            (None, Some(ra)) => asm!(ops
                ; cmp Rq(ra), hlimit
                ; jae =>slow
                ; mov Rq(r), [cells + Rq(ra) * 8]
            ),
            _ => unreachable!("a non-constant address is in a register"),
        }
        asm!(ops; =>join);
        let arg_addr = match (addr_const, addr) {
            (Some(c), _) => Src::Imm(c),
            (None, Some(ra)) => Src::Reg(ra),
            _ => unreachable!("a non-constant address is in a register"),
        };
        self.deferred.push(Box::new(move |ops: &mut Assembler| {
            asm!(ops; =>slow);
            emit_to_shared(ops, off::ARG0, arg_addr);
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
