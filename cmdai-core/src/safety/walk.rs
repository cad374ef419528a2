//! Walking the syntax tree: every simple command, wherever it hides, with its words resolved.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::panic;
use std::sync::Once;

use brush_parser::ast::{
    self, AndOr, Command, CommandPrefixOrSuffixItem, CompoundCommand, CompoundList,
    IoFileRedirectKind, IoFileRedirectTarget, IoRedirect, SeparatorOperator, SourceLocation,
};
use brush_parser::{ParserOptions, SourceSpan};

use super::policy::UserRules;
use super::rules::RuleSet;
use super::{Category, Finding, RiskLevel, Span, words};

/// How deep `sh -c "sh -c '...'"` may nest before cmdai gives up and says so.
const MAX_DEPTH: usize = 12;

/// Parses shell text with brush-parser.
///
/// The malformed inputs on which brush-parser 0.4 panicked or looped forever are fixed in the
/// patched copy under `third_party/brush-parser`. Should another panic surface, it must not take
/// down whoever asked for an analysis: it is caught, kept off stderr, and reported like any other
/// parse failure, so the command is High as unparseable.
fn parse(text: &str) -> Result<ast::Program, String> {
    if paren_depth(text) > MAX_PAREN_DEPTH {
        return Err(format!(
            "parentheses nested more than {MAX_PAREN_DEPTH} deep"
        ));
    }
    match catch_quietly(|| {
        brush_parser::Parser::new(text.as_bytes(), &ParserOptions::default()).parse_program()
    }) {
        Some(Ok(program)) => Ok(program),
        Some(Err(error)) => Err(error.to_string()),
        None => Err("the shell parser gave up on it".to_owned()),
    }
}

/// Runs `f` (a call into brush-parser); a panic in it is caught and kept off stderr: `None`.
pub(crate) fn catch_quietly<T>(f: impl FnOnce() -> T + panic::UnwindSafe) -> Option<T> {
    thread_local! {
        static QUIET: Cell<bool> = const { Cell::new(false) };
    }
    static QUIET_HOOK: Once = Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    QUIET.with(|quiet| quiet.set(true));
    let result = panic::catch_unwind(f);
    QUIET.with(|quiet| quiet.set(false));
    result.ok()
}

/// Deepest `(` nesting handed to the parser. brush-parser's grammar backtracks exponentially on
/// unbalanced nesting (24 unclosed `(` take about a second, 45 never finish: found by fuzzing);
/// no real command nests subshells this deep.
const MAX_PAREN_DEPTH: usize = 12;

/// How deep `(` nest in `text`, outside single quotes and escapes (inside double quotes they
/// still count: `"$(...)"` is parsed too).
fn paren_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut single, mut double) = (false, false);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if !single => {
                chars.next();
            }
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '(' if !single => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' if !single => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// One argument of a simple command.
#[derive(Clone, Debug)]
pub(super) struct Arg {
    pub text: String,
    pub span: Span,
    /// Byte index in `text` where a part that only exists at run time begins.
    pub dynamic_at: Option<usize>,
    /// Whether the run-time part comes from a download (`$(curl ...)`).
    pub from_download: bool,
    /// Whether the run-time part is decoded at run time (`$(echo ... | base64 -d)`).
    pub from_decode: bool,
    /// The one local program whose output the run-time part is (`$(starship init bash)`).
    pub generated_by: Option<String>,
}

impl Arg {
    pub fn is_literal(&self) -> bool {
        self.dynamic_at.is_none()
    }

    /// An argument that stands for data arriving at run time (xargs' input).
    pub fn input(span: Span) -> Self {
        Self {
            text: "<input>".into(),
            span,
            dynamic_at: Some(0),
            from_download: false,
            from_decode: false,
            generated_by: None,
        }
    }
}

/// Where a command's standard input comes from.
#[derive(Clone, Debug)]
pub(super) enum Input {
    Terminal,
    /// The stages before this one, and where the pipeline starts.
    Pipe(Vec<Stage>, usize),
    Text(String, Span),
}

/// What a pipeline stage produces, as far as the next stage cares.
#[derive(Clone, Debug)]
pub(super) enum Stage {
    Download,
    Decode,
    /// `echo`/`printf` of literal text.
    Echo(String, Span),
    Other,
}

/// A simple command ready to be judged.
#[derive(Clone, Debug)]
pub(super) struct Invocation {
    pub name: Arg,
    pub args: Vec<Arg>,
    pub span: Span,
    pub stdin: Input,
    pub privileged: bool,
}

impl Invocation {
    /// The command `name args` that this one runs for each input (xargs, find -exec), with
    /// this one's span and privilege.
    pub fn wrapped(&self, name: &Arg, args: Vec<Arg>) -> Invocation {
        Invocation {
            name: name.clone(),
            args,
            span: self.span,
            stdin: Input::Terminal,
            privileged: self.privileged,
        }
    }
}

/// Where the code being walked sits in the analysed command.
#[derive(Clone, Debug)]
pub(super) struct Frame {
    text: String,
    /// Byte offset of `text` in the analysed command, when it appears there verbatim.
    base: Option<usize>,
    /// The span to blame when it does not (code assembled from several words).
    fallback: Span,
    depth: usize,
    pub privileged: bool,
}

#[derive(Default, Clone)]
pub(super) struct Summary {
    pub download: bool,
    pub decode: bool,
    /// Programs run, by base name.
    pub programs: Vec<String>,
}

pub(super) struct Walker<'a> {
    pub source: &'a str,
    pub rules: &'a RuleSet,
    user: &'a UserRules,
    findings: Vec<(Finding, Option<String>)>,
    vars: HashMap<String, String>,
    /// Files fetched by `curl -o` / `wget` earlier in the command.
    pub downloaded: HashSet<String>,
    functions: Vec<String>,
    in_multi_pipeline: bool,
    in_background: bool,
    fork_bomb_reported: bool,
    summaries: Vec<Summary>,
    /// The normalised text of the simple command being judged, for the user's allow rules.
    current: Vec<String>,
    /// A redirection to `/dev/tcp/...` seen on the simple command being read.
    network_redirect: Option<Span>,
}

/// Analyses `source`, returning every finding that the user's allow rules leave.
pub(super) fn analyze(source: &str, rules: &RuleSet, user: &UserRules) -> Vec<Finding> {
    let mut walker = Walker {
        source,
        rules,
        user,
        findings: Vec::new(),
        vars: HashMap::new(),
        downloaded: HashSet::new(),
        functions: Vec::new(),
        in_multi_pipeline: false,
        in_background: false,
        fork_bomb_reported: false,
        summaries: vec![Summary::default()],
        current: Vec::new(),
        network_redirect: None,
    };
    let frame = Frame {
        text: source.to_owned(),
        base: Some(0),
        fallback: Span::new(0, source.len()),
        depth: 0,
        privileged: false,
    };
    walker.code(&frame);
    walker
        .findings
        .into_iter()
        .filter(|(_, invocation)| invocation.as_deref().is_none_or(|text| !user.allows(text)))
        .map(|(finding, _)| finding)
        .collect()
}

fn byte_index(text: &str, char_index: usize) -> usize {
    if text.is_ascii() {
        char_index.min(text.len())
    } else {
        text.char_indices()
            .nth(char_index)
            .map_or(text.len(), |(byte, _)| byte)
    }
}

impl Walker<'_> {
    pub fn report(
        &mut self,
        level: RiskLevel,
        category: Category,
        span: Span,
        message: impl Into<String>,
    ) {
        let finding = Finding {
            level,
            category,
            span,
            message: message.into(),
        };
        self.findings.push((finding, self.current.last().cloned()));
    }

    pub fn span(&self, frame: &Frame, loc: Option<SourceSpan>) -> Span {
        match (frame.base, loc) {
            (Some(base), Some(loc)) => Span::new(
                base + byte_index(&frame.text, loc.start.index),
                base + byte_index(&frame.text, loc.end.index),
            ),
            _ => frame.fallback,
        }
    }

    /// A frame for `code` found inside `within` of the analysed command.
    pub fn nested(&self, parent: &Frame, code: &str, within: Span, privileged: bool) -> Frame {
        let base = self
            .source
            .get(within.start..within.end)
            .and_then(|outer| outer.find(code))
            .map(|offset| within.start + offset);
        Frame {
            text: code.to_owned(),
            base,
            fallback: within,
            depth: parent.depth + 1,
            privileged: parent.privileged || privileged,
        }
    }

    /// Walks a piece of shell code and returns what its pipelines produce.
    pub fn code(&mut self, frame: &Frame) -> Summary {
        self.summaries.push(Summary::default());
        if frame.depth > MAX_DEPTH {
            self.report(
                RiskLevel::High,
                Category::Opaque,
                frame.fallback,
                "the command nests shells too deeply for cmdai to follow",
            );
        } else {
            match parse(&frame.text) {
                Ok(program) => {
                    for list in &program.complete_commands {
                        self.compound_list(list, frame);
                    }
                }
                Err(error) => {
                    let span = if frame.depth == 0 {
                        Span::new(0, self.source.len())
                    } else {
                        frame.fallback
                    };
                    self.report(
                        RiskLevel::High,
                        Category::Opaque,
                        span,
                        format!("cmdai cannot parse this as a shell command ({error}), so its effects are unknown"),
                    );
                }
            }
        }
        let summary = self.summaries.pop().unwrap_or_default();
        if let Some(parent) = self.summaries.last_mut() {
            parent.download |= summary.download;
            parent.decode |= summary.decode;
            parent.programs.extend(summary.programs.iter().cloned());
        }
        summary
    }

    fn compound_list(&mut self, list: &CompoundList, frame: &Frame) {
        for item in &list.0 {
            let saved = self.in_background;
            self.in_background = matches!(item.1, SeparatorOperator::Async);
            self.pipeline(&item.0.first, frame);
            for next in &item.0.additional {
                let (AndOr::And(pipeline) | AndOr::Or(pipeline)) = next;
                self.pipeline(pipeline, frame);
            }
            self.in_background = saved;
        }
    }

    fn pipeline(&mut self, pipeline: &ast::Pipeline, frame: &Frame) {
        let saved = self.in_multi_pipeline;
        self.in_multi_pipeline = pipeline.seq.len() > 1;
        let start = self
            .span(frame, pipeline.seq.first().and_then(|c| c.location()))
            .start;
        let mut upstream: Vec<Stage> = Vec::new();
        for command in &pipeline.seq {
            let stdin = if upstream.is_empty() {
                Input::Terminal
            } else {
                Input::Pipe(upstream.clone(), start)
            };
            let stage = self.command(command, frame, stdin);
            upstream.push(stage);
        }
        self.in_multi_pipeline = saved;
    }

    fn command(&mut self, command: &Command, frame: &Frame, stdin: Input) -> Stage {
        match command {
            Command::Simple(simple) => self.simple(simple, frame, stdin),
            Command::Compound(compound, redirects) => {
                if let Some(redirects) = redirects {
                    for redirect in &redirects.0 {
                        self.redirect(redirect, frame);
                    }
                }
                self.compound(compound, frame);
                Stage::Other
            }
            Command::Function(function) => {
                let name = function.fname.value.clone();
                self.functions.push(name);
                self.compound(&function.body.0, frame);
                self.functions.pop();
                Stage::Other
            }
            Command::ExtendedTest(..) => Stage::Other,
        }
    }

    fn compound(&mut self, compound: &CompoundCommand, frame: &Frame) {
        match compound {
            CompoundCommand::BraceGroup(group) => self.compound_list(&group.list, frame),
            CompoundCommand::Subshell(subshell) => self.compound_list(&subshell.list, frame),
            CompoundCommand::ForClause(clause) => {
                for word in clause.values.iter().flatten() {
                    self.word(word, frame);
                }
                self.vars.remove(&clause.variable_name);
                self.compound_list(&clause.body.list, frame);
            }
            CompoundCommand::ArithmeticForClause(clause) => {
                self.compound_list(&clause.body.list, frame)
            }
            CompoundCommand::CaseClause(clause) => {
                self.word(&clause.value, frame);
                for item in &clause.cases {
                    if let Some(list) = &item.cmd {
                        self.compound_list(list, frame);
                    }
                }
            }
            CompoundCommand::IfClause(clause) => {
                self.compound_list(&clause.condition, frame);
                self.compound_list(&clause.then, frame);
                for branch in clause.elses.iter().flatten() {
                    if let Some(condition) = &branch.condition {
                        self.compound_list(condition, frame);
                    }
                    self.compound_list(&branch.body, frame);
                }
            }
            CompoundCommand::WhileClause(clause) | CompoundCommand::UntilClause(clause) => {
                self.compound_list(&clause.0, frame);
                self.compound_list(&clause.1.list, frame);
            }
            CompoundCommand::Coprocess(coprocess) => {
                self.command(&coprocess.body, frame, Input::Terminal);
            }
            CompoundCommand::Arithmetic(_) => {}
        }
    }

    /// Resolves a word, walking any command substitutions in it.
    fn word(&mut self, word: &ast::Word, frame: &Frame) -> Arg {
        let span = self.span(frame, word.loc.clone());
        let resolved = words::resolve(&word.value, &self.vars);
        let mut arg = Arg {
            text: resolved.text,
            span,
            dynamic_at: resolved.dynamic_at,
            from_download: false,
            from_decode: false,
            generated_by: None,
        };
        for code in &resolved.substitutions {
            let nested = self.nested(frame, code, span, false);
            let summary = self.code(&nested);
            arg.from_download |= summary.download;
            arg.from_decode |= summary.decode;
            if let ([program], 1) = (summary.programs.as_slice(), resolved.substitutions.len()) {
                arg.generated_by = Some(program.clone());
            }
        }
        arg
    }

    fn simple(&mut self, simple: &ast::SimpleCommand, frame: &Frame, mut stdin: Input) -> Stage {
        let prefix = simple
            .prefix
            .iter()
            .flat_map(|p| &p.0)
            .map(|item| (item, true));
        let items = prefix.chain(
            simple
                .suffix
                .iter()
                .flat_map(|s| &s.0)
                .map(|item| (item, false)),
        );
        let mut args = Vec::new();
        let mut assignments = Vec::new();
        for (item, in_prefix) in items {
            match item {
                CommandPrefixOrSuffixItem::Word(word) => args.push(self.word(word, frame)),
                // After the name, `of=/dev/sda` is an argument (dd's), though `export x=rm`
                // also assigns.
                CommandPrefixOrSuffixItem::AssignmentWord(assignment, word) => {
                    if !in_prefix {
                        args.push(self.word(word, frame));
                    }
                    let value = match &assignment.value {
                        ast::AssignmentValue::Scalar(value) => Some(self.word(value, frame)),
                        ast::AssignmentValue::Array(_) => {
                            self.word(word, frame);
                            None
                        }
                    };
                    if let ast::AssignmentName::VariableName(name) = &assignment.name {
                        assignments.push((name.clone(), value));
                    }
                }
                CommandPrefixOrSuffixItem::IoRedirect(redirect) => {
                    if let Some(input) = self.redirect(redirect, frame) {
                        stdin = input;
                    }
                }
                CommandPrefixOrSuffixItem::ProcessSubstitution(_, subshell) => {
                    let span = self.span(frame, subshell.location());
                    let nested = Frame {
                        depth: frame.depth + 1,
                        ..frame.clone()
                    };
                    self.summaries.push(Summary::default());
                    self.compound_list(&subshell.list, &nested);
                    let summary = self.summaries.pop().unwrap_or_default();
                    args.push(Arg {
                        text: "<(...)".into(),
                        span,
                        dynamic_at: Some(0),
                        from_download: summary.download,
                        from_decode: summary.decode,
                        generated_by: None,
                    });
                }
            }
        }
        for (name, value) in assignments {
            match value {
                Some(value) if value.is_literal() => self.vars.insert(name, value.text),
                _ => self.vars.remove(&name),
            };
        }
        let network = self.network_redirect.take();
        let Some(name_word) = &simple.word_or_name else {
            return Stage::Other;
        };
        let name = self.word(name_word, frame);
        if let Some(span) = network {
            let base = name.text.rsplit('/').next().unwrap_or_default();
            if super::checks::is_shell(base) {
                let message = "connects a shell to a network socket: whoever is at the other end controls this machine";
                self.report(RiskLevel::Critical, Category::Network, span, message);
            } else {
                self.report(
                    RiskLevel::High,
                    Category::Network,
                    span,
                    "sends data over a raw network socket",
                );
            }
        }
        // Suffix words follow the name; prefix items are only assignments and redirections.
        let span = self.span(frame, simple.location());
        let invocation = Invocation {
            name,
            args,
            span,
            stdin,
            privileged: frame.privileged,
        };
        self.invoke(invocation, frame)
    }

    /// Checks a redirection; returns the standard input it provides, if it does.
    fn redirect(&mut self, redirect: &IoRedirect, frame: &Frame) -> Option<Input> {
        match redirect {
            IoRedirect::File(_, kind, target) => match target {
                IoFileRedirectTarget::Filename(word) => {
                    let arg = self.word(word, frame);
                    if arg.text.starts_with("/dev/tcp/") || arg.text.starts_with("/dev/udp/") {
                        self.network_redirect = Some(arg.span);
                        return None;
                    }
                    let append = matches!(kind, IoFileRedirectKind::Append);
                    let writes = matches!(
                        kind,
                        IoFileRedirectKind::Write
                            | IoFileRedirectKind::Append
                            | IoFileRedirectKind::Clobber
                            | IoFileRedirectKind::ReadAndWrite
                    );
                    if writes {
                        self.redirect_write(&arg, append);
                    }
                    None
                }
                IoFileRedirectTarget::ProcessSubstitution(_, subshell) => {
                    let nested = Frame {
                        depth: frame.depth + 1,
                        ..frame.clone()
                    };
                    self.compound_list(&subshell.list, &nested);
                    None
                }
                IoFileRedirectTarget::Duplicate(word) => {
                    // `>& /dev/tcp/host/port` duplicates onto a file name.
                    let arg = self.word(word, frame);
                    if arg.text.starts_with("/dev/tcp/") || arg.text.starts_with("/dev/udp/") {
                        self.network_redirect = Some(arg.span);
                    } else if !arg.text.chars().all(|c| c.is_ascii_digit() || c == '-') {
                        self.redirect_write(&arg, false);
                    }
                    None
                }
                IoFileRedirectTarget::Fd(_) => None,
            },
            IoRedirect::OutputAndError(word, append) => {
                let arg = self.word(word, frame);
                if arg.text.starts_with("/dev/tcp/") || arg.text.starts_with("/dev/udp/") {
                    self.network_redirect = Some(arg.span);
                    return None;
                }
                self.redirect_write(&arg, *append);
                None
            }
            IoRedirect::HereDocument(_, doc) => {
                let span = self.span(frame, doc.doc.loc.clone());
                Some(Input::Text(doc.doc.value.clone(), span))
            }
            IoRedirect::HereString(_, word) => {
                let arg = self.word(word, frame);
                arg.is_literal().then_some(Input::Text(arg.text, arg.span))
            }
        }
    }

    /// Judges one simple command: user rules, wrappers, special forms, then the rule table.
    pub fn invoke(&mut self, invocation: Invocation, frame: &Frame) -> Stage {
        if !invocation.name.is_literal() {
            self.computed_program(&invocation.name);
            return Stage::Other;
        }
        let base = invocation
            .name
            .text
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let normalised = std::iter::once(base.as_str())
            .chain(invocation.args.iter().map(|a| a.text.as_str()))
            .collect::<Vec<_>>()
            .join(" ");
        if let Some(pattern) = self.user.denies(&normalised) {
            let message = format!("matches your deny rule `{pattern}`");
            self.report(
                RiskLevel::Critical,
                Category::Denied,
                invocation.span,
                message,
            );
        }
        self.current.push(normalised);
        let stage = self.judge(&base, &invocation, frame);
        self.current.pop();
        if let Some(summary) = self.summaries.last_mut() {
            summary.programs.push(base);
            summary.download |= matches!(stage, Stage::Download);
            summary.decode |= matches!(stage, Stage::Decode);
        }
        stage
    }

    fn judge(&mut self, base: &str, invocation: &Invocation, frame: &Frame) -> Stage {
        if self.functions.iter().any(|f| f == base)
            && (self.in_multi_pipeline || self.in_background)
        {
            self.fork_bomb(invocation.span);
        }
        if let Some(wrapper) = self.rules.wrapper(base) {
            return self.unwrap(base, wrapper, invocation, frame);
        }
        // `tool --help` and `tool --version` only print.
        let prints_only = invocation.args.len() == 1
            && matches!(
                invocation.args[0].text.as_str(),
                "--help" | "--version" | "-h" | "-V"
            );
        if prints_only {
            return Stage::Other;
        }
        let handled = self.special(base, invocation, frame);
        let matched = self.apply_rules(base, invocation);
        if !handled
            && !matched
            && !self.rules.is_known(base)
            && !self.functions.iter().any(|f| f == base)
        {
            self.unknown_program(invocation);
        }
        stage_of(base, invocation)
    }

    fn fork_bomb(&mut self, span: Span) {
        if !self.fork_bomb_reported {
            self.fork_bomb_reported = true;
            self.report(
                RiskLevel::Critical,
                Category::Resources,
                span,
                "a function that starts copies of itself (a fork bomb): it fills the process table and hangs the machine",
            );
        }
    }

    /// Applies the first matching rule of each category; returns whether any rule matched.
    fn apply_rules(&mut self, base: &str, invocation: &Invocation) -> bool {
        let mut seen = Vec::new();
        let mut matched = false;
        for rule in self.rules.rules_for(base) {
            if seen.contains(&rule.rule.category) || !rule.matches(&invocation.args) {
                continue;
            }
            seen.push(rule.rule.category);
            matched = true;
            let mut level = rule.rule.level;
            let mut span = invocation.span;
            let mut message = rule.rule.message.clone();
            for target in rule.target_args(&invocation.args) {
                let text = rule.target_text(target);
                let dynamic_at = target
                    .dynamic_at
                    .map(|at| at.saturating_sub(target.text.len() - text.len()));
                let Some(kind) = super::targets::classify(text, dynamic_at) else {
                    continue;
                };
                let Some(&escalated) = rule.rule.escalate.get(&kind) else {
                    continue;
                };
                if escalated > level {
                    level = escalated;
                    span = target.span;
                    message = format!("{}: {}", rule.rule.message, kind.describe(text));
                }
            }
            if invocation.privileged && level > RiskLevel::Safe && !message.contains("as root") {
                message.push_str(" (as root)");
            }
            self.report(level, rule.rule.category, span, message);
        }
        matched
    }
}

/// What a command feeds into the next stage of a pipeline.
fn stage_of(base: &str, invocation: &Invocation) -> Stage {
    let has = |flag: &str| super::rules::has_flag(&invocation.args, flag);
    match base {
        "curl" | "wget" | "fetch" | "http" | "https" | "xh" | "aria2c" | "lynx" | "links"
        | "GET" | "httpie" => Stage::Download,
        "base64" | "base32" | "basenc" if has("-d") || has("--decode") || has("-D") => {
            Stage::Decode
        }
        "xxd" if has("-r") => Stage::Decode,
        "openssl" if has("-d") => Stage::Decode,
        "uudecode" | "gunzip" | "zcat" | "bzcat" | "xzcat" | "rev" | "gpg" => Stage::Decode,
        "gzip" | "bzip2" | "xz" | "zstd" if has("-d") => Stage::Decode,
        "tr" if invocation
            .args
            .iter()
            .any(|a| a.text.contains("N-Z") || a.text.contains("n-z")) =>
        {
            Stage::Decode
        }
        "echo" | "printf" if invocation.args.iter().all(Arg::is_literal) => {
            let words: Vec<&str> = invocation
                .args
                .iter()
                .map(|a| a.text.as_str())
                .skip_while(|t| base == "echo" && matches!(*t, "-n" | "-e" | "-E" | "-ne" | "-en"))
                .collect();
            let text = words.join(" ");
            // printf '\x72\x6d' and echo -e '\162\155' spell commands in escapes.
            if text.contains("\\x")
                || text.contains("\\0")
                || text.contains("\\1")
                || text.contains("\\u")
            {
                Stage::Decode
            } else {
                Stage::Echo(text, invocation.span)
            }
        }
        _ => Stage::Other,
    }
}
