//! The prompt trait and cmdai's default prompt for turning a request into one shell command.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::{Conversation, ReplyFormat, Role};

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
    /// What the files and folders the request names look like here, one line each
    /// ([`describe_named_files`](crate::describe_named_files)); empty when not looked at.
    pub files: Vec<String>,
    /// The programs on the user's `PATH`, when known: a command that runs another one is a
    /// [`Flaw`](crate::Flaw). Not part of the prompt.
    pub programs: Option<Arc<BTreeSet<String>>>,
}

impl ShellContext {
    /// A context from its parts.
    pub fn new(os: impl Into<String>, shell: impl Into<String>, cwd: impl Into<String>) -> Self {
        ShellContext {
            os: os.into(),
            shell: shell.into(),
            cwd: cwd.into(),
            utilities: None,
            files: Vec::new(),
            programs: None,
        }
    }

    /// The same context, with the names of the programs on the user's `PATH`.
    pub fn with_programs(mut self, programs: impl IntoIterator<Item = String>) -> Self {
        self.programs = Some(Arc::new(programs.into_iter().collect()));
        self
    }

    /// The same context, with the flavour of the core utilities.
    pub fn with_utilities(mut self, utilities: impl Into<String>) -> Self {
        self.utilities = Some(utilities.into());
        self
    }

    /// The same context, with what the files the request names look like.
    pub fn with_files(mut self, files: Vec<String>) -> Self {
        self.files = files;
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

/// A command line that already ran, for the model to fix or change: `cmdai fix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixRequest {
    /// The command line as it ran.
    pub command: String,
    /// Its exit status, when known.
    pub status: Option<i32>,
    /// What the user adds ("only .txt files", "it said permission denied"), if anything.
    pub hint: Option<String>,
}

impl FixRequest {
    /// A request to fix `command`, exit status unknown, no hint.
    pub fn new(command: impl Into<String>) -> Self {
        FixRequest {
            command: command.into(),
            status: None,
            hint: None,
        }
    }

    /// The same request, with the command's exit status.
    pub fn with_status(mut self, status: i32) -> Self {
        self.status = Some(status);
        self
    }

    /// The same request, with what the user adds; blank text adds nothing.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        let hint = hint.into();
        self.hint = (!hint.trim().is_empty()).then(|| hint.trim().to_owned());
        self
    }

    /// The request in words, as the model and the user see it.
    ///
    /// Why it reads this way: the exit status alone means little to a small model, so the
    /// shells' conventions are spelled out (127: not found, 126: cannot run, above 128: a
    /// signal); a command that succeeded is to be changed as the user says, not "fixed".
    pub fn describe(&self) -> String {
        let command = self.command.trim();
        let mut text = match self.status {
            Some(0) if self.hint.is_some() => {
                format!("This command worked: `{command}`. Change it as I say.")
            }
            Some(0) => format!(
                "This command worked: `{command}`. Write a better command for the same job."
            ),
            Some(status) => {
                let meaning = match status {
                    127 => " (command not found)".to_owned(),
                    126 => " (found but could not be run: permission denied or not executable)"
                        .to_owned(),
                    130 => " (interrupted with Ctrl-C)".to_owned(),
                    129..=192 => format!(" (killed by signal {})", status - 128),
                    _ => String::new(),
                };
                format!(
                    "This command failed with exit status {status}{meaning}: `{command}`. Fix it."
                )
            }
            None => format!("This command did not do what I wanted: `{command}`. Fix it."),
        };
        if let Some(hint) = &self.hint {
            text.push(' ');
            text.push_str(hint);
        }
        text
    }
}

/// Builds the conversation a backend sees for one request.
pub trait PromptBuilder {
    /// Identifies the prompt's wording; changes whenever the wording does, so anything cached
    /// from an older prompt can be told apart.
    fn version(&self) -> &str;

    /// The conversation for `request` in `context`: system prompt, few-shot turns, request.
    fn build(&self, request: &str, context: &ShellContext) -> Conversation;

    /// The shape of the reply this prompt asks for (JSON of a schema, a code block), if it asks
    /// for one. Backends that can constrain generation are given it; `None` leaves the reply
    /// unconstrained.
    fn reply_format(&self) -> Option<ReplyFormat> {
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

    /// The conversation that asks for a fixed or changed version of a command that already ran.
    /// The default asks for it as one request, in the prompt's own format.
    fn build_fix(&self, fix: &FixRequest, context: &ShellContext) -> Conversation {
        self.build(&fix.describe(), context)
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

/// cmdai's default prompt: asks for the command alone in a ```` ```bash ```` code block and
/// shows eleven examples.
///
/// Why each rule is there (figures: `scripts/dev-sample.sh 80 7`, Qwen2.5-Coder-1.5B, utility
/// match; see docs/QUALITY.md):
/// - A fixed reply format: small models add prose around commands; a fixed shape is what
///   [`parse_response`](crate::parse_response) reads and what constrained decoding holds the
///   reply to.
/// - A code block rather than JSON (`command-v5`): written as a JSON string, every `"` and `\`
///   of a command is escaped, which is not how the model has seen commands written. In code
///   blocks, the execution-checked tasks went from 0.531 to 0.540 (development) and 0.454 to
///   0.491 (held out); through llama.cpp, 0.522 to 0.558 (docs/QUALITY.md). The block is
///   `bash` whatever the shell: the system prompt names the shell, and `bash` is what commands
///   are most often written in.
/// - OS, shell and the flavour of the core utilities in the system prompt: GNU, BSD and
///   BusyBox tools take different flags (`sed -i`, `find -printf`, `stat -c`).
/// - "Use the names and numbers the request gives, word for word": the model otherwise invents
///   file names (`main.c`, `yourfile.mp3`) or drops the ones asked for.
/// - Relative paths, `.` for the current directory, and no working directory in the prompt at
///   all: given the directory, the model wrote it into 45% of its commands (`find /home/me/x`
///   instead of `find .`), which changes their output; without it, none did (0.488 to 0.525).
///   Leaving it out also keeps everything before the request the same in every directory, so
///   the candle backend's prompt cache holds for all of them.
/// - Six few-shot turns rather than two, covering find, grep, a pipeline and tar: they fix the
///   format and the style (quoted patterns, `.` as the start point) better than instructions
///   do (0.538 to 0.550, utility and flags 0.125 to 0.175). They cost about 150 tokens of
///   prefill once per model, since the prompt cache keeps them. They are written for cmdai,
///   not taken from evaluation data.
/// - Five more turns in `command-v4`, one per class of miss seen on the execution-checked
///   tasks (a bare count, work per file in a quoted loop, grouped `find` alternatives, lines
///   after a match, keeping the original), and "print only what is asked ... do every part of
///   the request": 0.429 to 0.469 same effect on the development tasks (docs/QUALITY.md).
#[derive(Debug, Clone, Default)]
pub struct CommandPrompt {
    _private: (),
}

impl CommandPrompt {
    const VERSION: &'static str = "command-v5";

    /// The few-shot turns: a request and the command that answers it.
    const EXAMPLES: [(&'static str, &'static str); 11] = [
        (
            "show disk usage of each subdirectory, human readable",
            "du -h --max-depth=1 .",
        ),
        ("count the lines in main.c", "wc -l main.c"),
        (
            "find files named config.yml modified in the last 2 days",
            "find . -name 'config.yml' -mtime -2",
        ),
        (
            "search for the word timeout in all python files, with line numbers",
            "grep -rn --include='*.py' 'timeout' .",
        ),
        (
            "show the 5 most common lines in access.log",
            "sort access.log | uniq -c | sort -rn | head -n 5",
        ),
        (
            "pack the folder reports into reports.tar.gz",
            "tar -czf reports.tar.gz reports",
        ),
        (
            "how many .md files are in docs? only the number",
            "find docs -type f -name '*.md' | wc -l",
        ),
        (
            "give every .txt file in notes a .bak copy next to it",
            "for f in notes/*.txt; do cp -- \"$f\" \"$f.bak\"; done",
        ),
        (
            "find the .jpg and .png files bigger than 2 MB",
            "find . -type f \\( -name '*.jpg' -o -name '*.png' \\) -size +2M",
        ),
        (
            "show each line with timeout in server.log and the 2 lines after it",
            "grep -A 2 'timeout' server.log",
        ),
        (
            "compress access.log with gzip but keep the original",
            "gzip -k access.log",
        ),
    ];
}

impl PromptBuilder for CommandPrompt {
    fn version(&self) -> &str {
        Self::VERSION
    }

    fn build(&self, request: &str, context: &ShellContext) -> Conversation {
        let utilities = context
            .utilities
            .as_deref()
            .map(|u| format!(" with {u}"))
            .unwrap_or_default();
        let system = format!(
            "You translate a request into one {shell} command for {os}{utilities}. \
             Reply with the command alone in a ```{CODE_BLOCK_INFO} code block. \
             Write the simplest command that does exactly what is asked, using the file names, \
             patterns, users and numbers the request gives, word for word. \
             Print only what is asked, in the form asked (only a number, only names), and do \
             every part of the request. \
             Use relative paths: the current directory is `.` unless the request names another. \
             Never add commentary.",
            shell = context.shell,
            os = context.os,
        );
        let mut conversation = Conversation::new().with(Role::System, system);
        for (request, command) in Self::EXAMPLES {
            conversation.push(Role::User, request);
            conversation.push(Role::Assistant, answer(command));
        }
        conversation.push(Role::User, with_files(request.trim(), &context.files));
        conversation
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
        conversation.push(Role::Assistant, answer(&first.command));
        for exchange in rest {
            asked.push(exchange.request.trim());
            conversation.push(Role::User, asked.join(", "));
            conversation.push(Role::Assistant, answer(&exchange.command));
        }
        asked.push(request.trim());
        conversation.push(Role::User, asked.join(", "));
        conversation
    }

    /// One code block of the shell's language and nothing else, as the system prompt asks.
    fn reply_format(&self) -> Option<ReplyFormat> {
        Some(ReplyFormat::CodeBlock(CODE_BLOCK_INFO.to_owned()))
    }
}

/// `request` followed by what the files it names look like here, if known.
fn with_files(request: &str, files: &[String]) -> String {
    if files.is_empty() {
        return request.to_owned();
    }
    let mut text = format!("{request}\n\nThe files named, as they are here:");
    for file in files {
        text.push_str("\n- ");
        text.push_str(file);
    }
    text
}

/// The info string of the code block a command is written in. `bash` for every shell: it is
/// what models have seen most commands written in, and the system prompt names the shell.
const CODE_BLOCK_INFO: &str = "bash";

/// `command` as the reply format writes it, the way constrained decoding writes the reply, so
/// the examples and the forced tokens agree.
fn answer(command: &str) -> String {
    format!("```{CODE_BLOCK_INFO}\n{command}\n```")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_the_last_turn_and_the_directory_is_not_in_the_prompt() {
        let context =
            ShellContext::new("macOS", "zsh", "/Users/me/src").with_utilities("BSD utilities");
        let conversation = CommandPrompt::default().build("  list files \n", &context);
        let first = &conversation.messages[0];
        assert_eq!(first.role, Role::System);
        for fact in ["macOS", "zsh", "BSD utilities"] {
            assert!(first.content.contains(fact), "system prompt lacks {fact}");
        }
        let last = conversation.messages.last().unwrap();
        assert_eq!(
            (last.role, last.content.as_str()),
            (Role::User, "list files")
        );
        let elsewhere = ShellContext::new("macOS", "zsh", "/tmp").with_utilities("BSD utilities");
        let other = CommandPrompt::default().build("list files", &elsewhere);
        assert_eq!(conversation, other, "the same in every directory");
        assert!(!format!("{conversation:?}").contains("/Users/me/src"));
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
                (Role::Assistant, "```bash\nls\n```"),
                (Role::User, "list files, with sizes"),
                (Role::Assistant, "```bash\nls -l\n```"),
                (Role::User, "list files, with sizes, only .txt files"),
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
    fn a_fix_request_names_the_command_its_status_and_the_hint() {
        let failed = FixRequest::new(" tail -r log.txt ")
            .with_status(1)
            .with_hint(" it said invalid option ");
        let text = failed.describe();
        for part in [
            "`tail -r log.txt`",
            "exit status 1",
            "Fix it",
            "it said invalid option",
        ] {
            assert!(text.contains(part), "{text}");
        }
        assert!(
            FixRequest::new("gerp x")
                .with_status(127)
                .describe()
                .contains("not found")
        );
        assert!(
            FixRequest::new("yes")
                .with_status(137)
                .describe()
                .contains("signal 9")
        );
        let worked = FixRequest::new("ls")
            .with_status(0)
            .with_hint("only .txt files");
        assert!(
            !worked.describe().contains("Fix it"),
            "{}",
            worked.describe()
        );
        assert_eq!(FixRequest::new("ls").with_hint("  ").hint, None);
        let context = ShellContext::new("linux", "bash", "/");
        let conversation = CommandPrompt::default().build_fix(&failed, &context);
        let last = conversation.messages.last().unwrap();
        assert_eq!((last.role, last.content.clone()), (Role::User, text));
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
