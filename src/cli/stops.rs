//! What the commands that run programs share about stopping: the `--timeout` flag, SIGINT and
//! SIGTERM turned into a stop request, the exit code of a stopped run, and standard input that
//! a stop can interrupt.
//!
//! A command makes one [`Stop`] for its work ([`Stopping::start`]) and installs it on its
//! thread, so every engine run it makes obeys it. Engines notice a request at their check
//! points; a run blocked reading standard input cannot, so [`StdinWatch`] ends the process
//! itself in that case (its output was flushed before the read, so nothing is lost).

use std::io::{self, Read};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use twinspace::Stop;
use twinspace::stop::{Installed, Timer};
use twinspace::{HostError, StopCause};

use super::CliExit;

/// `--timeout SECS`: a positive, finite number of seconds (fractions allowed).
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let secs: f64 =
        text.trim().parse().map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(secs.is_finite() && secs > 0.0) {
        return Err(format!(
            "the timeout must be a positive, finite number of seconds, not `{text}`"
        ));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("`{text}` seconds is too long a timeout"))
}

/// The stop of one command: signals and its timeout, installed on the command's thread.
pub struct Stopping {
    /// The request every run of the command obeys.
    pub stop: Stop,
    _timer: Option<Timer>,
    _installed: Installed,
}

impl Stopping {
    /// Makes SIGINT, SIGTERM and (if given) the timeout request a stop of this command's runs.
    pub fn start(timeout: Option<Duration>) -> Stopping {
        let stop = Stop::new();
        if let Err(e) = stop.on_signals() {
            eprintln!("twinspace: warning: cannot handle SIGINT and SIGTERM: {e}");
        }
        let timer = timeout.map(|t| stop.after(t));
        let installed = stop.install();
        Stopping { stop, _timer: timer, _installed: installed }
    }
}

/// The exit code of a run stopped by `cause`: 128 + the signal number (130 for SIGINT, 143 for
/// SIGTERM), as a shell reports a process killed by it; a timeout is a host error (4).
pub fn exit_code(cause: StopCause) -> ExitCode {
    match cause {
        StopCause::Signal(n) => ExitCode::from((128 + n.clamp(1, 127)) as u8),
        StopCause::Timeout(_) => CliExit::HostError.into(),
    }
}

/// The error as the run saw it, or the stop it really was: a read that a stop interrupted
/// ([`StdinWatch`]) fails as an i/o error at its instruction.
pub fn as_stopped(error: HostError, stop: &Stop) -> HostError {
    match (stop.requested(), &error) {
        (Some(cause), HostError::IoAt { index, .. }) => HostError::Stopped { index: *index, cause },
        _ => error,
    }
}

/// Standard input (or any source) that a stop interrupts: a read that starts after the request
/// fails, and a read already blocked when it comes ends the process (see the module docs).
pub struct StdinWatch<R> {
    inner: R,
    stop: Stop,
    reading: Arc<AtomicBool>,
}

impl<R: Read> StdinWatch<R> {
    /// Watches reads from `inner` on behalf of `stop`.
    pub fn new(inner: R, stop: &Stop) -> StdinWatch<R> {
        let reading = Arc::new(AtomicBool::new(false));
        let (watched, flag) = (stop.clone(), Arc::clone(&reading));
        std::thread::Builder::new()
            .name("twinspace-stdin-watch".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_millis(20));
                    if let Some(cause) = watched.requested() {
                        if flag.load(Ordering::SeqCst) {
                            eprintln!("twinspace: {cause} while waiting for input");
                            std::process::exit(match cause {
                                StopCause::Signal(n) => 128 + n,
                                StopCause::Timeout(_) => CliExit::HostError as i32,
                            });
                        }
                    }
                }
            })
            .expect("cannot start the stdin watch thread");
        StdinWatch { inner, stop: stop.clone(), reading }
    }
}

impl<R: Read> Read for StdinWatch<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Set before looking at the request: the watch thread sees one or the other.
        self.reading.store(true, Ordering::SeqCst);
        let result = match self.stop.requested() {
            Some(cause) => Err(io::Error::other(cause.to_string())),
            None => self.inner.read(buf),
        };
        self.reading.store(false, Ordering::SeqCst);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_positive_and_finite() {
        assert_eq!(parse_timeout("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_timeout("60"), Ok(Duration::from_secs(60)));
        for bad in ["0", "-1", "inf", "NaN", "x", "", "1e300"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }
}
