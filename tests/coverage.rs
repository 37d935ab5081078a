//! The floor of the JIT's decision coverage: the default budget of generated cases (as
//! `tests/differential.rs` runs, 2000 cases of the default knobs, here from a fixed seed list
//! so the floor is the same in every run) must reach every decision of the JIT
//! (`twinspace::jit::coverage::Decision`), except those listed in [`UNREACHABLE`], each with
//! the reason the generator or the JIT cannot reach it.
//!
//! This is what tells the next person which JIT path no test exercises: a new emission path
//! or exit gets a name in `src/jit/coverage.rs`, and this test fails until the generator
//! reaches it or the name is listed here with why not. It fails the other way too: a listed
//! decision that the budget now reaches must leave the list, so the list stays true.
//! It also checks that the counts agree with each other: every host call's bail is one exit
//! through its instruction's stub.
//! `TWINSPACE_COVERAGE_CASES=N` runs another budget (then only the floor is checked, and
//! the counts are printed).
//!
//! Listed as ignored off x86-64; on x86-64 without a working JIT it says so and does
//! nothing, or fails where `TWINSPACE_REQUIRE_JIT=1` (as in CI).

mod support;

use twinspace::differential::fuzz::case_seed;
use twinspace::engine::{Engine, Jit};
use twinspace::generate::{Knobs, generate};
use twinspace::jit::coverage::{self, Decision};

/// The default budget: the fixed part of what `tests/differential.rs` runs by default, the
/// first `CASES` cases of each master seed of `SEEDS` (case `i` of seed `s` is
/// `case_seed(s, i)`, as in `twinspace fuzz --seed s`).
const CASES: u64 = 1000;

/// The master seeds of `tests/differential.rs`'s fixed seed list.
const SEEDS: [u64; 5] = [0x5eed, 1, 2, 3, 0x7715_7e57];

/// Decisions the default budget does not reach, with the reason.
const UNREACHABLE: &[(&str, &str)] = &[
    // Bounds no generated program comes near.
    (
        "block-cut-at-max-block-len",
        "needs a straight run of 65,536 instructions (MAX_BLOCK_LEN): the generator makes one in about 1 case in 5,000 (a tenth of Knobs::long_block_rate), which larger budgets reach",
    ),
    (
        "call-return-index-imm64",
        "needs a call at instruction 2^31 or later: a program of that size cannot be compiled",
    ),
    // Defensive paths the JIT's own structure rules out.
    (
        "compiled-stepper-only",
        "the block analysis gives every stepper-only instruction a block of its own, which is never compiled",
    ),
    ("exit-stepper-only", "the exit of compiled-stepper-only, which cannot be reached"),
    (
        "exit-host-failed",
        "host calls report every failure as a bail (HostStatus::Failed is never set); the path stays for safety",
    ),
    ("host-call-panic", "a host call's body panics only through a bug in the JIT"),
    // The harness cannot make them happen.
    (
        "exit-host-error",
        "needs the output to fail while compiled code writes; the harness writes to memory, which never fails",
    ),
    ("host-call-error", "as exit-host-error: output to memory never fails"),
    (
        "refill-fuel-slice",
        "the fuel slice is 2^22 instructions; generated fuel is at most 30,000 (tests lower the slice: src/jit/tests)",
    ),
    ("stepper-refill-fuel-slice", "as refill-fuel-slice"),
    (
        "low-cells-go-over",
        "a program of up to 1,024 instructions reads the low cells unchecked from its start; a larger one goes over after 4,096 executed instructions per instruction, past the generated fuel (src/jit/tests/lowcells.rs moves that point)",
    ),
    (
        "stop-requested",
        "the harness runs cases with no stop request (src/jit/tests/stops.rs stops runs of the JIT)",
    ),
];

#[test]
#[cfg_attr(not(target_arch = "x86_64"), ignore = "the JIT runs on x86-64 only")]
fn the_default_budget_reaches_every_decision_but_the_listed() {
    if !support::jit_or_skip("the_default_budget_reaches_every_decision_but_the_listed") {
        return;
    }
    let budget = std::env::var("TWINSPACE_COVERAGE_CASES").ok().map(|v| {
        v.trim()
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("TWINSPACE_COVERAGE_CASES={v}: not a number"))
    });
    let knobs = Knobs::default();
    let jit = Jit::default();
    let _ = coverage::take();
    for seed in SEEDS {
        for i in 0..budget.unwrap_or(CASES) {
            let case = generate(case_seed(seed, i), &knobs);
            let _ = jit.run(&case);
        }
    }
    let counts = coverage::take();
    if budget.is_some() {
        eprintln!("{}", counts.report());
    }
    // Every bail of a host call leaves compiled code through its instruction's stub, and
    // nothing else does: the exits and the host calls' own counts must agree.
    let sum = |names: &[&str]| -> u64 {
        names.iter().map(|n| counts.get(Decision::from_name(n).expect("a decision"))).sum()
    };
    for (exit, bails) in [
        ("exit-store-host-bail", &["host-store-negative", "host-store-heap-full"][..]),
        ("exit-retrieve-host-bail", &["host-retrieve-negative", "host-retrieve-big"][..]),
        ("exit-print-host-bail", &["host-printc-invalid", "host-call-error"][..]),
    ] {
        assert_eq!(sum(&[exit]), sum(bails), "{exit} against {}", bails.join(" + "));
    }
    let listed = |d: Decision| UNREACHABLE.iter().any(|(name, _)| *name == d.name());
    let missed: Vec<&str> =
        counts.unreached().into_iter().filter(|&d| !listed(d)).map(Decision::name).collect();
    assert!(
        missed.is_empty(),
        "the generated cases never reach these JIT decisions: {}.\nMake the generator reach \
         them, or list them in UNREACHABLE (tests/coverage.rs) with the reason.",
        missed.join(", ")
    );
    if budget.is_none() {
        let reached: Vec<&str> = UNREACHABLE
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| Decision::from_name(name).is_some_and(|d| counts.get(d) > 0))
            .collect();
        assert!(
            reached.is_empty(),
            "these decisions are listed as unreachable but the default budget reaches them now: \
             {}.\nRemove them from UNREACHABLE (tests/coverage.rs).",
            reached.join(", ")
        );
    }
}

#[test]
fn the_unreachable_list_names_decisions_once_each_with_a_reason() {
    let mut names: Vec<&str> = UNREACHABLE.iter().map(|(name, _)| *name).collect();
    for (name, why) in UNREACHABLE {
        assert!(Decision::from_name(name).is_some(), "{name} is no JIT decision");
        assert!(!why.trim().is_empty(), "{name} is listed without a reason");
    }
    names.sort_unstable();
    let len = names.len();
    names.dedup();
    assert_eq!(names.len(), len, "a decision is listed twice");
}

#[test]
fn decision_names_are_unique_and_read_back() {
    let mut names: Vec<&str> = Decision::ALL.iter().map(|d| d.name()).collect();
    assert_eq!(names.len(), coverage::COUNT);
    for &d in Decision::ALL {
        assert_eq!(Decision::from_name(d.name()), Some(d), "{d} reads back as itself");
    }
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), coverage::COUNT, "decision names are unique");
}
