//! Shrinking: reduce a case to a minimal one that still shows the same mismatch.
//!
//! The smaller cases come from the engine-free reducer, [`Candidates`] (see
//! [`crate::generate::reduce`] for what it proposes and the well-formedness it keeps); this
//! module runs them. [`shrink`] accepts a candidate only if the caller's predicate holds;
//! [`shrink_mismatch`] makes that "the same [`Signature`]".

use std::time::{Duration, Instant};

use super::{Parts, Signature, shows};
use crate::engine::{Engine, RunCase};
use crate::generate::reduce::Candidates;

/// The result of shrinking.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The smallest case found.
    pub case: RunCase,
    /// Candidates tried.
    pub tries: u64,
    /// Candidates accepted.
    pub accepted: u64,
    /// Time spent.
    pub elapsed: Duration,
    /// False if the time budget ran out before a pass accepted nothing.
    pub complete: bool,
    /// When shrinking went on to keep the signature at the first divergence (see
    /// [`super::investigate`]): the size after the first phase, and that signature.
    pub first_phase: Option<(usize, Signature)>,
}

/// Shrinks `case` while `still_fails` holds for the candidates, within `budget`.
pub fn shrink(
    case: &RunCase,
    mut still_fails: impl FnMut(&RunCase) -> bool,
    budget: Duration,
) -> Shrunk {
    let start = Instant::now();
    let mut candidates = Candidates::new(case.clone());
    let (mut tries, mut accepted) = (0, 0);
    let mut complete = true;
    while let Some(trial) = candidates.next_candidate() {
        if start.elapsed() > budget {
            complete = false;
            break;
        }
        tries += 1;
        if still_fails(&trial) {
            accepted += 1;
            candidates.accept(trial);
        }
    }
    Shrunk {
        case: candidates.into_base(),
        tries,
        accepted,
        elapsed: start.elapsed(),
        complete,
        first_phase: None,
    }
}

/// Shrinks a case on which the reference and `subject` disagree with `signature` to a minimal
/// case with the same signature.
pub fn shrink_mismatch(
    case: &RunCase,
    subject: &dyn Engine,
    parts: Parts,
    signature: Signature,
    budget: Duration,
) -> Shrunk {
    shrink(case, |c| shows(c, subject, parts, signature), budget)
}
