//! [`InferenceBackend`] over an OpenAI-compatible chat-completions server: vLLM, llama.cpp's
//! `llama-server`, Ollama, or OpenAI itself.
//!
//! Replies are streamed (server-sent events) into the [`TokenSink`]. When the prompt asks for
//! JSON of a schema, the server is asked to follow it (`response_format` with `json_schema`, which
//! vLLM, llama-server, Ollama and OpenAI all accept); a server that rejects that gets the plain
//! request, and the reply is parsed like local output either way. Connection errors, 429 and 5xx
//! are retried with backoff; 401 and 404 say which setting to fix.
//!
//! ```no_run
//! use cmdai_backend_openai::{ApiKey, OpenAiBackend, OpenAiOptions};
//! use cmdai_core::{CommandPrompt, Generator, ShellContext};
//!
//! let options = OpenAiOptions {
//!     model: Some("qwen2.5-coder:7b".into()),
//!     api_key: std::env::var("CMDAI_API_KEY").ok().map(ApiKey::new),
//!     ..OpenAiOptions::new("http://localhost:11434/v1")
//! };
//! let backend = OpenAiBackend::connect(options)?;
//! let mut generator = Generator::new(backend, CommandPrompt::default());
//! let context = ShellContext::new("linux", "bash", "/home/me");
//! let command = generator.generate("list files", &context)?;
//! println!("{}", command.command);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod sse;

use std::fmt;
use std::io::BufReader;
use std::time::{Duration, Instant};

use cmdai_core::{
    BackendError, CancelToken, Conversation, GenerationOutput, GenerationParams, InferenceBackend,
    ModelInfo, ReplyFormat, StopReason, TokenSink,
};
use serde::Deserialize;
use serde_json::{Value, json};
use ureq::http::{Response, StatusCode};
use ureq::tls::{RootCerts, TlsConfig};

use crate::sse::Events;

/// How long to wait for a connection before calling the server unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The first retry waits this long; each later one twice as long as the one before.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// No wait between retries is longer than this, whatever `Retry-After` says.
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// An API key. It is sent in the `Authorization` header and nowhere else: it has no `Display`,
/// and `Debug` prints it redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Where the server is and how to talk to it.
#[derive(Debug, Clone)]
pub struct OpenAiOptions {
    /// The API root, e.g. `http://localhost:8080/v1`; `/chat/completions` is appended.
    pub base_url: String,
    /// The model to ask for. `None` asks the server (`GET /models`) and takes the one model it
    /// serves (vLLM and llama-server serve one); several are an error that lists them.
    pub model: Option<String>,
    /// Sent as `Authorization: Bearer <key>`.
    pub api_key: Option<ApiKey>,
    /// Where the key comes from, e.g. `$CMDAI_API_KEY`, named in errors about it.
    pub api_key_source: Option<String>,
    /// How long to wait for the server to start answering, and for each chunk after that.
    pub timeout: Duration,
    /// Retries after a connection error, 429 or 5xx, before giving up.
    pub retries: u32,
    /// Ask the server to constrain replies to the prompt's response schema.
    pub structured_output: bool,
}

impl OpenAiOptions {
    /// Defaults for the server at `base_url`: 60 s timeout, 3 retries, structured output on.
    pub fn new(base_url: impl Into<String>) -> Self {
        OpenAiOptions {
            base_url: base_url.into(),
            model: None,
            api_key: None,
            api_key_source: None,
            timeout: Duration::from_secs(60),
            retries: 3,
            structured_output: true,
        }
    }
}

/// A chat-completions server as an [`InferenceBackend`].
#[derive(Debug)]
pub struct OpenAiBackend {
    agent: ureq::Agent,
    options: OpenAiOptions,
    /// The root without a trailing slash.
    base_url: String,
    model: String,
    /// The structured-output form to send; steps down when the server rejects one.
    format: Format,
}

impl OpenAiBackend {
    /// Prepares requests to the server in `options`. With a model name this sends nothing;
    /// without one it asks the server which model it serves.
    pub fn connect(options: OpenAiOptions) -> Result<Self, BackendError> {
        let tls = TlsConfig::builder()
            .root_certs(RootCerts::PlatformVerifier)
            .build();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls)
            .timeout_connect(Some(CONNECT_TIMEOUT.min(options.timeout)))
            .timeout_recv_response(Some(options.timeout))
            // A server that stalls in the middle of a reply fails after `timeout` without bytes.
            .timeout_per_read(Some(options.timeout))
            .user_agent(concat!("cmdai/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let base_url = options.base_url.trim_end_matches('/').to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(BackendError::failed(
                format!("the server URL {base_url:?} is not valid"),
                "it must start with http:// or https://, e.g. http://localhost:8080/v1",
            ));
        }
        let mut backend = OpenAiBackend {
            agent,
            format: if options.structured_output {
                Format::JsonSchema
            } else {
                Format::Off
            },
            base_url,
            model: options.model.clone().unwrap_or_default(),
            options,
        };
        if backend.model.is_empty() {
            backend.model = backend.served_model()?;
        }
        Ok(backend)
    }

    /// The model name requests ask for.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The one model `GET /models` lists.
    fn served_model(&self) -> Result<String, BackendError> {
        #[derive(Deserialize)]
        struct Models {
            data: Vec<ModelEntry>,
        }
        #[derive(Deserialize)]
        struct ModelEntry {
            id: String,
        }

        let url = format!("{}/models", self.base_url);
        let response = match self.send(
            || self.authorized(self.agent.get(&url)).call(),
            &CancelToken::new(),
        )? {
            Sent::Ok(response) => response,
            Sent::Rejected { code, message } => {
                return Err(BackendError::failed(
                    format!("{url} answered HTTP {code}: {message}"),
                    "set the model name explicitly",
                ));
            }
        };
        let mut body = response.into_body();
        let text = body.read_to_string().map_err(|e| {
            BackendError::failed(format!("cannot read the model list from {url}"), e)
        })?;
        let models: Models = serde_json::from_str(&text).map_err(|e| {
            BackendError::failed(
                format!("{url} did not answer with a model list; set the model name explicitly"),
                e,
            )
        })?;
        match models.data.as_slice() {
            [one] => Ok(one.id.clone()),
            [] => Err(BackendError::failed(
                format!("the server at {} serves no models", self.base_url),
                "load a model into the server, or set the model name explicitly",
            )),
            several => {
                let names: Vec<&str> = several.iter().map(|m| m.id.as_str()).collect();
                Err(BackendError::failed(
                    format!("the server at {} serves several models", self.base_url),
                    format!("choose one of: {}", names.join(", ")),
                ))
            }
        }
    }

    fn authorized<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.options.api_key {
            Some(ApiKey(key)) => request.header("Authorization", format!("Bearer {key}")),
            None => request,
        }
    }

    fn request_body(&self, conversation: &Conversation, params: &GenerationParams) -> Value {
        let messages: Vec<Value> = conversation
            .messages
            .iter()
            .map(|m| json!({ "role": m.role.as_str(), "content": m.content }))
            .collect();
        let mut body = json!({
            "model": self.model,
            "messages": messages,
            "stream": true,
            "stream_options": { "include_usage": true },
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": params.seed,
        });
        if !params.stop.is_empty() {
            body["stop"] = json!(params.stop);
        }
        // A code block is asked for in the prompt only: no server constrains to one.
        match (self.format, &params.reply_format) {
            (Format::JsonSchema, Some(ReplyFormat::Json(schema))) => {
                body["response_format"] = json!({
                    "type": "json_schema",
                    "json_schema": { "name": "reply", "schema": schema, "strict": true },
                });
            }
            (Format::JsonObject, Some(ReplyFormat::Json(schema))) => {
                body["response_format"] = json!({ "type": "json_object", "schema": schema });
            }
            _ => {}
        }
        body
    }

    /// Sends with `call`, retrying connection errors, 429 and 5xx with exponential backoff (or
    /// the server's `Retry-After`); returns the first other answer, mapped to an error unless it
    /// is a success or a rejection of the request's content for the caller to look at: 400, 422,
    /// or a 500 that complains about `response_format` (llama-cpp-python's validation errors).
    fn send(
        &self,
        call: impl Fn() -> Result<Response<ureq::Body>, ureq::Error>,
        cancel: &CancelToken,
    ) -> Result<Sent, BackendError> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt > self.options.retries;
            let wait = match call() {
                Ok(response) if response.status().is_success() => return Ok(Sent::Ok(response)),
                Ok(response) => {
                    let status = response.status();
                    let wait = retry_after(&response).unwrap_or(backoff);
                    let message = server_message(response);
                    let code = status.as_u16();
                    if code == 400
                        || code == 422
                        || (code == 500 && message.contains("response_format"))
                    {
                        return Ok(Sent::Rejected { code, message });
                    }
                    if !retryable(status) || last {
                        return Err(self.status_error(status, &message, attempt));
                    }
                    wait
                }
                Err(ureq::Error::Timeout(_)) => {
                    return Err(BackendError::Unreachable {
                        context: format!(
                            "the server at {} did not answer within {} s",
                            self.base_url,
                            self.options.timeout.as_secs_f64()
                        ),
                        source: "it may be overloaded or still loading the model; raise the timeout or try again".into(),
                    });
                }
                Err(error) if connection_error(&error) && !last => backoff,
                Err(error) if connection_error(&error) => {
                    return Err(BackendError::Unreachable {
                        context: format!(
                            "cannot reach the server at {} (tried {attempt} times)",
                            self.base_url
                        ),
                        source: error.into(),
                    });
                }
                Err(error) => {
                    return Err(BackendError::failed(
                        format!("the request to {} failed", self.base_url),
                        error,
                    ));
                }
            };
            // Backoff before the next attempt: a real wait (the server asked for it or is
            // struggling), in short slices so that Ctrl-C still stops it at once.
            tracing::debug!(attempt, ?wait, "retrying the request");
            let until = Instant::now() + wait.min(MAX_BACKOFF);
            while Instant::now() < until {
                if cancel.is_cancelled() {
                    return Err(BackendError::Cancelled);
                }
                std::thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// The error for a response that is neither a success nor retried.
    fn status_error(&self, status: StatusCode, message: &str, attempts: u32) -> BackendError {
        let code = status.as_u16();
        let context = match code {
            401 | 403 => format!(
                "the server at {} refused the request (HTTP {code}: {message})",
                self.base_url
            ),
            404 => format!(
                "the server at {} has no model {:?} or no chat-completions endpoint (HTTP 404: {message})",
                self.base_url, self.model
            ),
            _ if retryable(status) => format!(
                "the server at {} kept failing (HTTP {code}: {message}; {attempts} attempts)",
                self.base_url
            ),
            _ => format!(
                "the server at {} answered HTTP {code}: {message}",
                self.base_url
            ),
        };
        let source = self
            .options
            .api_key_source
            .as_deref()
            .map(|source| format!(" in {source}"))
            .unwrap_or_default();
        let hint = match code {
            401 | 403 if self.options.api_key.is_none() => {
                format!("no API key was sent; put the key{source}")
            }
            401 | 403 => format!("check the API key{source}"),
            404 => "check the model name and the URL (it usually ends in /v1)".to_owned(),
            _ if retryable(status) => {
                "the server is overloaded or failing; try again later".to_owned()
            }
            _ => "check the server's log".to_owned(),
        };
        BackendError::failed(context, hint)
    }

    /// Reads the streamed reply, passing content to `sink` as it arrives.
    fn read_stream(
        &self,
        response: Response<ureq::Body>,
        sink: &mut dyn TokenSink,
        cancel: &CancelToken,
        started: Instant,
        time_limit: Option<Duration>,
    ) -> Result<GenerationOutput, BackendError> {
        let is_json = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let mut body = response.into_body();
        if is_json {
            // A server (or proxy) that ignored `stream: true` and sent the whole reply.
            let text = body.read_to_string().map_err(|e| self.broken(e, 0))?;
            let chunk: Chunk = serde_json::from_str(&text).map_err(|e| self.broken(e, 0))?;
            let mut reply = Reply::default();
            reply.add(chunk, sink);
            return reply.finish(started, started.elapsed());
        }

        let mut events = Events::new(BufReader::new(body.into_reader()));
        let mut reply = Reply::default();
        let mut first_token = None;
        loop {
            if cancel.is_cancelled() {
                return Err(BackendError::Cancelled);
            }
            if time_limit.is_some_and(|limit| started.elapsed() >= limit) {
                reply.finish_reason = Some("time_limit".into());
                break;
            }
            let Some(data) = events
                .next_event()
                .map_err(|e| self.broken(e, reply.text.len()))?
            else {
                break;
            };
            if data.trim() == "[DONE]" {
                reply.done = true;
                break;
            }
            let chunk: Chunk = serde_json::from_str(&data).map_err(|e| {
                BackendError::failed(
                    format!(
                        "the server at {} sent a chunk cmdai cannot read: {data:.200}",
                        self.base_url
                    ),
                    e,
                )
            })?;
            if let Some(error) = chunk.error {
                return Err(BackendError::failed(
                    format!(
                        "the server at {} reported an error mid-reply",
                        self.base_url
                    ),
                    error.to_string(),
                ));
            }
            let before = reply.text.len();
            reply.add(chunk, sink);
            if first_token.is_none() && reply.text.len() > before {
                first_token = Some(started.elapsed());
            }
        }
        if !reply.done && reply.finish_reason.is_none() {
            return Err(self.broken(
                "the connection closed before the reply was complete",
                reply.text.len(),
            ));
        }
        reply.finish(started, first_token.unwrap_or_else(|| started.elapsed()))
    }

    fn broken(
        &self,
        error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
        received: usize,
    ) -> BackendError {
        BackendError::failed(
            format!(
                "the server at {} stopped in the middle of the reply (after {received} bytes)",
                self.base_url
            ),
            error,
        )
    }
}

impl InferenceBackend for OpenAiBackend {
    fn info(&self) -> ModelInfo {
        // The context window is the server's business; 0 means "not known here".
        ModelInfo::new(&self.model, "openai", &self.base_url, 0)
    }

    fn generate(
        &mut self,
        conversation: &Conversation,
        params: &GenerationParams,
        sink: &mut dyn TokenSink,
        cancel: &CancelToken,
    ) -> Result<GenerationOutput, BackendError> {
        let url = format!("{}/chat/completions", self.base_url);
        loop {
            let started = Instant::now();
            let body = self.request_body(conversation, params);
            let sent = self.send(
                || self.authorized(self.agent.post(&url)).send_json(&body),
                cancel,
            )?;
            let (code, message) = match sent {
                Sent::Ok(response) => {
                    return self.read_stream(response, sink, cancel, started, params.time_limit);
                }
                Sent::Rejected { code, message } => (code, message),
            };
            if body.get("response_format").is_some() {
                // Servers without (this form of) structured output reject the field: try the
                // next form, then none; the reply is parsed the same way either way.
                tracing::info!(%message, format = ?self.format, "the server rejected response_format");
                self.format = self.format.fallback();
                continue;
            }
            return Err(BackendError::failed(
                format!(
                    "the server at {} rejected the request (HTTP {code}: {message})",
                    self.base_url
                ),
                "check the server's log and the generation settings",
            ));
        }
    }
}

/// What [`OpenAiBackend::send`] got back.
enum Sent {
    Ok(Response<ureq::Body>),
    /// The server refused the request's content (400, 422, or a 500 about `response_format`).
    Rejected {
        code: u16,
        message: String,
    },
}

/// How to ask the server for output that follows the response schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// `{"type": "json_schema", "json_schema": {"schema": ...}}`: OpenAI, vLLM, llama-server,
    /// Ollama.
    JsonSchema,
    /// `{"type": "json_object", "schema": ...}`: llama-cpp-python, older llama-server.
    JsonObject,
    /// No `response_format`.
    Off,
}

impl Format {
    fn fallback(self) -> Self {
        match self {
            Format::JsonSchema => Format::JsonObject,
            Format::JsonObject | Format::Off => Format::Off,
        }
    }
}

/// One streamed chunk (or a whole non-streamed reply) of a chat completion.
#[derive(Debug, Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<Usage>,
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    /// Streamed chunks carry `delta`, whole replies `message`.
    #[serde(alias = "message")]
    delta: Option<Delta>,
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Delta {
    content: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Usage {
    prompt_tokens: Option<usize>,
    completion_tokens: Option<usize>,
    prompt_tokens_details: Option<PromptTokensDetails>,
}

#[derive(Debug, Deserialize)]
struct PromptTokensDetails {
    cached_tokens: Option<usize>,
}

/// The reply as it accumulates.
#[derive(Debug, Default)]
struct Reply {
    text: String,
    pieces: usize,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    done: bool,
}

impl Reply {
    fn add(&mut self, chunk: Chunk, sink: &mut dyn TokenSink) {
        for choice in chunk.choices.into_iter().take(1) {
            if let Some(content) = choice.delta.and_then(|d| d.content)
                && !content.is_empty()
            {
                sink.token(&content);
                self.text.push_str(&content);
                self.pieces += 1;
            }
            if choice.finish_reason.is_some() {
                self.finish_reason = choice.finish_reason;
            }
        }
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
        }
    }

    fn finish(
        self,
        started: Instant,
        first_token: Duration,
    ) -> Result<GenerationOutput, BackendError> {
        let usage = self.usage.as_ref();
        Ok(GenerationOutput {
            prompt_tokens: usage.and_then(|u| u.prompt_tokens).unwrap_or(0),
            cached_prompt_tokens: usage
                .and_then(|u| u.prompt_tokens_details.as_ref())
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
            generated_tokens: usage
                .and_then(|u| u.completion_tokens)
                .unwrap_or(self.pieces),
            prefill: first_token,
            decode: started.elapsed().saturating_sub(first_token),
            stop_reason: match self.finish_reason.as_deref() {
                Some("length") => StopReason::Length,
                Some("time_limit") => StopReason::TimeLimit,
                _ => StopReason::EndOfGeneration,
            },
            text: self.text,
        })
    }
}

fn retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

fn connection_error(error: &ureq::Error) -> bool {
    matches!(
        error,
        ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::HostNotFound
    )
}

/// `Retry-After` in seconds, if the server sent one.
fn retry_after(response: &Response<ureq::Body>) -> Option<Duration> {
    let seconds: f64 = response
        .headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

/// The server's own words about an error: `{"error": {"message": ...}}` (OpenAI, llama-server),
/// `{"message": ...}` (vLLM), `{"error": "..."}` (Ollama), `{"detail": ...}` (FastAPI), or the
/// start of the body.
fn server_message(response: Response<ureq::Body>) -> String {
    let text = response
        .into_body()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .unwrap_or_default();
    let found = serde_json::from_str::<Value>(&text).ok().and_then(|value| {
        let candidates = [
            value.pointer("/error/message"),
            value.get("message"),
            value.get("error"),
            value.get("detail"),
        ];
        candidates.into_iter().flatten().find_map(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        })
    });
    let message = found.unwrap_or(text);
    let message = message.trim();
    if message.is_empty() {
        "no details".to_owned()
    } else {
        message.chars().take(300).collect()
    }
}
