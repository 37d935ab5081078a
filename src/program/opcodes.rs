//! The instruction table of SEMANTICS.md §2: each instruction's [`Opcode`], and the facts
//! of the language about it ([`OpcodeInfo`]: name, tokens, argument kind, stack needs and
//! growth) in one table, [`OPCODES`], that the parser, the assembler, the printer, both
//! engines and the generator read.
//!
//! Invariant: `OPCODES[op as usize].opcode == op` for every opcode, and no instruction's
//! tokens are a prefix of another's (tested below).

use std::fmt;

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
