//! The text format of a test case and of an expected outcome, shared by the conformance suite
//! (`conformance/*.case`), the corpus (`corpus/*.expect`) and the differential harness, which
//! writes regressions in it.
//!
//! Invariant: an [`Expectation`] is a statement about an [`Outcome`] (or a [`ParseError`]) that
//! can be written by hand, read back ([`parse_expectation`] after [`format_expectation`] gives the
//! same value) and checked ([`Expectation::check`]), and a report is empty exactly when the
//! actual result matches every part the expectation states.
//!
//! # Case files
//!
//! ```text
//! # comment lines start with '#' (outside program blocks); blank lines are ignored
//! === case-name                  kebab-case, unique in its file
//! asm:                           the program as an assembly listing (see `syntax::assemble`):
//!     push 1                     the following lines indented by at least 2 spaces belong to
//!     printi                     the block; their common indentation is removed
//!     end
//! stl:                           or: visible S/T/L notation, same indentation rule; every
//!     SS STL   TLST   LLL        character but capital S, T, L is a comment there
//! ws: "  \t\n"                   or: the raw source bytes as one escaped string
//! input: "12\n"                  optional, default empty
//! limits: fuel=10 stack=3 calls=2 heap=1    optional, any subset (see below)
//! stdout: "12"                   optional: absent means the output must be empty
//! outcome: ended | trap <kind-code> at <instruction-index> | parse-error <kind-code> at <line>:<column>
//! stack: [1, -2]                 optional; bottom first; absent = not checked
//! heap: {0: 5, 7: -1}            optional; every cell ever written; absent = not checked
//! executed: 3                    optional; absent = not checked
//! ```
//!
//! [`parse_cases`] reads a case file and [`format_case`] writes one case back. Exactly one of
//! `asm:`, `stl:` and `ws:` gives the program; `outcome:` is required; every key appears at
//! most once per case. The line and column of a `parse-error` are counted in the program's own
//! text: for `ws:` in the decoded bytes, for `stl:` in the block after its
//! indentation is removed (line 1 is the block's first line). Blank lines inside a block are
//! kept; blank lines after its last indented line are not part of it.
//!
//! **Escaped strings** are double-quoted; inside, `\n \t \r \\ \" \0`, `\xHH` (one raw byte, so
//! `"\xff"` is not UTF-8) and `\u{H..}` (the UTF-8 bytes of a code point) are escapes, and every
//! other character stands for its UTF-8 bytes.
//!
//! **Numbers** (stack items, heap addresses and values) are decimal integers of any size, with
//! an optional `-`.
//!
//! **Limits** are `name=value` pairs among `fuel`, `stack`, `calls`, `heap`, `value-bits` and
//! `big-words` (the limits of SEMANTICS.md §4); a value is a
//! decimal number or `unlimited`. Fields not given keep [`DEFAULT_LIMITS`]:
//! [`Limits::DEFAULT`] with 10 000 000 instructions of fuel, so a wrong case cannot hang.
//!
//! # Expectation files
//!
//! The key lines alone (`limits:`, `stdout:`, `outcome:`, `stack:`, `heap:`, `executed:`), with
//! the same comment and blank-line rules, form an expectation file (`.expect`), read by
//! [`parse_expectation`] and written by [`format_expectation`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use num_bigint::BigInt;

use crate::limits::Limits;
use crate::outcome::{Outcome, Termination, TrapKind};
use crate::program::Program;
use crate::syntax::{self, ParseError, ParseErrorKind};
use crate::textdiff::unified_diff;

/// The limits of a case that gives no `limits:` line, and the base that a `limits:` line
/// changes: [`Limits::DEFAULT`] with 10 000 000 instructions of fuel.
pub const DEFAULT_LIMITS: Limits = Limits { fuel: 10_000_000, ..Limits::DEFAULT };

/// A malformed case or expectation file: the line (1-based) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CaseError {
    /// The line of the file where the problem is.
    pub line: usize,
    /// What is wrong, lowercase.
    pub message: String,
}

impl CaseError {
    fn new(line: usize, message: impl Into<String>) -> CaseError {
        CaseError { line, message: message.into() }
    }
}

/// How a case gives its program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// An assembly listing (`asm:`), for [`syntax::assemble`].
    Asm(String),
    /// Visible `S`/`T`/`L` notation (`stl:`), for [`syntax::parse_visible`].
    Visible(String),
    /// Raw source bytes (`ws:`), for [`syntax::parse`].
    Raw(Vec<u8>),
}

/// One test case: a program, its input and limits, and what running it must give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConformanceCase {
    /// The kebab-case name after `===`.
    pub name: String,
    /// The line of the `===` header in its file.
    pub line: usize,
    /// The program.
    pub source: Source,
    /// The line in the file of the program block's first line (or of the `ws:` line).
    pub source_line: usize,
    /// The bytes the program reads.
    pub input: Vec<u8>,
    /// The limits of the run.
    pub limits: Limits,
    /// What the run must give.
    pub expectation: Expectation,
}

impl ConformanceCase {
    /// The case's program, or the parse error that its source gives (to be compared with a
    /// `parse-error` expectation). An assembly listing that does not assemble is a mistake in
    /// the case file: the outer error, with the line of the file.
    pub fn program(&self) -> Result<Result<Program, ParseError>, CaseError> {
        match &self.source {
            Source::Raw(bytes) => Ok(syntax::parse(bytes)),
            Source::Visible(text) => Ok(syntax::parse_visible(text)),
            Source::Asm(text) => syntax::assemble(text).map(Ok).map_err(|e| {
                CaseError::new(
                    self.source_line + e.line - 1,
                    format!("assembly column {}: {}", e.column, e.message),
                )
            }),
        }
    }
}

/// How a run must stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExpectedOutcome {
    /// `ended`: an `end` instruction ran.
    Ended,
    /// `trap <kind> at <index>`.
    Trap {
        /// The trap kind.
        kind: TrapKind,
        /// The index of the trapping instruction.
        index: usize,
    },
    /// `parse-error <kind> at <line>:<column>`: the program does not parse, nothing runs.
    ParseError {
        /// The parse error kind.
        kind: ParseErrorKind,
        /// Line of the faulty instruction's first token (1-based).
        line: usize,
        /// Column of the faulty instruction's first token (1-based, in bytes).
        column: usize,
    },
}

impl ExpectedOutcome {
    /// The expected outcome that a termination satisfies.
    pub fn of_termination(termination: &Termination) -> ExpectedOutcome {
        match termination {
            Termination::Ended => ExpectedOutcome::Ended,
            Termination::Trapped(t) => ExpectedOutcome::Trap { kind: t.kind, index: t.index },
        }
    }

    /// The expected outcome that a parse error satisfies.
    pub fn of_parse_error(error: &ParseError) -> ExpectedOutcome {
        ExpectedOutcome::ParseError {
            kind: error.kind,
            line: error.position.line,
            column: error.position.column,
        }
    }
}

impl fmt::Display for ExpectedOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedOutcome::Ended => f.write_str("ended"),
            ExpectedOutcome::Trap { kind, index } => write!(f, "trap {} at {index}", kind.code()),
            ExpectedOutcome::ParseError { kind, line, column } => {
                write!(f, "parse-error {} at {line}:{column}", kind.code())
            }
        }
    }
}

impl FromStr for ExpectedOutcome {
    type Err = String;

    fn from_str(text: &str) -> Result<ExpectedOutcome, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            ["ended"] => Ok(ExpectedOutcome::Ended),
            ["trap", kind, "at", index] => {
                let kind = TrapKind::from_code(kind)
                    .ok_or_else(|| format!("unknown trap kind `{kind}`"))?;
                let index =
                    index.parse().map_err(|_| format!("bad instruction index `{index}`"))?;
                Ok(ExpectedOutcome::Trap { kind, index })
            }
            ["parse-error", kind, "at", at] => {
                let kind = ParseErrorKind::from_code(kind)
                    .ok_or_else(|| format!("unknown parse error kind `{kind}`"))?;
                let bad = || format!("bad position `{at}`: expected <line>:<column>");
                let (line, column) = at.split_once(':').ok_or_else(bad)?;
                Ok(ExpectedOutcome::ParseError {
                    kind,
                    line: line.parse().map_err(|_| bad())?,
                    column: column.parse().map_err(|_| bad())?,
                })
            }
            _ => Err(format!(
                "bad outcome `{text}`: expected `ended`, `trap <kind> at <index>` or \
                 `parse-error <kind> at <line>:<column>`"
            )),
        }
    }
}

/// What a run must give. `stdout` and `outcome` are always checked; `stack`, `heap` and
/// `executed` only when given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    /// The exact output bytes.
    pub stdout: Vec<u8>,
    /// How the run stops.
    pub outcome: ExpectedOutcome,
    /// The final value stack, bottom first.
    pub stack: Option<Vec<BigInt>>,
    /// Every heap cell ever written, with its final value.
    pub heap: Option<BTreeMap<BigInt, BigInt>>,
    /// The number of instructions executed.
    pub executed: Option<u64>,
}

impl Expectation {
    /// The expectation that states everything about `outcome`.
    pub fn complete(outcome: &Outcome) -> Expectation {
        Expectation {
            stdout: outcome.output.clone(),
            outcome: ExpectedOutcome::of_termination(&outcome.finish.termination),
            stack: Some(outcome.finish.stack.clone()),
            heap: Some(outcome.finish.heap.clone()),
            executed: Some(outcome.finish.executed),
        }
    }

    /// Compares this expectation with what happened: a run's outcome, or the parse error that
    /// stopped the program from running. The report names each part that differs (a unified
    /// diff with invisible characters shown for stdout, stack and heap); it is empty when
    /// everything matches.
    pub fn check(&self, actual: &Result<Outcome, ParseError>) -> String {
        let mut report = String::new();
        let (output, actual_outcome, finish) = match actual {
            Ok(o) => (
                &o.output[..],
                ExpectedOutcome::of_termination(&o.finish.termination),
                Some(&o.finish),
            ),
            Err(e) => (&[][..], ExpectedOutcome::of_parse_error(e), None),
        };
        if self.outcome != actual_outcome {
            let detail = match actual {
                Ok(o) => match o.finish.termination.trap() {
                    Some(t) => format!(" (source {})", t.position),
                    None => String::new(),
                },
                Err(e) => format!(" ({e})"),
            };
            report.push_str(&format!(
                "outcome differs:\n  expected: {}\n  actual:   {actual_outcome}{detail}\n",
                self.outcome
            ));
        }
        if self.stdout != output {
            report.push_str("stdout differs:\n");
            report.push_str(&unified_diff(
                "expected stdout",
                &self.stdout,
                "actual stdout",
                output,
            ));
        }
        let not_run = "  the program did not run (parse error), so there is none\n";
        if let Some(stack) = &self.stack {
            match finish {
                None => report.push_str(&format!("stack expected:\n{not_run}")),
                Some(f) if &f.stack != stack => {
                    report.push_str("stack differs (bottom first, one item per line):\n");
                    report.push_str(&unified_diff(
                        "expected stack",
                        stack_lines(stack).as_bytes(),
                        "actual stack",
                        stack_lines(&f.stack).as_bytes(),
                    ));
                }
                Some(_) => {}
            }
        }
        if let Some(heap) = &self.heap {
            match finish {
                None => report.push_str(&format!("heap expected:\n{not_run}")),
                Some(f) if &f.heap != heap => {
                    report.push_str("heap differs (address: value, one cell per line):\n");
                    report.push_str(&unified_diff(
                        "expected heap",
                        heap_lines(heap).as_bytes(),
                        "actual heap",
                        heap_lines(&f.heap).as_bytes(),
                    ));
                }
                Some(_) => {}
            }
        }
        if let Some(executed) = self.executed {
            match finish {
                None => report.push_str(&format!("executed expected:\n{not_run}")),
                Some(f) if f.executed != executed => report.push_str(&format!(
                    "executed differs:\n  expected: {executed}\n  actual:   {}\n",
                    f.executed
                )),
                Some(_) => {}
            }
        }
        report
    }
}

fn stack_lines(stack: &[BigInt]) -> String {
    stack.iter().map(|n| format!("{n}\n")).collect()
}

fn heap_lines(heap: &BTreeMap<BigInt, BigInt>) -> String {
    heap.iter().map(|(a, v)| format!("{a}: {v}\n")).collect()
}

/// Reads every case of a case file.
pub fn parse_cases(text: &str) -> Result<Vec<ConformanceCase>, CaseError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut cases: Vec<ConformanceCase> = Vec::new();
    let mut i = 0;
    // Before the first header only comments and blank lines may stand.
    while i < lines.len() && !lines[i].starts_with("===") {
        if !is_skipped(lines[i]) {
            return Err(CaseError::new(i + 1, "expected a `=== case-name` header"));
        }
        i += 1;
    }
    while i < lines.len() {
        let header_line = i + 1;
        let name = lines[i]["===".len()..].trim();
        if !is_kebab_case(name) {
            return Err(CaseError::new(
                header_line,
                format!("bad case name `{name}`: expected kebab-case (a-z, 0-9, single dashes)"),
            ));
        }
        if cases.iter().any(|c| c.name == name) {
            return Err(CaseError::new(header_line, format!("duplicate case name `{name}`")));
        }
        i += 1;
        let mut keys = Keys::default();
        let mut source: Option<(Source, usize)> = None;
        let mut input: Option<Vec<u8>> = None;
        while i < lines.len() && !lines[i].starts_with("===") {
            let line = lines[i];
            let number = i + 1;
            i += 1;
            if is_skipped(line) {
                continue;
            }
            let (key, value) = split_key(line, number)?;
            match key {
                "asm" | "stl" | "ws" => {
                    if source.is_some() {
                        return Err(CaseError::new(
                            number,
                            "a second program: give exactly one of `asm:`, `stl:`, `ws:`",
                        ));
                    }
                    source = Some(if key == "ws" {
                        (Source::Raw(parse_escaped(value).map_err(at(number))?), number)
                    } else {
                        if !value.is_empty() {
                            return Err(CaseError::new(
                                number,
                                format!(
                                    "`{key}:` takes its program on the following indented lines"
                                ),
                            ));
                        }
                        let (block, next) = read_block(&lines, i);
                        if block.trim().is_empty() {
                            return Err(CaseError::new(
                                number,
                                format!(
                                    "`{key}:` block is empty: indent its lines by 2 spaces or more"
                                ),
                            ));
                        }
                        i = next;
                        let s =
                            if key == "asm" { Source::Asm(block) } else { Source::Visible(block) };
                        (s, number + 1)
                    });
                }
                "input" => {
                    if input.is_some() {
                        return Err(CaseError::new(number, "duplicate key `input`"));
                    }
                    input = Some(parse_escaped(value).map_err(at(number))?);
                }
                _ => keys.add(key, value, number)?,
            }
        }
        let (source, source_line) = source.ok_or_else(|| {
            CaseError::new(header_line, format!("case `{name}` has no program (asm:, stl: or ws:)"))
        })?;
        let (limits, expectation) = keys.finish(header_line)?;
        cases.push(ConformanceCase {
            name: name.to_owned(),
            line: header_line,
            source,
            source_line,
            input: input.unwrap_or_default(),
            limits: limits.unwrap_or(DEFAULT_LIMITS),
            expectation,
        });
    }
    Ok(cases)
}

/// Writes one case as [`parse_cases`] reads it: the header, the program (blocks indented by
/// four spaces), the input when not empty, the limits when not [`DEFAULT_LIMITS`], and the
/// expectation. A block's text is written line by line, so it reads back with a final line
/// feed and without trailing blank lines.
pub fn format_case(case: &ConformanceCase) -> String {
    let mut out = format!("=== {}\n", case.name);
    match &case.source {
        Source::Raw(bytes) => out.push_str(&format!("ws: {}\n", format_escaped(bytes))),
        Source::Asm(text) | Source::Visible(text) => {
            out.push_str(if matches!(case.source, Source::Asm(_)) { "asm:\n" } else { "stl:\n" });
            for line in text.lines() {
                if !line.trim().is_empty() {
                    out.push_str("    ");
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
    }
    if !case.input.is_empty() {
        out.push_str(&format!("input: {}\n", format_escaped(&case.input)));
    }
    let limits = (case.limits != DEFAULT_LIMITS).then_some(case.limits);
    out.push_str(&format_expectation(limits, &case.expectation));
    out
}

/// Reads an expectation file: optional limits, and the expectation.
pub fn parse_expectation(text: &str) -> Result<(Option<Limits>, Expectation), CaseError> {
    let mut keys = Keys::default();
    let mut first = None;
    for (i, line) in text.lines().enumerate() {
        if is_skipped(line) {
            continue;
        }
        first.get_or_insert(i + 1);
        let (key, value) = split_key(line, i + 1)?;
        keys.add(key, value, i + 1)?;
    }
    keys.finish(first.unwrap_or(1))
}

/// Writes an expectation file that [`parse_expectation`] reads back to the same values.
/// `stdout:` is written only when the output is not empty, and `limits:` lists only the fields
/// that differ from [`DEFAULT_LIMITS`] (fuel when none does).
pub fn format_expectation(limits: Option<Limits>, expectation: &Expectation) -> String {
    let mut out = String::new();
    if let Some(limits) = limits {
        out.push_str(&format!("limits: {}\n", format_limits(limits)));
    }
    if !expectation.stdout.is_empty() {
        out.push_str(&format!("stdout: {}\n", format_escaped(&expectation.stdout)));
    }
    out.push_str(&format!("outcome: {}\n", expectation.outcome));
    if let Some(stack) = &expectation.stack {
        let items: Vec<String> = stack.iter().map(|n| n.to_string()).collect();
        out.push_str(&format!("stack: [{}]\n", items.join(", ")));
    }
    if let Some(heap) = &expectation.heap {
        let cells: Vec<String> = heap.iter().map(|(a, v)| format!("{a}: {v}")).collect();
        out.push_str(&format!("heap: {{{}}}\n", cells.join(", ")));
    }
    if let Some(executed) = expectation.executed {
        out.push_str(&format!("executed: {executed}\n"));
    }
    out
}

/// The `limits:` value for `limits`: the fields that differ from [`DEFAULT_LIMITS`], or the
/// fuel alone when none does.
pub fn format_limits(limits: Limits) -> String {
    fn value(v: u64) -> String {
        if v == u64::MAX { "unlimited".to_owned() } else { v.to_string() }
    }
    let d = DEFAULT_LIMITS;
    let mut parts = Vec::new();
    let fields = [
        ("fuel", limits.fuel, d.fuel),
        ("stack", limits.stack as u64, d.stack as u64),
        ("calls", limits.calls as u64, d.calls as u64),
        ("heap", limits.heap as u64, d.heap as u64),
        ("value-bits", limits.value_bits, d.value_bits),
        ("big-words", limits.big_words, d.big_words),
    ];
    for (name, v, default) in fields {
        if v != default {
            parts.push(format!("{name}={}", value(v)));
        }
    }
    if parts.is_empty() {
        parts.push(format!("fuel={}", value(limits.fuel)));
    }
    parts.join(" ")
}

/// Parses a `limits:` value: `name=value` pairs over [`DEFAULT_LIMITS`].
pub fn parse_limits(text: &str) -> Result<Limits, String> {
    let mut limits = DEFAULT_LIMITS;
    let mut seen = Vec::new();
    for pair in text.split_whitespace() {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("bad limit `{pair}`: expected name=value"))?;
        if seen.contains(&name) {
            return Err(format!("limit `{name}` given twice"));
        }
        seen.push(name);
        let v: u64 = if value == "unlimited" {
            u64::MAX
        } else {
            value.parse().map_err(|_| format!("bad limit value `{value}`"))?
        };
        let size = || usize::try_from(v).unwrap_or(usize::MAX);
        match name {
            "fuel" => limits.fuel = v,
            "stack" => limits.stack = size(),
            "calls" => limits.calls = size(),
            "heap" => limits.heap = size(),
            "value-bits" => limits.value_bits = v,
            "big-words" => limits.big_words = v,
            _ => {
                return Err(format!(
                    "unknown limit `{name}`: expected fuel, stack, calls, heap, value-bits or \
                     big-words"
                ));
            }
        }
    }
    Ok(limits)
}

/// The key lines of a case or expectation file, each at most once.
#[derive(Default)]
struct Keys {
    limits: Option<Limits>,
    stdout: Option<Vec<u8>>,
    outcome: Option<ExpectedOutcome>,
    stack: Option<Vec<BigInt>>,
    heap: Option<BTreeMap<BigInt, BigInt>>,
    executed: Option<u64>,
}

impl Keys {
    fn add(&mut self, key: &str, value: &str, line: usize) -> Result<(), CaseError> {
        fn set<T>(slot: &mut Option<T>, v: T, key: &str, line: usize) -> Result<(), CaseError> {
            if slot.is_some() {
                return Err(CaseError::new(line, format!("duplicate key `{key}`")));
            }
            *slot = Some(v);
            Ok(())
        }
        let err = at(line);
        match key {
            "limits" => set(&mut self.limits, parse_limits(value).map_err(err)?, key, line),
            "stdout" => set(&mut self.stdout, parse_escaped(value).map_err(err)?, key, line),
            "outcome" => set(&mut self.outcome, value.parse().map_err(err)?, key, line),
            "stack" => set(&mut self.stack, parse_stack(value).map_err(err)?, key, line),
            "heap" => set(&mut self.heap, parse_heap(value).map_err(err)?, key, line),
            "executed" => {
                let n = value.parse().map_err(|_| err(format!("bad count `{value}`")))?;
                set(&mut self.executed, n, key, line)
            }
            _ => Err(CaseError::new(
                line,
                format!(
                    "unknown key `{key}`: expected asm, stl, ws, input, limits, stdout, outcome, \
                     stack, heap or executed"
                ),
            )),
        }
    }

    fn finish(self, line: usize) -> Result<(Option<Limits>, Expectation), CaseError> {
        let outcome = self.outcome.ok_or_else(|| CaseError::new(line, "missing `outcome:`"))?;
        let expectation = Expectation {
            stdout: self.stdout.unwrap_or_default(),
            outcome,
            stack: self.stack,
            heap: self.heap,
            executed: self.executed,
        };
        Ok((self.limits, expectation))
    }
}

fn at(line: usize) -> impl Fn(String) -> CaseError {
    move |message| CaseError::new(line, message)
}

/// Blank lines and comment lines (outside program blocks).
fn is_skipped(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

fn split_key(line: &str, number: usize) -> Result<(&str, &str), CaseError> {
    if line.starts_with(' ') || line.starts_with('\t') {
        return Err(CaseError::new(
            number,
            "unexpected indented line: program lines follow `asm:` or `stl:` directly",
        ));
    }
    match line.split_once(':') {
        Some((key, value)) if !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase()) => {
            Ok((key, value.trim()))
        }
        _ => Err(CaseError::new(number, format!("expected `key: value`, found `{line}`"))),
    }
}

fn is_kebab_case(name: &str) -> bool {
    !name.is_empty()
        && name.split('-').all(|w| {
            !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// The indented lines from `start`, with their common indentation removed, and the index of
/// the first line after the block.
fn read_block(lines: &[&str], start: usize) -> (String, usize) {
    let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let mut end = start;
    let mut last = start;
    while end < lines.len() {
        let l = lines[end];
        if l.trim().is_empty() {
            end += 1;
        } else if indent(l) >= 2 {
            end += 1;
            last = end;
        } else {
            break;
        }
    }
    let block = &lines[start..last];
    let common =
        block.iter().filter(|l| !l.trim().is_empty()).map(|l| indent(l)).min().unwrap_or(0);
    let mut text = String::new();
    for l in block {
        text.push_str(l.get(common..).unwrap_or(""));
        text.push('\n');
    }
    (text, last)
}

fn parse_stack(text: &str) -> Result<Vec<BigInt>, String> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(|| format!("bad stack `{text}`: expected [a, b, ...]"))?;
    if inner.trim().is_empty() {
        return Ok(Vec::new());
    }
    inner.split(',').map(|item| parse_number(item.trim())).collect()
}

fn parse_heap(text: &str) -> Result<BTreeMap<BigInt, BigInt>, String> {
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(|| format!("bad heap `{text}`: expected {{address: value, ...}}"))?;
    let mut heap = BTreeMap::new();
    if inner.trim().is_empty() {
        return Ok(heap);
    }
    for cell in inner.split(',') {
        let (a, v) = cell
            .split_once(':')
            .ok_or_else(|| format!("bad heap cell `{}`: expected address: value", cell.trim()))?;
        let address = parse_number(a.trim())?;
        if heap.insert(address.clone(), parse_number(v.trim())?).is_some() {
            return Err(format!("heap address {address} given twice"));
        }
    }
    Ok(heap)
}

fn parse_number(text: &str) -> Result<BigInt, String> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad number `{text}`"));
    }
    text.parse().map_err(|_| format!("bad number `{text}`"))
}

/// Decodes a double-quoted escaped string (see the module docs).
pub fn parse_escaped(text: &str) -> Result<Vec<u8>, String> {
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|_| text.len() >= 2)
        .ok_or_else(|| format!("expected a double-quoted string, found `{text}`"))?;
    let mut out = Vec::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push(b'\n'),
                Some('t') => out.push(b'\t'),
                Some('r') => out.push(b'\r'),
                Some('0') => out.push(0),
                Some('\\') => out.push(b'\\'),
                Some('"') => out.push(b'"'),
                Some('x') => {
                    let hex: String = chars.by_ref().take(2).collect();
                    let byte = (hex.len() == 2)
                        .then(|| u8::from_str_radix(&hex, 16).ok())
                        .flatten()
                        .ok_or_else(|| format!("bad escape `\\x{hex}`: expected two hex digits"))?;
                    out.push(byte);
                }
                Some('u') => {
                    let rest = chars.as_str();
                    let close = rest.find('}').filter(|_| rest.starts_with('{'));
                    let code = close
                        .map(|c| &rest[1..c])
                        .filter(|h| (1..=6).contains(&h.len()))
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .and_then(char::from_u32)
                        .ok_or(
                            "bad escape `\\u`: expected \\u{H..} naming a Unicode scalar value",
                        )?;
                    out.extend_from_slice(code.encode_utf8(&mut [0; 4]).as_bytes());
                    chars = rest[close.unwrap_or(0) + 1..].chars();
                }
                Some(e) => return Err(format!("unknown escape `\\{e}`")),
                None => return Err("string ends in a lone `\\`".to_owned()),
            },
            '"' => return Err("unescaped `\"` inside a string".to_owned()),
            c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    Ok(out)
}

/// Encodes bytes as a double-quoted escaped string that [`parse_escaped`] reads back: printable
/// characters as themselves, invisible ones and bytes that are not UTF-8 as escapes.
pub fn format_escaped(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                '\0' => out.push_str("\\0"),
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                ' ' => out.push(' '),
                c if c.is_control() || c.is_whitespace() || is_invisible(c) => {
                    out.push_str(&format!("\\u{{{:x}}}", c as u32));
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('"');
    out
}

/// Format characters and marks that show nothing on their own.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{AD}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}')
        || ('\u{300}'..='\u{36F}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, Interp};
    use crate::outcome::{Finish, Trap};
    use crate::program::Position;

    const FILE: &str = r#"# a comment
=== push-and-print
asm:
    push 12   # assembly comment
    printi

    end
input: "x\n"
stdout: "12"
outcome: ended
stack: []
heap: {}
executed: 3

=== visible
# a comment between keys
stl:
  SSTTL  push -1 (lower-case comments)
    SLS  dup
  LLL
limits: fuel=2 heap=unlimited
outcome: trap out-of-fuel at 2
stack: [-1, -1]

=== raw
ws: "\t\t\x00"
outcome: parse-error truncated-instruction at 1:1
"#;

    #[test]
    fn parses_a_case_file() {
        let cases = parse_cases(FILE).unwrap();
        assert_eq!(cases.len(), 3);
        let c = &cases[0];
        assert_eq!((c.name.as_str(), c.line, c.source_line), ("push-and-print", 2, 4));
        assert_eq!(c.source, Source::Asm("push 12   # assembly comment\nprinti\n\nend\n".into()));
        assert_eq!(c.input, b"x\n");
        assert_eq!(c.limits, DEFAULT_LIMITS);
        assert_eq!(c.expectation.stdout, b"12");
        assert_eq!(c.expectation.outcome, ExpectedOutcome::Ended);
        assert_eq!(c.expectation.stack, Some(vec![]));
        assert_eq!(c.expectation.heap, Some(BTreeMap::new()));
        assert_eq!(c.expectation.executed, Some(3));

        let v = &cases[1];
        assert_eq!(
            v.source,
            Source::Visible("SSTTL  push -1 (lower-case comments)\n  SLS  dup\nLLL\n".into())
        );
        assert_eq!(v.limits, Limits { fuel: 2, heap: usize::MAX, ..DEFAULT_LIMITS });
        assert_eq!(
            v.expectation.outcome,
            ExpectedOutcome::Trap { kind: TrapKind::OutOfFuel, index: 2 }
        );
        assert_eq!(v.expectation.stack, Some(vec![BigInt::from(-1), BigInt::from(-1)]));
        assert_eq!((v.expectation.heap.as_ref(), v.expectation.executed), (None, None));
        assert!(v.expectation.stdout.is_empty());

        assert_eq!(cases[2].source, Source::Raw(b"\t\t\0".to_vec()));
        assert_eq!(
            cases[2].expectation.outcome,
            ExpectedOutcome::ParseError {
                kind: ParseErrorKind::TruncatedInstruction,
                line: 1,
                column: 1
            }
        );
    }

    #[test]
    fn cases_round_trip_through_format_case() {
        let cases = parse_cases(FILE).unwrap();
        let text: String = cases.iter().map(|c| format_case(c) + "\n").collect();
        let again = parse_cases(&text).unwrap();
        assert_eq!(again.len(), cases.len());
        for (a, b) in cases.iter().zip(&again) {
            assert_eq!(
                (&a.name, &a.source, &a.input, a.limits, &a.expectation),
                (&b.name, &b.source, &b.input, b.limits, &b.expectation),
                "{text}"
            );
        }
    }

    #[test]
    fn cases_run_and_check() {
        for case in parse_cases(FILE).unwrap() {
            let actual = match case.program().unwrap() {
                Ok(p) => Ok(Interp.run_bytes(&p, case.limits, &case.input).unwrap()),
                Err(e) => Err(e),
            };
            assert_eq!(case.expectation.check(&actual), "", "{}", case.name);
        }
    }

    #[test]
    fn malformed_files_name_the_line() {
        let err = |text: &str| parse_cases(text).unwrap_err();
        assert_eq!(err("push 1\n").line, 1);
        assert_eq!(err("=== Bad_Name\n").line, 1);
        assert_eq!(err("=== a\nws: \"\"\n").message, "missing `outcome:`");
        assert_eq!(err("=== a\noutcome: ended\n").line, 1);
        assert_eq!(err("=== a\nws: \"\"\noutcome: ended\n=== a\n").line, 4);
        assert_eq!(err("=== a\nws: \"\"\nws: \"\"\n").line, 3);
        assert_eq!(err("=== a\nws: \"\"\noutcome: ended\noutcome: ended\n").line, 4);
        assert_eq!(err("=== a\nws: \"\"\nbogus: 1\n").line, 3);
        assert_eq!(err("=== a\nws: \"\\q\"\n").line, 2);
        assert_eq!(err("=== a\nws: \"\"\noutcome: trap nope at 1\n").line, 3);
        assert_eq!(err("=== a\nws: \"\"\noutcome: parse-error unknown-instruction at 1\n").line, 3);
        assert_eq!(err("=== a\nws: \"\"\noutcome: ended\nstack: [1, x]\n").line, 4);
        assert_eq!(err("=== a\nws: \"\"\noutcome: ended\nlimits: fuel=x\n").line, 4);
        assert_eq!(err("=== a\nasm:\noutcome: ended\n").line, 2);
        assert_eq!(err("=== a\nws: \"\"\n push 1\n").line, 3);
    }

    #[test]
    fn assembly_errors_are_case_errors_at_their_file_line() {
        let cases = parse_cases("=== a\nasm:\n  push 1\n  bogus\noutcome: ended\n").unwrap();
        let e = cases[0].program().unwrap_err();
        assert_eq!(e.line, 4, "{e}");
    }

    #[test]
    fn escaped_strings() {
        let s = parse_escaped(r#""a\n\t\r\\\"\0\xff\u{e9}\u{3000}é""#).unwrap();
        assert_eq!(s, b"a\n\t\r\\\"\0\xff\xc3\xa9\xe3\x80\x80\xc3\xa9");
        assert_eq!(parse_escaped(r#""""#).unwrap(), b"");
        for bad in [r#""\x4""#, r#""\u{d800}""#, r#""\u{}""#, r#""a"b""#, r#""\""#, "\"", "x"] {
            assert!(parse_escaped(bad).is_err(), "{bad}");
        }
        let bytes = b"a \"q\"\\\n\t\r\0\x01\x7f\xff\xe2\x82\xac\xc2\xa0\xe3\x80\x80";
        let text = format_escaped(bytes);
        assert_eq!(text, r#""a \"q\"\\\n\t\r\0\u{1}\u{7f}\xff€\u{a0}\u{3000}""#);
        assert_eq!(parse_escaped(&text).unwrap(), bytes);
    }

    fn sample_outcome(termination: Termination) -> Outcome {
        Outcome {
            output: b"hi \n".to_vec(),
            finish: Finish {
                termination,
                stack: vec![BigInt::from(1), BigInt::from(-2)],
                heap: [(BigInt::from(0), BigInt::from(5)), (BigInt::from(7), BigInt::from(-1))]
                    .into_iter()
                    .collect(),
                executed: 9,
            },
        }
    }

    #[test]
    fn expectations_round_trip() {
        let trap = Trap {
            kind: TrapKind::HeapOverflow,
            index: 4,
            position: Position { offset: 3, line: 1, column: 4 },
        };
        let complete = Expectation::complete(&sample_outcome(Termination::Trapped(trap)));
        let text = format_expectation(Some(Limits { heap: 2, ..DEFAULT_LIMITS }), &complete);
        assert_eq!(
            text,
            "limits: heap=2\nstdout: \"hi \\n\"\noutcome: trap heap-overflow at 4\n\
             stack: [1, -2]\nheap: {0: 5, 7: -1}\nexecuted: 9\n"
        );
        assert_eq!(
            parse_expectation(&text).unwrap(),
            (Some(Limits { heap: 2, ..DEFAULT_LIMITS }), complete)
        );
        let minimal = Expectation {
            stdout: vec![],
            outcome: ExpectedOutcome::ParseError {
                kind: ParseErrorKind::UnterminatedLabel,
                line: 3,
                column: 7,
            },
            stack: None,
            heap: None,
            executed: None,
        };
        for limits in [None, Some(DEFAULT_LIMITS), Some(Limits::UNLIMITED), Some(Limits::DEFAULT)] {
            let text = format_expectation(limits, &minimal);
            assert_eq!(parse_expectation(&text).unwrap(), (limits, minimal.clone()), "{text}");
        }
        assert_eq!(
            format_expectation(None, &minimal),
            "outcome: parse-error unterminated-label at 3:7\n"
        );
        assert!(parse_expectation("# nothing\n").is_err());
    }

    #[test]
    fn check_reports_each_differing_part() {
        let actual = sample_outcome(Termination::Ended);
        let mut e = Expectation::complete(&actual);
        assert_eq!(e.check(&Ok(actual.clone())), "");
        e.stdout = b"hi\n".to_vec();
        e.stack = Some(vec![BigInt::from(1)]);
        e.heap = Some(BTreeMap::new());
        e.executed = Some(8);
        e.outcome = ExpectedOutcome::Trap { kind: TrapKind::StackUnderflow, index: 3 };
        let report = e.check(&Ok(actual.clone()));
        for part in [
            "outcome differs",
            "expected: trap stack-underflow at 3",
            "actual:   ended",
            "stdout differs",
            "-hi␊",
            "+hi␠␊",
            "stack differs",
            "+-2",
            "heap differs",
            "+7:␠-1",
            "executed differs",
        ] {
            assert!(report.contains(part), "{part:?} not in:\n{report}");
        }
    }

    #[test]
    fn check_compares_trap_index_and_parse_position() {
        let program = syntax::parse_visible("SLL").unwrap();
        let outcome = Interp.run_bytes(&program, DEFAULT_LIMITS, b"").unwrap();
        let expect = |outcome: ExpectedOutcome| Expectation {
            stdout: vec![],
            outcome,
            stack: None,
            heap: None,
            executed: None,
        };
        let under = |index| ExpectedOutcome::Trap { kind: TrapKind::StackUnderflow, index };
        assert_eq!(expect(under(0)).check(&Ok(outcome.clone())), "");
        assert_ne!(expect(under(1)).check(&Ok(outcome.clone())), "");

        let error = syntax::parse_visible("LLL\n TSTL").unwrap_err();
        let at = |line, column| ExpectedOutcome::ParseError {
            kind: ParseErrorKind::UnknownInstruction,
            line,
            column,
        };
        assert_eq!(expect(at(2, 2)).check(&Err(error.clone())), "");
        assert_ne!(expect(at(2, 3)).check(&Err(error.clone())), "");
        assert_ne!(expect(at(1, 2)).check(&Err(error.clone())), "");
        let mut with_stack = expect(at(2, 2));
        with_stack.stack = Some(vec![]);
        assert!(with_stack.check(&Err(error.clone())).contains("did not run"));
        assert!(expect(ExpectedOutcome::Ended).check(&Err(error)).contains("unknown-instruction"));
    }
}
