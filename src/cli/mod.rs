//! The command-line front end: one file per subcommand, and what they share here (reading a
//! source in any of the three syntaxes, the limit flags, exit codes, error messages).

pub mod bench;
pub mod both;
pub mod check;
pub mod conform;
pub mod convert;
pub mod external;
pub mod fuzz;
pub mod harness_flags;
pub mod out;
pub mod rerun;
pub mod run;
pub mod stops;
pub mod supervise;

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::sync::Arc;
use twinspace::syntax::{self, Notation};

use twinspace::engine::{self, Engine};
use twinspace::{Limits, Program};

use out::errln;

/// An i/o error for a message: its description without Rust's ` (os error N)` suffix, e.g.
/// `No such file or directory`.
pub fn io_message(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}

/// `cannot read input file x.txt: No such file or directory`.
pub fn input_file_message(path: &Path, e: &io::Error) -> String {
    format!("cannot read input file {}: {}", path.display(), io_message(e))
}

/// A host error of a run of the program in `file`, placed like a trap when it names its
/// instruction (`prog.ws:3:1: i/o error at instruction 5 (`printc`): ...`), else
/// `twinspace: ...`.
pub fn host_error_message(file: &Path, program: &Program, e: &twinspace::HostError) -> String {
    let text = e.describe(Some(&file.display().to_string()), program);
    if e.index().is_some() { text } else { format!("twinspace: {text}") }
}

/// Whether `a` and `b` name the same existing file (the same device and inode on Unix, the
/// same canonical path elsewhere): through a symbolic link, a hard link, `./x` or `../d/x`.
pub fn same_file(a: &Path, b: &Path) -> bool {
    if a.as_os_str() == "-" || b.as_os_str() == "-" {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(ma), Ok(mb)) = (fs::metadata(a), fs::metadata(b)) {
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
    }
    matches!((fs::canonicalize(a), fs::canonicalize(b)), (Ok(ca), Ok(cb)) if ca == cb)
}

/// Refuses (exit 2, with a message) to write `output` when it is one of the `inputs`.
pub fn refuse_to_overwrite(output: &Path, inputs: &[&Path]) -> Result<(), CliExit> {
    match inputs.iter().find(|input| same_file(output, input)) {
        Some(input) => {
            errln!(
                "twinspace: refusing to overwrite {}: it is the input {}",
                output.display(),
                input.display()
            );
            Err(CliExit::Usage)
        }
        None => Ok(()),
    }
}

/// CliExit codes shared by every subcommand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum CliExit {
    /// The program ended normally (or the command succeeded).
    Ok = 0,
    /// The program trapped.
    Trapped = 1,
    /// Bad usage: a flag or argument that cannot be used.
    Usage = 2,
    /// The source could not be parsed.
    ParseError = 3,
    /// I/O failed or an engine is unavailable.
    HostError = 4,
    /// The two engines disagree.
    Mismatch = 5,
}

impl From<CliExit> for ExitCode {
    fn from(e: CliExit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// Which syntax a source file is in.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// Raw Whitespace: space, tab, line feed; everything else is a comment.
    Ws,
    /// Visible letters S, T, L; everything else is a comment.
    Stl,
    /// An assembly listing (`push 1`, `jz loop`, `name:`).
    Asm,
}

impl Syntax {
    /// The syntax given, or the one the file's extension suggests (raw by default).
    pub fn for_path(path: &Path, given: Option<Syntax>) -> Syntax {
        given.unwrap_or_else(|| match path.extension().and_then(|e| e.to_str()) {
            Some("wsa" | "asm") => Syntax::Asm,
            Some("stl" | "wsv") => Syntax::Stl,
            _ => Syntax::Ws,
        })
    }
}

/// Reads a whole file, or standard input for `-`.
pub fn read_path(path: &Path) -> io::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        io::stdin().lock().read_to_end(&mut bytes)?;
        Ok(bytes)
    } else {
        fs::read(path)
    }
}

/// Reads and parses a program, printing any error with the file name and position.
pub fn load_program(path: &Path, syntax: Option<Syntax>) -> Result<Program, CliExit> {
    let bytes = read_path(path).map_err(|e| {
        errln!("twinspace: cannot read {}: {}", path.display(), io_message(&e));
        CliExit::HostError
    })?;
    let name = path.display().to_string();
    match Syntax::for_path(path, syntax) {
        Syntax::Ws => syntax::parse(&bytes),
        Syntax::Stl => syntax::parse_in(&bytes, Notation::Visible),
        Syntax::Asm => syntax::assemble_bytes(&bytes),
    }
    .map_err(|e| {
        errln!("{}", e.describe(&name));
        CliExit::ParseError
    })
}

/// What the commands that run programs (run, diff, shrink, bench) take besides the program:
/// its input, the source syntax and the limits.
#[derive(clap::Args, Debug, Clone)]
pub struct SourceArgs {
    /// Read the program's input from this file (`-`: standard input). Default: `run` reads
    /// standard input; `diff` and `shrink` read FILE with extension `.in` if it exists;
    /// `bench` gives no input.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// The source syntax (default: by extension; `.wsa`/`.asm` listing, `.stl` letters, else raw).
    #[arg(long, value_enum)]
    pub syntax: Option<Syntax>,
    /// The limits (`diff` and `shrink`, when none is given: the `limits:` line of FILE with
    /// extension `.expect` if it exists).
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// The limit flags shared by the commands that run programs.
#[derive(clap::Args, Debug, Clone)]
pub struct LimitArgs {
    /// Stop with `out-of-fuel` after this many executed instructions (default: no limit).
    #[arg(long, value_name = "N")]
    pub fuel: Option<u64>,
    /// Most items on the value stack before `stack-overflow`.
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT.stack)]
    pub max_stack: usize,
    /// Most return positions on the call stack before `call-stack-overflow`.
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT.calls)]
    pub max_calls: usize,
    /// Most distinct heap addresses written before `heap-overflow`.
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT.heap)]
    pub max_heap: usize,
    /// Most bits of a value made by push, add, sub, mul or readi before `value-too-large`
    /// (`unlimited` for none).
    #[arg(long, value_name = "BITS", default_value = "1048576", value_parser = parse_limit)]
    pub max_value_bits: u64,
    /// Most 64-bit words of big values (outside the i64 range) held at once before
    /// `memory-overflow` (`unlimited` for none; the default is 128 MiB).
    #[arg(long, value_name = "WORDS", default_value = "16777216", value_parser = parse_limit)]
    pub max_big_words: u64,
}

/// A limit on the command line: a number, or `unlimited`.
fn parse_limit(text: &str) -> Result<u64, String> {
    if text == "unlimited" {
        return Ok(u64::MAX);
    }
    text.parse::<u64>()
        .map_err(|_| format!("`{text}` is not a number of 0 or more, nor `unlimited`"))
}

impl LimitArgs {
    /// The limits these flags describe.
    pub fn limits(&self) -> Limits {
        Limits {
            fuel: self.fuel.unwrap_or(u64::MAX),
            stack: self.max_stack,
            calls: self.max_calls,
            heap: self.max_heap,
            value_bits: self.max_value_bits,
            big_words: self.max_big_words,
        }
    }
}

/// `--engine`: one engine by its name (parsed by [`engine::by_name`], as everywhere), or
/// `both` (the reference interpreter and the JIT).
#[derive(Clone)]
pub enum EngineArg {
    /// The interpreter and the JIT.
    Both,
    /// This engine.
    One(Arc<dyn Engine>),
    /// Another program (`cmd:COMMAND {}` or a name in ./twinspace.toml).
    External(Arc<twinspace::external::ExternalEngine>),
}

impl std::fmt::Debug for EngineArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineArg::Both => f.write_str("both"),
            EngineArg::One(e) => f.write_str(&e.name()),
            EngineArg::External(e) => f.write_str(&e.name),
        }
    }
}

impl EngineArg {
    /// Parses `both`, an engine name, or an external engine (`cmd:COMMAND {}`, or a name in
    /// ./twinspace.toml).
    pub fn parse(text: &str) -> Result<EngineArg, String> {
        if text == "both" {
            return Ok(EngineArg::Both);
        }
        match engine::by_name(text) {
            Ok(e) => Ok(EngineArg::One(e)),
            Err(e)
                if !text.starts_with("cmd:")
                    && !std::path::Path::new("twinspace.toml").exists() =>
            {
                Err(format!("{e}, `both`, or `cmd:COMMAND {{}}`"))
            }
            Err(_) => twinspace::external::ExternalEngine::from_spec(text)
                .map(|e| EngineArg::External(Arc::new(e))),
        }
    }

    /// The engines `arg` names; `None` gives `default`.
    pub fn engines(
        arg: Option<&EngineArg>,
        default: impl FnOnce() -> Vec<Arc<dyn Engine>>,
    ) -> Vec<Arc<dyn Engine>> {
        match arg {
            None => default(),
            Some(EngineArg::Both) => engine::all(),
            Some(EngineArg::One(e)) => vec![Arc::clone(e)],
            Some(EngineArg::External(e)) => vec![Arc::clone(e) as Arc<dyn Engine>],
        }
    }
}
