//! Core of cmdai: the traits a backend and a prompt implement, the domain types they exchange,
//! the parser that turns a model's reply into a command, the generator that composes them, and
//! the [`safety`] analysis that says what a command would do before anyone runs it.
//!
//! This crate does no I/O of its own and depends on no inference engine, HTTP client or
//! terminal library, so any Rust application can use it with its own backend.
//!
//! ```
//! use cmdai_core::{
//!     BackendError, CancelToken, CommandPrompt, Conversation, GenerationOutput,
//!     GenerationParams, Generator, InferenceBackend, ModelInfo, ShellContext, TokenSink,
//! };
//!
//! /// A backend that always answers with the same JSON; a real one runs a model.
//! struct Fixed;
//!
//! impl InferenceBackend for Fixed {
//!     fn info(&self) -> ModelInfo {
//!         ModelInfo::new("fixed", "fake", "cpu", 4096)
//!     }
//!
//!     fn generate(
//!         &mut self,
//!         _conversation: &Conversation,
//!         _params: &GenerationParams,
//!         sink: &mut dyn TokenSink,
//!         _cancel: &CancelToken,
//!     ) -> Result<GenerationOutput, BackendError> {
//!         let reply = r#"{"cmd": "ls -la"}"#;
//!         sink.token(reply);
//!         Ok(GenerationOutput::from_text(reply))
//!     }
//! }
//!
//! let mut generator = Generator::new(Fixed, CommandPrompt::default());
//! let context = ShellContext::new("linux", "bash", "/home/me");
//! let command = generator.generate("list all files", &context).unwrap();
//! assert_eq!(command.command, "ls -la");
//! ```
#![deny(missing_docs)]

mod asked;
mod backend;
mod conversation;
mod error;
mod files;
mod flaw;
mod generator;
pub mod highlight;
mod mend;
pub mod options;
mod output;
mod parse;
mod prompt;
pub mod safety;

pub use asked::{Asked, Direction, Entry, SizeUnit, unheeded};
pub use backend::{
    BackendError, CancelToken, GenerationOutput, GenerationParams, InferenceBackend, ModelInfo,
    NullSink, ReplyFormat, Restart, StopReason, TokenSink,
};
pub use conversation::{Conversation, Message, Role};
pub use error::GenerateError;
pub use files::describe_named_files;
pub use flaw::{Flaw, Trial, answered, flaw};
pub use generator::{Candidate, GeneratedCommand, Generator, Timings};
pub use output::{OutputForm, asks_for_changes_in_place};
pub use parse::{ParseError, ParsedCommand, parse_response};
pub use prompt::{CommandPrompt, Exchange, FixRequest, PromptBuilder, ShellContext};
