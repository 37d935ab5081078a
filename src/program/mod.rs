//! The program every engine runs: instructions in source order, each with its source position,
//! and the jump targets resolved once.
//!
//! Invariant: `Program` is immutable after construction, and `target(i)` is the index of the
//! *first* `label` instruction whose label equals the label of instruction `i` (SEMANTICS.md §2:
//! the first definition wins), or `None` when that label is never defined (the jump traps with
//! `undefined-label` only when it runs).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use num_bigint::BigInt;

use crate::abbrev::Abbreviated;

mod opcodes;

pub use opcodes::{Argument, OPCODES, Opcode, OpcodeInfo};

/// A place in the source: byte offset (0-based) and line and column (1-based, counted in bytes
/// over all bytes of the file, comments included).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    /// Byte offset from the start of the source.
    pub offset: usize,
    /// Line number, starting at 1; a line ends after each line feed byte.
    pub line: usize,
    /// Column, starting at 1, in bytes.
    pub column: usize,
}

impl Position {
    /// The position of the first byte of a source.
    pub const START: Position = Position { offset: 0, line: 1, column: 1 };

    /// The position just after `byte`, which stood at `self`.
    pub fn advance(self, byte: u8) -> Position {
        if byte == b'\n' {
            Position { offset: self.offset + 1, line: self.line + 1, column: 1 }
        } else {
            Position { offset: self.offset + 1, line: self.line, column: self.column + 1 }
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A label: a string of `S` and `T` tokens (possibly empty), compared exactly.
///
/// Stored as the letters `S` and `T`, so `Display` shows it as written in visible notation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Label(String);

impl Label {
    /// A label from its tokens, `false` = `S`, `true` = `T`.
    pub fn from_bits(bits: impl IntoIterator<Item = bool>) -> Label {
        Label(bits.into_iter().map(|t| if t { 'T' } else { 'S' }).collect())
    }

    /// A label from letters known to be `S` and `T` only (the parser's).
    pub(crate) fn from_checked_letters(letters: String) -> Label {
        debug_assert!(letters.bytes().all(|b| b == b'S' || b == b'T'));
        Label(letters)
    }

    /// A label from visible letters; `None` if `text` holds anything but `S` and `T`.
    pub fn from_letters(text: &str) -> Option<Label> {
        text.bytes().all(|b| b == b'S' || b == b'T').then(|| Label(text.to_owned()))
    }

    /// The label's tokens as the letters `S` and `T`.
    pub fn letters(&self) -> &str {
        &self.0
    }

    /// The label's tokens, `false` = `S`, `true` = `T`.
    pub fn bits(&self) -> impl Iterator<Item = bool> + '_ {
        self.0.bytes().map(|b| b == b'T')
    }

    /// The number of tokens in the label (its `L` terminator not counted).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether this is the empty label (just the terminating `L`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}

/// One Whitespace instruction, with its argument (SEMANTICS.md §2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Instruction {
    /// `push n`
    Push(BigInt),
    /// `dup`
    Dup,
    /// `copy n`: push a copy of the n-th item, 0 = top.
    Copy(BigInt),
    /// `swap`
    Swap,
    /// `drop`
    Drop,
    /// `slide n`: keep the top, remove n items below it.
    Slide(BigInt),
    /// `add`
    Add,
    /// `sub`
    Sub,
    /// `mul`
    Mul,
    /// `div` (floored)
    Div,
    /// `mod` (floored: sign of the divisor)
    Mod,
    /// `store`
    Store,
    /// `retrieve`
    Retrieve,
    /// `label l`
    Label(Label),
    /// `call l`
    Call(Label),
    /// `jmp l`
    Jmp(Label),
    /// `jz l`
    Jz(Label),
    /// `jn l`
    Jn(Label),
    /// `ret`
    Ret,
    /// `end`
    End,
    /// `printc`
    PrintC,
    /// `printi`
    PrintI,
    /// `readc`
    ReadC,
    /// `readi`
    ReadI,
}

impl Instruction {
    /// The instruction's opcode.
    pub fn opcode(&self) -> Opcode {
        match self {
            Instruction::Push(_) => Opcode::Push,
            Instruction::Dup => Opcode::Dup,
            Instruction::Copy(_) => Opcode::Copy,
            Instruction::Swap => Opcode::Swap,
            Instruction::Drop => Opcode::Drop,
            Instruction::Slide(_) => Opcode::Slide,
            Instruction::Add => Opcode::Add,
            Instruction::Sub => Opcode::Sub,
            Instruction::Mul => Opcode::Mul,
            Instruction::Div => Opcode::Div,
            Instruction::Mod => Opcode::Mod,
            Instruction::Store => Opcode::Store,
            Instruction::Retrieve => Opcode::Retrieve,
            Instruction::Label(_) => Opcode::Label,
            Instruction::Call(_) => Opcode::Call,
            Instruction::Jmp(_) => Opcode::Jmp,
            Instruction::Jz(_) => Opcode::Jz,
            Instruction::Jn(_) => Opcode::Jn,
            Instruction::Ret => Opcode::Ret,
            Instruction::End => Opcode::End,
            Instruction::PrintC => Opcode::PrintC,
            Instruction::PrintI => Opcode::PrintI,
            Instruction::ReadC => Opcode::ReadC,
            Instruction::ReadI => Opcode::ReadI,
        }
    }

    /// The instruction with opcode `op`, taking `number` if `op` has a number argument and
    /// `label` if it has a label argument (the other is ignored).
    pub fn with_argument(op: Opcode, number: BigInt, label: Label) -> Instruction {
        match op {
            Opcode::Push => Instruction::Push(number),
            Opcode::Dup => Instruction::Dup,
            Opcode::Copy => Instruction::Copy(number),
            Opcode::Swap => Instruction::Swap,
            Opcode::Drop => Instruction::Drop,
            Opcode::Slide => Instruction::Slide(number),
            Opcode::Add => Instruction::Add,
            Opcode::Sub => Instruction::Sub,
            Opcode::Mul => Instruction::Mul,
            Opcode::Div => Instruction::Div,
            Opcode::Mod => Instruction::Mod,
            Opcode::Store => Instruction::Store,
            Opcode::Retrieve => Instruction::Retrieve,
            Opcode::Label => Instruction::Label(label),
            Opcode::Call => Instruction::Call(label),
            Opcode::Jmp => Instruction::Jmp(label),
            Opcode::Jz => Instruction::Jz(label),
            Opcode::Jn => Instruction::Jn(label),
            Opcode::Ret => Instruction::Ret,
            Opcode::End => Instruction::End,
            Opcode::PrintC => Instruction::PrintC,
            Opcode::PrintI => Instruction::PrintI,
            Opcode::ReadC => Instruction::ReadC,
            Opcode::ReadI => Instruction::ReadI,
        }
    }

    /// The number argument of `push`, `copy` and `slide`.
    pub fn number(&self) -> Option<&BigInt> {
        match self {
            Instruction::Push(n) | Instruction::Copy(n) | Instruction::Slide(n) => Some(n),
            _ => None,
        }
    }

    /// The label argument of `label`, `call`, `jmp`, `jz` and `jn`.
    pub fn label(&self) -> Option<&Label> {
        match self {
            Instruction::Label(l)
            | Instruction::Call(l)
            | Instruction::Jmp(l)
            | Instruction::Jz(l)
            | Instruction::Jn(l) => Some(l),
            _ => None,
        }
    }

    /// The label this instruction may jump to (`call`, `jmp`, `jz`, `jn`).
    pub fn jump_label(&self) -> Option<&Label> {
        match self {
            Instruction::Label(_) => None,
            other => other.label(),
        }
    }
}

impl fmt::Display for Instruction {
    /// The assembly form, as `twinspace disasm` writes it: `push -7`, `jz %STS`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = self.opcode();
        if let Some(n) = self.number() {
            write!(f, "{op} {n}")
        } else if let Some(l) = self.label() {
            write!(f, "{op} {l}")
        } else {
            write!(f, "{op}")
        }
    }
}

/// A parsed program: instructions in source order with their positions, and resolved jumps.
///
/// A program assembled from a listing also remembers the names its labels were written with
/// ([`Program::label_name`]), for diagnostics only: names never change what a program does,
/// and two programs that differ only in them are equal.
#[derive(Clone, Debug)]
pub struct Program {
    instructions: Vec<Instruction>,
    positions: Vec<Position>,
    end_position: Position,
    targets: Vec<Option<usize>>,
    /// The names of labels as a listing wrote them (empty for `.ws` and generated programs).
    names: Arc<HashMap<Label, String>>,
}

impl PartialEq for Program {
    /// Instructions and positions; label names are for people and are not compared.
    fn eq(&self, other: &Program) -> bool {
        self.instructions == other.instructions
            && self.positions == other.positions
            && self.end_position == other.end_position
    }
}

impl Eq for Program {}

impl Program {
    /// A program from instructions and their source positions; `end_position` is the position
    /// just past the last byte of the source (where `missing-end` is reported).
    ///
    /// # Panics
    /// If `instructions` and `positions` differ in length.
    pub fn new(
        instructions: Vec<Instruction>,
        positions: Vec<Position>,
        end_position: Position,
    ) -> Program {
        assert_eq!(instructions.len(), positions.len(), "one position per instruction");
        let mut defined: HashMap<&Label, usize> = HashMap::new();
        for (i, ins) in instructions.iter().enumerate() {
            if let Instruction::Label(l) = ins {
                defined.entry(l).or_insert(i);
            }
        }
        let targets = instructions
            .iter()
            .map(|ins| ins.jump_label().and_then(|l| defined.get(l).copied()))
            .collect();
        Program { instructions, positions, end_position, targets, names: Arc::default() }
    }

    /// The instructions, in source order.
    pub fn instructions(&self) -> &[Instruction] {
        &self.instructions
    }

    /// The number of instructions.
    pub fn len(&self) -> usize {
        self.instructions.len()
    }

    /// Whether the program has no instruction at all.
    pub fn is_empty(&self) -> bool {
        self.instructions.is_empty()
    }

    /// The source position of instruction `index`, or the end of the source for
    /// `index == len()` (where `missing-end` is reported).
    pub fn position(&self, index: usize) -> Position {
        self.positions.get(index).copied().unwrap_or(self.end_position)
    }

    /// The position just past the last byte of the source.
    pub fn end_position(&self) -> Position {
        self.end_position
    }

    /// The jump target of instruction `index`: the index of the first `label` instruction
    /// defining its label, or `None` if it is not a jump or the label is undefined.
    pub fn target(&self, index: usize) -> Option<usize> {
        self.targets.get(index).copied().flatten()
    }

    /// This program, remembering `names` (label to the name a listing gave it) for
    /// diagnostics; what the program does is unchanged.
    pub fn with_label_names(mut self, names: HashMap<Label, String>) -> Program {
        self.names = Arc::new(names);
        self
    }

    /// The name a listing gave `label`, if it was written with one.
    pub fn label_name(&self, label: &Label) -> Option<&str> {
        self.names.get(label).map(String::as_str)
    }

    /// Every label name this program remembers.
    pub fn label_names(&self) -> &HashMap<Label, String> {
        &self.names
    }

    /// `label` for a diagnostic: its name from the listing, else its exact form (`%ST`).
    pub fn label_text(&self, label: &Label) -> String {
        match self.label_name(label) {
            Some(name) => name.to_owned(),
            None => label.to_string(),
        }
    }

    /// Instruction `index` for a diagnostic: `jmp loop` with the label's name from the listing,
    /// `push 1234567890…` with a long number abbreviated ([`crate::abbrev`]); empty past the
    /// last instruction. (The exact form, which assembles back, is the instruction's `Display`.)
    pub fn instruction_text(&self, index: usize) -> String {
        let Some(ins) = self.instructions.get(index) else {
            return String::new();
        };
        let op = ins.opcode();
        if let Some(n) = ins.number() {
            format!("{op} {}", Abbreviated(n))
        } else if let Some(l) = ins.label() {
            format!("{op} {}", self.label_text(l))
        } else {
            op.to_string()
        }
    }

    /// The index of the first definition of `label`.
    pub fn find_label(&self, label: &Label) -> Option<usize> {
        self.instructions.iter().position(|i| matches!(i, Instruction::Label(l) if l == label))
    }
}
