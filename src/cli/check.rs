//! `twinspace check`: parse a program and warn about what is legal but probably wrong.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use twinspace::{Instruction, Position, Program};

use super::out::outln;
use super::{CliExit, Syntax, load_program};

/// Arguments of `twinspace check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The program (`-` for standard input).
    pub file: PathBuf,
    /// The source syntax (default: by extension, raw Whitespace otherwise).
    #[arg(long, value_enum)]
    pub syntax: Option<Syntax>,
}

/// Runs `twinspace check`: exit 0 when the program parses (warnings or not), 3 when it does not.
pub fn check(args: CheckArgs) -> ExitCode {
    let program = match load_program(&args.file, args.syntax) {
        Ok(p) => p,
        Err(exit) => return exit.into(),
    };
    let name = args.file.display().to_string();
    let found = warnings(&program);
    for w in &found {
        outln!("{name}:{w}");
    }
    let labels = program.instructions().iter().filter(|i| matches!(i, Instruction::Label(_)));
    outln!(
        "{name}: {} instructions, {} labels, {} warning{}",
        program.len(),
        labels.count(),
        found.len(),
        if found.len() == 1 { "" } else { "s" }
    );
    CliExit::Ok.into()
}

/// Every warning for `program`, as `line:column: warning: ...`, in source order.
pub fn warnings(program: &Program) -> Vec<String> {
    let mut out: Vec<(Position, String)> = Vec::new();
    let mut first_definition: HashMap<&twinspace::Label, usize> = HashMap::new();
    for (i, ins) in program.instructions().iter().enumerate() {
        let at = program.position(i);
        match ins {
            Instruction::Label(l) => {
                if let Some(&first) = first_definition.get(l) {
                    out.push((
                        at,
                        format!(
                            "label {} is defined again (the first definition, at {}, wins)",
                            program.label_text(l),
                            program.position(first)
                        ),
                    ));
                } else {
                    first_definition.insert(l, i);
                }
            }
            _ => {
                if let (Some(l), None) = (ins.jump_label(), program.target(i)) {
                    out.push((
                        at,
                        format!(
                            "`{}` names label {}, which is never defined (undefined-label when it \
                             jumps)",
                            program.instruction_text(i),
                            program.label_text(l)
                        ),
                    ));
                }
            }
        }
    }
    let reachable = reachable(program);
    let mut i = 0;
    while i < program.len() {
        if reachable[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i < program.len() && !reachable[i] {
            i += 1;
        }
        let count = i - start;
        out.push((
            program.position(start),
            format!(
                "{count} unreachable instruction{} (indices {start}..{})",
                if count == 1 { "" } else { "s" },
                i - 1
            ),
        ));
    }
    out.sort_by_key(|(at, _)| *at);
    out.into_iter().map(|(at, message)| format!("{at}: warning: {message}")).collect()
}

/// Which instructions control can reach from the start (a `call` is assumed to return).
fn reachable(program: &Program) -> Vec<bool> {
    let mut seen = vec![false; program.len()];
    let mut work = vec![0usize];
    while let Some(i) = work.pop() {
        if i >= program.len() || seen[i] {
            continue;
        }
        seen[i] = true;
        let ins = &program.instructions()[i];
        let falls_through =
            !matches!(ins, Instruction::Jmp(_) | Instruction::Ret | Instruction::End);
        if falls_through {
            work.push(i + 1);
        }
        if let Some(t) = program.target(i) {
            work.push(t);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_about_labels_and_dead_code() {
        let p = twinspace::syntax::assemble("a:\n jmp b\n push 1\n a:\n jmp zz\nb: end\n").unwrap();
        let w = warnings(&p);
        assert_eq!(w.len(), 3, "{w:#?}");
        assert!(w[0].starts_with("3:2: warning: 3 unreachable"), "{w:#?}");
        assert!(w[1].contains("defined again"), "{w:#?}");
        assert!(w[2].contains("never defined"), "{w:#?}");
        assert!(w[2].contains("`jmp zz` names label zz"), "{w:#?}");
        assert!(w[1].contains("label a is defined again"), "{w:#?}");
    }
}
