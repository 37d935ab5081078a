//! The printer: a [`Program`] to raw `.ws` bytes, visible `S`/`T`/`L` text, or an assembly
//! listing. Each form parses back to the same instructions (property-tested in `syntax`).

use num_bigint::{BigInt, Sign};

use crate::program::{Instruction, Position, Program};

/// Appends one instruction's tokens as visible letters (`S`, `T`, `L`).
fn letters(ins: &Instruction, out: &mut String) {
    out.push_str(ins.opcode().tokens());
    argument_letters(ins, out);
}

/// Appends the tokens of an instruction's argument, if it has one.
fn argument_letters(ins: &Instruction, out: &mut String) {
    if let Some(n) = ins.number() {
        number_letters(n, out);
    }
    if let Some(l) = ins.label() {
        out.push_str(l.letters());
        out.push('L');
    }
}

/// A number's tokens: sign (`S` for zero and positive, `T` for negative), the magnitude in
/// binary with no leading zeros, then `L`. Zero is written with one `0` digit (`SSL`), not
/// with none (`SL`): SEMANTICS.md reads both as 0, but other implementations (which
/// `twinspace conform` and `fuzz --engine cmd:` run these files on) often refuse a number
/// without digits.
fn number_letters(n: &BigInt, out: &mut String) {
    out.push(if n.sign() == Sign::Minus { 'T' } else { 'S' });
    for c in n.magnitude().to_str_radix(2).chars() {
        out.push(if c == '1' { 'T' } else { 'S' });
    }
    out.push('L');
}

/// A program from instructions alone, with the positions they have in their canonical `.ws`
/// encoding (as [`print_ws`] writes it): what generated and shrunk programs are given, so
/// that a trap's line and column are those of the file a reproducer is saved as.
pub fn canonical(instructions: Vec<Instruction>) -> Program {
    let mut positions = Vec::with_capacity(instructions.len());
    let mut pos = Position::START;
    let mut scratch = Vec::new();
    for ins in &instructions {
        positions.push(pos);
        scratch.clear();
        encode_instruction(ins, &mut scratch);
        for &b in &scratch {
            pos = pos.advance(b);
        }
    }
    Program::new(instructions, positions, pos)
}

/// Appends one instruction's raw Whitespace bytes.
pub fn encode_instruction(ins: &Instruction, out: &mut Vec<u8>) {
    let mut text = String::new();
    letters(ins, &mut text);
    out.extend(text.bytes().map(|b| match b {
        b'S' => b' ',
        b'T' => b'\t',
        _ => b'\n',
    }));
}

/// The program as raw Whitespace bytes, with no comments.
pub fn print_ws(program: &Program) -> Vec<u8> {
    let mut out = Vec::new();
    for ins in program.instructions() {
        encode_instruction(ins, &mut out);
    }
    out
}

/// The program in visible notation: one instruction per line, opcode and argument apart, and
/// the assembly form as a comment (lower case, so it adds no tokens).
pub fn print_visible(program: &Program) -> String {
    let mut out = String::new();
    for ins in program.instructions() {
        let start = out.len();
        out.push_str(ins.opcode().tokens());
        if ins.number().is_some() || ins.label().is_some() {
            out.push(' ');
            argument_letters(ins, &mut out);
        }
        let width = out.len() - start;
        out.push_str(&" ".repeat(24usize.saturating_sub(width).max(1)));
        out.push_str("; ");
        out.push_str(&comment_form(ins));
        out.push('\n');
    }
    out
}

/// The assembly form with every capital `S`, `T` and `L` removed, safe as a visible comment.
fn comment_form(ins: &Instruction) -> String {
    let op = ins.opcode().mnemonic();
    match (ins.number(), ins.label()) {
        (Some(n), _) => format!("{op} {n}"),
        (_, Some(l)) => {
            let name: String =
                l.letters().chars().map(|c| if c == 'S' { 's' } else { 't' }).collect();
            format!("{op} %{name}")
        }
        _ => op.to_owned(),
    }
}

/// The program as an assembly listing, one instruction per line; labels are written exactly
/// (`%` and their `S`/`T` letters) so the listing assembles back to the same program.
pub fn print_asm(program: &Program) -> String {
    let mut out = String::new();
    for ins in program.instructions() {
        if let Instruction::Label(l) = ins {
            out.push_str(&format!("{l}:\n"));
        } else {
            out.push_str(&format!("    {ins}\n"));
        }
    }
    out
}
