//! Readable differences between what was expected and what happened: a unified diff (from
//! `similar`) of two texts in which invisible characters are shown (`␠` `␉` `␊`), so that a
//! missing space or line feed can be seen.

use similar::TextDiff;

/// `bytes` as text in which spaces, tabs, line feeds and carriage returns are made visible
/// (each line feed also ends a line, so the text stays readable), and bytes that are not UTF-8
/// are written as `\xNN`.
pub fn make_visible(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                ' ' => out.push('␠'),
                '\t' => out.push('␉'),
                '\r' => out.push('␍'),
                '\n' => out.push_str("␊\n"),
                c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// A unified diff from `expected` to `actual` (each made visible), headed by the two names;
/// empty when they are equal.
pub fn unified_diff(
    expected_name: &str,
    expected: &[u8],
    actual_name: &str,
    actual: &[u8],
) -> String {
    if expected == actual {
        return String::new();
    }
    let (old, new) = (make_visible(expected), make_visible(actual));
    let mut text = TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(expected_name, actual_name)
        .to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_invisible_characters() {
        assert_eq!(make_visible(b"a b\t\n\xff"), "a␠b␉␊\n\\xff");
    }

    #[test]
    fn diff_names_both_sides_and_is_empty_when_equal() {
        assert_eq!(unified_diff("a", b"x", "b", b"x"), "");
        let d = unified_diff("expected", b"1 2\n", "actual", b"1  2\n");
        assert!(d.contains("--- expected") && d.contains("+++ actual"), "{d}");
        assert!(d.contains("-1␠2␊") && d.contains("+1␠␠2␊"), "{d}");
    }
}
