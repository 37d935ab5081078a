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

/// The instruction set without arguments: one value per row of SEMANTICS.md §2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Opcode {
    Push,
    Dup,
    Copy,
    Swap,
    Drop,
    Slide,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Store,
    Retrieve,
    Label,
    Call,
    Jmp,
    Jz,
    Jn,
    Ret,
    End,
    PrintC,
    PrintI,
    ReadC,
    ReadI,
}

impl Opcode {
    /// Every opcode, in the order of SEMANTICS.md §2.
    pub const ALL: [Opcode; 24] = [
        Opcode::Push,
        Opcode::Dup,
        Opcode::Copy,
        Opcode::Swap,
        Opcode::Drop,
        Opcode::Slide,
        Opcode::Add,
        Opcode::Sub,
        Opcode::Mul,
        Opcode::Div,
        Opcode::Mod,
        Opcode::Store,
        Opcode::Retrieve,
        Opcode::Label,
        Opcode::Call,
        Opcode::Jmp,
        Opcode::Jz,
        Opcode::Jn,
        Opcode::Ret,
        Opcode::End,
        Opcode::PrintC,
        Opcode::PrintI,
        Opcode::ReadC,
        Opcode::ReadI,
    ];

    /// This opcode's row of [`OPCODES`].
    pub fn info(self) -> &'static OpcodeInfo {
        &OPCODES[self as usize]
    }

    /// The assembly mnemonic, also the instruction's name in SEMANTICS.md.
    pub fn mnemonic(self) -> &'static str {
        self.info().mnemonic
    }

    /// The opcode with this mnemonic.
    pub fn from_mnemonic(name: &str) -> Option<Opcode> {
        OPCODES.iter().find(|row| row.mnemonic == name).map(|row| row.opcode)
    }

    /// The instruction's tokens without its argument, as visible `S`/`T`/`L` letters
    /// (IMP first).
    pub fn tokens(self) -> &'static str {
        self.info().tokens
    }

    /// The kind of argument the instruction takes.
    pub fn argument(self) -> Argument {
        self.info().argument
    }

    /// The stack items the instruction needs before anything else is checked: fewer is
    /// `stack-underflow`. (`copy n` needs `n + 1` items, which is decided by its argument.)
    pub fn needs(self) -> usize {
        self.info().needs
    }

    /// The change in stack depth when the instruction runs (`slide n` removes up to `n`
    /// items more, which its argument decides).
    pub fn growth(self) -> isize {
        self.info().growth
    }
}

/// The kind of argument an instruction takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Argument {
    /// None.
    None,
    /// A number (`push`, `copy`, `slide`).
    Number,
    /// A label (`label`, `call`, `jmp`, `jz`, `jn`).
    Label,
}

/// One row of the instruction table: the facts of the language about an instruction, apart
/// from what it does (which each engine implements on its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpcodeInfo {
    /// The opcode this row describes.
    pub opcode: Opcode,
    /// The assembly mnemonic, the instruction's name in SEMANTICS.md.
    pub mnemonic: &'static str,
    /// The tokens without the argument, as `S`/`T`/`L` letters, IMP first.
    pub tokens: &'static str,
    /// The argument it takes.
    pub argument: Argument,
    /// Stack items it needs (for `copy n`, `n + 1`).
    pub needs: usize,
    /// Its effect on the stack depth (for `slide n`, up to `n` items fewer).
    pub growth: isize,
}

/// The instruction table of SEMANTICS.md §2, in [`Opcode`] order: the one place that says
/// each instruction's name, tokens, argument and stack needs. The parser, the assembler, the
/// printer, both engines and the generator read it from here.
pub const OPCODES: [OpcodeInfo; 24] = [
    OpcodeInfo {
        opcode: Opcode::Push,
        mnemonic: "push",
        tokens: "SS",
        argument: Argument::Number,
        needs: 0,
        growth: 1,
    },
    OpcodeInfo {
        opcode: Opcode::Dup,
        mnemonic: "dup",
        tokens: "SLS",
        argument: Argument::None,
        needs: 1,
        growth: 1,
    },
    OpcodeInfo {
        opcode: Opcode::Copy,
        mnemonic: "copy",
        tokens: "STS",
        argument: Argument::Number,
        needs: 0,
        growth: 1,
    },
    OpcodeInfo {
        opcode: Opcode::Swap,
        mnemonic: "swap",
        tokens: "SLT",
        argument: Argument::None,
        needs: 2,
        growth: 0,
    },
    OpcodeInfo {
        opcode: Opcode::Drop,
        mnemonic: "drop",
        tokens: "SLL",
        argument: Argument::None,
        needs: 1,
        growth: -1,
    },
    OpcodeInfo {
        opcode: Opcode::Slide,
        mnemonic: "slide",
        tokens: "STL",
        argument: Argument::Number,
        needs: 1,
        growth: 0,
    },
    OpcodeInfo {
        opcode: Opcode::Add,
        mnemonic: "add",
        tokens: "TSSS",
        argument: Argument::None,
        needs: 2,
        growth: -1,
    },
    OpcodeInfo {
        opcode: Opcode::Sub,
        mnemonic: "sub",
        tokens: "TSST",
        argument: Argument::None,
        needs: 2,
        growth: -1,
    },
    OpcodeInfo {
        opcode: Opcode::Mul,
        mnemonic: "mul",
        tokens: "TSSL",
        argument: Argument::None,
        needs: 2,
        growth: -1,
    },
    OpcodeInfo {
        opcode: Opcode::Div,
        mnemonic: "div",
        tokens: "TSTS",
        argument: Argument::None,
        needs: 2,
        growth: -1,
    },
    OpcodeInfo {
        opcode: Opcode::Mod,
        mnemonic: "mod",
        tokens: "TSTT",
        argument: Argument::None,
        needs: 2,
        growth: -1,
    },
    OpcodeInfo {
        opcode: Opcode::Store,
        mnemonic: "store",
        tokens: "TTS",
        argument: Argument::None,
        needs: 2,
        growth: -2,
    },
    OpcodeInfo {
        opcode: Opcode::Retrieve,
        mnemonic: "retrieve",
        tokens: "TTT",
        argument: Argument::None,
        needs: 1,
        growth: 0,
    },
    OpcodeInfo {
        opcode: Opcode::Label,
        mnemonic: "label",
        tokens: "LSS",
        argument: Argument::Label,
        needs: 0,
        growth: 0,
    },
    OpcodeInfo {
        opcode: Opcode::Call,
        mnemonic: "call",
        tokens: "LST",
        argument: Argument::Label,
        needs: 0,
        growth: 0,
    },
    OpcodeInfo {
        opcode: Opcode::Jmp,
        mnemonic: "jmp",
        tokens: "LSL",
        argument: Argument::Label,
        needs: 0,
        growth: 0,
    },
    OpcodeInfo {
        opcode: Opcode::Jz,
        mnemonic: "jz",
        tokens: "LTS",
        argument: Argument::Label,
        needs: 1,
        growth: -1,
    },
    OpcodeInfo {
        opcode: Opcode::Jn,
        mnemonic: "jn",
        tokens: "LTT",
        argument: Argument::Label,
        needs: 1,
        growth: -1,
    },
    OpcodeInfo {
        opcode: Opcode::Ret,
        mnemonic: "ret",
        tokens: "LTL",
        argument: Argument::None,
        needs: 0,
        growth: 0,
    },
    OpcodeInfo {
        opcode: Opcode::End,
        mnemonic: "end",
        tokens: "LLL",
        argument: Argument::None,
        needs: 0,
        growth: 0,
    },
    OpcodeInfo {
        opcode: Opcode::PrintC,
        mnemonic: "printc",
        tokens: "TLSS",
        argument: Argument::None,
        needs: 1,
        growth: -1,
    },
    OpcodeInfo {
        opcode: Opcode::PrintI,
        mnemonic: "printi",
        tokens: "TLST",
        argument: Argument::None,
        needs: 1,
        growth: -1,
    },
    OpcodeInfo {
        opcode: Opcode::ReadC,
        mnemonic: "readc",
        tokens: "TLTS",
        argument: Argument::None,
        needs: 1,
        growth: -1,
    },
    OpcodeInfo {
        opcode: Opcode::ReadI,
        mnemonic: "readi",
        tokens: "TLTT",
        argument: Argument::None,
        needs: 1,
        growth: -1,
    },
];

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mnemonic())
    }
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

    /// A program from instructions alone, with the positions they would have in their
    /// canonical `.ws` encoding (as `syntax::print_ws` writes it, one instruction per line).
    pub fn from_instructions(instructions: Vec<Instruction>) -> Program {
        let mut positions = Vec::with_capacity(instructions.len());
        let mut pos = Position::START;
        let mut scratch = Vec::new();
        for ins in &instructions {
            positions.push(pos);
            scratch.clear();
            crate::syntax::encode_instruction(ins, &mut scratch);
            for &b in &scratch {
                pos = pos.advance(b);
            }
        }
        Program::new(instructions, positions, pos)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_opcode_table_is_in_opcode_order_and_prefix_free() {
        for (i, row) in OPCODES.iter().enumerate() {
            assert_eq!(row.opcode, Opcode::ALL[i]);
            assert_eq!(Opcode::from_mnemonic(row.mnemonic), Some(row.opcode));
            for other in &OPCODES[i + 1..] {
                let (a, b) = (row.tokens, other.tokens);
                assert!(!a.starts_with(b) && !b.starts_with(a), "{a} and {b}");
            }
            // What an instruction takes off is at most what it needs.
            assert!(row.growth >= -(row.needs as isize), "{}", row.mnemonic);
        }
    }
}
