//! The `twinspace` command: run, convert, check, benchmark and fuzz Whitespace programs.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Run Whitespace programs on two engines that check each other: a big-integer reference
/// interpreter and an x86-64 JIT.
///
/// Source files are read as raw Whitespace (`.ws`), visible `S`/`T`/`L` letters (`.stl`) or
/// an assembly listing (`.wsa`, `.asm`), chosen by extension or by `--syntax`. A path of `-`
/// means standard input.
///
/// Exit codes: 0 the program ended, 1 it trapped, 2 bad usage, 3 parse error, 4 host error
/// (I/O, engine unavailable, `--timeout` reached), 5 the engines disagree, 128 + N stopped by
/// signal N (130: SIGINT/Ctrl-C, 143: SIGTERM).
#[derive(Parser, Debug)]
#[command(name = "twinspace", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    #[command(about = RUN_ABOUT)]
    Run(cli::run::RunArgs),
    /// Assemble a listing (or visible S/T/L text) into raw Whitespace.
    Asm(cli::convert::AsmArgs),
    /// Show a program as an assembly listing, as visible S/T/L, or as the JIT's machine code.
    Disasm(cli::convert::DisasmArgs),
    /// Report parse errors and warnings: undefined or duplicate labels, unreachable code.
    Check(cli::check::CheckArgs),
    /// Measure engines: instructions per second, JIT/interpreter ratio, compile time.
    Bench(cli::bench::BenchArgs),
    /// Generate random programs and check that both engines agree on each.
    Fuzz(cli::fuzz::FuzzArgs),
    /// Run one program on both engines and report every difference.
    Diff(cli::fuzz::DiffArgs),
    /// Shrink a program on which the engines disagree to a minimal reproducer.
    Shrink(cli::fuzz::ShrinkArgs),
    /// Run the conformance suite and the corpus against an engine (any Whitespace
    /// implementation: `cmd:COMMAND {}`).
    Conform(cli::conform::ConformArgs),
}

/// What `twinspace run` does (its line in `--help`).
const RUN_ABOUT: &str = "Run a program with standard input and output";

/// `twinspace run …` parsed with only `run`'s arguments built: building every subcommand's
/// (the whole command line) was about a quarter of the start-up of a short run. The command
/// has the same name, version and `run` subcommand as the whole one, so `run`'s help, usage
/// and errors read the same; anything else goes to the whole command line.
fn parse_run_alone() -> Option<Cli> {
    use clap::{Args, FromArgMatches};
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_none_or(|a| a != "run") {
        return None;
    }
    let run = cli::run::RunArgs::augment_args(clap::Command::new("run")).about(RUN_ABOUT);
    let alone = clap::Command::new("twinspace")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .subcommand(run);
    let matches = alone.try_get_matches_from(args).unwrap_or_else(|e| e.exit());
    Some(Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit()))
}

fn main() -> ExitCode {
    let cli = parse_run_alone().unwrap_or_else(Cli::parse);
    cli::out::guarded(|| match cli.command {
        Command::Run(args) => cli::run::run(args),
        Command::Asm(args) => cli::convert::asm(args),
        Command::Disasm(args) => cli::convert::disasm(args),
        Command::Check(args) => cli::check::check(args),
        Command::Bench(args) => cli::bench::bench(args),
        Command::Fuzz(args) => cli::fuzz::fuzz(args),
        Command::Diff(args) => cli::fuzz::diff(args),
        Command::Shrink(args) => cli::fuzz::shrink(args),
        Command::Conform(args) => cli::conform::conform(args),
    })
}
