//! The state of one generation, [`Builder`], and the program's layout: the main code as a
//! block of fragments, `end`, the subroutines it called, and the definitions of every label a
//! jump was given.
//!
//! Invariant: [`Builder::build`] defines every label in the pool before the program is
//! finished, so only [`Builder::undefined_label`] makes a jump miss; `depth` is the stack depth
//! at the current point (exact for straight-line code), which fragments read to choose their
//! arguments and blocks use to return to their floor. The fragments themselves are in
//! [`super::fragments`] (straight-line code) and [`super::flow`] (control flow).

use num_bigint::BigInt;

use super::RunCase;
use super::input::{self, Read};
use super::knobs::{Fragment, Knobs};
use super::limits;
use super::rng::CaseRng;
use super::values::{far_address, literal, pow2};
use crate::program::{Instruction, Label};

/// How deep `if`s and loops nest.
const MAX_NESTING: u32 = 4;

/// How many subroutines a program has at most.
pub(super) const MAX_FUNCTIONS: usize = 10;

/// The most fuel a shape may ask for ([`Builder::need_fuel`]): a deep stack of 3000 items, or
/// one block longer than the JIT's block limit.
const MAX_FUEL_FLOOR: u64 = 80_000;

/// A shape the generator emitted, with the facts a test checks (that every shape occurs, with
/// the counts and depths it promises).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    /// `copy count` (or `slide`, when `slide`) on a stack of `depth` items, with `exact` when
    /// the depth is the one at run time (straight-line code reached by falling through).
    Reach { count: usize, depth: usize, slide: bool, exact: bool },
    /// A loop grew the stack by `items`.
    DeepStack { items: usize },
    /// A cell at `high` written before a dense run from `from` to `to` (inclusive) grew over
    /// it.
    HeapCrossing { high: u64, from: u64, to: u64 },
    /// A wide expression with `live` values live at once.
    Wide { live: usize },
    /// A loop taking a value beyond 64 bits and back.
    BigLoop,
    /// `pushes` pushes in a row.
    Burst { pushes: usize },
    /// An operator (`op`, its instruction name) whose operands came by `routes`.
    Route { op: &'static str, routes: [Route; 2] },
    /// A straight-line run of `len` instructions.
    Straight { len: usize },
    /// A call to the leaf function with a branch.
    LeafCall,
}

/// How an operand reaches the instruction that uses it (see [`super::routes`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Route {
    /// Pushed right before: the JIT folds it or uses it as an immediate.
    Folded,
    /// Computed from other constants (`0 1 sub` for -1).
    Computed,
    /// Pushed before a block boundary (`jmp l; l:`), so the JIT finds it in a register or in
    /// memory, not as a constant.
    Label,
    /// Copied up from deep in the stack.
    Deep,
    /// Loaded into a register (`dup` of a value in memory, or a heap `retrieve`).
    Register,
    /// Stored in the heap and retrieved after a label.
    Heap,
}

impl Route {
    pub(super) const ALL: [Route; 6] =
        [Route::Folded, Route::Computed, Route::Label, Route::Deep, Route::Register, Route::Heap];
}

/// A subroutine to be emitted after the main code.
pub(super) struct Function {
    pub(super) label: Label,
    /// The stack depth assumed at its first call.
    pub(super) depth: usize,
    pub(super) recursive: bool,
    /// A leaf with a branch, of fixed shape (`Builder::leaf_call`).
    pub(super) leaf: bool,
}

/// The state of one generation.
pub(super) struct Builder<'k> {
    pub(super) rng: CaseRng,
    pub(super) knobs: &'k Knobs,
    weights: [u32; Fragment::ALL.len()],
    trap_rate: f64,
    out: Vec<Instruction>,
    /// Estimated stack depth at the current point (exact for straight-line code).
    pub(super) depth: usize,
    target: usize,
    next_label: u64,
    /// Labels that jumps may name; each is defined before the program is finished.
    pub(super) pool: Vec<(Label, bool)>,
    pub(super) functions: Vec<Function>,
    /// Heap addresses, sharing low bits so caches collide.
    pub(super) addrs: Vec<BigInt>,
    pub(super) reads: Vec<Read>,
    nesting: u32,
    /// Whether literals (and input numbers) may lie beyond 64 bits.
    pub(super) wide: bool,
    /// Whether `depth` is the depth at run time when control first reaches this point:
    /// true in the main code until a jump, a call or a mid-program `end` (after which code
    /// may be reached by a jump from elsewhere, at another depth).
    pub(super) exact: bool,
    /// The least fuel the shapes emitted so far need to run to their end.
    fuel_floor: u64,
    /// A heap cell only the operand routes use, so that they clobber no loop counter.
    pub(super) scratch: BigInt,
    /// The shapes emitted, for tests.
    pub(super) shapes: Vec<Shape>,
}

impl<'k> Builder<'k> {
    pub(super) fn new(seed: u64, knobs: &'k Knobs) -> Builder<'k> {
        Builder::with_rng(CaseRng::new(seed), knobs)
    }

    /// A generation drawing from `rng` (seeded, or byte-driven for a fuzzer).
    pub(super) fn with_rng(mut rng: CaseRng, knobs: &'k Knobs) -> Builder<'k> {
        let mut weights = knobs.weights.to_array();
        let mut trap_rate = knobs.trap_rate;
        if knobs.swarm {
            for w in &mut weights {
                if rng.below(3) == 0 {
                    *w = 0;
                } else {
                    *w *= 1 + rng.below(4) as u32;
                }
            }
            if weights.iter().all(|&w| w == 0) {
                weights = knobs.weights.to_array();
            }
            trap_rate *= 2.0 * rng.unit();
        }
        let target = rng.range_usize(&knobs.size);
        let wide = rng.chance(knobs.wide_rate);
        let scratch = match rng.below(4) {
            0 => BigInt::from(rng.below(8)),
            1 => BigInt::from(900 + rng.below(100)),
            2 => far_address(&mut rng, wide),
            _ => BigInt::from(rng.below(1 << 10)),
        };
        let mut addrs = Vec::new();
        let low = BigInt::from(rng.below(16));
        addrs.push(low.clone());
        for _ in 0..1 + rng.below(4) {
            let a = match rng.below(10) {
                0 => &low + pow2(16) * (1 + rng.below(4)),
                1 => &low + pow2(32),
                2 => &low + pow2(64),
                3 => &low + pow2(63),
                4 => BigInt::from(rng.below(64)),
                5 => BigInt::from(*rng.pick(&[(1u64 << 20) + 3, (1 << 31) - 1, 1 << 40, u64::MAX])),
                6 => pow2(100),
                7 | 8 => far_address(&mut rng, wide),
                _ => BigInt::from(rng.below(1 << 16)),
            };
            addrs.push(a);
        }
        Builder {
            rng,
            knobs,
            weights,
            trap_rate,
            out: Vec::with_capacity(target + 32),
            depth: 0,
            target,
            next_label: 0,
            pool: Vec::new(),
            functions: Vec::new(),
            addrs,
            reads: Vec::new(),
            nesting: 0,
            wide,
            exact: true,
            fuel_floor: 0,
            scratch,
            shapes: Vec::new(),
        }
    }

    /// Asks for at least this much more fuel, so that a shape runs to its end (unless the case
    /// draws a tiny fuel on purpose).
    pub(super) fn need_fuel(&mut self, fuel: u64) {
        self.fuel_floor = (self.fuel_floor + fuel).min(MAX_FUEL_FLOOR);
    }

    /// Records a shape for the tests.
    pub(super) fn note(&mut self, shape: Shape) {
        self.shapes.push(shape);
    }

    /// Instructions written so far in the current code (main or subroutines).
    pub(super) fn written(&self) -> usize {
        self.out.len()
    }

    /// This case's trap rate (drawn by swarm testing around [`Knobs::trap_rate`]).
    pub(super) fn trap_rate(&self) -> f64 {
        self.trap_rate
    }

    pub(super) fn trap(&mut self) -> bool {
        self.rng.chance(self.trap_rate)
    }

    /// A label no other part of the program uses. Labels vary in length (the empty label
    /// included) so that label parsing and lookup see every shape.
    pub(super) fn fresh_label(&mut self) -> Label {
        let n = self.next_label;
        self.next_label += 1;
        // Binary digits of n, most significant first (none for 0): distinct for distinct n.
        // Some get a long prefix of T S (still distinct: the prefix holds a T, so the digits
        // part after it cannot collide with another label's plain digits of the same length).
        let mut bits: Vec<bool> =
            (0..64 - n.leading_zeros()).rev().map(|i| n >> i & 1 == 1).collect();
        if self.rng.below(8) == 0 {
            let mut long = vec![false; 12];
            long.push(true);
            long.extend(bits);
            long.push(false);
            long.push(true);
            bits = long;
        }
        Label::from_bits(bits)
    }

    /// A label that is never defined (its letters start with `TTTTTTTT`, which no fresh label
    /// does: fresh labels are binary numbers far below 2^64 or start with S).
    pub(super) fn undefined_label(&mut self) -> Label {
        let mut bits = vec![true; 70];
        bits.push(self.rng.chance(0.5));
        Label::from_bits(bits)
    }

    pub(super) fn emit(&mut self, ins: Instruction) {
        self.out.push(ins);
    }

    pub(super) fn push(&mut self, n: BigInt) {
        self.emit(Instruction::Push(n));
        self.depth += 1;
    }

    pub(super) fn push_i(&mut self, n: i64) {
        self.push(BigInt::from(n));
    }

    /// Makes sure `k` items are available above `floor`, pushing literals if needed.
    pub(super) fn ensure(&mut self, k: usize, floor: usize) {
        while self.depth < floor + k {
            let v = literal(&mut self.rng, self.wide);
            self.push(v);
        }
    }

    pub(super) fn addr(&mut self) -> BigInt {
        if self.trap() {
            let neg = [BigInt::from(-1), -pow2(63), -pow2(64) - 1];
            return self.rng.pick(&neg).clone();
        }
        self.rng.pick(&self.addrs).clone()
    }

    pub(super) fn build(self) -> RunCase {
        self.build_traced().0
    }

    /// The case and the shapes it holds.
    pub(super) fn build_traced(self) -> (RunCase, Vec<Shape>) {
        let (case, shapes, _) = self.build_parts();
        (case, shapes)
    }

    /// The case and the bytes its draws were recorded as (see [`CaseRng::recording`]).
    pub(super) fn build_recorded(self) -> (RunCase, Vec<u8>) {
        let (case, _, rng) = self.build_parts();
        (case, rng.recorded().to_vec())
    }

    /// The case, its shapes, and the random source as the case left it.
    fn build_parts(mut self) -> (RunCase, Vec<Shape>, CaseRng) {
        // Layout: the main code, `end`, then the subroutines; or (30%) a jump over the
        // subroutines to the main code placed after them, where a missing `end` runs off the
        // end of the program.
        let layout_before = self.rng.chance(0.3);
        if self.rng.chance(self.knobs.long_block_rate) {
            self.long_block();
        }
        self.block(0, self.target);
        let mut main = std::mem::take(&mut self.out);
        if !self.trap() {
            main.push(Instruction::End);
        }
        let functions = self.functions_code();
        if layout_before {
            let main_label = self.fresh_label();
            self.out.push(Instruction::Jmp(main_label.clone()));
            self.out.extend(functions);
            self.out.push(Instruction::Label(main_label));
            self.out.extend(main);
        } else {
            self.out = main;
            self.out.extend(functions);
        }
        // Define every pool label that no fragment has defined yet, at a random place.
        let pool = std::mem::take(&mut self.pool);
        for (label, defined) in pool {
            if !defined {
                let at = self.rng.index(self.out.len() + 1);
                self.out.insert(at, Instruction::Label(label));
            }
        }
        let input = input::draw(&mut self.rng, &self.reads, &self.knobs.input, self.wide);
        let limits = limits::draw(&mut self.rng, &self.knobs.limits, self.fuel_floor);
        let case = RunCase { program: crate::syntax::canonical(self.out), input, limits };
        (case, self.shapes, self.rng)
    }

    /// The code of every subroutine the main code called (subroutines may create more).
    fn functions_code(&mut self) -> Vec<Instruction> {
        let saved = std::mem::take(&mut self.out);
        // A subroutine may be called at any depth.
        self.exact = false;
        let mut i = 0;
        while i < self.functions.len() {
            let (label, depth, recursive, leaf) = {
                let f = &self.functions[i];
                (f.label.clone(), f.depth, f.recursive, f.leaf)
            };
            self.emit(Instruction::Label(label.clone()));
            self.depth = depth;
            let budget = 2 + self.rng.index(12);
            if leaf {
                // v >= 0: v + 7; v < 0: v * -2. Two ways to a `ret`, neither calling.
                let negative = self.fresh_label();
                self.emit(Instruction::Dup);
                self.emit(Instruction::Jn(negative.clone()));
                self.emit(Instruction::Push(BigInt::from(7)));
                self.emit(Instruction::Add);
                self.emit(Instruction::Ret);
                self.emit(Instruction::Label(negative));
                self.emit(Instruction::Push(BigInt::from(-2)));
                self.emit(Instruction::Mul);
            } else if recursive {
                // r(n): if n == 0 return; n - 1; body; r(n - 1). The argument stays on the
                // stack, counted down to 0 by the deepest level.
                let base = self.fresh_label();
                self.depth = depth.max(1);
                self.emit(Instruction::Dup);
                self.emit(Instruction::Jz(base.clone()));
                self.push_i(1);
                self.emit(Instruction::Sub);
                self.depth -= 1;
                let floor = self.depth;
                self.block(floor, budget);
                self.emit(Instruction::Call(label));
                self.emit(Instruction::Label(base));
            } else {
                let floor = self.depth;
                self.block(floor, budget);
            }
            self.emit(Instruction::Ret);
            i += 1;
        }
        std::mem::replace(&mut self.out, saved)
    }

    /// Emits fragments until `budget` more instructions are written, then returns to `floor`
    /// items when the block is nested (its caller relies on the items below the floor).
    fn block(&mut self, floor: usize, budget: usize) {
        let end = self.out.len() + budget;
        while self.out.len() < end {
            let mut f = Fragment::ALL[self.rng.weighted(&self.weights)];
            if self.nesting >= MAX_NESTING
                && matches!(f, Fragment::Branch | Fragment::Loop | Fragment::HeapLoop)
            {
                // Deep enough: with only structured fragments switched on (swarm testing can
                // do that) nesting would otherwise never end.
                f = Fragment::Push;
            }
            self.fragment(f, floor, end - self.out.len());
        }
        if self.nesting > 0 || floor > 0 {
            self.rebalance(floor);
        }
    }

    /// Drops items down to `floor`, with `slide` + `drop` when there are several.
    fn rebalance(&mut self, floor: usize) {
        let extra = self.depth.saturating_sub(floor);
        if extra >= 3 && (extra > 8 || self.rng.chance(0.5)) {
            self.emit(Instruction::Slide(BigInt::from(extra - 1)));
            self.emit(Instruction::Drop);
        } else {
            for _ in 0..extra {
                self.emit(Instruction::Drop);
            }
        }
        self.depth = self.depth.min(floor);
    }

    /// A nested balanced block of about `budget` instructions.
    pub(super) fn nested(&mut self, budget: usize) {
        self.nesting += 1;
        let floor = self.depth;
        let budget = if self.nesting > 3 { budget.min(3) } else { budget };
        self.block(floor, budget);
        self.nesting -= 1;
    }
}
