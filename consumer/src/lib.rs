//! A stand-in application: its own inference backend over cmdai-core's traits, the way the
//! README and `cmdai-core/examples/library.rs` show, and the safety analysis on its output.

use cmdai_core::safety::{Analysis, Analyzer};
use cmdai_core::{
    BackendError, CancelToken, CommandPrompt, Conversation, GenerationOutput, GenerationParams,
    Generator, InferenceBackend, ModelInfo, ShellContext, TokenSink,
};

/// Answers every request with one fixed command, in the JSON shape cmdai's prompt asks for.
#[derive(Debug)]
pub struct FixedBackend {
    pub command: String,
}

impl InferenceBackend for FixedBackend {
    fn info(&self) -> ModelInfo {
        ModelInfo::new("fixed", "consumer", "cpu", 4096)
    }

    fn generate(
        &mut self,
        _conversation: &Conversation,
        _params: &GenerationParams,
        sink: &mut dyn TokenSink,
        cancel: &CancelToken,
    ) -> Result<GenerationOutput, BackendError> {
        if cancel.is_cancelled() {
            return Err(BackendError::Cancelled);
        }
        let reply = json_reply(&self.command);
        sink.token(&reply);
        Ok(GenerationOutput::from_text(reply))
    }
}

/// `{"cmd": "..."}` with the command's quotes and backslashes escaped.
fn json_reply(command: &str) -> String {
    let escaped = command.replace('\\', "\\\\").replace('"', "\\\"");
    format!(r#"{{"cmd": "{escaped}"}}"#)
}

/// Generates a command for `request` with `backend`, and analyses it.
pub fn suggest(backend: FixedBackend, request: &str) -> Result<(String, Analysis), String> {
    let mut generator = Generator::new(backend, CommandPrompt::default());
    let context = ShellContext::new("linux", "bash", ".");
    let generated = generator
        .generate(request, &context)
        .map_err(|error| error.to_string())?;
    let analysis = Analyzer::default().analyze(&generated.command);
    Ok((generated.command, analysis))
}
