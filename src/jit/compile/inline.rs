//! The optimising tier's inlined calls: a block ending in `call f`, where `f`'s first block
//! is a short run of instructions ending in `ret`, is compiled with `f`'s block and then its
//! return point's block after it, as one block of code (a *trace*), so that the cached stack
//! items stay in registers through the call and the return, with no flush, no reload and no
//! entry checks between. mandel's `tdiv` (`dup; jn tneg; push 4096; div; ret`) is one.
//!
//! **What stays as it was.** The inlined `call` still pushes its return index on the call
//! stack, after the same two checks (the call-stack limit and the machine-stack floor), and
//! pushes a machine frame: a return address and the same 8 bytes of padding as a native
//! `call`, but the address is that of a *landing pad*, not of the code after it. So at every
//! instruction of the trace the call stack and the machine stack are exactly those of the
//! native `call` at the same point:
//! - an exit to the stepper inside `f` leaves with `f`'s frame on the call stack (and drops
//!   the machine frames, as every exit does);
//! - a side exit inside `f` (`jn tneg` taken) goes to `f`'s own block there, whose `ret` is
//!   compiled as any other: it finds a machine frame, pops the call stack and returns
//!   natively, into the landing pad, which drops the padding and enters the return point's
//!   block as a native return does (past the checks the trace's imply, with the callee's
//!   summary, `returns.rs`; otherwise through every check).
//!
//! The inlined `ret`, reached only along the trace after the `call` it matches, pops the call
//! stack and the machine frame (its `call` pushed both: no call or exit comes between).
//!
//! **Fuel** is charged once at the trace's entry for all of it ([`Block::extra`]), and every
//! exit and side exit refunds what it does not run, by position in the trace; the landing pad
//! charges the return point's block when it enters it.
//!
//! A trace is made only when all of it fits the block bounds, and never through the
//! instruction a debugging cut ends its block at (`Options::cut_after`): a cut `call` stays
//! the last instruction of its block; a cut inside `f`'s block or the return point's ends the
//! trace there, as it ends those blocks.

use crate::jit::Planted;
use crate::jit::blocks::{self, Block, Blocks, MAX_BLOCK_LEN, MAX_REACH, Op};

/// The longest callee block inlined (its instructions, label and `ret` included).
const MAX_CALLEE: usize = 32;

/// A block compiled with an inlined call.
#[derive(Clone, Debug)]
pub(super) struct Trace {
    /// The instructions, in the order the trace runs them when it runs to its end: the
    /// block's, the callee's first block's, and the return point's block's (if native).
    pub seq: Vec<usize>,
    /// Position in `seq` of the inlined `call`.
    pub call: usize,
    /// Position in `seq` of the callee's `ret`.
    pub ret: usize,
    /// For each target of a `jz`/`jn` in the callee's block: the clone it goes to.
    pub clones: Vec<(usize, usize)>,
    /// Where the trace goes on when it runs off its end: past the return point's block, or
    /// the return point itself when it is not native (then the trace ends at the `ret`).
    pub after: usize,
}

/// A callee's block that a branch inside an inlined callee goes to, compiled for that trace
/// alone: the block (ending in `ret`, with no branch) and the return point's block after
/// it, the `ret` inlined.
#[derive(Clone, Debug)]
pub(super) struct Clone {
    /// The instructions, as in [`Trace::seq`].
    pub seq: Vec<usize>,
    /// Position in `seq` of the `ret`.
    pub ret: usize,
    /// Its shape: the callee block's bounds and all it runs (`extra`, `needs`, `growth`).
    pub block: Block,
    /// The index of the callee's block it is a clone of.
    pub at: usize,
    /// Where it goes on when it runs off its end, as [`Trace::after`].
    pub after: usize,
}

/// Position of a `ret` a trace or clone does not reach: it ends at a debugging cut first.
pub(super) const NO_RET: usize = usize::MAX;

/// Finds the blocks to compile with an inlined call, and gives each its trace's shape
/// (`extra` instructions past its end, the needs and growth of the whole trace); and the
/// clones their callees' branches go to.
///
/// The blocks are decided as without a debugging cut (`Blocks::cut`), and each trace or clone
/// is then cut where it reaches the cut instruction, so that what comes before the cut is
/// compiled as without it. A cut `call` is still inlined, and its trace ends right after
/// it: it goes on in the callee's own block (whose `ret` returns to the landing pad).
pub(super) fn traces(
    code: &[Op],
    blocks: &mut Blocks,
    mutation: Planted,
) -> (Vec<Option<Trace>>, Vec<Clone>) {
    let mut out = vec![None; blocks.list.len()];
    let mut clones = Vec::new();
    for (i, slot) in out.iter_mut().enumerate() {
        let b = blocks.list[i];
        let call = b.end - 1;
        let Op::Call(Some(f)) = code[call] else { continue };
        if !b.native {
            continue;
        }
        let Some(fb) = leaf(code, blocks, f) else { continue };
        let own: Vec<usize> = (b.start..b.end).collect();
        if blocks.cut == Some(call) {
            let call = own.len() - 1;
            *slot = Some(Trace { seq: own, call, ret: NO_RET, clones: Vec::new(), after: f });
            continue;
        }
        let (tail, tail_after): (Vec<usize>, usize) = match blocks.starting_at.get(call + 1) {
            Some(Some(ri)) if blocks.list[*ri].native => {
                let rb = blocks.list[*ri];
                ((rb.start..rb.end).collect(), rb.end)
            }
            _ => (Vec::new(), call + 1),
        };
        let callee = upto_cut(blocks, fb.start..fb.end);
        // Every branch in the callee's block goes to a leaf block of its own, which is
        // cloned: a side exit there never meets a native `ret` with the pad's address, which
        // the return predictor would miss every time.
        let mut own_clones: Vec<(usize, Clone)> = Vec::new();
        let mut ok = true;
        for &pc in &callee.seq {
            let (Op::Jz(Some(t)) | Op::Jn(Some(t))) = code[pc] else { continue };
            if own_clones.iter().any(|&(pc, _)| pc == t) {
                continue;
            }
            let Some(tb) = leaf(code, blocks, t).filter(|tb| {
                !(tb.start..tb.end).any(|pc| matches!(code[pc], Op::Jz(_) | Op::Jn(_)))
            }) else {
                ok = false;
                break;
            };
            let part = upto_cut(blocks, tb.start..tb.end);
            let (seq, ret, after) = part.then(&tail, tail_after);
            let Some((needs, growth)) = reach(code, &seq, mutation) else {
                ok = false;
                break;
            };
            let at = blocks.starting_at[t].expect("a branch target starts a block");
            let extra = seq.len() - tb.len().min(seq.len());
            let tb = Block { end: tb.start + seq.len() - extra, needs, growth, extra, ..tb };
            own_clones.push((t, Clone { ret, seq, block: tb, at, after }));
        }
        let (rest, ret, after) = callee.then(&tail, tail_after);
        let seq: Vec<usize> = own.iter().copied().chain(rest).collect();
        let (true, Some((needs, growth))) = (ok, reach(code, &seq, mutation)) else { continue };
        let ret = if ret == NO_RET { NO_RET } else { b.len() + ret };
        let extra = seq.len() - b.len();
        blocks.list[i] = Block { needs, growth, extra, ..b };
        let mut ids = Vec::new();
        for (t, clone) in own_clones {
            ids.push((t, clones.len()));
            clones.push(clone);
        }
        *slot = Some(Trace { seq, call: b.len() - 1, ret, clones: ids, after });
    }
    (out, clones)
}

/// A callee's block (or a branch target's), as far as a trace runs it.
struct Part {
    seq: Vec<usize>,
    /// The instruction after the cut, when the cut is in it (it then ends there).
    cut: Option<usize>,
}

impl Part {
    /// The instructions run from this part's start (ending in its `ret`) and the return
    /// point's `tail` after it, the `ret`'s position in them, and where they go on; or, when
    /// the part ends at the cut, the part alone, no `ret`, and the instruction after the cut.
    fn then(self, tail: &[usize], tail_after: usize) -> (Vec<usize>, usize, usize) {
        match self.cut {
            Some(after) => (self.seq, NO_RET, after),
            None => {
                let ret = self.seq.len() - 1;
                (self.seq.into_iter().chain(tail.iter().copied()).collect(), ret, tail_after)
            }
        }
    }
}

/// The instructions of `range` up to the cut, if it is in there.
fn upto_cut(blocks: &Blocks, range: std::ops::Range<usize>) -> Part {
    match blocks.cut {
        Some(c) if range.contains(&c) => {
            Part { seq: (range.start..=c).collect(), cut: Some(c + 1) }
        }
        _ => Part { seq: range.collect(), cut: None },
    }
}

/// The block starting at `pc` as it is without a cut, when it can be inlined: native,
/// ending in `ret`, with no call (a call ends a block), at most [`MAX_CALLEE`] instructions.
/// Its `needs` and `growth` are not its own when a cut split it (`reach` finds them).
fn leaf(code: &[Op], blocks: &Blocks, pc: usize) -> Option<Block> {
    let i = blocks.starting_at.get(pc).copied().flatten()?;
    let mut b = blocks.list[i];
    if blocks.cut_splits
        && blocks.cut == Some(b.end - 1)
        && let Some(next) = blocks.list.get(i + 1).filter(|n| n.native && b.native)
    {
        b.end = next.end;
    }
    (b.native && b.len() <= MAX_CALLEE && matches!(code[b.end - 1], Op::Ret)).then_some(b)
}

/// The needs and growth of running `seq` from its start, if they and its length fit the
/// block bounds.
fn reach(code: &[Op], seq: &[usize], mutation: Planted) -> Option<(usize, usize)> {
    let (mut needs, mut growth, mut depth) = (0usize, 0usize, 0isize);
    for &pc in seq {
        let (need, effect) = blocks::stack_effect(code[pc], mutation);
        needs = needs.max((need as isize - depth).max(0) as usize);
        depth += effect;
        growth = growth.max(depth.max(0) as usize);
    }
    (needs <= MAX_REACH && growth <= MAX_REACH && seq.len() <= MAX_BLOCK_LEN)
        .then_some((needs, growth))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::assemble;

    fn shape(src: &str, cut: Option<usize>) -> Vec<(Vec<usize>, usize, usize, usize)> {
        let ops = blocks::decode(&assemble(src).unwrap());
        let mut b = blocks::analyse_cut(&ops, None, cut);
        let (t, _) = traces(&ops, &mut b, None);
        t.iter()
            .zip(&b.list)
            .filter_map(|(t, b)| t.as_ref().map(|t| (t.seq.clone(), t.ret, b.needs, b.growth)))
            .collect()
    }

    #[test]
    fn a_call_to_a_short_function_takes_its_block_and_the_return_point() {
        // 0 push 5, 1 call f, 2 printi, 3 end, 4 f:, 5 dup, 6 add, 7 ret
        let src = "push 5\ncall f\nprinti\nend\nf:\ndup\nadd\nret\n";
        assert_eq!(shape(src, None), vec![(vec![0, 1, 4, 5, 6, 7, 2, 3], 5, 0, 2)]);
    }

    #[test]
    fn a_trace_ends_at_the_cut() {
        let src = "push 5\ncall f\nprinti\nend\nf:\ndup\nadd\nret\n";
        // Cut after the call: inlined, and the trace ends there.
        assert_eq!(shape(src, Some(1)), vec![(vec![0, 1], NO_RET, 0, 1)]);
        // Cut after `dup`, inside f: the trace ends there, before the ret.
        assert_eq!(shape(src, Some(5)), vec![(vec![0, 1, 4, 5], NO_RET, 0, 2)]);
        // Cut after `printi`: in the return point's block.
        assert_eq!(shape(src, Some(2)), vec![(vec![0, 1, 4, 5, 6, 7, 2], 5, 0, 2)]);
    }

    #[test]
    fn calls_in_the_callee_long_callees_and_stepper_return_points() {
        // f calls g: its first block ends in a call, not a ret.
        assert_eq!(shape("call f\nend\nf:\ncall g\nret\ng:\nret\n", None).len(), 1);
        let long = format!("call f\nend\nf:\n{}ret\n", "push 1\ndrop\n".repeat(20));
        assert_eq!(shape(&long, None), vec![]);
        // The return point reads: the trace ends at the callee's ret.
        assert_eq!(shape("call f\nreadc\nend\nf:\nret\n", None), vec![(vec![0, 3, 4], 2, 0, 0)]);
    }
}
