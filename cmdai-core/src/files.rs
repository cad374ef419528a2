//! What the files a request names look like where the command will run: whether they exist,
//! folder or file, and a text file's first line. A model that does not know that `data.csv`
//! begins with `id,name,city,score` guesses the column, one that does not know `backup/` is
//! missing copies into nothing, and one that does not know `my file.txt` exists drops a word.
//!
//! Only names the request gives are looked at, and only their first line is read. Nothing is
//! said when none of them exists here: the request is then about another place, and "does not
//! exist" would mislead.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// At most this many names are described.
const MAX_FILES: usize = 6;
/// A first line longer than this is cut.
const MAX_LINE: usize = 120;

/// One line for each file or folder `request` names, as found relative to `dir`: `data.csv: a
/// file; its first line is: id,name,city` or `backup/: does not exist`. Empty when the request
/// names nothing that exists in `dir`.
pub fn describe_named_files(request: &str, dir: &Path) -> Vec<String> {
    let names = named(request, dir);
    let found: Vec<(String, Option<String>)> = names
        .into_iter()
        .map(|name| {
            let what = describe(&dir.join(&name));
            (name, what)
        })
        .collect();
    if found.iter().all(|(_, what)| what.is_none()) {
        return Vec::new();
    }
    found
        .into_iter()
        .take(MAX_FILES)
        .map(|(name, what)| {
            let what = what.unwrap_or_else(|| "does not exist yet".to_owned());
            format!("{name}: {what}")
        })
        .collect()
}

/// The names in `request` that are paths: a word that exists in `dir`, or that looks like a
/// path (`a/b`, `notes.txt`, `.env`); a quoted name, or the name of an entry of `dir` with a
/// space in it, when it exists. In the order they come, each once.
fn named(request: &str, dir: &Path) -> Vec<String> {
    let mut names: Vec<(usize, String)> = Vec::new();
    fn add(names: &mut Vec<(usize, String)>, at: usize, name: &str) {
        if !names.iter().any(|(_, n)| n == name) {
            names.push((at, name.to_owned()));
        }
    }
    // Names with spaces: quoted, or an entry of the directory written out in the request.
    for quote in ['\'', '"', '`'] {
        let mut parts = request.split(quote);
        let mut at = parts.next().map_or(0, |p| p.len() + 1);
        while let Some(inside) = parts.next() {
            if inside.contains(' ') && exists(&dir.join(inside)) {
                add(&mut names, at, inside);
            }
            at += inside.len() + 1;
            at += parts.next().map_or(0, |p| p.len() + 1);
        }
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten().take(1000) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.contains(' ')
                && let Some(at) = request.find(&name)
            {
                add(&mut names, at, &name);
            }
        }
    }
    // The words of a name with spaces are not names of their own (`file.txt` in `my file.txt`).
    let spaced: Vec<(usize, String)> = names.clone();
    let mut at = 0;
    for word in request.split_whitespace() {
        at = request[at..].find(word).map_or(at, |i| at + i);
        let name = word
            .trim_start_matches(['"', '\'', '`', '(', '['])
            .trim_end_matches(['"', '\'', '`', ')', ']', ',', ';', ':', '?', '!', '.']);
        let inside_a_name = spaced
            .iter()
            .any(|(start, name)| (*start..start + name.len()).contains(&at));
        if !inside_a_name
            && is_candidate(name)
            && (looks_like_path(name) || exists(&dir.join(name)))
        {
            add(&mut names, at, name);
        }
        at += word.len();
    }
    names.sort_by_key(|(at, _)| *at);
    names.into_iter().map(|(_, name)| name).collect()
}

/// Whether `word` can be a name at all: not an option, a glob, a URL, a number or a word of
/// one letter.
fn is_candidate(word: &str) -> bool {
    word.chars().count() >= 2
        && !word.starts_with('-')
        && !word.contains("://")
        && !word.contains(['*', '?', '{', '}', '$', '<', '>', '|', '=', '@', '~', '%'])
        && word.chars().any(|c| c.is_alphabetic())
}

/// `a/b`, `notes.txt`, `.env`: a slash, or an extension of two or more characters with a
/// letter in it (not `1.5M`, `e.g`, `22.04`).
fn looks_like_path(word: &str) -> bool {
    if word.contains('/') {
        return true;
    }
    let Some((stem, extension)) = word.rsplit_once('.') else {
        return false;
    };
    let stem_ok = stem.is_empty() || stem.chars().any(|c| c.is_alphabetic());
    stem_ok
        && extension.len() >= 2
        && extension.chars().all(|c| c.is_ascii_alphanumeric())
        && extension.chars().any(|c| c.is_ascii_alphabetic())
}

fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// What is at `path`: `None` when nothing is.
fn describe(path: &Path) -> Option<String> {
    let metadata = fs::symlink_metadata(path).ok()?;
    let kind = metadata.file_type();
    if kind.is_symlink() {
        let target = fs::read_link(path).ok()?;
        return Some(format!("a symbolic link to {}", target.display()));
    }
    if kind.is_dir() {
        return Some("a folder".to_owned());
    }
    if !kind.is_file() {
        return Some("not a regular file".to_owned());
    }
    if metadata.len() == 0 {
        return Some("an empty file".to_owned());
    }
    Some(match first_line(path) {
        Some(line) => match fields(&line, path) {
            Some(fields) => format!("a file; its first line is: {line} ({fields})"),
            None => format!("a file; its first line is: {line}"),
        },
        None => "a binary file".to_owned(),
    })
}

/// The fields of a delimited first line, numbered as `cut -f` and `awk` count them:
/// `fields separated by ",": 1 id, 2 name, 3 city`. Comma, tab and semicolon separate the
/// fields of any file; runs of spaces those of a log's lines. `None` for a line that is not
/// a record of 2 to 20 short fields.
fn fields(line: &str, path: &Path) -> Option<String> {
    let is_log = path.extension().is_some_and(|e| e == "log");
    let (separator, fields): (&str, Vec<&str>) = [",", "\t", ";"]
        .into_iter()
        .map(|s| (s, line.split(s).collect::<Vec<_>>()))
        .find(|(_, fields)| fields.len() >= 2)
        .or_else(|| is_log.then(|| (" ", line.split_whitespace().collect())))?;
    let short = fields.iter().all(|f| f.chars().count() <= 40);
    if !(2..=20).contains(&fields.len()) || !short || line.ends_with(" ...") {
        return None;
    }
    let numbered: Vec<String> = fields
        .iter()
        .enumerate()
        .map(|(i, field)| format!("{} {}", i + 1, field.trim()))
        .collect();
    let separator = match separator {
        "\t" => "tabs",
        " " => "spaces",
        other => &format!("\"{other}\""),
    };
    Some(format!(
        "fields separated by {separator}: {}",
        numbered.join(", ")
    ))
}

/// The first line of a text file, cut at [`MAX_LINE`] characters; `None` for a file that is not
/// text (a zero byte or not UTF-8 in its first kilobyte) or cannot be read.
fn first_line(path: &Path) -> Option<String> {
    let mut head = Vec::with_capacity(1024);
    BufReader::new(File::open(path).ok()?)
        .take(1024)
        .read_until(b'\n', &mut head)
        .ok()?;
    if head.contains(&0) {
        return None;
    }
    let text = match std::str::from_utf8(&head) {
        Ok(text) => text,
        // Cut inside a character at the kilobyte's end: keep what is whole.
        Err(error) if error.error_len().is_none() => {
            std::str::from_utf8(&head[..error.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    let line = text.trim_end_matches(['\n', '\r']);
    let mut cut: String = line
        .chars()
        .filter(|c| !c.is_control() || *c == '\t')
        .take(MAX_LINE)
        .collect();
    if line.chars().count() > MAX_LINE {
        cut.push_str(" ...");
    }
    Some(cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scene() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join("data.csv"), "id,name,city\n1,ann,paris\n").unwrap();
        fs::write(root.join("my file.txt"), "hello\n").unwrap();
        fs::write(root.join("empty.log"), "").unwrap();
        fs::write(root.join("blob.bin"), [0u8, 1, 2, 3]).unwrap();
        fs::write(root.join(".env"), "PORT=8080\r\nHOST=x\n").unwrap();
        fs::create_dir_all(root.join("inbox/old")).unwrap();
        fs::create_dir(root.join("docs")).unwrap();
        std::os::unix::fs::symlink("data.csv", root.join("latest")).unwrap();
        dir
    }

    #[test]
    fn names_in_the_request_are_described() {
        let dir = scene();
        let facts = |request| describe_named_files(request, dir.path());
        assert_eq!(
            facts("what cities appear in data.csv? each once"),
            [
                "data.csv: a file; its first line is: id,name,city (fields separated by \",\": 1 id, 2 name, 3 city)"
            ]
        );
        assert_eq!(
            facts("move every big file in inbox into inbox/large."),
            ["inbox: a folder", "inbox/large: does not exist yet"]
        );
        assert_eq!(
            facts("move my file.txt into the docs folder"),
            [
                "my file.txt: a file; its first line is: hello",
                "docs: a folder"
            ]
        );
        assert_eq!(
            facts("what is PORT set to in .env? and is empty.log, 'blob.bin' or latest there"),
            [
                ".env: a file; its first line is: PORT=8080",
                "empty.log: an empty file",
                "blob.bin: a binary file",
                "latest: a symbolic link to data.csv",
            ]
        );
    }

    #[test]
    fn fields_of_records_are_numbered_as_cut_and_awk_count_them() {
        let dir = scene();
        let root = dir.path();
        fs::write(root.join("scores.tsv"), "name\tscore\nann\t3\n").unwrap();
        fs::write(
            root.join("access.log"),
            "10.0.0.1 - - [01/Oct] \"GET / HTTP/1.1\" 200\n",
        )
        .unwrap();
        fs::write(root.join("notes.md"), "buy milk and eggs\n").unwrap();
        assert_eq!(
            describe_named_files("sum the scores in scores.tsv", root),
            [
                "scores.tsv: a file; its first line is: name\tscore (fields separated by tabs: 1 name, 2 score)"
            ]
        );
        let log = describe_named_files("which IPs are in access.log", root);
        assert!(
            log[0].ends_with("(fields separated by spaces: 1 10.0.0.1, 2 -, 3 -, 4 [01/Oct], 5 \"GET, 6 /, 7 HTTP/1.1\", 8 200)"),
            "{log:?}"
        );
        // Words of prose are not fields.
        assert_eq!(
            describe_named_files("print notes.md", root),
            ["notes.md: a file; its first line is: buy milk and eggs"]
        );
    }

    #[test]
    fn nothing_is_said_about_a_place_the_request_is_not_about() {
        let dir = scene();
        for request in [
            "count the lines of report.txt in backup/",
            "show disk usage, human readable, e.g. 1.5M; version 22.04",
            "find *.log files over 100MB and list https://example.com/a.txt",
            "list files",
        ] {
            assert_eq!(
                describe_named_files(request, dir.path()),
                Vec::<String>::new(),
                "{request}"
            );
        }
    }

    #[test]
    fn a_long_first_line_is_cut_and_many_names_are_capped() {
        let dir = scene();
        fs::write(
            dir.path().join("wide.csv"),
            format!("{}\n", "x,".repeat(200)),
        )
        .unwrap();
        let facts = describe_named_files("columns of wide.csv", dir.path());
        assert!(facts[0].ends_with(" ..."), "{facts:?}");
        assert!(facts[0].len() < 200);
        let many = "a.txt b.txt c.txt d.txt e.txt f.txt g.txt data.csv";
        assert_eq!(describe_named_files(many, dir.path()).len(), MAX_FILES);
    }
}
