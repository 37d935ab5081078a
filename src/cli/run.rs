//! `twinspace run`: run a program with standard input and output on one engine, or on both
//! and compare.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use twinspace::abbrev::abbreviate;
use twinspace::differential::{Parts, report};
use twinspace::{Engine, Finish, HostError, Input, Output, Program, Termination};

use super::{
    EngineChoice, Exit, LimitArgs, Syntax, host_error_message, input_file_message, load_program,
    read_path,
};

/// Arguments of `twinspace run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The program (`-` for standard input).
    pub file: PathBuf,
    /// The engine: `jit` (the default where available), `interp`, or `both` (compared; the
    /// input is read whole first and the reference output is printed).
    #[arg(long, value_enum)]
    pub engine: Option<EngineChoice>,
    /// Read the program's input from this file instead of standard input (`-`: stdin).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// The source syntax (default: by extension; `.wsa`/`.asm` listing, `.stl` letters, else raw).
    #[arg(long, value_enum)]
    pub syntax: Option<Syntax>,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Print the instruction count, time and speed on standard error when the run stops.
    #[arg(long)]
    pub stats: bool,
}

/// Runs `twinspace run`.
pub fn run(args: RunArgs) -> ExitCode {
    let program = match load_program(&args.file, args.syntax) {
        Ok(p) => p,
        Err(exit) => return exit.into(),
    };
    let engines = EngineChoice::engines(args.engine);
    let result = if engines.len() == 1 {
        run_streaming(&program, engines[0], &args)
    } else {
        run_compared(&program, &args)
    };
    match result {
        Ok(exit) => exit.into(),
        Err(e) if e.io_error().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) => {
            eprintln!("twinspace: output closed before the program stopped (broken pipe)");
            Exit::HostError.into()
        }
        Err(e) => {
            eprintln!("{}", host_error_message(&args.file, &program, &e));
            Exit::HostError.into()
        }
    }
}

fn run_streaming(program: &Program, engine: Engine, args: &RunArgs) -> Result<Exit, HostError> {
    let stdout = io::stdout();
    let mut sink = stdout.lock();
    let mut output = Output::new(&mut sink);
    let started = Instant::now();
    let result = match &args.input {
        Some(path) if path.as_os_str() != "-" => {
            let file = match std::fs::File::open(path) {
                Ok(file) => file,
                Err(e) => {
                    eprintln!("twinspace: {}", input_file_message(path, &e));
                    return Ok(Exit::HostError);
                }
            };
            run_engine(program, engine, args, &mut Input::new(file), &mut output)
        }
        _ => {
            let stdin = io::stdin();
            run_engine(program, engine, args, &mut Input::new(stdin.lock()), &mut output)
        }
    };
    // Whatever happened, the program's output so far is not lost.
    let flushed = output.flush();
    let finish = result?;
    flushed?;
    if args.stats {
        print_stats(engine, &finish, started);
    }
    Ok(report_termination(&args.file, program, &finish))
}

/// Runs one engine for `twinspace run`, which shows the final heap only with `--stats`: the
/// JIT is told not to build it otherwise (for a large heap that is most of the run's time).
fn run_engine(
    program: &Program,
    engine: Engine,
    args: &RunArgs,
    input: &mut Input,
    output: &mut Output,
) -> Result<Finish, HostError> {
    let limits = args.limits.limits();
    match engine {
        Engine::Jit if !args.stats => {
            let options = twinspace::jit::Options { skip_final_heap: true, ..Default::default() };
            twinspace::jit::run_with(program, limits, &options, input, output).map(|(f, _)| f)
        }
        _ => engine.run(program, limits, input, output),
    }
}

fn run_compared(program: &Program, args: &RunArgs) -> Result<Exit, HostError> {
    let input_path = args.input.as_deref().unwrap_or("-".as_ref());
    let input = match read_path(input_path) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("twinspace: {}", input_file_message(input_path, &e));
            return Ok(Exit::HostError);
        }
    };
    let limits = args.limits.limits();
    let reference = Engine::Interp.run_bytes(program, limits, &input)?;
    let jit = Engine::Jit.run_bytes(program, limits, &input)?;
    io::stdout().write_all(&reference.output)?;
    io::stdout().flush()?;
    let differing = Parts::all().differing(&reference, &jit);
    if !differing.is_empty() {
        let diffs = report::outcome_diffs(program, &reference, &jit, differing, "interp", "jit");
        eprintln!("twinspace: the engines disagree on {differing}:\n{diffs}");
        eprintln!("(`twinspace diff` on this program shrinks it and shows where the runs part)");
        return Ok(Exit::Mismatch);
    }
    if args.stats {
        eprintln!("both engines agree: {} instructions", reference.finish.executed);
    }
    Ok(report_termination(&args.file, program, &reference.finish))
}

fn print_stats(engine: Engine, finish: &Finish, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "[{engine}] {} instructions in {seconds:.3} s ({:.1} M instructions/s), stack depth {}, heap cells {}",
        finish.executed,
        finish.executed as f64 / seconds.max(1e-9) / 1e6,
        finish.stack.len(),
        finish.heap.len(),
    );
}

fn report_termination(file: &Path, program: &Program, finish: &Finish) -> Exit {
    match &finish.termination {
        Termination::Ended => Exit::Ok,
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
            Exit::Trapped
        }
    }
}
