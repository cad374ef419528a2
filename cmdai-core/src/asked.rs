//! What a request asks for in so many words that a command can be seen to leave out without
//! running it: to ignore case ("search src for todo, case-insensitive"), to print an exit
//! status ("... and show grep's exit status"), to print a given text ("if it had to be stopped,
//! print 'timed out'"), to keep the files a compressor would delete ("gzip it, keep the
//! original").
//!
//! Small models drop such words: `grep -r todo src`, `timeout 1 ./slow.sh`, `gzip big.log`.
//! The command runs and prints something plausible, so neither the shell nor a trial shows it;
//! the request's own words do. Each kind is read from the request alone and checked against
//! the command's words alone, so a command that does what was asked in another way (`[Tt]odo`,
//! `tolower($0)`, `gzip -c f > f.gz`) passes.

use std::fmt;

use crate::safety::{SimpleCommand, simple_commands};

/// Something a request asks for that a command can leave out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// Matching without regard to case: "ignoring case", "case-insensitive", "upper or lower
    /// case".
    IgnoreCase,
    /// The exit status printed: "print its exit code", "show grep's exit status".
    ExitStatus,
    /// A text printed word for word: "print 'timed out'", "then echo \"all done\"".
    Text(String),
    /// A text printed when a command fails ("if it had to be stopped, print 'timed out'"), or
    /// when it succeeds (`false`): not after `&&`, or `||`, which run it the other way round.
    TextWhen {
        /// The text.
        text: String,
        /// Whether it is printed on failure.
        failed: bool,
    },
    /// The files a compressor replaces kept: "keep the original", "without removing dump.sql".
    KeepOriginal,
    /// Hidden files seen too: "hidden files too", "including dotfiles".
    Hidden,
    /// Folders inside folders gone through: "recursively", "subfolders included".
    Recursive,
    /// Sizes in a unit: "in megabytes", "(in GB)", "human-readable".
    Unit(SizeUnit),
    /// One archive for each of several things: "a tarball per folder", "zip each file
    /// separately".
    ArchiveEach,
    /// A file, folder or extension the request names, used word for word: "the .conf and
    /// .json files", "give deploy.sh the permissions of run.sh".
    Name(String),
    /// Lines around each match: "with 3 lines after each", "2 lines of context".
    Context {
        /// grep's option for them: `A` (after), `B` (before) or `C` (both).
        option: char,
        /// How many.
        lines: usize,
    },
    /// Entries of one kind: "only the folders", "regular files", "empty directories", or
    /// files where the request names nothing else ("the .log files older than a week").
    Only(Entry),
    /// A sorted list one way round: "largest first", "in descending order", "oldest first".
    Order(Direction),
    /// Nothing printed for each file handled: the request asks to see none of the work
    /// ("unpack site.tar.gz into /srv"), so no `tar -v`, `cp -v`, `rm -v`.
    Quiet,
    /// Paths without a long listing: the request asks for no details of the files found
    /// ("find the .tmp files under build"), so no `-exec ls -l {} \;`.
    PathsAlone,
    /// Nothing changed, only shown what would be: "do a dry run", "without actually deleting
    /// them", "which files would git clean remove?". So `make -n`, `rsync --dry-run`, `find`
    /// without `-delete`; no `rm`, `mv`, `sed -i`.
    DryRun,
    /// The output saved to a file and shown as well: "save the output to build.log while still
    /// showing it", "log it to out.txt and show it on screen". So `| tee`.
    SavedAndShown,
    /// An option the request names in words, for a program the command uses: "keep following
    /// it" (`tail -f`), "side by side" (`diff -y`), "one line each" (`git log --oneline`).
    Option {
        /// The program, e.g. `tail`; `git log` for git's subcommand.
        program: &'static str,
        /// The option, e.g. `-f`.
        option: &'static str,
    },
    /// White space, not only spaces: "strip the trailing whitespace", "leading white space".
    /// So a pattern of blanks takes tabs too (`[[:space:]]*`), not ` *`.
    Whitespace,
    /// Which lines of two files: those in both ("which names are in both a.txt and b.txt"), or
    /// those only in one ("lines of notes.txt that are not in old.txt", "only in b.txt"). So
    /// `comm` with the columns of the others left out (`-12`, `-23`, `-13`).
    Lines {
        /// The file whose own lines are asked for; `None` for the lines in both.
        only_in: Option<String>,
    },
}

/// A kind of entry of a file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Regular files.
    File,
    /// Directories.
    Directory,
}

/// Which way round a sorted list runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The largest, newest, most or last in the alphabet first.
    Descending,
    /// The smallest, oldest, least or first in the alphabet first.
    Ascending,
}

/// A unit for sizes a request can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeUnit {
    /// Bytes.
    Byte,
    /// Kilobytes or kibibytes.
    Kilo,
    /// Megabytes or mebibytes.
    Mega,
    /// Gigabytes or gibibytes.
    Giga,
    /// A unit chosen by size, as `-h` does (`1.5M`).
    HumanReadable,
}

impl fmt::Display for Asked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Asked::IgnoreCase => f.write_str("to ignore case"),
            Asked::ExitStatus => f.write_str("for the exit status"),
            Asked::Text(text) => write!(f, "to print '{text}'"),
            Asked::TextWhen { text, failed: true } => {
                write!(f, "to print '{text}' when the command fails")
            }
            Asked::TextWhen {
                text,
                failed: false,
            } => {
                write!(f, "to print '{text}' when the command succeeds")
            }
            Asked::KeepOriginal => f.write_str("to keep the original files"),
            Asked::Hidden => f.write_str("for hidden files too"),
            Asked::Recursive => f.write_str("for the folders inside too"),
            Asked::Unit(SizeUnit::Byte) => f.write_str("for sizes in bytes"),
            Asked::Unit(SizeUnit::Kilo) => f.write_str("for sizes in kilobytes"),
            Asked::Unit(SizeUnit::Mega) => f.write_str("for sizes in megabytes"),
            Asked::Unit(SizeUnit::Giga) => f.write_str("for sizes in gigabytes"),
            Asked::Unit(SizeUnit::HumanReadable) => f.write_str("for human-readable sizes"),
            Asked::ArchiveEach => f.write_str("for one archive each"),
            Asked::Name(name) => write!(f, "about `{name}`"),
            Asked::Context { option, lines } => {
                let side = match option {
                    'A' => "after",
                    'B' => "before",
                    _ => "around",
                };
                write!(f, "for {lines} lines {side} each match")
            }
            Asked::Only(Entry::File) => f.write_str("for files only, not folders"),
            Asked::Only(Entry::Directory) => f.write_str("for folders only"),
            Asked::Order(Direction::Descending) => {
                f.write_str("for the largest (or newest, or most) first")
            }
            Asked::Order(Direction::Ascending) => {
                f.write_str("for the smallest (or oldest, or least) first")
            }
            Asked::Quiet => f.write_str("to see no line for each file handled"),
            Asked::PathsAlone => f.write_str("for paths without details"),
            Asked::DryRun => f.write_str("to change nothing, only to show what would change"),
            Asked::SavedAndShown => f.write_str("to save the output and show it as well"),
            Asked::Whitespace => f.write_str("for white space (tabs too)"),
            Asked::Option { program, option } => write!(f, "for `{program} {option}`"),
            Asked::Lines { only_in: None } => f.write_str("for the lines in both files"),
            Asked::Lines {
                only_in: Some(file),
            } => write!(f, "for the lines only in {file}"),
        }
    }
}

impl Asked {
    /// Everything of these kinds that `request` asks for, in the order above.
    pub fn in_request(request: &str) -> Vec<Asked> {
        let spaced = spaced(request);
        let mut asked = Vec::new();
        if IGNORE_CASE.iter().any(|phrase| spaced.contains(phrase)) {
            asked.push(Asked::IgnoreCase);
        }
        if asks_for_exit_status(&spaced) {
            asked.push(Asked::ExitStatus);
        }
        for (text, failed) in texts_to_print(request) {
            asked.push(Asked::Text(text.clone()));
            if let Some(failed) = failed {
                asked.push(Asked::TextWhen { text, failed });
            }
        }
        if asks_to_keep_originals(&spaced) {
            asked.push(Asked::KeepOriginal);
        }
        if mentions(&spaced, HIDDEN) {
            asked.push(Asked::Hidden);
        }
        if mentions(&spaced, RECURSIVE) {
            asked.push(Asked::Recursive);
        }
        asked.extend(unit_asked(&spaced).map(Asked::Unit));
        if asks_for_an_archive_each(&spaced) {
            asked.push(Asked::ArchiveEach);
        }
        asked.extend(names(request).into_iter().map(Asked::Name));
        if let Some((option, lines)) = context_asked(&spaced) {
            asked.push(Asked::Context { option, lines });
        }
        asked.extend(entry_asked(&spaced).map(Asked::Only));
        asked.extend(order_asked(&spaced).map(Asked::Order));
        let words = request_words(&spaced);
        let dry_run = asks_for_a_dry_run(&spaced);
        // A dry run is there to see the work (`rsync -avn`).
        if !dry_run && !words.iter().any(|w| TO_SEE.contains(&w.as_str())) {
            asked.push(Asked::Quiet);
        }
        if !words.iter().any(|w| DETAILS.contains(&w.as_str())) {
            asked.push(Asked::PathsAlone);
        }
        if dry_run {
            asked.push(Asked::DryRun);
        }
        if asks_to_save_and_show(&spaced) {
            asked.push(Asked::SavedAndShown);
        }
        if ["whitespace", "white space"]
            .iter()
            .any(|w| spaced.contains(w))
        {
            asked.push(Asked::Whitespace);
        }
        for (phrases, program, option, _) in WORDED_OPTIONS {
            if phrases.iter().any(|p| spaced.contains(p)) {
                asked.push(Asked::Option { program, option });
            }
        }
        asked.extend(lines_asked(request));
        asked
    }

    /// Why `command` does not do this, or `None` when it does (or cannot be read as shell,
    /// which is a flaw of its own).
    pub fn unheeded_by(&self, command: &str) -> Option<String> {
        let commands = with_inner_commands(simple_commands(command)?);
        match self {
            Asked::IgnoreCase => (!ignores_case(command, &commands)).then(|| {
                commands
                    .iter()
                    .find_map(case_hint)
                    .unwrap_or("nothing in it ignores case")
                    .to_owned()
            }),
            Asked::ExitStatus if status_after_and(&tokens(command)).is_some() => Some(
                "after `&&` the status is always 0: `; echo $?` prints the command's".to_owned(),
            ),
            Asked::ExitStatus => (!prints_exit_status(command))
                .then(|| "it never prints it: `echo $?` right after the command does".to_owned()),
            Asked::Text(text) => {
                let unescaped = command.replace('\\', "");
                (!unescaped.contains(text.as_str())).then(|| "it never does".to_owned())
            }
            Asked::TextWhen { text, failed } => {
                wrong_branch(&tokens(command), text, *failed).map(|(_, why)| why)
            }
            Asked::Hidden => hides_dot_files(command, &commands),
            Asked::Recursive => stays_at_the_top(command, &commands),
            Asked::Unit(unit) => other_unit(*unit, command, &commands),
            Asked::ArchiveEach => one_archive(&commands, &tokens(command)),
            Asked::Name(name) => {
                (!names_it(command, name)).then(|| "the command never names it".to_owned())
            }
            Asked::Context { option, lines } => {
                let grep = commands
                    .iter()
                    .find(|c| GREPS.contains(&base(&c.program)))?;
                (!has_context(grep, *option, *lines)).then(|| {
                    format!("grep prints the matching lines alone unless given -{option} {lines}")
                })
            }
            Asked::Only(entry) => finds_of_other_kinds(&tokens(command), *entry)
                .first()
                .map(|(_, why)| why.clone()),
            Asked::Order(direction) => {
                let stage = sorted(&tokens(command))?;
                (stage.direction != *direction).then(|| stage.why(*direction))
            }
            Asked::Quiet => verbose_option(&tokens(command)).map(|(_, program)| {
                format!(
                    "{program} -v prints a line for each file, which the request does not ask for"
                )
            }),
            Asked::PathsAlone => long_listing(&tokens(command))
                .map(|_| "ls -l prints a long listing, not the paths alone".to_owned()),
            Asked::DryRun => changes(&commands).first().map(|change| change.why.clone()),
            Asked::Lines { only_in } => {
                let comm = CommCall::find(command)?;
                let wanted = comm.columns_left_out(only_in.as_deref())?;
                (comm.left_out != wanted).then(|| {
                    format!(
                        "comm -{} prints {}; the lines asked for are comm -{wanted}",
                        comm.left_out,
                        comm.prints()
                    )
                })
            }
            Asked::Option { program, option } => {
                worded_option_left_out(command, program, option)?;
                Some(format!("{program} does that only with {option}"))
            }
            Asked::Whitespace => spaces_for_whitespace(command)
                .is_some()
                .then(|| "` *` takes spaces only, not tabs: `[[:space:]]*` takes both".to_owned()),
            Asked::SavedAndShown => program_token(&tokens(command), &["tee"]).is_none().then(
                || {
                    "nothing in it shows the output as well as saving it: `| tee FILE` does both"
                        .to_owned()
                },
            ),
            Asked::KeepOriginal => commands.iter().find_map(|c| {
                let program = deletes_its_input(c)?;
                Some(format!(
                    "{program} deletes each file it is given once done; `{program} -k` keeps it"
                ))
            }),
        }
    }
}

impl Asked {
    /// `command` changed as little as it takes to do this, where a small change is known to:
    /// an option added (`grep -i`, `gzip -k`, `grep -r`, `chmod -R`, `ls -A`, `free -m`),
    /// find's tests swapped for those that ignore case (`-name` for `-iname`), or `; echo $?`
    /// after a command that is one pipeline. `None` where it takes more than that (a text to
    /// print, a loop's statuses, a glob that misses dot names).
    pub fn repair(&self, command: &str) -> Option<String> {
        let tokens = tokens(command);
        match self {
            Asked::IgnoreCase => {
                const SWAPPED: &[&str] = &["-name", "-path", "-wholename", "-regex", "-lname"];
                let swaps: Vec<&Token> = tokens
                    .iter()
                    .filter(|t| SWAPPED.contains(&t.raw.as_str()))
                    .collect();
                if program_token(&tokens, &["find"]).is_some() && !swaps.is_empty() {
                    let mut repaired = command.to_owned();
                    for token in swaps.iter().rev() {
                        repaired.insert(token.span.start + 1, 'i');
                    }
                    return Some(repaired);
                }
                let (at, program) = program_token(
                    &tokens,
                    &[
                        "grep", "egrep", "fgrep", "zgrep", "rg", "ag", "ack", "sort", "uniq",
                    ],
                )?;
                let option = if program == "sort" { " -f" } else { " -i" };
                Some(insert(command, &tokens[at], option))
            }
            Asked::Recursive => {
                let (at, program) = program_token(
                    &tokens,
                    &[
                        "grep", "egrep", "fgrep", "zgrep", "ls", "chmod", "chown", "chgrp", "cp",
                    ],
                )?;
                let option = match program {
                    "ls" | "chmod" | "chown" | "chgrp" => " -R",
                    _ => " -r",
                };
                Some(insert(command, &tokens[at], option))
            }
            Asked::Hidden => {
                let (at, _) = program_token(&tokens, &["ls"])?;
                Some(insert(command, &tokens[at], " -A"))
            }
            Asked::KeepOriginal => {
                let mut repaired = command.to_owned();
                let mut found = false;
                for (at, token) in tokens.iter().enumerate().rev() {
                    if DELETE_INPUT.contains(&base(&token.raw)) && in_command_position(&tokens, at)
                    {
                        repaired.insert_str(token.span.end, " -k");
                        found = true;
                    }
                }
                found.then_some(repaired)
            }
            Asked::ExitStatus if let Some(and) = status_after_and(&tokens) => {
                let mut repaired = command.to_owned();
                let from = tokens[..and].last().map_or(0, |t| t.span.end);
                repaired.replace_range(from..tokens[and].span.end, ";");
                Some(repaired)
            }
            Asked::ExitStatus => {
                let one_pipeline = tokens.iter().all(|t| {
                    !matches!(
                        t.raw.as_str(),
                        ";" | "&&"
                            | "||"
                            | "&"
                            | "\n"
                            | "for"
                            | "while"
                            | "until"
                            | "if"
                            | "case"
                            | "{"
                            | "("
                    )
                });
                one_pipeline.then(|| format!("{}; echo $?", command.trim_end()))
            }
            Asked::Unit(unit) => {
                let (at, program) = program_token(&tokens, SIZED)?;
                let option = match (unit, program) {
                    (SizeUnit::Byte, "ls") => "",
                    (SizeUnit::Byte, "df") => " -B1",
                    (SizeUnit::Byte, _) => " -b",
                    (SizeUnit::HumanReadable, _) => " -h",
                    (SizeUnit::Kilo, "ls") => " --block-size=K",
                    (SizeUnit::Kilo, _) => " -k",
                    (SizeUnit::Mega, "free") => " -m",
                    (SizeUnit::Mega, _) => " --block-size=M",
                    (SizeUnit::Giga, "free") => " -g",
                    (SizeUnit::Giga, _) => " --block-size=G",
                };
                // Options that pick another unit go: `-sh` becomes `-s`, `-h` goes.
                let mut repaired = command.to_owned();
                let own = tokens[at + 1..]
                    .iter()
                    .take_while(|t| !t.is_operator())
                    .collect::<Vec<_>>();
                for token in own.into_iter().rev() {
                    let cut = token.span.start - 1..token.span.end;
                    match token.raw.strip_prefix('-') {
                        Some("-human-readable" | "-si") => repaired.replace_range(cut, ""),
                        Some(long) if long.starts_with("-block-size") => {
                            repaired.replace_range(cut, "")
                        }
                        Some(cluster)
                            if !cluster.is_empty()
                                && cluster.chars().all(|c| c.is_ascii_alphanumeric()) =>
                        {
                            let units: &[char] = match program {
                                "ls" => &['h'],
                                "free" => &['h', 'k', 'm', 'g', 'b'],
                                _ => &['h', 'H', 'k', 'm'],
                            };
                            let kept: String =
                                cluster.chars().filter(|c| !units.contains(c)).collect();
                            if kept.is_empty() {
                                repaired.replace_range(cut, "");
                            } else if kept != cluster {
                                repaired.replace_range(token.span.clone(), &format!("-{kept}"));
                            }
                        }
                        _ => {}
                    }
                }
                let repaired = insert(&repaired, &tokens[at], option);
                (repaired != command).then_some(repaired)
            }
            Asked::TextWhen { text, failed } => {
                let (at, _) = wrong_branch(&tokens, text, *failed)?;
                let mut repaired = command.to_owned();
                repaired.replace_range(tokens[at].span.clone(), if *failed { "||" } else { "&&" });
                Some(repaired)
            }
            Asked::Context { option, lines } => {
                let (at, _) = program_token(&tokens, GREPS)?;
                let own = tokens[at + 1..].iter().take_while(|t| !t.is_operator());
                let has_any = own.clone().any(|t| {
                    t.raw.starts_with(['-'])
                        && !t.raw.starts_with("--")
                        && t.raw[1..].contains(['A', 'B', 'C'])
                        || t.raw.contains("context")
                });
                (!has_any).then(|| insert(command, &tokens[at], &format!(" -{option} {lines}")))
            }
            Asked::Only(entry) => {
                let mut repaired = command.to_owned();
                // From the last, so that the places of those before stay where they were.
                let finds = finds_of_other_kinds(&tokens, *entry);
                for ((range, text), _) in finds.iter().rev() {
                    repaired.replace_range(range.clone(), text);
                }
                (!finds.is_empty()).then_some(repaired)
            }
            Asked::Order(direction) => {
                let stage = sorted(&tokens)?;
                (stage.direction != *direction && stage.turnable).then_some(())?;
                let mut repaired = command.to_owned();
                match &stage.reversed_by {
                    Some(Reversal::Letter(at)) => {
                        repaired.remove(*at);
                    }
                    Some(Reversal::Word(range)) => cut_word(&mut repaired, range.clone()),
                    None => match stage.key_letters_end {
                        Some(at) => repaired.insert(at, 'r'),
                        None => repaired.insert_str(stage.program.end, " -r"),
                    },
                }
                Some(repaired)
            }
            Asked::Quiet => {
                let mut repaired = command.to_owned();
                match verbose_option(&tokens)?.0 {
                    Reversal::Letter(at) => {
                        repaired.remove(at);
                    }
                    Reversal::Word(range) => cut_word(&mut repaired, range),
                }
                Some(repaired)
            }
            Asked::PathsAlone => {
                let (listing, print0) = long_listing(&tokens)?;
                let mut repaired = command.to_owned();
                cut_word(&mut repaired, listing);
                if let Some(print0) = print0 {
                    cut_word(&mut repaired, print0);
                }
                Some(repaired)
            }
            Asked::DryRun => {
                let commands = with_inner_commands(simple_commands(command)?);
                let [change] = &changes(&commands)[..] else {
                    return None;
                };
                let repair = change.repair?;
                let at = tokens.iter().enumerate().position(|(at, token)| {
                    base(&token.raw) == change.program && in_command_position(&tokens, at)
                })?;
                match repair {
                    DryRepair::Insert(option) => {
                        let after = at + usize::from(change.program == "git");
                        Some(insert(command, tokens.get(after)?, option))
                    }
                    DryRepair::PrintForDelete => {
                        let delete = tokens[at..].iter().find(|t| t.raw == "-delete")?;
                        let mut repaired = command.to_owned();
                        repaired.replace_range(delete.span.clone(), "-print");
                        Some(repaired)
                    }
                }
            }
            Asked::Lines { only_in } => {
                let comm = CommCall::find(command)?;
                let wanted = comm.columns_left_out(only_in.as_deref())?;
                (comm.left_out != wanted).then(|| comm.with_columns_left_out(command, &wanted))
            }
            Asked::Whitespace => spaces_for_whitespace(command),
            Asked::Option { program, option } => {
                let at = worded_option_left_out(command, program, option)?;
                let mut repaired = command.to_owned();
                repaired.insert_str(at, &format!(" {option}"));
                Some(repaired)
            }
            Asked::SavedAndShown => {
                // Only a redirection of standard output that ends the command.
                let redirections: Vec<usize> = (0..tokens.len())
                    .filter(|&at| {
                        let start = tokens[at].span.start;
                        matches!(tokens[at].raw.as_str(), ">" | ">>")
                            && !command[..start].ends_with(|c: char| c.is_ascii_digit() || c == '&')
                    })
                    .collect();
                let [at] = redirections[..] else {
                    return None;
                };
                let file = tokens.get(at + 1).filter(|t| !t.is_operator())?;
                if at + 2 != tokens.len() {
                    return None;
                }
                let append = if tokens[at].raw == ">>" { "-a " } else { "" };
                Some(format!(
                    "{}| tee {append}{}",
                    &command[..tokens[at].span.start],
                    file.raw
                ))
            }
            Asked::Text(_) | Asked::ArchiveEach | Asked::Name(_) => None,
        }
    }
}

/// A word or an operator of a command, as written, and where it is.
#[derive(Debug)]
pub(crate) struct Token {
    pub(crate) span: std::ops::Range<usize>,
    pub(crate) raw: String,
}

impl Token {
    pub(crate) fn is_operator(&self) -> bool {
        self.raw.starts_with(OPERATOR_CHARS) || self.raw == "\n"
    }
}

/// Characters that make up the shell's operators.
const OPERATOR_CHARS: [char; 7] = ['|', '&', ';', '(', ')', '<', '>'];

/// The words and operators of `command`, where they are: a word runs to a blank or an
/// operator outside quotes, `$(...)` and `${...}`; a newline is an operator, and so is a run
/// of up to two of the same operator character (`|`, `||`, `>>`).
pub(crate) fn tokens(command: &str) -> Vec<Token> {
    let bytes = command.as_bytes();
    let operator = |c: u8| OPERATOR_CHARS.contains(&(c as char));
    let mut spans = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let c = bytes[at];
        let start = at;
        if c == b'\n' {
            at += 1;
        } else if c.is_ascii_whitespace() {
            at += 1;
            continue;
        } else if operator(c) {
            at += 1;
            if bytes.get(at) == Some(&c) {
                at += 1;
            }
        } else {
            let mut depth = 0usize;
            let mut quote: Option<u8> = None;
            while at < bytes.len() {
                let c = bytes[at];
                match quote {
                    Some(q) if c == q => quote = None,
                    Some(b'"' | b'`') if c == b'\\' => at += 1,
                    Some(_) => {}
                    None => match c {
                        b'\\' => at += 1,
                        b'\'' | b'"' | b'`' => quote = Some(c),
                        b'$' if matches!(bytes.get(at + 1), Some(b'(' | b'{')) => {
                            depth += 1;
                            at += 1;
                        }
                        b'(' | b'{' if depth > 0 => depth += 1,
                        b')' | b'}' if depth > 0 => depth -= 1,
                        _ if depth == 0 && (c.is_ascii_whitespace() || operator(c)) => break,
                        _ => {}
                    },
                }
                at += 1;
            }
            at = at.min(bytes.len());
        }
        spans.push(start..at);
    }
    spans
        .into_iter()
        .map(|span| Token {
            raw: command[span.clone()].to_owned(),
            span,
        })
        .collect()
}

/// Words after which a word names a program to run.
const BEFORE_A_PROGRAM: &[&str] = &[
    "|", "||", "&&", ";", "&", "(", "{", "\n", "then", "do", "else", "!", "xargs", "sudo", "time",
    "nice", "env", "-exec", "-execdir", "-ok", "-okdir", "command", "exec",
];

/// Whether the word at `at` stands where a program does: first, or after an operator, a
/// keyword or a wrapper, the wrapper's options in between (`xargs -0 grep`).
pub(crate) fn in_command_position(tokens: &[Token], at: usize) -> bool {
    tokens[..at]
        .iter()
        .rev()
        .find(|t| !t.raw.starts_with('-') || BEFORE_A_PROGRAM.contains(&t.raw.as_str()))
        .is_none_or(|t| BEFORE_A_PROGRAM.contains(&t.raw.as_str()))
}

/// The first of `programs` that `tokens` run, as its index and its name.
fn program_token<'a>(tokens: &[Token], programs: &[&'a str]) -> Option<(usize, &'a str)> {
    tokens.iter().enumerate().find_map(|(at, token)| {
        let program = programs.iter().find(|p| **p == base(&token.raw))?;
        in_command_position(tokens, at).then_some((at, *program))
    })
}

/// `command` with `text` inserted after `token`.
fn insert(command: &str, token: &Token, text: &str) -> String {
    let mut changed = command.to_owned();
    changed.insert_str(token.span.end, text);
    changed
}

/// Phrases for the lines two files have in common.
const IN_BOTH: &[&str] = &["in both", "in common", "common to both", "shared by both"];

/// [`Asked::Lines`], if `request` names two files and asks for the lines in both, or for those
/// of one that are "not in" (or "missing from") the other, or "only in" one.
fn lines_asked(request: &str) -> Option<Asked> {
    let lower = request.to_lowercase();
    let files: Vec<String> = lower
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| "'\"`,;:?!()".contains(c)))
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| w.contains(['.', '/']) && w.chars().any(char::is_alphanumeric))
        .map(str::to_owned)
        .fold(Vec::new(), |mut files, w| {
            if !files.contains(&w) {
                files.push(w);
            }
            files
        });
    let [first, second] = &files[..] else {
        return None;
    };
    let spaced = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    let after = |phrase: &str, file: &str| spaced.contains(&format!("{phrase} {file}"));
    let other = |file: &String| if file == first { second } else { first };
    for file in [first, second] {
        if ["not in", "missing from", "absent from"]
            .iter()
            .any(|phrase| after(phrase, file))
        {
            return Some(Asked::Lines {
                only_in: Some(other(file).clone()),
            });
        }
        if after("only in", file) {
            return Some(Asked::Lines {
                only_in: Some(file.clone()),
            });
        }
    }
    IN_BOTH
        .iter()
        .any(|phrase| spaced.contains(phrase))
        .then_some(Asked::Lines { only_in: None })
}

/// A `comm` in a command: its place, the columns it leaves out and its two files as written.
struct CommCall {
    /// Where its words start and end in the command.
    span: std::ops::Range<usize>,
    /// Its words as written, at the top level (`<(sort a.txt)` is one).
    words: Vec<String>,
    /// The columns it leaves out, in order (`12` for `-12`).
    left_out: String,
}

impl CommCall {
    /// The first `comm` of `command`, if it has one with two files.
    fn find(command: &str) -> Option<CommCall> {
        let start = command
            .match_indices("comm")
            .map(|(at, _)| at)
            .find(|&at| {
                command[..at]
                    .chars()
                    .next_back()
                    .is_none_or(|c| c.is_whitespace() || "|;&(".contains(c))
                    && command[at + 4..].starts_with([' ', '\t'])
            })?;
        // Its words, up to the end of its simple command, brackets kept whole.
        let mut words = Vec::new();
        let (mut depth, mut word, mut end) = (0i32, String::new(), command.len());
        for (i, c) in command[start..].char_indices() {
            let at = start + i;
            match c {
                '(' => depth += 1,
                ')' if depth > 0 => depth -= 1,
                '|' | ';' | '&' | '\n' | ')' if depth == 0 => {
                    end = at;
                    break;
                }
                _ => {}
            }
            if c.is_whitespace() && depth == 0 {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            } else {
                word.push(c);
            }
        }
        if !word.is_empty() {
            words.push(word);
        }
        let end = command[..end].trim_end().len();
        let left_out: String = words[1..]
            .iter()
            .filter(|w| {
                w.len() > 1 && w.starts_with('-') && w[1..].chars().all(|c| "123".contains(c))
            })
            .flat_map(|w| w[1..].chars())
            .collect();
        let mut left_out: Vec<char> = left_out.chars().collect();
        left_out.sort_unstable();
        left_out.dedup();
        let call = CommCall {
            span: start..end,
            words,
            left_out: left_out.into_iter().collect(),
        };
        (call.files().len() == 2).then_some(call)
    }

    /// Its two files, as written.
    fn files(&self) -> Vec<&String> {
        self.words[1..]
            .iter()
            .filter(|w| !w.starts_with('-') || *w == "-")
            .collect()
    }

    /// The columns to leave out to print the lines only in `file` (or in both, for `None`);
    /// `None` when neither of its files is `file`.
    fn columns_left_out(&self, file: Option<&str>) -> Option<String> {
        let Some(file) = file else {
            return Some("12".into());
        };
        let names = |word: &str| {
            word.match_indices(file).any(|(at, _)| {
                word[..at]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !(c.is_alphanumeric() || c == '.' || c == '_' || c == '-'))
                    && word[at + file.len()..]
                        .chars()
                        .next()
                        .is_none_or(|c| !(c.is_alphanumeric() || c == '.' || c == '_'))
            })
        };
        let files = self.files();
        match (names(files[0]), names(files[1])) {
            (true, false) => Some("23".into()),
            (false, true) => Some("13".into()),
            _ => None,
        }
    }

    /// What it prints, in words.
    fn prints(&self) -> &'static str {
        match self.left_out.as_str() {
            "12" => "the lines in both files",
            "23" => "the lines only in the first file",
            "13" => "the lines only in the second file",
            "" => "three columns: lines only in the first, only in the second, in both",
            _ => "other columns",
        }
    }

    /// `command` with this `comm` leaving out `columns` (`-23`) and no others.
    fn with_columns_left_out(&self, command: &str, columns: &str) -> String {
        let kept = self.words[1..].iter().filter(|w| {
            !(w.len() > 1 && w.starts_with('-') && w[1..].chars().all(|c| "123".contains(c)))
        });
        let mut call = format!("{} -{columns}", self.words[0]);
        for word in kept {
            call.push(' ');
            call.push_str(word);
        }
        format!(
            "{}{call}{}",
            &command[..self.span.start],
            &command[self.span.end..]
        )
    }
}

/// The first thing `request` asks for in so many words that `command` leaves out, and why.
pub fn unheeded(request: &str, command: &str) -> Option<(Asked, String)> {
    Asked::in_request(request)
        .into_iter()
        .find_map(|asked| asked.unheeded_by(command).map(|why| (asked, why)))
}

/// `text` lowercased, with `-`, `/`, `_` and curly apostrophes made plain and white space
/// collapsed: "Case-Insensitive" and "upper/lower case" read as "case insensitive" and "upper
/// lower case".
fn spaced(text: &str) -> String {
    let plain: String = text
        .to_lowercase()
        .chars()
        .map(|c| match c {
            '-' | '/' | '_' => ' ',
            '\u{2019}' => '\'',
            c => c,
        })
        .collect();
    plain.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Phrases (as [`spaced`] writes them) that ask for case to be ignored.
const IGNORE_CASE: &[&str] = &[
    "ignoring case",
    "ignore case",
    "ignores case",
    "ignoring the case",
    "ignore the case",
    "ignoring letter case",
    "ignore letter case",
    "case insensitive",
    "regardless of case",
    "regardless of the case",
    "regardless of letter case",
    "without regard to case",
    "no matter the case",
    "whatever the case",
    "any letter case",
    "either case",
    "any capitalization",
    "any capitalisation",
    "case doesn't matter",
    "case does not matter",
    "case should not matter",
    "case shouldn't matter",
    "not case sensitive",
    "upper or lower case",
    "upper or lowercase",
    "upper lower case",
    "upper and lower case",
    "uppercase or lowercase",
    "lower or upper case",
    "lowercase or uppercase",
];

/// Whether `command` (its `words`) matches without regard to case somewhere: an option that
/// does (`grep -i`, `find -iname`, `sort -f`, sed's `I`), a conversion (`tolower`, `tr A-Z
/// a-z`, `${x,,}`), or both cases of a letter in brackets (`[Tt]odo`).
fn ignores_case(command: &str, commands: &[SimpleCommand]) -> bool {
    const SIGNS: &[&str] = &[
        "(?i)",
        "tolower",
        "toupper",
        "IGNORECASE",
        "nocaseglob",
        "nocasematch",
        ",,}",
        "^^}",
        "(#i)",
        "--ignore-case",
    ];
    SIGNS.iter().any(|sign| command.contains(sign))
        || brackets_both_cases(command)
        || commands.iter().any(|c| {
            let args = &c.args;
            match base(&c.program) {
                "find" => args.iter().any(|a| {
                    matches!(
                        a.as_str(),
                        "-iname" | "-ipath" | "-iwholename" | "-iregex" | "-ilname"
                    )
                }),
                "sort" => has_short(args, 'f'),
                "look" => has_short(args, 'f'),
                "sed" => args.iter().any(|a| has_flag(a, "gpIiMme0123456789dD")),
                "perl" => args.iter().any(|a| has_flag(a, "msixgoe")),
                "tr" => args
                    .iter()
                    .any(|a| a.contains("upper") || a.contains("lower") || a.contains("A-Z")),
                program if GREP_LIKE.contains(&program) || program == "git" => {
                    has_short(args, 'i') || (program.contains("grep") && has_short(args, 'y'))
                }
                _ => false,
            }
        })
}

/// grep and its relatives for compressed files.
const GREPS: &[&str] = &[
    "grep", "egrep", "fgrep", "zgrep", "zegrep", "zfgrep", "bzgrep", "xzgrep",
];

/// Programs whose `-i` ignores case.
const GREP_LIKE: &[&str] = &[
    "grep", "egrep", "fgrep", "zgrep", "zegrep", "zfgrep", "bzgrep", "xzgrep", "rg", "ag", "ack",
    "pgrep", "pkill", "locate", "plocate", "mlocate", "uniq", "join", "diff", "less", "fd",
];

/// What ignoring case takes with `command`'s program, if the program is one that matches.
fn case_hint(command: &SimpleCommand) -> Option<&'static str> {
    Some(match base(&command.program) {
        "find" => "find's -name and -path match case; -iname and -ipath do not",
        "sort" => "sort keeps upper and lower case apart unless given -f",
        "uniq" => "uniq compares case unless given -i",
        "sed" => "sed matches case unless its s command or address has the I flag",
        "awk" | "gawk" | "mawk" => "awk matches case; compare tolower() of the text",
        program if GREP_LIKE.contains(&program) && program.contains("grep") => {
            "grep matches case unless given -i"
        }
        "ls" | "echo" | "for" => "a glob matches case; [Xx] brackets do not",
        _ => return None,
    })
}

/// Whether `args` has a short option cluster (`-ri`, `-i`) holding `letter`; `--long`
/// options and find's one-dash words do not count.
fn has_short(args: &[String], letter: char) -> bool {
    args.iter().any(|a| {
        a.strip_prefix('-').is_some_and(|cluster| {
            !cluster.starts_with('-')
                && cluster.chars().all(|c| c.is_ascii_alphanumeric())
                && cluster.contains(letter)
        })
    })
}

/// Whether `script` has a `/` followed by a run of flags from `flags` that holds `i` or `I`,
/// ending the word or followed by `;`, `}`, `)`, `,` or a blank: `s/a/b/gI`, `/re/Ip`,
/// `/re/i`. `s/x/in/` and `/tmp/file` have none.
fn has_flag(script: &str, flags: &str) -> bool {
    script.match_indices('/').any(|(at, _)| {
        let rest = &script[at + 1..];
        let run = rest
            .find(|c: char| !flags.contains(c))
            .unwrap_or(rest.len());
        let ends = rest[run..]
            .chars()
            .next()
            .is_none_or(|c| matches!(c, ';' | '}' | ')' | ',') || c.is_whitespace());
        ends && rest[..run].contains(['i', 'I'])
    })
}

/// Whether `command` has a bracket expression with the two cases of one letter, `[Tt]`.
fn brackets_both_cases(command: &str) -> bool {
    command.split('[').skip(1).any(|after| {
        let Some(inside) = after.split(']').next() else {
            return false;
        };
        inside
            .chars()
            .any(|c| c.is_ascii_lowercase() && inside.contains(c.to_ascii_uppercase()))
    })
}

/// Names of an exit status, as word pairs.
const EXIT_STATUS: &[[&str; 2]] = &[
    ["exit", "status"],
    ["exit", "statuses"],
    ["exit", "code"],
    ["exit", "codes"],
    ["exit", "value"],
    ["return", "code"],
    ["return", "status"],
    ["return", "value"],
];
/// Verbs that ask for something to be shown.
const SHOW: &[&str] = &[
    "print", "show", "report", "echo", "display", "tell", "output", "give", "say", "write",
];
/// Words after which the exit status is a condition, not what to show ("print ok if the exit
/// status is 0").
const CONDITION: &[&str] = &[
    "if",
    "when",
    "unless",
    "whether",
    "depending",
    "based",
    "otherwise",
];

/// Whether `spaced` asks for an exit status to be shown: a verb for it, then within eight words
/// of the same sentence and with no condition between, a name of it ("show grep's exit
/// status", "print each script's path followed by its exit code").
fn asks_for_exit_status(spaced: &str) -> bool {
    spaced.split(['.', ';', '?', '!']).any(|sentence| {
        let words: Vec<&str> = sentence
            .split(|c: char| !(c.is_alphanumeric() || c == '\''))
            .filter(|w| !w.is_empty())
            .collect();
        words.iter().enumerate().any(|(at, word)| {
            SHOW.contains(word)
                && words[at + 1..]
                    .iter()
                    .take(10)
                    .take_while(|w| !CONDITION.contains(w))
                    .collect::<Vec<_>>()
                    .windows(2)
                    .any(|pair| {
                        EXIT_STATUS
                            .iter()
                            .any(|name| *pair[0] == name[0] && *pair[1] == name[1])
                    })
        })
    })
}

/// Whether `command` prints `$?` (outside single quotes, where it is not expanded) or the
/// statuses bash, zsh and fish keep (`PIPESTATUS`, `$status`).
fn prints_exit_status(command: &str) -> bool {
    if ["PIPESTATUS", "$status", "$pipestatus"]
        .iter()
        .any(|s| command.contains(s))
    {
        return true;
    }
    let mut single = false;
    let mut chars = command.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => single = !single,
            '\\' if !single => {
                chars.next();
            }
            '$' if !single => match chars.peek() {
                Some('?') => return true,
                Some('{') => {
                    chars.next();
                    if chars.peek() == Some(&'?') {
                        return true;
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    false
}

/// Where `&&` stands before an `echo` or `printf` of `$?` (`make && echo $?`), which prints
/// 0 whenever it prints at all, as its index in `tokens`.
fn status_after_and(tokens: &[Token]) -> Option<usize> {
    tokens.iter().enumerate().find_map(|(at, token)| {
        let printed = tokens.get(at + 1)?;
        let status = tokens[at + 2..]
            .iter()
            .take_while(|t| !t.is_operator())
            .any(|t| prints_exit_status(&t.raw));
        (token.raw == "&&" && matches!(printed.raw.as_str(), "echo" | "printf") && status)
            .then_some(at)
    })
}

/// Quotes a text to print can stand in, with the one that closes each.
const QUOTES: &[(char, char)] = &[
    ('\'', '\''),
    ('"', '"'),
    ('`', '`'),
    ('\u{2018}', '\u{2019}'),
    ('\u{201c}', '\u{201d}'),
];
/// Words for a text before the quoted text ("print the message 'done'").
const TEXT_NOUNS: &[&str] = &["word", "words", "text", "message", "string", "line"];
/// Words in a quoted text that make it a pattern of lines rather than words to print ("print
/// 'name: size' for each file").
const TEMPLATE_WORDS: &[&str] = &[
    "name", "names", "path", "paths", "size", "count", "number", "date", "time", "user", "group",
    "file", "value", "values", "id", "n", "x", "text", "line", "mode",
];

/// The texts `request` asks to be printed word for word: a quoted text right after a verb
/// for showing (`print 'timed out'`, `then echo "all done"`, `print the message 'ok'`).
/// Not a pattern of lines: nothing with a placeholder (`'exit code N'`, `'METHOD count'`,
/// `'name: size'`, `'...'`), nor one followed by "lines" or asked for each of several things.
fn texts_to_print(request: &str) -> Vec<(String, Option<bool>)> {
    let lower = request.to_lowercase();
    if lower
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| matches!(w, "each" | "every" | "per"))
    {
        return Vec::new();
    }
    let mut texts = Vec::new();
    for (at, open) in request.char_indices() {
        let Some(&(_, close)) = QUOTES.iter().find(|(o, _)| *o == open) else {
            continue;
        };
        let before = &request[..at];
        if !before.is_empty() && !before.ends_with(char::is_whitespace) {
            continue;
        }
        let after = &request[at + open.len_utf8()..];
        let Some(end) = closing(after, close) else {
            continue;
        };
        let text = &after[..end];
        let rest = after[end + close.len_utf8()..].trim_start().to_lowercase();
        let mut preceding = before.split_whitespace().rev().map(str::to_lowercase);
        let mut word = preceding.next().unwrap_or_default();
        if TEXT_NOUNS.contains(&word.as_str()) {
            word = preceding.next().unwrap_or_default();
            if matches!(word.as_str(), "the" | "a") {
                word = preceding.next().unwrap_or_default();
            }
        }
        let word = word.trim_matches(|c: char| !c.is_alphanumeric());
        let shown = SHOW.contains(&word) && word != "give";
        let template = text.contains("...")
            || text.contains(['<', '{', '%', '$'])
            || text.split(|c: char| !c.is_alphanumeric()).any(|w| {
                TEMPLATE_WORDS.contains(&w.to_lowercase().as_str())
                    || (!w.is_empty() && w.chars().all(|c| c.is_ascii_uppercase()) && w.len() > 1)
            })
            || rest.starts_with("line")
            || rest.starts_with("as ");
        if shown && !template && !text.trim().is_empty() && !texts.iter().any(|(t, _)| t == text) {
            let clause_start = before.rfind(['.', ';', '?', '!']).map_or(0, |at| at + 1);
            let clause_end = after[end..]
                .find(['.', ';', '?', '!'])
                .map_or(after.len(), |at| end + at);
            let clause = format!(
                "{} {}",
                &before[clause_start..],
                &after[end + close.len_utf8()..clause_end]
            );
            texts.push((text.to_owned(), outcome(&spaced(&clause))));
        }
    }
    texts
}

/// Phrases that say a command failed, and that it succeeded.
const FAILED: &[&str] = &[
    "fail",
    "had to be stopped",
    "was stopped",
    "gets stopped",
    "had to be killed",
    "was killed",
    "times out",
    "timed out",
    "time out",
    "unsuccessful",
    "not succeed",
    "doesn't succeed",
    "didn't succeed",
    "errors out",
];
const SUCCEEDED: &[&str] = &["succeeds", "succeeded", "successful", "on success"];

/// Whether `clause` makes what it prints depend on a command failing (`Some(true)`) or
/// succeeding (`Some(false)`), if it says one of them only.
fn outcome(clause: &str) -> Option<bool> {
    let failed = FAILED.iter().any(|p| clause.contains(p));
    let succeeded = SUCCEEDED.iter().any(|p| clause.contains(p));
    (failed != succeeded).then_some(failed)
}

/// Where `text` is printed (by `echo` or `printf`) right after `&&` though it is asked for
/// when the command fails, or after `||` though asked for when it succeeds: the operator's
/// index in `tokens`, and why. Not judged where the command negates (`!`) or tests in an `if`.
fn wrong_branch(tokens: &[Token], text: &str, failed: bool) -> Option<(usize, String)> {
    if tokens
        .iter()
        .any(|t| matches!(t.raw.as_str(), "!" | "if" | "then" | "[" | "test" | "[["))
    {
        return None;
    }
    let (wrong, right) = if failed { ("&&", "||") } else { ("||", "&&") };
    tokens.iter().enumerate().find_map(|(at, token)| {
        let printer = tokens.get(at + 1)?;
        let prints = tokens[at + 2..]
            .iter()
            .take_while(|t| !t.is_operator())
            .map(|t| t.raw.replace(['\'', '"', '\\'], ""))
            .collect::<Vec<_>>()
            .join(" ")
            .contains(text);
        (token.raw == wrong && matches!(printer.raw.as_str(), "echo" | "printf") && prints).then(|| {
            let when = if failed { "succeeds" } else { "fails" };
            let other = if failed { "fails" } else { "succeeds" };
            (
                at,
                format!("`{wrong}` prints it when what comes before {when}; `{right}` prints it when that {other}"),
            )
        })
    })
}

/// Where the quote `close` that ends a text starting at `after` is: the first one followed by
/// no letter or digit (so `'it's done'` is one text).
fn closing(after: &str, close: char) -> Option<usize> {
    after.match_indices(close).map(|(at, _)| at).find(|&at| {
        after[at + close.len_utf8()..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric())
    })
}

/// Verbs that ask for files to be kept, and words that name what is kept.
const KEEP: &[&str] = &[
    "keep",
    "keeping",
    "leave",
    "leaving",
    "preserve",
    "preserving",
    "retain",
    "retaining",
];
const NOT: &[&str] = &["don't", "dont", "do not", "without", "not", "never"];
const DELETE: &[&str] = &[
    "delete",
    "deleting",
    "remove",
    "removing",
    "lose",
    "losing",
    "destroy",
    "destroying",
    "touch",
    "touching",
];
const KEPT: &[&str] = &[
    "original",
    "originals",
    "source",
    "sources",
    "uncompressed",
    "compressed",
    "archive",
    "archives",
    "input",
    "inputs",
    "file",
    "files",
];

/// Whether `spaced` asks for the files a command reads to be kept: a verb for keeping, then
/// within four words a word for them ("keeping the originals", "leave the compressed file
/// there"), or a negated verb for deleting, then within three words a word for them or a
/// file name ("without removing dump.sql", "do not remove the uncompressed files").
fn asks_to_keep_originals(spaced: &str) -> bool {
    let words: Vec<&str> = spaced
        .split(' ')
        .map(|w| w.trim_matches(|c: char| !(c.is_alphanumeric() || c == '.' || c == '\'')))
        .collect();
    let names_kept = |from: usize, within: usize| {
        words[from..]
            .iter()
            .take(within)
            .any(|w| KEPT.contains(w) || (w.contains('.') && w.len() > 1 && !w.ends_with('.')))
    };
    words.iter().enumerate().any(|(at, word)| {
        if KEEP.contains(word) {
            return names_kept(at + 1, 4) && !matches!(words.get(at + 1), Some(&"only"));
        }
        let negated = at >= 1 && NOT.contains(&words[at - 1])
            || at >= 2 && NOT.contains(&format!("{} {}", words[at - 2], words[at - 1]).as_str());
        DELETE.contains(word) && negated && names_kept(at + 1, 3)
    })
}

/// Compressors that delete the file they are given once they have written the other.
const DELETE_INPUT: &[&str] = &[
    "gzip", "gunzip", "pigz", "unpigz", "bzip2", "bunzip2", "pbzip2", "xz", "unxz", "lzma",
    "unlzma", "lzip",
];

/// `command`'s program, if it is one that deletes the file it is given and nothing in
/// `command` keeps it: no `-k`/`--keep`, no `-c`/`--stdout`, and a file to work on (one read
/// from a pipe is not deleted).
fn deletes_its_input(command: &SimpleCommand) -> Option<&str> {
    let program = base(&command.program);
    if !DELETE_INPUT.contains(&program) {
        return None;
    }
    let keeps = has_short(&command.args, 'k')
        || has_short(&command.args, 'c')
        || command
            .args
            .iter()
            .any(|a| matches!(a.as_str(), "--keep" | "--stdout" | "--to-stdout" | "-"));
    let given_files = command.args.iter().any(|a| !a.starts_with('-'))
        || command
            .wrappers
            .iter()
            .any(|w| matches!(base(w), "xargs" | "parallel"));
    (!keeps && given_files).then_some(program)
}

/// Verbs for saving output to a file.
const SAVE: &[&str] = &[
    "save",
    "saving",
    "write",
    "writing",
    "log",
    "logging",
    "store",
    "storing",
    "capture",
    "capturing",
    "record",
    "recording",
    "copy",
    "copying",
];
/// Phrases (as [`spaced`] writes them) that ask to see output as well.
const SHOWN: &[&str] = &[
    "on screen",
    "on the screen",
    "on my screen",
    "on the terminal",
    "in the terminal",
    "while showing",
    "while still showing",
    "while displaying",
    "while printing",
    "and show it",
    "and also show",
    "also show",
    "and display it",
    "also display",
    "as well as show",
    "still see",
    "see it too",
    "also want to see",
    "also see",
    "watch it",
];

/// Whether `spaced` asks for output saved to a file and shown as well: a verb of [`SAVE`]
/// with "to", "into" or "in" within six words after it ("log in" is no saving), and a phrase of
/// [`SHOWN`].
fn asks_to_save_and_show(spaced: &str) -> bool {
    let words: Vec<&str> = spaced
        .split(' ')
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .collect();
    let saves = words.iter().enumerate().any(|(at, word)| {
        let logs_in =
            *word == "log" && matches!(words.get(at + 1), Some(&("in" | "into" | "on" | "out")));
        SAVE.contains(word)
            && !logs_in
            && words[at + 1..]
                .iter()
                .take(6)
                .any(|w| matches!(*w, "to" | "into" | "in"))
    });
    saves && SHOWN.iter().any(|phrase| spaced.contains(phrase))
}

/// Phrases (as [`spaced`] writes them) that ask for nothing to be changed, only shown.
const DRY_RUN: &[&str] = &[
    "dry run",
    "dryrun",
    "without actually",
    "don't actually",
    "dont actually",
    "do not actually",
    "without running it",
    "without running them",
    "without executing it",
    "without changing anything",
    "without touching anything",
    "without deleting anything",
    "without removing anything",
    "without making any changes",
    "without making changes",
    "don't change anything",
    "do not change anything",
    "don't delete anything",
    "do not delete anything",
    "don't remove anything",
    "do not remove anything",
    "change nothing",
    "simulate",
    "simulating",
];
/// Verbs that, within three words after "would", ask what a command would do ("which files
/// would git clean remove", "what would be copied").
const WOULD_DO: &[&str] = &[
    "delete",
    "deleted",
    "remove",
    "removed",
    "copy",
    "copied",
    "move",
    "moved",
    "change",
    "changed",
    "transfer",
    "transferred",
    "install",
    "installed",
    "upgrade",
    "upgraded",
    "clean",
    "cleaned",
    "run",
    "do",
    "overwrite",
    "overwritten",
    "sync",
    "synced",
    "rename",
    "renamed",
];

/// Whether `spaced` asks for a dry run: one of [`DRY_RUN`] (not followed by "else"), or
/// "would" in a question about what a command would do: "what", "which", "how many" or
/// "whether" within six words before it, and a verb of [`WOULD_DO`] within three words after
/// ("which files would git clean remove", "show what would be copied"; not "I would like to
/// delete ...").
fn asks_for_a_dry_run(spaced: &str) -> bool {
    // "don't change anything else" keeps the rest as it is: the change asked for is made.
    let said = |phrase: &&str| {
        spaced.match_indices(*phrase).any(|(at, _)| {
            let after = &spaced[at + phrase.len()..];
            !after.trim_start().starts_with("else")
        })
    };
    if DRY_RUN.iter().any(said) {
        return true;
    }
    let words: Vec<&str> = spaced
        .split(' ')
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .collect();
    words.iter().enumerate().any(|(at, word)| {
        let asked = words[at.saturating_sub(6)..at]
            .iter()
            .any(|w| matches!(*w, "what" | "which" | "how" | "whether"));
        *word == "would"
            && asked
            && !matches!(
                words.get(at + 1),
                Some(&("like" | "love" | "want" | "prefer"))
            )
            && words[at + 1..].iter().take(3).any(|w| WOULD_DO.contains(w))
    })
}

/// A program that only shows what it would do when given an option.
struct DryRunOption {
    program: &'static str,
    /// The subcommands that have it; none: the program itself.
    subcommands: &'static [&'static str],
    /// The option's letter.
    letter: Option<char>,
    /// Its long spellings.
    long: &'static [&'static str],
    /// The option a repair adds.
    repair: Option<&'static str>,
}

const MAKE_DRY: &[&str] = &["--just-print", "--dry-run", "--recon"];
const APT_DRY: &[&str] = &[
    "--simulate",
    "--dry-run",
    "--just-print",
    "--no-act",
    "--recon",
];

/// Programs with a dry run.
const DRY_RUN_OPTIONS: &[DryRunOption] = &[
    DryRunOption {
        program: "make",
        subcommands: &[],
        letter: Some('n'),
        long: MAKE_DRY,
        repair: Some(" -n"),
    },
    DryRunOption {
        program: "gmake",
        subcommands: &[],
        letter: Some('n'),
        long: MAKE_DRY,
        repair: Some(" -n"),
    },
    DryRunOption {
        program: "rsync",
        subcommands: &[],
        letter: Some('n'),
        long: &["--dry-run"],
        repair: Some(" --dry-run"),
    },
    DryRunOption {
        program: "git",
        subcommands: &["clean", "rm", "add", "mv", "push"],
        letter: Some('n'),
        long: &["--dry-run"],
        repair: Some(" -n"),
    },
    DryRunOption {
        program: "apt-get",
        subcommands: &[],
        letter: Some('s'),
        long: APT_DRY,
        repair: Some(" -s"),
    },
    DryRunOption {
        program: "apt",
        subcommands: &[],
        letter: Some('s'),
        long: APT_DRY,
        repair: Some(" -s"),
    },
    DryRunOption {
        program: "dnf",
        subcommands: &[],
        letter: None,
        long: &["--assumeno"],
        repair: None,
    },
    DryRunOption {
        program: "yum",
        subcommands: &[],
        letter: None,
        long: &["--assumeno"],
        repair: None,
    },
    DryRunOption {
        program: "pip",
        subcommands: &[],
        letter: None,
        long: &["--dry-run"],
        repair: None,
    },
    DryRunOption {
        program: "pip3",
        subcommands: &[],
        letter: None,
        long: &["--dry-run"],
        repair: None,
    },
    DryRunOption {
        program: "npm",
        subcommands: &[],
        letter: None,
        long: &["--dry-run"],
        repair: None,
    },
];
/// Programs that change files whatever they are given, and have no dry run.
const CHANGERS: &[&str] = &[
    "rm", "rmdir", "mv", "cp", "mkdir", "touch", "chmod", "chown", "chgrp", "ln", "truncate",
    "shred", "unlink", "rename", "dd", "zip", "gzip", "gunzip", "bzip2", "bunzip2", "xz", "unxz",
];

/// How a command that changes something is made to show it instead.
#[derive(Debug, Clone, Copy)]
enum DryRepair {
    /// The dry-run option after the program (after git's subcommand).
    Insert(&'static str),
    /// find's `-delete` made `-print`.
    PrintForDelete,
}

/// A command that changes something where a dry run is asked for.
struct Change {
    /// Its program.
    program: String,
    /// Why it changes something.
    why: String,
    /// How it is made to show it, where a small change does.
    repair: Option<DryRepair>,
}

/// The commands of `commands` that change files or run what they would only show.
fn changes(commands: &[SimpleCommand]) -> Vec<Change> {
    commands
        .iter()
        .filter_map(|command| {
            let program = base(&command.program);
            if let Some(DryRunOption {
                subcommands,
                letter,
                long,
                repair,
                ..
            }) = DRY_RUN_OPTIONS.iter().find(|o| o.program == program)
            {
                let (name, args) = match subcommands[..] {
                    [] => (program.to_owned(), &command.args[..]),
                    _ => {
                        let (sub, args) = command.args.split_first()?;
                        if !subcommands.contains(&sub.as_str()) {
                            return None;
                        }
                        (format!("{program} {sub}"), args)
                    }
                };
                let dry = letter.is_some_and(|letter| has_short(args, letter))
                    || args.iter().any(|a| long.contains(&a.as_str()));
                if dry {
                    return None;
                }
                let option = repair.map_or(long[0], str::trim);
                return Some(Change {
                    program: program.to_owned(),
                    why: format!("{name} runs what it would only show: {name} {option} shows it"),
                    repair: repair.map(DryRepair::Insert),
                });
            }
            let edits_in_place = matches!(program, "sed" | "perl")
                && command
                    .args
                    .iter()
                    .any(|a| a.starts_with("-i") || a == "--in-place" || a.starts_with("-pi"));
            if program == "find" && command.args.iter().any(|a| a == "-delete") {
                return Some(Change {
                    program: program.to_owned(),
                    why: "find -delete deletes what it finds: find -print lists it".to_owned(),
                    repair: Some(DryRepair::PrintForDelete),
                });
            }
            (CHANGERS.contains(&program) || edits_in_place).then(|| Change {
                program: program.to_owned(),
                why: format!("{program} changes files: list what it would change instead"),
                repair: None,
            })
        })
        .collect()
}

/// Words (as [`spaced`] writes them) for hidden files, and for folders inside folders.
const HIDDEN: &[&str] = &["hidden", "dotfiles", "dotfile", "dot files", "dot file"];
const RECURSIVE: &[&str] = &[
    "recursive",
    "recursively",
    "subfolders",
    "subfolder",
    "sub folders",
    "subdirectories",
    "subdirectory",
    "sub directories",
    "subdirs",
    "nested folders",
    "nested directories",
    "whole tree",
    "entire tree",
    "any depth",
    "all levels",
    "every level",
    "anywhere under",
    "anywhere below",
    "anywhere beneath",
    "below here",
    "this tree",
    "all the way down",
];
/// Words that, up to three before such a word, ask for the opposite ("skip hidden ones",
/// "not in its subfolders", "non-recursive").
const LEAVE_OUT: &[&str] = &[
    "not",
    "no",
    "non",
    "skip",
    "skipping",
    "exclude",
    "excluding",
    "without",
    "ignore",
    "ignoring",
    "except",
    "than",
    "but",
    "only",
    "don't",
    "dont",
    "out",
];

/// Whether `spaced` names one of `terms` without a word before it that leaves them out.
fn mentions(spaced: &str, terms: &[&str]) -> bool {
    terms.iter().any(|term| {
        spaced.match_indices(term).any(|(at, _)| {
            let starts_a_word = spaced[..at]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric());
            let ends_a_word = spaced[at + term.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_alphanumeric());
            let before: Vec<&str> = spaced[..at]
                .split(|c: char| !(c.is_alphanumeric() || c == '\''))
                .filter(|w| !w.is_empty())
                .rev()
                .take(3)
                .collect();
            starts_a_word && ends_a_word && !before.iter().any(|w| LEAVE_OUT.contains(w))
        })
    })
}

/// Why `command` leaves out names that start with a dot, if it does: `ls` without `-a` or
/// `-A`, or a `*` outside quotes with nothing that matches dot names beside it.
fn hides_dot_files(command: &str, commands: &[SimpleCommand]) -> Option<String> {
    let dot_names = ["dotglob", "GLOBIGNORE", ".*", ".[", ".?", "(D)"]
        .iter()
        .any(|sign| command.contains(sign));
    if dot_names || commands.iter().any(|c| base(&c.program) == "find") {
        return None;
    }
    let ls = commands.iter().find(|c| base(&c.program) == "ls");
    if let Some(ls) = ls
        && !(has_short(&ls.args, 'a') || has_short(&ls.args, 'A'))
        && !ls
            .args
            .iter()
            .any(|a| a.starts_with("--all") || a == "--almost-all")
    {
        return Some("ls leaves out names that start with a dot unless given -A".to_owned());
    }
    unquoted_star(command).then(|| {
        "`*` does not match names that start with a dot; `shopt -s dotglob` first, or find, does"
            .to_owned()
    })
}

/// Whether `command` has a `*` outside quotes, where the shell expands it.
fn unquoted_star(command: &str) -> bool {
    let mut quote = None;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\\') => {
                chars.next();
            }
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '*') => return true,
            _ => {}
        }
    }
    false
}

/// Why `command` stays in the folders it names, if it does: a program that goes into folders
/// only when told (`grep`, `ls`, `chmod`, `cp`) without being told, and no `find` or `**`.
fn stays_at_the_top(command: &str, commands: &[SimpleCommand]) -> Option<String> {
    if command.contains("**") || commands.iter().any(|c| base(&c.program) == "find") {
        return None;
    }
    commands
        .iter()
        .find_map(|c| {
            let program = base(&c.program);
            let told = |letters: &str, long: &[&str]| {
                letters.chars().any(|l| has_short(&c.args, l))
                    || c.args.iter().any(|a| long.iter().any(|l| a.starts_with(l)))
            };
            let why = match program {
                "grep" | "egrep" | "fgrep" | "zgrep"
                    if !told(
                        "rR",
                        &[
                            "--recursive",
                            "--dereference-recursive",
                            "--directories=recurse",
                        ],
                    ) =>
                {
                    "grep reads only the files it is given unless given -r"
                }
                "ls" if !told("R", &["--recursive"]) => "ls lists one level unless given -R",
                "chmod" | "chown" | "chgrp" if !told("R", &["--recursive"]) => {
                    "it changes only what it is given unless given -R"
                }
                "cp" if !told("rRa", &["--recursive", "--archive"]) => {
                    "cp copies folders only with -r"
                }
                // With -r, the folders it is given, not the files a pattern names in one.
                "grep" | "egrep" | "fgrep" | "zgrep" => {
                    let given = |a: &String| {
                        ["-e", "-f", "--regexp", "--file"].contains(&a.as_str())
                            || a.starts_with("--regexp=")
                    };
                    let pattern_first = !c.args.iter().any(given);
                    // Options whose value is the next word.
                    let valued = [
                        "-e",
                        "-f",
                        "-m",
                        "-A",
                        "-B",
                        "-C",
                        "--regexp",
                        "--file",
                        "--include",
                        "--exclude",
                        "--exclude-dir",
                    ];
                    let operands = c.args.iter().enumerate().filter(|(i, a)| {
                        !a.starts_with('-')
                            && (*i == 0 || !valued.contains(&c.args[i - 1].as_str()))
                    });
                    return operands
                        .map(|(_, a)| a)
                        .skip(usize::from(pattern_first))
                        .find(|a| is_shallow_pattern(a))
                        .map(|a| one_level(a));
                }
                _ => {
                    return file_operands(c)
                        .find(|a| is_shallow_pattern(a))
                        .map(one_level);
                }
            };
            Some(why.to_owned())
        })
        .or_else(|| {
            loop_words(command)
                .into_iter()
                .find(|w| is_shallow_pattern(w))
                .map(|w| one_level(&w))
        })
}

/// Options requests name in words: the phrases, the program (`git log`: git's subcommand),
/// the option, and the ways of writing it (or another that does the same) that count.
const WORDED_OPTIONS: &[(&[&str], &str, &str, &[&str])] = &[
    (
        &[
            "keep following",
            "and follow it",
            "follow it as",
            "as it grows",
            "as lines are added",
            "as new lines",
        ],
        "tail",
        "-f",
        &["-f", "-F", "--follow"],
    ),
    (&["side by side"], "diff", "-y", &["-y", "--side-by-side"]),
    (
        &[
            "one line each",
            "one line per commit",
            "a line per commit",
            "a line each",
        ],
        "git log",
        "--oneline",
        &["--oneline", "--pretty", "--format"],
    ),
];

/// Where to write `option` in `command` (after the program, or git's subcommand), if
/// `command` runs `program` without it or any of its other spellings; `None` when it has it,
/// or runs no such program (it may do the same another way: `sdiff`, `less +F`).
fn worded_option_left_out(command: &str, program: &str, option: &str) -> Option<usize> {
    let (_, _, _, spellings) = WORDED_OPTIONS
        .iter()
        .find(|(_, p, o, _)| *p == program && *o == option)?;
    let tokens = tokens(command);
    let (name, sub) = program
        .split_once(' ')
        .map_or((program, None), |(p, s)| (p, Some(s)));
    let at = (0..tokens.len()).find(|&at| {
        base(&tokens[at].raw) == name
            && in_command_position(&tokens, at)
            && sub.is_none_or(|sub| tokens.get(at + 1).is_some_and(|t| t.raw == sub))
    })?;
    let own = at + usize::from(sub.is_some());
    let end = tokens[own..]
        .iter()
        .position(Token::is_operator)
        .map_or(tokens.len(), |n| own + n);
    let has = tokens[own + 1..end].iter().any(|t| {
        spellings.iter().any(|s| {
            t.raw == *s
                || (s.starts_with("--") && t.raw.starts_with(&format!("{s}=")))
                || (s.len() == 2
                    && !s.starts_with("--")
                    && t.raw.starts_with('-')
                    && !t.raw.starts_with("--")
                    && t.raw[1..].chars().all(|c| c.is_ascii_alphanumeric())
                    && t.raw.contains(&s[1..]))
        })
    });
    (!has).then_some(tokens[own].span.end)
}

/// Runs of spaces at the start or end of a line in the patterns of `command` (`^ *`, ` \+$`,
/// ` +$`), where it uses `sed`, `awk`, `grep` or `perl` and never a class that takes tabs too:
/// `command` with each written `[[:space:]]` instead. `None` where there are none.
fn spaces_for_whitespace(command: &str) -> Option<String> {
    const TABS_TOO: &[&str] = &["[[:space:]]", "[[:blank:]]", "\\s", "\\t", "\t"];
    let programs = ["sed", "awk", "gawk", "grep", "egrep", "perl"];
    let tokens = tokens(command);
    if program_token(&tokens, &programs).is_none() || TABS_TOO.iter().any(|c| command.contains(c)) {
        return None;
    }
    let mut changed = command.to_owned();
    for (spaces, blanks) in [
        ("^ *", "^[[:space:]]*"),
        (" *$", "[[:space:]]*$"),
        ("^ \\+", "^[[:space:]]\\+"),
        (" \\+$", "[[:space:]]\\+$"),
        ("^ +", "^[[:space:]]+"),
        (" +$", "[[:space:]]+$"),
    ] {
        changed = changed.replace(spaces, blanks);
    }
    (changed != command).then_some(changed)
}

/// Programs whose arguments, options aside, are files: a pattern among them reaches the names
/// the shell expands it to, in one folder.
const FILE_PROGRAMS: &[&str] = &[
    "mv",
    "rm",
    "gzip",
    "gunzip",
    "bzip2",
    "bunzip2",
    "xz",
    "unxz",
    "zstd",
    "tar",
    "zip",
    "wc",
    "cat",
    "head",
    "tail",
    "md5sum",
    "sha1sum",
    "sha256sum",
    "touch",
    "dos2unix",
    "stat",
    "file",
    "du",
    "ln",
    "shred",
    "sed",
];

/// The arguments of `command` that name files, if its program is one of [`FILE_PROGRAMS`]:
/// those that are not options, after `sed`'s script when it is not given with `-e` or `-f`.
fn file_operands(command: &SimpleCommand) -> impl Iterator<Item = &str> {
    let program = base(&command.program);
    let files = FILE_PROGRAMS.contains(&program);
    let script_first = program == "sed"
        && !command.args.iter().any(|a| {
            a == "-e" || a == "-f" || a.starts_with("--expression") || a.starts_with("--file")
        });
    command
        .args
        .iter()
        .filter(move |_| files)
        .filter(|a| !a.starts_with('-'))
        .skip(usize::from(script_first))
        .map(String::as_str)
}

/// Whether `word` is a pattern of the shell that matches names in one folder by more than `*`
/// (`logs/*.log`, `*.txt`, `report-??.csv`): the folders inside are not gone through. A bare
/// `*` (`build/*`) takes the folders themselves, and `**` goes through them with globstar.
fn is_shallow_pattern(word: &str) -> bool {
    let name = word.rsplit('/').next().unwrap_or(word);
    !word.contains("**")
        && !word.contains('$')
        && name != "*"
        && (name.contains('*') || name.contains('?'))
}

/// Why a pattern of [`is_shallow_pattern`] leaves the folders inside out.
fn one_level(pattern: &str) -> String {
    format!(
        "the shell expands {pattern} to names in one folder only, not in the folders inside it \
         (find goes through them)"
    )
}

/// The words a `for NAME in WORDS; do` loop of `command` goes through, as written.
fn loop_words(command: &str) -> Vec<String> {
    let Some(at) = command.match_indices("for ").map(|(at, _)| at).find(|&at| {
        command[..at]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || ";&|(".contains(c))
    }) else {
        return Vec::new();
    };
    let rest = &command[at + 4..];
    let Some(list) = rest.split_once(" in ").map(|(_, list)| list) else {
        return Vec::new();
    };
    let end = list.find([';', '\n']).unwrap_or(list.len());
    // The words of a command's output are not patterns of the shell.
    if list[..end].contains("$(") || list[..end].contains('`') {
        return Vec::new();
    }
    list[..end]
        .split_whitespace()
        .take_while(|w| *w != "do")
        .map(|w| w.trim_matches(['"', '\'']).to_owned())
        .collect()
}

/// Words for each unit, after "in" or "as" ("in MB", "as gigabytes").
const UNITS: &[(SizeUnit, &[&str])] = &[
    (SizeUnit::Byte, &["bytes", "byte"]),
    (SizeUnit::Kilo, &["kb", "kib", "kilobytes", "kibibytes"]),
    (
        SizeUnit::Mega,
        &["mb", "mib", "megabytes", "mebibytes", "megs"],
    ),
    (
        SizeUnit::Giga,
        &["gb", "gib", "gigabytes", "gibibytes", "gigs"],
    ),
];

/// The unit `spaced` asks sizes to be shown in: a unit's name after "in" or "as" ("free
/// memory in MB", "sizes as gigabytes"), or "human readable".
fn unit_asked(spaced: &str) -> Option<SizeUnit> {
    if ["human readable", "human friendly"]
        .iter()
        .any(|p| spaced.contains(p))
    {
        return Some(SizeUnit::HumanReadable);
    }
    let words: Vec<&str> = spaced
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    words.windows(2).find_map(|pair| {
        if !matches!(pair[0], "in" | "as") {
            return None;
        }
        UNITS
            .iter()
            .find(|(_, names)| names.contains(&pair[1]))
            .map(|(unit, _)| *unit)
    })
}

/// Programs that print sizes in a unit their options choose.
const SIZED: &[&str] = &["du", "df", "free", "ls"];

/// Why `command` shows sizes in another unit than `unit`, if it does. Judged only for the
/// programs in [`SIZED`] (`ls` only with `-l` or `-s`), and not where the command computes
/// the unit itself (`1024`, `numfmt`).
fn other_unit(unit: SizeUnit, command: &str, commands: &[SimpleCommand]) -> Option<String> {
    if ["1024", "1048576", "1073741824", "1000000", "numfmt"]
        .iter()
        .any(|s| command.contains(s))
    {
        return None;
    }
    commands.iter().find_map(|c| {
        let program = base(&c.program);
        if !SIZED.contains(&program)
            || (program == "ls" && !(has_short(&c.args, 'l') || has_short(&c.args, 's')))
        {
            return None;
        }
        let short = |letter| has_short(&c.args, letter) && program != "ls";
        let block = |size: char| {
            c.args.iter().any(|a| {
                let value = a
                    .strip_prefix("--block-size=")
                    .or_else(|| a.strip_prefix("-B"))
                    .unwrap_or_default()
                    .trim_start_matches('1');
                value.starts_with(size) || value.starts_with(size.to_ascii_lowercase())
            })
        };
        let long = |names: &[&str]| c.args.iter().any(|a| names.contains(&a.as_str()));
        let human = has_short(&c.args, 'h')
            || (program != "ls" && has_short(&c.args, 'H'))
            || long(&["--human-readable", "--si", "--human"]);
        let (shown, hint) = match unit {
            SizeUnit::Byte => (
                match program {
                    "ls" => !human && !has_short(&c.args, 's') && !long(&["--kibibytes"]),
                    "free" => short('b') || long(&["--bytes"]),
                    _ => {
                        (program == "du" && short('b'))
                            || long(&["--bytes", "-B1", "--block-size=1"])
                    }
                },
                match program {
                    "ls" => "ls -l prints bytes without -h or -s".to_owned(),
                    "df" => "df prints bytes with -B1".to_owned(),
                    _ => format!("{program} prints bytes with -b"),
                },
            ),
            SizeUnit::HumanReadable => (
                human,
                format!("{program} prints human-readable sizes with -h"),
            ),
            SizeUnit::Kilo => (
                short('k')
                    || block('K')
                    || long(&["--kibi", "--kilo"])
                    || (matches!(program, "du" | "df")
                        && !human
                        && !short('m')
                        && !c
                            .args
                            .iter()
                            .any(|a| a.starts_with("-B") || a.starts_with("--block-size"))),
                format!("{program} prints kilobytes with -k (or --block-size=K)"),
            ),
            SizeUnit::Mega => (
                short('m') || block('M') || long(&["--mebi", "--mega"]),
                match program {
                    "free" => "free prints megabytes with -m".to_owned(),
                    _ => format!("{program} prints megabytes with --block-size=M"),
                },
            ),
            SizeUnit::Giga => (
                (program == "free" && short('g')) || block('G') || long(&["--gibi", "--giga"]),
                match program {
                    "free" => "free prints gigabytes with -g".to_owned(),
                    _ => format!("{program} prints gigabytes with --block-size=G"),
                },
            ),
        };
        let picked_by_size = if human && unit != SizeUnit::HumanReadable {
            "; -h picks a unit by size"
        } else {
            ""
        };
        (!shown).then(|| format!("{hint}{picked_by_size}"))
    })
}

/// Words for archives, and words that ask for one of something for each of several things.
const ARCHIVES: &[&str] = &[
    "tarball", "tarballs", "archive", "archives", "tar", "zip", "zips", "tgz",
];
const EACH: &[&str] = &[
    "per",
    "for each",
    "for every",
    "its own",
    "their own",
    "separate",
    "separately",
    "individually",
    "one each",
    "each its",
];

/// Whether `spaced` asks for an archive of each of several things: a word for archives and
/// one for "each" ("a tarball per folder", "zip every file separately", "each folder into
/// its own archive"). "each" or "every" alone does not ("a tarball of every log file" is one
/// archive).
fn asks_for_an_archive_each(spaced: &str) -> bool {
    let words: Vec<&str> = spaced
        .split(|c: char| !(c.is_alphanumeric() || c == '.'))
        .filter(|w| !w.is_empty())
        .collect();
    let archive = words.iter().any(|w| {
        ARCHIVES.contains(w)
            || w.starts_with("tar.")
            || [".tar", ".tgz", ".zip"].iter().any(|e| w.contains(e))
    });
    let joined = words.join(" ");
    archive
        && EACH.iter().any(|each| {
            joined.match_indices(each).any(|(at, _)| {
                let starts = joined[..at].chars().next_back().is_none_or(|c| c == ' ');
                let ends = joined[at + each.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| c == ' ');
                starts && ends
            })
        })
}

/// Why `commands` make one archive where one for each thing was asked for: `tar` creating
/// one, or `zip`, run once, with no loop, `find -exec`, `xargs` or `parallel` around it.
fn one_archive(commands: &[SimpleCommand], tokens: &[Token]) -> Option<String> {
    let repeats = tokens.iter().any(|t| {
        matches!(
            t.raw.as_str(),
            "for" | "while" | "until" | "-exec" | "-execdir" | "xargs" | "parallel"
        )
    });
    let creates = commands.iter().find(|c| match base(&c.program) {
        "zip" => true,
        "tar" => c.args.iter().any(|a| {
            a == "--create"
                || (!a.starts_with("--")
                    && a.trim_start_matches('-')
                        .chars()
                        .all(|c| c.is_ascii_alphabetic())
                    && a.trim_start_matches('-').contains('c')
                    && (a.starts_with('-') || c.args.first() == Some(a)))
        }),
        _ => false,
    })?;
    (!repeats).then(|| {
        format!(
            "{} runs once and makes one archive of them all; a loop (`for d in */; do ... \
             done`) makes one each",
            base(&creates.program)
        )
    })
}

/// Placeholders that make a name a pattern (`reports-YYYY-MM.tar.gz`), and words after which
/// a name is an example (`paths like ./x`).
const PLACEHOLDERS: &[&str] = &[
    "YYYY", "YY", "MM", "DD", "HH", "SS", "NN", "XXX", "NAME", "EXT",
];
const EXAMPLE_WORDS: &[&str] = &["like", "as", "e.g.", "eg", "example", "such"];

/// The files, folders and extensions `request` names: words with an extension
/// (`deploy.sh`, `config/app.conf`, `.json`, `*.py`) or a path (`/etc/passwd`, `src/`),
/// not examples ("paths like ./x", "files named a.log, b.log and so on"), patterns
/// (`reports-YYYY-MM.tar.gz`) or numbers (`1.5`, `22.04`).
fn names(request: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let lower = request.to_lowercase();
    let clauses = request.split(['?', '!', ';']).flat_map(|c| c.split(". "));
    for clause in clauses {
        let clause_lower = clause.to_lowercase();
        if ["and so on", " etc", "...", "and the like"]
            .iter()
            .any(|w| clause_lower.contains(w))
        {
            continue;
        }
        let words: Vec<&str> = clause.split_whitespace().collect();
        for (at, word) in words.iter().enumerate() {
            let name = word
                .trim_start_matches(['(', '\'', '"', '`', '['])
                .trim_end_matches([')', '\'', '"', '`', ']', ',', ':', '.', '?', '!']);
            let example = words[at.saturating_sub(3)..at].iter().any(|w| {
                EXAMPLE_WORDS.contains(
                    &w.trim_matches(|c: char| !c.is_alphanumeric() && c != '.')
                        .to_lowercase()
                        .as_str(),
                )
            });
            if example || !is_name(name) || found.iter().any(|f| f == name) {
                continue;
            }
            found.push(name.to_owned());
        }
    }
    // A request that says how a name is not to be written ("not `foo.txt`") is not naming it.
    found.retain(|name| !lower.contains(&format!("not `{}", name.to_lowercase())));
    found
}

/// Whether `word` is a file, folder or extension as [`names`] reads them.
fn is_name(word: &str) -> bool {
    if word.len() < 2
        || word.contains(['{', '<', '$', '=', '|'])
        || word.trim_start_matches('*').contains('*')
        || PLACEHOLDERS.iter().any(|p| {
            word.split(|c: char| !c.is_alphanumeric())
                .any(|part| part == *p)
        })
    {
        return false;
    }
    let base = word
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(word);
    let extension = base.rsplit_once('.').map(|(_, ext)| ext).filter(|ext| {
        (1..=6).contains(&ext.len())
            && ext.chars().all(|c| c.is_ascii_alphanumeric())
            && ext.chars().any(|c| c.is_ascii_alphabetic())
    });
    let path = word.contains('/')
        && word.chars().any(|c| c.is_alphanumeric())
        && (word.starts_with(['/', '.', '~']) || word.ends_with('/'));
    let lower = word.to_lowercase();
    (extension.is_some() || path) && !matches!(lower.as_str(), "e.g" | "i.e" | "etc")
}

/// Whether `command` names `name`: its last part (`app.conf` of `config/app.conf`), or for
/// an extension (`.json`, `*.py`) the extension as a word (`*.json`, `\.(md|txt)$`), quotes
/// and case aside.
fn names_it(command: &str, name: &str) -> bool {
    let plain = command.replace(['\\', '\'', '"'], "").to_lowercase();
    let name = name.to_lowercase();
    let name = name.trim_end_matches('/');
    if let Some(extension) = name.trim_start_matches('*').strip_prefix('.')
        && !extension.contains(['.', '/'])
    {
        return plain.match_indices(extension).any(|(at, _)| {
            let before = plain[..at].chars().next_back();
            let after = plain[at + extension.len()..].chars().next();
            before.is_some_and(|c| !c.is_alphanumeric())
                && after.is_none_or(|c| !c.is_alphanumeric())
        });
    }
    plain.contains(name.rsplit('/').next().unwrap_or(name))
}

/// Number words a request may use for a few lines.
const SMALL_NUMBERS: &[&str] = &[
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
];

/// The lines around each match `spaced` asks for, as grep's option and a count: "3 lines
/// after each", "two lines before it", "5 lines of context", "the line after each match".
fn context_asked(spaced: &str) -> Option<(char, usize)> {
    let words: Vec<&str> = spaced
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    (0..words.len().saturating_sub(2)).find_map(|at| {
        let lines = match words[at] {
            "the" | "next" | "previous" | "following" | "preceding" if words[at + 1] == "line" => 1,
            number => number
                .parse()
                .ok()
                .or_else(|| SMALL_NUMBERS.iter().position(|n| *n == number))?,
        };
        if !matches!(words[at + 1], "line" | "lines") || lines == 0 {
            return None;
        }
        // "3 lines after", "3 lines that follow it", "3 lines of surrounding context".
        words[at + 2..].iter().take(3).find_map(|word| {
            let option = match *word {
                "after" | "following" | "below" | "follow" | "follows" => 'A',
                "before" | "preceding" | "above" | "precede" | "precedes" => 'B',
                "around" | "context" => 'C',
                _ => return None,
            };
            Some((option, lines))
        })
    })
}

/// Whether `grep` is given `lines` lines of context on the side `option` names (`-A 3`,
/// `-A3`, `--after-context=3`; `-C 3` serves either side).
fn has_context(grep: &SimpleCommand, option: char, lines: usize) -> bool {
    let long = |c: char| match c {
        'A' => "--after-context",
        'B' => "--before-context",
        _ => "--context",
    };
    let serves = |c: char| c == option || c == 'C';
    let n = lines.to_string();
    grep.args.iter().enumerate().any(|(at, arg)| {
        ['A', 'B', 'C'].into_iter().filter(|c| serves(*c)).any(|c| {
            let short = format!("-{c}");
            (arg == &short && grep.args.get(at + 1) == Some(&n))
                || *arg == format!("{short}{n}")
                || *arg == format!("{}={n}", long(c))
        })
    })
}

/// `commands` and the commands they run: `find -exec`'s, and those of `sh -c '...'`.
fn with_inner_commands(commands: Vec<SimpleCommand>) -> Vec<SimpleCommand> {
    let mut all = Vec::new();
    for command in commands {
        let program = base(&command.program);
        if program == "find" {
            let mut args = command.args.iter();
            while args.any(|a| matches!(a.as_str(), "-exec" | "-execdir" | "-ok" | "-okdir")) {
                let inner: Vec<String> = args
                    .by_ref()
                    .take_while(|a| !matches!(a.as_str(), ";" | "+"))
                    .cloned()
                    .collect();
                if let Some((program, args)) = inner.split_first() {
                    all.push(SimpleCommand {
                        program: program.clone(),
                        args: args.to_vec(),
                        wrappers: vec!["find".to_owned()],
                    });
                }
            }
        } else if matches!(program, "sh" | "bash" | "zsh" | "dash")
            && let Some(at) = command.args.iter().position(|a| a == "-c")
            && let Some(inner) = command.args.get(at + 1).and_then(|s| simple_commands(s))
        {
            all.extend(inner);
        }
        all.push(command);
    }
    all
}

/// The request's words, split at anything but letters and digits, with "sub" joined to the
/// folder word after it ("sub-folders" reads as "subfolders"), and a `|` where a sentence or a
/// clause ends ("... and its subfolders? Only the number" is not "subfolders only").
fn request_words(spaced: &str) -> Vec<String> {
    let mut marked = String::with_capacity(spaced.len());
    let mut chars = spaced.chars().peekable();
    while let Some(c) = chars.next() {
        let ends = matches!(c, '?' | '!' | ';' | ':' | '(' | ')')
            || matches!(c, '.' | ',') && chars.peek().is_none_or(|n| n.is_whitespace());
        if ends {
            marked.push_str(" | ");
        } else {
            marked.push(c);
        }
    }
    let mut words: Vec<String> = Vec::new();
    for word in marked
        .split(|c: char| !(c.is_alphanumeric() || c == '|'))
        .filter(|w| !w.is_empty())
    {
        match words.last_mut() {
            Some(last) if last == "sub" && is_folder_word(word) => *last = format!("sub{word}"),
            _ => words.push(word.to_owned()),
        }
    }
    words
}

/// Whether `word` names folders, one or more ("folder", "directories", "dirs").
fn is_folder_word(word: &str) -> bool {
    matches!(
        word,
        "folder" | "folders" | "directory" | "directories" | "dir" | "dirs"
    )
}

/// Whether `word` names folders as things to list or change: plural, or inside others
/// ("subfolder"), and not as where to look ("in the current directory").
fn is_folders(word: &str) -> bool {
    matches!(
        word,
        "folders" | "directories" | "dirs" | "subfolders" | "subdirectories" | "subdirs"
    )
}

/// Words that may stand between "only" and what it is about ("only the empty folders").
const BEFORE_THE_KIND: &[&str] = &[
    "the", "all", "any", "empty", "hidden", "top", "level", "those", "its", "their",
];

/// Words that name other entries than files and folders, or all of them.
const OTHER_ENTRIES: &[&str] = &[
    "link",
    "links",
    "symlink",
    "symlinks",
    "symbolic",
    "socket",
    "sockets",
    "fifo",
    "fifos",
    "device",
    "devices",
    "entries",
    "entry",
    "everything",
    "anything",
    "items",
    "item",
    "contents",
    "whatever",
];

/// The one kind of entry `spaced` asks for: folders where it says so ("only the folders",
/// "empty directories", "count the folders in src"); files where it says so ("regular files",
/// "files, not folders") or where it speaks of files and names neither folders nor other
/// entries as things to find ("the .log files older than a week").
fn entry_asked(spaced: &str) -> Option<Entry> {
    let words = request_words(spaced);
    let word = |at: usize| words.get(at).map_or("", String::as_str);
    let is_files = |at: usize| matches!(word(at), "file" | "files");
    // "files and folders", "a file or a directory": both kinds.
    let both = (0..words.len()).any(|at| {
        let (a, b) = if matches!(word(at + 2), "a" | "an" | "the") {
            (at, at + 3)
        } else {
            (at, at + 2)
        };
        let folders = |w: &str| is_folder_word(w) || is_folders(w);
        matches!(word(at + 1), "and" | "or")
            && (is_files(a) && folders(word(b)) || folders(word(a)) && is_files(b))
    });
    if both {
        return None;
    }
    // The word `from` or after, past words that may stand before a kind, if it is `kind`.
    let kind_at = |from: usize, kind: &dyn Fn(&str) -> bool| {
        (from..words.len())
            .take(4)
            .take_while(|&at| kind(word(at)) || BEFORE_THE_KIND.contains(&word(at)))
            .any(|at| kind(word(at)))
    };
    let plural_files = |w: &str| w == "files";
    let mut folders = false;
    for at in 0..words.len() {
        let next = at + 1;
        let folders_named = match word(at) {
            "only" | "just" => kind_at(next, &is_folders),
            "empty" => is_folder_word(word(next)) || is_folders(word(next)),
            "list" | "find" | "show" | "count" | "print" | "locate" | "delete" | "remove"
            | "display" => kind_at(next, &is_folders),
            "names" if word(next) == "of" => kind_at(next + 1, &is_folders),
            "many" if at > 0 && word(at - 1) == "how" => kind_at(next, &is_folders),
            w => is_folders(w) && word(next) == "only",
        };
        if folders_named {
            folders = true;
        }
    }
    let negation = |w: &str| {
        matches!(
            w,
            "not" | "no" | "excluding" | "except" | "without" | "skip" | "skipping" | "ignoring"
        )
    };
    let files_named = (0..words.len()).any(|at| match word(at) {
        "regular" | "empty" => is_files(at + 1),
        "only" | "just" => kind_at(at + 1, &plural_files),
        "files" => word(at + 1) == "only",
        w if negation(w) => (at + 1..words.len()).take(4).any(|later| {
            is_folders(word(later))
                && !word(later).starts_with("sub")
                && (at + 1..later).all(|between| {
                    BEFORE_THE_KIND.contains(&word(between))
                        || matches!(word(between), "or" | "and" | "links" | "ones")
                })
        }),
        _ => false,
    });
    let any_files = (0..words.len()).any(|at| {
        is_files(at)
            && !matches!(
                word(at + 1),
                "system" | "systems" | "descriptor" | "descriptors" | "handle" | "handles"
            )
    });
    // Both said ("the regular files ... folders only"): neither is sure.
    match (folders, files_named && any_files) {
        (true, true) => return None,
        (true, false) => return Some(Entry::Directory),
        (false, true) => return Some(Entry::File),
        (false, false) => {}
    }
    let folders_too = (0..words.len()).any(|at| {
        is_folders(word(at)) && !word(at).starts_with("sub")
            || is_folder_word(word(at))
                && at > 0
                && matches!(word(at - 1), "every" | "each" | "any" | "all" | "empty")
    });
    let others = words.iter().any(|w| OTHER_ENTRIES.contains(&w.as_str()));
    (any_files && !folders_too && !others).then_some(Entry::File)
}

/// `command` without the words at `range`, nor the blanks before them.
fn cut_word(command: &mut String, range: std::ops::Range<usize>) {
    let from = command[..range.start].trim_end().len();
    command.replace_range(from..range.end, "");
}

/// An edit of a command: what to put in place of a range of it.
type Edit = (std::ops::Range<usize>, String);

/// The `find`s run at the top of `tokens` that list other entries than `entry`, each with the
/// edit that makes it list only those and why: no `-type`, or for folders, a `-type` of
/// another kind. A `find` with alternatives (`-o`) outside parentheses is left alone: a test
/// added in front would bind to the first of them only.
fn finds_of_other_kinds(tokens: &[Token], entry: Entry) -> Vec<(Edit, String)> {
    let (letter, kind, other) = match entry {
        Entry::File => ("f", "files", "folders"),
        Entry::Directory => ("d", "folders", "files"),
    };
    let mut found = Vec::new();
    for (at, token) in tokens.iter().enumerate() {
        if base(&token.raw) != "find" || !in_command_position(tokens, at) {
            continue;
        }
        let own: Vec<&Token> = tokens[at + 1..]
            .iter()
            .take_while(|t| !t.is_operator())
            .collect();
        let mut depth = 0usize;
        let alternatives = own.iter().any(|t| {
            match t.raw.as_str() {
                "\\(" | "'('" | "\"(\"" => depth += 1,
                "\\)" | "')'" | "\")\"" => depth = depth.saturating_sub(1),
                "-o" | "-or" => return depth == 0,
                _ => {}
            }
            false
        });
        if alternatives {
            continue;
        }
        let types: Vec<&Token> = own
            .windows(2)
            .filter(|pair| matches!(pair[0].raw.as_str(), "-type" | "-xtype"))
            .map(|pair| pair[1])
            .collect();
        if types.iter().any(|t| t.raw.contains(letter)) {
            continue;
        }
        if let Some(first) = types.first() {
            if entry == Entry::Directory {
                found.push((
                    (first.span.clone(), letter.to_owned()),
                    format!(
                        "find -type {} lists {other}; folders are -type d",
                        first.raw
                    ),
                ));
            }
            continue;
        }
        // After the options, the starting points and the global options.
        let mut last = token;
        let mut rest = own.iter().peekable();
        while let Some(t) = rest.next_if(|t| matches!(t.raw.as_str(), "-H" | "-L" | "-P")) {
            last = t;
        }
        while let Some(t) = rest.next_if(|t| {
            !t.raw.starts_with('-')
                && !matches!(
                    t.raw.as_str(),
                    "!" | "\\!" | "'!'" | "\"!\"" | "\\(" | "'('" | "\"(\""
                )
        }) {
            last = t;
        }
        loop {
            let takes = match rest.peek().map(|t| t.raw.as_str()) {
                Some("-maxdepth" | "-mindepth" | "-regextype") => 2,
                Some(
                    "-depth"
                    | "-xdev"
                    | "-mount"
                    | "-daystart"
                    | "-follow"
                    | "-noleaf"
                    | "-ignore_readdir_race",
                ) => 1,
                _ => break,
            };
            for _ in 0..takes {
                last = rest.next().copied().unwrap_or(last);
            }
        }
        found.push((
            (last.span.end..last.span.end, format!(" -type {letter}")),
            format!("find lists {other} as well as {kind} unless given -type {letter}"),
        ));
    }
    found
}

/// Words that put the large, the new or the many first, and those that put them last.
const DESCENDING: &[&str] = &[
    "largest", "biggest", "newest", "latest", "highest", "heaviest", "longest", "greatest", "most",
];
const ASCENDING: &[&str] = &[
    "smallest", "tiniest", "oldest", "earliest", "lowest", "shortest", "lightest", "least",
    "fewest",
];

/// The order `spaced` asks a list to be in, where it says so: "largest first", "newest ones
/// first", "most common on top", "from biggest to smallest", "in descending order", "reverse
/// alphabetical order". `None` where it says nothing of the kind, or both ways.
fn order_asked(spaced: &str) -> Option<Direction> {
    let words = request_words(spaced);
    let word = |at: usize| words.get(at).map_or("", String::as_str);
    let before = |at: usize| at.checked_sub(1).map_or("", word);
    let direction = |w: &str| {
        if DESCENDING.contains(&w) {
            Some(Direction::Descending)
        } else if ASCENDING.contains(&w) {
            Some(Direction::Ascending)
        } else {
            None
        }
    };
    let mut asked = Vec::new();
    for at in 0..words.len() {
        let one = match word(at) {
            "descending" => Some(Direction::Descending),
            "ascending" => Some(Direction::Ascending),
            "decreasing" if word(at + 1) == "order" || before(at) == "in" => {
                Some(Direction::Descending)
            }
            "increasing" if word(at + 1) == "order" || before(at) == "in" => {
                Some(Direction::Ascending)
            }
            "reverse" | "reversed"
                if matches!(
                    word(at + 1),
                    "alphabetical" | "alphabetic" | "numerical" | "numeric" | "sorted" | "sort"
                ) || at >= 2
                    && matches!(word(at - 2), "sort" | "sorted")
                    && word(at - 1) == "in" =>
            {
                Some(Direction::Descending)
            }
            "z" if word(at + 1) == "to" && word(at + 2) == "a" => Some(Direction::Descending),
            "from" => {
                let from = at + 1 + usize::from(word(at + 1) == "the");
                let from_most = from + usize::from(matches!(word(from), "most" | "least"));
                let to = (from_most + 1..words.len())
                    .take(3)
                    .find(|&t| word(t) == "to");
                direction(word(from)).filter(|_| to.is_some())
            }
            w => direction(w).filter(|_| {
                // The adjective ("most" with its word), up to four words of what it is about
                // ("lines of access.log"), then "first" or "on top".
                let from = at + 1 + usize::from(matches!(w, "most" | "least"));
                (from..words.len())
                    .take(5)
                    .take_while(|&after| !matches!(word(after), "and" | "then" | "but" | "or"))
                    .any(|after| {
                        word(after) == "first"
                            || word(after) == "on" && word(after + 1) == "top"
                            || word(after) == "at"
                                && word(after + 1) == "the"
                                && word(after + 2) == "top"
                    })
            }),
        };
        asked.extend(one);
    }
    let first = *asked.first()?;
    asked.iter().all(|d| *d == first).then_some(first)
}

/// How the last sorting of a command runs: `sort`, or `ls` sorting by size or time.
struct Sorting {
    /// The program's word.
    program: std::ops::Range<usize>,
    /// Which way round its output comes out, after any `tac`.
    direction: Direction,
    /// What turns it round, if it is: an `r` in a cluster of letters or a key, or a word.
    reversed_by: Option<Reversal>,
    /// The end of the letters of sort's first key where it has any (`-k2,2n`): there a `-r`
    /// in front is not heeded, so the key takes the `r`.
    key_letters_end: Option<usize>,
    /// Whether adding or taking away an `r` turns the output round: not after `tac`, nor with
    /// a `tail` after it, which keeps the other end.
    turnable: bool,
    /// `sort` or `ls`.
    name: &'static str,
}

/// What turns a sorting round.
enum Reversal {
    /// An `r` in a word of letters, where it is in the command.
    Letter(usize),
    /// A word of its own (`-r`, `--reverse`).
    Word(std::ops::Range<usize>),
}

impl Sorting {
    /// Why its output is not in `wanted`'s order.
    fn why(&self, wanted: Direction) -> String {
        match (self.name, wanted, self.turnable) {
            (_, _, false) => "the list comes out the other way round".to_owned(),
            ("ls", _, _) => {
                "ls -S and -t put the largest and newest first; -r turns that round".to_owned()
            }
            (_, Direction::Descending, _) => {
                "sort puts the smallest, oldest and first in the alphabet first unless given -r"
                    .to_owned()
            }
            (_, Direction::Ascending, _) => "sort -r puts the largest first".to_owned(),
        }
    }
}

/// The last sorting at the top of `tokens`, where a command has one.
fn sorted(tokens: &[Token]) -> Option<Sorting> {
    let mut last: Option<Sorting> = None;
    for (at, token) in tokens.iter().enumerate() {
        if !in_command_position(tokens, at) {
            continue;
        }
        let own: Vec<&Token> = tokens[at + 1..]
            .iter()
            .take_while(|t| !t.is_operator())
            .collect();
        match base(&token.raw) {
            "sort" => last = Some(sort_order(token, &own)),
            "ls" => {
                if let Some(sorting) = ls_order(token, &own) {
                    last = Some(sorting);
                }
            }
            "tac" => {
                if let Some(sorting) = last.as_mut() {
                    sorting.direction = match sorting.direction {
                        Direction::Descending => Direction::Ascending,
                        Direction::Ascending => Direction::Descending,
                    };
                    sorting.turnable = false;
                }
            }
            "tail" => {
                if let Some(sorting) = last.as_mut() {
                    sorting.turnable = false;
                }
            }
            // Counts come out in the order of the lines counted, not by how many.
            "uniq"
                if own.iter().any(|w| {
                    w.raw == "--count"
                        || w.raw.strip_prefix('-').is_some_and(|l| {
                            !l.starts_with('-')
                                && l.chars().all(|c| c.is_ascii_alphabetic())
                                && l.contains('c')
                        })
                }) =>
            {
                last = None;
            }
            _ => {}
        }
    }
    last
}

/// What in `word` turns a sorting round: the word itself (`-r`, `--reverse`), or an `r` among
/// its letters (a cluster of short options) before any letter that takes the rest of the word
/// as its value.
fn r_in_cluster(word: &Token, valued: &[char]) -> Option<Reversal> {
    if word.raw == "-r" || word.raw == "--reverse" {
        return Some(Reversal::Word(word.span.clone()));
    }
    let letters = word.raw.strip_prefix('-')?;
    if letters.starts_with('-') || !letters.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let before_value = letters.find(valued).unwrap_or(letters.len());
    letters[..before_value]
        .find('r')
        .map(|at| Reversal::Letter(word.span.start + 1 + at))
}

/// Which way `sort` with these words runs.
fn sort_order(program: &Token, own: &[&Token]) -> Sorting {
    let valued = ['k', 't', 'o', 'S', 'T'];
    let mut reversed_by = None;
    let mut key: Option<(&Token, usize)> = None;
    for (at, word) in own.iter().enumerate() {
        if let Some(reversal) = r_in_cluster(word, &valued) {
            reversed_by.get_or_insert(reversal);
        }
        if key.is_some() {
            continue;
        }
        if word.raw == "-k" || word.raw == "--key" {
            key = own.get(at + 1).map(|value| (*value, 0));
        } else if let Some(cluster) = word.raw.strip_prefix('-')
            && !cluster.starts_with('-')
            && let Some(k) = cluster.find('k')
            && cluster[..k].chars().all(|c| c.is_ascii_alphabetic())
        {
            key = Some((word, 1 + k + 1));
        } else if let Some(value) = word.raw.strip_prefix("--key=") {
            key = Some((word, word.raw.len() - value.len()));
        }
    }
    // A key with letters of its own (`-k2,2n`) is not turned round by `-r`.
    let key_letters = key.and_then(|(word, from)| {
        let spec = &word.raw[from.min(word.raw.len())..];
        let letters_from = spec.rfind(|c: char| c.is_ascii_digit() || c == ',' || c == '.')?;
        let letters = &spec[letters_from + 1..];
        (!letters.is_empty() && letters.chars().all(|c| c.is_ascii_alphabetic())).then(|| {
            let start = word.span.start + from + letters_from + 1;
            (letters.find('r').map(|r| start + r), start + letters.len())
        })
    });
    let (reversed_by, key_letters_end) = match key_letters {
        Some((r, end)) => (r.map(Reversal::Letter), Some(end)),
        None => (reversed_by, None),
    };
    Sorting {
        program: program.span.clone(),
        direction: if reversed_by.is_some() {
            Direction::Descending
        } else {
            Direction::Ascending
        },
        reversed_by,
        key_letters_end,
        turnable: true,
        name: "sort",
    }
}

/// Which way `ls` with these words runs, where it sorts by size or time (largest and newest
/// first, unless turned round); `None` where it sorts by name.
fn ls_order(program: &Token, own: &[&Token]) -> Option<Sorting> {
    let by_size_or_time = own.iter().any(|word| {
        word.raw
            .strip_prefix('-')
            .is_some_and(|l| !l.starts_with('-') && l.contains(['S', 't']))
            || matches!(word.raw.as_str(), "--sort=size" | "--sort=time")
    });
    if !by_size_or_time {
        return None;
    }
    let reversed_by = own
        .iter()
        .find_map(|word| r_in_cluster(word, &['w', 'T', 'I']));
    Some(Sorting {
        program: program.span.clone(),
        direction: if reversed_by.is_some() {
            Direction::Ascending
        } else {
            Direction::Descending
        },
        reversed_by,
        key_letters_end: None,
        turnable: true,
        name: "ls",
    })
}

/// Words with which a request asks to see what a command does as it goes ("show each file
/// copied", "with progress", "verbosely"), or asks for output at all.
const TO_SEE: &[&str] = &[
    "verbose",
    "verbosely",
    "progress",
    "show",
    "showing",
    "shows",
    "list",
    "listing",
    "print",
    "printing",
    "prints",
    "display",
    "displaying",
    "report",
    "reporting",
    "tell",
    "echo",
    "see",
    "output",
    "watch",
    "which",
    "names",
];

/// Programs that print a line for each file they handle when given `-v`.
const VERBOSE: &[&str] = &[
    "tar", "cp", "mv", "rm", "mkdir", "rmdir", "chmod", "chown", "chgrp", "ln", "gzip", "gunzip",
    "bzip2", "bunzip2", "xz", "unxz", "rsync", "install",
];

/// The `v` of a program in [`VERBOSE`] that `tokens` run, or its `--verbose`: where it is, and
/// the program. tar's `v` counts only where it makes or unpacks an archive (`tar -tvf` lists
/// one, with details).
fn verbose_option(tokens: &[Token]) -> Option<(Reversal, &'static str)> {
    tokens.iter().enumerate().find_map(|(at, token)| {
        let program = VERBOSE.iter().find(|p| **p == base(&token.raw))?;
        if !in_command_position(tokens, at) {
            return None;
        }
        let own = tokens[at + 1..].iter().take_while(|t| !t.is_operator());
        let mut found = None;
        for (i, word) in own.enumerate() {
            let letters = match word.raw.strip_prefix('-') {
                // tar's first word may leave out the `-` (`tar xzvf`).
                None if *program == "tar" && i == 0 => word.raw.as_str(),
                None => continue,
                Some("-verbose") => {
                    found.get_or_insert(Reversal::Word(word.span.clone()));
                    continue;
                }
                Some(letters) if letters.starts_with('-') => continue,
                Some(letters) => letters,
            };
            if !letters.chars().all(|c| c.is_ascii_alphanumeric()) {
                continue;
            }
            if *program == "tar" && letters.contains('t') {
                return None;
            }
            // Letters after one that takes a value are the value (`-f` names the archive).
            let before_value = match *program {
                "tar" => letters.find(['f', 'C']),
                _ => None,
            }
            .unwrap_or(letters.len());
            if let Some(v) = letters[..before_value].find('v') {
                let start = word.span.end - letters.len();
                found.get_or_insert(if letters == "v" && word.raw.starts_with('-') {
                    Reversal::Word(word.span.clone())
                } else {
                    Reversal::Letter(start + v)
                });
            }
        }
        found.map(|f| (f, *program))
    })
}

/// Words with which a request asks for more about each file than its path.
const DETAILS: &[&str] = &[
    "detail",
    "details",
    "detailed",
    "size",
    "sizes",
    "permission",
    "permissions",
    "owner",
    "owners",
    "ownership",
    "group",
    "groups",
    "mode",
    "modes",
    "long",
    "date",
    "dates",
    "timestamp",
    "timestamps",
    "time",
    "times",
    "ls",
    "information",
    "info",
    "attributes",
    "stats",
    "properties",
    "metadata",
];

/// Where a `find` at the top of `tokens` hands what it finds to `ls -l` (`-exec ls -l {} \;`,
/// `| xargs ls -la`): the range of the command that does it, and where its `-print0` is.
fn long_listing(
    tokens: &[Token],
) -> Option<(std::ops::Range<usize>, Option<std::ops::Range<usize>>)> {
    let long = |word: &Token| {
        word.raw
            .strip_prefix('-')
            .is_some_and(|l| !l.starts_with('-') && l.contains('l'))
    };
    let (at, _) = program_token(tokens, &["find"])?;
    let own = &tokens[at + 1..];
    let end = own.iter().position(Token::is_operator).unwrap_or(own.len());
    let own = &own[..end];
    let print0 = own
        .iter()
        .find(|t| t.raw == "-print0")
        .map(|t| t.span.clone());
    // `-exec ls -l {} \;`
    for (i, word) in own.iter().enumerate() {
        if !matches!(word.raw.as_str(), "-exec" | "-execdir")
            || own.get(i + 1).is_none_or(|p| base(&p.raw) != "ls")
        {
            continue;
        }
        let rest = &own[i + 2..];
        let close = rest
            .iter()
            .position(|t| matches!(t.raw.as_str(), "\\;" | "';'" | "\";\"" | "+"))?;
        if !rest[..close].iter().any(long) {
            return None;
        }
        return Some((word.span.start..rest[close].span.end, None));
    }
    // `| xargs ... ls -l`
    let pipe = tokens.get(at + 1 + end).filter(|t| t.raw == "|")?;
    let stage = &tokens[at + 2 + end..];
    let stage_end = stage
        .iter()
        .position(Token::is_operator)
        .unwrap_or(stage.len());
    let stage = &stage[..stage_end];
    stage.first().filter(|t| base(&t.raw) == "xargs")?;
    let ls = stage.iter().position(|t| base(&t.raw) == "ls")?;
    (stage[1..ls].iter().all(|t| t.raw.starts_with('-')) && stage[ls + 1..].iter().any(long)).then(
        || {
            (
                pipe.span.start..stage.last().map_or(pipe.span.end, |t| t.span.end),
                print0,
            )
        },
    )
}

/// `program` without its directory.
pub(crate) fn base(program: &str) -> &str {
    program.rsplit('/').next().unwrap_or(program)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `request` asks for that `command` leaves out first, names aside (the requests
    /// and commands of a test need not name the same files).
    fn flagged(request: &str, command: &str) -> Option<Asked> {
        Asked::in_request(request)
            .into_iter()
            .filter(|asked| !matches!(asked, Asked::Name(_)))
            .find(|asked| asked.unheeded_by(command).is_some())
    }

    /// [`Asked::in_request`], names aside, and files only, which any mention of files asks
    /// for, and the kinds that most requests ask for by saying nothing (no line for each
    /// file, no details).
    fn asked_in(request: &str) -> Vec<Asked> {
        Asked::in_request(request)
            .into_iter()
            .filter(|asked| {
                !matches!(
                    asked,
                    Asked::Name(_) | Asked::Only(Entry::File) | Asked::Quiet | Asked::PathsAlone
                )
            })
            .collect()
    }

    #[test]
    fn the_lines_of_two_files_asked_for_are_the_columns_comm_keeps() {
        let only = |file: &str| {
            Some(Asked::Lines {
                only_in: Some(file.into()),
            })
        };
        let both = Some(Asked::Lines { only_in: None });
        let requests = [
            (
                "show the lines that are in a.txt but not in b.txt",
                only("a.txt"),
            ),
            (
                "which lines of notes.txt are not in backup/notes.txt.bak?",
                only("notes.txt"),
            ),
            (
                "which names are only in team-b.txt, not team-a.txt?",
                only("team-b.txt"),
            ),
            ("lines of new.txt missing from old.txt", only("new.txt")),
            (
                "Which names are in both team-a.txt and team-b.txt?",
                both.clone(),
            ),
            (
                "what do list1.txt and list2.txt have in common?",
                both.clone(),
            ),
            ("compare a.txt and b.txt", None),
            ("lines in notes.txt that are not empty", None),
        ];
        for (request, asked) in requests {
            let found = Asked::in_request(request)
                .into_iter()
                .find(|a| matches!(a, Asked::Lines { .. }));
            assert_eq!(found, asked, "{request}");
        }
        let a_only = Asked::Lines {
            only_in: Some("a.txt".into()),
        };
        let cases = [
            (
                &a_only,
                "comm -12 <(sort a.txt) <(sort b.txt)",
                Some("comm -23 <(sort a.txt) <(sort b.txt)"),
            ),
            (&a_only, "comm -1 -3 b.txt a.txt | wc -l", None),
            (
                &a_only,
                "comm -12 b.txt a.txt | wc -l",
                Some("comm -13 b.txt a.txt | wc -l"),
            ),
            (&a_only, "comm a.txt b.txt", Some("comm -23 a.txt b.txt")),
            (&a_only, "comm -23 <(sort a.txt) <(sort b.txt)", None),
            // Another way to get them, or files that are not the request's: not judged.
            (&a_only, "grep -vxFf b.txt a.txt", None),
            (&a_only, "comm -12 x.txt y.txt", None),
            (&a_only, "comm -12 data.txt b.txt", None),
        ];
        for (asked, command, repaired) in cases {
            let why = asked.unheeded_by(command);
            assert_eq!(why.is_some(), repaired.is_some(), "{command}: {why:?}");
            assert_eq!(asked.repair(command).as_deref(), repaired, "{command}");
        }
        let both = Asked::Lines { only_in: None };
        assert_eq!(
            both.repair("sort a | comm -3 - b.txt").as_deref(),
            Some("sort a | comm -12 - b.txt")
        );
        assert_eq!(
            a_only.unheeded_by("comm -12 a.txt b.txt").as_deref(),
            Some("comm -12 prints the lines in both files; the lines asked for are comm -23")
        );
    }

    #[test]
    fn a_dry_run_asked_for_in_many_words() {
        for request in [
            "which files would git clean remove? don't delete anything",
            "do a dry run of syncing src/ to backup/ with rsync",
            "rsync photos to /mnt/usb, dry-run first",
            "list the .tmp files rm would delete, but don't actually delete them",
            "simulate upgrading the packages with apt-get",
            "show what the Makefile's install target would do without running it",
            "without changing anything, show which lines sed would change in a.conf",
            "what would be removed if I cleaned the build folder? do not actually remove it",
        ] {
            assert!(asked_in(request).contains(&Asked::DryRun), "{request}");
        }
        for request in [
            "run make",
            "delete the .tmp files",
            "copy a.txt to backup without overwriting anything",
            "list the files without an extension",
            "show the processes, without the header",
            "rsync src/ to backup/",
            "what would you use to count lines? count them in a.txt",
            "I would like to delete the .tmp files",
            "let only the owner run x.sh; don't change anything else about its permissions",
            "add a line to notes.txt without changing anything else in it",
            "where is the python3 that would run if I typed python3",
            "it would be great to remove the old logs, which are in logs/",
        ] {
            assert!(!asked_in(request).contains(&Asked::DryRun), "{request}");
        }
    }

    #[test]
    fn commands_that_change_nothing_or_only_say_what_they_would() {
        let request = "do a dry run: what would be cleaned up";
        for heeds in [
            "make -n",
            "make --dry-run install",
            "make -n clean",
            "rsync -avn src/ backup/",
            "rsync -a --dry-run src/ backup/",
            "git clean -n -d",
            "git clean -fdn",
            "apt-get -s upgrade",
            "apt upgrade --simulate",
            "find . -name '*.tmp'",
            "find build -type f -print",
            "ls build",
            "sed 's/a/b/' a.conf",
            "du -sh build",
        ] {
            assert_eq!(flagged(request, heeds), None, "{heeds}");
        }
        for (changes, repaired) in [
            ("make", Some("make -n")),
            ("make install", Some("make -n install")),
            (
                "rsync -av src/ backup/",
                Some("rsync --dry-run -av src/ backup/"),
            ),
            ("git clean -fd", Some("git clean -n -fd")),
            ("apt-get upgrade", Some("apt-get -s upgrade")),
            (
                "find . -name '*.tmp' -delete",
                Some("find . -name '*.tmp' -print"),
            ),
            ("rm -rf build", None),
            ("find . -name '*.tmp' -exec rm {} \\;", None),
            ("sed -i 's/a/b/' a.conf", None),
            ("cp -n a.txt backup/", None),
            ("make clean && make", None),
        ] {
            assert_eq!(flagged(request, changes), Some(Asked::DryRun), "{changes}");
            assert_eq!(
                Asked::DryRun.repair(changes).as_deref(),
                repaired,
                "{changes}"
            );
        }
        assert_eq!(
            Asked::DryRun.unheeded_by("make").unwrap(),
            "make runs what it would only show: make -n shows it"
        );
    }

    #[test]
    fn output_saved_and_shown_asks_for_tee() {
        for request in [
            "run ./build.sh and save its output to build.log while still showing it",
            "run the tests, log the output to test.log and show it on screen too",
            "capture what make prints into make.log, but I also want to see it",
            "write the output of df to disk.txt and display it",
        ] {
            assert!(
                asked_in(request).contains(&Asked::SavedAndShown),
                "{request}"
            );
        }
        for request in [
            "save the output of df to disk.txt",
            "show the disk usage on screen",
            "show the end of app.log on screen",
            "log in to the server and show it the key",
            "list the files and show them",
        ] {
            assert!(
                !asked_in(request).contains(&Asked::SavedAndShown),
                "{request}"
            );
        }
        let request = "run ./build.sh and save its output to build.log while still showing it";
        for heeds in [
            "./build.sh | tee build.log",
            "./build.sh 2>&1 | tee -a build.log",
        ] {
            assert_eq!(flagged(request, heeds), None, "{heeds}");
        }
        for (leaves, repaired) in [
            ("./build.sh > build.log", Some("./build.sh | tee build.log")),
            (
                "./build.sh >> build.log",
                Some("./build.sh | tee -a build.log"),
            ),
            ("./build.sh > build.log 2>&1", None),
            ("./build.sh 2> build.log", None),
            ("./build.sh", None),
        ] {
            assert_eq!(
                flagged(request, leaves),
                Some(Asked::SavedAndShown),
                "{leaves}"
            );
            assert_eq!(
                Asked::SavedAndShown.repair(leaves).as_deref(),
                repaired,
                "{leaves}"
            );
        }
    }

    #[test]
    fn ignoring_case_is_asked_in_many_words() {
        for request in [
            "find files named readme ignoring case",
            "search for 'error' in app.log, case-insensitive",
            "grep for todo in src case insensitively",
            "list lines containing warning regardless of case",
            "find all .jpg files, any capitalization",
            "count lines with fail in them, upper or lower case",
            "sort names.txt alphabetically, ignore case",
            "remove duplicate lines from list.txt, case doesn't matter",
            "Search notes for Paris (Case-Insensitive)",
        ] {
            assert_eq!(asked_in(request), [Asked::IgnoreCase], "{request}");
        }
        for request in [
            "find files named README, case-sensitive",
            "convert the file names to lower case",
            "uppercase every line of notes.txt",
            "in any case, list the files",
            "list files",
        ] {
            assert!(!asked_in(request).contains(&Asked::IgnoreCase), "{request}");
        }
    }

    #[test]
    fn commands_that_ignore_case_and_commands_that_do_not() {
        let request = "find the word error, ignoring case";
        for heeds in [
            "grep -i error app.log",
            "grep -ri todo src",
            "grep -rin todo src",
            "grep -iE 'a|b' f",
            "grep -y error f",
            "grep --ignore-case x f",
            "find . -iname readme",
            "find . -ipath '*x*'",
            "find . -type f -exec grep -il error {} +",
            "sort -f names.txt",
            "sort -uf names.txt",
            "sort names.txt | uniq -i",
            "awk 'tolower($0) ~ /warning/' f",
            "sed -n '/warning/Ip' f",
            "sed -i 's/colour/color/gI' f",
            "sed 's/colour/color/i' f",
            "grep -P '(?i)warning' f",
            "find . -name '*.[Jj][Pp][Gg]'",
            "ls | grep [Nn]otes",
            "rg -i x",
            "tr '[:upper:]' '[:lower:]' < f | sort -u",
            "shopt -s nocaseglob; ls *.jpg",
            "sh -c 'grep -i x f'",
            "perl -ne 'print if /foo/i' f",
        ] {
            assert_eq!(flagged(request, heeds), None, "{heeds}");
        }
        for leaves in [
            "grep error app.log",
            "find . -name readme",
            "grep -r todo src",
            "grep -c fail f",
            "grep -v x f",
            "grep -rl --include='*.py' x .",
            "sort names.txt",
            "sort -i names.txt",
            "uniq list.txt",
            "sed -i 's/foo/bar/g' f.txt",
            "sed 's/x/in/' /tmp/file",
            "find . -name '*.jpg' -o -name '*.JPG'",
            "ls *notes*",
            "find . -type f -exec grep -l error {} +",
        ] {
            assert_eq!(
                flagged(request, leaves),
                Some(Asked::IgnoreCase),
                "{leaves}"
            );
        }
    }

    #[test]
    fn the_hint_names_what_the_program_takes() {
        let why = |command| Asked::IgnoreCase.unheeded_by(command).unwrap();
        assert!(why("find . -name readme").contains("-iname"));
        assert!(why("grep -r todo src").contains("-i"));
        assert!(why("sed -i 's/a/b/' f").contains("I flag"));
        assert!(why("sort f").contains("-f"));
        assert_eq!(why("cat f"), "nothing in it ignores case");
    }

    #[test]
    fn an_exit_status_asked_to_be_shown() {
        for request in [
            "search notes.txt for eggs and show grep's exit status",
            "run make and print its exit code",
            "run ./test.sh and tell me the return code",
            "ping the host once and echo the exit status",
            "run every .sh script in checks/ and print each script's path followed by its exit code",
            "start a long sleep in the background, kill it, and report the exit status it ended with",
        ] {
            assert!(asked_in(request).contains(&Asked::ExitStatus), "{request}");
        }
        for request in [
            "print ok if the exit status is 0",
            "exit with status 1 if the file is missing",
            "show the HTTP status code of example.com",
            "run make; if its exit code is not zero, print failed",
            "print the files. Then exit with the return code of ls",
        ] {
            assert!(!asked_in(request).contains(&Asked::ExitStatus), "{request}");
        }
    }

    #[test]
    fn an_exit_status_printed_or_not() {
        let request = "run make and print its exit code";
        for heeds in [
            "make; echo $?",
            "make; echo \"exit code $?\"",
            "make || echo \"failed with ${?}\"",
            "make; echo ${PIPESTATUS[0]}",
            "make; echo $status",
            "sleep 30 & kill $!; wait $!; echo $?",
        ] {
            assert_eq!(flagged(request, heeds), None, "{heeds}");
        }
        for leaves in [
            "make",
            "make; echo 'exit code $?'",
            "make && echo done",
            "make; echo \\$?",
            "make && echo $?",
        ] {
            assert_eq!(
                flagged(request, leaves),
                Some(Asked::ExitStatus),
                "{leaves}"
            );
        }
    }

    #[test]
    fn texts_asked_to_be_printed_word_for_word() {
        let texts = |request| -> Vec<String> {
            asked_in(request)
                .into_iter()
                .filter_map(|a| match a {
                    Asked::Text(t) => Some(t),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(
            texts("run ./slow.sh for at most 1 second; if it had to be stopped, print 'timed out'"),
            ["timed out"]
        );
        assert_eq!(
            texts("start three workers, wait for all of them, then print 'all done'"),
            ["all done"]
        );
        assert_eq!(
            texts("echo \"hello world\" to greeting.txt"),
            ["hello world"]
        );
        assert_eq!(
            texts("say 'backup finished' when the copy is done"),
            ["backup finished"]
        );
        assert_eq!(texts("write 'abc123' into token.txt"), ["abc123"]);
        assert_eq!(
            texts("print the message 'it's done' at the end"),
            ["it's done"]
        );
        assert_eq!(
            texts("print 'up' if it answers, otherwise print 'down'"),
            ["up", "down"]
        );
        for none in [
            "count the log levels and print lines like 'ERROR 2'",
            "if it fails, print 'exit code N' with its real exit code",
            "print 'METHOD count' lines",
            "print the time as 'HH:MM:SS'",
            "for every file print 'name: size'",
            "print each name as 'x.txt'",
            "print 'a' for each line",
            "show owner and group as 'user:group path' lines",
            "search for 'todo' in src",
            "print 'date ...' lines",
            "don't print 'x'",
        ] {
            let found = texts(none);
            // "don't print 'x'" asks for nothing printed; 'x' is taken as a placeholder.
            assert!(found.is_empty(), "{none}: {found:?}");
        }
    }

    #[test]
    fn a_text_printed_or_not() {
        let request =
            "run ./slow.sh but stop it after 1 second; if it had to be stopped, print 'timed out'";
        for heeds in [
            "timeout 1 ./slow.sh || echo 'timed out'",
            "timeout 1 ./slow.sh || echo timed out",
            "timeout 1 ./slow.sh; [ $? -eq 124 ] && printf 'timed out\\n'",
        ] {
            assert_eq!(flagged(request, heeds), None, "{heeds}");
        }
        for leaves in [
            "timeout 1 ./slow.sh",
            "timeout 1 ./slow.sh || echo 'Timed out'",
        ] {
            assert_eq!(
                flagged(request, leaves),
                Some(Asked::Text("timed out".to_owned())),
                "{leaves}"
            );
        }
        assert_eq!(
            flagged("print 'it's done' when finished", "make; echo it\\'s done"),
            None
        );
    }

    #[test]
    fn originals_asked_to_be_kept() {
        for request in [
            "compress big.log with gzip but keep the original",
            "gzip every .txt file here, keeping the originals",
            "decompress data.gz and don't delete the .gz file",
            "xz-compress dump.sql without removing dump.sql",
            "compress the logs, but leave the uncompressed files alone",
        ] {
            assert!(
                asked_in(request).contains(&Asked::KeepOriginal),
                "{request}"
            );
        }
        for request in [
            "gzip big.log",
            "keep only the last 10 lines of log.txt",
            "compress big.log and delete the original",
            "remove the .gz files",
            "keep running the server",
        ] {
            assert!(
                !asked_in(request).contains(&Asked::KeepOriginal),
                "{request}"
            );
        }
    }

    #[test]
    fn compressors_that_keep_their_input_or_not() {
        let request = "gzip big.log, keeping the original";
        for heeds in [
            "gzip -k big.log",
            "gzip -9k big.log",
            "gzip --keep big.log",
            "gzip -c big.log > big.log.gz",
            "gzip < big.log > big.log.gz",
            "cat big.log | gzip > big.log.gz",
            "xz -dk archive.xz",
            "tar czf logs.tar.gz logs",
            "zcat data.gz > data",
            "find . -name '*.txt' -exec gzip -k {} \\;",
        ] {
            assert_eq!(flagged(request, heeds), None, "{heeds}");
        }
        for leaves in [
            "gzip big.log",
            "gzip -9 big.log",
            "gunzip data.gz",
            "xz dump.sql",
            "bzip2 -z report.txt",
            "find . -name '*.txt' -exec gzip {} \\;",
            "ls *.txt | xargs gzip",
            "for f in *.log; do gzip \"$f\"; done",
        ] {
            assert_eq!(
                flagged(request, leaves),
                Some(Asked::KeepOriginal),
                "{leaves}"
            );
        }
        assert!(
            Asked::KeepOriginal
                .unheeded_by("gunzip data.gz")
                .unwrap()
                .contains("gunzip -k")
        );
    }

    #[test]
    fn hidden_files_asked_for_or_left_out() {
        for request in [
            "empty the build folder: remove everything inside it, hidden files too",
            "names of the regular files here, hidden ones included",
            "copy everything in src to dest, including dotfiles",
            "list the hidden files in my home folder",
            "count the files here, dot files as well",
        ] {
            assert!(asked_in(request).contains(&Asked::Hidden), "{request}");
        }
        for request in [
            "list the files here, skip hidden ones",
            "list the regular files (not hidden ones)",
            "show the non-hidden files",
            "list the files, ignoring hidden files",
            "hide the file secret.txt",
        ] {
            assert!(!asked_in(request).contains(&Asked::Hidden), "{request}");
        }
        let request = "remove everything in build, hidden files too";
        for heeds in [
            "find build -mindepth 1 -delete",
            "rm -rf build/* build/.[!.]*",
            "shopt -s dotglob; rm -rf build/*",
            "ls -A build",
            "ls -la",
            "ls -d .*",
            "rm -rf build && mkdir build",
            "find . -name '*' -type f",
        ] {
            assert_eq!(flagged(request, heeds), None, "{heeds}");
        }
        for leaves in [
            "rm -rf build/*",
            "ls build",
            "ls -l",
            "for f in *; do rm -r \"$f\"; done",
        ] {
            assert_eq!(flagged(request, leaves), Some(Asked::Hidden), "{leaves}");
        }
    }

    #[test]
    fn folders_inside_asked_for_or_left_out() {
        for request in [
            "search for todo in src recursively",
            "make every .sh file under scripts executable, including the ones in subfolders",
            "list everything in docs and its subdirectories",
            "copy the whole tree under src to backup",
        ] {
            assert!(asked_in(request).contains(&Asked::Recursive), "{request}");
        }
        for request in [
            "which files in the current directory (not subfolders) can others not read?",
            "move the files sitting directly in logs (not in its subfolders)",
            "list the files here, non-recursively",
            "list the files in src, without subfolders",
            "search for todo in src",
        ] {
            assert!(!asked_in(request).contains(&Asked::Recursive), "{request}");
        }
        let request = "search for todo in src and its subfolders";
        for heeds in [
            "grep -r todo src",
            "grep -Rn todo src",
            "grep --recursive todo src",
            "find src -type f -exec grep -l todo {} +",
            "find src -name '*.py' | xargs grep todo",
            "shopt -s globstar; grep todo src/**/*.py",
            "rg todo src",
            "ls -R src",
            "chmod -R +x scripts",
            "cp -a src backup",
        ] {
            assert_eq!(flagged(request, heeds), None, "{heeds}");
        }
        for leaves in [
            "grep todo src/*",
            "ls src",
            "chmod +x scripts/*.sh",
            "cp src backup",
        ] {
            assert_eq!(flagged(request, leaves), Some(Asked::Recursive), "{leaves}");
        }
    }

    #[test]
    fn options_named_in_words() {
        for (request, leaves, repaired) in [
            (
                "show the last 50 lines of app.log and keep following it",
                "tail -n 50 app.log",
                "tail -f -n 50 app.log",
            ),
            (
                "show the difference between a.txt and b.txt side by side",
                "diff a.txt b.txt",
                "diff -y a.txt b.txt",
            ),
            (
                "show the last 10 commits, one line each",
                "git log -n 10",
                "git log --oneline -n 10",
            ),
        ] {
            let asked = asked_in(request)
                .into_iter()
                .find(|a| matches!(a, Asked::Option { .. }))
                .unwrap();
            assert!(asked.unheeded_by(leaves).is_some(), "{leaves}");
            assert_eq!(asked.repair(leaves).as_deref(), Some(repaired), "{leaves}");
            assert_eq!(asked.unheeded_by(repaired), None, "{repaired}");
        }
        let follow = Asked::Option {
            program: "tail",
            option: "-f",
        };
        for heeds in [
            "tail -fn 50 app.log",
            "tail -F app.log",
            "tail --follow=name app.log",
            "less +F app.log",
        ] {
            assert_eq!(follow.unheeded_by(heeds), None, "{heeds}");
        }
        let oneline = Asked::Option {
            program: "git log",
            option: "--oneline",
        };
        assert_eq!(
            oneline.unheeded_by("git log --pretty=format:'%h %s' -10"),
            None
        );
        assert!(oneline.unheeded_by("git log -10 | cat").is_some());
        assert!(
            !asked_in("show the last 10 lines of app.log")
                .iter()
                .any(|a| matches!(a, Asked::Option { .. }))
        );
    }

    #[test]
    fn white_space_takes_tabs_too() {
        for request in [
            "strip the trailing whitespace from every line of draft.txt, in place",
            "remove leading white space from each line of notes.txt",
        ] {
            assert!(asked_in(request).contains(&Asked::Whitespace), "{request}");
        }
        assert!(
            !asked_in("replace the spaces in names with underscores").contains(&Asked::Whitespace)
        );
        let request = "strip the trailing whitespace from every line of draft.txt";
        for (leaves, repaired) in [
            (
                "sed -i 's/ *$//' draft.txt",
                "sed -i 's/[[:space:]]*$//' draft.txt",
            ),
            (
                "sed 's/^ *//;s/ *$//' a.txt",
                "sed 's/^[[:space:]]*//;s/[[:space:]]*$//' a.txt",
            ),
            (
                "sed -E 's/ +$//' draft.txt",
                "sed -E 's/[[:space:]]+$//' draft.txt",
            ),
            (
                "sed 's/ \\+$//' draft.txt",
                "sed 's/[[:space:]]\\+$//' draft.txt",
            ),
            (
                "awk '{sub(/ +$/, \"\"); print}' draft.txt",
                "awk '{sub(/[[:space:]]+$/, \"\"); print}' draft.txt",
            ),
        ] {
            assert_eq!(
                flagged(request, leaves),
                Some(Asked::Whitespace),
                "{leaves}"
            );
            assert_eq!(
                Asked::Whitespace.repair(leaves).as_deref(),
                Some(repaired),
                "{leaves}"
            );
            assert_eq!(flagged(request, repaired), None, "{repaired}");
        }
        for heeds in [
            "sed -i 's/[[:space:]]*$//' draft.txt",
            "sed -i 's/\\s*$//' draft.txt",
            "sed -i 's/[ \\t]*$//' draft.txt",
            "sed -i 's/[[:blank:]]*$//' draft.txt",
            "tr -d ' ' < draft.txt",
        ] {
            assert_eq!(flagged(request, heeds), None, "{heeds}");
        }
    }

    #[test]
    fn a_pattern_of_one_folder_leaves_the_folders_inside_out() {
        for request in [
            "move the .log files anywhere under logs into archive",
            "gzip every .csv file below here",
            "count the lines of all .py files in this tree",
            "switch http to https in the html files in site/, subfolders included",
        ] {
            assert!(asked_in(request).contains(&Asked::Recursive), "{request}");
        }
        let request = "delete the .tmp files anywhere under build";
        for leaves in [
            "rm build/*.tmp",
            "mv logs/*.log archive/",
            "gzip ./*.csv",
            "wc -l *.py src/*.py",
            "grep -rl TODO ./*.txt ./*.md",
            "sed -i 's#http://#https://#g' site/*.html",
            "tar czf logs.tar.gz logs/*.log",
            "for f in build/*.tmp; do rm \"$f\"; done",
            "for f in report-??.csv; do gzip \"$f\"; done",
        ] {
            assert_eq!(flagged(request, leaves), Some(Asked::Recursive), "{leaves}");
        }
        for heeds in [
            "find build -name '*.tmp' -delete",
            "find build -type f -name '*.tmp' -exec rm {} +",
            "rm -r build/*",
            "grep -rl --include='*.tmp' x build",
            "grep -r -e '*.tmp' build",
            "tar czf build.tar.gz build",
            "shopt -s globstar; rm build/**/*.tmp",
            "sed -i 's/a*b/c/' $(find site -name '*.html')",
            "for f in $(find build -name '*.tmp'); do rm \"$f\"; done",
            "find build -name '*.tmp' | while read -r f; do rm \"$f\"; done",
        ] {
            assert_eq!(Asked::Recursive.unheeded_by(heeds), None, "{heeds}");
        }
        // Without the words, a pattern of one folder is what was asked.
        assert_eq!(
            flagged("delete the .tmp files in build", "rm build/*.tmp"),
            None
        );
    }

    #[test]
    fn sizes_in_a_unit() {
        let unit = |request| {
            asked_in(request).into_iter().find_map(|a| match a {
                Asked::Unit(u) => Some(u),
                _ => None,
            })
        };
        assert_eq!(
            unit("how much space is free on / in megabytes?"),
            Some(SizeUnit::Mega)
        );
        assert_eq!(unit("show the free memory in MB"), Some(SizeUnit::Mega));
        assert_eq!(unit("disk usage of logs, in GiB"), Some(SizeUnit::Giga));
        assert_eq!(
            unit("size of each folder here (in KB)"),
            Some(SizeUnit::Kilo)
        );
        assert_eq!(
            unit("disk usage of data, human-readable"),
            Some(SizeUnit::HumanReadable)
        );
        assert_eq!(unit("find files over 100MB in /var"), None);
        assert_eq!(unit("files bigger than 1 MB in src"), None);
        assert_eq!(unit("list the files in m"), None);

        let mega = "how much space is free on each file system, in megabytes?";
        for heeds in [
            "df -m",
            "df -BM",
            "df --block-size=M",
            "df --block-size=1M",
            "free -m",
            "du -sm logs",
            "du -s --block-size=MB logs",
            "ls -l --block-size=M",
            "df | awk '{print $4/1024}'",
            "stat -c %s f",
            "ls",
        ] {
            assert_eq!(flagged(mega, heeds), None, "{heeds}");
        }
        for leaves in ["df -h", "free -h", "du -sh logs", "df", "ls -lh", "free -g"] {
            assert_eq!(
                flagged(mega, leaves),
                Some(Asked::Unit(SizeUnit::Mega)),
                "{leaves}"
            );
        }
        assert_eq!(
            Asked::Unit(SizeUnit::Mega).unheeded_by("df -h").unwrap(),
            "df prints megabytes with --block-size=M; -h picks a unit by size"
        );
        let giga = "show the memory in GB";
        assert_eq!(flagged(giga, "free -g"), None);
        assert_eq!(flagged(giga, "free -h"), Some(Asked::Unit(SizeUnit::Giga)));
        let kilo = "size of the logs folder in KB";
        for heeds in ["du -s logs", "du -sk logs", "du -s -BK logs"] {
            assert_eq!(flagged(kilo, heeds), None, "{heeds}");
        }
        assert_eq!(
            flagged(kilo, "du -sh logs"),
            Some(Asked::Unit(SizeUnit::Kilo))
        );
        let bytes = "the total size of the cache folder in bytes";
        assert_eq!(unit(bytes), Some(SizeUnit::Byte));
        assert_eq!(unit("how big is a.iso, as bytes"), Some(SizeUnit::Byte));
        assert_eq!(unit("the first 20 bytes of a.bin"), None);
        for heeds in [
            "du -sb cache",
            "du -s --bytes cache",
            "du -s -B1 cache",
            "du -s --block-size=1 cache",
            "df -B1 .",
            "free -b",
            "free --bytes",
            "ls -l cache",
            "stat -c %s a.iso",
            "wc -c < a.iso",
        ] {
            assert_eq!(flagged(bytes, heeds), None, "{heeds}");
        }
        for leaves in [
            "du -sh cache",
            "du -s cache",
            "df .",
            "free -m",
            "ls -lh",
            "ls -s",
        ] {
            assert_eq!(
                flagged(bytes, leaves),
                Some(Asked::Unit(SizeUnit::Byte)),
                "{leaves}"
            );
        }
        assert_eq!(
            Asked::Unit(SizeUnit::Byte)
                .repair("du -sh cache")
                .as_deref(),
            Some("du -b -s cache")
        );
        assert_eq!(
            Asked::Unit(SizeUnit::Byte).repair("ls -lh").as_deref(),
            Some("ls -l")
        );
        let human = "how big is each folder here? human readable";
        assert_eq!(flagged(human, "du -sh *"), None);
        assert_eq!(flagged(human, "df -H"), None);
        assert_eq!(
            flagged(human, "du -s *"),
            Some(Asked::Unit(SizeUnit::HumanReadable))
        );
        assert_eq!(
            flagged(human, "ls -l"),
            Some(Asked::Unit(SizeUnit::HumanReadable))
        );
    }

    #[test]
    fn small_repairs_where_they_are_known() {
        let repair = |request: &str, command: &str| {
            let (asked, _) = unheeded(request, command).expect(command);
            let repaired = asked.repair(command)?;
            assert_eq!(
                unheeded(request, &repaired),
                None,
                "{command} -> {repaired}"
            );
            Some(repaired)
        };
        let case = "find notes, ignoring case";
        for (command, repaired) in [
            (
                "find . -name '*notes*' -type f",
                "find . -iname '*notes*' -type f",
            ),
            (
                "find . -name '*.jpg' -o -name '*.png'",
                "find . -iname '*.jpg' -o -iname '*.png'",
            ),
            ("grep -r todo src", "grep -i -r todo src"),
            ("cat f | grep todo | wc -l", "cat f | grep -i todo | wc -l"),
            (
                "find . -type f | xargs -0 grep -l x",
                "find . -type f | xargs -0 grep -i -l x",
            ),
            ("sort names.txt | uniq -c", "sort -f names.txt | uniq -c"),
        ] {
            assert_eq!(
                repair(case, command).as_deref(),
                Some(repaired),
                "{command}"
            );
        }
        assert_eq!(repair(case, "sed 's/a/b/' f"), None);
        assert_eq!(repair(case, "echo grep | cat"), None);

        let keep = "gzip the logs, keep the originals";
        assert_eq!(
            repair(keep, "gzip logs/*.log").as_deref(),
            Some("gzip -k logs/*.log")
        );
        assert_eq!(
            repair(keep, "find . -name '*.log' -exec gzip {} \\;").as_deref(),
            Some("find . -name '*.log' -exec gzip -k {} \\;")
        );
        assert_eq!(
            repair(keep, "for f in *.log; do gzip \"$f\"; done").as_deref(),
            Some("for f in *.log; do gzip -k \"$f\"; done")
        );

        let status = "search notes.txt for eggs and show grep's exit status";
        assert_eq!(
            repair(status, "grep eggs notes.txt").as_deref(),
            Some("grep eggs notes.txt; echo $?")
        );
        assert_eq!(
            repair(status, "grep eggs notes.txt | head -n 1").as_deref(),
            Some("grep eggs notes.txt | head -n 1; echo $?")
        );
        assert_eq!(
            repair(status, "for f in *; do grep eggs \"$f\"; done"),
            None
        );
        assert_eq!(repair(status, "grep -q eggs notes.txt && echo found"), None);

        assert_eq!(
            repair(status, "grep eggs notes.txt && echo $?").as_deref(),
            Some("grep eggs notes.txt; echo $?")
        );
        assert_eq!(
            repair(status, "grep eggs notes.txt && echo \"status: $?\"").as_deref(),
            Some("grep eggs notes.txt; echo \"status: $?\"")
        );
        let recursive = "search src and its subfolders for todo";
        assert_eq!(
            repair(recursive, "grep todo src/*").as_deref(),
            Some("grep -r todo src/*")
        );
        assert_eq!(
            repair(recursive, "chmod +x scripts").as_deref(),
            Some("chmod -R +x scripts")
        );
        let hidden = "list the files here, hidden ones too";
        assert_eq!(repair(hidden, "ls -l").as_deref(), Some("ls -A -l"));
        assert_eq!(repair(hidden, "rm -rf build/*"), None);

        let mega = "how much space is free on each file system, in megabytes?";
        for (command, repaired) in [
            ("df -h", "df --block-size=M"),
            ("df -hT", "df --block-size=M -T"),
            ("du -sh logs", "du --block-size=M -s logs"),
            ("free -h", "free -m"),
            ("df", "df --block-size=M"),
            ("df -h | tail -n +2", "df --block-size=M | tail -n +2"),
        ] {
            assert_eq!(
                repair(mega, command).as_deref(),
                Some(repaired),
                "{command}"
            );
        }
        assert_eq!(
            repair("the memory in GB", "free -h --si").as_deref(),
            Some("free -g")
        );
        assert_eq!(
            repair("sizes of the folders here, human readable", "du -s *").as_deref(),
            Some("du -h -s *")
        );
        assert_eq!(repair("print 'done' at the end", "make"), None);
    }

    #[test]
    fn commands_split_into_words_and_operators() {
        let raw = |command| -> Vec<String> { tokens(command).into_iter().map(|t| t.raw).collect() };
        assert_eq!(
            raw("grep -r 'a b' src|wc -l"),
            ["grep", "-r", "'a b'", "src", "|", "wc", "-l"]
        );
        assert_eq!(
            raw("a && b || c; d &"),
            ["a", "&&", "b", "||", "c", ";", "d", "&"]
        );
        assert_eq!(
            raw("echo \"$(ls | wc -l) x\" >> f"),
            ["echo", "\"$(ls | wc -l) x\"", ">>", "f"]
        );
        assert_eq!(raw("echo $(ls) ${x:-a b}"), ["echo", "$(ls)", "${x:-a b}"]);
        assert_eq!(
            raw("a\\ b 'it''s' \"q\\\"x\""),
            ["a\\ b", "'it''s'", "\"q\\\"x\""]
        );
        assert_eq!(raw("ls\nwc"), ["ls", "\n", "wc"]);
        assert_eq!(raw("echo 'open"), ["echo", "'open"]);
    }

    #[test]
    fn a_text_for_failure_or_success_after_the_right_operator() {
        let request =
            "run ./slow.sh but stop it after 1 second; if it had to be stopped, print 'timed out'";
        assert!(asked_in(request).contains(&Asked::TextWhen {
            text: "timed out".to_owned(),
            failed: true
        }));
        for heeds in [
            "timeout 1 ./slow.sh || echo 'timed out'",
            "if ! timeout 1 ./slow.sh; then echo 'timed out'; fi",
            "timeout 1 ./slow.sh; [ $? -eq 124 ] && echo 'timed out'",
        ] {
            assert_eq!(flagged(request, heeds), None, "{heeds}");
        }
        let wrong = "timeout 1 ./slow.sh && echo 'timed out'";
        let (asked, why) = unheeded(request, wrong).unwrap();
        assert_eq!(
            why,
            "`&&` prints it when what comes before succeeds; `||` prints it when that fails"
        );
        assert_eq!(
            asked.repair(wrong).as_deref(),
            Some("timeout 1 ./slow.sh || echo 'timed out'")
        );

        let success = "copy a to b and print \"copied\" if it succeeded";
        assert_eq!(
            unheeded(success, "cp a b || echo copied")
                .and_then(|(a, _)| a.repair("cp a b || echo copied"))
                .as_deref(),
            Some("cp a b && echo copied")
        );
        assert_eq!(unheeded(success, "cp a b && echo copied"), None);
        for neither in [
            "print 'up' if it answers, otherwise print 'down'",
            "print 'done' at the end",
            "print 'ok' if the file is not empty",
        ] {
            assert!(
                !asked_in(neither)
                    .iter()
                    .any(|a| matches!(a, Asked::TextWhen { .. })),
                "{neither}"
            );
        }
        // The quoted text itself is not the condition.
        assert!(
            !asked_in("print 'timed out' at the end")
                .iter()
                .any(|a| matches!(a, Asked::TextWhen { .. }))
        );
    }

    #[test]
    fn lines_of_context() {
        let context = |request| {
            asked_in(request).into_iter().find_map(|a| match a {
                Asked::Context { option, lines } => Some((option, lines)),
                _ => None,
            })
        };
        assert_eq!(
            context("find ERROR in app.log and show the 3 lines after each"),
            Some(('A', 3))
        );
        assert_eq!(
            context("grep for fail in log.txt with two lines before it"),
            Some(('B', 2))
        );
        assert_eq!(
            context("search for panic with 5 lines of context"),
            Some(('C', 5))
        );
        assert_eq!(
            context("show each TODO and the line after it"),
            Some(('A', 1))
        );
        assert_eq!(context("print the first 3 lines of app.log"), None);
        assert_eq!(
            context("show each ERROR line with the 3 lines that follow it"),
            Some(('A', 3))
        );
        assert_eq!(
            context("grep for x with 2 lines of surrounding context"),
            Some(('C', 2))
        );
        assert_eq!(context("print lines 2 to 4 of app.log"), None);
        assert_eq!(
            context("delete the 2 lines after the header in f.txt"),
            Some(('A', 2))
        );
        let request = "find ERROR in app.log and show the 3 lines after each";
        for heeds in [
            "grep -A 3 ERROR app.log",
            "grep -A3 ERROR app.log",
            "grep --after-context=3 ERROR app.log",
            "grep -C 3 ERROR app.log",
            "sed -n '/ERROR/,+3p' app.log",
        ] {
            assert_eq!(flagged(request, heeds), None, "{heeds}");
        }
        for leaves in [
            "grep ERROR app.log",
            "grep -B 3 ERROR app.log",
            "grep -A 2 ERROR app.log",
        ] {
            assert_eq!(
                flagged(request, leaves),
                Some(Asked::Context {
                    option: 'A',
                    lines: 3
                }),
                "{leaves}"
            );
        }
        let repair = |command| {
            Asked::Context {
                option: 'A',
                lines: 3,
            }
            .repair(command)
        };
        assert_eq!(
            repair("grep ERROR app.log").as_deref(),
            Some("grep -A 3 ERROR app.log")
        );
        assert_eq!(repair("grep -A 2 ERROR app.log"), None);
    }

    #[test]
    fn names_the_request_gives() {
        let named_flag = |request: &str, command: &str| unheeded(request, command).map(|(a, _)| a);
        let named = |request| -> Vec<String> {
            Asked::in_request(request)
                .into_iter()
                .filter_map(|a| match a {
                    Asked::Name(n) => Some(n),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(
            named("copy all the .conf and .json files from config into backup/"),
            [".conf", ".json", "backup/"]
        );
        assert_eq!(
            named("give deploy.sh the same permissions that run.sh has"),
            ["deploy.sh", "run.sh"]
        );
        assert_eq!(
            named("show the last lines of config/app.conf."),
            ["config/app.conf"]
        );
        assert_eq!(
            named("which lines of /etc/passwd mention bash?"),
            ["/etc/passwd"]
        );
        assert_eq!(
            named("find *.py files (not in ./venv/)"),
            ["*.py", "./venv/"]
        );
        for none in [
            "split access.log into files named status-200.log, status-404.log and so on",
            "one reports-YYYY-MM.tar.gz per month",
            "print the version, like 1.0.0",
            "paths like ./x",
            "is this ubuntu 22.04 or later?",
            "search for upper/lower case words, e.g. this",
            "print it as 'name: size'",
        ] {
            let found = named(none);
            assert!(
                found.is_empty() || (none.starts_with("split") && found == ["access.log"]),
                "{none}: {found:?}"
            );
        }
        let request = "copy all the .conf and .json files from config into config-backup";
        for heeds in [
            "mkdir config-backup && cp config/*.conf config/*.json config-backup/",
            "cp config/*.{conf,json} config-backup",
            "find config -name '*.conf' -o -name '*.JSON' | xargs cp -t config-backup",
            "find config -type f -regex '.*\\.\\(conf\\|json\\)' -exec cp {} config-backup \\;",
        ] {
            assert_eq!(named_flag(request, heeds), None, "{heeds}");
        }
        assert_eq!(
            named_flag(
                request,
                "mkdir config-backup; cp config/*.conf config-backup/"
            ),
            Some(Asked::Name(".json".to_owned()))
        );
        assert_eq!(
            named_flag(request, "cp config/*.conf config/*.jsonl config-backup/"),
            Some(Asked::Name(".json".to_owned()))
        );
        let request = "give deploy.sh the same permissions that run.sh has";
        assert_eq!(
            named_flag(request, "chmod --reference=run.sh deploy.sh"),
            None
        );
        assert_eq!(
            named_flag(request, "chmod +x deploy.sh"),
            Some(Asked::Name("run.sh".to_owned()))
        );
        assert_eq!(
            named_flag("show config/app.conf", "cd config && cat app.conf"),
            None
        );
        assert_eq!(
            named_flag("move my file.txt into docs", "mv 'my file.txt' docs/"),
            None
        );
    }

    #[test]
    fn an_archive_each() {
        for request in [
            "make a tarball per folder here",
            "zip every .txt file separately",
            "put each folder into its own tar.gz",
            "create a separate archive for each month",
            "for each directory in projects, make a .tar.gz of it",
        ] {
            assert!(asked_in(request).contains(&Asked::ArchiveEach), "{request}");
        }
        for request in [
            "make a tarball of every log file",
            "extract each archive here",
            "archive the logs folder",
            "compress each file with gzip",
            "zip the folder and keep the original",
        ] {
            assert!(
                !asked_in(request).contains(&Asked::ArchiveEach),
                "{request}"
            );
        }
        let request = "make a tarball per folder here";
        for heeds in [
            "for d in */; do tar czf \"${d%/}.tar.gz\" \"$d\"; done",
            "find . -mindepth 1 -maxdepth 1 -type d -exec tar czf {}.tar.gz {} \\;",
            "ls -d */ | xargs -I{} tar czf {}.tar.gz {}",
            "tar xzf a.tar.gz",
        ] {
            assert_eq!(flagged(request, heeds), None, "{heeds}");
        }
        for leaves in [
            "tar czf folders.tar.gz */",
            "tar -czf all.tgz a b",
            "zip -r all.zip */",
            "tar --create -f x.tar a b",
        ] {
            assert_eq!(
                flagged(request, leaves),
                Some(Asked::ArchiveEach),
                "{leaves}"
            );
        }
    }

    #[test]
    fn one_kind_of_entry_asked_for() {
        let entry = |request| {
            Asked::in_request(request)
                .into_iter()
                .find_map(|a| match a {
                    Asked::Only(e) => Some(e),
                    _ => None,
                })
        };
        for folders in [
            "show only the folders in /srv",
            "list just the directories under build",
            "delete the empty dirs in cache",
            "how many subdirectories does src have?",
            "print the names of the folders in here",
            "find folders called node_modules",
            "list directories only, in the home folder",
        ] {
            assert_eq!(entry(folders), Some(Entry::Directory), "{folders}");
        }
        for files in [
            "list the regular files in /tmp",
            "count the files in src, not the folders",
            "show the empty files in logs",
            "which files under docs were changed in the last hour?",
            "delete the .tmp files older than two days",
            "find the largest file in the current directory",
            "list only the files in the build folder",
            "how many files are in src and its subfolders? only the number",
            "count the regular files in src and its subfolders? only the number",
        ] {
            assert_eq!(entry(files), Some(Entry::File), "{files}");
        }
        for neither in [
            "list all files and folders in /opt",
            "delete the files and subfolders in tmp",
            "is data.bin a file or a directory?",
            "find broken symbolic links in /usr/lib",
            "remove everything in the tmp folder",
            "how much space does each file system have left?",
            "show the disk usage of the directories in /var",
            "list the entries in this folder",
            "print hello",
        ] {
            assert_eq!(entry(neither), None, "{neither}");
        }
    }

    #[test]
    fn finds_that_list_other_kinds_of_entry() {
        let files = Asked::Only(Entry::File);
        let folders = Asked::Only(Entry::Directory);
        for heeds in [
            "find . -type f -name '*.tmp' -mtime +2 -delete",
            "find src -xtype f",
            "ls -l",
            "find . -path ./data -prune -o -name '*.c' -print",
            "find . -type f,l -newer x",
        ] {
            assert_eq!(files.unheeded_by(heeds), None, "{heeds}");
        }
        assert_eq!(
            files.unheeded_by("find . -mmin -60").unwrap(),
            "find lists folders as well as files unless given -type f"
        );
        assert_eq!(folders.unheeded_by("find /srv -maxdepth 1 -type d"), None);
        assert_eq!(
            folders
                .unheeded_by("find cache -type f -empty -delete")
                .unwrap(),
            "find -type f lists files; folders are -type d"
        );
        for (asked, command, repaired) in [
            (&files, "find . -mmin -60", "find . -type f -mmin -60"),
            (
                &files,
                "find -L a b -maxdepth 2 -name '*.c' | wc -l",
                "find -L a b -maxdepth 2 -type f -name '*.c' | wc -l",
            ),
            (
                &files,
                "find ./docs -mindepth 1 -depth \\( -name x -o -name y \\) -print",
                "find ./docs -mindepth 1 -depth -type f \\( -name x -o -name y \\) -print",
            ),
            (&files, "find", "find -type f"),
            (
                &files,
                "find \"$HOME/my docs\" '!' -name x",
                "find \"$HOME/my docs\" -type f '!' -name x",
            ),
            (
                &folders,
                "find /srv -maxdepth 1 && find cache -empty -delete",
                "find /srv -maxdepth 1 -type d && find cache -type d -empty -delete",
            ),
            (
                &folders,
                "find cache -type f -empty",
                "find cache -type d -empty",
            ),
        ] {
            assert_eq!(
                asked.repair(command).as_deref(),
                Some(repaired),
                "{command}"
            );
        }
    }

    #[test]
    fn an_order_asked_for() {
        let order = |request| {
            asked_in(request).into_iter().find_map(|a| match a {
                Asked::Order(d) => Some(d),
                _ => None,
            })
        };
        for descending in [
            "show the folders by size, biggest first",
            "list the logs, newest ones first",
            "count each word of words.txt, most frequent first",
            "sort the scores from highest to lowest",
            "sort the names in descending order",
            "sort the lines of list.txt in reverse alphabetical order",
            "print the processes with the most memory on top",
            "sort ids.txt numerically in decreasing order",
        ] {
            assert_eq!(
                order(descending),
                Some(Direction::Descending),
                "{descending}"
            );
        }
        for ascending in [
            "list the files by date, oldest first",
            "sort the sizes from smallest to largest",
            "order the rows by the 2nd column, ascending",
            "show the least used commands first",
        ] {
            assert_eq!(order(ascending), Some(Direction::Ascending), "{ascending}");
        }
        for neither in [
            "show the 3 largest files here",
            "find the newest file in logs",
            "print the file backwards, last line first",
            "sort names.txt alphabetically",
            "reverse the order of the lines in a.txt",
            "first, list the most recent commits",
        ] {
            assert_eq!(order(neither), None, "{neither}");
        }
    }

    #[test]
    fn sortings_one_way_round_or_the_other() {
        let descending = Asked::Order(Direction::Descending);
        let ascending = Asked::Order(Direction::Ascending);
        for heeds in [
            "du -s * | sort -rn",
            "sort -n -r nums",
            "sort --reverse names",
            "sort -t, -k3,3nr data.csv",
            "sort -k2nr f",
            "ls -lt",
            "ls -S --color=never",
            "sort -n nums | tac",
            "sort -rn nums | head -3",
            "ps aux --sort=-%mem",
            "sort words | uniq -c",
            "echo hi",
        ] {
            assert_eq!(descending.unheeded_by(heeds), None, "{heeds}");
        }
        for leaves in [
            "du -s * | sort -n",
            "sort -r -k2,2n data",
            "ls -ltr",
            "ls -l --sort=size --reverse",
            "sort -rn nums | tac",
            "sort -n nums | tail -3",
        ] {
            assert!(descending.unheeded_by(leaves).is_some(), "{leaves}");
        }
        for heeds in ["sort -n nums", "ls -Sr", "ls -ltr", "sort -k2,2n f"] {
            assert_eq!(ascending.unheeded_by(heeds), None, "{heeds}");
        }
        for leaves in ["sort -nr nums", "ls -lt", "sort -k2,2nr f"] {
            assert!(ascending.unheeded_by(leaves).is_some(), "{leaves}");
        }
        assert_eq!(
            descending.unheeded_by("du -sh * | sort -h").unwrap(),
            "sort puts the smallest, oldest and first in the alphabet first unless given -r"
        );
        for (asked, command, repaired) in [
            (&descending, "du -sh * | sort -h", "du -sh * | sort -r -h"),
            (&descending, "sort -r -k2,2n data", "sort -r -k2,2nr data"),
            (&descending, "sort -k 2n data", "sort -k 2nr data"),
            (&descending, "ls -ltr", "ls -lt"),
            (&descending, "ls -l -r -S", "ls -l -S"),
            (&descending, "ls -lS --reverse", "ls -lS"),
            (&ascending, "ls -lt", "ls -r -lt"),
            (&ascending, "sort -nr nums | head", "sort -n nums | head"),
            (
                &ascending,
                "sort -t: -k3,3nr /etc/passwd",
                "sort -t: -k3,3n /etc/passwd",
            ),
        ] {
            assert_eq!(
                asked.repair(command).as_deref(),
                Some(repaired),
                "{command}"
            );
        }
        assert_eq!(descending.repair("sort -n nums | tail -3"), None);
        assert_eq!(descending.repair("sort -rn nums | tac"), None);
    }

    #[test]
    fn a_line_for_each_file_where_none_is_asked_for() {
        let quiet = |request| Asked::in_request(request).contains(&Asked::Quiet);
        for asks_none in [
            "extract logs.tar.gz into /tmp/logs",
            "copy the config folder to config.bak",
            "remove the build directory",
            "make an archive old.tar.bz2 of the old folder",
            "extract backup.tar.gz here, but skip the .log files in it",
        ] {
            assert!(quiet(asks_none), "{asks_none}");
        }
        for asks_to_see in [
            "copy config to config.bak verbosely",
            "extract logs.tar.gz and list what comes out",
            "remove the build directory, showing each file removed",
            "sync photos to /mnt/usb with progress",
            "print the names of the files in logs.tar.gz",
        ] {
            assert!(!quiet(asks_to_see), "{asks_to_see}");
        }
        for chatty in [
            "tar -xvzf logs.tar.gz -C /tmp/logs",
            "tar xvf logs.tar",
            "cp -av config config.bak",
            "rm -r -v build",
            "mkdir -p x && rsync --verbose -a a/ b/",
        ] {
            assert!(Asked::Quiet.unheeded_by(chatty).is_some(), "{chatty}");
        }
        for silent in [
            "tar -xzf logs.tar.gz -C /tmp/logs",
            "tar -tvf logs.tar",
            "tar -cf v.tar v",
            "tar -czf archive.tgz -C /var/log .",
            "cp -a config config.bak",
            "grep -v x f",
            "sort -V versions.txt",
        ] {
            assert_eq!(Asked::Quiet.unheeded_by(silent), None, "{silent}");
        }
        assert_eq!(
            Asked::Quiet.unheeded_by("cp -rv a b").unwrap(),
            "cp -v prints a line for each file, which the request does not ask for"
        );
        for (chatty, repaired) in [
            ("tar -xvzf a.tgz -C /tmp", "tar -xzf a.tgz -C /tmp"),
            ("tar xvf a.tar", "tar xf a.tar"),
            ("rm -r -v build && echo ok", "rm -r build && echo ok"),
            ("rsync --verbose -a a/ b/", "rsync -a a/ b/"),
        ] {
            assert_eq!(
                Asked::Quiet.repair(chatty).as_deref(),
                Some(repaired),
                "{chatty}"
            );
        }
    }

    #[test]
    fn a_long_listing_where_paths_are_asked_for() {
        let bare = |request| Asked::in_request(request).contains(&Asked::PathsAlone);
        assert!(bare("find the core dumps under /var"));
        assert!(bare(
            "which .conf files changed in the last day? paths from ./"
        ));
        for details in [
            "find the core dumps under /var with their sizes",
            "list the .conf files with details",
            "show the permissions of the scripts in bin",
            "list the logs in long format",
        ] {
            assert!(!bare(details), "{details}");
        }
        for long in [
            "find /var -name 'core*' -exec ls -l {} \\;",
            "find . -name '*.conf' -mtime -1 -exec ls -lh {} +",
            "find . -name '*.conf' | xargs ls -la",
            "find . -name '*.conf' -print0 | xargs -0 ls -l | sort",
        ] {
            assert_eq!(
                Asked::PathsAlone.unheeded_by(long).as_deref(),
                Some("ls -l prints a long listing, not the paths alone"),
                "{long}"
            );
        }
        for plain in [
            "find /var -name 'core*'",
            "find . -exec ls -d {} \\;",
            "ls -l",
            "find . -name x | xargs rm",
            "find . -name x | xargs grep -l y",
        ] {
            assert_eq!(Asked::PathsAlone.unheeded_by(plain), None, "{plain}");
        }
        for (long, repaired) in [
            (
                "find /var -name 'core*' -exec ls -l {} \\;",
                "find /var -name 'core*'",
            ),
            (
                "find . -mtime -1 -exec ls -lh {} + | head",
                "find . -mtime -1 | head",
            ),
            (
                "find . -name '*.conf' -print0 | xargs -0 ls -l | sort",
                "find . -name '*.conf' | sort",
            ),
        ] {
            assert_eq!(
                Asked::PathsAlone.repair(long).as_deref(),
                Some(repaired),
                "{long}"
            );
        }
    }

    #[test]
    /// Written apart from the rules, before them, and run against them once they were done
    /// (all right the first time).
    fn phrasings_written_apart_from_the_rules() {
        let cases: &[(&str, &str, bool)] = &[
            (
                "show the lines in notes.txt that mention Paris, ignoring upper/lower case",
                "grep Paris notes.txt",
                true,
            ),
            (
                "show the lines in notes.txt that mention Paris, ignoring upper/lower case",
                "grep -i paris notes.txt",
                false,
            ),
            (
                "find directories called build under src, case insensitive",
                "find src -type d -name build",
                true,
            ),
            (
                "find directories called build under src, case insensitive",
                "find src -type d -iname build",
                false,
            ),
            (
                "which files contain the word password? match it in any letter case",
                "grep -rl password .",
                true,
            ),
            (
                "which files contain the word password? match it in any letter case",
                "grep -rli password .",
                false,
            ),
            (
                "list the unique words in words.txt without regard to case",
                "sort -u words.txt",
                true,
            ),
            (
                "list the unique words in words.txt without regard to case",
                "sort -fu words.txt",
                false,
            ),
            (
                "look for timeout in the logs folder; the case doesn't matter",
                "grep -r timeout logs",
                true,
            ),
            (
                "look for timeout in the logs folder; the case doesn't matter",
                "grep -r -i timeout logs",
                false,
            ),
            (
                "find pdf files whatever the case of the extension",
                "find . -name '*.pdf'",
                true,
            ),
            (
                "find pdf files whatever the case of the extension",
                "find . -iname '*.pdf'",
                false,
            ),
            (
                "replace colour with color in essay.txt, in place, case-insensitively",
                "sed -i 's/colour/color/g' essay.txt",
                true,
            ),
            (
                "replace colour with color in essay.txt, in place, case-insensitively",
                "sed -i 's/colour/color/gI' essay.txt",
                false,
            ),
            (
                "find files named Makefile, case-sensitive",
                "find . -name Makefile",
                false,
            ),
            (
                "convert names.txt to lower case",
                "tr A-Z a-z < names.txt",
                false,
            ),
            (
                "check whether config.yml exists with test -f and print the exit status",
                "test -f config.yml",
                true,
            ),
            (
                "check whether config.yml exists with test -f and print the exit status",
                "test -f config.yml; echo $?",
                false,
            ),
            (
                "run the backup script, then display what exit code it returned",
                "./backup.sh",
                true,
            ),
            (
                "start sleep 5 with a 1 second timeout and report its exit status",
                "timeout 1 sleep 5; echo \"$?\"",
                false,
            ),
            (
                "start sleep 5 with a 1 second timeout and report its exit status",
                "timeout 1 sleep 5 && echo 'status $?'",
                true,
            ),
            (
                "print done if make's exit status is zero",
                "make && echo done",
                false,
            ),
            (
                "if the folder build exists print 'found', otherwise print 'missing'",
                "[ -d build ] && echo found",
                true,
            ),
            (
                "if the folder build exists print 'found', otherwise print 'missing'",
                "[ -d build ] && echo found || echo missing",
                false,
            ),
            (
                "display the message \"disk full\" when usage of / is above 90%",
                "df /",
                true,
            ),
            (
                "output the text 'ready' once the file done.flag appears",
                "while [ ! -e done.flag ]; do sleep 1; done; echo ready",
                false,
            ),
            (
                "print 'N files' for the number of files here",
                "ls | wc -l",
                false,
            ),
            (
                "for every file print 'name: size'",
                "stat -c '%n %s' *",
                false,
            ),
            (
                "bzip2 report.txt, leaving the original in place",
                "bzip2 report.txt",
                true,
            ),
            (
                "bzip2 report.txt, leaving the original in place",
                "bzip2 -k report.txt",
                false,
            ),
            (
                "unpack archive.xz but leave the compressed file there",
                "unxz archive.xz",
                true,
            ),
            (
                "unpack archive.xz but leave the compressed file there",
                "xz -dk archive.xz",
                false,
            ),
            (
                "compress each log in logs with gzip; do not remove the uncompressed files",
                "gzip logs/*.log",
                true,
            ),
            (
                "compress each log in logs with gzip; do not remove the uncompressed files",
                "for f in logs/*.log; do gzip -c \"$f\" > \"$f.gz\"; done",
                false,
            ),
            (
                "keep only the last 10 lines of log.txt",
                "tail -n 10 log.txt > t && mv t log.txt",
                false,
            ),
        ];
        // Of the kinds they were written for: kinds of entry and orders came later, with
        // phrasings of their own.
        let unheeded = |request, command| {
            Asked::in_request(request)
                .into_iter()
                .filter(|asked| !matches!(asked, Asked::Only(_) | Asked::Order(_)))
                .find_map(|asked| asked.unheeded_by(command))
        };
        let mut wrong = Vec::new();
        for (request, command, flag) in cases {
            if unheeded(request, command).is_some() != *flag {
                wrong.push(format!(
                    "{request} | {command} | expected flag={flag}, got {:?}",
                    unheeded(request, command)
                ));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn nothing_asked_nothing_flagged() {
        for (request, command) in [
            ("list all files", "ls"),
            ("find large files", "find . -type f -size +100M"),
            ("compress big.log", "gzip big.log"),
            ("search for todo in src", "grep -r todo src"),
        ] {
            assert_eq!(unheeded(request, command), None, "{request}");
        }
        // A command the shell cannot read is a flaw of its own.
        assert_eq!(
            unheeded("find readme, ignoring case", "find . -name 'x"),
            None
        );
    }
}
