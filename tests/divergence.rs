//! The first divergence is exact: for every deliberate bug the JIT can compile in
//! (`twinspace::jit::Mutation::ALL`, but the few `not_planted` gives a reason for), a
//! hand-planted case whose wrong instruction sits inside a long block of native code, and
//! whose report must name that instruction, its ordinal among the executed ones, and both
//! engines' states right after it.
//!
//! The expected instruction, ordinal and states are written here from the case and
//! SEMANTICS.md (and, for the JIT's side, from what the mutation is documented to do), never
//! taken from an engine's output. Each case also checks that the fuel bisection alone would
//! have stopped later (at the end of the block), so the search inside the block is what
//! found it. Listed as ignored off x86-64; needs the `mutations` feature, which every test
//! build has.

#![cfg(feature = "mutations")]

mod support;

use twinspace::Limits;
use twinspace::differential::diverge::{Exact, Located, exact_divergence, first_divergence};
use twinspace::differential::report::Report;
use twinspace::differential::{Parts, investigate};
use twinspace::engine::{Engine, Jit, RunCase};
use twinspace::jit::Mutation;
use twinspace::syntax::assemble;

/// A planted case: one instruction a line, the wrong one marked.
struct Planted {
    mutation: Mutation,
    lines: Vec<String>,
    /// The line (= instruction index) of the instruction the mutation makes wrong.
    culprit: usize,
    /// Its ordinal among the executed instructions (1 for the first executed), by hand.
    ordinal: u64,
    /// Lines the report must hold about both states right after it.
    shows: Vec<String>,
}

fn lines(text: &[&str]) -> Vec<String> {
    text.iter().map(|s| (*s).to_owned()).collect()
}

/// `n` instructions that leave the stack as it was and stay in one block: `push 1 | drop`.
fn filler(n: usize) -> Vec<String> {
    (0..n).map(|i| if i % 2 == 0 { "push 1" } else { "drop" }.to_owned()).collect()
}

/// `n` pairs `push 1 | add`: the top grows by `n`, in one block.
fn increments(n: usize) -> Vec<String> {
    (0..n).flat_map(|_| ["push 1".to_owned(), "add".to_owned()]).collect()
}

/// A straight-line case whose culprit is `op` on the values of cells 0 and 1 (`a`, `b`),
/// stored before a filler and retrieved (so known only at run time), then 40 increments.
fn on_two_cells(mutation: Mutation, (a, b): (i64, i64), op: &str, shows: &[&str]) -> Planted {
    let (push_a, push_b) = (format!("push {a}"), format!("push {b}"));
    straight(
        mutation,
        [lines(&["push 0", &push_a, "store", "push 1", &push_b, "store"]), filler(30)].concat(),
        &["push 0", "retrieve", "push 1", "retrieve", op],
        [increments(40), lines(&["printi", "end"])].concat(),
        shows,
    )
}

/// A straight-line case: `before`, then `planted` whose last instruction is the culprit, then
/// `after`; every instruction runs once, so the ordinal is the index plus one.
fn straight(
    mutation: Mutation,
    before: Vec<String>,
    planted: &[&str],
    after: Vec<String>,
    shows: &[&str],
) -> Planted {
    let culprit = before.len() + planted.len() - 1;
    let mut all = before;
    all.extend(lines(planted));
    all.extend(after);
    Planted {
        mutation,
        lines: all,
        culprit,
        ordinal: culprit as u64 + 1,
        shows: lines(shows).into_iter().map(|s| s.replace("JIT", &jit(mutation))).collect(),
    }
}

fn jit(m: Mutation) -> String {
    format!("jit:mutate={m}")
}

fn cases() -> Vec<Planted> {
    let mut out = Vec::new();
    for mutation in Mutation::ALL {
        match mutation {
            // -7 div 2 floors to -4; truncated, -3. The dividend comes from the heap, so the
            // division runs on a register, not a folded constant.
            Mutation::TruncatedDivision => out.push(straight(
                mutation,
                [lines(&["push 0", "push -7", "store"]), filler(30)].concat(),
                &["push 0", "retrieve", "push 2", "div"],
                [increments(40), lines(&["printi", "end"])].concat(),
                &["after it, interp: stack [-4]", "after it, JIT: stack [-3]"],
            )),
            // slide 1 on [10, 20, 30] leaves [10, 30]; one item fewer removed: [10, 20, 30].
            Mutation::SlideOffByOne => out.push(straight(
                mutation,
                filler(40),
                &["push 10", "push 20", "push 30", "slide 1"],
                [filler(60), lines(&["end"])].concat(),
                &["after it, interp: stack [10, 30]", "after it, JIT: stack [10, 20, 30]"],
            )),
            // Cell 0 holds 11; a store at 65536 = 2^16 must leave it alone, but with only the
            // low 16 bits of the address used it overwrites it.
            Mutation::HeapIgnoresHighBits => out.push(straight(
                mutation,
                [lines(&["push 0", "push 11", "store"]), filler(20)].concat(),
                &["push 65536", "push 22", "store"],
                [filler(50), lines(&["push 0", "retrieve", "printi", "end"])].concat(),
                &[
                    "heap cells that differ (2):",
                    "0: interp 11, JIT 22",
                    "65536: interp 22, JIT never written",
                ],
            )),
            // 2^62 + 2^62 = 2^63 leaves the i64 range; wrapping gives -2^63. The operands come
            // from the heap (registers), not folded constants.
            Mutation::SkipOverflowCheck => out.push(straight(
                mutation,
                [lines(&["push 1", "push 4611686018427387904", "store"]), filler(24)].concat(),
                &["push 1", "retrieve", "dup", "add"],
                [filler(40), lines(&["printi", "end"])].concat(),
                &[
                    "after it, interp: stack [9223372036854775808]",
                    "after it, JIT: stack [-9223372036854775808]",
                ],
            )),
            // jn on 0 must fall through to the next instruction; taking it jumps to `skip`.
            // Both stacks are empty after it: only where each goes next differs.
            Mutation::JnTakesZero => {
                let before = [lines(&["push 0", "push 0", "store"]), filler(20)].concat();
                let culprit = before.len() + 2;
                let after_jn = before.len() + 3;
                let mut p = straight(
                    mutation,
                    before,
                    &["push 0", "retrieve", "jn skip"],
                    [
                        increments(0),
                        lines(&["push 7"]),
                        increments(30),
                        lines(&["printi", "skip:", "push 99", "printi", "end"]),
                    ]
                    .concat(),
                    &[],
                );
                let skip = p.lines.iter().position(|l| l == "skip:").expect("a label");
                p.shows = vec![
                    "right after it they differ on the instruction that runs next".to_owned(),
                    format!(
                        "after it, interp: stack []; heap 1 cell; output 0 bytes; next: instruction {after_jn} (`push 7`)"
                    ),
                    format!(
                        "after it, {}: stack []; heap 1 cell; output 0 bytes; next: instruction {skip} (`label",
                        jit(mutation)
                    ),
                ];
                assert_eq!(p.culprit, culprit);
                out.push(p);
            }
            // copy 1 on [10, 20, 30] pushes 20; one deeper, 10.
            Mutation::CopyOffByOne => out.push(straight(
                mutation,
                filler(36),
                &["push 10", "push 20", "push 30", "copy 1"],
                [increments(50), lines(&["end"])].concat(),
                &[
                    "after it, interp: stack [10, 20, 30, 20]",
                    "after it, JIT: stack [10, 20, 30, 10]",
                ],
            )),
            // -7 div 2 floors to -4. Both operands come from the heap, so the division is the
            // run-time one; looking at the divisor alone, the single-precision form takes -7
            // too, and its quotient -3.5 truncates to -3, written as 32 bits: 2^32 - 3.
            Mutation::NarrowDivisionIgnoresDividend => out.push(on_two_cells(
                mutation,
                (-7, 2),
                "div",
                &["after it, interp: stack [-4]", "after it, JIT: stack [4294967293]"],
            )),
            // -7 div 3 floors to -3; without the sign correction the multiplication divides
            // the bits of -7 unsigned: (2^64 - 7) / 3 = 6148914691236517203. The divisor is a
            // constant, the dividend from the heap.
            Mutation::MagicDivisionIgnoresSign => out.push(straight(
                mutation,
                [lines(&["push 0", "push -7", "store"]), filler(30)].concat(),
                &["push 0", "retrieve", "push 3", "div"],
                [increments(40), lines(&["printi", "end"])].concat(),
                &["after it, interp: stack [-3]", "after it, JIT: stack [6148914691236517203]"],
            )),
            // 2^62 + 2^62 is 2^63, a big value. Both operands come from the heap into
            // registers nothing else holds, so the add is in place; not undone, the stepper
            // finds the wrapped -2^63 where the first operand was: -2^63 + 2^62 = -2^62.
            Mutation::InPlaceKeepsResult => out.push(on_two_cells(
                mutation,
                (4611686018427387904, 4611686018427387904),
                "add",
                &[
                    "after it, interp: stack [9223372036854775808]",
                    "after it, JIT: stack [-4611686018427387904]",
                ],
            )),
            // 7 div 2 floors to 3; the short form's floating-point quotient 3.5, rounded
            // instead of truncated, is 4 (to even). Both operands come from the heap.
            Mutation::FloatDivisionRounds => out.push(on_two_cells(
                mutation,
                (7, 2),
                "div",
                &["after it, interp: stack [3]", "after it, JIT: stack [4]"],
            )),
            // Cell 5000 is written through the host (it is above the low cells, whose stores
            // the mutation changes too); cell 1's first write skips its flag: uncounted, it is
            // missing from the JIT's heap.
            Mutation::ConstantStoreSkipsFlag => out.push(straight(
                mutation,
                [lines(&["push 0", "push 5000", "push 7", "store"]), filler(30)].concat(),
                &["push 1", "push 8", "store"],
                [increments(40), lines(&["end"])].concat(),
                &[
                    "after it, interp: stack [0]; heap 2 cells",
                    "after it, JIT: stack [0]; heap 1 cell",
                ],
            )),
            // 2^25 - 1 taken by the single-precision form converts to the float 2^25.
            Mutation::SingleDivisionTooWide => out.push(on_two_cells(
                mutation,
                (33554431, 1),
                "div",
                &["after it, interp: stack [33554431]", "after it, JIT: stack [33554432]"],
            )),
            // Cell 3 holds 2^64, which the stepper stored; code that still reads the low cells
            // unchecked loads the big value's slab index, 0, in place of it.
            Mutation::LowBigKeepsCode => out.push(straight(
                mutation,
                [
                    lines(&["push 3", "push 18446744073709551616", "store"]),
                    filler(30),
                    // The stepper, which stored the big value, runs on to the next block start.
                    lines(&["jmp a", "a:"]),
                ]
                .concat(),
                &["push 3", "retrieve"],
                [filler(40), lines(&["end"])].concat(),
                &["after it, interp: stack [18446744073709551616]", "after it, JIT: stack [0]"],
            )),
            // Cell 1 is stored on the way that the taken `jz` skips; joining with a union,
            // the store after the join takes it as written already, so its first write goes
            // uncounted and the JIT's heap lacks it. Three instructions are skipped.
            Mutation::WrittenJoinTakesAny => {
                let mut p = straight(
                    mutation,
                    [
                        lines(&["push 0", "push 0", "jz j", "push 1", "push 9", "store", "j:"]),
                        filler(30),
                    ]
                    .concat(),
                    &["push 1", "push 8", "store"],
                    [increments(40), lines(&["end"])].concat(),
                    &[
                        "after it, interp: stack [0]; heap 1 cell",
                        "after it, JIT: stack [0]; heap 0 cells",
                    ],
                );
                p.ordinal -= 3;
                out.push(p);
            }
            // Not planted here: see `not_planted`.
            Mutation::FlushAfterRead
            | Mutation::CheckedEntrySkipsFuel
            | Mutation::BigDivisionTruncates
            | Mutation::ParallelMoveSwaps
            | Mutation::MemoryEntrySkipsLoad
            | Mutation::ExitForgetsPassed
            | Mutation::FusedCompareReversed
            | Mutation::DivisibleTestsQuotient
            | Mutation::FusedCompareUnsigned
            | Mutation::ForwardingIgnoresAddress
            | Mutation::RefundFoldKeepsCharge
            | Mutation::FloorFirstKeepsRegisters
            | Mutation::RetNativeKeepsEntry
            | Mutation::InlinedRetKeepsEntry
            | Mutation::InlinedBranchSkipsClone
            | Mutation::NativeReturnSkipsFuel
            | Mutation::InPlaceIgnoresSharing
            | Mutation::CallFallsPastStepper
            | Mutation::BigSubReversed
            | Mutation::GrowthStrandsSparse
            | Mutation::WrappingCopyCheck
            | Mutation::UnguardedDivide
            | Mutation::BareIdiv => {}
        }
    }
    out
}

/// Why a mutation has no planted case here, or `None` if it has one.
fn not_planted(m: Mutation) -> Option<&'static str> {
    match m {
        Mutation::FlushAfterRead => Some(
            "compiled code leaves every read to the stepper, so there is no block to search \
             inside; tests/mutations.rs requires its divergence to be exact, at the read",
        ),
        Mutation::CheckedEntrySkipsFuel => Some(
            "it changes the jump from one block into the next, not an instruction inside a \
             block; tests/mutations.rs requires its divergence to be exact",
        ),
        Mutation::BigDivisionTruncates | Mutation::BigSubReversed => Some(
            "it is in the stepper's big-integer path, which compiled code never runs, so there \
             is no block to search inside; tests/mutations.rs requires its divergence to be exact",
        ),
        Mutation::ParallelMoveSwaps
        | Mutation::MemoryEntrySkipsLoad
        | Mutation::FloorFirstKeepsRegisters => Some(
            "it changes the edge from one block into the next (the items a block takes in \
             registers), not an instruction inside a block; tests/mutations.rs requires its \
             divergence to be exact",
        ),
        Mutation::FusedCompareReversed
        | Mutation::FusedCompareUnsigned
        | Mutation::DivisibleTestsQuotient => Some(
            "the sub (or mod) and the branch it is fused with are one step of native code: the \
             cut between them separates them, so a search inside the block finds the pair \
             unfused; tests/mutations.rs requires its divergence to be exact",
        ),
        Mutation::GrowthStrandsSparse => Some(
            "it is in the heap that the stepper shares with compiled code's host calls: a run \
             cut short by fuel (the stepper runs the block then) already goes wrong at the \
             instruction, so the fuel bisection alone finds it and there is no search inside \
             a block to test; tests/mutations.rs requires its divergence to be exact",
        ),
        Mutation::InPlaceIgnoresSharing => Some(
            "its symptom is in a copy of the operand that the block keeps in the same register, \
             which shows only where that copy is next used, in or after the block; \
             tests/mutations.rs requires its divergence to be exact",
        ),
        Mutation::NativeReturnSkipsFuel => Some(
            "it changes the fuel charged on the edge back from a callee, not an instruction \
             inside a block; tests/mutations.rs requires its divergence to be exact",
        ),
        Mutation::InlinedBranchSkipsClone => Some(
            "it changes where a branch inside an inlined callee goes (an edge out of the \
             trace), and shows at the `ret` of the block it goes to, in another block; \
             tests/mutations.rs requires its divergence to be exact",
        ),
        Mutation::RetNativeKeepsEntry | Mutation::InlinedRetKeepsEntry => Some(
            "it leaves a stale call-stack entry at a native `ret`, which shows only at a later \
             `ret` or `call` (the edge back from a callee); tests/mutations.rs requires its \
             divergence to be exact",
        ),
        Mutation::CallFallsPastStepper => Some(
            "it changes where a native `ret` lands (the edge back from the callee), not an \
             instruction inside a block; tests/mutations.rs requires its divergence to be \
             exact, at the ret",
        ),
        Mutation::RefundFoldKeepsCharge => Some(
            "it changes the fuel charged on the edge from one block into the next, not an \
             instruction inside a block; tests/mutations.rs requires its divergence to be exact",
        ),
        Mutation::ForwardingIgnoresAddress => Some(
            "its symptom needs two constant cells, one stored in the block from a register and \
             the other retrieved after it; tests/mutations.rs requires its divergence to be \
             exact, at the retrieve",
        ),
        Mutation::ExitForgetsPassed => Some(
            "it changes what an exit leaves behind, at whichever instruction exits; \
             tests/mutations.rs requires its divergence to be exact",
        ),
        _ if m.crashes() => Some(
            "it kills the process, so its case is planted in `crash_cases` and located by \
             `twinspace diff`, each run in a process of its own",
        ),
        _ => None,
    }
}

/// The divergence of `planted`, checked: exact, at the culprit, the bisection alone later.
fn located(p: &Planted) -> Result<Exact, String> {
    let program = assemble(&p.lines.join("\n")).map_err(|e| e.to_string())?;
    let case = RunCase::new(program, Vec::new(), Limits::DEFAULT);
    let subject = Jit::mutated(Some(p.mutation));
    let coarse = first_divergence(&case, &subject, Parts::all()).ok_or("the runs agree")?;
    if coarse.executed < p.ordinal {
        return Err(format!(
            "the fuel bisection alone stops at the {} executed, not after the culprit's {}: \
             the case does not test the search inside a block",
            coarse.executed + 1,
            p.ordinal
        ));
    }
    let d = exact_divergence(&case, &subject, Parts::all()).ok_or("the runs agree")?;
    let exact = match d.located {
        Located::Exact(e) => *e,
        other => return Err(format!("not located exactly: {other:?}")),
    };
    if (exact.index, exact.executed + 1) != (p.culprit, p.ordinal) {
        return Err(format!(
            "located instruction {} (the {} executed), expected {} (the {} executed)",
            exact.index,
            exact.executed + 1,
            p.culprit,
            p.ordinal
        ));
    }
    // The report names it and shows both states.
    let finding = investigate(&case, &subject, Parts::all(), None).ok_or("the runs agree")?;
    let report = Report {
        finding: &finding,
        reference_name: "interp".into(),
        subject_name: subject.name(),
        origin: None,
        rerun: Vec::new(),
        kept: None,
    };
    let text = report.render();
    let instruction = p.lines[p.culprit].split_whitespace().next().unwrap_or_default();
    let headline = format!("first divergence: instruction {} (`{instruction}", p.culprit);
    for needle in std::iter::once(&headline).chain(&p.shows) {
        if !text.contains(needle.as_str()) {
            return Err(format!("the report lacks {needle:?}:\n{text}"));
        }
    }
    if !text.contains("before it, both: ") {
        return Err(format!("the report lacks the agreed state before it:\n{text}"));
    }
    Ok(exact)
}

#[test]
#[cfg_attr(not(target_arch = "x86_64"), ignore = "the JIT runs on x86-64 only")]
fn every_mutation_is_located_at_its_instruction_inside_a_long_block() {
    if !support::jit_or_skip("every_mutation_is_located_at_its_instruction_inside_a_long_block") {
        return;
    }
    let cases = cases();
    let planted: Vec<Mutation> = cases.iter().map(|c| c.mutation).collect();
    let expected: Vec<Mutation> =
        Mutation::ALL.into_iter().filter(|m| not_planted(*m).is_none()).collect();
    assert_eq!(planted, expected, "one planted case per mutation that has no reason not to");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|p| located(p).err().map(|why| format!("{}: {why}", p.mutation)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// In a loop, the wrong instruction is the right one on the first passes: the divergence
/// names the pass where it first goes wrong, by its ordinal.
#[test]
#[cfg_attr(not(target_arch = "x86_64"), ignore = "the JIT runs on x86-64 only")]
fn a_loop_is_located_on_the_pass_that_goes_wrong() {
    if !support::jit_or_skip("a_loop_is_located_on_the_pass_that_goes_wrong") {
        return;
    }
    // The counter c runs 2, 1, 0, -1; each pass prints c div 2: 1, 0, 0, then -1 (floored)
    // where truncation gives 0.
    let text = [
        "push 2",   // 0
        "loop:",    // 1
        "dup",      // 2
        "push 2",   // 3
        "div",      // 4  <- wrong on the 4th pass
        "printi",   // 5
        "push 1",   // 6
        "sub",      // 7
        "dup",      // 8
        "push 1",   // 9
        "add",      // 10
        "jn out",   // 11
        "jmp loop", // 12
        "out:",     // 13
        "end",      // 14
    ];
    // Steps 1-2 run instructions 0-1; a pass that loops runs 2..=12 and the label 1 (12
    // steps), so pass p starts at step 3 + 12 (p - 1) and its `div` is step 5 + 12 (p - 1).
    let ordinal = 5 + 12 * 3;
    let p = Planted {
        mutation: Mutation::TruncatedDivision,
        lines: lines(&text),
        culprit: 4,
        ordinal,
        shows: vec![
            "after it, interp: stack [-1, -1]".into(),
            "after it, jit:mutate=truncated-division: stack [-1, 0]".into(),
            "output: the same 3 bytes".into(),
        ],
    };
    if let Err(why) = located(&p) {
        panic!("{why}");
    }
}

/// An engine that cannot be cut (no blocks of its own) keeps the bisection's answer, and the
/// report says the divergence was not narrowed and why.
#[test]
fn an_engine_without_blocks_is_reported_at_the_bisection_step() {
    use twinspace::engine::{Interp, Run};
    /// The reference, but the last byte of its output one more.
    struct Off;
    impl Engine for Off {
        fn name(&self) -> String {
            "off-by-one".into()
        }
        fn run(&self, case: &RunCase) -> Run {
            let mut run = Interp.run(case);
            if let Some(last) = run.result.as_mut().ok().and_then(|o| o.output.last_mut()) {
                *last += 1;
            }
            run
        }
    }
    let program = assemble("push 5\nprinti\nend\n").unwrap();
    let case = RunCase::new(program, Vec::new(), Limits::DEFAULT);
    // With fuel 1 (`push 5`) nothing is printed yet; with fuel 2 `printi` prints "5" and "6".
    let d = exact_divergence(&case, &Off, Parts::all()).expect("they differ");
    assert_eq!((d.executed, d.index), (1, Some(1)));
    let Located::Coarse(why) = &d.located else { panic!("{:?}", d.located) };
    assert!(why.contains("cannot be stopped inside a block"), "{why}");
    let finding = investigate(&case, &Off, Parts::all(), None).expect("they differ");
    let report = Report {
        finding: &finding,
        reference_name: "interp".into(),
        subject_name: "off-by-one".into(),
        origin: None,
        rerun: Vec::new(),
        kept: None,
    };
    let text = report.render();
    assert!(text.contains("not narrowed inside the block: off-by-one cannot be stopped"), "{text}");
}

/// Cutting the blocks of a correct JIT anywhere changes no outcome, with any fuel: the cut is
/// a debugging aid, not another semantics.
#[test]
#[cfg_attr(not(target_arch = "x86_64"), ignore = "the JIT runs on x86-64 only")]
fn a_cut_changes_no_outcome_of_a_correct_jit() {
    if !support::jit_or_skip("a_cut_changes_no_outcome_of_a_correct_jit") {
        return;
    }
    use twinspace::engine::Interp;
    let text = "push 0\npush 5\nstore\nloop:\npush 0\nretrieve\ndup\nprinti\npush 10\nprintc\n\
                push 1\nsub\ndup\npush 0\nswap\nstore\ndup\njz out\npush 3\ncopy 1\nmul\n\
                push -2\ndiv\ndrop\njn out\njmp loop\nout:\npush 7\nprinti\nend\n";
    let program = assemble(text).unwrap();
    let jit = Jit::default();
    for fuel in [0, 1, 5, 17, 18, 19, 40, 1000] {
        let case = RunCase::new(program.clone(), Vec::new(), Limits::DEFAULT.with_fuel(fuel));
        let reference = Interp.run(&case);
        for cut in 0..program.len() {
            let cut_jit = jit.cut_after(cut).expect("the JIT can be cut");
            assert_eq!(cut_jit.run(&case), reference, "fuel {fuel}, cut after {cut}");
        }
    }
}

/// A wrong instruction 100 instructions into a block of 6,000 is found in a few dozen runs.
#[test]
#[cfg_attr(not(target_arch = "x86_64"), ignore = "the JIT runs on x86-64 only")]
fn a_wrong_instruction_early_in_a_very_long_block_is_found_in_few_runs() {
    if !support::jit_or_skip("a_wrong_instruction_early_in_a_very_long_block_is_found_in_few_runs")
    {
        return;
    }
    let p = straight(
        Mutation::CopyOffByOne,
        filler(96),
        &["push 10", "push 20", "push 30", "copy 1"],
        [filler(6000), lines(&["end"])].concat(),
        &["after it, interp: stack [10, 20, 30, 20]", "after it, JIT: stack [10, 20, 30, 10]"],
    );
    let exact = match located(&p) {
        Ok(e) => e,
        Err(why) => panic!("{why}"),
    };
    eprintln!("found in {} runs", exact.runs);
    assert!(exact.runs <= 40, "{} runs", exact.runs);
}

/// The planted case of each mutation that crashes the process ([`Mutation::crashes`]): the
/// reference traps at the culprit (SEMANTICS.md: a trapping instruction changes nothing, so
/// its state after it is the one before), where the JIT's native code crashes instead.
fn crash_cases() -> Vec<Planted> {
    let mut out = Vec::new();
    for mutation in Mutation::ALL.into_iter().filter(|m| m.crashes()) {
        // A zero divisor known only at run time (from the heap): division-by-zero, where
        // an unguarded `idiv` raises SIGFPE.
        let divide = |m| {
            straight(
                m,
                [lines(&["push 0", "push 0", "store"]), filler(30)].concat(),
                &["push 7", "push 0", "retrieve", "div"],
                [filler(60), lines(&["printi", "end"])].concat(),
                &[
                    "before it, both: stack [7, 0]; heap 1 cell; output 0 bytes; next: \
                     instruction 36 (`div`)",
                    "after it, interp: stack [7, 0]; heap 1 cell; output 0 bytes;",
                    "trap: division-by-zero at instruction 36 (`div`)",
                    "after it, JIT: FAILED: the process was killed by signal 8 (SIGFPE)",
                ],
            )
        };
        match mutation {
            // copy 13194139533312 (about 2^43.6) on a stack of one item: stack-underflow;
            // the wrapping slot address passes the check and the load faults.
            Mutation::WrappingCopyCheck => out.push(straight(
                mutation,
                [lines(&["push 5"]), filler(30)].concat(),
                &["copy 13194139533312"],
                [filler(60), lines(&["end"])].concat(),
                &[
                    "before it, both: stack [5]; heap 0 cells; output 0 bytes; next: \
                     instruction 31 (`copy 13194139533312`)",
                    "after it, interp: stack [5]; heap 0 cells; output 0 bytes;",
                    "trap: stack-underflow at instruction 31 (`copy 13194139533312`)",
                    "after it, JIT: FAILED: the process was killed by signal 11 (SIGSEGV",
                ],
            )),
            Mutation::UnguardedDivide | Mutation::BareIdiv => out.push(divide(mutation)),
            other => panic!("{other} crashes: plant a case for it here"),
        }
    }
    out
}

/// The report of `twinspace diff` on a planted crash case: the crash located at the
/// culprit inside the block, each run in a process of its own.
fn crash_located(p: &Planted, dir: &std::path::Path) -> Result<(), String> {
    let program = assemble(&p.lines.join("\n")).map_err(|e| e.to_string())?;
    let file = dir.join(format!("{}.ws", p.mutation));
    std::fs::write(&file, twinspace::syntax::print_ws(&program)).map_err(|e| e.to_string())?;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_twinspace"))
        .arg("diff")
        .arg(&file)
        .args(["--mutate", p.mutation.name()])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    if out.status.code() != Some(5) {
        return Err(format!(
            "diff ended with {}, not 5 (a finding):\n{text}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let instruction = &p.lines[p.culprit];
    let headline = format!(
        "first divergence: instruction {} (`{instruction}`), the {} executed: both engines agree \
         up to it, and {} crashed running it",
        p.culprit,
        ordinal(p.ordinal),
        jit(p.mutation)
    );
    let inside = "(inside a block of native code: the fuel bisection saw it only at the ";
    for needle in [headline.as_str(), inside, "each run in a process of its own"]
        .into_iter()
        .chain(p.shows.iter().map(String::as_str))
    {
        if !text.contains(needle) {
            return Err(format!("the report lacks {needle:?}:\n{text}"));
        }
    }
    Ok(())
}

/// `32nd`.
fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[test]
#[cfg_attr(not(target_arch = "x86_64"), ignore = "the JIT runs on x86-64 only")]
fn every_crashing_mutation_is_located_at_its_instruction_inside_a_long_block() {
    if !support::jit_or_skip(
        "every_crashing_mutation_is_located_at_its_instruction_inside_a_long_block",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let failures: Vec<String> = crash_cases()
        .iter()
        .filter_map(|p| {
            crash_located(p, dir.path()).err().map(|why| format!("{}: {why}", p.mutation))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
