//! `twinspace asm` and `twinspace disasm`: convert between the three textual forms, and show
//! the JIT's machine code.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use twinspace::syntax::{print_asm, print_visible, print_ws};

use super::out::{errln, write_stdout_bytes};
use super::{CliExit, Syntax, io_message, load_program, refuse_to_overwrite};

/// Arguments of `twinspace asm`.
#[derive(clap::Args, Debug)]
pub struct AsmArgs {
    /// The listing (`-` for standard input).
    pub file: PathBuf,
    /// Write the program here instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The source syntax (default: `asm`, or `stl` for a `.stl` file).
    #[arg(long, value_enum)]
    pub syntax: Option<Syntax>,
    /// Write visible S/T/L letters instead of raw Whitespace.
    #[arg(long)]
    pub visible: bool,
}

/// Arguments of `twinspace disasm`.
#[derive(clap::Args, Debug)]
pub struct DisasmArgs {
    /// The program (`-` for standard input).
    pub file: PathBuf,
    /// The source syntax (default: by extension, raw Whitespace otherwise).
    #[arg(long, value_enum)]
    pub syntax: Option<Syntax>,
    /// Write visible S/T/L letters (one instruction per line, commented) instead of a listing.
    #[arg(long, conflicts_with = "native")]
    pub visible: bool,
    /// Show the JIT's basic blocks and their machine code.
    #[arg(long)]
    pub native: bool,
}

/// Runs `twinspace asm`.
pub fn asm(args: AsmArgs) -> ExitCode {
    let syntax = args.syntax.or(match Syntax::for_path(&args.file, None) {
        Syntax::Stl => Some(Syntax::Stl),
        _ => Some(Syntax::Asm),
    });
    if let Some(out) = &args.output {
        if let Err(exit) = refuse_to_overwrite(out, &[&args.file]) {
            return exit.into();
        }
    }
    let program = match load_program(&args.file, syntax) {
        Ok(p) => p,
        Err(exit) => return exit.into(),
    };
    let bytes =
        if args.visible { print_visible(&program).into_bytes() } else { print_ws(&program) };
    write_out(args.output.as_deref(), &bytes)
}

/// Runs `twinspace disasm`.
pub fn disasm(args: DisasmArgs) -> ExitCode {
    let program = match load_program(&args.file, args.syntax) {
        Ok(p) => p,
        Err(exit) => return exit.into(),
    };
    let text = if args.native {
        match twinspace::jit::disassemble(&program) {
            Ok(text) => text,
            Err(e) => {
                errln!("twinspace: {e}");
                return CliExit::HostError.into();
            }
        }
    } else if args.visible {
        print_visible(&program)
    } else {
        print_asm(&program)
    };
    write_out(None, text.as_bytes())
}

fn write_out(path: Option<&Path>, bytes: &[u8]) -> ExitCode {
    match path {
        Some(p) if p.as_os_str() != "-" => match std::fs::write(p, bytes) {
            Ok(()) => CliExit::Ok.into(),
            Err(e) => {
                errln!("twinspace: cannot write {}: {}", p.display(), io_message(&e));
                CliExit::HostError.into()
            }
        },
        _ => {
            write_stdout_bytes(bytes);
            CliExit::Ok.into()
        }
    }
}
