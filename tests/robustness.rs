//! The built `twinspace` under attack: every input class that once crashed it, exhausted the
//! machine or lost output (issue 7) gives a clear trap, a clean host error or the right answer,
//! with the output printed before the stop kept, on every engine choice (`jit`, `interp`,
//! `both`).
//!
//! Memory bounds are checked through the deterministic traps of the limits (`value-too-large`,
//! `memory-overflow`, at an exact instruction), never through timings or memory readings; a
//! run that does not finish within a generous bound fails the test (it is killed first), but
//! no test asserts how fast anything is.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Every engine choice of `twinspace run`.
const ENGINES: [&str; 3] = ["jit", "interp", "both"];

/// How long any one run may take before the test gives up on it (it is killed, and the test
/// fails): far beyond what the runs need, so it is a guard against hangs, not a measurement.
const BOUND: Duration = Duration::from_secs(300);

/// Prints `ok` first, so every attack checks that output before the stop is kept.
const PROLOGUE: &str = "push 'o' | printc | push 'k' | printc\n";

struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::Builder::new().prefix("twinspace-robustness-").tempdir().unwrap().keep())
    }

    fn program(&self, name: &str, source: &str) -> PathBuf {
        let path = self.0.join(format!("{name}.wsa"));
        std::fs::write(&path, source).unwrap();
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a finished run left.
struct Ran {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
}

impl Ran {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Waits for `child` at most [`BOUND`], killing it (and failing) if it is still running.
fn finish(mut child: Child, what: &str) -> Ran {
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + BOUND;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {BOUND:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ran { status, stdout: out.join().unwrap(), stderr: err.join().unwrap() }
}

/// Runs `twinspace run --engine ENGINE FILE ARGS...` with `input` on standard input.
fn run(engine: &str, file: &Path, args: &[&str], input: &[u8]) -> Ran {
    let mut child = Command::new(env!("CARGO_BIN_EXE_twinspace"))
        .args(["run", "--engine", engine])
        .arg(file)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // The program may stop before reading it all: a closed pipe is fine.
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let ran = finish(child, &format!("{engine} {}", file.display()));
    feeder.join().unwrap();
    ran
}

/// Asserts that `ran` trapped with `kind` at instruction `index` (its message starts with the
/// file, line and column) and printed exactly `stdout`.
fn assert_trap(ran: &Ran, file: &Path, kind: &str, index: usize, stdout: &[u8], what: &str) {
    assert_eq!(ran.code(), Some(1), "{what}: {}", ran.stderr);
    let first = ran.stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with(&format!("{}:", file.display())), "{what}: {first}");
    assert!(first.contains(&format!(": trap: {kind} at instruction {index} ")), "{what}: {first}");
    assert_eq!(String::from_utf8_lossy(&ran.stdout), String::from_utf8_lossy(stdout), "{what}");
    assert!(!ran.stderr.contains("panicked"), "{what}: {}", ran.stderr);
}

/// `copy` and `slide` with counts that once made the JIT compute a slot address that wrapped
/// around (2^44..2^48) or that no stack can reach, and negative ones: `copy` traps
/// `stack-underflow` at itself; `slide` keeps the top and removes what there is.
#[test]
fn wild_copy_and_slide_counts() {
    let dir = Dir::new();
    let counts = [
        "17592186044416",         // 2^44
        "140737488355327",        // 2^47 - 1
        "281474976710656",        // 2^48
        "9223372036854775807",    // 2^63 - 1
        "18446744073709551616",   // 2^64
        "1180591620717411303424", // 2^70
        "-1",
        "-9223372036854775808",
    ];
    for (i, n) in counts.iter().enumerate() {
        let copy =
            dir.program(&format!("copy{i}"), &format!("{PROLOGUE}push 7 | copy {n} | end\n"));
        let slide = dir.program(
            &format!("slide{i}"),
            &format!("{PROLOGUE}push 1 | push 2 | slide {n} | printi | end\n"),
        );
        for engine in ENGINES {
            let what = format!("{engine}: copy {n}");
            assert_trap(&run(engine, &copy, &[], b""), &copy, "stack-underflow", 5, b"ok", &what);
            let ran = run(engine, &slide, &[], b"");
            assert_eq!(ran.code(), Some(0), "{engine}: slide {n}: {}", ran.stderr);
            assert_eq!(ran.stdout, b"ok2", "{engine}: slide {n}");
        }
    }
}

/// Squaring in a loop doubles a value's size with every turn: the default value limit
/// (2^20 bits) stops it at its 20th `mul`, long before memory or time run short.
#[test]
fn a_squaring_loop_stops_at_the_value_limit() {
    let dir = Dir::new();
    let file = dir.program("square", &format!("{PROLOGUE}push 2\nl: dup | mul | jmp l\n"));
    for engine in ENGINES {
        let ran = run(engine, &file, &[], b"");
        assert_trap(&ran, &file, "value-too-large", 7, b"ok", engine);
    }
}

/// A value of a few hundred thousand bits, then `dup` for ever: the copies would take
/// gigabytes; the default big-value memory (2^24 words) stops them at an exact `dup`.
#[test]
fn duplicating_a_huge_value_stops_at_the_memory_limit() {
    let dir = Dir::new();
    // 3^(2^18) has 415,489 bits: 6,493 words. 2^24 words hold 2,583 of them; the 2,584th
    // copy would not fit.
    let square = "dup | mul\n".repeat(18);
    let file = dir.program("dup", &format!("{PROLOGUE}push 3\n{square}l: dup | jmp l\n"));
    for engine in ENGINES {
        let ran = run(engine, &file, &[], b"");
        assert_trap(&ran, &file, "memory-overflow", 5 + 36 + 1, b"ok", engine);
        assert!(ran.stderr.contains("stack (2583 items"), "{engine}: {}", ran.stderr);
        // The 415,521-bit top of the stack is abbreviated, not written out.
        assert!(ran.stderr.len() < 2000, "{engine}: {} bytes on stderr", ran.stderr.len());
    }
    // 2,583 copies take 16,771,419 words: one word less, and one copy fewer fits.
    let ran = run("jit", &file, &["--max-big-words", "16771419"], b"");
    assert!(ran.stderr.contains("stack (2583 items"), "{}", ran.stderr);
    let ran = run("jit", &file, &["--max-big-words", "16771418"], b"");
    assert!(ran.stderr.contains("stack (2582 items"), "{}", ran.stderr);
}

/// Stores at ever new huge addresses: each cell holds a 16,385-bit address and value, so the
/// big-value memory limit stops the run long before the heap-cell limit would.
#[test]
fn distinct_huge_heap_addresses_stop_at_the_memory_limit() {
    let dir = Dir::new();
    // 2^16384 (14 squarings of 2), then store it at itself and count up.
    let file = dir.program(
        "heap",
        &format!(
            "{PROLOGUE}push 2\n{}l: dup | dup | store | push 1 | add | jmp l\n",
            "dup | mul\n".repeat(14)
        ),
    );
    for engine in ENGINES {
        let ran = run(engine, &file, &[], b"");
        assert_eq!(ran.code(), Some(1), "{engine}: {}", ran.stderr);
        assert!(ran.stderr.contains(": trap: memory-overflow at instruction "), "{engine}");
        assert_eq!(ran.stdout, b"ok", "{engine}");
    }
}

/// `readi` of an enormous line: a literal longer than any value of the limit can be traps as
/// soon as its first excess digit is read (memory and time bounded whatever the line), and
/// leading zeros and spaces cost nothing to keep.
#[test]
fn readi_of_enormous_lines() {
    let dir = Dir::new();
    let file = dir.program(
        "readi",
        &format!("{PROLOGUE}push 0 | readi | push 0 | retrieve | printi | end\n"),
    );
    let mut digits = vec![b'1'; 10_000_000];
    digits.push(b'\n');
    let mut zeros = vec![b' '; 3_000_000];
    zeros.extend(std::iter::repeat_n(b'0', 7_000_000));
    zeros.extend_from_slice(b"42\n");
    for engine in ENGINES {
        let ran = run(engine, &file, &[], &digits);
        assert_trap(&ran, &file, "value-too-large", 5, b"ok", engine);
        let ran = run(engine, &file, &[], &zeros);
        assert_eq!(ran.code(), Some(0), "{engine}: {}", ran.stderr);
        assert_eq!(ran.stdout, b"ok42", "{engine}");
    }
}

/// An endless line on standard input: digits trap `value-too-large`; spaces are read for ever
/// in bounded memory, until the wall-clock timeout stops the run (a host error, exit 4, with
/// the output kept).
#[test]
fn endless_input_lines() {
    let dir = Dir::new();
    let file = dir.program("readi", &format!("{PROLOGUE}push 0 | readi | end\n"));
    for (byte, engine) in [(b'7', "jit"), (b'7', "interp"), (b' ', "jit"), (b' ', "interp")] {
        let mut args = vec!["run", "--engine", engine];
        let path = file.to_str().unwrap();
        if byte == b' ' {
            args.extend(["--timeout", "1"]);
        }
        args.push(path);
        let mut child = Command::new(env!("CARGO_BIN_EXE_twinspace"))
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let feeder = std::thread::spawn(move || {
            let chunk = [byte; 1 << 16];
            while stdin.write_all(&chunk).is_ok() {}
        });
        let ran = finish(child, engine);
        feeder.join().unwrap();
        let what = format!("{engine}, endless {:?}", byte as char);
        if byte == b'7' {
            assert_trap(&ran, &file, "value-too-large", 5, b"ok", &what);
        } else {
            assert_eq!(ran.code(), Some(4), "{what}: {}", ran.stderr);
            assert!(ran.stderr.contains("timed out"), "{what}: {}", ran.stderr);
            assert_eq!(ran.stdout, b"ok", "{what}");
        }
    }
}

/// Limits below the defaults, given on the command line, trap at the same instruction on
/// every engine.
#[test]
fn limits_from_the_command_line() {
    let dir = Dir::new();
    let file = dir.program("add", &format!("{PROLOGUE}push 200 | push 100 | add | printi | end\n"));
    for engine in ENGINES {
        let ran = run(engine, &file, &["--max-value-bits", "8"], b"");
        assert_trap(&ran, &file, "value-too-large", 6, b"ok", engine);
        let ran = run(engine, &file, &["--max-value-bits", "unlimited"], b"");
        assert_eq!(ran.stdout, b"ok300", "{engine}");
    }
    let big = dir.program("big", &format!("{PROLOGUE}push 9223372036854775808 | end\n"));
    for engine in ENGINES {
        let ran = run(engine, &big, &["--max-big-words", "0"], b"");
        assert_trap(&ran, &big, "memory-overflow", 4, b"ok", engine);
    }
    for bad in ["-1", "many", "1e3"] {
        let ran = run("jit", &file, &[&format!("--max-value-bits={bad}")], b"");
        assert_eq!(ran.code(), Some(2), "{bad}: {}", ran.stderr);
    }
}
