//! `cmdai eval FILE`: generate for every row of a dataset (or a seeded sample) with one model
//! load, compare with the reference by text and, with `--exec`, by running both in a sandbox;
//! report quality and latency.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use cmdai_core::safety::RiskLevel;
use cmdai_core::{CommandPrompt, InferenceBackend, NullSink, PromptBuilder};
use serde_json::json;

use crate::cli::OutputFormat;
use crate::context;
use crate::fixture;
use crate::generate::{load, ms};
use crate::sandbox::{Outcome, Sandbox, Status, Tree};
use crate::settings::Settings;

/// What `cmdai eval` was asked to do.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub file: PathBuf,
    /// Evaluate a seeded random sample of this many rows.
    pub sample: Option<usize>,
    pub seed: u64,
    /// Also compare by execution.
    pub exec: Option<ExecOptions>,
}

/// `--exec`: where and how long commands run.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// The directory each command gets a fresh copy of; the built-in fixture when `None`.
    pub fixture: Option<PathBuf>,
    /// Each command's time limit.
    pub timeout: Duration,
}

/// One dataset row.
struct EvalRow {
    request: String,
    reference: String,
}

/// Reads `{"request"|"nl": ..., "command"|"cmd": ...}` lines.
fn read_rows(file: &Path) -> Result<Vec<EvalRow>> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the dataset {}", file.display()))?;
    let mut rows = Vec::new();
    for (index, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let value: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not valid JSON", file.display(), index + 1))?;
        let field = |names: [&str; 2]| {
            names
                .iter()
                .find_map(|n| value.get(*n).and_then(|v| v.as_str()))
                .map(str::to_owned)
        };
        let (Some(request), Some(reference)) =
            (field(["request", "nl"]), field(["command", "cmd"]))
        else {
            anyhow::bail!(
                "{}:{}: expected \"request\" (or \"nl\") and \"command\" (or \"cmd\") strings",
                file.display(),
                index + 1
            );
        };
        rows.push(EvalRow { request, reference });
    }
    Ok(rows)
}

/// `n` rows picked by a seeded shuffle (splitmix64 keys), in file order, so the same seed picks
/// the same rows everywhere.
fn sample_rows(rows: Vec<EvalRow>, n: usize, seed: u64) -> Vec<EvalRow> {
    let key = |i: usize| {
        let mut z = seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| key(i));
    order.truncate(n);
    order.sort_unstable();
    let mut picked: Vec<Option<EvalRow>> = rows.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| picked[i].take()).collect()
}

/// The sandbox, the fixture it copies and what the fixture looks like untouched.
struct Execution {
    sandbox: Sandbox,
    initial: Tree,
    /// The built-in fixture's directory, removed at the end.
    _fixture: Option<tempfile::TempDir>,
}

impl Execution {
    fn new(options: &ExecOptions) -> Result<Self> {
        let (path, owned) = match &options.fixture {
            Some(path) => {
                anyhow::ensure!(
                    path.is_dir(),
                    "--fixture {} is not a directory",
                    path.display()
                );
                (path.clone(), None)
            }
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("cmdai-fixture-")
                    .tempdir()
                    .context("cannot create the fixture directory")?;
                fixture::write_default(dir.path(), std::time::SystemTime::now())?;
                (dir.path().to_path_buf(), Some(dir))
            }
        };
        let sandbox = Sandbox::new(&path, options.timeout)?;
        Ok(Execution {
            initial: sandbox.initial_tree(),
            sandbox,
            _fixture: owned,
        })
    }

    /// Runs the reference and, when the reference does something observable, the generated
    /// command; critical commands are never run.
    fn compare(&self, reference: &str, generated: Option<&str>) -> Result<ExecVerdict> {
        if cmdai_core::safety::analyze(reference).level == RiskLevel::Critical {
            return Ok(ExecVerdict::NotRunnable(
                "the reference is critical; not run",
            ));
        }
        let expected = self.sandbox.run(reference)?;
        if expected.status != Status::Exited(0) {
            return Ok(ExecVerdict::NotRunnable(
                "the reference fails in the fixture",
            ));
        }
        if expected.stdout.iter().all(u8::is_ascii_whitespace) && expected.tree == self.initial {
            return Ok(ExecVerdict::NotRunnable(
                "the reference prints nothing and changes nothing in the fixture",
            ));
        }
        let Some(generated) = generated else {
            return Ok(ExecVerdict::Differs("no command"));
        };
        if cmdai_core::safety::analyze(generated).level == RiskLevel::Critical {
            return Ok(ExecVerdict::Differs(
                "the generated command is critical; not run",
            ));
        }
        let actual = self.sandbox.run(generated)?;
        Ok(if actual.same_effect(&expected) {
            ExecVerdict::Same
        } else {
            ExecVerdict::Differs(difference(&expected, &actual))
        })
    }
}

/// What running both commands showed.
enum ExecVerdict {
    /// The reference did nothing that can be compared here.
    NotRunnable(&'static str),
    Same,
    Differs(&'static str),
}

fn difference(expected: &Outcome, actual: &Outcome) -> &'static str {
    if actual.status == Status::TimedOut {
        "the generated command timed out"
    } else if actual.status != Status::Exited(0) {
        "the generated command failed"
    } else if actual.tree != expected.tree {
        "different files afterwards"
    } else {
        "different output"
    }
}

/// Runs the evaluation and prints the report.
pub fn run(settings: &Settings, options: &EvalOptions) -> Result<()> {
    let file = &options.file;
    let mut rows = read_rows(file)?;
    if let Some(n) = options.sample {
        rows = sample_rows(rows, n, options.seed);
    }
    // Set up the sandbox before loading the model, so a system without namespaces fails fast.
    let execution = options.exec.as_ref().map(Execution::new).transpose()?;

    let (mut generator, cancel) = load(settings)?;
    let context = context::detect(settings.shell.as_deref());
    let (mut parsed, mut exact, mut utility, mut flags) = (0usize, 0usize, 0usize, 0usize);
    let (mut runnable, mut same) = (0usize, 0usize);
    let mut latencies = Vec::with_capacity(rows.len());
    let mut results = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        let started = std::time::Instant::now();
        let generated =
            generator.generate_streaming(&row.request, &context, &mut NullSink, &cancel);
        latencies.push(started.elapsed());
        let (command, compared) = match generated {
            Ok(command) => {
                parsed += 1;
                let compared = cmdai_core::eval::compare(&row.reference, &command.command);
                (Some(command.command), compared)
            }
            Err(error) if cancel.is_cancelled() => return Err(error.into()),
            Err(_) => (None, cmdai_core::eval::Match::default()),
        };
        exact += usize::from(compared.exact);
        utility += usize::from(compared.utility);
        flags += usize::from(compared.flags);
        let verdict = execution
            .as_ref()
            .map(|e| e.compare(&row.reference, command.as_deref()))
            .transpose()?;
        let exec_json = verdict.as_ref().map(|verdict| match verdict {
            ExecVerdict::NotRunnable(why) => json!({ "runnable": false, "note": why }),
            ExecVerdict::Same => {
                runnable += 1;
                same += 1;
                json!({ "runnable": true, "same": true })
            }
            ExecVerdict::Differs(why) => {
                runnable += 1;
                json!({ "runnable": true, "same": false, "note": why })
            }
        });
        if settings.verbose > 0 {
            let label = if compared.exact {
                "exact"
            } else if compared.flags {
                "flags"
            } else if compared.utility {
                "utility"
            } else {
                "miss"
            };
            let executed = match &verdict {
                None | Some(ExecVerdict::NotRunnable(_)) => "",
                Some(ExecVerdict::Same) => " [exec: same]",
                Some(ExecVerdict::Differs(_)) => " [exec: differs]",
            };
            eprintln!(
                "eval: {}/{} {label}{executed} {:?} -> {:?} (reference {:?})",
                index + 1,
                rows.len(),
                row.request,
                command.as_deref().unwrap_or("<no command>"),
                row.reference
            );
        }
        let mut result = json!({
            "request": row.request,
            "reference": row.reference,
            "command": command,
            "match": compared,
            "ms": ms(latencies[index]),
        });
        if let Some(exec_json) = exec_json {
            result["exec"] = exec_json;
        }
        results.push(result);
    }
    latencies.sort();
    let percentile = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let at = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        ms(latencies[at])
    };
    let rate_of =
        |n: usize, total: usize| (n as f64 / total.max(1) as f64 * 1000.0).round() / 1000.0;
    let rate = |n: usize| rate_of(n, rows.len());
    let info = generator.backend().info();
    let mut summary = json!({
        "dataset": file.display().to_string(),
        "rows": rows.len(),
        "sample_seed": options.sample.map(|_| options.seed),
        "model": info.model,
        "backend": info.backend,
        "device": info.device,
        "prompt_version": CommandPrompt::default().version(),
        "parse_rate": rate(parsed),
        "exact_match": rate(exact),
        "utility_match": rate(utility),
        "utility_and_flags_match": rate(flags),
        "latency_ms": { "p50": percentile(0.5), "p90": percentile(0.9), "p99": percentile(0.99) },
    });
    if execution.is_some() {
        summary["exec_rows"] = json!(runnable);
        summary["exec_match"] = json!(rate_of(same, runnable));
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match settings.output {
        OutputFormat::Json => {
            summary["results"] = serde_json::Value::Array(results);
            writeln!(out, "{summary}")?;
        }
        OutputFormat::Text => {
            writeln!(
                out,
                "dataset        {} ({} rows)",
                file.display(),
                rows.len()
            )?;
            writeln!(
                out,
                "model          {} ({} on {}), prompt {}",
                info.model,
                info.backend,
                info.device,
                summary["prompt_version"].as_str().unwrap_or("")
            )?;
            for (label, key) in [
                ("parse rate", "parse_rate"),
                ("exact match", "exact_match"),
                ("utility", "utility_match"),
                ("utility+flags", "utility_and_flags_match"),
            ] {
                writeln!(
                    out,
                    "{label:<14} {:.3}",
                    summary[key].as_f64().unwrap_or(0.0)
                )?;
            }
            if execution.is_some() {
                writeln!(
                    out,
                    "execution      {:.3} of {runnable} rows whose reference does something in the fixture",
                    rate_of(same, runnable)
                )?;
            }
            writeln!(
                out,
                "latency        p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms",
                percentile(0.5),
                percentile(0.9),
                percentile(0.99)
            )?;
        }
    }
    Ok(())
}
