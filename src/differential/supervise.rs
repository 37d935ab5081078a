//! Fuzzing under supervision, the library side: an engine that crashes the whole process (a
//! segmentation fault, a stack overflow) cannot be caught in-process, so the fuzzing runs in
//! a child process that keeps a journal of its running cases ([`super::fuzz::FuzzConfig::journal`]),
//! and when it dies, the cases it was running are replayed one by one, each in a process of
//! its own, and the one that crashes alone is shrunk, every candidate in a process of its own.
//!
//! The caller says *what* to run as [`Command`]s (the fuzzing child, the replay of one case
//! seed, the run of one program file): this module knows nothing of the command line. Nor
//! does it catch signals: it is told whether one came (`caught`), and passes it on to the
//! child through the lifeline, the child's standard input, which it closes to ask the child
//! to stop ([`wait_for`]); the child ends within [`GRACE`] or is killed.
//!
//! Invariant: a crash is reported only for a case whose own process crashes when it runs
//! alone; the crash is the subject's [`Failure::Crash`], compared like any failure.

use std::io::{self, Write as _};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::report::Finding;
use super::{Parts, Signature};
use crate::engine::{Engine, Failure, Interp, Run, RunCase};
use crate::limits::Limits;
use crate::syntax::print_ws;

/// How long a child may take to stop after being asked before it is ended: it finishes the
/// cases it is running, which fuel keeps short.
pub const GRACE: Duration = Duration::from_secs(10);

/// How a child process ended: `Ok(code)` if it exited, `Err((signal, description))` if a
/// signal (or anything else) ended it.
pub fn ended(status: ExitStatus) -> Result<i32, (i32, String)> {
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

/// Waits for `child`; when `caught` reports a signal, writes its number into the child's
/// lifeline (its standard input), closes it (asking the child to stop) and ends the child if
/// it has not stopped within [`GRACE`].
pub fn wait_for(child: &mut Child, caught: &dyn Fn() -> Option<i32>) -> io::Result<ExitStatus> {
    let mut lifeline = child.stdin.take();
    let mut kill_at = None;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if let Some(signal) = caught() {
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

/// Among the cases `(index, seed)` a crashed child was running, the first whose replay
/// (`replay(seed)`, run with no input or output) crashes too; `Ok(None)` when none does or
/// `stopped()` became true. `Err` when a replay cannot be started.
pub fn crashing_case(
    running: &[(u64, u64)],
    replay: &dyn Fn(u64) -> Command,
    stopped: &dyn Fn() -> bool,
) -> io::Result<Option<(u64, u64)>> {
    for &(index, seed) in running {
        if stopped() {
            return Ok(None);
        }
        let mut c = replay(seed);
        c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        if c.status().map(ended)?.is_err() {
            return Ok(Some((index, seed)));
        }
    }
    Ok(None)
}

/// Runs `case` in a process of its own, as `probe(program file, input file, limits)` says,
/// with the files in `scratch`: `Some((how it died, its standard error))` if it crashed.
pub fn probe_crash(
    case: &RunCase,
    scratch: &Path,
    probe: &dyn Fn(&Path, &Path, Limits) -> Command,
) -> io::Result<Option<(String, String)>> {
    let ws = scratch.join("probe.ws");
    let input_path = scratch.join("probe.in");
    std::fs::write(&ws, print_ws(&case.program))?;
    std::fs::write(&input_path, &case.input)?;
    let mut cmd = probe(&ws, &input_path, case.limits);
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let out = cmd.output()?;
    Ok(match ended(out.status) {
        Ok(_) => None,
        Err((_, why)) => Some((why, String::from_utf8_lossy(&out.stderr).into_owned())),
    })
}

/// Shrinks `case`, which crashed a process (`why`), to a minimal case that still crashes one,
/// each candidate run by [`probe_crash`] within `budget`, and makes the finding: the
/// reference's run against the subject's [`Failure::Crash`] with the last lines of its
/// standard error. `Ok(None)` when `stopped()` became true.
pub fn shrink_crash(
    case: &RunCase,
    scratch: &Path,
    probe: &dyn Fn(&Path, &Path, Limits) -> Command,
    parts: Parts,
    why: String,
    budget: Duration,
    stopped: &dyn Fn() -> bool,
) -> io::Result<Option<Finding>> {
    let host_failure = std::cell::RefCell::new(None);
    let crashes = |c: &RunCase| -> Option<(String, String)> {
        if stopped() || host_failure.borrow().is_some() {
            return None;
        }
        probe_crash(c, scratch, probe).unwrap_or_else(|e| {
            *host_failure.borrow_mut() = Some(e);
            None
        })
    };
    let shrunk = super::shrink::shrink(case, |c| crashes(c).is_some(), budget);
    let (why, stderr) = crashes(&shrunk.case).unwrap_or_else(|| (why, String::new()));
    if let Some(e) = host_failure.into_inner() {
        return Err(e);
    }
    if stopped() {
        return Ok(None);
    }
    let message: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = message[message.len().saturating_sub(3)..].join(" / ");
    let reference = Interp.run(&shrunk.case);
    let crashed = Run { result: Err(Failure::Crash(format!("{why}: {tail}"))), handovers: 0 };
    let signature = Signature::of(&reference.result, &crashed.result, parts)
        .unwrap_or(Signature { differs: Parts::all(), endings: None });
    Ok(Some(Finding {
        original: case.clone(),
        found: signature,
        case: shrunk.case.clone(),
        shrunk: Some(shrunk),
        reference,
        subject: crashed,
        signature,
        divergence: None,
    }))
}
