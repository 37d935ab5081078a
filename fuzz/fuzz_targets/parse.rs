//! Fuzz target `parse`: see `twinspace_fuzz::parse` (fuzz/src/lib.rs) for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twinspace_fuzz::parse(data));
