//! `twinspace fuzz`, `diff` and `shrink`: the differential harness on the command line.
//!
//! - `fuzz` generates programs from a seed and runs them on both engines on `--jobs` threads,
//!   with a live progress line on standard error and a summary at the end; at the first
//!   mismatch it shrinks the case, keeps it in `corpus/regressions/`, prints the report and
//!   exits with status 5.
//! - `diff FILE` runs one program on both engines and prints the report (status 5) or says
//!   that they agree (status 0).
//! - `shrink FILE` shrinks a program on which the engines disagree, prints the report and can
//!   write the reduced program and keep it as a regression.
//!
//! `--engine NAME` (all three) names the engine compared with the reference interpreter (the
//! JIT by default). With the `mutations` feature, `--mutate NAME` (all three) compiles a
//! deliberate bug into the JIT, to see the harness catch it; reproducers found that way go to
//! a temporary directory, never to the corpus. Re-run commands are [`CommandLine`]s.

use std::io::{IsTerminal, Write as _};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::sync::Arc;
use twinspace::case::{format_limits, parse_expectation};
use twinspace::differential::fuzz::{FuzzConfig, Progress, fuzz as fuzz_loop};
use twinspace::differential::keep::{Kept, keep};
use twinspace::differential::report::{Finding, Report};

use twinspace::differential::{Parts, investigate};
use twinspace::engine::{self, Engine, RunCase};
use twinspace::generate::{Fragment, Knobs, generate};
use twinspace::syntax::{print_asm, print_visible, print_ws};
use twinspace::{Limits, Program};

use super::out::{err, errln, outln};
use super::rerun::CommandLine;
use super::supervise::{Signals, supervise, watch_lifeline};
use super::{
    CliExit, SourceArgs, Syntax, io_message, load_program, read_path, refuse_to_overwrite,
};

/// Where reproducers go by default.
const REGRESSIONS: &str = "corpus/regressions";

/// Arguments of `twinspace fuzz`.
#[derive(clap::Args, Debug, Clone)]
pub struct FuzzArgs {
    /// Number of programs to generate (default 10000 unless --time is given).
    #[arg(long, value_name = "N", conflicts_with = "time")]
    pub cases: Option<u64>,
    /// Generate programs for this many seconds instead.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub time: Option<f64>,
    /// The master seed (decimal or 0x-hex); default: taken from the clock and printed.
    #[arg(long, value_name = "S", value_parser = parse_seed)]
    pub seed: Option<u64>,
    /// Worker threads, 1 to 1024 (default: one per core).
    #[arg(long, short = 'j', value_name = "J", value_parser = parse_jobs)]
    pub jobs: Option<usize>,
    /// Run only the case of this case seed (as printed in a report) and report on it.
    #[arg(long, value_name = "CASE_SEED", value_parser = parse_seed,
          conflicts_with_all = ["cases", "time", "seed"])]
    pub replay: Option<u64>,
    #[command(flatten)]
    pub knobs: KnobArgs,
    #[command(flatten)]
    pub harness: HarnessArgs,
    /// Write reproducers to this directory (default: corpus/regressions; with --mutate, a new
    /// directory of their own under the system's temporary directory).
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Do not write the reproducer.
    #[arg(long, conflicts_with = "keep")]
    pub no_keep: bool,
    /// Fuzz in this process. By default the fuzzing runs in a child process watched by this
    /// one, so that an engine that crashes the process (a segmentation fault, a stack
    /// overflow) is caught: the case that was running is found, shrunk and kept like any
    /// mismatch.
    #[arg(long)]
    pub no_supervise: bool,
    /// (Used by the supervising process.) Keep the cases running in this file, one line per
    /// thread, and stop when standard input ends (the supervisor's lifeline).
    #[arg(long, value_name = "FILE", hide = true)]
    pub journal: Option<PathBuf>,
    /// Seconds allowed for shrinking a mismatch.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = parse_seconds)]
    pub shrink_time: f64,
    /// No progress line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

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
    /// read, branch, jump, loop, heap-loop, call, recursion, label, end.
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

/// What the three commands share: which parts to compare and which engine to test.
#[derive(clap::Args, Debug, Clone)]
pub struct HarnessArgs {
    /// The parts of the outcome to compare: a comma-separated list of output, termination,
    /// stack, heap, executed, or `all`.
    #[arg(long, value_name = "LIST", default_value = "all", value_parser = Parts::parse)]
    pub parts: Parts,
    /// The engine compared with the reference interpreter (default: jit).
    #[arg(long, value_name = "ENGINE", value_parser = engine::by_name)]
    pub engine: Option<Arc<dyn Engine>>,
    /// Test the harness itself: compile this deliberate bug into the JIT (`list` lists them);
    /// short for `--engine jit:mutate=NAME`.
    #[cfg(feature = "mutations")]
    #[arg(long, value_name = "NAME", value_parser = parse_mutation, conflicts_with = "engine")]
    pub mutate: Option<String>,
}

impl HarnessArgs {
    /// The engine to test, or the exit status after a message.
    fn subject(&self) -> Result<Arc<dyn Engine>, CliExit> {
        let subject = match &self.engine {
            Some(e) => Arc::clone(e),
            None => self.mutant()?.unwrap_or_else(|| Arc::new(engine::Jit::default())),
        };
        if let Some(why) = subject.unavailable() {
            errln!("twinspace: {subject} cannot run here ({why}); there is nothing to compare");
            return Err(CliExit::HostError);
        }
        Ok(subject)
    }

    /// The JIT with the mutation `--mutate` names, if it names one.
    #[cfg(feature = "mutations")]
    fn mutant(&self) -> Result<Option<Arc<dyn Engine>>, CliExit> {
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

    /// Whether the engine under test has a bug planted on purpose (its reproducers do not
    /// belong in the corpus).
    pub(super) fn planted(&self) -> bool {
        #[cfg(feature = "mutations")]
        if self.mutate.is_some() {
            return true;
        }
        self.engine.as_ref().is_some_and(|e| e.name().contains(":mutate="))
    }

    /// These flags as they would be typed again (for re-run commands).
    pub(super) fn flags(&self) -> Vec<String> {
        let mut words = Vec::new();
        if self.parts != Parts::all() {
            let names: Vec<&str> = self.parts.iter().map(Parts::part_name).collect();
            words.extend(["--parts".to_owned(), names.join(",")]);
        }
        if let Some(e) = &self.engine {
            words.extend(["--engine".to_owned(), e.name()]);
        }
        #[cfg(feature = "mutations")]
        if let Some(m) = &self.mutate {
            words.extend(["--mutate".to_owned(), m.clone()]);
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
    fn load(&self) -> Result<(Arc<dyn Engine>, RunCase), CliExit> {
        let subject = self.harness.subject()?;
        let case = load_case(&self.file, &self.source)?;
        Ok((subject, case))
    }
}

/// Arguments of `twinspace diff`.
#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    #[command(flatten)]
    pub case: CaseArgs,
    /// Give up after this many seconds of wall-clock time (fractions allowed; exit code 4),
    /// so that a program that never stops cannot make `diff` run forever.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = super::stops::parse_timeout)]
    pub timeout: Duration,
}

/// Arguments of `twinspace shrink`.
#[derive(clap::Args, Debug)]
pub struct ShrinkArgs {
    /// The failing program to shrink, its input, limits and engine.
    #[command(flatten)]
    pub case: CaseArgs,
    /// Seconds allowed for shrinking.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = parse_seconds)]
    pub time: f64,
    /// Give up after this many seconds of wall-clock time in all (fractions allowed; exit code
    /// 4): every candidate run obeys it, so a candidate that never stops cannot make `shrink`
    /// run forever.
    #[arg(long, value_name = "SECS", default_value = "120", value_parser = super::stops::parse_timeout)]
    pub timeout: Duration,
    /// Write the shrunk program here (syntax by extension: `.wsa`/`.asm` listing, `.stl`
    /// letters, else raw), and its input beside it with extension `.in`.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Keep the shrunk mismatch as a regression case in this directory (e.g.
    /// corpus/regressions).
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

/// The most seconds `--time` and `--shrink-time` take: about 31 years, far below where adding
/// the duration to the clock could overflow.
const MAX_SECONDS: f64 = 1e9;

/// A number of seconds: finite, 0 or more, at most [`MAX_SECONDS`].
fn parse_seconds(text: &str) -> Result<f64, String> {
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
fn parse_jobs(text: &str) -> Result<usize, String> {
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

fn parse_seed(text: &str) -> Result<u64, String> {
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

/// `twinspace fuzz --replay SEED KNOBS HARNESS`: the command that regenerates and re-runs one
/// generated case.
pub(super) fn replay_command(seed: u64, args: &FuzzArgs) -> CommandLine {
    CommandLine::twinspace("fuzz")
        .arg("--replay")
        .arg(format!("{seed:#x}"))
        .args(args.knobs.flags())
        .args(args.harness.flags())
}

/// Writes the finding's case as a regression in `dir`, saying so on standard error; `Err`
/// when it cannot be written.
fn keep_finding(
    dir: &Path,
    finding: &Finding,
    subject: &dyn Engine,
    origin: &str,
) -> Result<Option<Kept>, ()> {
    let Ok(reference) = &finding.reference.result else {
        errln!("twinspace: the reference failed, so there is no expected outcome to keep");
        return Ok(None);
    };
    let note =
        vec![origin.to_owned(), format!("{} disagreed: {}", subject.name(), finding.signature)];
    match keep(dir, &finding.case, reference, &finding.signature, &note) {
        Ok(kept) => {
            if !kept.new {
                errln!("twinspace: this mismatch was already kept as {}", kept.name);
            }
            Ok(Some(kept))
        }
        Err(e) => {
            errln!(
                "twinspace: cannot write the reproducer to {}: {}",
                dir.display(),
                io_message(&e)
            );
            Err(())
        }
    }
}

fn kept_text(kept: &Kept) -> String {
    let mut s = kept.ws.display().to_string();
    if let Some(i) = &kept.input {
        s.push_str(&format!(", {}", i.display()));
    }
    s.push_str(&format!(", {}", kept.expect.display()));
    s
}

/// Runs `twinspace fuzz`.
pub fn fuzz(args: FuzzArgs) -> ExitCode {
    let subject = match args.harness.subject() {
        Ok(s) => s,
        Err(exit) => return exit.into(),
    };
    let knobs = args.knobs.knobs();
    let parts = args.harness.parts;
    if !args.no_supervise && args.journal.is_none() && args.replay.is_none() {
        return supervise(&args, &*subject);
    }
    let keep_dir = keep_dir(&args);
    let shrink_budget = Duration::from_secs_f64(args.shrink_time.max(0.0));

    if let Some(seed) = args.replay {
        let case = generate(seed, &knobs);
        let replay = replay_command(seed, &args);
        let origin = format!("case seed {seed:#018x} (`{}`)", replay.render());
        return match investigate(&case, &*subject, parts, Some(shrink_budget)) {
            None => {
                outln!(
                    "case seed {seed:#018x}: interp and {subject} agree ({} instructions, {} input bytes, limits {})",
                    case.program.len(),
                    case.input.len(),
                    format_limits(case.limits)
                );
                CliExit::Ok.into()
            }
            Some(finding) => {
                report_finding(&finding, &*subject, origin, vec![replay], &keep_dir, &args.harness)
            }
        };
    }

    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
    });
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let config = FuzzConfig {
        cases: if args.time.is_some() { args.cases } else { Some(args.cases.unwrap_or(10_000)) },
        time: args.time.map(|t| Duration::from_secs_f64(t.max(0.0))),
        seed,
        jobs,
        knobs,
        parts,
        journal: args.journal.clone(),
        ..FuzzConfig::default()
    };
    // Ctrl-C (or SIGTERM, SIGHUP) ends the run between cases, with the summary so far.
    let signals = match Signals::catch() {
        Ok(signals) => signals,
        Err(e) => {
            errln!("twinspace: cannot watch for signals: {e}");
            return CliExit::HostError.into();
        }
    };
    let config = FuzzConfig { stop: Some(signals.flag()), ..config };
    if args.journal.is_some() {
        // A supervised child: its supervisor holds the other end of standard input.
        watch_lifeline(&signals);
    }
    errln!(
        "twinspace fuzz: seed {seed:#x}, {jobs} thread{}, interp vs {subject}, {}",
        if jobs == 1 { "" } else { "s" },
        match (config.cases, config.time) {
            (_, Some(t)) => format!("for {:.0} s", t.as_secs_f64()),
            (Some(n), None) => format!("{n} programs"),
            (None, None) => "until a mismatch".to_owned(),
        }
    );
    let tty = std::io::stderr().is_terminal();
    let mut last_line = Duration::ZERO;
    let mut progress = |p: Progress| {
        if args.quiet {
            return;
        }
        let rate = p.programs as f64 / p.elapsed.as_secs_f64().max(1e-9);
        if tty {
            err!("\r\x1b[K{} programs, {rate:.0}/s, {:.0} s", p.programs, p.elapsed.as_secs_f64());
            let _ = std::io::stderr().flush();
        } else if p.elapsed >= last_line + Duration::from_secs(10) {
            last_line = p.elapsed;
            errln!("{} programs, {rate:.0}/s, {:.0} s", p.programs, p.elapsed.as_secs_f64());
        }
    };
    let result = match fuzz_loop(&config, &*subject, &mut progress) {
        Ok(r) => r,
        Err(e) => {
            errln!("twinspace: cannot fuzz: {e}");
            return CliExit::HostError.into();
        }
    };
    if tty && !args.quiet {
        err!("\r\x1b[K");
    }
    outln!("{}", result.stats.summary(result.elapsed, jobs));
    let Some(found) = result.found else {
        if let (true, Some(signal)) = (result.interrupted, signals.caught()) {
            outln!(
                "{}: no mismatch in the {} programs run (seed {seed:#x})",
                Signals::describe(signal),
                result.stats.programs
            );
            return Signals::exit(signal);
        }
        outln!("no mismatch (seed {seed:#x})");
        return CliExit::Ok.into();
    };
    let run = CommandLine::twinspace("fuzz")
        .arg("--seed")
        .arg(format!("{seed:#x}"))
        .args(args.knobs.flags())
        .args(args.harness.flags());
    let origin =
        format!("case seed {:#018x}: case {} of `{}`", found.seed, found.index, run.render());
    let replay = replay_command(found.seed, &args);
    errln!("twinspace: mismatch in case {} ({}); shrinking...", found.index, origin);
    let Some(finding) = investigate(&found.case, &*subject, parts, Some(shrink_budget)) else {
        errln!(
            "twinspace: the mismatch did not happen again when the case was re-run: one engine is \
             not deterministic. Replay it with `{}`",
            replay.render()
        );
        return CliExit::Mismatch.into();
    };
    report_finding(&finding, &*subject, origin, vec![replay], &keep_dir, &args.harness)
}

/// Where a reproducer goes.
pub(super) enum KeepIn {
    /// Nowhere (`--no-keep`).
    Nowhere,
    /// This directory.
    Dir(PathBuf),
    /// A new directory of its own under the system's temporary directory, made when there is
    /// something to keep (with `--mutate`: planted bugs do not belong in the corpus).
    NewTempDir,
}

impl KeepIn {
    /// The directory, made if it is a new temporary one: securely, with a random name, so
    /// that nobody else can have put a file or a link there first.
    fn resolve(&self) -> std::io::Result<Option<PathBuf>> {
        match self {
            KeepIn::Nowhere => Ok(None),
            KeepIn::Dir(dir) => Ok(Some(dir.clone())),
            KeepIn::NewTempDir => {
                let dir = tempfile::Builder::new().prefix("twinspace-mutants-").tempdir()?;
                Ok(Some(dir.keep()))
            }
        }
    }
}

/// Where `twinspace fuzz` keeps reproducers.
pub(super) fn keep_dir(args: &FuzzArgs) -> KeepIn {
    if args.no_keep {
        KeepIn::Nowhere
    } else if let Some(dir) = &args.keep {
        KeepIn::Dir(dir.clone())
    } else if args.harness.planted() {
        KeepIn::NewTempDir
    } else {
        KeepIn::Dir(PathBuf::from(REGRESSIONS))
    }
}

/// Keeps (as `keep` says), prints the report, and gives the mismatch status, or the host-error
/// status when the reproducer could not be kept.
pub(super) fn report_finding(
    finding: &Finding,
    subject: &dyn Engine,
    origin: String,
    mut rerun: Vec<CommandLine>,
    keep: &KeepIn,
    harness: &HarnessArgs,
) -> ExitCode {
    let mut kept_failed = false;
    let kept = match keep.resolve() {
        Ok(None) => None,
        Ok(Some(dir)) => keep_finding(&dir, finding, subject, &origin).unwrap_or_else(|()| {
            kept_failed = true;
            None
        }),
        Err(e) => {
            errln!("twinspace: cannot make a directory for the reproducer: {}", io_message(&e));
            kept_failed = true;
            None
        }
    };
    if let Some(k) = &kept {
        rerun.insert(0, diff_command(&k.ws, k.input.as_deref(), finding.case.limits, harness));
    }
    let report = Report {
        finding,
        reference_name: "interp".to_owned(),
        subject_name: subject.name(),
        origin: Some(origin),
        rerun: rerun.iter().map(CommandLine::render).collect(),
        kept: kept.as_ref().map(kept_text),
    };
    outln!("{}", report.render());
    if let Some(k) = &kept {
        if k.new && !harness.planted() {
            outln!(
                "The reproducer is now a regression case: `cargo test --test corpus` runs it on both \
                 engines and expects the reference outcome (commit {}.*).",
                k.name
            );
        }
    }
    if kept_failed { CliExit::HostError.into() } else { CliExit::Mismatch.into() }
}

/// The case of a program file: its input and limits from flags or from the files beside it.
fn load_case(file: &Path, source: &SourceArgs) -> Result<RunCase, CliExit> {
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

/// Runs `twinspace diff`.
pub fn diff(args: DiffArgs) -> ExitCode {
    let (subject, case) = match args.case.load() {
        Ok(loaded) => loaded,
        Err(exit) => return exit.into(),
    };
    let parts = args.case.harness.parts;
    let stopping = super::stops::Stopping::start(Some(args.timeout));
    let found = investigate(&case, &*subject, parts, None);
    if let Some(cause) = stopping.stop.requested() {
        eprintln!("twinspace: diff: {cause}: no verdict");
        return super::stops::exit_code(cause);
    }
    match found {
        None => {
            let run = engine::Interp.run(&case);
            let what = match &run.result {
                Ok(o) => twinspace::differential::report::termination(
                    &case.program,
                    &o.finish.termination,
                ),
                Err(e) => e.to_string(),
            };
            outln!(
                "interp and {subject} agree on {} ({what}; {} executed)",
                twinspace::differential::compared_parts(&*subject, parts),
                run.result.as_ref().map_or(0, |o| o.finish.executed)
            );
            CliExit::Ok.into()
        }
        Some(finding) => {
            let sibling_in = args.case.file.with_extension("in");
            let input = match &args.case.source.input {
                _ if case.input.is_empty() => None,
                Some(given) => Some(given.as_path()),
                None => Some(sibling_in.as_path()),
            };
            let cmd = diff_command(&args.case.file, input, case.limits, &args.case.harness);
            let shrink_cmd = cmd.clone().with_subcommand("shrink");
            let report = Report {
                finding: &finding,
                reference_name: "interp".to_owned(),
                subject_name: subject.name(),
                origin: None,
                rerun: vec![cmd.render(), shrink_cmd.render()],
                kept: None,
            };
            outln!("{}", report.render());
            CliExit::Mismatch.into()
        }
    }
}

/// Runs `twinspace shrink`.
pub fn shrink(args: ShrinkArgs) -> ExitCode {
    if let Some(out) = &args.output {
        // The program and its input must survive: `-o` writes OUT and OUT with extension `.in`.
        let sibling_in = args.case.file.with_extension("in");
        let mut inputs = vec![args.case.file.as_path(), sibling_in.as_path()];
        inputs.extend(args.case.source.input.as_deref());
        let written = [out.clone(), out.with_extension("in")];
        if let Some(exit) = written.iter().find_map(|w| refuse_to_overwrite(w, &inputs).err()) {
            return exit.into();
        }
    }
    let (subject, case) = match args.case.load() {
        Ok(loaded) => loaded,
        Err(exit) => return exit.into(),
    };
    let budget = Duration::from_secs_f64(args.time.max(0.0));
    let stopping = super::stops::Stopping::start(Some(args.timeout));
    let found = investigate(&case, &*subject, args.case.harness.parts, Some(budget));
    if let Some(cause) = stopping.stop.requested() {
        errln!("twinspace: shrink: {cause}: no verdict");
        return super::stops::exit_code(cause);
    }
    let Some(finding) = found else {
        outln!(
            "interp and {subject} agree on {}: nothing to shrink",
            twinspace::differential::compared_parts(&*subject, args.case.harness.parts)
        );
        return CliExit::Ok.into();
    };
    let mut rerun = Vec::new();
    if let Some(out) = &args.output {
        let text = match Syntax::for_path(out, None) {
            Syntax::Asm => print_asm(&finding.case.program).into_bytes(),
            Syntax::Stl => print_visible(&finding.case.program).into_bytes(),
            Syntax::Ws => print_ws(&finding.case.program),
        };
        let mut written = std::fs::write(out, text);
        let input_path = out.with_extension("in");
        if written.is_ok() && !finding.case.input.is_empty() {
            written = std::fs::write(&input_path, &finding.case.input);
        }
        if let Err(e) = written {
            errln!("twinspace: cannot write {}: {e}", out.display());
            return CliExit::HostError.into();
        }
        let input = (!finding.case.input.is_empty()).then_some(input_path.as_path());
        rerun.push(diff_command(out, input, finding.case.limits, &args.case.harness));
    }
    let origin = format!("shrinking {}", args.case.file.display());
    let keep = args.keep.clone().map_or(KeepIn::Nowhere, KeepIn::Dir);
    report_finding(&finding, &*subject, origin, rerun, &keep, &args.case.harness)
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
