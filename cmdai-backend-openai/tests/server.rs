//! The backend against a chat-completions server on loopback (see `support`).

mod support;

use std::net::TcpListener;
use std::time::Duration;

use cmdai_backend_openai::{ApiKey, OpenAiBackend, OpenAiOptions};
use cmdai_core::{
    BackendError, CancelToken, CommandPrompt, Conversation, GenerateError, GenerationParams,
    Generator, InferenceBackend, PromptBuilder, ReplyFormat, Role, ShellContext, StopReason,
};
use serde_json::json;
use support::{Answer, Server, delta, finish, usage};

/// The server's address with the backend's test defaults.
fn test_options(server: &Server) -> OpenAiOptions {
    OpenAiOptions {
        model: Some("test-model".into()),
        timeout: Duration::from_secs(10),
        ..OpenAiOptions::new(server.url())
    }
}

fn ls_reply() -> Answer {
    Answer::Stream(vec![
        delta("{\"cmd\":"),
        delta(" \"ls -la\""),
        delta("}"),
        finish("stop"),
        usage(57, 6),
    ])
}

fn generate(backend: &mut OpenAiBackend) -> Result<String, BackendError> {
    let conversation = Conversation::new().with(Role::User, "list files");
    backend
        .generate(
            &conversation,
            &GenerationParams::default(),
            &mut cmdai_core::NullSink,
            &CancelToken::new(),
        )
        .map(|out| out.text)
}

fn context() -> ShellContext {
    ShellContext::new("linux", "bash", "/home/me")
}

/// A prompt that asks for `{"cmd": "..."}`, as another application's prompt may: its schema is
/// what a server's structured-output mode is given. (cmdai's own asks for a code block.)
struct JsonPrompt;

impl PromptBuilder for JsonPrompt {
    fn version(&self) -> &str {
        "json-test"
    }

    fn build(&self, request: &str, context: &ShellContext) -> Conversation {
        CommandPrompt::default().build(request, context)
    }

    fn reply_format(&self) -> Option<ReplyFormat> {
        Some(ReplyFormat::Json(json!({
            "type": "object",
            "properties": { "cmd": { "type": "string", "minLength": 1 } },
            "required": ["cmd"],
        })))
    }
}

#[test]
fn a_full_generation_streams_the_reply_and_sends_what_the_server_needs() {
    let server = Server::start(vec![ls_reply()]);
    let options = OpenAiOptions {
        api_key: Some(ApiKey::new("sk-test-secret")),
        ..test_options(&server)
    };
    let backend = OpenAiBackend::connect(options).unwrap();
    let mut generator = Generator::new(backend, CommandPrompt::default());
    let mut pieces = Vec::new();
    let command = generator
        .generate_streaming(
            "list all files",
            &context(),
            &mut |piece: &str| pieces.push(piece.to_owned()),
            &CancelToken::new(),
        )
        .unwrap();
    assert_eq!(command.command, "ls -la");
    assert_eq!(pieces, ["{\"cmd\":", " \"ls -la\"", "}"]);
    assert_eq!((command.prompt_tokens, command.generated_tokens), (57, 6));

    let seen = server.seen();
    let request = &seen[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(
        request.header("authorization"),
        Some("Bearer sk-test-secret")
    );
    let body = &request.body;
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["stream"], true);
    assert_eq!(body["temperature"], 0.0);
    assert_eq!(body["max_tokens"], 256);
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    let last = messages.last().unwrap();
    assert_eq!(last["role"], "user");
    assert!(
        last["content"]
            .as_str()
            .unwrap()
            .starts_with("list all files")
    );
    // cmdai's prompt asks for a code block, which no server can be held to: no
    // `response_format`. (A JSON reply, as here, is read all the same.)
    assert!(
        messages[0]["content"].as_str().unwrap().contains("```bash"),
        "{}",
        messages[0]["content"]
    );
    assert!(body.get("response_format").is_none());
}

#[test]
fn a_prompt_that_asks_for_json_sends_its_schema_as_a_structured_output_request() {
    let server = Server::start(vec![ls_reply()]);
    let backend = OpenAiBackend::connect(test_options(&server)).unwrap();
    let mut generator = Generator::new(backend, JsonPrompt);
    let command = generator.generate("list all files", &context()).unwrap();
    assert_eq!(command.command, "ls -la");
    let format = &server.seen()[0].body["response_format"];
    assert_eq!(format["type"], "json_schema");
    assert_eq!(format["json_schema"]["schema"]["required"], json!(["cmd"]));
}

#[test]
fn the_stop_reason_and_stop_strings_are_passed_through() {
    let server = Server::start(vec![Answer::Stream(vec![
        delta("{\"cmd\": \"ls"),
        finish("length"),
    ])]);
    let mut backend = OpenAiBackend::connect(test_options(&server)).unwrap();
    let params = GenerationParams {
        stop: vec!["\n\n".into()],
        max_tokens: 3,
        ..GenerationParams::default()
    };
    let conversation = Conversation::new().with(Role::User, "list files");
    let out = backend
        .generate(
            &conversation,
            &params,
            &mut cmdai_core::NullSink,
            &CancelToken::new(),
        )
        .unwrap();
    assert_eq!(out.stop_reason, StopReason::Length);
    assert_eq!(out.generated_tokens, 1, "without usage, pieces are counted");
    let body = &server.seen()[0].body;
    assert_eq!(body["stop"], json!(["\n\n"]));
    assert_eq!(body["max_tokens"], 3);
    assert!(
        body.get("response_format").is_none(),
        "no schema, no response_format"
    );
}

#[test]
fn a_server_that_dies_mid_stream_is_an_error_not_half_a_command() {
    let server = Server::start(vec![Answer::HangUp(vec![delta(
        "{\"cmd\": \"rm -rf /tmp/bui",
    )])]);
    let mut backend = OpenAiBackend::connect(test_options(&server)).unwrap();
    let error = generate(&mut backend).unwrap_err().to_string();
    assert!(
        error.contains("stopped in the middle of the reply"),
        "{error}"
    );
}

#[test]
fn a_slow_server_hits_the_timeout() {
    let server = Server::start(vec![Answer::Stall]);
    let options = OpenAiOptions {
        timeout: Duration::from_millis(500),
        ..test_options(&server)
    };
    let mut backend = OpenAiBackend::connect(options).unwrap();
    let error = generate(&mut backend).unwrap_err();
    assert!(
        matches!(error, BackendError::Unreachable { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("did not answer within 0.5 s"),
        "{error}"
    );
    assert_eq!(server.seen().len(), 1, "a timeout is not retried");
}

#[test]
fn unauthorised_says_to_check_the_key_and_never_shows_it() {
    let body = json!({ "error": { "message": "Incorrect API key provided", "type": "invalid_request_error" } });
    let server = Server::start(vec![Answer::Status(401, body, vec![])]);
    let options = OpenAiOptions {
        api_key: Some(ApiKey::new("sk-very-secret")),
        ..test_options(&server)
    };
    assert!(!format!("{options:?}").contains("sk-very-secret"));
    let mut backend = OpenAiBackend::connect(options).unwrap();
    assert!(!format!("{backend:?}").contains("sk-very-secret"));
    let error = generate(&mut backend).unwrap_err();
    let message = format!("{error}: {}", std::error::Error::source(&error).unwrap());
    assert!(
        message.contains("HTTP 401: Incorrect API key provided"),
        "{message}"
    );
    assert!(message.contains("check the API key"), "{message}");
    assert!(!message.contains("sk-very-secret"), "{message}");
}

#[test]
fn not_found_names_the_model_to_fix() {
    let body = json!({ "error": { "message": "model 'test-model' not found" } });
    let server = Server::start(vec![Answer::Status(404, body, vec![])]);
    let mut backend = OpenAiBackend::connect(test_options(&server)).unwrap();
    let error = generate(&mut backend).unwrap_err();
    let message = format!("{error}: {}", std::error::Error::source(&error).unwrap());
    assert!(message.contains("no model \"test-model\""), "{message}");
    assert!(message.contains("check the model name"), "{message}");
}

#[test]
fn busy_and_failing_servers_are_retried_with_backoff() {
    let busy = Answer::Status(429, json!({ "error": "busy" }), vec![("Retry-After", "0")]);
    let failing = Answer::Status(503, json!({ "message": "loading" }), vec![]);
    let server = Server::start(vec![busy, failing, ls_reply()]);
    let mut backend = OpenAiBackend::connect(test_options(&server)).unwrap();
    assert_eq!(generate(&mut backend).unwrap(), "{\"cmd\": \"ls -la\"}");
    assert_eq!(server.seen().len(), 3);

    let answers = (0..3)
        .map(|_| Answer::Status(500, json!({ "detail": "boom" }), vec![("Retry-After", "0")]))
        .collect();
    let server = Server::start(answers);
    let options = OpenAiOptions {
        retries: 2,
        ..test_options(&server)
    };
    let mut backend = OpenAiBackend::connect(options).unwrap();
    let error = generate(&mut backend).unwrap_err().to_string();
    assert!(
        error.contains("kept failing (HTTP 500: boom; 3 attempts)"),
        "{error}"
    );
    assert_eq!(server.seen().len(), 3);
}

#[test]
fn a_server_that_is_not_there_is_unreachable() {
    let address = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let options = OpenAiOptions {
        model: Some("m".into()),
        retries: 1,
        ..OpenAiOptions::new(format!("http://{address}/v1"))
    };
    let mut backend = OpenAiBackend::connect(options).unwrap();
    let error = generate(&mut backend).unwrap_err();
    assert!(
        matches!(error, BackendError::Unreachable { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("cannot reach the server"),
        "{error}"
    );
}

#[test]
fn a_server_without_structured_output_is_asked_again_without_it() {
    let rejected = || {
        Answer::Status(
            400,
            json!({ "error": { "message": "response_format not supported" } }),
            vec![],
        )
    };
    let server = Server::start(vec![rejected(), rejected(), ls_reply(), ls_reply()]);
    let backend = OpenAiBackend::connect(test_options(&server)).unwrap();
    let mut generator = Generator::new(backend, JsonPrompt);
    for _ in 0..2 {
        assert_eq!(
            generator
                .generate("list files", &context())
                .unwrap()
                .command,
            "ls -la"
        );
    }
    let seen = server.seen();
    assert_eq!(seen[0].body["response_format"]["type"], "json_schema");
    assert_eq!(seen[1].body["response_format"]["type"], "json_object");
    assert!(seen[2].body.get("response_format").is_none());
    assert!(seen[3].body.get("response_format").is_none(), "remembered");
}

/// llama-cpp-python answers an unsupported `response_format` with a 500 validation error and
/// takes `{"type": "json_object", "schema": ...}`.
#[test]
fn a_validation_error_about_response_format_is_not_retried_but_answered_with_another_form() {
    let validation = json!({ "error": { "message": "1 validation error: ('body', 'response_format', 'type') Input should be 'text' or 'json_object'" } });
    let server = Server::start(vec![Answer::Status(500, validation, vec![]), ls_reply()]);
    let mut backend = OpenAiBackend::connect(test_options(&server)).unwrap();
    let conversation = Conversation::new().with(Role::User, "list files");
    let params = GenerationParams {
        reply_format: JsonPrompt.reply_format(),
        ..GenerationParams::default()
    };
    backend
        .generate(
            &conversation,
            &params,
            &mut cmdai_core::NullSink,
            &CancelToken::new(),
        )
        .unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let format = &seen[1].body["response_format"];
    assert_eq!(format["type"], "json_object");
    assert_eq!(format["schema"]["required"], json!(["cmd"]));
}

#[test]
fn the_model_is_asked_of_the_server_when_not_configured() {
    let one =
        json!({ "object": "list", "data": [{ "id": "qwen2.5-coder-7b", "object": "model" }] });
    let server = Server::start(vec![Answer::Json(one), ls_reply()]);
    let options = OpenAiOptions {
        model: None,
        ..test_options(&server)
    };
    let mut backend = OpenAiBackend::connect(options).unwrap();
    assert_eq!(backend.model(), "qwen2.5-coder-7b");
    generate(&mut backend).unwrap();
    let seen = server.seen();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("GET", "/v1/models")
    );
    assert_eq!(seen[1].body["model"], "qwen2.5-coder-7b");

    let several = json!({ "data": [{ "id": "a" }, { "id": "b" }] });
    let server = Server::start(vec![Answer::Json(several)]);
    let options = OpenAiOptions {
        model: None,
        ..test_options(&server)
    };
    let error = OpenAiBackend::connect(options).unwrap_err();
    let message = format!("{error}: {}", std::error::Error::source(&error).unwrap());
    assert!(
        message.contains("several models") && message.contains("a, b"),
        "{message}"
    );
}

#[test]
fn a_whole_reply_instead_of_a_stream_is_accepted() {
    let reply = json!({
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": "{\"cmd\": \"pwd\"}" }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 40, "completion_tokens": 5 }
    });
    let server = Server::start(vec![Answer::Json(reply)]);
    let mut backend = OpenAiBackend::connect(test_options(&server)).unwrap();
    assert_eq!(generate(&mut backend).unwrap(), "{\"cmd\": \"pwd\"}");
}

#[test]
fn cancelling_stops_reading_the_stream() {
    let server = Server::start(vec![ls_reply()]);
    let backend = OpenAiBackend::connect(test_options(&server)).unwrap();
    let mut generator = Generator::new(backend, CommandPrompt::default());
    let cancel = CancelToken::new();
    let flag = cancel.clone();
    let result = generator.generate_streaming(
        "list files",
        &context(),
        &mut |_: &str| flag.cancel(),
        &cancel,
    );
    assert!(
        matches!(result, Err(GenerateError::Backend(BackendError::Cancelled))),
        "{result:?}"
    );
}

#[test]
fn a_url_without_a_scheme_is_refused_up_front() {
    let error = OpenAiBackend::connect(OpenAiOptions::new("localhost:8080/v1")).unwrap_err();
    assert!(error.to_string().contains("is not valid"), "{error}");
}
