//! `fuzz-case`: what a fuzzer input means, and how it becomes a corpus regression.
//!
//! ```text
//! fuzz-case show TARGET FILE                 the case FILE decodes to, and the reference's outcome
//! fuzz-case write TARGET FILE OUT.ws         the program as OUT.ws, its input as OUT.in, and the
//!                                            `twinspace diff` command that runs it
//! fuzz-case keep TARGET FILE [DIR] [SECS]    check it (in a process of its own, so a crash is seen),
//!                                            shrink the mismatch (SECS, default 30) and keep it in DIR
//!                                            (default corpus/regressions), with the report
//! fuzz-case seeds DIR                        a seed corpus: DIR/differential from seeded draws,
//!                                            DIR/raw and DIR/parse from corpus/programs/*.ws
//! ```
//!
//! TARGET is `differential` or `raw` (the input formats of those targets). Exit status: 0 the
//! engines agree (or the command did what it says), 5 a mismatch was found (and kept), 2 bad
//! usage, 4 a file could not be read or written.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use twinspace::Limits;
use twinspace::differential::report::Report;
use twinspace::differential::supervise::{probe_crash, shrink_crash};
use twinspace::differential::{Parts, check, investigate, keep};
use twinspace::engine::{Engine, Interp, RunCase};
use twinspace::generate::record_draws;
use twinspace::syntax::{parse, print_asm, print_ws};
use twinspace_fuzz::{RAW_SEED_PREFIX, RawCase, differential_case, subject};

const USAGE: &str = "usage: fuzz-case show|write|keep TARGET FILE ... | fuzz-case seeds DIR \
                     (TARGET: differential or raw; see fuzz/README.md)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match words.as_slice() {
        ["show", target, file] => decode(target, file).map(|c| show(&c)),
        ["write", target, file, out] => decode(target, file).and_then(|c| write(&c, out.as_ref())),
        ["keep", target, file, rest @ ..] if rest.len() <= 2 => {
            let dir = rest.first().map_or("corpus/regressions", |d| d);
            let secs = match rest.get(1).map(|s| s.parse::<f64>()) {
                None => Ok(30.0),
                Some(Ok(s)) if s >= 0.0 && s.is_finite() => Ok(s),
                Some(_) => Err(Failed::Usage(format!("`{}` is not a number of seconds", rest[1]))),
            };
            secs.and_then(|secs| {
                decode(target, file).and_then(|c| keep_case(&c, target, Path::new(dir), secs))
            })
        }
        ["seeds", dir] => seeds(Path::new(dir)).map(|()| ExitCode::SUCCESS),
        // Internal: one run of both engines, for `keep`'s crash probe (status 5: mismatch).
        ["probe", ws, input, limits @ ..] => probe(ws, input, limits),
        _ => Err(Failed::Usage(USAGE.to_owned())),
    };
    result.unwrap_or_else(|failed| {
        let (message, status) = match failed {
            Failed::Usage(m) => (m, 2),
            Failed::Host(m) => (m, 4),
        };
        eprintln!("fuzz-case: {message}");
        ExitCode::from(status)
    })
}

enum Failed {
    Usage(String),
    Host(String),
}

fn read(path: &str) -> Result<Vec<u8>, Failed> {
    std::fs::read(path).map_err(|e| Failed::Host(format!("cannot read {path}: {e}")))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Failed> {
    std::fs::write(path, bytes)
        .map_err(|e| Failed::Host(format!("cannot write {}: {e}", path.display())))
}

/// The case a fuzzer input of `target` decodes to.
fn decode(target: &str, file: &str) -> Result<RunCase, Failed> {
    let data = read(file)?;
    match target {
        "differential" => Ok(differential_case(&data)),
        "raw" => {
            let raw = RawCase::decode(&data);
            let program = parse(&raw.source).map_err(|e| {
                Failed::Usage(format!("{file}: the source does not parse, so nothing runs: {e}"))
            })?;
            Ok(RunCase::new(program, raw.input, raw.limits))
        }
        _ => Err(Failed::Usage(format!("unknown target `{target}` (differential or raw)"))),
    }
}

fn limit_words(limits: Limits) -> Vec<String> {
    [limits.fuel, limits.stack as u64, limits.calls as u64, limits.heap as u64]
        .into_iter()
        .chain([limits.value_bits, limits.big_words])
        .map(|n| n.to_string())
        .collect()
}

fn limit_flags(limits: Limits) -> String {
    let names = ["--fuel", "--max-stack", "--max-calls", "--max-heap"];
    let names = names.into_iter().chain(["--max-value-bits", "--max-big-words"]);
    names.zip(limit_words(limits)).map(|(n, v)| format!(" {n} {v}")).collect()
}

fn show(case: &RunCase) -> ExitCode {
    println!("limits: {}", limit_flags(case.limits).trim());
    println!("input ({} bytes): {:?}", case.input.len(), String::from_utf8_lossy(&case.input));
    println!("program ({} instructions):", case.program.len());
    print!("{}", print_asm(&case.program));
    match Interp.run(case).result {
        Ok(outcome) => {
            let t = twinspace::differential::report::termination(
                &case.program,
                &outcome.finish.termination,
            );
            println!("reference: {t}, {} bytes of output", outcome.output.len());
            let shown = String::from_utf8_lossy(&outcome.output[..outcome.output.len().min(400)]);
            println!("output (at most 400 bytes shown): {shown:?}");
        }
        Err(e) => println!("reference failed: {e}"),
    }
    ExitCode::SUCCESS
}

fn write(case: &RunCase, out: &Path) -> Result<ExitCode, Failed> {
    write_file(out, &print_ws(&case.program))?;
    let mut input = String::new();
    if !case.input.is_empty() {
        let path = out.with_extension("in");
        write_file(&path, &case.input)?;
        input = format!(" --input {}", path.display());
    }
    println!("twinspace diff {}{input}{}", out.display(), limit_flags(case.limits));
    Ok(ExitCode::SUCCESS)
}

/// `probe WS IN FUEL STACK CALLS HEAP VALUE_BITS BIG_WORDS`: runs both engines, exit 5 on a
/// mismatch; a crash kills this process, which is what the caller looks for.
fn probe(ws: &str, input: &str, limits: &[&str]) -> Result<ExitCode, Failed> {
    let n: Vec<u64> = limits.iter().filter_map(|w| w.parse().ok()).collect();
    let [fuel, stack, calls, heap, value_bits, big_words] = n[..] else {
        return Err(Failed::Usage("probe WS IN FUEL STACK CALLS HEAP VALUE_BITS BIG_WORDS".into()));
    };
    let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let limits = Limits {
        fuel,
        stack: size(stack),
        calls: size(calls),
        heap: size(heap),
        value_bits,
        big_words,
    };
    let program = parse(&read(ws)?).map_err(|e| Failed::Usage(format!("{ws}: {e}")))?;
    let case = RunCase::new(program, read(input)?, limits);
    let agree = check(&case, subject(), Parts::all()).mismatch.is_none();
    Ok(if agree { ExitCode::SUCCESS } else { ExitCode::from(5) })
}

fn keep_case(case: &RunCase, target: &str, dir: &Path, secs: f64) -> Result<ExitCode, Failed> {
    let host = |e: std::io::Error| Failed::Host(e.to_string());
    let scratch = std::env::temp_dir().join(format!("fuzz-case-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(host)?;
    let exe = std::env::current_exe().map_err(host)?;
    let probe = |ws: &Path, input: &Path, limits: Limits| {
        let mut c = Command::new(&exe);
        c.arg("probe").arg(ws).arg(input).args(limit_words(limits));
        c.env("TWINSPACE_FUZZ_ENGINE", subject().name());
        c
    };
    let budget = Duration::from_secs_f64(secs);
    let crash = probe_crash(case, &scratch, &probe);
    let finding = match crash.map_err(host)? {
        Some((why, _)) => {
            eprintln!(
                "fuzz-case: the case crashes the process ({why}); shrinking it, each candidate in a process of its own"
            );
            shrink_crash(case, &scratch, &probe, Parts::all(), why, budget, &|| false)
                .map_err(host)?
        }
        None => investigate(case, subject(), Parts::all(), Some(budget)),
    };
    let _ = std::fs::remove_dir_all(&scratch);
    let Some(finding) = finding else {
        println!("the engines agree on this case: nothing to keep");
        return Ok(ExitCode::SUCCESS);
    };
    let kept = match &finding.reference.result {
        Ok(reference) => {
            let note = [format!("Found by the cargo-fuzz target `{target}`.")];
            let kept = keep::keep(dir, &finding.case, reference, &finding.signature, &note)
                .map_err(|e| Failed::Host(format!("cannot keep in {}: {e}", dir.display())))?;
            Some(format!("{}{}", kept.ws.display(), if kept.new { "" } else { " (already kept)" }))
        }
        Err(e) => {
            eprintln!("fuzz-case: the reference failed ({e}): no expected outcome to keep");
            None
        }
    };
    let ws = dir.join(format!("{}.ws", keep::name(&finding.case, &finding.signature)));
    let input = dir.join(format!("{}.in", keep::name(&finding.case, &finding.signature)));
    let input = if finding.case.input.is_empty() {
        String::new()
    } else {
        format!(" --input {}", input.display())
    };
    let report = Report {
        finding: &finding,
        reference_name: Interp.name(),
        subject_name: subject().name(),
        origin: Some(format!("the cargo-fuzz target `{target}`")),
        rerun: vec![format!(
            "twinspace diff {}{input}{}",
            ws.display(),
            limit_flags(finding.case.limits)
        )],
        kept,
    };
    print!("{}", report.render());
    Ok(ExitCode::from(5))
}

/// Seed inputs: the choices of seeds 0..64 for `differential` (as bytes that decode to them,
/// `twinspace::generate::record_draws`: the case `twinspace::generate::generate(seed)` makes,
/// fractions rounded to 1/256), and the repository's own programs for `raw` (after
/// [`RAW_SEED_PREFIX`]) and `parse`.
fn seeds(dir: &Path) -> Result<(), Failed> {
    let host = |e: std::io::Error| Failed::Host(format!("{}: {e}", dir.display()));
    for target in ["differential", "raw", "parse"] {
        std::fs::create_dir_all(dir.join(target)).map_err(host)?;
    }
    for seed in 0..64u64 {
        let (_, bytes) = record_draws(seed, twinspace_fuzz::knobs());
        write_file(&dir.join("differential").join(format!("seed-{seed}")), &bytes)?;
    }
    let programs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../corpus/programs");
    let entries = std::fs::read_dir(&programs)
        .map_err(|e| Failed::Host(format!("cannot read {}: {e}", programs.display())))?;
    let mut count = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "ws") {
            let source = read(&path.to_string_lossy())?;
            let name = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
            write_file(&dir.join("parse").join(&name), &source)?;
            let mut raw = RAW_SEED_PREFIX.to_vec();
            raw.extend(&source);
            write_file(&dir.join("raw").join(&name), &raw)?;
            count += 1;
        }
    }
    println!("wrote 64 differential seeds and {count} programs to {}/raw and parse", dir.display());
    Ok(())
}
