//! The generator: backend + prompt + response parsing = a command.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::{
    CancelToken, GenerateError, GenerationParams, InferenceBackend, NullSink, PromptBuilder,
    ShellContext, TokenSink, parse_response,
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

fn as_millis<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64() * 1000.0)
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
}

/// Turns requests into commands with one backend and one prompt.
#[derive(Debug)]
pub struct Generator<B, P> {
    backend: B,
    prompt: P,
    params: GenerationParams,
}

impl<B: InferenceBackend, P: PromptBuilder> Generator<B, P> {
    /// A generator with default (greedy) generation parameters.
    pub fn new(backend: B, prompt: P) -> Self {
        Generator {
            backend,
            prompt,
            params: GenerationParams::default(),
        }
        .with_params(GenerationParams::default())
    }

    /// Replaces the generation parameters. Without a response schema of their own, they get
    /// the prompt's.
    pub fn with_params(mut self, mut params: GenerationParams) -> Self {
        if params.response_schema.is_none() {
            params.response_schema = self.prompt.response_schema();
        }
        self.params = params;
        self
    }

    /// The backend, e.g. to ask for its [`ModelInfo`](crate::ModelInfo).
    pub fn backend(&self) -> &B {
        &self.backend
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
        let request = request.trim();
        if request.is_empty() {
            return Err(GenerateError::EmptyRequest);
        }
        let conversation = self.prompt.build(request, context);
        let output = self
            .backend
            .generate(&conversation, &self.params, sink, cancel)?;
        let parsed = parse_response(&output.text).map_err(|reason| GenerateError::Parse {
            reason,
            stopped: output.stop_reason,
        })?;
        Ok(GeneratedCommand {
            command: parsed.command,
            explanation: parsed.explanation,
            model: self.backend.info().model,
            prompt_tokens: output.prompt_tokens,
            cached_prompt_tokens: output.cached_prompt_tokens,
            generated_tokens: output.generated_tokens,
            timings: Timings {
                prefill: output.prefill,
                decode: output.decode,
                total: started.elapsed(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        BackendError, CommandPrompt, Conversation, GenerationOutput, ModelInfo, Role, StopReason,
    };

    /// Replies with a scripted text, streamed word by word, and records what it was asked.
    struct Scripted {
        reply: &'static str,
        stop_reason: StopReason,
        seen: Vec<Conversation>,
    }

    impl Scripted {
        fn new(reply: &'static str) -> Self {
            Scripted {
                reply,
                stop_reason: StopReason::EndOfGeneration,
                seen: Vec::new(),
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
            _params: &GenerationParams,
            sink: &mut dyn TokenSink,
            cancel: &CancelToken,
        ) -> Result<GenerationOutput, BackendError> {
            self.seen.push(conversation.clone());
            for piece in self.reply.split_inclusive(' ') {
                if cancel.is_cancelled() {
                    return Err(BackendError::Cancelled);
                }
                sink.token(piece);
            }
            let mut output = GenerationOutput::from_text(self.reply);
            output.stop_reason = self.stop_reason;
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
        assert!(
            asked
                .last()
                .unwrap()
                .content
                .starts_with("list all files\n")
        );
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
