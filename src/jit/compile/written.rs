//! The optimising tier's written cells: constant heap addresses that every way to a block
//! has stored to, so that a `store` there needs no look at the cell's written flag.
//!
//! A cell's written flag is set by its first store and never cleared, whoever runs the
//! store (compiled code, a host call or the stepper). So if every path from the start of the
//! program to an instruction passes a store to constant address `c`, the flag of `c` is set
//! when that instruction runs, and a `store` to `c` there is not a first write: it needs no
//! count against the heap limit and no flag test. On mandel every variable is set before the
//! loops that update it, and the inner loop's stores to `zr`, `zi` and `it` lose their test.
//!
//! **The analysis** is a forward must-analysis over the blocks: the set at a block's entry
//! is the intersection of the sets on every edge into it, and the entry block starts with
//! none. Inside a block a store whose address is a constant pushed in the same block adds
//! that address; a mid-block `jz`/`jn` gives its target the set as it is at the branch. The
//! edges are every way control really passes: falling into the next block, `jmp`, both sides
//! of `jz`/`jn`, and a `call` to its target *and* to its return point. A `ret` has no edge:
//! it continues at the return point of the `call` that made its frame, which ran before it,
//! and since flags are never cleared, what was written at that `call` is still written
//! there. That is the return point's edge from its `call`. An instruction the stepper runs
//! (a read, a literal past 64 bits) falls into the next block; one that always traps has no
//! edge.
//!
//! The sets are bit sets over at most [`TRACKED`] addresses (the program's first distinct
//! constant store addresses), so the fixed point costs a word per block and at most
//! `TRACKED` passes over each block (every change removes an address from a set).
//!
//! The `WrittenJoinTakesAny` mutation makes the meet a union: a cell stored on one way in
//! only counts as written after the join, so its later store there skips the count.

use crate::jit::blocks::{Arg, Blocks, Op};
use crate::jit::{Planted, mutated};

/// The most addresses the analysis follows.
pub(super) const TRACKED: usize = 64;

/// Constant store addresses below this are followed (the compiler's constant-address range,
/// `heap.rs`).
const CONST_LIMIT: i64 = 1 << 28;

/// What the analysis found.
#[derive(Clone, Debug, Default)]
pub(super) struct Written {
    /// The addresses followed, in the order their bits are numbered.
    addresses: Vec<i64>,
    /// Per block: the addresses every way to its entry has stored to.
    at_entry: Vec<u64>,
}

impl Written {
    /// The bit of address `c`, if it is followed.
    pub(super) fn bit(&self, c: i64) -> Option<u64> {
        self.addresses.iter().position(|&a| a == c).map(|i| 1u64 << i)
    }

    /// The set at the entry of block `index`.
    pub(super) fn at_entry(&self, index: usize) -> u64 {
        self.at_entry.get(index).copied().unwrap_or(0)
    }
}

/// Finds, for each block, the constant addresses stored to on every way to it.
pub(super) fn analyse(code: &[Op], blocks: &Blocks, mutation: Planted) -> Written {
    let union = mutated!(mutation, WrittenJoinTakesAny);
    let mut addresses: Vec<i64> = Vec::new();
    // The stores (bit) and branches (target block) of every block, in order, found once: one
    // list for all, block `i`'s from `starts[i]` to `starts[i + 1]`.
    let mut events: Vec<Event> = Vec::new();
    let mut starts: Vec<usize> = Vec::with_capacity(blocks.list.len() + 1);
    let mut stack: Vec<Option<i64>> = Vec::new();
    for b in &blocks.list {
        starts.push(events.len());
        stack.clear();
        for &op in &code[b.start..b.end] {
            if let Op::Store = op {
                let _value = stack.pop();
                if let Some(Some(c)) = stack.pop()
                    && (0..CONST_LIMIT).contains(&c)
                {
                    let i = match addresses.iter().position(|&a| a == c) {
                        Some(i) => Some(i),
                        None if addresses.len() < TRACKED => {
                            addresses.push(c);
                            Some(addresses.len() - 1)
                        }
                        None => None,
                    };
                    if let Some(i) = i {
                        events.push(Event::Store(1 << i));
                    }
                }
                continue;
            }
            if let Op::Jz(Some(t)) | Op::Jn(Some(t)) = op
                && let Some(tb) = blocks.starting_at[t]
            {
                events.push(Event::Branch(tb));
            }
            simulate(&mut stack, op);
        }
    }
    starts.push(events.len());
    let n = blocks.list.len();
    let start = if union { 0 } else { u64::MAX };
    let mut at_entry = vec![start; n];
    if n == 0 || addresses.is_empty() {
        // Nothing to follow: every set is empty.
        return Written { addresses, at_entry: vec![0; n] };
    }
    at_entry[0] = 0;
    let mut queued = vec![true; n];
    let mut queue: std::collections::VecDeque<usize> = (0..n).collect();
    let mut out: Vec<(usize, u64)> = Vec::new();
    while let Some(bi) = queue.pop_front() {
        queued[bi] = false;
        let b = blocks.list[bi];
        let mut set = at_entry[bi];
        out.clear();
        for &event in &events[starts[bi]..starts[bi + 1]] {
            match event {
                Event::Store(bit) => set |= bit,
                Event::Branch(tb) => out.push((tb, set)),
            }
        }
        let next = blocks.starting_at.get(b.end).copied().flatten();
        match code[b.end - 1] {
            Op::Jmp(Some(t)) => out.extend(blocks.starting_at[t].map(|tb| (tb, set))),
            Op::Call(Some(t)) => {
                out.extend(blocks.starting_at[t].map(|tb| (tb, set)));
                out.extend(next.map(|nb| (nb, set)));
            }
            Op::Ret | Op::End | Op::Jmp(None) | Op::Call(None) | Op::Copy(Arg::Neg) => {}
            _ => out.extend(next.map(|nb| (nb, set))),
        }
        for &(to, set) in &out {
            // The entry block is also entered with nothing written.
            if to == 0 && !union {
                continue;
            }
            let old = at_entry[to];
            let new = if union { old | set } else { old & set };
            if new != old {
                at_entry[to] = new;
                if !queued[to] {
                    queued[to] = true;
                    queue.push_back(to);
                }
            }
        }
    }
    Written { addresses, at_entry }
}

/// A fact of one instruction that the fixed point needs.
#[derive(Clone, Copy, Debug)]
enum Event {
    /// A store to the address of this bit.
    Store(u64),
    /// A `jz`/`jn` whose target starts this block.
    Branch(usize),
}

/// One instruction's effect on the items of the block's own stack that are known constants
/// (`None`: not known, or from before the block). A `store` is handled by the caller.
fn simulate(stack: &mut Vec<Option<i64>>, op: Op) {
    let pop = |stack: &mut Vec<Option<i64>>| stack.pop().flatten();
    match op {
        Op::Push(v) => stack.push(Some(v)),
        Op::PushBig => stack.push(None),
        Op::Dup => {
            let top = stack.last().copied().flatten();
            stack.push(top);
        }
        Op::Copy(Arg::Small(n)) => {
            let item = usize::try_from(n)
                .ok()
                .and_then(|n| stack.len().checked_sub(n + 1))
                .and_then(|i| stack[i]);
            stack.push(item);
        }
        Op::Copy(_) => stack.push(None),
        Op::Swap => {
            let (a, b) = (pop(stack), pop(stack));
            stack.push(a);
            stack.push(b);
        }
        Op::Slide(Arg::Small(n)) => {
            let top = pop(stack);
            for _ in 0..n.min(stack.len() as u64 + 1) {
                stack.pop();
            }
            stack.push(top);
        }
        // A dynamic slide ends its block; what is under its top is not known after it.
        Op::Slide(_) => {
            let top = pop(stack);
            stack.clear();
            stack.push(top);
        }
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Mod => {
            pop(stack);
            pop(stack);
            stack.push(None);
        }
        Op::Retrieve => {
            pop(stack);
            stack.push(None);
        }
        Op::Drop | Op::Jz(_) | Op::Jn(_) | Op::PrintC | Op::PrintI | Op::ReadC | Op::ReadI => {
            pop(stack);
        }
        Op::Store => {
            pop(stack);
            pop(stack);
        }
        Op::Label | Op::Call(_) | Op::Jmp(_) | Op::Ret | Op::End => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jit::blocks;
    use crate::syntax::assemble;

    /// The addresses written at the entry of the block starting at each label of `src`, in
    /// the order of the labels.
    fn at_labels(src: &str) -> Vec<Vec<i64>> {
        let ops = blocks::decode(&assemble(src).unwrap());
        let b = blocks::analyse(&ops, None);
        let w = analyse(&ops, &b, None);
        (0..ops.len())
            .filter(|&pc| ops[pc] == Op::Label)
            .map(|pc| {
                let set = w.at_entry(b.starting_at[pc].expect("a label starts a block"));
                w.addresses.iter().copied().filter(|&c| w.bit(c).unwrap() & set != 0).collect()
            })
            .collect()
    }

    #[test]
    fn a_join_keeps_what_both_ways_stored() {
        // Cell 1 on both ways, cell 2 on the fall-through only, cell 3 before the branch.
        let src = "push 3\npush 0\nstore\npush 0\njz j\npush 1\npush 0\nstore\npush 2\npush 0\n\
                   store\njmp k\nj:\npush 1\npush 0\nstore\nk:\nend\n";
        assert_eq!(at_labels(src), vec![vec![3], vec![3, 1]]);
    }

    #[test]
    fn a_loop_header_keeps_what_its_entry_stored() {
        // Cell 4 before the loop, cell 5 in its body: only 4 at the header.
        let src = "push 4\npush 0\nstore\na:\npush 5\npush 0\nstore\npush 0\njz a\nend\n";
        assert_eq!(at_labels(src), vec![vec![4]]);
    }

    #[test]
    fn a_return_point_keeps_what_its_call_stored_and_a_function_what_every_caller_did() {
        // f is called with cell 6 written both times, cell 7 only the second time; the return
        // point after the first call (`r`) has cell 6, not f's own cell 8.
        let src = "push 6\npush 0\nstore\ncall f\nr:\npush 7\npush 0\nstore\ncall f\nend\n\
                   f:\npush 8\npush 0\nstore\nret\n";
        assert_eq!(at_labels(src), vec![vec![6], vec![6]]);
    }

    #[test]
    fn constants_are_followed_through_the_stack_and_not_through_arithmetic() {
        // `push 2; push 9; swap` leaves 9 under 2: the store is to 9. `push 1; push 1; add` is
        // not followed. copy 1 of [5, x] is 5.
        let src = "push 2\npush 9\nswap\nstore\npush 1\npush 1\nadd\npush 0\nstore\npush 5\n\
                   push 0\ncopy 1\npush 0\nstore\nstore\njmp a\na:\nend\n";
        assert_eq!(at_labels(src), vec![vec![9, 5]]);
    }

    #[test]
    fn under_the_mutation_a_join_takes_either_way() {
        let src = "push 0\njz j\npush 1\npush 0\nstore\nj:\nend\n";
        assert_eq!(at_labels(src), vec![Vec::<i64>::new()]);
        let ops = blocks::decode(&assemble(src).unwrap());
        let b = blocks::analyse(&ops, None);
        let w = analyse(&ops, &b, Some(crate::jit::Mutation::WrittenJoinTakesAny));
        assert_eq!(w.at_entry(b.starting_at[5].unwrap()), w.bit(1).unwrap());
    }
}
