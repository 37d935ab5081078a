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
//! runs go deep into a program instead of trapping at its second instruction. Every numeric
//! literal and argument (pushed values, divisors, heap addresses, wild `copy`/`slide` counts,
//! `readi` numbers) comes from several sources: small values, the fixed boundary list (0, ±1,
//! ±2, ±2^31, ±2^32, ±2^63, ±2^64, ...), a log-uniform bit length from 0 to 130 bits (63 in a
//! narrow case) with either sign, and ±(2^k - 2 ..= 2^k + 2) for every k; heap addresses come
//! from a small per-program pool whose members share their low bits (`s`, `s + 2^16`,
//! `s + 2^32`, `s + 2^64`) so that any cache keyed on part of the address sees collisions.
//!
//! Beyond single instructions, *shapes* aim at the limits of the JIT's design (module
//! `shapes`): deep stacks (hundreds to thousands of items) with `copy`/`slide` far down, wide
//! expressions with more live values than registers, heap walks that write a sparse cell and
//! then grow the dense region over it, loops whose values leave the 64-bit range and come
//! back, bursts of pushes longer than the JIT's window, long straight-line runs, and (rarely)
//! one block beyond the JIT's reach or length limit. *Routes* (module `routes`) make each
//! operator meet its code-generation thresholds with each operand folded, computed, in
//! memory, deep in the stack, in a register, or stored and retrieved, and print the result.
//! `copy`/`slide` counts are also chosen relative to the builder's depth, which is the depth
//! at run time wherever control first arrives by falling through (before any jump or call).
//! Loops and recursion either terminate or run until the fuel or a limit stops them; a shape
//! that needs more fuel than usual to run to its end gets it. Input is generated for the
//! program's reads: valid and invalid UTF-8 for `readc`, every `readi` number form and
//! malformed lines, and sometimes too little of it (end of input).
//!
//! # Knobs
//! [`Knobs`] holds every setting with its default documented: program size, fragment weights,
//! trap rate, undefined-label rate, input shape and limit shape. With [`Knobs::swarm`] on (the
//! default) each case also draws its own weights and trap rate (swarm testing): some fragment
//! kinds switched off, others made dominant, so that rare combinations appear.
//!
//! # Shrinking
//! The [`CaseTree`] of a generated case shrinks with the candidates of [`reduce`], which keep
//! programs well-formed; the harness's own [`crate::differential::shrink::shrink`] uses the
//! same candidates but only accepts the ones that still show the same mismatch.
//!
//! # Layout
//! | module | owns |
//! |---|---|
//! | `rng` | the random source (SplitMix64) and its draws |
//! | `values` | literals (boundary, log-uniform, near powers of two), divisors, wild indices, addresses, characters |
//! | `knobs` | [`Knobs`], [`Fragment`], [`Weights`], [`InputShape`], [`LimitShape`] |
//! | `builder` | the state of one generation and the program's layout |
//! | `fragments` | straight-line fragments and the choice among all fragments |
//! | `flow` | branches, jumps, loops, calls |
//! | `shapes` | deep stacks, wide expressions, heap walks, big loops, bursts, long blocks |
//! | `routes` | operators at their thresholds with operands by every route |
//! | `input` | the input generated for the program's reads |
//! | `limits` | the limits drawn from the [`LimitShape`] |
//! | `strategy` | the `proptest` glue: [`cases`], [`CaseStrategy`], [`CaseTree`] |
//! | [`reduce`] | the engine-free case reducer ([`reduce::Candidates`]) |
//!
//! Dependencies point one way, and never at the harness: `strategy -> reduce -> values -> rng`;
//! `builder -> input, limits, knobs, values -> rng`. `builder`, `fragments` and `flow` are the
//! `impl` of one type, `Builder`, split by concern (`shapes` and `routes` too); they call each other
//! because blocks hold fragments and structured fragments hold blocks.

mod builder;
mod flow;
mod fragments;
mod input;
mod knobs;
mod limits;
pub mod reduce;
mod rng;
mod routes;
mod shapes;
mod strategy;
mod values;

pub use self::knobs::{Fragment, InputShape, Knobs, LimitShape, Weights};
pub use self::strategy::{CaseStrategy, CaseTree, cases};
pub(crate) use self::values::BOUNDARY_VALUES;

use self::builder::Builder;
pub use crate::engine::RunCase;

/// Generates the case of `seed`: a pure function of the seed and the knobs.
///
/// ```
/// use twinspace::generate::{Knobs, generate};
///
/// let case = generate(42, &Knobs::default());
/// assert_eq!(case, generate(42, &Knobs::default()), "the seed alone decides the case");
/// assert!(!case.program.is_empty());
/// ```
pub fn generate(seed: u64, knobs: &Knobs) -> RunCase {
    Builder::new(seed, knobs).build()
}

/// Generates a case whose random choices are read from `data` (one byte for a choice among up
/// to 256, a `chance` or a fraction; 8 for a literal's raw bits; past the end, `data` again,
/// each pass XORed with its own constant; see the `rng` module): a pure function of the bytes
/// and the knobs, and well-formed for every input. This is how a coverage-guided fuzzer (`fuzz/`, libFuzzer)
/// drives the generator: the bytes it mutates are the choices the generator makes, so any
/// input is a valid case, and a mutated byte changes one choice.
///
/// ```
/// use twinspace::generate::{Knobs, generate_from_bytes};
///
/// let knobs = Knobs::default();
/// let case = generate_from_bytes(b"any bytes at all", &knobs);
/// assert_eq!(case, generate_from_bytes(b"any bytes at all", &knobs));
/// assert!(!generate_from_bytes(&[], &knobs).program.is_empty());
/// ```
pub fn generate_from_bytes(data: &[u8], knobs: &Knobs) -> RunCase {
    Builder::with_rng(rng::CaseRng::from_bytes(data), knobs).build()
}

/// The case of `seed` as [`generate_from_bytes`] sees it, and the bytes that decode to it:
/// the seed's own choices, except that each `chance` and fraction is rounded to 1/256 (so
/// the case is almost always `generate(seed)`). A seed corpus for the fuzzer.
///
/// ```
/// use twinspace::generate::{Knobs, generate_from_bytes, record_draws};
///
/// let knobs = Knobs::default();
/// let (case, bytes) = record_draws(7, &knobs);
/// assert_eq!(generate_from_bytes(&bytes, &knobs), case);
/// ```
pub fn record_draws(seed: u64, knobs: &Knobs) -> (RunCase, Vec<u8>) {
    Builder::with_rng(rng::CaseRng::recording(seed), knobs).build_recorded()
}

#[cfg(test)]
mod tests {
    use super::builder::{Route, Shape};
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
    fn cases_from_bytes_are_well_formed_and_follow_the_bytes() {
        let knobs = Knobs::default();
        let mut distinct = HashSet::new();
        // Short, long, constant and patterned inputs, as a fuzzer would try them.
        let mut inputs: Vec<Vec<u8>> = vec![vec![], vec![0; 4096], vec![0xff; 4096]];
        for n in 0..300u64 {
            let mut rng = rng::CaseRng::new(n);
            inputs.push((0..n * 13 % 3000).map(|_| rng.next_u64() as u8).collect());
        }
        for data in &inputs {
            let case = generate_from_bytes(data, &knobs);
            assert_eq!(case, generate_from_bytes(data, &knobs), "a function of the bytes");
            let p = &case.program;
            // Bounded: the largest shape is the rare long block, just over MAX_BLOCK_LEN (all-zero
            // bytes make every `chance` true, so they ask for it).
            assert!(p.len() < 100_000, "{} instructions from {} bytes", p.len(), data.len());
            for (i, ins) in p.instructions().iter().enumerate() {
                if let Some(l) = ins.jump_label() {
                    assert!(p.target(i).is_some() || l.letters().starts_with("TTTTTTTT"), "{l}");
                }
            }
            distinct.insert(crate::syntax::print_ws(p));
        }
        assert!(distinct.len() > inputs.len() * 9 / 10, "{} distinct", distinct.len());
        // The bytes are the choices: a seed's choices, written down as bytes, decode to the
        // case recorded, and that is (fractions rounded to 1/256 aside) the seed's case.
        let mut same = 0;
        for seed in 0..100 {
            let (case, data) = record_draws(seed, &knobs);
            assert_eq!(generate_from_bytes(&data, &knobs), case, "seed {seed}");
            same += usize::from(case == generate(seed, &knobs));
        }
        assert!(same >= 97, "{same} of 100 recorded seeds are their seed's case");
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

    /// The shapes of `n` cases with these knobs.
    fn shapes(knobs: &Knobs, n: u64) -> Vec<Shape> {
        (0..n).flat_map(|seed| Builder::new(seed, knobs).build_traced().1).collect()
    }

    #[test]
    fn every_shape_occurs_with_the_counts_it_promises() {
        let all = shapes(&Knobs::default(), 3000);
        let deep_copies = all.iter().filter(|s| {
            matches!(s, Shape::Reach { count, depth, slide: false, exact: true }
                if *count > 48 && *depth > *count && *depth >= 100)
        });
        assert!(deep_copies.count() >= 20, "copy n > 48 on a deep stack, at the exact depth");
        assert!(
            all.iter()
                .any(|s| matches!(s, Shape::Reach { count, slide: false, .. } if *count > 1000))
        );
        assert!(
            all.iter().any(|s| matches!(s, Shape::Reach { count, slide: true, .. } if *count > 48))
        );
        assert!(all.iter().any(|s| matches!(s, Shape::DeepStack { items } if *items >= 1000)));
        // A sparse cell written first, then a dense run that starts below the dense slack
        // and ends past it.
        assert!(all.iter().any(|s| matches!(s, Shape::HeapCrossing { high, from, to }
            if *from < 1 << 16 && *high >= 1 << 16 && *to > *high)));
        assert!(all.iter().any(|s| matches!(s, Shape::Wide { live } if *live > 16)));
        assert!(all.iter().any(|s| matches!(s, Shape::Burst { pushes } if *pushes > 16)));
        assert!(all.contains(&Shape::BigLoop));
        assert!(all.iter().any(|s| matches!(s, Shape::Straight { len } if *len > 40)));
        // Every operator by every route, on both operands.
        let mut routes = HashSet::new();
        for s in &all {
            if let Shape::Route { op, routes: [a, b] } = s {
                routes.insert((*op, 0, *a));
                routes.insert((*op, 1, *b));
            }
        }
        for op in [
            "add", "sub", "mul", "div", "mod", "store", "jz", "jn", "copy", "sub-jz", "sub-jn",
            "mod-jz",
        ] {
            for r in Route::ALL {
                assert!(routes.contains(&(op, 0, r)), "{op}: first operand never by {r:?}");
                let unary = matches!(op, "jz" | "jn" | "copy");
                assert!(unary || routes.contains(&(op, 1, r)), "{op}: second never by {r:?}");
            }
        }
    }

    #[test]
    fn long_blocks_pass_the_jits_block_limits() {
        let knobs = Knobs { long_block_rate: 1.0, ..Knobs::default() };
        let all = shapes(&knobs, 40);
        assert!(all.iter().any(|s| matches!(s, Shape::Straight { len } if *len > 1 << 16)));
        assert!(all.iter().any(|s| matches!(s, Shape::Reach { count, exact: true, .. }
            if *count >= 1 << 12)));
    }

    #[test]
    fn relative_counts_meet_the_depth_at_run_time() {
        // Straight-line shapes only and no deliberate trap: every copy count the builder
        // chose relative to its depth must be in range at run time (a wrong depth estimate
        // would trap stack-underflow), and the bottom item (count = depth - 1) is reached.
        let mut weights = Weights::uniform(0);
        for f in [
            Fragment::Push,
            Fragment::Stack,
            Fragment::Arith,
            Fragment::Heap,
            Fragment::Print,
            Fragment::DeepStack,
            Fragment::Burst,
            Fragment::Wide,
            Fragment::Route,
            Fragment::Straight,
            Fragment::BigLoop,
            Fragment::HeapWalk,
        ] {
            weights.set(f, 1);
        }
        let knobs =
            Knobs { weights, trap_rate: 0.0, undefined_label_rate: 0.0, ..Knobs::default() };
        let mut bottom = 0;
        for seed in 0..300 {
            let (case, shapes) = Builder::new(seed, &knobs).build_traced();
            let mut sink = Vec::new();
            let finish = crate::interp::run(
                &case.program,
                case.limits.with_fuel(case.limits.fuel.max(100_000)),
                &mut crate::io::Input::from_bytes(&case.input),
                &mut crate::io::Output::new(&mut sink),
            )
            .unwrap();
            let trap = finish.termination.trap().map(|t| t.kind);
            assert_ne!(trap, Some(crate::outcome::TrapKind::StackUnderflow), "seed {seed}");
            bottom += shapes
                .iter()
                .filter(|s| {
                    matches!(s, Shape::Reach { count, depth, slide: false, exact: true }
                    if *count + 1 == *depth && *depth > 16)
                })
                .count();
        }
        assert!(bottom > 20, "copies of the bottom item of a deep stack: {bottom}");
    }

    #[test]
    fn any_swarm_of_weights_terminates_and_stays_bounded() {
        // Only structured fragments, or only calls: generation must still end, and the size
        // stay within a few times the target.
        for only in [
            vec![Fragment::DeepStack, Fragment::HeapWalk, Fragment::BigLoop],
            vec![Fragment::Wide, Fragment::Burst, Fragment::Route, Fragment::Straight],
            vec![Fragment::Loop],
            vec![Fragment::Branch, Fragment::HeapLoop],
            vec![Fragment::Call, Fragment::Recursion],
        ] {
            let mut weights = Weights::uniform(0);
            for &f in &only {
                weights.set(f, 1);
            }
            let knobs = Knobs { weights, swarm: false, long_block_rate: 0.0, ..Knobs::default() };
            for seed in 0..200 {
                let case = generate(seed, &knobs);
                assert!(case.program.len() < 3000, "{only:?} seed {seed}: {}", case.program.len());
            }
        }
    }
}
