//! `cmdai eval FILE`: generate for every row of a dataset (or a seeded sample) with one model
//! load and print what `cmdai-eval` makes of it: quality by text and, with `--exec`, by running
//! both commands in its sandbox; latency.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use cmdai_core::{CommandPrompt, InferenceBackend, NullSink, PromptBuilder};
use cmdai_eval::{Dataset, ExecVerdict, Execution, Row, RowResult};
use serde_json::json;

use crate::cli::OutputFormat;
use crate::context;
use crate::generate::{load, ms};
use crate::settings::Settings;

/// `--exec`: where and how long commands run.
pub use cmdai_eval::ExecOptions;

/// What `cmdai eval` was asked to do.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub file: PathBuf,
    /// Evaluate a seeded random sample of this many rows.
    pub sample: Option<usize>,
    pub seed: u64,
    /// Also compare by execution.
    pub exec: Option<ExecOptions>,
    /// Only check that the references can count for the comparison by execution.
    pub check_references: bool,
}

/// Runs the evaluation and prints the report.
pub fn run(settings: &Settings, options: &EvalOptions) -> Result<()> {
    let file = &options.file;
    let mut dataset = Dataset::read(file)?;
    if let Some(n) = options.sample {
        dataset = dataset.sample(n, options.seed);
    }
    let rows = dataset.rows;
    // Set up the sandbox before loading the model, so a system without namespaces fails fast.
    let execution = options
        .exec
        .as_ref()
        .map(|exec| -> Result<Execution> {
            if let Some(fixture) = &exec.fixture {
                anyhow::ensure!(
                    fixture.is_dir(),
                    "--fixture {} is not a directory",
                    fixture.display()
                );
            }
            Execution::new(exec).context("--exec cannot start its sandbox")
        })
        .transpose()?;
    if options.check_references
        && let Some(execution) = &execution
    {
        return check_references(&rows, execution, settings.output);
    }

    let (mut generator, cancel) = load(settings)?;
    let context = context::detect(settings.shell.as_deref());
    let generate = |request: &str, dir: Option<&std::path::Path>| -> Result<Option<String>> {
        let look = dir.filter(|_| settings.look_at_files);
        let mut context = context::with_named_files(&context, request, look);
        // Asked from the row's own directory, as a user asks from theirs: a trial of the
        // command runs there.
        if let Some(dir) = dir {
            context.cwd = dir.display().to_string();
        }
        match generator.generate_streaming(request, &context, &mut NullSink, &cancel) {
            Ok(command) => Ok(Some(command.command)),
            Err(error) if cancel.is_cancelled() => Err(error.into()),
            Err(_) => Ok(None),
        }
    };
    let total = rows.len();
    let observe = |index: usize, result: &RowResult| {
        if settings.verbose > 0 {
            print_row(index, total, result);
        }
    };
    let report = cmdai_eval::evaluate(&rows, execution.as_ref(), generate, observe)?;

    let results: Vec<serde_json::Value> = rows
        .iter()
        .zip(&report.results)
        .map(|(row, result)| row_json(row, result))
        .collect();
    let summary = &report.summary;
    let latency = summary.latency;
    let info = generator.backend().info();
    let mut json = json!({
        "dataset": file.display().to_string(),
        "rows": summary.rows,
        "sample_seed": options.sample.map(|_| options.seed),
        "model": info.model,
        "backend": info.backend,
        "device": info.device,
        "prompt_version": CommandPrompt::default().version(),
        "parse_rate": summary.parse_rate(),
        "exact_match": summary.exact_match(),
        "utility_match": summary.utility_match(),
        "utility_and_flags_match": summary.flags_match(),
        "latency_ms": { "p50": ms(latency.p50), "p90": ms(latency.p90), "p99": ms(latency.p99) },
    });
    if let Some(exec) = summary.exec {
        json["exec_rows"] = json!(exec.runnable);
        json["exec_match"] = json!(exec.match_rate());
    }
    let groups = [
        (
            "category",
            cmdai_eval::exec_by(&rows, &report.results, |r| r.category.clone()),
        ),
        (
            "level",
            cmdai_eval::exec_by(&rows, &report.results, |r| r.level.map(|l| l.to_string())),
        ),
    ];
    for (name, group) in &groups {
        if !group.is_empty() {
            json[format!("exec_by_{name}")] = group
                .iter()
                .map(|(key, s)| {
                    (
                        key.clone(),
                        json!({ "rows": s.runnable, "match": s.match_rate() }),
                    )
                })
                .collect();
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match settings.output {
        OutputFormat::Json => {
            json["results"] = serde_json::Value::Array(results);
            writeln!(out, "{json}")?;
        }
        OutputFormat::Text => {
            writeln!(
                out,
                "dataset        {} ({} rows)",
                file.display(),
                summary.rows
            )?;
            writeln!(
                out,
                "model          {} ({} on {}), prompt {}",
                info.model,
                info.backend,
                info.device,
                json["prompt_version"].as_str().unwrap_or("")
            )?;
            for (label, key) in [
                ("parse rate", "parse_rate"),
                ("exact match", "exact_match"),
                ("utility", "utility_match"),
                ("utility+flags", "utility_and_flags_match"),
            ] {
                writeln!(out, "{label:<14} {:.3}", json[key].as_f64().unwrap_or(0.0))?;
            }
            if let Some(exec) = summary.exec {
                writeln!(
                    out,
                    "execution      {:.3} of {} rows whose reference does something in the fixture",
                    exec.match_rate(),
                    exec.runnable
                )?;
            }
            for (name, group) in &groups {
                for (key, s) in group {
                    writeln!(
                        out,
                        "  {name} {key:<12} {:.3} of {}",
                        s.match_rate(),
                        s.runnable
                    )?;
                }
            }
            writeln!(
                out,
                "latency        p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms",
                ms(latency.p50),
                ms(latency.p90),
                ms(latency.p99)
            )?;
        }
    }
    Ok(())
}

/// One row of the JSON report.
fn row_json(row: &Row, result: &RowResult) -> serde_json::Value {
    let mut json = json!({
        "id": row.id,
        "category": row.category,
        "level": row.level,
        "request": result.request,
        "reference": result.reference,
        "command": result.command,
        "match": result.matched,
        "ms": ms(result.latency),
    });
    if let Some(verdict) = &result.exec {
        json["exec"] = match verdict {
            ExecVerdict::NotRunnable(why) => json!({ "runnable": false, "note": why.to_string() }),
            ExecVerdict::Same => json!({ "runnable": true, "same": true }),
            ExecVerdict::Differs(why) => {
                json!({ "runnable": true, "same": false, "note": why.to_string() })
            }
        };
    }
    json
}

/// `--check-references`: runs every reference twice (no model) and lists the rows that cannot
/// count; an error when there are any, so a script can stop on it.
fn check_references(rows: &[Row], execution: &Execution, output: OutputFormat) -> Result<()> {
    let mut flagged = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        if let Some(skip) = execution.check_reference(row)? {
            let name = row
                .id
                .clone()
                .unwrap_or_else(|| format!("line {}", index + 1));
            flagged.push((name, row, skip));
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match output {
        OutputFormat::Json => {
            let listed: Vec<_> = flagged
                .iter()
                .map(|(name, row, skip)| {
                    json!({ "row": name, "reference": row.reference, "problem": skip.to_string() })
                })
                .collect();
            writeln!(out, "{}", json!({ "rows": rows.len(), "flagged": listed }))?;
        }
        OutputFormat::Text => {
            for (name, row, skip) in &flagged {
                writeln!(out, "{name}: {skip}: {}", row.reference)?;
            }
            writeln!(
                out,
                "{} of {} references can count",
                rows.len() - flagged.len(),
                rows.len()
            )?;
        }
    }
    anyhow::ensure!(
        flagged.is_empty(),
        "{} of {} rows cannot count in the comparison by execution",
        flagged.len(),
        rows.len()
    );
    Ok(())
}

/// `-v`: one line per row on stderr, as soon as it is scored.
fn print_row(index: usize, total: usize, result: &RowResult) {
    let matched = result.matched;
    let label = if matched.exact {
        "exact"
    } else if matched.flags {
        "flags"
    } else if matched.utility {
        "utility"
    } else {
        "miss"
    };
    let executed = match &result.exec {
        None | Some(ExecVerdict::NotRunnable(_)) => "",
        Some(ExecVerdict::Same) => " [exec: same]",
        Some(ExecVerdict::Differs(_)) => " [exec: differs]",
    };
    eprintln!(
        "eval: {}/{total} {label}{executed} {:?} -> {:?} (reference {:?})",
        index + 1,
        result.request,
        result.command.as_deref().unwrap_or("<no command>"),
        result.reference
    );
}
