//! Every setting of the generator, with its default: [`Knobs`], the fragment kinds
//! ([`Fragment`]) and their [`Weights`], the [`InputShape`] and the [`LimitShape`].
//!
//! Invariant: a default here is the documented one (the CLI's `--help` repeats them), and
//! every knob is plain data: how a knob is used lives with the code that draws from it.

use std::fmt;
use std::ops::RangeInclusive;

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
    /// A deep stack: a loop pushes hundreds to thousands of distinct items (`n, n-1, ..., 1`),
    /// then `copy`/`slide` reach far down it (past the JIT's static reach of 48, near the
    /// bottom, and relative to the exact depth), each copy printed.
    DeepStack,
    /// A wide expression: more live values than the JIT has registers and than its window
    /// holds (9..=24), from every route (constants, copies, computed, retrieved), folded by
    /// a chain of `add`/`sub`/`mul`/`swap` and printed.
    Wide,
    /// A heap walk: a high cell written first (sparse), then a loop writing a dense run that
    /// grows over it, the edges of the run and of the constant-displacement range (2^28)
    /// retrieved and printed, sparse and dense cells mixed.
    HeapWalk,
    /// A loop whose value leaves the 64-bit range and comes back (`mul` then `div` by the
    /// same factor, or `add` then `sub` of a step across ±2^63), printed on the way.
    BigLoop,
    /// A burst: 17-40 pushes in a row (more than the JIT's window of 16), then `copy`,
    /// arithmetic and `slide` across it at counts near the window size and the exact depth.
    Burst,
    /// One operator with a threshold operand (32-bit immediates, powers of two up to 2^64,
    /// -2^31, -1 with i64::MIN, the heap's 2^28, copy counts 16/48/2^48, ...), each operand
    /// reaching it by a route the JIT compiles differently: folded constant, register,
    /// memory (deep in the stack, or stored and retrieved), across a label, or computed; on
    /// either side, and the result printed or stored and retrieved.
    Route,
    /// A long straight-line run (40..=100 instructions, no label or jump) of pushes,
    /// arithmetic, copies and prints.
    Straight,
}

impl Fragment {
    /// Every fragment kind.
    pub const ALL: [Fragment; 22] = [
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
        Fragment::DeepStack,
        Fragment::Wide,
        Fragment::HeapWalk,
        Fragment::BigLoop,
        Fragment::Burst,
        Fragment::Route,
        Fragment::Straight,
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
            Fragment::DeepStack => "deep-stack",
            Fragment::Wide => "wide",
            Fragment::HeapWalk => "heap-walk",
            Fragment::BigLoop => "big-loop",
            Fragment::Burst => "burst",
            Fragment::Route => "route",
            Fragment::Straight => "straight",
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
    /// middle is rare, and the big shapes (deep stacks, heap walks, long runs) are rare
    /// enough that throughput stays high (a program has about 25 fragments).
    pub const DEFAULT: Weights = Weights([
        48, // push
        40, // stack
        40, // arith
        20, // divmod
        32, // heap
        20, // print
        12, // read
        16, // branch
        8,  // jump
        12, // loop
        8,  // heap-loop
        12, // call
        8,  // recursion
        8,  // label
        4,  // end
        1,  // deep-stack
        4,  // wide
        1,  // heap-walk
        3,  // big-loop
        4,  // burst
        16, // route
        1,  // straight
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

    /// Every weight, in the order of [`Fragment::ALL`].
    pub(super) fn to_array(self) -> [u32; Fragment::ALL.len()] {
        self.0
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
    /// calls 0..=8, heap cells 0..=8) instead of [`Limits::DEFAULT`](crate::Limits::DEFAULT).
    /// Default 0.06.
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
    /// Probability that a case holds one very long straight-line block: more stack reach than
    /// the JIT allows one native block (`MAX_REACH`, 4096 items) or more instructions than
    /// one block holds (`MAX_BLOCK_LEN`, 65,536; a tenth of these). Such a case is 40 to
    /// 700 times the usual size, so the rate is low. Default 0.002.
    pub long_block_rate: f64,
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
            long_block_rate: 0.002,
            input: InputShape::default(),
            limits: LimitShape::default(),
        }
    }
}
