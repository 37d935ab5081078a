//! Straight-line fragments: the choice of a [`Fragment`] to emit and the single instructions
//! (`push`, stack, arithmetic, heap, print, read, labels, `end`) with arguments chosen for the
//! current stack depth.
//!
//! Invariant: a fragment leaves `depth` equal to the stack depth its code produces when it
//! runs without trapping, and never takes items from below the floor it is given (what an
//! enclosing block relies on), except when it sets up a deliberate trap.

use num_bigint::{BigInt, Sign};

use super::builder::Builder;
use super::input::Read;
use super::knobs::Fragment;
use super::values::{GOOD_CHARS, bad_char, divisor, literal, pow2, wild_index};
use crate::program::Instruction;

impl Builder<'_> {
    /// Emits one fragment of kind `f` above `floor`, structured ones within about `room`
    /// instructions.
    pub(super) fn fragment(&mut self, f: Fragment, floor: usize, room: usize) {
        match f {
            Fragment::Push => {
                let v = literal(&mut self.rng, self.wide);
                self.push(v);
            }
            Fragment::Stack => self.stack_op(floor),
            Fragment::Arith => self.arith(floor),
            Fragment::DivMod => self.div_mod(floor),
            Fragment::Heap => self.heap_op(floor),
            Fragment::Print => self.print(floor),
            Fragment::Read => self.read(),
            Fragment::Branch => self.branch(floor, room),
            Fragment::Jump => self.jump(floor),
            Fragment::Loop => self.counted_loop(room),
            Fragment::HeapLoop => self.heap_loop(room),
            Fragment::Call => self.call(false),
            Fragment::Recursion => self.call(true),
            Fragment::Label => self.label(),
            Fragment::End => self.end(),
            Fragment::DeepStack => self.deep_stack(floor),
            Fragment::Wide => self.wide(),
            Fragment::HeapWalk => self.heap_walk(),
            Fragment::BigLoop => self.big_loop(),
            Fragment::Burst => self.burst(floor),
            Fragment::Route => self.route(),
            Fragment::Straight => self.straight(floor),
        }
    }

    /// `add`, `sub` or `mul`, often with a fresh literal operand.
    fn arith(&mut self, floor: usize) {
        if self.rng.chance(0.5) || self.depth < floor + 2 {
            self.ensure(1, floor);
            let v = literal(&mut self.rng, self.wide);
            self.push(v);
        }
        let op = [Instruction::Add, Instruction::Sub, Instruction::Mul][self.rng.index(3)].clone();
        self.emit(op);
        self.depth -= 1;
    }

    /// `div` or `mod` by a nonzero divisor, zero at the trap rate, or `i64::MIN div -1`.
    fn div_mod(&mut self, floor: usize) {
        self.ensure(1, floor);
        if self.rng.below(12) == 0 {
            // The one quotient that overflows i64 (and faults in hardware).
            self.push(BigInt::from(i64::MIN));
            self.push_i(-1);
        } else if self.trap() {
            self.push_i(0);
        } else if self.rng.chance(0.7) || self.depth < floor + 2 {
            let d = divisor(&mut self.rng, self.wide);
            self.push(d);
        }
        let op = if self.rng.chance(0.5) { Instruction::Div } else { Instruction::Mod };
        self.emit(op);
        self.depth -= 1;
    }

    /// `printc` of a valid (at the trap rate invalid) character, or `printi` of the top.
    fn print(&mut self, floor: usize) {
        if self.rng.chance(0.5) {
            let c = if self.trap() {
                bad_char(&mut self.rng)
            } else {
                BigInt::from(*self.rng.pick(&GOOD_CHARS))
            };
            self.push(c);
            self.emit(Instruction::PrintC);
        } else {
            self.ensure(1, floor);
            self.emit(Instruction::PrintI);
        }
        self.depth -= 1;
    }

    /// `readc` or `readi` to a heap address, sometimes printed back.
    fn read(&mut self) {
        let a = self.addr();
        self.push(a.clone());
        let kind = if self.rng.chance(0.5) { Read::Char } else { Read::Number };
        self.reads.push(kind);
        self.emit(match kind {
            Read::Char => Instruction::ReadC,
            Read::Number => Instruction::ReadI,
        });
        self.depth -= 1;
        if self.rng.chance(0.6) {
            self.push(a);
            self.emit(Instruction::Retrieve);
            let print = if kind == Read::Char { Instruction::PrintC } else { Instruction::PrintI };
            self.emit(print);
            self.depth -= 1;
        }
    }

    /// A label definition: of a pool label jumps already name, a duplicate, or a fresh one.
    fn label(&mut self) {
        let undefined = self.pool.iter().position(|(_, d)| !d);
        match undefined {
            Some(i) if self.rng.chance(0.7) => {
                self.pool[i].1 = true;
                let l = self.pool[i].0.clone();
                self.emit(Instruction::Label(l));
            }
            _ if !self.pool.is_empty() && self.rng.chance(0.3) => {
                // A duplicate definition: the first one must stay the target.
                let l = self.rng.pick(&self.pool).0.clone();
                self.emit(Instruction::Label(l));
            }
            _ => {
                let l = self.fresh_label();
                self.pool.push((l.clone(), true));
                self.emit(Instruction::Label(l));
            }
        }
    }

    /// `end` in the middle (`ret` without a call at the trap rate).
    fn end(&mut self) {
        // What follows is reached only by a jump, at whatever depth the jump had.
        self.exact = false;
        if self.trap() {
            self.emit(Instruction::Ret);
        } else {
            self.emit(Instruction::End);
        }
    }

    fn stack_op(&mut self, floor: usize) {
        match self.rng.below(6) {
            0 => {
                self.ensure(1, floor);
                self.emit(Instruction::Dup);
                self.depth += 1;
            }
            1 | 2 => {
                self.ensure(1, floor);
                let n = if self.trap() {
                    wild_index(&mut self.rng, self.depth)
                } else if self.rng.chance(0.3) {
                    BigInt::from(self.relative_count())
                } else {
                    BigInt::from(self.rng.index(self.depth))
                };
                if let Ok(count) = usize::try_from(&n) {
                    self.note_reach(count, false);
                }
                self.emit(Instruction::Copy(n));
                self.depth += 1;
            }
            3 => {
                self.ensure(2, floor);
                self.emit(Instruction::Swap);
            }
            4 => {
                if self.trap() && self.depth == 0 {
                    self.emit(Instruction::Drop);
                    return;
                }
                self.ensure(1, floor);
                self.emit(Instruction::Drop);
                self.depth -= 1;
            }
            _ => {
                self.ensure(2, floor);
                let avail = self.depth - floor;
                let n = match self.rng.below(10) {
                    // Negative: removes nothing.
                    0 => -BigInt::from(1 + self.rng.below(3)),
                    1 => -pow2(63 + self.rng.below(3) as u32),
                    // Huge (only where nothing below matters): removes everything below.
                    2 if floor == 0 => wild_index(&mut self.rng, self.depth),
                    // Relative to the depth: all of it and one more (only where nothing
                    // below matters), or just short of the floor.
                    3 | 4 if floor == 0 => BigInt::from(self.depth - 2 + self.rng.index(4).min(3)),
                    3 | 4 => BigInt::from(avail - 1 - self.rng.index(2.min(avail))),
                    _ => BigInt::from(self.rng.index(avail)),
                };
                if let Ok(count) = usize::try_from(&n) {
                    self.note_reach(count, true);
                }
                let removed = if n.sign() == Sign::Minus {
                    0
                } else {
                    usize::try_from(&n).map_or(self.depth - 1, |k| k.min(self.depth - 1))
                };
                self.emit(Instruction::Slide(n));
                self.depth -= removed;
            }
        }
    }

    /// A `copy` count chosen relative to the depth: the bottom item or the one above it, or a
    /// count near the JIT's window (16) or static reach (48) when the stack is that deep.
    pub(super) fn relative_count(&mut self) -> usize {
        let d = self.depth;
        let near = |b: &mut Self, c: usize| (c - 2 + b.rng.index(5)).min(d - 1);
        match self.rng.below(4) {
            0 if d > 18 => near(self, 16),
            1 if d > 50 => near(self, 48),
            _ => d - 1 - self.rng.index(2.min(d)),
        }
    }

    /// Records a `copy`/`slide` count and the depth it met.
    pub(super) fn note_reach(&mut self, count: usize, slide: bool) {
        let (depth, exact) = (self.depth, self.exact);
        self.note(super::builder::Shape::Reach { count, depth, slide, exact });
    }

    fn heap_op(&mut self, floor: usize) {
        let a = self.addr();
        match self.rng.below(5) {
            0 | 1 => {
                self.push(a);
                let v = literal(&mut self.rng, self.wide);
                self.push(v);
                self.emit(Instruction::Store);
                self.depth -= 2;
            }
            2 => {
                // Store a computed value.
                self.ensure(1, floor);
                self.push(a);
                self.emit(Instruction::Swap);
                self.emit(Instruction::Store);
                self.depth -= 2;
            }
            _ => {
                self.push(a);
                self.emit(Instruction::Retrieve);
            }
        }
    }
}
