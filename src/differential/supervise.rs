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
//! **Hangs.** Every generated case has bounded fuel, so an engine that obeys its fuel always
//! finishes a case quickly; one that runs on (a loop that charges no fuel) can only be ended
//! from outside, by killing its process. So the supervisor also watches the child's progress
//! ([`Watchdog`]): the journal's line of each worker (a line that names the same case for
//! longer than the bound is a case that hung) and, while the child investigates a case, the
//! heartbeat of its [`Recording`], which beats at the start of every run of the subject
//! (the runs of the search inside a block included). When one case has run longer than the
//! bound, [`wait_for`] kills the child and says which case ([`Stall`]). That case is then run
//! alone ([`probe_hang`]: the subject only, in a process of its own, killed at the bound), and
//! if it hangs alone it is shrunk ([`shrink_hang`]): a candidate is kept when the reference
//! finishes it and the subject, in a process of its own, is still running at a shorter bound
//! derived from how long the reference took (with a floor); the shrunk case is confirmed with
//! the full bound before it is reported, else the case is reported unshrunk.
//!
//! **Where it fails.** A crash or hang found this way is then located at the exact instruction
//! ([`locate_failure`]): the search of [`super::diverge::failure_divergence`], every run of it
//! the subject alone in a process of its own, with its blocks cut after a given instruction
//! (a [`CutProbe`]); a hang's probes get a shrinking candidate's bound.
//!
//! Invariant: a crash is reported only for a case whose own process crashes when it runs
//! alone, a hang only for a case whose own process is still running at the full bound when
//! it runs alone while the reference finishes it; the crash is the subject's
//! [`Failure::Crash`], the hang its [`Failure::Hang`], compared like any failure.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::report::Finding;
use super::{Parts, Signature};
use crate::case::{format_limits, parse_limits};
use crate::engine::{Engine, Failure, Interp, Run, RunCase};
use crate::limits::Limits;
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
///
/// The file's first line is a heartbeat, a counter that every run of the subject advances,
/// the unrecorded runs of the search inside a block ([`Engine::cut_after`]) included: the
/// supervisor's [`Watchdog`] reads it to tell a run that hangs from a long investigation.
pub struct Recording<'a> {
    inner: &'a dyn Engine,
    file: Option<Arc<Mutex<File>>>,
}

/// The width of the heartbeat line at the start of the recording, line feed included.
const BEAT_LINE: usize = 21;

/// The heartbeats of this process: one counter, so that no two beats read alike.
static BEATS: AtomicU64 = AtomicU64::new(0);

/// Advances the heartbeat at the start of `file` (`case`: and records it behind).
fn beat(file: &Mutex<File>, case: Option<&RunCase>) -> io::Result<()> {
    let n = BEATS.fetch_add(1, Ordering::Relaxed) + 1;
    let mut bytes = format!("{n:>width$}\n", width = BEAT_LINE - 1).into_bytes();
    if let Some(case) = case {
        let program = print_ws(&case.program);
        let header =
            format!("{} {} {}\n", program.len(), case.input.len(), format_limits(case.limits));
        bytes.reserve(header.len() + program.len() + case.input.len());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(&program);
        bytes.extend_from_slice(&case.input);
    }
    let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&bytes)
}

impl<'a> Recording<'a> {
    /// `inner`, recording into `dir` (which must exist). If the file cannot be made, the
    /// engine runs unrecorded: that loses only the diagnosis of a crash.
    pub fn new(inner: &'a dyn Engine, dir: &Path) -> Recording<'a> {
        let file =
            OpenOptions::new().create(true).write(true).truncate(true).open(recording_path(dir));
        Recording { inner, file: file.ok().map(|f| Arc::new(Mutex::new(f))) }
    }

    /// Writes `case` as the last one run (what [`Engine::run`] does first), with a heartbeat.
    pub fn record(&self, case: &RunCase) -> io::Result<()> {
        match &self.file {
            Some(file) => beat(file, Some(case)),
            None => Ok(()),
        }
    }
}

/// Ends the recording in `dir` when an investigation is over: no case of it runs any more,
/// so the supervisor's [`Watchdog`] stops watching its heartbeat (the report that follows
/// may take its time), and a crash after it is no crash of a recorded case.
pub fn end_recording(dir: &Path) {
    // Failing only leaves a heartbeat that a slow report could be taken for a hang by.
    let _ = std::fs::remove_file(recording_path(dir));
}

fn recording_path(dir: &Path) -> PathBuf {
    dir.join("running.case")
}

/// A cut engine ([`Engine::cut_after`]) of a [`Recording`]: its runs beat the heartbeat but
/// record nothing (they re-run the case just recorded, with other fuel).
struct Beating {
    inner: Box<dyn Engine>,
    file: Option<Arc<Mutex<File>>>,
}

impl Engine for Beating {
    crate::forward_engine!(inner);

    fn cut_after(&self, index: usize) -> Option<Box<dyn Engine>> {
        let inner = self.inner.cut_after(index)?;
        Some(Box::new(Beating { inner, file: self.file.clone() }))
    }

    fn run(&self, case: &RunCase) -> Run {
        if let Some(file) = &self.file {
            // Failing to beat loses only the diagnosis of a hang.
            let _ = beat(file, None);
        }
        self.inner.run(case)
    }
}

impl Engine for Recording<'_> {
    crate::forward_engine!(inner);

    /// The inner engine cut, unrecorded but beating the heartbeat: the runs of the search
    /// inside a block re-run the case just recorded (with other fuel), so a crash among them
    /// is diagnosed from it.
    fn cut_after(&self, index: usize) -> Option<Box<dyn Engine>> {
        let inner = self.inner.cut_after(index)?;
        Some(Box::new(Beating { inner, file: self.file.clone() }))
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
    let bytes = bytes.get(BEAT_LINE..).ok_or_else(|| bad("no heartbeat".into()))?;
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

/// The default bound on one case's wall-clock time before it counts as hung
/// (`twinspace fuzz --hang-after`). A generated case runs in well under a millisecond on
/// average; the slowest of 100,000 (master seeds 1-3, a debug build on a machine shared with
/// three other builds) took 40 ms on the reference and 44 ms on the JIT. The bound is
/// hundreds of times that, so a busy machine gives no false hang, while a hang costs seconds.
pub const HANG_AFTER: Duration = Duration::from_secs(10);

/// The shortest bound a shrinking candidate gets ([`shrink_hang`]), however fast the
/// reference: a process must start, compile the program and run it within it.
pub const CANDIDATE_FLOOR: Duration = Duration::from_millis(500);

/// A gap between two looks at a child longer than this means that this process did not run
/// (it was stopped, the machine was suspended): the watch starts again rather than count the
/// gap against the cases.
const PAUSED: Duration = Duration::from_secs(2);

/// What a [`Watchdog`] saw run past its bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stall {
    /// Case `index` of the run, of case seed `seed`, in a worker of the fuzzing loop.
    Case {
        /// The case's index in the run.
        index: u64,
        /// Its case seed.
        seed: u64,
    },
    /// A run of the investigation of a case (its last recorded case, [`recorded`]).
    Investigation,
}

/// Watches a supervised child's progress: the journal's worker lines
/// ([`super::fuzz::FuzzConfig::journal`]) and, while it investigates a case (`investigating`
/// exists), the heartbeat of its [`Recording`] in `dir`. Each is timed from when it was
/// last seen to change; one that has not changed for longer than the bound, while a case
/// runs, is a [`Stall`].
#[derive(Debug)]
pub struct Watchdog {
    journal: PathBuf,
    dir: PathBuf,
    investigating: PathBuf,
    bound: Duration,
    slots: Vec<(String, Instant)>,
    beat: Option<(Vec<u8>, Instant)>,
    last_look: Instant,
}

impl Watchdog {
    /// A watch of the child whose journal is `journal` and whose recording is in `dir`
    /// (beside the journal), with `investigating` the file that says it investigates.
    pub fn new(journal: &Path, dir: &Path, investigating: &Path, bound: Duration) -> Watchdog {
        Watchdog {
            journal: journal.to_owned(),
            dir: dir.to_owned(),
            investigating: investigating.to_owned(),
            bound,
            slots: Vec::new(),
            beat: None,
            last_look: Instant::now(),
        }
    }

    /// The bound.
    pub fn bound(&self) -> Duration {
        self.bound
    }

    /// Looks at the child's progress now: the stall, if one case has run past the bound.
    pub fn look(&mut self) -> Option<Stall> {
        let now = Instant::now();
        if now.duration_since(self.last_look) > PAUSED {
            // Nothing ran here; perhaps nothing ran there either. Start again.
            self.slots.clear();
            self.beat = None;
        }
        self.last_look = now;
        let text = std::fs::read_to_string(&self.journal).unwrap_or_default();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        self.slots.truncate(lines.len());
        for (i, line) in lines.iter().enumerate() {
            match self.slots.get_mut(i) {
                Some(slot) if slot.0 == *line => {
                    if now.duration_since(slot.1) > self.bound {
                        if let [(index, seed)] = super::fuzz::unfinished(line)[..] {
                            return Some(Stall::Case { index, seed });
                        }
                    }
                }
                Some(slot) => *slot = (line.to_string(), now),
                None => self.slots.push((line.to_string(), now)),
            }
        }
        let beat = if self.investigating.exists() { read_beat(&self.dir) } else { None };
        match (beat, &mut self.beat) {
            (None, seen) => *seen = None,
            (Some(b), Some((seen, since))) if b == *seen => {
                if now.duration_since(*since) > self.bound {
                    return Some(Stall::Investigation);
                }
            }
            (Some(b), seen) => *seen = Some((b, now)),
        }
        None
    }
}

/// The heartbeat line of the recording in `dir`, if there is a recording.
fn read_beat(dir: &Path) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let mut file = File::open(recording_path(dir)).ok()?;
    let mut line = vec![0; BEAT_LINE];
    let n = file.read(&mut line).ok()?;
    line.truncate(n);
    Some(line)
}

/// How a wait for a supervised child ended.
#[derive(Debug)]
pub enum Waited {
    /// The child ended by itself (or, after a signal, within [`GRACE`] or killed).
    Ended(ExitStatus),
    /// The [`Watchdog`] saw a case run past its bound: the child was killed.
    Stalled(Stall),
}

/// Waits for `child`; when `caught` reports a signal, writes its number into the child's
/// lifeline (its standard input), closes it (asking the child to stop) and ends the child if
/// it has not stopped within [`GRACE`]. With a `watchdog`, a child in which one case runs
/// past the bound is killed at once (a hung run stops for nothing) and the stall returned.
pub fn wait_for(
    child: &mut Child,
    caught: &dyn Fn() -> Option<i32>,
    mut watchdog: Option<&mut Watchdog>,
) -> io::Result<Waited> {
    let mut lifeline = child.stdin.take();
    let mut kill_at = None;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Waited::Ended(status));
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
        if let Some(stall) = watchdog.as_deref_mut().and_then(Watchdog::look) {
            if caught().is_none() {
                let _ = child.kill();
                child.wait()?;
                return Ok(Waited::Stalled(stall));
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How a process run with a bound ended ([`run_bounded`]).
#[derive(Debug)]
pub enum Bounded {
    /// It ended by itself, after this long.
    Ended(ExitStatus, Duration),
    /// It was still running at the bound, and was killed.
    Killed,
}

/// Runs `command` (its standard streams as the caller set them) and kills it if it has not
/// ended within `bound`.
pub fn run_bounded(command: &mut Command, bound: Duration) -> io::Result<Bounded> {
    let start = Instant::now();
    let mut child = command.spawn()?;
    let mut nap = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Bounded::Ended(status, start.elapsed()));
        }
        let left = bound.saturating_sub(start.elapsed());
        if left.is_zero() {
            let _ = child.kill();
            child.wait()?;
            return Ok(Bounded::Killed);
        }
        std::thread::sleep(nap.min(left));
        nap = (nap * 2).min(Duration::from_millis(20));
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
    let said = if tail.is_empty() { why } else { format!("{why}: {tail}") };
    let shown = shrunk.case.clone();
    Ok(Some(failure_finding(case, shown, Some(shrunk), Failure::Crash(said), parts)))
}

/// What running the subject alone on a case did ([`probe_hang`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// It ended (by itself, whatever its status), after this long.
    Finished(Duration),
    /// It was still running at the bound.
    Hung,
    /// Its process crashed: how it died.
    Crashed(String),
}

/// Runs the subject alone on `case` in a process of its own, as `probe(program file, input
/// file, limits)` says (a command that runs the subject once and nothing else), with the files
/// in `scratch`, killing it at `bound`.
pub fn probe_hang(
    case: &RunCase,
    scratch: &Path,
    probe: &dyn Fn(&Path, &Path, Limits) -> Command,
    bound: Duration,
) -> io::Result<Probe> {
    let ws = scratch.join("hang.ws");
    let input_path = scratch.join("hang.in");
    std::fs::write(&ws, print_ws(&case.program))?;
    std::fs::write(&input_path, &case.input)?;
    let mut cmd = probe(&ws, &input_path, case.limits);
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    Ok(match run_bounded(&mut cmd, bound)? {
        Bounded::Killed => Probe::Hung,
        Bounded::Ended(status, took) => match ended(status) {
            Ok(_) => Probe::Finished(took),
            Err((_, why)) => Probe::Crashed(why),
        },
    })
}

/// How long the reference takes on `case`, if it finishes within `bound` (it obeys a stop,
/// so it is stopped there): the measure of a shrinking candidate's own bound.
pub fn reference_time(case: &RunCase, bound: Duration) -> Option<Duration> {
    let stop = Stop::new();
    let _installed = stop.install();
    let _timer = stop.after(bound);
    let start = Instant::now();
    let run = Interp.run(case);
    let took = start.elapsed();
    let stopped = matches!(&run.result, Err(Failure::Host(_))) && stop.is_requested();
    (!stopped).then_some(took)
}

/// The bound of a shrinking candidate on which the reference took `reference`: ten times
/// that, plus four times what a process of the subject takes to start and end (`startup`),
/// but at least [`CANDIDATE_FLOOR`] and at most `full`.
pub fn candidate_bound(reference: Duration, startup: Duration, full: Duration) -> Duration {
    (reference * 10 + startup * 4).max(CANDIDATE_FLOOR).min(full)
}

/// The subject's failure on a case that it was still running at `bound`.
pub fn hang_failure(bound: Duration) -> Failure {
    Failure::Hang(format!(
        "still running after {:.1} s (every case has bounded fuel: a correct engine ends it \
         in milliseconds)",
        bound.as_secs_f64()
    ))
}

/// Shrinks `case`, which hangs the subject alone (the caller saw it, with `bound`), to a
/// minimal case that still hangs it while the reference finishes, each candidate run by
/// [`probe_hang`] with its [`candidate_bound`], within `budget`. The shrunk case is run
/// again with the full `bound`; if it does not hang then, the finding is of `case`
/// unshrunk. The finding is the reference's run against the subject's [`Failure::Hang`].
/// `Ok(None)` when `stopped()` became true.
pub fn shrink_hang(
    case: &RunCase,
    scratch: &Path,
    probe: &dyn Fn(&Path, &Path, Limits) -> Command,
    parts: Parts,
    bound: Duration,
    budget: Duration,
    stopped: &dyn Fn() -> bool,
) -> io::Result<Option<Finding>> {
    // What a process of the subject costs that runs nothing: the floor of every bound.
    let empty = RunCase::new(crate::syntax::canonical(Vec::new()), Vec::new(), case.limits);
    let startup = match probe_hang(&empty, scratch, probe, bound)? {
        Probe::Finished(took) => took,
        _ => bound / 4,
    };
    let host_failure = std::cell::RefCell::new(None);
    let hangs = |c: &RunCase| -> bool {
        if stopped() || host_failure.borrow().is_some() {
            return false;
        }
        let Some(reference) = reference_time(c, bound) else { return false };
        let short = candidate_bound(reference, startup, bound);
        match probe_hang(c, scratch, probe, short) {
            Ok(probe) => probe == Probe::Hung,
            Err(e) => {
                *host_failure.borrow_mut() = Some(e);
                false
            }
        }
    };
    let shrunk = super::shrink::shrink(case, hangs, budget);
    if let Some(e) = host_failure.into_inner() {
        return Err(e);
    }
    if stopped() {
        return Ok(None);
    }
    let confirmed = shrunk.case == *case || {
        reference_time(&shrunk.case, bound).is_some()
            && probe_hang(&shrunk.case, scratch, probe, bound)? == Probe::Hung
    };
    if stopped() {
        return Ok(None);
    }
    let (shown, shrunk) =
        if confirmed { (shrunk.case.clone(), Some(shrunk)) } else { (case.clone(), None) };
    Ok(Some(failure_finding(case, shown, shrunk, hang_failure(bound), parts)))
}

/// A probe that can cut the subject's blocks: `probe(program file, input file, limits, cut)`
/// is a command that runs the subject alone, once, with its blocks cut right after
/// instruction `cut` when it is `Some` ([`Engine::cut_after`]).
pub type CutProbe<'a> = dyn Fn(&Path, &Path, Limits, Option<usize>) -> Command + 'a;

/// The exact instruction at which the subject's process crashes (`hang: None`) or its run
/// hangs (`hang: Some(full bound)`) on `case`, whose subject run failed with `failure`:
/// [`super::diverge::failure_divergence`], every probe run in a process of its own by
/// `probe` (files in `scratch`). A hang probe gets the bound of a shrinking candidate
/// ([`candidate_bound`]): one still running then counts as hung.
#[allow(clippy::too_many_arguments)]
pub fn locate_failure(
    case: &RunCase,
    subject: &dyn Engine,
    parts: Parts,
    failure: &Failure,
    scratch: &Path,
    probe: &CutProbe<'_>,
    hang: Option<Duration>,
    stopped: &dyn Fn() -> bool,
) -> io::Result<Option<super::diverge::Divergence>> {
    let startup = match hang {
        None => Duration::ZERO,
        Some(bound) => {
            let empty = RunCase::new(crate::syntax::canonical(Vec::new()), Vec::new(), case.limits);
            match probe_hang(&empty, scratch, &|w, i, l| probe(w, i, l, None), bound)? {
                Probe::Finished(took) => took,
                _ => bound / 4,
            }
        }
    };
    let mut fails = |cut: Option<usize>, fuel: u64| -> io::Result<bool> {
        if stopped() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "stopped"));
        }
        let c = RunCase {
            program: case.program.clone(),
            input: case.input.clone(),
            limits: case.limits.with_fuel(fuel),
        };
        let cut_probe = |w: &Path, i: &Path, l: Limits| probe(w, i, l, cut);
        match hang {
            None => Ok(probe_crash(&c, scratch, &cut_probe)?.is_some()),
            Some(full) => {
                let Some(reference) = reference_time(&c, full) else { return Ok(false) };
                let bound = candidate_bound(reference, startup, full);
                Ok(!matches!(probe_hang(&c, scratch, &cut_probe, bound)?, Probe::Finished(_)))
            }
        }
    };
    super::diverge::failure_divergence(case, subject, parts, failure, &mut fails)
}

/// The finding of a subject that failed (`failure`, found by running it in a process or a
/// thread of its own) on `shown`, shrunk from `original`, against the reference's run.
pub fn failure_finding(
    original: &RunCase,
    shown: RunCase,
    shrunk: Option<super::shrink::Shrunk>,
    failure: Failure,
    parts: Parts,
) -> Finding {
    let reference = Interp.run(&shown);
    let subject = Run { result: Err(failure), handovers: 0 };
    let signature = Signature::of(&reference.result, &subject.result, parts)
        .unwrap_or(Signature { differs: Parts::all(), endings: None });
    Finding {
        original: original.clone(),
        found: signature,
        case: shown,
        shrunk,
        reference,
        subject,
        signature,
        divergence: None,
    }
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

    #[test]
    fn every_run_beats_the_heartbeat_and_the_watchdog_names_what_stalls() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, investigating) = (dir.path().join("journal"), dir.path().join("inv"));
        std::fs::write(&journal, "s 7 0x2a\n\n").unwrap();
        let bound = Duration::from_millis(30);
        let mut watch = Watchdog::new(&journal, dir.path(), &investigating, bound);
        assert_eq!(watch.look(), None, "first seen now");
        std::thread::sleep(bound * 2);
        assert_eq!(watch.look(), Some(Stall::Case { index: 7, seed: 0x2a }));
        // A line that changes starts its time again; blank lines never stall.
        std::fs::write(&journal, "s 8 0x2b\n\n").unwrap();
        assert_eq!(watch.look(), None);
        std::fs::write(&journal, "\n\n").unwrap();
        assert_eq!(watch.look(), None);

        // The recording is watched while the child says it investigates, and each run beats,
        // the cut engine's unrecorded ones too.
        let case = RunCase::new(assemble("push 1 | end").unwrap(), Vec::new(), Limits::DEFAULT);
        let recording = Recording::new(&Interp, dir.path());
        recording.run(&case);
        let before = read_beat(dir.path()).unwrap();
        assert_eq!(watch.look(), None, "not investigating");
        std::thread::sleep(bound * 2);
        assert_eq!(watch.look(), None, "not investigating");
        std::fs::write(&investigating, "- 0x1\n").unwrap();
        assert_eq!(watch.look(), None, "first seen now");
        std::thread::sleep(bound * 2);
        assert_eq!(watch.look(), Some(Stall::Investigation));
        if let Some(cut) = crate::engine::Jit::default().cut_after(0) {
            let beating = Beating { inner: cut, file: recording.file.clone() };
            let _ = beating.run(&case);
            assert_ne!(read_beat(dir.path()).unwrap(), before, "a cut run beats");
            assert_eq!(watch.look(), None, "a beat starts the time again");
            let back = recorded(dir.path()).unwrap().unwrap();
            assert_eq!(back.program.instructions(), case.program.instructions(), "unrecorded");
        }
        end_recording(dir.path());
        std::thread::sleep(bound * 2);
        assert_eq!(watch.look(), None, "an ended recording is not watched");
    }

    #[test]
    fn a_candidate_bound_follows_the_reference_between_the_floor_and_the_full_bound() {
        let full = Duration::from_secs(10);
        let ms = Duration::from_millis;
        assert_eq!(candidate_bound(ms(1), ms(5), full), CANDIDATE_FLOOR);
        assert_eq!(candidate_bound(ms(100), ms(10), full), ms(1040));
        assert_eq!(candidate_bound(ms(5000), ms(10), full), full);
    }
}
