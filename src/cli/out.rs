//! Standard output and error for the commands, without panics.
//!
//! `println!` panics when standard output is a pipe whose reader has gone (`twinspace disasm
//! big.ws | head -1`). Every command writes its standard output through [`outln!`] (or
//! [`write_stdout_bytes`]) instead: when the reader has gone (`BrokenPipe`), the command ends quietly with
//! status 0, as ripgrep does. This works by unwinding with a [`ReaderGone`] payload (without
//! the panic hook, so nothing is printed) up to `main`, which catches it; unwinding rather than
//! `process::exit` lets destructors run, so temporary files and directories are still removed.
//! Any other failure to write standard output ends the command with the host-error status.
//!
//! Messages on standard error go through [`errln!`] and [`err!`], which ignore failures:
//! when standard error itself is gone there is nobody to tell.
//!
//! SIGPIPE stays ignored, as Rust sets it up, so a write to a closed pipe is an error here
//! rather than a silent kill.

use std::fmt;
use std::io::{self, Write as _};
use std::panic;
use std::process::ExitCode;

use super::CliExit;

/// The payload that carries "the reader of standard output has gone" up to `main`.
pub struct ReaderGone;

/// The payload for any other failure to write standard output.
pub struct OutputFailed(pub io::Error);

/// Writes to standard output (see the module docs for what happens when that fails).
pub fn write_stdout(args: fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        stdout_failed(e);
    }
}

/// Writes bytes to standard output (see the module docs for what happens when that fails).
pub fn write_stdout_bytes(bytes: &[u8]) {
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        stdout_failed(e);
    }
}

/// Ends the command after standard output failed with `e`.
pub fn stdout_failed(e: io::Error) -> ! {
    if e.kind() == io::ErrorKind::BrokenPipe {
        panic::resume_unwind(Box::new(ReaderGone));
    }
    panic::resume_unwind(Box::new(OutputFailed(e)));
}

/// Writes to standard error, ignoring failure.
pub fn write_stderr(args: fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(args);
}

/// Runs a command, turning the unwinding of [`stdout_failed`] into its exit status; any other
/// panic goes on unwinding (a bug, reported as Rust reports panics).
pub fn guarded(command: impl FnOnce() -> ExitCode) -> ExitCode {
    match panic::catch_unwind(panic::AssertUnwindSafe(command)) {
        Ok(code) => code,
        Err(payload) if payload.is::<ReaderGone>() => CliExit::Ok.into(),
        Err(payload) => match payload.downcast::<OutputFailed>() {
            Ok(failed) => {
                write_stderr(format_args!("twinspace: cannot write output: {}\n", failed.0));
                CliExit::HostError.into()
            }
            Err(other) => panic::resume_unwind(other),
        },
    }
}

/// `println!` to standard output that ends the command quietly when its reader has gone.
macro_rules! outln {
    () => { $crate::cli::out::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::cli::out::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` that never panics.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::out::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprint!` that never panics.
macro_rules! err {
    ($($arg:tt)*) => { $crate::cli::out::write_stderr(format_args!($($arg)*)) };
}

pub(crate) use {err, errln, outln};
