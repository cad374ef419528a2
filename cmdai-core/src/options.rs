//! The options of common tools, to find an option a generated command gives that its program
//! does not have (`tail -r` and `ls --max-depth` on GNU/Linux): issue 21's "each option exists
//! for that program on this platform".
//!
//! The table of GNU tools (`options/gnu.tsv`) was read from the tools' own `--help` by
//! `scripts/option-table.py`; `find`'s expression is written out here, since its `--help` leaves
//! predicates out. The check is lenient where the table cannot tell: options it has never heard
//! of count as unknown, but an argument it is unsure of is skipped rather than checked, and
//! words with expansions in them (`-$flag`) are not checked at all.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::safety::SimpleCommand;

/// The options of one program.
#[derive(Debug, Default)]
struct Options {
    /// Short options without an argument.
    short_plain: &'static str,
    /// Short options with one: the rest of the word, or else the next word.
    short_argument: &'static str,
    /// Long options without an argument.
    long_plain: Vec<&'static str>,
    /// Long options with one: after `=`, or else the next word.
    long_argument: Vec<&'static str>,
}

/// A table of the options of common tools on one platform.
#[derive(Debug)]
pub struct OptionTable {
    tools: HashMap<&'static str, Options>,
}

static GNU: LazyLock<OptionTable> =
    LazyLock::new(|| OptionTable::parse(include_str!("options/gnu.tsv")));

impl OptionTable {
    /// The options of GNU coreutils, findutils, grep, sed, tar, the compressors and a few more,
    /// as on GNU/Linux.
    pub fn gnu() -> &'static OptionTable {
        &GNU
    }

    fn parse(table: &'static str) -> OptionTable {
        let tools = table
            .lines()
            .filter_map(|line| {
                let mut fields = line.split('\t');
                let name = fields.next()?;
                let mut next = || fields.next().unwrap_or("");
                let options = Options {
                    short_plain: next(),
                    short_argument: next(),
                    long_plain: next().split_whitespace().collect(),
                    long_argument: next().split_whitespace().collect(),
                };
                Some((name, options))
            })
            .collect();
        OptionTable { tools }
    }

    /// Whether the table knows `program`'s options (`find` always counts).
    pub fn knows(&self, program: &str) -> bool {
        let name = base_name(program);
        name == "find" || self.tools.contains_key(name)
    }

    /// The first option of `command` that its program does not have, as written (`-r`,
    /// `--max-depth`, find's `-mtimes`); `None` when every option is known or the program
    /// is not in the table.
    pub fn unknown_option(&self, command: &SimpleCommand) -> Option<String> {
        let name = base_name(&command.program);
        if name == "find" {
            return unknown_find_word(&command.args);
        }
        let options = self.tools.get(name)?;
        let mut args = command.args.iter();
        if name == "tar" {
            // Old-style letters without a dash (`tar xzf a.tgz`), each possibly taking the
            // next word as its argument.
            if let Some(letters) = command.args.first().filter(|a| !a.starts_with('-')) {
                args.next();
                for letter in letters.chars() {
                    if options.short_argument.contains(letter) {
                        args.next();
                    } else if !options.short_plain.contains(letter) {
                        return Some(format!("{letter} (in {letters})"));
                    }
                }
            }
        }
        while let Some(arg) = args.next() {
            if arg == "--" {
                break;
            }
            // The value of `--include='*.py'` may have a glob; the option itself may not.
            let (option, value) = match arg.split_once('=') {
                Some((option, _)) if option.starts_with("--") => (option, true),
                _ => (arg.as_str(), false),
            };
            if !is_checked(option)
                || (name == "chmod" && is_mode(arg))
                || (name == "pkill" && is_signal(arg))
            {
                continue;
            }
            if let Some(long) = option.strip_prefix("--") {
                match options.long(long) {
                    Some(true) if !value => {
                        args.next();
                    }
                    Some(_) => {}
                    None => return Some(format!("--{long}")),
                }
                continue;
            }
            for (at, letter) in arg.char_indices().skip(1) {
                if options.short_argument.contains(letter) {
                    if at + letter.len_utf8() == arg.len() {
                        args.next();
                    }
                    break;
                }
                // Digits are numbers (`-w1`) or options the table leaves out (`ls -1`).
                if !options.short_plain.contains(letter) && !letter.is_ascii_digit() {
                    return Some(format!("-{letter}"));
                }
            }
        }
        None
    }
}

impl Options {
    /// Whether the long option `name` (or an option `name` abbreviates, as getopt allows)
    /// exists, and if so whether it takes an argument.
    fn long(&self, name: &str) -> Option<bool> {
        if self.long_argument.contains(&name) {
            return Some(true);
        }
        if self.long_plain.contains(&name) {
            return Some(false);
        }
        let abbreviates = |option: &&str| option.starts_with(name);
        if self.long_plain.iter().any(abbreviates) {
            Some(self.long_argument.iter().any(abbreviates))
        } else if self.long_argument.iter().any(abbreviates) {
            Some(true)
        } else {
            None
        }
    }
}

/// The program's name without its directory.
fn base_name(program: &str) -> &str {
    program.rsplit('/').next().unwrap_or(program)
}

/// Whether `arg` is an option word to check: it starts with a dash and is not a lone dash, a
/// negative number (`-5`, `head -20`) or a word with an expansion or glob in it.
fn is_checked(arg: &str) -> bool {
    let Some(rest) = arg.strip_prefix('-') else {
        return false;
    };
    !(rest.is_empty()
        || rest.starts_with(|c: char| c.is_ascii_digit())
        || rest.contains(['$', '`', '*', '?', '[']))
}

/// A symbolic mode that starts with a dash (`chmod -x script.sh`, `chmod -w,o-r f`).
fn is_mode(arg: &str) -> bool {
    arg.split(',').all(|clause| {
        let perms = clause.trim_start_matches(['u', 'g', 'o', 'a']);
        perms.starts_with(['-', '+', '=']) && perms.chars().all(|c| "-+=rwxXstugo".contains(c))
    })
}

/// A signal given as an option (`pkill -KILL`, `pkill -SIGUSR1`).
fn is_signal(arg: &str) -> bool {
    arg[1..].starts_with(|c: char| c.is_ascii_uppercase())
        && arg[1..]
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// find's options that take no argument and apply to the whole search wherever they are
/// written.
const FIND_GLOBAL_PLAIN: &[&str] = &[
    "daystart",
    "follow",
    "nowarn",
    "warn",
    "depth",
    "d",
    "mount",
    "noleaf",
    "xdev",
    "ignore_readdir_race",
    "noignore_readdir_race",
    "H",
    "L",
    "P",
];

/// find's other predicates and options that take no argument.
const FIND_PLAIN: &[&str] = &[
    "empty",
    "false",
    "true",
    "nouser",
    "nogroup",
    "readable",
    "writable",
    "executable",
    "delete",
    "print",
    "print0",
    "ls",
    "prune",
    "quit",
    "not",
    "and",
    "or",
    "a",
    "o",
    "help",
    "version",
    "-help",
    "-version",
];

/// find's predicates that take one argument.
const FIND_ONE: &[&str] = &[
    "regextype",
    "files0-from",
    "maxdepth",
    "mindepth",
    "amin",
    "anewer",
    "atime",
    "cmin",
    "cnewer",
    "context",
    "ctime",
    "fstype",
    "gid",
    "group",
    "ilname",
    "iname",
    "inum",
    "ipath",
    "iregex",
    "iwholename",
    "links",
    "lname",
    "mmin",
    "mtime",
    "name",
    "newer",
    "path",
    "perm",
    "regex",
    "samefile",
    "size",
    "type",
    "uid",
    "used",
    "user",
    "wholename",
    "xtype",
    "printf",
    "fprint",
    "fprint0",
    "fls",
    "D",
];

/// The first word of find's arguments that is not one of its predicates, options or operators.
fn unknown_find_word(args: &[String]) -> Option<String> {
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let Some(word) = arg.strip_prefix('-') else {
            continue;
        };
        if !is_checked(arg) || word.starts_with('O') {
            continue;
        }
        if FIND_PLAIN.contains(&word) || FIND_GLOBAL_PLAIN.contains(&word) {
            continue;
        }
        if !skip_find_operands(word, &mut args) {
            return Some(arg.clone());
        }
    }
    None
}

/// Skips what find's predicate `word` (without its `-`) takes after it in `args`: its operands,
/// or the command of `-exec` and its kin, which runs up to `;` (or `+` right after `{}`).
/// Whether `word` is one of those.
fn skip_find_operands<'a>(word: &str, args: &mut impl Iterator<Item = &'a String>) -> bool {
    if FIND_ONE.contains(&word) || is_newer_xy(word) {
        args.next();
    } else if word == "fprintf" {
        args.next();
        args.next();
    } else if matches!(word, "exec" | "execdir" | "ok" | "okdir") {
        let mut previous = "";
        for next in args.by_ref() {
            if next == ";" || (next == "+" && previous == "{}") {
                break;
            }
            previous = next;
        }
    } else {
        return false;
    }
    true
}

/// One element of a `find` expression, for checking how it is grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FindItem<'a> {
    Open,
    Close,
    Or,
    /// An action, e.g. `-exec` (its command skipped) or `-print`.
    Action(&'a str),
    Prune,
    /// A test, e.g. `-name` (its argument skipped).
    Test(&'a str),
}

/// Whether `word` is one of find's options that apply to the whole search wherever they are
/// written: not tests.
fn is_find_global(word: &str) -> bool {
    FIND_GLOBAL_PLAIN.contains(&word)
        || matches!(
            word,
            "regextype" | "files0-from" | "maxdepth" | "mindepth" | "D"
        )
}

/// find's actions: with one of them in the expression, find prints nothing of its own.
const FIND_ACTIONS: &[&str] = &[
    "delete", "print", "print0", "printf", "fprint", "fprint0", "fprintf", "ls", "fls", "quit",
    "exec", "execdir", "ok", "okdir",
];

/// The elements of find's expression in `args` (the starting points, operands of tests and
/// the commands of `-exec` left out; `!`, `-not`, `-a` and `-and` too, which do not change
/// how `-o` groups).
pub(crate) fn find_expression(args: &[String]) -> Vec<FindItem<'_>> {
    let mut items = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "(" => items.push(FindItem::Open),
            ")" => items.push(FindItem::Close),
            "-o" | "-or" => items.push(FindItem::Or),
            "-prune" => items.push(FindItem::Prune),
            _ => {}
        }
        let Some(word) = arg.strip_prefix('-') else {
            continue;
        };
        skip_find_operands(word, &mut args);
        if FIND_ACTIONS.contains(&word) {
            items.push(FindItem::Action(arg));
        } else if !is_find_global(word)
            && !matches!(word, "o" | "or" | "a" | "and" | "not" | "prune")
            && word.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        {
            items.push(FindItem::Test(arg));
        }
    }
    items
}

/// `-newerXY`: X and Y each one of a, B, c, m, and Y also t (a time written out).
fn is_newer_xy(word: &str) -> bool {
    let Some(xy) = word.strip_prefix("newer") else {
        return false;
    };
    let mut letters = xy.chars();
    matches!(
        (letters.next(), letters.next(), letters.next()),
        (
            Some('a' | 'B' | 'c' | 'm'),
            Some('a' | 'B' | 'c' | 'm' | 't'),
            None
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::simple_commands;

    fn unknown(command: &str) -> Vec<String> {
        simple_commands(command)
            .unwrap()
            .iter()
            .filter_map(|c| OptionTable::gnu().unknown_option(c))
            .collect()
    }

    #[test]
    fn everyday_gnu_commands_have_no_unknown_option() {
        for command in [
            "ls -la",
            "ls -lhS --group-directories-first",
            "ls -1 -t | head -n 3",
            "ls -I '*.o' -w 80",
            "ls --color=auto -A",
            "ls --sort=size -r",
            "du -sh * | sort -rh | head -5",
            "du -h --max-depth=1 .",
            "du -d 1 -h",
            "du --apparent-size -s data",
            "df -h --output=source,size,avail /",
            "df -m .",
            "find . -name '*.log' -size +100M -mtime -7",
            "find . -type f -newer config/app.conf -print",
            r"find . \( -name '*.c' -o -name '*.h' \) -exec grep -l main {} \;",
            "find . -iname '*notes*' -not -path './.git/*' -printf '%s %p\\n'",
            "find src -type f -exec chmod 644 {} +",
            "find . -maxdepth 1 -type f ! -name '.*' -newermt '2024-01-01' -delete",
            "find /tmp -mindepth 1 -empty -user root -perm -u+x -ls",
            "find -L . -xtype l -fprintf out.txt '%p\\n'",
            "grep -rn --include='*.py' 'import os' .",
            "grep -E -o '[0-9]+' -A 3 -B2 log.txt",
            "grep -v -e '^#' -e '^$' conf",
            "grep -c -i error app.log",
            "grep -rlZ TODO . | xargs -0 sed -i 's/TODO/DONE/g'",
            "sed -n '2,5p' file.txt",
            "sed -i.bak -E 's/a+/b/' f",
            "sed -e 's/x/y/' -e '/^$/d' --in-place f",
            "tail -n +2 data.csv | cut -d, -f1,3",
            "tail -f -n 20 app.log",
            "tail -20 log",
            "head -c 100 file",
            "sort -t, -k2,2n -r data.csv | uniq -c",
            "sort -u -o out.txt in.txt",
            "sort --human-numeric-sort --reverse sizes",
            "cut -d ' ' -f 1 access.log | sort | uniq -c | sort -rn | head -n 10",
            "wc -l *.txt",
            "tr -d '\\r' < in > out",
            "tr -s ' ' | tr '[:upper:]' '[:lower:]'",
            "tar -czvf backup.tar.gz docs",
            "tar xzf archive.tar.gz -C out",
            "tar -tf archive.tar",
            "tar cjf a.tbz --exclude='*.o' src",
            "tar -xJf a.txz --strip-components=1",
            "tar --list --file=a.tar",
            "gzip -k -9 notes.txt",
            "gunzip -c logs/old.gz | grep -c x",
            "xz -dk a.xz",
            "bzip2 -d a.bz2",
            "zcat a.gz | head",
            "chmod -R u+x scripts",
            "chmod -x script.sh",
            "chmod -w,o-r f",
            "chmod 755 run.sh",
            "chown -R user:group dir",
            "cp -r src dst",
            "cp -a --parents a/b c",
            "mv -n a b",
            "rm -rf build/*",
            "mkdir -p a/b/c",
            "ln -sf target link",
            "touch -d '2 days ago' f",
            "stat -c '%s %n' f",
            "date -d yesterday +%F",
            "date -u +%Y-%m-%dT%H:%M:%SZ",
            "seq -w 1 10",
            "seq -s, 5",
            "nl -ba f",
            "paste -sd+ nums | bc",
            "split -l 100 -d big.txt part_",
            "comm -12 <(sort a) <(sort b)",
            "uniq -d sorted",
            "timeout 5 ping -c 1 host",
            "nice -n 10 make -j4",
            "xargs -I{} cp {} dst",
            "env -i PATH=/bin sh",
            "md5sum -c sums",
            "sha256sum *.iso",
            "readlink -f link",
            "realpath --relative-to=. /tmp/x",
            "basename -s .txt a.txt",
            "od -An -tx1 f",
            "numfmt --to=iec 1048576",
            "diff -u a b",
            "diff -rq dir1 dir2",
            "cmp -s a b",
            "free -h",
            "free -m -t",
            "pgrep -fl python",
            "pkill -9 -f 'sleep 100'",
            "pkill -SIGUSR1 -f recorder",
            "find . -version",
            "xz --format=lzma -d f.lzma",
            "diff --old-line-format='-%L' --new-line-format='+%L' a b",
            "lsblk -o NAME,SIZE",
            "column -t -s,",
            "file -b --mime-type f",
            "uname -srm",
            "id -un",
            "shuf -n 5 -i 1-100",
            "truncate -s 0 log",
            "mktemp -d",
            "tee -a out.log",
            "cat -A f",
            "echo -e 'a\\tb' | expand -t 4",
            "ls -l -- -weird-name",
            "grep -- -v file",
            "ls -l \"$dir\" -$flags",
            "some-unknown-tool --frobnicate",
        ] {
            assert_eq!(unknown(command), Vec::<String>::new(), "{command}");
        }
    }

    #[test]
    fn options_a_tool_does_not_have_are_found() {
        for (command, option) in [
            ("tail -r file", "-r"),
            ("ls --max-depth=1", "--max-depth"),
            ("ls -l --max-depth 1 dir", "--max-depth"),
            ("du -sh --depth=1", "--depth"),
            ("grep -rn --includes='*.py' x .", "--includes"),
            ("sort -k2 -j f", "-j"),
            ("head -j 3 f", "-j"),
            ("wc -x f", "-x"),
            ("cat f | sort -rn | head -5 | cut -q", "-q"),
            ("cp --recursive-all a b", "--recursive-all"),
            ("find . -name '*.c' -modified -7", "-modified"),
            ("find . -type f -mtimes 3", "-mtimes"),
            ("find . -size +1M -exec ls -l {} \\; -sorted", "-sorted"),
            ("tar -czvyf a.tgz d", "-y"),
            ("tar xzqf a.tgz", "q (in xzqf)"),
            ("df -h --total-size", "--total-size"),
            ("sed -x 's/a/b/' f", "-x"),
            ("mkdir --recursive a/b", "--recursive"),
            ("sudo rm -rf --force-all /tmp/x", "--force-all"),
            ("timeout 5 tail -r log", "-r"),
        ] {
            assert_eq!(unknown(command), [option], "{command}");
        }
    }

    #[test]
    fn getopt_abbreviations_and_attached_arguments() {
        // `--max` abbreviates du's --max-depth; `-n5` and `-k2,2n` carry their arguments.
        assert!(unknown("du --max=1 -h").is_empty());
        assert!(unknown("head -n5 f").is_empty());
        assert!(unknown("sort -k2,2n -t: f").is_empty());
        // The argument of an option is not checked as an option: `-e -x` greps for "-x".
        assert!(unknown("grep -e -x f").is_empty());
        // A program the table does not know is never judged.
        assert!(!OptionTable::gnu().knows("rsync"));
        assert!(OptionTable::gnu().knows("/usr/bin/ls"));
        assert!(OptionTable::gnu().knows("find"));
    }
}
