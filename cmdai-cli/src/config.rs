//! The configuration file: `config.toml` in the platform's config directory, or the file
//! `CMDAI_CONFIG` names. Precedence, lowest first: built-in defaults, this file, `CMDAI_*`
//! environment variables, flags.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cmdai_core::safety::{Policy, UserRules};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub safety: SafetyConfig,
}

#[derive(Debug, Default, Deserialize)]
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
    pub fn path() -> Option<PathBuf> {
        if let Some(path) = std::env::var_os("CMDAI_CONFIG").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(path));
        }
        directories::ProjectDirs::from("", "", "cmdai")
            .map(|dirs| dirs.config_dir().join("config.toml"))
    }

    /// Loads the configuration file; a missing file is the defaults.
    pub fn load() -> Result<Self> {
        match Self::path() {
            Some(path) => Self::load_from(&path),
            None => Ok(Self::default()),
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
        // toml's message names the key or value and lists the allowed ones.
        let config: Config = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("invalid configuration in {}: {e}", path.display()))?;
        config
            .safety
            .user_rules()
            .with_context(|| format!("{}: [safety]", path.display()))?;
        Ok(config)
    }
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
