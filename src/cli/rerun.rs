//! Command lines that re-run a case, as the words a program receives (`argv`), rendered for a
//! POSIX shell once, when shown: a word is quoted only when the shell would split or expand it.
//! Words are never joined into a string to be split again, so a path with a space (or any
//! byte) survives.

use std::ffi::{OsStr, OsString};

/// A command line: its words, the program's name first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandLine(Vec<OsString>);

impl CommandLine {
    /// `twinspace SUBCOMMAND`.
    pub fn twinspace(subcommand: &str) -> CommandLine {
        CommandLine(vec!["twinspace".into(), subcommand.into()])
    }

    /// Adds one word.
    pub fn arg(mut self, word: impl AsRef<OsStr>) -> CommandLine {
        self.0.push(word.as_ref().to_owned());
        self
    }

    /// Adds words.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, words: I) -> CommandLine {
        self.0.extend(words.into_iter().map(|w| w.as_ref().to_owned()));
        self
    }

    /// The same words with the subcommand (the second word) replaced.
    pub fn with_subcommand(mut self, subcommand: &str) -> CommandLine {
        if let Some(word) = self.0.get_mut(1) {
            *word = subcommand.into();
        }
        self
    }

    /// The words after the program's name, for running it.
    pub fn arguments(&self) -> &[OsString] {
        self.0.get(1..).unwrap_or_default()
    }

    /// The command as typed into a shell.
    pub fn render(&self) -> String {
        self.0.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
    }
}

/// A word for a POSIX shell: as it is when nothing in it is special, else in single quotes.
pub fn quote(word: &OsStr) -> String {
    let s = word.to_string_lossy();
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_needed() {
        let c = CommandLine::twinspace("diff").arg("a b.ws").arg("--fuel").arg("7").arg("it's");
        assert_eq!(c.render(), "twinspace diff 'a b.ws' --fuel 7 'it'\\''s'");
        assert_eq!(c.clone().with_subcommand("shrink").arguments()[0], "shrink");
        assert_eq!(quote(OsStr::new("")), "''");
        assert_eq!(quote(OsStr::new("$HOME")), "'$HOME'");
    }
}
