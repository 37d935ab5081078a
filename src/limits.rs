//! The limits a run is configured with (SEMANTICS.md §3): both engines apply them at exactly
//! the same instruction, so they are part of what a run's outcome depends on.

/// The most bits an integer result may have: a host limit, not a language rule.
///
/// SEMANTICS.md gives integers arbitrary precision and no trap for their size, but a program that
/// squares a number in a loop doubles its size with every instruction and would exhaust memory
/// within a few dozen instructions. Both engines check, *before* computing it, that an `add`,
/// `sub` or `mul` result cannot exceed this size; when it could, the run fails with
/// [`HostError::ValueTooLarge`](crate::HostError::ValueTooLarge) (the output so far is kept, as
/// for any host failure). 2^26 bits is 8 MiB per value, far beyond any real program's numbers
/// (100000! has 1.5 Mi bits).
pub const MAX_VALUE_BITS: u64 = 1 << 26;

/// An upper bound on the bits of `a op b` for add, sub (`is_mul` false) or mul, from the
/// operands' bit lengths.
pub fn result_bits_bound(a_bits: u64, b_bits: u64, is_mul: bool) -> u64 {
    if is_mul { a_bits + b_bits } else { a_bits.max(b_bits) + 1 }
}

/// Resource limits of one run. A field at its type's maximum means "no limit".
///
/// - `fuel`: instructions that may execute; the next one traps `out-of-fuel` without running.
/// - `stack`: the most items the value stack may hold; growing past it traps `stack-overflow`.
/// - `calls`: the most return positions the call stack may hold (`call-stack-overflow`).
/// - `heap`: the most distinct heap addresses that may ever be written (`heap-overflow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Instructions that may execute.
    pub fuel: u64,
    /// Value stack depth.
    pub stack: usize,
    /// Call stack depth.
    pub calls: usize,
    /// Distinct heap addresses written.
    pub heap: usize,
}

impl Limits {
    /// No limit at all: only for programs known to stop and stay small.
    pub const UNLIMITED: Limits =
        Limits { fuel: u64::MAX, stack: usize::MAX, calls: usize::MAX, heap: usize::MAX };

    /// The default memory limits: 16 Mi items on each stack and 16 Mi heap cells, so that
    /// runaway recursion or growth traps instead of exhausting memory. Fuel is unlimited.
    pub const DEFAULT: Limits =
        Limits { fuel: u64::MAX, stack: 1 << 24, calls: 1 << 24, heap: 1 << 24 };

    /// These limits with `fuel` instructions of fuel.
    pub fn with_fuel(self, fuel: u64) -> Limits {
        Limits { fuel, ..self }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}
