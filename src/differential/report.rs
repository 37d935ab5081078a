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
//! first divergence: with fuel 2 both engines agree, with fuel 3 they differ on stack
//!   the reference's last instructions up to there: ...index, instruction, ordinal...
//!   with fuel 2:  stack [-1, 2]                      <- the state both agree on
//!   with fuel 3, interp: stack [-1]; ...             <- each engine one instruction later
//!   with fuel 3, jit: stack [0]; ...
//!
//! stack (bottom first, one item per line) differs:  <- one unified diff per differing part,
//! --- interp stack                                     reference first; ␠ ␉ ␊ are space,
//! +++ jit stack                                        tab and line feed
//! ```
//!
//! A JIT that runs a basic block as native code only when the fuel covers the whole block
//! shows a wrong value computed inside the block at the block's end: the trace lists the
//! instructions leading there, and the culprit is among them.
//!
//! Invariant: a report is built from runs that actually happened on the case it shows (the
//! [`Finding`]), never from the unshrunk case.

use std::fmt::Write as _;

use num_bigint::BigInt;

use super::diverge::Divergence;
use super::shrink::Shrunk;
use super::{Parts, Signature};
use crate::abbrev::abbreviate;
use crate::case::{format_escaped, format_limits};
use crate::engine::Run;
use crate::engine::RunCase;
use crate::outcome::{Outcome, Termination};
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
        let _ = writeln!(
            out,
            "  the reference's last instructions up to there (a block of native code shows a \
             difference made inside it at its end):"
        );
        // The trace ends with the (executed + 1)-th executed instruction.
        let first = d.executed + 2 - d.trace.len() as u64;
        for (k, &i) in d.trace.iter().enumerate() {
            let ins = program.instruction_text(i);
            let _ =
                writeln!(out, "    {i:>5}  {ins:<24} the {} executed", ordinal(first + k as u64));
        }
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
