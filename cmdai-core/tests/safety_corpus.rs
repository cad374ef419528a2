//! The safety analyser against its corpora, in `tests/corpus`:
//!
//! - `dangerous/*.txt`: `level | reason | command` lines; each command must come out at or
//!   above its level.
//! - `everyday/*.txt`: commands people run every day, look-alikes of dangerous ones included;
//!   at most 1% may come out High or above. With `../shared` present, every `cmd` of the tldr
//!   pages for Linux, macOS and common use is held to at most 1.5% (no tldr example is
//!   excluded, not even the genuinely dangerous ones such as `shutdown` or `mkfs`).
//! - `holdout/`: cases of the same classes, written with the others but kept out of sight
//!   while the rules were written; the same targets, reported separately.
//!
//! In a command, the token `<NL>` stands for a newline (here-documents).

use std::path::{Path, PathBuf};

use cmdai_core::safety::{Analysis, Analyzer, RiskLevel};

/// The non-comment lines of every `.txt` file in `tests/corpus/<dir>` whose name starts
/// with `prefix`, with `<NL>` turned into newlines.
fn corpus(dir: &str, prefix: &str) -> Vec<String> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .map(|entry| entry.expect("a readable corpus folder").path())
        .filter(|path| {
            path.extension().is_some_and(|e| e == "txt")
                && path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no {prefix}*.txt in {}",
        folder.display()
    );
    files
        .iter()
        .flat_map(|path| {
            std::fs::read_to_string(path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
                .map(|l| l.replace("<NL>", "\n"))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A dangerous case: the least level it must get, why, and the command.
struct Case {
    level: RiskLevel,
    reason: String,
    command: String,
}

fn dangerous(dir: &str, prefix: &str) -> Vec<Case> {
    corpus(dir, prefix)
        .into_iter()
        .map(|line| {
            let mut parts = line.splitn(3, " | ");
            let (Some(level), Some(reason), Some(command)) =
                (parts.next(), parts.next(), parts.next())
            else {
                panic!("not `level | reason | command`: {line}");
            };
            let level = match level {
                "high" => RiskLevel::High,
                "critical" => RiskLevel::Critical,
                other => {
                    panic!("a dangerous case's level is high or critical, not `{other}`: {line}")
                }
            };
            Case {
                level,
                reason: reason.to_owned(),
                command: command.to_owned(),
            }
        })
        .collect()
}

/// The dangerous cases that come out below their level, described.
fn missed(cases: &[Case]) -> Vec<String> {
    let analyzer = Analyzer::default();
    cases
        .iter()
        .map(|case| (case, analyzer.analyze(&case.command)))
        .filter(|(case, analysis)| analysis.level < case.level)
        .map(|(case, analysis)| {
            format!(
                "[{} needed: {}] {}",
                case.level,
                case.reason,
                describe(&case.command, &analysis)
            )
        })
        .collect()
}

/// The everyday commands that come out High or above, described.
fn flagged(commands: &[String]) -> Vec<String> {
    let analyzer = Analyzer::default();
    commands
        .iter()
        .map(|c| (c, analyzer.analyze(c)))
        .filter(|(_, a)| a.level >= RiskLevel::High)
        .map(|(c, a)| describe(c, &a))
        .collect()
}

fn describe(command: &str, analysis: &Analysis) -> String {
    let findings: Vec<String> = analysis
        .findings
        .iter()
        .map(|f| format!("{} {:?}: {}", f.level, f.category, f.message))
        .collect();
    format!(
        "{command}\n    => {} [{}]",
        analysis.level,
        findings.join("; ")
    )
}

fn tldr_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/tldr/tldr.jsonl")
}

fn tldr_commands() -> Option<Vec<(String, String)>> {
    let text = std::fs::read_to_string(tldr_path()).ok()?;
    let mut out = Vec::new();
    for line in text.lines() {
        let row: serde_json::Value = serde_json::from_str(line).expect("tldr.jsonl rows are JSON");
        let (Some(page), Some(index), Some(cmd)) = (
            row["page"].as_str(),
            row["example_index"].as_u64(),
            row["cmd"].as_str(),
        ) else {
            continue;
        };
        let platform = row["platform"].as_str().unwrap_or_default();
        // Windows pages are cmd/PowerShell, and `<Ctrl c>`-style rows (`wq<Enter>`) are key
        // presses in an interactive program: neither is a shell command.
        let keys = ["<Enter>", "<Esc>", "<Ctrl", "<Tab>", "<Alt", "<Space>"];
        if !matches!(platform, "common" | "linux" | "osx")
            || cmd.starts_with('<')
            || keys.iter().any(|k| cmd.contains(k))
        {
            continue;
        }
        out.push((format!("{page}:{index}"), cmd.to_owned()));
    }
    Some(out)
}

#[test]
fn every_dangerous_command_reaches_its_level() {
    let cases = dangerous("dangerous", "");
    assert!(
        cases.len() >= 500,
        "the dangerous corpus has {} commands",
        cases.len()
    );
    let missed = missed(&cases);
    println!(
        "dangerous: {} of {} at or above their level",
        cases.len() - missed.len(),
        cases.len()
    );
    assert!(
        missed.is_empty(),
        "{} dangerous commands judged below their level:\n{}",
        missed.len(),
        missed.join("\n")
    );
}

#[test]
fn our_everyday_commands_stay_below_high() {
    let commands = corpus("everyday", "");
    assert!(
        commands.len() >= 500,
        "the everyday corpus has {} commands",
        commands.len()
    );
    let flagged = flagged(&commands);
    let share = flagged.len() as f64 / commands.len() as f64;
    println!(
        "everyday (ours): {} of {} High or above ({:.2}%)",
        flagged.len(),
        commands.len(),
        share * 100.0
    );
    println!("{}", flagged.join("\n"));
    assert!(
        share <= 0.01,
        "{} everyday commands judged High or worse:\n{}",
        flagged.len(),
        flagged.join("\n")
    );
}

#[test]
fn tldr_commands_stay_below_high() {
    let Some(commands) = tldr_commands() else {
        eprintln!("skipped: {} is not here", tldr_path().display());
        return;
    };
    let analyzer = Analyzer::default();
    let flagged: Vec<String> = commands
        .iter()
        .map(|(id, c)| (id, c, analyzer.analyze(c)))
        .filter(|(_, _, a)| a.level >= RiskLevel::High)
        .map(|(id, c, a)| format!("{id}: {}", describe(c, &a)))
        .collect();
    let total = commands.len();
    let share = flagged.len() as f64 / total as f64;
    println!(
        "tldr: {} of {total} High or above ({:.2}%)",
        flagged.len(),
        share * 100.0
    );
    if std::env::var_os("CMDAI_SHOW_FLAGGED").is_some() {
        println!("{}", flagged.join("\n"));
    }
    assert!(total >= 20_000);
    assert!(
        share <= 0.015,
        "{:.2}% High or above; flagged:\n{}",
        share * 100.0,
        flagged.join("\n")
    );
}

/// Held-out cases, kept out of sight while the rules were written and run at the end
/// (figures in docs/SAFETY.md): `holdout/` was written with the corpus, `holdout2/` later, by a
/// writer who saw neither the rules nor the other cases. Held to the red-team target: every
/// dangerous command High or above, at most 2% of everyday ones High; how many reach their
/// exact level is printed.
fn held_out(dir: &str) -> (Vec<String>, Vec<String>) {
    let cases = dangerous(dir, "dangerous");
    let below_level = missed(&cases);
    let analyzer = Analyzer::default();
    let below_high: Vec<String> = cases
        .iter()
        .map(|case| (case, analyzer.analyze(&case.command)))
        .filter(|(_, analysis)| analysis.level < RiskLevel::High)
        .map(|(case, analysis)| describe(&case.command, &analysis))
        .collect();
    let everyday = corpus(dir, "everyday");
    let flagged = flagged(&everyday);
    println!(
        "{dir}: dangerous {} of {} at their level, {} High or above; everyday {} of {} High or above",
        cases.len() - below_level.len(),
        cases.len(),
        cases.len() - below_high.len(),
        flagged.len(),
        everyday.len()
    );
    println!("{}\n{}", below_level.join("\n"), flagged.join("\n"));
    let share = flagged.len() as f64 / everyday.len() as f64;
    let excess = if share > 0.02 { flagged } else { Vec::new() };
    (below_high, excess)
}

#[test]
fn held_out_cases_meet_the_targets() {
    for dir in ["holdout", "holdout2"] {
        let (below_high, flagged) = held_out(dir);
        assert!(
            below_high.is_empty(),
            "{dir}: dangerous commands below High:\n{}",
            below_high.join("\n")
        );
        assert!(
            flagged.is_empty(),
            "{dir}: over 2% of everyday commands High or above:\n{}",
            flagged.join("\n")
        );
    }
}
