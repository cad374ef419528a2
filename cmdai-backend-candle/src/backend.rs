//! [`CandleBackend`]: the core inference trait over a GGUF model run with Candle.

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candle_core::quantized::gguf_file::Value;
use candle_core::{Device, Tensor};
use cmdai_core::{
    BackendError, CancelToken, Conversation, GenerationOutput, GenerationParams, InferenceBackend,
    ModelInfo, ReplyFormat, StopReason, TokenSink,
};

use crate::constrain::{Constraint, Grammars};
use crate::draft::{Draft, DraftModel, Drafted, Drafter, common_prefix};
use crate::error::{CandleError, Result};
use crate::memory;
use crate::packed::Packing;
use crate::spec::Metadata;
use crate::{
    ChatTemplate, DeviceChoice, GgufFile, GgufTokenizer, Kernels, ModelSpec, PromptCache, Sampler,
    TextStream, TokenTable, Transformer,
};

/// Shorter shared prefixes are not worth a file.
const MIN_CACHED_PREFIX: usize = 16;

/// Spellings llama.cpp also treats as end of generation when the vocabulary marks them as
/// control tokens; files often declare only one of them as `eos`.
const END_OF_GENERATION_SPELLINGS: &[&str] = &[
    "<|im_end|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|end|>",
    "<end_of_turn>",
    "<|end_of_text|>",
    "<end_of_utterance>",
    // Qwen2.5-Coder's fill-in-the-middle separators end a turn too.
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
];

/// How to load a model.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Where to run it.
    pub device: DeviceChoice,
    /// The name reported as [`ModelInfo::model`]; defaults to the file name.
    pub model_id: Option<String>,
    /// The most tokens (prompt and reply) one generation may use. The model's own context is
    /// often 32k tokens; a command needs far less, and the KV cache grows only as used.
    pub max_context: usize,
    /// Where to keep the KV state of prompt prefixes shared by every request; `None` computes
    /// them every time.
    pub prompt_cache_dir: Option<PathBuf>,
    /// The model file's SHA-256 when known (catalog models); otherwise the prompt cache and
    /// the packed weights identify the file by path, size and modification time.
    pub model_digest: Option<String>,
    /// Where to keep the model's Q4_K and Q6_K matrices interleaved for AVX2 / AVX-512 VNNI, on CPUs that have
    /// it (written once per model, about the size of those matrices; see `packed/`); `None`
    /// runs them on the file's own layout.
    pub packed_weights_dir: Option<PathBuf>,
    /// Prepare constrained decoding while loading: the vocabulary is compiled on a thread of
    /// its own (about 0.2 s of CPU for 150,000 tokens), beside the tokenizer's construction.
    /// Off, that happens on the first request with a reply format.
    pub constrained_decoding: bool,
    /// Which of cmdai's own kernels run the model; the default takes the fastest this machine
    /// has.
    pub kernels: Kernels,
    /// Speculative decoding's drafts (the output is the same either way; on the CPU only).
    /// [`Draft::Model`] drafts once a model is loaded with
    /// [`CandleBackend::load_draft`].
    pub draft: Draft,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            device: DeviceChoice::Auto,
            model_id: None,
            max_context: 4096,
            prompt_cache_dir: None,
            model_digest: None,
            packed_weights_dir: None,
            constrained_decoding: true,
            kernels: Kernels::default(),
            draft: Draft::default(),
        }
    }
}

/// One timed run of [`CandleBackend::benchmark`].
#[derive(Debug, Clone, Copy)]
pub struct BenchRun {
    /// Tokens prefilled.
    pub prompt_tokens: usize,
    /// Time for the prefill.
    pub prefill: Duration,
    /// Tokens decoded one at a time.
    pub generated_tokens: usize,
    /// Time for all decode steps.
    pub decode: Duration,
    /// On the fused CUDA path, the time for as many decode steps replayed back to back on the
    /// device, nothing done on the host between them: what the host adds is `decode` less this.
    pub device_decode: Option<Duration>,
}

/// A GGUF model loaded on a Candle device.
#[derive(Debug)]
pub struct CandleBackend {
    model: Transformer,
    tokenizer: GgufTokenizer,
    template: ChatTemplate,
    stop_tokens: BTreeSet<u32>,
    info: ModelInfo,
    device_reason: String,
    load_time: Duration,
    /// The tokens whose keys and values are in the model's KV cache, in order.
    cached_tokens: Vec<u32>,
    prompt_cache: Option<PromptCache>,
    /// The reply-format compiler: built on a thread of its own, started while the model
    /// loads (or on the first constrained request when `LoadOptions::constrained_decoding` is
    /// off).
    grammars: GrammarState,
    /// Where drafted tokens for speculative decoding come from.
    draft: Draft,
    /// The model that drafts for [`Draft::Model`].
    draft_model: Option<DraftModel>,
    /// The last reply's drafted tokens and how many of them the model confirmed.
    drafted: (usize, usize),
    /// How long the last reply spent drafting.
    drafting: Duration,
}

/// The weights of the model at `path` on `device` (its name keys the prompt cache), packed
/// for the CPU kernels where `options` has a directory for that, and its prompt cache.
fn load_weights(
    path: &Path,
    spec: ModelSpec,
    file: &mut GgufFile,
    device: &Device,
    device_name: &str,
    max_positions: usize,
    options: &LoadOptions,
) -> Result<(Transformer, Option<PromptCache>)> {
    let identity = identity(path, options.model_digest.as_deref());
    let packing = options.packed_weights_dir.as_ref().map(|dir| Packing {
        dir: dir.clone(),
        identity: identity.clone(),
    });
    let model = Transformer::load_with(
        spec,
        file,
        device,
        max_positions,
        packing.as_ref(),
        options.kernels,
    )?;
    let prompt_cache = options
        .prompt_cache_dir
        .as_ref()
        .map(|dir| PromptCache::new(dir, &identity, device_name));
    Ok((model, prompt_cache))
}

impl CandleBackend {
    /// Loads the model at `path`.
    pub fn load(path: &Path, options: &LoadOptions) -> Result<Self> {
        let started = Instant::now();
        let selected = options.device.open()?;
        let mut file = GgufFile::open(path)?;
        if selected.device.is_cpu() {
            check_memory(path, &file)?;
        }
        let spec = ModelSpec::from_gguf(&file.content)?;
        let metadata = &file.content.metadata;
        let table = TokenTable::from_metadata(metadata)?;
        if table.len() != spec.vocab_size {
            return Err(CandleError::InvalidMetadata {
                key: "tokenizer.ggml.tokens".into(),
                reason: format!(
                    "{} tokens but the embedding has {} rows",
                    table.len(),
                    spec.vocab_size
                ),
            });
        }
        // The vocabulary's compilation for constrained decoding (about 0.2 s)
        // runs on a core of its own while the tokenizer is built, not later beside the prefill.
        let eos = Metadata::new(metadata, "GGUF").optional_u32("tokenizer.ggml.eos_token_id");
        let grammars = match eos.filter(|_| options.constrained_decoding) {
            Some(end) => GrammarState::start(Grammars::words(&table, spec.vocab_size), end),
            None => GrammarState::NotStarted,
        };
        let tokenizer = GgufTokenizer::new(metadata, table)?;
        let token_text = |id: Option<u32>| {
            id.and_then(|id| tokenizer.token(id))
                .unwrap_or("")
                .to_owned()
        };
        let template_source = match file.content.metadata.get("tokenizer.chat_template") {
            Some(Value::String(source)) => Some(source.as_str()),
            // No template: Gemma's turns where the vocabulary has them, else ChatML.
            _ => tokenizer
                .token_id("<start_of_turn>")
                .map(|_| crate::template::GEMMA_TURNS),
        };
        let template = ChatTemplate::new(
            template_source,
            &token_text(tokenizer.bos),
            &token_text(tokenizer.eos),
        )?;
        let stop_tokens = stop_tokens(&file, &tokenizer, &template)?;

        let max_positions = spec.context_length.min(options.max_context).max(1);
        let context_length = max_positions;
        let (model, prompt_cache) = load_weights(
            path,
            spec,
            &mut file,
            &selected.device,
            &selected.name,
            max_positions,
            options,
        )?;
        let model_id = options.model_id.clone().unwrap_or_else(|| {
            path.file_stem().map_or_else(
                || path.display().to_string(),
                |s| s.to_string_lossy().into_owned(),
            )
        });
        Ok(CandleBackend {
            model,
            tokenizer,
            template,
            stop_tokens,
            info: ModelInfo::new(model_id, "candle", selected.name, context_length),
            device_reason: selected.reason,
            load_time: started.elapsed(),
            cached_tokens: Vec::new(),
            prompt_cache,
            grammars,
            draft: options.draft,
            draft_model: None,
            drafted: (0, 0),
            drafting: Duration::ZERO,
        })
    }

    /// Loads the model at `path` to draft tokens for this one ([`Draft::Model`], which this
    /// turns on), with `options`' caches and kernels (`options.model_digest` is the draft's);
    /// returns how long that took. The draft must have this model's vocabulary, token for
    /// token, and run where this one runs, on the CPU.
    pub fn load_draft(&mut self, path: &Path, options: &LoadOptions) -> Result<Duration> {
        let started = Instant::now();
        let refuse = |reason: String| CandleError::Draft {
            path: path.to_owned(),
            reason,
        };
        if !self.model.device().is_cpu() {
            return Err(refuse(format!(
                "drafted tokens are checked on the CPU only, and the model runs on {}",
                self.info.device
            )));
        }
        let mut file = GgufFile::open(path)?;
        check_memory(path, &file)?;
        let spec = ModelSpec::from_gguf(&file.content)?;
        let table = TokenTable::from_metadata(&file.content.metadata)?;
        if let Some(difference) = vocabulary_difference(
            self.tokenizer.table(),
            self.model.spec().vocab_size,
            &table,
            spec.vocab_size,
        ) {
            return Err(refuse(format!(
                "its vocabulary differs from the model's ({difference}); a draft must come from \
                 the model's own family, such as qwen2.5-coder-0.5b for the Qwen2.5-Coder models"
            )));
        }
        let (model, prompt_cache) = load_weights(
            path,
            spec,
            &mut file,
            self.model.device(),
            "cpu",
            self.model.max_positions(),
            options,
        )?;
        self.draft_model = Some(DraftModel {
            model,
            cached_tokens: Vec::new(),
            prompt_cache,
        });
        self.draft = Draft::Model;
        Ok(started.elapsed())
    }

    /// How long [`load`](Self::load) took.
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    /// Why the device was chosen.
    pub fn device_reason(&self) -> &str {
        &self.device_reason
    }

    /// The model description.
    pub fn spec(&self) -> &ModelSpec {
        self.model.spec()
    }

    /// The tokens that end generation.
    pub fn stop_tokens(&self) -> &BTreeSet<u32> {
        &self.stop_tokens
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &GgufTokenizer {
        &self.tokenizer
    }

    /// The tokenizer, for encoding (which switches special-token parsing).
    pub fn tokenizer_mut(&mut self) -> &mut GgufTokenizer {
        &mut self.tokenizer
    }

    /// The prompt tokens for `conversation`, as the model will see them.
    ///
    /// The template's own markup is tokenized with control tokens recognised; the messages'
    /// text is not, so a request that spells `<|im_end|>` cannot end its turn early or forge
    /// another one. Each message is rendered as a unique marker and tokenized on its own; the
    /// templates put a newline or a control token around every message, which the
    /// pre-tokenizer splits at anyway, so the ids equal those of the whole text.
    pub fn prompt_tokens(&mut self, conversation: &Conversation) -> Result<Vec<u32>> {
        Ok(self.prompt_tokens_split(conversation)?.0)
    }

    /// [`prompt_tokens`](Self::prompt_tokens), and how many of them come before the last
    /// message's text: the part that stays the same when only the request changes.
    fn prompt_tokens_split(&mut self, conversation: &Conversation) -> Result<(Vec<u32>, usize)> {
        let marker_of = |i: usize| format!("\u{E000}cmdai-message-{i}\u{E001}");
        let mut masked = conversation.clone();
        for (i, message) in masked.messages.iter_mut().enumerate() {
            message.content = marker_of(i);
        }
        let mut rest = self.template.render(&masked)?;
        let mut tokens = self.bos_prefix();
        let mut stable = 0;
        for (i, message) in conversation.messages.iter().enumerate() {
            let marker = marker_of(i);
            // A template may drop a message (e.g. a system prompt it replaces); then there is
            // nothing of it to tokenize.
            let Some((markup, after)) = rest.split_once(&marker) else {
                continue;
            };
            tokens.extend(self.tokenizer.encode(markup, true)?);
            stable = tokens.len();
            tokens.extend(self.tokenizer.encode(&message.content, false)?);
            rest = after.to_owned();
        }
        tokens.extend(self.tokenizer.encode(&rest, true)?);
        Ok((tokens, stable))
    }

    /// Starts building the reply-format compiler on a thread of its own, unless it is
    /// built or on its way (or [`LoadOptions::constrained_decoding`] was off).
    fn start_grammars(&mut self) {
        if !matches!(self.grammars, GrammarState::NotStarted) {
            return;
        }
        let Some(end) = self
            .tokenizer
            .eos
            .or_else(|| self.stop_tokens.first().copied())
        else {
            self.grammars = GrammarState::Unavailable;
            return;
        };
        let words = Grammars::words(self.tokenizer.table(), self.model.spec().vocab_size);
        self.grammars = GrammarState::start(words, end);
    }

    /// Whether the reply-format compiler is built (or known to be unavailable), so that
    /// [`constraint`](Self::constraint) will not wait.
    fn grammars_ready(&self) -> bool {
        match &self.grammars {
            GrammarState::Building(handle) => handle.is_finished(),
            _ => true,
        }
    }

    /// A constraint for `format`, waiting for the compiler if it is still being built. `None`
    /// (with a warning) when that or the format's grammar fails: the reply is then parsed as it
    /// comes.
    fn constraint(&mut self, format: &ReplyFormat) -> Option<Constraint> {
        self.start_grammars();
        if let GrammarState::Building(_) = self.grammars {
            let GrammarState::Building(handle) =
                std::mem::replace(&mut self.grammars, GrammarState::Unavailable)
            else {
                return None;
            };
            self.grammars = match handle.join() {
                Ok(Ok(grammars)) => GrammarState::Ready(Box::new(grammars)),
                Ok(Err(error)) => {
                    tracing::warn!("{error}; replies are not constrained");
                    GrammarState::Unavailable
                }
                Err(_) => {
                    tracing::warn!(
                        "building the grammar compiler failed; replies are not constrained"
                    );
                    GrammarState::Unavailable
                }
            };
        }
        let GrammarState::Ready(grammars) = &self.grammars else {
            return None;
        };
        grammars
            .constrain(format)
            .map_err(|error| tracing::warn!("{error}; this reply is not constrained"))
            .ok()
    }

    /// The tokens of an already templated prompt text.
    pub fn raw_prompt_tokens(&mut self, text: &str) -> Result<Vec<u32>> {
        let mut tokens = self.bos_prefix();
        tokens.extend(self.tokenizer.encode(text, true)?);
        Ok(tokens)
    }

    /// The BOS token when the model wants prompts to start with one, else nothing.
    fn bos_prefix(&self) -> Vec<u32> {
        self.tokenizer
            .bos
            .filter(|_| self.tokenizer.add_bos)
            .into_iter()
            .collect()
    }

    /// Times the engine like llama.cpp's llama-bench: a prefill of `prompt_tokens` tokens
    /// (pseudo-random ids from `seed`) from an empty cache, then `generate` single-token greedy
    /// steps that ignore end-of-generation tokens.
    pub fn benchmark(
        &mut self,
        prompt_tokens: usize,
        generate: usize,
        seed: u64,
    ) -> Result<BenchRun> {
        use rand::{Rng, SeedableRng};
        let needed = prompt_tokens + generate;
        if prompt_tokens == 0 || needed > self.model.max_positions() {
            return Err(CandleError::ContextFull {
                needed,
                available: self.model.max_positions(),
            });
        }
        let vocab = u32::try_from(self.model.spec().vocab_size).unwrap_or(u32::MAX);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let prompt: Vec<u32> = (0..prompt_tokens)
            .map(|_| rng.random_range(0..vocab))
            .collect();
        self.model.reset();
        self.cached_tokens.clear();
        // GPU work is queued asynchronously: wait for it before reading the clock.
        let started = Instant::now();
        let mut logits = self.model.forward(&prompt)?;
        self.model.device().synchronize()?;
        let prefill = started.elapsed();
        let started = Instant::now();
        for _ in 0..generate {
            let token = crate::sampling::greedy(&logits.to_vec1::<f32>()?);
            logits = self.model.forward(&[token])?;
        }
        self.model.device().synchronize()?;
        let decode = started.elapsed();
        let device_decode = match generate {
            0 => None,
            _ => self.model.replay_decode_step(generate)?,
        };
        self.model.reset();
        Ok(BenchRun {
            prompt_tokens,
            prefill,
            generated_tokens: generate,
            decode,
            device_decode,
        })
    }

    /// Changes where speculative decoding's drafts come from, for the next replies.
    /// [`Draft::Model`] needs a draft model ([`load_draft`](Self::load_draft)) and drafts
    /// nothing without one.
    pub fn set_draft(&mut self, draft: Draft) {
        self.draft = draft;
    }

    /// Where speculative decoding's drafts come from now.
    pub fn draft(&self) -> Draft {
        self.draft
    }

    /// The last reply's drafted tokens, and how many of those the model confirmed (kept).
    pub fn drafted(&self) -> (usize, usize) {
        self.drafted
    }

    /// How long the last reply spent drafting: with a draft model, its passes (the prompt's
    /// new part first, then a pass per drafted token).
    pub fn drafting_time(&self) -> Duration {
        self.drafting
    }

    /// Ends `pass`: its drafted tokens still unchecked, and `rejected` more just checked, are
    /// not the sequence, so they leave the KV cache; its rows are not read.
    fn abandon(&mut self, pass: &mut Pass, rejected: usize) -> Result<()> {
        let count = pass.unchecked.len() + rejected;
        if count > 0 {
            let keep = self.cached_tokens.len() - count;
            self.model.truncate(keep)?;
            self.cached_tokens.truncate(keep);
        }
        pass.rows.clear();
        pass.unchecked.clear();
        Ok(())
    }

    /// Generates from prompt tokens; the engine under [`InferenceBackend::generate`].
    pub fn generate_tokens(
        &mut self,
        prompt: &[u32],
        params: &GenerationParams,
        sink: &mut dyn TokenSink,
        cancel: &CancelToken,
    ) -> Result<GenerationOutput, BackendError> {
        let context_length = self.model.max_positions();
        if prompt.is_empty() || prompt.len() >= context_length {
            return Err(BackendError::ContextOverflow {
                prompt_tokens: prompt.len() + 1,
                context_length,
            });
        }
        let budget = params.max_tokens.min(context_length - prompt.len());
        let mut draft_model = self.draft_model.take();
        let result = self.decode(prompt, budget, params, sink, cancel, draft_model.as_mut());
        if result.is_err() {
            // The KV cache may hold part of a step; start clean next time.
            self.model.reset();
            self.cached_tokens.clear();
            if let Some(draft) = &mut draft_model {
                draft.model.reset();
                draft.cached_tokens.clear();
            }
        }
        self.draft_model = draft_model;
        result
    }

    fn decode(
        &mut self,
        prompt: &[u32],
        budget: usize,
        params: &GenerationParams,
        sink: &mut dyn TokenSink,
        cancel: &CancelToken,
        draft_model: Option<&mut DraftModel>,
    ) -> Result<GenerationOutput, BackendError> {
        let failed = |e: CandleError| BackendError::failed("model forward pass failed", e);
        self.drafted = (0, 0);
        self.drafting = Duration::ZERO;
        // Keep what the KV cache already holds of this prompt; at least one token is run to
        // get the next token's logits.
        let reused = common_prefix(&self.cached_tokens, prompt).min(prompt.len() - 1);
        self.model.truncate(reused).map_err(failed)?;
        self.cached_tokens.truncate(reused);

        let started = Instant::now();
        // When the grammar is already compiled (usually: it is built while the model loads),
        // the tokens it forces at the start of the reply (```` ```bash ````) go into the prefill's
        // forward pass; otherwise it is built during the prefill and they get a pass of their own.
        let mut constraint = None;
        let mut input = prompt[reused..].to_vec();
        let mut forced = Vec::new();
        if let Some(format) = &params.reply_format {
            self.start_grammars();
            if self.grammars_ready() {
                constraint = self.constraint(format);
                forced = constraint
                    .as_mut()
                    .map(Constraint::forced)
                    .unwrap_or_default();
                forced.truncate(budget);
                input.extend_from_slice(&forced);
            }
        }
        let logits = self.model.forward(&input).map_err(failed)?;
        self.model
            .device()
            .synchronize()
            .map_err(|e| failed(e.into()))?;
        self.cached_tokens.extend_from_slice(&input);
        let prefill = started.elapsed();

        let decode_started = Instant::now();
        if constraint.is_none()
            && let Some(format) = &params.reply_format
        {
            constraint = self.constraint(format);
        }
        let mut constraint_time = Duration::ZERO;
        let mut sampler = Sampler::new(params.temperature, params.top_p, params.seed);
        let mut reply = Reply::default();
        let mut generated = 0;
        let mut stop_reason = StopReason::Length;
        for &token in &forced {
            generated += 1;
            reply.push(&self.tokenizer, sink, token).map_err(failed)?;
        }
        // Tokens chosen but not yet run through the model. A token is run only when the
        // next one is the model's choice: the closing fence after a command ends the reply
        // with no forward pass for it (nor, with a JSON schema, for the `}` forced after `"`).
        let mut pending: Vec<u32> = Vec::new();
        // Speculative decoding (draft.rs): drafted tokens run in the same pass as the pending
        // ones, and each is kept while it is the token the model picks after those before it
        // (greedy), or while the acceptance rule keeps it (sampling: the tokens are then
        // distributed as without drafts); the first it does not keep is replaced by the model's
        // own pick, and the rest are dropped from the KV cache. On the CPU only, where a few
        // tokens' pass gives each of them exactly what a pass of its own would (attention.rs),
        // so that greedy replies are the same as without drafts.
        let mut drafter = match (self.draft, draft_model) {
            _ if !self.model.device().is_cpu() => None,
            (Draft::PromptLookup, _) => Some(Drafter::lookup(prompt)),
            (Draft::Model, Some(model)) => Some(Drafter::model(
                prompt,
                model,
                Sampler::new(
                    params.temperature,
                    params.top_p,
                    params.seed ^ 0x5eed_d4af_7000_0001,
                ),
                self.stop_tokens.clone(),
            )),
            _ => None,
        };
        if let Some(drafter) = &mut drafter {
            drafter.extend(&forced);
        }
        let mut pass = Pass {
            rows: VecDeque::from([logits]),
            unchecked: VecDeque::new(),
        };
        let (mut drafts, mut confirmed) = (0, 0);
        // A grammar could force a whole reply.
        let finished = constraint.as_ref().is_some_and(Constraint::is_done);
        if finished {
            stop_reason = StopReason::EndOfGeneration;
        }
        while !finished && generated < budget {
            if cancel.is_cancelled() {
                self.abandon(&mut pass, 0).map_err(failed)?;
                return Err(BackendError::Cancelled);
            }
            if params
                .time_limit
                .is_some_and(|limit| started.elapsed() >= limit)
            {
                stop_reason = StopReason::TimeLimit;
                break;
            }
            let constraint_started = Instant::now();
            let forced = constraint
                .as_mut()
                .map(Constraint::forced)
                .unwrap_or_default();
            let forced = &forced[..forced.len().min(budget - generated)];
            constraint_time += constraint_started.elapsed();
            if !forced.is_empty() {
                // The drafts after a forced token assumed other tokens there.
                self.abandon(&mut pass, 0).map_err(failed)?;
                for &token in forced {
                    generated += 1;
                    reply.push(&self.tokenizer, sink, token).map_err(failed)?;
                }
                pending.extend_from_slice(forced);
                if let Some(drafter) = &mut drafter {
                    drafter.extend(forced);
                }
                if constraint.as_ref().is_some_and(Constraint::is_done) {
                    stop_reason = StopReason::EndOfGeneration;
                    break;
                }
                continue;
            }
            if pass.rows.is_empty() {
                // The last token chosen is pending (a confirmed draft leaves a row behind).
                let limit = (budget - generated)
                    .saturating_sub(1)
                    .min(crate::draft::MOST_CHECKED.saturating_sub(pending.len()));
                let drafting_started = Instant::now();
                let draft = match &mut drafter {
                    Some(drafter) if limit > 0 => {
                        drafter.draft(limit, constraint.as_ref()).map_err(failed)?
                    }
                    _ => Vec::new(),
                };
                self.drafting += drafting_started.elapsed();
                if draft.is_empty() {
                    pass.rows
                        .push_back(self.model.forward(&pending).map_err(failed)?);
                } else {
                    let first = pending.len() - 1;
                    pending.extend(draft.iter().map(|drafted| drafted.token));
                    let all = self.model.forward_all(&pending).map_err(failed)?;
                    for row in first..pending.len() {
                        pass.rows
                            .push_back(all.get(row).map_err(|e| failed(e.into()))?);
                    }
                    drafts += draft.len();
                    pass.unchecked.extend(draft);
                }
                self.cached_tokens.append(&mut pending);
            }
            let Some(row) = pass.rows.pop_front() else {
                break;
            };
            let constraint_started = Instant::now();
            let mut values = row.to_vec1::<f32>().map_err(|e| failed(e.into()))?;
            if let Some(active) = &mut constraint
                && let Err(error) = active.mask(&mut values)
            {
                tracing::warn!("{error}; going on unconstrained");
                constraint = None;
            }
            constraint_time += constraint_started.elapsed();
            // A drafted token the model keeps is already in the KV cache; one it does not keep
            // ends the drafts: it and those after it leave the cache, and the model's token is
            // run next.
            let checked = pass.unchecked.pop_front();
            let token = match &checked {
                Some(drafted) => {
                    sampler.check_draft(&values, drafted.token, drafted.from.as_deref())
                }
                None => sampler.sample(&values),
            };
            let in_cache = checked
                .as_ref()
                .is_some_and(|drafted| drafted.token == token);
            if in_cache {
                confirmed += 1;
            } else if checked.is_some() {
                self.abandon(&mut pass, 1).map_err(failed)?;
            }
            if self.stop_tokens.contains(&token) {
                stop_reason = StopReason::EndOfGeneration;
                break;
            }
            let accept_started = Instant::now();
            if let Some(active) = &mut constraint
                && let Err(error) = active.accept(token)
            {
                tracing::warn!("{error}; going on unconstrained");
                constraint = None;
            }
            constraint_time += accept_started.elapsed();
            generated += 1;
            reply.push(&self.tokenizer, sink, token).map_err(failed)?;
            if let Some(drafter) = &mut drafter {
                drafter.extend(&[token]);
            }
            if let Some(cut) = params
                .stop
                .iter()
                .filter_map(|stop| reply.text.find(stop.as_str()))
                .min()
            {
                reply.text.truncate(cut);
                stop_reason = StopReason::StopString;
                break;
            }
            if constraint.as_ref().is_some_and(Constraint::is_done) {
                stop_reason = StopReason::EndOfGeneration;
                break;
            }
            if !in_cache {
                pending.push(token);
            }
        }
        // Drafts still unchecked when the reply ended are not part of the sequence.
        self.abandon(&mut pass, 0).map_err(failed)?;
        self.drafted = (drafts, confirmed);
        if drafts > 0 {
            tracing::debug!(
                "speculative decoding: {confirmed} of {drafts} drafted tokens confirmed"
            );
        }
        if constraint.is_some() && generated > 0 {
            tracing::debug!(
                "constrained decoding: {:?} over {generated} tokens ({:?} per token)",
                constraint_time,
                constraint_time / u32::try_from(generated).unwrap_or(u32::MAX)
            );
        }
        Ok(GenerationOutput {
            text: reply.text,
            prompt_tokens: prompt.len(),
            cached_prompt_tokens: reused,
            generated_tokens: generated,
            prefill,
            decode: decode_started.elapsed(),
            stop_reason,
        })
    }
}

impl InferenceBackend for CandleBackend {
    fn info(&self) -> ModelInfo {
        self.info.clone()
    }

    fn generate(
        &mut self,
        conversation: &Conversation,
        params: &GenerationParams,
        sink: &mut dyn TokenSink,
        cancel: &CancelToken,
    ) -> Result<GenerationOutput, BackendError> {
        let (prompt, stable) = self
            .prompt_tokens_split(conversation)
            .map_err(|e| BackendError::failed("cannot build the prompt", e))?;
        let prefix = &prompt[..stable.min(prompt.len().saturating_sub(1))];
        let save = restore_prefix(
            &mut self.model,
            &mut self.cached_tokens,
            self.prompt_cache.as_ref(),
            prefix,
        );
        let draft_save = match (&mut self.draft_model, self.draft) {
            (Some(draft), Draft::Model) => restore_prefix(
                &mut draft.model,
                &mut draft.cached_tokens,
                draft.prompt_cache.as_ref(),
                prefix,
            ),
            _ => false,
        };
        let output = self.generate_tokens(&prompt, params, sink, cancel)?;
        if params.keep_prompt_prefix {
            if save {
                save_prefix(
                    &self.model,
                    &self.cached_tokens,
                    self.prompt_cache.as_ref(),
                    prefix,
                );
            }
            if let Some(draft) = self.draft_model.as_ref().filter(|_| draft_save) {
                save_prefix(
                    &draft.model,
                    &draft.cached_tokens,
                    draft.prompt_cache.as_ref(),
                    prefix,
                );
            }
        }
        Ok(output)
    }
}

/// What the last forward pass left to read: its logits rows, and the drafted tokens still to
/// check against them (one row more than drafts: the last row follows the last draft).
#[derive(Debug)]
struct Pass {
    rows: VecDeque<Tensor>,
    unchecked: VecDeque<Drafted>,
}

/// The text of a reply so far, streamed to a sink piece by piece.
#[derive(Debug, Default)]
struct Reply {
    stream: TextStream,
    text: String,
}

impl Reply {
    fn push(
        &mut self,
        tokenizer: &GgufTokenizer,
        sink: &mut dyn TokenSink,
        token: u32,
    ) -> Result<()> {
        if let Some(piece) = self.stream.push(tokenizer, token)? {
            self.text.push_str(&piece);
            sink.token(&piece);
        }
        Ok(())
    }
}

/// Where the reply-format compiler is.
#[derive(Debug)]
enum GrammarState {
    NotStarted,
    Building(std::thread::JoinHandle<Result<Grammars>>),
    Ready(Box<Grammars>),
    /// Building it failed or is impossible; replies go unconstrained.
    Unavailable,
}

impl GrammarState {
    /// Compiles the vocabulary `words` on a thread of its own; `end` ends a reply.
    fn start(words: Vec<Vec<u8>>, end: u32) -> Self {
        let building = std::thread::Builder::new()
            .name("cmdai-grammar".into())
            .spawn(move || {
                let started = Instant::now();
                let built = Grammars::from_words(words, end);
                tracing::debug!("constrained decoding ready in {:?}", started.elapsed());
                built
            });
        match building {
            Ok(handle) => GrammarState::Building(handle),
            Err(error) => {
                tracing::warn!("cannot start a thread: {error}; replies are not constrained");
                GrammarState::Unavailable
            }
        }
    }
}

/// Every token that ends generation: the metadata's eos/eot/eom ids, the template's
/// end-of-turn marker, and the control tokens llama.cpp treats as end of generation.
fn stop_tokens(
    file: &GgufFile,
    tokenizer: &GgufTokenizer,
    template: &ChatTemplate,
) -> Result<BTreeSet<u32>> {
    let metadata = &file.content.metadata;
    let mut stops: BTreeSet<u32> = [
        "tokenizer.ggml.eos_token_id",
        "tokenizer.ggml.eot_token_id",
        "tokenizer.ggml.eom_token_id",
    ]
    .iter()
    .filter_map(|key| metadata.get(*key).and_then(|v| v.to_u32().ok()))
    .collect();
    if let Some(marker) = template.end_of_turn_marker()? {
        stops.extend(tokenizer.token_id(&marker));
    }
    for spelling in END_OF_GENERATION_SPELLINGS {
        if let Some(id) = tokenizer
            .token_id(spelling)
            .filter(|id| tokenizer.is_control(*id))
        {
            stops.insert(id);
        }
    }
    Ok(stops)
}

/// Makes `model`'s KV cache hold `prefix` (`cached` its tokens), from the prompt cache file
/// when there is one; returns whether the prefix still has to be saved once computed.
fn restore_prefix(
    model: &mut Transformer,
    cached: &mut Vec<u32>,
    cache: Option<&PromptCache>,
    prefix: &[u32],
) -> bool {
    let Some(cache) = cache else {
        return false;
    };
    if prefix.len() < MIN_CACHED_PREFIX || cached.starts_with(prefix) {
        return false;
    }
    let layers = model.spec().block_count;
    let Some(state) = cache.load(prefix, layers, model.device()) else {
        return true;
    };
    match model.restore_kv_state(&state) {
        Ok(()) => {
            *cached = prefix.to_vec();
            false
        }
        Err(error) => {
            tracing::warn!("ignoring the saved prompt state: {error}");
            model.reset();
            cached.clear();
            true
        }
    }
}

/// Saves the KV state of `prefix` from `model` (`cached` its tokens) into the prompt cache.
fn save_prefix(model: &Transformer, cached: &[u32], cache: Option<&PromptCache>, prefix: &[u32]) {
    let Some(cache) = cache else {
        return;
    };
    if !cached.starts_with(prefix) {
        return;
    }
    let saved = model
        .kv_state()
        .and_then(|state| cache.save(prefix, &state));
    if let Err(error) = saved {
        tracing::warn!("cannot save the prompt state: {error}");
    }
}

/// How a draft's vocabulary (`draft`, `draft_rows` embedding rows) differs from the model's,
/// if it does: the sizes, or the first token spelt differently.
fn vocabulary_difference(
    table: &TokenTable,
    rows: usize,
    draft: &TokenTable,
    draft_rows: usize,
) -> Option<String> {
    if (table.len(), rows) != (draft.len(), draft_rows) {
        return Some(format!(
            "{} tokens and {draft_rows} embedding rows, against {} and {rows}",
            draft.len(),
            table.len()
        ));
    }
    (0..u32::try_from(table.len()).unwrap_or(u32::MAX))
        .find(|&id| {
            table.token(id) != draft.token(id) || table.is_control(id) != draft.is_control(id)
        })
        .map(|id| {
            format!(
                "token {id} is {:?} there and {:?} here",
                draft.token(id).unwrap_or(""),
                table.token(id).unwrap_or("")
            )
        })
}

/// Refuses the model in `file` (at `path`) when running it on the CPU needs more memory than
/// is available.
fn check_memory(path: &Path, file: &GgufFile) -> Result<()> {
    let needed = memory::needed_on_cpu(memory::weight_bytes(&file.content));
    match memory::available().filter(|available| needed > *available) {
        Some(available) => Err(CandleError::NotEnoughMemory {
            path: path.to_owned(),
            needed: memory::human(needed),
            available: memory::human(available),
        }),
        None => Ok(()),
    }
}

/// Where a loaded model came from, for the prompt cache and the packed weights: its SHA-256
/// when known, else [`file_identity`].
fn identity(path: &Path, digest: Option<&str>) -> String {
    match digest {
        Some(digest) => format!("sha256:{digest}"),
        None => file_identity(path),
    }
}

/// Identifies a model file without hashing it: path, size and modification time.
fn file_identity(path: &Path) -> String {
    let meta = std::fs::metadata(path).ok();
    let size = meta.as_ref().map_or(0, |m| m.len());
    let modified = meta
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    format!("file:{}:{size}:{modified}", path.display())
}
