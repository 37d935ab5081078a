//! Where two runs part: the first amount of fuel with which the outcomes differ, found by
//! bisecting on fuel. With fuel `f` both engines must stop `out-of-fuel` after exactly `f`
//! instructions (SEMANTICS.md §3), so runs that agree with fuel `f - 1` and differ with fuel
//! `f` pin the `f`-th executed instruction.
//!
//! An engine that runs whole blocks of native code only when the fuel covers the block, and
//! steps one instruction at a time otherwise (as the JIT does), can show a difference made
//! inside a block only at the block's end. So the divergence also carries the reference's
//! trace up to that point, and the [`Divergence::signature`] of the runs cut there: the
//! immediate effect of the wrong instruction(s), before later instructions spread it to other
//! parts of the outcome. The shrinker's second phase keeps that signature.
//!
//! Invariant: the reported boundary is checked by running both engines on each side of it,
//! never inferred.

use super::{Comparison, Parts, Signature, check};
use crate::engine::RunCase;
use crate::engine::{Engine, Run};
use crate::interp::{Machine, Step};
use crate::io::{Input, Output};
use crate::outcome::Termination;

/// How many executed instructions of the reference's trace a divergence keeps.
pub const TRACE: usize = 8;

/// The first fuel with which the runs differ.
#[derive(Clone, Debug)]
pub struct Divergence {
    /// Instructions that ran identically (the fuel with which the runs still agree).
    pub executed: u64,
    /// The index of the instruction that ran next in the reference (`None` when the runs
    /// differ before any instruction runs, or the reference stopped there).
    pub index: Option<usize>,
    /// The indices of the reference's last executed instructions up to and including
    /// `index`, oldest first (at most [`TRACE`]).
    pub trace: Vec<usize>,
    /// The reference's run with fuel `executed` (both engines agree on it).
    pub before: Run,
    /// The runs with fuel `executed + 1`, reference first.
    pub after: (Run, Run),
    /// What differs between the runs with fuel `executed + 1`.
    pub signature: Signature,
}

/// The longest run (in executed instructions) whose divergence is searched: bisection runs
/// both engines about 2 log2(n) times on up to n instructions.
pub const MAX_SEARCHED: u64 = 5_000_000;

/// Bisects on fuel between 0 and the case's own fuel; `None` if the case's runs agree (or
/// its values outgrow the guard, or a run is longer than [`MAX_SEARCHED`]), and `None` for a
/// subject that does not report [`Parts::EXECUTED`]: bisecting on fuel needs an engine that
/// counts instructions and can be stopped after N of them, which an external engine (another
/// program, [`crate::external`]) cannot; its mismatches are shrunk on their signature alone.
pub fn first_divergence(case: &RunCase, subject: &dyn Engine, parts: Parts) -> Option<Divergence> {
    if !subject.capabilities().contains(Parts::EXECUTED) {
        return None;
    }
    let full = check(case, subject, parts);
    full.mismatch?;
    let with_fuel = |fuel: u64| {
        let c = RunCase {
            program: case.program.clone(),
            input: case.input.clone(),
            limits: case.limits.with_fuel(fuel),
        };
        // Less fuel runs a prefix of the full run, so the guard cannot trip here.
        check(&c, subject, parts)
    };
    // Past the longer run, more fuel changes nothing.
    let longest = [&full.reference, &full.subject]
        .iter()
        .filter_map(|r| r.result.as_ref().ok().map(|o| o.finish.executed))
        .max()
        .unwrap_or(0);
    if longest > MAX_SEARCHED {
        return None;
    }
    let mut hi = case.limits.fuel.min(longest.saturating_add(1));
    let mut hi_check = with_fuel(hi);
    if hi_check.mismatch.is_none() {
        hi = case.limits.fuel;
        hi_check = full.clone();
    }
    let mut lo_check = with_fuel(0);
    if let Some(signature) = lo_check.mismatch {
        let after = (lo_check.reference.clone(), lo_check.subject.clone());
        return Some(Divergence {
            executed: 0,
            index: None,
            trace: Vec::new(),
            before: lo_check.reference,
            after,
            signature,
        });
    }
    let mut lo = 0;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let c = with_fuel(mid);
        if c.mismatch.is_some() {
            hi = mid;
            hi_check = c;
        } else {
            lo = mid;
            lo_check = c;
        }
    }
    let index = match &lo_check.reference.result {
        Ok(o) => match o.finish.termination {
            Termination::Trapped(t) if t.index < case.program.len() => Some(t.index),
            _ => None,
        },
        Err(_) => None,
    };
    let Comparison { reference: ra, subject: sa, mismatch } = hi_check;
    Some(Divergence {
        executed: lo,
        index,
        trace: trace(case, hi),
        before: lo_check.reference,
        after: (ra, sa),
        signature: mismatch.unwrap_or(Signature { differs: Parts::empty(), endings: None }),
    })
}

/// The indices of the last [`TRACE`] instructions the reference executes with `fuel`.
fn trace(case: &RunCase, fuel: u64) -> Vec<usize> {
    let mut sink = Vec::new();
    let mut output = Output::new(&mut sink);
    let mut input = Input::from_bytes(&case.input);
    let mut machine = Machine::new(&case.program, case.limits.with_fuel(fuel));
    let mut last = std::collections::VecDeque::with_capacity(TRACE + 1);
    loop {
        let pc = machine.pc;
        match machine.step(&mut input, &mut output) {
            Ok(Step::Continue) => {}
            Ok(Step::Stop(Termination::Ended)) => {
                last.push_back(pc);
                break;
            }
            _ => break,
        }
        last.push_back(pc);
        if last.len() > TRACE {
            last.pop_front();
        }
    }
    while last.len() > TRACE {
        last.pop_front();
    }
    last.into()
}
