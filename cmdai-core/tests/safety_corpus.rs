//! The safety analyser against two corpora: dangerous commands (every one must be High or
//! Critical) and everyday commands (at least 98% must stay below High). The everyday corpus is
//! our own list plus, when `../shared` is present, every `cmd` of the tldr pages for Linux,
//! macOS and common use. No tldr example is excluded, not even the genuinely dangerous ones
//! (`shutdown`, `mkfs`...): they count against the 98%.

use std::path::{Path, PathBuf};

use cmdai_core::safety::{Analysis, Analyzer, RiskLevel};

fn corpus(name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
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
        // Windows pages are cmd/PowerShell, and `<Ctrl c>`-style rows are key presses in an
        // interactive program: neither is a shell command.
        if !matches!(platform, "common" | "linux" | "osx") || cmd.starts_with('<') {
            continue;
        }
        out.push((format!("{page}:{index}"), cmd.to_owned()));
    }
    Some(out)
}

#[test]
fn every_dangerous_command_is_high_or_critical() {
    let analyzer = Analyzer::default();
    let commands = corpus("dangerous.txt");
    assert!(
        commands.len() >= 150,
        "the dangerous corpus has {} commands",
        commands.len()
    );
    let missed: Vec<String> = commands
        .iter()
        .map(|c| (c, analyzer.analyze(c)))
        .filter(|(_, a)| a.level < RiskLevel::High)
        .map(|(c, a)| describe(c, &a))
        .collect();
    println!(
        "dangerous: {} of {} High or Critical",
        commands.len() - missed.len(),
        commands.len()
    );
    assert!(
        missed.is_empty(),
        "{} dangerous commands judged below High:\n{}",
        missed.len(),
        missed.join("\n")
    );
}

#[test]
fn our_everyday_commands_stay_below_high() {
    let analyzer = Analyzer::default();
    let commands = corpus("everyday.txt");
    let flagged: Vec<String> = commands
        .iter()
        .map(|c| (c, analyzer.analyze(c)))
        .filter(|(_, a)| a.level >= RiskLevel::High)
        .map(|(c, a)| describe(c, &a))
        .collect();
    println!(
        "everyday (ours): {} of {} below High",
        commands.len() - flagged.len(),
        commands.len()
    );
    assert!(
        flagged.is_empty(),
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
    let total = commands.len() + corpus("everyday.txt").len();
    let below = total - flagged.len();
    let share = below as f64 / total as f64;
    println!(
        "everyday (ours + tldr): {below} of {total} below High ({:.2}%)",
        share * 100.0
    );
    if std::env::var_os("CMDAI_SHOW_FLAGGED").is_some() {
        println!("{}", flagged.join("\n"));
    }
    assert!(total >= 500);
    assert!(
        share >= 0.98,
        "only {:.2}% below High; flagged:\n{}",
        share * 100.0,
        flagged.join("\n")
    );
}
