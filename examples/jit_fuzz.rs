//! Differential fuzzing of the JIT against the interpreter with the project's generator:
//! `cargo run --release --example jit_fuzz -- [COUNT] [FIRST_SEED]`.
//!
//! Environment: `FUZZ_MUTATION=name` runs the JIT with a deliberate bug (to see the
//! generator catch it), `FUZZ_TRACE` prints each seed, `FUZZ_DUMP` each case,
//! `FUZZ_ENGINE=NAME` (`interp`, `jit`) runs one engine only, `FUZZ_QUIET` prints only the count.

use twinspace::engine::{Engine, Interp, by_name};
use twinspace::generate::{Knobs, generate};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let count: u64 = args.get(1).map_or(10_000, |s| s.parse().unwrap());
    let first: u64 = args.get(2).map_or(0, |s| s.parse().unwrap());
    let knobs = Knobs::default();
    let mut failures = 0;
    // `jit:mutate=NAME` needs the `mutations` feature (on in examples, a dev build).
    let subject = match std::env::var("FUZZ_MUTATION") {
        Ok(name) => by_name(&format!("jit:mutate={name}")).unwrap(),
        Err(_) => by_name("jit").unwrap(),
    };
    for seed in first..first + count {
        if std::env::var_os("FUZZ_TRACE").is_some() {
            eprintln!("seed {seed}");
        }
        let case = generate(seed, &knobs);
        if std::env::var_os("FUZZ_DUMP").is_some() {
            eprintln!("limits {:?} input {:?}", case.limits, case.input);
            eprintln!("{}", twinspace::syntax::print_asm(&case.program));
        }
        if let Ok(engine) = std::env::var("FUZZ_ENGINE") {
            let engine = by_name(&engine).unwrap();
            let o = engine.run_bytes(&case.program, case.limits, &case.input).unwrap();
            eprintln!("{o:?}");
            continue;
        }
        let want = Interp.run_bytes(&case.program, case.limits, &case.input).unwrap();
        let got = subject.run_bytes(&case.program, case.limits, &case.input).unwrap();
        if got != want {
            failures += 1;
            if failures <= 3 && std::env::var_os("FUZZ_QUIET").is_none() {
                println!("seed {seed}: limits {:?}", case.limits);
                println!("{}", twinspace::syntax::print_asm(&case.program));
                println!("want {:?}\n got {:?}", want, got);
            }
        }
    }
    println!("{failures} failures in {count} cases");
}
