//! `twinspace fuzz`, `diff` and `shrink`: the differential harness on the command line.
//!
//! - `fuzz` generates programs from a seed and runs them on both engines on `--jobs` threads,
//!   with a live progress line on standard error and a summary at the end (which names the
//!   JIT decisions never reached; `--coverage` lists every decision with its count); at the
//!   first mismatch it shrinks the case, keeps it in `corpus/regressions/`, prints the report
//!   and exits with status 5.
//! - `diff FILE` runs one program on both engines and prints the report (status 5) or says
//!   that they agree (status 0).
//! - `shrink FILE` shrinks a program on which the engines disagree, prints the report and can
//!   write the reduced program and keep it as a regression.
//!
//! A crash or a hang (a run of the engine under test past `--hang-after`: every case has
//! bounded fuel) is a finding in all three: `fuzz` catches it under supervision
//! (`super::supervise`), `diff` runs the subject alone in a process of its own first (the
//! hidden `diff --subject-only`) and reports it crashed or hung, and `shrink` runs a case
//! alone in a process first and shrinks a hang in processes of their own. Each then names the
//! exact instruction at which the engine crashes or hangs, found by runs cut inside a block
//! (`diff --subject-only --cut-after INDEX`), each in a process of its own ([`locate_failed`]).
//! A run that ignores the stop (`--timeout`, a signal) ends the process.
//!
//! `--engine NAME` (all three) names the engine compared with the reference interpreter (the
//! JIT by default). With the `mutations` feature, `--mutate NAME` (all three) compiles a
//! deliberate bug into the JIT, to see the harness catch it; reproducers found that way go to
//! a temporary directory, never to the corpus. Re-run commands are [`CommandLine`]s.

use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use twinspace::case::format_limits;
use twinspace::differential::fuzz::{FuzzConfig, Progress, fuzz as fuzz_loop};
use twinspace::differential::keep::{Kept, keep};
use twinspace::differential::report::{Finding, Report};

use twinspace::differential::investigate;
use twinspace::differential::supervise::{
    GRACE, Probe, Recording, end_recording, failure_finding, hang_failure, locate_failure,
    probe_hang, reference_time, shrink_hang,
};
use twinspace::engine::{self, Engine, RunCase};
use twinspace::external::Member;
use twinspace::generate::generate;
use twinspace::outcome::Parts;
use twinspace::syntax::{print_asm, print_visible, print_ws};

use super::external::{Subjects, comparison_note};
use super::harness_flags::{
    CaseArgs, HarnessArgs, KnobArgs, diff_command, parse_jobs, parse_seconds, parse_seed,
};
use super::out::{err, errln, outln};
use super::rerun::CommandLine;
use super::supervise::{Signals, note_investigating, supervise, watch_lifeline};
use super::{CliExit, Syntax, io_message, refuse_to_overwrite};

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
    /// overflow) or hangs it (one case running past --hang-after) is caught: the case that was
    /// running is found, shrunk and kept like any mismatch.
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
    /// After the summary, list every decision of the JIT (each emission path of the code
    /// generator, each exit and hand-over at run time) with how often this run reached it,
    /// one per line: `compile`/`run`, its stable name, the count. The summary always names
    /// the decisions never reached.
    #[arg(long, conflicts_with = "replay")]
    pub coverage: bool,
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
    /// (Used by the supervising process.) Run the engine under test alone on the case, once,
    /// print nothing and exit 0 when it ends: the probe of a case that may hang, which the
    /// supervisor kills at its bound.
    #[arg(long, hide = true)]
    pub subject_only: bool,
    /// (Used by the supervising process, with --subject-only.) Cut the engine's blocks right
    /// after this instruction: a probe of the search for the instruction that crashes or
    /// hangs it.
    #[arg(long, value_name = "INDEX", hide = true, requires = "subject_only")]
    pub cut_after: Option<usize>,
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
/// `fuzz --replay SEED`: only the case of that seed, investigated and reported.
fn replay_one(
    args: &FuzzArgs,
    subjects: &Subjects,
    seed: u64,
    keep_dir: &KeepIn,
    shrink_budget: Duration,
) -> ExitCode {
    let case = generate(seed, &args.knobs.knobs());
    let replay = replay_command(seed, args);
    let origin = format!("case seed {seed:#018x} (`{}`)", replay.render());
    let record = recording_dir(args);
    if let Some(dir) = record {
        note_investigating(dir, None, seed);
    }
    match investigate_found(&case, subjects, args.harness.parts, shrink_budget, record) {
        None => {
            outln!(
                "case seed {seed:#018x}: interp and {} agree ({} instructions, {} input bytes, limits {})",
                subjects.engine,
                case.program.len(),
                case.input.len(),
                format_limits(case.limits)
            );
            CliExit::Ok.into()
        }
        Some((finding, culprit)) => {
            let found = Found { finding: &finding, culprit: &culprit, subjects };
            report_found(found, origin, vec![replay], keep_dir, &args.harness)
        }
    }
}

/// The progress line: rewritten in place on a terminal, else a line every 10 s.
fn progress_printer(tty: bool, quiet: bool) -> impl FnMut(Progress) {
    let mut last_line = Duration::ZERO;
    move |p: Progress| {
        if quiet {
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
    }
}

pub fn fuzz(args: FuzzArgs) -> ExitCode {
    let subjects = match args.harness.subjects() {
        Ok(s) => s,
        Err(exit) => return exit.into(),
    };
    let subject = Arc::clone(&subjects.engine);
    let knobs = args.knobs.knobs();
    let parts = args.harness.parts;
    // Several engines, or another program: in this process (see `super::external`).
    let in_process = subjects.panel.is_some();
    if !args.no_supervise && args.journal.is_none() && !in_process {
        return supervise(&args, &*subject);
    }
    let keep_dir = keep_dir(&args);
    let shrink_budget = Duration::from_secs_f64(args.shrink_time.max(0.0));

    if let Some(seed) = args.replay {
        return replay_one(&args, &subjects, seed, &keep_dir, shrink_budget);
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
    let mut progress = progress_printer(tty, args.quiet);
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
    if args.coverage {
        outln!("JIT decisions (kind, name, times reached):\n{}", result.stats.decisions.report());
    }
    if let Some(panel) = &subjects.panel {
        outln!("{}", panel.summary().trim_end());
    }
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
    let record = recording_dir(&args);
    if let Some(dir) = record {
        note_investigating(dir, Some(found.index), found.seed);
    }
    let Some((finding, culprit)) =
        investigate_found(&found.case, &subjects, parts, shrink_budget, record)
    else {
        errln!(
            "twinspace: the mismatch did not happen again when the case was re-run: one engine is \
             not deterministic. Replay it with `{}`",
            replay.render()
        );
        return CliExit::Mismatch.into();
    };
    let found = Found { finding: &finding, culprit: &culprit, subjects: &subjects };
    report_found(found, origin, vec![replay], &keep_dir, &args.harness)
}

/// Checks `case` and, on a mismatch, shrinks it (with `budget`) on the one engine that
/// disagrees with the reference (of several, the first that does). With `record` (in a
/// supervised child), every case the engine runs is written there first, so that if one
/// crashes the process, the supervisor can shrink that one ([`Recording`]).
fn investigate_found(
    case: &RunCase,
    subjects: &Subjects,
    parts: Parts,
    budget: Duration,
    record: Option<&Path>,
) -> Option<(Finding, Member)> {
    if let Some(dir) = record {
        // Before anything runs it: the first check may be what crashes.
        let _ = Recording::new(&*subjects.engine, dir).record(case);
    }
    let culprit = subjects.culprit(case)?;
    let engine = culprit.engine();
    let finding = match record {
        Some(dir) => {
            let finding = investigate(case, &Recording::new(&*engine, dir), parts, Some(budget));
            // No run of the subject follows: the supervisor stops watching for a hang.
            end_recording(dir);
            finding
        }
        None => investigate(case, &*engine, parts, Some(budget)),
    };
    finding.map(|f| (f, culprit))
}

/// Where a supervised child records the cases it investigates: beside its journal, in the
/// supervisor's private directory.
fn recording_dir(args: &FuzzArgs) -> Option<&Path> {
    args.journal.as_deref().and_then(Path::parent)
}

/// A mismatch found by `fuzz`, and the engine it was found on.
struct Found<'a> {
    finding: &'a Finding,
    culprit: &'a Member,
    subjects: &'a Subjects,
}

/// [`report_finding`] for the engine that disagrees: with a note on what an external engine
/// is compared on, the third engine's opinion, and re-run commands naming that engine alone.
fn report_found(
    found: Found<'_>,
    origin: String,
    rerun: Vec<CommandLine>,
    keep: &KeepIn,
    harness: &HarnessArgs,
) -> ExitCode {
    let Found { finding, culprit, subjects } = found;
    if let Some(note) = comparison_note(culprit) {
        outln!("note: {note}");
    }
    subjects.print_third_opinion(&finding.case, culprit, harness.parts);
    let engine = culprit.engine();
    let harness =
        if harness.engine.len() > 1 { harness.only(engine.name()) } else { harness.clone() };
    report_finding(finding, &*engine, origin, rerun, keep, &harness)
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

/// What running the subject in processes of its own needs: this program (`None` when it
/// cannot find itself: then nothing is run in a child) and a scratch directory named
/// `prefix…` for `what`.
fn child_scratch(
    prefix: &str,
    what: &str,
) -> Result<Option<(std::path::PathBuf, tempfile::TempDir)>, CliExit> {
    let Ok(exe) = std::env::current_exe() else { return Ok(None) };
    let scratch = tempfile::Builder::new().prefix(prefix).tempdir().map_err(|e| {
        errln!("twinspace: cannot make a temporary directory for {what}: {e}");
        CliExit::HostError
    })?;
    Ok(Some((exe, scratch)))
}

/// The probe of a case that may hang: `twinspace diff FILE --input IN LIMITS HARNESS
/// --subject-only`, which runs the engine under test alone, once; its own timeout lies past
/// any bound it is probed with, so only the prober ends it early.
pub(super) fn subject_probe(
    harness: &HarnessArgs,
    exe: &Path,
) -> impl Fn(&Path, &Path, twinspace::Limits) -> std::process::Command {
    let timeout = format!("{}", 2.0 * harness.hang_after + 60.0);
    move |ws: &Path, input: &Path, limits| {
        let mut c = std::process::Command::new(exe);
        c.args(diff_command(ws, Some(input), limits, harness).arguments());
        c.args(["--subject-only", "--timeout", &timeout]);
        c
    }
}

/// [`subject_probe`] with `--cut-after INDEX` when a cut is asked for: the probe of the search
/// for the instruction at which the engine under test crashes or hangs.
pub(super) fn cut_probe(
    harness: &HarnessArgs,
    exe: &Path,
) -> impl Fn(&Path, &Path, twinspace::Limits, Option<usize>) -> std::process::Command {
    let probe = subject_probe(harness, exe);
    move |ws: &Path, input: &Path, limits, cut: Option<usize>| {
        let mut c = probe(ws, input, limits);
        if let Some(index) = cut {
            c.args(["--cut-after", &index.to_string()]);
        }
        c
    }
}

/// Sets the divergence of `finding`, whose subject run crashed its process or hung (in a
/// process or thread of its own), to the exact instruction at which it does: each run of the
/// search in a process of its own ([`locate_failure`]). Says on standard error what it does;
/// a search that cannot run leaves the finding without a divergence.
pub(super) fn locate_failed(
    finding: &mut Finding,
    subject: &dyn Engine,
    harness: &HarnessArgs,
    exe: &Path,
    scratch: &Path,
    stopped: &dyn Fn() -> bool,
) {
    let Err(failure) = &finding.subject.result else { return };
    let hang = match failure {
        engine::Failure::Crash(_) => None,
        engine::Failure::Hang(_) => Some(harness.hang_bound()),
        _ => return,
    };
    errln!(
        "twinspace: locating the instruction at which {} {} (each run in a process of its own)...",
        subject.name(),
        if hang.is_some() { "hangs" } else { "crashes" }
    );
    let probe = cut_probe(harness, exe);
    let case = finding.case.clone();
    match locate_failure(&case, subject, harness.parts, failure, scratch, &probe, hang, stopped) {
        Ok(d) => finding.divergence = d,
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
        Err(e) => errln!("twinspace: cannot run a process of the search: {e}"),
    }
}

/// `twinspace diff` with the engine under test run alone first, in a process of its own
/// killed at `bound`: a run that crashes the process or hangs is then a finding of this
/// process, with the instruction it fails at. `Ok(None)` when it ends by itself (or this
/// program cannot find itself to start the process, or the reference does not finish either).
fn diff_supervised(
    args: &DiffArgs,
    case: &RunCase,
    subject: &dyn Engine,
    stop: &twinspace::Stop,
) -> Result<Option<Finding>, CliExit> {
    let harness = &args.case.harness;
    let Some((exe, scratch)) = child_scratch("twinspace-diff-", "the subject's run")? else {
        return Ok(None);
    };
    let bound = harness.hang_bound();
    let probe = subject_probe(harness, &exe);
    let failure = match probe_hang(case, scratch.path(), &probe, bound) {
        Ok(Probe::Finished(_)) => return Ok(None),
        Ok(Probe::Crashed(why)) => engine::Failure::Crash(why),
        Ok(Probe::Hung) if reference_time(case, bound).is_some() => hang_failure(bound),
        Ok(Probe::Hung) => return Ok(None),
        Err(e) => {
            errln!("twinspace: cannot start a process to run the case: {e}");
            return Err(CliExit::HostError);
        }
    };
    let mut finding = failure_finding(case, case.clone(), None, failure, harness.parts);
    let stopped = || stop.requested().is_some();
    locate_failed(&mut finding, subject, harness, &exe, scratch.path(), &stopped);
    Ok(Some(finding))
}

/// Ends this process, for `command`, when a stop of `stop` (its timeout, a signal) was
/// requested and [`GRACE`] later it is still running: a run that never reaches a check point
/// of the stop (a JIT loop that charges no fuel) would otherwise keep it running for ever.
fn exit_when_stuck(stop: &twinspace::Stop, command: &'static str) {
    let stop = stop.clone();
    let watcher = std::thread::Builder::new().name("stuck".into()).spawn(move || {
        loop {
            if let Some(cause) = stop.requested() {
                std::thread::sleep(GRACE);
                errln!(
                    "twinspace: {command}: {cause}, and a run did not stop within {} s (an \
                     engine that runs on without charging fuel: a hang); ending",
                    GRACE.as_secs()
                );
                let code = match cause {
                    twinspace::StopCause::Signal(n) => 128 + n,
                    twinspace::StopCause::Timeout(_) => i32::from(CliExit::HostError as u8),
                };
                std::process::exit(code);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    if let Err(e) = watcher {
        errln!("twinspace: {command}: cannot watch for a run that does not stop ({e})");
    }
}

/// Ends this process (exit 4) once `limit` has passed: the last resort of a probe process
/// whose run never ends and whose supervisor may be gone.
fn exit_after(limit: Duration) {
    let spawned = std::thread::Builder::new().name("probe-limit".into()).spawn(move || {
        std::thread::sleep(limit);
        std::process::exit(i32::from(CliExit::HostError as u8));
    });
    if let Err(e) = spawned {
        errln!("twinspace: diff: cannot bound the probe's run ({e})");
    }
}

/// Runs `subject` once on `case` on a thread of its own (obeying `stop`) and waits for it at
/// most `bound`: the finding of a hang when it is still running then. The thread is left to
/// run until the process ends: nothing can stop it.
fn hangs_in_thread(
    case: &RunCase,
    subject: &Arc<dyn Engine>,
    stop: &twinspace::Stop,
    bound: Duration,
    parts: Parts,
) -> Option<Finding> {
    let (tx, rx) = std::sync::mpsc::channel();
    let (c, engine, stop) = (case.clone(), Arc::clone(subject), stop.clone());
    // As the fuzzing workers: the stack of a main thread.
    let spawned =
        std::thread::Builder::new().name("subject".into()).stack_size(8 << 20).spawn(move || {
            let _installed = stop.install();
            let _ = tx.send(engine.run(&c));
        });
    if spawned.is_err() {
        return None;
    }
    match rx.recv_timeout(bound) {
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            Some(failure_finding(case, case.clone(), None, hang_failure(bound), parts))
        }
        _ => None,
    }
}

/// Runs `twinspace diff`.
pub fn diff(args: DiffArgs) -> ExitCode {
    let (subjects, case) = match args.case.load() {
        Ok(loaded) => loaded,
        Err(exit) => return exit.into(),
    };
    let subject = subjects.member.engine();
    let parts = args.case.harness.parts;
    let stopping = super::stops::Stopping::start(Some(args.timeout));
    if args.subject_only {
        // The supervisor kills a probe still running at its bound; a probe whose supervisor
        // is gone (it ended on its own timeout or a signal meanwhile) ends itself, so that no
        // hanging probe outlives the command that started it.
        exit_when_stuck(&stopping.stop, "diff");
        exit_after(args.case.harness.hang_bound() + GRACE);
        match args.cut_after {
            None => drop(subject.run(&case)),
            Some(index) => match subject.cut_after(index) {
                Some(cut) => drop(cut.run(&case)),
                None => {
                    errln!("twinspace: {subject} cannot be cut inside a block");
                    return CliExit::Usage.into();
                }
            },
        }
        return CliExit::Ok.into();
    }
    exit_when_stuck(&stopping.stop, "diff");
    let bound = args.case.harness.hang_bound();
    let found = match diff_supervised(&args, &case, &*subject, &stopping.stop) {
        Ok(Some(failed)) => Some(failed),
        Ok(None) if stopping.stop.requested().is_some() => None,
        Ok(None) => match hangs_in_thread(&case, &subject, &stopping.stop, bound, parts) {
            Some(hang) => Some(hang),
            None if stopping.stop.requested().is_some() => None,
            None => investigate(&case, &*subject, parts, None),
        },
        Err(exit) => return exit.into(),
    };
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
            if let Some(note) = comparison_note(&subjects.member) {
                outln!("note: {note}");
            }
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
    let (subjects, case) = match args.case.load() {
        Ok(loaded) => loaded,
        Err(exit) => return exit.into(),
    };
    let subject = subjects.member.engine();
    let budget = Duration::from_secs_f64(args.time.max(0.0));
    let stopping = super::stops::Stopping::start(Some(args.timeout));
    exit_when_stuck(&stopping.stop, "shrink");
    let name = subject.name();
    let found = match shrink_a_hang(&args, &case, &name, &stopping.stop, budget) {
        Ok(Some(hang)) => Some(hang),
        Ok(None) if stopping.stop.requested().is_some() => None,
        Ok(None) => {
            // A candidate may hang where the case does not: each run is watched.
            let bound = args.case.harness.hang_bound();
            let watched = Watched::new(Arc::clone(&subject), bound, &stopping.stop);
            let found = investigate(&case, &watched, args.case.harness.parts, Some(budget));
            match watched.hung() {
                None => found,
                Some(candidate) => {
                    errln!(
                        "twinspace: a shrinking candidate ({} instructions) was still running on \
                         {name} after {:.1} s; running it alone...",
                        candidate.program.len(),
                        bound.as_secs_f64()
                    );
                    match shrink_a_hang(&args, &candidate, &name, &stopping.stop, budget) {
                        Ok(Some(hang)) => Some(hang),
                        Ok(None) if stopping.stop.requested().is_some() => None,
                        Ok(None) => {
                            errln!(
                                "twinspace: alone it is no hang (was the machine too busy for \
                                 the bound? raise --hang-after): no verdict"
                            );
                            return CliExit::HostError.into();
                        }
                        Err(exit) => return exit.into(),
                    }
                }
            }
        }
        Err(exit) => return exit.into(),
    };
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
    if let Some(note) = comparison_note(&subjects.member) {
        outln!("note: {note}");
    }
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

/// `twinspace shrink` of a case that hangs the engine under test: the case is run alone in a
/// process of its own with the `--hang-after` bound first, and if it hangs there it is
/// shrunk as `fuzz` shrinks a hang, every candidate in a process of its own
/// (`differential::supervise::shrink_hang`). `Ok(None)` when it does not hang (or this
/// program cannot find itself to start the processes: then it is shrunk in this process).
fn shrink_a_hang(
    args: &ShrinkArgs,
    case: &RunCase,
    subject: &str,
    stop: &twinspace::Stop,
    budget: Duration,
) -> Result<Option<Finding>, CliExit> {
    let harness = &args.case.harness;
    let Some((exe, scratch)) = child_scratch("twinspace-shrink-", "the shrinking")? else {
        return Ok(None);
    };
    let probe = subject_probe(harness, &exe);
    let bound = harness.hang_bound();
    let failed = |e: std::io::Error| {
        errln!("twinspace: cannot start a process to run the case: {e}");
        CliExit::HostError
    };
    if reference_time(case, bound).is_none() {
        return Ok(None);
    }
    if probe_hang(case, scratch.path(), &probe, bound).map_err(failed)? != Probe::Hung {
        return Ok(None);
    }
    errln!(
        "twinspace: {subject} hangs alone: still running after {:.1} s; shrinking the hang (each \
         candidate in its own process)...",
        bound.as_secs_f64()
    );
    let stopped = || stop.requested().is_some();
    let mut found =
        shrink_hang(case, scratch.path(), &probe, harness.parts, bound, budget, &stopped)
            .map_err(failed)?;
    if let (Some(finding), Ok(engine)) = (&mut found, harness.subject()) {
        let engine = engine.member.engine();
        locate_failed(finding, &*engine, harness, &exe, scratch.path(), &stopped);
    }
    Ok(found)
}

/// The engine under test for shrinking in this process: each run on a thread of its own,
/// waited for at most the hang bound. The first run still going then is kept ([`Watched::hung`])
/// and left to run until the process ends (nothing can stop it); from then on every run
/// fails at once as hung, so the shrinking ends quickly and the hang is shrunk instead.
struct Watched {
    inner: Arc<dyn Engine>,
    bound: Duration,
    stop: twinspace::Stop,
    hung: Arc<std::sync::Mutex<Option<RunCase>>>,
}

impl Watched {
    fn new(inner: Arc<dyn Engine>, bound: Duration, stop: &twinspace::Stop) -> Watched {
        let hung = Arc::new(std::sync::Mutex::new(None));
        Watched { inner, bound, stop: stop.clone(), hung }
    }

    /// The first case a run of which was still going at the bound.
    fn hung(&self) -> Option<RunCase> {
        self.hung.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Engine for Watched {
    twinspace::forward_engine!(inner);

    fn cut_after(&self, index: usize) -> Option<Box<dyn Engine>> {
        let inner: Arc<dyn Engine> = Arc::from(self.inner.cut_after(index)?);
        let hung = Arc::clone(&self.hung);
        Some(Box::new(Watched { inner, bound: self.bound, stop: self.stop.clone(), hung }))
    }

    fn run(&self, case: &RunCase) -> engine::Run {
        let hang = || engine::Run { result: Err(hang_failure(self.bound)), handovers: 0 };
        if self.hung().is_some() {
            return hang();
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let (c, engine, stop) = (case.clone(), Arc::clone(&self.inner), self.stop.clone());
        let spawned = std::thread::Builder::new().name("subject".into()).stack_size(8 << 20).spawn(
            move || {
                let _installed = stop.install();
                let _ = tx.send(engine.run(&c));
            },
        );
        if spawned.is_err() {
            return self.inner.run(case);
        }
        match rx.recv_timeout(self.bound) {
            Ok(run) => run,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                *self.hung.lock().unwrap_or_else(|e| e.into_inner()) = Some(case.clone());
                hang()
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => engine::Run {
                result: Err(engine::Failure::Panic("the run's thread ended with no run".into())),
                handovers: 0,
            },
        }
    }
}
