//! The conformance suite: every case of `conformance/*.case` (format: `twinspace::case`) runs on
//! every engine, as one trial named `<file-stem>::<case-name>::<engine>`.
//!
//! Filter like any cargo test (`cargo test --test conformance -- heap::`). A trial for an engine
//! that cannot run on this machine is listed as ignored. A case file that does not parse is a
//! failing trial `<file-stem>::case-file` naming its line, so a broken file is never skipped.
//! A failure prints the case's file and line, each differing part as a unified diff with
//! invisible characters shown, and the command that re-runs just that trial.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};
use twinspace::Engine;
use twinspace::case::{Case, Source, format_escaped, parse_cases};

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
                    for engine in Engine::ALL {
                        let name = format!("{stem}::{}::{engine}", case.name);
                        let (case, shown) = (Arc::clone(&case), shown.clone());
                        let rerun = format!("cargo test --test conformance -- --exact {name}");
                        trials.push(
                            Trial::test(name, move || run_case(&case, engine, &shown, &rerun))
                                .with_ignored_flag(!engine.is_available()),
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
fn run_case(case: &Case, engine: Engine, file: &str, rerun: &str) -> Result<(), Failed> {
    let here = format!("{file}:{}: case `{}` on {engine}", case.line, case.name);
    let program = case.program().map_err(|e| {
        format!("{here}\n{file}:{}: bad program: {}\nrerun: {rerun}", e.line, e.message)
    })?;
    let actual = match program {
        Ok(program) => Ok(engine
            .run_bytes(&program, case.limits, &case.input)
            .map_err(|e| format!("{here}\nhost error: {e}\nrerun: {rerun}"))?),
        Err(parse_error) => Err(parse_error),
    };
    let report = case.expectation.check(&actual);
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
