//! One way to name and run an engine: the [`Engine`] trait, the two engines of this crate
//! ([`Interp`], [`Jit`]), and [`by_name`], the one parser of engine names (`interp`, `jit`,
//! and with the `mutations` feature `jit:mutate=NAME`) that the CLI's `--engine`, the
//! conformance and corpus runners and the differential harness all use.
//!
//! An engine runs a [`RunCase`] (program, input, limits) and gives a [`Run`]: the [`Outcome`],
//! or a [`Failure`] (a host error, a panic, a crash) as a *value*, so that two engines that
//! fail the same way agree and a report can show both failures. An engine declares the
//! [`Parts`] of an outcome it can report ([`Engine::capabilities`]); a comparison looks at
//! exactly the parts both engines report.
//!
//! **Why a trait object and not an enum.** The set of engines is open: tests plant stand-ins
//! that are wrong on purpose (`tests/differential.rs`), and engines that are other programs
//! (`cmd:wsc {}`, run per case as a subprocess that reports only its output and exit status:
//! [`crate::external::ExternalEngine`]) are others, each with its own state (a command line, a
//! scratch file) and its own way to fail. A `dyn Engine` lets each be a type of its own that declares what it can report,
//! without a closed enum that every match in the crate would have to grow with; the harness
//! never needs to know which engine it holds. Engines are shared between threads (the
//! fuzzer's workers) as `Arc<dyn Engine>` or `&dyn Engine`.
//!
//! Invariant: an engine never turns a failure into an outcome, and a run's [`Failure`] is
//! compared by value: equal failures agree, different ones are a mismatch.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use crate::io::{Input, Output};
use crate::limits::Limits;
use crate::outcome::{Finish, HostError, Outcome, Parts};
use crate::program::Program;
use crate::stop::Stop;

/// What an engine runs: a program, its whole input and the limits of the run. The harness
/// generates these ([`crate::generate`]), shrinks them and keeps them; conformance cases
/// ([`crate::case::ConformanceCase`]) carry an expected outcome besides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunCase {
    /// The program.
    pub program: Program,
    /// The whole input, given to the program as one byte stream.
    pub input: Vec<u8>,
    /// The limits of the run (the same for every engine).
    pub limits: Limits,
}

impl RunCase {
    /// A case from its parts.
    pub fn new(program: Program, input: Vec<u8>, limits: Limits) -> RunCase {
        RunCase { program, input, limits }
    }
}

/// Why an engine gave no outcome. Compared by value: two engines that fail alike agree.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Failure {
    /// A host error ([`HostError`]: I/O, a stop from outside, an unavailable engine), as its
    /// message, which names the instruction when the error has one.
    Host(String),
    /// The engine panicked, with this message.
    Panic(String),
    /// The engine's process crashed or was killed (a signal): how it ended, and the last
    /// lines it wrote to standard error.
    Crash(String),
    /// The engine did not finish within a wall-clock bound and was ended: how long it was
    /// given. Every case has bounded fuel, so an engine that obeys its fuel always finishes;
    /// one that runs on (a loop that charges no fuel) hangs, and only a process of its own,
    /// killed at the bound, can end it (`differential::supervise`).
    Hang(String),
}

impl From<HostError> for Failure {
    fn from(e: HostError) -> Failure {
        Failure::Host(e.to_string())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Host(message) => f.write_str(message),
            Failure::Panic(message) => write!(f, "panicked: {message}"),
            Failure::Crash(how) => write!(f, "the process was {how}"),
            Failure::Hang(how) => write!(f, "the run hung: {how}"),
        }
    }
}

/// What one engine did with a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// The outcome, or why the engine gave none.
    pub result: Result<Outcome, Failure>,
    /// Times the engine handed over from machine integers to big integers (the JIT; 0 for
    /// engines that have no such thing).
    pub handovers: u64,
}

/// What a run measured about itself besides its outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Times the run handed over from machine integers to big integers.
    pub handovers: u64,
    /// Time spent compiling before the run, for an engine that compiles.
    pub compile_time: Option<Duration>,
    /// Distinct heap addresses written by the end of the run (what the heap limit counts),
    /// for an engine that counts them as it goes: known even when the final heap was not
    /// built because [`Parts::HEAP`] was not wanted. `None` from an engine that does not
    /// count them; its [`Finish::heap`] (when wanted) has one entry per such address.
    pub heap_cells: Option<u64>,
}

/// Writes the [`Engine`] methods that a wrapper engine passes unchanged to the engine it
/// wraps, the field named `$inner` (a `Box`, `Arc` or reference to a `dyn Engine`): `name`,
/// `capabilities`, `unavailable` and `stream`. The wrapper writes beside it only what it
/// changes (`run`, `cut_after`): a recording, a heartbeat, a watch on the wall clock.
#[macro_export]
macro_rules! forward_engine {
    ($inner:ident) => {
        fn name(&self) -> String {
            self.$inner.name()
        }

        fn capabilities(&self) -> $crate::outcome::Parts {
            self.$inner.capabilities()
        }

        fn unavailable(&self) -> Option<String> {
            self.$inner.unavailable()
        }

        fn stream(
            &self,
            program: &$crate::program::Program,
            limits: $crate::limits::Limits,
            wanted: $crate::outcome::Parts,
            stop: &$crate::stop::Stop,
            input: &mut $crate::io::Input,
            output: &mut $crate::io::Output,
        ) -> Result<($crate::outcome::Finish, $crate::engine::RunStats), $crate::outcome::HostError>
        {
            self.$inner.stream(program, limits, wanted, stop, input, output)
        }
    };
}

/// An engine: something that runs programs and reports their outcome.
pub trait Engine: Send + Sync {
    /// The engine's name, as [`by_name`] parses it (`interp`, `jit`, `jit:mutate=NAME`): in
    /// reports, test names and re-run commands.
    fn name(&self) -> String;

    /// The parts of an outcome this engine reports; comparisons with it look at no others.
    fn capabilities(&self) -> Parts {
        Parts::all()
    }

    /// Why the engine cannot run on this machine, or `None` if it can.
    fn unavailable(&self) -> Option<String> {
        None
    }

    /// The same engine with its blocks of compiled code cut right after instruction `index`
    /// ([`crate::jit::Options::cut_after`]), so that a run with just enough fuel to reach
    /// that instruction stops there with the state compiled code computed; `None` (the
    /// default) for an engine that has no such blocks. The differential harness uses it to
    /// name the exact instruction where a run first goes wrong ([`crate::differential::diverge`]).
    fn cut_after(&self, index: usize) -> Option<Box<dyn Engine>> {
        let _ = index;
        None
    }

    /// Runs `program`, reading `input` and streaming to `output`, until it ends, traps, or
    /// `stop` is requested ([`HostError::Stopped`], with the output so far written). The
    /// parts of the [`Finish`] outside `wanted` may be left empty (the JIT then skips building
    /// the final heap, which for a large heap takes longer than the run; without
    /// [`Parts::TRANSCRIPT`] no engine notes its reads, which on an endless input would
    /// grow without bound).
    ///
    /// Engines that run only whole cases (other programs, panels of engines) keep this
    /// default, which refuses, and implement [`Engine::run`] instead.
    fn stream(
        &self,
        _program: &Program,
        _limits: Limits,
        _wanted: Parts,
        _stop: &Stop,
        _input: &mut Input,
        _output: &mut Output,
    ) -> Result<(Finish, RunStats), HostError> {
        Err(HostError::Unavailable(format!(
            "{} runs whole cases only: it cannot stream",
            self.name()
        )))
    }

    /// Runs `program` on the input `bytes` and collects the whole outcome, obeying the
    /// [`Stop`] installed on this thread ([`Stop::current`]); a panic is not caught.
    fn run_bytes(
        &self,
        program: &Program,
        limits: Limits,
        input: &[u8],
    ) -> Result<Outcome, HostError> {
        let mut sink = Vec::new();
        let (finish, _) = {
            let mut output = Output::new(&mut sink);
            let mut input = Input::from_bytes(input);
            let stop = Stop::current();
            self.stream(program, limits, Parts::all(), &stop, &mut input, &mut output)?
        };
        Ok(Outcome { output: sink, finish })
    }

    /// Runs `case` on its input, collecting the whole outcome and obeying the [`Stop`]
    /// installed on this thread; a host error or a panic becomes the run's [`Failure`].
    fn run(&self, case: &RunCase) -> Run {
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut sink = Vec::new();
            let (finish, stats) = {
                let mut output = Output::new(&mut sink);
                let mut input = Input::from_bytes(&case.input);
                let (program, all, stop) = (&case.program, Parts::all(), Stop::current());
                self.stream(program, case.limits, all, &stop, &mut input, &mut output)?
            };
            Ok::<_, HostError>((Outcome { output: sink, finish }, stats.handovers))
        }));
        match result {
            Ok(Ok((outcome, handovers))) => Run { result: Ok(outcome), handovers },
            Ok(Err(e)) => Run { result: Err(e.into()), handovers: 0 },
            Err(payload) => {
                Run { result: Err(Failure::Panic(panic_message(payload))), handovers: 0 }
            }
        }
    }
}

impl fmt::Debug for dyn Engine + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Engine({})", self.name())
    }
}

impl fmt::Display for dyn Engine + '_ {
    /// The engine's name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// The text of a panic's payload.
pub fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

/// The reference interpreter (big integers, one instruction at a time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Interp;

impl Engine for Interp {
    fn name(&self) -> String {
        "interp".to_owned()
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
        let mut machine = crate::interp::Machine::new(program, limits);
        machine.record_reads = wanted.contains(Parts::TRANSCRIPT);
        let termination = machine.run(stop, input, output)?;
        let finish = machine.finish(termination);
        let heap_cells = Some(finish.heap.len() as u64);
        Ok((finish, RunStats { heap_cells, ..RunStats::default() }))
    }
}

/// The x86-64 JIT, with its options (with the `mutations` feature, a deliberate bug).
#[derive(Clone, Copy, Debug, Default)]
pub struct Jit {
    /// The options every run uses ([`crate::jit::Options::skip_final_heap`] and
    /// [`crate::jit::Options::skip_transcript`] are set per run
    /// from the parts wanted).
    pub options: crate::jit::Options,
}

impl Jit {
    /// The JIT's baseline tier (engine `jit-baseline`): the compiler without the optimising
    /// tier's passes, so the harness can compare the two tiers.
    pub fn baseline() -> Jit {
        Jit {
            options: crate::jit::Options { tier: crate::jit::Tier::Baseline, ..Default::default() },
        }
    }

    /// The JIT with `mutation` compiled in (`None`: the real JIT).
    #[cfg(feature = "mutations")]
    pub fn mutated(mutation: Option<crate::jit::Mutation>) -> Jit {
        Jit { options: crate::jit::Options { mutation, ..Default::default() } }
    }
}

impl Engine for Jit {
    fn name(&self) -> String {
        let base = match self.options.tier {
            crate::jit::Tier::Optimising => "jit",
            crate::jit::Tier::Baseline => "jit-baseline",
        };
        #[cfg(feature = "mutations")]
        if let Some(m) = self.options.mutation {
            return format!("{base}:mutate={m}");
        }
        base.to_owned()
    }

    fn unavailable(&self) -> Option<String> {
        crate::jit::unavailable()
    }

    fn cut_after(&self, index: usize) -> Option<Box<dyn Engine>> {
        let options = crate::jit::Options { cut_after: Some(index), ..self.options };
        Some(Box::new(Jit { options }))
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
        let options = crate::jit::Options {
            skip_final_heap: self.options.skip_final_heap || !wanted.contains(Parts::HEAP),
            skip_transcript: self.options.skip_transcript || !wanted.contains(Parts::TRANSCRIPT),
            ..self.options
        };
        let (finish, stats) =
            crate::jit::run_with_stop(program, limits, &options, stop, input, output)?;
        Ok((
            finish,
            RunStats {
                handovers: stats.handovers,
                compile_time: Some(stats.compile_time),
                heap_cells: Some(stats.heap_cells),
            },
        ))
    }
}

/// The engine names [`by_name`] knows, for messages.
pub const NAMES: &str = if cfg!(feature = "mutations") {
    "interp, jit, jit-baseline, jit:mutate=NAME, jit-baseline:mutate=NAME"
} else {
    "interp, jit, jit-baseline"
};

/// The engine with this name: `interp`, `jit` (the JIT's optimising tier), `jit-baseline`
/// (its baseline tier), or (with the `mutations` feature) `jit:mutate=NAME` and
/// `jit-baseline:mutate=NAME` for a tier with the deliberate bug `NAME` compiled in.
pub fn by_name(name: &str) -> Result<Arc<dyn Engine>, String> {
    match name {
        "interp" => Ok(Arc::new(Interp)),
        "jit" => Ok(Arc::new(Jit::default())),
        "jit-baseline" => Ok(Arc::new(Jit::baseline())),
        #[cfg(feature = "mutations")]
        _ if name.contains(":mutate=") => {
            let (tier, m) = name.split_once(":mutate=").expect("just seen");
            let tier = match tier {
                "jit" => crate::jit::Tier::Optimising,
                "jit-baseline" => crate::jit::Tier::Baseline,
                _ => return Err(format!("unknown engine `{name}` (one of: {NAMES})")),
            };
            let mutation = crate::jit::Mutation::from_name(m).ok_or_else(|| {
                let names: Vec<&str> = crate::jit::Mutation::ALL.iter().map(|m| m.name()).collect();
                format!("unknown mutation `{m}` (one of: {})", names.join(", "))
            })?;
            let mut jit = Jit::mutated(Some(mutation));
            jit.options.tier = tier;
            Ok(Arc::new(jit))
        }
        _ => Err(format!("unknown engine `{name}` (one of: {NAMES})")),
    }
}

/// Every engine of this crate, reference first: the interpreter and the JIT (its best tier;
/// `jit-baseline` is had by name, [`by_name`], or from [`Jit::baseline`]).
pub fn all() -> Vec<Arc<dyn Engine>> {
    vec![Arc::new(Interp), Arc::new(Jit::default())]
}

/// The engines that can run here, reference first.
pub fn available() -> Vec<Arc<dyn Engine>> {
    all().into_iter().filter(|e| e.unavailable().is_none()).collect()
}

/// The fastest engine available here: the JIT where it runs, else the interpreter.
pub fn fastest() -> Arc<dyn Engine> {
    let jit = Jit::default();
    if jit.unavailable().is_none() { Arc::new(jit) } else { Arc::new(Interp) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::Instruction;

    #[test]
    fn names_round_trip_and_unknown_names_say_what_is_known() {
        for engine in all() {
            assert_eq!(by_name(&engine.name()).unwrap().name(), engine.name());
        }
        assert_eq!(by_name("jit-baseline").unwrap().name(), "jit-baseline");
        #[cfg(feature = "mutations")]
        for name in ["jit-baseline:mutate=copy-off-by-one", "jit:mutate=copy-off-by-one"] {
            assert_eq!(by_name(name).unwrap().name(), name);
        }
        #[cfg(feature = "mutations")]
        assert!(by_name("interp:mutate=copy-off-by-one").is_err());
        let e = by_name("nope").unwrap_err();
        assert!(e.contains("unknown engine `nope`") && e.contains("interp"), "{e}");
    }

    #[test]
    fn failures_are_values() {
        let a: Failure = HostError::Unavailable("x".into()).into();
        assert_eq!(a, HostError::Unavailable("x".into()).into());
        assert_ne!(a, Failure::Panic("x".into()));
        assert_eq!(Failure::Panic("boom".into()).to_string(), "panicked: boom");
        let hang = Failure::Hang("no end within 2 s".into());
        assert_eq!(hang.to_string(), "the run hung: no end within 2 s");
        assert_ne!(hang, Failure::Crash("no end within 2 s".into()));
    }

    #[test]
    fn a_run_collects_output_and_finish() {
        let program = crate::syntax::canonical(vec![
            Instruction::Push(65.into()),
            Instruction::PrintC,
            Instruction::End,
        ]);
        let run = Interp.run(&RunCase::new(program, Vec::new(), Limits::DEFAULT));
        assert_eq!(run.result.unwrap().output, b"A");
    }
}
