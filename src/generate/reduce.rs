//! The case reducer: smaller, still well-formed cases proposed one at a time around a current
//! best case. It runs no engine; the differential harness
//! ([`crate::differential::shrink`]) and proptest's shrinking ([`super::CaseTree`]) each decide
//! which candidates to accept.
//!
//! [`Candidates`] proposes smaller cases from the biggest reductions to the smallest: looser
//! limits and less fuel, no input, removal of instruction chunks (halves, quarters, ... single
//! instructions, in windows that overlap by half), conditional jumps replaced by `drop`, number
//! arguments moved toward `0`, `±1` and the boundary values (±2^31, ±2^63, ...), removal of
//! input bytes. When a candidate is accepted the proposals continue from the same place on the
//! smaller case; a pass that accepts nothing ends the reduction.
//!
//! Invariant: every candidate is well-formed in the sense of the generator: a jump or call
//! whose label was defined before still finds a definition (a chunk removal keeps the `label`
//! instructions that remaining jumps need and that nothing else defines), so reduction never
//! manufactures an `undefined-label` trap.

use std::collections::HashSet;

use num_bigint::{BigInt, Sign};
use num_traits::Signed;

use super::{BOUNDARY_VALUES, RunCase};
use crate::limits::Limits;
use crate::program::{Instruction, Label, Program};

/// The kinds of reduction, in the order a pass tries them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Limits,
    DropInput,
    Chunks,
    Branches,
    Numbers,
    InputChunks,
}

const STAGES: [Stage; 6] = [
    Stage::Limits,
    Stage::DropInput,
    Stage::Chunks,
    Stage::Branches,
    Stage::Numbers,
    Stage::InputChunks,
];

/// Most simpler values tried for one number argument.
const NUMBER_CANDIDATES: usize = 160;

/// The smaller cases to try, one at a time, around a current best case (the *base*).
#[derive(Clone, Debug)]
pub struct Candidates {
    base: RunCase,
    /// Labels that jumps of the original case name but nothing defines: they may stay
    /// undefined; no other label may become so.
    undefined: HashSet<Label>,
    stage: usize,
    pos: usize,
    /// Chunk size of the chunk stages.
    size: usize,
    progressed: bool,
}

impl Candidates {
    /// The candidates below `case`.
    pub fn new(case: RunCase) -> Candidates {
        let undefined = undefined_labels(&case.program);
        let mut c =
            Candidates { base: case, undefined, stage: 0, pos: 0, size: 0, progressed: false };
        c.enter_stage();
        c
    }

    /// The current best case.
    pub fn base(&self) -> &RunCase {
        &self.base
    }

    /// The current best case, taken.
    pub fn into_base(self) -> RunCase {
        self.base
    }

    /// Makes `candidate` (the last one proposed) the new base.
    pub fn accept(&mut self, candidate: RunCase) {
        self.base = candidate;
        self.progressed = true;
        // `pos` is one past the accepted candidate's position.
        let at = self.pos.saturating_sub(1);
        self.pos = if STAGES[self.stage] == Stage::Numbers {
            // Restart the list of simpler values for the same instruction.
            at - at % NUMBER_CANDIDATES
        } else {
            // The same position now holds new content (a smaller chunk, halved fuel): try it
            // again.
            at
        };
    }

    /// The next candidate, or `None` when a whole pass found nothing to accept.
    pub fn next_candidate(&mut self) -> Option<RunCase> {
        loop {
            match self.propose() {
                Proposal::Case(c) => {
                    self.pos += 1;
                    return Some(c);
                }
                Proposal::Skip => self.pos += 1,
                Proposal::Moved => {}
                Proposal::StageDone => {
                    self.stage += 1;
                    if self.stage == STAGES.len() {
                        if !self.progressed {
                            self.stage -= 1;
                            return None;
                        }
                        self.stage = 0;
                        self.progressed = false;
                    }
                    self.enter_stage();
                }
            }
        }
    }

    fn enter_stage(&mut self) {
        self.pos = 0;
        self.size = match STAGES[self.stage] {
            Stage::Chunks => (self.base.program.len() / 2).max(1),
            Stage::InputChunks => (self.base.input.len() / 2).max(1),
            _ => 0,
        };
    }

    /// The proposal of the current stage at the current position.
    fn propose(&mut self) -> Proposal {
        match STAGES[self.stage] {
            Stage::Limits => self.propose_limits(),
            Stage::DropInput => match self.pos {
                0 if !self.base.input.is_empty() => {
                    Proposal::Case(self.base.with_input(Vec::new()))
                }
                0 => Proposal::Skip,
                _ => Proposal::StageDone,
            },
            Stage::Chunks => self.propose_chunk(),
            Stage::Branches => self.propose_branch(),
            Stage::Numbers => self.propose_number(),
            Stage::InputChunks => self.propose_input_chunk(),
        }
    }

    /// One limit back to its default, or half the fuel.
    fn propose_limits(&self) -> Proposal {
        let l = self.base.limits;
        let d = Limits::DEFAULT;
        let next = match self.pos {
            0 => Limits { stack: d.stack, ..l },
            1 => Limits { calls: d.calls, ..l },
            2 => Limits { heap: d.heap, ..l },
            3 => l.with_fuel(l.fuel / 2),
            _ => return Proposal::StageDone,
        };
        if next == l { Proposal::Skip } else { Proposal::Case(self.base.with_limits(next)) }
    }

    /// The program without the chunk of `size` instructions at the current window.
    fn propose_chunk(&mut self) -> Proposal {
        // Windows overlap by half, so that a pair like `push 0; drop` is removed
        // wherever it starts.
        let len = self.base.program.len();
        let start = self.pos * (self.size / 2).max(1);
        if start >= len {
            if self.size == 1 {
                return Proposal::StageDone;
            }
            // Rounding up visits every size down to 2 (halving 3 would skip it).
            self.size = self.size.div_ceil(2);
            self.pos = 0;
            return Proposal::Moved;
        }
        let end = (start + self.size).min(len);
        match self.remove(start, end) {
            Some(p) => Proposal::Case(self.base.with_program(p)),
            None => Proposal::Skip,
        }
    }

    /// The conditional jump at the current position replaced by `drop`.
    fn propose_branch(&self) -> Proposal {
        let pos = self.pos;
        let Some(ins) = self.base.program.instructions().get(pos) else {
            return Proposal::StageDone;
        };
        match ins {
            Instruction::Jz(_) | Instruction::Jn(_) => {
                let mut v = self.base.program.instructions().to_vec();
                v[pos] = Instruction::Drop;
                Proposal::Case(self.base.with_program(crate::syntax::canonical(v)))
            }
            _ => Proposal::Skip,
        }
    }

    /// The number argument of one instruction replaced by one of its [`simpler_numbers`]
    /// (position = instruction * [`NUMBER_CANDIDATES`] + the value's rank).
    fn propose_number(&mut self) -> Proposal {
        let (index, k) = (self.pos / NUMBER_CANDIDATES, self.pos % NUMBER_CANDIDATES);
        let Some(ins) = self.base.program.instructions().get(index) else {
            return Proposal::StageDone;
        };
        let Some(n) = ins.number() else {
            // Jump to the next instruction.
            self.pos = (index + 1) * NUMBER_CANDIDATES;
            return Proposal::Moved;
        };
        match simpler_numbers(n).into_iter().nth(k) {
            Some(v) => {
                let mut all = self.base.program.instructions().to_vec();
                all[index] = match ins {
                    Instruction::Push(_) => Instruction::Push(v),
                    Instruction::Copy(_) => Instruction::Copy(v),
                    _ => Instruction::Slide(v),
                };
                Proposal::Case(self.base.with_program(crate::syntax::canonical(all)))
            }
            None => {
                self.pos = (index + 1) * NUMBER_CANDIDATES;
                Proposal::Moved
            }
        }
    }

    /// The input without the chunk of `size` bytes at the current window.
    fn propose_input_chunk(&mut self) -> Proposal {
        let len = self.base.input.len();
        let start = self.pos * self.size;
        if start >= len {
            if self.size <= 1 {
                return Proposal::StageDone;
            }
            // Rounding up visits every size down to 2 (halving 3 would skip it).
            self.size = self.size.div_ceil(2);
            self.pos = 0;
            return Proposal::Moved;
        }
        let end = (start + self.size).min(len);
        let mut input = self.base.input.clone();
        input.drain(start..end);
        Proposal::Case(self.base.with_input(input))
    }

    /// The program without instructions `start..end`, keeping the label definitions that
    /// remaining jumps need; `None` if nothing would be removed.
    fn remove(&self, start: usize, end: usize) -> Option<Program> {
        let all = self.base.program.instructions();
        let outside = || all[..start].iter().chain(&all[end..]);
        let used: HashSet<&Label> = outside().filter_map(Instruction::jump_label).collect();
        let defined_outside: HashSet<&Label> = outside()
            .filter_map(|i| match i {
                Instruction::Label(l) => Some(l),
                _ => None,
            })
            .collect();
        let mut kept = Vec::with_capacity(all.len());
        kept.extend_from_slice(&all[..start]);
        let mut removed = 0;
        for ins in &all[start..end] {
            match ins {
                Instruction::Label(l)
                    if used.contains(l)
                        && !defined_outside.contains(l)
                        && !self.undefined.contains(l) =>
                {
                    kept.push(ins.clone());
                }
                _ => removed += 1,
            }
        }
        if removed == 0 {
            return None;
        }
        kept.extend_from_slice(&all[end..]);
        Some(crate::syntax::canonical(kept))
    }
}

/// What `propose` found at the current position.
enum Proposal {
    /// A candidate (the position advances past it).
    Case(RunCase),
    /// Nothing to try here (the position advances).
    Skip,
    /// Nothing to try here, and `propose` has already set the next position.
    Moved,
    /// The stage has nothing more.
    StageDone,
}

impl RunCase {
    /// This case with `program` in place of its own; the label names a listing gave survive
    /// (for the reports of a shrunk `.wsa`), since shrinking never renames a label.
    fn with_program(&self, program: Program) -> RunCase {
        let program = program.with_label_names(self.program.label_names().clone());
        RunCase { program, input: self.input.clone(), limits: self.limits }
    }

    fn with_input(&self, input: Vec<u8>) -> RunCase {
        RunCase { program: self.program.clone(), input, limits: self.limits }
    }

    fn with_limits(&self, limits: Limits) -> RunCase {
        RunCase { program: self.program.clone(), input: self.input.clone(), limits }
    }
}

/// The labels jumps name that nothing defines.
fn undefined_labels(program: &Program) -> HashSet<Label> {
    program
        .instructions()
        .iter()
        .enumerate()
        .filter(|&(i, _)| program.target(i).is_none())
        .filter_map(|(_, ins)| ins.jump_label().cloned())
        .collect()
}

/// How complex a number looks: bits first, then magnitude, negatives after positives.
fn complexity(v: &BigInt) -> (u64, BigInt, bool) {
    (v.bits(), v.abs(), v.sign() == Sign::Minus)
}

/// Simpler values than `n`, simplest first: 0, ±1, ±2, the boundary values, `n` rounded to
/// its top bits, `|n|`, `n / 2`, and (for small `n`) `n` one closer to zero.
pub fn simpler_numbers(n: &BigInt) -> Vec<BigInt> {
    let mut all: Vec<BigInt> = (-2..=2).map(BigInt::from).collect();
    all.extend(BOUNDARY_VALUES.iter().cloned());
    if n.bits() > 0 {
        // `n` with only its top 1..=8 bits kept: round numbers of the same size.
        let bits = n.bits();
        for keep in 1..=8u64.min(bits) {
            let shift = bits - keep;
            all.push((n.abs() >> shift << shift) * n.signum());
        }
        all.push(n.abs());
        all.push(n / 2);
        // A step of one only near zero: stepping down from 2^62 would take for ever.
        if n.bits() <= 5 {
            all.push(n - n.signum());
        }
    }
    let own = complexity(n);
    let mut simpler: Vec<((u64, BigInt, bool), BigInt)> =
        all.into_iter().map(|v| (complexity(&v), v)).filter(|(c, _)| *c < own).collect();
    simpler.sort();
    simpler.dedup();
    simpler.into_iter().map(|(_, v)| v).take(NUMBER_CANDIDATES).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrunk_programs_keep_the_label_names_of_their_listing() {
        let program =
            crate::syntax::assemble("push 1\npush 2\nloop:\ndrop\njmp loop\nend\n").unwrap();
        let label = program.instructions()[2].label().unwrap().clone();
        assert_eq!(program.label_name(&label), Some("loop"));
        let mut candidates = Candidates::new(RunCase::new(program, Vec::new(), Limits::DEFAULT));
        let mut tried = 0;
        while let Some(candidate) = candidates.next_candidate() {
            tried += 1;
            assert_eq!(candidate.program.label_name(&label), Some("loop"));
            if tried == 50 {
                break;
            }
        }
        assert!(tried > 0);
    }
}
