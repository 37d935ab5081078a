//! `twinspace run`: run a program with standard input and output on one engine, or on both
//! and compare.

use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use twinspace::abbrev::abbreviate;
use twinspace::engine::{self, Engine, RunStats};
use twinspace::outcome::Parts;
use twinspace::{Finish, HostError, Input, Output, Program, Termination};

use super::stops::{StdinWatch, Stop, Stopping, as_stopped, exit_code, parse_timeout};
use super::{CliExit, EngineArg, SourceArgs, host_error_message, input_file_message, load_program};

/// Arguments of `twinspace run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The program (`-` for standard input).
    pub file: PathBuf,
    /// The engine: `jit` (the default where available), `interp`, or `both` (run side by side
    /// and compared as they go: output appears as both engines agree on it, and the first
    /// byte where they differ stops them), or another program: `cmd:COMMAND {}` (`{}` is the
    /// program file) or a name in ./twinspace.toml (its output is written when it stops; no
    /// limits apply).
    #[arg(long, value_name = "ENGINE", value_parser = EngineArg::parse)]
    pub engine: Option<EngineArg>,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Print the instruction count, time and speed on standard error when the run stops.
    #[arg(long)]
    pub stats: bool,
    /// Stop the run after this many seconds of wall-clock time (fractions allowed): its
    /// output so far is written and it exits with 4. Default: no timeout.
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
}

/// Runs `twinspace run`.
///
/// SIGINT and SIGTERM stop the run before its next instruction: its output so far is written,
/// the instruction is named, and the exit code is 130 or 143.
pub fn run(args: RunArgs) -> ExitCode {
    let program = match load_program(&args.file, args.source.syntax) {
        Ok(p) => p,
        Err(exit) => return exit.into(),
    };
    if let Some(EngineArg::External(e)) = &args.engine {
        return super::external::run_external(e, &program, args.source.input.as_deref());
    }
    let stopping = Stopping::start(args.timeout);
    let engines = EngineArg::engines(args.engine.as_ref(), || vec![engine::fastest()]);
    let result = match &engines[..] {
        [one] => run_streaming(&program, &**one, &args, &stopping.stop),
        _ => super::both::run_compared(&program, &engines, &args, &stopping.stop),
    };
    match result {
        Ok(exit) => exit.into(),
        Err(e) => report_host_error(&args.file, &program, as_stopped(e, &stopping.stop)),
    }
}

/// Prints a host error as `FILE:LINE:COL: ...` when it names its instruction, and gives the
/// exit code: 130 or 143 for a signal, 4 otherwise. A closed output pipe (`| head`) is the
/// reader's choice, not a fault: it exits 4 without a message, as ripgrep stays quiet.
pub fn report_host_error(file: &Path, program: &Program, error: HostError) -> ExitCode {
    if error.io_error().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) {
        return CliExit::HostError.into();
    }
    eprintln!("{}", host_error_message(file, program, &error));
    match error {
        HostError::Stopped { cause, .. } => exit_code(cause),
        _ => CliExit::HostError.into(),
    }
}

fn run_streaming(
    program: &Program,
    engine: &dyn Engine,
    args: &RunArgs,
    stop: &Stop,
) -> Result<CliExit, HostError> {
    let stdout = io::stdout();
    let terminal = stdout.is_terminal();
    let mut sink = stdout.lock();
    let mut output =
        if terminal { Output::line_buffered(&mut sink) } else { Output::new(&mut sink) };
    let started = Instant::now();
    let result = match &args.source.input {
        Some(path) if path.as_os_str() != "-" => {
            let file = match std::fs::File::open(path) {
                Ok(file) => file,
                Err(e) => {
                    eprintln!("twinspace: {}", input_file_message(path, &e));
                    return Ok(CliExit::HostError);
                }
            };
            run_engine(program, engine, args, stop, &mut Input::new(file), &mut output)
        }
        _ => {
            let stdin = StdinWatch::new(io::stdin().lock(), stop);
            run_engine(program, engine, args, stop, &mut Input::new(stdin), &mut output)
        }
    };
    // Whatever happened, the program's output so far is not lost.
    let flushed = output.flush();
    let (finish, stats) = result?;
    flushed?;
    if args.stats {
        print_stats(engine, &finish, stats.heap_cells, started);
    }
    Ok(report_termination(&args.file, program, &finish))
}

/// Runs one engine for `twinspace run`, which never shows the final heap: the engine is told
/// it need not build it (for a large heap that is most of the JIT's time, and ten times its
/// memory), nor note the transcript. `--stats` shows only how many cells were written, which
/// the engines count as they go and give in their [`RunStats`].
fn run_engine(
    program: &Program,
    engine: &dyn Engine,
    args: &RunArgs,
    stop: &Stop,
    input: &mut Input,
    output: &mut Output,
) -> Result<(Finish, RunStats), HostError> {
    // The transcript is never shown here, and on an endless input it would grow without bound.
    let wanted = Parts::all() - Parts::HEAP - Parts::TRANSCRIPT;
    let limits = args.source.limits.limits();
    engine.stream(program, limits, wanted, stop, input, output)
}

/// Writes the `--stats` line: `heap_cells` is the number of distinct heap addresses written,
/// if the engine counted them.
pub(super) fn print_stats(
    engine: &dyn Engine,
    finish: &Finish,
    heap_cells: Option<u64>,
    started: Instant,
) {
    let heap_cells = heap_cells.map_or_else(|| "unknown".to_owned(), |n| n.to_string());
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "[{engine}] {} instructions in {seconds:.3} s ({:.1} M instructions/s), stack depth {}, heap cells {}",
        finish.executed,
        finish.executed as f64 / seconds.max(1e-9) / 1e6,
        finish.stack.len(),
        heap_cells,
    );
}

pub(super) fn report_termination(file: &Path, program: &Program, finish: &Finish) -> CliExit {
    match &finish.termination {
        Termination::Ended => CliExit::Ok,
        Termination::Trapped(trap) => {
            eprintln!("{}", trap.message(Some(&file.display().to_string()), program));
            if !finish.stack.is_empty() {
                let top: Vec<String> = finish.stack.iter().rev().take(4).map(abbreviate).collect();
                let n = finish.stack.len();
                eprintln!(
                    "  stack ({n} item{}, top first): {}{}",
                    if n == 1 { "" } else { "s" },
                    top.join(" "),
                    if finish.stack.len() > 4 { " ..." } else { "" }
                );
            }
            CliExit::Trapped
        }
    }
}
