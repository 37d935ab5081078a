//! The differential property test, and tests of the harness itself.
//!
//! `engines_agree_on_generated_programs` runs generated cases on the reference interpreter and
//! the JIT and requires the whole outcome to agree. It runs `TWINSPACE_FUZZ_CASES` cases
//! (default 2000) from the seed `TWINSPACE_FUZZ_SEED` (decimal or 0x-hex; default: random,
//! printed by proptest on failure). A failure is shrunk (by proptest, keeping the same
//! mismatch signature, then by the harness), reported with diffs, kept as a regression case in
//! `corpus/regressions/`, and its seed persisted in `proptest-regressions/differential.txt`
//! (committed), which proptest replays first on every later run.
//!
//! Tests that need the JIT are listed as ignored off x86-64; on x86-64 without a working JIT
//! they say so and do nothing, or fail where `TWINSPACE_REQUIRE_JIT=1` (as in CI).
//!
//! The other tests check the harness against stand-in engines with known bugs, so they do not
//! depend on the JIT: it must catch, shrink and report them.

mod support;

use std::env;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use num_bigint::BigInt;
use num_integer::Integer;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{
    Config, FileFailurePersistence, RngSeed, TestCaseError, TestError, TestRunner,
};
use twinspace::case::parse_expectation;
use twinspace::differential::fuzz::{FuzzConfig, fuzz};
use twinspace::differential::keep::keep;
use twinspace::differential::report::Report;
use twinspace::differential::{Parts, Signature, investigate};
use twinspace::engine::{Engine, Interp, Jit, Run, RunCase, RunStats};
use twinspace::generate::{Knobs, cases, generate};
use twinspace::interp::{Machine, Step};
use twinspace::syntax::{assemble, parse, print_asm, print_ws};
use twinspace::{Input, Instruction, Opcode, Outcome, Output, Program, Termination};

fn env_number(name: &str) -> Option<u64> {
    let text = env::var(name).ok()?;
    let t = text.trim();
    let parsed = match t.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={text}: expected a number")))
}

#[test]
#[cfg_attr(not(target_arch = "x86_64"), ignore = "the JIT runs on x86-64 only")]
fn engines_agree_on_generated_programs() {
    if !support::jit_or_skip("engines_agree_on_generated_programs") {
        return;
    }
    let mut config = Config {
        // proptest's own variable is honoured too, so `PROPTEST_CASES=…` works as anywhere.
        cases: env_number("TWINSPACE_FUZZ_CASES")
            .or_else(|| env_number("PROPTEST_CASES"))
            .map_or(2000, |n| n as u32),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/differential.txt",
        ))),
        max_shrink_time: 10_000,
        max_shrink_iters: 1_000_000,
        ..Config::default()
    };
    if let Some(seed) = env_number("TWINSPACE_FUZZ_SEED") {
        config.rng_seed = RngSeed::Fixed(seed);
    }
    let mut runner = TestRunner::new(config);
    let jit = Jit::default();
    // The first mismatch's signature: while proptest shrinks, a candidate that shows another
    // mismatch counts as passing, so the minimal case shows the same one.
    let first: Mutex<Option<Signature>> = Mutex::new(None);
    let result = runner.run(&cases(Knobs::default()), |case| {
        let reference = Interp.run(&case);
        let subject = jit.run(&case);
        let Some(signature) = Signature::of(&reference.result, &subject.result, Parts::all())
        else {
            return Ok(());
        };
        let mut first = first.lock().unwrap();
        match *first {
            Some(s) if s != signature => Ok(()),
            _ => {
                *first = Some(signature);
                Err(TestCaseError::fail(format!("interp and jit disagree on {signature}")))
            }
        }
    });
    match result {
        Ok(()) => {}
        Err(TestError::Abort(why)) => panic!("proptest aborted: {why}"),
        Err(TestError::Fail(why, case)) => {
            let finding = investigate(&case, &jit, Parts::all(), Some(Duration::from_secs(10)))
                .unwrap_or_else(|| panic!("{why}, but not when the minimal case was re-run"));
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus/regressions");
            let kept = finding.reference.result.as_ref().ok().and_then(|reference| {
                let note = ["found by tests/differential.rs".to_owned()];
                keep(&dir, &finding.case, reference, &finding.signature, &note).ok()
            });
            let mut rerun = vec![
                "cargo test --test differential (proptest replays the persisted seed first)"
                    .to_owned(),
            ];
            if let Some(k) = &kept {
                rerun.insert(0, format!("twinspace diff corpus/regressions/{}.ws", k.name));
            }
            let report = Report {
                finding: &finding,
                reference_name: "interp".into(),
                subject_name: "jit".into(),
                origin: Some("tests/differential.rs (seed persisted in proptest-regressions/differential.txt)".into()),
                rerun,
                kept: kept.map(|k| k.ws.display().to_string()),
            };
            panic!("{}", report.render());
        }
    }
}

/// A stand-in engine with a known bug: the reference machine, stepped, except for one
/// instruction done wrong.
#[derive(Clone, Copy, Debug)]
enum StandIn {
    /// `div` and `mod` truncate toward zero.
    TruncatedDivision,
    /// `slide n` (n > 0) removes n - 1 items.
    SlideOffByOne,
}

impl StandIn {
    fn outcome(self, case: &RunCase) -> Outcome {
        let mut sink = Vec::new();
        let finish = {
            let mut output = Output::new(&mut sink);
            let mut input = Input::from_bytes(&case.input);
            let mut m = Machine::new(&case.program, case.limits);
            let termination = loop {
                if self.wrong_step(&mut m) {
                    continue;
                }
                match m.step(&mut input, &mut output).unwrap() {
                    Step::Continue => {}
                    Step::Stop(t) => break t,
                }
            };
            output.flush().unwrap();
            m.finish(termination)
        };
        Outcome { output: sink, finish }
    }

    /// Does the next instruction the wrong way if it is the one this stand-in gets wrong
    /// (and it would not trap); true if it did.
    fn wrong_step(self, m: &mut Machine) -> bool {
        let program = m.program;
        let Some(ins) = program.instructions().get(m.pc) else { return false };
        if m.executed >= m.limits.fuel {
            return false;
        }
        let depth = m.stack.len();
        match (self, ins) {
            (StandIn::TruncatedDivision, Instruction::Div | Instruction::Mod) if depth >= 2 => {
                let (a, b) = (&m.stack[depth - 2], &m.stack[depth - 1]);
                if b == &BigInt::from(0) {
                    return false;
                }
                let r = if matches!(ins, Instruction::Div) { a / b } else { a % b };
                if r == if matches!(ins, Instruction::Div) {
                    a.div_floor(b)
                } else {
                    a.mod_floor(b)
                } {
                    return false;
                }
                m.stack.truncate(depth - 2);
                m.stack.push(r);
            }
            (StandIn::SlideOffByOne, Instruction::Slide(n)) if depth >= 2 => {
                let Ok(n) = usize::try_from(n) else { return false };
                let remove = n.min(depth - 1).saturating_sub(1);
                if remove == n.min(depth - 1) {
                    return false;
                }
                m.stack.drain(depth - 1 - remove..depth - 1);
            }
            _ => return false,
        }
        // The stand-in edits the stack directly: recount the big words it holds (no limit is
        // checked; the stand-in is wrong on purpose).
        m.big_words = m.count_big_words();
        m.pc += 1;
        m.executed += 1;
        true
    }
}

impl Engine for StandIn {
    fn name(&self) -> String {
        format!("stand-in ({self:?})")
    }

    /// The stand-in runs whole cases only ([`Engine::run`]).
    fn stream(
        &self,
        _: &twinspace::Program,
        _: twinspace::Limits,
        _: Parts,
        _: &twinspace::Stop,
        _: &mut twinspace::Input,
        _: &mut twinspace::Output,
    ) -> Result<(twinspace::Finish, RunStats), twinspace::HostError> {
        Err(twinspace::HostError::Unavailable("the stand-in runs whole cases only".into()))
    }

    fn run(&self, case: &RunCase) -> Run {
        Run { result: Ok(self.outcome(case)), handovers: 0 }
    }
}

#[test]
fn the_harness_catches_shrinks_reports_and_keeps_a_stand_in_bug() {
    for stand_in in [StandIn::TruncatedDivision, StandIn::SlideOffByOne] {
        let config = FuzzConfig { cases: Some(2_000), seed: 3, jobs: 2, ..FuzzConfig::default() };
        let result = fuzz(&config, &stand_in, &mut |_| {}).unwrap();
        let found = result.found.unwrap_or_else(|| panic!("{stand_in:?} not caught"));
        let start = Instant::now();
        let finding =
            investigate(&found.case, &stand_in, Parts::all(), Some(Duration::from_secs(10)))
                .expect("the mismatch repeats");
        let program = &finding.case.program;
        eprintln!(
            "{stand_in:?}: case {} of seed 3, {} -> {} instructions in {:.2} s",
            found.index,
            found.case.program.len(),
            program.len(),
            start.elapsed().as_secs_f64()
        );
        assert!(program.len() <= 6, "{stand_in:?} shrunk to\n{}", print_asm(program));
        let wrong = match stand_in {
            StandIn::TruncatedDivision => [Opcode::Div, Opcode::Mod],
            StandIn::SlideOffByOne => [Opcode::Slide, Opcode::Slide],
        };
        assert!(program.instructions().iter().any(|i| wrong.contains(&i.opcode())));
        let report = Report {
            finding: &finding,
            reference_name: "interp".into(),
            subject_name: stand_in.name(),
            origin: Some(format!("case seed {:#x}", found.seed)),
            rerun: vec!["twinspace diff x.ws".into()],
            kept: None,
        };
        let text = report.render();
        for needle in ["MISMATCH", "program (", "visible S/T/L", "first divergence", "---", "+++"] {
            assert!(text.contains(needle), "report lacks {needle:?}:\n{text}");
        }
        let dir = env::temp_dir().join(format!("twinspace-standin-{}", std::process::id()));
        let reference = finding.reference.result.as_ref().unwrap();
        let kept = keep(&dir, &finding.case, reference, &finding.signature, &[]).unwrap();
        let ws = std::fs::read(&kept.ws).unwrap();
        assert_eq!(parse(&ws).unwrap().instructions(), program.instructions());
        let (limits, _) =
            parse_expectation(&std::fs::read_to_string(&kept.expect).unwrap()).unwrap();
        assert_eq!(limits, Some(finding.case.limits));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_200_instruction_mismatch_shrinks_to_a_handful() {
    let knobs = Knobs { size: 200..=200, ..Knobs::default() };
    let stand_in = StandIn::TruncatedDivision;
    let (seed, case) = (0..10_000u64)
        .map(|seed| (seed, generate(seed, &knobs)))
        .find(|(_, case)| {
            case.program.len() >= 200 && investigate(case, &stand_in, Parts::all(), None).is_some()
        })
        .expect("a mismatching 200-instruction case");
    let start = Instant::now();
    let finding =
        investigate(&case, &stand_in, Parts::all(), Some(Duration::from_secs(10))).unwrap();
    eprintln!(
        "seed {seed}: {} -> {} instructions in {:.2} s ({} tries; debug build)",
        case.program.len(),
        finding.case.program.len(),
        start.elapsed().as_secs_f64(),
        finding.shrunk.as_ref().unwrap().tries
    );
    assert!(finding.case.program.len() <= 6, "{}", print_asm(&finding.case.program));
}

#[test]
fn generated_programs_print_and_read_back() {
    let knobs = Knobs::default();
    for seed in 0..300 {
        let case = generate(seed, &knobs);
        let p = &case.program;
        assert_eq!(parse(&print_ws(p)).unwrap().instructions(), p.instructions(), "seed {seed}");
        assert_eq!(assemble(&print_asm(p)).unwrap().instructions(), p.instructions());
    }
}

#[test]
fn proptest_shrinks_generated_cases_with_the_harness_candidates() {
    // A property that fails on every program holding a `div`: proptest's shrinking through
    // `CaseTree` must end at a tiny program that still holds one.
    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(11),
        ..Config::default()
    });
    let has_div = |p: &Program| p.instructions().iter().any(|i| i.opcode() == Opcode::Div);
    let result = runner.run(&cases(Knobs::default()), |case| {
        if has_div(&case.program) { Err(TestCaseError::fail("div")) } else { Ok(()) }
    });
    let Err(TestError::Fail(_, minimal)) = result else { panic!("no program with div") };
    assert!(has_div(&minimal.program));
    assert!(minimal.program.len() <= 1, "{}", print_asm(&minimal.program));
    assert!(minimal.input.is_empty());
    // And the tree's protocol directly: simplify until nothing simpler is left.
    let mut tree = cases(Knobs::default()).new_tree(&mut runner).unwrap();
    let mut steps = 0;
    while tree.simplify() && steps < 100_000 {
        steps += 1;
    }
    assert!(tree.current().program.len() <= 1);
}

fn twinspace(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_twinspace"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
#[cfg_attr(not(target_arch = "x86_64"), ignore = "the JIT runs on x86-64 only")]
fn cli_fuzz_diff_and_shrink() {
    if !support::jit_or_skip("cli_fuzz_diff_and_shrink") {
        return;
    }
    let (code, out, err) = twinspace(&["fuzz", "--cases", "300", "--seed", "5", "--no-keep"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("programs/s") && out.contains("no mismatch"), "{out}");

    let dir = env::temp_dir().join(format!("twinspace-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("div.wsa");
    std::fs::write(&file, "push -7\npush 2\ndiv\npush 1\npush 2\nadd\ndrop\nprinti\nend\n")
        .unwrap();
    let file = file.to_str().unwrap();
    let (code, out, _) = twinspace(&["diff", file]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("agree"), "{out}");

    let mutate = ["--mutate", "truncated-division"];
    let (code, out, err) = twinspace(&["diff", file, mutate[0], mutate[1]]);
    assert_eq!(code, 5, "{out}\n{err}");
    assert!(out.contains("MISMATCH") && out.contains("-4") && out.contains("-3"), "{out}");

    let small = dir.join("small.wsa");
    let small = small.to_str().unwrap();
    let (code, out, err) = twinspace(&["shrink", file, mutate[0], mutate[1], "-o", small]);
    assert_eq!(code, 5, "{out}\n{err}");
    let shrunk = assemble(&std::fs::read_to_string(small).unwrap()).unwrap();
    assert!(shrunk.len() <= 4, "{}", print_asm(&shrunk));
    assert!(out.contains(&format!("twinspace diff {small}")), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn exploding_programs_stop_at_the_value_limit_in_both_engines() {
    // x = x * x for ever: the value limit stops it within a few dozen instructions, at the same
    // `mul` in both engines, with the whole outcome equal.
    let program = assemble("push 3\nloop:\ndup\nmul\njmp loop\n").unwrap();
    let case = RunCase::new(program, Vec::new(), twinspace::Limits::DEFAULT.with_fuel(100_000));
    let reference = Interp.run(&case).result.unwrap();
    match reference.finish.termination {
        Termination::Trapped(t) => {
            assert_eq!((t.kind, t.index), (twinspace::TrapKind::ValueTooLarge, 3));
        }
        other => panic!("{other:?}"),
    }
    assert!(reference.finish.executed < 100);
    if support::jit_or_skip("exploding_programs_stop_at_the_value_limit_in_both_engines (JIT part)")
    {
        let jit = Jit::default().run(&case).result.unwrap();
        assert_eq!(jit, reference);
    }
}
