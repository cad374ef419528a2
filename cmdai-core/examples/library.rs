//! Using cmdai-core as a library: implement a backend, generate a command, check its risk.
//!
//! The backend here is a keyword table instead of a model, to keep the example self-contained;
//! a real one (cmdai-backend-candle, or one over your own inference server) runs the
//! conversation through a model and streams its tokens the same way.
//!
//! ```sh
//! cargo run -p cmdai-core --example library -- "delete the build directory"
//! ```

use cmdai_core::safety::{Analyzer, Policy};
use cmdai_core::{
    BackendError, CancelToken, CommandPrompt, Conversation, GenerationOutput, GenerationParams,
    Generator, InferenceBackend, ModelInfo, ShellContext, TokenSink,
};

/// Answers from a small table of keywords, in the JSON shape cmdai's prompt asks models for.
#[derive(Debug)]
struct KeywordBackend;

impl InferenceBackend for KeywordBackend {
    fn info(&self) -> ModelInfo {
        ModelInfo::new("keywords", "example", "cpu", 4096)
    }

    fn generate(
        &mut self,
        conversation: &Conversation,
        _params: &GenerationParams,
        sink: &mut dyn TokenSink,
        cancel: &CancelToken,
    ) -> Result<GenerationOutput, BackendError> {
        if cancel.is_cancelled() {
            return Err(BackendError::Cancelled);
        }
        let request = conversation
            .messages
            .last()
            .map(|m| m.content.to_lowercase())
            .unwrap_or_default();
        let command = if request.contains("delete") && request.contains("build") {
            "rm -rf ./build"
        } else if request.contains("disk") {
            "du -sh ."
        } else {
            "ls -la"
        };
        let reply = format!(r#"{{"cmd": "{command}"}}"#);
        sink.token(&reply);
        Ok(GenerationOutput::from_text(reply))
    }
}

fn main() {
    let request = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    let request = if request.is_empty() {
        "list the files here".to_owned()
    } else {
        request
    };
    let mut generator = Generator::new(KeywordBackend, CommandPrompt::default());
    let context = ShellContext::new(std::env::consts::OS, "bash", ".");
    let generated = match generator.generate(&request, &context) {
        Ok(generated) => generated,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(1);
        }
    };
    let analysis = Analyzer::default().analyze(&generated.command);
    println!("{}", generated.command);
    println!(
        "risk: {} ({:?} under the default policy)",
        analysis.level,
        Policy::default().decide(&analysis)
    );
    for finding in &analysis.findings {
        println!("  {}: {}", finding.level, finding.message);
    }
}
