//! N-way differential fuzzing: a [`Panel`] of engines compared with the reference
//! interpreter, each on the parts it can show, with statistics per engine.
//!
//! Comparing every engine with the reference is enough: if two engines disagree on the parts
//! both show, at least one of them disagrees with the reference on its own parts. So a
//! mismatch is always between the reference and one member, and is shrunk on that pair alone
//! ([`Panel::culprit`] finds it), as a two-engine mismatch is.
//!
//! The panel is itself an [`Engine`] for the fuzzing loop: it runs the reference once per
//! case, then each member in turn beside it, and gives the first run that disagrees (or the
//! reference's own run when all agree). It reports every part ([`Parts::all`]): a member's
//! run has the reference's values in the parts the member cannot show (see
//! [`super::engine`]), so only real differences remain. A *third* engine, slow, is not in the
//! panel: it is asked only about the case a mismatch was found on ([`Opinion`]), as wasmi's
//! fuzzing asks a third Wasm engine only when two disagree.
//!
//! Invariant: every run of a member is counted in its [`MemberStats`], with its time, and a
//! case a member could not be compared on (an external engine and a limit) is counted as not
//! applicable, never as agreeing.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::engine::{ExternalEngine, Stopped, applicable, outcome_beside};
use crate::differential::{Signature, compared_parts};
use crate::engine::{Engine, Interp, Run, RunCase};
use crate::outcome::Parts;

/// An engine of a panel.
#[derive(Clone, Debug)]
pub enum Member {
    /// An in-process engine (the JIT), compared on what it reports.
    Builtin(Arc<dyn Engine>),
    /// A command, compared on what it shows, run beside the panel's one reference run.
    External(Arc<ExternalEngine>),
}

impl Member {
    /// The member as an engine.
    pub fn engine(&self) -> Arc<dyn Engine> {
        match self {
            Member::Builtin(e) => Arc::clone(e),
            Member::External(e) => Arc::clone(e) as Arc<dyn Engine>,
        }
    }

    /// Runs `case` beside the reference's run of it; `None` if it cannot be compared there.
    fn run_beside(&self, case: &RunCase, reference: &Run) -> Option<Run> {
        match self {
            Member::Builtin(e) => Some(e.run(case)),
            Member::External(e) if applicable(reference) => Some(e.run_beside(case, reference)),
            Member::External(_) => None,
        }
    }

    /// Whether its run disagrees with the reference's on the `parts` it reports.
    fn disagrees(&self, reference: &Run, run: &Run, parts: Parts) -> Option<Signature> {
        Signature::of(&reference.result, &run.result, compared_parts(&*self.engine(), parts))
    }
}

/// What one engine of a panel did, counted across threads.
#[derive(Debug, Default)]
pub struct MemberStats {
    runs: AtomicU64,
    not_applicable: AtomicU64,
    mismatches: AtomicU64,
    failures: AtomicU64,
    nanos: AtomicU64,
}

impl MemberStats {
    fn count(&self, run: Option<(&Run, Duration)>, mismatch: bool) {
        match run {
            None => {
                self.not_applicable.fetch_add(1, Ordering::Relaxed);
            }
            Some((run, took)) => {
                self.runs.fetch_add(1, Ordering::Relaxed);
                self.nanos.fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
                self.mismatches.fetch_add(u64::from(mismatch), Ordering::Relaxed);
                self.failures.fetch_add(u64::from(run.result.is_err()), Ordering::Relaxed);
            }
        }
    }

    /// Runs, cases not applicable, mismatches, failed runs, and total time.
    pub fn totals(&self) -> (u64, u64, u64, u64, Duration) {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        (
            get(&self.runs),
            get(&self.not_applicable),
            get(&self.mismatches),
            get(&self.failures),
            Duration::from_nanos(get(&self.nanos)),
        )
    }
}

/// The engines compared with the reference, and what each did.
#[derive(Debug)]
pub struct Panel {
    /// The engines, in the order given.
    pub members: Vec<Member>,
    /// The parts compared (each member on those it reports).
    pub parts: Parts,
    reference: MemberStats,
    stats: Vec<MemberStats>,
}

impl Panel {
    /// A panel of `members` compared on `parts`.
    pub fn new(members: Vec<Member>, parts: Parts) -> Panel {
        let stats = members.iter().map(|_| MemberStats::default()).collect();
        Panel { members, parts, reference: MemberStats::default(), stats }
    }

    /// The first member that disagrees with the reference on `case`, with the signature.
    pub fn culprit(&self, case: &RunCase) -> Option<(&Member, Signature)> {
        let reference = Interp.run(case);
        self.members.iter().find_map(|m| {
            let run = m.run_beside(case, &reference)?;
            m.disagrees(&reference, &run, self.parts).map(|s| (m, s))
        })
    }

    /// The per-engine table of the fuzzing summary.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "engines:{:>28} {:>9} {:>11} {:>9} {:>12}",
            "runs", "n/a", "mismatches", "failed", "time/run"
        );
        let rows = std::iter::once((Interp.name(), &self.reference))
            .chain(self.members.iter().zip(&self.stats).map(|(m, s)| (m.engine().name(), s)));
        for (name, stats) in rows {
            let (runs, na, mismatches, failed, time) = stats.totals();
            let per_run = time.as_secs_f64() * 1e3 / runs.max(1) as f64;
            let mut shown: String = name.chars().take(28).collect();
            if shown.len() < name.len() {
                shown.push('…');
            }
            let _ = writeln!(
                out,
                "  {shown:<29}{runs:>5} {na:>9} {mismatches:>11} {failed:>9} {per_run:>9.3} ms"
            );
        }
        out
    }
}

impl Engine for Panel {
    /// Its members' names (the reference, always compared with them, is not one).
    fn name(&self) -> String {
        let names: Vec<String> = self.members.iter().map(|m| m.engine().name()).collect();
        names.join(", ")
    }

    fn unavailable(&self) -> Option<String> {
        self.members.iter().find_map(|m| m.engine().unavailable())
    }

    fn run(&self, case: &RunCase) -> Run {
        let started = Instant::now();
        let reference = Interp.run(case);
        self.reference.count(Some((&reference, started.elapsed())), false);
        for (member, stats) in self.members.iter().zip(&self.stats) {
            let started = Instant::now();
            let run = member.run_beside(case, &reference);
            let took = started.elapsed();
            let mismatch =
                run.as_ref().and_then(|r| member.disagrees(&reference, r, self.parts)).is_some();
            stats.count(run.as_ref().map(|r| (r, took)), mismatch);
            if let (true, Some(run)) = (mismatch, run) {
                return run;
            }
        }
        reference
    }
}

/// What a third engine says about a mismatch between the reference and a member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opinion {
    /// It agrees with the reference.
    WithReference,
    /// It agrees with the member.
    WithMember,
    /// It agrees with neither.
    WithNeither,
    /// It cannot be compared on this case (a limit).
    NotApplicable,
}

/// Asks `third` about `case`, on which the reference and `member` disagree. An external
/// third is compared with each side on what it shows: its one run is seen beside the
/// reference's outcome, then beside the member's.
pub fn third_opinion(case: &RunCase, member: &dyn Engine, third: &Member, parts: Parts) -> Opinion {
    let reference = Interp.run(case);
    let mine = member.run(case);
    let compared = compared_parts(member, parts) & compared_parts(&*third.engine(), parts);
    let agrees = |a: &Run, b: &Run| Signature::of(&a.result, &b.result, compared).is_none();
    let (with_reference, with_member) = match third {
        Member::Builtin(e) => {
            let theirs = e.run(case);
            (agrees(&reference, &theirs), agrees(&mine, &theirs))
        }
        Member::External(e) => {
            if !applicable(&reference) {
                return Opinion::NotApplicable;
            }
            let observed = e.observe(&crate::syntax::print_ws(&case.program), &case.input);
            let beside = |side: &Run| match &side.result {
                Ok(o) => {
                    agrees(side, &Run { result: outcome_beside(o, observed.clone()), handovers: 0 })
                }
                Err(_) => matches!(observed.stopped, Stopped::Failed(_)),
            };
            (beside(&reference), beside(&mine))
        }
    };
    match (with_reference, with_member) {
        (true, _) => Opinion::WithReference,
        (false, true) => Opinion::WithMember,
        (false, false) => Opinion::WithNeither,
    }
}
