//! The file formats: case files (`conformance/*.case`, [`parse_cases`], [`format_case`]) and
//! expectation files (`corpus/*.expect`, [`parse_expectation`], [`format_expectation`]), with
//! the `limits:` value they share ([`parse_limits`], [`format_limits`]).
//!
//! Invariant: what the `format_*` functions write, the `parse_*` functions read back to the
//! same values; a malformed file is a [`CaseError`] naming its line.

use std::collections::BTreeMap;

use num_bigint::BigInt;

use super::escape::{format_escaped, parse_escaped};
use super::expectation::{Expectation, ExpectedOutcome};
use super::transcript::{format_transcript, halves, parse_transcript};
use super::{CaseError, ConformanceCase, DEFAULT_LIMITS, Exchange, Source};
use crate::limits::Limits;

/// The program of a case from its `asm:`, `stl:` or `ws:` key on line `number` (the block
/// of an `asm:` or `stl:` starts at line index `next`), with the line where it starts, and
/// the index of the line after it.
fn read_source(
    key: &str,
    value: &str,
    lines: &[&str],
    number: usize,
    next: usize,
) -> Result<((Source, usize), usize), CaseError> {
    if key == "ws" {
        return Ok(((Source::Raw(parse_escaped(value).map_err(at(number))?), number), next));
    }
    if !value.is_empty() {
        return Err(CaseError::new(
            number,
            format!("`{key}:` takes its program on the following indented lines"),
        ));
    }
    let (block, after) = read_block(lines, next);
    if block.trim().is_empty() {
        return Err(CaseError::new(
            number,
            format!("`{key}:` block is empty: indent its lines by 2 spaces or more"),
        ));
    }
    let source = if key == "asm" { Source::Asm(block) } else { Source::Visible(block) };
    Ok(((source, number + 1), after))
}

/// Reads every case of a case file.
///
/// ```
/// use twinspace::case::{ExpectedOutcome, parse_cases};
///
/// let cases = parse_cases(
///     "=== add-two\nasm:\n    push 2 | push 3 | add\n    end\noutcome: ended\nstack: [5]\n",
/// )
/// .unwrap();
/// assert_eq!(cases[0].name, "add-two");
/// assert_eq!(cases[0].expectation.outcome, ExpectedOutcome::Ended);
/// ```
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
        let mut input: Option<(Vec<u8>, usize)> = None;
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
                    let (program, next) = read_source(key, value, &lines, number, i)?;
                    source = Some(program);
                    i = next;
                }
                "input" => {
                    if input.is_some() {
                        return Err(CaseError::new(number, "duplicate key `input`"));
                    }
                    input = Some((parse_escaped(value).map_err(at(number))?, number));
                }
                _ => keys.add(key, value, number)?,
            }
        }
        let (source, source_line) = source.ok_or_else(|| {
            CaseError::new(header_line, format!("case `{name}` has no program (asm:, stl: or ws:)"))
        })?;
        let (limits, expectation) = keys.finish(header_line)?;
        let input = match (input, &expectation.transcript) {
            (None, None) => Vec::new(),
            (Some((bytes, _)), None) => bytes,
            (None, Some(items)) => halves(items).1,
            (Some((_, line)), Some(_)) => {
                return Err(CaseError::new(
                    line,
                    "a transcript gives the input and the stdout: leave out `input:` and `stdout:`",
                ));
            }
        };
        cases.push(ConformanceCase {
            name: name.to_owned(),
            line: header_line,
            source,
            source_line,
            input,
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
    let limits = (case.limits != DEFAULT_LIMITS).then_some(case.limits);
    if case.expectation.transcript.is_none() && !case.input.is_empty() {
        out.push_str(&format!("input: {}\n", format_escaped(&case.input)));
    }
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
/// `transcript:` takes the place of `stdout:` when the expectation has one; `stdout:` is
/// written only when the output is not empty, and `limits:` lists only the fields that differ
/// from [`DEFAULT_LIMITS`] (fuel when none does).
pub fn format_expectation(limits: Option<Limits>, expectation: &Expectation) -> String {
    let mut out = String::new();
    if let Some(limits) = limits {
        out.push_str(&format!("limits: {}\n", format_limits(limits)));
    }
    if let Some(items) = &expectation.transcript {
        out.push_str(&format!("transcript: {}\n", format_transcript(items)));
    } else if !expectation.stdout.is_empty() {
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
    /// The line of the `stdout:` key, when given.
    stdout_line: Option<usize>,
    limits: Option<Limits>,
    stdout: Option<Vec<u8>>,
    outcome: Option<ExpectedOutcome>,
    stack: Option<Vec<BigInt>>,
    heap: Option<BTreeMap<BigInt, BigInt>>,
    executed: Option<u64>,
    transcript: Option<(Vec<Exchange>, usize)>,
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
            "stdout" => {
                self.stdout_line.get_or_insert(line);
                set(&mut self.stdout, parse_escaped(value).map_err(err)?, key, line)
            }
            "outcome" => set(&mut self.outcome, value.parse().map_err(err)?, key, line),
            "stack" => set(&mut self.stack, parse_stack(value).map_err(err)?, key, line),
            "heap" => set(&mut self.heap, parse_heap(value).map_err(err)?, key, line),
            "executed" => {
                let n = value.parse().map_err(|_| err(format!("bad count `{value}`")))?;
                set(&mut self.executed, n, key, line)
            }
            "transcript" => {
                let items = parse_transcript(value).map_err(err)?;
                set(&mut self.transcript, (items, line), key, line)
            }
            _ => Err(CaseError::new(
                line,
                format!(
                    "unknown key `{key}`: expected asm, stl, ws, input, transcript, limits, \
                     stdout, outcome, stack, heap or executed"
                ),
            )),
        }
    }

    fn finish(self, line: usize) -> Result<(Option<Limits>, Expectation), CaseError> {
        let outcome = self.outcome.ok_or_else(|| CaseError::new(line, "missing `outcome:`"))?;
        let (stdout, transcript) = match (self.stdout, self.transcript) {
            (stdout, None) => (stdout.unwrap_or_default(), None),
            (None, Some((items, _))) => (halves(&items).0, Some(items)),
            (Some(_), Some(_)) => {
                return Err(CaseError::new(
                    self.stdout_line.unwrap_or(line),
                    "a transcript gives the input and the stdout: leave out `input:` and `stdout:`",
                ));
            }
        };
        let expectation = Expectation {
            stdout,
            transcript,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, Interp};
    use crate::outcome::{Termination, Trap, TrapKind};
    use crate::program::Position;
    use crate::syntax::ParseErrorKind;

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
outcome: trap out-of-fuel at 2 (3:1)
stack: [-1, -1]

=== raw
ws: "\t\t\x00"
outcome: parse-error truncated-instruction at 1:1 (byte 0) expected "S (store) or T (retrieve)"

=== talk
asm:
    push '?'
    printc
    push 0 | readc
    push 1 | readc
    push 2 | readc
transcript: > "?" <  "|\"" < ""
outcome: trap end-of-input at 7
stack: [2]
heap: {0: 124, 1: 34}
"#;

    #[test]
    fn parses_a_case_file() {
        let cases = parse_cases(FILE).unwrap();
        assert_eq!(cases.len(), 4);
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
            ExpectedOutcome::Trap { kind: TrapKind::OutOfFuel, index: 2, position: Some((3, 1)) }
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
                column: 1,
                offset: Some(0),
                expected: Some("S (store) or T (retrieve)".to_owned()),
            }
        );
    }

    #[test]
    fn transcripts_give_input_and_stdout() {
        let talk = &parse_cases(FILE).unwrap()[3];
        assert_eq!(
            talk.expectation.transcript,
            Some(vec![
                Exchange::Output(b"?".to_vec()),
                Exchange::Input(b"|\"".to_vec()),
                Exchange::Input(vec![]),
            ])
        );
        assert_eq!((&talk.input[..], &talk.expectation.stdout[..]), (&b"|\""[..], &b"?"[..]));
        assert!(parse_cases(FILE).unwrap()[0].expectation.transcript.is_none());
        let err = |text: &str| parse_cases(text).unwrap_err();
        let head = "=== a\nws: \"\"\noutcome: ended\n";
        assert_eq!(err(&format!("{head}transcript: < \"x\"\ninput: \"x\"\n")).line, 5);
        assert_eq!(err(&format!("{head}stdout: \"x\"\ntranscript: > \"x\"\n")).line, 4);
        assert_eq!(err(&format!("{head}transcript: > \"x\"\ntranscript: > \"x\"\n")).line, 5);
        assert_eq!(err(&format!("{head}transcript: x\n")).line, 4);
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

    use crate::case::expectation::tests::sample_outcome;

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
                offset: None,
                expected: None,
            },
            stack: None,
            heap: None,
            executed: None,
            transcript: None,
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
    fn expectations_with_a_transcript_read_back() {
        // The sample read once, after 3 of its 4 output bytes.
        let outcome = sample_outcome(Termination::Ended);
        let complete = Expectation::complete_run(&outcome, b"ab");
        let text = format_expectation(None, &complete);
        assert!(text.starts_with("transcript: > \"hi \" < \"ab\" > \"\\n\"\n"), "{text}");
        assert!(!text.contains("stdout:"), "{text}");
        assert_eq!(parse_expectation(&text).unwrap(), (None, complete.clone()));
        assert_eq!(complete.check(&Ok(outcome.clone())), "");
        let mut late = outcome.clone();
        late.finish.reads[0].flushed = 0;
        assert!(complete.check(&Ok(late)).contains("transcript differs"));
        assert_eq!(complete.input_conflict(b"ab"), None);
        assert!(complete.input_conflict(b"a").unwrap().contains("not the input given"));
        assert_eq!(Expectation::complete(&outcome).input_conflict(b"a"), None, "no transcript");
        let both = "stdout: \"x\"\ntranscript: > \"x\"\noutcome: ended\n";
        assert_eq!(parse_expectation(both).unwrap_err().line, 1);
    }
}
