//! `cmdai fix [HINT]`: the last command line, fixed (or changed as the hint says). The shell
//! integration passes the command and its exit status; typed by hand, cmdai reads the last
//! line of the shell's history file.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use cmdai_core::FixRequest;

use crate::cli::OutputFormat;
use crate::context;
use crate::generate::{self, load};
use crate::progress::GenerationView;
use crate::settings::Settings;

/// What `cmdai fix` was given.
#[derive(Debug, Clone)]
pub struct FixOptions {
    /// What the user adds; may be empty.
    pub hint: String,
    /// The command line; `None`: the last one in the history file.
    pub command: Option<String>,
    /// Its exit status, when known.
    pub status: Option<i32>,
}

pub fn run(settings: &Settings, options: &FixOptions) -> Result<u8> {
    let command = match &options.command {
        Some(command) => command.clone(),
        None => {
            let shell = settings
                .shell
                .clone()
                .or_else(|| std::env::var("SHELL").ok())
                .unwrap_or_default();
            let (command, file) = last_from_history(&shell)?;
            if settings.output == OutputFormat::Text {
                eprintln!(
                    "cmdai: fixing `{command}` (the last line of {})",
                    file.display()
                );
            }
            command
        }
    };
    let mut fix = FixRequest::new(command).with_hint(options.hint.as_str());
    if let Some(status) = options.status {
        fix = fix.with_status(status);
    }
    let (generator, cancel) = load(settings)?;
    let mut generator = std::mem::ManuallyDrop::new(generator);
    let context = context::detect(settings.shell.as_deref());
    let mut view = GenerationView::new(settings.stream);
    let generated = generator.fix_streaming(&fix, &context, &mut view, &cancel);
    view.finish();
    generate::present(
        settings,
        &mut generator,
        &context,
        &fix.describe(),
        generated?,
        &cancel,
    )
}

/// The last command line in the history file of `shell` (a path or a name), and the file.
fn last_from_history(shell: &str) -> Result<(String, PathBuf)> {
    let name = Path::new(shell)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let histfile = std::env::var_os("HISTFILE").map(PathBuf::from);
    let (file, format) = match name.as_str() {
        "fish" => {
            let data = std::env::var_os("XDG_DATA_HOME")
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".local/share")));
            (data.map(|d| d.join("fish/fish_history")), History::Fish)
        }
        "zsh" => (
            histfile.or_else(|| home.as_ref().map(|h| h.join(".zsh_history"))),
            History::Zsh,
        ),
        _ => (
            histfile.or_else(|| home.as_ref().map(|h| h.join(".bash_history"))),
            History::Bash,
        ),
    };
    let Some(file) = file else {
        bail!("cannot find your shell history: HOME is not set; pass the command with --command");
    };
    let bytes = std::fs::read(&file).unwrap_or_default();
    let entries = match format {
        History::Bash => bash_entries(&String::from_utf8_lossy(&bytes)),
        History::Zsh => zsh_entries(&unmetafy(&bytes)),
        History::Fish => fish_entries(&String::from_utf8_lossy(&bytes)),
    };
    let last = entries
        .into_iter()
        .rev()
        .find(|entry| !is_fix_invocation(entry));
    match last {
        Some(command) => Ok((command, file)),
        None => bail!(
            "no earlier command in {} (bash writes its history when the shell exits); pass the \
             command with --command, or load the shell integration (`cmdai init {}`), which \
             knows the last command and its exit status",
            file.display(),
            if name.is_empty() { "bash" } else { &name }
        ),
    }
}

#[derive(Debug, Clone, Copy)]
enum History {
    Bash,
    Zsh,
    Fish,
}

/// `cmdai fix ...` itself, as it lands in the history of shells that write it at once.
fn is_fix_invocation(entry: &str) -> bool {
    let mut words = entry.split_whitespace();
    matches!(
        (words.next(), words.next()),
        (Some(program), Some("fix")) if program == "cmdai" || program.ends_with("/cmdai")
    )
}

/// bash: one command per line; `#1700000000` lines are timestamps (HISTTIMEFORMAT).
fn bash_entries(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .filter(|line| !(line.starts_with('#') && line[1..].chars().all(|c| c.is_ascii_digit())))
        .map(str::to_owned)
        .collect()
}

/// zsh: plain lines, or `: <start>:<elapsed>;<command>` with EXTENDED_HISTORY; a line ending
/// in a backslash goes on on the next line.
fn zsh_entries(text: &str) -> Vec<String> {
    let mut entries: Vec<String> = Vec::new();
    let mut continuing = false;
    for line in text.lines() {
        if continuing && let Some(last) = entries.last_mut() {
            last.push('\n');
            last.push_str(line.strip_suffix('\\').unwrap_or(line));
        } else {
            let command = extended_command(line).unwrap_or(line);
            entries.push(command.strip_suffix('\\').unwrap_or(command).to_owned());
        }
        continuing = line.ends_with('\\');
    }
    entries.retain(|e| !e.trim().is_empty());
    entries
}

/// The command of an EXTENDED_HISTORY line `: 1700000000:0;ls -l`.
fn extended_command(line: &str) -> Option<&str> {
    let rest = line.strip_prefix(": ")?;
    let (stamp, command) = rest.split_once(';')?;
    let (start, elapsed) = stamp.split_once(':')?;
    (start.chars().all(|c| c.is_ascii_digit()) && elapsed.chars().all(|c| c.is_ascii_digit()))
        .then_some(command)
}

/// zsh writes bytes 0x83-0xa2 of multibyte text as 0x83 followed by the byte xor 32.
fn unmetafy(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut iter = bytes.iter();
    while let Some(&b) = iter.next() {
        if b == 0x83 {
            if let Some(&next) = iter.next() {
                out.push(next ^ 32);
            }
        } else {
            out.push(b);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// fish: `- cmd: <command>` entries, with `\\` and `\n` escaped.
fn fish_entries(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("- cmd: "))
        .map(|escaped| {
            let mut out = String::with_capacity(escaped.len());
            let mut chars = escaped.chars();
            while let Some(c) = chars.next() {
                match (c, chars.clone().next()) {
                    ('\\', Some('n')) => {
                        out.push('\n');
                        chars.next();
                    }
                    ('\\', Some('\\')) => {
                        out.push('\\');
                        chars.next();
                    }
                    _ => out.push(c),
                }
            }
            out
        })
        .filter(|e| !e.trim().is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_history_formats_are_read() {
        assert_eq!(
            bash_entries("ls\n#1700000000\ntail -r log.txt\n\n"),
            ["ls", "tail -r log.txt"]
        );
        assert_eq!(
            zsh_entries(": 1700000000:0;ls -l\n: 1700000001:2;echo a \\\nb\nplain line\n"),
            ["ls -l", "echo a \nb", "plain line"]
        );
        assert_eq!(
            fish_entries("- cmd: ls\n  when: 1700000000\n- cmd: echo a\\nb \\\\x\n  when: 1\n"),
            ["ls", "echo a\nb \\x"]
        );
        assert_eq!(unmetafy(&[b'a', 0x83, 0xa9 ^ 32, b'b']), "a\u{fffd}b");
        assert_eq!(unmetafy("é".as_bytes()), "é");
    }

    #[test]
    fn cmdai_fix_itself_is_skipped() {
        assert!(is_fix_invocation("cmdai fix it said denied"));
        assert!(is_fix_invocation("/usr/local/bin/cmdai fix"));
        assert!(!is_fix_invocation("cmdai 'fix the typo in notes.txt'"));
        assert!(!is_fix_invocation("git commit -m fix"));
    }
}
