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
//! | [`diverge`] | the first executed instruction after which the two runs differ |
//! | [`shrink`] | reduction of a case to a minimal one that keeps the same signature |
//! | [`report`] | the readable report: listing, input, one diff per differing part, re-run command |
//! | [`keep`] | writing a mismatch as a corpus regression case named by its hash |
//! | [`fuzz`] | the fuzzing loop: seeds, threads, progress and the summary |
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
//! Invariant: a comparison always runs both engines on the same program, input and limits;
//! an engine that fails (a host error, or a panic, which is caught) never counts as agreeing.

pub mod compare;
pub mod diverge;
pub mod fuzz;
pub mod keep;
pub mod report;
pub mod shrink;

use std::panic::{AssertUnwindSafe, catch_unwind};

pub use compare::{Ending, Parts, Signature};

use crate::engine::RunCase;
use crate::interp::{Machine, Step};
use crate::io::{Input, Output};
use crate::jit;
use crate::outcome::{HostError, Outcome, Termination};
use crate::program::Opcode;

/// What one engine did with a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// The outcome, or why the engine failed to give one (a host error or a panic).
    pub result: Result<Outcome, String>,
    /// Times the engine handed over from machine integers to big integers (JIT only).
    pub handovers: u64,
}

impl Run {
    /// How the run stopped.
    pub fn ending(&self) -> Ending {
        Ending::of(&self.result)
    }
}

/// Something that runs cases: the reference interpreter, the JIT (possibly mutated), or a
/// stand-in in tests.
pub trait Subject: Sync {
    /// A short name for reports, e.g. `jit` or `jit (mutation slide-off-by-one)`.
    fn name(&self) -> String;
    /// The command-line flags that select this subject (empty for the plain JIT), so that a
    /// report's re-run command is exact.
    fn flags(&self) -> String {
        String::new()
    }
    /// Runs `case`.
    fn run(&self, case: &RunCase) -> Run;
}

/// Executed-instruction counts per opcode (indexed by `Opcode as usize`).
pub type Coverage = [u64; Opcode::ALL.len()];

/// The reference interpreter.
///
/// A case's own limits bound its runs: `value-bits` and `big-words` (SEMANTICS.md §3) stop a
/// loop that squares a value within a few instructions, in both engines at the same one, so
/// the harness needs no guard of its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reference;

impl Reference {
    /// Runs `case` on the reference machine, adding each executed instruction to `coverage`.
    ///
    /// This is [`crate::interp::run`] step by step ([`Machine::step`], then flushing the
    /// output when the run stops), with a counter beside it.
    pub fn run_counting(&self, case: &RunCase, coverage: &mut Coverage) -> Run {
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
                            let stopped = HostError::Stopped { index: machine.pc, cause };
                            return Err(stopped.to_string());
                        }
                    }
                    let op = case.program.instructions().get(machine.pc).map(|i| i.opcode());
                    let step = match machine.step(&mut input, &mut output) {
                        Ok(step) => step,
                        Err(e) => return Err(e.to_string()),
                    };
                    match step {
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
                if let Err(e) = output.flush() {
                    return Err(e.to_string());
                }
                machine.finish(termination)
            };
            Ok(Outcome { output: sink, finish })
        }));
        match result {
            Ok(result) => Run { result, handovers: 0 },
            Err(p) => Run { result: Err(panic_message(p)), handovers: 0 },
        }
    }
}

impl Subject for Reference {
    fn name(&self) -> String {
        "interp".to_owned()
    }

    fn run(&self, case: &RunCase) -> Run {
        self.run_counting(case, &mut [0; Opcode::ALL.len()])
    }
}

/// The JIT, with its options (a deliberate mutation, for testing this harness).
#[derive(Clone, Copy, Debug, Default)]
pub struct Jit {
    /// The options every run uses.
    pub options: jit::Options,
}

impl Jit {
    /// The JIT with `mutation` compiled in (`None`: the real JIT).
    pub fn new(mutation: Option<jit::Mutation>) -> Jit {
        Jit { options: jit::Options { mutation, ..Default::default() } }
    }
}

impl Subject for Jit {
    fn name(&self) -> String {
        match self.options.mutation {
            None => "jit".to_owned(),
            Some(m) => format!("jit (mutation {m})"),
        }
    }

    fn flags(&self) -> String {
        match self.options.mutation {
            None => String::new(),
            Some(m) => format!(" --mutate {m}"),
        }
    }

    fn run(&self, case: &RunCase) -> Run {
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut sink = Vec::new();
            let (finish, stats) = {
                let mut output = Output::new(&mut sink);
                let mut input = Input::from_bytes(&case.input);
                jit::run_with(&case.program, case.limits, &self.options, &mut input, &mut output)
                    .map_err(|e| e.to_string())?
            };
            Ok((Outcome { output: sink, finish }, stats.handovers))
        }));
        match result {
            Ok(Ok((outcome, handovers))) => Run { result: Ok(outcome), handovers },
            Ok(Err(e)) => Run { result: Err(e), handovers: 0 },
            Err(p) => Run { result: Err(panic_message(p)), handovers: 0 },
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    format!("panicked: {text}")
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

/// Runs `case` on the reference and on `subject`, and compares the `parts` of their outcomes.
pub fn check(
    case: &RunCase,
    reference: &Reference,
    subject: &dyn Subject,
    parts: Parts,
) -> Comparison {
    let reference = reference.run(case);
    let subject = subject.run(case);
    let mismatch = Signature::of(&reference.result, &subject.result, parts);
    Comparison { reference, subject, mismatch }
}

/// Whether `case` shows exactly the mismatch `signature`.
pub fn shows(
    case: &RunCase,
    reference: &Reference,
    subject: &dyn Subject,
    parts: Parts,
    signature: Signature,
) -> bool {
    check(case, reference, subject, parts).mismatch == Some(signature)
}

/// Checks `case`; if the runs disagree, shrinks it (when `shrink_budget` is given) and finds where the runs part.
///
/// Shrinking has two phases. The first keeps the mismatch's [`Signature`] (the same parts
/// differ, and the same endings when the termination differs); it is fast, and removes most
/// of the program. The second keeps the signature *at the first divergence*
/// ([`diverge::Divergence::signature`]): the immediate effect of the wrong instruction, so that
/// consequences that only a long run shows (the control flow changed by a wrong value, both
/// engines running out of fuel at different places) may disappear while the cause stays.
pub fn investigate(
    case: &RunCase,
    reference: &Reference,
    subject: &dyn Subject,
    parts: Parts,
    shrink_budget: Option<std::time::Duration>,
) -> Option<report::Finding> {
    let case = case.clone();
    let reference_run = reference.run(&case);
    let subject_run = subject.run(&case);
    let found = Signature::of(&reference_run.result, &subject_run.result, parts)?;
    let shrunk = shrink_budget.map(|budget| {
        let start = std::time::Instant::now();
        let first = shrink::shrink_mismatch(&case, reference, subject, parts, found, budget);
        let Some(cause) =
            diverge::first_divergence(&first.case, reference, subject, parts).map(|d| d.signature)
        else {
            return first;
        };
        let rest = budget.saturating_sub(start.elapsed());
        let keeps_cause = |c: &RunCase| {
            diverge::first_divergence(c, reference, subject, parts)
                .is_some_and(|d| d.signature == cause)
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
        Some(s) => (s.case.clone(), Some(check(&s.case, reference, subject, parts))),
        None => (case.clone(), None),
    };
    let (reference_run, subject_run, mismatch) = match last {
        Some(c) => (c.reference, c.subject, c.mismatch),
        None => (reference_run, subject_run, Some(found)),
    };
    let divergence = diverge::first_divergence(&final_case, reference, subject, parts);
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

/// Why the JIT cannot run on this machine, or `None` if it can. Asks the JIT itself (it runs
/// a one-instruction program), so a JIT that is built but reports itself unavailable only on
/// some machines is handled the same way.
pub fn jit_unavailable() -> Option<String> {
    let program =
        crate::program::Program::from_instructions(vec![crate::program::Instruction::End]);
    let mut sink = Vec::new();
    let mut output = Output::new(&mut sink);
    let mut input = Input::from_bytes(&[]);
    match jit::run_with(
        &program,
        crate::limits::Limits::DEFAULT,
        &jit::Options::default(),
        &mut input,
        &mut output,
    ) {
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    }
}
