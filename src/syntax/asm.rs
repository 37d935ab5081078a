//! The assembler: a readable listing to a [`Program`].
//!
//! ```text
//! # comments start with `#` or `;`; `|` separates instructions on one line
//!         push 10 | push 'a'    ; numbers: decimal, 0x hex, or a character in quotes
//! loop:                         ; `name:` defines a label, as does `label name`
//!         dup | jz done
//!         push -1 | add | jmp loop
//! done:   end
//! %STS:                         ; `%` + S/T letters is an exact label (`%` alone: the empty one)
//! ```
//!
//! Invariant: symbolic names are given the shortest `S`/`T` strings that no exact label of the
//! listing uses, in order of first appearance, so distinct names never share a label; exact
//! labels are kept to the letter, which makes `print_asm` output assemble to the same program.
//! The names are remembered beside the program ([`Program::label_name`]) so that diagnostics
//! say `jmp nowhere`, as the listing does, rather than `jmp %S`.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use num_bigint::BigInt;

use super::error::{SourceError, SourceErrorKind};
use crate::program::{Argument, Instruction, Label, Opcode, Position, Program};

/// A label reference as written: exact letters, or a name to be given letters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum LabelRef {
    Exact(Label),
    Named(String),
}

/// A statement before labels are assigned.
struct Statement {
    opcode: Opcode,
    number: Option<BigInt>,
    label: Option<LabelRef>,
    position: Position,
}

/// Assembles a listing given as bytes: [`assemble`], after checking that the bytes are UTF-8
/// (an [`InvalidUtf8`](SourceErrorKind::InvalidUtf8) error at the first byte that is not).
pub fn assemble_bytes(source: &[u8]) -> Result<Program, SourceError> {
    match std::str::from_utf8(source) {
        Ok(text) => assemble(text),
        Err(e) => {
            let bad = e.valid_up_to();
            Err(SourceError {
                kind: SourceErrorKind::InvalidUtf8,
                position: end_position_of(&source[..bad]),
                message: format!(
                    "invalid UTF-8 (byte {:#04x}); an assembly listing must be UTF-8",
                    source[bad]
                ),
            })
        }
    }
}

/// Assembles a listing into a program; positions are those of the mnemonics in `text`.
///
/// ```
/// use twinspace::syntax::assemble;
///
/// let program = assemble("push 2 | push 3 | mul | printi | end").unwrap();
/// assert_eq!(program.instructions().len(), 5);
/// assert_eq!(program.instructions()[2].to_string(), "mul");
/// assert_eq!(program.position(1).column, 10);
/// ```
pub fn assemble(text: &str) -> Result<Program, SourceError> {
    let mut statements = Vec::new();
    let mut line_start = 0usize;
    for (line_index, line) in text.split_inclusive('\n').enumerate() {
        for (mut column, mut piece) in pieces(line) {
            let at = |column: usize| Position {
                offset: line_start + column,
                line: line_index + 1,
                column: column + 1,
            };
            // `name:` may stand before an instruction on the same line.
            if let Some(colon) = piece.find(':') {
                let name = &piece[..colon];
                if !name.contains(|c: char| c.is_whitespace() || c == '\'') {
                    statements.push(statement(&piece[..=colon], at(column))?);
                    let rest = &piece[colon + 1..];
                    let trimmed = rest.trim_start();
                    column += colon + 1 + (rest.len() - trimmed.len());
                    piece = trimmed;
                    if piece.is_empty() {
                        continue;
                    }
                }
            }
            statements.push(statement(piece, at(column))?);
        }
        line_start += line.len();
    }
    let end = end_position(text);

    let exact: HashSet<&Label> = statements
        .iter()
        .filter_map(|s| match &s.label {
            Some(LabelRef::Exact(l)) => Some(l),
            _ => None,
        })
        .collect();
    let mut names: HashMap<&str, Label> = HashMap::new();
    let mut fresh = (1usize..).flat_map(all_labels_of_length).filter(|l| !exact.contains(l));
    for s in &statements {
        if let Some(LabelRef::Named(n)) = &s.label {
            if !names.contains_key(n.as_str()) {
                let label = fresh.next().expect("labels are unbounded");
                names.insert(n, label);
            }
        }
    }

    let mut instructions = Vec::with_capacity(statements.len());
    let mut positions = Vec::with_capacity(statements.len());
    for s in &statements {
        let label = s.label.as_ref().map(|r| match r {
            LabelRef::Exact(l) => l.clone(),
            LabelRef::Named(n) => names[n.as_str()].clone(),
        });
        instructions.push(Instruction::with_argument(
            s.opcode,
            s.number.clone().unwrap_or_default(),
            label.unwrap_or_default(),
        ));
        positions.push(s.position);
    }
    let label_names = names.into_iter().map(|(name, label)| (label, name.to_owned())).collect();
    Ok(Program::new(instructions, positions, end).with_label_names(label_names))
}

fn end_position(text: &str) -> Position {
    end_position_of(text.as_bytes())
}

fn end_position_of(bytes: &[u8]) -> Position {
    bytes.iter().fold(Position::START, |p, &b| p.advance(b))
}

/// Every label of exactly `len` letters, in lexicographic order (`S` before `T`).
fn all_labels_of_length(len: usize) -> impl Iterator<Item = Label> {
    (0u64..1 << len.min(63)).map(move |k| Label::from_bits((0..len).rev().map(|b| k >> b & 1 == 1)))
}

/// The statements of one line with their byte columns: comments cut, split at `|`.
fn pieces(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut piece_start = 0;
    let mut in_quote = false;
    let mut escaped = false;
    let mut end = line.len();
    for (i, c) in line.char_indices() {
        if in_quote {
            match (escaped, c) {
                (false, '\\') => escaped = true,
                (false, '\'') => in_quote = false,
                _ => escaped = false,
            }
            continue;
        }
        match c {
            '\'' => in_quote = true,
            '#' | ';' => {
                end = i;
                break;
            }
            '|' => {
                out.push((piece_start, &line[piece_start..i]));
                piece_start = i + 1;
            }
            _ => {}
        }
    }
    out.push((piece_start, &line[piece_start..end]));
    out.into_iter()
        .filter_map(|(start, p)| {
            let trimmed = p.trim_start();
            let start = start + (p.len() - trimmed.len());
            let trimmed = trimmed.trim_end();
            (!trimmed.is_empty()).then_some((start, trimmed))
        })
        .collect()
}

fn statement(text: &str, position: Position) -> Result<Statement, SourceError> {
    let fail = |message: String| SourceError { kind: SourceErrorKind::Assembly, position, message };
    if let Some(name) = text.strip_suffix(':') {
        let label = label_ref(name.trim()).map_err(fail)?;
        return Ok(Statement { opcode: Opcode::Label, number: None, label: Some(label), position });
    }
    let (mnemonic, arg) = match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], text[i..].trim()),
        None => (text, ""),
    };
    let opcode = Opcode::from_mnemonic(mnemonic)
        .ok_or_else(|| fail(format!("unknown instruction `{mnemonic}`")))?;
    let (mut number, mut label) = (None, None);
    match opcode.argument() {
        Argument::Number => {
            if arg.is_empty() {
                return Err(fail(format!("`{mnemonic}` needs a number")));
            }
            number = Some(number_literal(arg).map_err(fail)?);
        }
        Argument::Label => {
            if arg.is_empty() {
                return Err(fail(format!("`{mnemonic}` needs a label")));
            }
            label = Some(label_ref(arg).map_err(fail)?);
        }
        Argument::None if !arg.is_empty() => {
            return Err(fail(format!("`{mnemonic}` takes no argument")));
        }
        Argument::None => {}
    }
    Ok(Statement { opcode, number, label, position })
}

fn label_ref(text: &str) -> Result<LabelRef, String> {
    if let Some(letters) = text.strip_prefix('%') {
        return Label::from_letters(letters)
            .map(LabelRef::Exact)
            .ok_or_else(|| format!("exact label `{text}` may hold only S and T after `%`"));
    }
    let mut chars = text.chars();
    let valid_start = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_' || c == '.');
    if valid_start && chars.all(|c| c.is_alphanumeric() || "_.$-".contains(c)) {
        Ok(LabelRef::Named(text.to_owned()))
    } else {
        Err(format!("bad label `{text}`: a name (letter, digit, `_`, `.`) or `%` and S/T letters"))
    }
}

/// A number argument: decimal (optional sign), `0x` hex, or a quoted character.
fn number_literal(text: &str) -> Result<BigInt, String> {
    if let Some(inner) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        return char_literal(inner).map(|c| BigInt::from(c as u32));
    }
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let parsed = if let Some(hex) = digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
        (!hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| BigInt::parse_bytes(hex.as_bytes(), 16))
            .flatten()
    } else {
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| BigInt::from_str(digits).ok())
            .flatten()
    };
    let magnitude = parsed.ok_or_else(|| format!("bad number `{text}`"))?;
    Ok(if negative { -magnitude } else { magnitude })
}

fn char_literal(inner: &str) -> Result<char, String> {
    let mut chars = inner.chars();
    let c = match (chars.next(), chars.next()) {
        (Some('\\'), Some(e)) => match e {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            '0' => '\0',
            's' => ' ',
            '\\' | '\'' => e,
            _ => return Err(format!("unknown escape `\\{e}`")),
        },
        (Some(c), None) => return Ok(c),
        _ => return Err(format!("bad character literal `'{inner}'`")),
    };
    if chars.next().is_some() {
        return Err(format!("bad character literal `'{inner}'`"));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembles_names_exact_labels_and_literals() {
        let p =
            assemble("start: push 'a' | push -0x10 ; c\n jmp start\n %S:\n jmp %S\n printc # x\n")
                .unwrap();
        let text: Vec<String> = p.instructions().iter().map(|i| i.to_string()).collect();
        // `start` may not take `%S`, which the listing uses exactly.
        assert_eq!(
            text,
            ["label %T", "push 97", "push -16", "jmp %T", "label %S", "jmp %S", "printc"]
        );
        assert_eq!(p.position(3), Position { offset: 34, line: 2, column: 2 });
    }

    #[test]
    fn names_are_kept_for_diagnostics_and_do_not_change_the_program() {
        let p = assemble("start:\n jmp nowhere\n jz %S\n jmp start\n").unwrap();
        assert_eq!(p.instruction_text(1), "jmp nowhere");
        assert_eq!(p.instruction_text(2), "jz %S");
        assert_eq!(p.instruction_text(3), "jmp start");
        assert_eq!(p.instructions()[1].to_string(), "jmp %SS", "the exact form is unchanged");
        let exact = assemble(&crate::syntax::print_asm(&p)).unwrap();
        assert!(exact.label_names().is_empty());
        assert_eq!(exact.instructions(), p.instructions());
        let unnamed = p.clone().with_label_names(HashMap::new());
        assert_eq!(unnamed.label_name(&Label::from_letters("SS").unwrap()), None);
        assert_eq!(unnamed, p, "names are not part of a program's identity");
    }

    #[test]
    fn errors_have_line_and_column() {
        let e = assemble("push 1\n  bogus 3\n").unwrap_err();
        assert_eq!((e.kind, e.position.line, e.position.column), (SourceErrorKind::Assembly, 2, 3));
        assert!(assemble("push").is_err());
        assert!(assemble("dup 3").is_err());
        assert!(assemble("jmp %SX").is_err());
        assert!(assemble("push 1x").is_err());
    }
}
