//! Mistakes in a generated command that show without running it, so that the generator can ask
//! the model once more with the mistake named (issue 21's "check before showing").
//!
//! What is wrong in every shell and on every system: a command the shell cannot read, and
//! `find -exec` without the argument that ends it (small models write `-exec rm {} \;}`, a word
//! `;}` that find does not take). And what is wrong on the user's system: an option its tools do
//! not have (`tail -r` with GNU's tail), for the tools in [`OptionTable`].

use std::fmt;

use crate::ShellContext;
use crate::options::OptionTable;
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
    /// An option the program does not have with the system's tools.
    UnknownOption {
        /// The program, e.g. `tail`.
        program: String,
        /// The option as written, e.g. `-r`.
        option: String,
        /// Whose tools, e.g. `GNU`.
        tools: &'static str,
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
            Flaw::UnknownOption {
                program,
                option,
                tools,
            } => write!(f, "{tools} {program} has no option {option}"),
        }
    }
}

/// The first flaw of `command` on the system `context` describes, if it has one. Options are
/// checked where the context says the core utilities are GNU's.
pub fn flaw(command: &str, context: &ShellContext) -> Option<Flaw> {
    let Some(commands) = simple_commands(command) else {
        return Some(Flaw::NotShell);
    };
    let options = context
        .utilities
        .as_deref()
        .is_some_and(|utilities| utilities.starts_with("GNU"))
        .then(OptionTable::gnu);
    commands.iter().find_map(|command| {
        unended_exec(command).or_else(|| {
            let option = options?.unknown_option(command)?;
            Some(Flaw::UnknownOption {
                program: command.program.rsplit('/').next()?.to_owned(),
                option,
                tools: "GNU",
            })
        })
    })
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

    fn gnu() -> ShellContext {
        ShellContext::new("Linux", "bash", "/home/me").with_utilities("GNU coreutils")
    }

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
            "tail -n 5 log | sort -r",
        ] {
            assert_eq!(flaw(command, &gnu()), None, "{command}");
        }
    }

    #[test]
    fn flaws_are_named() {
        let unended = |action: &str| {
            Some(Flaw::UnendedExec {
                action: action.into(),
            })
        };
        let flaw = |command| flaw(command, &gnu());
        assert_eq!(
            flaw(r"find . -type d -empty -exec rmdir {} \;}"),
            unended("-exec")
        );
        assert_eq!(flaw("find . -name x -execdir rm {}"), unended("-execdir"));
        assert_eq!(flaw(r"ls && /usr/bin/find . -ok rm {} \;x"), unended("-ok"));
        assert_eq!(flaw("awk '{print $2 "), Some(Flaw::NotShell));
        assert_eq!(flaw("ls |"), Some(Flaw::NotShell));
        assert_eq!(flaw("echo \"half"), Some(Flaw::NotShell));
        let tail_r = flaw("cat log | /usr/bin/tail -r").unwrap();
        assert_eq!(tail_r.to_string(), "GNU tail has no option -r");
    }

    #[test]
    fn options_are_checked_only_against_the_systems_own_tools() {
        // `tail -r` is BSD tail's reverse; on macOS it is right, and BusyBox is not in the table.
        let macos = ShellContext::new("macOS", "zsh", "/Users/me").with_utilities("BSD utilities");
        let busybox = ShellContext::new("Linux", "sh", "/").with_utilities("BusyBox");
        let unknown = ShellContext::new("Linux", "sh", "/");
        for context in [macos, busybox, unknown] {
            assert_eq!(flaw("tail -r log", &context), None);
        }
        assert!(matches!(
            flaw("tail -r log", &gnu()),
            Some(Flaw::UnknownOption { .. })
        ));
    }
}
