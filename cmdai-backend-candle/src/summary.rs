//! A summary of a GGUF file's metadata, and whether this build can run it (`cmdai models info`).

use std::collections::BTreeMap;
use std::fmt;

use candle_core::quantized::gguf_file::Value;
use serde::Serialize;

use crate::{GgufFile, GgufTokenizer, ModelSpec};

/// What a GGUF file declares about itself.
#[derive(Debug, Clone, Serialize)]
pub struct ModelSummary {
    /// The file.
    pub path: String,
    /// File size in bytes.
    pub size: u64,
    /// `general.architecture`.
    pub architecture: Option<String>,
    /// `general.name`.
    pub name: Option<String>,
    /// Tensor count per quantization type, e.g. `Q4K: 169`.
    pub tensor_types: BTreeMap<String, usize>,
    /// Shapes, when the architecture is supported.
    pub blocks: Option<usize>,
    /// Residual width.
    pub embedding_length: Option<usize>,
    /// Trained context window.
    pub context_length: Option<usize>,
    /// Tokens in the vocabulary.
    pub vocab_size: Option<usize>,
    /// Whether `tokenizer.chat_template` is present.
    pub chat_template: bool,
    /// Whether cmdai can run it.
    pub supported: bool,
    /// Why not, when it cannot.
    pub problem: Option<String>,
}

/// Summarises an opened file, checking everything [`CandleBackend::load`](crate::CandleBackend::load)
/// checks short of reading the weights.
pub fn summarize(file: &GgufFile) -> ModelSummary {
    let metadata = &file.content.metadata;
    let text = |key: &str| match metadata.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let mut tensor_types = BTreeMap::new();
    for info in file.content.tensor_infos.values() {
        *tensor_types
            .entry(format!("{:?}", info.ggml_dtype))
            .or_insert(0) += 1;
    }
    let spec = ModelSpec::from_gguf(&file.content);
    let problem = match &spec {
        Err(error) => Some(error.to_string()),
        Ok(spec) => match spec
            .check_tensors(&file.content)
            .and_then(|()| GgufTokenizer::from_metadata(metadata))
        {
            Err(error) => Some(error.to_string()),
            Ok(_) => None,
        },
    };
    let spec = spec.ok();
    ModelSummary {
        path: file.path.display().to_string(),
        size: std::fs::metadata(&file.path).map_or(0, |m| m.len()),
        architecture: text("general.architecture"),
        name: text("general.name"),
        tensor_types,
        blocks: spec.as_ref().map(|s| s.block_count),
        embedding_length: spec.as_ref().map(|s| s.embedding_length),
        context_length: spec.as_ref().map(|s| s.context_length),
        vocab_size: spec.as_ref().map(|s| s.vocab_size),
        chat_template: metadata.contains_key("tokenizer.chat_template"),
        supported: problem.is_none(),
        problem,
    }
}

impl fmt::Display for ModelSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
        let number = |v: Option<usize>| v.map_or_else(|| "unknown".into(), |n| n.to_string());
        writeln!(
            f,
            "file:           {} ({:.1} MB)",
            self.path,
            self.size as f64 / 1e6
        )?;
        writeln!(f, "name:           {}", or_unknown(&self.name))?;
        writeln!(f, "architecture:   {}", or_unknown(&self.architecture))?;
        writeln!(f, "blocks:         {}", number(self.blocks))?;
        writeln!(f, "embedding:      {}", number(self.embedding_length))?;
        writeln!(f, "context length: {}", number(self.context_length))?;
        writeln!(f, "vocabulary:     {}", number(self.vocab_size))?;
        let types: Vec<String> = self
            .tensor_types
            .iter()
            .map(|(t, n)| format!("{t} x{n}"))
            .collect();
        writeln!(f, "tensor types:   {}", types.join(", "))?;
        writeln!(
            f,
            "chat template:  {}",
            if self.chat_template {
                "yes"
            } else {
                "no (ChatML is used)"
            }
        )?;
        match &self.problem {
            None => write!(f, "supported:      yes"),
            Some(problem) => write!(f, "supported:      no: {problem}"),
        }
    }
}
