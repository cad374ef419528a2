//! Turning a shell word into the text the program will see, as far as it can be known.

use std::collections::HashMap;

use brush_parser::ParserOptions;
use brush_parser::word::{Parameter, ParameterExpr, TildeExpr, WordPiece, WordPieceWithSource};

/// A word after quote removal, with the parts that only exist at run time marked.
#[derive(Debug, Default)]
pub(super) struct Resolved {
    pub text: String,
    /// Byte index in `text` where the first part cmdai cannot see begins.
    pub dynamic_at: Option<usize>,
    /// Whether an unquoted glob character remains.
    pub glob: bool,
    /// Command substitutions, as shell code, in order.
    pub substitutions: Vec<String>,
}

impl Resolved {
    fn mark_dynamic(&mut self, shown: &str) {
        self.dynamic_at.get_or_insert(self.text.len());
        self.text.push_str(shown);
    }
}

/// Resolves `raw` (a word as written) with the variables assigned earlier in the command.
pub(super) fn resolve(raw: &str, vars: &HashMap<String, String>) -> Resolved {
    let mut out = Resolved::default();
    match brush_parser::word::parse(raw, &ParserOptions::default()) {
        Ok(pieces) => push_pieces(&pieces, false, vars, &mut out),
        // The word parser rejects some words the shell accepts; reading the word with its
        // quotes removed is then the best information there is.
        Err(_) => out.text = brush_parser::unquote_str(raw),
    }
    out
}

fn push_pieces(
    pieces: &[WordPieceWithSource],
    quoted: bool,
    vars: &HashMap<String, String>,
    out: &mut Resolved,
) {
    for piece in pieces {
        match &piece.piece {
            WordPiece::Text(text) => {
                out.glob |= !quoted && text.contains(['*', '?', '[']);
                out.text.push_str(text);
            }
            WordPiece::SingleQuotedText(text) => out.text.push_str(text),
            WordPiece::AnsiCQuotedText(text) => out.text.push_str(&decode_ansi_c(text)),
            WordPiece::DoubleQuotedSequence(inner)
            | WordPiece::GettextDoubleQuotedSequence(inner) => {
                push_pieces(inner, true, vars, out);
            }
            WordPiece::TildeExpansion(tilde) => match tilde {
                TildeExpr::Home => out.text.push('~'),
                TildeExpr::UserHome(user) => {
                    out.text.push('~');
                    out.text.push_str(user);
                }
                TildeExpr::WorkingDir => out.text.push('.'),
                _ => out.mark_dynamic("~-"),
            },
            WordPiece::ParameterExpansion(expr) => push_parameter(expr, vars, out),
            WordPiece::CommandSubstitution(code)
            | WordPiece::BackquotedCommandSubstitution(code) => {
                out.substitutions.push(code.clone());
                out.mark_dynamic("$(...)");
            }
            WordPiece::EscapeSequence(escaped) => {
                out.text
                    .push_str(escaped.strip_prefix('\\').unwrap_or(escaped));
            }
            WordPiece::ArithmeticExpression(_) => out.mark_dynamic("$((...))"),
        }
    }
}

/// Decodes the escapes of `$'...'` quoting (`\x72` is `r`): a classic way to hide a name.
fn decode_ansi_c(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(kind) = chars.next() else { break };
        let (radix, max_digits) = match kind {
            'x' => (16, 2),
            'u' => (16, 4),
            'U' => (16, 8),
            '0'..='7' => (8, 3),
            'n' => {
                out.push('\n');
                continue;
            }
            't' => {
                out.push('\t');
                continue;
            }
            'e' | 'E' => {
                out.push('\u{1b}');
                continue;
            }
            other => {
                out.push(other);
                continue;
            }
        };
        let mut digits = String::new();
        if radix == 8 {
            digits.push(kind);
        }
        while digits.len() < max_digits && chars.peek().is_some_and(|d| d.is_digit(radix)) {
            digits.extend(chars.next());
        }
        if let Some(decoded) = u32::from_str_radix(&digits, radix)
            .ok()
            .and_then(char::from_u32)
        {
            out.push(decoded);
        }
    }
    out
}

fn push_parameter(expr: &ParameterExpr, vars: &HashMap<String, String>, out: &mut Resolved) {
    if let ParameterExpr::Parameter {
        parameter: Parameter::Named(name),
        indirect: false,
    } = expr
    {
        if let Some(value) = vars.get(name) {
            out.text.push_str(value);
            return;
        }
        match name.as_str() {
            "HOME" => out.text.push('~'),
            "PWD" => out.text.push('.'),
            _ => out.mark_dynamic(&format!("${name}")),
        }
        return;
    }
    out.mark_dynamic("${...}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(raw: &str) -> (String, Option<usize>) {
        let vars = HashMap::from([("x".to_owned(), "rm".to_owned())]);
        let r = resolve(raw, &vars);
        (r.text, r.dynamic_at)
    }

    #[test]
    fn removes_quotes_and_escapes() {
        assert_eq!(text(r"\rm"), ("rm".into(), None));
        assert_eq!(text("r''m"), ("rm".into(), None));
        assert_eq!(text(r#""r"m"#), ("rm".into(), None));
        assert_eq!(text("$'\\x72\\155'"), ("rm".into(), None));
        assert_eq!(text("$x"), ("rm".into(), None));
        assert_eq!(text("$HOME/x"), ("~/x".into(), None));
        assert_eq!(text("$DIR/x"), ("$DIR/x".into(), Some(0)));
        assert_eq!(text("/$(echo etc)"), ("/$(...)".into(), Some(1)));
    }
}
