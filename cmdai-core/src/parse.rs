//! Turns what a model replied into a command, accepting the shapes small models really emit.
//!
//! Accepted, in this order: a JSON object with a `cmd` (or `command`) field, bare or inside a
//! fenced block; the first fenced code block; a reply that is one command line. Anything else is
//! a [`ParseError`] that quotes what was received, so a caller never runs an empty or prose
//! "command".

use serde_json::Value;

/// A command read out of a model reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCommand {
    /// The shell command, trimmed, never empty.
    pub command: String,
    /// An explanation, when the model gave one in the JSON reply.
    pub explanation: Option<String>,
}

/// Why a reply could not be read as a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The reply was empty or only whitespace.
    #[error("the model replied with nothing")]
    Empty,
    /// The reply held a JSON object without a usable command field.
    #[error("the model replied with JSON that has no non-empty \"cmd\" field: {received}")]
    MissingCommandField {
        /// The reply, shortened for display.
        received: String,
    },
    /// The reply is a JSON object that ends before it is complete (generation was cut off).
    #[error("the model's JSON reply ends before it is complete: {received}")]
    IncompleteJson {
        /// The reply, shortened for display.
        received: String,
    },
    /// The reply opens a code block and ends before closing it (generation was cut off).
    #[error("the model's reply ends inside its code block: {received}")]
    IncompleteBlock {
        /// The reply, shortened for display.
        received: String,
    },
    /// The reply was prose or several lines, not a command.
    #[error("the model's reply is not a command: {received}")]
    NotACommand {
        /// The reply, shortened for display.
        received: String,
    },
}

/// Reads a command out of a model's reply.
///
/// ```
/// use cmdai_core::parse_response;
///
/// let parsed = parse_response(r#"{"cmd": "ls -la", "explanation": "long listing"}"#).unwrap();
/// assert_eq!(parsed.command, "ls -la");
/// assert_eq!(parsed.explanation.as_deref(), Some("long listing"));
///
/// assert_eq!(parse_response("```bash\ndf -h\n```").unwrap().command, "df -h");
/// assert!(parse_response("I am not sure what you mean.").is_err());
/// ```
pub fn parse_response(reply: &str) -> Result<ParsedCommand, ParseError> {
    let reply = reply.trim();
    if reply.is_empty() {
        return Err(ParseError::Empty);
    }
    // The reply format of cmdai's own prompt: the command alone in a code block. Read as a
    // block first, so that a command that holds JSON (`echo '{"a": 1}'`) is not taken for it.
    if reply.starts_with("```")
        && let Some(block) = first_fenced_block(reply)
        && !block_body(reply).trim_start().starts_with('{')
    {
        return match block {
            Ok(block) => command_from_block(block).ok_or_else(|| not_a_command(reply)),
            Err(Unclosed) => Err(ParseError::IncompleteBlock {
                received: shorten(reply),
            }),
        };
    }
    if let Some(object) = first_json_object(reply) {
        return command_from_json(&object, reply);
    }
    // A reply that opens a JSON object and never closes it was cut off: the text so far is half
    // a command at best, never the command itself.
    let incomplete = || ParseError::IncompleteJson {
        received: shorten(reply),
    };
    if reply.starts_with('{') {
        return Err(incomplete());
    }
    if let Some(block) = first_fenced_block(reply) {
        // JSON in a block, closed or not, is read as JSON.
        let body = block
            .as_ref()
            .map_or_else(|_| block_body(reply), |block| *block);
        if let Some(object) = first_json_object(body) {
            return command_from_json(&object, reply);
        }
        if body.trim_start().starts_with('{') {
            return Err(incomplete());
        }
        let block = block.map_err(|Unclosed| ParseError::IncompleteBlock {
            received: shorten(reply),
        })?;
        return command_from_block(block).ok_or_else(|| not_a_command(reply));
    }
    command_from_line(reply).ok_or_else(|| not_a_command(reply))
}

/// The first JSON object in `text`, when the text starts with one (after optional prose that
/// small models like to put first, such as "Here is the command:").
///
/// Shell escapes written inside a JSON string (`find . -exec rm {} \;`, `\(`, `\$`) are not
/// JSON escapes; models write them often. The model meant the backslash itself, so such a
/// reply is read again with each of those backslashes escaped.
fn first_json_object(text: &str) -> Option<serde_json::Map<String, Value>> {
    let start = text.find('{')?;
    let text = &text[start..];
    let object = |text: &str| {
        let mut values = serde_json::Deserializer::from_str(text).into_iter::<Value>();
        match values.next()? {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        }
    };
    object(text).or_else(|| object(&escape_shell_backslashes(text)?))
}

/// `text` with every backslash inside a JSON string that does not start a JSON escape turned
/// into `\\`; `None` if there is none.
fn escape_shell_backslashes(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 8);
    let (mut in_string, mut changed) = (false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        match c {
            '"' => in_string = !in_string,
            '\\' if in_string => match chars.peek() {
                Some('"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't' | 'u') => {
                    out.extend(chars.next());
                }
                _ => {
                    out.push('\\');
                    changed = true;
                }
            },
            _ => {}
        }
    }
    changed.then_some(out)
}

fn command_from_json(
    object: &serde_json::Map<String, Value>,
    reply: &str,
) -> Result<ParsedCommand, ParseError> {
    let text_field = |names: &[&str]| {
        names
            .iter()
            .filter_map(|name| object.get(*name)?.as_str())
            .map(str::trim)
            .find(|value| !value.is_empty())
            .map(str::to_owned)
    };
    let command =
        text_field(&["cmd", "command"]).ok_or_else(|| ParseError::MissingCommandField {
            received: shorten(reply),
        })?;
    Ok(ParsedCommand {
        command,
        explanation: text_field(&["explanation", "explain"]),
    })
}

/// The contents of the first ``` fenced block, without its info string.
fn first_fenced_block(text: &str) -> Option<Result<&str, Unclosed>> {
    text.find("```")?;
    let body = block_body(text);
    Some(body.find("```").map(|end| &body[..end]).ok_or(Unclosed))
}

/// Everything after the opening line of the first code block in `text` (all of `text` if it
/// has none).
fn block_body(text: &str) -> &str {
    let Some(open) = text.find("```") else {
        return text;
    };
    let after_fence = &text[open + 3..];
    // The info string (`bash`, `sh`, `json`) runs to the end of the opening line.
    let body_start = after_fence.find('\n').map_or(after_fence.len(), |i| i + 1);
    &after_fence[body_start..]
}

/// A code block that is opened and never closed: the reply was cut off inside it.
struct Unclosed;

/// A command from the lines of a code block: prompts (`$ `) and comment lines removed.
fn command_from_block(block: &str) -> Option<ParsedCommand> {
    let lines: Vec<&str> = block
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.strip_prefix("$ ").unwrap_or(line))
        .collect();
    if lines.is_empty() {
        return None;
    }
    Some(ParsedCommand {
        command: lines.join("\n"),
        explanation: None,
    })
}

/// A reply that is exactly one line that reads like a command, not a sentence.
fn command_from_line(reply: &str) -> Option<ParsedCommand> {
    if reply.lines().count() != 1 {
        return None;
    }
    let line = reply.strip_prefix("$ ").unwrap_or(reply);
    let line = match line.strip_prefix('`').and_then(|l| l.strip_suffix('`')) {
        Some(inner) => inner.trim(),
        None => line,
    };
    if line.is_empty() || looks_like_prose(line) {
        return None;
    }
    Some(ParsedCommand {
        command: line.to_owned(),
        explanation: None,
    })
}

/// Sentences start with a capital letter and end with punctuation; commands almost never do
/// (`find .` ends with a period but starts in lower case).
fn looks_like_prose(line: &str) -> bool {
    let starts_capitalised = line.chars().next().is_some_and(char::is_uppercase);
    let ends_like_sentence = line.ends_with(['.', '!', '?', ':']);
    let words = line.split_whitespace().count();
    (starts_capitalised && ends_like_sentence)
        || (starts_capitalised && words > 3 && !line.contains(" -"))
}

fn not_a_command(reply: &str) -> ParseError {
    ParseError::NotACommand {
        received: shorten(reply),
    }
}

/// The reply cut to a length that fits an error message, on a character boundary.
fn shorten(reply: &str) -> String {
    const MAX_CHARS: usize = 200;
    let mut chars = reply.chars();
    let mut short: String = chars.by_ref().take(MAX_CHARS).collect();
    if chars.next().is_some() {
        short.push('…');
    }
    format!("{short:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(reply: &str, expected: Result<(&str, Option<&str>), &str>) {
        let got = parse_response(reply);
        match (got, expected) {
            (Ok(parsed), Ok((command, explanation))) => {
                assert_eq!(parsed.command, command, "reply: {reply:?}");
                assert_eq!(
                    parsed.explanation.as_deref(),
                    explanation,
                    "reply: {reply:?}"
                );
            }
            (Err(error), Err(fragment)) => {
                let message = error.to_string();
                assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
            }
            (got, expected) => panic!("reply {reply:?}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn a_code_block_is_read_as_the_shell_reads_it() {
        for (reply, command) in [
            ("```bash\nls -la\n```", "ls -la"),
            (
                "```bash\necho '{\"cmd\": 1}' > a.json\n```",
                "echo '{\"cmd\": 1}' > a.json",
            ),
            (
                "```bash\nmkdir -p out\ntar -xzf a.tar.gz -C out\n```",
                "mkdir -p out\ntar -xzf a.tar.gz -C out",
            ),
            (
                "```bash\nawk '{print $1}' data.csv\n```",
                "awk '{print $1}' data.csv",
            ),
        ] {
            assert_eq!(parse_response(reply).unwrap().command, command, "{reply}");
        }
        for cut in [
            "```bash\nfind . -name '*.lo",
            "```bash\n",
            "Here: ```sh\nls -",
        ] {
            assert!(
                matches!(parse_response(cut), Err(ParseError::IncompleteBlock { .. })),
                "{cut:?}: {:?}",
                parse_response(cut)
            );
        }
    }

    #[test]
    fn a_json_reply_cut_off_is_not_taken_for_a_command() {
        for reply in [
            r#"{"cmd": "ls -l /work"#,
            "{\"cmd\":",
            "```json\n{\"cmd\": \"find . -na",
        ] {
            assert!(
                matches!(
                    parse_response(reply),
                    Err(ParseError::IncompleteJson { .. })
                ),
                "{reply}"
            );
        }
        assert_eq!(parse_response(r#"{"cmd": "ls"}"#).unwrap().command, "ls");
    }

    #[test]
    fn shell_escapes_inside_json_strings_are_kept() {
        check(
            r#"{"cmd": "find . -name '*.py' -exec wc -l {} \;"}"#,
            Ok((r"find . -name '*.py' -exec wc -l {} \;", None)),
        );
        check(
            r#"{"cmd": "find . \( -name a -o -name b \) -print \"x\" \\d"}"#,
            Ok((r#"find . \( -name a -o -name b \) -print "x" \d"#, None)),
        );
        check(
            r#"{"cmd": "echo \$HOME", "explanation": "a \$ sign"}"#,
            Ok((r"echo \$HOME", Some(r"a \$ sign"))),
        );
        // Still cut off, repaired or not.
        assert!(matches!(
            parse_response(r#"{"cmd": "find . -exec rm {} \;"#),
            Err(ParseError::IncompleteJson { .. })
        ));
    }

    #[test]
    fn strict_json() {
        check(r#"{"cmd": "ls -la"}"#, Ok(("ls -la", None)));
        check(
            r#"{"cmd":"du -sh *","explanation":"sizes"}"#,
            Ok(("du -sh *", Some("sizes"))),
        );
        check(r#"{"command": "pwd"}"#, Ok(("pwd", None)));
        check(r#"  {"cmd": "  echo hi  "}  "#, Ok(("echo hi", None)));
        check(
            r#"{"cmd": "grep -r \"TODO\" ."}"#,
            Ok((r#"grep -r "TODO" ."#, None)),
        );
    }

    #[test]
    fn json_with_trailing_or_leading_text() {
        check("{\"cmd\": \"ls\"}\nThis lists files.", Ok(("ls", None)));
        check("Here you go: {\"cmd\": \"ls\"}", Ok(("ls", None)));
    }

    #[test]
    fn json_in_fenced_block() {
        check(
            "```json\n{\"cmd\": \"find . -name '*.log'\"}\n```",
            Ok(("find . -name '*.log'", None)),
        );
    }

    #[test]
    fn json_without_command_is_an_error() {
        check(r#"{"cmd": ""}"#, Err("no non-empty \"cmd\""));
        check(r#"{"answer": "ls"}"#, Err("no non-empty \"cmd\""));
    }

    #[test]
    fn fenced_code_block() {
        check("```bash\nls -la\n```", Ok(("ls -la", None)));
        check("```\n$ df -h\n```", Ok(("df -h", None)));
        check(
            "Use this:\n\n```sh\n# show disk usage\ndu -sh .\n```\nIt prints sizes.",
            Ok(("du -sh .", None)),
        );
        check("```bash\n```", Err("not a command"));
    }

    #[test]
    fn single_command_line() {
        check("ls -la", Ok(("ls -la", None)));
        check("`ls -la`", Ok(("ls -la", None)));
        check("$ find . -type f", Ok(("find . -type f", None)));
        check("find .", Ok(("find .", None)));
    }

    #[test]
    fn prose_is_an_error_naming_the_reply() {
        check("", Err("replied with nothing"));
        check("   \n ", Err("replied with nothing"));
        check(
            "I cannot help with that.",
            Err("\"I cannot help with that.\""),
        );
        check("Sure! Here is what you need:", Err("not a command"));
        check("first line\nsecond line", Err("not a command"));
    }

    #[test]
    fn long_replies_are_shortened_in_errors() {
        let reply = format!("Nope {}", "word ".repeat(200));
        let ParseError::NotACommand { received } = parse_response(&reply).unwrap_err() else {
            panic!("expected NotACommand");
        };
        assert!(received.chars().count() < 210 && received.contains('…'));
    }
}
