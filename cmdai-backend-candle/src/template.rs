//! The chat template: `tokenizer.chat_template` from the GGUF metadata, rendered with minijinja.

use cmdai_core::{Conversation, Message, Role};
use minijinja::{Environment, ErrorKind, context};
use serde::Serialize;

use crate::error::Result;

/// ChatML, used when a file declares no template: it is what most small instruction-tuned
/// models (Qwen, SmolLM) were trained on.
const CHATML: &str = "{% for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

/// Gemma's turns, used when a file has `<start_of_turn>` tokens but declares no template (the
/// Gemma 3 270M file). Gemma has no system role: the system prompt opens the first user turn.
pub const GEMMA_TURNS: &str = "{% if messages[0].role == 'system' %}{% set prefix = messages[0].content + '\\n\\n' %}{% set turns = messages[1:] %}{% else %}{% set prefix = '' %}{% set turns = messages %}{% endif %}{% for message in turns %}<start_of_turn>{% if message.role == 'assistant' %}model{% else %}{{ message.role }}{% endif %}\n{% if loop.first %}{{ prefix }}{% endif %}{{ message.content }}<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}";

/// A compiled chat template.
#[derive(Debug)]
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

/// Instructions one rendering may execute. Real chat templates use a few thousand for a
/// conversation like cmdai's; this leaves a hundred times that.
const TEMPLATE_FUEL: u64 = 500_000;

#[derive(Serialize)]
struct TemplateMessage<'a> {
    role: &'static str,
    content: &'a str,
}

impl ChatTemplate {
    /// Compiles `source`, or the ChatML fallback when there is none.
    pub fn new(source: Option<&str>, bos_token: &str, eos_token: &str) -> Result<Self> {
        let mut env = Environment::new();
        // The template comes from the model file, so from the internet: a loop that never ends
        // (`{% for i in range(10**12) %}`) must stop with an error, not hang cmdai.
        env.set_fuel(Some(TEMPLATE_FUEL));
        // Hugging Face templates call Python string methods (`.strip()`, `.startswith()`).
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |message: String| -> std::result::Result<String, minijinja::Error> {
                Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
            },
        );
        env.add_template_owned("chat", source.unwrap_or(CHATML).to_owned())?;
        Ok(ChatTemplate {
            env,
            bos_token: bos_token.to_owned(),
            eos_token: eos_token.to_owned(),
        })
    }

    /// The prompt text for `conversation`, ending where the assistant's reply begins.
    pub fn render(&self, conversation: &Conversation) -> Result<String> {
        self.render_messages(&conversation.messages, true)
    }

    fn render_messages(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        let messages: Vec<TemplateMessage<'_>> = messages
            .iter()
            .map(|m| TemplateMessage {
                role: m.role.as_str(),
                content: &m.content,
            })
            .collect();
        let template = self.env.get_template("chat")?;
        Ok(template.render(context! {
            messages,
            add_generation_prompt,
            bos_token => self.bos_token,
            eos_token => self.eos_token,
        })?)
    }

    /// The text the template puts right after an assistant turn, e.g. `<|im_end|>`: the model
    /// was trained to emit it when done, so it is an end-of-generation marker.
    pub fn end_of_turn_marker(&self) -> Result<Option<String>> {
        const SENTINEL: &str = "CMDAI_SENTINEL_REPLY";
        let conversation = [
            Message::new(Role::User, "hi"),
            Message::new(Role::Assistant, SENTINEL),
        ];
        let rendered = self.render_messages(&conversation, false)?;
        let after = rendered
            .rsplit_once(SENTINEL)
            .map(|(_, after)| after.trim());
        Ok(after.filter(|s| !s.is_empty()).map(str::to_owned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_that_would_run_forever_is_stopped() {
        let endless =
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
        let template = ChatTemplate::new(Some(endless), "", "").unwrap();
        let error = template
            .render(&Conversation::new().with(Role::User, "hi"))
            .unwrap_err();
        assert!(error.to_string().contains("fuel"), "{error}");
    }

    #[test]
    fn gemma_turns_fold_the_system_prompt_into_the_first_user_turn() {
        let template = ChatTemplate::new(Some(GEMMA_TURNS), "<bos>", "<eos>").unwrap();
        let conversation = Conversation::new()
            .with(Role::System, "be brief")
            .with(Role::User, "list files")
            .with(Role::Assistant, "ls")
            .with(Role::User, "only .txt");
        assert_eq!(
            template.render(&conversation).unwrap(),
            "<start_of_turn>user\nbe brief\n\nlist files<end_of_turn>\n<start_of_turn>model\nls<end_of_turn>\n<start_of_turn>user\nonly .txt<end_of_turn>\n<start_of_turn>model\n"
        );
        assert_eq!(
            template.end_of_turn_marker().unwrap().as_deref(),
            Some("<end_of_turn>")
        );
    }

    #[test]
    fn chatml_fallback_renders_the_generation_prompt() {
        let template = ChatTemplate::new(None, "", "").unwrap();
        let conversation = Conversation::new()
            .with(Role::System, "be brief")
            .with(Role::User, "hi");
        assert_eq!(
            template.render(&conversation).unwrap(),
            "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
        );
        assert_eq!(
            template.end_of_turn_marker().unwrap().as_deref(),
            Some("<|im_end|>")
        );
    }

    #[test]
    fn python_string_methods_and_raise_exception_work() {
        let source = "{% if messages[0].role != 'user' %}{{ raise_exception('user first') }}{% endif %}\
                      {{ messages[0].content.strip() }}";
        let template = ChatTemplate::new(Some(source), "", "").unwrap();
        let ok = Conversation::new().with(Role::User, "  hi  ");
        assert_eq!(template.render(&ok).unwrap(), "hi");
        let bad = Conversation::new().with(Role::System, "x");
        assert!(
            template
                .render(&bad)
                .unwrap_err()
                .to_string()
                .contains("user first")
        );
    }
}
