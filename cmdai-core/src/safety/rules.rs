//! The rule table (`rules.toml`), loaded once, and how a rule matches a simple command.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::LazyLock;

use serde::Deserialize;
use wildmatch::WildMatch;

use super::targets::TargetKind;
use super::walk::Arg;
use super::{Category, RiskLevel};

const RULES_TOML: &str = include_str!("rules.toml");

/// The built-in rules. They are part of the binary, so a failure to parse them is a bug that
/// the unit tests catch; it can never depend on user input.
pub(super) fn builtin() -> &'static RuleSet {
    static RULES: LazyLock<RuleSet> = LazyLock::new(|| {
        RuleSet::from_toml(RULES_TOML).expect("the built-in rules.toml is valid (unit-tested)")
    });
    &RULES
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    wrapper: Vec<Wrapper>,
    known: Known,
    rule: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Known {
    safe: Vec<String>,
}

/// A program that runs another program: `sudo`, `env`, `timeout`...
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Wrapper {
    names: Vec<String>,
    #[serde(default)]
    pub privileged: bool,
    #[serde(default)]
    pub value_options: Vec<String>,
    #[serde(default)]
    pub shell_options: Vec<String>,
    #[serde(default)]
    pub code_options: Vec<String>,
    #[serde(default)]
    pub positionals: usize,
    #[serde(default)]
    pub assignments: bool,
    /// The wrapper never runs its operands as a command (`su user` names a user).
    #[serde(default)]
    pub no_command: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Rule {
    utility: Vec<String>,
    #[serde(default)]
    subcommand: Vec<String>,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    not_flags: Vec<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    also_args: Vec<String>,
    pub category: Category,
    pub level: RiskLevel,
    pub message: String,
    #[serde(default)]
    targets: Option<String>,
    #[serde(default)]
    pub escalate: BTreeMap<TargetKind, RiskLevel>,
}

/// Which arguments a rule's utility acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Targets {
    Operands,
    Last,
    FindRoots,
    SkipFirst,
    Value(String),
}

impl Targets {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(match text {
            "operands" => Self::Operands,
            "last" => Self::Last,
            "find_roots" => Self::FindRoots,
            "skip1" => Self::SkipFirst,
            _ => match text.strip_prefix("value:") {
                Some(prefix) if !prefix.is_empty() => Self::Value(prefix.to_owned()),
                _ => return Err(format!("unknown targets `{text}`")),
            },
        })
    }
}

pub(super) struct CompiledRule {
    pub rule: Rule,
    pub targets: Option<Targets>,
}

pub(super) struct RuleSet {
    wrappers: HashMap<String, usize>,
    wrapper_list: Vec<Wrapper>,
    /// Rules by exact utility name, in file order.
    by_name: HashMap<String, Vec<usize>>,
    /// Rules whose utility is a pattern (`mkfs.*`).
    by_pattern: Vec<(WildMatch, usize)>,
    rules: Vec<CompiledRule>,
    known: HashSet<String>,
}

impl RuleSet {
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let file: RulesFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut wrappers = HashMap::new();
        for (index, wrapper) in file.wrapper.iter().enumerate() {
            for name in &wrapper.names {
                wrappers.insert(name.clone(), index);
            }
        }
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_pattern = Vec::new();
        let mut rules = Vec::new();
        let mut known: HashSet<String> = file.known.safe.into_iter().collect();
        for (index, rule) in file.rule.into_iter().enumerate() {
            let targets = rule.targets.as_deref().map(Targets::parse).transpose()?;
            if targets.is_none() && !rule.escalate.is_empty() {
                return Err(format!(
                    "rule `{}` escalates but names no targets",
                    rule.message
                ));
            }
            for name in &rule.utility {
                if name.contains('*') {
                    by_pattern.push((WildMatch::new(name), index));
                } else {
                    by_name.entry(name.clone()).or_default().push(index);
                    known.insert(name.clone());
                }
            }
            rules.push(CompiledRule { rule, targets });
        }
        known.extend(wrappers.keys().cloned());
        Ok(Self {
            wrappers,
            wrapper_list: file.wrapper,
            by_name,
            by_pattern,
            rules,
            known,
        })
    }

    pub fn wrapper(&self, name: &str) -> Option<&Wrapper> {
        self.wrappers
            .get(name)
            .map(|&index| &self.wrapper_list[index])
    }

    /// Rules for `name`, in file order.
    pub fn rules_for(&self, name: &str) -> Vec<&CompiledRule> {
        let mut indices: Vec<usize> = self.by_name.get(name).cloned().unwrap_or_default();
        indices.extend(
            self.by_pattern
                .iter()
                .filter(|(p, _)| p.matches(name))
                .map(|(_, i)| *i),
        );
        indices.sort_unstable();
        indices.into_iter().map(|i| &self.rules[i]).collect()
    }

    pub fn is_known(&self, name: &str) -> bool {
        self.known.contains(name) || self.by_pattern.iter().any(|(p, _)| p.matches(name))
    }
}

impl CompiledRule {
    /// Whether the rule applies to a command with these arguments.
    pub fn matches(&self, args: &[Arg]) -> bool {
        let rule = &self.rule;
        if !rule.subcommand.is_empty() && subcommand_end(args, &rule.subcommand).is_none() {
            return false;
        }
        if !rule.flags.is_empty() && !rule.flags.iter().any(|f| has_flag(args, f)) {
            return false;
        }
        if rule.not_flags.iter().any(|f| has_flag(args, f)) {
            return false;
        }
        let any_of =
            |list: &[String]| list.is_empty() || args.iter().any(|a| list.contains(&a.text));
        if !any_of(&rule.args) || !any_of(&rule.also_args) {
            return false;
        }
        true
    }

    /// The arguments this rule's utility acts on.
    pub fn target_args<'a>(&self, args: &'a [Arg]) -> Vec<&'a Arg> {
        let Some(targets) = &self.targets else {
            return Vec::new();
        };
        let skip = subcommand_end(args, &self.rule.subcommand).unwrap_or(0);
        let operands = || operands(&args[skip..]);
        match targets {
            Targets::Operands => operands(),
            Targets::SkipFirst => operands().into_iter().skip(1).collect(),
            Targets::Last => operands().into_iter().last().into_iter().collect(),
            Targets::FindRoots => args
                .iter()
                .take_while(|a| a.dynamic_at.is_some() || !is_find_expression(&a.text))
                .collect(),
            Targets::Value(prefix) => args
                .iter()
                .filter(|a| a.text.starts_with(prefix.as_str()))
                .collect(),
        }
    }

    /// The text of a target, without a `value:` prefix.
    pub fn target_text<'a>(&self, arg: &'a Arg) -> &'a str {
        match &self.targets {
            Some(Targets::Value(prefix)) => {
                arg.text.strip_prefix(prefix.as_str()).unwrap_or(&arg.text)
            }
            _ => &arg.text,
        }
    }
}

fn is_find_expression(text: &str) -> bool {
    text.starts_with('-') || text == "(" || text == "!" || text == ")"
}

/// Non-option arguments; everything after `--` is an operand.
pub(super) fn operands(args: &[Arg]) -> Vec<&Arg> {
    let mut after_dashes = false;
    let mut out = Vec::new();
    for arg in args {
        if after_dashes {
            out.push(arg);
        } else if arg.text == "--" && arg.dynamic_at.is_none() {
            after_dashes = true;
        } else if !arg.text.starts_with('-') || arg.text == "-" {
            out.push(arg);
        }
    }
    out
}

/// Index just past the subcommand words, when they appear in order among the first operands.
fn subcommand_end(args: &[Arg], words: &[String]) -> Option<usize> {
    if words.is_empty() {
        return Some(0);
    }
    let mut next = 0;
    for (index, arg) in args.iter().enumerate().take(6) {
        if arg.text == words[next] {
            next += 1;
            if next == words.len() {
                return Some(index + 1);
            }
        } else if next > 0 {
            return None;
        }
    }
    None
}

/// Whether `flag` is among `args`: `-r` also inside clusters like `-rf`, `--force` also as
/// `--force=...`, and single-dash long flags like `-delete` only exactly.
pub(super) fn has_flag(args: &[Arg], flag: &str) -> bool {
    args.iter()
        .take_while(|a| a.text != "--")
        .any(|arg| flag_matches(&arg.text, flag))
}

fn flag_matches(arg: &str, flag: &str) -> bool {
    if let Some(long) = flag.strip_prefix("--") {
        return arg
            .strip_prefix("--")
            .is_some_and(|a| a == long || a.starts_with(&format!("{long}=")));
    }
    let Some(short) = flag.strip_prefix('-') else {
        return arg == flag;
    };
    if short.chars().count() != 1 {
        return arg == flag;
    }
    match arg.strip_prefix('-') {
        Some(cluster)
            if !cluster.starts_with('-') && cluster.chars().all(|c| c.is_ascii_alphabetic()) =>
        {
            cluster.contains(short)
        }
        Some(_) => arg == flag,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_load() {
        let rules = RuleSet::from_toml(RULES_TOML).unwrap();
        assert!(rules.wrapper("sudo").is_some_and(|w| w.privileged));
        assert!(!rules.rules_for("rm").is_empty());
        assert!(!rules.rules_for("mkfs.ext4").is_empty());
        assert!(rules.is_known("ls"));
    }

    #[test]
    fn flags_match_clusters_and_long_forms() {
        assert!(flag_matches("-rf", "-r"));
        assert!(flag_matches("-fR", "-R"));
        assert!(!flag_matches("-fR", "-r"));
        assert!(flag_matches("--recursive", "--recursive"));
        assert!(flag_matches("--delete=yes", "--delete"));
        assert!(!flag_matches("--delete-excluded", "--delete"));
        assert!(flag_matches("-delete", "-delete"));
        assert!(!flag_matches("r", "-r"));
    }
}
