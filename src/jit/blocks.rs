//! Decoding and basic-block analysis: the program as the JIT sees it.
//!
//! Every instruction is decoded once into an [`Op`] with machine-sized arguments, and the
//! program is cut into blocks. A block is a straight run of instructions entered only at its
//! first instruction; it ends after `call`, `jmp`, `ret`, `end` and a dynamic `slide`, and
//! before every jump target. `jz` and `jn` do not end a block: a taken branch leaves it
//! through a side exit, so a loop body with an early-out test stays one block.
//!
//! Invariant: for a native block, [`Block::needs`] and [`Block::growth`] bound how far below
//! and above its entry stack pointer any of its instructions reaches (when it runs to its end
//! or leaves early), and [`Block::len`] is the number of instructions it executes when it runs
//! to its end. The reaches are at most [`MAX_REACH`] items and the length at most
//! [`MAX_BLOCK_LEN`]: a straight run that would pass them is cut into several blocks, so the
//! displacements and counts the compiler builds from them fit an `i32` (safety model item 3). Instructions the compiled code never
//! runs (reads, jumps to undefined labels, literals that do not fit 64 bits, `copy` with a
//! negative or enormous argument) each form a block of their own that the stepper runs.

use num_bigint::BigInt;
use num_traits::ToPrimitive;

use super::coverage::{self, Decision};
use super::{Planted, mutated};
use crate::program::{Instruction, Opcode, Program};

/// `copy` and `slide` arguments up to this are compiled with the block's static stack checks;
/// larger ones check the stack depth where they run.
pub(crate) const STATIC_REACH: u64 = 48;

/// Arguments at or above this are treated as "larger than any stack" (no stack can hold
/// 2^48 items of 8 bytes). Below it, `8 * (n + 1 + MAX_REACH)` fits easily in an `i64`, which
/// is what the dynamic `copy` and `slide` checks rely on.
pub(crate) const HUGE: u64 = 1 << 48;

/// The most stack items a native block reaches below or above its entry stack pointer
/// ([`Block::needs`], [`Block::growth`]). The entry check forms `vsp - 8 * needs` and
/// `vsp + 8 * growth`; with this bound the displacement is at most 32 KiB, so it fits an `i32`
/// and (with the stack buffer checked to start at least that far above address 0, see
/// `compile::Code::enter`) the sum cannot wrap around the address space.
pub(crate) const MAX_REACH: usize = 1 << 12;

/// The most instructions in one block: its fuel charge and every refund fit an `i32`.
pub(crate) const MAX_BLOCK_LEN: usize = 1 << 16;

/// A `copy` or `slide` argument, reduced to what matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Arg {
    /// Below zero.
    Neg,
    /// `0 <= n < 2^48`.
    Small(u64),
    /// At least 2^48: more than any stack holds.
    Huge,
}

impl Arg {
    fn of(n: &BigInt) -> Arg {
        match n.to_i64() {
            Some(v) if v < 0 => Arg::Neg,
            Some(v) if (v as u64) < HUGE => Arg::Small(v as u64),
            Some(_) => Arg::Huge,
            None if n.sign() == num_bigint::Sign::Minus => Arg::Neg,
            None => Arg::Huge,
        }
    }
}

/// One decoded instruction. Jump targets are instruction indices (`None`: undefined label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub(crate) enum Op {
    Push(i64),
    /// A literal that does not fit in i64 (the stepper reads it from the program).
    PushBig,
    Dup,
    Copy(Arg),
    Swap,
    Drop,
    Slide(Arg),
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Store,
    Retrieve,
    Label,
    Call(Option<usize>),
    Jmp(Option<usize>),
    Jz(Option<usize>),
    Jn(Option<usize>),
    Ret,
    End,
    PrintC,
    PrintI,
    ReadC,
    ReadI,
}

/// Decodes every instruction of `program`.
pub(crate) fn decode(program: &Program) -> Vec<Op> {
    program
        .instructions()
        .iter()
        .enumerate()
        .map(|(i, ins)| match ins {
            Instruction::Push(n) => n.to_i64().map_or(Op::PushBig, Op::Push),
            Instruction::Dup => Op::Dup,
            Instruction::Copy(n) => Op::Copy(Arg::of(n)),
            Instruction::Swap => Op::Swap,
            Instruction::Drop => Op::Drop,
            Instruction::Slide(n) => Op::Slide(Arg::of(n)),
            Instruction::Add => Op::Add,
            Instruction::Sub => Op::Sub,
            Instruction::Mul => Op::Mul,
            Instruction::Div => Op::Div,
            Instruction::Mod => Op::Mod,
            Instruction::Store => Op::Store,
            Instruction::Retrieve => Op::Retrieve,
            Instruction::Label(_) => Op::Label,
            Instruction::Call(_) => Op::Call(program.target(i)),
            Instruction::Jmp(_) => Op::Jmp(program.target(i)),
            Instruction::Jz(_) => Op::Jz(program.target(i)),
            Instruction::Jn(_) => Op::Jn(program.target(i)),
            Instruction::Ret => Op::Ret,
            Instruction::End => Op::End,
            Instruction::PrintC => Op::PrintC,
            Instruction::PrintI => Op::PrintI,
            Instruction::ReadC => Op::ReadC,
            Instruction::ReadI => Op::ReadI,
        })
        .collect()
}

/// Whether compiled code never runs `op` (the stepper always does).
pub(crate) fn stepper_only(op: Op) -> bool {
    matches!(
        op,
        Op::PushBig
            | Op::ReadC
            | Op::ReadI
            | Op::Copy(Arg::Neg | Arg::Huge)
            | Op::Call(None)
            | Op::Jmp(None)
            | Op::Jz(None)
            | Op::Jn(None)
    )
}

/// Whether `op` is a `slide` whose effect depends on the stack depth at run time.
pub(crate) fn dynamic_slide(op: Op) -> bool {
    matches!(op, Op::Slide(Arg::Huge)) || matches!(op, Op::Slide(Arg::Small(n)) if n > STATIC_REACH)
}

/// Whether `op` ends the block it is in (the next instruction starts a new one).
pub(crate) fn ends_block(op: Op) -> bool {
    matches!(op, Op::Call(_) | Op::Jmp(_) | Op::Ret | Op::End) || dynamic_slide(op)
}

/// A block of instructions `start..end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Block {
    /// Index of the first instruction.
    pub start: usize,
    /// One past the last instruction.
    pub end: usize,
    /// Whether compiled code runs it (otherwise it is one stepper-only instruction).
    pub native: bool,
    /// Stack items below the entry stack pointer the block reads or removes.
    pub needs: usize,
    /// Stack items above the entry stack pointer the block may write.
    pub growth: usize,
    /// Instructions past `end` that the compiled block runs when it runs to its end: those
    /// of a callee and of its return point, when the optimising tier compiles the `call` that
    /// ends the block into it (`compile/inline.rs`); 0 from the analysis.
    pub extra: usize,
}

impl Block {
    /// Instructions the block runs when it runs to its end: `start..end`, then `extra` more.
    pub fn len(&self) -> usize {
        self.end - self.start + self.extra
    }
}

/// The stack items an instruction needs (as the block check sees them) and its effect on
/// the depth. A dynamic `slide` reports its static part only (it ends its block).
pub(crate) fn stack_effect(op: Op, mutation: Planted) -> (usize, isize) {
    let copy_extra = usize::from(mutated!(mutation, CopyOffByOne));
    match op {
        Op::Push(_) | Op::PushBig => (0, 1),
        Op::Dup => (1, 1),
        Op::Copy(Arg::Small(n)) if n <= STATIC_REACH => (n as usize + 1 + copy_extra, 1),
        Op::Copy(_) => (0, 1),
        Op::Swap => (2, 0),
        Op::Drop => (1, -1),
        Op::Slide(Arg::Small(n)) if n <= STATIC_REACH => {
            let removed = if mutated!(mutation, SlideOffByOne) { n.saturating_sub(1) } else { n };
            (n as usize + 1, -(removed as isize))
        }
        Op::Slide(_) => (1, 0),
        // The rest have fixed needs and growth: the instruction table's.
        _ => {
            let row = op.opcode();
            (row.needs(), row.growth())
        }
    }
}

impl Op {
    /// The opcode of the instruction this was decoded from.
    pub(crate) fn opcode(self) -> Opcode {
        match self {
            Op::Push(_) | Op::PushBig => Opcode::Push,
            Op::Dup => Opcode::Dup,
            Op::Copy(_) => Opcode::Copy,
            Op::Swap => Opcode::Swap,
            Op::Drop => Opcode::Drop,
            Op::Slide(_) => Opcode::Slide,
            Op::Add => Opcode::Add,
            Op::Sub => Opcode::Sub,
            Op::Mul => Opcode::Mul,
            Op::Div => Opcode::Div,
            Op::Mod => Opcode::Mod,
            Op::Store => Opcode::Store,
            Op::Retrieve => Opcode::Retrieve,
            Op::Label => Opcode::Label,
            Op::Call(_) => Opcode::Call,
            Op::Jmp(_) => Opcode::Jmp,
            Op::Jz(_) => Opcode::Jz,
            Op::Jn(_) => Opcode::Jn,
            Op::Ret => Opcode::Ret,
            Op::End => Opcode::End,
            Op::PrintC => Opcode::PrintC,
            Op::PrintI => Opcode::PrintI,
            Op::ReadC => Opcode::ReadC,
            Op::ReadI => Opcode::ReadI,
        }
    }
}

/// How far a straight run of instructions reaches below and above the stack pointer at its
/// start ([`Block::needs`], [`Block::growth`]), and its depth change so far.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Reach {
    pub needs: usize,
    pub growth: usize,
    pub depth: isize,
}

impl Reach {
    /// The reach after one more instruction.
    pub(crate) fn then(self, op: Op, mutation: Planted) -> Reach {
        let (need, effect) = stack_effect(op, mutation);
        let depth = self.depth + effect;
        Reach {
            needs: self.needs.max((need as isize - self.depth).max(0) as usize),
            growth: self.growth.max(depth.max(0) as usize),
            depth,
        }
    }
}

/// The program cut into blocks.
#[derive(Clone, Debug)]
pub(crate) struct Blocks {
    /// Every block, in program order; together they cover every instruction once.
    pub list: Vec<Block>,
    /// For each instruction index (and one past the end): the block starting there, if any.
    pub starting_at: Vec<Option<usize>>,
    /// Instruction indices a `ret` can continue at (one after each `call`).
    pub return_points: Vec<usize>,
    /// The instruction a block was cut after (`analyse_cut`): it stays the last instruction
    /// of its compiled block.
    pub cut: Option<usize>,
    /// Whether the cut added a block start (it did not after an instruction that ends its
    /// block anyway, nor before a jump target): the block ending at the cut and the next one
    /// are then one block without it.
    pub cut_splits: bool,
}

/// Cuts `ops` into blocks.
pub(crate) fn analyse(ops: &[Op], mutation: Planted) -> Blocks {
    analyse_cut(ops, mutation, None)
}

/// Cuts `ops` into blocks, and with `cut_after` ends a block after that instruction too
/// (`Options::cut_after`): the only change is one more block start, so every other block and
/// every instruction before the cut stay as they were.
pub(crate) fn analyse_cut(ops: &[Op], mutation: Planted, cut_after: Option<usize>) -> Blocks {
    let n = ops.len();
    let mut leader = vec![false; n + 1];
    leader[0] = true;
    let mut return_points = Vec::new();
    for (i, &op) in ops.iter().enumerate() {
        match op {
            Op::Call(t) | Op::Jmp(t) | Op::Jz(t) | Op::Jn(t) => {
                if let Some(t) = t {
                    leader[t] = true;
                }
            }
            _ => {}
        }
        if let Op::Call(_) = op {
            return_points.push(i + 1);
        }
        if ends_block(op) {
            leader[i + 1] = true;
        }
        if stepper_only(op) {
            coverage::hit(coverage::stepper_only(op));
            leader[i] = true;
            leader[i + 1] = true;
        }
    }
    let cut = cut_after.filter(|&i| i < n);
    let cut_splits = cut.is_some_and(|i| !leader[i + 1]);
    if let Some(i) = cut {
        leader[i + 1] = true;
    }
    let mut list = Vec::new();
    let mut starting_at = vec![None; n + 1];
    let mut start = 0;
    while start < n {
        let native = !stepper_only(ops[start]);
        let (mut needs, mut growth, mut depth) = (0usize, 0usize, 0isize);
        let mut end = start;
        loop {
            let Reach { needs: next_needs, growth: next_growth, depth: next_depth } =
                Reach { needs, growth, depth }.then(ops[end], mutation);
            // Cut a block whose reach or length would pass the bounds the compiler relies
            // on; the first instruction always fits (it reaches at most STATIC_REACH + 2).
            if end > start
                && (next_needs > MAX_REACH
                    || next_growth > MAX_REACH
                    || end - start >= MAX_BLOCK_LEN)
            {
                coverage::hit(Decision::pick(
                    end - start >= MAX_BLOCK_LEN,
                    Decision::BlockCutLength,
                    Decision::BlockCutReach,
                ));
                break;
            }
            (needs, depth, growth) = (next_needs, next_depth, next_growth);
            end += 1;
            if end == n || leader[end] {
                break;
            }
        }
        starting_at[start] = Some(list.len());
        list.push(Block { start, end, native, needs, growth, extra: 0 });
        start = end;
    }
    Blocks { list, starting_at, return_points, cut, cut_splits }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::assemble;

    fn blocks(src: &str) -> Vec<(usize, usize, bool, usize, usize)> {
        let p = assemble(src).unwrap();
        let ops = decode(&p);
        analyse(&ops, None)
            .list
            .iter()
            .map(|b| (b.start, b.end, b.native, b.needs, b.growth))
            .collect()
    }

    #[test]
    fn a_loop_with_an_early_exit_is_one_block() {
        // 0 push 1, 1 l: label, 2 dup, 3 jz out, 4 push 1, 5 sub, 6 jmp l, 7 out: label, 8 end
        let b = blocks("push 1\nl:\ndup\njz out\npush 1\nsub\njmp l\nout:\nend\n");
        assert_eq!(b, vec![(0, 1, true, 0, 1), (1, 7, true, 1, 1), (7, 9, true, 0, 0)]);
    }

    #[test]
    fn stepper_only_instructions_stand_alone() {
        let b = blocks("push 1\nreadc\npush 99999999999999999999\ncopy -1\nend\n");
        assert_eq!(
            b,
            vec![
                (0, 1, true, 0, 1),
                (1, 2, false, 1, 0),
                (2, 3, false, 0, 1),
                (3, 4, false, 0, 1),
                (4, 5, true, 0, 0)
            ]
        );
    }

    #[test]
    fn copy_and_slide_reach_into_the_needs() {
        let b = blocks("copy 3\nslide 2\ndrop\nend\n");
        // copy 3 needs 4; slide 2 at depth +1 needs 3 - 1 = 2; drop at depth -1 needs 2.
        assert_eq!(b, vec![(0, 4, true, 4, 1)]);
    }

    #[test]
    fn long_runs_are_cut_where_their_reach_or_length_would_pass_the_bounds() {
        fn reach_and_len(src: &str) -> Vec<(usize, usize, usize)> {
            let ops = decode(&assemble(src).unwrap());
            let b = analyse(&ops, None);
            for pair in b.list.windows(2) {
                assert_eq!(pair[0].end, pair[1].start, "blocks cover every instruction");
            }
            b.list.iter().map(|b| (b.needs, b.growth, b.len())).collect()
        }
        let pushes = "push 1\n".repeat(MAX_REACH + 10);
        assert_eq!(reach_and_len(&pushes), vec![(0, MAX_REACH, MAX_REACH), (0, 10, 10)]);
        // Each `slide 48` needs 49 items and leaves the depth 48 lower.
        let slides = "slide 48\n".repeat(100);
        let cut = reach_and_len(&slides);
        assert!(cut.len() > 1 && cut.iter().all(|&(needs, _, _)| needs <= MAX_REACH), "{cut:?}");
        assert_eq!(cut.iter().map(|c| c.2).sum::<usize>(), 100);
        let swaps = "swap\n".repeat(MAX_BLOCK_LEN + 1);
        assert_eq!(reach_and_len(&swaps), vec![(2, 0, MAX_BLOCK_LEN), (2, 0, 1)]);
    }

    #[test]
    fn a_cut_adds_one_block_start_and_changes_nothing_else() {
        let ops = decode(&assemble("push 1\npush 2\nadd\ndup\njz z\nprinti\nz:\nend\n").unwrap());
        let plain = analyse(&ops, None);
        for cut in 0..ops.len() + 2 {
            let b = analyse_cut(&ops, None, Some(cut));
            let starts: Vec<usize> = b.list.iter().map(|b| b.start).collect();
            let mut expected: Vec<usize> = plain.list.iter().map(|b| b.start).collect();
            if cut + 1 < ops.len() && !expected.contains(&(cut + 1)) {
                expected.push(cut + 1);
                expected.sort();
            }
            assert_eq!(starts, expected, "cut after {cut}");
            assert_eq!(b.return_points, plain.return_points);
        }
    }

    #[test]
    fn big_arguments_are_classified() {
        let big: BigInt = BigInt::from(1u8) << 70;
        assert_eq!(Arg::of(&big), Arg::Huge);
        assert_eq!(Arg::of(&-big), Arg::Neg);
        assert_eq!(Arg::of(&BigInt::from(-1)), Arg::Neg);
        assert_eq!(Arg::of(&BigInt::from(1u64 << 48)), Arg::Huge);
        assert_eq!(Arg::of(&BigInt::from(5)), Arg::Small(5));
    }
}
