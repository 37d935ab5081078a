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
//! The [`CaseTree`] of a generated case shrinks with the candidates of [`reduce`], which keep
//! programs well-formed; the harness's own [`crate::differential::shrink::shrink`] uses the
//! same candidates but only accepts the ones that still show the same mismatch.
//!
//! # Layout
//! | module | owns |
//! |---|---|
//! | `rng` | the random source (SplitMix64) and its draws |
//! | `values` | boundary-heavy literals, divisors, wild indices, characters |
//! | `knobs` | [`Knobs`], [`Fragment`], [`Weights`], [`InputShape`], [`LimitShape`] |
//! | `builder` | the state of one generation and the program's layout |
//! | `fragments` | straight-line fragments and the choice among all fragments |
//! | `flow` | branches, jumps, loops, calls |
//! | `input` | the input generated for the program's reads |
//! | `limits` | the limits drawn from the [`LimitShape`] |
//! | `strategy` | the `proptest` glue: [`cases`], [`CaseStrategy`], [`CaseTree`] |
//! | [`reduce`] | the engine-free case reducer ([`reduce::Candidates`]) |
//!
//! Dependencies point one way, and never at the harness: `strategy -> reduce -> values -> rng`;
//! `builder -> input, limits, knobs, values -> rng`. `builder`, `fragments` and `flow` are the
//! `impl` of one type, `Builder`, split by concern; they call each other
//! because blocks hold fragments and structured fragments hold blocks.

mod builder;
mod flow;
mod fragments;
mod input;
mod knobs;
mod limits;
pub mod reduce;
mod rng;
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

/// Generates a case whose random draws are `data`, 8 bytes each (little-endian), and a fixed
/// stream once `data` runs out: a pure function of the bytes and the knobs, and well-formed for
/// every input. This is how a coverage-guided fuzzer (`fuzz/`, libFuzzer) drives the generator:
/// the bytes it mutates are the choices the generator makes, so any input is a valid case.
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
            assert!(p.len() < 5000, "{} instructions from {} bytes", p.len(), data.len());
            for (i, ins) in p.instructions().iter().enumerate() {
                if let Some(l) = ins.jump_label() {
                    assert!(p.target(i).is_some() || l.letters().starts_with("TTTTTTTT"), "{l}");
                }
            }
            distinct.insert(crate::syntax::print_ws(p));
        }
        assert!(distinct.len() > inputs.len() * 9 / 10, "{} distinct", distinct.len());
        // The bytes are the draws: a seed's own stream, written out as bytes, is its case.
        for seed in 0..20 {
            let mut rng = rng::CaseRng::new(seed);
            let data: Vec<u8> = (0..20_000).flat_map(|_| rng.next_u64().to_le_bytes()).collect();
            assert_eq!(generate_from_bytes(&data, &knobs), generate(seed, &knobs), "seed {seed}");
        }
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
}
