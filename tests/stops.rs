//! The built `twinspace` stopped from outside: SIGINT, SIGTERM and `--timeout` keep the output
//! written so far and name the instruction; `run --engine both` streams endless input and
//! output. Waits are bounded waits for a condition, never timed assertions.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Counts 1, 2, 3, ... one number per line, forever.
const COUNT: &str = "push 0\nloop:\npush 1\nadd\ndup\nprinti\npush 10\nprintc\njmp loop\n";
/// Copies input to output, character by character, until the input ends.
const CAT: &str = "loop:\npush 0\ndup\nreadc\nretrieve\nprintc\njmp loop\n";

fn program_file(name: &str, src: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("twinspace-stops-{}-{name}.wsa", std::process::id()));
    std::fs::write(&path, src).unwrap();
    path
}

fn twinspace(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_twinspace"));
    command.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

/// Collects a child's stdout on a thread.
fn collect(child: &mut Child) -> Arc<Mutex<Vec<u8>>> {
    let bytes = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().unwrap();
    let sink = Arc::clone(&bytes);
    std::thread::spawn(move || {
        let mut chunk = [0u8; 65536];
        while let Ok(n) = stdout.read(&mut chunk) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    bytes
}

/// Waits (bounded) until `bytes` holds at least `n` bytes.
fn wait_for_output(bytes: &Mutex<Vec<u8>>, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while bytes.lock().unwrap().len() < n {
        assert!(Instant::now() < deadline, "no output appeared");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill").args([name, &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

/// The numbers 1, 2, ... n, one per line (the last line may lack its line feed, if the stop
/// came between the number and the line feed): nothing printed was lost.
fn assert_counting(bytes: &[u8]) {
    let text = std::str::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    assert!(!lines.is_empty());
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(*line, (i + 1).to_string(), "line {}", i + 1);
    }
}

fn stop_with_signal(engine: &str, name: &str, code: i32, message: &str) {
    let path = program_file(&format!("count-{engine}"), COUNT);
    let mut child = twinspace(&["run", "--engine", engine, path.to_str().unwrap()])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let bytes = collect(&mut child);
    wait_for_output(&bytes, 1);
    signal(&child, name);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{engine}: {stderr}");
    assert!(stderr.contains(&format!("{message} at instruction ")), "{engine}: {stderr}");
    // `FILE:LINE:COL:` first, so that editors jump to the instruction.
    let at = format!("{}:", path.display());
    assert!(stderr.starts_with(&at), "{engine}: {stderr}");
    // The collecting thread has the whole stream once the child has exited and closed it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = 0;
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let len = bytes.lock().unwrap().len();
        if len == last || Instant::now() > deadline {
            break;
        }
        last = len;
    }
    assert_counting(&bytes.lock().unwrap());
}

#[test]
fn sigint_keeps_the_output_and_names_the_instruction() {
    for engine in ["jit", "interp", "both"] {
        stop_with_signal(engine, "-INT", 130, "interrupted (SIGINT)");
    }
}

#[test]
fn sigterm_too() {
    stop_with_signal("jit", "-TERM", 143, "terminated (SIGTERM)");
}

#[test]
fn a_timeout_stops_the_run_as_a_host_error() {
    let path = program_file("count-timeout", COUNT);
    for engine in ["jit", "interp", "both"] {
        let output =
            twinspace(&["run", "--engine", engine, "--timeout", "0.25", path.to_str().unwrap()])
                .stdin(Stdio::null())
                .output()
                .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(4), "{engine}: {stderr}");
        assert!(stderr.contains("timed out after 0.250 s at instruction "), "{engine}: {stderr}");
        assert_counting(&output.stdout);
    }
    for bad in ["0", "-2", "inf", "soon"] {
        let flag = format!("--timeout={bad}");
        let output = twinspace(&["run", &flag, path.to_str().unwrap()]).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{bad}");
        assert!(String::from_utf8_lossy(&output.stderr).contains("--timeout"), "{bad}");
    }
}

#[test]
fn both_engines_stream_an_endless_input_and_stop_at_a_closed_output() {
    let path = program_file("cat", CAT);
    let mut child = twinspace(&["run", "--engine", "both", path.to_str().unwrap()])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    // An endless input: lines of `y` until the child stops reading.
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let line = b"y\n".repeat(4096);
        while stdin.write_all(&line).is_ok() {}
    });
    // Read well past the engines' window, then close the pipe early.
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut chunk = [0u8; 65536];
    while seen.len() < 3 << 20 {
        let n = stdout.read(&mut chunk).unwrap();
        assert!(n > 0, "the output ended early");
        seen.extend_from_slice(&chunk[..n]);
    }
    assert!(seen.chunks(2).all(|c| c == b"y\n" || c == b"y"));
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The run could not finish (a host error, exit 4), and a closed pipe is not worth a message.
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.trim().is_empty(), "{stderr}");
}

#[test]
fn both_engines_show_a_prompt_before_reading_and_agree_on_the_rest() {
    let path =
        program_file("prompt", "push 62\nprintc\npush 0\nreadi\npush 0\nretrieve\nprinti\nend\n");
    let mut child = twinspace(&["run", "--engine", "both", path.to_str().unwrap()])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let bytes = collect(&mut child);
    wait_for_output(&bytes, 1);
    assert_eq!(*bytes.lock().unwrap(), b">", "the prompt, before any input");
    child.stdin.take().unwrap().write_all(b"42\n").unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let deadline = Instant::now() + Duration::from_secs(60);
    while bytes.lock().unwrap().len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(*bytes.lock().unwrap(), b">42");
}

/// A run that never reaches a check point (here a deliberate JIT bug that stops charging
/// fuel, so its fuel slice never ends and the stop request is never read) ignores the first
/// SIGTERM; the second one ends the process at once, as the signal's default does.
#[test]
fn a_second_signal_ends_a_run_that_ignores_the_first() {
    use std::os::unix::process::ExitStatusExt as _;
    let path = program_file("spin", "spin:\njmp spin\n");
    let mut child = twinspace(&[
        "run",
        "--engine",
        "jit:mutate=checked-entry-skips-fuel",
        path.to_str().unwrap(),
    ])
    .stdin(Stdio::null())
    .spawn()
    .unwrap();
    // Let it reach the loop, then ask twice.
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "-TERM");
    std::thread::sleep(Duration::from_millis(300));
    if child.try_wait().unwrap().is_none() {
        signal(&child, "-TERM");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the run outlived two SIGTERMs");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.signal() == Some(15) || status.code() == Some(143), "{status:?}");
}
