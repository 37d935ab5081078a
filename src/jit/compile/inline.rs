//! The optimising tier's inlined calls: a block ending in `call f`, where `f`'s first block
//! is a short run of instructions ending in `ret`, is compiled with `f`'s block and then its
//! return point's block after it, as one block of code (a *trace*), so that the cached stack
//! items stay in registers through the call and the return, with no flush, no reload and no
//! entry checks between. mandel's `tdiv` (`dup; jn tneg; push 4096; div; ret`) is one.
//!
//! **What stays as it was.** The inlined `call` still pushes its return index on the call
//! stack, after the same check of the call-stack limit, so an exit to the stepper inside `f`
//! leaves with `f`'s frame on the call stack. Every branch inside `f`'s block (`jn tneg`)
//! goes to a *clone* of its target block made for this trace: the target (a block ending in
//! `ret`, with no branch) and the return point's block after it, its `ret` inlined too. So
//! native code never runs one of `f`'s own `ret`s with the inlined frame on the call stack:
//! the inlined `ret`s (reached only after the `call` they match, with no call or exit between)
//! pop it. Compiled code takes a machine frame (`rsp` below its base) to mean that a native
//! `call` made the call stack's top entry (`flow.rs`, `ret`); an inlined call makes none, and
//! no native `ret` sees its entry, so that stays true.
//!
//! Only where a debugging cut ends the trace (or a clone) inside `f` (below) does native code
//! go on in `f`'s own blocks. There the inlined call also pushes a machine frame, as a native
//! `call` does (after the same check of the machine-stack floor): a return address and 8
//! bytes of padding, the address that of a *landing pad*. `f`'s own `ret` then returns
//! natively into the pad, which drops the padding and enters the return point as a native
//! return does (past the checks the trace's imply when `f` has a summary, `returns.rs`).
//!
//! **Fuel** is charged once at the trace's entry for all of it ([`Block::extra`]), and every
//! exit and side exit refunds what it does not run, by position in the trace; the landing pad
//! charges the return point's block when it enters it.
//!
//! **What is inlined** is bounded so that compiling it twice stays cheap: only a `call` in a
//! loop of the code as laid out (between a backward jump or branch and its target), callee
//! blocks (and branch targets) of at most [`MAX_CALLEE`] instructions, the return point's
//! block only when it has at most [`MAX_TAIL`] (otherwise the trace ends at the `ret` and
//! jumps to it), and only when all of it fits the block bounds. Straight-line calls (a
//! program printing a table, say) would pay for compiling the callee at every call site and
//! gain nothing: measured on the shared real-world programs, inlining every call to a callee
//! block of up to 32 instructions made 95 of the 333 slower, up to 1.5 times in machine
//! instructions, from compiling alone.
//!
//! **A debugging cut** (`Options::cut_after`) ends a trace or clone where it reaches the cut
//! instruction (a cut `call` is inlined and ends its trace), so what comes before the cut
//! computes as without it. One thing differs: a cut inside the callee makes the inlined call
//! push the machine frame above, which the callee's own blocks need; so a bug that only the
//! missing frame shows (`InlinedBranchSkipsClone`) is not seen with such a cut, and the
//! divergence search reports it coarsely (`tests/mutations.rs`).

use crate::jit::Planted;
use crate::jit::blocks::{Block, Blocks, MAX_BLOCK_LEN, MAX_REACH, Op, Reach};

/// The longest callee block (or branch target) inlined, its label and `ret` included.
const MAX_CALLEE: usize = 8;

/// The longest return point block a trace takes in after the `ret`.
const MAX_TAIL: usize = 32;

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
    /// Whether the inlined call pushes a machine frame (returning to the landing pad): only
    /// when the trace or a clone ends at a debugging cut before the callee's `ret`, so that
    /// the callee's own block, where it goes on, finds the frame its `ret` returns through.
    pub frame: bool,
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
    /// Whether its trace's call pushed a machine frame ([`Trace::frame`]), which its `ret`
    /// then pops.
    pub frame: bool,
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
    let looped = in_loops(code);
    for (i, slot) in out.iter_mut().enumerate() {
        let b = blocks.list[i];
        let call = b.end - 1;
        let Op::Call(Some(f)) = code[call] else { continue };
        if !b.native || !looped[call] {
            continue;
        }
        let Some(fb) = leaf(code, blocks, f) else { continue };
        let own: Vec<usize> = (b.start..b.end).collect();
        if blocks.cut == Some(call) {
            let call = own.len() - 1;
            *slot = Some(Trace {
                seq: own,
                call,
                ret: NO_RET,
                clones: Vec::new(),
                after: f,
                frame: true,
            });
            continue;
        }
        let (tail, tail_after): (Vec<usize>, usize) = match blocks.starting_at.get(call + 1) {
            Some(Some(ri)) if blocks.list[*ri].native && blocks.list[*ri].len() <= MAX_TAIL => {
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
            let (seq, ret, after) = part.then(&tail, tail_after, call + 1);
            let Some((needs, growth)) = reach(code, &seq, mutation) else {
                ok = false;
                break;
            };
            let at = blocks.starting_at[t].expect("a branch target starts a block");
            let extra = seq.len() - tb.len().min(seq.len());
            let tb = Block { end: tb.start + seq.len() - extra, needs, growth, extra, ..tb };
            own_clones.push((t, Clone { ret, seq, block: tb, at, after, frame: false }));
        }
        let (rest, ret, after) = callee.then(&tail, tail_after, call + 1);
        let seq: Vec<usize> = own.iter().copied().chain(rest).collect();
        let (true, Some((needs, growth))) = (ok, reach(code, &seq, mutation)) else { continue };
        let ret = if ret == NO_RET { NO_RET } else { b.len() + ret };
        let extra = seq.len() - b.len();
        blocks.list[i] = Block { needs, growth, extra, ..b };
        let frame = ret == NO_RET || own_clones.iter().any(|(_, c)| c.ret == NO_RET);
        let mut ids = Vec::new();
        for (t, clone) in own_clones {
            ids.push((t, clones.len()));
            clones.push(Clone { frame, ..clone });
        }
        *slot = Some(Trace { seq, call: b.len() - 1, ret, clones: ids, after, frame });
    }
    (out, clones)
}

/// For each instruction, whether it lies between a backward jump or branch and its target
/// (both included): in a loop of the code as laid out. Only a call there is inlined.
fn in_loops(code: &[Op]) -> Vec<bool> {
    let mut change = vec![0i64; code.len() + 1];
    for (pc, &op) in code.iter().enumerate() {
        if let Op::Jmp(Some(t)) | Op::Jz(Some(t)) | Op::Jn(Some(t)) = op
            && t <= pc
        {
            change[t] += 1;
            change[pc + 1] -= 1;
        }
    }
    let mut open = 0;
    change[..code.len()]
        .iter()
        .map(|c| {
            open += c;
            open > 0
        })
        .collect()
}

/// A callee's block (or a branch target's), as far as a trace runs it.
struct Part {
    seq: Vec<usize>,
    cut: Cut,
}

/// Where the debugging cut is, for a [`Part`].
enum Cut {
    /// Not in it.
    No,
    /// At its `ret`: the trace ends after it, at the return point.
    AtRet,
    /// Before its `ret`: the part ends there, and goes on at this instruction.
    Before(usize),
}

impl Part {
    /// The instructions run from this part's start (ending in its `ret`) and the return
    /// point's `tail` after it, the `ret`'s position in them, and where they go on (past the
    /// tail, at `tail_after`). When the cut is at the `ret`, the part alone, going on at the
    /// return point `back`; before it, the part alone, no `ret`, and the instruction after the
    /// cut.
    fn then(self, tail: &[usize], tail_after: usize, back: usize) -> (Vec<usize>, usize, usize) {
        let ret = self.seq.len() - 1;
        match self.cut {
            Cut::No => {
                (self.seq.into_iter().chain(tail.iter().copied()).collect(), ret, tail_after)
            }
            Cut::AtRet => (self.seq, ret, back),
            Cut::Before(after) => (self.seq, NO_RET, after),
        }
    }
}

/// The instructions of `range` (a block ending in `ret`) up to the cut, if it is in there.
fn upto_cut(blocks: &Blocks, range: std::ops::Range<usize>) -> Part {
    match blocks.cut {
        Some(c) if c + 1 == range.end => Part { seq: range.collect(), cut: Cut::AtRet },
        Some(c) if range.contains(&c) => {
            Part { seq: (range.start..=c).collect(), cut: Cut::Before(c + 1) }
        }
        _ => Part { seq: range.collect(), cut: Cut::No },
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
    let r = seq.iter().fold(Reach::default(), |r, &pc| r.then(code[pc], mutation));
    let (needs, growth) = (r.needs, r.growth);
    (needs <= MAX_REACH && growth <= MAX_REACH && seq.len() <= MAX_BLOCK_LEN)
        .then_some((needs, growth))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jit::blocks;
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

    // Every program is a loop (`t` ... `jmp t`): only calls in one are inlined.

    #[test]
    fn a_call_to_a_short_function_takes_its_block_and_the_return_point() {
        // 0 t:, 1 push 5, 2 call f, 3 printi, 4 end, 5 f:, 6 dup, 7 add, 8 ret, 9 jmp t
        let src = "t:\npush 5\ncall f\nprinti\nend\nf:\ndup\nadd\nret\njmp t\n";
        assert_eq!(shape(src, None), vec![(vec![0, 1, 2, 5, 6, 7, 8, 3, 4], 6, 0, 2)]);
        // Not in a loop: not inlined.
        assert_eq!(shape("push 5\ncall f\nprinti\nend\nf:\ndup\nadd\nret\n", None), vec![]);
    }

    #[test]
    fn a_trace_ends_at_the_cut() {
        let src = "t:\npush 5\ncall f\nprinti\nend\nf:\ndup\nadd\nret\njmp t\n";
        // Cut after the call: inlined, and the trace ends there.
        assert_eq!(shape(src, Some(2)), vec![(vec![0, 1, 2], NO_RET, 0, 1)]);
        // Cut after `dup`, inside f: the trace ends there, before the ret.
        assert_eq!(shape(src, Some(6)), vec![(vec![0, 1, 2, 5, 6], NO_RET, 0, 2)]);
        // Cut after `printi`: in the return point's block.
        assert_eq!(shape(src, Some(3)), vec![(vec![0, 1, 2, 5, 6, 7, 8, 3], 6, 0, 2)]);
    }

    #[test]
    fn calls_in_the_callee_long_callees_and_stepper_return_points() {
        // f calls g: its first block ends in a call, not a ret.
        assert_eq!(shape("t:\ncall f\nend\nf:\ncall g\nret\ng:\nret\njmp t\n", None).len(), 1);
        let long = format!("t:\ncall f\nend\nf:\n{}ret\njmp t\n", "push 1\ndrop\n".repeat(4));
        assert_eq!(shape(&long, None), vec![]);
        // The return point reads: the trace ends at the callee's ret.
        let src = "t:\ncall f\nreadc\nend\nf:\nret\njmp t\n";
        assert_eq!(shape(src, None), vec![(vec![0, 1, 4, 5], 3, 0, 0)]);
    }

    #[test]
    fn loops_are_the_spans_of_backward_jumps() {
        let ops = blocks::decode(&assemble("push 1\na:\npush 2\njz a\nend\nb:\njmp b\n").unwrap());
        assert_eq!(in_loops(&ops), vec![false, true, true, true, false, true, true]);
    }
}
