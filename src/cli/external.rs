//! External engines on the command line: `--engine` values beyond the engines of this crate
//! (`cmd:COMMAND {}` or a name in `twinspace.toml`), `run` on one of them, several engines at
//! once (`fuzz --engine A --engine B`, a [`Panel`]) and a third opinion (`--third C`).
//!
//! Fuzzing with an external engine or a panel runs in this process (no supervising child):
//! an external engine cannot crash twinspace, every run of one is bounded by its timeout, and
//! a killed child would leave its commands' process groups behind.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use twinspace::Program;
use twinspace::engine::{self, Engine, RunCase};
use twinspace::external::{ExternalEngine, Member, Opinion, Panel, Stopped, third_opinion};
use twinspace::outcome::Parts;
use twinspace::syntax::print_ws;

use super::CliExit;
use super::out::{errln, outln, write_stdout_bytes};

/// The flags that shape external engines (`fuzz`, `diff`, `shrink`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ExternalArgs {
    /// For `cmd:` engines: the pattern by which standard error names a trap kind, e.g.
    /// `error: {kind}` (`{kind}` is a SEMANTICS.md trap code). Without it only "ended or
    /// trapped" is compared.
    #[arg(long, value_name = "PATTERN")]
    pub trap: Option<String>,
    /// For `cmd:` engines: seconds one run may take before its process group is killed.
    #[arg(long, value_name = "SECS", value_parser = parse_positive_seconds)]
    pub engine_timeout: Option<f64>,
    /// (fuzz) A slow third engine, run only on a case where two engines disagree, to say
    /// which side it takes.
    #[arg(long, value_name = "ENGINE", value_parser = check_spec)]
    pub third: Option<String>,
}

impl ExternalArgs {
    /// These flags as they would be typed again.
    pub fn flags(&self) -> Vec<String> {
        let mut words = Vec::new();
        if let Some(t) = &self.trap {
            words.extend(["--trap".to_owned(), t.clone()]);
        }
        if let Some(t) = self.engine_timeout {
            words.extend(["--engine-timeout".to_owned(), t.to_string()]);
        }
        if let Some(t) = &self.third {
            words.extend(["--third".to_owned(), t.clone()]);
        }
        words
    }
}

pub(super) fn parse_positive_seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 1e6 => Ok(s),
        _ => Err(format!("`{text}` is not a number of seconds above 0")),
    }
}

/// Whether `spec` names an engine of this crate ([`engine::by_name`]).
pub fn is_builtin(spec: &str) -> bool {
    engine::by_name(spec).is_ok()
}

/// Checks an `--engine` value: an engine of this crate, `cmd:COMMAND {}`, or a name in
/// ./twinspace.toml. Kept as text, since `--trap` and `--engine-timeout` shape it later.
pub fn check_spec(text: &str) -> Result<String, String> {
    if is_builtin(text) {
        return Ok(text.to_owned());
    }
    ExternalEngine::from_spec(text)
        .map(|_| text.to_owned())
        .map_err(|e| format!("{e} (engines of twinspace: {})", engine::NAMES))
}

/// An external engine from its spec; `trap` and `timeout` apply to it (a configured one has
/// its own settings, which they override when given).
pub fn external_engine(
    spec: &str,
    trap: Option<&str>,
    timeout: Option<f64>,
) -> Result<ExternalEngine, String> {
    let mut engine = ExternalEngine::from_spec(spec)?;
    if let Some(t) = trap {
        engine = engine.with_trap(t)?;
    }
    if let Some(t) = timeout {
        engine.command.timeout = Duration::from_secs_f64(t);
    }
    Ok(engine)
}

/// The engine `spec` names, as a panel member: an external one probed (so that a typo is one
/// message, not a failure per case), a built-in one checked to run here.
pub fn member(spec: &str, flags: &ExternalArgs) -> Result<Member, String> {
    if let Ok(e) = engine::by_name(spec) {
        if let Some(why) = e.unavailable() {
            return Err(format!("{e} cannot run here ({why}); there is nothing to compare"));
        }
        return Ok(Member::Builtin(e));
    }
    let e = external_engine(spec, flags.trap.as_deref(), flags.engine_timeout)?;
    e.probe().map_err(|why| format!("engine `{spec}`: {why}"))?;
    Ok(Member::External(Arc::new(e)))
}

/// The engines a harness command tests.
pub(super) struct Subjects {
    /// What the harness runs against the reference: the one engine, or the panel.
    pub engine: Arc<dyn Engine>,
    /// The panel, when more than one engine is compared.
    pub panel: Option<Arc<Panel>>,
    /// The one engine under test (the first member of a panel).
    pub member: Member,
    /// The third engine, asked only about a mismatch.
    pub third: Option<Member>,
}

impl Subjects {
    /// `specs` (none: `default`) against the reference, each on what it shows.
    pub fn new(
        specs: &[String],
        flags: &ExternalArgs,
        parts: Parts,
        default: Arc<dyn Engine>,
    ) -> Result<Subjects, CliExit> {
        let fail = |e: String| {
            errln!("twinspace: {e}");
            CliExit::HostError
        };
        let third = flags.third.as_deref().map(|t| member(t, flags)).transpose().map_err(fail)?;
        let mut members = Vec::new();
        for spec in specs {
            // The reference is always in a panel: `interp` among others adds nothing.
            if spec == "interp" && specs.len() > 1 {
                continue;
            }
            members.push(member(spec, flags).map_err(fail)?);
        }
        if members.is_empty() {
            if let Some(why) = default.unavailable() {
                return Err(fail(format!(
                    "{default} cannot run here ({why}); there is nothing to compare"
                )));
            }
            members.push(Member::Builtin(default));
        }
        let first = members[0].clone();
        // A panel also for one external engine: its table counts the cases not applicable.
        if members.len() == 1 && matches!(first, Member::Builtin(_)) {
            return Ok(Subjects { engine: first.engine(), panel: None, member: first, third });
        }
        let panel = Arc::new(Panel::new(members, parts));
        let engine = Arc::clone(&panel) as Arc<dyn Engine>;
        Ok(Subjects { engine, panel: Some(panel), member: first, third })
    }

    /// The member that disagrees with the reference on `case` (the one engine without a
    /// panel), or `None` when they all agree.
    pub fn culprit(&self, case: &RunCase) -> Option<Member> {
        match &self.panel {
            Some(panel) => panel.culprit(case).map(|(m, _)| m.clone()),
            None => Some(self.member.clone()),
        }
    }

    /// Prints what the third engine says about `case`, on which the reference and `culprit`
    /// disagree.
    pub fn print_third_opinion(&self, case: &RunCase, culprit: &Member, parts: Parts) {
        let Some(third) = &self.third else { return };
        let theirs = culprit.engine();
        let opinion = match third_opinion(case, &*theirs, third, parts) {
            Opinion::WithReference => "agrees with interp".to_owned(),
            Opinion::WithMember => format!("agrees with {theirs}"),
            Opinion::WithNeither => "agrees with neither".to_owned(),
            Opinion::NotApplicable => "cannot be compared on this case (a limit)".to_owned(),
        };
        outln!("third opinion: {} {opinion} on the shrunk case", third.engine());
    }
}

/// A note for a report about an external engine: what was and was not compared.
pub fn comparison_note(member: &Member) -> Option<String> {
    match member {
        Member::External(e) => Some(format!(
            "{} shows {}; not compared: {} (its parts shown in this report but not listed \
             are the reference's)",
            e.name,
            e.shown(),
            e.not_compared()
        )),
        Member::Builtin(_) => None,
    }
}

/// `twinspace run --engine cmd:...`: the program on an external engine, its output written as
/// it ended, exit 0 (ended), 1 (an error exit) or 4 (no verdict: timeout, crash, cannot run).
/// No limit applies (an external engine cannot be given one), and it does not stream: its
/// output is written when it stops.
pub fn run_external(engine: &ExternalEngine, program: &Program, input: Option<&Path>) -> ExitCode {
    let bytes = match input {
        Some(p) if p.as_os_str() != "-" => match std::fs::read(p) {
            Ok(b) => b,
            Err(e) => {
                errln!("twinspace: {}", super::input_file_message(p, &e));
                return CliExit::HostError.into();
            }
        },
        _ => {
            let mut b = Vec::new();
            if let Err(e) = std::io::stdin().lock().read_to_end(&mut b) {
                errln!("twinspace: cannot read standard input: {e}");
                return CliExit::HostError.into();
            }
            b
        }
    };
    let observed = engine.observe(&print_ws(program), &bytes);
    write_stdout_bytes(&observed.output);
    let _ = std::io::stderr().write_all(&observed.stderr);
    match observed.stopped {
        Stopped::Ended => CliExit::Ok.into(),
        Stopped::Trapped(kind) => {
            if let Some(k) = kind {
                errln!("twinspace: {} stopped with an error: {k}", engine.name);
            }
            CliExit::Trapped.into()
        }
        Stopped::Failed(why) => {
            errln!("twinspace: {}: {why}", engine.name);
            CliExit::HostError.into()
        }
    }
}

/// The `conform` target `spec` names.
pub fn conform_target(
    spec: &str,
    trap: Option<&str>,
    timeout: Option<f64>,
) -> Result<twinspace::conform::Target, String> {
    use twinspace::conform::Target;
    match engine::by_name(spec) {
        Ok(e) => Ok(Target::Builtin(e)),
        Err(_) => external_engine(spec, trap, timeout).map(|e| Target::External(Arc::new(e))),
    }
}
