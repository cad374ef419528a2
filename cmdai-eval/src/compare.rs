//! Comparing a generated command with a reference by text: the same words once quoting and
//! whitespace are normalised, the same utilities, the same utilities with the same flags. Both
//! commands are read by the shell parser of the safety analysis
//! ([`cmdai_core::safety::shell_words`], [`cmdai_core::safety::simple_commands`]).

use std::collections::BTreeSet;

use cmdai_core::safety::{self, SimpleCommand};
use serde::Serialize;

/// How a generated command compares with the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Match {
    /// The same words once quoting and whitespace are normalised (`ls  -l 'a b'` = `ls -l "a b"`).
    pub exact: bool,
    /// The same utilities in the same order, wrappers such as `sudo` or `xargs` seen through
    /// (`find ... | xargs rm` = `find ... | xargs rm -f`).
    pub utility: bool,
    /// The same utilities, each with the same set of flags (`ls -la` = `ls -al` = `ls -a -l`).
    pub flags: bool,
}

/// Compares `generated` with `reference`. A command the shell parser cannot read (an open
/// quote, say) matches nothing.
pub fn compare(reference: &str, generated: &str) -> Match {
    let (reference, generated) = (reference.trim(), generated.trim());
    let words = |command| safety::shell_words(command).unwrap_or_default();
    let (ref_words, gen_words) = (words(reference), words(generated));
    let commands = |command| {
        safety::simple_commands(command)
            .unwrap_or_default()
            .iter()
            .map(Command::of)
            .collect::<Vec<_>>()
    };
    let (ref_commands, gen_commands) = (commands(reference), commands(generated));
    let utilities = |commands: &[Command]| -> Vec<String> {
        commands.iter().map(|c| c.utility.clone()).collect()
    };
    let utility = !ref_commands.is_empty() && utilities(&ref_commands) == utilities(&gen_commands);
    Match {
        exact: !ref_words.is_empty() && ref_words == gen_words,
        utility,
        flags: utility
            && ref_commands
                .iter()
                .zip(&gen_commands)
                .all(|(a, b)| a.flags == b.flags),
    }
}

/// One simple command: its utility and its flags (`-la` counts as `-l` and `-a`).
#[derive(Debug, PartialEq, Eq)]
struct Command {
    utility: String,
    flags: BTreeSet<String>,
}

impl Command {
    fn of(command: &SimpleCommand) -> Self {
        let program = &command.program;
        let utility = program.rsplit('/').next().unwrap_or(program).to_owned();
        let mut flags = BTreeSet::new();
        for word in &command.args {
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
        Command { utility, flags }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `compare(reference, generated)` as `[exact, utility, flags]`.
    fn check(reference: &str, generated: &str, expected: [bool; 3]) {
        let m = compare(reference, generated);
        assert_eq!(
            [m.exact, m.utility, m.flags],
            expected,
            "{reference:?} vs {generated:?}"
        );
    }

    #[test]
    fn quoting_and_whitespace_do_not_matter_for_an_exact_match() {
        check("ls -l 'my file'", "ls  -l \"my file\"", [true, true, true]);
        check("grep -r foo .", "grep -r foo .", [true, true, true]);
        check("ls -l", "ls -la", [false, true, false]);
        check(
            "a|b&&c 'x y'\\ z",
            "a | b && c \"x y z\"",
            [true, true, true],
        );
        check("ls\n", "ls", [true, true, true]);
        // The operators count: the same words joined differently are another command.
        check("a | b", "a && b", [false, true, true]);
    }

    #[test]
    fn utilities_and_flag_sets() {
        check("ls -la", "ls -a -l", [false, true, true]);
        check(
            "find . -name '*.log' -delete",
            "find /var -delete -name '*.txt'",
            [false, true, true],
        );
        check(
            "find . | xargs rm",
            "find . | xargs rm -f",
            [false, true, false],
        );
        check("sudo /bin/du -sh .", "du -s -h /tmp", [false, true, true]);
        check("ls", "dir", [false, false, false]);
        check("", "", [false, false, false]);
    }

    /// Cases the hand-rolled word splitter this replaced got wrong.
    #[test]
    fn the_shell_parser_reads_what_the_word_splitter_did_not() {
        // A pipe inside `$(...)` is not a pipeline of the command: `wc` is not one of its
        // utilities.
        check("echo $(ls | wc -l)", "echo $(ls)", [false, true, true]);
        // `2>&1` and `&>` are redirections, not a background `&` that starts a command `1`.
        check("make 2>&1 | tee log", "make | tee log", [false, true, true]);
        check("ls &> /dev/null", "ls", [false, true, true]);
        // A wrapper's own options are not the utility (`sudo -u bob`, `nice -n 5`).
        check("sudo -u bob ls -l", "ls -l", [false, true, true]);
        check("nice -n 10 make -j4", "make -j4", [false, true, true]);
        // What xargs runs is the utility: `wc` and `cat` differ.
        check("ls | xargs wc -l", "ls | xargs cat", [false, false, false]);
        // A newline separates commands.
        check("cd /tmp\nls", "cd /tmp; ls", [false, true, true]);
        // A here-string's words are not commands.
        check(
            "grep x <<< 'a; rm b'",
            "grep x <<< 'a'",
            [false, true, true],
        );
        // Quotes inside double quotes, and quoted operators.
        check("echo \"it's\"", "echo it\\'s", [true, true, true]);
        check("grep 'a|b' f", "grep \"a|b\" f", [true, true, true]);
        // Keywords are not utilities; the commands in a loop's body are.
        check(
            "for f in *.txt; do wc -l \"$f\"; done",
            "wc -l *.txt",
            [false, true, true],
        );
        // A command the shell cannot read matches nothing.
        check("echo 'open", "echo 'open", [false, false, false]);
    }
}
