//! The limits a run is configured with (SEMANTICS.md §3): both engines apply them at exactly
//! the same instruction, so they are part of what a run's outcome depends on.

/// Resource limits of one run. A field at its type's maximum means "no limit".
///
/// - `fuel`: instructions that may execute; the next one traps `out-of-fuel` without running.
/// - `stack`: the most items the value stack may hold; growing past it traps `stack-overflow`.
/// - `calls`: the most return positions the call stack may hold (`call-stack-overflow`).
/// - `heap`: the most distinct heap addresses that may ever be written (`heap-overflow`).
/// - `value_bits`: the most bits the magnitude of a value made by `push`, `add`, `sub`, `mul` or
///   `readi` may have (`value-too-large`).
/// - `big_words`: the most 64-bit words that the big values held may take (`memory-overflow`):
///   every stack item, heap address and heap value outside the `i64` range counts
///   [`big_words`] of its magnitude, every other value 0.
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
    /// Bits of a value's magnitude.
    pub value_bits: u64,
    /// Words of big values held.
    pub big_words: u64,
}

impl Limits {
    /// No limit at all: only for programs known to stop and stay small.
    pub const UNLIMITED: Limits =
        Limits {
        fuel: u64::MAX,
        stack: usize::MAX,
        calls: usize::MAX,
        heap: usize::MAX,
        value_bits: u64::MAX,
        big_words: u64::MAX,
    };

    /// The default limits (SEMANTICS.md §4): 16 Mi items on each stack, 16 Mi heap cells,
    /// values of up to 2^20 bits and 16 Mi words (128 MiB) of big values, so that runaway
    /// recursion or growth traps instead of exhausting memory. Fuel is unlimited.
    pub const DEFAULT: Limits = Limits {
        fuel: u64::MAX,
        stack: 1 << 24,
        calls: 1 << 24,
        heap: 1 << 24,
        value_bits: 1 << 20,
        big_words: 1 << 24,
    };

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

/// The words a value of `bits` bits of magnitude counts toward [`Limits::big_words`] when it is
/// outside the `i64` range: `ceil(bits / 64)`.
///
/// The caller decides whether the value is outside the `i64` range (`-2^63` has 64 bits and is
/// inside it, `2^63` has 64 bits too and is outside).
pub fn big_words(bits: u64) -> u64 {
    bits.div_ceil(64)
}
