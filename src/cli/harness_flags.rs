//! The flags of the harness commands (`fuzz`, `diff`, `shrink`) and their parsing: the
//! generator's knobs ([`KnobArgs`]), the parts compared and the engine under test
//! ([`HarnessArgs`]), the case a program file names ([`CaseArgs`]); and the same flags typed
//! again as argv words for re-run commands ([`limit_flags`], [`diff_command`]).

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use twinspace::case::{format_limits, parse_expectation};
use twinspace::differential::Parts;
use twinspace::engine::{self, Engine, RunCase};

use super::external::Subjects;
use twinspace::generate::{Fragment, Knobs};
use twinspace::{Limits, Program};

use super::out::errln;
use super::rerun::CommandLine;
use super::{CliExit, SourceArgs, load_program, read_path};

/// The generator's knobs on the command line (see `twinspace::generate::Knobs`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct KnobArgs {
    /// Target size of a program's main code in instructions, `N` or `MIN..MAX`; subroutines
    /// come on top [default: 20..110, programs of about 100 instructions].
    #[arg(long, value_name = "RANGE", value_parser = parse_size)]
    pub size: Option<RangeInclusive<usize>>,
    /// Probability that a fragment sets up a deliberate trap [default: 0.01].
    #[arg(long, value_name = "P", value_parser = parse_probability)]
    pub trap_rate: Option<f64>,
    /// Probability that a jump or call names an undefined label [default: 0.01].
    #[arg(long, value_name = "P", value_parser = parse_probability)]
    pub undefined_label_rate: Option<f64>,
    /// Probability that a case's literals may lie beyond 64 bits [default: 0.5].
    #[arg(long, value_name = "P", value_parser = parse_probability)]
    pub wide_rate: Option<f64>,
    /// Probability that an input item is malformed [default: 0.05].
    #[arg(long, value_name = "P", value_parser = parse_probability)]
    pub invalid_input_rate: Option<f64>,
    /// The usual fuel of a generated case, `MIN..MAX` (some cases get a tiny or a large
    /// fuel instead) [default: 200..4000].
    #[arg(long, value_name = "RANGE", value_parser = parse_fuel)]
    pub fuel_range: Option<RangeInclusive<u64>>,
    /// The usual `value-bits` limit of a generated case (it bounds a squaring loop)
    /// [default: 16384].
    #[arg(long, value_name = "BITS")]
    pub value_bits: Option<u64>,
    /// Probability of a tight `value-bits` limit, 0..160 bits, so that `value-too-large` is
    /// met [default: 0.1].
    #[arg(long, value_name = "P")]
    pub tight_value_rate: Option<f64>,
    /// Probability of a tight `big-words` limit, 0..16 words, so that `memory-overflow` is met
    /// [default: 0.1].
    #[arg(long, value_name = "P")]
    pub tight_words_rate: Option<f64>,
    /// A fragment weight, `NAME=W` (repeatable): push, stack, arith, divmod, heap, print,
    /// read, branch, jump, loop, heap-loop, call, recursion, label, end, deep-stack, wide,
    /// heap-walk, big-loop, burst, route, straight.
    #[arg(long = "weight", value_name = "NAME=W", value_parser = parse_weight)]
    pub weights: Vec<(Fragment, u32)>,
    /// Use the weights as given for every case (no swarm testing).
    #[arg(long)]
    pub no_swarm: bool,
}

impl KnobArgs {
    /// The knobs these flags describe.
    pub fn knobs(&self) -> Knobs {
        let mut k = Knobs::default();
        if let Some(s) = &self.size {
            k.size = s.clone();
        }
        if let Some(r) = self.trap_rate {
            k.trap_rate = r;
        }
        if let Some(r) = self.undefined_label_rate {
            k.undefined_label_rate = r;
        }
        if let Some(r) = self.wide_rate {
            k.wide_rate = r;
        }
        if let Some(r) = self.invalid_input_rate {
            k.input.invalid_rate = r;
        }
        if let Some(f) = &self.fuel_range {
            k.limits.fuel = f.clone();
        }
        if let Some(b) = self.value_bits {
            k.limits.value_bits = b;
        }
        if let Some(r) = self.tight_value_rate {
            k.limits.tight_value_rate = r;
        }
        if let Some(r) = self.tight_words_rate {
            k.limits.tight_words_rate = r;
        }
        for &(f, w) in &self.weights {
            k.weights.set(f, w);
        }
        k.swarm = !self.no_swarm;
        k
    }

    /// These flags as they would be typed again (for re-run commands).
    pub fn flags(&self) -> Vec<String> {
        let mut words: Vec<String> = Vec::new();
        let mut flag = |name: &str, value: String| words.extend([format!("--{name}"), value]);
        if let Some(r) = &self.size {
            flag("size", format!("{}..{}", r.start(), r.end()));
        }
        for (name, rate) in [
            ("trap-rate", self.trap_rate),
            ("undefined-label-rate", self.undefined_label_rate),
            ("wide-rate", self.wide_rate),
            ("invalid-input-rate", self.invalid_input_rate),
        ] {
            if let Some(r) = rate {
                flag(name, r.to_string());
            }
        }
        if let Some(r) = &self.fuel_range {
            flag("fuel-range", format!("{}..{}", r.start(), r.end()));
        }
        if let Some(b) = self.value_bits {
            flag("value-bits", b.to_string());
        }
        if let Some(r) = self.tight_value_rate {
            flag("tight-value-rate", r.to_string());
        }
        if let Some(r) = self.tight_words_rate {
            flag("tight-words-rate", r.to_string());
        }
        for (f, w) in &self.weights {
            flag("weight", format!("{f}={w}"));
        }
        if self.no_swarm {
            words.push("--no-swarm".into());
        }
        words
    }
}

/// What the three commands share: which parts to compare and which engines to test.
#[derive(clap::Args, Debug, Clone)]
pub struct HarnessArgs {
    /// The parts of the outcome to compare: a comma-separated list of output, termination,
    /// stack, heap, executed, transcript (the output flushed at each read), or `all`.
    #[arg(long, value_name = "LIST", default_value = "all", value_parser = Parts::parse)]
    pub parts: Parts,
    /// The engine compared with the reference interpreter (default: jit): an engine of
    /// twinspace, `cmd:COMMAND {}` (another program: `{}` is the program file, stdin its input,
    /// stdout its output, exit status 0 a normal end) or the name of an `[engine.NAME]` in
    /// ./twinspace.toml. Repeatable (fuzz): every engine given is compared with the reference.
    #[arg(long = "engine", value_name = "ENGINE", value_parser = super::external::check_spec)]
    pub engine: Vec<String>,
    #[command(flatten)]
    pub external: super::external::ExternalArgs,
    /// Test the harness itself: compile this deliberate bug into the JIT (`list` lists them);
    /// short for `--engine jit:mutate=NAME`.
    #[cfg(feature = "mutations")]
    #[arg(long, value_name = "NAME", value_parser = parse_mutation, conflicts_with = "engine")]
    pub mutate: Option<String>,
    /// Seconds one run of the engine under test may take before it counts as hung (every
    /// case has bounded fuel, so a correct engine ends it in milliseconds): `fuzz` kills a
    /// fuzzing process in which one case runs this long (scaled up when there are more
    /// threads than cores), runs the case alone, and shrinks and reports a hang like a crash
    /// (exit 5); `diff` and `shrink` report the subject's run as hung.
    #[arg(long, value_name = "SECS", default_value_t = HANG_AFTER.as_secs_f64(),
          value_parser = parse_hang_after)]
    pub hang_after: f64,
}

/// The default of `--hang-after`.
const HANG_AFTER: std::time::Duration = twinspace::differential::supervise::HANG_AFTER;

/// A bound in seconds: more than 0, at most [`MAX_SECONDS`].
fn parse_hang_after(text: &str) -> Result<f64, String> {
    match parse_seconds(text)? {
        secs if secs > 0.0 => Ok(secs),
        _ => Err(format!("`{text}` seconds: a run must be given some time")),
    }
}

impl HarnessArgs {
    /// The engines to test, or the exit status after a message.
    pub(super) fn subjects(&self) -> Result<Subjects, CliExit> {
        let default = self.mutant()?.unwrap_or_else(|| Arc::new(engine::Jit::default()));
        Subjects::new(&self.engine, &self.external, self.parts, default)
    }

    /// The one engine to test (`diff`, `shrink`), or the exit status after a message.
    pub(super) fn subject(&self) -> Result<Subjects, CliExit> {
        if self.engine.len() > 1 {
            errln!("twinspace: give one --engine to compare with the reference (interp)");
            return Err(CliExit::Usage);
        }
        self.subjects()
    }

    /// How long one run of the engine under test may take before it counts as hung.
    pub(super) fn hang_bound(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.hang_after)
    }

    /// These flags with `spec` as the one engine (for the re-run commands of a mismatch
    /// between the reference and one engine of several).
    pub(super) fn only(&self, spec: String) -> HarnessArgs {
        let external = super::external::ExternalArgs { third: None, ..self.external.clone() };
        HarnessArgs { engine: vec![spec], external, ..self.clone() }
    }

    /// The JIT with the mutation `--mutate` names, if it names one.
    #[cfg(feature = "mutations")]
    fn mutant(&self) -> Result<Option<Arc<dyn Engine>>, CliExit> {
        use super::out::outln;
        match self.mutate.as_deref() {
            None => Ok(None),
            Some("list") => {
                for m in twinspace::jit::Mutation::ALL {
                    outln!("{m}");
                }
                Err(CliExit::Ok)
            }
            Some(name) => engine::by_name(&format!("jit:mutate={name}")).map(Some).map_err(|e| {
                // `parse_mutation` lets only known names through; kept for library callers.
                errln!("twinspace: {e}");
                CliExit::Usage
            }),
        }
    }

    /// Without the `mutations` feature there is no `--mutate`.
    #[cfg(not(feature = "mutations"))]
    fn mutant(&self) -> Result<Option<Arc<dyn Engine>>, CliExit> {
        Ok(None)
    }

    /// Whether the reproducers found do not belong in the corpus: the engine under test has
    /// a bug planted on purpose, or is another program (its bugs are not twinspace's).
    pub(super) fn planted(&self) -> bool {
        #[cfg(feature = "mutations")]
        if self.mutate.is_some() {
            return true;
        }
        self.engine.iter().any(|e| e.contains(":mutate=") || !super::external::is_builtin(e))
    }

    /// These flags as they would be typed again (for re-run commands).
    pub(super) fn flags(&self) -> Vec<String> {
        let mut words = Vec::new();
        if self.parts != Parts::all() {
            let names: Vec<&str> = self.parts.iter().map(Parts::part_name).collect();
            words.extend(["--parts".to_owned(), names.join(",")]);
        }
        for e in &self.engine {
            words.extend(["--engine".to_owned(), e.clone()]);
        }
        words.extend(self.external.flags());
        #[cfg(feature = "mutations")]
        if let Some(m) = &self.mutate {
            words.extend(["--mutate".to_owned(), m.clone()]);
        }
        if self.hang_after != HANG_AFTER.as_secs_f64() {
            words.extend(["--hang-after".to_owned(), self.hang_after.to_string()]);
        }
        words
    }
}

/// What `twinspace diff` and `twinspace shrink` run: a program file, its input and limits
/// (by default `FILE.in`, and the `limits:` line of `FILE.expect`, when they exist), and the
/// engine it is compared with.
#[derive(clap::Args, Debug)]
pub struct CaseArgs {
    /// The program to run on both engines.
    pub file: PathBuf,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub harness: HarnessArgs,
}

impl CaseArgs {
    /// The engine under test and the case these arguments name.
    pub(super) fn load(&self) -> Result<(Subjects, RunCase), CliExit> {
        let subject = self.harness.subject()?;
        let case = load_case(&self.file, &self.source)?;
        Ok((subject, case))
    }
}

/// The most seconds `--time` and `--shrink-time` take: about 31 years, far below where adding
/// the duration to the clock could overflow.
const MAX_SECONDS: f64 = 1e9;

/// A number of seconds: finite, 0 or more, at most [`MAX_SECONDS`].
pub(super) fn parse_seconds(text: &str) -> Result<f64, String> {
    let secs: f64 =
        text.trim().parse().map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if secs.is_finite() && (0.0..=MAX_SECONDS).contains(&secs) {
        Ok(secs)
    } else {
        Err(format!("`{text}` seconds: expected a finite number from 0 to {MAX_SECONDS:e}"))
    }
}

/// A probability: a number from 0 to 1.
fn parse_probability(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("`{text}` is not a probability (a number from 0 to 1)")),
    }
}

/// The most worker threads `--jobs` may ask for.
const MAX_JOBS: usize = 1024;

/// A number of worker threads, from 1 to [`MAX_JOBS`].
pub(super) fn parse_jobs(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_JOBS).contains(&n) => Ok(n),
        _ => Err(format!("`{text}` threads: expected a number from 1 to {MAX_JOBS}")),
    }
}

/// A mutation's name, or `list`.
#[cfg(feature = "mutations")]
fn parse_mutation(text: &str) -> Result<String, String> {
    use twinspace::jit::Mutation;
    if text == "list" || Mutation::from_name(text).is_some() {
        return Ok(text.to_owned());
    }
    let names: Vec<&str> = Mutation::ALL.iter().map(|m| m.name()).collect();
    Err(format!("unknown mutation `{text}` (one of: {}, or `list`)", names.join(", ")))
}

pub(super) fn parse_seed(text: &str) -> Result<u64, String> {
    let t = text.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse(),
    }
    .map_err(|_| format!("bad seed `{text}`: expected a decimal or 0x-hex 64-bit number"))
}

fn parse_range<T: std::str::FromStr + PartialOrd + Copy>(
    text: &str,
) -> Result<RangeInclusive<T>, String> {
    let bad = || format!("bad range `{text}`: expected N or MIN..MAX");
    let (lo, hi) = match text.split_once("..") {
        Some((lo, hi)) => (lo, hi.trim_start_matches('=')),
        None => (text, text),
    };
    let lo: T = lo.trim().parse().map_err(|_| bad())?;
    let hi: T = hi.trim().parse().map_err(|_| bad())?;
    if lo > hi {
        return Err(bad());
    }
    Ok(lo..=hi)
}

fn parse_size(text: &str) -> Result<RangeInclusive<usize>, String> {
    parse_range(text)
}

fn parse_fuel(text: &str) -> Result<RangeInclusive<u64>, String> {
    parse_range(text)
}

fn parse_weight(text: &str) -> Result<(Fragment, u32), String> {
    let (name, w) =
        text.split_once('=').ok_or_else(|| format!("bad weight `{text}`: expected NAME=W"))?;
    let f = Fragment::from_name(name.trim()).ok_or_else(|| {
        let names: Vec<&str> = Fragment::ALL.iter().map(|f| f.name()).collect();
        format!("unknown fragment `{name}` (one of: {})", names.join(", "))
    })?;
    let w = w.trim().parse().map_err(|_| format!("bad weight value `{w}`"))?;
    Ok((f, w))
}

/// `--fuel N --max-stack N ...` for the limits that `LimitArgs` would not give by default.
pub(super) fn limit_flags(l: Limits) -> Vec<String> {
    let d = Limits::DEFAULT;
    let big = |v: u64| if v == u64::MAX { "unlimited".to_owned() } else { v.to_string() };
    let flags = [
        ("--fuel", l.fuel != u64::MAX, l.fuel.to_string()),
        ("--max-stack", l.stack != d.stack, l.stack.to_string()),
        ("--max-calls", l.calls != d.calls, l.calls.to_string()),
        ("--max-heap", l.heap != d.heap, l.heap.to_string()),
        ("--max-value-bits", l.value_bits != d.value_bits, big(l.value_bits)),
        ("--max-big-words", l.big_words != d.big_words, big(l.big_words)),
    ];
    flags
        .into_iter()
        .filter(|(_, given, _)| *given)
        .flat_map(|(name, _, value)| [name.to_owned(), value])
        .collect()
}

/// `twinspace diff FILE [--input IN] LIMITS HARNESS`: the command that re-runs a case exactly.
pub(super) fn diff_command(
    file: &Path,
    input: Option<&Path>,
    limits: Limits,
    harness: &HarnessArgs,
) -> CommandLine {
    let mut c = CommandLine::twinspace("diff").arg(file);
    if let Some(input) = input {
        c = c.arg("--input").arg(input);
    }
    c.args(limit_flags(limits)).args(harness.flags())
}

/// The case of a program file: its input and limits from flags or from the files beside it.
pub(super) fn load_case(file: &Path, source: &SourceArgs) -> Result<RunCase, CliExit> {
    let (input, limits) = (source.input.as_deref(), &source.limits);
    let program: Program = load_program(file, source.syntax)?;
    let sibling_in = file.with_extension("in");
    let input_path = match input {
        Some(p) => Some(p.to_path_buf()),
        None if sibling_in.is_file() && file.extension().is_some_and(|e| e != "in") => {
            errln!("twinspace: input from {}", sibling_in.display());
            Some(sibling_in)
        }
        None => None,
    };
    let input = match &input_path {
        Some(p) => read_path(p).map_err(|e| {
            errln!("twinspace: {}", super::input_file_message(p, &e));
            CliExit::HostError
        })?,
        None => Vec::new(),
    };
    let given = limits.limits();
    let defaults = Limits::DEFAULT.with_fuel(u64::MAX);
    let sibling_expect = file.with_extension("expect");
    let limits = if given == defaults && sibling_expect.is_file() {
        let text = std::fs::read_to_string(&sibling_expect).map_err(|e| {
            errln!(
                "twinspace: cannot read {}: {}",
                sibling_expect.display(),
                super::io_message(&e)
            );
            CliExit::HostError
        })?;
        match parse_expectation(&text) {
            Ok((Some(l), _)) => {
                errln!("twinspace: limits from {}: {}", sibling_expect.display(), format_limits(l));
                l
            }
            Ok((None, _)) => given,
            Err(e) => {
                errln!("twinspace: {}: {e}", sibling_expect.display());
                return Err(CliExit::ParseError);
            }
        }
    } else {
        given
    };
    Ok(RunCase::new(program, input, limits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_ranges_and_weights_parse() {
        assert_eq!(parse_seed("0x10").unwrap(), 16);
        assert_eq!(parse_seed("42").unwrap(), 42);
        assert!(parse_seed("x").is_err());
        assert_eq!(parse_size("5").unwrap(), 5..=5);
        assert_eq!(parse_size("5..9").unwrap(), 5..=9);
        assert_eq!(parse_size("5..=9").unwrap(), 5..=9);
        assert!(parse_size("9..5").is_err());
        assert_eq!(parse_weight("heap=7").unwrap(), (Fragment::Heap, 7));
        assert!(parse_weight("nope=1").is_err());
    }

    #[test]
    fn seconds_probabilities_and_jobs_are_validated() {
        assert_eq!(parse_seconds("2.5").unwrap(), 2.5);
        assert_eq!(parse_seconds("0").unwrap(), 0.0);
        for bad in ["inf", "-inf", "NaN", "1e30", "-1", "x", ""] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_probability("0").unwrap(), 0.0);
        assert_eq!(parse_probability("1").unwrap(), 1.0);
        for bad in ["1.5", "-0.1", "NaN", "inf", "p"] {
            assert!(parse_probability(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_hang_after("0.5").unwrap(), 0.5);
        for bad in ["0", "-1", "inf", "x"] {
            assert!(parse_hang_after(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_jobs("4").unwrap(), 4);
        for bad in ["0", "1025", "99999999999", "-1"] {
            assert!(parse_jobs(bad).is_err(), "{bad}");
        }
    }

    #[cfg(feature = "mutations")]
    #[test]
    fn mutations_are_validated() {
        let name = twinspace::jit::Mutation::ALL[0].name();
        assert_eq!(parse_mutation(name).unwrap(), name);
        assert_eq!(parse_mutation("list").unwrap(), "list");
        let e = parse_mutation("nope").unwrap_err();
        assert!(e.contains("unknown mutation `nope`") && e.contains(name), "{e}");
    }

    #[test]
    fn knob_flags_round_trip() {
        let k = KnobArgs {
            size: Some(10..=20),
            trap_rate: Some(0.5),
            weights: vec![(Fragment::Loop, 9)],
            no_swarm: true,
            ..KnobArgs::default()
        };
        assert_eq!(
            k.flags(),
            ["--size", "10..20", "--trap-rate", "0.5", "--weight", "loop=9", "--no-swarm"]
        );
        let knobs = k.knobs();
        assert_eq!(knobs.size, 10..=20);
        assert_eq!(knobs.weights.get(Fragment::Loop), 9);
        assert!(!knobs.swarm);
    }

    #[test]
    fn limit_flags_name_only_what_differs() {
        assert!(limit_flags(Limits::DEFAULT.with_fuel(u64::MAX)).is_empty());
        let l = Limits { stack: 3, ..Limits::DEFAULT.with_fuel(7) };
        assert_eq!(limit_flags(l), ["--fuel", "7", "--max-stack", "3"]);
    }
}
