//! The model description, read from the GGUF metadata alone, and the per-architecture table.
//!
//! Architecture differences live in [`ArchTraits`], one row per architecture, so the transformer
//! in `model.rs` is a single implementation driven by data.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::{Content, Value};

use crate::error::{CandleError, Result};

/// The architectures this build implements, as spelled in `general.architecture`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// Llama and its descendants (SmolLM2).
    Llama,
    /// Qwen2 and Qwen2.5.
    Qwen2,
    /// Qwen3: Qwen2 without the q/k/v biases, with q/k norms.
    Qwen3,
    /// Gemma 3: q/k norms, norms after attention and feed-forward too, GELU, scaled
    /// embeddings, and local (sliding-window) layers between global ones.
    Gemma3,
}

impl Architecture {
    /// Every supported architecture.
    pub const ALL: [Architecture; 4] = [
        Architecture::Llama,
        Architecture::Qwen2,
        Architecture::Qwen3,
        Architecture::Gemma3,
    ];

    /// The name used in GGUF metadata keys.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Llama => "llama",
            Architecture::Qwen2 => "qwen2",
            Architecture::Qwen3 => "qwen3",
            Architecture::Gemma3 => "gemma3",
        }
    }

    fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|arch| arch.name() == name)
            .ok_or_else(|| CandleError::UnsupportedArchitecture {
                found: name.to_owned(),
                supported: Self::ALL.iter().map(|a| a.name()).collect(),
            })
    }

    /// What distinguishes this architecture from a plain Llama block. The values follow
    /// llama.cpp's graph for each architecture (`src/models/*.cpp`), which is what the GGUF
    /// converters write the weights for.
    pub fn traits(self) -> ArchTraits {
        let llama = ArchTraits {
            qkv_bias: false,
            qk_norm: false,
            post_norms: false,
            scaled_embeddings: false,
            activation: Activation::Silu,
            rope: RopeStyle::Interleaved,
            global_layer_every: None,
        };
        match self {
            Architecture::Llama => llama,
            Architecture::Qwen2 => ArchTraits {
                qkv_bias: true,
                rope: RopeStyle::Halves,
                ..llama
            },
            Architecture::Qwen3 => ArchTraits {
                qk_norm: true,
                rope: RopeStyle::Halves,
                ..llama
            },
            Architecture::Gemma3 => ArchTraits {
                qk_norm: true,
                post_norms: true,
                scaled_embeddings: true,
                activation: Activation::GeluTanh,
                rope: RopeStyle::Halves,
                // Five sliding-window layers, then one global layer (llama.cpp's swa pattern 6).
                global_layer_every: Some(6),
                ..llama
            },
        }
    }
}

/// How rotary position embeddings pair up dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeStyle {
    /// Adjacent pairs (0,1), (2,3), ...: llama.cpp's "normal" rope. Llama GGUF files store q/k
    /// weights permuted for it by the converter.
    Interleaved,
    /// The first half with the second half: llama.cpp's NEOX rope, used by Qwen and Gemma.
    Halves,
}

/// The feed-forward gate's activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// SiLU (swish): Llama, Qwen.
    Silu,
    /// GELU, tanh approximation: Gemma.
    GeluTanh,
}

/// Per-architecture switches of the transformer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchTraits {
    /// q, k and v projections have bias tensors.
    pub qkv_bias: bool,
    /// Each query and key head is RMS-normalised (`attn_q_norm`, `attn_k_norm`) before rope.
    pub qk_norm: bool,
    /// The attention and feed-forward outputs are RMS-normalised again before the residual
    /// add (`post_attention_norm`, `post_ffw_norm`).
    pub post_norms: bool,
    /// Token embeddings are multiplied by the square root of the width.
    pub scaled_embeddings: bool,
    /// The feed-forward gate's activation.
    pub activation: Activation,
    /// The rotary embedding style.
    pub rope: RopeStyle,
    /// With sliding-window attention: every n-th layer (the last of each group) attends
    /// globally, the others only to the `attention.sliding_window` latest positions.
    pub global_layer_every: Option<usize>,
}

/// Everything the transformer needs to know about a model, from its GGUF metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// The architecture.
    pub arch: Architecture,
    /// `general.name`, when present.
    pub name: Option<String>,
    /// Transformer blocks.
    pub block_count: usize,
    /// Width of the residual stream.
    pub embedding_length: usize,
    /// Width of the feed-forward layer.
    pub feed_forward_length: usize,
    /// Query heads.
    pub head_count: usize,
    /// Key/value heads (fewer than query heads with grouped-query attention).
    pub head_count_kv: usize,
    /// Width of one attention head.
    pub head_dim: usize,
    /// Base of the rotary embedding frequencies.
    pub rope_freq_base: f32,
    /// The context window the model was trained for.
    pub context_length: usize,
    /// RMS norm epsilon.
    pub rms_norm_eps: f64,
    /// Tokens in the vocabulary.
    pub vocab_size: usize,
    /// How far back local layers attend (`attention.sliding_window`), for architectures with
    /// sliding-window layers.
    pub sliding_window: Option<usize>,
    /// Rope frequency base of the sliding-window layers (Gemma 3: 10,000 while the global
    /// layers use `rope.freq_base`).
    pub rope_freq_base_local: Option<f32>,
}

impl ModelSpec {
    /// Whether block `layer` attends only to the latest `sliding_window` positions.
    pub fn is_local_layer(&self, layer: usize) -> bool {
        match self.arch.traits().global_layer_every {
            Some(every) => layer % every != every - 1,
            None => false,
        }
    }

    /// Reads the description from GGUF metadata, checking every required key.
    pub fn from_gguf(content: &Content) -> Result<Self> {
        let meta = Metadata::new(&content.metadata, "GGUF");
        let arch_name = meta.string("general.architecture")?;
        let arch = Architecture::from_name(arch_name)?;
        let meta = Metadata::new(&content.metadata, arch.name());
        let name = meta.optional_string("general.name").map(str::to_owned);

        let key = |suffix: &str| format!("{}.{suffix}", arch.name());
        let embedding_length = meta.usize(&key("embedding_length"))?;
        let head_count = meta.usize(&key("attention.head_count"))?;
        let head_count_kv = meta
            .optional_usize(&key("attention.head_count_kv"))?
            .unwrap_or(head_count);
        let head_dim = match meta.optional_usize(&key("attention.key_length"))? {
            Some(dim) => dim,
            None => embedding_length / head_count.max(1),
        };
        if head_count == 0 || head_count_kv == 0 || head_count % head_count_kv != 0 {
            return Err(CandleError::InvalidMetadata {
                key: key("attention.head_count_kv"),
                reason: format!(
                    "{head_count} query heads cannot share {head_count_kv} key/value heads"
                ),
            });
        }
        let vocab_size = match content.metadata.get("tokenizer.ggml.tokens") {
            Some(Value::Array(tokens)) => tokens.len(),
            // Without a vocabulary the model cannot be used whatever its size says: name the
            // tokenizer, which is what is missing.
            _ => {
                return Err(CandleError::MissingMetadata {
                    key: "tokenizer.ggml.tokens".into(),
                    arch: arch.name(),
                });
            }
        };
        if let Some(kind) = meta.optional_string(&key("rope.scaling.type"))
            && kind != "none"
        {
            // Linear or YaRN scaling changes every rope angle; running without it would give
            // plausible-looking but wrong output.
            return Err(CandleError::InvalidMetadata {
                key: key("rope.scaling.type"),
                reason: format!("rope scaling `{kind}` is not supported"),
            });
        }
        let (sliding_window, rope_freq_base_local) = match arch.traits().global_layer_every {
            Some(_) => (
                Some(meta.usize(&key("attention.sliding_window"))?),
                // Not in the metadata: llama.cpp fixes it for Gemma 3's local layers.
                Some(10_000.0),
            ),
            None => (None, None),
        };
        Ok(ModelSpec {
            arch,
            name,
            block_count: meta.usize(&key("block_count"))?,
            embedding_length,
            feed_forward_length: meta.usize(&key("feed_forward_length"))?,
            head_count,
            head_count_kv,
            head_dim,
            rope_freq_base: meta
                .optional_f32(&key("rope.freq_base"))?
                .unwrap_or(10_000.0),
            context_length: meta.usize(&key("context_length"))?,
            rms_norm_eps: f64::from(meta.f32(&key("attention.layer_norm_rms_epsilon"))?),
            vocab_size,
            sliding_window,
            rope_freq_base_local,
        })
    }

    /// The tensors this model must have, with the shapes the metadata implies (GGUF order
    /// reversed to candle's row-major `[rows, cols]`).
    pub fn required_tensors(&self) -> Vec<(String, Vec<usize>)> {
        let (hidden, ffn, vocab) = (
            self.embedding_length,
            self.feed_forward_length,
            self.vocab_size,
        );
        let q_width = self.head_count * self.head_dim;
        let kv_width = self.head_count_kv * self.head_dim;
        let mut tensors = vec![
            ("token_embd.weight".to_owned(), vec![vocab, hidden]),
            ("output_norm.weight".to_owned(), vec![hidden]),
        ];
        for block in 0..self.block_count {
            let mut add = |name: &str, shape: Vec<usize>| {
                tensors.push((format!("blk.{block}.{name}"), shape))
            };
            add("attn_norm.weight", vec![hidden]);
            add("attn_q.weight", vec![q_width, hidden]);
            add("attn_k.weight", vec![kv_width, hidden]);
            add("attn_v.weight", vec![kv_width, hidden]);
            add("attn_output.weight", vec![hidden, q_width]);
            let traits = self.arch.traits();
            if traits.qk_norm {
                add("attn_q_norm.weight", vec![self.head_dim]);
                add("attn_k_norm.weight", vec![self.head_dim]);
            }
            if traits.post_norms {
                add("post_attention_norm.weight", vec![hidden]);
                add("post_ffw_norm.weight", vec![hidden]);
            }
            if traits.qkv_bias {
                add("attn_q.bias", vec![q_width]);
                add("attn_k.bias", vec![kv_width]);
                add("attn_v.bias", vec![kv_width]);
            }
            add("ffn_norm.weight", vec![hidden]);
            add("ffn_gate.weight", vec![ffn, hidden]);
            add("ffn_up.weight", vec![ffn, hidden]);
            add("ffn_down.weight", vec![hidden, ffn]);
        }
        tensors
    }

    /// Checks that every required tensor is present with the expected shape.
    pub fn check_tensors(&self, content: &Content) -> Result<()> {
        for (name, expected) in self.required_tensors() {
            let info =
                content
                    .tensor_infos
                    .get(&name)
                    .ok_or_else(|| CandleError::MissingTensor {
                        name: name.clone(),
                        arch: self.arch.name(),
                    })?;
            let found = info.shape.dims().to_vec();
            if found != expected {
                return Err(CandleError::TensorShape {
                    name,
                    expected,
                    found,
                });
            }
        }
        if let Some(output) = content.tensor_infos.get("output.weight") {
            let expected = vec![self.vocab_size, self.embedding_length];
            if output.shape.dims() != expected.as_slice() {
                let found = output.shape.dims().to_vec();
                return Err(CandleError::TensorShape {
                    name: "output.weight".into(),
                    expected,
                    found,
                });
            }
        }
        Ok(())
    }
}

/// Typed access to GGUF metadata with errors that name the key.
pub(crate) struct Metadata<'a> {
    values: &'a HashMap<String, Value>,
    arch: &'static str,
}

impl<'a> Metadata<'a> {
    /// Metadata access whose errors say the file is not an `arch` model.
    pub(crate) fn new(values: &'a HashMap<String, Value>, arch: &'static str) -> Self {
        Metadata { values, arch }
    }

    fn get(&self, key: &str) -> Result<&'a Value> {
        self.values
            .get(key)
            .ok_or_else(|| CandleError::MissingMetadata {
                key: key.to_owned(),
                arch: self.arch,
            })
    }

    fn invalid(key: &str, reason: impl Into<String>) -> CandleError {
        CandleError::InvalidMetadata {
            key: key.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn string(&self, key: &str) -> Result<&'a str> {
        match self.get(key)? {
            Value::String(s) => Ok(s),
            other => Err(Self::invalid(
                key,
                format!("expected a string, found {:?}", other.value_type()),
            )),
        }
    }

    pub(crate) fn optional_string(&self, key: &str) -> Option<&'a str> {
        match self.values.get(key) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn optional_usize(&self, key: &str) -> Result<Option<usize>> {
        if !self.values.contains_key(key) {
            return Ok(None);
        }
        self.usize(key).map(Some)
    }

    pub(crate) fn usize(&self, key: &str) -> Result<usize> {
        let value = self.get(key)?;
        let number = match value {
            Value::U8(v) => Some(u64::from(*v)),
            Value::U16(v) => Some(u64::from(*v)),
            Value::U32(v) => Some(u64::from(*v)),
            Value::U64(v) => Some(*v),
            Value::I8(v) => u64::try_from(*v).ok(),
            Value::I16(v) => u64::try_from(*v).ok(),
            Value::I32(v) => u64::try_from(*v).ok(),
            Value::I64(v) => u64::try_from(*v).ok(),
            _ => None,
        };
        // Sizes beyond 2^31 are never real model dimensions; rejecting them here keeps a
        // hostile header from asking for absurd allocations later.
        match number.and_then(|n| usize::try_from(n).ok()) {
            Some(n) if n <= (1 << 31) => Ok(n),
            _ => Err(Self::invalid(
                key,
                format!("expected a non-negative size, found {value:?}"),
            )),
        }
    }

    pub(crate) fn optional_f32(&self, key: &str) -> Result<Option<f32>> {
        if !self.values.contains_key(key) {
            return Ok(None);
        }
        self.f32(key).map(Some)
    }

    pub(crate) fn f32(&self, key: &str) -> Result<f32> {
        match self.get(key)? {
            Value::F32(v) if v.is_finite() => Ok(*v),
            Value::F64(v) if v.is_finite() => Ok(*v as f32),
            other => Err(Self::invalid(
                key,
                format!("expected a finite float, found {other:?}"),
            )),
        }
    }

    pub(crate) fn optional_u32(&self, key: &str) -> Option<u32> {
        self.values.get(key).and_then(|v| v.to_u32().ok())
    }
}
