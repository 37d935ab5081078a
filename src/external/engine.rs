//! An external engine: a [`Command`] and what its runs can show, declared by the user.
//!
//! Every external engine shows its **output** (standard output) and whether the program
//! **ended or stopped with an error** (exit status 0, or anything else). With a trap pattern
//! (`trap = "error: {kind}"`), a line of standard error matching it also names the **trap
//! kind** by its SEMANTICS.md code. Nothing else is observable: the trapping instruction's
//! index, the final stack and heap, the executed count and the transcript (its input is a
//! whole file and its output is collected, so when its output left it relative to its reads
//! cannot be seen) are never compared, and no limit (fuel, stack, heap, value size) can be
//! given to it.
//!
//! **As an [`Engine`].** [`ExternalEngine`] implements [`Engine::run`] directly and declares
//! [`Engine::capabilities`] = output and termination, so a comparison never looks at the
//! stack, the heap, the executed count or the transcript. Termination ([`Parts::TERMINATION`]) is one part in
//! twinspace (ended, or the trap's kind *and* index), finer than what a command shows (ended
//! or an error exit, the kind only with a trap pattern); so, as the branch's adapter did, a run
//! first runs the reference ([`Interp`]) and takes from its outcome what the command cannot
//! show: the trap's index and position, the kind when no pattern names one, and the stack,
//! heap, executed count and transcript (never compared, kept so that reports show whole
//! outcomes). A
//! comparison on any parts therefore differs exactly where the shown parts differ. A case on
//! which the reference stops at a limit, or fails, is not applicable ([`applicable`]): the
//! run *is* the reference's (they agree). [`Engine::stream`] is not supported: it returns
//! [`HostError::Unavailable`] saying so (`twinspace run` uses [`ExternalEngine::observe`]).
//!
//! Invariant: [`ExternalEngine::observe`] returns within the command's timeout (plus the time
//! to end its process group), whatever the command does; a crash, a hang or an oversized output
//! is an [`Stopped::Failed`] observation, never a panic or a hang of twinspace.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use super::command::Command;
use super::config::{EngineConfig, parse_config};
use crate::engine::{Engine, Failure, Interp, Run, RunCase};
use crate::limits::Limits;
use crate::outcome::{HostError, Outcome, Parts, Termination, TrapKind};
use crate::program::Program;
use crate::syntax::print_ws;

/// How a run of an external engine stopped, as far as it can tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Exit status 0.
    Ended,
    /// Another exit status: a trap (or a parse error), with its kind when the engine's trap
    /// pattern found one on standard error.
    Trapped(Option<TrapKind>),
    /// No verdict: it could not be started, was killed by a signal, ran past its timeout, or
    /// wrote more than its output cap. The text says which.
    Failed(String),
}

/// What one run of an external engine showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// Its standard output.
    pub output: Vec<u8>,
    /// How it stopped.
    pub stopped: Stopped,
    /// Its standard error (at most the output cap), for reports.
    pub stderr: Vec<u8>,
    /// How long it took.
    pub elapsed: Duration,
}

/// Where a trap kind stands on standard error: the text before and after `{kind}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrapPattern {
    before: String,
    after: String,
}

impl TrapPattern {
    /// Parses `error: {kind}` (the text around `{kind}` must appear literally, on one line).
    pub fn parse(pattern: &str) -> Result<TrapPattern, String> {
        let (before, after) = pattern
            .split_once("{kind}")
            .ok_or_else(|| format!("the trap pattern `{pattern}` holds no `{{kind}}`"))?;
        Ok(TrapPattern { before: before.to_owned(), after: after.to_owned() })
    }

    /// The first trap kind that `stderr` names by this pattern.
    pub fn find(&self, stderr: &[u8]) -> Option<TrapKind> {
        let text = String::from_utf8_lossy(stderr);
        for line in text.lines() {
            let mut from = 0;
            while let Some(at) = line[from..].find(&self.before) {
                let start = from + at + self.before.len();
                let code: String = line[start..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '-')
                    .collect();
                let rest = &line[start + code.len()..];
                if let Some(kind) = TrapKind::from_code(&code) {
                    if rest.starts_with(&self.after) {
                        return Some(kind);
                    }
                }
                from = start.max(from + at + 1);
                if from > line.len() {
                    break;
                }
                while !line.is_char_boundary(from) {
                    from += 1;
                }
            }
        }
        None
    }
}

/// An engine that is another program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalEngine {
    /// How it is named on the command line and in reports: `cmd:TEMPLATE` or a configured name.
    pub name: String,
    /// The command and its bounds.
    pub command: Command,
    /// How its standard error names a trap kind, if it does.
    pub trap: Option<TrapPattern>,
}

/// The configuration file looked for in the current directory.
pub const CONFIG_FILE: &str = "twinspace.toml";

impl ExternalEngine {
    /// `cmd:TEMPLATE`, or the name of an engine in `twinspace.toml` of the current directory.
    pub fn from_spec(spec: &str) -> Result<ExternalEngine, String> {
        if let Some(template) = spec.strip_prefix("cmd:") {
            let command = Command::parse(template)?;
            return Ok(ExternalEngine { name: spec.to_owned(), command, trap: None });
        }
        let text = match std::fs::read_to_string(CONFIG_FILE) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!(
                    "unknown engine `{spec}`: not interp or jit, not `cmd:COMMAND {{}}`, and there \
                     is no {CONFIG_FILE} here to name it"
                ));
            }
            Err(e) => return Err(format!("cannot read {CONFIG_FILE}: {e}")),
        };
        let engines = parse_config(&text).map_err(|e| format!("{CONFIG_FILE}: {e}"))?;
        let config = engines.into_iter().find(|e| e.name == spec).ok_or_else(|| {
            format!("unknown engine `{spec}`: {CONFIG_FILE} has no [engine.{spec}]")
        })?;
        ExternalEngine::from_config(&config)
    }

    /// The engine of one configuration table.
    pub fn from_config(config: &EngineConfig) -> Result<ExternalEngine, String> {
        let mut command = Command::parse(&config.command)?;
        if let Some(t) = config.timeout {
            command.timeout = t;
        }
        if let Some(m) = config.max_output {
            command.max_output = m;
        }
        let trap = config.trap.as_deref().map(TrapPattern::parse).transpose()?;
        Ok(ExternalEngine { name: config.name.clone(), command, trap })
    }

    /// With a trap pattern (`trap: {kind}` for twinspace's own `run`).
    pub fn with_trap(mut self, pattern: &str) -> Result<ExternalEngine, String> {
        self.trap = Some(TrapPattern::parse(pattern)?);
        Ok(self)
    }

    /// Whether its runs can name a trap kind.
    pub fn shows_kind(&self) -> bool {
        self.trap.is_some()
    }

    /// What its runs show, for reports: `output, ended or trapped, trap kind`.
    pub fn shown(&self) -> &'static str {
        if self.shows_kind() {
            "output, ended or trapped, trap kind"
        } else {
            "output, ended or trapped"
        }
    }

    /// What is never compared for it, for reports.
    pub fn not_compared(&self) -> &'static str {
        if self.shows_kind() {
            "trap index, stack, heap, executed count, transcript"
        } else {
            "trap kind, trap index, stack, heap, executed count, transcript"
        }
    }

    /// Runs the program `source` (Whitespace bytes, written to a temporary `.ws` file) with
    /// `input` on standard input.
    pub fn observe(&self, source: &[u8], input: &[u8]) -> Observation {
        let failed = |why: String| Observation {
            output: Vec::new(),
            stopped: Stopped::Failed(why),
            stderr: Vec::new(),
            elapsed: Duration::ZERO,
        };
        let file = tempfile::Builder::new().prefix("twinspace-").suffix(".ws").tempfile();
        let mut file = match file {
            Ok(f) => f,
            Err(e) => return failed(format!("cannot write the program file: {e}")),
        };
        if let Err(e) = file.write_all(source).and_then(|()| file.flush()) {
            return failed(format!("cannot write the program file: {e}"));
        }
        self.observe_file(file.path(), input)
    }

    /// Runs the program file `path` with `input` on standard input.
    pub fn observe_file(&self, path: &Path, input: &[u8]) -> Observation {
        let ran = match self.command.run(path, input) {
            Ok(ran) => ran,
            Err(e) => {
                return Observation {
                    output: Vec::new(),
                    stopped: Stopped::Failed(format!("cannot run `{}`: {e}", self.command.argv[0])),
                    stderr: Vec::new(),
                    elapsed: Duration::ZERO,
                };
            }
        };
        let stopped = match ran.status {
            _ if ran.truncated => Stopped::Failed(format!(
                "wrote more than {} bytes to an output stream",
                self.command.max_output
            )),
            None => Stopped::Failed(format!(
                "ran longer than its timeout of {:.1} s and was killed",
                self.command.timeout.as_secs_f64()
            )),
            Some(status) if status.success() => Stopped::Ended,
            Some(status) => match status.code() {
                Some(_) => Stopped::Trapped(self.trap.as_ref().and_then(|p| p.find(&ran.stderr))),
                None => Stopped::Failed(format!("was killed by a signal ({status})")),
            },
        };
        Observation { output: ran.stdout, stopped, stderr: ran.stderr, elapsed: ran.elapsed }
    }

    /// Checks that the command can be started at all (on a program of one `end`): `Err` with
    /// the reason when it cannot, so that a typo is one message, not a failure per case.
    pub fn probe(&self) -> Result<(), String> {
        let end = print_ws(&crate::syntax::canonical(vec![crate::program::Instruction::End]));
        match self.observe(&end, b"").stopped {
            Stopped::Failed(why) if why.starts_with("cannot") => Err(why),
            _ => Ok(()),
        }
    }

    /// Runs `case` on the command, beside the reference's run of it (see the module docs):
    /// the reference's run itself when the case is not applicable.
    pub fn run_beside(&self, case: &RunCase, reference: &Run) -> Run {
        let Ok(expected) = &reference.result else { return reference.clone() };
        if !applicable(reference) {
            return reference.clone();
        }
        // Output far longer than the reference's already differs: the run is ended there, so
        // that a runaway loop costs little (a shrinker may try it hundreds of times).
        let cap = expected.output.len().saturating_mul(2).max(expected.output.len() + (64 << 10));
        let observed = if cap < self.command.max_output {
            let mut engine = self.clone();
            engine.command.max_output = cap;
            engine.observe(&print_ws(&case.program), &case.input)
        } else {
            self.observe(&print_ws(&case.program), &case.input)
        };
        Run { result: outcome_beside(expected, observed), handovers: 0 }
    }
}

/// Whether a trap of this kind comes from a limit of the run (SEMANTICS.md §3), which an
/// external engine cannot be given.
pub fn limit_trap(kind: TrapKind) -> bool {
    matches!(
        kind,
        TrapKind::OutOfFuel
            | TrapKind::StackOverflow
            | TrapKind::CallStackOverflow
            | TrapKind::HeapOverflow
            | TrapKind::ValueTooLarge
            | TrapKind::MemoryOverflow
    )
}

/// Whether a case whose reference run is `reference` can be compared with an external
/// engine: the reference gave an outcome, and did not stop at a limit.
pub fn applicable(reference: &Run) -> bool {
    match &reference.result {
        Ok(o) => !o.finish.termination.trap().is_some_and(|t| limit_trap(t.kind)),
        Err(_) => false,
    }
}

/// The outcome of an external run: what it showed, the rest from `expected` (the reference's
/// outcome, or another engine's that the run is compared with). A run that failed (no
/// verdict) is a [`Failure::Crash`] when a signal ended it, else a [`Failure::Host`]; an error exit where `expected` ended has no trap to
/// build and is a [`Failure::Host`] naming it.
pub fn outcome_beside(expected: &Outcome, observed: Observation) -> Result<Outcome, Failure> {
    let mut finish = expected.finish.clone();
    match observed.stopped {
        Stopped::Failed(why) => {
            let err = stderr_excerpt(&observed.stderr);
            let why = if err.is_empty() { why } else { format!("{why}; stderr: {err}") };
            // "was killed by a signal": a crash; the rest (a timeout, too much output, a
            // command that cannot start) are failures of the run, as the host's are.
            return Err(match why.strip_prefix("was ") {
                Some(how) => Failure::Crash(how.to_owned()),
                None => Failure::Host(format!("the command {why}")),
            });
        }
        Stopped::Ended => finish.termination = Termination::Ended,
        Stopped::Trapped(kind) => match &mut finish.termination {
            Termination::Trapped(t) => t.kind = kind.unwrap_or(t.kind),
            Termination::Ended => {
                let named = kind.map_or(String::new(), |k| format!(", naming {k}"));
                return Err(Failure::Host(format!(
                    "stopped with an error{named} where the reference ended (stderr: {})",
                    stderr_excerpt(&observed.stderr)
                )));
            }
        },
    }
    Ok(Outcome { output: observed.output, finish })
}

impl Engine for ExternalEngine {
    fn name(&self) -> String {
        self.name.clone()
    }

    /// Output and termination (ended or trapped, and the kind with a trap pattern; the rest
    /// of a termination is the reference's, see the module docs).
    fn capabilities(&self) -> Parts {
        Parts::OUTPUT | Parts::TERMINATION
    }

    fn run_bytes(
        &self,
        program: &Program,
        limits: Limits,
        input: &[u8],
    ) -> Result<Outcome, HostError> {
        let case = RunCase::new(program.clone(), input.to_vec(), limits);
        self.run(&case).result.map_err(|f| HostError::Unavailable(f.to_string()))
    }

    fn run(&self, case: &RunCase) -> Run {
        self.run_beside(case, &Interp.run(case))
    }
}

/// The first line of standard error, shortened, for messages.
pub fn stderr_excerpt(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    let mut short: String = line.chars().take(160).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    short
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::io::{Input, Output};
    use crate::stop::Stop;

    fn sh(script: &str) -> ExternalEngine {
        let mut command = Command::parse("sh -c").unwrap();
        command.argv = vec!["sh".into(), "-c".into(), script.into(), "{}".into()];
        command.timeout = Duration::from_secs(5);
        ExternalEngine { name: "sh".into(), command, trap: None }
    }

    #[test]
    fn a_trap_pattern_finds_a_known_code_in_context() {
        let p = TrapPattern::parse("error: {kind}").unwrap();
        assert_eq!(
            p.find(b"x\nerror: nonsense\nerror: division-by-zero at 3\n"),
            Some(TrapKind::DivisionByZero)
        );
        assert_eq!(p.find(b"error: nonsense"), None);
        let p = TrapPattern::parse("[{kind}]").unwrap();
        assert_eq!(p.find(b"boom [end-of-input] x"), Some(TrapKind::EndOfInput));
        assert_eq!(p.find(b"boom [end-of-input x"), None);
        assert!(TrapPattern::parse("nothing").is_err());
    }

    #[test]
    fn statuses_become_endings_and_failures() {
        let e = sh("cat; exit 0");
        let o = e.observe(b"", b"hi");
        assert_eq!((o.output, o.stopped), (b"hi".to_vec(), Stopped::Ended));
        let e =
            sh("echo 'trap: stack-underflow at 2' >&2; exit 1").with_trap("trap: {kind}").unwrap();
        assert_eq!(e.observe(b"", b"").stopped, Stopped::Trapped(Some(TrapKind::StackUnderflow)));
        assert_eq!(sh("exit 3").observe(b"", b"").stopped, Stopped::Trapped(None));
        assert!(matches!(sh("kill -9 $$").observe(b"", b"").stopped, Stopped::Failed(_)));
        let mut slow = sh("sleep 5");
        slow.command.timeout = Duration::from_millis(200);
        assert!(
            matches!(slow.observe(b"", b"").stopped, Stopped::Failed(w) if w.contains("timeout"))
        );
        let missing = ExternalEngine::from_spec("cmd:/nonexistent/ws {}").unwrap();
        assert!(missing.probe().unwrap_err().contains("cannot run"));
    }

    #[test]
    fn as_an_engine_it_shows_output_and_ending_and_borrows_the_rest() {
        use crate::program::Instruction;
        let program = crate::syntax::canonical(vec![
            Instruction::Push(65.into()),
            Instruction::PrintC,
            Instruction::Add,
        ]);
        let case = RunCase::new(program, Vec::new(), Limits::DEFAULT);
        let reference = Interp.run(&case).result.unwrap();
        // It prints `A` and names the trap: the index is the reference's.
        let right = sh("printf A; echo 'trap: stack-underflow' >&2; exit 1")
            .with_trap("trap: {kind}")
            .unwrap();
        assert_eq!(right.capabilities(), Parts::OUTPUT | Parts::TERMINATION);
        assert!(!right.capabilities().contains(Parts::TRANSCRIPT), "not shown by a command");
        assert_eq!(right.run(&case).result.unwrap(), reference);
        // It ends where the reference traps: the termination differs, nothing else.
        let ended = sh("printf A").run(&case).result.unwrap();
        assert_eq!(Parts::all().differing(&reference, &ended), Parts::TERMINATION);
        // It cannot stream.
        assert!(right.run_bytes(&case.program, Limits::DEFAULT, b"").is_ok());
        let mut sink = Vec::new();
        let streamed = right.stream(
            &case.program,
            Limits::DEFAULT,
            Parts::all(),
            &Stop::current(),
            &mut Input::from_bytes(b""),
            &mut Output::new(&mut sink),
        );
        assert!(matches!(streamed, Err(HostError::Unavailable(_))));
        // A limit's trap is not applicable: the run is the reference's.
        let fuel = RunCase::new(case.program.clone(), Vec::new(), Limits::DEFAULT.with_fuel(1));
        assert_eq!(sh("exit 0").run(&fuel), Interp.run(&fuel));
    }

    #[test]
    fn the_program_file_holds_the_source() {
        let o = sh("cat \"$0\"").observe(b" \t\n", b"");
        assert_eq!(o.output, b" \t\n");
    }
}
