//! What the fuzz targets check, as plain functions: each target in `fuzz_targets/` is one line
//! that hands libFuzzer's bytes to one of these, so the checks themselves build and are tested
//! on stable (`cargo test --manifest-path fuzz/Cargo.toml`) without libFuzzer.
//!
//! | target | input | checks |
//! |---|---|---|
//! | [`differential`] | the generator's draws ([`generate_from_bytes`]) | both engines agree on the whole outcome |
//! | [`raw`] | fuel, an input and Whitespace source ([`RawCase`]) | no panic; when it parses, both engines agree under small limits |
//! | [`parse`] | Whitespace source (raw, then visible letters) | no panic; a parsed program prints and parses back to itself |
//!
//! A disagreement panics with the harness's report (the same text `twinspace diff` prints),
//! which libFuzzer shows above its crash line and saves the input under `artifacts/`; an engine
//! that crashes the process is caught by libFuzzer itself. The engine under test is the JIT,
//! or, with the `mutations` feature, whatever `TWINSPACE_FUZZ_ENGINE` names
//! (`jit:mutate=NAME`), to measure how fast a target finds a planted bug.

use std::sync::{Arc, OnceLock};

use arbitrary::Unstructured;
use twinspace::differential::report::Report;
use twinspace::differential::{Parts, check, investigate};
use twinspace::engine::{self, Engine, RunCase};
use twinspace::generate::{Knobs, generate_from_bytes};
use twinspace::syntax::{parse_visible, print_visible, print_ws};
use twinspace::{Limits, Program};

/// The engine every target compares with the reference interpreter.
pub fn subject() -> &'static dyn Engine {
    static SUBJECT: OnceLock<Arc<dyn Engine>> = OnceLock::new();
    &**SUBJECT.get_or_init(|| {
        let name = std::env::var("TWINSPACE_FUZZ_ENGINE").unwrap_or_else(|_| "jit".to_owned());
        let engine =
            engine::by_name(&name).unwrap_or_else(|e| panic!("TWINSPACE_FUZZ_ENGINE={name}: {e}"));
        if let Some(why) = engine.unavailable() {
            panic!("the engine `{name}` cannot run here: {why}");
        }
        engine
    })
}

/// The knobs of the structure-aware target: the generator's defaults, so that a fuzzer input
/// decodes to the kind of case `twinspace fuzz` makes.
pub fn knobs() -> &'static Knobs {
    static KNOBS: OnceLock<Knobs> = OnceLock::new();
    KNOBS.get_or_init(Knobs::default)
}

/// The case a `differential` input decodes to.
pub fn differential_case(data: &[u8]) -> RunCase {
    generate_from_bytes(data, knobs())
}

/// Target `differential`: the bytes are the generator's choices (a byte for each small one),
/// so every input is a well-formed case; both engines run it and must agree on every part.
pub fn differential(data: &[u8]) {
    compare(&differential_case(data), "differential");
}

/// What a `raw` input decodes to: limits small enough that any program ends within
/// milliseconds, the program's input, and the rest of the bytes as Whitespace source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawCase {
    /// The limits of the run.
    pub limits: Limits,
    /// The program's input.
    pub input: Vec<u8>,
    /// The source, raw Whitespace.
    pub source: Vec<u8>,
}

impl RawCase {
    /// Decodes a fuzzer input: a fuel (0..=20,000), small stack, call and heap limits, an
    /// input of up to 64 bytes, and everything left as the source. Never fails: missing
    /// bytes read as zeros.
    pub fn decode(data: &[u8]) -> RawCase {
        let mut u = Unstructured::new(data);
        let fuel = u.int_in_range(0..=20_000u64).unwrap_or(0);
        let tight = u.ratio(1u8, 8).unwrap_or(false);
        let size = |u: &mut Unstructured, small: usize| -> usize {
            if tight { u.int_in_range(0..=small).unwrap_or(0) } else { 1 << 12 }
        };
        let limits = Limits {
            fuel,
            stack: size(&mut u, 16),
            calls: size(&mut u, 8),
            heap: size(&mut u, 8),
            value_bits: if tight { u.int_in_range(0..=160).unwrap_or(0) } else { 1 << 12 },
            big_words: 1 << 12,
        };
        let input_len = u.int_in_range(0..=64usize).unwrap_or(0);
        let input = u.bytes(input_len.min(u.len())).unwrap_or_default().to_vec();
        RawCase { limits, input, source: u.take_rest().to_vec() }
    }
}

/// The bytes a `raw` input starts with to run its source with fuel 2,048, ordinary limits and
/// no input (the seed corpora put it before each program; `.clusterfuzzlite/build.sh` writes
/// the same bytes).
pub const RAW_SEED_PREFIX: [u8; 4] = [0x08, 0x00, 0xff, 0x00];

/// Target `raw`: arbitrary bytes as Whitespace source. Parsing must never panic; a source
/// that parses runs on both engines, which must agree.
pub fn raw(data: &[u8]) {
    let raw = RawCase::decode(data);
    let Ok(program) = twinspace::syntax::parse(&raw.source) else { return };
    compare(&RunCase::new(program, raw.input, raw.limits), "raw");
}

/// Target `parse`: the bytes as raw Whitespace and (when they are UTF-8) as visible letters. Neither parse may
/// panic, and a program that parses prints (raw and visible) to text that parses back to the
/// same instructions.
pub fn parse(data: &[u8]) {
    if let Ok(program) = twinspace::syntax::parse(data) {
        round_trip(&program);
    }
    if let Ok(program) =
        std::str::from_utf8(data).map_err(drop).and_then(|t| parse_visible(t).map_err(drop))
    {
        round_trip(&program);
    }
}

fn round_trip(program: &Program) {
    let printed = print_ws(program);
    let again = twinspace::syntax::parse(&printed)
        .unwrap_or_else(|e| panic!("the printed program does not parse: {e}"));
    assert_eq!(again.instructions(), program.instructions(), "raw print and parse differ");
    let letters = print_visible(program);
    let again =
        parse_visible(&letters).unwrap_or_else(|e| panic!("the printed letters do not parse: {e}"));
    assert_eq!(again.instructions(), program.instructions(), "visible print and parse differ");
}

/// Runs `case` on the reference and the subject; on a mismatch, panics with the report.
fn compare(case: &RunCase, target: &str) {
    let subject = subject();
    if check(case, subject, Parts::all()).mismatch.is_some() {
        panic!("{}", mismatch_report(case, subject, target));
    }
}

/// The report of the mismatch `case` shows on `subject` (unshrunk: libFuzzer minimises the
/// input itself, and `fuzz-case keep` shrinks the case): `None`-free, it says so when the
/// runs agree after all.
pub fn mismatch_report(case: &RunCase, subject: &dyn Engine, target: &str) -> String {
    let Some(finding) = investigate(case, subject, Parts::all(), None) else {
        return format!("the engines agree on this case (target `{target}`)");
    };
    Report {
        finding: &finding,
        reference_name: "interp".to_owned(),
        subject_name: subject.name(),
        origin: Some(format!("the cargo-fuzz target `{target}`")),
        rerun: vec![format!(
            "cargo run --manifest-path fuzz/Cargo.toml --bin fuzz-case -- keep {target} ARTIFACT"
        )],
        kept: None,
    }
    .render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_input_decodes_to_a_case_the_engines_agree_on() {
        // Not a proof (that is the fuzzer's job), but every shape of input must decode, and
        // the real JIT agree on them.
        let inputs: Vec<Vec<u8>> = vec![
            vec![],
            vec![0; 64],
            vec![0xff; 4096],
            (0..=255).collect(),
            b"   \t\n\t\n  \n\n\n".to_vec(),
        ];
        for data in &inputs {
            if engine::Jit::default().unavailable().is_none() {
                differential(data);
                raw(data);
            }
            parse(data);
        }
    }

    #[test]
    fn raw_inputs_decode_limits_input_and_source() {
        // Two bytes of fuel, the tight flag (0xff: not tight), the input's length and bytes,
        // then the source.
        let mut data = vec![0x10, 0x00, 0xff, 3];
        data.extend(b"abc");
        data.extend(b"  \t\n\n\n\n");
        let raw = RawCase::decode(&data);
        assert_eq!((raw.input.as_slice(), raw.source.as_slice()), (&b"abc"[..], &data[7..]));
        assert_eq!(raw.limits.stack, 1 << 12, "not tight");
        assert_eq!(RawCase::decode(&data), raw, "a function of the bytes");
        // Whatever the bytes: bounded limits, the input and source are the input's tail.
        for n in 0..200u8 {
            let data: Vec<u8> = (0..n).map(|i| i.wrapping_mul(n).wrapping_add(7)).collect();
            let raw = RawCase::decode(&data);
            assert!(raw.limits.fuel <= 20_000 && raw.input.len() <= 64);
            let mut tail = raw.input.clone();
            tail.extend(&raw.source);
            assert!(data.ends_with(&tail), "{data:?}");
        }
        assert_eq!(RawCase::decode(&[]).source, b"");
        let mut seeded = RAW_SEED_PREFIX.to_vec();
        seeded.extend(b"\n\n\n");
        let raw = RawCase::decode(&seeded);
        assert_eq!((raw.limits.fuel, raw.limits.stack), (2048, 1 << 12));
        assert_eq!((raw.input.as_slice(), raw.source.as_slice()), (&b""[..], &b"\n\n\n"[..]));
    }

    #[test]
    fn far_copies_through_the_raw_target_agree() {
        // The class of issue 9's `copy 2^44`: the JIT once formed the item's address by
        // wrapping around the address space and read wild memory (a SIGSEGV, which would end
        // this test's process). Every power of two a stack cannot reach, and its neighbours.
        if engine::Jit::default().unavailable().is_some() {
            return;
        }
        for k in 40..=50 {
            for n in [(1u64 << k) - 1, 1 << k, (1 << k) + 1] {
                let listing = format!("push 1 | push 2 | copy {n} | printi | end");
                let program = twinspace::syntax::assemble(&listing).unwrap();
                let mut data = RAW_SEED_PREFIX.to_vec();
                data.extend(print_ws(&program));
                raw(&data);
            }
        }
    }

    #[test]
    fn the_input_libfuzzer_found_for_the_copy_2_48_class_agrees_on_the_fixed_jit() {
        // libFuzzer's first crash of `jit:mutate=wrapping-copy-check` from an empty corpus
        // (`-seed=1`, after 20,061 runs; fuzz/README.md), found again after the generator's
        // `route` fragment gained its `sub`/`jz`/`jn` arm (which re-keyed every saved input):
        // its 20 bytes decode to a 91-instruction case whose sixth instruction copies
        // 2^48 - 2 from a stack of one item, which read wild memory in the mutated JIT. The
        // decoding must keep giving that case (a saved input keeps its meaning until the
        // generator changes; then this input is found again), and the fixed JIT agree on it.
        let data = [
            0xf8, 0x01, 0xff, 0x81, 0xff, 0xff, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x33, 0x33, 0x33, 0x03, 0xd8, 0x2e,
        ];
        let case = differential_case(&data);
        let far = twinspace::Instruction::Copy(((1u64 << 48) - 2).into());
        assert!(case.program.instructions().contains(&far), "{}", print_visible(&case.program));
        if engine::Jit::default().unavailable().is_none() {
            differential(&data);
        }
    }

    #[test]
    #[cfg(feature = "mutations")]
    fn a_planted_bug_makes_the_differential_target_panic_with_a_report() {
        // The mutation truncates division instead of flooring: -7 div 2 is -4, not -3.
        let buggy = engine::by_name("jit:mutate=truncated-division").unwrap();
        if buggy.unavailable().is_some() {
            return;
        }
        let source = "push 1 | push 2 | drop | push -7 | push 2 | div | printi | end";
        let program = twinspace::syntax::assemble(source).unwrap();
        let case = RunCase::new(program, Vec::new(), Limits::DEFAULT);
        let report = mismatch_report(&case, &*buggy, "differential");
        let head = "MISMATCH: interp and jit:mutate=truncated-division disagree";
        assert!(report.starts_with(head), "{report}");
        assert!(report.contains("fuzz-case -- keep differential"), "{report}");
    }
}
