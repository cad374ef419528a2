//! Generating commands: one request from the command line, or JSON lines in batch mode.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, Result};
use cmdai_core::{
    CancelToken, CommandPrompt, GeneratedCommand, Generator, InferenceBackend, NullSink,
};
use serde_json::json;

use crate::backend::Backend;
use crate::cli::OutputFormat;
use crate::context;
use crate::interrupt;
use crate::models;
use crate::progress::GenerationView;
use crate::safety;
use crate::settings::Settings;

type CommandGenerator = Generator<Backend, CommandPrompt>;

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

/// `cmdai <REQUEST>`: generate, analyse, show; with -x, run after confirmation. Returns the
/// exit status.
pub fn one(settings: &Settings, request: &str) -> Result<u8> {
    let (mut generator, cancel) = load(settings)?;
    let context = context::detect(settings.shell.as_deref());
    let mut view = GenerationView::new(settings.stream);
    let generated = generator.generate_streaming(request, &context, &mut view, &cancel);
    view.finish();
    let command = generated?;
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
            writeln!(out, "{}", command.command)?;
            if let Some(explanation) = &command.explanation {
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
    if settings.verbose > 0 {
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
    safety::execute(settings, &command.command, &analysis)
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
