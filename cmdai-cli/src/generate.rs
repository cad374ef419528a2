//! Generating commands: one request from the command line, or JSON lines in batch mode.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, Result};
use cmdai_core::{
    CancelToken, CommandPrompt, Exchange, GeneratedCommand, Generator, InferenceBackend, NullSink,
    PromptBuilder,
};
use serde_json::json;

use crate::backend::Backend;
use crate::cli::OutputFormat;
use crate::context;
use crate::interactive::{self, Outcome, Review};
use crate::interrupt;
use crate::models;
use crate::progress::GenerationView;
use crate::safety;
use crate::settings::{RunMode, Settings};

pub type CommandGenerator = Generator<Backend, CommandPrompt>;

/// Opens the backend the settings ask for. Returns the generator and the token that Ctrl-C
/// cancels (a download in progress stops too).
fn load(settings: &Settings) -> Result<(CommandGenerator, CancelToken)> {
    let fetcher = models::fetcher(settings.offline)?;
    let cancel = interrupt::install(fetcher.cancel_flag());
    let backend = Backend::open(settings, fetcher)?;
    let generator =
        Generator::new(backend, CommandPrompt::default()).with_params(settings.params.clone());
    Ok((generator, cancel))
}

/// `cmdai <REQUEST>`: generate, analyse, show; at a terminal, offer the review menu; with -x,
/// run after confirmation. Returns the exit status.
pub fn one(settings: &Settings, request: &str) -> Result<u8> {
    let (mut generator, cancel) = load(settings)?;
    let context = context::detect(settings.shell.as_deref());
    if let Some(n) = settings.alternatives {
        return alternatives(settings, &mut generator, request, n, &context, &cancel);
    }
    let mut view = GenerationView::new(settings.stream);
    let generated = generator.generate_streaming(request, &context, &mut view, &cancel);
    view.finish();
    let mut command = generated?;
    if settings.explain {
        command.explanation = explain(
            &mut generator,
            &command.command,
            settings,
            &context,
            &cancel,
        )?;
    }
    if settings.output == OutputFormat::Text
        && settings.safety.run == RunMode::Show
        && interactive::at_terminal()
    {
        interrupt::exit_on_interrupt();
        report_timings(settings, &command, generator.backend().load_time());
        let mut review = Review::new(settings, &mut generator, &context)?;
        if let Some(text) = &command.explanation {
            review.explained(&command.command, text);
        }
        let history = vec![Exchange::new(request, command.command)];
        return Ok(match review.review(history)? {
            Outcome::Ran(status) => status,
            Outcome::Done => 0,
            Outcome::Interrupted => crate::exit::INTERRUPTED,
        });
    }
    let analysis = safety::analyzer(settings).analyze(&command.command);
    let load_time = generator.backend().load_time();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match settings.output {
        OutputFormat::Json => {
            let mut value = to_json(&command, generator.backend(), load_time);
            value["risk"] = safety::risk_json(&analysis);
            writeln!(out, "{value}")?
        }
        OutputFormat::Text if stdout.is_terminal() => {
            writeln!(out, "{}", interactive::highlighted(&command.command))?;
            // An explanation asked for with --explain was already shown as it was written.
            if let (Some(explanation), false) = (&command.explanation, settings.explain) {
                writeln!(out, "  {explanation}")?;
            }
        }
        // Piped: the command alone, so `$(cmdai ...)` works.
        OutputFormat::Text => writeln!(out, "{}", command.command)?,
    }
    out.flush()?;
    drop(out);
    if settings.output == OutputFormat::Text {
        safety::write_report(
            &mut std::io::stderr(),
            &command.command,
            &analysis,
            settings.verbose,
        )?;
    }
    report_timings(settings, &command, load_time);
    safety::execute(settings, &command.command, &analysis)
}

/// `--alternatives N`: several distinct commands, best first, each with its risk. At a
/// terminal the user picks one for the review menu; otherwise they are printed (one per line,
/// or as `alternatives` in JSON) and nothing runs.
fn alternatives(
    settings: &Settings,
    generator: &mut CommandGenerator,
    request: &str,
    n: usize,
    context: &cmdai_core::ShellContext,
    cancel: &CancelToken,
) -> Result<u8> {
    let view = GenerationView::new(false);
    let found = generator.alternatives(request, context, n, cancel);
    view.finish();
    let found = found?;
    let analyzer = safety::analyzer(settings);
    let risks: Vec<_> = found
        .iter()
        .map(|c| analyzer.analyze(&c.generated.command))
        .collect();
    let stdout = std::io::stdout();
    if settings.output == OutputFormat::Json {
        let load_time = generator.backend().load_time();
        let items: Vec<serde_json::Value> = found
            .iter()
            .zip(&risks)
            .map(|(candidate, analysis)| {
                let mut value = to_json(&candidate.generated, generator.backend(), load_time);
                value["votes"] = json!(candidate.votes);
                value["risk"] = safety::risk_json(analysis);
                value
            })
            .collect();
        writeln!(stdout.lock(), "{}", json!({ "alternatives": items }))?;
        return Ok(0);
    }
    if !(interactive::at_terminal() && settings.safety.run == RunMode::Show) {
        let mut out = stdout.lock();
        for candidate in &found {
            writeln!(out, "{}", candidate.generated.command)?;
        }
        return Ok(0);
    }
    for (i, (candidate, analysis)) in found.iter().zip(&risks).enumerate() {
        println!(
            "{}. {}",
            i + 1,
            interactive::highlighted(&candidate.generated.command)
        );
        eprintln!("   risk: {}", analysis.level);
    }
    interrupt::exit_on_interrupt();
    let Some(pick) = interactive::pick(found.len())? else {
        return Ok(0);
    };
    let chosen = found[pick].generated.command.clone();
    let history = vec![Exchange::new(request, chosen)];
    Ok(
        match Review::new(settings, generator, context)?.review(history)? {
            Outcome::Ran(status) => status,
            Outcome::Done => 0,
            Outcome::Interrupted => crate::exit::INTERRUPTED,
        },
    )
}

/// `--explain`: asks the model what `command` does. In text output the explanation is shown on
/// stderr as it is written; in JSON it goes in `explanation`. A failed explanation is a warning:
/// the command itself is still good.
fn explain(
    generator: &mut CommandGenerator,
    command: &str,
    settings: &Settings,
    context: &cmdai_core::ShellContext,
    cancel: &CancelToken,
) -> Result<Option<String>> {
    let mut view = match settings.output {
        OutputFormat::Text => GenerationView::streaming(),
        OutputFormat::Json => GenerationView::Quiet,
    };
    let explained = generator.explain_streaming(command, context, &mut view, cancel);
    view.finish();
    match explained {
        Ok(text) => Ok(Some(text)),
        Err(error) if cancel.is_cancelled() => Err(error.into()),
        Err(error) => {
            eprintln!("cmdai: no explanation: {error}");
            Ok(None)
        }
    }
}

/// `cmdai -i`: a session at a terminal; the model stays loaded between requests.
pub fn session(settings: &Settings, first: Option<&str>) -> Result<u8> {
    if !interactive::at_terminal() {
        anyhow::bail!(
            "-i/--interactive needs a terminal on stdin, stdout and stderr; for requests from a \
             file or a pipe use `cmdai batch`"
        );
    }
    let (mut generator, _cancel) = load(settings)?;
    let context = context::detect(settings.shell.as_deref());
    Review::new(settings, &mut generator, &context)?.session(first)
}

/// With -v: where the time of a generation went.
fn report_timings(settings: &Settings, command: &GeneratedCommand, load_time: Duration) {
    if settings.verbose == 0 {
        return;
    }
    let t = command.timings;
    eprintln!(
        "cmdai: {} prompt tokens ({} from the prompt cache) in {:.0} ms, {} tokens generated in {:.0} ms; total {:.0} ms",
        command.prompt_tokens,
        command.cached_prompt_tokens,
        ms(t.prefill),
        command.generated_tokens,
        ms(t.decode),
        ms(t.total + load_time)
    );
}

/// `cmdai batch`: JSON lines in, JSON lines out, one model load.
pub fn batch(settings: &Settings) -> Result<()> {
    let (mut generator, cancel) = load(settings)?;
    let context = context::detect(settings.shell.as_deref());
    let analyzer = safety::analyzer(settings);
    let load_time = generator.backend().load_time();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    // Lines are read as bytes so that one line of invalid UTF-8 is reported on its own
    // instead of ending the whole batch.
    for (index, line) in std::io::stdin().lock().split(b'\n').enumerate() {
        let line = line.context("cannot read stdin")?;
        let Some(parsed) = parse_batch_line(&line) else {
            continue;
        };
        let record = match parsed {
            Ok((id, request)) => {
                match generator.generate_streaming(&request, &context, &mut NullSink, &cancel) {
                    Ok(command) => {
                        let mut value = to_json(&command, generator.backend(), load_time);
                        value["id"] = id;
                        value["risk"] = safety::risk_json(&analyzer.analyze(&command.command));
                        value
                    }
                    Err(error) if cancel.is_cancelled() => return Err(error.into()),
                    Err(error) => json!({ "id": id, "error": error.to_string() }),
                }
            }
            Err(error) => json!({ "id": null, "error": format!("line {}: {error}", index + 1) }),
        };
        writeln!(out, "{record}")?;
        out.flush()?;
    }
    Ok(())
}

/// One dataset row.
struct EvalRow {
    request: String,
    reference: String,
}

/// `cmdai eval FILE`: generate for every row (or a seeded sample) with one model load, compare
/// with the reference, and report quality and latency.
pub fn eval(
    settings: &Settings,
    file: &std::path::Path,
    sample: Option<usize>,
    seed: u64,
) -> Result<()> {
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
    if let Some(n) = sample {
        // A seeded shuffle (splitmix64 keys), so the same seed picks the same rows everywhere.
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
        rows = order.into_iter().filter_map(|i| picked[i].take()).collect();
    }

    let (mut generator, cancel) = load(settings)?;
    let context = context::detect(settings.shell.as_deref());
    let (mut parsed, mut exact, mut utility, mut flags) = (0usize, 0usize, 0usize, 0usize);
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
        if settings.verbose > 0 {
            eprintln!(
                "eval: {}/{} {} {:?} -> {:?} (reference {:?})",
                index + 1,
                rows.len(),
                if compared.exact {
                    "exact"
                } else if compared.flags {
                    "flags"
                } else if compared.utility {
                    "utility"
                } else {
                    "miss"
                },
                row.request,
                command.as_deref().unwrap_or("<no command>"),
                row.reference
            );
        }
        results.push(json!({
            "request": row.request,
            "reference": row.reference,
            "command": command,
            "match": compared,
            "ms": ms(latencies[index]),
        }));
    }
    latencies.sort();
    let percentile = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let at = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        ms(latencies[at])
    };
    let total = rows.len().max(1) as f64;
    let rate = |n: usize| (n as f64 / total * 1000.0).round() / 1000.0;
    let info = generator.backend().info();
    let summary = json!({
        "dataset": file.display().to_string(),
        "rows": rows.len(),
        "sample_seed": sample.map(|_| seed),
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
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match settings.output {
        OutputFormat::Json => {
            let mut value = summary;
            value["results"] = serde_json::Value::Array(results);
            writeln!(out, "{value}")?;
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

/// `{"id": ..., "request": "..."}` into its id (any JSON value) and request; `None` for a
/// blank line.
fn parse_batch_line(line: &[u8]) -> Option<Result<(serde_json::Value, String), String>> {
    let line = match std::str::from_utf8(line) {
        Ok(line) if line.trim().is_empty() => return None,
        Ok(line) => line,
        Err(_) => return Some(Err("not valid UTF-8".to_owned())),
    };
    Some(parse_batch_json(line))
}

fn parse_batch_json(line: &str) -> Result<(serde_json::Value, String), String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("not valid JSON: {e}"))?;
    let id = value.get("id").cloned().unwrap_or(serde_json::Value::Null);
    let request = value
        .get("request")
        .and_then(|r| r.as_str())
        .ok_or_else(|| "expected an object with a string field \"request\"".to_owned())?;
    Ok((id, request.to_owned()))
}

fn to_json(
    command: &GeneratedCommand,
    backend: &Backend,
    load_time: Duration,
) -> serde_json::Value {
    let info = backend.info();
    json!({
        "command": command.command,
        "explanation": command.explanation,
        "model": command.model,
        "backend": info.backend,
        "device": info.device,
        "prompt_tokens": command.prompt_tokens,
        "cached_prompt_tokens": command.cached_prompt_tokens,
        "generated_tokens": command.generated_tokens,
        "timings": {
            "load_ms": ms(load_time),
            "prefill_ms": ms(command.timings.prefill),
            "decode_ms": ms(command.timings.decode),
            "total_ms": ms(command.timings.total),
        },
    })
}

fn ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}
