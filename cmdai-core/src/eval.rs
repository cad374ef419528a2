//! Comparing a generated command with a reference, for `cmdai eval`: exact match after
//! normalising whitespace and quoting, the same utilities, the same utilities with the same flags.

use std::collections::BTreeSet;

use serde::Serialize;

/// How a generated command compares with the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Match {
    /// The same words once quoting and whitespace are normalised (`ls  -l 'a b'` = `ls -l "a b"`).
    pub exact: bool,
    /// The same utilities in the same order (`find ... | xargs rm` = `find ... | xargs rm -f`).
    pub utility: bool,
    /// The same utilities, each with the same set of flags (`ls -la` = `ls -al` = `ls -a -l`).
    pub flags: bool,
}

/// Compares `generated` with `reference`.
pub fn compare(reference: &str, generated: &str) -> Match {
    let (reference, generated) = (words(reference), words(generated));
    let (ref_commands, gen_commands) = (commands(&reference), commands(&generated));
    let utilities = |commands: &[Command]| -> Vec<String> {
        commands.iter().map(|c| c.utility.clone()).collect()
    };
    let utility = !ref_commands.is_empty() && utilities(&ref_commands) == utilities(&gen_commands);
    Match {
        exact: !reference.is_empty() && reference == generated,
        utility,
        flags: utility
            && ref_commands
                .iter()
                .zip(&gen_commands)
                .all(|(a, b)| a.flags == b.flags),
    }
}

/// The command's words with quotes removed, operators (`|`, `&&`, `;`...) as words of their own.
pub fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') if matches!(chars.peek(), Some('"' | '\\' | '$' | '`')) => {
                word.extend(chars.next());
            }
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                word.extend(chars.next());
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, '|' | '&' | ';') => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                let mut operator = c.to_string();
                if chars.peek() == Some(&c) {
                    operator.push(c);
                    chars.next();
                }
                words.push(operator);
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// One simple command: its utility and its flags (`-la` counts as `-l` and `-a`).
#[derive(Debug, PartialEq, Eq)]
struct Command {
    utility: String,
    flags: BTreeSet<String>,
}

/// Wrappers that do not change which utility does the work.
const WRAPPERS: &[&str] = &["sudo", "env", "command", "nohup", "time", "nice", "exec"];

fn commands(words: &[String]) -> Vec<Command> {
    words
        .split(|w| matches!(w.as_str(), "|" | "||" | "&&" | ";" | "&" | ";;"))
        .filter_map(|segment| {
            let mut rest = segment
                .iter()
                .skip_while(|w| w.contains('=') && !w.starts_with('-'))
                .skip_while(|w| WRAPPERS.contains(&w.as_str()));
            let utility = rest.next()?;
            let utility = utility.rsplit('/').next().unwrap_or(utility).to_owned();
            let mut flags = BTreeSet::new();
            for word in rest {
                if let Some(long) = word.strip_prefix("--") {
                    flags.insert(format!("--{}", long.split('=').next().unwrap_or(long)));
                } else if let Some(short) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
                    // `find`-style long options (`-name`, `-mtime`) stay whole.
                    if short.chars().all(|c| c.is_ascii_alphabetic()) && utility != "find" {
                        flags.extend(short.chars().map(|c| format!("-{c}")));
                    } else {
                        flags.insert(word.clone());
                    }
                }
            }
            Some(Command { utility, flags })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_whitespace_do_not_matter_for_an_exact_match() {
        assert!(compare("ls -l 'my file'", "ls  -l \"my file\"").exact);
        assert!(compare("grep -r foo .", "grep -r foo .").exact);
        assert!(!compare("ls -l", "ls -la").exact);
        assert_eq!(
            words("a|b&&c 'x y'\\ z"),
            ["a", "|", "b", "&&", "c", "x y z"]
        );
    }

    #[test]
    fn utilities_and_flag_sets() {
        let m = compare("ls -la", "ls -a -l");
        assert!(!m.exact && m.utility && m.flags);
        let m = compare(
            "find . -name '*.log' -delete",
            "find /var -delete -name '*.txt'",
        );
        assert!(m.utility && m.flags);
        let m = compare("find . | xargs rm", "find . | xargs rm -f");
        assert!(m.utility && !m.flags);
        let m = compare("sudo /bin/du -sh .", "du -s -h /tmp");
        assert!(m.utility && m.flags);
        assert_eq!(compare("ls", "dir"), Match::default());
        assert_eq!(compare("", ""), Match::default());
    }
}
