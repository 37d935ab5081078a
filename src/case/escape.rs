//! Escaped strings: the double-quoted form in which case and expectation files write bytes
//! (program sources, inputs, expected output).
//!
//! Invariant: [`parse_escaped`] reads back exactly the bytes [`format_escaped`] wrote, for any
//! bytes (also bytes that are not UTF-8), and what `format_escaped` writes shows every
//! invisible character as an escape.

/// Decodes a double-quoted escaped string (see the module docs).
pub fn parse_escaped(text: &str) -> Result<Vec<u8>, String> {
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|_| text.len() >= 2)
        .ok_or_else(|| format!("expected a double-quoted string, found `{text}`"))?;
    let mut out = Vec::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push(b'\n'),
                Some('t') => out.push(b'\t'),
                Some('r') => out.push(b'\r'),
                Some('0') => out.push(0),
                Some('\\') => out.push(b'\\'),
                Some('"') => out.push(b'"'),
                Some('x') => {
                    let hex: String = chars.by_ref().take(2).collect();
                    let byte = (hex.len() == 2)
                        .then(|| u8::from_str_radix(&hex, 16).ok())
                        .flatten()
                        .ok_or_else(|| format!("bad escape `\\x{hex}`: expected two hex digits"))?;
                    out.push(byte);
                }
                Some('u') => {
                    let rest = chars.as_str();
                    let close = rest.find('}').filter(|_| rest.starts_with('{'));
                    let code = close
                        .map(|c| &rest[1..c])
                        .filter(|h| (1..=6).contains(&h.len()))
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .and_then(char::from_u32)
                        .ok_or(
                            "bad escape `\\u`: expected \\u{H..} naming a Unicode scalar value",
                        )?;
                    out.extend_from_slice(code.encode_utf8(&mut [0; 4]).as_bytes());
                    chars = rest[close.unwrap_or(0) + 1..].chars();
                }
                Some(e) => return Err(format!("unknown escape `\\{e}`")),
                None => return Err("string ends in a lone `\\`".to_owned()),
            },
            '"' => return Err("unescaped `\"` inside a string".to_owned()),
            c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    Ok(out)
}

/// Encodes bytes as a double-quoted escaped string that [`parse_escaped`] reads back: printable
/// characters as themselves, invisible ones and bytes that are not UTF-8 as escapes.
pub fn format_escaped(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                '\0' => out.push_str("\\0"),
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                ' ' => out.push(' '),
                c if c.is_control() || c.is_whitespace() || is_invisible(c) => {
                    out.push_str(&format!("\\u{{{:x}}}", c as u32));
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('"');
    out
}

/// Format characters and marks that show nothing on their own.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{AD}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}')
        || ('\u{300}'..='\u{36F}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_strings() {
        let s = parse_escaped(r#""a\n\t\r\\\"\0\xff\u{e9}\u{3000}é""#).unwrap();
        assert_eq!(s, b"a\n\t\r\\\"\0\xff\xc3\xa9\xe3\x80\x80\xc3\xa9");
        assert_eq!(parse_escaped(r#""""#).unwrap(), b"");
        for bad in [r#""\x4""#, r#""\u{d800}""#, r#""\u{}""#, r#""a"b""#, r#""\""#, "\"", "x"] {
            assert!(parse_escaped(bad).is_err(), "{bad}");
        }
        let bytes = b"a \"q\"\\\n\t\r\0\x01\x7f\xff\xe2\x82\xac\xc2\xa0\xe3\x80\x80";
        let text = format_escaped(bytes);
        assert_eq!(text, r#""a \"q\"\\\n\t\r\0\u{1}\u{7f}\xff€\u{a0}\u{3000}""#);
        assert_eq!(parse_escaped(&text).unwrap(), bytes);
    }
}
