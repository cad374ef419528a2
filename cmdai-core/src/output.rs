//! The form of output a request asks for in so many words ("how many? just the number", "names
//! only", "print yes or no", "lines like 'ERROR 2'"), and whether what a command printed, when
//! it was tried, has that form.
//!
//! Small models drop such words: `wc -l app.log` prints `42 app.log` where only the number was
//! asked for, `ls -lt` prints long listings where the names were, `uniq -c` prints `      2
//! ERROR` where the request showed `ERROR 2`. Nothing fails, so only the output shows it; a
//! [`Trial`](crate::Trial) that ran the command can tell the model.

use std::fmt;

/// A form of output a request can ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputForm {
    /// One number, perhaps with a unit (`42`, `1.5M`, `12%`): "just the number", "print only
    /// the total size". Printing nothing is not it.
    Number,
    /// Names or paths and nothing else, one per line: "names only", "just their paths".
    Names,
    /// One of a few words, alone: "print 64 or 32", "answer yes or no", "print 'up' if it
    /// answers, 'down' otherwise".
    Choice(Vec<String>),
    /// Lines shaped like an example the request quotes: "print lines like 'ERROR 2'", "as
    /// 'user:group path' lines", "in the form '1: text'". Each line printed has the example's
    /// separators (`:`, `=`, `,`, `;`, `|`), a number where it has a number, no fewer fields and
    /// no white space before the first where it has none.
    Like(String),
    /// One value on each line, as printed: no label before it (`Codename:\tjammy`, `PORT=8080`),
    /// no quotes around it (`"1.0.0"`), no table with a header. "just the version", "only the
    /// date", "in one word", "print the date as YYYY-MM-DD". Printing nothing is not it.
    Value {
        /// One word a line: the request names a value that is one (a version, an address, a
        /// checksum) or asks for one word.
        one_word: bool,
        /// An example of the value, not quoted ("like 1.0.0", "as YYYY-MM-DD"): each line has
        /// as many words, and its punctuation where it has any.
        example: Option<String>,
    },
}

/// Words that name one number.
const NUMBER_NOUNS: &[&str] = &["number", "count", "total", "sum", "size"];
/// Words that name names.
const NAME_NOUNS: &[&str] = &["name", "names", "path", "paths", "filename", "filenames"];
/// Words that name one value that is one word: "just the version", "only the IP address".
const ONE_WORD_NOUNS: &[&str] = &[
    "version",
    "codename",
    "ip",
    "address",
    "checksum",
    "hash",
    "digest",
    "md5",
    "sha1",
    "sha256",
    "sha512",
    "id",
    "uid",
    "gid",
    "pid",
    "port",
    "hostname",
    "owner",
    "user",
    "username",
    "group",
    "shell",
    "encoding",
    "charset",
    "architecture",
    "arch",
    "mode",
    "word",
    "target",
    "extension",
    "uuid",
    "branch",
];
/// Words that name one value that may have several words: "only the date", "just the value"
/// ("ASCII text" is a file's type, "Ubuntu 22.04 LTS" a release).
const VALUE_NOUNS: &[&str] = &[
    "type",
    "release",
    "value",
    "date",
    "time",
    "timestamp",
    "model",
    "answer",
    "result",
];
/// Words that may stand between "just" or "only" and what it is about ("only the
/// human-readable size", "just their file names").
const BETWEEN: &[&str] = &[
    "the",
    "their",
    "its",
    "a",
    "print",
    "show",
    "output",
    "give",
    "file",
    "folder",
    "human",
    "readable",
    "real",
    "final",
    "resulting",
    "bare",
    "plain",
    "relative",
    "full",
];
/// Units a number may carry.
const UNITS: &[&str] = &[
    "%", "b", "k", "m", "g", "t", "p", "kb", "mb", "gb", "tb", "ki", "mi", "gi", "ti", "kib",
    "mib", "gib", "tib", "byte", "bytes",
];

impl OutputForm {
    /// The form `request` asks for in so many words, if it does: "just", "only" or "nothing
    /// but" before a word for it ("just the number", "only their names"), or the word before
    /// "only" ("names only"). Not a number when the request asks about each of several things
    /// ("for each file print only the size").
    pub fn asked_in(request: &str) -> Option<OutputForm> {
        let lower = request.to_lowercase();
        let per_item = words(&lower).any(|w| matches!(w, "each" | "every" | "per"));
        let number = Self::number_or_names(&lower, per_item);
        // "just the number, like 5.1.16": the example says more than "a number" does.
        if number == Some(OutputForm::Number)
            && let Some(example) = value_example(request)
            && example.chars().filter(|c| c.is_ascii_punctuation()).count() >= 2
        {
            return Some(OutputForm::Value {
                one_word: true,
                example: Some(example),
            });
        }
        number
            .or_else(|| choice(&lower, per_item).map(OutputForm::Choice))
            .or_else(|| example_line(request).map(OutputForm::Like))
            .or_else(|| value(request, &lower, per_item))
    }

    /// [`Number`](Self::Number) or [`Names`](Self::Names), if `lower` asks for one: "just",
    /// "only" or "nothing but" before a word for it, the word before "only", or the word last
    /// named before "nothing else" or "nothing more" ("the file names, nothing else") where no
    /// "and" adds another thing.
    fn number_or_names(lower: &str, per_item: bool) -> Option<OutputForm> {
        let said = Self::limited(lower, per_item);
        said.or_else(|| {
            let at = ["nothing else", "nothing more"]
                .iter()
                .filter_map(|phrase| lower.find(phrase))
                .min()?;
            let mut before: Vec<&str> = words(&lower[..at]).collect();
            // "... and nothing more"
            if before.last() == Some(&"and") {
                before.pop();
            }
            let noun = before.iter().rposition(|w| form_named(w).is_some())?;
            let more = before[noun..]
                .iter()
                .chain(before[..noun].iter().rev().take(3))
                .any(|w| matches!(*w, "and" | "with"));
            let (form, noun) = form_named(before[noun])?;
            let each = per_item && form == OutputForm::Number && !matches!(noun, "total" | "sum");
            (!more && !each).then_some(form)
        })
    }

    /// The form "just", "only" or "nothing but" limits `lower` to, or the word before "only".
    fn limited(lower: &str, per_item: bool) -> Option<OutputForm> {
        for clause in lower.split(['.', ',', ';', ':', '?', '!', '(', ')']) {
            let clause: Vec<&str> = words(clause).collect();
            for (i, word) in clause.iter().enumerate() {
                let limits = matches!(*word, "just" | "only")
                    || (*word == "but" && i > 0 && clause[i - 1] == "nothing");
                let named = if limits {
                    clause[i + 1..]
                        .iter()
                        .find(|w| !BETWEEN.contains(w))
                        .and_then(|w| form_named(w))
                } else if clause.get(i + 1) == Some(&"only") {
                    form_named(word)
                } else {
                    None
                };
                match named {
                    Some((OutputForm::Number, noun))
                        if per_item && !matches!(noun, "total" | "sum") => {}
                    Some((form, _)) => return Some(form),
                    None => {}
                }
            }
        }
        None
    }

    /// Whether `stdout` has this form. Nothing printed has every form but a choice: whether
    /// there is nothing to list is not for this check to judge, but a question with two
    /// answers always has one.
    pub fn fits(&self, stdout: &str) -> bool {
        let lines: Vec<&str> = stdout
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect();
        match self {
            // A count or a size always has one, if only 0: nothing printed is not it (`awk`
            // summing no lines prints an empty line).
            OutputForm::Number => lines.len() == 1 && is_number(lines[0]),
            OutputForm::Names => {
                let counted =
                    !lines.is_empty() && lines.iter().all(|line| starts_with_number(line));
                !counted && !lines.iter().any(|line| is_long_listing(line))
            }
            OutputForm::Choice(options) => {
                let unquoted = |line: &str| line.trim_matches(['\'', '"']).to_lowercase();
                lines.len() == 1 && options.contains(&unquoted(lines[0]))
            }
            OutputForm::Like(example) => stdout
                .lines()
                .filter(|line| !line.trim().is_empty())
                .all(|line| shaped_like(line, example)),
            OutputForm::Value { one_word, example } => {
                !lines.is_empty()
                    && !is_table(&lines)
                    && lines.iter().all(|line| {
                        !is_labelled(line)
                            && !is_quoted(line)
                            && (!one_word || one_word_each(line))
                            && example.as_deref().is_none_or(|e| like_example(line, e))
                    })
            }
        }
    }

    /// `command` changed as little as it takes to print this form, where a small change is
    /// known, given `printed`, the line that showed it does not ([`misfit`](Self::misfit)).
    /// `None` otherwise, and once the change is made.
    /// - A number: the name `du -s` and `wc` print after it left out (`du -sh data | cut -f1`,
    ///   `wc -l < app.log`).
    /// - A value: jq's `-r` (no quotes) where jq prints it, the name after a checksum cut off,
    ///   the value shaped like the request's example cut out (`5.2.15(1)-release` -> `5.2.15`
    ///   for "like 5.1.16"), else the label before each line (`Codename:\tjammy`, `PORT=8080`).
    /// - Lines like `word count`, where a count came first (`uniq -c`'s `      5 red`): the two
    ///   turned round (`| awk '{print $2, $1}'`).
    /// - One of two answers, where the command is a test whose status is the answer (`gzip -t`,
    ///   `pgrep`, `grep -q`, `cmp`): `&& echo yes || echo no`, the "yes" of the two on success.
    pub fn repair(&self, command: &str, printed: &str) -> Option<String> {
        match self {
            OutputForm::Number => repair_number(command),
            OutputForm::Value { example, .. } => repair_value(command, example.as_deref(), printed),
            OutputForm::Like(example) => count_last(command, example, printed),
            OutputForm::Choice(options) => answer_by_status(command, options),
            OutputForm::Names => None,
        }
    }

    /// The first line of `stdout` that shows it does not have this form, if one does.
    pub fn misfit(&self, stdout: &str) -> Option<String> {
        if self.fits(stdout) {
            return None;
        }
        let mut lines = stdout.lines().filter(|l| !l.trim().is_empty());
        let first = match self {
            // The first line that is not like the example, as printed (its leading blanks too).
            OutputForm::Like(example) => lines
                .by_ref()
                .find(|line| !shaped_like(line, example))
                .unwrap_or_default(),
            _ => lines.next().map(str::trim).unwrap_or_default(),
        };
        if first.is_empty() {
            return Some("nothing".into());
        }
        // A long line's end shows as much as its start (`<hash>  big.iso`); a table's header
        // is shown whole, up to 100 characters (`df -T`'s is 69).
        let chars: Vec<char> = first.chars().collect();
        let header = is_table(&[first, "x"]) && chars.len() <= 100;
        let shown: String = if chars.len() > 60 && !header {
            let head: String = chars[..32].iter().collect();
            let tail: String = chars[chars.len() - 24..].iter().collect();
            format!("{head} ... {tail}")
        } else {
            first.to_owned()
        };
        let more = !matches!(self, OutputForm::Like(_)) && lines.next().is_some();
        Some(if more { format!("{shown} ...") } else { shown })
    }
}

impl fmt::Display for OutputForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputForm::Number => f.write_str("only the number the request asks for"),
            OutputForm::Names => f.write_str("only the names or paths the request asks for"),
            OutputForm::Choice(options) => {
                write!(f, "only one word of ")?;
                for (i, option) in options.iter().enumerate() {
                    let joint = match i {
                        0 => "",
                        _ if i + 1 == options.len() => " or ",
                        _ => ", ",
                    };
                    write!(f, "{joint}`{option}`")?;
                }
                f.write_str(" as the request asks")
            }
            OutputForm::Like(example) => write!(f, "lines like `{example}` as the request asks"),
            OutputForm::Value {
                example: Some(example),
                ..
            } => write!(
                f,
                "only a value like {example}, as the request asks, without a label or quotes"
            ),
            OutputForm::Value { one_word, .. } => {
                let words = if *one_word { ", one word" } else { "" };
                write!(
                    f,
                    "only the value the request asks for{words}, without a label or quotes"
                )
            }
        }
    }
}

/// `command` with the name `du -s` and `wc` print after the number left out.
fn repair_number(command: &str) -> Option<String> {
    let last = crate::safety::simple_commands(command)?.pop()?;
    let program = last.program.rsplit('/').next().unwrap_or(&last.program);
    let (options, operands): (Vec<&String>, Vec<&String>) =
        last.args.iter().partition(|a| a.starts_with('-'));
    let [operand] = operands[..] else {
        return None;
    };
    let command = command.trim_end();
    let letters = |allowed: &str| {
        options.iter().all(|o| {
            o.len() > 1 && !o.starts_with("--") && o[1..].chars().all(|c| allowed.contains(c))
        })
    };
    match program {
        "du" if options
            .iter()
            .any(|o| *o == "--summarize" || !o.starts_with("--") && o.contains('s'))
            && command.ends_with(operand.as_str()) =>
        {
            Some(format!("{command} | cut -f1"))
        }
        "wc" if !options.is_empty()
            && letters("lcwm")
            && command.ends_with(&format!(" {operand}")) =>
        {
            let at = command.len() - operand.len();
            Some(format!("{}< {operand}", &command[..at]))
        }
        _ => None,
    }
}

/// Words an example line has where a count goes: "print 'word count' lines", "'METHOD N'".
const COUNT_WORDS: &[&str] = &[
    "count",
    "counts",
    "n",
    "num",
    "number",
    "total",
    "times",
    "occurrences",
    "hits",
    "lines",
    "frequency",
    "freq",
];

/// Whether `field` of an example line stands for a number: one (`2`, `22.04`) or a word for a
/// count (`count`, `N`).
fn stands_for_number(field: &str) -> bool {
    let field = field.trim_matches(SEPARATORS);
    is_plain_number(field) || COUNT_WORDS.contains(&field.to_lowercase().as_str())
}

/// `command` with each line's count moved after its word, where the request shows a word, then
/// a count (`word count`, `ERROR: 2`) and `printed` starts with a count (`      5 red`, as
/// `uniq -c` prints it).
fn count_last(command: &str, example: &str, printed: &str) -> Option<String> {
    let fields: Vec<&str> = example.split_whitespace().collect();
    let [word, count] = fields[..] else {
        return None;
    };
    if stands_for_number(word) || !stands_for_number(count) {
        return None;
    }
    // What stands between the two in the example: `: ` after `LEVEL` in `LEVEL: 2`.
    let bare = word.trim_end_matches(|c: char| !c.is_alphanumeric());
    let between = &example[bare.len()..example.len() - count.len()];
    if between.contains(['\'', '"', '\\', '%']) {
        return None;
    }
    let got: Vec<&str> = printed.split_whitespace().collect();
    if got.len() < 2 || !is_plain_number(got[0]) || is_plain_number(got[1]) {
        return None;
    }
    let joined = |first: &str, second: &str| match between {
        " " => format!("{first}, {second}"),
        _ => format!("{first} \"{between}\" {second}"),
    };
    let program = if got.len() == 2 {
        format!("{{print {}}}", joined("$2", "$1"))
    } else {
        // A name with spaces: everything after the count, then the count.
        format!(
            "{{n = $1; $1 = \"\"; print {}}}",
            joined("substr($0, 2)", "n")
        )
    };
    let repair = format!(" | awk '{program}'");
    let command = command.trim_end();
    let done = command.ends_with(" | awk '{print $2, $1}'") || command.ends_with(&repair);
    if done {
        return None;
    }
    // An awk at the end that prints the two the wrong way round is turned, not followed.
    let wrong_way = [
        " | awk '{print $1, $2}'",
        " | awk '{print $1 \" \" $2}'",
        " | awk '{print $1\" \"$2}'",
    ];
    let kept = wrong_way
        .iter()
        .find_map(|tail| command.strip_suffix(tail))
        .filter(|_| got.len() == 2)
        .unwrap_or(command);
    Some(format!("{kept}{repair}"))
}

/// Words for the answer that means "yes" to a question, and for the one that means "no".
const YES: &[&str] = &[
    "yes",
    "y",
    "true",
    "valid",
    "ok",
    "okay",
    "set",
    "present",
    "exists",
    "exist",
    "found",
    "running",
    "up",
    "open",
    "on",
    "enabled",
    "active",
    "installed",
    "available",
    "pass",
    "passed",
    "success",
    "reachable",
    "intact",
    "good",
    "same",
    "identical",
    "equal",
    "match",
    "matches",
    "online",
    "alive",
    "listening",
    "mounted",
    "supported",
    "healthy",
];
const NO: &[&str] = &[
    "no",
    "n",
    "false",
    "invalid",
    "unset",
    "missing",
    "absent",
    "down",
    "closed",
    "off",
    "disabled",
    "inactive",
    "stopped",
    "fail",
    "failed",
    "failure",
    "error",
    "broken",
    "corrupt",
    "corrupted",
    "bad",
    "different",
    "differ",
    "unreachable",
    "offline",
    "dead",
    "unmounted",
    "unsupported",
    "unhealthy",
    "none",
    "notfound",
];

/// The "yes" and the "no" of two answers: one a word for each (`running`, `stopped`), or one
/// the other with `un`, `in`, `non` or `not` before it (`set`, `unset`).
fn yes_and_no(options: &[String]) -> Option<(&str, &str)> {
    let [a, b] = options else {
        return None;
    };
    let negates = |no: &str, yes: &str| {
        ["un", "in", "non", "non-", "not", "not-", "not_"]
            .iter()
            .any(|prefix| no.strip_prefix(prefix) == Some(yes))
    };
    let is_yes =
        |w: &str, other: &str| (YES.contains(&w) && NO.contains(&other)) || negates(other, w);
    if is_yes(a, b) {
        Some((a, b))
    } else if is_yes(b, a) {
        Some((b, a))
    } else {
        None
    }
}

/// Whether `command`, one simple command, is a test whose exit status answers a question:
/// `test`, `[`, `grep`, `pgrep`, `cmp`, an archive's or a checksum's test (`gzip -t`, `tar -t`,
/// `sha256sum -c`), `command -v`, `id`, `getent`, `ping`.
fn is_test(command: &crate::safety::SimpleCommand) -> bool {
    let program = command
        .program
        .rsplit('/')
        .next()
        .unwrap_or(&command.program);
    let short = |letter: char| {
        command
            .args
            .iter()
            .any(|a| a.starts_with('-') && !a.starts_with("--") && a.contains(letter))
    };
    let long = |name: &str| command.args.iter().any(|a| a == name);
    let first = command.args.first().map(String::as_str).unwrap_or_default();
    match program {
        "test" | "[" | "[[" => !command
            .args
            .iter()
            .any(|a| matches!(a.as_str(), "!" | "-z" | "!=" | "-ne")),
        "grep" | "egrep" | "fgrep" => !short('v') && !long("--invert-match"),
        "pgrep" | "pidof" | "cmp" | "diff" | "id" | "getent" | "ping" | "mountpoint" | "which"
        | "command" | "type" | "hash" => true,
        "gzip" | "gunzip" | "bzip2" | "xz" | "zstd" | "lz4" | "unzip" => {
            short('t') || long("--test")
        }
        "zip" => short('T'),
        "tar" => first.starts_with('t') || short('t') || long("--list"),
        "md5sum" | "sha1sum" | "sha256sum" | "sha512sum" | "b2sum" => short('c') || long("--check"),
        "systemctl" => first.starts_with("is-"),
        _ => false,
    }
}

/// `command` answering with one of two words by its exit status, where it is a test (its last
/// simple command, alone or at the end of a pipeline) and prints neither word itself.
fn answer_by_status(command: &str, options: &[String]) -> Option<String> {
    let (yes, no) = yes_and_no(options)?;
    let words = crate::safety::shell_words(command)?;
    let joined = words
        .iter()
        .any(|w| matches!(w.as_str(), "&&" | "||" | ";" | "&" | "\n" | "!") || w.contains("echo"));
    let commands = crate::safety::simple_commands(command)?;
    let last = commands.last()?;
    let prints = commands
        .iter()
        .any(|c| matches!(c.program.as_str(), "echo" | "printf"));
    if joined || prints || !is_test(last) {
        return None;
    }
    Some(format!(
        "{} >/dev/null 2>&1 && echo {yes} || echo {no}",
        command.trim_end()
    ))
}

/// Words of a request for a table's column, and the column names (lower case) they stand for.
const COLUMNS: &[(&str, &[&str])] = &[
    ("type", &["type", "fstype"]),
    ("fstype", &["type", "fstype"]),
    ("size", &["size", "1k-blocks", "1m-blocks", "1g-blocks"]),
    ("used", &["used"]),
    ("available", &["avail", "available"]),
    ("free", &["free", "avail"]),
    ("percentage", &["use%", "%cpu", "%mem"]),
    ("percent", &["use%", "%cpu", "%mem"]),
    ("mounted", &["mounted", "mountpoint", "mountpoints"]),
    ("mountpoint", &["mounted", "mountpoint", "mountpoints"]),
    ("pid", &["pid"]),
    ("tty", &["tty", "tt"]),
    ("uid", &["uid"]),
    ("user", &["user", "uid"]),
    ("owner", &["user", "owner"]),
    ("shared", &["shared"]),
    ("total", &["total"]),
    ("filesystem", &["filesystem"]),
    ("device", &["filesystem", "name", "device"]),
];

/// `command` with the one column of its table the request names picked out (`df -T . | awk
/// 'NR==2 {print $2}'` for "print just the type"), where `printed` is the table's header and
/// exactly one of its columns is named by a word of `request`: "type" for `Type`, "available"
/// for `Avail`. A header that starts with a column name in lower case (`free`'s `total used
/// ...`) has a column of row labels before it (`Mem:`).
pub(crate) fn table_column(request: &str, command: &str, printed: &str) -> Option<String> {
    let header = printed.trim_end_matches(" ...");
    if !is_table(&[header, "x"]) && !header.starts_with("total ") {
        return None;
    }
    let columns: Vec<String> = header
        .split_whitespace()
        .map(str::to_lowercase)
        // `Mounted on` is one column.
        .filter(|name| name != "on")
        .collect();
    let lower = request.to_lowercase();
    let mut named: Vec<usize> = Vec::new();
    for word in words(&lower) {
        let Some((_, names)) = COLUMNS.iter().find(|(w, _)| *w == word) else {
            continue;
        };
        for (at, column) in columns.iter().enumerate() {
            if names.contains(&column.as_str()) && !named.contains(&at) {
                named.push(at);
            }
        }
    }
    let [at] = named[..] else {
        return None;
    };
    let labelled = header.starts_with(|c: char| c.is_lowercase());
    let field = at + 1 + usize::from(labelled);
    let pick = format!(" | awk 'NR==2 {{print ${field}}}'");
    let command = command.trim_end();
    (!command.contains(" | awk 'NR==")).then(|| format!("{command}{pick}"))
}

/// Verbs that, before "A or B", ask for one of two answers.
const ANSWER_VERBS: &[&str] = &[
    "print", "answer", "say", "output", "reply", "echo", "respond",
];
/// Words after which "otherwise" pairs two quoted answers ("print 'up' if ..., 'down'
/// otherwise").
const OTHERWISE: &[&str] = &["otherwise", "else"];

/// The answers `lower` offers when it asks for one of a few words: "print 64 or 32", "answer
/// yes or no", "print either 'on' or 'off'", "print 'up' if it answers, otherwise 'down'". Not
/// when the request asks about each of several things, nor when "or" joins words of a longer
/// phrase ("print error or warning lines").
fn choice(lower: &str, per_item: bool) -> Option<Vec<String>> {
    if per_item {
        return None;
    }
    let tokens: Vec<&str> = lower
        .split_whitespace()
        .map(|t| t.trim_start_matches('('))
        .collect();
    // Whether token `i` ends a clause: the last, one with punctuation after it, or one a
    // condition follows ("... or no if ...").
    let ends_clause = |i: usize| {
        i + 1 >= tokens.len()
            || word(tokens[i]) != tokens[i]
            || matches!(
                tokens[i + 1],
                "if" | "depending" | "accordingly" | "otherwise" | "else" | "then"
            )
    };
    let answer = |t: &str| {
        let bare = word(t).trim_matches(['\'', '"', '`']);
        let one_word = !bare.is_empty()
            && bare
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
        one_word.then(|| bare.to_owned())
    };
    let quoted = |t: &str| word(t).len() > 2 && word(t).starts_with(['\'', '"', '`']);
    for (i, token) in tokens.iter().enumerate() {
        if !ANSWER_VERBS.contains(token) {
            continue;
        }
        let mut at = i + 1;
        if tokens.get(at) == Some(&"either") {
            at += 1;
        }
        // "print A or B"
        if let (Some(a), Some(&"or"), Some(b)) =
            (tokens.get(at), tokens.get(at + 1), tokens.get(at + 2))
            && word(a) == *a
            && ends_clause(at + 2)
            && let (Some(a), Some(b)) = (answer(a), answer(b))
            && !matches!(a.as_str(), "the" | "a" | "an" | "its" | "their")
        {
            return Some(vec![a, b]);
        }
        // "print 'A' if ..., otherwise 'B'" or "..., 'B' otherwise": both quoted.
        let Some(a) = tokens.get(at).filter(|a| quoted(a)).and_then(|a| answer(a)) else {
            continue;
        };
        let rest = &tokens[at + 1..];
        let b = rest.windows(2).find_map(|pair| match pair {
            [before, b] if OTHERWISE.contains(&word(before)) && quoted(b) => answer(b),
            [b, after] if OTHERWISE.contains(&word(after)) && quoted(b) => answer(b),
            _ => None,
        });
        if let Some(b) = b {
            return Some(vec![a, b]);
        }
    }
    None
}

/// Phrases that ask for one word.
const ONE_WORD: &[&str] = &["one word", "single word"];
/// Words that may follow a noun for a value when it is the value asked for: "just the IP
/// address of eth0", "only the version number", "just the user name, please". Any other word
/// makes the noun a word for something else ("only the user processes"), and "and", "with"
/// add another value ("just the version and the date").
const AFTER_A_VALUE: &[&str] = &[
    "of",
    "in",
    "for",
    "from",
    "on",
    "at",
    "as",
    "that",
    "which",
    "please",
    "like",
    "e",
    "eg",
    "only",
    "number",
    "string",
    "address",
    "name",
    "without",
    "here",
    "now",
    "currently",
];

/// [`OutputForm::Value`], if `request` asks for one value: "just" or "only" before a word for
/// one ("just the version", "only the IP address", "just the sha256 checksum"), "in one word",
/// or an example of a format ("as YYYY-MM-DD", "in the form HH:MM"). Not when it asks about
/// each of several things, nor for a value and more ("just the version and the date").
fn value(request: &str, lower: &str, per_item: bool) -> Option<OutputForm> {
    if per_item {
        return None;
    }
    let spaced = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut one_word = None;
    for clause in lower.split(['.', ',', ';', ':', '?', '!', '(', ')']) {
        let clause: Vec<&str> = words(clause).collect();
        for (i, word) in clause.iter().enumerate() {
            if !matches!(*word, "just" | "only") {
                continue;
            }
            // The first two words that are not a filler ("just the sha256 checksum").
            let nouns = clause[i + 1..]
                .iter()
                .enumerate()
                .filter(|(_, w)| !BETWEEN.contains(w))
                .take(2);
            for (at, noun) in nouns {
                let found = if ONE_WORD_NOUNS.contains(noun) {
                    Some(true)
                } else if VALUE_NOUNS.contains(noun) {
                    Some(false)
                } else {
                    None
                };
                // The noun is what is asked for, not a word for another ("the user processes"),
                // and nothing more is asked with it ("the version and the date").
                let own = clause.get(i + 1 + at + 1).is_none_or(|next| {
                    AFTER_A_VALUE.contains(next)
                        || ONE_WORD_NOUNS.contains(next)
                        || VALUE_NOUNS.contains(next)
                });
                if let Some(found) = found.filter(|_| own) {
                    one_word = Some(found);
                    break;
                }
            }
        }
    }
    if ONE_WORD.iter().any(|phrase| spaced.contains(phrase)) {
        one_word = Some(true);
    }
    let example = value_example(request);
    match (one_word, example) {
        (Some(one_word), example) => Some(OutputForm::Value { one_word, example }),
        (None, Some(example)) if example.split_whitespace().all(is_placeholder) => {
            Some(OutputForm::Value {
                one_word: false,
                example: Some(example),
            })
        }
        _ => None,
    }
}

/// An example of a value `request` writes without quotes after "like", "as", "e.g." or "in the
/// form": words with a digit (`1.0.0`, `ext4`, but not a bare count like `3`) or of a format's
/// letters (`YYYY-MM-DD`, `HH:MM`), as many as follow one another.
fn value_example(request: &str) -> Option<String> {
    let tokens: Vec<&str> = request.split_whitespace().collect();
    fn bare(t: &str) -> &str {
        t.trim_end_matches([',', ';', ':', '?', '!', ')', '.'])
            .trim_start_matches('(')
    }
    let example_like = |t: &str| {
        let t = bare(t);
        let digit = t.chars().any(|c| c.is_ascii_digit());
        let integer = t.chars().all(|c| c.is_ascii_digit());
        (digit && !integer && !t.contains(['\'', '"', '`'])) || is_placeholder(t)
    };
    for (i, token) in tokens.iter().enumerate() {
        let lower = token.to_lowercase();
        let introduces = EXAMPLE_BEFORE.contains(&bare(&lower)) || bare(&lower) == "e.g";
        if !introduces {
            continue;
        }
        let example: Vec<&str> = tokens[i + 1..]
            .iter()
            .take_while(|t| example_like(t))
            .map(|t| bare(t))
            .collect();
        if !example.is_empty() {
            return Some(example.join(" "));
        }
    }
    None
}

/// A format's placeholder: `YYYY-MM-DD`, `HH:MM:SS`, `DD/MM/YYYY`, `YYYYMMDD`.
fn is_placeholder(word: &str) -> bool {
    let letters = word.chars().filter(|c| c.is_ascii_alphabetic()).count();
    let separated = word.contains(['-', ':', '/', '.', '_']);
    word.chars().all(|c| "YMDHS-:/._".contains(c)) && letters >= 2 && (separated || letters >= 6)
}

/// `Codename:\tjammy`, `Model name:   AMD EPYC`, `PORT=8080`, `version = 1.2`: a label, then a
/// value. Not `root:root`, `fe80::1`, `http://x`, `dGVzdA==`: a colon is followed by white
/// space, and what stands before `=` is a name.
fn is_labelled(line: &str) -> bool {
    let Some(at) = line.find([':', '=']) else {
        return false;
    };
    let (head, rest) = (line[..at].trim(), &line[at + 1..]);
    if rest.trim().is_empty() || rest.starts_with([':', '=']) {
        return false;
    }
    if line[at..].starts_with('=') {
        let mut chars = head.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    } else {
        rest.starts_with([' ', '\t'])
            && head.starts_with(|c: char| c.is_alphabetic())
            && head.len() <= 40
            && head.split_whitespace().count() <= 4
            && head
                .chars()
                .all(|c| c.is_alphanumeric() || " _-()./".contains(c))
    }
}

/// Whether `line` is one word, or several values of one shape (`10.0.0.2 172.17.0.1` from
/// `hostname -I`): the same punctuation in each, and some.
fn one_word_each(line: &str) -> bool {
    let marks = |word: &str| -> String { word.chars().filter(|c| !c.is_alphanumeric()).collect() };
    let mut words = line.split_whitespace();
    let Some(first) = words.next() else {
        return true;
    };
    let shape = marks(first);
    words.all(|word| !shape.is_empty() && marks(word) == shape)
}

/// `"1.0.0"`, `'jammy'`.
fn is_quoted(line: &str) -> bool {
    line.len() >= 2
        && ['"', '\'']
            .iter()
            .any(|&q| line.starts_with(q) && line.ends_with(q))
}

/// A table: a first line of column names (`Filesystem Type ...`, `PID TTY TIME CMD`), then
/// more lines.
fn is_table(lines: &[&str]) -> bool {
    let Some(first) = lines.first().filter(|_| lines.len() >= 2) else {
        return false;
    };
    let words: Vec<&str> = first.split_whitespace().collect();
    let capitalised = words
        .iter()
        .filter(|w| w.starts_with(|c: char| c.is_uppercase()))
        .count();
    words.len() >= 2
        && capitalised >= 2
        && capitalised * 2 > words.len()
        && !words.iter().any(|w| w.chars().all(|c| c.is_ascii_digit()))
}

/// Whether `line` has the words of `example`, and its punctuation where it has any.
fn like_example(line: &str, example: &str) -> bool {
    let punctuation = |text: &str| -> String {
        text.chars()
            .filter(|c| !c.is_alphanumeric() && !c.is_whitespace())
            .collect()
    };
    let marks = punctuation(example);
    line.split_whitespace().count() == example.split_whitespace().count()
        && (marks.is_empty() || punctuation(line) == marks)
}

/// Programs that print a checksum, then the file's name.
const CHECKSUMS: &[&str] = &[
    "md5sum",
    "sha1sum",
    "sha224sum",
    "sha256sum",
    "sha384sum",
    "sha512sum",
    "b2sum",
    "cksum",
];

/// What cuts the label off each line a command prints (`Codename:\tjammy` -> `jammy`).
const STRIP_LABEL: &str = " | sed 's/^[^:=]*[:=][[:space:]]*//'";

/// `command` with the file's name after a checksum cut off, or jq's `-r` where jq prints quoted
/// strings, or the value shaped like `example` cut out of what it printed (`printed`), else with
/// the label before each line cut off; `None` once that is done.
fn repair_value(command: &str, example: Option<&str>, printed: &str) -> Option<String> {
    let command = command.trim_end();
    let commands = crate::safety::simple_commands(command)?;
    let raw = |arg: &String| {
        arg == "--raw-output"
            || (arg.starts_with('-') && !arg.starts_with("--") && arg.contains('r'))
    };
    let jq_quotes = commands
        .iter()
        .any(|c| c.program == "jq" && !c.args.iter().any(raw));
    // A checksum program prints the file's name after the sum.
    let summed = commands.last().is_some_and(|c| {
        let program = c.program.rsplit('/').next().unwrap_or(&c.program);
        CHECKSUMS.contains(&program)
    }) || (commands.len() == 1
        && commands[0].program == "find"
        && commands[0]
            .args
            .iter()
            .any(|a| CHECKSUMS.contains(&a.as_str())));
    if summed {
        return Some(format!("{command} | cut -d' ' -f1"));
    }
    if jq_quotes {
        let at = command.match_indices("jq ").map(|(at, _)| at).find(|&at| {
            command[..at]
                .chars()
                .next_back()
                .is_none_or(|c| c.is_whitespace() || "|;&(".contains(c))
        })?;
        return Some(format!("{}jq -r {}", &command[..at], &command[at + 3..]));
    }
    if let Some(cut) = example.and_then(|example| value_cut_out(command, example, printed)) {
        return Some(cut);
    }
    (!command.ends_with(STRIP_LABEL)).then(|| format!("{command}{STRIP_LABEL}"))
}

/// A piece of an example of a value: a run of digits (of this length, for a format's `YYYY`),
/// or a mark between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    Digits(Option<usize>),
    Mark(char),
}

/// The pieces of `example` when it is digits and marks only (`5.1.16`, `YYYY-MM-DD`, `HH:MM`)
/// with a mark in it.
fn value_shape(example: &str) -> Option<Vec<Piece>> {
    let placeholder = is_placeholder(example);
    let mut pieces: Vec<Piece> = Vec::new();
    let mut chars = example.chars().peekable();
    while let Some(c) = chars.next() {
        let digit = c.is_ascii_digit() || (placeholder && c.is_ascii_alphabetic());
        if digit {
            let mut length = 1;
            while chars
                .peek()
                .is_some_and(|&next| next.is_ascii_digit() || (placeholder && next == c))
            {
                chars.next();
                length += 1;
            }
            pieces.push(Piece::Digits(placeholder.then_some(length)));
        } else if "-.:/_".contains(c) {
            pieces.push(Piece::Mark(c));
        } else {
            return None;
        }
    }
    pieces
        .iter()
        .any(|p| matches!(p, Piece::Mark(_)))
        .then_some(pieces)
}

/// Whether `line` has a piece of text shaped like `shape`.
fn has_shape(line: &str, shape: &[Piece]) -> bool {
    let mut pieces = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            let mut length = 1;
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
                length += 1;
            }
            pieces.push(Piece::Digits(Some(length)));
        } else {
            pieces.push(Piece::Mark(c));
        }
    }
    pieces.windows(shape.len()).any(|window| {
        window
            .iter()
            .zip(shape)
            .all(|(got, wanted)| match (got, wanted) {
                (Piece::Digits(_), Piece::Digits(None)) => true,
                _ => got == wanted,
            })
    })
}

/// `command` with the value shaped like `example` (`5.1.16`, `YYYY-MM-DD`) cut out of what it
/// prints (`5.2.15(1)-release` -> `5.2.15`, `2026-11-24 18:53:06 +0000` -> `2026-11-24`), where
/// `printed` has one: `| grep -oE '[0-9]+\.[0-9]+\.[0-9]+'`.
fn value_cut_out(command: &str, example: &str, printed: &str) -> Option<String> {
    let shape = value_shape(example)?;
    if !has_shape(printed, &shape) {
        return None;
    }
    let pattern: String = shape
        .iter()
        .map(|piece| match piece {
            Piece::Digits(None) => "[0-9]+".to_owned(),
            Piece::Digits(Some(length)) => format!("[0-9]{{{length}}}"),
            Piece::Mark('.') => "\\.".to_owned(),
            Piece::Mark(mark) => mark.to_string(),
        })
        .collect();
    let cut = format!(" | grep -oE '{pattern}'");
    let command = command.trim_end();
    (!command.ends_with(&cut)).then(|| format!("{command}{cut}"))
}

/// Words before a quoted example that make it the form of a line ("like 'ERROR 2'", "in the
/// form '1: text'", "as 'user:group path' lines"), not text to print ("print 'done'").
const EXAMPLE_BEFORE: &[&str] = &["like", "as", "form", "format", "e.g.", "eg", "example"];

/// The example of an output line `request` quotes, if it quotes one: after "like", "as", "in
/// the form" and the like, or before "lines" or "line".
fn example_line(request: &str) -> Option<String> {
    let chars: Vec<(usize, char)> = request.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (start, open) = chars[i];
        let close = match open {
            '\'' | '"' | '`' => open,
            '‘' => '’',
            '“' => '”',
            _ => {
                i += 1;
                continue;
            }
        };
        // An opening quote starts a word: "don't" has none.
        let starts_word = i == 0 || !chars[i - 1].1.is_alphanumeric();
        let end = chars[i + 1..]
            .iter()
            .position(|&(_, c)| c == close)
            .map(|offset| i + 1 + offset);
        let Some(end) = end.filter(|_| starts_word) else {
            i += 1;
            continue;
        };
        let inside = &request[start + open.len_utf8()..chars[end].0];
        let before = request[..start].to_lowercase();
        let after = request[chars[end].0 + close.len_utf8()..].to_lowercase();
        let introduced = before
            .split_whitespace()
            .next_back()
            .is_some_and(|word| EXAMPLE_BEFORE.contains(&word.trim_end_matches(':')));
        let followed = after
            .split_whitespace()
            .next()
            .is_some_and(|word| matches!(word.trim_end_matches(['.', ',', ';']), "lines" | "line"));
        let example = inside.trim();
        if (introduced || followed) && !example.is_empty() && example.len() <= 80 {
            return Some(example.to_owned());
        }
        i = end + 1;
    }
    None
}

/// Characters that separate an example line's fields and must be in every line like it.
const SEPARATORS: &[char] = &[':', '=', ',', ';', '|'];

/// Whether `line` (as printed) is shaped like `example`: no leading white space where the
/// example has none, at least the example's fields and separators, and a number at each place
/// where the example has one or a word for a count (`word count`), counted from the nearer end,
/// as names may have spaces.
fn shaped_like(line: &str, example: &str) -> bool {
    if line.starts_with([' ', '\t']) && !example.starts_with([' ', '\t']) {
        return false;
    }
    let count = |text: &str, c: char| text.chars().filter(|&x| x == c).count();
    if SEPARATORS
        .iter()
        .any(|&c| count(line, c) < count(example, c))
    {
        return false;
    }
    let wanted: Vec<&str> = example.split_whitespace().collect();
    let got: Vec<&str> = line.split_whitespace().collect();
    if got.len() < wanted.len() {
        return false;
    }
    wanted.iter().enumerate().all(|(i, field)| {
        let number = |field: &str| is_plain_number(field.trim_matches(SEPARATORS));
        // Names may have spaces: a field is found counting from the nearer end.
        let (from_start, from_end) = (i, wanted.len() - 1 - i);
        let (head, tail) = (got[i], got[got.len() - wanted.len() + i]);
        !stands_for_number(field)
            || match from_start.cmp(&from_end) {
                std::cmp::Ordering::Less => number(head),
                std::cmp::Ordering::Greater => number(tail),
                std::cmp::Ordering::Equal => number(head) || number(tail),
            }
    })
}

/// `t` without the punctuation after it.
fn word(t: &str) -> &str {
    t.trim_end_matches(['.', ',', ';', ':', '?', '!', ')'])
}

/// `42`, `-3`, `22.04`: digits, perhaps a sign and one decimal point.
fn is_plain_number(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or_default();
    !whole.is_empty()
        && whole.chars().all(|c| c.is_ascii_digit())
        && parts
            .next()
            .is_none_or(|f| f.chars().all(|c| c.is_ascii_digit()))
}

/// Phrases that ask for a file to be changed where it is, not printed changed.
const IN_PLACE: &[&str] = &[
    "in place",
    "in-place",
    "change the file",
    "edit the file",
    "modify the file",
    "update the file",
    "in the file itself",
    "save the changes",
    "save the result back",
    "overwrite the file",
    "overwriting the file",
];

/// Whether `request` asks in so many words for a file to be changed where it is: "strip the
/// trailing blanks in place", "remove the lines mentioning milk (change the file)". A command
/// that then changes nothing (`sed '/milk/d' notes.txt`) printed what the file should become.
pub fn asks_for_changes_in_place(request: &str) -> bool {
    let lower = request.to_lowercase();
    let spaced = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    IN_PLACE.iter().any(|phrase| spaced.contains(phrase))
}

/// The words of `text`: runs of letters, digits and `-`, hyphenated words split.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// The form `word` names, and the word as found among the nouns.
fn form_named(word: &str) -> Option<(OutputForm, &'static str)> {
    let find = |nouns: &[&'static str]| nouns.iter().find(|noun| **noun == word).copied();
    find(NUMBER_NOUNS)
        .map(|noun| (OutputForm::Number, noun))
        .or_else(|| find(NAME_NOUNS).map(|noun| (OutputForm::Names, noun)))
}

/// The length of the number `line` starts with (`-3`, `1.5`, `1,024`), 0 if none.
fn number_length(line: &str) -> usize {
    let unsigned = line.strip_prefix(['-', '+']).unwrap_or(line);
    let sign = line.len() - unsigned.len();
    if !unsigned.starts_with(|c: char| c.is_ascii_digit()) {
        return 0;
    }
    sign + unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(unsigned.len())
}

/// `42`, `1.5M`, `4.0 KiB`, `12%`.
fn is_number(line: &str) -> bool {
    let length = number_length(line);
    length > 0 && {
        let unit = line[length..].trim_start().to_lowercase();
        unit.is_empty() || UNITS.contains(&unit.as_str())
    }
}

/// A number, perhaps with a unit letter, then white space and more: `  3 error`, `4.0K\t./a`
/// (counts or sizes before names).
fn starts_with_number(line: &str) -> bool {
    let length = number_length(line);
    length > 0 && {
        let rest = line[length..].trim_start_matches(|c: char| "KMGTPkB".contains(c));
        rest.starts_with([' ', '\t']) && !rest.trim().is_empty()
    }
}

/// A line of `ls -l`: `-rw-r--r-- 1 me me 5 Dec  3 12:00 a.txt`, or its `total 8`.
fn is_long_listing(line: &str) -> bool {
    let mut chars = line.chars();
    let kind = chars.next().is_some_and(|c| "-dlbcps".contains(c));
    let mode: String = chars.by_ref().take(9).collect();
    let rest = chars.as_str().trim_start_matches(['.', '+', '@']);
    let mode_line = kind
        && mode.len() == 9
        && mode.chars().all(|c| "rwxsStT-".contains(c))
        && rest.starts_with([' ', '\t']);
    let total_line = line
        .strip_prefix("total ")
        .is_some_and(|n| is_number(n.trim()));
    mode_line || total_line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_printed_with_a_name_repaired() {
        let number = OutputForm::Number;
        for (command, repaired) in [
            ("du -sh data", "du -sh data | cut -f1"),
            (
                "du -s --block-size=M logs/",
                "du -s --block-size=M logs/ | cut -f1",
            ),
            ("cd src && du -sb .", "cd src && du -sb . | cut -f1"),
            ("wc -l app.log", "wc -l < app.log"),
            ("wc -w notes.txt ", "wc -w < notes.txt"),
        ] {
            assert_eq!(
                number.repair(command, "42 app.log").as_deref(),
                Some(repaired),
                "{command}"
            );
        }
        for command in [
            "du -h data",
            "du -sh data logs",
            "wc -l a b",
            "wc app.log",
            "wc -l 'my file.txt'",
            "grep -c x f",
        ] {
            assert_eq!(number.repair(command, "42 app.log"), None, "{command}");
        }
        assert_eq!(OutputForm::Names.repair("du -sh data", "4.0K\tdata"), None);
    }

    #[test]
    fn the_form_is_read_from_the_words_of_the_request() {
        let cases = [
            (
                "how many lines does x have? just the number",
                Some(OutputForm::Number),
            ),
            (
                "print only the total size of logs",
                Some(OutputForm::Number),
            ),
            (
                "how many files are in src? only the count",
                Some(OutputForm::Number),
            ),
            (
                "number only: how many users are there",
                Some(OutputForm::Number),
            ),
            (
                "disk usage of the home folder, size only",
                Some(OutputForm::Number),
            ),
            (
                "print only the human-readable size, like 1.5M",
                Some(OutputForm::Number),
            ),
            (
                "lines in every file under src, just the total",
                Some(OutputForm::Number),
            ),
            (
                "list the files in docs, names only",
                Some(OutputForm::Names),
            ),
            (
                "which files changed today? just their paths",
                Some(OutputForm::Names),
            ),
            (
                "show only the names of the folders",
                Some(OutputForm::Names),
            ),
            ("print just the file names", Some(OutputForm::Names)),
            (
                "list the file names inside photos.zip, nothing else",
                Some(OutputForm::Names),
            ),
            (
                "print the paths of the big files and nothing more",
                Some(OutputForm::Names),
            ),
            (
                "how many users are logged in? the count, nothing else",
                Some(OutputForm::Number),
            ),
            ("list the names and sizes of the files, nothing else", None),
            ("show the running processes, nothing else", None),
            ("nothing but the names, please", Some(OutputForm::Names)),
            ("for each file in src print only the size", None),
            ("how many lines in every file under src", None),
            ("list the files in docs", None),
            ("only show files whose size is over 1 MB", None),
            ("delete only the empty folders", None),
            ("keep only the last 3 lines of the log", None),
            ("copy only the .txt files into backup", None),
            ("list the files but not the hidden ones", None),
            ("", None),
        ];
        for (request, form) in cases {
            assert_eq!(OutputForm::asked_in(request), form, "{request}");
        }
    }

    #[test]
    fn a_choice_of_answers_is_read_from_the_request() {
        let choice = |words: &[&str]| {
            Some(OutputForm::Choice(
                words.iter().map(|w| w.to_string()).collect(),
            ))
        };
        let cases = [
            (
                "is this a 64-bit system? print 64 or 32",
                choice(&["64", "32"]),
            ),
            (
                "does the file exist? answer yes or no",
                choice(&["yes", "no"]),
            ),
            (
                "is the service running? print either 'on' or 'off'.",
                choice(&["on", "off"]),
            ),
            (
                "print 'up' if the host answers, 'down' otherwise",
                choice(&["up", "down"]),
            ),
            (
                "print \"ok\" if the file is there, otherwise \"missing\"",
                choice(&["ok", "missing"]),
            ),
            (
                "Say true or false depending on whether x exists",
                choice(&["true", "false"]),
            ),
            ("print error or warning lines from app.log", None),
            ("print the larger of a.txt or b.txt", None),
            ("for each file print yes or no", None),
            ("show files owned by root or admin", None),
            ("print 'done' when it finishes", None),
        ];
        for (request, form) in cases {
            assert_eq!(OutputForm::asked_in(request), form, "{request}");
        }
    }

    #[test]
    fn an_example_line_is_read_from_the_quotes_around_it() {
        let like = |example: &str| Some(OutputForm::Like(example.into()));
        let cases = [
            (
                "count the errors per level, print lines like 'ERROR 2'",
                like("ERROR 2"),
            ),
            (
                "show each user's login shell as 'name shell' lines",
                like("name shell"),
            ),
            (
                "print the settings in the form 'key=value'",
                like("key=value"),
            ),
            (
                "one line per file, e.g. \"notes.txt 12\"",
                like("notes.txt 12"),
            ),
            (
                "list the open ports in the format `port/proto`",
                like("port/proto"),
            ),
            (
                "owner of each file, like ‘root:root ./x’",
                like("root:root ./x"),
            ),
            ("print 'done' when it finishes", None),
            ("search for 'todo' in src", None),
            ("rename 'a b.txt' to c.txt", None),
            ("don't touch the file named 'keep me'", None),
            ("print 'exit code N' with the real code", None),
        ];
        for (request, form) in cases {
            assert_eq!(OutputForm::asked_in(request), form, "{request}");
        }
    }

    #[test]
    fn a_choice_is_one_of_its_words_alone() {
        let yes_no = OutputForm::Choice(vec!["yes".into(), "no".into()]);
        for fits in ["yes\n", "No", "  no  \n", "'yes'"] {
            assert!(yes_no.fits(fits), "{fits:?}");
        }
        for misfit in ["", "flags: fpu avx2", "yes\nno\n", "yes it does", "0"] {
            assert!(!yes_no.fits(misfit), "{misfit:?}");
        }
        assert_eq!(yes_no.misfit("").as_deref(), Some("nothing"));
        assert_eq!(
            yes_no.to_string(),
            "only one word of `yes` or `no` as the request asks"
        );
    }

    #[test]
    fn lines_like_an_example_keep_its_fields_separators_and_numbers() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            (
                "ERROR 2",
                &["ERROR 2\nINFO 15\n", "WARN 3", ""],
                &["      2 ERROR\n      1 INFO", "2 ERROR", "ERROR"],
            ),
            (
                "name shell",
                &["root /bin/bash\nme /bin/zsh"],
                &["   root /bin/bash", "root"],
            ),
            ("key=value", &["a=1\nb=two"], &["a 1", "a: 1"]),
            (
                "600 docs/x",
                &["644 docs/a.md\n600 docs/my notes.txt"],
                &["-rw-r--r-- 1 me me 5 Dec  3 12:00 docs/a.md"],
            ),
            (
                "user:group path",
                &["root:root config/app.conf"],
                &["root root config/app.conf"],
            ),
            (
                "8 x Intel Xeon",
                &["2 x Intel(R) Xeon(R) Processor"],
                &["CPU(s): 2", "Intel Xeon x 2"],
            ),
            (
                "1: text",
                &["1: # Title\n12: more text"],
                &["1 # Title", "     1\t# Title"],
            ),
            (
                "logo.png 4",
                &["logo.png 4\nmy photo.jpg 120"],
                &["logo.png 4168 /1024"],
            ),
        ];
        for (example, fits, misfits) in cases {
            let form = OutputForm::Like(example.to_string());
            for fits in *fits {
                assert!(form.fits(fits), "{example:?}: {fits:?}");
            }
            for misfit in *misfits {
                assert!(!form.fits(misfit), "{example:?}: {misfit:?}");
            }
        }
        let form = OutputForm::Like("ERROR 2".into());
        assert_eq!(
            form.misfit("ERROR 2\n      1 INFO\n").as_deref(),
            Some("      1 INFO")
        );
    }

    #[test]
    fn a_number_with_an_example_of_its_shape_is_a_value_like_it() {
        let like = |example| value(true, Some(example));
        let cases = [
            (
                "what version of bash is this shell? just the number, like 5.1.16",
                like("5.1.16"),
            ),
            (
                "when does the certificate expire? only the number, as 2026-01-31",
                like("2026-01-31"),
            ),
            // One mark says no more than a number with a unit.
            (
                "how big is the data folder? just the size, like 4.0K",
                Some(OutputForm::Number),
            ),
            (
                "how many lines in app.log? just the number",
                Some(OutputForm::Number),
            ),
        ];
        for (request, form) in cases {
            assert_eq!(OutputForm::asked_in(request), form, "{request}");
        }
        let version = like("5.1.16").unwrap();
        assert!(version.fits("5.2.15"));
        assert!(!version.fits("5"));
        assert!(!version.fits("5.2.15(1)-release"));
    }

    #[test]
    fn a_value_shaped_like_the_example_is_cut_out_of_more() {
        let like = |example| value(true, Some(example)).unwrap();
        let cases = [
            (
                "5.1.16",
                "echo $BASH_VERSION",
                "5.2.15(1)-release",
                Some("echo $BASH_VERSION | grep -oE '[0-9]+\\.[0-9]+\\.[0-9]+'"),
            ),
            (
                "3.10.12",
                "python3 --version",
                "Python 3.11.2",
                Some("python3 --version | grep -oE '[0-9]+\\.[0-9]+\\.[0-9]+'"),
            ),
            (
                "YYYY-MM-DD",
                "stat -c %y todo.txt",
                "2026-11-24 18:53:06.641277884 +0000",
                Some("stat -c %y todo.txt | grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}'"),
            ),
            (
                "HH:MM",
                "date",
                "Fri Dec  4 22:40:01 UTC 2026",
                Some("date | grep -oE '[0-9]{2}:[0-9]{2}'"),
            ),
            // Nothing of that shape printed: another repair, or none.
            ("5.1.16", "echo $BASH_VERSION | cut -d. -f1", "5", None),
            // An example with letters: no shape to cut out.
            ("ext4", "df -T .", "Filesystem Type", None),
        ];
        for (example, command, printed, repaired) in cases {
            let repair = like(example).repair(command, printed);
            if repaired.is_some() {
                assert_eq!(repair.as_deref(), repaired, "{example} {command}");
            } else {
                assert!(
                    repair.is_none_or(|r| !r.contains("grep -oE")),
                    "{example} {command}"
                );
            }
        }
        // jq's own way first.
        assert_eq!(
            like("1.0.0")
                .repair("jq .version package.json", "\"1.2.3\"")
                .as_deref(),
            Some("jq -r .version package.json")
        );
        // Once.
        let cut = "echo $BASH_VERSION | grep -oE '[0-9]+\\.[0-9]+\\.[0-9]+'";
        assert!(
            like("5.1.16")
                .repair(cut, "5.2.15")
                .is_none_or(|r| !r.ends_with("[0-9]+' | grep -oE '[0-9]+\\.[0-9]+\\.[0-9]+'"))
        );
    }

    #[test]
    fn the_one_column_of_a_table_the_request_names_is_picked_out() {
        let df_t = "Filesystem     Type    1K-blocks     Used Available Use% Mounted on ...";
        let df_h = "Filesystem      Size  Used Avail Use% Mounted on ...";
        let free = "total        used        free      shared  buff/cache   available ...";
        let cases = [
            (
                "what type of file system is the current directory on? print just the type, \
                 like ext4 or xfs",
                "df -T .",
                df_t,
                Some("df -T . | awk 'NR==2 {print $2}'"),
            ),
            (
                "how much space is available on /? just the number",
                "df -h /",
                df_h,
                Some("df -h / | awk 'NR==2 {print $4}'"),
            ),
            (
                "how much memory is free, in MiB? just the number",
                "free -m",
                free,
                Some("free -m | awk 'NR==2 {print $4}'"),
            ),
            (
                "what is the pid of the oldest sshd? just the pid",
                "ps -o pid,tty,cmd -C sshd",
                "PID TT       CMD ...",
                Some("ps -o pid,tty,cmd -C sshd | awk 'NR==2 {print $1}'"),
            ),
            // Two columns named ("used" and "percentage"), or none: not guessed.
            (
                "what percentage of / is used? just the number",
                "df -h /",
                df_h,
                None,
            ),
            (
                "how full is the disk? just the number",
                "df -h /",
                df_h,
                None,
            ),
            // Not a table.
            ("just the type", "stat -f -c %T .", "ext2/ext3", None),
            // Picked already.
            (
                "just the type",
                "df -T . | awk 'NR==2 {print $3}'",
                df_t,
                None,
            ),
        ];
        for (request, command, printed, repaired) in cases {
            assert_eq!(
                table_column(request, command, printed).as_deref(),
                repaired,
                "{request}"
            );
        }
        // The header is shown whole.
        let form = OutputForm::Value {
            one_word: false,
            example: Some("ext4".into()),
        };
        let table = "Filesystem     Type    1K-blocks     Used Available Use% Mounted on\n\
                     /dev/sda1      ext4     1000000   500000    500000  50% /\n";
        assert_eq!(
            form.misfit(table).as_deref(),
            Some("Filesystem     Type    1K-blocks     Used Available Use% Mounted on ...")
        );
    }

    #[test]
    fn a_count_in_an_example_line_is_a_number() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            (
                "word count",
                &["red 5\nblue 3", "404 2"],
                &["5 red", "      5 red", "red many"],
            ),
            ("METHOD count", &["GET 3\nPOST 1"], &["3 GET"]),
            ("extension count", &["c 3\nh 1"], &["3 c"]),
            ("ip count", &["10.0.0.1 4"], &["4 10.0.0.1"]),
            ("name N", &["bob 2"], &["2 bob"]),
            ("path lines", &["src/a.c 7"], &["7 src/a.c"]),
            // Not a count: any word goes there.
            ("name shell", &["root /bin/bash", "3 x"], &[]),
        ];
        for (example, fits, misfits) in cases {
            let form = OutputForm::Like(example.to_string());
            for fits in *fits {
                assert!(form.fits(fits), "{example:?}: {fits:?}");
            }
            for misfit in *misfits {
                assert!(!form.fits(misfit), "{example:?}: {misfit:?}");
            }
        }
    }

    #[test]
    fn a_count_printed_before_its_word_is_swapped() {
        let like = |example: &str| OutputForm::Like(example.into());
        let cases = [
            (
                "word count",
                "sort words.txt | uniq -c | sort -rn",
                "      5 red",
                Some("sort words.txt | uniq -c | sort -rn | awk '{print $2, $1}'"),
            ),
            (
                "ERROR 2",
                "awk '{print $3}' app.log | sort | uniq -c | awk '{print $1 \" \" $2}'",
                "2 ERROR",
                Some("awk '{print $3}' app.log | sort | uniq -c | awk '{print $2, $1}'"),
            ),
            (
                "LEVEL: 2",
                "cut -d' ' -f3 app.log | sort | uniq -c",
                "   2 INFO",
                Some("cut -d' ' -f3 app.log | sort | uniq -c | awk '{print $2 \": \" $1}'"),
            ),
            // A name with spaces stays whole.
            (
                "file count",
                "ls | sort | uniq -c",
                "   3 my file.txt",
                Some("ls | sort | uniq -c | awk '{n = $1; $1 = \"\"; print substr($0, 2), n}'"),
            ),
            // Not a number first, or the example starts with one, or no count in the example.
            ("word count", "cat words.txt", "red", None),
            (
                "1: text",
                "awk '{print NR, $0}' README.md",
                "1 # demo",
                None,
            ),
            (
                "name shell",
                "cut -d: -f7 /etc/passwd | uniq -c",
                "2 /bin/sh",
                None,
            ),
            // Once.
            (
                "word count",
                "sort w | uniq -c | awk '{print $2, $1}'",
                "5 red",
                None,
            ),
        ];
        for (example, command, printed, repaired) in cases {
            assert_eq!(
                like(example).repair(command, printed).as_deref(),
                repaired,
                "{example:?} {command:?}"
            );
        }
    }

    #[test]
    fn a_yes_or_no_question_answered_by_a_test_is_repaired() {
        let choice = |a: &str, b: &str| OutputForm::Choice(vec![a.into(), b.into()]);
        let cases = [
            (
                choice("valid", "invalid"),
                "gzip -t logs/old/x.log.gz",
                Some("gzip -t logs/old/x.log.gz >/dev/null 2>&1 && echo valid || echo invalid"),
            ),
            (
                choice("no", "yes"),
                "pgrep -x nginx",
                Some("pgrep -x nginx >/dev/null 2>&1 && echo yes || echo no"),
            ),
            (
                choice("running", "stopped"),
                "pgrep sshd",
                Some("pgrep sshd >/dev/null 2>&1 && echo running || echo stopped"),
            ),
            (
                choice("set", "unset"),
                "[ -n \"$LANG\" ]",
                Some("[ -n \"$LANG\" ] >/dev/null 2>&1 && echo set || echo unset"),
            ),
            (
                choice("yes", "no"),
                "lscpu | grep -q avx2",
                Some("lscpu | grep -q avx2 >/dev/null 2>&1 && echo yes || echo no"),
            ),
            (
                choice("same", "different"),
                "cmp a.txt b.txt",
                Some("cmp a.txt b.txt >/dev/null 2>&1 && echo same || echo different"),
            ),
            (
                choice("intact", "corrupt"),
                "tar -tzf backup.tar.gz",
                Some("tar -tzf backup.tar.gz >/dev/null 2>&1 && echo intact || echo corrupt"),
            ),
            // Its status says nothing: echo, find, a gzip that does not test.
            (choice("set", "unset"), "echo $LANG", None),
            (choice("yes", "no"), "find . -name '*.log'", None),
            (choice("yes", "no"), "gzip -d x.gz", None),
            // No side is the "yes": not repaired.
            (
                choice("little", "big"),
                "lscpu | grep -q 'Little Endian'",
                None,
            ),
            // A negated test answers the other way round: not guessed.
            (choice("yes", "no"), "[ ! -f config/app.conf ]", None),
            (choice("yes", "no"), "grep -v x notes.txt", None),
            // Already prints a word of its own.
            (
                choice("yes", "no"),
                "grep -q x notes.txt && echo found",
                None,
            ),
        ];
        for (form, command, repaired) in cases {
            assert_eq!(
                form.repair(command, "nothing").as_deref(),
                repaired,
                "{form:?} {command:?}"
            );
        }
    }

    #[test]
    fn changes_in_place_are_asked_for_in_so_many_words() {
        for asks in [
            "strip the trailing whitespace from every line of draft.txt, in place",
            "remove the lines mentioning milk from notes.txt (change the file)",
            "replace foo with bar in config.ini, editing it in-place",
            "sort names.txt and save the result back",
            "Edit the file app.conf so that port is 8080",
        ] {
            assert!(asks_for_changes_in_place(asks), "{asks}");
        }
        for not in [
            "print notes.txt without the lines mentioning milk",
            "show what config.ini would look like with foo replaced by bar",
            "place the file in docs",
            "",
        ] {
            assert!(!asks_for_changes_in_place(not), "{not}");
        }
    }

    fn value(one_word: bool, example: Option<&str>) -> Option<OutputForm> {
        Some(OutputForm::Value {
            one_word,
            example: example.map(str::to_owned),
        })
    }

    #[test]
    fn one_value_is_read_from_the_words_of_the_request() {
        let cases = [
            (
                "which kernel release is this? just the version",
                value(true, None),
            ),
            ("show only the IP address of eth0", value(true, None)),
            (
                "print just the sha256 checksum of image.iso",
                value(true, None),
            ),
            (
                "when was the last commit? only the date",
                value(false, None),
            ),
            (
                "what is DEBUG set to in .env? just the value",
                value(false, None),
            ),
            (
                "which user owns backup.sh? only the owner",
                value(true, None),
            ),
            (
                "what kind of file is blob.bin? just the type",
                value(false, None),
            ),
            (
                "in one word: is ls an alias, a builtin or a file?",
                value(true, None),
            ),
            (
                "answer with a single word: which shell is this",
                value(true, None),
            ),
            (
                "what file system is /home on? print just the type, like btrfs2 or zfs",
                value(false, Some("btrfs2")),
            ),
            (
                "which python is installed? just the version, e.g. 3.12.1",
                value(true, Some("3.12.1")),
            ),
            (
                "when did backup.tar change? print the date as YYYY-MM-DD",
                value(false, Some("YYYY-MM-DD")),
            ),
            (
                "print the current time in the form HH:MM",
                value(false, Some("HH:MM")),
            ),
            (
                "when was x.log changed? only the time, like 2026-01-05 12:00",
                value(false, Some("2026-01-05 12:00")),
            ),
            // Other forms come first; the words alone ask for no value.
            (
                "how many users are there? just the number, like 5.1",
                Some(OutputForm::Number),
            ),
            ("find files named like report-2024.csv", None),
            ("make a copy of notes.txt called like notes-2.txt", None),
            ("I'd like 3 copies of a.txt", None),
            ("show only the lines with errors", None),
            ("show only the user processes", None),
            ("list only the group members of docker", None),
            ("print just the date column of data.csv", None),
            ("just the user name, please", value(true, None)),
            (
                "which version of ssh? just the version number",
                value(true, None),
            ),
            ("keep only the last 3 lines of the log", None),
            ("what type of files are in src", None),
            ("print the version of every package", None),
        ];
        for (request, form) in cases {
            assert_eq!(OutputForm::asked_in(request), form, "{request}");
        }
    }

    #[test]
    fn a_value_is_printed_without_a_label_quotes_or_a_table() {
        let word = OutputForm::Value {
            one_word: true,
            example: None,
        };
        for fits in [
            "jammy\n",
            "5.2.21",
            "192.168.1.5\n10.0.0.2\n",
            "x86_64",
            "fe80::1",
            // Several values of one shape on a line (`hostname -I`).
            "10.0.0.2 172.17.0.1 \n",
        ] {
            assert!(word.fits(fits), "{fits:?}");
        }
        for misfit in [
            "Codename:\tjammy",
            "VERSION_CODENAME=jammy",
            "\"1.0.0\"",
            "Filesystem     Type\n/dev/sda1      ext4",
            "GNU bash, version 5.2.21(1)-release",
            "version = 1.2",
            "Python 3.12.1",
            "3.12.1 big.iso",
            "",
        ] {
            assert!(!word.fits(misfit), "{misfit:?}");
        }
        let value = OutputForm::Value {
            one_word: false,
            example: None,
        };
        for fits in [
            "Thu Dec  4 18:00:00 UTC 2026",
            "AMD EPYC 7B13",
            "root:root",
            "aa:bb:cc:dd:ee:ff",
            "http://example.com/a=b",
            "dGVzdA==",
        ] {
            assert!(value.fits(fits), "{fits:?}");
        }
        for misfit in [
            "Model name:          AMD EPYC 7B13",
            "Last modified: 2026-01-01",
            "PORT=8080",
            "  PID TTY          TIME CMD\n    1 ?        00:00:01 init",
        ] {
            assert!(!value.fits(misfit), "{misfit:?}");
        }
        assert_eq!(value.misfit("PORT=8080\n").as_deref(), Some("PORT=8080"));
        let hash = "109bfd3dc6227d39b9bb9609bc8941208857a9f61379edf5e0923dcba5b0aa12  big.iso";
        assert_eq!(
            word.misfit(hash).as_deref(),
            Some("109bfd3dc6227d39b9bb9609bc894120 ... 0923dcba5b0aa12  big.iso")
        );
    }

    #[test]
    fn a_value_like_an_example_has_its_words_and_punctuation() {
        let like = |example: &str| OutputForm::Value {
            one_word: false,
            example: Some(example.to_owned()),
        };
        let cases = [
            ("1.0.0", "2.3.10", true),
            ("1.0.0", "\"2.3.10\"", false),
            ("1.0.0", "5.2.21(1)-release", false),
            ("1.0.0", "2 3 10", false),
            ("YYYY-MM-DD", "2026-12-04", true),
            ("YYYY-MM-DD", "2026-12-04 18:43:23.000000000 +0000", false),
            ("YYYY-MM-DD", "12/04/2026", false),
            ("btrfs2", "xfs", true),
            ("btrfs2", "ext2/ext3", true),
            ("btrfs2", "Filesystem Type\noverlay overlay", false),
            ("2026-01-05 12:00", "2026-12-04 18:43", true),
            ("2026-01-05 12:00", "2026-12-04", false),
        ];
        for (example, printed, fits) in cases {
            assert_eq!(like(example).fits(printed), fits, "{example} {printed:?}");
        }
    }

    #[test]
    fn a_labelled_or_quoted_value_repaired() {
        let value = OutputForm::Value {
            one_word: true,
            example: None,
        };
        assert_eq!(
            value.repair("sha256sum big.iso", "x").as_deref(),
            Some("sha256sum big.iso | cut -d' ' -f1")
        );
        assert_eq!(
            value
                .repair("find . -name '*.iso' -exec md5sum {} +", "x")
                .as_deref(),
            Some("find . -name '*.iso' -exec md5sum {} + | cut -d' ' -f1")
        );
        let strip = " | sed 's/^[^:=]*[:=][[:space:]]*//'";
        assert_eq!(
            value.repair("jq .version package.json", "x").as_deref(),
            Some("jq -r .version package.json")
        );
        assert_eq!(
            value.repair("lsb_release -c", "x").as_deref(),
            Some(format!("lsb_release -c{strip}").as_str())
        );
        assert_eq!(
            value.repair("jq -r .version package.json", "x").as_deref(),
            Some(format!("jq -r .version package.json{strip}").as_str())
        );
        // Once is enough.
        assert_eq!(value.repair(&format!("lsb_release -c{strip}"), "x"), None);
    }

    #[test]
    fn a_number_is_one_line_with_at_most_a_unit() {
        for fits in [
            "42\n", "1.5M", "  7\n\n", "12%", "4.0 KiB", "-3", "1,024", "0",
        ] {
            assert!(OutputForm::Number.fits(fits), "{fits:?}");
        }
        for misfit in [
            "42 app.log",
            "1.5M\tdata",
            "3\n4\n",
            "total: 5",
            "five",
            "12 files",
            "",
            "\n",
        ] {
            assert!(!OutputForm::Number.fits(misfit), "{misfit:?}");
        }
        assert_eq!(
            OutputForm::Number.misfit("42 app.log\n").as_deref(),
            Some("42 app.log")
        );
        assert_eq!(
            OutputForm::Number.misfit("3\n4\n").as_deref(),
            Some("3 ...")
        );
        assert_eq!(OutputForm::Number.misfit("\n").as_deref(), Some("nothing"));
    }

    #[test]
    fn names_are_not_long_listings_nor_counted() {
        for fits in [
            "a.txt\nb.txt\n",
            "./src/x.py",
            "my file.txt",
            "2026_report.csv",
            "",
        ] {
            assert!(OutputForm::Names.fits(fits), "{fits:?}");
        }
        for misfit in [
            "-rw-r--r-- 1 me me 5 Dec  3 12:00 a.txt",
            "total 8\n-rw-r--r-- 1 me me 5 Dec  3 12:00 a.txt",
            "drwxr-xr-x. 2 me me 40 Dec  3 12:00 src",
            "lrwxrwxrwx 1 me me 9 Dec  3 12:00 latest -> app.log",
            "4.0K\t./a\n8.0K\t./b",
            "      2 foo\n      1 bar",
        ] {
            assert!(!OutputForm::Names.fits(misfit), "{misfit:?}");
        }
    }
}
