//! Syntax classes of a shell command, for showing it highlighted.
//!
//! ```
//! use cmdai_core::highlight::{Class, classify};
//!
//! let command = "find . -name '*.log' | xargs rm";
//! let classes: Vec<(&str, Class)> = classify(command)
//!     .into_iter()
//!     .map(|part| (&command[part.range], part.class))
//!     .collect();
//! assert_eq!(classes[0], ("find", Class::Program));
//! assert_eq!(classes[2], ("-name", Class::Option));
//! assert_eq!(classes[3], ("'*.log'", Class::Quoted));
//! assert_eq!(classes[4], ("|", Class::Operator));
//! assert_eq!(classes[5], ("xargs", Class::Program));
//! ```

use std::ops::Range;

use brush_parser::Token;

/// What a part of a command is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// The program a simple command runs (`find`, `xargs`, `sudo`).
    Program,
    /// A reserved word (`if`, `for`, `do`, `done`).
    Keyword,
    /// An option (`-name`, `--force`).
    Option,
    /// A quoted string (`'*.log'`).
    Quoted,
    /// A parameter or command substitution, or an assignment (`$HOME`, `$(date)`, `x=1`).
    Expansion,
    /// An operator: pipe, list, redirection, subshell parentheses.
    Operator,
    /// Any other word (a file name, a pattern).
    Plain,
}

/// A classified part of a command: `range` is a byte range into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Where the part is, in bytes.
    pub range: Range<usize>,
    /// What it is.
    pub class: Class,
}

/// Words after which a new simple command starts.
const COMMAND_STARTERS: &[&str] = &[
    "then", "do", "else", "elif", "if", "while", "until", "!", "{", "time",
];
const KEYWORDS: &[&str] = &[
    "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac",
    "in", "function", "select", "time", "!", "{", "}",
];

/// Classifies the words and operators of `command`, in order; the text between parts
/// (whitespace) belongs to none. Text the shell tokenizer cannot read (an unclosed quote) is one
/// [`Class::Plain`] part, so a caller can always show the whole command.
pub fn classify(command: &str) -> Vec<Part> {
    let tokens = crate::safety::parseable(command)
        .ok()
        .and_then(|()| crate::safety::catch_quietly(|| brush_parser::tokenize_str(command)));
    let Some(Ok(tokens)) = tokens else {
        return vec![Part {
            range: 0..command.len(),
            class: Class::Plain,
        }];
    };
    // Token positions count characters; parts are byte ranges.
    let bytes: Vec<usize> = command
        .char_indices()
        .map(|(i, _)| i)
        .chain([command.len()])
        .collect();
    let byte = |index: usize| bytes.get(index).copied().unwrap_or(command.len());
    let mut parts = Vec::with_capacity(tokens.len());
    let mut expect_program = true;
    let mut after_redirection = false;
    for token in &tokens {
        let location = token.location();
        let range = byte(location.start.index)..byte(location.end.index);
        if range.is_empty() || command.get(range.clone()).is_none() {
            continue;
        }
        let class = match token {
            Token::Operator(op, _) => {
                after_redirection = op.contains(['<', '>']);
                expect_program = !after_redirection && op != ")";
                Class::Operator
            }
            Token::Word(word, _) => {
                let class = word_class(word, expect_program && !after_redirection);
                if class == Class::Program {
                    expect_program = false;
                } else if class == Class::Keyword {
                    expect_program = COMMAND_STARTERS.contains(&word.as_str());
                }
                after_redirection = false;
                class
            }
        };
        parts.push(Part { range, class });
    }
    parts
}

fn word_class(word: &str, in_program_position: bool) -> Class {
    let is_assignment = word.split_once('=').is_some_and(|(name, _)| is_name(name));
    if in_program_position && KEYWORDS.contains(&word) {
        Class::Keyword
    } else if is_assignment || word.starts_with('$') || word.starts_with('`') {
        Class::Expansion
    } else if in_program_position {
        Class::Program
    } else if word.starts_with(['\'', '"']) {
        Class::Quoted
    } else if word.starts_with('-') && word.len() > 1 {
        Class::Option
    } else {
        Class::Plain
    }
}

fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(command: &str) -> Vec<(&str, Class)> {
        classify(command)
            .into_iter()
            .map(|part| (&command[part.range], part.class))
            .collect()
    }

    #[test]
    fn programs_start_every_simple_command() {
        use Class::*;
        assert_eq!(
            classes("cd /tmp && ls -la; x=1 du -sh * | sort -h > out.txt"),
            [
                ("cd", Program),
                ("/tmp", Plain),
                ("&&", Operator),
                ("ls", Program),
                ("-la", Option),
                (";", Operator),
                ("x=1", Expansion),
                ("du", Program),
                ("-sh", Option),
                ("*", Plain),
                ("|", Operator),
                ("sort", Program),
                ("-h", Option),
                (">", Operator),
                ("out.txt", Plain)
            ]
        );
    }

    #[test]
    fn keywords_quotes_and_expansions() {
        use Class::*;
        assert_eq!(
            classes(r#"for f in *.txt; do echo "$f" $HOME; done"#),
            [
                ("for", Keyword),
                ("f", Plain),
                ("in", Plain),
                ("*.txt", Plain),
                (";", Operator),
                ("do", Keyword),
                ("echo", Program),
                ("\"$f\"", Quoted),
                ("$HOME", Expansion),
                (";", Operator),
                ("done", Keyword)
            ]
        );
    }

    #[test]
    fn ranges_are_bytes_even_after_non_ascii_text() {
        let command = "echo 'héllo wörld' -n";
        let parts = classify(command);
        assert_eq!(&command[parts[2].range.clone()], "-n");
    }

    #[test]
    fn unreadable_text_is_one_plain_part() {
        let command = "echo 'unclosed";
        assert_eq!(
            classify(command),
            [Part {
                range: 0..command.len(),
                class: Class::Plain
            }]
        );
    }
}
