//! The transformer: one implementation for every supported architecture, driven by
//! [`ModelSpec`] and its [`ArchTraits`](crate::spec::ArchTraits) row.

use std::io::{Read, Seek};
use std::sync::Arc;

use candle_core::quantized::gguf_file::Content;
use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::kv_cache::KvCache;

use crate::error::{CandleError, Result};
use crate::spec::{Activation, ModelSpec, RopeStyle};

/// A linear layer over a quantized weight, with an optional bias.
#[derive(Debug)]
struct Linear {
    weight: QMatMul,
    bias: Option<Tensor>,
}

impl Linear {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = self.weight.forward(x)?;
        match &self.bias {
            Some(bias) => y.broadcast_add(bias),
            None => Ok(y),
        }
    }
}

#[derive(Debug)]
struct Block {
    attn_norm: Tensor,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    /// Per-head norms of queries and keys (Qwen3, Gemma 3).
    q_norm: Option<Tensor>,
    k_norm: Option<Tensor>,
    /// Norms of the attention and feed-forward outputs before the residual add (Gemma 3).
    post_attention_norm: Option<Tensor>,
    post_ffw_norm: Option<Tensor>,
    ffn_norm: Tensor,
    gate: QMatMul,
    up: QMatMul,
    down: QMatMul,
    /// Attends only to the latest `sliding_window` positions.
    local: bool,
    cache: KvCache,
}

/// The rotary embedding tables, computed once for the context window.
#[derive(Debug)]
struct Rope {
    cos: Tensor,
    sin: Tensor,
    style: RopeStyle,
}

impl Rope {
    fn new(
        spec: &ModelSpec,
        freq_base: f32,
        max_positions: usize,
        device: &Device,
    ) -> candle_core::Result<Self> {
        let dim = spec.head_dim;
        let inv_freq: Vec<f32> = (0..dim)
            .step_by(2)
            .map(|i| 1.0 / freq_base.powf(i as f32 / dim as f32))
            .collect();
        let inv_freq = Tensor::from_vec(inv_freq, (1, dim / 2), device)?;
        let positions = Tensor::arange(0u32, max_positions as u32, device)?
            .to_dtype(DType::F32)?
            .reshape((max_positions, 1))?;
        let angles = positions.broadcast_mul(&inv_freq)?;
        Ok(Rope {
            cos: angles.cos()?,
            sin: angles.sin()?,
            style: spec.arch.traits().rope,
        })
    }

    fn apply(&self, x: &Tensor, offset: usize) -> candle_core::Result<Tensor> {
        let seq_len = x.dim(2)?;
        let cos = self.cos.narrow(0, offset, seq_len)?;
        let sin = self.sin.narrow(0, offset, seq_len)?;
        match self.style {
            RopeStyle::Interleaved => candle_nn::rotary_emb::rope_i(&x.contiguous()?, &cos, &sin),
            RopeStyle::Halves => candle_nn::rotary_emb::rope(&x.contiguous()?, &cos, &sin),
        }
    }
}

/// A loaded model with its KV cache.
#[derive(Debug)]
pub struct Transformer {
    spec: ModelSpec,
    embedding: Arc<QTensor>,
    blocks: Vec<Block>,
    output_norm: Tensor,
    output: QMatMul,
    rope: Rope,
    /// The rope of sliding-window layers where it differs (Gemma 3).
    rope_local: Option<Rope>,
    device: Device,
    /// Tokens already in the KV cache.
    position: usize,
    /// Positions the rope tables cover; the KV cache never grows beyond it.
    max_positions: usize,
}

impl Transformer {
    /// Loads the weights described by `content` from `reader`, for up to `max_positions`
    /// tokens of context.
    pub fn load<R: Read + Seek>(
        spec: ModelSpec,
        content: &Content,
        reader: &mut R,
        device: &Device,
        max_positions: usize,
    ) -> Result<Self> {
        spec.check_tensors(content)?;
        let mut qtensor =
            |name: &str| -> Result<QTensor> { Ok(content.tensor(reader, name, device)?) };
        let embedding = Arc::new(qtensor("token_embd.weight")?);
        let output = if content.tensor_infos.contains_key("output.weight") {
            QMatMul::from_qtensor(qtensor("output.weight")?)?
        } else {
            // Tied embeddings: the output projection shares the token embedding matrix
            // (one copy in memory, not two).
            QMatMul::from_arc(embedding.clone())?
        };
        let output_norm = qtensor("output_norm.weight")?.dequantize(device)?;

        let traits = spec.arch.traits();
        let mut blocks = Vec::with_capacity(spec.block_count);
        for i in 0..spec.block_count {
            let name = |suffix: &str| format!("blk.{i}.{suffix}");
            let mut linear = |which: &str| -> Result<Linear> {
                let weight = QMatMul::from_qtensor(qtensor(&name(&format!("{which}.weight")))?)?;
                let bias = match which {
                    "attn_q" | "attn_k" | "attn_v" if traits.qkv_bias => {
                        Some(qtensor(&name(&format!("{which}.bias")))?.dequantize(device)?)
                    }
                    _ => None,
                };
                Ok(Linear { weight, bias })
            };
            let (q, k, v, o) = (
                linear("attn_q")?,
                linear("attn_k")?,
                linear("attn_v")?,
                linear("attn_output")?,
            );
            let mut vector = |suffix: &str| -> Result<Tensor> {
                Ok(qtensor(&name(suffix))?.dequantize(device)?)
            };
            let (q_norm, k_norm) = if traits.qk_norm {
                (
                    Some(vector("attn_q_norm.weight")?),
                    Some(vector("attn_k_norm.weight")?),
                )
            } else {
                (None, None)
            };
            let (post_attention_norm, post_ffw_norm) = if traits.post_norms {
                (
                    Some(vector("post_attention_norm.weight")?),
                    Some(vector("post_ffw_norm.weight")?),
                )
            } else {
                (None, None)
            };
            blocks.push(Block {
                attn_norm: vector("attn_norm.weight")?,
                q,
                k,
                v,
                o,
                q_norm,
                k_norm,
                post_attention_norm,
                post_ffw_norm,
                ffn_norm: vector("ffn_norm.weight")?,
                gate: QMatMul::from_qtensor(qtensor(&name("ffn_gate.weight"))?)?,
                up: QMatMul::from_qtensor(qtensor(&name("ffn_up.weight"))?)?,
                down: QMatMul::from_qtensor(qtensor(&name("ffn_down.weight"))?)?,
                local: spec.is_local_layer(i),
                // Grows in steps of 512 positions; dimension 2 is the sequence axis.
                cache: KvCache::new(2, 512),
            });
        }
        let rope = Rope::new(&spec, spec.rope_freq_base, max_positions, device)?;
        let rope_local = spec
            .rope_freq_base_local
            .map(|base| Rope::new(&spec, base, max_positions, device))
            .transpose()?;
        Ok(Transformer {
            spec,
            embedding,
            blocks,
            output_norm,
            output,
            rope,
            rope_local,
            device: device.clone(),
            position: 0,
            max_positions,
        })
    }

    /// The model description.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Tokens currently in the KV cache.
    pub fn position(&self) -> usize {
        self.position
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Positions this model instance can hold (prompt and reply together).
    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    /// Empties the KV cache, so the next call starts a new sequence.
    pub fn reset(&mut self) {
        for block in &mut self.blocks {
            block.cache.reset();
        }
        self.position = 0;
    }

    /// Keeps the first `len` positions of the KV cache and drops the rest, so a prompt that
    /// shares a prefix with the previous one only needs its new part computed.
    pub fn truncate(&mut self, len: usize) -> Result<()> {
        if len >= self.position {
            return Ok(());
        }
        if len == 0 {
            self.reset();
            return Ok(());
        }
        for block in &mut self.blocks {
            let (Some(k), Some(v)) = (block.cache.k()?, block.cache.v()?) else {
                continue;
            };
            let (k, v) = (
                k.narrow(2, 0, len)?.contiguous()?,
                v.narrow(2, 0, len)?.contiguous()?,
            );
            block.cache.reset();
            block.cache.append(&k, &v)?;
        }
        self.position = len;
        Ok(())
    }

    /// The keys and values of every layer for the positions in the cache
    /// (`[1, kv_heads, position, head_dim]` each).
    pub fn kv_state(&self) -> Result<Vec<(Tensor, Tensor)>> {
        let mut state = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            match (block.cache.k()?, block.cache.v()?) {
                (Some(k), Some(v)) => state.push((k, v)),
                _ => return Err(CandleError::PromptCache("the KV cache is empty".into())),
            }
        }
        Ok(state)
    }

    /// Replaces the cache with `state` (as [`kv_state`](Self::kv_state) returns it), after
    /// checking every shape against this model.
    pub fn restore_kv_state(&mut self, state: &[(Tensor, Tensor)]) -> Result<()> {
        let invalid = |reason: String| {
            CandleError::PromptCache(format!("saved KV state does not fit: {reason}"))
        };
        if state.len() != self.blocks.len() {
            return Err(invalid(format!(
                "{} layers, the model has {}",
                state.len(),
                self.blocks.len()
            )));
        }
        let positions = state
            .first()
            .map_or(0, |(k, _)| k.dims().get(2).copied().unwrap_or(0));
        let expected = [1, self.spec.head_count_kv, positions, self.spec.head_dim];
        if positions == 0 || positions >= self.max_positions {
            return Err(invalid(format!("{positions} positions")));
        }
        for (k, v) in state {
            if k.dims() != expected || v.dims() != expected {
                return Err(invalid(format!(
                    "shape {:?}, expected {expected:?}",
                    k.dims()
                )));
            }
        }
        self.reset();
        for (block, (k, v)) in self.blocks.iter_mut().zip(state) {
            let k = k
                .to_device(&self.device)?
                .to_dtype(DType::F32)?
                .contiguous()?;
            let v = v
                .to_device(&self.device)?
                .to_dtype(DType::F32)?
                .contiguous()?;
            block.cache.append(&k, &v)?;
        }
        self.position = positions;
        Ok(())
    }

    /// Runs `tokens` after those already in the cache and returns the logits of the last one
    /// (a `[vocab]` f32 tensor).
    pub fn forward(&mut self, tokens: &[u32]) -> Result<Tensor> {
        let seq_len = tokens.len();
        if seq_len == 0 || self.position + seq_len > self.max_positions {
            return Err(CandleError::ContextFull {
                needed: self.position + seq_len,
                available: self.max_positions,
            });
        }
        let ids = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let mut x = self.embedding.embedding(&ids)?;
        if self.spec.arch.traits().scaled_embeddings {
            x = (x * (self.spec.embedding_length as f64).sqrt())?;
        }
        let mask = causal_mask(seq_len, self.position, None, &self.device)?;
        let local_mask = match self.spec.sliding_window {
            Some(window) => causal_mask(seq_len, self.position, Some(window), &self.device)?,
            None => None,
        };
        for block in &mut self.blocks {
            let (rope, mask) = match (block.local, &self.rope_local) {
                (true, Some(rope)) => (rope, local_mask.as_ref()),
                (true, None) => (&self.rope, local_mask.as_ref()),
                (false, _) => (&self.rope, mask.as_ref()),
            };
            x = block.forward(&x, &self.spec, rope, self.position, mask)?;
        }
        self.position += seq_len;
        let last = x.narrow(1, seq_len - 1, 1)?;
        let last =
            candle_nn::ops::rms_norm(&last, &self.output_norm, self.spec.rms_norm_eps as f32)?;
        let logits = self.output.forward(&last)?;
        Ok(logits.flatten_all()?.to_dtype(DType::F32)?)
    }
}

impl Block {
    fn forward(
        &mut self,
        x: &Tensor,
        spec: &ModelSpec,
        rope: &Rope,
        offset: usize,
        mask: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let eps = spec.rms_norm_eps as f32;
        let norm = |x: &Tensor, weight: &Option<Tensor>| match weight {
            Some(weight) => candle_nn::ops::rms_norm(x, weight, eps),
            None => Ok(x.clone()),
        };
        let h = candle_nn::ops::rms_norm(x, &self.attn_norm, eps)?;
        let attention = self.attention(&h, spec, rope, offset, mask)?;
        let x = (x + norm(&attention, &self.post_attention_norm)?)?;
        let h = candle_nn::ops::rms_norm(&x, &self.ffn_norm, eps)?;
        let gate = self.gate.forward(&h)?;
        let gate = match spec.arch.traits().activation {
            Activation::Silu => candle_nn::ops::silu(&gate)?,
            Activation::GeluTanh => gate.gelu()?,
        };
        let ffn = self.down.forward(&(gate * self.up.forward(&h)?)?)?;
        x + norm(&ffn, &self.post_ffw_norm)?
    }

    fn attention(
        &mut self,
        x: &Tensor,
        spec: &ModelSpec,
        rope: &Rope,
        offset: usize,
        mask: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let (batch, seq_len, _) = x.dims3()?;
        let (heads, kv_heads, head_dim) = (spec.head_count, spec.head_count_kv, spec.head_dim);
        let eps = spec.rms_norm_eps as f32;
        // [batch, seq, n * head_dim] into [batch, n, seq, head_dim], each head normalised
        // first where the architecture has per-head norms.
        let split_heads = |t: Tensor, n: usize, norm: &Option<Tensor>| {
            let t = t.reshape((batch, seq_len, n, head_dim))?;
            let t = match norm {
                Some(weight) => candle_nn::ops::rms_norm(&t, weight, eps)?,
                None => t,
            };
            t.transpose(1, 2)
        };
        let q = rope.apply(
            &split_heads(self.q.forward(x)?, heads, &self.q_norm)?,
            offset,
        )?;
        let k = rope.apply(
            &split_heads(self.k.forward(x)?, kv_heads, &self.k_norm)?,
            offset,
        )?;
        let v = split_heads(self.v.forward(x)?, kv_heads, &None)?.contiguous()?;
        let (k, v) = self.cache.append(&k, &v)?;

        // Grouped-query attention without copying keys and values: the query heads that share
        // a key/value head are stacked along the sequence axis, so each group is one matmul.
        let group = heads / kv_heads;
        let q = q.reshape((batch, kv_heads, group * seq_len, head_dim))?;
        let scale = 1.0 / (head_dim as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?;
        let scores = match mask {
            Some(mask) => {
                let kv_len = k.dim(2)?;
                let mask = mask
                    .repeat((group, 1))?
                    .reshape((1, 1, group * seq_len, kv_len))?;
                scores.broadcast_add(&mask)?
            }
            None => scores,
        };
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = weights.matmul(&v)?; // [batch, kv_heads, group * seq_len, head_dim]
        let out = out
            .reshape((batch, heads, seq_len, head_dim))?
            .transpose(1, 2)?
            .reshape((batch, seq_len, heads * head_dim))?;
        self.o.forward(&out)
    }
}

/// The additive causal mask for `seq_len` new tokens after `offset` cached ones
/// (`[seq_len, offset + seq_len]`); with a `window`, a query also sees only the latest `window`
/// positions (itself included). `None` when nothing is masked: a single token that may see
/// everything.
fn causal_mask(
    seq_len: usize,
    offset: usize,
    window: Option<usize>,
    device: &Device,
) -> candle_core::Result<Option<Tensor>> {
    let kv_len = offset + seq_len;
    if seq_len == 1 && window.is_none_or(|w| kv_len <= w) {
        return Ok(None);
    }
    let mask: Vec<f32> = (0..seq_len)
        .flat_map(|i| {
            let query = offset + i;
            (0..kv_len).map(move |key| {
                if key > query || window.is_some_and(|w| query - key >= w) {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
        })
        .collect();
    Tensor::from_vec(mask, (seq_len, kv_len), device).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visible(mask: &Tensor) -> Vec<Vec<bool>> {
        mask.to_vec2::<f32>()
            .unwrap()
            .into_iter()
            .map(|row| row.into_iter().map(|v| v == 0.0).collect())
            .collect()
    }

    #[test]
    fn a_sliding_window_hides_positions_older_than_the_window() {
        // Two new tokens at positions 3 and 4 after three cached ones, window 2: position 3
        // sees 2 and 3, position 4 sees 3 and 4.
        let mask = causal_mask(2, 3, Some(2), &Device::Cpu).unwrap().unwrap();
        assert_eq!(
            visible(&mask),
            [
                [false, false, true, true, false],
                [false, false, false, true, true]
            ]
        );
        let causal = causal_mask(2, 3, None, &Device::Cpu).unwrap().unwrap();
        assert_eq!(
            visible(&causal),
            [[true, true, true, true, false], [true, true, true, true, true]]
        );
    }

    #[test]
    fn one_token_needs_a_mask_only_once_the_window_is_full() {
        assert!(causal_mask(1, 7, None, &Device::Cpu).unwrap().is_none());
        assert!(causal_mask(1, 1, Some(2), &Device::Cpu).unwrap().is_none());
        let mask = causal_mask(1, 2, Some(2), &Device::Cpu).unwrap().unwrap();
        assert_eq!(visible(&mask), [[false, true, true]]);
    }
}
