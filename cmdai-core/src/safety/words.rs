//! Turning a shell word into the text the program will see, as far as it can be known.

use std::collections::HashMap;

use brush_parser::ParserOptions;
use brush_parser::word::{
    Parameter, ParameterExpr, SpecialParameter, TildeExpr, WordPiece, WordPieceWithSource,
};

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
    /// Whether an unquoted expansion is in the word: the shell splits its value into words.
    pub splits: bool,
    /// How many parts only exist at run time.
    pub dynamic_parts: usize,
}

impl Resolved {
    fn mark_dynamic(&mut self, shown: &str) {
        self.dynamic_parts += 1;
        self.dynamic_at.get_or_insert(self.text.len());
        self.text.push_str(shown);
    }
}

/// Resolves `raw` (a word as written) with the variables assigned earlier in the command.
pub(super) fn resolve(raw: &str, vars: &HashMap<String, String>) -> Resolved {
    let mut out = Resolved::default();
    // The word parser reads `$(...)` inside words with the same tokenizer: it gets the same
    // guard as whole commands.
    if super::walk::parseable(raw).is_err() {
        out.text = brush_parser::unquote_str(raw);
        return out;
    }
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
            WordPiece::ParameterExpansion(expr) => {
                out.splits |= !quoted;
                push_parameter(expr, vars, out);
            }
            WordPiece::CommandSubstitution(code)
            | WordPiece::BackquotedCommandSubstitution(code) => {
                out.splits |= !quoted;
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

/// `raw` (a word as written) with its quotes and escapes removed and its expansions (`$x`,
/// `$(...)`, `~`) left as written; whether it has none.
pub(super) fn unquoted(raw: &str) -> (String, bool) {
    let pieces = match super::walk::parseable(raw) {
        Ok(()) => brush_parser::word::parse(raw, &ParserOptions::default()).ok(),
        Err(_) => None,
    };
    let Some(pieces) = pieces else {
        // As in `resolve`: the word parser rejects some words the shell accepts.
        return (brush_parser::unquote_str(raw), !raw.contains(['$', '`']));
    };
    let mut text = String::new();
    let literal = push_unquoted(raw, &pieces, &mut text);
    (text, literal)
}

fn push_unquoted(raw: &str, pieces: &[WordPieceWithSource], out: &mut String) -> bool {
    let mut literal = true;
    for piece in pieces {
        match &piece.piece {
            WordPiece::Text(text) | WordPiece::SingleQuotedText(text) => out.push_str(text),
            WordPiece::AnsiCQuotedText(text) => out.push_str(&decode_ansi_c(text)),
            WordPiece::DoubleQuotedSequence(inner)
            | WordPiece::GettextDoubleQuotedSequence(inner) => {
                literal &= push_unquoted(raw, inner, out);
            }
            WordPiece::EscapeSequence(escaped) => {
                out.push_str(escaped.strip_prefix('\\').unwrap_or(escaped));
            }
            WordPiece::TildeExpansion(_)
            | WordPiece::ParameterExpansion(_)
            | WordPiece::CommandSubstitution(_)
            | WordPiece::BackquotedCommandSubstitution(_)
            | WordPiece::ArithmeticExpression(_) => {
                literal = false;
                out.push_str(
                    raw.get(piece.start_index..piece.end_index)
                        .unwrap_or_default(),
                );
            }
        }
    }
    literal
}

/// Decodes the escapes of `$'...'` quoting (`\x72` is `r`): a classic way to hide a name.
/// `printf` and `echo -e` understand the same escapes.
pub(super) fn decode_ansi_c(text: &str) -> String {
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
    match expr {
        ParameterExpr::Parameter {
            parameter: Parameter::Named(name),
            indirect: false,
        } => {
            if let Some(value) = vars.get(name) {
                out.text.push_str(value);
                return;
            }
            match name.as_str() {
                "HOME" => out.text.push('~'),
                "PWD" => out.text.push('.'),
                // `rm${IFS}-rf${IFS}~`: unset, IFS splits at blanks.
                "IFS" => {
                    out.splits = true;
                    out.text.push(' ');
                }
                _ => out.mark_dynamic(&format!("${name}")),
            }
        }
        // `$1`, `$0`: set by `set --` earlier in the command, else known only at run time.
        ParameterExpr::Parameter {
            parameter: Parameter::Positional(index),
            indirect: false,
        } => match vars.get(&index.to_string()) {
            Some(value) => out.text.push_str(value),
            None => out.mark_dynamic(&format!("${index}")),
        },
        ParameterExpr::Parameter {
            parameter: Parameter::Special(SpecialParameter::ShellName),
            indirect: false,
        } => out.mark_dynamic("$0"),
        // `$*`, `$@`: the positional parameters `set --` gave, split into words.
        ParameterExpr::Parameter {
            parameter: Parameter::Special(SpecialParameter::AllPositionalParameters { .. }),
            indirect: false,
        } => match vars.get("@") {
            Some(value) => {
                out.splits = true;
                out.text.push_str(value);
            }
            None => out.mark_dynamic("$@"),
        },
        // `${HOME%%/*}`: a known value with a pattern removed.
        ParameterExpr::RemoveSmallestSuffixPattern {
            parameter: Parameter::Named(name),
            indirect: false,
            pattern,
        }
        | ParameterExpr::RemoveLargestSuffixPattern {
            parameter: Parameter::Named(name),
            indirect: false,
            pattern,
        }
        | ParameterExpr::RemoveSmallestPrefixPattern {
            parameter: Parameter::Named(name),
            indirect: false,
            pattern,
        }
        | ParameterExpr::RemoveLargestPrefixPattern {
            parameter: Parameter::Named(name),
            indirect: false,
            pattern,
        } => {
            let value = vars
                .get(name)
                .map(String::as_str)
                .or_else(|| well_known(name));
            let suffix = matches!(
                expr,
                ParameterExpr::RemoveSmallestSuffixPattern { .. }
                    | ParameterExpr::RemoveLargestSuffixPattern { .. }
            );
            let largest = matches!(
                expr,
                ParameterExpr::RemoveLargestSuffixPattern { .. }
                    | ParameterExpr::RemoveLargestPrefixPattern { .. }
            );
            match (value, pattern) {
                (Some(value), Some(pattern)) => {
                    out.text
                        .push_str(&remove_pattern(value, pattern, suffix, largest));
                }
                _ => out.mark_dynamic("${...}"),
            }
        }
        // `${DIR:-/}`: when the variable is unknown, its default may well be what runs.
        ParameterExpr::UseDefaultValues {
            parameter: Parameter::Named(name),
            indirect: false,
            default_value,
            ..
        } => match (vars.get(name), default_value) {
            (Some(value), _) => out.text.push_str(value),
            (None, Some(default)) => out.text.push_str(&resolve(default, vars).text),
            (None, None) => out.mark_dynamic(&format!("${name}")),
        },
        // `"${cmd[@]}"`: every element, as separate words even inside quotes.
        ParameterExpr::Parameter {
            parameter: Parameter::NamedWithAllIndices { name, .. },
            indirect: false,
        } => match vars.get(&array_key(name)) {
            Some(value) => {
                out.splits = true;
                out.text.push_str(value);
            }
            None => out.mark_dynamic("${...}"),
        },
        // `${PATH:0:1}` is `/`: substrings of values cmdai knows are known too.
        ParameterExpr::Substring {
            parameter: Parameter::Named(name),
            indirect: false,
            offset,
            length,
        } => {
            let value = vars
                .get(name)
                .map(String::as_str)
                .or_else(|| well_known(name));
            let number = |text: &str| text.trim().parse::<usize>().ok();
            let start = number(&offset.value);
            let count = length.as_ref().map(|l| number(&l.value));
            match (value, start, count) {
                (Some(value), Some(start), None | Some(Some(_))) => {
                    let count = count.flatten().unwrap_or(usize::MAX);
                    out.text.extend(value.chars().skip(start).take(count));
                }
                _ => out.mark_dynamic("${...}"),
            }
        }
        _ => out.mark_dynamic("${...}"),
    }
}

/// `value` with the shortest or longest match of the glob `pattern` removed from its end
/// (`%`, `%%`) or start (`#`, `##`).
fn remove_pattern(value: &str, pattern: &str, suffix: bool, largest: bool) -> String {
    let glob = wildmatch::WildMatch::new(pattern);
    let cuts: Vec<usize> = value
        .char_indices()
        .map(|(at, _)| at)
        .chain(std::iter::once(value.len()))
        .collect();
    let matching = |at: &&usize| {
        if suffix {
            glob.matches(&value[**at..])
        } else {
            glob.matches(&value[..**at])
        }
    };
    // For a suffix the longest match starts earliest; for a prefix it ends latest.
    let cut = match (suffix, largest) {
        (true, true) => cuts.iter().find(matching),
        (true, false) => cuts.iter().rev().find(matching),
        (false, true) => cuts.iter().rev().find(matching),
        (false, false) => cuts.iter().find(matching),
    };
    match (cut, suffix) {
        (Some(&at), true) => value[..at].to_owned(),
        (Some(&at), false) => value[at..].to_owned(),
        (None, _) => value.to_owned(),
    }
}

/// Where the elements of array `name` are kept among the variables.
pub(super) fn array_key(name: &str) -> String {
    format!("{name}[@]")
}

/// Typical values of variables every shell has, for expansions that take them apart.
fn well_known(name: &str) -> Option<&'static str> {
    Some(match name {
        "PATH" => "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME" => "/home/user",
        "SHELL" => "/bin/bash",
        "PWD" => "/home/user",
        _ => return None,
    })
}

/// The words of `{a,b,c}` (brace expansion), when `raw` is one unquoted brace list; empty
/// alternatives vanish, as in the shell.
pub(super) fn brace_words(raw: &str) -> Option<Vec<String>> {
    // `/{etc,usr,var}`, `{rm,-rf,/}`: one brace list with literal text around it.
    let open = raw.find('{')?;
    let close = raw.rfind('}')?;
    let (prefix, suffix) = (&raw[..open], &raw[close + 1..]);
    if close < open
        || prefix.contains(['\'', '"', '\\', '$', '`', '{', '}'])
        || suffix.contains(['\'', '"', '\\', '$', '`', '{', '}'])
    {
        return None;
    }
    let inner = &raw[open + 1..close];
    if !inner.contains(',')
        || inner.contains(['{', '}', '\'', '"', '\\', '$', '`'])
        || inner.contains(char::is_whitespace)
    {
        return None;
    }
    Some(
        inner
            .split(',')
            .map(|w| format!("{prefix}{w}{suffix}"))
            .filter(|w| !w.is_empty())
            .collect(),
    )
}

/// Splits an expanded value into words at the characters of `ifs` (default: blanks).
pub(super) fn split_fields(text: &str, ifs: Option<&str>) -> Vec<String> {
    let ifs = ifs.unwrap_or(" \t\n");
    text.split(|c| ifs.contains(c))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
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
        assert_eq!(text("${PATH:0:1}"), ("/".into(), None));
        assert_eq!(text("${HOME%%/*}/"), ("/".into(), None));
        assert_eq!(text("${HOME##*/}"), ("user".into(), None));
    }
}
