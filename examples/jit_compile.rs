//! Measures the JIT's compile time: `cargo run --release --example jit_compile -- FILE [RUNS]`
//! compiles FILE (`.ws`, or `.asm` listing) RUNS times (running it with no fuel) and prints
//! the fastest and median compile times.

use twinspace::{Input, Limits, Output};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: jit_compile FILE [RUNS]");
    let runs: usize = args.get(2).map_or(100, |s| s.parse().expect("a number of runs"));
    let bytes = std::fs::read(path).expect("read the program");
    let program = if path.ends_with(".asm") {
        twinspace::syntax::assemble(std::str::from_utf8(&bytes).expect("UTF-8 listing"))
            .expect("assemble the listing")
    } else {
        twinspace::syntax::parse(&bytes).expect("parse the program")
    };
    if std::env::var_os("JIT_LISTING").is_some() {
        println!("{}", twinspace::jit::disassemble(&program).expect("compile"));
        return;
    }
    let mut times = Vec::with_capacity(runs);
    let mut stats = None;
    for _ in 0..runs {
        let mut sink = Vec::new();
        let mut output = Output::new(&mut sink);
        let mut input = Input::from_bytes(b"");
        let options = twinspace::jit::Options::default();
        let (_, s) = twinspace::jit::run_with(
            &program,
            Limits::DEFAULT.with_fuel(0),
            &options,
            &mut input,
            &mut output,
        )
        .expect("compile");
        times.push(s.compile_time);
        stats = Some(s);
    }
    times.sort();
    println!(
        "{} instructions: fastest {:?}, median {:?}, {:?}",
        program.len(),
        times[0],
        times[times.len() / 2],
        stats.expect("at least one run")
    );
}
