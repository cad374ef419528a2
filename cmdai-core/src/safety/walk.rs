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
/// patched copy under `third_party/brush-parser`, and kept away from the parser by
/// [`parseable`], so the published parser is safe too. Should a panic surface, it must not take
/// down whoever asked for an analysis: it is caught and reported like any other parse failure,
/// so the command is High as unparseable.
pub(super) fn parse(text: &str) -> Result<ast::Program, String> {
    parseable(text)?;
    match catch_quietly(|| {
        brush_parser::Parser::new(text.as_bytes(), &ParserOptions::default()).parse_program()
    }) {
        Some(Ok(program)) => Ok(program),
        Some(Err(error)) => Err(error.to_string()),
        None => Err("the shell parser gave up on it".to_owned()),
    }
}

/// Whether `text` may be handed to brush-parser: inputs that make brush-parser 0.4.0 (as
/// published) loop forever or backtrack exponentially are refused before it sees them.
pub(crate) fn parseable(text: &str) -> Result<(), String> {
    if paren_depth(text) > MAX_PAREN_DEPTH {
        return Err(format!(
            "parentheses nested more than {MAX_PAREN_DEPTH} deep"
        ));
    }
    if unterminated_heredoc(text) {
        return Err("a here-document is not terminated".to_owned());
    }
    Ok(())
}

thread_local! {
    /// Set while brush-parser runs, for the hook [`quiet_parser_panics`] installs.
    static IN_PARSER: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` (a call into brush-parser); a panic in it is caught: `None`. Without
/// [`quiet_parser_panics`] the panic's message still reaches the process's panic hook.
pub(crate) fn catch_quietly<T>(f: impl FnOnce() -> T + panic::UnwindSafe) -> Option<T> {
    IN_PARSER.with(|flag| flag.set(true));
    let result = panic::catch_unwind(f);
    IN_PARSER.with(|flag| flag.set(false));
    result.ok()
}

/// Keeps panics raised inside the shell parser off stderr, for the whole process.
///
/// The analysis catches such panics either way (the command is then High as unparseable); by
/// default the process's panic hook still prints their message. A program that shows its own
/// output, as `cmdai` does, can call this once at start-up: it installs a panic hook that stays
/// silent for panics inside the parser and hands every other panic to the hook installed
/// before it. cmdai-core never calls it by itself.
///
/// ```
/// cmdai_core::safety::quiet_parser_panics();
/// let analysis = cmdai_core::safety::analyze("ls -la");
/// assert_eq!(analysis.level, cmdai_core::safety::RiskLevel::Safe);
/// ```
pub fn quiet_parser_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_PARSER.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Whether a here-document in `text` is left open: its `<<` has no tag, or no later line ends
/// it. brush-parser 0.4.0 from crates.io loops forever, allocating, when the input ends while
/// a here-document is pending inside `$(` (`$( << && $(`, `<<E$[` with tabs); cmdai's patched
/// copy fixes that, but an application that depends on the published cmdai-core gets the
/// unpatched parser. The shell rejects such text too, so refusing to parse it changes no
/// verdict: it is High as unparseable either way.
pub(crate) fn unterminated_heredoc(text: &str) -> bool {
    #[derive(PartialEq)]
    enum Context {
        Command,
        DoubleQuote,
        Arithmetic,
    }
    let bytes = text.as_bytes();
    let mut stack = vec![Context::Command];
    let mut index = 0;
    while index < bytes.len() {
        if !text.is_char_boundary(index) {
            index += 1;
            continue;
        }
        let context = stack.last().unwrap_or(&Context::Command);
        let rest = &text[index..];
        match (context, bytes[index]) {
            (_, b'\\') => index += 1,
            (Context::Command, b'\'') => match rest[1..].find('\'') {
                Some(end) => index += end + 1,
                None => return false,
            },
            (Context::Command, b'"') => stack.push(Context::DoubleQuote),
            (Context::DoubleQuote, b'"') => {
                stack.pop();
            }
            (_, b'$') if rest.starts_with("$((") => {
                stack.push(Context::Arithmetic);
                index += 2;
            }
            (Context::Command, b'(') if rest.starts_with("((") => {
                stack.push(Context::Arithmetic);
                index += 1;
            }
            (Context::Arithmetic, b')') if rest.starts_with("))") => {
                stack.pop();
                index += 1;
            }
            (_, b'$') if rest.starts_with("$(") => {
                stack.push(Context::Command);
                index += 1;
            }
            (Context::Command, b')') if stack.len() > 1 => {
                stack.pop();
            }
            // A here-string (`<<<`) needs no terminator.
            (_, b'<') if rest.starts_with("<<<") => index += 2,
            (Context::Command, b'<') if rest.starts_with("<<") => {
                let strip_tabs = rest[2..].starts_with('-');
                let after = rest[2 + usize::from(strip_tabs)..].trim_start_matches([' ', '\t']);
                let raw_tag: String = after
                    .chars()
                    .take_while(|c| !c.is_whitespace() && !";&|()<>".contains(*c))
                    .collect();
                let tag: String = raw_tag.chars().filter(|c| !"'\"\\".contains(*c)).collect();
                if tag.is_empty() {
                    return true;
                }
                let Some(line_end) = rest.find('\n') else {
                    return true;
                };
                let ended = rest[line_end + 1..].lines().any(|line| {
                    let line = if strip_tabs {
                        line.trim_start_matches('\t')
                    } else {
                        line
                    };
                    line == tag
                });
                if !ended {
                    return true;
                }
                index += 1;
            }
            _ => {}
        }
        index += 1;
    }
    false
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
    /// Whether the run-time part carries keys, credentials or the environment.
    pub from_secret: bool,
    /// Whether the run-time part is every process id on the machine (`$(ps -eo pid=)`).
    pub all_pids: bool,
}

impl Arg {
    pub fn is_literal(&self) -> bool {
        self.dynamic_at.is_none()
    }

    /// A word whose text is known.
    pub fn literal(text: String, span: Span) -> Self {
        Self {
            text,
            span,
            dynamic_at: None,
            from_download: false,
            from_decode: false,
            generated_by: None,
            from_secret: false,
            all_pids: false,
        }
    }

    /// An argument that stands for data arriving at run time (xargs' input).
    pub fn input(span: Span) -> Self {
        Self {
            dynamic_at: Some(0),
            ..Self::literal("<input>".into(), span)
        }
    }
}

/// What a loop variable's values carry.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Taint {
    pub secret: bool,
    pub all_pids: bool,
}

impl Taint {
    fn of(stages: &[Stage]) -> Self {
        Self {
            secret: stages.iter().any(|s| matches!(s, Stage::Secret)),
            all_pids: all_processes(stages),
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
    /// Data from the network: a download, or what a socket (`nc host port`) receives.
    Download,
    /// Text decoded at run time; what it decodes to, when the input is literal.
    Decode(Option<String>),
    /// `echo`/`printf` of literal text.
    Echo(String, Span),
    /// Keys, credentials or the environment (`cat ~/.ssh/id_rsa`, `tar c ~/.aws`, `env`).
    Secret,
    /// Every process on the machine, one a line (`ps -e`, `ps aux`).
    AllProcesses,
    /// Keeps only some lines of its input (`grep`, `awk '/x/'`, `head`).
    Filter,
    /// A shell that reads commands from its input or a terminal (`sh -i`).
    Shell,
    /// Output without end (`yes`, `cat /dev/zero`).
    Endless,
    /// Every file below `/`, a system directory or a home directory (`find ~ -type f`).
    BroadListing,
    Other,
}

impl Stage {
    /// The text this stage prints, when cmdai can know it.
    pub fn output(&self) -> Option<&str> {
        match self {
            Self::Echo(text, _) | Self::Decode(Some(text)) => Some(text),
            _ => None,
        }
    }
}

/// Whether a pipeline's stages deliver every process id: a full listing with no filter after it.
pub(super) fn all_processes(stages: &[Stage]) -> bool {
    match stages
        .iter()
        .rposition(|s| matches!(s, Stage::AllProcesses))
    {
        Some(at) => !stages[at + 1..].iter().any(|s| matches!(s, Stage::Filter)),
        None => false,
    }
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
    /// Whether secrets are read (and so are in the output).
    pub secret: bool,
    /// What the code prints, when cmdai can know it (`$(echo rm)`).
    pub output: Option<String>,
    /// Whether the output is every process id.
    pub all_pids: bool,
}

pub(super) struct Walker<'a> {
    pub source: &'a str,
    pub rules: &'a RuleSet,
    user: &'a UserRules,
    findings: Vec<(Finding, Option<String>)>,
    pub vars: HashMap<String, String>,
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
    /// Whether the command opened a network socket (`exec 3<>/dev/tcp/...`) earlier.
    pub socket_opened: bool,
    /// The first program run that talks to the network or another machine.
    network: Option<String>,
    /// Aliases defined earlier in the command: name and replacement text.
    pub aliases: HashMap<String, String>,
    /// Where `cd` went earlier in the command, when that is known.
    pub cwd: Option<String>,
    /// Files the simple command being read writes its output to (`> x.sh`).
    pub output_files: Vec<Arg>,
    /// The output of the last pipeline walked.
    last_output: Option<String>,
    /// Functions defined earlier in the command, with their bodies' text.
    pub function_bodies: HashMap<String, String>,
    /// Functions being expanded now (a function that calls itself is not expanded again).
    pub expanding: Vec<String>,
    /// Output redirections seen so far.
    pub writes: usize,
    /// Loop variables that carry something from where their values came: secrets, process
    /// ids, the items of a listing (`for p in $(ls /proc)`, `... | while read n`).
    pub taints: HashMap<String, Taint>,
    /// What the loop being walked reads on its standard input, for `read VAR`.
    pub loop_input: Option<Taint>,
    /// How many `for` loops are being walked once per value.
    iterating: usize,
    /// What the command run by `xargs` hands on, for the stage after xargs.
    pub inner_stage: Option<Stage>,
    /// Whether a database client's query builds destructive statements as text
    /// (`SELECT concat('DROP DATABASE ', ...)`), for a client that runs its output.
    pub generated_sql: bool,
    /// Files the command wrote known text into (`echo "rm -rf /" > x.sh`), by path.
    pub written: HashMap<String, String>,
    last_all_pids: bool,
}

impl Frame {
    /// A frame for code that does not appear verbatim in the analysed command: findings in
    /// it point at `span`.
    pub fn detached(span: Span) -> Self {
        Frame {
            text: String::new(),
            base: None,
            fallback: span,
            depth: 1,
            privileged: false,
        }
    }
}

/// Analyses `source`, returning every finding that the user's allow rules leave.
pub(super) fn analyze(source: &str, rules: &RuleSet, user: &UserRules) -> Vec<Finding> {
    let walker = walked(source, rules, user);
    walker
        .findings
        .into_iter()
        .filter(|(_, invocation)| invocation.as_deref().is_none_or(|text| !user.allows(text)))
        .map(|(finding, _)| finding)
        .collect()
}

/// The first program of `source` that talks to the network or to another machine, by name
/// (`/dev/tcp` for the shell's own sockets).
pub(super) fn network_use(source: &str, rules: &RuleSet) -> Option<String> {
    let user = UserRules::default();
    let walker = walked(source, rules, &user);
    walker
        .network
        .or_else(|| walker.socket_opened.then(|| "/dev/tcp".to_owned()))
}

/// `source` walked from start to end.
fn walked<'a>(source: &'a str, rules: &'a RuleSet, user: &'a UserRules) -> Walker<'a> {
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
        socket_opened: false,
        network: None,
        aliases: HashMap::new(),
        cwd: None,
        output_files: Vec::new(),
        last_output: None,
        last_all_pids: false,
        function_bodies: HashMap::new(),
        expanding: Vec::new(),
        writes: 0,
        written: HashMap::new(),
        generated_sql: false,
        taints: HashMap::new(),
        loop_input: None,
        inner_stage: None,
        iterating: 0,
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

    /// How many findings there are so far.
    pub fn finding_count(&self) -> usize {
        self.findings.len()
    }

    /// Drops the findings made since `before` that are below `min`.
    pub fn keep_findings_since(&mut self, before: usize, min: RiskLevel) {
        let recent: Vec<_> = self.findings.drain(before..).collect();
        self.findings.extend(
            recent
                .into_iter()
                .filter(|(finding, _)| finding.level >= min),
        );
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
                        format!("cmdai cannot parse this as a shell command ({error}), so its effects are unknown")
                    );
                }
            }
        }
        let mut summary = self.summaries.pop().unwrap_or_default();
        summary.output = self.last_output.take();
        summary.all_pids = std::mem::take(&mut self.last_all_pids);
        if let Some(parent) = self.summaries.last_mut() {
            parent.download |= summary.download;
            parent.decode |= summary.decode;
            parent.secret |= summary.secret;
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
        if upstream.iter().any(|s| matches!(s, Stage::Secret))
            && let Some(summary) = self.summaries.last_mut()
        {
            summary.secret = true;
        }
        self.last_all_pids = all_processes(&upstream);
        self.last_output = upstream.last().and_then(Stage::output).map(str::to_owned);
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
                self.last_output = None;
                let saved = self.loop_input;
                if let Input::Pipe(stages, _) = &stdin {
                    self.loop_input = Some(Taint::of(stages));
                }
                self.compound(compound, frame);
                self.loop_input = saved;
                // `(crontab -l; echo '* * * * * job') | crontab -`: a group's known output is
                // what its last pipeline printed.
                let grouped = matches!(
                    compound,
                    CompoundCommand::BraceGroup(_) | CompoundCommand::Subshell(_)
                );
                match self.last_output.take() {
                    Some(text) if grouped => {
                        let span = self.span(frame, compound.location());
                        Stage::Echo(text, span)
                    }
                    _ => Stage::Other,
                }
            }
            Command::Function(function) => {
                let name = function.fname.value.clone();
                self.function_bodies
                    .insert(name.clone(), function.body.to_string());
                let span = self.span(frame, function.location());
                self.shadowing(&name, &function.body.to_string(), span);
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
                // `for i in $(seq 1 100000000); do touch f$i; done`: millions of files.
                let raw: String = clause
                    .values
                    .iter()
                    .flatten()
                    .map(|w| w.value.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                let huge = raw.contains("seq")
                    && raw
                        .split(|c: char| !c.is_ascii_digit())
                        .any(|n| n.parse::<u64>().is_ok_and(|n| n >= 1_000_000));
                let body = clause.body.list.to_string();
                if huge
                    && ["touch ", "mkdir ", ">", "cp ", "fallocate "]
                        .iter()
                        .any(|w| body.contains(w))
                {
                    let span = self.span(frame, compound.location());
                    self.report(
                        RiskLevel::High,
                        Category::Resources,
                        span,
                        "creates millions of files: the file system runs out of inodes",
                    );
                }
                let values: Vec<Arg> = clause
                    .values
                    .iter()
                    .flatten()
                    .flat_map(|word| self.expanded_word(word, frame))
                    .collect();
                // The body is judged with each value the loop variable takes (a few at most):
                // `for f in /etc/*.conf; do mv "$f" ...`.
                // Only the outermost two loops iterate, so nested loops stay linear.
                let iterate = !values.is_empty()
                    && values.len() <= 4
                    && values.iter().all(Arg::is_literal)
                    && self.iterating < 2;
                if iterate {
                    self.iterating += 1;
                    for value in values {
                        self.vars.insert(clause.variable_name.clone(), value.text);
                        self.compound_list(&clause.body.list, frame);
                    }
                    self.iterating -= 1;
                } else {
                    // `for p in $(ls /proc)`: each value is an item of a listing.
                    self.vars.remove(&clause.variable_name);
                    let taint = Taint {
                        secret: values.iter().any(|v| v.from_secret),
                        all_pids: values.iter().any(|v| v.all_pids),
                    };
                    self.taints.insert(clause.variable_name.clone(), taint);
                    self.compound_list(&clause.body.list, frame);
                    self.taints.remove(&clause.variable_name);
                }
                self.vars.remove(&clause.variable_name);
            }
            CompoundCommand::ArithmeticForClause(clause) => {
                let endless = clause.condition.is_none();
                let span = self.span(frame, compound.location());
                self.endless_loop(endless, &clause.body.list, span, frame);
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
                let condition = clause.0.to_string();
                let condition = condition.trim().trim_end_matches(';').trim();
                let endless = match compound {
                    CompoundCommand::WhileClause(_) => {
                        matches!(
                            condition,
                            "true" | ":" | "[ 1 ]" | "((1))" | "/bin/true" | "[ true ]"
                        )
                    }
                    _ => matches!(condition, "false" | "/bin/false"),
                };
                let span = self.span(frame, compound.location());
                self.endless_loop(endless, &clause.1.list, span, frame);
            }
            CompoundCommand::Coprocess(coprocess) => {
                self.command(&coprocess.body, frame, Input::Terminal);
            }
            CompoundCommand::Arithmetic(_) => {}
        }
    }

    /// A loop body; a loop that never ends and starts background jobs or writes files
    /// without pause is a fork bomb or fills the disk.
    fn endless_loop(&mut self, endless: bool, body: &CompoundList, span: Span, frame: &Frame) {
        let writes_before = self.writes;
        self.compound_list(body, frame);
        if !endless {
            return;
        }
        // A pause in the foreground (not in what is sent to the background) paces the loop.
        let paced = body.0.iter().any(|item| {
            let text = item.0.to_string();
            !matches!(item.1, SeparatorOperator::Async)
                && ["sleep", "wait", "read ", "inotifywait", "break", "exit"]
                    .iter()
                    .any(|w| text.contains(w))
        });
        if paced {
            return;
        }
        if body
            .0
            .iter()
            .any(|item| matches!(item.1, SeparatorOperator::Async))
        {
            self.report(
                RiskLevel::Critical,
                Category::Resources,
                span,
                "a loop without end that starts a background process each time (a fork bomb): it fills the process table and hangs the machine"
            );
        } else if self.writes > writes_before {
            self.report(
                RiskLevel::High,
                Category::Resources,
                span,
                "a loop without end that writes files each time: it fills the disk",
            );
        }
    }

    /// Resolves a word, walking any command substitutions in it.
    fn word(&mut self, word: &ast::Word, frame: &Frame) -> Arg {
        self.resolved_word(word, frame).0
    }

    /// Resolves a word; also says whether the shell splits it into fields (an unquoted
    /// expansion). The output of a substitution whose output cmdai knows (`$(echo rm)`,
    /// `$(echo cm0= | base64 -d)`) takes its place.
    fn resolved_word(&mut self, word: &ast::Word, frame: &Frame) -> (Arg, bool) {
        let span = self.span(frame, word.loc.clone());
        let resolved = words::resolve(&word.value, &self.vars);
        let mut arg = Arg {
            dynamic_at: resolved.dynamic_at,
            ..Arg::literal(resolved.text, span)
        };
        let mut outputs = Vec::new();
        for code in &resolved.substitutions {
            let nested = self.nested(frame, code, span, false);
            let summary = self.code(&nested);
            arg.from_download |= summary.download;
            arg.from_decode |= summary.decode;
            arg.from_secret |= summary.secret;
            arg.all_pids |= summary.all_pids;
            if let ([program], 1) = (summary.programs.as_slice(), resolved.substitutions.len()) {
                arg.generated_by = Some(program.clone());
            }
            outputs.push(summary.output);
        }
        // A loop variable: its value is one item of a listing, and carries what it came from.
        for (name, taint) in &self.taints {
            let refers = word.value.contains(&format!("${name}"))
                || word.value.contains(&format!("${{{name}"));
            if refers {
                arg.from_secret |= taint.secret;
                arg.all_pids |= taint.all_pids;
                arg.generated_by.get_or_insert_with(|| "<loop>".to_owned());
            }
        }
        let all_known = !outputs.is_empty()
            && resolved.dynamic_parts == outputs.len()
            && outputs.iter().all(Option::is_some);
        if all_known {
            let mut text = arg.text.clone();
            let mut from = arg.dynamic_at.unwrap_or(0);
            for output in outputs.into_iter().flatten() {
                let Some(at) = text[from..].find("$(...)").map(|at| at + from) else {
                    break;
                };
                let output = output.trim_end_matches('\n');
                text.replace_range(at..at + "$(...)".len(), output);
                from = at + output.len();
            }
            arg.text = text;
            arg.dynamic_at = None;
        }
        (arg, resolved.splits)
    }

    /// A word as the shell hands it to the program: brace lists (`{rm,-rf,/}`) expanded and
    /// unquoted expansions of known text split into fields (`c="rm -rf /"; $c`).
    fn expanded_word(&mut self, word: &ast::Word, frame: &Frame) -> Vec<Arg> {
        if let Some(parts) = words::brace_words(&word.value) {
            let span = self.span(frame, word.loc.clone());
            return parts
                .into_iter()
                .map(|text| Arg::literal(text, span))
                .collect();
        }
        let (arg, splits) = self.resolved_word(word, frame);
        if !splits || !arg.is_literal() {
            return vec![arg];
        }
        let fields = words::split_fields(&arg.text, self.vars.get("IFS").map(String::as_str));
        if fields.len() == 1 && fields[0] == arg.text {
            return vec![arg];
        }
        fields
            .into_iter()
            .map(|text| Arg {
                text,
                ..arg.clone()
            })
            .collect()
    }

    fn simple(&mut self, simple: &ast::SimpleCommand, frame: &Frame, mut stdin: Input) -> Stage {
        let outer_files = std::mem::take(&mut self.output_files);
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
                CommandPrefixOrSuffixItem::Word(word) => {
                    args.extend(self.expanded_word(word, frame))
                }
                // After the name, `of=/dev/sda` is an argument (dd's), though `export x=rm`
                // also assigns.
                CommandPrefixOrSuffixItem::AssignmentWord(assignment, word) => {
                    if !in_prefix {
                        args.push(self.word(word, frame));
                    }
                    let (key, value) = match &assignment.value {
                        ast::AssignmentValue::Scalar(value) => {
                            (None, Some(self.word(value, frame)))
                        }
                        ast::AssignmentValue::Array(elements) => {
                            // `cmd=(rm -rf /)`: kept as the elements joined, for `"${cmd[@]}"`.
                            let values: Vec<Arg> = elements
                                .iter()
                                .map(|(_, element)| self.word(element, frame))
                                .collect();
                            let literal = values.iter().all(Arg::is_literal);
                            let joined = values
                                .iter()
                                .map(|v| v.text.as_str())
                                .collect::<Vec<_>>()
                                .join(" ");
                            let value = literal.then(|| Arg::literal(joined, Span::new(0, 0)));
                            (Some(true), value)
                        }
                    };
                    if let ast::AssignmentName::VariableName(name) = &assignment.name {
                        let name = match key {
                            Some(_) => words::array_key(name),
                            None => name.clone(),
                        };
                        assignments.push((name, value));
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
                        dynamic_at: Some(0),
                        from_download: summary.download,
                        from_decode: summary.decode,
                        from_secret: summary.secret,
                        ..Arg::literal("<(...)".into(), span)
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
        let name = match &simple.word_or_name {
            Some(word) => self.expanded_word(word, frame),
            None => Vec::new(),
        };
        let mut name_words = name.into_iter();
        let Some(name) = name_words.next() else {
            self.output_files = outer_files;
            return Stage::Other;
        };
        let args: Vec<Arg> = name_words.chain(args).collect();
        if let Some(span) = network {
            self.socket_opened = true;
            let base = name.text.rsplit('/').next().unwrap_or_default();
            // `exec bash -i &>/dev/tcp/...`: the shell may come after a wrapper.
            let shell = std::iter::once(base)
                .chain(
                    args.iter()
                        .filter(|a| !a.text.starts_with('-'))
                        .take(1)
                        .map(|a| a.text.rsplit('/').next().unwrap_or_default()),
                )
                .any(super::checks::is_shell);
            let probe = Invocation {
                name: name.clone(),
                args: args.clone(),
                span,
                stdin: Input::Terminal,
                privileged: false,
            };
            if matches!(super::flow::stage_of(base, &probe), Stage::Secret) {
                self.report(
                    RiskLevel::Critical,
                    Category::Exfiltration,
                    span,
                    "sends keys, credentials or environment variables over a raw network socket",
                );
            } else if shell {
                let message = "connects a shell to a network socket: whoever is at the other end controls this machine";
                self.report(RiskLevel::Critical, Category::Network, span, message);
            } else {
                self.report(
                    RiskLevel::Moderate,
                    Category::Network,
                    span,
                    "opens a raw network connection",
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
        let output_files = std::mem::replace(&mut self.output_files, outer_files);
        let stage = self.invoke(invocation.clone(), frame);
        self.output_written(&invocation, &stage, &output_files, frame);
        stage
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
                    if matches!(kind, IoFileRedirectKind::Read)
                        && arg.is_literal()
                        && super::targets::holds_secrets(&arg.text)
                    {
                        // `nc host 4444 < ~/.ssh/id_rsa`: the secret is the standard input.
                        return Some(Input::Pipe(vec![Stage::Secret], arg.span.start));
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
                    self.summaries.push(Summary::default());
                    self.compound_list(&subshell.list, &nested);
                    let summary = self.summaries.pop().unwrap_or_default();
                    // `bash < <(curl ...)`: what the substitution prints is the input.
                    let reads = matches!(kind, IoFileRedirectKind::Read);
                    let span = self.span(frame, subshell.location());
                    if reads && summary.download {
                        return Some(Input::Pipe(vec![Stage::Download], span.start));
                    }
                    if reads && summary.secret {
                        return Some(Input::Pipe(vec![Stage::Secret], span.start));
                    }
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
    pub fn invoke(&mut self, mut invocation: Invocation, frame: &Frame) -> Stage {
        // `$SHELL -c ...` runs the user's shell: judge it as one.
        if invocation.name.text == "$SHELL" {
            invocation.name = Arg::literal("sh".to_owned(), invocation.name.span);
        }
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
        if self.network.is_none() && super::flow::talks_to_network(&base, &invocation.args) {
            self.network = Some(base.clone());
        }
        self.current.push(normalised);
        let stage = self.judge(&base, &invocation, frame);
        self.current.pop();
        if let Some(summary) = self.summaries.last_mut() {
            summary.programs.push(base);
            summary.download |= matches!(stage, Stage::Download);
            summary.decode |= matches!(stage, Stage::Decode(_));
        }
        stage
    }

    fn judge(&mut self, base: &str, invocation: &Invocation, frame: &Frame) -> Stage {
        if self.functions.iter().any(|f| f == base)
            && (self.in_multi_pipeline || self.in_background)
        {
            self.fork_bomb(invocation.span);
        }
        if let Some(replacement) = self.aliases.remove(base) {
            // An alias defined earlier in the command: the shell runs its text instead.
            let code = std::iter::once(replacement.as_str())
                .chain(invocation.args.iter().map(|a| a.text.as_str()))
                .collect::<Vec<_>>()
                .join(" ");
            let nested = self.nested(frame, &code, invocation.span, invocation.privileged);
            self.code(&nested);
            self.aliases.insert(base.to_owned(), replacement);
            return Stage::Other;
        }
        if base.contains(['*', '?', '[']) && !matches!(base, "[" | "[[") {
            self.glob_program(base, invocation, frame);
            return Stage::Other;
        }
        if let Some(wrapper) = self.rules.wrapper(base) {
            return self.unwrap(base, wrapper, invocation, frame);
        }
        // `tool --help` and `tool --version` only print.
        let prints_only = invocation.args.len() == 1
            && matches!(
                invocation.args[0].text.as_str(),
                "--help" | "--version" | "-h" | "-V"
            )
            || invocation
                .args
                .iter()
                .any(|a| a.text == "--help" || a.text == "--version");
        // A dry run only says what it would do.
        let dry_run = invocation.args.iter().any(|a| {
            matches!(
                a.text.as_str(),
                "--dry-run"
                    | "--dryrun"
                    | "--dry-run=client"
                    | "--dry-run=server"
                    | "--what-if"
                    | "-WhatIf"
                    | "--simulate"
                    | "--noop"
            )
        });
        if prints_only || dry_run {
            return Stage::Other;
        }
        if let Some(body) = self
            .function_bodies
            .get(base)
            .filter(|_| !self.expanding.iter().any(|f| f == base))
            .cloned()
        {
            // A function defined earlier: its body runs with these arguments as $1, $2...
            let mut code = body;
            for (index, arg) in invocation.args.iter().enumerate().take(9).rev() {
                let value = if arg.is_literal() {
                    arg.text.clone()
                } else {
                    "$DYNAMIC".into()
                };
                code = code
                    .replace(&format!("${{{}}}", index + 1), &value)
                    .replace(&format!("${}", index + 1), &value);
            }
            let all = invocation
                .args
                .iter()
                .map(|a| a.text.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            code = code
                .replace("\"$@\"", &all)
                .replace("$@", &all)
                .replace("$*", &all);
            self.expanding.push(base.to_owned());
            let nested = self.nested(frame, &code, invocation.span, invocation.privileged);
            self.code(&nested);
            self.expanding.pop();
        }
        self.inner_stage = None;
        let handled = self.special(base, invocation, frame);
        let inner = self.inner_stage.take();
        let matched = self.apply_rules(base, invocation);
        let is_function = self.functions.iter().any(|f| f == base);
        let database = super::databases::client(base).is_some();
        if matched < Some(RiskLevel::Moderate)
            && !is_function
            && !database
            && !self.rules.is_reader(base)
        {
            self.destructive_verbs(base, invocation);
        }
        if !handled && matched.is_none() && !self.rules.is_known(base) && !is_function {
            self.unknown_program(invocation, frame);
        }
        // `... | xargs curl -s | bash`: xargs prints what its command prints.
        inner.unwrap_or_else(|| super::flow::stage_of(base, invocation))
    }

    /// Whether the simple command being judged starts alongside copies of itself: in a
    /// pipeline of several commands or in the background.
    pub fn starts_copies(&self) -> bool {
        self.in_multi_pipeline || self.in_background
    }

    fn fork_bomb(&mut self, span: Span) {
        if !self.fork_bomb_reported {
            self.fork_bomb_reported = true;
            self.report(
                RiskLevel::Critical,
                Category::Resources,
                span,
                "a function that starts copies of itself (a fork bomb): it fills the process table and hangs the machine"
            );
        }
    }

    /// Applies the first matching rule of each category; returns the highest level reported,
    /// if any rule matched.
    fn apply_rules(&mut self, base: &str, invocation: &Invocation) -> Option<RiskLevel> {
        let mut seen = Vec::new();
        let mut matched = None;
        for rule in self.rules.rules_for(base) {
            if seen.contains(&rule.rule.category) || !rule.matches(&invocation.args) {
                continue;
            }
            seen.push(rule.rule.category);
            let mut level = rule.rule.level;
            let mut span = invocation.span;
            let mut message = rule.rule.message.clone();
            for target in rule.target_args(&invocation.args) {
                let text = rule.target_text(target);
                let dynamic_at = target
                    .dynamic_at
                    .map(|at| at.saturating_sub(target.text.len() - text.len()));
                // `cd / && rm -rf *`: a relative path is relative to where `cd` went.
                let absolute = self
                    .cwd
                    .as_deref()
                    .filter(|_| dynamic_at.is_none() && !text.starts_with(['/', '~']))
                    .map(|dir| format!("{}/{text}", dir.trim_end_matches('/')));
                let kind = match &absolute {
                    Some(path) => super::targets::classify(path, None)
                        .or_else(|| super::targets::classify(text, dynamic_at)),
                    None => super::targets::classify(text, dynamic_at),
                };
                let Some(kind) = kind else {
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
            matched = matched.max(Some(level));
            self.report(level, rule.rule.category, span, message);
        }
        matched
    }
}

#[cfg(test)]
mod tests {
    use super::unterminated_heredoc;

    #[test]
    fn open_here_documents_are_found() {
        for open in [
            "$( << && $(",
            "$(cat << \"\" && $(",
            "<< $(( \t",
            "<<E$[\t\t",
            "$( $( << ) \n",
            "cat <<EOF\nno end",
            "cat <<-EOF",
        ] {
            assert!(unterminated_heredoc(open), "{open:?}");
        }
        for closed in [
            "cat <<EOF\nhello\nEOF\n",
            "cat <<-'END'\n\tx\n\tEND",
            "bash <<< 'rm -rf /'",
            "echo $((1 << 4))",
            "((x <<= 2))",
            "echo 'a << b'",
            "echo \"shift: x << 2\"",
            "$(cat <<EOF\n)\nEOF",
            "ls → ü << é\né",
        ] {
            assert!(!unterminated_heredoc(closed), "{closed:?}");
        }
    }
}
