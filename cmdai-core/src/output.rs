//! The form of output a request asks for in so many words ("how many? just the number", "names
//! only"), and whether what a command printed, when it was tried, has that form.
//!
//! Small models drop such words: `wc -l app.log` prints `42 app.log` where only the number was
//! asked for, `ls -lt` prints long listings where the names were. Nothing fails, so only the
//! output shows it; a [`Trial`](crate::Trial) that ran the command can tell the model.

use std::fmt;

/// A form of output a request can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputForm {
    /// One number, perhaps with a unit (`42`, `1.5M`, `12%`): "just the number", "print only
    /// the total size".
    Number,
    /// Names or paths and nothing else, one per line: "names only", "just their paths".
    Names,
}

/// Words that name one number.
const NUMBER_NOUNS: &[&str] = &["number", "count", "total", "sum", "size"];
/// Words that name names.
const NAME_NOUNS: &[&str] = &["name", "names", "path", "paths", "filename", "filenames"];
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

    /// Whether `stdout` has this form. Nothing printed has every form: that is not for this
    /// check to judge.
    pub fn fits(self, stdout: &str) -> bool {
        let lines: Vec<&str> = stdout
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect();
        match self {
            OutputForm::Number => lines.len() <= 1 && lines.iter().all(|line| is_number(line)),
            OutputForm::Names => {
                !lines.iter().any(|line| is_long_listing(line))
                    && !(!lines.is_empty() && lines.iter().all(|line| starts_with_number(line)))
            }
        }
    }

    /// The first line of `stdout` that shows it does not have this form, if one does.
    pub fn misfit(self, stdout: &str) -> Option<String> {
        if self.fits(stdout) {
            return None;
        }
        let mut lines = stdout.lines().map(str::trim).filter(|l| !l.is_empty());
        let first = lines.next().unwrap_or_default();
        let shown: String = first.chars().take(60).collect();
        let more = shown.len() < first.len() || lines.next().is_some();
        Some(if more { format!("{shown} ...") } else { shown })
    }
}

impl fmt::Display for OutputForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutputForm::Number => "only the number the request asks for",
            OutputForm::Names => "only the names or paths the request asks for",
        })
    }
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
    fn a_number_is_one_line_with_at_most_a_unit() {
        for fits in [
            "42\n", "1.5M", "  7\n\n", "12%", "4.0 KiB", "-3", "1,024", "",
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
