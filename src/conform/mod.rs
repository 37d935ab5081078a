//! `twinspace conform`: the conformance suite (`conformance/*.case`) and the corpus
//! (`corpus/{programs,regressions}`) run against one engine, built in or external, each item
//! giving a [`Verdict`].
//!
//! Expected results are the case files' and the `.expect` files' own, read with
//! [`crate::case`] and, for built-in engines ([`Engine::run_bytes`]), checked with [`Expectation::check`] exactly as
//! `tests/conformance.rs` and `tests/corpus.rs` check them. An external engine is checked on
//! what it shows (see [`crate::external`]): the output, and ended against trapped (a
//! `parse-error` case: any error exit), with the trap kind when it declares a trap pattern.
//! It is run through [`ExternalEngine::observe`], not through [`Engine::run`]: a
//! `parse-error` item has no program to give an engine, only source bytes, and an item needs
//! no reference run (the expectation is in the file).
//!
//! An item is **not applicable** to an external engine when it cannot be compared there:
//! - it sets limits (a `limits:` line other than the defaults), which cannot be given to it;
//! - it expects a trap that comes from a limit (`out-of-fuel`, `stack-overflow`, ...);
//! - it checks nothing the engine shows: only a final stack, heap or executed count, with no
//!   output and a normal end.
//!
//! Invariant: every item of the suite gets exactly one verdict; a malformed case file or a
//! missing `.expect` is a failed item (so a broken suite never passes by shrinking).

pub mod report;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::case::{
    DEFAULT_LIMITS, Expectation, ExpectedOutcome, Source, parse_cases, parse_expectation,
};
use crate::engine::Engine;
use crate::external::{ExternalEngine, Stopped, limit_trap};
use crate::limits::Limits;
use crate::program::Program;
use crate::syntax::{self, ParseError};
use crate::textdiff::unified_diff;

/// The limits of a corpus program whose `.expect` has no `limits:` line (as in
/// `tests/corpus.rs`): the defaults with 100,000,000 instructions of fuel.
pub const CORPUS_LIMITS: Limits = Limits { fuel: 100_000_000, ..Limits::DEFAULT };

/// The engine the suite runs against.
#[derive(Clone, Debug)]
pub enum Target {
    /// An engine of this crate ([`crate::engine::by_name`]: the interpreter, the JIT, a
    /// mutated JIT).
    Builtin(Arc<dyn Engine>),
    /// Another program.
    External(Arc<ExternalEngine>),
}

impl Target {
    /// `interp`, `jit`, `cmd:TEMPLATE` or a name from `twinspace.toml`.
    pub fn parse(spec: &str) -> Result<Target, String> {
        match crate::engine::by_name(spec) {
            Ok(e) => Ok(Target::Builtin(e)),
            Err(_) => ExternalEngine::from_spec(spec).map(|e| Target::External(Arc::new(e))),
        }
    }

    /// Its name in reports.
    pub fn name(&self) -> String {
        match self {
            Target::Builtin(e) => e.name(),
            Target::External(e) => e.name.clone(),
        }
    }

    /// The parts of a result compared on this engine.
    pub fn compared(&self) -> &'static str {
        match self {
            Target::Builtin(_) => {
                "output, termination (trap kind and index), stack, heap, executed count, transcript"
            }
            Target::External(e) => e.shown(),
        }
    }

    /// The parts never compared on this engine (`None`: nothing left out).
    pub fn not_compared(&self) -> Option<&'static str> {
        match self {
            Target::Builtin(_) => None,
            Target::External(e) => Some(e.not_compared()),
        }
    }
}

/// One item of the suite: a conformance case or a corpus program.
#[derive(Clone, Debug)]
pub struct Item {
    /// `stack::copy-out-of-range` or `corpus/programs::hello`: what `--filter` matches.
    pub id: String,
    /// `stack` (the case file's stem) or `corpus/programs`.
    pub topic: String,
    /// `conformance/stack.case:12` or `corpus/programs/hello.ws`.
    pub location: String,
    /// What the item is; `Err` when its file is malformed (the item then fails).
    pub body: Result<Body, String>,
}

/// A runnable item.
#[derive(Clone, Debug)]
pub struct Body {
    /// The program, or the parse error its source gives.
    pub program: Result<Program, ParseError>,
    /// The source bytes, for a program that does not parse (an external engine gets them).
    pub source: Vec<u8>,
    /// The bytes it reads.
    pub input: Vec<u8>,
    /// The limits of the run.
    pub limits: Limits,
    /// The limits of an item that sets none.
    pub default_limits: Limits,
    /// What the run must give.
    pub expectation: Expectation,
}

/// The verdict on one item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every compared part is as expected.
    Passed,
    /// Something differs: the report (unified diffs of the differing parts).
    Failed(String),
    /// The item cannot be compared on this engine: why.
    NotApplicable(String),
}

/// Reads the whole suite under `root` (the project directory holding `conformance/` and
/// `corpus/`); `Err` when neither folder can be read.
pub fn load(root: &Path) -> Result<Vec<Item>, String> {
    let mut items = conformance(&root.join("conformance"))?;
    for folder in ["programs", "regressions"] {
        items.extend(corpus(&root.join("corpus").join(folder), folder)?);
    }
    Ok(items)
}

fn sorted_files(dir: &Path, extension: &str) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == extension))
        .collect();
    files.sort();
    Ok(files)
}

fn stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

fn conformance(dir: &Path) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    for path in sorted_files(dir, "case")? {
        let topic = stem(&path);
        let shown = format!("conformance/{topic}.case");
        let cases =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read: {e}")).and_then(
                |text| parse_cases(&text).map_err(|e| format!("line {}: {}", e.line, e.message)),
            );
        let cases = match cases {
            Ok(cases) => cases,
            Err(message) => {
                items.push(Item {
                    id: format!("{topic}::case-file"),
                    topic,
                    location: shown.clone(),
                    body: Err(format!("malformed case file {shown}: {message}")),
                });
                continue;
            }
        };
        for case in cases {
            let location = format!("{shown}:{}", case.line);
            let source = match &case.source {
                Source::Raw(bytes) => bytes.clone(),
                Source::Visible(text) => visible_to_ws(text),
                Source::Asm(_) => Vec::new(),
            };
            let body = case
                .program()
                .map(|program| Body {
                    program,
                    source,
                    input: case.input.clone(),
                    limits: case.limits,
                    default_limits: DEFAULT_LIMITS,
                    expectation: case.expectation.clone(),
                })
                .map_err(|e| format!("{shown}:{}: bad program: {}", e.line, e.message));
            items.push(Item {
                id: format!("{topic}::{}", case.name),
                topic: topic.clone(),
                location,
                body,
            });
        }
    }
    Ok(items)
}

/// Visible `S`/`T`/`L` as raw Whitespace (every other character is a comment in both).
fn visible_to_ws(text: &str) -> Vec<u8> {
    text.chars()
        .filter_map(|c| match c {
            'S' => Some(b' '),
            'T' => Some(b'\t'),
            'L' => Some(b'\n'),
            _ => None,
        })
        .collect()
}

fn corpus(dir: &Path, folder: &str) -> Result<Vec<Item>, String> {
    let topic = format!("corpus/{folder}");
    let mut items = Vec::new();
    for path in sorted_files(dir, "ws")? {
        let name = stem(&path);
        let location = format!("{topic}/{name}.ws");
        let body = (|| {
            let read = |ext: &str| std::fs::read(path.with_extension(ext));
            let source = read("ws").map_err(|e| format!("cannot read {location}: {e}"))?;
            let input = read("in").unwrap_or_default();
            let text = std::fs::read_to_string(path.with_extension("expect"))
                .map_err(|e| format!("{topic}/{name}.expect: cannot read: {e}"))?;
            let (limits, expectation) = parse_expectation(&text)
                .map_err(|e| format!("{topic}/{name}.expect:{}: {}", e.line, e.message))?;
            if let Some(why) = expectation.input_conflict(&input) {
                return Err(format!("{topic}/{name}.expect: {why} ({name}.in)"));
            }
            Ok(Body {
                program: syntax::parse(&source),
                source,
                input,
                limits: limits.unwrap_or(CORPUS_LIMITS),
                default_limits: CORPUS_LIMITS,
                expectation,
            })
        })();
        items.push(Item { id: format!("{topic}::{name}"), topic: topic.clone(), location, body });
    }
    Ok(items)
}

/// Runs one item on `target`.
pub fn run_item(item: &Item, target: &Target) -> Verdict {
    let body = match &item.body {
        Ok(body) => body,
        Err(message) => return Verdict::Failed(format!("{message}\n")),
    };
    match target {
        Target::Builtin(engine) => builtin(body, &**engine),
        Target::External(engine) => external(body, engine),
    }
}

fn builtin(body: &Body, engine: &dyn Engine) -> Verdict {
    if let Some(why) = engine.unavailable() {
        return Verdict::NotApplicable(format!(
            "{} cannot run on this machine ({why})",
            engine.name()
        ));
    }
    let actual = match &body.program {
        Ok(program) => match engine.run_bytes(program, body.limits, &body.input) {
            Ok(outcome) => Ok(outcome),
            Err(e) => return Verdict::Failed(format!("host error: {e}\n")),
        },
        Err(e) => Err(e.clone()),
    };
    match body.expectation.check(&actual) {
        report if report.is_empty() => Verdict::Passed,
        report => Verdict::Failed(report),
    }
}

/// Why an item cannot be compared on an external engine, if it cannot.
pub fn not_applicable_externally(body: &Body) -> Option<String> {
    let e = &body.expectation;
    if body.limits != body.default_limits {
        return Some(format!(
            "sets limits ({}); an external engine cannot be given any",
            crate::case::format_limits(body.limits)
        ));
    }
    if let ExpectedOutcome::Trap { kind, .. } = e.outcome {
        if limit_trap(kind) {
            return Some(format!("expects {kind}, which comes from a limit"));
        }
    }
    let checks_state = e.stack.is_some() || e.heap.is_some() || e.executed.is_some();
    if checks_state && e.stdout.is_empty() && e.outcome == ExpectedOutcome::Ended {
        return Some("checks only the final stack, heap or executed count, not shown".to_owned());
    }
    None
}

fn external(body: &Body, engine: &ExternalEngine) -> Verdict {
    if let Some(why) = not_applicable_externally(body) {
        return Verdict::NotApplicable(why);
    }
    let source = match &body.program {
        Ok(program) => syntax::print_ws(program),
        Err(_) => body.source.clone(),
    };
    let observed = engine.observe(&source, &body.input);
    let e = &body.expectation;
    let kinds = engine.shows_kind();
    let stop_ok = match (&e.outcome, &observed.stopped) {
        (_, Stopped::Failed(_)) => false,
        (ExpectedOutcome::Ended, Stopped::Ended) => true,
        (ExpectedOutcome::Trap { kind, .. }, Stopped::Trapped(named)) => {
            !kinds || named.is_none_or(|n| n == *kind)
        }
        (ExpectedOutcome::ParseError { .. }, Stopped::Trapped(_)) => true,
        _ => false,
    };
    let mut report = String::new();
    if !stop_ok {
        let expected = match e.outcome {
            ExpectedOutcome::Ended => "ended (exit status 0)".to_owned(),
            ExpectedOutcome::Trap { kind, index, .. } if kinds => {
                format!("an error exit naming {kind} (the trap at {index}; index not compared)")
            }
            ExpectedOutcome::Trap { kind, index, .. } => {
                format!("an error exit (trap {kind} at {index}; kind and index not compared)")
            }
            ExpectedOutcome::ParseError { kind, line, column, .. } => format!(
                "an error exit before running ({kind} at {line}:{column}; kind and position not compared)"
            ),
        };
        let actual = match &observed.stopped {
            Stopped::Ended => "ended (exit status 0)".to_owned(),
            Stopped::Trapped(Some(k)) => format!("an error exit naming {k}"),
            Stopped::Trapped(None) => "an error exit".to_owned(),
            Stopped::Failed(why) => format!("no verdict: it {why}"),
        };
        report
            .push_str(&format!("outcome differs:\n  expected: {expected}\n  actual:   {actual}\n"));
    }
    if e.stdout != observed.output {
        report.push_str("stdout differs:\n");
        report.push_str(&unified_diff(
            "expected stdout",
            &e.stdout,
            "actual stdout",
            &observed.output,
        ));
    }
    if report.is_empty() {
        return Verdict::Passed;
    }
    let stderr = crate::external::engine::stderr_excerpt(&observed.stderr);
    if !stderr.is_empty() {
        report.push_str(&format!("stderr (first line): {stderr}\n"));
    }
    Verdict::Failed(report)
}

/// One item's verdict and how long it took.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The item.
    pub item: Item,
    /// Its verdict.
    pub verdict: Verdict,
    /// The time its run took.
    pub elapsed: Duration,
}

/// Runs `items` on `target` on `jobs` threads; the verdicts in the items' order.
pub fn run_all(items: Vec<Item>, target: &Target, jobs: usize) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<(Verdict, Duration)>>> =
        items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let started = Instant::now();
                    let verdict = run_item(item, target);
                    let took = started.elapsed();
                    *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some((verdict, took));
                }
            });
        }
    });
    items
        .into_iter()
        .zip(slots)
        .map(|(item, slot)| {
            let (verdict, elapsed) = slot
                .into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .unwrap_or((Verdict::Failed("the run panicked\n".to_owned()), Duration::ZERO));
            Outcome { item, verdict, elapsed }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suite_loads_with_ids_topics_and_locations() {
        let items = load(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let hello = items.iter().find(|i| i.id == "corpus/programs::hello").unwrap();
        assert_eq!(hello.topic, "corpus/programs");
        let dup = items.iter().find(|i| i.id.starts_with("stack::")).unwrap();
        assert!(dup.location.starts_with("conformance/stack.case:"), "{}", dup.location);
        assert!(items.iter().all(|i| i.body.is_ok()), "a malformed item");
    }

    #[test]
    fn visible_sources_become_raw_whitespace() {
        assert_eq!(visible_to_ws("S T\nL x"), b" \t\n");
    }
}
