//! Transcripts: a case's output and input in the order they happen (`transcript:` in a case
//! file), which also states what must have been written whenever the program reads.
//!
//! Invariant: [`parse_transcript`] reads back what [`format_transcript`] wrote.

use super::Exchange;
use super::escape::{format_escaped, parse_escaped};

/// The output and the input of a transcript, each put together.
pub(super) fn halves(items: &[Exchange]) -> (Vec<u8>, Vec<u8>) {
    let (mut output, mut input) = (Vec::new(), Vec::new());
    for item in items {
        match item {
            Exchange::Output(bytes) => output.extend_from_slice(bytes),
            Exchange::Input(bytes) => input.extend_from_slice(bytes),
        }
    }
    (output, input)
}

/// Parses a `transcript:` value: `>` or `<`, each followed by an escaped string.
pub fn parse_transcript(text: &str) -> Result<Vec<Exchange>, String> {
    let mut items = Vec::new();
    let mut rest = text.trim_start();
    while let Some(c) = rest.chars().next() {
        let item: fn(Vec<u8>) -> Exchange = match c {
            '>' => Exchange::Output,
            '<' => Exchange::Input,
            _ => {
                return Err(format!(
                    "bad transcript at `{rest}`: expected `> \"output\"` or `< \"input\"`"
                ));
            }
        };
        let quoted = rest[1..].trim_start();
        // The string ends at the first `"` that no backslash escapes.
        let mut end = None;
        let mut escaped = false;
        for (i, ch) in quoted.char_indices().skip(1) {
            match (escaped, ch) {
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let end = end.filter(|_| quoted.starts_with('"')).ok_or_else(|| {
            format!("bad transcript at `{rest}`: expected a quoted string after `{c}`")
        })?;
        items.push(item(parse_escaped(&quoted[..=end])?));
        rest = quoted[end + 1..].trim_start();
    }
    if items.is_empty() {
        return Err("empty transcript: expected `> \"output\"` and `< \"input\"` items".to_owned());
    }
    Ok(items)
}

/// Writes a `transcript:` value that [`parse_transcript`] reads back.
pub fn format_transcript(items: &[Exchange]) -> String {
    let words: Vec<String> = items
        .iter()
        .map(|item| match item {
            Exchange::Output(bytes) => format!("> {}", format_escaped(bytes)),
            Exchange::Input(bytes) => format!("< {}", format_escaped(bytes)),
        })
        .collect();
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcripts_read_back() {
        let items = parse_transcript(r#"< "a"> "b \" < c" <"""#).unwrap();
        assert_eq!(format_transcript(&items), r#"< "a" > "b \" < c" < """#);
        for bad in ["", "> ", "> x", "< \"a", "\"a\"", "> \"a\" >", "> \"\\q\""] {
            assert!(parse_transcript(bad).is_err(), "{bad}");
        }
        assert_eq!(halves(&items), (b"b \" < c".to_vec(), b"a".to_vec()));
    }
}
