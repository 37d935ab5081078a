//! Properties of the parser, printer and assembler: every printed form reads back to the same
//! instructions, and no input, however malformed, makes them panic.

use num_bigint::BigInt;
use proptest::prelude::*;
use twinspace::syntax::{
    ParseErrorKind, assemble, parse, parse_visible, print_asm, print_visible, print_ws,
};
use twinspace::{Instruction, Label, Opcode, Program};

fn number() -> impl Strategy<Value = BigInt> {
    prop_oneof![
        (-3i64..=3).prop_map(BigInt::from),
        any::<i64>().prop_map(BigInt::from),
        any::<i128>().prop_map(BigInt::from),
        (any::<bool>(), prop::collection::vec(any::<u32>(), 0..6)).prop_map(|(neg, digits)| {
            let n = BigInt::from_slice(num_bigint::Sign::Plus, &digits);
            if neg { -n } else { n }
        }),
    ]
}

fn label() -> impl Strategy<Value = Label> {
    prop::collection::vec(any::<bool>(), 0..5).prop_map(Label::from_bits)
}

fn instruction() -> impl Strategy<Value = Instruction> {
    (prop::sample::select(Opcode::ALL.to_vec()), number(), label())
        .prop_map(|(op, n, l)| Instruction::with_argument(op, n, l))
}

fn program() -> impl Strategy<Value = Program> {
    prop::collection::vec(instruction(), 0..40).prop_map(twinspace::syntax::canonical)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn raw_round_trip(p in program()) {
        let back = parse(&print_ws(&p)).unwrap();
        prop_assert_eq!(back.instructions(), p.instructions());
        // `canonical` positions are those of the canonical encoding.
        prop_assert_eq!(back, p);
    }

    #[test]
    fn visible_round_trip(p in program()) {
        let back = parse_visible(&print_visible(&p)).unwrap();
        prop_assert_eq!(back.instructions(), p.instructions());
    }

    #[test]
    fn assembly_round_trip(p in program()) {
        let listing = print_asm(&p);
        let back = assemble(&listing).unwrap();
        prop_assert_eq!(back.instructions(), p.instructions(), "{}", listing);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(
        prop_oneof![Just(b' '), Just(b'\t'), Just(b'\n'), any::<u8>()], 0..200)) {
        if let Err(e) = parse(&bytes) {
            prop_assert!(e.position.offset < bytes.len());
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_visible(&text);
        let _ = assemble(&text);
    }

    #[test]
    fn truncated_programs_fail_at_their_last_instruction(p in program(), cut in any::<prop::sample::Index>()) {
        let bytes = print_ws(&p);
        prop_assume!(!bytes.is_empty());
        let cut = cut.index(bytes.len());
        match parse(&bytes[..cut]) {
            Ok(q) => prop_assert!(q.len() <= p.len()),
            Err(e) => {
                // The error names the start of an instruction of the original program.
                let starts: Vec<usize> = (0..p.len()).map(|i| p.position(i).offset).collect();
                prop_assert!(starts.contains(&e.position.offset), "{e} not at an instruction start");
                prop_assert_ne!(e.kind, ParseErrorKind::UnknownInstruction);
            }
        }
    }
}

#[test]
fn megabytes_of_comments_and_code_parse() {
    let mut source = Vec::new();
    for i in 0..200_000u32 {
        source.extend_from_slice(b"comment\xff\xfe.");
        source.extend_from_slice(if i % 2 == 0 { b"  \t\n" } else { b" \n\n" });
    }
    source.extend_from_slice(b"\n\n\n");
    let p = parse(&source).unwrap();
    assert_eq!(p.len(), 200_001);
    let last = p.position(200_000);
    assert_eq!(last.line, 1 + 100_000 * 3);
}
