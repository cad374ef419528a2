//! Failures a trial shows ([`Flaw::Failed`](crate::Flaw)) that a small, known change mends, so
//! that the model need not be asked again for what it got nearly right:
//!
//! - `comm` and `join` read sorted files: unsorted ones are sorted on the way in
//!   (`comm -23 <(sort a.txt) <(sort b.txt)`), where the shell has process substitution.
//! - GNU tar takes `--exclude` and its kin only before the files they apply to.
//! - A file the request names with spaces (`my file.txt`) written without them (`myfile.txt`).
//! - Files moved or copied one by one onto one path that is no folder: the folder made first;
//!   and a folder inside `find`'s search that files go into left out of the search.
//! - `$(grep -n ...)` handed on as a line number: cut to the number (`| cut -d: -f1`).
//! - jq's functions written as fields (`.keys[]`): called (`keys[]`).
//! - One of two answers asked for ("print valid or invalid") where the command is the test and
//!   its failure is the answer (`gzip -t x.gz`): the answer printed by its exit status.
//!
//! Each change is kept only if the trial then finds nothing wrong.

use crate::ShellContext;
use crate::output::OutputForm;
use crate::safety::{SimpleCommand, shell_words, simple_commands};

/// `command` changed as little as it takes to mend the failure `message` it ended with when it
/// was tried for `request`, where such a change is known; `None` otherwise.
pub(crate) fn mend_failure(
    request: &str,
    command: &str,
    message: &str,
    context: &ShellContext,
) -> Option<String> {
    if let Some(form @ OutputForm::Choice(_)) = OutputForm::asked_in(request)
        && let Some(answered) = form.repair(command, message)
    {
        return Some(answered);
    }
    let unsorted = message.contains("not in sorted order") || message.contains("is not sorted");
    if unsorted && let Some(sorted) = sorted_inputs(command, &context.shell) {
        return Some(sorted);
    }
    if message.contains("options were used after any non-optional arguments") {
        return tar_options_first(command);
    }
    if message.contains("No such file") {
        return spaced_name(request, command, message);
    }
    if message.contains("are the same file") {
        return destination_pruned(command);
    }
    if message.contains("invalid number") && message.contains(':') {
        return line_number_only(command);
    }
    if message.starts_with("jq: error") {
        return jq_builtins(command);
    }
    None
}

/// `command` with `grep -n`'s output, inside `$(...)`, cut to the line number: `tail -n
/// +$(grep -n ERROR app.log | head -1)` hands tail `3:2026-11-20 ERROR ...`, not `3`.
fn line_number_only(command: &str) -> Option<String> {
    let start = command.find("$(grep ")?;
    let inner_start = start + 2;
    let mut depth = 1;
    let end = command[inner_start..].char_indices().find_map(|(i, c)| {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        (depth == 0).then_some(inner_start + i)
    })?;
    let inner = &command[inner_start..end];
    let grep = simple_commands(inner)?.into_iter().next()?;
    let numbered = grep.args.iter().any(|a| {
        a == "--line-number" || (a.starts_with('-') && !a.starts_with("--") && a.contains('n'))
    });
    if !numbered || inner.contains("cut ") {
        return None;
    }
    Some(format!(
        "{}{} | cut -d: -f1{}",
        &command[..inner_start],
        inner.trim_end(),
        &command[end..]
    ))
}

/// jq's functions without arguments that small models write as fields (`.keys[]` for `keys[]`):
/// no such field, so jq iterates over or indexes null.
const JQ_FUNCTIONS: &[&str] = &["keys", "keys_unsorted", "length", "to_entries"];

/// `command` with jq's functions written as fields (`.keys`) written as functions (`keys`).
fn jq_builtins(command: &str) -> Option<String> {
    let mut mended = command.to_owned();
    for function in JQ_FUNCTIONS {
        let field = format!(".{function}");
        let mut at = 0;
        while let Some(found) = mended[at..].find(&field).map(|i| i + at) {
            let before = mended[..found].chars().next_back();
            let after = mended[found + field.len()..].chars().next();
            let starts = before.is_none_or(|c| "'\" |( ".contains(c));
            let ends = after.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            if starts && ends {
                mended.replace_range(found..found + 1, "");
            }
            at = found + 1;
        }
    }
    (mended != command).then_some(mended)
}

/// `command` with the folder `destination` made first and named as a folder (`mv {}
/// inbox/large/`): files moved or copied one by one onto a path that is no folder each take the
/// place of the one before ([`Flaw::OneFile`](crate::Flaw)).
pub(crate) fn into_folder(command: &str, destination: &str) -> Option<String> {
    let folder = quoted(destination)?;
    let named = replace_last_word(command, destination, &format!("{folder}/"))?;
    Some(format!("mkdir -p {folder} && {named}"))
}

/// `command`'s `find` with the folder its `-exec mv` or `-exec cp` puts files into left out of
/// the search (`-path inbox/large -prune -o ...`), where that folder is inside the search: find
/// would come across the files already there and move each onto itself.
fn destination_pruned(command: &str) -> Option<String> {
    let find = simple_commands(command)?
        .into_iter()
        .find(|c| c.program == "find")?;
    let starts: Vec<&String> = find
        .args
        .iter()
        .take_while(|a| !a.starts_with(['-', '(', '!']))
        .collect();
    let action = find
        .args
        .iter()
        .position(|a| matches!(a.as_str(), "-exec" | "-execdir"))?;
    let program = find.args.get(action + 1)?;
    if !matches!(program.as_str(), "mv" | "cp") {
        return None;
    }
    let end = action
        + find.args[action..]
            .iter()
            .position(|a| a == ";" || a == "+")?;
    let destination = find.args[action + 2..end]
        .iter()
        .rfind(|a| *a != "{}" && !a.starts_with('-'))?;
    let folder = destination.trim_end_matches('/').trim_start_matches("./");
    // The folder as find names it under the start it is in.
    let path = starts.iter().find_map(|start| {
        let start = start.trim_end_matches('/');
        if start == "." {
            Some(format!("./{folder}"))
        } else {
            folder
                .strip_prefix(start)
                .filter(|rest| rest.starts_with('/'))
                .map(|_| folder.to_owned())
        }
    })?;
    // After the start paths as written: the words after `find` that are no option.
    let at = command.find("find ")?;
    let mut end = at + "find".len();
    for word in command[end..].split_whitespace() {
        if word.starts_with(['-', '(', '!', '\\']) {
            break;
        }
        end = command[end..].find(word)? + end + word.len();
    }
    Some(format!(
        "{} -path {} -prune -o{}",
        &command[..end],
        quoted(&path)?,
        &command[end..]
    ))
}

/// Shells with process substitution (`<(sort a.txt)`).
const PROCESS_SUBSTITUTION: &[&str] = &["bash", "zsh", "ksh", "ksh93", "mksh"];

/// `command` with the files its `comm` or `join` reads sorted on the way in: `comm -23
/// <(sort a.txt) <(sort b.txt)`, and for `join` on the field it joins on (`<(sort -t, -k1,1
/// users.csv)`).
fn sorted_inputs(command: &str, shell: &str) -> Option<String> {
    let shell = shell.rsplit('/').next().unwrap_or(shell);
    if !PROCESS_SUBSTITUTION.contains(&shell) {
        return None;
    }
    let simple = simple_commands(command)?
        .into_iter()
        .find(|c| matches!(c.program.as_str(), "comm" | "join"))?;
    let (files, keys, separator) = inputs(&simple)?;
    let sort = |key: Option<&str>| match (key, separator.as_deref()) {
        (None, _) => "sort".to_owned(),
        (Some(key), None) => format!("sort -k{key},{key}"),
        (Some(key), Some(separator)) => format!("sort -t{separator} -k{key},{key}"),
    };
    let mut command = command.to_owned();
    let mut changed = false;
    // The second file first: it is the last word of the two.
    for (file, key) in files.iter().zip(keys).rev() {
        if file == "-" || file.starts_with("<(") {
            continue;
        }
        let sorted = format!("<({} {})", sort(key.as_deref()), quoted(file)?);
        command = replace_last_word(&command, file, &sorted)?;
        changed = true;
    }
    changed.then_some(command)
}

/// The two files `comm` or `join` reads, the field each is joined on (`join` only) and the
/// separator `join` splits fields at, written for `sort -t`.
#[allow(clippy::type_complexity)]
fn inputs(simple: &SimpleCommand) -> Option<([String; 2], [Option<String>; 2], Option<String>)> {
    let join = simple.program == "join";
    let mut operands = Vec::new();
    let (mut first, mut second, mut separator) = (None, None, None);
    let mut args = simple.args.iter();
    while let Some(arg) = args.next() {
        if arg == "-" || !arg.starts_with('-') {
            operands.push(arg.clone());
            continue;
        }
        if !join || arg.starts_with("--") {
            continue;
        }
        // join's options with a value: `-t,` or `-t ,`, `-1 2`, `-j 1`, `-o 1.1,2.2`, `-e x`.
        let Some((letter, attached)) = arg.get(1..2).zip(arg.get(2..)) else {
            continue;
        };
        if !matches!(letter, "t" | "1" | "2" | "j" | "o" | "e") {
            continue;
        }
        let value = match attached {
            "" => match args.next() {
                Some(value) => value.clone(),
                None => return None,
            },
            attached => attached.to_owned(),
        };
        match letter {
            "t" => separator = Some(value),
            "1" => first = Some(value),
            "2" => second = Some(value),
            "j" => (first, second) = (Some(value.clone()), Some(value)),
            _ => {}
        }
    }
    let [a, b] = <[String; 2]>::try_from(operands).ok()?;
    if !join {
        return Some(([a, b], [None, None], None));
    }
    let field = |key: Option<String>| {
        let key = key.unwrap_or_else(|| "1".into());
        key.chars().all(|c| c.is_ascii_digit()).then_some(key)
    };
    let separator = match separator.as_deref() {
        None => None,
        Some("," | ":") => separator,
        Some(one) if one.chars().count() == 1 && !matches!(one, "'" | "\\" | "\t") => {
            Some(format!("'{one}'"))
        }
        Some(_) => return None,
    };
    Some((
        [a, b],
        [Some(field(first)?), Some(field(second)?)],
        separator,
    ))
}

/// `word` as the shell reads it back: as it is, or in single quotes where it needs them.
pub(crate) fn quoted(word: &str) -> Option<String> {
    let plain = word
        .chars()
        .all(|c| c.is_alphanumeric() || "._-/+,:@%=".contains(c));
    if plain {
        Some(word.to_owned())
    } else if word.contains('\'') {
        None
    } else {
        Some(format!("'{word}'"))
    }
}

/// `command` with the last place it writes `word` (bare or in quotes, as a whole shell word)
/// replaced by `with`.
fn replace_last_word(command: &str, word: &str, with: &str) -> Option<String> {
    let forms = [format!("'{word}'"), format!("\"{word}\""), word.to_owned()];
    let ends_word = |c: Option<char>| c.is_none_or(|c| c.is_whitespace() || ";|&)".contains(c));
    let starts_word = |c: Option<char>| c.is_none_or(|c| c.is_whitespace() || "(".contains(c));
    let at = forms
        .iter()
        .filter_map(|form| {
            command.rmatch_indices(form.as_str()).find(|(at, form)| {
                starts_word(command[..*at].chars().next_back())
                    && ends_word(command[at + form.len()..].chars().next())
            })
        })
        .max_by_key(|(at, _)| *at)?;
    let (at, form) = at;
    Some(format!(
        "{}{with}{}",
        &command[..at],
        &command[at + form.len()..]
    ))
}

/// `command`, a `tar` that creates an archive, with the options written after the files
/// (`tar -czf t.tar.gz *.txt --exclude=empty.txt`) moved before them: GNU tar applies
/// `--exclude` only to the files that follow it.
fn tar_options_first(command: &str) -> Option<String> {
    let raw: Vec<&str> = command.split_whitespace().collect();
    // One simple command whose words are the words as written: nothing quoted with spaces.
    let words = shell_words(command)?;
    if words.len() != raw.len() || raw.first() != Some(&"tar") {
        return None;
    }
    if raw
        .iter()
        .any(|w| matches!(*w, "|" | "&&" | "||" | ";" | "&"))
    {
        return None;
    }
    // Which words are the files: after the options, and the archive's name after `f`.
    let mut first_file = None;
    let mut takes_value = false;
    for (i, word) in raw.iter().enumerate().skip(1) {
        if takes_value {
            takes_value = false;
            continue;
        }
        let bundle = if i == 1 && !word.starts_with('-') {
            Some(*word)
        } else if word.starts_with('-') && !word.starts_with("--") {
            Some(&word[1..])
        } else {
            None
        };
        match bundle {
            // `czf NAME`, `-czf NAME`, `-C DIR`: the value follows when the letter ends it.
            Some(letters) => takes_value = letters.ends_with(['f', 'C', 'T', 'X']),
            None if word.starts_with("--") => {
                takes_value = matches!(*word, "--file" | "--directory" | "--exclude");
            }
            None => {
                first_file = Some(i);
                break;
            }
        }
    }
    let first_file = first_file?;
    let (late, files): (Vec<&str>, Vec<&str>) =
        raw[first_file..].iter().partition(|w| w.starts_with("--"));
    // An option whose value is the next word would lose it.
    let parted = late
        .iter()
        .any(|w| matches!(*w, "--file" | "--directory" | "--exclude"));
    if late.is_empty() || parted || files.iter().any(|w| w.starts_with('-')) {
        return None;
    }
    let mut words = raw[..first_file].to_vec();
    words.extend(late);
    words.extend(files);
    Some(words.join(" "))
}

/// Words before a file's name in a request that are no part of it.
const NOT_A_NAME: &[&str] = &[
    "the", "a", "an", "in", "into", "to", "from", "of", "on", "at", "for", "with", "file",
    "called", "named", "and", "or", "is", "are", "as", "by", "copy", "move", "open", "show",
    "print", "read", "delete", "remove", "rename", "count", "compress", "archive", "edit",
];

/// `command` with a file's name the request writes with spaces (`my file.txt`) in place of the
/// same name without them (`myfile.txt`, `my_file.txt`) or without its first word
/// (`notes.txt`), which `message` says is not there. A name that is not there either fails the
/// trial again, and the change is not kept.
fn spaced_name(request: &str, command: &str, message: &str) -> Option<String> {
    let tokens: Vec<(usize, &str)> = request
        .split_whitespace()
        .map(|t| (t.as_ptr() as usize - request.as_ptr() as usize, t))
        .collect();
    let trim = |t: &str| {
        t.trim_matches([
            '\'', '"', '`', '‘', '’', '“', '”', ',', ';', '(', ')', '?', '!',
        ])
        .trim_end_matches([':', '.'])
        .to_owned()
    };
    for missing in missing_names(message) {
        let name = missing.rsplit('/').next().unwrap_or(&missing);
        for start in 0..tokens.len() {
            for end in start + 2..=(start + 4).min(tokens.len()) {
                let span = &tokens[start..end];
                let squashed: String = span.iter().map(|(_, t)| trim(t)).collect();
                let joined = |c: char| c == '_' || c == '-';
                let written: String = name.chars().filter(|&c| !joined(c)).collect();
                // `myfile.txt`, `my_file.txt` for `my file.txt`; `notes.txt` for `my notes.txt`.
                let squeezed = squashed == name || (name.contains(joined) && squashed == written);
                let first = trim(span[0].1);
                let word_before = span.len() == 2
                    && trim(span[1].1) == name
                    && first.chars().all(char::is_alphabetic)
                    && !NOT_A_NAME.contains(&first.to_lowercase().as_str());
                if !squeezed && !word_before {
                    continue;
                }
                // The request's own words, from the first's start to the last's end.
                let (from, first) = span[0];
                let (last_at, last) = span[span.len() - 1];
                let lead = first.len() - first.trim_start_matches(['\'', '"', '`', '‘', '“']).len();
                let kept = trim(last);
                let tail_at = last_at + last.find(kept.as_str())? + kept.len();
                let spaced = &request[from + lead..tail_at];
                if !spaced.contains(' ') || spaced.contains(['\'', '"']) {
                    continue;
                }
                let path = format!("{}{spaced}", &missing[..missing.len() - name.len()]);
                return replace_last_word(command, &missing, &format!("'{path}'"));
            }
        }
    }
    None
}

/// The names an error message says are not there: `mv: cannot stat 'myfile.txt': No such file
/// or directory`, `wc: notes.txt: No such file or directory`, GNU's `‘x’` quotes.
fn missing_names(message: &str) -> Vec<String> {
    let mut names = Vec::new();
    for part in message.split(';') {
        let Some(at) = part.find("No such file") else {
            continue;
        };
        let before = part[..at].trim_end().trim_end_matches(':').trim_end();
        // The last name in quotes (`cannot open 'x' for reading`), else the words before the
        // colon (`wc: notes.txt`).
        let close = before.rfind(['\'', '’']);
        let open = close.and_then(|close| before[..close].rfind(['\'', '‘']));
        let name = match (open, close) {
            (Some(open), Some(close)) => {
                let width = before[open..].chars().next().map_or(1, char::len_utf8);
                &before[open + width..close]
            }
            _ => before.rsplit(": ").next().unwrap_or(before),
        };
        if !name.is_empty() && !name.contains(char::is_whitespace) {
            names.push(name.to_owned());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bash() -> ShellContext {
        ShellContext::new("linux", "bash", "/home/me")
    }

    #[test]
    fn unsorted_input_to_comm_or_join_is_sorted_on_the_way_in() {
        let unsorted = "comm: file 1 is not in sorted order";
        let cases = [
            (
                "comm -23 a.txt b.txt",
                Some("comm -23 <(sort a.txt) <(sort b.txt)"),
            ),
            (
                "comm -12 'team a.txt' team-b.txt | wc -l",
                Some("comm -12 <(sort 'team a.txt') <(sort team-b.txt) | wc -l"),
            ),
            (
                "sort a.txt | comm -13 - b.txt",
                Some("sort a.txt | comm -13 - <(sort b.txt)"),
            ),
            (
                "join -t, users.csv orders.csv",
                Some("join -t, <(sort -t, -k1,1 users.csv) <(sort -t, -k1,1 orders.csv)"),
            ),
            (
                "join -t ';' -1 2 a.csv b.csv",
                Some("join -t ';' -1 2 <(sort -t';' -k2,2 a.csv) <(sort -t';' -k1,1 b.csv)"),
            ),
            ("join a b", Some("join <(sort -k1,1 a) <(sort -k1,1 b)")),
            // Already sorted on the way in: nothing known to change.
            ("comm -12 <(sort a) <(sort b)", None),
            // Not comm or join.
            ("uniq a.txt", None),
        ];
        for (command, mended) in cases {
            assert_eq!(
                mend_failure("which lines are in both", command, unsorted, &bash()).as_deref(),
                mended,
                "{command}"
            );
        }
        // A shell without process substitution.
        let sh = ShellContext::new("linux", "sh", "/home/me");
        assert_eq!(
            mend_failure("x", "comm -23 a.txt b.txt", unsorted, &sh),
            None
        );
    }

    #[test]
    fn tar_options_after_the_files_move_before_them() {
        let late = "tar: The following options were used after any non-optional arguments in \
                    archive create or update mode.  These options are positional and affect \
                    only arguments that follow them.  Please, rearrange them properly.";
        let cases = [
            (
                "tar -czf text-files.tar.gz *.txt --exclude=empty.txt",
                Some("tar -czf text-files.tar.gz --exclude=empty.txt *.txt"),
            ),
            (
                "tar czf out.tgz src docs --exclude='*.o' --exclude-vcs",
                Some("tar czf out.tgz --exclude='*.o' --exclude-vcs src docs"),
            ),
            ("tar czf out.tgz src --exclude '*.o'", None),
            (
                "tar -C /srv -czf site.tgz www --exclude=www/cache",
                Some("tar -C /srv -czf site.tgz --exclude=www/cache www"),
            ),
            ("tar -czf a.tgz src | wc -c", None),
        ];
        for (command, mended) in cases {
            assert_eq!(
                mend_failure("archive it", command, late, &bash()).as_deref(),
                mended,
                "{command}"
            );
        }
    }

    #[test]
    fn a_name_with_spaces_written_without_them_is_mended() {
        let cases = [
            (
                "move my file.txt into the docs folder",
                "mv myfile.txt docs/",
                "mv: cannot stat 'myfile.txt': No such file or directory",
                Some("mv 'my file.txt' docs/"),
            ),
            (
                "copy 'quarterly report.pdf' to backup",
                "cp quarterlyreport.pdf backup/",
                "cp: cannot stat ‘quarterlyreport.pdf’: No such file or directory",
                Some("cp 'quarterly report.pdf' backup/"),
            ),
            (
                "how many lines are in my notes.txt?",
                "wc -l \"mynotes.txt\"",
                "wc: mynotes.txt: No such file or directory",
                Some("wc -l 'my notes.txt'"),
            ),
            (
                "show the first lines of old notes.txt in the archive folder",
                "head archive/oldnotes.txt",
                "head: cannot open 'archive/oldnotes.txt' for reading: No such file or directory",
                Some("head 'archive/old notes.txt'"),
            ),
            (
                "copy quarterly report.pdf into the backup folder",
                "cp quarterly_report.pdf backup/",
                "cp: cannot stat 'quarterly_report.pdf': No such file or directory",
                Some("cp 'quarterly report.pdf' backup/"),
            ),
            (
                "count the words in my notes.txt",
                "wc -w notes.txt",
                "wc: notes.txt: No such file or directory",
                Some("wc -w 'my notes.txt'"),
            ),
            // A word that is no part of a name.
            (
                "count the words in notes.txt",
                "wc -w notes.txt",
                "wc: notes.txt: No such file or directory",
                None,
            ),
            // The request writes it without spaces too: nothing to mend.
            (
                "move myfile.txt into docs",
                "mv myfile.txt docs/",
                "mv: cannot stat 'myfile.txt': No such file or directory",
                None,
            ),
            // Another failure.
            (
                "move my file.txt into the docs folder",
                "mv myfile.txt docs/",
                "mv: target 'docs/': Not a directory",
                None,
            ),
        ];
        for (request, command, message, mended) in cases {
            assert_eq!(
                mend_failure(request, command, message, &bash()).as_deref(),
                mended,
                "{command}"
            );
        }
    }

    #[test]
    fn files_moved_onto_one_file_go_into_a_folder_made_first() {
        let cases = [
            (
                "find inbox -type f -size +1k -exec mv {} inbox/large \\;",
                "inbox/large",
                "mkdir -p inbox/large && find inbox -type f -size +1k -exec mv {} inbox/large/ \\;",
            ),
            (
                "for f in *.log; do mv \"$f\" archive; done",
                "archive",
                "mkdir -p archive && for f in *.log; do mv \"$f\" archive/; done",
            ),
            (
                "find . -name '*.jpg' -exec cp {} 'all photos' \\;",
                "all photos",
                "mkdir -p 'all photos' && find . -name '*.jpg' -exec cp {} 'all photos'/ \\;",
            ),
        ];
        for (command, destination, mended) in cases {
            assert_eq!(
                into_folder(command, destination).as_deref(),
                Some(mended),
                "{command}"
            );
        }
    }

    #[test]
    fn a_folder_inside_the_search_that_files_go_into_is_left_out_of_it() {
        let same = "mv: 'inbox/large/a.bin' and 'inbox/large/a.bin' are the same file";
        let cases = [
            (
                "mkdir -p inbox/large && find inbox -type f -size +1k -exec mv {} inbox/large/ \\;",
                Some(
                    "mkdir -p inbox/large && find inbox -path inbox/large -prune -o -type f \
                     -size +1k -exec mv {} inbox/large/ \\;",
                ),
            ),
            (
                "find . -name '*.jpg' -exec mv {} photos \\;",
                Some("find . -path ./photos -prune -o -name '*.jpg' -exec mv {} photos \\;"),
            ),
            (
                "find logs/ -type f -mtime +30 -exec mv {} logs/archive/ \\;",
                Some(
                    "find logs/ -path logs/archive -prune -o -type f -mtime +30 -exec mv {} \
                     logs/archive/ \\;",
                ),
            ),
            // The folder is not inside the search.
            ("find src -name x -exec cp {} backup/ \\;", None),
            // No find.
            ("mv a.txt a.txt", None),
        ];
        for (command, mended) in cases {
            assert_eq!(
                mend_failure("move them", command, same, &bash()).as_deref(),
                mended,
                "{command}"
            );
        }
    }

    #[test]
    fn a_line_number_from_grep_n_is_cut_from_its_line() {
        let cases = [
            (
                "tail -n +$(grep -n 'ERROR' app.log | head -n 1) app.log",
                "tail: invalid number of lines: ‘+3:2026-11-20 10:00:01 ERROR disk full’",
                Some("tail -n +$(grep -n 'ERROR' app.log | head -n 1 | cut -d: -f1) app.log"),
            ),
            (
                "head -n $(grep -m1 -n '^$' notes.txt) notes.txt",
                "head: invalid number of lines: ‘4:’",
                Some("head -n $(grep -m1 -n '^$' notes.txt | cut -d: -f1) notes.txt"),
            ),
            // No line numbers asked of grep, or already cut.
            (
                "tail -n +$(grep -c x app.log) app.log",
                "tail: invalid number of lines: ‘a:b’",
                None,
            ),
            (
                "tail -n +$(grep -n x app.log | cut -d: -f1) app.log",
                "tail: invalid number of lines: ‘3\n5:’",
                None,
            ),
        ];
        for (command, message, mended) in cases {
            assert_eq!(
                mend_failure("print from the first ERROR on", command, message, &bash()).as_deref(),
                mended,
                "{command}"
            );
        }
    }

    #[test]
    fn jq_functions_written_as_fields_are_called() {
        let null = "jq: error (at config/settings.json:1): Cannot iterate over null (null)";
        let cases = [
            (
                "jq -r '.keys[]' config/settings.json",
                Some("jq -r 'keys[]' config/settings.json"),
            ),
            (
                "jq '.users | .length' data.json",
                Some("jq '.users | length' data.json"),
            ),
            (
                "jq '.items[] | .to_entries' x.json",
                Some("jq '.items[] | to_entries' x.json"),
            ),
            // A field of another name, or a function already called.
            ("jq -r '.keyset[]' x.json", None),
            ("jq -r 'keys[]' x.json", None),
        ];
        for (command, mended) in cases {
            assert_eq!(
                mend_failure("the top-level keys", command, null, &bash()).as_deref(),
                mended,
                "{command}"
            );
        }
    }

    #[test]
    fn a_test_whose_failure_is_the_answer_prints_the_answer() {
        let request = "is logs/old/x.log.gz actually a valid gzip file? print valid or invalid";
        assert_eq!(
            mend_failure(
                request,
                "gzip -t logs/old/x.log.gz",
                "gzip: logs/old/x.log.gz: not in gzip format",
                &bash()
            )
            .as_deref(),
            Some("gzip -t logs/old/x.log.gz >/dev/null 2>&1 && echo valid || echo invalid")
        );
        // Not asked for one of two answers: the failure stands.
        assert_eq!(
            mend_failure(
                "test logs/old/x.log.gz",
                "gzip -t logs/old/x.log.gz",
                "gzip: logs/old/x.log.gz: not in gzip format",
                &bash()
            ),
            None
        );
    }
}
