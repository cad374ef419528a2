//! Constrained decoding: the reply is held to the prompt's reply format (a code block, or JSON
//! of a schema) token by token, so it always parses. llguidance compiles the format into a
//! grammar and computes, at each step, which tokens of the model's own vocabulary may come next;
//! tokens the grammar forces (the ```` ```bash ```` line that opens every reply) are fed to the
//! model without sampling, in one forward pass.

use std::sync::Arc;

use cmdai_core::ReplyFormat;
use llguidance::api::TopLevelGrammar;
use llguidance::toktrie::{InferenceCapabilities, TokEnv, TokRxInfo, TokTrie, TokenizerEnv};
use llguidance::{Matcher, ParserFactory};
use serde_json::Value;

use crate::error::{CandleError, Result};
use crate::tokenizer::{GgufTokenizer, Spelling, TokenTable};

/// The model's vocabulary as llguidance sees it: each token's bytes, in a trie.
struct Vocabulary {
    trie: TokTrie,
}

impl TokenizerEnv for Vocabulary {
    fn tok_trie(&self) -> &TokTrie {
        &self.trie
    }

    /// Text the grammar forces (`{"cmd":`), longest token first. That is how BPE splits such
    /// short runs of punctuation and ASCII too; cloning the model's tokenizer for it would
    /// cost about 80 ms per process (measured with the default model).
    fn tokenize_bytes(&self, bytes: &[u8]) -> Vec<u32> {
        self.trie.greedy_tokenize(bytes)
    }
}

/// Compiles response schemas for one model; built once, on the first constrained request.
pub struct Grammars {
    factory: ParserFactory,
}

impl std::fmt::Debug for Grammars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grammars").finish_non_exhaustive()
    }
}

impl Grammars {
    /// The vocabulary of `tokenizer` for a model with `logits` outputs per step (can be more
    /// than the tokenizer's tokens: padding rows never get chosen); `end` ends a reply.
    pub fn new(tokenizer: &GgufTokenizer, logits: usize, end: u32) -> Result<Self> {
        Self::from_words(Self::words(tokenizer.table(), logits), end)
    }

    /// The bytes of every token, padded to `logits` entries: the part of [`new`](Self::new)
    /// that reads the vocabulary (a few milliseconds).
    pub fn words(table: &TokenTable, logits: usize) -> Vec<Vec<u8>> {
        let bytes_of = Gpt2Bytes::new();
        let mut words: Vec<Vec<u8>> = (0..table.len())
            .map(|id| token_bytes(table, id, &bytes_of))
            .collect();
        let size = words.len().max(logits);
        words.resize(size, Vec::new());
        words
    }

    /// The rest of [`new`](Self::new): the token trie and the grammar compiler (about 0.2 s for
    /// a 150,000-token vocabulary, so the backend runs it on a thread of its own while the model
    /// loads).
    pub fn from_words(words: Vec<Vec<u8>>, end: u32) -> Result<Self> {
        let info = TokRxInfo {
            tok_end_of_turn: Some(end),
            ..TokRxInfo::new(u32::try_from(words.len()).unwrap_or(u32::MAX), end)
        };
        let vocabulary = Vocabulary {
            trie: TokTrie::from(&info, &words),
        };
        let env: TokEnv = Arc::new(vocabulary);
        let mut factory = ParserFactory::new(
            &env,
            InferenceCapabilities {
                ff_tokens: true,
                ..InferenceCapabilities::default()
            },
            &[],
        )
        .map_err(constraint_error)?;
        factory.quiet();
        Ok(Self { factory })
    }

    /// A constraint that holds one reply to `schema`.
    ///
    /// cmdai's own shape, an object with one required string field (`{"cmd": "..."}`), gets a
    /// grammar of its own: written the way the prompt's examples are (`{"cmd": "`, no
    /// newlines), and with a backslash allowed before any character. Strict JSON allows only
    /// `\"`, `\\` and the like, and a model that means the shell's `\;` (`find -exec ... \;`)
    /// is then pushed into `\"` and a broken command; `parse_response` reads such backslashes
    /// as written. Any other schema is compiled as JSON Schema.
    ///
    /// A code block gets the same rules for the command in it, written as the shell reads it
    /// (no JSON escapes): `code_block_grammar`.
    pub fn constrain(&self, format: &ReplyFormat) -> Result<Constraint> {
        let grammar = match format {
            ReplyFormat::Json(schema) => match single_string_field(schema) {
                Some(field) => TopLevelGrammar::from_lark(command_grammar(field)),
                None => TopLevelGrammar::from_json_schema(schema.clone()),
            },
            ReplyFormat::CodeBlock(info) => {
                let simple = info.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
                if !simple {
                    return Err(constraint_error(format!(
                        "a code block's info string must be a word, not {info:?}"
                    )));
                }
                TopLevelGrammar::from_lark(code_block_grammar(info))
            }
        };
        let parser = self
            .factory
            .create_parser(grammar)
            .map_err(constraint_error)?;
        Ok(Constraint {
            matcher: Matcher::new(Ok(parser)),
        })
    }
}

/// The field of a schema `{"type": "object", "properties": {F: {"type": "string", ...}},
/// "required": [F]}` with no other property.
fn single_string_field(schema: &Value) -> Option<&str> {
    let properties = schema.get("properties")?.as_object()?;
    let (field, property) = properties.iter().next().filter(|_| properties.len() == 1)?;
    let required = schema.get("required")?.as_array()?;
    let is_string = property.get("type").and_then(Value::as_str) == Some("string");
    let simple_name = field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (schema.get("type").and_then(Value::as_str) == Some("object")
        && is_string
        && simple_name
        && required.iter().any(|r| r.as_str() == Some(field)))
    .then_some(field.as_str())
}

/// `{"FIELD": "TEXT"}` where TEXT is at least one character: anything but a quote, a backslash
/// or a control character, or a backslash and any printable ASCII character; and where the
/// shell quotes and braces TEXT opens are closed:
/// - A single-quoted part (`'...'`) and a double-quoted one (written `\"...\"` in JSON) must
///   end before the reply does: otherwise a model that wants a double quote inside single
///   quotes (`awk '{print $2 " x " $3}'`) may end the JSON string there instead, and the
///   command is cut in the middle of its quoted program.
/// - A brace outside quotes closes one opened before it, to a depth of three (`${f%.c}`,
///   `{} +`, `{a,b}`, `f() { ...; }`): small models end commands with a stray `}` before the
///   JSON's own (`-exec rm {} \;}`, `<(sort b.txt)}`), which the shell takes as part of the
///   last word.
/// - TEXT does not end in a blank. A command never needs one there, and a model that means to
///   open a double-quoted part after one (`echo "cpus=$(nproc)"`) but writes the quote bare would
///   otherwise end the JSON string with it, and the command would be `echo`.
fn command_grammar(field: &str) -> String {
    // Outside quotes: a plain character but `'` and the braces; any escape but `\"` (which
    // opens a double-quoted part) or a brace, so `\'` as models write it; or the shell's own
    // escape in strict JSON, `\\` before any character (`'it'\\''s'`, `\\}`). Inside single
    // quotes: anything but `'`, escapes included. Inside double quotes: anything (`'` and braces too) up
    // to the closing `\"`. Then a braced group of those, nested up to three times.
    const PLAIN: &str = r#"[^"\\'\x00-\x1F\x7F]"#;
    const UNBRACED: &str = r#"[^"\\'{}\x00-\x1F\x7F]"#;
    const UNBRACED_VISIBLE: &str = r#"[^"\\'{}\x00-\x20\x7F]"#;
    const ESCAPE: &str = r#"\\[\x20-\x21\x23-\x7A\x7C\x7E]"#;
    const ANY_ESCAPE: &str = r#"\\[\x20-\x7E]"#;
    let units = |unbraced: &str| {
        format!(
            r#"{unbraced}|{ESCAPE}|\\\\({PLAIN}|'|{ANY_ESCAPE})|'({PLAIN}|{ANY_ESCAPE})*'|\\"({PLAIN}|'|{ESCAPE})*\\""#
        )
    };
    // Any unit, and one that can be the last (not a blank).
    let mut unit = units(UNBRACED);
    let mut last = units(UNBRACED_VISIBLE);
    for _ in 0..BRACE_DEPTH {
        let group = format!(r"\{{({unit})*\}}");
        unit = format!("{unit}|{group}");
        last = format!("{last}|{group}");
    }
    format!(
        r#"start: "{{\"{field}\": \"" TEXT "\"}}"
TEXT: /({unit})*({last})/
"#
    )
}

/// ```` ```INFO ````, a newline, a command, a newline and ```` ``` ````: the command is held to
/// the rules of [`command_grammar`] as the shell reads it (quotes it opens closed, braces
/// outside quotes closed to a depth of three, no blank at the end), over one line or several.
/// A backtick is the start or end of a one-line command substitution, so the command cannot
/// hold three in a row and the closing fence is never ambiguous: it is part of the one
/// terminal, which the reply ends with.
fn code_block_grammar(info: &str) -> String {
    // Outside quotes: anything printable but quotes, braces, backticks and the backslash, and a
    // newline; a backslash before any printable character or a newline. Inside single quotes:
    // anything but `'`. Inside double quotes: anything, escapes included, up to the closing `"`.
    const PLAIN: &str = r#"[^"\\'{}\x60\x00-\x09\x0B-\x1F\x7F]"#;
    const VISIBLE: &str = r#"[^"\\'{}\x60\x00-\x20\x7F]"#;
    const ESCAPE: &str = r#"\\[\x20-\x7E\n]"#;
    const VISIBLE_ESCAPE: &str = r#"\\[\x21-\x7E]"#;
    const SINGLE: &str = r#"'[^'\x00-\x09\x0B-\x1F\x7F]*'"#;
    const DOUBLE: &str = r#""([^"\\\x00-\x09\x0B-\x1F\x7F]|\\[\x20-\x7E\n])*""#;
    const BACKTICKS: &str = r#"\x60[^\x60\x00-\x1F\x7F]+\x60"#;
    let quoted = format!("{SINGLE}|{DOUBLE}|{BACKTICKS}");
    let mut unit = format!("{PLAIN}|{ESCAPE}|{quoted}");
    let mut last = format!("{VISIBLE}|{VISIBLE_ESCAPE}|{quoted}");
    for _ in 0..BRACE_DEPTH {
        let group = format!(r"\{{({unit})*\}}");
        unit = format!("{unit}|{group}");
        last = format!("{last}|{group}");
    }
    format!(
        r#"start: "```{info}\n" BLOCK
BLOCK: /({unit})*({last})\n\x60\x60\x60/
"#
    )
}

/// How deep braces outside quotes may nest in a command (`${OUT:-${HOME}/out}` is two).
const BRACE_DEPTH: usize = 3;

/// The bytes a token stands for. GGUF stores byte-level BPE tokens in GPT-2's printable
/// spelling (a space is `Ġ`), SentencePiece tokens as text with `▁` for a space; control tokens get llguidance's special-token marker so that no
/// text can spell them.
fn token_bytes(table: &TokenTable, id: usize, bytes_of: &Gpt2Bytes) -> Vec<u8> {
    let id32 = u32::try_from(id).unwrap_or(u32::MAX);
    let spelling = table.token(id32).unwrap_or("");
    if table.is_control(id32) {
        let mut bytes = vec![TokTrie::SPECIAL_TOKEN_MARKER];
        bytes.extend_from_slice(spelling.as_bytes());
        return bytes;
    }
    match table.spelling() {
        Spelling::ByteLevel => spelling.chars().map(|c| bytes_of.byte(c)).collect(),
        Spelling::SentencePiece => match byte_token(spelling) {
            Some(byte) => vec![byte],
            None => spelling.replace('\u{2581}', " ").into_bytes(),
        },
    }
}

/// The byte of a SentencePiece byte-fallback token (`<0x0A>`).
fn byte_token(spelling: &str) -> Option<u8> {
    let hex = spelling.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

/// GPT-2's byte-level spelling, reversed: printable Latin-1 bytes stand for themselves, the
/// other 68 bytes are spelled U+0100 onwards, in byte order.
struct Gpt2Bytes {
    /// The byte of each character from U+0000 to U+0143.
    table: Vec<u8>,
}

impl Gpt2Bytes {
    fn new() -> Self {
        let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        let mut table = vec![0u8; 0x100 + 68];
        let mut next = 0x100;
        for byte in 0..=255u8 {
            if printable(byte) {
                table[usize::from(byte)] = byte;
            } else {
                table[next] = byte;
                next += 1;
            }
        }
        Self { table }
    }

    fn byte(&self, c: char) -> u8 {
        usize::try_from(u32::from(c))
            .ok()
            .and_then(|i| self.table.get(i).copied())
            .unwrap_or(0)
    }
}

/// One reply's progress through its grammar.
pub struct Constraint {
    matcher: Matcher,
}

impl std::fmt::Debug for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Constraint")
            .field("done", &self.matcher.is_stopped())
            .finish_non_exhaustive()
    }
}

impl Constraint {
    /// The tokens the grammar forces next, already accepted; empty when the model has a choice.
    pub fn forced(&mut self) -> Vec<u32> {
        self.matcher.consume_ff_tokens()
    }

    /// Sets every token the grammar does not allow next to minus infinity.
    pub fn mask(&mut self, logits: &mut [f32]) -> Result<()> {
        let allowed = self.matcher.compute_mask().map_err(constraint_error)?;
        for (id, logit) in logits.iter_mut().enumerate() {
            if !allowed.is_allowed(u32::try_from(id).unwrap_or(u32::MAX)) {
                *logit = f32::NEG_INFINITY;
            }
        }
        Ok(())
    }

    /// Records the sampled token.
    pub fn accept(&mut self, token: u32) -> Result<()> {
        self.matcher.consume_token(token).map_err(constraint_error)
    }

    /// A copy that goes on alone (drafting ahead), leaving this one where it is.
    pub fn fork(&self) -> Constraint {
        Constraint {
            matcher: self.matcher.deep_clone(),
        }
    }

    /// Whether the reply is complete: nothing but its end may follow.
    pub fn is_done(&self) -> bool {
        self.matcher.is_stopped()
    }
}

/// llguidance's errors (anyhow), with their causes.
fn constraint_error(error: impl std::fmt::Display) -> CandleError {
    CandleError::Constraint(format!("{error:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt2_spelling_maps_back_to_bytes() {
        let bytes = Gpt2Bytes::new();
        assert_eq!(bytes.byte('a'), b'a');
        assert_eq!(bytes.byte('Ġ'), b' ');
        assert_eq!(bytes.byte('Ċ'), b'\n');
        assert_eq!(bytes.byte('\u{0100}'), 0);
        assert_eq!(bytes.byte('\u{0143}'), 0xAD);
    }

    /// Whether the command grammar takes `{"cmd": "<text>"}`.
    fn takes(text: &str) -> bool {
        let schema = serde_json::json!({
            "type": "object",
            "properties": { "cmd": { "type": "string" } },
            "required": ["cmd"],
        });
        accepts(
            &ReplyFormat::Json(schema),
            &format!("{{\"cmd\": \"{text}\"}}"),
        )
    }

    /// Whether the code-block grammar takes the command `text` in a `bash` block.
    fn takes_block(text: &str) -> bool {
        accepts(
            &ReplyFormat::CodeBlock("bash".into()),
            &format!("```bash\n{text}\n```"),
        )
    }

    /// Whether `format`'s grammar takes all of `reply` and is done there, fed one byte at a time
    /// through a vocabulary of the 256 bytes (token 256 ends the reply).
    fn accepts(format: &ReplyFormat, reply: &str) -> bool {
        let mut words: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
        words.push(vec![TokTrie::SPECIAL_TOKEN_MARKER, b'e']);
        let grammars = Grammars::from_words(words, 256).unwrap();
        let mut constraint = grammars.constrain(format).unwrap();
        let mut bytes = reply.bytes().map(u32::from).peekable();
        while let Some(byte) = bytes.peek().copied() {
            let forced = constraint.forced();
            if !forced.is_empty() {
                for token in forced {
                    if bytes.next() != Some(token) {
                        return false;
                    }
                }
                continue;
            }
            if constraint.is_done() {
                return false;
            }
            let mut logits = vec![0.0; 257];
            constraint.mask(&mut logits).unwrap();
            if logits[byte as usize] == f32::NEG_INFINITY {
                return false;
            }
            constraint.accept(byte).unwrap();
            bytes.next();
        }
        constraint.is_done()
    }

    #[test]
    fn the_command_grammar_closes_the_quotes_it_opens() {
        // The JSON text between the quotes, as a model writes it.
        for good in [
            r"ls -la",
            r"find . -name '*.log' -exec rm {} \;",
            r#"awk '{print $2 \" x \" $3}' data.csv"#,
            r#"grep -c \"don't\" notes.txt"#,
            r"echo 'it'\''s'",
            r"echo 'it'\\''s'",
            r"sed 's/\./,/g' f",
        ] {
            assert!(takes(good), "{good}");
        }
        for cut in [r"awk '{print $2 ", r"grep 'unclosed", r#"echo \"half"#] {
            assert!(!takes(cut), "{cut}");
        }
        // A blank at the end is a double-quoted part opened with a bare quote.
        for cut in ["echo ", "ls -l  ", "find . -name x\t"] {
            assert!(!takes(cut), "{cut:?}");
        }
        assert!(takes(r"echo a\ "), "an escaped blank is part of a word");
    }

    #[test]
    fn a_brace_outside_quotes_closes_one_it_opened() {
        for good in [
            r"find . -type f -exec ls -l {} +",
            r#"for f in *.jpeg; do mv \"$f\" \"${f%.jpeg}.jpg\"; done"#,
            r"for f in *.c; do echo ${f%.c}; done",
            r"echo ${OUT:-${HOME}/out}",
            r"echo {1..5} file.{txt,bak}",
            r"count() { wc -l < $1; }; count a.txt",
            r"awk '{print $1}' a | sed 's/}//'",
            r#"echo \"}\""#,
            r"echo \\}",
        ] {
            assert!(takes(good), "{good}");
        }
        // A stray brace after a command, as small models end one: the shell takes it as part
        // of the last word.
        for stray in [
            r"find . -name '*.tmp' -exec rm {} \\;}",
            r"comm -12 <(sort a.txt) <(sort b.txt)}",
            r"./run.sh && echo 'success'}",
            r"ls }",
        ] {
            assert!(!takes(stray), "{stray}");
        }
    }

    #[test]
    fn a_code_block_holds_a_command_as_the_shell_reads_it() {
        for good in [
            "ls -la",
            r"find . -name '*.log' -exec rm {} \;",
            r#"awk '{print $2 " x " $3}' data.csv"#,
            r#"grep -c "don't" notes.txt"#,
            r"echo 'it'\''s'",
            r#"for f in *.jpeg; do mv -- "$f" "${f%.jpeg}.jpg"; done"#,
            r#"echo "$(nproc) x `uname -m`""#,
            "mkdir -p out\ntar -xzf a.tar.gz -C out",
            "find . -type f \\\n  -name '*.c'",
            r#"printf '%s\n' "a\"b""#,
        ] {
            assert!(takes_block(good), "{good}");
        }
        for bad in [
            r"awk '{print $2 ",
            r#"echo "half"#,
            "ls }",
            "echo x ",
            "ls\n",
            "ls ``` more",
        ] {
            assert!(!takes_block(bad), "{bad:?}");
        }
        // The reply ends at the closing fence: nothing may follow it.
        let block = ReplyFormat::CodeBlock("bash".into());
        assert!(!accepts(&block, "```bash\nls\n```\nmore"));
        assert!(!accepts(&block, "ls"));
    }

    #[test]
    fn only_a_lone_string_field_gets_the_command_grammar() {
        let command = serde_json::json!({
            "type": "object",
            "properties": { "cmd": { "type": "string", "minLength": 1 } },
            "required": ["cmd"],
            "additionalProperties": false,
        });
        assert_eq!(single_string_field(&command), Some("cmd"));
        let two = serde_json::json!({
            "type": "object",
            "properties": { "cmd": { "type": "string" }, "why": { "type": "string" } },
            "required": ["cmd"],
        });
        assert_eq!(single_string_field(&two), None);
        let optional = serde_json::json!({
            "type": "object",
            "properties": { "cmd": { "type": "string" } },
        });
        assert_eq!(single_string_field(&optional), None);
    }
}
