//! Fuel slices and stop requests: the JIT's driver hands native code its fuel one slice at a
//! time and looks at the stop request between slices; neither may move an outcome.

use super::*;

/// Runs the JIT with fuel slices of `slice` instructions.
fn run_sliced(p: &Program, limits: Limits, slice: u64, input: &[u8]) -> Outcome {
    let mut sink = Vec::new();
    let finish = {
        let mut output = Output::new(&mut sink);
        let options = Options { fuel_slice: Some(slice), ..Default::default() };
        let (finish, _) =
            crate::jit::run_with(p, limits, &options, &mut Input::from_bytes(input), &mut output)
                .unwrap();
        finish
    };
    Outcome { output: sink, finish }
}

#[test]
fn fuel_slices_never_move_the_out_of_fuel_instruction() {
    // A loop of about 3,000 instructions: every fuel value around several slice boundaries.
    let counting = "push 300\nloop:\npush 1\nsub\ndup\ndup\nprinti\npush 10\nprintc\njz done\n\
                    jmp loop\ndone:\nend\n";
    for src in [LOOP, FIB, counting] {
        let p = program(src);
        let full = Interp.run_bytes(&p, Limits::DEFAULT, b"").unwrap();
        for slice in [1, 2, 3, 7, 64, 1000] {
            assert_eq!(run_sliced(&p, Limits::DEFAULT, slice, b""), full, "slice {slice}");
            let mut fuels: Vec<u64> = (0..=full.finish.executed + 1)
                .filter(|f| slice > 64 || f % slice <= 1 || f % slice == slice - 1)
                .collect();
            fuels.dedup();
            for fuel in fuels {
                let limits = Limits::DEFAULT.with_fuel(fuel);
                let want = Interp.run_bytes(&p, limits, b"").unwrap();
                assert_eq!(run_sliced(&p, limits, slice, b""), want, "slice {slice}, fuel {fuel}");
            }
        }
    }
}

#[test]
fn fuel_slices_refill_the_stepper_too() {
    // Big values keep the run in the stepper, which must refill rather than trap.
    let src = "push 1\npush 4611686018427387904\nmul\npush 40\nloop:\npush 1\nsub\ndup\njz done\n\
               jmp loop\ndone:\nend\n";
    let p = program(src);
    for fuel in [u64::MAX, 50, 51, 52, 53, 100] {
        let limits = Limits::DEFAULT.with_fuel(fuel);
        let want = Interp.run_bytes(&p, limits, b"").unwrap();
        for slice in [1, 2, 5] {
            assert_eq!(run_sliced(&p, limits, slice, b""), want, "slice {slice}, fuel {fuel}");
        }
    }
}

/// A sink that asks `stop` to stop once it has received `after` bytes.
struct StopAfter {
    bytes: Vec<u8>,
    after: usize,
    stop: crate::stop::Stop,
}

impl std::io::Write for StopAfter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.bytes.extend_from_slice(bytes);
        if self.bytes.len() >= self.after {
            self.stop.request(crate::outcome::StopCause::Signal(2));
        }
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_stop_request_stops_both_engines_with_their_output_written() {
    use crate::outcome::{HostError, StopCause};
    use crate::stop::Stop;
    // Endless: prints "ab\n" forever; runs natively, and through the stepper on a big value.
    let endless = "loop:\npush 97\nprintc\npush 98\nprintc\npush 10\nprintc\njmp loop\n";
    let endless_big = "push 99999999999999999999\nloop:\npush 97\nprintc\npush 98\nprintc\n\
                       push 10\nprintc\njmp loop\n";
    for src in [endless, endless_big] {
        let p = program(src);
        for engine in engine::all() {
            // Asked before the run: stopped before the first instruction, nothing written.
            let stop = Stop::new();
            stop.request(StopCause::Timeout(5));
            let mut sink = Vec::new();
            let result = engine.stream(
                &p,
                Limits::DEFAULT,
                crate::outcome::Parts::all(),
                &stop,
                &mut Input::from_bytes(b""),
                &mut Output::new(&mut sink),
            );
            match result {
                Err(HostError::Stopped { index: 0, cause: StopCause::Timeout(5) }) => {}
                other => panic!("{engine}: {other:?}"),
            }
            assert!(sink.is_empty());

            // Asked while it runs (by the output sink, once a line feed flushed 30 bytes).
            let stop = Stop::new();
            let mut sink = StopAfter { bytes: Vec::new(), after: 30, stop: stop.clone() };
            let result = engine.stream(
                &p,
                Limits::DEFAULT,
                crate::outcome::Parts::all(),
                &stop,
                &mut Input::from_bytes(b""),
                &mut Output::line_buffered(&mut sink),
            );
            let index = match result {
                Err(HostError::Stopped { index, cause: StopCause::Signal(2) }) => index,
                other => panic!("{engine}: {other:?}"),
            };
            assert!(index < p.len(), "{engine}: {index}");
            assert!(sink.bytes.len() >= 30, "{engine}");
            let pattern: Vec<u8> = b"ab\n".iter().copied().cycle().take(sink.bytes.len()).collect();
            assert_eq!(sink.bytes, pattern, "{engine}: the output so far, all of it");
        }
    }
}

#[test]
fn a_stop_from_another_thread_reaches_compiled_code() {
    use crate::outcome::{HostError, StopCause};
    use crate::stop::Stop;
    // No output at all: the loop stays in compiled code; only the fuel slice brings it back.
    let p = program("push 1\nloop:\ndup\njz done\njmp loop\ndone:\nend\n");
    for engine in engine::all() {
        let stop = Stop::new();
        let asker = {
            let stop = stop.clone();
            std::thread::spawn(move || stop.request(StopCause::Signal(15)))
        };
        let result = engine.stream(
            &p,
            Limits::DEFAULT,
            crate::outcome::Parts::all(),
            &stop,
            &mut Input::from_bytes(b""),
            &mut Output::new(&mut Vec::new()),
        );
        asker.join().unwrap();
        match result {
            Err(HostError::Stopped { index, cause: StopCause::Signal(15) }) => {
                assert!(index < p.len(), "{engine}: {index}")
            }
            other => panic!("{engine}: {other:?}"),
        }
    }
}

/// A sink that fails every write.
struct Failing;

impl std::io::Write for Failing {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn output_failures_name_the_printing_instruction() {
    use crate::outcome::HostError;
    // The line feed at instruction 3 flushes a line-buffered output: that write fails.
    let p = program("push 104\nprintc\npush 10\nprintc\nend\n");
    for engine in engine::all() {
        let result = engine.stream(
            &p,
            Limits::DEFAULT,
            crate::outcome::Parts::all(),
            &crate::stop::Stop::current(),
            &mut Input::from_bytes(b""),
            &mut Output::line_buffered(&mut Failing),
        );
        match result {
            Err(HostError::IoAt { index: 3, error }) => {
                assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe)
            }
            other => panic!("{engine}: {other:?}"),
        }
    }
}
