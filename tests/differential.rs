//! The differential test, and tests of the harness itself.
//!
//! `engines_agree_on_generated_programs` fuzzes the reference interpreter against the JIT the
//! way `twinspace fuzz` does, by running the built `twinspace fuzz`: supervised, so a JIT that
//! crashes the process (SIGSEGV, SIGFPE, an abort) is caught, its case shrunk (each candidate
//! in a process of its own), kept and reported with its seed, where an in-process test would
//! die with no case at all. Its budget is deterministic, so CI is reproducible:
//!
//! 1. every case seed in `proptest-regressions/differential.txt` (committed), replayed first
//!    with `twinspace fuzz --replay SEED`;
//! 2. each master seed of [`SEEDS`], for `TWINSPACE_FUZZ_CASES` cases (`PROPTEST_CASES` is
//!    read too; default [`DEFAULT_CASES`]);
//! 3. one extra run of as many cases from the master seed `TWINSPACE_FUZZ_SEED` (decimal or
//!    0x-hex), or by default a random one, printed; set it to make the whole test
//!    deterministic, or to re-run a failure of the random run.
//!
//! A mismatch or crash fails the test with `twinspace fuzz`'s report: the shrunk case, the diff
//! of each differing part, the kept reproducer in `corpus/regressions/` (which
//! `tests/corpus.rs` then runs for ever) and the commands that re-run it; the case seed is
//! added to `proptest-regressions/differential.txt`.
//!
//! `TWINSPACE_FUZZ_MUTATE=NAME` runs the same test against the JIT with a deliberate bug
//! (`--mutate NAME`), to see what a failure looks like: `TWINSPACE_FUZZ_MUTATE=bare-idiv cargo
//! test --test differential engines_agree` fails with the report of a crash. Nothing is then
//! kept in the corpus or the seed file (reproducers of planted bugs go to a temporary
//! directory).
//!
//! `crash_mutations_are_caught_shrunk_kept_and_seeded` proves the supervision on the JIT's
//! deliberate crashes ([`twinspace::jit::Mutation::crashes`]), and
//! `a_hang_is_caught_shrunk_kept_and_reported` on its deliberate hang ([`HANG`]: a hang is a
//! finding like a crash, since every generated case has bounded fuel); tests/mutations.rs runs
//! the others in process.
//!
//! Tests that need the JIT are listed as ignored off x86-64; on x86-64 without a working JIT
//! they say so and do nothing, or fail where `TWINSPACE_REQUIRE_JIT=1` (as in CI).
//!
//! The other tests check the harness against stand-in engines with known bugs, so they do not
//! depend on the JIT: it must catch, shrink and report them.

mod support;

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use num_bigint::BigInt;
use num_integer::Integer;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use twinspace::case::parse_expectation;
use twinspace::differential::fuzz::{FuzzConfig, fuzz};
use twinspace::differential::keep::keep;
use twinspace::differential::report::Report;
use twinspace::differential::{Parts, investigate};
use twinspace::engine::{Engine, Interp, Jit, Run, RunCase, RunStats};
use twinspace::generate::{Knobs, cases, generate};
use twinspace::interp::{Machine, Step};
use twinspace::syntax::{assemble, parse, print_asm, print_ws};
use twinspace::{Input, Instruction, Opcode, Outcome, Output, Program, Termination};

/// The master seeds every run fuzzes, whatever the environment.
const SEEDS: [u64; 5] = [0x5eed, 1, 2, 3, 0x7715_7e57];

/// Cases per master seed unless `TWINSPACE_FUZZ_CASES` (or `PROPTEST_CASES`) says otherwise.
const DEFAULT_CASES: u64 = 1000;

/// The deliberate bug whose symptom can be a hang (`Mutation::hangs`): the optimising tier's checked entries
/// charge no fuel, so a loop through them runs for ever (tests/mutations.rs leaves it out).
const HANG: &str = "checked-entry-skips-fuel";

/// The `--hang-after` of the hang test: far above what a generated case takes in a debug
/// build on a busy machine (milliseconds), yet a hang costs only seconds.
const HANG_AFTER: &str = "3";

/// The case seeds of earlier failures, replayed first (relative to the crate).
const FOUND: &str = "proptest-regressions/differential.txt";

fn env_number(name: &str) -> Option<u64> {
    let text = env::var(name).ok()?;
    Some(parse_number(&text).unwrap_or_else(|| panic!("{name}={text}: expected a number")))
}

/// A decimal or 0x-hex number.
fn parse_number(text: &str) -> Option<u64> {
    let t = text.trim();
    match t.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => t.parse().ok(),
    }
}

/// The case seeds in the file of earlier failures: the first word of every line that is not
/// a comment.
fn found_seeds(text: &str) -> Vec<u64> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(|l| parse_number(l).unwrap_or_else(|| panic!("{FOUND}: not a case seed: {l}")))
        .collect()
}

/// The case seed a `twinspace fuzz` report names (`found by:  case seed 0x...`).
fn reported_seed(report: &str) -> Option<u64> {
    let line = report.lines().find_map(|l| l.strip_prefix("found by:"))?;
    let seed = line.trim().strip_prefix("case seed ")?;
    parse_number(seed.split(|c: char| !c.is_ascii_hexdigit() && c != 'x').next()?)
}

#[test]
#[cfg_attr(not(target_arch = "x86_64"), ignore = "the JIT runs on x86-64 only")]
fn engines_agree_on_generated_programs() {
    if !support::jit_or_skip("engines_agree_on_generated_programs") {
        return;
    }
    let cases = env_number("TWINSPACE_FUZZ_CASES")
        .or_else(|| env_number("PROPTEST_CASES"))
        .unwrap_or(DEFAULT_CASES)
        .to_string();
    let found = Path::new(env!("CARGO_MANIFEST_DIR")).join(FOUND);
    let mutate = env::var("TWINSPACE_FUZZ_MUTATE").ok().filter(|m| !m.is_empty());
    let mut runs: Vec<Vec<String>> = found_seeds(&std::fs::read_to_string(&found).unwrap())
        .into_iter()
        .map(|seed| vec!["--replay".into(), format!("{seed:#x}")])
        .collect();
    let extra = env_number("TWINSPACE_FUZZ_SEED").unwrap_or_else(|| {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
    });
    for seed in SEEDS.into_iter().chain([extra]) {
        runs.push(vec!["--seed".into(), format!("{seed:#x}"), "--cases".into(), cases.clone()]);
    }
    for run in &runs {
        let mut args = vec!["fuzz", "--quiet"];
        args.extend(run.iter().map(String::as_str));
        if let Some(m) = &mutate {
            args.extend(["--mutate", m]);
        }
        let (code, out, err) = twinspace(&args);
        let summary = out.lines().find(|l| l.contains("programs/s")).unwrap_or("");
        eprintln!("twinspace {}: exit {code}; {summary}", args.join(" "));
        if code == 0 {
            continue;
        }
        let rerun = format!("`twinspace {}`", args.join(" "));
        let Some(seed) = reported_seed(&out) else {
            panic!("{rerun} failed (exit {code}) with no report:\n{out}\n{err}");
        };
        let mut text = std::fs::read_to_string(&found).unwrap();
        if mutate.is_none() && !found_seeds(&text).contains(&seed) {
            text.push_str(&format!("{seed:#018x} # {}\n", args.join(" ")));
            std::fs::write(&found, text).unwrap();
        }
        let persisted = if mutate.is_some() {
            "a planted bug: not persisted".to_owned()
        } else {
            format!("now in {FOUND}, replayed first from now on (commit it with the reproducer)")
        };
        panic!(
            "{rerun}: interp and jit disagree (exit {code}); case seed {seed:#x} ({persisted})\n\n\
             {err}\n{out}"
        );
    }
}

/// The deliberate crashes, caught under supervision: for each, `twinspace fuzz` (supervised,
/// as by default) finds a case that kills its fuzzing process, shrinks it with each candidate
/// in a process of its own, keeps it and reports it with its case seed; the test process
/// lives on. Then `--replay` of that seed, whose fuzzing process dies while it investigates
/// the case, must end in the same report: the crash met during an investigation is shrunk too.
#[test]
#[cfg_attr(not(target_arch = "x86_64"), ignore = "the JIT runs on x86-64 only")]
fn crash_mutations_are_caught_shrunk_kept_and_seeded() {
    if !support::jit_or_skip("crash_mutations_are_caught_shrunk_kept_and_seeded") {
        return;
    }
    // (mutation, master seed, signal, what the shrunk case must hold (one of), its most
    // instructions)
    let crashes = [
        ("wrapping-copy-check", "2", 11, &[Opcode::Copy][..], 2),
        ("unguarded-divide", "1", 8, &[Opcode::Div, Opcode::Mod][..], 10),
    ];
    let mut failures = Vec::new();
    for (mutation, seed, signal, op, most) in crashes {
        let dir =
            env::temp_dir().join(format!("twinspace-crash-{}-{mutation}", std::process::id()));
        let keep = dir.to_str().unwrap();
        let fuzz = [
            "fuzz",
            "--mutate",
            mutation,
            "--seed",
            seed,
            "--cases",
            "30000",
            "--keep",
            keep,
            "--shrink-time",
            "60",
            "--quiet",
        ];
        let start = Instant::now();
        let found = crash_report(&fuzz, &dir, signal, op, most);
        let secs = start.elapsed().as_secs_f64();
        match &found {
            Ok((case_seed, size)) => eprintln!(
                "{mutation}: caught, case seed {case_seed:#x}, shrunk to {size} instruction(s), \
                 {secs:.1} s"
            ),
            Err(why) => failures.push(format!("{mutation}: {why}")),
        }
        // The replay crashes its fuzzing process while investigating the case.
        if let Ok((case_seed, _)) = found {
            let _ = std::fs::remove_dir_all(&dir);
            let case_seed = format!("{case_seed:#x}");
            let replay = [
                "fuzz",
                "--mutate",
                mutation,
                "--replay",
                &case_seed,
                "--keep",
                keep,
                "--shrink-time",
                "60",
            ];
            match crash_report(&replay, &dir, signal, op, most) {
                Ok(_) => eprintln!("{mutation}: `--replay {case_seed}` reported the same crash"),
                Err(why) => failures.push(format!("{mutation}, replayed: {why}")),
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A crash met while shrinking a mismatch is shrunk too, each candidate in a process of its
/// own, and ends in a report and a kept reproducer. `bare-idiv` both truncates (a mismatch)
/// and crashes (a zero divisor): of the master seeds tried, the first whose run finds a
/// mismatch and then crashes while shrinking it must end in a report of the crash.
#[test]
#[cfg_attr(not(target_arch = "x86_64"), ignore = "the JIT runs on x86-64 only")]
fn a_crash_while_shrinking_a_mismatch_is_shrunk_kept_and_reported() {
    if !support::jit_or_skip("a_crash_while_shrinking_a_mismatch_is_shrunk_kept_and_reported") {
        return;
    }
    let dir = env::temp_dir().join(format!("twinspace-crash-shrinking-{}", std::process::id()));
    let keep = dir.to_str().unwrap();
    let mut seen = Vec::new();
    for seed in 1..=30u64 {
        let _ = std::fs::remove_dir_all(&dir);
        let seed = seed.to_string();
        let args = [
            "fuzz",
            "--mutate",
            "bare-idiv",
            "--seed",
            &seed,
            "--cases",
            "20000",
            "--keep",
            keep,
            "--shrink-time",
            "60",
            "--quiet",
        ];
        let run = twinspace(&args);
        if !run.2.contains("while it investigated the mismatch of case") {
            // Found as a plain mismatch or a crash while fuzzing: a report either way.
            assert_eq!(run.0, 5, "{}\n{}", run.1, run.2);
            assert!(run.1.contains("MISMATCH"), "{}", run.1);
            seen.push(seed);
            continue;
        }
        let found = check_crash_report(&args, run, &dir, 8, &[Opcode::Div, Opcode::Mod], 12);
        let _ = std::fs::remove_dir_all(&dir);
        let (case_seed, size) = found.unwrap_or_else(|why| panic!("{why}"));
        eprintln!(
            "bare-idiv, seed {seed}: crashed while shrinking case seed {case_seed:#x}; the crash \
             shrunk to {size} instructions (seeds {seen:?} found no crash while shrinking)"
        );
        return;
    }
    panic!("no run of seeds 1..=30 crashed while shrinking; the test proves nothing");
}

/// Runs `twinspace ARGS`, which must report a crash by `signal` shrunk to at most `most`
/// instructions holding one of `ops`, and keep it in `dir`: the case seed and the shrunk size.
fn crash_report(
    args: &[&str],
    dir: &Path,
    signal: i32,
    ops: &[Opcode],
    most: usize,
) -> Result<(u64, usize), String> {
    check_crash_report(args, twinspace(args), dir, signal, ops, most)
}

/// [`crash_report`] on the status, standard output and standard error of `twinspace ARGS`.
fn check_crash_report(
    args: &[&str],
    (code, out, err): (i32, String, String),
    dir: &Path,
    signal: i32,
    ops: &[Opcode],
    most: usize,
) -> Result<(u64, usize), String> {
    let all = format!("`twinspace {}` (exit {code}):\n{err}\n{out}", args.join(" "));
    let killed = format!("killed by signal {signal}");
    let (seed, program) = shrunk_and_kept(
        code,
        &out,
        &all,
        dir,
        &["MISMATCH", "FAILED: the process was", &killed, "shrunk:", "kept as:", "re-run:"],
        ops,
        most,
    )?;
    // The kept reproducer crashes the engine under test again: `twinspace diff` runs it in a
    // process of its own and reports the crash at the instruction that makes it.
    let rerun = out.lines().find_map(|l| l.trim().strip_prefix("re-run:")).unwrap_or("");
    let words: Vec<&str> = rerun.split_whitespace().skip(1).collect();
    let diff = Command::new(env!("CARGO_BIN_EXE_twinspace"))
        .args(&words)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let diff_out = String::from_utf8_lossy(&diff.stdout);
    if diff.status.code() != Some(5)
        || !diff_out.contains(&killed)
        || !diff_out.contains("crashed running it")
    {
        return Err(format!(
            "`{rerun}` ended with {}, not a report of the crash at its instruction:\n{diff_out}\n{all}",
            diff.status
        ));
    }
    Ok((seed, program.len()))
}

/// The deliberate hang, caught under supervision on master seeds 1, 2 and 3, each within a
/// bounded time: a hang is a finding like a crash. Of these seeds, 3 hangs the fuzzing loop
/// itself (its case 0 never ends), 2 finds a mismatch and hangs while shrinking it, and 1
/// finds a mismatch that shrinks without meeting a hang (a plain mismatch report). Every
/// hang must end in a report of the subject's run as hung, shrunk to a few instructions (a
/// loop), kept, whose re-run `diff` reports the hang too; and `--replay` of the case seed
/// that hung the loop reports it again.
#[test]
#[cfg_attr(not(target_arch = "x86_64"), ignore = "the JIT runs on x86-64 only")]
fn a_hang_is_caught_shrunk_kept_and_reported() {
    if !support::jit_or_skip("a_hang_is_caught_shrunk_kept_and_reported") {
        return;
    }
    let limit = Duration::from_secs(300);
    let mut failures = Vec::new();
    let mut hangs = Vec::new();
    for seed in ["1", "2", "3"] {
        let dir = env::temp_dir().join(format!("twinspace-hang-{}-{seed}", std::process::id()));
        let keep = dir.to_str().unwrap();
        let args = [
            "fuzz",
            "--mutate",
            HANG,
            "--seed",
            seed,
            "--cases",
            "200000",
            "-j",
            "1",
            "--hang-after",
            HANG_AFTER,
            "--keep",
            keep,
            "--shrink-time",
            "60",
            "--quiet",
        ];
        let start = Instant::now();
        let run = twinspace_within(&args, limit);
        let secs = start.elapsed().as_secs_f64();
        if !run.1.contains("FAILED: the run hung") {
            // No hang met: a plain mismatch report.
            if run.0 != 5 || !run.1.contains("MISMATCH") {
                failures.push(format!(
                    "seed {seed}: no report (exit {}):\n{}\n{}",
                    run.0, run.2, run.1
                ));
            } else {
                eprintln!("{HANG}, seed {seed}: a plain mismatch, reported in {secs:.1} s");
            }
            let _ = std::fs::remove_dir_all(&dir);
            continue;
        }
        let during = if run.2.contains("while it investigated") {
            "met while shrinking a mismatch"
        } else {
            "in the fuzzing loop"
        };
        match check_hang_report(&args, run, &dir) {
            Ok((case_seed, size)) => {
                eprintln!(
                    "{HANG}, seed {seed}: a hang {during}, case seed {case_seed:#x}, shrunk to \
                     {size} instruction(s), reported in {secs:.1} s"
                );
                hangs.push((seed, case_seed, during));
            }
            Err(why) => failures.push(format!("seed {seed}: {why}")),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    // The case that hung the fuzzing loop, replayed: its investigation hangs at once.
    if let Some(&(_, case_seed, _)) = hangs.iter().find(|h| h.2 == "in the fuzzing loop") {
        let dir = env::temp_dir().join(format!("twinspace-hang-{}-replay", std::process::id()));
        let (keep, case_seed) = (dir.to_str().unwrap(), format!("{case_seed:#x}"));
        let args = [
            "fuzz",
            "--mutate",
            HANG,
            "--replay",
            &case_seed,
            "--hang-after",
            HANG_AFTER,
            "--keep",
            keep,
            "--shrink-time",
            "60",
        ];
        match check_hang_report(&args, twinspace_within(&args, limit), &dir) {
            Ok(_) => eprintln!("{HANG}: `--replay {case_seed}` reported the same hang"),
            Err(why) => failures.push(format!("replay {case_seed}: {why}")),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(hangs.len() >= 2, "seeds 2 and 3 hang the mutation; only {hangs:?} did");
}

/// Checks the status, standard output and standard error of `twinspace ARGS`: a report of the
/// subject's run as hung, shrunk to a loop of a few instructions kept in `dir`, whose re-run
/// `diff` reports the hang too. The case seed and the shrunk size.
fn check_hang_report(
    args: &[&str],
    (code, out, err): (i32, String, String),
    dir: &Path,
) -> Result<(u64, usize), String> {
    let all = format!("`twinspace {}` (exit {code}):\n{err}\n{out}", args.join(" "));
    // A run that never ends goes round a loop: a jump back, or a call.
    let loops = [Opcode::Jmp, Opcode::Jz, Opcode::Jn, Opcode::Call];
    let (seed, program) = shrunk_and_kept(
        code,
        &out,
        &all,
        dir,
        &["MISMATCH", "FAILED: the run hung", "shrunk:", "kept as:", "re-run:"],
        &loops,
        6,
    )?;
    // The kept reproducer's `diff` reports the hang too, within its bound.
    let rerun = out.lines().find_map(|l| l.trim().strip_prefix("re-run:")).unwrap_or("");
    let words: Vec<&str> = rerun.split_whitespace().skip(1).collect();
    let (code, diff, derr) = twinspace_within(&words, Duration::from_secs(120));
    if code != 5 || !diff.contains("FAILED: the run hung") {
        return Err(format!("`{rerun}` (exit {code}) reports no hang:\n{derr}\n{diff}\n{all}"));
    }
    Ok((seed, program.len()))
}

/// What a crash and a hang report share: exit 5, every one of `needles` in the report, its
/// case seed, and one reproducer kept in `dir` of at most `most` instructions holding one of
/// `ops`. The case seed and the kept program.
fn shrunk_and_kept(
    code: i32,
    out: &str,
    all: &str,
    dir: &Path,
    needles: &[&str],
    ops: &[Opcode],
    most: usize,
) -> Result<(u64, Program), String> {
    if code != 5 {
        return Err(format!("expected exit 5, a mismatch; {all}"));
    }
    for needle in needles {
        if !out.contains(needle) {
            return Err(format!("the report lacks {needle:?}; {all}"));
        }
    }
    let seed = reported_seed(out).ok_or_else(|| format!("no case seed in the report; {all}"))?;
    let kept: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("nothing kept in {}: {e}; {all}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ws"))
        .collect();
    let [ws] = kept.as_slice() else {
        return Err(format!("expected one kept .ws in {}, found {kept:?}; {all}", dir.display()));
    };
    let program = parse(&std::fs::read(ws).unwrap()).map_err(|e| format!("{e}; {all}"))?;
    if program.len() > most || !program.instructions().iter().any(|i| ops.contains(&i.opcode())) {
        return Err(format!(
            "shrunk to {} instructions:\n{}{all}",
            program.len(),
            print_asm(&program)
        ));
    }
    Ok((seed, program))
}

/// [`twinspace`], killed (and failing) if it runs longer than `limit`.
fn twinspace_within(args: &[&str], limit: Duration) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_twinspace"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`twinspace {}` did not finish within {limit:?}:\n{}",
                args.join(" "),
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
    (status.code().unwrap_or(-1), read(&out), read(&err))
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
    // `--replay` runs supervised too, and passes on its child's verdict.
    let (code, out, err) = twinspace(&["fuzz", "--replay", "0x5", "--no-keep"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("case seed 0x0000000000000005: interp and jit agree"), "{out}");

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

    // A supervised `fuzz` report names the exact instruction too (its child wraps the engine
    // to record each case, and the wrapper must still let the search cut the JIT's blocks).
    let (code, out, err) =
        twinspace(&["fuzz", "--seed", "1", "--cases", "20000", "--no-keep", mutate[0], mutate[1]]);
    assert_eq!(code, 5, "{out}\n{err}");
    assert!(out.contains("first divergence: instruction"), "{out}");
    assert!(!out.contains("not narrowed inside the block"), "{out}");
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
