//! Times one `.ws` program (or `.asm` listing) on an engine:
//! `cargo run --release --example jit_bench -- FILE [interp|jit]`.
//!
//! Prints the program's output to stdout and the timing, instruction count and rate to stderr.

use std::time::Instant;

use twinspace::engine::{Engine, Interp};
use twinspace::{Input, Limits, Output};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: jit_bench FILE [interp|jit]");
    let engine = args.get(2).map_or("jit", String::as_str);
    let bytes = std::fs::read(path).expect("read the program");
    let program = if path.ends_with(".asm") {
        twinspace::syntax::assemble(std::str::from_utf8(&bytes).expect("UTF-8 listing"))
            .expect("assemble the listing")
    } else {
        twinspace::syntax::parse(&bytes).expect("parse the program")
    };
    let stdin = std::io::stdin();
    let mut input = Input::new(stdin.lock());
    let mut stdout = std::io::stdout();
    let mut output = Output::new(&mut stdout);
    let start = Instant::now();
    let (finish, stats) = match engine {
        "interp" => (
            Interp
                .stream(
                    &program,
                    Limits::DEFAULT,
                    Default::default(),
                    &Default::default(),
                    &mut input,
                    &mut output,
                )
                .unwrap()
                .0,
            None,
        ),
        _ => {
            let options = twinspace::jit::Options::default();
            let (f, s) = twinspace::jit::run_with(
                &program,
                Limits::DEFAULT,
                &options,
                &mut input,
                &mut output,
            )
            .unwrap();
            (f, Some(s))
        }
    };
    let elapsed = start.elapsed();
    eprintln!(
        "{engine}: {} in {:.3} s, {} instructions, {:.1} M/s, stats {:?}",
        finish.termination,
        elapsed.as_secs_f64(),
        finish.executed,
        finish.executed as f64 / elapsed.as_secs_f64() / 1e6,
        stats
    );
}
