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
//! The walks are bounded: past [`BUDGET_PER_INSTRUCTION`] steps per instruction of the
//! program, no function gets a summary (compile time stays linear).

use std::collections::HashMap;

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
    let mut budget = code.len().saturating_mul(BUDGET_PER_INSTRUCTION).saturating_add(1024);
    let mut known: HashMap<usize, i64> = HashMap::new();
    let mut bad: Vec<usize> = Vec::new();
    for _ in 0..ROUNDS {
        let mut changed = false;
        for &f in &entries {
            if bad.contains(&f) {
                continue;
            }
            let Some(walk) = walk(code, f, &known, false, mutation, &mut budget) else {
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
                    bad.push(f);
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
            let Some(walk) = walk(code, f, &known, true, mutation, &mut budget) else {
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

/// Walks from the label at `f` (see the module docs). `strict`: a call to a function with no
/// summary makes the walk `Unknown` (otherwise that path just ends). `None` when the budget
/// runs out.
fn walk(
    code: &[Op],
    f: usize,
    known: &HashMap<usize, i64>,
    strict: bool,
    mutation: Planted,
    budget: &mut usize,
) -> Option<Walk> {
    let mut seen: HashMap<usize, i64> = HashMap::new();
    let mut work = vec![(f, 0i64)];
    let mut effect = None;
    while let Some((pc, depth)) = work.pop() {
        *budget = budget.checked_sub(1)?;
        match seen.get(&pc) {
            Some(&d) if d == depth => continue,
            Some(_) => return Some(Walk::Unknown),
            None => {
                seen.insert(pc, depth);
            }
        }
        let Some(&op) = code.get(pc) else { continue };
        if blocks::dynamic_slide(op) {
            return Some(Walk::Unknown);
        }
        let after = depth + blocks::stack_effect(op, mutation).1 as i64;
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
            _ => work.push((pc + 1, after)),
        }
    }
    Some(effect.map_or(Walk::NoReturn, Walk::Returns))
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
