//! `twinspace conform ENGINE`: the conformance suite and the corpus against one engine, with
//! a table of passed, failed and not applicable items per topic, each failure's diff and
//! the command that re-runs it; JSON and JUnit XML for CI systems.
//!
//! Exit codes: 0 everything applicable passed, 5 something failed, 4 the engine cannot be
//! started or the suite cannot be read, 2 bad usage (no item matches the filters).

use std::path::PathBuf;
use std::process::ExitCode;

use twinspace::conform::{self, Target, report};

use super::CliExit as Exit;
use super::external::{conform_target, parse_positive_seconds};
use super::out::{errln, outln};
use super::rerun::CommandLine;

/// How `conform` writes its results on standard output.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Failures with diffs, then a table.
    Text,
    /// One JSON document.
    Json,
}

/// Arguments of `twinspace conform`.
#[derive(clap::Args, Debug)]
pub struct ConformArgs {
    /// The engine: `interp`, `jit` (`jit:mutate=NAME` with the `mutations` feature),
    /// `cmd:COMMAND {}` (`{}` is the program file) or the name of an `[engine.NAME]` in
    /// ./twinspace.toml.
    pub engine: String,
    /// Run only the items whose id (`FILE::CASE`, e.g. `stack::dup`, or
    /// `corpus/programs::hello`) contains this text (repeatable: any of them).
    #[arg(long, value_name = "TEXT")]
    pub filter: Vec<String>,
    /// The directory holding `conformance/` and `corpus/` (default: the project's own).
    #[arg(long, value_name = "DIR")]
    pub suite: Option<PathBuf>,
    /// The output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Also write a JUnit XML report to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// For a `cmd:` engine: the pattern by which its standard error names a trap kind, e.g.
    /// `error: {kind}`. Without it, only "ended or trapped" is compared.
    #[arg(long, value_name = "PATTERN")]
    pub trap: Option<String>,
    /// For a `cmd:` engine: seconds one run may take before its process group is killed.
    #[arg(long, value_name = "SECS", value_parser = parse_positive_seconds)]
    pub timeout: Option<f64>,
    /// Items run at once (default: one per core).
    #[arg(long, short = 'j', value_name = "J")]
    pub jobs: Option<usize>,
}

impl ConformArgs {
    /// The command that re-runs the item `id` alone.
    fn rerun(&self, id: &str) -> String {
        let mut c = CommandLine::twinspace("conform").arg(&self.engine).arg("--filter").arg(id);
        if let Some(dir) = &self.suite {
            c = c.arg("--suite").arg(dir);
        }
        if let Some(t) = &self.trap {
            c = c.arg("--trap").arg(t);
        }
        if let Some(t) = self.timeout {
            c = c.arg("--timeout").arg(t.to_string());
        }
        c.render()
    }
}

/// Runs `twinspace conform`.
pub fn conform(args: ConformArgs) -> ExitCode {
    let target = match conform_target(&args.engine, args.trap.as_deref(), args.timeout) {
        Ok(t) => t,
        Err(e) => {
            errln!("twinspace: {e}");
            return Exit::Usage.into();
        }
    };
    if let Target::External(e) = &target {
        if let Err(why) = e.probe() {
            errln!("twinspace: engine `{}`: {why}", args.engine);
            return Exit::HostError.into();
        }
    }
    let root = args.suite.clone().unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let items = match conform::load(&root) {
        Ok(items) => items,
        Err(e) => {
            errln!(
                "twinspace: the suite in {}: {e} (give its directory with --suite)",
                root.display()
            );
            return Exit::HostError.into();
        }
    };
    let items: Vec<_> = items
        .into_iter()
        .filter(|i| args.filter.is_empty() || args.filter.iter().any(|f| i.id.contains(f.as_str())))
        .collect();
    if items.is_empty() {
        errln!("twinspace: no item of the suite matches the filter");
        return Exit::Usage.into();
    }
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let outcomes = conform::run_all(items, &target, jobs);
    let rerun = |id: &str| args.rerun(id);
    match args.format {
        Format::Text => outln!("{}", report::text(&outcomes, &target, &rerun).trim_end()),
        Format::Json => outln!("{}", report::json(&outcomes, &target, &rerun).trim_end()),
    }
    if let Some(path) = &args.junit {
        if let Err(e) = std::fs::write(path, report::junit(&outcomes, &target, &rerun)) {
            errln!("twinspace: cannot write {}: {}", path.display(), super::io_message(&e));
            return Exit::HostError.into();
        }
    }
    let (_, total) = report::counts(&outcomes);
    if total.failed > 0 { Exit::Mismatch.into() } else { Exit::Ok.into() }
}
