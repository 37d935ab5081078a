//! The limits of a case, drawn from the [`LimitShape`]: a fuel small enough that runaway
//! programs end quickly, and now and then a tiny fuel or tight stack, call, heap, value-size
//! or memory limits, so that every limit trap is met; a program whose shapes need more fuel
//! (a deep stack, a heap walk, a long block) gets it.

use super::knobs::LimitShape;
use super::rng::CaseRng;
use crate::limits::Limits;

/// The limits of one case, with at least `fuel_floor` fuel (what the program's big shapes need
/// to run to their end) unless a tiny fuel is drawn on purpose.
pub(super) fn draw(rng: &mut CaseRng, shape: &LimitShape, fuel_floor: u64) -> Limits {
    let fuel = if rng.chance(shape.tiny_fuel_rate) {
        rng.below(41)
    } else if rng.chance(shape.large_fuel_rate) {
        (10_000 + rng.below(20_001)).max(fuel_floor)
    } else {
        rng.range_u64(&shape.fuel).max(fuel_floor)
    };
    let mut limits = Limits::DEFAULT.with_fuel(fuel);
    if rng.chance(shape.tight_rate) {
        limits.stack = rng.index(17);
    }
    if rng.chance(shape.tight_rate) {
        limits.calls = rng.index(9);
    }
    if rng.chance(shape.tight_rate) {
        limits.heap = rng.index(9);
    }
    limits.value_bits =
        if rng.chance(shape.tight_value_rate) { rng.below(161) } else { shape.value_bits };
    if rng.chance(shape.tight_words_rate) {
        limits.big_words = rng.below(17);
    }
    limits
}
