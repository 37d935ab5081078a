//! The differential harness: run one [`RunCase`] on the reference interpreter and on the engine
//! under test, compare the whole outcome, and when they disagree shrink the case to a minimal
//! reproducer, report it and keep it as a corpus regression.
//!
//! ```text
//! RunCase --check--> Agree
//!              \---> Mismatch --shrink--> minimal RunCase --report--> text
//!                                                              \--keep---> corpus/regressions/
//! ```
//!
//! | module | owns |
//! |---|---|
//! | [`compare`] | [`Parts`] of an outcome, which of them differ, the mismatch [`Signature`] |
//! | [`diverge`] | the exact instruction after which the two runs differ: fuel bisection, then inside the JIT's block |
//! | [`shrink`] | reduction of a case to a minimal one that keeps the same signature |
//! | [`report`] | the readable report: listing, input, one diff per differing part, re-run command |
//! | [`keep`] | writing a mismatch as a corpus regression case named by its hash |
//! | [`fuzz`] | the fuzzing loop: seeds, threads, progress and the summary |
//! | [`supervise`] | fuzzing in a child process: its crashes replayed, shrunk in processes of their own |
//!
//! Entry points: [`check`] (one case, both engines), [`investigate`] (check, shrink, find
//! the divergence), [`fuzz::fuzz`] (many generated cases on threads), [`keep::keep`] (write a
//! regression). An engine that crashes the whole process cannot be caught in-process: `twinspace
//! fuzz` runs the loop in a child process with a journal of the running cases
//! ([`fuzz::FuzzConfig::journal`]) and replays and shrinks the crashing case in children.
//!
//! A kept case becomes a regression test by itself: `tests/corpus.rs` runs every
//! `corpus/regressions/NAME.ws` on both engines with `NAME.in` as input and the limits of
//! `NAME.expect`, and requires the reference outcome recorded there. Commit the files.
//!
//! The reference is always the interpreter ([`Interp`]): the fuzzer's coverage and the
//! divergence's trace read its machine. The engine under test is any [`Engine`]; a comparison
//! looks at the parts asked for that the subject reports ([`Engine::capabilities`]).
//!
//! Invariant: a comparison always runs both engines on the same program, input and limits;
//! an engine that fails (a host error, a panic, which is caught, or a crash) agrees only with
//! an identical failure ([`crate::engine::Failure`] is compared by value).

pub mod compare;
pub mod diverge;
pub mod fuzz;
pub mod keep;
pub mod report;
pub mod shrink;
pub mod supervise;

use std::panic::{AssertUnwindSafe, catch_unwind};

pub use crate::outcome::Parts;
pub use compare::{Ending, Signature};

use crate::engine::{Engine, Failure, Interp, Run, RunCase, panic_message};
use crate::interp::{Machine, Step};
use crate::io::{Input, Output};
use crate::outcome::{HostError, Outcome, Termination};
use crate::program::Opcode;

/// Executed-instruction counts per opcode (indexed by `Opcode as usize`).
pub type Coverage = [u64; Opcode::ALL.len()];

/// Runs `case` on the reference interpreter, adding each executed instruction to `coverage`.
///
/// A case's own limits bound its runs: `value-bits` and `big-words` (SEMANTICS.md §3) stop a
/// loop that squares a value within a few instructions, in both engines at the same one, so
/// the harness needs no guard of its own. This is [`crate::interp::run`] step by step
/// ([`Machine::step`], then flushing the output when the run stops), with a counter beside it.
pub fn run_counting(case: &RunCase, coverage: &mut Coverage) -> Run {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut sink = Vec::new();
        let finish = {
            let mut output = Output::new(&mut sink);
            let mut input = Input::from_bytes(&case.input);
            let mut machine = Machine::new(&case.program, case.limits);
            let stop = crate::stop::Stop::current();
            let termination = loop {
                if machine.executed % crate::stop::Stop::CHECK_EVERY == 0 {
                    if let Some(cause) = stop.poll() {
                        return Err(HostError::Stopped { index: machine.pc, cause }.into());
                    }
                }
                let op = case.program.instructions().get(machine.pc).map(|i| i.opcode());
                match machine.step(&mut input, &mut output).map_err(Failure::from)? {
                    Step::Continue => {
                        if let Some(op) = op {
                            coverage[op as usize] += 1;
                        }
                    }
                    Step::Stop(t) => {
                        if let (Termination::Ended, Some(op)) = (t, op) {
                            coverage[op as usize] += 1;
                        }
                        break t;
                    }
                }
            };
            output.flush().map_err(|e| Failure::from(HostError::from(e)))?;
            machine.finish(termination)
        };
        Ok(Outcome { output: sink, finish })
    }));
    match result {
        Ok(result) => Run { result, handovers: 0 },
        Err(p) => Run { result: Err(Failure::Panic(panic_message(p))), handovers: 0 },
    }
}

/// Both runs of a case and what differs between them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comparison {
    /// The reference interpreter's run.
    pub reference: Run,
    /// The run of the engine under test.
    pub subject: Run,
    /// `None` when the runs agree on every compared part; otherwise what differs.
    pub mismatch: Option<Signature>,
}

/// The parts of `asked` that a comparison of the reference with `subject` looks at: those
/// both engines report.
pub fn compared_parts(subject: &dyn Engine, asked: Parts) -> Parts {
    asked & subject.capabilities() & Interp.capabilities()
}

/// Runs `case` on the reference and on `subject`, and compares the `parts` of their outcomes
/// that `subject` reports.
///
/// ```
/// use twinspace::Limits;
/// use twinspace::differential::{Parts, check};
/// use twinspace::engine::{Engine, Jit, RunCase};
/// use twinspace::syntax::assemble;
///
/// let program = assemble("push -7 | push 2 | mod | printi | end").unwrap();
/// let case = RunCase::new(program, Vec::new(), Limits::DEFAULT);
/// if Jit::default().unavailable().is_none() {
///     let both = check(&case, &Jit::default(), Parts::all());
///     assert_eq!(both.mismatch, None);
///     assert_eq!(both.reference.result.unwrap().output, b"1");
/// }
/// ```
pub fn check(case: &RunCase, subject: &dyn Engine, parts: Parts) -> Comparison {
    let reference = Interp.run(case);
    let subject_run = subject.run(case);
    let mismatch =
        Signature::of(&reference.result, &subject_run.result, compared_parts(subject, parts));
    Comparison { reference, subject: subject_run, mismatch }
}

/// Whether `case` shows exactly the mismatch `signature`.
pub fn shows(case: &RunCase, subject: &dyn Engine, parts: Parts, signature: Signature) -> bool {
    check(case, subject, parts).mismatch == Some(signature)
}

/// Checks `case`; if the runs disagree, shrinks it (when `shrink_budget` is given) and finds where the runs part.
///
/// ```
/// use std::time::Duration;
///
/// use twinspace::Limits;
/// use twinspace::differential::{Parts, investigate};
/// use twinspace::engine::{self, Engine, Jit, RunCase};
/// use twinspace::syntax::assemble;
///
/// let program = assemble("push 1 | push 2 | drop | push -7 | push 2 | div | printi | end").unwrap();
/// let case = RunCase::new(program, Vec::new(), Limits::DEFAULT);
/// if Jit::default().unavailable().is_none() {
///     assert!(investigate(&case, &Jit::default(), Parts::all(), None).is_none());
///     // A JIT with a deliberate bug (division truncates instead of flooring), in builds with
///     // the `mutations` feature:
///     if let Ok(buggy) = engine::by_name("jit:mutate=truncated-division") {
///         let finding = investigate(&case, &*buggy, Parts::all(), Some(Duration::from_secs(5)))
///             .expect("the engines disagree");
///         assert!(finding.case.program.len() < case.program.len(), "shrunk");
///     }
/// }
/// ```
///
/// Shrinking has two phases. The first keeps the mismatch's [`Signature`] (the same parts
/// differ, and the same endings when the termination differs); it is fast, and removes most
/// of the program. The second keeps the signature *at the first divergence*
/// ([`diverge::Divergence::signature`]): the immediate effect of the wrong instruction, so that
/// consequences that only a long run shows (the control flow changed by a wrong value, both
/// engines running out of fuel at different places) may disappear while the cause stays.
pub fn investigate(
    case: &RunCase,
    subject: &dyn Engine,
    parts: Parts,
    shrink_budget: Option<std::time::Duration>,
) -> Option<report::Finding> {
    let case = case.clone();
    let Comparison { reference: reference_run, subject: subject_run, mismatch } =
        check(&case, subject, parts);
    let found = mismatch?;
    let shrunk = shrink_budget.map(|budget| {
        let start = std::time::Instant::now();
        let first = shrink::shrink_mismatch(&case, subject, parts, found, budget);
        let Some(cause) =
            diverge::first_divergence(&first.case, subject, parts).map(|d| d.signature)
        else {
            return first;
        };
        let rest = budget.saturating_sub(start.elapsed());
        let keeps_cause = |c: &RunCase| {
            diverge::first_divergence(c, subject, parts).is_some_and(|d| d.signature == cause)
        };
        let second = shrink::shrink(&first.case, keeps_cause, rest);
        shrink::Shrunk {
            case: second.case,
            tries: first.tries + second.tries,
            accepted: first.accepted + second.accepted,
            elapsed: start.elapsed(),
            complete: first.complete && second.complete,
            first_phase: Some((first.case.program.len(), cause)),
        }
    });
    let (final_case, last) = match &shrunk {
        Some(s) => (s.case.clone(), Some(check(&s.case, subject, parts))),
        None => (case.clone(), None),
    };
    let (reference_run, subject_run, mismatch) = match last {
        Some(c) => (c.reference, c.subject, c.mismatch),
        None => (reference_run, subject_run, Some(found)),
    };
    // The report's divergence is exact (searched inside the block); shrinking used the
    // bisection alone, which is cheaper.
    let divergence = diverge::exact_divergence(&final_case, subject, parts);
    Some(report::Finding {
        original: case,
        found,
        shrunk,
        case: final_case,
        reference: reference_run,
        subject: subject_run,
        // An engine that is not deterministic could disagree differently on the rerun.
        signature: mismatch.unwrap_or(found),
        divergence,
    })
}
