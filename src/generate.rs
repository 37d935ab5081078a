//! Random test cases for the differential harness: a program, its input and its limits, as
//! `proptest` strategies ([`cases`]) shared by `cargo test` and `twinspace fuzz`.
//!
//! Invariant: every generated program is **well-formed by construction**. Every label a jump
//! or call names is defined somewhere, except the ones made undefined on purpose (at the rate
//! [`Knobs::undefined_label_rate`], with names no definition uses), so an `undefined-label`
//! trap is always a deliberate one. Generation is a pure function of a 64-bit seed and the
//! [`Knobs`] ([`generate`]), so a seed printed by the fuzzer regenerates its case exactly.
//!
//! # What the generator aims at
//! Programs are built from *fragments* ([`Fragment`]): single instructions with arguments
//! chosen for the current (estimated) stack depth, and structured pieces (`if`, counted loops
//! with the counter on the stack or in the heap, subroutines, recursion, wild jumps), so that
//! runs go deep into a program instead of trapping at its second instruction. Values are drawn
//! near the boundaries where a JIT changes representation or hardware misbehaves: 0, ±1, ±2,
//! ±2^31, ±2^32, ±2^63, ±2^64 and beyond (`i64::MIN div -1` among them); `copy`/`slide`
//! arguments are sometimes negative or huge; heap addresses come from a small per-program pool
//! whose members share their low bits (`s`, `s + 2^16`, `s + 2^32`, `s + 2^64`) so that any
//! cache keyed on part of the address sees collisions. Loops and recursion either terminate or
//! run until the fuel or a limit stops them. Input is generated for the program's reads: valid
//! and invalid UTF-8 for `readc`, every `readi` number form and malformed lines, and sometimes
//! too little of it (end of input).
//!
//! # Knobs
//! [`Knobs`] holds every setting with its default documented: program size, fragment weights,
//! trap rate, undefined-label rate, input shape and limit shape. With [`Knobs::swarm`] on (the
//! default) each case also draws its own weights and trap rate (swarm testing): some fragment
//! kinds switched off, others made dominant, so that rare combinations appear.
//!
//! # Shrinking
//! The [`CaseTree`] of a generated case shrinks with the candidates of
//! [`crate::differential::shrink`], which keep programs well-formed; the harness's own
//! [`crate::differential::shrink::shrink`] uses the same candidates but only accepts the ones
//! that still show the same mismatch.

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::LazyLock;

use num_bigint::{BigInt, Sign};
use proptest::prelude::Rng;
use proptest::strategy::{NewTree, Strategy, ValueTree};
use proptest::test_runner::TestRunner;

use crate::differential::shrink::Candidates;
use crate::engine::RunCase;
use crate::limits::Limits;
use crate::program::{Instruction, Label, Program};

/// The kinds of fragment a program is built from; [`Weights`] gives each a weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fragment {
    /// `push` of a boundary-heavy literal.
    Push,
    /// `dup`, `copy`, `swap`, `drop`, `slide` (with negative and huge arguments at times).
    Stack,
    /// `add`, `sub`, `mul`, often with a literal operand near an overflow boundary.
    Arith,
    /// `div`, `mod` (divisor 0 at the trap rate; `i64::MIN div -1` now and then).
    DivMod,
    /// `store`, `retrieve` at addresses from the colliding pool.
    Heap,
    /// `printc` (valid and, at the trap rate, invalid code points), `printi`.
    Print,
    /// `readc`, `readi`, each followed by input generated for it.
    Read,
    /// `if`/`if-else`: `jz`/`jn` forward over a balanced block.
    Branch,
    /// A `jmp`/`jz`/`jn` to any label of the program, forward or backward (may loop for ever).
    Jump,
    /// A counted loop with its counter on the stack (a negative count runs until fuel ends it).
    Loop,
    /// A counted loop with its counter in the heap.
    HeapLoop,
    /// A `call` of a subroutine (defined after `end`, or before the main code).
    Call,
    /// A call of a recursive subroutine `r(n)`: `n` levels deep (for ever when `n < 0`).
    Recursion,
    /// A label definition (sometimes a duplicate one, which must not change any target).
    Label,
    /// An `end` in the middle of the program.
    End,
}

impl Fragment {
    /// Every fragment kind.
    pub const ALL: [Fragment; 15] = [
        Fragment::Push,
        Fragment::Stack,
        Fragment::Arith,
        Fragment::DivMod,
        Fragment::Heap,
        Fragment::Print,
        Fragment::Read,
        Fragment::Branch,
        Fragment::Jump,
        Fragment::Loop,
        Fragment::HeapLoop,
        Fragment::Call,
        Fragment::Recursion,
        Fragment::Label,
        Fragment::End,
    ];

    /// The fragment's name, as the CLI's `--weight NAME=W` accepts it.
    pub fn name(self) -> &'static str {
        match self {
            Fragment::Push => "push",
            Fragment::Stack => "stack",
            Fragment::Arith => "arith",
            Fragment::DivMod => "divmod",
            Fragment::Heap => "heap",
            Fragment::Print => "print",
            Fragment::Read => "read",
            Fragment::Branch => "branch",
            Fragment::Jump => "jump",
            Fragment::Loop => "loop",
            Fragment::HeapLoop => "heap-loop",
            Fragment::Call => "call",
            Fragment::Recursion => "recursion",
            Fragment::Label => "label",
            Fragment::End => "end",
        }
    }

    /// The fragment with this name.
    pub fn from_name(name: &str) -> Option<Fragment> {
        Fragment::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl fmt::Display for Fragment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A weight per [`Fragment`]: how often each is chosen relative to the others (0 = never).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Weights([u32; Fragment::ALL.len()]);

impl Weights {
    /// The default weights: straight-line code dominates, structure is common, `end` in the
    /// middle is rare.
    pub const DEFAULT: Weights = Weights([
        12, // push
        10, // stack
        10, // arith
        5,  // divmod
        8,  // heap
        5,  // print
        3,  // read
        4,  // branch
        2,  // jump
        3,  // loop
        2,  // heap-loop
        3,  // call
        2,  // recursion
        2,  // label
        1,  // end
    ]);

    /// Every fragment with weight `w`.
    pub fn uniform(w: u32) -> Weights {
        Weights([w; Fragment::ALL.len()])
    }

    /// The weight of `fragment`.
    pub fn get(&self, fragment: Fragment) -> u32 {
        self.0[fragment as usize]
    }

    /// Sets the weight of `fragment`.
    pub fn set(&mut self, fragment: Fragment, weight: u32) {
        self.0[fragment as usize] = weight;
    }
}

impl Default for Weights {
    fn default() -> Weights {
        Weights::DEFAULT
    }
}

/// The shape of generated input.
#[derive(Clone, Debug, PartialEq)]
pub struct InputShape {
    /// Probability that an input item is malformed (invalid UTF-8 for `readc`, a line that is
    /// not a number for `readi`). Default 0.05.
    pub invalid_rate: f64,
    /// Probability that the input is cut short, at a random byte (so reads meet end of input,
    /// sometimes inside a character or a line). Default 0.15.
    pub truncate_rate: f64,
    /// Most extra items appended after those generated for the program's reads. Default 2.
    pub extra_items: usize,
}

impl Default for InputShape {
    fn default() -> InputShape {
        InputShape { invalid_rate: 0.05, truncate_rate: 0.15, extra_items: 2 }
    }
}

/// The shape of generated limits.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitShape {
    /// The usual fuel, drawn uniformly: small enough that a runaway program ends by fuel
    /// quickly. Default 200..=4000.
    pub fuel: RangeInclusive<u64>,
    /// Probability of a tiny fuel (0..=40), so that out-of-fuel lands inside the first
    /// blocks. Default 0.08.
    pub tiny_fuel_rate: f64,
    /// Probability of a large fuel (10,000..=30,000), for long loops. Default 0.03.
    pub large_fuel_rate: f64,
    /// Probability that each of the stack, call stack and heap limits is tight (stack 0..=16,
    /// calls 0..=8, heap cells 0..=8) instead of [`Limits::DEFAULT`]. Default 0.06.
    pub tight_rate: f64,
    /// The usual `value-bits` limit: it bounds the time and memory of a loop that squares a
    /// value (the default limit, 2^20 bits, would let one `mul` take milliseconds). Default
    /// 16,384.
    pub value_bits: u64,
    /// Probability of a tight `value-bits` limit (0..=160 bits, so that literals and results
    /// around every 64-bit boundary meet it, and below 64 the JIT's stepper-only mode runs).
    /// Default 0.1.
    pub tight_value_rate: f64,
    /// Probability of a tight `big-words` limit (0..=16 words), so that big literals, results,
    /// copies and heap cells meet `memory-overflow`. Default 0.1.
    pub tight_words_rate: f64,
}

impl Default for LimitShape {
    fn default() -> LimitShape {
        LimitShape {
            fuel: 200..=4000,
            tiny_fuel_rate: 0.08,
            large_fuel_rate: 0.03,
            tight_rate: 0.06,
            value_bits: 1 << 14,
            tight_value_rate: 0.1,
            tight_words_rate: 0.1,
        }
    }
}

/// Every setting of the generator.
#[derive(Clone, Debug, PartialEq)]
pub struct Knobs {
    /// Target number of instructions of the main code, drawn uniformly per case. Default
    /// 20..=110. Subroutines and the ends of structured fragments come on top: programs
    /// average about 100 instructions with the default.
    pub size: RangeInclusive<usize>,
    /// Base weights of the fragment kinds. Default [`Weights::DEFAULT`].
    pub weights: Weights,
    /// Swarm testing: each case switches each fragment kind off with probability 1/3 and
    /// scales the others by a random factor 1..=4, and draws its trap rate in
    /// `0..=2 * trap_rate`. Default on.
    pub swarm: bool,
    /// Probability that a fragment sets up a deliberate trap (division by zero, negative
    /// address, invalid character, bad `copy`, `ret` without call, missing `end`, ...).
    /// Default 0.01 (about one program in three has one).
    pub trap_rate: f64,
    /// Probability that a jump or call names a label that is never defined. Default 0.01.
    pub undefined_label_rate: f64,
    /// Probability that a case's literals and input numbers may lie beyond 64 bits; the other
    /// cases reach big integers only through arithmetic, so that the JIT's native code runs
    /// longer before (and between) hand-overs. Default 0.5.
    pub wide_rate: f64,
    /// The shape of the input.
    pub input: InputShape,
    /// The shape of the limits.
    pub limits: LimitShape,
}

impl Default for Knobs {
    fn default() -> Knobs {
        Knobs {
            size: 20..=110,
            weights: Weights::DEFAULT,
            swarm: true,
            trap_rate: 0.01,
            undefined_label_rate: 0.01,
            wide_rate: 0.5,
            input: InputShape::default(),
            limits: LimitShape::default(),
        }
    }
}

/// The strategy of generated cases with these knobs.
pub fn cases(knobs: Knobs) -> CaseStrategy {
    CaseStrategy { knobs }
}

/// A `proptest` strategy of [`RunCase`]s; each case is generated from one `u64` drawn from the
/// runner's random number generator, so proptest's failure persistence replays it exactly.
#[derive(Clone, Debug)]
pub struct CaseStrategy {
    knobs: Knobs,
}

impl CaseStrategy {
    /// The knobs in use.
    pub fn knobs(&self) -> &Knobs {
        &self.knobs
    }
}

impl Strategy for CaseStrategy {
    type Tree = CaseTree;
    type Value = RunCase;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let seed = runner.rng().next_u64();
        Ok(CaseTree::new(generate(seed, &self.knobs)))
    }
}

/// A generated case and its shrinker, following proptest's protocol: `simplify` is called
/// after the current value still failed (it is accepted, and the next smaller candidate
/// proposed); `complicate` after it passed (it is dropped, and the next candidate proposed).
#[derive(Clone, Debug)]
pub struct CaseTree {
    candidates: Candidates,
    trial: Option<RunCase>,
}

impl CaseTree {
    /// A tree whose most complex value is `case`.
    pub fn new(case: RunCase) -> CaseTree {
        CaseTree { candidates: Candidates::new(case), trial: None }
    }
}

impl ValueTree for CaseTree {
    type Value = RunCase;

    fn current(&self) -> RunCase {
        self.trial.clone().unwrap_or_else(|| self.candidates.base().clone())
    }

    fn simplify(&mut self) -> bool {
        if let Some(trial) = self.trial.take() {
            self.candidates.accept(trial);
        }
        self.trial = self.candidates.next_candidate();
        self.trial.is_some()
    }

    fn complicate(&mut self) -> bool {
        if self.trial.take().is_none() {
            return false;
        }
        self.trial = self.candidates.next_candidate();
        self.trial.is_some()
    }
}

/// Generates the case of `seed`: a pure function of the seed and the knobs.
pub fn generate(seed: u64, knobs: &Knobs) -> RunCase {
    Builder::new(seed, knobs).build()
}

/// A small, fast, seedable random number generator (SplitMix64): generation must be cheap
/// (the fuzzer makes thousands of programs per second) and stable across versions of any
/// dependency, because seeds are printed in reports.
#[derive(Clone, Debug)]
pub(crate) struct CaseRng(u64);

impl CaseRng {
    pub(crate) fn new(seed: u64) -> CaseRng {
        CaseRng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `0..n` as a `usize`.
    fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in the inclusive range.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = hi.wrapping_sub(lo) as u64;
        if span == u64::MAX {
            return self.next_u64() as i64;
        }
        lo.wrapping_add(self.below(span + 1) as i64)
    }

    fn range_u64(&mut self, r: &RangeInclusive<u64>) -> u64 {
        let (lo, hi) = (*r.start(), (*r.end()).max(*r.start()));
        if hi - lo == u64::MAX { self.next_u64() } else { lo + self.below(hi - lo + 1) }
    }

    fn range_usize(&mut self, r: &RangeInclusive<usize>) -> usize {
        self.range_u64(&(*r.start() as u64..=*r.end() as u64)) as usize
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64) * (1.0 / (1u64 << 53) as f64) < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// An index drawn with these weights (not all zero).
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut x = self.below(total.max(1));
        for (i, &w) in weights.iter().enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        weights.len() - 1
    }
}

/// Bit widths around which values are interesting: byte, 16-bit cache keys, 32-bit
/// immediates, f64 mantissa, i64/u64 overflow, 128-bit products.
const BOUNDARY_BITS: [u32; 13] = [7, 8, 15, 16, 31, 32, 53, 62, 63, 64, 65, 127, 128];

/// Values next to the boundaries: for each width k, 2^k - 2 ..= 2^k + 2 and their negations.
pub(crate) static BOUNDARY_VALUES: LazyLock<Vec<BigInt>> = LazyLock::new(|| {
    let mut values = Vec::new();
    for k in BOUNDARY_BITS {
        let p = pow2(k);
        for d in -2i32..=2 {
            let v = &p + d;
            values.push(-&v);
            values.push(v);
        }
    }
    values
});

/// 2 to the power `k`.
fn pow2(k: u32) -> BigInt {
    BigInt::from(1u8) << k
}

/// Printable and invisible code points, one of each UTF-8 length, and the extremes.
const GOOD_CHARS: [u32; 18] = [
    'a' as u32,
    'Z' as u32,
    '0' as u32,
    ' ' as u32,
    '\t' as u32,
    '\n' as u32,
    '\r' as u32,
    0,
    0x7F,
    0x80,
    0xE9,
    0x7FF,
    0x800,
    0x20AC,
    0xFFFF,
    0x10000,
    0x1F600,
    0x10FFFF,
];

/// Values `printc` must refuse: negative, surrogates, above U+10FFFF, huge.
fn bad_char(rng: &mut CaseRng) -> BigInt {
    match rng.below(6) {
        0 => BigInt::from(-1),
        1 => BigInt::from(0xD800),
        2 => BigInt::from(0xDFFF),
        3 => BigInt::from(0x110000),
        4 => pow2(64) + 'a' as u32,
        _ => BigInt::from(i64::MIN),
    }
}

/// The boundary values that fit in an `i64`.
static NARROW_BOUNDARY_VALUES: LazyLock<Vec<BigInt>> = LazyLock::new(|| {
    BOUNDARY_VALUES.iter().filter(|v| i64::try_from(*v).is_ok()).cloned().collect()
});

/// An interesting integer: small, next to a boundary, any i64, or (when `wide`) far beyond
/// 64 bits.
fn literal(rng: &mut CaseRng, wide: bool) -> BigInt {
    match rng.below(100) {
        0..40 => BigInt::from(rng.range(-16, 16)),
        40..70 if wide => rng.pick(&BOUNDARY_VALUES).clone(),
        40..70 => rng.pick(&NARROW_BOUNDARY_VALUES).clone(),
        70..80 => BigInt::from(rng.next_u64() as i64),
        80..92 => BigInt::from(rng.range(-1000, 1000)),
        _ if !wide => BigInt::from(rng.next_u64() as i64),
        _ => {
            let bits = rng.range(65, 200) as u64;
            let mut v = BigInt::from(1);
            while v.bits() < bits {
                v = (v << 64) + rng.next_u64();
            }
            v >>= v.bits() - bits;
            if rng.chance(0.5) { -v } else { v }
        }
    }
}

/// A nonzero divisor, biased to the ones that break division: -1, ±2, the i64 extremes.
fn divisor(rng: &mut CaseRng, wide: bool) -> BigInt {
    let v = match rng.below(10) {
        0..3 => BigInt::from(*rng.pick(&[-1i64, 1, 2, -2, 3, -3, 7, -7])),
        3 => BigInt::from(*rng.pick(&[i64::MIN, i64::MAX])),
        _ => literal(rng, wide),
    };
    if v.sign() == Sign::NoSign { BigInt::from(-1) } else { v }
}

/// An argument for `copy`/`slide` that is out of every normal range.
fn wild_index(rng: &mut CaseRng, depth: usize) -> BigInt {
    match rng.below(7) {
        0 => BigInt::from(-1),
        1 => BigInt::from(depth),
        2 => BigInt::from(depth + 1 + rng.index(3)),
        3 => BigInt::from(1u64 << 31) + rng.below(2),
        4 => BigInt::from(1u64 << 32) + rng.below(3),
        5 => pow2(64) + rng.below(3),
        _ => -pow2(63),
    }
}

/// How deep `if`s and loops nest.
const MAX_NESTING: u32 = 4;

/// How many subroutines a program has at most.
const MAX_FUNCTIONS: usize = 10;

/// What the program reads, in the order the reads appear in it (the input is generated for
/// this sequence).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Read {
    Char,
    Number,
}

/// A subroutine to be emitted after the main code.
struct Function {
    label: Label,
    /// The stack depth assumed at its first call.
    depth: usize,
    recursive: bool,
}

/// The state of one generation.
struct Builder<'k> {
    rng: CaseRng,
    knobs: &'k Knobs,
    weights: [u32; Fragment::ALL.len()],
    trap_rate: f64,
    out: Vec<Instruction>,
    /// Estimated stack depth at the current point (exact for straight-line code).
    depth: usize,
    target: usize,
    next_label: u64,
    /// Labels that jumps may name; each is defined before the program is finished.
    pool: Vec<(Label, bool)>,
    functions: Vec<Function>,
    /// Heap addresses, sharing low bits so caches collide.
    addrs: Vec<BigInt>,
    reads: Vec<Read>,
    nesting: u32,
    /// Whether literals (and input numbers) may lie beyond 64 bits.
    wide: bool,
}

impl<'k> Builder<'k> {
    fn new(seed: u64, knobs: &'k Knobs) -> Builder<'k> {
        let mut rng = CaseRng::new(seed);
        let mut weights = knobs.weights.0;
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
                weights = knobs.weights.0;
            }
            trap_rate *= 2.0 * ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64);
        }
        let target = rng.range_usize(&knobs.size);
        let wide = rng.chance(knobs.wide_rate);
        let mut addrs = Vec::new();
        let low = BigInt::from(rng.below(16));
        addrs.push(low.clone());
        for _ in 0..1 + rng.below(4) {
            let a = match rng.below(8) {
                0 => &low + pow2(16) * (1 + rng.below(4)),
                1 => &low + pow2(32),
                2 => &low + pow2(64),
                3 => &low + pow2(63),
                4 => BigInt::from(rng.below(64)),
                5 => BigInt::from(*rng.pick(&[(1u64 << 20) + 3, (1 << 31) - 1, 1 << 40, u64::MAX])),
                6 => pow2(100),
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
        }
    }

    fn trap(&mut self) -> bool {
        self.rng.chance(self.trap_rate)
    }

    /// A label no other part of the program uses. Labels vary in length (the empty label
    /// included) so that label parsing and lookup see every shape.
    fn fresh_label(&mut self) -> Label {
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
    fn undefined_label(&mut self) -> Label {
        let mut bits = vec![true; 70];
        bits.push(self.rng.chance(0.5));
        Label::from_bits(bits)
    }

    fn emit(&mut self, ins: Instruction) {
        self.out.push(ins);
    }

    fn push(&mut self, n: BigInt) {
        self.emit(Instruction::Push(n));
        self.depth += 1;
    }

    fn push_i(&mut self, n: i64) {
        self.push(BigInt::from(n));
    }

    /// Makes sure `k` items are available above `floor`, pushing literals if needed.
    fn ensure(&mut self, k: usize, floor: usize) {
        while self.depth < floor + k {
            let v = literal(&mut self.rng, self.wide);
            self.push(v);
        }
    }

    fn addr(&mut self) -> BigInt {
        if self.trap() {
            let neg = [BigInt::from(-1), -pow2(63), -pow2(64) - 1];
            return self.rng.pick(&neg).clone();
        }
        self.rng.pick(&self.addrs).clone()
    }

    fn build(mut self) -> RunCase {
        // Layout: the main code, `end`, then the subroutines; or (30%) a jump over the
        // subroutines to the main code placed after them, where a missing `end` runs off the
        // end of the program.
        let layout_before = self.rng.chance(0.3);
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
        let input = self.input();
        let limits = self.limits();
        RunCase { program: Program::from_instructions(self.out), input, limits }
    }

    /// The code of every subroutine the main code called (subroutines may create more).
    fn functions_code(&mut self) -> Vec<Instruction> {
        let saved = std::mem::take(&mut self.out);
        let mut i = 0;
        while i < self.functions.len() {
            let (label, depth, recursive) = {
                let f = &self.functions[i];
                (f.label.clone(), f.depth, f.recursive)
            };
            self.emit(Instruction::Label(label.clone()));
            self.depth = depth;
            let budget = 2 + self.rng.index(12);
            if recursive {
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
        if extra >= 3 && self.rng.chance(0.5) {
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
    fn nested(&mut self, budget: usize) {
        self.nesting += 1;
        let floor = self.depth;
        let budget = if self.nesting > 3 { budget.min(3) } else { budget };
        self.block(floor, budget);
        self.nesting -= 1;
    }

    fn fragment(&mut self, f: Fragment, floor: usize, room: usize) {
        match f {
            Fragment::Push => {
                let v = literal(&mut self.rng, self.wide);
                self.push(v);
            }
            Fragment::Stack => self.stack_op(floor),
            Fragment::Arith => {
                if self.rng.chance(0.5) || self.depth < floor + 2 {
                    self.ensure(1, floor);
                    let v = literal(&mut self.rng, self.wide);
                    self.push(v);
                }
                let op = [Instruction::Add, Instruction::Sub, Instruction::Mul][self.rng.index(3)]
                    .clone();
                self.emit(op);
                self.depth -= 1;
            }
            Fragment::DivMod => {
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
            Fragment::Heap => self.heap_op(floor),
            Fragment::Print => {
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
            Fragment::Read => {
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
                    let print =
                        if kind == Read::Char { Instruction::PrintC } else { Instruction::PrintI };
                    self.emit(print);
                    self.depth -= 1;
                }
            }
            Fragment::Branch => self.branch(floor, room),
            Fragment::Jump => self.jump(floor),
            Fragment::Loop => self.counted_loop(room),
            Fragment::HeapLoop => self.heap_loop(room),
            Fragment::Call => self.call(false),
            Fragment::Recursion => self.call(true),
            Fragment::Label => {
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
            Fragment::End => {
                if self.trap() {
                    self.emit(Instruction::Ret);
                } else {
                    self.emit(Instruction::End);
                }
            }
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
                } else {
                    BigInt::from(self.rng.index(self.depth))
                };
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
                    _ => BigInt::from(self.rng.index(avail)),
                };
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

    /// A condition on top of the stack: computed (the current top) or a literal.
    fn condition(&mut self, floor: usize) {
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

    fn conditional(&mut self, label: Label) -> Instruction {
        if self.rng.chance(0.5) { Instruction::Jz(label) } else { Instruction::Jn(label) }
    }

    fn jump_label(&mut self, fresh: impl FnOnce(&mut Self) -> Label) -> Label {
        if self.rng.chance(self.knobs.undefined_label_rate) {
            self.undefined_label()
        } else {
            fresh(self)
        }
    }

    fn branch(&mut self, floor: usize, room: usize) {
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

    fn jump(&mut self, floor: usize) {
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

    fn loop_count(&mut self) -> BigInt {
        match self.rng.below(20) {
            0 => BigInt::from(-1 - self.rng.range(0, 3)),
            1 => BigInt::from(1000),
            2 => pow2(64),
            _ => BigInt::from(self.rng.range(0, 8)),
        }
    }

    /// `push n; TOP: dup; jz EXIT; body; push 1; sub; jmp TOP; EXIT: drop`.
    fn counted_loop(&mut self, room: usize) {
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
    fn heap_loop(&mut self, room: usize) {
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

    fn call(&mut self, recursive: bool) {
        let existing: Vec<usize> = (0..self.functions.len())
            .filter(|&i| self.functions[i].recursive == recursive)
            .collect();
        let index = if self.functions.len() >= MAX_FUNCTIONS {
            // Subroutine bodies call subroutines: bound their number.
            self.rng.index(self.functions.len())
        } else if !existing.is_empty() && (self.functions.len() >= 6 || self.rng.chance(0.5)) {
            *self.rng.pick(&existing)
        } else {
            let label = self.fresh_label();
            let depth = self.depth + usize::from(recursive);
            self.functions.push(Function { label, depth, recursive });
            self.functions.len() - 1
        };
        let label = self.functions[index].label.clone();
        let recursive = self.functions[index].recursive;
        let target = self.jump_label(|_| label);
        if recursive {
            let n = match self.rng.below(12) {
                0 => BigInt::from(-1),
                1 => BigInt::from(200),
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

    /// Input for the program's reads, in program order, then a few extra items; sometimes cut
    /// short.
    fn input(&mut self) -> Vec<u8> {
        let mut input = Vec::new();
        if self.reads.is_empty() && self.rng.chance(0.8) {
            return input;
        }
        let extra = self.rng.index(self.knobs.input.extra_items + 1);
        let mut reads = self.reads.clone();
        for _ in 0..extra {
            reads.push(if self.rng.chance(0.5) { Read::Char } else { Read::Number });
        }
        // Loops may read more often than the reads appear: repeat the items a few times.
        let rounds = 1 + usize::from(self.rng.chance(0.3)) * self.rng.index(4);
        for _ in 0..rounds {
            for &r in &reads {
                let bad = self.rng.chance(self.knobs.input.invalid_rate);
                match (r, bad) {
                    (Read::Char, false) => self.good_char(&mut input),
                    (Read::Char, true) => {
                        input.extend_from_slice(self.rng.pick::<&[u8]>(BAD_UTF8));
                    }
                    (Read::Number, false) => self.number_line(&mut input),
                    (Read::Number, true) => {
                        input.extend_from_slice(self.rng.pick::<&[u8]>(BAD_LINES));
                        input.push(b'\n');
                    }
                }
            }
        }
        if !input.is_empty() && self.rng.chance(self.knobs.input.truncate_rate) {
            let keep = self.rng.index(input.len());
            input.truncate(keep);
        }
        input
    }

    fn good_char(&mut self, input: &mut Vec<u8>) {
        let c = match self.rng.below(4) {
            0 => char::from_u32(*self.rng.pick(&GOOD_CHARS)).unwrap_or('?'),
            1 => char::from_u32(self.rng.below(0x11_0000) as u32).unwrap_or('\u{FFFD}'),
            _ => (b'0' + self.rng.below(75) as u8) as char,
        };
        let mut buf = [0; 4];
        input.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }

    /// A valid `readi` line: any of the number forms, spaces, parentheses, sign.
    fn number_line(&mut self, input: &mut Vec<u8>) {
        let value = literal(&mut self.rng, self.wide);
        let mut line = String::new();
        let space = |rng: &mut CaseRng, line: &mut String| {
            if rng.chance(0.3) {
                for _ in 0..1 + rng.index(2) {
                    line.push(*rng.pick(SPACES));
                }
            }
        };
        space(&mut self.rng, &mut line);
        let parens = if self.rng.chance(0.15) { 1 + self.rng.index(2) } else { 0 };
        for _ in 0..parens {
            line.push('(');
            space(&mut self.rng, &mut line);
        }
        if value.sign() == Sign::Minus {
            line.push('-');
            space(&mut self.rng, &mut line);
        }
        let magnitude = value.magnitude();
        match self.rng.below(8) {
            0 => {
                line.push_str(if self.rng.chance(0.5) { "0x" } else { "0X" });
                let digits = magnitude.to_str_radix(16);
                if self.rng.chance(0.5) {
                    line.push_str(&digits.to_uppercase());
                } else {
                    line.push_str(&digits);
                }
            }
            1 => {
                line.push_str(if self.rng.chance(0.5) { "0o" } else { "0O" });
                line.push_str(&magnitude.to_str_radix(8));
            }
            2 => {
                line.push_str("00");
                line.push_str(&magnitude.to_str_radix(10));
            }
            _ => line.push_str(&magnitude.to_str_radix(10)),
        }
        for _ in 0..parens {
            space(&mut self.rng, &mut line);
            line.push(')');
        }
        space(&mut self.rng, &mut line);
        input.extend_from_slice(line.as_bytes());
        input.push(b'\n');
    }

    fn limits(&mut self) -> Limits {
        let shape = &self.knobs.limits;
        let fuel = if self.rng.chance(shape.tiny_fuel_rate) {
            self.rng.below(41)
        } else if self.rng.chance(shape.large_fuel_rate) {
            10_000 + self.rng.below(20_001)
        } else {
            self.rng.range_u64(&shape.fuel)
        };
        let mut limits = Limits::DEFAULT.with_fuel(fuel);
        if self.rng.chance(shape.tight_rate) {
            limits.stack = self.rng.index(17);
        }
        if self.rng.chance(shape.tight_rate) {
            limits.calls = self.rng.index(9);
        }
        if self.rng.chance(shape.tight_rate) {
            limits.heap = self.rng.index(9);
        }
        limits.value_bits = if self.rng.chance(shape.tight_value_rate) {
            self.rng.below(161)
        } else {
            shape.value_bits
        };
        if self.rng.chance(shape.tight_words_rate) {
            limits.big_words = self.rng.below(17);
        }
        limits
    }
}

/// Haskell `isSpace` characters `readi` must skip (and one, U+0085, it must not).
const SPACES: &[char] = &[
    ' ', ' ', '\t', '\r', '\u{0B}', '\u{0C}', '\u{A0}', '\u{1680}', '\u{2000}', '\u{200A}',
    '\u{202F}', '\u{205F}', '\u{3000}',
];

/// Bytes `readc` must refuse: a stray continuation byte, an overlong form, a surrogate, a
/// code point above U+10FFFF, bytes never valid, a sequence cut short by the next character.
const BAD_UTF8: &[&[u8]] = &[
    b"\x80",
    b"\xC0\x80",
    b"\xC1\xBF",
    b"\xED\xA0\x80",
    b"\xF4\x90\x80\x80",
    b"\xF8\x88\x80\x80\x80",
    b"\xFF",
    b"\xE2\x82a",
    b"\xC3",
];

/// Lines `readi` must refuse (SEMANTICS.md §2), plus a few more of the same families.
const BAD_LINES: &[&[u8]] = &[
    b"+5",
    b"-(7)",
    b"1_000",
    b"1e3",
    b"1.0",
    b"0b1",
    b"12 34",
    b"",
    b"(7",
    b"7)",
    b"((7)",
    b"0x",
    b"0o9",
    b"--1",
    b"- -1",
    b"abc",
    b"\xC2\x851",
    b"1\xE2\x80\xA8",
    b"\xFF12",
    b"0x1g",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::Opcode;
    use std::collections::HashSet;

    #[test]
    fn generation_is_a_function_of_the_seed() {
        let knobs = Knobs::default();
        for seed in 0..50 {
            assert_eq!(generate(seed, &knobs), generate(seed, &knobs));
        }
        assert_ne!(generate(1, &knobs), generate(2, &knobs));
    }

    #[test]
    fn programs_are_well_formed_and_cover_every_instruction() {
        let knobs = Knobs::default();
        let mut seen = HashSet::new();
        let mut undefined = 0;
        let mut sizes = 0;
        for seed in 0..2000 {
            let case = generate(seed, &knobs);
            let p = &case.program;
            sizes += p.len();
            for (i, ins) in p.instructions().iter().enumerate() {
                seen.insert(ins.opcode());
                if let Some(l) = ins.jump_label() {
                    if p.target(i).is_none() {
                        // Only deliberately undefined labels may be missing.
                        assert!(l.letters().starts_with("TTTTTTTT"), "seed {seed}: {l}");
                        undefined += 1;
                    }
                }
            }
        }
        assert_eq!(seen.len(), Opcode::ALL.len(), "missing: {:?}", {
            let mut m: Vec<_> = Opcode::ALL.into_iter().filter(|o| !seen.contains(o)).collect();
            m.sort();
            m
        });
        assert!(undefined > 0, "undefined labels should appear at a low rate");
        let mean = sizes / 2000;
        assert!((80..=120).contains(&mean), "mean size {mean}");
    }

    #[test]
    fn any_swarm_of_weights_terminates_and_stays_bounded() {
        // Only structured fragments, or only calls: generation must still end, and the size
        // stay within a few times the target.
        for only in [
            vec![Fragment::Loop],
            vec![Fragment::Branch, Fragment::HeapLoop],
            vec![Fragment::Call, Fragment::Recursion],
        ] {
            let mut weights = Weights::uniform(0);
            for &f in &only {
                weights.set(f, 1);
            }
            let knobs = Knobs { weights, swarm: false, ..Knobs::default() };
            for seed in 0..200 {
                let case = generate(seed, &knobs);
                assert!(case.program.len() < 2000, "{only:?} seed {seed}: {}", case.program.len());
            }
        }
    }

    #[test]
    fn literals_reach_the_boundaries() {
        let mut rng = CaseRng::new(7);
        let values: HashSet<BigInt> = (0..20_000).map(|_| literal(&mut rng, true)).collect();
        for k in [31u32, 32, 63, 64] {
            let p = pow2(k);
            for v in [&p - 1, p.clone(), &p + 1, -&p, -&p - 1] {
                assert!(values.contains(&v), "2^{k} neighbour {v} never drawn");
            }
        }
        assert!(values.iter().any(|v| v.bits() > 128));
    }
}
