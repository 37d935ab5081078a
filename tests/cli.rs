//! The command line as a person meets it, through the built binary: exits are clean when the
//! reader of standard output goes away, bad flags are refused with status 2, diagnostics are
//! placed as `FILE:LINE:COL:` and name what the source wrote, long values are abbreviated, and
//! Ctrl-C on `twinspace fuzz` prints the summary and exits 130.
//!
//! Every wait is bounded, and nothing here asserts on speed. The Ctrl-C test needs the JIT: it
//! is listed as ignored off x86-64, and on x86-64 without a working JIT says so and does
//! nothing, or fails where `TWINSPACE_REQUIRE_JIT=1` (as in CI).

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_twinspace");

fn twinspace(args: &[&str]) -> Output {
    Command::new(BIN).args(args).stdin(Stdio::null()).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Waits for `child` at most `limit`, killing it (and failing) past that.
fn wait_bounded(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A listing of `n` pushes and an end: megabytes of `disasm` output.
fn big_listing(n: usize) -> String {
    let mut text: String = (0..n).map(|i| format!("push {i}\n")).collect();
    text.push_str("end\n");
    text
}

#[test]
fn a_reader_that_goes_away_ends_every_printing_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let big = write(dir.path(), "big.wsa", big_listing(100_000).as_bytes());
    // 50,000 undefined jumps: a warning each from `check`.
    let jumps: String = (0..50_000).map(|_| "jmp nowhere\n").collect();
    let warns = write(dir.path(), "warns.wsa", jumps.as_bytes());
    let small = write(dir.path(), "small.wsa", b"push 1\nend\n");
    let (big, warns, small) =
        (big.to_str().unwrap(), warns.to_str().unwrap(), small.to_str().unwrap());
    let commands: Vec<Vec<&str>> = vec![
        vec!["check", warns],
        vec!["disasm", big],
        vec!["disasm", "--visible", big],
        vec!["asm", big],
        vec!["bench", "--repeat", "1", "--engine", "interp", small, small, small],
    ];
    for args in commands {
        for read_first in [false, true] {
            let mut child = Command::new(BIN)
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdout = child.stdout.take().unwrap();
            if read_first {
                let mut first = [0u8; 16];
                let _ = stdout.read(&mut first);
            }
            drop(stdout);
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            let status = wait_bounded(&mut child, Duration::from_secs(120), &args.join(" "));
            assert_eq!(status.code(), Some(0), "{args:?}: {status}\n{err}");
            assert!(!err.contains("panicked"), "{args:?}:\n{err}");
            assert!(err.len() < 200, "{args:?} spoke on standard error:\n{err}");
        }
    }
}

#[test]
fn bad_flags_are_refused_with_status_2_and_a_reason() {
    let cases: [(&[&str], &str); 9] = [
        (&["fuzz", "--time", "inf"], "finite"),
        (&["fuzz", "--time", "1e30"], "finite"),
        (&["fuzz", "--time", "NaN"], "finite"),
        (&["fuzz", "--shrink-time", "inf"], "finite"),
        (&["fuzz", "--trap-rate", "1.5"], "probability"),
        (&["fuzz", "--wide-rate=-0.5"], "probability"),
        (&["fuzz", "--jobs", "0"], "from 1 to 1024"),
        (&["fuzz", "--jobs", "100000"], "from 1 to 1024"),
        (&["fuzz", "--mutate", "nope"], "slide-off-by-one"),
    ];
    for (args, reason) in cases {
        let out = twinspace(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(reason), "{args:?}: {err}");
    }
}

#[test]
fn asm_and_shrink_refuse_to_overwrite_their_input() {
    let dir = tempfile::tempdir().unwrap();
    let text = b"push 1\nprinti\nend\n";
    let listing = write(dir.path(), "x.wsa", text);
    let listing = listing.to_str().unwrap();
    let out = twinspace(&["asm", listing, "-o", listing]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("refusing to overwrite"), "{}", stderr(&out));
    assert_eq!(std::fs::read(listing).unwrap(), text);
    // The same file by another name.
    let other = dir.path().join(".").join("x.wsa");
    let out = twinspace(&["asm", listing, "-o", other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = twinspace(&["shrink", listing, "-o", listing]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(std::fs::read(listing).unwrap(), text);
}

#[test]
fn traps_are_placed_and_name_what_the_listing_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let under = write(dir.path(), "under.wsa", b"push 1\n  add\n");
    let out = twinspace(&["run", under.to_str().unwrap(), "--engine", "interp"]);
    assert_eq!(out.status.code(), Some(1));
    let expected =
        format!("{}:2:3: trap: stack-underflow at instruction 1 (`add`)", under.display());
    assert!(stderr(&out).starts_with(&expected), "{}", stderr(&out));

    let nowhere = write(dir.path(), "nowhere.wsa", b"push 1\njmp nowhere\n");
    let nowhere = nowhere.to_str().unwrap();
    let out = twinspace(&["run", nowhere, "--engine", "interp"]);
    assert!(stderr(&out).contains(":2:1: trap: undefined-label at instruction 1 (`jmp nowhere`)"));
    let out = twinspace(&["check", nowhere]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("{nowhere}:2:1: warning: `jmp nowhere` names label nowhere")));
}

#[test]
fn a_huge_value_is_abbreviated_in_messages() {
    let dir = tempfile::tempdir().unwrap();
    let listing = format!("push 7{}\npush 0\ndiv\n", "3".repeat(20_000));
    let file = write(dir.path(), "huge.wsa", listing.as_bytes());
    let out = twinspace(&["run", file.to_str().unwrap(), "--engine", "interp"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.len() < 400, "{err}");
    assert!(err.contains("7333333333…3333333333 (20001 digits, 66442 bits)"), "{err}");
}

#[test]
fn input_files_that_cannot_be_read_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.wsa", b"end\n");
    let missing = dir.path().join("x.txt");
    let missing = missing.to_str().unwrap();
    let out = twinspace(&["run", file.to_str().unwrap(), "--input", missing]);
    assert_eq!(out.status.code(), Some(4));
    let expected =
        format!("twinspace: cannot read input file {missing}: No such file or directory");
    assert_eq!(stderr(&out).trim_end(), expected);
    let bad = write(dir.path(), "bad.wsa", b"push 1\npush \xff\n");
    let out = twinspace(&["check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("bad.wsa:2:6 (byte 12): assembly error: invalid UTF-8"));
}

#[test]
#[cfg_attr(not(target_arch = "x86_64"), ignore = "the JIT runs on x86-64 only")]
fn ctrl_c_on_fuzz_prints_the_summary_and_exits_130() {
    if !support::jit_or_skip("ctrl_c_on_fuzz_prints_the_summary_and_exits_130") {
        return;
    }
    // Both ways Ctrl-C can arrive: at the terminal's whole process group (supervisor and
    // child), or at the supervisor alone (which then tells its child).
    for whole_group in [true, false] {
        let mut command = Command::new(BIN);
        command.args(["fuzz", "--time", "600", "--jobs", "1", "--seed", "7", "--no-keep"]);
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().unwrap();
        // Wait until the run has started (its first line on standard error).
        let (started, wait_start) = mpsc::channel();
        let err = BufReader::new(child.stderr.take().unwrap());
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in err.lines().map_while(Result::ok) {
                if line.starts_with("twinspace fuzz: seed") {
                    let _ = started.send(());
                }
                lines.push(line);
            }
            lines
        });
        if wait_start.recv_timeout(Duration::from_secs(120)).is_err() {
            let _ = child.kill();
            panic!("the fuzzing never started: {:?}", reader.join());
        }
        std::thread::sleep(Duration::from_millis(300));
        let target = if whole_group { format!("-{}", child.id()) } else { child.id().to_string() };
        let sent = Command::new("kill").args(["-INT", "--", &target]).status().unwrap();
        assert!(sent.success());
        let mut out = String::new();
        child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        let status = wait_bounded(&mut child, Duration::from_secs(60), "fuzz after Ctrl-C");
        let err = reader.join().unwrap().join("\n");
        assert_eq!(status.code(), Some(130), "{out}\n{err}");
        assert!(out.contains("programs in") && out.contains("coverage"), "{out}");
        assert!(out.contains("interrupted (SIGINT): no mismatch"), "{out}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// Runs `twinspace ARGS` at most `limit` (failing past it): status, standard output and error.
#[cfg(feature = "mutations")]
fn bounded(args: &[&str], limit: Duration) -> (Option<i32>, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    let mut text = String::new();
    let _ = out.read_to_string(&mut text);
    let status = wait_bounded(&mut child, limit, &format!("twinspace {}", args.join(" ")));
    (status.code(), text, reader.join().unwrap())
}

/// A JIT that hangs (the deliberate `checked-entry-skips-fuel`: a loop of checked entries
/// charges no fuel, so `a: jmp a` with fuel 3 never ends) is reported, not waited for: `diff`
/// gives the subject's run as hung after `--hang-after`, `shrink` shrinks the hang with each
/// candidate in a process of its own (also when the hang is met only while shrinking a plain
/// mismatch), and a `--timeout` shorter than the bound still ends `diff`, with status 4,
/// though the run never looks at it.
#[test]
#[cfg(feature = "mutations")]
#[cfg_attr(not(target_arch = "x86_64"), ignore = "the JIT runs on x86-64 only")]
fn a_hanging_subject_is_reported_and_never_hangs_diff_or_shrink() {
    if !support::jit_or_skip("a_hanging_subject_is_reported_and_never_hangs_diff_or_shrink") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "loop.wsa", b"push 1\ndrop\na:\njmp a\n");
    let small = dir.path().join("small.wsa");
    let (file, small) = (file.to_str().unwrap(), small.to_str().unwrap());
    let hang = ["--fuel", "3", "--mutate", "checked-entry-skips-fuel", "--hang-after", "1"];
    let limit = Duration::from_secs(120);
    let mut args = vec!["diff", file];
    args.extend(hang);
    let (code, out, err) = bounded(&args, limit);
    assert_eq!(code, Some(5), "{out}\n{err}");
    assert!(out.contains("MISMATCH") && out.contains("FAILED: the run hung"), "{out}");
    assert!(out.contains("interp: 4:1: trap: out-of-fuel"), "{out}");
    // The real JIT ends the same case, by fuel, as the reference does.
    let (code, out, err) = bounded(&["diff", file, "--fuel", "3", "--hang-after", "1"], limit);
    assert_eq!(code, Some(0), "{out}\n{err}");

    let mut args = vec!["shrink", file, "-o", small];
    args.extend(hang);
    let (code, out, err) = bounded(&args, limit);
    assert_eq!(code, Some(5), "{out}\n{err}");
    assert!(err.contains("hangs alone") && out.contains("FAILED: the run hung"), "{out}\n{err}");
    let shrunk = std::fs::read_to_string(small).unwrap();
    assert_eq!(shrunk.matches("jmp").count(), 1, "{shrunk}");
    assert!(!shrunk.contains("push"), "the push and drop go: {shrunk}");

    // A mismatch, no hang (the loop counts down, and only the reference runs out of fuel in
    // it), but a candidate without the count's decrement loops for ever: shrinking meets the
    // hang, and shrinks and reports it instead.
    let count =
        write(dir.path(), "count.wsa", b"push 100\na:\npush -1\nadd\ndup\njz e\njmp a\ne:\nend\n");
    let count = count.to_str().unwrap();
    let mut args = vec!["diff", count, "--fuel", "50", "--mutate", "checked-entry-skips-fuel"];
    let (code, out, err) = bounded(&args, limit);
    assert_eq!(code, Some(5), "{out}\n{err}");
    assert!(!out.contains("hung"), "{out}");
    args[0] = "shrink";
    args.extend(["--hang-after", "1"]);
    let (code, out, err) = bounded(&args, limit);
    assert_eq!(code, Some(5), "{out}\n{err}");
    assert!(err.contains("a shrinking candidate") && err.contains("hangs alone"), "{err}");
    assert!(out.contains("FAILED: the run hung"), "{out}");

    let mut args = vec!["diff", file, "--timeout", "0.5"];
    args.extend(["--fuel", "3", "--mutate", "checked-entry-skips-fuel", "--hang-after", "60"]);
    let (code, out, err) = bounded(&args, limit);
    assert_eq!(code, Some(4), "{out}\n{err}");
    assert!(err.contains("did not stop"), "{err}");
}

#[test]
fn run_stats_counts_distinct_heap_cells_written() {
    let dir = tempfile::tempdir().unwrap();
    // Addresses 5 (twice), 0, 10^6 and 2^70: four distinct cells (SEMANTICS: the heap
    // limit, and so this count, is of distinct addresses ever written), one value left on
    // the stack.
    let prog = write(
        dir.path(),
        "cells.wsa",
        b"push 5 | push 1 | store | push 5 | push 2 | store | push 0 | push 3 | store\n\
          push 1000000 | push 4 | store | push 1180591620717411303424 | push 5 | store\n\
          push 7 | end\n",
    );
    let mut engines = vec!["interp"];
    if twinspace::jit::is_available() {
        engines.push("jit");
    }
    for engine in engines {
        let out = twinspace(&["run", prog.to_str().unwrap(), "--engine", engine, "--stats"]);
        assert!(out.status.success(), "{engine}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("[{engine}] 17 instructions"))
                && err.contains("stack depth 1, heap cells 4"),
            "{engine}: {err}"
        );
    }
}
