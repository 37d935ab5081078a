//! The engines on the project's CPU-heavy programs (`benches/programs/`, written by its
//! `make.py`): each program runs several times on each available engine, and the report gives
//! the median wall time, executed instructions per second, and the ratio of the interpreter's
//! time to each other engine's.
//!
//! ```text
//! cargo bench --bench engines                               # the small sizes
//! TWINSPACE_BENCH_SIZE=large cargo bench --bench engines    # small | large | all
//! TWINSPACE_BENCH_RUNS=9 cargo bench --bench engines -- fib # more runs, only fib
//! ```
//!
//! Every run's output must be the program's `.out` (computed in Python, not by an engine), every
//! engine must agree with the interpreter on the executed count, and each `.ws` must be its
//! assembled `.wsa`; a failure of any of these makes the bench exit non-zero. Times are only
//! reported, never asserted.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use std::sync::Arc;
use twinspace::syntax::{assemble, parse};

use twinspace::engine::{self, Engine};
use twinspace::outcome::Parts;
use twinspace::{Finish, Input, Limits, Output, Program, Stop, Termination};

/// The variable that picks the sizes to run.
const SIZE_VAR: &str = "TWINSPACE_BENCH_SIZE";
/// The variable that sets the number of timed runs per program and engine.
const RUNS_VAR: &str = "TWINSPACE_BENCH_RUNS";

/// One benchmark program at one size.
struct Bench {
    /// `NAME_SIZE`, as in the file names.
    name: String,
    program: Program,
    expected: Vec<u8>,
}

/// What the runs of one program on one engine measured.
struct Measured {
    engine: Arc<dyn Engine>,
    median: Duration,
    compile: Option<Duration>,
    executed: u64,
}

fn main() -> ExitCode {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let sizes: &[&str] = match std::env::var(SIZE_VAR).as_deref() {
        Err(_) | Ok("" | "small") => &["small"],
        Ok("large") => &["large"],
        Ok("all") => &["small", "large"],
        Ok(other) => {
            eprintln!("{SIZE_VAR}={other}: expected small, large or all");
            return ExitCode::FAILURE;
        }
    };
    let runs = match std::env::var(RUNS_VAR).map(|r| r.parse::<usize>()) {
        Err(_) => 5,
        Ok(Ok(n)) if n > 0 => n,
        Ok(_) => {
            eprintln!("{RUNS_VAR} must be a positive number of runs");
            return ExitCode::FAILURE;
        }
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/programs");
    let mut failures = Vec::new();
    let benches = match load(&dir, sizes, &filters, &mut failures) {
        Ok(benches) => benches,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let engines = engine::available();
    let unavailable: Vec<String> =
        engine::all().iter().filter(|e| e.unavailable().is_some()).map(|e| e.name()).collect();
    println!(
        "{} program(s), sizes {}, {runs} run(s) each, median wall time per run{}",
        benches.len(),
        sizes.join("+"),
        if unavailable.is_empty() {
            String::new()
        } else {
            format!(" (not available here: {})", unavailable.join(", "))
        }
    );
    println!(
        "{:<14} {:<7} {:>11} {:>11} {:>14} {:>12} {:>10}",
        "program", "engine", "median", "compile", "instructions", "M instr/s", "speed-up"
    );
    for bench in &benches {
        let mut measured: Vec<Measured> = Vec::new();
        for engine in &engines {
            match measure(bench, engine, runs) {
                Ok(m) => measured.push(m),
                Err(message) => {
                    println!("{:<14} {:<7} FAILED", bench.name, engine.name());
                    failures.push(format!("{} on {engine}: {message}", bench.name));
                }
            }
        }
        let reference = measured.iter().find(|m| m.engine.name() == "interp");
        for m in &measured {
            let speed_up = match reference {
                Some(r) if m.engine.name() != "interp" => {
                    format!("{:.1}x", r.median.as_secs_f64() / m.median.as_secs_f64())
                }
                _ => String::new(),
            };
            println!(
                "{:<14} {:<7} {:>11} {:>11} {:>14} {:>12.1} {:>10}",
                bench.name,
                m.engine.name(),
                show(m.median),
                m.compile.map(show).unwrap_or_default(),
                m.executed,
                m.executed as f64 / m.median.as_secs_f64() / 1e6,
                speed_up,
            );
            if let Some(r) = reference.filter(|r| r.executed != m.executed) {
                failures.push(format!(
                    "{} on {}: executed {} instructions, the interpreter {}",
                    bench.name, m.engine, m.executed, r.executed
                ));
            }
        }
    }
    if failures.is_empty() {
        return ExitCode::SUCCESS;
    }
    eprintln!("\n{} failure(s):", failures.len());
    for f in &failures {
        eprintln!("- {f}");
    }
    ExitCode::FAILURE
}

/// The programs of `dir` at `sizes` whose name contains one of `filters` (all when none).
/// Problems with single programs are pushed to `failures`; a missing folder is an error.
fn load(
    dir: &Path,
    sizes: &[&str],
    filters: &[String],
    failures: &mut Vec<String>,
) -> Result<Vec<Bench>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut stems: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ws"))
        .map(|p| p.with_extension(""))
        .collect();
    stems.sort();
    let mut benches = Vec::new();
    for stem in stems {
        let name = stem.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let size_ok = sizes.iter().any(|s| name.ends_with(&format!("_{s}")));
        if !size_ok || !(filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))) {
            continue;
        }
        match load_one(&stem) {
            Ok((program, expected)) => benches.push(Bench { name, program, expected }),
            Err(message) => failures.push(format!("{name}: {message}")),
        }
    }
    Ok(benches)
}

/// A program and its expected output; checks that its `.ws` is its assembled `.wsa`.
fn load_one(stem: &Path) -> Result<(Program, Vec<u8>), String> {
    let read = |ext: &str| {
        let path = stem.with_extension(ext);
        std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let program = parse(&read("ws")?).map_err(|e| format!("does not parse: {e}"))?;
    let listing = String::from_utf8(read("wsa")?).map_err(|_| "the .wsa is not UTF-8")?;
    let listed = assemble(&listing).map_err(|e| format!(".wsa:{e}"))?;
    if listed.instructions() != program.instructions() {
        return Err("the .ws is not the assembled .wsa: run benches/programs/make.py \
                    --assemble"
            .into());
    }
    Ok((program, read("out")?))
}

/// Runs `bench` on `engine` `runs` times, checking each run's output.
fn measure(bench: &Bench, engine: &Arc<dyn Engine>, runs: usize) -> Result<Measured, String> {
    let mut times = Vec::with_capacity(runs);
    let mut compile = Vec::new();
    let mut executed = 0;
    for _ in 0..runs {
        let mut sink = Vec::with_capacity(bench.expected.len());
        let started = Instant::now();
        let (finish, compile_time) = run(&bench.program, &**engine, &mut sink)?;
        times.push(started.elapsed());
        compile.extend(compile_time);
        if finish.termination != Termination::Ended {
            return Err(format!("stopped with {}", finish.termination));
        }
        if sink != bench.expected {
            let diff = twinspace::textdiff::unified_diff(
                "expected (.out)",
                &bench.expected,
                "actual",
                &sink,
            );
            return Err(format!("wrong output:\n{diff}"));
        }
        executed = finish.executed;
    }
    Ok(Measured {
        engine: Arc::clone(engine),
        median: median(times),
        compile: median_opt(compile),
        executed,
    })
}

/// One run, with the JIT's compile time when the engine reports it.
fn run(
    program: &Program,
    engine: &dyn Engine,
    sink: &mut Vec<u8>,
) -> Result<(Finish, Option<Duration>), String> {
    let mut input = Input::from_bytes(b"");
    let mut output = Output::new(sink);
    let (limits, all, stop) = (Limits::DEFAULT, Parts::all(), Stop::current());
    let result = engine.stream(program, limits, all, &stop, &mut input, &mut output);
    result
        .map(|(finish, stats)| (finish, stats.compile_time))
        .map_err(|e| format!("host error: {e}"))
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn median_opt(times: Vec<Duration>) -> Option<Duration> {
    (!times.is_empty()).then(|| median(times))
}

/// A duration in the unit that suits it.
fn show(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}
