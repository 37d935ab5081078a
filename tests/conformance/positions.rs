//! Where each instruction of a case's program starts, found from the case's own text with a
//! tokenizer of this file's own, so that the runner checks the position a trap reports (and
//! the number of instructions) without trusting `twinspace::syntax`, which made the program.
//!
//! - `ws:` and `stl:`: the tokens are space/tab/line feed or the letters `S`/`T`/`L`; every
//!   other byte is a comment. An instruction is one of the opcodes of SEMANTICS.md §2, as a
//!   token string, and for those that take one, an argument running to the next `L` (a number
//!   is a sign and digits ended by `L`, or a lone `L`; a label is `S`/`T` ended by `L`).
//! - `asm:`: a statement starts at its first non-blank character; statements are separated by
//!   line ends and `|`, a `#` or `;` outside a quoted character starts a comment, and `name:`
//!   before a statement on the same line is a statement of its own (a label).
//!
//! Positions count bytes of the program text: 0-based offset, 1-based line (a line ends after
//! each line feed byte) and 1-based column.

use twinspace::Position;
use twinspace::case::Source;

/// The opcodes as token strings, and whether each takes an argument (number or label).
const OPCODES: [(&str, bool); 24] = [
    ("SS", true),    // push
    ("SLS", false),  // dup
    ("STS", true),   // copy
    ("SLT", false),  // swap
    ("SLL", false),  // drop
    ("STL", true),   // slide
    ("TSSS", false), // add
    ("TSST", false), // sub
    ("TSSL", false), // mul
    ("TSTS", false), // div
    ("TSTT", false), // mod
    ("TTS", false),  // store
    ("TTT", false),  // retrieve
    ("LSS", true),   // label
    ("LST", true),   // call
    ("LSL", true),   // jmp
    ("LTS", true),   // jz
    ("LTT", true),   // jn
    ("LTL", false),  // ret
    ("LLL", false),  // end
    ("TLSS", false), // printc
    ("TLST", false), // printi
    ("TLTS", false), // readc
    ("TLTT", false), // readi
];

/// The start of every instruction, and the end of the text (where `missing-end` is reported),
/// or why the text holds no well-formed program.
pub fn instruction_starts(source: &Source) -> Result<(Vec<Position>, Position), String> {
    match source {
        Source::Raw(bytes) => token_program(bytes, [b' ', b'\t', b'\n']),
        Source::Visible(text) => token_program(text.as_bytes(), [b'S', b'T', b'L']),
        Source::Asm(text) => Ok(listing(text)),
    }
}

fn advance(at: Position, byte: u8) -> Position {
    let offset = at.offset + 1;
    if byte == b'\n' {
        Position { offset, line: at.line + 1, column: 1 }
    } else {
        Position { offset, line: at.line, column: at.column + 1 }
    }
}

const START: Position = Position { offset: 0, line: 1, column: 1 };

/// Splits the tokens of `bytes` (`letters` stand for S, T and L) into instructions.
fn token_program(bytes: &[u8], letters: [u8; 3]) -> Result<(Vec<Position>, Position), String> {
    let mut tokens = Vec::new();
    let mut at = START;
    for &b in bytes {
        if let Some(k) = letters.iter().position(|&l| l == b) {
            tokens.push((['S', 'T', 'L'][k], at));
        }
        at = advance(at, b);
    }
    let mut starts = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        starts.push(tokens[i].1);
        let mut opcode = String::new();
        let takes_argument = loop {
            let Some(&(t, _)) = tokens.get(i) else {
                return Err(format!("the text ends inside the opcode `{opcode}`"));
            };
            opcode.push(t);
            i += 1;
            if let Some(&(_, argument)) = OPCODES.iter().find(|(o, _)| *o == opcode) {
                break argument;
            }
            if !OPCODES.iter().any(|(o, _)| o.starts_with(&opcode)) {
                return Err(format!("`{opcode}` is no opcode"));
            }
        };
        if takes_argument {
            loop {
                let Some(&(t, _)) = tokens.get(i) else {
                    return Err(format!("the text ends inside the argument of `{opcode}`"));
                };
                i += 1;
                if t == 'L' {
                    break;
                }
            }
        }
    }
    Ok((starts, at))
}

/// The statements of an assembly listing.
fn listing(text: &str) -> (Vec<Position>, Position) {
    let mut starts = Vec::new();
    let mut line_start = START;
    for line in text.split_inclusive('\n') {
        let at = |column: usize| Position {
            offset: line_start.offset + column,
            line: line_start.line,
            column: column + 1,
        };
        for (start, piece) in statements_of(line) {
            let blank = piece.len() - piece.trim_start().len();
            let (mut column, mut piece) = (start + blank, piece.trim());
            // `name:` may stand before a statement: it is a statement of its own.
            if let Some(colon) = piece.find(':') {
                if !piece[..colon].contains(|c: char| c.is_whitespace() || c == '\'') {
                    starts.push(at(column));
                    let rest = &piece[colon + 1..];
                    column += colon + 1 + (rest.len() - rest.trim_start().len());
                    piece = rest.trim();
                }
            }
            if !piece.is_empty() {
                starts.push(at(column));
            }
        }
        line_start = line.bytes().fold(line_start, advance);
    }
    (starts, line_start)
}

/// The pieces of one listing line between `|` separators, with their byte columns (0-based),
/// the comment cut off; a quoted character (`'|'`, `'#'`, `'\''`) separates nothing.
fn statements_of(line: &str) -> Vec<(usize, &str)> {
    let mut pieces = Vec::new();
    let mut piece_start = 0;
    let (mut quoted, mut escaped) = (false, false);
    let mut cut = line.len();
    for (i, c) in line.char_indices() {
        match (quoted, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (_, _, '\'') => quoted = !quoted,
            (true, false, _) => {}
            (false, _, '#' | ';') => {
                cut = i;
                break;
            }
            (false, _, '|') => {
                pieces.push((piece_start, &line[piece_start..i]));
                piece_start = i + 1;
            }
            (false, _, _) => {}
        }
    }
    pieces.push((piece_start, &line[piece_start..cut]));
    pieces
}
