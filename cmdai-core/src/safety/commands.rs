//! A command line's words and simple commands as the shell reads them, for callers that compare
//! commands rather than judge them (`cmdai eval`).

use brush_parser::ast::{
    self, AndOr, Command, CommandPrefixOrSuffixItem, CompoundCommand, CompoundList,
    ExtendedTestExpr,
};
use brush_parser::{Token, tokenize_str};

use super::checks::{Wrapped, wrapped, xargs_command};
use super::walk::{Arg, catch_quietly, parse};
use super::{MAX_COMMAND_BYTES, Span, rules, words};

/// One simple command of a command line: the program and its arguments, each with quotes and
/// escapes removed and expansions (`$x`, `$(...)`, `~`) left as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimpleCommand {
    /// The program, as written (`ls`, `/bin/ls`).
    pub program: String,
    /// Its arguments, in order; redirections (`> out.txt`, `2>&1`) are not arguments, and a
    /// process substitution is `<(...)` or `>(...)`.
    pub args: Vec<String>,
    /// The wrappers seen through to reach the program, outermost first, as written (`sudo`,
    /// `xargs`); empty for most commands.
    pub wrappers: Vec<String>,
}

/// The words of `command` as the shell's tokenizer splits them, with quotes and escapes
/// removed and expansions left as written; operators (`|`, `&&`, `;`, `>`, a newline...) are
/// words of their own. `None` when `command` cannot be read as shell (an open quote, an
/// unterminated here-document, more than [`MAX_COMMAND_BYTES`]).
///
/// ```
/// use cmdai_core::safety::shell_words;
///
/// let words = shell_words("grep -c 'a|b' \"my file\" 2>&1 | wc -l").unwrap();
/// assert_eq!(words, ["grep", "-c", "a|b", "my file", "2", ">&", "1", "|", "wc", "-l"]);
/// ```
pub fn shell_words(command: &str) -> Option<Vec<String>> {
    if command.len() > MAX_COMMAND_BYTES {
        return None;
    }
    parse(command).ok()?;
    let tokens = catch_quietly(|| tokenize_str(command))?.ok()?;
    Some(
        tokens
            .iter()
            .map(|token| match token {
                Token::Operator(operator, _) => operator.clone(),
                Token::Word(raw, _) => words::unquoted(raw).0,
            })
            .collect(),
    )
}

/// The simple commands `command` runs, in order: those of pipelines, lists (`&&`, `||`, `;`,
/// `&`), subshells, groups, loops, conditionals and function bodies, but not those inside
/// command substitutions or strings handed to `sh -c`. Wrappers are seen through the way the
/// safety analysis sees through them (the `[[wrapper]]` table of `rules.toml`, and `xargs`):
/// `sudo -u bob env X=1 nice -n 5 make -j4` is `make -j4`. `None` when `command` cannot be
/// parsed as shell, or is longer than [`MAX_COMMAND_BYTES`].
///
/// ```
/// use cmdai_core::safety::simple_commands;
///
/// let commands = simple_commands("sudo -u bob du -sh \"$HOME\" 2>/dev/null | sort -h").unwrap();
/// let programs: Vec<_> = commands.iter().map(|c| c.program.as_str()).collect();
/// assert_eq!(programs, ["du", "sort"]);
/// assert_eq!(commands[0].args, ["-sh", "$HOME"]);
/// ```
pub fn simple_commands(command: &str) -> Option<Vec<SimpleCommand>> {
    if command.len() > MAX_COMMAND_BYTES {
        return None;
    }
    let program = parse(command).ok()?;
    let mut out = Vec::new();
    for list in &program.complete_commands {
        compound_list(list, &mut out);
    }
    Some(out)
}

fn compound_list(list: &CompoundList, out: &mut Vec<SimpleCommand>) {
    for item in &list.0 {
        pipeline(&item.0.first, out);
        for next in &item.0.additional {
            let (AndOr::And(next) | AndOr::Or(next)) = next;
            pipeline(next, out);
        }
    }
}

fn pipeline(pipeline: &ast::Pipeline, out: &mut Vec<SimpleCommand>) {
    for command in &pipeline.seq {
        self::command(command, out);
    }
}

fn command(command: &Command, out: &mut Vec<SimpleCommand>) {
    match command {
        Command::Simple(simple) => out.extend(self::simple(simple)),
        Command::Compound(compound, _) => self::compound(compound, out),
        Command::Function(function) => self::compound(&function.body.0, out),
        Command::ExtendedTest(test, _) => {
            let mut args = Vec::new();
            extended_test(&test.expr, &mut args);
            args.push("]]".to_owned());
            out.push(SimpleCommand {
                program: "[[".to_owned(),
                args,
                wrappers: Vec::new(),
            });
        }
    }
}

fn compound(compound: &CompoundCommand, out: &mut Vec<SimpleCommand>) {
    match compound {
        CompoundCommand::BraceGroup(group) => compound_list(&group.list, out),
        CompoundCommand::Subshell(subshell) => compound_list(&subshell.list, out),
        CompoundCommand::ForClause(clause) => compound_list(&clause.body.list, out),
        CompoundCommand::ArithmeticForClause(clause) => compound_list(&clause.body.list, out),
        CompoundCommand::CaseClause(clause) => {
            for list in clause.cases.iter().filter_map(|case| case.cmd.as_ref()) {
                compound_list(list, out);
            }
        }
        CompoundCommand::IfClause(clause) => {
            compound_list(&clause.condition, out);
            compound_list(&clause.then, out);
            for branch in clause.elses.iter().flatten() {
                if let Some(condition) = &branch.condition {
                    compound_list(condition, out);
                }
                compound_list(&branch.body, out);
            }
        }
        CompoundCommand::WhileClause(clause) | CompoundCommand::UntilClause(clause) => {
            compound_list(&clause.0, out);
            compound_list(&clause.1.list, out);
        }
        CompoundCommand::Coprocess(coprocess) => command(&coprocess.body, out),
        CompoundCommand::Arithmetic(_) => {}
    }
}

/// The words of `[[ ... ]]`, as written between the brackets.
fn extended_test(expr: &ExtendedTestExpr, out: &mut Vec<String>) {
    match expr {
        ExtendedTestExpr::And(left, right) | ExtendedTestExpr::Or(left, right) => {
            extended_test(left, out);
            let operator = if matches!(expr, ExtendedTestExpr::And(..)) {
                "&&"
            } else {
                "||"
            };
            out.push(operator.to_owned());
            extended_test(right, out);
        }
        ExtendedTestExpr::Not(inner) => {
            out.push("!".to_owned());
            extended_test(inner, out);
        }
        ExtendedTestExpr::Parenthesized(inner) => {
            out.push("(".to_owned());
            extended_test(inner, out);
            out.push(")".to_owned());
        }
        ExtendedTestExpr::UnaryTest(predicate, word) => {
            out.push(predicate.to_string());
            out.push(words::unquoted(&word.value).0);
        }
        ExtendedTestExpr::BinaryTest(predicate, left, right) => {
            out.push(words::unquoted(&left.value).0);
            out.push(predicate.to_string());
            out.push(words::unquoted(&right.value).0);
        }
    }
}

/// A simple command, wrappers seen through; `None` for one that only assigns or redirects.
fn simple(simple: &ast::SimpleCommand) -> Option<SimpleCommand> {
    let word = |word: &ast::Word| {
        let (text, literal) = words::unquoted(&word.value);
        Arg {
            dynamic_at: (!literal).then_some(0),
            ..Arg::literal(text, Span::new(0, 0))
        }
    };
    let mut name = word(simple.word_or_name.as_ref()?);
    // After the name, `of=/dev/sda` is an argument (dd's); redirections never are.
    let mut args: Vec<Arg> = simple
        .suffix
        .iter()
        .flat_map(|suffix| &suffix.0)
        .filter_map(|item| match item {
            CommandPrefixOrSuffixItem::Word(w)
            | CommandPrefixOrSuffixItem::AssignmentWord(_, w) => Some(word(w)),
            // `diff <(ls a) <(ls b)`: a path to what the list prints, shown as the analysis
            // shows it.
            CommandPrefixOrSuffixItem::ProcessSubstitution(kind, _) => Some(Arg {
                dynamic_at: Some(0),
                ..Arg::literal(format!("{kind}(...)"), Span::new(0, 0))
            }),
            CommandPrefixOrSuffixItem::IoRedirect(_) => None,
        })
        .collect();
    let rules = rules::builtin();
    let mut wrappers = Vec::new();
    // Each round takes one wrapper off, so this ends.
    loop {
        let base = name.text.rsplit('/').next().unwrap_or_default();
        let inner = if matches!(base, "xargs" | "parallel") {
            let (range, _) = xargs_command(base, &args);
            (!range.is_empty()).then_some(range)
        } else {
            match rules.wrapper(base).map(|w| wrapped(base, w, &args)) {
                Some(Wrapped::Command(index)) => Some(index..args.len()),
                _ => None,
            }
        };
        let Some(range) = inner else { break };
        let mut rest = args.drain(range).collect::<Vec<_>>().into_iter();
        let Some(next) = rest.next() else { break };
        wrappers.push(std::mem::replace(&mut name, next).text);
        args = rest.collect();
    }
    Some(SimpleCommand {
        program: name.text,
        args: args.into_iter().map(|a| a.text).collect(),
        wrappers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `command`'s simple commands, each written as its words joined by spaces.
    fn check(command: &str, expected: &[&str]) {
        let commands = simple_commands(command).unwrap_or_else(|| panic!("{command:?}"));
        let written: Vec<String> = commands
            .iter()
            .map(|c| {
                std::iter::once(c.program.as_str())
                    .chain(c.args.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        assert_eq!(written, expected, "{command:?}");
    }

    #[test]
    fn simple_commands_of_lists_pipelines_and_compounds() {
        check("ls -la", &["ls -la"]);
        check("a | b && c || d; e & f", &["a", "b", "c", "d", "e", "f"]);
        check("ls -l 'my file' \"a b\" x\\ y", &["ls -l my file a b x y"]);
        check("grep 'a|b' f.txt", &["grep a|b f.txt"]);
        check("X=1 make -j4 > log 2>&1", &["make -j4"]);
        check("x=1", &[]);
        check(
            "echo $(ls | wc -l) \"$HOME\"",
            &["echo $(ls | wc -l) $HOME"],
        );
        check("cat <<< 'a; b' | tr a-z A-Z", &["cat", "tr a-z A-Z"]);
        check("cat <<EOF | wc -l\nx | y\nEOF", &["cat", "wc -l"]);
        check("diff <(ls a) <(ls b)", &["diff <(...) <(...)"]);
        check("for f in *.txt; do wc -l \"$f\"; done", &["wc -l $f"]);
        check(
            "if [ -f x ]; then rm x; else touch x; fi",
            &["[ -f x ]", "rm x", "touch x"],
        );
        check(
            "[[ -f x && ! -d y ]] && rm x",
            &["[[ -f x && ! -d y ]]", "rm x"],
        );
        check("(cd src && make)", &["cd src", "make"]);
        check("dd if=a of=b", &["dd if=a of=b"]);
        check("ls\nwc", &["ls", "wc"]);
    }

    #[test]
    fn wrappers_are_seen_through() {
        check("sudo -u bob du -sh /", &["du -sh /"]);
        check(
            "sudo env X=1 nice -n 5 /usr/bin/make -j4",
            &["/usr/bin/make -j4"],
        );
        check("timeout 5 ping host", &["ping host"]);
        check("find . | xargs -0 -n 1 rm -f", &["find .", "rm -f"]);
        check("ls | parallel gzip ::: a b", &["ls", "gzip"]);
        check("time ls", &["ls"]);
        // Wrappers that run nothing named here stay what they are.
        check("sudo -i", &["sudo -i"]);
        check("command -v ls", &["command -v ls"]);
        check("env", &["env"]);
        check("su -c 'rm x' bob", &["su -c rm x bob"]);
        check("xargs", &["xargs"]);
    }

    #[test]
    fn unparseable_commands_have_none() {
        assert_eq!(simple_commands("echo 'open"), None);
        assert_eq!(simple_commands("cat <<EOF"), None);
        assert_eq!(shell_words("echo 'open"), None);
        assert_eq!(simple_commands(&"x".repeat(MAX_COMMAND_BYTES + 1)), None);
    }

    #[test]
    fn shell_words_remove_quotes_and_keep_operators() {
        let words = |command: &str| shell_words(command).unwrap();
        assert_eq!(
            words("a|b&&c 'x y'\\ z"),
            ["a", "|", "b", "&&", "c", "x y z"]
        );
        assert_eq!(words("ls  -l 'a b'"), words("ls -l \"a b\""));
        assert_eq!(words("echo $(ls | wc -l)"), ["echo", "$(ls | wc -l)"]);
        assert_eq!(words("echo \"it's\" $'\\x41'"), ["echo", "it's", "A"]);
    }
}
