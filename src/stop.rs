//! Stopping a run from outside: a signal or a wall-clock timeout (SEMANTICS.md §4, host errors).
//!
//! A [`Stop`] is a per-run handle: one atomic word that anything may set (a signal handler, a
//! timer thread, another thread of the caller) and that the engines read at their check points,
//! with a relaxed load, far from their hot paths: the interpreter every
//! [`Stop::CHECK_EVERY`] steps, the JIT whenever its native code returns to the driver (at
//! the latest when a fuel slice runs out) and in its stepper loop. A run that sees a request
//! stops before its next instruction with [`HostError::Stopped`](crate::HostError::Stopped),
//! its output so far written.
//!
//! Invariant: a handle only ever goes from "not requested" to "requested", never back, so every
//! engine that shares it stops. The first [`Stop::request`] cause stays; a signal (whose handler
//! can only store) replaces it. Handles are
//! independent: a timeout on one thread's runs never stops another's.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use crate::outcome::StopCause;

/// The top bit of the word marks a timeout; the rest holds its milliseconds. Otherwise a
/// nonzero word is a signal number.
const TIMEOUT_BIT: usize = 1 << (usize::BITS - 1);

/// A request to stop runs, shared by everything that may make it and every run that obeys it.
#[derive(Clone, Default)]
pub struct Stop {
    word: Arc<AtomicUsize>,
}

impl Stop {
    /// How many interpreter steps run between two looks at the request.
    pub const CHECK_EVERY: u64 = 1 << 12;

    /// A handle that nothing has asked to stop yet.
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Asks every run that obeys this handle to stop, for `cause` (unless a stop was asked
    /// for already: the first cause stays).
    pub fn request(&self, cause: StopCause) {
        let word = match cause {
            StopCause::Signal(n) => (n as usize).max(1) & !TIMEOUT_BIT,
            StopCause::Timeout(ms) => TIMEOUT_BIT | (ms as usize & !TIMEOUT_BIT),
        };
        let _ = self.word.compare_exchange(0, word, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Whether a stop was asked for (one relaxed load: cheap enough for any check point).
    #[inline]
    pub fn is_requested(&self) -> bool {
        self.word.load(Ordering::Relaxed) != 0
    }

    /// Why a stop was asked for, if it was: a relaxed load, and a second one only when
    /// something was requested. The engines' check points call this.
    #[inline]
    pub fn poll(&self) -> Option<StopCause> {
        if self.is_requested() { self.requested() } else { None }
    }

    /// The handle installed on this thread by [`Stop::install`], or a fresh one that nothing
    /// will request. The entry points that take no handle ([`crate::Engine::run`],
    /// [`crate::interp::run`], [`crate::jit::run_with`], the differential harness) obey this.
    pub fn current() -> Stop {
        CURRENT.with(|c| c.borrow().clone()).unwrap_or_default()
    }

    /// Makes this handle the one that runs started on this thread obey when they are given
    /// none, until the returned guard is dropped. Other threads are not affected.
    pub fn install(&self) -> Installed {
        let previous = CURRENT.with(|c| c.replace(Some(self.clone())));
        Installed { previous }
    }

    /// Why a stop was asked for, if it was.
    pub fn requested(&self) -> Option<StopCause> {
        match self.word.load(Ordering::SeqCst) {
            0 => None,
            w if w & TIMEOUT_BIT != 0 => Some(StopCause::Timeout((w & !TIMEOUT_BIT) as u64)),
            w => Some(StopCause::Signal(w as i32)),
        }
    }

    /// Makes SIGINT and SIGTERM request a stop on this handle, for the rest of the process
    /// (the handlers only set the word). The first signal no longer ends the process: call
    /// this only where runs obey the handle. A second one (of either kind) has the signal's
    /// default effect and ends the process at once, so a run that never reaches a check point
    /// (an engine bug that stops charging fuel) can still be ended from the keyboard. Needs
    /// the `signals` feature (part of the default `cli` feature).
    #[cfg(feature = "signals")]
    pub fn on_signals(&self) -> std::io::Result<()> {
        #[cfg(unix)]
        let seen = Arc::new(std::sync::atomic::AtomicBool::new(false));
        #[cfg(unix)]
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // Registered first, so it runs before `seen` is set: only a signal after the
            // first one finds it set and ends the process.
            signal_hook::flag::register_conditional_default(signal, Arc::clone(&seen))?;
            signal_hook::flag::register(signal, Arc::clone(&seen))?;
            // The handler can only store (no `unsafe` outside the JIT for a custom one), so a
            // signal replaces an earlier cause; the word stays nonzero either way.
            signal_hook::flag::register_usize(signal, Arc::clone(&self.word), signal as usize)?;
        }
        Ok(())
    }

    /// Requests a stop with [`StopCause::Timeout`] once `timeout` has passed, unless the
    /// returned [`Timer`] is dropped first.
    pub fn after(&self, timeout: Duration) -> Timer {
        let (cancel, cancelled) = mpsc::channel::<()>();
        let stop = self.clone();
        std::thread::Builder::new()
            .name("twinspace-timeout".into())
            .spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = cancelled.recv_timeout(timeout) {
                    let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
                    stop.request(StopCause::Timeout(ms));
                }
            })
            .expect("cannot start the timeout thread");
        Timer { _cancel: cancel }
    }
}

impl std::fmt::Debug for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Stop").field(&self.requested()).finish()
    }
}

/// Two handles are equal when they are the same handle.
impl PartialEq for Stop {
    fn eq(&self, other: &Stop) -> bool {
        Arc::ptr_eq(&self.word, &other.word)
    }
}

impl Eq for Stop {}

thread_local! {
    static CURRENT: std::cell::RefCell<Option<Stop>> = const { std::cell::RefCell::new(None) };
}

/// The guard of [`Stop::install`]: dropping it puts back the handle installed before.
#[derive(Debug)]
pub struct Installed {
    previous: Option<Stop>,
}

impl Drop for Installed {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// A pending timeout (from [`Stop::after`]); dropping it cancels the timeout.
#[derive(Debug)]
pub struct Timer {
    _cancel: mpsc::Sender<()>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_cause_stays() {
        let stop = Stop::new();
        assert_eq!(stop.requested(), None);
        assert!(!stop.is_requested());
        stop.request(StopCause::Timeout(1500));
        stop.request(StopCause::Signal(2));
        assert!(stop.is_requested());
        assert_eq!(stop.requested(), Some(StopCause::Timeout(1500)));
        let other = Stop::new();
        other.request(StopCause::Signal(15));
        assert_eq!(other.requested(), Some(StopCause::Signal(15)));
        assert_ne!(stop, other);
        assert_eq!(stop, stop.clone());
    }

    #[test]
    fn an_installed_handle_is_this_threads_only() {
        let stop = Stop::new();
        assert_ne!(Stop::current(), stop);
        {
            let _installed = stop.install();
            assert_eq!(Stop::current(), stop);
            let elsewhere = std::thread::spawn(Stop::current).join().unwrap();
            assert_ne!(elsewhere, stop);
        }
        assert_ne!(Stop::current(), stop);
    }

    #[test]
    fn a_timer_fires_unless_dropped() {
        let stop = Stop::new();
        let _timer = stop.after(Duration::from_millis(1));
        // A bounded wait for the condition, not a timed assertion.
        for _ in 0..10_000 {
            if stop.is_requested() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(stop.requested(), Some(StopCause::Timeout(1)));
        let cancelled = Stop::new();
        drop(cancelled.after(Duration::from_secs(3600)));
        assert_eq!(cancelled.requested(), None);
    }
}
