//! Fuzz target `differential`: see `twinspace_fuzz::differential` (fuzz/src/lib.rs) for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twinspace_fuzz::differential(data));
