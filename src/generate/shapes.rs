//! The big program shapes, each aimed at a limit of the JIT's design: deep stacks with far
//! `copy`/`slide` (past the static reach and the native block's reach), wide expressions
//! (more live values than registers and than the window), heap walks across the dense/sparse
//! boundary, loops whose values leave and re-enter the 64-bit range, bursts of pushes longer
//! than the window, long straight-line runs, and (rarely, [`super::Knobs::long_block_rate`])
//! one block beyond the JIT's reach or length limit.
//!
//! Invariant: like every fragment, a shape leaves `depth` equal to the depth its code produces
//! when it runs without trapping (a loop's effect is added for its literal count), takes no
//! item from below its floor, and asks ([`Builder::need_fuel`]) for the fuel it needs to run
//! to its end, so that its far accesses do run.

use num_bigint::BigInt;

use super::builder::{Builder, Shape};
use super::knobs::Fragment;
use super::values::{far_address, literal, near_power, pow2, wild_index};
use crate::program::Instruction;

/// The JIT's window of cached stack items (`MAX_WINDOW` in `jit/compile/vstack.rs`).
const WINDOW: usize = 16;

/// The JIT's register cache (`CACHE` in `jit/compile.rs`).
const REGISTERS: usize = 8;

/// The most stack items one native block reaches (`MAX_REACH` in `jit/blocks.rs`).
const BLOCK_REACH: usize = 1 << 12;

/// The most instructions of one native block (`MAX_BLOCK_LEN` in `jit/blocks.rs`).
const BLOCK_LEN: usize = 1 << 16;

/// The dense heap's constant slack (`DENSE_SLACK` in `jit/runtime.rs`): with few cells
/// written, addresses at or above it are sparse.
const DENSE_SLACK: u64 = 1 << 16;

impl Builder<'_> {
    /// `push n; TOP: dup; jz EXIT; BODY; push 1; sub; jmp TOP; EXIT: drop`, the counter on
    /// top during `body`, which must leave it there. Asks for `per_iteration` fuel per round.
    fn count_down(&mut self, n: usize, per_iteration: u64, body: impl FnOnce(&mut Self)) {
        let (top, exit) = (self.fresh_label(), self.fresh_label());
        self.push(BigInt::from(n));
        self.emit(Instruction::Label(top.clone()));
        self.emit(Instruction::Dup);
        self.emit(Instruction::Jz(exit.clone()));
        body(self);
        self.emit(Instruction::Push(BigInt::from(1)));
        self.emit(Instruction::Sub);
        self.emit(Instruction::Jmp(top));
        self.emit(Instruction::Label(exit));
        self.emit(Instruction::Drop);
        self.depth -= 1;
        self.need_fuel((per_iteration + 7) * (n as u64 + 1));
    }

    /// A deep stack: grows it by a loop when it is shallow, then reaches far down.
    pub(super) fn deep_stack(&mut self, floor: usize) {
        let start = self.depth;
        if self.depth < 64 {
            // 64..3000 items, log-uniform: n, n-1, ..., 1 (distinct, so an off-by-one shows).
            let bits = 6 + self.rng.below(6) as u32;
            let n = ((1usize << bits) + self.rng.index(1 << bits)).min(3000);
            // [c] -> [c, c] -> (the loop's decrement) [c, c - 1].
            self.count_down(n, 1, |b| b.emit(Instruction::Dup));
            self.depth += n;
            self.note(Shape::DeepStack { items: n });
        }
        for _ in 0..1 + self.rng.index(4) {
            self.far_reach(floor);
        }
        if self.rng.chance(0.5) && self.depth > start + 1 {
            // Back to where it started: `slide` far, then `drop`.
            let n = self.depth - start - 1;
            self.note_reach(n, true);
            self.emit(Instruction::Slide(BigInt::from(n)));
            self.emit(Instruction::Drop);
            self.depth = start;
        }
    }

    /// One far `copy` (printed or stored) or `slide` on a deep stack.
    fn far_reach(&mut self, floor: usize) {
        let d = self.depth;
        if d < 2 {
            return;
        }
        if self.trap() {
            // Exactly the depth or one more (stack-underflow where the depth is known), or a
            // wild count on a stack deep enough for a far address to be formed.
            self.note_reach(d, false);
            let n = if self.rng.chance(0.5) {
                BigInt::from(d + self.rng.index(2))
            } else {
                wild_index(&mut self.rng, d)
            };
            self.emit(Instruction::Copy(n));
            self.depth += 1;
            return;
        }
        let count = match self.rng.below(7) {
            0 => d - 1,
            1 => d - 2,
            2 if d > 50 => 49 + self.rng.index(d - 50),
            3 if d > 50 => 46 + self.rng.index(5),
            4 if d > BLOCK_REACH + 3 => BLOCK_REACH - 2 + self.rng.index(5),
            5 if d > 18 => 14 + self.rng.index(5),
            _ => self.rng.index(d),
        }
        .min(d - 1);
        let avail = d - floor;
        if self.rng.chance(0.25) && avail > 2 {
            // slide away part of the stack (never below the floor), then look below the top.
            let n = count.min(avail - 2);
            self.note_reach(n, true);
            self.emit(Instruction::Slide(BigInt::from(n)));
            self.depth -= n;
            self.emit(Instruction::Copy(BigInt::from(1)));
            self.depth += 1;
        } else {
            self.note_reach(count, false);
            self.emit(Instruction::Copy(BigInt::from(count)));
            self.depth += 1;
        }
        self.observe();
    }

    /// Uses the top item so that its value reaches the outcome: printed, stored and retrieved
    /// and printed, or tested by a branch that prints.
    pub(super) fn observe(&mut self) {
        match self.rng.below(8) {
            0 | 1 => {
                let a = self.scratch.clone();
                self.push(a.clone());
                self.emit(Instruction::Swap);
                self.emit(Instruction::Store);
                self.depth -= 2;
                if self.rng.chance(0.2) {
                    // Across a block boundary: the retrieve cannot be forwarded.
                    let l = self.fresh_label();
                    self.emit(Instruction::Label(l));
                }
                self.push(a);
                self.emit(Instruction::Retrieve);
                self.emit(Instruction::PrintI);
                self.depth -= 1;
            }
            2 => {
                // dup; jn NEG; push '+'; printc; NEG: printi
                let neg = self.fresh_label();
                self.emit(Instruction::Dup);
                let j = if self.rng.chance(0.5) {
                    Instruction::Jn(neg.clone())
                } else {
                    Instruction::Jz(neg.clone())
                };
                self.emit(j);
                self.emit(Instruction::Push(BigInt::from('+' as u32)));
                self.emit(Instruction::PrintC);
                self.emit(Instruction::Label(neg));
                self.emit(Instruction::PrintI);
                self.depth -= 1;
            }
            _ => {
                self.emit(Instruction::PrintI);
                self.depth -= 1;
            }
        }
    }

    /// A wide expression: 9..=24 values live at once, then folded and printed.
    pub(super) fn wide(&mut self) {
        let live = REGISTERS + 1 + self.rng.index(WINDOW);
        for _ in 0..live {
            match self.rng.below(4) {
                // A register: a copy of an item already pushed (loaded), or a computed one.
                0 if self.depth > 0 => {
                    let n = self.rng.index(self.depth.min(live));
                    self.emit(Instruction::Copy(BigInt::from(n)));
                    self.depth += 1;
                }
                1 => {
                    let a = self.scratch.clone();
                    self.push(a);
                    self.emit(Instruction::Retrieve);
                }
                _ => {
                    let v = literal(&mut self.rng, self.wide);
                    self.push(v);
                }
            }
            if self.rng.chance(0.15) {
                // Combine the top two into a register value (keeps the count of live ones).
                self.emit(Instruction::Dup);
                self.emit(Instruction::Add);
            }
        }
        for _ in 1..live {
            if self.rng.chance(0.2) {
                self.emit(Instruction::Swap);
            }
            let op = match self.rng.below(8) {
                0 => Instruction::Mul,
                1..4 => Instruction::Sub,
                _ => Instruction::Add,
            };
            self.emit(op);
            self.depth -= 1;
        }
        self.note(Shape::Wide { live });
        self.observe();
    }

    /// A heap walk: a high cell first (sparse), then a dense run ascending over it, then the
    /// cells at and around the run's ends, the high cell, and the constant-displacement edge.
    pub(super) fn heap_walk(&mut self) {
        // Strides below 4: the dense region (4 cells per written cell) outgrows the walk, so
        // it grows a few times, not at every store (at stride 4 each store would regrow it,
        // copying 64K cells: correct, but it halved the fuzzer's throughput).
        let stride = *self.rng.pick(&[1u64, 1, 1, 2, 3]);
        let excess = self.rng.below(160);
        let high = DENSE_SLACK + excess;
        let from = DENSE_SLACK - 1 - self.rng.below(48);
        // Enough iterations to pass `high` by a few cells.
        let n = ((high - from) / stride + 2 + self.rng.below(6)) as usize;
        let to = from + stride * (n as u64 - 1);
        let v = literal(&mut self.rng, self.wide);
        self.push(BigInt::from(high));
        self.push(v);
        self.emit(Instruction::Store);
        self.depth -= 2;
        // c = n..1: heap[to - stride * (c - 1)] = c, so addresses ascend from `from` to `to`.
        self.count_down(n, 10, |b| {
            b.emit(Instruction::Dup);
            b.emit(Instruction::Push(BigInt::from(stride)));
            b.emit(Instruction::Mul);
            b.emit(Instruction::Push(BigInt::from(to + stride)));
            b.emit(Instruction::Swap);
            b.emit(Instruction::Sub);
            b.emit(Instruction::Copy(BigInt::from(1)));
            b.emit(Instruction::Store);
        });
        self.note(Shape::HeapCrossing { high, from, to });
        let mut probes = vec![high, high + 1, from, to, to + 1, to + stride];
        for _ in 0..self.rng.index(4) {
            probes.push(from + self.rng.below(to - from + 1));
        }
        for _ in 0..1 + self.rng.index(5) {
            let a = *self.rng.pick(&probes);
            self.push(BigInt::from(a));
            self.emit(Instruction::Retrieve);
            self.observe();
        }
        // The displacement edge and the far heap, sparse and dense mixed.
        for _ in 0..self.rng.index(3) {
            let a = match self.rng.below(3) {
                0 => BigInt::from(1u64 << 28) + self.rng.range(-2, 2),
                1 => far_address(&mut self.rng, self.wide),
                _ => BigInt::from(self.rng.below(to + 2)),
            };
            let v = literal(&mut self.rng, self.wide);
            self.push(a.clone());
            self.push(v);
            self.emit(Instruction::Store);
            self.depth -= 2;
            self.push(a);
            self.emit(Instruction::Retrieve);
            self.observe();
        }
    }

    /// A loop taking a value out of the 64-bit range and a second one bringing it back (`mul`
    /// then `div` by the same factor, or `add` then `sub` of a step across 2^63), printed on
    /// the way and at the end.
    pub(super) fn big_loop(&mut self) {
        let n = 1 + self.rng.index(8);
        let (start, step, up, down) = if self.rng.chance(0.5) {
            let f = match self.rng.below(4) {
                0 => BigInt::from(*self.rng.pick(&[2i64, 3, -2, -3, 10, 7])),
                1 => pow2(*self.rng.pick(&[16u32, 31, 32, 33, 62])),
                2 => -pow2(*self.rng.pick(&[31u32, 32, 63])),
                _ => near_power(&mut self.rng, 40),
            };
            let f = if f == BigInt::from(0) { BigInt::from(2) } else { f };
            let start = match self.rng.below(3) {
                0 => BigInt::from(self.rng.range(-9, 9)),
                1 => near_power(&mut self.rng, 62),
                _ => literal(&mut self.rng, false),
            };
            (start, f, Instruction::Mul, Instruction::Div)
        } else {
            let step = match self.rng.below(3) {
                0 => pow2(62) + self.rng.range(-2, 2),
                1 => pow2(*self.rng.pick(&[32u32, 48, 61, 63])),
                _ => near_power(&mut self.rng, 63),
            };
            let start = match self.rng.below(3) {
                0 => BigInt::from(i64::MAX) - self.rng.range(0, 3),
                1 => BigInt::from(i64::MIN) + self.rng.range(0, 3),
                _ => literal(&mut self.rng, false),
            };
            let (up, down) = if self.rng.chance(0.5) {
                (Instruction::Add, Instruction::Sub)
            } else {
                (Instruction::Sub, Instruction::Add)
            };
            (start, step, up, down)
        };
        let print_inside = self.rng.chance(0.5);
        self.push(start);
        for op in [up, down] {
            let step = step.clone();
            // [acc, c]: swap; push f; op; (dup; printi); swap
            self.count_down(n, 6, |b| {
                b.emit(Instruction::Swap);
                b.emit(Instruction::Push(step));
                b.emit(op);
                if print_inside {
                    b.emit(Instruction::Dup);
                    b.emit(Instruction::PrintI);
                }
                b.emit(Instruction::Swap);
            });
        }
        self.note(Shape::BigLoop);
        self.observe();
    }

    /// A burst of 17-40 pushes, then reaches across it at counts near the window and the
    /// exact depth.
    pub(super) fn burst(&mut self, floor: usize) {
        let start = self.depth;
        let pushes = WINDOW + 1 + self.rng.index(24);
        for _ in 0..pushes {
            let v = if self.rng.chance(0.7) {
                BigInt::from(self.rng.range(-99, 99))
            } else {
                literal(&mut self.rng, self.wide)
            };
            self.push(v);
        }
        self.note(Shape::Burst { pushes });
        for _ in 0..1 + self.rng.index(4) {
            match self.rng.below(5) {
                0 | 1 if self.trap() => {
                    // Past the burst: a wild count, beyond the window and the static reach.
                    let n = wild_index(&mut self.rng, self.depth);
                    self.emit(Instruction::Copy(n));
                    self.depth += 1;
                    self.observe();
                }
                0 | 1 => {
                    let count = match self.rng.below(3) {
                        0 => pushes - 2 + self.rng.index(3),
                        1 => WINDOW - 2 + self.rng.index(5),
                        _ => self.relative_count(),
                    }
                    .min(self.depth - 1);
                    self.note_reach(count, false);
                    self.emit(Instruction::Copy(BigInt::from(count)));
                    self.depth += 1;
                    self.observe();
                }
                2 => {
                    let op = [Instruction::Add, Instruction::Sub, Instruction::Mul]
                        [self.rng.index(3)]
                    .clone();
                    self.emit(op);
                    self.depth -= 1;
                }
                3 => {
                    let avail = self.depth - floor;
                    let n = (WINDOW - 2 + self.rng.index(5)).min(avail - 1);
                    self.note_reach(n, true);
                    self.emit(Instruction::Slide(BigInt::from(n)));
                    self.depth -= n;
                    if self.depth > floor + 1 {
                        self.emit(Instruction::Copy(BigInt::from(1)));
                        self.depth += 1;
                        self.observe();
                    }
                }
                _ => self.observe(),
            }
            if self.depth <= floor + 1 {
                break;
            }
        }
        if self.depth > start + 1 && self.rng.chance(0.5) {
            self.emit(Instruction::Slide(BigInt::from(self.depth - start - 1)));
            self.depth = start + 1;
            self.observe();
        }
    }

    /// A straight-line run of 40..=100 instructions: no label, no jump.
    pub(super) fn straight(&mut self, floor: usize) {
        const KINDS: [Fragment; 8] = [
            Fragment::Push,
            Fragment::Push,
            Fragment::Stack,
            Fragment::Arith,
            Fragment::Arith,
            Fragment::DivMod,
            Fragment::Heap,
            Fragment::Print,
        ];
        let len = 40 + self.rng.index(61);
        let end = self.written() + len;
        while self.written() < end {
            let f = *self.rng.pick(&KINDS);
            self.fragment(f, floor, 0);
        }
        self.note(Shape::Straight { len });
    }

    /// One block beyond the JIT's limits, at the start of the main code: more pushes than a
    /// native block may reach, or more instructions than it may hold (a tenth of the time).
    pub(super) fn long_block(&mut self) {
        if self.rng.chance(0.1) {
            // push 0; (push 1; add) x m; printi: longer than BLOCK_LEN.
            let m = BLOCK_LEN / 2 + self.rng.index(64);
            self.push_i(0);
            for _ in 0..m {
                self.emit(Instruction::Push(BigInt::from(1)));
                self.emit(Instruction::Add);
            }
            self.emit(Instruction::PrintI);
            self.depth -= 1;
            self.need_fuel(2 * m as u64 + 10);
            self.note(Shape::Straight { len: 2 * m + 2 });
        } else {
            let n = BLOCK_REACH - 4 + self.rng.index(64);
            for i in 0..n {
                self.push_i(i as i64);
            }
            self.emit(Instruction::Copy(BigInt::from(n - 1)));
            self.depth += 1;
            self.note_reach(n - 1, false);
            self.emit(Instruction::PrintI);
            self.emit(Instruction::Slide(BigInt::from(n - 1)));
            self.emit(Instruction::PrintI);
            self.depth = 0;
            self.need_fuel(n as u64 + 10);
            self.note(Shape::Straight { len: n + 4 });
        }
    }
}
