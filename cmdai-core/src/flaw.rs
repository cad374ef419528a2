//! Mistakes in a generated command that show without running it, so that the generator can ask
//! the model once more with the mistake named (issue 21's "check before showing").
//!
//! What is wrong in every shell and on every system: a command the shell cannot read, and
//! `find -exec` without the argument that ends it (small models write `-exec rm {} \;}`, a word
//! `;}` that find does not take). And what is wrong on the user's system: an option its tools do
//! not have (`tail -r` with GNU's tail), for the tools in [`OptionTable`].

use std::fmt;

use crate::ShellContext;
use crate::asked::Asked;
use crate::options::{FindItem, OptionTable};
use crate::output::OutputForm;
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
    /// `find` alternatives (`-o`) next to an action or a test meant for all of them but bound
    /// to one: `-name '*.jpg' -o -name '*.png' -exec cp ...` copies only the PNG files.
    UngroupedFind {
        /// The action or test that applies to one alternative only, e.g. `-exec`.
        applies: String,
    },
    /// A test of `find` that does not do what it says, as written: `-name` with a `/` (it
    /// matches a file's own name, never a path), GNU find's `-perm +MODE` (gone; not "any of
    /// these bits").
    FindTest {
        /// The test and its argument, e.g. `-name config/app.conf`.
        test: String,
        /// Why, and what does it.
        why: &'static str,
    },
    /// `mv` or `cp` with a pattern as the destination (`mv *.jpeg *.jpg`): the last argument is
    /// one destination, so this does not rename by a pattern.
    PatternDestination {
        /// `mv` or `cp`.
        program: String,
        /// The destination as written, e.g. `*.jpg`.
        destination: String,
    },
    /// `\d` in a pattern of a program whose regular expressions have no such class (`grep -E
    /// '\d+'`, `sed`, `awk`, `find -regex`): it matches a `d`, or nothing, not a digit.
    DigitClass {
        /// The program, e.g. `grep`.
        program: String,
    },
    /// Names cut out of a long listing (`ls -lt reports | head -n 3 | awk '{print $9}'`): it
    /// starts with a `total` line, which prints as an empty name (and takes one of the lines
    /// `head` keeps), and a name with a space is cut at it.
    LongListingNames,
    /// A long listing sorted as whole lines (`ls -lh | sort -rh`): each line starts with the
    /// permissions, so sort orders by them, not by the size it was meant for.
    LongListingSorted,
    /// Fields of a comma-separated file taken at blanks (`awk '{print $2}' data.csv`, `sort
    /// -k3 data.csv`, `cut -f2 data.csv`): awk and sort split lines at blanks, and cut at
    /// tabs, unless told the separator.
    CsvFields {
        /// `awk`, `sort` or `cut`.
        program: String,
        /// Its option for the separator, e.g. `-F,`.
        option: &'static str,
    },
    /// An answer where a command belongs: `0755` for "the permissions of run.sh in octal",
    /// `builtin` for "is echo a builtin or a file?". The model answered from what it knows, not
    /// from this system.
    Answer {
        /// The reply, e.g. `0755`.
        text: String,
    },
    /// A program that is not on the user's `PATH` (nor a shell builtin).
    NotInstalled {
        /// The program, e.g. `rename`.
        program: String,
    },
    /// The command failed when it was tried where it cannot change anything (a [`Trial`]):
    /// an error the program printed, e.g. `comm: file 1 is not in sorted order`.
    Failed {
        /// What it printed on its standard error, cut short.
        message: String,
    },
    /// The command printed something else than the request asks for in so many words when it
    /// was tried (a [`Trial`]): `42 app.log` for "just the number".
    Output {
        /// The line that shows it, cut short.
        printed: String,
        /// What the request asks for.
        asked: OutputForm,
    },
    /// The command changed no file when it was tried (a [`Trial`]), where the request asks for
    /// a file to be changed in place: it printed what the file should become
    /// (`sed '/milk/d' notes.txt` for "... (change the file)").
    Unchanged,
    /// Several files moved or copied, one by one or by a pattern, onto one path that is no
    /// folder (`find inbox -exec mv {} inbox/large \;` with no `inbox/large` folder), seen when
    /// it was tried (a [`Trial`]): each took the place of the one before, and only the last is
    /// left.
    OneFile {
        /// `mv` or `cp`.
        program: String,
        /// The path they went to, as written, e.g. `inbox/large`.
        destination: String,
        /// How many files were lost on the way (moved away, none left in their place).
        lost: usize,
    },
    /// Something the request asks for in so many words that the command leaves out, seen
    /// without running it: `grep -r todo src` for "search src for todo, case-insensitive".
    Unheeded {
        /// What the request asks for.
        asked: Asked,
        /// Why the command does not do it, e.g. `grep matches case unless given -i`.
        why: String,
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
            Flaw::UngroupedFind { applies } => write!(
                f,
                "find's -o joins less tightly than the tests and actions written beside it, so \
                 {applies} applies to one alternative only: put the alternatives in \\( ... \\)"
            ),
            Flaw::FindTest { test, why } => write!(f, "find's `{test}` {why}"),
            Flaw::PatternDestination {
                program,
                destination,
            } => write!(
                f,
                "{program} takes its last argument, {destination}, as one destination, not a \
                 pattern: {program} cannot change names by a pattern; do it file by file, in a loop"
            ),
            Flaw::DigitClass { program } => write!(
                f,
                "{program}'s patterns have no `\\d` (it is not a digit there): write `[0-9]`"
            ),
            Flaw::LongListingNames => f.write_str(
                "`ls -l` starts with a `total` line, which prints as an empty name, and a name \
                 with a space is cut at it: without -l, ls prints the names alone, one per line",
            ),
            Flaw::LongListingSorted => f.write_str(
                "`ls -l` lines start with the permissions, so sort orders them by those: the \
                 size is field 5 (`sort -k5,5`), or `ls -S` lists by size itself",
            ),
            Flaw::CsvFields { program, option } => write!(
                f,
                "{program} splits lines into fields at {}, not at the commas of a .csv file: \
                 give it {option}",
                if program == "cut" { "tabs" } else { "blanks" }
            ),
            Flaw::Answer { text } => write!(
                f,
                "`{text}` is an answer, not a command: write a command that finds it out on \
                 this system and prints it"
            ),
            Flaw::NotInstalled { program } => {
                write!(f, "{program} is not installed on this system")
            }
            Flaw::Failed { message } => write!(f, "it failed when tried here: {message}"),
            Flaw::Output { printed, asked } => {
                write!(f, "when tried here it printed `{printed}`, not {asked}")
            }
            Flaw::Unchanged => f.write_str(
                "when tried here it changed no file, but the request asks for the file to be \
                 changed in place, not printed",
            ),
            Flaw::UnknownOption {
                program,
                option,
                tools,
            } => write!(f, "{tools} {program} has no option {option}"),
            Flaw::OneFile {
                program,
                destination,
                lost,
            } => {
                let what = match program.as_str() {
                    "mv" => "moved",
                    _ => "copied",
                };
                write!(
                    f,
                    "when tried here `{destination}` became a file, not a folder the files were \
                     {what} into"
                )?;
                if *lost > 0 {
                    write!(f, " (each took the place of the one before: {lost} lost)")?;
                }
                write!(
                    f,
                    ": make the folder first (`mkdir -p {destination}`) and end its name with `/`"
                )
            }
            Flaw::Unheeded { asked, why } => write!(f, "the request asks {asked}, but {why}"),
        }
    }
}

/// Tries a command where it cannot change anything (a sandbox over the working directory) and
/// says how it failed, if it did. Only failures that come from the command itself count: one
/// that comes from the place it was tried in (no network, no other processes, files the
/// request names that are not there) is not a flaw of the command.
pub trait Trial: fmt::Debug {
    /// What trying `command`, written for `request`, in the context's working directory shows
    /// to be wrong with it: an error it printed ([`Flaw::Failed`]), output of another form
    /// than the request asks for ([`Flaw::Output`]), or no change where the request asks for a
    /// file to be changed in place ([`Flaw::Unchanged`]); `None` when nothing is, when it was not
    /// tried, or when it failed for reasons of the trial.
    fn finding(&self, request: &str, command: &str, context: &ShellContext) -> Option<Flaw>;
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
    let defined = defined_functions(command);
    let whole = command;
    let flawed = commands.iter().find_map(|command| {
        if let Some(programs) = &context.programs {
            let missing = command
                .wrappers
                .iter()
                .chain(std::iter::once(&command.program))
                .map(String::as_str)
                .find(|program| {
                    is_program_name(program)
                        && !programs.contains(*program)
                        && !SHELL_WORDS.contains(program)
                        && !defined.contains(program)
                });
            if let Some(program) = missing {
                return Some(Flaw::NotInstalled {
                    program: program.to_owned(),
                });
            }
        }
        if command.program == "ls" && names_listed(whole).is_some() {
            return Some(Flaw::LongListingNames);
        }
        if command.program == "ls" && listing_sorted_by_size(whole).is_some() {
            return Some(Flaw::LongListingSorted);
        }
        unended_exec(command)
            .or_else(|| digit_class(command))
            .or_else(|| ungrouped_find(command))
            .or_else(|| misread_find_test(command, options.is_some()))
            .or_else(|| pattern_destination(command))
            .or_else(|| {
                let option = options?.unknown_option(command)?;
                Some(Flaw::UnknownOption {
                    program: command.program.rsplit('/').next()?.to_owned(),
                    option,
                    tools: "GNU",
                })
            })
    });
    flawed
        .or_else(|| {
            let (test, pattern, _) = unquoted_find_patterns(whole).into_iter().next()?;
            Some(Flaw::FindTest {
                test: format!("{test} {pattern}"),
                why: "is a pattern the shell expands before find runs, where names here match it \
                      (find then gets one of those names, or fails): quote it",
            })
        })
        .or_else(|| {
            let (_, program, option) = csv_split_at_blanks(whole)?;
            Some(Flaw::CsvFields {
                program: program.to_owned(),
                option,
            })
        })
}

/// The tests of `find` in `command` whose pattern has a wildcard the shell sees (`-name
/// *.txt`): the test, the pattern as written and where it is.
fn unquoted_find_patterns(command: &str) -> Vec<(String, String, std::ops::Range<usize>)> {
    use crate::asked::{base, in_command_position, tokens};
    const PATTERNS: &[&str] = &[
        "-name",
        "-iname",
        "-path",
        "-ipath",
        "-wholename",
        "-iwholename",
        "-lname",
        "-ilname",
    ];
    let tokens = tokens(command);
    let mut found = Vec::new();
    let mut in_find = false;
    for (at, token) in tokens.iter().enumerate() {
        if token.is_operator() {
            in_find = false;
            continue;
        }
        if in_command_position(&tokens, at) {
            in_find = base(&token.raw) == "find";
            continue;
        }
        let Some(pattern) = tokens.get(at + 1).filter(|_| in_find) else {
            continue;
        };
        let bare = !pattern.raw.contains(['\'', '"', '\\', '$', '`']);
        if PATTERNS.contains(&token.raw.as_str()) && bare && pattern.raw.contains(['*', '?', '[']) {
            found.push((token.raw.clone(), pattern.raw.clone(), pattern.span.clone()));
        }
    }
    found
}

/// `command` with each pattern of [`unquoted_find_patterns`] in single quotes: the repair of
/// [`Flaw::FindTest`] for them.
pub(crate) fn find_patterns_quoted(command: &str) -> Option<String> {
    let found = unquoted_find_patterns(command);
    let mut changed = command.to_owned();
    for (_, pattern, span) in found.iter().rev() {
        changed.replace_range(span.clone(), &format!("'{pattern}'"));
    }
    (!found.is_empty()).then_some(changed)
}

/// Programs that hand on the lines they read as they are (some of them, in another order):
/// after them, lines of a .csv file are still comma-separated.
const LINES_AS_THEY_ARE: &[&str] = &[
    "cat", "head", "tail", "grep", "egrep", "tac", "shuf", "sort",
];

/// The first `awk`, `sort` or `cut` of `command` that takes fields of a .csv file (named among
/// its arguments, or read through a pipe from one of [`LINES_AS_THEY_ARE`] that names it)
/// without being told the separator: where to insert the option, the program and the option.
/// awk counts only when it uses a field (`$2`) and sets no `FS`; sort only with `-k`; cut only
/// with `-f`.
pub(crate) fn csv_split_at_blanks(command: &str) -> Option<(usize, &'static str, &'static str)> {
    use crate::asked::{base, in_command_position, tokens};
    let tokens = tokens(command);
    let csv = |raw: &str| {
        raw.trim_matches(['\'', '"'])
            .to_ascii_lowercase()
            .ends_with(".csv")
    };
    // Whether the stage just ended hands on the lines of a .csv file.
    let mut csv_lines = false;
    let mut at = 0;
    while at < tokens.len() {
        let end = tokens[at..]
            .iter()
            .position(|t| t.is_operator())
            .map_or(tokens.len(), |n| at + n);
        let stage = &tokens[at..end];
        let piped = csv_lines && tokens.get(at.wrapping_sub(1)).is_some_and(|t| t.raw == "|");
        csv_lines = false;
        if let Some(first) = stage.first()
            && in_command_position(&tokens, at)
        {
            let program = base(&first.raw);
            let args: Vec<&str> = stage[1..].iter().map(|t| t.raw.as_str()).collect();
            let reads_csv = piped || args.iter().any(|a| csv(a));
            let short = |letter: char| {
                args.iter().any(|a| {
                    a.strip_prefix('-').is_some_and(|cluster| {
                        !cluster.starts_with('-')
                            && cluster.starts_with(|c: char| c.is_ascii_alphabetic())
                            && cluster.contains(letter)
                    })
                })
            };
            let long = |name: &str| args.iter().any(|a| a.starts_with(name));
            let field = |a: &&str| {
                a.char_indices().any(|(i, c)| {
                    c == '$' && a[i + 1..].starts_with(|d: char| d.is_ascii_digit() && d != '0')
                })
            };
            let found = match program {
                "awk" | "gawk" | "mawk" | "nawk"
                    if reads_csv
                        && !args.iter().any(|a| a.starts_with("-F") || a.contains("FS"))
                        && args.iter().any(field) =>
                {
                    Some(("awk", "-F,"))
                }
                "sort"
                    if reads_csv
                        && (short('k') || long("--key"))
                        && !(short('t') || long("--field-separator")) =>
                {
                    Some(("sort", "-t,"))
                }
                "cut"
                    if reads_csv
                        && (short('f') || long("--fields"))
                        && !(short('d') || long("--delimiter")) =>
                {
                    Some(("cut", "-d,"))
                }
                _ => None,
            };
            if let Some((program, option)) = found {
                return Some((first.span.end, program, option));
            }
            csv_lines = reads_csv && LINES_AS_THEY_ARE.contains(&program);
        }
        at = end + 1;
    }
    None
}

/// `command` with the separator of [`csv_split_at_blanks`] given to the program that lacked
/// it, and again while another lacks it: the repair of [`Flaw::CsvFields`].
pub(crate) fn csv_separated(command: &str) -> Option<String> {
    let mut changed = command.to_owned();
    for _ in 0..4 {
        let Some((at, _, option)) = csv_split_at_blanks(&changed) else {
            return (changed != command).then_some(changed);
        };
        changed.insert_str(at, &format!(" {option}"));
    }
    None
}

/// Programs whose regular expressions (POSIX basic or extended, Emacs for `find`) have no `\d`.
const NO_DIGIT_CLASS: &[&str] = &[
    "grep", "egrep", "fgrep", "sed", "awk", "gawk", "mawk", "nawk", "find", "expr",
];

/// [`Flaw::DigitClass`] when `command` hands a `\d` to a program without it: `grep` without
/// `-P`, `sed`, `awk`, `find`.
fn digit_class(command: &SimpleCommand) -> Option<Flaw> {
    let program = command.program.rsplit('/').next()?;
    let perl = |a: &String| {
        a == "--perl-regexp" || (a.starts_with('-') && !a.starts_with("--") && a.contains('P'))
    };
    let applies = NO_DIGIT_CLASS.contains(&program)
        && !(program.ends_with("grep") && command.args.iter().any(perl));
    (applies && command.args.iter().any(|a| a.contains("\\d"))).then(|| Flaw::DigitClass {
        program: program.to_owned(),
    })
}

/// `command` with each `\d` written `[0-9]`, where no program of it takes `\d` as a digit
/// (`grep -P`, `perl`): the repair of [`Flaw::DigitClass`].
pub(crate) fn digits_bracketed(command: &str) -> Option<String> {
    let commands = simple_commands(command)?;
    let own_digits = commands
        .iter()
        .any(|c| c.args.iter().any(|a| a.contains("\\d")) && digit_class(c).is_none());
    (!own_digits && command.contains("\\d")).then(|| command.replace("\\d", "[0-9]"))
}

/// [`Flaw::FindTest`] for a test of `command`, if it is `find`: `-name` or `-iname` with a
/// `/` in its pattern, and, with GNU's tools, `-perm +MODE`.
fn misread_find_test(command: &SimpleCommand, gnu: bool) -> Option<Flaw> {
    if command.program.rsplit('/').next() != Some("find") {
        return None;
    }
    let starts = start_points(&command.args);
    command.args.windows(2).find_map(|pair| {
        let [test, argument] = pair else {
            return None;
        };
        let why = match test.as_str() {
            "-name" | "-iname" if argument.contains('/') && argument != "/" => {
                "never matches: it matches a file's own name, which has no `/`; -path \
                 matches the path"
            }
            "-perm" if gnu && argument.starts_with('+') => {
                "is not \"any of these bits\" in GNU find: -perm /MODE is (and -perm -MODE \
                 is all of them)"
            }
            "-path" | "-ipath" | "-wholename" | "-iwholename"
                if outside_every_start(argument, &starts) =>
            {
                "never matches: the paths find tests begin with the folder it starts from (from \
                 `.`, `./x`), and this pattern begins otherwise"
            }
            "-size" if smaller_in_next_unit(argument).is_some() => {
                "rounds each size up to whole units before comparing, so it leaves out files \
                 within one unit of the limit (`-size -1M` is empty files only): give the limit \
                 in the next smaller unit (`-size -1024k`)"
            }
            "-perm" if adds_bits_exactly(argument) => {
                "matches only files whose permissions are exactly those bits and no others: \
                 -perm -MODE matches files that have these bits set, -perm /MODE any of them"
            }
            _ => return None,
        };
        Some(Flaw::FindTest {
            test: format!("{test} {argument}"),
            why,
        })
    })
}

/// The folders `find` with `args` starts from: the words before its first test, option or
/// parenthesis, or `.` where there are none (GNU and BSD find alike take `.` then).
fn start_points(args: &[String]) -> Vec<String> {
    let starts: Vec<String> = args
        .iter()
        .take_while(|a| !a.starts_with('-') && !matches!(a.as_str(), "(" | "!" | ")" | ","))
        .map(|a| match a.trim_end_matches('/') {
            "" => "/".to_owned(),
            start => start.to_owned(),
        })
        .collect();
    if starts.is_empty() {
        vec![".".to_owned()]
    } else {
        starts
    }
}

/// Whether the `-path` pattern `pattern` can match no path under any of `starts`: its text up
/// to the first wildcard agrees with none of them (`data/*` from `.`, whose paths are `./...`;
/// `lib/*` from `src`).
fn outside_every_start(pattern: &str, starts: &[String]) -> bool {
    let literal = &pattern[..pattern.find(['*', '?', '[']).unwrap_or(pattern.len())];
    let agrees = |start: &String| {
        let under = if start == "/" {
            "/".to_owned()
        } else {
            format!("{start}/")
        };
        literal.starts_with(&under)
            || literal == start.as_str()
            || (literal.len() < under.len() && under.starts_with(literal))
    };
    !pattern.is_empty() && !starts.iter().any(agrees)
}

/// `command` with the `-path` pattern of [`outside_every_start`] written under the one folder
/// `find` starts from (`-path './data/*'` from `.`): the repair of [`Flaw::FindTest`] for
/// `-path`. `None` where find starts from several folders.
pub(crate) fn path_under_start(command: &str) -> Option<String> {
    let words = crate::safety::shell_words(command)?;
    let find = words
        .iter()
        .position(|w| w.rsplit('/').next() == Some("find"))?;
    let args = &words[find + 1..];
    // A start the shell expands (`~`, `$HOME`) is not known here.
    let [start] = &start_points(args)[..] else {
        return None;
    };
    if start.contains(['~', '$']) {
        return None;
    }
    find_arguments_rewritten(command, args, |test, pattern| {
        let path_test = matches!(test, "-path" | "-ipath" | "-wholename" | "-iwholename");
        if !path_test || !outside_every_start(pattern, std::slice::from_ref(start)) {
            return None;
        }
        let under = match start.as_str() {
            "/" => format!("/{pattern}"),
            start => format!("{start}/{}", pattern.trim_start_matches("./")),
        };
        crate::mend::quoted(&under)
    })
}

/// The limit `size`, an argument of find's `-size` that asks for less than a number of
/// kibibytes, mebibytes or gibibytes (`-5M`), in the next smaller unit (`-5120k`): find rounds
/// a file's size up to the unit before it compares, so `-5M` holds files of at most 4 MiB and
/// `-1M` only empty ones. `None` for other sizes (more than, exactly, in bytes or blocks), and
/// for limits of 1024 units or more, where one unit is at most a thousandth of the limit
/// (`-1024k`, what the repair writes for `-1M`).
fn smaller_in_next_unit(size: &str) -> Option<String> {
    let limit = size.strip_prefix('-')?;
    let (number, unit) = limit.split_at(limit.len().checked_sub(1)?);
    let smaller = match unit {
        "k" => 'c',
        "M" => 'k',
        "G" => 'M',
        _ => return None,
    };
    let number: u64 = number.parse().ok().filter(|n| *n < 1024)?;
    Some(format!("-{}{smaller}", number.checked_mul(1024)?))
}

/// `command` with each `-size` limit of [`smaller_in_next_unit`] written in the smaller unit:
/// the repair of [`Flaw::FindTest`] for `-size`.
pub(crate) fn sizes_in_smaller_units(command: &str) -> Option<String> {
    let words = crate::safety::shell_words(command)?;
    find_arguments_rewritten(command, &words, |test, size| {
        smaller_in_next_unit(size).filter(|_| test == "-size")
    })
}

/// Whether `mode`, the argument of find's `-perm`, is a symbolic mode that adds bits with no
/// `-` or `/` before it (`u+x`, `o+w,g+w`): find then matches the mode those bits make from
/// nothing, exactly (`u+x` is 0100: executable by its owner and not even readable), which is
/// never what the words mean. A mode set with `=` (`u=rwx`) or in octal (`644`) names a mode
/// someone may want exactly, and is left alone.
fn adds_bits_exactly(mode: &str) -> bool {
    let Some(first) = mode.chars().next() else {
        return false;
    };
    first.is_ascii_alphabetic()
        && mode.split(',').all(|clause| {
            let who_end = clause
                .find(|c: char| !"ugoa".contains(c))
                .unwrap_or(clause.len());
            clause[who_end..].starts_with('+')
                && clause[who_end + 1..].chars().all(|c| "rwxXst".contains(c))
                && clause.len() > who_end + 1
        })
}

/// `command` with each symbolic `-perm` mode of [`adds_bits_exactly`] given a `-` (`-perm
/// -u+x`: these bits set, whatever the others), and, on GNU's tools, `-perm +MODE` in octal
/// written `-perm /MODE` (any of these bits, what `+` once meant): the repair of
/// [`Flaw::FindTest`] for `-perm`.
pub(crate) fn perm_prefixed(command: &str, context: &ShellContext) -> Option<String> {
    let gnu = context
        .utilities
        .as_deref()
        .is_some_and(|utilities| utilities.starts_with("GNU"));
    let words = crate::safety::shell_words(command)?;
    find_arguments_rewritten(command, &words, |test, mode| {
        if test != "-perm" {
            None
        } else if adds_bits_exactly(mode) {
            Some(format!("-{mode}"))
        } else {
            let octal = mode.strip_prefix('+')?;
            let octal = gnu && !octal.is_empty() && octal.chars().all(|c| ('0'..='7').contains(&c));
            octal.then(|| format!("/{}", &mode[1..]))
        }
    })
}

/// `command` with the argument of each test in `words` (a find's words, as the shell reads
/// them) that `with` gives a new argument for (test, argument) written so, where it is written
/// as it reads or in quotes; `None` where none changed.
fn find_arguments_rewritten(
    command: &str,
    words: &[String],
    with: impl Fn(&str, &str) -> Option<String>,
) -> Option<String> {
    let mut changed = command.to_owned();
    let mut any = false;
    for pair in words.windows(2) {
        let [test, argument] = pair else { continue };
        let Some(new) = with(test, argument) else {
            continue;
        };
        let forms = [
            argument.clone(),
            format!("'{argument}'"),
            format!("\"{argument}\""),
        ];
        let Some((at, written)) = forms.iter().find_map(|form| {
            let written = format!("{test} {form}");
            Some((changed.find(&written)?, written))
        }) else {
            continue;
        };
        changed.replace_range(at..at + written.len(), &format!("{test} {new}"));
        any = true;
    }
    any.then_some(changed)
}

/// `command`, a pipeline of `ls` with a long listing, any `head` or `tail`, and `awk` printing
/// the name field (`$9` or `$NF`), written as `ls` without `-l` and without the `awk`: the
/// names alone, one per line, none empty, none cut at a space. The repair of
/// [`Flaw::LongListingNames`]. `None` for any other command, and where other options keep the
/// listing long (`-g`, `-o`, `-n`).
pub(crate) fn names_listed(command: &str) -> Option<String> {
    let stages: Vec<&str> = command.split('|').map(str::trim).collect();
    let (last, rest) = stages.split_last()?;
    let (first, middle) = rest.split_first()?;
    let program: String = last
        .strip_prefix("awk ")?
        .trim()
        .strip_prefix('\'')?
        .strip_suffix('\'')?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if !matches!(program.as_str(), "{print$9}" | "{print$NF}") {
        return None;
    }
    let numeric = |w: &str| {
        w.trim_start_matches('-')
            .chars()
            .all(|c| c.is_ascii_digit())
    };
    let kept = middle.iter().all(|stage| {
        let mut words = stage.split_whitespace();
        matches!(words.next(), Some("head" | "tail")) && words.all(|w| w == "-n" || numeric(w))
    });
    let words = crate::safety::shell_words(first)?;
    if !kept
        || words.first().map(String::as_str) != Some("ls")
        || first.contains(['$', '`', ';', '&', '>', '<'])
    {
        return None;
    }
    let mut long = false;
    let mut options = Vec::new();
    for word in first.split_whitespace().skip(1) {
        match word.strip_prefix('-') {
            Some(cluster) if !cluster.starts_with('-') && !cluster.is_empty() => {
                if cluster.contains(['g', 'o', 'n']) {
                    return None;
                }
                long |= cluster.contains('l');
                let rest: String = cluster.chars().filter(|&c| c != 'l' && c != 'h').collect();
                if !rest.is_empty() {
                    options.push(format!("-{rest}"));
                }
            }
            _ => options.push(word.to_owned()),
        }
    }
    if !long {
        return None;
    }
    let ls = std::iter::once("ls".to_owned())
        .chain(options)
        .collect::<Vec<_>>()
        .join(" ");
    Some(
        std::iter::once(ls.as_str())
            .chain(middle.iter().copied())
            .collect::<Vec<_>>()
            .join(" | "),
    )
}

/// `command`, a pipeline that starts with a long listing (`ls -l`, with `-h` or not) piped
/// straight into `sort -n` or `sort -h` with no key, with the sort told to compare the size
/// (`-k5,5`): sort compares whole lines, and those of `ls -l` start with the permissions. The
/// repair of [`Flaw::LongListingSorted`].
pub(crate) fn listing_sorted_by_size(command: &str) -> Option<String> {
    let (first, rest) = command.split_once('|')?;
    let ls = crate::safety::shell_words(first)?;
    let long = ls.first().map(String::as_str) == Some("ls")
        && ls.iter().skip(1).any(|w| {
            w.strip_prefix('-')
                .is_some_and(|c| !c.starts_with('-') && c.contains('l'))
        });
    let stage = rest.split('|').next()?;
    let sort_at = stage.len() - stage.trim_start().len();
    let sort = crate::safety::shell_words(stage)?;
    let numeric = sort.first().map(String::as_str) == Some("sort")
        && sort.iter().skip(1).all(|w| {
            w.strip_prefix('-')
                .is_some_and(|c| !c.starts_with('-') && c.chars().all(|c| "nhrs".contains(c)))
        })
        && sort.iter().skip(1).any(|w| w.contains(['n', 'h']));
    if !long || !numeric || first.contains(['$', '`', ';', '&', '>', '<']) {
        return None;
    }
    let at = first.len() + 1 + sort_at + "sort".len();
    let mut changed = command.to_owned();
    changed.insert_str(at, " -k5,5");
    Some(changed)
}

/// What `type -t` says a command is: words that do nothing as a command of their own.
const KINDS_OF_COMMAND: &[&str] = &["builtin", "function", "alias", "keyword"];

/// [`Flaw::Answer`] when `command`, written for `request`, is an answer rather than a command:
/// it starts with a number, an address or a version (`0755`, `192.168.1.10`, `5.2.21`), or it
/// is one word of the request that is not a program here (`no` for "answer yes or no", where
/// the `PATH` is known) or that names a kind of command (`builtin`).
pub fn answered(request: &str, command: &str, context: &ShellContext) -> Option<Flaw> {
    let commands = simple_commands(command)?;
    let first = commands.first()?;
    let program = first.program.as_str();
    let numeric = program.chars().any(|c| c.is_ascii_digit())
        && !program.chars().any(|c| c.is_ascii_alphabetic())
        && is_program_name(program);
    let in_request = || {
        request
            .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
            .any(|word| word.eq_ignore_ascii_case(program))
    };
    let not_a_program = || {
        KINDS_OF_COMMAND.contains(&program)
            || context.programs.as_ref().is_some_and(|programs| {
                !programs.contains(program)
                    && !SHELL_WORDS.contains(&program)
                    && is_program_name(program)
            })
    };
    let lone_word = commands.len() == 1
        && first.args.is_empty()
        && first.wrappers.is_empty()
        && command.trim() == program
        && in_request()
        && not_a_program();
    (numeric || lone_word).then(|| Flaw::Answer {
        text: command.trim().to_owned(),
    })
}

/// The builtins and keywords of sh, bash, zsh and fish that can stand where a program does.
const SHELL_WORDS: &[&str] = &[
    "!",
    ".",
    ":",
    "[",
    "[[",
    "]]",
    "{",
    "}",
    "alias",
    "and",
    "begin",
    "bg",
    "bind",
    "break",
    "builtin",
    "caller",
    "case",
    "cd",
    "command",
    "compgen",
    "complete",
    "continue",
    "coproc",
    "declare",
    "dirs",
    "disown",
    "do",
    "done",
    "echo",
    "elif",
    "else",
    "emulate",
    "enable",
    "end",
    "esac",
    "eval",
    "exec",
    "exit",
    "export",
    "false",
    "fc",
    "fg",
    "fi",
    "for",
    "function",
    "functions",
    "getopts",
    "hash",
    "help",
    "history",
    "if",
    "in",
    "jobs",
    "kill",
    "let",
    "local",
    "logout",
    "mapfile",
    "not",
    "or",
    "popd",
    "print",
    "printf",
    "pushd",
    "pwd",
    "read",
    "readarray",
    "readonly",
    "repeat",
    "return",
    "select",
    "set",
    "setopt",
    "shift",
    "shopt",
    "source",
    "string",
    "suspend",
    "switch",
    "test",
    "then",
    "time",
    "times",
    "trap",
    "true",
    "type",
    "typeset",
    "ulimit",
    "umask",
    "unalias",
    "unset",
    "unsetopt",
    "until",
    "wait",
    "whence",
    "where",
    "which",
    "while",
];

/// Whether `word` names a program to look up on `PATH`: not a path, and not an expansion the
/// shell works out when it runs (`$tool`, `$(...)`, `*`).
fn is_program_name(word: &str) -> bool {
    !word.is_empty() && !word.contains(['/', '$', '`', '*', '?', '[', '=', '(', '{', '~'])
}

/// The names `command` defines as shell functions (`name() { ...; }`, `function name`).
fn defined_functions(command: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let words: Vec<&str> = command.split_whitespace().collect();
    for (i, word) in words.iter().enumerate() {
        if let Some(name) = word.strip_suffix("()") {
            names.push(name);
        } else if *word == "function"
            && let Some(next) = words.get(i + 1)
        {
            names.push(next.trim_end_matches("()"));
        }
    }
    names
}

/// `mv` or `cp` whose last argument, the destination, holds `*` or `?`: with several sources
/// it must be a folder, and a pattern names no new files (`mv *.jpeg *.jpg` fails or moves
/// everything into the last `.jpg`).
fn pattern_destination(command: &SimpleCommand) -> Option<Flaw> {
    let program = command.program.rsplit('/').next()?;
    if !matches!(program, "mv" | "cp") || command.args.iter().any(|a| a == "-t") {
        return None;
    }
    let operands: Vec<&String> = command
        .args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .collect();
    let destination = operands.last()?;
    // A `*` inside an expansion (`${f##*/}`) is the shell's business, not a pattern.
    let pattern = destination.contains(['*', '?']) && !destination.contains(['$', '`']);
    (operands.len() >= 2 && pattern).then(|| Flaw::PatternDestination {
        program: program.to_owned(),
        destination: destination.to_string(),
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

/// What one top-level alternative of a find expression holds.
#[derive(Debug, Default)]
struct Alternative<'a> {
    /// Its tests (a parenthesised group counts as one, `(`), in order.
    tests: Vec<&'a str>,
    /// Its first action, inside a group or not.
    action: Option<&'a str>,
    prunes: bool,
}

/// An action or test of a `find` expression with `-o` at the top level that applies to one
/// alternative only where it was surely meant for all:
///
/// - an action in one alternative, and another with neither an action nor `-prune` (which then
///   prints nothing) and at least as many tests (`-name a -o -name b -delete`). An alternative
///   with fewer tests than the action's is taken as one left out on purpose (`-name keep.txt
///   -o -type f -name '*.txt' -delete`, `-name '*.o' -o -print`), as is `-prune -o ...`;
/// - with no action and no `-prune` anywhere, a test in one alternative that another lacks,
///   where the two share a kind of test (`-type f -name a -o -name b`: the `-name`s are the
///   alternatives, `-type f` was meant for both). Alternatives of different kinds
///   (`-name '*.c' -o -type d`) pass.
fn ungrouped_find(command: &SimpleCommand) -> Option<Flaw> {
    if command.program.rsplit('/').next() != Some("find") {
        return None;
    }
    let mut alternatives = vec![Alternative::default()];
    let mut depth = 0usize;
    for item in crate::options::find_expression(&command.args) {
        let current = alternatives.last_mut()?;
        match item {
            FindItem::Open => {
                if depth == 0 {
                    current.tests.push("(");
                }
                depth += 1;
            }
            FindItem::Close => depth = depth.saturating_sub(1),
            FindItem::Or if depth == 0 => alternatives.push(Alternative::default()),
            FindItem::Or => {}
            FindItem::Action(action) => {
                current.action.get_or_insert(action);
            }
            FindItem::Prune => current.prunes = true,
            FindItem::Test(test) if depth == 0 => current.tests.push(test),
            FindItem::Test(_) => {}
        }
    }
    if alternatives.len() < 2 {
        return None;
    }
    let flaw = |applies: &str| {
        Some(Flaw::UngroupedFind {
            applies: applies.to_owned(),
        })
    };
    if let Some(acting) = alternatives.iter().find(|a| a.action.is_some()) {
        // The action's own alternative has a test: it is not a catch-all for what is left.
        let unserved = !acting.tests.is_empty()
            && alternatives
                .iter()
                .any(|a| a.action.is_none() && !a.prunes && a.tests.len() >= acting.tests.len());
        return match unserved {
            true => flaw(acting.action?),
            false => None,
        };
    }
    if alternatives.iter().any(|a| a.prunes) {
        return None;
    }
    for longer in &alternatives {
        for shorter in &alternatives {
            let shared = longer.tests.iter().any(|test| shorter.tests.contains(test));
            if shared && longer.tests.len() > shorter.tests.len() {
                let extra = longer
                    .tests
                    .iter()
                    .find(|test| !shorter.tests.contains(test))?;
                return flaw(extra);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gnu() -> ShellContext {
        ShellContext::new("Linux", "bash", "/home/me").with_utilities("GNU coreutils")
    }

    #[test]
    fn a_digit_class_where_patterns_have_none_is_a_flaw_and_bracketed() {
        let context = ShellContext::new("linux", "bash", "/tmp");
        let flawed = [
            (
                "grep -oE '\\b\\d{1,3}(\\.\\d{1,3}){3}\\b' access.log | sort | uniq -c",
                "grep",
            ),
            ("grep -c '\\d' notes.txt", "grep"),
            ("sed -E 's/\\d+//g' todo.txt", "sed"),
            ("awk '/\\d+/' data.csv", "awk"),
            ("find . -regex '.*\\d+\\.log'", "find"),
        ];
        for (command, program) in flawed {
            assert_eq!(
                flaw(command, &context),
                Some(Flaw::DigitClass {
                    program: program.into()
                }),
                "{command}"
            );
        }
        assert_eq!(
            digits_bracketed("grep -c '\\d' notes.txt").as_deref(),
            Some("grep -c '[0-9]' notes.txt")
        );
        assert_eq!(
            digits_bracketed("sed -E 's/\\d+//g' todo.txt").as_deref(),
            Some("sed -E 's/[0-9]+//g' todo.txt")
        );
        // A \d that is a digit where it is: grep -P, perl; a command with both is not changed.
        for command in [
            "grep -oP '\\d+' notes.txt",
            "grep --perl-regexp '\\d' x",
            "perl -ne 'print if /\\d/' x",
            "grep -c '[0-9]' x",
        ] {
            assert_eq!(flaw(command, &context), None, "{command}");
        }
        assert_eq!(digits_bracketed("grep -P '\\d' x | sed 's/\\d//'"), None);
    }

    #[test]
    fn commands_without_flaws() {
        for command in [
            "ls -la",
            r"find . -name '*.tmp' -exec rm {} \;",
            "find . -type f -exec chmod 644 {} +",
            r"find . -name '*.c' -execdir wc -l {} ';' -print",
            "find . -name '*.log' -delete",
            "awk '{print $2 \" x \" $3}' data.txt",
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
    fn find_alternatives_that_share_an_action_or_a_test_must_be_grouped() {
        let any = ShellContext::new("Linux", "bash", "/");
        let applies = |command: &str| match flaw(command, &any) {
            Some(Flaw::UngroupedFind { applies }) => Some(applies),
            _ => None,
        };
        // The action or the extra test binds to the last alternative only.
        for (command, part) in [
            (
                r"find . -name '*.jpg' -o -name '*.png' -exec cp {} /backup \;",
                "-exec",
            ),
            ("find . -name '*.log' -o -name '*.tmp' -delete", "-delete"),
            (
                "find /var/log -name '*.gz' -or -name '*.old' -print0 | xargs -0 rm",
                "-print0",
            ),
            ("find . -type f -name '*.jpg' -o -name '*.png'", "-type"),
            ("find . -name '*.c' -o -name '*.h' -mtime -7", "-mtime"),
            (
                "find ~ -iname '*.mp3' -o -iname '*.flac' -size +10M",
                "-size",
            ),
            (r"find . -name a -o \( -name b \) -ls", "-ls"),
            ("find . -atime +7 -o -size +20k -print", "-print"),
            ("find /var/www -group root -o -nogroup -print0", "-print0"),
        ] {
            assert_eq!(applies(command).as_deref(), Some(part), "{command}");
        }
        for command in [
            r"find . \( -name '*.jpg' -o -name '*.png' \) -exec cp {} /backup \;",
            "find . -path ./node_modules -prune -o -name '*.js' -print",
            "find . -type d -name .git -prune -o -type f -print",
            "find . -name a -print -o -name b -print",
            r"find . -name x -exec rm {} \; -o -name y -exec rm {} \;",
            "find . -name '*.c' -o -name '*.h'",
            "find . -name '*.c' -o -type d",
            "find . -maxdepth 1 -name a -o -name b",
            "find . -type f -name '*.txt' -o -type f -name '*.md'",
            r"find . -type f \( -name '*.jpg' -o -name '*.png' \) -size +1M",
            "find . ! -name a -o -name b",
            "find . -name '*.tmp' -delete",
            r"find . -name '*.sh' -exec grep -o -e foo {} \;",
            "find . -name -o",
            // Alternatives left out on purpose: fewer tests than the action's, or pruned.
            "find . -name robots.txt -o -mmin +5 -type f -name '*.txt' -delete",
            r"find . -name \*.exe -o -name \*.dll -o -print",
            "find . -path './dir1*' -o -print",
            "find . -name tests -prune -o -type f -name '*.php'",
        ] {
            assert_eq!(applies(command), None, "{command}");
        }
        let flaw = flaw("find . -name a -o -name b -delete", &any).unwrap();
        assert_eq!(
            flaw.to_string(),
            "find's -o joins less tightly than the tests and actions written beside it, so -delete \
             applies to one alternative only: put the alternatives in \\( ... \\)"
        );
    }

    #[test]
    fn mv_and_cp_do_not_rename_by_a_pattern() {
        let any = ShellContext::new("Linux", "bash", "/");
        for command in [
            "mv *.jpeg *.jpg",
            "mv photos/*.jpeg photos/*.jpg",
            "cp -v report?.txt backup?.txt",
            "find . -name '*.txt' | xargs -I{} mv {} *.md",
        ] {
            assert!(
                matches!(flaw(command, &any), Some(Flaw::PatternDestination { .. })),
                "{command}"
            );
        }
        for command in [
            "mv *.jpeg photos/",
            "cp *.txt backup",
            "mv -t done/ *.log",
            "for f in *.jpeg; do mv -- \"$f\" \"${f%.jpeg}.jpg\"; done",
            "mv a.txt b.txt",
            "cp -r src/* dest",
            "for f in exports/*.csv; do mv \"$f\" \"2026_${f##*/}\"; done",
        ] {
            assert_eq!(flaw(command, &any), None, "{command}");
        }
    }

    #[test]
    fn programs_are_checked_against_the_path_when_it_is_known() {
        let programs = [
            "ls", "find", "mv", "sort", "xargs", "sudo", "bash", "timeout",
        ];
        let here = ShellContext::new("Linux", "bash", "/")
            .with_programs(programs.iter().map(|p| p.to_string()));
        let missing = |command: &str| match flaw(command, &here) {
            Some(Flaw::NotInstalled { program }) => Some(program),
            _ => None,
        };
        for (command, program) in [
            ("rename 's/ /_/g' *", "rename"),
            ("ls | parallel gzip", "parallel"),
            ("find . -name '*.txt' | xargs dos2unix", "dos2unix"),
            ("sudo tree -L 2", "tree"),
            ("timeout 5 jq . data.json", "jq"),
        ] {
            assert_eq!(missing(command).as_deref(), Some(program), "{command}");
        }
        for command in [
            "ls -la",
            "cd /tmp && ls",
            "for f in *.txt; do mv \"$f\" \"${f%.txt}.md\"; done",
            "export A=1; echo $A",
            "./build.sh --fast",
            "/opt/tool/bin/run",
            "$EDITOR notes.txt",
            "if [ -f x ]; then echo yes; fi",
            "[[ -d src ]] && pwd",
            "f() { ls \"$1\"; }; f /tmp",
            "read -r line < file; printf '%s\\n' \"$line\"",
            "ulimit -n",
            "type ls",
            "source ~/.bashrc",
        ] {
            assert_eq!(missing(command), None, "{command}");
        }
        // Without the PATH's programs nothing is said about them.
        let unknown = ShellContext::new("Linux", "bash", "/");
        assert_eq!(flaw("rename 's/ /_/g' *", &unknown), None);
        assert_eq!(
            flaw("tree", &here).unwrap().to_string(),
            "tree is not installed on this system"
        );
    }

    #[test]
    fn an_answer_written_in_place_of_a_command_is_named() {
        let programs = ["ls", "stat", "echo", "type", "bash", "file", "uname"];
        let here = ShellContext::new("Linux", "bash", "/")
            .with_programs(programs.iter().map(|p| p.to_string()));
        let unknown = ShellContext::new("Linux", "bash", "/");
        for (request, reply) in [
            ("what are the permissions of run.sh in octal?", "0755"),
            ("what is my IP address on the LAN", "192.168.1.10"),
            ("which version of bash is this", "5.2.21"),
            ("how many cores does this machine have", "8"),
            (
                "is echo a builtin, a function or a file here? one word",
                "builtin",
            ),
        ] {
            for context in [&here, &unknown] {
                let flaw = answered(request, reply, context);
                assert_eq!(
                    flaw,
                    Some(Flaw::Answer {
                        text: reply.to_owned()
                    }),
                    "{reply}"
                );
            }
        }
        // A word of the request that is no program on the PATH, where the PATH is known.
        let no = Some(Flaw::Answer { text: "no".into() });
        assert_eq!(answered("answer yes or no: is swap on", "no", &here), no);
        assert_eq!(
            answered("answer yes or no: is swap on", "no", &unknown),
            None
        );
        for (request, command) in [
            ("list the files", "ls"),
            ("run uname", "uname"),
            ("what system is this", "uname -a"),
            ("permissions of run.sh in octal", "stat -c %a run.sh"),
            ("print 42", "echo 42"),
            ("go up one folder", "cd .."),
            ("run the script in this folder", "./run.sh"),
            ("show the variable", "$EDITOR"),
            ("repeat the last command", "!!"),
        ] {
            assert_eq!(answered(request, command, &here), None, "{command}");
        }
        assert_eq!(
            answered("octal permissions of x", "0755", &here)
                .unwrap()
                .to_string(),
            "`0755` is an answer, not a command: write a command that finds it out on this \
             system and prints it"
        );
    }

    #[test]
    fn find_tests_that_never_match_as_written() {
        let test_of = |command: &str, context: &ShellContext| match flaw(command, context) {
            Some(Flaw::FindTest { test, .. }) => Some(test),
            _ => None,
        };
        for (command, test) in [
            ("find . -name 'config/app.conf'", "-name config/app.conf"),
            (
                "find . -name 'config/app.conf' -newermt 'config/app.conf' -type f",
                "-name config/app.conf",
            ),
            ("find src -type f -iname 'lib/*.rs'", "-iname lib/*.rs"),
            ("find . -type f -perm +x", "-perm +x"),
            ("find . -perm +111 -print", "-perm +111"),
        ] {
            assert_eq!(test_of(command, &gnu()).as_deref(), Some(test), "{command}");
        }
        for command in [
            "find . -name '*.conf'",
            "find . -path './config/*.conf'",
            "find . -type f -perm /111",
            "find . -type f -perm -u+x",
            "find . -perm 644",
            "grep -r name/x .",
        ] {
            assert_eq!(test_of(command, &gnu()), None, "{command}");
        }
        // BSD find has -perm +MODE (any of the bits).
        let macos = ShellContext::new("macOS", "zsh", "/Users/me").with_utilities("BSD utilities");
        assert_eq!(test_of("find . -perm +111", &macos), None);
        assert!(test_of("find . -name 'a/b'", &macos).is_some());
    }

    #[test]
    fn symbolic_modes_that_add_bits_match_exactly_and_are_given_a_dash() {
        let test_of = |command: &str| match flaw(command, &gnu()) {
            Some(Flaw::FindTest { test, .. }) => Some(test),
            _ => None,
        };
        for (command, test, mended) in [
            (
                "find . -type f -perm u+x",
                "-perm u+x",
                "find . -type f -perm -u+x",
            ),
            (
                "find tools -type f -perm u+x -not -perm 'o+x'",
                "-perm u+x",
                "find tools -type f -perm -u+x -not -perm -o+x",
            ),
            (
                "find . ! -perm a+r -print",
                "-perm a+r",
                "find . ! -perm -a+r -print",
            ),
            (
                "find /srv -perm o+w,g+w -exec ls -l {} +",
                "-perm o+w,g+w",
                "find /srv -perm -o+w,g+w -exec ls -l {} +",
            ),
            ("find . -perm +111", "-perm +111", "find . -perm /111"),
        ] {
            assert_eq!(test_of(command).as_deref(), Some(test), "{command}");
            assert_eq!(
                perm_prefixed(command, &gnu()).as_deref(),
                Some(mended),
                "{command}"
            );
            assert_eq!(flaw(mended, &gnu()), None, "{mended}");
        }
        // Modes meant as written: set with `=`, octal, with `-` or `/`, and not find's.
        for command in [
            "find . -perm u=rwx",
            "find . -perm 644",
            "find docs -type f ! -perm 0644",
            "find . -perm -u+x",
            "find . -perm /g+w",
            "find . -perm -o=w",
            "chmod u+x run.sh",
        ] {
            assert_eq!(test_of(command), None, "{command}");
            assert_eq!(perm_prefixed(command, &gnu()), None, "{command}");
        }
        assert!(!adds_bits_exactly("u+"));
        assert!(!adds_bits_exactly("u+q"));
        assert!(!adds_bits_exactly(""));
    }

    #[test]
    fn names_cut_out_of_a_long_listing_are_listed_by_ls_itself() {
        for (command, mended) in [
            (
                "ls -lt reports | head -n 3 | awk '{print $9}'",
                "ls -t reports | head -n 3",
            ),
            ("ls -l | awk '{ print $NF }'", "ls"),
            (
                "ls -lahS ~/Downloads | awk '{print $9}'",
                "ls -aS ~/Downloads",
            ),
            (
                "ls -l -t --reverse src | tail -n 5 | awk '{print $9}'",
                "ls -t --reverse src | tail -n 5",
            ),
            ("ls -ltr | head -5 | awk '{print $9}'", "ls -tr | head -5"),
        ] {
            assert_eq!(
                flaw(command, &gnu()),
                Some(Flaw::LongListingNames),
                "{command}"
            );
            assert_eq!(names_listed(command).as_deref(), Some(mended), "{command}");
            assert_eq!(flaw(mended, &gnu()), None, "{mended}");
        }
        for command in [
            "ls -l | awk '{print $5, $9}'",
            "ls -l | grep '^-' | awk '{print $9}'",
            "ls -lo | awk '{print $9}'",
            "ls -t | head -n 3",
            "ls -l reports",
            "ls -l > list.txt; awk '{print $9}' list.txt",
            "find . -ls | awk '{print $11}'",
        ] {
            assert_ne!(
                flaw(command, &gnu()),
                Some(Flaw::LongListingNames),
                "{command}"
            );
            assert_eq!(names_listed(command), None, "{command}");
        }
    }

    #[test]
    fn a_long_listing_is_sorted_by_its_size_field() {
        for (command, mended) in [
            (
                "ls -lh /var/log | sort -rh | head -n 10",
                "ls -lh /var/log | sort -k5,5 -rh | head -n 10",
            ),
            ("ls -la|sort -n", "ls -la|sort -k5,5 -n"),
        ] {
            assert_eq!(
                flaw(command, &gnu()),
                Some(Flaw::LongListingSorted),
                "{command}"
            );
            assert_eq!(listing_sorted_by_size(command).as_deref(), Some(mended));
            assert_eq!(flaw(mended, &gnu()), None, "{mended}");
        }
        for command in [
            "ls -lS | head",
            "du -sh * | sort -h",
            "ls -l | sort -k5 -n",
            "ls -l | sort",
            "ls | sort -r",
            "ls -lh | grep log | sort -h",
        ] {
            assert_eq!(listing_sorted_by_size(command), None, "{command}");
        }
    }

    #[test]
    fn fields_of_a_csv_file_are_split_at_its_commas() {
        for (command, program, mended) in [
            (
                "awk '{print $2}' data.csv",
                "awk",
                "awk -F, '{print $2}' data.csv",
            ),
            (
                "tail -n +2 people.csv | sort -k 3,3 -k2,2",
                "sort",
                "tail -n +2 people.csv | sort -t, -k 3,3 -k2,2",
            ),
            (
                "cut -f1 \"my list.CSV\" | sort -u",
                "cut",
                "cut -d, -f1 \"my list.CSV\" | sort -u",
            ),
            (
                "grep paris data.csv | awk '$4 > 80 {print $1}'",
                "awk",
                "grep paris data.csv | awk -F, '$4 > 80 {print $1}'",
            ),
            (
                "sort -nrk4 scores.csv | head -n 3 | cut -f2",
                "sort",
                "sort -t, -nrk4 scores.csv | head -n 3 | cut -d, -f2",
            ),
        ] {
            assert_eq!(
                flaw(command, &gnu()),
                Some(Flaw::CsvFields {
                    program: program.to_owned(),
                    option: match program {
                        "awk" => "-F,",
                        "sort" => "-t,",
                        _ => "-d,",
                    }
                }),
                "{command}"
            );
            assert_eq!(csv_separated(command).as_deref(), Some(mended), "{command}");
            assert_eq!(flaw(mended, &gnu()), None, "{mended}");
        }
        for command in [
            "awk -F, '{print $2}' data.csv",
            "awk 'BEGIN {FS=\",\"} {print $2}' data.csv",
            "awk -v FS=, '{print $2}' data.csv",
            "cut -d, -f3 data.csv | sort | uniq -c | sort -k2",
            "cut -d, -f3 data.csv | sort | uniq -c | awk '{print $2, $1}'",
            "sort data.csv",
            "sort -t, -k2 data.csv",
            "awk '{print $2}' data.tsv",
            "awk 'NR > 1' data.csv",
            "wc -l data.csv | awk '{print $1}'",
            "cut -c1-5 data.csv",
        ] {
            assert_eq!(flaw(command, &gnu()), None, "{command}");
            assert_eq!(csv_separated(command), None, "{command}");
        }
    }

    #[test]
    fn path_patterns_that_begin_outside_the_start_never_match() {
        let test_of = |command: &str| match flaw(command, &gnu()) {
            Some(Flaw::FindTest { test, .. }) => Some(test),
            _ => None,
        };
        for (command, test, mended) in [
            (
                "find ./ -type f -size +1k -not -path 'data/*'",
                "-path data/*",
                "find ./ -type f -size +1k -not -path './data/*'",
            ),
            (
                "find -path 'build/*' -prune -o -print",
                "-path build/*",
                "find -path './build/*' -prune -o -print",
            ),
            (
                "find . -type f -not -path '.git/*'",
                "-path .git/*",
                "find . -type f -not -path './.git/*'",
            ),
            (
                "find src -ipath \"lib/*.rs\"",
                "-ipath lib/*.rs",
                "find src -ipath 'src/lib/*.rs'",
            ),
        ] {
            assert_eq!(test_of(command).as_deref(), Some(test), "{command}");
            assert_eq!(
                path_under_start(command).as_deref(),
                Some(mended),
                "{command}"
            );
            assert_eq!(flaw(mended, &gnu()), None, "{mended}");
        }
        for command in [
            "find . -path './data' -prune -o -type f -print",
            "find . -path '*/node_modules/*' -prune",
            "find src lib -path 'src/*.c'",
            "find /var/log -path '/var/log/old/*'",
            "find / -path /proc -prune -o -name x -print",
            "find ./docs -path './docs/*.md'",
            "find . -path .",
            "find logs -path logs",
        ] {
            let outside = test_of(command).is_some_and(|t| t.contains("path"));
            assert!(!outside, "{command}");
        }
        // Two starts: which one the pattern was meant under is not guessed.
        assert!(test_of("find a b -path 'x/*'").is_some());
        assert_eq!(path_under_start("find a b -path 'x/*'"), None);
        assert_eq!(path_under_start("find ~ -path 'Documents/*'"), None);
    }

    #[test]
    fn find_patterns_the_shell_would_expand_are_quoted() {
        for (command, mended) in [
            ("find . -name *.txt", "find . -name '*.txt'"),
            (
                "find src -type f -iname *.RS -o -name lib?.c",
                "find src -type f -iname '*.RS' -o -name 'lib?.c'",
            ),
            (
                "cd logs && find . -path ./old/* -delete",
                "cd logs && find . -path './old/*' -delete",
            ),
        ] {
            assert!(
                matches!(flaw(command, &gnu()), Some(Flaw::FindTest { .. })),
                "{command}"
            );
            assert_eq!(find_patterns_quoted(command).as_deref(), Some(mended));
            assert_eq!(flaw(mended, &gnu()), None, "{mended}");
        }
        for command in [
            "find . -name '*.txt'",
            "find . -name \"*.txt\"",
            "find . -name \\*.txt",
            "find . -name notes.txt",
            "ls *.txt",
            "grep -name *.txt",
        ] {
            assert_eq!(find_patterns_quoted(command), None, "{command}");
        }
    }

    #[test]
    fn size_limits_below_are_given_in_the_next_smaller_unit() {
        for (command, mended) in [
            (
                "find . -type f -size +1k -size -1M",
                "find . -type f -size +1k -size -1024k",
            ),
            (
                "find /tmp -size -2G -delete",
                "find /tmp -size -2048M -delete",
            ),
            ("find . -size '-5k'", "find . -size -5120c"),
        ] {
            assert!(
                matches!(flaw(command, &gnu()), Some(Flaw::FindTest { ref test, .. }) if test.starts_with("-size")),
                "{command}"
            );
            assert_eq!(sizes_in_smaller_units(command).as_deref(), Some(mended));
            assert_eq!(flaw(mended, &gnu()), None, "{mended}");
        }
        for command in [
            "find . -size +100M",
            "find . -size -100c",
            "find . -size -10",
            "find . -size 1M",
            "find . -size -1024k",
            "grep -e -size -1M notes.txt",
        ] {
            assert_eq!(flaw(command, &gnu()), None, "{command}");
        }
        assert_eq!(sizes_in_smaller_units("find . -size +1M"), None);
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
