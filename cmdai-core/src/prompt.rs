//! The prompt trait and cmdai's default prompt for turning a request into one shell command.

use crate::{Conversation, Role};

/// Where the command will run: what the model needs to know to pick the right flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellContext {
    /// Operating system, e.g. `linux` or `macos`.
    pub os: String,
    /// The user's shell, e.g. `bash`.
    pub shell: String,
    /// The working directory.
    pub cwd: String,
}

impl ShellContext {
    /// A context from its parts.
    pub fn new(os: impl Into<String>, shell: impl Into<String>, cwd: impl Into<String>) -> Self {
        ShellContext {
            os: os.into(),
            shell: shell.into(),
            cwd: cwd.into(),
        }
    }
}

/// Builds the conversation a backend sees for one request.
pub trait PromptBuilder {
    /// Identifies the prompt's wording; changes whenever the wording does, so anything cached
    /// from an older prompt can be told apart.
    fn version(&self) -> &str;

    /// The conversation for `request` in `context`: system prompt, few-shot turns, request.
    fn build(&self, request: &str, context: &ShellContext) -> Conversation;

    /// The JSON schema of the reply this prompt asks for, if it asks for JSON. Backends that can
    /// constrain generation to a schema are given it; `None` leaves the reply unconstrained.
    fn response_schema(&self) -> Option<serde_json::Value> {
        None
    }
}

/// cmdai's default prompt: asks for one JSON object `{"cmd": "..."}` and shows two examples.
///
/// Why each rule is there:
/// - JSON output: small models add prose around commands; a fixed shape is what
///   [`parse_response`](crate::parse_response) reads most reliably.
/// - OS and shell in the system prompt: GNU and BSD tools take different flags.
/// - The working directory goes with the request, not in the system prompt: everything before
///   the request is then the same in every directory, so a backend can compute it once and
///   keep it (the candle backend's prompt cache).
/// - "current directory" by default: requests rarely name a path, and `/` is dangerous.
/// - Two short few-shot turns: they fix the format better than any instruction, and cost
///   about 60 tokens of prefill. They are written for cmdai, not taken from evaluation data.
#[derive(Debug, Clone, Default)]
pub struct CommandPrompt {
    _private: (),
}

impl CommandPrompt {
    const VERSION: &'static str = "command-v2";
}

impl PromptBuilder for CommandPrompt {
    fn version(&self) -> &str {
        Self::VERSION
    }

    fn build(&self, request: &str, context: &ShellContext) -> Conversation {
        let system = format!(
            "You translate a request into one {shell} command for {os}. \
             Reply with JSON only: {{\"cmd\": \"<command>\"}}. \
             Prefer standard POSIX tools, act on the current directory unless told otherwise, \
             and never add commentary.",
            shell = context.shell,
            os = context.os,
        );
        let request = format!("{}\n(working directory: {})", request.trim(), context.cwd);
        Conversation::new()
            .with(Role::System, system)
            .with(
                Role::User,
                "show disk usage of each subdirectory, human readable",
            )
            .with(Role::Assistant, r#"{"cmd": "du -h --max-depth=1 ."}"#)
            .with(Role::User, "count the lines in main.c")
            .with(Role::Assistant, r#"{"cmd": "wc -l main.c"}"#)
            .with(Role::User, request)
    }

    /// `{"cmd": "<non-empty string>"}` and nothing else, as the system prompt asks.
    fn response_schema(&self) -> Option<serde_json::Value> {
        Some(serde_json::json!({
            "type": "object",
            "properties": { "cmd": { "type": "string", "minLength": 1 } },
            "required": ["cmd"],
            "additionalProperties": false,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_is_the_last_user_turn_and_only_it_depends_on_the_directory() {
        let context = ShellContext::new("macos", "zsh", "/Users/me/src");
        let conversation = CommandPrompt::default().build("  list files \n", &context);
        let first = &conversation.messages[0];
        assert_eq!(first.role, Role::System);
        for fact in ["macos", "zsh"] {
            assert!(first.content.contains(fact), "system prompt lacks {fact}");
        }
        let last = conversation.messages.last().unwrap();
        assert_eq!(
            (last.role, last.content.as_str()),
            (Role::User, "list files\n(working directory: /Users/me/src)")
        );
        let elsewhere = ShellContext::new("macos", "zsh", "/tmp");
        let other = CommandPrompt::default().build("list files", &elsewhere);
        let n = conversation.messages.len();
        assert_eq!(conversation.messages[..n - 1], other.messages[..n - 1]);
    }

    #[test]
    fn few_shot_answers_parse_as_commands() {
        let context = ShellContext::new("linux", "bash", "/");
        let conversation = CommandPrompt::default().build("x", &context);
        let answers = conversation
            .messages
            .iter()
            .filter(|m| m.role == Role::Assistant);
        for answer in answers {
            crate::parse_response(&answer.content).expect("few-shot answer must parse");
        }
    }
}
