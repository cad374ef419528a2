//! Every setting in one table: its key in the configuration file, its flag, its environment
//! variable, its built-in default, the values it accepts and its help (ripgrep keeps its flags
//! the same way, in `flags/defs.rs`). The flags' help, `cmdai config`, the checks of the file
//! and the resolution of flag, variable, file and default all read it, so each fact is written
//! once. `cli.rs` only says how each flag is spelled.

use std::fmt;
use std::str::FromStr;

use anyhow::{Result, anyhow, bail};
use cmdai_backend_candle::DeviceChoice;
use cmdai_core::safety::UserRules;

/// One setting.
#[derive(Debug)]
pub struct Def {
    /// The key in the configuration file, e.g. `generation.top_p`; `None` for a setting the
    /// file does not hold.
    pub key: Option<&'static str>,
    /// The long flag without its dashes, e.g. `top-p`.
    pub flag: Option<&'static str>,
    /// The environment variable, e.g. `CMDAI_TOP_P`.
    pub env: Option<&'static str>,
    /// What applies when no flag, variable or file gives a value.
    pub default: Builtin,
    /// The values it accepts.
    pub allowed: Allowed,
    /// What it is for, one sentence without a final period: the flag's help, where it has one.
    pub help: &'static str,
}

/// A setting's built-in default.
#[derive(Debug, Clone, Copy)]
pub enum Builtin {
    /// This value, read like a given one.
    Value(&'static str),
    /// No value; what happens without one, e.g. "all cores".
    Unset(&'static str),
}

/// The values a setting accepts. Each value is checked as text, the way it is typed after a
/// flag, in a variable or to `cmdai config set`; the file's values as TOML writes them.
#[derive(Debug, Clone, Copy)]
pub enum Allowed {
    /// Any text, described.
    Text(&'static str),
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// A whole number, at least `min`.
    Whole { min: u64 },
    /// A whole number of seconds, at least 1.
    Seconds,
    /// A number from `min` to `max`; above `min` when `min_excluded`.
    Number {
        min: f64,
        max: f64,
        min_excluded: bool,
    },
    /// true or false; also yes/no, on/off, 1/0 and the like, as clap's boolish values.
    Bool,
    /// A device for the local model.
    Device,
    /// An `http://` or `https://` URL.
    Url,
    /// The name of an environment variable.
    EnvName,
    /// A list of command patterns (`safety.allow`, `safety.deny`); each item is checked.
    Patterns,
}

/// A setting's value that is not one of its allowed values.
#[derive(Debug)]
pub struct InvalidValue {
    /// Where it was given: a flag's is a command-line syntax error (exit status 2, as clap's
    /// own).
    pub origin: Origin,
    message: String,
}

impl std::fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InvalidValue {}

/// Where a value came from, to name it in an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Flag,
    Env,
    File,
    Default,
}

pub const MODEL: Def = Def {
    key: Some("model"),
    flag: Some("model"),
    env: Some("CMDAI_MODEL"),
    default: Builtin::Unset(cmdai_models::Catalog::DEFAULT_ID),
    allowed: Allowed::Text("a catalog id or alias, or a path to a .gguf file"),
    help: "Model: a catalog id or alias (`cmdai models list`) or a path to a .gguf file",
};

pub const DEVICE: Def = Def {
    key: Some("device"),
    flag: Some("device"),
    env: Some("CMDAI_DEVICE"),
    default: Builtin::Value("auto"),
    allowed: Allowed::Device,
    help: "Device: auto, cpu, metal, cuda or cuda:N",
};

pub const THREADS: Def = Def {
    key: Some("threads"),
    flag: Some("threads"),
    env: Some("CMDAI_THREADS"),
    default: Builtin::Unset("all cores"),
    allowed: Allowed::Whole { min: 1 },
    help: "CPU threads for inference",
};

pub const SHELL: Def = Def {
    key: Some("shell"),
    flag: Some("shell"),
    env: Some("CMDAI_SHELL"),
    default: Builtin::Unset("$SHELL"),
    allowed: Allowed::Text("a shell name or path, e.g. bash or /bin/zsh"),
    help: "The shell commands are written for and run with",
};

pub const OUTPUT: Def = Def {
    key: Some("output"),
    flag: Some("output"),
    env: Some("CMDAI_OUTPUT"),
    default: Builtin::Value("text"),
    allowed: Allowed::OneOf(&["text", "json"]),
    help: "Output format: the command (with details on a terminal), or one JSON object",
};

pub const BACKEND: Def = Def {
    key: Some("backend"),
    flag: Some("backend"),
    env: Some("CMDAI_BACKEND"),
    default: Builtin::Value("local"),
    allowed: Allowed::OneOf(&["local", "openai"]),
    help: "Where the model runs: local (on this machine) or openai (an OpenAI-compatible \
           server: vLLM, llama.cpp's llama-server, Ollama)",
};

pub const REMOTE_URL: Def = Def {
    key: Some("remote.url"),
    flag: Some("remote-url"),
    env: Some("CMDAI_REMOTE_URL"),
    default: Builtin::Value("http://localhost:8080/v1"),
    allowed: Allowed::Url,
    help: "The server's API root for --backend openai. The API key, if the server needs one, \
           is read from $CMDAI_API_KEY (see remote.api_key_env)",
};

pub const REMOTE_MODEL: Def = Def {
    key: Some("remote.model"),
    flag: Some("remote-model"),
    env: Some("CMDAI_REMOTE_MODEL"),
    default: Builtin::Unset("the one model the server serves"),
    allowed: Allowed::Text("the model name the server serves"),
    help: "The model name to ask the server for",
};

pub const API_KEY_ENV: Def = Def {
    key: Some("remote.api_key_env"),
    flag: None,
    env: None,
    default: Builtin::Value("CMDAI_API_KEY"),
    allowed: Allowed::EnvName,
    help: "The environment variable the server's API key is read from; the key itself is \
           never stored",
};

pub const REMOTE_TIMEOUT: Def = Def {
    key: Some("remote.timeout"),
    flag: None,
    env: None,
    default: Builtin::Value("60"),
    allowed: Allowed::Seconds,
    help: "Seconds to wait for the server to start answering, and for each chunk after that",
};

pub const FALLBACK: Def = Def {
    key: Some("remote.fallback"),
    flag: Some("fallback"),
    env: Some("CMDAI_REMOTE_FALLBACK"),
    default: Builtin::Value("false"),
    allowed: Allowed::Bool,
    help: "When the server cannot be reached, use the local model instead (and say so)",
};

pub const MAX_TOKENS: Def = Def {
    key: Some("generation.max_tokens"),
    flag: Some("max-tokens"),
    env: Some("CMDAI_MAX_TOKENS"),
    default: Builtin::Value("256"),
    allowed: Allowed::Whole { min: 1 },
    help: "The most tokens the model may generate",
};

pub const TEMPERATURE: Def = Def {
    key: Some("generation.temperature"),
    flag: Some("temperature"),
    env: Some("CMDAI_TEMPERATURE"),
    default: Builtin::Value("0"),
    allowed: Allowed::Number {
        min: 0.0,
        max: 2.0,
        min_excluded: false,
    },
    help: "Sampling temperature; 0 picks the most likely token every time",
};

pub const TOP_P: Def = Def {
    key: Some("generation.top_p"),
    flag: Some("top-p"),
    env: Some("CMDAI_TOP_P"),
    default: Builtin::Value("0.95"),
    allowed: Allowed::Number {
        min: 0.0,
        max: 1.0,
        min_excluded: true,
    },
    help: "Nucleus sampling threshold, with --temperature > 0",
};

pub const SEED: Def = Def {
    key: Some("generation.seed"),
    flag: Some("seed"),
    env: Some("CMDAI_SEED"),
    default: Builtin::Value("42"),
    allowed: Allowed::Whole { min: 0 },
    help: "Sampling seed, for repeatable sampled runs",
};

pub const TIME_LIMIT: Def = Def {
    key: Some("generation.time_limit"),
    flag: Some("time-limit"),
    env: Some("CMDAI_TIME_LIMIT"),
    default: Builtin::Value("120"),
    allowed: Allowed::Seconds,
    help: "The most seconds one generation may take, prompt included",
};

pub const DRAFT: Def = Def {
    key: Some("generation.draft"),
    flag: Some("draft"),
    env: Some("CMDAI_DRAFT"),
    default: Builtin::Value("off"),
    allowed: Allowed::OneOf(&["model", "prompt", "off"]),
    help: "Speculative decoding on the CPU: `model` drafts tokens with --draft-model, `prompt` \
           drafts the tokens that followed the newest ones earlier in the prompt or reply; the model \
           checks the drafts in one pass (the same commands); `off` runs one pass per token",
};

pub const DRAFT_MODEL: Def = Def {
    key: Some("generation.draft_model"),
    flag: Some("draft-model"),
    env: Some("CMDAI_DRAFT_MODEL"),
    default: Builtin::Value("qwen2.5-coder-0.5b"),
    allowed: Allowed::Text("a catalog id or alias, or a path to a .gguf file"),
    help: "The model that drafts for --draft model (fetched on first use like any model): a \
           smaller one with the model's vocabulary",
};

pub const LOOK_AT_FILES: Def = Def {
    key: Some("generation.look_at_files"),
    flag: Some("look-at-files"),
    env: Some("CMDAI_LOOK_AT_FILES"),
    default: Builtin::Value("false"),
    allowed: Allowed::Bool,
    help: "Tell the model what the files and folders the request names look like here: whether \
           each exists, folder or file, and a text file's first line (a CSV header, a log \
           line's layout). With --backend openai that line is sent to the server. Off by \
           default: it helped requests about a file's columns but changed others for the worse \
           (docs/QUALITY.md)",
};

pub const TRIAL: Def = Def {
    key: Some("generation.trial"),
    flag: Some("trial"),
    env: Some("CMDAI_TRIAL"),
    default: Builtin::Value("true"),
    allowed: Allowed::Bool,
    help: "Try each new command in the preview's sandbox (Linux) before showing it, for at most \
           half a second: one that fails there with an error of its own (or prints one on the \
           way), prints something else than the request asks for in so many words (\"just the \
           number\", \"names only\", \"answer yes or no\", \"lines like 'ERROR 2'\"), or changes \
           nothing where the request asks for a file to be changed in place, is asked for once \
           more, with what went wrong. Nothing real is written. Commands that are critical, use \
           the network or work with other processes, services or privileges are not tried",
};

pub const POLICY: Def = Def {
    key: Some("safety.policy"),
    flag: Some("safety"),
    env: Some("CMDAI_SAFETY"),
    default: Builtin::Value("moderate"),
    allowed: Allowed::OneOf(&["strict", "moderate", "permissive"]),
    help: "Safety policy: which risks may run, and which need a typed yes",
};

pub const ALLOW: Def = Def {
    key: Some("safety.allow"),
    flag: None,
    env: None,
    default: Builtin::Unset("none"),
    allowed: Allowed::Patterns,
    help: "Patterns of simple commands whose findings are not reported",
};

pub const DENY: Def = Def {
    key: Some("safety.deny"),
    flag: None,
    env: None,
    default: Builtin::Unset("none"),
    allowed: Allowed::Patterns,
    help: "Patterns of simple commands that are always refused",
};

pub const OFFLINE: Def = Def {
    key: None,
    flag: Some("offline"),
    env: Some("CMDAI_OFFLINE"),
    default: Builtin::Value("false"),
    allowed: Allowed::Bool,
    help: "Never use the network; a model that is not cached is an error",
};

/// Every setting, in the order of the configuration file.
pub const ALL: &[&Def] = &[
    &MODEL,
    &DEVICE,
    &THREADS,
    &SHELL,
    &OUTPUT,
    &BACKEND,
    &REMOTE_URL,
    &REMOTE_MODEL,
    &API_KEY_ENV,
    &REMOTE_TIMEOUT,
    &FALLBACK,
    &MAX_TOKENS,
    &TEMPERATURE,
    &TOP_P,
    &SEED,
    &TIME_LIMIT,
    &DRAFT,
    &DRAFT_MODEL,
    &LOOK_AT_FILES,
    &TRIAL,
    &POLICY,
    &ALLOW,
    &DENY,
    &OFFLINE,
];

/// The setting a configuration key names.
pub fn find(key: &str) -> Result<&'static Def> {
    let keys = || ALL.iter().filter_map(|def| def.key);
    ALL.iter()
        .copied()
        .find(|def| def.key == Some(key))
        .ok_or_else(|| {
            anyhow!(
                "unknown configuration key `{key}`; known keys: {}",
                keys().collect::<Vec<_>>().join(", ")
            )
        })
}

impl Def {
    /// The value the flag gives, else the environment variable, else the file; `None` when
    /// none gives one. The file's values were checked when it was loaded.
    pub fn given<T: FromStr>(&self, flag: Option<String>, file: Option<T>) -> Result<Option<T>> {
        if let Some(text) = flag {
            return self.parse(&text, Origin::Flag).map(Some);
        }
        if let Some(text) = self.var()? {
            return self.parse(&text, Origin::Env).map(Some);
        }
        Ok(file)
    }

    /// The value given (see [`given`](Self::given)), else the built-in one.
    pub fn resolve<T: FromStr>(&self, flag: Option<String>, file: Option<T>) -> Result<T> {
        match (self.given(flag, file)?, self.default) {
            (Some(value), _) => Ok(value),
            (None, Builtin::Value(text)) => self.parse(text, Origin::Default),
            (None, Builtin::Unset(_)) => bail!("`{}` has no built-in value", self.name()),
        }
    }

    /// `text` from `origin`, checked and read as a `T`.
    pub fn parse<T: FromStr>(&self, text: &str, origin: Origin) -> Result<T> {
        self.allowed
            .check(text)
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| self.invalid(origin, &shown(text)))
    }

    /// The error for a value that is not allowed, naming where it came from; `shown` is the
    /// value as it was written there.
    pub fn invalid(&self, origin: Origin, shown: &str) -> anyhow::Error {
        let place = match origin {
            Origin::Flag => format!("--{} {shown}", self.flag.unwrap_or_default()),
            Origin::Env => format!("{}={shown}", self.env.unwrap_or_default()),
            Origin::File => format!("`{}` = {shown}", self.key.unwrap_or_default()),
            Origin::Default => format!("the built-in `{}` = {shown}", self.name()),
        };
        InvalidValue {
            origin,
            message: format!("{place} is not valid; expected {}", self.allowed),
        }
        .into()
    }

    /// The flag's help: what the setting is for, its default and its variable.
    pub fn flag_help(&self) -> String {
        let mut help = self.help.to_owned();
        // A switch's default is not worth a line.
        if !matches!(self.allowed, Allowed::Bool) {
            help += &format!(" [default: {}]", self.default);
        }
        if let Some(env) = self.env {
            help += &format!(" [env: {env}]");
        }
        help
    }

    /// The configuration key, else the flag, else the variable.
    fn name(&self) -> &'static str {
        self.key.or(self.flag).or(self.env).unwrap_or_default()
    }

    /// The environment variable's value, if it is set. Only this layer reads `CMDAI_*`
    /// variables; the library crates take options.
    fn var(&self) -> Result<Option<String>> {
        let Some(name) = self.env else {
            return Ok(None);
        };
        match std::env::var(name) {
            Ok(text) => Ok(Some(text)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => bail!("{name} is not valid UTF-8"),
        }
    }
}

impl Allowed {
    /// `text` as the setting reads it, or `None` when it is not allowed: boolish values read
    /// as `true` or `false`, everything else as it is.
    pub fn check<'a>(&self, text: &'a str) -> Option<&'a str> {
        let allowed = match *self {
            Allowed::Text(_) => true,
            Allowed::OneOf(words) => words.contains(&text),
            Allowed::Whole { min } => text.parse::<u64>().is_ok_and(|n| n >= min),
            Allowed::Seconds => text.parse::<u64>().is_ok_and(|n| n >= 1),
            Allowed::Number {
                min,
                max,
                min_excluded,
            } => text
                .parse::<f64>()
                .is_ok_and(|x| x <= max && if min_excluded { x > min } else { x >= min }),
            Allowed::Bool => return boolish(text),
            Allowed::Device => text.parse::<DeviceChoice>().is_ok(),
            Allowed::Url => text.starts_with("http://") || text.starts_with("https://"),
            Allowed::EnvName => is_env_name(text),
            Allowed::Patterns => UserRules::new(&[text.to_owned()], &[]).is_ok(),
        };
        allowed.then_some(text)
    }
}

/// What the values are, for error messages: "expected {allowed}".
impl fmt::Display for Allowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Allowed::Text(what) => f.write_str(what),
            Allowed::OneOf(words) => match words {
                [] => Ok(()),
                [only] => f.write_str(only),
                [first @ .., last] => write!(f, "{} or {last}", first.join(", ")),
            },
            Allowed::Whole { min: 0 } => f.write_str("a whole number"),
            Allowed::Whole { min } => write!(f, "a whole number of at least {min}"),
            Allowed::Seconds => f.write_str("seconds, a whole number of at least 1"),
            Allowed::Number {
                min,
                max,
                min_excluded: false,
            } => write!(f, "a number from {min} to {max}"),
            Allowed::Number { min, max, .. } => write!(f, "a number above {min}, at most {max}"),
            Allowed::Bool => f.write_str("true or false"),
            Allowed::Device => f.write_str("auto, cpu, metal, cuda or cuda:N"),
            Allowed::Url => f.write_str("a URL starting with http:// or https://"),
            Allowed::EnvName => {
                f.write_str("the name of an environment variable (letters, digits and _)")
            }
            Allowed::Patterns => f.write_str("a list of command patterns, none of them empty"),
        }
    }
}

impl fmt::Display for Builtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Builtin::Value(text) | Builtin::Unset(text) => f.write_str(text),
        }
    }
}

/// clap's boolish values, so that `CMDAI_OFFLINE=1` and `--fallback=yes` read as before.
fn boolish(text: &str) -> Option<&'static str> {
    match text.to_ascii_lowercase().as_str() {
        "y" | "yes" | "t" | "true" | "on" | "1" => Some("true"),
        "n" | "no" | "f" | "false" | "off" | "0" => Some("false"),
        _ => None,
    }
}

/// A plausible environment variable name (letters, digits, `_`; not starting with a digit): a
/// guard against pasting the API key itself into `remote.api_key_env`.
fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A flag's or variable's value as it appears in a message: quoted when it would not read
/// plainly (empty, or with spaces or quotes).
fn shown(text: &str) -> String {
    if text.is_empty() || text.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
        format!("{text:?}")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use cmdai_core::safety::Policy;

    use super::*;
    use crate::cli::{BackendKind, Cli, OutputFormat};

    #[test]
    fn every_flag_is_on_the_command_line_and_clap_reads_no_variable() {
        let command = Cli::command();
        for def in ALL {
            let Some(flag) = def.flag else { continue };
            let arg = command
                .get_arguments()
                .find(|arg| arg.get_long() == Some(flag))
                .unwrap_or_else(|| panic!("--{flag} is not a flag of `cmdai`"));
            // The table gives the default and the help; a second one in clap could disagree.
            assert!(
                arg.get_default_values().is_empty(),
                "--{flag} has a default"
            );
            assert!(arg.get_help().is_none(), "--{flag} has help of its own");
        }
        fn no_env(command: &clap::Command) {
            for arg in command.get_arguments() {
                assert_eq!(
                    arg.get_env(),
                    None,
                    "clap reads a variable for {}",
                    arg.get_id()
                );
            }
            command.get_subcommands().for_each(no_env);
        }
        no_env(&command);
        crate::cli::command().debug_assert();
    }

    #[test]
    fn every_default_is_allowed() {
        for def in ALL {
            if let Builtin::Value(text) = def.default {
                assert!(def.allowed.check(text).is_some(), "{}: {text}", def.name());
            }
        }
    }

    #[test]
    fn every_variable_is_documented_with_its_key() {
        let readme = include_str!("../../README.md");
        for def in ALL {
            let Some(env) = def.env else { continue };
            assert!(readme.contains(env), "README.md does not mention {env}");
            // The README's example configuration names each key's variable on its line.
            if let Some(key) = def.key {
                let leaf = key.rsplit('.').next().unwrap();
                assert!(
                    readme
                        .lines()
                        .any(|line| line.starts_with(&format!("{leaf} = ")) && line.contains(env)),
                    "README.md's configuration has no line for `{key}` with {env}"
                );
            }
        }
    }

    #[test]
    fn keys_flags_and_variables_are_unique() {
        for (i, def) in ALL.iter().enumerate() {
            for other in &ALL[i + 1..] {
                for (a, b) in [
                    (def.key, other.key),
                    (def.flag, other.flag),
                    (def.env, other.env),
                ] {
                    assert!(a.is_none() || a != b, "{a:?} twice");
                }
            }
        }
    }

    #[test]
    fn words_are_the_types_values() {
        fn names<T: clap::ValueEnum>() -> Vec<String> {
            let name = |value: &T| value.to_possible_value().unwrap().get_name().to_owned();
            T::value_variants().iter().map(name).collect()
        }
        let words = |def: &Def| match def.allowed {
            Allowed::OneOf(words) => words.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
            _ => panic!("{} takes no words", def.name()),
        };
        assert_eq!(words(&OUTPUT), names::<OutputFormat>());
        assert_eq!(words(&BACKEND), names::<BackendKind>());
        assert_eq!(words(&POLICY), Policy::ALL.map(|p| p.as_str().to_owned()));
    }

    /// The library's defaults and the binary's are one set: `top_p` was 1.0 in the library
    /// and 0.95 here.
    #[test]
    fn generation_defaults_are_the_librarys() {
        let library = cmdai_core::GenerationParams::default();
        let builtin = |def: &Def| match def.default {
            Builtin::Value(text) => text,
            Builtin::Unset(_) => panic!("{} has no value", def.name()),
        };
        assert_eq!(builtin(&MAX_TOKENS).parse(), Ok(library.max_tokens));
        assert_eq!(builtin(&TEMPERATURE).parse(), Ok(library.temperature));
        assert_eq!(builtin(&TOP_P).parse(), Ok(library.top_p));
        assert_eq!(builtin(&SEED).parse(), Ok(library.seed));
    }

    fn check(allowed: Allowed, text: &str, expected: Option<&str>) {
        assert_eq!(allowed.check(text), expected, "{allowed}: {text:?}");
    }

    #[test]
    fn checks() {
        let top_p = TOP_P.allowed;
        check(top_p, "0.95", Some("0.95"));
        check(top_p, "1", Some("1"));
        check(top_p, "0", None);
        check(top_p, "NaN", None);
        check(top_p, "soon", None);
        let temperature = TEMPERATURE.allowed;
        check(temperature, "0", Some("0"));
        check(temperature, "2", Some("2"));
        check(temperature, "2.1", None);
        check(temperature, "-0.1", None);
        check(Allowed::Whole { min: 1 }, "1", Some("1"));
        check(Allowed::Whole { min: 1 }, "0", None);
        check(Allowed::Whole { min: 1 }, "-1", None);
        check(Allowed::Whole { min: 1 }, "1.5", None);
        check(Allowed::Seconds, "0", None);
        check(Allowed::Bool, "1", Some("true"));
        check(Allowed::Bool, "Off", Some("false"));
        check(Allowed::Bool, "", None);
        check(Allowed::Device, "cuda:1", Some("cuda:1"));
        check(Allowed::Device, "gpu", None);
        check(
            Allowed::Url,
            "https://example.com/v1",
            Some("https://example.com/v1"),
        );
        check(Allowed::Url, "example.com", None);
        check(Allowed::EnvName, "TEAM_LLM_KEY", Some("TEAM_LLM_KEY"));
        check(Allowed::EnvName, "sk-proj-abc123", None);
        check(Allowed::Patterns, " ", None);
        check(POLICY.allowed, "lax", None);
    }

    #[test]
    fn descriptions() {
        assert_eq!(TOP_P.allowed.to_string(), "a number above 0, at most 1");
        assert_eq!(TEMPERATURE.allowed.to_string(), "a number from 0 to 2");
        assert_eq!(POLICY.allowed.to_string(), "strict, moderate or permissive");
        assert_eq!(SEED.allowed.to_string(), "a whole number");
    }

    #[test]
    fn errors_name_where_the_value_came_from() {
        let error = |origin, shown| TOP_P.invalid(origin, shown).to_string();
        assert_eq!(
            error(Origin::Flag, "2"),
            "--top-p 2 is not valid; expected a number above 0, at most 1"
        );
        assert_eq!(
            error(Origin::Env, "2"),
            "CMDAI_TOP_P=2 is not valid; expected a number above 0, at most 1"
        );
        assert_eq!(
            error(Origin::File, "2.0"),
            "`generation.top_p` = 2.0 is not valid; expected a number above 0, at most 1"
        );
        assert_eq!(
            THREADS
                .parse::<u32>("", Origin::Flag)
                .unwrap_err()
                .to_string(),
            "--threads \"\" is not valid; expected a whole number of at least 1"
        );
        assert!(FALLBACK.parse::<bool>("yes", Origin::Flag).unwrap());
    }
}
