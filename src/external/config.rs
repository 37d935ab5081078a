//! `twinspace.toml`: named external engines, in a small subset of TOML read here (no
//! dependency).
//!
//! ```toml
//! # comments start with `#`
//! [engine.wsc]
//! command = "wsc {}"            # required: the command template (see `Command::parse`)
//! trap = "error: {kind}"        # optional: how its standard error names a trap kind
//! timeout = 10                  # optional: seconds one run may take (fractions allowed)
//! max-output = 16777216         # optional: bytes kept of each output stream
//! ```
//!
//! Only `[engine.NAME]` tables (NAME bare, or quoted with `"`), `key = value` lines, basic
//! strings (`"..."` with `\"`, `\\`, `\n`, `\t` escapes) and numbers are understood; anything
//! else is an error naming its line, so a typo never silently drops a setting.

use std::time::Duration;

use super::command::Command;

/// One `[engine.NAME]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    /// The table's NAME.
    pub name: String,
    /// The `command` template.
    pub command: String,
    /// The `trap` pattern, holding `{kind}`.
    pub trap: Option<String>,
    /// The `timeout`, if given.
    pub timeout: Option<Duration>,
    /// The `max-output`, if given.
    pub max_output: Option<usize>,
    /// The line of the table header.
    pub line: usize,
}

/// Reads a whole configuration file: its engines in file order.
pub fn parse_config(text: &str) -> Result<Vec<EngineConfig>, String> {
    let mut engines: Vec<EngineConfig> = Vec::new();
    let mut current: Option<(EngineConfig, bool)> = None; // the table, and whether it has `command`
    let finish = |t: Option<(EngineConfig, bool)>, engines: &mut Vec<EngineConfig>| match t {
        Some((e, true)) => {
            engines.push(e);
            Ok(())
        }
        Some((e, false)) => {
            Err(format!("line {}: [engine.{}] has no `command = \"...\"`", e.line, e.name))
        }
        None => Ok(()),
    };
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        let bad = |what: &str| format!("line {number}: {what}");
        if let Some(header) = line.strip_prefix('[') {
            let header = header
                .strip_suffix(']')
                .ok_or_else(|| bad("a table header must end with `]`"))?
                .trim();
            let name = header.strip_prefix("engine.").ok_or_else(|| {
                bad(&format!("unknown table `[{header}]` (only `[engine.NAME]` tables)"))
            })?;
            let name = match name.strip_prefix('"') {
                Some(quoted) => quoted
                    .strip_suffix('"')
                    .ok_or_else(|| bad("unterminated quoted engine name"))?
                    .to_owned(),
                None => name.to_owned(),
            };
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(bad("an engine name must be non-empty, without spaces"));
            }
            if engines.iter().any(|e| e.name == name)
                || current.as_ref().is_some_and(|(e, _)| e.name == name)
            {
                return Err(bad(&format!("engine `{name}` is defined twice")));
            }
            finish(current.take(), &mut engines)?;
            current = Some((
                EngineConfig {
                    name,
                    command: String::new(),
                    trap: None,
                    timeout: None,
                    max_output: None,
                    line: number,
                },
                false,
            ));
            continue;
        }
        let (key, value) =
            line.split_once('=').ok_or_else(|| bad("expected `key = value` or `[engine.NAME]`"))?;
        let (key, value) = (key.trim(), value.trim());
        let Some((engine, has_command)) = current.as_mut() else {
            return Err(bad(&format!("`{key}` outside an `[engine.NAME]` table")));
        };
        match key {
            "command" => {
                engine.command = string(value).map_err(|e| bad(&e))?;
                Command::parse(&engine.command).map_err(|e| bad(&e))?;
                *has_command = true;
            }
            "trap" => {
                let pattern = string(value).map_err(|e| bad(&e))?;
                if !pattern.contains("{kind}") {
                    return Err(bad("the `trap` pattern must hold `{kind}`"));
                }
                engine.trap = Some(pattern);
            }
            "timeout" => {
                let secs: f64 = value
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s <= 1e6)
                    .ok_or_else(|| bad("`timeout` is a number of seconds above 0"))?;
                engine.timeout = Some(Duration::from_secs_f64(secs));
            }
            "max-output" => {
                let n = value
                    .replace('_', "")
                    .parse()
                    .ok()
                    .filter(|&n: &usize| n > 0)
                    .ok_or_else(|| bad("`max-output` is a number of bytes above 0"))?;
                engine.max_output = Some(n);
            }
            other => {
                return Err(bad(&format!(
                    "unknown key `{other}` (command, trap, timeout, max-output)"
                )));
            }
        }
    }
    finish(current, &mut engines)?;
    Ok(engines)
}

/// The line without a `#` comment (a `#` inside a string is kept).
fn strip_comment(line: &str) -> &str {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '#' if !in_string => return &line[..i],
            _ => {}
        }
    }
    line
}

/// A basic string `"..."`, unescaped.
fn string(value: &str) -> Result<String, String> {
    let inner = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .filter(|_| value.len() >= 2)
        .ok_or_else(|| format!("expected a quoted string, found `{value}`"))?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                other => {
                    return Err(format!(
                        "unknown escape `\\{}` (\\\", \\\\, \\n, \\t)",
                        other.map(String::from).unwrap_or_default()
                    ));
                }
            },
            '"' => return Err(format!("stray `\"` in `{value}` (escape it as \\\")")),
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_are_read_with_their_settings() {
        let text = r#"
# my engines
[engine.wsc]
command = "wsc {}"   # whitespace-rs
trap = "error: {kind}"
timeout = 2.5

[engine."py ws"x]
"#;
        assert!(parse_config(text).unwrap_err().starts_with("line 8"));
        let text = "[engine.wsc]\ncommand = \"wsc \\\"#\\\" {}\"\ntimeout = 2.5\n[engine.b]\ncommand=\"b\"\nmax-output = 1_000\n";
        let engines = parse_config(text).unwrap();
        assert_eq!(engines.len(), 2);
        assert_eq!(engines[0].command, "wsc \"#\" {}");
        assert_eq!(engines[0].timeout, Some(Duration::from_millis(2500)));
        assert_eq!(engines[1].name, "b");
        assert_eq!(engines[1].max_output, Some(1000));
    }

    #[test]
    fn mistakes_name_their_line() {
        for (text, line) in [
            ("command = \"x\"", "line 1"),
            ("[engine.a]\ncommand = x", "line 2"),
            ("[engine.a]\ntrap = \"no kind\"\ncommand = \"a\"", "line 2"),
            ("[engine.a]\n", "line 1"),
            ("[engine.a]\ncommand = \"a\"\n[engine.a]\ncommand = \"a\"", "line 3"),
            ("[other]", "line 1"),
            ("[engine.a]\ncomand = \"a\"", "line 2"),
            ("[engine.a]\ncommand = \"a\"\ntimeout = -1", "line 3"),
        ] {
            let e = parse_config(text).unwrap_err();
            assert!(e.starts_with(line), "{text:?}: {e}");
        }
    }
}
