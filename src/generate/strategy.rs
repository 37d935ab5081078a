//! The `proptest` glue: [`cases`], a [`Strategy`] of generated [`RunCase`]s, and [`CaseTree`],
//! which shrinks one with the reducer ([`super::reduce`]).
//!
//! Invariant: a case is generated from one `u64` of the runner's random number generator, so
//! proptest's failure persistence and `twinspace fuzz --replay` both regenerate it exactly.

use proptest::prelude::Rng;
use proptest::strategy::{NewTree, Strategy, ValueTree};
use proptest::test_runner::TestRunner;

use super::reduce::Candidates;
use super::{Knobs, RunCase, generate};

/// The strategy of generated cases with these knobs.
pub fn cases(knobs: Knobs) -> CaseStrategy {
    CaseStrategy { knobs }
}

/// A `proptest` strategy of [`RunCase`]s; each case is generated from one `u64` drawn from the
/// runner's random number generator, so proptest's failure persistence replays it exactly.
#[derive(Clone, Debug)]
pub struct CaseStrategy {
    knobs: Knobs,
}

impl CaseStrategy {
    /// The knobs in use.
    pub fn knobs(&self) -> &Knobs {
        &self.knobs
    }
}

impl Strategy for CaseStrategy {
    type Tree = CaseTree;
    type Value = RunCase;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let seed = runner.rng().next_u64();
        Ok(CaseTree::new(generate(seed, &self.knobs)))
    }
}

/// A generated case and its shrinker, following proptest's protocol: `simplify` is called
/// after the current value still failed (it is accepted, and the next smaller candidate
/// proposed); `complicate` after it passed (it is dropped, and the next candidate proposed).
#[derive(Clone, Debug)]
pub struct CaseTree {
    candidates: Candidates,
    trial: Option<RunCase>,
}

impl CaseTree {
    /// A tree whose most complex value is `case`.
    pub fn new(case: RunCase) -> CaseTree {
        CaseTree { candidates: Candidates::new(case), trial: None }
    }
}

impl ValueTree for CaseTree {
    type Value = RunCase;

    fn current(&self) -> RunCase {
        self.trial.clone().unwrap_or_else(|| self.candidates.base().clone())
    }

    fn simplify(&mut self) -> bool {
        if let Some(trial) = self.trial.take() {
            self.candidates.accept(trial);
        }
        self.trial = self.candidates.next_candidate();
        self.trial.is_some()
    }

    fn complicate(&mut self) -> bool {
        if self.trial.take().is_none() {
            return false;
        }
        self.trial = self.candidates.next_candidate();
        self.trial.is_some()
    }
}
