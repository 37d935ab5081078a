//! The virtual stack and its register cache: which of a block's top stack items are in
//! registers, which are constants not yet written, and which are in memory at their own slot.
//!
//! Instructions move, fold and combine these entries without touching memory; memory is
//! written only when a block ends, a register is needed (the deepest cached register is
//! spilled), or the window grows past `MAX_WINDOW` items. Invariants it keeps (safety model
//! item 3 in the module docs):
//! - a cached item marked `Mem` is in memory at its own slot, and memory slots are written
//!   only with the item that lives there;
//! - `refs[r]` counts the window entries (and popped operands not yet released) that name
//!   register `r`: a register is allocated only when its count is 0, so an instruction
//!   computes into freshly allocated registers and the registers an exit descriptor names
//!   still hold their values when the exit is taken;
//! - `delta` follows the block analysis's depth, between `-needs` and `growth` (debug
//!   asserted), so every slot the window names is within the block's checked reach.

use dynasmrt::x64::Assembler;
use dynasmrt::{DynasmApi, dynasm};

use super::code::Slot;
use super::{CACHE, Compiler, RAX, RDX, fits_i32};
use crate::jit::coverage::{self, Decision, Form};

/// Cached items beyond this many are written to memory (bounds compile time per instruction).
const MAX_WINDOW: usize = 16;

/// An operand as an instruction reads it.
#[derive(Clone, Copy, Debug)]
pub(super) enum Src {
    Reg(u8),
    Imm(i64),
    /// `[vsp + disp]`.
    Mem(i32),
}

impl Src {
    /// How the operand is encoded (for the coverage counts).
    pub(super) fn form(self) -> Form {
        match self {
            Src::Reg(_) => Form::Register,
            Src::Mem(_) => Form::Memory,
            Src::Imm(v) if fits_i32(v) => Form::Imm32,
            Src::Imm(_) => Form::Imm64,
        }
    }
}

pub(super) fn emit_mov(ops: &mut Assembler, dst: u8, src: Src) {
    coverage::hit_if(
        matches!(src, Src::Imm(_)),
        Decision::pick(
            src.form() == Form::Imm32,
            Decision::MaterialiseImm32,
            Decision::MaterialiseImm64,
        ),
    );
    match src {
        Src::Reg(s) if s == dst => {}
        Src::Reg(s) => asm!(ops; mov Rq(dst), Rq(s)),
        Src::Imm(v) if fits_i32(v) => asm!(ops; mov Rq(dst), v as i32),
        Src::Imm(v) => asm!(ops; mov Rq(dst), QWORD v),
        Src::Mem(d) => asm!(ops; mov Rq(dst), [vsp + d]),
    }
}

/// Writes `slot` to value-stack slot `pos` (relative to `vsp`) if memory does not hold it.
pub(super) fn emit_store_slot(ops: &mut Assembler, pos: i32, slot: Slot) {
    let d = pos * 8;
    coverage::hit_if(
        matches!(slot, Slot::Imm(_)),
        Decision::pick(
            matches!(slot, Slot::Imm(v) if fits_i32(v)),
            Decision::WriteSlotImm32,
            Decision::WriteSlotImm64,
        ),
    );
    match slot {
        Slot::Mem | Slot::Reg(_, true) => {}
        Slot::Reg(r, false) => asm!(ops; mov [vsp + d], Rq(r)),
        Slot::Imm(v) if fits_i32(v) => asm!(ops; mov QWORD [vsp + d], v as i32),
        Slot::Imm(v) => asm!(ops; mov scratch, QWORD v; mov [vsp + d], scratch),
    }
}

impl Compiler<'_> {
    /// Position (slot offset from `vsp`) of window entry `j`.
    pub(super) fn pos(&self, j: usize) -> i32 {
        self.delta - self.window.len() as i32 + j as i32
    }

    /// Makes the window hold at least `n` items.
    pub(super) fn ensure(&mut self, n: usize) {
        if self.window.len() < n {
            let missing = n - self.window.len();
            self.window.splice(0..0, std::iter::repeat_n(Slot::Mem, missing));
        }
    }

    /// The window index of the item `k` from the top.
    pub(super) fn nth(&mut self, k: usize) -> usize {
        self.ensure(k + 1);
        self.window.len() - 1 - k
    }

    pub(super) fn src(&self, j: usize) -> Src {
        match self.window[j] {
            Slot::Mem => Src::Mem(self.pos(j) * 8),
            Slot::Reg(r, _) => Src::Reg(r),
            Slot::Imm(v) => Src::Imm(v),
        }
    }

    pub(super) fn push(&mut self, slot: Slot) {
        if let Slot::Reg(r, _) = slot {
            self.refs[r as usize] += 1;
        }
        self.window.push(slot);
        self.delta += 1;
        debug_assert!(
            self.delta as isize <= self.block.growth as isize,
            "the virtual stack grew past the block's analysed growth"
        );
    }

    /// Pops the top item; its register reference stays held until `release`.
    pub(super) fn pop(&mut self) -> Src {
        let j = self.nth(0);
        let src = self.src(j);
        self.window.pop();
        self.delta -= 1;
        debug_assert!(
            -(self.delta as isize) <= self.block.needs as isize,
            "the virtual stack shrank past the block's analysed needs"
        );
        src
    }

    pub(super) fn release(&mut self, src: Src) {
        if let Src::Reg(r) = src {
            self.refs[r as usize] -= 1;
        }
    }

    /// A free cache register (not in `avoid`), writing cached items to memory if needed.
    pub(super) fn alloc_avoiding(&mut self, avoid: &[u8]) -> u8 {
        loop {
            if let Some(&r) =
                CACHE.iter().find(|&&r| self.refs[r as usize] == 0 && !avoid.contains(&r))
            {
                return r;
            }
            // A register only a known heap cell holds is given up first.
            if self.forget_a_cell_register() {
                continue;
            }
            // Spill the deepest cached register.
            coverage::hit(Decision::Spill);
            let j = self
                .window
                .iter()
                .position(|s| matches!(s, Slot::Reg(r, _) if !avoid.contains(r)))
                .expect("the register cache holds a window register");
            let pos = self.pos(j);
            emit_store_slot(&mut self.ops, pos, self.window[j]);
            if let Slot::Reg(r, _) = self.window[j] {
                self.refs[r as usize] -= 1;
            }
            self.window[j] = Slot::Mem;
        }
    }

    pub(super) fn alloc(&mut self) -> u8 {
        self.alloc_avoiding(&[])
    }

    /// Loads window entry `j` into a register if it is in memory.
    pub(super) fn load(&mut self, j: usize) {
        self.load_avoiding(j, &[]);
    }

    /// Loads window entry `j` into a register, without disturbing the registers in `avoid`.
    pub(super) fn load_avoiding(&mut self, j: usize, avoid: &[u8]) {
        if self.window[j] == Slot::Mem {
            let r = self.alloc_avoiding(avoid);
            let d = self.pos(j) * 8;
            let ops = &mut self.ops;
            asm!(ops; mov Rq(r), [vsp + d]);
            self.window[j] = Slot::Reg(r, true);
            self.refs[r as usize] += 1;
        }
    }

    /// Makes window entry `j` a register (loading memory or materialising a constant).
    pub(super) fn in_reg(&mut self, j: usize) -> u8 {
        self.in_reg_avoiding(j, &[])
    }

    /// Like `in_reg`, without disturbing the registers in `avoid`.
    pub(super) fn in_reg_avoiding(&mut self, j: usize, avoid: &[u8]) -> u8 {
        match self.window[j] {
            Slot::Reg(r, _) => r,
            Slot::Mem => {
                self.load_avoiding(j, avoid);
                self.in_reg_avoiding(j, avoid)
            }
            Slot::Imm(v) => {
                let r = self.alloc_avoiding(avoid);
                emit_mov(&mut self.ops, r, Src::Imm(v));
                self.window[j] = Slot::Reg(r, false);
                self.refs[r as usize] += 1;
                r
            }
        }
    }

    /// Moves whatever the window holds in `reg` to another register.
    pub(super) fn evict(&mut self, reg: u8) {
        if self.refs[reg as usize] == 0 {
            return;
        }
        let to = self.alloc_avoiding(&[RAX, RDX]);
        if self.refs[reg as usize] == 0 {
            return;
        }
        coverage::hit(Decision::Evict);
        let ops = &mut self.ops;
        asm!(ops; mov Rq(to), Rq(reg));
        for s in self.window.iter_mut().chain(self.known_cells.iter_mut().map(|(_, s)| s)) {
            if let Slot::Reg(r, clean) = *s {
                if r == reg {
                    *s = Slot::Reg(to, clean);
                }
            }
        }
        self.refs[to as usize] = self.refs[reg as usize];
        self.refs[reg as usize] = 0;
    }

    /// Cache registers in use.
    pub(super) fn live(&self) -> Vec<u8> {
        CACHE.iter().copied().filter(|&r| self.refs[r as usize] > 0).collect()
    }

    /// Writes every cached item to memory and moves `vsp` to the virtual top.
    pub(super) fn flush(&mut self) {
        for j in 0..self.window.len() {
            let pos = self.pos(j);
            emit_store_slot(&mut self.ops, pos, self.window[j]);
            if let Slot::Reg(r, _) = self.window[j] {
                self.refs[r as usize] -= 1;
            }
        }
        self.window.clear();
        if let Some(moved) = &mut self.moved {
            *moved += self.delta;
        }
        if self.delta != 0 {
            let d = self.delta * 8;
            let ops = &mut self.ops;
            asm!(ops; lea vsp, [vsp + d]);
            self.delta = 0;
        }
    }

    /// Drops leading in-memory entries and bounds the window.
    pub(super) fn trim(&mut self) {
        let lead = self.window.iter().take_while(|s| **s == Slot::Mem).count();
        if lead > 0 {
            self.window.drain(..lead);
        }
        while self.window.len() > MAX_WINDOW {
            coverage::hit(Decision::WindowBound);
            let pos = self.pos(0);
            emit_store_slot(&mut self.ops, pos, self.window[0]);
            if let Slot::Reg(r, _) = self.window[0] {
                self.refs[r as usize] -= 1;
            }
            self.window.remove(0);
        }
    }
}
