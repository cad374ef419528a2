//! What database clients are told to do: SQL handed to `psql -c`, `mysql -e`, `sqlite3`, here-
//! documents or pipes is parsed with [`sqlparser`]; MongoDB shell code and Redis commands are
//! read for their destructive calls.

use sqlparser::ast::{AlterTableOperation, FromTable, ObjectType, Statement};
use sqlparser::dialect::{Dialect, GenericDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::flow::input_text;
use super::rules::operands;
use super::walk::{Arg, Invocation, Walker};
use super::{Category, RiskLevel, Span};

/// A database client and how it takes code on its command line.
pub(super) struct Client {
    names: &'static [&'static str],
    language: Language,
    /// Options whose value is code to run.
    code_options: &'static [&'static str],
    /// Options that take a value (skipped when finding operands).
    value_options: &'static [&'static str],
    /// Code is given as operands after the first (`sqlite3 db.sqlite "SQL"`).
    code_operands: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Language {
    Postgres,
    MySql,
    Sqlite,
    Sql,
    Mongo,
    Redis,
    Cypher,
}

const CLIENTS: &[Client] = &[
    Client {
        names: &["psql", "pgcli"],
        language: Language::Postgres,
        code_options: &["-c", "--command"],
        value_options: &[
            "-d",
            "-U",
            "-h",
            "-p",
            "-f",
            "--dbname",
            "--username",
            "--host",
            "--port",
        ],
        code_operands: false,
    },
    Client {
        names: &["mysql", "mariadb", "mycli"],
        language: Language::MySql,
        code_options: &["-e", "--execute"],
        value_options: &[
            "-u",
            "-h",
            "-P",
            "-D",
            "--user",
            "--host",
            "--port",
            "--database",
        ],
        code_operands: false,
    },
    Client {
        names: &["sqlite3", "sqlite", "duckdb", "litecli"],
        language: Language::Sqlite,
        code_options: &["-cmd", "-c"],
        value_options: &["-separator", "-newline", "-nullvalue"],
        code_operands: true,
    },
    Client {
        names: &[
            "cqlsh",
            "clickhouse-client",
            "clickhouse",
            "sqlcmd",
            "snowsql",
            "trino",
            "presto",
            "cockroach",
            "usql",
            "bq",
        ],
        language: Language::Sql,
        code_options: &["-q", "--query", "-Q", "-e", "--execute"],
        value_options: &[
            "-h",
            "--host",
            "-u",
            "--user",
            "-d",
            "--database",
            "-S",
            "-U",
            "-P",
            "--port",
        ],
        code_operands: false,
    },
    Client {
        names: &["cypher-shell", "neo4j-client"],
        language: Language::Cypher,
        code_options: &[],
        value_options: &[
            "-u",
            "-p",
            "-a",
            "-d",
            "--username",
            "--password",
            "--address",
            "--database",
            "-f",
            "--file",
        ],
        code_operands: true,
    },
    Client {
        names: &["mongosh", "mongo"],
        language: Language::Mongo,
        code_options: &["--eval"],
        value_options: &[
            "--host",
            "--port",
            "-u",
            "-p",
            "--username",
            "--password",
            "--authenticationDatabase",
        ],
        code_operands: false,
    },
    Client {
        names: &["redis-cli", "valkey-cli", "keydb-cli"],
        language: Language::Redis,
        code_options: &[],
        value_options: &[
            "-h",
            "-p",
            "-a",
            "-n",
            "-u",
            "--user",
            "--pass",
            "-s",
            "-r",
            "-i",
            "--tls-cert",
        ],
        code_operands: false,
    },
];

pub(super) fn client(base: &str) -> Option<&'static Client> {
    CLIENTS.iter().find(|c| c.names.contains(&base))
}

/// One destructive effect found in database code.
struct Effect {
    level: RiskLevel,
    message: String,
}

impl Walker<'_> {
    /// A database client: the code it is handed, on its command line or standard input.
    /// Returns whether `base` is one.
    pub(super) fn database(&mut self, base: &str, invocation: &Invocation) -> bool {
        let Some(client) = client(base) else {
            return false;
        };
        let args = &invocation.args;
        let mut pieces: Vec<(String, Span)> = Vec::new();
        let mut index = 0;
        let mut positional = Vec::new();
        while let Some(arg) = args.get(index) {
            index += 1;
            let text = arg.text.as_str();
            let (option, inline) = match text.split_once('=') {
                Some((option, value)) if text.starts_with("--") => (option, Some(value)),
                _ => (text, None),
            };
            if client.code_options.contains(&option) {
                match inline {
                    Some(value) => pieces.push((value.to_owned(), arg.span)),
                    None => {
                        if let Some(code) = args.get(index) {
                            pieces.push((code.text.clone(), code.span));
                        }
                        index += 1;
                    }
                }
            } else if client.value_options.contains(&option) && inline.is_none() {
                index += 1;
            } else if !text.starts_with('-') || text == "-" {
                positional.push(arg);
            }
        }
        match client.language {
            Language::Redis if !positional.is_empty() => {
                let words: Vec<&Arg> = positional;
                self.redis(&words, invocation.span);
            }
            Language::Cypher => {
                pieces.extend(positional.iter().map(|a| (a.text.clone(), a.span)));
            }
            _ if client.code_operands => {
                pieces.extend(positional.iter().skip(1).map(|a| (a.text.clone(), a.span)));
            }
            Language::Sql if base == "bq" => {
                pieces.extend(
                    operands(args)
                        .iter()
                        .skip_while(|a| a.text != "query")
                        .skip(1)
                        .map(|a| (a.text.clone(), a.span)),
                );
            }
            _ => {}
        }
        match input_text(invocation) {
            Some(text) => pieces.push((text, invocation.span)),
            // `mysql -N -e "SELECT concat('DROP DATABASE ', ...)" | mysql`: the statements an
            // earlier query builds as text are run.
            None if self.generated_sql
                && matches!(invocation.stdin, super::walk::Input::Pipe(..)) =>
            {
                self.report(
                    RiskLevel::Critical,
                    Category::Delete,
                    invocation.span,
                    "runs DROP, TRUNCATE or DELETE statements that an earlier query generates, for everything it lists"
                );
            }
            None => {}
        }
        if !matches!(client.language, Language::Mongo | Language::Redis)
            && pieces.iter().any(|(code, _)| builds_destructive_sql(code))
        {
            self.generated_sql = true;
        }
        for (code, span) in pieces {
            // Client commands that run a shell: sqlite's `.shell`/`.system`, psql's and
            // mysql's `\!`, mysql's `system`.
            for line in code.split(['\n', ';']).map(str::trim) {
                let shell = [".shell ", ".system ", "\\! ", "\\!", "system "]
                    .iter()
                    .find_map(|prefix| line.strip_prefix(prefix));
                if let Some(shell) = shell {
                    let rest = code
                        .find(line)
                        .map_or(shell, |at| &code[at + (line.len() - shell.len())..]);
                    let frame = super::walk::Frame::detached(span);
                    let nested = self.nested(&frame, rest, span, invocation.privileged);
                    self.code(&nested);
                    break;
                }
            }
            let effects = match client.language {
                Language::Cypher => cypher_effects(&code),
                Language::Mongo => mongo_effects(&code),
                Language::Redis => {
                    for line in code.lines() {
                        let words: Vec<Arg> = line
                            .split_whitespace()
                            .map(|w| Arg::literal(w.to_owned(), span))
                            .collect();
                        let refs: Vec<&Arg> = words.iter().collect();
                        self.redis(&refs, span);
                    }
                    Vec::new()
                }
                language => sql_effects(&code, language),
            };
            for effect in effects {
                self.report(effect.level, Category::Delete, span, effect.message);
            }
        }
        true
    }

    fn redis(&mut self, words: &[&Arg], span: Span) {
        let Some(command) = words.first() else {
            return;
        };
        let rest = &words[1..];
        let (level, message) = match command.text.to_ascii_lowercase().as_str() {
            "flushall" => (
                RiskLevel::Critical,
                "deletes every key in every Redis database",
            ),
            "flushdb" => (RiskLevel::High, "deletes every key in the Redis database"),
            "shutdown" => (RiskLevel::High, "stops the Redis server"),
            "config"
                if rest
                    .first()
                    .is_some_and(|w| w.text.eq_ignore_ascii_case("set"))
                    && rest.get(1).is_some_and(|w| {
                        w.text.eq_ignore_ascii_case("protected-mode")
                            || w.text.eq_ignore_ascii_case("requirepass")
                            || w.text.eq_ignore_ascii_case("bind")
                    }) =>
            {
                (
                    RiskLevel::High,
                    "opens Redis to the network or removes its password",
                )
            }
            "config"
                if rest
                    .first()
                    .is_some_and(|w| w.text.eq_ignore_ascii_case("set"))
                    && rest.get(1).is_some_and(|w| {
                        ["dir", "dbfilename"]
                            .iter()
                            .any(|k| w.text.eq_ignore_ascii_case(k))
                    }) =>
            {
                (
                    RiskLevel::High,
                    "points Redis's dump file elsewhere: a known way to write files on the server",
                )
            }
            "del" | "unlink" if rest.iter().any(|w| !w.is_literal() || w.text.contains('*')) => {
                (RiskLevel::High, "deletes Redis keys chosen at run time")
            }
            "del" | "unlink" | "expire" => (RiskLevel::Moderate, "deletes Redis keys"),
            _ => return,
        };
        self.report(level, Category::Delete, span, message);
    }
}

fn dialect(language: Language) -> Box<dyn Dialect> {
    match language {
        Language::Postgres => Box::new(PostgreSqlDialect {}),
        Language::MySql => Box::new(MySqlDialect {}),
        Language::Sqlite => Box::new(SQLiteDialect {}),
        _ => Box::new(GenericDialect {}),
    }
}

/// The destructive statements in `sql`. Statements the parser does not understand (client
/// meta-commands such as `\dt`, vendor syntax) are read token by token instead.
fn sql_effects(sql: &str, language: Language) -> Vec<Effect> {
    let dialect = dialect(language);
    let mut effects = Vec::new();
    // Client meta-commands (`\c db`, `.tables`) are not SQL.
    let statements_text: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with('\\') && !l.trim_start().starts_with('.'))
        .collect::<Vec<_>>()
        .join("\n");
    match Parser::parse_sql(dialect.as_ref(), &statements_text) {
        Ok(statements) => {
            for statement in &statements {
                effects.extend(statement_effect(statement));
            }
        }
        Err(_) => {
            for piece in statements_text.split(';') {
                match Parser::parse_sql(dialect.as_ref(), piece) {
                    Ok(statements) => {
                        effects.extend(statements.iter().filter_map(statement_effect))
                    }
                    Err(_) => effects.extend(token_effect(piece, dialect.as_ref())),
                }
            }
        }
    }
    effects
}

fn statement_effect(statement: &Statement) -> Option<Effect> {
    let (level, message) = match statement {
        Statement::Drop {
            object_type, names, ..
        } => {
            let names = names
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let level = match object_type {
                ObjectType::Database | ObjectType::Schema => RiskLevel::Critical,
                ObjectType::Index | ObjectType::View | ObjectType::Collation => RiskLevel::Moderate,
                _ => RiskLevel::High,
            };
            let kind = object_type.to_string().to_lowercase();
            (
                level,
                format!("drops the {kind} `{names}` and everything in it"),
            )
        }
        Statement::Truncate(truncate) => {
            let names = truncate
                .table_names
                .iter()
                .map(|t| t.name.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            (RiskLevel::High, format!("empties the table `{names}`"))
        }
        Statement::Delete(delete) if delete.selection.is_none() && delete.using.is_none() => {
            let (FromTable::WithFromKeyword(tables) | FromTable::WithoutKeyword(tables)) =
                &delete.from;
            let names = tables
                .iter()
                .map(|t| t.relation.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            (
                RiskLevel::High,
                format!("deletes every row of `{names}` (no WHERE clause)"),
            )
        }
        Statement::Delete(_) => (RiskLevel::Moderate, "deletes rows".to_owned()),
        Statement::Update(update) if update.selection.is_none() && update.from.is_none() => (
            RiskLevel::High,
            format!("changes every row of `{}` (no WHERE clause)", update.table),
        ),
        Statement::Update(_) => (RiskLevel::Moderate, "changes rows".to_owned()),
        Statement::AlterTable(alter) => {
            let drops = alter.operations.iter().any(|op| {
                matches!(
                    op,
                    AlterTableOperation::DropColumn { .. }
                        | AlterTableOperation::DropPartitions { .. }
                )
            });
            if drops {
                (
                    RiskLevel::High,
                    format!("drops columns of `{}` and their data", alter.name),
                )
            } else {
                (
                    RiskLevel::Moderate,
                    format!("changes the table `{}`", alter.name),
                )
            }
        }
        Statement::DropFunction(_) | Statement::Insert(_) | Statement::CreateTable(_) => {
            (RiskLevel::Moderate, "changes the database".to_owned())
        }
        _ => return None,
    };
    Some(Effect { level, message })
}

/// Whether string literals in `sql` spell destructive statements (`'DROP TABLE ' || name`).
fn builds_destructive_sql(sql: &str) -> bool {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return false;
    };
    tokens.iter().any(|token| match token {
        Token::SingleQuotedString(text) | Token::DoubleQuotedString(text) => {
            let upper = text.trim_start().to_ascii_uppercase();
            ["DROP ", "TRUNCATE ", "DELETE FROM"]
                .iter()
                .any(|k| upper.starts_with(k))
        }
        _ => false,
    })
}

/// The keyword-level reading of a statement the parser rejected.
fn token_effect(sql: &str, dialect: &dyn Dialect) -> Option<Effect> {
    let tokens = Tokenizer::new(dialect, sql).tokenize().ok()?;
    let keywords: Vec<Keyword> = tokens
        .iter()
        .filter_map(|t| match t {
            Token::Word(word) => Some(word.keyword),
            _ => None,
        })
        .collect();
    let first = keywords.first()?;
    let has = |k: Keyword| keywords.contains(&k);
    let (level, message) = match first {
        Keyword::DROP if has(Keyword::DATABASE) || has(Keyword::SCHEMA) => {
            (RiskLevel::Critical, "drops a whole database")
        }
        Keyword::DROP => (RiskLevel::High, "drops database objects and their data"),
        Keyword::TRUNCATE => (RiskLevel::High, "empties tables"),
        Keyword::DELETE if !has(Keyword::WHERE) => {
            (RiskLevel::High, "deletes every row (no WHERE clause)")
        }
        Keyword::UPDATE if !has(Keyword::WHERE) => {
            (RiskLevel::High, "changes every row (no WHERE clause)")
        }
        Keyword::DELETE | Keyword::UPDATE => (RiskLevel::Moderate, "changes rows"),
        _ => return None,
    };
    Some(Effect {
        level,
        message: message.to_owned(),
    })
}

/// Cypher (Neo4j): deletes without a `WHERE`, and dropped databases or indexes.
fn cypher_effects(code: &str) -> Vec<Effect> {
    let upper = code.to_ascii_uppercase();
    let deletes =
        upper.contains(" DELETE ") || upper.ends_with(" DELETE") || upper.contains("DETACH DELETE");
    let mut effects = Vec::new();
    if upper.contains("DROP DATABASE") {
        effects.push(Effect {
            level: RiskLevel::Critical,
            message: "drops a whole graph database".to_owned(),
        });
    }
    if deletes && !upper.contains("WHERE") && !upper.contains("LIMIT") {
        effects.push(Effect {
            level: RiskLevel::High,
            message: "deletes every node the pattern matches (no WHERE clause)".to_owned(),
        });
    } else if deletes {
        effects.push(Effect {
            level: RiskLevel::Moderate,
            message: "deletes nodes".to_owned(),
        });
    }
    effects
}

/// MongoDB shell code: drops, and deletes with an empty filter.
fn mongo_effects(code: &str) -> Vec<Effect> {
    let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let mut effects = Vec::new();
    let mut add = |level, message: &str| {
        effects.push(Effect {
            level,
            message: message.to_owned(),
        })
    };
    if compact.contains("dropDatabase(") {
        add(RiskLevel::Critical, "drops a whole MongoDB database");
    }
    if compact.contains(".drop(") || compact.contains("dropCollection(") {
        add(
            RiskLevel::High,
            "drops a MongoDB collection and its documents",
        );
    }
    if compact.contains("dropUser(") || compact.contains("dropAllUsers(") {
        add(RiskLevel::High, "deletes database users");
    }
    let unfiltered = [
        "deleteMany({})",
        "remove({})",
        "deleteMany()",
        "remove()",
        "updateMany({},",
    ];
    if unfiltered.iter().any(|call| compact.contains(call)) {
        add(
            RiskLevel::High,
            "deletes or changes every document of a collection (empty filter)",
        );
    } else if compact.contains("deleteMany(")
        || compact.contains("deleteOne(")
        || compact.contains(".remove(")
    {
        add(RiskLevel::Moderate, "deletes documents");
    }
    effects
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(sql: &str) -> Vec<RiskLevel> {
        sql_effects(sql, Language::Postgres)
            .iter()
            .map(|e| e.level)
            .collect()
    }

    #[test]
    fn sql_is_judged_by_statement() {
        assert_eq!(levels("DROP TABLE users"), [RiskLevel::High]);
        assert_eq!(levels("drop database prod;"), [RiskLevel::Critical]);
        assert_eq!(levels("DELETE FROM users"), [RiskLevel::High]);
        assert_eq!(
            levels("DELETE FROM users WHERE id = 4"),
            [RiskLevel::Moderate]
        );
        assert_eq!(levels("UPDATE users SET admin = true"), [RiskLevel::High]);
        assert_eq!(levels("TRUNCATE orders CASCADE"), [RiskLevel::High]);
        assert!(levels("SELECT * FROM users WHERE name = 'DROP TABLE x'").is_empty());
        assert_eq!(
            levels("\\c prod\nDROP SCHEMA public CASCADE;"),
            [RiskLevel::Critical]
        );
    }
}
