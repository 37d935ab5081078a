//! Control-flow fragments: `if`/`if-else`, wild jumps, counted loops (counter on the stack or
//! in the heap), and calls of plain and recursive subroutines.
//!
//! Invariant: every label these fragments jump to is defined (fresh labels by the fragment
//! itself, pool labels by [`Builder::build`], subroutine labels by
//! [`Builder::functions_code`]) unless [`super::Knobs::undefined_label_rate`] chose an
//! undefined one; a structured fragment ends at the stack depth it started at, plus any
//! value it leaves on purpose.

use num_bigint::BigInt;

use super::builder::{Builder, Function, MAX_FUNCTIONS};
use super::values::{literal, pow2};
use crate::program::{Instruction, Label};

impl Builder<'_> {
    /// A condition on top of the stack: computed (the current top) or a literal.
    pub(super) fn condition(&mut self, floor: usize) {
        if self.depth > floor && self.rng.chance(0.5) {
            return;
        }
        let v = match self.rng.below(4) {
            0 => BigInt::from(0),
            1 => BigInt::from(-1),
            2 => BigInt::from(1),
            _ => literal(&mut self.rng, self.wide),
        };
        self.push(v);
    }

    pub(super) fn conditional(&mut self, label: Label) -> Instruction {
        if self.rng.chance(0.5) { Instruction::Jz(label) } else { Instruction::Jn(label) }
    }

    pub(super) fn jump_label(&mut self, fresh: impl FnOnce(&mut Self) -> Label) -> Label {
        if self.rng.chance(self.knobs.undefined_label_rate) {
            self.undefined_label()
        } else {
            fresh(self)
        }
    }

    pub(super) fn branch(&mut self, floor: usize, room: usize) {
        self.condition(floor);
        let skip = self.fresh_label();
        let target = self.jump_label(|_| skip.clone());
        let jump = self.conditional(target);
        self.emit(jump);
        self.depth -= 1;
        let inner = 1 + self.rng.index(room.clamp(1, 12));
        if self.rng.chance(0.4) {
            // if-else: jz ELSE; A; jmp JOIN; ELSE: B; JOIN:
            let join = self.fresh_label();
            self.nested(inner);
            self.emit(Instruction::Jmp(join.clone()));
            self.emit(Instruction::Label(skip));
            self.nested(inner);
            self.emit(Instruction::Label(join));
        } else {
            self.nested(inner);
            self.emit(Instruction::Label(skip));
        }
    }

    pub(super) fn jump(&mut self, floor: usize) {
        // Code after a jump's target (or after this point, when the jump goes back) may be
        // reached at another depth.
        self.exact = false;
        let target = self.jump_label(|b| {
            if !b.pool.is_empty() && b.rng.chance(0.6) {
                b.rng.pick(&b.pool).0.clone()
            } else {
                let l = b.fresh_label();
                b.pool.push((l.clone(), false));
                l
            }
        });
        match self.rng.below(3) {
            0 => self.emit(Instruction::Jmp(target)),
            _ => {
                self.condition(floor);
                let j = self.conditional(target);
                self.emit(j);
                self.depth -= 1;
            }
        }
    }

    pub(super) fn loop_count(&mut self) -> BigInt {
        match self.rng.below(20) {
            0 => BigInt::from(-1 - self.rng.range(0, 3)),
            1 => BigInt::from(1000),
            2 => pow2(64),
            _ => BigInt::from(self.rng.range(0, 8)),
        }
    }

    /// `push n; TOP: dup; jz EXIT; body; push 1; sub; jmp TOP; EXIT: drop`.
    pub(super) fn counted_loop(&mut self, room: usize) {
        let top = self.fresh_label();
        let exit = self.fresh_label();
        let n = self.loop_count();
        self.push(n);
        self.emit(Instruction::Label(top.clone()));
        self.emit(Instruction::Dup);
        self.emit(Instruction::Jz(exit.clone()));
        let inner = 1 + self.rng.index(room.clamp(1, 16));
        self.nested(inner);
        if self.rng.chance(0.5) {
            self.emit(Instruction::Push(BigInt::from(1)));
            self.emit(Instruction::Sub);
        } else {
            self.emit(Instruction::Push(BigInt::from(-1)));
            self.emit(Instruction::Add);
        }
        let back = self.jump_label(|_| top);
        self.emit(Instruction::Jmp(back));
        self.emit(Instruction::Label(exit));
        self.emit(Instruction::Drop);
        self.depth -= 1;
    }

    /// A loop whose counter lives in the heap: `heap[a] = n; TOP: if heap[a] == 0 goto EXIT;
    /// body; heap[a] -= 1; goto TOP; EXIT:`.
    pub(super) fn heap_loop(&mut self, room: usize) {
        let a = self.rng.pick(&self.addrs).clone();
        let top = self.fresh_label();
        let exit = self.fresh_label();
        let n = self.loop_count();
        self.emit(Instruction::Push(a.clone()));
        self.emit(Instruction::Push(n));
        self.emit(Instruction::Store);
        self.emit(Instruction::Label(top.clone()));
        self.emit(Instruction::Push(a.clone()));
        self.emit(Instruction::Retrieve);
        self.emit(Instruction::Jz(exit.clone()));
        let inner = 1 + self.rng.index(room.clamp(1, 16));
        self.nested(inner);
        self.emit(Instruction::Push(a.clone()));
        self.emit(Instruction::Push(a));
        self.emit(Instruction::Retrieve);
        self.emit(Instruction::Push(BigInt::from(1)));
        self.emit(Instruction::Sub);
        self.emit(Instruction::Store);
        self.emit(Instruction::Jmp(top));
        self.emit(Instruction::Label(exit));
    }

    pub(super) fn call(&mut self, recursive: bool) {
        // Subroutines are written later and may jump anywhere.
        self.exact = false;
        if !recursive && self.rng.chance(0.3) {
            self.leaf_call();
            return;
        }
        let existing: Vec<usize> = (0..self.functions.len())
            .filter(|&i| self.functions[i].recursive == recursive && !self.functions[i].leaf)
            .collect();
        let index = if self.functions.len() >= MAX_FUNCTIONS {
            // Subroutine bodies call subroutines: bound their number.
            self.rng.index(self.functions.len())
        } else if !existing.is_empty() && (self.functions.len() >= 6 || self.rng.chance(0.5)) {
            *self.rng.pick(&existing)
        } else {
            let label = self.fresh_label();
            let depth = self.depth + usize::from(recursive);
            self.functions.push(Function { label, depth, recursive, leaf: false });
            self.functions.len() - 1
        };
        let label = self.functions[index].label.clone();
        let recursive = self.functions[index].recursive;
        let target = self.jump_label(|_| label);
        if recursive {
            let n = match self.rng.below(12) {
                0 => BigInt::from(-1),
                1 => BigInt::from(200),
                // Deeper than the machine stack the JIT's native calls may use (4096 frames
                // of 16 bytes):
                // calls past it are made by the stepper. Each level runs about a dozen
                // instructions on the way down.
                2 if self.rng.chance(0.5) => {
                    self.need_fuel(60_000);
                    BigInt::from(5000)
                }
                _ => BigInt::from(self.rng.range(0, 6)),
            };
            self.push(n);
            self.emit(Instruction::Call(target));
            self.emit(Instruction::Drop);
            self.depth -= 1;
        } else {
            self.emit(Instruction::Call(target));
        }
    }
}

impl Builder<'_> {
    /// A call to the leaf function (made at the first such call): a value in -3..=3 by a
    /// route, `call`, and the result observed. The optimising tier compiles the call into
    /// the caller's block with the function's first block, and the function's `jn` into a
    /// copy of the block it goes to, made for that call (`jit/compile/inline.rs`); called
    /// from a subroutine, that happens inside a native call.
    fn leaf_call(&mut self) {
        let index = match self.functions.iter().position(|f| f.leaf) {
            Some(i) => i,
            None if self.functions.len() < MAX_FUNCTIONS => {
                let label = self.fresh_label();
                let depth = self.depth + 1;
                self.functions.push(Function { label, depth, recursive: false, leaf: true });
                self.functions.len() - 1
            }
            // No room for it: a plain value instead.
            None => {
                let v = self.rng.range(-3, 3);
                self.push_i(v);
                self.observe();
                return;
            }
        };
        let label = self.functions[index].label.clone();
        let target = self.jump_label(|_| label);
        let v = BigInt::from(self.rng.range(-3, 3));
        let route = self.any_route();
        self.push_by(&v, route);
        self.emit(Instruction::Call(target));
        self.note(super::builder::Shape::LeafCall);
        self.observe();
    }
}
