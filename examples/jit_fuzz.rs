//! Differential fuzzing of the JIT against the interpreter with the project's generator:
//! `cargo run --release --example jit_fuzz -- [COUNT] [FIRST_SEED]`.
//!
//! Environment: `FUZZ_MUTATION=name` runs the JIT with a deliberate bug (to see the
//! generator catch it), `FUZZ_TRACE` prints each seed, `FUZZ_DUMP` each case,
//! `FUZZ_ENGINE=interp|jit` runs one engine only, `FUZZ_QUIET` prints only the count.

use twinspace::Engine;
use twinspace::generate::{Knobs, generate};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let count: u64 = args.get(1).map_or(10_000, |s| s.parse().unwrap());
    let first: u64 = args.get(2).map_or(0, |s| s.parse().unwrap());
    let knobs = Knobs::default();
    let mut failures = 0;
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
            let engine = Engine::from_name(&engine).unwrap();
            let o = engine.run_bytes(&case.program, case.limits, &case.input).unwrap();
            eprintln!("{o:?}");
            continue;
        }
        let want = Engine::Interp.run_bytes(&case.program, case.limits, &case.input).unwrap();
        let got = match std::env::var("FUZZ_MUTATION") {
            Ok(name) => {
                let mutation = twinspace::jit::Mutation::from_name(&name).expect("a mutation");
                let options =
                    twinspace::jit::Options { mutation: Some(mutation), ..Default::default() };
                let mut sink = Vec::new();
                let finish = {
                    let mut output = twinspace::Output::new(&mut sink);
                    let mut input = twinspace::Input::from_bytes(&case.input);
                    twinspace::jit::run_with(
                        &case.program,
                        case.limits,
                        &options,
                        &mut input,
                        &mut output,
                    )
                    .unwrap()
                    .0
                };
                twinspace::Outcome { output: sink, finish }
            }
            Err(_) => Engine::Jit.run_bytes(&case.program, case.limits, &case.input).unwrap(),
        };
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
