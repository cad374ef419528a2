//! The prompt cache: the KV state of a prompt prefix that every request shares (system prompt
//! and few-shot turns), saved once and loaded by later processes so that they only prefill the
//! request itself.
//!
//! A file is named by the SHA-256 of the model's identity, the device and the prefix's token
//! ids, so a different model, device or prompt wording never finds it. It stores the token ids
//! too, and every layer's keys and values; anything that does not match exactly when loaded
//! (a stale, truncated or corrupt file) is deleted and recomputed, never trusted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use sha2::{Digest, Sha256};

use crate::error::{CandleError, Result};

/// Version of the files' layout and of the arithmetic that fills them; part of the key. v2:
/// prompts attend row by row on the CPU (`attention.rs`), so keys and values saved by an older
/// build are other roundings of the same prefix and would give another reply than a cold start.
const FORMAT: &str = "cmdai-prompt-cache-v2";
/// The end of this version's file names; files of older versions (`<digest>.safetensors`) are
/// removed when this version saves one.
const SUFFIX: &str = ".v2.safetensors";

/// Saved prompt prefixes for one model on one device.
#[derive(Debug, Clone)]
pub struct PromptCache {
    dir: PathBuf,
    key: String,
}

impl PromptCache {
    /// A cache in `dir` for the model identified by `model_key` (a content digest when known)
    /// running on `device`.
    pub fn new(dir: impl Into<PathBuf>, model_key: &str, device: &str) -> Self {
        Self {
            dir: dir.into(),
            key: format!("{FORMAT}\n{model_key}\n{device}"),
        }
    }

    /// The file that holds `prefix`.
    pub fn path(&self, prefix: &[u32]) -> PathBuf {
        let mut hasher = Sha256::new();
        hasher.update(self.key.as_bytes());
        for token in prefix {
            hasher.update(token.to_le_bytes());
        }
        let digest = hex::encode(hasher.finalize());
        self.dir.join(format!("{}{SUFFIX}", &digest[..40]))
    }

    /// The saved state of `prefix`, if a valid one exists; an invalid file is removed.
    pub fn load(
        &self,
        prefix: &[u32],
        layers: usize,
        device: &Device,
    ) -> Option<Vec<(Tensor, Tensor)>> {
        let path = self.path(prefix);
        if !path.is_file() {
            return None;
        }
        match read(&path, prefix, layers, device) {
            Ok(state) => Some(state),
            Err(error) => {
                tracing::warn!("ignoring prompt cache file {}: {error}", path.display());
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Saves the first `prefix.len()` positions of `state` as the state of `prefix`. Written to
    /// a temporary file and renamed, so a reader never sees half a file.
    pub fn save(&self, prefix: &[u32], state: &[(Tensor, Tensor)]) -> Result<()> {
        let io = |e: std::io::Error| {
            CandleError::PromptCache(format!("cannot write {}: {e}", self.dir.display()))
        };
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let mut tensors = HashMap::new();
        tensors.insert("tokens".to_owned(), Tensor::new(prefix, &Device::Cpu)?);
        for (layer, (k, v)) in state.iter().enumerate() {
            let keep = |t: &Tensor| -> Result<Tensor> {
                Ok(t.narrow(2, 0, prefix.len())?
                    .to_device(&Device::Cpu)?
                    .to_dtype(DType::F32)?
                    .contiguous()?)
            };
            tensors.insert(format!("k.{layer}"), keep(k)?);
            tensors.insert(format!("v.{layer}"), keep(v)?);
        }
        let path = self.path(prefix);
        // A failed write (a full disk) must not leave half a file behind: the temporary file
        // is removed when dropped unless persisted.
        let partial =
            tempfile::NamedTempFile::new_in(path.parent().unwrap_or(Path::new("."))).map_err(io)?;
        candle_core::safetensors::save(&tensors, partial.path())?;
        partial.persist(&path).map_err(|e| io(e.error))?;
        self.remove_older_versions();
        Ok(())
    }

    /// Removes the files an older version of the cache wrote: they are never read again.
    fn remove_older_versions(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".safetensors") && !name.ends_with(SUFFIX) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

fn read(
    path: &Path,
    prefix: &[u32],
    layers: usize,
    device: &Device,
) -> Result<Vec<(Tensor, Tensor)>> {
    let invalid = |reason: &str| CandleError::PromptCache(reason.to_owned());
    let mut tensors = candle_core::safetensors::load(path, &Device::Cpu)?;
    let tokens = tensors
        .remove("tokens")
        .ok_or_else(|| invalid("no token ids"))?;
    if tokens.to_vec1::<u32>()? != prefix {
        return Err(invalid("saved for other tokens"));
    }
    let mut state = Vec::with_capacity(layers);
    for layer in 0..layers {
        let k = tensors
            .remove(&format!("k.{layer}"))
            .ok_or_else(|| invalid("a layer is missing"))?;
        let v = tensors
            .remove(&format!("v.{layer}"))
            .ok_or_else(|| invalid("a layer is missing"))?;
        if k.dims().get(2) != Some(&prefix.len()) || k.dims() != v.dims() {
            return Err(invalid("keys and values do not cover the prefix"));
        }
        state.push((k.to_device(device)?, v.to_device(device)?));
    }
    if !tensors.is_empty() {
        return Err(invalid("more layers than the model has"));
    }
    Ok(state)
}
