//! Showing a command's risk, and running it only when the policy and the user agree.

use std::fmt;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::Result;
use cmdai_core::safety::{Analysis, Analyzer, Decision, RiskLevel};
use serde_json::json;

use crate::cli::OutputFormat;
use crate::interrupt;
use crate::settings::{RunMode, Settings};

/// Exit status when the policy refuses to run a command.
pub const BLOCKED: u8 = 5;
/// Exit status when a command was not run because nobody confirmed it.
pub const NOT_CONFIRMED: u8 = 6;

/// Why a command was not run; carries its exit status.
#[derive(Debug)]
pub struct NotRun {
    pub code: u8,
    pub message: String,
}

impl fmt::Display for NotRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for NotRun {}

pub fn analyzer(settings: &Settings) -> Analyzer {
    Analyzer::with_user_rules(settings.safety.rules.clone())
}

/// `risk: {level, findings}` for JSON output.
pub fn risk_json(analysis: &Analysis) -> serde_json::Value {
    json!({ "level": analysis.level, "findings": analysis.findings })
}

/// Writes the risk and the findings a user should read (all of them with `-v`).
pub fn write_report(
    out: &mut dyn Write,
    command: &str,
    analysis: &Analysis,
    verbose: u8,
) -> std::io::Result<()> {
    writeln!(out, "risk: {}", analysis.level)?;
    for finding in &analysis.findings {
        if finding.level == RiskLevel::Safe && verbose == 0 {
            continue;
        }
        writeln!(out, "  {:<9} {}", finding.level.as_str(), finding.message)?;
        let part = command
            .get(finding.span.start..finding.span.end)
            .unwrap_or(command);
        if part.trim() != command.trim() {
            writeln!(out, "  {:<9} in: {part}", "")?;
        }
    }
    Ok(())
}

/// `cmdai check COMMAND`.
pub fn check(settings: &Settings, command: &str) -> Result<u8> {
    let analysis = analyzer(settings).analyze(command);
    let decision = settings.safety.policy.decide(&analysis);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match settings.output {
        OutputFormat::Json => {
            let value = json!({
                "command": command,
                "risk": risk_json(&analysis),
                "policy": settings.safety.policy,
                "decision": decision,
            });
            writeln!(out, "{value}")?;
        }
        OutputFormat::Text => write_report(&mut out, command, &analysis, settings.verbose)?,
    }
    drop(out);
    if settings.safety.run == RunMode::Show {
        return Ok(if decision == Decision::Refuse {
            BLOCKED
        } else {
            0
        });
    }
    execute(settings, command, &analysis)
}

/// Runs `command` if the policy allows and the user confirms; returns its exit status.
pub fn execute(settings: &Settings, command: &str, analysis: &Analysis) -> Result<u8> {
    let policy = settings.safety.policy;
    let decision = policy.decide(analysis);
    let yes = match settings.safety.run {
        RunMode::Show => return Ok(0),
        RunMode::DryRun => {
            eprintln!("cmdai: dry run: not running it");
            return Ok(0);
        }
        RunMode::Execute { yes } => yes,
    };
    let level = analysis.level;
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if settings.safety.preview && decision != Decision::Refuse {
        crate::preview::show(settings, command, analysis);
    }
    match decision {
        Decision::Refuse => {
            let message = if analysis.denied() {
                "refused to run it: it matches a deny rule in your configuration".to_owned()
            } else {
                format!(
                    "refused to run it: {level} risk is never run under the {policy} safety policy \
                     (if you are sure, run it yourself, or choose --safety permissive)"
                )
            };
            return Err(NotRun {
                code: BLOCKED,
                message,
            }
            .into());
        }
        Decision::Confirm if yes => {}
        Decision::Confirm if interactive => {
            if !confirm("Run it? [Y/n] ", true)? {
                return Err(NotRun {
                    code: NOT_CONFIRMED,
                    message: "not run".into(),
                }
                .into());
            }
        }
        Decision::ConfirmExplicitly if interactive => {
            if yes {
                eprintln!("cmdai: -y does not confirm {level} risk under the {policy} policy");
            }
            let question = format!("This is {level} risk. Run it anyway? [y/N] ");
            if !confirm(&question, false)? {
                return Err(NotRun {
                    code: NOT_CONFIRMED,
                    message: "not run".into(),
                }
                .into());
            }
        }
        Decision::Confirm => {
            let message =
                "not run: there is no terminal to confirm on; pass -y to run it".to_owned();
            return Err(NotRun {
                code: NOT_CONFIRMED,
                message,
            }
            .into());
        }
        Decision::ConfirmExplicitly => {
            let message = format!(
                "not run: {level} risk needs a yes typed at a terminal under the {policy} policy; -y is not \
                 enough (--safety permissive lets -y confirm it)"
            );
            return Err(NotRun {
                code: NOT_CONFIRMED,
                message,
            }
            .into());
        }
    }
    run_in_shell(settings.shell.as_deref(), command)
}

/// Asks on the terminal; an empty answer is `default`. Ctrl-C here exits with 130.
fn confirm(question: &str, default: bool) -> Result<bool> {
    interrupt::exit_on_interrupt();
    let mut stderr = std::io::stderr();
    write!(stderr, "{question}")?;
    stderr.flush()?;
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer)? == 0 {
        return Ok(false);
    }
    Ok(match answer.trim().to_ascii_lowercase().as_str() {
        "" => default,
        "y" | "yes" => true,
        _ => false,
    })
}

/// The shell commands run with: the configured one, else `$SHELL`, else `/bin/sh`.
pub fn shell_program(configured: Option<&str>) -> String {
    let from_env = std::env::var("SHELL")
        .ok()
        .filter(|s| s.starts_with('/') && Path::new(s).is_file());
    configured
        .map(str::to_owned)
        .or(from_env)
        .unwrap_or_else(|| "/bin/sh".to_owned())
}

/// Runs `command` with the configured shell, else `$SHELL`, else `/bin/sh` (as `SHELL -c`);
/// returns its exit status, or 128 + the signal that ended it.
pub fn run_in_shell(configured: Option<&str>, command: &str) -> Result<u8> {
    let shell = shell_program(configured);
    interrupt::leave_to_child();
    let status = std::process::Command::new(&shell)
        .arg("-c")
        .arg(command)
        .status()
        .map_err(|e| anyhow::anyhow!("cannot start {shell}: {e}"))?;
    if let Some(code) = status.code() {
        return Ok(u8::try_from(code).unwrap_or(1));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return Ok(u8::try_from(128 + signal).unwrap_or(255));
        }
    }
    Ok(1)
}
