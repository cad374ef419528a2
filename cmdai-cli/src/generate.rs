//! Generating commands: one request from the command line, or JSON lines in batch mode.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, Result};
use cmdai_core::{
    CancelToken, CommandPrompt, Exchange, GeneratedCommand, Generator, InferenceBackend, NullSink,
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
pub(crate) fn load(settings: &Settings) -> Result<(CommandGenerator, CancelToken)> {
    let fetcher = models::fetcher(settings.offline)?;
    let cancel = interrupt::install(fetcher.cancel_flag());
    let backend = Backend::open(settings, fetcher)?;
    let generator =
        Generator::new(backend, CommandPrompt::default()).with_params(settings.params.clone());
    Ok((crate::trial::attach(generator, settings), cancel))
}

/// `cmdai <REQUEST>`: generate, analyse, show; at a terminal, offer the review menu; with -x,
/// run after confirmation. Returns the exit status.
pub fn one(settings: &Settings, request: &str) -> Result<u8> {
    let (generator, cancel) = load(settings)?;
    // Left for the operating system to reclaim when the process exits: unmapping the weights
    // and freeing the vocabulary piece by piece took 60 ms after the command was printed
    // (default model), for nothing.
    let mut generator = std::mem::ManuallyDrop::new(generator);
    let context = context::detect(settings.shell.as_deref());
    let context = context::with_files_here(&context, request, settings.look_at_files);
    if let Some(n) = settings.alternatives {
        return alternatives(settings, &mut generator, request, n, &context, &cancel);
    }
    let mut view = GenerationView::new(settings.stream);
    let generated = generator.generate_streaming(request, &context, &mut view, &cancel);
    view.finish();
    present(
        settings,
        &mut generator,
        &context,
        request,
        generated?,
        &cancel,
    )
}

/// What follows a generation: the explanation if asked for, then the review menu at a
/// terminal, or the command printed (and run with -x). `request` is what the command answers,
/// for revisions in the menu. Returns the exit status.
pub(crate) fn present(
    settings: &Settings,
    generator: &mut CommandGenerator,
    context: &cmdai_core::ShellContext,
    request: &str,
    mut command: GeneratedCommand,
    cancel: &CancelToken,
) -> Result<u8> {
    if settings.explain {
        command.explanation = explain(generator, &command.command, settings, context, cancel)?;
    }
    if settings.output == OutputFormat::Text
        && settings.safety.run == RunMode::Show
        && interactive::at_terminal()
    {
        interrupt::exit_on_interrupt();
        report_timings(settings, &command, generator.backend());
        let mut review = Review::new(settings, generator, context)?;
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
    // What the second look did not mend (the model was asked once more, and its second answer
    // had a flaw too or could not be read): said, not hidden.
    let flaw = &command.flaw;
    let load_time = generator.backend().load_time();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match settings.output {
        OutputFormat::Json => {
            let mut value = to_json(&command, generator.backend(), load_time);
            value["risk"] = safety::risk_json(&analysis);
            value["flaw"] = json!(flaw.as_ref().map(ToString::to_string));
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
        if let Some(flaw) = &flaw {
            eprintln!("note: this command looks wrong: {flaw}");
        }
    }
    report_timings(settings, &command, generator.backend());
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
                let mut value = to_json(candidate, generator.backend(), load_time);
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
fn report_timings(settings: &Settings, command: &GeneratedCommand, backend: &Backend) {
    if settings.verbose == 0 {
        return;
    }
    let load_time = backend.load_time();
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
    if let Some((drafted, confirmed, drafting)) = backend.drafted()
        && drafted > 0
    {
        eprintln!(
            "cmdai: speculative decoding (--draft {}): {confirmed} of {drafted} drafted tokens confirmed; drafting took {:.0} ms of the decode",
            settings.draft,
            ms(drafting)
        );
    }
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
                let context = context::with_files_here(&context, &request, settings.look_at_files);
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

/// A generated command (or an alternative, with its votes) as JSON output shows it: its own
/// fields, the backend and device, and the load time among the timings.
fn to_json(
    command: &impl serde::Serialize,
    backend: &Backend,
    load_time: Duration,
) -> serde_json::Value {
    let info = backend.info();
    let mut value = serde_json::to_value(command).expect("a generated command serializes");
    value["backend"] = json!(info.backend);
    value["device"] = json!(info.device);
    value["timings"]["load_ms"] = json!(ms(load_time));
    value
}

pub(crate) fn ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}
