//! Expectations: what a run must give, stated part by part, and the check that compares one
//! with an actual run and reports each part that differs.
//!
//! Invariant: [`Expectation::check`] returns an empty report exactly when the actual result
//! matches every part the expectation states; parts it does not state are not compared.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use num_bigint::BigInt;

use crate::outcome::{Outcome, Termination, TrapKind};
use crate::syntax::{ParseError, ParseErrorKind};
use crate::textdiff::unified_diff;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::DEFAULT_LIMITS;
    use crate::engine::Engine;
    use crate::outcome::Finish;
    use crate::syntax;

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
        let outcome = Engine::Interp.run_bytes(&program, DEFAULT_LIMITS, b"").unwrap();
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
