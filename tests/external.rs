//! External engines, proven with nothing installed: twinspace's own binary plays the other
//! implementation (`cmd:<twinspace> run --engine interp {}`), correct or with a deliberate JIT
//! mutation compiled in (`run --engine jit:mutate=NAME`: the test build has the `mutations`
//! feature).
//!
//! - the correct one passes `conform` entirely, with exactly the items not applicable that
//!   the rules of `twinspace::conform` name;
//! - a mutated one fails exactly the items on which the same mutated JIT, run in this process,
//!   gives another output or ending than the suite expects;
//! - `fuzz --engine 'cmd:... --engine jit:mutate=slide-off-by-one {}'` finds, shrinks and keeps
//!   a mismatch, with a small case budget; with two engines and a third opinion too;
//! - `diff` and `shrink --engine cmd:...` on one program;
//! - engines named in `twinspace.toml`, `run --engine cmd:...`, and the JUnit report.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use twinspace::case::ExpectedOutcome;
use twinspace::conform::{self, not_applicable_externally};
use twinspace::engine::{self, Engine, RunCase};
use twinspace::{Termination, TrapKind};

const BIN: &str = env!("CARGO_BIN_EXE_twinspace");

/// The pattern by which `twinspace run` names a trap on standard error.
const TRAP: &str = "trap: {kind}";

fn twinspace(args: &[&str], dir: &Path) -> Output {
    Command::new(BIN).args(args).current_dir(dir).output().expect("twinspace runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The ids of the items of a JSON report with this verdict (one item a line there).
fn ids_with(json: &str, verdict: &str) -> BTreeSet<String> {
    json.lines()
        .filter(|l| l.contains(&format!("\"verdict\": \"{verdict}\"")))
        .filter_map(|l| l.split("\"id\": \"").nth(1)?.split('"').next().map(str::to_owned))
        .collect()
}

fn engine(extra: &str) -> String {
    format!("cmd:{BIN} run {extra} {{}}")
}

fn conform_json(spec: &str) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let o =
        twinspace(&["conform", spec, "--trap", TRAP, "--format", "json", "-j", "2"], dir.path());
    let json = stdout(&o);
    (o, json)
}

/// Why the JIT cannot run here, if it cannot.
fn jit_unavailable() -> Option<String> {
    engine::Jit::default().unavailable()
}

fn suite() -> Vec<conform::Item> {
    conform::load(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn the_reference_as_an_external_engine_passes_everything_applicable() {
    let (o, json) = conform_json(&engine("--engine interp"));
    assert_eq!(o.status.code(), Some(0), "{json}\n{}", String::from_utf8_lossy(&o.stderr));
    let items = suite();
    let expected_na: BTreeSet<String> = items
        .iter()
        .filter(|i| not_applicable_externally(i.body.as_ref().unwrap()).is_some())
        .map(|i| i.id.clone())
        .collect();
    // The rules, restated: every case with a `limits:` line of its own, or expecting a limit's
    // trap, or checking only state, is among them; they are a minority of some hundreds.
    assert!(expected_na.contains("limits::fuel-exactly-enough"), "{expected_na:?}");
    assert!(expected_na.contains("corpus/programs::forever"));
    assert!(!expected_na.contains("corpus/programs::hello"));
    assert_eq!(ids_with(&json, "not_applicable"), expected_na);
    assert_eq!(ids_with(&json, "failed"), BTreeSet::new());
    assert_eq!(ids_with(&json, "passed").len() + expected_na.len(), items.len());
    assert!(
        json.contains("\"not_compared\": \"trap index, stack, heap, executed count, transcript\"")
    );
}

/// Whether the mutated JIT, in this process, gives the output and ending `item` expects (on
/// what an external engine with a trap pattern shows).
fn mutant_passes(item: &conform::Item, mutant: &dyn Engine) -> bool {
    let body = item.body.as_ref().unwrap();
    let Ok(program) = &body.program else { return true }; // parsing is not mutated
    let case = RunCase::new(program.clone(), body.input.clone(), body.limits);
    let Ok(outcome) = mutant.run(&case).result else { return false };
    let ending_ok = match (&body.expectation.outcome, outcome.finish.termination) {
        (ExpectedOutcome::Ended, Termination::Ended) => true,
        (ExpectedOutcome::Trap { kind, .. }, Termination::Trapped(t)) => *kind == t.kind,
        _ => false,
    };
    let runaway = outcome.finish.termination.trap().is_some_and(|t| t.kind == TrapKind::OutOfFuel);
    ending_ok && !runaway && outcome.output == body.expectation.stdout
}

#[test]
fn a_mutated_external_engine_fails_exactly_what_the_mutation_breaks() {
    let mutant = engine::by_name("jit:mutate=copy-off-by-one").unwrap();
    if let Some(why) = mutant.unavailable() {
        eprintln!("skipped: the JIT cannot run here ({why})");
        return;
    }
    let (o, json) = conform_json(&engine("--engine jit:mutate=copy-off-by-one"));
    let expected: BTreeSet<String> = suite()
        .iter()
        .filter(|i| not_applicable_externally(i.body.as_ref().unwrap()).is_none())
        .filter(|i| !mutant_passes(i, &*mutant))
        .map(|i| i.id.clone())
        .collect();
    assert!(!expected.is_empty(), "the mutation breaks nothing the suite shows");
    assert_eq!(ids_with(&json, "failed"), expected);
    assert_eq!(o.status.code(), Some(5));
    assert!(json.contains("\"rerun\": \"twinspace conform"), "{json}");
}

#[test]
fn fuzzing_an_external_engine_finds_shrinks_and_keeps_a_mismatch() {
    if let Some(why) = jit_unavailable() {
        eprintln!("skipped: the JIT cannot run here ({why})");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("kept");
    let spec = engine("--engine jit:mutate=slide-off-by-one");
    let o = twinspace(
        &[
            "fuzz",
            "--engine",
            &spec,
            "--cases",
            "300",
            "--seed",
            "1",
            "-j",
            "2",
            "--quiet",
            "--shrink-time",
            "3",
            "--engine-timeout",
            "2",
            "--keep",
            keep.to_str().unwrap(),
        ],
        dir.path(),
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(5), "{out}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("MISMATCH: interp and cmd:"), "{out}");
    assert!(out.contains("shrunk:"), "{out}");
    assert!(
        out.contains(
            "not compared: trap kind, trap index, stack, heap, executed count, transcript"
        )
    );
    assert!(out.contains("engines:") && out.contains("programs/s"), "{out}");
    let kept: Vec<_> = std::fs::read_dir(&keep).unwrap().filter_map(Result::ok).collect();
    assert!(kept.iter().any(|e| e.path().extension().is_some_and(|x| x == "expect")), "{kept:?}");
}

#[test]
fn a_named_engine_from_the_config_file_runs_and_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "# the reference, as another program\n[engine.self]\ncommand = \"{BIN} run --engine interp {{}}\"\ntrap = \"{TRAP}\"\ntimeout = 20\n"
    );
    std::fs::write(dir.path().join("twinspace.toml"), config).unwrap();
    let o =
        twinspace(&["conform", "self", "--filter", "stack::", "--filter", "traps::"], dir.path());
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("engine:       self") && out.contains("total"), "{out}");
    let hello = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/programs/hello.ws");
    let o = twinspace(&["run", "--engine", "self", hello.to_str().unwrap()], dir.path());
    assert_eq!(stdout(&o), "Hello, world!\n");
    let junit = dir.path().join("report.xml");
    let o = twinspace(
        &["conform", "self", "--filter", "corpus/programs::h", "--junit", junit.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0));
    let xml = std::fs::read_to_string(junit).unwrap();
    assert!(
        xml.contains("<testsuites name=\"twinspace conform self\" tests=\"1\" failures=\"0\""),
        "{xml}"
    );
    let o = twinspace(&["conform", "nonesuch"], dir.path());
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_failing_item_shows_its_diff_and_the_command_that_reruns_it() {
    // An "implementation" that prints nothing and always ends: every item with output fails.
    let dir = tempfile::tempdir().unwrap();
    let o =
        twinspace(&["conform", "cmd:true {}", "--filter", "corpus/programs::hello"], dir.path());
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(5), "{out}");
    assert!(out.contains("FAILED corpus/programs::hello"), "{out}");
    assert!(out.contains("-Hello,␠world!␊"), "{out}");
    assert!(out.contains("rerun: twinspace conform 'cmd:true {}' --filter corpus/programs::hello"));
}

#[test]
fn two_engines_and_a_third_opinion_find_the_one_that_disagrees() {
    if let Some(why) = jit_unavailable() {
        eprintln!("skipped: the JIT cannot run here ({why})");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("kept");
    let good = engine("--engine interp");
    let bad = engine("--engine jit:mutate=slide-off-by-one");
    let o = twinspace(
        &[
            "fuzz",
            "--engine",
            "jit",
            "--engine",
            &good,
            "--engine",
            &bad,
            "--third",
            &good,
            "--cases",
            "300",
            "--seed",
            "1",
            "-j",
            "2",
            "--quiet",
            "--shrink-time",
            "2",
            "--keep",
            keep.to_str().unwrap(),
        ],
        dir.path(),
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(5), "{out}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains(&format!("MISMATCH: interp and {bad}")), "{out}");
    assert!(out.contains(&format!("third opinion: {good} agrees with interp")), "{out}");
    assert!(out.contains("engines:") && out.contains(" n/a "), "{out}");
    // The diff of the kept case names the engine that disagreed alone; the replay, all.
    let diff = out.lines().find(|l| l.contains("twinspace diff")).unwrap_or("");
    assert_eq!(diff.matches("--engine 'cmd:").count(), 1, "{out}");
    assert!(diff.contains("jit:mutate=slide-off-by-one") && !diff.contains("--third"), "{out}");
    let replay = out.lines().find(|l| l.contains("twinspace fuzz --replay")).unwrap_or("");
    assert!(replay.contains("--third") && replay.contains("--engine jit "), "{out}");
}

#[test]
fn diff_and_shrink_compare_one_program_with_an_external_engine() {
    if let Some(why) = jit_unavailable() {
        eprintln!("skipped: the JIT cannot run here ({why})");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("p.wsa");
    std::fs::write(&program, "push 1 | push 2 | push 3 | slide 1 | printi | printi | end\n")
        .unwrap();
    let p = program.to_str().unwrap();
    let o = twinspace(&["diff", p, "--engine", &engine("--engine interp")], dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let bad = engine("--engine jit:mutate=slide-off-by-one");
    let o = twinspace(&["diff", p, "--engine", &bad], dir.path());
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(5), "{out}");
    assert!(out.contains("not compared: trap kind, trap index"), "{out}");
    let small = dir.path().join("small.wsa");
    let o = twinspace(
        &["shrink", p, "--engine", &bad, "--time", "2", "-o", small.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(5), "{}", stdout(&o));
    assert!(small.exists());
}
