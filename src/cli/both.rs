//! `twinspace run --engine both`: both engines side by side on one standard input, their
//! outputs compared as they are written.
//!
//! Each engine runs on its own thread with its own [`Input`] and [`Output`]. The inputs read
//! from one tee of standard input: bytes stay in it until both engines have read them, and the
//! engine ahead waits once it is [`WINDOW`] bytes ahead. The outputs write into one comparator:
//! the engine ahead leaves its bytes there (again at most [`WINDOW`]), the one behind compares
//! its bytes with them, and what both wrote goes to standard output. So memory stays bounded
//! however long the input or the output, output appears as the runs agree on it (a prompt
//! shows before a read, since engines flush before reading), and the first byte where the
//! outputs differ stops both. Engines that agree do the same reads and writes in the same
//! order, so neither waits on the other for long; when each waits on the other, their I/O has
//! diverged, and that is reported as a disagreement rather than hanging.
//!
//! At the end the rest of the outcome (termination, stack, heap, instructions executed) is
//! compared as [`twinspace::differential`] does.

use std::collections::VecDeque;
use std::io::{self, IsTerminal, Read, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use twinspace::differential::{Parts, report};
use twinspace::engine::Engine;
use twinspace::{Finish, HostError, Input, Outcome, Output, Program, StopCause};

use super::CliExit;
use super::run::{RunArgs, print_stats, report_termination};
use super::stops::{StdinWatch, Stop};

/// The most bytes one engine may be ahead of the other, in input and in output.
pub const WINDOW: usize = 1 << 20;

/// Bytes of agreed output shown before a difference, and of each side's after it.
const CONTEXT: usize = 64;
const SHOWN: usize = 256;

/// Where the outputs first differ.
#[derive(Debug)]
struct Difference {
    /// Offset of the first differing byte.
    at: u64,
    /// The agreed bytes just before it.
    context: Vec<u8>,
    /// What each side wrote from there (as far as it is known).
    sides: [Vec<u8>; 2],
}

/// Why the comparison stopped the engines.
#[derive(Debug)]
enum Failure {
    Differ(Difference),
    /// Each engine waits for the other: their reads and writes no longer match.
    Deadlock,
    /// Standard output failed.
    Stdout(io::ErrorKind),
}

struct State {
    /// Input bytes not yet read by both (the first is at offset `base`).
    input: VecDeque<u8>,
    base: u64,
    /// Input bytes each side has read.
    pos: [u64; 2],
    /// A side is reading standard input (without the lock).
    reading: bool,
    eof: bool,
    input_error: Option<(io::ErrorKind, String)>,
    /// Output bytes of the side ahead (`leader`) that the other has not written yet.
    pending: VecDeque<u8>,
    leader: usize,
    /// Output bytes both have written (and that went to standard output).
    agreed: u64,
    context: VecDeque<u8>,
    done: [bool; 2],
    waiting_on_other: [bool; 2],
    failure: Option<Failure>,
    /// A signal or the timeout is stopping both: an engine that stopped first is not one
    /// whose output ended.
    stopping: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    source: Mutex<Box<dyn Read + Send>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a change, as side `side` waiting on the other when `on_other`: if the other is
    /// waiting on this one too, neither can go on.
    fn wait<'a>(
        &self,
        mut st: MutexGuard<'a, State>,
        side: usize,
        on_other: bool,
    ) -> MutexGuard<'a, State> {
        st.waiting_on_other[side] = on_other;
        if on_other && st.waiting_on_other[1 - side] && st.failure.is_none() {
            st.failure = Some(Failure::Deadlock);
            self.changed.notify_all();
            return st;
        }
        let mut st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner());
        st.waiting_on_other[side] = false;
        st
    }
}

fn failed() -> io::Error {
    io::Error::other("stopped: the engines disagree")
}

/// One side's input: its view of the tee.
struct SideInput {
    shared: Arc<Shared>,
    side: usize,
}

impl Read for SideInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (shared, side) = (&*self.shared, self.side);
        let mut st = shared.lock();
        loop {
            if st.failure.is_some() || st.stopping {
                return Err(failed());
            }
            let start = (st.pos[side] - st.base) as usize;
            if start < st.input.len() {
                let n = buf.len().min(st.input.len() - start);
                for (b, i) in buf[..n].iter_mut().zip(start..) {
                    *b = st.input[i];
                }
                st.pos[side] += n as u64;
                trim_input(&mut st);
                shared.changed.notify_all();
                return Ok(n);
            }
            if let Some((kind, message)) = &st.input_error {
                return Err(io::Error::new(*kind, message.clone()));
            }
            if st.eof {
                return Ok(0);
            }
            if st.reading {
                st = shared.wait(st, side, false);
            } else if st.input.len() >= WINDOW {
                // Ahead by a whole window: the other side must read first.
                st = shared.wait(st, side, true);
            } else {
                st.reading = true;
                drop(st);
                let mut chunk = [0u8; 8192];
                let got = loop {
                    let mut source = shared.source.lock().unwrap_or_else(|p| p.into_inner());
                    match source.read(&mut chunk) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        other => break other,
                    }
                };
                st = shared.lock();
                st.reading = false;
                match got {
                    Ok(0) => st.eof = true,
                    Ok(k) => st.input.extend(&chunk[..k]),
                    Err(e) => st.input_error = Some((e.kind(), e.to_string())),
                }
                shared.changed.notify_all();
            }
        }
    }
}

/// Drops the input bytes every running side has read.
fn trim_input(st: &mut State) {
    let low = (0..2).filter(|&s| !st.done[s]).map(|s| st.pos[s]).min().unwrap_or(u64::MAX);
    let drop = (low.saturating_sub(st.base) as usize).min(st.input.len());
    st.input.drain(..drop);
    st.base += drop as u64;
}

/// One side's output: its half of the comparator.
struct SideOutput {
    shared: Arc<Shared>,
    side: usize,
}

impl Write for SideOutput {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let (shared, side) = (&*self.shared, self.side);
        let other = 1 - side;
        let mut st = shared.lock();
        loop {
            if st.stopping {
                return Err(io::Error::other("stopped"));
            }
            if let Some(f) = &st.failure {
                return Err(match f {
                    Failure::Stdout(kind) => io::Error::from(*kind),
                    _ => failed(),
                });
            }
            if st.pending.is_empty() || st.leader == side {
                if st.done[other] {
                    // The other has stopped writing: everything from here is extra.
                    let at = st.agreed;
                    let mut mine: Vec<u8> = st.pending.iter().copied().take(SHOWN).collect();
                    mine.extend(bytes.iter().take(SHOWN - mine.len()));
                    differ(shared, &mut st, at, side, mine, Vec::new());
                    continue;
                }
                if st.pending.len() >= WINDOW {
                    st = shared.wait(st, side, true);
                    continue;
                }
                st.leader = side;
                st.pending.extend(bytes);
                shared.changed.notify_all();
                return Ok(bytes.len());
            }
            // Behind: what this side writes must be what the leader wrote.
            let same = st.pending.iter().zip(bytes).take_while(|(a, b)| a == b).count();
            let agreed: Vec<u8> = st.pending.drain(..same).collect();
            if let Err(e) = emit(&mut st, &agreed) {
                st.failure = Some(Failure::Stdout(e.kind()));
                shared.changed.notify_all();
                continue;
            }
            let rest = &bytes[same..];
            if !rest.is_empty() {
                if st.pending.is_empty() {
                    st.leader = side;
                    st.pending.extend(rest);
                } else {
                    let at = st.agreed;
                    let theirs: Vec<u8> = st.pending.iter().copied().take(SHOWN).collect();
                    let mine: Vec<u8> = rest.iter().copied().take(SHOWN).collect();
                    differ(shared, &mut st, at, side, mine, theirs);
                    continue;
                }
            }
            shared.changed.notify_all();
            return Ok(bytes.len());
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let st = self.shared.lock();
        if let Some(Failure::Stdout(kind)) = &st.failure {
            return Err(io::Error::from(*kind));
        }
        drop(st);
        io::stdout().flush()
    }
}

/// Writes agreed bytes to standard output, keeping the last few as context.
fn emit(st: &mut State, agreed: &[u8]) -> io::Result<()> {
    if agreed.is_empty() {
        return Ok(());
    }
    st.agreed += agreed.len() as u64;
    st.context.extend(agreed);
    let extra = st.context.len().saturating_sub(CONTEXT);
    st.context.drain(..extra);
    io::stdout().write_all(agreed)
}

fn differ(shared: &Shared, st: &mut State, at: u64, side: usize, mine: Vec<u8>, theirs: Vec<u8>) {
    let mut sides = [Vec::new(), Vec::new()];
    sides[side] = mine;
    sides[1 - side] = theirs;
    let context = st.context.iter().copied().collect();
    st.failure.get_or_insert(Failure::Differ(Difference { at, context, sides }));
    shared.changed.notify_all();
}

/// `run --engine both`.
pub fn run_compared(
    program: &Program,
    engines: &[Arc<dyn Engine>],
    args: &RunArgs,
    stop: &Stop,
) -> Result<CliExit, HostError> {
    let source: Box<dyn Read + Send> = match &args.source.input {
        Some(path) if path.as_os_str() != "-" => Box::new(std::fs::File::open(path)?),
        _ => Box::new(StdinWatch::new(io::stdin(), stop)),
    };
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            input: VecDeque::new(),
            base: 0,
            pos: [0; 2],
            reading: false,
            eof: false,
            input_error: None,
            pending: VecDeque::new(),
            leader: 0,
            agreed: 0,
            context: VecDeque::new(),
            done: [false; 2],
            waiting_on_other: [false; 2],
            failure: None,
            stopping: false,
        }),
        changed: Condvar::new(),
        source: Mutex::new(source),
    });
    let started = std::time::Instant::now();
    let results = run_sides(program, engines, args, &shared, stop);
    io::stdout().flush()?;
    let mut st = shared.lock();
    if st.failure.is_none() && !st.pending.is_empty() && results.iter().all(Result::is_ok) {
        // Both ended, one wrote more.
        let (at, leader) = (st.agreed, st.leader);
        let extra: Vec<u8> = st.pending.iter().copied().take(SHOWN).collect();
        differ(&shared, &mut st, at, leader, extra, Vec::new());
    }
    let failure = st.failure.take();
    drop(st);
    let [interp, jit]: [Result<Finish, HostError>; 2] =
        results.try_into().unwrap_or_else(|_| unreachable!("two engines"));
    match failure {
        Some(Failure::Differ(d)) => {
            report_output_difference(program, &d);
            return Ok(CliExit::Mismatch);
        }
        Some(Failure::Deadlock) => {
            eprintln!(
                "twinspace: the engines disagree on their input and output: each waits for the \
                 other ({} output bytes agreed)",
                shared.lock().agreed
            );
            return Ok(CliExit::Mismatch);
        }
        Some(Failure::Stdout(kind)) => {
            // The engine whose write failed says where; the other was only stopped.
            return Err([interp, jit]
                .into_iter()
                .filter_map(Result::err)
                .find(|e| e.io_error().is_some())
                .unwrap_or_else(|| HostError::Io(kind.into())));
        }
        None => {}
    }
    // A host error or a stop (which stops both): the reference's is the one reported.
    let (interp, jit) = match (interp, jit) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let reference = Outcome { output: Vec::new(), finish: interp };
    let subject = Outcome { output: Vec::new(), finish: jit };
    let differing = Parts::all().differing(&reference, &subject);
    if !differing.is_empty() {
        let diffs =
            report::outcome_diffs(program, &reference, &subject, differing, "interp", "jit");
        eprintln!("twinspace: the engines disagree on {differing}:\n{diffs}");
        eprintln!(
            "(`twinspace diff` on this program names the instruction where the runs part, with \
             both states there; `twinspace shrink` makes it minimal)"
        );
        return Ok(CliExit::Mismatch);
    }
    if args.stats {
        print_stats(&*engines[1], &subject.finish, Some(subject.finish.heap.len() as u64), started);
        eprintln!("both engines agree: {} instructions", reference.finish.executed);
    }
    Ok(report_termination(&args.file, program, &reference.finish))
}

/// Runs both engines, each on its own thread, through the comparator in `shared`, and passes
/// a stop of the command (a signal, the timeout) or of the comparison (the outputs parted) on
/// to both; gives each engine's result, reference first.
fn run_sides(
    program: &Program,
    engines: &[Arc<dyn Engine>],
    args: &RunArgs,
    shared: &Arc<Shared>,
    stop: &Stop,
) -> Vec<Result<Finish, HostError>> {
    let limits = args.source.limits.limits();
    let terminal = io::stdout().is_terminal();
    // The engines obey their own stop: the command's (a signal, the timeout), passed on by
    // this thread, or the comparison's, when it has seen them part.
    let pair = Stop::new();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|side| {
                let (shared, pair) = (Arc::clone(shared), pair.clone());
                scope.spawn(move || {
                    let mut sink = SideOutput { shared: Arc::clone(&shared), side };
                    let result = {
                        let mut output = if terminal {
                            Output::line_buffered(&mut sink)
                        } else {
                            Output::new(&mut sink)
                        };
                        let mut input = Input::new(SideInput { shared: Arc::clone(&shared), side });
                        let engine = &engines[side];
                        // Not the transcript: on an endless input it would grow without
                        // bound (the comparator sees the output as it comes instead).
                        let all = Parts::all() - Parts::TRANSCRIPT;
                        let run =
                            engine.stream(program, limits, all, &pair, &mut input, &mut output);
                        run.map(|(finish, _)| finish)
                    };
                    let mut st = shared.lock();
                    st.done[side] = true;
                    trim_input(&mut st);
                    shared.changed.notify_all();
                    result
                })
            })
            .collect();
        let mut st = shared.lock();
        while !(st.done[0] && st.done[1]) {
            if let Some(cause) = stop.poll() {
                st.stopping = true;
                pair.request(cause);
            } else if st.failure.is_some() {
                // Not shown: the disagreement is what is reported.
                pair.request(StopCause::Signal(0));
            }
            st = shared
                .changed
                .wait_timeout(st, Duration::from_millis(20))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        drop(st);
        handles.into_iter().map(|h| h.join().expect("an engine thread panicked")).collect()
    })
}

fn report_output_difference(program: &Program, d: &Difference) {
    let side = |i: usize| {
        let mut output = d.context.clone();
        output.extend(&d.sides[i]);
        Outcome {
            output,
            finish: Finish {
                termination: twinspace::Termination::Ended,
                stack: Vec::new(),
                heap: Default::default(),
                executed: 0,
                reads: Vec::new(),
            },
        }
    };
    let diffs = report::outcome_diffs(program, &side(0), &side(1), Parts::OUTPUT, "interp", "jit");
    eprintln!(
        "twinspace: the engines disagree on output from byte {} (shown from byte {}):\n{diffs}",
        d.at,
        d.at - d.context.len() as u64
    );
    eprintln!(
        "(`twinspace diff` on this program names the instruction where the runs part, with \
             both states there; `twinspace shrink` makes it minimal)"
    );
}
