//! What to do with a command of a given risk: the user's policy and their own rules.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use wildmatch::WildMatch;

use super::{Analysis, RiskLevel};

/// How cautious cmdai is about running commands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Moderate needs a typed yes; High and Critical are refused.
    Strict,
    /// Safe and Moderate need a confirmation; High needs a typed yes; Critical is refused.
    #[default]
    Moderate,
    /// Up to High needs a confirmation; Critical needs a typed yes.
    Permissive,
}

/// What may happen to a command under a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// May run once confirmed; `-y` counts as confirmation; the prompt defaults to yes.
    Confirm,
    /// May run only after the user answers yes at the prompt (default no); `-y` is not enough.
    ConfirmExplicitly,
    /// Never run.
    Refuse,
}

impl Policy {
    /// All policies, from most to least cautious.
    pub const ALL: [Policy; 3] = [Self::Strict, Self::Moderate, Self::Permissive];

    /// The lower-case name used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::Moderate => "moderate",
            Self::Permissive => "permissive",
        }
    }

    /// What may happen to a command with this analysis.
    pub fn decide(self, analysis: &Analysis) -> Decision {
        if analysis.denied() {
            return Decision::Refuse;
        }
        use Decision::*;
        use RiskLevel as L;
        match (self, analysis.level) {
            (_, L::Safe) => Confirm,
            (Self::Strict, L::Moderate) => ConfirmExplicitly,
            (Self::Strict, _) => Refuse,
            (Self::Moderate, L::Moderate) => Confirm,
            (Self::Moderate, L::High) => ConfirmExplicitly,
            (Self::Moderate, L::Critical) => Refuse,
            (Self::Permissive, L::Moderate | L::High) => Confirm,
            (Self::Permissive, L::Critical) => ConfirmExplicitly,
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Policy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "unknown safety policy `{text}`; expected one of: strict, moderate, permissive"
                )
            })
    }
}

/// The user's own rules: simple commands matching an allow pattern are not reported, simple
/// commands matching a deny pattern are refused under every policy.
///
/// Patterns are matched against each simple command with its program's base name and its
/// arguments after quote removal, separated by single spaces (`/bin/rm -rf 'a b'` is
/// `rm -rf a b`); `*` matches any text and `?` one character.
#[derive(Clone, Debug, Default)]
pub struct UserRules {
    allow: Vec<(String, WildMatch)>,
    deny: Vec<(String, WildMatch)>,
}

/// A user rule that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("empty {list} pattern: a rule must name at least a program, e.g. \"terraform destroy*\"")]
pub struct UserRulesError {
    /// `allow` or `deny`.
    pub list: &'static str,
}

impl UserRules {
    /// Compiles allow and deny patterns.
    pub fn new(allow: &[String], deny: &[String]) -> Result<Self, UserRulesError> {
        let compile = |patterns: &[String], list| {
            patterns
                .iter()
                .map(|p| {
                    let p = p.trim();
                    if p.is_empty() {
                        Err(UserRulesError { list })
                    } else {
                        Ok((p.to_owned(), WildMatch::new(p)))
                    }
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self {
            allow: compile(allow, "allow")?,
            deny: compile(deny, "deny")?,
        })
    }

    pub(super) fn allows(&self, command: &str) -> bool {
        self.allow.iter().any(|(_, p)| p.matches(command))
    }

    pub(super) fn denies(&self, command: &str) -> Option<&str> {
        self.deny
            .iter()
            .find(|(_, p)| p.matches(command))
            .map(|(text, _)| text.as_str())
    }
}
