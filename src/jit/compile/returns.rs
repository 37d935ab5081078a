//! The optimising tier's call summaries: the net stack effect of a function, when every way
//! from its entry to a `ret` changes the stack depth by the same amount.
//!
//! A native `call` returns natively only when nothing left compiled code in between (every
//! exit drops the native frames, and the return then goes through the return table into
//! the return point's own entry, with every check). So at a native return to the point `R`
//! after `call f`, the depth is the depth at the call plus `f`'s effect `e`, and `R` can be
//! entered like a jump with a known depth change (`entry.rs`: its floor and capacity checks
//! skipped where the caller's checks imply them; its fuel still charged).
//!
//! **The effect of `f`** is found by walking the instructions from `f`'s label with a
//! relative depth (0 at the label): jumps and branches (which pop their condition) go both
//! ways, `end`, a missing label and the end of the program end a path, and a `ret` ends one
//! with the effect. A `call g` continues at its return point with `g`'s effect. Every
//! instruction reached is reached at one depth, and every `ret` at the same depth, or `f`
//! has no summary. So do a dynamic `slide` (its effect is known only at run time) and a call
//! to a function without one.
//!
//! Recursion (`fib` calls itself) is solved optimistically: a first round lets a path end at
//! a call whose callee is not summarised yet, which finds the effect of the base case; later
//! rounds use the effects found; and a final check walks every function again with every
//! call resolved, dropping any summary a path contradicts (and then those that relied on it).
//! What survives is sound by induction on the depth of the calls: a return from `f` at call
//! depth 1 takes a path with no returning call, which the walk saw; at depth k + 1, every
//! call on its path returned at depth k with its summary's effect.
//!
//! The walks go a straight run of instructions at a time (prefix sums give its depth
//! change) and are bounded: past [`BUDGET_PER_INSTRUCTION`] steps per instruction of the
//! program, no function gets a summary (compile time stays linear).

use std::collections::{HashMap, HashSet};

use crate::jit::Planted;
use crate::jit::blocks::{self, Op};

/// Steps of all walks together, per instruction of the program, before giving up.
const BUDGET_PER_INSTRUCTION: usize = 8;

/// At most this many optimistic rounds.
const ROUNDS: usize = 8;

/// What a walk from a function's entry found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Walk {
    /// Every `ret` reached is at this depth.
    Returns(i64),
    /// No `ret` is reached (every path ends otherwise).
    NoReturn,
    /// Two depths for one instruction or one function, or an effect not known.
    Unknown,
}

/// The effect of every function with a summary, by the index of its label.
pub(super) fn summaries(code: &[Op], mutation: Planted) -> HashMap<usize, i64> {
    let mut entries: Vec<usize> = code
        .iter()
        .filter_map(|&op| match op {
            Op::Call(Some(t)) => Some(t),
            _ => None,
        })
        .collect();
    entries.sort_unstable();
    entries.dedup();
    if entries.is_empty() {
        return HashMap::new();
    }
    let mut walker = Walker::new(code, mutation);
    let mut known: HashMap<usize, i64> = HashMap::new();
    let mut bad: HashSet<usize> = HashSet::new();
    for _ in 0..ROUNDS {
        let mut changed = false;
        for &f in &entries {
            if bad.contains(&f) {
                continue;
            }
            let Some(walk) = walker.walk(f, &known, false) else {
                return HashMap::new();
            };
            match walk {
                Walk::Returns(e) => {
                    if known.insert(f, e) != Some(e) {
                        changed = true;
                    }
                }
                Walk::NoReturn => {}
                Walk::Unknown => {
                    known.remove(&f);
                    bad.insert(f);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    // The check: every call resolved, every path agreeing.
    loop {
        let mut dropped = false;
        let mut fs: Vec<usize> = known.keys().copied().collect();
        fs.sort_unstable();
        for f in fs {
            let Some(walk) = walker.walk(f, &known, true) else {
                return HashMap::new();
            };
            if walk != Walk::Returns(known[&f]) {
                known.remove(&f);
                dropped = true;
            }
        }
        if !dropped {
            return known;
        }
    }
}

/// What the walks share: where each straight run of instructions ends and the depth change
/// up to every instruction, and the depths seen, stamped per walk.
struct Walker<'a> {
    code: &'a [Op],
    /// For each instruction, the first at or after it that is not straight-line (a jump,
    /// branch, call, `ret`, `end` or dynamic `slide`), or `code.len()`.
    run_end: Vec<usize>,
    /// The depth change of the instructions before each one (prefix sums, `code.len() + 1`).
    before: Vec<i64>,
    /// The depth each control instruction was reached at, and the walk that reached it.
    seen: Vec<(u32, i64)>,
    walk: u32,
    budget: usize,
}

impl<'a> Walker<'a> {
    fn new(code: &'a [Op], mutation: Planted) -> Walker<'a> {
        let straight = |op: Op| !(blocks::ends_block(op) || matches!(op, Op::Jz(_) | Op::Jn(_)));
        let mut run_end = vec![code.len(); code.len()];
        for pc in (0..code.len()).rev() {
            if !straight(code[pc]) {
                run_end[pc] = pc;
            } else if pc + 1 < code.len() {
                run_end[pc] = run_end[pc + 1];
            }
        }
        let mut before = Vec::with_capacity(code.len() + 1);
        let mut depth = 0i64;
        before.push(0);
        for &op in code {
            depth += blocks::stack_effect(op, mutation).1 as i64;
            before.push(depth);
        }
        let budget = code.len().saturating_mul(BUDGET_PER_INSTRUCTION).saturating_add(1024);
        Walker { code, run_end, before, seen: vec![(0, 0); code.len()], walk: 0, budget }
    }

    /// Walks from the label at `f` (see the module docs), a straight run at a time (only
    /// control instructions are marked with their depth: every loop and every way to a
    /// `ret` goes through one). `strict`: a call to a function with no summary makes the
    /// walk `Unknown` (otherwise that path just ends). `None` when the budget runs out.
    fn walk(&mut self, f: usize, known: &HashMap<usize, i64>, strict: bool) -> Option<Walk> {
        self.walk += 1;
        let mut work = vec![(f, 0i64)];
        let mut effect = None;
        while let Some((from, at)) = work.pop() {
            self.budget = self.budget.checked_sub(1)?;
            let Some(&pc) = self.run_end.get(from) else { continue };
            if pc >= self.code.len() {
                continue;
            }
            let depth = at + self.before[pc] - self.before[from];
            match self.seen[pc] {
                (w, d) if w == self.walk && d == depth => continue,
                (w, _) if w == self.walk => return Some(Walk::Unknown),
                _ => self.seen[pc] = (self.walk, depth),
            }
            let op = self.code[pc];
            let after = depth + self.before[pc + 1] - self.before[pc];
            match op {
                Op::Ret => {
                    if effect.is_some_and(|e| e != depth) {
                        return Some(Walk::Unknown);
                    }
                    effect = Some(depth);
                }
                Op::End | Op::Jmp(None) | Op::Call(None) => {}
                Op::Jmp(Some(t)) => work.push((t, depth)),
                Op::Jz(t) | Op::Jn(t) => {
                    if let Some(t) = t {
                        work.push((t, after));
                    }
                    work.push((pc + 1, after));
                }
                Op::Call(Some(g)) => match known.get(&g) {
                    Some(&e) => work.push((pc + 1, depth + e)),
                    None if strict => return Some(Walk::Unknown),
                    None => {}
                },
                // A dynamic `slide`: its effect is known only at run time.
                _ => return Some(Walk::Unknown),
            }
        }
        Some(effect.map_or(Walk::NoReturn, Walk::Returns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::assemble;

    fn effects(src: &str) -> Vec<(usize, i64)> {
        let program = assemble(src).expect("a valid listing");
        let code = blocks::decode(&program);
        let mut out: Vec<(usize, i64)> = summaries(&code, Default::default()).into_iter().collect();
        out.sort_unstable();
        out
    }

    #[test]
    fn leaf_recursive_and_inconsistent_functions() {
        // f: a -> a + 1 (effect 0); g pushes two (effect 2).
        assert_eq!(
            effects("call f\ncall g\nend\nf:\npush 1\nadd\nret\ng:\npush 1\npush 2\nret\n"),
            vec![(3, 0), (7, 2)]
        );
        // Recursive fib: n -> fib(n), effect 0, found through its base case.
        let fib = "push 9\ncall fib\nend\nfib:\ndup\npush 2\nsub\njn base\ndup\npush 1\nsub\n\
                   call fib\nswap\npush 2\nsub\ncall fib\nadd\nret\nbase:\nret\n";
        assert_eq!(effects(fib), vec![(3, 0)]);
        // Two returns at different depths: no summary.
        assert_eq!(effects("call f\nend\nf:\ndup\njz a\nret\na:\npush 1\nret\n"), vec![]);
        // A loop that pushes for ever reaches its label at two depths: no summary.
        assert_eq!(effects("call f\nend\nf:\nl:\npush 1\ndup\njz e\njmp l\ne:\nret\n"), vec![]);
        // A call to a function without a summary spoils the caller's.
        assert_eq!(
            effects("call f\nend\nf:\ncall g\nret\ng:\ndup\njz a\nret\na:\npush 1\nret\n"),
            vec![]
        );
        // A function that never returns has none either, nor its callers.
        assert_eq!(effects("call f\nend\nf:\ncall g\nret\ng:\nend\n"), vec![]);
    }
}
