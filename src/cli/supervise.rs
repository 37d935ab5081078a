//! `twinspace fuzz` under supervision: the fuzzing runs in a child process, so that an engine
//! that crashes the process is caught, and this process replays, shrinks and reports the case
//! that crashed it.
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
//! - **CliExit codes.** The child's own status is passed on when it is one the command gives (0,
//!   2, 4, 5, or a signal's 128 + N); anything else, such as a panic's 101, is a host failure
//!   (4), as is failing to start or watch the child. Only a real mismatch or crash is 5.

use std::io::{self, Read as _, Write as _};
use std::path::Path;
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use twinspace::differential::fuzz::unfinished;
use twinspace::differential::report::Finding;
use twinspace::differential::{Parts, Signature};
use twinspace::engine::{Engine, Failure, Interp, Run, RunCase};
use twinspace::generate::generate;
use twinspace::syntax::print_ws;

use super::CliExit;
use super::fuzz::{FuzzArgs, fuzz, keep_dir, replay_command, report_finding};
use super::harness_flags::diff_command;
use super::out::errln;

/// How long a child may take to stop after being asked before it is ended: it finishes the
/// cases it is running, which fuel keeps short.
const GRACE: Duration = Duration::from_secs(10);

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

/// How a child process ended: `Ok(code)` if it exited, `Err((signal, description))` if a
/// signal (or anything else) ended it.
fn ended(status: ExitStatus) -> Result<i32, (i32, String)> {
    if let Some(code) = status.code() {
        return Ok(code);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let name = match signal {
                4 => " (SIGILL)",
                6 => " (SIGABRT: an abort, e.g. after a stack overflow)",
                7 => " (SIGBUS)",
                8 => " (SIGFPE)",
                9 => " (SIGKILL: killed, perhaps for using too much memory)",
                11 => " (SIGSEGV: a segmentation fault)",
                _ => "",
            };
            return Err((signal, format!("killed by signal {signal}{name}")));
        }
    }
    Err((0, format!("ended abnormally ({status})")))
}

/// Waits for `child`; when a signal arrives, closes its lifeline (asking it to stop) and ends
/// it if it has not stopped within [`GRACE`].
fn wait_for(child: &mut Child, signals: &Signals) -> io::Result<ExitStatus> {
    let mut lifeline = child.stdin.take();
    let mut kill_at = None;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if let Some(signal) = signals.caught() {
            if let Some(mut pipe) = lifeline.take() {
                // Tell the child which signal it was, then close: the child stops.
                let _ = pipe.write_all(&[u8::try_from(signal).unwrap_or(0)]);
                drop(pipe);
                kill_at = Some(Instant::now() + GRACE);
            }
        }
        if kill_at.is_some_and(|at| Instant::now() >= at) {
            let _ = child.kill();
            kill_at = None;
        }
        std::thread::sleep(Duration::from_millis(20));
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
    let status = match wait_for(&mut child, &signals) {
        Ok(status) => status,
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
    replay_crash(args, subject, &exe, scratch.path(), &signals, &unfinished(&text), why)
}

/// After the child crashed while running the cases `running`: finds the one that crashes alone,
/// shrinks it, keeps and reports it.
fn replay_crash(
    args: &FuzzArgs,
    subject: &dyn Engine,
    exe: &Path,
    scratch: &Path,
    signals: &Signals,
    running: &[(u64, u64)],
    why: String,
) -> ExitCode {
    errln!(
        "\ntwinspace: the fuzzing process was {why}; replaying the {} case(s) it was running",
        running.len()
    );
    let replay = |seed: u64| {
        let mut c = Command::new(exe);
        c.args(replay_command(seed, args).arguments());
        c.args(["--quiet", "--no-keep", "--shrink-time", "0"]);
        c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        c.status().map(ended)
    };
    let mut crashing = None;
    for &(index, seed) in running {
        if let Some(signal) = signals.caught() {
            return Signals::exit(signal);
        }
        match replay(seed) {
            Ok(Err(_)) => {
                crashing = Some((index, seed));
                break;
            }
            Ok(Ok(_)) => {}
            Err(e) => {
                errln!("twinspace: cannot start a process to replay case {index}: {e}");
                return CliExit::HostError.into();
            }
        }
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
    let host_failure = std::cell::RefCell::new(None);
    let probe = |c: &RunCase| -> Option<(String, String)> {
        if signals.caught().is_some() || host_failure.borrow().is_some() {
            return None;
        }
        match probe_crash(exe, scratch, c, args) {
            Ok(crash) => crash,
            Err(e) => {
                *host_failure.borrow_mut() = Some(e);
                None
            }
        }
    };
    let budget = Duration::from_secs_f64(args.shrink_time);
    let shrunk = twinspace::differential::shrink::shrink(&case, |c| probe(c).is_some(), budget);
    let (why, stderr) = probe(&shrunk.case).unwrap_or_else(|| (why.clone(), String::new()));
    if let Some(signal) = signals.caught() {
        return Signals::exit(signal);
    }
    if let Some(e) = host_failure.into_inner() {
        errln!("twinspace: cannot run a shrinking candidate: {e}");
        return CliExit::HostError.into();
    }
    let message: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = message[message.len().saturating_sub(3)..].join(" / ");
    let reference = Interp.run(&shrunk.case);
    let crashed = Run { result: Err(Failure::Crash(format!("{why}: {tail}"))), handovers: 0 };
    let signature = Signature::of(&reference.result, &crashed.result, args.harness.parts)
        .unwrap_or(Signature { differs: Parts::all(), endings: None });
    let finding = Finding {
        original: case,
        found: signature,
        case: shrunk.case.clone(),
        shrunk: Some(shrunk),
        reference,
        subject: crashed,
        signature,
        divergence: None,
    };
    let rerun = vec![replay_command(seed, args)];
    report_finding(&finding, subject, origin, rerun, &keep_dir(args), &args.harness)
}

/// Runs `twinspace diff` on one candidate in a process of its own: `Some((how it died, its
/// standard error))` if it crashed, `Err` if it could not be run.
fn probe_crash(
    exe: &Path,
    scratch: &Path,
    case: &RunCase,
    args: &FuzzArgs,
) -> io::Result<Option<(String, String)>> {
    let ws = scratch.join("probe.ws");
    let input_path = scratch.join("probe.in");
    std::fs::write(&ws, print_ws(&case.program))?;
    std::fs::write(&input_path, &case.input)?;
    let mut cmd = Command::new(exe);
    cmd.args(diff_command(&ws, Some(&input_path), case.limits, &args.harness).arguments());
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let out = cmd.output()?;
    Ok(match ended(out.status) {
        Ok(_) => None,
        Err((_, why)) => Some((why, String::from_utf8_lossy(&out.stderr).into_owned())),
    })
}
