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
    /// Programs that only read or print.
    safe: Vec<String>,
    /// Programs cmdai knows but whose verbs the destructive-verb check still reads.
    #[serde(default)]
    tools: Vec<String>,
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
    /// Wildcard patterns (case-insensitive); at least one argument must match one.
    #[serde(default)]
    patterns: Vec<String>,
    /// No argument may equal one of these.
    #[serde(default)]
    not_args: Vec<String>,
    /// No argument may match one of these wildcard patterns (case-insensitive).
    #[serde(default)]
    not_patterns: Vec<String>,
    /// And at least one argument must match one of these too.
    #[serde(default)]
    also_patterns: Vec<String>,
    /// Only when an operand names another machine (`host:path`, `user@host:`, `s3://...`).
    #[serde(default)]
    remote: bool,
    /// Options whose value is the next argument: it is not an operand (`scp -i KEY`).
    #[serde(default)]
    value_options: Vec<String>,
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
    /// The values of these options: `-t DIR`, `--root=DIR`.
    Option(Vec<String>),
    /// The host side of container bind mounts: `-v SRC:DST`, `--mount type=bind,source=SRC`.
    Mounts,
}

impl Targets {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(match text {
            "operands" => Self::Operands,
            "last" => Self::Last,
            "find_roots" => Self::FindRoots,
            "skip1" => Self::SkipFirst,
            "mounts" => Self::Mounts,
            _ => match (text.strip_prefix("value:"), text.strip_prefix("option:")) {
                (Some(prefix), _) if !prefix.is_empty() => Self::Value(prefix.to_owned()),
                (_, Some(names)) if !names.is_empty() => {
                    Self::Option(names.split(',').map(str::to_owned).collect())
                }
                _ => return Err(format!("unknown targets `{text}`")),
            },
        })
    }
}

pub(super) struct CompiledRule {
    pub rule: Rule,
    pub targets: Option<Targets>,
    patterns: Vec<WildMatch>,
    not_patterns: Vec<WildMatch>,
    also_patterns: Vec<WildMatch>,
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
    /// Programs that only read or print: the destructive-verb check leaves them alone.
    readers: HashSet<String>,
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
        let readers: HashSet<String> = file.known.safe.iter().cloned().collect();
        let mut known: HashSet<String> = file.known.safe.into_iter().collect();
        known.extend(file.known.tools);
        for (index, rule) in file.rule.into_iter().enumerate() {
            let targets = rule.targets.as_deref().map(Targets::parse).transpose()?;
            let compile = |list: &[String]| {
                list.iter()
                    .map(|p| WildMatch::new_case_insensitive(p))
                    .collect::<Vec<_>>()
            };
            let patterns = compile(&rule.patterns);
            let not_patterns = compile(&rule.not_patterns);
            let also_patterns = compile(&rule.also_patterns);
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
            rules.push(CompiledRule {
                rule,
                targets,
                patterns,
                not_patterns,
                also_patterns,
            });
        }
        known.extend(wrappers.keys().cloned());
        Ok(Self {
            wrappers,
            wrapper_list: file.wrapper,
            by_name,
            by_pattern,
            rules,
            known,
            readers,
        })
    }

    /// Every program named by a rule, a wrapper or the known lists.
    pub fn known_names(&self) -> impl Iterator<Item = &str> {
        self.known.iter().map(String::as_str)
    }

    /// Whether `name` only reads or prints (`[known] safe`).
    pub fn is_reader(&self, name: &str) -> bool {
        self.readers.contains(name)
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
        if args.iter().any(|a| rule.not_args.contains(&a.text)) {
            return false;
        }
        let any_match = |patterns: &[WildMatch]| {
            patterns.is_empty()
                || args
                    .iter()
                    .any(|a| a.is_literal() && patterns.iter().any(|p| p.matches(&a.text)))
        };
        if !any_match(&self.patterns) || !any_match(&self.also_patterns) {
            return false;
        }
        if args
            .iter()
            .any(|a| self.not_patterns.iter().any(|p| p.matches(&a.text)))
        {
            return false;
        }
        if rule.remote && !operands(args).iter().any(|a| is_remote(&a.text)) {
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
        let values: Vec<usize> = args
            .iter()
            .enumerate()
            .filter(|(_, a)| self.rule.value_options.contains(&a.text))
            .map(|(index, _)| index + 1)
            .collect();
        let operands = || {
            operands(&args[skip..])
                .into_iter()
                .filter(|a| {
                    !values
                        .iter()
                        .any(|&v| args.get(v).is_some_and(|value| std::ptr::eq(value, *a)))
                })
                .collect::<Vec<_>>()
        };
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
            Targets::Option(names) => option_values(args, names),
            Targets::Mounts => option_values(args, MOUNT_OPTIONS),
        }
    }

    /// The text of a target, without a `value:` prefix, an option name or a mount's
    /// container side.
    pub fn target_text<'a>(&self, arg: &'a Arg) -> &'a str {
        match &self.targets {
            Some(Targets::Value(prefix)) => {
                arg.text.strip_prefix(prefix.as_str()).unwrap_or(&arg.text)
            }
            Some(Targets::Option(_)) => option_value_text(&arg.text),
            Some(Targets::Mounts) => mount_source(option_value_text(&arg.text)),
            _ => &arg.text,
        }
    }
}

const MOUNT_OPTIONS: &[&str] = &["-v", "--volume", "--mount"];

/// Arguments that are (or hold, as `--opt=value`) the values of the options `names`.
fn option_values<'a, S: AsRef<str>>(args: &'a [Arg], names: &[S]) -> Vec<&'a Arg> {
    let mut out = Vec::new();
    for (index, arg) in args.iter().enumerate() {
        if arg.text == "--" {
            break;
        }
        for name in names.iter().map(AsRef::as_ref) {
            if arg.text == name {
                out.extend(args.get(index + 1));
            } else if arg
                .text
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('='))
            {
                out.push(arg);
            }
        }
    }
    out
}

/// `--opt=value` is `value`; a separate value is itself.
fn option_value_text(text: &str) -> &str {
    match text.split_once('=') {
        Some((option, value)) if option.starts_with('-') => value,
        _ => text,
    }
}

/// The host side of `-v SRC:DST[:ro]` or of `type=bind,source=SRC,target=DST`.
fn mount_source(text: &str) -> &str {
    if text.contains("source=") || text.contains("src=") || text.contains("type=") {
        return text
            .split(',')
            .find_map(|part| {
                part.strip_prefix("source=")
                    .or_else(|| part.strip_prefix("src="))
            })
            .unwrap_or("");
    }
    // A named volume (`data:/var/lib/x`) is not a host path; `/:/host` and `~/x:/y` are.
    match text.split_once(':') {
        Some(("", _)) => "/",
        Some((source, _)) => source,
        None => text,
    }
}

/// Whether an operand names another machine: `host:path`, `user@host:path`, `s3://bucket`.
pub(super) fn is_remote(text: &str) -> bool {
    if let Some((scheme, _)) = text.split_once("://") {
        return !scheme.is_empty() && scheme != "file";
    }
    match text.split_once(':') {
        Some((host, _)) => {
            !host.is_empty()
                && !host.contains('/')
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
        }
        None => false,
    }
}

fn is_find_expression(text: &str) -> bool {
    text.starts_with('-') || text == "(" || text == "!" || text == ")"
}

/// Index of the first argument that is not an option, skipping the values of
/// `value_options` (`ssh -p 22 host`, `watch -n 5 cmd`).
pub(super) fn skip_options(args: &[Arg], value_options: &[&str]) -> usize {
    let mut index = 0;
    while let Some(arg) = args.get(index) {
        if !arg.text.starts_with('-') {
            break;
        }
        index += if value_options.contains(&arg.text.as_str()) {
            2
        } else {
            1
        };
    }
    index.min(args.len())
}

/// `find` tests that narrow what it visits (a name, an owner, a date or a size).
pub(super) const FIND_TESTS: &[&str] = &[
    "-name",
    "-iname",
    "-path",
    "-ipath",
    "-regex",
    "-iregex",
    "-newer",
    "-mtime",
    "-mmin",
    "-atime",
    "-amin",
    "-ctime",
    "-cmin",
    "-size",
    "-empty",
    "-user",
    "-group",
    "-perm",
    "-wholename",
    "-links",
    "-inum",
    "-samefile",
    "-lname",
];

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
/// A word may list alternatives (`delete|rm`); options between the words are skipped.
fn subcommand_end(args: &[Arg], words: &[String]) -> Option<usize> {
    if words.is_empty() {
        return Some(0);
    }
    let mut next = 0;
    for (index, arg) in args.iter().enumerate().take(8) {
        if words[next].split('|').any(|word| word == arg.text) {
            next += 1;
            if next == words.len() {
                return Some(index + 1);
            }
        } else if next > 0 && !arg.text.starts_with('-') {
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
