//! The conformance suite: runs every case of `conformance/*.case` on every engine.

fn main() {}
