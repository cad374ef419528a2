//! Mistakes in a generated command that show without running it, so that the generator can ask
//! the model once more with the mistake named (issue 21's "check before showing").
//!
//! Only what is wrong in every shell and on every system belongs here: a command the shell
//! cannot read, and `find -exec` without the argument that ends it (small models write
//! `-exec rm {} \;}`, a word `;}` that find does not take).

use std::fmt;

use crate::safety::{SimpleCommand, simple_commands};

/// What is wrong with a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flaw {
    /// The shell cannot read it: an open quote or bracket, an operator with nothing after it.
    NotShell,
    /// `find` with `-exec` (or `-execdir`, `-ok`, `-okdir`) and no `;` or `+` argument after it.
    UnendedExec {
        /// The action, e.g. `-exec`.
        action: String,
    },
}

impl fmt::Display for Flaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Flaw::NotShell => f.write_str(
                "it is not valid shell syntax (a quote or bracket is not closed, or an operator \
                 has nothing after it)",
            ),
            Flaw::UnendedExec { action } => write!(
                f,
                "find's {action} must end with its own argument `\\;` or `+`, with nothing \
                 attached to it"
            ),
        }
    }
}

/// The first flaw of `command`, if it has one.
pub fn flaw(command: &str) -> Option<Flaw> {
    let Some(commands) = simple_commands(command) else {
        return Some(Flaw::NotShell);
    };
    commands.iter().find_map(unended_exec)
}

fn unended_exec(command: &SimpleCommand) -> Option<Flaw> {
    if command.program.rsplit('/').next() != Some("find") {
        return None;
    }
    let mut open: Option<&str> = None;
    for arg in &command.args {
        match arg.as_str() {
            "-exec" | "-execdir" | "-ok" | "-okdir" if open.is_none() => open = Some(arg),
            ";" | "+" => open = None,
            _ => {}
        }
    }
    open.map(|action| Flaw::UnendedExec {
        action: action.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_without_flaws() {
        for command in [
            "ls -la",
            r"find . -name '*.tmp' -exec rm {} \;",
            "find . -type f -exec chmod 644 {} +",
            r"find . -name '*.c' -execdir wc -l {} ';' -print",
            "find . -name '*.log' -delete",
            "awk '{print $2 \" x \" $3}' data.csv",
            "echo 'it'\\''s'",
            "for f in *.txt; do mv \"$f\" \"${f%.txt}.md\"; done",
        ] {
            assert_eq!(flaw(command), None, "{command}");
        }
    }

    #[test]
    fn flaws_are_named() {
        let unended = |action: &str| {
            Some(Flaw::UnendedExec {
                action: action.into(),
            })
        };
        assert_eq!(
            flaw(r"find . -type d -empty -exec rmdir {} \;}"),
            unended("-exec")
        );
        assert_eq!(flaw("find . -name x -execdir rm {}"), unended("-execdir"));
        assert_eq!(flaw(r"ls && /usr/bin/find . -ok rm {} \;x"), unended("-ok"));
        assert_eq!(flaw("awk '{print $2 "), Some(Flaw::NotShell));
        assert_eq!(flaw("ls |"), Some(Flaw::NotShell));
        assert_eq!(flaw("echo \"half"), Some(Flaw::NotShell));
    }
}
