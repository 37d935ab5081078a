//! `twinspace fuzz` under supervision, the command-line side: the fuzzing runs in a child
//! process (this same program with `--no-supervise --journal FILE`), so that an engine that
//! crashes the process is caught, and this process replays, shrinks and reports the case
//! that crashed it. A crash while the child investigates a case (shrinks a mismatch, or runs
//! `--replay`, which is supervised too) is found in the child's recording of the cases its
//! investigation runs, beside the journal, and shrunk and reported the same way; the run
//! always ends in a report of the crash and a kept reproducer, or, when that case does not
//! crash alone, in the report of the case under investigation, unshrunk.
//!
//! A hang ends in a report too ([`hang`]): a watchdog kills the child when one case has run
//! longer than `--hang-after` (times the threads per core) in a worker, or one run of its
//! investigation has (the recording's heartbeat stood still); the case (the worker's, or the
//! last recorded) is run alone with `twinspace diff --subject-only` in a process of its own,
//! killed at the bound, and when it hangs there while the reference finishes it, it is shrunk
//! and reported as the subject's `Failure::Hang`, kept like a crash (exit 5). A case that
//! finishes alone is no hang: the run ends with a host error (4) that says so, and suggests a
//! larger bound.
//!
//! Either report names the instruction at which the engine crashes or hangs, with the states
//! before it (`super::fuzz::locate_failed`, after the shrinking).
//!
//! The process mechanics (waiting with a lifeline and a watchdog, replaying, shrinking in
//! processes of their own) are the library's, `twinspace::differential::supervise`; this
//! file holds what belongs to the command: the signals, the commands the children run, and
//! the exit codes.
//!
//! What keeps this tidy:
//! - **Signals.** Ctrl-C reaches both processes (they share the terminal's process group).
//!   Both catch SIGINT, SIGTERM and SIGHUP ([`Signals`]): the child stops between cases and
//!   prints the summary so far, and this process waits for it and exits with 128 + the signal
//!   (130 for Ctrl-C). A second signal ends either process at once, as if nothing caught it.
//! - **The lifeline.** The child's standard input is a pipe from this process, which it never
//!   writes but for the number of a signal it got, just before it closes the pipe to ask the
//!   child to stop. The child watches it ([`watch_lifeline`]): end of file means the
//!   supervisor is gone (killed, crashed) or wants it to stop, and the child stops as for a
//!   signal, and exits by itself if it has not within a few seconds. So the child never outlives its
//!   supervisor, with no `unsafe` (`prctl`) needed.
//! - **The journal.** The child keeps one fixed line per worker thread in a journal
//!   (`FuzzConfig::journal`) saying which case it runs; it stays `jobs` lines long. It lives in
//!   a private temporary directory (`tempfile`: a random name, mode 0700, no link followed)
//!   with the probe files of the shrinking, and the directory is removed when this process
//!   ends, however the command ends short of SIGKILL.
//! - **Exit codes.** The child's own status is passed on when it is one the command gives (0,
//!   2, 4, 5, or a signal's 128 + N); anything else, such as a panic's 101, is a host failure
//!   (4), as is failing to start or watch the child. Only a real mismatch or crash is 5.

use std::io::{self, Read as _};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use twinspace::differential::fuzz::unfinished;
use twinspace::differential::supervise::{
    GRACE, Probe, REPLAYS, Stall, Waited, Watchdog, crashing_case, ended, probe_crash, probe_hang,
    recorded, reference_time, shrink_crash, shrink_hang, wait_for,
};
use twinspace::engine::{Engine, RunCase};
use twinspace::generate::generate;

use super::CliExit;
use super::fuzz::{
    FuzzArgs, fuzz, keep_dir, locate_failed, replay_command, report_finding, subject_probe,
};
use super::out::errln;

/// The signals that stop a run: SIGINT, SIGTERM and SIGHUP, caught so that the run can end
/// cleanly. The first one sets [`Signals::flag`]; a second *signal* has the signal's default
/// effect (the process ends at once). The lifeline sets the flag too, but does not count as a
/// first signal: a Ctrl-C reaches a supervised child both directly and through its lifeline,
/// in either order, and must stop it cleanly either way.
pub struct Signals {
    stop: Arc<AtomicBool>,
    which: Arc<AtomicUsize>,
}

impl Signals {
    /// Starts catching the signals.
    pub fn catch() -> io::Result<Signals> {
        let stop = Arc::new(AtomicBool::new(false));
        let signalled = Arc::new(AtomicBool::new(false));
        let which = Arc::new(AtomicUsize::new(0));
        for signal in [SIGINT, SIGTERM, SIGHUP] {
            // In this order: the default effect only when a signal came before, then the
            // signal's number, then the flags.
            signal_hook::flag::register_conditional_default(signal, Arc::clone(&signalled))?;
            signal_hook::flag::register_usize(signal, Arc::clone(&which), signal as usize)?;
            signal_hook::flag::register(signal, Arc::clone(&signalled))?;
            signal_hook::flag::register(signal, Arc::clone(&stop))?;
        }
        Ok(Signals { stop, which })
    }

    /// The flag a signal (or the lifeline) sets.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// The signal that asked the run to stop, if one did (SIGTERM when the lifeline did).
    pub fn caught(&self) -> Option<i32> {
        if !self.stop.load(Ordering::SeqCst) {
            return None;
        }
        match self.which.load(Ordering::SeqCst) {
            0 => Some(SIGTERM),
            n => Some(n as i32),
        }
    }

    /// `interrupted (SIGINT)`.
    pub fn describe(signal: i32) -> &'static str {
        match signal {
            SIGINT => "interrupted (SIGINT)",
            SIGTERM => "terminated (SIGTERM)",
            SIGHUP => "hung up (SIGHUP)",
            _ => "stopped by a signal",
        }
    }

    /// The status of a command stopped by `signal`: 128 + its number, as shells report it.
    pub fn exit(signal: i32) -> ExitCode {
        ExitCode::from(128u8.saturating_add(u8::try_from(signal).unwrap_or(0)))
    }
}

/// In a supervised child: stops the run (through the flag of `signals`) when standard input,
/// the supervisor's pipe, reaches its end, and ends the process if it is still running
/// [`GRACE`] later.
pub fn watch_lifeline(signals: &Signals) {
    let (stop, which) = (signals.flag(), Arc::clone(&signals.which));
    let watcher = std::thread::Builder::new().name("lifeline".into()).spawn(move || {
        let mut stdin = io::stdin().lock();
        let mut sink = [0u8; 64];
        loop {
            match stdin.read(&mut sink) {
                Ok(0) => break,
                // The supervisor writes the number of the signal it got before it closes.
                Ok(n) => which.store(usize::from(sink[n - 1]), Ordering::SeqCst),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        stop.store(true, Ordering::SeqCst);
        std::thread::sleep(GRACE);
        // Nobody waits for this process any more.
        std::process::exit(i32::from(CliExit::HostError as u8));
    });
    if let Err(e) = watcher {
        errln!("twinspace: cannot watch the supervising process ({e}); going on without");
    }
}

/// Runs the fuzzing in a child process (`--no-supervise --journal FILE`) and, if an engine
/// crashes it, finds the case that was running, shrinks it (each candidate in a child of its
/// own), keeps it and reports it.
pub fn supervise(args: &FuzzArgs, subject: &dyn Engine) -> ExitCode {
    let signals = match Signals::catch() {
        Ok(signals) => signals,
        Err(e) => {
            errln!("twinspace: cannot watch for signals: {e}");
            return CliExit::HostError.into();
        }
    };
    let scratch = match tempfile::Builder::new().prefix("twinspace-fuzz-").tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            errln!("twinspace: cannot make a temporary directory for the journal: {e}");
            return CliExit::HostError.into();
        }
    };
    let journal = scratch.path().join("journal");
    let Ok(exe) = std::env::current_exe() else {
        errln!("twinspace: cannot find my own executable to supervise; fuzzing without");
        return fuzz(FuzzArgs { no_supervise: true, ..args.clone() });
    };
    let mut command = Command::new(&exe);
    command.args(std::env::args_os().skip(1)).arg("--no-supervise").arg("--journal").arg(&journal);
    command.stdin(Stdio::piped());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            errln!("twinspace: cannot start the fuzzing process: {e}");
            return CliExit::HostError.into();
        }
    };
    // One case's bound, longer when threads share a core (each then runs slower).
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let sharing = args.jobs.unwrap_or(cores).div_ceil(cores).max(1);
    let bound = args.harness.hang_bound() * u32::try_from(sharing).unwrap_or(u32::MAX);
    let mut watchdog =
        Watchdog::new(&journal, scratch.path(), &investigating_path(scratch.path()), bound);
    let context = Context { args, subject, exe: &exe, scratch: scratch.path(), signals: &signals };
    let status = match wait_for(&mut child, &|| signals.caught(), Some(&mut watchdog)) {
        Ok(Waited::Ended(status)) => status,
        Ok(Waited::Stalled(stall)) => return hang(&context, stall, bound),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            errln!("twinspace: cannot watch the fuzzing process: {e}");
            return CliExit::HostError.into();
        }
    };
    if let Some(signal) = signals.caught() {
        // The child has printed the summary so far.
        return Signals::exit(signal);
    }
    let why = match ended(status) {
        Ok(code @ (0 | 2 | 4 | 5 | 129..=159)) => return ExitCode::from(code as u8),
        Ok(code) => {
            errln!("twinspace: the fuzzing process failed (exit status {code})");
            return CliExit::HostError.into();
        }
        // SIGHUP, SIGINT, SIGTERM sent to the child alone, before it could catch them.
        Err((signal @ (SIGHUP | SIGINT | SIGTERM), why)) => {
            errln!("twinspace: the fuzzing process was {why}");
            return Signals::exit(signal);
        }
        Err((_, why)) => why,
    };
    let text = std::fs::read_to_string(&journal).unwrap_or_default();
    let running = unfinished(&text);
    if running.is_empty() {
        // Not while fuzzing: while investigating a case (a mismatch, or `--replay`).
        return investigation_crash(&context, why);
    }
    replay_crash(&context, &running, why)
}

/// What the handling of a crash needs.
struct Context<'a> {
    args: &'a FuzzArgs,
    subject: &'a dyn Engine,
    exe: &'a Path,
    scratch: &'a Path,
    signals: &'a Signals,
}

/// The file in which a supervised child says which case it investigates.
fn investigating_path(dir: &Path) -> std::path::PathBuf {
    dir.join("investigating")
}

/// In a supervised child, before it investigates (re-checks and shrinks) the case of `seed`,
/// case `index` of the run (none for `--replay`): says so in `dir`, the supervisor's
/// directory, where the investigation's runs are recorded too.
pub fn note_investigating(dir: &Path, index: Option<u64>, seed: u64) {
    let index = index.map_or("-".to_owned(), |i| i.to_string());
    // Failing to write loses only the seed in a crash's report.
    let _ = std::fs::write(investigating_path(dir), format!("{index} {seed:#x}\n"));
}

/// What [`note_investigating`] wrote: the case's index in its run, if any, and its seed.
fn investigating(dir: &Path) -> Option<(Option<u64>, u64)> {
    let text = std::fs::read_to_string(investigating_path(dir)).ok()?;
    let mut words = text.split_whitespace();
    let index = words.next()?.parse().ok();
    let seed = words.next()?.strip_prefix("0x")?;
    Some((index, u64::from_str_radix(seed, 16).ok()?))
}

/// Each candidate runs as `twinspace diff --subject-only` in a process of its own: the
/// engine under test alone, whose process dies with it (a whole `diff` would run it in a
/// process of its own in turn, and report the crash instead of dying).
fn diff_probe(args: &FuzzArgs, exe: &Path) -> impl Fn(&Path, &Path, twinspace::Limits) -> Command {
    subject_probe(&args.harness, exe)
}

/// After the child crashed while investigating a case (checking, shrinking or bisecting a
/// mismatch, or a `--replay`): the case it was running then was recorded
/// (`differential::supervise::Recording`); if it crashes alone, it is shrunk, kept and
/// reported like any crash. Otherwise the case under investigation is reported as found,
/// unshrunk, by a replay in a child that does not shrink.
fn investigation_crash(cx: &Context<'_>, why: String) -> ExitCode {
    let (args, exe) = (cx.args, cx.exe);
    let under = investigating(cx.scratch);
    let what = match under {
        Some((Some(index), seed)) => format!("the mismatch of case {index} (case seed {seed:#x})"),
        Some((None, seed)) => format!("case seed {seed:#x}"),
        None => "a case".to_owned(),
    };
    errln!("\ntwinspace: the fuzzing process was {why} while it investigated {what}");
    let case = match recorded(cx.scratch) {
        Ok(Some(case)) => case,
        Ok(None) => {
            errln!("twinspace: no case was running or recorded when it died");
            return CliExit::HostError.into();
        }
        Err(e) => {
            errln!("twinspace: cannot read back the case it was running: {e}");
            return CliExit::HostError.into();
        }
    };
    let probe = diff_probe(args, exe);
    let mut alone = None;
    for _ in 0..REPLAYS {
        match probe_crash(&case, cx.scratch, &probe) {
            Ok(None) if cx.signals.caught().is_none() => {}
            Ok(crash) => {
                alone = crash;
                break;
            }
            Err(e) => {
                errln!("twinspace: cannot start a process to run the case: {e}");
                return CliExit::HostError.into();
            }
        }
    }
    if let Some(signal) = cx.signals.caught() {
        return Signals::exit(signal);
    }
    let Some((why, _)) = alone else {
        errln!(
            "twinspace: the case it was running ({} instructions) does not crash alone \
             ({REPLAYS} tries)",
            case.program.len()
        );
        return report_unshrunk(cx, under.map(|(_, seed)| seed));
    };
    errln!(
        "twinspace: the case it was running ({} instructions) crashes alone too; shrinking \
         (each candidate in its own process)...",
        case.program.len()
    );
    let origin = match under {
        Some((index, seed)) => format!(
            "case seed {seed:#018x}{}: the JIT crashed on a case met while investigating it \
             (replay: `{}`)",
            index.map_or(String::new(), |i| format!(", case {i} of the run")),
            replay_command(seed, args).render()
        ),
        None => "a case met while investigating a mismatch".to_owned(),
    };
    let rerun = under.map(|(_, seed)| replay_command(seed, args)).into_iter().collect();
    shrink_and_report(cx, &case, why, origin, rerun)
}

/// Shrinks `case`, which crashes a process of its own (`why`), keeps it and reports it.
fn shrink_and_report(
    cx: &Context<'_>,
    case: &RunCase,
    why: String,
    origin: String,
    rerun: Vec<super::rerun::CommandLine>,
) -> ExitCode {
    let args = cx.args;
    let probe = diff_probe(args, cx.exe);
    let budget = Duration::from_secs_f64(args.shrink_time);
    let stopped = || cx.signals.caught().is_some();
    let finding = shrink_crash(case, cx.scratch, &probe, args.harness.parts, why, budget, &stopped);
    if let Some(signal) = cx.signals.caught() {
        return Signals::exit(signal);
    }
    let mut finding = match finding {
        Ok(Some(finding)) => finding,
        Ok(None) => return CliExit::HostError.into(),
        Err(e) => {
            errln!("twinspace: cannot run a shrinking candidate: {e}");
            return CliExit::HostError.into();
        }
    };
    locate_failed(&mut finding, cx.subject, &args.harness, cx.exe, cx.scratch, &stopped);
    if let Some(signal) = cx.signals.caught() {
        return Signals::exit(signal);
    }
    report_finding(&finding, cx.subject, origin, rerun, &keep_dir(args), &args.harness)
}

/// When the crash cannot be reproduced alone: the case of `seed` replayed in a child that
/// neither shrinks nor is supervised, which prints its report and keeps it (unshrunk).
fn report_unshrunk(cx: &Context<'_>, seed: Option<u64>) -> ExitCode {
    let Some(seed) = seed else {
        errln!("twinspace: and which case was under investigation is not known");
        return CliExit::HostError.into();
    };
    let replay = replay_command(seed, cx.args);
    errln!("twinspace: reporting the case under investigation unshrunk (`{}`)", replay.render());
    let mut c = Command::new(cx.exe);
    c.args(replay.arguments()).args(["--no-supervise", "--shrink-time", "0"]);
    c.args(keep_flags(cx.args)).stdin(Stdio::null());
    match c.status().map(ended) {
        Ok(Ok(code @ (0 | 2 | 4 | 5))) => ExitCode::from(code as u8),
        Ok(Ok(code)) => {
            errln!("twinspace: the replay failed (exit status {code})");
            CliExit::HostError.into()
        }
        Ok(Err((_, how))) => {
            errln!("twinspace: the replay was {how} too, with no report");
            CliExit::Mismatch.into()
        }
        Err(e) => {
            errln!("twinspace: cannot start the replay: {e}");
            CliExit::HostError.into()
        }
    }
}

/// The flags that say where `args` keeps reproducers, for a child that keeps them instead.
fn keep_flags(args: &FuzzArgs) -> Vec<std::ffi::OsString> {
    match (&args.keep, args.no_keep) {
        (_, true) => vec!["--no-keep".into()],
        (Some(dir), false) => vec!["--keep".into(), dir.clone().into_os_string()],
        (None, false) => Vec::new(),
    }
}
/// After the child crashed while running the cases `running`: finds the one that crashes alone,
/// shrinks it (both through `differential::supervise`), keeps and reports it.
fn replay_crash(cx: &Context<'_>, running: &[(u64, u64)], why: String) -> ExitCode {
    let (args, exe, signals) = (cx.args, cx.exe, cx.signals);
    errln!(
        "\ntwinspace: the fuzzing process was {why}; replaying the {} case(s) it was running",
        running.len()
    );
    let replay = |seed: u64| {
        let mut c = Command::new(exe);
        c.args(replay_command(seed, args).arguments());
        c.args(["--quiet", "--no-keep", "--shrink-time", "0", "--no-supervise"]);
        c
    };
    let stopped = || signals.caught().is_some();
    let crashing = match crashing_case(running, &replay, &stopped) {
        Ok(crashing) => crashing,
        Err(e) => {
            errln!("twinspace: cannot start a process to replay a case: {e}");
            return CliExit::HostError.into();
        }
    };
    if let Some(signal) = signals.caught() {
        return Signals::exit(signal);
    }
    let Some((index, seed)) = crashing else {
        errln!(
            "twinspace: no case crashes when run alone; the cases that were running: {}",
            running
                .iter()
                .map(|(i, s)| format!("case {i} (seed {s:#x})"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        return CliExit::Mismatch.into();
    };
    let origin = format!(
        "case seed {seed:#018x}: case {index} of the crashed run (`{}` crashes too)",
        replay_command(seed, args).render()
    );
    errln!("twinspace: {origin}; shrinking (each candidate in its own process)...");
    let case = generate(seed, &args.knobs.knobs());
    shrink_and_report(cx, &case, why, origin, vec![replay_command(seed, args)])
}

/// After the watchdog saw a case run past its `bound` in the child (which it killed): the
/// case is run alone, in a process of its own, with the `--hang-after` bound; if it hangs
/// there, it is shrunk (each candidate in a process of its own, with a bound derived from
/// the reference's time), confirmed with the full bound, kept and reported like a crash.
fn hang(cx: &Context<'_>, stall: Stall, bound: Duration) -> ExitCode {
    let args = cx.args;
    let secs = bound.as_secs_f64();
    let (case, origin, rerun) = match stall {
        Stall::Case { index, seed } => {
            let replay = replay_command(seed, args);
            errln!(
                "\ntwinspace: case {index} (case seed {seed:#x}) ran for more than {secs:.1} s \
                 in the fuzzing process, which was killed: a hang?"
            );
            let origin = format!(
                "case seed {seed:#018x}: case {index} of the run hung the fuzzing process (`{}` \
                 hangs too)",
                replay.render()
            );
            (generate(seed, &args.knobs.knobs()), origin, vec![replay])
        }
        Stall::Investigation => {
            let under = investigating(cx.scratch);
            let what = match under {
                Some((Some(index), seed)) => {
                    format!("the mismatch of case {index} (case seed {seed:#x})")
                }
                Some((None, seed)) => format!("case seed {seed:#x}"),
                None => "a case".to_owned(),
            };
            errln!(
                "\ntwinspace: while it investigated {what}, a run went on for more than \
                 {secs:.1} s in the fuzzing process, which was killed: a hang?"
            );
            let case = match recorded(cx.scratch) {
                Ok(Some(case)) => case,
                Ok(None) => {
                    errln!("twinspace: no case was recorded as running");
                    return CliExit::HostError.into();
                }
                Err(e) => {
                    errln!("twinspace: cannot read back the case it was running: {e}");
                    return CliExit::HostError.into();
                }
            };
            let origin = match under {
                Some((index, seed)) => format!(
                    "case seed {seed:#018x}{}: {} hung on a case met while investigating it \
                     (replay: `{}`)",
                    index.map_or(String::new(), |i| format!(", case {i} of the run")),
                    cx.subject.name(),
                    replay_command(seed, args).render()
                ),
                None => "a case met while investigating a mismatch".to_owned(),
            };
            let rerun = under.map(|(_, seed)| replay_command(seed, args)).into_iter().collect();
            (case, origin, rerun)
        }
    };
    // Alone, the case gets the bound unscaled: nothing else runs beside it.
    let full = args.harness.hang_bound();
    errln!(
        "twinspace: running the case ({} instructions) alone, in its own process, for at most \
         {:.1} s...",
        case.program.len(),
        full.as_secs_f64()
    );
    if reference_time(&case, full).is_none() {
        errln!(
            "twinspace: the reference does not finish it within {:.1} s either: not a hang of {} \
             (raise --hang-after?)",
            full.as_secs_f64(),
            cx.subject.name()
        );
        return CliExit::HostError.into();
    }
    let probe = subject_probe(&args.harness, cx.exe);
    match probe_hang(&case, cx.scratch, &probe, full) {
        Ok(Probe::Hung) => {}
        Ok(Probe::Crashed(why)) => {
            errln!("twinspace: alone it crashes: {why}; shrinking the crash...");
            return shrink_and_report(cx, &case, why, origin, rerun);
        }
        Ok(Probe::Finished(took)) => {
            errln!(
                "twinspace: alone it finishes in {:.3} s: not a hang{}",
                took.as_secs_f64(),
                match stall {
                    Stall::Case { .. } => {
                        " (was the machine too busy for the bound? raise --hang-after)"
                    }
                    Stall::Investigation => {
                        " (the run that hung may be one of the search inside a block, which \
                         cuts the JIT's blocks)"
                    }
                }
            );
            return CliExit::HostError.into();
        }
        Err(e) => {
            errln!("twinspace: cannot start a process to run the case: {e}");
            return CliExit::HostError.into();
        }
    }
    if let Some(signal) = cx.signals.caught() {
        return Signals::exit(signal);
    }
    errln!(
        "twinspace: {origin}; shrinking the hang (each candidate in its own process, for ten \
         times the reference's time and at least {:.1} s)...",
        twinspace::differential::supervise::CANDIDATE_FLOOR.as_secs_f64()
    );
    let budget = Duration::from_secs_f64(args.shrink_time);
    let stopped = || cx.signals.caught().is_some();
    let found = shrink_hang(&case, cx.scratch, &probe, args.harness.parts, full, budget, &stopped);
    if let Some(signal) = cx.signals.caught() {
        return Signals::exit(signal);
    }
    let mut finding = match found {
        Ok(Some(finding)) => finding,
        Ok(None) => return CliExit::HostError.into(),
        Err(e) => {
            errln!("twinspace: cannot run a shrinking candidate: {e}");
            return CliExit::HostError.into();
        }
    };
    if finding.shrunk.is_none() {
        errln!(
            "twinspace: the shrunk case did not hang again with the full bound: reporting the \
             case unshrunk"
        );
    }
    locate_failed(&mut finding, cx.subject, &args.harness, cx.exe, cx.scratch, &stopped);
    if let Some(signal) = cx.signals.caught() {
        return Signals::exit(signal);
    }
    report_finding(&finding, cx.subject, origin, rerun, &keep_dir(args), &args.harness)
}
