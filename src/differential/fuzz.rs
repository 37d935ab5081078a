//! The fuzzing loop: generate cases from a master seed, run each on the reference and the
//! subject on several threads, stop at the first mismatch, and count what the runs did
//! (outcome mix, big-integer hand-overs, instruction coverage, and the JIT's own decisions,
//! [`crate::jit::coverage`], drained on each worker thread after every case).
//!
//! Invariant: case `i` of master seed `s` is always the case of seed [`case_seed`]`(s, i)`,
//! whatever the number of threads, so a printed case seed regenerates the case exactly.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek as _, SeekFrom, Write as _};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Comparison, Coverage, Ending, Parts, Signature, compared_parts, run_counting};
use crate::engine::Engine;
use crate::engine::RunCase;
use crate::generate::{Knobs, generate};
use crate::jit::coverage;
use crate::outcome::TrapKind;
use crate::program::Opcode;

/// How to fuzz.
#[derive(Clone, Debug)]
pub struct FuzzConfig {
    /// Stop after this many cases (when neither this nor `time` is set: never, until a
    /// mismatch).
    pub cases: Option<u64>,
    /// Stop after this long.
    pub time: Option<Duration>,
    /// The master seed.
    pub seed: u64,
    /// Worker threads.
    pub jobs: usize,
    /// The generator's knobs.
    pub knobs: Knobs,
    /// The parts of the outcome compared.
    pub parts: Parts,
    /// A file in which each worker keeps one fixed-size line: `s INDEX SEED` while it runs a
    /// case, blank between cases, so that when an engine crashes the process, whoever started
    /// it can tell which cases were running (see `twinspace fuzz`, which supervises a child).
    /// Lines are overwritten in place, so the file stays at `jobs` lines however long the run.
    pub journal: Option<PathBuf>,
    /// A request from outside to stop (a signal): when it becomes true the workers finish the
    /// cases they are running and the run ends, as when its time is up, with
    /// [`FuzzResult::interrupted`] set.
    pub stop: Option<Arc<AtomicBool>>,
    /// Stack size of the worker threads, in bytes (the main thread's usual 8 MiB by default,
    /// so that runs behave as they do in `twinspace run`).
    pub stack_size: usize,
}

impl Default for FuzzConfig {
    fn default() -> FuzzConfig {
        FuzzConfig {
            cases: Some(10_000),
            time: None,
            seed: 0,
            jobs: 1,
            knobs: Knobs::default(),
            parts: Parts::all(),
            journal: None,
            stop: None,
            stack_size: 8 << 20,
        }
    }
}

/// The seed of case `index` of master seed `master`.
pub fn case_seed(master: u64, index: u64) -> u64 {
    // One SplitMix64 step over a combination of both: well mixed, cheap, fixed forever.
    let mut z =
        master.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index.wrapping_add(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What the runs did, summed over cases.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Cases run on both engines.
    pub programs: u64,
    /// Instructions in the generated programs.
    pub instructions: u64,
    /// Instructions the reference executed.
    pub executed: u64,
    /// How the reference runs ended.
    pub endings: BTreeMap<Ending, u64>,
    /// Cases in which the subject handed over to big integers at least once.
    pub handover_programs: u64,
    /// Hand-overs in all.
    pub handovers: u64,
    /// Executed instructions per opcode (reference).
    pub coverage: Coverage,
    /// Cases in which each opcode executed at least once.
    pub programs_covering: Coverage,
    /// How often the JIT reached each of its decisions (empty when the subject is no JIT
    /// run in this process).
    pub decisions: coverage::Counts,
}

impl Stats {
    fn add(&mut self, other: &Stats) {
        self.programs += other.programs;
        self.instructions += other.instructions;
        self.executed += other.executed;
        for (k, v) in &other.endings {
            *self.endings.entry(*k).or_default() += v;
        }
        self.handover_programs += other.handover_programs;
        self.handovers += other.handovers;
        for i in 0..self.coverage.len() {
            self.coverage[i] += other.coverage[i];
            self.programs_covering[i] += other.programs_covering[i];
        }
        self.decisions.add(&other.decisions);
    }

    /// The line of the summary on the JIT's decisions: how many were reached, and the names
    /// of those never reached (`twinspace fuzz --coverage` lists them all with their counts).
    pub fn decisions_line(&self) -> String {
        if self.decisions.is_empty() {
            return "JIT decisions: none counted (no JIT ran in this process)".to_owned();
        }
        let unreached = self.decisions.unreached();
        let total = coverage::COUNT;
        let mut line = format!("JIT decisions: {} of {total} reached", total - unreached.len());
        if !unreached.is_empty() {
            let names: Vec<&str> = unreached.iter().map(|d| d.name()).collect();
            line.push_str(&format!("; never reached: {}", names.join(", ")));
        }
        line
    }

    /// The summary printed at the end of `twinspace fuzz`.
    pub fn summary(&self, elapsed: Duration, jobs: usize) -> String {
        let mut out = String::new();
        let secs = elapsed.as_secs_f64().max(1e-9);
        let n = self.programs.max(1) as f64;
        let pct = |k: u64| 100.0 * k as f64 / n;
        let _ = writeln!(
            out,
            "{} programs in {:.1} s on {jobs} thread{}: {:.0} programs/s; {:.0} instructions per program, {:.0} executed per run",
            self.programs,
            secs,
            if jobs == 1 { "" } else { "s" },
            self.programs as f64 / secs,
            self.instructions as f64 / n,
            self.executed as f64 / n,
        );
        let _ = writeln!(out, "outcomes (reference):");
        let mut line = String::new();
        let mut endings: Vec<(Ending, u64)> = vec![(Ending::Ended, 0)];
        endings.extend(TrapKind::ALL.iter().map(|&k| (Ending::Trapped(k), 0)));
        for (e, c) in &mut endings {
            *c = self.endings.get(e).copied().unwrap_or(0);
        }
        if let Some(&f) = self.endings.get(&Ending::Failed) {
            endings.push((Ending::Failed, f));
        }
        for (i, (e, c)) in endings.iter().enumerate() {
            let name = match e {
                Ending::Ended => "ended".to_owned(),
                Ending::Trapped(k) => k.code().to_owned(),
                Ending::Failed => "failed".to_owned(),
                Ending::Hung => "hung".to_owned(),
            };
            let _ = write!(line, "  {name:<20} {:>5.1}%", pct(*c));
            if i % 3 == 2 {
                let _ = writeln!(out, "{line}");
                line.clear();
            }
        }
        if !line.is_empty() {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(
            out,
            "big integers: the JIT handed over in {:.1}% of programs ({} hand-overs)",
            pct(self.handover_programs),
            self.handovers
        );
        let _ = writeln!(out, "coverage (share of programs executing it, instructions executed):");
        let mut line = String::new();
        for (i, op) in Opcode::ALL.iter().enumerate() {
            let _ = write!(
                line,
                "  {:<9}{:>5.1}% {:>10}",
                op.mnemonic(),
                pct(self.programs_covering[i]),
                self.coverage[i]
            );
            if i % 3 == 2 {
                let _ = writeln!(out, "{line}");
                line.clear();
            }
        }
        let missing: Vec<&str> = Opcode::ALL
            .iter()
            .enumerate()
            .filter(|(i, _)| self.coverage[*i] == 0)
            .map(|(_, op)| op.mnemonic())
            .collect();
        if !missing.is_empty() {
            let _ = writeln!(out, "  never executed: {}", missing.join(", "));
        }
        let _ = writeln!(out, "{}", self.decisions_line());
        out
    }
}

/// The first mismatch a fuzzing run found.
#[derive(Clone, Debug)]
pub struct Found {
    /// The case's index in the run.
    pub index: u64,
    /// The case's own seed.
    pub seed: u64,
    /// The case.
    pub case: RunCase,
    /// Both runs and the signature.
    pub check: Comparison,
}

/// The live state of a fuzzing run, for a progress line.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Cases done.
    pub programs: u64,
    /// Time since the start.
    pub elapsed: Duration,
}

/// What a fuzzing run did.
#[derive(Clone, Debug)]
pub struct FuzzResult {
    /// The counts.
    pub stats: Stats,
    /// How long it ran.
    pub elapsed: Duration,
    /// The first mismatch, if any.
    pub found: Option<Found>,
    /// Whether [`FuzzConfig::stop`] ended the run.
    pub interrupted: bool,
}

/// The width of one journal line, line feed included: `s`, an index and a 0x-hex seed fit.
const JOURNAL_LINE: usize = 48;

/// The journal of [`FuzzConfig::journal`]: one line per worker, rewritten in place.
struct Journal(Mutex<File>);

impl Journal {
    /// Creates (or empties) the journal at `path` with a blank line for each of `jobs` workers,
    /// so that every line is whole from the start.
    fn create(path: &std::path::Path, jobs: usize) -> io::Result<Journal> {
        let mut file = OpenOptions::new().create(true).write(true).truncate(true).open(path)?;
        let blank = format!("{:<width$}\n", "", width = JOURNAL_LINE - 1);
        file.write_all(blank.repeat(jobs).as_bytes())?;
        Ok(Journal(Mutex::new(file)))
    }

    /// Records in worker `slot`'s line what it runs now (`None`: nothing).
    fn note(&self, slot: usize, running: Option<(u64, u64)>) {
        let mut line = match running {
            Some((index, seed)) => format!("s {index} {seed:#x}"),
            None => String::new(),
        };
        line.truncate(JOURNAL_LINE - 1);
        let mut bytes = format!("{line:<width$}\n", width = JOURNAL_LINE - 1).into_bytes();
        bytes.truncate(JOURNAL_LINE);
        let mut file = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // One write per line at its fixed place; a failure only loses crash diagnosis.
        let _ = file
            .seek(SeekFrom::Start((slot * JOURNAL_LINE) as u64))
            .and_then(|_| file.write_all(&bytes));
    }
}

/// Runs one case: generates it, lowers its fuel if its values outgrow the guard
/// runs both engines, counts.
pub fn run_case(
    seed: u64,
    knobs: &Knobs,
    subject: &dyn Engine,
    parts: Parts,
    stats: &mut Stats,
) -> (RunCase, Comparison) {
    let mut coverage: Coverage = [0; Opcode::ALL.len()];
    let case = generate(seed, knobs);
    let reference = run_counting(&case, &mut coverage);
    // Only the subject's run counts (whatever ran on this thread before is not this case's).
    let _ = coverage::take();
    let subject_run = subject.run(&case);
    stats.decisions.add(&coverage::take());
    let mismatch =
        Signature::of(&reference.result, &subject_run.result, compared_parts(subject, parts));
    stats.programs += 1;
    stats.instructions += case.program.len() as u64;
    if let Ok(o) = &reference.result {
        stats.executed += o.finish.executed;
    }
    *stats.endings.entry(Ending::of(&reference.result)).or_default() += 1;
    if subject_run.handovers > 0 {
        stats.handover_programs += 1;
        stats.handovers += subject_run.handovers;
    }
    for (i, &c) in coverage.iter().enumerate() {
        stats.coverage[i] += c;
        stats.programs_covering[i] += u64::from(c > 0);
    }
    (case, Comparison { reference, subject: subject_run, mismatch })
}

/// Fuzzes `subject` against the reference; `progress` is called about four times a second
/// from the calling thread. Fails only if the journal cannot be opened or a thread cannot
/// be started.
pub fn fuzz(
    config: &FuzzConfig,
    subject: &dyn Engine,
    progress: &mut dyn FnMut(Progress),
) -> io::Result<FuzzResult> {
    let start = Instant::now();
    let deadline = config.time.map(|t| start + t);
    let limit = config.cases.unwrap_or(u64::MAX);
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let found: Mutex<Option<Found>> = Mutex::new(None);
    let totals: Mutex<Stats> = Mutex::new(Stats::default());
    let jobs = config.jobs.max(1);
    let journal = match &config.journal {
        Some(path) => Some(Journal::create(path, jobs)?),
        None => None,
    };
    let note = |slot: usize, running: Option<(u64, u64)>| {
        if let Some(journal) = &journal {
            journal.note(slot, running);
        }
    };
    let interrupted = || config.stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed));
    std::thread::scope(|scope| -> io::Result<()> {
        let mut workers = Vec::new();
        for slot in 0..jobs {
            let (stop, next, done, found, totals) = (&stop, &next, &done, &found, &totals);
            let (note, interrupted) = (&note, &interrupted);
            let worker = std::thread::Builder::new().stack_size(config.stack_size).spawn_scoped(
                scope,
                move || {
                    let mut stats = Stats::default();
                    loop {
                        if stop.load(Ordering::Relaxed) || interrupted() {
                            break;
                        }
                        if deadline.is_some_and(|d| Instant::now() >= d) {
                            break;
                        }
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        if index >= limit {
                            break;
                        }
                        let seed = case_seed(config.seed, index);
                        note(slot, Some((index, seed)));
                        let (case, check) =
                            run_case(seed, &config.knobs, subject, config.parts, &mut stats);
                        note(slot, None);
                        done.fetch_add(1, Ordering::Relaxed);
                        if check.mismatch.is_some() {
                            stop.store(true, Ordering::Relaxed);
                            let mut f = found.lock().unwrap_or_else(|e| e.into_inner());
                            if f.as_ref().is_none_or(|f| index < f.index) {
                                *f = Some(Found { index, seed, case, check });
                            }
                            break;
                        }
                    }
                    totals.lock().unwrap_or_else(|e| e.into_inner()).add(&stats);
                },
            )?;
            workers.push(worker);
        }
        let mut last = Instant::now();
        while !workers.iter().all(|w| w.is_finished()) {
            std::thread::sleep(Duration::from_millis(20));
            if last.elapsed() >= Duration::from_millis(250) {
                last = Instant::now();
                progress(Progress {
                    programs: done.load(Ordering::Relaxed),
                    elapsed: start.elapsed(),
                });
            }
        }
        Ok(())
    })?;
    let elapsed = start.elapsed();
    Ok(FuzzResult {
        stats: totals.into_inner().unwrap_or_else(|e| e.into_inner()),
        elapsed,
        found: found.into_inner().unwrap_or_else(|e| e.into_inner()),
        interrupted: interrupted(),
    })
}

/// The cases a journal shows started but not finished: those that were running when the
/// process died, as `(index, seed)`, lowest index first. (`d INDEX` lines, which mark a case
/// done in an appended journal, are understood too.)
pub fn unfinished(journal: &str) -> Vec<(u64, u64)> {
    let mut started = BTreeMap::new();
    for line in journal.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("s"), Some(index), Some(seed)) => {
                let seed = u64::from_str_radix(seed.trim_start_matches("0x"), 16);
                if let (Ok(index), Ok(seed)) = (index.parse::<u64>(), seed) {
                    started.insert(index, seed);
                }
            }
            (Some("d"), Some(index), None) => {
                if let Ok(index) = index.parse::<u64>() {
                    started.remove(&index);
                }
            }
            _ => {}
        }
    }
    started.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_seeds_differ_and_are_fixed() {
        assert_ne!(case_seed(0, 0), case_seed(0, 1));
        assert_ne!(case_seed(0, 1), case_seed(1, 0));
        assert_eq!(case_seed(5, 7), case_seed(5, 7));
    }

    #[test]
    fn a_short_run_agrees_with_itself_and_counts() {
        let config = FuzzConfig { cases: Some(200), jobs: 2, ..FuzzConfig::default() };
        let result = fuzz(&config, &crate::engine::Interp, &mut |_| {}).unwrap();
        assert!(result.found.is_none());
        assert_eq!(result.stats.programs, 200);
        assert_eq!(result.stats.endings.values().sum::<u64>(), 200);
        let text = result.stats.summary(result.elapsed, 2);
        assert!(text.contains("programs/s") && text.contains("out-of-fuel"), "{text}");
    }

    #[test]
    fn the_jit_decisions_of_every_case_are_counted_on_every_worker() {
        let config = FuzzConfig { cases: Some(300), jobs: 1, ..FuzzConfig::default() };
        let interp = fuzz(&config, &crate::engine::Interp, &mut |_| {}).unwrap();
        assert!(interp.stats.decisions.is_empty(), "the interpreter makes no JIT decisions");
        assert!(interp.stats.summary(interp.elapsed, 1).contains("JIT decisions: none counted"));
        let jit = crate::engine::Jit::default();
        if jit.unavailable().is_some() {
            return;
        }
        let one = fuzz(&config, &jit, &mut |_| {}).unwrap();
        let entered = one.stats.decisions.get(coverage::Decision::EnterNative);
        assert!(entered > 0, "{:?}", one.stats.decisions);
        let text = one.stats.summary(one.elapsed, 1);
        assert!(text.contains(&format!(" of {} reached", coverage::COUNT)), "{text}");
        // The same cases on three threads count the same: each worker drains its own table.
        let three = fuzz(&FuzzConfig { jobs: 3, ..config }, &jit, &mut |_| {}).unwrap();
        assert_eq!(three.stats.decisions, one.stats.decisions);
    }

    #[test]
    fn the_journal_stays_one_line_per_worker_and_a_stop_ends_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let stop = Arc::new(AtomicBool::new(false));
        let config = FuzzConfig {
            cases: Some(300),
            jobs: 3,
            journal: Some(path.clone()),
            stop: Some(Arc::clone(&stop)),
            ..FuzzConfig::default()
        };
        let result = fuzz(&config, &crate::engine::Interp, &mut |_| {}).unwrap();
        assert!(!result.interrupted && result.stats.programs == 300);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 3 * JOURNAL_LINE, "{text:?}");
        assert!(unfinished(&text).is_empty(), "{text:?}");

        let journal = Journal::create(&path, 2).unwrap();
        journal.note(1, Some((u64::MAX, u64::MAX)));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(unfinished(&text), vec![(u64::MAX, u64::MAX)]);

        stop.store(true, Ordering::Relaxed);
        let result = fuzz(&config, &crate::engine::Interp, &mut |_| {}).unwrap();
        assert!(result.interrupted && result.stats.programs == 0);
    }

    #[test]
    fn the_journal_names_the_unfinished_cases() {
        let journal = "s 0 0x10\nd 0\ns 2 0x12\ns 1 0xab\nd 2\ns 3 0x5";
        assert_eq!(unfinished(journal), vec![(1, 0xab), (3, 0x5)]);
    }
}
