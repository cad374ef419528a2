//! Trying a new command before it is shown (`generation.trial`): it runs in the preview's
//! sandbox over the working directory (`cmdai-preview`: nothing real is written, no network, no
//! other processes), and an error of its own (`comm: file 1 is not in sorted order`, `tail:
//! invalid number of lines`, an awk program that does not parse), or one a program of it
//! printed on the way to a status of 0 (a `find -exec` whose sed script does not parse), is a
//! [`Flaw::Failed`](cmdai_core::Flaw), for which the model is asked once more with the error
//! named. So is output of another form than the request asks for in so many words (`42
//! app.log` for "just the number", long listings for "names only"): a
//! [`Flaw::Output`](cmdai_core::Flaw), and a command that changed nothing where the request
//! asks for a file to be changed in place (`sed '/milk/d' notes.txt` for "... (change the
//! file)"): a [`Flaw::Unchanged`](cmdai_core::Flaw).
//!
//! What the sandbox hides would make a good command fail there, so that is not judged: commands
//! that are not tried at all (critical ones, those that use the network, and programs whose work
//! is with other processes, services, privileges or a terminal), errors that come from the
//! sandbox (permission denied, a read-only file system, no such process), a command still
//! running at the time limit, and a missing file when nothing the request names is here (the
//! request is then about another place).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cmdai_core::safety::{Analyzer, RiskLevel, network_use, shell_words, simple_commands};
use cmdai_core::{
    Flaw, Generator, InferenceBackend, OutputForm, PromptBuilder, ShellContext, Trial,
};
use cmdai_preview::{ChangeKind, EntryKind, PreviewError, PreviewOptions, Report, Status};

use crate::preview::HELPER;
use crate::safety;
use crate::settings::Settings;

/// How long a trial may run. Most commands end in milliseconds, and the errors a trial is for
/// (usage, syntax, a missing file, unsorted input) come at once; one that runs longer (a
/// search of a whole home directory, 1.1 s at a 1 s limit) holds the answer up no more than
/// this, and is not judged.
const TIME_LIMIT: Duration = Duration::from_millis(500);

/// The most of an error message the model is given, in characters, and in lines.
const MESSAGE_CHARS: usize = 300;
const MESSAGE_LINES: usize = 3;

/// Programs whose work is with what the sandbox does not have: privileges, other processes,
/// services, containers, the package manager, a terminal. They would fail there, or wait.
const NOT_TRIED: &[&str] = &[
    "sudo",
    "doas",
    "su",
    "pkexec",
    "run0",
    "kill",
    "pkill",
    "killall",
    "systemctl",
    "service",
    "journalctl",
    "loginctl",
    "crontab",
    "at",
    "docker",
    "podman",
    "kubectl",
    "mount",
    "umount",
    "shutdown",
    "reboot",
    "poweroff",
    "apt",
    "apt-get",
    "dnf",
    "yum",
    "pacman",
    "zypper",
    "apk",
    "brew",
    "snap",
    "flatpak",
    "top",
    "htop",
    "watch",
    "vi",
    "vim",
    "nvim",
    "nano",
    "emacs",
    "less",
    "more",
    "man",
    "tmux",
    "screen",
];

/// Errors (lower case) that say the sandbox or the place, not the command, is what failed.
const SANDBOX_ERRORS: &[&str] = &[
    "permission denied",
    "operation not permitted",
    "read-only file system",
    "no space left on device",
    "cannot allocate memory",
    "no such process",
    "failed to connect to bus",
    "not been booted with systemd",
    "docker daemon",
    "network is unreachable",
    "name resolution",
    "could not resolve",
    "connection refused",
    "terminal",
    "tty",
    "inappropriate ioctl",
    // A project's tool run outside a project: the request is about one that is not here.
    "not a git repository",
    "no makefile found",
    "could not find `cargo.toml`",
    "no configuration file provided",
    "enoent",
];

/// The error of a file that is not there (`strerror(ENOENT)`).
const MISSING_FILE: &str = "no such file or directory";

/// What programs say on their standard error without anything having gone wrong: a warning
/// (`awk: cmd. line:1: warning: escape sequence`), or tar's note that it stores absolute paths
/// as relative ones.
const NOTICES: &[&str] = &["warning", "removing leading"];

/// `generator`, trying each new command first where the settings say so (`generation.trial`).
pub fn attach<B: InferenceBackend, P: PromptBuilder>(
    generator: Generator<B, P>,
    settings: &Settings,
) -> Generator<B, P> {
    match settings
        .trial
        .then(|| SandboxTrial::new(settings))
        .flatten()
    {
        Some(trial) => generator.with_trial(trial),
        None => generator,
    }
}

/// Tries commands in the preview's sandbox, in the context's working directory.
#[derive(Debug)]
pub struct SandboxTrial {
    analyzer: Analyzer,
    helper: PathBuf,
    shell: PathBuf,
    size_limit: u64,
    /// Say on stderr what each trial found (`-v`).
    verbose: bool,
    /// Set when the system cannot make the sandbox: nothing more is tried.
    unavailable: AtomicBool,
}

impl SandboxTrial {
    /// A trial as the settings describe it (safety rules, shell, the preview's size limit);
    /// `None` when this program cannot be found to run the sandbox's helper.
    pub fn new(settings: &Settings) -> Option<Self> {
        Some(SandboxTrial {
            analyzer: safety::analyzer(settings),
            helper: std::env::current_exe().ok()?,
            shell: PathBuf::from(safety::shell_program(settings.shell.as_deref())),
            size_limit: settings.preview_limits.size,
            verbose: settings.verbose > 0,
            unavailable: AtomicBool::new(!cfg!(target_os = "linux")),
        })
    }

    /// Whether `command` is tried at all.
    fn tries(&self, command: &str) -> bool {
        let Some(commands) = simple_commands(command) else {
            return false;
        };
        let hidden = commands.iter().any(|simple| {
            simple
                .wrappers
                .iter()
                .chain(std::iter::once(&simple.program))
                .any(|program| NOT_TRIED.contains(&base_name(program)))
                || (base_name(&simple.program) == "tail" && simple.args.iter().any(|a| follows(a)))
        });
        !hidden
            && network_use(command).is_none()
            && self.analyzer.analyze(command).level != RiskLevel::Critical
    }
}

/// `program` without its directory.
fn base_name(program: &str) -> &str {
    program.rsplit('/').next().unwrap_or(program)
}

/// Whether `arg` is an option of `tail` that follows the file, waiting for more without end:
/// the trial would only wait out its time limit.
fn follows(arg: &str) -> bool {
    arg.starts_with("--follow")
        || (arg.starts_with('-') && !arg.starts_with("--") && arg.contains(['f', 'F']))
}

impl Trial for SandboxTrial {
    fn finding(&self, request: &str, command: &str, context: &ShellContext) -> Option<Flaw> {
        if self.unavailable.load(Ordering::Relaxed) || !self.tries(command) {
            return None;
        }
        let options = PreviewOptions {
            helper: self.helper.clone(),
            helper_args: vec![HELPER.into()],
            shell: self.shell.clone(),
            directory: PathBuf::from(&context.cwd),
            time_limit: TIME_LIMIT,
            size_limit: self.size_limit,
        };
        // A failure early in a pipeline counts too (`comm a b | sort`), where the shell can say.
        let tried = format!("(set -o pipefail) 2>/dev/null && set -o pipefail\n{command}");
        let started = std::time::Instant::now();
        match cmdai_preview::preview(&tried, &options) {
            Ok(report) => {
                let here =
                    || !cmdai_core::describe_named_files(request, &report.directory).is_empty();
                let shell = self.shell.to_string_lossy();
                let is_program = |name: &str| {
                    name == base_name(&shell)
                        || context
                            .programs
                            .as_ref()
                            .is_some_and(|on_path| on_path.contains(name))
                };
                let finding = own_failure(&report, is_program, here)
                    .map(|message| Flaw::Failed { message })
                    .or_else(|| onto_one_file(request, &report))
                    .or_else(|| output_misfit(request, &report))
                    .or_else(|| unchanged(request, &report));
                if self.verbose {
                    let ms = started.elapsed().as_millis();
                    match &finding {
                        Some(flaw) => eprintln!("cmdai: tried in a sandbox ({ms} ms): {flaw}"),
                        None => eprintln!("cmdai: tried in a sandbox ({ms} ms): nothing wrong"),
                    }
                }
                finding
            }
            Err(error) => {
                if let PreviewError::Unavailable { .. } = error {
                    self.unavailable.store(true, Ordering::Relaxed);
                }
                tracing::debug!("the command was not tried: {error}");
                None
            }
        }
    }
}

/// What `report`'s command printed, when it ran to its end and printed something else than
/// the request asks for in so many words ("just the number", "names only"): a [`Flaw::Output`].
fn output_misfit(request: &str, report: &Report) -> Option<Flaw> {
    let asked = OutputForm::asked_in(request)?;
    // A question with a few answers always has one, and so does one for a number: a quiet
    // failure that printed nothing (`lscpu | grep AVX2` for "answer yes or no", `lscpu | grep
    // '^Thread' | awk ...` for "just the number") misses it too.
    let ended = match report.status {
        Status::Exited { code: 0 } => true,
        Status::Exited { .. } => matches!(
            asked,
            OutputForm::Choice(_) | OutputForm::Number | OutputForm::Value { .. }
        ),
        _ => false,
    };
    if !ended || report.limit.is_some() {
        return None;
    }
    let printed = asked.misfit(&report.stdout.text)?;
    Some(Flaw::Output { printed, asked })
}

/// [`Flaw::OneFile`] when `report`'s command moved or copied files one by one (`find -exec mv
/// {} DEST \;`, a loop) onto a path it created as a file: each took the place of the one before;
/// or moved a pattern's one file to a new name where `request` says to put files into a folder.
fn onto_one_file(request: &str, report: &Report) -> Option<Flaw> {
    let created_file = |path: &str| {
        let path = std::path::Path::new(path.trim_start_matches("./"));
        report.changes.iter().any(|change| {
            change.path == path
                && matches!(
                    change.kind,
                    ChangeKind::Created {
                        entry: EntryKind::File,
                        ..
                    } | ChangeKind::Renamed {
                        entry: EntryKind::File,
                        ..
                    }
                )
        })
    };
    let lost = report
        .changes
        .iter()
        .filter(|change| {
            matches!(
                change.kind,
                ChangeKind::Deleted {
                    entry: EntryKind::File,
                    ..
                }
            )
        })
        .count();
    let (program, destination, repeated) = one_by_one(&report.command)?;
    let moved = program == "mv";
    // A pattern that matched one file counts where the request says to put files into a
    // folder (`mv logs/*.log logs/old` for "... into logs/old"); elsewhere it is a rename.
    let into = || {
        request
            .to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| matches!(w, "into" | "folder" | "directory" | "dir"))
    };
    let onto_one = created_file(&destination) && if repeated { !moved || lost > 0 } else { into() };
    onto_one.then_some(Flaw::OneFile {
        program,
        destination,
        lost: if moved { lost } else { 0 },
    })
}

/// The program (`mv` or `cp`) and destination of a move or copy that `command` runs once for
/// each of several files (in `find`'s `-exec ... \;` or in a loop), or runs on a pattern of
/// files, with a destination that is not written as a folder (no `/` at its end) and is the
/// same each time (no `$` in it); and whether it runs once for each (not on a pattern).
fn one_by_one(command: &str) -> Option<(String, String, bool)> {
    let looped = shell_words(command)?.iter().any(|w| w == "do");
    let fixed = |destination: &String| {
        !destination.ends_with('/')
            && !destination.starts_with('-')
            && !destination.contains(['$', '{', '*', '?', '`'])
    };
    for simple in simple_commands(command)? {
        let program = base_name(&simple.program);
        if matches!(program, "mv" | "cp") {
            let destination = simple.args.last()?;
            let sources = &simple.args[..simple.args.len() - 1];
            // A pattern is files, however many it matches here (`mv logs/*.log logs/old`).
            let pattern = sources
                .iter()
                .any(|s| !s.starts_with('-') && s.contains(['*', '?', '[']));
            if (looped || pattern) && fixed(destination) && !sources.is_empty() {
                return Some((program.to_owned(), destination.clone(), looped));
            }
        }
        if program != "find" {
            continue;
        }
        let args = &simple.args;
        for (at, arg) in args.iter().enumerate() {
            if !matches!(arg.as_str(), "-exec" | "-execdir") {
                continue;
            }
            let Some(program) = args
                .get(at + 1)
                .filter(|p| matches!(p.as_str(), "mv" | "cp"))
            else {
                continue;
            };
            let end = at + args[at..].iter().position(|a| a == ";" || a == "+")?;
            let destination = args.get(end - 1)?;
            if args[end] == ";" && end > at + 3 && fixed(destination) {
                return Some((program.clone(), destination.clone(), true));
            }
        }
    }
    None
}

/// [`Flaw::Unchanged`] when the request asks for a file to be changed in place and `report`'s
/// command ended well without changing, creating or removing anything.
fn unchanged(request: &str, report: &Report) -> Option<Flaw> {
    let ended = matches!(report.status, Status::Exited { code: 0 }) && report.limit.is_none();
    let untouched = report.changes.is_empty()
        && report.outside.is_empty()
        && report.blocked.is_empty()
        && report.unlisted == 0;
    (ended && untouched && cmdai_core::asks_for_changes_in_place(request))
        .then_some(Flaw::Unchanged)
}

/// The error `report`'s command failed with, when the failure is the command's own: it exited
/// with a status other than 0 and said why on its standard error, or it exited with 0 after
/// one of its programs said it failed ([`error_lines`]: a
/// `find -exec` whose sed did not parse its script, a `mkdir x; cp ...`, a loop's middle step);
/// and what was said is not the sandbox's doing. `named_here` says whether a file the request
/// names is in the directory: only then is a missing file the command's fault.
fn own_failure(
    report: &Report,
    is_program: impl Fn(&str) -> bool,
    named_here: impl FnOnce() -> bool,
) -> Option<String> {
    let Status::Exited { code } = report.status else {
        return None;
    };
    if report.limit.is_some() || !report.blocked.is_empty() {
        return None;
    }
    let stderr = report.stderr.text.trim();
    let lines: Vec<&str> = if code == 0 {
        if handles_failure(&report.command) {
            return None;
        }
        error_lines(stderr, &report.command, is_program)
    } else {
        stderr
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect()
    };
    if lines.is_empty() {
        return None;
    }
    let lower = lines.join("\n").to_lowercase();
    if SANDBOX_ERRORS.iter().any(|error| lower.contains(error))
        || (lower.contains(MISSING_FILE) && !named_here())
    {
        return None;
    }
    let message = lines[..lines.len().min(MESSAGE_LINES)].join("; ");
    Some(match message.char_indices().nth(MESSAGE_CHARS) {
        Some((end, _)) => format!("{}...", &message[..end]),
        None => message,
    })
}

/// The lines of `stderr` in which a program `command` runs, or the shell it runs in, says
/// something went wrong: they start with its name and a colon (`sed: -e expression #1, char
/// 14: unknown option to `s'`, `bash: line 2: frobnicate: command not found`), and are not a
/// [notice](NOTICES). `is_program` says whether a name is a program's (on `PATH`, or the
/// shell): a file's name in front of a colon (`gzip -v`'s `notes.txt: 42.1% -- replaced`) is
/// chatter, as is what has no name in front (`dd`'s record counts).
fn error_lines<'a>(
    stderr: &'a str,
    command: &str,
    is_program: impl Fn(&str) -> bool,
) -> Vec<&'a str> {
    let words = command.split(|c: char| !(c.is_alphanumeric() || "_.+-".contains(c)));
    let said_by_a_program = |line: &str| {
        line.split_once(':')
            .map(|(name, _)| base_name(name))
            .is_some_and(|name| {
                !name.is_empty()
                    && is_program(name)
                    && (words.clone().any(|word| word == name) || is_shell(name))
            })
    };
    stderr
        .lines()
        .map(str::trim)
        .filter(|line| said_by_a_program(line))
        .filter(|line| {
            let lower = line.to_lowercase();
            !NOTICES.iter().any(|notice| lower.contains(notice))
        })
        .collect()
}

/// Whether `command` has a way of its own to go on after a failure (`gzip -t a.gz && echo
/// valid || echo invalid`, `if grep -q ...; then`): an error it printed on the way may be the
/// very answer it reports.
fn handles_failure(command: &str) -> bool {
    command.contains("||")
        || command
            .split(|c: char| c.is_whitespace() || c == ';')
            .any(|word| matches!(word, "if" | "until" | "while"))
}

/// Whether `name` is a shell's: one's errors are there whatever the command says
/// (`bash: line 2: frobnicate: command not found`).
fn is_shell(name: &str) -> bool {
    matches!(name, "sh" | "bash" | "dash" | "zsh" | "ksh" | "fish")
}

#[cfg(test)]
mod tests {
    use super::*;
    use cmdai_preview::{Limit, Output};

    /// The programs of these tests' commands, as if on `PATH`.
    fn program(name: &str) -> bool {
        [
            "sh", "sed", "mkdir", "iconv", "cut", "gzip", "dd", "awk", "grep", "tar", "python3",
            "touch", "cat", "cp",
        ]
        .contains(&name)
    }

    fn report(status: Status, stderr: &str) -> Report {
        Report {
            command: "cmd".to_owned(),
            directory: PathBuf::from("/work"),
            status,
            stdout: Output::default(),
            stderr: Output {
                text: stderr.to_owned(),
                bytes: stderr.len() as u64,
                truncated: false,
            },
            changes: Vec::new(),
            outside: Vec::new(),
            blocked: Vec::new(),
            limit: None,
            unlisted: 0,
            summary: Vec::new(),
        }
    }

    fn exited(code: i32, stderr: &str) -> Report {
        report(Status::Exited { code }, stderr)
    }

    #[test]
    fn errors_of_the_command_itself_are_failures() {
        let own = [
            (1, "comm: file 1 is not in sorted order"),
            (1, "tail: invalid number of lines: ‘+3:2026-10-01 ERROR x’"),
            (2, "grep: Unmatched ( or \\("),
            (
                5,
                "jq: error (at config.json:4): Cannot index array with \"keys\"",
            ),
            (1, "sed: -e expression #1, char 9: unknown option to `s'"),
            (127, "sh: 1: frobnicate: not found"),
        ];
        for (code, stderr) in own {
            assert_eq!(
                own_failure(&exited(code, stderr), program, || true).as_deref(),
                Some(stderr),
                "{stderr}"
            );
        }
        let awk = "awk: cmd. line:1: NR>1 {if ($3 >\nawk: cmd. line:1:              ^ unexpected newline or end of string\n\n";
        assert_eq!(
            own_failure(&exited(2, awk), program, || true).as_deref(),
            Some(
                "awk: cmd. line:1: NR>1 {if ($3 >; awk: cmd. line:1:              ^ unexpected newline or end of string"
            )
        );
        let long = "x".repeat(1000);
        let cut = own_failure(&exited(1, &long), program, || true).unwrap();
        assert_eq!(cut.chars().count(), MESSAGE_CHARS + 3);
        let lines = "a\nb\nc\nd\ne";
        assert_eq!(
            own_failure(&exited(1, lines), program, || true).unwrap(),
            "a; b; c"
        );
    }

    #[test]
    fn files_moved_one_by_one_onto_one_file_are_a_finding() {
        use cmdai_preview::Change;
        let file = |path: &str, kind: ChangeKind| Change {
            path: PathBuf::from(path),
            kind,
        };
        let created = |entry: EntryKind| ChangeKind::Created {
            entry,
            size: 4,
            files: 0,
        };
        let deleted = ChangeKind::Deleted {
            entry: EntryKind::File,
            size: 4,
            files: 0,
        };
        let ran = |command: &str, changes: Vec<Change>| Report {
            command: command.to_owned(),
            changes,
            ..exited(0, "")
        };
        let moved = vec![
            file("inbox/a.bin", deleted.clone()),
            file("inbox/b.bin", deleted.clone()),
            file("inbox/large", created(EntryKind::File)),
        ];
        let find = "find inbox -type f -size +1k -exec mv {} inbox/large \\;";
        assert_eq!(
            onto_one_file("move them into x", &ran(find, moved.clone())),
            Some(Flaw::OneFile {
                program: "mv".into(),
                destination: "inbox/large".into(),
                lost: 2
            })
        );
        let renamed = vec![
            file("a.log", deleted.clone()),
            file(
                "archive",
                ChangeKind::Renamed {
                    from: PathBuf::from("b.log"),
                    entry: EntryKind::File,
                },
            ),
        ];
        let looped = "for f in *.log; do mv \"$f\" ./archive; done";
        assert_eq!(
            onto_one_file("move them into x", &ran(looped, renamed)),
            Some(Flaw::OneFile {
                program: "mv".into(),
                destination: "./archive".into(),
                lost: 1
            })
        );
        let copied = vec![file("all", created(EntryKind::File))];
        let cp = "find . -name '*.jpg' -exec cp {} all \\;";
        assert!(matches!(
            onto_one_file("move them into x", &ran(cp, copied)),
            Some(Flaw::OneFile { lost: 0, .. })
        ));
        // Into a folder, to names of their own, or once: nothing lost.
        let into_folder = vec![
            file("inbox/a.bin", deleted.clone()),
            file("inbox/large", created(EntryKind::Directory)),
        ];
        let made = "mkdir -p inbox/large && find inbox -type f -exec mv {} inbox/large \\;";
        assert_eq!(
            onto_one_file("move them into x", &ran(made, into_folder)),
            None
        );
        let own_names = "find . -name '*.log' -exec mv {} {}.bak \\;";
        assert_eq!(
            onto_one_file("move them into x", &ran(own_names, moved.clone())),
            None
        );
        let renamed_each = "for f in *.txt; do mv \"$f\" \"${f%.txt}.md\"; done";
        assert_eq!(
            onto_one_file("move them into x", &ran(renamed_each, moved.clone())),
            None
        );
        assert_eq!(
            onto_one_file(
                "move them into x",
                &ran("mv inbox/a.bin inbox/large", moved.clone())
            ),
            None
        );
        // A pattern is files, even where it matches one.
        let one = vec![file(
            "logs/old",
            ChangeKind::Renamed {
                from: PathBuf::from("logs/a.log"),
                entry: EntryKind::File,
            },
        )];
        assert_eq!(
            onto_one_file(
                "move every .log file into logs/old",
                &ran("mv logs/*.log logs/old", one.clone())
            ),
            Some(Flaw::OneFile {
                program: "mv".into(),
                destination: "logs/old".into(),
                lost: 0
            })
        );
        // A rename by a pattern.
        let renamed = vec![file(
            "app.log",
            ChangeKind::Renamed {
                from: PathBuf::from("server.log"),
                entry: EntryKind::File,
            },
        )];
        let rename = ran("mv *.log app.log", renamed);
        assert_eq!(
            onto_one_file("rename the log file to app.log", &rename),
            None
        );
        assert!(onto_one_file("move the log file into app.log", &rename).is_some());
        let copied_once = ran(
            "cp *.log app.log",
            vec![file("app.log", created(EntryKind::File))],
        );
        assert_eq!(
            onto_one_file("copy the log file to app.log", &copied_once),
            None
        );
    }

    #[test]
    fn output_of_another_form_than_asked_is_a_finding_once_the_command_has_ended() {
        let printed = |status: Status, stdout: &str| Report {
            stdout: Output {
                text: stdout.to_owned(),
                bytes: stdout.len() as u64,
                truncated: false,
            },
            ..report(status, "")
        };
        let ok = Status::Exited { code: 0 };
        let number = "how many lines does app.log have? just the number";
        assert_eq!(
            output_misfit(number, &printed(ok, "42 app.log\n")),
            Some(Flaw::Output {
                printed: "42 app.log".to_owned(),
                asked: OutputForm::Number
            })
        );
        assert_eq!(output_misfit(number, &printed(ok, "42\n")), None);
        let long = "total 4\n-rw-r--r-- 1 me me 5 Dec  3 12:00 a.txt\n";
        assert!(output_misfit("the newest 3 files, names only", &printed(ok, long)).is_some());
        // The request does not say; or the command did not end as it would.
        assert_eq!(
            output_misfit("how many lines in app.log", &printed(ok, "42 app.log")),
            None
        );
        let failed = Status::Exited { code: 1 };
        assert_eq!(
            output_misfit(number, &printed(failed, "")),
            Some(Flaw::Output {
                printed: "nothing".to_owned(),
                asked: OutputForm::Number
            })
        );
        let names = "the newest 3 files, names only";
        assert_eq!(output_misfit(names, &printed(failed, long)), None);
        let mut stopped = printed(ok, "42 app.log");
        stopped.limit = Some(Limit::Time { seconds: 1 });
        assert_eq!(output_misfit(number, &stopped), None);
        // A question with two answers: printing neither is a finding even after a quiet
        // failure, for a question always has an answer.
        let yes_no = "does this CPU support AVX2? answer yes or no";
        assert_eq!(
            output_misfit(yes_no, &printed(failed, "")),
            Some(Flaw::Output {
                printed: "nothing".to_owned(),
                asked: OutputForm::Choice(vec!["yes".into(), "no".into()])
            })
        );
        assert_eq!(output_misfit(yes_no, &printed(failed, "no\n")), None);
        let in_place = "remove the lines mentioning milk from notes.txt (change the file)";
        assert_eq!(
            unchanged(in_place, &printed(ok, "eggs\nbread\n")),
            Some(Flaw::Unchanged)
        );
        assert_eq!(
            unchanged("print notes.txt without milk", &printed(ok, "eggs\n")),
            None
        );
        let mut edited = printed(ok, "");
        edited.changes.push(cmdai_preview::Change {
            path: "notes.txt".into(),
            kind: cmdai_preview::ChangeKind::Modified {
                size_before: 17,
                size_after: 12,
                diff: None,
            },
        });
        assert_eq!(unchanged(in_place, &edited), None);
        assert_eq!(unchanged(in_place, &printed(failed, "")), None);
        let levels = "count the log levels in app.log and print lines like 'ERROR 2'";
        assert!(output_misfit(levels, &printed(ok, "      2 ERROR\n")).is_some());
        assert_eq!(output_misfit(levels, &printed(ok, "ERROR 2\n")), None);
    }

    #[test]
    fn errors_a_program_printed_are_failures_even_when_the_command_ended_well() {
        let ended = |command: &str, stderr: &str| Report {
            command: command.to_owned(),
            ..exited(0, stderr)
        };
        let own = [
            (
                "find site -name '*.html' -exec sed -i 's/http://https:///g' {} \\;",
                "sed: -e expression #1, char 14: unknown option to `s'",
            ),
            (
                "mkdir backup; cp notes.txt backup/",
                "mkdir: cannot create directory 'backup': File exists",
            ),
            (
                "for f in *.txt; do /usr/bin/iconv -f latin1 -t utf-8 \"$f\" > \"u-$f\"; done",
                "/usr/bin/iconv: illegal input sequence at position 3",
            ),
            ("frobnicate; echo done", "sh: 1: frobnicate: not found"),
        ];
        for (command, stderr) in own {
            assert_eq!(
                own_failure(&ended(command, stderr), program, || true).as_deref(),
                Some(stderr),
                "{command}"
            );
        }
        // Only the lines that are errors are named.
        let mixed = "data.csv: 40.0% -- replaced\ncut: fields are numbered from 1\n";
        assert_eq!(
            own_failure(
                &ended("cut -f0 data.csv; gzip -v data.csv", mixed),
                program,
                || true
            )
            .as_deref(),
            Some("cut: fields are numbered from 1")
        );
        // Where the programs on PATH are not known, only failures count.
        let sed = "sed: -e expression #1, char 14: unknown option to `s'";
        assert_eq!(
            own_failure(&ended("sed 's/a/b/x' a; :", sed), |_| false, || true),
            None
        );
        let none = [
            // What programs say while all goes well, and what other programs say.
            ("dd if=a of=b bs=1M", "1+0 records in\n1+0 records out"),
            (
                "gzip -v notes.txt",
                "notes.txt:\t 42.1% -- replaced with notes.txt.gz",
            ),
            (
                "awk '/a\\.b/' x.txt",
                "awk: cmd. line:1: warning: escape sequence `\\.' treated as plain `.'",
            ),
            ("grep 'a\\-b' x.txt", "grep: warning: stray \\ before -"),
            (
                "tar czf a.tgz /work/a",
                "tar: Removing leading `/' from member names",
            ),
            ("python3 run.py", "Traceback (most recent call last):"),
            // The sandbox's doing, or a file of another place.
            (
                "touch /etc/x; echo ok",
                "touch: cannot touch '/etc/x': Read-only file system",
            ),
        ];
        for (command, stderr) in none {
            assert_eq!(
                own_failure(&ended(command, stderr), program, || true),
                None,
                "{command}"
            );
        }
        // A command that goes on after a failure of its own printed the error on purpose.
        let test = "gzip: bad.gz: not in gzip format";
        for handled in [
            "gzip -t bad.gz && echo valid || echo invalid",
            "if gzip -t bad.gz; then echo valid; else echo invalid; fi",
        ] {
            assert_eq!(own_failure(&ended(handled, test), program, || true), None);
        }
        let elsewhere = ended(
            "cat todo.txt; echo",
            "cat: todo.txt: No such file or directory",
        );
        assert_eq!(own_failure(&elsewhere, program, || false), None);
        assert!(own_failure(&elsewhere, program, || true).is_some());
    }

    #[test]
    fn a_missing_file_is_the_commands_fault_only_where_the_request_names_one_that_is_here() {
        let missing = "mv: cannot stat 'file.txt': No such file or directory";
        assert_eq!(
            own_failure(&exited(1, missing), program, || true).as_deref(),
            Some(missing)
        );
        // Nothing the request names is here: the command is for another place.
        assert_eq!(own_failure(&exited(1, missing), program, || false), None);
        // Other errors do not depend on where the command was tried.
        let unsorted = "comm: file 2 is not in sorted order";
        assert!(own_failure(&exited(1, unsorted), program, || false).is_some());
    }

    #[test]
    fn what_the_sandbox_does_and_quiet_failures_are_not_failures() {
        let none = [
            exited(0, "tar: Removing leading `/' from member names"),
            exited(1, ""),
            exited(124, "  \n"),
            exited(
                1,
                "chown: changing ownership of 'a': Operation not permitted",
            ),
            exited(1, "touch: cannot touch '/etc/x': Read-only file system"),
            exited(2, "find: ‘/root’: Permission denied"),
            exited(1, "kill: (1234) - No such process"),
            exited(1, "Failed to connect to bus: No such file or directory"),
            exited(1, "top: failed tty get"),
            exited(1, "Error opening terminal: unknown."),
            exited(6, "curl: (6) Could not resolve host: example.com"),
            exited(
                128,
                "fatal: not a git repository (or any of the parent directories): .git",
            ),
            exited(
                2,
                "make: *** No targets specified and no makefile found.  Stop.",
            ),
            report(Status::TimedOut, "find: still going"),
            report(Status::Signalled { signal: 13 }, "broken pipe"),
        ];
        for report in none {
            assert_eq!(own_failure(&report, program, || true), None, "{report:?}");
        }
        let mut limited = exited(1, "dd: error writing 'big': No space left on device");
        limited.limit = Some(Limit::Size { bytes: 1 << 20 });
        assert_eq!(own_failure(&limited, program, || true), None);
        let mut blocked = exited(1, "cp: cannot create regular file '/opt/x': Is a directory");
        blocked.blocked = vec![PathBuf::from("/opt/x")];
        assert_eq!(own_failure(&blocked, program, || true), None);
    }

    #[test]
    fn only_commands_whose_work_the_sandbox_can_show_are_tried() {
        let trial = SandboxTrial {
            analyzer: Analyzer::default(),
            helper: PathBuf::from("/bin/false"),
            shell: PathBuf::from("/bin/sh"),
            size_limit: 1 << 20,
            verbose: false,
            unavailable: AtomicBool::new(false),
        };
        for tried in [
            "comm -12 a.txt b.txt",
            "find . -name '*.log' -mtime +7 -delete",
            "tail -n +2 data.csv | cut -d, -f3 | sort -u",
            "for f in *.jpeg; do mv \"$f\" \"${f%.jpeg}.jpg\"; done",
            "rm -rf build",
            "tail -n 5 app.log",
        ] {
            assert!(trial.tries(tried), "{tried}");
        }
        for not_tried in [
            "sudo apt-get install jq",
            "kill 1234",
            "pgrep -f server | xargs kill",
            "/usr/bin/top -b -n 1",
            "systemctl restart nginx",
            "curl -s https://example.com",
            "tail -f app.log",
            "tail -n 50 -F /var/log/syslog | grep ERROR",
            "tail --follow=name app.log",
            "rm -rf /",
            "awk '{print $2",
        ] {
            assert!(!trial.tries(not_tried), "{not_tried}");
        }
    }
}
