//! `cmdai preview COMMAND`, `p` in the review menu and `-x --preview`: what a command would
//! change, from `cmdai-preview`'s sandbox, shown as text or JSON.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use cmdai_core::safety::{Analysis, RiskLevel};
use cmdai_preview::{Change, ChangeKind, EntryKind, Limit, PreviewOptions, Report, Status};
use console::style;

use crate::cli::OutputFormat;
use crate::safety::{self, NotRun};
use crate::settings::Settings;

/// The first argument that makes this program the preview's helper inside its namespaces.
pub const HELPER: &str = "__preview-sandbox";

/// How long a preview may run and how much it may write.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub time: Duration,
    pub size: u64,
}

/// Changes listed one by one in text; more are summarised per directory.
const LISTED: usize = 15;

/// `cmdai preview COMMAND`: exits 0 with a report, 5 when the command may not be previewed.
pub fn command(settings: &Settings, command: &str) -> Result<u8> {
    let analysis = safety::analyzer(settings).analyze(command);
    if let Some(reason) = refusal(command, &analysis) {
        return Err(NotRun {
            code: safety::BLOCKED,
            message: format!("not previewed: {reason}"),
        }
        .into());
    }
    let report = run(settings, command)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match settings.output {
        OutputFormat::Json => writeln!(out, "{}", serde_json::to_string(&report)?)?,
        OutputFormat::Text => write_report(&mut out, &report)?,
    }
    Ok(0)
}

/// Shows a preview on stderr, or why there is none; for the review menu and `-x --preview`.
/// A preview that cannot be made is said, not an error: the command can still be reviewed.
pub fn show(settings: &Settings, command: &str, analysis: &Analysis) {
    let mut err = std::io::stderr();
    if let Some(reason) = refusal(command, analysis) {
        let _ = writeln!(
            err,
            "{}",
            style(format!("no preview: {reason}")).for_stderr().dim()
        );
        return;
    }
    let _ = writeln!(
        err,
        "{}",
        style("preview: running it in a sandbox...")
            .for_stderr()
            .dim()
    );
    match run(settings, command) {
        Ok(report) => {
            let _ = write_report(&mut err, &report);
        }
        Err(error) => {
            let _ = writeln!(err, "cmdai: no preview: {error:#}");
        }
    }
}

/// Why `command` is not previewed: critical risk, or it reaches outside the machine.
fn refusal(command: &str, analysis: &Analysis) -> Option<String> {
    if analysis.level == RiskLevel::Critical {
        return Some(
            "it is rated critical, and cmdai does not run critical commands, not even in a sandbox"
                .to_owned(),
        );
    }
    cmdai_core::safety::network_use(command).map(|program| {
        format!(
            "`{program}` uses the network or talks to another machine or service; the preview \
             has neither, so it could not show what the command would do"
        )
    })
}

fn run(settings: &Settings, command: &str) -> Result<Report> {
    let options = PreviewOptions {
        helper: std::env::current_exe().context("cannot find the cmdai executable")?,
        helper_args: vec![HELPER.into()],
        shell: PathBuf::from(safety::shell_program(settings.shell.as_deref())),
        directory: std::env::current_dir().context("cannot read the working directory")?,
        time_limit: settings.preview_limits.time,
        size_limit: settings.preview_limits.size,
    };
    Ok(cmdai_preview::preview(command, &options)?)
}

/// The report as a person reads it.
pub fn write_report(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    let status = match report.status {
        Status::Exited { code } if report.limit.is_some() => {
            format!("it ran into a limit of the preview (exit status {code})")
        }
        Status::Exited { code: 0 } => "it would succeed (exit status 0)".to_owned(),
        Status::Exited { code } => format!("it would fail (exit status {code})"),
        Status::Signalled { signal } => format!("it would be killed by signal {signal}"),
        Status::TimedOut => "it was still running at the time limit".to_owned(),
    };
    writeln!(out, "preview: {status}")?;
    match report.limit {
        Some(Limit::Time { seconds }) => writeln!(
            out,
            "  stopped after {seconds} s (--preview-timeout): what it would do after that is not shown"
        )?,
        Some(Limit::Size { bytes }) => writeln!(
            out,
            "  stopped at the preview's {} MiB (--preview-max-size): it writes more than that",
            bytes >> 20
        )?,
        None => {}
    }
    if report.changed_nothing() {
        writeln!(out, "  no files would change")?;
    }
    if report.changes.len() > LISTED {
        writeln!(
            out,
            "  in {} (by top-level entry):",
            report.directory.display()
        )?;
        for dir in &report.summary {
            let counts: Vec<String> = [
                (dir.created, "created"),
                (dir.deleted, "deleted"),
                (dir.renamed, "renamed"),
                (dir.modified, "modified"),
                (dir.permissions, "permissions changed"),
                (dir.touched, "touched"),
            ]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
            writeln!(out, "    {:<20} {}", dir.directory, counts.join(", "))?;
        }
        writeln!(out, "  first changes:")?;
    }
    for change in report.changes.iter().take(LISTED) {
        write_change(out, change)?;
    }
    if report.changes.len() > LISTED || report.unlisted > 0 {
        let more = report.changes.len().saturating_sub(LISTED) as u64 + report.unlisted;
        writeln!(out, "    ... and {more} more (-o json lists them)")?;
    }
    if !report.outside.is_empty() {
        writeln!(
            out,
            "  outside the working directory (kept from the real files in the preview, but it would happen for real):"
        )?;
        for change in report.outside.iter().take(LISTED) {
            write_change(out, change)?;
        }
    }
    if !report.blocked.is_empty() {
        writeln!(
            out,
            "  it tried to write outside the working directory (blocked in the preview, it would happen for real):"
        )?;
        for path in &report.blocked {
            writeln!(out, "    {}", path.display())?;
        }
    }
    for (name, output) in [("output", &report.stdout), ("errors", &report.stderr)] {
        if output.text.is_empty() {
            continue;
        }
        writeln!(out, "  {name}:")?;
        for line in output.text.lines() {
            writeln!(out, "  | {line}")?;
        }
        if output.truncated {
            writeln!(out, "  | ... ({} bytes in all)", output.bytes)?;
        }
    }
    Ok(())
}

fn write_change(out: &mut dyn Write, change: &Change) -> std::io::Result<()> {
    let path = shown_path(&change.path, &change.kind);
    match &change.kind {
        ChangeKind::Created { entry, size, files } => writeln!(
            out,
            "    created     {path}{}",
            contents(*entry, *size, *files)
        )?,
        ChangeKind::Deleted { entry, size, files } => writeln!(
            out,
            "    deleted     {path}{}",
            contents(*entry, *size, *files)
        )?,
        ChangeKind::Renamed { from, .. } => {
            writeln!(out, "    renamed     {} -> {path}", from.display())?
        }
        ChangeKind::Modified {
            size_before,
            size_after,
            diff,
        } => {
            writeln!(
                out,
                "    modified    {path} ({} -> {})",
                bytes(*size_before),
                bytes(*size_after)
            )?;
            for line in diff.iter().flat_map(|d| d.lines()) {
                writeln!(out, "                {line}")?;
            }
        }
        ChangeKind::Permissions { before, after } => {
            writeln!(out, "    permissions {path} ({before} -> {after})")?
        }
        ChangeKind::Touched => writeln!(out, "    touched     {path} (same contents)")?,
    }
    Ok(())
}

fn shown_path(path: &Path, kind: &ChangeKind) -> String {
    let dir = matches!(
        kind,
        ChangeKind::Created {
            entry: EntryKind::Directory,
            ..
        } | ChangeKind::Deleted {
            entry: EntryKind::Directory,
            ..
        }
    );
    format!("{}{}", path.display(), if dir { "/" } else { "" })
}

fn contents(entry: EntryKind, size: u64, files: u64) -> String {
    match entry {
        EntryKind::Directory => format!(
            " ({files} file{}, {})",
            if files == 1 { "" } else { "s" },
            bytes(size)
        ),
        EntryKind::File => format!(" ({})", bytes(size)),
        EntryKind::Symlink => " (symbolic link)".to_owned(),
        EntryKind::Other => String::new(),
    }
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 10 << 20 => format!("{} MiB", n >> 20),
        n if n >= 10 << 10 => format!("{} KiB", n >> 10),
        n => format!("{n} B"),
    }
}
