//! Safety analysis: what a shell command does, before anyone runs it.
//!
//! The command is parsed as a shell program (with [`brush_parser`]), every simple command in it
//! is found, including those inside pipelines, lists, subshells, functions, loops, command and
//! process substitutions, here-documents and the strings handed to `sh -c`, `eval`, `su -c`,
//! `ssh host '...'`, `xargs`, `find -exec` and `watch`. Wrappers such as `sudo`, `env`,
//! `timeout` or `/bin/rm` are seen through. What each utility does to its arguments is data
//! (`rules.toml`); shell-level effects (redirections, pipes into an interpreter, `eval` of text
//! that only exists at run time, fork bombs) are checked in code.
//!
//! ```
//! use cmdai_core::safety::{Analyzer, RiskLevel};
//!
//! let analyzer = Analyzer::default();
//! let analysis = analyzer.analyze("x=rm; $x -rf /");
//! assert_eq!(analysis.level, RiskLevel::Critical);
//! assert_eq!(analyzer.analyze("ls -la").level, RiskLevel::Safe);
//! ```

mod checks;
mod commands;
mod databases;
mod effects;
mod flow;
mod policy;
mod rules;
mod targets;
mod walk;
mod words;

pub use commands::{SimpleCommand, shell_words, simple_commands};
pub use walk::quiet_parser_panics;
pub(crate) use walk::{catch_quietly, parseable};

use std::fmt;

use serde::{Deserialize, Serialize};

pub use policy::{Decision, Policy, UserRules, UserRulesError};

/// How much harm running a command could do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    /// Reads or prints; changes nothing that matters.
    Safe,
    /// Changes files or settings in the way the user most likely meant.
    Moderate,
    /// Destroys data broadly, changes the system, or runs code cmdai cannot see.
    High,
    /// Can wreck the machine or the user's data: `rm -rf /`, formatting a disk, `curl | sh`.
    Critical,
}

impl RiskLevel {
    /// All levels, from least to most dangerous.
    pub const ALL: [RiskLevel; 4] = [Self::Safe, Self::Moderate, Self::High, Self::Critical];

    /// The lower-case name used in configuration and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Safe => "safe",
            Self::Moderate => "moderate",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of harm a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Deletes files or data.
    Delete,
    /// Overwrites files or devices.
    Overwrite,
    /// Changes permissions or ownership.
    Permissions,
    /// Formats or partitions storage.
    Format,
    /// Runs code fetched from the network.
    DownloadExecute,
    /// Opens listeners, tunnels or remote shells.
    Network,
    /// Kills processes.
    Process,
    /// Changes the firewall.
    Firewall,
    /// Schedules jobs or makes things start automatically.
    Schedule,
    /// Gains or hands out privileges.
    Privilege,
    /// Shuts down or reconfigures the machine.
    System,
    /// Installs or removes software.
    Package,
    /// Rewrites version-control history.
    Vcs,
    /// Sends secrets off the machine.
    Exfiltration,
    /// Runs code cmdai cannot see: unparseable input, decoded payloads, computed commands.
    Opaque,
    /// Exhausts the machine's resources.
    Resources,
    /// Matches one of the user's own deny rules.
    Denied,
    /// A program cmdai has no rules for.
    Unknown,
}

/// A byte range of the analysed command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` (byte offsets).
    pub fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }
}

/// One thing the analyser found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// How dangerous this part is.
    pub level: RiskLevel,
    /// What kind of effect it is.
    pub category: Category,
    /// The part of the command it refers to.
    pub span: Span,
    /// One line a user understands.
    pub message: String,
}

/// The result of analysing one command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Analysis {
    /// The highest level among the findings (`Safe` when there are none).
    pub level: RiskLevel,
    /// Everything found, most dangerous first.
    pub findings: Vec<Finding>,
}

impl Analysis {
    fn from_findings(mut findings: Vec<Finding>) -> Self {
        findings.sort_by(|a, b| b.level.cmp(&a.level).then(a.span.start.cmp(&b.span.start)));
        findings.dedup();
        let level = findings
            .iter()
            .map(|f| f.level)
            .max()
            .unwrap_or(RiskLevel::Safe);
        Self { level, findings }
    }

    /// Whether a user's deny rule matched: such a command is refused under every policy.
    pub fn denied(&self) -> bool {
        self.findings.iter().any(|f| f.category == Category::Denied)
    }
}

/// Analyses commands with the built-in rules and, optionally, the user's allow/deny rules.
#[derive(Debug, Default, Clone)]
pub struct Analyzer {
    user: UserRules,
}

/// Commands longer than this are not parsed: they are reported as too long to check.
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;

impl Analyzer {
    /// An analyser that also applies the user's allow and deny rules.
    pub fn with_user_rules(user: UserRules) -> Self {
        Self { user }
    }

    /// Analyses `command` as a shell program. Never fails: input that cannot be parsed is
    /// itself a finding.
    pub fn analyze(&self, command: &str) -> Analysis {
        if command.len() > MAX_COMMAND_BYTES {
            return Analysis::from_findings(vec![Finding {
                level: RiskLevel::High,
                category: Category::Opaque,
                span: Span::new(0, command.len()),
                message: format!(
                    "the command is {} bytes long; cmdai checks commands of up to {MAX_COMMAND_BYTES} bytes",
                    command.len()
                ),
            }]);
        }
        let findings = walk::analyze(command, rules::builtin(), &self.user);
        Analysis::from_findings(findings)
    }
}

/// The first program of `command` that talks to the network or to another machine (`curl`,
/// `ssh`, `git push`, `docker`, a database client, `/dev/tcp` for the shell's own sockets), or
/// `None`. What such a command does cannot be seen without letting it reach out, so a sandboxed
/// preview of it would mislead.
pub fn network_use(command: &str) -> Option<String> {
    if command.len() > MAX_COMMAND_BYTES {
        return None;
    }
    walk::network_use(command, rules::builtin())
}

/// Analyses `command` with the built-in rules only.
pub fn analyze(command: &str) -> Analysis {
    Analyzer::default().analyze(command)
}
