//! Expectations: what a run must give, stated part by part, and the check that compares one
//! with an actual run and reports each part that differs.
//!
//! Invariant: [`Expectation::check`] returns an empty report exactly when the actual result
//! matches every part the expectation states; parts it does not state are not compared.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use num_bigint::BigInt;

use super::Exchange;
use super::escape::{format_escaped, parse_escaped};
use super::transcript::{check_reads, transcript_of};
use crate::outcome::{Outcome, Termination, TrapKind};
use crate::syntax::{ParseError, ParseErrorKind};
use crate::textdiff::unified_diff;

/// How a run must stop.
///
/// The optional parts (a trap's source position; a parse error's byte offset and "expected"
/// text) are checked only when stated, so `Expectation::complete` and the files written from it
/// state none of them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ExpectedOutcome {
    /// `ended`: an `end` instruction ran.
    Ended,
    /// `trap <kind> at <index> [(<line>:<column>)]`.
    Trap {
        /// The trap kind.
        kind: TrapKind,
        /// The index of the trapping instruction.
        index: usize,
        /// The source position the trap reports, as (line, column), when stated.
        position: Option<(usize, usize)>,
    },
    /// `parse-error <kind> at <line>:<column> [(byte <offset>)] [expected "<text>"]`: the
    /// program does not parse, nothing runs.
    ParseError {
        /// The parse error kind.
        kind: ParseErrorKind,
        /// Line of the faulty instruction's first token (1-based).
        line: usize,
        /// Column of the faulty instruction's first token (1-based, in bytes).
        column: usize,
        /// Byte offset (0-based) of that token, when stated.
        offset: Option<usize>,
        /// What the error says would have been valid next, when stated.
        expected: Option<String>,
    },
}

impl ExpectedOutcome {
    /// The expected outcome that a termination satisfies (no optional part stated).
    pub fn of_termination(termination: &Termination) -> ExpectedOutcome {
        match termination {
            Termination::Ended => ExpectedOutcome::Ended,
            Termination::Trapped(t) => {
                ExpectedOutcome::Trap { kind: t.kind, index: t.index, position: None }
            }
        }
    }

    /// The expected outcome that a parse error satisfies (no optional part stated).
    pub fn of_parse_error(error: &ParseError) -> ExpectedOutcome {
        ExpectedOutcome::ParseError {
            kind: error.kind,
            line: error.position.line,
            column: error.position.column,
            offset: None,
            expected: None,
        }
    }

    /// What actually happened, every part stated.
    pub fn of_result(actual: &Result<Outcome, ParseError>) -> ExpectedOutcome {
        match actual {
            Ok(o) => match o.finish.termination.trap() {
                Some(t) => ExpectedOutcome::Trap {
                    kind: t.kind,
                    index: t.index,
                    position: Some((t.position.line, t.position.column)),
                },
                None => ExpectedOutcome::Ended,
            },
            Err(e) => ExpectedOutcome::ParseError {
                kind: e.kind,
                line: e.position.line,
                column: e.position.column,
                offset: Some(e.position.offset),
                expected: e.expected().map(str::to_owned),
            },
        }
    }

    /// `actual` (every part stated) with only the parts this expectation states, so that the
    /// two are equal exactly when `actual` satisfies `self`. When the kinds of outcome differ,
    /// `actual` is kept whole: every part of it helps to see what went wrong.
    fn as_stated(&self, actual: ExpectedOutcome) -> ExpectedOutcome {
        use ExpectedOutcome::{ParseError, Trap};
        match (self, actual) {
            (Trap { position, .. }, Trap { kind, index, position: p }) => {
                Trap { kind, index, position: position.and(p) }
            }
            (
                ParseError { offset, expected, .. },
                ParseError { kind, line, column, offset: o, expected: x },
            ) => ParseError {
                kind,
                line,
                column,
                offset: offset.and(o),
                expected: expected.as_ref().and(x),
            },
            (_, actual) => actual,
        }
    }
}

impl fmt::Display for ExpectedOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedOutcome::Ended => f.write_str("ended"),
            ExpectedOutcome::Trap { kind, index, position } => {
                write!(f, "trap {} at {index}", kind.code())?;
                if let Some((line, column)) = position {
                    write!(f, " ({line}:{column})")?;
                }
                Ok(())
            }
            ExpectedOutcome::ParseError { kind, line, column, offset, expected } => {
                write!(f, "parse-error {} at {line}:{column}", kind.code())?;
                if let Some(offset) = offset {
                    write!(f, " (byte {offset})")?;
                }
                if let Some(expected) = expected {
                    write!(f, " expected {}", format_escaped(expected.as_bytes()))?;
                }
                Ok(())
            }
        }
    }
}

/// `<line>:<column>`, both numbers.
fn line_column(text: &str) -> Result<(usize, usize), String> {
    let bad = || format!("bad position `{text}`: expected <line>:<column>");
    let (line, column) = text.split_once(':').ok_or_else(bad)?;
    Ok((line.parse().map_err(|_| bad())?, column.parse().map_err(|_| bad())?))
}

impl FromStr for ExpectedOutcome {
    type Err = String;

    fn from_str(text: &str) -> Result<ExpectedOutcome, String> {
        // The "expected" text of a parse error is an escaped string, which may hold spaces.
        let (text, expected) = match text.split_once(" expected ") {
            Some((head, quoted)) if text.starts_with("parse-error") => {
                let bytes = parse_escaped(quoted.trim())?;
                let expected = String::from_utf8(bytes)
                    .map_err(|_| "the expected text of a parse error must be UTF-8".to_owned())?;
                (head, Some(expected))
            }
            _ => (text, None),
        };
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            ["ended"] => Ok(ExpectedOutcome::Ended),
            ["trap", kind, "at", index, position @ ..] if position.len() <= 1 => {
                let kind = TrapKind::from_code(kind)
                    .ok_or_else(|| format!("unknown trap kind `{kind}`"))?;
                let index =
                    index.parse().map_err(|_| format!("bad instruction index `{index}`"))?;
                let position = match position.first() {
                    None => None,
                    Some(p) => Some(
                        p.strip_prefix('(')
                            .and_then(|p| p.strip_suffix(')'))
                            .ok_or_else(|| {
                                format!("bad position `{p}`: expected (<line>:<column>)")
                            })
                            .and_then(line_column)?,
                    ),
                };
                Ok(ExpectedOutcome::Trap { kind, index, position })
            }
            ["parse-error", kind, "at", at, byte @ ..] if byte.is_empty() || byte.len() == 2 => {
                let kind = ParseErrorKind::from_code(kind)
                    .ok_or_else(|| format!("unknown parse error kind `{kind}`"))?;
                let (line, column) = line_column(at)?;
                let offset = match byte {
                    [] => None,
                    [open, offset] => {
                        let offset = offset.strip_suffix(')').filter(|_| *open == "(byte");
                        let offset = offset.and_then(|o| o.parse().ok()).ok_or_else(|| {
                            format!(
                                "bad byte offset `{}`: expected (byte <offset>)",
                                byte.join(" ")
                            )
                        })?;
                        Some(offset)
                    }
                    _ => unreachable!("matched with 0 or 2 words"),
                };
                Ok(ExpectedOutcome::ParseError { kind, line, column, offset, expected })
            }
            _ => Err(format!(
                "bad outcome `{text}`: expected `ended`, `trap <kind> at <index> \
                 [(<line>:<column>)]` or `parse-error <kind> at <line>:<column> \
                 [(byte <offset>)] [expected \"<text>\"]`"
            )),
        }
    }
}

/// What a run must give. `stdout` and `outcome` are always checked; `stack`, `heap`,
/// `executed` and the `transcript` only when given.
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
    /// The output and the input in the order they happen (`transcript:`), checked against
    /// the reads the run recorded; `stdout` is then its output half.
    pub transcript: Option<Vec<Exchange>>,
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
            transcript: None,
        }
    }

    /// The expectation that states everything about `outcome`, a run on `input`, its
    /// transcript included when the run read anything.
    pub fn complete_run(outcome: &Outcome, input: &[u8]) -> Expectation {
        let transcript = transcript_of(&outcome.output, input, &outcome.finish.reads);
        Expectation { transcript, ..Expectation::complete(outcome) }
    }

    /// When the expectation has a transcript whose input is not `input`, why that cannot be
    /// (an expectation file's `transcript:` must agree with the case's `.in` file).
    pub fn input_conflict(&self, input: &[u8]) -> Option<String> {
        let (_, stated) = super::transcript::halves(self.transcript.as_deref()?);
        (stated != input).then(|| {
            format!(
                "the transcript's input {} is not the input given, {}",
                format_escaped(&stated),
                format_escaped(input)
            )
        })
    }

    /// Compares this expectation with what happened: a run's outcome, or the parse error that
    /// stopped the program from running. The report names each part that differs (a unified
    /// diff with invisible characters shown for stdout, stack and heap); it is empty when
    /// everything matches.
    pub fn check(&self, actual: &Result<Outcome, ParseError>) -> String {
        let mut report = String::new();
        let (output, finish) = match actual {
            Ok(o) => (&o.output[..], Some(&o.finish)),
            Err(_) => (&[][..], None),
        };
        let actual_outcome = self.outcome.as_stated(ExpectedOutcome::of_result(actual));
        if self.outcome != actual_outcome {
            report.push_str(&format!(
                "outcome differs:\n  expected: {}\n  actual:   {actual_outcome}\n",
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
        if let Some(items) = &self.transcript {
            match finish {
                None => report.push_str(&format!("transcript expected:\n{not_run}")),
                Some(f) => report.push_str(&check_reads(items, output, &f.reads)),
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::case::DEFAULT_LIMITS;
    use crate::engine::{Engine, Interp};
    use crate::outcome::Finish;
    use crate::syntax;

    /// An outcome with some of every part, for the format tests.
    pub(crate) fn sample_outcome(termination: Termination) -> Outcome {
        Outcome {
            output: b"hi \n".to_vec(),
            finish: Finish {
                termination,
                stack: vec![BigInt::from(1), BigInt::from(-2)],
                heap: [(BigInt::from(0), BigInt::from(5)), (BigInt::from(7), BigInt::from(-1))]
                    .into_iter()
                    .collect(),
                executed: 9,
                reads: vec![crate::outcome::ReadPoint { consumed: 0, flushed: 3 }],
            },
        }
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
        e.outcome =
            ExpectedOutcome::Trap { kind: TrapKind::StackUnderflow, index: 3, position: None };
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
            transcript: None,
        };
        let under = |index, position| ExpectedOutcome::Trap {
            kind: TrapKind::StackUnderflow,
            index,
            position,
        };
        assert_eq!(expect(under(0, None)).check(&Ok(outcome.clone())), "");
        assert_eq!(expect(under(0, Some((1, 1)))).check(&Ok(outcome.clone())), "");
        assert_ne!(expect(under(1, None)).check(&Ok(outcome.clone())), "");
        let report = expect(under(0, Some((1, 2)))).check(&Ok(outcome.clone()));
        assert!(
            report.contains("expected: trap stack-underflow at 0 (1:2)")
                && report.contains("actual:   trap stack-underflow at 0 (1:1)"),
            "{report}"
        );

        let error = syntax::parse_visible("LLL\n TSTL").unwrap_err();
        let at = |line, column| ExpectedOutcome::ParseError {
            kind: ParseErrorKind::UnknownInstruction,
            line,
            column,
            offset: None,
            expected: None,
        };
        let stated = |offset, expected: &str| ExpectedOutcome::ParseError {
            kind: ParseErrorKind::UnknownInstruction,
            line: 2,
            column: 2,
            offset: Some(offset),
            expected: Some(expected.to_owned()),
        };
        assert_eq!(expect(stated(5, "S (div) or T (mod)")).check(&Err(error.clone())), "");
        let report = expect(stated(4, "S or T")).check(&Err(error.clone()));
        let actual = r#"actual:   parse-error unknown-instruction at 2:2 (byte 5) expected "S (div) or T (mod)""#;
        assert!(report.contains(actual), "{report}");
        assert_eq!(expect(at(2, 2)).check(&Err(error.clone())), "");
        assert_ne!(expect(at(2, 3)).check(&Err(error.clone())), "");
        assert_ne!(expect(at(1, 2)).check(&Err(error.clone())), "");
        let mut with_stack = expect(at(2, 2));
        with_stack.stack = Some(vec![]);
        assert!(with_stack.check(&Err(error.clone())).contains("did not run"));
        assert!(expect(ExpectedOutcome::Ended).check(&Err(error)).contains("unknown-instruction"));
    }

    #[test]
    fn outcomes_read_back_with_their_optional_parts() {
        for text in [
            "ended",
            "trap stack-underflow at 3",
            "trap missing-end at 0 (1:1)",
            "parse-error unterminated-label at 3:7",
            "parse-error unterminated-label at 3:7 (byte 12)",
            r#"parse-error unknown-instruction at 1:1 expected "S or T""#,
            r#"parse-error truncated-instruction at 2:10 (byte 40) expected "L \"(end)\"""#,
        ] {
            let outcome: ExpectedOutcome = text.parse().unwrap();
            assert_eq!(outcome.to_string(), text);
        }
        for bad in [
            "trap stack-underflow at 3 1:1",
            "trap stack-underflow at 3 (1:1) (2:2)",
            "trap stack-underflow at 3 (1)",
            "parse-error unterminated-label at 3:7 (byte)",
            "parse-error unterminated-label at 3:7 (bytes 3)",
            "parse-error unterminated-label at 3:7 expected S",
            r#"parse-error unterminated-label at 3:7 expected "\xff""#,
        ] {
            assert!(bad.parse::<ExpectedOutcome>().is_err(), "{bad}");
        }
    }
}
