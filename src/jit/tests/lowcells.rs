//! The low cells: where a run goes over from the checked code to the code that reads and
//! writes constant heap addresses below 1024 unchecked, and back once one of them holds a big
//! value. Neither change may move an outcome.

use super::*;
use crate::jit::coverage::{self, Decision};

/// Runs the JIT going over to the unchecked code after `after` executed instructions, with
/// fuel slices of `slice`; returns the outcome and the decisions the run reached.
fn run_going_over(
    p: &Program,
    limits: Limits,
    after: u64,
    slice: u64,
) -> (Outcome, coverage::Counts) {
    let _ = coverage::take();
    let mut sink = Vec::new();
    let finish = {
        let mut output = Output::new(&mut sink);
        let options = crate::jit::Options {
            low_cells_after: Some(after),
            fuel_slice: Some(slice),
            ..Default::default()
        };
        let (finish, _) =
            crate::jit::run_with(p, limits, &options, &mut Input::from_bytes(b""), &mut output)
                .unwrap();
        finish
    };
    (Outcome { output: sink, finish }, coverage::take())
}

/// Forty turns of a loop that counts in cell 5 and reads cell 3, which turn 21 makes big
/// (2^64, stored from the stepper), then prints both. The setup is 4 instructions and a turn
/// 20 (the last 19), so the store of 2^64 is the 419th instruction executed (turn 21's 11,
/// then the label, two pushes and the store).
const LOOP: &str = "push 5\npush 0\nstore\npush 40\nloop:\npush 5\npush 5\nretrieve\npush 1\nadd\n\
    store\ndup\npush 20\nsub\njz big\nback:\npush 3\nretrieve\ndrop\npush 1\nsub\ndup\njz done\n\
    jmp loop\nbig:\npush 3\npush 18446744073709551616\nstore\njmp back\ndone:\npush 3\nretrieve\n\
    printi\npush 5\nretrieve\nprinti\nend\n";

#[test]
fn going_over_anywhere_keeps_every_outcome() {
    let p = program(LOOP);
    let full = Interp.run_bytes(&p, Limits::DEFAULT, b"").unwrap();
    assert_eq!(full.output, b"1844674407370955161640");
    for after in [0, 1, 2, 20, 100, 410, 418, 419, 420, 425, 500, full.finish.executed, u64::MAX] {
        for slice in [1, 7, 1000] {
            let (got, _) = run_going_over(&p, Limits::DEFAULT, after, slice);
            assert_eq!(got, full, "after {after}, slice {slice}");
        }
        for fuel in (0..=full.finish.executed + 1).step_by(13) {
            let limits = Limits::DEFAULT.with_fuel(fuel);
            let want = Interp.run_bytes(&p, limits, b"").unwrap();
            let (got, _) = run_going_over(&p, limits, after, 7);
            assert_eq!(got, want, "after {after}, fuel {fuel}");
        }
    }
}

#[test]
fn the_driver_goes_over_once_and_back_once() {
    // The driver looks at both where it enters compiled code: at least every slice (50
    // instructions here; with slices shorter than a block the stepper runs every block).
    let p = program(LOOP);
    // Going over at 100 instructions (turn 5), before cell 3 turns big: over, then back.
    let (_, counts) = run_going_over(&p, Limits::DEFAULT, 100, 50);
    assert_eq!(counts.get(Decision::DriverLowCells), 1);
    assert_eq!(counts.get(Decision::DriverBackToChecked), 1);
    // At once: back only.
    let (_, counts) = run_going_over(&p, Limits::DEFAULT, 0, 1000);
    assert_eq!(counts.get(Decision::DriverLowCells), 0);
    assert_eq!(counts.get(Decision::DriverBackToChecked), 1);
    // At 500, after cell 3 turned big: the run stays in the checked code.
    let (_, counts) = run_going_over(&p, Limits::DEFAULT, 500, 50);
    assert_eq!(counts.get(Decision::DriverLowCells), 0);
    assert_eq!(counts.get(Decision::DriverBackToChecked), 0);
    assert_eq!(counts.get(Decision::RetrieveLowCell), 0, "the unchecked code was compiled");
}

/// A counter in cell 5 up to `turns` (12 instructions a turn), printed, after `filler`
/// instructions that leave the stack as it was.
fn counting(filler: usize, turns: u64) -> String {
    let mut src = "push 1\ndrop\n".repeat(filler / 2);
    src += &format!(
        "push 5\npush 0\nstore\npush {turns}\nloop:\npush 5\npush 5\nretrieve\npush 1\nadd\n\
         store\npush 1\nsub\ndup\njz done\njmp loop\ndone:\npush 5\nretrieve\nprinti\nend\n"
    );
    src
}

/// Runs the JIT with its default options; returns the output and the decisions reached.
fn run_default(p: &Program) -> (Vec<u8>, coverage::Counts) {
    let _ = coverage::take();
    let mut sink = Vec::new();
    {
        let mut output = Output::new(&mut sink);
        let options = crate::jit::Options::default();
        crate::jit::run_with(
            p,
            Limits::DEFAULT,
            &options,
            &mut Input::from_bytes(b""),
            &mut output,
        )
        .unwrap();
    }
    (sink, coverage::take())
}

#[test]
fn small_programs_go_over_at_once_and_large_ones_after_running_long() {
    // 22 instructions: the unchecked code from the start.
    let (out, counts) = run_default(&program(&counting(0, 1000)));
    assert_eq!(out, b"1000");
    assert!(counts.get(Decision::RetrieveLowCell) > 0);
    assert_eq!(counts.get(Decision::DriverLowCells), 0);
    // 1,050 instructions running 12,000 of them: checked code only.
    let (out, counts) = run_default(&program(&counting(1028, 1000)));
    assert_eq!(out, b"1000");
    assert_eq!(counts.get(Decision::RetrieveLowCell), 0);
    assert_eq!(counts.get(Decision::DriverLowCells), 0);
    // The same running 12 million: it goes over once past 4,096 per instruction (4.3
    // million), where compiled code next comes back to the driver, at the end of the second
    // fuel slice (2^23).
    let (out, counts) = run_default(&program(&counting(1028, 1_000_000)));
    assert_eq!(out, b"1000000");
    assert!(counts.get(Decision::RetrieveLowCell) > 0);
    assert_eq!(counts.get(Decision::DriverLowCells), 1);
}
