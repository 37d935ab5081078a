//! Proof that the differential harness bites: for every deliberate bug the JIT can compile in
//! (`twinspace::jit::Mutation::ALL`) but those that crash the process
//! ([`Mutation::crashes`]) or can hang it ([`Mutation::hangs`]), which only a process of their own can
//! run (tests/differential.rs catches them under supervision), the harness, with the default
//! budget of `twinspace fuzz` (10,000 generated programs, default knobs), must find a
//! mismatch, shrink it to a handful of instructions within the default 10 s, and report it
//! with a diff.
//!
//! Reproducers go to a temporary directory, never to `corpus/`: these bugs are made on
//! purpose. Listed as ignored off x86-64; on x86-64 without a working JIT it says so and does
//! nothing, or fails where `TWINSPACE_REQUIRE_JIT=1` (as in CI). Needs the `mutations`
//! feature, which every test build has (through the crate's dev-dependency on itself).

#![cfg(feature = "mutations")]

mod support;

use std::time::{Duration, Instant};

use twinspace::Opcode;
use twinspace::differential::diverge::Located;
use twinspace::differential::fuzz::{FuzzConfig, fuzz};
use twinspace::differential::keep::keep;
use twinspace::differential::report::Report;
use twinspace::differential::{Parts, investigate};
use twinspace::engine::{Engine, Jit};
use twinspace::jit::Mutation;
use twinspace::syntax::print_asm;

/// The most instructions a shrunk reproducer may keep. Most mutations shrink to 3-5; a
/// heap mutation whose mismatch (as found) shows in the stack but not in the heap needs the
/// instructions that send the store down the JIT's slow path and the load down its fast one
/// (about 11), because the shrinker keeps the mismatch the same.
const HANDFUL: usize = 12;

/// The most instructions a shrunk reproducer of `mutation` may keep: [`HANDFUL`], except for
/// `memory-entry-skips-load`, whose symptom needs a block that some jump could pass items to
/// in registers but that is entered through its memory entry instead (from the stepper,
/// after a big value or a read, or through an edge that cannot pass them), with the item it
/// fails to load under it and a use of that item: the generator's programs reach that shape
/// with a deep stack (a far `copy`) that the shrinker keeps as it found it (19 instructions on
/// seed 1). `forwarding-ignores-address` needs a store at one constant address and a retrieve
/// of another in the same block after a jump (so that the stored value is a register), and a
/// use of the retrieved value that shows it: on seed 1 the reproducer keeps a jump to the next
/// instruction (`push 0; jz` to the label right after it), the two stores and a `mod` by the
/// retrieved value (19 instructions).
/// `growth-strands-sparse` needs a far store, then at least two stores below it growing the
/// dense region (the second past the far cell), then a store or retrieve at the far cell: on
/// seed 1 the shrinker keeps a loop walking the edge up to it (14 instructions).
/// The inlined-call mutations need a call in a loop (the optimising tier inlines only those:
/// a backward jump spanning the call) and the callee: 13 and 14 instructions on seed 1.
fn handful(mutation: Mutation) -> usize {
    match mutation {
        Mutation::InlinedRetKeepsEntry | Mutation::InlinedBranchSkipsClone => 16,
        Mutation::MemoryEntrySkipsLoad => 24,
        Mutation::GrowthStrandsSparse => 16,
        Mutation::ForwardingIgnoresAddress => 20,
        _ => HANDFUL,
    }
}

#[test]
#[cfg_attr(not(target_arch = "x86_64"), ignore = "the JIT runs on x86-64 only")]
fn every_mutation_is_caught_shrunk_and_reported() {
    if !support::jit_or_skip("every_mutation_is_caught_shrunk_and_reported") {
        return;
    }
    let mut failures = Vec::new();
    // A mutation whose symptom is a crash would end this process, one that hangs would keep
    // it running for ever: `crash_mutations_*` and `a_hang_*` in tests/differential.rs run
    // those supervised, as `twinspace fuzz` does.
    for mutation in Mutation::ALL.into_iter().filter(|m| !m.crashes() && !m.hangs()) {
        if let Err(why) = catch(mutation) {
            failures.push(format!("{mutation}: {why}"));
        }
    }
    assert!(failures.is_empty(), "the harness missed:\n{}", failures.join("\n"));
}

fn catch(mutation: Mutation) -> Result<(), String> {
    let subject = Jit::mutated(Some(mutation));
    let config = FuzzConfig { seed: 1, jobs: 2, ..FuzzConfig::default() };
    let budget = config.cases.unwrap_or(0);
    let result = fuzz(&config, &subject, &mut |_| {}).map_err(|e| e.to_string())?;
    let found =
        result.found.ok_or_else(|| format!("no mismatch in {budget} generated programs"))?;
    let start = Instant::now();
    let finding = investigate(&found.case, &subject, Parts::all(), Some(Duration::from_secs(10)))
        .ok_or("the mismatch did not repeat")?;
    let program = &finding.case.program;
    eprintln!(
        "{mutation}: caught at case {}, shrunk {} -> {} instructions in {:.2} s: {}",
        found.index,
        found.case.program.len(),
        program.len(),
        start.elapsed().as_secs_f64(),
        print_asm(program).split_whitespace().collect::<Vec<_>>().join(" ")
    );
    if program.len() > handful(mutation) {
        return Err(format!(
            "shrunk only to {} instructions:\n{}",
            program.len(),
            print_asm(program)
        ));
    }
    let report = Report {
        finding: &finding,
        reference_name: "interp".into(),
        subject_name: subject.name(),
        origin: Some(format!("case seed {:#x}", found.seed)),
        rerun: vec![format!("twinspace fuzz --replay {:#x} --mutate {mutation}", found.seed)],
        kept: None,
    };
    let text = report.render();
    for needle in ["MISMATCH", "first divergence", "--- interp", "+++ jit:mutate="] {
        if !text.contains(needle) {
            return Err(format!("the report lacks {needle:?}:\n{text}"));
        }
    }
    // A late flush shows in the transcript alone: the output bytes are the same.
    let late_flush = mutation == Mutation::FlushAfterRead;
    if late_flush && finding.signature.differs != Parts::TRANSCRIPT {
        return Err(format!("a late flush showed as {}, not the transcript", finding.signature));
    }
    if late_flush && !text.contains("transcript (output flushed before each read") {
        return Err(format!("the report lacks the transcript diff:\n{text}"));
    }
    // The first divergence is exact, and at an instruction the mutation changes.
    match finding.divergence.as_ref().map(|d| &d.located) {
        Some(Located::Exact(e)) => {
            let op = program.instructions().get(e.index).map(|i| i.opcode());
            if !op.is_some_and(|op| changed_by(mutation).contains(&op))
                && !matches!(
                    mutation,
                    Mutation::FusedCompareReversed
                        | Mutation::FusedCompareUnsigned
                        | Mutation::DivisibleTestsQuotient
                )
            {
                return Err(format!(
                    "the divergence is at {op:?}, not one of the mutated:\n{text}"
                ));
            }
        }
        // The inlined-call mutations: a cut inside a trace changes how the trace's call is
        // compiled before it, so the search reports the divergence coarsely instead of naming
        // a wrong instruction. The stale call-stack entry an inlined `ret` leaves shows at a
        // later `call` (at the call-stack limit) or `ret`; when that is the inlined `call`
        // itself, the cut right after it ends its trace there, and the `ret` after it is then
        // the callee's own, not the inlined one the mutation changes. A trace cut inside its
        // callee pushes a machine frame at the call (the callee's own blocks return through
        // it), and with that frame a branch that skips its clone returns right.
        Some(Located::Coarse(why))
            if matches!(
                mutation,
                Mutation::InlinedRetKeepsEntry | Mutation::InlinedBranchSkipsClone
            ) && why.contains("with the block cut right after instruction") => {}
        other => return Err(format!("the divergence is not exact ({other:?}):\n{text}")),
    }
    // The reproducer is kept with the reference outcome as its expectation.
    let dir =
        std::env::temp_dir().join(format!("twinspace-mutation-{}-{mutation}", std::process::id()));
    let reference = finding.reference.result.as_ref().map_err(ToString::to_string)?;
    let kept =
        keep(&dir, &finding.case, reference, &finding.signature, &[]).map_err(|e| e.to_string())?;
    let written = kept.ws.is_file() && kept.expect.is_file();
    let expect = std::fs::read_to_string(&kept.expect).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    if !written {
        return Err("the reproducer was not written".into());
    }
    if late_flush && !expect.contains("\ntranscript: ") {
        return Err(format!("the kept expectation has no transcript:\n{expect}"));
    }
    Ok(())
}

/// The conformance suite bites too: every case with a `transcript:` that prints before a read
/// fails on the JIT that flushes after it (on output that is otherwise the same), and passes
/// on the real one.
#[test]
#[cfg_attr(not(target_arch = "x86_64"), ignore = "the JIT runs on x86-64 only")]
fn the_transcript_cases_catch_a_late_flush() {
    use std::path::Path;
    use std::sync::Arc;
    use twinspace::conform::{Target, Verdict, load, run_item};

    if !support::jit_or_skip("the_transcript_cases_catch_a_late_flush") {
        return;
    }
    let items = load(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    let late = Target::Builtin(Arc::new(Jit::mutated(Some(Mutation::FlushAfterRead))));
    let real = Target::Builtin(Arc::new(Jit::default()));
    let mut checked = 0;
    for item in &items {
        let body = item.body.as_ref().unwrap();
        let Some(transcript) = &body.expectation.transcript else { continue };
        // Only output before some read can be late for it.
        let mut seen_output = false;
        let prints_before_a_read = transcript.iter().any(|x| match x {
            twinspace::case::Exchange::Output(bytes) => {
                seen_output |= !bytes.is_empty();
                false
            }
            twinspace::case::Exchange::Input(_) => seen_output,
        });
        if !prints_before_a_read {
            continue;
        }
        checked += 1;
        assert_eq!(run_item(item, &real), Verdict::Passed, "{}", item.id);
        match run_item(item, &late) {
            Verdict::Failed(report) => {
                assert!(report.contains("transcript differs"), "{}: {report}", item.id)
            }
            other => panic!("{}: a late flush gave {other:?}", item.id),
        }
    }
    assert!(checked >= 8, "only {checked} transcript cases print before a read");
}

/// The instructions whose compiled code a mutation changes (its documentation says which).
fn changed_by(mutation: Mutation) -> &'static [Opcode] {
    match mutation {
        Mutation::TruncatedDivision => &[Opcode::Div, Opcode::Mod],
        Mutation::SlideOffByOne => &[Opcode::Slide],
        Mutation::HeapIgnoresHighBits => &[Opcode::Store, Opcode::Retrieve],
        Mutation::ConstantStoreSkipsFlag | Mutation::WrittenJoinTakesAny => &[Opcode::Store],
        // A low cell's big value read as its slab index, or overwritten in place leaving its
        // flag saying big.
        Mutation::LowBigKeepsCode => &[Opcode::Store, Opcode::Retrieve],
        Mutation::SkipOverflowCheck => &[Opcode::Add, Opcode::Sub, Opcode::Mul],
        Mutation::JnTakesZero => &[Opcode::Jn],
        Mutation::CopyOffByOne => &[Opcode::Copy],
        Mutation::FlushAfterRead => &[Opcode::ReadC, Opcode::ReadI],
        Mutation::WrappingCopyCheck => &[Opcode::Copy, Opcode::Slide],
        Mutation::UnguardedDivide | Mutation::BareIdiv => &[Opcode::Div, Opcode::Mod],
        Mutation::NarrowDivisionIgnoresDividend
        | Mutation::FloatDivisionRounds
        | Mutation::SingleDivisionTooWide
        | Mutation::MagicDivisionIgnoresSign
        | Mutation::BigDivisionTruncates => &[Opcode::Div, Opcode::Mod],
        // Fuel is not charged on entering a block: the run goes wrong at the jump, branch,
        // call or fall-through (after any instruction) into it, or at the target's first
        // instruction; every opcode can be one of these.
        Mutation::CheckedEntrySkipsFuel => &Opcode::ALL,
        // A register edge (a jump, branch or fall-through, after any instruction) swaps two
        // items, or a block's memory entry leaves one unloaded: the run goes wrong at the
        // edge or at the first instruction of the target that reads the item, any opcode.
        Mutation::ParallelMoveSwaps | Mutation::MemoryEntrySkipsLoad => &Opcode::ALL,
        // An exit to the stepper leaves a stale item: the run goes wrong at the instruction
        // that exits (any that can: arithmetic, heap, copy, slide, a print, a block's entry
        // check) or the stepper's next one.
        Mutation::ExitForgetsPassed => &Opcode::ALL,
        // The fused pair runs as one step of native code, which the divergence search cannot
        // look inside (a cut between the sub and the jn unfuses them), so a wrong branch
        // shows where the two paths next differ, at any instruction or past the end: the
        // check above accepts any place for it (it must still be exact).
        Mutation::FusedCompareReversed
        | Mutation::FusedCompareUnsigned
        | Mutation::DivisibleTestsQuotient => &Opcode::ALL,
        // The stale value comes out of the retrieve.
        Mutation::ForwardingIgnoresAddress => &[Opcode::Retrieve],
        // Fuel charged on an edge shows in the executed count or an early out-of-fuel,
        // wherever the run next stops.
        Mutation::RefundFoldKeepsCharge => &Opcode::ALL,
        // The stepper runs the overflowing add or sub on the wrong operand.
        Mutation::InPlaceKeepsResult => &[Opcode::Add, Opcode::Sub],
        // The stale slots show at the trap of the target's first instruction needing them.
        Mutation::FloorFirstKeepsRegisters => &Opcode::ALL,
        // The stale entry shows at a later ret (or call, at the limit).
        Mutation::RetNativeKeepsEntry | Mutation::InlinedRetKeepsEntry => {
            &[Opcode::Ret, Opcode::Call]
        }
        // The branch target's own `ret` returns through the wrong machine frame.
        Mutation::InlinedBranchSkipsClone => &[Opcode::Ret, Opcode::Jz, Opcode::Jn],
        // Fuel not charged shows in the executed count or a late out-of-fuel, wherever the
        // run next stops.
        Mutation::NativeReturnSkipsFuel => &Opcode::ALL,
        // The shared copy changed shows where it is next used.
        Mutation::InPlaceIgnoresSharing => &Opcode::ALL,
        // The callee's `ret` lands past the return point.
        Mutation::CallFallsPastStepper => &[Opcode::Ret],
        Mutation::BigSubReversed => &[Opcode::Sub],
        // The store that grows the dense region loses a sparse cell (a later store there
        // shows the stale one), or a retrieve reads it as never written.
        Mutation::GrowthStrandsSparse => &[Opcode::Store, Opcode::Retrieve],
    }
}
