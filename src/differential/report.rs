//! The report of a mismatch, for people: the (shrunk) program as an assembly listing and in
//! visible `S`/`T`/`L`, its input and limits, how each engine ended, one unified diff per
//! differing part (invisible characters made visible), the first instruction where the runs
//! part, where the case came from (seed) and the exact commands that re-run it.
//!
//! # Reading a report
//!
//! ```text
//! MISMATCH: interp and jit disagree on stack        <- the parts that differ (the signature)
//! found by:  case seed 0xd28f...: case 0 of `twinspace fuzz --seed 0x1`
//! shrunk:    110 -> 3 instructions, input 178 -> 0 bytes, in 0.01 s (78 tries)
//! limits:    fuel=3                                  <- as in a `limits:` line of a case file
//! kept as:   corpus/regressions/stack-b44e51763f4a4c90.ws, ....expect
//! re-run:    twinspace diff corpus/regressions/stack-b44e51763f4a4c90.ws --fuel 3
//!            twinspace fuzz --replay 0xd28f...         <- regenerates the unshrunk case
//!
//! program (3 instructions, assembly):  ...listing...
//! program (visible S/T/L):             ...one instruction a line, assembly as a comment...
//! input: none
//!
//!   interp: <how it ended>; <counts>                 <- the reference
//!      jit: <how it ended>; <counts>
//!
//! first divergence: instruction 3 (`div`), the 4th executed: both engines agree up to it,
//! right after it they differ on stack                <- the exact instruction
//!   (inside a block of native code: the fuel bisection saw it only at the 14th executed, ...)
//!   the reference's last instructions up to there:   ...index, instruction, ordinal...
//!   before it, both: stack [100, -7, 2]; heap 0 cells; output 0 bytes; next: instruction 3
//!   after it, interp: stack [100, -4]; ...           <- each engine right after it, the JIT's
//!   after it, jit: stack [100, -3]; ...                 state computed by its native code
//!   heap: empty in both                              <- or the cells that differ
//!   output: none from either                         <- or from which byte it differs
//!   call stack after it, interp: empty               <- the reference's (the JIT reports none)
//!
//! stack (bottom first, one item per line) differs:  <- one unified diff per differing part,
//! --- interp stack                                     reference first; ␠ ␉ ␊ are space,
//! +++ jit stack                                        tab and line feed
//! ```
//!
//! A JIT runs a basic block as native code only when the fuel covers the whole block, so the
//! fuel bisection sees a wrong value computed inside the block only at the block's end; the
//! search inside the block ([`super::diverge`]) then names the exact instruction. When it
//! cannot (an engine with no blocks to cut, a difference that spans the cut), the section says
//! why and shows the bisection's step instead (`with fuel N both engines agree, with fuel
//! N + 1 they differ`), with the trace that leads there: the culprit is among its
//! instructions.
//!
//! For an engine that crashed its process or hung, the section names the instruction it
//! fails at (`... and jit crashed running it`), found with every run in a process of its own
//! ([`super::diverge::failure_divergence`]), with the reference's state before it, the
//! engine's own state there (computed by its native code, the block cut right before it) when
//! it differs from the reference's, and the failure after it.
//!
//! Invariant: a report is built from runs that actually happened on the case it shows (the
//! [`Finding`]), never from the unshrunk case.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use num_bigint::BigInt;

use super::diverge::{Divergence, Exact, Located};
use super::shrink::Shrunk;
use super::{Parts, Signature};
use crate::abbrev::abbreviate;
use crate::case::{format_escaped, format_limits};
use crate::engine::RunCase;
use crate::engine::{Failure, Run};
use crate::outcome::{Outcome, Termination, TrapKind};
use crate::program::{Instruction, Program};
use crate::syntax::print_visible;
use crate::textdiff::unified_diff;

/// Everything known about one mismatch, on its final (shrunk) case.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The case as found (before shrinking).
    pub original: RunCase,
    /// The mismatch as found, on the original case.
    pub found: Signature,
    /// The shrinking, if it ran; its `case` is [`Finding::case`].
    pub shrunk: Option<Shrunk>,
    /// The case shown: the shrunk one, or the original.
    pub case: RunCase,
    /// The reference's run of `case`.
    pub reference: Run,
    /// The subject's run of `case`.
    pub subject: Run,
    /// What differs on the case shown.
    pub signature: Signature,
    /// Where the runs part, if it could be found.
    pub divergence: Option<super::diverge::Divergence>,
}

/// A report: a finding and where it came from.
#[derive(Clone, Debug)]
pub struct Report<'a> {
    /// The mismatch.
    pub finding: &'a Finding,
    /// The reference's name (`interp`).
    pub reference_name: String,
    /// The subject's name (`jit`, `jit (mutation ...)`).
    pub subject_name: String,
    /// How the case was found, e.g. `case seed 0x1f... (case 17 of twinspace fuzz --seed 5)`.
    pub origin: Option<String>,
    /// Commands that re-run it exactly.
    pub rerun: Vec<String>,
    /// Where the case was kept, if it was.
    pub kept: Option<String>,
}

impl Report<'_> {
    /// The whole report as text.
    pub fn render(&self) -> String {
        let f = self.finding;
        let case = &f.case;
        let (rn, sn) = (&self.reference_name, &self.subject_name);
        let mut out = String::new();
        let _ = writeln!(out, "MISMATCH: {rn} and {sn} disagree on {}", f.signature);
        if let Some(origin) = &self.origin {
            let _ = writeln!(out, "found by:  {origin}");
        }
        if f.found != f.signature {
            let _ = writeln!(out, "found as:  disagreeing on {} (before shrinking)", f.found);
        }
        if let Some(s) = &f.shrunk {
            let _ = writeln!(
                out,
                "shrunk:    {} -> {} instructions, input {} -> {} bytes, in {:.2} s ({} tries{})",
                f.original.program.len(),
                case.program.len(),
                f.original.input.len(),
                case.input.len(),
                s.elapsed.as_secs_f64(),
                s.tries,
                if s.complete { "" } else { "; stopped by the time budget" }
            );
            if let Some((len, cause)) = &s.first_phase {
                if *len != case.program.len() {
                    let _ = writeln!(
                        out,
                        "           ({len} instructions keeping the mismatch as found, then {} \
                         keeping its first effect: {cause})",
                        case.program.len()
                    );
                }
            }
        }
        let _ = writeln!(out, "limits:    {}", format_limits(case.limits));
        if let Some(kept) = &self.kept {
            let _ = writeln!(out, "kept as:   {kept}");
        }
        for (i, cmd) in self.rerun.iter().enumerate() {
            let _ = writeln!(out, "{}{cmd}", if i == 0 { "re-run:    " } else { "           " });
        }
        let _ = writeln!(out, "\nprogram ({} instructions, assembly):", case.program.len());
        out.push_str(&indent(&asm_listing(&case.program)));
        let _ = writeln!(out, "program (visible S/T/L):");
        out.push_str(&indent(&visible_listing(&case.program)));
        if case.input.is_empty() {
            let _ = writeln!(out, "input: none");
        } else {
            let _ = writeln!(
                out,
                "input ({}): {}",
                count(case.input.len(), "byte"),
                format_escaped(&case.input)
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "{rn:>8}: {}", summary(&case.program, &f.reference));
        let _ = writeln!(out, "{sn:>8}: {}", summary(&case.program, &f.subject));
        if let Some(d) = &f.divergence {
            out.push('\n');
            out.push_str(&divergence(&case.program, d, rn, sn));
        }
        out.push('\n');
        out.push_str(&part_diffs(
            &case.program,
            &f.reference,
            &f.subject,
            f.signature.differs,
            rn,
            sn,
        ));
        out
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

/// One line about a run: how it ended, its size.
fn summary(program: &Program, run: &Run) -> String {
    match &run.result {
        Err(e) => format!("FAILED: {e}"),
        Ok(o) => {
            let mut s = format!(
                "{}; {} executed; output {}; stack {}; heap {}",
                termination(program, &o.finish.termination),
                o.finish.executed,
                count(o.output.len(), "byte"),
                count(o.finish.stack.len(), "item"),
                count(o.finish.heap.len(), "cell")
            );
            if run.handovers > 0 {
                let _ = write!(s, "; {} hand-overs to big integers", run.handovers);
            }
            s
        }
    }
}

/// `1 item`, `2 items`.
fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// `ended`, or `3:1: trap: division-by-zero at instruction 2 (`div`)` (placed as the
/// command line places traps, so editors can jump to it).
pub fn termination(program: &Program, t: &Termination) -> String {
    match t {
        Termination::Ended => "ended".to_owned(),
        Termination::Trapped(t) => t.message(None, program),
    }
}

fn stack_text(stack: &[BigInt]) -> String {
    stack.iter().map(|v| format!("{}\n", diff_value(v))).collect()
}

/// The transcript for a diff, one line per item: `> "..."` for the output flushed before a
/// read (then after the last one), `< read at input byte N` for each read. A long piece of
/// output is shown by its ends and its length.
fn transcript_text(outcome: &Outcome) -> String {
    const SHOWN: usize = 24;
    let output = &outcome.output;
    let piece = |bytes: &[u8]| {
        if bytes.len() <= 2 * SHOWN {
            format!("> {}\n", format_escaped(bytes))
        } else {
            let (head, tail) = (&bytes[..SHOWN], &bytes[bytes.len() - SHOWN..]);
            let (head, tail) = (format_escaped(head), format_escaped(tail));
            let (head, tail) = (&head[..head.len() - 1], &tail[1..]);
            format!("> {head}…{tail} ({} bytes)\n", bytes.len())
        }
    };
    let mut text = String::new();
    let mut at = 0;
    for read in &outcome.finish.reads {
        let flushed = usize::try_from(read.flushed).unwrap_or(usize::MAX).min(output.len());
        if flushed > at {
            text.push_str(&piece(&output[at..flushed]));
            at = flushed;
        }
        let _ = writeln!(text, "< read at input byte {}", read.consumed);
    }
    if at < output.len() {
        text.push_str(&piece(&output[at..]));
    }
    text
}

fn heap_text(outcome: &Outcome) -> String {
    outcome
        .finish
        .heap
        .iter()
        .map(|(a, v)| format!("{}: {}\n", diff_value(a), diff_value(v)))
        .collect()
}

/// A value for one line of a diff: abbreviated when long ([`abbreviate`]), with a fingerprint
/// of the whole value then, so that two long values that differ only in their middle digits
/// still show as different lines.
fn diff_value(v: &BigInt) -> String {
    let text = abbreviate(v);
    if !text.contains('…') {
        return text;
    }
    // FNV-1a over the value's bytes: any change anywhere shows.
    let hash = v.to_signed_bytes_le().iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{text} #{:08x}", hash as u32)
}

/// The program as an assembly listing for a report: as `print_asm` writes it, but with long
/// numbers abbreviated (the kept `.ws` file holds them exactly).
fn asm_listing(program: &Program) -> String {
    let mut out = String::new();
    for (i, ins) in program.instructions().iter().enumerate() {
        match ins {
            Instruction::Label(l) => {
                let _ = writeln!(out, "{l}:");
            }
            _ if ins.number().is_some() => {
                let _ = writeln!(out, "    {}", program.instruction_text(i));
            }
            _ => {
                let _ = writeln!(out, "    {ins}");
            }
        }
    }
    out
}

/// The program in visible notation for a report, with the letters of a long number cut
/// down to both ends and a count.
fn visible_listing(program: &Program) -> String {
    const LONG: usize = 100;
    let mut out = String::new();
    for (i, line) in print_visible(program).lines().enumerate() {
        match program.instructions().get(i).and_then(|ins| ins.number()) {
            Some(n) if line.len() > LONG => {
                let letters = n.bits() as usize + 2;
                let ins = &program.instructions()[i];
                let tokens = ins.opcode().tokens();
                let digits = &line[tokens.len() + 1..tokens.len() + 1 + letters];
                let _ = writeln!(
                    out,
                    "{tokens} {}…{} ({letters} letters)  ; {}",
                    &digits[..16],
                    &digits[letters - 16..],
                    program.instruction_text(i).to_lowercase()
                );
            }
            _ => {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    out
}

/// The last few stack items, bottom first, as `[.., 3, 4]`.
fn stack_tail(stack: &[BigInt]) -> String {
    const SHOWN: usize = 6;
    let skip = stack.len().saturating_sub(SHOWN);
    let items: Vec<String> = stack[skip..].iter().map(abbreviate).collect();
    format!("[{}{}]", if skip > 0 { ".., " } else { "" }, items.join(", "))
}

fn divergence(program: &Program, d: &Divergence, rn: &str, sn: &str) -> String {
    if let Located::Exact(e) = &d.located {
        return exact_divergence(program, d, e, rn, sn);
    }
    let mut out = String::new();
    let (ra, sa) = &d.after;
    if d.executed == 0 && d.index.is_none() {
        let _ = writeln!(
            out,
            "first divergence: the runs differ even with no fuel at all ({})",
            d.signature
        );
    } else {
        let _ = writeln!(
            out,
            "first divergence: with fuel {} both engines agree, with fuel {} they differ on {}",
            d.executed,
            d.executed + 1,
            d.signature
        );
        if let Located::Coarse(why) = &d.located {
            let _ = writeln!(out, "  (not narrowed inside the block: {why})");
        }
        let _ = writeln!(
            out,
            "  the reference's last instructions up to there (a block of native code shows a \
             difference made inside it at its end):"
        );
        // The trace ends with the (executed + 1)-th executed instruction.
        out.push_str(&trace_lines(program, &d.trace, d.executed + 2, None));
    }
    if let Ok(o) = &d.before.result {
        let _ = writeln!(out, "  with fuel {}:  stack {}", d.executed, stack_tail(&o.finish.stack));
    }
    for (name, run) in [(rn, ra), (sn, sa)] {
        match &run.result {
            Ok(o) => {
                let _ = writeln!(
                    out,
                    "  with fuel {}, {name}: stack {}; {}",
                    d.executed + 1,
                    stack_tail(&o.finish.stack),
                    termination(program, &o.finish.termination)
                );
            }
            Err(e) => {
                let _ = writeln!(out, "  with fuel {}, {name}: FAILED: {e}", d.executed + 1);
            }
        }
    }
    out
}

/// The trace as lines: index, instruction, ordinal; `trace` ends with the `(end - 1)`-th
/// executed instruction, and `mark` flags the last one.
fn trace_lines(program: &Program, trace: &[usize], end: u64, mark: Option<&str>) -> String {
    let mut out = String::new();
    let first = end.saturating_sub(trace.len() as u64);
    for (k, &i) in trace.iter().enumerate() {
        let ins = instruction_name(program, i);
        let here = match mark {
            Some(m) if k + 1 == trace.len() => m,
            _ => "",
        };
        let _ =
            writeln!(out, "    {i:>5}  {ins:<24} the {} executed{here}", ordinal(first + k as u64));
    }
    out
}

/// An instruction's text, or what stands past the end of the program.
fn instruction_name(program: &Program, index: usize) -> String {
    if index < program.len() { program.instruction_text(index) } else { "(past the end)".into() }
}

/// The report's section on an exact divergence: the instruction, both states right after it.
fn exact_divergence(program: &Program, d: &Divergence, e: &Exact, rn: &str, sn: &str) -> String {
    let mut out = String::new();
    let at = e.executed + 1;
    // Both stopped by their fuel, at different instructions: control went different ways.
    let out_of_fuel = |r: &Run| {
        r.result.as_ref().is_ok_and(|o| {
            o.finish.termination.trap().is_some_and(|t| t.kind == TrapKind::OutOfFuel)
        })
    };
    let what = if e.signature.differs == Parts::TERMINATION
        && out_of_fuel(&e.after.0)
        && out_of_fuel(&e.after.1)
    {
        "the instruction that runs next".to_owned()
    } else {
        e.signature.to_string()
    };
    let failed = match &e.after.1.result {
        Err(f @ (Failure::Crash(_) | Failure::Hang(_))) => Some(f),
        _ => None,
    };
    match failed {
        Some(f) => {
            let how = if matches!(f, Failure::Hang(_)) {
                "hung: given fuel up to it (its block cut right after it), it runs on"
            } else {
                "crashed running it"
            };
            let _ = writeln!(
                out,
                "first divergence: instruction {} (`{}`), the {} executed: both engines agree \
                 up to it, and {sn} {how}",
                e.index,
                instruction_name(program, e.index),
                ordinal(at),
            );
        }
        None => {
            let _ = writeln!(
                out,
                "first divergence: instruction {} (`{}`), the {} executed: both engines agree \
                 up to it, right after it they differ on {what}",
                e.index,
                instruction_name(program, e.index),
                ordinal(at),
            );
        }
    }
    let checked = if failed.is_some() {
        format!("each run in a process of its own, {} runs", e.runs)
    } else {
        format!("{} runs", e.runs)
    };
    if at == d.executed + 1 {
        let _ = writeln!(
            out,
            "  (where the fuel bisection found it; checked with {sn}'s block cut right after \
             it, {checked})"
        );
    } else {
        let _ = writeln!(
            out,
            "  (inside a block of native code: the fuel bisection saw it only at the {} \
             executed, where the block ends; {sn} re-run with the block cut right after each \
             candidate, {checked})",
            ordinal(d.executed + 1),
        );
    }
    let _ = writeln!(out, "  the reference's last instructions up to there:");
    out.push_str(&trace_lines(program, &e.trace, at + 1, Some("  <- here")));
    let before = e.before.result.as_ref().ok();
    let subject_before = e.subject_before.as_ref().map(|r| r.result.as_ref());
    match (before, subject_before) {
        (Some(o), None) => {
            let _ = writeln!(out, "  before it, both: {}", state(program, o));
        }
        (Some(o), Some(Ok(s))) if s == o => {
            let _ = writeln!(
                out,
                "  before it, both: {} ({sn}'s computed by its native code, cut right before it)",
                state(program, o)
            );
        }
        (o, s) => {
            if let Some(o) = o {
                let _ = writeln!(out, "  before it, {rn}: {}", state(program, o));
            }
            match s {
                Some(Ok(s)) => {
                    let _ = writeln!(
                        out,
                        "  before it, {sn} (its native code, cut right before it): {}",
                        state(program, s)
                    );
                }
                Some(Err(f)) => {
                    let _ = writeln!(out, "  before it, {sn}: FAILED: {f}");
                }
                None => {}
            }
        }
    }
    let (ra, sa) = &e.after;
    for (name, run) in [(rn, ra), (sn, sa)] {
        match &run.result {
            Ok(o) => {
                let _ = writeln!(out, "  after it, {name}: {}", state(program, o));
            }
            Err(f) => {
                let _ = writeln!(out, "  after it, {name}: FAILED: {f}");
            }
        }
    }
    if let (Ok(a), Ok(b)) = (&ra.result, &sa.result) {
        out.push_str(&heap_difference(&a.finish.heap, &b.finish.heap, rn, sn));
        out.push_str(&output_difference(&a.output, &b.output, rn, sn));
    }
    let calls: Vec<String> = e.calls.iter().map(usize::to_string).collect();
    let _ = writeln!(
        out,
        "  call stack after it, {rn}: {} ({sn} does not report its own)",
        if calls.is_empty() {
            "empty".to_owned()
        } else {
            format!("[{}] (return positions, innermost last)", calls.join(", "))
        }
    );
    out
}

/// One engine's state for a divergence: stack, heap size, output size, and where it stands
/// (the next instruction, for a run stopped by its fuel).
fn state(program: &Program, o: &Outcome) -> String {
    let next = match &o.finish.termination {
        Termination::Trapped(t) if t.kind == TrapKind::OutOfFuel => {
            format!("next: instruction {} (`{}`)", t.index, instruction_name(program, t.index))
        }
        t => termination(program, t),
    };
    format!(
        "stack {}; heap {}; output {}; {next}",
        stack_tail(&o.finish.stack),
        count(o.finish.heap.len(), "cell"),
        count(o.output.len(), "byte")
    )
}

/// The heap cells whose values differ (at most a few), or that none do.
fn heap_difference(
    a: &BTreeMap<BigInt, BigInt>,
    b: &BTreeMap<BigInt, BigInt>,
    rn: &str,
    sn: &str,
) -> String {
    const SHOWN: usize = 6;
    let keys: BTreeSet<&BigInt> = a.keys().chain(b.keys()).collect();
    let differing: Vec<&BigInt> = keys.into_iter().filter(|k| a.get(*k) != b.get(*k)).collect();
    if differing.is_empty() {
        return if a.is_empty() {
            "  heap: empty in both\n".to_owned()
        } else {
            format!("  heap: the same {}\n", count(a.len(), "cell"))
        };
    }
    let value = |v: Option<&BigInt>| v.map_or_else(|| "never written".to_owned(), abbreviate);
    let mut out = format!("  heap cells that differ ({}):\n", differing.len());
    for k in differing.iter().take(SHOWN) {
        let _ = writeln!(
            out,
            "    {}: {rn} {}, {sn} {}",
            abbreviate(k),
            value(a.get(*k)),
            value(b.get(*k))
        );
    }
    if differing.len() > SHOWN {
        let _ = writeln!(out, "    ... and {} more", differing.len() - SHOWN);
    }
    out
}

/// Whether the outputs agree, or from which byte they differ and how.
fn output_difference(a: &[u8], b: &[u8], rn: &str, sn: &str) -> String {
    const SHOWN: usize = 32;
    if a == b {
        return if a.is_empty() {
            "  output: none from either\n".to_owned()
        } else {
            format!("  output: the same {}\n", count(a.len(), "byte"))
        };
    }
    let at = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let tail = |o: &[u8]| {
        let rest = &o[at..];
        let cut = &rest[..rest.len().min(SHOWN)];
        format!("{}{}", format_escaped(cut), if rest.len() > SHOWN { " ..." } else { "" })
    };
    format!("  output differs from byte {at}: {rn} {}, {sn} {}\n", tail(a), tail(b))
}

fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// A unified diff per differing part (reference as the old side).
fn part_diffs(program: &Program, a: &Run, b: &Run, parts: Parts, rn: &str, sn: &str) -> String {
    match (&a.result, &b.result) {
        (Ok(oa), Ok(ob)) => outcome_diffs(program, oa, ob, parts, rn, sn),
        _ => String::new(),
    }
}

/// One unified diff (invisible characters shown) per part of `parts`, between the outcomes of
/// `program` on engines named `rn` and `sn`.
pub fn outcome_diffs(
    program: &Program,
    oa: &Outcome,
    ob: &Outcome,
    parts: Parts,
    rn: &str,
    sn: &str,
) -> String {
    let mut out = String::new();
    for part in parts.iter() {
        let (ta, tb): (Vec<u8>, Vec<u8>) = match part {
            Parts::OUTPUT => (oa.output.clone(), ob.output.clone()),
            Parts::TERMINATION => (
                format!("{}\n", termination(program, &oa.finish.termination)).into_bytes(),
                format!("{}\n", termination(program, &ob.finish.termination)).into_bytes(),
            ),
            Parts::STACK => (
                stack_text(&oa.finish.stack).into_bytes(),
                stack_text(&ob.finish.stack).into_bytes(),
            ),
            Parts::HEAP => (heap_text(oa).into_bytes(), heap_text(ob).into_bytes()),
            Parts::TRANSCRIPT => {
                (transcript_text(oa).into_bytes(), transcript_text(ob).into_bytes())
            }
            _ => (
                format!("{}\n", oa.finish.executed).into_bytes(),
                format!("{}\n", ob.finish.executed).into_bytes(),
            ),
        };
        let what = match part {
            Parts::OUTPUT => "output (bytes, invisible characters shown)",
            Parts::STACK => "stack (bottom first, one item per line)",
            Parts::HEAP => "heap (address: value, one cell per line)",
            Parts::TERMINATION => "termination",
            Parts::TRANSCRIPT => "transcript (output flushed before each read, then the read)",
            _ => "instructions executed",
        };
        let _ = writeln!(out, "{what} differs:");
        let name = part.part_name();
        out.push_str(&unified_diff(&format!("{rn} {name}"), &ta, &format!("{sn} {name}"), &tb));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Finish;
    use num_traits::One;

    fn outcome_with_stack(stack: Vec<BigInt>) -> Outcome {
        Outcome {
            output: Vec::new(),
            finish: Finish {
                termination: Termination::Ended,
                stack,
                heap: Default::default(),
                executed: 1,
                reads: Vec::new(),
            },
        }
    }

    #[test]
    fn diffs_abbreviate_long_values_and_still_tell_them_apart() {
        let program = crate::syntax::assemble("end\n").unwrap();
        let big = BigInt::one() << 100_000u32;
        // Differs only in a middle bit: the same size, and lines that still differ.
        let close = &big + (BigInt::one() << 50_000u32);
        let a = outcome_with_stack(vec![big.clone(), BigInt::from(1)]);
        let b = outcome_with_stack(vec![close, BigInt::from(1)]);
        let diff = outcome_diffs(&program, &a, &b, Parts::STACK, "interp", "jit");
        assert!(diff.len() < 1000, "{diff}");
        let removed: Vec<&str> = diff.lines().filter(|l| l.starts_with("-9")).collect();
        let added: Vec<&str> = diff.lines().filter(|l| l.starts_with("+9")).collect();
        assert_eq!((removed.len(), added.len()), (1, 1), "{diff}");
        assert_ne!(removed[0][1..], added[0][1..], "{diff}");
        assert!(removed[0].contains("(30103␠digits,␠100001␠bits)"), "{diff}");
    }

    #[test]
    fn listings_in_reports_abbreviate_long_literals() {
        let program =
            crate::syntax::assemble(&format!("push 1{}\nend\n", "0".repeat(300))).unwrap();
        let asm = asm_listing(&program);
        assert!(asm.starts_with("    push 1000000000…0000000000 (301 digits"), "{asm}");
        let visible = visible_listing(&program);
        assert!(visible.lines().all(|l| l.len() < 200), "{visible}");
        assert!(visible.contains("letters)"), "{visible}");
    }

    #[test]
    fn transcript_diffs_show_where_the_reads_fall() {
        use crate::outcome::ReadPoint;
        let program = crate::syntax::assemble("end\n").unwrap();
        let with_reads = |output: &[u8], reads: &[(u64, u64)]| {
            let mut o = outcome_with_stack(vec![]);
            o.output = output.to_vec();
            o.finish.reads =
                reads.iter().map(|&(consumed, flushed)| ReadPoint { consumed, flushed }).collect();
            o
        };
        let long = [b'x'; 100];
        let a = with_reads(&[b"?".as_slice(), &long].concat(), &[(0, 1), (1, 101)]);
        let b = with_reads(&[b"?".as_slice(), &long].concat(), &[(0, 0), (1, 101)]);
        let diff = outcome_diffs(&program, &a, &b, Parts::TRANSCRIPT, "interp", "jit");
        assert!(diff.starts_with("transcript (output flushed before each read"), "{diff}");
        let expected = "\
transcript (output flushed before each read, then the read) differs:
--- interp transcript
+++ jit transcript
@@ -1,4 +1,3 @@
->␠\"?\"␊
 <␠read␠at␠input␠byte␠0␊
->␠\"xxxxxxxxxxxxxxxxxxxxxxxx…xxxxxxxxxxxxxxxxxxxxxxxx\"␠(100␠bytes)␊
+>␠\"?xxxxxxxxxxxxxxxxxxxxxxx…xxxxxxxxxxxxxxxxxxxxxxxx\"␠(101␠bytes)␊
 <␠read␠at␠input␠byte␠1␊
";
        assert_eq!(diff, expected);
    }
}
