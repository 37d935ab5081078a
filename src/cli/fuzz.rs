//! `twinspace fuzz`, `diff` and `shrink`: the differential harness on the command line.
//! (Placeholder until the harness lands: each command says it is not built yet.)

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `twinspace fuzz`.
#[derive(clap::Args, Debug)]
pub struct FuzzArgs {
    /// Number of programs to generate.
    #[arg(long)]
    pub cases: Option<u64>,
}

/// Arguments of `twinspace diff`.
#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// The program to run on both engines.
    pub file: PathBuf,
}

/// Arguments of `twinspace shrink`.
#[derive(clap::Args, Debug)]
pub struct ShrinkArgs {
    /// The failing program to shrink.
    pub file: PathBuf,
}

fn not_built() -> ExitCode {
    eprintln!("twinspace: the differential harness is not built yet");
    ExitCode::from(2)
}

/// Runs `twinspace fuzz`.
pub fn fuzz(_args: FuzzArgs) -> ExitCode {
    not_built()
}

/// Runs `twinspace diff`.
pub fn diff(_args: DiffArgs) -> ExitCode {
    not_built()
}

/// Runs `twinspace shrink`.
pub fn shrink(_args: ShrinkArgs) -> ExitCode {
    not_built()
}
