//! The configuration file: `config.toml` in the platform's config directory, or the file
//! `CMDAI_CONFIG` names. Precedence, lowest first: built-in defaults, this file, `CMDAI_*`
//! environment variables, flags. The keys, what they take and their defaults are in
//! [`crate::defs`].

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use cmdai_core::safety::{Policy, UserRules};
use serde::{Deserialize, Serialize};

use crate::cli::{BackendKind, OutputFormat};
use crate::defs::{self, Allowed, Origin};

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
    /// model, prompt or off.
    pub draft: Option<String>,
    /// A catalog id or a path to a .gguf file.
    pub draft_model: Option<String>,
    pub look_at_files: Option<bool>,
    pub trial: Option<bool>,
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

    /// Checks the values serde cannot (ranges, device names, patterns) against the table.
    fn validate(&self) -> Result<()> {
        let file = toml::Value::try_from(self)?;
        for def in defs::ALL {
            let Some(value) = def.key.and_then(|key| lookup(&file, key)) else {
                continue;
            };
            let items = match value {
                toml::Value::Array(items) => items.iter().collect(),
                value => vec![value],
            };
            for item in items {
                let text = match item {
                    toml::Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                if def.allowed.check(&text).is_none() {
                    return Err(def.invalid(Origin::File, &value.to_string()));
                }
            }
        }
        Ok(())
    }
}

/// The value at a dotted key such as `generation.top_p`.
pub fn lookup<'a>(value: &'a toml::Value, key: &str) -> Option<&'a toml::Value> {
    key.split('.')
        .try_fold(value, |value, part| value.get(part))
}

impl SafetyConfig {
    pub fn user_rules(&self) -> Result<UserRules> {
        Ok(UserRules::new(&self.allow, &self.deny)?)
    }
}

/// `cmdai config set KEY VALUE...`: edits the file in place (comments and order are kept),
/// checks the result like a load would, and replaces the file atomically.
pub fn set(key: &str, values: &[String]) -> Result<()> {
    let def = defs::find(key)?;
    let path = Config::path()?;
    let mut document = read_document(&path)?;
    let item = match def.allowed {
        Allowed::Patterns => toml_edit::value(
            values
                .iter()
                .map(String::as_str)
                .collect::<toml_edit::Array>(),
        ),
        _ => {
            let [value] = values else {
                bail!("`{key}` takes one value, got {}", values.len())
            };
            typed_value(def, value)?
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
    defs::find(key)?;
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

/// The value to store for `def`, checked: booleans and numbers as such, the rest as a string.
fn typed_value(def: &defs::Def, value: &str) -> Result<toml_edit::Item> {
    let invalid = || def.invalid(Origin::File, &format!("{value:?}"));
    let text = def.allowed.check(value).ok_or_else(invalid)?;
    Ok(match def.allowed {
        Allowed::Bool => toml_edit::value(text == "true"),
        Allowed::Whole { .. } | Allowed::Seconds => {
            toml_edit::value(text.parse::<i64>().map_err(|_| invalid())?)
        }
        Allowed::Number { .. } => toml_edit::value(text.parse::<f64>().map_err(|_| invalid())?),
        _ => toml_edit::value(text),
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

    /// Every key in the table is a key of the file, and takes its default (or, without one, a
    /// value of its kind).
    #[test]
    fn every_key_is_in_the_file_and_takes_its_default() {
        for def in defs::ALL {
            let Some(key) = def.key else { continue };
            let value = match (def.default, def.allowed) {
                (_, Allowed::Patterns) => "[\"git status\"]".to_owned(),
                (defs::Builtin::Value(text), _) => typed_value(def, text).unwrap().to_string(),
                (defs::Builtin::Unset(_), _) => typed_value(def, "4").unwrap().to_string(),
            };
            let text = match key.split_once('.') {
                Some((table, leaf)) => format!("[{table}]\n{leaf} = {value}\n"),
                None => format!("{key} = {value}\n"),
            };
            if let Err(error) = Config::parse(&text) {
                panic!("{text}: {error}");
            }
        }
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
