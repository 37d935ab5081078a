//! Keeping a mismatch: the case is written as a corpus regression (`NAME.ws`, `NAME.in` when
//! there is input, `NAME.expect` with the reference outcome and the limits), so that `cargo
//! test` runs it on both engines from then on.
//!
//! Invariant: `NAME` is the mismatch's differing parts and a stable hash (FNV-1a, fixed
//! forever) of the program bytes, input, limits and signature, so finding the same reduced
//! mismatch again merges into the same files instead of adding a duplicate.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::Signature;
use super::report::termination;
use crate::case::{Expectation, format_expectation, format_limits};
use crate::engine::RunCase;
use crate::outcome::Outcome;
use crate::syntax::print_ws;

/// Where a case was kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    /// The file stem, e.g. `stack-heap-1f2e3d4c5b6a7980`.
    pub name: String,
    /// The program file.
    pub ws: PathBuf,
    /// The input file, if there is input.
    pub input: Option<PathBuf>,
    /// The expectation file.
    pub expect: PathBuf,
    /// False when the same mismatch was already kept (nothing was written).
    pub new: bool,
}

/// FNV-1a, 64 bits: small, and stable across Rust versions (unlike `DefaultHasher`).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator, so that moving bytes between parts changes the hash.
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The name a mismatch is kept under.
pub fn name(case: &RunCase, signature: &Signature) -> String {
    let program = print_ws(&case.program);
    let limits = format_limits(case.limits);
    let sig = signature.to_string();
    let hash = fnv1a(&[&program, &case.input, limits.as_bytes(), sig.as_bytes()]);
    format!("{}-{hash:016x}", signature.tag())
}

/// Writes `case` into `dir` as a regression whose expected outcome is `reference` (the
/// reference interpreter's outcome). `note` lines go into the expectation as comments.
pub fn keep(
    dir: &Path,
    case: &RunCase,
    reference: &Outcome,
    signature: &Signature,
    note: &[String],
) -> io::Result<Kept> {
    let name = name(case, signature);
    let ws = dir.join(format!("{name}.ws"));
    let input = (!case.input.is_empty()).then(|| dir.join(format!("{name}.in")));
    let expect = dir.join(format!("{name}.expect"));
    let kept = |new| Kept {
        name: name.clone(),
        ws: ws.clone(),
        input: input.clone(),
        expect: expect.clone(),
        new,
    };
    if ws.exists() && expect.exists() {
        return Ok(kept(false));
    }
    fs::create_dir_all(dir)?;
    let mut text = format!(
        "# Kept by the differential harness: {signature}.\n\
         # Expected: the reference interpreter's outcome ({}).\n",
        termination(&case.program, &reference.finish.termination)
    );
    for line in note {
        text.push_str(&format!("# {line}\n"));
    }
    let expectation = Expectation::complete_run(reference, &case.input);
    text.push_str(&format_expectation(Some(case.limits), &expectation));
    fs::write(&ws, print_ws(&case.program))?;
    if let Some(path) = &input {
        fs::write(path, &case.input)?;
    }
    fs::write(&expect, text)?;
    Ok(kept(true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::parse_expectation;
    use crate::differential::Parts;
    use crate::engine::{Engine, Interp};
    use crate::limits::Limits;
    use crate::syntax::{assemble, parse};

    #[test]
    fn kept_case_reads_back_and_duplicates_merge() {
        let dir = std::env::temp_dir().join(format!("twinspace-keep-{}", std::process::id()));
        let program = assemble("push 7\nprinti\npush 1\nend\n").unwrap();
        let case = RunCase::new(program, b"12\n".to_vec(), Limits::DEFAULT.with_fuel(99));
        let outcome = Interp.run(&case).result.unwrap();
        let sig = Signature { differs: Parts::STACK, endings: None };
        let first = keep(&dir, &case, &outcome, &sig, &["found in a test".into()]).unwrap();
        assert!(first.new && first.name.starts_with("stack-"));
        let again = keep(&dir, &case, &outcome, &sig, &[]).unwrap();
        assert!(!again.new);
        assert_eq!(again.name, first.name);
        let ws = fs::read(&first.ws).unwrap();
        assert_eq!(parse(&ws).unwrap().instructions(), case.program.instructions());
        assert_eq!(fs::read(first.input.as_ref().unwrap()).unwrap(), b"12\n");
        let (limits, expectation) =
            parse_expectation(&fs::read_to_string(&first.expect).unwrap()).unwrap();
        assert_eq!(limits, Some(case.limits));
        assert_eq!(expectation, Expectation::complete(&outcome), "no read: no transcript");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_kept_case_that_reads_keeps_its_transcript() {
        let dir = std::env::temp_dir().join(format!("twinspace-keep-t-{}", std::process::id()));
        let program =
            assemble("push '?' | printc | push 0 | readc | push 0 | retrieve | printc | end")
                .unwrap();
        let case = RunCase::new(program, b"x".to_vec(), Limits::DEFAULT);
        let outcome = Interp.run(&case).result.unwrap();
        let sig = Signature { differs: Parts::TRANSCRIPT, endings: None };
        let kept = keep(&dir, &case, &outcome, &sig, &[]).unwrap();
        assert!(kept.name.starts_with("transcript-"), "{}", kept.name);
        let text = fs::read_to_string(&kept.expect).unwrap();
        assert!(text.contains("\ntranscript: > \"?\" < \"x\" > \"x\"\n"), "{text}");
        let (_, expectation) = parse_expectation(&text).unwrap();
        assert_eq!(expectation.check(&Ok(outcome.clone())), "");
        let mut late = outcome;
        late.finish.reads[0].flushed = 0;
        assert!(expectation.check(&Ok(late)).contains("transcript differs"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_hash_is_stable() {
        // Names are file names in the corpus: they must never change for the same case.
        assert_eq!(fnv1a(&[b"a"]), fnv1a(&[b"a"]));
        assert_ne!(fnv1a(&[b"ab", b""]), fnv1a(&[b"a", b"b"]));
        assert_eq!(fnv1a(&[]), 0xcbf2_9ce4_8422_2325);
    }
}
