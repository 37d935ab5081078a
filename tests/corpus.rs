//! The corpus: real programs (`corpus/programs/`) and fuzz-found reproducers
//! (`corpus/regressions/`), each run on every engine and compared with its recorded expected
//! outcome (`NAME.expect`, format: `twinspace::case`). See `corpus/README.md`.
//!
//! Trials, filterable like any cargo test:
//! - `programs/NAME::ENGINE` runs `NAME.ws` with the bytes of `NAME.in` (if any) under the
//!   `.expect` limits and compares the whole outcome: stdout, how the run stopped, the final
//!   stack and heap, and the executed count. An engine that cannot run here is listed as ignored.
//! - `programs/NAME::assembled` checks that `NAME.ws` is the assembled `NAME.wsa`.
//! - `programs/NAME::orphan-EXT` fails: a `NAME.wsa`, `NAME.expect` or `NAME.in` stands without the
//!   `NAME.ws` that would run (a program is never skipped because its `.ws` is missing).
//! - `corpus::jit-available` fails where the JIT is required (`TWINSPACE_REQUIRE_JIT=1` on
//!   x86-64, as CI sets it) but cannot run.
//!
//! Limits: without a `limits:` line a program runs with [`CORPUS_LIMITS`] (fuel 100,000,000, so
//! a wrong engine cannot run on for long; one that stops charging fuel altogether fails its
//! trial as a hang after [`HANG_AFTER`]). A `limits:` line is read exactly as `twinspace::case`
//! reads it, as the differential harness writes it: the fields it names over
//! `case::DEFAULT_LIMITS`, whose fuel is 10,000,000.
//!
//! `TWINSPACE_BLESS=1 cargo test --test corpus [FILTER]` replaces the trials by one
//! `DIR/NAME::bless` trial per program, which writes `NAME.expect` from the reference
//! interpreter (keeping the file's comment lines and its `limits:` line) and refuses, writing
//! nothing, when an available JIT's outcome differs.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};
use twinspace::case::{Expectation, format_expectation, parse_expectation, parse_limits};
use twinspace::engine::{Engine, Interp};
use twinspace::syntax::{ParseError, assemble, parse, print_asm};
use twinspace::textdiff::unified_diff;
use twinspace::{Limits, Outcome};

/// The limits of a program whose `.expect` has no `limits:` line.
const CORPUS_LIMITS: Limits = Limits { fuel: 100_000_000, ..Limits::DEFAULT };

/// How long one run may take before its trial fails as a hang: far above any corpus run (the
/// slowest takes well under a second in a debug build), so a slow machine gives no false alarm.
const HANG_AFTER: Duration = Duration::from_secs(120);

/// The folders of the corpus, in the order their trials are listed.
const FOLDERS: [&str; 2] = ["programs", "regressions"];

/// The variable that turns the run into a bless.
const BLESS_VAR: &str = "TWINSPACE_BLESS";

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let bless = std::env::var_os(BLESS_VAR).is_some_and(|v| !v.is_empty() && v != "0");
    let trials = match programs() {
        Ok((programs, orphans)) => {
            let mut trials: Vec<Trial> = orphans.into_iter().map(orphan_trial).collect();
            if bless {
                trials.extend(programs.into_iter().map(bless_trial));
            } else {
                trials.push(support::jit_available_trial("corpus::jit-available"));
                trials.extend(programs.into_iter().flat_map(check_trials));
            }
            trials
        }
        Err(message) => vec![Trial::test("corpus::folders", move || Err(message.into()))],
    };
    libtest_mimic::run(&args, trials).exit_code()
}

/// One program of the corpus: `DIR/NAME.ws` and the files beside it.
struct Program {
    /// `programs/NAME` or `regressions/NAME`: the trial prefix.
    id: String,
    /// The folder that holds it.
    dir: PathBuf,
    /// `NAME`, which may contain dots.
    name: String,
}

impl Program {
    fn file(&self, extension: &str) -> PathBuf {
        self.dir.join(format!("{}.{extension}", self.name))
    }

    /// The path of a file as shown in messages, relative to the crate root.
    fn shown(&self, extension: &str) -> String {
        format!("corpus/{}.{extension}", self.id)
    }

    fn read(&self, extension: &str) -> Result<Option<Vec<u8>>, String> {
        match std::fs::read(self.file(extension)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: cannot read: {e}", self.shown(extension))),
        }
    }

    fn source(&self) -> Result<Result<twinspace::Program, ParseError>, String> {
        let bytes = self.read("ws")?.ok_or_else(|| format!("{} is gone", self.shown("ws")))?;
        Ok(parse(&bytes))
    }

    fn input(&self) -> Result<Vec<u8>, String> {
        Ok(self.read("in")?.unwrap_or_default())
    }
}

/// The extensions of the files that belong to a program `NAME.ws`.
const COMPANIONS: [&str; 3] = ["wsa", "expect", "in"];

/// Every `.ws` file of the corpus folders, sorted by folder then name, and every companion
/// file (`.wsa`, `.expect`, `.in`) without its `.ws`, as shown in messages.
fn programs() -> Result<(Vec<Arc<Program>>, Vec<String>), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut programs = Vec::new();
    let mut orphans = Vec::new();
    for folder in FOLDERS {
        let dir = root.join(folder);
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| format!("cannot read the corpus folder {}: {e}", dir.display()))?;
        let files: BTreeSet<String> = entries
            .map(|e| {
                let name =
                    e.map_err(|e| format!("cannot list {}: {e}", dir.display()))?.file_name();
                name.into_string().map_err(|name| {
                    format!("{}: a file name that is not UTF-8: {name:?}", dir.display())
                })
            })
            .collect::<Result<_, String>>()?;
        let names: BTreeSet<&str> = files.iter().filter_map(|f| f.strip_suffix(".ws")).collect();
        for file in &files {
            let orphan = COMPANIONS.iter().any(|ext| {
                file.strip_suffix(&format!(".{ext}")).is_some_and(|name| !names.contains(name))
            });
            if orphan {
                orphans.push(format!("corpus/{folder}/{file}"));
            }
        }
        for name in names {
            let id = format!("{folder}/{name}");
            programs.push(Arc::new(Program { id, dir: dir.clone(), name: name.to_owned() }));
        }
    }
    Ok((programs, orphans))
}

/// The failing trial of a companion file whose program `NAME.ws` is missing.
fn orphan_trial(shown: String) -> Trial {
    let (stem, _) = shown.rsplit_once('.').unwrap_or((&shown, ""));
    let id = stem.strip_prefix("corpus/").unwrap_or(stem).to_owned();
    let ext = &shown[stem.len()..];
    let name = format!("{id}::orphan{}", ext.replace('.', "-"));
    let ws = format!("{stem}.ws");
    Trial::test(name, move || {
        let hint = if shown.ends_with(".wsa") {
            format!("assemble it: cargo run -- asm {shown} -o {ws}")
        } else {
            format!("restore {ws}, or remove {shown}")
        };
        Err(format!("{shown} has no {ws}, so nothing of it runs: {hint}").into())
    })
}

/// The trials of one program: one per engine, and the listing check if it has a `.wsa`.
fn check_trials(program: Arc<Program>) -> Vec<Trial> {
    let mut trials = Vec::new();
    for engine in twinspace::engine::all() {
        let name = format!("{}::{engine}", program.id);
        let rerun = rerun_command(&name, false);
        let program = Arc::clone(&program);
        let ignored = engine.unavailable().is_some();
        trials.push(
            Trial::test(name, move || check(&program, &engine, &rerun)).with_ignored_flag(ignored),
        );
    }
    if program.file("wsa").exists() {
        let name = format!("{}::assembled", program.id);
        let rerun = rerun_command(&name, false);
        trials.push(Trial::test(name, move || check_assembled(&program, &rerun)));
    }
    trials
}

fn bless_trial(program: Arc<Program>) -> Trial {
    let name = format!("{}::bless", program.id);
    let rerun = rerun_command(&program.id, true);
    Trial::test(name, move || bless(&program, &rerun))
}

/// The command that re-runs the trial `name` (exactly), or blesses every program matching it.
fn rerun_command(name: &str, bless: bool) -> String {
    if bless {
        format!("{BLESS_VAR}=1 cargo test --test corpus -- {name}::")
    } else {
        format!("cargo test --test corpus -- --exact {name}")
    }
}

/// The expectation and limits of a program, as its `.expect` states them.
fn expectation(program: &Program) -> Result<(Limits, Expectation), String> {
    let Some(bytes) = program.read("expect")? else {
        return Err(format!(
            "{} has no expected outcome: write one from the reference interpreter with\n  \
             {}\nthen check its stdout by hand (see corpus/README.md)",
            program.shown("ws"),
            rerun_command(&program.id, true),
        ));
    };
    let shown = program.shown("expect");
    let text = String::from_utf8(bytes).map_err(|_| format!("{shown}: not UTF-8"))?;
    let (limits, expectation) =
        parse_expectation(&text).map_err(|e| format!("{shown}:{}: {}", e.line, e.message))?;
    if let Some(why) = expectation.input_conflict(&program.input()?) {
        return Err(format!("{shown}: {why} ({})", program.shown("in")));
    }
    Ok((limits.unwrap_or(CORPUS_LIMITS), expectation))
}

/// The value of the `limits:` line of an expectation file.
fn limits_line(text: &str) -> Option<&str> {
    text.lines().find_map(|l| l.strip_prefix("limits:")).map(str::trim)
}

/// Runs `program` on `engine` with `limits`; `Err` is a host failure, or a hang, as a message.
///
/// The run has a thread of its own, watched for [`HANG_AFTER`]: an engine that stops charging
/// fuel (a JIT bug, as a kept hang reproducer shows) would otherwise hang the whole suite, and
/// nothing in this process can stop it. On a hang the trial fails and the thread is left to
/// spin until the suite's process ends.
fn run(
    program: &Program,
    engine: &Arc<dyn Engine>,
    limits: Limits,
) -> Result<Result<Outcome, ParseError>, String> {
    if engine.unavailable().is_some() {
        return Err(format!("the {engine} engine is not available on this machine"));
    }
    let input = program.input()?;
    let parsed = match program.source()? {
        Ok(parsed) => parsed,
        Err(e) => return Ok(Err(e)),
    };
    let (done, result) = std::sync::mpsc::channel();
    let runner = Arc::clone(engine);
    std::thread::Builder::new()
        .name(format!("corpus-{engine}"))
        .spawn(move || {
            let _ = done.send(runner.run_bytes(&parsed, limits, &input));
        })
        .map_err(|e| format!("cannot start a thread for the run: {e}"))?;
    match result.recv_timeout(HANG_AFTER) {
        Ok(outcome) => outcome.map(Ok).map_err(|e| format!("host error on {engine}: {e}")),
        Err(_) => Err(format!(
            "hang on {engine}: still running after {} s, although every corpus run has bounded \
             fuel (an engine that stops charging fuel?)",
            HANG_AFTER.as_secs()
        )),
    }
}

fn check(program: &Program, engine: &Arc<dyn Engine>, rerun: &str) -> Result<(), Failed> {
    let here = format!("{} on {engine}", program.shown("ws"));
    let fail = |message: String| Failed::from(format!("{here}\n{message}\nrerun: {rerun}"));
    let (limits, expectation) = expectation(program).map_err(fail)?;
    let actual = run(program, engine, limits).map_err(fail)?;
    let report = expectation.check(&actual);
    if report.is_empty() {
        return Ok(());
    }
    let input = if program.file("in").exists() {
        format!("input: {}\n", program.shown("in"))
    } else {
        "input: none\n".to_owned()
    };
    Err(fail(format!("expected: {}\n{input}\n{report}", program.shown("expect"))))
}

/// Checks that `NAME.ws` holds the instructions that `NAME.wsa` assembles to.
fn check_assembled(program: &Program, rerun: &str) -> Result<(), Failed> {
    let (wsa, ws) = (program.shown("wsa"), program.shown("ws"));
    let fail = |message: String| Failed::from(format!("{message}\nrerun: {rerun}"));
    let text = std::fs::read_to_string(program.file("wsa"))
        .map_err(|e| fail(format!("{wsa}: cannot read: {e}")))?;
    let listed = assemble(&text).map_err(|e| fail(format!("{wsa}:{e}")))?;
    let stored = program.source().map_err(fail)?.map_err(|e| fail(format!("{ws}: {e}")))?;
    if listed.instructions() == stored.instructions() {
        return Ok(());
    }
    let diff = unified_diff(
        &format!("{ws} (disassembled)"),
        print_asm(&stored).as_bytes(),
        &format!("{wsa} (assembled)"),
        print_asm(&listed).as_bytes(),
    );
    Err(fail(format!(
        "{ws} is not the assembled {wsa}:\n{diff}\nregenerate it with\n  \
         cargo run -- asm {wsa} -o {ws}\nthen bless its expected outcome again"
    )))
}

/// Writes `NAME.expect` from the reference interpreter, unless an available JIT disagrees.
fn bless(program: &Program, rerun: &str) -> Result<(), Failed> {
    let shown = program.shown("expect");
    let fail = |message: String| Failed::from(format!("{message}\nrerun: {rerun}"));
    let old = match program.read("expect").map_err(fail)? {
        Some(bytes) => String::from_utf8(bytes).map_err(|_| fail(format!("{shown}: not UTF-8")))?,
        None => String::new(),
    };
    // The limits line is kept as written; so are comments (they say what was checked by hand).
    let limits = match limits_line(&old) {
        None => CORPUS_LIMITS,
        Some(line) => parse_limits(line).map_err(|e| fail(format!("{shown}: {e}")))?,
    };
    let interp: Arc<dyn Engine> = Arc::new(Interp);
    let reference = run(program, &interp, limits).map_err(fail)?;
    let reference = match reference {
        Ok(outcome) => outcome,
        Err(e) => {
            return Err(fail(format!(
                "{}: does not parse ({e}); the corpus holds programs that run",
                program.shown("ws")
            )));
        }
    };
    let expectation = Expectation::complete(&reference);
    for engine in twinspace::engine::available().into_iter().filter(|e| e.name() != "interp") {
        let actual = run(program, &engine, limits).map_err(fail)?;
        let report = expectation.check(&actual);
        if !report.is_empty() {
            return Err(fail(format!(
                "refusing to bless {shown}: {engine} disagrees with the reference interpreter \
                 (expected = interp, actual = {engine}); nothing written\n\n{report}"
            )));
        }
    }
    let mut text: String = old
        .lines()
        .filter(|l| l.starts_with('#') || l.starts_with("limits:"))
        .map(|l| format!("{l}\n"))
        .collect();
    text.push_str(&format_expectation(None, &expectation));
    if text != old {
        std::fs::write(program.file("expect"), &text)
            .map_err(|e| fail(format!("{shown}: cannot write: {e}")))?;
        let diff = unified_diff("old", old.as_bytes(), "new", text.as_bytes());
        eprintln!("blessed {shown}:\n{diff}");
    }
    Ok(())
}
