//! The case reducer: smaller, still well-formed cases proposed one at a time around a current
//! best case. It runs no engine; the differential harness
//! ([`crate::differential::shrink`]) and proptest's shrinking ([`super::CaseTree`]) each decide
//! which candidates to accept.
//!
//! [`Candidates`] proposes smaller cases from the biggest reductions to the smallest: looser
//! limits and less fuel, no input, removal of instruction chunks (halves, quarters, ... single
//! instructions, in windows that overlap by half), conditional jumps replaced by `drop`, number
//! arguments moved toward `0`, `±1` and the boundary values (±2^31, ±2^63, ...), pushes right
//! below a `copy n` removed with `n` lowered to match (so that it still copies the same item),
//! removal of input bytes. When a candidate is accepted the proposals continue from the same place on the
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
    Reaches,
    InputChunks,
}

const STAGES: [Stage; 7] = [
    Stage::Limits,
    Stage::DropInput,
    Stage::Chunks,
    Stage::Branches,
    Stage::Numbers,
    Stage::Reaches,
    Stage::InputChunks,
];

/// Candidates tried for one `copy` in the reaches stage: how many of the pushes right below it
/// to remove (all it reaches past, one fewer, half, one), without and then with a jump to a
/// new label in their place.
const REACH_CANDIDATES: usize = 8;

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
            Stage::Reaches => self.propose_reach(),
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

    /// For a `copy n` right above a run of pushes, or a `slide m` whose top item is a pushed
    /// constant (`push`, or `push` then `dup`) right above one (position = instruction *
    /// [`REACH_CANDIDATES`] + the variant): the program without `j` of those pushes and with
    /// `copy n - j` (which copies the same item; a `slide m` right after it, the route by
    /// which the generator brings a deep value up, becomes `slide m - j`) or `slide m - j`
    /// (which leaves the same stack). A chunk removal cannot do this: it would leave the count
    /// reaching a different item. The variants with `jmp l; l:` in place of the pushes (a
    /// jump to the next instruction, which changes nothing in the language) keep what a deep
    /// copy may be there for: a value that is not a constant right before its use, which a
    /// compiler would fold; a block boundary does the same with fewer instructions.
    fn propose_reach(&mut self) -> Proposal {
        let (index, k) = (self.pos / REACH_CANDIDATES, self.pos % REACH_CANDIDATES);
        let all = self.base.program.instructions();
        let Some(ins) = all.get(index) else {
            return Proposal::StageDone;
        };
        let count = |n: &BigInt| usize::try_from(n).unwrap_or(0);
        let pushed = |i: usize| matches!(all.get(i), Some(Instruction::Push(_)));
        let dup = |i: usize| match all.get(i) {
            Some(Instruction::Dup) => true,
            Some(Instruction::Copy(n)) => n.sign() == Sign::NoSign,
            _ => false,
        };
        // The instructions right before `ins` kept as they are (they make its top item), and
        // the most pushes under them that `ins` reaches past or slides away.
        let (tail, limit) = match ins {
            Instruction::Copy(n) => (0, count(n)),
            Instruction::Slide(m) if index >= 1 && pushed(index - 1) => (1, count(m)),
            Instruction::Slide(m) if index >= 2 && dup(index - 1) && pushed(index - 2) => {
                (2, count(m).saturating_sub(1))
            }
            _ => (0, 0),
        };
        let below = index - tail;
        let run = all[..below].iter().rev().take_while(|i| matches!(i, Instruction::Push(_)));
        let most = run.count().min(limit);
        if most == 0 {
            self.pos = (index + 1) * REACH_CANDIDATES;
            return Proposal::Moved;
        }
        let options = [most, most - 1, most / 2, 1];
        let (j, labelled) = (options[k % 4], k >= 4);
        if j == 0 || options[..k % 4].contains(&j) {
            return Proposal::Skip;
        }
        let mut kept = all[..below - j].to_vec();
        if labelled {
            let l = self.unused_label();
            kept.push(Instruction::Jmp(l.clone()));
            kept.push(Instruction::Label(l));
        }
        kept.extend_from_slice(&all[below..index]);
        let mut rest = &all[index + 1..];
        match ins {
            Instruction::Copy(n) => {
                kept.push(Instruction::Copy(BigInt::from(count(n) - j)));
                // A `slide m` right after it that removes the pushes too removes `j` fewer.
                if let Some(Instruction::Slide(m)) = rest.first()
                    && count(m) >= j
                {
                    kept.push(Instruction::Slide(BigInt::from(count(m) - j)));
                    rest = &rest[1..];
                }
            }
            Instruction::Slide(m) => kept.push(Instruction::Slide(BigInt::from(count(m) - j))),
            _ => unreachable!("only a copy or a slide has a limit"),
        }
        kept.extend_from_slice(rest);
        Proposal::Case(self.base.with_program(crate::syntax::canonical(kept)))
    }

    /// A label that the program neither defines nor names.
    fn unused_label(&self) -> Label {
        let taken: HashSet<&str> = self
            .base
            .program
            .instructions()
            .iter()
            .filter_map(|i| match i {
                Instruction::Label(l) => Some(l),
                other => other.jump_label(),
            })
            .map(Label::letters)
            .chain(self.undefined.iter().map(Label::letters))
            .collect();
        (0u64..)
            .map(|n| Label::from_bits((0..64 - n.leading_zeros()).rev().map(|i| n >> i & 1 == 1)))
            .find(|l| !taken.contains(l.letters()))
            .expect("finitely many labels are taken")
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

    #[test]
    fn a_deep_copy_loses_the_pushes_it_reaches_past() {
        // The bottom item is the one copied; 3 pushes and `copy 3` become `copy 0`, or keep
        // one push under the copy (`copy 1`) when the top must stay.
        let program =
            crate::syntax::assemble("push 7\npush 1\npush 2\npush 3\ncopy 3\nprinti\nend\n")
                .unwrap();
        let mut candidates = Candidates::new(RunCase::new(program, Vec::new(), Limits::DEFAULT));
        let mut seen = Vec::new();
        while let Some(c) = candidates.next_candidate() {
            let text = crate::syntax::print_asm(&c.program);
            if text.contains("copy") && !text.contains("push 3") {
                seen.push(text.split_whitespace().collect::<Vec<_>>().join(" "));
            }
        }
        for want in ["push 7 copy 0 printi end", "push 7 push 1 copy 1 printi end"] {
            assert!(seen.iter().any(|s| s == want), "{want:?} not among {seen:#?}");
        }
        // With the slide that takes the pushes away again: it takes fewer.
        let program =
            crate::syntax::assemble("push 7\npush 1\npush 2\ncopy 2\nslide 3\nend\n").unwrap();
        let mut candidates = Candidates::new(RunCase::new(program, Vec::new(), Limits::DEFAULT));
        let mut seen = Vec::new();
        while let Some(c) = candidates.next_candidate() {
            seen.push(
                crate::syntax::print_asm(&c.program)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        let want = "push 7 copy 0 slide 1 end";
        assert!(seen.iter().any(|s| s == want), "{want:?} not among {seen:#?}");
        // A slide whose top is a pushed constant (or its copy) slides fewer pushes away.
        for (src, want) in [
            ("push 7\npush 1\npush 2\npush 3\nslide 2\nend\n", "push 7 push 3 slide 0 end"),
            ("push 7\npush 1\npush 2\ndup\nslide 2\nend\n", "push 7 push 2 dup slide 1 end"),
        ] {
            let program = crate::syntax::assemble(src).unwrap();
            let mut candidates =
                Candidates::new(RunCase::new(program, Vec::new(), Limits::DEFAULT));
            let mut seen = Vec::new();
            while let Some(c) = candidates.next_candidate() {
                let text = crate::syntax::print_asm(&c.program);
                seen.push(text.split_whitespace().collect::<Vec<_>>().join(" "));
            }
            assert!(seen.iter().any(|s| s == want), "{want:?} not among {seen:#?}");
        }
        // Or with a jump to a new label in their place, one the program does not use.
        let program =
            crate::syntax::assemble("push 7\n%:\npush 1\npush 2\ncopy 2\nprinti\njmp %\n").unwrap();
        let mut candidates = Candidates::new(RunCase::new(program, Vec::new(), Limits::DEFAULT));
        let mut found = false;
        while let Some(c) = candidates.next_candidate() {
            let all = c.program.instructions();
            if let [
                _,
                Instruction::Label(old),
                Instruction::Jmp(to),
                Instruction::Label(new),
                Instruction::Copy(n),
                ..,
            ] = all
                && *n == BigInt::from(0)
            {
                assert_ne!(old, new, "{:?}", all);
                assert_eq!(to, new, "{:?}", all);
                found = true;
            }
        }
        assert!(found, "no labelled candidate");
    }
}
