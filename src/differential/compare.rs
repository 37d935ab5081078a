//! Which parts of two outcomes differ, and the [`Signature`] of a mismatch: what the shrinker
//! must preserve so that a reduced case shows the *same* mismatch, not another one.
//!
//! Invariant: two runs agree exactly when [`Signature::of`] is `None`; an engine that failed
//! to produce an outcome (host error, panic, crash) gives a signature unless the other engine
//! failed in exactly the same way.

use std::fmt;

use crate::engine::Failure;
use crate::outcome::{Outcome, Parts, Termination, TrapKind};

/// How a run stopped, without the instruction index: the coarse kind a mismatch keeps while
/// shrinking moves instructions around.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ending {
    /// An `end` ran.
    Ended,
    /// A trap of this kind.
    Trapped(TrapKind),
    /// The engine failed to give an outcome (host error, panic, crash).
    Failed,
    /// The engine was still running at the wall-clock bound and was ended
    /// ([`Failure::Hang`]), told apart from the other failures so that a report's header
    /// names it.
    Hung,
}

impl Ending {
    /// The ending of a run's result.
    pub fn of(result: &Result<Outcome, Failure>) -> Ending {
        match result {
            Ok(o) => match o.finish.termination {
                Termination::Ended => Ending::Ended,
                Termination::Trapped(t) => Ending::Trapped(t.kind),
            },
            Err(Failure::Hang(_)) => Ending::Hung,
            Err(_) => Ending::Failed,
        }
    }
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::Ended => f.write_str("ended"),
            Ending::Trapped(k) => write!(f, "trap {k}"),
            Ending::Failed => f.write_str("engine failure"),
            Ending::Hung => f.write_str("hang (ended at the wall-clock bound)"),
        }
    }
}

/// What a mismatch is (displayed as `stack, heap` or `termination (reference: ended;
/// subject: trap division-by-zero)`): the parts that differ, and, when the termination differs or an engine
/// failed, how each run ended (reference first). Two cases show the same mismatch when their
/// signatures are equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signature {
    /// The parts that differ (all of them when an engine failed).
    pub differs: Parts,
    /// How the reference and the subject ended, when that is part of the mismatch.
    pub endings: Option<(Ending, Ending)>,
}

impl Signature {
    /// The signature of two runs compared on `parts`; `None` when they agree (two failures
    /// agree when they are equal).
    pub fn of(
        reference: &Result<Outcome, Failure>,
        subject: &Result<Outcome, Failure>,
        parts: Parts,
    ) -> Option<Signature> {
        let endings = Some((Ending::of(reference), Ending::of(subject)));
        match (reference, subject) {
            (Ok(a), Ok(b)) => {
                let differs = parts.differing(a, b);
                if differs.is_empty() {
                    None
                } else if differs.contains(Parts::TERMINATION) {
                    Some(Signature { differs, endings })
                } else {
                    Some(Signature { differs, endings: None })
                }
            }
            (Err(a), Err(b)) if a == b => None,
            _ => Some(Signature { differs: Parts::all(), endings }),
        }
    }

    /// A short stable tag for file names: the differing parts, e.g. `stack-heap`, or
    /// `failure` when an engine failed to give an outcome (a crash, a panic).
    pub fn tag(&self) -> String {
        if let Some((a, b)) = self.endings {
            if a == Ending::Failed || b == Ending::Failed {
                return "failure".to_owned();
            }
        }
        let names: Vec<&str> = self.differs.iter().map(Parts::part_name).collect();
        names.join("-")
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.differs)?;
        if let Some((a, b)) = self.endings {
            write!(f, " (reference: {a}; subject: {b})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{Finish, Trap};
    use crate::program::Position;
    use num_bigint::BigInt;

    fn outcome(stack: &[i64], trap: Option<(TrapKind, usize)>) -> Outcome {
        Outcome {
            output: b"x".to_vec(),
            finish: Finish {
                termination: match trap {
                    None => Termination::Ended,
                    Some((kind, index)) => {
                        Termination::Trapped(Trap { kind, index, position: Position::START })
                    }
                },
                stack: stack.iter().map(|&v| BigInt::from(v)).collect(),
                heap: Default::default(),
                executed: 3,
                reads: Vec::new(),
            },
        }
    }

    #[test]
    fn parts_name_parse_and_differ() {
        assert_eq!(Parts::parse("output, stack").unwrap(), Parts::OUTPUT | Parts::STACK);
        assert_eq!(Parts::parse("all").unwrap(), Parts::all());
        assert!(Parts::parse("bogus").is_err());
        assert_eq!((Parts::OUTPUT | Parts::HEAP).to_string(), "output, heap");
        let (a, b) = (outcome(&[1], None), outcome(&[2], None));
        assert_eq!(Parts::all().differing(&a, &b), Parts::STACK);
        assert_eq!(Parts::OUTPUT.differing(&a, &b), Parts::empty());
    }

    #[test]
    fn signatures_keep_endings_only_when_termination_differs() {
        let a = Ok(outcome(&[1], None));
        let b = Ok(outcome(&[2], None));
        let s = Signature::of(&a, &b, Parts::all()).unwrap();
        assert_eq!(s, Signature { differs: Parts::STACK, endings: None });
        assert_eq!(Signature::of(&a, &a, Parts::all()), None);
        let c = Ok(outcome(&[1], Some((TrapKind::DivisionByZero, 2))));
        let s = Signature::of(&a, &c, Parts::all()).unwrap();
        assert_eq!(s.endings, Some((Ending::Ended, Ending::Trapped(TrapKind::DivisionByZero))));
        let boom = Err(Failure::Panic("boom".into()));
        let failed = Signature::of(&a, &boom, Parts::OUTPUT).unwrap();
        assert_eq!(failed.differs, Parts::all());
        assert_eq!(failed.tag(), "failure");
        assert_eq!(s.tag(), "termination");
    }

    #[test]
    fn identical_failures_agree_and_different_ones_do_not() {
        let host = |m: &str| Err(Failure::Host(m.into()));
        assert_eq!(Signature::of(&host("i/o error"), &host("i/o error"), Parts::all()), None);
        let s = Signature::of(&host("i/o error"), &host("other"), Parts::all()).unwrap();
        assert_eq!(s.endings, Some((Ending::Failed, Ending::Failed)));
        assert!(
            Signature::of(&host("x"), &Err(Failure::Panic("x".into())), Parts::all()).is_some()
        );
    }
}
