//! The conformance suite: every case of `conformance/*.case` (format: `twinspace::case`) runs on
//! every engine, as one trial named `<file-stem>::<case-name>::<engine>`, and on both engines
//! at once, as `<file-stem>::<case-name>::agree`.
//!
//! Filter like any cargo test (`cargo test --test conformance -- heap::`). A trial for an engine
//! that cannot run on this machine is listed as ignored (as is `::agree`), and the trial
//! `conformance::jit-available` fails instead where the JIT is required
//! (`TWINSPACE_REQUIRE_JIT=1` on x86-64, as CI sets it). A case file that does not parse is a
//! failing trial `<file-stem>::case-file` naming its line, so a broken file is never skipped.
//! A failure prints the case's file and line, each differing part as a unified diff with
//! invisible characters shown, and the command that re-runs just that trial.
//!
//! Beyond each case's own expectation, an engine trial checks, independently of the parser
//! and assembler that made the program (`positions.rs`), that the program has the case text's
//! instructions and that a trap reports the source position of its instruction; and for a
//! case with a transcript (`transcript:`, or a name starting with `interactive-`), that the
//! transcript the engine records agrees with it, also when the input gives one byte per read,
//! and that the sink held what that record says whenever the engine asked the input for a
//! byte (`terminal.rs`). The `::agree` trial requires the two engines' whole outcomes to be
//! equal (output, termination with the trap's position, stack, heap, executed count, and the
//! transcript), even where the case pins only part of them.

#[path = "conformance/positions.rs"]
mod positions;
mod support;
#[path = "conformance/terminal.rs"]
mod terminal;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};
use twinspace::case::{
    ConformanceCase, Expectation, ExpectedOutcome, Source, format_escaped, parse_cases,
};
use twinspace::{Engine, Outcome, Program};

fn main() {
    let args = Arguments::from_args();
    libtest_mimic::run(&args, trials()).exit();
}

/// The directory of case files, and how its files are named in messages.
fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance")
}

fn trials() -> Vec<Trial> {
    let mut trials = vec![support::jit_available_trial("conformance::jit-available")];
    let dir = suite_dir();
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "case"))
            .collect(),
        Err(e) => {
            let message = format!("cannot read {}: {e}", dir.display());
            trials.push(Trial::test("conformance::case-files", move || Err(message.into())));
            return trials;
        }
    };
    files.sort();
    if files.is_empty() {
        let message = format!("no *.case file in {}", dir.display());
        trials.push(Trial::test("conformance::case-files", move || Err(message.into())));
        return trials;
    }
    for path in files {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let shown =
            format!("conformance/{}", path.file_name().unwrap_or_default().to_string_lossy());
        let cases = std::fs::read_to_string(&path)
            .map_err(|e| format!("{shown}: cannot read: {e}"))
            .and_then(|text| {
                parse_cases(&text).map_err(|e| format!("{shown}:{}: {}", e.line, e.message))
            });
        let cases = match cases {
            Ok(cases) if cases.is_empty() => Err(format!("{shown}: the file holds no case")),
            other => other,
        };
        let cases = match cases {
            Ok(cases) => cases,
            Err(message) => {
                trials.push(Trial::test(format!("{stem}::case-file"), move || {
                    Err(format!("malformed case file: {message}").into())
                }));
                continue;
            }
        };
        for case in cases {
            let case = Arc::new(case);
            for engine in twinspace::engine::all() {
                let name = format!("{stem}::{}::{engine}", case.name);
                let (case, shown) = (Arc::clone(&case), shown.clone());
                let rerun = format!("cargo test --test conformance -- --exact {name}");
                let ignored = engine.unavailable().is_some();
                trials.push(
                    Trial::test(name, move || run_case(&case, &*engine, &shown, &rerun))
                        .with_ignored_flag(ignored),
                );
            }
            // A program that does not parse runs on no engine: there is nothing to agree on.
            if !matches!(case.expectation.outcome, ExpectedOutcome::ParseError { .. }) {
                let name = format!("{stem}::{}::agree", case.name);
                let rerun = format!("cargo test --test conformance -- --exact {name}");
                let shown = shown.clone();
                let all_available =
                    twinspace::engine::all().iter().all(|e| e.unavailable().is_none());
                trials.push(
                    Trial::test(name, move || run_agree(&case, &shown, &rerun))
                        .with_ignored_flag(!all_available),
                );
            }
        }
    }
    trials
}

/// The program of a case, or the failure report of a case whose listing does not assemble.
fn program_of(
    case: &ConformanceCase,
    here: &str,
    file: &str,
    rerun: &str,
) -> Result<Result<Program, twinspace::syntax::ParseError>, Failed> {
    case.program().map_err(|e| {
        format!("{here}\n{file}:{}: bad program: {}\nrerun: {rerun}", e.line, e.message).into()
    })
}

/// Runs one case on one engine; the error message is the whole failure report.
fn run_case(
    case: &ConformanceCase,
    engine: &dyn Engine,
    file: &str,
    rerun: &str,
) -> Result<(), Failed> {
    let here = format!("{file}:{}: case `{}` on {engine}", case.line, case.name);
    let program = program_of(case, &here, file, rerun)?;
    let expectation = terminal::expectation(case);
    let mut report = String::new();
    let actual = match &program {
        Ok(program) => {
            let outcome = engine
                .run_bytes(program, case.limits, &case.input)
                .map_err(|e| format!("{here}\nhost error: {e}\nrerun: {rerun}"))?;
            report.push_str(&check_positions(case, program, &outcome));
            if expectation.transcript.is_some() {
                report.push_str(&terminal::check_flushing(case, &expectation, program, engine));
            }
            Ok(outcome)
        }
        Err(parse_error) => Err(parse_error.clone()),
    };
    report.insert_str(0, &expectation.check(&actual));
    fail_with(case, &here, report, rerun)
}

/// Runs one case on every engine and compares their whole outcomes with the reference's.
fn run_agree(case: &ConformanceCase, file: &str, rerun: &str) -> Result<(), Failed> {
    let here = format!("{file}:{}: case `{}` on every engine", case.line, case.name);
    let program = match program_of(case, &here, file, rerun)? {
        Ok(program) => program,
        // The engine trials report a program that unexpectedly does not parse.
        Err(_) => return Ok(()),
    };
    let run = |engine: &dyn Engine| {
        engine
            .run_bytes(&program, case.limits, &case.input)
            .map_err(|e| format!("{here}\nhost error on {engine}: {e}\nrerun: {rerun}"))
    };
    let engines = twinspace::engine::all();
    let (reference, others) = engines.split_first().expect("the reference at least");
    let expected = run(&**reference)?;
    let mut report = String::new();
    for engine in others {
        let actual = run(&**engine)?;
        let mut parts =
            Expectation::complete_run(&expected, &case.input).check(&Ok(actual.clone()));
        let (a, b) = (expected.finish.termination.trap(), actual.finish.termination.trap());
        if let (Some(a), Some(b)) = (a, b) {
            if a.position != b.position {
                parts.push_str(&format!(
                    "trap position differs:\n  expected: {}\n  actual:   {}\n",
                    describe(a.position),
                    describe(b.position)
                ));
            }
        }
        if parts.is_empty() && actual != expected {
            parts = format!("outcomes differ:\n  expected: {expected:?}\n  actual:   {actual:?}\n");
        }
        if !parts.is_empty() {
            report.push_str(&format!(
                "{engine} disagrees with {reference} (expected = {reference}, actual = {engine}):\n{parts}"
            ));
        }
    }
    fail_with(case, &here, report, rerun)
}

/// `Ok` for an empty report; else the failure: where, the report, the program and its input.
fn fail_with(
    case: &ConformanceCase,
    here: &str,
    report: String,
    rerun: &str,
) -> Result<(), Failed> {
    if report.is_empty() {
        return Ok(());
    }
    let mut message = format!("{here}\n\n{report}\n");
    match &case.source {
        Source::Raw(bytes) => {
            message.push_str(&format!("program (ws): {}\n", format_escaped(bytes)))
        }
        Source::Visible(text) => message.push_str(&format!("program (stl):\n{text}")),
        Source::Asm(text) => message.push_str(&format!("program (asm):\n{text}")),
    }
    if !case.input.is_empty() {
        message.push_str(&format!("input: {}\n", format_escaped(&case.input)));
    }
    message.push_str(&format!("rerun: {rerun}\n"));
    Err(message.into())
}

fn describe(p: twinspace::Position) -> String {
    format!("{}:{} (byte {})", p.line, p.column, p.offset)
}

/// SEMANTICS.md §3: a trap reports the source position of the trapping instruction (for
/// `missing-end`, the end of the text). The positions come from the case's own text
/// (`positions.rs`), which must also hold as many instructions as the program.
fn check_positions(case: &ConformanceCase, program: &Program, outcome: &Outcome) -> String {
    let (starts, end) = match positions::instruction_starts(&case.source) {
        Ok(found) => found,
        Err(why) => {
            return format!(
                "the runner finds no program in the case's text ({why}), yet it parsed\n"
            );
        }
    };
    if starts.len() != program.len() {
        return format!(
            "instruction count differs:\n  the case's text: {}\n  the program:     {}\n",
            starts.len(),
            program.len()
        );
    }
    match outcome.finish.termination.trap() {
        Some(trap) => {
            let expected = starts.get(trap.index).copied().unwrap_or(end);
            if trap.position == expected {
                return String::new();
            }
            format!(
                "trap position differs (instruction {}):\n  expected: {} (from the case's text)\n  actual:   {}\n",
                trap.index,
                describe(expected),
                describe(trap.position)
            )
        }
        None => String::new(),
    }
}
