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
    /// Which core utilities the system has, e.g. `GNU coreutils`, `BusyBox` or `BSD
    /// utilities`, when known.
    pub utilities: Option<String>,
}

impl ShellContext {
    /// A context from its parts.
    pub fn new(os: impl Into<String>, shell: impl Into<String>, cwd: impl Into<String>) -> Self {
        ShellContext {
            os: os.into(),
            shell: shell.into(),
            cwd: cwd.into(),
            utilities: None,
        }
    }

    /// The same context, with the flavour of the core utilities.
    pub fn with_utilities(mut self, utilities: impl Into<String>) -> Self {
        self.utilities = Some(utilities.into());
        self
    }
}

/// An earlier request of a conversation and the command it ended with (as the user left it,
/// edits included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// What the user asked.
    pub request: String,
    /// The command that answered it.
    pub command: String,
}

impl Exchange {
    /// An exchange from its parts.
    pub fn new(request: impl Into<String>, command: impl Into<String>) -> Self {
        Exchange {
            request: request.into(),
            command: command.into(),
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

    /// The conversation for a follow-up `request` ("only .txt files") that changes the command
    /// of the last of the `earlier` exchanges (oldest first). The default folds everything into
    /// one request for [`build`](Self::build); prompts with a reply format should override it
    /// and show the earlier answers as assistant turns in that format.
    fn build_revision(
        &self,
        earlier: &[Exchange],
        request: &str,
        context: &ShellContext,
    ) -> Conversation {
        let Some(last) = earlier.last() else {
            return self.build(request, context);
        };
        let asked: Vec<&str> = earlier.iter().map(|e| e.request.trim()).collect();
        let folded = format!(
            "{}\nThe command so far: {}\nChange it: {}",
            asked.join("; "),
            last.command,
            request.trim()
        );
        self.build(&folded, context)
    }

    /// The conversation that asks for a short plain-text explanation of `command`.
    ///
    /// Why it reads this way: a user deciding whether to run a command needs what it does and
    /// what it changes, not a tutorial; "plain text" keeps small models from answering in JSON
    /// or Markdown fences after seeing the command prompt's format elsewhere.
    fn build_explanation(&self, command: &str, context: &ShellContext) -> Conversation {
        let system = format!(
            "You explain {shell} commands for {os} to the person about to run them. In at most \
             three short sentences of plain text, say what the command does, part by part, and \
             what it changes or deletes, if anything. No Markdown, no code blocks.",
            shell = context.shell,
            os = context.os,
        );
        Conversation::new()
            .with(Role::System, system)
            .with(Role::User, command.trim())
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
        let request = with_directory(request, context);
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

    /// The first request as usual, each earlier command as the assistant's JSON answer, and
    /// each follow-up as a user turn that repeats everything asked so far ("list files, only
    /// .txt files").
    ///
    /// Why: the model sees its own format in its own turns, which keeps a small model answering
    /// in JSON, and it sees the command as the user left it (edits included). A bare follow-up
    /// ("Change the command: and show their sizes") made Qwen2.5-Coder-1.5B drop the earlier
    /// request in 2 of 5 trials; the whole request, said again, kept it in all 5 (and the
    /// shared prefix still ends where the first request begins).
    fn build_revision(
        &self,
        earlier: &[Exchange],
        request: &str,
        context: &ShellContext,
    ) -> Conversation {
        let Some((first, rest)) = earlier.split_first() else {
            return self.build(request, context);
        };
        let mut conversation = self.build(&first.request, context);
        let mut asked = vec![first.request.trim()];
        let answer = |command: &str| serde_json::json!({ "cmd": command }).to_string();
        conversation.push(Role::Assistant, answer(&first.command));
        for exchange in rest {
            asked.push(exchange.request.trim());
            conversation.push(Role::User, with_directory(&asked.join(", "), context));
            conversation.push(Role::Assistant, answer(&exchange.command));
        }
        asked.push(request.trim());
        conversation.push(Role::User, with_directory(&asked.join(", "), context));
        conversation
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

/// A request as the user turn says it: with the directory it is about.
fn with_directory(request: &str, context: &ShellContext) -> String {
    format!("{}\n(working directory: {})", request.trim(), context.cwd)
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
    fn a_revision_shows_earlier_answers_in_the_reply_format() {
        let context = ShellContext::new("linux", "bash", "/srv");
        let prompt = CommandPrompt::default();
        let earlier = [
            Exchange::new("list files", "ls"),
            Exchange::new("with sizes", "ls -l"),
        ];
        let conversation = prompt.build_revision(&earlier, "only .txt files", &context);
        let first = prompt.build("list files", &context);
        let n = first.messages.len();
        assert_eq!(conversation.messages[..n], first.messages[..]);
        let rest: Vec<(Role, &str)> = conversation.messages[n..]
            .iter()
            .map(|m| (m.role, m.content.as_str()))
            .collect();
        assert_eq!(
            rest,
            [
                (Role::Assistant, r#"{"cmd":"ls"}"#),
                (
                    Role::User,
                    "list files, with sizes\n(working directory: /srv)"
                ),
                (Role::Assistant, r#"{"cmd":"ls -l"}"#),
                (
                    Role::User,
                    "list files, with sizes, only .txt files\n(working directory: /srv)"
                ),
            ]
        );
        for answer in conversation
            .messages
            .iter()
            .filter(|m| m.role == Role::Assistant)
        {
            crate::parse_response(&answer.content).expect("answers parse");
        }
    }

    #[test]
    fn the_default_revision_folds_everything_into_one_request() {
        struct Plain;
        impl PromptBuilder for Plain {
            fn version(&self) -> &str {
                "plain"
            }
            fn build(&self, request: &str, _: &ShellContext) -> Conversation {
                Conversation::new().with(Role::User, request)
            }
        }
        let context = ShellContext::new("linux", "bash", "/");
        let conversation = Plain.build_revision(
            &[Exchange::new("list files", "ls")],
            "newest first",
            &context,
        );
        let text = &conversation.messages[0].content;
        for part in ["list files", "ls", "newest first"] {
            assert!(text.contains(part), "{text}");
        }
        assert_eq!(
            Plain.build_revision(&[], "x", &context),
            Plain.build("x", &context)
        );
    }

    #[test]
    fn an_explanation_asks_about_the_command_in_context() {
        let context = ShellContext::new("macOS", "zsh", "/");
        let conversation = CommandPrompt::default().build_explanation(" rm -r build ", &context);
        assert!(conversation.messages[0].content.contains("zsh"));
        assert!(conversation.messages[0].content.contains("macOS"));
        let last = conversation.messages.last().unwrap();
        assert_eq!(
            (last.role, last.content.as_str()),
            (Role::User, "rm -r build")
        );
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
