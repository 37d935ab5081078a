//! `twinspace bench`: run programs on each engine and report speed, never as a pass/fail.
//!
//! Per program and engine: the median wall time of `--repeat` runs inside this process, the
//! instructions executed and per second, the speed-up over the interpreter, and for the JIT
//! its median compile time. `--fuel 0` measures compiling alone (the run stops before its
//! first instruction); `benches/compile-program.sh` writes programs of any size for that.
//! Whole-process comparisons with other implementations are `benches/compare.sh`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use std::sync::Arc;

use twinspace::engine::{self, Engine};
use twinspace::outcome::Parts;
use twinspace::{Input, Output, Program, Termination};

use super::out::outln;
use super::stops::{Stopping, exit_code, parse_timeout};
use super::{CliExit, EngineArg, SourceArgs, load_program, read_path};

/// Arguments of `twinspace bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// The programs to measure.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The engines to measure: an engine's name, or `both` (default: every engine that can
    /// run here).
    #[arg(long, value_name = "ENGINE", value_parser = EngineArg::parse)]
    pub engine: Option<EngineArg>,
    /// Runs per program and engine; the medians (run time, compile time) are reported.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub repeat: usize,
    /// The programs' input (the same bytes for every run), syntax and limits.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Stop the whole benchmark after this many seconds of wall-clock time (fractions
    /// allowed); a run it stops is reported as stopped, exit code 4.
    #[arg(long, value_name = "SECS", default_value = "300", value_parser = parse_timeout)]
    pub timeout: Duration,
}

/// One engine's measurement of one program.
struct Measure {
    engine: Arc<dyn Engine>,
    median: Duration,
    executed: u64,
    compile: Option<Duration>,
    termination: Termination,
    output: Vec<u8>,
}

/// Runs `twinspace bench`.
pub fn bench(args: BenchArgs) -> ExitCode {
    let engines = EngineArg::engines(args.engine.as_ref(), engine::available);
    let input = match &args.source.input {
        Some(path) => match read_path(path) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("twinspace: {}", super::input_file_message(path, &e));
                return CliExit::HostError.into();
            }
        },
        None => Vec::new(),
    };
    outln!(
        "{:<28} {:>9} {:<7} {:>10} {:>14} {:>11} {:>9} {:>10}",
        "program",
        "size",
        "engine",
        "median s",
        "instructions",
        "M instr/s",
        "vs interp",
        "compile"
    );
    let stopping = Stopping::start(Some(args.timeout));
    let mut status = CliExit::Ok;
    for file in &args.files {
        let program = match load_program(file, args.source.syntax) {
            Ok(p) => p,
            Err(exit) => return exit.into(),
        };
        let mut measures = Vec::new();
        for engine in &engines {
            match measure(&program, engine, &args, &input) {
                Ok(m) => measures.push(m),
                Err(e) => {
                    eprintln!("twinspace: {} on {engine}: {e}", file.display());
                    if let Some(cause) = stopping.stop.requested() {
                        return exit_code(cause);
                    }
                    status = CliExit::HostError;
                }
            }
        }
        let interp = measures.iter().find(|m| m.engine.name() == "interp").map(|m| m.median);
        let name = file
            .file_name()
            .map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().into_owned());
        for m in &measures {
            let secs = m.median.as_secs_f64();
            let ratio = interp
                .map(|i| format!("{:.1}x", i.as_secs_f64() / secs.max(1e-9)))
                .unwrap_or_else(|| "-".into());
            let compile = m
                .compile
                .map(|c| format!("{:.3} ms", c.as_secs_f64() * 1e3))
                .unwrap_or_else(|| "-".into());
            outln!(
                "{name:<28} {:>9} {:<7} {secs:>10.4} {:>14} {:>11.1} {ratio:>9} {compile:>10}",
                program.len(),
                m.engine.name(),
                m.executed,
                m.executed as f64 / secs.max(1e-9) / 1e6,
            );
        }
        if let Some(first) = measures.first() {
            for m in &measures[1..] {
                if m.output != first.output
                    || m.termination != first.termination
                    || m.executed != first.executed
                {
                    eprintln!(
                        "twinspace: {name}: {} and {} disagree (run `twinspace diff {}`)",
                        first.engine,
                        m.engine,
                        file.display()
                    );
                    status = CliExit::Mismatch;
                }
            }
            if let Termination::Trapped(t) = first.termination {
                eprintln!("note: {name} trapped: {} at {}", t.kind, t.index);
            }
        }
    }
    status.into()
}

fn measure(
    program: &Program,
    engine: &Arc<dyn Engine>,
    args: &BenchArgs,
    input: &[u8],
) -> Result<Measure, twinspace::HostError> {
    let mut times = Vec::new();
    let mut last = None;
    let mut compiles = Vec::new();
    for _ in 0..args.repeat.max(1) {
        let mut sink = Vec::new();
        let started = Instant::now();
        let finish = {
            let mut output = Output::new(&mut sink);
            let mut input = Input::from_bytes(input);
            let (limits, stop) = (args.source.limits.limits(), twinspace::Stop::current());
            let (finish, stats) =
                engine.stream(program, limits, Parts::all(), &stop, &mut input, &mut output)?;
            compiles.extend(stats.compile_time);
            finish
        };
        times.push(started.elapsed());
        last = Some((finish, sink));
    }
    times.sort();
    compiles.sort();
    let (finish, output) = last.expect("at least one run");
    Ok(Measure {
        engine: Arc::clone(engine),
        median: times[times.len() / 2],
        executed: finish.executed,
        compile: compiles.get(compiles.len() / 2).copied(),
        termination: finish.termination,
        output,
    })
}
