//! Transcripts: a case's output and input in the order they happen (`transcript:` in a case
//! file), which also states what must have been written whenever the program reads.
//!
//! A run's outcome carries its own transcript ([`Finish::reads`]: at each read, the input
//! consumed and the output flushed); [`transcript_of`] turns it into the items of a case file, and
//! [`check_reads`] checks it against a case's items.
//!
//! Invariant: [`parse_transcript`] reads back what [`format_transcript`] wrote, and the items
//! [`transcript_of`] makes of a run are satisfied by that run ([`check_reads`] reports nothing).
//!
//! [`Finish::reads`]: crate::outcome::Finish::reads

use super::Exchange;
use super::escape::{format_escaped, parse_escaped};
use crate::outcome::ReadPoint;
use crate::textdiff::unified_diff;

/// For each `<` item of a transcript: the input offset where it starts and where it ends,
/// and the length of all the output before it.
fn read_points(items: &[Exchange]) -> Vec<(u64, u64, u64)> {
    let (mut offset, mut written) = (0u64, 0u64);
    let mut points = Vec::new();
    for item in items {
        match item {
            Exchange::Output(bytes) => written += bytes.len() as u64,
            Exchange::Input(bytes) => {
                let end = offset + bytes.len() as u64;
                points.push((offset, end, written));
                offset = end;
            }
        }
    }
    points
}

/// `n` as an index into a slice of `len`, at most `len`.
fn clamp(n: u64, len: usize) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX).min(len)
}

/// The transcript items of a run that wrote `output`, was given `input` and made `reads`:
/// the output flushed before each read, then the input from that read on, items of one kind
/// never adjacent. `None` when the run made no read (its stdout says it all).
pub fn transcript_of(output: &[u8], input: &[u8], reads: &[ReadPoint]) -> Option<Vec<Exchange>> {
    if reads.is_empty() {
        return None;
    }
    let mut items = Vec::new();
    let (mut out_at, mut in_at) = (0, 0);
    for (n, read) in reads.iter().enumerate() {
        let flushed = clamp(read.flushed, output.len()).max(out_at);
        let consumed = clamp(read.consumed, input.len()).max(in_at);
        if flushed > out_at {
            if n > 0 {
                items.push(Exchange::Input(input[in_at..consumed].to_vec()));
            }
            items.push(Exchange::Output(output[out_at..flushed].to_vec()));
            (out_at, in_at) = (flushed, consumed);
        }
    }
    items.push(Exchange::Input(input[in_at..].to_vec()));
    if out_at < output.len() {
        items.push(Exchange::Output(output[out_at..].to_vec()));
    }
    Some(items)
}

/// Checks a run's `reads` (with its `output`) against a case's transcript `items`: at every
/// read, the output flushed must be all the output before the last `<` item starting at or
/// before the input it had consumed; and every `<` item must have a read begin in it. The
/// report is empty when they agree.
pub fn check_reads(items: &[Exchange], output: &[u8], reads: &[ReadPoint]) -> String {
    let points = read_points(items);
    if reads.is_empty() && !points.is_empty() {
        return "transcript differs: it has input, but the run made no read\n".to_owned();
    }
    let mut seen = vec![false; points.len()];
    for (n, read) in reads.iter().enumerate() {
        let Some(k) = points.iter().rposition(|&(start, _, _)| start <= read.consumed) else {
            return format!(
                "transcript differs: read {} (at input byte {}) is not in it: no `<` item \
                 starts by then\n",
                n + 1,
                read.consumed
            );
        };
        seen[k] = true;
        let (start, _, before) = points[k];
        if read.flushed != before {
            let upto = |n: u64| &output[..clamp(n, output.len())];
            return format!(
                "transcript differs: at read {} (at input byte {}, in the `<` item from byte \
                 {start}) {} output bytes had been flushed, not {before}:\n{}",
                n + 1,
                read.consumed,
                read.flushed,
                unified_diff(
                    "transcript: written before",
                    upto(before),
                    "flushed at the read",
                    upto(read.flushed)
                )
            );
        }
    }
    match seen.iter().position(|s| !s) {
        Some(k) => {
            let (start, end, _) = points[k];
            format!(
                "transcript differs: no read began in its `<` item {} (input bytes \
                 {start}..{end})\n",
                k + 1
            )
        }
        None => String::new(),
    }
}

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

    fn at(consumed: u64, flushed: u64) -> ReadPoint {
        ReadPoint { consumed, flushed }
    }

    #[test]
    fn reads_make_items_that_they_satisfy() {
        // A prompt, two characters read with nothing between, an echo, a read at the end.
        let (output, input) = (b"?ab!", b"ab");
        let reads = [at(0, 1), at(1, 1), at(2, 3)];
        let items = transcript_of(output, input, &reads).unwrap();
        assert_eq!(format_transcript(&items), r#"> "?" < "ab" > "ab" < "" > "!""#);
        assert_eq!(halves(&items), (output.to_vec(), input.to_vec()));
        assert_eq!(check_reads(&items, output, &reads), "");
        // No output before the first read; input left unread stays in the last item.
        let items = transcript_of(b"x", b"12\n34", &[at(0, 0)]).unwrap();
        assert_eq!(format_transcript(&items), r#"< "12\n34" > "x""#);
        assert_eq!(check_reads(&items, b"x", &[at(0, 0)]), "");
        assert_eq!(transcript_of(b"x", b"", &[]), None);
    }

    #[test]
    fn reads_that_break_the_transcript_are_reported() {
        let items = parse_transcript(r#"> "?" < "ab" > "ab" < """#).unwrap();
        let output = b"?ab";
        assert_eq!(check_reads(&items, output, &[at(0, 1), at(1, 1), at(2, 3)]), "");
        // The prompt still buffered at the first read.
        let late = check_reads(&items, output, &[at(0, 0), at(1, 1), at(2, 3)]);
        assert!(late.contains("at read 1 (at input byte 0") && late.contains("0 output"), "{late}");
        // The echo still buffered at the last read.
        let late = check_reads(&items, output, &[at(0, 1), at(1, 1), at(2, 1)]);
        assert!(late.contains("at read 3"), "{late}");
        // No read at the end of the input, or no read at all.
        let missing = check_reads(&items, output, &[at(0, 1), at(1, 1)]);
        assert!(missing.contains("no read began in its `<` item 2"), "{missing}");
        assert!(check_reads(&items, output, &[]).contains("made no read"));
        let none = check_reads(&parse_transcript(r#"> "?""#).unwrap(), b"?", &[at(0, 1)]);
        assert!(none.contains("no `<` item"), "{none}");
    }
}
