//! Fuzzing under supervision, the library side: an engine that crashes the whole process (a
//! segmentation fault, a stack overflow) cannot be caught in-process, so the fuzzing runs in
//! a child process that keeps a journal of its running cases ([`super::fuzz::FuzzConfig::journal`]),
//! and when it dies, the cases it was running are replayed one by one, each in a process of
//! its own, and the one that crashes alone is shrunk, every candidate in a process of its own.
//! A child that dies later, while it investigates a case (re-checks and shrinks a mismatch,
//! bisects for its divergence, or replays one seed), ran that investigation on a
//! [`Recording`] engine, which leaves the last case it ran behind ([`recorded`]): that case is
//! shrunk the same way, so a crash met while shrinking ends in a report too.
//!
//! The caller says *what* to run as [`Command`]s (the fuzzing child, the replay of one case
//! seed, the run of one program file): this module knows nothing of the command line. Nor
//! does it catch signals: it is told whether one came (`caught`), and passes it on to the
//! child through the lifeline, the child's standard input, which it closes to ask the child
//! to stop ([`wait_for`]); the child ends within [`GRACE`] or is killed.
//!
//! Invariant: a crash is reported only for a case whose own process crashes when it runs
//! alone; the crash is the subject's [`Failure::Crash`], compared like any failure.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::report::Finding;
use super::{Parts, Signature};
use crate::case::{format_limits, parse_limits};
use crate::engine::{Engine, Failure, Interp, Run, RunCase, RunStats};
use crate::io::{Input, Output};
use crate::limits::Limits;
use crate::outcome::{Finish, HostError};
use crate::program::Program;
use crate::stop::Stop;
use crate::syntax::{parse, print_ws};

/// An engine that writes each whole case it is given ([`Engine::run`]) to a file before
/// running it on the engine it wraps, so that when the run crashes the process, the
/// supervisor can read back the very case that crashed it ([`recorded`]).
///
/// A fuzzing child runs its investigation of a mismatch (the re-check, every shrinking
/// candidate, the divergence's bisection) on one of these: a crash while shrinking then
/// leaves the crashing candidate behind. The file is opened once and each case overwrites it
/// in place, in one write: a header line with the sizes of what follows, which makes a
/// longer case left over from before harmless. That costs a system call per run, not the
/// file creation and truncation that made writing three files cost more than the runs.
pub struct Recording<'a> {
    inner: &'a dyn Engine,
    file: Option<Mutex<File>>,
}

impl<'a> Recording<'a> {
    /// `inner`, recording into `dir` (which must exist). If the file cannot be made, the
    /// engine runs unrecorded: that loses only the diagnosis of a crash.
    pub fn new(inner: &'a dyn Engine, dir: &Path) -> Recording<'a> {
        let file =
            OpenOptions::new().create(true).write(true).truncate(true).open(recording_path(dir));
        Recording { inner, file: file.ok().map(Mutex::new) }
    }

    /// Writes `case` as the last one run (what [`Engine::run`] does first).
    pub fn record(&self, case: &RunCase) -> io::Result<()> {
        let Some(file) = &self.file else { return Ok(()) };
        let program = print_ws(&case.program);
        let header =
            format!("{} {} {}\n", program.len(), case.input.len(), format_limits(case.limits));
        let mut bytes = Vec::with_capacity(header.len() + program.len() + case.input.len());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(&program);
        bytes.extend_from_slice(&case.input);
        let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&bytes)
    }
}

fn recording_path(dir: &Path) -> PathBuf {
    dir.join("running.case")
}

impl Engine for Recording<'_> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn capabilities(&self) -> Parts {
        self.inner.capabilities()
    }

    fn unavailable(&self) -> Option<String> {
        self.inner.unavailable()
    }

    /// The inner engine cut, unrecorded: the runs of the search inside a block re-run the
    /// case just recorded (with other fuel), so a crash among them is diagnosed from it.
    fn cut_after(&self, index: usize) -> Option<Box<dyn Engine>> {
        self.inner.cut_after(index)
    }

    fn stream(
        &self,
        program: &Program,
        limits: Limits,
        wanted: Parts,
        stop: &Stop,
        input: &mut Input,
        output: &mut Output,
    ) -> Result<(Finish, RunStats), HostError> {
        self.inner.stream(program, limits, wanted, stop, input, output)
    }

    fn run(&self, case: &RunCase) -> Run {
        // Failing to record loses only the diagnosis of a crash, not the run.
        let _ = self.record(case);
        self.inner.run(case)
    }
}

/// The last case a [`Recording`] engine wrote into `dir`, if it wrote one; `Err` when the
/// file is there but does not hold a whole case.
pub fn recorded(dir: &Path) -> io::Result<Option<RunCase>> {
    let path = recording_path(dir);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let bad = |what: String| {
        io::Error::new(io::ErrorKind::InvalidData, format!("{}: {what}", path.display()))
    };
    let end = bytes.iter().position(|&b| b == b'\n').ok_or_else(|| bad("no header".into()))?;
    let header = std::str::from_utf8(&bytes[..end]).map_err(|e| bad(e.to_string()))?;
    let mut words = header.splitn(3, ' ');
    let mut size = || -> io::Result<usize> {
        words
            .next()
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| bad(format!("bad header {header:?}")))
    };
    let (program_len, input_len) = (size()?, size()?);
    let limits = parse_limits(words.next().unwrap_or("")).map_err(bad)?;
    let body = &bytes[end + 1..];
    if body.len() < program_len + input_len {
        return Err(bad("the case is cut short".into()));
    }
    let program = parse(&body[..program_len]).map_err(|e| bad(e.to_string()))?;
    let input = body[program_len..program_len + input_len].to_vec();
    Ok(Some(RunCase::new(program, input, limits)))
}

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

/// How many times a case that a crashed child was running is replayed before it counts as
/// not crashing alone: a crash can depend on where the address space layout put the stack
/// (a wrapped address passes a check only below some base address).
pub const REPLAYS: usize = 3;

/// Among the cases `(index, seed)` a crashed child was running, the first whose replay
/// (`replay(seed)`, run with no input or output, up to [`REPLAYS`] times) crashes too;
/// `Ok(None)` when none does or `stopped()` became true. `Err` when a replay cannot be
/// started.
pub fn crashing_case(
    running: &[(u64, u64)],
    replay: &dyn Fn(u64) -> Command,
    stopped: &dyn Fn() -> bool,
) -> io::Result<Option<(u64, u64)>> {
    for _ in 0..REPLAYS {
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
    let said = if tail.is_empty() { why } else { format!("{why}: {tail}") };
    let crashed = Run { result: Err(Failure::Crash(said)), handovers: 0 };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::assemble;

    #[test]
    fn the_last_recorded_case_reads_back_whole_after_a_longer_one() {
        let dir = tempfile::tempdir().unwrap();
        assert!(recorded(dir.path()).unwrap().is_none());
        let recording = Recording::new(&Interp, dir.path());
        let long = RunCase::new(
            assemble("push 1 | push 2 | add | printi | readc | end").unwrap(),
            b"input that is long".to_vec(),
            Limits::DEFAULT,
        );
        let short = RunCase::new(
            assemble("push -7 | printi | end").unwrap(),
            b"in".to_vec(),
            Limits::DEFAULT.with_fuel(9),
        );
        for case in [&long, &short] {
            let run = recording.run(case);
            assert_eq!(run, Interp.run(case), "recording changes nothing of the run");
            let back = recorded(dir.path()).unwrap().unwrap();
            assert_eq!(back.program.instructions(), case.program.instructions());
            assert_eq!((back.input.as_slice(), back.limits), (case.input.as_slice(), case.limits));
        }
        // A file cut short is an error, not a wrong case.
        let path = recording_path(dir.path());
        std::fs::write(&path, b"100 0 fuel=1\n   \n\n\n").unwrap();
        assert!(recorded(dir.path()).is_err());
        std::fs::write(&path, b"garbage").unwrap();
        assert!(recorded(dir.path()).is_err());
    }
}
