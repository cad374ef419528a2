//! The inference trait: what a backend (local Candle, a remote server, a test fake) provides.

use std::error::Error as StdError;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::Conversation;

/// Describes the model behind a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    /// The model's identifier (catalog id or file name).
    pub model: String,
    /// Which backend runs it, e.g. `candle`.
    pub backend: String,
    /// Which device runs it, e.g. `cpu`.
    pub device: String,
    /// The context window in tokens.
    pub context_length: usize,
}

impl ModelInfo {
    /// Builds a description.
    pub fn new(
        model: impl Into<String>,
        backend: impl Into<String>,
        device: impl Into<String>,
        context_length: usize,
    ) -> Self {
        ModelInfo {
            model: model.into(),
            backend: backend.into(),
            device: device.into(),
            context_length,
        }
    }
}

/// How to sample tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationParams {
    /// The most tokens to generate.
    pub max_tokens: usize,
    /// Softmax temperature; `0.0` means greedy decoding.
    pub temperature: f32,
    /// Nucleus sampling: keep the smallest set of tokens whose probability reaches this.
    pub top_p: f32,
    /// Seed for the sampler, so sampled runs can be repeated.
    pub seed: u64,
    /// Extra strings that end generation when they appear in the output.
    pub stop: Vec<String>,
    /// The shape the reply must have, from the prompt
    /// ([`PromptBuilder::reply_format`](crate::PromptBuilder::reply_format)). Backends that can
    /// constrain their output (a grammar, a server's structured-output mode) use it; the reply
    /// is parsed the same way either way. `None`: free text.
    pub reply_format: Option<ReplyFormat>,
    /// The most time generation may take, prompt included; it stops there with
    /// [`StopReason::TimeLimit`]. `None`: no limit.
    pub time_limit: Option<Duration>,
    /// Whether a backend may keep the prompt's shared part (everything before the last
    /// message) for later processes, e.g. on disk. Off for a one-off prompt, such as a
    /// revision whose earlier turns no other request will share, so it does not fill the cache.
    pub keep_prompt_prefix: bool,
}

impl Default for GenerationParams {
    fn default() -> Self {
        // A command is rarely longer than a hundred tokens; greedy decoding gives the most
        // likely command and makes runs repeatable. `top_p` matters only once a caller samples
        // (a temperature above 0, a retry, the alternatives): 0.95 keeps samples out of the
        // improbable tail. The `cmdai` binary's default is this one.
        GenerationParams {
            max_tokens: 256,
            temperature: 0.0,
            top_p: 0.95,
            seed: 42,
            stop: Vec::new(),
            reply_format: None,
            time_limit: None,
            keep_prompt_prefix: true,
        }
    }
}

/// The shape of a reply a prompt asks for, which a backend that can constrain its output holds
/// the reply to.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplyFormat {
    /// One JSON value that follows this JSON schema.
    Json(serde_json::Value),
    /// One fenced code block and nothing else: three backticks and this info string (`bash`)
    /// on the first line, the code, then three backticks on a line of their own.
    CodeBlock(String),
}

/// Receives generated text piece by piece, as it is produced.
pub trait TokenSink {
    /// Called with each new piece of text (one token or a few, always valid UTF-8).
    fn token(&mut self, text: &str);

    /// The text so far is thrown away and a new reply follows, for the reason given. Sinks that
    /// show the text say so.
    fn restart(&mut self, _why: &Restart) {}
}

/// Why the generator throws a reply away and asks for another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restart {
    /// The greedy reply ran out of tokens; another is drawn with sampling.
    OutOfTokens,
    /// The command has this flaw; the model is asked once more, with the flaw named.
    Flaw(crate::Flaw),
    /// The fix of a failed command is that command again; the model is asked once more, told
    /// so.
    Unchanged,
    /// The command leaves out something the request asks for, and a small change to it
    /// ([`Asked::repair`](crate::Asked::repair)) does it: this command, asked for no more.
    Repaired {
        /// What the command left out.
        flaw: crate::Flaw,
        /// The command changed.
        command: String,
    },
}

impl std::fmt::Display for Restart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Restart::OutOfTokens => {
                f.write_str("the reply ran out of tokens; trying again with sampling")
            }
            Restart::Flaw(flaw) => write!(f, "that command looks wrong: {flaw}; asking once more"),
            Restart::Unchanged => {
                f.write_str("the fix is the command that failed; asking once more")
            }
            Restart::Repaired { flaw, command } => {
                write!(
                    f,
                    "that command looks wrong: {flaw}; changed to `{command}`"
                )
            }
        }
    }
}

impl<F: FnMut(&str)> TokenSink for F {
    fn token(&mut self, text: &str) {
        self(text)
    }
}

/// A sink that drops everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl TokenSink for NullSink {
    fn token(&mut self, _text: &str) {}
}

/// A cheap, cloneable flag that asks a running generation to stop.
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    own: Arc<AtomicBool>,
    /// The token this one was made from ([`child`](Self::child)), if any.
    parent: Option<Arc<AtomicBool>>,
}

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// A token that is cancelled when this one is, and can also be cancelled on its own
    /// without cancelling this one (one generation of several).
    pub fn child(&self) -> Self {
        CancelToken {
            own: Arc::default(),
            parent: Some(Arc::clone(&self.own)),
        }
    }

    /// Asks every holder of this token (and of its children) to stop.
    pub fn cancel(&self) {
        self.own.store(true, Ordering::Relaxed);
    }

    /// Whether [`cancel`](Self::cancel) was called, on this token or the one it was made from.
    pub fn is_cancelled(&self) -> bool {
        self.own.load(Ordering::Relaxed)
            || self
                .parent
                .as_ref()
                .is_some_and(|parent| parent.load(Ordering::Relaxed))
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The model produced an end-of-generation token.
    EndOfGeneration,
    /// One of the stop strings appeared.
    StopString,
    /// `max_tokens` was reached.
    Length,
    /// `time_limit` was reached.
    TimeLimit,
}

/// What a generation produced, with its costs.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationOutput {
    /// The generated text, without the end-of-generation token.
    pub text: String,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Of those, how many were already computed (a backend's prompt cache) and not prefilled.
    pub cached_prompt_tokens: usize,
    /// Tokens generated.
    pub generated_tokens: usize,
    /// Time spent on the prompt.
    pub prefill: Duration,
    /// Time spent generating.
    pub decode: Duration,
    /// Why generation ended.
    pub stop_reason: StopReason,
}

impl GenerationOutput {
    /// An output holding `text` with no token counts or timings, for backends that have none.
    pub fn from_text(text: impl Into<String>) -> Self {
        GenerationOutput {
            text: text.into(),
            prompt_tokens: 0,
            cached_prompt_tokens: 0,
            generated_tokens: 0,
            prefill: Duration::ZERO,
            decode: Duration::ZERO,
            stop_reason: StopReason::EndOfGeneration,
        }
    }
}

/// Errors a backend reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The caller cancelled the generation.
    #[error("generation cancelled")]
    Cancelled,
    /// The prompt does not fit in the model's context window.
    #[error(
        "the prompt needs {prompt_tokens} tokens but the model's context holds {context_length}; shorten the request"
    )]
    ContextOverflow {
        /// Tokens the prompt needs (including room to answer).
        prompt_tokens: usize,
        /// The context window.
        context_length: usize,
    },
    /// The backend could not be reached at all (a remote server that refuses connections or
    /// does not answer); nothing was generated, so another backend may be tried.
    #[error("{context}")]
    Unreachable {
        /// Where it was trying to reach.
        context: String,
        /// The underlying error.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The backend failed; the source says how.
    #[error("{context}")]
    Failed {
        /// What the backend was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

impl BackendError {
    /// Wraps a backend-specific error with what was being done.
    pub fn failed(
        context: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        BackendError::Failed {
            context: context.into(),
            source: source.into(),
        }
    }
}

/// A backend turns a conversation into generated text.
///
/// Implementations render the conversation with their model's chat template, generate until an
/// end-of-generation token, a stop string or `params.max_tokens`, pass each new piece of text to
/// `sink` as it is produced, and check `cancel` between tokens.
pub trait InferenceBackend {
    /// Describes the model and where it runs.
    fn info(&self) -> ModelInfo;

    /// Generates a reply to `conversation`.
    fn generate(
        &mut self,
        conversation: &Conversation,
        params: &GenerationParams,
        sink: &mut dyn TokenSink,
        cancel: &CancelToken,
    ) -> Result<GenerationOutput, BackendError>;
}

impl<B: InferenceBackend + ?Sized> InferenceBackend for Box<B> {
    fn info(&self) -> ModelInfo {
        (**self).info()
    }

    fn generate(
        &mut self,
        conversation: &Conversation,
        params: &GenerationParams,
        sink: &mut dyn TokenSink,
        cancel: &CancelToken,
    ) -> Result<GenerationOutput, BackendError> {
        (**self).generate(conversation, params, sink, cancel)
    }
}
