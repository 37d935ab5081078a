//! What the test binaries share: whether the JIT must be there.
//!
//! A test that needs the JIT, on a machine where it cannot run, does not pass silently: a
//! libtest-mimic trial is listed as ignored, and a plain `#[test]` says so on stderr. Where the
//! JIT is required (`TWINSPACE_REQUIRE_JIT=1`, which `.ci/run` sets on x86-64) such a test
//! fails instead, so CI cannot go green with the JIT never run.

// Each test binary uses the part it needs.
#![allow(dead_code)]

/// The variable that makes a missing JIT a failure.
pub const REQUIRE_JIT_VAR: &str = "TWINSPACE_REQUIRE_JIT";

/// Whether the JIT must be available: `TWINSPACE_REQUIRE_JIT` is set (to anything but empty or
/// `0`) and this is an x86-64 build, the only architecture the JIT exists for.
pub fn jit_required() -> bool {
    cfg!(target_arch = "x86_64")
        && std::env::var_os(REQUIRE_JIT_VAR).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Why the JIT cannot run here, or `None` when it can.
pub fn jit_missing() -> Option<String> {
    if twinspace::jit::unavailable().is_none() {
        None
    } else if cfg!(target_arch = "x86_64") {
        Some("it cannot run its one-instruction probe program (executable memory refused?)".into())
    } else {
        Some("it runs on x86-64 only".into())
    }
}

/// The message of a test that fails because the JIT is required but missing.
pub fn required_but_missing(why: &str) -> String {
    format!("the JIT is required here ({REQUIRE_JIT_VAR} is set) but cannot run: {why}")
}

/// For a plain `#[test]` that needs the JIT: `true` when it can run. Otherwise it panics where
/// the JIT is required, and elsewhere prints why `test` does nothing and returns `false`.
pub fn jit_or_skip(test: &str) -> bool {
    let Some(why) = jit_missing() else { return true };
    if jit_required() {
        panic!("{test}: {}", required_but_missing(&why));
    }
    eprintln!(
        "{test}: NOT RUN (reported as passed): the JIT is unavailable ({why}); set \
         {REQUIRE_JIT_VAR}=1 to make this a failure"
    );
    false
}

/// For a libtest-mimic harness: the trial `name` that passes when the JIT can run, fails when
/// it cannot but is required, and is listed as ignored otherwise (as are the JIT's trials).
pub fn jit_available_trial(name: &str) -> libtest_mimic::Trial {
    let missing = jit_missing();
    let ignored = missing.is_some() && !jit_required();
    libtest_mimic::Trial::test(name, move || match missing {
        Some(why) => Err(required_but_missing(&why).into()),
        None => Ok(()),
    })
    .with_ignored_flag(ignored)
}
