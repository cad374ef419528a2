//! The configuration file: `config.toml` in the platform's config directory, or the file
//! `CMDAI_CONFIG` names. Precedence, lowest first: built-in defaults, this file, `CMDAI_*`
//! environment variables, flags.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use cmdai_backend_candle::DeviceChoice;
use cmdai_core::safety::{Policy, UserRules};
use serde::{Deserialize, Serialize};

use crate::cli::{BackendKind, OutputFormat};

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Catalog id or alias, or a path to a .gguf file.
    pub model: Option<String>,
    /// auto, cpu, metal, cuda or cuda:N.
    pub device: Option<String>,
    /// CPU threads for inference.
    pub threads: Option<u32>,
    /// The shell commands are written for and run with.
    pub shell: Option<String>,
    /// text or json.
    pub output: Option<OutputFormat>,
    /// local or openai.
    pub backend: Option<BackendKind>,
    #[serde(default)]
    pub remote: RemoteConfig,
    #[serde(default)]
    pub generation: GenerationConfig,
    #[serde(default)]
    pub safety: SafetyConfig,
}

/// The OpenAI-compatible server for `backend = "openai"`. The API key itself is never stored
/// here: only the name of the environment variable that holds it.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteConfig {
    pub url: Option<String>,
    pub model: Option<String>,
    pub api_key_env: Option<String>,
    /// Seconds.
    pub timeout: Option<u64>,
    pub fallback: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationConfig {
    pub max_tokens: Option<usize>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub seed: Option<u64>,
    /// Seconds.
    pub time_limit: Option<u64>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SafetyConfig {
    /// strict, moderate or permissive.
    pub policy: Option<Policy>,
    /// Patterns of simple commands whose findings are not reported.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Patterns of simple commands that are always refused.
    #[serde(default)]
    pub deny: Vec<String>,
}

/// Every key, what it takes, and its built-in default.
pub const KEYS: &[(&str, &str, &str)] = &[
    (
        "model",
        "a catalog id or alias, or a path to a .gguf file",
        "qwen2.5-coder-1.5b",
    ),
    ("device", "auto, cpu, metal, cuda or cuda:N", "auto"),
    ("threads", "a whole number of at least 1", "all cores"),
    (
        "shell",
        "a shell name or path, e.g. bash or /bin/zsh",
        "$SHELL",
    ),
    ("output", "text or json", "text"),
    ("backend", "local or openai", "local"),
    (
        "remote.url",
        "the server's API root, starting with http:// or https://",
        "http://localhost:8080/v1",
    ),
    (
        "remote.model",
        "the model name the server serves",
        "the server's only model",
    ),
    (
        "remote.api_key_env",
        "the name of the environment variable holding the API key",
        "CMDAI_API_KEY",
    ),
    (
        "remote.timeout",
        "seconds, a whole number of at least 1",
        "60",
    ),
    ("remote.fallback", "true or false", "false"),
    (
        "generation.max_tokens",
        "a whole number of at least 1",
        "256",
    ),
    ("generation.temperature", "a number from 0 to 2", "0"),
    ("generation.top_p", "a number above 0, at most 1", "0.95"),
    ("generation.seed", "a whole number", "42"),
    (
        "generation.time_limit",
        "seconds, a whole number of at least 1",
        "120",
    ),
    (
        "safety.policy",
        "strict, moderate or permissive",
        "moderate",
    ),
    ("safety.allow", "a list of command patterns", "[]"),
    ("safety.deny", "a list of command patterns", "[]"),
];

fn key_info(key: &str) -> Result<&'static (&'static str, &'static str, &'static str)> {
    KEYS.iter().find(|(name, ..)| *name == key).ok_or_else(|| {
        let names: Vec<&str> = KEYS.iter().map(|(name, ..)| *name).collect();
        anyhow!(
            "unknown configuration key `{key}`; known keys: {}",
            names.join(", ")
        )
    })
}

impl Config {
    /// Where the configuration file is looked for.
    pub fn path() -> Result<PathBuf> {
        if let Some(path) = std::env::var_os("CMDAI_CONFIG").filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(path));
        }
        directories::ProjectDirs::from("", "", "cmdai")
            .map(|dirs| dirs.config_dir().join("config.toml"))
            .ok_or_else(|| {
                anyhow!("cannot find a home directory for the configuration; set CMDAI_CONFIG")
            })
    }

    /// Loads the configuration file; a missing file is the defaults.
    pub fn load() -> Result<Self> {
        match Self::path() {
            Ok(path) => Self::load_from(&path),
            Err(_) => Ok(Self::default()),
        }
    }

    fn load_from(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self::default());
            }
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        Self::parse(&text).with_context(|| format!("invalid configuration in {}", path.display()))
    }

    pub(crate) fn parse(text: &str) -> Result<Self> {
        // toml's message names the key or value and lists the allowed ones.
        let config: Config = toml::from_str(text).map_err(|e| anyhow!("{e}"))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the values serde cannot: ranges, device names, patterns.
    fn validate(&self) -> Result<()> {
        let bad = |key: &str, value: String| {
            let (_, allowed, _) = key_info(key).expect("known key");
            anyhow!("`{key}` = {value} is not valid; expected {allowed}")
        };
        if let Some(device) = &self.device {
            device
                .parse::<DeviceChoice>()
                .map_err(|_| bad("device", format!("{device:?}")))?;
        }
        if self.threads == Some(0) {
            return Err(bad("threads", "0".into()));
        }
        let generation = &self.generation;
        if generation.max_tokens == Some(0) {
            return Err(bad("generation.max_tokens", "0".into()));
        }
        if generation.time_limit == Some(0) {
            return Err(bad("generation.time_limit", "0".into()));
        }
        if let Some(t) = generation.temperature.filter(|t| !(0.0..=2.0).contains(t)) {
            return Err(bad("generation.temperature", t.to_string()));
        }
        if let Some(p) = generation.top_p.filter(|p| !(*p > 0.0 && *p <= 1.0)) {
            return Err(bad("generation.top_p", p.to_string()));
        }
        let remote = &self.remote;
        if let Some(url) = remote
            .url
            .as_ref()
            .filter(|u| !(u.starts_with("http://") || u.starts_with("https://")))
        {
            return Err(bad("remote.url", format!("{url:?}")));
        }
        if let Some(name) = remote.api_key_env.as_ref().filter(|n| !is_env_name(n)) {
            return Err(bad("remote.api_key_env", format!("{name:?}")));
        }
        if remote.timeout == Some(0) {
            return Err(bad("remote.timeout", "0".into()));
        }
        self.safety
            .user_rules()
            .map_err(|e| anyhow!("`safety`: {e}"))?;
        Ok(())
    }
}

/// A plausible environment variable name (letters, digits, `_`; not starting with a digit): a
/// guard against pasting the key itself into `remote.api_key_env`.
pub fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl SafetyConfig {
    pub fn user_rules(&self) -> Result<UserRules> {
        Ok(UserRules::new(&self.allow, &self.deny)?)
    }
}

/// Fails if `value` is not a policy, naming where it came from.
pub fn parse_policy(value: &str, origin: &str) -> Result<Policy> {
    match value.parse::<Policy>() {
        Ok(policy) => Ok(policy),
        Err(message) => bail!("{origin}: {message}"),
    }
}

/// `cmdai config set KEY VALUE...`: edits the file in place (comments and order are kept),
/// checks the result like a load would, and replaces the file atomically.
pub fn set(key: &str, values: &[String]) -> Result<()> {
    key_info(key)?;
    let path = Config::path()?;
    let mut document = read_document(&path)?;
    let item = match key {
        "safety.allow" | "safety.deny" => toml_edit::value(
            values
                .iter()
                .map(String::as_str)
                .collect::<toml_edit::Array>(),
        ),
        _ => {
            let [value] = values else {
                bail!("`{key}` takes one value, got {}", values.len())
            };
            typed_value(key, value)?
        }
    };
    match key.split_once('.') {
        Some((table, name)) => {
            let table = document
                .entry(table)
                .or_insert_with(toml_edit::table)
                .as_table_mut()
                .ok_or_else(|| anyhow!("`{table}` in {} is not a table", path.display()))?;
            table[name] = item;
        }
        None => document[key] = item,
    }
    write_document(&path, &document)
}

/// `cmdai config reset [KEY]`.
pub fn reset(key: Option<&str>) -> Result<()> {
    let path = Config::path()?;
    let Some(key) = key else {
        return match std::fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                Err(error).with_context(|| format!("cannot remove {}", path.display()))
            }
            _ => Ok(()),
        };
    };
    key_info(key)?;
    let mut document = read_document(&path)?;
    match key.split_once('.') {
        Some((table, name)) => {
            if let Some(table) = document.get_mut(table).and_then(|t| t.as_table_mut()) {
                table.remove(name);
            }
        }
        None => {
            document.remove(key);
        }
    }
    write_document(&path, &document)
}

/// The value to store for `key`: numbers as numbers, everything else as a string.
fn typed_value(key: &str, value: &str) -> Result<toml_edit::Item> {
    let (_, allowed, _) = key_info(key)?;
    let invalid = || anyhow!("`{key}` = {value:?} is not valid; expected {allowed}");
    Ok(match key {
        "remote.fallback" => toml_edit::value(value.parse::<bool>().map_err(|_| invalid())?),
        "threads"
        | "generation.max_tokens"
        | "generation.seed"
        | "generation.time_limit"
        | "remote.timeout" => toml_edit::value(value.parse::<i64>().map_err(|_| invalid())?),
        "generation.temperature" | "generation.top_p" => {
            toml_edit::value(value.parse::<f64>().map_err(|_| invalid())?)
        }
        _ => toml_edit::value(value),
    })
}

fn read_document(path: &Path) -> Result<toml_edit::DocumentMut> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .parse()
            .with_context(|| format!("invalid configuration in {}", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Ok(toml_edit::DocumentMut::new())
        }
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn write_document(path: &Path, document: &toml_edit::DocumentMut) -> Result<()> {
    let text = document.to_string();
    Config::parse(&text)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    write_whole(path, text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes `bytes` to `path` so that it appears whole or not at all: into a temporary file
/// beside it (removed if anything fails), then renamed over it.
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut partial = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut partial, bytes)?;
    partial.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The config fuzz target's seeds and any input that once failed (`fuzz/`), replayed.
    #[test]
    fn fuzz_inputs_parse_or_fail_cleanly() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
        let mut replayed = 0;
        for dir in ["corpus/config", "regressions/config"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
                continue;
            };
            for entry in entries {
                let bytes = std::fs::read(entry.unwrap().path()).unwrap();
                let _ = Config::parse(&String::from_utf8_lossy(&bytes));
                replayed += 1;
            }
        }
        assert!(replayed >= 2, "the config corpus went missing");
    }

    #[test]
    fn bad_values_name_the_key_and_what_is_allowed() {
        let error = Config::parse("device = \"gpu\"").unwrap_err().to_string();
        assert!(
            error.contains("device") && error.contains("cuda:N"),
            "{error}"
        );
        let error = Config::parse("[generation]\ntemperature = 5.0")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("generation.temperature") && error.contains("0 to 2"),
            "{error}"
        );
        let error = Config::parse("colour = true").unwrap_err().to_string();
        assert!(
            error.contains("unknown field `colour`") && error.contains("model"),
            "{error}"
        );
        assert!(Config::parse("model = \"small\"\n[safety]\npolicy = \"strict\"").is_ok());
    }
}
