//! Running a command line once per case, bounded in time and output, its process group
//! ended when it runs too long.
//!
//! A command is a template such as `wsc {}` or `python3 -m whitespace {}`: `{}` stands for the
//! path of a `.ws` file holding the case's program (it is appended when the template has
//! none). The case's input is the command's standard input; what it writes to standard output
//! is the program's output; its exit status and standard error say how it stopped.
//!
//! Invariant: [`Command::run`] always returns within its timeout plus the time the system takes
//! to end the process group, whatever the command does (it may never read its input, never
//! close its output, or start children of its own); it never holds more than
//! [`Command::max_output`] bytes of either stream.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A command that runs one program: its argument template and its bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// The program and its arguments; an argument `{}` (or containing `{}`) is replaced by
    /// the path of the program file.
    pub argv: Vec<String>,
    /// How long one run may take before its process group is killed.
    pub timeout: Duration,
    /// The most bytes kept of standard output and of standard error: a command that writes
    /// more is ended at once (its process group killed) and the run is marked truncated, so
    /// that a runaway printing loop costs no more than its cap.
    pub max_output: usize,
}

/// What one run of a command did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ran {
    /// How the process ended (`None` if it was killed, for running too long or writing too
    /// much).
    pub status: Option<ExitStatus>,
    /// Its standard output, at most `max_output` bytes.
    pub stdout: Vec<u8>,
    /// Its standard error, at most `max_output` bytes.
    pub stderr: Vec<u8>,
    /// Whether either stream was longer than `max_output`.
    pub truncated: bool,
    /// How long it ran.
    pub elapsed: Duration,
}

impl Ran {
    /// Whether the run was ended for taking longer than the timeout.
    pub fn timed_out(&self) -> bool {
        self.status.is_none() && !self.truncated
    }
}

impl Command {
    /// The default bound on one run's time.
    pub const TIMEOUT: Duration = Duration::from_secs(10);
    /// The default bound on each stream: 16 MiB.
    pub const MAX_OUTPUT: usize = 16 << 20;

    /// Parses a command line template: words separated by spaces, with `'...'` and `"..."`
    /// quoting (no other escapes). `{}` is appended when no word holds it.
    pub fn parse(template: &str) -> Result<Command, String> {
        let mut argv = Vec::new();
        let mut word: Option<String> = None;
        let mut quote = None;
        for c in template.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => word.get_or_insert_with(String::new).push(c),
                (None, '\'' | '"') => {
                    quote = Some(c);
                    word.get_or_insert_with(String::new);
                }
                (None, c) if c.is_whitespace() => argv.extend(word.take()),
                (None, c) => word.get_or_insert_with(String::new).push(c),
            }
        }
        if quote.is_some() {
            return Err(format!("unterminated quote in the command `{template}`"));
        }
        argv.extend(word);
        if argv.is_empty() {
            return Err("the command is empty".to_owned());
        }
        if !argv.iter().any(|w| w.contains("{}")) {
            argv.push("{}".to_owned());
        }
        Ok(Command { argv, timeout: Command::TIMEOUT, max_output: Command::MAX_OUTPUT })
    }

    /// The command line for the program file `path`.
    pub fn argv_for(&self, path: &Path) -> Vec<OsString> {
        let path = path.to_string_lossy();
        self.argv.iter().map(|w| OsString::from(w.replace("{}", &path))).collect()
    }

    /// Runs the command on the program file `path` with `input` on its standard input.
    ///
    /// An `Err` is a failure to start it (no such program, say); everything the command
    /// itself does, including crashing or hanging, is in the [`Ran`].
    pub fn run(&self, path: &Path, input: &[u8]) -> io::Result<Ran> {
        let argv = self.argv_for(path);
        let mut command = std::process::Command::new(&argv[0]);
        command.args(&argv[1..]);
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let started = Instant::now();
        let mut child = command.spawn()?;
        let mut stdin = child.stdin.take().expect("piped");
        let input = input.to_vec();
        // The command may never read its input, or stop reading early: a closed pipe is fine.
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let overflow = Arc::new(AtomicBool::new(false));
        let stdout = drain(child.stdout.take().expect("piped"), self.max_output, &overflow);
        let stderr = drain(child.stderr.take().expect("piped"), self.max_output, &overflow);
        let status = wait_bounded(&mut child, self.timeout, &overflow)?;
        let elapsed = started.elapsed();
        let _ = feeder.join();
        let (stdout, cut_out) = stdout.join().unwrap_or_default();
        let (stderr, cut_err) = stderr.join().unwrap_or_default();
        Ok(Ran { status, stdout, stderr, truncated: cut_out || cut_err, elapsed })
    }
}

/// Reads `stream` to its end on a thread, keeping at most `max` bytes; the flag says whether
/// there were more, and `overflow` is raised as soon as there are.
fn drain(
    mut stream: impl Read + Send + 'static,
    max: usize,
    overflow: &Arc<AtomicBool>,
) -> std::thread::JoinHandle<(Vec<u8>, bool)> {
    let overflow = Arc::clone(overflow);
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut cut = false;
        let mut chunk = [0u8; 1 << 16];
        loop {
            match stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    let room = max.saturating_sub(kept.len());
                    kept.extend_from_slice(&chunk[..n.min(room)]);
                    if n > room {
                        cut = true;
                        overflow.store(true, Ordering::SeqCst);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        (kept, cut)
    })
}

/// Waits for `child` at most `timeout`, or until `overflow` is raised; then ends its whole
/// process group (its own children too, which would otherwise keep the output pipes open) and
/// reaps it. `None` if it was ended for running too long or writing too much.
fn wait_bounded(
    child: &mut Child,
    timeout: Duration,
    overflow: &AtomicBool,
) -> io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    // Short sleeps at first, so that quick commands (most of them) cost little latency.
    let mut nap = Duration::from_micros(50);
    loop {
        if let Some(status) = child.try_wait()? {
            // Children it left behind must not keep running (or hold the pipes open).
            kill_group(child);
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline || overflow.load(Ordering::SeqCst) {
            kill_group(child);
            let _ = child.kill();
            child.wait()?;
            return Ok(None);
        }
        std::thread::sleep(nap.min(deadline - now));
        nap = (nap * 2).min(Duration::from_millis(5));
    }
}

/// Sends SIGKILL to the process group led by `child` (it was started as a group leader).
///
/// Without `unsafe` code outside the JIT there is no direct way to signal a group, so this
/// runs the system's `kill` command; if that is missing, only the child itself is ended.
fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    {
        let group = format!("-{}", child.id());
        let done = std::process::Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if done.is_ok() {
            return;
        }
    }
    let _ = child.kill();
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        Command {
            argv: vec!["sh".into(), "-c".into(), script.into(), "{}".into()],
            timeout: Duration::from_secs(5),
            max_output: 1 << 10,
        }
    }

    #[test]
    fn templates_parse_with_quotes_and_a_placeholder() {
        let c = Command::parse("wsc {}").unwrap();
        assert_eq!(c.argv, ["wsc", "{}"]);
        let c = Command::parse("python3 -m 'white space'").unwrap();
        assert_eq!(c.argv, ["python3", "-m", "white space", "{}"]);
        let c = Command::parse(r#"run --file="{}" -q"#).unwrap();
        assert_eq!(c.argv, ["run", "--file={}", "-q"]);
        assert!(Command::parse("  ").is_err());
        assert!(Command::parse("a 'b").is_err());
    }

    #[test]
    fn a_run_gives_output_status_and_stderr() {
        let ran = sh("cat; echo oops >&2; exit 3").run(Path::new("x.ws"), b"in").unwrap();
        assert_eq!(ran.stdout, b"in");
        assert_eq!(ran.stderr, b"oops\n");
        assert_eq!(ran.status.and_then(|s| s.code()), Some(3));
        assert!(!ran.truncated && !ran.timed_out());
    }

    #[test]
    fn output_is_capped_and_a_hang_is_ended_with_its_children() {
        let mut c = sh("yes");
        c.timeout = Duration::from_millis(300);
        let ran = c.run(Path::new("x.ws"), b"").unwrap();
        // `yes` never stops: writing more than the cap ends it, and only 1 KiB is kept.
        assert!(!ran.timed_out());
        assert!(ran.truncated && ran.status.is_none());
        assert_eq!(ran.stdout.len(), 1 << 10);
        // A child that outlives its shell and holds the pipe open is ended with the group.
        let mut c = sh("sleep 30 & echo started; wait");
        c.timeout = Duration::from_millis(300);
        let ran = c.run(Path::new("x.ws"), b"").unwrap();
        assert!(ran.timed_out());
        assert_eq!(ran.stdout, b"started\n");
    }

    #[test]
    fn a_command_that_ignores_its_input_does_not_block() {
        let big = vec![b'x'; 4 << 20];
        let ran = sh("echo done").run(Path::new("x.ws"), &big).unwrap();
        assert_eq!(ran.stdout, b"done\n");
    }
}
