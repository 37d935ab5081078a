//! The conformance suite: every case of `conformance/*.case` (format: `twinspace::case`) runs on
//! every engine, as one trial named `<file-stem>::<case-name>::<engine>`.
//!
//! Filter like any cargo test (`cargo test --test conformance -- heap::`). A trial for an engine
//! that cannot run on this machine is listed as ignored. A case file that does not parse is a
//! failing trial `<file-stem>::case-file` naming its line, so a broken file is never skipped.
//! A failure prints the case's file and line, each differing part as a unified diff with
//! invisible characters shown, and the command that re-runs just that trial.
//!
//! Beyond each case's own expectation, the runner checks two things for every run: that a trap
//! reports its instruction's source position, and, for cases named `interactive-*`, that all
//! output has reached the sink whenever the engine asks the input for bytes (those cases print
//! everything before their first read).

use std::cell::RefCell;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};
use twinspace::case::{ConformanceCase, Source, format_escaped, parse_cases};
use twinspace::engine::Engine;
use twinspace::outcome::Parts;
use twinspace::textdiff::unified_diff;
use twinspace::{Input, Outcome, Output, Program, Stop};

fn main() {
    let args = Arguments::from_args();
    libtest_mimic::run(&args, trials()).exit();
}

/// The directory of case files, and how its files are named in messages.
fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance")
}

fn trials() -> Vec<Trial> {
    let dir = suite_dir();
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "case"))
            .collect(),
        Err(e) => {
            let message = format!("cannot read {}: {e}", dir.display());
            return vec![Trial::test("conformance::case-files", move || Err(message.into()))];
        }
    };
    files.sort();
    if files.is_empty() {
        let message = format!("no *.case file in {}", dir.display());
        return vec![Trial::test("conformance::case-files", move || Err(message.into()))];
    }
    let mut trials = Vec::new();
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
        match cases {
            Ok(cases) => {
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
                }
            }
            Err(message) => {
                trials.push(Trial::test(format!("{stem}::case-file"), move || {
                    Err(format!("malformed case file: {message}").into())
                }));
            }
        }
    }
    trials
}

/// Runs one case on one engine; the error message is the whole failure report.
fn run_case(
    case: &ConformanceCase,
    engine: &dyn Engine,
    file: &str,
    rerun: &str,
) -> Result<(), Failed> {
    let here = format!("{file}:{}: case `{}` on {engine}", case.line, case.name);
    let program = case.program().map_err(|e| {
        format!("{here}\n{file}:{}: bad program: {}\nrerun: {rerun}", e.line, e.message)
    })?;
    let mut report = String::new();
    let actual = match &program {
        Ok(program) => {
            let outcome = engine
                .run_bytes(program, case.limits, &case.input)
                .map_err(|e| format!("{here}\nhost error: {e}\nrerun: {rerun}"))?;
            report.push_str(&check_trap_position(program, &outcome));
            if case.name.starts_with(INTERACTIVE) {
                report.push_str(&check_flushed_before_reads(case, program, engine));
            }
            Ok(outcome)
        }
        Err(parse_error) => Err(parse_error.clone()),
    };
    report.insert_str(0, &case.expectation.check(&actual));
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

/// SEMANTICS.md §3: a trap reports the source position of the trapping instruction (for
/// `missing-end`, the end of the file), which the program records for every index.
fn check_trap_position(program: &Program, outcome: &Outcome) -> String {
    match outcome.finish.termination.trap() {
        Some(trap) if trap.position != program.position(trap.index) => format!(
            "trap position differs:\n  expected: {} (instruction {})\n  actual:   {}\n",
            program.position(trap.index),
            trap.index,
            trap.position
        ),
        _ => String::new(),
    }
}

/// Cases whose name starts with this print all their output before their first read; the
/// runner checks that the output has reached the sink whenever the engine asks for input
/// (SEMANTICS.md §2: output is flushed before every read, so a prompt appears first).
const INTERACTIVE: &str = "interactive-";

/// The output sink, shared with the input source so that the source can see what had been
/// written when the engine asked for input.
#[derive(Clone, Default)]
struct SharedSink(Rc<RefCell<Vec<u8>>>);

impl Write for SharedSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An input source that gives one byte per read, as a terminal might, and records what the
/// sink held at every read.
struct Terminal {
    input: Vec<u8>,
    next: usize,
    sink: SharedSink,
    seen_at_reads: Vec<Vec<u8>>,
}

impl Read for &mut Terminal {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.seen_at_reads.push(self.sink.0.borrow().clone());
        match (self.input.get(self.next), buf.first_mut()) {
            (Some(&b), Some(slot)) => {
                *slot = b;
                self.next += 1;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

fn check_flushed_before_reads(
    case: &ConformanceCase,
    program: &Program,
    engine: &dyn Engine,
) -> String {
    let sink = SharedSink::default();
    let mut terminal =
        Terminal { input: case.input.clone(), next: 0, sink: sink.clone(), seen_at_reads: vec![] };
    let mut writer = sink.clone();
    let result = {
        let mut output = Output::new(&mut writer);
        let mut input = Input::new(&mut terminal);
        let stop = Stop::current();
        engine.stream(program, case.limits, Parts::all(), &stop, &mut input, &mut output)
    };
    if let Err(e) = result {
        return format!("interactive run: host error: {e}\n");
    }
    if terminal.seen_at_reads.is_empty() {
        return "interactive run: the program never asked for input\n".to_owned();
    }
    let expected = &case.expectation.stdout;
    for (i, seen) in terminal.seen_at_reads.iter().enumerate() {
        if seen != expected {
            return format!(
                "output not flushed before read {} from the input:\n{}",
                i + 1,
                unified_diff("expected written", expected, "written at the read", seen)
            );
        }
    }
    String::new()
}
