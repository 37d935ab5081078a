//! Fuzz target `raw`: see `twinspace_fuzz::raw` (fuzz/src/lib.rs) for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twinspace_fuzz::raw(data));
