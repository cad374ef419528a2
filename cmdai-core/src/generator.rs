//! The generator: backend + prompt + response parsing = a command.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::asked::unheeded;
use crate::flaw::{
    Flaw, Trial, answered, csv_separated, digits_bracketed, find_patterns_quoted, flaw,
    listing_sorted_by_size, names_listed, path_under_start, perm_prefixed, sizes_in_smaller_units,
};
use crate::mend::{into_folder, mend_failure};
use crate::output::table_column;
use crate::{
    BackendError, CancelToken, Conversation, Exchange, FixRequest, GenerateError, GenerationOutput,
    GenerationParams, InferenceBackend, NullSink, ParseError, PromptBuilder, Restart, ShellContext,
    StopReason, TokenSink, parse_response,
};

/// Where the time of one generation went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Timings {
    /// Processing the prompt.
    #[serde(rename = "prefill_ms", serialize_with = "as_millis")]
    pub prefill: Duration,
    /// Generating the reply.
    #[serde(rename = "decode_ms", serialize_with = "as_millis")]
    pub decode: Duration,
    /// The whole request, prompt building and parsing included.
    #[serde(rename = "total_ms", serialize_with = "as_millis")]
    pub total: Duration,
}

/// Milliseconds, to a tenth.
fn as_millis<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64((duration.as_secs_f64() * 10_000.0).round() / 10.0)
}

/// A command generated for a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GeneratedCommand {
    /// The shell command.
    pub command: String,
    /// What the command does, when the model said.
    pub explanation: Option<String>,
    /// The model that produced it.
    pub model: String,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Of those, how many came from the backend's prompt cache instead of being prefilled.
    pub cached_prompt_tokens: usize,
    /// Tokens generated.
    pub generated_tokens: usize,
    /// Where the time went.
    pub timings: Timings,
    /// What is still wrong with the command, when the generator found something it could not
    /// have mended (the model was asked once more and its second answer was no better).
    #[serde(skip)]
    pub flaw: Option<Flaw>,
}

/// Turns requests into commands with one backend and one prompt.
#[derive(Debug)]
pub struct Generator<B, P> {
    backend: B,
    prompt: P,
    params: GenerationParams,
    trial: Option<Box<dyn Trial + Send + Sync>>,
}

impl<B: InferenceBackend, P: PromptBuilder> Generator<B, P> {
    /// A generator with default (greedy) generation parameters.
    pub fn new(backend: B, prompt: P) -> Self {
        Generator {
            backend,
            prompt,
            params: GenerationParams::default(),
            trial: None,
        }
        .with_params(GenerationParams::default())
    }

    /// Replaces the generation parameters. Without a reply format of their own, they get the
    /// prompt's.
    pub fn with_params(mut self, mut params: GenerationParams) -> Self {
        if params.reply_format.is_none() {
            params.reply_format = self.prompt.reply_format();
        }
        self.params = params;
        self
    }

    /// Tries each new command with `trial` before it is returned: a command that fails there is
    /// asked for once more, like one with a [`Flaw`] that shows without running it.
    pub fn with_trial(mut self, trial: impl Trial + Send + Sync + 'static) -> Self {
        self.trial = Some(Box::new(trial));
        self
    }

    /// What is wrong with `command`, written for `request`: an answer in place of a command,
    /// a [`Flaw`] that shows without running it, else its failure in the trial, else something the request asks for in so
    /// many words that it leaves out. A failure comes first: it says more about what to write
    /// instead (`gzip -d *.gz` with no such files is wrong before it deletes them).
    fn finding(&self, request: &str, command: &str, context: &ShellContext) -> Option<Flaw> {
        answered(request, command, context)
            .or_else(|| flaw(command, context))
            .or_else(|| self.trial.as_ref()?.finding(request, command, context))
            .or_else(|| {
                let (asked, why) = unheeded(request, command)?;
                Some(Flaw::Unheeded { asked, why })
            })
    }

    /// `command` changed as little as it takes to do what `flaw` says it leaves out of
    /// `request` ([`Asked::repair`](crate::Asked::repair),
    /// [`OutputForm::repair`](crate::OutputForm::repair)) or to mend a failure of a known kind
    /// (`mend.rs`: unsorted input to `comm`, a name written without its spaces), and again
    /// while the change leaves something else out or fails that way, if that ends in a command
    /// with no finding at all (the trial included).
    fn repaired(
        &self,
        request: &str,
        command: &str,
        flaw: &Flaw,
        context: &ShellContext,
    ) -> Option<String> {
        let mut command = command.to_owned();
        let mut flaw = flaw.clone();
        // Each kind is repaired at most once, and a command leaves out few.
        for _ in 0..8 {
            command = match &flaw {
                Flaw::Unheeded { asked, .. } => asked.repair(&command)?,
                Flaw::Output { asked, printed } => table_column(request, &command, printed)
                    .or_else(|| asked.repair(&command, printed))?,
                Flaw::Failed { message } => mend_failure(request, &command, message, context)?,
                Flaw::OneFile { destination, .. } => into_folder(&command, destination)?,
                Flaw::DigitClass { .. } => digits_bracketed(&command)?,
                Flaw::LongListingNames => names_listed(&command)?,
                Flaw::LongListingSorted => listing_sorted_by_size(&command)?,
                Flaw::CsvFields { .. } => csv_separated(&command)?,
                // Each mends one kind of test, and is `None` where there is none.
                Flaw::FindTest { .. } => find_patterns_quoted(&command)
                    .or_else(|| perm_prefixed(&command, context))
                    .or_else(|| path_under_start(&command))
                    .or_else(|| sizes_in_smaller_units(&command))?,
                _ => return None,
            };
            match self.finding(request, &command, context) {
                None => return Some(command),
                Some(next) => flaw = next,
            }
        }
        None
    }

    /// The backend, e.g. to ask for its [`ModelInfo`](crate::ModelInfo).
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The backend, to change how it runs between requests.
    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.backend
    }

    /// Generates a command for `request`, without streaming.
    pub fn generate(
        &mut self,
        request: &str,
        context: &ShellContext,
    ) -> Result<GeneratedCommand, GenerateError> {
        self.generate_streaming(request, context, &mut NullSink, &CancelToken::new())
    }

    /// Generates a command for `request`, passing the model's raw reply to `sink` as it is
    /// produced and stopping early when `cancel` is cancelled.
    pub fn generate_streaming(
        &mut self,
        request: &str,
        context: &ShellContext,
        sink: &mut dyn TokenSink,
        cancel: &CancelToken,
    ) -> Result<GeneratedCommand, GenerateError> {
        let started = Instant::now();
        let request = non_empty(request)?;
        let conversation = self.prompt.build(request, context);
        let first = self.command(&conversation, &self.params.clone(), sink, cancel, started)?;
        match self.finding(request, &first.command, context) {
            None => Ok(first),
            Some(flaw) => self.second_look(request, context, first, flaw, sink, cancel, started),
        }
    }

    /// Asks again for a command with a [`Flaw`], in three ways until one gives an answer
    /// without a flaw: the request restated with the command to avoid and its flaw, then the
    /// first answer shown as the model's own with a follow-up that names the flaw, then two
    /// samples of the restated request (temperature 0.7). A small model
    /// shown its own answer tends to give it again, whatever the follow-up says; told what not
    /// to write, it tends to write something else (docs/QUALITY.md). An answer replaces the
    /// first only when it has no flaw; otherwise the first is returned with its flaw. Either
    /// way the time of every answer counts, within the time limit.
    #[allow(clippy::too_many_arguments)]
    fn second_look(
        &mut self,
        request: &str,
        context: &ShellContext,
        first: GeneratedCommand,
        flaw: Flaw,
        sink: &mut dyn TokenSink,
        cancel: &CancelToken,
        started: Instant,
    ) -> Result<GeneratedCommand, GenerateError> {
        if let Some(command) = self.repaired(request, &first.command, &flaw, context) {
            sink.restart(&Restart::Repaired {
                flaw,
                command: command.clone(),
            });
            let spent = (first.generated_tokens, first.timings);
            return Ok(with_spent(
                GeneratedCommand { command, ..first },
                spent,
                started,
            ));
        }
        let restated = format!("{request} (not `{}`: {flaw})", first.command);
        let follow_up =
            format!("That command is wrong: {flaw}. Write the whole command again, corrected.");
        let earlier = [Exchange::new(request, first.command.clone())];
        let restated = self.prompt.build(&restated, context);
        let revision = self.prompt.build_revision(&earlier, &follow_up, context);
        let mut last_flaw = flaw.clone();
        let mut spent = (first.generated_tokens, first.timings);
        // An answer that runs but leaves out a word of the request beats a first answer that
        // fails or cannot run, and any command beats an answer in place of one (`0755`): the
        // first such, if the first answer's flaw is of that kind.
        let mut runs = None;
        let unheeded = |flaw: &Flaw| matches!(flaw, Flaw::Unheeded { .. });
        let answer = |flaw: &Flaw| matches!(flaw, Flaw::Answer { .. });
        let first_runs = unheeded(&flaw);
        let first_answers = answer(&flaw);
        let better =
            |later: &Flaw| (unheeded(later) && !first_runs) || (first_answers && !answer(later));
        // Greedy twice, then samples of the restated request: a small model that gave the
        // same flawed answer twice greedily often has a better one a little further down.
        let samples = (1..=SECOND_LOOK_SAMPLES).map(|sample| (&restated, Some(sample)));
        let attempts = [(&restated, None), (&revision, None)]
            .into_iter()
            .chain(samples);
        for (conversation, sample) in attempts {
            let Some(time_limit) = remaining(self.params.time_limit, started) else {
                break;
            };
            sink.restart(&Restart::Flaw(last_flaw.clone()));
            let mut params = GenerationParams {
                keep_prompt_prefix: false,
                time_limit,
                ..self.params.clone()
            };
            if let Some(sample) = sample {
                params.temperature = params.temperature.max(RETRY_TEMPERATURE);
                params.seed = params.seed.wrapping_add(sample);
            }
            let answer = match self.command(conversation, &params, sink, cancel, started) {
                Ok(answer) => answer,
                Err(GenerateError::Parse { .. }) => continue,
                Err(error) => return Err(error),
            };
            add_spent(&mut spent, &answer);
            match self.finding(request, &answer.command, context) {
                None => return Ok(with_spent(answer, spent, started)),
                Some(flaw) => match self.repaired(request, &answer.command, &flaw, context) {
                    Some(command) => {
                        sink.restart(&Restart::Repaired {
                            flaw,
                            command: command.clone(),
                        });
                        let answer = GeneratedCommand { command, ..answer };
                        return Ok(with_spent(answer, spent, started));
                    }
                    None => {
                        if runs.is_none() && better(&flaw) {
                            runs = Some(GeneratedCommand {
                                flaw: Some(flaw.clone()),
                                ..answer
                            });
                        }
                        last_flaw = flaw;
                    }
                },
            }
        }
        let kept = runs.unwrap_or(GeneratedCommand {
            flaw: Some(flaw),
            ..first
        });
        Ok(with_spent(kept, spent, started))
    }

    /// Generates a changed command: `request` is a follow-up ("only .txt files") to the
    /// `earlier` exchanges, oldest first, whose last command it changes. With no earlier
    /// exchange this is [`generate_streaming`](Self::generate_streaming).
    pub fn revise_streaming(
        &mut self,
        earlier: &[Exchange],
        request: &str,
        context: &ShellContext,
        sink: &mut dyn TokenSink,
        cancel: &CancelToken,
    ) -> Result<GeneratedCommand, GenerateError> {
        let started = Instant::now();
        let request = non_empty(request)?;
        let conversation = self.prompt.build_revision(earlier, request, context);
        let params = GenerationParams {
            keep_prompt_prefix: earlier.is_empty() && self.params.keep_prompt_prefix,
            ..self.params.clone()
        };
        let revised = self.command(&conversation, &params, sink, cancel, started)?;
        Ok(with_static_flaw(revised, context))
    }

    /// Generates a fixed or changed version of a command that already ran (`cmdai fix`).
    pub fn fix_streaming(
        &mut self,
        fix: &FixRequest,
        context: &ShellContext,
        sink: &mut dyn TokenSink,
        cancel: &CancelToken,
    ) -> Result<GeneratedCommand, GenerateError> {
        let started = Instant::now();
        non_empty(&fix.command)?;
        let conversation = self.prompt.build_fix(fix, context);
        let mut fixed = self.command(&conversation, &self.params.clone(), sink, cancel, started)?;
        // The failed command again is no fix (a small model given a command tends to copy it):
        // asked once more, told not to, and sampled: told, greedy decoding gave it again.
        let failed = fix.status != Some(0);
        if failed
            && same_words(&fixed.command, &fix.command)
            && let Some(time_limit) = remaining(self.params.time_limit, started)
        {
            sink.restart(&Restart::Unchanged);
            let warned = format!(
                "Not `{}` again: that is the command that failed.",
                fix.command.trim()
            );
            let hint = match &fix.hint {
                Some(hint) if !hint.trim().is_empty() => format!("{} {warned}", hint.trim()),
                _ => warned,
            };
            let again = FixRequest {
                hint: Some(hint),
                ..fix.clone()
            };
            let conversation = self.prompt.build_fix(&again, context);
            let params = GenerationParams {
                keep_prompt_prefix: false,
                time_limit,
                temperature: self.params.temperature.max(RETRY_TEMPERATURE),
                ..self.params.clone()
            };
            let mut spent = (fixed.generated_tokens, fixed.timings);
            match self.command(&conversation, &params, sink, cancel, started) {
                Ok(answer) => {
                    add_spent(&mut spent, &answer);
                    if !same_words(&answer.command, &fix.command) {
                        fixed = answer;
                    }
                }
                Err(GenerateError::Parse { .. }) => {}
                Err(error) => return Err(error),
            }
            fixed = with_spent(fixed, spent, started);
        }
        Ok(with_static_flaw(fixed, context))
    }

    /// Asks the model what `command` does, in a few sentences of plain text, streamed to
    /// `sink`.
    pub fn explain_streaming(
        &mut self,
        command: &str,
        context: &ShellContext,
        sink: &mut dyn TokenSink,
        cancel: &CancelToken,
    ) -> Result<String, GenerateError> {
        let command = non_empty(command)?;
        let conversation = self.prompt.build_explanation(command, context);
        let params = GenerationParams {
            reply_format: None,
            ..self.params.clone()
        };
        let output = self
            .backend
            .generate(&conversation, &params, sink, cancel)?;
        let text = output.text.trim();
        if text.is_empty() {
            return Err(GenerateError::Parse {
                reason: ParseError::Empty,
                stopped: output.stop_reason,
            });
        }
        Ok(text.to_owned())
    }

    /// Runs `conversation` and reads a command out of the reply.
    fn command(
        &mut self,
        conversation: &Conversation,
        params: &GenerationParams,
        sink: &mut dyn TokenSink,
        cancel: &CancelToken,
        started: Instant,
    ) -> Result<GeneratedCommand, GenerateError> {
        let mut output = self.reply(conversation, params, sink, cancel)?;
        let (mut prefill, mut decode, mut generated_tokens) =
            (output.prefill, output.decode, output.generated_tokens);
        let mut parsed = parse_response(&output.text);
        // A greedy reply that runs out of tokens, or is cut short repeating itself, is the
        // model stuck listing without end (`find . -perm -o -2 -o -7 -o -4 ...`, `findmnt -o
        // NAME,UUID,...,USE_FILESYSTEM_US`): 10 of the 500 development rows (docs/QUALITY.md).
        // Greedy decoding would only repeat it; a sampled retry usually gets out of the rut (9
        // of those 10 on the first retry).
        for attempt in 1..=RETRIES {
            if parsed.is_ok()
                || output.stop_reason != StopReason::Length
                || params.temperature != 0.0
            {
                break;
            }
            let Some(time_limit) = remaining(params.time_limit, started) else {
                break;
            };
            sink.restart(&Restart::OutOfTokens);
            let retry = GenerationParams {
                temperature: RETRY_TEMPERATURE,
                seed: params.seed.wrapping_add(attempt),
                time_limit,
                ..params.clone()
            };
            output = self.reply(conversation, &retry, sink, cancel)?;
            prefill += output.prefill;
            decode += output.decode;
            generated_tokens += output.generated_tokens;
            parsed = parse_response(&output.text);
        }
        let parsed = parsed.map_err(|reason| GenerateError::Parse {
            reason,
            stopped: output.stop_reason,
        })?;
        Ok(GeneratedCommand {
            command: parsed.command,
            explanation: parsed.explanation,
            model: self.backend.info().model,
            prompt_tokens: output.prompt_tokens,
            cached_prompt_tokens: output.cached_prompt_tokens,
            generated_tokens,
            timings: Timings {
                prefill,
                decode,
                total: started.elapsed(),
            },
            flaw: None,
        })
    }

    /// The backend's reply to `conversation`, cut short when it starts repeating itself
    /// ([`LoopWatch`]) and then reported as one that ran out of tokens
    /// ([`StopReason::Length`]), without the cost of the rest of the loop.
    fn reply(
        &mut self,
        conversation: &Conversation,
        params: &GenerationParams,
        sink: &mut dyn TokenSink,
        cancel: &CancelToken,
    ) -> Result<GenerationOutput, BackendError> {
        let stop = cancel.child();
        let mut watch = LoopWatch {
            sink,
            stop: &stop,
            text: String::new(),
            pieces: 0,
            looped: false,
        };
        let started = Instant::now();
        match self
            .backend
            .generate(conversation, params, &mut watch, &stop)
        {
            Err(BackendError::Cancelled) if watch.looped && !cancel.is_cancelled() => {
                let mut output = GenerationOutput::from_text(watch.text);
                output.generated_tokens = watch.pieces;
                output.decode = started.elapsed();
                output.stop_reason = StopReason::Length;
                Ok(output)
            }
            result => result,
        }
    }
}

/// Passes a reply on to `sink` and stops it, through `stop`, once its end repeats itself: the
/// same piece of text ([`LOOP_UNIT`] characters or more, three different characters or more)
/// [`LOOP_REPEATS`] times in a row, as in `tree -L 1 --noreport --prune --filelimit 1
/// --noreport --prune --filelimit 1 ...`. Greedy decoding never leaves such a loop; without
/// this it runs on to `max_tokens` (256 tokens, about 14 s on two cores) before the sampled
/// retry. A command does not repeat a piece of eight characters four times.
struct LoopWatch<'a> {
    sink: &'a mut dyn TokenSink,
    stop: &'a CancelToken,
    text: String,
    pieces: usize,
    looped: bool,
}

/// The shortest repeated piece, in bytes, and the longest looked for.
const LOOP_UNIT: usize = 8;
const LOOP_UNIT_MAX: usize = 80;
/// How many times in a row a piece must repeat to be a loop.
const LOOP_REPEATS: usize = 4;

impl TokenSink for LoopWatch<'_> {
    fn token(&mut self, text: &str) {
        self.sink.token(text);
        self.text.push_str(text);
        self.pieces += 1;
        if !self.looped && repeats_at_end(&self.text) {
            self.looped = true;
            self.stop.cancel();
        }
    }

    fn restart(&mut self, why: &Restart) {
        self.sink.restart(why);
    }
}

/// Whether `text` ends with a piece of [`LOOP_UNIT`] to [`LOOP_UNIT_MAX`] bytes, of three
/// different characters or more, repeated [`LOOP_REPEATS`] times.
fn repeats_at_end(text: &str) -> bool {
    let bytes = text.as_bytes();
    (LOOP_UNIT..=LOOP_UNIT_MAX)
        .take_while(|unit| unit * LOOP_REPEATS <= bytes.len())
        .any(|unit| {
            let tail = &bytes[bytes.len() - unit * LOOP_REPEATS..];
            let piece = &tail[..unit];
            // Called for every token: the comparison, which fails at once, comes first.
            tail.chunks(unit).all(|chunk| chunk == piece) && {
                let mut distinct = piece.to_vec();
                distinct.sort_unstable();
                distinct.dedup();
                distinct.len() >= 3
            }
        })
}

/// `command` with the [`Flaw`] that shows without running it, if it has one: revisions and
/// fixes are the user's own follow-ups, so they are not asked for again, but what is wrong
/// with them is said.
fn with_static_flaw(command: GeneratedCommand, context: &ShellContext) -> GeneratedCommand {
    GeneratedCommand {
        flaw: flaw(&command.command, context),
        ..command
    }
}

/// Sampled retries of a greedy reply that ran out of tokens, and their temperature: enough to
/// leave a loop, the value the alternatives use too.
const RETRIES: u64 = 2;
const RETRY_TEMPERATURE: f32 = 0.7;

/// Samples of the restated request the second look draws after two greedy answers with a flaw.
const SECOND_LOOK_SAMPLES: u64 = 2;

/// Whether two commands are the same words (white space aside).
fn same_words(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

/// `spent` (tokens, timings) with the tokens and the prefill and decode time of `answer` added.
fn add_spent(spent: &mut (usize, Timings), answer: &GeneratedCommand) {
    spent.0 += answer.generated_tokens;
    spent.1.prefill += answer.timings.prefill;
    spent.1.decode += answer.timings.decode;
}

/// `command` with the tokens and time of all the answers it took (`spent`), since `started`.
fn with_spent(
    command: GeneratedCommand,
    (generated_tokens, timings): (usize, Timings),
    started: Instant,
) -> GeneratedCommand {
    GeneratedCommand {
        generated_tokens,
        timings: Timings {
            total: started.elapsed(),
            ..timings
        },
        ..command
    }
}

/// What is left of `time_limit` since `started`: `Some(None)` without a limit, `None` when
/// nothing is left.
fn remaining(time_limit: Option<Duration>, started: Instant) -> Option<Option<Duration>> {
    match time_limit {
        None => Some(None),
        Some(limit) => limit
            .checked_sub(started.elapsed())
            .filter(|left| !left.is_zero())
            .map(Some),
    }
}

/// One of several distinct commands for a request ([`Generator::alternatives`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// The command and how it was generated.
    #[serde(flatten)]
    pub generated: GeneratedCommand,
    /// How many of the samples came out as this command (after normalising whitespace).
    pub votes: usize,
}

impl<B: InferenceBackend, P: PromptBuilder> Generator<B, P> {
    /// Up to `n` distinct commands for `request`, best first: the greedy answer, then samples
    /// (temperature at least 0.7, a new seed each) until `n` distinct ones turned up or `2n`
    /// samples were drawn. Ranked by how many samples agreed on each (the greedy one counts
    /// once too), ties in the order they were found: agreement between samples is the cheapest
    /// estimate of which reading of the request the model is sure of. Replies that do not parse
    /// are skipped; if none parses, the first error is returned.
    pub fn alternatives(
        &mut self,
        request: &str,
        context: &ShellContext,
        n: usize,
        cancel: &CancelToken,
    ) -> Result<Vec<Candidate>, GenerateError> {
        let greedy = self.params.clone();
        let sampled = GenerationParams {
            temperature: greedy.temperature.max(RETRY_TEMPERATURE),
            top_p: if greedy.top_p >= 1.0 {
                GenerationParams::default().top_p
            } else {
                greedy.top_p
            },
            ..greedy.clone()
        };
        let request = non_empty(request)?;
        let conversation = self.prompt.build(request, context);
        let mut found: Vec<Candidate> = Vec::new();
        let mut first_error = None;
        for attempt in 0..=(2 * n.max(1)) {
            if found.len() >= n {
                break;
            }
            let started = Instant::now();
            let params = if attempt == 0 {
                greedy.clone()
            } else {
                GenerationParams {
                    seed: greedy.seed.wrapping_add(attempt as u64),
                    ..sampled.clone()
                }
            };
            match self.command(&conversation, &params, &mut NullSink, cancel, started) {
                Ok(generated) => {
                    let key = normalise(&generated.command);
                    match found
                        .iter_mut()
                        .find(|c| normalise(&c.generated.command) == key)
                    {
                        Some(candidate) => candidate.votes += 1,
                        None => found.push(Candidate {
                            generated,
                            votes: 1,
                        }),
                    }
                }
                Err(error @ GenerateError::Backend(_)) => return Err(error),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        if found.is_empty() {
            return Err(first_error.unwrap_or(GenerateError::EmptyRequest));
        }
        // A stable sort keeps the order of discovery among equal votes.
        found.sort_by_key(|c| std::cmp::Reverse(c.votes));
        found.truncate(n);
        Ok(found)
    }
}

/// A command with its whitespace runs collapsed, for telling candidates apart.
fn normalise(command: &str) -> String {
    command.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` trimmed, or the empty-request error.
fn non_empty(text: &str) -> Result<&str, GenerateError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(GenerateError::EmptyRequest);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BackendError, CommandPrompt, GenerationOutput, ModelInfo, Role, StopReason};

    /// Replies with a scripted text, streamed word by word, and records what it was asked.
    struct Scripted {
        reply: &'static str,
        stop_reason: StopReason,
        /// The reply from the second call on, when it differs.
        then: Option<(&'static str, StopReason)>,
        seen: Vec<Conversation>,
        params: Vec<GenerationParams>,
    }

    impl Scripted {
        fn new(reply: &'static str) -> Self {
            Scripted {
                reply,
                stop_reason: StopReason::EndOfGeneration,
                then: None,
                seen: Vec::new(),
                params: Vec::new(),
            }
        }
    }

    impl InferenceBackend for Scripted {
        fn info(&self) -> ModelInfo {
            ModelInfo::new("scripted", "test", "cpu", 128)
        }

        fn generate(
            &mut self,
            conversation: &Conversation,
            params: &GenerationParams,
            sink: &mut dyn TokenSink,
            cancel: &CancelToken,
        ) -> Result<GenerationOutput, BackendError> {
            let (reply, stop_reason) = match self.then {
                Some(then) if !self.seen.is_empty() => then,
                _ => (self.reply, self.stop_reason),
            };
            self.seen.push(conversation.clone());
            self.params.push(params.clone());
            for piece in reply.split_inclusive(' ') {
                if cancel.is_cancelled() {
                    return Err(BackendError::Cancelled);
                }
                sink.token(piece);
            }
            let mut output = GenerationOutput::from_text(reply);
            output.stop_reason = stop_reason;
            Ok(output)
        }
    }

    fn context() -> ShellContext {
        ShellContext::new("linux", "bash", "/tmp")
    }

    #[test]
    fn composes_prompt_backend_and_parser() {
        let mut generator = Generator::new(
            Scripted::new(r#"{"cmd": "ls -a"}"#),
            CommandPrompt::default(),
        );
        let mut streamed = String::new();
        let command = generator
            .generate_streaming(
                "list all files",
                &context(),
                &mut |t: &str| streamed.push_str(t),
                &CancelToken::new(),
            )
            .unwrap();
        assert_eq!(command.command, "ls -a");
        assert_eq!(command.model, "scripted");
        assert_eq!(streamed, r#"{"cmd": "ls -a"}"#);
        let asked = &generator.backend().seen[0].messages;
        assert_eq!(asked.last().unwrap().role, Role::User);
        assert!(asked.last().unwrap().content == "list all files");
    }

    /// Counts restarts and keeps only the text after the last one.
    #[derive(Default)]
    struct Restarts {
        text: String,
        restarts: usize,
    }

    impl TokenSink for Restarts {
        fn token(&mut self, text: &str) {
            self.text.push_str(text);
        }
        fn restart(&mut self, _why: &Restart) {
            self.text.clear();
            self.restarts += 1;
        }
    }

    #[test]
    fn a_greedy_reply_that_runs_out_of_tokens_is_retried_with_sampling() {
        let mut backend = Scripted::new(r#"{"cmd": "find . -perm -o -2 -o -7 -o -4 -o"#);
        backend.stop_reason = StopReason::Length;
        backend.then = Some((
            r#"{"cmd": "find . -type f -perm -go+w"}"#,
            StopReason::EndOfGeneration,
        ));
        let mut generator = Generator::new(backend, CommandPrompt::default());
        let mut sink = Restarts::default();
        let command = generator
            .generate_streaming(
                "files writable by others",
                &context(),
                &mut sink,
                &CancelToken::new(),
            )
            .unwrap();
        assert_eq!(command.command, "find . -type f -perm -go+w");
        assert_eq!(
            (sink.restarts, sink.text.as_str()),
            (1, r#"{"cmd": "find . -type f -perm -go+w"}"#)
        );
        let params = &generator.backend().params;
        assert_eq!(params.len(), 2);
        assert_eq!(params[0].temperature, 0.0);
        assert!(params[1].temperature >= 0.7 && params[1].seed != params[0].seed);
    }

    #[test]
    fn a_reply_that_repeats_itself_is_cut_short_and_retried_with_sampling() {
        let looping = concat!(
            r#"{"cmd": "tree -L 1 --noreport --prune --noreport --prune --noreport --prune "#,
            r#"--noreport --prune --noreport --prune --noreport --prune --noreport --prune"#
        );
        let mut backend = Scripted::new(looping);
        backend.stop_reason = StopReason::EndOfGeneration;
        backend.then = Some((r#"{"cmd": "tree -L 1"}"#, StopReason::EndOfGeneration));
        let mut generator = Generator::new(backend, CommandPrompt::default());
        let mut sink = Restarts::default();
        let cancel = CancelToken::new();
        let command = generator
            .generate_streaming("tree of this folder", &context(), &mut sink, &cancel)
            .unwrap();
        assert_eq!(command.command, "tree -L 1");
        assert_eq!(sink.restarts, 1, "the loop was thrown away");
        let params = &generator.backend().params;
        assert_eq!(params.len(), 2);
        assert!(params[1].temperature >= 0.7);
        assert!(!cancel.is_cancelled(), "the caller's token is left alone");
    }

    #[test]
    fn repetition_is_a_loop_only_when_a_long_varied_piece_repeats_four_times() {
        let loops = [
            "tree -L 1 --noreport --prune --noreport --prune --noreport --prune --noreport --prune",
            "ls -la | grep x | grep x | grep x | grep x ",
            "awk '{print $1}' | awk '{print $1}' | awk '{print $1}' | awk '{print $1}' | ",
        ];
        for text in loops {
            assert!(repeats_at_end(text), "{text}");
        }
        let commands = [
            "find . \\( -name '*.jpg' -o -name '*.png' -o -name '*.gif' -o -name '*.bmp' \\)",
            "echo hello hello hello",
            "printf '%s\\n' ================================================",
            "sed -e 's/a/b/' -e 's/c/d/' -e 's/e/f/' -e 's/g/h/'",
            "for f in *.txt; do cp -- \"$f\" \"$f.bak\"; done",
            "--noreport --prune --noreport --prune --noreport --prune",
            "",
        ];
        for text in commands {
            assert!(!repeats_at_end(text), "{text}");
        }
    }

    #[test]
    fn a_cancelled_token_cancels_its_children_but_not_the_other_way() {
        let parent = CancelToken::new();
        let child = parent.child();
        child.cancel();
        assert!(child.is_cancelled() && !parent.is_cancelled());
        let other = parent.child();
        parent.cancel();
        assert!(other.is_cancelled());
    }

    #[test]
    fn words_of_the_request_left_out_are_repaired_or_named_and_asked_for_again() {
        // A small change does it: made, and the model is not asked again.
        let backend = Scripted::new(r#"{"cmd": "grep -r todo src"}"#);
        let mut generator = Generator::new(backend, CommandPrompt::default());
        let request = "search src for todo, case-insensitive";
        let mut restarts = Vec::new();
        let command = generator
            .generate_streaming(
                request,
                &context(),
                &mut RestartLog(&mut restarts),
                &CancelToken::new(),
            )
            .unwrap();
        assert_eq!(command.command, "grep -i -r todo src");
        assert_eq!(command.flaw, None);
        assert_eq!(generator.backend().seen.len(), 1);
        assert_eq!(
            restarts,
            [
                "that command looks wrong: the request asks to ignore case, but grep matches case \
              unless given -i; changed to `grep -i -r todo src`"
            ]
        );

        // None does: the model is asked again, told what is left out.
        let mut backend = Scripted::new(r#"{"cmd": "timeout 1 ./slow.sh"}"#);
        backend.then = Some((
            r#"{"cmd": "timeout 1 ./slow.sh || echo 'timed out'"}"#,
            StopReason::EndOfGeneration,
        ));
        let mut generator = Generator::new(backend, CommandPrompt::default());
        let request =
            "run ./slow.sh for at most a second; if it had to be stopped, print 'timed out'";
        let command = generator.generate(request, &context()).unwrap();
        assert_eq!(command.command, "timeout 1 ./slow.sh || echo 'timed out'");
        let restated = &generator.backend().seen[1].messages.last().unwrap().content;
        assert!(
            restated.ends_with(
                "(not `timeout 1 ./slow.sh`: the request asks to print 'timed out', but it never does)"
            ),
            "{restated}"
        );
    }

    #[test]
    fn an_answer_in_place_of_a_command_is_asked_for_again_as_a_command() {
        let mut backend = Scripted::new(r#"{"cmd": "0755"}"#);
        backend.then = Some((
            r#"{"cmd": "stat -c %a run.sh"}"#,
            StopReason::EndOfGeneration,
        ));
        let mut generator = Generator::new(backend, CommandPrompt::default());
        let request = "what are the permissions of run.sh in octal?";
        let command = generator.generate(request, &context()).unwrap();
        assert_eq!(command.command, "stat -c %a run.sh");
        assert_eq!(command.flaw, None);

        // A command with a flaw of its own still beats the answer.
        let mut backend = Scripted::new(r#"{"cmd": "0755"}"#);
        let later = "find . -name './run.sh' -printf '%m'";
        backend.then = Some((
            r#"{"cmd": "find . -name './run.sh' -printf '%m'"}"#,
            StopReason::EndOfGeneration,
        ));
        let mut generator = Generator::new(backend, CommandPrompt::default());
        let command = generator.generate(request, &context()).unwrap();
        assert_eq!(command.command, later);
        assert!(
            matches!(command.flaw, Some(Flaw::FindTest { .. })),
            "{:?}",
            command.flaw
        );
        let restated = &generator.backend().seen[1].messages.last().unwrap().content;
        assert!(
            restated.ends_with(
                "(not `0755`: `0755` is an answer, not a command: write a command that finds it \
                 out on this system and prints it)"
            ),
            "{restated}"
        );
    }

    #[test]
    fn an_answer_that_only_leaves_out_a_word_beats_one_that_fails() {
        // The first answer cannot be read; the others read but leave out the case.
        let mut backend = Scripted::new(r#"{"cmd": "grep 'todo src"}"#);
        backend.then = Some((
            r#"{"cmd": "sed -n '/todo/p' notes.txt"}"#,
            StopReason::EndOfGeneration,
        ));
        let mut generator = Generator::new(backend, CommandPrompt::default());
        let command = generator
            .generate(
                "show the todo lines of notes.txt, ignoring case",
                &context(),
            )
            .unwrap();
        assert_eq!(command.command, "sed -n '/todo/p' notes.txt");
        assert!(
            matches!(command.flaw, Some(Flaw::Unheeded { .. })),
            "{:?}",
            command.flaw
        );
    }

    /// Keeps what each restart says.
    struct RestartLog<'a>(&'a mut Vec<String>);

    impl TokenSink for RestartLog<'_> {
        fn token(&mut self, _text: &str) {}

        fn restart(&mut self, why: &Restart) {
            self.0.push(why.to_string());
        }
    }

    #[test]
    fn a_command_with_a_flaw_is_asked_for_again_with_the_flaw_named() {
        let mut backend = Scripted::new(r#"{"cmd": "find . -type d -empty -exec rmdir {} \\;}"}"#);
        backend.then = Some((
            r#"{"cmd": "find . -type d -empty -exec rmdir {} +"}"#,
            StopReason::EndOfGeneration,
        ));
        let mut generator = Generator::new(backend, CommandPrompt::default());
        let command = generator
            .generate("remove empty folders", &context())
            .unwrap();
        assert_eq!(command.command, "find . -type d -empty -exec rmdir {} +");
        let seen = &generator.backend().seen;
        assert_eq!(seen.len(), 2);
        // The request again, with the command to avoid and why.
        let restated = &seen[1].messages.last().unwrap().content;
        assert!(
            restated.starts_with("remove empty folders (not `find . -type d -empty -exec rmdir {} \\;}`: find's -exec must end with its own argument"),
            "{restated}"
        );

        // Answers with a flaw too: asked the other way, the first answer shown as the model's
        // own, then sampled twice; then the first stays, and what is wrong with it is said.
        let backend = Scripted::new(r#"{"cmd": "awk '{print $2 "}"#);
        let mut generator = Generator::new(backend, CommandPrompt::default());
        let command = generator.generate("second column", &context()).unwrap();
        assert_eq!(command.command, "awk '{print $2");
        assert_eq!(command.flaw, Some(Flaw::NotShell), "what remains is said");
        let seen = &generator.backend().seen;
        assert_eq!(seen.len(), 5, "asked four times more, no more");
        assert_eq!(seen[3], seen[1], "the samples are of the restated request");
        let revision = &seen[2].messages;
        let [.., shown, follow_up] = &revision[..] else {
            panic!("{revision:?}")
        };
        assert_eq!(
            (shown.role, shown.content.as_str()),
            (Role::Assistant, "```bash\nawk '{print $2\n```")
        );
        assert!(
            follow_up
                .content
                .contains("That command is wrong: it is not valid shell syntax"),
            "{follow_up:?}"
        );
        let params = &generator.backend().params;
        assert!(params[..3].iter().all(|p| p.temperature == 0.0), "greedy");
        assert!(
            params[3..].iter().all(|p| p.temperature > 0.0),
            "then sampled"
        );
        assert_ne!(params[3].seed, params[4].seed);
        assert!(params[1..].iter().all(|p| !p.keep_prompt_prefix));

        // A command without a flaw is asked for once.
        let mut generator = Generator::new(
            Scripted::new(r#"{"cmd": "ls -a"}"#),
            CommandPrompt::default(),
        );
        generator.generate("list", &context()).unwrap();
        assert_eq!(generator.backend().seen.len(), 1);
    }

    /// A trial in which an `awk` fails, as one with a program that does not parse does.
    #[derive(Debug, Default, Clone)]
    struct AwkFails {
        tried: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
    }

    const AWK_ERROR: &str = "awk: cmd. line:1:            ^ unexpected newline or end of string";

    impl Trial for AwkFails {
        fn finding(&self, request: &str, command: &str, _: &ShellContext) -> Option<Flaw> {
            let mut tried = self.tried.lock().unwrap();
            tried.push((request.to_owned(), command.to_owned()));
            command.contains("awk").then(|| Flaw::Failed {
                message: AWK_ERROR.to_owned(),
            })
        }
    }

    const SECOND: &str = "print the second column of data.csv";
    const AWK: &str = "awk -F, '{print $2' data.csv";
    const AWK_REPLY: &str = r#"{"cmd": "awk -F, '{print $2' data.csv"}"#;

    /// A trial in which `comm` fails on files it does not sort, as it does on unsorted input.
    #[derive(Debug)]
    struct CommNeedsSort;

    impl Trial for CommNeedsSort {
        fn finding(&self, _: &str, command: &str, _: &ShellContext) -> Option<Flaw> {
            (command.contains("comm") && !command.contains("sort")).then(|| Flaw::Failed {
                message: "comm: file 1 is not in sorted order".to_owned(),
            })
        }
    }

    #[test]
    fn a_failure_of_a_known_kind_is_mended_without_asking_again() {
        let backend = Scripted::new(r#"{"cmd": "comm -12 a.txt b.txt"}"#);
        let mut generator =
            Generator::new(backend, CommandPrompt::default()).with_trial(CommNeedsSort);
        let command = generator
            .generate("lines in both a.txt and b.txt", &context())
            .unwrap();
        assert_eq!(command.command, "comm -12 <(sort a.txt) <(sort b.txt)");
        assert_eq!(command.flaw, None);
        assert_eq!(generator.backend().seen.len(), 1, "the model is asked once");
    }

    #[test]
    fn flaws_with_one_right_reading_are_mended_without_asking_again() {
        for (request, reply, mended) in [
            (
                "list the files here that their owner can run",
                r#"{"cmd": "find . -type f -perm u+x"}"#,
                "find . -type f -perm -u+x",
            ),
            (
                "the second column of data.csv",
                r#"{"cmd": "awk '{print $2}' data.csv"}"#,
                "awk -F, '{print $2}' data.csv",
            ),
            (
                "the text files here, and files smaller than 1 MB",
                r#"{"cmd": "find . -name *.txt -size -1M"}"#,
                "find . -type f -name '*.txt' -size -1024k",
            ),
            (
                "the files here, leaving out anything under data",
                r#"{"cmd": "find . -type f -not -path 'data/*'"}"#,
                "find . -type f -not -path './data/*'",
            ),
            (
                "the names of the three newest files in reports",
                r#"{"cmd": "ls -lt reports | head -n 3 | awk '{print $9}'"}"#,
                "ls -t reports | head -n 3",
            ),
        ] {
            let backend = Scripted::new(reply);
            let mut generator = Generator::new(backend, CommandPrompt::default());
            let command = generator.generate(request, &context()).unwrap();
            assert_eq!(command.command, mended);
            assert_eq!(command.flaw, None);
            assert_eq!(generator.backend().seen.len(), 1, "the model is asked once");
        }
    }

    #[test]
    fn a_command_that_fails_in_the_trial_is_asked_for_again_with_its_error() {
        let mut backend = Scripted::new(AWK_REPLY);
        backend.then = Some((
            r#"{"cmd": "cut -d, -f2 data.csv"}"#,
            StopReason::EndOfGeneration,
        ));
        let trial = AwkFails::default();
        let mut generator =
            Generator::new(backend, CommandPrompt::default()).with_trial(trial.clone());
        let command = generator.generate(SECOND, &context()).unwrap();
        assert_eq!(command.command, "cut -d, -f2 data.csv");
        assert_eq!(command.flaw, None);
        let tried = trial.tried.lock().unwrap().clone();
        let request = SECOND.to_owned();
        assert_eq!(
            tried,
            [
                (request.clone(), AWK.to_owned()),
                (request, "cut -d, -f2 data.csv".to_owned())
            ],
            "the first and the second answer are tried, with the request"
        );
        let restated = &generator.backend().seen[1].messages.last().unwrap().content;
        assert_eq!(
            *restated,
            format!("{SECOND} (not `{AWK}`: it failed when tried here: {AWK_ERROR})")
        );

        // The second answer fails too: the first stays, with what is wrong with it.
        let backend = Scripted::new(AWK_REPLY);
        let trial = AwkFails::default();
        let mut generator = Generator::new(backend, CommandPrompt::default()).with_trial(trial);
        let command = generator.generate(SECOND, &context()).unwrap();
        assert_eq!(command.command, AWK);
        assert_eq!(
            command.flaw.map(|f| f.to_string()),
            Some(format!("it failed when tried here: {AWK_ERROR}"))
        );
        assert_eq!(
            generator.backend().seen.len(),
            5,
            "asked four times more, no more"
        );

        // A flaw that shows without running the command is found without a trial.
        let backend = Scripted::new(r#"{"cmd": "awk '{print $2 "}"#);
        let trial = AwkFails::default();
        let mut generator =
            Generator::new(backend, CommandPrompt::default()).with_trial(trial.clone());
        generator.generate("second column", &context()).unwrap();
        assert!(trial.tried.lock().unwrap().is_empty());
    }

    #[test]
    fn only_a_greedy_reply_that_ran_out_of_tokens_is_retried() {
        // Prose that ended normally: the model meant it; no retry.
        let mut generator = Generator::new(
            Scripted::new("Well, it depends on what you want to do"),
            CommandPrompt::default(),
        );
        assert!(generator.generate("hello", &context()).is_err());
        assert_eq!(generator.backend().params.len(), 1);
        // A sampled reply that ran out of tokens: the caller chose sampling; no second draw.
        let mut backend = Scripted::new(r#"{"cmd": "ls -o -o -o"#);
        backend.stop_reason = StopReason::Length;
        let mut generator =
            Generator::new(backend, CommandPrompt::default()).with_params(GenerationParams {
                temperature: 0.9,
                ..GenerationParams::default()
            });
        assert!(generator.generate("list", &context()).is_err());
        assert_eq!(generator.backend().params.len(), 1);
        // No time left: no retry.
        let mut backend = Scripted::new(r#"{"cmd": "ls -o -o -o"#);
        backend.stop_reason = StopReason::Length;
        let mut generator =
            Generator::new(backend, CommandPrompt::default()).with_params(GenerationParams {
                time_limit: Some(Duration::ZERO),
                ..GenerationParams::default()
            });
        assert!(generator.generate("list", &context()).is_err());
        assert_eq!(generator.backend().params.len(), 1);
    }

    #[test]
    fn empty_request_never_reaches_the_backend() {
        let mut generator = Generator::new(Scripted::new("ls"), CommandPrompt::default());
        assert!(matches!(
            generator.generate(" \n", &context()),
            Err(GenerateError::EmptyRequest)
        ));
        assert!(generator.backend().seen.is_empty());
    }

    #[test]
    fn prose_reply_is_a_parse_error_that_mentions_the_token_limit() {
        let mut backend = Scripted::new("Well, it depends on what you want to do");
        backend.stop_reason = StopReason::Length;
        let mut generator = Generator::new(backend, CommandPrompt::default());
        let error = generator.generate("do things", &context()).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("not a command") && message.contains("token limit"),
            "{message}"
        );
        // The greedy attempt and two sampled retries.
        assert_eq!(generator.backend().params.len(), 3);
    }

    #[test]
    fn a_reply_cut_by_the_time_limit_says_so() {
        let mut backend = Scripted::new("Well, it depends on what you want to do");
        backend.stop_reason = StopReason::TimeLimit;
        let mut generator = Generator::new(backend, CommandPrompt::default());
        let message = generator
            .generate("do things", &context())
            .unwrap_err()
            .to_string();
        assert!(message.contains("time limit"), "{message}");
    }

    #[test]
    fn a_revision_sends_the_history_and_keeps_no_prefix() {
        let mut generator = Generator::new(
            Scripted::new(r#"{"cmd": "ls *.txt"}"#),
            CommandPrompt::default(),
        );
        let earlier = [Exchange::new("list files", "ls")];
        let command = generator
            .revise_streaming(
                &earlier,
                "only .txt files",
                &context(),
                &mut NullSink,
                &CancelToken::new(),
            )
            .unwrap();
        assert_eq!(command.command, "ls *.txt");
        let backend = generator.backend();
        let asked = &backend.seen[0].messages;
        assert!(
            asked
                .iter()
                .any(|m| m.role == Role::Assistant && m.content == "```bash\nls\n```")
        );
        assert!(asked.last().unwrap().content == "list files, only .txt files");
        assert!(!backend.params[0].keep_prompt_prefix);
        assert!(backend.params[0].reply_format.is_some());
    }

    #[test]
    fn a_fix_that_is_the_failed_command_is_asked_for_once_more() {
        let failing = "ls --sort=size  no-such-dir";
        let fix = FixRequest {
            status: Some(2),
            ..FixRequest::new(failing)
        };
        let mut backend = Scripted::new("```bash\nls --sort=size no-such-dir\n```");
        backend.then = Some(("```bash\nls -S .\n```", StopReason::EndOfGeneration));
        let mut generator = Generator::new(backend, CommandPrompt::default());
        let fixed = generator
            .fix_streaming(&fix, &context(), &mut NullSink, &CancelToken::new())
            .unwrap();
        assert_eq!(fixed.command, "ls -S .");
        let seen = &generator.backend().seen;
        assert_eq!(seen.len(), 2);
        let asked = &seen[1].messages.last().unwrap().content;
        assert!(
            asked.contains("Not `ls --sort=size  no-such-dir` again"),
            "{asked}"
        );

        // The same again: the first answer stays, asked for no more.
        let backend = Scripted::new("```bash\nls --sort=size no-such-dir\n```");
        let mut generator = Generator::new(backend, CommandPrompt::default());
        let fixed = generator
            .fix_streaming(&fix, &context(), &mut NullSink, &CancelToken::new())
            .unwrap();
        assert_eq!(fixed.command, "ls --sort=size no-such-dir");
        assert_eq!(generator.backend().seen.len(), 2);

        // A command that worked may come back unchanged (a hint may ask for what it does).
        let worked = FixRequest {
            status: Some(0),
            ..FixRequest::new("ls -S")
        };
        let backend = Scripted::new("```bash\nls -S\n```");
        let mut generator = Generator::new(backend, CommandPrompt::default());
        generator
            .fix_streaming(&worked, &context(), &mut NullSink, &CancelToken::new())
            .unwrap();
        assert_eq!(generator.backend().seen.len(), 1);
    }

    #[test]
    fn an_explanation_is_plain_text_without_a_schema() {
        let mut generator = Generator::new(
            Scripted::new("  Lists the files, one per line.\n"),
            CommandPrompt::default(),
        );
        let text = generator
            .explain_streaming("ls -1", &context(), &mut NullSink, &CancelToken::new())
            .unwrap();
        assert_eq!(text, "Lists the files, one per line.");
        assert!(generator.backend().params[0].reply_format.is_none());
        let mut silent = Generator::new(Scripted::new(" \n"), CommandPrompt::default());
        let error = silent
            .explain_streaming("ls", &context(), &mut NullSink, &CancelToken::new())
            .unwrap_err();
        assert!(matches!(
            error,
            GenerateError::Parse {
                reason: ParseError::Empty,
                ..
            }
        ));
    }

    /// Replies in turn from a list, cycling.
    struct Replies {
        replies: Vec<&'static str>,
        next: usize,
        seeds: Vec<(f32, u64)>,
    }

    impl InferenceBackend for Replies {
        fn info(&self) -> ModelInfo {
            ModelInfo::new("replies", "test", "cpu", 128)
        }

        fn generate(
            &mut self,
            _: &Conversation,
            params: &GenerationParams,
            _: &mut dyn TokenSink,
            _: &CancelToken,
        ) -> Result<GenerationOutput, BackendError> {
            self.seeds.push((params.temperature, params.seed));
            let reply = self.replies[self.next % self.replies.len()];
            self.next += 1;
            Ok(GenerationOutput::from_text(reply))
        }
    }

    #[test]
    fn alternatives_are_distinct_and_ranked_by_agreement() {
        let backend = Replies {
            replies: vec![
                r#"{"cmd": "ls -a"}"#,
                r#"{"cmd": "ls  -la"}"#,
                "I cannot help with that.",
                r#"{"cmd": "ls -la"}"#,
                r#"{"cmd": "find . -maxdepth 1"}"#,
            ],
            next: 0,
            seeds: Vec::new(),
        };
        let mut generator = Generator::new(backend, CommandPrompt::default());
        let found = generator
            .alternatives("list all files", &context(), 3, &CancelToken::new())
            .unwrap();
        let commands: Vec<(&str, usize)> = found
            .iter()
            .map(|c| (c.generated.command.as_str(), c.votes))
            .collect();
        assert_eq!(
            commands,
            [("ls  -la", 2), ("ls -a", 1), ("find . -maxdepth 1", 1)]
        );
        let seeds = &generator.backend().seeds;
        assert_eq!(seeds[0], (0.0, 42), "the first answer is the greedy one");
        assert!(seeds[1..].iter().all(|&(t, _)| t >= 0.7));
        let distinct: std::collections::HashSet<u64> = seeds.iter().map(|s| s.1).collect();
        assert_eq!(
            distinct.len(),
            seeds.len(),
            "every sample has a seed of its own"
        );
    }

    #[test]
    fn alternatives_report_the_error_when_nothing_parses() {
        let backend = Replies {
            replies: vec!["Sorry, no."],
            next: 0,
            seeds: Vec::new(),
        };
        let mut generator = Generator::new(backend, CommandPrompt::default());
        let error = generator
            .alternatives("do it", &context(), 2, &CancelToken::new())
            .unwrap_err();
        assert!(matches!(error, GenerateError::Parse { .. }));
        assert_eq!(generator.backend().seeds.len(), 5);
    }

    #[test]
    fn cancellation_is_reported() {
        let mut generator = Generator::new(Scripted::new("ls -la"), CommandPrompt::default());
        let cancel = CancelToken::new();
        cancel.cancel();
        let error = generator
            .generate_streaming("x", &context(), &mut NullSink, &cancel)
            .unwrap_err();
        assert!(matches!(
            error,
            GenerateError::Backend(BackendError::Cancelled)
        ));
    }
}
